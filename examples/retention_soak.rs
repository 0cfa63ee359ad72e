//! Retention soak (issue 15, item 7): simulated days of traffic through the
//! real store, with the retention pass (`Store::prune` in batches of 500,
//! then `release_freed_memory`, as the app's background task does) run
//! once per simulated day, to show
//! that store size on disk and RSS stop growing once the days outnumber
//! the retention. Run with `cargo run --release --example retention_soak`.
//!
//! Each simulated day: `--new` items enter the upcoming list two weeks
//! ahead (and leave it when their date passes; their snapshots stay until
//! retention removes them), `--alerts` alerts about upcoming items are
//! committed with one outbox entry for each of `--fanout` Telegram chats,
//! every entry is delivered (`complete`) except one in 50 that is
//! dead-lettered, and reminder marks (1 d, 1 h, 10 min) are written for the
//! items of the day. Then the day's retention pass runs and the store is
//! flushed and measured: size of the sled directory, records of the trees
//! retention owns, VmRSS and VmHWM of this process.
//!
//! With no arguments it runs two scenarios, each in its own child process
//! so VmHWM is clean: `--retention 7 --days 120` and `--retention 30
//! --days 150` (the default retention). Options: `--days N`, `--retention
//! DAYS`, `--alerts N`, `--fanout N`, `--new N`, `--every N` (print every N
//! days). The last line sums up the days after warm-up (twice the
//! retention): the range of disk size and VmRSS and their least-squares
//! trend per 30 days, which is ~0 when they are flat.
//!
//! The clock is simulated and starts at the real now; every record is
//! stamped with the simulated day it was written.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use tminus::detect::{Alert, AlertId, Change};
use tminus::item::Item;
use tminus::rules::SubId;
use tminus::store::{Batch, Delivered, OutboxEntry, Pruned, ReminderKey, ReminderSent, Store, release_freed_memory};
use tminus::types::{ChatId, Destination};

#[path = "../benches/common/mod.rs"]
mod common;

/// What one run simulates; see the module docs for the options.
#[derive(Debug, Clone, Copy)]
struct Soak {
    days: i64,
    retention: i64,
    alerts: usize,
    fanout: usize,
    new: usize,
    every: i64,
}

/// Items enter the upcoming list this many days before their date.
const LEAD_DAYS: i64 = 14;
/// The app's retention batch (`PRUNE_BATCH` in src/app.rs).
const PRUNE_BATCH: usize = 500;
const REMINDER_OFFSETS: [u64; 3] = [86_400, 3_600, 600];

fn parse_args(args: &[String]) -> Soak {
    let mut soak = Soak { days: 30, retention: 30, alerts: 40, fanout: 50, new: 5, every: 1 };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let value: i64 =
            it.next().and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("{flag} needs a whole number"));
        match flag.as_str() {
            "--days" => soak.days = value,
            "--retention" => soak.retention = value,
            "--alerts" => soak.alerts = value as usize,
            "--fanout" => soak.fanout = value as usize,
            "--new" => soak.new = value as usize,
            "--every" => soak.every = value.max(1),
            other => panic!("unknown option {other}"),
        }
    }
    soak
}

/// Sum of the sizes of the files under `dir`, in MiB.
fn disk_mib(dir: &Path) -> f64 {
    fn walk(dir: &Path) -> u64 {
        std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .flatten()
                    .map(|e| match e.metadata() {
                        Ok(m) if m.is_dir() => walk(&e.path()),
                        Ok(m) => m.len(),
                        Err(_) => 0,
                    })
                    .sum()
            })
            .unwrap_or(0)
    }
    walk(dir) as f64 / (1024.0 * 1024.0)
}

/// "min-max" of the values.
fn range(points: &[(f64, f64)]) -> String {
    let min = points.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
    let max = points.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
    format!("{min:.1}-{max:.1}")
}

