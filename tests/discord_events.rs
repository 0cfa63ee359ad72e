//! Discord scheduled events against the fake Discord (which validates
//! bodies the way Discord does): what the sync creates, patches and deletes
//! as items change in the store, the window and the 100-event cap, restarts
//! without duplicates, orphan clean-up, a guild without permission or
//! under a rate limit, and the bot's one rate limit shared with alerts.

mod support;

use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use support::data::sample_launch;
use support::fake_discord::{BOT_USER_ID, FakeDiscord, Fault, Target};
use support::logs::{log_text, logs};
use tminus::detect::{Alert, AlertId, Change};
use tminus::discord::BotLimiter;
use tminus::discord::events::{EventSync, EventsApi};
use tminus::item::{Item, Named, Precision, status};
use tminus::rules::{Filter, Origin, SubId, Subscription};
use tminus::store::{Batch, OutboxEntry, Store};
use tminus::subscriptions::Subscriptions;
use tminus::types::{ChannelId, Destination, GuildId, ItemId, ItemKind, Secret};

const WINDOW: Duration = Duration::from_secs(14 * 86_400);
const BOT: &str = "1100000000000000007";

fn launch(id: &str, when: DateTime<Utc>, precision: Precision) -> Item {
    let mut item = sample_launch();
    item.id = ItemId::new(ItemKind::Launch, id);
    item.name = format!("Launch {id}");
    item.when = Some(when);
    item.window_start = Some(when);
    item.window_end = Some(when + chrono::Duration::hours(2));
    item.precision = Some(precision);
    item
}

fn days(n: i64) -> DateTime<Utc> {
    Utc::now() + chrono::Duration::days(n)
}

struct Guild {
    fake: FakeDiscord,
    dir: tempfile::TempDir,
    store: Option<Store>,
    guild: u64,
}

impl Guild {
    async fn new(guild: u64) -> Guild {
        let fake = FakeDiscord::start().await;
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let subs = Subscriptions::load(store.clone()).unwrap();
        let dest = Destination::DiscordEvents(GuildId(guild));
        let origin = Origin::Config { watch: "guild".into() };
        subs.put(&Subscription::new(SubId(store.next_id().unwrap()), dest, Filter::default(), origin)).unwrap();
        Guild { fake, dir, store: Some(store), guild }
    }

    fn store(&self) -> &Store {
        self.store.as_ref().unwrap()
    }

    fn sync(&self) -> EventSync {
        let api = EventsApi::new(Secret::new("test-bot-token"), &self.fake.api_url(), BotLimiter::discord()).unwrap();
        EventSync::new(self.store().clone(), api, WINDOW)
    }

    /// A pass as the running bot makes it after a store change.
    async fn pass(&self) -> Option<Duration> {
        self.sync().pass(BOT, &mut HashSet::new()).await
    }

    fn commit(&self, items: Vec<Item>, removed: Vec<ItemId>) {
        self.store().apply(&Batch { items, removed, ..Default::default() }).unwrap();
    }

    fn events(&self) -> Vec<Value> {
        self.fake.scheduled_events(self.guild)
    }

    fn names(&self) -> Vec<String> {
        let mut n: Vec<String> = self.events().iter().map(|e| e["name"].as_str().unwrap().to_owned()).collect();
        n.sort();
        n
    }

    fn calls(&self, method: &str) -> usize {
        self.fake.requests_to(Target::Guild(self.guild)).iter().filter(|r| r.method == method).count()
    }

    /// Every scheduled-event call was accepted: the bodies were valid.
    fn all_accepted(&self) {
        for r in self.fake.requests_to(Target::Guild(self.guild)) {
            assert!(r.status < 300, "{} {} answered {}: {}", r.method, r.path, r.status, r.body);
        }
    }

    /// Closes the store and opens it again, as a restart does.
    /// sled releases its file lock from a background thread shortly after
    /// the last handle is dropped, so the reopen may briefly have to wait.
    fn restart(&mut self) {
        self.store = None;
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            match Store::open(self.dir.path()) {
                Ok(store) => break self.store = Some(store),
                Err(e) if std::time::Instant::now() < deadline && e.to_string().contains("could not acquire lock") => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => panic!("reopening the store: {e}"),
            }
        }
    }
}

