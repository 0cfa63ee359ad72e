//! The two Discord senders: [`DiscordSender`] posts into a channel with the
//! bot token, [`WebhookSender`] executes an incoming webhook. Both share one
//! request path ([`Core`]): the limit check of the rendered body, Discord's
//! rate limits, the POST through reqwest, and the classification of the
//! answer into `Sent` or a `SendError`.
//!
//! Rate limits follow Discord's model, kept in the shared
//! `deliver::ratelimit::RateLimiter` (keyed by route). The bot's limiter
//! is a [`BotLimiter`]: one object for every request made with the bot
//! token, handed to the scheduled-events sync too (`discord/events.rs`),
//! because Discord's global ceiling counts the bot, not the caller. The
//! webhook sender has a limiter of its own (webhooks are not the bot):
//! - every route (a channel for the bot, a webhook for webhooks) has a
//!   bucket learned from the `X-RateLimit-Remaining` / `-Reset-After`
//!   headers; an empty bucket pauses its route until the reset. The
//!   deliverer sends to one destination in FIFO order, one at a time, so
//!   each send sees the headers of the one before;
//! - a global ceiling (50 requests/s per bot by default, configurable for
//!   scaled benchmarks) over all routes, alerts and events together, paced
//!   by the limiter with a little headroom;
//! - a 429 is never retried here: its `retry_after` (body, else the
//!   `Retry-After` header) pauses the route and goes back to the deliverer
//!   as `SendError::Transient`; a `global: true` 429 pauses every route of
//!   the limiter for that long.
//!
//! Live cards (`deliver::card`): both senders edit what they posted (bot:
//! `PATCH /channels/{c}/messages/{m}`, webhook: `PATCH
//! /webhooks/{id}/{token}/messages/{m}`, ids from `wait=true`) on the same
//! request path; Unknown Message (10008) and 50005 on an edit mean the card
//! is gone (`EditError::Gone`), never a disabled subscription. The bot's
//! short card messages reply to the card (`message_reference`).
//!
//! Why reqwest and not serenity's `Http`: serenity's `Http` serves one-off
//! calls well, and the registration of the slash commands goes through it
//! (`discord::commands::register`). Alert delivery needs three things it does
//! not give:
//! - one attempt per send: serenity's ratelimiter sleeps through a 429 and
//!   retries in place, while here a 429 must go back to the deliverer as
//!   `Transient`, so the outbox keeps the entry, backs the destination off
//!   and the send window (W = 8 unconfirmed sends per platform) stays true;
//! - one limiter across callers: the bot's global ceiling counts alerts and
//!   the scheduled-events sync together ([`BotLimiter`]), and the ceiling is
//!   configurable for scaled benchmarks;
//! - lenient answers: only the message id is read, where serenity's
//!   `Message` model refuses an answer that lacks a field the bot never uses.
//!
//! Secrets: the bot token and the webhook URL never appear in an error or a
//! log line. Routes are logged as `channel ID` / `webhook ID`; reqwest
//! errors are stripped of their URL and every text that leaves this module
//! goes through `errors::redact` as a last line of defence.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap, HeaderValue};
use serde::Deserialize;
use tokio::time::Instant;
use tracing::{debug, error, warn};
use url::Url;

use super::render;
use crate::commands::mute::Button;
use crate::deliver::ratelimit::{LimitKey, Limits, Rate, RateLimiter};
use crate::deliver::{AlertExtras, BoxFuture, EditError, SendError, Sender, Sent};
use crate::discord::components::{alert_row, watch_url};
use crate::errors::{error_chain, redact};
use crate::render::Message;
use crate::types::{Destination, Secret};

/// Discord REST API version the bot talks to.
pub(crate) const API_PATH: &str = "/api/v10";

/// Discord error codes that mean the destination is gone or refuses us for
/// good: retrying cannot help, the subscription is disabled.
const PERMANENT_CODES: &[(i64, &str)] = &[
    (10003, "Unknown Channel"),
    (10004, "Unknown Guild"),
    (10015, "Unknown Webhook"),
    (50007, "Cannot send messages to this user"),
    (50008, "Cannot send messages in a non-text channel"),
];

/// Discord error codes a server admin can fix (give the bot its channel
/// permissions back): the destination is paused, not disabled.
const FIXABLE_CODES: &[(i64, &str)] = &[(50001, "Missing Access"), (50013, "Missing Permissions")];

/// Discord error codes that mean an edited message is gone or not ours to
/// edit: a live card that a new card replaces (never a disabled
/// subscription, as 404s of sends are).
const GONE_CODES: &[(i64, &str)] =
    &[(10008, "Unknown Message"), (50005, "Cannot edit a message authored by another user")];

/// How long to stay away after Discord refused the bot token itself (401):
/// the token is wrong for every channel, so no subscription is to blame and
/// none is disabled; entries wait until an operator fixes the token (or the
/// deliverer's max age gives up on them).
const BAD_TOKEN_RETRY: Duration = Duration::from_secs(300);

