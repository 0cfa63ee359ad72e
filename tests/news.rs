//! News about what chats follow, end to end: a fake SNAPI serving v4
//! article pages (fixtures in `tests/fixtures/snapi/`, linked to launches
//! and events of the LL2 fixtures) → the news feed → routing like an alert
//! about the linked items → the outbox → delivery (a recorder per
//! destination). The first sync is silent, articles reach the watches that
//! follow their launch and chose `news` only, an edit never sends an
//! article twice, and every request after the first is incremental.

mod support;

use std::sync::Arc;

use serde_json::json;
use support::app::Recorder;
use support::fake_ll2::FakeLl2;
use support::fake_snapi::{FakeSnapi, fixture_articles};
use tminus::config::{Config, Watch};
use tminus::deliver::Senders;
use tminus::news::NewsPollError;
use tminus::poller::BudgetWait;
use tminus::render::Message;
use tminus::rules::{Filter, Origin, SubId, Subscription};
use tminus::subscriptions::default_console_watch;
use tminus::types::Platform;
use tminus::types::{AlertKind, Destination, Feed, ItemId, ItemKind};

/// Falcon Heavy | Nancy Grace Roman Space Telescope (SpaceX).
const ROMAN: &str = "521f3a1c-f977-4306-9b7f-495858719adf";

struct Env {
    _dir: tempfile::TempDir,
    _ll2: FakeLl2,
    snapi: FakeSnapi,
    recorder: Arc<Recorder>,
    app: tminus::app::App,
}

fn dest(n: i64) -> Destination {
    format!("telegram:{n}").parse().unwrap()
}

fn with_news() -> Vec<AlertKind> {
    AlertKind::CHOOSABLE.to_vec()
}

fn watch(name: &str, to: i64, agencies: &[&str], alerts: Vec<AlertKind>) -> Watch {
    Watch {
        name: name.into(),
        to: vec![dest(to)],
        agencies: agencies.iter().map(|a| a.to_string()).collect(),
        alerts,
        ..default_console_watch(chrono_tz::UTC, vec![])
    }
}

/// SpaceX with news (1), Rocket Lab with news (2), SpaceX without news
/// (3), everything with news (4); LL2 synced (silently).
fn watches() -> Vec<Watch> {
    vec![
        watch("spacex", 1, &["SpaceX"], with_news()),
        watch("rocketlab", 2, &["Rocket Lab"], with_news()),
        watch("spacex-quiet", 3, &["SpaceX"], AlertKind::ALL.to_vec()),
        watch("everything", 4, &[], with_news()),
    ]
}

impl Env {
    async fn start(watches: Vec<Watch>) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let ll2 = FakeLl2::start().await;
        let snapi = FakeSnapi::start(fixture_articles("articles-page-1.json")).await;
        let mut config = Config::default_config();
        config.ll2 = ll2.ll2_config();
        config.store.path = dir.path().join("store");
        config.news.base_url = snapi.base_url();
        config.watches = watches;
        let recorder = Arc::new(Recorder::default());
        let senders =
            Senders::default().with(Platform::Telegram, recorder.clone()).with(Platform::Console, recorder.clone());
        let mut app = tminus::app::App::with_senders(config, senders).unwrap();
        for feed in Feed::ALL {
            app.poller.poll_feed(feed, BudgetWait::Skip).await.unwrap();
        }
        app.deliverer.drain_once().await.unwrap();
        assert!(recorder.messages().is_empty(), "LL2's first sync is silent");
        Env { _dir: dir, _ll2: ll2, snapi, recorder, app }
    }

    async fn poll_news(&mut self) -> tminus::news::NewsReport {
        let r = self.app.news.poll(BudgetWait::Skip).await.unwrap();
        self.app.deliverer.drain_once().await.unwrap();
        r
    }

    /// The news messages each destination got, as (destination, title).
    fn news(&self) -> Vec<(Destination, Message)> {
        self.recorder.messages().into_iter().filter(|(_, m)| m.kind == AlertKind::News).collect()
    }

    fn headlines_to(&self, n: i64) -> Vec<String> {
        let d = dest(n);
        let mut out: Vec<String> = self.news().into_iter().filter(|(x, _)| *x == d).map(|(_, m)| m.headline).collect();
        out.sort();
        out
    }
}

