//! The two Discord senders: [`DiscordSender`] posts into a channel with the
//! bot token, [`WebhookSender`] executes an incoming webhook. Both share one
//! request path ([`Core`]): the limit check of the rendered body, Discord's
//! rate limits, the POST through reqwest, and the classification of the
//! answer into `Sent` or a `SendError`.
//!
//! Rate limits follow Discord's model rather than a fixed rate:
//! - every route (a channel for the bot, a webhook for webhooks) has a
//!   bucket learned from the `X-RateLimit-Remaining` / `-Reset-After`
//!   headers; when a bucket is empty the next send to that route waits for
//!   its reset. Sends to one route are serialized, so each one sees the
//!   headers of the one before;
//! - a global ceiling (50 requests/s per bot by default, configurable for
//!   scaled benchmarks) over all routes: `global_limit` slots, each given
//!   back one window after its request was answered;
//! - a 429 is never retried here: its `retry_after` (body, else the
//!   `Retry-After` header) goes back to the deliverer as
//!   `SendError::Transient`, and a `global: true` 429 pauses every route of
//!   this sender for that long.
//!
//! Secrets: the bot token and the webhook URL never appear in an error or a
//! log line. Routes are logged as `channel ID` / `webhook ID`; reqwest
//! errors are stripped of their URL and every text that leaves this module
//! goes through `errors::redact` as a last line of defence.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap, HeaderValue};
use serde::Deserialize;
use tokio::time::Instant;
use tracing::{debug, error, warn};
use url::Url;

use crate::deliver::{BoxFuture, SendError, Sender, Sent};
use crate::errors::{error_chain, redact};
use crate::render::Message;
use crate::render::discord as render;
use crate::types::{Destination, Secret};

/// Discord REST API version the bot talks to.
pub const API_PATH: &str = "/api/v10";

/// Discord error codes that mean the destination is gone or refuses us for
/// good: retrying cannot help, the subscription is disabled.
const PERMANENT_CODES: &[(i64, &str)] = &[
    (10003, "Unknown Channel"),
    (10004, "Unknown Guild"),
    (10015, "Unknown Webhook"),
    (50001, "Missing Access"),
    (50007, "Cannot send messages to this user"),
    (50008, "Cannot send messages in a non-text channel"),
    (50013, "Missing Permissions"),
];

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

/// Tuning of one sender. The defaults are Discord's production limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SenderConfig {
    /// Requests allowed per `global_window` over all routes; `None` for no
    /// ceiling of our own (429s are still honoured). Discord allows a bot
    /// 50 per second.
    pub global_limit: Option<u32>,
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
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SenderStats {
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
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SetupError {
    #[error("discord.token is empty")]
    NoToken,
    #[error("discord.api_url {0:?} is not an http(s) URL")]
    BadApiUrl(String),
    #[error("cannot build the HTTP client: {0}")]
    Http(String),
}

/// Posts alerts into channels as the bot: `Destination::Discord`.
pub struct DiscordSender {
    core: Core,
    token: Secret,
    /// `{api_url}/api/v10`, without trailing slash.
    base: String,
}

/// Executes incoming webhooks: `Destination::DiscordWebhook`. No token; the
/// webhook URL is the credential.
pub struct WebhookSender {
    core: Core,
}

impl DiscordSender {
    /// `api_url` is Discord's origin (`https://discord.com`) or a test
    /// server's; requests go to `{api_url}/api/v10/...`. `token` may carry
    /// the `Bot ` prefix or not.
    pub fn new(token: Secret, api_url: &str, config: SenderConfig) -> Result<DiscordSender, SetupError> {
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
        Ok(DiscordSender { core: Core::new(config)?, token: Secret::new(bare), base: format!("{api_url}{API_PATH}") })
    }

    /// A sender for `[discord]` of the config, with Discord's limits.
    pub fn from_config(cfg: &crate::config::DiscordConfig) -> Result<DiscordSender, SetupError> {
        DiscordSender::new(cfg.token.clone(), &cfg.api_url, SenderConfig::default())
    }

    pub fn stats(&self) -> SenderStats {
        self.core.stats.snapshot()
    }
}

impl WebhookSender {
    pub fn new(config: SenderConfig) -> Result<WebhookSender, SetupError> {
        Ok(WebhookSender { core: Core::new(config)? })
    }

    pub fn stats(&self) -> SenderStats {
        self.core.stats.snapshot()
    }
}

impl Sender for DiscordSender {
    fn send<'a>(&'a self, dest: &'a Destination, msg: &'a Message) -> BoxFuture<'a, Result<Sent, SendError>> {
        Box::pin(async move {
            let Destination::Discord(channel) = dest else {
                // Wiring bug (the deliverer picks senders by platform): not
                // the destination's fault, so nothing gets disabled.
                return Err(SendError::Rejected { reason: format!("the Discord bot sender cannot send to {dest}") });
            };
            let url = Url::parse(&format!("{}/channels/{}/messages", self.base, channel.0))
                .map_err(|_| SendError::Rejected { reason: "cannot build the channel URL".into() })?;
            let payload = serde_json::to_value(render::channel_message(msg))
                .map_err(|e| SendError::Rejected { reason: format!("cannot serialize the message: {e}") })?;
            let mut auth = HeaderValue::from_str(&format!("Bot {}", self.token.expose()))
                .map_err(|_| SendError::Permanent { reason: "the bot token is not a valid header value".into() })?;
            // Keeps the token out of reqwest's and hyper's Debug output.
            auth.set_sensitive(true);
            let route =
                Route { key: format!("channel:{}", channel.0), label: format!("channel {}", channel.0), bot: true };
            self.core.post(Post { route, url, auth: Some(auth), payload, secrets: vec![self.token.expose()] }).await
        })
    }
}

