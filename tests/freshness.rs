//! Launch-day freshness: the targeted query of a hot launch against the
//! fake LL2, the budget on an IP another client shares, and the freshness
//! simulator (`examples/freshness.rs`) on a short built-in timeline: the
//! real poller on a paused clock, its closing line in the documented
//! format, never over the request budget.

mod support;

#[allow(dead_code)]
#[path = "../examples/freshness.rs"]
mod freshness;

use freshness::{SimOptions, Timeline, TimelineError, builtin, run_paused};
use std::sync::Arc;
use std::time::Duration;
use support::app::{App, AppOptions};
use support::fake_ll2::FakeLl2;

use tminus::poller::schedule::Strategy;
use tminus::poller::{BudgetWait, Clock, Poller, PollerConfig};
use tminus::store::Store;
use tminus::subscriptions::{Subscriptions, default_console_watch};
use tminus::types::{Feed, ItemId, ItemKind};

#[tokio::test]
async fn targeted_query_alerts_without_moving_the_feed() {
    let fake = FakeLl2::start().await;
    let mut app = App::start(AppOptions::new(fake.ll2_config())).await;
    for r in app.cycle().await {
        r.unwrap();
    }
    let before = app.store.feed_state(Feed::Launches).unwrap();
    let id = fake.ids(Feed::Launches)[1].clone();
    fake.update(Feed::Launches, &id, |v| {
        v["status"] = serde_json::json!({"id": 5, "name": "On Hold", "abbrev": "Hold"})
    });
    fake.clear_requests();

    let report = app.poller.poll_launch(&id, BudgetWait::Skip).await.unwrap();
    assert_eq!((report.requests, report.items, report.alerts), (1, 1, 1));
    let sent = fake.requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].path, "/2.3.0/launches/");
    assert_eq!((sent[0].param("id"), sent[0].param("mode")), (Some(id.clone()), Some("detailed".into())));
    let stored = app.store.item(&ItemId::new(ItemKind::Launch, id.clone())).unwrap().unwrap();
    assert_eq!(stored.status.and_then(|s| s.id), Some(5));
    assert_eq!(app.store.feed_state(Feed::Launches).unwrap(), before, "a subset of the feed moves no watermark");

    let r = app.poll(Feed::Launches).await.unwrap();
    // The answer also repeats the item at the watermark (`>=`).
    assert!(r.items >= 1, "{r:?}");
    assert_eq!(r.alerts, 0, "the incremental query sees the launch again, without a second alert");
}

/// LL2's `/api-throttle/` says how many requests it counted this hour, not
/// when (`next_use_secs` is 0 below the limit): a fresh tminus on an IP
/// another client has used 12 of 15 times makes at most the 3 left that
/// hour, and LL2 never has to refuse one.
#[tokio::test(start_paused = true)]
async fn a_fresh_start_on_a_shared_ip_spends_only_what_is_left() {
    let fake = FakeLl2::builder().with_rate_limit(15, Duration::from_secs(3600)).start().await;
    let other = reqwest::Client::new();
    for _ in 0..12 {
        let answer = other.get(format!("{}/launches/upcoming/", fake.base_url())).send().await.unwrap();
        assert!(answer.status().is_success());
    }
    fake.clear_requests();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("store")).unwrap();
    let subs = Subscriptions::load(store.clone()).unwrap();
    subs.reconcile(&[default_console_watch(chrono_tz::UTC, vec![])]).unwrap();
    let ll2 = fake.ll2_config();
    let config = PollerConfig::from_ll2(&ll2, false);
    let stop = tokio_util::sync::CancellationToken::new();
    let client = tminus::ll2::Client::new(&ll2).unwrap();
    let wake = Arc::new(tokio::sync::Notify::new());
    let poller = Poller::new(client, store, subs.index(), config, wake, stop.clone())
        .unwrap()
        .with_clock(Clock::tokio_from(chrono::Utc::now()))
        .unwrap();
    let task = tokio::spawn(poller.run());
    // LL2's window is real time here, so all of this hour is inside it.
    tokio::time::sleep(Duration::from_secs(59 * 60)).await;
    stop.cancel();
    task.await.unwrap();
    let counted: Vec<_> = fake.requests().into_iter().filter(|r| r.counted).collect();
    let statuses: Vec<u16> = counted.iter().map(|r| r.status).collect();
    assert!(!statuses.contains(&429), "LL2 refused a request: {statuses:?}");
    assert!((2..=3).contains(&counted.len()), "the first sync of both feeds, within the 3 left: {statuses:?}");
}

/// `mean Xs p95 Ys (n N)` → (X, Y, N).
fn class_figures(part: &str) -> (f64, f64, usize) {
    let words: Vec<&str> = part.split_whitespace().collect();
    let at = |w: &str| words.iter().position(|x| *x == w).unwrap_or_else(|| panic!("{w:?} missing in {part:?}"));
    let secs = |i: usize| words[i].strip_suffix('s').unwrap().parse::<f64>().unwrap();
    let n = words[at("(n") + 1].strip_suffix(')').unwrap().parse().unwrap();
    (secs(at("mean") + 1), secs(at("p95") + 1), n)
}

