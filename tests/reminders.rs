//! T-minus reminders with a controllable clock: real fixture items in a real
//! store, subscriptions made through `Subscriptions::put`, and
//! `Reminders::pass(now)` stepped through time. What lands in the outbox
//! (`store.pending` + `store.alert`) is what subscribers would receive.
//!
//! Covered: each offset once at its moment; a NET slip later fires again at
//! the new moment; a slip earlier after firing does not; precision too
//! coarse for an offset (Hour: no 10m; Month, Quarter, Day: none); restart
//! in between; the bot down past the moment; notes for Hold and TBD; alert
//! kinds, offsets, filters and the enabled flag per subscription.

/// Only the shared data, not the fakes: this test needs no server.
#[allow(unreachable_pub)]
#[path = "support/data.rs"]
#[allow(dead_code)]
mod data;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use data::fixture_items;
use tminus::detect::{AlertId, Change};
use tminus::item::{Item, Named, Precision};
use tminus::reminders::Reminders;
use tminus::render;
use tminus::rules::{Filter, Origin, SubId, Subscription};
use tminus::store::{Batch, Store};
use tminus::subscriptions::Subscriptions;
use tminus::types::{AlertKind, Destination, Feed};
use tokio::sync::Notify;

const D24: Duration = Duration::from_secs(86_400);
const H2: Duration = Duration::from_secs(7200);
const H1: Duration = Duration::from_secs(3600);
const M30: Duration = Duration::from_secs(1800);
const M10: Duration = Duration::from_secs(600);
const GRACE: Duration = Duration::from_secs(900);
const DEFAULT: [Duration; 3] = [D24, H1, M10];

fn min(n: i64) -> chrono::Duration {
    chrono::Duration::minutes(n)
}

fn before(when: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    when - chrono::Duration::from_std(d).unwrap()
}

fn launches() -> Vec<Item> {
    fixture_items(Feed::Launches, "launches-2.3.0-upcoming-detailed.json")
}

fn launch(needle: &str) -> Item {
    launches().into_iter().find(|i| i.name.contains(needle)).unwrap_or_else(|| panic!("no {needle}"))
}

/// "Falcon Heavy | Nancy Grace Roman Space Telescope": SpaceX, Go, NET
/// 2026-08-30 11:26 UTC to the minute.
fn roman() -> Item {
    let item = launch("Nancy Grace Roman");
    assert_eq!(item.precision, Some(Precision::Minute));
    assert_eq!(item.status.as_ref().and_then(|s| s.id), Some(1), "Go");
    item
}

/// One reminder delivery found in the outbox.
#[derive(Debug, Clone, PartialEq)]
struct Fired {
    sub: SubId,
    item: String,
    offset: Duration,
    when: DateTime<Utc>,
    at: DateTime<Utc>,
    alert: AlertId,
}

/// Opens the store, also one that was just closed: sled releases its file
/// lock from a background thread shortly after the last handle is dropped,
/// so an immediate reopen in the same process can briefly fail.
fn open_store(path: &Path) -> Store {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        match Store::open(path) {
            Ok(store) => return store,
            Err(e) if std::time::Instant::now() < deadline && e.to_string().contains("could not acquire lock") => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("opening the store: {e}"),
        }
    }
}

/// The bot's reminder side, on a store directory that outlives it.
struct Bot {
    store: Store,
    subs: Subscriptions,
    reminders: Reminders,
}

impl Bot {
    fn open(path: &Path, grace: Duration) -> Bot {
        let store = open_store(path);
        let subs = Subscriptions::load(store.clone()).unwrap();
        let reminders = Reminders::new(store.clone(), subs.index(), grace, Arc::new(Notify::new()));
        Bot { store, subs, reminders }
    }

    /// Stores items as a poll would (a new NET, precision or status).
    fn put_items(&self, items: &[Item]) {
        self.store.apply(&Batch { items: items.to_vec(), ..Default::default() }).unwrap();
    }

