//! Launch-day freshness simulator: how long after LL2 has a change does
//! tminus commit its alert to the outbox, and how many requests did it cost?
//!
//! ```text
//! cargo run --release --example freshness -- [--timeline FILE] [--requests-per-hour N]
//!     [--seed N] [--hours H] [--uniform] [--write-timeline FILE]
//! ```
//!
//! It runs the real poller (the same schedule, budget, LL2 client,
//! detection and store code as `tminus run`) on tokio's paused clock, against
//! an in-process fake LL2 on 127.0.0.1 that answers from a timeline at the
//! simulated time. Poller and fake share one `Clock` that follows the paused
//! clock, so 48 simulated hours take seconds. `--uniform` runs the historic
//! uniform schedule instead, for comparison. Without `--timeline` a built-in
//! timeline is generated from the fixtures in `tests/fixtures/ll2/`
//! (`--seed` picks another one, `--hours` its length; `--write-timeline`
//! saves it).
//!
//! # Timeline format (JSON Lines)
//!
//! - line 1: `{"start": "2026-12-01T00:00:00Z", "hours": 48}`;
//! - then, in time order, `{"at": ISO8601, "kind": "launch"|"event", "item": {LL2 object}}`:
//!   from `at` on, LL2 serves that object (mode=detailed shape, with `id`)
//!   with `last_updated` set to `at`. Lines before `start` form the initial
//!   state, which the simulated bot syncs (silently) first.
//!
//! Blank lines are ignored. A malformed line stops the run with an error
//! naming the line. The fake's upcoming lists hold every item introduced so
//! far (no cut-off); `/launches/?id=` finds one launch; `/api-throttle/` is
//! free; over `--requests-per-hour` in any sliding hour it answers 429.
//!
//! # What is measured
//!
//! Each timeline change that must alert under the detection rules (new,
//! schedule, status, webcast) is matched with the first alert of the same
//! item and kind committed at or after its `at`; the delay is the difference.
//! Classes: "final-hour" (a launch whose NET, as known before the change, is
//! within an hour of `at`: the last hour, lift-off and the result), "other
//! launches" and "events". A change replaced by the item's next change of
//! the same kind before any alert (a hold lifted, a slip slipped again) has
//! no alert of its own: it is counted apart, as are changes never alerted.
//! The last line is exactly:
//!
//! ```text
//! freshness: final-hour mean Xs p95 Ys (n N); other launches mean Xs p95 Ys (n N); events mean Xs p95 Ys (n N); requests R of B allowed
//! ```
//!
//! where B is `requests_per_hour` times the simulated hours.
#![allow(unreachable_pub, missing_docs)] // an example binary, also compiled into tests/freshness.rs

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, SecondsFormat, Utc};
use clap::Parser;
use serde_json::{Value, json};
use tminus::config::Ll2Config;
use tminus::detect;
use tminus::ll2::item_from_value;
use tminus::poller::schedule::Strategy;
use tminus::poller::{Clock, Poller, PollerConfig};
use tminus::store::Store;
use tminus::subscriptions::{Subscriptions, default_console_watch};
use tminus::types::{AlertKind, Feed, Secret};

/// One served version of one item.
#[derive(Debug, Clone)]
pub struct Entry {
    pub at: DateTime<Utc>,
    pub feed: Feed,
    pub item: Value,
}

#[derive(Debug, Clone)]
pub struct Timeline {
    pub start: DateTime<Utc>,
    pub hours: f64,
    /// In time order.
    pub entries: Vec<Entry>,
}

#[derive(Debug, thiserror::Error)]
pub enum TimelineError {
    #[error("timeline line {line}: {message}")]
    Line { line: usize, message: String },
    #[error("cannot read the timeline {path}: {source}")]
    Read { path: String, source: std::io::Error },
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    start: DateTime<Utc>,
    hours: f64,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    at: DateTime<Utc>,
    kind: String,
    item: Value,
}

