//! The real Discord senders and the real `Deliverer` (sled store in a
//! tempdir) against the fake Discord REST server: embeds in channels and
//! through webhooks, Discord's limits, every error class, 429s, buckets,
//! the global ceiling, and that no secret leaks into an error or a log.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::Value;
use support::data::upcoming_launch;
use support::fake_discord::{FakeDiscord, Fault, Target};
use tminus::deliver::{Deliverer, DeliveryConfig, SendError, Sender, Senders};
use tminus::detect::{Alert, AlertId, Change};
use tminus::discord::{DiscordSender, SenderConfig, WebhookSender};
use tminus::item::{Item, Video};
use tminus::render::Message;
use tminus::rules::{Filter, Origin, SubId, Subscription};
use tminus::store::{Batch, OutboxEntry, Store};
use tminus::subscriptions::Subscriptions;
use tminus::types::Platform;
use tminus::types::{ChannelId, Destination, Secret};

const TOKEN: &str = "MTIzNDU2Nzg5.bot-token-SECRET-value";
const HOOK_TOKEN: &str = "hook-token-SECRET-aBcDeF123";
const CHANNEL: u64 = 424242;
const HOOK_ID: u64 = 777;

/// The sample launch, two days ahead, with a video, an image and a
/// description for the embed.
fn launch() -> Item {
    Item {
        videos: vec![Video { url: "https://www.youtube.com/watch?v=abc123".into(), title: None, live: None }],
        image: Some("https://example.com/images/falcon9.jpeg".into()),
        description: Some("A batch of Starlink satellites.".into()),
        ..upcoming_launch()
    }
}

struct Env {
    _dir: tempfile::TempDir,
    store: Store,
    subs: Subscriptions,
    fake: FakeDiscord,
    bot: Arc<DiscordSender>,
    hook: Arc<WebhookSender>,
    deliverer: Arc<Deliverer>,
}

impl Env {
    async fn start() -> Env {
        Env::with(FakeDiscord::builder().token(TOKEN).start().await, SenderConfig::default())
    }

    fn with(fake: FakeDiscord, config: SenderConfig) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let bot = Arc::new(DiscordSender::new(Secret::new(TOKEN), &fake.api_url(), config.clone()).unwrap());
        let hook = Arc::new(WebhookSender::new(config).unwrap());
        let senders = Senders::default()
            .with(Platform::Discord, bot.clone() as Arc<dyn Sender>)
            .with(Platform::DiscordWebhook, hook.clone() as Arc<dyn Sender>);
        let subs = Subscriptions::load(store.clone()).unwrap();
        let deliverer = Arc::new(Deliverer::new(subs.clone(), senders, DeliveryConfig::default()));
        Env { _dir: dir, store, subs, fake, bot, hook, deliverer }
    }

    fn webhook(&self) -> Destination {
        Destination::DiscordWebhook(Secret::new(self.fake.webhook_url(HOOK_ID, HOOK_TOKEN)))
    }

    fn subscribe(&self, id: u64, destination: Destination) -> Subscription {
        let sub = Subscription::new(SubId(id), destination, Filter::default(), Origin::Chat);
        self.subs.put(&sub).unwrap();
        sub
    }

    /// `n` alerts about `item` for `sub`, committed like the poller does.
    fn enqueue(&self, sub: &Subscription, item: &Item, n: usize) {
        for _ in 0..n {
            self.enqueue_changes(sub, item, vec![Change::New]);
        }
    }

    /// One alert of `changes` about `item` for `sub`.
    fn enqueue_changes(&self, sub: &Subscription, item: &Item, changes: Vec<Change>) {
        let alert = Alert::new(AlertId(self.store.next_id().unwrap()), item.clone(), changes, Utc::now());
        let entry = OutboxEntry {
            alert: alert.id,
            sub: sub.id,
            destination: sub.destination.clone(),
            enqueued_at: Utc::now(),
            attempts: 0,
            not_before: None,
        };
        self.store.apply(&Batch { alerts: vec![alert], deliveries: vec![entry], ..Default::default() }).unwrap();
    }

    /// Drains until the outbox is empty (retries included) or `limit` passes.
    async fn drain_all(&self, limit: Duration) {
        let start = Instant::now();
        while self.store.outbox_len() > 0 {
            assert!(start.elapsed() < limit, "outbox not empty after {limit:?}: {} left", self.store.outbox_len());
            self.deliverer.drain_once().await.unwrap();
            if self.store.outbox_len() > 0 {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }

    fn enabled(&self, id: u64) -> bool {
        self.store.subscription(SubId(id)).unwrap().unwrap().enabled
    }
}

fn embed(body: &Value) -> &Value {
    &body["embeds"][0]
}

fn field<'a>(e: &'a Value, name: &str) -> Option<&'a str> {
    e["fields"].as_array()?.iter().find(|f| f["name"] == name).and_then(|f| f["value"].as_str())
}

