//! A fake Telegram Bot API server for integration tests.
//!
//! Real HTTP on `127.0.0.1:<random port>` inside the test's tokio runtime;
//! dropping the `FakeTelegram` stops it. Point teloxide at it with
//! `Bot::new(FakeTelegram::TOKEN).set_api_url(fake.api_url().parse()?)`, or
//! build tminus' `TelegramSender` with `fake.token()` and `fake.api_url()`.
//!
//! ```ignore
//! mod support;
//! use support::fake_telegram::{Behaviour, FakeLimits, FakeTelegram};
//!
//! let fake = FakeTelegram::start().await;
//! fake.script(-100, Behaviour::Blocked);                     // 403 for that chat
//! fake.script(42, Behaviour::RetryAfter { secs: 1, times: 1 }); // one 429
//! fake.set_limits(FakeLimits::telegram().scaled(10.0));        // enforce 300/s, 10/s, 200/min
//! // ... run the code under test ...
//! let sent = fake.sent_to(42);                                 // accepted sendMessage/sendPhoto
//! assert_eq!(sent[0].text.as_deref(), Some("<b>hi</b>"));      // as sent (HTML source)
//! assert_eq!(fake.count_status(429), 1);
//! ```
//!
//! Requests: `POST|GET /bot<TOKEN>/<method>`. Method names are matched
//! case-insensitively (teloxide sends PascalCase, e.g. `SendMessage`;
//! Telegram documents camelCase). Parameters are read from a JSON body
//! (what teloxide sends for most methods), `multipart/form-data` (teloxide's
//! `SendPhoto`; JSON-looking fields such as `reply_markup` are decoded),
//! a urlencoded form, or the query string. A wrong token gets 401
//! `Unauthorized`; an unknown method 404 `Not Found`, like Telegram.
//!
//! Methods:
//! - `sendMessage`, `sendPhoto`: validated like Telegram does — `chat_id`
//!   required; with `parse_mode=HTML` the text/caption must be valid
//!   Telegram HTML (tags b, strong, i, em, u, ins, s, strike, del, a, code,
//!   pre, tg-spoiler, span class="tg-spoiler", blockquote, tg-emoji;
//!   balanced; entities `&lt; &gt; &amp; &quot;` and numeric only), else 400
//!   `Bad Request: can't parse entities: ...`; visible text ≤ 4096 UTF-16
//!   units (`message is too long`), caption ≤ 1024 (`message caption is too
//!   long`); inline button URLs must be http(s) or tg:// (`BUTTON_URL_INVALID`).
//!   Success returns a `Message` teloxide deserializes (increasing
//!   `message_id`; `text`/`caption` are the *visible* text; `photo` sizes).
//! - `getUpdates`: long polling over updates queued with [`FakeTelegram::push_update`]
//!   (any `serde_json::Value`; `update_id` assigned when missing). Honours
//!   `offset` (confirms everything below it; negative = last N), `limit`
//!   and `timeout` (the request is held up to `timeout` seconds, or until an
//!   update is queued).
//! - `getMe` (bot `@tminus_test_bot`, id [`FakeTelegram::BOT_ID`]),
//!   `setMyCommands` (stored, see [`FakeTelegram::my_commands`]),
//!   `getMyCommands`, `deleteWebhook`, `getChat` (`@name` of a channel
//!   too), `deleteMessage`, `getChatMember` (by id or `@name`; status per
//!   (chat, user) from
//!   [`FakeTelegram::set_member`], default `member`).
//! - Buttons: [`FakeTelegram::callback_update`] makes a `callback_query`
//!   update for a press on a message the fake sent (or on one it never
//!   sent, as for a message too old to be in the update). `answerCallbackQuery`
//!   accepts each issued query id once (else 400 `query is too old and
//!   response timeout expired or query ID is invalid`), toast text ≤ 200
//!   characters (`MESSAGE_TOO_LONG`). `editMessageReplyMarkup` needs a
//!   message the fake sent in that chat (`message to edit not found`) and a
//!   changed keyboard (`message is not modified`), and stores the new one.
//!   `editMessageText` (in `fake_telegram/edit.rs`) likewise, for text
//!   and keyboard together ([`FakeTelegram::message_text`]).
//!   `callback_data` over 64 bytes is `BUTTON_DATA_INVALID`.
//!
//! Forum topics and channels: `message_thread_id` is recorded
//! ([`Call::thread_id`]) and echoed in the sent message (`is_topic_message`);
//! [`FakeTelegram::close_topic`] makes sends into a topic answer 400
//! `TOPIC_CLOSED`, [`FakeTelegram::delete_topic`] `message thread not found`.
//! [`FakeTelegram::add_channel`] names a channel: `chat_id=@name` then reaches
//! it ([`Call::chat_id`] is its numeric id, [`Call::chat_username`] the name
//! as sent); an unknown `@name` is `chat not found`.
//! [`topic_message_update`] builds a message posted inside a topic.
//!
//! Faults: [`FakeTelegram::script`] gives a chat a [`Behaviour`] (blocked,
//! kicked, not found, deactivated, no rights, migrated, 500s, 429s, refused
//! image, any 400);
//! [`FakeTelegram::fail_method`] fails the next calls of any method (e.g.
//! `getUpdates` answering 500). Rate limits
//! ([`FakeLimits`], off by default) are sliding windows over *accepted*
//! sends: global per second (with `paid_broadcast_per_sec` set, sends
//! carrying `allow_paid_broadcast=true` get that limit instead of the free
//! one), per chat per second, per group (negative id) per minute; over the
//! limit → 429 `Too Many Requests: retry after N` with
//! `parameters.retry_after`. Scripted answers do not count toward limits.
//!
//! Every call is recorded ([`Call`]) with its arrival time, parameters and
//! the status answered.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::State as AxState;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::Response;
use serde_json::{Map, Value, json};
use tminus::types::Secret;
use tokio::sync::Notify;

/// `editMessageText`. Included rather than `mod edit;` because benches
/// load this file by `#[path]`, where a nested module file would resolve
/// elsewhere; `include!` is relative to this file in both places.
mod edit {
    include!("fake_telegram/edit.rs");
}

/// Limits the fake enforces. `None` = unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FakeLimits {
    /// The free limit for all chats together.
    pub global_per_sec: Option<u32>,
    pub per_chat_per_sec: Option<u32>,
    pub per_group_per_min: Option<u32>,
    /// Paid broadcasting: a send with `allow_paid_broadcast=true` counts
    /// against this limit instead of `global_per_sec`; one without it is
    /// still refused above the free limit. `None` = no paid broadcasting.
    pub paid_broadcast_per_sec: Option<u32>,
}

