//! The tminus Discord front-end assembled in-process against the fakes,
//! for tests of interactions: the same `Handler` behind the HTTP
//! interactions endpoint (requests signed with a test Ed25519 key) and,
//! with [`BotOptions::gateway`], behind serenity's gateway client
//! connected to a [`FakeGateway`]. Interaction bodies are shaped like
//! Discord's, complete enough for serenity's strict models.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ed25519_dalek::{Signer, SigningKey};
use serde_json::{Value, json};
use tminus::commands::Defaults;
use tminus::commands::flood::FloodLimits;
use tminus::config::{Config, DiscordConfig};
use tminus::deliver::{Deliverer, DeliveryConfig, Senders};
use tminus::discord::commands::Handler;
use tminus::discord::{DiscordSender, SenderConfig, interactions};
use tminus::metrics::Metrics;
use tminus::poller::{BudgetWait, Poller, PollerConfig};
use tminus::server::{self, ServerState};
use tminus::store::Store;
use tminus::subscriptions::Subscriptions;
use tminus::types::Platform;
use tminus::types::{ChannelId, Destination, Feed, Secret};
use tokio_util::sync::{CancellationToken, DropGuard};

use super::gateway::FakeGateway;
use super::{APPLICATION_ID, BOT_USER_ID, FakeDiscord, Kind};
use crate::support::UNHURRIED;
use crate::support::fake_ll2::FakeLl2;

pub const TOKEN: &str = "MTEw.test-bot-token-SECRET";
pub const CHANNEL: u64 = 424242;
pub const OTHER_CHANNEL: u64 = 515151;
pub const GUILD: u64 = 99;

/// Manage Channels.
pub const MANAGER: &str = "16";
/// Administrator only.
pub const ADMIN: &str = "8";
/// A usual member: view, send, read history, reactions… without Manage
/// Channels or Administrator.
pub const MEMBER: &str = "104324673";

pub fn signing_key() -> SigningKey {
    SigningKey::from_bytes(&[42u8; 32])
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn public_key_hex() -> String {
    hex(&signing_key().verifying_key().to_bytes())
}

pub fn now_ts() -> String {
    chrono::Utc::now().timestamp().to_string()
}

/// Discord's `X-Signature-Ed25519` over timestamp + body.
pub fn sign(key: &SigningKey, timestamp: &str, body: &str) -> String {
    hex(&key.sign(format!("{timestamp}{body}").as_bytes()).to_bytes())
}

pub static NEXT_ID: AtomicU64 = AtomicU64::new(1_200_000_000_000_000_000);

/// An interaction shaped like the ones Discord posts.
pub fn interaction(kind: u8, name: &str, options: Value, channel: u64, permissions: &str) -> Value {
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed).to_string();
    json!({
        "type": kind,
        "id": id,
        "application_id": APPLICATION_ID.to_string(),
        "token": format!("aW50ZXJhY3Rpb24-{id}"),
        "version": 1,
        "locale": "en-US",
        "guild_locale": "en-US",
        "app_permissions": "2248473465835073",
        "entitlements": [],
        "authorizing_integration_owners": {"0": GUILD.to_string()},
        "context": 0,
        "attachment_size_limit": 8388608,
        "guild_id": GUILD.to_string(),
        "guild": {"id": GUILD.to_string(), "locale": "en-US", "features": []},
        "channel_id": channel.to_string(),
        "channel": {"id": channel.to_string(), "type": 0, "name": "launches", "guild_id": GUILD.to_string()},
        "member": {
            "user": {"id": "80351110224678912", "username": "astro", "discriminator": "0", "global_name": "Astro", "avatar": null},
            "roles": [],
            "joined_at": "2024-05-01T12:00:00.000000+00:00",
            "deaf": false,
            "mute": false,
            "flags": 0,
            "pending": false,
            "nick": null,
            "avatar": null,
            "permissions": permissions
        },
        "data": {"id": "1300000000000000001", "name": name, "type": 1, "options": options, "guild_id": GUILD.to_string()}
    })
}

pub fn command(name: &str, options: Value) -> Value {
    interaction(2, name, options, CHANNEL, MANAGER)
}

/// `{"name": .., "type": 3, "value": ..}` for each pair.
pub fn strings(pairs: &[(&str, &str)]) -> Value {
    Value::Array(pairs.iter().map(|(n, v)| json!({"name": n, "type": 3, "value": v})).collect())
}

/// The pipeline with the Discord front-end: store, subscriptions, the real
/// poller against the fake LL2 (first sync done), the real deliverer with
/// the real Discord sender against the fake Discord, and the interactions
/// endpoint mounted on the real HTTP server.
/// How [`Bot::start_with`] sets the bot up.
pub struct BotOptions {
    /// The handler's flood limits.
    pub flood: FloodLimits,
    /// Also connect the gateway (`discord::gateway::run`) to a
    /// [`FakeGateway`], the fake REST pointing at it.
    pub gateway: bool,
}

