//! Process-wide counters, gauges and histograms for `/metrics`: LL2
//! requests by feed and outcome, their latency, the request budget, polls,
//! Spaceflight News API requests by outcome,
//! alerts by kind, deliveries by platform and outcome and rate-limit
//! answers. Values that live in the store (outbox depth, dead letters,
//! items, subscriptions, each feed's last successful poll) are read at
//! scrape time and passed to [`Metrics::render`] as a [`StoreGauges`].
//!
//! Encoding is `prometheus-client`'s Prometheus text format (version
//! 0.0.4), with one typed label set per family. Counters are registered
//! without their `_total` suffix, which the encoder appends, so the exposed
//! names are `tminus_ll2_requests_total` and so on. This module knows no
//! domain types: callers pass label values (feed names, alert kinds,
//! platforms) as `&'static str` from their own closed sets, never user
//! text, so the number of series stays bounded.
//!
//! **One registry per process, reached through [`global`].** The recording
//! sites are deep inside the poller, the deliverer and the reminder pass,
//! whose constructors are called by the binary, the integration tests and
//! the benches alike. Threading an `Arc<Metrics>` through all of them would
//! change every one of those call sites for no gain, since a process runs
//! exactly one bot; recording is a method call on a `static` (`LazyLock`)
//! instead. [`Metrics`] itself is a plain struct, so tests and the HTTP
//! server can also build and render a private one (`Metrics::default()`).
//! Counters only ever grow; tests that share the global registry compare
//! deltas. Recording must stay cheap and must never fail or block on I/O.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder, prometheus_text};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Upper bounds (seconds) of the LL2 request latency histogram.
const LATENCY_BUCKETS: [f64; 11] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0];

/// The `Content-Type` of what [`Metrics::render`] returns.
pub(crate) const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

static GLOBAL: LazyLock<Arc<Metrics>> = LazyLock::new(|| Arc::new(Metrics::default()));

/// The registry of this process. See the module documentation for why it
/// is a `static`.
#[cfg_attr(feature = "testing", visibility::make(pub))]
pub(crate) fn global() -> &'static Arc<Metrics> {
    &GLOBAL
}

/// How a delivery attempt ended, as the deliverer settled it.
#[cfg_attr(feature = "testing", visibility::make(pub))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum DeliveryOutcome {
    /// The platform confirmed; the entry left the outbox.
    Delivered,
    /// Transient failure (network, 5xx, 429) or a migrated chat: rescheduled.
    Retried,
    /// Given up after the maximum age, or the entry's alert or subscription
    /// is gone: moved to dead letters.
    Dead,
    /// The destination refuses us (blocked, deleted): subscription disabled.
    Permanent,
    /// The platform rejected the message itself (a rendering bug).
    Rejected,
}

impl DeliveryOutcome {
    /// The `outcome` label value.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            DeliveryOutcome::Delivered => "delivered",
            DeliveryOutcome::Retried => "retried",
            DeliveryOutcome::Dead => "dead",
            DeliveryOutcome::Permanent => "permanent",
            DeliveryOutcome::Rejected => "rejected",
        }
    }
}

impl EncodeLabelValue for DeliveryOutcome {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        EncodeLabelValue::encode(&self.as_str(), encoder)
    }
}

