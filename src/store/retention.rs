//! Retention: removes what is only history once it is older than the
//! configured age (`[store] retention`) — delivered records, dead letters,
//! reminder marks, live card ids not touched since, alerts no pending
//! outbox entry refers to, and snapshots of items whose date is that far
//! in the past (long gone from LL2's upcoming lists). Each call removes at
//! most `batch` records per tree so the background task never holds the
//! store for long.
//!
//! It must not touch the outbox, subscriptions, chat settings, feed state
//! or the request log, and never an alert a pending delivery needs. The
//! clock is the caller's (`cutoff`), so tests control it.
//!
//! After a pass that removed records, [`release_freed_memory`] hands the
//! heap pages that sled and the decoded records left free back to the
//! operating system. glibc's allocator otherwise keeps them: the retention
//! soak showed resident memory creeping up by ~0.07 MiB a day while the
//! live data stayed flat, and flat once the freed pages were returned.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;

use super::{DeadLetter, Delivered, OutboxEntry, ReminderSent, Result, Store, dec};
use crate::detect::Alert;
use crate::item::Item;

/// Returns freed heap pages to the operating system (glibc's
/// `malloc_trim`); a no-op with other allocators. Cheap enough to call
/// after each retention pass, not meant for hot paths (it walks the heap).
pub fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory of glibc's own heap; it
    // has no preconditions and leaves every live allocation in place.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// How many records one `Store::prune` call removed, by tree.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Delivery records.
    pub delivered: usize,
    /// Dead letters.
    pub dead_letters: usize,
    /// Sent-reminder records.
    pub reminders: usize,
    /// Alerts (none still waiting in a fan-out).
    pub alerts: usize,
    /// Item snapshots.
    pub items: usize,
    /// Calendar sequence rows of items that are gone and dated before the
    /// cutoff (one per item ever seen otherwise).
    pub sequences: usize,
    /// Live card records not touched since the cutoff.
    pub(crate) cards: usize,
}

impl Pruned {
    /// Records removed from all trees together.
    pub fn total(&self) -> usize {
        self.delivered + self.dead_letters + self.reminders + self.alerts + self.items + self.sequences + self.cards
    }
}

/// Removes up to `batch` records of `tree` for which `old` holds.
fn prune_tree<T: DeserializeOwned>(
    tree: &sled::Tree,
    name: &'static str,
    batch: usize,
    old: impl Fn(&T) -> bool,
) -> Result<usize> {
    let mut doomed = Vec::new();
    for kv in tree.iter() {
        let (k, v) = kv?;
        if old(&dec::<T>(name, &k, &v)?) {
            doomed.push(k);
            if doomed.len() >= batch {
                break;
            }
        }
    }
    for k in &doomed {
        tree.remove(k)?;
    }
    Ok(doomed.len())
}

impl Store {
    /// One batch of pruning: records older than `cutoff`, at most `batch`
    /// per tree. Call again while it returns a non-zero total.
    pub fn prune(&self, cutoff: DateTime<Utc>, batch: usize) -> Result<Pruned> {
        let _shared = self.io.read().unwrap_or_else(|e| e.into_inner());
        let mut pending: HashSet<_> = self
            .outbox
            .iter()
            .map(|kv| {
                let (k, v) = kv?;
                Ok(dec::<OutboxEntry>("outbox", &k, &v)?.alert)
            })
            .collect::<Result<_>>()?;
        // Deliveries not yet unfolded into outbox entries need their alert too.
        for kv in self.fan_outs.iter() {
            let (k, v) = kv?;
            pending.insert(super::fan_out::FanOutRecord::decode(&k, &v)?.alert());
        }
        Ok(Pruned {
            delivered: prune_tree(&self.delivered, "delivered", batch, |d: &Delivered| d.at < cutoff)?,
            dead_letters: prune_tree(&self.dead, "dead_letters", batch, |d: &DeadLetter| d.at < cutoff)?,
            reminders: prune_tree(&self.reminders, "reminders_sent", batch, |r: &ReminderSent| r.sent_at < cutoff)?,
            alerts: prune_tree(&self.alerts, "alerts", batch, |a: &Alert| {
                a.detected_at < cutoff && !pending.contains(&a.id)
            })?,
            items: prune_tree(&self.items, "items", batch, |i: &Item| i.when.is_some_and(|w| w < cutoff))?,
            sequences: self.prune_sequences(cutoff, batch)?,
            cards: self.prune_cards(cutoff, batch)?,
        })
    }

