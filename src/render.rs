//! Rendering: one alert → one platform-neutral `Message` (title, what
//! changed, when in the subscriber's timezone with the precision spelled
//! honestly, T-minus, status, agencies, place, links), and the console's
//! plain-text form of it. Telegram and Discord render from the same
//! `Message`. Pure functions: no clock (callers pass `now`), no I/O.

pub mod discord;
pub mod telegram;

use chrono::{DateTime, Datelike, Utc};
use chrono_tz::Tz;

use crate::detect::{Alert, Change};
use crate::item::{Item, Precision};
use crate::types::{AlertKind, ItemKind, format_duration};

/// LL2 launch status ids worth a word in reminders.
const STATUS_TBD: i64 = 2;
const STATUS_HOLD: i64 = 5;

/// Platform-neutral content of one alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub kind: AlertKind,
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
    pub when: Option<String>,
    /// Exact instant, when the precision is an hour or finer (Discord
    /// timestamps use it).
    pub when_exact: Option<DateTime<Utc>>,
    pub tminus: Option<String>,
    pub status: Option<String>,
    /// LL2 status id, for colours and icons.
    pub status_id: Option<i64>,
    pub agencies: Option<String>,
    pub location: Option<String>,
    pub webcast: Option<String>,
    pub link: Option<String>,
    pub image: Option<String>,
    pub description: Option<String>,
}

/// Builds the message for `alert` as seen by a subscriber in `tz` at `now`.
pub fn message(alert: &Alert, tz: Tz, now: DateTime<Utc>) -> Message {
    let item = &alert.item;
    let precision = item.precision.as_ref();
    let noun = match item.kind() {
        ItemKind::Launch => "launch",
        ItemKind::Event => item.item_type.as_ref().map(|t| t.name.as_str()).unwrap_or("event"),
    };
    let date_label = if item.kind() == ItemKind::Launch { "NET" } else { "Date" };
    let mut changes = Vec::new();
    let mut note = None;
    let (emoji, headline) = match &alert.change {
        Change::New => ("🆕", format!("New {}", noun.to_lowercase())),
        Change::Schedule { old_when, new_when, old_precision, new_precision, old_window, new_window } => {
            if old_when != new_when || old_precision != new_precision {
                let show = |w: &Option<DateTime<Utc>>, p: &Option<Precision>| {
                    w.map(|w| format_when(w, p.as_ref(), tz)).unwrap_or_else(|| "unknown".into())
                };
                let mut line =
                    format!("{date_label}: {} → {}", show(old_when, old_precision), show(new_when, new_precision));
                if let (Some(o), Some(n)) = (old_when, new_when)
                    && o != n
                {
                    line.push_str(&format!(" ({})", format_shift(*n - *o)));
                }
                changes.push(line);
            }
            if old_window != new_window {
                let show = |w: &(Option<DateTime<Utc>>, Option<DateTime<Utc>>)| match w {
                    (Some(s), Some(e)) if s == e => format!("instantaneous at {}", format_exact(*s, tz)),
                    (Some(s), Some(e)) => format!("{} – {}", format_exact(*s, tz), format_exact(*e, tz)),
                    _ => "unknown".into(),
                };
                changes.push(format!("Window: {} → {}", show(old_window), show(new_window)));
            }
            ("🗓", "Schedule changed".to_string())
        }
        Change::Status { old, new } => {
            let name =
                |s: &Option<crate::item::Named>| s.as_ref().map(|s| s.name.clone()).unwrap_or_else(|| "unknown".into());
            changes.push(format!("Status: {} → {}", name(old), name(new)));
            match new.as_ref().and_then(|s| s.id) {
                Some(3) => ("✅", "Success".to_string()),
                Some(4) => ("❌", "Failure".to_string()),
                Some(7) => ("⚠️", "Partial failure".to_string()),
                Some(6) => ("🚀", "In flight".to_string()),
                Some(STATUS_HOLD) => ("✋", "On hold".to_string()),
                _ => ("🚦", "Status changed".to_string()),
            }
        }
        Change::Webcast { went_live, .. } => {
            if *went_live {
                ("🔴", "Webcast is live".to_string())
            } else {
                ("📺", "Video added".to_string())
            }
        }
        Change::Reminder { offset, when } => {
            changes.push(format!("{date_label}: {}", format_when(*when, precision, tz)));
            note = match item.status.as_ref().and_then(|s| s.id) {
                Some(STATUS_HOLD) => Some("Currently on hold: the time may change.".to_string()),
                Some(STATUS_TBD) => Some("Time is still TBD: it may change.".to_string()),
                _ => None,
            };
            ("⏰", format!("T-{} reminder", format_duration(*offset)))
        }
    };
    let exact = item.when.filter(|_| precision.is_none_or(|p| p.id <= 2));
    let webcast = match &alert.change {
        Change::Webcast { url: Some(u), .. } => Some(u.clone()),
        _ => item.webcast_url().map(str::to_owned),
    };
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
        status: item.status.as_ref().map(|s| s.name.clone()),
        status_id: item.status.as_ref().and_then(|s| s.id),
        agencies: agencies_line(item),
        location: match (&item.pad, &item.location) {
            (Some(p), Some(l)) => Some(format!("{p}, {l}")),
            (Some(x), None) | (None, Some(x)) => Some(x.clone()),
            (None, None) => None,
        },
        webcast,
        link: item.url.clone(),
        image: item.image.clone(),
        description: item.description.clone(),
    }
}