#[test]
fn short_timeline_line_format_and_budget() {
    let timeline = builtin(7, 8);
    let report =
        run_paused(&timeline, SimOptions { per_hour: 15, strategy: Strategy::FollowTheNews, verbose: false }).unwrap();
    let line = report.line();
    let rest = line.strip_prefix("freshness: ").expect(&line);
    let parts: Vec<&str> = rest.split("; ").collect();
    assert_eq!(parts.len(), 4, "{line}");
    for (part, label) in parts.iter().zip(["final-hour mean ", "other launches mean ", "events mean "]) {
        assert!(part.starts_with(label), "{line}");
    }
    let (final_mean, final_p95, final_n) = class_figures(parts[0]);
    assert!(final_n > 0, "the timeline has a launch day: {line}");
    assert!(final_mean <= final_p95 + 1.0 || final_n == 1, "{line}");
    assert!(final_mean <= 600.0, "targeted queries keep the final hour fresh: {line}");
    let (_, _, other_n) = class_figures(parts[1]);
    let (_, _, events_n) = class_figures(parts[2]);
    assert!(other_n > 0 && events_n > 0, "{line}");
    let requests: Vec<&str> = parts[3].split_whitespace().collect();
    assert_eq!((requests[0], requests[2], requests[4]), ("requests", "of", "allowed"), "{line}");
    let (made, allowed): (u64, u64) = (requests[1].parse().unwrap(), requests[3].parse().unwrap());
    assert_eq!(allowed, 15 * 8);
    assert!(made > 8 * 2 && made <= allowed, "{line}");
    assert!(report.busiest_hour <= 15, "busiest hour {}", report.busiest_hour);
    assert_eq!(report.refused, 0, "LL2 never had to refuse a request");
    assert_eq!(report.missed, 0, "every change alerted");
}

/// Two launches lifting off within the hour: the launches feed's
/// incremental query serves both hot launches (no targeted query), the
/// final hour stays fresh, and LL2 never refuses a request.
#[test]
fn overlapping_hot_windows_ride_the_launches_feed() {
    let timeline = builtin(7, 10);
    let day: Vec<_> = timeline
        .entries
        .iter()
        .filter(|e| e.at >= timeline.start && e.item["name"].as_str().is_some_and(|n| n.contains("launch day 0")))
        .map(|e| freshness::id_of(&e.item))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(day.len(), 2, "launch day 0 has two launches: {day:?}");
    let report =
        run_paused(&timeline, SimOptions { per_hour: 15, strategy: Strategy::FollowTheNews, verbose: false }).unwrap();
    let line = report.line();
    assert_eq!(report.targeted, 0, "{line}");
    assert_eq!((report.refused, report.missed), (0, 0), "{line}");
    let (final_mean, _, final_n) = class_figures(line.split("; ").next().unwrap());
    assert!(final_n >= 8, "both launches' final hours are measured: {line}");
    assert!(final_mean <= 225.0, "{line}");
}

#[test]
fn malformed_timelines_name_the_line() {
    let cases = [
        ("", 1, "empty timeline"),
        ("{\"start\": \"2026-12-01T00:00:00Z\"}\n", 1, "hours"),
        ("{\"start\": \"2026-12-01T00:00:00Z\", \"hours\": 1}\n\n{\"at\": \"x\"}\n", 3, "expected"),
        (
            "{\"start\": \"2026-12-01T00:00:00Z\", \"hours\": 1}\n{\"at\": \"2026-12-01T00:00:00Z\", \"kind\": \"rocket\", \"item\": {\"id\": 1}}\n",
            2,
            "`kind`",
        ),
        (
            "{\"start\": \"2026-12-01T00:00:00Z\", \"hours\": 1}\n{\"at\": \"2026-12-01T00:00:00Z\", \"kind\": \"event\", \"item\": {\"name\": \"x\"}}\n",
            2,
            "`id`",
        ),
        (
            "{\"start\": \"2026-12-01T00:00:00Z\", \"hours\": 1}\n{\"at\": \"2026-12-01T01:00:00Z\", \"kind\": \"event\", \"item\": {\"id\": 1, \"name\": \"a\"}}\n{\"at\": \"2026-12-01T00:00:00Z\", \"kind\": \"event\", \"item\": {\"id\": 1, \"name\": \"a\"}}\n",
            3,
            "time order",
        ),
    ];
    for (text, line, needle) in cases {
        match Timeline::parse(text) {
            Err(e @ TimelineError::Line { line: l, .. }) => {
                assert_eq!(l, line, "{e}");
                assert!(e.to_string().starts_with(&format!("timeline line {line}: ")), "{e}");
                assert!(e.to_string().contains(needle), "{e}");
            }
            other => panic!("{text:?} gave {other:?}"),
        }
    }
    let round_trip = Timeline::parse(&builtin(3, 4).to_jsonl()).unwrap();
    assert_eq!(round_trip.entries.len(), builtin(3, 4).entries.len());
}
