//! Memory of the routing index for a million subscriptions (issue 3: under
//! 300 MB RSS). Run with `cargo run --release --example route_rss`.
//!
//! Two scenarios, each in its own child process so peak RSS (VmHWM) is
//! clean:
//! - `stream`: subscriptions are generated one at a time and inserted; only
//!   the `Index` stays in memory (the bot's steady state: the
//!   `Subscription`s live in sled).
//! - `load`: like `Subscriptions::load`: the whole `Vec<Subscription>` is
//!   built first, indexed, then dropped. Shows the vector kept and dropped,
//!   and what glibc gives back with `malloc_trim`.
//!
//! `TMINUS_BENCH_SUBS` changes the population (default 1,000,000).

use std::hint::black_box;
use std::process::Command;
use std::time::Instant;

use tminus::rules::{Index, Subscription};
use tminus::types::AlertKind;

#[path = "../benches/common/mod.rs"]
mod common;

use common::Mix;

fn report(step: &str, base: f64) {
    let (now, peak) = common::rss();
    println!("  {step:<44} VmRSS {now:>7.1} MiB (+{:>6.1})   VmHWM {peak:>7.1} MiB", now - base);
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn trim() -> bool {
    unsafe extern "C" {
        fn malloc_trim(pad: usize) -> i32;
    }
    // SAFETY: glibc's malloc_trim only releases free heap memory.
    unsafe { malloc_trim(0) != 0 }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim() -> bool {
    false
}

/// Routes every fixture item once, so the index is shown to work and the
/// routing scratch memory is in the peak.
fn route_all(index: &Index) -> usize {
    common::fixture_items().iter().map(|item| black_box(index.route(item, AlertKind::Status)).len()).sum()
}

fn stream(n: usize) {
    // Parse the fixtures before the baseline so their memory is not counted.
    let items = common::fixture_items().len();
    let (base, _) = common::rss();
    println!("stream: {n} subscriptions inserted one by one, only the Index kept");
    println!("  {:<44} VmRSS {base:>7.1} MiB", "baseline");
    let t = Instant::now();
    let mut index = Index::new();
    for sub in common::subscriptions(Mix::Mixed, n) {
        index.insert(&sub);
    }
    let built = t.elapsed();
    report(&format!("Index of {} built ({:.2} s incl. generation)", index.len(), built.as_secs_f64()), base);
    let routed = route_all(&index);
    report(&format!("after routing {items} items ({routed} matches)"), base);
    drop(index);
    report("Index dropped", base);
}

fn load(n: usize) {
    let items = common::fixture_items().len();
    let (base, _) = common::rss();
    println!("load: Vec<Subscription> of {n} first, then the Index (Subscriptions::load)");
    println!("  {:<44} VmRSS {base:>7.1} MiB", "baseline");
    let subs: Vec<Subscription> = common::subscriptions(Mix::Mixed, n).collect();
    report("Vec<Subscription> built", base);
    let (with_vec, _) = common::rss();
    let t = Instant::now();
    let index = Index::from_subscriptions(&subs);
    let built = t.elapsed();
    report(&format!("Index built, vector kept ({:.2} s)", built.as_secs_f64()), base);
    let (both, _) = common::rss();
    println!("  {:<44} {:>7.1} MiB", "= Index alone (difference)", both - with_vec);
    drop(subs);
    report("vector dropped", base);
    if trim() {
        report("vector dropped + malloc_trim(0)", base);
    }
    let routed = route_all(&index);
    report(&format!("after routing {items} items ({routed} matches)"), base);
}

fn main() {
    let n = common::population(common::MILLION);
    match std::env::args().nth(1).as_deref() {
        Some("stream") => stream(n),
        Some("load") => load(n),
        _ => {
            let exe = std::env::current_exe().expect("own path");
            for mode in ["stream", "load"] {
                let status = Command::new(&exe).arg(mode).status().expect("child process");
                assert!(status.success(), "{mode} failed");
                println!();
            }
        }
    }
}
