//! A fake Discord REST API for integration tests.
//!
//! Real HTTP on `127.0.0.1:<random port>` (axum, inside the test's tokio
//! runtime; dropping the `FakeDiscord` stops it). It records every request,
//! validates message bodies the way Discord does, answers with Discord's
//! rate-limit headers and 429s, and plays scripted faults per channel or
//! webhook.
//!
//! ```ignore
//! mod support;
//! use support::fake_discord::{FakeDiscord, Fault, Target};
//!
//! #[tokio::test]
//! async fn example() {
//!     let fake = FakeDiscord::builder().token("TOKEN").route_limit(5, Duration::from_secs(1)).start().await;
//!     let sender = DiscordSender::new(Secret::new("TOKEN"), &fake.api_url(), SenderConfig::default()).unwrap();
//!     let hook = fake.webhook_url(77, "hooktoken");           // for Destination::DiscordWebhook
//!     fake.fail_once(Target::Channel(424242), Fault::ServerError);
//!     fake.fail_always(Target::Webhook(77), Fault::UnknownWebhook);
//!     // ... run the code under test, then:
//!     assert_eq!(fake.messages(Target::Channel(424242)).len(), 1);
//!     assert_eq!(fake.rate_limited(), 0);
//! }
//! ```
//!
//! Routes (`/api/v10` and the unversioned `/api` both work, like Discord):
//! - `POST /channels/{id}/messages`: needs `Authorization: Bot <token>`
//!   (401 otherwise); answers 200 with a message object.
//! - `POST /webhooks/{id}/{token}[?wait=true]`: no auth; 200 with a message
//!   object when `wait=true`, else 204. Any id/token pair exists unless a
//!   fault says otherwise (`webhook_url` builds the URL).
//! - `PATCH /channels/{id}/messages/{message}` (bot auth) and
//!   `PATCH /webhooks/{id}/{token}/messages/{message}`: edit a message the
//!   fake posted there (limits, faults and validation as for a post);
//!   404 `{"code": 10008, "message": "Unknown Message"}` for any other, or
//!   one [`FakeDiscord::delete_message`] removed. [`FakeDiscord::message`]
//!   shows a message as it is now.
//! - For the next engineer (slash commands, interactions), recorded and
//!   answered plausibly already: `PUT /applications/{app}/commands` and
//!   `PUT /applications/{app}/guilds/{guild}/commands` (200, the commands
//!   with ids), `POST /interactions/{id}/{token}/callback` (204),
//!   `PATCH /webhooks/{app}/{token}/messages/@original` (200), and
//!   `GET /oauth2/applications/@me` (bot auth; 200 with the id
//!   [`APPLICATION_ID`]), where the bot learns its application id.
//! - `GET /gateway` and `GET /gateway/bot` (bot auth): the websocket URL
//!   of a [`gateway::FakeGateway`] given to [`FakeDiscordBuilder::gateway`];
//!   without one, 404, so a bot under test never falls back to Discord's
//!   own gateway.
//!   Interaction *requests* (Discord → bot, signed with Ed25519) are not
//!   this server's job: tests send them to the bot's endpoint directly.
//!   To add a route: extend [`Kind`], match it in `parse_route`, answer it
//!   in `ServerState::answer`.
//! - Guild scheduled events (bot auth): `GET /users/@me` (the bot user,
//!   [`BOT_USER_ID`]), `GET`/`POST /guilds/{id}/scheduled-events`,
//!   `PATCH`/`DELETE /guilds/{id}/scheduled-events/{event}`. Kept per guild
//!   and validated as Discord does: `name` 1-100 characters, `description`
//!   at most 1000, `privacy_level` 2, EXTERNAL events (`entity_type` 3)
//!   need `entity_metadata.location` (1-100) and `scheduled_end_time`, the
//!   start must not be in the past and the end must follow it, at most 100
//!   events per guild (30038). Unknown events answer 404 10070. Per guild
//!   ([`Target::Guild`]): the route limit and scripted faults apply, and
//!   [`FakeDiscord::deny_manage_events`] / [`FakeDiscord::leave_guild`]
//!   make it answer 403 50013 / 404 10004. [`FakeDiscord::add_scheduled_event`]
//!   seeds events (e.g. orphans a crashed bot left).
//!
//! Order of checks for a message post, as Discord does it: authorization,
//! global rate limit (bot requests only), per-route rate limit, scripted
//! fault, body validation. A 429 does not use up a slot of the window; a
//! fault or a validation error does.
//!
//! Rate limits: fixed windows that start with the first request, like
//! Discord's buckets. The per-route limit (default 1000 per second, so
//! tests that do not care never hit it) applies to each channel and each
//! webhook; every answer carries `X-RateLimit-Limit`, `-Remaining`,
//! `-Reset`, `-Reset-After` and `-Bucket`. The optional global limit counts
//! every bot-authenticated request; exceeding it answers
//! `429 {"global": true}` with `X-RateLimit-Global` and `-Scope: global`.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::extract::State as AxState;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::Response;
use serde_json::{Value, json};

