//! The LL2 request budget: a sliding one-hour window over the times of
//! requests already sent (persisted by the store, so restarts count), plus
//! what LL2 itself said (`/api-throttle/`, 429 answers). It decides when
//! the next request may go; it never sends anything itself.

use std::collections::VecDeque;

use chrono::{DateTime, Duration, Utc};

const WINDOW: Duration = Duration::hours(1);

/// The requests LL2 still allows this hour, and when the next may go.
#[derive(Debug, Clone)]
pub(crate) struct Budget {
    per_hour: u32,
    /// Request times inside the window, oldest first.
    sent: VecDeque<DateTime<Utc>>,
    /// No request before this instant (LL2 told us to wait).
    blocked_until: Option<DateTime<Utc>>,
}

impl Budget {
    /// `past`: request times already sent (from the store), any order.
    pub(crate) fn new(per_hour: u32, past: impl IntoIterator<Item = DateTime<Utc>>) -> Budget {
        let mut sent: Vec<_> = past.into_iter().collect();
        sent.sort();
        Budget { per_hour: per_hour.max(1), sent: sent.into(), blocked_until: None }
    }

    fn prune(&mut self, now: DateTime<Utc>) {
        while self.sent.front().is_some_and(|t| *t <= now - WINDOW) {
            self.sent.pop_front();
        }
    }

    /// Requests sent in the last hour.
    pub(crate) fn used(&mut self, now: DateTime<Utc>) -> u32 {
        self.prune(now);
        self.sent.len() as u32
    }

    /// Requests still allowed in the last hour's window.
    pub(crate) fn remaining(&mut self, now: DateTime<Utc>) -> u32 {
        self.per_hour.saturating_sub(self.used(now))
    }

    /// The earliest instant at which one more request stays within budget.
    pub(crate) fn next_slot(&mut self, now: DateTime<Utc>) -> DateTime<Utc> {
        self.prune(now);
        let mut at = now;
        if self.sent.len() as u32 >= self.per_hour {
            // The request that must leave the window before we may send.
            let idx = self.sent.len() - self.per_hour as usize;
            at = at.max(self.sent[idx] + WINDOW);
        }
        if let Some(b) = self.blocked_until {
            at = at.max(b);
        }
        at
    }

    /// Counts a request sent at `at`.
    pub(crate) fn record(&mut self, at: DateTime<Utc>) {
        self.sent.push_back(at);
    }

    /// LL2 answered 429: nothing more until `until`.
    pub(crate) fn block_until(&mut self, until: DateTime<Utc>) {
        self.blocked_until = Some(self.blocked_until.map_or(until, |b| b.max(until)));
    }

    /// What `/api-throttle/` reported. If LL2 counts more use than we know
    /// of (another client on this IP, a wiped store), we count it too, so
    /// we stay inside both limits. The extra uses are dated so that they
    /// leave our window when LL2 says its next slot frees up.
    pub(crate) fn observe_server(&mut self, limit: u32, current_use: u32, next_use: Duration, now: DateTime<Utc>) {
        if current_use >= limit {
            self.block_until(now + next_use);
        }
        let server_left = limit.saturating_sub(current_use);
        let local_left = self.remaining(now);
        if server_left < local_left {
            let at = (now + next_use - WINDOW).max(now - WINDOW + Duration::seconds(1));
            for _ in server_left..local_left {
                self.sent.push_back(at);
            }
            self.sent.make_contiguous().sort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(mins: i64) -> DateTime<Utc> {
        "2026-11-26T12:00:00Z".parse::<DateTime<Utc>>().unwrap() + Duration::minutes(mins)
    }

    #[test]
    fn never_more_than_the_hourly_ceiling() {
        let mut b = Budget::new(3, [t(0), t(10)]);
        assert_eq!(b.next_slot(t(20)), t(20));
        b.record(t(20));
        assert_eq!(b.remaining(t(21)), 0);
        assert_eq!(b.next_slot(t(21)), t(60), "the t(0) request leaves the window");
        assert_eq!(b.next_slot(t(61)), t(61));
        // Walk 10 simulated hours sending as soon as allowed: every window
        // of one hour holds at most 3 requests.
        let mut now = t(61);
        let mut sent = vec![t(0), t(10), t(20)];
        while now < t(600) {
            now = b.next_slot(now);
            b.record(now);
            sent.push(now);
            now += Duration::seconds(1);
        }
        for (i, s) in sent.iter().enumerate() {
            let in_window = sent[i..].iter().filter(|x| **x < *s + WINDOW).count();
            assert!(in_window <= 3, "window at {s} holds {in_window}");
        }
    }

    #[test]
    fn throttle_answers_are_honoured() {
        let mut b = Budget::new(15, []);
        b.block_until(t(15));
        assert_eq!(b.next_slot(t(0)), t(15));
        let mut b = Budget::new(15, [t(0)]);
        b.observe_server(15, 12, Duration::minutes(5), t(1));
        assert_eq!(b.remaining(t(1)), 3);
        assert_eq!(b.next_slot(t(1)), t(1));
        b.record(t(1));
        b.observe_server(15, 15, Duration::minutes(5), t(2));
        assert_eq!(b.next_slot(t(2)), t(7), "LL2's word on the next free slot");
    }
}
