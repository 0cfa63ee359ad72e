//! Choices offered while a slash-command option is typed (pure): names
//! from the LL2 directory and IANA timezone names, within Discord's limits
//! on autocomplete answers. It must not read the store; the channel's own
//! subscriptions are offered by `commands::Handler`, which owns it.

use super::reply::{Choice, MAX_CHOICE_LEN, MAX_CHOICES, clip};
use crate::directory::{Dimension, Directory};

/// Directory names for the option being typed: names or abbreviations that
/// start with the text first, then those containing it; close spellings
/// when nothing contains it. Up to 25, each value at most 100 characters (an LL2 id when a
/// name is longer).
pub(super) fn name_choices(directory: &Directory, dim: Dimension, typed: &str) -> Vec<Choice> {
    let q = typed.trim().to_lowercase();
    let mut ranked: Vec<(u8, String, String)> = Vec::new();
    for n in directory.names(dim) {
        let name = n.name.to_lowercase();
        let abbrev = n.abbrev.as_deref().map(str::to_lowercase).unwrap_or_default();
        let rank = if q.is_empty() || name.starts_with(&q) || (!abbrev.is_empty() && abbrev.starts_with(&q)) {
            0
        } else if name.contains(&q) || (!abbrev.is_empty() && abbrev.contains(&q)) {
            1
        } else {
            continue;
        };
        let label = match &n.abbrev {
            Some(a) if !a.is_empty() && !a.eq_ignore_ascii_case(&n.name) => format!("{} ({a})", n.name),
            _ => n.name.clone(),
        };
        let value = if n.name.chars().count() <= MAX_CHOICE_LEN {
            n.name.clone()
        } else if let Some(id) = n.id {
            id.to_string()
        } else {
            continue;
        };
        ranked.push((rank, label, value));
    }
    ranked.sort_by_key(|a| (a.0, a.1.to_lowercase()));
    let mut out: Vec<Choice> = Vec::new();
    let push = |label: String, value: String, out: &mut Vec<Choice>| {
        if out.len() < MAX_CHOICES && !out.iter().any(|c| c.value == value) {
            out.push(Choice { name: clip(&label, MAX_CHOICE_LEN), value });
        }
    };
    for (_, label, value) in ranked {
        push(label, value, &mut out);
    }
    if out.is_empty() && !q.is_empty() {
        // Nothing contains the text: close spellings, by entity (a suggestion may be an abbreviation).
        for name in directory.suggest(dim, &q, MAX_CHOICES) {
            let name = directory.resolve(dim, &name).map_or(name, |n| n.name.clone());
            if name.chars().count() <= MAX_CHOICE_LEN {
                push(name.clone(), name, &mut out);
            }
        }
    }
    out
}

/// IANA timezone names containing the typed text (prefix matches of the
/// city first).
pub(super) fn timezone_choices(typed: &str) -> Vec<Choice> {
    let q = typed.trim().to_lowercase().replace(' ', "_");
    let mut ranked: Vec<(u8, &str)> = chrono_tz::TZ_VARIANTS
        .iter()
        .map(|t| t.name())
        .filter_map(|n| {
            let l = n.to_lowercase();
            let city = l.rsplit('/').next().unwrap_or(&l);
            if q.is_empty() {
                // Area/City names only: the legacy aliases are noise.
                l.contains('/').then_some((0, n))
            } else if l.starts_with(&q) || city.starts_with(&q) {
                Some((0, n))
            } else if l.contains(&q) {
                Some((1, n))
            } else {
                None
            }
        })
        .collect();
    ranked.sort();
    ranked.into_iter().take(MAX_CHOICES).map(|(_, n)| Choice { name: n.to_owned(), value: n.to_owned() }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::item::Named;

    #[test]
    fn name_choices_rank_prefix_then_contains_then_typos() {
        let mut dir = Directory::default();
        let mut item = crate::detect::tests::sample_launch();
        item.agencies = vec![
            Named::new(Some(121), "SpaceX", Some("SpX".into())),
            Named::new(Some(44), "National Aeronautics and Space Administration", Some("NASA".into())),
            Named::new(Some(63), "Russian Federal Space Agency (ROSCOSMOS)", Some("RFSA".into())),
        ];
        dir.learn(&item);
        let names = |q: &str| name_choices(&dir, Dimension::Agency, q).into_iter().map(|c| c.value).collect::<Vec<_>>();
        assert_eq!(
            names("spa"),
            ["SpaceX", "National Aeronautics and Space Administration", "Russian Federal Space Agency (ROSCOSMOS)"]
        );
        assert_eq!(names("nasa"), ["National Aeronautics and Space Administration"]);
        assert_eq!(names("ROSCOS"), ["Russian Federal Space Agency (ROSCOSMOS)"]);
        assert_eq!(names("SpaceY"), ["SpaceX"]);
        assert_eq!(names("").len(), 3);
        assert_eq!(name_choices(&dir, Dimension::Agency, "spx")[0].name, "SpaceX (SpX)");
        assert!(names("zzzzzz").is_empty());
    }

    #[test]
    fn timezone_choices_match_cities() {
        let tz = timezone_choices("berl");
        assert_eq!(tz[0].value, "Europe/Berlin");
        assert_eq!(timezone_choices("").len(), MAX_CHOICES);
        assert!(timezone_choices("new york").iter().any(|c| c.value == "America/New_York"));
    }
}
