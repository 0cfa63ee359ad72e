//! HTTP client for Launch Library 2.
//!
//! It owns the wire habits of LL2: the URLs of the incremental and sweep
//! queries, DRF paging (`next` links), the throttle answer (HTTP 429 with
//! `Retry-After` and/or "Expected available in N seconds"), the optional API
//! key (`Authorization: Token KEY`), a per-request timeout and a cap on body
//! size. It turns answers into [`Page`]s of normalized items via `model`.
//!
//! It must not retry, sleep, budget requests or remember anything between
//! calls: the poller decides when to call again. It must never reveal the API
//! key: the key lives only in a header marked sensitive, URLs never carry it,
//! and no error or log line is built from headers. Because every request
//! carries the key, the client refuses to talk to (or redirect to) any origin
//! other than the configured `base_url`.

use std::time::Duration;

use reqwest::header::{self, HeaderMap, HeaderValue};
use url::Url;

use super::model::{self, ParseError};
use crate::config::Ll2Config;
use crate::http_get::{GetError, OriginClient};
use crate::item::Item;
use crate::types::{Feed, ItemId, Watermark};

/// Page size asked of LL2; its maximum.
const PAGE_LIMIT: &str = "100";
/// Ids asked about in one [`Client::confirm_url`] query: one page's worth,
/// so the answer never needs a second page.
pub(crate) const CONFIRM_MAX: usize = 100;
/// Characters of a non-JSON body quoted in the error.
const SNIPPET_CHARS: usize = 80;

/// One page of an LL2 list answer, converted.
#[cfg_attr(feature = "testing", visibility::make(pub))]
#[derive(Debug, Clone, Default)]
pub(crate) struct Page {
    /// LL2's `count`: objects matching the query across all pages; `None`
    /// when the answer was a bare `results` array.
    pub count: Option<u64>,
    /// The following page, already checked to be on LL2's origin; `None` on
    /// the last page.
    pub next: Option<url::Url>,
    /// The objects of `results` that were read, in LL2's order.
    pub items: Vec<Item>,
    /// Objects in `results` that could not be read as an item (logged).
    pub skipped: usize,
    /// Body size in bytes, for metrics.
    pub bytes: usize,
}

/// `/api-throttle/` answer.
#[cfg_attr(feature = "testing", visibility::make(pub))]
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ThrottleInfo {
    /// `your_request_limit`: requests allowed per `frequency` window.
    pub limit: u32,
    /// `limit_frequency_secs`: the length of LL2's rate-limit window.
    pub frequency: Duration,
    /// `current_use`: requests already counted in the current window.
    pub current_use: u32,
    /// `next_use_secs`: time until LL2 accepts the next counted request.
    pub next_use: Duration,
}

/// Why a request to LL2 gave no usable answer. Every `url` is the one asked
/// (the API key travels in a header, never in it).
#[derive(Debug, thiserror::Error)]
pub enum Ll2Error {
    /// HTTP 429: LL2's rate limit is spent.
    #[error("throttled by LL2 at {url}; retry in {}s", retry_after.as_secs())]
    Throttled {
        /// The URL asked.
        url: String,
        /// From `Retry-After` or the body's `detail`; 60 s when neither says.
        retry_after: Duration,
    },
    /// Any other non-success HTTP status.
    #[error("LL2 answered HTTP {status} at {url}")]
    Status {
        /// The URL asked.
        url: String,
        /// The HTTP status code.
        status: u16,
    },
    /// No complete answer within the configured timeout.
    #[error("LL2 request timed out at {url}")]
    Timeout {
        /// The URL asked.
        url: String,
    },
    /// A transport failure: connection, TLS, redirect, or a body cut off.
    #[error("network error talking to LL2 at {url}: {message}")]
    Network {
        /// The URL asked.
        url: String,
        /// The error chain, sanitized and shortened.
        message: String,
    },
    /// The body is not JSON (an HTML error page, a truncated body…).
    #[error("LL2 answer at {url} is not JSON: {snippet:?}")]
    NotJson {
        /// The URL asked.
        url: String,
        /// The start of the body, sanitized and cut to about 80 characters.
        snippet: String,
    },
    /// JSON, but not a page or object LL2 would send.
    #[error("LL2 answer at {url} has an unexpected shape: {message}")]
    Shape {
        /// The URL asked.
        url: String,
        /// What was expected and what came instead.
        message: String,
    },
    /// The body is larger than `ll2.max_body_bytes` (after decompression);
    /// reading stopped there.
    #[error("LL2 answer at {url} exceeds the body limit of {limit} bytes")]
    TooLarge {
        /// The URL asked.
        url: String,
        /// The configured limit, in bytes.
        limit: u64,
    },
    /// A `next` link or redirect that leaves LL2's origin (it would carry
    /// the API key elsewhere).
    #[error("refusing to follow `next` to a foreign host: {url}")]
    ForeignNext {
        /// The foreign URL that was refused.
        url: String,
    },
    /// The `[ll2]` settings cannot make a client (bad `base_url`, an API key
    /// that cannot be a header value). Never contains the key.
    #[error("invalid LL2 client settings: {message}")]
    Config {
        /// What is wrong with the settings.
        message: String,
    },
}