impl Timeline {
    pub fn load(path: &std::path::Path) -> Result<Timeline, TimelineError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| TimelineError::Read { path: path.display().to_string(), source })?;
        Timeline::parse(&text)
    }

    pub fn parse(text: &str) -> Result<Timeline, TimelineError> {
        let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l)).filter(|(_, l)| !l.trim().is_empty());
        let bad = |line: usize, message: String| TimelineError::Line { line, message };
        let (n, first) =
            lines.next().ok_or_else(|| bad(1, "empty timeline: expected {\"start\", \"hours\"}".into()))?;
        let header: Header = serde_json::from_str(first)
            .map_err(|e| bad(n, format!("expected {{\"start\": ISO8601, \"hours\": H}}: {e}")))?;
        if !(header.hours.is_finite() && header.hours > 0.0) {
            return Err(bad(n, format!("`hours` must be positive, not {}", header.hours)));
        }
        let mut entries: Vec<Entry> = Vec::new();
        for (n, text) in lines {
            let line: Line = serde_json::from_str(text)
                .map_err(|e| bad(n, format!("expected {{\"at\", \"kind\", \"item\"}}: {e}")))?;
            let feed = match line.kind.as_str() {
                "launch" => Feed::Launches,
                "event" => Feed::Events,
                other => return Err(bad(n, format!("`kind` must be \"launch\" or \"event\", not {other:?}"))),
            };
            if let Some(prev) = entries.last().filter(|p| p.at > line.at) {
                return Err(bad(n, format!("not in time order: {} comes after {}", line.at, prev.at)));
            }
            if id_of(&line.item).is_empty() {
                return Err(bad(n, "`item` must be an LL2 object with an `id`".into()));
            }
            let mut item = line.item;
            item["last_updated"] = json!(stamp(line.at));
            item_from_value(feed, item.clone())
                .map_err(|e| bad(n, format!("`item` is not a readable {feed} item: {e}")))?;
            entries.push(Entry { at: line.at, feed, item });
        }
        Ok(Timeline { start: header.start, hours: header.hours, entries })
    }

    pub fn to_jsonl(&self) -> String {
        let mut out = json!({"start": stamp(self.start), "hours": self.hours}).to_string();
        for e in &self.entries {
            let kind = if e.feed == Feed::Launches { "launch" } else { "event" };
            out.push('\n');
            out.push_str(&json!({"at": stamp(e.at), "kind": kind, "item": e.item}).to_string());
        }
        out.push('\n');
        out
    }

    fn end(&self) -> DateTime<Utc> {
        self.start + chrono::Duration::milliseconds((self.hours * 3_600_000.0) as i64)
    }
}

pub fn id_of(v: &Value) -> String {
    match v.get("id") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

// ---- the built-in timeline -------------------------------------------------

const LAUNCHES: &str = include_str!("../tests/fixtures/ll2/launches-2.3.0-upcoming-detailed.json");
const EVENTS: &str = include_str!("../tests/fixtures/ll2/events-2.3.0-upcoming-detailed.json");

/// splitmix64: small, seedable, good enough to vary a timeline.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn chance(&mut self, p: f64) -> bool {
        ((self.next() >> 11) as f64 / (1u64 << 53) as f64) < p
    }
    /// A whole number of seconds in `lo..=hi` minutes.
    fn mins(&mut self, lo: i64, hi: i64) -> chrono::Duration {
        let span = ((hi - lo) * 60 + 1) as u64;
        chrono::Duration::seconds(lo * 60 + (self.next() % span) as i64)
    }
    fn pick<'a, T>(&mut self, list: &'a [T]) -> &'a T {
        &list[(self.next() % list.len() as u64) as usize]
    }
}

fn fixture(text: &str) -> Vec<Value> {
    let v: Value = serde_json::from_str(text).expect("fixture is JSON");
    v["results"].as_array().cloned().expect("fixture has results")
}

/// Builds entries item by item; `emit` records the item's current state.
struct Gen {
    rng: Rng,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    entries: Vec<Entry>,
    seq: u64,
}

impl Gen {
    fn emit(&mut self, at: DateTime<Utc>, feed: Feed, item: &Value) {
        let mut item = item.clone();
        item["last_updated"] = json!(stamp(at));
        self.entries.push(Entry { at, feed, item });
    }

    fn fresh_id(&mut self, feed: Feed) -> Value {
        self.seq += 1;
        match feed {
            Feed::Launches => json!(format!("5eed0000-0000-4000-8000-{:012x}", self.seq)),
            Feed::Events => json!(900_000 + self.seq),
        }
    }
}