/// A 429 without JSON body comes from Cloudflare in front of Discord (an IP
/// ban after too many invalid requests); without a `Retry-After` we back
/// off this long, for every route.
const CLOUDFLARE_RETRY: Duration = Duration::from_secs(60);

/// A successful answer is a message object of a few kilobytes; anything far
/// larger is not read into memory.
const MAX_RESPONSE_BYTES: usize = 256 * 1024;

/// Fraction added to the global spacing, so requests that reach Discord
/// with some network jitter still stay under its ceiling.
const GLOBAL_HEADROOM: f64 = 0.05;

/// Tuning of one sender. The defaults are Discord's production limits.
#[cfg_attr(feature = "testing", visibility::make(pub))]
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SenderConfig {
    /// Requests allowed per `global_window` over all routes, paced evenly;
    /// `None` for no ceiling of our own (429s are still honoured). Discord
    /// allows a bot 50 per second.
    pub global_limit: Option<u32>,
    /// The window `global_limit` counts in.
    pub global_window: Duration,
    /// The longest one send waits in place for an empty bucket or a global
    /// pause. A longer wait is handed back as `Transient { retry_after }` so
    /// the deliverer reschedules instead of holding a worker.
    pub max_wait: Duration,
    /// Per request: connect, send and read the answer.
    pub timeout: Duration,
}

impl Default for SenderConfig {
    fn default() -> Self {
        SenderConfig {
            global_limit: Some(50),
            global_window: Duration::from_secs(1),
            max_wait: Duration::from_secs(10),
            timeout: Duration::from_secs(15),
        }
    }
}

/// Counters for logs, tests and benchmarks.
#[cfg_attr(feature = "testing", visibility::make(pub))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct SenderStats {
    /// Requests that reached the network.
    pub requests: u64,
    /// 429 answers received.
    pub rate_limited: u64,
    /// Sends that waited for an empty bucket or a global pause.
    pub bucket_waits: u64,
    /// Sends that waited for the global ceiling.
    pub global_waits: u64,
}

/// Why a sender could not be built.
#[cfg_attr(feature = "testing", visibility::make(pub))]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum SetupError {
    /// The bot sender needs a token.
    #[error("discord.token is empty")]
    NoToken,
    /// The API base URL is not http(s).
    #[error("discord.api_url {0:?} is not an http(s) URL")]
    BadApiUrl(String),
    /// reqwest could not build the client.
    #[error("cannot build the HTTP client: {0}")]
    Http(String),
}

/// Posts alerts into channels as the bot: `Destination::Discord`.
#[cfg_attr(feature = "testing", visibility::make(pub))]
pub(crate) struct DiscordSender {
    core: Core,
    token: Secret,
    /// `{api_url}/api/v10`, without trailing slash.
    base: String,
}

/// Executes incoming webhooks: `Destination::DiscordWebhook`. No token; the
/// webhook URL is the credential.
#[cfg_attr(feature = "testing", visibility::make(pub))]
pub(crate) struct WebhookSender {
    core: Core,
}

impl DiscordSender {
    /// `api_url` is Discord's origin (`https://discord.com`) or a test
    /// server's; requests go to `{api_url}/api/v10/...`. `token` may carry
    /// the `Bot ` prefix or not.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn new(token: Secret, api_url: &str, config: SenderConfig) -> Result<DiscordSender, SetupError> {
        let limiter = BotLimiter::new(&config);
        DiscordSender::with_limiter(token, api_url, config, limiter)
    }

    /// [`new`](Self::new), paced by `limiter` (`config`'s global ceiling is
    /// the limiter's): the one the bot's other REST callers use too.
    pub(crate) fn with_limiter(
        token: Secret,
        api_url: &str,
        config: SenderConfig,
        limiter: BotLimiter,
    ) -> Result<DiscordSender, SetupError> {
        let bare = token.expose().trim();
        let bare = bare.strip_prefix("Bot ").unwrap_or(bare).trim();
        if bare.is_empty() {
            return Err(SetupError::NoToken);
        }
        let api_url = api_url.trim().trim_end_matches('/');
        match Url::parse(api_url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {}
            _ => return Err(SetupError::BadApiUrl(api_url.to_owned())),
        }
        Ok(DiscordSender {
            core: Core::new(config, limiter.0)?,
            token: Secret::new(bare),
            base: format!("{api_url}{API_PATH}"),
        })
    }

    /// A bot sender for `[discord]` with Discord's limits, paced by
    /// `limiter` (built with [`BotLimiter::discord`]).
    pub(crate) fn from_config(
        cfg: &crate::config::DiscordConfig,
        limiter: BotLimiter,
    ) -> Result<DiscordSender, SetupError> {
        DiscordSender::with_limiter(cfg.token.clone(), &cfg.api_url, SenderConfig::default(), limiter)
    }

    /// Counters since the sender was built.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn stats(&self) -> SenderStats {
        self.core.stats.snapshot()
    }
}

