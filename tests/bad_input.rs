//! Bad input, everywhere: LL2 answers that are not what they should be,
//! chat commands nobody would type, config files with the wrong types.
//! Each time the bot must say clearly what it rejected, keep running, alert
//! nothing it should not, and (for LL2) not advance the watermark.
//!
//! LL2 answers go through a scripted proxy in front of the fake LL2: a test
//! queues canned answers, everything else is forwarded to the fake (with its
//! origin rewritten in `next` links), so the real poller sees a real,
//! synced LL2 between the bad answers.

mod support;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{StatusCode, Uri, header};
use axum::response::Response;
use serde_json::{Value, json};
use support::app::{App, AppOptions};
use support::fake_ll2::FakeLl2;
use tminus::commands::{self, CommandError};
use tminus::config::Config;
use tminus::ll2::Ll2Error;
use tminus::poller::PollError;
use tminus::types::{AlertKind, Feed};

const MMX: &str = "69ebbcd2-b257-4070-9ef9-21e7d1f8a883";

// ---- the scripted proxy ----------------------------------------------------

/// One canned answer.
#[derive(Clone)]
struct Canned {
    status: u16,
    content_type: &'static str,
    body: Vec<u8>,
    /// Stream the body without a `Content-Length`, so only the client's
    /// running cap can stop it.
    chunked: bool,
}

impl Canned {
    fn json(v: &Value) -> Canned {
        Canned::raw(serde_json::to_vec(v).unwrap())
    }
    fn raw(body: impl Into<Vec<u8>>) -> Canned {
        Canned { status: 200, content_type: "application/json", body: body.into(), chunked: false }
    }
}

#[derive(Default)]
struct ProxyState {
    upstream: String,
    origin: String,
    canned: VecDeque<Canned>,
}

struct Proxy {
    addr: SocketAddr,
    state: Arc<Mutex<ProxyState>>,
}

impl Proxy {
    async fn start(fake: &FakeLl2) -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(ProxyState {
            upstream: format!("http://{}", fake.addr()),
            origin: format!("http://{addr}"),
            canned: VecDeque::new(),
        }));
        let app = axum::Router::new().fallback(proxy).with_state(state.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Proxy { addr, state }
    }

    fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn push(&self, c: Canned) {
        self.state.lock().unwrap().canned.push_back(c);
    }

    fn ll2_config(&self, fake: &FakeLl2) -> tminus::config::Ll2Config {
        let mut cfg = fake.ll2_config();
        cfg.base_url = format!("{}/2.3.0", self.origin());
        cfg.requests_per_hour = 10_000;
        cfg
    }
}

async fn proxy(axum::extract::State(state): axum::extract::State<Arc<Mutex<ProxyState>>>, uri: Uri) -> Response {
    let free = uri.path().ends_with("/api-throttle/");
    let (canned, upstream, origin) = {
        let mut st = state.lock().unwrap();
        let canned = if free { None } else { st.canned.pop_front() };
        (canned, st.upstream.clone(), st.origin.clone())
    };
    let c = match canned {
        Some(c) => c,
        None => {
            let url = format!("{upstream}{}", uri.path_and_query().map(|p| p.as_str()).unwrap_or("/"));
            let resp = reqwest::get(url).await.unwrap();
            let status = resp.status().as_u16();
            let text = resp.text().await.unwrap().replace(&upstream, &origin);
            Canned { status, ..Canned::raw(text) }
        }
    };
    let builder = Response::builder()
        .status(StatusCode::from_u16(c.status).unwrap())
        .header(header::CONTENT_TYPE, c.content_type);
    if c.chunked {
        // A stream loses the size hint: no Content-Length, chunked encoding.
        builder.body(Body::from_stream(Body::from(c.body).into_data_stream())).unwrap()
    } else {
        builder.body(Body::from(c.body)).unwrap()
    }
}

// ---- LL2 answers -------------------------------------------------------------

