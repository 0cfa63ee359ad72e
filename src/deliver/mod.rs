//! Delivery: drains the outbox in the store, renders each entry for its
//! destination (one message for every subscription there that wants the
//! alert, merged: `merge.rs`) and hands it to the sender of its platform.
//! An entry leaves the outbox only after the platform confirmed it
//! (at-least-once). Senders report transient, permanent, fixable and
//! malformed-message failures; this module decides what to do with each.
//! Entries about an item the chat muted after they were queued are dropped
//! here. It must not detect or route alerts.
//!
//! **Isolation.** Every destination drains on its own: `run` hands each
//! destination with a due entry to a task of its own and never waits for
//! one (a destination already being served is skipped until its task ends),
//! so a destination that is slow, paused by its platform or refusing us
//! holds back no other, whatever the cause. Two rules keep it so. Senders
//! hand a long platform pause back as `Transient { retry_after }` instead
//! of sleeping through it (the entry is rescheduled, its task ends and its
//! slot of the window frees), and the per-platform bounds (the window W of
//! unconfirmed sends, the destinations served at once) are per platform,
//! so one platform's backlog never takes another's slots. Within one
//! destination entries stay FIFO: a failed entry holds back the ones behind
//! it. Entries of a platform without a sender in this run (its token was
//! removed) are skipped when the outbox is read, so they never fill a pass
//! (`Store::pending_where`), and move to dead letters after `max_age`.
//!
//! **Paused destinations.** A refusal an admin can fix (the bot lost the
//! right to post, a closed forum topic: `SendError::Paused`) does not
//! disable the subscriptions, as a final refusal (blocked, kicked, deleted)
//! does. The destination gets a durable pause (`store::DestinationPause`,
//! through the subscription API) with a long backoff, 1 h doubling to 24 h:
//! its alerts meanwhile become dead letters with the pause's reason (it
//! cannot take them, and a backlog of hours-old alerts is worth less than
//! a clean start), and the first entry after the pause is a probe whose
//! success ends it. A command from the chat ends it at once, and so does a
//! start for config watches (the config is the truth).

mod card;
mod digest;
mod merge;
pub(crate) mod ratelimit;

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::backoff::Backoff;
use crate::detect::{Alert, AlertId};
use crate::metrics::{self, DeliveryOutcome};
use crate::render::{self, Message};
use crate::rules::Origin;
use crate::store::{CardRecord, ChatSettings, Delivered, DestinationPause, OutboxEntry, OutboxKey, Store, StoreError};
use crate::subscriptions::Subscriptions;
use crate::types::{Destination, ItemId, Mention, Platform, Style};
use card::CardSend;

/// The boxed future a [`Sender`] returns (object-safe async).
#[cfg_attr(feature = "testing", visibility::make(pub))]
pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a platform confirmed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sent {
    /// The platform's id of the message; `None` when it gives none (a
    /// sink that keeps no messages).
    pub(crate) message_id: Option<String>,
}

/// Why a send failed, classified by what to do next.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Network trouble, timeouts, 5xx, throttling: try again later.
    #[error("transient: {reason}")]
    Transient {
        /// What failed.
        reason: String,
        /// How long the platform asked us to wait (a 429), if it said.
        retry_after: Option<Duration>,
    },
    /// The destination is gone or refuses us (blocked, kicked, deleted):
    /// disable the subscription.
    #[error("permanent: {reason}")]
    Permanent {
        /// The platform's answer.
        reason: String,
    },
    /// The destination moved (the platform gave it a new address): move
    /// its subscriptions there and resend.
    #[error("destination moved to {to}")]
    Moved {
        /// Where it is now, built by the sender from the platform's answer.
        to: Destination,
    },
    /// The destination refuses us for a reason its admin can fix (missing
    /// permissions, a closed topic): pause it, keep its subscriptions.
    #[error("paused: {reason}")]
    Paused {
        /// The platform's answer.
        reason: String,
    },
    /// The platform rejected the message itself: a rendering bug.
    #[error("rejected message: {reason}")]
    Rejected {
        /// The platform's answer.
        reason: String,
    },
}

impl EditError {
    /// The failure as a send's: a send cannot meet a gone message (a
    /// reply's target that is gone is not an error), so `Gone` here is a
    /// request the platform refused as malformed.
    pub(crate) fn into_send(self) -> SendError {
        match self {
            EditError::Failed(e) => e,
            EditError::Gone { reason } => SendError::Rejected { reason },
        }
    }
}

