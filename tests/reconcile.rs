//! Reconciliation of `[[watch]]` entries with the stored subscriptions, on a
//! real store in a temporary directory: added, changed and removed watches,
//! several destinations per watch, chat subscriptions left alone, platform-
//! disabled subscriptions, idempotence and reopening the store. The routing
//! index is checked with real fixture items after every step.

/// Only the shared data, not the fakes: this test needs no server.
#[allow(unreachable_pub)]
#[path = "support/data.rs"]
#[allow(dead_code)]
mod data;

use std::time::Duration;

use data::fixture_items;
use tminus::config::Watch;
use tminus::item::Item;
use tminus::rules::{Filter, Origin, SubId, Subscription};
use tminus::store::Store;
use tminus::subscriptions::{Reconciled, Subscriptions};
use tminus::types::{AlertKind, ChannelId, ChatId, Destination, Feed, ItemKind, Secret, Style};

const H: Duration = Duration::from_secs(3600);

/// Real items: an MHI launch (MMX), a SpaceX non-Starlink launch (Roman),
/// a Starlink launch, and ESA's Juice Earth flyby event.
struct Items {
    mmx: Item,
    roman: Item,
    starlink: Item,
    juice: Item,
}

fn items() -> Items {
    let launches = fixture_items(Feed::Launches, "launches-2.3.0-upcoming-detailed.json");
    let older = fixture_items(Feed::Launches, "launches-2.2.0-upcoming-detailed.json");
    let events = fixture_items(Feed::Events, "events-2.3.0-upcoming-detailed.json");
    let by_name = |list: &[Item], needle: &str| list.iter().find(|i| i.name.contains(needle)).unwrap().clone();
    Items {
        mmx: by_name(&launches, "MMX"),
        roman: by_name(&launches, "Nancy Grace Roman"),
        starlink: by_name(&older, "Starlink"),
        juice: by_name(&events, "Juice Earth Flyby"),
    }
}

fn watch(name: &str, to: &[&str]) -> Watch {
    Watch {
        name: name.to_string(),
        to: to.iter().map(|d| d.parse().unwrap()).collect(),
        kinds: vec![ItemKind::Event, ItemKind::Launch],
        types: vec![],
        agencies: vec![],
        programs: vec![],
        exclude_types: vec![],
        exclude_agencies: vec![],
        exclude_programs: vec![],
        alerts: AlertKind::ALL.to_vec(),
        timezone: chrono_tz::Europe::Berlin,
        reminders: vec![24 * H, H],
        schedule_horizon: None,
        mentions: vec![],
        quiet_hours: None,
        silent: vec![],
        style: Style::Messages,
        digest: None,
    }
}

fn spacex_no_starlink() -> Watch {
    Watch {
        agencies: vec!["SpaceX".into()],
        exclude_programs: vec!["Starlink".into()],
        ..watch("spacex", &["telegram:-1001234567890", "discord:112233445566778899"])
    }
}

fn esa_flybys() -> Watch {
    Watch { agencies: vec!["ESA".into()], types: vec!["Flyby".into()], ..watch("esa flybys", &["console"]) }
}

fn japan() -> Watch {
    Watch {
        agencies: vec!["98".into()],
        ..watch("japan", &["discord-webhook:https://discord.com/api/webhooks/1/SECRET"])
    }
}

/// Opens a store that was just closed. sled releases its file lock from a
/// background thread shortly after the last handle is dropped, so an
/// immediate reopen in the same process can briefly fail with `WouldBlock`.
fn reopen(path: &std::path::Path) -> Store {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        match Store::open(path) {
            Ok(store) => return store,
            Err(e) if std::time::Instant::now() < deadline && e.to_string().contains("could not acquire lock") => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("reopening the store: {e}"),
        }
    }
}

fn config_subs(subs: &Subscriptions) -> Vec<Subscription> {
    subs.all().unwrap().into_iter().filter(|s| matches!(s.origin, Origin::Config { .. })).collect()
}

fn find(subs: &Subscriptions, watch: &str, dest: &Destination) -> Subscription {
    subs.all()
        .unwrap()
        .into_iter()
        .find(|s| s.origin == Origin::Config { watch: watch.into() } && s.destination == *dest)
        .unwrap_or_else(|| panic!("no subscription for {watch} → {dest}"))
}

