//! Forum topics and public channels end to end: the real Telegram sender,
//! the real command bot (teloxide, long polling the fake Bot API) and the
//! real deliverer. A watch to `telegram:CHAT/77` posts into topic 77 and one
//! to `telegram:@spacenews` into that channel by its username; `/subscribe`
//! sent inside topic 12 is answered in topic 12 and binds the alerts there;
//! a closed or deleted topic stops that topic's subscription only.

mod support;

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use support::app::{App, AppOptions};
use support::fake_ll2::FakeLl2;
use support::fake_telegram::{Call, FakeTelegram, MemberStatus, message_update, topic_message_update};
use tminus::deliver::{Deliverer, DeliveryConfig, Sender, Senders};
use tminus::poller::BudgetWait;
use tminus::subscriptions::default_console_watch;
use tminus::telegram::{TelegramLimits, TelegramSender};
use tminus::types::{ChatId, Destination, Feed, ThreadId};
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(10);
/// A forum supergroup.
const FORUM: i64 = -1_001_234_567_890;
const CHANNEL: i64 = -1_009_876_543_210;
const ADMIN: i64 = 7;
const SPACEX_LAUNCH: &str = "521f3a1c-f977-4306-9b7f-495858719adf";

struct Harness {
    tg: FakeTelegram,
    ll2: FakeLl2,
    app: App,
    deliverer: Arc<Deliverer>,
    stop: CancellationToken,
}

impl Harness {
    async fn start(to: &[&str]) -> Harness {
        support::logs::logs();
        let ll2 = FakeLl2::start().await;
        let mut watch = default_console_watch(chrono_tz::UTC, vec![Duration::from_secs(3600)]);
        watch.name = "ops".into();
        watch.to = to.iter().map(|d| d.parse().unwrap()).collect();
        let watches = if to.is_empty() { vec![] } else { vec![watch] };
        let mut app = App::start(AppOptions { watches, ..AppOptions::new(ll2.ll2_config()) }).await;
        app.cycle().await;
        let tg = FakeTelegram::start().await;
        tg.add_channel(CHANNEL, "spacenews");
        tg.set_member(FORUM, ADMIN, MemberStatus::Administrator);
        let sender = TelegramSender::new(&tg.token(), &tg.api_url(), TelegramLimits::default().scaled(10.0)).unwrap();
        let senders = Senders::default().with("telegram", Arc::new(sender) as Arc<dyn Sender>);
        let deliverer = Arc::new(Deliverer::new(app.subs.clone(), senders, DeliveryConfig::default()));
        let stop = CancellationToken::new();
        app.start_command_bot(&tg, &stop).await;
        Harness { tg, ll2, app, deliverer, stop }
    }

    /// Sends `update` and waits for the next plain-text reply in `chat`.
    async fn ask(&self, chat: i64, update: serde_json::Value) -> Call {
        let before = self.replies(chat).len();
        self.tg.push_update(update);
        let ok = self.tg.wait_until(WAIT, |calls| calls.iter().filter(|c| is_reply_to(c, chat)).count() > before).await;
        assert!(ok, "no reply");
        self.replies(chat)[before].clone()
    }

    fn replies(&self, chat: i64) -> Vec<Call> {
        self.tg.calls().into_iter().filter(|c| is_reply_to(c, chat)).collect()
    }

    fn alerts(&self) -> Vec<Call> {
        self.tg.sent().into_iter().filter(|c| c.parse_mode.as_deref() == Some("HTML")).collect()
    }

    /// Changes the launch's status in LL2, polls and delivers.
    async fn status_change(&mut self, name: &str, id: i64) {
        self.ll2.set_field(Feed::Launches, SPACEX_LAUNCH, "/status", json!({"id": id, "name": name, "abbrev": name}));
        self.app.poller.poll_feed(Feed::Launches, BudgetWait::Skip).await.unwrap();
        self.deliverer.drain_once().await.unwrap();
    }
}

