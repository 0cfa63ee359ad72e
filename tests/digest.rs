//! Digests end to end in the app harness: the fake LL2 → the poller →
//! the store; `Digests::pass` stepped to the due moment → the outbox →
//! the real Telegram and Discord senders → the fakes. One message per
//! destination listing the window's launches in date order with local
//! times and status, silent in quiet hours, once per due moment, nothing
//! when the list is empty, and independent of the alert kinds (a watch
//! hearing only reminders gets its reminders and its digest, nothing else).

mod support;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, DurationRound, SecondsFormat, Utc};
use serde_json::{Value, json};
use support::app::{App, AppOptions};
use support::fake_discord::{FakeDiscord, Target};
use support::fake_ll2::FakeLl2;
use support::fake_telegram::FakeTelegram;
use support::telegram_chat::{ALICE, TelegramChat};
use tminus::config::Watch;
use tminus::deliver::{Sender, Senders};
use tminus::discord::{DiscordSender, SenderConfig};
use tminus::poller::BudgetWait;
use tminus::subscriptions::default_console_watch;
use tminus::telegram::{TelegramLimits, TelegramSender};
use tminus::types::Platform;
use tminus::types::{AlertKind, Feed, Secret};

/// Falcon Heavy | Nancy Grace Roman Space Telescope.
const ROMAN: &str = "521f3a1c-f977-4306-9b7f-495858719adf";
/// H3-24 | Martian Moon eXplorer (MMX).
const MMX: &str = "69ebbcd2-b257-4070-9ef9-21e7d1f8a883";
const CHAT: i64 = 100;
const CHANNEL: u64 = 200;
const H1: Duration = Duration::from_secs(3600);

struct Env {
    ll2: FakeLl2,
    tg: FakeTelegram,
    dc: FakeDiscord,
    app: App,
}

/// A watch of everything to the chat and the channel that hears only 1 h
/// reminders, with a daily digest at `due` (Berlin time) and quiet hours
/// around it.
fn watch(due: DateTime<Utc>) -> Watch {
    let berlin = chrono_tz::Europe::Berlin;
    let local = due.with_timezone(&berlin);
    let quiet = format!("{}-{}", (local - chrono::Duration::hours(1)).format("%H:%M"), (local + H1).format("%H:%M"));
    Watch {
        name: "calm".into(),
        to: vec![format!("telegram:{CHAT}").parse().unwrap(), format!("discord:{CHANNEL}").parse().unwrap()],
        alerts: vec![AlertKind::Reminder],
        reminders: vec![H1],
        timezone: berlin,
        digest: Some(format!("daily {}", local.format("%H:%M")).parse().unwrap()),
        quiet_hours: Some(quiet.parse().unwrap()),
        ..default_console_watch(berlin, vec![])
    }
}

impl Env {
    /// The app with a digest due at `due`, after a silent first sync.
    async fn start(due: DateTime<Utc>) -> Env {
        let ll2 = FakeLl2::start().await;
        let tg = FakeTelegram::start().await;
        let dc = FakeDiscord::builder().token("discord-token").start().await;
        let telegram = TelegramSender::new(&tg.token(), &tg.api_url(), TelegramLimits::default()).unwrap();
        let discord = DiscordSender::new(Secret::new("discord-token"), &dc.api_url(), SenderConfig::default()).unwrap();
        let senders = Senders::default()
            .with(Platform::Telegram, Arc::new(telegram) as Arc<dyn Sender>)
            .with(Platform::Discord, Arc::new(discord) as Arc<dyn Sender>);
        let opts =
            AppOptions { watches: vec![watch(due)], senders: Some(senders), ..AppOptions::new(ll2.ll2_config()) };
        let mut app = App::start(opts).await;
        app.cycle().await;
        assert!(tg.sent().is_empty() && dc.messages(Target::Channel(CHANNEL)).is_empty(), "first sync is silent");
        Env { ll2, tg, dc, app }
    }

    fn move_net(&self, id: &str, net: DateTime<Utc>, status: Option<Value>) {
        move_net(&self.ll2, id, net, status);
    }

