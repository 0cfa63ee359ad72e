//! The subscription API: the one way to create, change, disable, migrate,
//! list and remove subscriptions, to mute and unmute an item for a chat, and
//! to pause and resume a destination that refused delivery for a reason its
//! admin can fix, used by config reconciliation, the chat front-ends and
//! the deliverer. It
//! keeps the store (durable truth) and the in-memory routing index in step:
//! the store's subscription and mute writes take a [`Write`] that only this
//! module can make, so nothing can change them behind the index's back. It
//! must not parse chat commands or render replies.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use tracing::info;

use crate::config::Watch;
use crate::item::Item;
use crate::rules::{Filter, Index, Origin, SubId, Subscription};
use crate::store::{DestinationPause, Mute, Store, StoreError};
use crate::types::{AlertKind, ChatId, Destination, ItemId, Style};

/// Proof that a subscription write comes through this API. The store's
/// subscription writes require one and only this module can make one: a
/// write elsewhere would leave the routing index stale until restart.
pub(crate) struct Write(());

/// Name of the implicit watch used when nothing is configured: everything
/// to the console.
pub(crate) const DEFAULT_WATCH: &str = "(default: everything to the console)";

/// The subscription API: every subscription write goes through it so the
/// routing index stays in step with the store. Clones share one index.
#[derive(Clone)]
pub struct Subscriptions {
    store: Store,
    index: Arc<RwLock<Index>>,
}

/// What reconciliation changed, for the start-up log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reconciled {
    /// Watch subscriptions that were new.
    pub added: usize,
    /// Watch subscriptions rewritten because the config changed them.
    pub changed: usize,
    /// Watch subscriptions dropped from the config.
    pub removed: usize,
    /// Watch subscriptions kept as they were.
    pub unchanged: usize,
}

impl Subscriptions {
    /// Loads every stored subscription into a fresh routing index.
    /// Streams them from the store (in id order) rather than collecting
    /// them first: a million `Subscription`s would take ~500 MB at start-up,
    /// the index alone ~100 MB.
    pub fn load(store: Store) -> Result<Subscriptions, StoreError> {
        let mut index = Index::new();
        store.for_each_subscription(|s| index.insert(&s))?;
        let subs = Subscriptions { store, index: Arc::new(RwLock::new(index)) };
        for m in subs.store.mutes()? {
            let ids = subs.muting_subscriptions(&m.destination)?;
            let mut index = subs.index_write();
            ids.iter().for_each(|id| index.mute(&m.item, *id));
        }
        Ok(subs)
    }

    /// The subscriptions a chat's mute applies to: the chat's own, never a
    /// config watch to the same destination.
    fn muting_subscriptions(&self, dest: &Destination) -> Result<Vec<SubId>, StoreError> {
        let all = self.store.subscriptions_of(dest)?;
        Ok(all.into_iter().filter(|s| s.origin == Origin::Chat).map(|s| s.id).collect())
    }

    /// The routing index shared with the poller and reminders.
    pub fn index(&self) -> Arc<RwLock<Index>> {
        self.index.clone()
    }

    /// The store the subscriptions live in.
    pub(crate) fn store(&self) -> &Store {
        &self.store
    }

    fn index_write(&self) -> std::sync::RwLockWriteGuard<'_, Index> {
        // A panic while holding the lock leaves a consistent index (each
        // operation is a single insert or remove), so poisoning is ignored.
        self.index.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Stores and indexes a subscription (new or changed).
    pub fn put(&self, sub: &Subscription) -> Result<(), StoreError> {
        self.store.put_subscription(sub, &Write(()))?;
        // A chat's mutes hold for the subscriptions it makes later too.
        let mutes = if sub.origin == Origin::Chat { self.store.mutes_of(&sub.destination)? } else { Vec::new() };
        let mut index = self.index_write();
        index.insert(sub);
        if sub.enabled {
            mutes.iter().for_each(|m| index.mute(&m.item, sub.id));
        }
        Ok(())
    }

