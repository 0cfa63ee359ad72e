//! Client-side rate limiting shared by the platform senders: a global rate,
//! a rate per key (a chat, a channel, a route), a stricter rate for keys
//! that are groups, and pauses ("come back after N seconds") per key or for
//! everything, as platforms ask for with HTTP 429 or with an empty
//! rate-limit bucket.
//!
//! Why one limiter of our own for every platform, rather than each
//! platform library's: the outbox owns retries. A send that cannot go out
//! soon must come back to the deliverer as `SendError::Transient` with its
//! `retry_after`, so the entry is rescheduled, counted and eventually
//! dead-lettered, instead of a library sleeping and retrying a 429 inside
//! the call while it holds a delivery worker (each sender's module says
//! which library throttling it bypasses and why). Every sender then
//! translates what its platform says (fixed ceilings and `retry_after`,
//! bucket headers, 429s and global ceilings) into the same few terms here:
//! rates, per-key pauses and global pauses.
//! `RateLimiter::acquire_within` lets a sender hand a long pause back
//! instead of waiting it out.
//!
//! The limiter paces rather than bursts: every rate is enforced as a
//! minimum spacing of `per / count` between two grants (a GCRA with a burst
//! of one). Paced traffic never has more than `count` grants in any window
//! of length `per`, so it stays under a server that counts with a sliding
//! window, and a fan-out of N messages takes N / rate, no more. A small
//! `headroom` widens the spacing so jitter between our clock and the
//! server's arrival times cannot make us look over the limit.
//!
//! `acquire` reserves the earliest slot that every applicable rate allows
//! and then sleeps until it: O(1) under one short lock, no thundering herd,
//! first come first served. A paused key is waited out before its slot is
//! reserved, so it never holds other keys back.
//! First come first served is what keeps command replies prompt during an
//! alert fan-out: alert sends take one of the deliverer's W window slots
//! (`DeliveryConfig::window`, 8) before they reserve here, so at most W
//! alert grants are ever booked ahead of a reply, which then waits at most
//! about W / global rate (8 / 30 per s ≈ 0.3 s at a 30/s ceiling) plus its
//! own chat's spacing, however many chats the fan-out still has to reach
//! (the reply-during-fan-out test in `tests/`). A pause that arrives while
//! a caller sleeps still applies: the caller re-checks after waking and
//! queues again.
//! Reserved slots are plans; a busy runtime can wake callers late and
//! several at once. So the global rate is also checked against the
//! *actual* grant times of the last window (a sliding-window log of at most
//! `count` instants) before a caller is let through.
//!
//! Memory: per-key state is forgotten once it no longer constrains
//! anything (its next slot and its pause are in the past), and a hard
//! ceiling (`Limits::max_keys`) drops the least constrained keys first.
//!
//! This module only decides *when*; it never sends anything, and it knows
//! no platform: what a key is and which keys are groups is up to the caller
//! (see [`LimitKey`]). Time is tokio's, so tests run on paused time.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use tokio::time::Instant;

/// At most `count` grants per `per`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Grants allowed per window; at least 1 (see [`Rate::new`]).
    pub(crate) count: u32,
    /// The window.
    pub(crate) per: Duration,
}

impl Rate {
    /// A rate of `count` per `per`; a count of 0 is taken as 1, so a rate
    /// always lets traffic through eventually.
    pub(crate) const fn new(count: u32, per: Duration) -> Rate {
        Rate { count: if count == 0 { 1 } else { count }, per }
    }

    /// `count` per second.
    pub(crate) const fn per_second(count: u32) -> Rate {
        Rate::new(count, Duration::from_secs(1))
    }

    /// `count` per minute.
    pub(crate) const fn per_minute(count: u32) -> Rate {
        Rate::new(count, Duration::from_secs(60))
    }

    /// The same rate `factor` times faster (benchmarks scale the platform
    /// ceilings up this way). The window stays; the count scales.
    pub(crate) fn scaled(self, factor: f64) -> Rate {
        let count = (f64::from(self.count) * factor).round().clamp(1.0, f64::from(u32::MAX)) as u32;
        Rate::new(count, self.per)
    }

