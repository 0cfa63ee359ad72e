//! Routing cost with a million subscriptions (issue 3: under 1 ms per routed
//! alert). Builds `Index` from 1,000,000 generated subscriptions (see
//! `common`), prints the build time and a table of match counts, then
//! benches `Index::route` for real LL2 fixture items.
//!
//! `cargo bench --bench routing` (add `-- --quick` for a faster run).
//! `TMINUS_BENCH_SUBS=100000` changes the population; `TMINUS_BENCH_VERIFY=1`
//! checks every routed set against `Subscription::matches` (always done in
//! the small smoke run of `cargo test --benches`).
//!
//! For instruction counts under callgrind (repeatable on a loaded machine),
//! `TMINUS_BENCH_ONLY=starlink` keeps the items whose label contains the
//! text and `TMINUS_BENCH_MIX=mixed` (or `selective`) builds one population;
//! a filter that selects no benchmark then routes each item only for the
//! table (once, then 7 timed). With a profile dumped after each route, the
//! later dumps are the steady-state count of one route (the first also pays
//! for malloc consolidating the frees of the build):
//! `TMINUS_BENCH_MIX=mixed TMINUS_BENCH_ONLY=starlink valgrind --tool=callgrind
//! --toggle-collect='*Index::route' --dump-after='*Index::route' <bench binary> --bench none`
//! (the binary: `cargo bench --bench routing --no-run`).

#![allow(missing_docs)] // criterion_group! generates undocumented items

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use tminus::item::Item;
use tminus::rules::{Index, SubId, Subscription};
use tminus::types::AlertKind;

mod common;

use common::Mix;

/// The alert kind routed: most subscriptions want status changes.
const KIND: AlertKind = AlertKind::Status;

struct Setup {
    index: Index,
    /// Kept only when verifying.
    subs: Option<Vec<Subscription>>,
}

fn full_run() -> bool {
    std::env::args().any(|a| a == "--bench")
}

fn build(mix: Mix) -> Setup {
    let n = common::population(if full_run() { common::MILLION } else { 20_000 });
    let verify = !full_run() || std::env::var_os("TMINUS_BENCH_VERIFY").is_some();
    let t = Instant::now();
    let subs: Vec<Subscription> = common::subscriptions(mix, n).collect();
    let generated = t.elapsed();
    let t = Instant::now();
    let index = Index::from_subscriptions(&subs);
    let built = t.elapsed();
    eprintln!(
        "{mix:?}: generated {n} subscriptions in {:.2} s; Index::from_subscriptions: {:.2} s ({:.0} ns per insert), {} indexed",
        generated.as_secs_f64(),
        built.as_secs_f64(),
        built.as_nanos() as f64 / n as f64,
        index.len()
    );
    Setup { index, subs: verify.then_some(subs) }
}

