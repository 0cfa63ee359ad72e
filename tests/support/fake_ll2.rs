//! A fake Launch Library 2 server for integration tests.
//!
//! It serves real fixture objects (as `serde_json::Value`) the way LL2 2.3.0
//! does: DRF pagination, filtering, ordering, the throttle answer, and
//! faults on demand. Everything runs in-process on `127.0.0.1:<random port>`
//! inside the test's tokio runtime; dropping the `FakeLl2` stops it.
//!
//! ```ignore
//! mod support;
//! use support::fake_ll2::{FakeLl2, Fault};
//! use tminus::types::Feed;
//!
//! #[tokio::test]
//! async fn example() {
//!     let fake = FakeLl2::start().await;                 // 5 launches, 5 events
//!     let cfg = fake.ll2_config();                       // Ll2Config aimed at the fake
//!     let client = tminus::ll2::Client::new(&cfg).unwrap();
//!     fake.set_field(Feed::Launches, "69ebbcd2-b257-4070-9ef9-21e7d1f8a883",
//!                    "/status/abbrev", "TBC");           // also bumps last_updated
//!     fake.push_fault(Fault::Throttle { secs: 900, header: true });
//!     // ... run the code under test, then assert on what the server saw:
//!     assert_eq!(fake.request_count("/2.3.0/launches/"), 1);
//! }
//! ```
//!
//! Data: launches come from `launches-2.3.0-upcoming-detailed.json`, events
//! from `events-2.3.0-upcoming-detailed.json` (choose others with
//! [`FakeLl2::builder`]). Dates (`net`, `window_start`, `window_end`, `date`)
//! are shifted so the earliest item of each feed is two days from now,
//! keeping relative spacing; `last_updated` values are rewritten to distinct
//! times in the last hours, in the fixture's original order.
//!
//! Server clock: every mutation stamps `last_updated` with a new server time,
//! strictly increasing with whole seconds (like LL2). Many quick mutations
//! therefore run the server clock a little ahead of real time.
//!
//! Endpoints (all under `/2.3.0`, trailing slash required like LL2):
//! - `/{launches|events}/upcoming/` and `/{launches|events}/`: list with
//!   `limit` (default 10, max 100), `offset`, `ordering` (`field` or
//!   `-field`, any top-level field; default `net` / `date`),
//!   `last_updated__gte` (RFC 3339), `id` (one id or a comma-separated
//!   list), `mode` (accepted,
//!   ignored). There is no "upcoming" cut-off: every stored item is served;
//!   use `remove_item`.
//! - `/{launches|events}/{id}/`: one item.
//! - `/api-throttle/`: the rate-limit state; free (not counted, no faults).
//!
//! Every other request is *counted*: it is subject to the rate limit, then
//! consumes the next queued [`Fault`], if any, then runs the test's
//! [`FakeLl2::on_request`] hook (LL2 changing between two pages).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::State as AxState;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::Response;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};
use tminus::config::Ll2Config;
use tminus::types::{Feed, ItemKind, Secret};

/// Either a [`Feed`] or an [`ItemKind`], so tests can use whichever they hold.
pub trait Collection: Copy {
    fn feed(self) -> Feed;
}
impl Collection for Feed {
    fn feed(self) -> Feed {
        self
    }
}
impl Collection for ItemKind {
    fn feed(self) -> Feed {
        ItemKind::feed(self)
    }
}

/// A misbehaviour applied to the next counted request (queue order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// HTTP 429 with DRF's `{"detail": "... Expected available in N seconds."}`,
    /// plus `Retry-After: N` when `header`.
    Throttle { secs: u64, header: bool },
    /// This HTTP status with a small JSON `detail` body.
    Status(u16),
    /// HTTP 200 with an HTML page (a proxy's error page).
    Html,
    /// HTTP 200 with the first half of the real JSON answer.
    Truncated,
    /// Waits this long, then answers normally.
    Slow(Duration),
    /// HTTP 200 with `{"detail": "Not found."}`.
    ErrorObject,
    /// The normal answer, but `next` points at `http://foreign.invalid/...`.
    ForeignNext,
}

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    /// Raw query string, without `?`.
    pub query: Option<String>,
    /// The `Authorization` header, verbatim.
    pub authorization: Option<String>,
    /// With `expected_api_key`: whether `Authorization: Token KEY` matched.
    pub key_matched: Option<bool>,
    /// Counted against the rate limit (everything but `/api-throttle/`).
    pub counted: bool,
    /// Status the server answered with.
    pub status: u16,
}

