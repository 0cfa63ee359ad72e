//! Process-wide counters and gauges for `/metrics` and `/healthz`: LL2
//! requests by feed and outcome, their latency, the request budget, alerts
//! detected by kind, deliveries by platform and outcome, rate-limit answers,
//! and the last successful poll of each feed. Values that live in the store
//! (outbox depth, dead letters, subscriptions by platform) are read at scrape
//! time and passed to [`Metrics::render`] as a [`StoreGauges`].
//!
//! Rendering is the Prometheus text exposition format (version 0.0.4),
//! written by hand: the handful of families here do not justify a client
//! library.
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
//! deltas.
//!
//! Recording must stay cheap and must never fail or block on I/O: atomics
//! for plain values, a short `Mutex` over a small map for labelled ones
//! (label values are `&'static str` from a closed set, never user text, so
//! the number of series is bounded).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::detect::Alert;
use crate::ll2::{Ll2Error, Page};
use crate::types::{AlertKind, Feed};

/// Upper bounds (seconds) of the LL2 request latency histogram.
pub const LATENCY_BUCKETS: [f64; 11] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0];

static GLOBAL: LazyLock<Arc<Metrics>> = LazyLock::new(|| Arc::new(Metrics::default()));

/// The registry of this process. See the module documentation for why it
/// is a `static`.
pub fn global() -> &'static Arc<Metrics> {
    &GLOBAL
}

/// How a delivery attempt ended, as the deliverer settled it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryOutcome {
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
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryOutcome::Delivered => "delivered",
            DeliveryOutcome::Retried => "retried",
            DeliveryOutcome::Dead => "dead",
            DeliveryOutcome::Permanent => "permanent",
            DeliveryOutcome::Rejected => "rejected",
        }
    }
}

/// The `status` label of an LL2 request.
pub fn ll2_status(result: &Result<Page, Ll2Error>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(Ll2Error::Throttled { .. }) => "throttled",
        Err(Ll2Error::Status { status, .. }) if *status >= 500 => "http_5xx",
        Err(Ll2Error::Status { .. }) => "http_4xx",
        Err(Ll2Error::Timeout { .. }) => "timeout",
        Err(Ll2Error::Network { .. }) => "network",
        Err(Ll2Error::NotJson { .. }) => "not_json",
        Err(Ll2Error::Shape { .. }) => "bad_shape",
        Err(Ll2Error::TooLarge { .. }) => "too_large",
        Err(Ll2Error::ForeignNext { .. }) => "foreign_next",
        Err(Ll2Error::Config { .. }) => "config",
    }
}

/// A counter family with `N` labels.
#[derive(Debug)]
struct Family<const N: usize> {
    values: Mutex<BTreeMap<[&'static str; N], u64>>,
}

impl<const N: usize> Default for Family<N> {
    fn default() -> Self {
        Family { values: Mutex::new(BTreeMap::new()) }
    }
}

impl<const N: usize> Family<N> {
    fn add(&self, labels: [&'static str; N], n: u64) {
        *lock(&self.values).entry(labels).or_default() += n;
    }

    fn get(&self, labels: [&'static str; N]) -> u64 {
        lock(&self.values).get(&labels).copied().unwrap_or(0)
    }

    fn snapshot(&self) -> Vec<([&'static str; N], u64)> {
        lock(&self.values).iter().map(|(k, v)| (*k, *v)).collect()
    }
}

/// A latency histogram per feed: cumulative bucket counts, sum and count.
#[derive(Debug, Default, Clone)]
struct Histogram {
    buckets: [u64; LATENCY_BUCKETS.len()],
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, secs: f64) {
        for (b, le) in self.buckets.iter_mut().zip(LATENCY_BUCKETS) {
            if secs <= le {
                *b += 1;
            }
        }
        self.sum += secs;
        self.count += 1;
    }
}

/// Values read from the store when `/metrics` is scraped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreGauges {
    pub outbox_depth: u64,
    pub dead_letters: u64,
    /// Item snapshots kept.
    pub items: u64,
    /// (platform, enabled) → subscriptions.
    pub subscriptions: BTreeMap<(&'static str, bool), u64>,
}

/// The registry. All methods take `&self` and are safe to call from any
/// thread.
#[derive(Debug)]
pub struct Metrics {
    started: DateTime<Utc>,
    ll2_requests: Family<2>,
    ll2_bytes: Family<1>,
    ll2_latency: Mutex<BTreeMap<&'static str, Histogram>>,
    rate_limited: Family<1>,
    polls: Family<2>,
    alerts: Family<1>,
    deliveries: Family<2>,
    budget_per_hour: AtomicU64,
    budget_remaining: AtomicU64,
    /// When the last successful poll of each feed finished.
    last_success: Mutex<BTreeMap<&'static str, DateTime<Utc>>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            started: Utc::now(),
            ll2_requests: Family::default(),
            ll2_bytes: Family::default(),
            ll2_latency: Mutex::new(BTreeMap::new()),
            rate_limited: Family::default(),
            polls: Family::default(),
            alerts: Family::default(),
            deliveries: Family::default(),
            budget_per_hour: AtomicU64::new(0),
            budget_remaining: AtomicU64::new(0),
            last_success: Mutex::new(BTreeMap::new()),
        }
    }
}

/// A poisoned lock only means a panic elsewhere mid-update of a counter;
/// the map is still usable.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Metrics {
    /// When this registry was created (process start, for the global one).
    pub fn started(&self) -> DateTime<Utc> {
        self.started
    }

