//! Scale of one alert (issue 14, item 4): an alert that matches a million
//! subscriptions is routed, its outbox entries are built from the index and
//! written in one store transaction, and the store is flushed. Target: under
//! 3 s and under 300 MB peak RSS. Run with
//! `cargo run --release --example enqueue_1m`.
//!
//! The population is the benches' `Mixed` one (destinations, alert kinds,
//! reminders) with every filter widened to match everything, so the alert
//! reaches all of them. Only the `Index` is kept in memory before the
//! alert, as in the running bot. Prints each phase's time and the process'
//! VmRSS / VmHWM (peak) from /proc/self/status.
//! `TMINUS_BENCH_SUBS` changes the population (default 1,000,000).

use std::time::Instant;

use chrono::Utc;
use tminus::detect::{Alert, AlertId, Change};
use tminus::rules::{Filter, Index};
use tminus::store::{Batch, FanOut, Store};
use tminus::types::{AlertKind, Feed};

#[path = "../benches/common/mod.rs"]
mod common;

fn report(step: &str, secs: f64) {
    let (now, peak) = common::rss();
    println!("  {step:<36} {secs:>7.3} s   VmRSS {now:>7.1} MiB   VmHWM {peak:>7.1} MiB");
}

fn main() {
    let n = common::population(common::MILLION);
    let item = common::fixture_page(Feed::Launches, "launches-2.3.0-upcoming-detailed.json")
        .into_iter()
        .next()
        .expect("fixture has launches");
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(&dir.path().join("db")).expect("store opens");
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");

    let t = Instant::now();
    let mut index = Index::new();
    for mut sub in common::subscriptions(common::Mix::Mixed, n) {
        sub.filter = Filter::default();
        sub.alerts = AlertKind::ALL.to_vec();
        index.insert(&sub);
    }
    println!("enqueue_1m: one alert to {n} subscriptions");
    report(&format!("index of {} built", index.len()), t.elapsed().as_secs_f64());

    let start = Instant::now();
    let alert = Alert::new(AlertId(store.next_id().expect("id")), item, vec![Change::New], Utc::now());
    let t = Instant::now();
    let routed = index.route(&alert.item, alert.kind());
    report(&format!("routed ({} subscriptions)", routed.len()), t.elapsed().as_secs_f64());
    let t = Instant::now();
    let targets = index.targets(&routed);
    drop(routed);
    report("destinations from the index", t.elapsed().as_secs_f64());
    let fan_outs = vec![FanOut { alert: alert.id, targets, enqueued_at: Utc::now() }];
    let batch = Batch { alerts: vec![alert], fan_outs, ..Batch::default() };
    let entries = batch.delivery_count();
    let t = Instant::now();
    store.apply(&batch).expect("batch applied");
    report("written (one transaction)", t.elapsed().as_secs_f64());
    let t = Instant::now();
    rt.block_on(store.flush()).expect("flush");
    report("flushed", t.elapsed().as_secs_f64());
    let total = start.elapsed().as_secs_f64();
    assert_eq!(store.outbox_len(), entries, "one outbox entry per routed subscription");
    let (_, peak) = common::rss();
    println!("enqueue_1m: {entries} outbox entries durable in {total:.2} s, peak RSS {peak:.0} MiB");
}
