//! Alerts people want, end to end: the fake LL2 → the poller (detection,
//! one alert per item update, routing by kinds and schedule horizon, one
//! message per destination however many watches overlap there) → the
//! outbox → the real Telegram and Discord senders → the fake servers.
//! Plus: no message of any fixture item links to the LL2 API, on either
//! platform.

mod support;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};
use support::fake_discord::{FakeDiscord, Target};
use support::fake_ll2::FakeLl2;
use support::fake_telegram::FakeTelegram;
use tminus::config::{Config, Watch};
use tminus::deliver::{Sender, Senders};
use tminus::detect::{Alert, AlertId, Change};
use tminus::discord::{DiscordSender, SenderConfig};
use tminus::ll2::parse_page;
use tminus::poller::BudgetWait;
use tminus::subscriptions::default_console_watch;
use tminus::telegram::{TelegramLimits, TelegramSender};
use tminus::types::Feed;
use tminus::types::Platform;
use tminus::types::Secret;

/// Falcon Heavy | Nancy Grace Roman Space Telescope (to Sun-Earth L2).
const ROMAN: &str = "521f3a1c-f977-4306-9b7f-495858719adf";
const CHAT: i64 = 100;
const CHANNEL: u64 = 200;
const DAY: Duration = Duration::from_secs(86_400);

struct Env {
    _dir: tempfile::TempDir,
    ll2: FakeLl2,
    tg: FakeTelegram,
    dc: FakeDiscord,
    app: tminus::app::App,
}

impl Env {
    /// A watch of everything to one Telegram chat and one Discord channel,
    /// with `horizon`, after a silent first sync.
    async fn start(horizon: Option<Duration>) -> Env {
        Env::with_watches(vec![Watch { schedule_horizon: horizon, ..watch("everything") }]).await
    }

    /// `watches`, after a silent first sync.
    async fn with_watches(watches: Vec<Watch>) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let ll2 = FakeLl2::start().await;
        let tg = FakeTelegram::start().await;
        let dc = FakeDiscord::builder().token("discord-token").start().await;
        let mut config = Config::default_config();
        config.ll2 = ll2.ll2_config();
        config.store.path = dir.path().join("store");
        config.watches = watches;
        let telegram = TelegramSender::new(&tg.token(), &tg.api_url(), TelegramLimits::default()).unwrap();
        let discord = DiscordSender::new(Secret::new("discord-token"), &dc.api_url(), SenderConfig::default()).unwrap();
        let senders = Senders::default()
            .with(Platform::Telegram, Arc::new(telegram) as Arc<dyn Sender>)
            .with(Platform::Discord, Arc::new(discord) as Arc<dyn Sender>);
        let app = tminus::app::App::with_senders(config, senders).unwrap();
        let mut env = Env { _dir: dir, ll2, tg, dc, app };
        env.poll().await;
        assert!(env.tg.sent().is_empty() && env.dc.messages(Target::Channel(CHANNEL)).is_empty(), "first sync");
        env
    }

    async fn poll(&mut self) {
        for feed in Feed::ALL {
            self.app.poller.poll_feed(feed, BudgetWait::Skip).await.unwrap();
        }
        self.app.deliverer.drain_once().await.unwrap();
    }

    /// Texts (or captions) and buttons sent to the chat, and the Discord
    /// messages sent to the channel, since the last `clear`.
    fn telegram(&self) -> Vec<(String, Value)> {
        let calls = self.tg.sent_to(CHAT);
        calls
            .into_iter()
            .map(|c| (c.text.or(c.caption).unwrap_or_default(), c.reply_markup.unwrap_or(Value::Null)))
            .collect()
    }

    fn discord(&self) -> Vec<Value> {
        self.dc.messages(Target::Channel(CHANNEL))
    }

    fn clear(&self) {
        self.tg.clear_calls();
        self.dc.clear_requests();
    }

    fn roman_net(&self) -> DateTime<Utc> {
        let item = self.ll2.item(Feed::Launches, ROMAN).unwrap();
        item["net"].as_str().unwrap().parse().unwrap()
    }

    /// Moves Roman's NET (and its window with it) to `net`, and sets its
    /// status when given, in one LL2 edit.
    fn edit_roman(&self, net: DateTime<Utc>, status: Option<Value>) {
        let at = json!(net.to_rfc3339_opts(SecondsFormat::Secs, true));
        self.ll2.update(Feed::Launches, ROMAN, |item| {
            item["net"] = at.clone();
            item["window_start"] = at.clone();
            item["window_end"] = at;
            if let Some(s) = status {
                item["status"] = s;
            }
        });
    }
}

