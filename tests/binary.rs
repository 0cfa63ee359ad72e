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

/// The binary with the fake Telegram's token, its log in `log`.
fn tminus_with_telegram(config: &Path, cmd: &str, log: &Path) -> Command {
    let mut c = tminus(config, cmd);
    c.env("TMINUS_TELEGRAM_TOKEN", support::fake_telegram::FakeTelegram::TOKEN);
    c.stdout(Stdio::null()).stderr(std::fs::File::create(log).unwrap());
    c
}

/// Issue 20's done-when row: a daily digest due shortly after the start
/// sends exactly one message, listing both launches of the next 24 hours,
/// and a restart right after it does not send it again. The binary has no
/// clock control, so the digest is set to the next minute (Berlin time)
/// and the test waits for it (at most ~70 s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daily_digest_due_after_the_start_is_sent_once_and_not_again_after_a_restart() {
    use chrono::{DurationRound, SecondsFormat, Utc};
    let fake = FakeLl2::start().await;
    let tg = support::fake_telegram::FakeTelegram::start().await;
    let now = Utc::now();
    for (id, hours) in [(MMX, 5), ("521f3a1c-f977-4306-9b7f-495858719adf", 3)] {
        let net = json!((now + chrono::Duration::hours(hours)).to_rfc3339_opts(SecondsFormat::Secs, true));
        fake.update(Feed::Launches, id, |item| {
            item["net"] = net.clone();
            item["window_start"] = net.clone();
            item["window_end"] = net;
        });
    }
    // The next minute, unless it is too close for the first sync to finish.
    let mut due = now.duration_trunc(chrono::Duration::minutes(1)).unwrap() + chrono::Duration::minutes(1);
    if due - now < chrono::Duration::seconds(8) {
        due += chrono::Duration::minutes(1);
    }
    let local = due.with_timezone(&chrono_tz::Europe::Berlin).format("%H:%M");
    let dir = tempfile::tempdir().unwrap();
    let extra = format!(
        "[telegram]\napi_url = \"{}\"\n\n[[watch]]\nname = \"calm\"\nto = [\"telegram:100\"]\ntimezone = \"Europe/Berlin\"\n\
         alerts = [\"reminder\"]\nreminders = \"off\"\ndigest = \"daily {local}\"\n",
        tg.api_url()
    );
    let config = write_config(dir.path(), &fake, &extra);
    let log = |n: usize| dir.path().join(format!("run-{n}.log"));
    let mut sync = tminus_with_telegram(&config, "once", &log(0));
    assert!(tokio::task::spawn_blocking(move || sync.status().unwrap()).await.unwrap().success(), "first sync");
    assert!(tg.sent().is_empty(), "first sync is silent and the digest is not due yet");

    let mut child = tminus_with_telegram(&config, "run", &log(1)).spawn().unwrap();
    let wait = (due - Utc::now()).to_std().unwrap_or_default() + Duration::from_secs(10);
    let arrived = tg.wait_until(wait, |calls| calls.iter().any(|c| c.is_delivery() && c.ok())).await;
    let text = |n: usize| std::fs::read_to_string(log(n)).unwrap_or_default();
    assert!(arrived, "no digest by {due}; log:\n{}", text(1));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop(&mut child).await;

    // A restart right after: the digest is within its grace but marked sent.
    let mut again = tminus_with_telegram(&config, "run", &log(2)).spawn().unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop(&mut again).await;
    let sent: Vec<String> = tg.sent_to(100).into_iter().filter_map(|c| c.text).collect();
    assert_eq!(sent.len(), 1, "exactly one message: {sent:?}\nlogs:\n{}\n{}", text(1), text(2));
    let (roman, mmx) = (sent[0].find("Nancy Grace Roman"), sent[0].find("Martian Moon eXplorer"));
    assert!(sent[0].contains("Daily digest") && roman.is_some() && roman < mmx, "both, in date order: {}", sent[0]);
}