impl RecordedRequest {
    /// The decoded value of query parameter `name`.
    pub fn param(&self, name: &str) -> Option<String> {
        let query = self.query.as_deref()?;
        url::form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
    }
}

enum Source {
    Fixture(PathBuf),
    Empty,
}

/// Options for [`FakeLl2`]; start with [`FakeLl2::builder`].
pub struct FakeLl2Builder {
    launches: Source,
    events: Source,
    rate_limit: Option<(u32, Duration)>,
    expected_api_key: Option<String>,
    shift_dates: bool,
}

impl FakeLl2Builder {
    /// Launches from this fixture: a file name in `tests/fixtures/ll2/` or a
    /// path. Envelope or bare `results` array.
    pub fn launches_fixture(mut self, file: &str) -> Self {
        self.launches = Source::Fixture(fixture_path(file));
        self
    }
    /// Events from this fixture (see `launches_fixture`).
    pub fn events_fixture(mut self, file: &str) -> Self {
        self.events = Source::Fixture(fixture_path(file));
        self
    }
    /// Start with no launches.
    pub fn no_launches(mut self) -> Self {
        self.launches = Source::Empty;
        self
    }
    /// Start with no events.
    pub fn no_events(mut self) -> Self {
        self.events = Source::Empty;
        self
    }
    /// Enforce LL2-style throttling: at most `n` counted requests per sliding
    /// `window` (DRF's algorithm); beyond, HTTP 429 with `Retry-After` and the
    /// DRF detail. `/api-throttle/` reports `n` and `window`.
    pub fn with_rate_limit(mut self, n: u32, window: Duration) -> Self {
        self.rate_limit = Some((n, window));
        self
    }
    /// Record in `key_matched` whether each request sent `Token KEY`. The
    /// server answers normally either way.
    pub fn expected_api_key(mut self, key: &str) -> Self {
        self.expected_api_key = Some(key.to_string());
        self
    }
    /// Keep fixture dates and `last_updated` verbatim (for parser checks).
    pub fn keep_dates(mut self) -> Self {
        self.shift_dates = false;
        self
    }

