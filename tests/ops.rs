//! Operating tminus from the outside, with the real binary against local
//! fakes: store ownership between two processes, `once` exit codes and
//! rate-limit waits for cron, health that explains itself, and log output
//! without colour codes when written to a file.

mod support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::fake_ll2::FakeLl2;

/// A config for `fake` with its store in `dir`, plus `extra` TOML.
fn write_config(dir: &Path, fake: &FakeLl2, extra: &str) -> PathBuf {
    let path = dir.join("config.toml");
    let body = format!(
        "[ll2]\nbase_url = \"{}\"\nrequests_per_hour = 1000\n\n[store]\npath = \"{}\"\n{extra}",
        fake.base_url(),
        dir.join("data").display()
    );
    std::fs::write(&path, body).unwrap();
    path
}

/// The binary with a clean tminus environment.
fn tminus(config: &Path, cmd: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tminus"));
    c.arg("--config").arg(config).arg(cmd).env("RUST_LOG", "info").env_remove("NO_COLOR");
    for var in ["TMINUS_LL2_API_KEY", "TMINUS_TELEGRAM_TOKEN", "TMINUS_DISCORD_TOKEN"] {
        c.env_remove(var);
    }
    c
}

async fn output(mut cmd: Command) -> std::process::Output {
    tokio::task::spawn_blocking(move || cmd.output().unwrap()).await.unwrap()
}

/// `tminus run` in the background, returned once it logged `ready_line`;
/// the rest of its log is collected by a thread.
async fn spawn_run(config: &Path, ready_line: &'static str) -> (Child, std::thread::JoinHandle<String>) {
    let mut child = tminus(config, "run").stderr(Stdio::piped()).stdout(Stdio::null()).spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let reader = std::thread::spawn(move || {
        let mut tx = Some(tx);
        let mut log = String::new();
        for line in BufReader::new(stderr).lines() {
            let line = line.unwrap();
            if line.contains(ready_line)
                && let Some(tx) = tx.take()
            {
                let _ = tx.send(());
            }
            log.push_str(&line);
            log.push('\n');
        }
        log
    });
    tokio::time::timeout(Duration::from_secs(20), rx).await.expect("tminus run got ready").unwrap();
    (child, reader)
}

fn stop(mut child: Child) {
    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    child.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_instance_on_the_same_store_names_the_first_and_exits_1() {
    let fake = FakeLl2::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &fake, "");
    let (first, log) = spawn_run(&config, "tminus running").await;
    let started = Instant::now();
    let second = output(tminus(&config, "once")).await;
    let waited = started.elapsed();
    let pid = first.id();
    stop(first);
    let _ = log.join();
    let err = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(1), "{err}");
    let store = dir.path().join("data").display().to_string();
    let expected = format!("the store at {store} is in use by another tminus (pid {pid})");
    assert!(err.contains(&expected), "expected {expected:?} in:\n{err}");
    assert!(!err.contains("WouldBlock"), "{err}");
    assert!(waited < Duration::from_secs(5), "exits at once, took {waited:?}");
    // Once the first is gone, the store is free again.
    let again = output(tminus(&config, "once")).await;
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
}
