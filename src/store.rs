//! The durable state of tminus in one sled database: item snapshots, feed
//! state (watermarks, sweep progress), the LL2 request log, subscriptions,
//! alerts, the outbox of pending deliveries, the delivery log, dead letters,
//! sent reminders, the items each chat muted, the destinations paused
//! after a refusal an admin can fix (`DestinationPause`), which channel a
//! Telegram private chat manages (`store/manage.rs`), the news feed's
//! articles and sent marks (`store/news.rs`), and queued digests with
//! their marks (`store/digest.rs`).
//!
//! What must change together changes in one transaction: a fetched page's
//! snapshots, its alerts, their outbox entries and the feed's watermark
//! commit at once (`apply`), so a kill at any moment neither loses an alert
//! nor creates it twice. It must not decide anything (no detection, no
//! routing): callers compute, the store persists.
//!
//! The outbox holds one entry per (alert, destination), naming the
//! destination's leading subscription (routing merges overlapping ones),
//! and delivery works on those entries one by one. A fan-out is not written entry by entry,
//! though: writing a million JSON entries in one sled transaction took
//! ~1 s and ~500 MB per 100,000 (sled keeps the whole write set and its
//! page cache in memory), far over the budget of one alert (3 s, 300 MB for
//! a million). So `apply` writes each alert's entries as fan-out records
//! of up to `FAN_OUT_CHUNK` (subscription, destination) pairs and 6 KiB
//! (`store/fan_out.rs`: records stay under sled's blob threshold, so they
//! are as durable after a flush as any other record), in the same
//! transaction as the alert, and `pending` turns the oldest record into its
//! outbox entries, in one transaction (the record leaves as its entries
//! arrive), only when the outbox runs short. A kill at any moment leaves
//! either the record or its entries, never both or neither, and records
//! expand in the order they were written, so the outbox stays FIFO.
//! `outbox_len` counts the entries still folded in records too, from a
//! counter kept beside the trees (counted once at open, then moved by the
//! methods that add or remove deliveries), so `/healthz` and the metrics
//! read the outbox depth without scanning it.

use std::path::Path;
use std::sync::atomic::Ordering;

use chrono::{DateTime, TimeZone, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError};

use crate::detect::{Alert, AlertId};
use crate::directory::Directory;
use crate::item::Item;
use crate::rules::{SubId, Subscription, Target};

mod fan_out;
use crate::subscriptions::Write;
use crate::types::{AlertKind, Destination, Feed, GuildId, ItemId, ItemKind, Watermark};
use fan_out::{FanOutRecord, fan_out_key, fan_out_len};

mod calendar;
mod cards;
mod digest;
mod listing;
mod manage;
mod news;
mod owner;
mod retention;
pub(crate) use calendar::{EventSpec, GuildEvent, Sequenced};
pub(crate) use cards::CardRecord;
pub(crate) use digest::DigestRecord;
pub(crate) use manage::ManagedChat;
#[cfg_attr(feature = "testing", visibility::make(pub))]
pub(crate) use news::NewsBatch;
pub use retention::{Pruned, release_freed_memory};

/// Bump when the layout of a tree changes incompatibly. 2: deliveries may
/// wait in fan-out records (`outbox_fan_outs`), which version 1 would never
/// deliver. A store of an older version is upgraded on open (every version
/// reads the records of the ones before it); a newer one is refused.
pub(crate) const SCHEMA_VERSION: u64 = 2;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// sled failed (I/O, a damaged database).
    #[error("store error: {0}")]
    Sled(#[from] sled::Error),
    /// A record does not decode.
    #[error("store record {key:?} in tree {tree} is corrupt: {message}")]
    Corrupt {
        /// The sled tree.
        tree: &'static str,
        /// The record's key, printable.
        key: String,
        /// The decoder's complaint.
        message: String,
    },
    /// The store was written by a newer tminus.
    #[error(
        "store at {path} has schema version {found}, this tminus understands up to {SCHEMA_VERSION}; use a newer tminus or another [store] path"
    )]
    Schema {
        /// The store path.
        path: String,
        /// The store's schema version.
        found: u64,
    },
    /// Another process holds the store.
    #[error("the store at {path} is in use by another tminus ({})", match pid { Some(p) => format!("pid {p}"), None => "pid unknown".to_owned() })]
    InUse {
        /// The store path.
        path: String,
        /// The holder's process id, when it could be read.
        pid: Option<u32>,
    },
}

/// A store operation's result.
pub(crate) type Result<T> = std::result::Result<T, StoreError>;

/// Per-feed progress.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedState {
    /// Newest `last_updated` fully processed by incremental polling.
    pub watermark: Option<Watermark>,
    /// The first full sync finished; until then alerts stay silent.
    pub first_sync_done: bool,
    /// When the last full sweep of the upcoming list finished.
    pub last_sweep: Option<DateTime<Utc>>,
    /// The floor of a sweep in progress: the newest `last_updated` of its
    /// first page. It becomes the watermark (if newer) when the sweep
    /// completes; never a later page's stamp, which could hide an edit made
    /// to an earlier page while the sweep ran.
    pub sweep_high: Option<Watermark>,
    /// When the last successful LL2 answer for this feed arrived.
    pub last_success: Option<DateTime<Utc>>,
}

