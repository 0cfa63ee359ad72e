//! Crash safety of delivery, end to end: the real `tminus` binary fans one
//! alert out to hundreds of Telegram chats through the fake Bot API (which
//! enforces Telegram's real limits), is SIGKILLed several times during the
//! fan-out and restarted on the same store each time. The fake answers
//! after a real API's round trip (150 ms), so several sends are in flight
//! at a kill. Every chat must get the alert, and the duplicates (messages
//! beyond one per chat) must be at most the delivery window W per kill: a
//! send holds one of the platform's W slots until its confirmation is
//! durable, so a kill can repeat at most the W sends in flight.

mod support;

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rand::Rng;
use serde_json::json;
use support::fake_ll2::FakeLl2;
use support::fake_telegram::{FakeLimits, FakeTelegram};
use tminus::deliver::DEFAULT_WINDOW;
use tminus::types::{Destination, Feed};

const MMX: &str = "69ebbcd2-b257-4070-9ef9-21e7d1f8a883";
/// Chats `FIRST_CHAT .. FIRST_CHAT + CHATS`, all in one watch.
const FIRST_CHAT: i64 = 1000;
const CHATS: i64 = 300;
const KILLS: usize = 4;
/// A real Bot API round trip.
const LATENCY: Duration = Duration::from_millis(150);

fn chats() -> impl Iterator<Item = i64> {
    FIRST_CHAT..FIRST_CHAT + CHATS
}

fn write_config(dir: &Path, ll2: &FakeLl2, telegram: &FakeTelegram, listen: SocketAddr) -> PathBuf {
    let to: Vec<String> = chats().map(|c| format!("\"telegram:{c}\"")).collect();
    let body = format!(
        r#"[ll2]
base_url = "{ll2}"
requests_per_hour = 1000
feeds = ["launches"]

[store]
path = "{store}"

[alerts]
on_first_sync = false
reminders = "off"

[telegram]
api_url = "{telegram}"

[server]
listen = "{listen}"

[[watch]]
name = "fan-out"
to = [{to}]
kinds = ["launch"]
alerts = ["status"]
reminders = "off"
"#,
        ll2 = ll2.base_url(),
        store = dir.join("data").display(),
        telegram = telegram.api_url(),
        listen = listen,
        to = to.join(", "),
    );
    let path = dir.join("config.toml");
    std::fs::write(&path, body).unwrap();
    path
}

/// The binary with the fake's token; its log goes to `log` (kept for the
/// failure message).
fn tminus(config: &Path, cmd: &str, log: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tminus"));
    c.arg("--config").arg(config).arg(cmd);
    c.env("RUST_LOG", "info").env("TMINUS_TELEGRAM_TOKEN", FakeTelegram::TOKEN);
    c.env_remove("TMINUS_LL2_API_KEY").env_remove("TMINUS_DISCORD_TOKEN");
    c.stdout(Stdio::null()).stderr(File::create(log).unwrap());
    c
}

/// Accepted sends per chat, with their arrival times.
fn deliveries(fake: &FakeTelegram) -> HashMap<i64, Vec<Instant>> {
    let mut by_chat: HashMap<i64, Vec<Instant>> = HashMap::new();
    for call in fake.sent() {
        if let Some(chat) = call.chat_id {
            by_chat.entry(chat).or_default().push(call.at);
        }
    }
    by_chat
}

fn logs(dir: &Path, runs: usize) -> String {
    (0..runs)
        .map(|i| {
            let text = std::fs::read_to_string(dir.join(format!("run-{i}.log"))).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(15).collect();
            format!("--- run {i} (last lines) ---\n{}\n", tail.into_iter().rev().collect::<Vec<_>>().join("\n"))
        })
        .collect()
}

/// A port nothing listens on right now, for `server.listen`.
fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap()
}

/// The outbox depth the running bot reports on `/healthz`, once it answers.
async fn outbox_depth(http: &reqwest::Client, addr: SocketAddr) -> Option<u64> {
    let resp = http.get(format!("http://{addr}/healthz")).send().await.ok()?;
    let body: serde_json::Value = resp.json().await.ok()?;
    body["outbox_depth"].as_u64()
}

