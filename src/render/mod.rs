//! Rendering: one alert → one platform-neutral `Message` (title, what
//! changed, when in the subscriber's timezone with the precision spelled
//! honestly, T-minus, status, agencies, place, links; the type and the
//! time formats live in `message`), and the console's plain-text form of it. Pure functions: no
//! clock (callers pass `now`), no I/O.
//!
//! Nothing here knows a chat platform: each platform turns a `Message` into
//! its own wire format in its own folder (`telegram::render`,
//! `discord::render`).
//!
//! Messages are lean: each fact once (a reminder's date is its "When"
//! line, a status change's status its change line), the description only
//! in `new` alerts.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::detect::{Alert, Change};
use crate::item::{Item, Landing, Named, Precision, status};
use crate::links::{self, Link};
use crate::types::{ItemKind, format_duration};

pub(crate) mod message;

#[cfg_attr(feature = "testing", visibility::make(pub))]
pub(crate) use message::Message;
pub(crate) use message::{Fact, format_shift, format_tminus, format_when};

/// Label of the link to where LL2's update note comes from.
pub(crate) const SOURCE: &str = "Source";

/// Builds the message for `alert` as seen by a subscriber in `tz` at `now`:
/// the headline of its most important change, then the lines of every
/// change (a change without lines of its own, such as a webcast going live
/// beside a status change, is named in one).
pub fn message(alert: &Alert, tz: Tz, now: DateTime<Utc>) -> Message {
    // An article is not a change of its item: it has a layout of its own.
    if let Some(Change::News { article }) = alert.headline() {
        return crate::news::render::message(article, alert, now);
    }
    let item = &alert.item;
    let precision = item.precision.as_ref();
    let Described { emoji, headline, lines: mut changes, note } = describe_all(alert, tz);
    let mut pages = links::pages(item);
    // LL2's librarian note says why a date or status moved; the alert's
    // item carries one only when it is new (see `detect::as_told`).
    let moved = alert.changes.iter().any(|c| matches!(c, Change::Schedule { .. } | Change::Status { .. }));
    if let Some(note) = item.details.update.as_ref().filter(|_| moved) {
        changes.push(format!("💬 “{}”", note.comment));
        if let Some(url) = &note.link {
            pages.push(Link { label: SOURCE, url: url.clone() });
        }
    }
    let exact = item.when.filter(|_| to_the_hour(precision));
    let is_new = alert.changes.iter().any(|c| matches!(c, Change::New));
    let status_changed = alert.changes.iter().any(|c| matches!(c, Change::Status { .. }));
    Message {
        kind: alert.kind(),
        emoji,
        headline,
        title: item.name.clone(),
        changes,
        note,
        when: item.when.map(|w| format_when(w, precision, tz)),
        when_exact: exact,
        tminus: exact.map(|w| format_tminus(w, now)),
        // A status change line names the status already: once more in the
        // headline is enough.
        status: item.status.as_ref().map(|s| s.name.clone()).filter(|_| !status_changed),
        status_id: item.status.as_ref().and_then(|s| s.id),
        agencies: agencies_line(item),
        location: location_line(item),
        details: details(item),
        webcast: webcast(alert),
        link: links::main_page(item),
        pages,
        image: item.image.clone(),
        // The description tells what the mission is: news only the first
        // time (and on `/next`'s card, built from a `new` alert).
        description: item.description.clone().filter(|_| is_new),
    }
}

/// What all of the alert's changes say together: the first one's emoji and
/// headline, every change's lines (a later change without lines named in
/// one), and the first note.
fn describe_all(alert: &Alert, tz: Tz) -> Described {
    let mut described = alert.changes.iter().map(|c| describe(c, &alert.item, tz));
    let mut all = described.next().unwrap_or(Described {
        emoji: "ℹ️",
        headline: "Update".to_string(),
        lines: Vec::new(),
        note: None,
    });
    for more in described {
        if more.lines.is_empty() {
            all.lines.push(format!("{} {}", more.emoji, more.headline));
        }
        all.lines.extend(more.lines);
        all.note = all.note.or(more.note);
    }
    all
}

