//! Shared test data: the sample launch, defined once in
//! `sample_launch.json` beside this file (the library's unit tests read the
//! same file), and the items of the real LL2 answers in
//! `tests/fixtures/ll2/`. Subscriptions are built with `Subscription::new`
//! and its `with_*` methods, as production code builds them.

use chrono::{DateTime, Duration, Utc};
use tminus::detect::{Alert, AlertId, Change};
use tminus::item::Item;
use tminus::ll2::parse_page;
use tminus::rules::{Filter, Origin, SubId, Subscription};
use tminus::store::{Batch, FanOut, Store};
use tminus::subscriptions::Subscriptions;
use tminus::types::{ChatId, Destination, Feed};

/// Where the real LL2 answers are.
pub const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/ll2");

/// The items of one real LL2 list answer in `tests/fixtures/ll2/`.
pub fn fixture_items(feed: Feed, file: &str) -> Vec<Item> {
    let body = std::fs::read(format!("{FIXTURES}/{file}")).unwrap_or_else(|e| panic!("{file}: {e}"));
    parse_page(feed, &body).unwrap_or_else(|e| panic!("{file}: {e}")).items
}

/// A Falcon 9 Starlink launch by SpaceX (id 121, "SpX"), Go, NET
/// 2026-12-05 13:30 UTC to the minute, a four-hour window, no videos.
pub fn sample_launch() -> Item {
    serde_json::from_str(include_str!("sample_launch.json")).expect("sample_launch.json is an Item")
}

/// The sample launch moved to `when` (its window with it), updated now.
pub fn launch_at(when: DateTime<Utc>) -> Item {
    let item = sample_launch();
    let shift = when - item.when.expect("the sample has a date");
    Item {
        when: Some(when),
        window_start: item.window_start.map(|t| t + shift),
        window_end: item.window_end.map(|t| t + shift),
        last_updated: Utc::now(),
        ..item
    }
}

/// The sample launch two days from now.
pub fn upcoming_launch() -> Item {
    launch_at(Utc::now() + Duration::days(2))
}

/// A fresh store where Telegram chats `1..=chats` each subscribed to
/// everything, and one new-launch alert committed as a fan-out to all of
/// them, waiting in the outbox. The directory must outlive the store.
pub fn telegram_fan_out(chats: i64) -> (tempfile::TempDir, Store, Subscriptions) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("db")).unwrap();
    let subs = Subscriptions::load(store.clone()).unwrap();
    let mut ids = Vec::new();
    for chat in 1..=chats {
        let id = SubId(store.next_id().unwrap());
        subs.put(&Subscription::new(id, Destination::Telegram(ChatId(chat)), Filter::default(), Origin::Chat)).unwrap();
        ids.push(id);
    }
    let alert = Alert::new(AlertId(store.next_id().unwrap()), upcoming_launch(), vec![Change::New], Utc::now());
    let targets = subs.index().read().unwrap().targets(&ids);
    let fan_outs = vec![FanOut { alert: alert.id, targets, enqueued_at: Utc::now() }];
    store.apply(&Batch { alerts: vec![alert], fan_outs, ..Batch::default() }).unwrap();
    (dir, store, subs)
}
