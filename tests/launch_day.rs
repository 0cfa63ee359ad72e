//! A compressed launch day, as a user lives it: the real `tminus` binary
//! (`once` per step) against the fake LL2 and the fake Telegram Bot API.
//! A Falcon Heavy nine minutes out appears, gets its webcast link, goes
//! live, holds, recycles, lifts off, succeeds and lands its boosters.
//!
//! Three chats follow it with default settings: one through two
//! overlapping watches (SpaceX, and every launch), one through a single
//! watch, and one with quiet hours over now. What each chat receives is
//! checked against issue 20's "done when" table: one message per update
//! however many watches match, a webcast link never loud, the landing
//! told, the slip reason quoted, the description said once, a status named
//! at most twice, and quiet hours that silence without dropping.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};
use support::fake_ll2::FakeLl2;
use support::fake_telegram::{Call, FakeTelegram};
use tminus::types::Feed;

/// Falcon Heavy | Nancy Grace Roman Space Telescope.
const ROMAN: &str = "521f3a1c-f977-4306-9b7f-495858719adf";
/// The start of Roman's mission description in the fixture.
const DESCRIPTION: &str = "The Nancy Grace Roman Space Telescope is a NASA infrared";
/// Reached through two overlapping watches.
const OVERLAP: i64 = 100;
/// Reached through one watch.
const SINGLE: i64 = 101;
/// One watch with quiet hours over the whole test.
const QUIET: i64 = 102;

/// The config's sections before its watches: the fakes (launches only, a
/// budget no step runs out of) and the store.
fn header(ll2: &FakeLl2, tg: &FakeTelegram, store: &Path) -> String {
    format!(
        "[ll2]\nbase_url = \"{}\"\nrequests_per_hour = 1000\nfeeds = [\"launches\"]\n\n[store]\npath = \"{}\"\n\n\
         [telegram]\napi_url = \"{}\"\n",
        ll2.base_url(),
        store.display(),
        tg.api_url()
    )
}

fn write_config(dir: &Path, ll2: &FakeLl2, tg: &FakeTelegram) -> PathBuf {
    let now = Utc::now();
    let quiet = format!(
        "{}-{}",
        (now - chrono::Duration::hours(1)).format("%H:%M"),
        (now + chrono::Duration::hours(2)).format("%H:%M")
    );
    let watches = format!(
        r#"
[[watch]]
name = "spacex"
to = ["telegram:{OVERLAP}"]
agencies = ["SpaceX"]

[[watch]]
name = "all-launches"
to = ["telegram:{OVERLAP}", "telegram:{SINGLE}"]
kinds = ["launch"]

[[watch]]
name = "night-owls"
to = ["telegram:{QUIET}"]
kinds = ["launch"]
quiet_hours = "{quiet}"
"#
    );
    let body = header(ll2, tg, &dir.join("data")) + &watches;
    let path = dir.join("config.toml");
    std::fs::write(&path, body).unwrap();
    path
}

/// One `tminus once`: a poll, the reminders due, then delivery.
async fn once(config: &Path) {
    let mut cmd = support::binary::tminus(config, "once");
    cmd.env("TMINUS_TELEGRAM_TOKEN", FakeTelegram::TOKEN);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap()).await.unwrap();
    assert!(out.status.success(), "once failed: {}", String::from_utf8_lossy(&out.stderr));
}

fn at(t: DateTime<Utc>) -> Value {
    json!(t.to_rfc3339_opts(SecondsFormat::Secs, true))
}

fn status(id: u32, name: &str, abbrev: &str) -> Value {
    json!({"id": id, "name": name, "abbrev": abbrev})
}

/// A librarian's note, as LL2 lists them in `updates[]`.
fn note(id: u32, comment: &str) -> Value {
    json!({
        "id": id,
        "comment": comment,
        "info_url": format!("https://example.org/note-{id}"),
        "created_by": "librarian",
        "created_on": at(Utc::now()),
    })
}

/// Roman's NET, window and (optionally) status, in one LL2 edit.
fn retime(ll2: &FakeLl2, net: DateTime<Utc>, status: Option<Value>, update: Option<Value>) {
    ll2.update(Feed::Launches, ROMAN, |item| {
        item["net"] = at(net);
        item["window_start"] = at(net);
        item["window_end"] = at(net);
        if let Some(s) = status {
            item["status"] = s;
        }
        if let Some(u) = update {
            item["updates"].as_array_mut().unwrap().insert(0, u);
        }
    });
}