/// What one change says: its emoji, its headline, its lines and a note.
fn describe(change: &Change, item: &Item, tz: Tz) -> Described {
    let noun = match item.kind() {
        ItemKind::Launch => "launch",
        ItemKind::Event => item.item_type.as_ref().map(|t| t.name.as_str()).unwrap_or("event"),
    };
    let date_label = if item.kind() == ItemKind::Launch { "NET" } else { "Date" };
    let mut changes = Vec::new();
    let mut note = None;
    let (emoji, headline) = match change {
        Change::New => ("🆕", format!("New {}", noun.to_lowercase())),
        Change::Schedule { .. } => {
            changes.extend(schedule_lines(change, date_label, tz));
            ("🗓", "Schedule changed".to_string())
        }
        Change::Status { old, new } => {
            let name =
                |s: &Option<crate::item::Named>| s.as_ref().map(|s| s.name.clone()).unwrap_or_else(|| "unknown".into());
            changes.push(format!("Status: {} → {}", name(old), name(new)));
            status_headline(new.as_ref().and_then(|s| s.id))
        }
        Change::Landing { results } => {
            changes.extend(results.iter().map(landing_text));
            if results.iter().all(|l| l.success == Some(true)) {
                ("🛬", if results.len() > 1 { "Boosters landed" } else { "Booster landed" }.to_string())
            } else {
                ("💥", "Landing failed".to_string())
            }
        }
        Change::Webcast { went_live, .. } => {
            if *went_live {
                ("🔴", "Webcast is live".to_string())
            } else {
                ("📺", "Video added".to_string())
            }
        }
        // The date is the message's "When" line: a reminder names it once.
        Change::Reminder { offset, .. } => {
            note = match item.status.as_ref().and_then(|s| s.id) {
                Some(status::HOLD) => Some("Currently on hold: the time may change.".to_string()),
                Some(status::TBD) => Some("Time is still TBD: it may change.".to_string()),
                _ => None,
            };
            ("⏰", format!("T-{} reminder", format_duration(*offset)))
        }
        // Rendered by `news::render` (see `message`); never beside others.
        Change::News { article } => ("📰", article.title.clone()),
    };
    Described { emoji, headline, lines: changes, note }
}

/// What a schedule change says: the date line when the date or its
/// precision moved, and the window line when the window is news.
fn schedule_lines(change: &Change, date_label: &str, tz: Tz) -> Vec<String> {
    let Change::Schedule { old_when, new_when, old_precision, new_precision, old_window, new_window } = change else {
        return Vec::new();
    };
    let mut lines = Vec::new();
    let (old_fine, new_fine) = (to_the_hour(old_precision.as_ref()), to_the_hour(new_precision.as_ref()));
    if old_when != new_when || old_precision != new_precision {
        let show = |w: &Option<DateTime<Utc>>, p: &Option<Precision>| {
            w.map(|w| labelled(date_label, format_when(w, p.as_ref(), tz))).unwrap_or_else(|| "unknown".into())
        };
        let mut line = format!("{date_label}: {} → {}", show(old_when, old_precision), show(new_when, new_precision));
        // A shift compares like with like: "NET October" → "October 7"
        // did not move by -24 days, nor "~13:00" → "13:36" by +10m.
        let same_precision = old_precision == new_precision;
        if let (Some(o), Some(n)) = (old_when, new_when)
            && o != n
            && same_precision
        {
            line.push_str(&format!(" ({})", format_shift(*n - *o)));
        }
        lines.push(line);
    }
    // Windows of dates coarser than an hour are LL2 placeholders (a
    // local time for them would be invented), and an instantaneous
    // window at the NET says nothing the NET line does not.
    let at_when = |w: &(Option<DateTime<Utc>>, Option<DateTime<Utc>>), when: &Option<DateTime<Utc>>| {
        w.0.is_some() && w.0 == w.1 && w.0 == *when
    };
    let window_news = old_fine && new_fine && !(at_when(old_window, old_when) && at_when(new_window, new_when));
    if old_window != new_window && window_news {
        lines.push(window_line(*old_window, *new_window, *new_when, tz));
    }
    lines
}

/// The emoji and headline of a status change, by the new status.
fn status_headline(new_status: Option<i64>) -> (&'static str, String) {
    match new_status {
        Some(status::SUCCESS) => ("✅", "Success".to_string()),
        Some(status::FAILURE) => ("❌", "Failure".to_string()),
        Some(status::PARTIAL_FAILURE) => ("⚠️", "Partial failure".to_string()),
        Some(status::IN_FLIGHT) => ("🚀", "In flight".to_string()),
        Some(status::HOLD) => ("✋", "On hold".to_string()),
        _ => ("🚦", "Status changed".to_string()),
    }
}

