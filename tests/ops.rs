//! Operating tminus from the outside, with the real binary against local
//! fakes: store ownership between two processes, `once` exit codes and
//! rate-limit waits for cron, health that explains itself, and log output
//! without colour codes when written to a file.

mod support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use support::binary::{free_port, listen_on, tminus, write_config};
use support::fake_discord::{FakeDiscord, Fault as DiscordFault, Target};
use support::fake_ll2::{FakeLl2, Fault};
use tminus::types::Feed;

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_exits_3_naming_ll2_and_the_error_when_no_feed_could_be_polled() {
    let fake = FakeLl2::start().await;
    fake.push_faults(std::iter::repeat_n(Fault::Status(503), 200));
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &fake, "");
    let out = output(tminus(&config, "once")).await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    let last = err.lines().last().unwrap_or_default();
    assert!(last.starts_with("tminus: no feed could be polled from LL2"), "{last}");
    assert!(last.contains("HTTP 503"), "{last}");
    // Once LL2 answers again, the same cron line succeeds.
    fake.clear_faults();
    let out = output(tminus(&config, "once")).await;
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_waits_out_a_short_discord_429_before_exiting() {
    const MMX: &str = "69ebbcd2-b257-4070-9ef9-21e7d1f8a883";
    const HOOK: u64 = 4242;
    let fake = FakeLl2::start().await;
    let discord = FakeDiscord::start().await;
    let dir = tempfile::tempdir().unwrap();
    let watch = format!(
        "\n[alerts]\nreminders = \"off\"\n\n[[watch]]\nname = \"hook\"\nto = [\"discord-webhook:{}\"]\nalerts = [\"status\"]\n",
        discord.webhook_url(HOOK, "hooktoken")
    );
    let config = write_config(dir.path(), &fake, &watch);
    let first = output(tminus(&config, "once")).await;
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));

    fake.set_field(Feed::Launches, MMX, "/status", json!({"id": 5, "name": "On Hold", "abbrev": "Hold"}));
    discord.fail_once(Target::Webhook(HOOK), DiscordFault::RateLimited { retry_after: 1.5, global: false });
    let started = Instant::now();
    let second = output(tminus(&config, "once")).await;
    let took = started.elapsed();
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(second.status.success(), "{err}");
    assert_eq!(discord.rate_limited(), 1, "the first attempt was throttled");
    let sent = discord.messages(Target::Webhook(HOOK));
    assert_eq!(sent.len(), 1, "delivered after the pause, before exiting: {err}");
    assert!(sent[0].to_string().contains("On Hold"), "{}", sent[0]);
    assert!(took >= Duration::from_millis(1500), "waited for the pause ({took:?})");
    assert!(took < Duration::from_secs(15), "{took:?}");
}

