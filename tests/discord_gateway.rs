//! The Discord front-end through the gateway: serenity's client connects to
//! a fake gateway (a websocket server on 127.0.0.1) found through the fake
//! REST's `GET /gateway/bot`, identifies with the bot token, and answers
//! `INTERACTION_CREATE` dispatches with callbacks the fake REST records:
//! the Mute button under a bot alert, `/settings` and a press that edits
//! the message in place, a member without Manage Channels refused. Without
//! a gateway URL the client is never started (nothing reaches Discord).

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::fake_discord::bot::{
    Bot, BotOptions, CHANNEL, MANAGER, MEMBER, OTHER_CHANNEL, TOKEN, command, discord_config, go, interaction, on_hold,
    press, strings,
};
use support::fake_discord::{FakeDiscord, Kind, Target};
use support::logs;
use tminus::commands::Defaults;
use tminus::discord::commands::Handler;
use tminus::store::Store;
use tminus::subscriptions::Subscriptions;
use tminus::types::{ChannelId, Destination};
use tokio_util::sync::CancellationToken;

/// Falcon Heavy | Nancy Grace Roman Space Telescope, by SpaceX.
const SPACEX_LAUNCH: &str = "521f3a1c-f977-4306-9b7f-495858719adf";

async fn bot() -> Bot {
    Bot::start_with(BotOptions { gateway: true, ..BotOptions::default() }).await
}

/// The first button of the settings components whose label ends with
/// `label`: its custom id.
fn button(answer: &Value, label: &str) -> String {
    let rows = answer["data"]["components"].as_array().expect("components");
    rows.iter()
        .flat_map(|r| r["components"].as_array().unwrap().iter())
        .find(|b| b["label"].as_str().is_some_and(|l| l.ends_with(label)))
        .and_then(|b| b["custom_id"].as_str())
        .unwrap_or_else(|| panic!("no button {label:?} in {answer}"))
        .to_string()
}

