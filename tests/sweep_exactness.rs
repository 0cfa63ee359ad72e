//! Sweeps stay exact while LL2 changes under them. The fake LL2 pages its
//! upcoming list by offset in NET order, like the real one, and a hook edits
//! the list before every request: NET moves (which shift later pages),
//! status changes, additions and removals. After each sweep and the poll
//! that follows it, the store must hold every listed item at its current
//! `last_updated` (0 missed changes, 0 wrongly forgotten), and no item the
//! bot already knew may be announced as new (0 false new).

mod support;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration as Span, SecondsFormat, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use support::app::{App, AppOptions};
use support::fake_ll2::{FakeLl2, World};
use tminus::poller::BudgetWait;
use tminus::types::{AlertKind, Feed, ItemKind};

/// Launches listed: four pages of 100, like LL2's real upcoming list.
const LAUNCHES: usize = 335;

/// The random edits a hook applies, and what they did.
struct Churn {
    active: bool,
    rng: StdRng,
    next_seq: u64,
    edits: usize,
}

impl Churn {
    fn new(seed: u64) -> Churn {
        Churn { active: false, rng: StdRng::seed_from_u64(seed), next_seq: 1, edits: 0 }
    }

    /// Zero to three random edits of the launches list.
    fn apply(&mut self, world: &mut World<'_>) {
        for _ in 0..self.rng.gen_range(0..=3) {
            let stamp = world.stamp();
            let items = world.items_mut(Feed::Launches);
            let pick = self.rng.gen_range(0..items.len());
            match self.rng.gen_range(0..10) {
                0..=3 => {
                    let hours = self.rng.gen_range(1..96) * if self.rng.gen_bool(0.5) { 1 } else { -1 };
                    shift(&mut items[pick], Span::hours(hours));
                    items[pick]["last_updated"] = json!(stamp);
                }
                4..=6 => {
                    let (id, name, abbrev) =
                        [(1, "Go for Launch", "Go"), (2, "To Be Determined", "TBD"), (5, "On Hold", "Hold")]
                            [self.rng.gen_range(0..3)];
                    items[pick]["status"] = json!({"id": id, "name": name, "abbrev": abbrev});
                    items[pick]["last_updated"] = json!(stamp);
                }
                7..=8 => {
                    let mut item = items[pick].clone();
                    let seq = self.next_seq;
                    self.next_seq += 1;
                    item["id"] = json!(format!("5e5e0000-0000-4000-8000-{seq:012x}"));
                    item["name"] = json!(format!("Sim addition {seq}"));
                    shift(&mut item, Span::hours(self.rng.gen_range(-48..48)));
                    item["last_updated"] = json!(stamp);
                    items.push(item);
                }
                _ if items.len() > 250 => {
                    items.remove(pick);
                }
                _ => {}
            }
            self.edits += 1;
        }
    }
}

/// Moves an item's dates by `by`.
fn shift(item: &mut Value, by: Span) {
    for field in ["net", "window_start", "window_end"] {
        if let Some(t) = item.get(field).and_then(Value::as_str).and_then(|s| s.parse::<DateTime<Utc>>().ok()) {
            item[field] = json!((t + by).to_rfc3339_opts(SecondsFormat::Secs, true));
        }
    }
}

/// What the fake lists now: launch id → (name, `last_updated`).
fn listed(fake: &FakeLl2) -> HashMap<String, (String, DateTime<Utc>)> {
    fake.items(Feed::Launches)
        .iter()
        .map(|v| {
            let stamp = v["last_updated"].as_str().unwrap().parse().unwrap();
            (v["id"].as_str().unwrap().to_string(), (v["name"].as_str().unwrap().to_string(), stamp))
        })
        .collect()
}

/// What the store knows: launch id → (name, `last_updated`).
fn stored(app: &App) -> HashMap<String, (String, DateTime<Utc>)> {
    app.store
        .items()
        .unwrap()
        .into_iter()
        .filter(|i| i.id.kind == ItemKind::Launch)
        .map(|i| (i.id.id.clone(), (i.name.clone(), i.last_updated)))
        .collect()
}

#[derive(Debug, Default)]
struct Tally {
    sweeps: usize,
    requests: usize,
    edits: usize,
    id_queries: usize,
    false_new: usize,
    missed_changes: usize,
    wrongly_forgotten: usize,
}

