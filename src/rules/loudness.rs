//! Loudness: whether a message goes out with a sound or silently
//! (Telegram `disable_notification`, Discord SUPPRESS_NOTIFICATIONS). Pure:
//! the quiet-hours span, its parsing, and the one decision `is_silent`
//! (with `in_quiet_hours` for what is no alert, a digest).
//! It must not drop or delay anything; silent messages are still sent.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveTime, Timelike, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::Subscription;
use crate::detect::{Alert, Change};

/// A daily span of local wall-clock time, `start` inclusive to `end`
/// exclusive, in minutes after midnight; it crosses midnight when
/// `end < start` ("23:00-07:00"). Equal bounds span the whole day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct QuietHours {
    start: u16,
    end: u16,
}

impl QuietHours {
    /// Whether the local wall-clock time `t` falls in the span.
    pub(crate) fn contains(&self, t: NaiveTime) -> bool {
        let m = (t.hour() * 60 + t.minute()) as u16;
        match self.start.cmp(&self.end) {
            std::cmp::Ordering::Equal => true,
            std::cmp::Ordering::Less => self.start <= m && m < self.end,
            std::cmp::Ordering::Greater => m >= self.start || m < self.end,
        }
    }
}

impl fmt::Display for QuietHours {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hm = |m: u16| format!("{:02}:{:02}", m / 60, m % 60);
        write!(f, "{}-{}", hm(self.start), hm(self.end))
    }
}

impl FromStr for QuietHours {
    type Err = String;
    /// `HH:MM-HH:MM`, 24-hour clock; the error says what is wrong.
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("{s:?} is not a time span. Write it as HH:MM-HH:MM on a 24-hour clock, e.g. 23:00-07:00.");
        let (a, b) = s.trim().split_once('-').ok_or_else(bad)?;
        let clock = |t: &str| -> Result<u16, String> {
            let (h, m) = t.trim().split_once(':').ok_or_else(bad)?;
            if h.is_empty() || h.len() > 2 || m.len() != 2 {
                return Err(bad());
            }
            let (h, m): (u16, u16) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
            if h > 23 || m > 59 {
                return Err(format!("{:?} is not a time of day (00:00 to 23:59).", t.trim()));
            }
            Ok(h * 60 + m)
        };
        Ok(QuietHours { start: clock(a)?, end: clock(b)? })
    }
}

