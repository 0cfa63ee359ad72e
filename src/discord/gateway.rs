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
//! The gateway is connected for any `discord.api_url`. With Discord's own
//! the client uses serenity's default `Http`, rate limiter included. With
//! another (a proxy, or a fake Discord in tests) it uses an `Http` whose
//! every REST call (the gateway URL, the interaction callbacks) goes to
//! `api_url` through `HttpBuilder::proxy`, with serenity's rate limiter
//! off: that limiter would ignore the proxy and talk to discord.com
//! (serenity issue #1739), and interaction callbacks are not held to the
//! bot's rate limits anyway. The websocket URL is whatever `GET
//! {api_url}/api/v10/gateway/bot` answers; it is fetched here first, and
//! when that fails the client is not started (serenity would fall back
//! to wss://gateway.discord.gg, past the proxy) but tried again later with
//! the same backoff as a dropped connection.

use std::sync::Arc;
use std::time::Duration;

use serenity::all::{ClientBuilder, Context, EventHandler, GatewayIntents, Interaction, Ready};
use serenity::http::{Http, HttpBuilder};
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
/// Per REST call of the gateway client (the gateway URL, an interaction
/// answer): a proxy that hangs must not hold the connection loop.
const REST_TIMEOUT: Duration = Duration::from_secs(30);
/// A connection that lasted this long was healthy: the next failure
/// starts the backoff from the beginning again.
const HEALTHY: Duration = Duration::from_secs(600);

/// Whether `api_url` is Discord's own (else a proxy; see the module docs).
fn discord_itself(cfg: &DiscordConfig) -> bool {
    cfg.api_url.trim_end_matches('/') == DEFAULT_DISCORD_API_URL
}

/// Registers the commands and runs the gateway connection until `stop` is
/// cancelled.
#[cfg_attr(feature = "testing", visibility::make(pub))]
pub(crate) async fn run(cfg: DiscordConfig, handler: Arc<Handler>, stop: CancellationToken) {
    let registration = tokio::spawn(register_with_retry(cfg.clone(), stop.clone()));
    run_gateway(&cfg, handler, &stop).await;
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

/// serenity's `Http` for the gateway client (see the module docs).
fn gateway_http(cfg: &DiscordConfig) -> Http {
    let mut builder = HttpBuilder::new(cfg.token.expose());
    if let Ok(client) = reqwest::Client::builder().timeout(REST_TIMEOUT).build() {
        builder = builder.client(client);
    }
    if discord_itself(cfg) {
        builder.build()
    } else {
        builder.proxy(cfg.api_url.trim_end_matches('/')).ratelimiter_disabled(true).build()
    }
}

/// How one connection attempt ended.
enum Ended {
    /// `stop` was cancelled.
    Stopped,
    /// The client cannot be built; trying again would not help.
    Fatal,
    /// Worth another attempt after the backoff.
    Retry(String),
}

async fn run_gateway(cfg: &DiscordConfig, handler: Arc<Handler>, stop: &CancellationToken) {
    if !discord_itself(cfg) {
        info!("discord.api_url is not https://discord.com: the gateway and its REST calls go through it");
    }
    let mut failures = 0u32;
    loop {
        let started = tokio::time::Instant::now();
        let ended = connect(cfg, &handler, stop).await;
        failures = if started.elapsed() >= HEALTHY { 1 } else { failures.saturating_add(1) };
        let wait = RETRY.delay(failures);
        match ended {
            Ended::Stopped | Ended::Fatal => return,
            Ended::Retry(why) => {
                warn!(%why, retry_in_s = wait.as_secs(), "Discord gateway connection failed; retrying")
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.cancelled() => return,
        }
    }
}

/// One gateway connection: the websocket URL from `api_url`, then
/// serenity's client until it ends or `stop` is cancelled.
async fn connect(cfg: &DiscordConfig, handler: &Arc<Handler>, stop: &CancellationToken) -> Ended {
    let http = gateway_http(cfg);
    let url = tokio::select! {
        got = http.get_bot_gateway() => match got {
            Ok(gateway) => gateway.url,
            Err(e) => return Ended::Retry(format!("cannot get the gateway URL: {e}")),
        },
        _ = stop.cancelled() => return Ended::Stopped,
    };
    let built = ClientBuilder::new_with_http(http, GatewayIntents::empty())
        .event_handler(Events { handler: handler.clone() })
        .await;
    let mut client = match built {
        Ok(c) => c,
        Err(e) => {
            error!(error = %e, "cannot set up the Discord gateway client");
            return Ended::Fatal;
        }
    };
    // The URL checked above, not one the client may have fallen back to.
    *client.ws_url.lock().await = url;
    let shards = client.shard_manager.clone();
    tokio::select! {
        result = client.start() => match result {
            Ok(()) => Ended::Retry("the connection ended".into()),
            Err(e) => Ended::Retry(e.to_string()),
        },
        _ = stop.cancelled() => {
            shards.shutdown_all().await;
            Ended::Stopped
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
    fn discord_itself_or_a_proxy() {
        let mut cfg = crate::config::Config::default_config().discord;
        assert!(discord_itself(&cfg));
        cfg.api_url = format!("{DEFAULT_DISCORD_API_URL}/");
        assert!(discord_itself(&cfg));
        cfg.api_url = "http://127.0.0.1:9".into();
        assert!(!discord_itself(&cfg));
    }
}