/// A watch of everything to the Telegram chat and the Discord channel.
fn watch(name: &str) -> Watch {
    Watch {
        name: name.into(),
        to: vec![format!("telegram:{CHAT}").parse().unwrap(), format!("discord:{CHANNEL}").parse().unwrap()],
        ..default_console_watch(chrono_tz::UTC, vec![])
    }
}

fn status(id: i64, name: &str, abbrev: &str) -> Value {
    json!({"id": id, "name": name, "abbrev": abbrev})
}

fn embed_text(message: &Value) -> String {
    message["embeds"].to_string()
}

fn assert_no_ll2_api(what: &str, text: &str) {
    assert!(!text.contains("thespacedevs.com/2.") && !text.contains("/api/ll/"), "{what} links the LL2 API: {text}");
}

#[tokio::test]
async fn a_status_change_with_a_net_slip_is_one_message_that_names_the_orbit() {
    let mut env = Env::start(None).await;
    let net = env.roman_net() + chrono::Duration::hours(1);
    env.edit_roman(net, Some(status(8, "To Be Confirmed", "TBC")));
    env.poll().await;

    let tg = env.telegram();
    assert_eq!(tg.len(), 1, "one Telegram message for the update: {tg:?}");
    let (text, buttons) = &tg[0];
    assert!(text.starts_with("🚦 <b>Status changed</b>"), "status is the headline: {text}");
    assert!(text.contains("Status: Go for Launch → To Be Confirmed"), "{text}");
    assert!(text.contains("NET: "), "the slip is a line of the same message: {text}");
    assert!(text.contains("Sun-Earth L2"), "a launch alert names its orbit: {text}");
    assert!(text.contains("Falcon Heavy"), "and its rocket: {text}");
    assert_no_ll2_api("Telegram text", text);
    assert_no_ll2_api("Telegram buttons", &buttons.to_string());
    assert!(buttons.to_string().contains("https://spacelaunchnow.me/launch/"), "{buttons}");

    let dc = env.discord();
    assert_eq!(dc.len(), 1, "one Discord message for the update");
    let embed = embed_text(&dc[0]);
    assert!(embed.contains("Status changed") && embed.contains("NET: "), "{embed}");
    assert!(embed.contains("Sun-Earth L2"), "{embed}");
    assert_no_ll2_api("Discord embed", &embed);
    assert_eq!(env.app.store.outbox_len(), 0);
}

#[tokio::test]
async fn a_correction_after_a_successful_launch_sends_nothing() {
    let mut env = Env::start(None).await;
    let liftoff = Utc::now() - chrono::Duration::minutes(10);
    env.edit_roman(liftoff, Some(status(3, "Launch Successful", "Success")));
    env.poll().await;
    let tg = env.telegram();
    assert_eq!(tg.len(), 1, "the result (with its NET) is one message");
    assert!(tg[0].0.starts_with("✅ <b>Success</b>"), "{}", tg[0].0);
    assert_eq!(env.discord().len(), 1);

    env.clear();
    env.edit_roman(liftoff + chrono::Duration::seconds(37), None);
    env.poll().await;
    assert!(env.telegram().is_empty(), "a post-T-0 correction alone is not news: {:?}", env.telegram());
    assert!(env.discord().is_empty());
    assert_eq!(env.app.store.outbox_len(), 0);
}