#[tokio::test]
async fn embed_is_posted_to_the_channel_with_its_fields() {
    let env = Env::start().await;
    let sub = env.subscribe(1, Destination::Discord(ChannelId(CHANNEL)));
    let item = launch();
    env.enqueue(&sub, &item, 1);

    let stats = env.deliverer.drain_once().await.unwrap();
    assert_eq!((stats.delivered, stats.dead, stats.retried), (1, 0, 0));

    let posts = env.fake.requests_to(Target::Channel(CHANNEL));
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].authorization.as_deref(), Some(format!("Bot {TOKEN}").as_str()));
    let e = embed(&posts[0].body);
    assert_eq!(e["title"], item.name);
    assert_eq!(e["url"], tminus::links::main_page(&item).unwrap(), "the page for people, not the LL2 API");
    assert_eq!(e["color"], 0x5865F2, "new alerts are blurple");
    assert_eq!(e["thumbnail"]["url"], "https://example.com/images/falcon9.jpeg");
    assert_eq!(e["footer"]["text"], "new alert · tminus");
    assert!(e["description"].as_str().unwrap().starts_with("🆕 **New launch**"));
    let ts = item.when.unwrap().timestamp();
    assert_eq!(field(e, "When"), Some(format!("<t:{ts}:F> (<t:{ts}:R>)").as_str()));
    assert_eq!(field(e, "Status"), Some("Go for Launch"));
    assert_eq!(field(e, "Agency"), Some("SpaceX"));
    assert_eq!(field(e, "Location"), Some("Space Launch Complex 40, Cape Canaveral SFS, FL, USA"));
    // The webcast is said once: as the "Watch live" link button.
    assert_eq!(field(e, "Webcast"), None);
    let link = &posts[0].body["components"][0]["components"][1];
    assert_eq!(
        (link["style"].as_u64(), link["url"].as_str()),
        (Some(5), Some("https://www.youtube.com/watch?v=abc123"))
    );
    assert_eq!(posts[0].body["allowed_mentions"]["parse"], serde_json::json!([]), "LL2 text never pings anyone");

    let delivered = env.store.delivered().unwrap();
    assert_eq!(delivered.len(), 1);
    let id = delivered[0].message_id.clone().expect("message id from Discord's answer");
    assert!(id.parse::<u64>().is_ok(), "a snowflake: {id}");
    assert_eq!(env.bot.stats().requests, 1);
}

#[tokio::test]
async fn webhook_destination_posts_to_the_webhook_without_a_token() {
    let env = Env::start().await;
    let sub = env.subscribe(1, env.webhook());
    env.enqueue(&sub, &launch(), 1);

    let stats = env.deliverer.drain_once().await.unwrap();
    assert_eq!(stats.delivered, 1);
    let posts = env.fake.requests_to(Target::Webhook(HOOK_ID));
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].path, format!("/api/webhooks/{HOOK_ID}/{HOOK_TOKEN}"));
    assert_eq!(posts[0].query.as_deref(), Some("wait=true"));
    assert_eq!(posts[0].authorization, None, "webhooks need no bot token");
    assert_eq!(embed(&posts[0].body)["title"], launch().name);
    assert!(env.store.delivered().unwrap()[0].message_id.is_some());
    assert!(env.fake.requests_to(Target::Channel(CHANNEL)).is_empty());
    assert_eq!(env.hook.stats().requests, 1);
}

