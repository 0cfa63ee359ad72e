//! iCalendar (RFC 5545) text for a feed: pure functions from items to the
//! `.ics` body. It owns what the feed says (the DTSTART rules by date
//! precision, summary, description, status); the `icalendar` crate writes
//! it (escaping, 75-octet folding, `VALUE=DATE`). `DTSTAMP` and `SEQUENCE`
//! are always set from LL2's data and the store, never from the clock, or
//! every request would change the ETag. It must not read the store or the
//! clock (the caller passes what it needs).

use chrono::{DateTime, Duration, NaiveDate, Utc};
use icalendar::{Calendar, Component, Event, EventLike, EventStatus, Property};

use crate::item::{Item, Precision, status};
use crate::links;

/// One VEVENT to write: the item and its stored sequence number.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Entry<'a> {
    /// The item the event shows.
    pub(crate) item: &'a Item,
    /// Its `SEQUENCE`, from the store.
    pub(crate) sequence: u32,
}

/// How the feed shows an item's date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Start {
    /// A UTC instant (precision of an hour or finer).
    Instant(DateTime<Utc>),
    /// An all-day event on that (UTC) day; `net` is true when the date is
    /// coarser than a day, so the summary says "NET" and the precision.
    AllDay {
        /// The day, in UTC's calendar.
        day: NaiveDate,
        /// The date is only known to the week or coarser.
        net: bool,
    },
}

/// Default length of a timed event without a window.
pub(crate) const DEFAULT_LENGTH: Duration = Duration::hours(1);

/// The start of an item as the feed shows it; `None` without a date.
pub(crate) fn start(item: &Item) -> Option<Start> {
    let when = item.when?;
    Some(match item.precision {
        // An unknown level is shown as exact, as the renderers do.
        None | Some(Precision::Second | Precision::Minute | Precision::Hour | Precision::Other(_)) => {
            Start::Instant(when)
        }
        Some(Precision::Morning | Precision::Afternoon | Precision::Day) => {
            Start::AllDay { day: when.date_naive(), net: false }
        }
        Some(_) => Start::AllDay { day: when.date_naive(), net: true },
    })
}

/// The end of a timed event: the launch window's end when it is after the
/// start, else the start plus [`DEFAULT_LENGTH`].
pub(crate) fn end_of(item: &Item, start: DateTime<Utc>) -> DateTime<Utc> {
    item.window_end.filter(|e| *e > start).unwrap_or(start + DEFAULT_LENGTH)
}

/// The summary: the name, with "NET" and the precision for coarse dates.
pub(crate) fn summary(item: &Item) -> String {
    match (start(item), item.precision) {
        (Some(Start::AllDay { net: true, .. }), Some(p)) => format!("{} (NET {})", item.name, p.name()),
        _ => item.name.clone(),
    }
}

/// Plain-text description: status, mission type, agencies, then the human
/// links. Used by the feed and by Discord scheduled events.
pub(crate) fn description(item: &Item) -> String {
    let mut lines = Vec::new();
    if let Some(s) = &item.status {
        lines.push(format!("Status: {}", s.name));
    }
    if let Some(t) = &item.item_type {
        lines.push(format!("Type: {}", t.name));
    }
    if !item.agencies.is_empty() {
        let names: Vec<&str> = item.agencies.iter().map(|a| a.name.as_str()).collect();
        lines.push(format!("Agency: {}", names.join(", ")));
    }
    for link in links::for_item(item) {
        lines.push(format!("{}: {}", link.label, link.url));
    }
    lines.join("\n")
}