fn set_when(item: &mut Value, feed: Feed, when: DateTime<Utc>) {
    match feed {
        Feed::Launches => {
            item["net"] = json!(stamp(when));
            item["window_start"] = json!(stamp(when));
            item["window_end"] = json!(stamp(when + chrono::Duration::hours(2)));
        }
        Feed::Events => item["date"] = json!(stamp(when)),
    }
}

fn when_of(item: &Value) -> Option<DateTime<Utc>> {
    item.get("net").or_else(|| item.get("date"))?.as_str()?.parse().ok()
}

fn set_status(item: &mut Value, id: i64, name: &str, abbrev: &str) {
    item["status"] = json!({"id": id, "name": name, "abbrev": abbrev});
}

fn add_video(item: &mut Value, url: String, live: bool) {
    let videos = item["vid_urls"].as_array().cloned().unwrap_or_default();
    let mut videos: Vec<Value> = videos.into_iter().filter(|v| v["url"] != json!(url)).collect();
    videos.push(json!({"url": url, "title": "Launch webcast", "live": live}));
    item["vid_urls"] = Value::Array(videos);
}

/// A timeline of `hours` from the fixtures: launch days about every 12 h
/// (a slip hours out, the webcast link, a late slip, the webcast going live,
/// a hold and recycle or a scrub, lift-off, the result), every other one
/// with a second launch within the hour of the first (overlapping hot
/// windows), over a background of quieter launch and event changes, some
/// of them no news at all.
pub fn builtin(seed: u64, hours: u32) -> Timeline {
    let start: DateTime<Utc> = "2026-12-01T00:00:00Z".parse().expect("valid start");
    let end = start + chrono::Duration::hours(hours.into());
    let mut g = Gen { rng: Rng(seed), start, end, entries: Vec::new(), seq: 0 };
    let mut launches = fixture(LAUNCHES);
    let mut events = fixture(EVENTS);
    for (i, l) in launches.iter_mut().enumerate() {
        let when = start + chrono::Duration::days(3 + 2 * i as i64) + g.rng.mins(0, 600);
        set_when(l, Feed::Launches, when);
        g.emit(start - chrono::Duration::hours(2) + chrono::Duration::minutes(i as i64), Feed::Launches, l);
    }
    for (i, e) in events.iter_mut().enumerate() {
        let when = start + chrono::Duration::days(2 + 3 * i as i64) + g.rng.mins(0, 600);
        set_when(e, Feed::Events, when);
        g.emit(start - chrono::Duration::hours(1) + chrono::Duration::minutes(i as i64), Feed::Events, e);
    }
    let (mut day, mut k) = (0, 0);
    loop {
        let net = start + chrono::Duration::hours(2 + 12 * day) + g.rng.mins(0, 300);
        if net + chrono::Duration::hours(1) > end {
            break;
        }
        // Every other launch day (the first included) a second launch
        // lifts off within the hour: overlapping hot windows.
        let second = net + g.rng.mins(10, 60);
        let nets =
            if day % 2 == 0 && second + chrono::Duration::hours(1) <= end { vec![net, second] } else { vec![net] };
        for net in nets {
            let mut l = launches[k % launches.len()].clone();
            l["id"] = g.fresh_id(Feed::Launches);
            l["name"] = json!(format!("{} (launch day {day}, #{k})", l["name"].as_str().unwrap_or("Launch")));
            l["vid_urls"] = json!([]);
            l["webcast_live"] = json!(false);
            l["net_precision"] = json!({"id": 1, "name": "Minute", "abbrev": "MIN"});
            launch_day(&mut g, l, net);
            k += 1;
        }
        day += 1;
    }
    background(&mut g, Feed::Launches, launches, 60, 4 * 60);
    background(&mut g, Feed::Events, events, 60, 4 * 60);
    g.entries.sort_by_key(|e| e.at);
    Timeline { start, hours: hours.into(), entries: g.entries }
}