#[tokio::test]
async fn events_follow_the_items_within_the_window() {
    let g = Guild::new(4201).await;
    let mut soon = launch("soon", days(2), Precision::Minute);
    let mut day = launch("day", days(3), Precision::Day);
    let mut flown = launch("flown", days(1), Precision::Minute);
    flown.status = Some(Named::new(Some(status::SUCCESS), "Launch Successful", None));
    g.commit(
        vec![
            soon.clone(),
            day.clone(),
            flown,
            launch("far", days(30), Precision::Minute),
            launch("month", days(5), Precision::Month),
        ],
        vec![],
    );
    assert_eq!(g.pass().await, None);
    assert_eq!(g.names(), ["Launch day", "Launch soon"], "day-precise, not ended, within the window only");
    g.all_accepted();
    let horizon = Utc::now() + chrono::Duration::from_std(WINDOW).unwrap();
    for e in g.events() {
        assert_eq!(e["entity_type"], 3);
        let start: DateTime<Utc> = e["scheduled_start_time"].as_str().unwrap().parse().unwrap();
        assert!(start <= horizon, "nothing beyond the window: {e}");
        assert!(e["description"].as_str().unwrap().contains("Status: Go for Launch"));
        assert_eq!(e["entity_metadata"]["location"], "Space Launch Complex 40, Cape Canaveral SFS, FL, USA");
    }

    // Nothing changed: nothing is sent.
    let before = g.fake.requests().len();
    g.pass().await;
    assert_eq!(g.fake.requests().len(), before + 1, "only the list of the start-up reconciliation");

    // NET slip: PATCH with the new start; rename: PATCH with the new name.
    soon.when = soon.when.map(|w| w + chrono::Duration::hours(5));
    soon.window_start = soon.when;
    soon.window_end = soon.when.map(|w| w + chrono::Duration::hours(2));
    day.name = "Launch day (renamed)".into();
    g.commit(vec![soon.clone(), day.clone()], vec![]);
    g.pass().await;
    assert_eq!(g.calls("PATCH"), 2);
    assert_eq!(g.calls("POST"), 2, "moved, not re-created");
    let moved = g.events().into_iter().find(|e| e["name"] == "Launch soon").unwrap();
    let start: DateTime<Utc> = moved["scheduled_start_time"].as_str().unwrap().parse().unwrap();
    assert_eq!(start.timestamp(), soon.when.unwrap().timestamp());
    assert_eq!(g.names(), ["Launch day (renamed)", "Launch soon"]);

    // Success ends one; the other leaves the upcoming list.
    soon.status = Some(Named::new(Some(status::FAILURE), "Launch Failure", None));
    g.commit(vec![soon], vec![day.id.clone()]);
    g.pass().await;
    assert!(g.events().is_empty(), "{:?}", g.events());
    assert_eq!(g.calls("DELETE"), 2);
    g.all_accepted();
    assert!(g.store().guild_events(GuildId(g.guild)).unwrap().is_empty());
}

#[tokio::test]
async fn at_most_one_hundred_events_nearest_first() {
    let g = Guild::new(4202).await;
    let items: Vec<Item> = (0..130)
        .map(|i| launch(&format!("l{i:03}"), days(1) + chrono::Duration::hours(i), Precision::Minute))
        .collect();
    g.commit(items, vec![]);
    g.pass().await;
    let names = g.names();
    assert_eq!(names.len(), 100);
    assert_eq!(names.first().map(String::as_str), Some("Launch l000"));
    assert_eq!(names.last().map(String::as_str), Some("Launch l099"));
    g.all_accepted();
}