async fn synced() -> (FakeLl2, Proxy, App) {
    let fake = FakeLl2::start().await;
    let proxy = Proxy::start(&fake).await;
    let mut app = App::start(AppOptions::new(proxy.ll2_config(&fake))).await;
    for r in app.cycle().await {
        r.unwrap();
    }
    assert!(app.recorder.messages().is_empty());
    (fake, proxy, app)
}

/// Serves `canned` to the next poll of `feed`, which must fail without
/// touching the store.
async fn rejected(app: &mut App, proxy: &Proxy, feed: Feed, canned: Canned) -> PollError {
    let wm = app.store.feed_state(feed).unwrap().watermark;
    let items = app.store.item_count();
    let msgs = app.recorder.messages().len();
    proxy.push(canned);
    let err = app.poll(feed).await.expect_err("a bad answer must fail the poll");
    assert_eq!(app.store.feed_state(feed).unwrap().watermark, wm, "watermark moved on {err}");
    assert_eq!(app.store.item_count(), items, "items changed on {err}");
    assert_eq!(app.recorder.messages().len(), msgs, "alerted on {err}");
    assert_eq!(app.store.outbox_len(), 0);
    err
}

/// A server that must never be asked anything.
async fn trap() -> (SocketAddr, Arc<Mutex<usize>>) {
    let hits = Arc::new(Mutex::new(0usize));
    let h = hits.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().fallback(move || {
        *h.lock().unwrap() += 1;
        async { "{\"count\":0,\"next\":null,\"results\":[]}" }
    });
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (addr, hits)
}

#[tokio::test]
async fn answers_that_are_not_pages_fail_the_poll_and_change_nothing() {
    let (fake, proxy, mut app) = synced().await;
    // A real change waits behind the bad answers.
    fake.set_field(Feed::Launches, MMX, "/status", json!({"id": 5, "name": "On Hold", "abbrev": "Hold"}));
    let real = reqwest::get(format!("{}/launches/upcoming/?limit=100&mode=detailed", fake.base_url()))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
        .to_vec();
    let (trap_addr, trap_hits) = trap().await;
    let one_item = fake.item(Feed::Launches, MMX).unwrap();
    let html = "<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head><body>cloudflare</body></html>";
    let over_cap = vec![b' '; 20_000_001];

    type Check = fn(&Ll2Error) -> bool;
    let cases: Vec<(&str, Canned, Check, &str)> = vec![
        (
            "HTML error page",
            Canned { content_type: "text/html", ..Canned::raw(html) },
            |e| matches!(e, Ll2Error::NotJson { .. }),
            "not JSON",
        ),
        ("empty body", Canned::raw(""), |e| matches!(e, Ll2Error::NotJson { .. }), "not JSON"),
        ("truncated body", Canned::raw(&real[..real.len() / 2]), |e| matches!(e, Ll2Error::NotJson { .. }), "not JSON"),
        (
            "binary garbage",
            Canned::raw(vec![0, 159, 146, 150, 255, 0, 1]),
            |e| matches!(e, Ll2Error::NotJson { .. }),
            "not JSON",
        ),
        ("deep nesting", Canned::raw("[".repeat(100_000)), |e| matches!(e, Ll2Error::NotJson { .. }), "not JSON"),
        (
            "number out of range",
            Canned::raw(r#"{"count": 1e400, "next": null, "results": []}"#),
            |e| matches!(e, Ll2Error::NotJson { .. }),
            "not JSON",
        ),
        (
            "JSON error object",
            Canned::json(&json!({"detail": "Not found."})),
            |e| matches!(e, Ll2Error::Shape { .. }),
            "unexpected shape",
        ),
        (
            "an object where the results list is expected",
            Canned::json(&json!({"count": 1, "next": null, "results": one_item.clone()})),
            |e| matches!(e, Ll2Error::Shape { .. }),
            "expected an array",
        ),
        ("a bare string", Canned::raw("\"results\""), |e| matches!(e, Ll2Error::Shape { .. }), "top level is"),
        ("a bare number", Canned::raw("42"), |e| matches!(e, Ll2Error::Shape { .. }), "top level is"),
        (
            "next is a number",
            Canned::json(&json!({"count": 1, "next": 2, "results": [one_item.clone()]})),
            |e| matches!(e, Ll2Error::Shape { .. }),
            "`next`",
        ),
        (
            "next is not a URL",
            Canned::json(&json!({"count": 1, "next": "page two please", "results": [one_item.clone()]})),
            |e| matches!(e, Ll2Error::Shape { .. }),
            "not a URL",
        ),
        (
            "next points at another host",
            Canned::json(&json!({
                "count": 200,
                "next": format!("http://{trap_addr}/2.3.0/launches/upcoming/?limit=100&offset=100"),
                "results": [one_item.clone()],
            })),
            |e| matches!(e, Ll2Error::ForeignNext { .. }),
            "refusing to follow `next` to a foreign host",
        ),
        (
            "HTTP 500",
            Canned { status: 500, ..Canned::json(&json!({"detail": "Server Error"})) },
            |e| matches!(e, Ll2Error::Status { status: 500, .. }),
            "HTTP 500",
        ),
        (
            "HTTP 200 with an HTML 404 page",
            Canned { status: 404, content_type: "text/html", ..Canned::raw(html) },
            |e| matches!(e, Ll2Error::Status { status: 404, .. }),
            "HTTP 404",
        ),
        (
            "over the size limit (Content-Length)",
            Canned::raw(over_cap.clone()),
            |e| matches!(e, Ll2Error::TooLarge { limit: 20_000_000, .. }),
            "exceeds the body limit",
        ),
        (
            "over the size limit (chunked)",
            Canned { chunked: true, ..Canned::raw(over_cap) },
            |e| matches!(e, Ll2Error::TooLarge { limit: 20_000_000, .. }),
            "exceeds the body limit",
        ),
    ];
    for (what, canned, check, wording) in cases {
        let err = rejected(&mut app, &proxy, Feed::Launches, canned).await;
        let PollError::Ll2(e) = &err else { panic!("{what}: expected an LL2 error, got {err}") };
        assert!(check(e), "{what}: unexpected error {e:?}");
        let text = err.to_string();
        assert!(text.contains(wording), "{what}: {text:?} should say {wording:?}");
        assert!(!text.contains('\n') && text.len() < 600, "{what}: one short line: {text:?}");
        println!("{what:45} → {text}");
    }
    assert_eq!(*trap_hits.lock().unwrap(), 0, "the foreign `next` was never followed");

    // Good answers again: the waiting change arrives, once.
    let report = app.poll(Feed::Launches).await.unwrap();
    assert_eq!(report.alerts, 1, "{report:?}");
    let msgs = app.recorder.messages();
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].1.kind, AlertKind::Status);
}

