//! Unit tests of the store: transactions, records, trees.
use super::*;
use crate::detect::Change;
use crate::detect::tests::sample_launch;
use crate::types::{ChannelId, ChatId, Secret};

#[tokio::test]
async fn batch_commits_together_and_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let item = sample_launch();
    {
        let store = Store::open(dir.path()).unwrap();
        let alert = Alert {
            id: AlertId(store.next_id().unwrap()),
            item: item.clone(),
            changes: vec![Change::New],
            detected_at: Utc::now(),
        };
        let state =
            FeedState { watermark: Some(Watermark(item.last_updated)), first_sync_done: true, ..Default::default() };
        store
            .apply(&Batch {
                feed: Some(Feed::Launches),
                items: vec![item.clone()],
                deliveries: vec![OutboxEntry {
                    alert: alert.id,
                    sub: SubId(1),
                    destination: Destination::Console,
                    enqueued_at: Utc::now(),
                    attempts: 0,
                    not_before: None,
                }],
                alerts: vec![alert],
                feed_state: Some(state),
                ..Default::default()
            })
            .unwrap();
        store.flush().await.unwrap();
    }
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.item(&item.id).unwrap().as_ref(), Some(&item));
    assert_eq!(store.item_ids(ItemKind::Launch).unwrap(), std::slice::from_ref(&item.id));
    assert!(store.item_ids(ItemKind::Event).unwrap().is_empty());
    assert_eq!(store.feed_state(Feed::Launches).unwrap().watermark, Some(Watermark(item.last_updated)));
    let pending = store.pending(10).unwrap();
    assert_eq!(pending.len(), 1);
    let (key, entry) = &pending[0];
    assert!(store.alert(entry.alert).unwrap().is_some());
    store
        .complete(
            *key,
            &Delivered {
                alert: entry.alert,
                sub: entry.sub,
                destination: Destination::Console,
                message_id: None,
                at: Utc::now(),
            },
        )
        .unwrap();
    assert_eq!(store.outbox_len(), 0);
    assert_eq!(store.delivered().unwrap().len(), 1);
}

#[tokio::test]
async fn request_log_prunes_old_entries() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let now = Utc::now();
    store.record_request(now - chrono::Duration::hours(2)).await.unwrap();
    store.record_request(now - chrono::Duration::minutes(5)).await.unwrap();
    store.record_request(now).await.unwrap();
    assert_eq!(store.recent_requests(now - chrono::Duration::hours(1)).unwrap().len(), 2);
    assert_eq!(store.recent_requests(now - chrono::Duration::hours(3)).unwrap().len(), 2, "pruned for good");
}

#[tokio::test]
async fn batches_keep_calendar_sequences_and_signal_changes() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut changes = store.changes();
    let mut item = sample_launch();
    store.apply(&Batch { items: vec![item.clone()], ..Default::default() }).unwrap();
    assert!(changes.has_changed().unwrap(), "a committed batch wakes the calendar sync");
    changes.mark_unchanged();
    assert_eq!(store.sequence(&item.id).unwrap().map(|s| s.sequence), Some(0));
    item.when = item.when.map(|w| w + chrono::Duration::hours(1));
    store.apply(&Batch { items: vec![item.clone()], ..Default::default() }).unwrap();
    assert_eq!(store.sequence(&item.id).unwrap().map(|s| s.sequence), Some(1));
    assert!(changes.has_changed().unwrap());
}

#[test]
fn calendar_mirrors_get_no_outbox_entries() {
    use crate::rules::{Filter, Origin};
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let subs = crate::subscriptions::Subscriptions::load(store.clone()).unwrap();
    let mut ids = Vec::new();
    for dest in [Destination::Calendar("c".into()), Destination::DiscordEvents(GuildId(1)), Destination::Console] {
        let id = SubId(store.next_id().unwrap());
        subs.put(&Subscription::new(id, dest, Filter::default(), Origin::Chat)).unwrap();
        ids.push(id);
    }
    let targets = subs.index().read().unwrap().targets(&ids);
    let fan_outs = vec![FanOut { alert: AlertId(1), targets, enqueued_at: Utc::now() }];
    store.apply(&Batch { fan_outs, ..Default::default() }).unwrap();
    let entries = store.pending(10).unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].1.destination, Destination::Console);
}

#[test]
fn calendar_tokens_are_revocable() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let chat = Destination::Telegram(crate::types::ChatId(-5));
    store.set_calendar_token(&chat, "aaa").unwrap();
    assert_eq!(store.calendar_token_destination("aaa").unwrap(), Some(chat.clone()));
    store.set_calendar_token(&chat, "bbb").unwrap();
    assert_eq!(store.calendar_token_destination("aaa").unwrap(), None);
    assert_eq!(store.calendar_token(&chat).unwrap().as_deref(), Some("bbb"));
    assert_eq!(store.calendar_token_destination("\0telegram:-5").unwrap(), None);
}

