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
    /// An enabled subscription to every alert kind, without reminders, with
    /// times in UTC; the `with_*` methods set the rest.
    pub fn new(id: SubId, destination: Destination, filter: Filter, origin: Origin) -> Subscription {
        Subscription {
            id,
            destination,
            filter,
            alerts: AlertKind::ALL.to_vec(),
            reminders: Vec::new(),
            timezone: chrono_tz::UTC,
            enabled: true,
            origin,
        }
    }

    pub fn with_alerts(self, alerts: Vec<AlertKind>) -> Subscription {
        Subscription { alerts, ..self }
    }

    /// T-minus reminder offsets, largest first.
    pub fn with_reminders(self, reminders: Vec<Duration>) -> Subscription {
        Subscription { reminders, ..self }
    }

    pub fn with_timezone(self, timezone: Tz) -> Subscription {
        Subscription { timezone, ..self }
    }

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
/// Each exclusion dimension and the item dimension it is checked against.
const EXCLUSIONS: [(usize, usize); 3] = [(EX_PROGRAMS, PROGRAMS), (EX_AGENCIES, AGENCIES), (EX_TYPES, TYPES)];
/// `Index::meta` flag: the filter has `exclude_*` values. The low bits are
/// the alert kinds wanted.
const EXCLUDES: u8 = 1 << 7;
/// A postings list also keeps a bitmap once it holds this many slots and at
/// least 1/64 of all slots (the bitmap is then no larger than the list).
const BITMAP_MIN: usize = 64;
/// Below one candidate per this many slots, routing sorts the candidates
/// instead of using a bitmap over all slots.
const SPARSE_RATIO: usize = 256;

/// How many symbols a compiled filter keeps in place before it needs a heap
/// allocation.
const INLINE: usize = 6;

/// A subscription's filter reduced to interned symbols, sorted and deduped
/// per dimension, all dimensions back to back; `ends[d]` is where dimension
/// `d` ends. Most filters have a few values: those take 32 bytes and no
/// allocation, so a million of them fit in well under 300 MB and checking
/// one touches a single cache line.
#[derive(Debug, Clone)]
enum Compiled {
    Inline {
        syms: [u32; INLINE],
        ends: [u8; NDIMS],
    },
    /// The `NDIMS` ends first, then the symbols.
    Heap(Box<[u32]>),
}

impl Compiled {
    fn new(dims: [Vec<u32>; NDIMS]) -> Compiled {
        let total: usize = dims.iter().map(Vec::len).sum();
        if total <= INLINE {
            let (mut syms, mut ends, mut n) = ([0; INLINE], [0; NDIMS], 0);
            for (d, dim) in dims.iter().enumerate() {
                syms[n..n + dim.len()].copy_from_slice(dim);
                n += dim.len();
                ends[d] = n as u8;
            }
            Compiled::Inline { syms, ends }
        } else {
            let mut all = vec![0; NDIMS];
            for (d, dim) in dims.iter().enumerate() {
                all.extend_from_slice(dim);
                all[d] = (all.len() - NDIMS) as u32;
            }
            Compiled::Heap(all.into_boxed_slice())
        }
    }

    fn dim(&self, d: usize) -> &[u32] {
        match self {
            Compiled::Inline { syms, ends } => {
                let start = if d == 0 { 0 } else { ends[d - 1] as usize };
                &syms[start..ends[d] as usize]
            }
            Compiled::Heap(all) => {
                let (ends, syms) = all.split_at(NDIMS);
                let start = if d == 0 { 0 } else { ends[d - 1] as usize };
                &syms[start..ends[d] as usize]
            }
        }
    }

    /// The include dimension it is listed under; `None`: it has no include
    /// dimension and is listed with the subscriptions that select everything.
    fn anchor(&self) -> Option<usize> {
        (0..=KINDS).find(|d| !self.dim(*d).is_empty())
    }

    /// True when the anchor is its only include dimension: being listed
    /// under a symbol the item has is then a match, exclusions aside.
    fn anchor_only(&self) -> bool {
        (0..=KINDS).filter(|d| !self.dim(*d).is_empty()).count() <= 1
    }

    fn has_exclusions(&self) -> bool {
        EXCLUSIONS.iter().any(|(ex, _)| !self.dim(*ex).is_empty())
    }

