//! Discord's HTTP interactions endpoint: `POST /discord/interactions`, for
//! operators who give Discord an "Interactions Endpoint URL" instead of (or
//! besides) the gateway connection. Mounted on the `[server] listen`
//! listener through `server::start`'s extra router when `[discord]
//! public_key` is set.
//!
//! Every request must carry `X-Signature-Ed25519` and
//! `X-Signature-Timestamp`, an Ed25519 signature over timestamp + body by
//! the application's key, checked with serenity's
//! `interactions_endpoint::Verifier` against `discord.public_key`. A missing
//! or bad signature, or a timestamp further than [`MAX_SKEW`] from the local
//! clock (a replayed request), gets 401 before the body is even parsed, so
//! nothing changes. The body is decoded with serenity's `Interaction`
//! model ([`parse`]), the same as the gateway's. Then PING → `{"type":1}`,
//! a command → type 4 (message; `/settings` with its buttons),
//! autocomplete → type 8 (choices), a press of an alert's Mute button or
//! of a settings button → type 7 (the message edited in place) or an
//! ephemeral note, past the flood limit an ephemeral note or type 6; all
//! through the same [`Handler`](super::commands::Handler) the gateway uses
//! and answered with serenity's `CreateInteractionResponse`.
//!
//! Request bodies are never logged.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response as HttpResponse};
use axum::routing::post;
use chrono::Utc;
use serde::Deserialize;
use serde_json::Value;
use serenity::all::{
    CommandDataOption, CommandDataOptionValue, CommandInteraction, CreateInteractionResponse, Interaction,
    InteractionType,
};
use serenity::interactions_endpoint::Verifier;
use serenity::model::permissions::Permissions;
use tracing::{debug, error, warn};

use super::commands::{CommandOption, Handler, Invocation, InvocationKind, OptionValue};
use crate::types::Mention;

/// Where the endpoint is mounted.
pub(crate) const PATH: &str = "/discord/interactions";
/// Largest accepted body; real interactions are a few kilobytes.
pub(crate) const MAX_BODY: usize = 256 * 1024;
/// How far a request's timestamp may be from the local clock.
pub(crate) const MAX_SKEW: Duration = Duration::from_secs(300);

/// `discord.public_key` is not a valid Ed25519 key.
#[derive(Debug, thiserror::Error)]
#[error("discord.public_key is not a valid Ed25519 public key (64 hex characters)")]
pub struct InvalidPublicKey;

#[derive(Clone)]
struct EndpointState {
    handler: Arc<Handler>,
    verifier: Verifier,
}

/// The verifier for a 64-hex-digit public key.
pub(crate) fn verifier(public_key: &str) -> Result<Verifier, InvalidPublicKey> {
    let hex = public_key.trim();
    if hex.len() != 64 || !hex.is_ascii() {
        return Err(InvalidPublicKey);
    }
    let mut bytes = [0u8; 32];
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| InvalidPublicKey)?;
    }
    Verifier::try_new(bytes).map_err(|_| InvalidPublicKey)
}

/// `POST /discord/interactions`, state applied: give it to `server::start`
/// as the extra router.
pub fn router(handler: Arc<Handler>, public_key: &str) -> Result<Router, InvalidPublicKey> {
    let state = EndpointState { handler, verifier: verifier(public_key)? };
    Ok(Router::new().route(PATH, post(endpoint)).layer(DefaultBodyLimit::max(MAX_BODY)).with_state(state))
}

