//! The poller's wall clock. Production reads the system clock; scenario
//! runs set it (`from_fn`); the freshness simulator (`examples/freshness.rs`) makes wall time follow
//! tokio's clock, so that under `tokio::time::pause` simulated hours pass in
//! milliseconds and every date the poller compares (budget window, sweep
//! age, watermark plausibility, alert times) moves with them.
//!
//! It only tells the time; it must not sleep or schedule anything (sleeping
//! stays with `tokio::time`, which the paused clock already governs).

use std::sync::Arc;

use chrono::{DateTime, Utc};

/// A source of "now". Cheap to clone.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>);

impl Clock {
    /// The system clock (`Utc::now`).
    pub(crate) fn system() -> Clock {
        Clock(Arc::new(Utc::now))
    }

    /// Wall time that starts at `start` now and advances with tokio's clock
    /// (`tokio::time::Instant`), paused or not. Call it inside the runtime.
    pub fn tokio_from(start: DateTime<Utc>) -> Clock {
        let base = tokio::time::Instant::now();
        Clock(Arc::new(move || start + chrono::Duration::from_std(base.elapsed()).unwrap_or_default()))
    }

    /// The time `now` tells: a scenario that replays the moments of a
    /// launch day (`tests/launch_day.rs`) jumps it from one to the next.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn from_fn(now: impl Fn() -> DateTime<Utc> + Send + Sync + 'static) -> Clock {
        Clock(Arc::new(now))
    }

    /// The current time, as this clock sees it.
    pub fn now(&self) -> DateTime<Utc> {
        (self.0)()
    }
}

impl Default for Clock {
    fn default() -> Clock {
        Clock::system()
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Clock({})", self.now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn tokio_clock_follows_paused_time() {
        let start: DateTime<Utc> = "2026-12-01T00:00:00Z".parse().unwrap();
        let clock = Clock::tokio_from(start);
        assert_eq!(clock.now(), start);
        tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
        assert_eq!(clock.now(), start + chrono::Duration::hours(1));
    }
}