/// A fake LL2 listing [`LAUNCHES`] small launches (LL2's `list` mode
/// fields the poller reads), an hour apart from two days out. Small
/// objects keep the many sweeps of a simulation quick; the parser's hold
/// on real, detailed objects is tested with the fixtures elsewhere.
async fn fake_with_launches() -> FakeLl2 {
    let fake = FakeLl2::start().await;
    for id in fake.ids(Feed::Launches) {
        fake.remove_item(Feed::Launches, id);
    }
    let first = Utc::now() + Span::days(2);
    for i in 0..LAUNCHES {
        let net = (first + Span::hours(i as i64)).to_rfc3339_opts(SecondsFormat::Secs, true);
        fake.add_item(
            Feed::Launches,
            json!({
                "id": format!("10000000-0000-4000-8000-{i:012}"),
                "name": format!("Launch {i} | Test"),
                "net": net,
                "status": {"id": 1, "name": "Go for Launch", "abbrev": "Go"},
            }),
        );
    }
    fake
}

impl Tally {
    fn add(&mut self, t: &Tally) {
        let pairs = [
            (&mut self.sweeps, t.sweeps),
            (&mut self.requests, t.requests),
            (&mut self.edits, t.edits),
            (&mut self.id_queries, t.id_queries),
            (&mut self.false_new, t.false_new),
            (&mut self.missed_changes, t.missed_changes),
            (&mut self.wrongly_forgotten, t.wrongly_forgotten),
        ];
        for (sum, n) in pairs {
            *sum += n;
        }
    }
}

/// An app on the launches feed alone, past its first sync and the
/// incremental poll after it (which catches up on the items edited since the
/// sweep's first page, a few pages once), so the next poll is steady state.
async fn launches_app(fake: &FakeLl2) -> App {
    let mut cfg = fake.ll2_config();
    cfg.feeds = vec![Feed::Launches];
    cfg.requests_per_hour = 100_000;
    let mut app = App::start(AppOptions::new(cfg)).await;
    assert!(app.poll(Feed::Launches).await.unwrap().sweep);
    assert!(!app.poll(Feed::Launches).await.unwrap().sweep);
    app
}

/// `sweeps` sweeps, each followed by one incremental poll, with random edits
/// before every request of the sweeps.
async fn simulate(seed: u64, sweeps: usize) -> Tally {
    let fake = fake_with_launches().await;
    let mut app = launches_app(&fake).await;
    let churn = Arc::new(Mutex::new(Churn::new(seed)));
    let hook = churn.clone();
    fake.on_request(move |_, world| {
        let mut churn = hook.lock().unwrap();
        if churn.active {
            churn.apply(world);
        }
    });
    let mut tally = Tally::default();
    for _ in 0..sweeps {
        let before = stored(&app);
        let known_names: HashSet<String> = before.values().map(|(n, _)| n.clone()).collect();
        let seen_messages = app.recorder.messages().len();
        let requests_before = fake.counted_requests();
        churn.lock().unwrap().active = true;
        let report = app.poller.sweep_feed(Feed::Launches, BudgetWait::Skip).await.unwrap();
        churn.lock().unwrap().active = false;
        assert!(report.sweep);
        app.poll(Feed::Launches).await.unwrap();

        let now_listed = listed(&fake);
        let now_stored = stored(&app);
        tally.sweeps += 1;
        tally.requests += fake.counted_requests() - requests_before;
        tally.wrongly_forgotten +=
            before.keys().filter(|id| now_listed.contains_key(*id) && !now_stored.contains_key(*id)).count();
        tally.missed_changes +=
            now_listed.iter().filter(|(id, (_, stamp))| now_stored.get(*id).map(|(_, s)| s) != Some(stamp)).count();
        tally.false_new += app.recorder.messages()[seen_messages..]
            .iter()
            .filter(|(_, m)| m.kind == AlertKind::New && known_names.contains(&m.title))
            .count();
    }
    tally.edits = churn.lock().unwrap().edits;
    tally.id_queries = fake.requests().iter().filter(|r| r.param("id").is_some()).count();
    tally
}

#[tokio::test]
async fn sweeps_stay_exact_while_the_list_changes_between_pages() {
    let mut total = Tally::default();
    for seed in 1..=4 {
        let t = simulate(seed, 15).await;
        println!("seed {seed}: {t:?}");
        total.add(&t);
    }
    println!("total: {total:?}");
    assert!(total.edits > 300, "the simulation must actually churn the list: {total:?}");
    assert!(total.id_queries > 0, "shifted pages must have sent some known items to the id query: {total:?}");
    assert_eq!((total.false_new, total.missed_changes, total.wrongly_forgotten), (0, 0, 0), "{total:?}");
}

/// The offset of a sweep page request (`None` for page 1 or another query).
fn offset(path: &str) -> Option<usize> {
    let query = path.split_once('?')?.1;
    url::form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "offset").and_then(|(_, v)| v.parse().ok())
}

