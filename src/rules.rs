//! Subscriptions and matching. A subscription is a destination, a filter
//! and preferences; `Index` answers "which subscriptions want this alert?"
//! in time proportional to the candidates, not to all subscriptions.
//! Pure data and logic: it must not touch the store or the network (the
//! store persists `Subscription`s; callers rebuild or update the index).
//!
//! Filter semantics (DESIGN.md): within a dimension any value matches,
//! across dimensions all must match, an empty dimension matches everything,
//! then `exclude_*` removes what it names. Values are LL2 ids, names or
//! abbreviations, compared case-insensitively.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::item::{Item, Named};
use crate::types::{AlertKind, Destination, ItemKind};

/// Stable id of a subscription in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SubId(pub u64);

/// Who made a subscription. Config watches are reconciled by name at start-up
/// and never touch subscriptions made in chats, and the other way round.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "lowercase")]
pub enum Origin {
    /// A `[[watch]]` of config.toml, by its name.
    Config { watch: String },
    /// A chat command in the destination's chat or channel.
    Chat,
}

/// What a subscription selects. Values are kept as the user wrote them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Filter {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kinds: Vec<ItemKind>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub types: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub agencies: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub programs: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude_types: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude_agencies: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude_programs: Vec<String>,
}

/// A subscription: where alerts go, which ones, and how to present them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subscription {
    pub id: SubId,
    pub destination: Destination,
    pub filter: Filter,
    pub alerts: Vec<AlertKind>,
    /// T-minus reminder offsets, largest first. Empty: no reminders.
    #[serde(with = "crate::types::duration_secs")]
    pub reminders: Vec<Duration>,
    pub timezone: Tz,
    pub enabled: bool,
    pub origin: Origin,
}

impl Subscription {
    pub fn wants(&self, kind: AlertKind) -> bool {
        self.enabled && self.alerts.contains(&kind)
    }

    /// Full check of one subscription against one item and alert kind; the
    /// index uses it to confirm candidates, tests use it as the reference.
    pub fn matches(&self, item: &Item, kind: AlertKind) -> bool {
        self.wants(kind) && self.filter.matches(item)
    }
}

impl Filter {
    pub fn matches(&self, item: &Item) -> bool {
        let dims = Dims::of(item);
        let any = |wanted: &[String], have: &[String]| wanted.iter().any(|w| have.iter().any(|h| *h == normalize(w)));
        (self.kinds.is_empty() || self.kinds.contains(&item.kind()))
            && (self.types.is_empty() || any(&self.types, &dims.types))
            && (self.agencies.is_empty() || any(&self.agencies, &dims.agencies))
            && (self.programs.is_empty() || any(&self.programs, &dims.programs))
            && !any(&self.exclude_types, &dims.types)
            && !any(&self.exclude_agencies, &dims.agencies)
            && !any(&self.exclude_programs, &dims.programs)
    }

    /// The same filter with values normalized and sorted, so two filters
    /// that select the same items compare equal.
    pub fn normalized(&self) -> Filter {
        let norm = |v: &[String]| {
            let mut out: Vec<String> = v.iter().map(|s| normalize(s)).collect();
            out.sort();
            out.dedup();
            out
        };
        let mut kinds = self.kinds.clone();
        kinds.sort();
        kinds.dedup();
        Filter {
            kinds,
            types: norm(&self.types),
            agencies: norm(&self.agencies),
            programs: norm(&self.programs),
            exclude_types: norm(&self.exclude_types),
            exclude_agencies: norm(&self.exclude_agencies),
            exclude_programs: norm(&self.exclude_programs),
        }
    }

    pub fn is_everything(&self) -> bool {
        *self == Filter::default()
    }
}

/// How user values and LL2 names are compared: trimmed, lower case.
pub fn normalize(s: &str) -> String {
    s.trim().to_lowercase()
}

/// The tokens an item offers per dimension: each id, name and abbreviation.
struct Dims {
    kind: String,
    types: Vec<String>,
    agencies: Vec<String>,
    programs: Vec<String>,
}

impl Dims {
    fn of(item: &Item) -> Dims {
        let mut types = tokens(item.item_type.iter());
        // "launch" selects every launch and "event" every event, so
        // `/subscribe type launch` means what people expect.
        types.push(item.kind().as_str().to_string());
        Dims {
            kind: item.kind().as_str().to_string(),
            types,
            agencies: tokens(item.agencies.iter()),
            programs: tokens(item.programs.iter()),
        }
    }
}

fn tokens<'a>(named: impl Iterator<Item = &'a Named>) -> Vec<String> {
    let mut out = Vec::new();
    for n in named {
        if let Some(id) = n.id {
            out.push(id.to_string());
        }
        out.push(normalize(&n.name));
        if let Some(a) = n.abbrev.as_deref().filter(|a| !a.trim().is_empty()) {
            out.push(normalize(a));
        }
    }
    out
}