/// A launch window: its opening and closing instants.
type Window = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// "Window: 14:30–16:30 CET (was instantaneous at 13:26)": the new window
/// first, the old one after "was"; a date is said only when it is not the
/// day of the NET (`net`), which the message names already.
fn window_line(old: Window, new: Window, net: Option<DateTime<Utc>>, tz: Tz) -> String {
    let day = |t: DateTime<Utc>| t.with_timezone(&tz).format("%Y-%m-%d").to_string();
    let net_day = net.map(day);
    let at = |t: DateTime<Utc>, zone: bool| {
        let local = t.with_timezone(&tz);
        let date = Some(day(t)).filter(|d| Some(d) != net_day.as_ref()).map(|d| format!("{d} "));
        let zone = if zone { local.format(" %Z").to_string() } else { String::new() };
        format!("{}{}{zone}", date.unwrap_or_default(), local.format("%H:%M"))
    };
    let show = |w: Window, zone: bool| match w {
        (Some(s), Some(e)) if s == e => format!("instantaneous at {}", at(s, zone)),
        (Some(s), Some(e)) => format!("{}–{}", at(s, false), at(e, zone)),
        _ => "unknown".into(),
    };
    format!("Window: {} (was {})", show(new, true), show(old, false))
}

/// One change, described.
struct Described {
    emoji: &'static str,
    headline: String,
    lines: Vec<String>,
    note: Option<String>,
}

/// Whether a date is known to the hour or better (or its precision is not
/// given): it names an instant, not a placeholder for a coarser period.
fn to_the_hour(precision: Option<&Precision>) -> bool {
    precision.is_none_or(|p| p.to_the_hour())
}

/// A formatted date under a `label`, without saying "NET" twice: a launch
/// line reads "NET: 2026-12", not "NET: NET 2026-12".
fn labelled(label: &str, formatted: String) -> String {
    match formatted.strip_prefix("NET ") {
        Some(rest) if label == "NET" => rest.to_string(),
        _ => formatted,
    }
}

/// The detail lines of an item, most important first.
pub(crate) fn details(item: &Item) -> Vec<Fact> {
    // LL2 fills unknown values with placeholders not worth a line.
    let known = |n: &&Named| !matches!(n.name.trim().to_lowercase().as_str(), "unknown" | "n/a" | "tbd" | "");
    let d = &item.details;
    let mut out = Vec::new();
    let mut push = |icon, label, value: String| {
        if !value.trim().is_empty() {
            out.push(Fact { icon, label, value });
        }
    };
    match item.kind() {
        ItemKind::Launch => {
            push("🚀", "Rocket", d.rocket.clone().unwrap_or_default());
            let orbit = d.orbit.as_ref().filter(known).map(|o| match o.abbrev.as_deref() {
                // "Low Earth Orbit (LEO)", but not "Mars Orbit (Mars)".
                Some(a) if !a.is_empty() && !o.name.contains(a) => format!("{} ({a})", o.name),
                _ => o.name.clone(),
            });
            let mission = item.item_type.as_ref().filter(known).map(|t| t.name.clone());
            let mission = [mission, orbit.map(|o| format!("to {o}"))].into_iter().flatten().collect::<Vec<_>>();
            push("🎯", "Mission", mission.join(", "));
            let chance = d.probability.map(|p| format!("{p}% go"));
            let weather = [chance, d.weather.as_deref().map(one_line)].into_iter().flatten().collect::<Vec<_>>();
            push("🌤", "Weather", weather.join(" · "));
            push("🛬", "Landing", d.landings.iter().map(landing_text).collect::<Vec<_>>().join("; "));
        }
        ItemKind::Event => {
            push("🏷", "Type", item.item_type.as_ref().map(|t| t.name.clone()).unwrap_or_default());
            let label = if d.launches.len() > 1 { "Launches" } else { "Launch" };
            push("🚀", label, d.launches.join("; "));
        }
    }
    out
}

