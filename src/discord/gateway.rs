//! The bot side of the Discord front-end, started by `tminus run` when
//! `discord.token` is set:
//!
//! 1. registers the slash commands through serenity's `Http`
//!    (`commands::register`, at `{api_url}`; globally or in
//!    `discord.guild_id`), retrying transient failures;
//! 2. connects serenity's gateway client and answers `INTERACTION_CREATE`
//!    through the same [`Handler`] and the same decoding
//!    (`interactions::invocation`) as the HTTP endpoint, replying with
//!    serenity's `create_response`.
//!
//! serenity's gateway and its client's `Http` always talk to discord.com:
//! the client has no base URL, and its rate limiter ignores a proxy
//! (serenity issue #1739). So the gateway is connected only while
//! `discord.api_url` is Discord's own; with another `api_url` (a proxy, or
//! a fake server in tests) the commands are still registered there, and
//! interactions come in through the HTTP endpoint.

use std::sync::Arc;
use std::time::Duration;

use serenity::all::{Context, EventHandler, GatewayIntents, Interaction, Ready};
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use super::commands::{Handler, register};
use super::interactions::invocation;
use crate::backoff::Backoff;
use crate::config::{DEFAULT_DISCORD_API_URL, DiscordConfig};

/// Wait between failed registrations or gateway connections: 5 s doubling
/// to 10 min, jittered so a fleet of bots does not reconnect in step after
/// a Discord outage.
const RETRY: Backoff = Backoff::new(Duration::from_secs(5), Duration::from_secs(600)).with_jitter(0.2);
/// Registration attempts before giving up until the next start.
const REGISTER_ATTEMPTS: u32 = 6;

/// Whether the gateway can serve this config (see the module docs).
fn gateway_reachable(cfg: &DiscordConfig) -> bool {
    cfg.api_url.trim_end_matches('/') == DEFAULT_DISCORD_API_URL
}

/// Registers the commands and, where possible, runs the gateway
/// connection, until `stop` is cancelled.
pub(crate) async fn run(cfg: DiscordConfig, handler: Arc<Handler>, stop: CancellationToken) {
    let registration = tokio::spawn(register_with_retry(cfg.clone(), stop.clone()));
    if gateway_reachable(&cfg) {
        run_gateway(&cfg, handler, &stop).await;
    } else {
        info!(
            "discord.api_url is not https://discord.com: the gateway is not connected (serenity talks to \
             discord.com only); slash commands are answered by the HTTP interactions endpoint"
        );
        stop.cancelled().await;
    }
    registration.abort();
}

async fn register_with_retry(cfg: DiscordConfig, stop: CancellationToken) {
    for attempt in 1..=REGISTER_ATTEMPTS {
        match register(&cfg).await {
            Ok(r) => {
                match r.guild_id {
                    Some(g) => {
                        info!(commands = r.commands, guild = g, "Discord slash commands registered in the guild")
                    }
                    None => info!(commands = r.commands, "Discord slash commands registered globally"),
                }
                return;
            }
            Err(e) if e.is_transient() && attempt < REGISTER_ATTEMPTS => {
                let wait = RETRY.delay(attempt);
                warn!(error = %e, retry_in_s = wait.as_secs(), "registering Discord slash commands failed; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = stop.cancelled() => return,
                }
            }
            Err(e) => {
                error!(error = %e, "registering Discord slash commands failed; they will be registered at the next start");
                return;
            }
        }
    }
}

async fn run_gateway(cfg: &DiscordConfig, handler: Arc<Handler>, stop: &CancellationToken) {
    let mut failures = 0u32;
    loop {
        failures = failures.saturating_add(1);
        let wait = RETRY.delay(failures);
        let built = serenity::Client::builder(cfg.token.expose(), GatewayIntents::empty())
            .event_handler(Events { handler: handler.clone() })
            .await;
        let mut client = match built {
            Ok(c) => c,
            Err(e) => {
                error!(error = %e, "cannot set up the Discord gateway client");
                return;
            }
        };
        let shards = client.shard_manager.clone();
        tokio::select! {
            result = client.start() => match result {
                Ok(()) => warn!("Discord gateway connection ended; reconnecting"),
                Err(e) => warn!(error = %e, retry_in_s = wait.as_secs(), "Discord gateway connection failed; retrying"),
            },
            _ = stop.cancelled() => {
                shards.shutdown_all().await;
                return;
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.cancelled() => return,
        }
    }
}

struct Events {
    handler: Arc<Handler>,
}

#[serenity::async_trait]
impl EventHandler for Events {
    async fn ready(&self, _ctx: Context, ready: Ready) {
        info!(bot = %ready.user.name, guilds = ready.guilds.len(), "Discord gateway ready");
    }

    async fn interaction_create(&self, ctx: Context, interaction: Interaction) {
        // Commands, autocomplete and alert buttons: nothing else reaches a
        // bot over the gateway that it needs to answer.
        if !matches!(interaction, Interaction::Command(_) | Interaction::Autocomplete(_) | Interaction::Component(_)) {
            return;
        }
        let invocation = invocation(&interaction);
        let handler = self.handler.clone();
        let response = match tokio::task::spawn_blocking(move || handler.handle(&invocation, chrono::Utc::now())).await
        {
            Ok(r) => r,
            Err(e) => {
                error!(error = %e, "interaction handler panicked");
                return;
            }
        };
        let answered = match &interaction {
            Interaction::Command(c) | Interaction::Autocomplete(c) => {
                c.create_response(&ctx.http, response.into()).await
            }
            Interaction::Component(c) => c.create_response(&ctx.http, response.into()).await,
            _ => Ok(()),
        };
        if let Err(e) = answered {
            warn!(error = %e, interaction = %invocation_name(&interaction), "answering a Discord interaction failed");
        }
    }
}

/// A command's name, or "button" for a press (its custom id is user data).
fn invocation_name(interaction: &Interaction) -> String {
    match interaction {
        Interaction::Command(c) | Interaction::Autocomplete(c) => c.data.name.clone(),
        _ => "button".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gateway_only_for_discord_itself() {
        let mut cfg = crate::config::Config::default_config().discord;
        assert!(gateway_reachable(&cfg));
        cfg.api_url = "http://127.0.0.1:9".into();
        assert!(!gateway_reachable(&cfg));
    }
}