fn route(subs: &Subscriptions, item: &Item, kind: AlertKind) -> Vec<SubId> {
    subs.index().read().unwrap().route(item, kind)
}

fn rec(added: usize, changed: usize, removed: usize, unchanged: usize) -> Reconciled {
    Reconciled { added, changed, removed, unchanged }
}

fn tg() -> Destination {
    Destination::Telegram(ChatId(-1001234567890))
}

fn dc() -> Destination {
    Destination::Discord(ChannelId(112233445566778899))
}

fn chat_sub(id: u64) -> Subscription {
    let starlink = Filter { programs: vec!["Starlink".into()], ..Default::default() };
    Subscription::new(SubId(id), tg(), starlink, Origin::Chat)
        .with_alerts(vec![AlertKind::New, AlertKind::Reminder])
        .with_reminders(vec![Duration::from_secs(600)])
        .with_timezone(chrono_tz::America::New_York)
}

#[test]
fn added_changed_removed_with_several_destinations() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let subs = Subscriptions::load(store.clone()).unwrap();
    let it = items();

    // Start: two watches, one with two destinations.
    assert_eq!(subs.reconcile(&[spacex_no_starlink(), esa_flybys()]).unwrap(), rec(3, 0, 0, 0));
    let all = config_subs(&subs);
    assert_eq!(all.len(), 3);
    let spx_tg = find(&subs, "spacex", &tg());
    let spx_dc = find(&subs, "spacex", &dc());
    let esa = find(&subs, "esa flybys", &Destination::Console);
    assert_ne!(spx_tg.id, spx_dc.id, "one subscription per destination");
    assert_eq!(spx_tg.filter, spx_dc.filter);
    assert_eq!(spx_tg.filter.exclude_programs, ["Starlink"]);
    assert_eq!(spx_tg.timezone, chrono_tz::Europe::Berlin);
    assert_eq!(spx_tg.reminders, [24 * H, H]);
    assert!(spx_tg.enabled && esa.enabled);

    let both = vec![spx_tg.id.min(spx_dc.id), spx_tg.id.max(spx_dc.id)];
    assert_eq!(route(&subs, &it.roman, AlertKind::New), both);
    assert!(route(&subs, &it.starlink, AlertKind::New).is_empty(), "SpaceX except Starlink");
    assert_eq!(route(&subs, &it.juice, AlertKind::Schedule), [esa.id]);
    assert!(route(&subs, &it.mmx, AlertKind::New).is_empty());

    // Change: the ESA watch now wants any ESA item and only status alerts;
    // the SpaceX watch loses its Discord destination; a new watch appears.
    let esa_changed = Watch { types: vec![], alerts: vec![AlertKind::Status], ..esa_flybys() };
    let spx_tg_only = Watch { to: vec![tg()], ..spacex_no_starlink() };
    assert_eq!(subs.reconcile(&[spx_tg_only.clone(), esa_changed.clone(), japan()]).unwrap(), rec(1, 1, 1, 1));
    let esa2 = find(&subs, "esa flybys", &Destination::Console);
    assert_eq!(esa2.id, esa.id, "a changed watch keeps its subscription id");
    assert!(esa2.filter.types.is_empty());
    assert_eq!(esa2.alerts, [AlertKind::Status]);
    assert_eq!(find(&subs, "spacex", &tg()), spx_tg, "unchanged destination untouched");
    assert!(subs.all().unwrap().iter().all(|s| s.destination != dc()), "Discord destination dropped");
    let jp = find(&subs, "japan", &"discord-webhook:https://discord.com/api/webhooks/1/SECRET".parse().unwrap());
    assert_eq!(jp.destination, Destination::DiscordWebhook(Secret::new("https://discord.com/api/webhooks/1/SECRET")));

    // The index follows: ESA now only for status, Discord gone, MHI routed.
    assert!(route(&subs, &it.juice, AlertKind::Schedule).is_empty());
    assert_eq!(route(&subs, &it.juice, AlertKind::Status), [esa.id]);
    assert_eq!(route(&subs, &it.roman, AlertKind::New), [spx_tg.id]);
    assert_eq!(route(&subs, &it.mmx, AlertKind::New), [jp.id]);

    // Remove the japan watch and the ESA watch entirely.
    assert_eq!(subs.reconcile(std::slice::from_ref(&spx_tg_only)).unwrap(), rec(0, 0, 2, 1));
    assert_eq!(config_subs(&subs).len(), 1);
    assert!(route(&subs, &it.mmx, AlertKind::New).is_empty());
    assert!(route(&subs, &it.juice, AlertKind::Status).is_empty());
    assert_eq!(subs.index().read().unwrap().len(), 1);

    // No watches at all: every config subscription goes.
    assert_eq!(subs.reconcile(&[]).unwrap(), rec(0, 0, 1, 0));
    assert!(subs.all().unwrap().is_empty());
    assert!(subs.index().read().unwrap().is_empty());
}

