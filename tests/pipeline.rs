//! The core pipeline end to end against the fake LL2: first sync, each
//! alert kind from real fixture mutations, idle cycles, watermark
//! persistence, the request budget, throttling, bad answers.

mod support;

use std::time::Duration;

use serde_json::json;
use support::app::{App, AppOptions};
use support::fake_ll2::{FakeLl2, Fault};
use tminus::poller::PollError;
use tminus::types::{AlertKind, Feed};

const MMX: &str = "69ebbcd2-b257-4070-9ef9-21e7d1f8a883";

fn kinds(app: &App) -> Vec<(AlertKind, String)> {
    app.recorder.messages().into_iter().map(|(_, m)| (m.kind, m.title)).collect()
}

async fn synced() -> (FakeLl2, App) {
    let fake = FakeLl2::start().await;
    let mut app = App::start(AppOptions::new(fake.ll2_config())).await;
    for r in app.cycle().await {
        r.unwrap();
    }
    (fake, app)
}

#[tokio::test]
async fn first_sync_is_silent_and_loads_everything() {
    let (fake, app) = synced().await;
    assert_eq!(app.store.item_count(), fake.ids(Feed::Launches).len() + fake.ids(Feed::Events).len());
    assert!(app.recorder.messages().is_empty(), "first sync must not alert");
    assert_eq!(app.store.outbox_len(), 0);
    for feed in Feed::ALL {
        let state = app.store.feed_state(feed).unwrap();
        assert!(state.first_sync_done && state.watermark.is_some() && state.last_sweep.is_some());
    }
    let sweeps = fake.requests();
    assert_eq!(sweeps.len(), 2 + sweeps.iter().filter(|r| r.path.ends_with("/api-throttle/")).count());
    for r in sweeps.iter().filter(|r| r.counted) {
        assert!(r.path.ends_with("/upcoming/"), "{}", r.path);
        assert_eq!(r.param("mode").as_deref(), Some("detailed"));
        assert_eq!(r.param("limit").as_deref(), Some("100"));
    }
}

#[tokio::test]
async fn first_sync_can_alert_when_configured() {
    let fake = FakeLl2::start().await;
    let mut opts = AppOptions::new(fake.ll2_config());
    opts.on_first_sync = true;
    let mut app = App::start(opts).await;
    app.cycle().await;
    let msgs = kinds(&app);
    assert_eq!(msgs.len(), app.store.item_count());
    assert!(msgs.iter().all(|(k, _)| *k == AlertKind::New));
}

#[tokio::test]
async fn idle_cycle_is_one_incremental_request_per_feed() {
    let (fake, mut app) = synced().await;
    fake.clear_requests();
    let before = fake.bytes_served();
    let reports = app.cycle().await;
    let counted: Vec<_> = fake.requests().into_iter().filter(|r| r.counted).collect();
    assert_eq!(counted.len(), 2, "one request per feed: {counted:?}");
    for (r, feed) in counted.iter().zip(Feed::ALL) {
        assert_eq!(r.path, format!("/2.3.0/{}/upcoming/", feed.as_str()));
        assert_eq!(r.param("ordering").as_deref(), Some("last_updated"));
        assert_eq!(r.param("limit").as_deref(), Some("100"));
        assert_eq!(r.param("mode").as_deref(), Some("detailed"));
        let wm = app.store.feed_state(feed).unwrap().watermark.unwrap();
        assert_eq!(r.param("last_updated__gte"), Some(wm.to_query()));
    }
    for r in reports {
        assert_eq!(r.unwrap().alerts, 0);
    }
    assert!(app.recorder.messages().is_empty(), "items equal to the watermark are re-seen silently");
    println!("idle cycle: {} requests, {} bytes", counted.len(), fake.bytes_served() - before);
}