#[tokio::test]
async fn articles_reach_who_follows_their_launch_once_and_polls_are_incremental() {
    let mut env = Env::start(watches()).await;
    assert!(env.app.news.wanted(), "watches chose news: the feed is on");

    // First sync: silent, whatever the articles are about.
    let first = env.poll_news().await;
    assert!(first.first_sync && first.articles == 3 && first.alerts == 0, "{first:?}");
    assert!(env.news().is_empty(), "the first sync is silent");

    // New articles: one about the SpaceX launch, one about the Rocket Lab
    // launch, one about nothing.
    env.snapi.add(fixture_articles("articles-new.json"));
    let r = env.poll_news().await;
    assert_eq!((r.articles, r.requests), (3, 1), "{r:?}");
    let spacex = "SpaceX stacks Falcon Heavy for the Roman Space Telescope launch".to_string();
    let rocket_lab = "Rocket Lab readies Electron for the next HawkEye 360 cluster".to_string();
    let unlinked = "Commercial space stations: where things stand".to_string();
    assert_eq!(env.headlines_to(1), std::slice::from_ref(&spacex), "the SpaceX watch: the SpaceX article only");
    assert_eq!(
        env.headlines_to(2),
        std::slice::from_ref(&rocket_lab),
        "the Rocket Lab watch: the Rocket Lab article only"
    );
    assert!(env.headlines_to(3).is_empty(), "a watch without news gets none");
    let mut all = vec![unlinked.clone(), rocket_lab, spacex.clone()];
    all.sort();
    assert_eq!(env.headlines_to(4), all, "a watch without filters gets every article, the unlinked one too");

    // The message: title, site, summary, the article as the link, and a
    // line naming the launch with its T-minus.
    let (_, msg) = env.news().into_iter().find(|(d, _)| *d == dest(1)).unwrap();
    assert_eq!((msg.emoji, msg.title.as_str()), ("📰", "Spaceflight Now"));
    assert_eq!(
        msg.link.as_deref(),
        Some("https://spaceflightnow.com/2026/07/22/spacex-stacks-falcon-heavy-for-roman/")
    );
    assert!(msg.description.as_deref().unwrap().starts_with("SpaceX has mated"));
    assert!(msg.changes[0].contains("Nancy Grace Roman") && msg.changes[0].contains("T-"), "{:?}", msg.changes);

    // The digest's headlines: one call per destination.
    let epoch = chrono::DateTime::UNIX_EPOCH;
    let titles = |n: i64| -> Vec<String> {
        let store = &env.app.store;
        tminus::news::headlines_for(store, &dest(n), epoch).unwrap().into_iter().map(|a| a.title).collect()
    };
    assert_eq!(titles(1), [spacex.as_str(), "Roman Space Telescope arrives at Kennedy ahead of Falcon Heavy launch"]);
    assert!(titles(3).is_empty(), "a destination without news has no headlines");
    assert_eq!(titles(4).len(), 6, "everything kept, the first sync's articles too");

    // An edit brings the article back: it is not sent again.
    let before = env.news().len();
    env.snapi.edit(34020, "title", json!("SpaceX stacks Falcon Heavy (updated)"), "2026-07-23T08:00:00Z");
    let r = env.poll_news().await;
    assert_eq!(r.articles, 1, "the edit came back: {r:?}");
    assert_eq!(env.news().len(), before, "an edited article is not sent again");

    // Idle: nothing new, nothing sent.
    let r = env.poll_news().await;
    assert_eq!((r.articles, r.alerts), (0, 0));

    let queries = env.snapi.queries();
    assert!(queries[0].contains("ordering=-updated_at") && !queries[0].contains("updated_at_gt"), "{queries:?}");
    for q in &queries[1..] {
        assert!(q.contains("updated_at_gt=") && q.contains("ordering=updated_at") && q.contains("limit=100"), "{q}");
    }
    assert!(queries[3].contains("2026-07-23T08%3A00%3A00Z"), "the watermark moved to the edit: {}", queries[3]);
}

#[tokio::test]
async fn a_muted_launch_mutes_its_news_and_nobody_wanting_news_means_no_request() {
    let chat = dest(9);
    let mut env = Env::start(vec![watch("spacex-quiet", 3, &["SpaceX"], AlertKind::ALL.to_vec())]).await;
    assert!(!env.app.news.wanted(), "nobody chose news: the feed stays off");
    assert!(env.snapi.queries().is_empty());

    let mut sub = Subscription::new(
        SubId(env.app.store.next_id().unwrap()),
        chat.clone(),
        Filter { agencies: vec!["SpaceX".into()], ..Filter::default() },
        Origin::Chat,
    )
    .with_alerts(with_news());
    sub.timezone = chrono_tz::UTC;
    env.app.subs.put(&sub).unwrap();
    assert!(env.app.news.wanted(), "a chat chose news: the feed is on");
    let roman = env.app.store.item(&ItemId::new(ItemKind::Launch, ROMAN)).unwrap().unwrap();
    env.app.subs.mute(&chat, &roman, chrono::Utc::now()).unwrap();

    env.poll_news().await;
    env.snapi.add(fixture_articles("articles-new.json"));
    let r = env.poll_news().await;
    assert_eq!(r.alerts, 0, "the only SpaceX article is about the muted launch: {r:?}");
    assert!(env.news().is_empty());
}

#[tokio::test]
async fn a_429_blocks_the_news_budget_until_retry_after() {
    let mut env = Env::start(watches()).await;
    env.poll_news().await;
    env.snapi.throttle_next(600);
    let err = env.app.news.poll(BudgetWait::Skip).await.unwrap_err();
    assert!(matches!(err, NewsPollError::Snapi(tminus::news::NewsError::Throttled { .. })), "{err}");
    let again = env.app.news.poll(BudgetWait::Skip).await.unwrap_err();
    assert!(matches!(again, NewsPollError::NoBudget(_)), "no request before Retry-After: {again}");
    assert_eq!(env.snapi.queries().len(), 2, "the blocked poll sent nothing");
}