    /// Mutes `item` for the chat `dest`: its own subscriptions hear no more
    /// alerts or reminders about it. Returns false when it already was.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn mute(&self, dest: &Destination, item: &Item, now: DateTime<Utc>) -> Result<bool, StoreError> {
        if self.store.is_muted(dest, &item.id)? {
            return Ok(false);
        }
        self.restore_mute(&Mute {
            destination: dest.clone(),
            item: item.id.clone(),
            name: item.name.clone(),
            at: now,
        })?;
        Ok(true)
    }

    /// Puts a mute record back as it was (an import), store and routing
    /// together; the item need not be known yet.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn restore_mute(&self, mute: &Mute) -> Result<(), StoreError> {
        self.store.put_mute(mute, &Write(()))?;
        let ids = self.muting_subscriptions(&mute.destination)?;
        let mut index = self.index_write();
        ids.iter().for_each(|id| index.mute(&mute.item, *id));
        Ok(())
    }

    /// Undoes `mute`. Returns false when the item was not muted.
    pub(crate) fn unmute(&self, dest: &Destination, item: &ItemId) -> Result<bool, StoreError> {
        let existed = self.store.remove_mute(dest, item, &Write(()))?;
        let ids = self.muting_subscriptions(dest)?;
        self.index_write().unmute(item, &ids);
        Ok(existed)
    }

    /// The items `dest` muted that are still upcoming, in the order muted;
    /// mutes of items that left the store (no longer upcoming) are
    /// forgotten on the way.
    pub(crate) fn mutes_of(&self, dest: &Destination) -> Result<Vec<Mute>, StoreError> {
        let mut kept = Vec::new();
        for m in self.store.mutes_of(dest)? {
            if self.store.item(&m.item)?.is_some() {
                kept.push(m);
            } else {
                self.unmute(dest, &m.item)?;
            }
        }
        kept.sort_by_key(|m| m.at);
        Ok(kept)
    }

    /// Forgets every mute of items that left the store (no longer
    /// upcoming). Returns how many went.
    pub(crate) fn forget_gone_mutes(&self) -> Result<usize, StoreError> {
        let mut gone = 0;
        for m in self.store.mutes()? {
            if self.store.item(&m.item)?.is_none() {
                self.unmute(&m.destination, &m.item)?;
                gone += 1;
            }
        }
        Ok(gone)
    }

    /// Deletes one subscription; a missing id is not an error.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn remove(&self, id: SubId) -> Result<(), StoreError> {
        self.store.remove_subscription(id, &Write(()))?;
        self.index_write().remove(id);
        Ok(())
    }

    /// Enables or disables every subscription of `dest` (the bot was
    /// blocked, kicked or added back; the platform refuses delivery for
    /// good). A disabled subscription leaves routing at once. Returns how
    /// many changed.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn set_enabled(&self, dest: &Destination, enabled: bool) -> Result<usize, StoreError> {
        let mut changed = 0;
        for sub in self.store.subscriptions_of(dest)? {
            if sub.enabled != enabled {
                self.put(&Subscription { enabled, ..sub })?;
                changed += 1;
            }
        }
        Ok(changed)
    }

    /// [`Subscriptions::set_enabled`] for a Telegram chat and every forum
    /// topic of it (the bot left or rejoined the group).
    pub(crate) fn set_enabled_in_chat(&self, chat: ChatId, enabled: bool) -> Result<usize, StoreError> {
        let mut dests: Vec<Destination> = self
            .store
            .subscriptions()?
            .into_iter()
            .map(|s| s.destination)
            .filter(|d| d.telegram_chat() == Some(chat))
            .collect();
        dests.push(Destination::Telegram(chat));
        dests.sort();
        dests.dedup();
        let mut changed = 0;
        for d in &dests {
            changed += self.set_enabled(d, enabled)?;
        }
        Ok(changed)
    }

    /// Records (or extends) the pause of a destination that refused
    /// delivery for a reason its admin can fix. Its subscriptions stay
    /// enabled and routed: the deliverer turns its alerts into dead letters
    /// until `pause.until`, then probes.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn pause(&self, pause: &DestinationPause) -> Result<(), StoreError> {
        self.store.put_pause(pause, &Write(()))
    }

    /// Ends the pause of `dest` (a probe went through). Returns it, if
    /// there was one.
    pub(crate) fn resume(&self, dest: &Destination) -> Result<Option<DestinationPause>, StoreError> {
        let pause = self.store.pause_of(dest)?;
        if let Some(p) = &pause {
            self.store.remove_pause(dest, &Write(()))?;
            info!(dest = %dest, reason = %p.reason, "destination resumed; alerts go out again");
        }
        Ok(pause)
    }

    /// A command came from `dest`: ends its pause and, for a Telegram chat,
    /// the pauses of the chat and its forum topics (rights are the chat's,
    /// so someone there may have fixed them). Returns the pauses lifted.
    pub(crate) fn resume_from_chat(&self, dest: &Destination) -> Result<Vec<DestinationPause>, StoreError> {
        let chat = dest.telegram_chat();
        let mut lifted = Vec::new();
        for p in self.store.pauses()? {
            if p.destination == *dest || (chat.is_some() && p.destination.telegram_chat() == chat) {
                lifted.extend(self.resume(&p.destination)?);
            }
        }
        Ok(lifted)
    }

    /// Ends the pause of every destination a config watch sends to: the
    /// config is the truth, so each start tries them again. Returns how many
    /// were lifted.
    pub(crate) fn resume_config_watches(&self) -> Result<usize, StoreError> {
        let mut lifted = 0;
        for p in self.store.pauses()? {
            let watched =
                self.store.subscriptions_of(&p.destination)?.iter().any(|s| matches!(s.origin, Origin::Config { .. }));
            if watched {
                self.store.remove_pause(&p.destination, &Write(()))?;
                info!(dest = %p.destination, reason = %p.reason, "config watch destination was paused; trying it again at start");
                lifted += 1;
            }
        }
        Ok(lifted)
    }

    /// Moves every subscription of `from` to `to` (a Telegram group became
    /// a supergroup with a new chat id). Returns how many moved.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn migrate(&self, from: &Destination, to: &Destination) -> Result<usize, StoreError> {
        let moved = self.store.subscriptions_of(from)?;
        // Mutes first: `put` applies the new chat's mutes to what moves in.
        for m in self.store.mutes_of(from)? {
            self.unmute(from, &m.item)?;
            self.store.put_mute(&Mute { destination: to.clone(), ..m }, &Write(()))?;
        }
        for sub in &moved {
            self.put(&Subscription { destination: to.clone(), ..sub.clone() })?;
        }
        Ok(moved.len())
    }

    /// Every stored subscription, chat-made and from watches.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn all(&self) -> Result<Vec<Subscription>, StoreError> {
        self.store.subscriptions()
    }

    /// Makes the config-origin subscriptions equal to `watches` (one
    /// subscription per watch and destination), matched by watch name and
    /// destination. Subscriptions made in chats are never touched.
    pub fn reconcile(&self, watches: &[Watch]) -> Result<Reconciled, StoreError> {
        let mut result = Reconciled::default();
        let existing: Vec<Subscription> =
            self.all()?.into_iter().filter(|s| matches!(s.origin, Origin::Config { .. })).collect();
        let mut kept = Vec::new();
        for w in watches {
            for dest in &w.to {
                let origin = Origin::Config { watch: w.name.clone() };
                let found = existing.iter().find(|s| s.origin == origin && s.destination == *dest);
                let id = found.map(|s| s.id).unwrap_or(SubId(self.store.next_id()?));
                let mut desired = Subscription::new(id, dest.clone(), watch_filter(w), origin)
                    .with_alerts(w.alerts.clone())
                    .with_reminders(w.reminders.clone())
                    .with_timezone(w.timezone)
                    .with_schedule_horizon(w.schedule_horizon)
                    .with_mentions(if is_discord(dest) { w.mentions.clone() } else { Vec::new() })
                    .with_loudness(w.quiet_hours, w.silent.clone())
                    .with_style(w.style)
                    .with_digest(w.digest);
                match found {
                    Some(old) => {
                        // Keep a subscription the platform disabled, unless
                        // the operator changed its watch.
                        let same = Subscription { enabled: old.enabled, ..desired.clone() };
                        if same == *old {
                            result.unchanged += 1;
                            desired.enabled = old.enabled;
                        } else {
                            info!(watch = %w.name, dest = %dest, "watch changed; updating its subscription");
                            self.put(&desired)?;
                            result.changed += 1;
                        }
                    }
                    None => {
                        info!(watch = %w.name, dest = %dest, "new watch; adding its subscription");
                        self.put(&desired)?;
                        result.added += 1;
                    }
                }
                kept.push(desired.id);
            }
        }
        for old in existing.iter().filter(|s| !kept.contains(&s.id)) {
            if let Origin::Config { watch } = &old.origin {
                info!(watch = %watch, dest = %old.destination, "watch removed from config; removing its subscription");
            }
            self.remove(old.id)?;
            result.removed += 1;
        }
        Ok(result)
    }
}