#[test]
fn changed_timezone_or_reminders_is_a_change() {
    let dir = tempfile::tempdir().unwrap();
    let subs = Subscriptions::load(Store::open(dir.path()).unwrap()).unwrap();
    subs.reconcile(&[esa_flybys()]).unwrap();
    let before = find(&subs, "esa flybys", &Destination::Console);

    let tz = Watch { timezone: chrono_tz::America::New_York, ..esa_flybys() };
    assert_eq!(subs.reconcile(std::slice::from_ref(&tz)).unwrap(), rec(0, 1, 0, 0));
    let after = find(&subs, "esa flybys", &Destination::Console);
    assert_eq!((after.id, after.timezone), (before.id, chrono_tz::America::New_York));

    let rem = Watch { reminders: vec![Duration::from_secs(600)], ..tz };
    assert_eq!(subs.reconcile(std::slice::from_ref(&rem)).unwrap(), rec(0, 1, 0, 0));
    assert_eq!(subs.index().read().unwrap().reminder_offsets(), [Duration::from_secs(600)]);

    // Renaming a watch is a removal plus an addition (watches match by name).
    let renamed = Watch { name: "ESA flybys (renamed)".into(), ..rem };
    assert_eq!(subs.reconcile(std::slice::from_ref(&renamed)).unwrap(), rec(1, 0, 1, 0));
    assert_ne!(find(&subs, "ESA flybys (renamed)", &Destination::Console).id, before.id);
}

#[test]
fn changed_quiet_hours_or_silent_kinds_is_a_change() {
    let dir = tempfile::tempdir().unwrap();
    let subs = Subscriptions::load(Store::open(dir.path()).unwrap()).unwrap();
    subs.reconcile(&[esa_flybys()]).unwrap();
    let quiet =
        Watch { quiet_hours: Some("23:00-07:00".parse().unwrap()), silent: vec![AlertKind::Schedule], ..esa_flybys() };
    assert_eq!(subs.reconcile(std::slice::from_ref(&quiet)).unwrap(), rec(0, 1, 0, 0));
    let after = find(&subs, "esa flybys", &Destination::Console);
    assert_eq!(after.quiet_hours.map(|q| q.to_string()).as_deref(), Some("23:00-07:00"));
    assert_eq!(after.silent, [AlertKind::Schedule]);
    assert_eq!(subs.reconcile(std::slice::from_ref(&quiet)).unwrap(), rec(0, 0, 0, 1));
}

#[test]
fn a_watch_style_reaches_its_subscriptions_on_reconcile() {
    let dir = tempfile::tempdir().unwrap();
    let subs = Subscriptions::load(Store::open(dir.path()).unwrap()).unwrap();
    subs.reconcile(&[esa_flybys()]).unwrap();
    assert_eq!(find(&subs, "esa flybys", &Destination::Console).style, Style::Messages);
    let card = Watch { style: Style::Card, ..esa_flybys() };
    assert_eq!(subs.reconcile(std::slice::from_ref(&card)).unwrap(), rec(0, 1, 0, 0));
    assert_eq!(find(&subs, "esa flybys", &Destination::Console).style, Style::Card);
}