impl Sender for WebhookSender {
    fn send<'a>(&'a self, dest: &'a Destination, msg: &'a Message) -> BoxFuture<'a, Result<Sent, SendError>> {
        Box::pin(async move {
            let Destination::DiscordWebhook(secret) = dest else {
                return Err(SendError::Rejected {
                    reason: format!("the Discord webhook sender cannot send to {dest}"),
                });
            };
            let hook = Webhook::parse(secret)?;
            let payload = serde_json::to_value(render::webhook_message(msg))
                .map_err(|e| SendError::Rejected { reason: format!("cannot serialize the message: {e}") })?;
            let mut secrets = vec![secret.expose()];
            if let Some(t) = hook.token.as_deref() {
                secrets.push(t);
            }
            self.core.post(Post { route: hook.route, url: hook.url, auth: None, payload, secrets }).await
        })
    }
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
            Some(id) => Route { key: format!("webhook:{id}"), label: format!("webhook {id}"), bot: false },
            None => Route { key: format!("webhook-url:{}", secret.expose()), label: "webhook ***".into(), bot: false },
        };
        let others: Vec<(String, String)> =
            url.query_pairs().filter(|(k, _)| k != "wait").map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        url.query_pairs_mut().clear().extend_pairs(others).append_pair("wait", "true");
        Ok(Webhook { url, route, token })
    }
}

/// One rate-limit route: its bucket key and a log-safe name.
struct Route {
    key: String,
    label: String,
    /// Posted with the bot token (a 401 then means a bad token, not a bad
    /// destination).
    bot: bool,
}

struct Post<'a> {
    route: Route,
    url: Url,
    auth: Option<HeaderValue>,
    payload: serde_json::Value,
    secrets: Vec<&'a str>,
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

/// What Discord's headers told about one route.
#[derive(Debug, Default)]
struct Bucket {
    remaining: Option<u64>,
    reset_at: Option<Instant>,
    limit: Option<u64>,
    hash: Option<String>,
}

impl Bucket {
    /// How long until a request on this route is allowed.
    fn wait(&self, now: Instant) -> Duration {
        match (self.remaining, self.reset_at) {
            (Some(0), Some(reset)) if reset > now => reset - now,
            _ => Duration::ZERO,
        }
    }

