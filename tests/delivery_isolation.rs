//! Delivery isolation: every destination drains on its own. A destination
//! paused by its platform (a chat's 429 with a retry_after of minutes, the
//! bot-wide flood pause after many of them) or slow to answer delays no
//! other destination,
//! and entries of a platform without a sender neither crowd out the rest
//! nor stay forever. Real `Deliverer::run` and senders against the fake
//! Telegram and Discord servers; the console is a recorder.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use support::app::Recorder;
use support::data::upcoming_launch;
use support::fake_discord::{FakeDiscord, Fault, Target as DiscordTarget};
use support::fake_telegram::{Behaviour, FakeTelegram};
use tminus::deliver::{Deliverer, DeliveryConfig, Sender, Senders};
use tminus::detect::{Alert, AlertId, Change};
use tminus::discord::{DiscordSender, SenderConfig};
use tminus::rules::{Filter, Origin, SubId, Subscription, Target};
use tminus::store::{Batch, FanOut, Store};
use tminus::subscriptions::Subscriptions;
use tminus::telegram::{TelegramLimits, TelegramSender};
use tminus::types::Platform;
use tminus::types::{ChannelId, ChatId, Destination, ThreadId};
use tokio_util::sync::CancellationToken;

/// A forum group whose chat answers 429 (its topic shares the chat's
/// pause).
const A: i64 = -1_001_000_000_001;
/// A healthy Telegram chat.
const B: i64 = 2;
/// A healthy Discord channel.
const CHANNEL: u64 = 4242;
/// Long enough that waiting it out fails every deadline here.
const MINUTES: u32 = 120;
/// "Within one poll": far below any poll interval, far above a send.
const ONE_POLL: Duration = Duration::from_secs(5);
const DISCORD_TOKEN: &str = "test-bot-token";

struct Env {
    store: Store,
    subs: Subscriptions,
    tg: FakeTelegram,
    discord: FakeDiscord,
    console: Arc<Recorder>,
    deliverer: Arc<Deliverer>,
    stop: CancellationToken,
    _dir: tempfile::TempDir,
}

