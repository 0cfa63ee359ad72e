//! The digest schedule: `daily HH:MM` or `weekly DAY HH:MM`, local
//! wall-clock time in a zone, and when it is due. Pure: parsing, display
//! and the due moments; it must not decide what a digest lists or send
//! anything (`crate::digest` does).
//!
//! Due moments across DST: each local date has at most one due moment, so
//! a digest is never due twice on one date. A time that falls in a
//! spring-forward gap (02:30 on the day clocks jump 02:00 → 03:00) is due
//! at the first instant after the gap; a time that happens twice (fall
//! back) is due at its first occurrence.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Datelike, LocalResult, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// When a digest is due, in the local time of its zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DigestSchedule {
    /// Every day at this local time; lists the next 24 hours.
    Daily(NaiveTime),
    /// Every week on this day at this local time; lists the next 7 days.
    Weekly(Weekday, NaiveTime),
}

/// Day names as written in schedules, Monday first.
const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

impl DigestSchedule {
    /// How far ahead the digest looks: 24 hours, or 7 days.
    pub(crate) fn window(&self) -> Duration {
        match self {
            DigestSchedule::Daily(_) => Duration::from_secs(86_400),
            DigestSchedule::Weekly(..) => Duration::from_secs(7 * 86_400),
        }
    }

    /// "Daily" or "Weekly", for headlines.
    pub(crate) fn title(&self) -> &'static str {
        match self {
            DigestSchedule::Daily(_) => "Daily digest",
            DigestSchedule::Weekly(..) => "Weekly digest",
        }
    }

    fn time(&self) -> NaiveTime {
        match self {
            DigestSchedule::Daily(t) | DigestSchedule::Weekly(_, t) => *t,
        }
    }

    /// The due moment on local date `d`, if the schedule has one that day.
    fn due_on(&self, d: NaiveDate, tz: Tz) -> Option<DateTime<Utc>> {
        if let DigestSchedule::Weekly(day, _) = self
            && d.weekday() != *day
        {
            return None;
        }
        let local = d.and_time(self.time());
        let at = match tz.from_local_datetime(&local) {
            LocalResult::Single(t) => t,
            LocalResult::Ambiguous(first, _) => first,
            // In a spring-forward gap: the first instant after it (gaps are
            // at most an hour or two; a day ahead is always valid).
            LocalResult::None => {
                (1..=180).find_map(|m| tz.from_local_datetime(&(local + chrono::Duration::minutes(m))).earliest())?
            }
        };
        Some(at.with_timezone(&Utc))
    }

    /// The latest due moment at or before `now`.
    pub(crate) fn last_due(&self, now: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        let today = now.with_timezone(&tz).date_naive();
        (0..=8).filter_map(|back| self.due_on(today - chrono::Duration::days(back), tz)).find(|t| *t <= now)
    }

    /// The first due moment strictly after `after`.
    pub(crate) fn next_due(&self, after: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        let today = after.with_timezone(&tz).date_naive();
        (-1..=8).filter_map(|ahead| self.due_on(today + chrono::Duration::days(ahead), tz)).find(|t| *t > after)
    }
}

impl fmt::Display for DigestSchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hm = self.time().format("%H:%M");
        match self {
            DigestSchedule::Daily(_) => write!(f, "daily {hm}"),
            DigestSchedule::Weekly(day, _) => write!(f, "weekly {} {hm}", DAYS[day.num_days_from_monday() as usize]),
        }
    }
}

/// `HH:MM` (or `H:MM`) on a 24-hour clock.
fn clock(t: &str) -> Result<NaiveTime, String> {
    let bad = || format!("{t:?} is not a time of day. Write it as HH:MM on a 24-hour clock, e.g. 08:00.");
    let (h, m) = t.split_once(':').ok_or_else(bad)?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 || !(h.chars().chain(m.chars()).all(|c| c.is_ascii_digit())) {
        return Err(bad());
    }
    let (h, m): (u32, u32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    NaiveTime::from_hms_opt(h, m, 0).ok_or_else(|| format!("{t:?} is not a time of day (00:00 to 23:59)."))
}

/// `mon` … `sun`, or the full English name, any case.
fn day(d: &str) -> Result<Weekday, String> {
    let lower = d.to_ascii_lowercase();
    DAYS.iter()
        .position(|short| lower.len() >= 3 && (*short == lower || full_name(short).starts_with(&lower)))
        .and_then(|i| Weekday::try_from(i as u8).ok())
        .ok_or_else(|| format!("{d:?} is not a day of the week. Use one of {}.", DAYS.join(", ")))
}

fn full_name(short: &str) -> &'static str {
    match short {
        "mon" => "monday",
        "tue" => "tuesday",
        "wed" => "wednesday",
        "thu" => "thursday",
        "fri" => "friday",
        "sat" => "saturday",
        _ => "sunday",
    }
}

impl FromStr for DigestSchedule {
    type Err = String;
    /// `daily HH:MM` or `weekly DAY HH:MM`; the error says what is wrong.
    fn from_str(s: &str) -> Result<Self, String> {
        let words: Vec<&str> = s.split_whitespace().collect();
        let usage = "Write it as \"daily HH:MM\" or \"weekly DAY HH:MM\", e.g. daily 08:00 or weekly mon 08:00.";
        match words.as_slice() {
            [every, t] if every.eq_ignore_ascii_case("daily") => Ok(DigestSchedule::Daily(clock(t)?)),
            [every, d, t] if every.eq_ignore_ascii_case("weekly") => {
                Ok(DigestSchedule::Weekly(day(d)?, clock(t).map_err(|e| format!("{e} {usage}"))?))
            }
            [every, ..] if every.eq_ignore_ascii_case("daily") || every.eq_ignore_ascii_case("weekly") => {
                Err(format!("{:?} is not a digest schedule. {usage}", s.trim()))
            }
            _ => Err(format!("{:?} is not a digest schedule. {usage}", s.trim())),
        }
    }
}

