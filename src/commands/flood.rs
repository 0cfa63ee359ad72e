//! Command flooding: whether a chat command is answered, answered with one
//! calm "slow down", or ignored. Pure bookkeeping over caller-given
//! instants (a token bucket per chat, and per user in groups); it sends
//! nothing and knows no platform.
//!
//! Why here and not in the rate limiter: the limiter paces what is sent,
//! and a reply it paces still goes out, seconds or minutes later, after
//! the person stopped reading. Deciding at arrival keeps replies nobody
//! will read out of the limiter altogether, so alerts and the next real
//! command are not queued behind them.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::Duration;

use tokio::time::Instant;

/// The one reply to a burst past the limit.
#[cfg_attr(feature = "testing", visibility::make(pub))]
pub(crate) const SLOW_DOWN: &str = "That's a lot of commands at once. I'll answer again in a few seconds.";

/// What to do with one command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Within the limit: run it and reply.
    Answer,
    /// Over the limit for the first time in this burst: say so, once.
    SlowDown,
    /// Still over the limit: say nothing.
    Ignore,
}

/// The numbers: `burst` commands at once, then one more every `refill`.
#[cfg_attr(feature = "testing", visibility::make(pub))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FloodLimits {
    /// Commands accepted at once from a full bucket.
    pub burst: u32,
    /// Time to earn back one command.
    pub refill: Duration,
    /// Most keys remembered; full buckets are forgotten first.
    pub max_keys: usize,
}

impl Default for FloodLimits {
    /// Three at once and one every two seconds: a person typing is never
    /// held back; a pasted list of forty gets three answers and a note.
    fn default() -> FloodLimits {
        FloodLimits { burst: 3, refill: Duration::from_secs(2), max_keys: 10_000 }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
    warned: bool,
}

/// Token buckets by key (a chat, or a chat and a user).
#[derive(Debug)]
pub(crate) struct FloodGuard<K> {
    limits: FloodLimits,
    buckets: HashMap<K, Bucket>,
}

impl<K: Hash + Eq + Clone> FloodGuard<K> {
    /// A guard with every bucket full.
    pub(crate) fn new(limits: FloodLimits) -> FloodGuard<K> {
        FloodGuard { limits, buckets: HashMap::new() }
    }

    /// The verdict for a command arriving at `now` that counts against
    /// every key in `keys` (the chat, and in groups also the sender): it is
    /// answered only when all of them have room, and only then charged.
    pub(crate) fn check(&mut self, keys: &[K], now: Instant) -> Verdict {
        self.forget_idle(now);
        let burst = f64::from(self.limits.burst.max(1));
        let per_token = self.limits.refill.as_secs_f64().max(f64::EPSILON);
        for k in keys {
            let b = self.buckets.entry(k.clone()).or_insert(Bucket { tokens: burst, at: now, warned: false });
            let earned = now.saturating_duration_since(b.at).as_secs_f64() / per_token;
            b.tokens = (b.tokens + earned).min(burst);
            b.at = now;
        }
        let room = keys.iter().all(|k| self.buckets.get(k).is_some_and(|b| b.tokens >= 1.0));
        if room {
            for k in keys {
                if let Some(b) = self.buckets.get_mut(k) {
                    b.tokens -= 1.0;
                    b.warned = false;
                }
            }
            return Verdict::Answer;
        }
        let mut first = false;
        for k in keys {
            if let Some(b) = self.buckets.get_mut(k)
                && b.tokens < 1.0
                && !b.warned
            {
                b.warned = true;
                first = true;
            }
        }
        if first { Verdict::SlowDown } else { Verdict::Ignore }
    }

    /// Drops buckets that refilled (they say nothing a new one would not)
    /// once the map is at its ceiling; then the oldest, if still full.
    fn forget_idle(&mut self, now: Instant) {
        if self.buckets.len() < self.limits.max_keys {
            return;
        }
        let full = self.limits.refill * self.limits.burst.max(1);
        self.buckets.retain(|_, b| now.saturating_duration_since(b.at) < full);
        while self.buckets.len() >= self.limits.max_keys {
            let Some(oldest) = self.buckets.iter().min_by_key(|(_, b)| b.at).map(|(k, _)| k.clone()) else { break };
            self.buckets.remove(&oldest);
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.buckets.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn a_burst_is_answered_then_one_note_then_silence_until_it_passes() {
        let mut g = FloodGuard::new(FloodLimits::default());
        let t0 = Instant::now();
        let verdicts: Vec<Verdict> = (0..40).map(|i| g.check(&[1], t0 + S * i / 40)).collect();
        assert_eq!(&verdicts[..3], [Verdict::Answer; 3]);
        assert_eq!(verdicts[3], Verdict::SlowDown);
        assert!(verdicts[4..].iter().all(|v| *v == Verdict::Ignore));
        // A few seconds later: answered, and a new burst may warn again.
        assert_eq!(g.check(&[1], t0 + 3 * S), Verdict::Answer);
        assert_eq!(g.check(&[1], t0 + 3 * S), Verdict::SlowDown);
        // Someone else is not affected.
        assert_eq!(g.check(&[2], t0 + S), Verdict::Answer);
    }

    #[test]
    fn in_groups_the_chat_and_the_sender_both_count() {
        let mut g = FloodGuard::new(FloodLimits { burst: 2, refill: S, max_keys: 100 });
        let t0 = Instant::now();
        // (chat, user); user 0 stands for the chat as a whole.
        assert_eq!(g.check(&[(9, 0), (9, 1)], t0), Verdict::Answer);
        assert_eq!(g.check(&[(9, 0), (9, 1)], t0), Verdict::Answer);
        assert_eq!(g.check(&[(9, 0), (9, 1)], t0), Verdict::SlowDown);
        // The group as a whole is out of room too: another member waits,
        // without a second note for the same burst of the group.
        assert_eq!(g.check(&[(9, 0), (9, 2)], t0), Verdict::Ignore);
        assert_eq!(g.check(&[(9, 0), (9, 2)], t0 + S), Verdict::Answer);
        // A refused command is not charged: user 1 has room again as soon
        // as the group has.
        assert_eq!(g.check(&[(9, 0), (9, 1)], t0 + 2 * S), Verdict::Answer);
    }

    #[test]
    fn memory_stays_bounded() {
        let mut g = FloodGuard::new(FloodLimits { burst: 1, refill: S, max_keys: 10 });
        let t0 = Instant::now();
        for k in 0..100 {
            g.check(&[k], t0 + S * k);
        }
        assert!(g.len() <= 10);
    }
}