impl Serialize for QuietHours {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for QuietHours {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

/// How long before T-0 a launch's day starts: before it, only a new item
/// makes a sound (a live card starts within it too, `deliver::card`).
pub(crate) const LAUNCH_DAY: chrono::Duration = chrono::Duration::hours(24);

/// Whether `sub` is in its quiet hours at `now` (local time in its
/// timezone): then everything goes out silently.
pub(crate) fn in_quiet_hours(sub: &Subscription, now: DateTime<Utc>) -> bool {
    let local = now.with_timezone(&sub.timezone).time();
    sub.quiet_hours.is_some_and(|q| q.contains(local))
}

/// Whether `seen` (what `sub` sees of one alert) goes out silently when
/// sent at `now`: always in the subscription's quiet hours, otherwise when
/// every change is quiet by default or a kind in `sub.silent`.
pub(crate) fn is_silent(seen: &Alert, sub: &Subscription, now: DateTime<Utc>) -> bool {
    if in_quiet_hours(sub, now) {
        return true;
    }
    // When the alert happened, not when it is sent: a backlog after
    // downtime keeps the sound it would have had.
    let early = seen.item.when.is_some_and(|t0| t0 - seen.detected_at > LAUNCH_DAY);
    let quiet = |c: &Change| quiet_by_default(c, sub, early) || sub.silent.contains(&c.kind());
    !seen.changes.is_empty() && seen.changes.iter().all(quiet)
}

/// What needs no sound whatever the settings, because nothing has to be
/// done about it now and a loud message about the same launch is near:
/// - before the launch's day (`early`), anything but a new item or news:
///   a date or status more than a day ahead can be read at leisure;
/// - a webcast link appearing (going live is the loud one);
/// - booster landing results (they complete the result, which was loud);
/// - a reminder while one closer to T-0 is still to come for `sub` (with
///   24h, 1h and 10m: the 24h and 1h ones are silent, T-10m is loud).
///
/// So a launch day with the defaults makes at most eight loud messages
/// (README, "Loudness").
fn quiet_by_default(c: &Change, sub: &Subscription, early: bool) -> bool {
    match c {
        Change::New | Change::News { .. } => false,
        _ if early => true,
        Change::Webcast { went_live, .. } => !went_live,
        Change::Landing { .. } => true,
        Change::Reminder { offset, .. } => sub.reminders.iter().any(|r| r < offset),
        Change::Schedule { .. } | Change::Status { .. } => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Filter;
    use crate::rules::subscription::tests::sub;
    use crate::types::AlertKind;
    use chrono::TimeZone;
    use std::time::Duration;

    fn q(s: &str) -> QuietHours {
        s.parse().unwrap()
    }
    fn at(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    #[test]
    fn spans_cross_midnight_and_equal_bounds_cover_the_day() {
        let night = q("23:00-07:00");
        assert!(night.contains(at(23, 0)) && night.contains(at(2, 0)) && night.contains(at(6, 59)));
        assert!(!night.contains(at(7, 0)) && !night.contains(at(12, 0)) && !night.contains(at(22, 59)));
        let day = q("09:30-17:00");
        assert!(day.contains(at(9, 30)) && !day.contains(at(17, 0)) && !day.contains(at(3, 0)));
        assert!(q("08:00-08:00").contains(at(3, 0)));
    }

    #[test]
    fn parse_rejects_odd_input_with_a_reason() {
        assert_eq!(q(" 23:00 - 7:00 ").to_string(), "23:00-07:00");
        for bad in ["23:00-7", "25:00-07:00", "23:60-07:00", "23:00", "late", "23:00-07:00-08:00", "-1:00-02:00"] {
            let e = bad.parse::<QuietHours>().unwrap_err();
            assert!(e.contains("HH:MM") || e.contains("time of day"), "{bad}: {e}");
        }
        assert!("25:00-07:00".parse::<QuietHours>().unwrap_err().contains("\"25:00\""));
        let json = serde_json::to_string(&q("23:00-07:00")).unwrap();
        assert_eq!(serde_json::from_str::<QuietHours>(&json).unwrap(), q("23:00-07:00"));
    }

    /// An alert of `changes` about an item without a date.
    fn seen(changes: Vec<Change>) -> Alert {
        let mut item = crate::detect::tests::sample_launch();
        item.when = None;
        Alert::new(crate::detect::AlertId(1), item, changes, Utc::now())
    }

    fn webcast(live: bool) -> Change {
        Change::Webcast { went_live: live, url: None }
    }
    fn status() -> Change {
        Change::Status { old: None, new: None }
    }

    #[test]
    fn link_added_and_silent_kinds_are_quiet_the_rest_loud() {
        let mut s = sub(1, Filter::default());
        let noon = Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap();
        assert!(is_silent(&seen(vec![webcast(false)]), &s, noon), "a link appearing is silent by default");
        assert!(!is_silent(&seen(vec![webcast(true)]), &s, noon), "webcast live stays loud");
        assert!(!is_silent(&seen(vec![status(), webcast(false)]), &s, noon), "a loud change keeps the message loud");
        assert!(!is_silent(&seen(vec![Change::New]), &s, noon));
        s.silent = vec![AlertKind::New];
        assert!(is_silent(&seen(vec![Change::New]), &s, noon) && !is_silent(&seen(vec![status()]), &s, noon));
    }

    #[test]
    fn landings_and_all_but_the_last_reminder_are_quiet_by_default() {
        let mut s = sub(1, Filter::default());
        s.reminders = vec![Duration::from_secs(86_400), Duration::from_secs(3600), Duration::from_secs(600)];
        let noon = Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap();
        let reminder = |secs| Change::Reminder { offset: Duration::from_secs(secs), when: noon };
        assert!(
            is_silent(&seen(vec![Change::Landing { results: vec![] }]), &s, noon),
            "the landings follow the result"
        );
        assert!(is_silent(&seen(vec![reminder(86_400)]), &s, noon) && is_silent(&seen(vec![reminder(3600)]), &s, noon));
        assert!(!is_silent(&seen(vec![reminder(600)]), &s, noon), "the last reminder before T-0 is loud");
        s.reminders = vec![Duration::from_secs(3600)];
        assert!(!is_silent(&seen(vec![reminder(3600)]), &s, noon), "a chat's only reminder is loud");
    }

    #[test]
    fn before_the_launch_day_only_new_items_make_a_sound() {
        let s = sub(1, Filter::default());
        let noon = Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap();
        let at = |lead_hours: i64, changes: Vec<Change>| {
            let mut a = seen(changes);
            a.item.when = Some(a.detected_at + chrono::Duration::hours(lead_hours));
            a
        };
        assert!(is_silent(&at(30, vec![status()]), &s, noon), "a status change 30 h ahead");
        assert!(!is_silent(&at(30, vec![Change::New]), &s, noon), "a new launch is announced loudly");
        assert!(!is_silent(&at(20, vec![status()]), &s, noon), "on the launch's day it is loud");
        assert!(!is_silent(&seen(vec![status()]), &s, noon), "an item without a date is never early");
    }

    #[test]
    fn quiet_hours_use_local_time_across_dst() {
        let mut s = sub(1, Filter::default()).with_timezone(chrono_tz::Europe::Berlin);
        s.quiet_hours = Some(q("23:00-07:00"));
        // 21:30 UTC is 23:30 in Berlin summer time (UTC+2) but 22:30 in
        // winter (UTC+1): the same UTC instant is inside only in summer.
        let summer = Utc.with_ymd_and_hms(2026, 7, 1, 21, 30, 0).unwrap();
        let winter_late = Utc.with_ymd_and_hms(2026, 1, 15, 22, 30, 0).unwrap();
        let winter_early = Utc.with_ymd_and_hms(2026, 1, 15, 21, 30, 0).unwrap();
        let winter_morning = Utc.with_ymd_and_hms(2026, 1, 15, 6, 30, 0).unwrap();
        // Night of the spring change: 01:30 UTC is 03:30 CEST.
        let dst_night = Utc.with_ymd_and_hms(2026, 3, 29, 1, 30, 0).unwrap();
        for t in [summer, winter_late, dst_night] {
            assert!(is_silent(&seen(vec![status()]), &s, t), "{t}");
        }
        assert!(!is_silent(&seen(vec![status()]), &s, winter_early), "22:30 in Berlin is before the span");
        assert!(!is_silent(&seen(vec![status()]), &s, winter_morning), "07:30 in Berlin is past the span");
    }
}