    fn telegram(&self) -> Vec<(String, Value)> {
        self.tg.sent_to(CHAT).into_iter().map(|c| (c.text.or(c.caption).unwrap_or_default(), c.params)).collect()
    }

    fn discord(&self) -> Vec<Value> {
        self.dc.messages(Target::Channel(CHANNEL))
    }
}

/// Moves a launch's NET (and window) to `net` in the fake LL2, and sets
/// its status when given, in one edit.
fn move_net(ll2: &FakeLl2, id: &str, net: DateTime<Utc>, status: Option<Value>) {
    let at = json!(net.to_rfc3339_opts(SecondsFormat::Secs, true));
    ll2.update(Feed::Launches, id, |item| {
        item["net"] = at.clone();
        item["window_start"] = at.clone();
        item["window_end"] = at;
        if let Some(s) = status {
            item["status"] = s;
        }
    });
}

fn minute(now: DateTime<Utc>) -> DateTime<Utc> {
    now.duration_trunc(chrono::Duration::minutes(1)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_due_digest_is_one_silent_message_per_destination_listing_both_launches_in_date_order() {
    let due = minute(Utc::now());
    let mut env = Env::start(due).await;

    // A day earlier nothing was within 24 hours: nothing is sent.
    let earlier = due - chrono::Duration::days(1) + chrono::Duration::seconds(30);
    assert_eq!(env.app.digests.pass(earlier).await.unwrap(), 0, "empty: nothing queued");

    // Two launches move into the next 24 hours; MMX goes on hold. The watch
    // hears reminders only: the status change sends nothing.
    let roman = due + chrono::Duration::hours(3);
    env.move_net(MMX, due + chrono::Duration::hours(5), Some(json!({"id": 5, "name": "On Hold", "abbrev": "Hold"})));
    env.move_net(ROMAN, roman, None);
    env.app.cycle().await;
    assert!(env.telegram().is_empty() && env.discord().is_empty(), "no status alert for a reminders-only watch");

    let at = due + chrono::Duration::seconds(30);
    assert_eq!(env.app.digests.pass(at).await.unwrap(), 2, "one digest per destination: the chat and the channel");
    env.app.deliverer.drain_once().await.unwrap();
    let tg = env.telegram();
    assert_eq!(tg.len(), 1, "exactly one Telegram message: {tg:?}");
    let (text, params) = &tg[0];
    assert!(text.contains("Daily digest") && text.contains("Europe/Berlin"), "{text}");
    let (r, m) = (text.find("Nancy Grace Roman").unwrap(), text.find("Martian Moon eXplorer").unwrap());
    assert!(r < m, "date order: {text}");
    let local = roman.with_timezone(&chrono_tz::Europe::Berlin).format("%H:%M").to_string();
    assert!(text.contains(&local), "Berlin time {local}: {text}");
    assert!(text.contains("[Hold]"), "status: {text}");
    assert!(!text.contains("Angara") && !text.contains("Electron"), "only the next 24 hours: {text}");
    assert_eq!(params["disable_notification"], json!(true), "quiet hours: silent");
    let buttons = params["reply_markup"].to_string();
    assert!(buttons.contains("ℹ️ 1") && buttons.contains("ℹ️ 2") && !buttons.contains("Later"), "{buttons}");
    let dc = env.discord();
    assert_eq!(dc.len(), 1, "exactly one Discord message: {dc:?}");
    let embed = dc[0]["embeds"].to_string();
    assert!(embed.contains("Nancy Grace Roman") && embed.contains("Martian Moon eXplorer"), "{embed}");
    assert_eq!(dc[0]["flags"].as_u64().unwrap_or(0) & (1 << 12), 1 << 12, "quiet hours: silent");
    let components = dc[0]["components"].to_string();
    assert!(components.contains("ℹ️ 2") && components.contains("n:"), "/next buttons: {components}");

    // Once per due moment.
    assert_eq!(env.app.digests.pass(at + chrono::Duration::seconds(60)).await.unwrap(), 0);
    env.app.deliverer.drain_once().await.unwrap();
    assert_eq!((env.telegram().len(), env.discord().len()), (1, 1));

    // Independent of the alert kinds: the reminder still comes.
    assert_eq!(env.app.reminders.pass(roman - chrono::Duration::hours(1)).await.unwrap(), 1);
    env.app.deliverer.drain_once().await.unwrap();
    let tg = env.telegram();
    assert_eq!(tg.len(), 2, "{tg:?}");
    assert!(tg[1].0.contains("Nancy Grace Roman") && !tg[1].0.contains("Daily digest"), "{:?}", tg[1].0);
}

/// Through the real command bot: `/alerts reminder` and `/digest daily
/// HH:MM` in a chat in Tokyo that muted one of the two launches: a status
/// change sends nothing, the digest comes in Tokyo time without the muted
/// launch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_hearing_only_reminders_gets_its_digest_in_its_zone_without_its_mutes() {
    let mut h = TelegramChat::start().await;
    let due = minute(Utc::now());
    let roman = due + chrono::Duration::hours(3);
    move_net(&h.ll2, ROMAN, roman, None);
    move_net(&h.ll2, MMX, due + chrono::Duration::hours(5), None);
    h.app.poller.poll_feed(Feed::Launches, BudgetWait::Skip).await.unwrap();
    let tokyo = due.with_timezone(&chrono_tz::Asia::Tokyo).format("%H:%M").to_string();
    for command in ["/subscribe", "/alerts reminder", "/timezone Asia/Tokyo", "/mute Martian Moon"] {
        h.command(ALICE, ALICE, command).await;
    }
    let set = h.command(ALICE, ALICE, &format!("/digest daily {tokyo}")).await.text.unwrap();
    assert!(set.contains(&format!("daily {tokyo} Asia/Tokyo")), "{set}");
    h.status_change("On Hold", 5).await;
    h.deliver().await;
    assert!(h.alerts_to(ALICE).is_empty(), "reminders only: no status alert");

    assert_eq!(h.app.digests.pass(due + chrono::Duration::seconds(30)).await.unwrap(), 1);
    h.deliver().await;
    let alerts = h.alerts_to(ALICE);
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    let text = alerts[0].text.clone().unwrap_or_default();
    let local = roman.with_timezone(&chrono_tz::Asia::Tokyo).format("%H:%M").to_string();
    assert!(text.contains("Asia/Tokyo") && text.contains(&local), "Tokyo time {local}: {text}");
    assert!(text.contains("Nancy Grace Roman") && !text.contains("Martian Moon"), "muted: {text}");
    assert!(text.contains("1 launch or event"), "{text}");
}

/// The console gets digests too; one missed while the bot was down is sent
/// once when it is at most an hour late, not when later.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missed_digest_is_sent_once_within_the_grace_and_skipped_past_it() {
    let ll2 = FakeLl2::start().await;
    let due = minute(Utc::now());
    let schedule = format!("daily {}", due.format("%H:%M"));
    let console = Watch { digest: Some(schedule.parse().unwrap()), ..default_console_watch(chrono_tz::UTC, vec![]) };
    let mut app = App::start(AppOptions { watches: vec![console], ..AppOptions::new(ll2.ll2_config()) }).await;
    app.cycle().await;
    move_net(&ll2, ROMAN, due + chrono::Duration::hours(3), None);
    move_net(&ll2, MMX, due + chrono::Duration::hours(5), None);
    app.cycle().await;
    let sent_before = app.recorder.messages().len();
    let late = |m: i64| due + chrono::Duration::minutes(m);
    assert_eq!(app.digests.pass(late(61)).await.unwrap(), 0, "more than an hour late: skipped");
    assert_eq!(app.digests.pass(late(30)).await.unwrap(), 1, "half an hour late: sent");
    assert_eq!(app.digests.pass(late(31)).await.unwrap(), 0, "once");
    app.deliverer.drain_once().await.unwrap();
    let digests: Vec<_> = app.recorder.messages().into_iter().skip(sent_before).collect();
    assert_eq!(digests.len(), 1, "{digests:?}");
    let console = tminus::render::console(&digests[0].1);
    assert!(console.contains("Daily digest") && console.contains("1. Falcon Heavy | Nancy Grace Roman"), "{console}");
}
