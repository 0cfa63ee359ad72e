//! The optional HTTP server (`[server] listen`), started by `tminus run`:
//!
//! - `GET /healthz`: JSON with each configured feed's last successful poll
//!   and its age, its last error (message and time), the LL2 requests left
//!   this hour, the outbox depth and whether the store answers. `200` only
//!   when every feed was polled successfully within the threshold (`[server]
//!   health_max_age`, never less than two poll intervals); `503` otherwise,
//!   at once: a fresh install answers 503 until its first poll succeeds,
//!   with the error when LL2 fails. The last successful poll is the one the
//!   poller recorded in the feed's state in the store, so a restart
//!   remembers it; the last error lives in this process's metrics registry.
//!   It reads only O(1) things (each feed's state record, the store's
//!   outbox counter, the metrics), never a scan.
//! - `GET /`: the status page ([`crate::status_page`]), read-only HTML,
//!   rendered from a snapshot at most every [`PAGE_TTL`]: reading it
//!   decodes every subscription and item, so a burst of requests shares
//!   one render (they wait for it) instead of each scanning the store.
//! - `GET /calendar/{NAME|TOKEN}.ics`: iCalendar feeds, mounted by the app
//!   from `crate::calendar::http` (through `extra`).
//! - `GET /metrics`: Prometheus text from [`crate::metrics`], plus gauges
//!   read from the store (cached for a few seconds, since counting
//!   subscriptions reads them all).
//!
//! **Mounting more routes (Discord interactions).** `router` builds the
//! routes above as a plain `axum::Router` (state already applied), and
//! [`start`] takes an `extra: Option<axum::Router>` that is merged into it
//! before serving, so `POST /discord/interactions` lives on the same
//! listener:
//!
//! ```text
//! let interactions = axum::Router::new()
//!     .route("/discord/interactions", axum::routing::post(handle_interaction))
//!     .with_state(discord_state);          // -> axum::Router<()>
//! let (addr, task) = server::start(addr, state, Some(interactions), shutdown).await?;
//! ```
//!
//! Route paths must not collide with `/healthz` or `/metrics` (axum panics
//! on overlapping routes at merge time, i.e. at start-up, never later).
//!
//! **Bounds.** Every request must be answered within [`REQUEST_TIMEOUT`]
//! (10 s; tower-http's `TimeoutLayer`, 408 after it, which also bounds a
//! client that sends its body slowly): far above any honest answer here
//! (a snapshot, O(1) reads, Discord's own 3 s interaction deadline), so it
//! only cuts off what would hold a task forever. Every route but
//! `/healthz` shares [`MAX_IN_FLIGHT`] (64) requests in flight (tower's
//! `GlobalConcurrencyLimitLayer`; more wait for a slot): plenty for an
//! operator, a scraper, calendar clients and Discord's interactions at
//! once, and a flood can take no more than that many tasks (and blocking
//! threads) from polling and delivery. `/healthz` stays outside the limit
//! so a monitor is answered while a flood fills the slots; being O(1) it
//! needs no bound.
//!
//! The server stops gracefully when the app's shutdown token is
//! cancelled. It never logs request contents, so a Discord interaction body
//! (or anything else posted to it) does not end up in the logs.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::metrics::{self, Metrics, PollFailure, StoreGauges};
use crate::status_page::{self, FeedView, StatusView, UpcomingView};
use crate::store::{DestinationPause, ReminderKey, Store, StoreError};
use crate::types::Feed;

/// How long store-derived gauges of `/metrics` are reused.
const GAUGE_CACHE: Duration = Duration::from_secs(10);
/// How long a rendered status page is served again (see the module doc).
#[cfg_attr(feature = "testing", visibility::make(pub))]
pub(crate) const PAGE_TTL: Duration = Duration::from_secs(10);
/// The longest any request may take (see the module doc).
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Requests in flight on every route but `/healthz` (see the module doc).
#[cfg_attr(feature = "testing", visibility::make(pub))]
pub(crate) const MAX_IN_FLIGHT: usize = 64;

/// The staleness threshold actually applied: the configured
/// `health_max_age`, but never less than two poll intervals of one feed,
/// so a small request budget cannot make a healthy bot report unhealthy
/// between two polls.
pub(crate) fn health_threshold(configured: Duration, feed_interval: Duration) -> Duration {
    configured.max(feed_interval.saturating_mul(2))
}