/// Least-squares slope of y over x.
fn slope(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    let (mx, my) = (points.iter().map(|p| p.0).sum::<f64>() / n, points.iter().map(|p| p.1).sum::<f64>() / n);
    let cov: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let var: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    if var == 0.0 { 0.0 } else { cov / var }
}

/// The items of simulated day `day`: copies of the real fixture items with
/// their own ids, dated `LEAD_DAYS` later.
fn new_items(templates: &[Item], soak: &Soak, day: i64, start: DateTime<Utc>) -> Vec<Item> {
    (0..soak.new)
        .map(|k| {
            let mut item = templates[(day as usize * soak.new + k) % templates.len()].clone();
            item.id.id = format!("soak-{day}-{k}");
            item.when = Some(start + Duration::days(day + LEAD_DAYS) + Duration::hours(k as i64 * 4));
            item
        })
        .collect()
}

/// One day's commits: the new items, `alerts` alerts spread over the
/// upcoming items with their outbox entries, the day's reminder marks.
fn commit_day(store: &Store, upcoming: &[Item], fresh: Vec<Item>, soak: &Soak, now: DateTime<Utc>) {
    let mut batch = Batch { items: fresh, ..Batch::default() };
    for n in 0..soak.alerts {
        let item = upcoming[n % upcoming.len()].clone();
        let id = AlertId(store.next_id().expect("id"));
        batch.deliveries.extend((0..soak.fanout).map(|chat| OutboxEntry {
            alert: id,
            sub: SubId(chat as u64 + 1),
            destination: Destination::Telegram(ChatId(chat as i64 + 1)),
            enqueued_at: now,
            attempts: 0,
            not_before: None,
        }));
        batch.alerts.push(Alert::new(id, item, vec![Change::New], now));
    }
    let today = now..now + Duration::days(1);
    for item in upcoming.iter().filter(|i| i.when.is_some_and(|w| today.contains(&w))) {
        for offset_secs in REMINDER_OFFSETS {
            let key = ReminderKey { item: item.id.clone(), offset_secs };
            batch.reminders_sent.push((key, ReminderSent { when: item.when.expect("dated"), sent_at: now }));
        }
    }
    store.apply(&batch).expect("day committed");
}

/// Delivers the whole outbox: one entry in 50 dead-letters.
fn deliver_all(store: &Store, now: DateTime<Utc>) -> usize {
    let pending = store.pending(usize::MAX).expect("pending");
    for (key, entry) in &pending {
        if key.0 % 50 == 0 {
            store.dead_letter(*key, entry, "chat not found", now).expect("dead letter");
        } else {
            let record = Delivered {
                alert: entry.alert,
                sub: entry.sub,
                destination: entry.destination.clone(),
                message_id: Some(format!("{}", key.0)),
                at: now,
            };
            store.complete(*key, &record).expect("complete");
        }
    }
    pending.len()
}

/// The retention pass as the app runs it: batch after batch until nothing
/// is old enough.
fn prune_all(store: &Store, cutoff: DateTime<Utc>) -> Pruned {
    let mut total = Pruned::default();
    loop {
        let p = store.prune(cutoff, PRUNE_BATCH).expect("prune");
        if p.total() == 0 {
            return total;
        }
        total.delivered += p.delivered;
        total.dead_letters += p.dead_letters;
        total.reminders += p.reminders;
        total.alerts += p.alerts;
        total.items += p.items;
        total.sequences += p.sequences;
    }
}

/// Record counts of every tree of the sled database at `path` (the store
/// must be closed).
fn tree_counts(path: &Path) -> Vec<(String, usize)> {
    let db = sled::open(path).expect("sled opens");
    let mut counts: Vec<(String, usize)> = db
        .tree_names()
        .into_iter()
        .map(|name| {
            let tree = db.open_tree(&name).expect("tree");
            (String::from_utf8_lossy(&name).into_owned(), tree.len())
        })
        .filter(|(_, n)| *n > 0)
        .collect();
    counts.sort();
    counts
}