impl WebhookSender {
    /// A webhook sender; webhooks need no token (the URL is the secret).
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn new(config: SenderConfig) -> Result<WebhookSender, SetupError> {
        let limiter = BotLimiter::new(&config).0;
        Ok(WebhookSender { core: Core::new(config, limiter)? })
    }

    /// Counters since the sender was built.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn stats(&self) -> SenderStats {
        self.core.stats.snapshot()
    }
}

impl DiscordSender {
    /// The bot's body for `msg`: the embed, a Mute button (webhooks cannot
    /// carry interactive components), the webcast as a "Watch live" link
    /// button beside it (instead of an embed field), the mentions, and a
    /// reply to `extras.reply_to`.
    fn payload(msg: &Message, extras: AlertExtras<'_>) -> Result<serde_json::Value, SendError> {
        let watch = msg.webcast.as_deref().and_then(watch_url);
        // The link button names the webcast: the embed need not again.
        let lean = watch.map(|_| Message { webcast: None, ..msg.clone() });
        let mut message = render::channel_message(lean.as_ref().unwrap_or(msg), extras.mentions);
        let mute = extras.mute.map(|item| Button::Mute(item.clone()));
        let mut rows: Vec<_> = alert_row(mute.as_ref(), watch).into_iter().collect();
        rows.extend(extras.keyboard.map(crate::discord::components::action_rows).unwrap_or_default());
        if !rows.is_empty() {
            message = message.components(rows);
        }
        let payload = serde_json::to_value(message)
            .map_err(|e| SendError::Rejected { reason: format!("cannot serialize the message: {e}") })?;
        Ok(with_reply(payload, extras.reply_to))
    }

    /// Posts (or, with `edit`, patches) `payload` at `url` in `channel`.
    async fn request(&self, channel: u64, url: Url, payload: serde_json::Value, edit: bool) -> Result<Sent, EditError> {
        let mut auth = HeaderValue::from_str(&format!("Bot {}", self.token.expose()))
            .map_err(|_| SendError::Permanent { reason: "the bot token is not a valid header value".into() })?;
        // Keeps the token out of reqwest's and hyper's Debug output.
        auth.set_sensitive(true);
        let route =
            Route { key: RouteKey(format!("channel:{channel}")), label: format!("channel {channel}"), bot: true };
        let post = Post { route, url, auth: Some(auth), payload, secrets: vec![self.token.expose()], edit };
        self.core.request(post).await
    }

    fn url(&self, path: &str) -> Result<Url, SendError> {
        Url::parse(&format!("{}{path}", self.base))
            .map_err(|_| SendError::Rejected { reason: "cannot build the channel URL".into() })
    }
}

impl Sender for DiscordSender {
    fn send_alert<'a>(
        &'a self,
        dest: &'a Destination,
        msg: &'a Message,
        extras: AlertExtras<'a>,
    ) -> BoxFuture<'a, Result<Sent, SendError>> {
        Box::pin(async move {
            let Destination::Discord(channel) = dest else {
                // Wiring bug (the deliverer picks senders by platform): not
                // the destination's fault, so nothing gets disabled.
                return Err(SendError::Rejected { reason: format!("the Discord bot sender cannot send to {dest}") });
            };
            let url = self.url(&format!("/channels/{}/messages", channel.0))?;
            let payload = with_loudness(DiscordSender::payload(msg, extras)?, extras.silent);
            self.request(channel.0, url, payload, false).await.map_err(EditError::into_send)
        })
    }

    fn can_edit(&self) -> bool {
        true
    }

    /// PATCH /channels/{c}/messages/{m}; Unknown Message (10008) or a
    /// message we may not edit is `Gone`.
    fn edit_alert<'a>(
        &'a self,
        dest: &'a Destination,
        message_id: &'a str,
        msg: &'a Message,
        extras: AlertExtras<'a>,
    ) -> BoxFuture<'a, Result<(), EditError>> {
        Box::pin(async move {
            let (Destination::Discord(channel), Some(id)) = (dest, snowflake(message_id)) else {
                return Err(EditError::Gone { reason: format!("not a Discord message: {dest} {message_id}") });
            };
            let url = self.url(&format!("/channels/{}/messages/{id}", channel.0))?;
            let payload = DiscordSender::payload(msg, AlertExtras { reply_to: None, ..extras })?;
            self.request(channel.0, url, payload, true).await.map(|_| ())
        })
    }
}

/// A Discord message id: digits only (it goes into a URL path).
fn snowflake(id: &str) -> Option<&str> {
    (!id.is_empty() && id.len() <= 20 && id.bytes().all(|b| b.is_ascii_digit())).then_some(id)
}

