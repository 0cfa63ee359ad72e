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
        // The dimension bounds are read once: routing checks thousands of
        // filters per item, and `dim` would decode them for each dimension.
        match self {
            Compiled::Inline { syms, ends } => matches_parts(syms, ends.map(usize::from), item),
            Compiled::Heap(all) => {
                let (ends, syms) = all.split_at(NDIMS);
                matches_parts(syms, std::array::from_fn(|d| ends[d] as usize), item)
            }
        }
    }
}

/// `Compiled::matches` over the symbols and dimension ends of a filter.
fn matches_parts(syms: &[u32], ends: [usize; NDIMS], item: &ItemSyms) -> bool {
    let hit = |d: usize, have: &[u32]| {
        let start = if d == 0 { 0 } else { ends[d - 1] };
        // Both sides hold a few symbols: a plain loop beats `contains`,
        // whose vectorized search costs more to set up than it saves.
        syms[start..ends[d]].iter().any(|s| have.iter().any(|h| h == s))
    };
    let empty = |d: usize| ends[d] == if d == 0 { 0 } else { ends[d - 1] };
    (0..=KINDS).all(|d| empty(d) || hit(d, &item[d])) && !EXCLUSIONS.iter().any(|(ex, d)| hit(*ex, &item[*d]))
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
/// with its alert kinds and a copy of its filter so checking them reads the
/// list in order (not `Index::meta` and the slots, a cache miss each).
#[derive(Debug, Default)]
pub(super) struct Postings {
    pub(super) plain: SlotList,
    pub(super) checked: Vec<Checked>,
}

/// A subscription listed in `Postings::checked`. The alert kinds fit in
/// the padding after the slot: the entry is no larger for carrying them.
#[derive(Debug)]
pub(super) struct Checked {
    pub(super) slot: u32,
    /// `Index::meta` of the slot without `EXCLUDES`: the alert kinds.
    pub(super) alerts: u8,
    pub(super) filter: Compiled,
}

impl Postings {
    pub(super) fn insert(&mut self, slot: u32, c: &Compiled, alerts: u8, all_slots: usize) {
        if c.anchor_only() {
            self.plain.insert(slot, all_slots);
        } else {
            let at = self.checked.partition_point(|e| e.slot < slot);
            if self.checked.get(at).is_none_or(|e| e.slot != slot) {
                self.checked.insert(at, Checked { slot, alerts: alerts & !EXCLUDES, filter: c.clone() });
            }
        }
    }

    pub(super) fn remove(&mut self, slot: u32) {
        self.plain.remove(slot);
        if let Ok(at) = self.checked.binary_search_by_key(&slot, |e| e.slot) {
            self.checked.remove(at);
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.plain.is_empty() && self.checked.is_empty()
    }
}

/// The subscription id of each slot: offsets from the first id while they
/// fit in 32 bits (routing reads half as much), else in full.
///
/// `run_start` has an entry per 64 slots (a word of a routing bitmap): the
/// offset of its first slot while those slots hold consecutive ids, as they
/// do when the store hands out growing ids, else `NOT_RUN`. Reading a word
/// out then adds the bit position to one offset read from this short,
/// sequentially read table instead of loading an offset per slot from
/// `narrow` (4 bytes a slot, a cache miss every 16 slots). A removed
/// subscription keeps its slot and so its run; only ids never indexed or
/// compacted away break one.
#[derive(Debug, Default)]
pub(super) struct SlotIds {
    pub(super) base: u64,
    pub(super) narrow: Vec<u32>,
    pub(super) run_start: Vec<u32>,
    pub(super) wide: Option<Vec<SubId>>,
}

/// `SlotIds::run_start` of 64 slots whose ids are not consecutive (or that
/// start at the largest offset, which cannot begin a run).
const NOT_RUN: u32 = u32::MAX;

impl SlotIds {
    pub(super) fn push(&mut self, id: SubId) {
        if self.wide.is_none() {
            if self.narrow.is_empty() {
                self.base = id.0;
            }
            if let Some(d) = id.0.checked_sub(self.base).and_then(|d| u32::try_from(d).ok()) {
                if self.narrow.len().is_multiple_of(64) {
                    self.run_start.push(d);
                } else if self.narrow.last().and_then(|prev| prev.checked_add(1)) != Some(d) {
                    *self.run_start.last_mut().expect("a word per 64 slots") = NOT_RUN;
                }
                self.narrow.push(d);
                return;
            }
            let base = self.base;
            self.wide = Some(std::mem::take(&mut self.narrow).into_iter().map(|d| SubId(base + d as u64)).collect());
            self.run_start = Vec::new();
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
        // Words are read out into a buffer on the stack, appended a few
        // hundred ids at a time: the per-slot loop then keeps everything in
        // registers (pushing one by one reloads the vector's length and
        // capacity) and the copies are long enough to run at full speed.
        let mut buf = [SubId(0); READ_OUT_BUF];
        let mut n = 0;
        for (w, word) in bits.iter().enumerate().filter(|(_, word)| **word != 0) {
            if n > READ_OUT_BUF - 64 - RUN_STEP {
                out.extend_from_slice(&buf[..n]);
                n = 0;
            }
            let first = w << 6;
            n = match &self.wide {
                None if self.run_start[w] != NOT_RUN => {
                    let start = self.base + u64::from(self.run_start[w]);
                    read_run(&mut buf, n, *word, start)
                }
                None => {
                    let narrow = &self.narrow[first..];
                    read_out(&mut buf, n, *word, |bit| SubId(self.base + u64::from(narrow[bit])))
                }
                Some(wide) => {
                    let wide = &wide[first..];
                    read_out(&mut buf, n, *word, |bit| wide[bit])
                }
            };
        }
        out.extend_from_slice(&buf[..n]);
        out
    }
}

/// Ids `SlotIds::of` reads out before appending them (a power of two).
const READ_OUT_BUF: usize = 512;

/// Ids `read_run` writes per step.
const RUN_STEP: usize = 4;

/// `read_out` for slots of consecutive ids from `start`. Writes
/// `RUN_STEP` ids per step whatever is left, so only one branch in a step
/// depends on the data; the writes past the last id land in room the
/// caller leaves (`RUN_STEP` more than for `read_out`) and are overwritten
/// by the next word.
#[inline(always)]
fn read_run(buf: &mut [SubId; READ_OUT_BUF], n: usize, mut word: u64, start: u64) -> usize {
    let count = word.count_ones() as usize;
    let mut i = 0;
    while i < count {
        for k in 0..RUN_STEP {
            // Past the last bit, `trailing_zeros` is 64: a harmless value.
            buf[(n + i + k) & (READ_OUT_BUF - 1)] = SubId(start + u64::from(word.trailing_zeros()));
            word &= word.wrapping_sub(1);
        }
        i += RUN_STEP;
    }
    n + count
}

/// Writes `id(bit)` for each set bit of `word`, lowest first, to `buf`
/// from `n` on (which has room for 64); returns where it stopped.
#[inline(always)]
fn read_out(buf: &mut [SubId; READ_OUT_BUF], mut n: usize, mut word: u64, id: impl Fn(usize) -> SubId) -> usize {
    while word != 0 {
        // In bounds as the caller leaves room; the mask lets the compiler
        // see it and drop the check.
        buf[n & (READ_OUT_BUF - 1)] = id(word.trailing_zeros() as usize);
        n += 1;
        word &= word - 1;
    }
    n
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
const _: () = assert!(READ_OUT_BUF.is_power_of_two() && READ_OUT_BUF >= 128);
// The alert kinds of a checked entry ride in the slot's padding.
const _: () = assert!(std::mem::size_of::<Checked>() == std::mem::size_of::<(u32, Compiled)>());

#[cfg(test)]
mod tests {
    use super::*;

    /// Reading ids out of a bitmap agrees with `get`, slot by slot, whether
    /// a word of slots is a run of consecutive ids or not, and after the
    /// ids no longer fit in 32-bit offsets.
    #[test]
    fn ids_read_out_of_runs_and_gaps_agree_with_get() {
        let mut ids = SlotIds::default();
        let mut next = 1000u64;
        // Words 0 and 1 consecutive; a gap inside word 2; a word starting
        // right after a gap (still a run); enough words to fill the
        // read-out buffer several times; a partial last word.
        for slot in 0..3000u32 {
            next += match slot {
                130 => 5,
                192 => 9,
                _ => 1,
            };
            ids.push(SubId(next));
        }
        let runs: Vec<bool> = ids.run_start.iter().map(|s| *s != NOT_RUN).collect();
        assert_eq!(runs[..5], [true, true, false, true, true]);
        assert!(runs[5..].iter().all(|r| *r));
        let patterns = [u64::MAX, 0x8000_0000_0000_0001, 0x5555_5555_5555_5555, 0];
        let check = |ids: &SlotIds| {
            let slots = ids.all().len();
            for (i, pattern) in patterns.iter().enumerate() {
                let bits: Vec<u64> = (0..slots.div_ceil(64))
                    .map(|w| {
                        pattern.rotate_left((w + i) as u32)
                            & if (w + 1) * 64 > slots { (1 << (slots % 64)) - 1 } else { u64::MAX }
                    })
                    .collect();
                let want: Vec<SubId> = (0..slots as u32).filter(|s| has_bit(&bits, *s)).map(|s| ids.get(s)).collect();
                assert_eq!(ids.of(&Hits::Bitmap(bits)), want, "pattern {pattern:#x}");
            }
        };
        check(&ids);
        ids.push(SubId(u64::MAX));
        assert!(ids.wide.is_some() && ids.run_start.is_empty());
        check(&ids);
    }
}