/// Dimensions of the compiled filter, in anchor preference order: the first
/// non-empty one is where a subscription is indexed, since programs and
/// agencies are usually the most selective.
const PROGRAMS: usize = 0;
const AGENCIES: usize = 1;
const TYPES: usize = 2;
const KINDS: usize = 3;
const EX_TYPES: usize = 4;
const EX_AGENCIES: usize = 5;
const EX_PROGRAMS: usize = 6;
const NDIMS: usize = 7;

/// A subscription's filter reduced to interned symbols: one allocation per
/// subscription, so a million of them fit in well under 300 MB.
#[derive(Debug)]
struct Compiled {
    id: SubId,
    /// Bit per `AlertKind` wanted.
    alerts: u8,
    /// Symbols of all dimensions back to back; `ends[d]` is where dimension
    /// `d` ends.
    syms: Box<[u32]>,
    ends: [u16; NDIMS],
    /// Reminder offsets in seconds.
    reminders: Box<[u32]>,
}

impl Compiled {
    fn dim(&self, d: usize) -> &[u32] {
        let start = if d == 0 { 0 } else { self.ends[d - 1] as usize };
        &self.syms[start..self.ends[d] as usize]
    }
}

/// Inverted index over subscriptions: (dimension, token) → subscriptions
/// anchored there, plus the subscriptions that select everything.
#[derive(Debug, Default)]
pub struct Index {
    symbols: HashMap<String, u32>,
    slots: Vec<Option<Compiled>>,
    by_id: HashMap<SubId, u32>,
    /// postings[anchor dimension][symbol] → slots.
    postings: [HashMap<u32, Vec<u32>>; 4],
    match_all: Vec<u32>,
    /// How many subscriptions use each reminder offset (seconds).
    offsets: BTreeMap<u32, usize>,
}

fn alert_bit(k: AlertKind) -> u8 {
    1 << (k as u8)
}

impl Index {
    pub fn new() -> Index {
        Index::default()
    }

    pub fn from_subscriptions<'a>(subs: impl IntoIterator<Item = &'a Subscription>) -> Index {
        let mut index = Index::new();
        for s in subs {
            index.insert(s);
        }
        index
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    fn intern(&mut self, s: &str) -> u32 {
        let key = normalize(s);
        let next = self.symbols.len() as u32;
        *self.symbols.entry(key).or_insert(next)
    }

    /// Adds or replaces a subscription. Disabled subscriptions are dropped
    /// from the index: they match nothing.
    pub fn insert(&mut self, sub: &Subscription) {
        self.remove(sub.id);
        if !sub.enabled {
            return;
        }
        let f = &sub.filter;
        let kinds: Vec<String> = f.kinds.iter().map(|k| k.as_str().to_string()).collect();
        let dims: [&[String]; NDIMS] =
            [&f.programs, &f.agencies, &f.types, &kinds, &f.exclude_types, &f.exclude_agencies, &f.exclude_programs];
        let mut syms = Vec::new();
        let mut ends = [0u16; NDIMS];
        for (d, values) in dims.iter().enumerate() {
            for v in values.iter() {
                let s = self.intern(v);
                syms.push(s);
            }
            ends[d] = syms.len().min(u16::MAX as usize) as u16;
        }
        let alerts = sub.alerts.iter().fold(0u8, |acc, k| acc | alert_bit(*k));
        let reminders: Box<[u32]> = sub.reminders.iter().map(|d| d.as_secs().min(u32::MAX as u64) as u32).collect();
        for r in reminders.iter() {
            *self.offsets.entry(*r).or_default() += 1;
        }
        let compiled = Compiled { id: sub.id, alerts, syms: syms.into_boxed_slice(), ends, reminders };
        let slot = self.slots.len() as u32;
        match (0..4).find(|d| !compiled.dim(*d).is_empty()) {
            Some(anchor) => {
                for s in compiled.dim(anchor) {
                    self.postings[anchor].entry(*s).or_default().push(slot);
                }
            }
            None => self.match_all.push(slot),
        }
        self.slots.push(Some(compiled));
        self.by_id.insert(sub.id, slot);
    }

    /// Removes a subscription. Its postings stay as tombstones and are
    /// skipped, so removal is O(1) even for popular tokens.
    pub fn remove(&mut self, id: SubId) {
        if let Some(slot) = self.by_id.remove(&id)
            && let Some(old) = self.slots[slot as usize].take()
        {
            for r in old.reminders.iter() {
                if let Some(n) = self.offsets.get_mut(r) {
                    *n -= 1;
                    if *n == 0 {
                        self.offsets.remove(r);
                    }
                }
            }
        }
    }

    /// Every reminder offset some enabled subscription wants.
    pub fn reminder_offsets(&self) -> Vec<Duration> {
        self.offsets.keys().map(|s| Duration::from_secs(*s as u64)).collect()
    }

    /// The subscriptions that want the `offset` reminder of `item`.
    pub fn route_reminder(&self, item: &Item, offset: Duration) -> Vec<SubId> {
        let secs = offset.as_secs().min(u32::MAX as u64) as u32;
        let mut subs = self.route(item, AlertKind::Reminder);
        subs.retain(|id| {
            let slot = self.by_id.get(id).and_then(|s| self.slots[*s as usize].as_ref());
            slot.is_some_and(|c| c.reminders.contains(&secs))
        });
        subs
    }

    /// The subscriptions that want an alert of `kind` about `item`, in
    /// subscription id order.
    pub fn route(&self, item: &Item, kind: AlertKind) -> Vec<SubId> {
        let dims = Dims::of(item);
        let lookup = |v: &[String]| -> Vec<u32> { v.iter().filter_map(|t| self.symbols.get(t).copied()).collect() };
        let item_syms: [Vec<u32>; 4] = [
            lookup(&dims.programs),
            lookup(&dims.agencies),
            lookup(&dims.types),
            lookup(std::slice::from_ref(&dims.kind)),
        ];
        let bit = alert_bit(kind);
        let mut out: Vec<SubId> = Vec::new();
        let consider = |slot: u32, out: &mut Vec<SubId>| {
            let Some(c) = &self.slots[slot as usize] else { return };
            if c.alerts & bit == 0 {
                return;
            }
            let hit = |d: usize, item_d: &[u32]| c.dim(d).iter().any(|s| item_d.contains(s));
            let ok = (0..4).all(|d| c.dim(d).is_empty() || hit(d, &item_syms[d]))
                && !hit(EX_TYPES, &item_syms[TYPES])
                && !hit(EX_AGENCIES, &item_syms[AGENCIES])
                && !hit(EX_PROGRAMS, &item_syms[PROGRAMS]);
            if ok {
                out.push(c.id);
            }
        };
        for slot in &self.match_all {
            consider(*slot, &mut out);
        }
        for (anchor, syms) in item_syms.iter().enumerate() {
            for s in syms {
                if let Some(list) = self.postings[anchor].get(s) {
                    for slot in list {
                        consider(*slot, &mut out);
                    }
                }
            }
        }
        // An item can offer the same subscription twice (its id and its name
        // both match), so sort and dedup.
        out.sort_unstable();
        out.dedup();
        out
    }
}

