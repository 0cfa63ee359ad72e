//! The routing index: which subscriptions want an alert about an item, in
//! time proportional to the candidates. It keeps compiled copies of the
//! subscriptions it was given, and which subscriptions muted which item;
//! the subscription API keeps both in step with the store. Routing also
//! says where each routed subscription delivers (`targets`), so a fan-out
//! to a million chats never reads a subscription back from the store.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use super::slots::*;
use super::subscription::{Dims, Filter, SubId, Subscription, normalize};
use crate::detect::{Alert, after_liftoff};
use crate::item::Item;
use crate::types::{AlertKind, Destination, ItemId};

/// Inverted index over subscriptions: (dimension, token) → subscriptions
/// anchored there, plus the subscriptions without include dimensions, plus
/// (exclusion dimension, token) → subscriptions that exclude it.
///
/// Each subscription lives in a slot; slots are kept in subscription id
/// order (the store hands subscriptions out in id order and allocates
/// growing ids, and `from_subscriptions` sorts), and every postings list is
/// in slot order. Routing a popular item ORs the matching lists into a
/// bitmap over the slots (large lists are bitmaps already), ANDs the bitmap
/// of the alert kind, checks the few candidates with more than one include
/// dimension, clears the excluded slots and reads the bitmap out: sorted and
/// deduped without a sort. Few candidates are checked one by one and sorted.
/// A replaced subscription keeps its slot; a removed one leaves an empty
/// slot (taken again if its id comes back) until empty slots outnumber the
/// live ones and the slots are compacted.
#[derive(Debug, Default)]
pub struct Index {
    symbols: HashMap<String, u32>,
    /// Per slot: the subscription id, its compiled filter while live, its
    /// alert kinds and `EXCLUDES` (0 when empty), its reminder set.
    ids: SlotIds,
    /// Per slot: where the subscription delivers (what an outbox entry
    /// needs besides the id).
    destinations: Vec<Destination>,
    slots: Vec<Option<Compiled>>,
    meta: Vec<u8>,
    reminder_of: Vec<u32>,
    /// Per `AlertKind`: a bitmap of the live slots that want it.
    wants: [Vec<u64>; AlertKind::CHOOSABLE.len()],
    /// Every slot, live or empty, by subscription id.
    by_id: HashMap<SubId, u32>,
    live: usize,
    /// A slot was added out of id order: routing must sort its output.
    unordered: bool,
    /// postings[anchor dimension][symbol].
    postings: [HashMap<u32, Postings>; 4],
    match_all: Postings,
    /// excluded[i][symbol]: the slots whose `EXCLUSIONS[i].0` names it.
    excluded: [HashMap<u32, SlotList>; 3],
    /// Distinct reminder offset sets (seconds, ascending), shared, and the
    /// slots using each (none listed for the empty set).
    reminder_sets: Vec<Box<[u32]>>,
    reminder_slots: Vec<SlotList>,
    reminder_set_ids: HashMap<Box<[u32]>, u32>,
    /// How many subscriptions use each reminder offset (seconds).
    offsets: BTreeMap<u32, usize>,
    /// Item → the subscriptions that must not hear about it (a chat muted
    /// it). Few entries: looked up once per routed item.
    muted: HashMap<ItemId, Vec<SubId>>,
    /// Per slot: its schedule horizon in seconds, `NO_HORIZON` for none;
    /// and the slots of each horizon, shortest first.
    horizon: Vec<u32>,
    horizons: BTreeMap<u32, SlotList>,
}

/// `Index::horizon` of a subscription without a schedule horizon.
const NO_HORIZON: u32 = u32::MAX;

/// One routed subscription and where it delivers: all an outbox entry
/// needs to know about the subscription.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Target {
    /// The subscription.
    pub sub: SubId,
    /// Where it delivers.
    pub destination: Destination,
}

fn alert_bit(k: AlertKind) -> u8 {
    1 << (k as u8)
}

impl Index {
    /// An empty index.
    pub fn new() -> Index {
        Index::default()
    }

