//! Muting one item end to end: the real Telegram sender puts a Mute button
//! under alerts to a chat's own subscriptions, the real command bot
//! (teloxide, long polling the fake Bot API) handles the press — toast,
//! keyboard swapped for Unmute — and from then on neither alerts nor
//! reminders about that item reach that chat, queued ones included, while
//! another chat and a config watch to a third chat still get them. Bad
//! button data, presses by group members and presses on old messages are
//! answered politely and mute nothing.

mod support;

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use support::app::{App, AppOptions};
use support::fake_ll2::FakeLl2;
use support::fake_telegram::{Call, FakeTelegram, MemberStatus, message_update};
use tminus::deliver::{Deliverer, DeliveryConfig, Sender, Senders};
use tminus::poller::BudgetWait;
use tminus::subscriptions::default_console_watch;
use tminus::telegram::{TelegramLimits, TelegramSender};
use tminus::types::{ChatId, Destination, Feed, ItemId, ItemKind};
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(10);
const ALICE: i64 = 555;
const BOB: i64 = 666;
/// The config watch's chat.
const OPS: i64 = 777;
const GROUP: i64 = -4242;
const ADMIN: i64 = 7;
const MEMBER: i64 = 8;
const SPACEX_LAUNCH: &str = "521f3a1c-f977-4306-9b7f-495858719adf";

struct Harness {
    tg: FakeTelegram,
    ll2: FakeLl2,
    app: App,
    deliverer: Arc<Deliverer>,
    stop: CancellationToken,
}

impl Harness {
    async fn start() -> Harness {
        support::logs::logs();
        let ll2 = FakeLl2::start().await;
        let mut ops = default_console_watch(chrono_tz::UTC, vec![Duration::from_secs(3600)]);
        ops.name = "ops".into();
        ops.to = vec![Destination::Telegram(ChatId(OPS))];
        let mut app = App::start(AppOptions { watches: vec![ops], ..AppOptions::new(ll2.ll2_config()) }).await;
        app.cycle().await;
        let tg = FakeTelegram::start().await;
        tg.set_chat_kind(GROUP, "group");
        let sender = TelegramSender::new(&tg.token(), &tg.api_url(), TelegramLimits::default().scaled(10.0)).unwrap();
        let senders = Senders::default().with("telegram", Arc::new(sender) as Arc<dyn Sender>);
        let deliverer = Arc::new(Deliverer::new(app.subs.clone(), senders, DeliveryConfig::default()));
        let stop = CancellationToken::new();
        app.start_command_bot(&tg, &stop).await;
        Harness { tg, ll2, app, deliverer, stop }
    }

    /// `text` from `user` in `chat`; waits for the reply.
    async fn ask(&self, chat: i64, user: i64, text: &str) -> String {
        let before = self.messages(chat).len();
        self.tg.push_update(message_update(chat, user, text));
        let ok =
            self.tg.wait_until(WAIT, |calls| calls.iter().filter(|c| is_message_to(c, chat)).count() > before).await;
        assert!(ok, "no reply to {text:?}");
        self.messages(chat)[before].text.clone().unwrap()
    }

    fn messages(&self, chat: i64) -> Vec<Call> {
        self.tg.calls().into_iter().filter(|c| is_message_to(c, chat)).collect()
    }

    /// Alerts (HTML messages and photos) sent to `chat`.
    fn alerts(&self, chat: i64) -> Vec<Call> {
        let alert = |c: &Call| c.is_delivery() && c.chat_id == Some(chat) && c.parse_mode.as_deref() == Some("HTML");
        self.tg.calls().into_iter().filter(alert).collect()
    }

    /// Changes the launch's status in LL2, polls and delivers.
    async fn status_change(&mut self, name: &str, id: i64) {
        self.ll2.set_field(Feed::Launches, SPACEX_LAUNCH, "/status", json!({"id": id, "name": name, "abbrev": name}));
        self.app.poller.poll_feed(Feed::Launches, BudgetWait::Skip).await.unwrap();
    }

