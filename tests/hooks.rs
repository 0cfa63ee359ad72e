//! The URL destinations (`webhook:`, `ntfy:`, `slack:`) with their real
//! senders and the real `Deliverer` (sled store in a tempdir) against the
//! fake receiver: bodies, headers, the webhook signature checked with the
//! secret, a retry after a 500 with the same delivery id, 4xx as dead
//! letters, 429s honoured, Slack's pacing, metrics, export and import.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use support::data::launch_at;
use support::fake_hook::{Answer, FakeHook};
use tminus::deliver::{Deliverer, DeliveryConfig, Sender, Senders};
use tminus::detect::{Alert, AlertId, Change};
use tminus::hooks::{HookSettings, NtfySender, SlackSender, WebhookSender};
use tminus::item::{Item, Video};
use tminus::rules::{Filter, Origin, SubId, Subscription};
use tminus::store::{Batch, OutboxEntry, Store};
use tminus::subscriptions::Subscriptions;
use tminus::types::Platform;
use tminus::types::{AlertKind, Destination, Secret};

const SECRET: &str = "whsec-SECRET-value-123";
const NTFY_TOKEN: &str = "tk_ntfy-SECRET-token";

/// A launch on its day (two hours out), when its changes make a sound.
fn launch() -> Item {
    Item {
        videos: vec![Video { url: "https://www.youtube.com/watch?v=abc123".into(), title: None, live: None }],
        description: Some("A batch of Starlink satellites.".into()),
        ..launch_at(chrono::Utc::now() + chrono::Duration::hours(2))
    }
}

struct Env {
    _dir: tempfile::TempDir,
    store: Store,
    subs: Subscriptions,
    deliverer: Arc<Deliverer>,
    fake: FakeHook,
}

