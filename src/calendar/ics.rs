//! iCalendar (RFC 5545) text for a feed: pure functions from items to the
//! `.ics` body. It owns escaping (`\ ; ,` and newlines), 75-octet line
//! folding on UTF-8 boundaries and the DTSTART rules by date precision; it
//! must not read the store or the clock (the caller passes what it needs).
//!
//! Written here rather than with the `icalendar` crate's builder: the feed
//! needs exact control over `DTSTART;VALUE=DATE` versus UTC date-times and
//! over `SEQUENCE`/`DTSTAMP` (which must not come from the clock, or every
//! request would change the ETag), and the writer is small. The tests parse
//! the output with `icalendar`'s parser.

use chrono::{DateTime, Duration, NaiveDate, Utc};

use crate::item::{Item, Precision, status};
use crate::links;

/// One VEVENT to write: the item and its stored sequence number.
#[derive(Debug, Clone, Copy)]
pub struct Entry<'a> {
    /// The item the event shows.
    pub item: &'a Item,
    /// Its `SEQUENCE`, from the store.
    pub sequence: u32,
}

/// How the feed shows an item's date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
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
pub const DEFAULT_LENGTH: Duration = Duration::hours(1);

/// The start of an item as the feed shows it; `None` without a date.
pub fn start(item: &Item) -> Option<Start> {
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
pub fn end_of(item: &Item, start: DateTime<Utc>) -> DateTime<Utc> {
    item.window_end.filter(|e| *e > start).unwrap_or(start + DEFAULT_LENGTH)
}

/// The summary: the name, with "NET" and the precision for coarse dates.
pub fn summary(item: &Item) -> String {
    match (start(item), item.precision) {
        (Some(Start::AllDay { net: true, .. }), Some(p)) => format!("{} (NET {})", item.name, p.name()),
        _ => item.name.clone(),
    }
}

/// Plain-text description: status, mission type, agencies, then the human
/// links. Used by the feed and by Discord scheduled events.
pub fn description(item: &Item) -> String {
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
pub fn location(item: &Item) -> Option<String> {
    let parts: Vec<&str> = [item.pad.as_deref(), item.location.as_deref()].into_iter().flatten().collect();
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// The stable UID of an item's event: it contains the LL2 id.
pub fn uid(item: &Item) -> String {
    format!("{}-{}@tminus", item.kind(), item.id.id)
}

/// A whole VCALENDAR named `name` with one VEVENT per entry that has a date.
pub fn calendar(name: &str, entries: &[Entry<'_>]) -> String {
    let mut out = String::new();
    for line in ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//tminus//spaceflight calendar//EN", "CALSCALE:GREGORIAN"] {
        push(&mut out, line);
    }
    push(&mut out, &format!("X-WR-CALNAME:{}", escape(name)));
    push(&mut out, "REFRESH-INTERVAL;VALUE=DURATION:PT1H");
    push(&mut out, "X-PUBLISHED-TTL:PT1H");
    for entry in entries {
        event(&mut out, entry);
    }
    push(&mut out, "END:VCALENDAR");
    out
}

fn event(out: &mut String, entry: &Entry<'_>) {
    let item = entry.item;
    let Some(start) = start(item) else { return };
    push(out, "BEGIN:VEVENT");
    push(out, &format!("UID:{}", escape(&uid(item))));
    // DTSTAMP and LAST-MODIFIED come from LL2's data, not the clock: an
    // unchanged feed keeps its ETag.
    push(out, &format!("DTSTAMP:{}", utc(item.last_updated)));
    push(out, &format!("LAST-MODIFIED:{}", utc(item.last_updated)));
    match start {
        Start::Instant(at) => {
            push(out, &format!("DTSTART:{}", utc(at)));
            push(out, &format!("DTEND:{}", utc(end_of(item, at))));
        }
        Start::AllDay { day, .. } => {
            push(out, &format!("DTSTART;VALUE=DATE:{}", day.format("%Y%m%d")));
            let next = day.succ_opt().unwrap_or(day);
            push(out, &format!("DTEND;VALUE=DATE:{}", next.format("%Y%m%d")));
        }
    }
    push(out, &format!("SEQUENCE:{}", entry.sequence));
    push(out, &format!("SUMMARY:{}", escape(&summary(item))));
    let description = description(item);
    if !description.is_empty() {
        push(out, &format!("DESCRIPTION:{}", escape(&description)));
    }
    if let Some(place) = location(item) {
        push(out, &format!("LOCATION:{}", escape(&place)));
    }
    if let Some(url) = links::main_page(item) {
        // URL is a URI value: not escaped as text.
        push(out, &format!("URL:{url}"));
    }
    let confirmed = item.status.as_ref().and_then(|s| s.id).is_some_and(|id| id == status::GO);
    push(out, if confirmed { "STATUS:CONFIRMED" } else { "STATUS:TENTATIVE" });
    push(out, "TRANSP:TRANSPARENT");
    push(out, "END:VEVENT");
}

fn utc(t: DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

/// RFC 5545 TEXT escaping: backslash, semicolon, comma and newlines.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Appends one content line, folded to 75 octets per physical line (a
/// continuation's leading space counts), never inside a UTF-8 character.
fn push(out: &mut String, line: &str) {
    out.push_str(&fold(line));
    out.push_str("\r\n");
}

/// RFC 5545 §3.1 folding, without the final CRLF.
pub fn fold(line: &str) -> String {
    const MAX: usize = 75;
    let mut out = String::with_capacity(line.len() + line.len() / MAX * 3);
    let mut used = 0;
    for c in line.chars() {
        if used + c.len_utf8() > MAX {
            out.push_str("\r\n ");
            used = 1;
        }
        out.push(c);
        used += c.len_utf8();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::tests::sample_launch;

    #[test]
    fn text_is_escaped() {
        assert_eq!(escape("a,b;c\\d\ne\r\n"), "a\\,b\\;c\\\\d\\ne\\n");
    }

    #[test]
    fn folding_keeps_lines_short_and_characters_whole() {
        let line = format!("SUMMARY:{}", "🚀é".repeat(40));
        let folded = fold(&line);
        for physical in folded.split("\r\n") {
            assert!(physical.len() <= 75, "{} octets: {physical:?}", physical.len());
        }
        assert_eq!(folded.replace("\r\n ", ""), line);
        assert_eq!(fold("short"), "short");
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
