//! The Telegram command front-end end to end: the real teloxide dispatcher
//! in `telegram::bot::CommandBot`, long polling the fake Bot API
//! (`support::fake_telegram`) over real HTTP, running commands against a
//! store synced from the fake LL2. Covers every command, group admin
//! rules, channels, `my_chat_member`, addressing, hostile input, network
//! errors, shutdown, and the whole path from `/subscribe` in a chat to an
//! alert in that chat through the real binary.

mod support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use support::fake_ll2::FakeLl2;
use support::fake_telegram::{
    Call, FakeTelegram, MemberStatus, channel_post_update, message_update, my_chat_member_update,
};
use support::telegram_chat::{ADMIN, ALICE, GROUP, MEMBER, SPACEX_LAUNCH, TelegramChat, WAIT, bot_services};
use teloxide::Bot;
use tminus::commands::{COMMANDS, MAX_SUBSCRIPTIONS_PER_CHAT};
use tminus::poller::BudgetWait;
use tminus::store::Store;
use tminus::subscriptions::Subscriptions;
use tminus::telegram::bot::{CommandBot, MAX_MESSAGE_LEN, ONLY_COMMANDS};
use tminus::types::Feed;
use tokio_util::sync::CancellationToken;

/// Besides ALICE's private chat and GROUP: a supergroup and a channel.
const SUPERGROUP: i64 = -1_001_234_567_890;
const CHANNEL: i64 = -1_009_876_543_210;
/// A launch by someone else than SpaceX in the LL2 fixture.
const MMX: &str = "69ebbcd2-b257-4070-9ef9-21e7d1f8a883";

// ---------------------------------------------------------------------------
// Log capture: nothing may ever log the token.

use support::logs::{log_text, logs};

fn assert_no_token(what: &str, text: &str) {
    let secret = FakeTelegram::TOKEN.split_once(':').unwrap().1;
    assert!(!text.contains(secret), "the bot token leaked into {what}:\n{text}");
}

// ---------------------------------------------------------------------------
// Harness: fake LL2 synced into a store, fake Telegram, the bot running, no
// config watches (only what the chats subscribe to).

async fn start() -> TelegramChat {
    TelegramChat::builder().chat_kind(CHANNEL, "channel").start().await
}