/// The place: pad and location, whichever LL2 gave.
pub(crate) fn location(item: &Item) -> Option<String> {
    let parts: Vec<&str> = [item.pad.as_deref(), item.location.as_deref()].into_iter().flatten().collect();
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// The stable UID of an item's event: it contains the LL2 id.
pub(crate) fn uid(item: &Item) -> String {
    format!("{}-{}@tminus", item.kind(), item.id.id)
}

/// A whole VCALENDAR named `name` with one VEVENT per entry that has a date.
pub(crate) fn calendar(name: &str, entries: &[Entry<'_>]) -> String {
    let mut cal = Calendar::empty();
    cal.append_property(Property::new("VERSION", "2.0"));
    cal.append_property(Property::new("PRODID", "-//tminus//spaceflight calendar//EN"));
    cal.append_property(Property::new("CALSCALE", "GREGORIAN"));
    cal.append_property(Property::new("X-WR-CALNAME", plain(name)));
    cal.ttl(&Duration::hours(1));
    for entry in entries {
        if let Some(event) = event(entry) {
            cal.push(event);
        }
    }
    cal.to_string()
}

fn event(entry: &Entry<'_>) -> Option<Event> {
    let item = entry.item;
    let start = start(item)?;
    let mut ev = Event::new();
    ev.uid(&uid(item));
    // DTSTAMP and LAST-MODIFIED come from LL2's data, not the clock: an
    // unchanged feed keeps its ETag.
    ev.timestamp(item.last_updated).last_modified(item.last_updated);
    match start {
        Start::Instant(at) => ev.starts(at).ends(end_of(item, at)),
        Start::AllDay { day, .. } => ev.starts(day).ends(day.succ_opt().unwrap_or(day)),
    };
    ev.sequence(entry.sequence).summary(&plain(&summary(item)));
    let description = description(item);
    if !description.is_empty() {
        ev.description(&plain(&description));
    }
    if let Some(place) = location(item) {
        ev.location(&plain(&place));
    }
    if let Some(url) = links::main_page(item) {
        ev.url(&url);
    }
    let confirmed = item.status.as_ref().and_then(|s| s.id).is_some_and(|id| id == status::GO);
    ev.status(if confirmed { EventStatus::Confirmed } else { EventStatus::Tentative });
    ev.append_property(Property::new("TRANSP", "TRANSPARENT"));
    Some(ev.done())
}

/// Text as a TEXT value may hold it: the crate escapes `\ ; ,` and line
/// feeds, but passes other control characters (a stray `\r` from LL2 would
/// end the content line early), so they are dropped here.
fn plain(text: &str) -> String {
    text.chars().filter(|c| *c == '\n' || !c.is_control()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::tests::sample_launch;

    #[test]
    fn text_is_escaped_folded_and_read_back() {
        let mut item = sample_launch();
        item.name = format!("a,b;c\\d\ne\r {}", "🚀é".repeat(40));
        item.when = Some("2026-10-19T19:41:03Z".parse().unwrap());
        item.precision = Some(Precision::Minute);
        let body = calendar("x", &[Entry { item: &item, sequence: 3 }]);
        for physical in body.split("\r\n") {
            assert!(physical.len() <= 75, "{} octets: {physical:?}", physical.len());
        }
        assert!(body.contains("SUMMARY:a\\,b\\;c\\\\d\\ne "), "{body}");
        assert!(body.contains("SEQUENCE:3\r\n") && body.contains("DTSTAMP:"), "{body}");
        let parsed: icalendar::Calendar = body.parse().unwrap();
        let event = parsed.components[0].as_event().unwrap();
        assert_eq!(event.get_summary().unwrap(), item.name.replace('\r', ""));
        assert_eq!(event.get_timestamp(), Some(item.last_updated), "DTSTAMP is LL2's, not the clock's");
    }

    #[test]
    fn dtstart_follows_precision() {
        let mut item = sample_launch();
        let when: DateTime<Utc> = "2026-10-19T19:41:03Z".parse().unwrap();
        item.when = Some(when);
        item.precision = Some(Precision::Minute);
        assert_eq!(start(&item), Some(Start::Instant(when)));
        item.precision = Some(Precision::Day);
        assert_eq!(start(&item), Some(Start::AllDay { day: when.date_naive(), net: false }));
        item.precision = Some(Precision::Month);
        assert_eq!(start(&item), Some(Start::AllDay { day: when.date_naive(), net: true }));
        assert!(summary(&item).ends_with("(NET Month)"), "{}", summary(&item));
        item.when = None;
        assert_eq!(start(&item), None);
    }

    #[test]
    fn timed_event_ends_with_its_window_or_after_an_hour() {
        let mut item = sample_launch();
        let at: DateTime<Utc> = "2026-10-19T19:41:00Z".parse().unwrap();
        item.window_end = Some(at + Duration::minutes(30));
        assert_eq!(end_of(&item, at), at + Duration::minutes(30));
        item.window_end = Some(at);
        assert_eq!(end_of(&item, at), at + DEFAULT_LENGTH);
    }
}
