//! HTTP client for SNAPI v4's `/articles/`: the first query (the newest
//! articles, once, to set the watermark), the incremental one
//! (`updated_at_gt=W&ordering=updated_at&limit=100`), and pages read into
//! [`Page`]s. The wire habits it shares with LL2's client (one origin, the
//! timeout, the body cap, the 429 answer) live in `crate::http_get`.
//!
//! It must not retry, sleep, budget requests or remember anything between
//! calls: the feed decides when to call.

use std::time::Duration;

use reqwest::header::{self, HeaderMap, HeaderValue};
use url::Url;

use super::model::{self, Page, PageError};
use crate::http_get::{GetError, OriginClient};
use crate::ll2::model::sanitize;
use crate::types::Watermark;

/// Page size asked of SNAPI; its maximum.
pub(crate) const PAGE_LIMIT: usize = 100;
/// Characters of a non-JSON body quoted in the error.
const SNIPPET_CHARS: usize = 80;

/// Why a request to SNAPI gave no usable answer. Every `url` is the one
/// asked (SNAPI needs no key, so URLs hold no secret).
#[cfg_attr(feature = "testing", visibility::make(pub))]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum NewsError {
    /// HTTP 429: SNAPI's rate limit is spent.
    #[error("throttled by SNAPI at {url}; retry in {}s", retry_after.as_secs())]
    Throttled {
        /// The URL asked.
        url: String,
        /// From `Retry-After` or the body's `detail`; 60 s when neither says.
        retry_after: Duration,
    },
    /// Any other non-success HTTP status.
    #[error("SNAPI answered HTTP {status} at {url}")]
    Status {
        /// The URL asked.
        url: String,
        /// The HTTP status code.
        status: u16,
    },
    /// No complete answer within the timeout.
    #[error("SNAPI request timed out at {url}")]
    Timeout {
        /// The URL asked.
        url: String,
    },
    /// A transport failure.
    #[error("network error talking to SNAPI at {url}: {message}")]
    Network {
        /// The URL asked.
        url: String,
        /// The error chain, sanitized and shortened.
        message: String,
    },
    /// The body is not a page of articles.
    #[error("SNAPI answer at {url} is unreadable: {message}")]
    Shape {
        /// The URL asked.
        url: String,
        /// What was wrong, with the start of the body when it was not JSON.
        message: String,
    },
    /// The body exceeds the cap; reading stopped there.
    #[error("SNAPI answer at {url} exceeds the body limit of {limit} bytes")]
    TooLarge {
        /// The URL asked.
        url: String,
        /// The limit, in bytes.
        limit: u64,
    },
    /// A URL or `next` link off SNAPI's origin.
    #[error("refusing a SNAPI URL on a foreign host: {url}")]
    Foreign {
        /// The refused URL.
        url: String,
    },
    /// `[news]` cannot make a client (a bad `base_url`).
    #[error("invalid news client settings: {message}")]
    Config {
        /// What is wrong.
        message: String,
    },
}

impl NewsError {
    /// A short name of the failure, the `status` label of
    /// `tminus_news_requests_total` (a successful request is `ok`).
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            NewsError::Throttled { .. } => "throttled",
            NewsError::Status { status, .. } if *status >= 500 => "http_5xx",
            NewsError::Status { .. } => "http_4xx",
            NewsError::Timeout { .. } => "timeout",
            NewsError::Network { .. } => "network",
            NewsError::Shape { .. } => "bad_shape",
            NewsError::TooLarge { .. } => "too_large",
            NewsError::Foreign { .. } => "foreign_next",
            NewsError::Config { .. } => "config",
        }
    }
}

/// SNAPI HTTP client. Holds no per-call state.
pub(crate) struct Client {
    http: OriginClient,
    articles: Url,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("base_url", &self.http.base().as_str()).finish_non_exhaustive()
    }
}

