//! The stored form of a fan-out (see the store's module doc): one record
//! per up to `FAN_OUT_CHUNK` deliveries of one alert and at most
//! [`MAX_RECORD_BYTES`], in a compact binary layout, and how it unfolds
//! into outbox entries. It only encodes and decodes; the store decides
//! when records are written and expanded.
//!
//! Why records stay small: sled 0.34 writes a page image larger than a
//! quarter of its segment (512 KiB by default, so ~128 KiB) to a blob file
//! of its own, and never fsyncs blob files; such a record would be less
//! durable after `Store::flush` than every other record (a power loss
//! could lose it while the log says it exists). A leaf page holds at most
//! 17 records (sled splits a leaf of more than 16), so 17 records of at
//! most [`MAX_RECORD_BYTES`] plus their 12-byte keys and framing (~112 KB)
//! stay under the threshold even when sled writes the whole page.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{FAN_OUT_CHUNK, FanOut, OutboxEntry, Result, StoreError, dec, enc};
use crate::detect::AlertId;
use crate::rules::{SubId, Target};
use crate::types::{ChannelId, ChatId, Destination, Secret};

/// The largest record [`FanOutRecord::of`] and [`FanOutRecord::fold`]
/// write, encoded (see the module doc). Only a single target larger than
/// this (a webhook URL of kilobytes) gets a larger record, of its own.
pub(crate) const MAX_RECORD_BYTES: usize = 6 * 1024;

// A full leaf's page image (17 records with keys and framing) stays under
// sled's blob threshold, a quarter of its default 512 KiB segment.
const _: () = assert!(17 * (MAX_RECORD_BYTES + 12 + 32) < 512 * 1024 / 4 - 20);

/// Deliveries not yet turned into outbox entries: what the entries share
/// once (JSON), then per entry the subscription and destination in a
/// fixed binary layout (`FanOutRecord::encode`), ~17 bytes instead of ~60 as
/// JSON, which is what keeps a million of them under the memory budget.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct Shared {
    alert: AlertId,
    enqueued_at: DateTime<Utc>,
    #[serde(default)]
    attempts: u32,
    #[serde(default)]
    not_before: Option<DateTime<Utc>>,
}

pub(super) struct FanOutRecord<'a> {
    pub(super) shared: Shared,
    pub(super) targets: Cow<'a, [Target]>,
}

const CONSOLE: u8 = 0;
const TELEGRAM: u8 = 1;
const DISCORD: u8 = 2;
const WEBHOOK: u8 = 3;
/// Any other destination, as its JSON: rarer kinds need no layout of their
/// own, and a kind added later is stored without a format change.
const OTHER: u8 = 255;

