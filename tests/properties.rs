//! Properties (proptest) over the pure core, with modest case counts so the
//! suite stays fast:
//!
//! - detection: an item compared with itself never alerts; a stored
//!   snapshot (JSON round trip) detects like the original; what LL2 objects
//!   alert does not depend on the order of their keys;
//! - matching: the routing index returns exactly what a brute-force scan of
//!   `Subscription::matches` returns, after inserts, updates and removals;
//! - rendering: Telegram text and captions never exceed their limits and
//!   are always well-formed HTML (no split entity, no broken tag), and
//!   Discord payloads pass Discord's limits, for hostile field contents.

use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use proptest::prelude::*;
use serde_json::{Value, json};
use tminus::detect::{self, Alert, AlertId, Change};
use tminus::item::{Item, Named, Precision, Video};
use tminus::ll2::parse_page;
use tminus::render;
use tminus::rules::{Filter, Index, Origin, SubId, Subscription};
use tminus::telegram::render as telegram;
use tminus::types::{AlertKind, Destination, Feed, ItemId, ItemKind};

// ---- generators --------------------------------------------------------------

fn agencies() -> Vec<Named> {
    vec![
        Named::new(Some(121), "SpaceX", Some("SpX".into())),
        Named::new(Some(44), "National Aeronautics and Space Administration", Some("NASA".into())),
        Named::new(Some(115), "Arianespace", None),
        Named::new(Some(37), "Japan Aerospace Exploration Agency", Some("JAXA".into())),
        Named::new(Some(63), "Роскосмос", Some("RFSA".into())),
    ]
}

fn programs() -> Vec<Named> {
    vec![
        Named::new(Some(17), "Starlink", None),
        Named::new(Some(16), "Artemis", None),
        Named::new(Some(25), "International Space Station", Some("ISS".into())),
    ]
}

fn types() -> Vec<Named> {
    vec![
        Named::new(Some(1), "Docking", None),
        Named::new(Some(2), "EVA", Some("Spacewalk".into())),
        Named::new(None, "Communications", None),
        Named::new(None, "Resupply", None),
    ]
}

fn statuses() -> Vec<Named> {
    vec![
        Named::new(Some(1), "Go for Launch", Some("Go".into())),
        Named::new(Some(2), "To Be Determined", Some("TBD".into())),
        Named::new(Some(3), "Launch Successful", Some("Success".into())),
        Named::new(Some(5), "On Hold", Some("Hold".into())),
    ]
}

fn subset(pool: Vec<Named>) -> impl Strategy<Value = Vec<Named>> {
    let n = pool.len();
    prop::sample::subsequence(pool, 0..=n.min(3))
}

fn time() -> impl Strategy<Value = DateTime<Utc>> {
    (1_600_000_000i64..2_100_000_000).prop_map(|s| Utc.timestamp_opt(s, 0).unwrap())
}

/// Text with everything that breaks naive renderers: markup characters,
/// entities, controls, combining marks, RTL overrides, astral characters.
fn hostile() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,60}",
        "[<>&\"';a-z0-9 \n\t🚀é\u{0}\u{301}\u{202E}\u{200D}]{0,400}",
        "(&amp;|&lt;|<b>|</a>|&#x26;|🚀|\u{1F469}\u{200D}\u{1F680}|x){0,800}",
    ]
}

fn video() -> impl Strategy<Value = Video> {
    ("[a-c]", prop::option::of(hostile()), prop::option::of(any::<bool>())).prop_map(|(u, title, live)| Video {
        url: format!("https://video.example/{u}"),
        title,
        live,
    })
}

