//! Subscriptions and matching. A subscription is a destination, a filter
//! and preferences (`subscription`); `Index` answers "which subscriptions
//! want this alert?" in time proportional to the candidates, not to all
//! subscriptions (`index`, over the slot structures of `slots`).
//! Pure data and logic: it must not touch the store or the network (the
//! store persists `Subscription`s; callers rebuild or update the index).
//!
//! Filter semantics (the README): within a dimension any value matches,
//! across dimensions all must match, an empty dimension matches everything,
//! then `exclude_*` removes what it names. Values are LL2 ids, names or
//! abbreviations, compared case-insensitively.

mod digest;
mod index;
mod loudness;
mod slots;
mod subscription;

pub(crate) use digest::{DigestSchedule, describe_digest};
pub use index::Index;
#[cfg_attr(feature = "testing", visibility::make(pub))]
pub(crate) use index::Target;
pub(crate) use loudness::{LAUNCH_DAY, QuietHours, in_quiet_hours, is_silent};
pub(crate) use subscription::normalize;
pub use subscription::{Filter, Origin, SubId, Subscription};
