//! The status page at `GET /`: one server-rendered HTML page for the
//! operator's phone (no JavaScript; it reloads itself every minute). It
//! shows the version and uptime, each feed's last poll and error (the news
//! feed's too, once it polled), the LL2
//! requests left this hour, the outbox depth and dead letters,
//! subscriptions per platform, and the next upcoming items with countdowns
//! and their reminder state.
//!
//! [`StatusView`] is plain data gathered by the server; [`render`] is a pure
//! function over it. Rendering goes through `maud`, which escapes every
//! value by default, so names from LL2 cannot inject markup. The page is
//! read-only and must never show secrets or chat ids: the view has no field
//! that could hold one (platforms are counted, not listed).

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use maud::{DOCTYPE, Markup, html};

use crate::metrics::PollFailure;
use crate::store::DestinationPause;
use crate::types::format_duration;

/// How many upcoming items the page lists.
pub(crate) const UPCOMING: usize = 10;

/// Everything the page shows, already read from the store and the metrics.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StatusView {
    pub(crate) now: DateTime<Utc>,
    pub(crate) uptime: Duration,
    pub(crate) feeds: Vec<FeedView>,
    /// (requests left in the sliding hour, hourly ceiling); `None` before
    /// the first request of this process.
    pub(crate) budget_left: Option<(u32, u32)>,
    pub(crate) outbox_depth: u64,
    pub(crate) dead_letters: u64,
    /// Platform → (enabled, disabled) subscriptions.
    pub(crate) subscriptions: BTreeMap<&'static str, (u64, u64)>,
    /// Destinations paused after a refusal an admin can fix.
    pub(crate) paused: Vec<DestinationPause>,
    pub(crate) upcoming: Vec<UpcomingView>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FeedView {
    pub(crate) name: &'static str,
    pub(crate) last_success: Option<DateTime<Utc>>,
    pub(crate) last_error: Option<PollFailure>,
}

/// One upcoming item: its LL2 name and status as text (escaped on output).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct UpcomingView {
    pub(crate) kind: &'static str,
    pub(crate) name: String,
    pub(crate) status: Option<String>,
    pub(crate) when: DateTime<Utc>,
    /// Each configured reminder offset and whether it was sent.
    pub(crate) reminders: Vec<(Duration, bool)>,
}

/// The platform's own words at the end of a refusal ("Discord answered 403
/// for channel 42: Missing Permissions (code 50013)" → "Missing
/// Permissions (code 50013)"): the page shows no chat or channel ids.
fn platform_words(reason: &str) -> &str {
    reason.rsplit(": ").next().unwrap_or(reason)
}

/// `in 2d 3h`, `in 45m`, `3h ago`: the two largest units, whole minutes.
fn countdown(from: DateTime<Utc>, to: DateTime<Utc>) -> String {
    let secs = (to - from).num_seconds();
    if secs.unsigned_abs() < 60 {
        return "now".into();
    }
    let short = short_duration(Duration::from_secs(secs.unsigned_abs()));
    if secs > 0 { format!("in {short}") } else { format!("{short} ago") }
}

/// `2d 3h`, `45m`: the two largest units of whole minutes.
fn short_duration(d: Duration) -> String {
    let text = format_duration(Duration::from_secs(d.as_secs() / 60 * 60));
    // format_duration writes `2d3h15m`; keep the two largest units.
    let mut units = Vec::new();
    let mut start = 0;
    for (i, c) in text.char_indices() {
        if c.is_ascii_alphabetic() {
            units.push(&text[start..=i]);
            start = i + 1;
        }
    }
    units.iter().take(2).copied().collect::<Vec<_>>().join(" ")
}

fn time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:40em;margin:0 auto;padding:.5em;line-height:1.4}\
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:.2em .4em;border-bottom:1px solid #ddd;vertical-align:top}\
.bad{color:#b00}.ok{color:#070}small{color:#555}";

/// The whole page.
pub(crate) fn render(v: &StatusView) -> String {
    let page: Markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta http-equiv="refresh" content="60";
                title { "tminus status" }
                style { (STYLE) }
            }
            body {
                h1 { "tminus " (env!("CARGO_PKG_VERSION")) }
                p { "Up " (short_duration(v.uptime)) " · as of " (time(v.now)) }
                (feeds_section(v))
                (delivery_section(v))
                (upcoming_section(v))
            }
        }
    };
    page.into_string()
}

/// The "Feeds" section: each feed's last poll and error, and the LL2
/// request budget.
fn feeds_section(v: &StatusView) -> Markup {
    html! {
        h2 { "Feeds" }
        table {
            tr { th { "Feed" } th { "Last successful poll" } th { "Last error" } }
            @for f in &v.feeds {
                tr {
                    td { (f.name) }
                    td {
                        @match f.last_success {
                            Some(t) => { span class="ok" { (countdown(v.now, t)) } br; small { (time(t)) } }
                            None => { span class="bad" { "never" } }
                        }
                    }
                    td {
                        @match &f.last_error {
                            Some(e) => { span class="bad" { (e.message) } br; small { (countdown(v.now, e.at)) } }
                            None => { "none" }
                        }
                    }
                }
            }
        }
        p {
            "Requests left this hour: "
            @match v.budget_left {
                Some((left, per_hour)) => { strong { (left) } " of " (per_hour) }
                None => { "not known yet (no request since start)" }
            }
        }
    }
}