#[tokio::test]
async fn unreadable_objects_are_skipped_not_the_page() {
    let (fake, proxy, mut app) = synced().await;
    fake.set_field(Feed::Launches, MMX, "/status", json!({"id": 5, "name": "On Hold", "abbrev": "Hold"}));
    let good = fake.item(Feed::Launches, MMX).unwrap();
    let stamp = good["last_updated"].clone();
    let page = json!({
        "count": 8,
        "next": null,
        "results": [
            [1, 2, 3],
            "a string",
            42,
            null,
            {"name": "no id", "last_updated": stamp},
            {"id": "00000000-0000-4000-8000-00000000abcd", "name": "no last_updated"},
            {"id": "00000000-0000-4000-8000-00000000abce", "name": "bad last_updated", "last_updated": "2025-13-45T99:99:99Z"},
            good,
        ],
    });
    proxy.push(Canned::json(&page));
    let report = app.poll(Feed::Launches).await.unwrap();
    assert_eq!(report.items, 1, "only the readable item: {report:?}");
    let msgs = app.recorder.messages();
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    assert_eq!(msgs[0].1.kind, AlertKind::Status);
    assert_eq!(
        app.store.feed_state(Feed::Launches).unwrap().watermark.map(|w| w.0),
        Some(stamp.as_str().unwrap().parse().unwrap()),
        "the watermark is the readable item's"
    );
}