/// The messages (text or caption) each step sent to `chat`, step by step.
struct Day {
    steps: Vec<(&'static str, Vec<Call>)>,
}

impl Day {
    fn of(&self, chat: i64) -> Vec<(&'static str, Vec<&Call>)> {
        self.steps.iter().map(|(name, calls)| (*name, to_chat(calls, chat))).collect()
    }

    fn bodies(&self, chat: i64) -> Vec<String> {
        self.of(chat).into_iter().flat_map(|(_, c)| c).map(|c| c.body().unwrap_or_default().to_string()).collect()
    }

    fn step(&self, chat: i64, name: &str) -> Vec<&Call> {
        self.of(chat).into_iter().find(|(n, _)| *n == name).map(|(_, c)| c).unwrap_or_default()
    }
}

fn to_chat(calls: &[Call], chat: i64) -> Vec<&Call> {
    calls.iter().filter(|c| c.is_delivery() && c.chat_id == Some(chat)).collect()
}

/// Plays the day with Roman's T-0 at `net` and returns what each step
/// sent. `roman`: Roman as LL2 lists it, added at the first step (a new
/// launch); `None`: it is listed already, without its webcast.
async fn play(config: &Path, ll2: &FakeLl2, tg: &FakeTelegram, net: DateTime<Utc>, roman: Option<Value>) -> Day {
    let mut day = Day { steps: Vec::new() };
    let mut step = async |name: &'static str, edit: &dyn Fn()| {
        tg.clear_calls();
        edit();
        once(config).await;
        day.steps.push((name, tg.calls()));
    };
    let videos = json!([{"url": "https://www.youtube.com/watch?v=roman", "live": false}]);
    if let Some(roman) = roman {
        step("new", &|| {
            let mut r = roman.clone();
            r["vid_urls"] = json!([]);
            r["webcast_live"] = json!(false);
            ll2.add_item(Feed::Launches, r);
            retime(ll2, net, Some(status(1, "Go for Launch", "Go")), None);
        })
        .await;
    }
    step("webcast added", &|| {
        ll2.set_field(Feed::Launches, ROMAN, "/vid_urls", videos.clone());
    })
    .await;
    step("webcast live", &|| {
        ll2.set_field(Feed::Launches, ROMAN, "/webcast_live", json!(true));
    })
    .await;
    let hold = note(90001, "Hold called for a ground systems issue.");
    step("hold", &|| retime(ll2, net, Some(status(5, "On Hold", "Hold")), Some(hold.clone()))).await;
    // Thirty minutes later: the one-hour mark passed longer ago than the
    // reminder grace, so the recycle brings no reminder of its own.
    let recycle = net + chrono::Duration::minutes(30);
    let new_t0 = note(90002, "Recycling to a new T-0 thirty minutes later.");
    step("recycle", &|| retime(ll2, recycle, Some(status(1, "Go for Launch", "Go")), Some(new_t0.clone()))).await;
    step("liftoff", &|| retime(ll2, recycle, Some(status(6, "Launch in Flight", "In Flight")), None)).await;
    step("success", &|| retime(ll2, recycle, Some(status(3, "Launch Successful", "Success")), None)).await;
    step("landing", &|| {
        ll2.land_boosters(ROMAN, true);
    })
    .await;
    day
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_compressed_launch_day_is_calm_and_complete_in_every_chat() {
    let ll2 = FakeLl2::builder().with_rate_limit(1000, Duration::from_secs(3600)).start().await;
    let tg = FakeTelegram::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &ll2, &tg);
    // Roman is not listed yet: the first sync knows nothing of it.
    let roman = ll2.remove_item(Feed::Launches, ROMAN).unwrap();
    once(&config).await;
    assert!(tg.sent().is_empty(), "the first sync is silent: {:#?}", tg.sent());

    let day = play(&config, &ll2, &tg, Utc::now() + chrono::Duration::minutes(9), Some(roman)).await;
    let single = day.bodies(SINGLE);
    let summary: Vec<(&str, usize)> = day.of(SINGLE).iter().map(|(n, c)| (*n, c.len())).collect();

    // Overlapping watches: as many messages as one watch, step by step.
    let overlap: Vec<(&str, usize)> = day.of(OVERLAP).iter().map(|(n, c)| (*n, c.len())).collect();
    assert_eq!(overlap, summary, "two watches of one chat make one message per update");
    assert_eq!(day.bodies(OVERLAP), single, "and the same messages");
    // new + its 10-minute reminder, then one message per update.
    assert_eq!(single.len(), 9, "{summary:?}\n{single:#?}");

    // A webcast link appearing is never loud; going live is.
    for chat in [OVERLAP, SINGLE, QUIET] {
        let added = day.step(chat, "webcast added");
        assert_eq!(added.len(), 1, "chat {chat}");
        assert!(added[0].silent(), "webcast link added, loud in chat {chat}: {:?}", added[0].params);
    }
    assert!(!day.step(SINGLE, "webcast live")[0].silent(), "webcast live stays loud");

