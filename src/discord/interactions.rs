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
//! An interaction is executed at most once ([`Replays`]): a signed
//! request replayed within its window (the same `id`) gets an answer that
//! changes nothing (a command an ephemeral note, a press a bare
//! acknowledgement). The ids live in memory for as long as a replay could
//! pass the timestamp check; that they do not survive a restart is covered
//! by refusing anything signed before this process began, as only a
//! replay can be (Discord delivers an interaction once, at once, and does
//! not retry; one that reached the previous process cannot reach this
//! one legitimately). This costs no store write per interaction, and the
//! only legitimate refusals are interactions signed in the seconds a clock
//! of ours that runs ahead adds after start-up. The gateway needs no such
//! guard: Discord sends each interaction over it once (a resumed session
//! replays only events it had not delivered).
//!
//! Request bodies are never logged.

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};
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
    ActionRowComponent, Button, ButtonKind, CommandDataOption, CommandDataOptionValue, CommandInteraction,
    CreateInteractionResponse, Interaction, InteractionType,
};
use serenity::interactions_endpoint::Verifier;
use serenity::model::permissions::Permissions;
use tracing::{debug, error, warn};

use super::commands::Handler;
use super::components::watch_url;
use super::invocation::{CommandOption, Invocation, InvocationKind, OptionValue};
use super::reply::Response;
use crate::types::Mention;

/// Where the endpoint is mounted.
pub(crate) const PATH: &str = "/discord/interactions";
/// Largest accepted body; real interactions are a few kilobytes.
pub(crate) const MAX_BODY: usize = 256 * 1024;
/// How far a request's timestamp may be from the local clock.
pub(crate) const MAX_SKEW: Duration = Duration::from_secs(300);

/// `discord.public_key` is not a valid Ed25519 key.
#[cfg_attr(feature = "testing", visibility::make(pub))]
#[derive(Debug, thiserror::Error)]
#[error("discord.public_key is not a valid Ed25519 public key (64 hex characters)")]
pub(crate) struct InvalidPublicKey;

#[derive(Clone)]
struct EndpointState {
    handler: Arc<Handler>,
    verifier: Verifier,
    replays: Arc<Mutex<Replays>>,
}

/// The answer to a command replayed after it ran.
const ALREADY_HANDLED: &str = "This command was already handled.";

/// Whether an interaction may run (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Replay {
    /// Never seen: run it (it is now remembered).
    First,
    /// This id already ran.
    Again,
    /// Signed before this process started: only a replay can be.
    BeforeStart,
}

/// The ids of the interactions this endpoint executed, kept while a
/// replay of them could still pass the timestamp check ([`MAX_SKEW`] on
/// either side): a bounded, time-ordered set. Only Discord can sign, so
/// its size follows the real traffic of ten minutes.
pub(crate) struct Replays {
    /// The process's start, in Unix seconds.
    started: i64,
    seen: HashSet<String>,
    /// (signed at, id), oldest first, for pruning.
    order: VecDeque<(i64, String)>,
}

impl Replays {
    /// A guard for a process that started at `started` (Unix seconds).
    pub(crate) fn new(started: i64) -> Replays {
        Replays { started, seen: HashSet::new(), order: VecDeque::new() }
    }