/// The changes of one launch around its NET `net`.
fn launch_day(g: &mut Gen, mut l: Value, mut net: DateTime<Utc>) {
    let m = chrono::Duration::minutes;
    let go_at = net - chrono::Duration::hours(20) + g.rng.mins(-120, 120);
    if go_at > g.start {
        set_status(&mut l, 8, "To Be Confirmed", "TBC");
    } else {
        set_status(&mut l, 1, "Go for Launch", "Go");
    }
    set_when(&mut l, Feed::Launches, net);
    g.emit(g.start - m(90) + chrono::Duration::seconds(g.seq as i64), Feed::Launches, &l);
    if go_at > g.start {
        set_status(&mut l, 1, "Go for Launch", "Go");
        g.emit(go_at, Feed::Launches, &l);
    }
    if g.rng.chance(0.6) {
        net += g.rng.mins(5, 30);
        set_when(&mut l, Feed::Launches, net);
        let at = net - m(200) + g.rng.mins(-30, 30);
        g.emit(at, Feed::Launches, &l);
    }
    let url = format!("https://youtube.com/watch?v=launch{}", g.seq);
    add_video(&mut l, url.clone(), false);
    let at = net - m(80) + g.rng.mins(-10, 10);
    g.emit(at, Feed::Launches, &l);
    if g.rng.chance(0.5) {
        let at = net - m(45) + g.rng.mins(-5, 5);
        net += g.rng.mins(2, 10);
        set_when(&mut l, Feed::Launches, net);
        g.emit(at, Feed::Launches, &l);
    }
    l["webcast_live"] = json!(true);
    add_video(&mut l, url.clone(), true);
    let at = net - m(20) + g.rng.mins(-3, 3);
    g.emit(at, Feed::Launches, &l);
    let roll = (g.rng.next() % 100) as i64;
    if roll < 60 {
        // A hold: recycled (most of the time) or scrubbed.
        let hold_at = net - g.rng.mins(5, 12);
        set_status(&mut l, 5, "On Hold", "Hold");
        g.emit(hold_at, Feed::Launches, &l);
        let back_at = hold_at + g.rng.mins(5, 15);
        set_status(&mut l, 1, "Go for Launch", "Go");
        if roll < 45 {
            net = back_at + g.rng.mins(10, 30);
            set_when(&mut l, Feed::Launches, net);
            g.emit(back_at, Feed::Launches, &l);
        } else {
            set_when(&mut l, Feed::Launches, net + chrono::Duration::days(1));
            l["webcast_live"] = json!(false);
            g.emit(back_at, Feed::Launches, &l);
            return;
        }
    }
    set_status(&mut l, 6, "Launch in Flight", "In Flight");
    let at = net + chrono::Duration::seconds((g.rng.next() % 40) as i64);
    g.emit(at, Feed::Launches, &l);
    match g.rng.next() % 20 {
        0 => set_status(&mut l, 4, "Launch Failure", "Failure"),
        1 => set_status(&mut l, 7, "Launch was a Partial Failure", "Partial Failure"),
        _ => set_status(&mut l, 3, "Launch Successful", "Success"),
    }
    let at = net + g.rng.mins(8, 10);
    g.emit(at, Feed::Launches, &l);
    l["webcast_live"] = json!(false);
    add_video(&mut l, url, false);
    g.emit(net + m(35), Feed::Launches, &l);
}

/// Quieter changes every `lo..hi` minutes: dates moving days, statuses,
/// video links, a new item now and then, and edits that are no news.
fn background(g: &mut Gen, feed: Feed, mut items: Vec<Value>, lo: i64, hi: i64) {
    let mut at = g.start + g.rng.mins(0, lo);
    while at < g.end {
        let i = (g.rng.next() % items.len() as u64) as usize;
        match g.rng.next() % 10 {
            0..=2 => {
                let when = when_of(&items[i]).unwrap_or(at) + chrono::Duration::days(1 + (g.rng.next() % 5) as i64);
                set_when(&mut items[i], feed, when);
            }
            3 | 4 if feed == Feed::Launches => {
                let (id, name, abbrev) = *g.rng.pick(&[(1, "Go for Launch", "Go"), (8, "To Be Confirmed", "TBC")]);
                let same = items[i]["status"]["id"] == json!(id);
                let (id, name, abbrev) = if same { (2, "To Be Determined", "TBD") } else { (id, name, abbrev) };
                set_status(&mut items[i], id, name, abbrev);
            }
            3 | 4 => add_video(
                &mut items[i],
                format!("https://youtube.com/watch?v=event{}", g.seq + at.timestamp() as u64),
                false,
            ),
            5 => {
                let mut item = items[i].clone();
                item["id"] = g.fresh_id(feed);
                item["name"] = json!(format!("{} (new {})", item["name"].as_str().unwrap_or("Item"), g.seq));
                let when = at + chrono::Duration::days(4 + (g.rng.next() % 20) as i64);
                set_when(&mut item, feed, when);
                items.push(item);
                let last = items.len() - 1;
                g.emit(at, feed, &items[last].clone());
                at += g.rng.mins(lo, hi);
                continue;
            }
            _ => items[i]["description"] = json!(format!("Edited at {}", stamp(at))),
        }
        let item = items[i].clone();
        g.emit(at, feed, &item);
        at += g.rng.mins(lo, hi);
    }
}

