//! The platform-neutral message every renderer fills and every platform
//! lays out, and the time formats they share ("2026-12-05 14:30 CET",
//! "T-2h 30m", "+2h 30m"). A leaf: it must not know alerts, items'
//! changes or a platform, so that every renderer (alerts in `render`,
//! articles in `news::render`, digests, live cards) can use it without
//! depending on another.

use chrono::{DateTime, Datelike, Utc};
use chrono_tz::Tz;

use crate::item::Precision;
use crate::links::Link;
use crate::types::{AlertKind, format_duration};

/// Platform-neutral content of one alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The alert's kind: decides colour and, with `status_id`, the icon.
    pub kind: AlertKind,
    /// The icon of the headline's change ("🚀", "✋"…).
    pub emoji: &'static str,
    /// What happened, e.g. "Status changed" or "T-1h reminder".
    pub headline: String,
    /// The item's name.
    pub title: String,
    /// One line per changed field: "NET: a → b (+2h 30m)".
    pub changes: Vec<String>,
    /// A caution, e.g. for reminders of launches on hold.
    pub note: Option<String>,
    /// The date in the subscriber's timezone, honest about precision.
    pub(crate) when: Option<String>,
    /// Exact instant, when the precision is an hour or finer (Discord
    /// timestamps use it).
    pub(crate) when_exact: Option<DateTime<Utc>>,
    /// Countdown from `now` to `when_exact` ("T-2h 30m", "T+5m"); `None`
    /// when the date is coarser than an hour.
    pub tminus: Option<String>,
    /// LL2's status name ("Go for Launch"); events have none, and alerts
    /// with a status change leave it out (their change line names it).
    pub status: Option<String>,
    /// LL2 status id, for colours and icons.
    pub(crate) status_id: Option<i64>,
    /// The item's agencies, full names, comma-separated; `None` when LL2
    /// names none.
    pub(crate) agencies: Option<String>,
    /// "Pad, place", or whichever of the two LL2 gave.
    pub(crate) location: Option<String>,
    /// Rocket, mission and orbit, weather, landings (events: type and
    /// launches), most important first: renderers short of room drop
    /// them from the end.
    pub(crate) details: Vec<Fact>,
    /// The video link: the one that just went live, else the item's best.
    pub(crate) webcast: Option<String>,
    /// The item's main page for people (never the LL2 API): embed URL,
    /// "Details" button.
    pub link: Option<String>,
    /// Every page of the item (`links::pages`), main page first.
    pub(crate) pages: Vec<Link>,
    /// URL of the item's picture.
    pub(crate) image: Option<String>,
    /// The item's description as LL2 writes it (renderers cut it to fit),
    /// only in `new` alerts (and so on `/next`'s card): later alerts tell
    /// what changed, not the mission again.
    pub description: Option<String>,
}

impl Message {
    /// A message with only its kind, icon, headline and title: what a
    /// message that is no item update (a digest, an article, a live card's
    /// reply) starts from, setting the fields it uses.
    pub(crate) fn bare(kind: AlertKind, emoji: &'static str, headline: String, title: String) -> Message {
        Message {
            kind,
            emoji,
            headline,
            title,
            changes: Vec::new(),
            note: None,
            when: None,
            when_exact: None,
            tminus: None,
            status: None,
            status_id: None,
            agencies: None,
            location: None,
            details: Vec::new(),
            webcast: None,
            link: None,
            pages: Vec::new(),
            image: None,
            description: None,
        }
    }
}

/// One labelled line of details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fact {
    /// Emoji in front of the line ("🚀").
    pub(crate) icon: &'static str,
    /// What the line is about ("Rocket", "Weather").
    pub(crate) label: &'static str,
    /// The text itself ("Falcon 9 Block 5").
    pub(crate) value: String,
}

/// A date as precisely as LL2 knows it: "2026-12-05 14:30 CET" for a
/// minute, "2026-12-05 ~14:00 CET" for an hour, "NET 2026-12" for a
/// month, "Q3 2026" for a quarter. Coarse dates (a day or coarser) are shown
/// in UTC's calendar: LL2 stores them as midnight UTC placeholders, and
/// shifting a placeholder into another zone would name the wrong day.
pub(crate) fn format_when(when: DateTime<Utc>, precision: Option<&Precision>, tz: Tz) -> String {
    let local = when.with_timezone(&tz);
    let Some(p) = precision else {
        return format_exact(when, tz);
    };
    match p {
        Precision::Second => local.format("%Y-%m-%d %H:%M:%S %Z").to_string(),
        Precision::Minute => local.format("%Y-%m-%d %H:%M %Z").to_string(),
        Precision::Hour => local.format("%Y-%m-%d ~%H:00 %Z").to_string(),
        Precision::Morning => format!("{} (morning)", when.format("%Y-%m-%d")),
        Precision::Afternoon => format!("{} (afternoon)", when.format("%Y-%m-%d")),
        Precision::Day => format!("NET {}", when.format("%Y-%m-%d")),
        Precision::Week => format!("week of {}", when.format("%Y-%m-%d")),
        Precision::Month => format!("NET {}", when.format("%Y-%m")),
        Precision::Quarter(q) => format!("Q{q} {}", when.year()),
        Precision::Half(h) => format!("H{h} {}", when.year()),
        Precision::Year => format!("NET {}", when.year()),
        Precision::FiscalYear => format!("FY {}", when.year()),
        Precision::Other(_) => format_exact(when, tz),
    }
}

fn format_exact(when: DateTime<Utc>, tz: Tz) -> String {
    when.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z").to_string()
}

/// A signed shift: "+2h 30m", "-1d 2h", "+45s".
pub(crate) fn format_shift(d: chrono::Duration) -> String {
    let sign = if d < chrono::Duration::zero() { '-' } else { '+' };
    format!("{sign}{}", spaced(d.abs().to_std().unwrap_or_default()))
}

/// "T-2d 4h 10m" before, "T+5m" after, "T-0" at the moment.
pub(crate) fn format_tminus(when: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let d = when - now;
    if d.num_seconds() == 0 {
        return "T-0".into();
    }
    let sign = if d > chrono::Duration::zero() { '-' } else { '+' };
    let secs = d.num_seconds().unsigned_abs();
    // Minutes are enough for a countdown; seconds only under a minute.
    let rounded = if secs >= 60 { secs / 60 * 60 } else { secs };
    format!("T{sign}{}", spaced(std::time::Duration::from_secs(rounded)))
}

/// "1d 2h 5m": like `format_duration`, with spaces for reading.
fn spaced(d: std::time::Duration) -> String {
    let compact = format_duration(d);
    let mut out = String::new();
    for c in compact.chars() {
        out.push(c);
        if c.is_ascii_alphabetic() {
            out.push(' ');
        }
    }
    out.trim_end().to_string()
}
