//! The directory of names the bot has seen in LL2 data: agencies, programs
//! and types, each with id, name and abbreviation. It lets users write
//! "SpaceX", "spacex" or 121 for the same agency without spending an API
//! request, powers "did you mean…?" suggestions and names the filter values
//! that match nothing. Pure data; the store persists it with each page.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::item::{Item, Named};
use crate::rules::{Filter, normalize};

/// The filter dimensions that take names.
#[cfg_attr(feature = "testing", visibility::make(pub))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Dimension {
    /// Agencies: launch providers, mission and event agencies.
    Agency,
    /// LL2 programs (Artemis, Starlink…).
    Program,
    /// Event types and launch mission types.
    Type,
}

impl Dimension {
    /// The word users type for it ("agency", "program", "type").
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Dimension::Agency => "agency",
            Dimension::Program => "program",
            Dimension::Type => "type",
        }
    }
}

/// Every agency, program and type seen so far, by dimension.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Directory {
    /// Per dimension: canonical key (id, or lower-case name when LL2 has no
    /// id) → entry.
    entries: BTreeMap<Dimension, BTreeMap<String, Named>>,
}

fn entry_key(n: &Named) -> String {
    n.id.map(|i| i.to_string()).unwrap_or_else(|| normalize(&n.name))
}

impl Directory {
    /// Adds what `item` names; returns whether anything was new.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn learn(&mut self, item: &Item) -> bool {
        let mut changed = false;
        let mut add = |d: Dimension, n: &Named| {
            let map = self.entries.entry(d).or_default();
            let key = entry_key(n);
            // Some LL2 modes (2.2.0 `normal`) omit abbreviations: keep one
            // already learned instead of forgetting it and flip-flopping.
            let mut n = n.clone();
            if n.abbrev.is_none() {
                n.abbrev = map.get(&key).and_then(|old| old.abbrev.clone());
            }
            if map.get(&key) != Some(&n) {
                map.insert(key, n);
                changed = true;
            }
        };
        for a in &item.agencies {
            add(Dimension::Agency, a);
        }
        for p in &item.programs {
            add(Dimension::Program, p);
        }
        if let Some(t) = &item.item_type {
            add(Dimension::Type, t);
        }
        changed
    }

    /// Names known, all dimensions together.
    pub(crate) fn len(&self) -> usize {
        self.entries.values().map(BTreeMap::len).sum()
    }

    /// Whether no name is known yet (nothing polled).
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The entry a user value names: by id, name or abbreviation.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn resolve(&self, dim: Dimension, value: &str) -> Option<&Named> {
        let v = normalize(value);
        if dim == Dimension::Type && (v == "launch" || v == "event") {
            return None;
        }
        self.entries.get(&dim)?.values().find(|n| {
            n.id.is_some_and(|i| i.to_string() == v)
                || normalize(&n.name) == v
                || n.abbrev.as_deref().is_some_and(|a| normalize(a) == v)
        })
    }

    /// Whether a value can match something: known to the directory, or one
    /// of the words every item has (`launch`, `event` as types).
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn knows(&self, dim: Dimension, value: &str) -> bool {
        let v = normalize(value);
        (dim == Dimension::Type && (v == "launch" || v == "event")) || self.resolve(dim, value).is_some()
    }

    /// Up to `n` known names closest to `value`, best first: names that
    /// contain it, then by edit distance.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn suggest(&self, dim: Dimension, value: &str, n: usize) -> Vec<String> {
        let v = normalize(value);
        let Some(map) = self.entries.get(&dim) else { return Vec::new() };
        let mut scored: Vec<(usize, String)> = map
            .values()
            .flat_map(|e| std::iter::once(e.name.clone()).chain(e.abbrev.clone()))
            .filter(|name| !name.is_empty())
            .map(|name| {
                let l = normalize(&name);
                // Containment counts only for names long enough to mean something:
                // a two-letter abbreviation is inside many unrelated words.
                let contains = (v.len() >= 3 && l.contains(&v)) || (l.len() >= 4 && v.contains(&l));
                let score = if contains { 0 } else { strsim::levenshtein(&l, &v) };
                (score, name)
            })
            .filter(|(score, _)| *score <= v.chars().count() / 3 + 1)
            .collect();
        scored.sort();
        scored.dedup_by(|a, b| a.1 == b.1);
        scored.into_iter().take(n).map(|(_, name)| name).collect()
    }

    /// All names of one dimension, for autocomplete.
    pub(crate) fn names(&self, dim: Dimension) -> Vec<&Named> {
        self.entries.get(&dim).map(|m| m.values().collect()).unwrap_or_default()
    }

    /// The values of `filter` that match nothing seen so far.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn unresolved(&self, filter: &Filter) -> Vec<(Dimension, String)> {
        let dims: [(Dimension, &[String]); 6] = [
            (Dimension::Type, &filter.types),
            (Dimension::Agency, &filter.agencies),
            (Dimension::Program, &filter.programs),
            (Dimension::Type, &filter.exclude_types),
            (Dimension::Agency, &filter.exclude_agencies),
            (Dimension::Program, &filter.exclude_programs),
        ];
        dims.iter()
            .flat_map(|(d, values)| values.iter().filter(|v| !self.knows(*d, v)).map(|v| (*d, v.clone())))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::tests::sample_launch;

    fn dir() -> Directory {
        let mut d = Directory::default();
        let mut item = sample_launch();
        item.programs = vec![Named::new(Some(25), "Starlink", None)];
        assert!(d.learn(&item));
        assert!(!d.learn(&item), "nothing new the second time");
        d
    }

    #[test]
    fn resolves_ids_names_and_abbreviations() {
        let d = dir();
        for v in ["SpaceX", "spacex", "121", "SpX"] {
            assert_eq!(d.resolve(Dimension::Agency, v).map(|n| n.id), Some(Some(121)), "{v}");
        }
        assert!(d.resolve(Dimension::Agency, "NASA").is_none());
        assert!(d.knows(Dimension::Type, "launch"));
        assert!(d.knows(Dimension::Type, "communications"));
    }

    #[test]
    fn suggests_close_names_and_lists_unresolved() {
        let d = dir();
        assert_eq!(d.suggest(Dimension::Agency, "SpaceY", 3), ["SpaceX"]);
        assert_eq!(d.suggest(Dimension::Program, "starlnk", 3), ["Starlink"]);
        assert!(d.suggest(Dimension::Agency, "Roscosmos", 3).is_empty());
        let f = Filter {
            agencies: vec!["SpaceX".into(), "Blue Origin".into()],
            exclude_programs: vec!["Starlink".into()],
            ..Default::default()
        };
        assert_eq!(d.unresolved(&f), [(Dimension::Agency, "Blue Origin".to_string())]);
    }
}