/// What the handlers need. Cheap to clone.
#[cfg_attr(feature = "testing", visibility::make(pub))]
#[derive(Clone)]
pub(crate) struct ServerState {
    store: Store,
    metrics: Arc<Metrics>,
    feeds: Vec<Feed>,
    max_age: Duration,
    started: DateTime<Utc>,
    gauges: Arc<tokio::sync::Mutex<Option<CachedGauges>>>,
    /// The last rendered status page; held while one renders, so a burst
    /// waits for that render instead of starting its own.
    page: Arc<tokio::sync::Mutex<Option<CachedPage>>>,
    /// The reminder offsets whose state the status page shows per item.
    reminders: Vec<Duration>,
}

/// Store gauges and when they were read (`None`: the store failed).
type CachedGauges = (Instant, Option<StoreGauges>);
/// A rendered status page (or why the store could not be read) and when.
type CachedPage = (Instant, Result<String, String>);

impl ServerState {
    /// `feeds`: the configured feeds (each must stay fresh); `max_age`: the
    /// staleness threshold (see `health_threshold`). The start time is the
    /// registry's creation time.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn new(store: Store, metrics: Arc<Metrics>, feeds: Vec<Feed>, max_age: Duration) -> ServerState {
        let started = metrics.started();
        ServerState {
            store,
            metrics,
            feeds,
            max_age,
            started,
            gauges: Arc::default(),
            page: Arc::default(),
            reminders: Vec::new(),
        }
    }

    /// The reminder offsets (`[alerts] reminders`) the status page reports.
    pub(crate) fn with_reminders(mut self, reminders: Vec<Duration>) -> ServerState {
        self.reminders = reminders;
        self
    }

    /// Overrides the start time the grace period counts from (tests).
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn with_started(mut self, started: DateTime<Utc>) -> ServerState {
        self.started = started;
        self
    }
}

/// `/`, `/healthz`, `/metrics` and `extra`, with the bounds of the module
/// doc: `extra` shares the concurrency limit, `/healthz` is outside it,
/// every route has the timeout.
pub(crate) fn router(state: ServerState, extra: Option<Router>) -> Router {
    let mut limited =
        Router::new().route("/", get(status_page)).route("/metrics", get(metrics)).with_state(state.clone());
    if let Some(extra) = extra {
        limited = limited.merge(extra);
    }
    limited
        .layer(tower::limit::GlobalConcurrencyLimitLayer::new(MAX_IN_FLIGHT))
        .merge(Router::new().route("/healthz", get(healthz)).with_state(state))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, REQUEST_TIMEOUT))
}

/// Binds `addr` (so a taken port fails start-up with a clear error), then
/// serves `router` plus `extra` in a task until `shutdown` is cancelled.
/// Returns the bound address (port 0 picks a free one) and the task.
#[cfg_attr(feature = "testing", visibility::make(pub))]
pub(crate) async fn start(
    addr: SocketAddr,
    state: ServerState,
    extra: Option<Router>,
    shutdown: CancellationToken,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let app = router(state, extra);
    info!(addr = %local, "HTTP server listening (/, /healthz, /metrics)");
    let task = tokio::spawn(async move {
        if let Err(e) = serve(listener, app, shutdown).await {
            warn!(error = %e, "HTTP server stopped with an error");
        }
    });
    Ok((local, task))
}

/// Serves `app` on `listener` until `shutdown` is cancelled, then lets
/// in-flight requests finish.
pub(crate) async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    axum::serve(listener, app).with_graceful_shutdown(shutdown.cancelled_owned()).await
}

/// What `/healthz` reads from the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StoreHealth {
    pub(crate) outbox_depth: u64,
    /// Destinations paused after a refusal an admin can fix.
    pub(crate) paused: Vec<DestinationPause>,
    /// Each configured feed's last successful poll, from its stored state.
    pub(crate) last_success: Vec<(Feed, Option<DateTime<Utc>>)>,
}

/// Reads what `/healthz` needs; a cheap read of each feed's state that also
/// proves the store answers.
pub(crate) fn store_health(store: &Store, feeds: &[Feed]) -> Result<StoreHealth, StoreError> {
    let last_success =
        feeds.iter().map(|f| Ok((*f, store.feed_state(*f)?.last_success))).collect::<Result<_, StoreError>>()?;
    Ok(StoreHealth { outbox_depth: store.outbox_len() as u64, paused: store.pauses()?, last_success })
}

/// What the process itself knows for `/healthz` (not in the store): each
/// feed's last failed poll and the request budget left.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ProcessHealth {
    pub(crate) last_errors: Vec<(Feed, PollFailure)>,
    /// (requests left in the sliding hour, hourly ceiling).
    pub(crate) budget_left: Option<(u32, u32)>,
}