fn item() -> impl Strategy<Value = Item> {
    (
        (prop_oneof![Just(ItemKind::Launch), Just(ItemKind::Event)], "[0-9a-f]{1,8}", hostile()),
        (
            prop::option::of(prop::sample::select(types())),
            prop::option::of(prop::sample::select(statuses())),
            prop::option::of(time()),
            prop::option::of((0i64..17).prop_map(Precision::from_id)),
        ),
        (prop::option::of(time()), prop::option::of(time()), any::<bool>(), prop::collection::vec(video(), 0..3)),
        (subset(agencies()), subset(programs())),
        (prop::option::of(hostile()), prop::option::of(hostile()), time()),
    )
        .prop_map(
            |(
                (kind, id, name),
                (item_type, status, when, precision),
                (window_start, window_end, webcast_live, videos),
                (agencies, programs),
                (location, description, last_updated),
            )| {
                let mut unique_videos: Vec<Video> = Vec::new();
                for v in videos {
                    if !unique_videos.iter().any(|u| u.url == v.url) {
                        unique_videos.push(v);
                    }
                }
                Item {
                    id: ItemId::new(kind, id.clone()),
                    name,
                    slug: format!("slug-{id}"),
                    url: Some(format!("https://ll.thespacedevs.com/2.3.0/launches/{id}/")),
                    item_type,
                    status: if kind == ItemKind::Launch { status } else { None },
                    when,
                    precision,
                    window_start,
                    window_end,
                    webcast_live,
                    videos: unique_videos,
                    agencies,
                    programs,
                    location,
                    pad: None,
                    image: Some("https://img.example/x.jpg".into()),
                    description,
                    last_updated,
                    details: Default::default(),
                }
            },
        )
}

// ---- detection ---------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn an_item_compared_with_itself_never_alerts(item in item()) {
        prop_assert!(detect::detect(Some(&item), &item).is_empty());
        let mut bumped = item.clone();
        bumped.last_updated += chrono::Duration::seconds(1);
        prop_assert!(detect::detect(Some(&item), &bumped).is_empty(), "a last_updated bump alone is not news");
        prop_assert_eq!(detect::detect(None, &item), vec![Change::New]);
    }

    #[test]
    fn a_stored_snapshot_detects_like_the_original(old in item(), new in item()) {
        // The store keeps snapshots as JSON.
        let stored: Item = serde_json::from_slice(&serde_json::to_vec(&old).unwrap()).unwrap();
        prop_assert_eq!(&stored, &old);
        prop_assert_eq!(detect::detect(Some(&stored), &new), detect::detect(Some(&old), &new));
        // Changes come in a fixed order and at most one of each kind.
        let kinds: Vec<AlertKind> = detect::detect(Some(&old), &new).iter().map(Change::kind).collect();
        let mut sorted = kinds.clone();
        sorted.sort_by_key(|k| *k as u8);
        sorted.dedup();
        prop_assert_eq!(kinds, sorted);
    }
}

/// Every object of the real fixtures, with its feed.
fn fixture_objects() -> Vec<(Feed, Value)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ll2");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.ends_with(".json") {
            continue;
        }
        let feed = if name.starts_with("launch") { Feed::Launches } else { Feed::Events };
        let v: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let objects = match v {
            Value::Array(a) => a,
            Value::Object(mut m) => match m.remove("results") {
                Some(Value::Array(a)) => a,
                _ => vec![Value::Object(m)],
            },
            _ => continue,
        };
        out.extend(objects.into_iter().map(|o| (feed, o)));
    }
    assert!(out.len() >= 20, "fixtures found: {}", out.len());
    out
}

/// A small deterministic generator for key permutations.
struct Shuffler(u64);