    /// The full filter check against an item's symbols per dimension.
    fn matches(&self, item: &ItemSyms) -> bool {
        let hit = |d: usize, have: &[u32]| self.dim(d).iter().any(|s| have.contains(s));
        (0..=KINDS).all(|d| self.dim(d).is_empty() || hit(d, &item[d]))
            && !EXCLUSIONS.iter().any(|(ex, d)| hit(*ex, &item[*d]))
    }
}

/// The symbols an item offers in each include dimension, deduped.
type ItemSyms = [Vec<u32>; 4];

fn set_bit(bits: &mut Vec<u64>, slot: u32) {
    let w = (slot >> 6) as usize;
    if w >= bits.len() {
        bits.resize(w + 1, 0);
    }
    bits[w] |= 1 << (slot & 63);
}

fn clear_bit(bits: &mut [u64], slot: u32) {
    if let Some(w) = bits.get_mut((slot >> 6) as usize) {
        *w &= !(1 << (slot & 63));
    }
}

fn has_bit(bits: &[u64], slot: u32) -> bool {
    bits.get((slot >> 6) as usize).is_some_and(|w| w & (1 << (slot & 63)) != 0)
}

/// Slots in ascending order; mirrored in a bitmap once the list is a
/// sizable share of all slots, so routing ORs words instead of visiting
/// slots one by one.
#[derive(Debug, Default)]
struct SlotList {
    slots: Vec<u32>,
    bits: Option<Vec<u64>>,
}

impl SlotList {
    fn insert(&mut self, slot: u32, all_slots: usize) {
        let at = match self.slots.last() {
            Some(last) if *last >= slot => self.slots.partition_point(|s| *s < slot),
            _ => self.slots.len(),
        };
        if self.slots.get(at) == Some(&slot) {
            return;
        }
        self.slots.insert(at, slot);
        match &mut self.bits {
            Some(bits) => set_bit(bits, slot),
            None if self.slots.len() >= BITMAP_MIN && self.slots.len() * 64 >= all_slots => {
                let mut bits = Vec::new();
                for s in &self.slots {
                    set_bit(&mut bits, *s);
                }
                self.bits = Some(bits);
            }
            None => {}
        }
    }

    fn remove(&mut self, slot: u32) {
        if let Ok(at) = self.slots.binary_search(&slot) {
            self.slots.remove(at);
            if let Some(bits) = &mut self.bits {
                clear_bit(bits, slot);
            }
        }
    }

    fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Sets the bits of its slots in `acc`.
    fn or_into(&self, acc: &mut [u64]) {
        match &self.bits {
            Some(bits) => acc.iter_mut().zip(bits).for_each(|(a, b)| *a |= b),
            None => self.slots.iter().for_each(|s| acc[(s >> 6) as usize] |= 1 << (s & 63)),
        }
    }

    /// Clears the bits of its slots in `acc`.
    fn clear_from(&self, acc: &mut [u64]) {
        match &self.bits {
            Some(bits) => acc.iter_mut().zip(bits).for_each(|(a, b)| *a &= !b),
            None => self.slots.iter().for_each(|s| clear_bit(acc, *s)),
        }
    }
}

/// The subscriptions anchored at one (dimension, symbol): those for which
/// that is the whole include filter, and those with more to check, each
/// with a copy of its filter so checking them reads the list in order.
#[derive(Debug, Default)]
struct Postings {
    plain: SlotList,
    checked: Vec<(u32, Compiled)>,
}

impl Postings {
    fn insert(&mut self, slot: u32, c: &Compiled, all_slots: usize) {
        if c.anchor_only() {
            self.plain.insert(slot, all_slots);
        } else {
            let at = self.checked.partition_point(|(s, _)| *s < slot);
            if self.checked.get(at).is_none_or(|(s, _)| *s != slot) {
                self.checked.insert(at, (slot, c.clone()));
            }
        }
    }

    fn remove(&mut self, slot: u32) {
        self.plain.remove(slot);
        if let Ok(at) = self.checked.binary_search_by_key(&slot, |(s, _)| *s) {
            self.checked.remove(at);
        }
    }

    fn is_empty(&self) -> bool {
        self.plain.is_empty() && self.checked.is_empty()
    }
}

/// The subscription id of each slot: offsets from the first id while they
/// fit in 32 bits (routing reads half as much), else in full.
#[derive(Debug, Default)]
struct SlotIds {
    base: u64,
    narrow: Vec<u32>,
    wide: Option<Vec<SubId>>,
}