#[tokio::test]
async fn each_alert_kind_from_real_mutations() {
    let (fake, mut app) = synced().await;
    let old_net = fake.item(Feed::Launches, MMX).unwrap()["net"].as_str().unwrap().to_string();
    let new_net = (old_net.parse::<chrono::DateTime<chrono::Utc>>().unwrap() + chrono::Duration::minutes(150))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    fake.set_field(Feed::Launches, MMX, "net", json!(new_net));
    app.poll(Feed::Launches).await.unwrap();
    let msgs = app.recorder.messages();
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].1.kind, AlertKind::Schedule);
    assert!(msgs[0].1.changes[0].contains("(+2h 30m)"), "{:?}", msgs[0].1.changes);

    fake.set_field(Feed::Launches, MMX, "/status", json!({"id": 5, "name": "On Hold", "abbrev": "Hold"}));
    app.poll(Feed::Launches).await.unwrap();
    fake.set_field(Feed::Launches, MMX, "webcast_live", json!(true));
    app.poll(Feed::Launches).await.unwrap();
    let mut new = fake.item(Feed::Launches, MMX).unwrap();
    new["id"] = json!("00000000-0000-4000-8000-000000000001");
    new["name"] = json!("Brand New Rocket | Demo");
    fake.add_item(Feed::Launches, new);
    app.poll(Feed::Launches).await.unwrap();

    let got: Vec<AlertKind> = kinds(&app).into_iter().map(|(k, _)| k).collect();
    assert_eq!(got, [AlertKind::Schedule, AlertKind::Status, AlertKind::Webcast, AlertKind::New]);
    let status = &app.recorder.messages()[1].1;
    assert!(status.changes[0].contains("Go for Launch → On Hold"), "{:?}", status.changes);

    // An event changes date.
    let event_id = fake.ids(Feed::Events)[0].clone();
    fake.set_field(Feed::Events, &event_id, "date", json!("2031-01-01T00:00:00Z"));
    app.poll(Feed::Events).await.unwrap();
    assert_eq!(kinds(&app).last().unwrap().0, AlertKind::Schedule);
}

#[tokio::test]
async fn last_updated_bump_alone_alerts_nothing() {
    let (fake, mut app) = synced().await;
    fake.touch(Feed::Launches, MMX);
    fake.set_field(Feed::Launches, MMX, "/mission/description", json!("Edited prose only."));
    let report = app.poll(Feed::Launches).await.unwrap();
    assert_eq!(report.items, 1, "the bumped item is fetched");
    assert_eq!(report.alerts, 0);
    assert!(app.recorder.messages().is_empty());
}

#[tokio::test]
async fn watermark_survives_restart_and_nothing_alerts_twice() {
    let (fake, mut app) = synced().await;
    fake.set_field(Feed::Launches, MMX, "/status", json!({"id": 8, "name": "To Be Confirmed", "abbrev": "TBC"}));
    app.poll(Feed::Launches).await.unwrap();
    assert_eq!(app.recorder.messages().len(), 1);
    let wm = app.store.feed_state(Feed::Launches).unwrap().watermark;
    let dir = app.dir.clone();
    drop(app);

    let mut opts = AppOptions::new(fake.ll2_config());
    opts.dir = Some(dir);
    let mut app = App::start(opts).await;
    assert_eq!(app.store.feed_state(Feed::Launches).unwrap().watermark, wm);
    fake.clear_requests();
    app.poll(Feed::Launches).await.unwrap();
    let r = fake.requests().into_iter().find(|r| r.counted).unwrap();
    assert_eq!(r.param("last_updated__gte"), wm.map(|w| w.to_query()), "incremental, not a new sweep");
    assert!(app.recorder.messages().is_empty(), "the same change is not alerted again after restart");
}

#[tokio::test]
async fn more_than_a_page_of_changes_is_walked_without_skipping() {
    let (fake, mut app) = synced().await;
    let ids = fake.add_many(Feed::Launches, 250);
    let report = app.poll(Feed::Launches).await.unwrap();
    assert!(report.requests >= 3, "{report:?}");
    assert_eq!(app.recorder.messages().len(), 250, "every new item alerted once");
    let mut alerted: Vec<String> = app
        .store
        .delivered()
        .unwrap()
        .into_iter()
        .map(|d| app.store.alert(d.alert).unwrap().unwrap().item.id.id)
        .collect();
    alerted.sort();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(alerted, expected, "none skipped, none twice");
    assert_eq!(app.store.outbox_len(), 0);
}