/// Position of an entry in the outbox; global FIFO order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct OutboxKey(pub u64);

/// At most how many deliveries one fan-out record folds, small enough that
/// turning one into outbox entries is a short transaction. Records are cut
/// by size too (`fan_out::MAX_RECORD_BYTES`, under sled's blob threshold),
/// which makes a million chat deliveries ~3,000 rows.
pub(crate) const FAN_OUT_CHUNK: usize = 1024;

/// One alert's deliveries to its routed targets, as `apply` takes them:
/// one outbox entry per target, without building each entry first.
#[derive(Debug, Clone, PartialEq)]
pub struct FanOut {
    /// The alert to deliver.
    pub alert: AlertId,
    /// Every subscription it routes to, with its destination.
    pub targets: Vec<Target>,
    /// Stamped on each entry (delivery gives up `max_age` after it).
    pub enqueued_at: DateTime<Utc>,
}

/// One pending delivery of one alert to one subscription's destination.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxEntry {
    /// The alert to send.
    pub alert: AlertId,
    /// The subscription that routed it.
    pub sub: SubId,
    /// Where to send it.
    pub destination: Destination,
    /// When it was enqueued (delivery gives up `max_age` after it).
    pub enqueued_at: DateTime<Utc>,
    /// Failed sends so far (drives the retry backoff).
    #[serde(default)]
    pub attempts: u32,
    /// No send before this (a retry's backoff, a 429); `None`: at once.
    #[serde(default)]
    pub not_before: Option<DateTime<Utc>>,
}

/// A confirmed delivery: kept so front-ends can edit or delete messages later.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivered {
    /// The alert sent.
    pub alert: AlertId,
    /// The subscription that routed it.
    pub sub: SubId,
    /// Where it went.
    pub destination: Destination,
    /// Platform message id, when the platform returns one.
    pub message_id: Option<String>,
    /// When the platform confirmed it.
    pub at: DateTime<Utc>,
}

/// A delivery given up on, with the reason.
#[cfg_attr(feature = "testing", visibility::make(pub))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct DeadLetter {
    /// The entry as it was in the outbox.
    pub entry: OutboxEntry,
    /// Why it was given up on.
    pub reason: String,
    /// When.
    pub(crate) at: DateTime<Utc>,
}

/// A destination that refused delivery for a reason its admin can fix (the
/// bot lost the right to post, a forum topic was closed): its
/// subscriptions stay, its alerts become dead letters with `reason` until
/// `until`, when one probe send is tried. Written only through the
/// subscription API; cleared by a command from the chat, by a probe that
/// goes through, and at start for destinations of config watches.
#[cfg_attr(feature = "testing", visibility::make(pub))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct DestinationPause {
    /// The paused destination.
    pub destination: Destination,
    /// The platform's refusal, as the deliverer logged it.
    pub reason: String,
    /// When the first refusal of this pause came.
    pub since: DateTime<Utc>,
    /// No send before this; the first send after it is a probe.
    pub until: DateTime<Utc>,
    /// Refusals in a row (drives the backoff of `until`).
    pub attempts: u32,
}

/// Which reminder: one item, one offset before its date.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ReminderKey {
    /// The item.
    pub item: ItemId,
    /// The reminder offset before its date, in seconds.
    pub offset_secs: u64,
}

impl ReminderKey {
    fn key(&self) -> String {
        format!("{}|{}", self.item.key(), self.offset_secs)
    }
}

/// The last time a reminder was sent, and for which date. A NET slip that
/// moves the reminder's moment past `sent_at` lets it fire again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReminderSent {
    /// The item's date the reminder was for.
    pub when: DateTime<Utc>,
    /// When it was sent.
    pub sent_at: DateTime<Utc>,
}

/// Preferences a chat set with `/timezone`, `/reminders`, `/alerts` and
/// `/horizon`; they apply to its existing subscriptions and to the ones it
/// makes later.
#[cfg_attr(feature = "testing", visibility::make(pub))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ChatSettings {
    /// The zone times are shown in (`/timezone`).
    pub timezone: chrono_tz::Tz,
    /// Reminder offsets before each item (`/reminders`).
    #[serde(with = "crate::types::duration_secs")]
    pub reminders: Vec<std::time::Duration>,
    /// The alert kinds the chat hears (records written before `/alerts`
    /// existed: all of them).
    #[serde(default = "all_alert_kinds")]
    pub alerts: Vec<AlertKind>,
    /// `None`: schedule changes alert whatever the date.
    #[serde(default, with = "crate::types::opt_duration_secs", skip_serializing_if = "Option::is_none")]
    pub schedule_horizon: Option<std::time::Duration>,
    /// Local span in which alerts go out without a sound (`/quiet`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quiet_hours: Option<crate::rules::QuietHours>,
    /// Alert kinds sent without a sound (`/silent`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub silent: Vec<AlertKind>,
    /// Card or messages on launch day (`/style`).
    #[serde(default, skip_serializing_if = "crate::types::Style::is_messages")]
    pub style: crate::types::Style,
    /// When the chat gets its digest (`/digest`); `None`: never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<crate::rules::DigestSchedule>,
}