async fn wait_child(mut child: Child) -> std::process::ExitStatus {
    tokio::task::spawn_blocking(move || child.wait().unwrap()).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_a_fan_out_loses_nothing_and_repeats_at_most_the_window_per_kill() {
    let started = Instant::now();
    let ll2 = FakeLl2::start().await;
    let telegram = FakeTelegram::start().await;
    telegram.set_limits(FakeLimits::telegram());
    telegram.set_latency(LATENCY);
    let dir = tempfile::tempdir().unwrap();
    if std::env::var_os("CRASH_FANOUT_DEBUG").is_some() {
        eprintln!("store and logs in {}", dir.path().display());
    }
    let listen = free_addr();
    let config = write_config(dir.path(), &ll2, &telegram, listen);

    // First sync: silent (on_first_sync = false), nothing sent.
    let mut sync = tminus(&config, "once", &dir.path().join("once.log"));
    let status = tokio::task::spawn_blocking(move || sync.status().unwrap()).await.unwrap();
    assert!(status.success(), "{}", std::fs::read_to_string(dir.path().join("once.log")).unwrap());
    assert!(telegram.sent().is_empty(), "first sync is silent");

    // One change: one alert for all the chats.
    ll2.set_field(Feed::Launches, MMX, "/status", json!({"id": 5, "name": "On Hold", "abbrev": "Hold"}));

    // Each run is killed at a random-ish moment once it is sending.
    let mut rng = rand::thread_rng();
    let mut runs = Vec::new(); // (spawned, killed) per killed run
    let mut unconfirmed_at = Vec::new(); // per kill: chats reached, confirmation not stored
    for i in 0..KILLS {
        let child = tminus(&config, "run", &dir.path().join(format!("run-{i}.log"))).spawn().unwrap();
        let spawned = Instant::now();
        let before = telegram.sent().len();
        let sending = telegram
            .wait_until(Duration::from_secs(15), |calls| calls.iter().filter(|c| c.is_delivery()).count() > before)
            .await;
        assert!(sending, "run {i} never sent anything\n{}", logs(dir.path(), i + 1));
        tokio::time::sleep(Duration::from_millis(rng.gen_range(1000..2500))).await;
        if i % 2 == 1 {
            // The worst moment: the platform has just accepted a send and
            // the bot has not yet recorded it.
            let before = telegram.sent().len();
            telegram
                .wait_until(Duration::from_secs(2), |calls| calls.iter().filter(|c| c.is_delivery()).count() > before)
                .await;
        }
        let mut child = child;
        child.kill().unwrap(); // SIGKILL
        let killed = Instant::now();
        wait_child(child).await;
        runs.push((spawned, killed));
        // What the kill left open: chats the platform accepted a send for
        // whose confirmation is not in the store. Each is sent again.
        let reached: HashSet<i64> = deliveries(&telegram).into_keys().collect();
        let recorded: HashSet<i64> = {
            let store = tminus::store::Store::open(&dir.path().join("data")).unwrap();
            let delivered = store.delivered().unwrap();
            delivered
                .iter()
                .filter_map(|d| if let Destination::Telegram(c) = d.destination { Some(c.0) } else { None })
                .collect()
        };
        eprintln!(
            "kill {}: after {:.1} s of run, {}/{CHATS} chats reached, {} confirmed in the store",
            i + 1,
            (killed - spawned).as_secs_f64(),
            reached.len(),
            recorded.len()
        );
        assert!(reached.len() < CHATS as usize, "the fan-out finished before kill {} (make it wider)", i + 1);
        unconfirmed_at.push(reached.difference(&recorded).copied().collect::<HashSet<i64>>());
    }

    // The last run finishes the fan-out (including resends the fake
    // throttled because their first copy reached it just before a kill),
    // then stops cleanly.
    let last_spawn = Instant::now();
    let child = tminus(&config, "run", &dir.path().join(format!("run-{KILLS}.log"))).spawn().unwrap();
    let http = reqwest::Client::new();
    let deadline = last_spawn + Duration::from_secs(45);
    let mut drained = false;
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
        if deliveries(&telegram).len() >= CHATS as usize && outbox_depth(&http, listen).await == Some(0) {
            drained = true;
            break;
        }
    }
    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let status = wait_child(child).await;
    assert!(status.success(), "clean exit after SIGTERM: {status}\n{}", logs(dir.path(), KILLS + 1));
    assert!(drained, "the last run did not drain the outbox in time\n{}", logs(dir.path(), KILLS + 1));

    let by_chat = deliveries(&telegram);
    let missing: Vec<i64> = chats().filter(|c| !by_chat.contains_key(c)).collect();
    assert!(missing.is_empty(), "chats without the alert: {missing:?}\n{}", logs(dir.path(), KILLS + 1));
    let strangers: Vec<&i64> = by_chat.keys().filter(|c| !chats().any(|x| x == **c)).collect();
    assert!(strangers.is_empty(), "sends to chats nobody subscribed: {strangers:?}");

    // Every send but a chat's last is one a kill left unconfirmed: it is
    // charged to the run it went out in (a run lasts until the next one is
    // spawned, as a request that reached the fake as the kill landed is
    // stamped a moment after it). The store, read after each kill, must
    // agree: a run's sends to chats it left unconfirmed are those repeats.
    let spawns: Vec<Instant> = runs.iter().map(|(spawned, _)| *spawned).chain([last_spawn]).collect();
    let run_of = |t: Instant| spawns.iter().rposition(|spawned| t >= *spawned).expect("sent after the first spawn");
    let mut repeated = [0usize; KILLS + 1];
    let mut unconfirmed = [0usize; KILLS];
    for (chat, times) in &by_chat {
        for (n, t) in times.iter().enumerate() {
            let k = run_of(*t);
            if n + 1 < times.len() {
                repeated[k] += 1;
            }
            if k < KILLS && unconfirmed_at[k].contains(chat) {
                unconfirmed[k] += 1;
            }
        }
        if times.len() > 1 && std::env::var_os("CRASH_FANOUT_DEBUG").is_some() {
            let when: Vec<String> = times
                .iter()
                .map(|t| {
                    let k = run_of(*t);
                    let since = t.duration_since(spawns[k]).as_secs_f64();
                    match runs.get(k) {
                        Some((_, killed)) => {
                            let before = killed.checked_duration_since(*t).unwrap_or_default().as_secs_f64();
                            format!("run {k} at {since:.3} s, {before:.3} s before its kill")
                        }
                        None => format!("last run at {since:.3} s"),
                    }
                })
                .collect();
            eprintln!("chat {chat}: {when:?}");
        }
    }
    let duplicates: usize = by_chat.values().map(|t| t.len() - 1).sum();
    let per_kill = &repeated[..KILLS];
    eprintln!(
        "{CHATS} chats, {KILLS} kills: {duplicates} duplicates, per kill {per_kill:?} (unconfirmed in the store after \
         each kill: {unconfirmed:?}); {} answers 429; {:.1} s in all",
        telegram.count_status(429),
        started.elapsed().as_secs_f64()
    );
    assert!(
        per_kill.iter().all(|d| *d <= DEFAULT_WINDOW),
        "{duplicates} duplicates for {KILLS} kills, per kill {per_kill:?}; the window is {DEFAULT_WINDOW}"
    );
    assert_eq!(repeated[KILLS], 0, "a chat got the alert twice from the last run, which was not killed");
    assert_eq!(per_kill, unconfirmed, "the sends repeated are exactly those a kill left unconfirmed");

    // The store agrees: nothing left to send, one delivery record per chat.
    let store = tminus::store::Store::open(&dir.path().join("data")).unwrap();
    assert_eq!(
        store.outbox_len(),
        0,
        "outbox drained: {:?}\n{}",
        store.pending(10).unwrap(),
        logs(dir.path(), KILLS + 1)
    );
    assert!(store.dead_letters().unwrap().is_empty(), "nothing given up on");
    let delivered = store.delivered().unwrap();
    assert_eq!(delivered.len(), CHATS as usize, "one delivery record per chat");
}
