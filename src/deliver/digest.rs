//! A queued digest (`crate::digest`) made into its message at send time:
//! the listed items' snapshots as they are now, the news headlines of the
//! span just past (when the destination chose `news`), the zone and quiet hours of
//! the destination's subscriptions with that schedule as they are now. A
//! digest whose schedule was turned off meanwhile, or whose items all left
//! the store, is not sent. It must not decide what a digest lists.

use chrono::{DateTime, Utc};
use tracing::debug;

use super::{Deliverer, DrainStats, ToSend};
use crate::metrics::DeliveryOutcome;
use crate::rules::in_quiet_hours;
use crate::store::{DigestRecord, OutboxEntry, OutboxKey, StoreError};

impl Deliverer {
    /// The message of `digest` for `entry`, or `None` when it was settled
    /// without a send (moved to dead letters with the reason).
    pub(super) fn prepare_digest(
        &self,
        key: OutboxKey,
        entry: &OutboxEntry,
        digest: &DigestRecord,
        now: DateTime<Utc>,
        stats: &mut DrainStats,
    ) -> Result<Option<ToSend>, StoreError> {
        let subs: Vec<_> = self
            .store
            .subscriptions_of(&entry.destination)?
            .into_iter()
            .filter(|s| s.enabled && s.digest == Some(digest.schedule))
            .collect();
        if subs.is_empty() {
            debug!(dest = %entry.destination, "dropping digest: the destination turned it off");
            self.bury(key, entry, "digest turned off", DeliveryOutcome::Dead, now, stats)?;
            return Ok(None);
        }
        let mut items = Vec::new();
        for id in &digest.items {
            items.extend(self.store.item(id)?);
        }
        items.sort_by_key(|i| (i.when, i.name.clone()));
        if items.is_empty() {
            debug!(dest = %entry.destination, "dropping digest: its items left the store");
            self.bury(key, entry, "digest items gone", DeliveryOutcome::Dead, now, stats)?;
            return Ok(None);
        }
        let chat_tz = self.store.chat_settings(&entry.destination)?.map(|c| c.timezone);
        let tz = crate::digest::zone(&subs, chat_tz);
        let at = Utc::now();
        let listed: Vec<_> = items.iter().collect();
        // The headlines of the span just past: the day's for a daily
        // digest, the week's for a weekly one.
        let since = digest.due - (digest.until - digest.due);
        let headlines = crate::news::headlines_for(&self.store, &entry.destination, since)?;
        let mut sections = vec![crate::digest::items_section(&listed, tz, at)];
        sections.extend(crate::digest::news_section(&headlines));
        let shown = &listed[..listed.len().min(crate::digest::MAX_LISTED)];
        Ok(Some(ToSend {
            msg: crate::digest::message(digest.schedule, listed.len(), &sections, tz),
            mute: None,
            mentions: Vec::new(),
            alert: None,
            keyboard: Some(crate::commands::next::digest_keyboard(shown, listed.len(), crate::digest::MAX_LISTED)),
            card: None,
            // Quiet hours only: a digest is no alert kind `silent` names.
            silent: subs.iter().all(|s| in_quiet_hours(s, at)),
        }))
    }
}