fn all_alert_kinds() -> Vec<AlertKind> {
    AlertKind::ALL.to_vec()
}

/// One item a chat muted: no alert or reminder about it reaches the chat's
/// own subscriptions (a config watch to the same chat is not the chat's to
/// silence, unless one of them wants the same alert: they make one
/// message, and the mute holds for it). `name` is kept for `/muted`, which
/// must work after the item left the store.
#[cfg_attr(feature = "testing", visibility::make(pub))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Mute {
    /// The chat that muted it.
    pub destination: Destination,
    /// The muted item.
    pub item: ItemId,
    /// The item's name when it was muted.
    pub name: String,
    /// When it was muted.
    pub at: DateTime<Utc>,
}

fn mute_key(dest: &Destination, item: &ItemId) -> Vec<u8> {
    let mut k = dest.storage_key().into_bytes();
    k.push(0);
    k.extend_from_slice(item.key().as_bytes());
    k
}

fn dest_index_key(dest: &Destination, id: SubId) -> Vec<u8> {
    let mut k = dest.storage_key().into_bytes();
    k.push(0);
    k.extend_from_slice(&id.0.to_be_bytes());
    k
}

/// Everything one processed page changes, applied atomically.
#[derive(Debug, Default)]
pub struct Batch {
    /// The feed whose state `feed_state` replaces; set together with it.
    pub feed: Option<Feed>,
    /// Item snapshots to write.
    pub items: Vec<Item>,
    /// Items to delete (gone from LL2's upcoming list).
    pub removed: Vec<ItemId>,
    /// New alerts.
    pub alerts: Vec<Alert>,
    /// Deliveries of alerts to their routed targets (the usual way).
    pub fan_outs: Vec<FanOut>,
    /// Single deliveries, each as given.
    pub deliveries: Vec<OutboxEntry>,
    /// Reminders this batch sends, to record.
    pub reminders_sent: Vec<(ReminderKey, ReminderSent)>,
    /// New feed state, if it changes.
    pub feed_state: Option<FeedState>,
    /// The name directory, when this batch taught it something.
    pub directory: Option<Directory>,
}

/// The durable state: a sled database with one tree per record kind. Cheap
/// to clone; one process holds a store at a time.
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    /// This process's claim on the directory, released with the last clone.
    _owner: std::sync::Arc<owner::Owner>,
    flush_lock: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// Transactions hold it shared, a flush exclusively: sled 0.34 can
    /// deadlock when a flush overlaps multi-tree transactions running on
    /// other threads (seen in fan-outs to hundreds of chats).
    io: std::sync::Arc<std::sync::RwLock<()>>,
    meta: sled::Tree,
    items: sled::Tree,
    feeds: sled::Tree,
    requests: sled::Tree,
    subs: sled::Tree,
    /// `destination key \0 sub id` → (): a chat's subscriptions without a scan.
    subs_by_dest: sled::Tree,
    /// Per-destination preferences set by chat commands.
    chat_settings: sled::Tree,
    /// `destination key \0 item key` → `Mute`.
    mutes: sled::Tree,
    /// `destination key` → [`DestinationPause`].
    pauses: sled::Tree,
    alerts: sled::Tree,
    outbox: sled::Tree,
    /// Fan-out records not yet turned into outbox entries; see the module doc.
    fan_outs: sled::Tree,
    delivered: sled::Tree,
    dead: sled::Tree,
    reminders: sled::Tree,
    /// `destination key \0 item key` → `CardRecord` (`store/cards.rs`).
    cards: sled::Tree,
    /// Queued digests and their marks (`store/digest.rs`).
    digests: sled::Tree,
    /// Calendar state: per-item SEQUENCE, private feed tokens and the
    /// Discord scheduled events the bot created (see `crate::calendar`).
    calendar: CalendarTrees,
    /// Telegram chats managed from a private chat, and known channels
    /// (`store/manage.rs`).
    telegram_chats: sled::Tree,
    /// The news feed's articles, sent marks and request log (`store/news.rs`).
    news: news::NewsTrees,
    /// Counts committed batches, so mirrors (calendar sync) wake on changes.
    applied: std::sync::Arc<tokio::sync::watch::Sender<u64>>,
    /// Pending deliveries (outbox entries and those folded in fan-out
    /// records): counted at open, then raised before a write adds some and
    /// lowered after one removed some, so it is never below the truth.
    outbox_count: std::sync::Arc<std::sync::atomic::AtomicI64>,
}