    /// Whether interaction `id`, signed at `signed` (Unix seconds, already
    /// checked to be within [`MAX_SKEW`] of `now`), may run; remembers it.
    pub(crate) fn check(&mut self, id: &str, signed: i64, now: i64) -> Replay {
        let window = MAX_SKEW.as_secs() as i64;
        while self.order.front().is_some_and(|(at, _)| *at + window < now) {
            if let Some((_, old)) = self.order.pop_front() {
                self.seen.remove(&old);
            }
        }
        if signed < self.started {
            return Replay::BeforeStart;
        }
        if !self.seen.insert(id.to_owned()) {
            return Replay::Again;
        }
        // Signed times arrive nearly in order; an early one only stays a
        // little longer than it must.
        self.order.push_back((signed.max(self.order.back().map_or(signed, |(at, _)| *at)), id.to_owned()));
        Replay::First
    }
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
#[cfg_attr(feature = "testing", visibility::make(pub))]
pub(crate) fn router(handler: Arc<Handler>, public_key: &str) -> Result<Router, InvalidPublicKey> {
    let replays = Arc::new(Mutex::new(Replays::new(Utc::now().timestamp())));
    let state = EndpointState { handler, verifier: verifier(public_key)?, replays };
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
    let Some(signed) =
        timestamp.parse::<i64>().ok().filter(|t| (Utc::now().timestamp() - t).unsigned_abs() <= MAX_SKEW.as_secs())
    else {
        warn!("signed interaction with a timestamp more than {}s off refused; is the clock right?", MAX_SKEW.as_secs());
        return unauthorized();
    };
    let invocation = match parse(&body) {
        Ok(inv) => inv,
        Err(e) => {
            warn!(error = %e, "signed interaction body not understood");
            return (StatusCode::BAD_REQUEST, "bad interaction body").into_response();
        }
    };
    if let Some(answer) = replayed(&st.replays, &invocation, &body, signed) {
        return answer;
    }
    let handler = st.handler.clone();
    match tokio::task::spawn_blocking(move || handler.handle(&invocation, Utc::now())).await {
        Ok(response) => ([(header::CONTENT_TYPE, "application/json")], answer_body(response.into())).into_response(),
        Err(e) => {
            error!(error = %e, "interaction handler panicked");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// The answer to an interaction that must not run again (see
/// [`Replays`]), or `None` to run it. PINGs and autocomplete change
/// nothing, so they are always answered.
fn replayed(replays: &Mutex<Replays>, invocation: &Invocation, body: &[u8], signed: i64) -> Option<HttpResponse> {
    if matches!(invocation.kind, InvocationKind::Ping | InvocationKind::Autocomplete) {
        return None;
    }
    #[derive(Deserialize)]
    struct Id {
        id: String,
    }
    let id = serde_json::from_slice::<Id>(body).ok()?.id;
    let verdict = replays.lock().unwrap_or_else(|e| e.into_inner()).check(&id, signed, Utc::now().timestamp());
    let response = match verdict {
        Replay::First => return None,
        Replay::BeforeStart => {
            warn!("signed interaction from before this process started refused (a replay, or a clock running ahead)");
            return Some(unauthorized());
        }
        Replay::Again if invocation.kind == InvocationKind::Command => Response::ephemeral(ALREADY_HANDLED),
        Replay::Again => Response::Acknowledge,
    };
    warn!(interaction = id, "replayed interaction answered without running it again");
    Some(([(header::CONTENT_TYPE, "application/json")], answer_body(response.into())).into_response())
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

/// An object of which the press reads only the id (user, channel).
#[derive(Deserialize)]
struct PressId {
    id: String,
}

/// The presser as a guild member: their permissions here, and who they are.
#[derive(Deserialize)]
struct PressMember {
    permissions: Option<String>,
    user: Option<PressId>,
}

/// The message whose button was pressed: only its rows of components.
#[derive(Deserialize, Default)]
struct PressMessage {
    #[serde(default)]
    components: Vec<PressRow>,
}

/// One row of the pressed message's components.
#[derive(Deserialize, Default)]
struct PressRow {
    #[serde(default)]
    components: Vec<PressPart>,
}

/// One component: a link button is style 5 with a URL.
#[derive(Deserialize, Default)]
struct PressPart {
    style: Option<u8>,
    url: Option<String>,
}

/// What was pressed: the button's `custom_id`.
#[derive(Deserialize, Default)]
struct PressData {
    #[serde(default)]
    custom_id: String,
}

/// A button-press interaction, only the fields the handler reads.
#[derive(Deserialize)]
struct PressRaw {
    #[serde(default)]
    data: PressData,
    channel_id: Option<String>,
    channel: Option<PressId>,
    guild_id: Option<String>,
    member: Option<PressMember>,
    user: Option<PressId>,
    #[serde(default)]
    message: PressMessage,
}

/// A button press serenity's strict model refused (it wants the whole
/// message): only the fields the handler reads. `custom_id` is bounded
/// (Discord allows 100 characters) before it goes anywhere.
fn component(body: &[u8]) -> Result<Invocation, serde_json::Error> {
    let raw: PressRaw = serde_json::from_slice(body)?;
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
        // A link button is style 5.
        watch: watch(
            raw.message
                .components
                .iter()
                .flat_map(|r| &r.components)
                .filter(|p| p.style == Some(5))
                .map(|p| p.url.as_deref()),
        ),
    })
}

/// The first link button URL among `urls` Discord would take back.
fn watch<'a>(urls: impl Iterator<Item = Option<&'a str>>) -> Option<String> {
    urls.flatten().find_map(watch_url).map(str::to_owned)
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
                watch: watch(c.message.components.iter().flat_map(|r| &r.components).map(|p| match p {
                    ActionRowComponent::Button(Button { data: ButtonKind::Link { url }, .. }) => Some(url.as_str()),
                    _ => None,
                })),
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
        watch: None,
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

    #[test]
    fn an_interaction_runs_once_within_its_window() {
        let start = 1_000_000;
        let mut r = Replays::new(start);
        assert_eq!(r.check("1", start, start), Replay::First);
        assert_eq!(r.check("1", start, start + 299), Replay::Again);
        assert_eq!(r.check("2", start + 1, start + 2), Replay::First);
        assert_eq!(r.check("0", start - 1, start + 2), Replay::BeforeStart, "signed before the start");
        // Forgotten once no replay could pass the timestamp check.
        assert_eq!(r.check("3", start + 400, start + 400), Replay::First);
        assert_eq!(r.seen.len(), 1, "1 and 2 pruned");
    }

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
        assert_eq!(inv.watch, None, "no message, no link to keep");
        // The pressed alert's "Watch live" link is kept for the answer;
        // one Discord would not take back is not.
        for (url, kept) in [("https://youtu.be/x", Some("https://youtu.be/x")), ("javascript:alert(1)", None)] {
            let mut with_link = press.clone();
            with_link["message"] = json!({"components": [{"type": 1, "components": [
                {"type": 2, "style": 2, "label": "🔕 Mute", "custom_id": "mute:launch/abc"},
                {"type": 2, "style": 5, "label": "Watch live", "url": url}]}]});
            assert_eq!(parse(with_link.to_string().as_bytes()).unwrap().watch.as_deref(), kept);
        }
        assert!(parse(b"{}").is_err());
        assert!(parse(br#"{"type":2,"channel_id":"abc"}"#).is_err());
        let mut bad_channel = payload(2, json!([]));
        bad_channel["channel_id"] = json!("abc");
        assert!(parse(bad_channel.to_string().as_bytes()).is_err());
    }

    #[test]
    fn answers_are_serenity_responses() {
        use super::super::reply::{Choice, Response};
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