/// Median of a few single routes, for the summary table.
fn quick_time(index: &Index, item: &Item, kind: AlertKind) -> Duration {
    let mut times: Vec<Duration> = (0..7)
        .map(|_| {
            let t = Instant::now();
            black_box(index.route(black_box(item), kind));
            t.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

fn check(setup: &Setup, item: &Item, kind: AlertKind, routed: &[SubId]) {
    if let Some(subs) = &setup.subs {
        let mut want: Vec<SubId> = subs.iter().filter(|s| s.matches(item, kind)).map(|s| s.id).collect();
        want.sort_unstable();
        assert_eq!(routed, want.as_slice(), "index and Subscription::matches disagree on {}", item.name);
    }
}

/// Prints matches and a rough time per item; returns (item, matches).
fn table<'a>(setup: &Setup, items: &'a [Item], title: &str) -> Vec<(&'a Item, usize)> {
    eprintln!("{title} ({} subscriptions): route({KIND}) per fixture item", setup.index.len());
    eprintln!("  {:>9}  {:>10}  {:>9}  item", "matches", "median", "ns/match");
    let mut out = Vec::new();
    for item in items {
        let routed = setup.index.route(item, KIND);
        check(setup, item, KIND, &routed);
        let t = quick_time(&setup.index, item, KIND);
        let per = if routed.is_empty() { 0.0 } else { t.as_nanos() as f64 / routed.len() as f64 };
        eprintln!(
            "  {:>9}  {:>7.3} ms  {per:>9.1}  {} ({})",
            routed.len(),
            t.as_secs_f64() * 1e3,
            item.name,
            item.kind()
        );
        out.push((item, routed.len()));
    }
    out
}

/// Whether `TMINUS_BENCH_MIX` (if set) asks for `mix`.
fn wanted(mix: Mix) -> bool {
    std::env::var("TMINUS_BENCH_MIX").map_or(true, |m| m.eq_ignore_ascii_case(&format!("{mix:?}")))
}

fn routing(c: &mut Criterion) {
    let mut items = common::fixture_items();
    if let Ok(only) = std::env::var("TMINUS_BENCH_ONLY") {
        items.retain(|item| common::label(item).contains(&only));
        assert!(!items.is_empty(), "TMINUS_BENCH_ONLY={only} selects no fixture item");
    }
    if wanted(Mix::Mixed) {
        route_mixed(c, &items);
    }
    if wanted(Mix::Selective) {
        route_selective(c, &items);
    }
}

fn route_mixed(c: &mut Criterion, items: &[Item]) {
    let mixed = build(Mix::Mixed);
    let counts = table(&mixed, items, "mixed");
    let mut group = c.benchmark_group("route_mixed");
    for (item, matches) in &counts {
        group.throughput(Throughput::Elements(*matches as u64));
        group.bench_with_input(BenchmarkId::new(common::label(item), format!("{matches}_matches")), item, |b, item| {
            b.iter(|| black_box(mixed.index.route(black_box(item), KIND)))
        });
    }
    group.finish();

    // Reminders route and then keep those with the offset.
    let heaviest = counts.iter().max_by_key(|(_, n)| *n).map(|(i, _)| *i).expect("items");
    let hour = Duration::from_secs(3600);
    let reminded = mixed.index.route_reminder(heaviest, hour);
    if let Some(subs) = &mixed.subs {
        let want: Vec<SubId> = subs
            .iter()
            .filter(|s| s.matches(heaviest, AlertKind::Reminder) && s.reminders.contains(&hour))
            .map(|s| s.id)
            .collect();
        assert_eq!(reminded, want, "route_reminder");
    }
    eprintln!("route_reminder(1h) of {}: {} matches", heaviest.name, reminded.len());
    let mut group = c.benchmark_group("route_reminder_mixed");
    group.throughput(Throughput::Elements(reminded.len() as u64));
    group.bench_function(BenchmarkId::new(common::label(heaviest), format!("1h_{}_matches", reminded.len())), |b| {
        b.iter(|| black_box(mixed.index.route_reminder(black_box(heaviest), hour)))
    });
    group.finish();
}

fn route_selective(c: &mut Criterion, items: &[Item]) {
    // Few matches: no broad filters, so cost must follow the matches down.
    let selective = build(Mix::Selective);
    let counts = table(&selective, items, "selective");
    let mut by_matches = counts.clone();
    by_matches.sort_by_key(|(_, n)| *n);
    let mut picks = vec![by_matches[0], by_matches[by_matches.len() / 2], by_matches[by_matches.len() - 1]];
    picks.dedup_by_key(|(item, _)| item.id.clone());
    let mut group = c.benchmark_group("route_selective");
    for (item, matches) in picks {
        group.throughput(Throughput::Elements(matches as u64));
        group.bench_with_input(BenchmarkId::new(common::label(item), format!("{matches}_matches")), item, |b, item| {
            b.iter(|| black_box(selective.index.route(black_box(item), KIND)))
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = routing
}
criterion_main!(benches);
