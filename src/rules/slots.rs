//! The index's building blocks: filters compiled to interned symbols,
//! postings lists of slots (mirrored in bitmaps when large), the slot → id
//! table and routing hits. Internal to `rules`: only `index` uses them.

use crate::rules::SubId;

/// Dimensions of the compiled filter, in anchor preference order: the first
/// non-empty one is where a subscription is indexed, since programs and
/// agencies are usually the most selective.
pub(super) const PROGRAMS: usize = 0;
pub(super) const AGENCIES: usize = 1;
pub(super) const TYPES: usize = 2;
pub(super) const KINDS: usize = 3;
pub(super) const EX_TYPES: usize = 4;
pub(super) const EX_AGENCIES: usize = 5;
pub(super) const EX_PROGRAMS: usize = 6;
pub(super) const NDIMS: usize = 7;
/// Each exclusion dimension and the item dimension it is checked against.
pub(super) const EXCLUSIONS: [(usize, usize); 3] =
    [(EX_PROGRAMS, PROGRAMS), (EX_AGENCIES, AGENCIES), (EX_TYPES, TYPES)];
/// `Index::meta` flag: the filter has `exclude_*` values. The low bits are
/// the alert kinds wanted.
pub(super) const EXCLUDES: u8 = 1 << 7;
/// A postings list also keeps a bitmap once it holds this many slots and at
/// least 1/64 of all slots (the bitmap is then no larger than the list).
pub(super) const BITMAP_MIN: usize = 64;
/// Below one candidate per this many slots, routing sorts the candidates
/// instead of using a bitmap over all slots.
pub(super) const SPARSE_RATIO: usize = 256;

/// How many symbols a compiled filter keeps in place before it needs a heap
/// allocation.
pub(super) const INLINE: usize = 6;

/// A subscription's filter reduced to interned symbols, sorted and deduped
/// per dimension, all dimensions back to back; `ends[d]` is where dimension
/// `d` ends. Most filters have a few values: those take 32 bytes and no
/// allocation, so a million of them fit in well under 300 MB and checking
/// one touches a single cache line.
#[derive(Debug, Clone)]
pub(super) enum Compiled {
    Inline {
        syms: [u32; INLINE],
        ends: [u8; NDIMS],
    },
    /// The `NDIMS` ends first, then the symbols.
    Heap(Box<[u32]>),
}