impl Default for BotOptions {
    /// Unhurried flood limits, no gateway.
    fn default() -> BotOptions {
        BotOptions { flood: UNHURRIED, gateway: false }
    }
}

/// The pipeline with the Discord front-end: store, subscriptions, the real
/// poller against the fake LL2 (first sync done), the real deliverer with
/// the real Discord sender against the fake Discord, the interactions
/// endpoint mounted on the real HTTP server and, when asked, the gateway
/// connection to a fake gateway; one `Handler` behind both.
pub struct Bot {
    _dir: tempfile::TempDir,
    pub store: Store,
    pub poller: Poller,
    pub deliverer: Arc<Deliverer>,
    pub addr: SocketAddr,
    pub ll2: FakeLl2,
    pub discord: FakeDiscord,
    pub gateway: Option<FakeGateway>,
    pub http: reqwest::Client,
    /// Stops the server (and the gateway task) when the harness is dropped.
    _stop: DropGuard,
}

impl Bot {
    /// [`BotOptions::default`].
    pub async fn start() -> Bot {
        Bot::start_with(BotOptions::default()).await
    }

    pub async fn start_with(options: BotOptions) -> Bot {
        let ll2 = FakeLl2::start().await;
        let gateway = if options.gateway { Some(FakeGateway::start(TOKEN).await) } else { None };
        let mut discord = FakeDiscord::builder().token(TOKEN);
        if let Some(g) = &gateway {
            discord = discord.gateway(&g.url());
        }
        let discord = discord.start().await;
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("store")).unwrap();
        let subs = Subscriptions::load(store.clone()).unwrap();
        let sender = DiscordSender::new(Secret::new(TOKEN), &discord.api_url(), SenderConfig::default()).unwrap();
        let senders = Senders::default().with(Platform::Discord, Arc::new(sender));
        let deliverer = Arc::new(Deliverer::new(subs.clone(), senders, DeliveryConfig::default()));
        let stop = CancellationToken::new();
        let cfg = ll2.ll2_config();
        let poller_config = PollerConfig { requests_per_hour: 1000, ..PollerConfig::from_ll2(&cfg, false) };
        let client = tminus::ll2::Client::new(&cfg).unwrap();
        let mut poller =
            Poller::new(client, store.clone(), subs.index(), poller_config, deliverer.wake.clone(), stop.clone())
                .unwrap();
        for feed in Feed::ALL {
            poller.poll_feed(feed, BudgetWait::Skip).await.unwrap();
        }
        assert_eq!(store.outbox_len(), 0, "the first sync is silent");