impl Serialize for DigestSchedule {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for DigestSchedule {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

/// A chat's digest setting in words, for `/digest` and `/settings`.
pub(crate) fn describe_digest(digest: Option<DigestSchedule>, tz: Tz) -> String {
    match digest {
        None => "off".into(),
        Some(d) => format!(
            "{d} {}: one message listing what this chat's subscriptions select in {} (none when nothing is coming)",
            tz.name(),
            if matches!(d, DigestSchedule::Daily(_)) { "the next 24 hours" } else { "the next 7 days" }
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn parses_and_displays_round_trip_with_clear_errors() {
        let d: DigestSchedule = "daily 8:00".parse().unwrap();
        assert_eq!(d.to_string(), "daily 08:00");
        let w: DigestSchedule = "Weekly Monday 08:30".parse().unwrap();
        assert_eq!(w.to_string(), "weekly mon 08:30");
        assert_eq!("weekly sun 23:59".parse::<DigestSchedule>().unwrap().to_string(), "weekly sun 23:59");
        assert_eq!(w.window(), Duration::from_secs(7 * 86_400));
        let funday = "weekly funday 8".parse::<DigestSchedule>().unwrap_err();
        assert!(funday.contains("\"funday\" is not a day of the week") && funday.contains("mon, tue"), "{funday}");
        let eight = "weekly mon 8".parse::<DigestSchedule>().unwrap_err();
        assert!(eight.contains("\"8\" is not a time of day") && eight.contains("weekly mon 08:00"), "{eight}");
        assert!("daily 25:00".parse::<DigestSchedule>().unwrap_err().contains("00:00 to 23:59"));
        assert!("hourly".parse::<DigestSchedule>().unwrap_err().contains("daily HH:MM"));
        assert!("daily".parse::<DigestSchedule>().unwrap_err().contains("daily HH:MM"));
        assert!("weekly mo 08:00".parse::<DigestSchedule>().is_err(), "two letters are too few");
        let json = serde_json::to_string(&w).unwrap();
        assert_eq!(
            (json.as_str(), serde_json::from_str::<DigestSchedule>(&json).unwrap()),
            ("\"weekly mon 08:30\"", w)
        );
    }

    #[test]
    fn due_moments_daily_and_weekly() {
        let berlin = chrono_tz::Europe::Berlin;
        let d: DigestSchedule = "daily 08:00".parse().unwrap();
        // 2026-12-07 is a Monday; Berlin is UTC+1 in winter.
        assert_eq!(d.next_due(utc("2026-12-07T06:00:00Z"), berlin), Some(utc("2026-12-07T07:00:00Z")));
        assert_eq!(
            d.next_due(utc("2026-12-07T07:00:00Z"), berlin),
            Some(utc("2026-12-08T07:00:00Z")),
            "strictly after"
        );
        assert_eq!(d.last_due(utc("2026-12-07T07:00:00Z"), berlin), Some(utc("2026-12-07T07:00:00Z")));
        assert_eq!(d.last_due(utc("2026-12-07T06:59:00Z"), berlin), Some(utc("2026-12-06T07:00:00Z")));
        let w: DigestSchedule = "weekly wed 20:15".parse().unwrap();
        assert_eq!(w.next_due(utc("2026-12-07T06:00:00Z"), berlin), Some(utc("2026-12-09T19:15:00Z")));
        assert_eq!(w.last_due(utc("2026-12-07T06:00:00Z"), berlin), Some(utc("2026-12-02T19:15:00Z")));
        let tokyo = chrono_tz::Asia::Tokyo;
        // Tokyo's Tuesday 08:00 is Monday 23:00 UTC.
        let tue: DigestSchedule = "weekly tue 08:00".parse().unwrap();
        assert_eq!(tue.next_due(utc("2026-12-07T06:00:00Z"), tokyo), Some(utc("2026-12-07T23:00:00Z")));
    }

    #[test]
    fn dst_days_have_one_due_moment_each() {
        let berlin = chrono_tz::Europe::Berlin;
        // 2026-03-29: clocks jump 02:00 → 03:00 (UTC+1 → UTC+2).
        let eight: DigestSchedule = "daily 08:00".parse().unwrap();
        assert_eq!(eight.next_due(utc("2026-03-28T12:00:00Z"), berlin), Some(utc("2026-03-29T06:00:00Z")));
        assert_eq!(eight.next_due(utc("2026-03-29T06:00:00Z"), berlin), Some(utc("2026-03-30T06:00:00Z")));
        // 02:30 does not exist that day: due right after the gap, 03:00 CEST.
        let gap: DigestSchedule = "daily 02:30".parse().unwrap();
        assert_eq!(gap.next_due(utc("2026-03-28T12:00:00Z"), berlin), Some(utc("2026-03-29T01:00:00Z")));
        // 2026-10-25: 02:30 happens twice (03:00 CEST → 02:00 CET): once, the first.
        let twice: DigestSchedule = "daily 02:30".parse().unwrap();
        let first = twice.next_due(utc("2026-10-24T12:00:00Z"), berlin).unwrap();
        assert_eq!(first, utc("2026-10-25T00:30:00Z"));
        assert_eq!(twice.next_due(first, berlin), Some(utc("2026-10-26T01:30:00Z")), "not again an hour later");
        assert_eq!(twice.last_due(utc("2026-10-25T01:45:00Z"), berlin), Some(first));
    }
}
