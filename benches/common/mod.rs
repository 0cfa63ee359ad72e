//! Shared by `benches/routing.rs` and `examples/route_rss.rs`: a
//! deterministic generator of a realistic population of subscriptions, and
//! the real LL2 fixture items they are routed against.
//!
//! The mix (of `Mix::Mixed`), by share of subscriptions:
//! - 40% agency-only (1–3 agencies), skewed popularity over the agencies of
//!   the fixtures (SpaceX first) plus a long tail of 400 agencies that no
//!   fixture item has;
//! - 20% program-only, same skew over the fixture programs, Artemis and a
//!   tail of 100 unknown programs;
//! - 15% type-only (mission types, event types, and the words `launch` and
//!   `event`);
//! - 10% agency + `exclude_programs` (mostly "SpaceX except Starlink");
//! - 5% kinds-only, 5% match-everything;
//! - 5% combined dimensions (kinds+agency, agency+type, program minus types,
//!   type minus agencies, agency+program).
//!
//! Values are spelled as people do: the name, the name in lower case, the
//! abbreviation, or the LL2 id. Alert kinds, reminders, destinations and
//! time zones vary too, so the index stores what it would in production.
//!
//! `Mix::Selective` has no broad filters (its match-everything and
//! kinds-only shares are agency-only, and no type filter says `launch` or
//! `event`): it shows what routing costs when an item matches few
//! subscriptions.

#![allow(dead_code, unreachable_pub, missing_docs)] // each including target uses a different part; helpers, not a public API

use std::time::Duration;

use rand::distributions::{Distribution, WeightedIndex};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tminus::item::Item;
use tminus::ll2::parse_page;
use tminus::rules::{Filter, Origin, SubId, Subscription};
use tminus::types::{AlertKind, ChannelId, ChatId, Destination, Feed, ItemKind};

/// The population the issue asks for.
pub const MILLION: usize = 1_000_000;
pub const SEED: u64 = 0x74d1_2025;

/// Which population to generate; see the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mix {
    Mixed,
    Selective,
}

/// An LL2 entity a filter can name: id (if LL2 has one), name, abbreviation,
/// and how many subscribers pick it (relative weight).
#[derive(Debug, Clone)]
struct Entity {
    id: Option<i64>,
    name: String,
    abbrev: Option<String>,
    weight: f64,
}

fn entity(id: Option<i64>, name: &str, abbrev: Option<&str>, weight: f64) -> Entity {
    Entity { id, name: name.to_string(), abbrev: abbrev.map(str::to_string), weight }
}

/// Agencies as they appear in tests/fixtures/ll2 (ids, names and
/// abbreviations copied from there), with a popularity skew.
fn known_agencies() -> Vec<Entity> {
    vec![
        entity(Some(121), "SpaceX", Some("SpX"), 300.0),
        entity(Some(44), "National Aeronautics and Space Administration", Some("NASA"), 200.0),
        entity(Some(27), "European Space Agency", Some("ESA"), 120.0),
        entity(Some(147), "Rocket Lab", Some("RL"), 60.0),
        entity(Some(124), "United Launch Alliance", Some("ULA"), 50.0),
        entity(Some(141), "Blue Origin", None, 50.0),
        entity(Some(115), "Arianespace", Some("ASA"), 40.0),
        entity(Some(37), "Japan Aerospace Exploration Agency", Some("JAXA"), 40.0),
        entity(Some(88), "China Aerospace Science and Technology Corporation", Some("CASC"), 35.0),
        entity(Some(80), "Boeing", Some("BA"), 25.0),
        entity(Some(98), "Mitsubishi Heavy Industries", Some("MHI"), 20.0),
        entity(Some(1090), "Jet Propulsion Laboratory", Some("JPL"), 15.0),
        entity(Some(1058), "Amazon Leo", Some("Amazon"), 10.0),
        entity(
            Some(232),
            "European Organisation for the Exploitation of Meteorological Satellites",
            Some("EUMETSAT"),
            8.0,
        ),
        entity(Some(1081), "Eutelsat OneWeb", Some("OneWeb"), 8.0),
        entity(Some(1021), "Galactic Energy", Some("GE"), 6.0),
        entity(Some(1061), "HawkEye 360", Some("he360"), 2.0),
        entity(Some(1073), "DSN Corporation", None, 2.0),
        entity(Some(193), "Russian Space Forces", Some("VKS"), 1.0),
    ]
}

fn known_programs() -> Vec<Entity> {
    vec![
        entity(Some(25), "Starlink", None, 200.0),
        entity(Some(15), "Artemis", None, 150.0),
        entity(Some(1), "SpaceX Starship", None, 150.0),
        entity(Some(17), "International Space Station", Some("ISS"), 120.0),
        entity(Some(5), "Commercial Crew Program", Some("CCP"), 60.0),
        entity(Some(11), "Commercial Resupply Services", Some("CRS"), 30.0),
        entity(Some(27), "Amazon Leo", None, 20.0),
        entity(Some(26), "OneWeb", None, 10.0),
    ]
}