    /// Presses the button with `data` under `message` in `chat` as `user`;
    /// the toast it was answered with.
    async fn press(&self, chat: i64, user: i64, message: i64, data: &str) -> String {
        let before = self.tg.calls_to("answerCallbackQuery").len();
        self.tg.push_update(self.tg.callback_update(chat, user, message, data));
        let ok = self
            .tg
            .wait_until(WAIT, |calls| calls.iter().filter(|c| c.is("answerCallbackQuery")).count() > before)
            .await;
        assert!(ok, "press answered");
        let answer = self.tg.calls_to("answerCallbackQuery")[before].clone();
        assert!(answer.ok(), "{answer:?}");
        answer.params["text"].as_str().unwrap_or_default().to_string()
    }
}

fn is_message_to(c: &Call, chat: i64) -> bool {
    c.is_delivery() && c.is("sendMessage") && c.chat_id == Some(chat)
}

/// The callback buttons of an alert: (label, data).
fn callbacks(markup: Option<&Value>) -> Vec<(String, String)> {
    let Some(rows) = markup.and_then(|m| m["inline_keyboard"].as_array()) else { return vec![] };
    rows.iter()
        .flat_map(|r| r.as_array().unwrap().iter())
        .filter_map(|b| Some((b["text"].as_str()?.to_string(), b["callback_data"].as_str()?.to_string())))
        .collect()
}