/// `payload` as a reply to `to` (`message_reference`); a deleted card
/// must not stop the reply (`fail_if_not_exists: false`).
fn with_reply(mut payload: serde_json::Value, to: Option<&str>) -> serde_json::Value {
    if let (Some(id), Some(body)) = (to.and_then(snowflake), payload.as_object_mut()) {
        body.insert("message_reference".into(), serde_json::json!({"message_id": id, "fail_if_not_exists": false}));
    }
    payload
}

impl Sender for WebhookSender {
    /// Webhooks ping the subscription's mentions too.
    fn send_alert<'a>(
        &'a self,
        dest: &'a Destination,
        msg: &'a Message,
        extras: AlertExtras<'a>,
    ) -> BoxFuture<'a, Result<Sent, SendError>> {
        Box::pin(async move {
            let Destination::DiscordWebhook(secret) = dest else {
                return Err(SendError::Rejected {
                    reason: format!("the Discord webhook sender cannot send to {dest}"),
                });
            };
            let hook = Webhook::parse(secret)?;
            // Webhooks cannot reply: a card's short message follows it.
            let payload = serde_json::to_value(render::webhook_message(msg, extras.mentions))
                .map_err(|e| SendError::Rejected { reason: format!("cannot serialize the message: {e}") })?;
            let payload = with_loudness(payload, extras.silent);
            let mut secrets = vec![secret.expose()];
            if let Some(t) = hook.token.as_deref() {
                secrets.push(t);
            }
            let post = Post { route: hook.route, url: hook.url, auth: None, payload, secrets, edit: false };
            self.core.request(post).await.map_err(EditError::into_send)
        })
    }

    fn can_edit(&self) -> bool {
        true
    }

    /// PATCH /webhooks/{id}/{token}/messages/{m} (the message was posted
    /// with `wait=true`, which gave its id).
    fn edit_alert<'a>(
        &'a self,
        dest: &'a Destination,
        message_id: &'a str,
        msg: &'a Message,
        extras: AlertExtras<'a>,
    ) -> BoxFuture<'a, Result<(), EditError>> {
        Box::pin(async move {
            let (Destination::DiscordWebhook(secret), Some(id)) = (dest, snowflake(message_id)) else {
                return Err(EditError::Gone { reason: format!("not a Discord webhook message: {message_id}") });
            };
            let hook = Webhook::parse(secret)?;
            let payload = serde_json::to_value(render::webhook_message(msg, extras.mentions))
                .map_err(|e| SendError::Rejected { reason: format!("cannot serialize the message: {e}") })?;
            let mut secrets = vec![secret.expose()];
            if let Some(t) = hook.token.as_deref() {
                secrets.push(t);
            }
            let url = hook.message_url(id);
            let post = Post { route: hook.route, url, auth: None, payload, secrets, edit: true };
            self.core.request(post).await.map(|_| ())
        })
    }
}

/// Discord's SUPPRESS_NOTIFICATIONS message flag: delivered without a
/// push or sound.
const SUPPRESS_NOTIFICATIONS: u64 = 1 << 12;

/// `payload` with the suppress-notifications flag when `silent` (bot
/// messages and webhooks both accept `flags`).
fn with_loudness(mut payload: serde_json::Value, silent: bool) -> serde_json::Value {
    if silent && let Some(body) = payload.as_object_mut() {
        let flags = body.get("flags").and_then(serde_json::Value::as_u64).unwrap_or(0);
        body.insert("flags".into(), (flags | SUPPRESS_NOTIFICATIONS).into());
    }
    payload
}

/// What a webhook URL tells: where to post, and which bucket it uses.
struct Webhook {
    /// The URL with `wait=true`, so Discord answers with the message (and
    /// its id) instead of 204.
    url: Url,
    route: Route,
    token: Option<String>,
}

impl Webhook {
    fn parse(secret: &Secret) -> Result<Webhook, SendError> {
        let bad = |why: &str| SendError::Permanent { reason: format!("webhook URL {why}") };
        let mut url = Url::parse(secret.expose().trim()).map_err(|_| bad("is not a URL"))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(bad("must be http(s) with a host"));
        }
        // `.../webhooks/{id}/{token}`: the id names the bucket and is not a
        // secret (useless without the token). An unusual URL still works,
        // with the whole URL as an (unlogged) bucket key.
        let segments: Vec<String> = url.path_segments().map(|s| s.map(str::to_owned).collect()).unwrap_or_default();
        let at = segments.iter().position(|s| s == "webhooks");
        let id = at.and_then(|i| segments.get(i + 1)).and_then(|s| s.parse::<u64>().ok());
        let token = at.and_then(|i| segments.get(i + 2)).filter(|t| !t.is_empty()).cloned();
        let route = match id {
            Some(id) => Route { key: RouteKey(format!("webhook:{id}")), label: format!("webhook {id}"), bot: false },
            None => Route {
                key: RouteKey(format!("webhook-url:{}", secret.expose())),
                label: "webhook ***".into(),
                bot: false,
            },
        };
        let others: Vec<(String, String)> =
            url.query_pairs().filter(|(k, _)| k != "wait").map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        url.query_pairs_mut().clear().extend_pairs(others).append_pair("wait", "true");
        Ok(Webhook { url, route, token })
    }

    /// `.../webhooks/{id}/{token}/messages/{message}`, the other query
    /// parameters (a thread) kept, without `wait`.
    fn message_url(&self, message: &str) -> Url {
        let mut url = self.url.clone();
        let path = format!("{}/messages/{message}", url.path().trim_end_matches('/'));
        url.set_path(&path);
        let others: Vec<(String, String)> =
            url.query_pairs().filter(|(k, _)| k != "wait").map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        url.set_query(None);
        if !others.is_empty() {
            url.query_pairs_mut().extend_pairs(others);
        }
        url
    }
}