#[tokio::test]
async fn budget_is_never_exceeded_and_persists_across_restart() {
    let fake = FakeLl2::start().await;
    let mut cfg = fake.ll2_config();
    cfg.requests_per_hour = 3;
    let mut app = App::start(AppOptions::new(cfg.clone())).await;
    for _ in 0..5 {
        app.cycle().await;
    }
    assert_eq!(fake.counted_requests(), 3);
    let dir = app.dir.clone();
    drop(app);
    let mut opts = AppOptions::new(cfg);
    opts.dir = Some(dir);
    let mut app = App::start(opts).await;
    let results = app.cycle().await;
    assert!(results.iter().all(|r| matches!(r, Err(PollError::NoBudget(_)))), "{results:?}");
    assert_eq!(fake.counted_requests(), 3, "the request log survived the restart");
}

#[tokio::test]
async fn throttle_answer_pauses_requests() {
    let (fake, mut app) = synced().await;
    fake.push_fault(Fault::Throttle { secs: 2, header: false });
    let err = app.poll(Feed::Launches).await.unwrap_err();
    assert!(matches!(err, PollError::Ll2(tminus::ll2::Ll2Error::Throttled { .. })), "{err}");
    // While throttled, nothing is sent.
    let before = fake.counted_requests();
    assert!(matches!(app.poll(Feed::Events).await, Err(PollError::NoBudget(_))));
    assert_eq!(fake.counted_requests(), before);
    // The waiting poller sends again once the wait is over.
    let start = std::time::Instant::now();
    app.poller.poll_feed(Feed::Events, tminus::poller::BudgetWait::Wait).await.unwrap();
    assert!(start.elapsed() >= Duration::from_millis(1500), "waited {:?}", start.elapsed());
}

#[tokio::test]
async fn bad_answers_never_alert_nor_advance_the_watermark() {
    let (fake, mut app) = synced().await;
    fake.set_field(Feed::Launches, MMX, "/status", json!({"id": 3, "name": "Launch Successful", "abbrev": "Success"}));
    let wm = app.store.feed_state(Feed::Launches).unwrap().watermark;
    for fault in [Fault::Status(500), Fault::Html, Fault::Truncated, Fault::ErrorObject, Fault::Status(502)] {
        fake.push_fault(fault.clone());
        assert!(app.poll(Feed::Launches).await.is_err(), "{fault:?}");
        assert_eq!(app.store.feed_state(Feed::Launches).unwrap().watermark, wm, "{fault:?}");
        assert!(app.recorder.messages().is_empty(), "{fault:?}");
    }
    app.poll(Feed::Launches).await.unwrap();
    assert_eq!(kinds(&app).len(), 1, "the change arrives once the answers are good again");
}

#[tokio::test]
async fn api_key_goes_in_the_authorization_header() {
    let fake = FakeLl2::builder().expected_api_key("s3cr3t-key").start().await;
    let mut cfg = fake.ll2_config();
    cfg.api_key = tminus::types::Secret::new("s3cr3t-key");
    let mut app = App::start(AppOptions::new(cfg)).await;
    app.cycle().await;
    let reqs = fake.requests();
    assert!(!reqs.is_empty());
    for r in reqs {
        assert_eq!(r.authorization.as_deref(), Some("Token s3cr3t-key"));
        assert!(!r.query.unwrap_or_default().contains("s3cr3t"));
    }
}

#[tokio::test]
async fn a_garbled_status_or_date_is_not_news() {
    let (fake, mut app) = synced().await;
    fake.set_field(Feed::Launches, MMX, "status", json!([1, 2]));
    fake.set_field(Feed::Launches, MMX, "net", json!("not a date"));
    app.poll(Feed::Launches).await.unwrap();
    assert!(app.recorder.messages().is_empty(), "{:?}", kinds(&app));
    // When the field is readable again and unchanged, still nothing.
    fake.set_field(Feed::Launches, MMX, "status", json!({"id": 1, "name": "Go for Launch", "abbrev": "Go"}));
    app.poll(Feed::Launches).await.unwrap();
    assert!(kinds(&app).iter().all(|(k, _)| *k != AlertKind::Status), "{:?}", kinds(&app));
}