// Keep the dimension constants honest: the anchor loop relies on the four
// include dimensions coming first.
const _: () = assert!(PROGRAMS == 0 && AGENCIES == 1 && TYPES == 2 && KINDS == 3);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::tests::sample_launch;

    fn sub(id: u64, filter: Filter) -> Subscription {
        Subscription {
            id: SubId(id),
            destination: Destination::Console,
            filter,
            alerts: AlertKind::ALL.to_vec(),
            reminders: vec![],
            timezone: chrono_tz::UTC,
            enabled: true,
            origin: Origin::Chat,
        }
    }

    fn starlink() -> Item {
        let mut item = sample_launch();
        item.programs = vec![Named::new(Some(25), "Starlink", None)];
        item
    }

    #[test]
    fn dimensions_ids_names_and_exclusions() {
        let item = starlink();
        let cases: Vec<(Filter, bool)> = vec![
            (Filter::default(), true),
            (Filter { agencies: vec!["SpaceX".into()], ..Default::default() }, true),
            (Filter { agencies: vec!["spacex".into()], ..Default::default() }, true),
            (Filter { agencies: vec!["121".into()], ..Default::default() }, true),
            (Filter { agencies: vec!["SpX".into()], ..Default::default() }, true),
            (Filter { agencies: vec!["NASA".into()], ..Default::default() }, false),
            (Filter { agencies: vec!["NASA".into(), "SpaceX".into()], ..Default::default() }, true),
            (Filter { types: vec!["launch".into()], ..Default::default() }, true),
            (Filter { types: vec!["Communications".into()], ..Default::default() }, true),
            (Filter { types: vec!["Flyby".into()], ..Default::default() }, false),
            (Filter { kinds: vec![ItemKind::Event], ..Default::default() }, false),
            (Filter { kinds: vec![ItemKind::Launch], agencies: vec!["SpaceX".into()], ..Default::default() }, true),
            (Filter { agencies: vec!["SpaceX".into()], programs: vec!["Artemis".into()], ..Default::default() }, false),
            (
                Filter {
                    agencies: vec!["SpaceX".into()],
                    exclude_programs: vec!["Starlink".into()],
                    ..Default::default()
                },
                false,
            ),
            (Filter { exclude_programs: vec!["25".into()], ..Default::default() }, false),
            (Filter { exclude_agencies: vec!["NASA".into()], ..Default::default() }, true),
        ];
        let index = Index::from_subscriptions(
            cases.iter().enumerate().map(|(i, (f, _))| sub(i as u64, f.clone())).collect::<Vec<_>>().iter(),
        );
        let routed = index.route(&item, AlertKind::Status);
        for (i, (f, want)) in cases.iter().enumerate() {
            assert_eq!(f.matches(&item), *want, "filter {f:?}");
            assert_eq!(routed.contains(&SubId(i as u64)), *want, "index for {f:?}");
        }
    }

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
}