impl Client {
    /// A client for SNAPI at `base_url`, with LL2's `timeout` and body cap.
    pub(crate) fn new(base_url: &str, timeout: Duration, max_body: u64) -> Result<Client, NewsError> {
        let config = |message: String| NewsError::Config { message };
        let base_text = base_url.trim().trim_end_matches('/');
        let base =
            Url::parse(base_text).map_err(|e| config(format!("news.base_url {base_text:?} is not a URL: {e}")))?;
        if !matches!(base.scheme(), "http" | "https") || base.host_str().is_none() || base.query().is_some() {
            return Err(config(format!("news.base_url {base_text:?} must be an http(s) URL with a host and no query")));
        }
        let articles = Url::parse(&format!("{base_text}/articles/"))
            .map_err(|e| config(format!("news.base_url {base_text:?}: {e}")))?;
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        let http = OriginClient::new(base, headers, timeout, max_body).map_err(config)?;
        Ok(Client { http, articles })
    }

    /// `{base}/articles/?ordering=-updated_at&limit=100`: the newest
    /// articles, read once by the first sync (silently) to set the watermark.
    pub(crate) fn first_url(&self) -> Url {
        let mut url = self.articles.clone();
        url.query_pairs_mut().append_pair("ordering", "-updated_at").append_pair("limit", &PAGE_LIMIT.to_string());
        url
    }

    /// `{base}/articles/?updated_at_gt=W&ordering=updated_at&limit=100`:
    /// what was published or edited after the watermark, oldest first, so
    /// each page's newest stamp is the next query's watermark.
    pub(crate) fn since_url(&self, since: Watermark) -> Url {
        let mut url = self.articles.clone();
        url.query_pairs_mut()
            .append_pair("updated_at_gt", &since.to_query())
            .append_pair("ordering", "updated_at")
            .append_pair("limit", &PAGE_LIMIT.to_string());
        url
    }

    /// Fetches and reads one page of articles.
    pub(crate) async fn get_page(&self, url: &Url) -> Result<Page, NewsError> {
        let body = self.http.get(url).await.map_err(|e| self.get_error(e, url))?;
        let page = model::parse_page(&body).map_err(|e| {
            let message = match e {
                PageError::NotJson(_) => {
                    format!("not JSON: {:?}", sanitize(&String::from_utf8_lossy(&body), SNIPPET_CHARS))
                }
                PageError::Shape(m) => m,
            };
            NewsError::Shape { url: url.to_string(), message }
        })?;
        if page.skipped > 0 {
            tracing::warn!(%url, skipped = page.skipped, "SNAPI page had unreadable articles");
        }
        Ok(page)
    }

    fn get_error(&self, e: GetError, url: &Url) -> NewsError {
        let url = url.to_string();
        match e {
            GetError::Throttled(retry_after) => NewsError::Throttled { url, retry_after },
            GetError::Status(status) => NewsError::Status { url, status },
            GetError::Timeout => NewsError::Timeout { url },
            GetError::Network(message) => NewsError::Network { url, message },
            GetError::TooLarge(limit) => NewsError::TooLarge { url, limit },
            GetError::Foreign => NewsError::Foreign { url },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_follow_snapi_v4() {
        let c = Client::new("https://api.spaceflightnewsapi.net/v4/", Duration::from_secs(30), 1 << 20).unwrap();
        assert_eq!(
            c.first_url().as_str(),
            "https://api.spaceflightnewsapi.net/v4/articles/?ordering=-updated_at&limit=100"
        );
        let w = Watermark("2026-07-21T16:00:41.000310Z".parse().unwrap());
        assert_eq!(
            c.since_url(w).as_str(),
            "https://api.spaceflightnewsapi.net/v4/articles/?updated_at_gt=2026-07-21T16%3A00%3A41.000310Z&ordering=updated_at&limit=100"
        );
        for bad in ["not a url", "ftp://x/v4", "https://x/v4?format=json"] {
            assert!(matches!(Client::new(bad, Duration::from_secs(1), 1), Err(NewsError::Config { .. })), "{bad}");
        }
    }
}