impl Env {
    async fn start() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let settings = HookSettings { timeout: Duration::from_secs(5), ..HookSettings::default() };
        let senders = Senders::default()
            .with(
                Platform::Webhook,
                Arc::new(WebhookSender::new(Secret::new(SECRET), settings.clone()).unwrap()) as Arc<dyn Sender>,
            )
            .with(Platform::Ntfy, Arc::new(NtfySender::new(Secret::new(NTFY_TOKEN), settings.clone()).unwrap()))
            .with(Platform::Slack, Arc::new(SlackSender::new(settings).unwrap()));
        let subs = Subscriptions::load(store.clone()).unwrap();
        let deliverer = Arc::new(Deliverer::new(subs.clone(), senders, DeliveryConfig::default()));
        Env { _dir: dir, store, subs, deliverer, fake: FakeHook::start().await }
    }

    fn dest(&self, platform: &str, path: &str) -> Destination {
        format!("{platform}:{}", self.fake.url(path)).parse().unwrap()
    }

    fn subscribe(&self, id: u64, destination: Destination, silent: Vec<AlertKind>) -> Subscription {
        let sub = Subscription { silent, ..Subscription::new(SubId(id), destination, Filter::default(), Origin::Chat) };
        self.subs.put(&sub).unwrap();
        sub
    }

    fn enqueue(&self, sub: &Subscription, changes: Vec<Change>) -> AlertId {
        let alert = Alert::new(AlertId(self.store.next_id().unwrap()), launch(), changes, Utc::now());
        let entry = OutboxEntry {
            alert: alert.id,
            sub: sub.id,
            destination: sub.destination.clone(),
            enqueued_at: Utc::now(),
            attempts: 0,
            not_before: None,
        };
        let id = alert.id;
        self.store.apply(&Batch { alerts: vec![alert], deliveries: vec![entry], ..Default::default() }).unwrap();
        id
    }

    async fn drain_all(&self, limit: Duration) {
        let start = Instant::now();
        while self.store.outbox_len() > 0 {
            assert!(start.elapsed() < limit, "outbox not empty after {limit:?}");
            self.deliverer.drain_once().await.unwrap();
            if self.store.outbox_len() > 0 {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

fn hmac_hex(body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(body);
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn a_webhook_gets_signed_versioned_json_and_the_same_delivery_id_after_a_500() {
    let env = Env::start().await;
    let sub = env.subscribe(1, env.dest("webhook", "/api/webhook/tminus"), vec![]);
    let item = launch();
    env.enqueue(&sub, vec![Change::Status { old: None, new: item.status.clone() }]);
    env.fake.answer_next(Answer::Status(500));

    let first = env.deliverer.drain_once().await.unwrap();
    assert_eq!((first.delivered, first.retried, first.dead), (0, 1, 0), "a 500 is retried through the outbox");
    env.drain_all(Duration::from_secs(10)).await;

    let reqs = env.fake.requests();
    assert_eq!(reqs.len(), 2);
    let r = &reqs[1];
    assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", "/api/webhook/tminus"));
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("x-tminus-signature-256"), Some(format!("sha256={}", hmac_hex(&r.body)).as_str()));
    let id = r.header("x-tminus-delivery").unwrap();
    assert_eq!(reqs[0].header("x-tminus-delivery"), Some(id), "one delivery id across retries");
    let body = r.json();
    assert_eq!(body["version"], 1);
    assert_eq!(body["kinds"], serde_json::json!(["status"]));
    assert_eq!(body["item"]["id"], item.id.id);
    assert_eq!(body["item"]["name"], item.name);
    assert_eq!(body["item"]["link"], tminus::links::main_page(&item).unwrap());
    assert_eq!(body["item"]["webcast"], "https://www.youtube.com/watch?v=abc123");
    assert_eq!(body["changes"][0]["kind"], "status");
    assert_eq!(body["silent"], false);
    assert!(body["text"].as_str().unwrap().contains(&item.name));
    assert_eq!(env.store.delivered().unwrap().len(), 1);
}

#[tokio::test]
async fn a_4xx_is_a_dead_letter_with_its_reason_and_no_secret() {
    let env = Env::start().await;
    let sub = env.subscribe(1, env.dest("webhook", "/hook/PATHSECRET"), vec![]);
    env.fake.answer_always(Answer::Status(404));
    env.enqueue(&sub, vec![Change::New]);

    let stats = env.deliverer.drain_once().await.unwrap();
    assert_eq!((stats.delivered, stats.retried, stats.dead), (0, 0, 1));
    let dead = env.store.dead_letters().unwrap();
    assert_eq!(dead.len(), 1);
    assert!(dead[0].reason.contains("404") && dead[0].reason.contains("fake says 404"), "{}", dead[0].reason);
    assert!(!dead[0].reason.contains("PATHSECRET"), "{}", dead[0].reason);
    assert!(env.store.subscription(SubId(1)).unwrap().unwrap().enabled, "a refusal is no reason to unsubscribe");
    let metrics = tminus::metrics::global().render(None);
    assert!(metrics.contains("platform=\"webhook\""), "metrics count the new platform:\n{metrics}");
}

#[tokio::test]
async fn a_429_is_honoured_for_its_retry_after() {
    let env = Env::start().await;
    let sub = env.subscribe(1, env.dest("ntfy", "/launches"), vec![]);
    env.fake.answer_next(Answer::RateLimited { retry_after_secs: 1 });
    env.enqueue(&sub, vec![Change::New]);

    let stats = env.deliverer.drain_once().await.unwrap();
    assert_eq!(stats.retried, 1);
    let (_, entry) = env.store.pending(10).unwrap().into_iter().next().unwrap();
    let wait = (entry.not_before.unwrap() - Utc::now()).num_milliseconds();
    assert!((500..=1000).contains(&wait), "rescheduled after Retry-After (1 s), not the backoff: {wait} ms");
    env.drain_all(Duration::from_secs(10)).await;
    assert_eq!(env.fake.requests().len(), 2);
}

#[tokio::test]
async fn ntfy_gets_plain_text_with_its_headers_and_silent_alerts_are_low() {
    let env = Env::start().await;
    let loud = env.subscribe(1, env.dest("ntfy", "/launches"), vec![]);
    let quiet = env.subscribe(2, env.dest("ntfy", "/quiet"), vec![AlertKind::Status]);
    // Equal bounds span the whole day: quiet whenever the test runs.
    let night = Subscription {
        quiet_hours: Some("00:00-00:00".parse().unwrap()),
        ..env.subscribe(3, env.dest("ntfy", "/night"), vec![])
    };
    env.subs.put(&night).unwrap();
    let item = launch();
    let change = || vec![Change::Status { old: None, new: item.status.clone() }];
    env.enqueue(&loud, change());
    env.enqueue(&quiet, change());
    env.enqueue(&night, change());
    env.drain_all(Duration::from_secs(10)).await;

    let reqs = env.fake.requests();
    let loud = reqs.iter().find(|r| r.path == "/launches").unwrap();
    assert_eq!(loud.method, "POST");
    assert_eq!(loud.header("authorization"), Some(format!("Bearer {NTFY_TOKEN}").as_str()));
    let title = loud.header("title").unwrap();
    assert!(title.contains(&item.name), "{title}");
    assert_eq!(loud.header("click"), tminus::links::main_page(&item).as_deref());
    assert_eq!(loud.header("priority"), Some("4"));
    assert!(loud.header("tags").unwrap().ends_with(",status"));
    assert_eq!(loud.header("actions"), Some("view, Watch live, https://www.youtube.com/watch?v=abc123"));
    assert!(loud.header("content-type").unwrap().starts_with("text/plain"));
    assert!(loud.text().contains("Status:"), "{}", loud.text());
    let quiet = reqs.iter().find(|r| r.path == "/quiet").unwrap();
    assert_eq!(quiet.header("priority"), Some("2"), "a silent kind is low priority");
    let night = reqs.iter().find(|r| r.path == "/night").unwrap();
    assert_eq!(night.header("priority"), Some("2"), "quiet hours are low priority");
}

#[tokio::test]
async fn slack_gets_text_and_blocks_paced_to_one_a_second() {
    let env = Env::start().await;
    let sub = env.subscribe(1, env.dest("slack", "/services/T0/B0/x"), vec![]);
    let item = launch();
    env.enqueue(&sub, vec![Change::New]);
    env.enqueue(&sub, vec![Change::Status { old: None, new: item.status.clone() }]);
    env.drain_all(Duration::from_secs(10)).await;

    let reqs = env.fake.requests();
    assert_eq!(reqs.len(), 2);
    let body = reqs[0].json();
    assert!(body["text"].as_str().unwrap().contains(&item.name));
    let blocks = body["blocks"].as_array().unwrap();
    assert_eq!(blocks[0]["type"], "header");
    assert!(blocks.iter().any(|b| b["type"] == "actions"));
    assert_eq!(env.store.delivered().unwrap().len(), 2);
    let gap = reqs[1].at.duration_since(reqs[0].at);
    assert!(gap >= Duration::from_millis(900), "one message a second per webhook: {gap:?}");
}

#[tokio::test]
async fn hook_subscriptions_travel_through_export_and_import() {
    let dir = tempfile::tempdir().unwrap();
    let config = |name: &str| {
        let mut c = tminus::config::Config::default_config();
        c.store.path = dir.path().join(name);
        c
    };
    let dests: Vec<Destination> =
        ["webhook:https://h.example/a", "ntfy:https://ntfy.sh/b", "slack:https://hooks.slack.com/c"]
            .iter()
            .map(|d| d.parse().unwrap())
            .collect();
    {
        let store = Store::open(&dir.path().join("old")).unwrap();
        let subs = Subscriptions::load(store.clone()).unwrap();
        for (i, d) in dests.iter().enumerate() {
            let sub = Subscription::new(SubId(i as u64 + 1), d.clone(), Filter::default(), Origin::Chat);
            subs.put(&Subscription { silent: vec![AlertKind::Schedule], ..sub }).unwrap();
        }
        store.flush().await.unwrap();
    }
    let file = dir.path().join("export.json");
    tminus::app::export_state(&config("old"), Some(&file)).unwrap();
    tminus::app::import_state(&config("new"), &file).await.unwrap();
    let store = Store::open(&dir.path().join("new")).unwrap();
    let mut back: Vec<(Destination, Vec<AlertKind>)> =
        store.subscriptions().unwrap().into_iter().map(|s| (s.destination, s.silent)).collect();
    back.sort();
    let mut want: Vec<(Destination, Vec<AlertKind>)> =
        dests.into_iter().map(|d| (d, vec![AlertKind::Schedule])).collect();
    want.sort();
    assert_eq!(back, want);
    drop(store);

    // An edited file cannot smuggle in what the config would refuse.
    let text = std::fs::read_to_string(&file).unwrap().replace("https://h.example/a", "http://h.example/a");
    std::fs::write(&file, text).unwrap();
    let refused = tminus::app::import_state(&config("third"), &file).await.unwrap_err().to_string();
    assert!(refused.contains("must be https") && refused.contains("destination"), "{refused}");
}

#[tokio::test]
async fn every_hook_platform_retries_after_a_500() {
    let env = Env::start().await;
    let fakes = [FakeHook::start().await, FakeHook::start().await, FakeHook::start().await];
    for (i, (platform, fake)) in ["webhook", "ntfy", "slack"].iter().zip(&fakes).enumerate() {
        fake.answer_next(Answer::Status(500));
        let dest: Destination = format!("{platform}:{}", fake.url("/topic")).parse().unwrap();
        let sub = env.subscribe(i as u64 + 1, dest, vec![]);
        env.enqueue(&sub, vec![Change::New]);
    }
    let first = env.deliverer.drain_once().await.unwrap();
    assert_eq!((first.delivered, first.retried), (0, 3));
    env.drain_all(Duration::from_secs(10)).await;
    for fake in &fakes {
        assert_eq!(fake.requests().len(), 2, "one failed attempt, one delivered");
    }
    assert_eq!(env.store.delivered().unwrap().len(), 3);
}