#[tokio::test]
async fn ten_thousand_character_description_still_posts() {
    let env = Env::start().await;
    let channel = env.subscribe(1, Destination::Discord(ChannelId(CHANNEL)));
    let hook = env.subscribe(2, env.webhook());
    let mut item = launch();
    item.description = Some("Long mission text with *markdown* and ünïcödé 🚀. ".repeat(200)[..10_000].to_string());
    item.name = "N".repeat(400);
    env.enqueue(&channel, &item, 1);
    env.enqueue(&hook, &item, 1);

    let stats = env.deliverer.drain_once().await.unwrap();
    assert_eq!((stats.delivered, stats.dead), (2, 0));
    assert_eq!(env.fake.count_status(400), 0);
    for target in [Target::Channel(CHANNEL), Target::Webhook(HOOK_ID)] {
        let body = &env.fake.messages(target)[0];
        let desc = embed(body)["description"].as_str().unwrap();
        assert!(desc.chars().count() <= 4096);
        assert!(desc.ends_with('…'));
        assert_eq!(embed(body)["title"].as_str().unwrap().chars().count(), 256);
    }
}

#[tokio::test]
async fn unknown_channel_disables_the_subscription() {
    let env = Env::start().await;
    let gone = env.subscribe(1, Destination::Discord(ChannelId(1)));
    let fine = env.subscribe(2, Destination::Discord(ChannelId(CHANNEL)));
    env.fake.fail_always(Target::Channel(1), Fault::UnknownChannel);
    env.enqueue(&gone, &launch(), 3);
    env.enqueue(&fine, &launch(), 1);

    let stats = env.deliverer.drain_once().await.unwrap();
    assert_eq!((stats.delivered, stats.dead), (1, 3));
    assert!(!env.enabled(1));
    assert!(env.enabled(2));
    let dead = env.store.dead_letters().unwrap();
    assert_eq!(dead.len(), 3);
    assert!(dead.iter().any(|d| d.reason.contains("Unknown Channel") && d.reason.contains("10003")), "{dead:?}");
    assert_eq!(env.fake.requests_to(Target::Channel(1)).len(), 1, "after disabling, the rest is dropped unsent");
    assert_eq!(env.store.outbox_len(), 0);
}

#[tokio::test]
async fn unknown_webhook_disables_the_subscription() {
    let env = Env::start().await;
    let sub = env.subscribe(1, env.webhook());
    env.fake.fail_always(Target::Webhook(HOOK_ID), Fault::UnknownWebhook);
    env.enqueue(&sub, &launch(), 2);

    let stats = env.deliverer.drain_once().await.unwrap();
    assert_eq!((stats.delivered, stats.dead), (0, 2));
    assert!(!env.enabled(1));
    let dead = env.store.dead_letters().unwrap();
    assert!(dead[0].reason.contains("Unknown Webhook"), "{}", dead[0].reason);
    assert!(dead.iter().all(|d| !d.reason.contains(HOOK_TOKEN)));
}