impl FakeLimits {
    /// Telegram's documented numbers: 30/s, 1/s per chat, 20/min per group.
    pub fn telegram() -> FakeLimits {
        FakeLimits {
            global_per_sec: Some(30),
            per_chat_per_sec: Some(1),
            per_group_per_min: Some(20),
            paid_broadcast_per_sec: None,
        }
    }

    /// Telegram's numbers with paid broadcasting: 1000/s for sends that
    /// allow it, the free 30/s for the others.
    pub fn telegram_paid() -> FakeLimits {
        FakeLimits { paid_broadcast_per_sec: Some(1000), ..FakeLimits::telegram() }
    }

    /// Every limit `factor` times higher.
    pub fn scaled(self, factor: f64) -> FakeLimits {
        let s = |v: Option<u32>| v.map(|n| ((f64::from(n) * factor).round() as u32).max(1));
        FakeLimits {
            global_per_sec: s(self.global_per_sec),
            per_chat_per_sec: s(self.per_chat_per_sec),
            per_group_per_min: s(self.per_group_per_min),
            paid_broadcast_per_sec: s(self.paid_broadcast_per_sec),
        }
    }
}

/// A scripted answer for sends to one chat. The first three and
/// `Migrated` apply to every send; the counted ones are used up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Behaviour {
    /// 403 `Forbidden: bot was blocked by the user`.
    Blocked,
    /// 403 `Forbidden: bot was kicked from the group chat`.
    Kicked,
    /// 400 `Bad Request: chat not found`.
    NotFound,
    /// 403 `Forbidden: user is deactivated`.
    Deactivated,
    /// 400 `Bad Request: not enough rights to send text messages to the chat`.
    NoRights,
    /// 400 `group chat was upgraded to a supergroup chat` with
    /// `parameters.migrate_to_chat_id = to`.
    Migrated { to: i64 },
    /// 500 `Internal Server Error`, `times` times.
    ServerError { times: u32 },
    /// 429 with `retry_after = secs`, `times` times.
    RetryAfter { secs: u32, times: u32 },
    /// `sendPhoto` answers 400 `wrong type of the web page content`,
    /// `times` times (other methods are unaffected).
    RefuseImage { times: u32 },
    /// 400 with this `description` (start it with `Bad Request: `),
    /// `times` times: e.g. an entity error for a message the fake's own
    /// validation would accept.
    BadRequest { description: String, times: u32 },
}

/// A chat member's status for `getChatMember`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberStatus {
    Creator,
    Administrator,
    Member,
    Left,
    Kicked,
}

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct Call {
    /// Arrival time.
    pub at: Instant,
    /// As requested, e.g. `SendMessage`; compare with [`Call::is`].
    pub method: String,
    pub chat_id: Option<i64>,
    /// `chat_id` when it was an `@username`, as sent.
    pub chat_username: Option<String>,
    /// `message_thread_id`, for a forum topic.
    pub thread_id: Option<i64>,
    /// `text` parameter as sent (HTML source).
    pub text: Option<String>,
    /// `caption` parameter as sent.
    pub caption: Option<String>,
    /// `photo` parameter (URL or file id) when it was a string.
    pub photo: Option<String>,
    pub parse_mode: Option<String>,
    pub reply_markup: Option<Value>,
    pub link_preview_options: Option<Value>,
    /// All parameters, decoded.
    pub params: Value,
    /// Whether the body was multipart/form-data.
    pub multipart: bool,
    /// HTTP status answered.
    pub status: u16,
    /// Error description answered, if any.
    pub error: Option<String>,
    /// `message_id` of the message created, if any.
    pub message_id: Option<i64>,
}

impl Call {
    /// Whether this call was to `method` (any case: `sendMessage`, `SendMessage`).
    pub fn is(&self, method: &str) -> bool {
        self.method.eq_ignore_ascii_case(method)
    }

    pub fn ok(&self) -> bool {
        self.status == 200
    }

    /// Whether it is an accepted `sendMessage` or `sendPhoto`.
    pub fn is_delivery(&self) -> bool {
        self.ok() && (self.is("sendMessage") || self.is("sendPhoto"))
    }

    /// Whether it was sent without a sound (`disable_notification`, as
    /// JSON or as a multipart field).
    pub fn silent(&self) -> bool {
        self.params.get("disable_notification").is_some_and(|v| v == &serde_json::json!(true) || v == "true")
    }

    /// The text or caption as sent.
    pub fn body(&self) -> Option<&str> {
        self.text.as_deref().or(self.caption.as_deref())
    }
}

struct State {
    limits: FakeLimits,
    /// Held between recording a call and answering it: the round trip of
    /// a real API, during which a kill leaves a send unconfirmed.
    latency: Duration,
    scripts: HashMap<i64, Vec<Behaviour>>,
    calls: Vec<Call>,
    global_log: VecDeque<Instant>,
    chat_logs: HashMap<i64, VecDeque<Instant>>,
    group_logs: HashMap<i64, VecDeque<Instant>>,
    next_message_id: i64,
    updates: VecDeque<Value>,
    next_update_id: i64,
    members: HashMap<(i64, i64), MemberStatus>,
    chat_kinds: HashMap<i64, String>,
    /// Channel usernames (lowercase, with `@`) → chat id.
    usernames: HashMap<String, i64>,
    /// Topics that answer an error, by (chat, thread): the description.
    topic_faults: HashMap<(i64, i64), &'static str>,
    commands: Option<Value>,
    /// Messages the fake sent, by (chat, message id), as answered.
    messages: HashMap<(i64, i64), Value>,
    /// Callback query ids issued and not yet answered.
    open_queries: std::collections::HashSet<String>,
    next_query_id: u64,
    /// Scripted failures of any method (lower case), used up in order.
    method_faults: HashMap<String, VecDeque<(u16, String)>>,
}

struct Shared {
    state: Mutex<State>,
    /// Poked when an update is queued (wakes long polls) and on every call.
    changed: Notify,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

pub struct FakeTelegram {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeTelegram {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeTelegram {
    /// The token the fake accepts.
    pub const TOKEN: &'static str = "123456789:AAFakeToken-for_tests_0123456789ab";
    /// The bot's user id (the token's prefix, as on Telegram).
    pub const BOT_ID: i64 = 123_456_789;
    pub const BOT_USERNAME: &'static str = "tminus_test_bot";