async fn endpoint(State(st): State<EndpointState>, headers: HeaderMap, body: Bytes) -> HttpResponse {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let (Some(signature), Some(timestamp)) = (header("x-signature-ed25519"), header("x-signature-timestamp")) else {
        debug!("interaction without signature refused");
        return unauthorized();
    };
    if st.verifier.verify(signature, timestamp, &body).is_err() {
        debug!("interaction with a bad signature refused");
        return unauthorized();
    }
    let fresh =
        timestamp.parse::<i64>().is_ok_and(|t| (Utc::now().timestamp() - t).unsigned_abs() <= MAX_SKEW.as_secs());
    if !fresh {
        warn!("signed interaction with a timestamp more than {}s off refused; is the clock right?", MAX_SKEW.as_secs());
        return unauthorized();
    }
    let invocation = match parse(&body) {
        Ok(inv) => inv,
        Err(e) => {
            warn!(error = %e, "signed interaction body not understood");
            return (StatusCode::BAD_REQUEST, "bad interaction body").into_response();
        }
    };
    let handler = st.handler.clone();
    match tokio::task::spawn_blocking(move || handler.handle(&invocation, Utc::now())).await {
        Ok(response) => ([(header::CONTENT_TYPE, "application/json")], answer_body(response.into())).into_response(),
        Err(e) => {
            error!(error = %e, "interaction handler panicked");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

fn unauthorized() -> HttpResponse {
    (StatusCode::UNAUTHORIZED, "invalid request signature").into_response()
}

/// Decodes Discord's interaction JSON with serenity's `Interaction` model,
/// the same model the gateway delivers, so both front-ends read one shape.
///
/// serenity models every field of every kind strictly. For the kinds this
/// bot never reads (a PING, components, modals) only `type` matters, so a
/// body serenity does not accept is still answered by its type; a command
/// or autocomplete serenity cannot decode is an error.
pub(crate) fn parse(body: &[u8]) -> Result<Invocation, serde_json::Error> {
    let err = match serde_json::from_slice::<Interaction>(body) {
        Ok(interaction) => return Ok(invocation(&interaction)),
        Err(e) => e,
    };
    #[derive(Deserialize)]
    struct Kind {
        #[serde(rename = "type")]
        kind: InteractionType,
    }
    match serde_json::from_slice::<Kind>(body)?.kind {
        InteractionType::Command | InteractionType::Autocomplete => Err(err),
        InteractionType::Component => component(body),
        InteractionType::Ping => Ok(Invocation::of_kind(InvocationKind::Ping)),
        other => Ok(Invocation::of_kind(InvocationKind::Unsupported(u8::from(other)))),
    }
}

/// A button press serenity's strict model refused (it wants the whole
/// message): only the fields the handler reads. `custom_id` is bounded
/// (Discord allows 100 characters) before it goes anywhere.
fn component(body: &[u8]) -> Result<Invocation, serde_json::Error> {
    #[derive(Deserialize)]
    struct Id {
        id: String,
    }
    #[derive(Deserialize)]
    struct Member {
        permissions: Option<String>,
        user: Option<Id>,
    }
    #[derive(Deserialize, Default)]
    struct Data {
        #[serde(default)]
        custom_id: String,
    }
    #[derive(Deserialize)]
    struct Raw {
        #[serde(default)]
        data: Data,
        channel_id: Option<String>,
        channel: Option<Id>,
        guild_id: Option<String>,
        member: Option<Member>,
        user: Option<Id>,
    }
    let raw: Raw = serde_json::from_slice(body)?;
    let id = |s: Option<&String>| s.and_then(|s| s.parse::<u64>().ok());
    let user = raw.member.as_ref().and_then(|m| m.user.as_ref()).or(raw.user.as_ref());
    Ok(Invocation {
        kind: InvocationKind::Component,
        name: raw.data.custom_id.chars().take(100).collect(),
        options: Vec::new(),
        channel_id: id(raw.channel_id.as_ref()).or_else(|| id(raw.channel.as_ref().map(|c| &c.id))),
        guild_id: id(raw.guild_id.as_ref()),
        permissions: raw
            .member
            .as_ref()
            .and_then(|m| m.permissions.as_ref())
            .and_then(|p| p.parse::<u64>().ok())
            .map(Permissions::from_bits_truncate),
        user_id: id(user.map(|u| &u.id)),
    })
}

/// serenity's interaction → the handler's invocation: the command's name,
/// its options (sub-command options flattened), where and by whom.
pub(crate) fn invocation(interaction: &Interaction) -> Invocation {
    let (kind, c): (InvocationKind, &CommandInteraction) = match interaction {
        Interaction::Ping(_) => return Invocation::of_kind(InvocationKind::Ping),
        Interaction::Command(c) => (InvocationKind::Command, c),
        Interaction::Autocomplete(c) => (InvocationKind::Autocomplete, c),
        Interaction::Component(c) => {
            return Invocation {
                kind: InvocationKind::Component,
                name: c.data.custom_id.chars().take(100).collect(),
                options: Vec::new(),
                channel_id: Some(c.channel_id.get()),
                guild_id: c.guild_id.map(|g| g.get()),
                permissions: c.member.as_ref().and_then(|m| m.permissions),
                user_id: Some(c.user.id.get()),
            };
        }
        other => return Invocation::of_kind(InvocationKind::Unsupported(u8::from(other.kind()))),
    };
    let mut options = Vec::new();
    flatten(c, &c.data.options, &mut options);
    Invocation {
        kind,
        name: c.data.name.clone(),
        options,
        channel_id: Some(c.channel_id.get()),
        guild_id: c.guild_id.map(|g| g.get()),
        permissions: c.member.as_ref().and_then(|m| m.permissions),
        user_id: Some(c.user.id.get()),
    }
}

fn flatten(c: &CommandInteraction, options: &[CommandDataOption], out: &mut Vec<CommandOption>) {
    for o in options {
        let (value, focused) = match &o.value {
            CommandDataOptionValue::String(s) => (OptionValue::String(s.clone()), false),
            CommandDataOptionValue::Integer(i) => (OptionValue::Integer(*i), false),
            CommandDataOptionValue::Number(n) => (OptionValue::Number(*n), false),
            CommandDataOptionValue::Boolean(b) => (OptionValue::Bool(*b), false),
            CommandDataOptionValue::Role(r) => (mention(c, Mention::Role(r.get())), false),
            CommandDataOptionValue::User(u) => (mention(c, Mention::User(u.get())), false),
            CommandDataOptionValue::Mentionable(id) => {
                let role = c.data.resolved.roles.keys().any(|r| r.get() == id.get());
                let m = if role { Mention::Role(id.get()) } else { Mention::User(id.get()) };
                (mention(c, m), false)
            }
            CommandDataOptionValue::Autocomplete { value, .. } => (OptionValue::String(value.clone()), true),
            CommandDataOptionValue::SubCommand(sub) | CommandDataOptionValue::SubCommandGroup(sub) => {
                flatten(c, sub, out);
                continue;
            }
            _ => (OptionValue::Other, false),
        };
        out.push(CommandOption { name: o.name.clone(), value, focused });
    }
}

/// A picked role or member; the guild's `@everyone` role (whose id is the
/// guild's) is no mention this bot ever sends.
fn mention(c: &CommandInteraction, m: Mention) -> OptionValue {
    match (m, c.guild_id) {
        (Mention::Role(id), Some(guild)) if id == guild.get() => OptionValue::Other,
        _ => OptionValue::Mention(m),
    }
}

/// The answer's body: serenity's serialization of the response, except
/// that a response without data (a PONG) is exactly `{"type":1}` as
/// Discord documents it, not serenity's `{"type":1,"data":null}`.
pub(crate) fn answer_body(response: CreateInteractionResponse) -> Vec<u8> {
    let mut value = serde_json::to_value(response).unwrap_or_default();
    if let Some(obj) = value.as_object_mut()
        && obj.get("data").is_some_and(Value::is_null)
    {
        obj.remove("data");
    }
    serde_json::to_vec(&value).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A command interaction as Discord posts it (and as the gateway
    /// delivers it), with a field serenity does not know.
    fn payload(kind: u8, options: Value) -> Value {
        json!({
            "type": kind, "id": "1100000000000000001", "application_id": "1100000000000000002",
            "token": "tok", "version": 1, "locale": "en-US", "guild_locale": "en-US",
            "app_permissions": "2147483647", "entitlements": [], "attachment_size_limit": 8388608,
            "authorizing_integration_owners": {"0": "99"}, "context": 0,
            "channel_id": "424242", "guild_id": "99",
            "member": {
                "user": {"id": "7", "username": "astro", "discriminator": "0", "global_name": null, "avatar": null},
                "roles": [], "joined_at": "2024-01-01T00:00:00+00:00", "deaf": false, "mute": false,
                "flags": 0, "pending": false, "permissions": "2147483647", "nick": null, "avatar": null
            },
            "data": {"id": "1100000000000000003", "name": "subscribe", "type": 1, "options": options},
            "something_new": {"a": 1}
        })
    }

    #[test]
    fn parses_discord_shaped_json() {
        let body = payload(
            2,
            json!([
                {"name": "agency", "type": 3, "value": "SpaceX"},
                {"name": "count", "type": 4, "value": 3},
                {"name": "group", "type": 1, "options": [{"name": "flag", "type": 5, "value": true}]}
            ]),
        );
        let inv = parse(body.to_string().as_bytes()).unwrap();
        assert_eq!(inv.kind, InvocationKind::Command);
        assert_eq!(inv.name, "subscribe");
        assert_eq!(
            (inv.channel_id, inv.guild_id, inv.permissions.map(|p| p.bits()), inv.user_id),
            (Some(424242), Some(99), Some(2147483647), Some(7))
        );
        assert_eq!(inv.options[0], CommandOption::new("agency", OptionValue::String("SpaceX".into())));
        assert_eq!(inv.options[1].value, OptionValue::Integer(3));
        assert_eq!(inv.options[2], CommandOption::new("flag", OptionValue::Bool(true)), "sub-commands flattened");
        assert!(inv.can_manage());

        let typing = payload(4, json!([{"name": "agency", "type": 3, "value": "Spa", "focused": true}]));
        let inv = parse(typing.to_string().as_bytes()).unwrap();
        assert_eq!(inv.kind, InvocationKind::Autocomplete);
        assert!(inv.options[0].focused && inv.options[0].value == OptionValue::String("Spa".into()));

        // Kinds the bot does not read are told apart by their type alone.
        assert_eq!(parse(br#"{"type":1}"#).unwrap().kind, InvocationKind::Ping);
        assert_eq!(parse(payload(5, json!([])).to_string().as_bytes()).unwrap().kind, InvocationKind::Unsupported(5));
        let press = json!({"type": 3, "id": "1", "application_id": "2", "token": "t", "version": 1,
            "channel_id": "424242", "guild_id": "99",
            "member": {"permissions": "16", "user": {"id": "7"}},
            "data": {"custom_id": "mute:launch/abc", "component_type": 2}});
        let inv = parse(press.to_string().as_bytes()).unwrap();
        assert_eq!(
            (inv.kind, inv.name.as_str(), inv.channel_id),
            (InvocationKind::Component, "mute:launch/abc", Some(424242))
        );
        assert!(inv.can_manage());
        assert!(parse(b"{}").is_err());
        assert!(parse(br#"{"type":2,"channel_id":"abc"}"#).is_err());
        let mut bad_channel = payload(2, json!([]));
        bad_channel["channel_id"] = json!("abc");
        assert!(parse(bad_channel.to_string().as_bytes()).is_err());
    }

    #[test]
    fn answers_are_serenity_responses() {
        use super::super::commands::{Choice, Response};
        let body = |r: Response| serde_json::from_slice::<Value>(&answer_body(r.into())).unwrap();
        assert_eq!(body(Response::Pong), json!({"type": 1}));
        let r = body(Response::Message { content: "hi".into(), ephemeral: true });
        assert_eq!((&r["type"], &r["data"]["content"], &r["data"]["flags"]), (&json!(4), &json!("hi"), &json!(64)));
        assert_eq!(r["data"]["allowed_mentions"]["parse"], json!([]), "nobody is pinged");
        let r = body(Response::Message { content: "hi".into(), ephemeral: false });
        assert!(r["data"].get("flags").is_none(), "{r}");
        let r = body(Response::Choices(vec![Choice { name: "a".into(), value: "b".into() }]));
        assert_eq!(r, json!({"type": 8, "data": {"choices": [{"name": "a", "value": "b"}]}}));
    }

    #[test]
    fn public_keys() {
        assert!(verifier(&"00".repeat(32)).is_ok());
        assert!(verifier("abc").is_err());
        assert!(verifier(&"zz".repeat(32)).is_err());
        assert!(verifier(&"é".repeat(32)).is_err());
    }
}