/// The "Delivery" section: outbox depth, dead letters, subscriptions per
/// platform and any paused destinations.
fn delivery_section(v: &StatusView) -> Markup {
    html! {
        h2 { "Delivery" }
        p {
            "Outbox: " strong { (v.outbox_depth) } " waiting · dead letters: "
            strong class=@if v.dead_letters > 0 { "bad" } { (v.dead_letters) }
        }
        table {
            tr { th { "Platform" } th { "Subscriptions" } th { "Disabled" } }
            @for (platform, (enabled, disabled)) in &v.subscriptions {
                tr { td { (platform) } td { (enabled) } td { (disabled) } }
            }
        }
        @if !v.paused.is_empty() {
            p { "Paused destinations (their alerts become dead letters until fixed; a command there or a restart resumes them):" }
            table {
                tr { th { "Platform" } th { "Since" } th { "Reason" } }
                @for p in &v.paused {
                    tr { td { (p.destination.platform().as_str()) } td { (time(p.since)) } td { span class="bad" { (platform_words(&p.reason)) } } }
                }
            }
        }
    }
}

/// The "Next upcoming" section: each item with its countdown and reminder
/// state.
fn upcoming_section(v: &StatusView) -> Markup {
    html! {
        h2 { "Next " (UPCOMING) " upcoming" }
        @if v.upcoming.is_empty() { p { "Nothing upcoming known yet." } }
        table {
            @for item in &v.upcoming {
                tr {
                    td {
                        strong { (item.name) } br;
                        small { (item.kind) @if let Some(s) = &item.status { " · " (s) } }
                    }
                    td { (countdown(v.now, item.when)) br; small { (time(item.when)) } }
                    td {
                        @for (offset, sent) in &item.reminders {
                            span class=@if *sent { "ok" } { (format_duration(*offset)) @if *sent { " sent" } @else { " pending" } } " "
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn countdowns_keep_two_units() {
        let now = at("2030-01-01T00:00:00Z");
        assert_eq!(countdown(now, at("2030-01-03T03:15:30Z")), "in 2d 3h");
        assert_eq!(countdown(now, at("2030-01-01T00:45:00Z")), "in 45m");
        assert_eq!(countdown(now, at("2029-12-31T21:00:00Z")), "3h ago");
        assert_eq!(countdown(now, at("2030-01-01T00:00:20Z")), "now");
    }

    #[test]
    fn page_escapes_ll2_text_and_shows_every_part() {
        let now = at("2030-01-01T00:00:00Z");
        let view = StatusView {
            now,
            uptime: Duration::from_secs(3 * 3600),
            feeds: vec![
                FeedView { name: "launches", last_success: Some(at("2029-12-31T23:50:00Z")), last_error: None },
                FeedView {
                    name: "events",
                    last_success: None,
                    last_error: Some(PollFailure { message: "LL2 answered HTTP 502 <x>".into(), at: now }),
                },
            ],
            budget_left: Some((11, 15)),
            outbox_depth: 4,
            dead_letters: 2,
            subscriptions: BTreeMap::from([("telegram", (5, 1))]),
            paused: vec![DestinationPause {
                destination: "discord:42".parse().unwrap(),
                reason: "Discord answered 403 for channel 4299: Missing Permissions (code 50013)".into(),
                since: at("2029-12-31T20:00:00Z"),
                until: at("2030-01-01T01:00:00Z"),
                attempts: 1,
            }],
            upcoming: vec![UpcomingView {
                kind: "launch",
                name: "<b>Falcon 9</b> & \"Starlink\"".into(),
                status: Some("Go for Launch".into()),
                when: at("2030-01-02T01:00:00Z"),
                reminders: vec![(Duration::from_secs(86_400), true), (Duration::from_secs(3600), false)],
            }],
        };
        let page = render(&view);
        assert!(page.contains("&lt;b&gt;Falcon 9&lt;/b&gt; &amp; &quot;Starlink&quot;"), "{page}");
        assert!(!page.contains("<b>Falcon"), "{page}");
        assert!(page.contains("HTTP 502 &lt;x&gt;"), "{page}");
        for part in [
            "discord",
            "Missing Permissions (code 50013)",
            "in 1d 1h",
            "11</strong> of 15",
            "10m ago",
            "never",
            "telegram",
            "1d sent",
            "1h pending",
            "Up 3h",
        ] {
            assert!(page.contains(part), "{part:?} missing:\n{page}");
        }
        assert!(!page.contains("<script"), "no JavaScript");
        assert!(!page.contains("4299") && !page.contains("discord:42"), "no channel ids: {page}");
    }
}