    pub async fn start() -> FakeTelegram {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind fake Telegram");
        let addr = listener.local_addr().expect("fake Telegram address");
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                limits: FakeLimits::default(),
                latency: Duration::ZERO,
                scripts: HashMap::new(),
                calls: Vec::new(),
                global_log: VecDeque::new(),
                chat_logs: HashMap::new(),
                group_logs: HashMap::new(),
                next_message_id: 1,
                updates: VecDeque::new(),
                next_update_id: 1,
                members: HashMap::new(),
                chat_kinds: HashMap::new(),
                usernames: HashMap::new(),
                topic_faults: HashMap::new(),
                commands: None,
                method_faults: HashMap::new(),
                messages: HashMap::new(),
                open_queries: Default::default(),
                next_query_id: 1,
            }),
            changed: Notify::new(),
        });
        let app = axum::Router::new().fallback(handle).with_state(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeTelegram { addr, shared, task }
    }

    /// Base URL for `[telegram] api_url` / `Bot::set_api_url`.
    pub fn api_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn token(&self) -> Secret {
        Secret::new(Self::TOKEN)
    }

    /// Every answer waits `latency` after the call was recorded.
    pub fn set_latency(&self, latency: Duration) {
        self.shared.lock().latency = latency;
    }

    pub fn set_limits(&self, limits: FakeLimits) {
        self.shared.lock().limits = limits;
    }

    /// Adds a scripted behaviour for sends to `chat`.
    pub fn script(&self, chat: i64, behaviour: Behaviour) {
        self.shared.lock().scripts.entry(chat).or_default().push(behaviour);
    }

    /// The next `times` calls of `method` (any case, e.g. `getUpdates`)
    /// answer HTTP `code` with `description`, before anything else
    /// (429 answers carry `parameters.retry_after = 1`).
    pub fn fail_method(&self, method: &str, times: u32, code: u16, description: &str) {
        let mut st = self.shared.lock();
        let queue = st.method_faults.entry(method.to_ascii_lowercase()).or_default();
        for _ in 0..times {
            queue.push_back((code, description.to_string()));
        }
    }

    pub fn clear_script(&self, chat: i64) {
        self.shared.lock().scripts.remove(&chat);
    }

    /// Overrides the chat type (`private`, `group`, `supergroup`, `channel`).
    /// Default: positive ids private, ids below -10^12 supergroups, other
    /// negative ids groups.
    pub fn set_chat_kind(&self, chat: i64, kind: &str) {
        self.shared.lock().chat_kinds.insert(chat, kind.to_string());
    }

    /// A public channel `chat` named `@username`.
    pub fn add_channel(&self, chat: i64, username: &str) {
        let mut st = self.shared.lock();
        st.chat_kinds.insert(chat, "channel".into());
        st.usernames.insert(format!("@{}", username.trim_start_matches('@').to_ascii_lowercase()), chat);
    }

    /// Sends into topic `thread` of `chat` answer 400 `TOPIC_CLOSED`.
    pub fn close_topic(&self, chat: i64, thread: i64) {
        self.shared.lock().topic_faults.insert((chat, thread), "Bad Request: TOPIC_CLOSED");
    }

    /// Topic `thread` of `chat` takes messages again (undoes `close_topic`).
    pub fn reopen_topic(&self, chat: i64, thread: i64) {
        self.shared.lock().topic_faults.remove(&(chat, thread));
    }

    /// Sends into topic `thread` of `chat` answer 400 `message thread not found`.
    pub fn delete_topic(&self, chat: i64, thread: i64) {
        self.shared.lock().topic_faults.insert((chat, thread), "Bad Request: message thread not found");
    }

    /// What `getChatMember(chat, user)` answers.
    pub fn set_member(&self, chat: i64, user: i64, status: MemberStatus) {
        self.shared.lock().members.insert((chat, user), status);
    }

    /// Queues an update for `getUpdates`; assigns `update_id` when missing.
    /// Returns the update id.
    pub fn push_update(&self, mut update: Value) -> i64 {
        let id = {
            let mut st = self.shared.lock();
            let id = match update.get("update_id").and_then(Value::as_i64) {
                Some(id) => id,
                None => {
                    let id = st.next_update_id;
                    if let Some(obj) = update.as_object_mut() {
                        obj.insert("update_id".into(), json!(id));
                    }
                    id
                }
            };
            st.next_update_id = st.next_update_id.max(id + 1);
            st.updates.push_back(update);
            id
        };
        self.shared.changed.notify_waiters();
        id
    }

    /// A `callback_query` update: `user` pressed the button with `data`
    /// under message `message_id` in `chat`. The message is the one the
    /// fake sent, with its current keyboard; an unknown id gets a bare
    /// message (an old alert). Queue it with `push_update`.
    pub fn callback_update(&self, chat: i64, user: i64, message_id: i64, data: &str) -> Value {
        let mut st = self.shared.lock();
        let id = format!("cbq-{}", st.next_query_id);
        st.next_query_id += 1;
        st.open_queries.insert(id.clone());
        let kind = chat_kind(&st, chat);
        let message = st.messages.get(&(chat, message_id)).cloned().unwrap_or_else(
            || json!({"message_id": message_id, "date": 0, "chat": chat_json(chat, &kind), "text": "old"}),
        );
        json!({"callback_query": {
            "id": id,
            "from": user_json(user),
            "message": message,
            "chat_instance": format!("ci{chat}"),
            "data": data,
        }})
    }

    /// The current keyboard of a message the fake sent.
    pub fn reply_markup(&self, chat: i64, message_id: i64) -> Option<Value> {
        self.shared.lock().messages.get(&(chat, message_id)).and_then(|m| m.get("reply_markup").cloned())
    }

    /// The current (visible) text of a message the fake sent.
    pub fn message_text(&self, chat: i64, message_id: i64) -> Option<String> {
        let st = self.shared.lock();
        st.messages.get(&(chat, message_id)).and_then(|m| m["text"].as_str().map(str::to_owned))
    }

    /// Updates queued and not yet confirmed by an `offset`.
    pub fn pending_updates(&self) -> usize {
        self.shared.lock().updates.len()
    }

    /// The commands last set with `setMyCommands`.
    pub fn my_commands(&self) -> Option<Value> {
        self.shared.lock().commands.clone()
    }

    pub fn calls(&self) -> Vec<Call> {
        self.shared.lock().calls.clone()
    }

    pub fn calls_to(&self, method: &str) -> Vec<Call> {
        self.shared.lock().calls.iter().filter(|c| c.is(method)).cloned().collect()
    }