#[tokio::test]
async fn missing_access_or_permissions_pauses_the_channel_until_a_probe_goes_through() {
    let env = Env::start().await;
    let channels = [1000u64, 1001];
    let mut subs = Vec::new();
    for (channel, fault) in channels.into_iter().zip([Fault::MissingAccess, Fault::MissingPermissions]) {
        let sub = env.subscribe(channel, Destination::Discord(ChannelId(channel)));
        env.fake.fail_always(Target::Channel(channel), fault);
        env.enqueue(&sub, &launch(), 2);
        subs.push(sub);
    }
    let stats = env.deliverer.drain_once().await.unwrap();
    assert_eq!((stats.dead, stats.delivered), (4, 0), "{stats:?}");
    assert!(env.enabled(1000) && env.enabled(1001), "an admin can fix it: paused, not disabled");
    let reasons: Vec<String> = env.store.dead_letters().unwrap().into_iter().map(|d| d.reason).collect();
    assert!(reasons.iter().any(|r| r.contains("50001")) && reasons.iter().any(|r| r.contains("50013")), "{reasons:?}");
    assert!(reasons.iter().all(|r| r.starts_with("destination paused: ")), "{reasons:?}");
    assert_eq!(env.fake.requests_to(Target::Channel(1001)).len(), 1, "the alert behind the refused one is not tried");
    let pause = env.store.pause_of(&subs[1].destination).unwrap().expect("paused");
    assert_eq!(pause.attempts, 1);
    let hours = (pause.until - pause.since).num_minutes() as f64 / 60.0;
    assert!((hours - 1.0).abs() < 0.05, "first pause: 1 h, got {hours}");

    // While paused: alerts become dead letters without a request.
    env.enqueue(&subs[1], &launch(), 1);
    let stats = env.deliverer.drain_once().await.unwrap();
    assert_eq!(stats.dead, 1);
    assert_eq!(env.fake.requests_to(Target::Channel(1001)).len(), 1, "no request while paused");

    // The pause is over and still not fixed: one probe, the pause doubles.
    let due = tminus::store::DestinationPause { until: Utc::now() - chrono::Duration::seconds(1), ..pause };
    env.subs.pause(&due).unwrap();
    env.enqueue(&subs[1], &launch(), 2);
    env.deliverer.drain_once().await.unwrap();
    assert_eq!(env.fake.requests_to(Target::Channel(1001)).len(), 2, "one probe");
    let again = env.store.pause_of(&subs[1].destination).unwrap().expect("still paused");
    assert_eq!((again.attempts, again.since), (2, due.since));
    let hours = (again.until - Utc::now()).num_minutes() as f64 / 60.0;
    assert!((hours - 2.0).abs() < 0.05, "second pause: 2 h, got {hours}");

    // Fixed: the next probe goes through and ends the pause.
    env.fake.clear_faults(Target::Channel(1001));
    env.subs.pause(&tminus::store::DestinationPause { until: Utc::now(), ..again }).unwrap();
    env.enqueue(&subs[1], &launch(), 2);
    let stats = env.deliverer.drain_once().await.unwrap();
    assert_eq!(stats.delivered, 2, "{stats:?}");
    assert!(env.store.pause_of(&subs[1].destination).unwrap().is_none());
}

#[tokio::test]
async fn rejected_message_is_dead_lettered_but_the_subscription_stays() {
    let env = Env::start().await;
    let sub = env.subscribe(1, Destination::Discord(ChannelId(CHANNEL)));
    env.fake.fail_once(Target::Channel(CHANNEL), Fault::InvalidFormBody);
    env.enqueue(&sub, &launch(), 2);
    let stats = env.deliverer.drain_once().await.unwrap();
    assert_eq!((stats.delivered, stats.dead), (1, 1));
    assert!(env.enabled(1));
    assert!(env.store.dead_letters().unwrap()[0].reason.contains("50035"));
}

#[tokio::test]
async fn rate_limit_429_retry_after_is_honoured_then_delivered() {
    let env = Env::start().await;
    let sub = env.subscribe(1, Destination::Discord(ChannelId(CHANNEL)));
    env.fake.fail_once(Target::Channel(CHANNEL), Fault::RateLimited { retry_after: 1.5, global: false });
    env.enqueue(&sub, &launch(), 1);

    let first = env.deliverer.drain_once().await.unwrap();
    assert_eq!((first.delivered, first.retried), (0, 1));
    let (_, entry) = env.store.pending(10).unwrap().remove(0);
    let wait = (entry.not_before.unwrap() - Utc::now()).num_milliseconds();
    assert!((700..=1520).contains(&wait), "rescheduled by retry_after, {wait} ms left");
    let early = env.deliverer.drain_once().await.unwrap();
    assert_eq!((early.delivered, early.waiting), (0, 1), "not retried before retry_after");

    env.drain_all(Duration::from_secs(10)).await;
    let posts = env.fake.requests_to(Target::Channel(CHANNEL));
    assert_eq!(posts.iter().map(|p| p.status).collect::<Vec<_>>(), vec![429, 200]);
    let gap = posts[1].at.duration_since(posts[0].at);
    assert!(gap >= Duration::from_millis(1500), "second try after {gap:?}");
    assert_eq!(env.bot.stats().rate_limited, 1);
}

