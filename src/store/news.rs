//! The news feed's records (see `crate::news`): the articles seen (kept for
//! `/news` and the digest's headlines, the newest [`KEEP_ARTICLES`]), the
//! per-destination "article sent" marks that keep an edited article from
//! going out twice, the feed's state (under `news` in the feeds tree) and
//! its request log (SNAPI's budget is its own, not LL2's).
//!
//! One page commits in one transaction: its articles, its `news` alerts,
//! their fan-outs, the marks of the destinations they go to and the
//! watermark. A kill at any moment so neither loses an article's alert nor
//! sends it twice. Like the rest of the store it decides nothing.

use chrono::{DateTime, Utc};
use sled::Transactional;
use sled::transaction::ConflictableTransactionError;

use super::fan_out::{FanOutRecord, fan_out_key, fan_out_len};
use super::{FanOut, FeedState, Result, Store, StoreError, abort, dec, enc, records};
use crate::detect::Alert;
use crate::news::model::Article;
use crate::types::Destination;

/// Articles kept; older ones (by SNAPI id) and their marks are dropped when
/// a page commits. Far more than `/news` or a day's digest shows.
pub(crate) const KEEP_ARTICLES: usize = 500;

/// The key of the news feed's state in the feeds tree.
const NEWS_FEED: &str = "news";

/// Everything one page of articles changes, applied atomically.
#[cfg_attr(feature = "testing", visibility::make(pub))]
#[derive(Debug, Default)]
pub(crate) struct NewsBatch {
    /// The articles of the page, as they are now.
    pub articles: Vec<Article>,
    /// The `news` alerts they raise.
    pub alerts: Vec<Alert>,
    /// The deliveries of those alerts.
    pub fan_outs: Vec<FanOut>,
    /// (article id, destination): sent there from now on.
    pub sent: Vec<(u64, Destination)>,
    /// The feed's new state.
    pub state: FeedState,
}

fn sent_key(article: u64, dest: &Destination) -> Vec<u8> {
    let mut k = article.to_be_bytes().to_vec();
    k.extend_from_slice(dest.storage_key().as_bytes());
    k
}

impl Store {
    /// The news feed's progress; the default before its first poll.
    pub(crate) fn news_state(&self) -> Result<FeedState> {
        Ok(self.feeds.get(NEWS_FEED)?.map(|v| dec("feeds", NEWS_FEED.as_bytes(), &v)).transpose()?.unwrap_or_default())
    }

    /// Whether article `id` went (or is queued) to `dest` already.
    pub(crate) fn news_sent(&self, id: u64, dest: &Destination) -> Result<bool> {
        Ok(self.news.sent.contains_key(sent_key(id, dest))?)
    }

    /// The kept articles, newest published first.
    pub(crate) fn articles(&self) -> Result<Vec<Article>> {
        let mut out: Vec<Article> = records(&self.news.articles, "news_articles").collect::<Result<_>>()?;
        out.sort_by(|a, b| b.published_at.cmp(&a.published_at).then(b.id.cmp(&a.id)));
        Ok(out)
    }

    /// Applies one page of the news feed in one transaction.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn apply_news(&self, batch: &NewsBatch) -> Result<()> {
        let article_rows: Vec<([u8; 8], Vec<u8>)> =
            batch.articles.iter().map(|a| (a.id.to_be_bytes(), enc(a))).collect();
        let alert_rows: Vec<([u8; 8], Vec<u8>)> = batch.alerts.iter().map(|a| (a.id.0.to_be_bytes(), enc(a))).collect();
        let mut fan_out_rows = Vec::new();
        for r in batch.fan_outs.iter().flat_map(FanOutRecord::of) {
            fan_out_rows.push((fan_out_key(self.next_id()?, r.targets.len()), r.encode()));
        }
        let sent_rows: Vec<Vec<u8>> = batch.sent.iter().map(|(id, d)| sent_key(*id, d)).collect();
        let state = enc(&batch.state);
        let added = fan_out_rows.iter().map(|(k, _)| fan_out_len(k)).sum::<usize>();
        let _shared = self.io.read().unwrap_or_else(|e| e.into_inner());
        let counted = self.count_outbox(added);
        (&self.news.articles, &self.news.sent, &self.alerts, &self.fan_outs, &self.feeds)
            .transaction(|(articles, sent, alerts, fan_outs, feeds)| {
                for (k, v) in &article_rows {
                    articles.insert(k, v.as_slice())?;
                }
                for k in &sent_rows {
                    sent.insert(k.as_slice(), &[])?;
                }
                for (k, v) in &alert_rows {
                    alerts.insert(k, v.as_slice())?;
                }
                for (k, v) in &fan_out_rows {
                    fan_outs.insert(k, v.as_slice())?;
                }
                feeds.insert(NEWS_FEED, state.as_slice())?;
                Ok::<_, ConflictableTransactionError<StoreError>>(())
            })
            .map_err(abort)?;
        counted.commit();
        self.prune_articles()
    }

    /// Drops the oldest articles beyond [`KEEP_ARTICLES`] and their marks.
    /// Not in the page's transaction: a kill before it only keeps more.
    fn prune_articles(&self) -> Result<()> {
        let extra = self.news.articles.len().saturating_sub(KEEP_ARTICLES);
        let old: Vec<sled::IVec> = self.news.articles.iter().keys().take(extra).collect::<sled::Result<_>>()?;
        for k in old {
            for mark in self.news.sent.scan_prefix(&k).keys() {
                self.news.sent.remove(mark?)?;
            }
            self.news.articles.remove(k)?;
        }
        Ok(())
    }

    /// Records a SNAPI request before it is sent, durably (its own budget).
    pub(crate) async fn record_news_request(&self, at: DateTime<Utc>) -> Result<()> {
        self.record_request_in(&self.news.requests, at).await
    }

    /// Times of SNAPI requests at or after `since`; older ones are pruned.
    pub(crate) fn recent_news_requests(&self, since: DateTime<Utc>) -> Result<Vec<DateTime<Utc>>> {
        Self::recent_requests_in(&self.news.requests, since)
    }
}

/// The news feed's trees.
#[derive(Clone)]
pub(super) struct NewsTrees {
    /// SNAPI id (big-endian) → [`Article`].
    pub(super) articles: sled::Tree,
    /// SNAPI id (big-endian) + destination key → (): sent marks.
    pub(super) sent: sled::Tree,
    /// SNAPI request log, like `requests` for LL2.
    pub(super) requests: sled::Tree,
}

impl NewsTrees {
    pub(super) fn open(db: &sled::Db) -> sled::Result<NewsTrees> {
        Ok(NewsTrees {
            articles: db.open_tree("news_articles")?,
            sent: db.open_tree("news_sent")?,
            requests: db.open_tree("news_requests")?,
        })
    }
}