    /// An index of `subs` (a later duplicate id replaces an earlier one).
    pub fn from_subscriptions<'a>(subs: impl IntoIterator<Item = &'a Subscription>) -> Index {
        // In id order, so the slots are too (stable: a later duplicate id
        // still replaces an earlier one).
        let mut subs: Vec<&Subscription> = subs.into_iter().collect();
        subs.sort_by_key(|s| s.id);
        let mut index = Index::new();
        for s in subs {
            index.insert(s);
        }
        index
    }

    /// How many subscriptions are indexed (enabled ones only).
    pub fn len(&self) -> usize {
        self.live
    }

    /// Whether no subscription is indexed.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    fn intern(&mut self, s: &str) -> u32 {
        let key = normalize(s);
        let next = self.symbols.len() as u32;
        *self.symbols.entry(key).or_insert(next)
    }

    fn intern_reminders(&mut self, reminders: &[Duration]) -> u32 {
        let mut secs: Vec<u32> = reminders.iter().map(|d| d.as_secs().min(u32::MAX as u64) as u32).collect();
        secs.sort_unstable();
        secs.dedup();
        if let Some(id) = self.reminder_set_ids.get(secs.as_slice()) {
            return *id;
        }
        let id = self.reminder_sets.len() as u32;
        self.reminder_sets.push(secs.clone().into_boxed_slice());
        self.reminder_slots.push(SlotList::default());
        self.reminder_set_ids.insert(secs.into_boxed_slice(), id);
        id
    }

    fn compile(&mut self, f: &Filter) -> Compiled {
        let kinds: Vec<String> = f.kinds.iter().map(|k| k.as_str().to_string()).collect();
        let dims: [&[String]; NDIMS] =
            [&f.programs, &f.agencies, &f.types, &kinds, &f.exclude_types, &f.exclude_agencies, &f.exclude_programs];
        let dims = dims.map(|values| {
            let mut dim: Vec<u32> = values.iter().map(|v| self.intern(v)).collect();
            dim.sort_unstable();
            dim.dedup();
            dim
        });
        Compiled::new(dims)
    }

    /// Lists slot `slot` (its `meta` and `reminder_of` set) under `c`.
    fn post(&mut self, slot: u32, c: &Compiled) {
        let all = self.slots.len();
        let alerts = self.meta[slot as usize];
        match c.anchor() {
            None => self.match_all.insert(slot, c, alerts, all),
            Some(a) => {
                for s in c.dim(a) {
                    self.postings[a].entry(*s).or_default().insert(slot, c, alerts, all);
                }
            }
        }
        for (i, (ex, _)) in EXCLUSIONS.iter().enumerate() {
            for s in c.dim(*ex) {
                self.excluded[i].entry(*s).or_default().insert(slot, all);
            }
        }
        for (k, wants) in self.wants.iter_mut().enumerate() {
            if alerts & (1 << k) != 0 {
                set_bit(wants, slot);
            }
        }
        let set = self.reminder_of[slot as usize] as usize;
        if !self.reminder_sets[set].is_empty() {
            self.reminder_slots[set].insert(slot, all);
        }
        for r in self.reminder_sets[set].iter() {
            *self.offsets.entry(*r).or_default() += 1;
        }
        let horizon = self.horizon[slot as usize];
        if horizon != NO_HORIZON {
            self.horizons.entry(horizon).or_default().insert(slot, all);
        }
    }

    /// Undoes `post` and empties the slot's `meta`.
    fn unpost(&mut self, slot: u32, c: &Compiled) {
        match c.anchor() {
            None => self.match_all.remove(slot),
            Some(a) => {
                for s in c.dim(a) {
                    if let Some(p) = self.postings[a].get_mut(s) {
                        p.remove(slot);
                        if p.is_empty() {
                            self.postings[a].remove(s);
                        }
                    }
                }
            }
        }
        for (i, (ex, _)) in EXCLUSIONS.iter().enumerate() {
            for s in c.dim(*ex) {
                if let Some(list) = self.excluded[i].get_mut(s) {
                    list.remove(slot);
                    if list.is_empty() {
                        self.excluded[i].remove(s);
                    }
                }
            }
        }
        for wants in self.wants.iter_mut() {
            clear_bit(wants, slot);
        }
        let set = self.reminder_of[slot as usize] as usize;
        self.reminder_slots[set].remove(slot);
        for r in self.reminder_sets[set].iter() {
            if let Some(n) = self.offsets.get_mut(r) {
                *n -= 1;
                if *n == 0 {
                    self.offsets.remove(r);
                }
            }
        }
        let horizon = self.horizon[slot as usize];
        if let Some(list) = self.horizons.get_mut(&horizon) {
            list.remove(slot);
            if list.is_empty() {
                self.horizons.remove(&horizon);
            }
        }
        self.meta[slot as usize] = 0;
    }

    /// Fills slot `slot` and lists it.
    fn fill(&mut self, slot: u32, c: Compiled, alerts: u8, reminders: u32, horizon: u32) {
        self.meta[slot as usize] = alerts | if c.has_exclusions() { EXCLUDES } else { 0 };
        self.reminder_of[slot as usize] = reminders;
        self.horizon[slot as usize] = horizon;
        self.post(slot, &c);
        self.slots[slot as usize] = Some(c);
    }

    fn new_slot(&mut self, id: SubId) -> u32 {
        let slot = u32::try_from(self.slots.len()).expect("fewer than 2^32 subscription slots");
        self.ids.push(id);
        self.destinations.push(Destination::Console);
        self.slots.push(None);
        self.meta.push(0);
        self.reminder_of.push(0);
        self.horizon.push(NO_HORIZON);
        self.by_id.insert(id, slot);
        slot
    }

    /// Adds or replaces a subscription. Disabled subscriptions are dropped
    /// from the index: they match nothing.
    pub fn insert(&mut self, sub: &Subscription) {
        if !sub.enabled {
            self.remove(sub.id);
            return;
        }
        let compiled = self.compile(&sub.filter);
        let alerts = sub.alerts.iter().fold(0u8, |acc, k| acc | alert_bit(*k));
        let reminders = self.intern_reminders(&sub.reminders);
        let horizon = sub.schedule_horizon.map_or(NO_HORIZON, |h| h.as_secs().min(u64::from(NO_HORIZON - 1)) as u32);
        let slot = match self.by_id.get(&sub.id) {
            Some(slot) => *slot,
            None => {
                if self.ids.last().is_some_and(|last| last > sub.id) {
                    self.unordered = true;
                }
                self.new_slot(sub.id)
            }
        };
        match self.slots[slot as usize].take() {
            Some(old) => self.unpost(slot, &old),
            None => self.live += 1,
        }
        self.destinations[slot as usize] = sub.destination.clone();
        self.fill(slot, compiled, alerts, reminders, horizon);
    }

    /// Keeps alerts and reminders about `item` from subscription `id`.
    pub(crate) fn mute(&mut self, item: &ItemId, id: SubId) {
        let subs = self.muted.entry(item.clone()).or_default();
        if !subs.contains(&id) {
            subs.push(id);
        }
    }

    /// Undoes `mute` for `item` and every subscription in `ids`.
    pub(crate) fn unmute(&mut self, item: &ItemId, ids: &[SubId]) {
        if let Some(subs) = self.muted.get_mut(item) {
            subs.retain(|s| !ids.contains(s));
            if subs.is_empty() {
                self.muted.remove(item);
            }
        }
    }

    /// `ids` without the subscriptions that muted `item`.
    fn unmuted(&self, item: &Item, mut ids: Vec<SubId>) -> Vec<SubId> {
        if let Some(muted) = self.muted.get(&item.id) {
            ids.retain(|id| !muted.contains(id));
        }
        ids
    }

    /// Removes a subscription. Its slot stays, empty, for when it comes back.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn remove(&mut self, id: SubId) {
        self.muted.retain(|_, subs| {
            subs.retain(|s| *s != id);
            !subs.is_empty()
        });
        let Some(slot) = self.by_id.get(&id).copied() else { return };
        if let Some(old) = self.slots[slot as usize].take() {
            self.unpost(slot, &old);
            self.live -= 1;
            if self.slots.len() - self.live > self.live.max(1024) {
                self.compact();
            }
        }
    }

    /// Drops empty slots and puts the live ones back in id order.
    fn compact(&mut self) {
        let ids = std::mem::take(&mut self.ids).all();
        let slots = std::mem::take(&mut self.slots);
        let meta = std::mem::take(&mut self.meta);
        let reminder_of = std::mem::take(&mut self.reminder_of);
        let horizon = std::mem::take(&mut self.horizon);
        let destinations = std::mem::take(&mut self.destinations);
        let mut live: Vec<(SubId, Compiled, u8, u32, u32, Destination)> = ids
            .into_iter()
            .zip(slots)
            .zip(meta.into_iter().zip(reminder_of).zip(horizon))
            .zip(destinations)
            .filter_map(|(((id, c), ((m, r), h)), d)| c.map(|c| (id, c, m & !EXCLUDES, r, h, d)))
            .collect();
        live.sort_by_key(|(id, ..)| *id);
        self.by_id = HashMap::with_capacity(live.len());
        self.postings = Default::default();
        self.match_all = Postings::default();
        self.excluded = Default::default();
        self.wants = Default::default();
        self.reminder_slots.iter_mut().for_each(|l| *l = SlotList::default());
        self.offsets.clear();
        self.horizons.clear();
        self.unordered = false;
        for (id, c, alerts, reminders, horizon, destination) in live {
            let slot = self.new_slot(id);
            self.destinations[slot as usize] = destination;
            self.fill(slot, c, alerts, reminders, horizon);
        }
    }

    /// Whether some enabled subscription wants alerts of `kind` (the news
    /// feed polls only while one wants `news`).
    pub(crate) fn wants(&self, kind: AlertKind) -> bool {
        self.wants[kind as usize].iter().any(|w| *w != 0)
    }

    /// Every reminder offset some enabled subscription wants.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn reminder_offsets(&self) -> Vec<Duration> {
        self.offsets.keys().map(|s| Duration::from_secs(*s as u64)).collect()
    }

    /// The subscriptions that want the `offset` reminder of `item`.
    pub fn route_reminder(&self, item: &Item, offset: Duration) -> Vec<SubId> {
        let secs = offset.as_secs().min(u32::MAX as u64) as u32;
        let wants = |set: usize| self.reminder_sets[set].contains(&secs);
        let mut hits = self.hits(item, alert_bit(AlertKind::Reminder));
        match &mut hits {
            Hits::Sorted(slots) => slots.retain(|s| wants(self.reminder_of[*s as usize] as usize)),
            Hits::Bitmap(bits) => {
                let mut mask = vec![0u64; bits.len()];
                for (set, list) in self.reminder_slots.iter().enumerate() {
                    if wants(set) {
                        list.or_into(&mut mask);
                    }
                }
                bits.iter_mut().zip(&mask).for_each(|(b, m)| *b &= m);
            }
        }
        self.unmuted(item, self.ids_of(&hits))
    }

    /// The subscriptions that want an alert of `kind` about `item`, in
    /// subscription id order.
    pub fn route(&self, item: &Item, kind: AlertKind) -> Vec<SubId> {
        self.unmuted(item, self.ids_of(&self.hits(item, alert_bit(kind))))
    }

    /// The subscriptions that hear at least one change of `alert` (see
    /// `Alert::visible`: the kinds they want, schedule changes within their
    /// horizon, a correction after lift-off only with its status), in
    /// subscription id order.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn route_alert(&self, alert: &Alert) -> Vec<SubId> {
        let schedule = alert_bit(AlertKind::Schedule);
        let mut mask = alert.changes.iter().fold(0u8, |acc, c| acc | alert_bit(c.kind()));
        if after_liftoff(&alert.item, alert.detected_at) {
            // The correction rides with the status: it brings no one in.
            mask &= !schedule;
        }
        let mut hits = self.hits(&alert.item, mask);
        if mask & schedule != 0 && !self.horizons.is_empty() {
            // Slots whose horizon the schedule change misses stay only if
            // they want another change of the alert.
            let other = mask & !schedule;
            let near = alert.changes.iter().filter_map(|c| c.nearest_future_date(alert.detected_at)).min();
            let too_short = |h: u32| near.is_none_or(|d| Duration::from_secs(u64::from(h)) < d);
            let keep = |slot: u32| {
                let h = self.horizon[slot as usize];
                h == NO_HORIZON || !too_short(h) || self.meta[slot as usize] & other != 0
            };
            match &mut hits {
                Hits::Sorted(slots) => slots.retain(|s| keep(*s)),
                Hits::Bitmap(bits) => {
                    for (_, list) in self.horizons.iter().take_while(|(h, _)| too_short(**h)) {
                        for slot in list.slots.iter().filter(|s| !keep(**s)) {
                            clear_bit(bits, *slot);
                        }
                    }
                }
            }
        }
        self.unmuted(&alert.item, self.ids_of(&hits))
    }

    /// Where `subs` (routed by `route` or `route_reminder`) deliver, one
    /// target per destination, in the order of each destination's first
    /// subscription: that one leads, and delivery merges every subscription
    /// of the destination that wants the alert into its one message (see
    /// `deliver::merge`), so overlapping watches and subscriptions send it
    /// once. Ids the index does not hold (removed since) are left out, as
    /// they would no longer be routed.
    pub fn targets(&self, subs: &[SubId]) -> Vec<Target> {
        // Borrowed keys: a fan-out to a million chats hashes pointers'
        // worth of memory, not copies of the destinations.
        let mut seen: HashSet<&Destination> = HashSet::new();
        subs.iter()
            .filter_map(|id| {
                let slot = *self.by_id.get(id)? as usize;
                self.slots[slot].as_ref()?;
                Some((*id, &self.destinations[slot]))
            })
            // Calendar mirrors are kept by the calendar sync, not sent.
            .filter(|(_, d)| d.takes_messages() && seen.insert(*d))
            .map(|(sub, d)| Target { sub, destination: d.clone() })
            .collect()
    }

    fn ids_of(&self, hits: &Hits) -> Vec<SubId> {
        let mut out = self.ids.of(hits);
        if self.unordered {
            out.sort_unstable();
        }
        out
    }

    /// Clears in `acc` the slots that want no alert kind in `kinds`.
    fn keep_wanted(&self, acc: &mut [u64], kinds: u8) {
        let mut wanted = self.wants.iter().enumerate().filter(|(k, _)| kinds & (1 << k) != 0).map(|(_, w)| w);
        // One kind (every route but an alert of several changes) is a
        // plain AND, which the compiler vectorizes.
        let Some(first) = wanted.next() else {
            acc.fill(0);
            return;
        };
        let mut mask: std::borrow::Cow<'_, [u64]> = std::borrow::Cow::Borrowed(first);
        for more in wanted {
            let mask = mask.to_mut();
            if mask.len() < more.len() {
                mask.resize(more.len(), 0);
            }
            mask.iter_mut().zip(more).for_each(|(m, w)| *m |= w);
        }
        let covered = mask.len().min(acc.len());
        acc[..covered].iter_mut().zip(mask.iter()).for_each(|(a, m)| *a &= m);
        // A kind's bitmap ends at its last slot: the slots after want none.
        acc[covered..].fill(0);
    }

    /// The slots that want an alert of any kind in `kinds` (a mask of
    /// `alert_bit`s) about `item`.
    fn hits(&self, item: &Item, kinds: u8) -> Hits {
        let dims = Dims::of(item);
        let lookup = |v: &[String]| -> Vec<u32> {
            let mut syms: Vec<u32> = v.iter().filter_map(|t| self.symbols.get(t).copied()).collect();
            syms.sort_unstable();
            syms.dedup();
            syms
        };
        let item_syms: ItemSyms = [
            lookup(&dims.programs),
            lookup(&dims.agencies),
            lookup(&dims.types),
            lookup(std::slice::from_ref(&dims.kind)),
        ];
        let mut postings: Vec<&Postings> = vec![&self.match_all];
        for (d, syms) in item_syms.iter().enumerate() {
            postings.extend(syms.iter().filter_map(|s| self.postings[d].get(s)));
        }
        let full_check = |slot: u32| self.slots[slot as usize].as_ref().is_some_and(|c| c.matches(&item_syms));
        let candidates: usize = postings.iter().map(|p| p.plain.slots.len() + p.checked.len()).sum();

        if candidates.saturating_mul(SPARSE_RATIO) < self.slots.len() {
            // Few candidates: check each, then sort.
            let mut hits: Vec<u32> = Vec::with_capacity(candidates);
            for p in &postings {
                for slot in &p.plain.slots {
                    let meta = self.meta[*slot as usize];
                    if meta & kinds != 0 && (meta & EXCLUDES == 0 || full_check(*slot)) {
                        hits.push(*slot);
                    }
                }
                let checked = p.checked.iter().filter(|e| e.alerts & kinds != 0 && e.filter.matches(&item_syms));
                hits.extend(checked.map(|e| e.slot));
            }
            hits.sort_unstable();
            hits.dedup();
            return Hits::Sorted(hits);
        }

        // Many: the union of the plain lists, of those the ones that want
        // `kinds`, plus the checked candidates that pass, minus the excluded.
        let mut acc = vec![0u64; self.slots.len().div_ceil(64)];
        for p in &postings {
            p.plain.or_into(&mut acc);
        }
        self.keep_wanted(&mut acc, kinds);
        for p in &postings {
            for e in &p.checked {
                if e.alerts & kinds != 0 && !has_bit(&acc, e.slot) && e.filter.matches(&item_syms) {
                    acc[(e.slot >> 6) as usize] |= 1 << (e.slot & 63);
                }
            }
        }
        for (i, (_, d)) in EXCLUSIONS.iter().enumerate() {
            for list in item_syms[*d].iter().filter_map(|s| self.excluded[i].get(s)) {
                list.clear_from(&mut acc);
            }
        }
        Hits::Bitmap(acc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::tests::sample_launch;
    use crate::detect::{AlertId, Change};
    use crate::item::Named;
    use crate::rules::subscription::tests::{starlink, sub};
    use crate::types::ItemKind;

    #[test]
    fn alert_kinds_and_disabled_and_removal() {
        let item = starlink();
        let mut only_status = sub(1, Filter::default());
        only_status.alerts = vec![AlertKind::Status];
        let mut disabled = sub(2, Filter::default());
        disabled.enabled = false;
        let mut index = Index::from_subscriptions([&only_status, &disabled, &sub(3, Filter::default())]);
        assert_eq!(index.route(&item, AlertKind::Status), [SubId(1), SubId(3)]);
        assert_eq!(index.route(&item, AlertKind::New), [SubId(3)]);
        index.remove(SubId(3));
        assert_eq!(index.route(&item, AlertKind::Status), [SubId(1)]);
        assert_eq!(index.len(), 1);
    }

    #[test]
    fn muted_items_skip_the_muting_subscriptions() {
        let item = starlink();
        let hour = Duration::from_secs(3600);
        let mut a = sub(1, Filter::default());
        a.reminders = vec![hour];
        let mut b = sub(2, Filter::default());
        b.reminders = vec![hour];
        let mut index = Index::from_subscriptions([&a, &b]);
        index.mute(&item.id, SubId(1));
        assert_eq!(index.route(&item, AlertKind::Status), [SubId(2)]);
        assert_eq!(index.route_reminder(&item, hour), [SubId(2)]);
        assert_eq!(index.route(&sample_launch_event(), AlertKind::Status), [SubId(1), SubId(2)], "other items");
        index.unmute(&item.id, &[SubId(1)]);
        assert_eq!(index.route(&item, AlertKind::Status), [SubId(1), SubId(2)]);
        index.mute(&item.id, SubId(2));
        index.remove(SubId(2));
        index.insert(&b);
        assert_eq!(index.route(&item, AlertKind::Status), [SubId(1), SubId(2)], "removal forgets the mute");
    }

    fn sample_launch_event() -> Item {
        let mut other = starlink();
        other.id = crate::types::ItemId::new(ItemKind::Event, "9");
        other
    }

    #[test]
    fn alerts_route_by_any_wanted_kind_and_the_schedule_horizon() {
        let item = starlink();
        let t = item.when.unwrap();
        let now = t - chrono::Duration::days(20);
        let mut moved = item.clone();
        moved.when = Some(t + chrono::Duration::days(1));
        let schedule = crate::detect::detect(Some(&item), &moved).remove(0);
        let status = Change::Status { old: None, new: item.status.clone() };
        let five_days = Some(Duration::from_secs(5 * 86_400));
        let subs = [
            sub(1, Filter::default()).with_alerts(vec![AlertKind::Schedule]),
            sub(2, Filter::default()).with_alerts(vec![AlertKind::Schedule]).with_schedule_horizon(five_days),
            sub(3, Filter::default()).with_schedule_horizon(five_days),
            sub(4, Filter::default()).with_alerts(vec![AlertKind::Webcast]),
        ];
        // Many copies, so that routing takes the bitmap path as well.
        let many: Vec<Subscription> = (0..2000u64)
            .map(|i| {
                let base = &subs[(i % 4) as usize];
                Subscription { id: SubId(i + 1), ..base.clone() }
            })
            .collect();
        for set in [&subs[..], &many[..]] {
            let index = Index::from_subscriptions(set);
            for changes in [vec![schedule.clone()], vec![schedule.clone(), status.clone()], vec![status.clone()]] {
                let alert = Alert::new(AlertId(1), moved.clone(), changes, now);
                let want: Vec<SubId> = set.iter().filter(|s| s.routes(&alert)).map(|s| s.id).collect();
                assert_eq!(index.route_alert(&alert), want, "{:?}", alert.changes);
            }
        }
        let alert = Alert::new(AlertId(1), moved.clone(), vec![schedule.clone()], now);
        assert_eq!(Index::from_subscriptions(&subs).route_alert(&alert), [SubId(1)]);
        let alert = Alert::new(AlertId(1), moved, vec![schedule, status], now);
        assert_eq!(Index::from_subscriptions(&subs).route_alert(&alert), [SubId(1), SubId(3)]);
    }

    #[test]
    fn targets_carry_each_destination_without_the_store() {
        use crate::types::ChatId;
        let item = starlink();
        let chat = |c: i64| Destination::Telegram(ChatId(c));
        let mut a = sub(1, Filter::default());
        a.destination = chat(10);
        let mut b = sub(2, Filter::default());
        b.destination = chat(20);
        let mut index = Index::from_subscriptions([&a, &b]);
        let target = |id: u64, d: Destination| Target { sub: SubId(id), destination: d };
        let routed = index.route(&item, AlertKind::Status);
        assert_eq!(index.targets(&routed), [target(1, chat(10)), target(2, chat(20))]);
        // A migrated chat: the replaced subscription delivers to the new one.
        b.destination = chat(21);
        index.insert(&b);
        index.remove(SubId(1));
        assert_eq!(index.targets(&routed), [target(2, chat(21))], "a removed id has no target");
        // Compaction keeps each slot's destination with its subscription.
        for id in 3..2100 {
            let mut s = sub(id, Filter::default());
            s.destination = chat(id as i64 * 10);
            index.insert(&s);
        }
        for id in 3..2000 {
            index.remove(SubId(id));
        }
        let routed = index.route(&item, AlertKind::Status);
        let targets = index.targets(&routed);
        assert_eq!(targets.len(), 101);
        assert!(
            targets
                .iter()
                .all(|t| t.destination == if t.sub == SubId(2) { chat(21) } else { chat(t.sub.0 as i64 * 10) })
        );
    }

    #[test]
    fn targets_keep_one_per_destination_led_by_its_first_subscription() {
        use crate::types::{ChatId, ThreadId};
        let item = starlink();
        let at = |id: u64, d: Destination| {
            let mut s = sub(id, Filter::default());
            s.destination = d;
            s
        };
        let group = Destination::Telegram(ChatId(10));
        let topic = Destination::TelegramTopic(ChatId(10), ThreadId(3));
        let other = Destination::Telegram(ChatId(20));
        let subs = [at(1, group.clone()), at(2, other.clone()), at(3, group.clone()), at(4, topic.clone())];
        let index = Index::from_subscriptions(&subs);
        let routed = index.route(&item, AlertKind::Status);
        assert_eq!(routed.len(), 4);
        let target = |id: u64, d: &Destination| Target { sub: SubId(id), destination: d.clone() };
        assert_eq!(
            index.targets(&routed),
            [target(1, &group), target(2, &other), target(4, &topic)],
            "the group once, led by #1; its topic is a destination of its own"
        );
    }

    #[test]
    fn reminders_route_by_offset() {
        let item = starlink();
        let hour = Duration::from_secs(3600);
        let ten = Duration::from_secs(600);
        let mut a = sub(1, Filter::default());
        a.reminders = vec![hour, ten];
        let mut b = sub(2, Filter::default());
        b.reminders = vec![hour];
        let mut index = Index::from_subscriptions([&a, &b]);
        assert_eq!(index.reminder_offsets(), [ten, hour]);
        assert_eq!(index.route_reminder(&item, hour), [SubId(1), SubId(2)]);
        assert_eq!(index.route_reminder(&item, ten), [SubId(1)]);
        index.remove(SubId(1));
        assert_eq!(index.reminder_offsets(), [hour]);
    }

    /// Index internals at a scale the tests above do not reach: postings
    /// kept as bitmaps, the sorted path for few candidates, filters too big
    /// to keep in place, empty slots reused and compacted, ids inserted out
    /// of order. Always checked against `Subscription::matches`.
    #[test]
    fn bitmaps_sparse_path_compaction_and_id_order_agree_with_scan() {
        use std::collections::BTreeMap;

        use crate::types::ItemId;

        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        let named = |id: i64, name: &str, abbrev: Option<&str>| Named::new(Some(id), name, abbrev.map(String::from));
        let starlink = starlink();
        let mut nasa_event = sample_launch();
        nasa_event.id = ItemId::new(ItemKind::Event, "365");
        nasa_event.name = "Boeing Starliner-1 Docking".into();
        nasa_event.item_type = Some(named(2, "Docking", None));
        nasa_event.agencies = vec![named(44, "NASA", None), named(80, "Boeing", Some("BA"))];
        nasa_event.programs = vec![named(17, "International Space Station", Some("ISS"))];
        let mut rare = sample_launch();
        rare.name = "Rare Corp | Suborbital".into();
        rare.agencies = vec![named(999, "Rare Corp", Some("RC"))];
        rare.item_type = Some(Named::new(None, "Suborbital", None));
        let items = [starlink, nasa_event, rare];

        let agencies = ["SpaceX", "spacex", "121", "SpX", "NASA", "44", "Boeing", "BA", "ESA"];
        let programs = ["Starlink", "25", "ISS", "17", "Artemis"];
        let types = ["launch", "event", "Communications", "docking", "2", "Flyby"];
        let some = |next: &mut dyn FnMut(usize) -> usize, pool: &[&str]| -> Vec<String> {
            (0..1 + next(2)).map(|_| pool[next(pool.len())].to_string()).collect()
        };
        let gen_sub = |next: &mut dyn FnMut(usize) -> usize, id: u64, popular: bool| -> Subscription {
            let mut f = Filter::default();
            if !popular {
                // Selects nothing of `items`: fills the slots.
                f.agencies = vec![format!("Filler {}", next(40))];
            } else {
                match next(8) {
                    0 => f.agencies = some(next, &agencies),
                    1 => f.programs = some(next, &programs),
                    2 => f.types = some(next, &types),
                    3 => {
                        f.agencies = some(next, &agencies);
                        f.exclude_programs = some(next, &programs);
                    }
                    4 => f.kinds = vec![if next(2) == 0 { ItemKind::Launch } else { ItemKind::Event }],
                    5 => {
                        f.types = some(next, &types);
                        f.agencies = some(next, &agencies);
                        f.exclude_types = some(next, &types);
                    }
                    6 => {
                        // More values than fit in place.
                        f.agencies = agencies.iter().map(|a| a.to_string()).collect();
                        f.exclude_programs = vec!["Starlink".into(), "ISS".into()];
                    }
                    _ => {}
                }
            }
            let mut s = sub(id, f);
            s.alerts = AlertKind::ALL.into_iter().filter(|_| next(3) > 0).collect();
            s.reminders = [3600, 600].into_iter().filter(|_| next(2) == 0).map(Duration::from_secs).collect();
            s
        };
        let rare_subs = |id: u64| -> Vec<Subscription> {
            let f = |agencies: &[&str], exclude_types: &[&str]| Filter {
                agencies: agencies.iter().map(|s| s.to_string()).collect(),
                exclude_types: exclude_types.iter().map(|s| s.to_string()).collect(),
                ..Default::default()
            };
            [f(&["Rare Corp"], &[]), f(&["999", "Nobody"], &[]), f(&["rc"], &["suborbital"]), f(&["RC"], &["Flyby"])]
                .into_iter()
                .enumerate()
                .map(|(i, f)| sub(id + i as u64, f))
                .collect()
        };

        let check = |index: &Index, subs: &BTreeMap<u64, Subscription>, round: &str| {
            assert_eq!(index.len(), subs.len(), "{round}");
            for item in &items {
                for kind in AlertKind::ALL {
                    let want: Vec<SubId> = subs.values().filter(|s| s.matches(item, kind)).map(|s| s.id).collect();
                    assert_eq!(index.route(item, kind), want, "{round}: {} {kind}", item.name);
                }
                for offset in [3600, 600].map(Duration::from_secs) {
                    let want: Vec<SubId> = subs
                        .values()
                        .filter(|s| s.matches(item, AlertKind::Reminder) && s.reminders.contains(&offset))
                        .map(|s| s.id)
                        .collect();
                    assert_eq!(index.route_reminder(item, offset), want, "{round}: {} {offset:?}", item.name);
                }
            }
        };
        let path = |index: &Index, item: &Item| match index.hits(item, alert_bit(AlertKind::Status)) {
            Hits::Sorted(_) => "sorted",
            Hits::Bitmap(_) => "bitmap",
        };

        // 4,000 subscriptions filling slots and a few for the rare item,
        // given in shuffled order: routing the rare item takes the sorted path.
        let mut subs: BTreeMap<u64, Subscription> = BTreeMap::new();
        for id in (0..4000).map(|n| n * 2) {
            subs.insert(id, gen_sub(&mut next, id, false));
        }
        for s in rare_subs(10_001) {
            subs.insert(s.id.0, s);
        }
        let mut shuffled: Vec<&Subscription> = subs.values().collect();
        for i in (1..shuffled.len()).rev() {
            shuffled.swap(i, next(i + 1));
        }
        let mut index = Index::from_subscriptions(shuffled);
        assert!(!index.unordered);
        assert_eq!(path(&index, &items[2]), "sorted");
        check(&index, &subs, "built");

        // Half of them replaced in place by popular filters: large postings
        // lists get bitmaps and popular items take the bitmap path.
        for id in (0..4000).step_by(2).map(|n| n * 2) {
            let s = gen_sub(&mut next, id, true);
            index.insert(&s);
            subs.insert(id, s);
        }
        let lists = || index.postings.iter().flat_map(|p| p.values()).chain([&index.match_all]);
        assert!(lists().filter(|p| p.plain.bits.is_some()).count() > 3);
        assert!(index.slots.iter().flatten().any(|c| matches!(c, Compiled::Heap(_))));
        assert_eq!(path(&index, &items[0]), "bitmap");
        check(&index, &subs, "replaced");

        // Remove most: empty slots are reused by returning ids, then
        // compacted away.
        let slots = index.slots.len();
        let mut removed = Vec::new();
        for id in (0..4000).rev().map(|n| n * 2).filter(|n| n % 3 != 0) {
            index.remove(SubId(id));
            removed.push(subs.remove(&id).unwrap());
        }
        assert!(index.slots.len() < slots, "compacted");
        check(&index, &subs, "removed");
        // The last one removed has a small id, and its slot is still there.
        let back = removed.pop().unwrap();
        index.insert(&back);
        subs.insert(back.id.0, back);
        assert!(!index.unordered, "a returning id takes its slot back");
        check(&index, &subs, "returned");

        // New ids below the largest one: routing sorts.
        for id in (1..600).step_by(2) {
            let s = gen_sub(&mut next, id, true);
            index.insert(&s);
            subs.insert(id, s);
        }
        assert!(index.unordered);
        check(&index, &subs, "out of order");
        let mut disabled = subs.remove(&1).unwrap();
        disabled.enabled = false;
        index.insert(&disabled);
        check(&index, &subs, "disabled");

        // Ids too far apart for 32-bit offsets.
        assert!(index.ids.wide.is_none());
        for id in [u64::MAX - 7, 1 << 40] {
            let s = gen_sub(&mut next, id, true);
            index.insert(&s);
            subs.insert(id, s);
        }
        assert!(index.ids.wide.is_some());
        check(&index, &subs, "wide ids");
    }
}