impl SlotIds {
    fn push(&mut self, id: SubId) {
        if self.wide.is_none() {
            if self.narrow.is_empty() {
                self.base = id.0;
            }
            if let Some(d) = id.0.checked_sub(self.base).and_then(|d| u32::try_from(d).ok()) {
                self.narrow.push(d);
                return;
            }
            let base = self.base;
            self.wide = Some(std::mem::take(&mut self.narrow).into_iter().map(|d| SubId(base + d as u64)).collect());
        }
        if let Some(wide) = &mut self.wide {
            wide.push(id);
        }
    }

    fn get(&self, slot: u32) -> SubId {
        match &self.wide {
            Some(wide) => wide[slot as usize],
            None => SubId(self.base + self.narrow[slot as usize] as u64),
        }
    }

    fn last(&self) -> Option<SubId> {
        match &self.wide {
            Some(wide) => wide.last().copied(),
            None => self.narrow.last().map(|d| SubId(self.base + *d as u64)),
        }
    }

    fn all(&self) -> Vec<SubId> {
        (0..self.wide.as_ref().map_or(self.narrow.len(), Vec::len)).map(|s| self.get(s as u32)).collect()
    }

    /// The ids of `hits`, in slot order.
    fn of(&self, hits: &Hits) -> Vec<SubId> {
        let bits = match hits {
            Hits::Sorted(slots) => return slots.iter().map(|s| self.get(*s)).collect(),
            Hits::Bitmap(bits) => bits,
        };
        let mut out = Vec::with_capacity(hits.count());
        // One loop per representation, so the hot loop is a load and a push.
        match &self.wide {
            None => {
                let (base, narrow) = (self.base, self.narrow.as_slice());
                for (w, word) in bits.iter().enumerate() {
                    let mut x = *word;
                    while x != 0 {
                        out.push(SubId(base + narrow[(w << 6) | x.trailing_zeros() as usize] as u64));
                        x &= x - 1;
                    }
                }
            }
            Some(wide) => {
                for (w, word) in bits.iter().enumerate() {
                    let mut x = *word;
                    while x != 0 {
                        out.push(wide[(w << 6) | x.trailing_zeros() as usize]);
                        x &= x - 1;
                    }
                }
            }
        }
        out
    }
}

/// The slots that want an alert, in slot order without duplicates.
enum Hits {
    Sorted(Vec<u32>),
    Bitmap(Vec<u64>),
}

impl Hits {
    fn count(&self) -> usize {
        match self {
            Hits::Sorted(v) => v.len(),
            Hits::Bitmap(b) => b.iter().map(|w| w.count_ones() as usize).sum(),
        }
    }
}

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
    slots: Vec<Option<Compiled>>,
    meta: Vec<u8>,
    reminder_of: Vec<u32>,
    /// Per `AlertKind`: a bitmap of the live slots that want it.
    wants: [Vec<u64>; 5],
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
}

fn alert_bit(k: AlertKind) -> u8 {
    1 << (k as u8)
}

impl Index {
    pub fn new() -> Index {
        Index::default()
    }

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