/// The trees of the calendar mirrors.
#[derive(Clone)]
struct CalendarTrees {
    /// `item key` → [`Sequenced`].
    sequences: sled::Tree,
    /// `token` → destination, and `\0destination key` → token.
    tokens: sled::Tree,
    /// `guild id \0 item key` → [`GuildEvent`].
    discord_events: sled::Tree,
}

fn enc<T: Serialize>(v: &T) -> Vec<u8> {
    // Serializing our own plain structs to JSON cannot fail.
    serde_json::to_vec(v).expect("store records serialize")
}

fn dec<T: DeserializeOwned>(tree: &'static str, key: &[u8], bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        tree,
        key: String::from_utf8_lossy(key).into_owned(),
        message: e.to_string(),
    })
}

/// Every record of a tree, decoded, in key order.
fn records<T: DeserializeOwned>(tree: &sled::Tree, name: &'static str) -> impl Iterator<Item = Result<T>> {
    tree.iter().map(move |kv| {
        let (k, v) = kv?;
        dec(name, &k, &v)
    })
}

fn abort(e: TransactionError<StoreError>) -> StoreError {
    match e {
        TransactionError::Abort(e) => e,
        TransactionError::Storage(e) => StoreError::Sled(e),
    }
}

impl Batch {
    /// How many outbox entries this batch adds.
    pub fn delivery_count(&self) -> usize {
        self.deliveries.len() + self.fan_outs.iter().map(|f| f.targets.len()).sum::<usize>()
    }
}

impl Store {
    /// Opens (or creates) the store at `path`, claiming it for this process
    /// and checking its schema version.
    pub fn open(path: &Path) -> Result<Store> {
        let owner = std::sync::Arc::new(owner::claim(path)?);
        let db = sled::Config::new().path(path).mode(sled::Mode::LowSpace).open()?;
        let store = Store {
            meta: db.open_tree("meta")?,
            items: db.open_tree("items")?,
            feeds: db.open_tree("feeds")?,
            requests: db.open_tree("requests")?,
            subs: db.open_tree("subscriptions")?,
            subs_by_dest: db.open_tree("subscriptions_by_destination")?,
            chat_settings: db.open_tree("chat_settings")?,
            mutes: db.open_tree("mutes")?,
            pauses: db.open_tree("destination_pauses")?,
            alerts: db.open_tree("alerts")?,
            outbox: db.open_tree("outbox")?,
            fan_outs: db.open_tree("outbox_fan_outs")?,
            delivered: db.open_tree("delivered")?,
            dead: db.open_tree("dead_letters")?,
            reminders: db.open_tree("reminders_sent")?,
            cards: db.open_tree("cards")?,
            digests: db.open_tree("digests")?,
            calendar: CalendarTrees {
                sequences: db.open_tree("calendar_sequences")?,
                tokens: db.open_tree("calendar_tokens")?,
                discord_events: db.open_tree("discord_events")?,
            },
            telegram_chats: db.open_tree("telegram_chats")?,
            news: news::NewsTrees::open(&db)?,
            applied: std::sync::Arc::new(tokio::sync::watch::channel(0).0),
            outbox_count: Default::default(),
            flush_lock: Default::default(),
            io: Default::default(),
            _owner: owner,
            db,
        };
        match store.meta.get("schema_version")? {
            Some(v) => {
                let found: u64 = dec("meta", b"schema_version", &v)?;
                if found > SCHEMA_VERSION {
                    return Err(StoreError::Schema { path: path.display().to_string(), found });
                }
                if found < SCHEMA_VERSION {
                    store.meta.insert("schema_version", enc(&SCHEMA_VERSION))?;
                }
            }
            None => {
                store.meta.insert("schema_version", enc(&SCHEMA_VERSION))?;
            }
        }
        let pending = store.outbox_scan();
        store.outbox_count.store(i64::try_from(pending).unwrap_or(i64::MAX), Ordering::Relaxed);
        Ok(store)
    }

    /// Makes everything written so far durable. Flushes are serialized and
    /// run on the blocking pool: many concurrent `flush_async` calls starve
    /// sled 0.34's own I/O threads and deadlock (seen with a few hundred
    /// delivery tasks). A caller that waited for the lock finds its writes
    /// already covered by the flush before it, so that one is cheap.
    pub async fn flush(&self) -> Result<()> {
        let _one_at_a_time = self.flush_lock.lock().await;
        let db = self.db.clone();
        let io = self.io.clone();
        tokio::task::spawn_blocking(move || {
            let _exclusive = io.write().unwrap_or_else(|e| e.into_inner());
            db.flush()
        })
        .await
        .map_err(|e| StoreError::Sled(sled::Error::ReportableBug(format!("flush task failed: {e}"))))??;
        Ok(())
    }

    /// A fresh, never reused id for alerts, outbox entries and subscriptions.
    pub fn next_id(&self) -> Result<u64> {
        Ok(self.db.generate_id()?)
    }

    // ---- items and feeds -------------------------------------------------