pub mod bot;
pub mod gateway;
mod scheduled_events;

/// The application id `GET /oauth2/applications/@me` answers with.
pub const APPLICATION_ID: u64 = 1_100_000_000_000_000_042;

/// The bot user's id (`GET /users/@me`, `creator_id` of its events).
pub const BOT_USER_ID: u64 = 1_100_000_000_000_000_007;

/// A channel, a webhook or a guild's scheduled events: what faults and
/// queries are keyed by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Target {
    Channel(u64),
    Webhook(u64),
    Guild(u64),
}

/// A scripted misbehaviour for one target.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// 404 `{"code": 10003, "message": "Unknown Channel"}`.
    UnknownChannel,
    /// 404 `{"code": 10015, "message": "Unknown Webhook"}`.
    UnknownWebhook,
    /// 403 `{"code": 50001, "message": "Missing Access"}`.
    MissingAccess,
    /// 403 `{"code": 50013, "message": "Missing Permissions"}`.
    MissingPermissions,
    /// 500 `{"message": "500: Internal Server Error", "code": 0}`.
    ServerError,
    /// 429 with this `retry_after` (seconds) in the body and `Retry-After`
    /// (whole seconds, rounded up) in the headers.
    RateLimited { retry_after: f64, global: bool },
    /// 400 `{"code": 50035, "message": "Invalid Form Body"}` whatever the body.
    InvalidFormBody,
    /// Waits this long, then answers normally.
    Slow(Duration),
}

/// What a recorded request was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    ChannelMessage { channel: u64 },
    WebhookExecute { webhook: u64, token: String },
    GlobalCommands { app: u64 },
    GuildCommands { app: u64, guild: u64 },
    InteractionCallback { interaction: u64, token: String },
    EditOriginal { app: u64, token: String },
    CurrentApplication,
    CurrentUser,
    Gateway,
    GatewayBot,
    ListEvents { guild: u64 },
    CreateEvent { guild: u64 },
    PatchEvent { guild: u64, event: u64 },
    DeleteEvent { guild: u64, event: u64 },
    EditMessage { channel: u64, message: String },
    EditWebhookMessage { webhook: u64, token: String, message: String },
    Unknown,
}

impl Kind {
    pub fn target(&self) -> Option<Target> {
        match self {
            Kind::ChannelMessage { channel } | Kind::EditMessage { channel, .. } => Some(Target::Channel(*channel)),
            Kind::WebhookExecute { webhook, .. } | Kind::EditWebhookMessage { webhook, .. } => {
                Some(Target::Webhook(*webhook))
            }
            Kind::ListEvents { guild }
            | Kind::CreateEvent { guild }
            | Kind::PatchEvent { guild, .. }
            | Kind::DeleteEvent { guild, .. } => Some(Target::Guild(*guild)),
            _ => None,
        }
    }
}

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    /// Raw query string, without `?`.
    pub query: Option<String>,
    pub kind: Kind,
    /// The `Authorization` header, verbatim.
    pub authorization: Option<String>,
    /// The JSON body (`Value::Null` when empty or not JSON).
    pub body: Value,
    /// Status the server answered with.
    pub status: u16,
    /// The JSON body answered (`Value::Null` when none).
    pub answer: Value,
    pub at: Instant,
}

impl RecordedRequest {
    pub fn target(&self) -> Option<Target> {
        self.kind.target()
    }
}

/// Options for [`FakeDiscord`]; start with [`FakeDiscord::builder`].
pub struct FakeDiscordBuilder {
    token: String,
    route_limit: (u32, Duration),
    global_limit: Option<(u32, Duration)>,
    gateway: Option<String>,
}

impl FakeDiscordBuilder {
    /// The websocket URL `GET /gateway(/bot)` answers with (a
    /// [`gateway::FakeGateway`]'s); without one those routes answer 404.
    pub fn gateway(mut self, url: &str) -> Self {
        self.gateway = Some(url.to_owned());
        self
    }

    /// The bot token channel posts must carry (default `"test-bot-token"`).
    pub fn token(mut self, token: &str) -> Self {
        self.token = token.to_owned();
        self
    }

    /// `requests` per `per` on each channel and each webhook.
    pub fn route_limit(mut self, requests: u32, per: Duration) -> Self {
        self.route_limit = (requests.max(1), per);
        self
    }