/// One rate-limit route: its bucket key and a log-safe name.
struct Route {
    key: RouteKey,
    label: String,
    /// Posted with the bot token (a 401 then means a bad token, not a bad
    /// destination).
    bot: bool,
}

/// A route's key in the rate limiter: `channel:ID`, `webhook:ID`,
/// `guild-events:ID` (the scheduled-events sync), or (for an unusual
/// webhook URL) the URL itself, which is why it is never logged.
#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) struct RouteKey(pub(crate) String);

impl LimitKey for RouteKey {}

/// The rate limiter of every request made with the bot token: Discord
/// allows a bot 50 requests/s over all its routes, whoever in the process
/// makes them. Built once (`app.rs`) and shared (cheap to clone) by the
/// alert sender and the scheduled-events sync, so together they stay under
/// that ceiling; a `global` 429 either of them gets pauses both.
#[cfg_attr(feature = "testing", visibility::make(pub))]
#[derive(Clone)]
pub(crate) struct BotLimiter(pub(crate) Arc<RateLimiter<RouteKey>>);

impl BotLimiter {
    /// A limiter with `config`'s global ceiling (`global_limit` per
    /// `global_window`) and Discord's headroom.
    pub(crate) fn new(config: &SenderConfig) -> BotLimiter {
        let limits = Limits {
            global: config.global_limit.filter(|l| *l > 0).map(|l| Rate::new(l, config.global_window)),
            headroom: GLOBAL_HEADROOM,
            ..Limits::default()
        };
        BotLimiter(Arc::new(RateLimiter::new(limits)))
    }

    /// Discord's production ceiling: 50 requests/s per bot.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn discord() -> BotLimiter {
        BotLimiter::new(&SenderConfig::default())
    }
}

struct Post<'a> {
    route: Route,
    url: Url,
    auth: Option<HeaderValue>,
    payload: serde_json::Value,
    secrets: Vec<&'a str>,
    /// PATCH an existing message (a live card) instead of POSTing one.
    edit: bool,
}

/// Discord's JSON error body (and 429 body).
#[derive(Debug, Default, Deserialize)]
struct ErrorBody {
    #[serde(default)]
    code: Option<i64>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    retry_after: Option<f64>,
    #[serde(default)]
    global: Option<bool>,
}

#[derive(Deserialize)]
struct Created {
    id: serde_json::Value,
}

/// What Discord's rate-limit headers told about the route just used.
#[derive(Debug, Default)]
struct Bucket {
    remaining: Option<u64>,
    reset_at: Option<Instant>,
    limit: Option<u64>,
    hash: Option<String>,
}

impl Bucket {
    fn parse(h: &HeaderMap, received: Instant) -> Bucket {
        // Reset-After is relative, so clock skew does not matter; the
        // absolute Reset is a fallback that depends on our wall clock.
        let reset_after = header_secs(h, "x-ratelimit-reset-after").or_else(|| {
            let at = header_str(h, "x-ratelimit-reset")?.parse::<f64>().ok()?;
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).ok()?.as_secs_f64();
            secs(at - now)
        });
        Bucket {
            remaining: header_u64(h, "x-ratelimit-remaining"),
            reset_at: reset_after.map(|d| received + d),
            limit: header_u64(h, "x-ratelimit-limit"),
            hash: header_str(h, "x-ratelimit-bucket").map(str::to_owned),
        }
    }

    /// An empty bucket: no request on its route before this.
    fn empty_until(&self) -> Option<Instant> {
        match (self.remaining, self.reset_at) {
            (Some(0), Some(reset)) => Some(reset),
            _ => None,
        }
    }
}

fn header_str<'h>(h: &'h HeaderMap, name: &str) -> Option<&'h str> {
    h.get(name).and_then(|v| v.to_str().ok()).map(str::trim)
}

fn header_u64(h: &HeaderMap, name: &str) -> Option<u64> {
    header_str(h, name)?.parse().ok()
}

