//! The stored side of digests (`crate::digest`): the queued digests and,
//! per destination and schedule, the due moment last handled. Defined here
//! so the store depends on no feature that uses it. One tree, `digests`:
//! `r\0<id>` → [`DigestRecord`], `m\0<destination>\0<schedule>` → the due
//! moment last handled.
//!
//! A digest, its mark and its outbox entry (a one-target fan-out record,
//! so the outbox stays FIFO) commit in one transaction: a kill at any
//! moment leaves either all three or none, so a digest is queued once per
//! due moment, never twice and never lost.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sled::Transactional;
use sled::transaction::ConflictableTransactionError;

use super::fan_out::{FanOutRecord, fan_out_key};
use super::{OutboxEntry, Result, Store, StoreError, abort, dec, enc};
use crate::detect::AlertId;
use crate::rules::{DigestSchedule, SubId};
use crate::types::{Destination, ItemId};

/// One digest queued for one destination: what it lists, decided when it
/// came due. Its outbox entry carries `id` where an alert's carries the
/// alert id (ids never repeat across both), and the deliverer renders it
/// from the items' snapshots as they are at send time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct DigestRecord {
    /// The id its outbox entry carries.
    pub(crate) id: AlertId,
    /// Where it goes.
    pub(crate) destination: Destination,
    /// The schedule that made it (the destination's subscriptions with this
    /// schedule decide zone and loudness at send time).
    pub(crate) schedule: DigestSchedule,
    /// The due moment it is for.
    pub(crate) due: DateTime<Utc>,
    /// The end of the span it lists.
    pub(crate) until: DateTime<Utc>,
    /// The listed items, in date order.
    pub(crate) items: Vec<ItemId>,
}

fn record_key(id: AlertId) -> Vec<u8> {
    let mut k = b"r\0".to_vec();
    k.extend_from_slice(&id.0.to_be_bytes());
    k
}

fn mark_key(dest: &Destination, schedule: DigestSchedule) -> Vec<u8> {
    format!("m\0{}\0{schedule}", dest.storage_key()).into_bytes()
}

impl Store {
    /// The due moment of `schedule` at `dest` last handled (queued, or
    /// found empty), if any.
    pub(crate) fn digest_handled(&self, dest: &Destination, schedule: DigestSchedule) -> Result<Option<DateTime<Utc>>> {
        let k = mark_key(dest, schedule);
        self.digests.get(&k)?.map(|v| dec("digests", &k, &v)).transpose()
    }

    /// Records `due` as handled without queuing anything (the list was
    /// empty), so it is not looked at again.
    pub(crate) fn digest_skipped(
        &self,
        dest: &Destination,
        schedule: DigestSchedule,
        due: DateTime<Utc>,
    ) -> Result<()> {
        self.digests.insert(mark_key(dest, schedule), enc(&due))?;
        Ok(())
    }

    /// Queues `digest` for delivery, led by subscription `lead`, and marks
    /// its due moment handled, in one transaction.
    pub(crate) fn enqueue_digest(&self, digest: &DigestRecord, lead: SubId, now: DateTime<Utc>) -> Result<()> {
        let entry = OutboxEntry {
            alert: digest.id,
            sub: lead,
            destination: digest.destination.clone(),
            enqueued_at: now,
            attempts: 0,
            not_before: None,
        };
        let mut fan_out_rows = Vec::new();
        for r in FanOutRecord::fold(std::slice::from_ref(&entry)) {
            fan_out_rows.push((fan_out_key(self.next_id()?, r.targets.len()), r.encode()));
        }
        let (rk, rv) = (record_key(digest.id), enc(digest));
        let (mk, mv) = (mark_key(&digest.destination, digest.schedule), enc(&digest.due));
        let _shared = self.io.read().unwrap_or_else(|e| e.into_inner());
        let counted = self.count_outbox(1);
        (&self.digests, &self.fan_outs)
            .transaction(|(digests, fan_outs)| {
                digests.insert(rk.as_slice(), rv.as_slice())?;
                digests.insert(mk.as_slice(), mv.as_slice())?;
                for (k, v) in &fan_out_rows {
                    fan_outs.insert(k.as_slice(), v.as_slice())?;
                }
                Ok::<_, ConflictableTransactionError<StoreError>>(())
            })
            .map_err(abort)?;
        counted.commit();
        Ok(())
    }

    /// The queued digest an outbox entry names, if `id` is a digest's.
    pub(crate) fn digest(&self, id: AlertId) -> Result<Option<DigestRecord>> {
        let k = record_key(id);
        self.digests.get(&k)?.map(|v| dec("digests", &k, &v)).transpose()
    }

    /// Drops digest records due before `before` (their deliveries ended
    /// long ago: outbox entries expire after `max_age`); marks stay.
    /// Returns how many went.
    pub(crate) fn prune_digests(&self, before: DateTime<Utc>) -> Result<usize> {
        let mut gone = 0;
        for kv in self.digests.scan_prefix(b"r\0") {
            let (k, v) = kv?;
            let record: DigestRecord = dec("digests", &k, &v)?;
            if record.due < before {
                self.digests.remove(k)?;
                gone += 1;
            }
        }
        Ok(gone)
    }
}