    /// `requests` per `per` over all bot-authenticated requests.
    pub fn global_limit(mut self, requests: u32, per: Duration) -> Self {
        self.global_limit = Some((requests.max(1), per));
        self
    }

    pub async fn start(self) -> FakeDiscord {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind fake Discord");
        let addr = listener.local_addr().expect("fake Discord address");
        let state = ServerState {
            token: self.token,
            route_limit: self.route_limit,
            global_limit: self.global_limit,
            gateway: self.gateway,
            windows: HashMap::new(),
            global: None,
            once: HashMap::new(),
            always: HashMap::new(),
            requests: Vec::new(),
            next_id: 1_300_000_000_000_000_000,
            events: HashMap::new(),
            no_manage_events: std::collections::HashSet::new(),
            not_in: std::collections::HashSet::new(),
            posted: HashMap::new(),
        };
        let shared = Arc::new(Mutex::new(state));
        let app = axum::Router::new().fallback(handle).with_state(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeDiscord { addr, state: shared, task }
    }
}

/// The running fake server. All methods are synchronous.
pub struct FakeDiscord {
    addr: SocketAddr,
    state: Arc<Mutex<ServerState>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeDiscord {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeDiscord {
    /// Token `"test-bot-token"`, no global limit, 1000 requests/s per route.
    pub async fn start() -> FakeDiscord {
        Self::builder().start().await
    }

    pub fn builder() -> FakeDiscordBuilder {
        FakeDiscordBuilder {
            token: "test-bot-token".into(),
            route_limit: (1000, Duration::from_secs(1)),
            global_limit: None,
            gateway: None,
        }
    }

    /// The origin to use as `discord.api_url`: `http://127.0.0.1:PORT`.
    pub fn api_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A webhook URL on this server, Discord's shape.
    pub fn webhook_url(&self, id: u64, token: &str) -> String {
        format!("http://{}/api/webhooks/{id}/{token}", self.addr)
    }

    fn lock(&self) -> MutexGuard<'_, ServerState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `fault` answers the next request to `target` (queued per target).
    pub fn fail_once(&self, target: Target, fault: Fault) {
        self.lock().once.entry(target).or_default().push_back(fault);
    }

    /// `fault` answers every request to `target` until `clear_faults`.
    pub fn fail_always(&self, target: Target, fault: Fault) {
        self.lock().always.insert(target, fault);
    }

    pub fn clear_faults(&self, target: Target) {
        let mut st = self.lock();
        st.once.remove(&target);
        st.always.remove(&target);
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.lock().requests.clone()
    }

    /// Requests to `target`, whatever the answer.
    pub fn requests_to(&self, target: Target) -> Vec<RecordedRequest> {
        self.lock().requests.iter().filter(|r| r.target() == Some(target)).cloned().collect()
    }

    /// Bodies of the messages `target` accepted (2xx), in order.
    pub fn messages(&self, target: Target) -> Vec<Value> {
        self.requests_to(target).into_iter().filter(|r| r.status < 300).map(|r| r.body).collect()
    }

    /// Messages accepted on any channel or webhook.
    pub fn delivered(&self) -> usize {
        self.lock().requests.iter().filter(|r| r.target().is_some() && r.status < 300).count()
    }

    /// 429 answers so far.
    pub fn rate_limited(&self) -> usize {
        self.count_status(429)
    }

    pub fn count_status(&self, status: u16) -> usize {
        self.lock().requests.iter().filter(|r| r.status == status).count()
    }

    pub fn clear_requests(&self) {
        self.lock().requests.clear();
    }

    /// A message the fake posted, as it is now (edits applied).
    pub fn message(&self, id: &str) -> Option<Value> {
        self.lock().posted.get(id).cloned()
    }

    /// Forgets a posted message, as if someone deleted it: edits of it
    /// answer 10008 Unknown Message.
    pub fn delete_message(&self, id: &str) {
        self.lock().posted.remove(id);
    }

    /// Accepted posts (new messages) to `target`, without edits.
    pub fn posts(&self, target: Target) -> Vec<RecordedRequest> {
        self.requests_to(target).into_iter().filter(|r| r.status < 300 && r.method == "POST").collect()
    }

    /// Accepted edits of messages on `target`.
    pub fn edits(&self, target: Target) -> Vec<RecordedRequest> {
        self.requests_to(target).into_iter().filter(|r| r.status < 300 && r.method == "PATCH").collect()
    }

    /// The scheduled events a guild has now, in creation order.
    pub fn scheduled_events(&self, guild: u64) -> Vec<Value> {
        self.lock().events.get(&guild).cloned().unwrap_or_default()
    }

    /// Adds an event as if `creator` had made it; returns its id.
    pub fn add_scheduled_event(&self, guild: u64, creator: u64, name: &str) -> String {
        let mut st = self.lock();
        let id = st.snowflake();
        let start = (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339();
        let event = json!({
            "id": id, "guild_id": guild.to_string(), "creator_id": creator.to_string(), "name": name,
            "privacy_level": 2, "status": 1, "entity_type": 3, "entity_metadata": {"location": "Somewhere"},
            "scheduled_start_time": start, "scheduled_end_time": start,
        });
        st.events.entry(guild).or_default().push(event);
        id
    }

    /// Without `allowed`, the bot lacks Manage Events in `guild` (403 50013).
    pub fn deny_manage_events(&self, guild: u64, denied: bool) {
        let mut st = self.lock();
        if denied {
            st.no_manage_events.insert(guild);
        } else {
            st.no_manage_events.remove(&guild);
        }
    }

    /// The bot is no longer in `guild` (404 10004).
    pub fn leave_guild(&self, guild: u64) {
        self.lock().not_in.insert(guild);
    }
}

/// A fixed window of one rate-limit bucket.
#[derive(Debug, Clone, Copy)]
struct Window {
    start: Instant,
    used: u32,
}

impl Window {
    /// Admits one request, or says how long until the window resets.
    fn admit(slot: &mut Option<Window>, limit: u32, per: Duration, now: Instant) -> Result<(u32, Duration), Duration> {
        let w = match slot {
            Some(w) if now.duration_since(w.start) < per => w,
            _ => slot.insert(Window { start: now, used: 0 }),
        };
        let reset_after = per.saturating_sub(now.duration_since(w.start));
        if w.used >= limit {
            return Err(reset_after);
        }
        w.used += 1;
        Ok((limit - w.used, reset_after))
    }
}

struct ServerState {
    token: String,
    route_limit: (u32, Duration),
    global_limit: Option<(u32, Duration)>,
    /// The gateway URL `GET /gateway(/bot)` answers with.
    gateway: Option<String>,
    windows: HashMap<Target, Option<Window>>,
    global: Option<Window>,
    once: HashMap<Target, VecDeque<Fault>>,
    always: HashMap<Target, Fault>,
    requests: Vec<RecordedRequest>,
    next_id: u64,
    /// Scheduled events by guild.
    events: HashMap<u64, Vec<Value>>,
    no_manage_events: std::collections::HashSet<u64>,
    not_in: std::collections::HashSet<u64>,
    /// Messages posted (and not deleted), by id, as they are now.
    posted: HashMap<String, Value>,
}

/// An answer before it becomes an axum response.
struct Reply {
    status: u16,
    body: Option<Value>,
    headers: Vec<(&'static str, String)>,
    delay: Option<Duration>,
}

impl Reply {
    fn json(status: u16, body: Value) -> Reply {
        Reply { status, body: Some(body), headers: Vec::new(), delay: None }
    }

    fn empty(status: u16) -> Reply {
        Reply { status, body: None, headers: Vec::new(), delay: None }
    }

    fn error(status: u16, code: i64, message: &str) -> Reply {
        Reply::json(status, json!({"code": code, "message": message}))
    }

    fn rate_limited(retry_after: f64, global: bool) -> Reply {
        let mut r = Reply::json(
            429,
            json!({"message": "You are being rate limited.", "retry_after": retry_after, "global": global, "code": 0}),
        );
        r.headers.push(("retry-after", format!("{}", retry_after.ceil().max(1.0) as u64)));
        if global {
            r.headers.push(("x-ratelimit-global", "true".into()));
            r.headers.push(("x-ratelimit-scope", "global".into()));
        } else {
            r.headers.push(("x-ratelimit-scope", "user".into()));
        }
        r
    }
}

fn unix_now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

fn parse_route(method: &Method, path: &str) -> Kind {
    let rest = path.strip_prefix("/api/v10/").or_else(|| path.strip_prefix("/api/"));
    let Some(rest) = rest else { return Kind::Unknown };
    let seg: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
    let num = |s: &str| s.parse::<u64>().ok();
    match (method.as_str(), seg.as_slice()) {
        ("POST", ["channels", id, "messages"]) => {
            num(id).map_or(Kind::Unknown, |channel| Kind::ChannelMessage { channel })
        }
        ("POST", ["webhooks", id, token]) => {
            num(id).map_or(Kind::Unknown, |webhook| Kind::WebhookExecute { webhook, token: (*token).to_owned() })
        }
        ("PATCH", ["webhooks", app, token, "messages", "@original"]) => {
            num(app).map_or(Kind::Unknown, |app| Kind::EditOriginal { app, token: (*token).to_owned() })
        }
        ("PATCH", ["webhooks", id, token, "messages", m]) => num(id).map_or(Kind::Unknown, |webhook| {
            Kind::EditWebhookMessage { webhook, token: (*token).to_owned(), message: (*m).to_owned() }
        }),
        ("PATCH", ["channels", id, "messages", m]) => {
            num(id).map_or(Kind::Unknown, |channel| Kind::EditMessage { channel, message: (*m).to_owned() })
        }
        ("PUT", ["applications", app, "commands"]) => {
            num(app).map_or(Kind::Unknown, |app| Kind::GlobalCommands { app })
        }
        ("PUT", ["applications", app, "guilds", g, "commands"]) => match (num(app), num(g)) {
            (Some(app), Some(guild)) => Kind::GuildCommands { app, guild },
            _ => Kind::Unknown,
        },
        ("GET", ["oauth2", "applications", "@me"]) => Kind::CurrentApplication,
        ("GET", ["users", "@me"]) => Kind::CurrentUser,
        ("GET", ["gateway"]) => Kind::Gateway,
        ("GET", ["gateway", "bot"]) => Kind::GatewayBot,
        ("GET", ["guilds", g, "scheduled-events"]) => num(g).map_or(Kind::Unknown, |guild| Kind::ListEvents { guild }),
        ("POST", ["guilds", g, "scheduled-events"]) => {
            num(g).map_or(Kind::Unknown, |guild| Kind::CreateEvent { guild })
        }
        ("PATCH", ["guilds", g, "scheduled-events", e]) => match (num(g), num(e)) {
            (Some(guild), Some(event)) => Kind::PatchEvent { guild, event },
            _ => Kind::Unknown,
        },
        ("DELETE", ["guilds", g, "scheduled-events", e]) => match (num(g), num(e)) {
            (Some(guild), Some(event)) => Kind::DeleteEvent { guild, event },
            _ => Kind::Unknown,
        },
        ("POST", ["interactions", id, token, "callback"]) => num(id)
            .map_or(Kind::Unknown, |interaction| Kind::InteractionCallback { interaction, token: (*token).to_owned() }),
        _ => Kind::Unknown,
    }
}

impl ServerState {
    fn snowflake(&mut self) -> String {
        self.next_id += 1;
        self.next_id.to_string()
    }

    fn answer(&mut self, kind: &Kind, query: &str, auth: Option<&str>, body: &Value, now: Instant) -> Reply {
        let bot_auth = auth == Some(format!("Bot {}", self.token).as_str());
        match kind {
            Kind::Unknown => Reply::error(404, 0, "404: Not Found"),
            Kind::ChannelMessage { channel } => {
                if !bot_auth {
                    return Reply::error(401, 0, "401: Unauthorized");
                }
                if let Some(r) = self.global_check(now) {
                    return r;
                }
                let mut reply = self.message(Target::Channel(*channel), body, now);
                if reply.status == 200 {
                    reply.body = Some(self.message_object(*channel, None, body));
                }
                reply
            }
            Kind::WebhookExecute { webhook, .. } => {
                let mut reply = self.message(Target::Webhook(*webhook), body, now);
                if reply.status == 200 {
                    let wait = url::form_urlencoded::parse(query.as_bytes()).any(|(k, v)| k == "wait" && v == "true");
                    if wait {
                        let channel = webhook + 1;
                        reply.body = Some(self.message_object(channel, Some(*webhook), body));
                    } else {
                        reply.status = 204;
                        reply.body = None;
                    }
                }
                reply
            }
            Kind::GlobalCommands { app } | Kind::GuildCommands { app, .. } => {
                if !bot_auth {
                    return Reply::error(401, 0, "401: Unauthorized");
                }
                let guild = match kind {
                    Kind::GuildCommands { guild, .. } => Some(guild.to_string()),
                    _ => None,
                };
                let Some(commands) = body.as_array() else {
                    return invalid_form_body(
                        json!({"_errors": [{"code": "BASE_TYPE_ARRAY", "message": "Must be an array."}]}),
                    );
                };
                let mut out = Vec::with_capacity(commands.len());
                for c in commands {
                    let mut c = c.clone();
                    if let Some(obj) = c.as_object_mut() {
                        obj.insert("id".into(), json!(self.snowflake()));
                        obj.insert("application_id".into(), json!(app.to_string()));
                        obj.insert("version".into(), json!(self.snowflake()));
                        obj.insert("guild_id".into(), json!(guild));
                    }
                    out.push(c);
                }
                Reply::json(200, Value::Array(out))
            }
            Kind::InteractionCallback { .. } => Reply::empty(204),
            Kind::CurrentApplication => {
                if !bot_auth {
                    return Reply::error(401, 0, "401: Unauthorized");
                }
                Reply::json(200, json!({"id": APPLICATION_ID.to_string(), "name": "tminus-test", "bot_public": true}))
            }
            Kind::Gateway | Kind::GatewayBot => {
                if *kind == Kind::GatewayBot && !bot_auth {
                    return Reply::error(401, 0, "401: Unauthorized");
                }
                let Some(url) = self.gateway.clone() else {
                    return Reply::error(404, 0, "this fake Discord has no gateway (FakeDiscordBuilder::gateway)");
                };
                let limit = json!({"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1});
                Reply::json(200, json!({"url": url, "shards": 1, "session_start_limit": limit}))
            }
            Kind::CurrentUser => {
                if !bot_auth {
                    return Reply::error(401, 0, "401: Unauthorized");
                }
                Reply::json(200, json!({"id": BOT_USER_ID.to_string(), "username": "tminus-test", "bot": true}))
            }
            Kind::ListEvents { .. } | Kind::CreateEvent { .. } | Kind::PatchEvent { .. } | Kind::DeleteEvent { .. } => {
                if !bot_auth {
                    return Reply::error(401, 0, "401: Unauthorized");
                }
                if let Some(r) = self.global_check(now) {
                    return r;
                }
                self.scheduled_event_call(kind, body, now)
            }
            Kind::EditMessage { channel, message } => {
                if !bot_auth {
                    return Reply::error(401, 0, "401: Unauthorized");
                }
                if let Some(r) = self.global_check(now) {
                    return r;
                }
                self.edit_message(Target::Channel(*channel), message, body, now)
            }
            Kind::EditWebhookMessage { webhook, message, .. } => {
                self.edit_message(Target::Webhook(*webhook), message, body, now)
            }
            Kind::EditOriginal { app, .. } => {
                let id = self.snowflake();
                let mut m = body.clone();
                if let Some(obj) = m.as_object_mut() {
                    obj.insert("id".into(), json!(id));
                    obj.insert("application_id".into(), json!(app.to_string()));
                }
                Reply::json(200, m)
            }
        }
    }

    fn global_check(&mut self, now: Instant) -> Option<Reply> {
        let (limit, per) = self.global_limit?;
        match Window::admit(&mut self.global, limit, per, now) {
            Ok(_) => None,
            Err(wait) => Some(Reply::rate_limited(round3(wait), true)),
        }
    }

    /// Route limit, faults and validation of a message post; 200 without
    /// body when accepted (the caller fills in the message object).
    fn message(&mut self, target: Target, body: &Value, now: Instant) -> Reply {
        let (limit, per) = self.route_limit;
        let slot = self.windows.entry(target).or_default();
        let (remaining, reset_after) = match Window::admit(slot, limit, per, now) {
            Ok(v) => v,
            Err(wait) => {
                let mut r = Reply::rate_limited(round3(wait), false);
                r.headers.extend(rate_headers(target, limit, 0, wait));
                return r;
            }
        };
        let fault =
            self.once.get_mut(&target).and_then(VecDeque::pop_front).or_else(|| self.always.get(&target).cloned());
        let mut reply = match fault {
            Some(Fault::UnknownChannel) => Reply::error(404, 10003, "Unknown Channel"),
            Some(Fault::UnknownWebhook) => Reply::error(404, 10015, "Unknown Webhook"),
            Some(Fault::MissingAccess) => Reply::error(403, 50001, "Missing Access"),
            Some(Fault::MissingPermissions) => Reply::error(403, 50013, "Missing Permissions"),
            Some(Fault::ServerError) => Reply::error(500, 0, "500: Internal Server Error"),
            Some(Fault::RateLimited { retry_after, global }) => Reply::rate_limited(retry_after, global),
            Some(Fault::InvalidFormBody) => invalid_form_body(
                json!({"embeds": {"_errors": [{"code": "SIMULATED", "message": "Simulated rejection."}]}}),
            ),
            Some(Fault::Slow(d)) => {
                let mut r = validate(body).unwrap_or_else(|| Reply::empty(200));
                r.delay = Some(d);
                r
            }
            None => validate(body).unwrap_or_else(|| Reply::empty(200)),
        };
        if reply.status != 429 {
            reply.headers.extend(rate_headers(target, limit, remaining, reset_after));
        }
        reply
    }

    /// An edit of `message` on `target`: as a post (limits, faults,
    /// validation), then 10008 unless the fake posted it there.
    fn edit_message(&mut self, target: Target, message: &str, body: &Value, now: Instant) -> Reply {
        let mut reply = self.message(target, body, now);
        if reply.status != 200 {
            return reply;
        }
        let (channel, webhook) = match target {
            Target::Channel(c) => (c, None),
            Target::Webhook(w) => (w + 1, Some(w)),
            Target::Guild(_) => return Reply::error(404, 10008, "Unknown Message"),
        };
        let Some(current) = self.posted.get_mut(message).filter(|m| {
            m["channel_id"] == json!(channel.to_string()) && m["webhook_id"] == json!(webhook.map(|w| w.to_string()))
        }) else {
            return Reply::error(404, 10008, "Unknown Message");
        };
        for field in ["content", "embeds", "components"] {
            if let Some(v) = body.get(field) {
                current[field] = v.clone();
            }
        }
        current["edited_timestamp"] = json!(chrono::Utc::now().to_rfc3339());
        reply.body = Some(current.clone());
        reply
    }

    fn message_object(&mut self, channel: u64, webhook: Option<u64>, body: &Value) -> Value {
        let id = self.snowflake();
        let object = self.new_message_object(&id, channel, webhook, body);
        self.posted.insert(id, object.clone());
        object
    }

    fn new_message_object(&self, id: &str, channel: u64, webhook: Option<u64>, body: &Value) -> Value {
        json!({
            "id": id,
            "type": 0,
            "channel_id": channel.to_string(),
            "webhook_id": webhook.map(|w| w.to_string()),
            "content": body.get("content").cloned().unwrap_or(json!("")),
            "embeds": body.get("embeds").cloned().unwrap_or(json!([])),
            "components": body.get("components").cloned().unwrap_or(json!([])),
            "timestamp": chrono::Utc::now().to_rfc3339(),
            "tts": false,
            "mention_everyone": false,
            "attachments": [],
        })
    }
}

fn round3(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0).ceil() / 1000.0
}

fn rate_headers(target: Target, limit: u32, remaining: u32, reset_after: Duration) -> Vec<(&'static str, String)> {
    let bucket = match target {
        Target::Channel(_) => "80c17d2f203122d936070c88c8d10f33",
        Target::Webhook(_) => "d4a8f4c1b2e3a5b6c7d8e9f0a1b2c3d4",
        Target::Guild(_) => "5e2f6a7b8c9d0e1f2a3b4c5d6e7f8a9b",
    };
    vec![
        ("x-ratelimit-limit", limit.to_string()),
        ("x-ratelimit-remaining", remaining.to_string()),
        ("x-ratelimit-reset", format!("{:.3}", unix_now() + reset_after.as_secs_f64())),
        ("x-ratelimit-reset-after", format!("{:.3}", round3(reset_after))),
        ("x-ratelimit-bucket", bucket.to_owned()),
    ]
}

fn invalid_form_body(errors: Value) -> Reply {
    Reply::json(400, json!({"code": 50035, "errors": errors, "message": "Invalid Form Body"}))
}

/// Discord's checks of a message body; `None` when it is acceptable.
fn validate(body: &Value) -> Option<Reply> {
    let Some(obj) = body.as_object() else {
        return Some(Reply::error(400, 50109, "The request body contains invalid JSON."));
    };
    let len = |v: Option<&Value>| v.and_then(Value::as_str).map_or(0, |s| s.chars().count());
    let mut errors = serde_json::Map::new();
    let mut fail = |path: String, code: &str, message: String| {
        errors.insert(path, json!({"_errors": [{"code": code, "message": message}]}));
    };
    let content = len(obj.get("content"));
    if content > 2000 {
        fail("content".into(), "BASE_TYPE_MAX_LENGTH", "Must be 2000 or fewer in length.".into());
    }
    let embeds = obj.get("embeds").and_then(Value::as_array).cloned().unwrap_or_default();
    if content == 0 && embeds.is_empty() {
        return Some(Reply::error(400, 50006, "Cannot send an empty message"));
    }
    if embeds.len() > 10 {
        fail("embeds".into(), "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.".into());
    }
    let mut total = 0;
    for (i, e) in embeds.iter().enumerate() {
        let mut max = |key: &str, v: Option<&Value>, limit: usize| {
            let n = len(v);
            total += n;
            if n > limit {
                fail(
                    format!("embeds.{i}.{key}"),
                    "BASE_TYPE_MAX_LENGTH",
                    format!("Must be {limit} or fewer in length."),
                );
            }
        };
        max("title", e.get("title"), 256);
        max("description", e.get("description"), 4096);
        max("footer.text", e.pointer("/footer/text"), 2048);
        max("author.name", e.pointer("/author/name"), 256);
        let fields = e.get("fields").and_then(Value::as_array).cloned().unwrap_or_default();
        for (j, f) in fields.iter().enumerate() {
            max(&format!("fields.{j}.name"), f.get("name"), 256);
            max(&format!("fields.{j}.value"), f.get("value"), 1024);
        }
        for (j, f) in fields.iter().enumerate() {
            for key in ["name", "value"] {
                if f.get(key).and_then(Value::as_str).is_none_or(|s| s.trim().is_empty()) {
                    fail(format!("embeds.{i}.fields.{j}.{key}"), "BASE_TYPE_REQUIRED", "This field is required".into());
                }
            }
        }
        if fields.len() > 25 {
            fail(format!("embeds.{i}.fields"), "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.".into());
        }
        for (key, ptr) in [("url", "/url"), ("thumbnail.url", "/thumbnail/url"), ("image.url", "/image/url")] {
            if let Some(u) = e.pointer(ptr).and_then(Value::as_str) {
                let ok = (u.starts_with("http://") || u.starts_with("https://") || u.starts_with("attachment://"))
                    && u.chars().count() <= 2048
                    && url::Url::parse(u).is_ok();
                if !ok {
                    fail(format!("embeds.{i}.{key}"), "URL_TYPE_INVALID_URL", "Not a well formed URL.".into());
                }
            }
        }
    }
    if total > 6000 {
        fail("embeds".into(), "BASE_TYPE_MAX_LENGTH", "Embed size exceeds maximum size of 6000".into());
    }
    // Message components: up to 5 action rows (type 1) of up to 5 buttons
    // (type 2); a button has a label up to 80 characters and either a URL
    // (style 5) or a custom_id of 1 to 100 characters.
    let rows = obj.get("components").and_then(Value::as_array).cloned().unwrap_or_default();
    if rows.len() > 5 {
        fail("components".into(), "BASE_TYPE_MAX_LENGTH", "Must be 5 or fewer in length.".into());
    }
    for (i, row) in rows.iter().enumerate() {
        let buttons = row.get("components").and_then(Value::as_array).cloned().unwrap_or_default();
        if row.get("type") != Some(&json!(1)) || buttons.is_empty() || buttons.len() > 5 {
            fail(format!("components.{i}"), "COMPONENT_LAYOUT_WIDTH_EXCEEDED", "Invalid action row.".into());
        }
        for (j, b) in buttons.iter().enumerate() {
            let link = b.get("style") == Some(&json!(5));
            let id = len(b.get("custom_id"));
            let ok = b.get("type") == Some(&json!(2))
                && len(b.get("label")) <= 80
                && if link { b.get("url").is_some() && id == 0 } else { (1..=100).contains(&id) };
            if !ok {
                fail(format!("components.{i}.components.{j}"), "BASE_TYPE_INVALID", "Invalid button.".into());
            }
        }
    }
    (!errors.is_empty()).then(|| invalid_form_body(Value::Object(errors)))
}

async fn handle(
    AxState(state): AxState<Arc<Mutex<ServerState>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    bytes: Bytes,
) -> Response {
    let now = Instant::now();
    let path = uri.path().to_string();
    let query = uri.query().map(str::to_owned);
    let authorization = headers.get(header::AUTHORIZATION).map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let body: Value =
        if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).unwrap_or(Value::Null) };
    let kind = parse_route(&method, &path);
    let reply = {
        let mut st = state.lock().unwrap_or_else(|e| e.into_inner());
        let reply = if !bytes.is_empty() && body.is_null() {
            Reply::error(400, 50109, "The request body contains invalid JSON.")
        } else {
            st.answer(&kind, query.as_deref().unwrap_or(""), authorization.as_deref(), &body, now)
        };
        st.requests.push(RecordedRequest {
            method: method.to_string(),
            path,
            query,
            kind,
            authorization,
            body,
            status: reply.status,
            answer: reply.body.clone().unwrap_or(Value::Null),
            at: now,
        });
        reply
    };
    if let Some(d) = reply.delay {
        tokio::time::sleep(d).await;
    }
    let mut builder =
        Response::builder().status(StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR));
    for (k, v) in &reply.headers {
        if let Ok(v) = HeaderValue::from_str(v) {
            builder = builder.header(*k, v);
        }
    }
    let body = match reply.body {
        Some(v) => {
            builder = builder.header(header::CONTENT_TYPE, "application/json");
            Body::from(serde_json::to_vec(&v).unwrap_or_default())
        }
        None => Body::empty(),
    };
    builder.body(body).unwrap_or_else(|_| Response::new(Body::empty()))
}