fn is_reply_to(c: &Call, chat: i64) -> bool {
    c.is_delivery() && c.is("sendMessage") && c.chat_id == Some(chat) && c.parse_mode.is_none()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watches_post_into_a_topic_and_a_channel_by_username() {
    let mut h = Harness::start(&["telegram:-1001234567890/77", "telegram:@spacenews"]).await;
    h.status_change("On Hold", 5).await;
    let alerts = h.alerts();
    assert_eq!(alerts.len(), 2, "{alerts:?}");
    let topic = alerts.iter().find(|c| c.chat_id == Some(FORUM)).expect("an alert into the forum");
    assert_eq!(topic.thread_id, Some(77));
    let channel = alerts.iter().find(|c| c.chat_id == Some(CHANNEL)).expect("an alert to the channel");
    assert_eq!(channel.chat_username.as_deref(), Some("@spacenews"));
    assert_eq!(channel.thread_id, None);

    // The channel reported its numeric id in the answer; the next alert
    // still goes to @spacenews, once.
    h.status_change("Go", 1).await;
    let to_channel: Vec<Call> = h.alerts().into_iter().filter(|c| c.chat_id == Some(CHANNEL)).collect();
    assert_eq!(to_channel.len(), 2);
    assert!(to_channel.iter().all(|c| c.chat_username.as_deref() == Some("@spacenews")));
    h.stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_inside_a_topic_binds_alerts_and_replies_to_it() {
    let mut h = Harness::start(&[]).await;
    let reply = h.ask(FORUM, topic_message_update(FORUM, ADMIN, 12, "/subscribe agency SpaceX")).await;
    assert!(reply.text.as_deref().unwrap().contains("Subscribed #1"), "{reply:?}");
    assert_eq!(reply.thread_id, Some(12), "answered in the topic it came from");
    let reply = h.ask(FORUM, message_update(FORUM, ADMIN, "/list")).await;
    assert_eq!(reply.thread_id, None, "the General topic");
    assert!(
        reply.text.as_deref().unwrap().starts_with("No subscriptions here"),
        "the topic's subscription is the topic's: {reply:?}"
    );
    let reply = h.ask(FORUM, topic_message_update(FORUM, ADMIN, 12, "/list")).await;
    assert!(reply.text.as_deref().unwrap().contains("1. agency SpaceX"), "{reply:?}");

    h.status_change("On Hold", 5).await;
    let alerts = h.alerts();
    assert_eq!(alerts.len(), 1);
    assert_eq!((alerts[0].chat_id, alerts[0].thread_id), (Some(FORUM), Some(12)));
    h.stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_topic_stops_its_own_subscription_only() {
    let mut h = Harness::start(&[]).await;
    for (thread, text) in [(Some(12), "/subscribe"), (Some(13), "/subscribe"), (None, "/subscribe")] {
        let update = match thread {
            Some(t) => topic_message_update(FORUM, ADMIN, t, text),
            None => message_update(FORUM, ADMIN, text),
        };
        assert!(h.ask(FORUM, update).await.text.unwrap().contains("Subscribed"));
    }
    h.tg.close_topic(FORUM, 12);
    h.tg.delete_topic(FORUM, 13);
    h.status_change("On Hold", 5).await;
    let topic = |t| Destination::TelegramTopic(ChatId(FORUM), ThreadId(t));
    let enabled = |d: &Destination| h.app.store.subscriptions_of(d).unwrap().iter().all(|s| s.enabled);
    assert!(!enabled(&topic(12)), "closed topic disabled");
    assert!(!enabled(&topic(13)), "deleted topic disabled");
    assert!(enabled(&Destination::Telegram(ChatId(FORUM))), "the rest of the group still hears");
    let general = h.alerts().into_iter().filter(|c| c.thread_id.is_none()).count();
    assert_eq!(general, 1);
    h.status_change("Go", 1).await;
    assert_eq!(h.alerts().into_iter().filter(|c| c.thread_id.is_none()).count(), 2);
    assert_eq!(h.tg.calls().iter().filter(|c| c.thread_id.is_some() && !c.ok()).count(), 2, "no retries");
    h.stop.cancel();
}