    fn subscribe(&self, filter: Filter, alerts: &[AlertKind], reminders: &[Duration]) -> SubId {
        // A chat each: subscriptions sharing a destination would share its
        // one message, and these tests follow each subscription.
        let id = SubId(self.store.next_id().unwrap());
        let chat = Destination::Telegram(tminus::types::ChatId(id.0 as i64));
        let sub = Subscription::new(id, chat, filter, Origin::Chat)
            .with_alerts(alerts.to_vec())
            .with_reminders(reminders.to_vec())
            .with_timezone(chrono_tz::Europe::Berlin);
        self.subs.put(&sub).unwrap();
        sub.id
    }

    /// A pass at every `step` from `from` through `to`, each done twice
    /// (the second must find nothing). Returns how many reminders fired.
    async fn run(&self, from: DateTime<Utc>, to: DateTime<Utc>, step: chrono::Duration) -> usize {
        let mut fired = 0;
        let mut now = from;
        while now <= to {
            fired += self.reminders.pass(now).await.unwrap();
            assert_eq!(self.reminders.pass(now).await.unwrap(), 0, "a second pass at {now} fires nothing");
            now += step;
        }
        fired
    }

    /// Every reminder delivery in the outbox, in the order they were queued.
    fn fired(&self) -> Vec<Fired> {
        self.store
            .pending(usize::MAX)
            .unwrap()
            .into_iter()
            .map(|(_, entry)| {
                let alert = self.store.alert(entry.alert).unwrap().expect("outbox entry has its alert");
                let [Change::Reminder { offset, when }] = alert.changes[..] else {
                    panic!("not a reminder: {alert:?}")
                };
                Fired { sub: entry.sub, item: alert.item.name, offset, when, at: alert.detected_at, alert: alert.id }
            })
            .collect()
    }

    /// (sub, offset, when, at) of every delivery: the compact form tables use.
    fn table(&self) -> Vec<(SubId, Duration, DateTime<Utc>, DateTime<Utc>)> {
        self.fired().into_iter().map(|f| (f.sub, f.offset, f.when, f.at)).collect()
    }
}

fn spacex() -> Filter {
    Filter { agencies: vec!["SpaceX".into()], ..Default::default() }
}

#[tokio::test]
async fn each_offset_fires_once_at_its_moment() {
    let dir = tempfile::tempdir().unwrap();
    let bot = Bot::open(dir.path(), GRACE);
    let item = roman();
    let t = item.when.unwrap();
    bot.put_items(std::slice::from_ref(&item));
    let a = bot.subscribe(spacex(), &AlertKind::ALL, &DEFAULT);

    assert_eq!(bot.run(t - min(26 * 60), t + min(60), min(5)).await, 3);
    assert_eq!(
        bot.table(),
        [(a, D24, t, before(t, D24)), (a, H1, t, before(t, H1)), (a, M10, t, before(t, M10))],
        "each offset exactly once, at its moment"
    );
    assert!(bot.fired().iter().all(|f| f.item == item.name));
}

#[tokio::test]
async fn a_moment_between_passes_fires_at_the_next_pass() {
    let dir = tempfile::tempdir().unwrap();
    let bot = Bot::open(dir.path(), GRACE);
    // MMX is known to the second: 19:41:03, between whole-minute passes.
    let item = launch("MMX");
    let t = item.when.unwrap();
    bot.put_items(std::slice::from_ref(&item));
    let a = bot.subscribe(Filter { agencies: vec!["MHI".into()], ..Default::default() }, &AlertKind::ALL, &[H1]);
    let start = t - min(62) - chrono::Duration::seconds(3); // a whole minute
    assert_eq!(bot.run(start, t, min(1)).await, 1);
    assert_eq!(bot.table(), [(a, H1, t, start + min(3))], "the first pass after T-1h (18:41:03)");
}

#[tokio::test]
async fn net_slip_later_fires_the_reminder_again_at_the_new_moment() {
    let dir = tempfile::tempdir().unwrap();
    let bot = Bot::open(dir.path(), GRACE);
    let item = roman();
    let t = item.when.unwrap();
    bot.put_items(std::slice::from_ref(&item));
    let a = bot.subscribe(spacex(), &AlertKind::ALL, &DEFAULT);

    bot.run(t - min(120), t - min(55), min(1)).await;
    assert_eq!(bot.table(), [(a, H1, t, before(t, H1))]);

    // Five minutes after the 1h reminder, the NET slips by two hours.
    let mut slipped = item.clone();
    let t2 = t + min(120);
    slipped.when = Some(t2);
    slipped.window_start = Some(t2);
    bot.put_items(&[slipped]);
    bot.run(t - min(54), t2 + min(5), min(1)).await;
    assert_eq!(
        bot.table(),
        [
            (a, H1, t, before(t, H1)),
            // Sent again: its moment moved back into the future.
            (a, H1, t2, before(t2, H1)),
            (a, M10, t2, before(t2, M10)),
            // The 24h reminder's new moment (T-22h) was long past: not sent.
        ]
    );
}