/// One platform's way of sending a rendered message.
pub trait Sender: Send + Sync {
    /// Sends an alert to `dest` once, with what its subscription adds (see
    /// [`AlertExtras`]; a platform that supports none of it ignores it).
    /// Retries are the deliverer's job.
    fn send_alert<'a>(
        &'a self,
        dest: &'a Destination,
        msg: &'a Message,
        extras: AlertExtras<'a>,
    ) -> BoxFuture<'a, Result<Sent, SendError>>;

    /// Whether [`Sender::edit_alert`] can edit what this sender sent: live
    /// cards need it (`card.rs`); a sender that cannot gets messages.
    fn can_edit(&self) -> bool {
        false
    }

    /// Replaces the message `message_id` it sent to `dest` with `msg` (a
    /// live card's new state; `extras.silent` is moot, an edit makes no
    /// sound). The default cannot edit.
    fn edit_alert<'a>(
        &'a self,
        dest: &'a Destination,
        message_id: &'a str,
        msg: &'a Message,
        extras: AlertExtras<'a>,
    ) -> BoxFuture<'a, Result<(), EditError>> {
        let _ = (dest, message_id, msg, extras);
        Box::pin(async { Err(EditError::Gone { reason: "this platform cannot edit messages".into() }) })
    }

    /// Sends `msg` as it is: [`Sender::send_alert`] with no extras.
    fn send<'a>(&'a self, dest: &'a Destination, msg: &'a Message) -> BoxFuture<'a, Result<Sent, SendError>> {
        self.send_alert(dest, msg, AlertExtras::default())
    }
}

/// What a subscription adds to an alert beyond its rendered text.
#[derive(Debug, Clone, Copy, Default)]
pub struct AlertExtras<'a> {
    /// The item the chat may mute from the message itself (a Mute button).
    pub(crate) mute: Option<&'a ItemId>,
    /// Roles and users the alert pings, and no one else (on platforms
    /// that have them).
    pub(crate) mentions: &'a [Mention],
    /// Sent without a sound (`rules::is_silent`); still sent.
    pub(crate) silent: bool,
    /// The alert as this destination sees it (its changes merged, see
    /// `merge.rs`), for senders that carry structured data (a JSON hook)
    /// or derive a delivery id from it; `None` for plain sends.
    pub(crate) alert: Option<&'a Alert>,
    /// Callback buttons under the message (a digest's `/next` page
    /// buttons), as platform-neutral keys.
    pub(crate) keyboard: Option<&'a crate::commands::keyboard::Keyboard>,
    /// Sent as a reply to this message of the platform (a live card's
    /// short loud message answers the card).
    pub(crate) reply_to: Option<&'a str>,
    /// It is a live card: sent in a form the sender can edit later.
    pub(crate) card: bool,
}

/// Why an edit failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    /// The message cannot be edited any more (deleted, too old, never
    /// editable): a new card replaces it.
    #[error("cannot edit: {reason}")]
    Gone {
        /// The platform's answer.
        reason: String,
    },
    /// The edit failed like a send would: acted on like one.
    #[error(transparent)]
    Failed(#[from] SendError),
}

/// The senders available in this run, by platform. A platform without a
/// sender (no token configured) keeps its entries waiting in the outbox
/// until `max_age`, then they move to dead letters.
#[derive(Clone, Default)]
pub struct Senders {
    by_platform: HashMap<Platform, Arc<dyn Sender>>,
}

impl Senders {
    /// Adds (or replaces) the sender for `platform` ([`Destination::platform`]).
    pub fn with(mut self, platform: Platform, sender: Arc<dyn Sender>) -> Self {
        self.by_platform.insert(platform, sender);
        self
    }

    fn get(&self, dest: &Destination) -> Option<&Arc<dyn Sender>> {
        self.by_platform.get(&dest.platform())
    }
}

/// Sends awaiting confirmation per platform, at most (the window W). A
/// kill can repeat only sends the platform accepted but the store has not
/// recorded, so at most W per platform per crash. A slot is busy for one
/// round trip plus the store flush (~150 ms against the real APIs), so 8
/// slots allow ~53 sends/s: above the 30/s and 50/s global ceilings of the
/// chat platforms, i.e. throughput stays at the platform's limit (>= 0.95
/// of it).
pub const DEFAULT_WINDOW: usize = 8;

/// Delivery settings.
#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    /// Sends awaiting confirmation per platform ([`DEFAULT_WINDOW`]).
    pub window: usize,
    /// Give up on an entry this long after it was enqueued.
    pub max_age: Duration,
    /// Destinations served at once, per platform.
    pub concurrency: usize,
    /// Outbox entries read per pass.
    pub batch: usize,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            max_age: Duration::from_secs(6 * 3600),
            concurrency: 256,
            batch: 100_000,
            window: DEFAULT_WINDOW,
        }
    }
}

