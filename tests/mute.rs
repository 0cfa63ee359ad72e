//! Muting one item end to end: the real Telegram sender puts a Mute button
//! under alerts to a chat's own subscriptions, the real command bot
//! (teloxide, long polling the fake Bot API) handles the press — toast,
//! keyboard swapped for Unmute — and from then on neither alerts nor
//! reminders about that item reach that chat, queued ones included, while
//! another chat and a config watch to a third chat still get them. Bad
//! button data, presses by group members and presses on old messages are
//! answered politely and mute nothing.

mod support;

use support::fake_telegram::MemberStatus;
use support::telegram_chat::{ADMIN, ALICE, GROUP, MEMBER, SPACEX_LAUNCH, TelegramChat, WAIT, callbacks};
use tminus::types::{ChatId, Destination, ItemId, ItemKind};

const BOB: i64 = 666;
/// The config watch's chat.
const OPS: i64 = 777;

async fn start() -> TelegramChat {
    TelegramChat::builder().watch_to(vec![Destination::Telegram(ChatId(OPS))]).chat_kind(GROUP, "group").start().await
}

fn mute_data() -> String {
    format!("mute:launch/{SPACEX_LAUNCH}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mute_button_silences_one_item_in_one_chat() {
    let mut h = start().await;
    for chat in [ALICE, BOB] {
        assert!(h.ask(chat, chat, "/subscribe agency SpaceX").await.contains("Subscribed #1"));
    }
    h.status_change("On Hold", 5).await;
    h.deliver().await;
    let alert = h.alerts_to(ALICE).pop().expect("an alert to Alice");
    assert_eq!(callbacks(alert.reply_markup.as_ref()), [("🔕 Mute".to_string(), mute_data())]);
    assert_eq!(h.alerts_to(BOB).len(), 1);
    let ops = h.alerts_to(OPS);
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
    h.deliver().await;
    assert_eq!((h.alerts_to(ALICE).len(), h.alerts_to(BOB).len(), h.alerts_to(OPS).len()), (1, 2, 2));

    // Routed after the press: never queued for Alice.
    h.status_change("On Hold", 5).await;
    assert_eq!(h.app.store.outbox_len(), 2, "Bob and the watch only");
    h.deliver().await;
    assert_eq!((h.alerts_to(ALICE).len(), h.alerts_to(BOB).len(), h.alerts_to(OPS).len()), (1, 3, 3));

    // Reminders too.
    let item = h.app.store.item(&ItemId::new(ItemKind::Launch, SPACEX_LAUNCH)).unwrap().unwrap();
    let fired = h.app.reminders.pass(item.when.unwrap() - chrono::Duration::minutes(59)).await.unwrap();
    assert!(fired >= 1);
    h.deliver().await;
    assert_eq!((h.alerts_to(ALICE).len(), h.alerts_to(BOB).len(), h.alerts_to(OPS).len()), (1, 4, 4));

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
    h.deliver().await;
    assert_eq!(h.alerts_to(ALICE).len(), 2, "hears it again");
}

/// Issue 20: overlapping `/subscribe`s, and a chat subscription beside a
/// config watch to the same chat, send each update once, as one
/// subscription does; the message carries the chat's Mute button, and the
/// chat's mute silences it whole (the strictest of the merged mutes wins).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overlapping_subscriptions_send_each_update_once() {
    let mut h = start().await;
    assert!(h.ask(ALICE, ALICE, "/subscribe agency SpaceX").await.contains("Subscribed #1"));
    h.status_change("On Hold", 5).await;
    h.deliver().await;
    assert_eq!(h.alerts_to(ALICE).len(), 1, "one subscription: one message");

    assert!(h.ask(ALICE, ALICE, "/subscribe").await.contains("Subscribed #2"));
    assert!(h.ask(OPS, OPS, "/subscribe agency SpaceX").await.contains("Subscribed #1"));
    h.status_change("Go", 1).await;
    assert_eq!(h.app.store.outbox_len(), 2, "one entry per chat");
    h.deliver().await;
    assert_eq!((h.alerts_to(ALICE).len(), h.alerts_to(OPS).len()), (2, 2), "one more message each");
    let ops = h.alerts_to(OPS).pop().unwrap();
    assert_eq!(callbacks(ops.reply_markup.as_ref()), [("🔕 Mute".to_string(), mute_data())], "the chat's own");

    let toast = h.press(OPS, OPS, ops.message_id.unwrap(), &mute_data()).await;
    assert!(toast.starts_with("🔕 Muted Falcon Heavy"), "{toast}");
    h.status_change("On Hold", 5).await;
    h.deliver().await;
    assert_eq!((h.alerts_to(ALICE).len(), h.alerts_to(OPS).len()), (3, 2), "the watch is silenced with the chat");
    assert_eq!(h.app.store.outbox_len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mute_by_name_and_unmute_by_number() {
    let h = start().await;
    let several = h.ask(ALICE, ALICE, "/mute a").await;
    assert!(several.contains("Several upcoming items match") && several.contains("• "), "{several}");
    assert!(h.ask(ALICE, ALICE, "/mute Nothing Like This").await.contains("Nothing upcoming is named like"));
    let muted = h.ask(ALICE, ALICE, "/mute nancy grace roman").await;
    assert!(muted.contains("🔕 Muted Falcon Heavy | Nancy Grace Roman"), "{muted}");
    assert!(h.ask(ALICE, ALICE, "/mute nancy grace roman").await.contains("already muted"));
    assert!(h.ask(ALICE, ALICE, "/unmute 2").await.contains("There is no #2"));
    assert!(h.ask(ALICE, ALICE, "/unmute 1").await.contains("🔔 Unmuted Falcon Heavy"));
    assert!(h.ask(ALICE, ALICE, "/muted").await.contains("Nothing is muted"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_presses_are_answered_politely_and_mute_nothing() {
    let h = start().await;
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
}
