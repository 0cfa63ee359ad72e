use super::*;
use crate::commands::test_fixture::{Fixture, context};
use crate::detect::tests::sample_launch;
use crate::item::Named;
use crate::rules::{SubId, Subscription};
use crate::types::{ChatId, ItemId, ItemKind};

/// Twelve launches, one a day from 2026-12-02; every third by Rocket Lab
/// (id 147), the rest SpaceX (id 121).
fn fixture() -> Fixture {
    let items: Vec<Item> = (0..12)
        .map(|n| {
            let mut item = sample_launch();
            item.id = ItemId::new(ItemKind::Launch, format!("00000000-0000-0000-0000-{n:012}"));
            item.name = format!("Launch {n}");
            item.when = Some("2026-12-02T12:00:00Z".parse::<DateTime<Utc>>().unwrap() + chrono::Duration::days(n));
            if n % 3 == 2 {
                item.agencies = vec![Named::new(Some(147), "Rocket Lab", None)];
            }
            item
        })
        .collect();
    Fixture::with_items(items)
}

fn ctx(chat: i64) -> CommandContext {
    context(chat, false)
}

fn page(view: &View) -> (&str, &Keyboard) {
    match view {
        View::Page { text, keyboard } => (text, keyboard),
        View::Card { .. } => panic!("a card, not a page: {view:?}"),
    }
}

fn find<'a>(keyboard: &'a Keyboard, label: &str) -> &'a str {
    let key = keyboard.iter().flatten().find(|k| k.label == label);
    &key.unwrap_or_else(|| panic!("no {label:?} in {keyboard:?}")).data
}

fn labels(keyboard: &Keyboard) -> Vec<&str> {
    keyboard.iter().flatten().map(|k| k.label.as_str()).collect()
}

fn query(args: &str) -> NextQuery {
    parse_next(args).unwrap()
}

#[test]
fn actions_and_data_round_trip_and_anything_else_is_refused() {
    for a in [Action::Page(0), Action::Refresh(35), Action::Details(999, 0xbeef), Action::Details(3, 0)] {
        assert_eq!(Action::decode(&a.encode()), Some(a));
        let d = data(a, "5 agency 121");
        assert!(is_next_data(&d) && d.len() <= MAX_DATA_LEN);
        assert_eq!(decode(&d), Some((a, "5 agency 121")));
    }
    for bad in ["", "p", "p-1", "p+1", "p1000", "x1", "d1", "d1.abc", "d1.abcde", "d1.zzzz", "r1e3"] {
        assert_eq!(Action::decode(bad), None, "{bad:?}");
    }
    let good = data(Action::Page(5), "5");
    let forged = good.replace("p5", "p9");
    assert_eq!(decode(&forged), None, "the check covers the action");
    assert_eq!(decode(&good[..good.len() - 1]), None, "cut data");
    assert_eq!(decode(&format!("{good}{}", "x".repeat(64))), None, "too long");
    assert!(!is_next_data("s:0a1b2c3d:hoff"));
}

#[test]
fn pages_have_navigation_details_and_countdowns() {
    let f = fixture();
    let view = open(&query(""), &ctx(1), &f.services()).unwrap().unwrap();
    let (text, keys) = page(&view);
    assert!(text.starts_with("Coming up:\n1. Launch 0 — 2026-12-02 12:00 UTC (T-1d 12h)"), "{text}");
    assert_eq!(text.lines().count(), 6, "{text}");
    assert_eq!(labels(keys), ["🔄", "Later ▶", "ℹ️ 1", "ℹ️ 2", "ℹ️ 3", "ℹ️ 4", "ℹ️ 5"]);
    assert!(keys.iter().flatten().all(|k| k.data.len() <= MAX_DATA_LEN));

    let later = press(find(keys, "Later ▶"), &ctx(1), &f.services()).unwrap();
    assert_eq!(later.toast, "Items 6–10 of 12");
    let (text, keys) = page(&later.view);
    assert!(text.starts_with("Coming up:\n6. Launch 5"), "{text}");
    assert_eq!(labels(keys)[..3], ["◀ Earlier", "🔄", "Later ▶"]);
    let last = press(find(keys, "Later ▶"), &ctx(1), &f.services()).unwrap();
    let (text, keys) = page(&last.view);
    assert!(text.contains("11. Launch 10\u{20}") && text.lines().count() == 3, "{text}");
    assert_eq!(labels(keys), ["◀ Earlier", "🔄", "ℹ️ 11", "ℹ️ 12"], "no Later on the last page");
    let back = press(find(keys, "◀ Earlier"), &ctx(1), &f.services()).unwrap();
    assert!(page(&back.view).0.starts_with("Coming up:\n6. Launch 5"));
    let refreshed = press(find(keys, "🔄"), &ctx(1), &f.services()).unwrap();
    assert_eq!(refreshed.view, last.view, "🔄 of an unchanged page shows the same page");
}