impl Ll2Error {
    /// A short name of the failure, the `status` label of
    /// `tminus_ll2_requests_total` (a successful request is `ok`).
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Ll2Error::Throttled { .. } => "throttled",
            Ll2Error::Status { status, .. } if *status >= 500 => "http_5xx",
            Ll2Error::Status { .. } => "http_4xx",
            Ll2Error::Timeout { .. } => "timeout",
            Ll2Error::Network { .. } => "network",
            Ll2Error::NotJson { .. } => "not_json",
            Ll2Error::Shape { .. } => "bad_shape",
            Ll2Error::TooLarge { .. } => "too_large",
            Ll2Error::ForeignNext { .. } => "foreign_next",
            Ll2Error::Config { .. } => "config",
        }
    }
}

/// LL2 HTTP client. Cheap to share behind an `Arc`; holds no per-call state.
pub struct Client {
    http: OriginClient,
    events_upcoming: Url,
    launches_upcoming: Url,
    launches_all: Url,
    throttle_url: Url,
}

/// Shows the base URL only: the inner client's headers hold the key.
impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("base_url", &self.http.base().as_str()).finish_non_exhaustive()
    }
}

impl Client {
    /// Builds the client from `[ll2]`: checks `base_url`, puts the API key
    /// (if any) in a default header, and sets timeouts and redirect policy.
    pub fn new(cfg: &Ll2Config) -> Result<Client, Ll2Error> {
        let config = |message: String| Ll2Error::Config { message };
        let base_text = cfg.base_url.trim().trim_end_matches('/');
        let base =
            Url::parse(base_text).map_err(|e| config(format!("ll2.base_url {base_text:?} is not a URL: {e}")))?;
        if !matches!(base.scheme(), "http" | "https")
            || base.host_str().is_none()
            || base.query().is_some()
            || base.fragment().is_some()
        {
            return Err(config(format!("ll2.base_url {base_text:?} must be an http(s) URL with a host and no query")));
        }
        let join = |rest: &str| {
            Url::parse(&format!("{base_text}/{rest}")).map_err(|e| config(format!("ll2.base_url {base_text:?}: {e}")))
        };

        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        if !cfg.api_key.is_empty() {
            let mut value = HeaderValue::from_str(&format!("Token {}", cfg.api_key.expose()))
                .map_err(|_| config("ll2.api_key contains characters not allowed in an HTTP header".into()))?;
            // Keeps the value out of reqwest's and hyper's Debug output.
            value.set_sensitive(true);
            headers.insert(header::AUTHORIZATION, value);
        }

        // reqwest strips `Authorization` on cross-host redirects already;
        // the shared client refuses them outright.
        let http = OriginClient::new(base, headers, cfg.timeout, cfg.max_body_bytes).map_err(config)?;

        Ok(Client {
            events_upcoming: join("events/upcoming/")?,
            launches_upcoming: join("launches/upcoming/")?,
            launches_all: join("launches/")?,
            throttle_url: join("api-throttle/")?,
            http,
        })
    }