    pub fn len(&self) -> usize {
        self.live
    }

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
        match c.anchor() {
            None => self.match_all.insert(slot, c, all),
            Some(a) => {
                for s in c.dim(a) {
                    self.postings[a].entry(*s).or_default().insert(slot, c, all);
                }
            }
        }
        for (i, (ex, _)) in EXCLUSIONS.iter().enumerate() {
            for s in c.dim(*ex) {
                self.excluded[i].entry(*s).or_default().insert(slot, all);
            }
        }
        let alerts = self.meta[slot as usize];
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
        self.meta[slot as usize] = 0;
    }

    /// Fills slot `slot` and lists it.
    fn fill(&mut self, slot: u32, c: Compiled, alerts: u8, reminders: u32) {
        self.meta[slot as usize] = alerts | if c.has_exclusions() { EXCLUDES } else { 0 };
        self.reminder_of[slot as usize] = reminders;
        self.post(slot, &c);
        self.slots[slot as usize] = Some(c);
    }

    fn new_slot(&mut self, id: SubId) -> u32 {
        let slot = u32::try_from(self.slots.len()).expect("fewer than 2^32 subscription slots");
        self.ids.push(id);
        self.slots.push(None);
        self.meta.push(0);
        self.reminder_of.push(0);
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
        self.fill(slot, compiled, alerts, reminders);
    }

    /// Removes a subscription. Its slot stays, empty, for when it comes back.
    pub fn remove(&mut self, id: SubId) {
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
        let mut live: Vec<(SubId, Compiled, u8, u32)> = ids
            .into_iter()
            .zip(slots)
            .zip(meta.into_iter().zip(reminder_of))
            .filter_map(|((id, c), (m, r))| c.map(|c| (id, c, m & !EXCLUDES, r)))
            .collect();
        live.sort_by_key(|(id, ..)| *id);
        self.by_id = HashMap::with_capacity(live.len());
        self.postings = Default::default();
        self.match_all = Postings::default();
        self.excluded = Default::default();
        self.wants = Default::default();
        self.reminder_slots.iter_mut().for_each(|l| *l = SlotList::default());
        self.offsets.clear();
        self.unordered = false;
        for (id, c, alerts, reminders) in live {
            let slot = self.new_slot(id);
            self.fill(slot, c, alerts, reminders);
        }
    }

    /// Every reminder offset some enabled subscription wants.
    pub fn reminder_offsets(&self) -> Vec<Duration> {
        self.offsets.keys().map(|s| Duration::from_secs(*s as u64)).collect()
    }

    /// The subscriptions that want the `offset` reminder of `item`.
    pub fn route_reminder(&self, item: &Item, offset: Duration) -> Vec<SubId> {
        let secs = offset.as_secs().min(u32::MAX as u64) as u32;
        let wants = |set: usize| self.reminder_sets[set].contains(&secs);
        let mut hits = self.hits(item, AlertKind::Reminder);
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
        self.ids_of(&hits)
    }

    /// The subscriptions that want an alert of `kind` about `item`, in
    /// subscription id order.
    pub fn route(&self, item: &Item, kind: AlertKind) -> Vec<SubId> {
        self.ids_of(&self.hits(item, kind))
    }

    fn ids_of(&self, hits: &Hits) -> Vec<SubId> {
        let mut out = self.ids.of(hits);
        if self.unordered {
            out.sort_unstable();
        }
        out
    }

    /// The slots that want an alert of `kind` about `item`.
    fn hits(&self, item: &Item, kind: AlertKind) -> Hits {
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
        let bit = alert_bit(kind);
        let wanted = |slot: u32| self.meta[slot as usize] & bit != 0;
        let full_check = |slot: u32| self.slots[slot as usize].as_ref().is_some_and(|c| c.matches(&item_syms));
        let candidates: usize = postings.iter().map(|p| p.plain.slots.len() + p.checked.len()).sum();

        if candidates.saturating_mul(SPARSE_RATIO) < self.slots.len() {
            // Few candidates: check each, then sort.
            let mut hits: Vec<u32> = Vec::with_capacity(candidates);
            for p in &postings {
                for slot in &p.plain.slots {
                    let meta = self.meta[*slot as usize];
                    if meta & bit != 0 && (meta & EXCLUDES == 0 || full_check(*slot)) {
                        hits.push(*slot);
                    }
                }
                hits.extend(p.checked.iter().filter(|(s, c)| wanted(*s) && c.matches(&item_syms)).map(|(s, _)| *s));
            }
            hits.sort_unstable();
            hits.dedup();
            return Hits::Sorted(hits);
        }

        // Many: the union of the plain lists, of those the ones that want
        // `kind`, plus the checked candidates that pass, minus the excluded.
        let mut acc = vec![0u64; self.slots.len().div_ceil(64)];
        for p in &postings {
            p.plain.or_into(&mut acc);
        }
        let wants = &self.wants[kind as usize];
        for (i, a) in acc.iter_mut().enumerate() {
            *a &= wants.get(i).copied().unwrap_or(0);
        }
        for p in &postings {
            for (slot, c) in &p.checked {
                if !has_bit(&acc, *slot) && wanted(*slot) && c.matches(&item_syms) {
                    acc[(slot >> 6) as usize] |= 1 << (slot & 63);
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

// Keep the dimension constants honest: the anchor loop relies on the four
// include dimensions coming first.
const _: () = assert!(PROGRAMS == 0 && AGENCIES == 1 && TYPES == 2 && KINDS == 3);
// A compiled filter of a few values is one 32-byte value, no allocation.
const _: () = assert!(std::mem::size_of::<Option<Compiled>>() == 32);

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
        let path = |index: &Index, item: &Item| match index.hits(item, AlertKind::Status) {
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