#[tokio::test]
async fn global_429_pauses_every_route() {
    let env = Env::start().await;
    env.fake.fail_once(Target::Channel(1), Fault::RateLimited { retry_after: 0.4, global: true });
    let msg = message();
    let a = env.bot.send(&Destination::Discord(ChannelId(1)), &msg).await;
    assert!(
        matches!(a, Err(SendError::Transient { retry_after: Some(d), .. }) if d == Duration::from_millis(400)),
        "{a:?}"
    );
    let start = Instant::now();
    env.bot.send(&Destination::Discord(ChannelId(2)), &msg).await.unwrap();
    assert!(
        start.elapsed() >= Duration::from_millis(350),
        "another channel waited for the global pause: {:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn server_error_is_retried_and_delivered() {
    let env = Env::start().await;
    let sub = env.subscribe(1, Destination::Discord(ChannelId(CHANNEL)));
    env.fake.fail_once(Target::Channel(CHANNEL), Fault::ServerError);
    env.enqueue(&sub, &launch(), 2);
    let first = env.deliverer.drain_once().await.unwrap();
    assert_eq!((first.retried, first.waiting), (1, 1), "FIFO: the second waits behind the first");
    env.drain_all(Duration::from_secs(10)).await;
    let statuses: Vec<u16> = env.fake.requests_to(Target::Channel(CHANNEL)).iter().map(|p| p.status).collect();
    assert_eq!(statuses, vec![500, 200, 200]);
    assert_eq!(env.store.delivered().unwrap().len(), 2);
    assert!(env.enabled(1));
}

#[tokio::test]
async fn bad_bot_token_is_not_blamed_on_the_channel() {
    let fake = FakeDiscord::builder().token("the-right-token-123").start().await;
    let env = Env::with(fake, SenderConfig::default());
    let sub = env.subscribe(1, Destination::Discord(ChannelId(CHANNEL)));
    env.enqueue(&sub, &launch(), 1);
    let stats = env.deliverer.drain_once().await.unwrap();
    assert_eq!((stats.retried, stats.dead), (1, 0));
    assert!(env.enabled(1), "a wrong token is not the channel's fault");
}

#[tokio::test]
async fn bucket_headers_are_respected() {
    let fake = FakeDiscord::builder().token(TOKEN).route_limit(5, Duration::from_secs(1)).start().await;
    let env = Env::with(fake, SenderConfig::default());
    let sub = env.subscribe(1, Destination::Discord(ChannelId(CHANNEL)));
    env.enqueue(&sub, &launch(), 20);

    let start = Instant::now();
    env.drain_all(Duration::from_secs(15)).await;
    let took = start.elapsed();
    eprintln!(
        "20 messages at 5/s per route: {took:?}, {} waits, {} 429s",
        env.bot.stats().bucket_waits,
        env.fake.rate_limited()
    );
    assert_eq!(env.fake.rate_limited(), 0, "no 429 when following the bucket headers");
    assert_eq!(env.fake.messages(Target::Channel(CHANNEL)).len(), 20);
    // Four windows of five: the last batch cannot start before 3 s.
    assert!(took >= Duration::from_secs(3), "{took:?}");
    assert!(took < Duration::from_secs(6), "{took:?}");
}

#[tokio::test]
async fn webhook_buckets_are_respected() {
    let fake = FakeDiscord::builder().token(TOKEN).route_limit(5, Duration::from_millis(400)).start().await;
    let env = Env::with(fake, SenderConfig::default());
    let sub = env.subscribe(1, env.webhook());
    env.enqueue(&sub, &launch(), 15);
    let start = Instant::now();
    env.drain_all(Duration::from_secs(10)).await;
    assert_eq!(env.fake.rate_limited(), 0);
    assert_eq!(env.fake.messages(Target::Webhook(HOOK_ID)).len(), 15);
    assert!(start.elapsed() >= Duration::from_millis(800), "{:?}", start.elapsed());
}

/// Driven through the senders directly, 120 sends at once on a
/// multi-threaded runtime: the ceiling must hold under real parallelism.
/// (Through the `Deliverer` this fan-out can hang: many drain tasks call
/// `Store::flush` at once and sled 0.34's `flush_async` starves its own
/// thread pool; see the delivery notes.)
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn global_ceiling_holds_across_channels() {
    let fake = FakeDiscord::builder().token(TOKEN).global_limit(50, Duration::from_secs(1)).start().await;
    let bot = Arc::new(DiscordSender::new(Secret::new(TOKEN), &fake.api_url(), SenderConfig::default()).unwrap());
    let msg = Arc::new(message());
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..120u64 {
        let (bot, msg) = (bot.clone(), msg.clone());
        tasks.spawn(async move { bot.send(&Destination::Discord(ChannelId(10_000 + c)), &msg).await });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap().unwrap();
    }
    let took = start.elapsed();
    eprintln!(
        "120 channels at 50/s global: {took:?}, {} 429s, {} global waits",
        fake.rate_limited(),
        bot.stats().global_waits
    );
    assert_eq!(fake.delivered(), 120);
    assert_eq!(fake.rate_limited(), 0);
    // Windows of 50: the third batch cannot start before 2 s.
    assert!(took >= Duration::from_secs(2), "{took:?}");
    assert!(took < Duration::from_secs(5), "{took:?}");
}

fn message() -> Message {
    let alert = Alert { id: AlertId(1), item: launch(), changes: vec![Change::New], detected_at: Utc::now() };
    tminus::render::message(&alert, chrono_tz::UTC, Utc::now())
}

/// Log lines written while the guard lives (current-thread runtime).
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn secrets_never_appear_in_errors_or_logs() {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let fake = FakeDiscord::builder().token(TOKEN).start().await;
    let config = SenderConfig { timeout: Duration::from_millis(300), ..SenderConfig::default() };
    let env = Env::with(fake, config.clone());
    let msg = message();
    let channel = |id: u64| Destination::Discord(ChannelId(id));
    let mut texts = Vec::new();
    let mut record = |r: Result<tminus::deliver::Sent, SendError>| {
        let e = r.expect_err("every case here fails");
        texts.push(format!("{e} {e:?}"));
    };

    for (i, fault) in [
        Fault::UnknownChannel,
        Fault::MissingAccess,
        Fault::ServerError,
        Fault::InvalidFormBody,
        Fault::RateLimited { retry_after: 0.01, global: false },
        Fault::Slow(Duration::from_secs(2)),
    ]
    .into_iter()
    .enumerate()
    {
        let id = 50 + i as u64;
        env.fake.fail_once(Target::Channel(id), fault.clone());
        record(env.bot.send(&channel(id), &msg).await);
        let hook_id = 60 + i as u64;
        env.fake.fail_once(Target::Webhook(hook_id), fault);
        let hook = Destination::DiscordWebhook(Secret::new(env.fake.webhook_url(hook_id, HOOK_TOKEN)));
        record(env.hook.send(&hook, &msg).await);
    }

    // Nobody listening: connection refused, with the token in the header
    // and the webhook token in the URL.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
    let offline = DiscordSender::new(Secret::new(TOKEN), &format!("http://{closed}"), config.clone()).unwrap();
    record(offline.send(&channel(CHANNEL), &msg).await);
    let dead_hook =
        Destination::DiscordWebhook(Secret::new(format!("http://{closed}/api/webhooks/{HOOK_ID}/{HOOK_TOKEN}")));
    record(env.hook.send(&dead_hook, &msg).await);
    // A webhook URL that is not Discord's shape and a wrong bot token.
    let odd = Destination::DiscordWebhook(Secret::new(format!("http://{closed}/hooks/{HOOK_TOKEN}")));
    record(env.hook.send(&odd, &msg).await);
    let wrong = DiscordSender::new(Secret::new("Bot wrong-token-value-42"), &env.fake.api_url(), config).unwrap();
    record(wrong.send(&channel(CHANNEL), &msg).await);

    // And through the deliverer: dead letters keep the reason.
    let sub = env.subscribe(1, Destination::DiscordWebhook(Secret::new(env.fake.webhook_url(HOOK_ID, HOOK_TOKEN))));
    env.fake.fail_always(Target::Webhook(HOOK_ID), Fault::UnknownWebhook);
    env.enqueue(&sub, &launch(), 1);
    env.deliverer.drain_once().await.unwrap();
    texts.extend(env.store.dead_letters().unwrap().into_iter().map(|d| d.reason));

    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(texts.len() >= 16, "{texts:#?}");
    assert!(logs.contains("Discord rate limited us"), "logs were captured:\n{logs}");
    for secret in [TOKEN, HOOK_TOKEN, "wrong-token-value-42"] {
        for t in &texts {
            assert!(!t.contains(secret), "secret in error: {t}");
        }
        assert!(!logs.contains(secret), "secret in logs:\n{logs}");
    }
    eprintln!("{}", texts.join("\n"));
}

#[tokio::test]
async fn watch_mentions_ping_exactly_their_roles_and_users_in_channels_and_webhooks() {
    let env = Env::start().await;
    let mut watch = tminus::subscriptions::default_console_watch(chrono_tz::UTC, vec![]);
    watch.name = "launch-alerts".into();
    watch.to = vec![Destination::Discord(ChannelId(CHANNEL)), env.webhook(), Destination::Console];
    watch.mentions = vec!["<@&1234>".parse().unwrap(), "<@5678>".parse().unwrap()];
    env.subs.reconcile(&[watch]).unwrap();
    let subs = env.subs.all().unwrap();
    let console = subs.iter().find(|s| s.destination == Destination::Console).unwrap();
    assert!(console.mentions.is_empty(), "only Discord destinations ping");
    // LL2 text that tries to ping: it stays inert.
    let item = Item { name: "Falcon 9 @everyone <@&999>".into(), ..launch() };
    for sub in subs.iter().filter(|s| s.destination != Destination::Console) {
        env.enqueue(sub, &item, 1);
    }
    let stats = env.deliverer.drain_once().await.unwrap();
    assert_eq!(stats.delivered, 2, "{stats:?}");
    for target in [Target::Channel(CHANNEL), Target::Webhook(HOOK_ID)] {
        let posts = env.fake.requests_to(target);
        assert_eq!(posts.len(), 1);
        let body = &posts[0].body;
        assert_eq!(body["content"], "<@&1234> <@5678>");
        assert_eq!(
            body["allowed_mentions"],
            serde_json::json!({"parse": [], "roles": ["1234"], "users": ["5678"]}),
            "exactly the watch's mentions"
        );
    }
}

#[tokio::test]
async fn alerts_without_mentions_have_no_content_and_ping_no_one() {
    let env = Env::start().await;
    let sub = env.subscribe(1, Destination::Discord(ChannelId(CHANNEL)));
    env.enqueue(&sub, &launch(), 1);
    env.deliverer.drain_once().await.unwrap();
    let body = &env.fake.requests_to(Target::Channel(CHANNEL))[0].body;
    assert!(body.get("content").is_none_or(Value::is_null), "{body}");
    assert_eq!(body["allowed_mentions"], serde_json::json!({"parse": [], "roles": [], "users": []}));
}

/// The real binary, restarted like cron does: a channel whose bot lost its
/// permissions (403 50013) is paused, not disabled; once the admin fixed
/// them, the next start tries the config watch again and alerts arrive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_permissions_then_fixed_then_restart_delivers_again() {
    use support::binary::{tminus, write_config};
    use support::fake_ll2::FakeLl2;
    const MMX: &str = "69ebbcd2-b257-4070-9ef9-21e7d1f8a883";
    let once = |config: std::path::PathBuf| async move {
        let out = tokio::task::spawn_blocking(move || tminus(&config, "once").output().unwrap()).await.unwrap();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{err}");
        err
    };
    let ll2 = FakeLl2::start().await;
    let discord = FakeDiscord::builder().token(TOKEN).start().await;
    let dir = tempfile::tempdir().unwrap();
    let extra = format!(
        "\n[alerts]\nreminders = \"off\"\n\n[discord]\ntoken = \"{TOKEN}\"\napi_url = \"{}\"\n\n\
         [[watch]]\nname = \"ops\"\nto = [\"discord:{CHANNEL}\"]\nalerts = [\"status\"]\n",
        discord.api_url()
    );
    let config = write_config(dir.path(), &ll2, &extra);
    once(config.clone()).await;

    ll2.set_field(
        tminus::types::Feed::Launches,
        MMX,
        "/status",
        serde_json::json!({"id": 5, "name": "On Hold", "abbrev": "Hold"}),
    );
    discord.fail_always(Target::Channel(CHANNEL), Fault::MissingPermissions);
    let log = once(config.clone()).await;
    assert!(log.contains("paused"), "{log}");
    assert_eq!(discord.requests_to(Target::Channel(CHANNEL)).len(), 1);
    assert!(discord.messages(Target::Channel(CHANNEL)).is_empty());

    // The admin gives the permission back; tminus starts again.
    discord.clear_faults(Target::Channel(CHANNEL));
    ll2.set_field(
        tminus::types::Feed::Launches,
        MMX,
        "/status",
        serde_json::json!({"id": 1, "name": "Go for Launch", "abbrev": "Go"}),
    );
    let log = once(config.clone()).await;
    let sent = discord.messages(Target::Channel(CHANNEL));
    assert_eq!(sent.len(), 1, "{log}");
    assert!(sent[0].to_string().contains("Go for Launch"), "{}", sent[0]);
    assert!(!log.contains(TOKEN), "{log}");
}

