//! The three URL destinations: `webhook:` (tminus's own versioned JSON,
//! signed), `ntfy:` (a plain-text push with ntfy's headers) and `slack:`
//! (an incoming webhook with Block Kit). Each platform is one file with
//! its pure renderer and its [`Sender`](crate::deliver::Sender); this
//! module is the request path they share ([`HookClient`]): timeouts, no
//! redirects, pacing and pauses per URL through
//! `deliver::ratelimit`, and the one mapping of an HTTP answer onto
//! `Sent` / `SendError` ([`classify`]):
//!
//! - 2xx: delivered;
//! - 429: retried after its `Retry-After` (seconds or an HTTP date, else
//!   [`DEFAULT_429_WAIT`]); the URL is paused that long;
//! - 5xx and 408: retried through the outbox with its backoff;
//! - any other answer (4xx, a redirect): a dead letter with the reason
//!   (`SendError::Rejected`): the receiver refused this message, retrying
//!   it cannot help, and the subscription stays enabled.
//!
//! It must not decide loudness (the deliverer does, `AlertExtras.silent`)
//! nor build links (`links.rs`). Secrets: the URLs, the webhook secret and
//! the ntfy token never reach a log or an error; reqwest errors lose their
//! URL and every reason goes through `errors::redact`.

pub(crate) mod ntfy;
pub(crate) mod slack;
pub mod webhook;

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::{self, HeaderMap};
use tracing::{debug, warn};

use crate::deliver::ratelimit::{LimitKey, Limits, Rate, RateLimiter};
use crate::deliver::{SendError, Sent};
use crate::errors::{error_chain, redact};
use crate::types::{Destination, Platform};

#[cfg_attr(feature = "testing", visibility::make(pub))]
pub(crate) use ntfy::NtfySender;
#[cfg_attr(feature = "testing", visibility::make(pub))]
pub(crate) use slack::SlackSender;
#[cfg_attr(feature = "testing", visibility::make(pub))]
pub(crate) use webhook::WebhookSender;

/// `senders` with the three hook senders, for `[webhook]` and `[ntfy]`
/// (`app.rs` registers them in every run: they need no token).
pub(crate) fn register(
    senders: crate::deliver::Senders,
    webhook: &crate::config::WebhookConfig,
    ntfy: &crate::config::NtfyConfig,
) -> Result<crate::deliver::Senders, SetupError> {
    let settings = HookSettings::default();
    Ok(senders
        .with(Platform::Webhook, std::sync::Arc::new(WebhookSender::new(webhook.secret.clone(), settings.clone())?))
        .with(Platform::Ntfy, std::sync::Arc::new(NtfySender::new(ntfy.token.clone(), settings.clone())?))
        .with(Platform::Slack, std::sync::Arc::new(SlackSender::new(settings)?)))
}

/// Wait after a 429 that does not say how long.
pub(crate) const DEFAULT_429_WAIT: Duration = Duration::from_secs(30);

/// Bytes of an answer read at most: receivers answer with a few bytes.
const MAX_ANSWER_BYTES: usize = 16 * 1024;

/// Characters of a refusal's body kept in its reason.
const MAX_REASON_CHARS: usize = 300;

/// Tuning of one platform's client.
#[cfg_attr(feature = "testing", visibility::make(pub))]
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HookSettings {
    /// Per request: connect, send and read the answer.
    pub timeout: Duration,
    /// The longest one send waits in place for its URL's pacing or pause;
    /// longer is handed back to the deliverer as a retry.
    pub max_wait: Duration,
    /// Sends per URL at most (Slack: 1/s per webhook); `None`: unpaced.
    pub per_url: Option<Rate>,
}

impl Default for HookSettings {
    fn default() -> Self {
        HookSettings { timeout: Duration::from_secs(10), max_wait: Duration::from_secs(10), per_url: None }
    }
}

/// Why a hook sender could not be built.
#[cfg_attr(feature = "testing", visibility::make(pub))]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot build the HTTP client: {0}")]
pub(crate) struct SetupError(String);

/// A destination's URL as a rate-limit key (never logged).
#[derive(Clone, PartialEq, Eq, Hash)]
struct UrlKey(String);

impl LimitKey for UrlKey {}

/// One request to a hook URL.
pub(crate) struct HookPost<'a> {
    /// Where: its storage key paces it, its `Display` names it in logs.
    pub(crate) dest: &'a Destination,
    /// The URL to POST to.
    pub(crate) url: &'a str,
    /// Headers besides the user agent.
    pub(crate) headers: HeaderMap,
    /// The body, as signed.
    pub(crate) body: Vec<u8>,
    /// Texts to mask in any reason (the URL is always masked).
    pub(crate) secrets: Vec<&'a str>,
}

/// The HTTP client, pacing and answer classification of one platform.
pub(crate) struct HookClient {
    http: reqwest::Client,
    limiter: RateLimiter<UrlKey>,
    max_wait: Duration,
    /// Names the platform in reasons ("ntfy answered 404").
    platform: &'static str,
}

