//! Managing a Telegram channel from a private chat (`/manage`) against the
//! real command bot and the fake Bot API: the checks (`getChat`,
//! `getChatMember` of the user and of the bot), commands and `/settings`
//! buttons acting for the channel with private replies, rights re-checked
//! on every command, `/manage off`, the refusals; and no Mute button under
//! alerts to channels.

mod support;

use serde_json::Value;
use support::fake_telegram::{Call, FakeTelegram, MemberStatus, channel_post_update};
use support::telegram_chat::{ADMIN, ALICE, GROUP, TelegramChat, buttons, find};
use tminus::types::{ChannelName, ChatId, Destination};

/// A public channel `@spacenews` ALICE administers.
const CHANNEL: i64 = -1_001_234_567_890;
/// A channel where the bot is only a member.
const MUTE_CHANNEL: i64 = -1_005_555_555_555;

fn channel() -> Destination {
    Destination::Telegram(ChatId(CHANNEL))
}

/// Whether a sent alert carries a Mute button.
fn has_mute(call: &Call) -> bool {
    let markup: Option<&Value> = call.reply_markup.as_ref();
    buttons(markup).iter().any(|(_, data)| data.starts_with("mute:"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_chat_manages_a_channel_its_user_administers() {
    let mut h = TelegramChat::builder()
        .channel(CHANNEL, "spacenews")
        .member(CHANNEL, ALICE, MemberStatus::Administrator)
        .member(CHANNEL, FakeTelegram::BOT_ID, MemberStatus::Administrator)
        .start()
        .await;
    assert!(h.say("/manage").await.contains("act for this chat"));
    let taken = h.say("/manage @SpaceNews").await;
    assert!(taken.contains("Now managing @spacenews") && taken.contains("/manage off"), "{taken}");

    // Commands act for the channel; replies stay private and say for whom.
    let sub = h.say("/subscribe agency SpaceX").await;
    assert!(sub.starts_with("For @spacenews: ✅ Subscribed #1: agency SpaceX"), "{sub}");
    assert_eq!(h.chat_subs(CHANNEL).len(), 1);
    assert!(h.chat_subs(ALICE).is_empty(), "not the private chat's");
    let list = h.say("/list").await;
    assert!(list.starts_with("For @spacenews: ") && list.contains("1. agency SpaceX"), "{list}");
    let next = h.say("/next").await;
    assert!(next.starts_with("For @spacenews: ") && next.contains("Nancy Grace Roman"), "{next}");
    assert!(h.say("/help").await.starts_with("tminus tells this chat"), "/help stays the private chat's");
    assert!(h.say("/timezone Europe/Berlin").await.contains("Europe/Berlin"));
    assert!(h.say("/quiet 23:00-07:00").await.starts_with("For @spacenews: "));
    let settings = h.app.store.chat_settings(&channel()).unwrap().expect("the channel's settings");
    assert_eq!(settings.timezone, chrono_tz::Europe::Berlin);
    assert!(settings.quiet_hours.is_some());
    assert!(h.app.store.chat_settings(&Destination::Telegram(ChatId(ALICE))).unwrap().is_none());
    assert!(h.messages(CHANNEL).is_empty(), "nothing is posted in the channel");
    assert!(h.say("/manage").await.contains("act for @spacenews"));

    // /settings buttons pressed in the private chat change the channel.
    let msg = h.command(ALICE, ALICE, "/settings").await;
    let keys = buttons(msg.reply_markup.as_ref());
    let (_, _) = h
        .press_and_edit(ALICE, ALICE, msg.message_id.unwrap(), &find(&keys, "✅ schedule"), "editMessageReplyMarkup")
        .await;
    let alerts = h.app.store.chat_settings(&channel()).unwrap().unwrap().alerts;
    assert!(!alerts.contains(&tminus::types::AlertKind::Schedule), "{alerts:?}");

    // An alert in the channel carries no Mute button: readers cannot use it.
    h.status_change("On Hold", 5).await;
    h.deliver().await;
    let alerts = h.alerts_to(CHANNEL);
    assert_eq!(alerts.len(), 1, "{:?}", h.tg.sent());
    assert!(!has_mute(&alerts[0]), "{:?}", alerts[0].reply_markup);

    // A settings press by someone no longer an admin changes nothing.
    h.tg.set_member(CHANNEL, ALICE, MemberStatus::Left);
    let keys = buttons(h.tg.reply_markup(ALICE, msg.message_id.unwrap()).as_ref());
    let toast = h.press(ALICE, ALICE, msg.message_id.unwrap(), &find(&keys, "▫️ schedule")).await;
    assert!(toast.contains("no longer an administrator"), "{toast}");
    let alerts = h.app.store.chat_settings(&channel()).unwrap().unwrap().alerts;
    assert!(!alerts.contains(&tminus::types::AlertKind::Schedule), "unchanged");
    assert!(h.say("/manage").await.contains("act for this chat"), "the press ended /manage");
    h.tg.set_member(CHANNEL, ALICE, MemberStatus::Administrator);
    assert!(h.say("/manage @spacenews").await.contains("Now managing"));

    // Every command re-checks the rights: a removed admin loses control.
    let checks = h.tg.calls_to("getChatMember").len();
    h.say("/list").await;
    assert_eq!(h.tg.calls_to("getChatMember").len(), checks + 1, "one fresh check per command");
    h.tg.set_member(CHANNEL, ALICE, MemberStatus::Member);
    let lost = h.say("/unsubscribe all").await;
    assert!(lost.contains("no longer an administrator of @spacenews"), "{lost}");
    assert_eq!(h.chat_subs(CHANNEL).len(), 1, "nothing changed");
    assert!(h.say("/list").await.contains("No subscriptions here yet"), "back to the private chat");

    // /manage off goes back too.
    h.tg.set_member(CHANNEL, ALICE, MemberStatus::Creator);
    assert!(h.say("/manage -1001234567890").await.contains("Now managing @spacenews"));
    assert!(h.say("/manage off").await.contains("act for this chat again"));
    assert!(h.say("/list").await.contains("No subscriptions here yet"));
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manage_refuses_non_admins_channels_the_bot_cannot_post_in_and_groups() {
    let h = TelegramChat::builder()
        .channel(CHANNEL, "spacenews")
        .channel(MUTE_CHANNEL, "quietnews")
        .chat_kind(GROUP, "group")
        .member(CHANNEL, FakeTelegram::BOT_ID, MemberStatus::Administrator)
        .member(MUTE_CHANNEL, ALICE, MemberStatus::Administrator)
        .start()
        .await;
    let not_admin = h.say("/manage @spacenews").await;
    assert!(not_admin.contains("Only the creator and the administrators of @spacenews"), "{not_admin}");
    let cannot_post = h.say("/manage @quietnews").await;
    assert!(cannot_post.contains("I can't post in @quietnews"), "{cannot_post}");
    let unknown = h.say("/manage @nosuchchannel").await;
    assert!(unknown.contains("I can't find @nosuchchannel"), "{unknown}");
    let group = h.say(&format!("/manage {GROUP}")).await;
    assert!(group.contains("is not a channel"), "{group}");
    assert!(h.say("/manage 555").await.contains("Use: /manage @channel"));
    let in_group = h.ask(GROUP, ADMIN, "/manage @spacenews").await;
    assert!(in_group.contains("works in a private chat"), "{in_group}");
    assert_eq!(h.app.store.managed_by(ChatId(ALICE)).unwrap(), None, "nothing was taken over");
    assert!(h.say("/subscribe").await.starts_with("✅ Subscribed #1"), "commands act for the private chat");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_to_channels_have_no_mute_button_and_private_ones_do() {
    let by_name = Destination::TelegramChannel(ChannelName::parse("@spacenews").unwrap());
    let mut h = TelegramChat::builder().channel(CHANNEL, "spacenews").watch_to(vec![by_name]).start().await;
    // A channel that subscribed by posting a command, and a private chat.
    h.exchange(CHANNEL, channel_post_update(CHANNEL, "/subscribe agency SpaceX"), 1).await;
    assert!(h.say("/subscribe agency SpaceX").await.contains("Subscribed #1"));
    h.status_change("On Hold", 5).await;
    h.deliver().await;
    let to_channel = h.alerts_to(CHANNEL);
    assert_eq!(to_channel.len(), 2, "the chat's and the watch's by @name: {to_channel:?}");
    assert!(to_channel.iter().all(|a| !has_mute(a)), "{to_channel:?}");
    let private = h.alerts_to(ALICE);
    assert_eq!(private.len(), 1);
    assert!(has_mute(&private[0]), "the private chat keeps its Mute button");
}
