//! Delivery: drains the outbox in the store, renders each entry for its
//! subscriber and hands it to the sender of its platform. An entry leaves
//! the outbox only after the platform confirmed it (at-least-once). Senders
//! report transient, permanent and malformed-message failures; this module
//! decides what to do with each. Entries about an item the chat muted after
//! they were queued are dropped here. It must not detect or route alerts.

pub mod console;
pub mod ratelimit;

use std::collections::HashMap;
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
use crate::store::{Delivered, OutboxEntry, OutboxKey, Store, StoreError};
use crate::subscriptions::Subscriptions;
use crate::types::{ChatId, Destination, ItemId, Mention};

/// The boxed future a [`Sender`] returns (object-safe async).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a platform confirmed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sent {
    /// The platform's id of the message; `None` when it gives none (the
    /// console).
    pub message_id: Option<String>,
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
    /// A Telegram group became a supergroup: move and resend.
    #[error("chat migrated to {}", to.0)]
    Migrated {
        /// The supergroup's id.
        to: ChatId,
    },
    /// The platform rejected the message itself: a rendering bug.
    #[error("rejected message: {reason}")]
    Rejected {
        /// The platform's answer.
        reason: String,
    },
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

    /// Sends `msg` as it is: [`Sender::send_alert`] with no extras.
    fn send<'a>(&'a self, dest: &'a Destination, msg: &'a Message) -> BoxFuture<'a, Result<Sent, SendError>> {
        self.send_alert(dest, msg, AlertExtras::default())
    }
}

/// What a subscription adds to an alert beyond its rendered text.
#[derive(Debug, Clone, Copy, Default)]
pub struct AlertExtras<'a> {
    /// The item the chat may mute from the message itself (a Mute button).
    pub mute: Option<&'a ItemId>,
    /// Discord roles and users the alert pings, and no one else.
    pub mentions: &'a [Mention],
}

/// The senders available in this run, by platform. A platform without a
/// sender (no token configured) keeps its entries waiting in the outbox.
#[derive(Clone, Default)]
pub struct Senders {
    by_platform: HashMap<&'static str, Arc<dyn Sender>>,
}

impl Senders {
    /// Adds (or replaces) the sender for `platform` ([`Destination::platform`]).
    pub fn with(mut self, platform: &'static str, sender: Arc<dyn Sender>) -> Self {
        self.by_platform.insert(platform, sender);
        self
    }

    fn get(&self, dest: &Destination) -> Option<&Arc<dyn Sender>> {
        self.by_platform.get(dest.platform())
    }
}

/// Sends awaiting confirmation per platform, at most (the window W). A
/// kill can repeat only sends the platform accepted but the store has not
/// recorded, so at most W per platform per crash. A slot is busy for one
/// round trip plus the store flush (~150 ms against the real APIs), so 8
/// slots allow ~53 sends/s: above Telegram's 30/s and Discord's 50/s, i.e.
/// throughput stays at the platform's limit (>= 0.95 of it).
pub const DEFAULT_WINDOW: usize = 8;

/// Delivery settings.
#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    /// Sends awaiting confirmation per platform ([`DEFAULT_WINDOW`]).
    pub window: usize,
    /// Give up on an entry this long after it was enqueued.
    pub max_age: Duration,
    /// Destinations served at once.
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
    /// or an earlier entry to the same destination is waiting for a retry.
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
    windows: std::sync::Mutex<HashMap<&'static str, Arc<tokio::sync::Semaphore>>>,
    /// Poked by the poller when it committed new outbox entries.
    pub wake: Arc<Notify>,
}

/// Wait before the next attempt at an entry that failed `attempts` times
/// (kept in the store): 2 s doubling, capped at 10 min, ±25 % jitter so
/// entries that failed together do not retry together.
const RETRY: Backoff = Backoff::new(Duration::from_secs(2), Duration::from_secs(600)).with_jitter(0.25);

impl Deliverer {
    /// Delivers from the outbox of the store `subs` lives in.
    pub fn new(subs: Subscriptions, senders: Senders, config: DeliveryConfig) -> Deliverer {
        Deliverer {
            store: subs.store().clone(),
            subs,
            senders,
            config,
            windows: Default::default(),
            wake: Arc::new(Notify::new()),
        }
    }

    /// The window of `platform`, created on first use.
    fn window(&self, platform: &'static str) -> Arc<tokio::sync::Semaphore> {
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        windows
            .entry(platform)
            .or_insert_with(|| Arc::new(tokio::sync::Semaphore::new(self.config.window.max(1))))
            .clone()
    }

