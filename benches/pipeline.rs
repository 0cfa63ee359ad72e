//! Cost of the stages before routing, on real LL2 answers: parsing a page
//! (`ll2::parse_page`) and change detection (`detect::detect`).
//!
//! `cargo bench --bench pipeline` (add `-- --quick` for a faster run).

#![allow(missing_docs)] // criterion_group! generates undocumented items

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tminus::detect::{Change, detect};
use tminus::item::Item;
use tminus::ll2::parse_page;
use tminus::types::Feed;

mod common;

/// Starship Flight 10 in the two 2.2.0 polls: Go → TBC, NET +24 h, and
/// `webcast_live` turned true.
const STARSHIP_FLIGHT_10: &str = "fc1dafd8-bcb0-4e77-8ba9-2d03134f04e4";

fn parsing(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse_page");
    for (feed, name) in [
        (Feed::Launches, "launches-2.3.0-upcoming-detailed.json"),
        (Feed::Events, "events-2.3.0-upcoming-detailed.json"),
    ] {
        let body = common::fixture(name);
        let items = parse_page(feed, &body).expect("fixture parses").items.len();
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_function(format!("{name} ({} kB, {items} items)", body.len() / 1000), |b| {
            b.iter(|| black_box(parse_page(feed, black_box(&body)).expect("fixture parses")))
        });
    }
    group.finish();
}

fn detection(c: &mut Criterion) {
    let before = common::fixture_page(Feed::Launches, "launches-2.2.0-upcoming-normal-2025-08-25T1820Z.json");
    let after = common::fixture_page(Feed::Launches, "launches-2.2.0-upcoming-normal-2025-08-26T0107Z.json");
    let find = |items: &[Item]| items.iter().find(|i| i.id.id == STARSHIP_FLIGHT_10).cloned().expect("Flight 10");
    let (old, new) = (find(&before), find(&after));
    let changes = detect(Some(&old), &new);
    assert!(
        matches!(changes[..], [Change::Schedule { .. }, Change::Status { .. }, Change::Webcast { .. }]),
        "Flight 10 moved, went Go → TBC and live: {changes:?}"
    );

    let mut group = c.benchmark_group("detect");
    group.bench_function("starship-flight-10 (schedule + status + webcast)", |b| {
        b.iter(|| black_box(detect(black_box(Some(&old)), black_box(&new))))
    });
    group.bench_function("unchanged item", |b| b.iter(|| black_box(detect(black_box(Some(&new)), black_box(&new)))));
    group.bench_function("new item", |b| b.iter(|| black_box(detect(None, black_box(&new)))));
    // A whole poll: every item of the new page against its snapshot.
    group.throughput(Throughput::Elements(after.len() as u64));
    group.bench_function(format!("page of {} items", after.len()), |b| {
        b.iter(|| after.iter().map(|n| detect(before.iter().find(|o| o.id == n.id), n).len()).sum::<usize>())
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = parsing, detection
}
criterion_main!(benches);