/// Counts of one drain pass, for logs and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DrainStats {
    /// Entries the platform accepted.
    pub delivered: usize,
    /// Entries that failed and will be tried again later.
    pub retried: usize,
    /// Entries moved to dead letters.
    pub dead: usize,
    /// Entries left untried in the outbox: no sender serves their platform,
    /// an earlier entry to the same destination is waiting for a retry, or
    /// the destination is being served by a task still running.
    pub waiting: usize,
}

impl DrainStats {
    fn add(&mut self, o: DrainStats) {
        self.delivered += o.delivered;
        self.retried += o.retried;
        self.dead += o.dead;
        self.waiting += o.waiting;
    }
}

/// Drains the outbox: sends each due entry through its platform's
/// [`Sender`], records the outcome and acts on what the platform said.
pub struct Deliverer {
    store: Store,
    /// Disables and migrates subscriptions when a platform says so, so
    /// routing follows at once.
    subs: Subscriptions,
    senders: Senders,
    config: DeliveryConfig,
    /// Per platform, the slots of its window of unconfirmed sends.
    windows: Semaphores,
    /// Per platform, the destinations served at once.
    lanes: Semaphores,
    /// Destinations a task of `run` is serving now.
    busy: std::sync::Mutex<HashSet<Destination>>,
    /// Counts of `run`'s tasks since its last log line.
    done: std::sync::Mutex<DrainStats>,
    /// Poked by the poller when it committed new outbox entries.
    pub wake: Arc<Notify>,
}

/// One semaphore per platform, created on first use.
#[derive(Default)]
struct Semaphores(std::sync::Mutex<HashMap<Platform, Arc<tokio::sync::Semaphore>>>);

impl Semaphores {
    fn of(&self, platform: Platform, permits: usize) -> Arc<tokio::sync::Semaphore> {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(platform).or_insert_with(|| Arc::new(tokio::sync::Semaphore::new(permits.max(1)))).clone()
    }
}

/// Wait before the next attempt at an entry that failed `attempts` times
/// (kept in the store): 2 s doubling, capped at 10 min, ±25 % jitter so
/// entries that failed together do not retry together.
const RETRY: Backoff = Backoff::new(Duration::from_secs(2), Duration::from_secs(600)).with_jitter(0.25);

/// How long a destination stays paused after its `attempts`-th refusal in a
/// row that an admin can fix: 1 h doubling to 24 h. Long, because only a
/// person can fix it and each probe costs a refused request; the probe
/// still comes daily, and a command or a restart ends the pause at once.
pub(crate) const PAUSE: Backoff = Backoff::new(Duration::from_secs(3600), Duration::from_secs(24 * 3600));

/// The most senderless entries moved to dead letters in one pass, so one
/// pass stays short; the rest go in the passes after it.
const EXPIRE_PER_PASS: usize = 10_000;

/// A destination's due entries with the sender of its platform.
type Queue = (Destination, Arc<dyn Sender>, Vec<(OutboxKey, OutboxEntry)>);

impl Deliverer {
    /// Delivers from the outbox of the store `subs` lives in.
    pub fn new(subs: Subscriptions, senders: Senders, config: DeliveryConfig) -> Deliverer {
        Deliverer {
            store: subs.store().clone(),
            subs,
            senders,
            config,
            windows: Semaphores::default(),
            lanes: Semaphores::default(),
            busy: Default::default(),
            done: Default::default(),
            wake: Arc::new(Notify::new()),
        }
    }

    /// Reads the outbox into one FIFO queue per destination whose platform
    /// has a sender. Entries of a platform without one are skipped (counted
    /// as waiting) and, past `max_age`, moved to dead letters.
    fn queues(&self, now: DateTime<Utc>) -> Result<(Vec<Queue>, DrainStats), StoreError> {
        let mut stats = DrainStats::default();
        let mut expired = Vec::new();
        let max_age = chrono::Duration::from_std(self.config.max_age).unwrap_or(chrono::Duration::MAX);
        let pending = self.store.pending_where(self.config.batch, |key, e| {
            if self.senders.get(&e.destination).is_some() {
                return true;
            }
            if now - e.enqueued_at > max_age && expired.len() < EXPIRE_PER_PASS {
                expired.push((key, e.clone()));
            } else {
                stats.waiting += 1;
            }
            false
        })?;
        for (key, entry) in expired {
            let reason = format!(
                "no {} sender in this run (its token is not configured) until max age",
                entry.destination.platform()
            );
            warn!(dest = %entry.destination, %reason, "giving up on delivery; moved to dead letters");
            self.bury(key, &entry, &reason, DeliveryOutcome::Dead, now, &mut stats)?;
        }
        let mut queues: Vec<Queue> = Vec::new();
        let mut by_dest: HashMap<Destination, usize> = HashMap::new();
        for (key, entry) in pending {
            let i = match by_dest.get(&entry.destination) {
                Some(i) => *i,
                None => {
                    let Some(sender) = self.senders.get(&entry.destination) else { continue };
                    by_dest.insert(entry.destination.clone(), queues.len());
                    queues.push((entry.destination.clone(), sender.clone(), Vec::new()));
                    queues.len() - 1
                }
            };
            queues[i].2.push((key, entry));
        }
        Ok((queues, stats))
    }