    fn update(&mut self, h: &HeaderMap, received: Instant) {
        if let Some(v) = header_u64(h, "x-ratelimit-limit") {
            self.limit = Some(v);
        }
        if let Some(v) = header_u64(h, "x-ratelimit-remaining") {
            self.remaining = Some(v);
        }
        // Reset-After is relative, so clock skew does not matter; the
        // absolute Reset is a fallback that depends on our wall clock.
        let reset_after = header_secs(h, "x-ratelimit-reset-after").or_else(|| {
            let at = header_str(h, "x-ratelimit-reset")?.parse::<f64>().ok()?;
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).ok()?.as_secs_f64();
            secs(at - now)
        });
        if let Some(d) = reset_after {
            self.reset_at = Some(received + d);
        }
        if let Some(b) = header_str(h, "x-ratelimit-bucket")
            && self.hash.as_deref() != Some(b)
        {
            self.hash = Some(b.to_owned());
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

/// The rate-limit state of one sender.
struct Limiter {
    config: SenderConfig,
    /// `global_limit` slots (fair: waiters are served in arrival order);
    /// `None` without a global ceiling.
    global: Option<Arc<tokio::sync::Semaphore>>,
    /// Set by a global 429: nothing is sent before then.
    paused_until: Mutex<Option<Instant>>,
    /// One bucket per route, each behind its own async lock held for the
    /// whole request: the next send on a route sees the previous answer.
    routes: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Bucket>>>>,
}

impl Limiter {
    fn bucket(&self, key: &str) -> Arc<tokio::sync::Mutex<Bucket>> {
        let mut routes = self.routes.lock().unwrap_or_else(|e| e.into_inner());
        routes.entry(key.to_owned()).or_default().clone()
    }

    fn paused_for(&self, now: Instant) -> Duration {
        let until = *self.paused_until.lock().unwrap_or_else(|e| e.into_inner());
        until.map_or(Duration::ZERO, |t| t.saturating_duration_since(now))
    }

    fn pause_all(&self, until: Instant) {
        let mut p = self.paused_until.lock().unwrap_or_else(|e| e.into_inner());
        if p.is_none_or(|t| t < until) {
            *p = Some(until);
        }
    }

    /// Takes a slot of the global ceiling, waiting for one if needed. The
    /// slot is held while the request is in flight and for one window after
    /// it ends: measured from the answer, not from the send, so network
    /// latency can never squeeze one request too many into the server's
    /// window. Returns the slot and whether it had to wait.
    async fn take_global(&self) -> (GlobalSlot, bool) {
        let Some(sem) = self.global.clone() else {
            return (GlobalSlot { permit: None, window: Duration::ZERO }, false);
        };
        let window = self.config.global_window;
        if let Ok(p) = sem.clone().try_acquire_owned() {
            return (GlobalSlot { permit: Some(p), window }, false);
        }
        // Never closed, so acquiring fails only in theory; then no slot.
        let permit = sem.acquire_owned().await.ok();
        (GlobalSlot { permit, window }, true)
    }
}

/// One unit of the global ceiling; gives itself back a window after drop.
struct GlobalSlot {
    permit: Option<tokio::sync::OwnedSemaphorePermit>,
    window: Duration,
}

impl GlobalSlot {
    /// Gives the slot back at once: it was taken but no request was sent.
    fn unused(mut self) {
        self.permit.take();
    }
}

impl Drop for GlobalSlot {
    fn drop(&mut self) {
        let Some(permit) = self.permit.take() else { return };
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let window = self.window;
            rt.spawn(async move {
                tokio::time::sleep(window).await;
                drop(permit);
            });
        }
    }
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
    limiter: Limiter,
    stats: Counters,
}

impl Core {
    fn new(config: SenderConfig) -> Result<Core, SetupError> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("DiscordBot (tminus, ", env!("CARGO_PKG_VERSION"), ")"))
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(10)))
            // A redirect would resend the token or the webhook body to
            // wherever it points; Discord's API does not redirect.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| SetupError::Http(e.without_url().to_string()))?;
        let global = config
            .global_limit
            .filter(|l| *l > 0)
            .map(|l| Arc::new(tokio::sync::Semaphore::new((l as usize).min(tokio::sync::Semaphore::MAX_PERMITS))));
        Ok(Core {
            http,
            limiter: Limiter { config, global, paused_until: Mutex::new(None), routes: Mutex::new(HashMap::new()) },
            stats: Counters::default(),
        })
    }

    async fn post(&self, p: Post<'_>) -> Result<Sent, SendError> {
        let label = p.route.label.as_str();
        // A message over Discord's limits would only earn a 400 (and count
        // against Discord's invalid-request budget): stop it here.
        if let Err(why) = render::check_limits(&p.payload) {
            warn!(route = label, %why, payload = %p.payload, "rendered Discord message breaks a limit; not sent");
            return Err(SendError::Rejected { reason: format!("message breaks a Discord limit: {why}") });
        }
        let body = serde_json::to_vec(&p.payload)
            .map_err(|e| SendError::Rejected { reason: format!("cannot serialize the message: {e}") })?;

        let bucket = self.limiter.bucket(&p.route.key);
        let mut bucket = bucket.lock().await;
        let mut waited = false;
        let _slot = loop {
            let now = Instant::now();
            let wait = bucket.wait(now).max(self.limiter.paused_for(now));
            if wait > self.limiter.config.max_wait {
                return Err(SendError::Transient {
                    reason: format!("rate limited on {label} for {:.1}s", wait.as_secs_f64()),
                    retry_after: Some(wait),
                });
            }
            if !wait.is_zero() {
                if !waited {
                    self.stats.bucket_waits.fetch_add(1, Ordering::Relaxed);
                    waited = true;
                }
                debug!(route = label, wait_ms = wait.as_millis() as u64, "waiting for Discord rate limit");
                tokio::time::sleep(wait).await;
                continue;
            }
            let (slot, global_waited) = self.limiter.take_global().await;
            if global_waited {
                self.stats.global_waits.fetch_add(1, Ordering::Relaxed);
            }
            // A global 429 may have arrived while this send queued for a
            // slot: look again before going out.
            if self.limiter.paused_for(Instant::now()).is_zero() {
                break slot;
            }
            slot.unused();
        };

        let mut req = self.http.post(p.url).header(header::CONTENT_TYPE, "application/json").body(body);
        if let Some(auth) = p.auth {
            req = req.header(header::AUTHORIZATION, auth);
        }
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => {
                let reason = redact(&transport_error(e), &p.secrets);
                return Err(SendError::Transient { reason: format!("{label}: {reason}"), retry_after: None });
            }
        };
        let status = resp.status();
        let received = Instant::now();
        bucket.update(resp.headers(), received);
        let headers = resp.headers().clone();
        let bytes = read_capped(resp).await;
        debug!(route = label, status = status.as_u16(), remaining = ?bucket.remaining, limit = ?bucket.limit, bucket = ?bucket.hash, "Discord answered");

        if status.is_success() {
            // The message is posted even if its body got lost on the way:
            // failing now would post it twice.
            let id = bytes.ok().and_then(|b| serde_json::from_slice::<Created>(&b).ok()).and_then(|c| match c.id {
                serde_json::Value::String(s) => Some(s),
                serde_json::Value::Number(n) => Some(n.to_string()),
                _ => None,
            });
            return Ok(Sent { message_id: id });
        }
        let bytes = bytes.unwrap_or_default();
        let parsed: Option<ErrorBody> = serde_json::from_slice(&bytes).ok();
        let text = redact(&String::from_utf8_lossy(&bytes[..bytes.len().min(2000)]), &p.secrets);

        if status == StatusCode::TOO_MANY_REQUESTS {
            self.stats.rate_limited.fetch_add(1, Ordering::Relaxed);
            let scope = header_str(&headers, "x-ratelimit-scope").unwrap_or("");
            let retry = parsed
                .as_ref()
                .and_then(|b| b.retry_after)
                .and_then(secs)
                .or_else(|| header_secs(&headers, "retry-after"))
                .or_else(|| header_secs(&headers, "x-ratelimit-reset-after"));
            let global = parsed.as_ref().is_none_or(|b| b.global == Some(true))
                || header_str(&headers, "x-ratelimit-global").is_some_and(|g| g.eq_ignore_ascii_case("true"))
                || scope == "global";
            let retry = retry.unwrap_or(if parsed.is_none() { CLOUDFLARE_RETRY } else { Duration::from_secs(1) });
            if global {
                self.limiter.pause_all(received + retry);
            } else {
                bucket.remaining = Some(0);
                bucket.reset_at = Some(received + retry);
            }
            warn!(route = label, retry_after_s = retry.as_secs_f64(), global, scope, "Discord rate limited us");
            let kind = if global { "global rate limit" } else { "rate limited" };
            return Err(SendError::Transient {
                reason: format!("{kind} on {label}, retry after {:.2}s", retry.as_secs_f64()),
                retry_after: Some(retry),
            });
        }
        drop(bucket);
        classify(status, parsed, &text, &p.route, &p.payload)
    }
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
    if let Some((_, name)) = code.and_then(|c| PERMANENT_CODES.iter().find(|(k, _)| *k == c)) {
        let reason = if message == *name { what } else { format!("{what} [{name}]") };
        return Err(SendError::Permanent { reason });
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
        assert_eq!(h.route.key, "webhook:123456");
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
        let mut b = Bucket::default();
        b.update(&h, now);
        assert_eq!(b.wait(now), Duration::from_millis(1250));
        assert_eq!(b.wait(now + Duration::from_secs(2)), Duration::ZERO);
        assert_eq!((b.limit, b.hash.as_deref()), (Some(5), Some("abcd")));
        h.insert("x-ratelimit-remaining", HeaderValue::from_static("3"));
        b.update(&h, now);
        assert_eq!(b.wait(now), Duration::ZERO);
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
        let route = Route { key: "channel:1".into(), label: "channel 1".into(), bot: true };
        let hook = Route { key: "webhook:1".into(), label: "webhook 1".into(), bot: false };
        let body = |code: i64| Some(ErrorBody { code: Some(code), message: Some("x".into()), ..Default::default() });
        let p = serde_json::json!({});
        let c = |status: u16, b: Option<ErrorBody>, r: &Route| {
            classify(StatusCode::from_u16(status).unwrap(), b, "", r, &p)
        };
        assert!(matches!(c(404, body(10003), &route), Err(SendError::Permanent { .. })));
        assert!(matches!(c(404, body(10015), &hook), Err(SendError::Permanent { .. })));
        assert!(matches!(c(403, body(50001), &route), Err(SendError::Permanent { .. })));
        assert!(matches!(c(403, body(50013), &route), Err(SendError::Permanent { .. })));
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
