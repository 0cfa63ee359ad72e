//! Discord `/events on|off` and `/start` against the fake Discord: a
//! member with Manage Events mirrors the channel's subscriptions as the
//! guild's scheduled events (the running sync, woken without a restart,
//! creates them in the fake guild; `/events off` deletes them), members
//! without it are refused; `/start` answers like Telegram's, over the HTTP
//! endpoint and the gateway.

mod support;

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use support::fake_discord::bot::{Bot, BotOptions, CHANNEL, GUILD, MANAGER, TOKEN, command, interaction, strings};
use tminus::commands::manage::WELCOME;
use tminus::discord::BotLimiter;
use tminus::discord::events::{EventSync, EventsApi};
use tminus::rules::Origin;
use tminus::types::{Destination, GuildId, Secret};
use tokio_util::sync::CancellationToken;

/// Manage Events (1 << 33) without Manage Channels.
const EVENTS_MANAGER: &str = "8589934592";

/// Waits until the fake guild holds `pred` of its events.
async fn until_events(bot: &Bot, pred: impl Fn(usize) -> bool) -> usize {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let n = bot.discord.scheduled_events(GUILD).len();
        if pred(n) || tokio::time::Instant::now() > deadline {
            return n;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_on_mirrors_the_channel_as_scheduled_events_and_off_deletes_them() {
    let bot = Bot::start().await;
    // The sync as `tminus run` starts it: idle, no guild yet.
    let api = EventsApi::new(Secret::new(TOKEN), &bot.discord.api_url(), BotLimiter::discord()).unwrap();
    let sync = Arc::new(EventSync::new(bot.store.clone(), api, Duration::from_secs(365 * 86_400)));
    let stop = CancellationToken::new();
    let task = tokio::spawn(sync.run(stop.clone()));
    let events = |state: &str, perms: &str| interaction(2, "events", strings(&[("state", state)]), CHANNEL, perms);

    let (text, private) = bot.run(command("events", json!([]))).await;
    assert!(private && text.contains("off"), "{text}");
    let (text, private) = bot.run(events("on", MANAGER)).await;
    assert!(private && text.contains("needs the Manage Events permission"), "Manage Channels is not enough: {text}");
    let (text, _) = bot.run(events("on", EVENTS_MANAGER)).await;
    assert!(text.contains("no subscriptions to mirror"), "{text}");
    let guild = Destination::DiscordEvents(GuildId(GUILD));
    assert!(bot.store.subscriptions_of(&guild).unwrap().is_empty());

    bot.run(command("subscribe", json!([]))).await;
    let (text, private) = bot.run(events("on", EVENTS_MANAGER)).await;
    assert!(private && text.contains("Scheduled events on") && text.contains("1 subscription"), "{text}");
    let mirrors = bot.store.subscriptions_of(&guild).unwrap();
    assert_eq!(mirrors.len(), 1);
    assert_eq!(mirrors[0].origin, Origin::Chat, "the chat's, so export carries it");
    let created = until_events(&bot, |n| n > 0).await;
    assert!(created > 0, "the running sync created events without a restart");
    let (text, _) = bot.run(command("events", json!([]))).await;
    assert!(text.contains("Scheduled events are on"), "{text}");
    // Again: the copies are replaced, not doubled.
    bot.run(events("on", EVENTS_MANAGER)).await;
    assert_eq!(bot.store.subscriptions_of(&guild).unwrap().len(), 1);

    let (text, _) = bot.run(events("off", MANAGER)).await;
    assert!(text.contains("Manage Events"), "{text}");
    let (text, _) = bot.run(events("off", EVENTS_MANAGER)).await;
    assert!(text.contains("Scheduled events off"), "{text}");
    assert!(bot.store.subscriptions_of(&guild).unwrap().is_empty());
    assert_eq!(until_events(&bot, |n| n == 0).await, 0, "the bot's events are deleted");
    let (text, _) = bot.run(events("maybe", EVENTS_MANAGER)).await;
    assert!(text.contains("Use: /events on"), "{text}");
    stop.cancel();
    task.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_welcomes_like_telegram_over_the_endpoint_and_the_gateway() {
    let bot = Bot::start_with(BotOptions { gateway: true, ..BotOptions::default() }).await;
    let (text, private) = bot.run(command("start", json!([]))).await;
    assert_eq!((text.as_str(), private), (WELCOME, false));
    let answer = bot.through_gateway(&command("start", json!([]))).await;
    assert_eq!(answer["data"]["content"], WELCOME, "{answer}");
}