// ---- the fake LL2 ----------------------------------------------------------

/// Each item's versions, oldest first.
type Versions = HashMap<(Feed, String), Vec<(DateTime<Utc>, Value)>>;

/// What the fake serves and what it saw.
struct Served {
    /// Versions of each item, oldest first, and the order items appeared.
    versions: Versions,
    order: Vec<(Feed, String)>,
    clock: Clock,
    origin: String,
    per_hour: u32,
    /// Simulated times of the counted requests, refused ones included.
    requests: Vec<DateTime<Utc>>,
    admitted: Vec<DateTime<Utc>>,
    refused: usize,
    /// Admitted targeted queries (`/launches/?id=`).
    targeted: usize,
    verbose: bool,
}

impl Served {
    fn new(timeline: &Timeline, clock: Clock, origin: String, per_hour: u32) -> Served {
        let mut versions: Versions = HashMap::new();
        let mut order = Vec::new();
        for e in &timeline.entries {
            let key = (e.feed, id_of(&e.item));
            let list = versions.entry(key.clone()).or_default();
            if list.is_empty() {
                order.push(key);
            }
            list.push((e.at, e.item.clone()));
        }
        Served {
            versions,
            order,
            clock,
            origin,
            per_hour,
            requests: Vec::new(),
            admitted: Vec::new(),
            refused: 0,
            targeted: 0,
            verbose: false,
        }
    }

    /// The items of `feed` as LL2 has them at `now`.
    fn current(&self, feed: Feed, now: DateTime<Utc>) -> Vec<&Value> {
        self.order
            .iter()
            .filter(|(f, _)| *f == feed)
            .filter_map(|key| self.versions[key].iter().rev().find(|(at, _)| *at <= now).map(|(_, v)| v))
            .collect()
    }

    /// DRF's sliding-window throttle: `Some(wait_secs)` when over the limit.
    fn admit(&mut self, now: DateTime<Utc>) -> Option<i64> {
        self.requests.push(now);
        let window_start = now - chrono::Duration::hours(1);
        let in_window: Vec<_> = self.admitted.iter().filter(|t| **t > window_start).collect();
        if in_window.len() >= self.per_hour as usize {
            self.refused += 1;
            return Some((*in_window[0] + chrono::Duration::hours(1) - now).num_seconds().max(1));
        }
        self.admitted.push(now);
        None
    }

