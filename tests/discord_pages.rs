//! `/next` pages on Discord through the HTTP interactions endpoint (signed
//! with a test Ed25519 key, as in tests/discord_interactions.rs; items from
//! the fake LL2): the reply carries the page and its buttons as components;
//! presses are answered with type 7 UpdateMessage: Later ▶ shows other
//! items, ℹ️ the item's embed card with ◀ Back, Back the page again
//! without the embed; forged data gets a fresh page, never an error.

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ed25519_dalek::{Signer, SigningKey};
use serde_json::{Value, json};
use support::fake_discord::APPLICATION_ID;
use support::fake_ll2::FakeLl2;
use tminus::commands::Defaults;
use tminus::discord::commands::Handler;
use tminus::discord::interactions;
use tminus::metrics::Metrics;
use tminus::poller::{BudgetWait, Poller, PollerConfig};
use tminus::server::{self, ServerState};
use tminus::store::Store;
use tminus::subscriptions::Subscriptions;
use tminus::types::Feed;
use tokio_util::sync::{CancellationToken, DropGuard};

const CHANNEL: u64 = 424242;
const GUILD: u64 = 99;
/// A usual member: paging needs no permission.
const MEMBER: &str = "104324673";

fn signing_key() -> SigningKey {
    SigningKey::from_bytes(&[7u8; 32])
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// An interaction as Discord posts it: a command (type 2, `name`) or a
/// button press (type 3, `custom_id`).
fn interaction(kind: u8, name: &str, custom_id: Option<&str>) -> Value {
    let mut i = json!({
        "type": kind,
        "id": "1200000000000000001",
        "application_id": APPLICATION_ID.to_string(),
        "token": "aW50ZXJhY3Rpb24",
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
        "channel_id": CHANNEL.to_string(),
        "channel": {"id": CHANNEL.to_string(), "type": 0, "name": "launches", "guild_id": GUILD.to_string()},
        "member": {
            "user": {"id": "80351110224678912", "username": "astro", "discriminator": "0", "global_name": "Astro", "avatar": null},
            "roles": [], "joined_at": "2024-05-01T12:00:00.000000+00:00", "deaf": false, "mute": false,
            "flags": 0, "pending": false, "nick": null, "avatar": null, "permissions": MEMBER
        },
        "data": {"id": "1300000000000000001", "name": name, "type": 1, "options": [], "guild_id": GUILD.to_string()}
    });
    if let Some(id) = custom_id {
        i["data"] = json!({"custom_id": id, "component_type": 2});
        i["message"] = json!({"id": "1300000000000000009", "channel_id": CHANNEL.to_string(), "content": ""});
    }
    i
}

struct Bot {
    _dir: tempfile::TempDir,
    _ll2: FakeLl2,
    addr: SocketAddr,
    http: reqwest::Client,
    _stop: DropGuard,
}

impl Bot {
    async fn start() -> Bot {
        let ll2 = FakeLl2::start().await;
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("store")).unwrap();
        let subs = Subscriptions::load(store.clone()).unwrap();
        let stop = CancellationToken::new();
        let cfg = ll2.ll2_config();
        let poller_config = PollerConfig {
            feeds: cfg.feeds.clone(),
            requests_per_hour: 1000,
            resweep_interval: cfg.resweep_interval,
            on_first_sync: false,
        };
        let client = tminus::ll2::Client::new(&cfg).unwrap();
        let wake = Arc::new(tokio::sync::Notify::new());
        let mut poller = Poller::new(client, store.clone(), subs.index(), poller_config, wake, stop.clone()).unwrap();
        for feed in Feed::ALL {
            poller.poll_feed(feed, BudgetWait::Skip).await.unwrap();
        }
        let defaults =
            Defaults { timezone: chrono_tz::UTC, reminders: vec![], calendar_base: None, schedule_horizon: None };
        let handler = Arc::new(Handler::new(store.clone(), subs, poller.directory(), defaults));
        let routes = interactions::router(handler, &hex(&signing_key().verifying_key().to_bytes())).unwrap();
        let state =
            ServerState::new(store, Arc::new(Metrics::default()), Feed::ALL.to_vec(), Duration::from_secs(3600));
        let (addr, _task) =
            server::start("127.0.0.1:0".parse().unwrap(), state, Some(routes), stop.clone()).await.unwrap();
        Bot { _dir: dir, _ll2: ll2, addr, http: reqwest::Client::new(), _stop: stop.drop_guard() }
    }

    /// Posts `body` signed with the application's key; the answer's JSON.
    async fn signed(&self, body: &Value) -> Value {
        let body = body.to_string();
        let ts = chrono::Utc::now().timestamp().to_string();
        let signature = hex(&signing_key().sign(format!("{ts}{body}").as_bytes()).to_bytes());
        let resp = self
            .http
            .post(format!("http://{}/discord/interactions", self.addr))
            .header("content-type", "application/json")
            .header("X-Signature-Ed25519", signature)
            .header("X-Signature-Timestamp", ts)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200);
        serde_json::from_str(&resp.text().await.unwrap()).unwrap()
    }

    /// Presses `custom_id`; asserts an UpdateMessage and returns its data.
    async fn press(&self, custom_id: &str) -> Value {
        let answer = self.signed(&interaction(3, "", Some(custom_id))).await;
        assert_eq!(answer["type"], 7, "UpdateMessage: {answer}");
        assert_eq!(answer["data"]["allowed_mentions"]["parse"], json!([]), "{answer}");
        answer["data"].clone()
    }
}

