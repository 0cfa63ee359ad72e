//! iCalendar feeds end to end: items committed to the store the way the
//! poller commits them, served by the calendar route on 127.0.0.1, fetched
//! over HTTP and read back with a real iCalendar parser (`icalendar`).

mod support;

use std::net::SocketAddr;

use chrono::{DateTime, Duration, TimeZone, Utc};
use icalendar::{Calendar, CalendarComponent, CalendarDateTime, Component, DatePerhapsTime, Event, EventLike};
use reqwest::StatusCode;
use support::data::sample_launch;
use tminus::calendar;
use tminus::commands::{ChatCommand, CommandContext, Defaults, Services, execute};
use tminus::directory::Directory;
use tminus::item::{Item, Named, Precision};
use tminus::rules::{Filter, Origin, SubId, Subscription};
use tminus::store::{Batch, Store};
use tminus::subscriptions::Subscriptions;
use tminus::types::{ChatId, Destination, ItemId, ItemKind};

struct Served {
    _dir: tempfile::TempDir,
    store: Store,
    subs: Subscriptions,
    base: String,
    http: reqwest::Client,
}

async fn serve() -> Served {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let subs = Subscriptions::load(store.clone()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let app = calendar::http::router(store.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    Served { _dir: dir, store, subs, base: format!("http://{addr}"), http: reqwest::Client::new() }
}

impl Served {
    fn watch(&self, name: &str, filter: Filter) {
        let id = SubId(self.store.next_id().unwrap());
        let dest = Destination::Calendar(name.into());
        self.subs.put(&Subscription::new(id, dest, filter, Origin::Config { watch: name.into() })).unwrap();
    }

    fn commit(&self, items: Vec<Item>) {
        self.store.apply(&Batch { items, ..Default::default() }).unwrap();
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.http.get(format!("{}{path}", self.base)).send().await.unwrap()
    }

    async fn calendar(&self, path: &str) -> (String, Calendar) {
        let resp = self.get(path).await;
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
        assert_eq!(resp.headers()["content-type"], "text/calendar; charset=utf-8");
        let body = resp.text().await.unwrap();
        let parsed: Calendar = body.parse().unwrap_or_else(|e| panic!("not iCalendar: {e}\n{body}"));
        (body, parsed)
    }
}

fn events(cal: &Calendar) -> Vec<&Event> {
    cal.components
        .iter()
        .filter_map(|c| match c {
            CalendarComponent::Event(e) => Some(e),
            _ => None,
        })
        .collect()
}

fn event<'a>(cal: &'a Calendar, ll2_id: &str) -> &'a Event {
    events(cal).into_iter().find(|e| e.get_uid().is_some_and(|u| u.contains(ll2_id))).expect("event by LL2 id")
}

/// Whole minutes, `days` from now.
fn in_days(days: i64) -> DateTime<Utc> {
    let t = Utc::now() + Duration::days(days);
    Utc.timestamp_opt(t.timestamp() / 60 * 60, 0).unwrap()
}

fn launch(id: &str, when: DateTime<Utc>, precision: Precision) -> Item {
    let mut item = sample_launch();
    item.id = ItemId::new(ItemKind::Launch, id);
    item.when = Some(when);
    item.window_start = Some(when);
    item.window_end = Some(when + Duration::minutes(90));
    item.precision = Some(precision);
    item
}

