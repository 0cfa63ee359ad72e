//! The news feed: asks SNAPI what was published or edited since its
//! watermark, within its own request budget, and commits each page (its
//! articles, `news` alerts, outbox entries, sent marks and watermark) in
//! one store transaction.
//!
//! - **Off unless wanted.** With `[news] enabled` unset, it polls only
//!   while some enabled subscription wants `news` (asked of the routing
//!   index every minute), so nobody polls SNAPI for nothing.
//! - **Silent first sync.** The first request reads the newest articles
//!   (`ordering=-updated_at`) and only records them and the watermark.
//! - **Incremental after.** Every later request is
//!   `updated_at_gt=W&ordering=updated_at&limit=100`. A full page is
//!   followed by the same query from its newest stamp (not by `next`,
//!   whose offset shifts when an article read before is edited meanwhile);
//!   SNAPI's stamps carry microseconds, so a page boundary inside one
//!   instant is not a practical concern.
//! - **At most once per destination.** An edit brings an article back;
//!   routing skips the destinations marked as sent (`news::route`).
//! - **Budget.** `[news] requests_per_hour` over a sliding hour, logged in
//!   the store like LL2's (and apart from it); a fifth is kept for extra
//!   pages and retries, so idle it polls every `3600 / (0.8 × budget)` s.
//!   A 429 blocks it until its `Retry-After`.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::client::{Client, NewsError, PAGE_LIMIT};
use super::model::Article;
use super::route;
use crate::backoff::Backoff;
use crate::budget::Budget;
use crate::detect::AlertId;
use crate::poller::{BudgetWait, Clock};
use crate::rules::Index;
use crate::store::{FeedState, NewsBatch, Store, StoreError};
use crate::types::{AlertKind, Watermark};

/// Pages read in one poll at most; a longer backlog waits for the next.
const MAX_PAGES: u32 = 5;
/// How often an idle feed asks whether someone wants news now.
const WANTED_CHECK: Duration = Duration::from_secs(60);
/// Retries after a failed poll: 1 min doubling, capped by the interval.
const RETRY: Backoff = Backoff::new(Duration::from_secs(60), Duration::from_secs(3600));

/// The feed's settings, from `[news]` (and `[ll2]`'s timeout and body cap).
#[derive(Debug, Clone)]
pub(crate) struct NewsSettings {
    /// `Some`: forced on or off; `None`: on while someone wants `news`.
    pub(crate) enabled: Option<bool>,
    /// SNAPI requests per sliding hour.
    pub(crate) requests_per_hour: u32,
}

impl NewsSettings {
    /// Time between two idle polls: the budget less a fifth in reserve.
    pub(crate) fn interval(&self) -> Duration {
        let usable = (f64::from(self.requests_per_hour.max(1)) * 0.8).max(1.0);
        Duration::from_secs_f64(3600.0 / usable).max(Duration::from_secs(1))
    }
}

/// What one poll did.
#[cfg_attr(feature = "testing", visibility::make(pub))]
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct NewsReport {
    /// SNAPI requests sent.
    pub requests: u32,
    /// Articles read.
    pub articles: usize,
    /// `news` alerts raised.
    pub alerts: usize,
    /// Outbox entries queued.
    pub(crate) deliveries: usize,
    /// It was the silent first sync.
    pub first_sync: bool,
}

/// Why a news poll did not complete.
#[cfg_attr(feature = "testing", visibility::make(pub))]
#[derive(Debug, thiserror::Error)]
pub(crate) enum NewsPollError {
    /// SNAPI failed.
    #[error(transparent)]
    Snapi(#[from] NewsError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No request left in the budget until then (with [`BudgetWait::Skip`]).
    #[error("news request budget exhausted until {0}")]
    NoBudget(DateTime<Utc>),
    /// Shutting down.
    #[error("shutting down")]
    Shutdown,
}

/// The news feed. One task runs it ([`NewsFeed::run`]); tests call
/// [`NewsFeed::poll`].
#[cfg_attr(feature = "testing", visibility::make(pub))]
pub(crate) struct NewsFeed {
    client: Client,
    store: Store,
    index: Arc<RwLock<Index>>,
    settings: NewsSettings,
    budget: Budget,
    wake_delivery: Arc<Notify>,
    shutdown: CancellationToken,
    clock: Clock,
}

impl NewsFeed {
    /// A feed on the system clock; its budget is rebuilt from the store's
    /// SNAPI request log.
    pub(crate) fn new(
        client: Client,
        store: Store,
        index: Arc<RwLock<Index>>,
        settings: NewsSettings,
        wake_delivery: Arc<Notify>,
        shutdown: CancellationToken,
    ) -> Result<NewsFeed, StoreError> {
        let clock = Clock::system();
        let past = store.recent_news_requests(clock.now() - chrono::Duration::hours(1))?;
        let budget = Budget::new(settings.requests_per_hour, past);
        Ok(NewsFeed { client, store, index, settings, budget, wake_delivery, shutdown, clock })
    }