#[tokio::test]
async fn net_slip_earlier_after_the_reminder_does_not_repeat_it() {
    let dir = tempfile::tempdir().unwrap();
    let bot = Bot::open(dir.path(), GRACE);
    let item = roman();
    let t = item.when.unwrap();
    bot.put_items(std::slice::from_ref(&item));
    let a = bot.subscribe(spacex(), &AlertKind::ALL, &DEFAULT);

    bot.run(t - min(65), t - min(58), min(1)).await;
    let mut earlier = item.clone();
    let t2 = t - min(5);
    earlier.when = Some(t2);
    bot.put_items(&[earlier]);
    bot.run(t - min(58), t2, min(1)).await;
    assert_eq!(bot.table(), [(a, H1, t, before(t, H1)), (a, M10, t2, before(t2, M10))]);

    // The NET moves earlier and then back to where it was, while the 1h
    // moment stays in the past: nothing new either.
    let dir = tempfile::tempdir().unwrap();
    let bot = Bot::open(dir.path(), GRACE);
    bot.put_items(std::slice::from_ref(&item));
    let a = bot.subscribe(spacex(), &AlertKind::ALL, &[H1]);
    bot.run(t - min(61), t - min(59), min(1)).await;
    let mut moved = item.clone();
    moved.when = Some(t - min(3));
    bot.put_items(&[moved]);
    bot.run(t - min(59), t - min(50), min(1)).await;
    bot.put_items(std::slice::from_ref(&item));
    bot.run(t - min(50), t, min(1)).await;
    assert_eq!(bot.table(), [(a, H1, t, before(t, H1))]);
}

#[tokio::test]
async fn precision_decides_which_reminders_make_sense() {
    // Known to the hour from the start: the 24h reminder, never the 10m one.
    let dir = tempfile::tempdir().unwrap();
    let bot = Bot::open(dir.path(), GRACE);
    let mut hourly = roman();
    let t = hourly.when.unwrap();
    hourly.precision = Some(Precision::Hour);
    bot.put_items(&[hourly]);
    let a = bot.subscribe(spacex(), &AlertKind::ALL, &DEFAULT);
    bot.run(t - min(25 * 60), t, min(5)).await;
    let offsets: Vec<Duration> = bot.fired().iter().map(|f| f.offset).collect();
    assert!(offsets.contains(&D24), "{offsets:?}");
    assert!(!offsets.contains(&M10), "no 10-minute reminder for a date known to the hour: {offsets:?}");
    assert!(bot.fired().iter().all(|f| f.sub == a));

    // Precision drops from Minute to Hour after the 24h reminder.
    let dir = tempfile::tempdir().unwrap();
    let bot = Bot::open(dir.path(), GRACE);
    let item = roman();
    bot.put_items(std::slice::from_ref(&item));
    bot.subscribe(spacex(), &AlertKind::ALL, &DEFAULT);
    bot.run(t - min(25 * 60), t - min(23 * 60), min(5)).await;
    assert_eq!(bot.fired().iter().map(|f| f.offset).collect::<Vec<_>>(), [D24]);
    let mut coarser = item.clone();
    coarser.precision = Some(Precision::Hour);
    bot.put_items(&[coarser]);
    bot.run(t - min(23 * 60), t, min(5)).await;
    let offsets: Vec<Duration> = bot.fired().iter().map(|f| f.offset).collect();
    assert_eq!(offsets.iter().filter(|o| **o == D24).count(), 1);
    assert!(!offsets.contains(&M10), "{offsets:?}");

    // Month, quarter and day precision: no reminder at all, whatever the offset.
    let dir = tempfile::tempdir().unwrap();
    let bot = Bot::open(dir.path(), GRACE);
    let coarse: Vec<Item> = launches()
        .into_iter()
        .filter(|i| matches!(i.precision, Some(Precision::Day | Precision::Month | Precision::Quarter(_))))
        .collect();
    let precisions: Vec<Option<Precision>> = coarse.iter().map(|i| i.precision).collect();
    assert_eq!(precisions.len(), 3, "Day, Month and Q3 items in the fixture: {precisions:?}");
    bot.put_items(&coarse);
    bot.subscribe(Filter::default(), &AlertKind::ALL, &[D24, H2, H1, M30, M10]);
    for item in &coarse {
        let t = item.when.unwrap();
        assert_eq!(bot.run(t - min(25 * 60), t, min(10)).await, 0, "{}", item.name);
    }
    assert!(bot.fired().is_empty());
}