impl Env {
    /// Subscriptions to `to`, the deliverer running as in the daemon.
    async fn start(to: &[Destination]) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let subs = Subscriptions::load(store.clone()).unwrap();
        for dest in to {
            let id = SubId(store.next_id().unwrap());
            subs.put(&Subscription::new(id, dest.clone(), Filter::default(), Origin::Chat)).unwrap();
        }
        let tg = FakeTelegram::start().await;
        let discord = FakeDiscord::builder().token(DISCORD_TOKEN).start().await;
        let console = Arc::new(Recorder::default());
        let telegram = TelegramSender::new(&tg.token(), &tg.api_url(), TelegramLimits::default()).unwrap();
        let bot =
            DiscordSender::new(tminus::types::Secret::new(DISCORD_TOKEN), &discord.api_url(), SenderConfig::default())
                .unwrap();
        let senders = Senders::default()
            .with(Platform::Telegram, Arc::new(telegram) as Arc<dyn Sender>)
            .with(Platform::Discord, Arc::new(bot) as Arc<dyn Sender>)
            .with(Platform::Console, console.clone() as Arc<dyn Sender>);
        let deliverer = Arc::new(Deliverer::new(subs.clone(), senders, DeliveryConfig::default()));
        let stop = CancellationToken::new();
        let running = deliverer.clone();
        let token = stop.clone();
        tokio::spawn(async move { running.run(token).await });
        Env { store, subs, tg, discord, console, deliverer, stop, _dir: dir }
    }

    /// One alert routed to every subscription, committed and announced
    /// the way the poller does.
    fn alert(&self) {
        let alert = Alert {
            id: AlertId(self.store.next_id().unwrap()),
            item: upcoming_launch(),
            changes: vec![Change::New],
            detected_at: Utc::now(),
        };
        let targets = self.subs.index().read().map(|ix| ix.targets(&ix.route_alert(&alert))).unwrap();
        let fan_outs = vec![FanOut { alert: alert.id, targets, enqueued_at: Utc::now() }];
        self.store.apply(&Batch { alerts: vec![alert], fan_outs, ..Batch::default() }).unwrap();
        self.deliverer.wake.notify_one();
    }

    fn console_got(&self) -> usize {
        self.console.messages().len()
    }

    fn discord_got(&self) -> usize {
        self.discord.messages(DiscordTarget::Channel(CHANNEL)).len()
    }

    /// Waits until `done` holds, failing after [`ONE_POLL`].
    async fn within_one_poll(&self, what: &str, done: impl Fn(&Env) -> bool) {
        let start = Instant::now();
        while !done(self) {
            assert!(start.elapsed() < ONE_POLL, "{what}: not within {ONE_POLL:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

fn chat(id: i64) -> Destination {
    Destination::Telegram(ChatId(id))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_paused_for_minutes_holds_back_no_other_destination() {
    let topic = Destination::TelegramTopic(ChatId(A), ThreadId(5));
    let env = Env::start(&[chat(A), topic.clone(), chat(B), Destination::Console]).await;
    env.tg.script(A, Behaviour::RetryAfter { secs: MINUTES, times: 1000 });

    env.alert();
    env.within_one_poll("first alert to B and the console", |e| e.tg.sent_to(B).len() == 1 && e.console_got() == 1)
        .await;
    env.alert();
    env.within_one_poll("next alert to B and the console", |e| e.tg.sent_to(B).len() == 2 && e.console_got() == 2)
        .await;
    // A and its topic wait for A's pause, in the outbox, in order.
    let waiting: Vec<Destination> = env.store.pending(100).unwrap().into_iter().map(|(_, e)| e.destination).collect();
    assert_eq!(waiting.iter().filter(|d| **d == chat(A)).count(), 2, "{waiting:?}");
    assert_eq!(waiting.iter().filter(|d| **d == topic).count(), 2, "{waiting:?}");
    assert_eq!(env.store.dead_letter_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_paused_chats_hold_back_neither_the_console_nor_discord() {
    let paused: Vec<i64> = (11..=15).collect();
    let mut to: Vec<Destination> = paused.iter().map(|c| chat(*c)).collect();
    to.extend([chat(B), Destination::Console, Destination::Discord(ChannelId(CHANNEL))]);
    let env = Env::start(&to).await;
    for c in &paused {
        env.tg.script(*c, Behaviour::RetryAfter { secs: MINUTES, times: 1000 });
    }

    env.alert();
    env.within_one_poll("first alert to the console and Discord", |e| e.console_got() == 1 && e.discord_got() == 1)
        .await;
    // Five chats answered 429 at once: the bot-wide flood pause, so the
    // healthy Telegram chat B waits too, as Telegram asks.
    let start = Instant::now();
    while env.tg.count_status(429) < paused.len() {
        assert!(start.elapsed() < ONE_POLL, "the five chats were tried");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for n in 2..=3 {
        env.alert();
        env.within_one_poll("next alert to the console and Discord", |e| e.console_got() == n && e.discord_got() == n)
            .await;
    }
    assert_eq!(env.store.dead_letter_count(), 0, "paused is not given up on");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_endpoint_holds_back_no_other_destination() {
    let env = Env::start(&[Destination::Discord(ChannelId(CHANNEL)), Destination::Console, chat(B)]).await;
    // Each answer takes longer than every deadline here (the sender's own
    // timeout is 15 s).
    for _ in 0..4 {
        env.discord.fail_once(DiscordTarget::Channel(CHANNEL), Fault::Slow(Duration::from_secs(12)));
    }
    for n in 1..=3 {
        env.alert();
        env.within_one_poll("the console and Telegram", |e| e.console_got() == n && e.tg.sent_to(B).len() == n).await;
    }
}

/// Entries for a platform without a sender (its token was removed) fill a
/// whole batch of the outbox; the console still delivers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_thousand_entries_without_a_sender_crowd_out_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let subs = Subscriptions::load(store.clone()).unwrap();
    let console_sub = SubId(store.next_id().unwrap());
    subs.put(&Subscription::new(console_sub, Destination::Console, Filter::default(), Origin::Chat)).unwrap();
    let config = DeliveryConfig::default();
    let orphans = config.batch;
    let mut batch = Batch::default();
    for (n, targets) in [
        (
            0,
            (0..orphans as u64)
                .map(|i| Target { sub: SubId(i), destination: Destination::Discord(ChannelId(i + 1)) })
                .collect(),
        ),
        (1, vec![Target { sub: console_sub, destination: Destination::Console }]),
    ] {
        let alert = Alert {
            id: AlertId(1000 + n),
            item: upcoming_launch(),
            changes: vec![Change::New],
            detected_at: Utc::now(),
        };
        batch.fan_outs.push(FanOut { alert: alert.id, targets, enqueued_at: Utc::now() });
        batch.alerts.push(alert);
    }
    store.apply(&batch).unwrap();

    let console = Arc::new(Recorder::default());
    let senders = Senders::default().with(Platform::Console, console.clone() as Arc<dyn Sender>);
    let deliverer = Arc::new(Deliverer::new(subs, senders, config));
    let stats = deliverer.drain_once().await.unwrap();
    assert_eq!((stats.delivered, stats.waiting), (1, orphans), "{stats:?}");
    assert_eq!(console.messages().len(), 1);
    assert_eq!(store.outbox_len(), orphans, "the orphans wait for their max age");
}

/// Past `max_age`, entries of a platform without a sender move to dead
/// letters that say why.
#[tokio::test]
async fn entries_without_a_sender_expire_into_dead_letters() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let subs = Subscriptions::load(store.clone()).unwrap();
    let alert = Alert { id: AlertId(7), item: upcoming_launch(), changes: vec![Change::New], detected_at: Utc::now() };
    let targets = (0..50u64).map(|i| Target { sub: SubId(i), destination: chat(i as i64 + 1) }).collect();
    let old = Utc::now() - chrono::Duration::hours(2);
    let young = Target { sub: SubId(99), destination: chat(99) };
    store
        .apply(&Batch {
            fan_outs: vec![
                FanOut { alert: alert.id, targets, enqueued_at: old },
                FanOut { alert: alert.id, targets: vec![young], enqueued_at: Utc::now() },
            ],
            alerts: vec![alert],
            ..Batch::default()
        })
        .unwrap();
    let config = DeliveryConfig { max_age: Duration::from_secs(3600), ..DeliveryConfig::default() };
    let deliverer = Arc::new(Deliverer::new(subs, Senders::default(), config));
    let stats = deliverer.drain_once().await.unwrap();
    assert_eq!((stats.dead, stats.waiting), (50, 1), "{stats:?}");
    let dead = store.dead_letters().unwrap();
    assert!(dead.iter().all(|d| d.reason.contains("no telegram sender")), "{:?}", dead[0].reason);
    assert_eq!(store.outbox_len(), 1, "the young one still waits");
}