    /// Spacing between two grants, widened by `headroom` (0.03 = 3%).
    pub(crate) fn interval(&self, headroom: f64) -> Duration {
        let base = self.per.as_secs_f64() / f64::from(self.count.max(1));
        Duration::from_secs_f64(base * (1.0 + headroom.clamp(0.0, 10.0)))
    }
}

/// A key the limiter tracks separately: a chat, a channel, a route.
/// `is_group` selects the additional `Limits::per_group` rate.
#[cfg_attr(feature = "testing", visibility::make(pub))]
pub(crate) trait LimitKey: Hash + Eq + Clone + Send + Sync {
    /// Whether `Limits::per_group` applies to this key too; no by default.
    fn is_group(&self) -> bool {
        false
    }
}

/// The numbers a limiter enforces. `None` means unlimited on that level.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Limits {
    /// Shared by every request.
    pub(crate) global: Option<Rate>,
    /// Applies to each key on its own.
    pub(crate) per_key: Option<Rate>,
    /// Applies in addition to keys whose `is_group()` is true.
    pub(crate) per_group: Option<Rate>,
    /// Fraction added to every spacing, so we stay just under a ceiling
    /// even when requests arrive at the server with some jitter.
    pub(crate) headroom: f64,
    /// Hard ceiling on remembered keys. Idle keys are forgotten long
    /// before; this only bites with more *active* keys than that.
    pub(crate) max_keys: usize,
}

impl Default for Limits {
    /// No limits at all; each platform's sender builds its own.
    fn default() -> Limits {
        Limits { global: None, per_key: None, per_group: None, headroom: 0.0, max_keys: 100_000 }
    }
}

/// Spacings derived from `Limits`, computed once.
#[derive(Debug, Clone, Copy)]
struct Intervals {
    global: Option<Duration>,
    per_key: Option<Duration>,
    per_group: Option<Duration>,
}

#[derive(Debug, Clone, Copy)]
struct KeyState {
    /// Earliest next grant allowed by the per-key rate.
    next: Instant,
    /// Earliest next grant allowed by the group rate.
    group_next: Instant,
    /// No grant before this (a 429's retry_after).
    paused_until: Instant,
}

impl KeyState {
    fn fresh(now: Instant) -> KeyState {
        KeyState { next: now, group_next: now, paused_until: now }
    }

    /// The moment after which this state constrains nothing and can be
    /// forgotten without changing any future decision.
    fn expires(&self) -> Instant {
        self.next.max(self.group_next).max(self.paused_until)
    }
}

struct State<K> {
    global_next: Instant,
    /// Actual grant times within the last global window (at most
    /// `global.count` entries).
    global_log: VecDeque<Instant>,
    global_paused_until: Instant,
    keys: HashMap<K, KeyState>,
    /// Sweep idle keys when the map grows past this.
    sweep_at: usize,
}

/// Smallest map size at which sweeping is worth it.
const SWEEP_FLOOR: usize = 1024;

/// Paces requests to the limits it was built with. Share it (`Arc`)
/// between every task that talks to one platform account.
#[cfg_attr(feature = "testing", visibility::make(pub))]
pub(crate) struct RateLimiter<K> {
    limits: Limits,
    intervals: Intervals,
    /// The global rate's window, widened by the headroom.
    global_window: Option<Duration>,
    state: Mutex<State<K>>,
}

impl<K: LimitKey> RateLimiter<K> {
    /// A limiter with nothing granted or paused yet.
    pub(crate) fn new(limits: Limits) -> RateLimiter<K> {
        let h = limits.headroom;
        let intervals = Intervals {
            global: limits.global.map(|r| r.interval(h)),
            per_key: limits.per_key.map(|r| r.interval(h)),
            per_group: limits.per_group.map(|r| r.interval(h)),
        };
        let now = Instant::now();
        let sweep_at = SWEEP_FLOOR.min(limits.max_keys.max(1));
        let global_window = limits.global.map(|r| r.per.mul_f64(1.0 + limits.headroom.clamp(0.0, 10.0)));
        RateLimiter {
            limits,
            intervals,
            global_window,
            state: Mutex::new(State {
                global_next: now,
                global_log: VecDeque::new(),
                global_paused_until: now,
                keys: HashMap::new(),
                sweep_at,
            }),
        }
    }