fn mute_data() -> String {
    format!("mute:launch/{SPACEX_LAUNCH}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mute_button_silences_one_item_in_one_chat() {
    let mut h = Harness::start().await;
    for chat in [ALICE, BOB] {
        assert!(h.ask(chat, chat, "/subscribe agency SpaceX").await.contains("Subscribed #1"));
    }
    h.status_change("On Hold", 5).await;
    h.deliverer.drain_once().await.unwrap();
    let alert = h.alerts(ALICE).pop().expect("an alert to Alice");
    assert_eq!(callbacks(alert.reply_markup.as_ref()), [("🔕 Mute".to_string(), mute_data())]);
    assert_eq!(h.alerts(BOB).len(), 1);
    let ops = h.alerts(OPS);
    assert_eq!(ops.len(), 1);
    assert!(callbacks(ops[0].reply_markup.as_ref()).is_empty(), "config watches cannot be muted from the chat");

    // Queued before the press: dropped at delivery.
    h.status_change("Go", 1).await;
    let toast = h.press(ALICE, ALICE, alert.message_id.unwrap(), &mute_data()).await;
    assert!(toast.starts_with("🔕 Muted Falcon Heavy"), "{toast}");
    let swapped = h.tg.wait_until(WAIT, |calls| calls.iter().any(|c| c.is("editMessageReplyMarkup") && c.ok())).await;
    assert!(swapped, "the button was swapped");
    let markup = h.tg.reply_markup(ALICE, alert.message_id.unwrap());
    assert_eq!(callbacks(markup.as_ref()), [("🔔 Unmute".to_string(), format!("unmute:launch/{SPACEX_LAUNCH}"))]);
    h.deliverer.drain_once().await.unwrap();
    assert_eq!((h.alerts(ALICE).len(), h.alerts(BOB).len(), h.alerts(OPS).len()), (1, 2, 2));

    // Routed after the press: never queued for Alice.
    h.status_change("On Hold", 5).await;
    assert_eq!(h.app.store.outbox_len(), 2, "Bob and the watch only");
    h.deliverer.drain_once().await.unwrap();
    assert_eq!((h.alerts(ALICE).len(), h.alerts(BOB).len(), h.alerts(OPS).len()), (1, 3, 3));

    // Reminders too.
    let item = h.app.store.item(&ItemId::new(ItemKind::Launch, SPACEX_LAUNCH)).unwrap().unwrap();
    let fired = h.app.reminders.pass(item.when.unwrap() - chrono::Duration::minutes(59)).await.unwrap();
    assert!(fired >= 1);
    h.deliverer.drain_once().await.unwrap();
    assert_eq!((h.alerts(ALICE).len(), h.alerts(BOB).len(), h.alerts(OPS).len()), (1, 4, 4));

    assert!(h.ask(ALICE, ALICE, "/muted").await.contains("1. Falcon Heavy"));
    assert!(h.ask(BOB, BOB, "/muted").await.contains("Nothing is muted here"), "other chats unaffected");

    // Unmute from the same message.
    let toast = h.press(ALICE, ALICE, alert.message_id.unwrap(), &format!("unmute:launch/{SPACEX_LAUNCH}")).await;
    assert!(toast.starts_with("🔔 Unmuted Falcon Heavy"), "{toast}");
    let back =
        h.tg.wait_until(WAIT, |calls| calls.iter().filter(|c| c.is("editMessageReplyMarkup") && c.ok()).count() >= 2)
            .await;
    assert!(back);
    assert_eq!(
        callbacks(h.tg.reply_markup(ALICE, alert.message_id.unwrap()).as_ref()),
        [("🔕 Mute".into(), mute_data())]
    );
    h.status_change("Go", 1).await;
    h.deliverer.drain_once().await.unwrap();
    assert_eq!(h.alerts(ALICE).len(), 2, "hears it again");
    h.stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mute_by_name_and_unmute_by_number() {
    let h = Harness::start().await;
    let several = h.ask(ALICE, ALICE, "/mute a").await;
    assert!(several.contains("Several upcoming items match") && several.contains("• "), "{several}");
    assert!(h.ask(ALICE, ALICE, "/mute Nothing Like This").await.contains("Nothing upcoming is named like"));
    let muted = h.ask(ALICE, ALICE, "/mute nancy grace roman").await;
    assert!(muted.contains("🔕 Muted Falcon Heavy | Nancy Grace Roman"), "{muted}");
    assert!(h.ask(ALICE, ALICE, "/mute nancy grace roman").await.contains("already muted"));
    assert!(h.ask(ALICE, ALICE, "/unmute 2").await.contains("There is no #2"));
    assert!(h.ask(ALICE, ALICE, "/unmute 1").await.contains("🔔 Unmuted Falcon Heavy"));
    assert!(h.ask(ALICE, ALICE, "/muted").await.contains("Nothing is muted"));
    h.stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_presses_are_answered_politely_and_mute_nothing() {
    let h = Harness::start().await;
    h.tg.set_member(GROUP, ADMIN, MemberStatus::Administrator);
    let group = Destination::Telegram(ChatId(GROUP));
    let alice = Destination::Telegram(ChatId(ALICE));
    let no_such_message = 99_999;

    let cases = [
        ("forged", "mute:launch/../../etc", "not one I understand"),
        ("unknown action", "delete:launch/1", "not one I understand"),
        ("too long", &format!("mute:launch/{}", "a".repeat(200)), "not one I understand"),
        ("empty", "", "not one I understand"),
        ("gone", "mute:launch/00000000-0000-0000-0000-000000000000", "no longer upcoming"),
    ];
    for (what, data, expected) in cases {
        let toast = h.press(ALICE, ALICE, no_such_message, data).await;
        assert!(toast.contains(expected), "{what}: {toast}");
    }
    assert!(h.app.store.mutes_of(&alice).unwrap().is_empty());

    // A group member may not mute for the group; an admin may, on an old
    // message too (its keyboard cannot be edited: still answered).
    let refused = h.press(GROUP, MEMBER, no_such_message, &mute_data()).await;
    assert!(refused.contains("Only administrators"), "{refused}");
    assert!(h.app.store.mutes_of(&group).unwrap().is_empty());
    let toast = h.press(GROUP, ADMIN, no_such_message, &mute_data()).await;
    assert!(toast.contains("Muted"), "{toast}");
    let mutes = h.app.store.mutes_of(&group).unwrap();
    assert_eq!(mutes.len(), 1);
    assert!(h.app.store.mutes_of(&alice).unwrap().is_empty(), "only the chat the press came from");
    let edit = h.tg.wait_until(WAIT, |calls| calls.iter().any(|c| c.is("editMessageReplyMarkup"))).await;
    assert!(edit);
    assert!(h.tg.calls_to("editMessageReplyMarkup").iter().all(|c| !c.ok()), "the old message was not found");
    assert!(h.ask(ALICE, ALICE, "/help").await.contains("/mute"), "the bot is still answering");
    h.stop.cancel();
}