/// `GET path` on the running binary, retried until it answers and
/// `done(status, body)` holds (15 s at most: the status page is a snapshot
/// renewed every 10 s, `server::PAGE_TTL`).
async fn get_until(url: &str, done: impl Fn(u16, &str) -> bool) -> (u16, String) {
    let deadline = Instant::now() + tminus::server::PAGE_TTL + Duration::from_secs(5);
    let mut last = (0, String::new());
    while Instant::now() < deadline {
        if let Ok(r) = reqwest::get(url).await {
            last = (r.status().as_u16(), r.text().await.unwrap_or_default());
            if done(last.0, &last.1) {
                return last;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{url} never got there; last answer {} {}", last.0, last.1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_is_503_with_the_error_while_ll2_fails_and_200_once_it_answers() {
    let fake = FakeLl2::start().await;
    fake.push_faults(std::iter::repeat_n(Fault::Status(502), 50));
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = write_config(dir.path(), &fake, &listen_on(port));
    let url = format!("http://127.0.0.1:{port}/healthz");

    let (child, log) = spawn_run(&config, "poll failed; will retry").await;
    let (code, body) = get_until(&url, |_, b| b.matches("last_error\":{").count() == 2).await;
    let health: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(code, 503, "{health}");
    assert_eq!(health["status"], "failing", "{health}");
    let error = health["feeds"]["launches"]["last_error"].clone();
    assert!(error["message"].as_str().unwrap().contains("HTTP 502"), "{health}");
    assert!(error["at"].as_str().unwrap().ends_with('Z'), "{health}");
    assert!(health["requests_left"].as_u64().is_some(), "{health}");
    stop(child);
    let _ = log.join();

    // LL2 answers again: the next start polls successfully and is healthy.
    fake.clear_faults();
    let (child, log) = spawn_run(&config, "tminus running").await;
    let (_, body) = get_until(&url, |code, _| code == 200).await;
    let health: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(health["status"], "ok", "{health}");
    assert!(health["feeds"]["launches"]["last_success"].as_str().is_some(), "{health}");
    stop(child);
    let _ = log.join();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_written_to_a_file_carry_no_colour_codes() {
    let fake = FakeLl2::start().await;
    let dir = tempfile::tempdir().unwrap();
    for format in ["text", "json"] {
        let config = write_config(dir.path(), &fake, &format!("\n[log]\nformat = \"{format}\"\n"));
        let log_path = dir.path().join(format!("{format}.log"));
        let mut cmd = tminus(&config, "once");
        cmd.env("RUST_LOG", "debug").stdout(Stdio::null()).stderr(std::fs::File::create(&log_path).unwrap());
        let status = tokio::task::spawn_blocking(move || cmd.status().unwrap()).await.unwrap();
        let log = std::fs::read_to_string(&log_path).unwrap();
        assert!(status.success(), "{log}");
        assert!(log.contains("poll done"), "{log}");
        assert!(!log.contains("\x1b["), "{format} log has ANSI codes:\n{log}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_page_lists_upcoming_items_escaped_without_secrets() {
    const MMX: &str = "69ebbcd2-b257-4070-9ef9-21e7d1f8a883";
    let fake = FakeLl2::start().await;
    fake.set_field(Feed::Launches, MMX, "/name", json!("<b>Bold</b> MMX & co"));
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let hook = "http://127.0.0.1:9/api/webhooks/77/HOOKSECRET";
    let extra = format!(
        "\n[server]\nlisten = \"127.0.0.1:{port}\"\n\n[[watch]]\nname = \"w\"\nto = [\"console\", \"discord-webhook:{hook}\"]\n"
    );
    let config = write_config(dir.path(), &fake, &extra);
    let (child, log) = spawn_run(&config, "poll cycle done").await;
    let (code, page) = get_until(&format!("http://127.0.0.1:{port}/"), |_, b| b.contains("Bold")).await;
    stop(child);
    let _ = log.join();
    assert_eq!(code, 200);
    assert!(page.contains("&lt;b&gt;Bold&lt;/b&gt; MMX &amp; co"), "{page}");
    assert!(!page.contains("<b>Bold"), "LL2 text must be escaped:\n{page}");
    assert!(page.contains(env!("CARGO_PKG_VERSION")) && page.contains("Requests left this hour"), "{page}");
    assert!(page.contains("discord-webhook") && page.contains("console"), "subscriptions per platform: {page}");
    assert!(page.matches("<tr>").count() >= 5, "upcoming rows: {page}");
    assert!(page.contains("in "), "countdowns: {page}");
    assert!(!page.contains("HOOKSECRET") && !page.contains("/api/webhooks"), "{page}");
    assert!(!page.contains("<script"), "{page}");
}

/// A store with chat-made subscriptions and settings, and one config watch
/// (which the export must leave out).
async fn chat_state(path: &Path) {
    use tminus::rules::{Filter, Origin, SubId, Subscription};
    use tminus::store::{ChatSettings, Store};
    use tminus::types::{ChannelId, ChatId, Destination};
    let store = Store::open(path).unwrap();
    let subs = tminus::subscriptions::Subscriptions::load(store.clone()).unwrap();
    let tg = Destination::Telegram(ChatId(-1001234567890));
    let spacex =
        Filter { agencies: vec!["SpaceX".into()], exclude_programs: vec!["Starlink".into()], ..Default::default() };
    let chat = [
        Subscription::new(SubId(store.next_id().unwrap()), tg.clone(), spacex, Origin::Chat)
            .with_reminders(vec![Duration::from_secs(3600)])
            .with_loudness(Some("22:30-06:45".parse().unwrap()), vec![tminus::types::AlertKind::Schedule])
            .with_digest(Some("weekly mon 08:00".parse().unwrap())),
        Subscription::new(
            SubId(store.next_id().unwrap()),
            Destination::Discord(ChannelId(42)),
            Filter::default(),
            Origin::Chat,
        ),
    ];
    for s in &chat {
        subs.put(s).unwrap();
    }
    let watch = Origin::Config { watch: "console-all".into() };
    subs.put(&Subscription::new(SubId(store.next_id().unwrap()), Destination::Console, Filter::default(), watch))
        .unwrap();
    let settings = ChatSettings {
        timezone: chrono_tz::Europe::Berlin,
        reminders: vec![Duration::from_secs(600)],
        alerts: vec![tminus::types::AlertKind::Status],
        schedule_horizon: Some(Duration::from_secs(5 * 86_400)),
        quiet_hours: Some("23:00-07:00".parse().unwrap()),
        silent: vec![tminus::types::AlertKind::New],
        style: tminus::types::Style::Card,
        digest: Some("daily 07:30".parse().unwrap()),
    };
    store.put_chat_settings(&tg, &settings).unwrap();
    let item = tminus::types::ItemId::new(tminus::types::ItemKind::Launch, "f059c8f4-1bd8-4c63-a1c6-4a0dbbd5ef2e");
    let at = chrono::DateTime::parse_from_rfc3339("2026-11-30T12:00:00Z").unwrap().to_utc();
    subs.restore_mute(&tminus::store::Mute { destination: tg.clone(), item, name: "Starlink Group 10-1".into(), at })
        .unwrap();
    store.set_calendar_token(&tg, "0123456789abcdef0123456789abcdef").unwrap();
    store.flush().await.unwrap();
}

/// A config whose store is `dir/name`.
fn store_config(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, format!("[store]\npath = \"{}\"\n", dir.join(name).display())).unwrap();
    path
}

fn run_cmd(config: &Path, args: &[&str]) -> std::process::Output {
    let mut c = tminus(config, args[0]);
    c.args(&args[1..]);
    c.output().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_then_import_into_a_fresh_store_then_export_is_identical() {
    let dir = tempfile::tempdir().unwrap();
    chat_state(&dir.path().join("old")).await;
    let (old, new) = (store_config(dir.path(), "old"), store_config(dir.path(), "new"));
    let first = dir.path().join("first.json");
    let out = run_cmd(&old, &["export", first.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let exported = std::fs::read_to_string(&first).unwrap();
    let v: serde_json::Value = serde_json::from_str(&exported).unwrap();
    assert_eq!(v["version"], 1);
    assert_eq!(v["subscriptions"].as_array().unwrap().len(), 2, "chat-made only, no config watch: {exported}");
    assert!(!exported.contains("console-all"), "{exported}");
    assert!(v["subscriptions"].as_array().unwrap().iter().all(|s| s.get("id").is_none()), "store ids stay: {exported}");
    assert!(exported.contains("Europe/Berlin") && exported.contains("Starlink"), "{exported}");
    let quiet = v["subscriptions"].as_array().unwrap().iter().find(|s| s.get("quiet_hours").is_some());
    assert_eq!(quiet.map(|s| (&s["quiet_hours"], &s["silent"][0])), Some((&"22:30-06:45".into(), &"schedule".into())));
    assert_eq!(v["chat_settings"][0]["settings"]["quiet_hours"], "23:00-07:00", "{exported}");
    assert_eq!(v["chat_settings"][0]["settings"]["style"], "card", "{exported}");
    assert_eq!(quiet.map(|s| &s["digest"]), Some(&"weekly mon 08:00".into()), "{exported}");
    assert_eq!(v["chat_settings"][0]["settings"]["digest"], "daily 07:30", "{exported}");
    assert_eq!(v["mutes"].as_array().unwrap().len(), 1, "{exported}");
    assert_eq!(v["calendar_tokens"][0]["token"], "0123456789abcdef0123456789abcdef", "{exported}");

    for round in 0..2 {
        let out = run_cmd(&new, &["import", first.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{err}");
        let expected = if round == 0 {
            "2 subscriptions added, 0 already there"
        } else {
            "0 subscriptions added, 2 already there"
        };
        assert!(err.contains(expected), "round {round}: {err}");
    }
    // Export to stdout this time.
    let out = run_cmd(&new, &["export"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8(out.stdout).unwrap(), exported, "export after import equals the original");
    let store = tminus::store::Store::open(&dir.path().join("new")).unwrap();
    assert_eq!(store.subscriptions().unwrap().len(), 2, "importing twice added nothing");
    drop(store);

    let future = dir.path().join("future.json");
    std::fs::write(&future, exported.replacen("\"version\": 1", "\"version\": 9", 1)).unwrap();
    let out = run_cmd(&new, &["import", future.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("version 9") && err.contains("reads version 1 only"), "{err}");
}