    /// Sequence rows of items no longer in the store whose last known date
    /// is before `cutoff`: a gone item that comes back within the retention
    /// keeps counting up, so calendars take its updates.
    fn prune_sequences(&self, cutoff: DateTime<Utc>, batch: usize) -> Result<usize> {
        let mut doomed = Vec::new();
        for kv in self.calendar.sequences.iter() {
            let (k, v) = kv?;
            let seq: super::Sequenced = dec("calendar_sequences", &k, &v)?;
            if !self.items.contains_key(&k)? && seq.schedule.when.is_none_or(|w| w < cutoff) {
                doomed.push(k);
                if doomed.len() >= batch {
                    break;
                }
            }
        }
        for k in &doomed {
            self.calendar.sequences.remove(k)?;
        }
        Ok(doomed.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::tests::sample_launch;
    use crate::detect::{AlertId, Change};
    use crate::rules::SubId;
    use crate::store::{Batch, OutboxKey, ReminderKey};
    use crate::types::Destination;

    fn at(days: i64) -> DateTime<Utc> {
        "2030-01-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap() + chrono::Duration::days(days)
    }

    /// The platform confirmed `entry` on day `day`.
    fn delivered(store: &Store, key: OutboxKey, entry: &OutboxEntry, day: i64) {
        let record = Delivered {
            alert: entry.alert,
            sub: entry.sub,
            destination: entry.destination.clone(),
            message_id: None,
            at: at(day),
        };
        store.complete(key, &record).unwrap();
    }

    /// An alert detected on day `day` with its outbox entry (key = id).
    fn alert(store: &Store, day: i64, item_when: i64) -> (OutboxKey, OutboxEntry) {
        let mut item = sample_launch();
        item.id.id = format!("item-{day}-{item_when}");
        item.when = Some(at(item_when));
        let id = AlertId(store.next_id().unwrap());
        let entry = OutboxEntry {
            alert: id,
            sub: SubId(1),
            destination: Destination::Console,
            enqueued_at: at(day),
            attempts: 0,
            not_before: None,
        };
        let a = Alert::new(id, item.clone(), vec![Change::New], at(day));
        let reminder =
            (ReminderKey { item: item.id.clone(), offset_secs: 600 }, ReminderSent { when: at(day), sent_at: at(day) });
        store
            .apply(&Batch {
                items: vec![item],
                alerts: vec![a],
                deliveries: vec![entry.clone()],
                reminders_sent: vec![reminder],
                ..Default::default()
            })
            .unwrap();
        let key = store.pending(usize::MAX).unwrap().into_iter().find(|(_, e)| e.alert == id).unwrap().0;
        (key, entry)
    }

    #[test]
    fn prunes_by_age_in_batches_and_keeps_what_pending_deliveries_need() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        // Day 0: delivered; day 1: dead-lettered; day 2: still pending
        // (a long retry); day 40: delivered, recent.
        let (k, e) = alert(&store, 0, 0);
        delivered(&store, k, &e, 0);
        let (k, e) = alert(&store, 1, 1);
        store.dead_letter(k, &e, "gone", at(1)).unwrap();
        let (_, pending) = alert(&store, 2, 2);
        let (k, e) = alert(&store, 40, 45);
        delivered(&store, k, &e, 40);

        // Day 20 with 30 days of retention: nothing is old enough.
        assert_eq!(store.prune(at(20) - chrono::Duration::days(30), 100).unwrap(), Pruned::default());
        // Day 45: days 0..2 go, one record per tree per batch.
        let cutoff = at(45) - chrono::Duration::days(30);
        let first = store.prune(cutoff, 1).unwrap();
        assert_eq!(
            first,
            Pruned { delivered: 1, dead_letters: 1, reminders: 1, alerts: 1, items: 1, sequences: 1, cards: 0 }
        );
        let mut total = first;
        loop {
            let p = store.prune(cutoff, 1).unwrap();
            if p.total() == 0 {
                break;
            }
            total.reminders += p.reminders;
            total.alerts += p.alerts;
            total.items += p.items;
        }
        assert_eq!((total.reminders, total.alerts, total.items), (3, 2, 3), "{total:?}");
        assert!(store.alert(pending.alert).unwrap().is_some(), "a pending delivery keeps its alert");
        assert_eq!(store.outbox_len(), 1, "the outbox is never pruned");
        assert_eq!(store.delivered().unwrap().len(), 1, "the recent delivery stays");
        assert!(store.dead_letters().unwrap().is_empty());
        assert_eq!(store.item_count(), 1, "the item of day 45 stays");
    }

    #[test]
    fn sequences_of_gone_items_go_after_their_date() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let item = sample_launch();
        store.apply(&Batch { items: vec![item.clone()], ..Batch::default() }).unwrap();
        assert!(store.sequence(&item.id).unwrap().is_some());
        let after = item.when.unwrap() + chrono::Duration::days(1);
        // Still listed: kept whatever the date.
        store.apply(&Batch { removed: vec![], ..Batch::default() }).unwrap();
        assert_eq!(store.prune_sequences(after, 10).unwrap(), 0);
        store.apply(&Batch { removed: vec![item.id.clone()], ..Batch::default() }).unwrap();
        let before = item.when.unwrap() - chrono::Duration::days(1);
        assert_eq!(store.prune_sequences(before, 10).unwrap(), 0, "gone, but its date is recent");
        assert_eq!(store.prune_sequences(after, 10).unwrap(), 1);
        assert!(store.sequence(&item.id).unwrap().is_none());
    }
}