#[tokio::test]
async fn a_webcast_link_appearing_is_silent_in_channels_and_webhooks_going_live_is_loud() {
    let env = Env::start().await;
    let channel = env.subscribe(1, Destination::Discord(ChannelId(CHANNEL)));
    let hook = env.subscribe(2, env.webhook());
    let webcast = |went_live| Change::Webcast { went_live, url: Some("https://www.youtube.com/watch?v=abc123".into()) };
    // On its day: before it, a webcast going live makes no sound either.
    let today = Item { when: Some(chrono::Utc::now() + chrono::Duration::hours(1)), ..launch() };
    for sub in [&channel, &hook] {
        env.enqueue_changes(sub, &today, vec![webcast(false)]);
        env.enqueue_changes(sub, &today, vec![webcast(true)]);
    }
    env.drain_all(Duration::from_secs(10)).await;
    for target in [Target::Channel(CHANNEL), Target::Webhook(HOOK_ID)] {
        let posts = env.fake.requests_to(target);
        assert_eq!(posts.len(), 2, "{target:?}");
        assert_eq!(posts[0].body["flags"], 4096, "link added: SUPPRESS_NOTIFICATIONS ({target:?})");
        assert!(posts[1].body.get("flags").is_none_or(|f| f.as_u64().unwrap_or(0) & 4096 == 0), "live: loud");
    }
}

#[tokio::test]
async fn quiet_hours_over_now_make_every_discord_message_silent() {
    let env = Env::start().await;
    let sub = env.subscribe(1, Destination::Discord(ChannelId(CHANNEL)));
    let sub = sub.with_loudness(Some("00:00-00:00".parse().unwrap()), vec![]);
    env.subs.put(&sub).unwrap();
    env.enqueue_changes(&sub, &launch(), vec![Change::Status { old: None, new: None }]);
    env.enqueue(&sub, &launch(), 2);
    env.drain_all(Duration::from_secs(10)).await;
    let posts = env.fake.requests_to(Target::Channel(CHANNEL));
    assert_eq!(posts.len(), 3, "none dropped");
    assert!(posts.iter().all(|p| p.body["flags"] == 4096), "every message silent");
}
