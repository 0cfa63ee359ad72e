//! Forum topics and public channels end to end: the real Telegram sender,
//! the real command bot (teloxide, long polling the fake Bot API) and the
//! real deliverer. A watch to `telegram:CHAT/77` posts into topic 77 and one
//! to `telegram:@spacenews` into that channel by its username; `/subscribe`
//! sent inside topic 12 is answered in topic 12 and binds the alerts there;
//! a deleted topic stops that topic's subscription only, a closed one
//! pauses it until a command from the topic.

mod support;

use support::fake_telegram::{Call, MemberStatus, message_update, topic_message_update};
use support::telegram_chat::{ADMIN, TelegramChat};
use tminus::types::{ChatId, Destination, ThreadId};

/// A forum supergroup.
const FORUM: i64 = -1_001_234_567_890;
const CHANNEL: i64 = -1_009_876_543_210;

/// Config watches to `to`; the channel @spacenews; ADMIN runs the forum.
async fn start(to: &[&str]) -> TelegramChat {
    let builder =
        TelegramChat::builder().channel(CHANNEL, "spacenews").member(FORUM, ADMIN, MemberStatus::Administrator);
    let builder =
        if to.is_empty() { builder } else { builder.watch_to(to.iter().map(|d| d.parse().unwrap()).collect()) };
    builder.start().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watches_post_into_a_topic_and_a_channel_by_username() {
    let mut h = start(&["telegram:-1001234567890/77", "telegram:@spacenews"]).await;
    h.status_change("On Hold", 5).await;
    h.deliver().await;
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
    h.deliver().await;
    let to_channel: Vec<Call> = h.alerts().into_iter().filter(|c| c.chat_id == Some(CHANNEL)).collect();
    assert_eq!(to_channel.len(), 2);
    assert!(to_channel.iter().all(|c| c.chat_username.as_deref() == Some("@spacenews")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_inside_a_topic_binds_alerts_and_replies_to_it() {
    let mut h = start(&[]).await;
    let reply = h.reply(FORUM, topic_message_update(FORUM, ADMIN, 12, "/subscribe agency SpaceX")).await;
    assert!(reply.text.as_deref().unwrap().contains("Subscribed #1"), "{reply:?}");
    assert_eq!(reply.thread_id, Some(12), "answered in the topic it came from");
    let reply = h.reply(FORUM, message_update(FORUM, ADMIN, "/list")).await;
    assert_eq!(reply.thread_id, None, "the General topic");
    assert!(
        reply.text.as_deref().unwrap().starts_with("No subscriptions here"),
        "the topic's subscription is the topic's: {reply:?}"
    );
    let reply = h.reply(FORUM, topic_message_update(FORUM, ADMIN, 12, "/list")).await;
    assert!(reply.text.as_deref().unwrap().contains("1. agency SpaceX"), "{reply:?}");

    h.status_change("On Hold", 5).await;
    h.deliver().await;
    let alerts = h.alerts();
    assert_eq!(alerts.len(), 1);
    assert_eq!((alerts[0].chat_id, alerts[0].thread_id), (Some(FORUM), Some(12)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_topic_pauses_a_deleted_one_stops_its_own_subscription_only() {
    let mut h = start(&[]).await;
    for (thread, text) in [(Some(12), "/subscribe"), (Some(13), "/subscribe"), (None, "/subscribe")] {
        let update = match thread {
            Some(t) => topic_message_update(FORUM, ADMIN, t, text),
            None => message_update(FORUM, ADMIN, text),
        };
        assert!(h.reply(FORUM, update).await.text.unwrap().contains("Subscribed"));
    }
    h.tg.close_topic(FORUM, 12);
    h.tg.delete_topic(FORUM, 13);
    h.status_change("On Hold", 5).await;
    h.deliver().await;
    let topic = |t| Destination::TelegramTopic(ChatId(FORUM), ThreadId(t));
    let enabled = |d: &Destination| h.app.store.subscriptions_of(d).unwrap().iter().all(|s| s.enabled);
    assert!(enabled(&topic(12)), "closed topic: paused, not disabled");
    let pause = h.app.store.pause_of(&topic(12)).unwrap().expect("closed topic paused");
    assert!(pause.reason.contains("TOPIC_CLOSED"), "{pause:?}");
    assert!(!enabled(&topic(13)), "deleted topic disabled");
    assert!(enabled(&Destination::Telegram(ChatId(FORUM))), "the rest of the group still hears");
    let general = h.alerts().into_iter().filter(|c| c.thread_id.is_none()).count();
    assert_eq!(general, 1);
    h.status_change("Go", 1).await;
    h.deliver().await;
    assert_eq!(h.alerts().into_iter().filter(|c| c.thread_id.is_none()).count(), 2);
    assert_eq!(h.tg.calls().iter().filter(|c| c.thread_id.is_some() && !c.ok()).count(), 2, "no retries");
    let dead = h.app.store.dead_letters().unwrap();
    assert!(
        dead.iter().filter(|d| d.entry.destination == topic(12)).all(|d| d.reason.contains("TOPIC_CLOSED")),
        "missed alerts are dead letters with the pause's reason: {dead:?}"
    );

    // Reopened; a command from the topic resumes it and /list says so.
    h.tg.reopen_topic(FORUM, 12);
    let reply = h.reply(FORUM, topic_message_update(FORUM, ADMIN, 12, "/list")).await;
    let text = reply.text.unwrap();
    assert!(text.contains("⏸ paused since") && text.contains("TOPIC_CLOSED"), "{text}");
    assert!(h.app.store.pause_of(&topic(12)).unwrap().is_none());
    h.status_change("TBD", 2).await;
    h.deliver().await;
    assert_eq!(h.alerts().into_iter().filter(|c| c.thread_id == Some(12)).count(), 1, "topic 12 hears again");
}