fn header_secs(h: &HeaderMap, name: &str) -> Option<Duration> {
    secs(header_str(h, name)?.parse().ok()?)
}

/// Seconds from the platform as a `Duration`: negative → zero, absurd or
/// NaN values rejected instead of panicking.
fn secs(s: f64) -> Option<Duration> {
    if !s.is_finite() {
        return None;
    }
    Duration::try_from_secs_f64(s.clamp(0.0, 86_400.0)).ok()
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    rate_limited: AtomicU64,
    bucket_waits: AtomicU64,
    global_waits: AtomicU64,
}

impl Counters {
    fn snapshot(&self) -> SenderStats {
        SenderStats {
            requests: self.requests.load(Ordering::Relaxed),
            rate_limited: self.rate_limited.load(Ordering::Relaxed),
            bucket_waits: self.bucket_waits.load(Ordering::Relaxed),
            global_waits: self.global_waits.load(Ordering::Relaxed),
        }
    }
}

/// The request path both senders share.
struct Core {
    http: reqwest::Client,
    limiter: Arc<RateLimiter<RouteKey>>,
    max_wait: Duration,
    stats: Counters,
}

impl Core {
    fn new(config: SenderConfig, limiter: Arc<RateLimiter<RouteKey>>) -> Result<Core, SetupError> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("DiscordBot (tminus, ", env!("CARGO_PKG_VERSION"), ")"))
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(10)))
            // A redirect would resend the token or the webhook body to
            // wherever it points; Discord's API does not redirect.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| SetupError::Http(e.without_url().to_string()))?;
        // Discord has no fixed per-route rate: routes are paced only by
        // what their buckets' headers say (pauses), the bot by the global
        // ceiling of `limiter` (see `BotLimiter`).
        Ok(Core { http, limiter, max_wait: config.max_wait, stats: Counters::default() })
    }

    /// Waits until the route may be used: for its empty bucket or a
    /// global pause, then for a slot of the global ceiling. A pause longer
    /// than `max_wait` is handed back as `Transient`, so the deliverer
    /// reschedules instead of holding a worker.
    async fn wait_for_limits(&self, route: &Route) -> Result<(), SendError> {
        if let Some(until) = self.limiter.paused_until(&route.key) {
            let wait = until.saturating_duration_since(Instant::now());
            if wait <= self.max_wait {
                self.stats.bucket_waits.fetch_add(1, Ordering::Relaxed);
                debug!(route = route.label, wait_ms = wait.as_millis() as u64, "waiting for Discord rate limit");
            }
        }
        match self.limiter.acquire_within(&route.key, self.max_wait).await {
            Ok(waited_for_ceiling) => {
                if waited_for_ceiling {
                    self.stats.global_waits.fetch_add(1, Ordering::Relaxed);
                }
                Ok(())
            }
            Err(wait) => Err(SendError::Transient {
                reason: format!("rate limited on {} for {:.1}s", route.label, wait.as_secs_f64()),
                retry_after: Some(wait),
            }),
        }
    }

    /// Sends `p` and classifies the answer; on an edit, a message that is
    /// gone or not ours to edit ([`GONE_CODES`]) is `EditError::Gone`.
    async fn request(&self, p: Post<'_>) -> Result<Sent, EditError> {
        let label = p.route.label.as_str();
        let body = checked_body(&p.payload, label)?;

        self.wait_for_limits(&p.route).await?;
        let req = if p.edit { self.http.patch(p.url) } else { self.http.post(p.url) };
        let mut req = req.header(header::CONTENT_TYPE, "application/json").body(body);
        if let Some(auth) = p.auth {
            req = req.header(header::AUTHORIZATION, auth);
        }
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => {
                let reason = redact(&transport_error(e), &p.secrets);
                return Err(SendError::Transient { reason: format!("{label}: {reason}"), retry_after: None }.into());
            }
        };
        let status = resp.status();
        let received = Instant::now();
        let bucket = Bucket::parse(resp.headers(), received);
        if let Some(reset) = bucket.empty_until() {
            self.limiter.pause_key(&p.route.key, reset);
        }
        let headers = resp.headers().clone();
        let bytes = read_capped(resp).await;
        debug!(route = label, status = status.as_u16(), remaining = ?bucket.remaining, limit = ?bucket.limit, bucket = ?bucket.hash, "Discord answered");

        if status.is_success() {
            // The message is posted even if its body got lost on the way:
            // failing now would post it twice.
            return Ok(Sent { message_id: bytes.ok().and_then(|b| created_id(&b)) });
        }
        let bytes = bytes.unwrap_or_default();
        let parsed: Option<ErrorBody> = serde_json::from_slice(&bytes).ok();
        let text = redact(&String::from_utf8_lossy(&bytes[..bytes.len().min(2000)]), &p.secrets);

        if status == StatusCode::TOO_MANY_REQUESTS {
            return Err(self.rate_limited(&p.route, &headers, parsed.as_ref(), received).into());
        }
        let code = parsed.as_ref().and_then(|b| b.code);
        if let Some((_, name)) = GONE_CODES.iter().find(|(c, _)| p.edit && Some(*c) == code) {
            return Err(EditError::Gone { reason: format!("{label}: {name}") });
        }
        Ok(classify(status, parsed, &text, &p.route, &p.payload)?)
    }

    /// A 429: pauses the route, or every route when the limit is global,
    /// for as long as Discord asked (Cloudflare's ban when it sent no JSON),
    /// and hands back the `Transient` error to retry after that.
    fn rate_limited(
        &self,
        route: &Route,
        headers: &HeaderMap,
        parsed: Option<&ErrorBody>,
        received: Instant,
    ) -> SendError {
        let label = route.label.as_str();
        self.stats.rate_limited.fetch_add(1, Ordering::Relaxed);
        let scope = header_str(headers, "x-ratelimit-scope").unwrap_or("");
        let retry = parsed
            .and_then(|b| b.retry_after)
            .and_then(secs)
            .or_else(|| header_secs(headers, "retry-after"))
            .or_else(|| header_secs(headers, "x-ratelimit-reset-after"));
        let global = parsed.is_none_or(|b| b.global == Some(true))
            || header_str(headers, "x-ratelimit-global").is_some_and(|g| g.eq_ignore_ascii_case("true"))
            || scope == "global";
        let retry = retry.unwrap_or(if parsed.is_none() { CLOUDFLARE_RETRY } else { Duration::from_secs(1) });
        if global {
            self.limiter.pause_all(received + retry);
        } else {
            self.limiter.pause_key(&route.key, received + retry);
        }
        warn!(route = label, retry_after_s = retry.as_secs_f64(), global, scope, "Discord rate limited us");
        let kind = if global { "global rate limit" } else { "rate limited" };
        SendError::Transient {
            reason: format!("{kind} on {label}, retry after {:.2}s", retry.as_secs_f64()),
            retry_after: Some(retry),
        }
    }
}