    fn answer(&mut self, uri: &Uri) -> (StatusCode, Vec<(header::HeaderName, String)>, Value) {
        let now = self.clock.now();
        let path = uri.path();
        if self.verbose {
            eprintln!("{:>14} {} {uri}", "request", stamp(now));
        }
        if path == "/2.3.0/api-throttle/" {
            let used = self.admitted.iter().filter(|t| **t > now - chrono::Duration::hours(1)).count();
            let body = json!({"your_request_limit": self.per_hour, "limit_frequency_secs": 3600,
                "current_use": used, "next_use_secs": 0, "ident": "127.0.0.1"});
            return (StatusCode::OK, vec![], body);
        }
        if let Some(wait) = self.admit(now) {
            let detail = format!("Request was throttled. Expected available in {wait} seconds.");
            return (
                StatusCode::TOO_MANY_REQUESTS,
                vec![(header::RETRY_AFTER, wait.to_string())],
                json!({"detail": detail}),
            );
        }
        let feed = match path {
            "/2.3.0/launches/upcoming/" | "/2.3.0/launches/" => Feed::Launches,
            "/2.3.0/events/upcoming/" | "/2.3.0/events/" => Feed::Events,
            _ => return (StatusCode::NOT_FOUND, vec![], json!({"detail": "Not found."})),
        };
        let params: Vec<(String, String)> =
            url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()).into_owned().collect();
        self.targeted += usize::from(params.iter().any(|(k, _)| k == "id"));
        (StatusCode::OK, vec![], self.list(feed, path, &params, now))
    }

    fn list(&self, feed: Feed, path: &str, params: &[(String, String)], now: DateTime<Utc>) -> Value {
        let param = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        let mut items = self.current(feed, now);
        if let Some(since) = param("last_updated__gte").and_then(|t| t.parse::<DateTime<Utc>>().ok()) {
            items.retain(|v| v["last_updated"].as_str().and_then(|t| t.parse::<DateTime<Utc>>().ok()) >= Some(since));
        }
        if let Some(id) = param("id") {
            items.retain(|v| id_of(v) == id);
        }
        let by_updated = param("ordering") == Some("last_updated");
        items.sort_by_key(|v| {
            let key = if by_updated { v["last_updated"].as_str().and_then(|t| t.parse().ok()) } else { when_of(v) };
            (key, id_of(v))
        });
        let limit = param("limit").and_then(|l| l.parse::<usize>().ok()).filter(|l| *l > 0).unwrap_or(10).min(100);
        let offset = param("offset").and_then(|o| o.parse::<usize>().ok()).unwrap_or(0);
        let count = items.len();
        let next = (offset + limit < count).then(|| {
            let mut pairs: Vec<(String, String)> =
                params.iter().filter(|(k, _)| k != "limit" && k != "offset").cloned().collect();
            pairs.push(("limit".into(), limit.to_string()));
            pairs.push(("offset".into(), (offset + limit).to_string()));
            let q = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
            format!("{}{path}?{q}", self.origin)
        });
        let page: Vec<&Value> = items.into_iter().skip(offset).take(limit).collect();
        json!({"count": count, "next": next, "previous": null, "results": page})
    }
}

type Shared = Arc<Mutex<Served>>;