    // The landing reaches the chat, with where the boosters landed.
    let landing = day.step(SINGLE, "landing");
    assert_eq!(landing.len(), 1);
    let text = landing[0].body().unwrap();
    assert!(text.contains("landed ✅") && text.contains("LZ-"), "{text}");
    assert!(landing[0].silent(), "the landings follow the loud result without a sound");

    // The slip reason is quoted in the message it explains, once.
    let hold = day.step(SINGLE, "hold")[0].body().unwrap().to_string();
    assert!(hold.contains("💬 “Hold called for a ground systems issue.”"), "{hold}");
    let recycle = day.step(SINGLE, "recycle")[0].body().unwrap().to_string();
    assert!(recycle.contains("💬 “Recycling to a new T-0 thirty minutes later.”"), "{recycle}");
    let quoted = single.iter().filter(|b| b.contains("ground systems issue")).count();
    assert_eq!(quoted, 1, "the hold's note is not repeated later");

    // The mission description is said in at most one message of the day.
    let described = single.iter().filter(|b| b.contains(DESCRIPTION)).count();
    assert_eq!(described, 1, "{single:#?}");
    // The hold message names the status at most twice.
    assert!(hold.matches("On Hold").count() <= 2, "{hold}");

    // Quiet hours over now: every message silent, none dropped.
    let quiet: Vec<&Call> = day.of(QUIET).into_iter().flat_map(|(_, c)| c).collect();
    assert_eq!(quiet.len(), single.len(), "quiet hours drop nothing");
    let loud_steps: Vec<&str> =
        day.of(QUIET).into_iter().filter(|(_, c)| c.iter().any(|c| !c.silent())).map(|(n, _)| n).collect();
    assert!(loud_steps.is_empty(), "quiet hours silence everything, loud: {loud_steps:?}");
    let loud = day.of(SINGLE).into_iter().flat_map(|(_, c)| c).filter(|c| !c.silent()).count();
    assert!(loud < single.len(), "defaults keep the webcast link silent");
}

/// A chat following through a watch with `style = "card"`.
const CARD_CHAT: i64 = 103;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_card_chat_gets_one_card_and_three_messages_at_most() {
    let ll2 = FakeLl2::builder().with_rate_limit(1000, Duration::from_secs(3600)).start().await;
    let tg = FakeTelegram::start().await;
    let dir = tempfile::tempdir().unwrap();
    let extra = format!(
        "\n[[watch]]\nname = \"card\"\nto = [\"telegram:{CARD_CHAT}\"]\nkinds = [\"launch\"]\nstyle = \"card\"\n"
    );
    let config = write_config(dir.path(), &ll2, &tg);
    let text = std::fs::read_to_string(&config).unwrap() + &extra;
    std::fs::write(&config, text).unwrap();
    // Roman is known, nine minutes out, its webcast not announced yet: the
    // first sync is silent, then its T-10m reminder starts the card.
    let net = Utc::now() + chrono::Duration::minutes(9);
    ll2.set_field(Feed::Launches, ROMAN, "/vid_urls", json!([]));
    ll2.set_field(Feed::Launches, ROMAN, "/webcast_live", json!(false));
    retime(&ll2, net, Some(status(1, "Go for Launch", "Go")), None);
    once(&config).await;
    once(&config).await;
    let started = to_chat(&tg.calls(), CARD_CHAT).len();
    assert_eq!(started, 1, "the reminder starts the card: {:#?}", tg.calls());

    let day = play(&config, &ll2, &tg, net, None).await;
    let new_messages = started + day.bodies(CARD_CHAT).len();
    let edits: Vec<&Call> = day
        .steps
        .iter()
        .flat_map(|(_, calls)| calls)
        .filter(|c| c.ok() && c.is("editMessageText") && c.chat_id == Some(CARD_CHAT))
        .collect();
    let replies: Vec<&str> = day.of(CARD_CHAT).into_iter().flat_map(|(n, c)| c.into_iter().map(move |_| n)).collect();
    assert!(new_messages <= 3, "a card and its replies, the rest edits: {replies:?}");
    assert_eq!(replies, ["liftoff", "success"], "only liftoff and the result reply to the card");
    assert!(edits.len() >= 6, "every change edits the card: {} edits", edits.len());
    let card = edits.last().unwrap().text.as_deref().unwrap();
    assert!(card.contains("Launch Successful") && card.contains("landed ✅"), "the final card: {card}");
}