#[tokio::test]
async fn a_launch_pushed_onto_a_read_page_is_kept_and_never_new_again() {
    let fake = fake_with_launches().await;
    let mut app = launches_app(&fake).await;
    let order = app.store.items().unwrap().len();
    assert_eq!(order, LAUNCHES);
    // Before page 2 is served, the soonest launch slips to the end of the
    // list: every later launch moves up one place, so the first launch of
    // page 2 lands on page 1, which was already read.
    let slipped = Arc::new(Mutex::new(false));
    let flag = slipped.clone();
    fake.on_request(move |path, world| {
        let mut done = flag.lock().unwrap();
        if offset(path) == Some(100) && !*done {
            *done = true;
            let stamp = world.stamp();
            let items = world.items_mut(Feed::Launches);
            let soonest = items.iter_mut().min_by_key(|v| v["net"].as_str().unwrap().to_string()).unwrap();
            shift(soonest, Span::days(400));
            soonest["last_updated"] = json!(stamp);
        }
    });
    app.poller.sweep_feed(Feed::Launches, BudgetWait::Skip).await.unwrap();
    assert!(*slipped.lock().unwrap());
    assert_eq!(app.store.items().unwrap().len(), LAUNCHES, "no listed launch is forgotten");
    assert_eq!(fake.requests().iter().filter(|r| r.param("id").is_some()).count(), 1, "one id query");
    app.deliverer.drain_once().await.unwrap();
    app.poll(Feed::Launches).await.unwrap();
    app.poller.sweep_feed(Feed::Launches, BudgetWait::Skip).await.unwrap();
    app.deliverer.drain_once().await.unwrap();
    let news: Vec<String> = app
        .recorder
        .messages()
        .iter()
        .filter(|(_, m)| m.kind == AlertKind::New)
        .map(|(_, m)| m.title.clone())
        .collect();
    assert!(news.is_empty(), "nothing was new: {news:?}");
}

#[tokio::test]
async fn a_change_to_a_read_page_during_a_sweep_is_alerted_by_the_next_poll() {
    let fake = fake_with_launches().await;
    let mut app = launches_app(&fake).await;
    let mut by_net = fake.items(Feed::Launches);
    by_net.sort_by_key(|v| v["net"].as_str().unwrap().to_string());
    let early = by_net[3]["id"].as_str().unwrap().to_string();
    let late = by_net[250]["id"].as_str().unwrap().to_string();
    // After page 1 was read, a launch of page 1 goes on hold; later, before
    // page 3, a launch of page 3 is edited, so page 3 carries the newest stamp.
    let (hold_id, late_id) = (early.clone(), late.clone());
    fake.on_request(move |path, world| {
        let (target, status) = match offset(path) {
            Some(100) => (&hold_id, json!({"id": 5, "name": "On Hold", "abbrev": "Hold"})),
            Some(200) => (&late_id, json!({"id": 2, "name": "To Be Determined", "abbrev": "TBD"})),
            _ => return,
        };
        let stamp = world.stamp();
        let item = world.items_mut(Feed::Launches).iter_mut().find(|v| v["id"] == json!(target)).unwrap();
        item["status"] = status;
        item["last_updated"] = json!(stamp);
    });
    app.poller.sweep_feed(Feed::Launches, BudgetWait::Skip).await.unwrap();
    app.deliverer.drain_once().await.unwrap();
    let early_name = fake.item(Feed::Launches, &early).unwrap()["name"].as_str().unwrap().to_string();
    let held = |app: &App| {
        app.recorder
            .messages()
            .iter()
            .any(|(_, m)| m.title == early_name && m.changes.iter().any(|c| c.ends_with("→ On Hold")))
    };
    assert!(!held(&app), "page 1 was read before the hold");
    let report = app.poll(Feed::Launches).await.unwrap();
    assert!(!report.sweep);
    assert_eq!(report.requests, 1, "one incremental request");
    assert!(held(&app), "the hold is alerted by the first poll after the sweep");
}

#[tokio::test]
async fn unknown_filter_values_are_named_only_after_every_feed_synced() {
    support::logs::logs();
    let fake = FakeLl2::start().await;
    let watch = tminus::config::Watch {
        agencies: vec!["SpaceX".into(), "Nonexistent Agency Q7".into()],
        ..tminus::subscriptions::default_console_watch(chrono_tz::UTC, vec![])
    };
    let mut app = App::start(AppOptions { watches: vec![watch], ..AppOptions::new(fake.ll2_config()) }).await;
    let warned =
        |value: &str| support::logs::log_text().lines().any(|l| l.contains("matches nothing") && l.contains(value));
    app.poll(Feed::Events).await.unwrap();
    assert!(!warned("SpaceX") && !warned("Q7"), "launches are not known yet: nothing to warn about");
    app.poll(Feed::Launches).await.unwrap();
    assert!(warned("Nonexistent Agency Q7"), "{}", support::logs::log_text());
    assert!(!warned("SpaceX"), "SpaceX launches are listed");
}
