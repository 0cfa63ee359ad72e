//! How long to wait before retrying something that failed: one
//! [`Backoff`] type, exponential (doubling from a first wait) with a cap and
//! optional jitter, used by the poller, the deliverer, the Telegram bot and
//! the Discord gateway. It only computes waits; it must not sleep or
//! retry by itself.
//!
//! An own type rather than the `backon` crate: `backon` drives the retry
//! loop itself (an iterator of delays, or a wrapper around the retried
//! future), but our retry loops cannot be handed over. The deliverer keeps
//! an entry's attempt count in the store and turns it into a `not_before`
//! time across restarts, the poller keeps one count per feed inside its
//! scheduling loop, and teloxide asks for a `Fn(u32) -> Duration`. All of
//! them need a pure function from attempt number to delay, which is a few
//! lines of arithmetic.

use std::time::Duration;

/// Exponential backoff: `first`, doubled per further attempt, capped at
/// `max`, then spread by ±`jitter` (a fraction) so that many retries
/// failing together do not retry together. The cap applies before the
/// jitter, so retries at the cap keep spreading out.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Backoff {
    first: Duration,
    max: Duration,
    jitter: f64,
}

impl Backoff {
    /// Doubling from `first` up to `max`, without jitter.
    pub(crate) const fn new(first: Duration, max: Duration) -> Backoff {
        Backoff { first, max, jitter: 0.0 }
    }

    /// Spreads every delay uniformly over `±fraction` of it (clamped to
    /// `0..=1`).
    pub(crate) const fn with_jitter(self, fraction: f64) -> Backoff {
        Backoff { jitter: fraction.clamp(0.0, 1.0), ..self }
    }

    /// The wait before retry number `attempt` (1 for the first retry; 0
    /// counts as 1).
    pub(crate) fn delay(&self, attempt: u32) -> Duration {
        self.delay_at(attempt, rand::random::<f64>())
    }

    /// [`Backoff::delay`] with the random draw given (`0.0..1.0`): pure, so
    /// the spread can be tested.
    fn delay_at(&self, attempt: u32, draw: f64) -> Duration {
        let doublings = attempt.saturating_sub(1).min(63);
        let base = self.first.saturating_mul(1u32.checked_shl(doublings.min(31)).unwrap_or(u32::MAX)).min(self.max);
        if self.jitter == 0.0 {
            return base;
        }
        base.mul_f64(1.0 - self.jitter + 2.0 * self.jitter * draw.clamp(0.0, 1.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn doubles_from_the_first_wait_up_to_the_cap() {
        let b = Backoff::new(S(30), S(960));
        let waits: Vec<_> = (1..=7).map(|n| b.delay(n).as_secs()).collect();
        assert_eq!(waits, [30, 60, 120, 240, 480, 960, 960]);
        assert_eq!(b.delay(0), S(30), "attempt 0 counts as the first");
        assert_eq!(b.delay(u32::MAX), S(960), "no overflow far past the cap");
    }

    #[test]
    fn jitter_spreads_around_the_capped_delay() {
        let b = Backoff::new(S(2), S(600)).with_jitter(0.25);
        assert_eq!(b.delay_at(1, 0.0), Duration::from_secs_f64(1.5));
        assert_eq!(b.delay_at(1, 0.5), S(2));
        assert_eq!(b.delay_at(20, 0.0), S(450));
        assert_eq!(b.delay_at(20, 1.0), S(750));
        for n in 1..40 {
            let d = b.delay(n).as_secs_f64();
            let base = (2f64 * 2f64.powi(n as i32 - 1)).min(600.0);
            assert!((base * 0.75..=base * 1.25).contains(&d), "attempt {n}: {d}");
        }
    }
}