#[tokio::test]
async fn absurd_dates_neither_crash_nor_blind_the_poller() {
    let (fake, _proxy, mut app) = synced().await;
    let ids = fake.ids(Feed::Launches);
    // Far future and far past dates are data: schedule alerts, rendered
    // without panicking; no reminder for a date in the past. A missing or
    // unreadable date is a garbled field: the known date is kept, no alert.
    fake.set_field(Feed::Launches, &ids[0], "net", json!("9999-12-31T23:59:59Z"));
    fake.set_field(Feed::Launches, &ids[1], "net", json!("1900-01-01T00:00:00Z"));
    fake.set_field(Feed::Launches, &ids[2], "net", Value::Null);
    fake.set_field(Feed::Launches, &ids[3], "net", json!("not a date"));
    fake.set_field(Feed::Launches, &ids[3], "window_end", json!("0000-01-01T00:00:00Z"));
    app.poll(Feed::Launches).await.unwrap();
    let msgs = app.recorder.messages();
    assert_eq!(msgs.len(), 3, "{:#?}", msgs.iter().map(|m| &m.1.changes).collect::<Vec<_>>());
    let kept = app.store.item(&tminus::types::ItemId::new(tminus::types::ItemKind::Launch, ids[2].clone())).unwrap();
    assert!(kept.unwrap().when.is_some(), "a null NET keeps the known date");
    for (_, m) in &msgs {
        assert_eq!(m.kind, AlertKind::Schedule);
        assert!(!tminus::render::console(m).is_empty());
        assert!(!tminus::telegram::render::html(m).is_empty());
    }
    let reminders = tminus::reminders::Reminders::new(
        app.store.clone(),
        app.subs.index(),
        Duration::from_secs(900),
        Arc::new(tokio::sync::Notify::new()),
    );
    reminders.pass(chrono::Utc::now()).await.unwrap();

    // A `last_updated` far in the future must not move the watermark past
    // every later change (which would hide them until the next sweep).
    fake.set_field(Feed::Events, fake.ids(Feed::Events)[0].clone(), "last_updated", json!("9999-01-01T00:00:00Z"));
    app.poll(Feed::Events).await.unwrap();
    let event = fake.ids(Feed::Events)[1].clone();
    fake.set_field(Feed::Events, &event, "date", json!("2031-02-03T04:05:06Z"));
    app.poll(Feed::Events).await.unwrap();
    let last = app.recorder.messages().last().cloned().unwrap().1;
    assert!(
        last.kind == AlertKind::Schedule && last.changes.iter().any(|c| c.contains("2031")),
        "a change after the bogus stamp is still seen by the next poll: {last:?}"
    );
}

#[tokio::test]
async fn an_empty_or_unreadable_upcoming_list_forgets_nothing() {
    let fake = FakeLl2::start().await;
    let proxy = Proxy::start(&fake).await;
    let mut cfg = proxy.ll2_config(&fake);
    cfg.resweep_interval = Duration::from_millis(200);
    let mut app = App::start(AppOptions::new(cfg)).await;
    app.poll(Feed::Launches).await.unwrap();
    let known = app.store.item_count();
    assert!(known > 0);
    for glitch in [json!({"count": 0, "next": null, "results": []}), json!([[1], "x", {"name": "no id"}])] {
        tokio::time::sleep(Duration::from_millis(250)).await;
        proxy.push(Canned::json(&glitch));
        let report = app.poll(Feed::Launches).await.unwrap();
        assert!(report.sweep, "{report:?}");
        assert_eq!(app.store.item_count(), known, "a glitching sweep must not forget every item: {glitch}");
    }
    // LL2 recovers: nothing is "new".
    tokio::time::sleep(Duration::from_millis(250)).await;
    let report = app.poll(Feed::Launches).await.unwrap();
    assert!(report.sweep);
    assert_eq!(report.alerts, 0, "{report:?}");
    assert!(app.recorder.messages().is_empty());
}