#[tokio::test]
async fn restart_neither_duplicates_nor_orphans() {
    let mut g = Guild::new(4203).await;
    g.commit(vec![launch("a", days(2), Precision::Minute), launch("b", days(4), Precision::Minute)], vec![]);
    g.pass().await;
    assert_eq!(g.events().len(), 2);

    // A crash after Discord created an event but before the store recorded
    // it leaves an orphan; a human's own event must stay.
    let orphan = g.fake.add_scheduled_event(g.guild, BOT_USER_ID, "Launch a");
    g.fake.add_scheduled_event(g.guild, 42, "Community watch party");
    g.restart();
    g.sync().pass(BOT, &mut HashSet::new()).await;
    assert_eq!(g.calls("POST"), 2, "no duplicates after the restart");
    let ids: Vec<String> = g.events().iter().map(|e| e["id"].as_str().unwrap().to_owned()).collect();
    assert!(!ids.contains(&orphan), "the orphan is deleted");
    assert_eq!(g.names(), ["Community watch party", "Launch a", "Launch b"]);

    // A human deleted one of ours: it is created again, once.
    let ours = g.store().guild_events(GuildId(g.guild)).unwrap();
    let (_, gone) = ours.iter().find(|(id, _)| id.id == "a").unwrap();
    let del = reqwest::Client::new()
        .delete(format!("{}/api/v10/guilds/{}/scheduled-events/{}", g.fake.api_url(), g.guild, gone.event_id))
        .header("authorization", "Bot test-bot-token")
        .send()
        .await
        .unwrap();
    assert_eq!(del.status(), 204);
    g.restart();
    g.sync().pass(BOT, &mut HashSet::new()).await;
    assert_eq!(g.names(), ["Community watch party", "Launch a", "Launch b"]);
    assert_eq!(g.calls("POST"), 3);
}

#[tokio::test]
async fn missing_permission_is_logged_once_and_retried() {
    logs();
    let g = Guild::new(4204).await;
    g.commit(vec![launch("a", days(2), Precision::Minute)], vec![]);
    g.fake.deny_manage_events(g.guild, true);
    let sync = g.sync();
    let mut reconciled = HashSet::new();
    sync.pass(BOT, &mut reconciled).await;
    sync.pass(BOT, &mut reconciled).await;
    assert!(g.events().is_empty());
    let warned = log_text().lines().filter(|l| l.contains("guild=4204") && l.contains("Manage Events")).count();
    assert_eq!(warned, 1, "{}", log_text());
    assert!(!log_text().contains("test-bot-token"));

    g.fake.deny_manage_events(g.guild, false);
    sync.pass(BOT, &mut reconciled).await;
    assert_eq!(g.names(), ["Launch a"], "retried once the permission is there");
}

#[tokio::test]
async fn rate_limits_are_honoured() {
    let g = Guild::new(4205).await;
    g.commit(vec![launch("a", days(2), Precision::Minute), launch("b", days(3), Precision::Minute)], vec![]);
    let sync = g.sync();
    let mut reconciled = HashSet::new();
    sync.pass(BOT, &mut reconciled).await;
    g.fake.fail_once(Target::Guild(g.guild), Fault::RateLimited { retry_after: 0.3, global: false });
    g.commit(vec![launch("c", days(4), Precision::Minute)], vec![]);
    let retry = sync.pass(BOT, &mut reconciled).await.expect("asks to come back");
    assert!(retry <= Duration::from_millis(400), "{retry:?}");
    assert_eq!(g.names(), ["Launch a", "Launch b"]);
    sync.pass(BOT, &mut reconciled).await;
    assert_eq!(g.names(), ["Launch a", "Launch b", "Launch c"]);
    let calls = g.fake.requests_to(Target::Guild(g.guild));
    let limited = calls.iter().position(|r| r.status == 429).unwrap();
    let gap = calls[limited + 1].at.duration_since(calls[limited].at);
    assert!(gap >= Duration::from_millis(250), "retry_after honoured: next call after {gap:?}");
}

#[tokio::test]
async fn a_guild_the_bot_left_is_logged_once() {
    logs();
    let g = Guild::new(4206).await;
    g.commit(vec![launch("a", days(2), Precision::Minute)], vec![]);
    g.fake.leave_guild(g.guild);
    let sync = g.sync();
    let mut reconciled = HashSet::new();
    sync.pass(BOT, &mut reconciled).await;
    sync.pass(BOT, &mut reconciled).await;
    let warned = log_text().lines().filter(|l| l.contains("guild=4206") && l.contains("not in guild")).count();
    assert_eq!(warned, 1, "{}", log_text());
}

