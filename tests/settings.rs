//! `/settings` as buttons against the real command bot (teloxide, long
//! polling the fake Bot API): the keyboard, a press that answers the
//! callback, edits the same message's keyboard in place and changes the
//! setting, refusals for group members, and stale buttons (changed
//! elsewhere, a removed subscription, forged data) answered with a toast
//! and the current keyboard.

mod support;

use std::time::Duration;

use serde_json::Value;
use support::app::{App, AppOptions};
use support::fake_ll2::FakeLl2;
use support::fake_telegram::{Call, FakeTelegram, MemberStatus, message_update};
use tminus::types::{AlertKind, ChatId, Destination};
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(10);
const ALICE: i64 = 555;
const GROUP: i64 = -4242;
const ADMIN: i64 = 7;
const MEMBER: i64 = 8;

struct Harness {
    tg: FakeTelegram,
    app: App,
    _ll2: FakeLl2,
    stop: CancellationToken,
}

impl Harness {
    async fn start() -> Harness {
        support::logs::logs();
        let ll2 = FakeLl2::start().await;
        let mut app = App::start(AppOptions { watches: vec![], ..AppOptions::new(ll2.ll2_config()) }).await;
        app.cycle().await;
        let tg = FakeTelegram::start().await;
        tg.set_chat_kind(GROUP, "group");
        tg.set_member(GROUP, ADMIN, MemberStatus::Administrator);
        let stop = CancellationToken::new();
        app.start_command_bot(&tg, &stop).await;
        Harness { tg, app, _ll2: ll2, stop }
    }

    async fn ask(&self, chat: i64, user: i64, text: &str) -> Call {
        let mine = |c: &Call| c.is_delivery() && c.is("sendMessage") && c.chat_id == Some(chat);
        let before = self.tg.calls().iter().filter(|c| mine(c)).count();
        self.tg.push_update(message_update(chat, user, text));
        assert!(self.tg.wait_until(WAIT, |calls| calls.iter().filter(|c| mine(c)).count() > before).await);
        self.tg.calls().into_iter().filter(mine).nth(before).unwrap()
    }

    /// Presses `data` under `message`; the toast and the keyboard after.
    async fn press(&self, chat: i64, user: i64, message: i64, data: &str) -> (String, Vec<(String, String)>) {
        let before = self.tg.calls_to("answerCallbackQuery").len();
        let edits = self.tg.calls_to("editMessageReplyMarkup").len();
        self.tg.push_update(self.tg.callback_update(chat, user, message, data));
        let ok = self.tg.wait_until(WAIT, |calls| {
            calls.iter().filter(|c| c.is("answerCallbackQuery")).count() > before
                && calls.iter().filter(|c| c.is("editMessageReplyMarkup")).count() > edits
        });
        assert!(ok.await, "press answered and keyboard edited");
        let answer = self.tg.calls_to("answerCallbackQuery")[before].clone();
        assert!(answer.ok(), "{answer:?}");
        let toast = answer.params["text"].as_str().unwrap_or_default().to_string();
        (toast, buttons(self.tg.reply_markup(chat, message).as_ref()))
    }

    fn alerts_of(&self, chat: i64) -> Vec<AlertKind> {
        let dest = Destination::Telegram(ChatId(chat));
        self.app.store.chat_settings(&dest).unwrap().map(|s| s.alerts).unwrap_or(AlertKind::ALL.to_vec())
    }
}

fn buttons(markup: Option<&Value>) -> Vec<(String, String)> {
    let Some(rows) = markup.and_then(|m| m["inline_keyboard"].as_array()) else { return vec![] };
    rows.iter()
        .flat_map(|r| r.as_array().unwrap().iter())
        .map(|b| (b["text"].as_str().unwrap().to_string(), b["callback_data"].as_str().unwrap().to_string()))
        .collect()
}