    /// Whether the feed polls now: as `[news] enabled` says, else while an
    /// enabled subscription wants `news`.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn wanted(&self) -> bool {
        self.settings
            .enabled
            .unwrap_or_else(|| self.index.read().unwrap_or_else(|e| e.into_inner()).wants(AlertKind::News))
    }

    /// Polls until shutdown: every [`NewsSettings::interval`] while wanted,
    /// retrying failures with backoff.
    pub(crate) async fn run(mut self) {
        let interval = self.settings.interval();
        info!(interval_s = interval.as_secs(), budget_per_hour = self.settings.requests_per_hour, enabled = ?self.settings.enabled, "news feed started");
        let mut failures = 0u32;
        let mut due = self.clock.now();
        loop {
            let now = self.clock.now();
            let wait = if !self.wanted() {
                WANTED_CHECK
            } else if due > now {
                (due - now).to_std().unwrap_or_default().min(WANTED_CHECK)
            } else {
                Duration::ZERO
            };
            if !wait.is_zero() {
                tokio::select! {
                    _ = tokio::time::sleep(wait) => continue,
                    _ = self.shutdown.cancelled() => return,
                }
            }
            match self.poll(BudgetWait::Wait).await {
                Ok(r) => {
                    failures = 0;
                    crate::metrics::global().poll_finished("news", None);
                    info!(
                        requests = r.requests,
                        articles = r.articles,
                        alerts = r.alerts,
                        deliveries = r.deliveries,
                        first_sync = r.first_sync,
                        "news poll done"
                    );
                    due = self.clock.now() + chrono::Duration::from_std(interval).unwrap_or_default();
                }
                Err(NewsPollError::Shutdown) => return,
                Err(e) => {
                    failures += 1;
                    crate::metrics::global().poll_finished("news", Some(e.to_string()));
                    let retry = RETRY.delay(failures).min(interval);
                    warn!(error = %e, retry_in_s = retry.as_secs(), "news poll failed; will retry");
                    due = self.clock.now() + chrono::Duration::from_std(retry).unwrap_or_default();
                }
            }
        }
    }