    /// `{base}/{feed}/upcoming/?last_updated__gte=W&ordering=last_updated&limit=100&mode=detailed`
    /// (without `last_updated__gte` when `since` is None).
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn incremental_url(&self, feed: Feed, since: Option<Watermark>) -> url::Url {
        let mut url = self.upcoming(feed).clone();
        {
            let mut q = url.query_pairs_mut();
            if let Some(w) = since {
                q.append_pair("last_updated__gte", &w.to_query());
            }
            q.append_pair("ordering", "last_updated").append_pair("limit", PAGE_LIMIT).append_pair("mode", "detailed");
        }
        url
    }

    /// `{base}/{feed}/upcoming/?limit=100&mode=detailed`: the full upcoming list.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn sweep_url(&self, feed: Feed) -> url::Url {
        let mut url = self.upcoming(feed).clone();
        url.query_pairs_mut().append_pair("limit", PAGE_LIMIT).append_pair("mode", "detailed");
        url
    }

    /// `{base}/{feed}/upcoming/?id=A,B,…&limit=100&mode=detailed`: which of
    /// these items the upcoming list still holds, in one request. A sweep
    /// asks it about the known items its pages did not show, before
    /// forgetting any (see the poller's module doc). At most
    /// [`CONFIRM_MAX`] ids fit one request; callers pass no more.
    pub(crate) fn confirm_url(&self, feed: Feed, ids: &[ItemId]) -> url::Url {
        let list = ids.iter().take(CONFIRM_MAX).map(|i| i.id.as_str()).collect::<Vec<_>>().join(",");
        let mut url = self.upcoming(feed).clone();
        url.query_pairs_mut().append_pair("id", &list).append_pair("limit", PAGE_LIMIT).append_pair("mode", "detailed");
        url
    }

    /// `{base}/launches/?id=ID&mode=detailed`: one launch, as a one-item
    /// page. The full `/launches/` list rather than `upcoming`, so a launch
    /// in flight or just flown is still found.
    pub(crate) fn launch_url(&self, id: &str) -> url::Url {
        let mut url = self.launches_all.clone();
        url.query_pairs_mut().append_pair("id", id).append_pair("mode", "detailed");
        url
    }

    /// Fetches one page of `feed` at `url` (from `incremental_url`,
    /// `sweep_url` or a previous page's `next`). Malformed items are skipped
    /// and counted; a `next` link to another origin fails the page with
    /// `ForeignNext`, and so does a `url` that is not on `base_url`'s origin.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) async fn get_page(&self, feed: Feed, url: &url::Url) -> Result<Page, Ll2Error> {
        let body = self.fetch(url).await?;
        let parsed = model::parse_page(feed, &body).map_err(|e| parse_error(e, url, &body))?;
        let next = match parsed.next {
            None => None,
            Some(text) => {
                let next = Url::parse(&text).map_err(|e| Ll2Error::Shape {
                    url: url.to_string(),
                    message: format!("`next` {:?} is not a URL: {e}", model::sanitize(&text, 200)),
                })?;
                if !self.http.same_origin(&next) {
                    return Err(Ll2Error::ForeignNext { url: next.to_string() });
                }
                Some(next)
            }
        };
        if parsed.skipped > 0 {
            tracing::warn!(%url, skipped = parsed.skipped, "LL2 page had unreadable items");
        }
        Ok(Page { count: parsed.count, next, items: parsed.items, skipped: parsed.skipped, bytes: body.len() })
    }

    /// Reads `{base}/api-throttle/`, which LL2 does not count against the
    /// rate limit.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) async fn throttle(&self) -> Result<ThrottleInfo, Ll2Error> {
        let url = &self.throttle_url;
        let body = self.fetch(url).await?;
        let value: serde_json::Value =
            serde_json::from_slice(&body).map_err(|e| parse_error(ParseError::NotJson(e.to_string()), url, &body))?;
        let field = |name: &str| -> Result<u64, Ll2Error> {
            let v = value.get(name).ok_or_else(|| Ll2Error::Shape {
                url: url.to_string(),
                message: format!("missing `{name}` in the throttle answer"),
            })?;
            // Counts are integers; negative or fractional values seen in the
            // wild are clamped rather than rejected.
            v.as_u64().or_else(|| v.as_f64().map(|f| f.max(0.0).ceil() as u64)).ok_or_else(|| Ll2Error::Shape {
                url: url.to_string(),
                message: format!("`{name}` in the throttle answer is not a number"),
            })
        };
        let small = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
        Ok(ThrottleInfo {
            limit: small(field("your_request_limit")?),
            frequency: Duration::from_secs(field("limit_frequency_secs")?),
            current_use: small(field("current_use")?),
            next_use: Duration::from_secs(field("next_use_secs")?),
        })
    }

    fn upcoming(&self, feed: Feed) -> &Url {
        match feed {
            Feed::Events => &self.events_upcoming,
            Feed::Launches => &self.launches_upcoming,
        }
    }

    /// GET `url` and return its body, every failure classified as an
    /// [`Ll2Error`] naming `url`.
    async fn fetch(&self, url: &Url) -> Result<Vec<u8>, Ll2Error> {
        self.http.get(url).await.map_err(|e| self.get_error(e, url))
    }

    fn get_error(&self, e: GetError, url: &Url) -> Ll2Error {
        let url = url.to_string();
        match e {
            GetError::Throttled(retry_after) => Ll2Error::Throttled { url, retry_after },
            GetError::Status(status) => Ll2Error::Status { url, status },
            GetError::Timeout => Ll2Error::Timeout { url },
            GetError::Network(message) => Ll2Error::Network { url, message },
            GetError::TooLarge(limit) => Ll2Error::TooLarge { url, limit },
            GetError::Foreign => Ll2Error::ForeignNext { url },
        }
    }
}

