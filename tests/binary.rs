//! The real `tminus` binary against the fake LL2: `once` prints console
//! alerts, `run` stops cleanly on SIGTERM, and SIGKILL at random moments
//! neither loses an alert nor creates one twice.

mod support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use support::binary::{tminus, write_config};
use support::fake_ll2::FakeLl2;
use tminus::types::Feed;

const MMX: &str = "69ebbcd2-b257-4070-9ef9-21e7d1f8a883";

async fn once(config: &Path) -> std::process::Output {
    let mut cmd = tminus(config, "once");
    tokio::task::spawn_blocking(move || cmd.output().unwrap()).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_syncs_silently_then_prints_changes_to_the_console() {
    let fake = FakeLl2::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &fake, "");

    let first = once(&config).await;
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    assert!(first.stdout.is_empty(), "first sync is silent: {}", String::from_utf8_lossy(&first.stdout));

    fake.set_field(Feed::Launches, MMX, "/status", json!({"id": 5, "name": "On Hold", "abbrev": "Hold"}));
    let second = once(&config).await;
    assert!(second.status.success());
    let out = String::from_utf8_lossy(&second.stdout);
    assert!(out.contains("[status]") && out.contains("Martian Moon eXplorer"), "{out}");
    assert!(out.contains("Go for Launch → On Hold"), "{out}");
    assert!(out.contains("Link:"), "{out}");
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(err.contains("poll done"), "logs go to stderr: {err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_stops_cleanly_on_sigterm() {
    let fake = FakeLl2::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &fake, "");
    let mut child = tminus(&config, "run").stderr(Stdio::piped()).stdout(Stdio::null()).spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let reader = std::thread::spawn(move || {
        let mut ready = Some(ready_tx);
        let mut cycles = 0;
        let mut log = String::new();
        for line in BufReader::new(stderr).lines() {
            let line = line.unwrap();
            if line.contains("poll cycle done") {
                cycles += 1;
                if cycles == 2
                    && let Some(tx) = ready.take()
                {
                    let _ = tx.send(());
                }
            }
            log.push_str(&line);
            log.push('\n');
        }
        log
    });
    tokio::time::timeout(Duration::from_secs(20), ready_rx).await.expect("both feeds synced").unwrap();
    let pid = child.id().to_string();
    let stopped = Instant::now();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap()).await.unwrap();
    let log = reader.join().unwrap();
    assert!(status.success(), "exit 0 on SIGTERM, got {status}; log:\n{log}");
    assert!(log.contains("shutting down") && log.contains("stopped"), "{log}");
    assert!(stopped.elapsed() < Duration::from_secs(5), "stopped in {:?}", stopped.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_any_moment_neither_loses_nor_duplicates_alerts() {
    let fake = FakeLl2::start().await;
    fake.add_many(Feed::Launches, 150);
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &fake, "");
    assert!(once(&config).await.status.success());

    // Statuses no fixture item has, so every change is a real transition.
    let ids = fake.ids(Feed::Launches);
    let mut expected = 0;
    let mut last: std::collections::HashMap<String, String> = Default::default();
    for round in 0..4u64 {
        // Many items change at once, so a kill lands mid-page often.
        let name = format!("Test status {round}");
        for item in ids.iter().skip(round as usize * 20).take(40) {
            fake.set_field(Feed::Launches, item, "/status", json!({"id": 100 + round, "name": name}));
            last.insert(item.clone(), name.clone());
            expected += 1;
        }
        let mut child = tminus(&config, "run").stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        tokio::time::sleep(Duration::from_millis(150 + 130 * round)).await;
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
    }
    assert!(once(&config).await.status.success(), "clean run after the kills");

    let store = tminus::store::Store::open(&dir.path().join("data")).unwrap();
    let mut changes: Vec<(String, String)> = Vec::new();
    for d in store.delivered().unwrap() {
        let alert = store.alert(d.alert).unwrap().unwrap();
        if let Some(tminus::detect::Change::Status { new, .. }) = alert.changes.into_iter().next() {
            changes.push((alert.item.id.id, new.map(|n| n.name).unwrap_or_default()));
        }
    }
    assert_eq!(store.outbox_len(), 0, "everything delivered in the end");
    let total = changes.len();
    changes.sort();
    changes.dedup();
    assert_eq!(changes.len(), total, "no alert created twice");
    // A change overtaken by the next one before a run saw it alerts only
    // for the newer state; every item's final state must have alerted.
    assert!(total <= expected, "got {total} status alerts for {expected} changes");
    for (item, status) in &last {
        assert!(changes.contains(&(item.clone(), status.clone())), "lost the alert for {item} → {status}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_config_lists_filter_names_that_match_nothing() {
    let fake = FakeLl2::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &fake, "");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(
        "\n[[watch]]\nname = \"japan\"\nto = [\"console\"]\nagencies = [\"MHI\", \"Mitsubishi Heavy Industrie\"]\n",
    );
    std::fs::write(&config, text).unwrap();

    let before = tminus(&config, "check-config").output().unwrap();
    assert!(String::from_utf8_lossy(&before.stderr).contains("once the bot has synced"));
    assert!(once(&config).await.status.success());
    let after = tminus(&config, "check-config").output().unwrap();
    assert!(after.status.success());
    // Warnings go to stderr; stdout stays the effective config alone.
    let stdout = String::from_utf8_lossy(&after.stdout);
    assert!(!stdout.contains("matches nothing") && stdout.contains("[[watch]]"), "{stdout}");
    let out = String::from_utf8_lossy(&after.stderr);
    assert!(out.contains("warning: watch[0] (japan): agency \"Mitsubishi Heavy Industrie\" matches nothing"), "{out}");
    assert!(out.contains("did you mean Mitsubishi Heavy Industries"), "{out}");
    assert!(!out.contains("\"MHI\" matches nothing"), "{out}");
}
