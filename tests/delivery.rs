//! The deliverer itself: a wide fan-out through the real outbox completes
//! (every destination once, FIFO per destination) without stalling the
//! store; and what a platform reports about a destination (blocked bot,
//! migrated group) reaches routing at once, through the subscription API,
//! against the fake Telegram server.

mod support;

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use support::app::Recorder;
use support::data::upcoming_launch;
use support::fake_telegram::{Behaviour, FakeTelegram};
use tminus::deliver::{Deliverer, DeliveryConfig, DrainStats, Sender, Senders};
use tminus::detect::{Alert, AlertId, Change};
use tminus::item::Item;
use tminus::rules::{Filter, Origin, SubId, Subscription};
use tminus::store::{Batch, FanOut, Store};
use tminus::subscriptions::{Subscriptions, default_console_watch};
use tminus::telegram::{TelegramLimits, TelegramSender};
use tminus::types::Platform;
use tminus::types::{ChatId, Destination};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn wide_fan_out_completes_without_stalling() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let subs = Subscriptions::load(store.clone()).unwrap();
    let n = 600;
    for i in 0..n {
        let chat = Destination::Telegram(ChatId(i as i64 + 1));
        subs.put(&Subscription::new(SubId(i), chat, Filter::default(), Origin::Chat)).unwrap();
    }
    let mut batch = Batch::default();
    for a in 0..2u64 {
        let alert = Alert {
            id: AlertId(1_000_000 + a),
            item: upcoming_launch(),
            changes: vec![Change::New],
            detected_at: Utc::now(),
        };
        let ids: Vec<SubId> = (0..n).map(SubId).collect();
        let targets = subs.index().read().unwrap().targets(&ids);
        batch.fan_outs.push(FanOut { alert: alert.id, targets, enqueued_at: Utc::now() });
        batch.alerts.push(alert);
    }
    store.apply(&batch).unwrap();

    let recorder = Arc::new(Recorder::default());
    let deliverer = Arc::new(Deliverer::new(
        subs,
        Senders::default().with(Platform::Telegram, recorder.clone()),
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
}

/// A store, the subscription API and a deliverer sending to the fake
/// Telegram server.
struct Telegram {
    fake: FakeTelegram,
    store: Store,
    subs: Subscriptions,
    deliverer: Arc<Deliverer>,
    _dir: tempfile::TempDir,
}

impl Telegram {
    async fn start() -> Telegram {
        let fake = FakeTelegram::start().await;
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let subs = Subscriptions::load(store.clone()).unwrap();
        let limits = TelegramLimits::default().scaled(10.0);
        let sender = Arc::new(TelegramSender::new(&fake.token(), &fake.api_url(), limits).unwrap());
        let senders = Senders::default().with(Platform::Telegram, sender as Arc<dyn Sender>);
        let deliverer = Arc::new(Deliverer::new(subs.clone(), senders, DeliveryConfig::default()));
        Telegram { fake, store, subs, deliverer, _dir: dir }
    }

    /// Detects a change of `item` the way the poller commits one: routed by
    /// the live index, one outbox entry per subscription routed to.
    fn alert(&self, item: &Item) {
        let now = Utc::now();
        let alert = Alert {
            id: AlertId(self.store.next_id().unwrap()),
            item: item.clone(),
            changes: vec![Change::New],
            detected_at: now,
        };
        let targets = self.subs.index().read().map(|ix| ix.targets(&ix.route_alert(&alert))).unwrap();
        let fan_outs = vec![FanOut { alert: alert.id, targets, enqueued_at: now }];
        self.store.apply(&Batch { alerts: vec![alert], fan_outs, ..Batch::default() }).unwrap();
    }

    /// Destinations of the entries waiting in the outbox.
    fn queued_for(&self) -> Vec<Destination> {
        self.store.pending(usize::MAX).unwrap().into_iter().map(|(_, e)| e.destination).collect()
    }

    async fn drain(&self) -> DrainStats {
        self.deliverer.drain_once().await.unwrap()
    }
}

fn chat(id: i64) -> Destination {
    Destination::Telegram(ChatId(id))
}

#[tokio::test]
async fn a_chat_that_blocks_the_bot_leaves_routing_at_once() {
    let tg = Telegram::start().await;
    let watch = tminus::config::Watch {
        name: "everything".into(),
        to: vec![chat(100), chat(200)],
        ..default_console_watch(chrono_tz::UTC, vec![])
    };
    tg.subs.reconcile(&[watch]).unwrap();
    tg.fake.script(200, Behaviour::Blocked);
    let item = upcoming_launch();

    tg.alert(&item);
    let first = tg.drain().await;
    assert_eq!((first.delivered, first.dead), (1, 1), "{first:?}");
    for _ in 0..2 {
        tg.alert(&item);
        assert_eq!(tg.queued_for(), [chat(100)], "no outbox entry for the chat that blocked the bot");
        let later = tg.drain().await;
        assert_eq!((later.delivered, later.dead), (1, 0), "{later:?}");
    }
    assert_eq!(tg.store.dead_letter_count(), 1, "only the send that found out");
    assert_eq!(tg.fake.sent_to(100).len(), 3);
    assert!(tg.subs.all().unwrap().iter().any(|s| s.destination == chat(200) && !s.enabled));
}

#[tokio::test]
async fn a_migrated_group_is_routed_under_its_new_id_without_restart() {
    let tg = Telegram::start().await;
    let (old, new) = (-100, -1_000_000_000_100);
    let id = SubId(tg.store.next_id().unwrap());
    tg.subs.put(&Subscription::new(id, chat(old), Filter::default(), Origin::Chat)).unwrap();
    tg.fake.script(old, Behaviour::Migrated { to: new });
    let item = upcoming_launch();

    // The first send learns of the migration; the entry moves and is resent.
    tg.alert(&item);
    let first = tg.drain().await;
    assert_eq!((first.delivered, first.retried), (0, 1), "{first:?}");
    let resent = tg.drain().await;
    assert_eq!((resent.delivered, resent.dead), (1, 0), "{resent:?}");

    tg.fake.clear_calls();
    tg.alert(&item);
    assert_eq!(tg.queued_for(), [chat(new)], "routed under the new id");
    let next = tg.drain().await;
    assert_eq!((next.delivered, next.retried, next.dead), (1, 0, 0), "{next:?}");
    assert_eq!(tg.fake.sent_to(new).len(), 1);
    assert!(tg.fake.sent_to(old).is_empty(), "nothing tried at the old id");
    assert_eq!(tg.store.dead_letter_count(), 0);
    assert_eq!(tg.store.subscription(id).unwrap().map(|s| s.destination), Some(chat(new)));
}

/// Two entries of one alert to one chat (queued before routing merged
/// overlapping subscriptions into one): the chat gets one message.
#[tokio::test]
async fn two_entries_of_one_alert_to_one_chat_send_once() {
    let tg = Telegram::start().await;
    let mut targets = Vec::new();
    for _ in 0..2 {
        let id = SubId(tg.store.next_id().unwrap());
        tg.subs.put(&Subscription::new(id, chat(100), Filter::default(), Origin::Chat)).unwrap();
        targets.push(tminus::rules::Target { sub: id, destination: chat(100) });
    }
    let now = Utc::now();
    let id = AlertId(tg.store.next_id().unwrap());
    let alert = Alert { id, item: upcoming_launch(), changes: vec![Change::New], detected_at: now };
    let fan_outs = vec![FanOut { alert: id, targets, enqueued_at: now }];
    tg.store.apply(&Batch { alerts: vec![alert], fan_outs, ..Batch::default() }).unwrap();
    assert_eq!(tg.drain().await.delivered, 1);
    assert_eq!(tg.fake.sent_to(100).len(), 1);
    assert_eq!(tg.store.outbox_len(), 0);
}