    /// Delivers every entry that is due now. Destinations are served
    /// concurrently (each sender enforces its platform's limits); within one
    /// destination entries go strictly in FIFO order, and a failed entry
    /// holds back the ones behind it.
    pub async fn drain_once(self: &Arc<Self>) -> Result<DrainStats, StoreError> {
        let now = Utc::now();
        let mut queues: Vec<(Destination, Vec<(OutboxKey, OutboxEntry)>)> = Vec::new();
        let mut by_dest: HashMap<Destination, usize> = HashMap::new();
        for (key, entry) in self.store.pending(self.config.batch)? {
            let i = *by_dest.entry(entry.destination.clone()).or_insert_with(|| {
                queues.push((entry.destination.clone(), Vec::new()));
                queues.len() - 1
            });
            queues[i].1.push((key, entry));
        }
        let mut stats = DrainStats::default();
        let limit = Arc::new(tokio::sync::Semaphore::new(self.config.concurrency.max(1)));
        let mut tasks = tokio::task::JoinSet::new();
        for (dest, queue) in queues {
            let Some(sender) = self.senders.get(&dest).cloned() else {
                // No sender for this platform in this run (no token): the
                // entries wait for a run that has one.
                stats.waiting += queue.len();
                continue;
            };
            let this = self.clone();
            let limit = limit.clone();
            tasks.spawn(async move {
                let _permit = limit.acquire_owned().await;
                this.drain_destination(sender, queue, now).await
            });
        }
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(Ok(s)) => stats.add(s),
                Ok(Err(e)) => return Err(e),
                Err(e) => warn!(error = %e, "delivery task failed"),
            }
        }
        if stats.delivered + stats.dead > 0 {
            info!(
                delivered = stats.delivered,
                retried = stats.retried,
                dead = stats.dead,
                waiting = stats.waiting,
                "delivery batch done"
            );
        }
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
        let mut heads = std::collections::HashSet::new();
        let mut due: Option<DateTime<Utc>> = None;
        for (_, e) in self.store.pending(self.config.batch)? {
            if self.senders.get(&e.destination).is_some() && heads.insert(e.destination.clone()) {
                let at = e.not_before.unwrap_or_else(Utc::now);
                due = Some(due.map_or(at, |d| d.min(at)));
            }
        }
        Ok(due)
    }

    async fn drain_destination(
        &self,
        sender: Arc<dyn Sender>,
        queue: Vec<(OutboxKey, OutboxEntry)>,
        now: DateTime<Utc>,
    ) -> Result<DrainStats, StoreError> {
        let mut stats = DrainStats::default();
        let mut alerts: HashMap<AlertId, Option<Alert>> = HashMap::new();
        let total = queue.len();
        for (done, (key, entry)) in queue.into_iter().enumerate() {
            if entry.not_before.is_some_and(|t| t > Utc::now()) {
                stats.waiting += total - done;
                break;
            }
            if let std::collections::hash_map::Entry::Vacant(slot) = alerts.entry(entry.alert) {
                slot.insert(self.store.alert(entry.alert)?);
            }
            let Some(alert) = alerts.get(&entry.alert).and_then(Option::as_ref) else {
                warn!(dest = %entry.destination, alert = entry.alert.0, "outbox entry without its alert record; moved to dead letters");
                self.store.dead_letter(key, &entry, "alert record missing", now)?;
                metrics::global().delivery(entry.destination.platform(), DeliveryOutcome::Dead);
                stats.dead += 1;
                continue;
            };
            let sub = match self.store.subscription(entry.sub)? {
                Some(s) if s.enabled => s,
                _ => {
                    debug!(dest = %entry.destination, "dropping delivery: subscription was removed or disabled");
                    self.store.dead_letter(key, &entry, "subscription removed or disabled", now)?;
                    metrics::global().delivery(entry.destination.platform(), DeliveryOutcome::Dead);
                    stats.dead += 1;
                    continue;
                }
            };
            // Mutes belong to the chat's own subscriptions, never to a
            // config watch to the same destination.
            let chat_sub = sub.origin == Origin::Chat;
            if chat_sub && self.store.is_muted(&entry.destination, &alert.item.id)? {
                debug!(dest = %entry.destination, item = %alert.item.id, "dropping delivery: the chat muted the item");
                self.store.discard(key)?;
                continue;
            }
            // Only the changes this subscription asked for (its kinds, its
            // schedule horizon), the most important of them as headline.
            let Some(seen) = sub.sees(alert) else {
                debug!(dest = %entry.destination, "dropping delivery: the subscription no longer wants any of its changes");
                self.store.dead_letter(key, &entry, "subscription no longer wants these changes", now)?;
                metrics::global().delivery(entry.destination.platform(), DeliveryOutcome::Dead);
                stats.dead += 1;
                continue;
            };
            let msg = render::message(&seen, sub.timezone, Utc::now());
            let extras = AlertExtras { mute: chat_sub.then_some(&alert.item.id), mentions: &sub.mentions };
            // Held until the outcome is durable: the window bounds what a
            // kill can leave sent but unrecorded.
            let _slot = self.window(entry.destination.platform()).acquire_owned().await;
            let outcome = sender.send_alert(&entry.destination, &msg, extras).await;
            let delivered = outcome.is_ok();
            let retried_before = stats.retried;
            self.settle(key, entry, outcome, now, &mut stats)?;
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

    fn settle(
        &self,
        key: OutboxKey,
        mut entry: OutboxEntry,
        outcome: Result<Sent, SendError>,
        now: DateTime<Utc>,
        stats: &mut DrainStats,
    ) -> Result<(), StoreError> {
        match outcome {
            Ok(sent) => {
                self.store.complete(
                    key,
                    &Delivered {
                        alert: entry.alert,
                        sub: entry.sub,
                        destination: entry.destination.clone(),
                        message_id: sent.message_id,
                        at: now,
                    },
                )?;
                metrics::global().delivery(entry.destination.platform(), DeliveryOutcome::Delivered);
                stats.delivered += 1;
            }
            Err(SendError::Transient { reason, retry_after }) => {
                if retry_after.is_some() {
                    metrics::global().rate_limited(entry.destination.platform());
                }
                let age = (now - entry.enqueued_at).to_std().unwrap_or_default();
                if age > self.config.max_age {
                    warn!(dest = %entry.destination, attempts = entry.attempts, %reason, "giving up on delivery after max age; moved to dead letters");
                    self.store.dead_letter(key, &entry, &reason, now)?;
                    metrics::global().delivery(entry.destination.platform(), DeliveryOutcome::Dead);
                    stats.dead += 1;
                } else {
                    entry.attempts += 1;
                    let wait = retry_after.unwrap_or_else(|| RETRY.delay(entry.attempts));
                    debug!(dest = %entry.destination, attempts = entry.attempts, wait_s = wait.as_secs_f64(), %reason, "delivery failed, will retry");
                    entry.not_before = Some(now + chrono::Duration::from_std(wait).unwrap_or_default());
                    self.store.reschedule(key, &entry)?;
                    metrics::global().delivery(entry.destination.platform(), DeliveryOutcome::Retried);
                    stats.retried += 1;
                }
            }
            Err(SendError::Permanent { reason }) => {
                warn!(dest = %entry.destination, sub = entry.sub.0, %reason, "destination refuses delivery; disabling its subscriptions");
                self.subs.set_enabled(&entry.destination, false)?;
                self.store.dead_letter(key, &entry, &reason, now)?;
                metrics::global().delivery(entry.destination.platform(), DeliveryOutcome::Permanent);
                stats.dead += 1;
            }
            Err(SendError::Migrated { to }) => {
                info!(from = %entry.destination, to = to.0, "chat migrated; moving its subscriptions and resending");
                let to = Destination::Telegram(to);
                self.subs.migrate(&entry.destination, &to)?;
                entry.destination = to;
                self.store.reschedule(key, &entry)?;
                metrics::global().delivery("telegram", DeliveryOutcome::Retried);
                stats.retried += 1;
            }
            Err(SendError::Rejected { reason }) => {
                warn!(dest = %entry.destination, alert = entry.alert.0, %reason, "platform rejected the message (a rendering bug); moved to dead letters");
                self.store.dead_letter(key, &entry, &reason, now)?;
                metrics::global().delivery(entry.destination.platform(), DeliveryOutcome::Rejected);
                stats.dead += 1;
            }
        }
        Ok(())
    }

    /// Drains whenever woken, and at least every few seconds for retries,
    /// until `shutdown` is cancelled.
    pub async fn run(self: &Arc<Self>, shutdown: CancellationToken) {
        loop {
            if let Err(e) = self.drain_once().await {
                warn!(error = %e, "delivery pass failed");
            }
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(2)) => {}
                _ = shutdown.cancelled() => return,
            }
        }
    }
}
