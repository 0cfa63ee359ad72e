//! The bot side of the Discord front-end, started by `tminus run` when
//! `discord.token` is set:
//!
//! 1. registers the slash commands through REST (`commands::register`, at
//!    `{api_url}`; globally or in `discord.guild_id`), retrying transient
//!    failures;
//! 2. connects serenity's gateway client and answers `INTERACTION_CREATE`
//!    through the same [`Handler`] as the HTTP endpoint, replying with
//!    serenity's `create_response`.
//!
//! serenity's `Http` and gateway always talk to discord.com: their base URL
//! cannot be changed (serenity issue #1739). So the gateway is connected
//! only while `discord.api_url` is Discord's own; with another `api_url`
//! (a proxy, or a fake server in tests) the commands are still registered
//! there, and interactions come in through the HTTP endpoint.

use std::sync::Arc;
use std::time::Duration;

use serenity::all::{
    CommandDataOption, CommandDataOptionValue, CommandInteraction, Context, CreateAllowedMentions,
    CreateAutocompleteResponse, CreateInteractionResponse, CreateInteractionResponseMessage, EventHandler,
    GatewayIntents, Interaction, Ready,
};
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use super::commands::{CommandOption, Handler, Invocation, InvocationKind, OptionValue, Response, register};
use crate::backoff::Backoff;
use crate::config::{DEFAULT_DISCORD_API_URL, DiscordConfig};

/// Wait between failed registrations or gateway connections: 5 s doubling
/// to 10 min, jittered so a fleet of bots does not reconnect in step after
/// a Discord outage.
const RETRY: Backoff = Backoff::new(Duration::from_secs(5), Duration::from_secs(600)).with_jitter(0.2);
/// Registration attempts before giving up until the next start.
const REGISTER_ATTEMPTS: u32 = 6;

/// Whether the gateway can serve this config (see the module docs).
pub fn gateway_reachable(cfg: &DiscordConfig) -> bool {
    cfg.api_url.trim_end_matches('/') == DEFAULT_DISCORD_API_URL
}

