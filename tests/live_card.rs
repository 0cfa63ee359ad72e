//! The live card end to end: the fake LL2 → the poller and reminders → the
//! outbox → the real Telegram and Discord (bot and webhook) senders → the
//! fake servers, for a watch with `style = "card"`. A compressed launch day (a reminder, a video added,
//! go, live, hold, recycle, liftoff, success, landing) makes at most three
//! new messages, the rest are edits, and the final card names the result
//! and the landing. The card survives a restart; a card Telegram no longer
//! lets us edit is replaced by a new one.

mod support;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};
use support::fake_discord::{FakeDiscord, RecordedRequest, Target};
use support::fake_ll2::FakeLl2;
use support::fake_telegram::{Call, FakeTelegram};
use tminus::config::{Config, Ll2Config, Watch};
use tminus::deliver::{Sender, Senders};
use tminus::discord::sender::WebhookSender;
use tminus::discord::{DiscordSender, SenderConfig};
use tminus::poller::BudgetWait;
use tminus::rules::{Filter, Origin, SubId, Subscription};
use tminus::store::ChatSettings;
use tminus::subscriptions::default_console_watch;
use tminus::telegram::{TelegramLimits, TelegramSender};
use tminus::types::Platform;
use tminus::types::{AlertKind, ChatId, Destination, Feed, Secret, Style};

/// Falcon Heavy | Nancy Grace Roman Space Telescope (to Sun-Earth L2).
const ROMAN: &str = "521f3a1c-f977-4306-9b7f-495858719adf";
const CHAT: i64 = 100;
const CHANNEL: u64 = 200;
const HOOK: u64 = 300;
const HOUR: Duration = Duration::from_secs(3600);

struct Env {
    dir: Arc<tempfile::TempDir>,
    ll2: FakeLl2,
    tg: FakeTelegram,
    dc: FakeDiscord,
    app: tminus::app::App,
}

impl Env {
    /// A card watch of everything to one chat, with a T-1h reminder, Roman
    /// 23 h away, after a silent first sync.
    async fn start() -> Env {
        let ll2 = FakeLl2::start().await;
        let tg = FakeTelegram::start().await;
        let dc = FakeDiscord::builder().token("discord-token").start().await;
        let dir = Arc::new(tempfile::tempdir().unwrap());
        let app = tminus::app::App::with_senders(config(&ll2, &dc, &dir), senders(&tg, &dc)).unwrap();
        let mut env = Env { dir, ll2, tg, dc, app };
        env.edit_roman(|item| item["net"] = stamp(Utc::now() + chrono::Duration::hours(23)));
        env.poll().await;
        assert!(env.tg.sent().is_empty(), "first sync");
        env
    }