    /// A task serving one destination's queue, within its platform's lane.
    fn serve(
        self: &Arc<Self>,
        (dest, sender, queue): Queue,
        now: DateTime<Utc>,
        stop: CancellationToken,
    ) -> impl Future<Output = Result<DrainStats, StoreError>> + Send + 'static {
        let this = self.clone();
        let lane = self.lanes.of(dest.platform(), self.config.concurrency);
        async move {
            let _permit = lane.acquire_owned().await;
            this.drain_destination(sender, queue, now, &stop).await
        }
    }

    /// Delivers every entry that is due now and returns when all are
    /// settled (`tminus once`, tests). Destinations are served concurrently
    /// (each sender enforces its platform's limits, long pauses come back
    /// as retries); within one destination entries go strictly in FIFO
    /// order, and a failed entry holds back the ones behind it.
    pub async fn drain_once(self: &Arc<Self>) -> Result<DrainStats, StoreError> {
        let now = Utc::now();
        let (queues, mut stats) = self.queues(now)?;
        let mut tasks = tokio::task::JoinSet::new();
        for queue in queues {
            tasks.spawn(self.serve(queue, now, CancellationToken::new()));
        }
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(Ok(s)) => stats.add(s),
                Ok(Err(e)) => return Err(e),
                Err(e) => warn!(error = %e, "delivery task failed"),
            }
        }
        log_stats(&stats);
        Ok(stats)
    }

    /// Drains, then keeps draining while a waiting entry (a rate-limit
    /// pause, a retry) comes due within `patience` of the start; the
    /// `waiting` count is what is left after the last pass. `tminus once`
    /// uses it so a short 429 does not leave an alert until the next run.
    pub(crate) async fn drain_within(self: &Arc<Self>, patience: Duration) -> Result<DrainStats, StoreError> {
        let deadline = Utc::now() + chrono::Duration::from_std(patience).unwrap_or_default();
        let mut total = DrainStats::default();
        loop {
            let pass = self.drain_once().await?;
            total.add(DrainStats { waiting: 0, ..pass });
            total.waiting = pass.waiting;
            match self.next_due()? {
                Some(at) if at <= deadline => {
                    let wait = (at - Utc::now()).to_std().unwrap_or_default();
                    debug!(wait_s = wait.as_secs_f64(), "waiting for a pause to end before the next delivery pass");
                    tokio::time::sleep(wait).await;
                }
                _ => return Ok(total),
            }
        }
    }

    /// The earliest moment a destination this run can send to is due again:
    /// the pause of the first entry of each destination's queue (the ones
    /// behind it wait for it).
    fn next_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let mut heads = HashSet::new();
        let mut due: Option<DateTime<Utc>> = None;
        let pending = self.store.pending_where(self.config.batch, |_, e| self.senders.get(&e.destination).is_some())?;
        for (_, e) in pending {
            if heads.insert(e.destination.clone()) {
                let at = e.not_before.unwrap_or_else(Utc::now);
                due = Some(due.map_or(at, |d| d.min(at)));
            }
        }
        Ok(due)
    }

    /// One pass of `run`: every destination with a due head entry and no
    /// task serving it yet gets a task of its own in `tasks`. Returns
    /// without waiting for any of them.
    fn dispatch(
        self: &Arc<Self>,
        tasks: &mut tokio::task::JoinSet<()>,
        stop: &CancellationToken,
    ) -> Result<(), StoreError> {
        let now = Utc::now();
        let (queues, stats) = self.queues(now)?;
        self.record(stats);
        for queue in queues {
            let (dest, _, entries) = &queue;
            let due = entries.first().is_some_and(|(_, e)| e.not_before.is_none_or(|t| t <= now));
            if !due || !self.lock_busy().insert(dest.clone()) {
                self.record(DrainStats { waiting: entries.len(), ..DrainStats::default() });
                continue;
            }
            let busy = Busy { deliverer: self.clone(), dest: dest.clone() };
            let work = self.serve(queue, now, stop.clone());
            tasks.spawn(async move {
                let outcome = work.await;
                let (this, dest) = (busy.deliverer.clone(), busy.dest.clone());
                drop(busy);
                match outcome {
                    Ok(s) => this.record(s),
                    Err(e) => {
                        warn!(dest = %dest, error = %e, "delivery to a destination failed; tried again next pass")
                    }
                }
            });
        }
        Ok(())
    }

    fn lock_busy(&self) -> std::sync::MutexGuard<'_, HashSet<Destination>> {
        self.busy.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn record(&self, s: DrainStats) {
        self.done.lock().unwrap_or_else(|e| e.into_inner()).add(s);
    }

    /// Drains whenever woken, and at least every few seconds for retries,
    /// until `shutdown` is cancelled; then waits for the sends in flight.
    /// Each destination is served by a task of its own that no pass waits
    /// for (see the module doc). A pass reads the outbox, so passes are at
    /// least ten times their own duration apart: a huge outbox costs at
    /// most a tenth of a core.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) async fn run(self: &Arc<Self>, shutdown: CancellationToken) {
        let mut tasks = tokio::task::JoinSet::new();
        loop {
            let started = std::time::Instant::now();
            if let Err(e) = self.dispatch(&mut tasks, &shutdown) {
                warn!(error = %e, "delivery pass failed");
            }
            let took = started.elapsed();
            let stats = std::mem::take(&mut *self.done.lock().unwrap_or_else(|e| e.into_inner()));
            log_stats(&stats);
            let idle = tokio::time::sleep(Duration::from_secs(2).max(took * 10));
            tokio::pin!(idle);
            loop {
                tokio::select! {
                    _ = self.wake.notified() => break,
                    _ = &mut idle => break,
                    Some(_) = tasks.join_next(), if !tasks.is_empty() => continue,
                    _ = shutdown.cancelled() => {
                        while tasks.join_next().await.is_some() {}
                        return;
                    }
                }
            }
        }
    }

    /// Sends `queue` (one destination's entries, FIFO) until it is done, an
    /// entry must wait, or `stop` is cancelled.
    async fn drain_destination(
        &self,
        sender: Arc<dyn Sender>,
        queue: Vec<(OutboxKey, OutboxEntry)>,
        now: DateTime<Utc>,
        stop: &CancellationToken,
    ) -> Result<DrainStats, StoreError> {
        let mut stats = DrainStats::default();
        let mut alerts: HashMap<AlertId, Option<Alert>> = HashMap::new();
        let mut handled: HashSet<AlertId> = HashSet::new();
        let total = queue.len();
        let mut pause = match queue.first() {
            Some((_, e)) => self.store.pause_of(&e.destination)?,
            None => None,
        };
        for (done, (key, entry)) in queue.into_iter().enumerate() {
            if stop.is_cancelled() || entry.not_before.is_some_and(|t| t > Utc::now()) {
                stats.waiting += total - done;
                break;
            }
            if !handled.insert(entry.alert) {
                // Its first entry here took the merged message (two entries
                // for one alert: queued before routing merged them).
                debug!(dest = %entry.destination, alert = entry.alert.0, "dropping delivery: already merged into one message");
                self.store.discard(key)?;
                continue;
            }
            let Some(send) = self.prepare(key, &entry, &mut alerts, &*sender, now, &mut stats)? else { continue };
            if let Some(p) = pause.as_ref().filter(|p| p.until > Utc::now()) {
                let reason = format!("destination paused: {}", p.reason);
                debug!(dest = %entry.destination, until = %p.until, "destination paused; alert moved to dead letters");
                self.bury(key, &entry, &reason, DeliveryOutcome::Dead, now, &mut stats)?;
                continue;
            }
            // Held until the outcome is durable: the window bounds what a
            // kill can leave sent but unrecorded.
            let window = self.windows.of(entry.destination.platform(), self.config.window);
            let _slot = window.acquire_owned().await;
            let outcome = transmit(&*sender, &entry.destination, &send, now).await;
            let delivered = outcome.0.is_ok();
            let retried_before = stats.retried;
            self.settle(key, entry, outcome, now, &mut stats, &mut pause)?;
            if delivered {
                // Durable before the next send: a kill can then repeat at
                // most the message in flight.
                self.store.flush().await?;
            } else if stats.retried > retried_before {
                // Keep FIFO order: what follows waits for this one.
                stats.waiting += total - done - 1;
                break;
            }
        }
        Ok(stats)
    }

    /// Renders `entry` for its destination (every subscription there that
    /// wants its alert, merged: `merge.rs`), or settles it without a send:
    /// dead letters when its alert is gone or no subscription there wants
    /// it any more, dropped when the chat muted the item. `alerts` caches the
    /// alert records of one queue.
    fn prepare(
        &self,
        key: OutboxKey,
        entry: &OutboxEntry,
        alerts: &mut HashMap<AlertId, Option<Alert>>,
        sender: &dyn Sender,
        now: DateTime<Utc>,
        stats: &mut DrainStats,
    ) -> Result<Option<ToSend>, StoreError> {
        let dead = |reason: &str, stats: &mut DrainStats| -> Result<Option<ToSend>, StoreError> {
            self.bury(key, entry, reason, DeliveryOutcome::Dead, now, stats)?;
            Ok(None)
        };
        if let std::collections::hash_map::Entry::Vacant(slot) = alerts.entry(entry.alert) {
            slot.insert(self.store.alert(entry.alert)?);
        }
        let Some(alert) = alerts.get(&entry.alert).and_then(Option::as_ref) else {
            if let Some(digest) = self.store.digest(entry.alert)? {
                return self.prepare_digest(key, entry, &digest, now, stats);
            }
            warn!(dest = %entry.destination, alert = entry.alert.0, "outbox entry without its alert record; moved to dead letters");
            return dead("alert record missing", stats);
        };
        let at = Utc::now();
        let (merged, settings) = match self.merged(alert, entry, at)? {
            Ok(found) => found,
            Err(reason) => {
                debug!(dest = %entry.destination, reason, "dropping delivery");
                return dead(reason, stats);
            }
        };
        // Mutes belong to the chat's own subscriptions, never to a config
        // watch alone; when both want the alert, the stricter wins.
        if merged.chat && self.store.is_muted(&entry.destination, &alert.item.id)? {
            debug!(dest = %entry.destination, item = %alert.item.id, "dropping delivery: the chat muted the item");
            self.store.discard(key)?;
            return Ok(None);
        }
        // Readers of a channel cannot use a Mute button: none there.
        let mute = merged.chat && !self.store.is_channel(&entry.destination)?;
        let chat_style = settings.map(|c| c.style).unwrap_or_default();
        let (msg, card) = self.render(&merged, chat_style, &entry.destination, sender, at)?;
        Ok(Some(ToSend {
            msg,
            // An article about nothing known rides on an item without id:
            // nothing to mute.
            mute: mute.then(|| alert.item.id.clone()).filter(|id| !id.id.is_empty()),
            silent: merged.silent,
            mentions: merged.mentions,
            alert: Some(merged.seen),
            keyboard: None,
            card,
        }))
    }

    /// One message for every subscription of `entry`'s destination that
    /// wants `alert` (routing queued one entry for them all), with the
    /// chat's settings when a chat's own subscription is there; `Err`: why
    /// none wants it any more.
    fn merged(
        &self,
        alert: &Alert,
        entry: &OutboxEntry,
        at: DateTime<Utc>,
    ) -> Result<Result<(merge::Merged, Option<ChatSettings>), &'static str>, StoreError> {
        let subs = self.store.subscriptions_of(&entry.destination)?;
        let settings = if subs.iter().any(|s| s.origin == Origin::Chat) {
            self.store.chat_settings(&entry.destination)?
        } else {
            None
        };
        let chat_timezone = settings.as_ref().map(|c| c.timezone);
        Ok(match merge::merge(alert, entry.sub, &subs, chat_timezone, at) {
            Some(merged) => Ok((merged, settings)),
            None if subs.iter().any(|s| s.id == entry.sub && s.enabled) => {
                Err("subscription no longer wants these changes")
            }
            None => Err("subscription removed or disabled"),
        })
    }

    /// The message for `merged` at `dest`: a live card (to send or edit,
    /// `card.rs`) when its style and the launch say so, else the alert's
    /// own. Style, like the zone, is the chat's own (`chat_style`) when a
    /// chat's subscription takes part, else card if a watch there says so.
    fn render(
        &self,
        merged: &merge::Merged,
        chat_style: Style,
        dest: &Destination,
        sender: &dyn Sender,
        at: DateTime<Utc>,
    ) -> Result<(Message, Option<CardSend>), StoreError> {
        let style = match (merged.chat, merged.watch_card) {
            (true, _) => chat_style,
            (false, true) => Style::Card,
            (false, false) => Style::Messages,
        };
        let record = match style {
            Style::Card => self.store.card(dest, &merged.seen.item.id)?,
            Style::Messages => None,
        };
        let (seen, tz) = (&merged.seen, merged.timezone);
        // "Within 24 h of T-0" is when the alert happened, not when it is
        // sent: a backlog after downtime decides as it would have.
        Ok(match card::plan(style, sender.can_edit(), seen, record.as_ref(), seen.detected_at) {
            card::Plan::Message => (render::message(seen, tz, at), None),
            card::Plan::NewCard { moment } => {
                (card::body(seen, tz, at), Some(CardSend { edit: None, reply: None, loud: moment.is_some() }))
            }
            card::Plan::Edit { message_id, reply: moment } => {
                let reply = moment.map(|m| card::reply(m, seen));
                let loud = moment.is_some();
                (card::body(seen, tz, at), Some(CardSend { edit: Some(message_id), reply, loud }))
            }
        })
    }

    fn settle(
        &self,
        key: OutboxKey,
        mut entry: OutboxEntry,
        (outcome, card): (Result<Sent, SendError>, Option<(ItemId, CardRecord)>),
        now: DateTime<Utc>,
        stats: &mut DrainStats,
        pause: &mut Option<DestinationPause>,
    ) -> Result<(), StoreError> {
        match outcome {
            Ok(sent) => {
                if pause.take().is_some() {
                    // The probe after a pause went through: fixed.
                    self.subs.resume(&entry.destination)?;
                }
                let record = Delivered {
                    alert: entry.alert,
                    sub: entry.sub,
                    destination: entry.destination.clone(),
                    message_id: sent.message_id,
                    at: now,
                };
                match card {
                    // The card's id lands with the confirmation, together.
                    Some((item, card)) => self.store.complete_with_card(key, &record, &item, &card)?,
                    None => self.store.complete(key, &record)?,
                }
                metrics::global().delivery(entry.destination.platform().as_str(), DeliveryOutcome::Delivered);
                stats.delivered += 1;
            }
            Err(SendError::Transient { reason, retry_after }) => {
                self.retry_later(key, entry, &reason, retry_after, now, stats)?;
            }
            Err(SendError::Permanent { reason }) => {
                warn!(dest = %entry.destination, sub = entry.sub.0, %reason, "destination refuses delivery; disabling its subscriptions");
                self.subs.set_enabled(&entry.destination, false)?;
                self.bury(key, &entry, &reason, DeliveryOutcome::Permanent, now, stats)?;
            }
            Err(SendError::Paused { reason }) => self.pause(key, &entry, &reason, now, stats, pause)?,
            Err(SendError::Moved { to }) => {
                info!(from = %entry.destination, %to, "destination moved; moving its subscriptions and resending");
                let platform = entry.destination.platform();
                self.subs.migrate(&entry.destination, &to)?;
                entry.destination = to;
                self.store.reschedule(key, &entry)?;
                metrics::global().delivery(platform.as_str(), DeliveryOutcome::Retried);
                stats.retried += 1;
            }
            Err(SendError::Rejected { reason }) => {
                warn!(dest = %entry.destination, alert = entry.alert.0, %reason, "platform rejected the message (a rendering bug); moved to dead letters");
                self.bury(key, &entry, &reason, DeliveryOutcome::Rejected, now, stats)?;
            }
        }
        Ok(())
    }

    /// Moves `entry` to dead letters with `reason`, counted under `outcome`.
    fn bury(
        &self,
        key: OutboxKey,
        entry: &OutboxEntry,
        reason: &str,
        outcome: DeliveryOutcome,
        now: DateTime<Utc>,
        stats: &mut DrainStats,
    ) -> Result<(), StoreError> {
        self.store.dead_letter(key, entry, reason, now)?;
        metrics::global().delivery(entry.destination.platform().as_str(), outcome);
        stats.dead += 1;
        Ok(())
    }

    /// A refusal an admin can fix: the destination is paused (or its pause
    /// extended, after a failed probe) and the entry moves to dead letters.
    fn pause(
        &self,
        key: OutboxKey,
        entry: &OutboxEntry,
        reason: &str,
        now: DateTime<Utc>,
        stats: &mut DrainStats,
        pause: &mut Option<DestinationPause>,
    ) -> Result<(), StoreError> {
        let next = next_pause(pause.as_ref(), &entry.destination, reason, now);
        warn!(dest = %entry.destination, %reason, attempts = next.attempts, until = %next.until, "destination refuses delivery until its admin fixes it; paused, its alerts become dead letters meanwhile");
        self.subs.pause(&next)?;
        self.bury(key, entry, &format!("destination paused: {reason}"), DeliveryOutcome::Dead, now, stats)?;
        *pause = Some(next);
        Ok(())
    }

    /// A transient failure: the entry is tried again after the platform's
    /// `retry_after` or the next step of [`RETRY`], or moved to dead
    /// letters once older than `max_age`.
    fn retry_later(
        &self,
        key: OutboxKey,
        mut entry: OutboxEntry,
        reason: &str,
        retry_after: Option<Duration>,
        now: DateTime<Utc>,
        stats: &mut DrainStats,
    ) -> Result<(), StoreError> {
        if retry_after.is_some() {
            metrics::global().rate_limited(entry.destination.platform().as_str());
        }
        let age = (now - entry.enqueued_at).to_std().unwrap_or_default();
        if age > self.config.max_age {
            warn!(dest = %entry.destination, attempts = entry.attempts, %reason, "giving up on delivery after max age; moved to dead letters");
            self.bury(key, &entry, reason, DeliveryOutcome::Dead, now, stats)?;
        } else {
            entry.attempts += 1;
            let wait = retry_after.unwrap_or_else(|| RETRY.delay(entry.attempts));
            debug!(dest = %entry.destination, attempts = entry.attempts, wait_s = wait.as_secs_f64(), %reason, "delivery failed, will retry");
            entry.not_before = Some(now + chrono::Duration::from_std(wait).unwrap_or_default());
            self.store.reschedule(key, &entry)?;
            metrics::global().delivery(entry.destination.platform().as_str(), DeliveryOutcome::Retried);
            stats.retried += 1;
        }
        Ok(())
    }
}