    pub async fn start(self) -> FakeLl2 {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind fake LL2");
        let addr = listener.local_addr().expect("fake LL2 address");
        let launches = load(&self.launches);
        let events = load(&self.events);
        let mut state = ServerState {
            items: [events, launches],
            clock: Utc::now(),
            origin: format!("http://{addr}"),
            requests: Vec::new(),
            bytes: 0,
            faults: VecDeque::new(),
            rate_limit: self.rate_limit,
            history: VecDeque::new(),
            expected_api_key: self.expected_api_key,
            next_seq: 1,
            hook: None,
        };
        if self.shift_dates {
            state.shift_to_future();
        } else {
            let newest = state.items.iter().flatten().filter_map(|v| date(v, "last_updated")).max();
            state.clock = state.clock.max(newest.unwrap_or(state.clock));
        }
        let shared = Arc::new(Mutex::new(state));
        let app = axum::Router::new().fallback(handle).with_state(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeLl2 { addr, state: shared, task }
    }
}

/// The running fake server. Cheap accessors; all methods are synchronous.
pub struct FakeLl2 {
    addr: SocketAddr,
    state: Arc<Mutex<ServerState>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeLl2 {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeLl2 {
    /// Default data (2.3.0 detailed launches and events), no rate limit.
    pub async fn start() -> FakeLl2 {
        Self::builder().start().await
    }

    pub fn builder() -> FakeLl2Builder {
        FakeLl2Builder {
            launches: Source::Fixture(fixture_path("launches-2.3.0-upcoming-detailed.json")),
            events: Source::Fixture(fixture_path("events-2.3.0-upcoming-detailed.json")),
            rate_limit: None,
            expected_api_key: None,
            shift_dates: true,
        }
    }

    /// `http://127.0.0.1:PORT/2.3.0`, the value for `[ll2].base_url`.
    pub fn base_url(&self) -> String {
        format!("http://{}/2.3.0", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// An `Ll2Config` aimed at this server: no key, 15 requests/hour, both
    /// feeds, 5 s timeout, 20 MB body cap. Adjust fields as needed.
    pub fn ll2_config(&self) -> Ll2Config {
        Ll2Config {
            base_url: self.base_url(),
            api_key: Secret::default(),
            requests_per_hour: 15,
            feeds: Feed::ALL.to_vec(),
            resweep_interval: Duration::from_secs(6 * 3600),
            timeout: Duration::from_secs(5),
            max_body_bytes: 20_000_000,
        }
    }

    // ---- data ----------------------------------------------------------

    /// All items of a feed, in storage order.
    pub fn items(&self, kind: impl Collection) -> Vec<Value> {
        self.lock().items[idx(kind)].clone()
    }

    pub fn ids(&self, kind: impl Collection) -> Vec<String> {
        self.lock().items[idx(kind)].iter().map(id_of).collect()
    }

    pub fn item(&self, kind: impl Collection, id: impl ToString) -> Option<Value> {
        let id = id.to_string();
        self.lock().items[idx(kind)].iter().find(|v| id_of(v) == id).cloned()
    }

    /// The last time the server clock handed out.
    pub fn now(&self) -> DateTime<Utc> {
        self.lock().clock
    }

    /// Edits an item with `f`, then stamps a new `last_updated` (unless `f`
    /// changed `last_updated` itself). Returns the item's `last_updated`.
    /// Panics if the item does not exist.
    pub fn update(&self, kind: impl Collection, id: impl ToString, f: impl FnOnce(&mut Value)) -> DateTime<Utc> {
        let id = id.to_string();
        let mut st = self.lock();
        let stamp = st.next_stamp();
        let item = st.items[idx(kind)]
            .iter_mut()
            .find(|v| id_of(v) == id)
            .unwrap_or_else(|| panic!("fake LL2 has no {} {id}", kind.feed()));
        let before = item.get("last_updated").cloned();
        f(item);
        if item.get("last_updated") == before.as_ref() {
            item["last_updated"] = json!(fmt(stamp));
        }
        date(item, "last_updated").expect("last_updated must stay RFC 3339")
    }

    /// Sets one field and bumps `last_updated`. `field` is a top-level key
    /// (`"net"`) or a JSON pointer (`"/status/abbrev"`, `"/vid_urls/0/live"`);
    /// the last segment is created if missing.
    pub fn set_field(
        &self,
        kind: impl Collection,
        id: impl ToString,
        field: &str,
        value: impl Into<Value>,
    ) -> DateTime<Utc> {
        let value = value.into();
        self.update(kind, id, |item| set_path(item, field, value))
    }

    /// Bumps `last_updated` only (the "nothing visible changed" edit).
    pub fn touch(&self, kind: impl Collection, id: impl ToString) -> DateTime<Utc> {
        self.update(kind, id, |_| {})
    }

    /// Every booster of launch `id` landed (`true`) or was lost (`false`),
    /// in one LL2 edit.
    pub fn land_boosters(&self, id: impl ToString, success: bool) -> DateTime<Utc> {
        self.update(Feed::Launches, id, |item| {
            for stage in item["rocket"]["launcher_stage"].as_array_mut().expect("a launch with stages") {
                stage["landing"]["success"] = json!(success);
            }
        })
    }

    /// Adds an item (must have an `id`), stamped with a new `last_updated`.
    /// Returns its id.
    pub fn add_item(&self, kind: impl Collection, mut item: Value) -> String {
        let mut st = self.lock();
        item["last_updated"] = json!(fmt(st.next_stamp()));
        let id = id_of(&item);
        assert!(!id.is_empty(), "add_item needs an object with an `id`");
        st.items[idx(kind)].push(item);
        id
    }

    /// Removes an item (it left the upcoming list). Returns it if present.
    pub fn remove_item(&self, kind: impl Collection, id: impl ToString) -> Option<Value> {
        let id = id.to_string();
        let list = &mut self.lock().items[idx(kind)];
        let pos = list.iter().position(|v| id_of(v) == id)?;
        Some(list.remove(pos))
    }

    /// Adds `n` clones of existing items with fresh ids (UUID-like for
    /// launches, 900000+ for events), distinct names, dates one hour apart
    /// after the latest item, and new `last_updated` stamps. Returns the ids.
    pub fn add_many(&self, kind: impl Collection, n: usize) -> Vec<String> {
        let feed = kind.feed();
        let mut st = self.lock();
        let templates = st.items[idx(feed)].clone();
        assert!(!templates.is_empty(), "add_many needs at least one {feed} to clone");
        let latest = templates.iter().filter_map(when).max().unwrap_or_else(Utc::now);
        let mut ids = Vec::with_capacity(n);
        for k in 0..n {
            let mut item = templates[k % templates.len()].clone();
            let seq = st.next_seq;
            st.next_seq += 1;
            let id = match feed {
                Feed::Launches => json!(format!("fa4e0000-0000-4000-8000-{seq:012x}")),
                Feed::Events => json!(900_000 + seq),
            };
            let target = latest + chrono::Duration::hours(k as i64 + 1);
            let delta = target - when(&item).unwrap_or(target);
            shift_dates(&mut item, delta);
            let name = item["name"].as_str().unwrap_or("Clone").to_string();
            item["name"] = json!(format!("{name} #{seq}"));
            item["slug"] = json!(format!("clone-{seq}"));
            item["id"] = id;
            let id = id_of(&item);
            item["url"] = json!(format!("{}/2.3.0/{feed}/{id}/", st.origin));
            item["last_updated"] = json!(fmt(st.next_stamp()));
            ids.push(id);
            st.items[idx(feed)].push(item);
        }
        ids
    }

    // ---- faults --------------------------------------------------------

    pub fn push_fault(&self, fault: Fault) {
        self.lock().faults.push_back(fault);
    }

    pub fn push_faults(&self, faults: impl IntoIterator<Item = Fault>) {
        self.lock().faults.extend(faults);
    }

    /// Faults not consumed yet.
    pub fn pending_faults(&self) -> usize {
        self.lock().faults.len()
    }

    pub fn clear_faults(&self) {
        self.lock().faults.clear();
    }

    /// Runs `hook` before answering every counted request, with the path and
    /// query asked (`/2.3.0/launches/upcoming/?limit=100…`): a list that
    /// changes between two pages of a sweep. Replaces any earlier hook.
    pub fn on_request(&self, hook: impl FnMut(&str, &mut World<'_>) + Send + 'static) {
        self.lock().hook = Some(Box::new(hook));
    }

    // ---- observations --------------------------------------------------

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.lock().requests.clone()
    }

    /// Requests whose path starts with `path_prefix` (e.g. `"/2.3.0/events/"`).
    pub fn request_count(&self, path_prefix: &str) -> usize {
        self.lock().requests.iter().filter(|r| r.path.starts_with(path_prefix)).count()
    }

    /// Requests subject to the rate limit and faults (all but
    /// `/api-throttle/`), including those the rate limit refused.
    pub fn counted_requests(&self) -> usize {
        self.lock().requests.iter().filter(|r| r.counted).count()
    }

    /// Total response body bytes sent.
    pub fn bytes_served(&self) -> u64 {
        self.lock().bytes
    }

    /// Forgets recorded requests and served bytes (not the rate-limit history).
    pub fn clear_requests(&self) {
        let mut st = self.lock();
        st.requests.clear();
        st.bytes = 0;
    }

    fn lock(&self) -> MutexGuard<'_, ServerState> {
        // A panicking test thread must not hide the server's state from others.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

// ---- server internals ------------------------------------------------------

struct ServerState {
    /// `[events, launches]`, indexed by `idx`.
    items: [Vec<Value>; 2],
    clock: DateTime<Utc>,
    origin: String,
    requests: Vec<RecordedRequest>,
    bytes: u64,
    faults: VecDeque<Fault>,
    rate_limit: Option<(u32, Duration)>,
    /// Arrival times of admitted counted requests (DRF's throttle history).
    history: VecDeque<Instant>,
    expected_api_key: Option<String>,
    next_seq: u64,
    hook: Option<Hook>,
}

/// A test's edit of the data before a counted request is answered.
type Hook = Box<dyn FnMut(&str, &mut World<'_>) + Send>;

/// The server's data as an [`FakeLl2::on_request`] hook sees it.
pub struct World<'a> {
    st: &'a mut ServerState,
}

impl World<'_> {
    /// The items of a feed, in storage order; edit them freely.
    pub fn items_mut(&mut self, kind: impl Collection) -> &mut Vec<Value> {
        &mut self.st.items[idx(kind)]
    }

    /// The next server time, for a `last_updated` stamp (strictly
    /// increasing, like every mutation's).
    pub fn stamp(&mut self) -> String {
        let t = self.st.next_stamp();
        fmt(t)
    }
}

struct Reply {
    status: u16,
    html: bool,
    body: Vec<u8>,
    retry_after: Option<u64>,
    delay: Option<Duration>,
}

impl Reply {
    fn json(status: u16, value: &Value) -> Reply {
        let body = serde_json::to_vec(value).expect("serialize JSON");
        Reply { status, html: false, body, retry_after: None, delay: None }
    }
    fn throttled(secs: u64, header: bool) -> Reply {
        let detail = format!("Request was throttled. Expected available in {secs} seconds.");
        Reply { retry_after: header.then_some(secs), ..Reply::json(429, &json!({ "detail": detail })) }
    }
}

const DEFAULT_WINDOW: Duration = Duration::from_secs(3600);

impl ServerState {
    fn next_stamp(&mut self) -> DateTime<Utc> {
        let now = trunc(Utc::now());
        self.clock = now.max(trunc(self.clock) + chrono::Duration::seconds(1));
        self.clock
    }

    fn shift_to_future(&mut self) {
        let now = trunc(Utc::now());
        for list in &mut self.items {
            if let Some(earliest) = list.iter().filter_map(when).min() {
                let delta = now + chrono::Duration::days(2) - earliest;
                list.iter_mut().for_each(|v| shift_dates(v, delta));
            }
        }
        // Distinct past stamps, one minute apart, in the fixtures' order.
        let mut order: Vec<(Option<DateTime<Utc>>, usize, usize)> = Vec::new();
        for (f, list) in self.items.iter().enumerate() {
            order.extend(list.iter().enumerate().map(|(i, v)| (date(v, "last_updated"), f, i)));
        }
        order.sort();
        let n = order.len() as i64;
        for (rank, (_, f, i)) in order.into_iter().enumerate() {
            let stamp = now - chrono::Duration::minutes(n - rank as i64);
            self.items[f][i]["last_updated"] = json!(fmt(stamp));
        }
        self.clock = now - chrono::Duration::minutes(1);
    }

    fn window(&self) -> (u32, Duration) {
        self.rate_limit.unwrap_or((15, DEFAULT_WINDOW))
    }

    /// DRF's SimpleRateThrottle: `Some(wait_secs)` when over the limit.
    fn admit(&mut self) -> Option<u64> {
        let (limit, window) = self.window();
        let now = Instant::now();
        while self.history.front().is_some_and(|t| now.duration_since(*t) >= window) {
            self.history.pop_front();
        }
        if self.rate_limit.is_some() && self.history.len() >= limit as usize {
            let oldest = self.history.front().copied().unwrap_or(now);
            let wait = window.saturating_sub(now.duration_since(oldest));
            return Some(wait.as_secs_f64().ceil().max(1.0) as u64);
        }
        self.history.push_back(now);
        None
    }

    fn throttle_answer(&mut self) -> Reply {
        let (limit, window) = self.window();
        let now = Instant::now();
        let in_window: Vec<Instant> =
            self.history.iter().copied().filter(|t| now.duration_since(*t) < window).collect();
        let next_use = match (self.rate_limit, in_window.first()) {
            (Some(_), Some(oldest)) if in_window.len() >= limit as usize => {
                window.saturating_sub(now.duration_since(*oldest)).as_secs_f64().ceil() as u64
            }
            _ => 0,
        };
        Reply::json(
            200,
            &json!({
                "your_request_limit": limit,
                "limit_frequency_secs": window.as_secs(),
                "current_use": in_window.len(),
                "next_use_secs": next_use,
                "ident": "127.0.0.1",
            }),
        )
    }

    fn route(&self, path: &str, query: &str, foreign_next: bool) -> Reply {
        let not_found = || Reply::json(404, &json!({"detail": "Not found."}));
        let Some(rest) = path.strip_prefix("/2.3.0/").and_then(|r| r.strip_suffix('/')) else {
            return not_found();
        };
        let segments: Vec<&str> = rest.split('/').collect();
        let Some(feed) = segments.first().and_then(|s| s.parse::<Feed>().ok()) else {
            return not_found();
        };
        match segments[1..] {
            [] | ["upcoming"] => self.list(feed, path, query, foreign_next),
            [id] => match self.items[idx(feed)].iter().find(|v| id_of(v) == id) {
                Some(item) => Reply::json(200, item),
                None => not_found(),
            },
            _ => not_found(),
        }
    }

    fn list(&self, feed: Feed, path: &str, query: &str, foreign_next: bool) -> Reply {
        let params: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
        let param = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        let mut items: Vec<&Value> = self.items[idx(feed)].iter().collect();
        if let Some(text) = param("last_updated__gte") {
            let Ok(since) = DateTime::parse_from_rfc3339(text) else {
                return Reply::json(400, &json!({"last_updated__gte": ["Enter a valid date/time."]}));
            };
            items.retain(|v| date(v, "last_updated").is_some_and(|t| t >= since));
        }
        if let Some(ids) = param("id") {
            // LL2's id filter takes one id or a comma-separated list.
            let ids: Vec<&str> = ids.split(',').collect();
            items.retain(|v| ids.contains(&id_of(v).as_str()));
        }
        let default_order = if feed == Feed::Launches { "net" } else { "date" };
        let ordering = param("ordering").unwrap_or(default_order);
        let (desc, field) = match ordering.strip_prefix('-') {
            Some(f) => (true, f),
            None => (false, ordering),
        };
        items.sort_by(|a, b| {
            let o = compare(a.get(field), b.get(field)).then_with(|| id_of(a).cmp(&id_of(b)));
            if desc { o.reverse() } else { o }
        });
        let limit = param("limit").and_then(|l| l.parse::<usize>().ok()).filter(|l| *l > 0).unwrap_or(10).min(100);
        let offset = param("offset").and_then(|o| o.parse::<usize>().ok()).unwrap_or(0);
        let count = items.len();
        let page: Vec<&Value> = items.into_iter().skip(offset).take(limit).collect();
        // DRF's replace_query_param: same parameters, sorted, new limit/offset.
        let link = |origin: &str, new_offset: Option<usize>| {
            let mut pairs: Vec<(String, String)> =
                params.iter().filter(|(k, _)| k != "limit" && k != "offset").cloned().collect();
            pairs.push(("limit".into(), limit.to_string()));
            if let Some(o) = new_offset {
                pairs.push(("offset".into(), o.to_string()));
            }
            pairs.sort();
            let q = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
            format!("{origin}{path}?{q}")
        };
        let next = if foreign_next {
            json!(link("http://foreign.invalid", Some(offset + limit)))
        } else if offset + limit < count {
            json!(link(&self.origin, Some(offset + limit)))
        } else {
            Value::Null
        };
        let previous = match offset {
            0 => Value::Null,
            o if o <= limit => json!(link(&self.origin, None)),
            o => json!(link(&self.origin, Some(o - limit))),
        };
        Reply::json(200, &json!({"count": count, "next": next, "previous": previous, "results": page}))
    }
}

async fn handle(
    AxState(state): AxState<Arc<Mutex<ServerState>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let path = uri.path().to_string();
    let query = uri.query().unwrap_or("").to_string();
    let authorization = headers.get(header::AUTHORIZATION).map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let counted = path != "/2.3.0/api-throttle/";
    let reply = {
        let mut st = state.lock().unwrap_or_else(|e| e.into_inner());
        let reply = if method != Method::GET {
            Reply::json(405, &json!({"detail": format!("Method \"{method}\" not allowed.")}))
        } else if !counted {
            st.throttle_answer()
        } else if let Some(wait) = st.admit() {
            Reply::throttled(wait, true)
        } else {
            if let Some(mut hook) = st.hook.take() {
                hook(&format!("{path}?{query}"), &mut World { st: &mut st });
                st.hook = Some(hook);
            }
            match st.faults.pop_front() {
                None => st.route(&path, &query, false),
                Some(Fault::Throttle { secs, header }) => Reply::throttled(secs, header),
                Some(Fault::Status(code)) => Reply::json(code, &json!({"detail": "Simulated failure."})),
                Some(Fault::Html) => {
                    Reply { html: true, body: HTML_PAGE.as_bytes().to_vec(), ..Reply::json(200, &json!({})) }
                }
                Some(Fault::Truncated) => {
                    let mut full = st.route(&path, &query, false);
                    full.body.truncate(full.body.len() / 2);
                    full
                }
                Some(Fault::Slow(d)) => Reply { delay: Some(d), ..st.route(&path, &query, false) },
                Some(Fault::ErrorObject) => Reply::json(200, &json!({"detail": "Not found."})),
                Some(Fault::ForeignNext) => st.route(&path, &query, true),
            }
        };
        let key_matched =
            st.expected_api_key.as_ref().map(|key| authorization.as_deref() == Some(format!("Token {key}").as_str()));
        st.bytes += reply.body.len() as u64;
        st.requests.push(RecordedRequest {
            method: method.to_string(),
            path,
            query: uri.query().map(str::to_string),
            authorization,
            key_matched,
            counted,
            status: reply.status,
        });
        reply
    };
    if let Some(d) = reply.delay {
        tokio::time::sleep(d).await;
    }
    let mut builder = Response::builder()
        .status(StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header(header::CONTENT_TYPE, if reply.html { "text/html; charset=utf-8" } else { "application/json" });
    if let Some(secs) = reply.retry_after {
        builder = builder.header(header::RETRY_AFTER, secs.to_string());
    }
    builder.body(Body::from(reply.body)).expect("valid response")
}

const HTML_PAGE: &str = "<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\
<body><center><h1>502 Bad Gateway</h1></center><hr><center>cloudflare</center></body></html>\n";

// ---- helpers ---------------------------------------------------------------

fn idx(kind: impl Collection) -> usize {
    match kind.feed() {
        Feed::Events => 0,
        Feed::Launches => 1,
    }
}

fn fixture_path(file: &str) -> PathBuf {
    let p = PathBuf::from(file);
    if p.is_absolute() { p } else { PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ll2").join(p) }
}

fn load(source: &Source) -> Vec<Value> {
    let Source::Fixture(path) = source else {
        return Vec::new();
    };
    let text = std::fs::read(path).unwrap_or_else(|e| panic!("read fixture {}: {e}", path.display()));
    match serde_json::from_slice(&text).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display())) {
        Value::Array(items) => items,
        Value::Object(mut map) => match map.remove("results") {
            Some(Value::Array(items)) => items,
            _ => panic!("fixture {} has no `results` array", path.display()),
        },
        _ => panic!("fixture {} is neither an envelope nor an array", path.display()),
    }
}

fn id_of(v: &Value) -> String {
    match v.get("id") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

fn date(v: &Value, field: &str) -> Option<DateTime<Utc>> {
    v.get(field)?.as_str()?.parse().ok()
}

/// `net` of a launch or `date` of an event.
fn when(v: &Value) -> Option<DateTime<Utc>> {
    date(v, "net").or_else(|| date(v, "date"))
}

fn shift_dates(v: &mut Value, delta: chrono::Duration) {
    for field in ["net", "window_start", "window_end", "date"] {
        if let Some(t) = date(v, field) {
            v[field] = json!(fmt(t + delta));
        }
    }
}

fn fmt(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn trunc(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(t)
}

/// Orders JSON values like the database would: dates by time, numbers by
/// value, text by text; missing/null last.
fn compare(a: Option<&Value>, b: Option<&Value>) -> std::cmp::Ordering {
    use std::cmp::Ordering::*;
    let a = a.filter(|v| !v.is_null());
    let b = b.filter(|v| !v.is_null());
    match (a, b) {
        (None, None) => Equal,
        (None, Some(_)) => Greater,
        (Some(_), None) => Less,
        (Some(Value::Number(x)), Some(Value::Number(y))) => {
            x.as_f64().unwrap_or(0.0).total_cmp(&y.as_f64().unwrap_or(0.0))
        }
        (Some(Value::String(x)), Some(Value::String(y))) => {
            match (x.parse::<DateTime<Utc>>(), y.parse::<DateTime<Utc>>()) {
                (Ok(x), Ok(y)) => x.cmp(&y),
                _ => x.cmp(y),
            }
        }
        (Some(x), Some(y)) => x.to_string().cmp(&y.to_string()),
    }
}

/// Sets `field` (a top-level key or a JSON pointer) to `value`, creating the
/// last segment when missing.
fn set_path(item: &mut Value, field: &str, value: Value) {
    let Some(pointer) = field.strip_prefix('/') else {
        item[field] = value;
        return;
    };
    let (parent, last) = match pointer.rsplit_once('/') {
        Some((p, l)) => (format!("/{p}"), l),
        None => (String::new(), pointer),
    };
    let last = last.replace("~1", "/").replace("~0", "~");
    match item.pointer_mut(&parent) {
        Some(Value::Array(list)) => {
            let i: usize = last.parse().unwrap_or_else(|_| panic!("{field}: {last:?} is not an index"));
            assert!(i < list.len(), "{field}: index {i} out of range");
            list[i] = value;
        }
        Some(parent) => parent[last.as_str()] = value,
        None => panic!("set_field: {parent:?} does not exist in the item"),
    }
}