fn agencies_line(item: &Item) -> Option<String> {
    if item.agencies.is_empty() {
        return None;
    }
    Some(item.agencies.iter().map(|a| a.name.as_str()).collect::<Vec<_>>().join(", "))
}

/// A date as precisely as LL2 knows it: "2026-12-05 14:30 CET" for a
/// minute, "2026-12-05 ~14:00 CET" for an hour, "NET 2026-12" for a
/// month, "Q3 2026" for a quarter. Coarse dates (a day or coarser) are shown
/// in UTC's calendar: LL2 stores them as midnight UTC placeholders, and
/// shifting a placeholder into another zone would name the wrong day.
pub fn format_when(when: DateTime<Utc>, precision: Option<&Precision>, tz: Tz) -> String {
    let local = when.with_timezone(&tz);
    let Some(p) = precision else {
        return format_exact(when, tz);
    };
    match p.id {
        0 => local.format("%Y-%m-%d %H:%M:%S %Z").to_string(),
        1 => local.format("%Y-%m-%d %H:%M %Z").to_string(),
        2 => local.format("%Y-%m-%d ~%H:00 %Z").to_string(),
        3 => format!("{} (morning)", when.format("%Y-%m-%d")),
        4 => format!("{} (afternoon)", when.format("%Y-%m-%d")),
        5 => format!("NET {}", when.format("%Y-%m-%d")),
        6 => format!("week of {}", when.format("%Y-%m-%d")),
        7 => format!("NET {}", when.format("%Y-%m")),
        8..=11 => format!("Q{} {}", p.id - 7, when.year()),
        12 | 13 => format!("H{} {}", p.id - 11, when.year()),
        14 => format!("NET {}", when.year()),
        15 => format!("FY {}", when.year()),
        _ => format_exact(when, tz),
    }
}

fn format_exact(when: DateTime<Utc>, tz: Tz) -> String {
    when.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z").to_string()
}

/// A signed shift: "+2h 30m", "-1d 2h", "+45s".
pub fn format_shift(d: chrono::Duration) -> String {
    let sign = if d < chrono::Duration::zero() { '-' } else { '+' };
    format!("{sign}{}", spaced(d.abs().to_std().unwrap_or_default()))
}

/// "T-2d 4h 10m" before, "T+5m" after, "T-0" at the moment.
pub fn format_tminus(when: DateTime<Utc>, now: DateTime<Utc>) -> String {
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

/// The console form: a readable block for stdout.
pub fn console(msg: &Message) -> String {
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
    field("Webcast:", &msg.webcast);
    field("Link:", &msg.link);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::AlertId;
    use crate::detect::tests::sample_launch;
    use crate::item::Named;

    fn prec(id: i64) -> Precision {
        Precision { id, name: String::new() }
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
        item.status = Some(Named::new(Some(STATUS_HOLD), "On Hold", Some("Hold".into())));
        let when = item.when.unwrap();
        let alert = Alert {
            id: AlertId(1),
            item,
            change: Change::Reminder { offset: std::time::Duration::from_secs(3600), when },
            detected_at: when,
        };
        let msg = message(&alert, chrono_tz::UTC, when - chrono::Duration::hours(1));
        assert_eq!(msg.headline, "T-1h reminder");
        assert_eq!(msg.tminus.as_deref(), Some("T-1h"));
        assert!(msg.note.unwrap().contains("on hold"));
    }
}
