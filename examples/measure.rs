//! Scenario measurements for the core pipeline, reported in the closing
//! notes: time of a first sync, requests and bytes per idle cycle, and the
//! peak RSS of `tminus run` while idle. It runs the real release binary
//! against the in-process fake LL2 of the test suite, with a realistic
//! upcoming list (≈330 launches, ≈30 events, as LL2 lists them).
//!
//! ```sh
//! cargo build --release && cargo run --release --example measure [IDLE_SECS]
//! ```

#[allow(unreachable_pub, missing_docs)]
#[path = "../tests/support/fake_ll2.rs"]
#[allow(dead_code)]
mod fake_ll2;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fake_ll2::FakeLl2;
use tminus::types::Feed;

fn binary() -> PathBuf {
    let exe = std::env::current_exe().expect("own path");
    // target/release/examples/measure → target/release/tminus
    let bin = exe.parent().and_then(|p| p.parent()).expect("target dir").join("tminus");
    assert!(bin.exists(), "build the binary first: cargo build --release");
    bin
}

fn status_kb(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[tokio::main]
async fn main() {
    let idle_secs: u64 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(75);
    let fake = FakeLl2::start().await;
    fake.add_many(Feed::Launches, 325);
    fake.add_many(Feed::Events, 25);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    // A budget that allows a 30 s cycle, so an idle run sees a few cycles.
    std::fs::write(
        &config,
        format!(
            "[ll2]\nbase_url = \"{}\"\nrequests_per_hour = 240\n[store]\npath = \"{}\"\n",
            fake.base_url(),
            dir.path().join("data").display()
        ),
    )
    .unwrap();
    let bin = binary();

    let start = Instant::now();
    let out = Command::new(&bin).arg("--config").arg(&config).arg("once").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let first_sync = start.elapsed();
    let sync_requests = fake.counted_requests();
    let sync_bytes = fake.bytes_served();
    println!(
        "first sync: {:.2} s, {} requests, {:.1} MB, {} items",
        first_sync.as_secs_f64(),
        sync_requests,
        sync_bytes as f64 / 1e6,
        fake.ids(Feed::Launches).len() + fake.ids(Feed::Events).len()
    );

    fake.clear_requests();
    let bytes_before = fake.bytes_served();
    let mut child = Command::new(&bin)
        .arg("--config")
        .arg(&config)
        .arg("run")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut samples = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(idle_secs);
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_secs(1)).await;
        samples.push(status_kb(pid, "VmRSS:"));
    }
    let hwm = status_kb(pid, "VmHWM:");
    Command::new("kill").args(["-TERM", &pid.to_string()]).status().unwrap();
    child.wait().unwrap();
    let counted: Vec<_> = fake.requests().into_iter().filter(|r| r.counted).collect();
    // One cycle = one poll of each of the two feeds.
    let cycles = (counted.iter().filter(|r| r.path.contains("/launches/")).count()).max(1);
    println!(
        "idle run of {idle_secs} s: {cycles} cycles, {:.1} requests per idle cycle, {:.1} KB per idle cycle",
        counted.len() as f64 / cycles as f64,
        (fake.bytes_served() - bytes_before) as f64 / 1e3 / cycles as f64
    );
    println!(
        "RSS while idle: peak (VmHWM) {:.1} MB, last {:.1} MB, min {:.1} MB",
        hwm as f64 / 1024.0,
        *samples.last().unwrap_or(&0) as f64 / 1024.0,
        *samples.iter().min().unwrap_or(&0) as f64 / 1024.0
    );
}