    /// The stored snapshot of an item, if any.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn item(&self, id: &ItemId) -> Result<Option<Item>> {
        let key = id.key();
        self.items.get(&key)?.map(|v| dec("items", key.as_bytes(), &v)).transpose()
    }

    /// All stored items, in key order.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn items(&self) -> Result<Vec<Item>> {
        records(&self.items, "items").collect()
    }

    /// The ids of the stored items of one kind, read from the keys alone
    /// (no snapshot is decoded).
    pub(crate) fn item_ids(&self, kind: ItemKind) -> Result<Vec<ItemId>> {
        let prefix = format!("{kind}/");
        self.items
            .scan_prefix(prefix.as_bytes())
            .keys()
            .map(|k| Ok(ItemId::new(kind, String::from_utf8_lossy(&k?[prefix.len()..]).into_owned())))
            .collect()
    }

    /// How many item snapshots are stored.
    pub fn item_count(&self) -> usize {
        self.items.len()
    }

    /// A feed's progress; the default before its first poll.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn feed_state(&self, feed: Feed) -> Result<FeedState> {
        Ok(self
            .feeds
            .get(feed.as_str())?
            .map(|v| dec("feeds", feed.as_str().as_bytes(), &v))
            .transpose()?
            .unwrap_or_default())
    }

    /// Applies one processed page (or reminder pass) in one transaction.
    pub fn apply(&self, batch: &Batch) -> Result<()> {
        if let (Some(_), None) | (None, Some(_)) = (batch.feed, batch.feed_state.as_ref()) {
            debug_assert!(false, "feed and feed_state go together");
        }
        let item_rows: Vec<(String, Vec<u8>)> = batch.items.iter().map(|i| (i.id.key(), enc(i))).collect();
        let alert_rows: Vec<([u8; 8], Vec<u8>)> = batch.alerts.iter().map(|a| (a.id.0.to_be_bytes(), enc(a))).collect();
        let mut fan_out_rows = Vec::new();
        let folded = FanOutRecord::fold(&batch.deliveries);
        for r in batch.fan_outs.iter().flat_map(FanOutRecord::of).chain(folded) {
            fan_out_rows.push((fan_out_key(self.next_id()?, r.targets.len()), r.encode()));
        }
        let reminder_rows: Vec<(String, Vec<u8>)> =
            batch.reminders_sent.iter().map(|(k, v)| (k.key(), enc(v))).collect();
        let feed_row = batch.feed.zip(batch.feed_state.as_ref()).map(|(f, s)| (f.as_str(), enc(s)));
        let removed: Vec<String> = batch.removed.iter().map(ItemId::key).collect();
        let directory = batch.directory.as_ref().map(enc);
        let sequence_rows = self.sequence_rows(&batch.items)?;
        let added = fan_out_rows.iter().map(|(k, _)| fan_out_len(k)).sum::<usize>();

        let _shared = self.io.read().unwrap_or_else(|e| e.into_inner());
        // Counted before the commit: a delivery of these entries on another
        // thread must not take the counter below the truth.
        let counted = self.count_outbox(added);
        (&self.items, &self.alerts, &self.fan_outs, &self.reminders, &self.feeds, &self.meta, &self.calendar.sequences)
            .transaction(|(items, alerts, fan_outs, reminders, feeds, meta, sequences)| {
                for (k, v) in &item_rows {
                    items.insert(k.as_bytes(), v.as_slice())?;
                }
                for k in &removed {
                    items.remove(k.as_bytes())?;
                }
                for (k, v) in &alert_rows {
                    alerts.insert(k, v.as_slice())?;
                }
                for (k, v) in &fan_out_rows {
                    fan_outs.insert(k, v.as_slice())?;
                }
                for (k, v) in &reminder_rows {
                    reminders.insert(k.as_bytes(), v.as_slice())?;
                }
                if let Some((f, v)) = &feed_row {
                    feeds.insert(*f, v.as_slice())?;
                }
                if let Some(v) = &directory {
                    meta.insert("directory", v.as_slice())?;
                }
                for (k, v) in &sequence_rows {
                    sequences.insert(k.as_bytes(), v.as_slice())?;
                }
                Ok::<_, ConflictableTransactionError<StoreError>>(())
            })
            .map_err(abort)?;
        counted.commit();
        self.applied.send_modify(|n| *n = n.wrapping_add(1));
        Ok(())
    }

    /// The names seen so far (empty before the first sync).
    pub(crate) fn directory(&self) -> Result<Directory> {
        Ok(self.meta.get("directory")?.map(|v| dec("meta", b"directory", &v)).transpose()?.unwrap_or_default())
    }

    /// When a reminder was last sent, if ever.
    pub(crate) fn reminder_sent(&self, key: &ReminderKey) -> Result<Option<ReminderSent>> {
        let k = key.key();
        self.reminders.get(&k)?.map(|v| dec("reminders_sent", k.as_bytes(), &v)).transpose()
    }

    // ---- LL2 request log -------------------------------------------------

    /// Records an LL2 request before it is sent, durably, so the hourly
    /// budget holds across restarts and crashes.
    pub(crate) async fn record_request(&self, at: DateTime<Utc>) -> Result<()> {
        self.record_request_in(&self.requests, at).await
    }

    /// Times of LL2 requests at or after `since`; older entries are pruned.
    pub(crate) fn recent_requests(&self, since: DateTime<Utc>) -> Result<Vec<DateTime<Utc>>> {
        Self::recent_requests_in(&self.requests, since)
    }

    /// Records a request at `at` in the request log `log`, durably.
    async fn record_request_in(&self, log: &sled::Tree, at: DateTime<Utc>) -> Result<()> {
        let mut key = at.timestamp_millis().to_be_bytes().to_vec();
        key.extend_from_slice(&self.next_id()?.to_be_bytes());
        log.insert(key, &[])?;
        self.flush().await
    }

    /// The times in request log `log` at or after `since`; older ones go.
    fn recent_requests_in(log: &sled::Tree, since: DateTime<Utc>) -> Result<Vec<DateTime<Utc>>> {
        let cut = since.timestamp_millis().to_be_bytes();
        for old in log.range(..cut.as_slice()).keys() {
            log.remove(old?)?;
        }
        let mut out = Vec::new();
        for k in log.range(cut.as_slice()..).keys() {
            let k = k?;
            let millis = i64::from_be_bytes(k[..8].try_into().unwrap_or([0; 8]));
            if let Some(t) = Utc.timestamp_millis_opt(millis).single() {
                out.push(t);
            }
        }
        Ok(out)
    }

    // ---- subscriptions ---------------------------------------------------

    /// Every subscription, in id order.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn subscriptions(&self) -> Result<Vec<Subscription>> {
        records(&self.subs, "subscriptions").collect()
    }

    /// Visits every subscription in id order without holding them all.
    pub(crate) fn for_each_subscription(&self, mut f: impl FnMut(Subscription)) -> Result<()> {
        for sub in records(&self.subs, "subscriptions") {
            f(sub?);
        }
        Ok(())
    }

    /// One subscription by id.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn subscription(&self, id: SubId) -> Result<Option<Subscription>> {
        let k = id.0.to_be_bytes();
        self.subs.get(k)?.map(|v| dec("subscriptions", &k, &v)).transpose()
    }

    /// Inserts or replaces a subscription, keeping the by-destination index
    /// in step (a migrated chat moves its entries). Only the subscription
    /// API can call it (`Write`): it keeps the routing index in step too.
    pub(crate) fn put_subscription(&self, sub: &Subscription, _: &Write) -> Result<()> {
        let id = sub.id.0.to_be_bytes();
        let value = enc(sub);
        let new_dest = dest_index_key(&sub.destination, sub.id);
        let _shared = self.io.read().unwrap_or_else(|e| e.into_inner());
        (&self.subs, &self.subs_by_dest)
            .transaction(|(subs, by_dest)| {
                if let Some(old) = subs.insert(&id, value.as_slice())?
                    && let Ok(old) = serde_json::from_slice::<Subscription>(&old)
                {
                    by_dest.remove(dest_index_key(&old.destination, old.id))?;
                }
                by_dest.insert(new_dest.as_slice(), &[])?;
                Ok::<_, ConflictableTransactionError<StoreError>>(())
            })
            .map_err(abort)
    }

    /// Only the subscription API can call it; see `put_subscription`.
    pub(crate) fn remove_subscription(&self, id: SubId, _: &Write) -> Result<()> {
        let k = id.0.to_be_bytes();
        let _shared = self.io.read().unwrap_or_else(|e| e.into_inner());
        (&self.subs, &self.subs_by_dest)
            .transaction(|(subs, by_dest)| {
                if let Some(old) = subs.remove(&k)?
                    && let Ok(old) = serde_json::from_slice::<Subscription>(&old)
                {
                    by_dest.remove(dest_index_key(&old.destination, old.id))?;
                }
                Ok::<_, ConflictableTransactionError<StoreError>>(())
            })
            .map_err(abort)
    }

    /// The subscriptions of one destination, in id order.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn subscriptions_of(&self, dest: &Destination) -> Result<Vec<Subscription>> {
        let mut prefix = dest.storage_key().into_bytes();
        prefix.push(0);
        let mut out = Vec::new();
        for k in self.subs_by_dest.scan_prefix(&prefix).keys() {
            let k = k?;
            let id = u64::from_be_bytes(k[prefix.len()..].try_into().unwrap_or([0; 8]));
            if let Some(s) = self.subscription(SubId(id))? {
                out.push(s);
            }
        }
        Ok(out)
    }

    /// A chat's settings; `None` if it never set any.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn chat_settings(&self, dest: &Destination) -> Result<Option<ChatSettings>> {
        let k = dest.storage_key();
        self.chat_settings.get(&k)?.map(|v| dec("chat_settings", k.as_bytes(), &v)).transpose()
    }

    /// Replaces a chat's settings.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn put_chat_settings(&self, dest: &Destination, settings: &ChatSettings) -> Result<()> {
        self.chat_settings.insert(dest.storage_key(), enc(settings))?;
        Ok(())
    }

    // ---- mutes -------------------------------------------------------------

    /// Only the subscription API can call it: the routing index follows.
    pub(crate) fn put_mute(&self, mute: &Mute, _: &Write) -> Result<()> {
        self.mutes.insert(mute_key(&mute.destination, &mute.item), enc(mute))?;
        Ok(())
    }

    /// Only the subscription API can call it. Whether the mute existed.
    pub(crate) fn remove_mute(&self, dest: &Destination, item: &ItemId, _: &Write) -> Result<bool> {
        Ok(self.mutes.remove(mute_key(dest, item))?.is_some())
    }

    /// Whether the chat at `dest` muted `item`.
    pub(crate) fn is_muted(&self, dest: &Destination, item: &ItemId) -> Result<bool> {
        Ok(self.mutes.contains_key(mute_key(dest, item))?)
    }

    /// The items one destination muted, in key order.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn mutes_of(&self, dest: &Destination) -> Result<Vec<Mute>> {
        let mut prefix = dest.storage_key().into_bytes();
        prefix.push(0);
        self.mutes
            .scan_prefix(&prefix)
            .map(|kv| {
                let (k, v) = kv?;
                dec("mutes", &k, &v)
            })
            .collect()
    }

    /// Every mute of every destination.
    pub(crate) fn mutes(&self) -> Result<Vec<Mute>> {
        records(&self.mutes, "mutes").collect()
    }

    // ---- destination pauses ------------------------------------------------

    /// Only the subscription API can call it: pauses change with the
    /// subscriptions they hold back.
    pub(crate) fn put_pause(&self, pause: &DestinationPause, _: &Write) -> Result<()> {
        self.pauses.insert(pause.destination.storage_key(), enc(pause))?;
        Ok(())
    }

    /// Only the subscription API can call it. Whether a pause existed.
    pub(crate) fn remove_pause(&self, dest: &Destination, _: &Write) -> Result<bool> {
        Ok(self.pauses.remove(dest.storage_key())?.is_some())
    }

    /// The pause of `dest`, if it is paused.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn pause_of(&self, dest: &Destination) -> Result<Option<DestinationPause>> {
        let k = dest.storage_key();
        self.pauses.get(&k)?.map(|v| dec("destination_pauses", k.as_bytes(), &v)).transpose()
    }

    /// Every paused destination, in key order.
    pub(crate) fn pauses(&self) -> Result<Vec<DestinationPause>> {
        records(&self.pauses, "destination_pauses").collect()
    }

    // ---- outbox ----------------------------------------------------------

    /// An alert record by id.
    pub fn alert(&self, id: AlertId) -> Result<Option<Alert>> {
        let k = id.0.to_be_bytes();
        self.alerts.get(k)?.map(|v| dec("alerts", &k, &v)).transpose()
    }

    /// Up to `limit` pending entries in FIFO order. Fan-out records are
    /// turned into entries first, oldest first, while fewer than `limit`
    /// entries wait.
    pub fn pending(&self, limit: usize) -> Result<Vec<(OutboxKey, OutboxEntry)>> {
        self.pending_where(limit, |_, _| true)
    }

    /// Up to `limit` pending entries that `keep` accepts, in FIFO order.
    /// Entries it refuses neither count toward `limit` nor stop fan-out
    /// records from being turned into entries, so a mass of entries nobody
    /// can send (a platform without a sender) cannot crowd out the rest;
    /// `keep` sees each of them once per call, e.g. to expire them.
    pub(crate) fn pending_where(
        &self,
        limit: usize,
        mut keep: impl FnMut(OutboxKey, &OutboxEntry) -> bool,
    ) -> Result<Vec<(OutboxKey, OutboxEntry)>> {
        let mut out = Vec::new();
        if limit == 0 {
            return Ok(out);
        }
        let mut after: Option<sled::IVec> = None;
        loop {
            let rows = match &after {
                None => self.outbox.iter(),
                Some(k) => {
                    self.outbox.range::<&[u8], _>((std::ops::Bound::Excluded(k.as_ref()), std::ops::Bound::Unbounded))
                }
            };
            for kv in rows {
                let (k, v) = kv?;
                let key = OutboxKey(u64::from_be_bytes(k.as_ref().try_into().unwrap_or([0; 8])));
                let entry: OutboxEntry = dec("outbox", &k, &v)?;
                after = Some(k);
                if keep(key, &entry) {
                    out.push((key, entry));
                    if out.len() >= limit {
                        return Ok(out);
                    }
                }
            }
            // Expanded entries get fresh ids, so they follow `after`.
            if self.expand_oldest_fan_out()?.is_none() {
                return Ok(out);
            }
        }
    }

    /// Pending deliveries: outbox entries plus those still in fan-out
    /// records. O(1): read from the counter, not the trees (which a write
    /// being committed right now may already count).
    pub fn outbox_len(&self) -> usize {
        usize::try_from(self.outbox_count.load(Ordering::Relaxed).max(0)).unwrap_or(0)
    }

    /// [`outbox_len`](Self::outbox_len) by a scan of both trees.
    fn outbox_scan(&self) -> usize {
        self.outbox.len() + self.fan_outs.iter().keys().filter_map(|k| k.ok()).map(|k| fan_out_len(&k)).sum::<usize>()
    }

    /// Raises the outbox counter by `n` until the returned guard is
    /// committed; a guard dropped uncommitted (the write failed) takes it
    /// back.
    fn count_outbox(&self, n: usize) -> Counted<'_> {
        let n = i64::try_from(n).unwrap_or(i64::MAX);
        self.outbox_count.fetch_add(n, Ordering::Relaxed);
        Counted { count: &self.outbox_count, n }
    }

    /// Lowers the outbox counter after an entry left the outbox.
    fn uncount_outbox(&self, removed: bool) {
        if removed {
            self.outbox_count.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Replaces the oldest fan-out record by its outbox entries, in one
    /// transaction, and says how many it added; `None` when there is none.
    fn expand_oldest_fan_out(&self) -> Result<Option<usize>> {
        let Some((key, value)) = self.fan_outs.first()? else { return Ok(None) };
        let fan_out = FanOutRecord::decode(&key, &value)?;
        let mut rows = Vec::with_capacity(fan_out.targets.len());
        for entry in fan_out.entries() {
            rows.push((self.next_id()?.to_be_bytes(), enc(&entry)));
        }
        let _shared = self.io.read().unwrap_or_else(|e| e.into_inner());
        (&self.fan_outs, &self.outbox)
            .transaction(|(fan_outs, outbox)| {
                // Another caller expanded it meanwhile: nothing to add.
                if fan_outs.remove(&key)?.is_none() {
                    return Ok(0);
                }
                for (k, v) in &rows {
                    outbox.insert(k, v.as_slice())?;
                }
                Ok::<_, ConflictableTransactionError<StoreError>>(rows.len())
            })
            .map(Some)
            .map_err(abort)
    }

    /// The platform confirmed: the entry leaves the outbox and enters the
    /// delivery log in one step.
    pub fn complete(&self, key: OutboxKey, record: &Delivered) -> Result<()> {
        let k = key.0.to_be_bytes();
        let v = enc(record);
        let _shared = self.io.read().unwrap_or_else(|e| e.into_inner());
        let removed = (&self.outbox, &self.delivered)
            .transaction(|(outbox, delivered)| {
                let removed = outbox.remove(&k)?.is_some();
                delivered.insert(&k, v.as_slice())?;
                Ok::<_, ConflictableTransactionError<StoreError>>(removed)
            })
            .map_err(abort)?;
        self.uncount_outbox(removed);
        Ok(())
    }

    /// Drops an entry nobody wants any more (its chat muted the item).
    pub(crate) fn discard(&self, key: OutboxKey) -> Result<()> {
        let removed = self.outbox.remove(key.0.to_be_bytes())?.is_some();
        self.uncount_outbox(removed);
        Ok(())
    }

    /// Rewrites an entry in place (attempt count, next try).
    pub(crate) fn reschedule(&self, key: OutboxKey, entry: &OutboxEntry) -> Result<()> {
        let counted = self.count_outbox(1);
        if self.outbox.insert(key.0.to_be_bytes(), enc(entry))?.is_none() {
            // It had left meanwhile and is back: count it.
            counted.commit();
        }
        Ok(())
    }

    /// Gives up on an entry: it moves to the dead-letter tree with a reason,
    /// dated `at` (the caller's clock, which retention ages it by).
    pub fn dead_letter(&self, key: OutboxKey, entry: &OutboxEntry, reason: &str, at: DateTime<Utc>) -> Result<()> {
        let k = key.0.to_be_bytes();
        let v = enc(&DeadLetter { entry: entry.clone(), reason: reason.to_string(), at });
        let _shared = self.io.read().unwrap_or_else(|e| e.into_inner());
        let removed = (&self.outbox, &self.dead)
            .transaction(|(outbox, dead)| {
                let removed = outbox.remove(&k)?.is_some();
                dead.insert(&k, v.as_slice())?;
                Ok::<_, ConflictableTransactionError<StoreError>>(removed)
            })
            .map_err(abort)?;
        self.uncount_outbox(removed);
        Ok(())
    }

    /// Every delivery record.
    pub fn delivered(&self) -> Result<Vec<Delivered>> {
        records(&self.delivered, "delivered").collect()
    }

    /// Every dead letter.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn dead_letters(&self) -> Result<Vec<DeadLetter>> {
        records(&self.dead, "dead_letters").collect()
    }

    /// How many dead letters are kept.
    pub fn dead_letter_count(&self) -> usize {
        self.dead.len()
    }
}

/// A raise of the outbox counter that is taken back unless committed.
struct Counted<'a> {
    count: &'a std::sync::atomic::AtomicI64,
    n: i64,
}

impl Counted<'_> {
    /// The write happened: the raise stays.
    fn commit(mut self) {
        self.n = 0;
    }
}

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        self.count.fetch_sub(self.n, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests;