#[test]
fn details_show_the_alert_card_and_back_returns_to_the_page() {
    let f = fixture();
    let first = open(&query("3"), &ctx(1), &f.services()).unwrap().unwrap();
    let later = press(find(page(&first).1, "Later ▶"), &ctx(1), &f.services()).unwrap();
    let details = press(find(page(&later.view).1, "ℹ️ 5"), &ctx(1), &f.services()).unwrap();
    assert_eq!(details.toast, "Launch 4");
    let View::Card { message, keyboard } = &details.view else { panic!("{details:?}") };
    assert_eq!(message.title, "Launch 4");
    assert_eq!(message.headline, "Coming up #5");
    assert!(message.when.as_deref().is_some_and(|w| w.contains("2026-12-06")), "{message:?}");
    assert!(render::console(message).contains("Launch 4"), "the console renderer draws it like an alert");
    assert_eq!(labels(keyboard), ["◀ Back"]);
    let back = press(find(keyboard, "◀ Back"), &ctx(1), &f.services()).unwrap();
    assert_eq!(back.view, later.view, "Back returns to the page the card came from");
}

#[test]
fn a_filter_is_kept_across_pages_in_short_form() {
    let f = fixture();
    let view = open(&query("2 agency Rocket Lab"), &ctx(1), &f.services()).unwrap().unwrap();
    let (text, keys) = page(&view);
    assert!(text.starts_with("Coming up:\n1. Launch 2 —") && text.contains("2. Launch 5 —"), "{text}");
    let later = find(keys, "Later ▶");
    assert!(later.ends_with(":2 agency 147"), "names known to the directory travel as ids: {later}");
    let pressed = press(later, &ctx(1), &f.services()).unwrap();
    let text = page(&pressed.view).0;
    assert!(text.starts_with("Coming up:\n3. Launch 8 —") && text.contains("4. Launch 11 —"), "{text}");
    // A bare name too.
    let view = open(&query("2 Rocket Lab"), &ctx(1), &f.services()).unwrap().unwrap();
    let later = press(find(page(&view).1, "Later ▶"), &ctx(1), &f.services()).unwrap();
    assert!(page(&later.view).0.starts_with("Coming up:\n3. Launch 8 —"));
}

#[test]
fn without_a_filter_the_pressers_chat_decides() {
    let f = fixture();
    let sub = Subscription::new(
        SubId(1),
        Destination::Telegram(ChatId(2)),
        Filter { agencies: vec!["Rocket Lab".into()], ..Filter::default() },
        Origin::Chat,
    );
    f.subs.put(&sub).unwrap();
    let mine = open(&query(""), &ctx(2), &f.services()).unwrap().unwrap();
    let data = find(page(&mine).1, "🔄").to_string();
    assert!(page(&press(&data, &ctx(2), &f.services()).unwrap().view).0.contains("1. Launch 2 —"));
    // The same button pressed in another chat shows that chat's list.
    assert!(page(&press(&data, &ctx(3), &f.services()).unwrap().view).0.contains("1. Launch 0 —"));
}

#[test]
fn stale_presses_get_a_toast_and_a_fresh_page() {
    let f = fixture();
    let c = ctx(1);
    // Page past the end (the list shrank): the last page.
    let gone = press(&data(Action::Page(40), "5"), &c, &f.services()).unwrap();
    assert!(gone.toast.contains("gone"), "{gone:?}");
    assert!(page(&gone.view).0.contains("11. Launch 10"));
    // Made-up or damaged data: the default page.
    for bad in ["n:", "n:zzzz:p0:5", "n:0000:p0:5", "mute:launch/x", &data(Action::Page(0), "5 agency")] {
        let p = press(bad, &c, &f.services()).unwrap();
        assert!(p.toast.contains("not one I understand"), "{bad}: {p:?}");
        assert!(page(&p.view).0.starts_with("Coming up:\n1. Launch 0"));
    }
    // A name the directory no longer knows: its problem as the toast.
    let p = press(&data(Action::Page(0), "5 agency SpaceY"), &c, &f.services()).unwrap();
    assert!(p.toast.contains("Did you mean SpaceX?"), "{p:?}");
    // Details of an item that moved: followed; that is gone: the page.
    let view = open(&query(""), &c, &f.services()).unwrap().unwrap();
    let launch_3 = find(page(&view).1, "ℹ️ 4").to_string();
    let later = Context { now: "2026-12-03T00:00:00Z".parse().unwrap(), ..c.clone() };
    let moved = press(&launch_3, &later, &f.services()).unwrap();
    assert!(matches!(&moved.view, View::Card { message, .. } if message.title == "Launch 3"), "{moved:?}");
    let much_later = Context { now: "2026-12-06T00:00:00Z".parse().unwrap(), ..c };
    let gone = press(&launch_3, &much_later, &f.services()).unwrap();
    assert!(gone.toast.contains("no longer upcoming"), "{gone:?}");
    assert!(page(&gone.view).0.starts_with("Coming up:\n1. Launch 4"), "{gone:?}");
}