    /// The app stopped and started again on the same store. sled releases
    /// its lock from a background thread shortly after the last handle is
    /// dropped, so the reopen is retried for a while.
    async fn restarted(self) -> Env {
        let Env { dir, ll2, tg, dc, app: old } = self;
        drop(old);
        for _ in 0..100 {
            let config = config(&ll2, &dc, &dir);
            if let Ok(app) = tminus::app::App::with_senders(config, senders(&tg, &dc)) {
                return Env { dir, ll2, tg, dc, app };
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the store could not be reopened");
    }

    async fn poll(&mut self) {
        for feed in Feed::ALL {
            self.app.poller.poll_feed(feed, BudgetWait::Skip).await.unwrap();
        }
        self.app.deliverer.drain_once().await.unwrap();
    }

    fn edit_roman(&self, f: impl FnOnce(&mut Value)) {
        self.ll2.update(Feed::Launches, ROMAN, f);
    }

    fn net(&self) -> DateTime<Utc> {
        self.ll2.item(Feed::Launches, ROMAN).unwrap()["net"].as_str().unwrap().parse().unwrap()
    }

    /// The T-1h reminder, due now by the reminders' clock.
    async fn remind(&mut self) {
        let at = self.net() - chrono::Duration::from_std(HOUR).unwrap() + chrono::Duration::seconds(30);
        assert_eq!(self.app.reminders.pass(at).await.unwrap(), 1, "one reminder due");
        self.app.deliverer.drain_once().await.unwrap();
    }

    /// Accepted new messages (sendMessage, sendPhoto) to the chat.
    fn sends(&self) -> Vec<Call> {
        self.tg.sent_to(CHAT)
    }

    /// Accepted card edits.
    fn edits(&self) -> Vec<Call> {
        self.tg.calls_to("editMessageText").into_iter().filter(|c| c.ok()).collect()
    }

    /// The card as the chat sees it now.
    fn card(&self, id: i64) -> String {
        self.tg.message_text(CHAT, id).expect("the card exists")
    }
}

/// The card watch to the chat, the channel and the webhook, on `dir`'s store.
fn config(ll2: &FakeLl2, dc: &FakeDiscord, dir: &tempfile::TempDir) -> Config {
    let mut config = Config::default_config();
    // A launch day polled often: more than the fake's default 15 an hour.
    config.ll2 = Ll2Config { requests_per_hour: 1000, ..ll2.ll2_config() };
    config.store.path = dir.path().join("store");
    config.watches = vec![Watch {
        name: "cards".into(),
        to: vec![
            format!("telegram:{CHAT}").parse().unwrap(),
            format!("discord:{CHANNEL}").parse().unwrap(),
            format!("discord-webhook:{}", dc.webhook_url(HOOK, "hooktoken")).parse().unwrap(),
        ],
        style: Style::Card,
        ..default_console_watch(chrono_tz::UTC, vec![HOUR])
    }];
    config
}

fn senders(tg: &FakeTelegram, dc: &FakeDiscord) -> Senders {
    let telegram = TelegramSender::new(&tg.token(), &tg.api_url(), TelegramLimits::default().scaled(100.0)).unwrap();
    let discord = DiscordSender::new(Secret::new("discord-token"), &dc.api_url(), SenderConfig::default()).unwrap();
    let webhooks = WebhookSender::new(SenderConfig::default()).unwrap();
    Senders::default()
        .with(Platform::Telegram, Arc::new(telegram) as Arc<dyn Sender>)
        .with(Platform::Discord, Arc::new(discord) as Arc<dyn Sender>)
        .with(Platform::DiscordWebhook, Arc::new(webhooks) as Arc<dyn Sender>)
}

/// The id of the message a Discord post created.
fn created(post: &RecordedRequest) -> String {
    post.answer["id"].as_str().expect("a message object").to_string()
}

fn stamp(t: DateTime<Utc>) -> Value {
    json!(t.to_rfc3339_opts(SecondsFormat::Secs, true))
}

fn status(id: i64, name: &str, abbrev: &str) -> Value {
    json!({"id": id, "name": name, "abbrev": abbrev})
}

#[tokio::test]
async fn a_launch_day_is_one_card_and_three_messages_at_most() {
    let mut env = Env::start().await;
    env.remind().await;
    let sends = env.sends();
    assert_eq!(sends.len(), 1, "the reminder starts the card: {sends:?}");
    assert!(sends[0].is("sendMessage"), "a card is text, editable as text");
    assert!(!sends[0].silent(), "a reminder starts the card: loud");
    let card = sends[0].message_id.unwrap();
    assert!(env.card(card).contains("T-1h"), "{}", env.card(card));

    let video = "https://www.youtube.com/watch?v=roman";
    env.edit_roman(|i| i["vid_urls"] = json!([{"url": video, "title": "Launch", "live": false}]));
    env.poll().await;
    env.edit_roman(|i| i["status"] = status(1, "Go for Launch", "Go"));
    env.edit_roman(|i| i["webcast_live"] = json!(true));
    env.poll().await;
    env.edit_roman(|i| i["status"] = status(5, "On Hold", "Hold"));
    env.poll().await;
    let recycled = stamp(env.net() + chrono::Duration::minutes(30));
    env.edit_roman(|i| {
        i["net"] = recycled.clone();
        i["window_start"] = recycled.clone();
        i["status"] = status(1, "Go for Launch", "Go");
    });
    env.poll().await;
    assert_eq!(env.sends().len(), 1, "video, go, live, hold, recycle: edits only: {:?}", env.sends());
    assert!(env.card(card).contains("Go for Launch"), "{}", env.card(card));
    let buttons = env.tg.reply_markup(CHAT, card).unwrap_or_default().to_string();
    assert!(buttons.contains(video), "the card's Watch live button: {buttons}");

    env.edit_roman(|i| i["status"] = status(6, "Launch in Flight", "In Flight"));
    env.poll().await;
    env.edit_roman(|i| i["status"] = status(3, "Launch Successful", "Success"));
    env.poll().await;
    env.ll2.land_boosters(ROMAN, true);
    env.poll().await;

    let sends = env.sends();
    assert_eq!(sends.len(), 3, "card, liftoff, success: {:#?}", sends.iter().map(|c| &c.text).collect::<Vec<_>>());
    let replies: Vec<&Call> = sends[1..].iter().collect();
    for r in &replies {
        assert_eq!(r.params["reply_parameters"]["message_id"], json!(card), "a reply to the card: {:?}", r.params);
        assert!(!r.silent(), "loud");
    }
    assert!(replies[0].text.as_deref().unwrap().contains("Liftoff!"));
    assert!(replies[1].text.as_deref().unwrap().contains("Success"));
    assert!(env.edits().len() >= 6, "the rest are edits: {}", env.edits().len());
    let last = env.card(card);
    assert!(last.contains("Launch Successful"), "{last}");
    assert!(last.contains("landed ✅") && !last.contains("landing planned"), "{last}");
}

#[tokio::test]
async fn the_card_survives_a_restart() {
    let mut env = Env::start().await;
    env.remind().await;
    let card = env.sends()[0].message_id.unwrap();
    let mut env = env.restarted().await;
    env.edit_roman(|i| i["status"] = status(5, "On Hold", "Hold"));
    env.poll().await;
    assert_eq!(env.sends().len(), 1, "no second card after the restart");
    assert_eq!(env.edits().last().and_then(|c| c.params["message_id"].as_i64()), Some(card));
    assert!(env.card(card).contains("On Hold"), "{}", env.card(card));
}

#[tokio::test]
async fn a_card_that_cannot_be_edited_is_replaced() {
    let mut env = Env::start().await;
    env.remind().await;
    let first = env.sends()[0].message_id.unwrap();
    env.tg.fail_method("editmessagetext", 1, 400, "Bad Request: message to edit not found");
    env.edit_roman(|i| i["status"] = status(5, "On Hold", "Hold"));
    env.poll().await;
    let sends = env.sends();
    assert_eq!(sends.len(), 2, "a new card: {sends:?}");
    let second = sends[1].message_id.unwrap();
    assert_ne!(second, first);
    assert!(env.card(second).contains("On Hold"));

    // The new card is the one edited from now on.
    env.edit_roman(|i| i["status"] = status(1, "Go for Launch", "Go"));
    env.poll().await;
    assert_eq!(env.sends().len(), 2);
    assert!(env.card(second).contains("Go for Launch"), "{}", env.card(second));
}

/// The text of a Discord message's embeds.
fn embed(message: &Value) -> String {
    message["embeds"].to_string()
}

#[tokio::test]
async fn discord_gets_one_card_edited_in_place_and_replies_to_it() {
    let mut env = Env::start().await;
    env.remind().await;
    env.edit_roman(|i| i["status"] = status(5, "On Hold", "Hold"));
    env.poll().await;
    env.edit_roman(|i| i["status"] = status(6, "Launch in Flight", "In Flight"));
    env.poll().await;
    env.edit_roman(|i| i["status"] = status(3, "Launch Successful", "Success"));
    env.poll().await;
    env.ll2.land_boosters(ROMAN, true);
    env.poll().await;

    for target in [Target::Channel(CHANNEL), Target::Webhook(HOOK)] {
        let posts = env.dc.posts(target);
        assert_eq!(posts.len(), 3, "{target:?}: card, liftoff, success: {posts:#?}");
        let card = created(&posts[0]);
        let edits = env.dc.edits(target);
        assert_eq!(edits.len(), 4, "{target:?}: hold, liftoff, success, landing");
        assert!(edits.iter().all(|e| e.path.ends_with(&format!("/messages/{card}"))), "{edits:#?}");
        assert!(edits.iter().all(|e| e.body.get("flags").is_none()), "an edit carries no notification flags");
        let last = env.dc.message(&card).unwrap();
        assert!(embed(&last).contains("Launch Successful") && embed(&last).contains("landed ✅"), "{last}");
        assert!(embed(&posts[1].body).contains("Liftoff!") && embed(&posts[2].body).contains("Success"));
        if target == Target::Channel(CHANNEL) {
            for reply in &posts[1..] {
                assert_eq!(reply.body["message_reference"]["message_id"], json!(card), "a reply to the card");
            }
        }
    }
}

#[tokio::test]
async fn a_deleted_discord_card_is_replaced() {
    let mut env = Env::start().await;
    env.remind().await;
    for target in [Target::Channel(CHANNEL), Target::Webhook(HOOK)] {
        env.dc.delete_message(&created(&env.dc.posts(target)[0]));
    }
    env.edit_roman(|i| i["status"] = status(5, "On Hold", "Hold"));
    env.poll().await;
    for target in [Target::Channel(CHANNEL), Target::Webhook(HOOK)] {
        let posts = env.dc.posts(target);
        assert_eq!(posts.len(), 2, "{target:?}: a new card after 10008: {:#?}", env.dc.requests_to(target));
        assert!(embed(&posts[1].body).contains("On Hold"), "{}", posts[1].body);
    }
    assert_eq!(env.app.store.subscriptions().unwrap().iter().filter(|s| s.enabled).count(), 3, "nothing disabled");
    env.edit_roman(|i| i["status"] = status(1, "Go for Launch", "Go"));
    env.poll().await;
    for target in [Target::Channel(CHANNEL), Target::Webhook(HOOK)] {
        let card = created(&env.dc.posts(target)[1]);
        assert_eq!(env.dc.posts(target).len(), 2);
        assert!(embed(&env.dc.message(&card).unwrap()).contains("Go for Launch"));
    }
}

#[tokio::test]
async fn a_chat_s_own_style_decides_when_its_subscription_takes_part() {
    let mut env = Env::start().await;
    const OTHER: i64 = 101;
    let settings = |style| ChatSettings {
        timezone: chrono_tz::UTC,
        reminders: vec![],
        alerts: AlertKind::ALL.to_vec(),
        schedule_horizon: None,
        quiet_hours: None,
        silent: vec![],
        style,
        digest: None,
    };
    // CHAT has the card watch and a subscription of its own, with the
    // chat's style "messages"; OTHER only its own, with "card".
    for (chat, style) in [(CHAT, Style::Messages), (OTHER, Style::Card)] {
        let dest = Destination::Telegram(ChatId(chat));
        let id = SubId(env.app.store.next_id().unwrap());
        env.app.subs.put(&Subscription::new(id, dest.clone(), Filter::default(), Origin::Chat)).unwrap();
        env.app.store.put_chat_settings(&dest, &settings(style)).unwrap();
    }
    env.edit_roman(|i| i["status"] = status(5, "On Hold", "Hold"));
    env.poll().await;
    env.edit_roman(|i| i["status"] = status(1, "Go for Launch", "Go"));
    env.poll().await;
    assert_eq!(env.tg.sent_to(CHAT).len(), 2, "the chat said messages: one per alert");
    let other = env.tg.sent_to(OTHER);
    assert_eq!(other.len(), 1, "the chat said card: {other:?}");
    assert!(other[0].silent(), "a card started by a status change comes without a sound, like an edit");
    let card = other[0].message_id.unwrap();
    assert!(env.tg.message_text(OTHER, card).unwrap().contains("Go for Launch"), "edited");
    assert_eq!(env.dc.posts(Target::Channel(CHANNEL)).len(), 1, "the watch's card elsewhere");
}