#[test]
fn fan_outs_become_one_outbox_entry_per_target_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let now = Utc::now();
    let dest = |i: u64| match i % 4 {
        0 => Destination::Console,
        1 => Destination::Telegram(ChatId(-(i as i64))),
        2 => Destination::Discord(ChannelId(i << 40)),
        _ => Destination::DiscordWebhook(Secret::new(format!("https://discord.com/api/webhooks/{i}/t"))),
    };
    let n = FAN_OUT_CHUNK as u64 * 2 + 3;
    let targets: Vec<Target> = (0..n).map(|i| Target { sub: SubId(i), destination: dest(i) }).collect();
    let single = OutboxEntry {
        alert: AlertId(2),
        sub: SubId(9),
        destination: Destination::Console,
        enqueued_at: now,
        attempts: 2,
        not_before: Some(now),
    };
    let batch = Batch {
        fan_outs: vec![FanOut { alert: AlertId(1), targets: targets.clone(), enqueued_at: now }],
        deliveries: vec![single.clone()],
        ..Default::default()
    };
    assert_eq!(batch.delivery_count(), n as usize + 1);
    let records: Vec<usize> = FanOutRecord::of(&batch.fan_outs[0]).map(|r| r.targets.len()).collect();
    assert!(records.len() > 2, "{records:?}");
    store.apply(&batch).unwrap();
    assert_eq!(store.fan_outs.len(), records.len() + 1, "the fan-out's records, one for the single entry");
    assert_eq!(store.outbox_len(), n as usize + 1);

    let first = store.pending(10).unwrap();
    assert_eq!(store.outbox.len(), records[0], "only the oldest record was expanded");
    assert_eq!(store.outbox_len(), n as usize + 1, "expanding neither adds nor loses");
    assert_eq!(first.len(), 10);
    let all = store.pending(usize::MAX).unwrap();
    let got: Vec<Target> =
        all.iter().take(n as usize).map(|(_, e)| Target { sub: e.sub, destination: e.destination.clone() }).collect();
    assert_eq!(got, targets, "FIFO, every target once");
    assert!(all[..n as usize].iter().all(|(_, e)| e.alert == AlertId(1) && e.enqueued_at == now && e.attempts == 0));
    assert_eq!(all.last().unwrap().1, single);
    assert_eq!(store.fan_outs.len(), 0);
}

#[test]
fn newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        store.meta.insert("schema_version", enc(&(SCHEMA_VERSION + 1))).unwrap();
        store.db.flush().unwrap();
    }
    let err = reopen(dir.path()).err().expect("refused");
    assert!(err.to_string().contains("schema version"), "{err}");
}

/// Opens a store that was just closed. sled releases its file lock from a
/// background thread shortly after the last handle is dropped, so an
/// immediate reopen in the same process can briefly fail to lock.
fn reopen(path: &std::path::Path) -> std::result::Result<Store, StoreError> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match Store::open(path) {
            Err(e) if std::time::Instant::now() < deadline && e.to_string().contains("could not acquire lock") => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => return other,
        }
    }
}

/// The outbox depth is a counter (no scan): it follows every write that
/// adds or removes deliveries, never counts one twice, and a reopened
/// store counts what is left.
#[test]
fn the_outbox_counter_follows_every_change_and_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let now = Utc::now();
    {
        let store = Store::open(dir.path()).unwrap();
        let targets: Vec<Target> =
            (0..5).map(|i| Target { sub: SubId(i), destination: Destination::Telegram(ChatId(i as i64)) }).collect();
        let fan_outs = vec![FanOut { alert: AlertId(1), targets, enqueued_at: now }];
        store.apply(&Batch { fan_outs, ..Default::default() }).unwrap();
        assert_eq!((store.outbox_len(), store.outbox_scan()), (5, 5));
        let pending = store.pending(usize::MAX).unwrap();
        assert_eq!(store.outbox_len(), 5, "expanding moves, it neither adds nor removes");
        let (k0, e0) = &pending[0];
        let done =
            Delivered { alert: e0.alert, sub: e0.sub, destination: e0.destination.clone(), message_id: None, at: now };
        store.complete(*k0, &done).unwrap();
        store.complete(*k0, &done).unwrap();
        store.discard(pending[1].0).unwrap();
        store.dead_letter(pending[2].0, &pending[2].1, "gone", now).unwrap();
        store.reschedule(pending[3].0, &OutboxEntry { attempts: 1, ..pending[3].1.clone() }).unwrap();
        assert_eq!((store.outbox_len(), store.outbox_scan()), (2, 2), "a second completion counts nothing");
    }
    let store = reopen(dir.path()).unwrap();
    assert_eq!(store.outbox_len(), 2);
}

/// sled 0.34 never fsyncs its blob files: after a flush, a 100,000-target
/// fan-out (webhooks among the targets) must not have made any, so it is
/// as durable as every other record.
#[tokio::test]
async fn a_big_fan_out_makes_no_blob_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let dest = |i: u64| match i % 3 {
        0 => Destination::Telegram(ChatId(-(i as i64))),
        1 => Destination::Discord(ChannelId(i << 40)),
        _ => {
            Destination::DiscordWebhook(Secret::new(format!("https://discord.com/api/webhooks/{i}/{}", "t".repeat(68))))
        }
    };
    let targets: Vec<Target> = (0..100_000).map(|i| Target { sub: SubId(i), destination: dest(i) }).collect();
    let fan_outs = vec![FanOut { alert: AlertId(1), targets: targets.clone(), enqueued_at: Utc::now() }];
    store.apply(&Batch { fan_outs, ..Default::default() }).unwrap();
    store.pending(5_000).unwrap();
    store.flush().await.unwrap();
    let blobs: Vec<_> = std::fs::read_dir(dir.path().join("blobs")).map(|d| d.flatten().collect()).unwrap_or_default();
    assert!(blobs.is_empty(), "{} blob files", blobs.len());
    // Read back: the expanded entries, then the records still folded.
    let mut back: Vec<Target> = Vec::new();
    back.extend(records(&store.outbox, "outbox").map(|e: Result<OutboxEntry>| {
        let e = e.unwrap();
        Target { sub: e.sub, destination: e.destination }
    }));
    for kv in store.fan_outs.iter() {
        let (k, v) = kv.unwrap();
        back.extend(FanOutRecord::decode(&k, &v).unwrap().targets.into_owned());
    }
    assert_eq!(back, targets);
}