    /// Accepted `sendMessage`/`sendPhoto` calls, in arrival order.
    pub fn sent(&self) -> Vec<Call> {
        self.shared.lock().calls.iter().filter(|c| c.is_delivery()).cloned().collect()
    }

    pub fn sent_to(&self, chat: i64) -> Vec<Call> {
        self.shared.lock().calls.iter().filter(|c| c.is_delivery() && c.chat_id == Some(chat)).cloned().collect()
    }

    /// Calls answered with HTTP `status`.
    pub fn count_status(&self, status: u16) -> usize {
        self.shared.lock().calls.iter().filter(|c| c.status == status).count()
    }

    pub fn clear_calls(&self) {
        self.shared.lock().calls.clear();
    }

    /// Waits until `pred` holds for the recorded calls, or `timeout`.
    pub async fn wait_until(&self, timeout: Duration, pred: impl Fn(&[Call]) -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.shared.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if pred(&self.shared.lock().calls) {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return pred(&self.shared.lock().calls);
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Update builders, for tests driving a dispatcher.

/// A user as Telegram describes one.
pub fn user_json(user: i64) -> Value {
    json!({"id": user, "is_bot": false, "first_name": format!("User{user}"), "username": format!("user{user}")})
}

fn default_chat_kind(chat: i64) -> &'static str {
    if chat > 0 {
        "private"
    } else if chat < -1_000_000_000_000 {
        "supergroup"
    } else {
        "group"
    }
}

/// A chat object of `kind` (`private`, `group`, `supergroup`, `channel`).
pub fn chat_json(chat: i64, kind: &str) -> Value {
    match kind {
        "private" => json!({"id": chat, "type": "private", "first_name": format!("User{chat}")}),
        other => json!({"id": chat, "type": other, "title": format!("Chat {chat}")}),
    }
}

/// A `message` update with `text` from `user` in `chat` (kind from the id).
/// Bot commands at the start get their `bot_command` entity, as Telegram
/// sends them.
pub fn message_update(chat: i64, user: i64, text: &str) -> Value {
    let mut msg = json!({
        "message_id": 1000 + (user.unsigned_abs() % 1000) as i64,
        "date": chrono::Utc::now().timestamp(),
        "chat": chat_json(chat, default_chat_kind(chat)),
        "from": user_json(user),
        "text": text,
    });
    if let Some(e) = command_entity(text) {
        msg["entities"] = json!([e]);
    }
    json!({"message": msg})
}

/// A `message` update with `text` from `user` posted in forum topic
/// `thread` of supergroup `chat`.
pub fn topic_message_update(chat: i64, user: i64, thread: i64, text: &str) -> Value {
    let mut update = message_update(chat, user, text);
    update["message"]["chat"]["is_forum"] = json!(true);
    update["message"]["message_thread_id"] = json!(thread);
    update["message"]["is_topic_message"] = json!(true);
    update
}

/// A `channel_post` update with `text` in channel `chat`.
pub fn channel_post_update(chat: i64, text: &str) -> Value {
    let chat = chat_json(chat, "channel");
    let mut msg = json!({
        "message_id": 2000,
        "date": chrono::Utc::now().timestamp(),
        "chat": chat.clone(),
        "sender_chat": chat,
        "text": text,
    });
    if let Some(e) = command_entity(text) {
        msg["entities"] = json!([e]);
    }
    json!({"channel_post": msg})
}

/// A `my_chat_member` update: the bot's status in `chat` changed from
/// `old` to `new` (`member`, `administrator`, `left`, `kicked`), by `user`.
pub fn my_chat_member_update(chat: i64, kind: &str, user: i64, old: &str, new: &str) -> Value {
    let bot = json!({"id": FakeTelegram::BOT_ID, "is_bot": true, "first_name": "tminus", "username": FakeTelegram::BOT_USERNAME});
    json!({"my_chat_member": {
        "chat": chat_json(chat, kind),
        "from": user_json(user),
        "date": chrono::Utc::now().timestamp(),
        "old_chat_member": member_json(bot.clone(), old),
        "new_chat_member": member_json(bot, new),
    }})
}

fn command_entity(text: &str) -> Option<Value> {
    if !text.starts_with('/') {
        return None;
    }
    let len: usize = text.split_whitespace().next().unwrap_or("").encode_utf16().count();
    Some(json!({"type": "bot_command", "offset": 0, "length": len}))
}

fn member_json(user: Value, status: &str) -> Value {
    match status {
        "creator" => json!({"status": "creator", "user": user, "is_anonymous": false}),
        "administrator" => json!({
            "status": "administrator", "user": user, "is_anonymous": false, "can_be_edited": false,
            "can_manage_chat": true, "can_change_info": true, "can_post_messages": true, "can_edit_messages": true,
            "can_delete_messages": true, "can_manage_video_chats": true, "can_invite_users": true,
            "can_restrict_members": true, "can_pin_messages": true, "can_promote_members": false,
        }),
        "kicked" => json!({"status": "kicked", "user": user, "until_date": 0}),
        "left" => json!({"status": "left", "user": user}),
        _ => json!({"status": "member", "user": user}),
    }
}

// ---------------------------------------------------------------------------
// Telegram HTML, as Telegram parses it.

const ALLOWED_TAGS: &[&str] = &[
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "a",
    "code",
    "pre",
    "tg-spoiler",
    "span",
    "blockquote",
    "tg-emoji",
];

/// Parses Telegram HTML like the Bot API does; returns the visible text, or
/// the error detail that follows `Bad Request: can't parse entities: `.
pub fn parse_html(s: &str) -> Result<String, String> {
    let mut stack: Vec<String> = Vec::new();
    let mut text = String::new();
    let mut i = 0;
    while i < s.len() {
        let rest = &s[i..];
        let c = rest.chars().next().unwrap_or('\0');
        match c {
            '<' => {
                let Some(end) = rest.find('>') else {
                    return Err(format!("Unclosed start tag at byte offset {i}"));
                };
                let inner = &rest[1..end];
                if let Some(name) = inner.strip_prefix('/') {
                    let name = name.trim().to_ascii_lowercase();
                    match stack.pop() {
                        Some(open) if open == name => {}
                        Some(open) => {
                            return Err(format!("Can't find end tag corresponding to start tag \"{open}\""));
                        }
                        None => return Err(format!("Unexpected end tag at byte offset {i}")),
                    }
                } else {
                    let name_end = inner.find(|c: char| c.is_whitespace() || c == '/').unwrap_or(inner.len());
                    let name = inner[..name_end].to_ascii_lowercase();
                    if !ALLOWED_TAGS.contains(&name.as_str()) {
                        return Err(format!("Unsupported start tag \"{name}\" at byte offset {i}"));
                    }
                    let attrs = parse_attributes(&inner[name_end..])
                        .map_err(|e| format!("{e} in start tag \"{name}\" at byte offset {i}"))?;
                    if name == "span" && attrs.iter().all(|(k, v)| !(k == "class" && v == "tg-spoiler")) {
                        return Err(format!("Unsupported start tag \"span\" at byte offset {i}"));
                    }
                    if name == "a"
                        && let Some((_, href)) = attrs.iter().find(|(k, _)| k == "href")
                        && href.trim().is_empty()
                    {
                        return Err(format!("Empty href in start tag \"a\" at byte offset {i}"));
                    }
                    stack.push(name);
                }
                i += end + 1;
            }
            '&' => {
                let (ch, len) = parse_entity(rest).map_err(|e| format!("{e} at byte offset {i}"))?;
                text.push(ch);
                i += len;
            }
            c => {
                text.push(c);
                i += c.len_utf8();
            }
        }
    }
    if let Some(open) = stack.pop() {
        return Err(format!("Can't find end tag corresponding to start tag \"{open}\""));
    }
    Ok(text)
}

/// `name="value"` pairs (also single-quoted or bare values), decoded.
fn parse_attributes(s: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let mut rest = s.trim_start();
    while !rest.is_empty() {
        let name_end = rest.find(|c: char| c == '=' || c.is_whitespace()).unwrap_or(rest.len());
        let name = rest[..name_end].to_ascii_lowercase();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return Err("Invalid attribute name".into());
        }
        rest = rest[name_end..].trim_start();
        let value;
        if let Some(after) = rest.strip_prefix('=') {
            let after = after.trim_start();
            let (raw, tail) = match after.chars().next() {
                Some(q @ ('"' | '\'')) => {
                    let close = after[1..].find(q).ok_or("Unclosed attribute value")?;
                    (&after[1..=close], &after[close + 2..])
                }
                _ => {
                    let end = after.find(char::is_whitespace).unwrap_or(after.len());
                    (&after[..end], &after[end..])
                }
            };
            value = decode_entities(raw)?;
            rest = tail.trim_start();
        } else {
            value = String::new();
        }
        out.push((name, value));
    }
    Ok(out)
}

fn decode_entities(s: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut i = 0;
    while i < s.len() {
        let rest = &s[i..];
        if rest.starts_with('&') {
            let (c, len) = parse_entity(rest)?;
            out.push(c);
            i += len;
        } else {
            let c = rest.chars().next().unwrap_or('\0');
            out.push(c);
            i += c.len_utf8();
        }
    }
    Ok(out)
}

/// One entity at the start of `s`: the character and the bytes consumed.
fn parse_entity(s: &str) -> Result<(char, usize), String> {
    let end = s.char_indices().take(12).find(|(_, c)| *c == ';').map(|(i, _)| i).ok_or("Unclosed character entity")?;
    let body = &s[1..end];
    let c = match body {
        "lt" => '<',
        "gt" => '>',
        "amp" => '&',
        "quot" => '"',
        _ => {
            let code = if let Some(hex) = body.strip_prefix("#x").or_else(|| body.strip_prefix("#X")) {
                u32::from_str_radix(hex, 16).ok()
            } else if let Some(dec) = body.strip_prefix('#') {
                dec.parse::<u32>().ok()
            } else {
                None
            };
            code.and_then(char::from_u32).ok_or_else(|| format!("Unsupported HTML entity \"&{body};\""))?
        }
    };
    Ok((c, end + 1))
}

fn utf16_len(s: &str) -> usize {
    s.encode_utf16().count()
}

// ---------------------------------------------------------------------------
// HTTP handling.

struct Answer {
    status: u16,
    body: Value,
    error: Option<String>,
    message_id: Option<i64>,
}

impl Answer {
    fn ok(result: Value) -> Answer {
        Answer { status: 200, body: json!({"ok": true, "result": result}), error: None, message_id: None }
    }