/// Mission types (no LL2 id) and event types (with id), plus the words that
/// select every launch or every event.
fn known_types(mix: Mix) -> Vec<Entity> {
    let mut v = vec![
        entity(None, "Communications", None, 60.0),
        entity(None, "Human Exploration", None, 60.0),
        entity(None, "Planetary Science", None, 40.0),
        entity(None, "Test Flight", None, 40.0),
        entity(None, "Earth Science", None, 30.0),
        entity(None, "Astrophysics", None, 30.0),
        entity(None, "Suborbital", None, 20.0),
        entity(None, "Resupply", None, 20.0),
        entity(None, "Robotic Exploration", None, 20.0),
        entity(None, "Government/Top Secret", None, 3.0),
        entity(Some(23), "Flyby", None, 30.0),
        entity(Some(2), "Docking", None, 30.0),
        entity(Some(16), "Orbital Insertion", None, 20.0),
    ];
    if mix == Mix::Mixed {
        v.push(entity(None, "launch", None, 300.0));
        v.push(entity(None, "event", None, 40.0));
    }
    v
}

/// A Zipf-like tail of `n` entities no fixture item has.
fn tail(n: usize, prefix: &str, first_id: i64, top: f64) -> Vec<Entity> {
    (0..n)
        .map(|k| Entity {
            id: Some(first_id + k as i64),
            name: format!("{prefix} {k}"),
            abbrev: Some(format!("{}{k}", &prefix[..2].to_uppercase())),
            weight: top / (k as f64 + 1.0),
        })
        .collect()
}

struct Pool {
    items: Vec<Entity>,
    dist: WeightedIndex<f64>,
}

impl Pool {
    fn new(items: Vec<Entity>) -> Pool {
        let dist = WeightedIndex::new(items.iter().map(|e| e.weight)).expect("positive weights");
        Pool { items, dist }
    }