fn find<'a>(keys: &'a [(String, String)], label: &str) -> &'a (String, String) {
    keys.iter().find(|(l, _)| l == label).unwrap_or_else(|| panic!("no {label:?} in {keys:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_keyboard_presses_edit_in_place_and_take_effect() {
    let h = Harness::start().await;
    assert!(h.ask(ALICE, ALICE, "/subscribe agency SpaceX").await.text.unwrap().contains("Subscribed #1"));
    let msg = h.ask(ALICE, ALICE, "/settings").await;
    let id = msg.message_id.unwrap();
    let keys = buttons(msg.reply_markup.as_ref());
    assert!(keys.iter().all(|(_, d)| d.len() <= 64), "callback data fits Telegram's 64 bytes");
    find(&keys, "✅ schedule");
    find(&keys, "✅ 1h");
    find(&keys, "▫️ 24h");
    find(&keys, "✅ any");
    find(&keys, "✅ UTC");
    find(&keys, "❌ #1");

    // Schedule off: toast, same message edited, setting stored.
    let sends = h.tg.sent_to(ALICE).len();
    let (toast, keys) = h.press(ALICE, ALICE, id, &find(&keys, "✅ schedule").1).await;
    assert!(toast.contains("now hears"), "{toast}");
    find(&keys, "▫️ schedule");
    assert!(!h.alerts_of(ALICE).contains(&AlertKind::Schedule));
    assert_eq!(h.app.store.subscriptions_of(&Destination::Telegram(ChatId(ALICE))).unwrap()[0].alerts.len(), 4);
    // Timezone and horizon.
    let (_, keys) = h.press(ALICE, ALICE, id, &find(&keys, "▫️ Europe/Berlin").1).await;
    find(&keys, "✅ Europe/Berlin");
    let (_, keys) = h.press(ALICE, ALICE, id, &find(&keys, "▫️ 7d").1).await;
    find(&keys, "✅ 7d");
    assert_eq!(h.tg.sent_to(ALICE).len(), sends, "nothing new was posted");

    // Changed elsewhere: an old button is not applied, the keyboard is refreshed.
    let old = find(&keys, "▫️ 24h").1.clone();
    h.ask(ALICE, ALICE, "/reminders 10m").await;
    let (toast, keys) = h.press(ALICE, ALICE, id, &old).await;
    assert!(toast.contains("out of date"), "{toast}");
    find(&keys, "▫️ 24h");
    find(&keys, "✅ 10m");
    // Forged or foreign data: refused politely.
    let (toast, _) = h.press(ALICE, ALICE, id, "s:00000000:x1").await;
    assert!(toast.contains("out of date"), "{toast}");
    let (toast, _) = h.press(ALICE, ALICE, id, "s:zz:q").await;
    assert!(toast.contains("not one I understand"), "{toast}");

    // Remove the subscription from the keyboard.
    let (toast, keys) = h.press(ALICE, ALICE, id, &find(&keys, "❌ #1").1).await;
    assert!(toast.contains("Removed"), "{toast}");
    assert!(keys.iter().all(|(l, _)| !l.starts_with('❌')));
    assert!(h.app.store.subscriptions_of(&Destination::Telegram(ChatId(ALICE))).unwrap().is_empty());
    h.stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_group_admins_change_settings() {
    let h = Harness::start().await;
    let msg = h.ask(GROUP, MEMBER, "/settings").await;
    let keys = buttons(msg.reply_markup.as_ref());
    let data = find(&keys, "✅ webcast").1.clone();
    h.tg.set_member(GROUP, MEMBER, MemberStatus::Member);
    let (toast, _) = h.press(GROUP, MEMBER, msg.message_id.unwrap(), &data).await;
    assert!(toast.contains("Only administrators"), "{toast}");
    assert!(h.alerts_of(GROUP).contains(&AlertKind::Webcast));
    let (toast, keys) = h.press(GROUP, ADMIN, msg.message_id.unwrap(), &data).await;
    assert!(toast.contains("now hears"), "{toast}");
    find(&keys, "▫️ webcast");
    assert!(!h.alerts_of(GROUP).contains(&AlertKind::Webcast));
    h.stop.cancel();
}