impl ProcessHealth {
    /// Reads `metrics` for `feeds`.
    pub(crate) fn read(metrics: &Metrics, feeds: &[Feed]) -> ProcessHealth {
        ProcessHealth {
            last_errors: feeds.iter().filter_map(|f| Some((*f, metrics.last_poll_error(f.as_str())?))).collect(),
            budget_left: metrics.budget_left(),
        }
    }
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The health verdict at `now`, as (HTTP status, JSON body): `200` only
/// when every feed succeeded within `max_age` (a success remembered in the
/// store counts, so a restart is healthy at once). Otherwise `503` with a
/// status saying why: `failing` (a feed's last poll failed and it has no
/// fresh success), `starting` (no success yet, no error either), `stale`,
/// or `store_error`. `started` is kept for the uptime.
pub(crate) fn health(
    feeds: &[Feed],
    max_age: Duration,
    started: DateTime<Utc>,
    store: Result<StoreHealth, StoreError>,
    process: &ProcessHealth,
    now: DateTime<Utc>,
) -> (StatusCode, Value) {
    let max_age_s = max_age.as_secs();
    let (feeds_json, short) = feeds_health(feeds, max_age_s, &store, process, now);
    let (store_ok, outbox_depth, store_error) = match &store {
        Ok(s) => (true, Some(s.outbox_depth), None),
        Err(e) => (false, None, Some(e.to_string())),
    };
    let status = match () {
        _ if !store_ok => "store_error",
        _ if short.failing => "failing",
        _ if short.stale => "stale",
        _ if short.starting => "starting",
        _ => "ok",
    };
    let mut body = json!({
        "status": status,
        "feeds": feeds_json,
        "outbox_depth": outbox_depth,
        "store_ok": store_ok,
        "max_age_s": max_age_s,
        "uptime_s": (now - started).num_seconds().max(0),
        "requests_left": process.budget_left.map(|(left, _)| left),
        "requests_per_hour": process.budget_left.map(|(_, per_hour)| per_hour),
    });
    if let Some(e) = store_error {
        body["store_error"] = json!(e);
    }
    if let Ok(s) = &store {
        body["paused_destinations"] = paused_json(&s.paused);
    }
    let code = if status == "ok" { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (code, body)
}

/// How the feeds fall short of fresh, for the health verdict.
#[derive(Default)]
struct Shortfall {
    /// A feed's last poll failed and it has no fresh success.
    failing: bool,
    /// A feed's last success is older than `max_age`.
    stale: bool,
    /// A feed has neither a success nor an error yet.
    starting: bool,
}

/// Each feed's last success, age and last error for `/healthz`, and how the
/// feeds fall short of fresh.
fn feeds_health(
    feeds: &[Feed],
    max_age_s: u64,
    store: &Result<StoreHealth, StoreError>,
    process: &ProcessHealth,
    now: DateTime<Utc>,
) -> (Map<String, Value>, Shortfall) {
    let mut short = Shortfall::default();
    let mut feeds_json = Map::new();
    for feed in feeds {
        let last = store.as_ref().ok().and_then(|s| s.last_success.iter().find(|(f, _)| f == feed)?.1);
        let error = process.last_errors.iter().find(|(f, _)| f == feed).map(|(_, e)| e);
        let age = last.map(|t| (now - t).num_seconds().max(0) as u64);
        let fresh = age.is_some_and(|a| a <= max_age_s);
        if !fresh {
            match (last, error) {
                (_, Some(e)) if last.is_none_or(|t| e.at >= t) => short.failing = true,
                (None, _) => short.starting = true,
                _ => short.stale = true,
            }
        }
        feeds_json.insert(
            feed.as_str().to_string(),
            json!({
                "last_success": last.map(rfc3339),
                "age_s": age,
                "stale": !fresh,
                "last_error": error.map(|e| json!({"message": e.message, "at": rfc3339(e.at)})),
            }),
        );
    }
    (feeds_json, short)
}

/// Paused destinations for `/healthz`: a detail, not a verdict (a chat
/// whose admin took the bot's rights is not a fault of tminus).
fn paused_json(paused: &[DestinationPause]) -> Value {
    paused
        .iter()
        .map(|p| {
            json!({
                "destination": p.destination.to_string(),
                "reason": p.reason,
                "since": rfc3339(p.since),
                "until": rfc3339(p.until),
                "attempts": p.attempts,
            })
        })
        .collect()
}

async fn healthz(State(st): State<ServerState>) -> Response {
    // O(1) reads (a record per feed, the outbox counter): no blocking task,
    // so a busy blocking pool (store flushes) cannot delay the answer.
    let store_result = store_health(&st.store, &st.feeds);
    let process = ProcessHealth::read(&st.metrics, &st.feeds);
    let (code, body) = health(&st.feeds, st.max_age, st.started, store_result, &process, Utc::now());
    (code, [(header::CACHE_CONTROL, "no-store")], axum::Json(body)).into_response()
}

async fn status_page(State(st): State<ServerState>) -> Response {
    let page = {
        let mut cache = st.page.lock().await;
        match cache.as_ref() {
            Some((at, page)) if at.elapsed() < PAGE_TTL => page.clone(),
            _ => {
                let state = st.clone();
                let rendered = tokio::task::spawn_blocking(move || status_view(&state, Utc::now())).await;
                let page = match rendered {
                    Ok(Ok(view)) => Ok(status_page::render(&view)),
                    Ok(Err(e)) => Err(format!("the store cannot be read: {e}")),
                    Err(_) => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
                };
                *cache = Some((Instant::now(), page.clone()));
                page
            }
        }
    };
    match page {
        Ok(html) => ([(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::CACHE_CONTROL, "no-store")], html)
            .into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, e).into_response(),
    }
}

/// What the status page shows, read from the store and the metrics.
pub(crate) fn status_view(st: &ServerState, now: DateTime<Utc>) -> Result<StatusView, StoreError> {
    let gauges = store_gauges(&st.store, &st.feeds)?;
    let feeds = st
        .feeds
        .iter()
        .map(|f| FeedView {
            name: f.as_str(),
            last_success: gauges.last_success.get(f.as_str()).copied(),
            last_error: st.metrics.last_poll_error(f.as_str()),
        })
        .collect::<Vec<_>>();
    // The news feed, once it polled (it is off unless someone chose news).
    let news = st.store.news_state()?;
    let mut feeds = feeds;
    if news.first_sync_done {
        let last_error = st.metrics.last_poll_error("news");
        feeds.push(FeedView { name: "news", last_success: news.last_success, last_error });
    }
    let mut subscriptions = std::collections::BTreeMap::new();
    for ((platform, enabled), n) in &gauges.subscriptions {
        let counts: &mut (u64, u64) = subscriptions.entry(*platform).or_default();
        if *enabled { counts.0 += n } else { counts.1 += n }
    }
    let mut items: Vec<_> = st.store.items()?.into_iter().filter(|i| i.when.is_some_and(|w| w >= now)).collect();
    items.sort_by_key(|i| i.when);
    let mut upcoming = Vec::new();
    for item in items.into_iter().take(status_page::UPCOMING) {
        let mut reminders = Vec::new();
        for offset in &st.reminders {
            let key = ReminderKey { item: item.id.clone(), offset_secs: offset.as_secs() };
            reminders.push((*offset, st.store.reminder_sent(&key)?.is_some()));
        }
        upcoming.push(UpcomingView {
            kind: item.kind().as_str(),
            status: item.status.as_ref().map(|s| s.name.clone()),
            when: item.when.unwrap_or(now),
            name: item.name,
            reminders,
        });
    }
    Ok(StatusView {
        now,
        uptime: (now - st.started).to_std().unwrap_or_default(),
        feeds,
        budget_left: st.metrics.budget_left(),
        outbox_depth: gauges.outbox_depth,
        dead_letters: gauges.dead_letters,
        subscriptions,
        paused: st.store.pauses()?,
        upcoming,
    })
}

async fn metrics(State(st): State<ServerState>) -> Response {
    let gauges = {
        let mut cache = st.gauges.lock().await;
        match cache.as_ref() {
            Some((at, g)) if at.elapsed() < GAUGE_CACHE => g.clone(),
            _ => {
                let (store, feeds) = (st.store.clone(), st.feeds.clone());
                let g =
                    tokio::task::spawn_blocking(move || store_gauges(&store, &feeds)).await.ok().and_then(Result::ok);
                *cache = Some((Instant::now(), g.clone()));
                g
            }
        }
    };
    let text = st.metrics.render(gauges.as_ref());
    ([(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], text).into_response()
}

/// Reads the gauges that live in the store, with the last successful poll
/// of each of `feeds`.
pub(crate) fn store_gauges(store: &Store, feeds: &[Feed]) -> Result<StoreGauges, StoreError> {
    let mut g = StoreGauges {
        outbox_depth: store.outbox_len() as u64,
        dead_letters: store.dead_letter_count() as u64,
        items: store.item_count() as u64,
        ..Default::default()
    };
    store.for_each_subscription(|s| {
        *g.subscriptions.entry((s.destination.platform().as_str(), s.enabled)).or_default() += 1;
    })?;
    for (feed, last) in store_health(store, feeds)?.last_success {
        if let Some(at) = last {
            g.last_success.insert(feed.as_str(), at);
        }
    }
    Ok(g)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threshold_covers_two_poll_intervals() {
        let h = Duration::from_secs(3600);
        assert_eq!(health_threshold(h, Duration::from_secs(600)), h);
        assert_eq!(health_threshold(h, Duration::from_secs(3000)), Duration::from_secs(6000));
    }

    #[test]
    fn verdicts() {
        let feeds = [Feed::Events, Feed::Launches];
        let max = Duration::from_secs(60);
        let now = Utc::now();
        let polled = |events: Option<DateTime<Utc>>, launches: Option<DateTime<Utc>>, depth: u64| {
            Ok(StoreHealth {
                outbox_depth: depth,
                paused: Vec::new(),
                last_success: vec![(Feed::Events, events), (Feed::Launches, launches)],
            })
        };
        let ago = |s: i64| now - chrono::Duration::seconds(s);
        let quiet = ProcessHealth::default();
        let check = |store, process: &ProcessHealth| health(&feeds, max, ago(10), store, process, now);
        // No success yet: unhealthy at once, not after a grace period.
        let (code, body) = check(polled(None, None, 0), &quiet);
        assert_eq!((code, body["status"].as_str()), (StatusCode::SERVICE_UNAVAILABLE, Some("starting")));
        // LL2 fails: unhealthy, with the error.
        let failing = ProcessHealth {
            last_errors: vec![(Feed::Launches, PollFailure { message: "LL2 answered HTTP 503".into(), at: ago(1) })],
            budget_left: Some((12, 15)),
        };
        let (code, body) = check(polled(Some(ago(5)), None, 0), &failing);
        assert_eq!((code, body["status"].as_str()), (StatusCode::SERVICE_UNAVAILABLE, Some("failing")));
        assert_eq!(body["feeds"]["launches"]["last_error"]["message"], "LL2 answered HTTP 503");
        assert_eq!(body["feeds"]["events"]["stale"], false);
        assert_eq!((body["requests_left"].as_u64(), body["requests_per_hour"].as_u64()), (Some(12), Some(15)));
        // Recovered: the error stays visible, the verdict is healthy.
        let (code, body) = check(polled(Some(ago(1)), Some(ago(0)), 3), &failing);
        assert_eq!((code, body["status"].as_str()), (StatusCode::OK, Some("ok")), "{body}");
        assert_eq!(body["outbox_depth"], 3);
        assert_eq!(body["paused_destinations"], json!([]));
        let paused = DestinationPause {
            destination: "discord:42".parse().unwrap(),
            reason: "Missing Permissions (code 50013)".into(),
            since: ago(60),
            until: ago(-3600),
            attempts: 1,
        };
        let store = Ok(StoreHealth {
            outbox_depth: 0,
            paused: vec![paused],
            last_success: vec![(Feed::Events, Some(ago(1))), (Feed::Launches, Some(ago(1)))],
        });
        let (code, paused) = check(store, &quiet);
        assert_eq!(code, StatusCode::OK, "a paused destination is a detail, not a fault: {paused}");
        assert_eq!(paused["paused_destinations"][0]["destination"], "discord:42");
        assert!(paused["paused_destinations"][0]["reason"].as_str().unwrap().contains("50013"), "{paused}");
        assert!(body["feeds"]["launches"]["last_error"]["at"].as_str().unwrap().ends_with('Z'));
        // A restart remembers the last success: a fresh process whose feeds
        // were polled recently is healthy, one whose feeds are old is stale.
        let (code, body) = health(&feeds, max, now, polled(Some(ago(30)), Some(ago(30)), 0), &quiet, now);
        assert_eq!((code, body["status"].as_str()), (StatusCode::OK, Some("ok")));
        let (code, body) = health(&feeds, max, now, polled(Some(ago(30)), Some(ago(3600)), 0), &quiet, now);
        assert_eq!((code, body["status"].as_str()), (StatusCode::SERVICE_UNAVAILABLE, Some("stale")));
        assert_eq!(body["feeds"]["events"]["stale"], false);
        let err = Err(StoreError::Corrupt { tree: "feeds", key: "events".into(), message: "x".into() });
        let (code, body) = check(err, &quiet);
        assert_eq!((code, body["store_ok"].as_bool()), (StatusCode::SERVICE_UNAVAILABLE, Some(false)));
    }
}