impl FanOutRecord<'_> {
    /// The alert these deliveries carry.
    pub(super) fn alert(&self) -> AlertId {
        self.shared.alert
    }

    /// Records of at most `FAN_OUT_CHUNK` targets and [`MAX_RECORD_BYTES`]
    /// for a fan-out.
    pub(super) fn of(f: &FanOut) -> impl Iterator<Item = FanOutRecord<'_>> {
        let shared = Shared { alert: f.alert, enqueued_at: f.enqueued_at, attempts: 0, not_before: None };
        let shared_len = enc(&shared).len();
        runs(&f.targets, shared_len)
            .map(move |run| FanOutRecord { shared: shared.clone(), targets: Cow::Borrowed(run) })
    }

    /// Folds single entries into records: consecutive entries that share
    /// alert, time and attempt state, cut like [`of`](Self::of) cuts.
    pub(super) fn fold(entries: &[OutboxEntry]) -> Vec<FanOutRecord<'static>> {
        let mut groups: Vec<(Shared, Vec<Target>)> = Vec::new();
        for e in entries {
            let target = Target { sub: e.sub, destination: e.destination.clone() };
            let shared =
                Shared { alert: e.alert, enqueued_at: e.enqueued_at, attempts: e.attempts, not_before: e.not_before };
            match groups.last_mut() {
                Some((s, targets)) if *s == shared => targets.push(target),
                _ => groups.push((shared, vec![target])),
            }
        }
        let mut out = Vec::new();
        for (shared, targets) in groups {
            let shared_len = enc(&shared).len();
            for run in runs(&targets, shared_len) {
                out.push(FanOutRecord { shared: shared.clone(), targets: Cow::Owned(run.to_vec()) });
            }
        }
        out
    }

    /// `[u32 length of the shared JSON][shared JSON][targets]`, each target
    /// `[u64 sub][u8 platform][i64 chat | u64 channel | u16 length + URL]`.
    pub(super) fn encode(&self) -> Vec<u8> {
        let shared = enc(&self.shared);
        let mut out = Vec::with_capacity(4 + shared.len() + self.targets.len() * 17);
        out.extend_from_slice(&(shared.len() as u32).to_be_bytes());
        out.extend_from_slice(&shared);
        for t in self.targets.iter() {
            out.extend_from_slice(&t.sub.0.to_be_bytes());
            match &t.destination {
                Destination::Console => out.push(CONSOLE),
                Destination::Telegram(c) => {
                    out.push(TELEGRAM);
                    out.extend_from_slice(&c.0.to_be_bytes());
                }
                Destination::Discord(c) => {
                    out.push(DISCORD);
                    out.extend_from_slice(&c.0.to_be_bytes());
                }
                Destination::DiscordWebhook(url) => {
                    out.push(WEBHOOK);
                    let url = url.expose().as_bytes();
                    // Webhook URLs are ~120 bytes; u16 is plenty.
                    out.extend_from_slice(&(url.len().min(u16::MAX as usize) as u16).to_be_bytes());
                    out.extend_from_slice(&url[..url.len().min(u16::MAX as usize)]);
                }
                other => {
                    out.push(OTHER);
                    let json = enc(other);
                    out.extend_from_slice(&(json.len() as u32).to_be_bytes());
                    out.extend_from_slice(&json);
                }
            }
        }
        out
    }

    pub(super) fn decode(key: &[u8], bytes: &[u8]) -> Result<FanOutRecord<'static>> {
        let corrupt = || StoreError::Corrupt {
            tree: "outbox_fan_outs",
            key: format!("{key:?}"),
            message: "fan-out record ends early or names an unknown platform".into(),
        };
        let mut rest = bytes;
        let mut take = |n: usize| -> Option<&[u8]> {
            let (head, tail) = rest.split_at_checked(n)?;
            rest = tail;
            Some(head)
        };
        let u64_of = |b: &[u8]| u64::from_be_bytes(b.try_into().unwrap_or_default());
        let len = u32::from_be_bytes(take(4).ok_or_else(corrupt)?.try_into().unwrap_or_default()) as usize;
        let shared: Shared = dec("outbox_fan_outs", key, take(len).ok_or_else(corrupt)?)?;
        let mut targets = Vec::with_capacity(fan_out_len(key));
        while let Some(sub) = take(8) {
            let sub = SubId(u64_of(sub));
            let destination = match take(1).ok_or_else(corrupt)?[0] {
                CONSOLE => Destination::Console,
                TELEGRAM => Destination::Telegram(ChatId(u64_of(take(8).ok_or_else(corrupt)?) as i64)),
                DISCORD => Destination::Discord(ChannelId(u64_of(take(8).ok_or_else(corrupt)?))),
                WEBHOOK => {
                    let n = u16::from_be_bytes(take(2).ok_or_else(corrupt)?.try_into().unwrap_or_default());
                    let url = take(n as usize).ok_or_else(corrupt)?;
                    Destination::DiscordWebhook(Secret::new(String::from_utf8_lossy(url)))
                }
                OTHER => {
                    let n = u32::from_be_bytes(take(4).ok_or_else(corrupt)?.try_into().unwrap_or_default());
                    dec("outbox_fan_outs", key, take(n as usize).ok_or_else(corrupt)?)?
                }
                _ => return Err(corrupt()),
            };
            targets.push(Target { sub, destination });
        }
        if !rest.is_empty() {
            return Err(corrupt());
        }
        Ok(FanOutRecord { shared, targets: Cow::Owned(targets) })
    }

    pub(super) fn entries(self) -> impl Iterator<Item = OutboxEntry> {
        let Shared { alert, enqueued_at, attempts, not_before } = self.shared;
        self.targets.into_owned().into_iter().map(move |t| OutboxEntry {
            alert,
            sub: t.sub,
            destination: t.destination,
            enqueued_at,
            attempts,
            not_before,
        })
    }
}

/// How many bytes `target` takes in [`FanOutRecord::encode`].
fn encoded_len(target: &Target) -> usize {
    8 + 1
        + match &target.destination {
            Destination::Console => 0,
            Destination::Telegram(_) | Destination::Discord(_) => 8,
            Destination::DiscordWebhook(url) => 2 + url.expose().len().min(u16::MAX as usize),
            other => 4 + enc(other).len(),
        }
}