// The measure: a realistic launch day, T-48 h to T+2 h, replayed moment
// by moment with the library's parts (the poller on a clock the test
// moves, the reminders asked at each moment, the real Telegram sender
// against the fake). Each chat follows the launch through one watch.
//
//     cargo test --test launch_day measure -- --nocapture

/// One watch, default settings.
const DEFAULTS: i64 = 200;
/// One watch with `style = "card"`.
const CARD: i64 = 201;
/// One watch with `silent = ["schedule", "reminder"]`.
const SILENCED: i64 = 202;

/// The chats of the measure, in the table's column order.
const MEASURED: [i64; 3] = [DEFAULTS, CARD, SILENCED];

fn measure_config(ll2: &FakeLl2, tg: &FakeTelegram, store: &Path) -> tminus::config::Config {
    let watches = format!(
        r#"
[[watch]]
name = "defaults"
to = ["telegram:{DEFAULTS}"]
kinds = ["launch"]

[[watch]]
name = "card"
to = ["telegram:{CARD}"]
kinds = ["launch"]
style = "card"

[[watch]]
name = "silenced"
to = ["telegram:{SILENCED}"]
kinds = ["launch"]
silent = ["schedule", "reminder"]
"#
    );
    let text = header(ll2, tg, store) + &watches;
    let token = |var: &str| (var == "TMINUS_TELEGRAM_TOKEN").then(|| FakeTelegram::TOKEN.to_string());
    tminus::config::Config::from_toml_str(&text, &token).unwrap()
}

/// What one moment of the day does to Roman in LL2 (`None`: nothing, only
/// the reminders that come due).
type Edit = Option<EditFn>;
/// LL2's edit, given the first T-0.
type EditFn = Box<dyn Fn(&FakeLl2, DateTime<Utc>)>;