fn run(soak: Soak) {
    let templates = common::fixture_items();
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("db");
    let store = Store::open(&path).expect("store opens");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let start = Utc::now();
    let retention = Duration::days(soak.retention);
    println!(
        "retention soak: {} days, retention {} d; per day {} new items, {} alerts × {} chats, 1 in 50 dead-lettered",
        soak.days, soak.retention, soak.new, soak.alerts, soak.fanout
    );
    println!(
        "{:>4} {:>9} {:>9} {:>6} {:>6} {:>7} {:>8} {:>9} {:>9}",
        "day", "disk MiB", "delivered", "dead", "items", "pruned", "ms/day", "VmRSS MiB", "VmHWM MiB"
    );
    // Items dated before day 0 so the upcoming list is full from the start.
    let mut items: Vec<Item> = (-LEAD_DAYS..0).flat_map(|d| new_items(&templates, &soak, d, start)).collect();
    store.apply(&Batch { items: items.clone(), ..Batch::default() }).expect("first sync");
    let t0 = Instant::now();
    // (day, disk MiB, VmRSS MiB) after warm-up, for the summary.
    let mut settled: Vec<(f64, f64, f64)> = Vec::new();
    for day in 0..soak.days {
        let t = Instant::now();
        let now = start + Duration::days(day);
        let fresh = new_items(&templates, &soak, day, start);
        items.extend(fresh.iter().cloned());
        // Items whose date passed have left LL2's upcoming list.
        items.retain(|i| i.when.is_some_and(|w| w >= now));
        commit_day(&store, &items, fresh, &soak, now);
        deliver_all(&store, now);
        let pruned = prune_all(&store, now - retention);
        if pruned.total() > 0 {
            release_freed_memory();
        }
        rt.block_on(store.flush()).expect("flush");
        let (vm_rss, vm_hwm) = common::rss();
        let disk = disk_mib(&path);
        if day + 1 > 2 * soak.retention {
            settled.push(((day + 1) as f64, disk, vm_rss));
        }
        if (day + 1) % soak.every == 0 || day + 1 == soak.days {
            println!(
                "{:>4} {:>9.2} {:>9} {:>6} {:>6} {:>7} {:>8.0} {:>9.1} {:>9.1}",
                day + 1,
                disk,
                store.delivered().expect("delivered").len(),
                store.dead_letter_count(),
                store.item_count(),
                pruned.total(),
                t.elapsed().as_secs_f64() * 1000.0,
                vm_rss,
                vm_hwm
            );
        }
    }
    println!("{} simulated days in {:.1} s", soak.days, t0.elapsed().as_secs_f64());
    if settled.len() >= 2 {
        let (first, last) = (settled[0].0, settled[settled.len() - 1].0);
        let disk: Vec<(f64, f64)> = settled.iter().map(|&(d, m, _)| (d, m)).collect();
        let rss: Vec<(f64, f64)> = settled.iter().map(|&(d, _, r)| (d, r)).collect();
        println!(
            "after warm-up (days {first}-{last}): disk {} MiB, trend {:+.2} MiB/30 d; VmRSS {} MiB, trend {:+.2} MiB/30 d",
            range(&disk),
            30.0 * slope(&disk),
            range(&rss),
            30.0 * slope(&rss)
        );
    }
    drop(store);
    let counts: Vec<String> = tree_counts(&path).into_iter().map(|(t, n)| format!("{t} {n}")).collect();
    println!("records per tree at the end: {}", counts.join(", "));
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if !args.is_empty() {
        return run(parse_args(&args));
    }
    let exe = std::env::current_exe().expect("own path");
    for scenario in [["--retention", "7", "--days", "120"], ["--retention", "30", "--days", "150"]] {
        let status = Command::new(&exe).args(scenario).status().expect("child process");
        assert!(status.success(), "{scenario:?} failed");
        println!();
    }
}