#[tokio::test]
async fn feed_is_served_parsed_and_follows_precision() {
    let s = serve().await;
    s.watch("spacex", Filter { agencies: vec!["SpaceX".into()], ..Default::default() });
    let precise = in_days(2);
    let coarse = in_days(20);
    let mut odd = launch("odd-1", in_days(3), Precision::Minute);
    odd.name = format!("Line one\nline two, with; odd \\ text 🚀 {}", "very long name ".repeat(12));
    odd.pad = Some("Pad 39A; LC, \"Kennedy\"".into());
    let mut other = launch("other-1", in_days(2), Precision::Minute);
    other.agencies = vec![Named::new(Some(44), "NASA", None)];
    s.commit(vec![
        launch("precise-1", precise, Precision::Minute),
        launch("coarse-1", coarse, Precision::Month),
        launch("day-1", in_days(4), Precision::Day),
        launch("old-1", in_days(-5), Precision::Minute),
        odd.clone(),
        other,
    ]);

    let (body, cal) = s.calendar("/calendar/spacex.ics").await;
    let uids: Vec<&str> = events(&cal).iter().filter_map(|e| e.get_uid()).collect();
    assert_eq!(uids.len(), 4, "matching, current items only: {uids:?}");
    assert!(!body.contains("other-1") && !body.contains("old-1"));

    let e = event(&cal, "precise-1");
    assert_eq!(e.get_start(), Some(DatePerhapsTime::DateTime(CalendarDateTime::Utc(precise))));
    assert_eq!(e.get_end(), Some(DatePerhapsTime::DateTime(CalendarDateTime::Utc(precise + Duration::minutes(90)))));
    assert_eq!(e.get_summary(), Some("Falcon 9 Block 5 | Starlink Group 10-1"));
    assert_eq!(e.get_sequence(), Some(0));
    assert_eq!(e.get_location(), Some("Space Launch Complex 40, Cape Canaveral SFS, FL, USA"));
    assert!(e.get_url().is_some_and(|u| u.starts_with("https://") && !u.contains("thespacedevs.com")));
    assert!(e.get_description().is_some_and(|d| d.contains("Status: Go for Launch")));
    assert!(e.get_last_modified().is_some() && e.get_timestamp().is_some());

    let e = event(&cal, "coarse-1");
    assert_eq!(e.get_start(), Some(DatePerhapsTime::Date(coarse.date_naive())));
    assert!(e.get_summary().is_some_and(|t| t.contains("NET Month")), "{:?}", e.get_summary());
    assert_eq!(event(&cal, "day-1").get_start(), Some(DatePerhapsTime::Date(in_days(4).date_naive())));

    let e = event(&cal, "odd-1");
    assert_eq!(e.get_summary(), Some(odd.name.as_str()), "escaped text reads back as it was");
    assert_eq!(e.get_location(), Some("Pad 39A; LC, \"Kennedy\", Cape Canaveral SFS, FL, USA"));
    assert!(body.ends_with("\r\n") && !body.replace("\r\n", "").contains('\n'), "CRLF lines only");
    for line in body.split("\r\n") {
        assert!(line.len() <= 75, "{} octets: {line:?}", line.len());
    }
}