/// How one LL2 request ended, for `Metrics::ll2_request`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ll2Request {
    /// The feed's name (`events`, `launches`).
    pub(crate) feed: &'static str,
    /// `ok` or the kind of failure (`throttled`, `http_5xx`, `timeout`, …).
    pub(crate) status: &'static str,
    /// Body bytes read, for a successful request.
    pub(crate) bytes: Option<u64>,
    /// From sending the request to the whole body.
    pub(crate) elapsed: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct FeedStatus {
    feed: &'static str,
    status: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct FeedLabel {
    feed: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct FeedResult {
    feed: &'static str,
    result: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct Class {
    class: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct Source {
    source: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct Kind {
    kind: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct Delivery {
    platform: &'static str,
    outcome: DeliveryOutcome,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct Version {
    version: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct SubscriptionState {
    platform: &'static str,
    enabled: bool,
}

/// Values read from the store when `/metrics` is scraped.
#[cfg_attr(feature = "testing", visibility::make(pub))]
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct StoreGauges {
    /// Outbox entries waiting.
    pub(crate) outbox_depth: u64,
    /// Dead letters kept.
    pub(crate) dead_letters: u64,
    /// Item snapshots kept.
    pub(crate) items: u64,
    /// (platform, enabled) → subscriptions.
    pub(crate) subscriptions: BTreeMap<(&'static str, bool), u64>,
    /// Feed name → when its last successful poll finished.
    pub(crate) last_success: BTreeMap<&'static str, DateTime<Utc>>,
}

type FloatGauge = Gauge<f64, AtomicU64>;

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

/// The registry. All methods take `&self` and are safe to call from any
/// thread.
#[cfg_attr(feature = "testing", visibility::make(pub))]
#[derive(Debug)]
pub(crate) struct Metrics {
    started: DateTime<Utc>,
    registry: Registry,
    ll2_requests: Family<FeedStatus, Counter>,
    ll2_bytes: Family<FeedLabel, Counter>,
    ll2_latency: Family<FeedLabel, Histogram, fn() -> Histogram>,
    budget_per_hour: Gauge,
    budget_remaining: Gauge,
    budget_used: Gauge,
    rate_limited: Family<Source, Counter>,
    polls: Family<FeedResult, Counter>,
    alerts: Family<Kind, Counter>,
    deliveries: Family<Delivery, Counter>,
    poll_interval: Family<Class, FloatGauge>,
    hot_launches: Gauge,
    poll_errors: std::sync::Mutex<BTreeMap<&'static str, PollFailure>>,
    news_requests: Family<Status, Counter>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct Status {
    status: &'static str,
}

/// A failed poll of a feed: the error, worded for operators, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PollFailure {
    /// The error, worded for operators.
    pub(crate) message: String,
    /// When the poll failed.
    pub(crate) at: DateTime<Utc>,
}

impl Default for Metrics {
    fn default() -> Self {
        let started = Utc::now();
        let m = Metrics {
            started,
            registry: Registry::default(),
            ll2_requests: Family::default(),
            ll2_bytes: Family::default(),
            ll2_latency: Family::new_with_constructor(latency_histogram),
            budget_per_hour: Gauge::default(),
            budget_remaining: Gauge::default(),
            budget_used: Gauge::default(),
            rate_limited: Family::default(),
            polls: Family::default(),
            alerts: Family::default(),
            deliveries: Family::default(),
            poll_interval: Family::default(),
            hot_launches: Gauge::default(),
            poll_errors: Default::default(),
            news_requests: Family::default(),
        };
        // Names get the `tminus_` prefix (and counters `_total`) when encoded.
        let mut r = Registry::with_prefix("tminus");
        let build_info = Family::<Version, Gauge>::default();
        build_info.get_or_create(&Version { version: env!("CARGO_PKG_VERSION") }).set(1);
        r.register("build_info", "Version of the running tminus", build_info);
        let start_time = FloatGauge::default();
        start_time.set(seconds(started));
        r.register("start_time_seconds", "Unix time the process started", start_time);
        r.register("ll2_requests", "LL2 page requests by feed and outcome", m.ll2_requests.clone());
        r.register("ll2_response_bytes", "LL2 answer bytes read, by feed", m.ll2_bytes.clone());
        let latency = "Latency of LL2 page requests (send to whole body), by feed";
        r.register("ll2_request_duration_seconds", latency, m.ll2_latency.clone());
        r.register("ll2_budget_requests_per_hour", "Configured LL2 requests per hour", m.budget_per_hour.clone());
        let remaining = "LL2 requests left in the sliding hour, as of the last request";
        r.register("ll2_budget_remaining", remaining, m.budget_remaining.clone());
        let used = "LL2 requests spent in the sliding hour, as of the last request";
        r.register("ll2_budget_used", used, m.budget_used.clone());
        let limited = "Rate-limit answers (HTTP 429 / retry-after) received, by source";
        r.register("rate_limited", limited, m.rate_limited.clone());
        r.register("polls", "Feed polls by feed and result", m.polls.clone());
        r.register("alerts_detected", "Alerts created, by kind", m.alerts.clone());
        r.register("deliveries", "Delivery attempts by platform and outcome", m.deliveries.clone());
        let interval = "Current time between two requests of a class: feed (each feed) or hot (hot launches)";
        r.register("poll_interval_seconds", interval, m.poll_interval.clone());
        r.register("hot_launches", "Launches the poller currently treats as hot", m.hot_launches.clone());
        r.register("news_requests", "Spaceflight News API requests by outcome", m.news_requests.clone());
        Metrics { registry: r, ..m }
    }
}

impl Metrics {
    /// When this registry was created (process start, for the global one).
    pub(crate) fn started(&self) -> DateTime<Utc> {
        self.started
    }

    // ---- recording -------------------------------------------------------

    /// One LL2 page request and how it ended.
    pub(crate) fn ll2_request(&self, r: Ll2Request) {
        self.ll2_requests.get_or_create(&FeedStatus { feed: r.feed, status: r.status }).inc();
        let feed = FeedLabel { feed: r.feed };
        if let Some(bytes) = r.bytes {
            self.ll2_bytes.get_or_create(&feed).inc_by(bytes);
        }
        self.ll2_latency.get_or_create(&feed).observe(r.elapsed.as_secs_f64());
    }

    /// The request budget after a request: the hourly ceiling and what is
    /// left of it in the sliding hour.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn budget(&self, per_hour: u32, remaining: u32) {
        self.budget_per_hour.set(per_hour.into());
        self.budget_remaining.set(remaining.into());
        self.budget_used.set(i64::from(per_hour.saturating_sub(remaining)));
    }

    /// A poll of `feed` finished: successfully (`error` is `None`) or not.
    /// The last error of each feed is kept for `/healthz` and the status
    /// page (in memory: the next poll after a restart tells anew).
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn poll_finished(&self, feed: &'static str, error: Option<String>) {
        let result = if error.is_some() { "error" } else { "ok" };
        self.polls.get_or_create(&FeedResult { feed, result }).inc();
        if let Some(message) = error {
            let failure = PollFailure { message, at: Utc::now() };
            self.poll_errors.lock().unwrap_or_else(|e| e.into_inner()).insert(feed, failure);
        }
    }

    /// The last failed poll of `feed` in this process, if any.
    pub(crate) fn last_poll_error(&self, feed: &str) -> Option<PollFailure> {
        self.poll_errors.lock().unwrap_or_else(|e| e.into_inner()).get(feed).cloned()
    }

    /// LL2 requests left in the sliding hour and the hourly ceiling, as of
    /// the last request; `None` before the first one.
    pub(crate) fn budget_left(&self) -> Option<(u32, u32)> {
        let per_hour = u32::try_from(self.budget_per_hour.get()).ok().filter(|n| *n > 0)?;
        Some((u32::try_from(self.budget_remaining.get()).unwrap_or(0), per_hour))
    }

    /// Alerts committed to the store (changes and reminders), by kind.
    pub(crate) fn alerts_detected(&self, kinds: impl IntoIterator<Item = &'static str>) {
        for kind in kinds {
            self.alerts.get_or_create(&Kind { kind }).inc();
        }
    }

    /// One Spaceflight News API request and how it ended (`ok` or the
    /// kind of failure).
    pub(crate) fn news_request(&self, status: &'static str) {
        self.news_requests.get_or_create(&Status { status }).inc();
    }

    /// A delivery attempt to `platform` settled as `outcome`.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn delivery(&self, platform: &'static str, outcome: DeliveryOutcome) {
        self.deliveries.get_or_create(&Delivery { platform, outcome }).inc();
    }

    /// The poller's current plan: the interval of each feed, that of the hot
    /// launches (`None`: nothing is hot), and how many launches are hot.
    pub(crate) fn poll_plan(&self, feed_interval: Duration, hot_interval: Option<Duration>, hot: usize) {
        self.poll_interval.get_or_create(&Class { class: "feed" }).set(feed_interval.as_secs_f64());
        self.poll_interval.get_or_create(&Class { class: "hot" }).set(hot_interval.map_or(0.0, |d| d.as_secs_f64()));
        self.hot_launches.set(hot as i64);
    }

    /// A rate-limit answer (HTTP 429 or an explicit "retry after") from
    /// `source`: `"ll2"` or a platform name. The poller counts LL2's, the
    /// deliverer a platform's whenever a send fails with a `retry_after`.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn rate_limited(&self, source: &'static str) {
        self.rate_limited.get_or_create(&Source { source }).inc();
    }

    // ---- reading ---------------------------------------------------------

    /// Everything in the Prometheus text format. `store` adds the gauges
    /// read from the store (left out when the store could not be read;
    /// `tminus_store_ok` says which).
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn render(&self, store: Option<&StoreGauges>) -> String {
        let mut out = String::with_capacity(4096);
        // Writing to a `String` cannot fail.
        let _ = prometheus_text::encode(&mut out, &self.registry);
        let _ = prometheus_text::encode(&mut out, &scrape_registry(store, Utc::now()));
        out
    }
}

/// The families whose values exist only at scrape time: what the store
/// holds, and ages relative to `now`.
fn scrape_registry(store: Option<&StoreGauges>, now: DateTime<Utc>) -> Registry {
    let mut r = Registry::with_prefix("tminus");
    let store_ok = Gauge::<i64>::default();
    store_ok.set(i64::from(store.is_some()));
    r.register("store_ok", "1 when the store could be read at this scrape", store_ok);
    let Some(s) = store else { return r };

    let last = Family::<FeedLabel, FloatGauge>::default();
    let age = Family::<FeedLabel, FloatGauge>::default();
    for (feed, at) in &s.last_success {
        last.get_or_create(&FeedLabel { feed }).set(seconds(*at));
        age.get_or_create(&FeedLabel { feed }).set((now - *at).num_milliseconds().max(0) as f64 / 1000.0);
    }
    r.register("last_successful_poll_timestamp_seconds", "Unix time of the last successful poll, by feed", last);
    r.register("last_successful_poll_age_seconds", "Seconds since the last successful poll", age);
    for (name, help, value) in [
        ("outbox_depth", "Deliveries waiting in the outbox", s.outbox_depth),
        ("dead_letters", "Deliveries given up on (kept in the store)", s.dead_letters),
        ("items", "Item snapshots in the store", s.items),
    ] {
        let g = Gauge::<i64>::default();
        g.set(i64::try_from(value).unwrap_or(i64::MAX));
        r.register(name, help, g);
    }
    let subs = Family::<SubscriptionState, Gauge>::default();
    for ((platform, enabled), n) in &s.subscriptions {
        subs.get_or_create(&SubscriptionState { platform, enabled: *enabled })
            .set(i64::try_from(*n).unwrap_or(i64::MAX));
    }
    r.register("subscriptions", "Subscriptions by platform and state", subs);
    r
}

fn seconds(t: DateTime<Utc>) -> f64 {
    t.timestamp_millis() as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(feed: &'static str, status: &'static str, bytes: Option<u64>, ms: u64) -> Ll2Request {
        Ll2Request { feed, status, bytes, elapsed: Duration::from_millis(ms) }
    }

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::default();
        m.ll2_request(request("events", "ok", Some(1234), 300));
        m.ll2_request(request("launches", "throttled", None, 20));
        m.rate_limited("ll2");
        m.budget(15, 13);
        m.poll_finished("events", None);
        m.alerts_detected(["new", "new", "status"]);
        m.delivery("console", DeliveryOutcome::Delivered);
        m.delivery("console", DeliveryOutcome::Delivered);
        m.rate_limited("telegram");
        let gauges = StoreGauges {
            outbox_depth: 4,
            dead_letters: 1,
            items: 10,
            subscriptions: BTreeMap::from([(("console", true), 1)]),
            last_success: BTreeMap::from([("events", DateTime::from_timestamp(1_700_000_000, 500_000_000).unwrap())]),
        };
        let text = m.render(Some(&gauges));
        for line in [
            format!("tminus_build_info{{version=\"{}\"}} 1", env!("CARGO_PKG_VERSION")),
            "tminus_ll2_requests_total{feed=\"events\",status=\"ok\"} 1".into(),
            "tminus_ll2_requests_total{feed=\"launches\",status=\"throttled\"} 1".into(),
            "tminus_ll2_response_bytes_total{feed=\"events\"} 1234".into(),
            "tminus_ll2_request_duration_seconds_bucket{feed=\"events\",le=\"0.25\"} 0".into(),
            "tminus_ll2_request_duration_seconds_bucket{feed=\"events\",le=\"0.5\"} 1".into(),
            "tminus_ll2_request_duration_seconds_bucket{feed=\"events\",le=\"+Inf\"} 1".into(),
            "tminus_ll2_request_duration_seconds_count{feed=\"launches\"} 1".into(),
            "tminus_ll2_budget_requests_per_hour 15".into(),
            "tminus_ll2_budget_remaining 13".into(),
            "tminus_ll2_budget_used 2".into(),
            "tminus_polls_total{feed=\"events\",result=\"ok\"} 1".into(),
            "tminus_alerts_detected_total{kind=\"new\"} 2".into(),
            "tminus_rate_limited_total{source=\"ll2\"} 1".into(),
            "tminus_rate_limited_total{source=\"telegram\"} 1".into(),
            "tminus_deliveries_total{platform=\"console\",outcome=\"delivered\"} 2".into(),
            "tminus_last_successful_poll_timestamp_seconds{feed=\"events\"} 1700000000.5".into(),
            "tminus_outbox_depth 4".into(),
            "tminus_dead_letters 1".into(),
            "tminus_items 10".into(),
            "tminus_subscriptions{platform=\"console\",enabled=\"true\"} 1".into(),
            "tminus_store_ok 1".into(),
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in:\n{text}");
        }
        assert!(text.contains("tminus_last_successful_poll_age_seconds{feed=\"events\"} "), "{text}");
        // Every sample line belongs to a family declared once, with its type.
        let declared: Vec<&str> =
            text.lines().filter_map(|l| l.strip_prefix("# TYPE ")).filter_map(|l| l.split(' ').next()).collect();
        let mut unique = declared.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), declared.len(), "a family declared twice:\n{text}");
        for l in text.lines().filter(|l| !l.starts_with('#')) {
            let name = l.split(['{', ' ']).next().unwrap();
            let base = name.trim_end_matches("_bucket").trim_end_matches("_sum").trim_end_matches("_count");
            assert!(declared.contains(&name) || declared.contains(&base), "undeclared {name}");
        }
        let without_store = m.render(None);
        assert!(without_store.lines().any(|l| l == "tminus_store_ok 0"), "{without_store}");
        assert!(!without_store.contains("tminus_outbox_depth"), "{without_store}");
    }

    #[test]
    fn news_requests_are_counted_by_outcome() {
        let m = Metrics::default();
        m.news_request("ok");
        m.news_request("ok");
        m.news_request("throttled");
        m.alerts_detected(["news"]);
        let text = m.render(None);
        assert!(text.contains(r#"tminus_news_requests_total{status="ok"} 2"#), "{text}");
        assert!(text.contains(r#"tminus_news_requests_total{status="throttled"} 1"#), "{text}");
        assert!(text.contains(r#"tminus_alerts_detected_total{kind="news"} 1"#), "{text}");
    }

    #[test]
    fn label_values_are_escaped() {
        let m = Metrics::default();
        m.rate_limited("a\"b\\c\nd");
        assert!(m.render(None).contains(r#"tminus_rate_limited_total{source="a\"b\\c\nd"} 1"#));
    }
}