    // ---- recording -------------------------------------------------------

    /// One LL2 page request of `feed` and how it ended, with its latency.
    pub fn ll2_request(&self, feed: Feed, result: &Result<Page, Ll2Error>, elapsed: Duration) {
        let status = ll2_status(result);
        self.ll2_requests.add([feed.as_str(), status], 1);
        if let Ok(page) = result {
            self.ll2_bytes.add([feed.as_str()], page.bytes as u64);
        }
        if status == "throttled" {
            self.rate_limited.add(["ll2"], 1);
        }
        lock(&self.ll2_latency).entry(feed.as_str()).or_default().observe(elapsed.as_secs_f64());
    }

    /// The request budget after a request: the hourly ceiling and what is
    /// left of it in the sliding hour.
    pub fn budget(&self, per_hour: u32, remaining: u32) {
        self.budget_per_hour.store(per_hour.into(), Ordering::Relaxed);
        self.budget_remaining.store(remaining.into(), Ordering::Relaxed);
    }

    /// A poll of `feed` finished; `ok` ones count as its last success.
    pub fn poll_finished(&self, feed: Feed, ok: bool) {
        self.polls.add([feed.as_str(), if ok { "ok" } else { "error" }], 1);
        if ok {
            lock(&self.last_success).insert(feed.as_str(), Utc::now());
        }
    }

    /// Alerts committed to the store (changes and reminders).
    pub fn alerts_detected(&self, alerts: &[Alert]) {
        for a in alerts {
            self.alerts.add([a.kind().as_str()], 1);
        }
    }

    /// A delivery attempt to `platform` settled as `outcome`.
    pub fn delivery(&self, platform: &'static str, outcome: DeliveryOutcome) {
        self.deliveries.add([platform, outcome.as_str()], 1);
    }

    /// A rate-limit answer (HTTP 429 or an explicit "retry after") from
    /// `source`: `"ll2"` or a platform name. LL2's are counted by
    /// [`Metrics::ll2_request`]; the deliverer counts a platform's whenever
    /// a send fails with a `retry_after`.
    pub fn rate_limited(&self, source: &'static str) {
        self.rate_limited.add([source], 1);
    }

    // ---- reading ---------------------------------------------------------

    /// The last successful poll of `feed` in this process.
    pub fn last_success(&self, feed: Feed) -> Option<DateTime<Utc>> {
        lock(&self.last_success).get(feed.as_str()).copied()
    }

    pub fn ll2_requests(&self, feed: Feed, status: &'static str) -> u64 {
        self.ll2_requests.get([feed.as_str(), status])
    }

    pub fn alerts(&self, kind: AlertKind) -> u64 {
        self.alerts.get([kind.as_str()])
    }

    pub fn deliveries(&self, platform: &'static str, outcome: DeliveryOutcome) -> u64 {
        self.deliveries.get([platform, outcome.as_str()])
    }

    pub fn rate_limited_count(&self, source: &'static str) -> u64 {
        self.rate_limited.get([source])
    }