#[tokio::test]
async fn etag_answers_304_and_unknown_feeds_404() {
    let s = serve().await;
    s.watch("all", Filter::default());
    s.commit(vec![launch("a-1", in_days(2), Precision::Minute)]);
    let first = s.get("/calendar/all.ics").await;
    assert_eq!(first.status(), StatusCode::OK);
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    let again = s.http.get(format!("{}/calendar/all.ics", s.base)).header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(again.headers()["etag"].to_str().unwrap(), etag);
    assert!(again.text().await.unwrap().is_empty());

    s.commit(vec![launch("a-1", in_days(3), Precision::Minute)]);
    let changed =
        s.http.get(format!("{}/calendar/all.ics", s.base)).header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(changed.status(), StatusCode::OK, "a NET move changes the feed");
    assert_ne!(changed.headers()["etag"].to_str().unwrap(), etag);

    for path in ["/calendar/nope.ics", "/calendar/all", "/calendar/all.ics.bak", "/calendar/..%2Fall.ics"] {
        assert_eq!(s.get(path).await.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let token = calendar::new_token();
    assert_eq!(s.get(&format!("/calendar/{token}.ics")).await.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn sequence_rises_when_the_net_moves_and_only_then() {
    let s = serve().await;
    s.watch("all", Filter::default());
    let mut item = launch("seq-1", in_days(2), Precision::Minute);
    s.commit(vec![item.clone()]);
    item.description = Some("LL2 edited the text only".into());
    s.commit(vec![item.clone()]);
    let (_, cal) = s.calendar("/calendar/all.ics").await;
    assert_eq!(event(&cal, "seq-1").get_sequence(), Some(0));

    item.when = item.when.map(|w| w + Duration::hours(3));
    s.commit(vec![item.clone()]);
    let (_, cal) = s.calendar("/calendar/all.ics").await;
    let e = event(&cal, "seq-1");
    assert_eq!(e.get_sequence(), Some(1));
    assert_eq!(e.get_start(), Some(DatePerhapsTime::DateTime(CalendarDateTime::Utc(item.when.unwrap()))));

    item.status = Some(Named::new(Some(5), "On Hold", Some("Hold".into())));
    s.commit(vec![item]);
    let (_, cal) = s.calendar("/calendar/all.ics").await;
    assert_eq!(event(&cal, "seq-1").get_sequence(), Some(2), "a status change counts too");
}

#[tokio::test]
async fn calendar_command_links_a_private_revocable_feed() {
    let s = serve().await;
    s.commit(vec![launch("chat-1", in_days(2), Precision::Minute)]);
    let chat = Destination::Telegram(ChatId(-1001234567890));
    let directory = Directory::default();
    let with_base = |base: Option<String>| Defaults {
        timezone: chrono_tz::UTC,
        reminders: vec![],
        calendar_base: base,
        schedule_horizon: None,
    };
    let defaults = with_base(Some(format!("{}/", s.base)));
    let svc = Services { subs: &s.subs, store: &s.store, directory: &directory, defaults: &defaults };
    let ctx = CommandContext { destination: chat.clone(), can_manage: true, now: Utc::now() };
    execute(ChatCommand::Subscribe(Filter::default(), vec![]), &ctx, &svc).unwrap();

    let reply = execute(ChatCommand::Calendar { reset: false }, &ctx, &svc).unwrap();
    assert!(reply.private);
    let link = extract_link(&reply.text, &s.base);
    assert!(!link.contains("1234567890"), "the link must not reveal the chat: {link}");
    let path = link.strip_prefix(&s.base).unwrap().to_owned();
    let (_, cal) = s.calendar(&path).await;
    assert!(event(&cal, "chat-1").get_summary().is_some());
    let again = execute(ChatCommand::Calendar { reset: false }, &ctx, &svc).unwrap();
    assert_eq!(extract_link(&again.text, &s.base), link, "the link is stable");

    let member = CommandContext { can_manage: false, ..ctx.clone() };
    let refused = execute(ChatCommand::Calendar { reset: true }, &member, &svc).unwrap();
    assert!(refused.text.contains("administrators"), "{}", refused.text);

    let reset = execute(ChatCommand::Calendar { reset: true }, &ctx, &svc).unwrap();
    let fresh = extract_link(&reset.text, &s.base);
    assert_ne!(fresh, link);
    assert_eq!(s.get(&path).await.status(), StatusCode::NOT_FOUND, "the old link is revoked");
    s.calendar(fresh.strip_prefix(&s.base).unwrap()).await;

    let off = with_base(None);
    let svc = Services { defaults: &off, ..svc };
    let reply = execute(ChatCommand::Calendar { reset: false }, &ctx, &svc).unwrap();
    assert!(reply.text.contains("[server] listen") && reply.text.contains("public_url"), "{}", reply.text);
}

fn extract_link(text: &str, base: &str) -> String {
    let start = text.find(base).unwrap_or_else(|| panic!("no link in {text:?}"));
    let link: String = text[start..].chars().take_while(|c| !c.is_whitespace()).collect();
    assert!(link.ends_with(".ics"), "{link}");
    link
}
