//! `/next` pages against the real command bot (teloxide, long polling the
//! fake Bot API, items from the fake LL2): the first page with its buttons,
//! Later ▶ editing the same message with other items, a details card and
//! ◀ Back, 🔄 of an unchanged page (Telegram's "message is not modified",
//! not an error), a filter kept across pages, and stale or forged data
//! answered with a toast and a fresh page. Every press is answered.

mod support;

use support::fake_telegram::Call;
use support::telegram_chat::{ALICE, GROUP, TelegramChat, buttons, find};

/// Presses `data` under `message` as the chat's own user: the toast, and
/// the edit of that message.
async fn press(h: &TelegramChat, chat: i64, message: i64, data: &str) -> (String, Call) {
    h.press_and_edit(chat, chat.abs(), message, data, "editMessageText").await
}

fn entries(text: &str) -> Vec<String> {
    text.lines().filter(|l| l.starts_with(|c: char| c.is_ascii_digit())).map(str::to_owned).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn next_pages_edit_in_place_and_details_come_back() {
    let h = TelegramChat::start().await;
    let msg = h.command(ALICE, ALICE, "/next").await;
    let id = msg.message_id.unwrap();
    let text = msg.text.clone().unwrap();
    assert!(text.starts_with("Coming up:\n1. "), "{text}");
    assert!(text.contains(" UTC (T-"), "countdowns: {text}");
    let first = entries(&text);
    assert_eq!(first.len(), 5);
    let keys = buttons(msg.reply_markup.as_ref());
    let labels: Vec<&str> = keys.iter().map(|(l, _)| l.as_str()).collect();
    assert_eq!(labels, ["🔄", "Later ▶", "ℹ️ 1", "ℹ️ 2", "ℹ️ 3", "ℹ️ 4", "ℹ️ 5"]);
    assert!(keys.iter().all(|(_, d)| d.len() <= 64));
    let sends = h.tg.sent_to(ALICE).len();

    // Later ▶: the same message, other items.
    let (toast, edit) = press(&h, ALICE, id, &find(&keys, "Later ▶")).await;
    assert!(edit.ok(), "{edit:?}");
    assert_eq!(toast, "Items 6–10 of 10");
    let second = h.tg.message_text(ALICE, id).unwrap();
    assert!(second.starts_with("Coming up:\n6. "), "{second}");
    assert!(entries(&second).iter().all(|e| !first.contains(e)), "other items: {second}");
    let keys = buttons(h.tg.reply_markup(ALICE, id).as_ref());
    find(&keys, "◀ Earlier");

    // Details: the alert card, in place, with Back (and the item's links).
    let (toast, edit) = press(&h, ALICE, id, &find(&keys, "ℹ️ 7")).await;
    assert!(edit.ok(), "{edit:?}");
    assert_eq!(edit.parse_mode.as_deref(), Some("HTML"));
    let name = entries(&second)[1].split(" — ").next().unwrap().trim_start_matches("7. ").to_string();
    assert!(toast.contains(&name[..20.min(name.len())]), "{toast} / {name}");
    let card = h.tg.message_text(ALICE, id).unwrap();
    assert!(card.contains("Coming up #7") && card.contains(&name), "{card}");
    let card_keys = buttons(h.tg.reply_markup(ALICE, id).as_ref());
    assert_eq!(card_keys[0].0, "◀ Back");
    let (_, edit) = press(&h, ALICE, id, &card_keys[0].1).await;
    assert!(edit.ok(), "{edit:?}");
    assert_eq!(h.tg.message_text(ALICE, id).unwrap(), second, "Back returns to the page");

    // 🔄 of an unchanged page: Telegram's "message is not modified" is
    // not an error. Countdowns are in minutes, so of two quick presses at
    // most one can cross a minute and change the page.
    let mut unchanged = 0;
    for _ in 0..2 {
        let (toast, edit) = press(&h, ALICE, id, &find(&keys, "🔄")).await;
        assert_eq!(toast, "🔄 Updated.");
        let not_modified = edit.error.as_deref().is_some_and(|e| e.contains("message is not modified"));
        assert!(edit.ok() || not_modified, "{edit:?}");
        unchanged += usize::from(not_modified);
    }
    assert!(unchanged >= 1, "the fake answers an unchanged edit like Telegram");
    assert!(!support::logs::log_text().contains("could not show the /next page"), "not logged as a failure");
    assert_eq!(h.tg.sent_to(ALICE).len(), sends, "nothing new was posted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_stay_across_pages_and_stale_buttons_refresh() {
    let h = TelegramChat::start().await;
    let msg = h.command(ALICE, ALICE, "/next 1 type launch").await;
    let id = msg.message_id.unwrap();
    let keys = buttons(msg.reply_markup.as_ref());
    let later = find(&keys, "Later ▶");
    assert!(later.ends_with(":1 type launch"), "{later}");
    press(&h, ALICE, id, &later).await;
    let keys = buttons(h.tg.reply_markup(ALICE, id).as_ref());
    press(&h, ALICE, id, &find(&keys, "Later ▶")).await;
    let third = h.tg.message_text(ALICE, id).unwrap();
    assert!(third.starts_with("Coming up:\n3. ") && third.lines().count() == 2, "{third}");
    let keys = buttons(h.tg.reply_markup(ALICE, id).as_ref());
    let (toast, _) = press(&h, ALICE, id, &find(&keys, "Later ▶")).await;
    assert_eq!(toast, "Items 4–4 of 5", "only launches");

    // Forged data: a toast and the chat's default page, never an error.
    let (toast, edit) = press(&h, ALICE, id, "n:0000:p0:1 type launch").await;
    assert!(toast.contains("not one I understand"), "{toast}");
    assert!(edit.ok(), "{edit:?}");
    assert_eq!(h.tg.message_text(ALICE, id).unwrap().lines().count(), 6, "five entries");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anyone_in_a_group_pages_without_an_admin_check() {
    let h = TelegramChat::start().await;
    h.tg.set_chat_kind(GROUP, "group");
    let msg = h.command(GROUP, GROUP.abs(), "/next").await;
    let id = msg.message_id.unwrap();
    // getChatMember failing does not matter: paging asks nobody's rights.
    h.tg.fail_method("getChatMember", 5, 500, "Internal Server Error");
    let keys = buttons(msg.reply_markup.as_ref());
    let (toast, edit) = press(&h, GROUP, id, &find(&keys, "Later ▶")).await;
    assert_eq!(toast, "Items 6–10 of 10");
    assert!(edit.ok(), "{edit:?}");
    assert!(h.tg.calls_to("getChatMember").is_empty(), "no admin check for paging");
}