/// A destination marked as served by a task of `run`; the mark goes with
/// the task however it ends (a panic included), so no destination is left
/// unserved.
struct Busy {
    deliverer: Arc<Deliverer>,
    dest: Destination,
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.deliverer.lock_busy().remove(&self.dest);
    }
}

/// What `prepare` made of an entry: the message and what its subscription
/// adds.
struct ToSend {
    msg: Message,
    mute: Option<ItemId>,
    mentions: Vec<Mention>,
    /// Sent without a sound, decided at send time.
    silent: bool,
    /// The alert with the changes this destination sees; `None` for a
    /// digest.
    alert: Option<Alert>,
    /// Callback buttons (a digest's page buttons).
    keyboard: Option<crate::commands::keyboard::Keyboard>,
    /// A live card to send or edit, with `msg` as the card (`card.rs`).
    card: Option<CardSend>,
}

/// Sends `send` to `dest`: the alert's message, or a live card to send or
/// edit (`card.rs`). With the outcome, the card record to write with the
/// confirmation, when there is a card.
async fn transmit(
    sender: &dyn Sender,
    dest: &Destination,
    send: &ToSend,
    now: DateTime<Utc>,
) -> (Result<Sent, SendError>, Option<(ItemId, CardRecord)>) {
    let extras = AlertExtras {
        mute: send.mute.as_ref(),
        mentions: &send.mentions,
        silent: send.silent,
        alert: send.alert.as_ref(),
        keyboard: send.keyboard.as_ref(),
        ..AlertExtras::default()
    };
    let (outcome, card) = match &send.card {
        Some(c) => card::deliver(sender, dest, c, &send.msg, extras).await,
        None => (sender.send_alert(dest, &send.msg, extras).await, None),
    };
    // A card is always about an alert's item (a digest has no card).
    let item = send.alert.as_ref().map(|a| a.item.id.clone());
    (outcome, card.zip(item).map(|(message_id, item)| (item, CardRecord { message_id, at: now })))
}