fn reminders(bot: &Bot) -> Vec<Duration> {
    bot.store.chat_settings(&Destination::Discord(ChannelId(CHANNEL))).unwrap().map(|s| s.reminders).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_identifies_and_answers_the_mute_button_under_an_alert() {
    let mut bot = bot().await;
    let gateway = bot.gateway.as_ref().unwrap();
    let identify = &gateway.identifies()[0];
    assert_eq!(identify["token"].as_str().map(|t| t.trim_start_matches("Bot ")), Some(TOKEN));
    assert_eq!(gateway.refused(), 0);

    // A subscription made over the gateway; the alert carries the button.
    let answer = bot.through_gateway(&command("subscribe", strings(&[("agency", "SpaceX")]))).await;
    assert_eq!((answer["type"].as_u64(), answer["data"]["flags"].as_u64()), (Some(4), Some(64)), "{answer}");
    assert!(answer["data"]["content"].as_str().unwrap().contains("Subscribed #1"), "{answer}");
    bot.status_change(SPACEX_LAUNCH, on_hold()).await;
    let posts = bot.discord.messages(Target::Channel(CHANNEL));
    assert_eq!(posts.len(), 1);
    let mute = posts[0]["components"][0]["components"][0]["custom_id"].as_str().unwrap().to_string();
    assert_eq!(mute, format!("mute:launch/{SPACEX_LAUNCH}"));

    // The press arrives over the gateway: the button becomes Unmute (type 7).
    let answer = bot.through_gateway(&press(&mute, CHANNEL, MANAGER)).await;
    assert_eq!(answer["type"], 7, "{answer}");
    assert_eq!(answer["data"]["components"][0]["components"][0]["label"], "🔔 Unmute", "{answer}");
    let answer = bot.through_gateway(&command("muted", json!([]))).await;
    assert!(answer["data"]["content"].as_str().unwrap().contains("Nancy Grace Roman"), "{answer}");
    bot.status_change(SPACEX_LAUNCH, go()).await;
    assert_eq!(bot.discord.messages(Target::Channel(CHANNEL)).len(), 1, "muted here");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_over_the_gateway_edit_the_message_and_take_effect() {
    let bot = bot().await;
    let answer = bot.through_gateway(&command("settings", json!([]))).await;
    assert_eq!(answer["type"], 4, "a new message: {answer}");
    assert!(answer["data"].get("flags").is_none(), "visible to the channel: {answer}");
    assert!(answer["data"]["content"].as_str().unwrap().starts_with("⚙️ Settings"), "{answer}");
    let rows = answer["data"]["components"].as_array().unwrap();
    assert!(rows.len() <= 5 && rows.iter().all(|r| r["components"].as_array().unwrap().len() <= 5), "{answer}");
    let ten_minutes = button(&answer, "10m");
    assert!(ten_minutes.starts_with("s:"));
    assert_eq!(reminders(&bot), Vec::<Duration>::new(), "nothing stored yet");

    // A member without Manage Channels: refused privately, nothing changes.
    let refused = bot.through_gateway(&press(&ten_minutes, CHANNEL, MEMBER)).await;
    assert_eq!((refused["type"].as_u64(), refused["data"]["flags"].as_u64()), (Some(4), Some(64)), "{refused}");
    assert!(refused["data"]["content"].as_str().unwrap().contains("Manage Channels"), "{refused}");
    assert!(refused["data"].get("components").is_none(), "{refused}");
    assert!(bot.store.chat_settings(&Destination::Discord(ChannelId(CHANNEL))).unwrap().is_none());

    // A manager: the same message edited in place, the reminder stored.
    let edited = bot.through_gateway(&press(&ten_minutes, CHANNEL, MANAGER)).await;
    assert_eq!(edited["type"], 7, "{edited}");
    assert!(button(&edited, "10m").len() <= 100);
    let label = |a: &Value| {
        a["data"]["components"][1]["components"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["label"].as_str().unwrap().ends_with("10m"))
            .map(|b| b["label"].as_str().unwrap().to_string())
            .unwrap()
    };
    assert_eq!(label(&edited), "✅ 10m", "{edited}");
    assert!(edited["data"]["content"].as_str().unwrap().contains("» "), "what the press did: {edited}");
    assert_eq!(reminders(&bot), [Duration::from_secs(3600), Duration::from_secs(600)]);

    // The old buttons are stale now: refreshed, with a note, not applied.
    let stale = bot.through_gateway(&press(&ten_minutes, CHANNEL, MANAGER)).await;
    assert_eq!(stale["type"], 7, "{stale}");
    assert!(stale["data"]["content"].as_str().unwrap().contains("out of date"), "{stale}");
    assert_eq!(label(&stale), "✅ 10m");
    assert_eq!(reminders(&bot).len(), 2, "not toggled back");

    // Another channel's settings are its own.
    let other = bot.through_gateway(&interaction(2, "settings", json!([]), OTHER_CHANNEL, MANAGER)).await;
    assert_eq!(label(&other), "▫️ 10m", "{other}");
    assert!(bot.store.chat_settings(&Destination::Discord(ChannelId(OTHER_CHANNEL))).unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_gateway_url_the_client_is_not_started() {
    logs::logs();
    let fake = FakeDiscord::builder().token(TOKEN).start().await;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("store")).unwrap();
    let subs = Subscriptions::load(store.clone()).unwrap();
    let defaults =
        Defaults { timezone: chrono_tz::UTC, reminders: vec![], calendar_base: None, schedule_horizon: None };
    let directory = Default::default();
    let handler = std::sync::Arc::new(Handler::new(store, subs, directory, defaults));
    let stop = CancellationToken::new();
    let task = tokio::spawn(tminus::discord::gateway::run(discord_config(&fake), handler, stop.clone()));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !fake.requests().iter().any(|r| r.kind == Kind::GatewayBot) {
        assert!(tokio::time::Instant::now() < deadline, "the gateway URL was never asked for");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(5), task).await.expect("stops promptly").unwrap();
    let asked: Vec<Kind> = fake.requests().into_iter().map(|r| r.kind).collect();
    assert!(!asked.contains(&Kind::Gateway), "serenity's client was not built: {asked:?}");
    let text = logs::log_text();
    assert!(text.contains("cannot get the gateway URL"), "{text}");
    assert!(!text.contains("gateway.discord.gg"), "{text}");
    assert!(!text.contains(TOKEN), "the token never reaches a log line");
}