#[tokio::test]
async fn restart_in_between_keeps_sent_marks() {
    let dir = tempfile::tempdir().unwrap();
    let item = roman();
    let t = item.when.unwrap();
    let a = {
        let bot = Bot::open(dir.path(), GRACE);
        bot.put_items(std::slice::from_ref(&item));
        let a = bot.subscribe(spacex(), &AlertKind::ALL, &DEFAULT);
        bot.run(t - min(24 * 60 + 5), t - min(24 * 60 - 5), min(1)).await;
        assert_eq!(bot.table(), [(a, D24, t, before(t, D24))]);
        bot.store.flush().await.unwrap();
        a
    };

    // Restarted within the grace period of the 24h moment: not again.
    let bot = Bot::open(dir.path(), GRACE);
    assert_eq!(bot.run(t - min(24 * 60 - 6), t - min(61), min(1)).await, 0);
    bot.run(t - min(60), t - min(59), min(1)).await;
    bot.store.flush().await.unwrap();
    drop(bot);

    // Restarted right after the 1h reminder.
    let bot = Bot::open(dir.path(), GRACE);
    bot.run(t - min(59), t + min(5), min(1)).await;
    assert_eq!(
        bot.table(),
        [(a, D24, t, before(t, D24)), (a, H1, t, before(t, H1)), (a, M10, t, before(t, M10))],
        "no duplicate across restarts"
    );
}

#[tokio::test]
async fn bot_down_past_the_moment_skips_the_reminder() {
    let item = roman();
    let t = item.when.unwrap();

    // Back up at T-1h+30min with a 15-minute grace: the 1h reminder is stale.
    let dir = tempfile::tempdir().unwrap();
    let bot = Bot::open(dir.path(), GRACE);
    bot.put_items(std::slice::from_ref(&item));
    let a = bot.subscribe(spacex(), &AlertKind::ALL, &DEFAULT);
    assert_eq!(bot.reminders.pass(before(t, H1) + min(30)).await.unwrap(), 0);
    bot.run(before(t, H1) + min(31), t, min(1)).await;
    assert_eq!(bot.table(), [(a, M10, t, before(t, M10))], "only the 10m reminder, the 1h one is skipped for good");

    // Back up within the grace period: sent late rather than never.
    let dir = tempfile::tempdir().unwrap();
    let bot = Bot::open(dir.path(), GRACE);
    bot.put_items(std::slice::from_ref(&item));
    let a = bot.subscribe(spacex(), &AlertKind::ALL, &[H1]);
    let late = before(t, H1) + min(10);
    assert_eq!(bot.reminders.pass(late).await.unwrap(), 1);
    assert_eq!(bot.table(), [(a, H1, t, late)]);

    // After T-0 nothing is due; nor once the launch has a final status.
    let dir = tempfile::tempdir().unwrap();
    let bot = Bot::open(dir.path(), Duration::from_secs(100 * 3600));
    let mut done = item.clone();
    done.status = Some(Named::new(Some(3), "Launch Successful", Some("Success".into())));
    bot.put_items(&[done]);
    bot.subscribe(spacex(), &AlertKind::ALL, &DEFAULT);
    assert_eq!(bot.run(t - min(25 * 60), t + min(10), min(5)).await, 0);
}