#[tokio::test]
async fn the_librarians_note_says_why_a_launch_slipped_once() {
    let mut env = Env::start(None).await;
    let net = env.roman_net() + chrono::Duration::days(3);
    env.ll2.update(Feed::Launches, ROMAN, |item| {
        let at = json!(net.to_rfc3339_opts(SecondsFormat::Secs, true));
        item["net"] = at.clone();
        item["window_start"] = at.clone();
        item["window_end"] = at;
        let note = json!({"id": 99999, "comment": "Delayed to NET January 3.\r\nPer the provider.",
            "info_url": "https://example.org/roman-slip", "created_on": Utc::now().to_rfc3339()});
        item["updates"].as_array_mut().unwrap().insert(0, note);
    });
    env.poll().await;
    let tg = env.telegram();
    assert_eq!(tg.len(), 1, "{tg:?}");
    assert!(tg[0].0.contains("💬 “Delayed to NET January 3. Per the provider.”"), "{}", tg[0].0);
    assert!(tg[0].0.contains("https://example.org/roman-slip"), "the note's source is linked: {}", tg[0].0);
    let embed = embed_text(&env.discord()[0]);
    assert!(embed.contains("Delayed to NET January 3.") && embed.contains("https://example.org/roman-slip"), "{embed}");

    // The next change, without a new note, does not repeat the old one.
    env.clear();
    env.edit_roman(net, Some(status(5, "On Hold", "Hold")));
    env.poll().await;
    let tg = env.telegram();
    assert_eq!(tg.len(), 1);
    assert!(!tg[0].0.contains("Delayed to NET January 3."), "{}", tg[0].0);
}

#[tokio::test]
async fn booster_landing_results_reach_both_platforms_as_a_status_message() {
    let mut env = Env::start(None).await;
    let liftoff = Utc::now() - chrono::Duration::minutes(10);
    env.edit_roman(liftoff, Some(status(3, "Launch Successful", "Success")));
    env.poll().await;
    assert!(env.telegram()[0].0.contains("landing planned"), "{:?}", env.telegram());

    // LL2 fills in the side boosters' landings after the result.
    env.clear();
    env.ll2.update(Feed::Launches, ROMAN, |item| {
        let stages = item["rocket"]["launcher_stage"].as_array_mut().unwrap();
        stages[0]["landing"]["success"] = json!(true);
        stages[1]["landing"]["success"] = json!(false);
    });
    env.poll().await;
    let tg = env.telegram();
    assert_eq!(tg.len(), 1, "one message for the landings: {tg:?}");
    let text = &tg[0].0;
    assert!(text.starts_with("💥 <b>Landing failed</b>"), "one core was lost: {text}");
    assert!(text.contains("on LZ-40") && text.contains("landed ✅"), "{text}");
    assert!(text.contains("landing failed ❌"), "{text}");
    let dc = env.discord();
    assert_eq!(dc.len(), 1);
    let embed = embed_text(&dc[0]);
    assert!(embed.contains("Landing failed") && embed.contains("landed ✅"), "{embed}");

    // The same results again are not news.
    env.clear();
    env.ll2.touch(Feed::Launches, ROMAN);
    env.poll().await;
    assert!(env.telegram().is_empty() && env.discord().is_empty());
}

#[tokio::test]
async fn a_five_day_horizon_silences_a_far_net_move_but_not_a_status_change() {
    let mut env = Env::start(Some(5 * DAY)).await;
    let far = Utc::now() + chrono::Duration::days(20);
    // Away from the near date it had: the old date was within the horizon.
    env.edit_roman(far, None);
    env.poll().await;
    assert_eq!(env.telegram().len(), 1, "moving out of the horizon is told");

    env.clear();
    env.edit_roman(far + chrono::Duration::days(1), None);
    env.poll().await;
    assert!(env.telegram().is_empty(), "20 → 21 days out, horizon 5d: {:?}", env.telegram());
    assert!(env.discord().is_empty());

    env.edit_roman(far + chrono::Duration::days(1), Some(status(5, "On Hold", "Hold")));
    env.poll().await;
    let tg = env.telegram();
    assert_eq!(tg.len(), 1, "status changes are not held back");
    assert!(tg[0].0.contains("On Hold"), "{}", tg[0].0);
    assert_eq!(env.discord().len(), 1);
}

