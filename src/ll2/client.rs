//! HELPER-OWNED: implementation pending.

use std::time::Duration;

use crate::config::Ll2Config;
use crate::item::Item;
use crate::types::{Feed, Watermark};

/// One page of an LL2 list answer, converted.
#[derive(Debug, Clone, Default)]
pub struct Page {
    pub count: Option<u64>,
    pub next: Option<url::Url>,
    pub items: Vec<Item>,
    /// Objects in `results` that could not be read as an item (logged).
    pub skipped: usize,
    /// Body size in bytes, for metrics.
    pub bytes: usize,
}

/// `/api-throttle/` answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThrottleInfo {
    pub limit: u32,
    pub frequency: Duration,
    pub current_use: u32,
    pub next_use: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum Ll2Error {
    #[error("throttled by LL2 at {url}; retry in {}s", retry_after.as_secs())]
    Throttled { url: String, retry_after: Duration },
    #[error("LL2 answered HTTP {status} at {url}")]
    Status { url: String, status: u16 },
    #[error("LL2 request timed out at {url}")]
    Timeout { url: String },
    #[error("network error talking to LL2 at {url}: {message}")]
    Network { url: String, message: String },
    #[error("LL2 answer at {url} is not JSON: {snippet:?}")]
    NotJson { url: String, snippet: String },
    #[error("LL2 answer at {url} has an unexpected shape: {message}")]
    Shape { url: String, message: String },
    #[error("LL2 answer at {url} exceeds the body limit of {limit} bytes")]
    TooLarge { url: String, limit: u64 },
    #[error("refusing to follow `next` to a foreign host: {url}")]
    ForeignNext { url: String },
}

pub struct Client {
    _priv: (),
}

impl Client {
    pub fn new(cfg: &Ll2Config) -> Result<Client, Ll2Error> {
        let _ = cfg;
        Ok(Client { _priv: () })
    }

    /// `{base}/{feed}/upcoming/?last_updated__gte=W&ordering=last_updated&limit=100&mode=detailed`
    /// (without `last_updated__gte` when `since` is None).
    pub fn incremental_url(&self, feed: Feed, since: Option<Watermark>) -> url::Url {
        let _ = (feed, since);
        url::Url::parse("http://invalid/").unwrap()
    }

    /// `{base}/{feed}/upcoming/?limit=100&mode=detailed`: the full upcoming list.
    pub fn sweep_url(&self, feed: Feed) -> url::Url {
        let _ = feed;
        url::Url::parse("http://invalid/").unwrap()
    }

    pub async fn get_page(&self, feed: Feed, url: &url::Url) -> Result<Page, Ll2Error> {
        let _ = (feed, url);
        Ok(Page::default())
    }

    pub async fn throttle(&self) -> Result<ThrottleInfo, Ll2Error> {
        Err(Ll2Error::Timeout { url: String::new() })
    }
}