    fn find(&self, name: &str) -> &Entity {
        self.items.iter().find(|e| e.name == name).expect("known entity")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dim {
    Agencies,
    Programs,
    Types,
}

/// How a user spells an entity (`roll` in 0..10): name, lower case,
/// abbreviation or id.
fn spell(e: &Entity, roll: u32) -> String {
    match roll {
        0..=3 => e.name.clone(),
        4 | 5 => e.name.to_lowercase(),
        6 | 7 => e.abbrev.clone().or_else(|| e.id.map(|i| i.to_string())).unwrap_or_else(|| e.name.clone()),
        _ => e.id.map(|i| i.to_string()).unwrap_or_else(|| e.name.to_lowercase()),
    }
}

/// Deterministic generator of subscriptions with ids 1, 2, 3… (the order
/// the store hands them to `Index::from_subscriptions`).
pub struct Generator {
    rng: StdRng,
    mix: Mix,
    pools: Pools,
    next_id: u64,
}

struct Pools {
    agencies: Pool,
    programs: Pool,
    types: Pool,
}

impl Pools {
    fn get(&self, dim: Dim) -> &Pool {
        match dim {
            Dim::Agencies => &self.agencies,
            Dim::Programs => &self.programs,
            Dim::Types => &self.types,
        }
    }
}

impl Generator {
    pub fn new(mix: Mix, seed: u64) -> Generator {
        let mut agencies = known_agencies();
        agencies.extend(tail(400, "Agency", 5000, 30.0));
        let mut programs = known_programs();
        programs.extend(tail(100, "Program", 900, 20.0));
        let mut types = known_types(mix);
        types.extend(tail(50, "Type", 300, 5.0).into_iter().map(|mut e| {
            e.id = None;
            e.abbrev = None;
            e
        }));
        Generator {
            rng: StdRng::seed_from_u64(seed),
            mix,
            pools: Pools { agencies: Pool::new(agencies), programs: Pool::new(programs), types: Pool::new(types) },
            next_id: 1,
        }
    }

    /// One to three values of `dim`, mostly one.
    fn some(&mut self, dim: Dim) -> Vec<String> {
        let max = if dim == Dim::Types { 2 } else { 3 };
        let n = match self.rng.gen_range(0..100) {
            0..=79 => 1,
            80..=94 => 2,
            _ => max,
        };
        (0..n).map(|_| self.one(dim)).collect()
    }

    fn one(&mut self, dim: Dim) -> String {
        let pool = self.pools.get(dim);
        let e = &pool.items[pool.dist.sample(&mut self.rng)];
        spell(e, self.rng.gen_range(0..10))
    }

    fn agencies(&mut self) -> Vec<String> {
        self.some(Dim::Agencies)
    }

    fn programs(&mut self) -> Vec<String> {
        self.some(Dim::Programs)
    }

    fn types(&mut self) -> Vec<String> {
        self.some(Dim::Types)
    }

    fn spell_known(&mut self, dim: Dim, name: &str) -> String {
        spell(self.pools.get(dim).find(name), self.rng.gen_range(0..10))
    }

    fn filter(&mut self) -> Filter {
        let roll = self.rng.gen_range(0..100);
        let roll = match self.mix {
            Mix::Mixed => roll,
            // Broad filters become agency-only ones.
            Mix::Selective if roll >= 90 => 0,
            Mix::Selective => roll,
        };
        match roll {
            0..=39 => Filter { agencies: self.agencies(), ..Default::default() },
            40..=59 => Filter { programs: self.programs(), ..Default::default() },
            60..=74 => Filter { types: self.types(), ..Default::default() },
            75..=84 => {
                // "Everything from SpaceX except Starlink", and its cousins.
                if self.rng.gen_bool(0.6) {
                    Filter {
                        agencies: vec![self.spell_known(Dim::Agencies, "SpaceX")],
                        exclude_programs: vec![self.spell_known(Dim::Programs, "Starlink")],
                        ..Default::default()
                    }
                } else {
                    Filter { agencies: self.agencies(), exclude_programs: self.programs(), ..Default::default() }
                }
            }
            85..=89 => match self.rng.gen_range(0..5) {
                0 => Filter { kinds: vec![ItemKind::Launch], agencies: self.agencies(), ..Default::default() },
                1 => Filter { agencies: self.agencies(), types: self.types(), ..Default::default() },
                2 => Filter { programs: self.programs(), exclude_types: self.types(), ..Default::default() },
                3 => Filter { types: self.types(), exclude_agencies: self.agencies(), ..Default::default() },
                _ => Filter { agencies: self.agencies(), programs: self.programs(), ..Default::default() },
            },
            90..=94 => {
                let kind = if self.rng.gen_bool(0.8) { ItemKind::Launch } else { ItemKind::Event };
                Filter { kinds: vec![kind], ..Default::default() }
            }
            _ => Filter::default(),
        }
    }

    pub fn next_subscription(&mut self) -> Subscription {
        let id = SubId(self.next_id);
        self.next_id += 1;
        let filter = self.filter();
        let alerts = match self.rng.gen_range(0..100) {
            0..=64 => AlertKind::ALL.to_vec(),
            65..=79 => vec![AlertKind::Status],
            80..=89 => vec![AlertKind::New, AlertKind::Schedule, AlertKind::Status],
            _ => AlertKind::ALL[..4].to_vec(),
        };
        let h = |n: u64| Duration::from_secs(n * 3600);
        let reminders = match self.rng.gen_range(0..100) {
            0..=54 => vec![h(24), h(1), Duration::from_secs(600)],
            55..=74 => vec![],
            75..=89 => vec![h(1)],
            _ => vec![h(24), h(1)],
        };
        let destination = match self.rng.gen_range(0..100) {
            0..=69 => Destination::Telegram(ChatId(self.rng.gen_range(-1_000_000_000_000..1_000_000_000))),
            70..=98 => Destination::Discord(ChannelId(self.rng.gen_range(1 << 50..1 << 60))),
            _ => Destination::Console,
        };
        let timezone =
            [chrono_tz::UTC, chrono_tz::Europe::Berlin, chrono_tz::America::New_York, chrono_tz::Asia::Tokyo]
                [self.rng.gen_range(0..4)];
        let origin =
            if self.rng.gen_bool(0.05) { Origin::Config { watch: format!("watch-{}", id.0) } } else { Origin::Chat };
        Subscription::new(id, destination, filter, origin)
            .with_alerts(alerts)
            .with_reminders(reminders)
            .with_timezone(timezone)
    }
}

impl Iterator for Generator {
    type Item = Subscription;

    fn next(&mut self) -> Option<Subscription> {
        Some(self.next_subscription())
    }
}

/// `n` subscriptions of `mix`, ids 1..=n.
pub fn subscriptions(mix: Mix, n: usize) -> impl Iterator<Item = Subscription> {
    Generator::new(mix, SEED).take(n)
}

/// How many subscriptions to generate: 1,000,000 unless
/// `TMINUS_BENCH_SUBS` says otherwise (a smoke run in `cargo test --benches`
/// may use fewer).
pub fn population(default: usize) -> usize {
    std::env::var("TMINUS_BENCH_SUBS").ok().and_then(|s| s.replace('_', "").parse().ok()).unwrap_or(default)
}

pub fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/ll2/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

pub fn fixture_page(feed: Feed, name: &str) -> Vec<Item> {
    let page = parse_page(feed, &fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(page.skipped, 0, "{name}");
    page.items
}

/// The real items routed by the bench: the 2.3.0 detailed launches and
/// events, plus the Starlink launch of the 2.2.0 detailed page (the case
/// "SpaceX except Starlink" exists for).
pub fn fixture_items() -> Vec<Item> {
    let mut items = fixture_page(Feed::Launches, "launches-2.3.0-upcoming-detailed.json");
    items.extend(fixture_page(Feed::Events, "events-2.3.0-upcoming-detailed.json"));
    items.extend(
        fixture_page(Feed::Launches, "launches-2.2.0-upcoming-detailed.json")
            .into_iter()
            .filter(|i| i.programs.iter().any(|p| p.name == "Starlink")),
    );
    items
}

/// A short label for bench ids: the part after " | " of a launch name.
pub fn label(item: &Item) -> String {
    let name = item.name.rsplit(" | ").next().unwrap_or(&item.name);
    name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect()
}

/// VmRSS and VmHWM of this process, in MiB.
pub fn rss() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}