impl Compiled {
    pub(super) fn new(dims: [Vec<u32>; NDIMS]) -> Compiled {
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

    pub(super) fn dim(&self, d: usize) -> &[u32] {
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
    pub(super) fn anchor(&self) -> Option<usize> {
        (0..=KINDS).find(|d| !self.dim(*d).is_empty())
    }

    /// True when the anchor is its only include dimension: being listed
    /// under a symbol the item has is then a match, exclusions aside.
    pub(super) fn anchor_only(&self) -> bool {
        (0..=KINDS).filter(|d| !self.dim(*d).is_empty()).count() <= 1
    }

    pub(super) fn has_exclusions(&self) -> bool {
        EXCLUSIONS.iter().any(|(ex, _)| !self.dim(*ex).is_empty())
    }

    /// The full filter check against an item's symbols per dimension.
    pub(super) fn matches(&self, item: &ItemSyms) -> bool {
        let hit = |d: usize, have: &[u32]| self.dim(d).iter().any(|s| have.contains(s));
        (0..=KINDS).all(|d| self.dim(d).is_empty() || hit(d, &item[d]))
            && !EXCLUSIONS.iter().any(|(ex, d)| hit(*ex, &item[*d]))
    }
}

/// The symbols an item offers in each include dimension, deduped.
pub(super) type ItemSyms = [Vec<u32>; 4];

pub(super) fn set_bit(bits: &mut Vec<u64>, slot: u32) {
    let w = (slot >> 6) as usize;
    if w >= bits.len() {
        bits.resize(w + 1, 0);
    }
    bits[w] |= 1 << (slot & 63);
}

pub(super) fn clear_bit(bits: &mut [u64], slot: u32) {
    if let Some(w) = bits.get_mut((slot >> 6) as usize) {
        *w &= !(1 << (slot & 63));
    }
}

pub(super) fn has_bit(bits: &[u64], slot: u32) -> bool {
    bits.get((slot >> 6) as usize).is_some_and(|w| w & (1 << (slot & 63)) != 0)
}

/// Slots in ascending order; mirrored in a bitmap once the list is a
/// sizable share of all slots, so routing ORs words instead of visiting
/// slots one by one.
#[derive(Debug, Default)]
pub(super) struct SlotList {
    pub(super) slots: Vec<u32>,
    pub(super) bits: Option<Vec<u64>>,
}

impl SlotList {
    pub(super) fn insert(&mut self, slot: u32, all_slots: usize) {
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

    pub(super) fn remove(&mut self, slot: u32) {
        if let Ok(at) = self.slots.binary_search(&slot) {
            self.slots.remove(at);
            if let Some(bits) = &mut self.bits {
                clear_bit(bits, slot);
            }
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Sets the bits of its slots in `acc`.
    pub(super) fn or_into(&self, acc: &mut [u64]) {
        match &self.bits {
            Some(bits) => acc.iter_mut().zip(bits).for_each(|(a, b)| *a |= b),
            None => self.slots.iter().for_each(|s| acc[(s >> 6) as usize] |= 1 << (s & 63)),
        }
    }

    /// Clears the bits of its slots in `acc`.
    pub(super) fn clear_from(&self, acc: &mut [u64]) {
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
pub(super) struct Postings {
    pub(super) plain: SlotList,
    pub(super) checked: Vec<(u32, Compiled)>,
}

impl Postings {
    pub(super) fn insert(&mut self, slot: u32, c: &Compiled, all_slots: usize) {
        if c.anchor_only() {
            self.plain.insert(slot, all_slots);
        } else {
            let at = self.checked.partition_point(|(s, _)| *s < slot);
            if self.checked.get(at).is_none_or(|(s, _)| *s != slot) {
                self.checked.insert(at, (slot, c.clone()));
            }
        }
    }

    pub(super) fn remove(&mut self, slot: u32) {
        self.plain.remove(slot);
        if let Ok(at) = self.checked.binary_search_by_key(&slot, |(s, _)| *s) {
            self.checked.remove(at);
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.plain.is_empty() && self.checked.is_empty()
    }
}

/// The subscription id of each slot: offsets from the first id while they
/// fit in 32 bits (routing reads half as much), else in full.
#[derive(Debug, Default)]
pub(super) struct SlotIds {
    pub(super) base: u64,
    pub(super) narrow: Vec<u32>,
    pub(super) wide: Option<Vec<SubId>>,
}

impl SlotIds {
    pub(super) fn push(&mut self, id: SubId) {
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

    pub(super) fn get(&self, slot: u32) -> SubId {
        match &self.wide {
            Some(wide) => wide[slot as usize],
            None => SubId(self.base + self.narrow[slot as usize] as u64),
        }
    }

    pub(super) fn last(&self) -> Option<SubId> {
        match &self.wide {
            Some(wide) => wide.last().copied(),
            None => self.narrow.last().map(|d| SubId(self.base + *d as u64)),
        }
    }

    pub(super) fn all(&self) -> Vec<SubId> {
        (0..self.wide.as_ref().map_or(self.narrow.len(), Vec::len)).map(|s| self.get(s as u32)).collect()
    }

    /// The ids of `hits`, in slot order.
    pub(super) fn of(&self, hits: &Hits) -> Vec<SubId> {
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
pub(super) enum Hits {
    Sorted(Vec<u32>),
    Bitmap(Vec<u64>),
}

impl Hits {
    pub(super) fn count(&self) -> usize {
        match self {
            Hits::Sorted(v) => v.len(),
            Hits::Bitmap(b) => b.iter().map(|w| w.count_ones() as usize).sum(),
        }
    }
}

// Keep the dimension constants honest: the anchor loop relies on the four
// include dimensions coming first.
const _: () = assert!(PROGRAMS == 0 && AGENCIES == 1 && TYPES == 2 && KINDS == 3);
// A compiled filter of a few values is one 32-byte value, no allocation.
const _: () = assert!(std::mem::size_of::<Option<Compiled>>() == 32);
