//! The poller: asks LL2 what changed, feed by feed, within the request
//! budget, and commits each page's snapshots, alerts, outbox entries and
//! watermark in one store transaction.
//!
//! Steady state is one incremental request per feed and cycle:
//! `/{feed}/upcoming/?last_updated__gte=W&ordering=last_updated&limit=100&mode=detailed`.
//! The first sync of a feed, and a periodic re-sweep, read the whole
//! upcoming list instead, since a watermark query cannot see items that
//! leave the list. When launches are in their final hours, `schedule`
//! slows the other feeds down and polls the launches feed more often (its
//! incremental query returns every changed hot launch); a hot launch the
//! feed may no longer list gets targeted queries (`/launches/?id=…`), which
//! never move a feed's watermark. It must not render or send anything:
//! delivery reads the outbox on its own.
//!
//! ## Why a sweep is exact while LL2 changes under it
//!
//! A sweep pages the upcoming list by offset in NET order, and under the
//! hourly budget its pages are read minutes apart. Between two pages LL2
//! may move, add or drop items, so the later pages shift: an item can be
//! read twice, or skipped. Two rules make the result exact anyway:
//!
//! - **Nothing listed is forgotten.** A known item that no page showed is
//!   forgotten only when LL2 shows it is gone: the sweep was one page (one
//!   snapshot, nothing to skip), or one query by id
//!   (`/{feed}/upcoming/?id=A,B,…`) after the last page does not list it.
//!   What that query still lists is committed like a page item (its changes
//!   alerted), so a skipped item is neither lost nor announced as new later.
//!   An answer that proves nothing (LL2 ignored the filter, an unreadable
//!   object) forgets nothing.
//! - **No change is missed.** The watermark after a sweep is at most the
//!   newest `last_updated` of its *first* page. That page was served before
//!   any later edit, and LL2 stamps edits in order, so every edit made while
//!   the sweep ran carries a newer stamp and is returned by the next
//!   incremental query. A later page's newest stamp would not do: an item
//!   of page 1 edited after page 1 was read carries an older stamp than an
//!   item of page 3 edited just before page 3 was read.
//!
//! Cost: a sweep of n pages makes n requests, plus one id query when it had
//! several pages and a known item was not shown (at most 100 ids; more wait
//! for the next sweep). The incremental query right after a sweep returns
//! the items edited since its first page, usually one page.

mod clock;
pub mod schedule;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::backoff::Backoff;
use crate::budget::Budget;
use crate::detect::{self, Alert, AlertId};
use crate::directory::{Dimension, Directory};
use crate::item::Item;
use crate::ll2::client::CONFIRM_MAX;
use crate::ll2::{Client, Ll2Error, Page};
use crate::metrics::Ll2Request;
use crate::rules::Index;
use crate::store::{Batch, FanOut, FeedState, Store, StoreError};
use crate::types::{Feed, ItemId, ItemKind, Watermark};

pub use clock::Clock;
use schedule::{Held, LastFetch, LaunchInfo, Plan, Strategy, Target};

/// Poller settings, from `[ll2]` and `[alerts]`.
#[derive(Debug, Clone)]
pub struct PollerConfig {
    /// The LL2 feeds to keep fresh.
    pub feeds: Vec<Feed>,
    /// LL2 request budget per sliding hour (shared by all feeds).
    pub requests_per_hour: u32,
    /// How often a feed is re-read in full instead of incrementally.
    pub resweep_interval: Duration,
    /// Whether a feed's first sync (an empty store) alerts; otherwise it
    /// only records what it saw.
    pub on_first_sync: bool,
}

impl PollerConfig {
    /// The poller's part of `[ll2]`; `on_first_sync` is `[alerts]`'.
    pub fn from_ll2(ll2: &crate::config::Ll2Config, on_first_sync: bool) -> PollerConfig {
        PollerConfig {
            feeds: ll2.feeds.clone(),
            requests_per_hour: ll2.requests_per_hour,
            resweep_interval: ll2.resweep_interval,
            on_first_sync,
        }
    }