        let defaults = Defaults {
            timezone: chrono_tz::UTC,
            reminders: vec![Duration::from_secs(3600)],
            calendar_base: None,
            schedule_horizon: None,
        };
        let handler = Arc::new(
            Handler::new(store.clone(), subs.clone(), poller.directory(), defaults).with_flood_limits(options.flood),
        );
        if let Some(g) = &gateway {
            tokio::spawn(tminus::discord::gateway::run(discord_config(&discord), handler.clone(), stop.clone()));
            g.wait_ready(Duration::from_secs(20)).await;
        }
        let routes = interactions::router(handler, &public_key_hex()).unwrap();
        let state = ServerState::new(
            store.clone(),
            Arc::new(Metrics::default()),
            Feed::ALL.to_vec(),
            Duration::from_secs(3600),
        );
        let (addr, _task) =
            server::start("127.0.0.1:0".parse().unwrap(), state, Some(routes), stop.clone()).await.unwrap();
        Bot {
            _dir: dir,
            store,
            poller,
            deliverer,
            addr,
            ll2,
            discord,
            gateway,
            http: reqwest::Client::new(),
            _stop: stop.drop_guard(),
        }
    }

    /// Sends `interaction` as an `INTERACTION_CREATE` over the fake
    /// gateway and returns the body of the bot's callback for it, as the
    /// fake REST recorded it (`POST /interactions/{id}/{token}/callback`).
    pub async fn through_gateway(&self, interaction: &Value) -> Value {
        let gateway = self.gateway.as_ref().expect("Bot started without the gateway");
        let id: u64 = interaction["id"].as_str().and_then(|s| s.parse().ok()).expect("an interaction id");
        assert_eq!(gateway.dispatch("INTERACTION_CREATE", interaction.clone()), 1, "one ready session");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let answered = self.discord.requests().into_iter().find(|r| {
                matches!(&r.kind, Kind::InteractionCallback { interaction: i, token }
                    if *i == id && Some(token.as_str()) == interaction["token"].as_str())
            });
            if let Some(r) = answered {
                assert_eq!(r.status, 204, "{r:?}");
                assert_eq!(r.method, "POST");
                return r.body;
            }
            assert!(tokio::time::Instant::now() < deadline, "no callback for interaction {id}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Posts `body` with these signature headers; (status, JSON or null).
    pub async fn post(&self, body: &str, signature: Option<&str>, timestamp: Option<&str>) -> (u16, Value) {
        post(&self.http, self.addr, body, signature, timestamp).await
    }

    /// Posts `body` signed with the application's key.
    pub async fn signed(&self, body: &Value) -> (u16, Value) {
        let body = body.to_string();
        let ts = now_ts();
        self.post(&body, Some(&sign(&signing_key(), &ts, &body)), Some(&ts)).await
    }

    /// A signed command; asserts a type-4 answer and returns (content, ephemeral).
    pub async fn run(&self, body: Value) -> (String, bool) {
        let (status, answer) = self.signed(&body).await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["type"], 4, "{answer}");
        assert_eq!(answer["data"]["allowed_mentions"]["parse"], json!([]), "{answer}");
        let content = answer["data"]["content"].as_str().unwrap().to_string();
        assert!(content.chars().count() <= 2000);
        let flags = answer["data"]["flags"].as_u64().unwrap_or(0);
        (content, flags & 64 != 0)
    }

    /// Autocomplete choices (values) for a focused option.
    pub async fn complete(&self, name: &str, mut options: Vec<Value>, focused: (&str, &str)) -> Vec<(String, String)> {
        options.push(json!({"name": focused.0, "type": 3, "value": focused.1, "focused": true}));
        let (status, answer) = self.signed(&interaction(4, name, Value::Array(options), CHANNEL, MANAGER)).await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["type"], 8, "{answer}");
        let choices = answer["data"]["choices"].as_array().unwrap();
        assert!(choices.len() <= 25);
        choices
            .iter()
            .map(|c| {
                let (n, v) = (c["name"].as_str().unwrap(), c["value"].as_str().unwrap());
                assert!((1..=100).contains(&n.chars().count()) && v.chars().count() <= 100, "{c}");
                (n.to_string(), v.to_string())
            })
            .collect()
    }

    pub fn subscriptions(&self, channel: u64) -> Vec<tminus::rules::Subscription> {
        self.store.subscriptions_of(&Destination::Discord(ChannelId(channel))).unwrap()
    }

    /// `launch`'s status becomes `status` ([`on_hold`], [`go`]) in the fake
    /// LL2; then [`Bot::poll_launches`].
    pub async fn status_change(&mut self, launch: &str, status: Value) {
        self.ll2.set_field(Feed::Launches, launch, "/status", status);
        self.poll_launches().await;
    }

    /// Polls the launches feed and drains the outbox.
    pub async fn poll_launches(&mut self) {
        self.poller.poll_feed(Feed::Launches, BudgetWait::Skip).await.unwrap();
        for _ in 0..50 {
            self.deliverer.drain_once().await.unwrap();
            if self.store.outbox_len() == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("outbox not drained: {}", self.store.outbox_len());
    }
}

/// LL2's "On Hold" status.
pub fn on_hold() -> Value {
    json!({"id": 5, "name": "On Hold", "abbrev": "Hold"})
}

/// LL2's "Go for Launch" status.
pub fn go() -> Value {
    json!({"id": 1, "name": "Go for Launch", "abbrev": "Go"})
}

pub async fn post(
    http: &reqwest::Client,
    addr: SocketAddr,
    body: &str,
    signature: Option<&str>,
    timestamp: Option<&str>,
) -> (u16, Value) {
    let mut req = http
        .post(format!("http://{addr}/discord/interactions"))
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(s) = signature {
        req = req.header("X-Signature-Ed25519", s);
    }
    if let Some(t) = timestamp {
        req = req.header("X-Signature-Timestamp", t);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// A press of the button with `custom_id` under an alert in `channel`, as
/// Discord posts it (message component interaction, type 3).
pub fn press(custom_id: &str, channel: u64, permissions: &str) -> Value {
    let mut p = interaction(3, "", json!([]), channel, permissions);
    p["data"] = json!({"custom_id": custom_id, "component_type": 2});
    // The bot's message the button is under, as much of it as serenity's
    // `Message` requires (the gateway path decodes it strictly).
    p["message"] = json!({
        "id": "1300000000000000009", "channel_id": channel.to_string(), "content": "",
        "author": {"id": BOT_USER_ID.to_string(), "username": "tminus-test", "discriminator": "0",
                   "global_name": null, "avatar": null, "bot": true},
        "timestamp": "2026-01-01T00:00:00.000000+00:00", "edited_timestamp": null, "tts": false,
        "mention_everyone": false, "mentions": [], "mention_roles": [], "attachments": [], "embeds": [],
        "pinned": false, "type": 0, "components": []
    });
    p
}

/// The bot's Discord settings against `fake`: its token and API URL.
pub fn discord_config(fake: &FakeDiscord) -> DiscordConfig {
    let mut cfg = Config::default_config().discord;
    cfg.token = Secret::new(TOKEN);
    cfg.api_url = fake.api_url();
    cfg
}