// ---------------------------------------------------------------------------
// Commands.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_help_and_command_registration() {
    let mut h = start().await;
    let registered = h.tg.my_commands().expect("setMyCommands at start-up");
    let names: Vec<&str> = registered.as_array().unwrap().iter().map(|c| c["command"].as_str().unwrap()).collect();
    let expected: Vec<&str> = COMMANDS.iter().map(|(n, _, _)| *n).collect();
    assert_eq!(names, expected);
    assert!(registered[2]["description"].as_str().unwrap().contains("alerts"), "{registered}");
    assert_eq!(h.tg.calls_to("getMe").len(), 2, "start-up getMe and the dispatcher's");

    let start = h.say("/start").await;
    assert!(start.contains("/subscribe agency SpaceX") && start.contains("/help"), "{start}");
    let help = h.say("/help").await;
    for (name, _, example) in COMMANDS {
        assert!(help.contains(&format!("/{name} —")) && help.contains(example), "/{name} in {help}");
    }
    assert_eq!(h.say("/HELP@tminus_test_bot").await, help, "own name and any case");
    assert_eq!(h.say("hello bot").await, ONLY_COMMANDS);
    assert!(h.say("/launch").await.contains("Unknown command /launch"), "private chats get an answer");
    assert!(h.stop().await < Duration::from_secs(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_list_unsubscribe() {
    let h = start().await;
    assert!(h.say("/list").await.contains("No subscriptions here yet"));
    let all = h.say("/subscribe").await;
    assert!(all.contains("Subscribed #1: everything"), "{all}");
    let two = h.say("/subscribe agency SpaceX type launch").await;
    assert!(two.contains("Subscribed #2: agency SpaceX, type launch"), "{two}");
    let three = h.say("/subscribe agency Arianespace -program Amazon Leo").await;
    assert!(three.contains("Subscribed #3: agency Arianespace, except program Amazon Leo"), "{three}");
    assert!(h.say("/subscribe agency spacex type LAUNCH").await.contains("Already subscribed: #2"));

    let unknown = h.say("/subscribe agency SpaceY").await;
    assert!(unknown.contains("Did you mean SpaceX?"), "{unknown}");
    assert!(h.say("/subscribe SpaceX").await.contains("Use: /subscribe"), "usage on bad grammar");
    assert!(h.say("/subscribe agency").await.contains("Which agency?"));

    let list = h.say("/list").await;
    assert!(list.contains("1. everything"), "{list}");
    assert!(list.contains("2. agency SpaceX, type launch"), "{list}");
    assert!(list.contains("3. agency Arianespace, except program Amazon Leo"), "{list}");
    assert!(list.contains("Times in UTC; reminders: 1h."), "{list}");
    let subs = h.chat_subs(ALICE);
    assert_eq!(subs.len(), 3);
    assert_eq!(subs[2].filter.exclude_programs, ["Amazon Leo"]);

    assert!(h.say("/unsubscribe 9").await.contains("There is no #9; this chat has 3"));
    assert!(h.say("/unsubscribe").await.contains("Use: /unsubscribe N"));
    assert!(h.say("/unsubscribe 1").await.contains("Removed #1: everything."));
    assert!(h.say("/list").await.contains("1. agency SpaceX, type launch"));
    assert!(h.say("/unsubscribe all").await.contains("Removed all 2 subscriptions"));
    assert!(h.chat_subs(ALICE).is_empty());
    assert!(h.app.subs.index().read().unwrap().is_empty(), "gone from the routing index too");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn next_reads_the_store() {
    let h = start().await;
    let requests = h.ll2.counted_requests();
    let everything = h.say("/next").await;
    assert!(everything.starts_with("Coming up:\n1. "), "without subscriptions, everything: {everything}");
    assert_eq!(everything.lines().count(), 6, "{everything}");
    let by_name = h.say("/next SpaceX").await;
    assert!(by_name.starts_with("Coming up:\n1. Falcon Heavy | Nancy Grace Roman Space Telescope — "), "{by_name}");
    assert_eq!(by_name.lines().count(), 2, "only SpaceX: {by_name}");
    assert_eq!(h.say("/next 5 agency SpaceX").await, by_name);
    assert!(h.say("/next SpaceY").await.contains("Did you mean SpaceX?"));
    h.say("/subscribe agency SpaceX").await;
    let next = h.say("/next").await;
    assert!(next.starts_with("Coming up:\n1. Falcon Heavy | Nancy Grace Roman Space Telescope — "), "{next}");
    assert_eq!(next.lines().count(), 2, "only the SpaceX launch: {next}");
    h.say("/subscribe").await;
    let five = h.say("/next").await;
    assert_eq!(five.lines().count(), 6, "default 5: {five}");
    let one = h.say("/next 1").await;
    assert_eq!(one.lines().count(), 2, "{one}");
    let many = h.say("/next 50").await;
    assert_eq!(many.lines().count(), 11, "all 10 items (at most 20): {many}");
    assert!(h.say("/next 0").await.contains("Use: /next [N]"));
    assert_eq!(h.ll2.counted_requests(), requests, "/next makes no LL2 request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timezone_and_reminders() {
    let h = start().await;
    h.say("/subscribe agency SpaceX").await;
    assert!(h.say("/timezone").await.contains("Times here are shown in UTC"));
    let hint = h.say("/timezone Berlin").await;
    assert!(hint.contains("not a timezone I know. Did you mean") && hint.contains("Europe/Berlin"), "{hint}");
    let far = h.say("/timezone Mars/Olympus_Mons").await;
    assert!(far.contains("Area/City"), "{far}");
    assert!(h.say("/timezone europe/berlin").await.contains("now shown in Europe/Berlin"));
    assert_eq!(h.chat_subs(ALICE)[0].timezone, chrono_tz::Europe::Berlin);
    let next = h.say("/next 1").await;
    assert!(next.contains("CET") || next.contains("CEST"), "{next}");

    assert!(h.say("/reminders").await.contains("Reminders here: 1h."));
    assert!(h.say("/reminders 24h 1h 10m").await.contains("⏰ Reminders: 1d 1h 10m."));
    let secs: Vec<u64> = h.chat_subs(ALICE)[0].reminders.iter().map(Duration::as_secs).collect();
    assert_eq!(secs, [86_400, 3600, 600]);
    assert!(h.say("/reminders off").await.contains("Reminders: off."));
    assert!(h.chat_subs(ALICE)[0].reminders.is_empty());
    assert!(h.say("/reminders soon").await.to_lowercase().contains("soon"), "names the bad value");
    assert!(h.say("/list").await.contains("Times in Europe/Berlin; reminders: off."));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_and_horizon_settings() {
    let mut h = start().await;
    h.say("/subscribe agency SpaceX").await;
    assert!(h.say("/alerts").await.contains("This chat hears: all alerts"));
    let bogus = h.say("/alerts bogus").await;
    assert!(bogus.contains("new, schedule, status, webcast, reminder"), "{bogus}");
    assert!(h.say("/alerts status").await.contains("This chat now hears: status."));
    assert_eq!(h.chat_subs(ALICE)[0].alerts, [tminus::types::AlertKind::Status]);
    h.say("/subscribe").await;
    assert_eq!(h.chat_subs(ALICE)[1].alerts, [tminus::types::AlertKind::Status], "later subscriptions inherit it");
    h.say("/unsubscribe 2").await;

    // A NET move is silent, a status change is heard.
    let net = h.ll2.item(Feed::Launches, SPACEX_LAUNCH).unwrap()["net"].as_str().unwrap().to_string();
    let later = chrono::DateTime::parse_from_rfc3339(&net).unwrap() + chrono::Duration::hours(5);
    h.ll2.set_field(Feed::Launches, SPACEX_LAUNCH, "/net", json!(later.to_rfc3339()));
    h.app.poller.poll_feed(Feed::Launches, BudgetWait::Skip).await.unwrap();
    h.deliverer.drain_once().await.unwrap();
    let alerts = |h: &TelegramChat| h.tg.sent_to(ALICE).into_iter().filter(|c| c.parse_mode.is_some()).count();
    assert_eq!(alerts(&h), 0, "NET moves are not heard");
    h.ll2.set_field(Feed::Launches, SPACEX_LAUNCH, "/status", json!({"id": 5, "name": "On Hold", "abbrev": "Hold"}));
    h.app.poller.poll_feed(Feed::Launches, BudgetWait::Skip).await.unwrap();
    h.deliverer.drain_once().await.unwrap();
    assert_eq!(alerts(&h), 1, "status changes are");

    assert!(h.say("/horizon").await.contains("any distance"));
    let parsecs = h.say("/horizon 3 parsecs").await;
    assert!(parsecs.contains("/horizon 7d") && parsecs.contains("/horizon off"), "{parsecs}");
    assert!(h.say("/horizon 5d").await.contains("within 5d"));
    assert!(h.chat_subs(ALICE).iter().all(|s| s.schedule_horizon == Some(Duration::from_secs(5 * 86_400))));
    assert!(h.say("/horizon off").await.contains("any distance"));
    assert!(h.chat_subs(ALICE).iter().all(|s| s.schedule_horizon.is_none()));
    assert!(h.say("/alerts all").await.contains("all alerts"));
    h.stop().await;
}

// ---------------------------------------------------------------------------
// Groups, channels, membership.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_groups_only_admins_change_settings() {
    let h = start().await;
    h.tg.set_member(GROUP, ADMIN, MemberStatus::Administrator);
    h.tg.set_member(SUPERGROUP, ADMIN, MemberStatus::Creator);

    let refused = h.ask(GROUP, MEMBER, "/subscribe agency SpaceX").await;
    assert!(refused.contains("Only administrators"), "{refused}");
    assert!(h.ask(GROUP, MEMBER, "/timezone Europe/Berlin").await.contains("Only administrators"));
    assert!(h.ask(GROUP, MEMBER, "/reminders off").await.contains("Only administrators"));
    assert!(h.chat_subs(GROUP).is_empty());
    let asked = h.tg.calls_to("getChatMember").len();
    assert_eq!(asked, 1, "the member's status is cached");

    assert!(h.ask(GROUP, ADMIN, "/subscribe agency SpaceX").await.contains("Subscribed #1"));
    assert!(h.ask(GROUP, ADMIN, "/reminders 10m").await.contains("10m"));
    assert_eq!(h.tg.calls_to("getChatMember").len(), 2, "one more for the admin, then cached");
    let member_call = &h.tg.calls_to("getChatMember")[1];
    assert_eq!(member_call.params["user_id"], json!(ADMIN));

    // Reading is for everyone, without asking Telegram.
    let list = h.ask(GROUP, MEMBER, "/list").await;
    assert!(list.contains("1. agency SpaceX"), "{list}");
    assert!(h.ask(GROUP, MEMBER, "/next").await.contains("Falcon Heavy"));
    assert!(h.ask(GROUP, MEMBER, "/timezone").await.contains("UTC"));
    assert_eq!(h.tg.calls_to("getChatMember").len(), 2);
    assert!(h.ask(GROUP, MEMBER, "/unsubscribe all").await.contains("Only administrators"));
    assert_eq!(h.chat_subs(GROUP).len(), 1);

    // Replies in groups answer the command message.
    let reply = h.exchange(GROUP, message_update(GROUP, MEMBER, "/list"), 1).await.remove(0);
    let command_id = message_update(GROUP, MEMBER, "/list")["message"]["message_id"].clone();
    assert_eq!(reply.params["reply_parameters"]["message_id"], command_id, "{:?}", reply.params);

    // Supergroup creator; an anonymous admin posting as the group.
    assert!(h.ask(SUPERGROUP, ADMIN, "/subscribe").await.contains("Subscribed #1"));
    let mut anonymous = message_update(SUPERGROUP, 1_087_968_824, "/subscribe agency SpaceX");
    anonymous["message"]["sender_chat"] = json!({"id": SUPERGROUP, "type": "supergroup", "title": "Chat"});
    let reply = h.exchange(SUPERGROUP, anonymous, 1).await.remove(0);
    assert!(reply.text.unwrap().contains("Subscribed #2"));
    assert_eq!(h.chat_subs(SUPERGROUP).len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_checks_that_fail_are_not_guesses() {
    let h = start().await;
    // (Not a 5xx: teloxide waits 10 s before reading those.)
    h.tg.fail_method("getChatMember", 1, 429, "Too Many Requests: retry after 1");
    let reply = h.ask(GROUP, ADMIN, "/subscribe").await;
    assert_eq!(reply, "Something went wrong on my side; please try again later.");
    h.tg.set_member(GROUP, ADMIN, MemberStatus::Administrator);
    assert!(h.ask(GROUP, ADMIN, "/subscribe").await.contains("Subscribed #1"), "a failure is not cached");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channel_posts_are_commands_from_admins() {
    let h = start().await;
    let reply = h.exchange(CHANNEL, channel_post_update(CHANNEL, "/subscribe agency SpaceX"), 1).await.remove(0);
    assert!(reply.text.as_deref().unwrap().contains("Subscribed #1: agency SpaceX"), "{reply:?}");
    assert!(reply.params.get("reply_parameters").is_none(), "channel posts are not quoted");
    assert!(h.tg.calls_to("getChatMember").is_empty(), "posting in a channel needs admin rights already");
    let list = h.exchange(CHANNEL, channel_post_update(CHANNEL, "/list"), 1).await.remove(0);
    assert!(list.text.unwrap().contains("1. agency SpaceX"));
    assert_eq!(h.chat_subs(CHANNEL).len(), 1);
    // Plain posts in a channel are not for the bot.
    let before = h.messages(CHANNEL).len();
    h.tg.push_update(channel_post_update(CHANNEL, "Launch day!"));
    h.exchange(CHANNEL, channel_post_update(CHANNEL, "/help"), 1).await;
    assert_eq!(h.messages(CHANNEL).len(), before + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removal_disables_and_readding_enables() {
    let h = start().await;
    h.tg.set_member(GROUP, ADMIN, MemberStatus::Administrator);
    h.ask(GROUP, ADMIN, "/subscribe agency SpaceX").await;
    h.ask(GROUP, ADMIN, "/subscribe").await;
    h.say("/subscribe").await;

    h.tg.push_update(my_chat_member_update(GROUP, "group", ADMIN, "member", "left"));
    // The same chat's next update is handled after it.
    let list = h.ask(GROUP, MEMBER, "/list").await;
    assert!(list.contains("1. agency SpaceX (paused"), "{list}");
    assert!(h.chat_subs(GROUP).iter().all(|s| !s.enabled));
    assert!(h.chat_subs(ALICE).iter().all(|s| s.enabled), "other chats untouched");

    h.tg.push_update(my_chat_member_update(GROUP, "group", ADMIN, "left", "administrator"));
    let list = h.ask(GROUP, MEMBER, "/list").await;
    assert!(!list.contains("paused"), "{list}");
    assert!(h.chat_subs(GROUP).iter().all(|s| s.enabled));

    // A private chat blocks the bot (kicked), then restarts it.
    h.tg.push_update(my_chat_member_update(ALICE, "private", ALICE, "member", "kicked"));
    assert!(h.say("/list").await.contains("paused"));
    assert!(h.chat_subs(ALICE).iter().all(|s| !s.enabled));
    h.tg.push_update(my_chat_member_update(ALICE, "private", ALICE, "kicked", "member"));
    assert!(!h.say("/list").await.contains("paused"));
    assert!(h.chat_subs(ALICE).iter().all(|s| s.enabled));
    let log = log_text();
    assert!(
        log.contains("removed from or blocked") && log.contains(&format!("chat={GROUP}")),
        "logged with the chat id"
    );
}

// ---------------------------------------------------------------------------
// Addressing and hostile input.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_for_other_bots_are_ignored() {
    let h = start().await;
    h.assert_ignored(ALICE, ALICE, message_update(ALICE, ALICE, "/next@otherbot")).await;
    h.assert_ignored(GROUP, MEMBER, message_update(GROUP, MEMBER, "/next@otherbot 5")).await;
    assert!(h.ask(GROUP, MEMBER, "/next@tminus_test_bot").await.contains("Coming up"));
    // An unknown command in a group may be another bot's: silence, unless
    // it names this bot.
    h.assert_ignored(GROUP, MEMBER, message_update(GROUP, MEMBER, "/weather Berlin")).await;
    h.assert_ignored(GROUP, MEMBER, message_update(GROUP, MEMBER, "just chatting")).await;
    assert!(h.ask(GROUP, MEMBER, "/weather@tminus_test_bot").await.contains("Unknown command /weather"));
    // Not a text message at all.
    let mut sticker = message_update(ALICE, ALICE, "x");
    sticker["message"].as_object_mut().unwrap().remove("text");
    sticker["message"]["sticker"] = json!({
        "file_id": "s", "file_unique_id": "s", "type": "regular", "width": 512, "height": 512,
        "is_animated": false, "is_video": false
    });
    h.assert_ignored(ALICE, ALICE, sticker).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_binary_and_odd_input_gets_polite_answers() {
    let h = start().await;
    let huge = format!("/subscribe agency {}", "X".repeat(5000));
    let reply = h.say(&huge).await;
    assert!(reply.contains("limited to 200 characters"), "{reply}");
    let long_name = format!("/{}", "a".repeat(5000));
    let reply = h.say(&long_name).await;
    assert!(reply.starts_with("Unknown command /aaaa") && reply.chars().count() < 200, "{reply}");
    for odd in [
        "/subscribe agency \u{0}\u{1}\u{7f}\u{fffd}",
        "/subscribe agency \u{202e}XecapS\u{200b}",
        "/subscribe agency 🚀🚀🚀 type 👩‍🚀",
        "/timezone \u{0}",
        "/next 99999999999999999999999999",
        "/unsubscribe -1",
        "/reminders 99999999999999999999h",
        "/timezone 東京",
    ] {
        let reply = h.say(odd).await;
        assert!(!reply.is_empty() && reply.encode_utf16().count() <= MAX_MESSAGE_LEN, "{odd:?} → {reply:?}");
    }
    h.assert_ignored(ALICE, ALICE, message_update(ALICE, ALICE, "/🚀")).await;
    assert!(h.chat_subs(ALICE).is_empty(), "nothing odd was subscribed");
    assert!(h.messages(ALICE).iter().all(|c| c.status == 200));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_replies_are_split_and_limits_hold() {
    // No sync: the directory is empty, so any name is accepted.
    let h = TelegramChat::builder().chat_kind(CHANNEL, "channel").unsynced().start().await;
    for i in 0..MAX_SUBSCRIPTIONS_PER_CHAT {
        let cmd = format!("/subscribe agency {i:02}{} -program {}", "A".repeat(88), "P".repeat(90));
        assert!(h.say(&cmd).await.contains("Subscribed #"), "{cmd}");
    }
    let refused = h.say("/subscribe agency NASA").await;
    assert!(refused.contains("most allowed"), "{refused}");
    let parts = h.exchange(ALICE, message_update(ALICE, ALICE, "/list"), 2).await;
    assert!(parts.iter().all(|p| p.text.as_ref().unwrap().encode_utf16().count() <= MAX_MESSAGE_LEN));
    let joined: String = parts.iter().map(|p| p.text.clone().unwrap()).collect::<Vec<_>>().join("\n");
    assert!(joined.contains("1. agency 00") && joined.contains("20. agency 19"), "{joined}");
    assert!(joined.ends_with("reminders: 1h."), "{joined}");
}

// ---------------------------------------------------------------------------
// Resilience and shutdown.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_errors_are_retried_and_never_leak_the_token() {
    let mut h = start().await;
    let conflict = "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running";
    h.tg.fail_method("getUpdates", 2, 409, conflict);
    h.tg.fail_method("getUpdates", 1, 429, "Too Many Requests: retry after 1");
    // The long poll in flight answers this; the next three polls fail
    // (backoff 1 s, 2 s, then the 1 s Telegram asked for).
    h.ask(999, 999, "/start").await;
    let failed = |calls: &[Call]| calls.iter().filter(|c| c.is("getUpdates") && !c.ok()).count();
    assert!(h.tg.wait_until(WAIT, |calls| failed(calls) == 3).await);
    let help = h.say("/help").await;
    assert!(help.contains("/subscribe"), "{help}");
    h.stop().await;
    let log = log_text();
    assert!(log.contains("Telegram getUpdates failed"), "{log}");
    assert_no_token("the logs", &log);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_api_is_retried_and_stop_still_works() {
    logs();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let subs = Subscriptions::load(store.clone()).unwrap();
    let bot = Bot::new(FakeTelegram::TOKEN).set_api_url(format!("http://127.0.0.1:{port}").parse().unwrap());
    let stop = CancellationToken::new();
    let task = tokio::spawn(
        CommandBot::new(bot, bot_services(subs, store, Default::default()))
            .with_flood_limits(support::UNHURRIED)
            .run(stop.clone()),
    );
    let deadline = Instant::now() + WAIT;
    while !log_text().contains(&format!("127.0.0.1:{port}")) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let log = log_text();
    assert!(log.contains("Telegram getMe failed; will retry"), "{log}");
    assert_no_token("the logs", &log);
    let started = Instant::now();
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(2), task).await.expect("stops while retrying").unwrap();
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_confirms_handled_updates() {
    let mut h = start().await;
    h.say("/start").await;
    let took = h.stop().await;
    assert!(took < Duration::from_secs(2), "stopped in {took:?}");
    assert_eq!(h.tg.pending_updates(), 0, "the last offset was confirmed on the way out");
    let polls = h.tg.calls_to("getUpdates");
    let confirming = polls.iter().find(|c| c.params["timeout"] == json!(0));
    assert!(confirming.is_some_and(|c| c.ok()), "a last, non-waiting poll confirmed the offset: {polls:#?}");
}

// ---------------------------------------------------------------------------
// End to end: `/subscribe agency SpaceX` in chat 555 → a changed SpaceX
// launch in the fake LL2 → an alert in chat 555, through the outbox and the
// real Telegram sender; nothing for a launch the chat did not ask for.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_in_chat_then_alert_in_chat_in_process() {
    let mut h = start().await;
    assert!(h.say("/subscribe agency SpaceX").await.contains("Subscribed #1"));

    h.ll2.set_field(Feed::Launches, MMX, "/status", json!({"id": 5, "name": "On Hold", "abbrev": "Hold"}));
    let report = h.app.poller.poll_feed(Feed::Launches, BudgetWait::Skip).await.unwrap();
    assert_eq!((report.alerts, report.deliveries), (1, 0), "{report:?}");
    h.deliverer.drain_once().await.unwrap();
    assert_eq!(h.tg.sent_to(ALICE).len(), 1, "only the /subscribe reply");

    h.ll2.set_field(Feed::Launches, SPACEX_LAUNCH, "/name", json!("Falcon Heavy | <b>&\"Rocket\""));
    h.ll2.set_field(Feed::Launches, SPACEX_LAUNCH, "/status", json!({"id": 5, "name": "On Hold", "abbrev": "Hold"}));
    let report = h.app.poller.poll_feed(Feed::Launches, BudgetWait::Skip).await.unwrap();
    assert_eq!(report.deliveries, 1, "{report:?}");
    let stats = h.deliverer.drain_once().await.unwrap();
    assert_eq!(stats.delivered, 1, "{stats:?}");
    let sent = h.tg.sent_to(ALICE);
    assert_eq!(sent.len(), 2);
    assert_alert(&sent[1]);
    assert!(h.tg.sent().iter().all(|c| c.chat_id == Some(ALICE)), "nothing anywhere else");
    h.stop().await;
}

/// The alert as Telegram got it: HTML that parses (the fake rejects bad
/// HTML), every dynamic string escaped, about the SpaceX launch.
fn assert_alert(alert: &Call) {
    assert_eq!(alert.parse_mode.as_deref(), Some("HTML"), "{alert:?}");
    let body = alert.body().unwrap();
    assert!(body.contains("&lt;b&gt;&amp;"), "dynamic text escaped: {body}");
    assert!(!body.contains("<b>&"), "{body}");
    assert!(body.contains("On Hold") && body.contains("SpaceX"), "{body}");
    assert!(!body.contains("Martian Moon"), "{body}");
}

fn write_config(dir: &Path, ll2: &FakeLl2, tg: &FakeTelegram) -> std::path::PathBuf {
    let path = dir.join("config.toml");
    let body = format!(
        "[ll2]\nbase_url = \"{}\"\nrequests_per_hour = 3600\n\n[store]\npath = \"{}\"\n\n[telegram]\napi_url = \"{}\"\n",
        ll2.base_url(),
        dir.join("data").display(),
        tg.api_url(),
    );
    std::fs::write(&path, body).unwrap();
    path
}

/// The binary under test; SIGKILLed if a failed assertion leaves it running.
struct Running {
    child: Option<std::process::Child>,
    lines: Arc<Mutex<Vec<String>>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Running {
    fn spawn(config: &Path) -> Running {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tminus"))
            .arg("--config")
            .arg(config)
            .arg("run")
            .env("TMINUS_TELEGRAM_TOKEN", FakeTelegram::TOKEN)
            .env("RUST_LOG", "info")
            .env_remove("TMINUS_LL2_API_KEY")
            .env_remove("TMINUS_DISCORD_TOKEN")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                sink.lock().unwrap().push(strip_ansi(&line));
            }
        });
        Running { child: Some(child), lines, reader: Some(reader) }
    }

    fn lines_with(&self, needle: &str) -> Vec<String> {
        self.lines.lock().unwrap().iter().filter(|l| l.contains(needle)).cloned().collect()
    }

    async fn wait_for(&self, needle: &str, n: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.lines_with(needle).len() >= n {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }

    /// Alerts and deliveries of every launches poll so far.
    fn launch_polls(&self) -> (u64, u64) {
        let field = |line: &str, name: &str| -> u64 {
            line.split_whitespace()
                .find_map(|w| w.strip_prefix(&format!("{name}=")))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        self.lines_with("poll cycle done")
            .iter()
            .filter(|l| l.contains("feed=launches"))
            .fold((0, 0), |(a, d), l| (a + field(l, "alerts"), d + field(l, "deliveries")))
    }

    /// SIGTERM, wait, and the whole log.
    async fn stop(&mut self) -> (std::process::ExitStatus, String) {
        let mut child = self.child.take().unwrap();
        let pid = child.id().to_string();
        let started = Instant::now();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let status = tokio::task::spawn_blocking(move || child.wait().unwrap()).await.unwrap();
        assert!(started.elapsed() < Duration::from_secs(5), "stopped in {:?}", started.elapsed());
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        (status, self.lines.lock().unwrap().join("\n"))
    }
}

/// The log line without terminal colours (field names are styled).
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ parameters final-byte
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_in_chat_then_alert_in_chat_through_the_binary() {
    let ll2 = FakeLl2::start().await;
    let tg = FakeTelegram::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut bin = Running::spawn(&write_config(dir.path(), &ll2, &tg));
    assert!(bin.wait_for("poll cycle done", 2, WAIT).await, "both feeds synced");
    assert!(tg.wait_until(WAIT, |c| c.iter().any(|c| c.is("setMyCommands"))).await, "bot started");

    tg.push_update(message_update(ALICE, ALICE, "/subscribe agency SpaceX"));
    assert!(tg.wait_until(WAIT, |c| c.iter().any(|c| c.is_delivery() && c.chat_id == Some(ALICE))).await);
    let reply = tg.sent_to(ALICE).remove(0);
    assert!(reply.text.as_deref().unwrap().contains("Subscribed #1: agency SpaceX"), "{reply:?}");

    // Both changes land in the same poll of the launches feed (every 30 s
    // at most): one alert each, one delivery (SpaceX → chat 555).
    ll2.set_field(Feed::Launches, MMX, "/status", json!({"id": 5, "name": "On Hold", "abbrev": "Hold"}));
    ll2.set_field(Feed::Launches, SPACEX_LAUNCH, "/name", json!("Falcon Heavy | <b>&\"Rocket\""));
    ll2.set_field(Feed::Launches, SPACEX_LAUNCH, "/status", json!({"id": 5, "name": "On Hold", "abbrev": "Hold"}));
    let arrived = tg
        .wait_until(Duration::from_secs(45), |calls| {
            calls.iter().filter(|c| c.is_delivery() && c.chat_id == Some(ALICE)).count() >= 2
        })
        .await;
    assert!(arrived, "alert delivered to chat 555: {:#?}", bin.lines_with("poll"));
    // Both changes were detected (in one poll or two); one was routed.
    let deadline = Instant::now() + WAIT;
    while bin.launch_polls() != (2, 1) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(bin.launch_polls(), (2, 1), "(alerts, deliveries): {:#?}", bin.lines_with("poll cycle done"));
    let sent = tg.sent_to(ALICE);
    assert_eq!(sent.len(), 2, "the reply and one alert: {sent:#?}");
    assert_alert(&sent[1]);
    assert!(tg.sent().iter().all(|c| c.chat_id == Some(ALICE)), "nothing anywhere else");

    let (status, log) = bin.stop().await;
    assert_no_token("the binary's log", &log);
    assert!(status.success(), "{status}: {log}");
    assert!(log.contains("Telegram bot stopped"), "{log}");
}