    /// Time between incremental polls of one feed while nothing is hot:
    /// the budget spread over the feeds, keeping a fifth in reserve for
    /// re-sweeps, extra pages and retries.
    pub(crate) fn feed_interval(&self) -> Duration {
        schedule::uniform_interval(self.requests_per_hour, self.feeds.len())
    }

    /// The longest a feed may wait between two polls under any plan: the
    /// idle interval, or the staleness ceiling while launches are hot.
    /// Health checks should allow for it.
    pub(crate) fn max_feed_interval(&self) -> Duration {
        self.feed_interval().max(schedule::STALENESS_CEILING)
    }
}

/// Why a poll did not complete.
#[cfg_attr(feature = "testing", visibility::make(pub))]
#[derive(Debug, thiserror::Error)]
pub(crate) enum PollError {
    /// The LL2 request or its answer failed.
    #[error(transparent)]
    Ll2(#[from] Ll2Error),
    /// Reading or writing the store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// [`BudgetWait::Skip`] and no request left; the next one frees at the time given.
    #[error("request budget exhausted until {0}")]
    NoBudget(DateTime<Utc>),
    /// Shutdown was asked for while waiting.
    #[error("shutting down")]
    Shutdown,
}

/// What one poll of one feed did.
#[cfg_attr(feature = "testing", visibility::make(pub))]
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct FeedReport {
    /// LL2 requests made.
    pub requests: u32,
    /// Response bytes read.
    pub(crate) bytes: usize,
    /// Items in the answers.
    pub items: usize,
    /// Alerts created (silent first-sync changes are not counted).
    pub alerts: usize,
    /// Outbox entries those alerts added.
    pub deliveries: usize,
    /// Whether this poll re-read the whole upcoming list.
    pub sweep: bool,
}

/// Whether to wait for the budget (the daemon) or give up on the feed for
/// now (`tminus once`).
#[cfg_attr(feature = "testing", visibility::make(pub))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BudgetWait {
    /// Sleep until a request is free (or shutdown).
    Wait,
    /// Fail with [`PollError::NoBudget`].
    Skip,
}

/// Polls LL2 within the request budget, detects changes against the store
/// and enqueues the alerts they cause.
pub struct Poller {
    client: Client,
    store: Store,
    index: Arc<RwLock<Index>>,
    budget: Budget,
    config: PollerConfig,
    wake_delivery: Arc<Notify>,
    shutdown: CancellationToken,
    directory: Arc<RwLock<Directory>>,
    /// Filter values already reported as matching nothing.
    warned: HashSet<(Dimension, String)>,
    clock: Clock,
    strategy: Strategy,
    /// The current plan (interval per request class), for `/metrics`.
    plan: watch::Sender<Plan>,
}

impl Poller {
    /// A poller on the system clock; its request budget is rebuilt from the
    /// request log in `store`. `wake_delivery` is notified when alerts are
    /// enqueued; `shutdown` ends waits and the run loop.
    pub fn new(
        client: Client,
        store: Store,
        index: Arc<RwLock<Index>>,
        config: PollerConfig,
        wake_delivery: Arc<Notify>,
        shutdown: CancellationToken,
    ) -> Result<Poller, StoreError> {
        let clock = Clock::system();
        let budget = budget_from_log(&store, &config, clock.now())?;
        let directory = Arc::new(RwLock::new(store.directory()?));
        let idle = schedule::plan(Strategy::Uniform, config.requests_per_hour, &config.feeds, &[], clock.now());
        crate::metrics::global().poll_plan(idle.feed_interval, idle.hot_interval, idle.hot.len());
        Ok(Poller {
            client,
            store,
            index,
            budget,
            config,
            wake_delivery,
            shutdown,
            directory,
            warned: HashSet::new(),
            clock,
            strategy: Strategy::default(),
            plan: watch::Sender::new(idle),
        })
    }

    /// Tells time with `clock` instead of the system clock (the freshness
    /// simulator runs the poller on tokio's paused clock). The request log
    /// is read again, since the budget window is relative to "now".
    pub fn with_clock(mut self, clock: Clock) -> Result<Poller, StoreError> {
        self.budget = budget_from_log(&self.store, &self.config, clock.now())?;
        self.clock = clock;
        Ok(self)
    }

