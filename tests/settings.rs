//! `/settings` as buttons against the real command bot (teloxide, long
//! polling the fake Bot API): the keyboard, a press that answers the
//! callback, edits the same message's keyboard in place and changes the
//! setting, refusals for group members, and stale buttons (changed
//! elsewhere, a removed subscription, forged data) answered with a toast
//! and the current keyboard.

mod support;

use support::fake_telegram::MemberStatus;
use support::telegram_chat::{ADMIN, ALICE, GROUP, MEMBER, TelegramChat, buttons, find};
use tminus::types::{AlertKind, ChatId, Destination};

async fn start() -> TelegramChat {
    TelegramChat::builder().chat_kind(GROUP, "group").member(GROUP, ADMIN, MemberStatus::Administrator).start().await
}

/// Presses `data` under `message`; the toast and the keyboard after.
async fn press(h: &TelegramChat, chat: i64, user: i64, message: i64, data: &str) -> (String, Vec<(String, String)>) {
    let (toast, _) = h.press_and_edit(chat, user, message, data, "editMessageReplyMarkup").await;
    (toast, buttons(h.tg.reply_markup(chat, message).as_ref()))
}

fn alerts_of(h: &TelegramChat, chat: i64) -> Vec<AlertKind> {
    let dest = Destination::Telegram(ChatId(chat));
    h.app.store.chat_settings(&dest).unwrap().map(|s| s.alerts).unwrap_or(AlertKind::ALL.to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_keyboard_presses_edit_in_place_and_take_effect() {
    let h = start().await;
    assert!(h.command(ALICE, ALICE, "/subscribe agency SpaceX").await.text.unwrap().contains("Subscribed #1"));
    let msg = h.command(ALICE, ALICE, "/settings").await;
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
    let (toast, keys) = press(&h, ALICE, ALICE, id, &find(&keys, "✅ schedule")).await;
    assert!(toast.contains("now hears"), "{toast}");
    find(&keys, "▫️ schedule");
    assert!(!alerts_of(&h, ALICE).contains(&AlertKind::Schedule));
    assert_eq!(h.app.store.subscriptions_of(&Destination::Telegram(ChatId(ALICE))).unwrap()[0].alerts.len(), 4);
    // The opt-in news kind: off by default, its button leads the last row.
    assert!(!h.app.news.wanted(), "nobody chose news yet");
    let (_, keys) = press(&h, ALICE, ALICE, id, &find(&keys, "▫️ 📰 news")).await;
    find(&keys, "✅ 📰 news");
    assert!(alerts_of(&h, ALICE).contains(&AlertKind::News));
    assert!(h.app.news.wanted(), "a chat chose news: the news feed polls");
    // Timezone and horizon.
    let (_, keys) = press(&h, ALICE, ALICE, id, &find(&keys, "▫️ Europe/Berlin")).await;
    find(&keys, "✅ Europe/Berlin");
    let (_, keys) = press(&h, ALICE, ALICE, id, &find(&keys, "▫️ 7d")).await;
    find(&keys, "✅ 7d");
    // Quiet hours: on with the 🌙 button, in the chat's timezone, then off.
    let (toast, keys) = press(&h, ALICE, ALICE, id, &find(&keys, "▫️ 🌙 23:00-07:00")).await;
    assert!(toast.contains("23:00-07:00 Europe/Berlin"), "{toast}");
    let quiet = |h: &TelegramChat| -> Option<String> {
        h.app.store.subscriptions_of(&Destination::Telegram(ChatId(ALICE))).unwrap()[0]
            .quiet_hours
            .map(|q| q.to_string())
    };
    assert_eq!(quiet(&h).as_deref(), Some("23:00-07:00"));
    let (_, keys) = press(&h, ALICE, ALICE, id, &find(&keys, "✅ 🌙 23:00-07:00")).await;
    find(&keys, "▫️ 🌙 23:00-07:00");
    assert_eq!(quiet(&h), None);
    // The live card: the 🪧 button turns it on, then off; /style shows it.
    let style =
        |h: &TelegramChat| h.app.store.chat_settings(&Destination::Telegram(ChatId(ALICE))).unwrap().unwrap().style;
    let (toast, keys) = press(&h, ALICE, ALICE, id, &find(&keys, "▫️ 🪧 live card")).await;
    assert!(toast.contains("Style: card"), "{toast}");
    assert_eq!(style(&h), tminus::types::Style::Card);
    let (_, keys) = press(&h, ALICE, ALICE, id, &find(&keys, "✅ 🪧 live card")).await;
    assert_eq!(style(&h), tminus::types::Style::Messages);

    // The digest: on with the 📋 button (daily 08:00 in the chat's zone), then off.
    let (toast, keys) = press(&h, ALICE, ALICE, id, &find(&keys, "▫️ 📋 daily 08:00")).await;
    assert!(toast.contains("daily 08:00 Europe/Berlin"), "{toast}");
    let digest = |h: &TelegramChat| -> Option<String> {
        h.app.store.subscriptions_of(&Destination::Telegram(ChatId(ALICE))).unwrap()[0].digest.map(|d| d.to_string())
    };
    assert_eq!(digest(&h).as_deref(), Some("daily 08:00"));
    let (_, keys) = press(&h, ALICE, ALICE, id, &find(&keys, "✅ 📋 daily 08:00")).await;
    find(&keys, "▫️ 📋 daily 08:00");
    assert_eq!(digest(&h), None);
    assert_eq!(h.tg.sent_to(ALICE).len(), sends, "nothing new was posted");
    let shown = h.command(ALICE, ALICE, "/style").await.text.unwrap();
    assert!(shown.contains("Style here: messages") && shown.contains("/style card"), "{shown}");

    // Changed elsewhere: an old button is not applied, the keyboard is refreshed.
    let old = find(&keys, "▫️ 24h");
    h.command(ALICE, ALICE, "/reminders 10m").await;
    let (toast, keys) = press(&h, ALICE, ALICE, id, &old).await;
    assert!(toast.contains("out of date"), "{toast}");
    find(&keys, "▫️ 24h");
    find(&keys, "✅ 10m");
    // Forged or foreign data: refused politely.
    let (toast, _) = press(&h, ALICE, ALICE, id, "s:00000000:x1").await;
    assert!(toast.contains("out of date"), "{toast}");
    let (toast, _) = press(&h, ALICE, ALICE, id, "s:zz:q").await;
    assert!(toast.contains("not one I understand"), "{toast}");

    // Remove the subscription from the keyboard.
    let (toast, keys) = press(&h, ALICE, ALICE, id, &find(&keys, "❌ #1")).await;
    assert!(toast.contains("Removed"), "{toast}");
    assert!(keys.iter().all(|(l, _)| !l.starts_with('❌')));
    find(&keys, "▫️ 🪧 live card");
    assert!(h.app.store.subscriptions_of(&Destination::Telegram(ChatId(ALICE))).unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_group_admins_change_settings() {
    let h = start().await;
    let msg = h.command(GROUP, MEMBER, "/settings").await;
    let keys = buttons(msg.reply_markup.as_ref());
    let data = find(&keys, "✅ webcast");
    h.tg.set_member(GROUP, MEMBER, MemberStatus::Member);
    let (toast, _) = press(&h, GROUP, MEMBER, msg.message_id.unwrap(), &data).await;
    assert!(toast.contains("Only administrators"), "{toast}");
    assert!(alerts_of(&h, GROUP).contains(&AlertKind::Webcast));
    let (toast, keys) = press(&h, GROUP, ADMIN, msg.message_id.unwrap(), &data).await;
    assert!(toast.contains("now hears"), "{toast}");
    find(&keys, "▫️ webcast");
    assert!(!alerts_of(&h, GROUP).contains(&AlertKind::Webcast));
}