async fn handle(State(served): State<Shared>, uri: Uri) -> Response {
    let (status, headers, body) = served.lock().unwrap_or_else(|e| e.into_inner()).answer(&uri);
    let mut response = (status, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response();
    for (name, value) in headers {
        if let Ok(value) = value.parse() {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

async fn start_fake(timeline: &Timeline, clock: Clock, per_hour: u32) -> std::io::Result<(SocketAddr, Shared)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let served = Arc::new(Mutex::new(Served::new(timeline, clock, format!("http://{addr}"), per_hour)));
    let app = axum::Router::new().fallback(handle).with_state(served.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((addr, served))
}

// ---- measuring -------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    FinalHour,
    OtherLaunches,
    Events,
}

impl Class {
    pub const ALL: [Class; 3] = [Class::FinalHour, Class::OtherLaunches, Class::Events];

    fn label(self) -> &'static str {
        match self {
            Class::FinalHour => "final-hour",
            Class::OtherLaunches => "other launches",
            Class::Events => "events",
        }
    }
}

/// One change that must alert.
#[derive(Debug, Clone)]
struct Expected {
    key: String,
    kind: AlertKind,
    at: DateTime<Utc>,
    class: Class,
}

/// The alert-worthy changes of the timeline after its start, by the
/// detection rules themselves.
fn expected_changes(timeline: &Timeline) -> Vec<Expected> {
    let mut known: HashMap<String, tminus::item::Item> = HashMap::new();
    let mut out = Vec::new();
    for e in &timeline.entries {
        let Ok(mut item) = item_from_value(e.feed, e.item.clone()) else { continue };
        let key = item.id.key();
        let old = known.get(&key);
        if let Some(old) = old {
            item.keep_known(old);
        }
        if e.at >= timeline.start {
            let class = match (e.feed, old.and_then(|o| o.when).or(item.when)) {
                (Feed::Events, _) => Class::Events,
                (Feed::Launches, Some(net)) if (net - e.at).abs() <= chrono::Duration::hours(1) => Class::FinalHour,
                (Feed::Launches, _) => Class::OtherLaunches,
            };
            // The same rule as the poller: a correction after lift-off
            // rides with the status, or is not news at all.
            for change in detect::fold_after_liftoff(detect::detect(old, &item), &item, e.at) {
                out.push(Expected { key: key.clone(), kind: change.kind(), at: e.at, class });
            }
        }
        known.insert(key, item);
    }
    out
}

#[derive(Debug, Clone, Default)]
pub struct ClassStats {
    pub delays: Vec<f64>,
}

impl ClassStats {
    pub fn mean(&self) -> f64 {
        if self.delays.is_empty() { 0.0 } else { self.delays.iter().sum::<f64>() / self.delays.len() as f64 }
    }

    /// Nearest-rank 95th percentile.
    pub fn p95(&self) -> f64 {
        let mut d = self.delays.clone();
        d.sort_by(f64::total_cmp);
        let rank = ((d.len() as f64 * 0.95).ceil() as usize).max(1);
        d.get(rank - 1).copied().unwrap_or(0.0)
    }
}

#[derive(Debug, Clone)]
pub struct Report {
    pub strategy: Strategy,
    pub per_hour: u32,
    pub hours: f64,
    pub stats: HashMap<Class, ClassStats>,
    pub missed: usize,
    /// Changes replaced by a later change of the same kind before any alert.
    pub superseded: usize,
    pub requests: usize,
    pub allowed: u64,
    /// Most counted requests in any sliding hour.
    pub busiest_hour: usize,
    pub refused: usize,
    /// Targeted queries of one launch among the requests.
    pub targeted: usize,
}

impl Report {
    /// The closing line, in the documented format.
    pub fn line(&self) -> String {
        let classes: Vec<String> = Class::ALL
            .iter()
            .map(|c| {
                let s = &self.stats[c];
                format!("{} mean {:.0}s p95 {:.0}s (n {})", c.label(), s.mean(), s.p95(), s.delays.len())
            })
            .collect();
        format!("freshness: {}; requests {} of {} allowed", classes.join("; "), self.requests, self.allowed)
    }
}

fn busiest_hour(times: &[DateTime<Utc>]) -> usize {
    (0..times.len())
        .map(|i| times[i..].iter().take_while(|t| **t < times[i] + chrono::Duration::hours(1)).count())
        .max()
        .unwrap_or(0)
}

// ---- running ---------------------------------------------------------------

#[derive(Debug, Clone, Copy)]
pub struct SimOptions {
    pub per_hour: u32,
    pub strategy: Strategy,
    /// Print every measured change to stderr.
    pub verbose: bool,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Runs the simulation on a fresh current-thread runtime whose clock starts
/// paused, so simulated time passes as fast as the code runs.
pub fn run_paused(timeline: &Timeline, opts: SimOptions) -> Result<Report, BoxError> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build()?;
    runtime.block_on(simulate(timeline, opts))
}

/// The real poller against the fake for the timeline's hours, then the
/// committed alerts matched with the timeline's changes.
pub async fn simulate(timeline: &Timeline, opts: SimOptions) -> Result<Report, BoxError> {
    let verbose = opts.verbose;
    let clock = Clock::tokio_from(timeline.start);
    let (addr, served) = start_fake(timeline, clock.clone(), opts.per_hour).await?;
    served.lock().unwrap_or_else(|e| e.into_inner()).verbose = verbose;
    let dir = tempfile::tempdir()?;
    let store = Store::open(&dir.path().join("store"))?;
    let subs = Subscriptions::load(store.clone())?;
    subs.reconcile(&[default_console_watch(chrono_tz::UTC, vec![])])?;
    let ll2 = Ll2Config {
        base_url: format!("http://{addr}/2.3.0"),
        api_key: Secret::default(),
        requests_per_hour: opts.per_hour,
        feeds: Feed::ALL.to_vec(),
        resweep_interval: Duration::from_secs(6 * 3600),
        timeout: Duration::from_secs(30),
        max_body_bytes: 20_000_000,
    };
    let config = PollerConfig::from_ll2(&ll2, false);
    let stop = tokio_util::sync::CancellationToken::new();
    let client = tminus::ll2::Client::new(&ll2)?;
    let wake = Arc::new(tokio::sync::Notify::new());
    let poller = Poller::new(client, store.clone(), subs.index(), config, wake, stop.clone())?
        .with_clock(clock.clone())?
        .with_strategy(opts.strategy);
    let task = tokio::spawn(poller.run());
    let run_for = (timeline.end() - clock.now()).to_std().unwrap_or_default();
    tokio::time::sleep(run_for).await;
    stop.cancel();
    task.await?;

    let mut committed: HashMap<(String, AlertKind), Vec<DateTime<Utc>>> = HashMap::new();
    for (_, entry) in store.pending(usize::MAX)? {
        if let Some(alert) = store.alert(entry.alert)? {
            // One alert carries every change of one update.
            for change in &alert.changes {
                committed.entry((alert.item.id.key(), change.kind())).or_default().push(entry.enqueued_at);
            }
        }
    }
    committed.values_mut().for_each(|v| v.sort());
    let mut stats: HashMap<Class, ClassStats> = Class::ALL.iter().map(|c| (*c, ClassStats::default())).collect();
    let (mut missed, mut superseded) = (0, 0);
    let expected = expected_changes(timeline);
    for (i, e) in expected.iter().enumerate() {
        let first = committed.get(&(e.key.clone(), e.kind)).and_then(|t| t.iter().find(|t| **t >= e.at));
        // A change the item's next change of the same kind replaced before
        // any alert (a hold already lifted, a slip slipped again) has no
        // alert of its own; the next one is measured instead.
        let replaced = expected[i + 1..]
            .iter()
            .find(|n| n.key == e.key && n.kind == e.kind)
            .is_some_and(|n| first.is_none_or(|t| n.at <= *t));
        match first {
            _ if replaced => superseded += 1,
            Some(t) => {
                let delay = (*t - e.at).num_milliseconds() as f64 / 1000.0;
                if verbose {
                    eprintln!("{:>14} {:>8.0}s {} {} at {}", e.class.label(), delay, e.kind, e.key, stamp(e.at));
                }
                stats.entry(e.class).or_default().delays.push(delay);
            }
            None => missed += 1,
        }
    }
    let served = served.lock().unwrap_or_else(|e| e.into_inner());
    Ok(Report {
        strategy: opts.strategy,
        per_hour: opts.per_hour,
        hours: timeline.hours,
        stats,
        missed,
        superseded,
        requests: served.requests.len(),
        allowed: (opts.per_hour as f64 * timeline.hours).floor() as u64,
        busiest_hour: busiest_hour(&served.requests),
        refused: served.refused,
        targeted: served.targeted,
    })
}

#[derive(Parser)]
#[command(about = "Simulates LL2 timelines against the real poller and measures alert freshness")]
struct Args {
    /// JSON Lines timeline (see the example's documentation); default: built-in.
    #[arg(long)]
    timeline: Option<PathBuf>,
    #[arg(long, default_value_t = 15)]
    requests_per_hour: u32,
    /// Seed of the built-in timeline.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Length of the built-in timeline.
    #[arg(long, default_value_t = 48)]
    hours: u32,
    /// Run the historic uniform schedule instead.
    #[arg(long)]
    uniform: bool,
    /// Save the timeline used (JSON Lines) here.
    #[arg(long)]
    write_timeline: Option<PathBuf>,
    /// Print every measured change and its delay to stderr.
    #[arg(long)]
    verbose: bool,
}

fn main() {
    let args = Args::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,sled=warn"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
    if let Err(e) = run(args) {
        eprintln!("freshness: error: {e}");
        std::process::exit(1);
    }
}

fn run(args: Args) -> Result<(), BoxError> {
    let timeline = match &args.timeline {
        Some(path) => Timeline::load(path)?,
        None => builtin(args.seed, args.hours),
    };
    if let Some(path) = &args.write_timeline {
        std::fs::write(path, timeline.to_jsonl())?;
    }
    let strategy = if args.uniform { Strategy::Uniform } else { Strategy::FollowTheNews };
    let began = std::time::Instant::now();
    let report =
        run_paused(&timeline, SimOptions { per_hour: args.requests_per_hour, strategy, verbose: args.verbose })?;
    println!(
        "{:?} schedule, {} requests/hour, {} h simulated in {:.1} s; {} timeline lines",
        report.strategy,
        report.per_hour,
        report.hours,
        began.elapsed().as_secs_f64(),
        timeline.entries.len()
    );
    println!(
        "busiest hour {} requests (limit {}); refused by LL2 {}; targeted queries {}; changes never alerted {}; replaced before alerting {}",
        report.busiest_hour, report.per_hour, report.refused, report.targeted, report.missed, report.superseded
    );
    println!("{}", report.line());
    Ok(())
}
