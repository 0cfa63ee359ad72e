//! The LL2 request budget: a sliding one-hour window over the times of
//! requests already sent (persisted by the store, so restarts count), plus
//! what LL2 itself said (`/api-throttle/`, 429 answers). It decides when
//! the next request may go; it never sends anything itself.
//!
//! LL2's `/api-throttle/` counts the requests of its own past hour
//! (`current_use`) but not when they were made; its `next_use_secs` is 0
//! whenever the limit is not reached, so it dates nothing. Uses LL2 counts
//! beyond our own log (another client on this IP, a wiped store) are
//! therefore taken as made at the moment we learn of them: they age out of
//! the window an hour later, never sooner, which may waste a little budget
//! but never earns a 429. Our own requests are in both counts, so the two
//! are merged by taking the larger, not added.

use std::collections::VecDeque;

use chrono::{DateTime, Duration, Utc};

const WINDOW: Duration = Duration::hours(1);

/// The requests LL2 still allows this hour, and when the next may go.
#[derive(Debug, Clone)]
pub(crate) struct Budget {
    per_hour: u32,
    /// Our own request times inside the window, oldest first.
    sent: VecDeque<DateTime<Utc>>,
    /// Uses LL2 counted that are not ours, dated as explained above,
    /// oldest first.
    foreign: VecDeque<DateTime<Utc>>,
    /// No request before this instant (LL2 told us to wait).
    blocked_until: Option<DateTime<Utc>>,
    /// LL2's own limit, when `/api-throttle/` told it.
    server_limit: Option<u32>,
}

impl Budget {
    /// `past`: request times already sent (from the store), any order.
    pub(crate) fn new(per_hour: u32, past: impl IntoIterator<Item = DateTime<Utc>>) -> Budget {
        let mut sent: Vec<_> = past.into_iter().collect();
        sent.sort();
        Budget {
            per_hour: per_hour.max(1),
            sent: sent.into(),
            foreign: VecDeque::new(),
            blocked_until: None,
            server_limit: None,
        }
    }

    fn prune(&mut self, now: DateTime<Utc>) {
        for log in [&mut self.sent, &mut self.foreign] {
            while log.front().is_some_and(|t| *t <= now - WINDOW) {
                log.pop_front();
            }
        }
    }

    /// Requests counted in the last hour: ours and the foreign ones.
    pub(crate) fn used(&mut self, now: DateTime<Utc>) -> u32 {
        self.prune(now);
        (self.sent.len() + self.foreign.len()) as u32
    }

    /// The hourly ceiling: ours, or LL2's if it is lower.
    fn limit(&self) -> u32 {
        self.server_limit.map_or(self.per_hour, |l| self.per_hour.min(l.max(1)))
    }

    /// Requests still allowed in the last hour's window.
    pub(crate) fn remaining(&mut self, now: DateTime<Utc>) -> u32 {
        self.limit().saturating_sub(self.used(now))
    }

    /// The earliest instant at which one more request stays within budget.
    pub(crate) fn next_slot(&mut self, now: DateTime<Utc>) -> DateTime<Utc> {
        let (used, limit) = (self.used(now) as usize, self.limit() as usize);
        let mut at = now;
        if used >= limit {
            // The use that must leave the window before we may send.
            let mut all: Vec<_> = self.sent.iter().chain(&self.foreign).copied().collect();
            all.sort();
            at = at.max(all[used - limit] + WINDOW);
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

    /// What `/api-throttle/` reported: `current_use` requests in LL2's past
    /// hour, the next one allowed after `next_use` (0 below the limit).
    /// The foreign uses become `current_use` minus our own (never fewer
    /// than none): new ones are dated `now`; if LL2 counts fewer than we
    /// assumed, the oldest assumed ones go. When LL2 names the moment its
    /// next slot frees (`next_use` > 0), the oldest foreign use is dated so
    /// that it leaves the window then.
    pub(crate) fn observe_server(&mut self, limit: u32, current_use: u32, next_use: Duration, now: DateTime<Utc>) {
        self.server_limit = Some(limit);
        if current_use >= limit && next_use > Duration::zero() {
            self.block_until(now + next_use);
        }
        self.prune(now);
        let foreign = (current_use as usize).saturating_sub(self.sent.len());
        while self.foreign.len() > foreign {
            self.foreign.pop_front();
        }
        while self.foreign.len() < foreign {
            self.foreign.push_back(now);
        }
        if next_use > Duration::zero()
            && let Some(oldest) = self.foreign.front_mut()
        {
            *oldest = (*oldest).min(now + next_use - WINDOW);
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

    #[test]
    fn foreign_uses_age_out_over_the_hour() {
        // A fresh start (empty log) on an IP another client has used 12
        // times this hour; LL2 answers `next_use_secs` 0 below its limit.
        let mut b = Budget::new(15, []);
        b.observe_server(15, 12, Duration::zero(), t(0));
        assert_eq!(b.remaining(t(0)), 3);
        for m in 1..=3 {
            assert_eq!(b.next_slot(t(m)), t(m));
            b.record(t(m));
        }
        assert_eq!(b.next_slot(t(4)), t(60), "the foreign uses leave the window an hour after we learnt of them");
        assert_eq!(b.remaining(t(59)), 0);
        assert_eq!(b.remaining(t(60)), 12, "then only our own 3 count");
    }

    #[test]
    fn our_own_requests_are_not_counted_twice() {
        let mut b = Budget::new(15, (0..5).map(t));
        // LL2 counts our 5 and 2 more.
        b.observe_server(15, 7, Duration::zero(), t(5));
        assert_eq!(b.used(t(5)), 7);
        b.record(t(6));
        b.observe_server(15, 8, Duration::zero(), t(10));
        assert_eq!(b.used(t(10)), 8, "still 2 foreign, not 2 more");
        // The other client's uses left LL2's window sooner than assumed.
        b.observe_server(15, 6, Duration::zero(), t(20));
        assert_eq!(b.used(t(20)), 6);
        // A restart: our log is the truth for our own requests.
        let mut b = Budget::new(15, (0..5).map(t));
        b.observe_server(15, 5, Duration::zero(), t(5));
        assert_eq!(b.remaining(t(5)), 10);
    }

    #[test]
    fn a_lower_server_limit_wins() {
        let mut b = Budget::new(100, []);
        b.observe_server(15, 0, Duration::zero(), t(0));
        for m in 0..15 {
            b.record(t(m));
        }
        assert_eq!(b.next_slot(t(15)), t(60));
    }
}