/// Registers the commands and, where possible, runs the gateway
/// connection, until `stop` is cancelled.
pub async fn run(cfg: DiscordConfig, handler: Arc<Handler>, stop: CancellationToken) {
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
    let http = match reqwest::Client::builder().timeout(Duration::from_secs(30)).build() {
        Ok(c) => c,
        Err(e) => {
            error!(error = %e, "cannot build an HTTP client to register Discord commands");
            return;
        }
    };
    for attempt in 1..=REGISTER_ATTEMPTS {
        match register(&http, &cfg).await {
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
                let mut wait = RETRY.delay(attempt);
                if let super::commands::RegisterError::RateLimited { retry_after, .. } = &e {
                    wait = wait.max(*retry_after);
                }
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
        let Some(invocation) = invocation(&interaction) else { return };
        let handler = self.handler.clone();
        let response = match tokio::task::spawn_blocking(move || handler.handle(&invocation, chrono::Utc::now())).await
        {
            Ok(r) => r,
            Err(e) => {
                error!(error = %e, "interaction handler panicked");
                return;
            }
        };
        let (Interaction::Command(c) | Interaction::Autocomplete(c)) = &interaction else { return };
        if let Err(e) = c.create_response(&ctx.http, to_serenity(response)).await {
            warn!(error = %e, command = %c.data.name, "answering a Discord interaction failed");
        }
    }
}

/// serenity's interaction → the handler's invocation (commands and
/// autocomplete; nothing else reaches a bot over the gateway that it
/// needs to answer).
pub fn invocation(interaction: &Interaction) -> Option<Invocation> {
    let (kind, c): (InvocationKind, &CommandInteraction) = match interaction {
        Interaction::Command(c) => (InvocationKind::Command, c),
        Interaction::Autocomplete(c) => (InvocationKind::Autocomplete, c),
        _ => return None,
    };
    let mut options = Vec::new();
    flatten(&c.data.options, &mut options);
    Some(Invocation {
        kind,
        name: c.data.name.clone(),
        options,
        channel_id: Some(c.channel_id.get()),
        guild_id: c.guild_id.map(|g| g.get()),
        permissions: c.member.as_ref().and_then(|m| m.permissions).map(|p| p.bits()),
        user_id: Some(c.user.id.get()),
    })
}

fn flatten(options: &[CommandDataOption], out: &mut Vec<CommandOption>) {
    for o in options {
        let (value, focused) = match &o.value {
            CommandDataOptionValue::String(s) => (OptionValue::String(s.clone()), false),
            CommandDataOptionValue::Integer(i) => (OptionValue::Integer(*i), false),
            CommandDataOptionValue::Number(n) => (OptionValue::Number(*n), false),
            CommandDataOptionValue::Boolean(b) => (OptionValue::Bool(*b), false),
            CommandDataOptionValue::Autocomplete { value, .. } => (OptionValue::String(value.clone()), true),
            CommandDataOptionValue::SubCommand(sub) | CommandDataOptionValue::SubCommandGroup(sub) => {
                flatten(sub, out);
                continue;
            }
            _ => (OptionValue::Other, false),
        };
        out.push(CommandOption { name: o.name.clone(), value, focused });
    }
}

/// The handler's response as serenity's builder.
pub fn to_serenity(response: Response) -> CreateInteractionResponse {
    match response {
        Response::Pong => CreateInteractionResponse::Pong,
        Response::Message { content, ephemeral } => CreateInteractionResponse::Message(
            CreateInteractionResponseMessage::new()
                .content(content)
                .ephemeral(ephemeral)
                .allowed_mentions(CreateAllowedMentions::new()),
        ),
        Response::Choices(choices) => CreateInteractionResponse::Autocomplete(
            choices.into_iter().fold(CreateAutocompleteResponse::new(), |r, c| r.add_string_choice(c.name, c.value)),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A full gateway `INTERACTION_CREATE` payload, as serenity needs it.
    fn payload(kind: u8, options: serde_json::Value) -> serde_json::Value {
        json!({
            "type": kind, "id": "1100000000000000001", "application_id": "1100000000000000002",
            "token": "tok", "version": 1, "locale": "en-US", "guild_locale": "en-US",
            "app_permissions": "2147483647", "entitlements": [], "attachment_size_limit": 8388608,
            "authorizing_integration_owners": {"0": "99"}, "context": 0,
            "channel_id": "424242", "guild_id": "99",
            "member": {
                "user": {"id": "7", "username": "astro", "discriminator": "0", "global_name": null, "avatar": null},
                "roles": [], "joined_at": "2024-01-01T00:00:00+00:00", "deaf": false, "mute": false,
                "flags": 0, "pending": false, "permissions": "16", "nick": null, "avatar": null
            },
            "data": {"id": "1100000000000000003", "name": "subscribe", "type": 1, "options": options}
        })
    }

    #[test]
    fn serenity_interactions_and_raw_json_give_the_same_invocation() {
        for (kind, options) in [
            (2, json!([{"name": "agency", "type": 3, "value": "SpaceX"}, {"name": "count", "type": 4, "value": 3}])),
            (4, json!([{"name": "agency", "type": 3, "value": "Spa", "focused": true}])),
        ] {
            let p = payload(kind, options);
            let interaction: Interaction = serde_json::from_value(p.clone()).expect("serenity parses it");
            let from_gateway = invocation(&interaction).unwrap();
            let from_http = super::super::interactions::parse(p.to_string().as_bytes()).unwrap();
            assert_eq!(from_gateway, from_http);
            assert_eq!(from_gateway.permissions, Some(16));
            assert!(from_gateway.can_manage());
        }
    }

    #[test]
    fn responses_serialize_like_the_http_endpoint() {
        let r = Response::Message { content: "hi".into(), ephemeral: true };
        let via_serenity = serde_json::to_value(to_serenity(r.clone())).unwrap();
        assert_eq!(via_serenity["type"], 4);
        assert_eq!(via_serenity["data"]["content"], "hi");
        assert_eq!(via_serenity["data"]["flags"], 64);
        assert_eq!(via_serenity["data"]["allowed_mentions"]["parse"], json!([]));
        let c =
            Response::Choices(vec![super::super::commands::Choice { name: "SpaceX".into(), value: "SpaceX".into() }]);
        assert_eq!(serde_json::to_value(to_serenity(c.clone())).unwrap(), c.to_json());
    }

    #[test]
    fn gateway_only_for_discord_itself() {
        let mut cfg = crate::config::Config::default_config().discord;
        assert!(gateway_reachable(&cfg));
        cfg.api_url = "http://127.0.0.1:9".into();
        assert!(!gateway_reachable(&cfg));
    }
}