/// "B1082 on OCISLY (ASDS): landed", "expended".
fn landing_text(l: &Landing) -> String {
    // LL2 names a booster not yet assigned "Unknown F9" and the like.
    let booster = l.booster.clone().filter(|b| !b.starts_with("Unknown")).unwrap_or_else(|| "Booster".into());
    if !l.attempt {
        return format!("{booster}: no landing attempt");
    }
    let place = match (&l.location, &l.method) {
        (Some(loc), Some(m)) if loc != m => format!(" on {loc} ({m})"),
        (Some(x), _) | (None, Some(x)) => format!(" on {x}"),
        (None, None) => String::new(),
    };
    let result = match l.success {
        Some(true) => "landed ✅",
        Some(false) => "landing failed ❌",
        None => "landing planned",
    };
    format!("{booster}{place}: {result}")
}

/// Text on one line: LL2's free text may carry line breaks.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The video link: the one that just went live, else the item's best.
fn webcast(alert: &Alert) -> Option<String> {
    let live = alert.changes.iter().find_map(|c| match c {
        Change::Webcast { url: Some(u), .. } => Some(u.clone()),
        _ => None,
    });
    live.or_else(|| alert.item.webcast_url().map(str::to_owned))
}

/// "Pad, place", or whichever of the two LL2 gave.
fn location_line(item: &Item) -> Option<String> {
    match (&item.pad, &item.location) {
        (Some(p), Some(l)) => Some(format!("{p}, {l}")),
        (Some(x), None) | (None, Some(x)) => Some(x.clone()),
        (None, None) => None,
    }
}

fn agencies_line(item: &Item) -> Option<String> {
    if item.agencies.is_empty() {
        return None;
    }
    Some(item.agencies.iter().map(|a| a.name.as_str()).collect::<Vec<_>>().join(", "))
}