#[test]
fn a_watchs_digest_reaches_its_subscription_and_a_change_is_a_change() {
    let dir = tempfile::tempdir().unwrap();
    let subs = Subscriptions::load(Store::open(dir.path()).unwrap()).unwrap();
    subs.reconcile(&[esa_flybys()]).unwrap();
    let daily = Watch { digest: Some("daily 08:00".parse().unwrap()), ..esa_flybys() };
    assert_eq!(subs.reconcile(std::slice::from_ref(&daily)).unwrap(), rec(0, 1, 0, 0));
    let after = find(&subs, "esa flybys", &Destination::Console);
    assert_eq!(after.digest.map(|d| d.to_string()).as_deref(), Some("daily 08:00"));
    assert_eq!(subs.reconcile(std::slice::from_ref(&daily)).unwrap(), rec(0, 0, 0, 1));
    subs.reconcile(&[esa_flybys()]).unwrap();
    assert_eq!(find(&subs, "esa flybys", &Destination::Console).digest, None, "removed from the watch: off");
}

#[test]
fn chat_subscriptions_are_never_touched() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let subs = Subscriptions::load(store.clone()).unwrap();
    let it = items();
    // A chat subscription to the same destination as a config watch.
    let chat = chat_sub(store.next_id().unwrap());
    subs.put(&chat).unwrap();

    assert_eq!(subs.reconcile(&[spacex_no_starlink()]).unwrap(), rec(2, 0, 0, 0));
    assert_eq!(
        subs.reconcile(&[Watch { agencies: vec!["NASA".into()], ..spacex_no_starlink() }]).unwrap(),
        rec(0, 2, 0, 0)
    );
    assert_eq!(subs.reconcile(&[]).unwrap(), rec(0, 0, 2, 0));
    assert_eq!(subs.all().unwrap(), std::slice::from_ref(&chat), "only the chat subscription is left, unchanged");
    assert_eq!(route(&subs, &it.starlink, AlertKind::New), [chat.id]);
    assert!(route(&subs, &it.starlink, AlertKind::Status).is_empty());
    assert_eq!(subs.index().read().unwrap().route_reminder(&it.starlink, Duration::from_secs(600)), [chat.id]);

    // A disabled chat subscription stays disabled through reconciliation too.
    let off = Subscription { enabled: false, ..chat.clone() };
    subs.put(&off).unwrap();
    subs.reconcile(&[esa_flybys()]).unwrap();
    assert_eq!(subs.all().unwrap().into_iter().find(|s| s.id == chat.id), Some(off));
    assert!(route(&subs, &it.starlink, AlertKind::New).is_empty());
}

#[test]
fn platform_disabled_subscription_stays_disabled_until_its_watch_changes() {
    let dir = tempfile::tempdir().unwrap();
    let subs = Subscriptions::load(Store::open(dir.path()).unwrap()).unwrap();
    let it = items();
    subs.reconcile(&[spacex_no_starlink()]).unwrap();

    // The Telegram sender found the chat gone and disabled the subscription.
    let tg_sub = find(&subs, "spacex", &tg());
    let dc_sub = find(&subs, "spacex", &dc());
    assert_eq!(subs.set_enabled(&tg(), false).unwrap(), 1);
    assert!(!find(&subs, "spacex", &tg_sub.destination).enabled);
    assert_eq!(route(&subs, &it.roman, AlertKind::New), [dc_sub.id]);

    // Restart with the same config: still disabled, counted as unchanged.
    assert_eq!(subs.reconcile(&[spacex_no_starlink()]).unwrap(), rec(0, 0, 0, 2));
    assert!(!find(&subs, "spacex", &tg()).enabled);
    assert_eq!(route(&subs, &it.roman, AlertKind::New), [dc_sub.id]);

    // The operator edits the watch: the subscription is enabled again.
    let edited = Watch { alerts: vec![AlertKind::New, AlertKind::Status], ..spacex_no_starlink() };
    assert_eq!(subs.reconcile(std::slice::from_ref(&edited)).unwrap(), rec(0, 2, 0, 0));
    let again = find(&subs, "spacex", &tg());
    assert!(again.enabled);
    assert_eq!(again.id, tg_sub.id);
    let mut both = vec![tg_sub.id, dc_sub.id];
    both.sort();
    assert_eq!(route(&subs, &it.roman, AlertKind::New), both);
    assert!(route(&subs, &it.roman, AlertKind::Schedule).is_empty());
}