/// The JSON body of `payload`, refused before sending when it breaks one of
/// Discord's limits: it would only earn a 400 (and count against Discord's
/// invalid-request budget).
fn checked_body(payload: &serde_json::Value, label: &str) -> Result<Vec<u8>, SendError> {
    if let Err(why) = render::check_limits(payload) {
        warn!(route = label, %why, payload = %payload, "rendered Discord message breaks a limit; not sent");
        return Err(SendError::Rejected { reason: format!("message breaks a Discord limit: {why}") });
    }
    serde_json::to_vec(payload)
        .map_err(|e| SendError::Rejected { reason: format!("cannot serialize the message: {e}") })
}

/// The id of the message Discord created, from its answer's body (a
/// string, or a number); `None` when the body names none.
fn created_id(body: &[u8]) -> Option<String> {
    serde_json::from_slice::<Created>(body).ok().and_then(|c| match c.id {
        serde_json::Value::String(s) => Some(s),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    })
}

/// Maps a non-2xx, non-429 answer onto what the deliverer should do.
fn classify(
    status: StatusCode,
    body: Option<ErrorBody>,
    text: &str,
    route: &Route,
    payload: &serde_json::Value,
) -> Result<Sent, SendError> {
    let label = route.label.as_str();
    let code = body.as_ref().and_then(|b| b.code);
    let message = body.as_ref().and_then(|b| b.message.clone()).unwrap_or_default();
    let what = match code {
        Some(c) => format!("Discord answered {} for {label}: {message} (code {c})", status.as_u16()),
        None => format!("Discord answered {} for {label}", status.as_u16()),
    };
    let named = |codes: &[(i64, &'static str)]| code.and_then(|c| codes.iter().find(|(k, _)| *k == c).map(|(_, n)| *n));
    let reason = |name: &str| if message == name { what.clone() } else { format!("{what} [{name}]") };
    if let Some(name) = named(PERMANENT_CODES) {
        return Err(SendError::Permanent { reason: reason(name) });
    }
    if let Some(name) = named(FIXABLE_CODES) {
        return Err(SendError::Paused { reason: reason(name) });
    }
    match status.as_u16() {
        400 | 413 => {
            // Our own message was refused: a rendering bug. The payload is
            // our embed (no secret in it); the answer names the bad field.
            warn!(route = label, status = status.as_u16(), code, answer = %text, payload = %payload, "Discord rejected the message as malformed");
            Err(SendError::Rejected { reason: what })
        }
        401 if route.bot => {
            error!(route = label, "Discord refused the bot token (401); check discord.token. Deliveries wait.");
            Err(SendError::Transient { reason: what, retry_after: Some(BAD_TOKEN_RETRY) })
        }
        401 | 403 | 404 if body.is_some() => Err(SendError::Permanent { reason: what }),
        // Not Discord's JSON: a proxy, a captive portal or a wrong api_url.
        // Disabling the subscription for that would lose it for nothing.
        401 | 403 | 404 => {
            Err(SendError::Transient { reason: format!("{what} (not a Discord API answer)"), retry_after: None })
        }
        _ => Err(SendError::Transient { reason: what, retry_after: None }),
    }
}

/// The answer's body, at most `MAX_RESPONSE_BYTES`.
async fn read_capped(mut resp: reqwest::Response) -> Result<Vec<u8>, ()> {
    let mut out = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|_| ())? {
        let room = MAX_RESPONSE_BYTES - out.len();
        out.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if out.len() >= MAX_RESPONSE_BYTES {
            break;
        }
    }
    Ok(out)
}

/// A transport error with its causes, without the URL (which holds the
/// webhook token).
fn transport_error(e: reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    format!("{kind}: {}", error_chain(&e.without_url()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_urls_name_their_bucket_and_ask_to_wait() {
        let h =
            Webhook::parse(&Secret::new("https://discord.com/api/webhooks/123456/tok_en-XYZ?thread_id=9&wait=false"))
                .ok()
                .unwrap();
        assert_eq!(h.route.key.0, "webhook:123456");
        assert_eq!(h.route.label, "webhook 123456");
        assert_eq!(h.token.as_deref(), Some("tok_en-XYZ"));
        assert_eq!(h.url.query(), Some("thread_id=9&wait=true"));
        let odd = Webhook::parse(&Secret::new("http://127.0.0.1:9/hook/SECRETSECRET")).ok().unwrap();
        assert_eq!(odd.route.label, "webhook ***");
        assert!(Webhook::parse(&Secret::new("not a url")).is_err());
    }

    #[test]
    fn buckets_follow_headers() {
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-limit", HeaderValue::from_static("5"));
        h.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
        h.insert("x-ratelimit-reset-after", HeaderValue::from_static("1.250"));
        h.insert("x-ratelimit-bucket", HeaderValue::from_static("abcd"));
        let now = Instant::now();
        let b = Bucket::parse(&h, now);
        assert_eq!(b.empty_until(), Some(now + Duration::from_millis(1250)));
        assert_eq!((b.limit, b.hash.as_deref()), (Some(5), Some("abcd")));
        h.insert("x-ratelimit-remaining", HeaderValue::from_static("3"));
        assert_eq!(Bucket::parse(&h, now).empty_until(), None);
        h.remove("x-ratelimit-reset-after");
        h.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
        assert_eq!(Bucket::parse(&h, now).empty_until(), None, "no reset known: nothing to wait for");
    }

    #[test]
    fn platform_seconds_never_panic() {
        assert_eq!(secs(0.5), Some(Duration::from_millis(500)));
        assert_eq!(secs(-3.0), Some(Duration::ZERO));
        assert_eq!(secs(f64::NAN), None);
        assert_eq!(secs(f64::INFINITY), None);
        assert_eq!(secs(1e30), Some(Duration::from_secs(86_400)));
    }

    #[test]
    fn answers_are_classified() {
        let route = Route { key: RouteKey("channel:1".into()), label: "channel 1".into(), bot: true };
        let hook = Route { key: RouteKey("webhook:1".into()), label: "webhook 1".into(), bot: false };
        let body = |code: i64| Some(ErrorBody { code: Some(code), message: Some("x".into()), ..Default::default() });
        let p = serde_json::json!({});
        let c = |status: u16, b: Option<ErrorBody>, r: &Route| {
            classify(StatusCode::from_u16(status).unwrap(), b, "", r, &p)
        };
        assert!(matches!(c(404, body(10003), &route), Err(SendError::Permanent { .. })));
        assert!(matches!(c(404, body(10015), &hook), Err(SendError::Permanent { .. })));
        assert!(matches!(c(403, body(50001), &route), Err(SendError::Paused { .. })));
        assert!(matches!(c(403, body(50013), &route), Err(SendError::Paused { .. })));
        assert!(matches!(c(400, body(50008), &route), Err(SendError::Permanent { .. })));
        assert!(matches!(c(400, body(50035), &route), Err(SendError::Rejected { .. })));
        assert!(matches!(c(400, body(50006), &route), Err(SendError::Rejected { .. })));
        assert!(matches!(c(401, body(0), &route), Err(SendError::Transient { retry_after: Some(_), .. })));
        assert!(matches!(c(401, body(50027), &hook), Err(SendError::Permanent { .. })));
        assert!(matches!(c(404, None, &route), Err(SendError::Transient { .. })));
        assert!(matches!(c(500, None, &route), Err(SendError::Transient { retry_after: None, .. })));
        assert!(matches!(c(502, body(0), &route), Err(SendError::Transient { .. })));
    }
}