/// Issue 20: a chat reached through two overlapping watches (agency
/// SpaceX, and everything) gets one message per update, as many as with
/// one watch (`a_status_change_with_a_net_slip_is_one_message_…`).
#[tokio::test]
async fn overlapping_watches_send_each_update_once() {
    let spacex = Watch { agencies: vec!["SpaceX".into()], ..watch("spacex") };
    let mut env = Env::with_watches(vec![spacex, watch("everything")]).await;
    let net = env.roman_net() + chrono::Duration::hours(1);
    env.edit_roman(net, Some(status(8, "To Be Confirmed", "TBC")));
    env.poll().await;
    let tg = env.telegram();
    assert_eq!(tg.len(), 1, "one Telegram message for the update: {tg:?}");
    assert!(tg[0].0.contains("To Be Confirmed") && tg[0].0.contains("NET: "), "{}", tg[0].0);
    assert_eq!(env.discord().len(), 1, "one Discord message for the update");

    env.clear();
    env.edit_roman(net, Some(status(5, "On Hold", "Hold")));
    env.poll().await;
    assert_eq!((env.telegram().len(), env.discord().len()), (1, 1));
    assert_eq!(env.app.store.outbox_len(), 0);
}

/// Overlapping watches merge into one message: the changes any of them
/// wants, and everyone any of them pings, once.
#[tokio::test]
async fn overlapping_watches_unite_their_kinds_and_mentions() {
    use tminus::types::{AlertKind, Mention};
    let statuses = Watch { alerts: vec![AlertKind::Status], mentions: vec![Mention::Role(11)], ..watch("statuses") };
    let schedules = Watch {
        alerts: vec![AlertKind::Schedule],
        mentions: vec![Mention::User(22), Mention::Role(11)],
        ..watch("schedules")
    };
    let mut env = Env::with_watches(vec![statuses, schedules]).await;
    let net = env.roman_net() + chrono::Duration::hours(1);
    env.edit_roman(net, Some(status(8, "To Be Confirmed", "TBC")));
    env.poll().await;
    let tg = env.telegram();
    assert_eq!(tg.len(), 1, "{tg:?}");
    assert!(tg[0].0.contains("Status: Go for Launch → To Be Confirmed"), "one watch's change: {}", tg[0].0);
    assert!(tg[0].0.contains("NET: "), "and the other's, in the same message: {}", tg[0].0);
    let dc = env.discord();
    assert_eq!(dc.len(), 1, "{dc:?}");
    assert_eq!(dc[0]["content"], "<@&11> <@22>", "both watches' mentions, once each");

    // A change only one of them wants pings only its mentions.
    env.clear();
    env.edit_roman(net, Some(status(5, "On Hold", "Hold")));
    env.poll().await;
    let dc = env.discord();
    assert_eq!((env.telegram().len(), dc.len()), (1, 1));
    assert_eq!(dc[0]["content"], "<@&11>");
}

/// Every item of every LL2 fixture, rendered as a new-item alert on both
/// platforms: no text, button or embed URL points at the LL2 API.
#[test]
fn no_message_of_any_fixture_item_links_the_ll2_api() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ll2");
    let mut rendered = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if !name.ends_with(".json") {
            continue;
        }
        let feed = if name.starts_with("event") { Feed::Events } else { Feed::Launches };
        let body = std::fs::read(&path).unwrap();
        let items = match parse_page(feed, &body) {
            Ok(page) => page.items,
            Err(_) => vec![tminus::ll2::parse_item(feed, &body).unwrap()],
        };
        for item in items {
            assert!(item.url.as_deref().is_some_and(|u| u.contains("thespacedevs.com/2.")), "the data has one");
            let alert = Alert::new(AlertId(1), item, vec![Change::New], Utc::now());
            let msg = tminus::render::message(&alert, chrono_tz::UTC, Utc::now());
            let what = format!("{name}: {}", msg.title);
            assert_no_ll2_api(&what, &tminus::telegram::render::html(&msg));
            assert_no_ll2_api(&what, &tminus::telegram::render::caption(&msg).unwrap_or_default());
            assert_no_ll2_api(&what, &format!("{:?}", tminus::telegram::render::buttons(&msg)));
            let channel = serde_json::to_value(tminus::discord::render::channel_message(&msg, &[])).unwrap();
            let webhook = serde_json::to_value(tminus::discord::render::webhook_message(&msg, &[])).unwrap();
            assert_no_ll2_api(&what, &channel.to_string());
            assert_no_ll2_api(&what, &webhook.to_string());
            assert_no_ll2_api(&what, &tminus::render::console(&msg));
            assert!(msg.link.is_some(), "{what}: every fixture item has a page for people");
            rendered += 1;
        }
    }
    assert!(rendered >= 30, "{rendered}");
}