/// A moment of the day: its name, when relative to the first T-0, LL2's edit.
type Moment = (&'static str, chrono::Duration, Edit);

/// The day: moments relative to the first T-0, and LL2's edit at each.
fn realistic_day(roman: Value) -> Vec<Moment> {
    use chrono::Duration as D;
    let edit = |f: EditFn| Some(f);
    // The recycle moves T-0 twenty minutes later; later moments follow it.
    let slip = D::minutes(20);
    vec![
        (
            "new (NET to the hour, TBC)",
            D::hours(-48),
            edit(Box::new(move |ll2, t0| {
                let mut r = roman.clone();
                r["vid_urls"] = json!([]);
                r["webcast_live"] = json!(false);
                r["net_precision"] = json!({"id": 2, "name": "Hour", "abbrev": "HR"});
                ll2.add_item(Feed::Launches, r);
                retime(ll2, t0, Some(status(8, "To Be Confirmed", "TBC")), None);
            })),
        ),
        (
            "firm time, Go",
            D::hours(-30),
            edit(Box::new(|ll2: &FakeLl2, t0| {
                ll2.set_field(
                    Feed::Launches,
                    ROMAN,
                    "/net_precision",
                    json!({"id": 1, "name": "Minute", "abbrev": "MIN"}),
                );
                retime(ll2, t0, Some(status(1, "Go for Launch", "Go")), None);
            })),
        ),
        ("T-24h reminder", D::hours(-24) + D::seconds(30), None),
        (
            "webcast link",
            D::hours(-3),
            edit(Box::new(|ll2, _| {
                let link = json!([{"url": "https://www.youtube.com/watch?v=roman", "live": false}]);
                ll2.set_field(Feed::Launches, ROMAN, "/vid_urls", link);
            })),
        ),
        ("T-1h reminder", D::hours(-1) + D::seconds(30), None),
        (
            "webcast live",
            D::minutes(-30),
            edit(Box::new(|ll2, _| {
                ll2.set_field(Feed::Launches, ROMAN, "/webcast_live", json!(true));
            })),
        ),
        (
            "hold",
            D::minutes(-12),
            edit(Box::new(|ll2: &FakeLl2, t0| {
                let why = note(90011, "Hold for a ground systems issue.");
                retime(ll2, t0, Some(status(5, "On Hold", "Hold")), Some(why));
            })),
        ),
        (
            "recycle (+20 min)",
            D::minutes(-8),
            edit(Box::new(move |ll2, t0| {
                let why = note(90012, "Recycling; new T-0 twenty minutes later.");
                retime(ll2, t0 + slip, Some(status(1, "Go for Launch", "Go")), Some(why));
            })),
        ),
        ("T-10m reminder", slip - D::minutes(10) + D::seconds(30), None),
        (
            "liftoff",
            slip + D::minutes(1),
            edit(Box::new(move |ll2, t0| {
                retime(ll2, t0 + slip, Some(status(6, "Launch in Flight", "In Flight")), None)
            })),
        ),
        (
            "result",
            slip + D::minutes(30),
            edit(Box::new(move |ll2, t0| {
                retime(ll2, t0 + slip, Some(status(3, "Launch Successful", "Success")), None)
            })),
        ),
        (
            "landings",
            slip + D::minutes(40),
            edit(Box::new(|ll2, _| {
                ll2.land_boosters(ROMAN, true);
            })),
        ),
        ("T+2h", D::hours(2), None),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn measure_a_realistic_launch_day() {
    use std::sync::{Arc, Mutex};
    use tminus::deliver::{Sender, Senders};
    use tminus::poller::{BudgetWait, Clock};
    use tminus::telegram::{TelegramLimits, TelegramSender};
    use tminus::types::Platform;

    let ll2 = FakeLl2::builder().with_rate_limit(100_000, Duration::from_secs(3600)).start().await;
    let tg = FakeTelegram::start().await;
    let dir = tempfile::tempdir().unwrap();
    let roman = ll2.remove_item(Feed::Launches, ROMAN).unwrap();
    // The day starts now, at T-48h: LL2's stamps are never in its future.
    let t0 = Utc::now() + chrono::Duration::hours(48);
    let now = Arc::new(Mutex::new(Utc::now()));
    let hands = now.clone();
    let telegram = TelegramSender::new(&tg.token(), &tg.api_url(), TelegramLimits::default()).unwrap();
    let senders = Senders::default().with(Platform::Telegram, Arc::new(telegram) as Arc<dyn Sender>);
    let mut app =
        tminus::app::App::with_senders(measure_config(&ll2, &tg, &dir.path().join("store")), senders).unwrap();
    app.poller = app.poller.with_clock(Clock::from_fn(move || *hands.lock().unwrap())).unwrap();
    app.poller.poll_feed(Feed::Launches, BudgetWait::Skip).await.unwrap();

    let mut table = String::from(
        "| moment | defaults | `style = \"card\"` | `silent = [\"schedule\", \"reminder\"]` |\n|---|---|---|---|\n",
    );
    let mut totals = [(0, 0, 0); MEASURED.len()];
    for (moment, at, edit) in realistic_day(roman) {
        let sim = t0 + at;
        *now.lock().unwrap() = sim;
        tg.clear_calls();
        if let Some(edit) = edit {
            edit(&ll2, t0);
        }
        app.poller.poll_feed(Feed::Launches, BudgetWait::Skip).await.unwrap();
        app.reminders.pass(sim).await.unwrap();
        app.deliverer.drain_once().await.unwrap();
        let mut row = format!("| {moment} |");
        for (i, chat) in MEASURED.iter().enumerate() {
            let sent = tg.sent_to(*chat);
            let silent = sent.iter().filter(|c| c.silent()).count();
            let loud = sent.len() - silent;
            totals[i].0 += loud;
            totals[i].1 += silent;
            let edits = tg.calls_to("editMessageText").iter().filter(|c| c.ok() && c.chat_id == Some(*chat)).count();
            totals[i].2 += edits;
            let mut cell: Vec<String> = Vec::new();
            if loud > 0 {
                cell.push(format!("{loud} loud"));
            }
            if silent > 0 {
                cell.push(format!("{silent} silent"));
            }
            if edits > 0 {
                cell.push(format!("{edits} edit{}", if edits > 1 { "s" } else { "" }));
            }
            let cell = if cell.is_empty() { "–".to_string() } else { cell.join(", ") };
            row.push_str(&format!(" {cell} |"));
        }
        table.push_str(&row);
        table.push('\n');
    }
    table.push_str("| **total** |");
    for (loud, silent, edits) in totals {
        table.push_str(&format!(" **{loud} loud, {silent} silent, {edits} edits** |"));
    }
    println!("{table}");
    let (defaults, card, silenced) = (totals[0], totals[1], totals[2]);
    assert!(card.0 <= 4, "a card chat hears at most 4 loud messages:\n{table}");
    assert!(card.0 + card.1 < defaults.0 + defaults.1, "and gets fewer messages, the rest edits:\n{table}");
    assert!(defaults.0 <= 8, "defaults make at most 8 loud messages:\n{table}");
    assert_eq!(defaults.0 + defaults.1, 12, "one message per moment but the last:\n{table}");
    assert!(silenced.0 < defaults.0, "silent kinds quieten the day:\n{table}");
    assert_eq!(silenced.0 + silenced.1, defaults.0 + defaults.1, "and drop nothing:\n{table}");
}