    /// One poll: the silent first sync, or the incremental query and up to
    /// [`MAX_PAGES`] pages. Each page commits before the next is asked.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) async fn poll(&mut self, wait: BudgetWait) -> Result<NewsReport, NewsPollError> {
        let mut state = self.store.news_state()?;
        let mut report = NewsReport::default();
        let Some(mut watermark) = state.watermark.filter(|_| state.first_sync_done) else {
            let url = self.client.first_url();
            let page = self.fetch(&url, wait, &mut report).await?;
            report.first_sync = true;
            report.articles = page.articles.len();
            state.watermark = newest(&page.articles, self.clock.now()).or(state.watermark);
            state.first_sync_done = true;
            state.last_success = Some(self.clock.now());
            self.store.apply_news(&NewsBatch { articles: page.articles, state, ..NewsBatch::default() })?;
            self.store.flush().await?;
            return Ok(report);
        };
        for _ in 0..MAX_PAGES {
            let url = self.client.since_url(watermark);
            let page = self.fetch(&url, wait, &mut report).await?;
            let full = page.articles.len() >= PAGE_LIMIT;
            report.articles += page.articles.len();
            let high = newest(&page.articles, self.clock.now()).filter(|h| *h > watermark);
            watermark = high.unwrap_or(watermark);
            state.watermark = Some(watermark);
            state.last_success = Some(self.clock.now());
            self.commit(page.articles, &state, &mut report).await?;
            if !full || high.is_none() {
                break;
            }
        }
        Ok(report)
    }

    /// Routes one page's articles and commits them with `state`.
    async fn commit(
        &self,
        articles: Vec<Article>,
        state: &FeedState,
        report: &mut NewsReport,
    ) -> Result<(), NewsPollError> {
        let now = self.clock.now();
        let mut batch = NewsBatch { state: state.clone(), ..NewsBatch::default() };
        let mut id_error: Option<StoreError> = None;
        {
            let index = self.index.read().unwrap_or_else(|e| e.into_inner());
            for article in &articles {
                let known = route::known_of(article, |id| self.store.item(id).ok().flatten());
                let routed = route::route(
                    article,
                    known,
                    &index,
                    |sub| self.store.subscription(sub).ok().flatten().is_some_and(|s| s.filter.is_everything()),
                    |dest| self.store.news_sent(article.id, dest).unwrap_or(false),
                    || match self.store.next_id() {
                        Ok(id) => AlertId(id),
                        Err(e) => {
                            id_error.get_or_insert(e);
                            AlertId(0)
                        }
                    },
                    now,
                );
                batch.alerts.extend(routed.alerts);
                batch.fan_outs.extend(routed.fan_outs);
                batch.sent.extend(routed.sent);
            }
        }
        if let Some(e) = id_error {
            return Err(e.into());
        }
        batch.articles = articles;
        report.alerts += batch.alerts.len();
        let deliveries: usize = batch.fan_outs.iter().map(|f| f.targets.len()).sum();
        report.deliveries += deliveries;
        crate::metrics::global().alerts_detected(batch.alerts.iter().map(|_| AlertKind::News.as_str()));
        self.store.apply_news(&batch)?;
        self.store.flush().await?;
        if deliveries > 0 {
            debug!(alerts = batch.alerts.len(), deliveries, "news queued");
            self.wake_delivery.notify_one();
        }
        Ok(())
    }

    /// One SNAPI request inside the budget: waits for a slot (or gives up,
    /// with `Skip`), records it durably before sending, learns from 429s.
    async fn fetch(
        &mut self,
        url: &url::Url,
        wait: BudgetWait,
        report: &mut NewsReport,
    ) -> Result<super::model::Page, NewsPollError> {
        let now = self.clock.now();
        let slot = self.budget.next_slot(now);
        if slot > now {
            if wait == BudgetWait::Skip {
                return Err(NewsPollError::NoBudget(slot));
            }
            tokio::select! {
                _ = tokio::time::sleep((slot - now).to_std().unwrap_or_default()) => {}
                _ = self.shutdown.cancelled() => return Err(NewsPollError::Shutdown),
            }
        }
        let at = self.clock.now();
        self.store.record_news_request(at).await?;
        self.budget.record(at);
        report.requests += 1;
        let result = tokio::select! {
            r = self.client.get_page(url) => r,
            _ = self.shutdown.cancelled() => return Err(NewsPollError::Shutdown),
        };
        crate::metrics::global().news_request(result.as_ref().map_or_else(NewsError::kind, |_| "ok"));
        if let Err(NewsError::Throttled { retry_after, .. }) = &result {
            let until = self.clock.now() + chrono::Duration::from_std(*retry_after).unwrap_or_default();
            self.budget.block_until(until);
            crate::metrics::global().rate_limited("snapi");
            warn!(%url, retry_after_s = retry_after.as_secs(), "SNAPI throttled us; pausing news requests");
        }
        Ok(result?)
    }
}

/// The newest `updated_at` of `articles` that may become the watermark: a
/// stamp more than a day ahead of `now` is bogus and would hide every
/// later article, so it is read but not trusted.
fn newest(articles: &[Article], now: DateTime<Utc>) -> Option<Watermark> {
    let limit = now + chrono::Duration::days(1);
    articles.iter().map(|a| a.updated_at).filter(|t| *t <= limit).max().map(Watermark)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Idle, the feed polls at its interval, each poll one request: the
    /// requests of the first hour, simulated with the real budget.
    #[test]
    fn idle_hour_costs_under_the_budget() {
        let settings = NewsSettings { enabled: Some(true), requests_per_hour: 12 };
        let start: DateTime<Utc> = "2026-12-01T00:00:00Z".parse().unwrap();
        let mut budget = Budget::new(settings.requests_per_hour, []);
        let step = chrono::Duration::from_std(settings.interval()).unwrap();
        let (mut now, mut sent) = (start, Vec::new());
        while now < start + chrono::Duration::hours(3) {
            now = budget.next_slot(now);
            budget.record(now);
            sent.push(now);
            now += step;
        }
        let in_hour = |from: DateTime<Utc>| {
            sent.iter().filter(|t| **t >= from && **t < from + chrono::Duration::hours(1)).count()
        };
        assert_eq!(settings.interval(), Duration::from_secs(375));
        assert_eq!(in_hour(start), 10, "first hour: t=0 and every 375 s");
        assert!((0..120).all(|m| in_hour(start + chrono::Duration::minutes(m)) <= 10), "no sliding hour holds more");
    }

    #[test]
    fn bogus_future_stamps_do_not_become_the_watermark() {
        let now: DateTime<Utc> = "2026-12-01T00:00:00Z".parse().unwrap();
        let page =
            super::super::model::parse_page(include_bytes!("../../tests/fixtures/snapi/articles-page-1.json")).unwrap();
        let mut articles = page.articles;
        let good = newest(&articles, now).unwrap();
        articles[0].updated_at = "9999-01-01T00:00:00Z".parse().unwrap();
        assert_eq!(newest(&articles, now).unwrap().0, "2026-07-21T16:00:41.000310Z".parse::<DateTime<Utc>>().unwrap());
        assert!(good.0 <= now);
    }
}