/// `/news` answers from the articles the feed kept: the latest about the
/// chat's subscriptions, without subscribing and without a request.
#[tokio::test]
async fn the_news_command_lists_what_the_chat_follows_without_subscribing() {
    use tminus::commands::{ChatCommand, CommandContext, Defaults, Services, execute, parse};
    let mut env = Env::start(watches()).await;
    env.poll_news().await;
    env.snapi.add(fixture_articles("articles-new.json"));
    env.poll_news().await;
    let requests = env.snapi.queries().len();

    let chat = dest(9);
    let sub = Subscription::new(
        SubId(env.app.store.next_id().unwrap()),
        chat.clone(),
        Filter { agencies: vec!["SpaceX".into()], ..Filter::default() },
        Origin::Chat,
    );
    env.app.subs.put(&sub).unwrap();
    let defaults =
        Defaults { timezone: chrono_tz::UTC, reminders: Vec::new(), calendar_base: None, schedule_horizon: None };
    let directory = tminus::directory::Directory::default();
    let svc = Services { subs: &env.app.subs, store: &env.app.store, directory: &directory, defaults: &defaults };
    let ctx = CommandContext { destination: chat.clone(), can_manage: false, now: chrono::Utc::now() };
    assert_eq!(parse("news", "").unwrap(), ChatCommand::News);
    let reply = execute(ChatCommand::News, &ctx, &svc).unwrap();
    let text = reply.text;
    let first = text.find("SpaceX stacks Falcon Heavy").expect(&text);
    let second = text.find("Roman Space Telescope arrives").expect(&text);
    assert!(first < second, "newest first: {text}");
    assert!(!text.contains("Rocket Lab") && !text.contains("Juice") && !text.contains("week in review"), "{text}");
    assert!(text.contains("https://spaceflightnow.com/2026/07/22/spacex-stacks-falcon-heavy-for-roman/"), "{text}");
    assert_eq!(env.app.store.subscriptions_of(&chat).unwrap().len(), 1, "it subscribed to nothing");
    assert_eq!(env.snapi.queries().len(), requests, "no request of its own");

    // A chat without subscriptions sees the latest articles, five at most.
    let ctx = CommandContext { destination: dest(10), ..ctx };
    let text = execute(ChatCommand::News, &ctx, &svc).unwrap().text;
    assert!(text.contains("5. ") && !text.contains("6. "), "{text}");
}

/// A chat that chose both `news` and a digest finds the headlines of the
/// span just past about what it follows at the end of its digest.
#[tokio::test]
async fn a_digest_ends_with_the_latest_headlines_when_the_chat_chose_news() {
    let now = chrono::Utc::now();
    let due = now - chrono::Duration::seconds(30);
    // Weekly: the next 7 days list Roman, the past week's headlines join.
    let digest = format!("weekly {}", due.format("%a %H:%M")).to_lowercase().parse().unwrap();
    let spacex = Watch { digest: Some(digest), ..watch("spacex", 1, &["SpaceX"], with_news()) };
    let no_news = Watch { digest: Some(digest), ..watch("spacex-quiet", 3, &["SpaceX"], AlertKind::ALL.to_vec()) };
    let mut env = Env::start(vec![spacex, no_news]).await;
    env.poll_news().await;
    // Published an hour ago: within the week before the digest.
    let mut fresh = fixture_articles("articles-new.json");
    for a in &mut fresh {
        a["published_at"] = json!((now - chrono::Duration::hours(1)).to_rfc3339());
    }
    env.snapi.add(fresh);
    env.poll_news().await;
    let roman = ItemId::new(ItemKind::Launch, ROMAN);
    let t0 = env.app.store.item(&roman).unwrap().unwrap().when.unwrap();
    assert!(t0 - due < chrono::Duration::days(7), "Roman flies within the digest's week: {t0}");

    assert_eq!(env.app.digests.pass(now).await.unwrap(), 2, "one digest per watch's chat");
    env.app.deliverer.drain_once().await.unwrap();
    let digest_to = |n: i64| -> Vec<String> {
        let d = dest(n);
        let msgs = env.recorder.messages();
        let (_, m) = msgs.iter().find(|(x, m)| *x == d && m.headline.contains("digest")).expect("a digest");
        m.changes.clone()
    };
    let with_news = digest_to(1);
    let heading = with_news.iter().position(|l| l == "— News —").unwrap_or_else(|| panic!("{with_news:#?}"));
    assert!(
        with_news[heading + 1].starts_with("SpaceX stacks Falcon Heavy for the Roman Space Telescope launch — "),
        "{with_news:#?}"
    );
    assert!(!with_news.iter().any(|l| l.contains("Rocket Lab readies")), "only what the chat follows");
    assert!(!digest_to(3).iter().any(|l| l.contains("News")), "a chat without news gets no headlines");
}