fn parse_error(e: ParseError, url: &Url, body: &[u8]) -> Ll2Error {
    match e {
        ParseError::NotJson(_) => Ll2Error::NotJson {
            url: url.to_string(),
            snippet: model::sanitize(&String::from_utf8_lossy(body), SNIPPET_CHARS),
        },
        ParseError::Shape(message) => Ll2Error::Shape { url: url.to_string(), message },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Secret;

    fn cfg(base: &str, key: &str) -> Ll2Config {
        Ll2Config {
            base_url: base.into(),
            api_key: Secret::new(key),
            requests_per_hour: 15,
            feeds: Feed::ALL.to_vec(),
            resweep_interval: Duration::from_secs(6 * 3600),
            timeout: Duration::from_secs(30),
            max_body_bytes: 20_000_000,
        }
    }

    #[test]
    fn urls_follow_the_contract() {
        let c = Client::new(&cfg("https://ll.thespacedevs.com/2.3.0/", "")).unwrap();
        let w = Watermark("2025-08-26T01:06:39Z".parse().unwrap());
        assert_eq!(
            c.incremental_url(Feed::Events, Some(w)).as_str(),
            "https://ll.thespacedevs.com/2.3.0/events/upcoming/?last_updated__gte=2025-08-26T01%3A06%3A39Z&ordering=last_updated&limit=100&mode=detailed"
        );
        assert_eq!(
            c.incremental_url(Feed::Launches, None).as_str(),
            "https://ll.thespacedevs.com/2.3.0/launches/upcoming/?ordering=last_updated&limit=100&mode=detailed"
        );
        assert_eq!(
            c.sweep_url(Feed::Launches).as_str(),
            "https://ll.thespacedevs.com/2.3.0/launches/upcoming/?limit=100&mode=detailed"
        );
        assert_eq!(
            c.launch_url("f059c8f4-4ba5-4b09-8b89-7a7d7b7d1a2e").as_str(),
            "https://ll.thespacedevs.com/2.3.0/launches/?id=f059c8f4-4ba5-4b09-8b89-7a7d7b7d1a2e&mode=detailed"
        );
    }

    #[test]
    fn bad_settings_are_config_errors_without_the_key() {
        for base in ["not a url", "ftp://x/2.3.0", "https://x/2.3.0?format=json"] {
            assert!(matches!(Client::new(&cfg(base, "")), Err(Ll2Error::Config { .. })), "{base}");
        }
        let Err(e) = Client::new(&cfg("https://x/2.3.0", "sec\nret")) else {
            panic!("a key with a newline must be rejected");
        };
        assert!(!e.to_string().contains("sec"), "{e}");
        let c = Client::new(&cfg("https://x/2.3.0", "s3cr3t")).unwrap();
        assert!(!format!("{c:?}").contains("s3cr3t"));
    }
}
