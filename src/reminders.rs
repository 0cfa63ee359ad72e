//! T-minus reminders: decides from stored items which reminders are due
//! (pure `due`), and a pass that turns them into alerts routed to the
//! subscriptions that asked for that offset, committed with the "sent"
//! marks in one transaction. It must not talk to LL2 or send anything.
//!
//! Rules: a reminder needs a date precise enough for its offset (no 10-minute
//! reminder for a date known to the hour, none for a month); it fires at
//! `when - offset`, is skipped when that moment passed more than `grace`
//! ago (the bot was down), fires at most once per (item, offset, date), and
//! fires again when a slip moves its moment past the time it was sent.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::detect::{Alert, AlertId, Change};
use crate::item::Item;
use crate::item::status;
use crate::rules::Index;
use crate::store::{Batch, FanOut, ReminderKey, ReminderSent, Store, StoreError};

/// A reminder that is due now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Due {
    /// The configured reminder offset (how long before the item).
    pub(crate) offset: Duration,
    /// The item's date.
    pub(crate) when: DateTime<Utc>,
    /// The moment the reminder is for: `when - offset`.
    pub(crate) fire_at: DateTime<Utc>,
}

/// Whether the item's date is precise enough for a reminder `offset`
/// before it: the date's uncertainty must be smaller than the offset.
pub(crate) fn precise_enough(item: &Item, offset: Duration) -> bool {
    match item.precision.as_ref().map(|p| p.uncertainty_secs()) {
        None => true,
        Some(None) => false,
        Some(Some(u)) => (u as u64) < offset.as_secs(),
    }
}

/// Reminders of `item` due at `now` for the given offsets. `sent` tells
/// what was already sent per offset.
pub(crate) fn due(
    item: &Item,
    offsets: &[Duration],
    now: DateTime<Utc>,
    grace: Duration,
    sent: impl Fn(Duration) -> Option<ReminderSent>,
) -> Vec<Due> {
    let Some(when) = item.when else { return Vec::new() };
    if when <= now {
        return Vec::new();
    }
    if item.status.as_ref().and_then(|s| s.id).is_some_and(|id| status::FINAL.contains(&id) || id == status::IN_FLIGHT)
    {
        return Vec::new();
    }
    let grace = chrono::Duration::from_std(grace).unwrap_or_default();
    offsets
        .iter()
        .filter(|o| precise_enough(item, **o))
        .filter_map(|o| {
            let fire_at = when - chrono::Duration::from_std(*o).ok()?;
            if fire_at > now || now - fire_at > grace {
                return None;
            }
            if let Some(prev) = sent(*o) {
                // Same date: already told. A slip only re-arms the reminder
                // if it pushed the moment past when we sent it.
                if prev.when == when || fire_at <= prev.sent_at {
                    return None;
                }
            }
            Some(Due { offset: *o, when, fire_at })
        })
        .collect()
}

/// Turns due reminders into alerts and outbox entries, once per item,
/// offset and date.
#[cfg_attr(feature = "testing", visibility::make(pub))]
pub(crate) struct Reminders {
    store: Store,
    index: Arc<RwLock<Index>>,
    grace: Duration,
    wake_delivery: Arc<Notify>,
}