/// The console form: a readable block for stdout.
#[cfg_attr(feature = "testing", visibility::make(pub))]
pub(crate) fn console(msg: &Message) -> String {
    let mut out = format!("{} [{}] {} — {}\n", msg.emoji, msg.kind, msg.headline, msg.title);
    for line in &msg.changes {
        out.push_str(&format!("   {line}\n"));
    }
    if let Some(n) = &msg.note {
        out.push_str(&format!("   ⚠ {n}\n"));
    }
    let mut field = |label: &str, v: &Option<String>| {
        if let Some(v) = v {
            out.push_str(&format!("   {label:<9} {v}\n"));
        }
    };
    let when = match (&msg.when, &msg.tminus) {
        (Some(w), Some(t)) => Some(format!("{w} ({t})")),
        (w, _) => w.clone(),
    };
    field("When:", &when);
    field("Status:", &msg.status);
    field("Agency:", &msg.agencies);
    field("Where:", &msg.location);
    for f in &msg.details {
        field(&format!("{}:", f.label), &Some(f.value.clone()));
    }
    field("Webcast:", &msg.webcast);
    for page in &msg.pages {
        field("Link:", &Some(format!("{} {}", page.label, page.url)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::AlertId;
    use crate::detect::tests::sample_launch;
    use crate::item::Named;

    fn prec(id: i64) -> Precision {
        Precision::from_id(id)
    }

    #[test]
    fn precision_is_spelled_honestly() {
        let t: DateTime<Utc> = "2026-12-05T13:30:00Z".parse().unwrap();
        let berlin = chrono_tz::Europe::Berlin;
        assert_eq!(format_when(t, Some(&prec(1)), berlin), "2026-12-05 14:30 CET");
        assert_eq!(format_when(t, Some(&prec(2)), berlin), "2026-12-05 ~14:00 CET");
        assert_eq!(format_when(t, Some(&prec(5)), berlin), "NET 2026-12-05");
        assert_eq!(format_when(t, Some(&prec(7)), berlin), "NET 2026-12");
        assert_eq!(format_when(t, Some(&prec(10)), berlin), "Q3 2026");
        assert_eq!(format_when(t, Some(&prec(14)), berlin), "NET 2026");
        assert_eq!(format_when(t, None, chrono_tz::UTC), "2026-12-05 13:30 UTC");
    }

    #[test]
    fn shifts_and_countdowns() {
        assert_eq!(format_shift(chrono::Duration::minutes(150)), "+2h 30m");
        assert_eq!(format_shift(chrono::Duration::hours(-26)), "-1d 2h");
        let t: DateTime<Utc> = "2026-12-05T13:30:00Z".parse().unwrap();
        assert_eq!(format_tminus(t, t - chrono::Duration::minutes(62)), "T-1h 2m");
        assert_eq!(format_tminus(t, t + chrono::Duration::minutes(5)), "T+5m");
        assert_eq!(format_tminus(t, t), "T-0");
    }

    #[test]
    fn reminder_of_a_launch_on_hold_says_so() {
        let mut item = sample_launch();
        item.status = Some(Named::new(Some(status::HOLD), "On Hold", Some("Hold".into())));
        let when = item.when.unwrap();
        let alert = Alert {
            id: AlertId(1),
            item,
            changes: vec![Change::Reminder { offset: std::time::Duration::from_secs(3600), when }],
            detected_at: when,
        };
        let msg = message(&alert, chrono_tz::UTC, when - chrono::Duration::hours(1));
        assert_eq!(msg.headline, "T-1h reminder");
        assert_eq!(msg.tminus.as_deref(), Some("T-1h"));
        assert!(msg.note.unwrap().contains("on hold"));
    }

    fn alert_of(item: Item, changes: Vec<Change>) -> Alert {
        let detected_at = item.when.unwrap();
        Alert { id: AlertId(1), item, changes, detected_at }
    }

    #[test]
    fn description_appears_only_in_new_alerts() {
        let mut item = sample_launch();
        item.description = Some("A batch of Starlink satellites.".into());
        let old = Some(Named::new(Some(status::GO), "Go for Launch", None));
        let new = Some(Named::new(Some(status::HOLD), "On Hold", None));
        let now = item.when.unwrap();
        let described = |changes| message(&alert_of(item.clone(), changes), chrono_tz::UTC, now).description;
        assert!(described(vec![Change::New]).is_some());
        assert!(described(vec![Change::Status { old: old.clone(), new: new.clone() }, Change::New]).is_some());
        assert_eq!(described(vec![Change::Status { old, new }]), None);
        let reminder = Change::Reminder { offset: std::time::Duration::from_secs(3600), when: now };
        assert_eq!(described(vec![reminder]), None);
    }

    #[test]
    fn reminder_names_the_date_once() {
        let item = sample_launch();
        let when = item.when.unwrap();
        let alert = alert_of(item, vec![Change::Reminder { offset: std::time::Duration::from_secs(3600), when }]);
        let msg = message(&alert, chrono_tz::UTC, when - chrono::Duration::hours(1));
        let date = msg.when.clone().unwrap();
        assert_eq!(console(&msg).matches(date.as_str()).count(), 1, "{}", console(&msg));
    }

    #[test]
    fn status_is_named_at_most_twice() {
        let item = sample_launch();
        let now = item.when.unwrap();
        let old = Some(Named::new(Some(status::GO), "Go for Launch", None));
        for (id, name) in [(status::HOLD, "On Hold"), (status::SUCCESS, "Launch Successful"), (status::TBD, "TBD")] {
            let mut item = item.clone();
            item.status = Some(Named::new(Some(id), name, None));
            let change = Change::Status { old: old.clone(), new: item.status.clone() };
            let msg = message(&alert_of(item, vec![change]), chrono_tz::UTC, now);
            let text = console(&msg);
            assert!(text.matches(name).count() <= 2, "{text}");
            assert_eq!(msg.status, None, "the change line names it");
            assert_eq!(msg.status_id, Some(id), "colours and icons still know it");
        }
    }

    #[test]
    fn window_line_reads_new_first_with_the_old_after_was() {
        let t = |s: &str| Some(s.parse::<DateTime<Utc>>().unwrap());
        let berlin = chrono_tz::Europe::Berlin;
        let old = (t("2026-12-05T12:26:00Z"), t("2026-12-05T12:26:00Z"));
        let new = (t("2026-12-05T13:30:00Z"), t("2026-12-05T15:30:00Z"));
        let net = t("2026-12-05T13:30:00Z");
        assert_eq!(window_line(old, new, net, berlin), "Window: 14:30–16:30 CET (was instantaneous at 13:26)");
        // A window on another day than the NET says its date.
        let late = (t("2026-12-05T22:00:00Z"), t("2026-12-06T01:00:00Z"));
        assert_eq!(window_line(new, late, net, berlin), "Window: 23:00–2026-12-06 02:00 CET (was 14:30–16:30)");
        assert_eq!(
            window_line((None, None), old, t("2026-12-05T12:26:00Z"), berlin),
            "Window: instantaneous at 13:26 CET (was unknown)"
        );
    }
}

#[cfg(test)]
mod snapshot_tests {
    //! Console rendering of every alert kind for two subscribers, one in
    //! Berlin and one in New York, from real LL2 fixture items at a fixed
    //! `now`. Review changes with `INSTA_UPDATE=always cargo test --lib
    //! snapshot_tests` and read the `.snap` files.

    use chrono::{DateTime, Utc};
    use chrono_tz::Tz;

    use super::{console, message};
    use crate::detect::{Alert, AlertId, Change};
    use crate::item::{Item, Named, Precision};
    use crate::ll2::parse_page;
    use crate::types::Feed;

    const LAUNCHES: &[u8] = include_bytes!("../../tests/fixtures/ll2/launches-2.3.0-upcoming-detailed.json");
    const EVENTS: &[u8] = include_bytes!("../../tests/fixtures/ll2/events-2.3.0-upcoming-detailed.json");
    const ZONES: [(&str, Tz); 2] = [("berlin", chrono_tz::Europe::Berlin), ("new_york", chrono_tz::America::New_York)];

    fn fixture(feed: Feed, body: &[u8], needle: &str) -> Item {
        parse_page(feed, body).unwrap().items.into_iter().find(|i| i.name.contains(needle)).unwrap()
    }

    /// Falcon Heavy | Nancy Grace Roman Space Telescope: Go, NET
    /// 2026-08-30 11:26 UTC to the minute, one video.
    fn roman() -> Item {
        fixture(Feed::Launches, LAUNCHES, "Nancy Grace Roman")
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    /// An alert of one change, as detection tells it when LL2 wrote no new
    /// note (the fixtures' notes are old news).
    fn alert(mut item: Item, change: Change, now: DateTime<Utc>) -> Alert {
        item.details.update = None;
        Alert::new(AlertId(1), item, vec![change], now)
    }

    #[test]
    fn a_new_librarian_note_is_quoted_with_its_source_under_a_schedule_or_status_change() {
        let (_, mut slip, now) = cases().into_iter().find(|c| c.0 == "schedule_slip").unwrap();
        slip.item.details.update = Some(crate::item::UpdateNote {
            id: Some(7),
            comment: "Delayed to NET January 3.".into(),
            link: Some("https://example.org/why".into()),
            at: None,
        });
        let msg = message(&slip, chrono_tz::UTC, now);
        assert_eq!(msg.changes.last().map(String::as_str), Some("💬 “Delayed to NET January 3.”"));
        assert_eq!(
            msg.pages.last(),
            Some(&crate::links::Link { label: super::SOURCE, url: "https://example.org/why".into() })
        );
        // A reminder is no place for it.
        let reminder = Alert {
            changes: vec![Change::Reminder { offset: std::time::Duration::from_secs(3600), when: now }],
            ..slip
        };
        assert!(!message(&reminder, chrono_tz::UTC, now).changes.iter().any(|c| c.contains("January 3")));
    }

    /// Every case: (name, alert, now).
    fn cases() -> Vec<(&'static str, Alert, DateTime<Utc>)> {
        let mut out = Vec::new();

        let now = at("2026-08-29T09:00:00Z");
        out.push(("new_launch", alert(roman(), Change::New, now), now));

        let juice = fixture(Feed::Events, EVENTS, "Juice Earth Flyby");
        let now = at("2026-08-01T12:00:00Z");
        out.push(("new_event_month_precision", alert(juice, Change::New, now), now));

        // The NET slips by 2h 30m (the instantaneous window with it).
        let old = roman();
        let t = old.when.unwrap();
        let t2 = t + chrono::Duration::minutes(150);
        let mut slipped = old.clone();
        slipped.when = Some(t2);
        slipped.window_start = Some(t2);
        slipped.window_end = Some(t2);
        let now = at("2026-08-30T09:00:00Z");
        let change = Change::Schedule {
            old_when: Some(t),
            new_when: Some(t2),
            old_precision: old.precision,
            new_precision: old.precision,
            old_window: (old.window_start, old.window_end),
            new_window: (Some(t2), Some(t2)),
        };
        out.push(("schedule_slip", alert(slipped, change, now), now));

        // Known to the hour, then to the minute ten minutes later, with a
        // two-hour window instead of an instantaneous one.
        let mut firmer = roman();
        let t3 = t + chrono::Duration::minutes(10);
        firmer.when = Some(t3);
        firmer.window_start = Some(t3);
        firmer.window_end = Some(t3 + chrono::Duration::hours(2));
        let change = Change::Schedule {
            old_when: Some(t),
            new_when: Some(t3),
            old_precision: Some(Precision::Hour),
            new_precision: firmer.precision,
            old_window: (Some(t), Some(t)),
            new_window: (firmer.window_start, firmer.window_end),
        };
        out.push(("schedule_hour_to_minute_with_window", alert(firmer, change, now), now));

        // Amazon Leo LE-04 was "NET October" and is now known to the day.
        let day = fixture(Feed::Launches, LAUNCHES, "Amazon Leo");
        assert_eq!(day.precision, Some(Precision::Day));
        let old_when = at("2026-10-31T00:00:00Z");
        let now = at("2026-09-15T08:00:00Z");
        let change = Change::Schedule {
            old_when: Some(old_when),
            new_when: day.when,
            old_precision: Some(Precision::Month),
            new_precision: day.precision,
            old_window: (Some(old_when), Some(old_when)),
            new_window: (day.window_start, day.window_end),
        };
        out.push(("schedule_precision_month_to_day", alert(day, change, now), now));

        // Go → Success, ten minutes after lift-off.
        let mut success = roman();
        let go = success.status.clone();
        success.status = Some(Named::new(Some(3), "Launch Successful", Some("Success".into())));
        let now = t + chrono::Duration::minutes(10);
        let change = Change::Status { old: go, new: success.status.clone() };
        out.push(("status_go_to_success", alert(success, change, now), now));

        // The webcast goes live twenty minutes before T-0.
        let mut live = roman();
        live.webcast_live = true;
        let url = live.webcast_url().map(str::to_owned);
        assert!(url.is_some());
        let now = t - chrono::Duration::minutes(20);
        out.push(("webcast_live", alert(live, Change::Webcast { went_live: true, url }, now), now));

        // T-1h reminder.
        let now = t - chrono::Duration::hours(1);
        let change = Change::Reminder { offset: std::time::Duration::from_secs(3600), when: t };
        out.push(("reminder_1h", alert(roman(), change, now), now));

        // T-1h reminder of MMX (known to the second) while it is on hold.
        let mut mmx = fixture(Feed::Launches, LAUNCHES, "MMX");
        mmx.status = Some(Named::new(Some(5), "On Hold", Some("Hold".into())));
        let t = mmx.when.unwrap();
        let now = t - chrono::Duration::hours(1);
        let change = Change::Reminder { offset: std::time::Duration::from_secs(3600), when: t };
        out.push(("reminder_1h_on_hold", alert(mmx, change, now), now));

        out
    }

    /// What the snapshots show, stated: coarse dates are not given a shift,
    /// a local time or a second "NET".
    #[test]
    fn coarse_schedule_changes_stay_honest() {
        let (_, alert, now) = cases().into_iter().find(|c| c.0 == "schedule_precision_month_to_day").unwrap();
        for (_, tz) in ZONES {
            let msg = message(&alert, tz, now);
            assert_eq!(msg.changes, ["NET: 2026-10 → 2026-10-07"]);
            assert_eq!(msg.when.as_deref(), Some("NET 2026-10-07"));
            assert_eq!((msg.when_exact, msg.tminus), (None, None));
        }
        let (_, alert, now) = cases().into_iter().find(|c| c.0 == "schedule_slip").unwrap();
        let msg = message(&alert, chrono_tz::Europe::Berlin, now);
        assert_eq!(msg.changes, ["NET: 2026-08-30 13:26 CEST → 2026-08-30 15:56 CEST (+2h 30m)"]);
    }

    #[test]
    fn console_for_each_alert_kind_in_two_timezones() {
        for (case, alert, now) in cases() {
            for (zone, tz) in ZONES {
                let text = console(&message(&alert, tz, now));
                insta::assert_snapshot!(format!("{case}__{zone}"), text);
            }
        }
    }
}