/// `targets` cut into runs of at most `FAN_OUT_CHUNK` targets whose
/// record (with a shared part of `shared_len` bytes) encodes to at most
/// [`MAX_RECORD_BYTES`]; a run holds at least one target.
fn runs(targets: &[Target], shared_len: usize) -> impl Iterator<Item = &[Target]> {
    let mut rest = targets;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let mut bytes = 4 + shared_len;
        let mut n = 0;
        while let Some(t) = rest.get(n).filter(|_| n < FAN_OUT_CHUNK) {
            let len = encoded_len(t);
            if n > 0 && bytes + len > MAX_RECORD_BYTES {
                break;
            }
            bytes += len;
            n += 1;
        }
        let (run, tail) = rest.split_at(n.max(1));
        rest = tail;
        Some(run)
    })
}

/// A fan-out record's key: its id (write order), then how many entries it
/// holds, so `outbox_len` counts them from the keys alone.
pub(super) fn fan_out_key(id: u64, len: usize) -> [u8; 12] {
    let mut k = [0u8; 12];
    k[..8].copy_from_slice(&id.to_be_bytes());
    k[8..].copy_from_slice(&(len as u32).to_be_bytes());
    k
}

pub(super) fn fan_out_len(key: &[u8]) -> usize {
    key.get(8..12).and_then(|b| b.try_into().ok()).map_or(0, |b| u32::from_be_bytes(b) as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_corrupt_fan_out_record_is_reported() {
        let key = fan_out_key(1, 1);
        let shared = FanOutRecord {
            shared: Shared { alert: AlertId(1), enqueued_at: Utc::now(), attempts: 0, not_before: None },
            targets: Cow::Owned(vec![Target { sub: SubId(1), destination: Destination::Telegram(ChatId(5)) }]),
        };
        let mut bytes = shared.encode();
        assert_eq!(FanOutRecord::decode(&key, &bytes).unwrap().targets.len(), 1);
        bytes.pop();
        assert!(matches!(FanOutRecord::decode(&key, &bytes), Err(StoreError::Corrupt { .. })));
    }

    fn mixed(n: u64) -> Vec<Target> {
        let dest = |i: u64| match i % 5 {
            0 => Destination::Console,
            1 => Destination::Telegram(ChatId(-(i as i64))),
            2 => Destination::Discord(ChannelId(i << 40)),
            3 => Destination::DiscordEvents(crate::types::GuildId(i)),
            _ => Destination::DiscordWebhook(Secret::new(format!(
                "https://discord.com/api/webhooks/{i}/{}",
                "t".repeat(68 + (i % 40) as usize)
            ))),
        };
        (0..n).map(|i| Target { sub: SubId(i), destination: dest(i) }).collect()
    }

    /// A 100,000-target fan-out becomes records under sled's blob
    /// threshold (see the module doc) that read back as the same targets,
    /// in order; folded single entries are cut the same way.
    #[test]
    fn a_big_fan_out_is_stored_in_records_under_the_blob_threshold() {
        let targets = mixed(100_000);
        let now = Utc::now();
        let fan_out = FanOut { alert: AlertId(7), targets: targets.clone(), enqueued_at: now };
        let mut back = Vec::new();
        let mut records = 0;
        for (i, r) in FanOutRecord::of(&fan_out).enumerate() {
            let bytes = r.encode();
            assert!(bytes.len() <= MAX_RECORD_BYTES, "record {i}: {} bytes", bytes.len());
            let key = fan_out_key(i as u64, r.targets.len());
            let decoded = FanOutRecord::decode(&key, &bytes).unwrap();
            assert_eq!(decoded.shared, r.shared);
            back.extend(decoded.targets.into_owned());
            records += 1;
        }
        assert_eq!(back, targets, "every target once, in order");
        assert!(records < 1000, "{records} records");

        let entries: Vec<OutboxEntry> = targets[..5_000]
            .iter()
            .map(|t| OutboxEntry {
                alert: AlertId(8),
                sub: t.sub,
                destination: t.destination.clone(),
                enqueued_at: now,
                attempts: 1,
                not_before: Some(now),
            })
            .collect();
        let folded = FanOutRecord::fold(&entries);
        assert!(folded.iter().all(|r| r.encode().len() <= MAX_RECORD_BYTES));
        let unfolded: Vec<OutboxEntry> = folded.into_iter().flat_map(FanOutRecord::entries).collect();
        assert_eq!(unfolded, entries);
    }
}