impl Reminders {
    /// `grace`: how late a reminder may still fire (after a restart);
    /// `wake_delivery` is notified when reminders are enqueued.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn new(
        store: Store,
        index: Arc<RwLock<Index>>,
        grace: Duration,
        wake_delivery: Arc<Notify>,
    ) -> Reminders {
        Reminders { store, index, grace, wake_delivery }
    }

    /// Creates the alerts of every reminder due at `now`. Returns how many
    /// reminders fired.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) async fn pass(&self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        let offsets = self.index.read().map(|ix| ix.reminder_offsets()).unwrap_or_default();
        if offsets.is_empty() {
            return Ok(0);
        }
        let mut batch = Batch::default();
        for item in self.store.items()? {
            let sent_lookup = |o: Duration| {
                self.store
                    .reminder_sent(&ReminderKey { item: item.id.clone(), offset_secs: o.as_secs() })
                    .unwrap_or(None)
            };
            for d in due(&item, &offsets, now, self.grace, sent_lookup) {
                batch.reminders_sent.push((
                    ReminderKey { item: item.id.clone(), offset_secs: d.offset.as_secs() },
                    ReminderSent { when: d.when, sent_at: now },
                ));
                let targets =
                    self.index.read().map(|ix| ix.targets(&ix.route_reminder(&item, d.offset))).unwrap_or_default();
                if targets.is_empty() {
                    // Marked as sent all the same, so it is not re-evaluated;
                    // no alert record, since nobody receives it.
                    continue;
                }
                let reminder = Change::Reminder { offset: d.offset, when: d.when };
                let alert = Alert::new(AlertId(self.store.next_id()?), item.clone(), vec![reminder], now);
                let recipients = targets.len();
                batch.fan_outs.push(FanOut { alert: alert.id, targets, enqueued_at: now });
                info!(item = %item.id, name = %item.name, offset = %crate::types::format_duration(d.offset), recipients, "reminder due");
                batch.alerts.push(alert);
            }
        }
        let fired = batch.reminders_sent.len();
        if fired > 0 {
            self.store.apply(&batch)?;
            crate::metrics::global().alerts_detected(batch.alerts.iter().map(|a| a.kind().as_str()));
            self.store.flush().await?;
            self.wake_delivery.notify_one();
        }
        Ok(fired)
    }

    /// Checks for due reminders every 20 seconds until shutdown.
    pub(crate) async fn run(&self, shutdown: CancellationToken) {
        loop {
            if let Err(e) = self.pass(Utc::now()).await {
                warn!(error = %e, "reminder pass failed");
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(20)) => {}
                _ = shutdown.cancelled() => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::tests::sample_launch;
    use crate::item::{Named, Precision};

    const H: Duration = Duration::from_secs(3600);
    const M10: Duration = Duration::from_secs(600);
    const D: Duration = Duration::from_secs(86_400);
    const GRACE: Duration = Duration::from_secs(900);

    fn at(item: &Item, before: Duration) -> DateTime<Utc> {
        item.when.unwrap() - chrono::Duration::from_std(before).unwrap()
    }

    #[test]
    fn fires_at_each_offset_when_precise_enough() {
        let item = sample_launch(); // minute precision
        let offsets = [D, H, M10];
        assert!(due(&item, &offsets, at(&item, D + M10), GRACE, |_| None).is_empty());
        let fired = due(&item, &offsets, at(&item, D), GRACE, |_| None);
        assert_eq!(fired.iter().map(|d| d.offset).collect::<Vec<_>>(), [D]);
        assert_eq!(due(&item, &offsets, at(&item, M10), GRACE, |_| None)[0].offset, M10);

        let mut hourly = item.clone();
        hourly.precision = Some(Precision::Hour);
        let offsets_due: Vec<_> = [D, H, M10].into_iter().filter(|o| precise_enough(&hourly, *o)).collect();
        assert_eq!(offsets_due, [D]);
        let mut monthly = item.clone();
        monthly.precision = Some(Precision::Month);
        assert!([D, H, M10].iter().all(|o| !precise_enough(&monthly, *o)));
    }

    #[test]
    fn skipped_past_grace_and_after_t0_and_when_final() {
        let item = sample_launch();
        assert!(due(&item, &[H], at(&item, H) + chrono::Duration::minutes(20), GRACE, |_| None).is_empty());
        assert_eq!(due(&item, &[H], at(&item, H) + chrono::Duration::minutes(10), GRACE, |_| None).len(), 1);
        let mut done = item.clone();
        done.status = Some(Named::new(Some(3), "Launch Successful", None));
        assert!(due(&done, &[H], at(&item, H), GRACE, |_| None).is_empty());
    }

    #[test]
    fn once_per_date_and_again_after_a_slip() {
        let item = sample_launch();
        let now = at(&item, H);
        let sent = ReminderSent { when: item.when.unwrap(), sent_at: now };
        assert!(due(&item, &[H], now + chrono::Duration::minutes(1), GRACE, |_| Some(sent)).is_empty());

        // Slip by two hours: the 1h moment is in the future again, and fires then.
        let mut slipped = item.clone();
        slipped.when = Some(item.when.unwrap() + chrono::Duration::hours(2));
        assert!(due(&slipped, &[H], now + chrono::Duration::minutes(5), GRACE, |_| Some(sent)).is_empty());
        assert_eq!(due(&slipped, &[H], at(&slipped, H), GRACE, |_| Some(sent)).len(), 1);

        // Moved five minutes earlier right after the reminder: not again.
        let mut earlier = item.clone();
        earlier.when = Some(item.when.unwrap() - chrono::Duration::minutes(5));
        assert!(due(&earlier, &[H], now + chrono::Duration::minutes(1), GRACE, |_| Some(sent)).is_empty());
    }
}