    /// Everything in the Prometheus text format. `store` adds the gauges
    /// read from the store (left out when the store could not be read;
    /// `tminus_store_ok` says which).
    pub fn render(&self, store: Option<&StoreGauges>) -> String {
        let mut out = String::with_capacity(4096);
        let now = Utc::now();

        header(&mut out, "tminus_build_info", "gauge", "Version of the running tminus.");
        let _ = writeln!(out, "tminus_build_info{{version=\"{}\"}} 1", env!("CARGO_PKG_VERSION"));
        header(&mut out, "tminus_start_time_seconds", "gauge", "Unix time the process started.");
        let _ = writeln!(out, "tminus_start_time_seconds {}", seconds(self.started));

        family(
            &mut out,
            "tminus_ll2_requests_total",
            "LL2 page requests by feed and outcome.",
            ["feed", "status"],
            &self.ll2_requests,
        );
        family(
            &mut out,
            "tminus_ll2_response_bytes_total",
            "LL2 answer bytes read, by feed.",
            ["feed"],
            &self.ll2_bytes,
        );

        header(
            &mut out,
            "tminus_ll2_request_duration_seconds",
            "histogram",
            "Latency of LL2 page requests (send to whole body), by feed.",
        );
        for (feed, h) in lock(&self.ll2_latency).iter() {
            let feed = escape(feed);
            for (le, n) in LATENCY_BUCKETS.iter().zip(h.buckets) {
                let _ = writeln!(out, "tminus_ll2_request_duration_seconds_bucket{{feed=\"{feed}\",le=\"{le}\"}} {n}");
            }
            let _ =
                writeln!(out, "tminus_ll2_request_duration_seconds_bucket{{feed=\"{feed}\",le=\"+Inf\"}} {}", h.count);
            let _ = writeln!(out, "tminus_ll2_request_duration_seconds_sum{{feed=\"{feed}\"}} {}", h.sum);
            let _ = writeln!(out, "tminus_ll2_request_duration_seconds_count{{feed=\"{feed}\"}} {}", h.count);
        }

        header(&mut out, "tminus_ll2_budget_requests_per_hour", "gauge", "Configured LL2 requests per hour.");
        let _ = writeln!(out, "tminus_ll2_budget_requests_per_hour {}", self.budget_per_hour.load(Ordering::Relaxed));
        header(
            &mut out,
            "tminus_ll2_budget_remaining",
            "gauge",
            "LL2 requests left in the sliding hour, as of the last request.",
        );
        let _ = writeln!(out, "tminus_ll2_budget_remaining {}", self.budget_remaining.load(Ordering::Relaxed));
        header(
            &mut out,
            "tminus_ll2_budget_used",
            "gauge",
            "LL2 requests spent in the sliding hour, as of the last request.",
        );
        let used =
            self.budget_per_hour.load(Ordering::Relaxed).saturating_sub(self.budget_remaining.load(Ordering::Relaxed));
        let _ = writeln!(out, "tminus_ll2_budget_used {used}");

        family(
            &mut out,
            "tminus_rate_limited_total",
            "Rate-limit answers (HTTP 429 / retry-after) received, by source.",
            ["source"],
            &self.rate_limited,
        );
        family(&mut out, "tminus_polls_total", "Feed polls by feed and result.", ["feed", "result"], &self.polls);

        header(
            &mut out,
            "tminus_last_successful_poll_timestamp_seconds",
            "gauge",
            "Unix time of the last successful poll, by feed.",
        );
        let last = lock(&self.last_success).clone();
        for (feed, at) in &last {
            let _ = writeln!(
                out,
                "tminus_last_successful_poll_timestamp_seconds{{feed=\"{}\"}} {}",
                escape(feed),
                seconds(*at)
            );
        }
        header(&mut out, "tminus_last_successful_poll_age_seconds", "gauge", "Seconds since the last successful poll.");
        for (feed, at) in &last {
            let age = (now - *at).num_milliseconds().max(0) as f64 / 1000.0;
            let _ = writeln!(out, "tminus_last_successful_poll_age_seconds{{feed=\"{}\"}} {age}", escape(feed));
        }

        family(&mut out, "tminus_alerts_detected_total", "Alerts created, by kind.", ["kind"], &self.alerts);
        family(
            &mut out,
            "tminus_deliveries_total",
            "Delivery attempts by platform and outcome.",
            ["platform", "outcome"],
            &self.deliveries,
        );

        header(&mut out, "tminus_store_ok", "gauge", "1 when the store could be read at this scrape.");
        let _ = writeln!(out, "tminus_store_ok {}", u8::from(store.is_some()));
        if let Some(s) = store {
            header(&mut out, "tminus_outbox_depth", "gauge", "Deliveries waiting in the outbox.");
            let _ = writeln!(out, "tminus_outbox_depth {}", s.outbox_depth);
            header(&mut out, "tminus_dead_letters", "gauge", "Deliveries given up on (kept in the store).");
            let _ = writeln!(out, "tminus_dead_letters {}", s.dead_letters);
            header(&mut out, "tminus_items", "gauge", "Item snapshots in the store.");
            let _ = writeln!(out, "tminus_items {}", s.items);
            header(&mut out, "tminus_subscriptions", "gauge", "Subscriptions by platform and state.");
            for ((platform, enabled), n) in &s.subscriptions {
                let _ = writeln!(
                    out,
                    "tminus_subscriptions{{platform=\"{}\",enabled=\"{enabled}\"}} {n}",
                    escape(platform)
                );
            }
        }
        out
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn family<const N: usize>(out: &mut String, name: &str, help: &str, labels: [&str; N], f: &Family<N>) {
    header(out, name, "counter", help);
    for (values, n) in f.snapshot() {
        let pairs: Vec<String> = labels.iter().zip(values).map(|(k, v)| format!("{k}=\"{}\"", escape(v))).collect();
        let _ = writeln!(out, "{name}{{{}}} {n}", pairs.join(","));
    }
}

/// Label value escaping of the text format: backslash, quote, newline.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn seconds(t: DateTime<Utc>) -> f64 {
    t.timestamp_millis() as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::default();
        let page = Page { bytes: 1234, ..Default::default() };
        m.ll2_request(Feed::Events, &Ok(page), Duration::from_millis(300));
        let throttled = Err(Ll2Error::Throttled { url: "u".into(), retry_after: Duration::from_secs(5) });
        m.ll2_request(Feed::Launches, &throttled, Duration::from_millis(20));
        m.budget(15, 13);
        m.poll_finished(Feed::Events, true);
        m.delivery("console", DeliveryOutcome::Delivered);
        m.delivery("console", DeliveryOutcome::Delivered);
        m.rate_limited("telegram");
        let mut subs = BTreeMap::new();
        subs.insert(("console", true), 1);
        let text = m.render(Some(&StoreGauges { outbox_depth: 4, dead_letters: 1, items: 10, subscriptions: subs }));
        for line in [
            "tminus_ll2_requests_total{feed=\"events\",status=\"ok\"} 1",
            "tminus_ll2_requests_total{feed=\"launches\",status=\"throttled\"} 1",
            "tminus_ll2_response_bytes_total{feed=\"events\"} 1234",
            "tminus_ll2_request_duration_seconds_bucket{feed=\"events\",le=\"0.25\"} 0",
            "tminus_ll2_request_duration_seconds_bucket{feed=\"events\",le=\"0.5\"} 1",
            "tminus_ll2_request_duration_seconds_count{feed=\"launches\"} 1",
            "tminus_ll2_budget_remaining 13",
            "tminus_ll2_budget_used 2",
            "tminus_rate_limited_total{source=\"ll2\"} 1",
            "tminus_rate_limited_total{source=\"telegram\"} 1",
            "tminus_deliveries_total{platform=\"console\",outcome=\"delivered\"} 2",
            "tminus_outbox_depth 4",
            "tminus_dead_letters 1",
            "tminus_subscriptions{platform=\"console\",enabled=\"true\"} 1",
            "tminus_store_ok 1",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in:\n{text}");
        }
        assert!(text.contains("tminus_last_successful_poll_timestamp_seconds{feed=\"events\"} "));
        // Every sample line belongs to a declared family.
        let declared: Vec<&str> =
            text.lines().filter_map(|l| l.strip_prefix("# TYPE ")).filter_map(|l| l.split(' ').next()).collect();
        for l in text.lines().filter(|l| !l.starts_with('#')) {
            let name = l.split(['{', ' ']).next().unwrap();
            let base = name.trim_end_matches("_bucket").trim_end_matches("_sum").trim_end_matches("_count");
            assert!(declared.contains(&name) || declared.contains(&base), "undeclared {name}");
        }
        assert!(m.render(None).contains("tminus_store_ok 0"));
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