impl Shuffler {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// JSON text of `v` with the keys of every object in a random order
/// (`serde_json::Value` would sort them).
fn shuffled_json(v: &Value, rng: &mut Shuffler, out: &mut String) {
    match v {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            for i in (1..entries.len()).rev() {
                let j = (rng.next() % (i as u64 + 1)) as usize;
                entries.swap(i, j);
            }
            out.push('{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::to_string(k).unwrap());
                out.push(':');
                shuffled_json(v, rng, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                shuffled_json(v, rng, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

fn page_of(objects: &[Value], next: Option<&str>) -> Value {
    json!({"count": objects.len(), "next": next, "previous": null, "results": objects})
}

/// Edits LL2 would make: some alert-worthy, some not.
fn mutate(feed: Feed, v: &mut Value, choice: u8, minutes: i64) {
    let shift = |v: &mut Value, field: &str| {
        if let Some(t) = v.get(field).and_then(Value::as_str).and_then(|s| s.parse::<DateTime<Utc>>().ok()) {
            v[field] = json!((t + chrono::Duration::minutes(minutes)).to_rfc3339());
        }
    };
    match choice % 7 {
        0 if feed == Feed::Launches => v["status"] = json!({"id": 5, "name": "On Hold", "abbrev": "Hold"}),
        0 => v["webcast_live"] = json!(true),
        1 => shift(v, if feed == Feed::Launches { "net" } else { "date" }),
        2 => v["webcast_live"] = json!(!v["webcast_live"].as_bool().unwrap_or(false)),
        3 => {
            let key = if v.get("vidURLs").is_some() { "vidURLs" } else { "vid_urls" };
            let mut list = v.get(key).and_then(Value::as_array).cloned().unwrap_or_default();
            list.push(json!({"url": format!("https://video.example/{minutes}"), "live": minutes % 2 == 0}));
            v[key] = Value::Array(list);
        }
        4 => v["name"] = json!(format!("Renamed {minutes}")),
        5 => v["description"] = json!("Edited prose."),
        _ => shift(v, "window_end"),
    }
    shift(v, "last_updated");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn alerts_do_not_depend_on_key_order(
        pick in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 1i64..5000), 1..6),
        seed in 1u64..u64::MAX,
    ) {
        let objects = fixture_objects();
        let mut rng = Shuffler(seed);
        for (index, choice, minutes) in pick {
            let (feed, old) = index.get(&objects).clone();
            let mut new = old.clone();
            mutate(feed, &mut new, choice, minutes);
            let parse = |v: &Value, shuffle: bool, rng: &mut Shuffler| -> Result<Vec<Item>, TestCaseError> {
                let page = page_of(std::slice::from_ref(v), None);
                let text = if shuffle {
                    let mut s = String::new();
                    shuffled_json(&page, rng, &mut s);
                    s
                } else {
                    page.to_string()
                };
                let parsed = parse_page(feed, text.as_bytes()).unwrap();
                prop_assert_eq!(parsed.skipped, 0);
                Ok(parsed.items)
            };
            let old_sorted = parse(&old, false, &mut rng)?;
            let old_shuffled = parse(&old, true, &mut rng)?;
            let new_sorted = parse(&new, false, &mut rng)?;
            let new_shuffled = parse(&new, true, &mut rng)?;
            prop_assert_eq!(&old_sorted, &old_shuffled, "same item whatever the key order");
            prop_assert_eq!(&new_sorted, &new_shuffled);
            let reference = detect::detect(old_sorted.first(), &new_sorted[0]);
            prop_assert_eq!(detect::detect(old_shuffled.first(), &new_shuffled[0]), reference.clone());
            prop_assert_eq!(detect::detect(old_sorted.first(), &new_shuffled[0]), reference);
        }
    }
}

// ---- matching ------------------------------------------------------------------

/// One filter value as a user might write it: a name, an abbreviation or an
/// id, in any case, padded; or something that matches nothing.
fn value_of(pool: Vec<Named>) -> impl Strategy<Value = String> {
    (prop::sample::select(pool), 0u8..4, any::<bool>(), any::<bool>()).prop_map(|(n, form, upper, pad)| {
        let text = match form {
            0 => n.name.clone(),
            1 => n.abbrev.clone().unwrap_or_else(|| n.name.clone()),
            2 => n.id.map(|i| i.to_string()).unwrap_or_else(|| n.name.clone()),
            _ => "Blue Origin".to_string(),
        };
        let text = if upper { text.to_uppercase() } else { text };
        if pad { format!("  {text} ") } else { text }
    })
}

fn values(pool: Vec<Named>) -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(value_of(pool), 0..3)
}

fn type_values() -> impl Strategy<Value = Vec<String>> {
    let mut pool = types();
    pool.push(Named::new(None, "launch", None));
    pool.push(Named::new(None, "event", None));
    values(pool)
}

fn filter() -> impl Strategy<Value = Filter> {
    (
        prop::sample::subsequence(vec![ItemKind::Event, ItemKind::Launch], 0..=2),
        type_values(),
        values(agencies()),
        values(programs()),
        prop::collection::vec(value_of(types()), 0..2),
        prop::collection::vec(value_of(agencies()), 0..2),
        prop::collection::vec(value_of(programs()), 0..2),
    )
        .prop_map(|(kinds, types, agencies, programs, exclude_types, exclude_agencies, exclude_programs)| Filter {
            kinds,
            types,
            agencies,
            programs,
            exclude_types,
            exclude_agencies,
            exclude_programs,
        })
}

const OFFSETS: [u64; 3] = [86_400, 3600, 600];

fn subscription(id: u64) -> impl Strategy<Value = Subscription> {
    (
        filter(),
        prop::sample::subsequence(AlertKind::ALL.to_vec(), 0..=5),
        prop::sample::subsequence(OFFSETS.to_vec(), 0..=3),
        prop::bool::weighted(0.85),
    )
        .prop_map(move |(filter, alerts, reminders, enabled)| Subscription {
            enabled,
            ..Subscription::new(SubId(id), Destination::Console, filter, Origin::Chat)
                .with_alerts(alerts)
                .with_reminders(reminders.into_iter().map(Duration::from_secs).collect())
        })
}

fn subscriptions() -> impl Strategy<Value = Vec<Subscription>> {
    (0usize..40).prop_flat_map(|n| (0..n as u64).map(|i| subscription(i * 7 + 1)).collect::<Vec<_>>())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn index_routes_exactly_what_a_scan_matches(
        subs in subscriptions(),
        updates in prop::collection::vec((any::<prop::sample::Index>(), subscription(0)), 0..8),
        removals in prop::collection::vec(any::<prop::sample::Index>(), 0..5),
        items in prop::collection::vec(item(), 1..6),
    ) {
        let mut index = Index::from_subscriptions(subs.iter());
        let mut live: Vec<Subscription> = subs.clone();
        // Updates replace a subscription in place (same id, new filter).
        for (which, mut replacement) in updates {
            if live.is_empty() {
                break;
            }
            let i = which.index(live.len());
            replacement.id = live[i].id;
            index.insert(&replacement);
            live[i] = replacement;
        }
        let mut removed = HashSet::new();
        for which in removals {
            if live.is_empty() {
                break;
            }
            let id = live[which.index(live.len())].id;
            index.remove(id);
            removed.insert(id);
        }
        live.retain(|s| !removed.contains(&s.id));
        for item in &items {
            for kind in AlertKind::ALL {
                let mut expected: Vec<SubId> = live.iter().filter(|s| s.matches(item, kind)).map(|s| s.id).collect();
                expected.sort();
                prop_assert_eq!(index.route(item, kind), expected, "kind {}", kind);
            }
            for secs in OFFSETS {
                let offset = Duration::from_secs(secs);
                let mut expected: Vec<SubId> = live
                    .iter()
                    .filter(|s| s.matches(item, AlertKind::Reminder) && s.reminders.contains(&offset))
                    .map(|s| s.id)
                    .collect();
                expected.sort();
                prop_assert_eq!(index.route_reminder(item, offset), expected, "reminder {}s", secs);
            }
        }
        let mut offsets: Vec<Duration> =
            live.iter().filter(|s| s.enabled).flat_map(|s| s.reminders.iter().copied()).collect();
        offsets.sort();
        offsets.dedup();
        prop_assert_eq!(index.reminder_offsets(), offsets);
    }
}

// ---- rendering -------------------------------------------------------------------

/// Parses Telegram HTML the strict way: only the tags tminus emits, every
/// tag closed in order, every `&` a complete entity, no stray `>`.
fn check_telegram_html(s: &str) -> Result<(), String> {
    let mut stack: Vec<&str> = Vec::new();
    let mut rest = s;
    while let Some(c) = rest.chars().next() {
        match c {
            '<' => {
                let end = rest.find('>').ok_or("unclosed tag")?;
                let inner = &rest[1..end];
                if inner.contains('<') || inner.contains('\n') {
                    return Err(format!("broken tag {inner:?}"));
                }
                if let Some(name) = inner.strip_prefix('/') {
                    if stack.pop() != Some(name) {
                        return Err(format!("unexpected </{name}>"));
                    }
                } else {
                    let name = inner.split(' ').next().unwrap_or("");
                    match name {
                        "b" | "i" if inner == name => {}
                        "a" if inner.starts_with("a href=\"") && inner.ends_with('"') => {}
                        _ => return Err(format!("unexpected tag <{inner}>")),
                    }
                    stack.push(name);
                }
                rest = &rest[end + 1..];
            }
            '&' => {
                let entity = ["&amp;", "&lt;", "&gt;", "&quot;"].into_iter().find(|e| rest.starts_with(e));
                let Some(entity) = entity else {
                    return Err(format!("split or unknown entity at {:?}", rest.chars().take(8).collect::<String>()));
                };
                rest = &rest[entity.len()..];
            }
            '>' => return Err("stray >".into()),
            c => rest = &rest[c.len_utf8()..],
        }
    }
    match stack.pop() {
        Some(open) => Err(format!("unclosed <{open}>")),
        None => Ok(()),
    }
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        Just(Change::New),
        (prop::option::of(time()), prop::option::of(time())).prop_map(|(old_when, new_when)| Change::Schedule {
            old_when,
            new_when,
            old_precision: None,
            new_precision: Some(Precision::Minute),
            old_window: (old_when, None),
            new_window: (new_when, None),
        }),
        (prop::option::of(prop::sample::select(statuses())), prop::option::of(prop::sample::select(statuses())))
            .prop_map(|(old, new)| Change::Status { old, new }),
        (any::<bool>(), prop::option::of(hostile())).prop_map(|(went_live, url)| Change::Webcast {
            went_live,
            url: url.map(|u| format!("https://v.example/{u}"))
        }),
        (prop::sample::select(OFFSETS.to_vec()), time())
            .prop_map(|(s, when)| Change::Reminder { offset: Duration::from_secs(s), when }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn telegram_text_fits_and_stays_well_formed(
        item in item(),
        change in change(),
        tz in prop::sample::select(vec![chrono_tz::UTC, chrono_tz::Europe::Berlin, chrono_tz::Asia::Kolkata, chrono_tz::Pacific::Chatham]),
        now in time(),
        long in prop::option::of(("[&<>\"🚀 a]{1,4}", 500usize..3000)),
        extra_changes in prop::collection::vec(hostile(), 0..10),
    ) {
        let mut item = item;
        if let Some((unit, n)) = long {
            item.description = Some(unit.repeat(n));
            item.name = unit.repeat(n / 4);
        }
        let alert = Alert { id: AlertId(1), item, changes: vec![change], detected_at: now };
        let mut msg = render::message(&alert, tz, now);
        msg.changes.extend(extra_changes);

        let html = telegram::html(&msg);
        prop_assert!(telegram::utf16_len(&html) <= telegram::TEXT_LIMIT, "{} units", telegram::utf16_len(&html));
        prop_assert!(!html.trim().is_empty());
        if let Err(e) = check_telegram_html(&html) {
            return Err(TestCaseError::fail(format!("{e} in {html:?}")));
        }
        if let Some(caption) = telegram::caption(&msg) {
            prop_assert!(telegram::utf16_len(&caption) <= telegram::CAPTION_LIMIT);
            if let Err(e) = check_telegram_html(&caption) {
                return Err(TestCaseError::fail(format!("{e} in caption {caption:?}")));
            }
        }
        for (label, url) in telegram::buttons(&msg) {
            prop_assert!(!label.is_empty() && url.starts_with("http"));
        }

        let payload = serde_json::to_value(tminus::discord::render::webhook_message(&msg, &[])).unwrap();
        prop_assert!(tminus::discord::render::check_limits(&payload).is_ok(), "{:?}", tminus::discord::render::check_limits(&payload));
        prop_assert!(!render::console(&msg).is_empty());
    }
}