#[tokio::test]
async fn the_app_runs_the_sync_for_configured_guilds() {
    let fake = FakeDiscord::start().await;
    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        "[store]\npath = {:?}\n[discord]\ntoken = \"test-bot-token\"\napi_url = {:?}\nevents_window = \"3d\"\n\
         [[watch]]\nname = \"guild\"\nto = [\"discord-events:4207\"]\n",
        dir.path().join("store").display().to_string(),
        fake.api_url()
    );
    let config = tminus::config::Config::from_toml_str(&toml, &|_| None).unwrap();
    let app = tminus::app::App::new(config).unwrap();
    app.store
        .apply(&Batch {
            items: vec![launch("near", days(2), Precision::Minute), launch("later", days(5), Precision::Minute)],
            ..Default::default()
        })
        .unwrap();
    app.events.as_ref().expect("a discord-events watch starts the sync").pass_once().await;
    let names: Vec<Value> = fake.scheduled_events(4207).iter().map(|e| e["name"].clone()).collect();
    assert_eq!(names, ["Launch near"], "events_window = 3d");
}

#[tokio::test]
async fn events_of_a_removed_watch_are_deleted() {
    let g = Guild::new(4208).await;
    g.commit(vec![launch("a", days(2), Precision::Minute)], vec![]);
    g.pass().await;
    assert_eq!(g.events().len(), 1);
    let subs = Subscriptions::load(g.store().clone()).unwrap();
    for s in subs.all().unwrap() {
        subs.remove(s.id).unwrap();
    }
    g.pass().await;
    assert!(g.events().is_empty(), "{:?}", g.events());
    assert!(g.store().event_guilds().unwrap().is_empty());
}

/// Events and alerts are the same bot, and Discord's 50 requests/s are the
/// bot's: a fan-out to 60 channels while a sync creates 60 events, against
/// a Discord that enforces the global ceiling, earns no 429. (Each with a
/// limiter of its own, 50/s for alerts and 25/s for events, they reached
/// 75/s together.)
#[tokio::test]
async fn a_fan_out_during_an_events_sync_gets_no_429() {
    let fake = FakeDiscord::builder().global_limit(50, Duration::from_secs(1)).start().await;
    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        "[store]\npath = {:?}\n[discord]\ntoken = \"test-bot-token\"\napi_url = {:?}\n\
         [[watch]]\nname = \"guild\"\nto = [\"discord-events:4209\"]\n",
        dir.path().join("store").display().to_string(),
        fake.api_url()
    );
    let config = tminus::config::Config::from_toml_str(&toml, &|_| None).unwrap();
    let app = tminus::app::App::new(config).unwrap();
    let items: Vec<Item> =
        (0..60).map(|i| launch(&format!("e{i:02}"), days(1) + chrono::Duration::hours(i), Precision::Minute)).collect();
    let alert = Alert { id: AlertId(1), item: items[0].clone(), changes: vec![Change::New], detected_at: Utc::now() };
    let mut deliveries = Vec::new();
    for c in 0..60 {
        let dest = Destination::Discord(ChannelId(20_000 + c));
        let sub = Subscription::new(SubId(app.store.next_id().unwrap()), dest.clone(), Filter::default(), Origin::Chat);
        app.subs.put(&sub).unwrap();
        let (enqueued_at, attempts, not_before) = (Utc::now(), 0, None);
        deliveries.push(OutboxEntry {
            alert: alert.id,
            sub: sub.id,
            destination: dest,
            enqueued_at,
            attempts,
            not_before,
        });
    }
    app.store.apply(&Batch { items, alerts: vec![alert], deliveries, ..Default::default() }).unwrap();

    let events = app.events.as_ref().expect("a discord-events watch starts the sync");
    let (drained, ()) = tokio::join!(app.deliverer.drain_once(), events.pass_once());
    let posted = fake.requests().iter().filter(|r| matches!(r.target(), Some(Target::Channel(_)))).count();
    eprintln!("fan-out during a sync: {drained:?}, {posted} posts, {} 429s", fake.rate_limited());
    assert_eq!(fake.rate_limited(), 0, "alerts and events together stay under the bot's 50/s");
    assert_eq!(drained.unwrap().delivered, 60);
    assert_eq!(fake.scheduled_events(4209).len(), 60);
}