/// The pause after one more refusal of `dest` an admin can fix: a new one,
/// or `current` extended by the next step of [`PAUSE`].
fn next_pause(
    current: Option<&DestinationPause>,
    dest: &Destination,
    reason: &str,
    now: DateTime<Utc>,
) -> DestinationPause {
    let attempts = current.map_or(1, |p| p.attempts.saturating_add(1));
    let wait = chrono::Duration::from_std(PAUSE.delay(attempts)).unwrap_or(chrono::Duration::MAX);
    DestinationPause {
        destination: dest.clone(),
        reason: reason.to_string(),
        since: current.map_or(now, |p| p.since),
        until: now + wait,
        attempts,
    }
}

/// One info line for a pass that delivered or gave up on something.
fn log_stats(stats: &DrainStats) {
    if stats.delivered + stats.dead > 0 {
        info!(
            delivered = stats.delivered,
            retried = stats.retried,
            dead = stats.dead,
            waiting = stats.waiting,
            "delivery batch done"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_start_at_an_hour_and_double_to_a_day() {
        let dest = Destination::Calendar("ops".into());
        let now = Utc::now();
        let mut pause = next_pause(None, &dest, "no rights", now);
        assert_eq!((pause.attempts, pause.since, pause.until - now), (1, now, chrono::Duration::hours(1)));
        let mut hours = Vec::new();
        for _ in 0..7 {
            let later = pause.until;
            pause = next_pause(Some(&pause), &dest, "still no rights", later);
            hours.push((pause.until - later).num_hours());
            assert_eq!(pause.since, now, "since stays the first refusal");
        }
        assert_eq!(hours, [2, 4, 8, 16, 24, 24, 24]);
        assert_eq!((pause.attempts, pause.reason.as_str()), (8, "still no rights"));
    }
}
