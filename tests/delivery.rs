//! The deliverer itself, platform-agnostic: a wide fan-out through the real
//! outbox completes (every destination once, FIFO per destination) without
//! stalling the store.

mod support;

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use support::app::Recorder;
use tminus::deliver::{Deliverer, DeliveryConfig, Senders};
use tminus::detect::{Alert, AlertId, Change};
use tminus::rules::{Filter, Origin, SubId, Subscription};
use tminus::store::{Batch, Store};
use tminus::types::{AlertKind, ChatId, Destination, ItemId, ItemKind};

fn item() -> tminus::item::Item {
    let body =
        std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/ll2/launches-2.3.0-upcoming-detailed.json"))
            .unwrap();
    let page = tminus::ll2::parse_page(tminus::types::Feed::Launches, &body).unwrap();
    page.items.into_iter().next().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn wide_fan_out_completes_without_stalling() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let n = 600;
    for i in 0..n {
        store
            .put_subscription(&Subscription {
                id: SubId(i),
                destination: Destination::Telegram(ChatId(i as i64 + 1)),
                filter: Filter::default(),
                alerts: AlertKind::ALL.to_vec(),
                reminders: vec![],
                timezone: chrono_tz::UTC,
                enabled: true,
                origin: Origin::Chat,
            })
            .unwrap();
    }
    let mut batch = Batch::default();
    for a in 0..2u64 {
        let alert = Alert { id: AlertId(1_000_000 + a), item: item(), change: Change::New, detected_at: Utc::now() };
        let subs: Vec<SubId> = (0..n).map(SubId).collect();
        batch.deliveries.extend(store.outbox_entries(alert.id, &subs, Utc::now()).unwrap());
        batch.alerts.push(alert);
    }
    store.apply(&batch).unwrap();

    let recorder = Arc::new(Recorder::default());
    let deliverer = Arc::new(Deliverer::new(
        store.clone(),
        Senders::default().with("telegram", recorder.clone()),
        DeliveryConfig::default(),
    ));
    let stats = tokio::time::timeout(Duration::from_secs(60), deliverer.drain_once()).await.expect("no stall").unwrap();
    assert_eq!(stats.delivered, 2 * n as usize);
    assert_eq!(store.outbox_len(), 0);

    // Each destination got both alerts, in the order they were enqueued.
    let sent = recorder.messages();
    for chat in 1..=n as i64 {
        let order: Vec<_> = sent.iter().filter(|(d, _)| *d == Destination::Telegram(ChatId(chat))).collect();
        assert_eq!(order.len(), 2, "chat {chat}");
    }
    let _ = ItemId::new(ItemKind::Launch, "unused");
}