    fn err(code: u16, description: &str) -> Answer {
        Answer {
            status: code,
            body: json!({"ok": false, "error_code": code, "description": description}),
            error: Some(description.to_string()),
            message_id: None,
        }
    }

    fn with_parameters(mut self, parameters: Value) -> Answer {
        self.body["parameters"] = parameters;
        self
    }
}

async fn handle(AxState(shared): AxState<Arc<Shared>>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let at = Instant::now();
    let path = uri.path().trim_start_matches('/');
    let (bot, method) = path.split_once('/').unwrap_or((path, ""));
    let token = bot.strip_prefix("bot").map(percent_decode);
    let method = method.trim_end_matches('/').to_string();
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let multipart = content_type.starts_with("multipart/form-data");
    let params = match read_params(&uri, &content_type, &body) {
        Ok(p) => p,
        Err(e) => {
            return respond(
                &shared,
                at,
                &method,
                Value::Null,
                multipart,
                Answer::err(400, &format!("Bad Request: {e}")),
            );
        }
    };
    let answer = match token.as_deref() {
        Some(FakeTelegram::TOKEN) if !method.is_empty() && !method.contains('/') => {
            dispatch(&shared, &method.to_ascii_lowercase(), &params, at).await
        }
        Some(_) => Answer::err(401, "Unauthorized"),
        None => Answer::err(404, "Not Found"),
    };
    let response = respond(&shared, at, &method, Value::Object(params), multipart, answer);
    let latency = shared.lock().latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    response
}

fn respond(shared: &Shared, at: Instant, method: &str, params: Value, multipart: bool, answer: Answer) -> Response {
    let get_str = |k: &str| params.get(k).and_then(Value::as_str).map(str::to_owned);
    let call = Call {
        at,
        method: method.to_string(),
        chat_id: params.get("chat_id").and_then(as_i64).or_else(|| answer.body["result"]["chat"]["id"].as_i64()),
        chat_username: get_str("chat_id").filter(|c| c.starts_with('@')),
        thread_id: params.get("message_thread_id").and_then(as_i64),
        text: get_str("text"),
        caption: get_str("caption"),
        photo: get_str("photo"),
        parse_mode: get_str("parse_mode"),
        reply_markup: params.get("reply_markup").cloned(),
        link_preview_options: params.get("link_preview_options").cloned(),
        params: params.clone(),
        multipart,
        status: answer.status,
        error: answer.error.clone(),
        message_id: answer.message_id,
    };
    shared.lock().calls.push(call);
    shared.changed.notify_waiters();
    Response::builder()
        .status(StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(answer.body.to_string()))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

async fn dispatch(shared: &Arc<Shared>, method: &str, params: &Map<String, Value>, at: Instant) -> Answer {
    let fault = shared.lock().method_faults.get_mut(method).and_then(VecDeque::pop_front);
    if let Some((code, description)) = fault {
        let answer = Answer::err(code, &description);
        return if code == 429 { answer.with_parameters(json!({"retry_after": 1})) } else { answer };
    }
    match method {
        "getme" => Answer::ok(json!({
            "id": FakeTelegram::BOT_ID, "is_bot": true, "first_name": "tminus", "username": FakeTelegram::BOT_USERNAME,
            "can_join_groups": true, "can_read_all_group_messages": false, "supports_inline_queries": false,
            "can_connect_to_business": false, "has_main_web_app": false,
        })),
        "sendmessage" | "sendphoto" => send(shared, method, params, at),
        "getupdates" => get_updates(shared, params).await,
        "setmycommands" => {
            shared.lock().commands = Some(params.get("commands").cloned().unwrap_or(Value::Null));
            Answer::ok(json!(true))
        }
        "getmycommands" => Answer::ok(shared.lock().commands.clone().unwrap_or(json!([]))),
        "deletewebhook" | "deletemessage" => Answer::ok(json!(true)),
        "answercallbackquery" => answer_callback(shared, params),
        "editmessagereplymarkup" => edit_reply_markup(shared, params),
        "editmessagetext" => edit::edit_message_text(shared, params, at),
        "getchat" => match params.get("chat_id").and_then(|c| resolve(&shared.lock(), c)) {
            Some(chat) => Answer::ok(full_chat_json(&shared.lock(), chat)),
            None => Answer::err(400, "Bad Request: chat not found"),
        },
        "getchatmember" => {
            let chat = params.get("chat_id").and_then(|c| resolve(&shared.lock(), c));
            let (Some(chat), Some(user)) = (chat, params.get("user_id").and_then(as_i64)) else {
                return Answer::err(400, "Bad Request: chat not found");
            };
            let status = shared.lock().members.get(&(chat, user)).copied().unwrap_or(MemberStatus::Member);
            let status = match status {
                MemberStatus::Creator => "creator",
                MemberStatus::Administrator => "administrator",
                MemberStatus::Member => "member",
                MemberStatus::Left => "left",
                MemberStatus::Kicked => "kicked",
            };
            Answer::ok(member_json(user_json(user), status))
        }
        _ => Answer::err(404, "Not Found"),
    }
}

/// A `chat_id` parameter: a number, or the `@name` of a channel the fake knows.
fn resolve(st: &State, chat: &Value) -> Option<i64> {
    let named = chat.as_str().filter(|c| c.starts_with('@'));
    as_i64(chat).or_else(|| named.and_then(|c| st.usernames.get(&c.to_ascii_lowercase()).copied()))
}

/// What `getChat` answers: the chat (with its username, for channels added
/// by name) and the fields teloxide's `ChatFullInfo` requires.
fn full_chat_json(st: &State, chat: i64) -> Value {
    let mut info = chat_json(chat, &chat_kind(st, chat));
    if let Some((name, _)) = st.usernames.iter().find(|(_, id)| **id == chat) {
        info["username"] = json!(name.trim_start_matches('@'));
    }
    info["max_reaction_count"] = json!(11);
    info["accepted_gift_types"] =
        json!({"unlimited_gifts": false, "limited_gifts": false, "unique_gifts": false, "premium_subscription": false});
    info
}

fn chat_kind(st: &State, chat: i64) -> String {
    st.chat_kinds.get(&chat).cloned().unwrap_or_else(|| default_chat_kind(chat).to_string())
}

fn send(shared: &Shared, method: &str, params: &Map<String, Value>, at: Instant) -> Answer {
    let photo_call = method == "sendphoto";
    let Some(chat_value) = params.get("chat_id") else {
        return Answer::err(400, "Bad Request: chat_id is empty");
    };
    let mut st = shared.lock();
    let by_name = chat_value.as_str().filter(|c| c.starts_with('@'));
    let named = by_name.and_then(|c| st.usernames.get(&c.to_ascii_lowercase()).copied());
    let Some(chat) = as_i64(chat_value).or(named) else {
        return Answer::err(400, "Bad Request: chat not found");
    };
    let thread = params.get("message_thread_id").and_then(as_i64);
    if let Some(description) = thread.and_then(|t| st.topic_faults.get(&(chat, t)).copied()) {
        return Answer::err(400, description);
    }

    if let Some(answer) = scripted(&mut st, chat, photo_call) {
        return answer;
    }
    let paid = params.get("allow_paid_broadcast").is_some_and(|v| v == &json!(true) || v == &json!("true"));
    if let Some(wait) = over_limit(&mut st, chat, paid, at) {
        return Answer::err(429, &format!("Too Many Requests: retry after {wait}"))
            .with_parameters(json!({"retry_after": wait}));
    }

    let parse_mode = params.get("parse_mode").and_then(Value::as_str);
    let html = match parse_mode {
        None => false,
        Some(m) if m.eq_ignore_ascii_case("html") => true,
        Some(m) if m.eq_ignore_ascii_case("markdownv2") || m.eq_ignore_ascii_case("markdown") => false,
        Some(_) => return Answer::err(400, "Bad Request: unsupported parse_mode"),
    };
    let visible = |raw: &str| -> Result<String, Answer> {
        if html {
            parse_html(raw).map_err(|e| Answer::err(400, &format!("Bad Request: can't parse entities: {e}")))
        } else {
            Ok(raw.to_string())
        }
    };
    let (text, caption) = if photo_call {
        if params.get("photo").is_none() {
            return Answer::err(400, "Bad Request: there is no photo in the request");
        }
        let caption = match params.get("caption").and_then(Value::as_str) {
            Some(c) => match visible(c) {
                Ok(v) => Some(v),
                Err(a) => return a,
            },
            None => None,
        };
        if caption.as_deref().is_some_and(|c| utf16_len(c) > 1024) {
            return Answer::err(400, "Bad Request: message caption is too long");
        }
        (None, caption)
    } else {
        let raw = params.get("text").and_then(Value::as_str).unwrap_or("");
        let text = match visible(raw) {
            Ok(v) => v,
            Err(a) => return a,
        };
        if text.trim().is_empty() {
            return Answer::err(400, "Bad Request: message text is empty");
        }
        if utf16_len(&text) > 4096 {
            return Answer::err(400, "Bad Request: message is too long");
        }
        (Some(text), None)
    };
    if let Some(markup) = params.get("reply_markup")
        && let Err(e) = check_markup(markup)
    {
        return Answer::err(400, &format!("Bad Request: {e}"));
    }

    record_send(&mut st, chat, at);
    let id = st.next_message_id;
    st.next_message_id += 1;
    let kind = chat_kind(&st, chat);
    let chat_obj = chat_json(chat, &kind);
    let mut msg = json!({"message_id": id, "date": chrono::Utc::now().timestamp(), "chat": chat_obj.clone()});
    if kind == "channel" {
        msg["sender_chat"] = chat_obj;
    } else {
        msg["from"] = json!({"id": FakeTelegram::BOT_ID, "is_bot": true, "first_name": "tminus", "username": FakeTelegram::BOT_USERNAME});
    }
    if let Some(t) = text {
        msg["text"] = json!(t);
    }
    if let Some(t) = thread {
        msg["message_thread_id"] = json!(t);
        msg["is_topic_message"] = json!(true);
    }
    if photo_call {
        msg["photo"] = json!([
            {"file_id": format!("AgAC-small-{id}"), "file_unique_id": format!("s{id}"), "width": 90, "height": 51, "file_size": 1200},
            {"file_id": format!("AgAC-large-{id}"), "file_unique_id": format!("l{id}"), "width": 1280, "height": 720, "file_size": 98000},
        ]);
        if let Some(c) = caption {
            msg["caption"] = json!(c);
        }
    }
    if let Some(markup) = params.get("reply_markup") {
        msg["reply_markup"] = markup.clone();
    }
    st.messages.insert((chat, id), msg.clone());
    let mut answer = Answer::ok(msg);
    answer.message_id = Some(id);
    answer
}

fn answer_callback(shared: &Shared, params: &Map<String, Value>) -> Answer {
    let id = params.get("callback_query_id").and_then(Value::as_str).unwrap_or_default();
    if params.get("text").and_then(Value::as_str).is_some_and(|t| t.chars().count() > 200) {
        return Answer::err(400, "Bad Request: MESSAGE_TOO_LONG");
    }
    if !shared.lock().open_queries.remove(id) {
        return Answer::err(400, "Bad Request: query is too old and response timeout expired or query ID is invalid");
    }
    Answer::ok(json!(true))
}

fn edit_reply_markup(shared: &Shared, params: &Map<String, Value>) -> Answer {
    let chat = params.get("chat_id").and_then(as_i64);
    let message = params.get("message_id").and_then(as_i64);
    let markup = params.get("reply_markup").cloned();
    if let Some(e) = markup.as_ref().and_then(|m| check_markup(m).err()) {
        return Answer::err(400, &format!("Bad Request: {e}"));
    }
    let mut st = shared.lock();
    let Some(msg) = chat.zip(message).and_then(|key| st.messages.get_mut(&key)) else {
        return Answer::err(400, "Bad Request: message to edit not found");
    };
    if msg.get("reply_markup") == markup.as_ref() {
        return Answer::err(400, edit::NOT_MODIFIED);
    }
    match markup {
        Some(m) => msg["reply_markup"] = m,
        None => {
            msg.as_object_mut().map(|o| o.remove("reply_markup"));
        }
    }
    Answer::ok(msg.clone())
}

/// The scripted answer for a send to `chat`, using up counted behaviours.
fn scripted(st: &mut State, chat: i64, photo_call: bool) -> Option<Answer> {
    let scripts = st.scripts.get_mut(&chat)?;
    let pos = scripts.iter().position(|b| photo_call || !matches!(b, Behaviour::RefuseImage { .. }))?;
    let behaviour = scripts[pos].clone();
    let answer = match &behaviour {
        Behaviour::Blocked => Answer::err(403, "Forbidden: bot was blocked by the user"),
        Behaviour::Kicked => Answer::err(403, "Forbidden: bot was kicked from the group chat"),
        Behaviour::NotFound => Answer::err(400, "Bad Request: chat not found"),
        Behaviour::Deactivated => Answer::err(403, "Forbidden: user is deactivated"),
        Behaviour::NoRights => Answer::err(400, "Bad Request: not enough rights to send text messages to the chat"),
        Behaviour::Migrated { to } => Answer::err(400, "Bad Request: group chat was upgraded to a supergroup chat")
            .with_parameters(json!({"migrate_to_chat_id": to})),
        Behaviour::ServerError { .. } => Answer::err(500, "Internal Server Error"),
        Behaviour::RetryAfter { secs, .. } => Answer::err(429, &format!("Too Many Requests: retry after {secs}"))
            .with_parameters(json!({"retry_after": secs})),
        Behaviour::RefuseImage { .. } => Answer::err(400, "Bad Request: wrong type of the web page content"),
        Behaviour::BadRequest { description, .. } => Answer::err(400, description),
    };
    match &mut scripts[pos] {
        Behaviour::ServerError { times }
        | Behaviour::RetryAfter { times, .. }
        | Behaviour::RefuseImage { times }
        | Behaviour::BadRequest { times, .. } => {
            *times = times.saturating_sub(1);
            if *times == 0 {
                scripts.remove(pos);
            }
        }
        _ => {}
    }
    Some(answer)
}

/// Seconds to wait when a send now would exceed a limit.
fn over_limit(st: &mut State, chat: i64, paid: bool, now: Instant) -> Option<u64> {
    let limits = st.limits;
    let mut wait: Option<Duration> = None;
    let mut check = |log: &mut VecDeque<Instant>, limit: Option<u32>, window: Duration| {
        let Some(limit) = limit else { return };
        while log.front().is_some_and(|t| now.duration_since(*t) >= window) {
            log.pop_front();
        }
        if log.len() >= limit as usize {
            let free_at = log[log.len() - limit as usize] + window;
            let w = free_at.saturating_duration_since(now);
            wait = Some(wait.map_or(w, |x| x.max(w)));
        }
    };
    let global = match limits.paid_broadcast_per_sec {
        Some(paid_limit) if paid => Some(paid_limit),
        _ => limits.global_per_sec,
    };
    check(&mut st.global_log, global, Duration::from_secs(1));
    check(st.chat_logs.entry(chat).or_default(), limits.per_chat_per_sec, Duration::from_secs(1));
    if chat < 0 {
        check(st.group_logs.entry(chat).or_default(), limits.per_group_per_min, Duration::from_secs(60));
    }
    // Telegram answers in whole seconds, at least 1.
    wait.map(|w| w.as_secs_f64().ceil().max(1.0) as u64)
}

fn record_send(st: &mut State, chat: i64, now: Instant) {
    st.global_log.push_back(now);
    st.chat_logs.entry(chat).or_default().push_back(now);
    if chat < 0 {
        st.group_logs.entry(chat).or_default().push_back(now);
    }
}

fn check_markup(markup: &Value) -> Result<(), String> {
    let Some(rows) = markup.get("inline_keyboard") else {
        return Ok(()); // other keyboards are not used by tminus; accept
    };
    let rows = rows.as_array().ok_or("can't parse inline keyboard: field \"inline_keyboard\" must be an Array")?;
    for row in rows {
        for button in row.as_array().ok_or("can't parse inline keyboard: row must be an Array")? {
            let text = button.get("text").and_then(Value::as_str).unwrap_or("");
            if text.is_empty() {
                return Err(
                    "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard".into()
                );
            }
            if let Some(url) = button.get("url") {
                let url = url.as_str().unwrap_or("");
                let ok = ["http://", "https://", "tg://"].iter().any(|p| url.starts_with(p)) && url.len() > 8;
                if !ok {
                    return Err("BUTTON_URL_INVALID".into());
                }
            } else if let Some(data) = button.get("callback_data") {
                if data.as_str().is_none_or(|d| d.is_empty() || d.len() > 64) {
                    return Err("BUTTON_DATA_INVALID".into());
                }
            } else {
                return Err(
                    "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard".into()
                );
            }
        }
    }
    Ok(())
}

async fn get_updates(shared: &Arc<Shared>, params: &Map<String, Value>) -> Answer {
    let offset = params.get("offset").and_then(as_i64);
    let limit = params.get("limit").and_then(as_i64).unwrap_or(100).clamp(1, 100) as usize;
    let timeout = params.get("timeout").and_then(as_i64).unwrap_or(0).clamp(0, 50) as u64;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(timeout);
    loop {
        let notified = shared.changed.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        {
            let mut st = shared.lock();
            match offset {
                // An offset confirms every update below it, for good.
                Some(off) if off >= 0 => {
                    while st
                        .updates
                        .front()
                        .and_then(|u| u.get("update_id"))
                        .and_then(Value::as_i64)
                        .is_some_and(|id| id < off)
                    {
                        st.updates.pop_front();
                    }
                }
                // Negative: only the last |offset| updates are of interest.
                Some(off) => {
                    let keep = off.unsigned_abs() as usize;
                    while st.updates.len() > keep {
                        st.updates.pop_front();
                    }
                }
                None => {}
            }
            let batch: Vec<Value> = st.updates.iter().take(limit).cloned().collect();
            if !batch.is_empty() || tokio::time::Instant::now() >= deadline {
                return Answer::ok(Value::Array(batch));
            }
        }
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            return Answer::ok(json!([]));
        }
    }
}

// ---------------------------------------------------------------------------
// Parameter decoding.

fn as_i64(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A text field from a form: JSON objects/arrays (how teloxide encodes
/// `reply_markup` etc. in forms) are decoded, everything else stays text.
fn form_value(s: &str) -> Value {
    let t = s.trim_start();
    if (t.starts_with('{') || t.starts_with('['))
        && let Ok(v) = serde_json::from_str(s)
    {
        return v;
    }
    Value::String(s.to_string())
}

fn read_params(uri: &Uri, content_type: &str, body: &[u8]) -> Result<Map<String, Value>, String> {
    let mut params = Map::new();
    if let Some(q) = uri.query() {
        for (k, v) in url::form_urlencoded::parse(q.as_bytes()) {
            params.insert(k.into_owned(), form_value(&v));
        }
    }
    if body.is_empty() {
        return Ok(params);
    }
    if content_type.starts_with("application/json") {
        let v: Value = serde_json::from_slice(body).map_err(|e| format!("invalid JSON body: {e}"))?;
        let Value::Object(obj) = v else { return Err("JSON body must be an object".into()) };
        params.extend(obj);
    } else if content_type.starts_with("multipart/form-data") {
        let boundary = content_type
            .split(';')
            .filter_map(|p| p.trim().strip_prefix("boundary="))
            .next()
            .map(|b| b.trim_matches('"').to_string())
            .ok_or("multipart body without boundary")?;
        params.extend(parse_multipart(body, &boundary)?);
    } else if content_type.starts_with("application/x-www-form-urlencoded") {
        for (k, v) in url::form_urlencoded::parse(body) {
            params.insert(k.into_owned(), form_value(&v));
        }
    } else {
        return Err(format!("unsupported content type {content_type:?}"));
    }
    Ok(params)
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || from > haystack.len() {
        return None;
    }
    haystack[from..].windows(needle.len()).position(|w| w == needle).map(|p| p + from)
}

/// Text parts become values (see [`form_value`]); file parts become a
/// placeholder string naming the file and its size.
fn parse_multipart(body: &[u8], boundary: &str) -> Result<Map<String, Value>, String> {
    let delim = format!("--{boundary}");
    let mut out = Map::new();
    let mut pos = find(body, delim.as_bytes(), 0).ok_or("multipart body without its boundary")? + delim.len();
    loop {
        if body[pos..].starts_with(b"--") {
            return Ok(out); // closing delimiter
        }
        let head_start = pos + if body[pos..].starts_with(b"\r\n") { 2 } else { 0 };
        let head_end = find(body, b"\r\n\r\n", head_start).ok_or("multipart part without headers")?;
        let next = find(body, delim.as_bytes(), head_end).ok_or("multipart part without closing boundary")?;
        let content = &body[head_end + 4..next.saturating_sub(2).max(head_end + 4)];
        let headers = String::from_utf8_lossy(&body[head_start..head_end]);
        let disposition = headers
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("content-disposition:"))
            .ok_or("multipart part without Content-Disposition")?;
        let attr = |name: &str| {
            disposition
                .split(';')
                .map(str::trim)
                .find_map(|p| p.strip_prefix(&format!("{name}=")).map(|v| v.trim_matches('"').to_string()))
        };
        let name = attr("name").ok_or("multipart part without a name")?;
        let value = match attr("filename") {
            Some(file) => Value::String(format!("<file {file}: {} bytes>", content.len())),
            None => form_value(&String::from_utf8_lossy(content)),
        };
        out.insert(name, value);
        pos = next + delim.len();
    }
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}
