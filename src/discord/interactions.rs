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
//! nothing changes. Then PING → `{"type":1}`, a command → type 4 (message),
//! autocomplete → type 8 (choices), all through the same
//! [`Handler`](super::commands::Handler) the gateway uses.
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
use serde::de::{self, Deserializer};
use serde_json::Value;
use serenity::interactions_endpoint::Verifier;
use tracing::{debug, error, warn};

use super::commands::{CommandOption, Handler, Invocation, InvocationKind, OptionValue};

/// Where the endpoint is mounted.
pub const PATH: &str = "/discord/interactions";
/// Largest accepted body; real interactions are a few kilobytes.
pub const MAX_BODY: usize = 256 * 1024;
/// How far a request's timestamp may be from the local clock.
pub const MAX_SKEW: Duration = Duration::from_secs(300);

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
pub fn verifier(public_key: &str) -> Result<Verifier, InvalidPublicKey> {
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
        Ok(response) => {
            ([(header::CONTENT_TYPE, "application/json")], serde_json::to_vec(&response.to_json()).unwrap_or_default())
                .into_response()
        }
        Err(e) => {
            error!(error = %e, "interaction handler panicked");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

fn unauthorized() -> HttpResponse {
    (StatusCode::UNAUTHORIZED, "invalid request signature").into_response()
}

/// A snowflake, sent by Discord as a string (numbers accepted too).
fn snowflake<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => s.parse().map(Some).map_err(de::Error::custom),
        Some(Value::Number(n)) => n.as_u64().map(Some).ok_or_else(|| de::Error::custom("bad snowflake")),
        Some(other) => Err(de::Error::custom(format!("bad snowflake {other}"))),
    }
}

#[derive(Deserialize)]
struct RawInteraction {
    #[serde(rename = "type")]
    kind: u8,
    #[serde(default)]
    data: Option<RawData>,
    #[serde(default, deserialize_with = "snowflake")]
    channel_id: Option<u64>,
    #[serde(default)]
    channel: Option<RawId>,
    #[serde(default, deserialize_with = "snowflake")]
    guild_id: Option<u64>,
    #[serde(default)]
    member: Option<RawMember>,
    #[serde(default)]
    user: Option<RawId>,
}

#[derive(Deserialize)]
struct RawId {
    #[serde(default, deserialize_with = "snowflake")]
    id: Option<u64>,
}

#[derive(Deserialize)]
struct RawMember {
    /// The member's permissions in the channel, a decimal string.
    #[serde(default, deserialize_with = "snowflake")]
    permissions: Option<u64>,
    #[serde(default)]
    user: Option<RawId>,
}

#[derive(Deserialize)]
struct RawData {
    #[serde(default)]
    name: String,
    #[serde(default)]
    options: Vec<RawOption>,
}

#[derive(Deserialize)]
struct RawOption {
    name: String,
    #[serde(default)]
    value: Option<Value>,
    #[serde(default)]
    focused: bool,
    /// Sub-command options; flattened.
    #[serde(default)]
    options: Vec<RawOption>,
}

fn flatten(raw: Vec<RawOption>, out: &mut Vec<CommandOption>) {
    for o in raw {
        let value = match o.value {
            Some(Value::String(s)) => OptionValue::String(s),
            Some(Value::Bool(b)) => OptionValue::Bool(b),
            Some(Value::Number(n)) => match n.as_i64() {
                Some(i) => OptionValue::Integer(i),
                None => OptionValue::Number(n.as_f64().unwrap_or_default()),
            },
            Some(_) => OptionValue::Other,
            None => {
                flatten(o.options, out);
                continue;
            }
        };
        out.push(CommandOption { name: o.name, value, focused: o.focused });
    }
}

/// The parts of Discord's interaction JSON the handler needs. Lenient:
/// unknown fields are ignored and only `type` is required, so a field
/// Discord adds or stops sending cannot break the endpoint.
pub fn parse(body: &[u8]) -> Result<Invocation, serde_json::Error> {
    let raw: RawInteraction = serde_json::from_slice(body)?;
    let kind = match raw.kind {
        1 => InvocationKind::Ping,
        2 => InvocationKind::Command,
        4 => InvocationKind::Autocomplete,
        other => InvocationKind::Unsupported(other),
    };
    let (name, options) = match raw.data {
        Some(d) => {
            let mut options = Vec::new();
            flatten(d.options, &mut options);
            (d.name, options)
        }
        None => (String::new(), Vec::new()),
    };
    let user_id = raw.member.as_ref().and_then(|m| m.user.as_ref()).or(raw.user.as_ref()).and_then(|u| u.id);
    Ok(Invocation {
        kind,
        name,
        options,
        channel_id: raw.channel_id.or(raw.channel.and_then(|c| c.id)),
        guild_id: raw.guild_id,
        permissions: raw.member.and_then(|m| m.permissions),
        user_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_discord_shaped_json() {
        let body = json!({
            "type": 2, "id": "1", "application_id": "2", "token": "t", "version": 1,
            "channel_id": "424242", "guild_id": "99",
            "member": {"permissions": "2147483647", "user": {"id": "7", "username": "u"}},
            "data": {"id": "5", "name": "subscribe", "type": 1, "options": [
                {"name": "agency", "type": 3, "value": "SpaceX"},
                {"name": "count", "type": 4, "value": 3},
                {"name": "agency_partial", "type": 3, "value": "Spa", "focused": true}
            ]},
            "something_new": {"a": 1}
        });
        let inv = parse(body.to_string().as_bytes()).unwrap();
        assert_eq!(inv.kind, InvocationKind::Command);
        assert_eq!(inv.name, "subscribe");
        assert_eq!(
            (inv.channel_id, inv.guild_id, inv.permissions, inv.user_id),
            (Some(424242), Some(99), Some(2147483647), Some(7))
        );
        assert_eq!(inv.options[0], CommandOption::new("agency", OptionValue::String("SpaceX".into())));
        assert_eq!(inv.options[1].value, OptionValue::Integer(3));
        assert!(inv.options[2].focused);
        assert_eq!(parse(br#"{"type":1}"#).unwrap().kind, InvocationKind::Ping);
        assert_eq!(parse(br#"{"type":3}"#).unwrap().kind, InvocationKind::Unsupported(3));
        assert!(parse(b"{}").is_err());
        assert!(parse(br#"{"type":2,"channel_id":"abc"}"#).is_err());
    }

    #[test]
    fn public_keys() {
        assert!(verifier(&"00".repeat(32)).is_ok());
        assert!(verifier("abc").is_err());
        assert!(verifier(&"zz".repeat(32)).is_err());
        assert!(verifier(&"é".repeat(32)).is_err());
    }
}