type Context = CommandContext;

#[test]
fn empty_lists_long_queries_and_discord_countdowns() {
    let f = fixture();
    let problem = open(&query("program Artemis"), &ctx(1), &f.services()).unwrap();
    assert!(problem.is_err(), "unknown names are a problem, not a page");
    let nothing = open(&query("agency 9999"), &ctx(1), &f.services()).unwrap().unwrap();
    let (text, keys) = page(&nothing);
    assert_eq!(text, "Nothing upcoming matches that right now.");
    assert_eq!(labels(keys), ["🔄"]);
    // A query longer than the data allows: no buttons, and said so.
    let long: String = (0..8).map(|n| format!(" -program 9999{n}")).collect();
    let long = format!("2 agency SpaceX{long}");
    let view = open(&query(&long), &ctx(1), &f.services()).unwrap().unwrap();
    let (text, keys) = page(&view);
    assert!(keys.is_empty(), "{keys:?}");
    assert!(
        text.ends_with(
            "2. Launch 1 — 2026-12-03 12:00 UTC (T-2d 12h) [Go]\n8 in all. This filter is too long for buttons: send /next with a larger count to see more."
        ),
        "{text}"
    );
    let discord = CommandContext { destination: Destination::Discord(crate::types::ChannelId(5)), ..ctx(1) };
    let view = open(&query("1"), &discord, &f.services()).unwrap().unwrap();
    assert!(page(&view).0.contains("(<t:"), "{view:?}");
}

#[test]
fn a_launch_on_hold_or_in_flight_past_its_net_stays_listed_until_it_has_flown() {
    let now = ctx(1).now;
    let launch = |n: i64, hours: i64, status: Option<(i64, &str)>| {
        let mut item = sample_launch();
        item.id = ItemId::new(ItemKind::Launch, format!("00000000-0000-0000-0000-{n:012}"));
        item.name = format!("Launch {n}");
        item.when = Some(now + chrono::Duration::hours(hours));
        item.status = status.map(|(id, name)| Named::new(Some(id), name, None));
        item
    };
    let f = Fixture::with_items(vec![
        launch(0, -1, Some((5, "On Hold"))),
        launch(1, -1, Some((6, "Launch in Flight"))),
        launch(2, -1, Some((3, "Launch Successful"))),
        launch(3, -1, Some((1, "Go for Launch"))),
        launch(4, 2, Some((1, "Go for Launch"))),
    ]);
    let view = open(&query(""), &ctx(1), &f.services()).unwrap().unwrap();
    let (text, _) = page(&view);
    let listed: Vec<&str> = text.lines().skip(1).map(|l| l.split(" — ").next().unwrap()).collect();
    assert_eq!(listed, ["1. Launch 0", "2. Launch 1", "3. Launch 4"], "{text}");
}

#[test]
fn a_digests_buttons_page_on_past_it_and_open_its_items_cards() {
    let f = fixture();
    let mut items = f.store.items().unwrap();
    items.sort_by_key(|i| i.when);
    let shown: Vec<&Item> = items.iter().take(3).collect();
    let keys = digest_keyboard(&shown, items.len(), 3);
    assert_eq!(labels(&keys), ["Later ▶", "ℹ️ 1", "ℹ️ 2", "ℹ️ 3"]);
    assert!(keys.iter().flatten().all(|k| is_next_data(&k.data) && k.data.len() <= MAX_DATA_LEN));
    let later = press(find(&keys, "Later ▶"), &ctx(1), &f.services()).unwrap();
    assert!(page(&later.view).0.contains("4. Launch 3"), "{later:?}");
    let details = press(find(&keys, "ℹ️ 2"), &ctx(1), &f.services()).unwrap();
    let View::Card { message, .. } = &details.view else { panic!("{details:?}") };
    assert_eq!(message.title, "Launch 1");
    let all: Vec<&Item> = items.iter().collect();
    assert_eq!(labels(&digest_keyboard(&all[..2], 2, 3)), ["ℹ️ 1", "ℹ️ 2"], "nothing cut: no Later");
}