/// SIGTERM, then the exit.
async fn stop(child: &mut std::process::Child) {
    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    let pid = child.id();
    let waited = tokio::time::timeout(Duration::from_secs(10), async {
        while child.try_wait().unwrap().is_none() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(waited.is_ok(), "pid {pid} did not stop on SIGTERM");
}

/// Issue 21's acceptance: a SpaceX watch sends to `webhook:`, `ntfy:` and
/// `slack:` receivers. The webhook gets one signed, versioned JSON naming
/// the launch id after one retry (its first answer is a 500); ntfy's Title
/// names the launch and its Click is a page for people; Slack's JSON names
/// the launch and carries blocks. The status page and metrics count them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spacex_watch_reaches_webhook_ntfy_and_slack_receivers() {
    use support::fake_hook::{Answer, FakeHook};
    const ROMAN: &str = "521f3a1c-f977-4306-9b7f-495858719adf";
    const SECRET: &str = "binary-test-SECRET";
    let fake = FakeLl2::start().await;
    let (webhook, ntfy, slack) = (FakeHook::start().await, FakeHook::start().await, FakeHook::start().await);
    webhook.answer_next(Answer::Status(500));
    let port = support::binary::free_port();
    let dir = tempfile::tempdir().unwrap();
    let watch = format!(
        "{}\n[[watch]]\nname = \"spacex\"\nagencies = [\"SpaceX\"]\nalerts = [\"status\"]\nreminders = \"off\"\nto = [\"webhook:{}\", \"ntfy:{}\", \"slack:{}\"]\n",
        support::binary::listen_on(port),
        webhook.url("/api/webhook/tminus"),
        ntfy.url("/launches"),
        slack.url("/services/T0/B0/x"),
    );
    let config = write_config(dir.path(), &fake, &watch);
    let first = once(&config).await;
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    assert!(webhook.requests().is_empty(), "the first sync is silent");

    fake.set_field(Feed::Launches, ROMAN, "/status", json!({"id": 5, "name": "On Hold", "abbrev": "Hold"}));
    let mut child = tminus(&config, "run")
        .env("TMINUS_WEBHOOK_SECRET", SECRET)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while webhook.requests().len() < 2 || ntfy.requests().is_empty() || slack.requests().is_empty() {
        assert!(start.elapsed() < Duration::from_secs(20), "not delivered in time");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let page = reqwest::get(format!("http://127.0.0.1:{port}/")).await.unwrap().text().await.unwrap();
    let metrics = reqwest::get(format!("http://127.0.0.1:{port}/metrics")).await.unwrap().text().await.unwrap();
    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    tokio::task::spawn_blocking(move || child.wait().unwrap()).await.unwrap();

    let hooks = webhook.requests();
    assert_eq!(hooks.len(), 2, "one retry after the 500, then delivered once");
    let body = hooks[1].json();
    assert_eq!((body["version"].as_u64(), body["item"]["id"].as_str()), (Some(1), Some(ROMAN)));
    let signature = tminus::hooks::webhook::signature(SECRET.as_bytes(), &hooks[1].body);
    assert_eq!(hooks[1].header("x-tminus-signature-256"), Some(signature.as_str()));
    assert_eq!(hooks[0].header("x-tminus-delivery"), hooks[1].header("x-tminus-delivery"));

    let push = &ntfy.requests()[0];
    assert!(push.header("title").unwrap().contains("Nancy Grace Roman"), "{:?}", push.header("title"));
    let click = push.header("click").unwrap();
    assert!(click.starts_with("https://") && !tminus::links::is_ll2_api(click), "{click}");

    let posted = slack.requests()[0].json();
    assert!(posted["text"].as_str().unwrap().contains("Nancy Grace Roman"), "{posted}");
    assert!(posted["blocks"].as_array().is_some_and(|b| !b.is_empty()), "{posted}");

    for platform in ["webhook", "ntfy", "slack"] {
        assert!(page.contains(platform), "status page counts {platform}:\n{page}");
        let delivered = format!("tminus_deliveries_total{{platform=\"{platform}\",outcome=\"delivered\"}} 1");
        assert!(metrics.contains(&delivered), "{delivered} in:\n{metrics}");
    }
    assert!(metrics.contains("tminus_deliveries_total{platform=\"webhook\",outcome=\"retried\"} 1"), "{metrics}");
}
