//! Calendar mirrors of what is coming: iCalendar feeds (`calendar:NAME`
//! destinations and private per-chat feeds from `/calendar`) and the
//! selection that Discord scheduled events (`discord-events:GUILD_ID`,
//! see `crate::discord::events`) share with them.
//!
//! Everything here is built from the store's snapshots: no LL2 request.
//! The per-item `SEQUENCE` is kept in the store and rises when the item's
//! schedule or status changes; it is written in the same transaction as
//! the snapshot that changed it (`Store::apply` asks `store::Sequenced::next`).
//!
//! **Ended items.** An item stays in a feed while its date is less than
//! [`KEEP_PAST`] (3 days) ago, so a launch that just flew (or failed) is
//! still there as a past entry with its final status in the description;
//! then it drops out. An item that left LL2's upcoming list and was removed
//! from the store drops out at once.
//!
//! It must not send anything or decide alerts; the HTTP route is in
//! [`http`], the text in [`ics`].

pub mod http;
pub(crate) mod ics;

use chrono::{DateTime, Duration, Utc};
use rand::RngCore;

use crate::item::Item;
use crate::rules::Subscription;
use crate::store::{Store, StoreError};
use crate::types::Destination;

/// How long an item stays in a feed after its date.
pub(crate) const KEEP_PAST: Duration = Duration::days(3);

/// Whether an item belongs in a mirror at `now`: it has a date and that
/// date is at most [`KEEP_PAST`] ago.
pub(crate) fn is_current(item: &Item, now: DateTime<Utc>) -> bool {
    item.when.is_some_and(|w| w >= now - KEEP_PAST)
}

/// Whether one of `subs` (enabled) selects `item`. Kinds are part of the
/// filter; alert kinds do not apply to a calendar (it shows the item, not
/// its alerts).
pub(crate) fn selected(subs: &[Subscription], item: &Item) -> bool {
    subs.iter().any(|s| s.enabled && s.filter.matches(item))
}

/// The current items `subs` select, soonest first, with their sequences.
pub(crate) fn entries(
    store: &Store,
    subs: &[Subscription],
    now: DateTime<Utc>,
) -> Result<Vec<(Item, u32)>, StoreError> {
    let mut out = Vec::new();
    if subs.iter().all(|s| !s.enabled) {
        return Ok(out);
    }
    for item in store.items()? {
        if is_current(&item, now) && selected(subs, &item) {
            let sequence = store.sequence(&item.id)?.map_or(0, |s| s.sequence);
            out.push((item, sequence));
        }
    }
    out.sort_by(|a, b| a.0.when.cmp(&b.0.when).then_with(|| a.0.id.cmp(&b.0.id)));
    Ok(out)
}

/// The `.ics` text of the feed of `dest` (its subscriptions' items, less
/// the ones that chat muted).
pub(crate) fn feed(store: &Store, dest: &Destination, name: &str, now: DateTime<Utc>) -> Result<String, StoreError> {
    let subs = store.subscriptions_of(dest)?;
    let muted: Vec<_> = store.mutes_of(dest)?.into_iter().map(|m| m.item).collect();
    let mut items = entries(store, &subs, now)?;
    items.retain(|(item, _)| !muted.contains(&item.id));
    let list: Vec<ics::Entry<'_>> =
        items.iter().map(|(item, sequence)| ics::Entry { item, sequence: *sequence }).collect();
    Ok(ics::calendar(name, &list))
}

/// A fresh private-feed token: 128 random bits as 32 lowercase hex digits
/// (URL-safe, unguessable, and says nothing about the chat).
#[cfg_attr(feature = "testing", visibility::make(pub))]
pub(crate) fn new_token() -> String {
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The private feed link of a chat, creating its token on first use, or
/// a fresh one (the old link stops working) when `reset`.
pub(crate) fn private_link(
    store: &Store,
    public_url: &str,
    chat: &Destination,
    reset: bool,
) -> Result<String, StoreError> {
    let token = match store.calendar_token(chat)? {
        Some(t) if !reset => t,
        _ => {
            let t = new_token();
            store.set_calendar_token(chat, &t)?;
            t
        }
    };
    Ok(format!("{}/calendar/{token}.ics", public_url.trim_end_matches('/')))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::tests::sample_launch;

    #[test]
    fn tokens_are_long_random_and_url_safe() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn items_stay_three_days_after_their_date() {
        let mut item = sample_launch();
        let now: DateTime<Utc> = "2026-10-10T00:00:00Z".parse().unwrap();
        item.when = Some(now - Duration::days(2));
        assert!(is_current(&item, now));
        item.when = Some(now - Duration::days(4));
        assert!(!is_current(&item, now));
        item.when = None;
        assert!(!is_current(&item, now));
    }
}