/// Destinations whose messages can ping Discord roles and users.
fn is_discord(dest: &Destination) -> bool {
    matches!(dest, Destination::Discord(_) | Destination::DiscordWebhook(_))
}

/// The filter a `[[watch]]` describes.
pub(crate) fn watch_filter(w: &Watch) -> Filter {
    Filter {
        kinds: w.kinds.clone(),
        types: w.types.clone(),
        agencies: w.agencies.clone(),
        programs: w.programs.clone(),
        exclude_types: w.exclude_types.clone(),
        exclude_agencies: w.exclude_agencies.clone(),
        exclude_programs: w.exclude_programs.clone(),
    }
}

/// The implicit watch when there are no tokens and no `[[watch]]`: every
/// alert of every item to the console.
pub fn default_console_watch(timezone: Tz, reminders: Vec<Duration>) -> Watch {
    Watch {
        name: DEFAULT_WATCH.to_string(),
        to: vec![Destination::Console],
        kinds: vec![],
        types: vec![],
        agencies: vec![],
        programs: vec![],
        exclude_types: vec![],
        exclude_agencies: vec![],
        exclude_programs: vec![],
        alerts: AlertKind::ALL.to_vec(),
        timezone,
        reminders,
        schedule_horizon: None,
        mentions: vec![],
        quiet_hours: None,
        silent: vec![],
        style: Style::Messages,
        digest: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::tests::sample_launch;
    use crate::store::Batch;

    fn chat(n: i64) -> Destination {
        Destination::Telegram(ChatId(n))
    }

    #[test]
    fn mutes_hold_for_the_chat_only_survive_restarts_and_follow_migrations() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let item = sample_launch();
        store.apply(&Batch { items: vec![item.clone()], ..Default::default() }).unwrap();
        let subs = Subscriptions::load(store.clone()).unwrap();
        let mine = Subscription::new(SubId(1), chat(1), Filter::default(), Origin::Chat);
        let watch = Subscription::new(SubId(2), chat(1), Filter::default(), Origin::Config { watch: "ops".into() });
        let other = Subscription::new(SubId(3), chat(2), Filter::default(), Origin::Chat);
        for s in [&mine, &watch, &other] {
            subs.put(s).unwrap();
        }
        let routed = |subs: &Subscriptions| subs.index().read().unwrap().route(&item, AlertKind::Status);
        assert!(subs.mute(&chat(1), &item, Utc::now()).unwrap());
        assert!(!subs.mute(&chat(1), &item, Utc::now()).unwrap(), "already muted");
        assert_eq!(routed(&subs), [SubId(2), SubId(3)], "the watch and the other chat still hear it");
        let later = Subscription::new(SubId(4), chat(1), Filter::default(), Origin::Chat);
        subs.put(&later).unwrap();
        assert_eq!(routed(&subs), [SubId(2), SubId(3)], "later subscriptions of the chat are muted too");

        let reloaded = Subscriptions::load(store.clone()).unwrap();
        assert_eq!(routed(&reloaded), [SubId(2), SubId(3)], "restored from the store");

        subs.migrate(&chat(1), &chat(-100)).unwrap();
        assert_eq!(subs.mutes_of(&chat(-100)).unwrap().len(), 1);
        assert!(subs.mutes_of(&chat(1)).unwrap().is_empty());
        assert_eq!(routed(&subs), [SubId(2), SubId(3)]);

        assert!(subs.unmute(&chat(-100), &item.id).unwrap());
        assert_eq!(routed(&subs), [SubId(1), SubId(2), SubId(3), SubId(4)]);

        subs.mute(&chat(2), &item, Utc::now()).unwrap();
        store.apply(&Batch { removed: vec![item.id.clone()], ..Default::default() }).unwrap();
        assert_eq!(subs.forget_gone_mutes().unwrap(), 1, "gone from the upcoming list: forgotten");
        assert!(store.mutes().unwrap().is_empty());
    }
}
