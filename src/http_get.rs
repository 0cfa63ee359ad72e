//! The wire habits every read-only JSON API client of tminus shares (LL2,
//! the Spaceflight News API): one origin only (requests, `next` links and
//! redirects that leave the configured base are refused, so a header
//! meant for it travels nowhere else), a timeout over the whole exchange,
//! a cap on the decompressed body, the throttle answer (HTTP 429 with
//! `Retry-After` and/or DRF's "Expected available in N seconds"), and
//! failures classified without quoting headers. Each API's client maps
//! [`GetError`] into its own error type, which names the API.
//!
//! It must not retry, sleep, budget or remember anything between calls.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap};
use url::Url;

use crate::errors::error_chain;
use crate::ll2::model::sanitize;

/// Wait assumed when a 429 names no time at all.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(60);
/// A 429 body is only read for its `detail`; it is never large.
const THROTTLE_BODY_CAP: u64 = 16 * 1024;
/// Same-origin redirects followed at most.
const MAX_REDIRECTS: usize = 5;

/// Why a GET gave no body. The caller knows the URL it asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum GetError {
    /// HTTP 429; wait this long (from `Retry-After`, the body's `detail`,
    /// or 60 s when neither says).
    Throttled(Duration),
    /// Any other non-success HTTP status.
    Status(u16),
    /// No complete answer within the timeout.
    Timeout,
    /// Connection, TLS, redirect, or a body cut off: the error chain,
    /// sanitized and shortened.
    Network(String),
    /// The body exceeds the cap (in bytes); reading stopped there.
    TooLarge(u64),
    /// The URL is not on the base's origin.
    Foreign,
}

/// A GET-only client bound to one origin.
pub(crate) struct OriginClient {
    http: reqwest::Client,
    base: Url,
    timeout: Duration,
    max_body: u64,
}

impl OriginClient {
    /// A client for `base` (already checked to be http(s) with a host),
    /// sending `headers` with every request; `Err` names what reqwest
    /// refused.
    pub(crate) fn new(base: Url, headers: HeaderMap, timeout: Duration, max_body: u64) -> Result<Self, String> {
        // Refusing cross-origin redirects keeps a hostile redirect from
        // costing a request against someone else's server, and headers
        // meant for this origin (an API key) from travelling.
        let origin = base.origin();
        let redirects = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() >= MAX_REDIRECTS || attempt.url().origin() != origin {
                attempt.stop()
            } else {
                attempt.follow()
            }
        });
        let http = reqwest::Client::builder()
            .user_agent(concat!("tminus/", env!("CARGO_PKG_VERSION")))
            .default_headers(headers)
            .timeout(timeout)
            .redirect(redirects)
            .gzip(true)
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {}", sanitize(&error_chain(&e), 300)))?;
        Ok(OriginClient { http, base, timeout, max_body })
    }

    /// The base URL.
    pub(crate) fn base(&self) -> &Url {
        &self.base
    }

    /// Whether `url` is on the base's origin (a `next` link may be followed).
    pub(crate) fn same_origin(&self, url: &Url) -> bool {
        url.origin() == self.base.origin()
    }

    /// GET `url` and return its body, classifying every failure. The outer
    /// timeout covers connect, headers and the whole body (reqwest's own
    /// timeout does too; whichever fires first reports `Timeout`).
    pub(crate) async fn get(&self, url: &Url) -> Result<Vec<u8>, GetError> {
        if !self.same_origin(url) {
            return Err(GetError::Foreign);
        }
        match tokio::time::timeout(self.timeout, self.get_inner(url)).await {
            Ok(result) => result,
            Err(_) => Err(GetError::Timeout),
        }
    }

    async fn get_inner(&self, url: &Url) -> Result<Vec<u8>, GetError> {
        let resp = self.http.get(url.clone()).send().await.map_err(transport_error)?;
        let status = resp.status();
        tracing::debug!(%url, status = status.as_u16(), "API answered");
        if status == StatusCode::TOO_MANY_REQUESTS {
            let from_header = retry_after_header(resp.headers());
            // The body only refines the wait; failing to read it is no
            // reason to report anything but the throttle.
            let body = read_capped(resp, THROTTLE_BODY_CAP).await.unwrap_or_default();
            return Err(GetError::Throttled(
                from_header.or_else(|| retry_after_detail(&body)).unwrap_or(DEFAULT_RETRY_AFTER),
            ));
        }
        if !status.is_success() {
            return Err(GetError::Status(status.as_u16()));
        }
        if resp.content_length().is_some_and(|len| len > self.max_body) {
            return Err(GetError::TooLarge(self.max_body));
        }
        let body = read_capped(resp, self.max_body).await?;
        tracing::debug!(%url, bytes = body.len(), "API body read");
        Ok(body)
    }
}

/// Reads the body chunk by chunk and gives up as soon as it exceeds `cap`,
/// so a runaway answer cannot exhaust memory. The cap applies to the
/// decompressed size.
async fn read_capped(mut resp: reqwest::Response, cap: u64) -> Result<Vec<u8>, GetError> {
    let hint = resp.content_length().unwrap_or(0).min(cap).min(4 << 20);
    let mut body = Vec::with_capacity(usize::try_from(hint).unwrap_or(0));
    while let Some(chunk) = resp.chunk().await.map_err(transport_error)? {
        if (body.len() + chunk.len()) as u64 > cap {
            return Err(GetError::TooLarge(cap));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn transport_error(e: reqwest::Error) -> GetError {
    if e.is_timeout() {
        GetError::Timeout
    } else {
        // The caller names the URL; reqwest would repeat it.
        let e = e.without_url();
        GetError::Network(sanitize(&error_chain(&e), 300))
    }
}

/// `Retry-After: <seconds>`. The HTTP-date form is not used by DRF.
fn retry_after_header(headers: &HeaderMap) -> Option<Duration> {
    let text = headers.get(header::RETRY_AFTER)?.to_str().ok()?;
    text.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// DRF's `{"detail": "Request was throttled. Expected available in 905 seconds."}`.
pub(crate) fn retry_after_detail(body: &[u8]) -> Option<Duration> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let detail = value.get("detail")?.as_str()?;
    let rest = &detail[detail.find("available in")? + "available in".len()..];
    let digits: String = rest.trim_start().chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
    // DRF may print fractional seconds; round up so we never come back early.
    let secs: f64 = digits.parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs(secs.ceil() as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttle_detail_is_parsed() {
        let body = br#"{"detail":"Request was throttled. Expected available in 905 seconds."}"#;
        assert_eq!(retry_after_detail(body), Some(Duration::from_secs(905)));
        let frac = br#"{"detail":"Request was throttled. Expected available in 2.5 seconds."}"#;
        assert_eq!(retry_after_detail(frac), Some(Duration::from_secs(3)));
        assert_eq!(retry_after_detail(br#"{"detail":"Slow down."}"#), None);
        assert_eq!(retry_after_detail(b"<html>"), None);
    }
}