    /// The limits it enforces.
    pub(crate) fn limits(&self) -> &Limits {
        &self.limits
    }

    fn lock(&self) -> MutexGuard<'_, State<K>> {
        // The state is a handful of instants; a panic elsewhere cannot leave
        // it inconsistent in a way worse than a slightly early grant.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Waits until every applicable limit allows one more request for
    /// `key`, and counts that request. Returns whether it had to wait for
    /// a rate (not for a pause). Cancel-safe: a cancelled wait only wastes
    /// the slot it had reserved.
    pub(crate) async fn acquire(&self, key: &K) -> bool {
        self.acquire_within(key, Duration::MAX).await.unwrap_or(true)
    }

    /// [`acquire`](Self::acquire), but a pause on `key` (or on everything)
    /// longer than `max_wait` is not waited out: `Err` carries how long it
    /// still lasts, for the caller to hand back (e.g. as a retry delay to
    /// the outbox) instead of holding a worker.
    pub(crate) async fn acquire_within(&self, key: &K, max_wait: Duration) -> Result<bool, Duration> {
        let mut waited = false;
        'reserve: loop {
            // Sit out a pause before reserving: a slot reserved inside it
            // would push the global schedule past the pause and hold every
            // other key back with it.
            if let Some(until) = self.paused_until(key) {
                let pause = until.saturating_duration_since(Instant::now());
                if pause > max_wait {
                    return Err(pause);
                }
                tokio::time::sleep_until(until).await;
                continue;
            }
            let mut at = self.reserve(key);
            waited |= at > Instant::now();
            loop {
                tokio::time::sleep_until(at).await;
                // A pause set while we slept (a 429 for this key or a global
                // flood) overrides the slot we reserved before it was known.
                if self.is_paused(key, Instant::now()) {
                    continue 'reserve;
                }
                match self.commit_global(Instant::now()) {
                    None => return Ok(waited),
                    Some(free_at) => {
                        waited = true;
                        at = free_at;
                    }
                }
            }
        }
    }

    /// The global window check on *actual* grant times. Slots are reserved
    /// ahead, but a busy runtime can wake callers late and then several at
    /// once; their requests would reach the server closer together than
    /// planned. Counting real grants in a sliding window keeps even those
    /// under the ceiling. Returns when to try again if the window is full.
    fn commit_global(&self, now: Instant) -> Option<Instant> {
        let (Some(rate), Some(window)) = (self.limits.global, self.global_window) else {
            return None;
        };
        let mut st = self.lock();
        while st.global_log.front().is_some_and(|t| now.duration_since(*t) >= window) {
            st.global_log.pop_front();
        }
        let count = rate.count as usize;
        if st.global_log.len() >= count {
            return Some(st.global_log[st.global_log.len() - count] + window);
        }
        st.global_log.push_back(now);
        None
    }

    /// Reserves the earliest slot allowed for `key` and returns it.
    fn reserve(&self, key: &K) -> Instant {
        let now = Instant::now();
        let group = key.is_group();
        let iv = self.intervals;
        let mut st = self.lock();
        let mut slot = now.max(st.global_next).max(st.global_paused_until);
        let ks = st.keys.entry(key.clone()).or_insert_with(|| KeyState::fresh(now));
        slot = slot.max(ks.paused_until);
        if iv.per_key.is_some() {
            slot = slot.max(ks.next);
        }
        if group && iv.per_group.is_some() {
            slot = slot.max(ks.group_next);
        }
        if let Some(d) = iv.per_key {
            ks.next = slot + d;
        }
        if group && let Some(d) = iv.per_group {
            ks.group_next = slot + d;
        }
        if let Some(d) = iv.global {
            st.global_next = slot + d;
        }
        if st.keys.len() > st.sweep_at {
            self.sweep(&mut st, now);
        }
        slot
    }

    fn is_paused(&self, key: &K, now: Instant) -> bool {
        let st = self.lock();
        st.global_paused_until > now || st.keys.get(key).is_some_and(|k| k.paused_until > now)
    }

    /// No request for `key` before `until` (e.g. a 429's retry_after).
    /// Never shortens an existing pause.
    pub(crate) fn pause_key(&self, key: &K, until: Instant) {
        let now = Instant::now();
        let mut st = self.lock();
        let ks = st.keys.entry(key.clone()).or_insert_with(|| KeyState::fresh(now));
        ks.paused_until = ks.paused_until.max(until);
    }

    /// No request at all before `until` (a platform-wide flood answer).
    /// Never shortens an existing pause.
    pub(crate) fn pause_all(&self, until: Instant) {
        let mut st = self.lock();
        st.global_paused_until = st.global_paused_until.max(until);
    }

    /// When `key` (or everything) is paused past now, until when.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn paused_until(&self, key: &K) -> Option<Instant> {
        let now = Instant::now();
        let st = self.lock();
        let until = st.keys.get(key).map_or(st.global_paused_until, |k| k.paused_until.max(st.global_paused_until));
        (until > now).then_some(until)
    }

    /// Keys currently remembered (for tests and metrics).
    #[cfg(test)]
    pub(crate) fn tracked_keys(&self) -> usize {
        self.lock().keys.len()
    }

    /// Forgets keys that constrain nothing any more; if that is not enough
    /// to respect `max_keys`, forgets the ones that expire soonest.
    fn sweep(&self, st: &mut State<K>, now: Instant) {
        st.keys.retain(|_, k| k.expires() > now);
        let max = self.limits.max_keys.max(1);
        if st.keys.len() > max {
            let mut expiries: Vec<Instant> = st.keys.values().map(KeyState::expires).collect();
            let cut = st.keys.len() - max;
            expiries.select_nth_unstable(cut - 1);
            let threshold = expiries[cut - 1];
            st.keys.retain(|_, k| k.expires() > threshold);
        }
        // Amortized O(1): the next sweep waits until the map doubled, but
        // never beyond the ceiling.
        st.sweep_at = (st.keys.len() * 2).clamp(SWEEP_FLOOR.min(max), max);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[derive(Debug, Clone, PartialEq, Eq, Hash)]
    struct K(i64);
    impl LimitKey for K {
        fn is_group(&self) -> bool {
            self.0 < 0
        }
    }

    fn limits(global: Option<Rate>, per_key: Option<Rate>, per_group: Option<Rate>) -> Limits {
        Limits { global, per_key, per_group, ..Limits::default() }
    }

    /// Grants happen in order and never more than `rate.count` in any
    /// window of `rate.per` (half-open, as a sliding-window server counts).
    fn assert_within(times: &[Duration], rate: Rate) {
        for (i, t) in times.iter().enumerate() {
            let in_window = times[i..].iter().take_while(|u| **u < *t + rate.per).count();
            assert!(in_window <= rate.count as usize, "{in_window} grants in the window starting at {t:?}");
        }
    }

    async fn timed(l: &RateLimiter<K>, key: K, start: Instant) -> Duration {
        l.acquire(&key).await;
        start.elapsed()
    }

    #[tokio::test(start_paused = true)]
    async fn global_rate_is_paced_not_burst() {
        let l = RateLimiter::new(limits(Some(Rate::per_second(30)), None, None));
        let start = Instant::now();
        let mut times = Vec::new();
        for i in 0..90 {
            times.push(timed(&l, K(i), start).await);
        }
        assert_within(&times, Rate::per_second(30));
        // N grants take (N-1) intervals: the ideal N / rate.
        let last = times.last().unwrap().as_secs_f64();
        assert!((last - 89.0 / 30.0).abs() < 0.01, "last grant at {last}");
        assert!(times[1] > Duration::from_millis(30), "no burst at the start: {:?}", times[1]);
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_callers_share_the_global_rate() {
        let l = Arc::new(RateLimiter::new(limits(Some(Rate::per_second(100)), Some(Rate::per_second(1)), None)));
        let start = Instant::now();
        let mut set = tokio::task::JoinSet::new();
        for i in 0..300 {
            let l = l.clone();
            set.spawn(async move { timed(&l, K(i), start).await });
        }
        let mut times = set.join_all().await;
        times.sort();
        assert_within(&times, Rate::per_second(100));
        let last = times.last().unwrap().as_secs_f64();
        assert!(last < 3.0, "300 at 100/s should take ~2.99 s, took {last}");
    }

    #[tokio::test(start_paused = true)]
    async fn per_key_and_group_rates() {
        let l =
            RateLimiter::new(limits(Some(Rate::per_second(30)), Some(Rate::per_second(1)), Some(Rate::per_minute(20))));
        let start = Instant::now();
        let user: Vec<_> = [timed(&l, K(7), start).await, timed(&l, K(7), start).await, timed(&l, K(7), start).await]
            .into_iter()
            .map(|d| d.as_secs())
            .collect();
        assert_eq!(user, [0, 1, 2], "private chat: 1/s");
        let start = Instant::now();
        let group: Vec<_> =
            [timed(&l, K(-5), start).await, timed(&l, K(-5), start).await, timed(&l, K(-5), start).await]
                .into_iter()
                .map(|d| d.as_secs())
                .collect();
        assert_eq!(group, [0, 3, 6], "group: 20/min paced as one per 3 s");
        // Other keys are not held back by a busy one.
        let start = Instant::now();
        assert!(timed(&l, K(8), start).await < Duration::from_millis(100));
    }

    #[tokio::test(start_paused = true)]
    async fn group_rate_holds_over_a_minute() {
        let l = RateLimiter::new(limits(None, Some(Rate::per_second(1)), Some(Rate::per_minute(20))));
        let start = Instant::now();
        let mut times = Vec::new();
        for _ in 0..45 {
            times.push(timed(&l, K(-100), start).await);
        }
        assert_within(&times, Rate::per_minute(20));
        assert_within(&times, Rate::per_second(1));
    }

    #[tokio::test(start_paused = true)]
    async fn headroom_widens_the_spacing() {
        let l = RateLimiter::new(Limits { headroom: 0.05, ..limits(Some(Rate::per_second(10)), None, None) });
        let start = Instant::now();
        let mut last = Duration::ZERO;
        for i in 0..11 {
            last = timed(&l, K(i), start).await;
        }
        assert!((last.as_secs_f64() - 1.05).abs() < 0.01, "{last:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn pauses_per_key_and_global() {
        let l = RateLimiter::new(limits(None, Some(Rate::per_second(1)), None));
        let start = Instant::now();
        l.pause_key(&K(1), start + Duration::from_secs(5));
        l.pause_key(&K(1), start + Duration::from_secs(2)); // never shortens
        assert_eq!(l.paused_until(&K(1)), Some(start + Duration::from_secs(5)));
        assert_eq!(l.paused_until(&K(2)), None);
        assert!(timed(&l, K(2), start).await < Duration::from_millis(1), "other keys go on");
        assert_eq!(timed(&l, K(1), start).await.as_secs(), 5);

        let start = Instant::now();
        l.pause_all(start + Duration::from_secs(3));
        assert_eq!(l.paused_until(&K(99)), Some(start + Duration::from_secs(3)));
        assert_eq!(timed(&l, K(3), start).await.as_secs(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn a_pause_reaches_callers_already_waiting() {
        let l = Arc::new(RateLimiter::new(limits(None, Some(Rate::per_second(1)), None)));
        let start = Instant::now();
        l.acquire(&K(1)).await; // next slot for K(1) is at 1 s
        let waiter = {
            let l = l.clone();
            tokio::spawn(async move { timed(&l, K(1), start).await })
        };
        tokio::time::sleep(Duration::from_millis(500)).await;
        l.pause_key(&K(1), start + Duration::from_secs(4));
        let waited = waiter.await.unwrap();
        assert!(waited >= Duration::from_secs(4), "{waited:?}");
        assert!(waited < Duration::from_secs(6), "{waited:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_paused_key_holds_no_other_key_back() {
        let l = Arc::new(RateLimiter::new(limits(Some(Rate::per_second(10)), None, None)));
        let start = Instant::now();
        l.pause_key(&K(1), start + Duration::from_secs(3));
        let paused = {
            let l = l.clone();
            tokio::spawn(async move { timed(&l, K(1), start).await })
        };
        tokio::task::yield_now().await;
        assert!(timed(&l, K(2), start).await < Duration::from_millis(200), "K(2) is not queued behind K(1)");
        assert_eq!(paused.await.unwrap().as_secs(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn long_pauses_are_handed_back() {
        let l = RateLimiter::new(limits(Some(Rate::per_second(1)), None, None));
        let start = Instant::now();
        l.pause_key(&K(1), start + Duration::from_secs(30));
        assert_eq!(l.acquire_within(&K(1), Duration::from_secs(10)).await, Err(Duration::from_secs(30)));
        assert_eq!(start.elapsed(), Duration::ZERO, "nothing waited, nothing reserved");
        assert_eq!(l.acquire_within(&K(2), Duration::from_secs(10)).await, Ok(false), "the first grant is free");
        assert_eq!(l.acquire_within(&K(2), Duration::from_secs(10)).await, Ok(true), "the second waits for the rate");
        l.pause_all(Instant::now() + Duration::from_secs(2));
        let before = Instant::now();
        assert!(l.acquire_within(&K(3), Duration::from_secs(10)).await.is_ok(), "a short pause is waited out");
        assert_eq!(before.elapsed().as_secs(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn idle_keys_are_forgotten() {
        // 10,000 chats at 1000/s: about 1000 are "live" (granted within the
        // last second) at any moment; the map stays near that, not 10,000.
        let l = RateLimiter::new(limits(Some(Rate::per_second(1000)), Some(Rate::per_second(1)), None));
        let mut peak = 0;
        for i in 0..10_000 {
            l.acquire(&K(i)).await;
            peak = peak.max(l.tracked_keys());
        }
        assert!(peak < 2500, "peak of remembered keys: {peak}");
        // A paused key is never forgotten while its pause lasts.
        l.pause_key(&K(-1), Instant::now() + Duration::from_secs(3600));
        for i in 10_000..20_000 {
            l.acquire(&K(i)).await;
        }
        assert!(l.paused_until(&K(-1)).is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn hard_ceiling_bounds_active_keys() {
        let l = RateLimiter::new(Limits { max_keys: 2000, ..limits(None, Some(Rate::per_minute(1)), None) });
        for i in 0..20_000 {
            l.acquire(&K(i)).await;
        }
        assert!(l.tracked_keys() <= 2000 + 1, "{}", l.tracked_keys());
    }

    #[tokio::test(start_paused = true)]
    async fn late_wakers_cannot_bunch_up() {
        // Callers that wake late (busy runtime) and together are still held
        // to `count` actual grants per window.
        let l = RateLimiter::<K>::new(limits(Some(Rate::per_second(3)), None, None));
        let now = Instant::now();
        assert_eq!(l.commit_global(now), None);
        assert_eq!(l.commit_global(now), None);
        assert_eq!(l.commit_global(now + Duration::from_millis(10)), None);
        assert_eq!(l.commit_global(now + Duration::from_millis(20)), Some(now + Duration::from_secs(1)));
        assert_eq!(l.commit_global(now + Duration::from_secs(1)), None, "the oldest left the window");
        let unlimited = RateLimiter::<K>::new(Limits::default());
        assert_eq!(unlimited.commit_global(now), None);
    }

    #[test]
    fn rates_scale_and_space() {
        assert_eq!(Rate::per_second(30).scaled(1000.0 / 30.0), Rate::per_second(1000));
        assert_eq!(Rate::new(0, Duration::from_secs(1)).count, 1);
        assert_eq!(Rate::per_minute(20).interval(0.0), Duration::from_secs(3));
        assert_eq!(Rate::per_second(30).scaled(0.0).count, 1);
    }
}