impl HookClient {
    pub(crate) fn new(platform: &'static str, settings: &HookSettings) -> Result<HookClient, SetupError> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("tminus/", env!("CARGO_PKG_VERSION")))
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout.min(Duration::from_secs(5)))
            // A redirect would resend the body (and its signature or token)
            // to wherever it points.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| SetupError(e.without_url().to_string()))?;
        let limiter = RateLimiter::new(Limits { per_key: settings.per_url, ..Limits::default() });
        Ok(HookClient { http, limiter, max_wait: settings.max_wait, platform })
    }

    /// Sends `p` once, within its URL's pacing, and classifies the answer.
    pub(crate) async fn post(&self, p: HookPost<'_>) -> Result<Sent, SendError> {
        let key = UrlKey(p.dest.storage_key());
        let mut secrets = p.secrets;
        // A receiver may echo the path (where the token of most hook URLs
        // is) without the host.
        let path = url::Url::parse(p.url).map(|u| u.path().to_owned()).unwrap_or_default();
        secrets.extend([p.url, path.as_str()]);
        if let Err(wait) = self.limiter.acquire_within(&key, self.max_wait).await {
            return Err(SendError::Transient {
                reason: format!("{} paused for {:.1}s", p.dest, wait.as_secs_f64()),
                retry_after: Some(wait),
            });
        }
        let req = self.http.post(p.url).headers(p.headers).body(p.body);
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => {
                let kind = if e.is_timeout() { "timed out" } else { "request failed" };
                let reason = redact(&format!("{}: {kind}: {}", p.dest, error_chain(&e.without_url())), &secrets);
                return Err(SendError::Transient { reason, retry_after: None });
            }
        };
        let status = resp.status().as_u16();
        let wait = retry_after(resp.headers(), Utc::now());
        let body = read_capped(resp).await;
        debug!(dest = %p.dest, status, "hook answered");
        if (200..300).contains(&status) {
            return Ok(Sent { message_id: message_id(&body) });
        }
        let text = String::from_utf8_lossy(&body);
        let excerpt = crate::discord::render::truncate(text.trim(), MAX_REASON_CHARS);
        let said = if excerpt.is_empty() { String::new() } else { format!(": {excerpt}") };
        let what = redact(&format!("{} answered {status} for {}{said}", self.platform, p.dest), &secrets);
        let outcome = classify(status, wait, what);
        if let SendError::Transient { retry_after: Some(w), .. } = &outcome
            && status == 429
        {
            self.limiter.pause_key(&key, tokio::time::Instant::now() + *w);
            warn!(dest = %p.dest, retry_after_s = w.as_secs_f64(), "rate limited by the receiver");
        }
        Err(outcome)
    }
}

/// What to do after a non-2xx answer `status` (see the module doc);
/// `wait` is the answer's `Retry-After`, `what` the reason to report.
pub(crate) fn classify(status: u16, wait: Option<Duration>, what: String) -> SendError {
    match status {
        429 => SendError::Transient { reason: what, retry_after: Some(wait.unwrap_or(DEFAULT_429_WAIT)) },
        408 | 500..=599 => SendError::Transient { reason: what, retry_after: wait },
        _ => SendError::Rejected { reason: what },
    }
}

/// `Retry-After` as seconds or as an HTTP date; at most a day, never
/// negative.
pub(crate) fn retry_after(h: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let v = h.get(header::RETRY_AFTER)?.to_str().ok()?.trim();
    let secs = match v.parse::<f64>() {
        Ok(s) if s.is_finite() => s,
        Ok(_) => return None,
        Err(_) => (DateTime::parse_from_rfc2822(v).ok()?.with_timezone(&Utc) - now).num_milliseconds() as f64 / 1000.0,
    };
    Duration::try_from_secs_f64(secs.clamp(0.0, 86_400.0)).ok()
}

/// The id a receiver gave the message (ntfy answers `{"id": ...}`).
fn message_id(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    match v.get("id")? {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The answer's body, at most [`MAX_ANSWER_BYTES`]; what could not be read
/// is left out (the status decides).
async fn read_capped(mut resp: reqwest::Response) -> Vec<u8> {
    let mut out = Vec::new();
    while let Ok(Some(chunk)) = resp.chunk().await {
        let room = MAX_ANSWER_BYTES - out.len();
        out.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if out.len() >= MAX_ANSWER_BYTES {
            break;
        }
    }
    out
}

/// `value` as a header value; `None` (the header is left out) when it
/// cannot be one.
pub(crate) fn header_value(value: &str) -> Option<header::HeaderValue> {
    header::HeaderValue::from_str(value).ok()
}

/// Wiring bug (the deliverer picks senders by platform): not the
/// destination's fault, so nothing gets disabled.
pub(crate) fn wrong_destination(platform: &str, dest: &Destination) -> SendError {
    SendError::Rejected { reason: format!("the {platform} sender cannot send to {dest}") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn answers_are_classified() {
        let c = |s: u16, w: Option<Duration>| classify(s, w, String::new());
        assert!(matches!(c(429, None), SendError::Transient { retry_after: Some(d), .. } if d == DEFAULT_429_WAIT));
        let two = Some(Duration::from_secs(2));
        assert!(matches!(c(429, two), SendError::Transient { retry_after, .. } if retry_after == two));
        assert!(matches!(c(500, None), SendError::Transient { retry_after: None, .. }));
        assert!(matches!(c(503, two), SendError::Transient { retry_after, .. } if retry_after == two));
        assert!(matches!(c(408, None), SendError::Transient { .. }));
        for dead in [400, 401, 403, 404, 410, 413, 301] {
            assert!(matches!(c(dead, None), SendError::Rejected { .. }), "{dead}");
        }
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now: DateTime<Utc> = "2026-12-07T10:00:00Z".parse().unwrap();
        let mut h = HeaderMap::new();
        assert_eq!(retry_after(&h, now), None);
        h.insert(header::RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(7)));
        h.insert(header::RETRY_AFTER, HeaderValue::from_static("Mon, 07 Dec 2026 10:00:30 GMT"));
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(30)));
        h.insert(header::RETRY_AFTER, HeaderValue::from_static("-5"));
        assert_eq!(retry_after(&h, now), Some(Duration::ZERO));
        h.insert(header::RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h, now), None);
    }

    #[test]
    fn message_ids_are_read_when_given() {
        assert_eq!(message_id(br#"{"id":"abc","event":"message"}"#), Some("abc".into()));
        assert_eq!(message_id(b"ok"), None);
    }
}