/// (label, custom_id) of every button, row by row.
fn buttons(data: &Value) -> Vec<(String, String)> {
    let rows = data["components"].as_array().cloned().unwrap_or_default();
    assert!(rows.len() <= 5, "at most five rows");
    rows.iter()
        .flat_map(|r| r["components"].as_array().cloned().unwrap_or_default())
        .map(|b| (b["label"].as_str().unwrap().to_string(), b["custom_id"].as_str().unwrap().to_string()))
        .collect()
}

fn find(keys: &[(String, String)], label: &str) -> String {
    keys.iter().find(|(l, _)| l == label).unwrap_or_else(|| panic!("no {label:?} in {keys:?}")).1.clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn next_pages_update_the_message_in_place() {
    let bot = Bot::start().await;
    let reply = bot.signed(&interaction(2, "next", None)).await;
    assert_eq!(reply["type"], 4, "{reply}");
    let data = &reply["data"];
    let first = data["content"].as_str().unwrap().to_string();
    assert!(first.starts_with("Coming up:\n1. ") && first.contains(":R>)"), "{first}");
    let keys = buttons(data);
    let labels: Vec<&str> = keys.iter().map(|(l, _)| l.as_str()).collect();
    assert_eq!(labels, ["🔄", "Later ▶", "ℹ️ 1", "ℹ️ 2", "ℹ️ 3", "ℹ️ 4", "ℹ️ 5"]);

    let later = bot.press(&find(&keys, "Later ▶")).await;
    let second = later["content"].as_str().unwrap();
    assert!(second.starts_with("Coming up:\n6. "), "other items: {second}");
    assert_eq!(later["embeds"], json!([]), "{later}");
    let keys = buttons(&later);
    find(&keys, "◀ Earlier");

    let card = bot.press(&find(&keys, "ℹ️ 6")).await;
    let embed = &card["embeds"][0];
    let name = second.lines().nth(1).unwrap().trim_start_matches("6. ").split(" — ").next().unwrap();
    assert_eq!(embed["title"].as_str(), Some(name), "{card}");
    assert_eq!(card["content"], "", "the page text is replaced by the card");
    let back = find(&buttons(&card), "◀ Back");
    let page = bot.press(&back).await;
    assert_eq!(page["content"].as_str(), Some(second), "Back returns to the page");
    assert_eq!(page["embeds"], json!([]), "and takes the card away");

    // Forged data: a fresh first page, not an error.
    let fresh = bot.press("n:0000:p5:5").await;
    assert!(fresh["content"].as_str().unwrap().starts_with("Coming up:\n1. "), "{fresh}");
}