    /// Follows `strategy` instead of the default news-following schedule
    /// (`Strategy::Uniform` is the historic one, kept for comparisons).
    pub fn with_strategy(mut self, strategy: Strategy) -> Poller {
        self.strategy = strategy;
        self
    }

    /// The directory of names seen, shared with the chat front-ends.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn directory(&self) -> Arc<RwLock<Directory>> {
        self.directory.clone()
    }

    /// Once every feed has been swept, the directory knows every name in the
    /// upcoming lists, so a filter value it does not know matches nothing
    /// now: say so once. Before that (the events feed synced, launches not
    /// yet) an agency such as SpaceX would be named wrongly.
    fn warn_unresolved(&mut self) -> Result<(), StoreError> {
        for feed in &self.config.feeds {
            if !self.store.feed_state(*feed)?.first_sync_done {
                return Ok(());
            }
        }
        let dir = self.directory.read().unwrap_or_else(|e| e.into_inner()).clone();
        for sub in self.store.subscriptions()? {
            for (dim, value) in dir.unresolved(&sub.filter) {
                if self.warned.insert((dim, value.to_lowercase())) {
                    warn!(dimension = dim.as_str(), value = %value, dest = %sub.destination, "filter value matches nothing LL2 lists right now (check the spelling, or it may simply have nothing upcoming)");
                }
            }
        }
        Ok(())
    }

    /// LL2 requests left in the sliding hour, now.
    pub(crate) fn requests_left(&mut self) -> u32 {
        self.budget.remaining(self.clock.now())
    }

    /// Asks `/api-throttle/` (free) how LL2 counts us, so a restart or a
    /// shared IP does not push us over LL2's own limit. Called at start and
    /// after every 429 (someone else may be using our IP).
    pub(crate) async fn sync_throttle(&mut self) {
        match self.client.throttle().await {
            Ok(t) => {
                let next = chrono::Duration::from_std(t.next_use).unwrap_or_default();
                self.budget.observe_server(t.limit, t.current_use, next, self.clock.now());
                info!(limit = t.limit, used = t.current_use, next_use_s = t.next_use.as_secs(), "LL2 throttle status");
                if t.limit < self.config.requests_per_hour {
                    warn!(
                        limit = t.limit,
                        requests_per_hour = self.config.requests_per_hour,
                        "LL2 allows fewer requests an hour than `requests_per_hour`; keeping to LL2's limit (lower `requests_per_hour`, or check the API key)"
                    );
                }
            }
            Err(e) => debug!(error = %e, "could not read LL2 throttle status; relying on the local request log"),
        }
    }

    /// Runs until shutdown: asks `schedule` for the next request, sleeps
    /// until it is due (or until the plan expires), makes it; errors back
    /// off per target; the budget gates every request.
    pub async fn run(mut self) {
        self.sync_throttle().await;
        let interval = self.config.feed_interval();
        info!(feeds = ?self.config.feeds, interval_s = interval.as_secs(), budget_per_hour = self.config.requests_per_hour, strategy = ?self.strategy, "poller started");
        let mut last = LastFetch::new();
        let mut held = Held::new();
        let mut failures: HashMap<Target, u32> = HashMap::new();
        loop {
            let now = self.clock.now();
            let plan = self.make_plan(now);
            let forget = |t: &Target| matches!(t, Target::Launch(id) if !plan.targeted.contains(id));
            last.retain(|t, _| !forget(t));
            held.retain(|t, _| !forget(t));
            failures.retain(|t, _| !forget(t));
            let Some((target, due)) = schedule::next(&plan, &self.config.feeds, &last, &held, now) else { return };
            let wake = plan.valid_until.map_or(due, |v| v.min(due));
            if wake > now {
                tokio::select! {
                    _ = tokio::time::sleep((wake - now).to_std().unwrap_or_default()) => {}
                    _ = self.shutdown.cancelled() => return,
                }
                if wake < due {
                    continue;
                }
            }
            let class_interval = plan.interval(&target);
            match self.poll_target(&target).await {
                Ok(report) => {
                    let left = self.requests_left();
                    info!(feed = %target, sweep = report.sweep, requests = report.requests, items = report.items, alerts = report.alerts, deliveries = report.deliveries, requests_left = left, "poll cycle done");
                    failures.remove(&target);
                    held.remove(&target);
                    last.insert(target, self.clock.now());
                }
                Err(PollError::Shutdown) => return,
                Err(e) => {
                    if matches!(e, PollError::Ll2(Ll2Error::Throttled { .. })) {
                        self.sync_throttle().await;
                    }
                    let failures = failures.entry(target.clone()).or_default();
                    *failures += 1;
                    let wait = RETRY.delay(*failures).min(class_interval);
                    warn!(feed = %target, error = %e, retry_in_s = wait.as_secs(), "poll failed; will retry");
                    let until = self.clock.now() + chrono::Duration::from_std(wait).unwrap_or_default();
                    held.insert(target, until);
                }
            }
        }
    }

    /// The plan for `now` from the launches the store knows; published on
    /// `plan_watch` and logged when it changes.
    fn make_plan(&self, now: DateTime<Utc>) -> Plan {
        let launches: Vec<LaunchInfo> = match self.store.items() {
            Ok(items) => items.iter().filter(|i| i.kind() == ItemKind::Launch).map(LaunchInfo::of).collect(),
            Err(e) => {
                warn!(error = %e, "cannot read the known launches; planning as if none were hot");
                Vec::new()
            }
        };
        let plan = schedule::plan(self.strategy, self.config.requests_per_hour, &self.config.feeds, &launches, now);
        self.plan.send_if_modified(|current| {
            let changed = current.hot != plan.hot
                || current.hot_interval != plan.hot_interval
                || current.feed_interval != plan.feed_interval;
            if changed {
                crate::metrics::global().poll_plan(plan.feed_interval, plan.hot_interval, plan.hot.len());
                debug!(hot = ?plan.hot, hot_interval_s = plan.hot_interval.map(|d| d.as_secs()), feed_interval_s = plan.feed_interval.as_secs(), "schedule plan");
            }
            *current = plan.clone();
            changed
        });
        plan
    }

    async fn poll_target(&mut self, target: &Target) -> Result<FeedReport, PollError> {
        match target {
            Target::Feed(feed) => self.poll_feed(*feed, BudgetWait::Wait).await,
            Target::Launch(id) => self.poll_launch(id, BudgetWait::Wait).await,
        }
    }

    /// One targeted query of a hot launch. Its answer is a subset of the
    /// launches feed, so it proves nothing about the rest of the feed: the
    /// feed's watermark and sweep state stay as they are, and the feed's
    /// next incremental query sees the launch again (without re-alerting:
    /// the snapshot is already current).
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) async fn poll_launch(&mut self, id: &str, wait: BudgetWait) -> Result<FeedReport, PollError> {
        let mut report = FeedReport::default();
        let url = self.client.launch_url(id);
        let page = self.fetch(Feed::Launches, &url, wait, &mut report).await?;
        let items: Vec<Item> = page.items.into_iter().filter(|i| i.id.id == id).collect();
        self.commit_with(Feed::Launches, &items, None, false, Vec::new(), &mut report).await?;
        Ok(report)
    }

    /// One poll of one feed: a sweep when due (first sync or periodic),
    /// else the incremental query.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) async fn poll_feed(&mut self, feed: Feed, wait: BudgetWait) -> Result<FeedReport, PollError> {
        let state = self.store.feed_state(feed)?;
        let hot = !self.plan.borrow().hot.is_empty();
        let sweep_due = sweep_due(&state, self.config.resweep_interval, hot, self.clock.now());
        self.poll_feed_as(feed, state, sweep_due, wait).await
    }

    /// Re-reads the whole upcoming list of `feed` now, whatever the
    /// schedule says (the sweep of the module doc).
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) async fn sweep_feed(&mut self, feed: Feed, wait: BudgetWait) -> Result<FeedReport, PollError> {
        let state = self.store.feed_state(feed)?;
        self.poll_feed_as(feed, state, true, wait).await
    }

    async fn poll_feed_as(
        &mut self,
        feed: Feed,
        state: FeedState,
        sweep: bool,
        wait: BudgetWait,
    ) -> Result<FeedReport, PollError> {
        let result =
            if sweep { self.sweep(feed, state, wait).await } else { self.incremental(feed, state, wait).await };
        if !matches!(result, Err(PollError::Shutdown)) {
            crate::metrics::global().poll_finished(feed.as_str(), result.as_ref().err().map(ToString::to_string));
        }
        result
    }

    async fn incremental(
        &mut self,
        feed: Feed,
        mut state: FeedState,
        wait: BudgetWait,
    ) -> Result<FeedReport, PollError> {
        let mut report = FeedReport::default();
        let mut url = self.client.incremental_url(feed, state.watermark);
        loop {
            let page = self.fetch(feed, &url, wait, &mut report).await?;
            let before = state.watermark;
            let high = plausible_high(&page.items, self.clock.now());
            state.watermark = state.watermark.max(high);
            state.last_success = Some(self.clock.now());
            let full = page.next.is_some() && page.items.len() >= 100;
            self.commit(feed, &page.items, &state, false, &mut report).await?;
            if !full {
                return Ok(report);
            }
            // More changes than one page. Re-query from the new watermark
            // rather than by offset: an item edited meanwhile moves to the end
            // of the ordering and would shift an offset page past an item we
            // have not seen. Only when a whole page shares one `last_updated`
            // does the offset `next` link make progress.
            url = if state.watermark > before {
                self.client.incremental_url(feed, state.watermark)
            } else {
                page.next.clone().unwrap_or(url)
            };
        }
    }

    async fn sweep(&mut self, feed: Feed, mut state: FeedState, wait: BudgetWait) -> Result<FeedReport, PollError> {
        let mut report = FeedReport { sweep: true, ..Default::default() };
        let silent = !state.first_sync_done && !self.config.on_first_sync;
        info!(feed = %feed, first_sync = !state.first_sync_done, silent, "sweeping the upcoming list");
        let mut pass = SweepPass::default();
        let mut url = self.client.sweep_url(feed);
        state.sweep_high = None;
        loop {
            let page = self.fetch(feed, &url, wait, &mut report).await?;
            if pass.pages == 0 {
                // The sweep's floor (see the module doc): no edit after this
                // page was served can carry an older stamp.
                state.sweep_high = plausible_high(&page.items, self.clock.now());
            }
            pass.read(&page);
            state.last_success = Some(self.clock.now());
            let Some(next) = page.next.clone() else {
                let (gone, listed) = self.confirm_absent(feed, &pass, wait, &mut report).await?;
                state.watermark = state.watermark.max(state.sweep_high.take());
                state.first_sync_done = true;
                state.last_sweep = Some(self.clock.now());
                let mut items = page.items;
                items.extend(listed);
                self.commit_with(feed, &items, Some(&state), silent, gone, &mut report).await?;
                self.warn_unresolved()?;
                return Ok(report);
            };
            self.commit(feed, &page.items, &state, silent, &mut report).await?;
            url = next;
        }
    }

    /// The known items a finished sweep did not show, sorted into those LL2
    /// no longer lists (to forget) and those it still lists (to commit like
    /// any page item). One page is one snapshot, so what it lacks is gone;
    /// after several pages a known item may have been skipped by a shift
    /// between pages, so LL2 is asked about it by id first (one request).
    async fn confirm_absent(
        &mut self,
        feed: Feed,
        pass: &SweepPass,
        wait: BudgetWait,
        report: &mut FeedReport,
    ) -> Result<(Vec<ItemId>, Vec<Item>), PollError> {
        let mut missing: Vec<ItemId> =
            self.store.item_ids(feed.kind())?.into_iter().filter(|id| !pass.seen.contains(&id.key())).collect();
        if missing.is_empty() {
            return Ok((Vec::new(), Vec::new()));
        }
        if pass.seen.is_empty() {
            // An upcoming list with nothing readable in it is a glitch, not
            // the truth; forgetting every snapshot would re-alert them all
            // as new when LL2 recovers.
            warn!(feed = %feed, known = missing.len(), "LL2 listed no readable upcoming item; keeping the known ones");
            return Ok((Vec::new(), Vec::new()));
        }
        if pass.pages == 1 && pass.unreadable == 0 {
            info!(feed = %feed, count = missing.len(), "items left the upcoming list; forgetting them");
            return Ok((missing, Vec::new()));
        }
        let kept = missing.split_off(missing.len().min(CONFIRM_MAX));
        if !kept.is_empty() {
            info!(feed = %feed, count = kept.len(), "more unseen items than one query can confirm; keeping those until the next sweep");
        }
        let url = self.client.confirm_url(feed, &missing);
        let page = match self.fetch(feed, &url, wait, report).await {
            Ok(page) => page,
            Err(PollError::Shutdown) => return Err(PollError::Shutdown),
            Err(e) => {
                warn!(feed = %feed, error = %e, unseen = missing.len(), "could not confirm the items the sweep did not show; keeping them until the next sweep");
                return Ok((Vec::new(), Vec::new()));
            }
        };
        match confirmed_gone(&missing, &page) {
            Some(gone) => {
                let listed = missing.len() - gone.len();
                info!(feed = %feed, gone = gone.len(), still_listed = listed, "checked the items the sweep's pages did not show");
                Ok((gone, page.items))
            }
            None => {
                warn!(feed = %feed, unseen = missing.len(), "LL2's answer to the id query cannot confirm anything (extra or unreadable items); keeping them until the next sweep");
                Ok((Vec::new(), Vec::new()))
            }
        }
    }

    /// One LL2 request, inside the budget: waits for a slot, records the
    /// request durably before sending it, and learns from 429s.
    async fn fetch(
        &mut self,
        feed: Feed,
        url: &url::Url,
        wait: BudgetWait,
        report: &mut FeedReport,
    ) -> Result<Page, PollError> {
        let now = self.clock.now();
        let slot = self.budget.next_slot(now);
        if slot > now {
            if wait == BudgetWait::Skip {
                return Err(PollError::NoBudget(slot));
            }
            let secs = (slot - now).num_seconds();
            info!(feed = %feed, wait_s = secs, "request budget used up; waiting for a slot");
            let sleep = (slot - now).to_std().unwrap_or_default();
            tokio::select! {
                _ = tokio::time::sleep(sleep) => {}
                _ = self.shutdown.cancelled() => return Err(PollError::Shutdown),
            }
        }
        let at = self.clock.now();
        self.store.record_request(at).await?;
        self.budget.record(at);
        report.requests += 1;
        let sent = std::time::Instant::now();
        let result = tokio::select! {
            r = self.client.get_page(feed, url) => r,
            _ = self.shutdown.cancelled() => return Err(PollError::Shutdown),
        };
        crate::metrics::global().ll2_request(Ll2Request {
            feed: feed.as_str(),
            status: result.as_ref().map_or_else(Ll2Error::kind, |_| "ok"),
            bytes: result.as_ref().ok().map(|p| p.bytes as u64),
            elapsed: sent.elapsed(),
        });
        crate::metrics::global().budget(self.config.requests_per_hour, self.budget.remaining(self.clock.now()));
        match result {
            Ok(page) => {
                report.bytes += page.bytes;
                Ok(page)
            }
            Err(Ll2Error::Throttled { url, retry_after }) => {
                let until = self.clock.now() + chrono::Duration::from_std(retry_after).unwrap_or_default();
                self.budget.block_until(until);
                crate::metrics::global().rate_limited("ll2");
                warn!(feed = %feed, %url, retry_after_s = retry_after.as_secs(), "LL2 throttled us; pausing requests");
                Err(Ll2Error::Throttled { url, retry_after }.into())
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn commit(
        &mut self,
        feed: Feed,
        items: &[Item],
        state: &FeedState,
        silent: bool,
        report: &mut FeedReport,
    ) -> Result<(), PollError> {
        self.commit_with(feed, items, Some(state), silent, Vec::new(), report).await
    }

    /// Detects, routes and commits one page in one transaction, then makes
    /// it durable and wakes delivery. `state`: the feed's new state, `None`
    /// for a targeted query (which leaves it alone).
    async fn commit_with(
        &mut self,
        feed: Feed,
        items: &[Item],
        state: Option<&FeedState>,
        silent: bool,
        removed: Vec<ItemId>,
        report: &mut FeedReport,
    ) -> Result<(), PollError> {
        let mut batch = Batch { feed: state.map(|_| feed), feed_state: state.cloned(), removed, ..Default::default() };
        let now = self.clock.now();
        {
            let mut dir = self.directory.write().unwrap_or_else(|e| e.into_inner());
            let mut learned = false;
            for item in items {
                learned |= dir.learn(item);
            }
            if learned {
                batch.directory = Some(dir.clone());
            }
        }
        for fresh in items {
            let old = self.store.item(&fresh.id)?;
            let mut kept = fresh.clone();
            if let Some(old) = &old {
                kept.keep_known(old);
            }
            let item = &kept;
            // All changes of one item in one poll are one alert: one
            // message per destination, the most important change first.
            let changes = detect::fold_after_liftoff(detect::detect(old.as_ref(), item), item, now);
            if !silent && !changes.is_empty() {
                let told = detect::as_told(old.as_ref(), item);
                let alert = Alert::new(AlertId(self.store.next_id()?), told, changes, now);
                let targets = self.index.read().map(|ix| ix.targets(&ix.route_alert(&alert))).unwrap_or_default();
                batch.fan_outs.push(FanOut { alert: alert.id, targets, enqueued_at: now });
                debug!(item = %item.id, kind = %alert.kind(), changes = alert.changes.len(), "change detected");
                batch.alerts.push(alert);
            }
            batch.items.push(item.clone());
        }
        report.items += items.len();
        report.alerts += batch.alerts.len();
        report.deliveries += batch.delivery_count();
        self.store.apply(&batch)?;
        crate::metrics::global().alerts_detected(batch.alerts.iter().map(|a| a.kind().as_str()));
        self.store.flush().await?;
        if batch.delivery_count() > 0 {
            self.wake_delivery.notify_one();
        }
        Ok(())
    }
}

/// The budget from the durable request log: the requests of the hour
/// before `now`.
fn budget_from_log(store: &Store, config: &PollerConfig, now: DateTime<Utc>) -> Result<Budget, StoreError> {
    let past = store.recent_requests(now - chrono::Duration::hours(1))?;
    Ok(Budget::new(config.requests_per_hour, past))
}

/// The newest `last_updated` of a page that may become a watermark. It is
/// LL2's clock, not ours, but a stamp more than a day ahead of ours is bogus
/// data (a year-9999 typo) and would hide every later change from the
/// incremental query for good; such items are processed, just not trusted
/// as a watermark.
fn plausible_high(items: &[Item], now: DateTime<Utc>) -> Option<Watermark> {
    let limit = now + chrono::Duration::days(1);
    items.iter().filter(|i| i.last_updated <= limit).map(|i| Watermark(i.last_updated)).max()
}

/// Whether a feed's next poll reads the whole list: its first sync, or a
/// re-sweep `every` after the last one. While a launch is hot the re-sweep
/// waits (up to twice `every`): its pages would spend the reserve the
/// launch's looks need, and the incremental query misses nothing that is
/// still listed.
fn sweep_due(state: &FeedState, every: Duration, hot: bool, now: DateTime<Utc>) -> bool {
    if !state.first_sync_done || state.watermark.is_none() {
        return true;
    }
    let every = chrono::Duration::from_std(every).unwrap_or_default();
    let wait = if hot { every * 2 } else { every };
    state.last_sweep.is_none_or(|t| now - t >= wait)
}

/// What the pages of one sweep showed so far.
#[derive(Debug, Default)]
struct SweepPass {
    /// Pages read.
    pages: u32,
    /// Store keys of the items the pages listed.
    seen: HashSet<String>,
    /// Objects the pages held that could not be read as items.
    unreadable: usize,
}

impl SweepPass {
    fn read(&mut self, page: &Page) {
        self.pages += 1;
        self.seen.extend(page.items.iter().map(|i| i.id.key()));
        self.unreadable += page.skipped;
    }
}

/// Of the `asked` ids, those an id query's answer shows are gone, or `None`
/// when the answer proves nothing: an item that was not asked for (LL2
/// ignored the filter), an unreadable object (it may be one of ours), or a
/// second page.
fn confirmed_gone(asked: &[ItemId], answer: &Page) -> Option<Vec<ItemId>> {
    let asked_keys: HashSet<String> = asked.iter().map(ItemId::key).collect();
    let listed: HashSet<String> = answer.items.iter().map(|i| i.id.key()).collect();
    if answer.skipped > 0 || answer.next.is_some() || !listed.is_subset(&asked_keys) {
        return None;
    }
    Some(asked.iter().filter(|id| !listed.contains(&id.key())).cloned().collect())
}

/// Wait before retrying a failing feed: 30 s doubling, capped at 16 min
/// (and at the feed's poll interval, which at the default budget is
/// shorter). LL2's own throttling does not need a longer wait here: a 429
/// blocks the budget until its `Retry-After`, and every retry spends a
/// request of the hourly budget, so waiting longer would only delay
/// recovery from an outage.
const RETRY: Backoff = Backoff::new(Duration::from_secs(30), Duration::from_secs(960));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_budget_spreads_over_feeds() {
        let cfg = PollerConfig {
            feeds: vec![Feed::Events, Feed::Launches],
            requests_per_hour: 15,
            resweep_interval: Duration::from_secs(6 * 3600),
            on_first_sync: false,
        };
        assert_eq!(cfg.feed_interval(), Duration::from_secs(600));
        assert_eq!(RETRY.delay(1), Duration::from_secs(30));
        assert_eq!(RETRY.delay(3), Duration::from_secs(120));
        assert_eq!(RETRY.delay(20), Duration::from_secs(960));
    }

    #[test]
    fn a_re_sweep_waits_while_a_launch_is_hot_but_a_first_sync_never_does() {
        let now: DateTime<Utc> = "2026-12-07T12:00:00Z".parse().unwrap();
        let every = Duration::from_secs(6 * 3600);
        let synced = |hours_ago: i64| FeedState {
            watermark: Some(Watermark(now)),
            first_sync_done: true,
            last_sweep: Some(now - chrono::Duration::hours(hours_ago)),
            ..FeedState::default()
        };
        assert!(sweep_due(&FeedState::default(), every, true, now), "first sync");
        assert!(!sweep_due(&synced(5), every, false, now));
        assert!(sweep_due(&synced(7), every, false, now));
        assert!(!sweep_due(&synced(7), every, true, now), "hot: waits");
        assert!(sweep_due(&synced(13), every, true, now), "but not for ever");
    }

    fn launch(id: &str) -> Item {
        Item { id: ItemId::new(ItemKind::Launch, id), ..crate::detect::tests::sample_launch() }
    }

    #[test]
    fn an_id_query_confirms_only_what_it_can_prove() {
        let asked = [ItemId::new(ItemKind::Launch, "a"), ItemId::new(ItemKind::Launch, "b")];
        let answer = |ids: &[&str]| Page { items: ids.iter().map(|i| launch(i)).collect(), ..Page::default() };
        assert_eq!(confirmed_gone(&asked, &answer(&["a"])), Some(vec![asked[1].clone()]));
        assert_eq!(confirmed_gone(&asked, &answer(&["a", "b"])), Some(vec![]));
        assert_eq!(confirmed_gone(&asked, &answer(&[])), Some(asked.to_vec()));
        // LL2 ignored the filter and sent the list's first page.
        assert_eq!(confirmed_gone(&asked, &answer(&["a", "z"])), None);
        // An unreadable object may be one of the asked items.
        assert_eq!(confirmed_gone(&asked, &Page { skipped: 1, ..answer(&["a"]) }), None);
    }
}