#[tokio::test]
async fn reminders_for_launches_on_hold_or_tbd_say_so() {
    let item = roman();
    let t = item.when.unwrap();
    let cases = [
        (Named::new(Some(5), "On Hold", Some("Hold".into())), Some("on hold")),
        (Named::new(Some(2), "To Be Determined", Some("TBD".into())), Some("TBD")),
        (Named::new(Some(1), "Go for Launch", Some("Go".into())), None),
    ];
    for (status, note) in cases {
        let dir = tempfile::tempdir().unwrap();
        let bot = Bot::open(dir.path(), GRACE);
        let mut held = item.clone();
        held.status = Some(status.clone());
        bot.put_items(&[held]);
        bot.subscribe(spacex(), &AlertKind::ALL, &[H1]);
        let now = before(t, H1);
        assert_eq!(bot.reminders.pass(now).await.unwrap(), 1, "{} still gets its reminder", status.name);
        let fired = bot.fired();
        let alert = bot.store.alert(fired[0].alert).unwrap().unwrap();
        let msg = render::message(&alert, chrono_tz::Europe::Berlin, now);
        assert_eq!(msg.kind, AlertKind::Reminder);
        assert_eq!(msg.headline, "T-1h reminder");
        assert_eq!(msg.tminus.as_deref(), Some("T-1h"));
        assert_eq!(msg.status.as_deref(), Some(status.name.as_str()));
        match note {
            Some(word) => {
                let n = msg.note.clone().unwrap_or_else(|| panic!("{}: no note", status.name));
                assert!(n.contains(word), "{}: {n}", status.name);
                assert!(render::console(&msg).contains(&n));
            }
            None => assert_eq!(msg.note, None),
        }
    }
}

#[tokio::test]
async fn each_subscription_gets_its_own_offsets_and_kinds() {
    let dir = tempfile::tempdir().unwrap();
    let bot = Bot::open(dir.path(), GRACE);
    let item = roman();
    let t = item.when.unwrap();
    bot.put_items(&[item.clone(), launch("MMX")]);

    let a = bot.subscribe(spacex(), &AlertKind::ALL, &DEFAULT);
    let _no_reminder_kind = bot.subscribe(spacex(), &[AlertKind::New, AlertKind::Status], &DEFAULT);
    let b = bot.subscribe(spacex(), &AlertKind::ALL, &[H2, H1]);
    let c = bot.subscribe(spacex(), &AlertKind::ALL, &[M30]);
    let _no_offsets = bot.subscribe(spacex(), &AlertKind::ALL, &[]);
    let _nasa =
        bot.subscribe(Filter { agencies: vec!["NASA".into()], ..Default::default() }, &AlertKind::ALL, &DEFAULT);
    let disabled = bot.subscribe(spacex(), &AlertKind::ALL, &DEFAULT);
    let sub = bot.subs.all().unwrap().into_iter().find(|s| s.id == disabled).unwrap();
    bot.subs.put(&Subscription { enabled: false, ..sub }).unwrap();

    bot.run(t - min(25 * 60), t, min(5)).await;
    let roman_fired: Vec<(SubId, Duration)> =
        bot.fired().iter().filter(|f| f.item == item.name).map(|f| (f.sub, f.offset)).collect();
    assert_eq!(
        roman_fired,
        [(a, D24), (b, H2), (a, H1), (b, H1), (c, M30), (a, M10)],
        "each subscription at its own offsets, in time order"
    );
    // One alert per reminder, delivered to every subscription that wants it.
    let h1: Vec<AlertId> = bot.fired().iter().filter(|f| f.offset == H1).map(|f| f.alert).collect();
    assert_eq!(h1.len(), 2);
    assert_eq!(h1[0], h1[1]);
    // MMX (MHI) is in the store but nobody filters for it.
    assert!(bot.fired().iter().all(|f| f.item == item.name), "MMX routed nowhere");
}

#[tokio::test]
async fn no_reminder_subscriptions_means_no_work() {
    let dir = tempfile::tempdir().unwrap();
    let bot = Bot::open(dir.path(), GRACE);
    let item = roman();
    let t = item.when.unwrap();
    bot.put_items(std::slice::from_ref(&item));
    bot.subscribe(Filter::default(), &[AlertKind::New], &[]);
    assert_eq!(bot.run(t - min(25 * 60), t, min(5)).await, 0);
    assert_eq!(bot.store.outbox_len(), 0);
}