/// Minimal launch objects: what LL2's `list` mode sends.
fn small_launches(n: usize, status: (i64, &str), stamp: &str) -> Vec<Value> {
    (0..n)
        .map(|i| {
            json!({
                "id": format!("10000000-0000-4000-8000-{i:012}"),
                "name": format!("Bulk {i} | Test"),
                "net": "2031-01-01T00:00:00Z",
                "status": {"id": status.0, "name": status.1, "abbrev": status.1},
                "last_updated": stamp,
            })
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_of_ten_thousand_results_is_handled() {
    let fake = FakeLl2::start().await;
    let proxy = Proxy::start(&fake).await;
    let mut app = App::start(AppOptions::new(proxy.ll2_config(&fake))).await;
    // LL2 pages hold at most 100; a broken cache or proxy could send more.
    let page = |status: (i64, &str), stamp: &str| {
        Canned::json(&json!({"count": 10_000, "next": null, "results": small_launches(10_000, status, stamp)}))
    };
    let stamp = |ago: i64| (chrono::Utc::now() - chrono::Duration::minutes(ago)).to_rfc3339();
    proxy.push(page((1, "Go"), &stamp(10)));
    let started = Instant::now();
    let report = app.poll(Feed::Launches).await.unwrap();
    let first = started.elapsed();
    assert_eq!(report.items, 10_000);
    assert_eq!(app.store.item_count(), 10_000, "first sync stores them all (the fixtures were not listed)");
    assert!(app.recorder.messages().is_empty(), "first sync is silent");

    proxy.push(page((8, "TBC"), &stamp(5)));
    let started = Instant::now();
    let report = app.poll(Feed::Launches).await.unwrap();
    let second = started.elapsed();
    assert_eq!(report.alerts, 10_000, "{report:?}");
    assert_eq!(app.recorder.messages().len(), 10_000, "every change delivered once");
    assert_eq!(app.store.outbox_len(), 0);
    println!("10,000-result page: first sync {first:?}, 10,000 alerts detected and delivered {second:?}");
    assert!(first < Duration::from_secs(60) && second < Duration::from_secs(120));
}

// ---- chat commands ---------------------------------------------------------

/// Runs split + parse; never panics, and an error reads as a short reply.
fn command(text: &str) -> Option<Result<commands::ChatCommand, CommandError>> {
    let parsed = std::panic::catch_unwind(|| {
        commands::split_command(text, Some("tminus_bot")).map(|(name, args)| commands::parse(&name, args))
    })
    .unwrap_or_else(|_| panic!("panicked on {:?}", text.chars().take(80).collect::<String>()));
    if let Some(Err(e)) = &parsed {
        let reply = e.to_string();
        assert!(!reply.trim().is_empty());
        // Well inside Discord's 2000 and Telegram's 4096 characters.
        assert!(reply.chars().count() < 600, "reply too long ({} chars)", reply.chars().count());
    }
    parsed
}

#[test]
fn huge_binary_and_odd_unicode_commands_are_refused_clearly() {
    // Huge: a megabyte of arguments, and a megabyte-long command name.
    let huge = format!("/subscribe agency {}", "SpaceX ".repeat(150_000));
    let err = command(&huge).unwrap().unwrap_err();
    assert!(err.to_string().contains("limited to"), "{err}");
    let long_name = format!("/{}", "a".repeat(1_000_000));
    assert!(matches!(command(&long_name), Some(Err(CommandError::Unknown(_)))));

    // Binary: every byte value, made into text the way a front-end would.
    let bytes: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
    let lossy = String::from_utf8_lossy(&bytes).into_owned();
    assert!(command(&lossy).is_none(), "starts with NUL, not a command");
    let _ = command(&format!("/subscribe {lossy}"));
    let _ = command(&format!("/reminders {}", &lossy[..200]));
    assert!(command("/\0\0\0").is_none());
    assert!(command("/sub\0scribe").is_none());

    // Look-alikes are not commands: fullwidth solidus, Cyrillic letters,
    // a right-to-left override glued to the name.
    assert!(command("／subscribe").is_none());
    assert!(command("/ѕubscribe").is_none());
    assert!(command("/subscribe\u{202E}tnega").is_none());
    assert!(command("/subscribe\u{200B} agency SpaceX").is_none(), "zero-width space glued to the name");

    // Unicode whitespace separates like a space does.
    assert!(matches!(command("/subscribe\u{3000}agency SpaceX"), Some(Ok(_))));
    assert!(matches!(command("/next\u{00A0}3"), Some(Ok(commands::ChatCommand::Next(q))) if q.count == 3));

    // Odd argument text: refused with a usage line, or kept verbatim.
    for (text, ok) in [
        ("/next ٣", false),
        ("/next 18446744073709551616", false),
        ("/next -1", false),
        ("/unsubscribe 99999999999999999999999999", false),
        ("/unsubscribe 0", false),
        ("/reminders 1ｈ", false),
        ("/reminders 99999999999999999999d", false),
        ("/reminders 9999999999999999d", false),
        ("/reminders 1h 2h 3h 4h 5h 6h 7h", false),
        ("/subscribe rocket", false),
        ("/subscribe agency", false),
        ("/subscribe -kind launch", false),
        ("/subscribe agency 🚀🚀🚀", true),
        ("/subscribe agency S\u{0301}paceX -program Star\u{200D}link", true),
        ("/subscribe agency \u{202E}XecapS", true),
        ("/timezone Europe/Berlin\u{0000}", true),
        ("/START@TMINUS_BOT", true),
    ] {
        match command(text) {
            Some(Ok(_)) if ok => {}
            Some(Err(CommandError::Usage(_))) if !ok => {}
            other => panic!("{text:?}: {other:?}"),
        }
    }
    // Found by fuzzing: quoted input is escaped by `{:?}` (a control
    // character becomes `\u{1d}`), which made replies ten times the input.
    let crash = b"/subscribe kind even c\x1d\x1d\x1d\x1d\x1d\x1d\x1d\x1d\x1d\x1d\x1d\x1d\x1d\x1d\x1d\x1d\x1d\x1d\x1d\x1d\x1d\x1d\x1d\x1d\x1d\x1d\x1d\x1d\x1d\x1d\x1d\x1d\x1d\x1d\x1d\x1d\x1d\x1d\x1d\x1d\x1d\x1d\x1d\x1d\x1d\x1d\x1d\x1d\x1d\x1d\x1d\x1d\x1d\x1d\x1d\x1d\x1d\x1d\x1d\x1d\x1d\x1d\x00";
    assert!(matches!(command(std::str::from_utf8(crash).unwrap()), Some(Err(CommandError::Usage(_)))));
    for text in [
        format!("/subscribe kind {}", "\u{1d}".repeat(180)),
        format!("/reminders {}", "\u{10FFFF}".repeat(190)),
        format!("/reminders 1h {}", "\u{0}".repeat(190)),
    ] {
        assert!(matches!(command(&text), Some(Err(CommandError::Usage(_)))), "{text:?}");
    }
    assert!(command("/start@other_bot").is_none(), "addressed to another bot");
    assert!(matches!(command("/frobnicate"), Some(Err(CommandError::Unknown(_)))));
    assert!(command("").is_none() && command("/").is_none() && command("   ").is_none());
}

// ---- config files ----------------------------------------------------------

#[test]
fn config_values_of_the_wrong_type_are_named() {
    let no_env = |_: &str| None;
    let watch = "[[watch]]\nname = \"w\"\nto = [\"console\"]\n";
    for (text, expect) in [
        ("[[watch]]\nname = \"w\"\nto = \"console\"", vec!["watch[0].to", "expected a list"]),
        ("[ll2]\nfeeds = 5", vec!["ll2.feeds", "expected a list"]),
        ("[ll2]\nfeeds = [[\"events\"]]", vec!["ll2.feeds[0]"]),
        ("[ll2]\nrequests_per_hour = 1.5", vec!["ll2.requests_per_hour", "expected an integer"]),
        ("[ll2]\nrequests_per_hour = [15]", vec!["ll2.requests_per_hour"]),
        ("[ll2]\nbase_url = 5", vec!["ll2.base_url"]),
        ("[ll2]\nmax_body_bytes = \"20MB\"", vec!["ll2.max_body_bytes"]),
        ("[store]\npath = 5", vec!["store.path"]),
        ("[store]\npath = [\"a\"]", vec!["store.path"]),
        ("[alerts]\ntimezone = 1", vec!["alerts.timezone"]),
        ("[alerts]\nreminders = true", vec!["alerts.reminders"]),
        ("[alerts]\non_first_sync = 1", vec!["alerts.on_first_sync"]),
        ("[log]\nformat = 1", vec!["log.format"]),
        ("[log]\nformat = \"yaml\"", vec!["log.format", "\"yaml\""]),
        ("[server]\nlisten = 8080", vec!["server.listen"]),
        ("[server]\nlisten = \"127.0.0.1\"", vec!["server.listen", "\"127.0.0.1\""]),
        ("[server]\nhealth_max_age = 60", vec!["server.health_max_age", "got 60"]),
        ("[server]\nhealth_max_age = \"0s\"", vec!["server.health_max_age"]),
        ("[server]\nhealth_max_age = \"soon\"", vec!["server.health_max_age", "\"soon\""]),
        ("[server]\nhealthmaxage = \"1h\"", vec!["server.healthmaxage", "unknown key"]),
        ("server = \"on\"", vec!["server", "expected a table"]),
        ("watch = \"spacex\"", vec!["watch", "[[watch]]"]),
        ("[[watch]]\nname = 5\nto = [\"console\"]", vec!["watch[0].name"]),
        ("[[watch]]\nname = \"w\"\nto = [[\"console\"]]", vec!["watch[0].to[0]"]),
        (&format!("{watch}agencies = \"SpaceX\""), vec!["watch[0].agencies", "expected a list"]),
        (&format!("{watch}kinds = \"launch\""), vec!["watch[0].kinds", "expected a list"]),
        (&format!("{watch}alerts = \"new\""), vec!["watch[0].alerts", "expected a list"]),
        (&format!("{watch}types = [{{ id = 1 }}]"), vec!["watch[0].types[0]"]),
        (&format!("{watch}reminders = 10"), vec!["watch[0].reminders", "got 10"]),
        (&format!("{watch}timezone = [\"UTC\"]"), vec!["watch[0].timezone"]),
        ("[telegram]\ntoken = [\"a\", \"b\"]", vec!["telegram.token", "value hidden"]),
        ("[discord]\ntoken = { secret = \"x\" }", vec!["discord.token", "value hidden"]),
        ("[discord]\nguild_id = 1.5", vec!["discord.guild_id"]),
        ("[ll2]\nrequests_per_hour = 15\n[ll2]\nfeeds = []", vec!["ll2"]),
        ("\u{feff}[ll2]\nrequests_per_hour = \"x\"", vec!["ll2.requests_per_hour"]),
        ("[ll2]\nrequests_per_hour = 15\0", vec!["line 2"]),
    ] {
        let err = match Config::from_toml_str(text, &no_env) {
            Ok(_) => panic!("accepted:\n{text}"),
            Err(e) => e.to_string(),
        };
        assert!(!err.contains('\n'), "one line: {err:?}");
        for part in &expect {
            assert!(err.contains(part), "{text:?}: error {err:?} should contain {part:?}");
        }
    }
    let c = Config::from_toml_str("[server]\nlisten = \"127.0.0.1:9090\"\nhealth_max_age = \"90m\"", &no_env).unwrap();
    assert_eq!(c.server.health_max_age, Duration::from_secs(5400));
    assert_eq!(Config::default_config().server.health_max_age, Duration::from_secs(3600));
    assert!(c.render_effective().contains("health_max_age = \"1h30m\""));
    assert_eq!(Config::from_toml_str(&c.render_effective(), &no_env).unwrap(), c);
}

#[test]
fn the_binary_exits_2_on_wrong_types() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, "[[watch]]\nname = \"w\"\nto = \"console\"\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tminus"))
        .arg("--config")
        .arg(&path)
        .arg("check-config")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("watch[0].to"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}