#[tokio::test]
async fn idempotent_and_survives_reopening_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let it = items();
    let watches = [spacex_no_starlink(), esa_flybys(), japan()];
    let (before, chat) = {
        let store = Store::open(dir.path()).unwrap();
        let subs = Subscriptions::load(store.clone()).unwrap();
        let chat = chat_sub(store.next_id().unwrap());
        subs.put(&chat).unwrap();
        assert_eq!(subs.reconcile(&watches).unwrap(), rec(4, 0, 0, 0));
        let first = subs.all().unwrap();
        assert_eq!(subs.reconcile(&watches).unwrap(), rec(0, 0, 0, 4), "second run: all unchanged");
        assert_eq!(subs.all().unwrap(), first, "and nothing rewritten");
        store.flush().await.unwrap();
        (first, chat)
    };

    // Reopen: everything is still there, reconciliation finds nothing to do,
    // and the freshly loaded index routes as before.
    let store = reopen(dir.path());
    let subs = Subscriptions::load(store.clone()).unwrap();
    assert_eq!(subs.all().unwrap(), before);
    assert_eq!(subs.reconcile(&watches).unwrap(), rec(0, 0, 0, 4));
    assert_eq!(subs.all().unwrap(), before);
    assert_eq!(subs.index().read().unwrap().len(), 5);
    assert_eq!(route(&subs, &it.mmx, AlertKind::New), [find(&subs, "japan", &japan().to[0]).id]);
    assert_eq!(route(&subs, &it.starlink, AlertKind::New), [chat.id]);

    // New ids never collide with those handed out before the restart.
    assert_eq!(
        subs.reconcile(&[spacex_no_starlink(), esa_flybys(), japan(), watch("all", &["console"])]).unwrap(),
        rec(1, 0, 0, 4)
    );
    let ids: std::collections::BTreeSet<SubId> = subs.all().unwrap().iter().map(|s| s.id).collect();
    assert_eq!(ids.len(), 6);
}

#[test]
fn disabling_enabling_and_migrating_a_destination_reach_routing_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let subs = Subscriptions::load(Store::open(dir.path()).unwrap()).unwrap();
    let it = items();
    let everything = |id: u64, dest: Destination| Subscription::new(SubId(id), dest, Filter::default(), Origin::Chat);
    let other = Destination::Telegram(ChatId(42));
    for s in [everything(1, tg()), chat_sub(2), everything(3, other.clone())] {
        subs.put(&s).unwrap();
    }
    assert_eq!(route(&subs, &it.starlink, AlertKind::New), [SubId(1), SubId(2), SubId(3)]);

    // The bot was blocked in the group: both of its subscriptions stop.
    assert_eq!(subs.set_enabled(&tg(), false).unwrap(), 2);
    assert_eq!(route(&subs, &it.starlink, AlertKind::New), [SubId(3)]);
    assert_eq!(subs.set_enabled(&tg(), false).unwrap(), 0, "nothing left to disable");
    assert_eq!(subs.set_enabled(&tg(), true).unwrap(), 2);
    assert_eq!(route(&subs, &it.starlink, AlertKind::New), [SubId(1), SubId(2), SubId(3)]);

    // The group became a supergroup: its subscriptions move, the rest stay.
    let moved = Destination::Telegram(ChatId(-1_009_876_543_210));
    assert_eq!(subs.migrate(&tg(), &moved).unwrap(), 2);
    let by_dest = |dest: &Destination| -> Vec<SubId> {
        subs.all().unwrap().into_iter().filter(|s| s.destination == *dest).map(|s| s.id).collect()
    };
    assert_eq!(by_dest(&moved), [SubId(1), SubId(2)]);
    assert!(by_dest(&tg()).is_empty());
    assert_eq!(by_dest(&other), [SubId(3)]);
    assert_eq!(route(&subs, &it.starlink, AlertKind::New), [SubId(1), SubId(2), SubId(3)]);

    // A restart sees the same.
    drop(subs);
    let subs = Subscriptions::load(Store::open(dir.path()).unwrap()).unwrap();
    assert_eq!(subs.all().unwrap().iter().filter(|s| s.destination == moved).count(), 2);
}
