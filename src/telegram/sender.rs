//! The Telegram sender: one rendered alert → one `sendPhoto` (image with
//! the alert as caption, for the kinds that carry a photo, see
//! `render::carries_photo`, when the caption fits) or `sendMessage` (HTML,
//! with a large link preview of that image), with "Watch live"
//! and "Details" inline buttons, and a "🔕 Mute" callback button on alerts
//! to a chat's own subscriptions (the command bot handles the press).
//!
//! Before every request it waits for the shared rate limiter (Telegram:
//! 30 messages/s overall, 1/s per chat, 20/min per group or channel; with
//! `[telegram] paid_broadcast`, sends carry `allow_paid_broadcast` and the
//! overall limit is Telegram's paid 1000/s). A
//! 429 pauses that chat for `retry_after`; 429s from several chats at once
//! mean the bot-wide flood limit, and pause everything.
//!
//! A pause (a chat's or the bot's) longer than `PAUSE_WAIT` is not waited
//! out: it comes back as `Transient { retry_after }`, so the deliverer
//! reschedules the entry and its worker and window slot serve other chats.
//!
//! Errors are classified, not acted on: the deliverer disables, pauses,
//! moves, retries or dead-letters. Refusals an admin can fix (no right to
//! post, a closed topic) are `Paused`; a bot blocked or kicked, a chat or
//! topic deleted are `Permanent`. Every error string is token-redacted.
//!
//! Live cards (`deliver::card`): a card is always a text message (the
//! picture as its link preview), edited with `editMessageText`; "message is
//! not modified" is success, a message Telegram no longer lets us edit is
//! `EditError::Gone`. A card's short message replies to it
//! (`reply_parameters`, sent even if the card is gone).

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use teloxide::payloads::{EditMessageTextSetters, SendMessageSetters, SendPhotoSetters};
use teloxide::requests::Requester;
use teloxide::types::{
    ChatId as TgChatId, InlineKeyboardButton, InlineKeyboardMarkup, InputFile, LinkPreviewOptions, MessageId,
    ParseMode, Recipient, ReplyParameters, ThreadId as TgThreadId,
};
use teloxide::{ApiError, Bot, RequestError};
use tokio::time::Instant;
use tracing::{debug, info, warn};

use super::render::{buttons, caption, carries_photo, html, http_url};
use crate::commands::keyboard::Keyboard;
use crate::commands::mute::Button;
use crate::config::TelegramConfig;
use crate::deliver::ratelimit::{LimitKey, Limits, Rate, RateLimiter};
use crate::deliver::{AlertExtras, BoxFuture, EditError, SendError, Sender, Sent};
use crate::errors::{error_chain, redact};
use crate::render::Message;
use crate::types::{ChannelName, ChatId, Destination, ItemId, Secret, ThreadId};

/// What Telegram paces on its own: a chat by id (its forum topics
/// included), or a public channel addressed by its username, whose numeric
/// id tminus need not know.
#[cfg_attr(feature = "testing", visibility::make(pub))]
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum ChatKey {
    /// A chat by numeric id.
    Id(ChatId),
    /// A public channel by @username.
    Channel(ChannelName),
}

impl From<ChatId> for ChatKey {
    fn from(chat: ChatId) -> ChatKey {
        ChatKey::Id(chat)
    }
}

impl fmt::Display for ChatKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChatKey::Id(c) => write!(f, "{}", c.0),
            ChatKey::Channel(name) => f.write_str(&name.handle()),
        }
    }
}

/// Negative ids are groups, supergroups and channels, which also have the
/// per-group limit; so do channels by username.
impl LimitKey for ChatKey {
    fn is_group(&self) -> bool {
        match self {
            ChatKey::Id(c) => c.0 < 0,
            ChatKey::Channel(_) => true,
        }
    }
}

/// Where one alert goes: the chat (by id or `@username`) and, for a forum
/// topic, its thread.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Target {
    key: ChatKey,
    thread: Option<TgThreadId>,
}

impl Target {
    fn of(dest: &Destination) -> Option<Target> {
        let thread = |t: ThreadId| Some(TgThreadId(MessageId(t.0)));
        match dest {
            Destination::Telegram(c) => Some(Target { key: ChatKey::Id(*c), thread: None }),
            Destination::TelegramTopic(c, t) => Some(Target { key: ChatKey::Id(*c), thread: thread(*t) }),
            Destination::TelegramChannel(name) => Some(Target { key: ChatKey::Channel(name.clone()), thread: None }),
            _ => None,
        }
    }

    fn recipient(&self) -> Recipient {
        match &self.key {
            ChatKey::Id(c) => Recipient::Id(TgChatId(c.0)),
            ChatKey::Channel(name) => Recipient::ChannelUsername(name.handle()),
        }
    }
}

/// Telegram's sending limits. `Default` is the documented platform
/// ceilings; tests and benchmarks scale them to a fake server's numbers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TelegramLimits {
    /// All chats together ("about 30 messages per second").
    pub global: Rate,
    /// One chat ("no more than one message per second").
    pub per_chat: Rate,
    /// A group or channel ("no more than 20 messages per minute").
    pub per_group: Rate,
    /// Fraction of spacing added under each ceiling, against jitter.
    pub headroom: f64,
    /// Sends carry `allow_paid_broadcast`, which is what lets `global`
    /// exceed the free 30/s (see `paid`).
    pub paid_broadcast: bool,
}

/// Telegram's ceiling for all chats together with `allow_paid_broadcast`.
pub(crate) const PAID_BROADCAST_PER_SEC: u32 = 1000;

impl Default for TelegramLimits {
    fn default() -> TelegramLimits {
        TelegramLimits {
            global: Rate::per_second(30),
            per_chat: Rate::per_second(1),
            per_group: Rate::per_minute(20),
            headroom: 0.05,
            paid_broadcast: false,
        }
    }
}

impl TelegramLimits {
    /// Paid broadcasting: every send carries `allow_paid_broadcast` and
    /// all chats together may get `PAID_BROADCAST_PER_SEC` messages a
    /// second. Telegram charges Stars for the messages above the free 30/s;
    /// the per-chat and per-group ceilings stay.
    pub(crate) fn paid() -> TelegramLimits {
        TelegramLimits {
            global: Rate::per_second(PAID_BROADCAST_PER_SEC),
            paid_broadcast: true,
            ..TelegramLimits::default()
        }
    }

    /// The limits `[telegram]` asks for.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn for_config(config: &TelegramConfig) -> TelegramLimits {
        if config.paid_broadcast { TelegramLimits::paid() } else { TelegramLimits::default() }
    }

    /// Every rate `factor` times faster, e.g. for a benchmark against a fake
    /// server enforcing 1000 messages/s.
    pub fn scaled(self, factor: f64) -> TelegramLimits {
        TelegramLimits {
            global: self.global.scaled(factor),
            per_chat: self.per_chat.scaled(factor),
            per_group: self.per_group.scaled(factor),
            headroom: self.headroom,
            paid_broadcast: self.paid_broadcast,
        }
    }

    fn limits(&self) -> Limits {
        Limits {
            global: Some(self.global),
            per_key: Some(self.per_chat),
            per_group: Some(self.per_group),
            headroom: self.headroom,
            ..Limits::default()
        }
    }
}

/// Why a sender could not be built. Never contains the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TelegramError {
    /// The sender needs a token.
    #[error("telegram.token is empty")]
    NoToken,
    /// The API base URL cannot be used.
    #[error("telegram.api_url {url:?} is not a usable URL: {reason}")]
    ApiUrl {
        /// The configured URL.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// reqwest could not build the client.
    #[error("telegram: cannot build the HTTP client: {0}")]
    Client(String),
}

/// 429s from at least this many different chats within `FLOOD_WINDOW`,
/// and from at least a tenth of a second's worth of the global rate, are
/// taken as the bot-wide flood limit rather than busy chats. A real global
/// flood refuses nearly every request; a few 429s from arrival jitter must
/// not stall a whole fan-out for `retry_after`.
const FLOOD_MIN_CHATS: usize = 5;
const FLOOD_WINDOW: Duration = Duration::from_secs(1);
/// The longest pause of a chat (or of every chat) a send waits out in
/// place; a longer one is handed back to the deliverer as a retry, so a
/// paused chat never holds a delivery worker or a window slot.
const PAUSE_WAIT: Duration = Duration::from_secs(1);
/// A wrong token must not disable every subscription: it is retried, slowly,
/// until someone fixes the config.
const BAD_TOKEN_RETRY: Duration = Duration::from_secs(300);

/// Sends alerts to Telegram chats. Cheap to share (`Arc`).
pub struct TelegramSender {
    bot: Bot,
    token: Secret,
    limiter: Arc<RateLimiter<ChatKey>>,
    /// Sends carry `allow_paid_broadcast`.
    paid_broadcast: bool,
    /// Recent 429s, to tell a bot-wide flood from a per-chat one.
    floods: Mutex<VecDeque<(Instant, ChatKey)>>,
}

/// Hand-written: teloxide's `Bot` prints its token in `Debug`.
impl fmt::Debug for TelegramSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TelegramSender").field("api_url", &self.bot.api_url().as_str()).finish_non_exhaustive()
    }
}

impl TelegramSender {
    /// A sender for the bot `token` talking to `api_url` (normally
    /// `https://api.telegram.org`), pacing itself to `limits`.
    pub fn new(token: &Secret, api_url: &str, limits: TelegramLimits) -> Result<TelegramSender, TelegramError> {
        if token.is_empty() {
            return Err(TelegramError::NoToken);
        }
        let url = reqwest::Url::parse(api_url)
            .map_err(|e| TelegramError::ApiUrl { url: api_url.to_string(), reason: e.to_string() })?;
        if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
            return Err(TelegramError::ApiUrl { url: api_url.to_string(), reason: "expected an http(s) URL".into() });
        }
        // teloxide's settings (5 s connect, 17 s total) without its panic on
        // a client that cannot be built.
        let client = teloxide::net::default_reqwest_settings()
            .build()
            .map_err(|e| TelegramError::Client(redact(&e.to_string(), &[token.expose()])))?;
        let bot = Bot::with_client(token.expose(), client).set_api_url(url);
        Ok(TelegramSender {
            bot,
            token: token.clone(),
            limiter: Arc::new(RateLimiter::new(limits.limits())),
            paid_broadcast: limits.paid_broadcast,
            floods: Mutex::new(VecDeque::new()),
        })
    }

    /// A sender from `[telegram]` with the real platform limits (the paid
    /// ones with `paid_broadcast`).
    pub(crate) fn from_config(config: &TelegramConfig) -> Result<TelegramSender, TelegramError> {
        TelegramSender::new(&config.token, &config.api_url, TelegramLimits::for_config(config))
    }

    /// The limiter this sender paces itself with; other code sending as the
    /// same bot (command replies) should share it.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn limiter(&self) -> Arc<RateLimiter<ChatKey>> {
        self.limiter.clone()
    }

    /// The configured bot, for other parts talking to the same API (the
    /// command front-end). Never log it: its `Debug` shows the token.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn bot(&self) -> &Bot {
        &self.bot
    }

    async fn deliver(&self, to: &Target, msg: &Message, extras: AlertExtras<'_>) -> Result<Sent, SendError> {
        let (mute, silent) = (extras.mute, extras.silent);
        let chat = &to.key;
        let keyboard = keyboard(msg, mute, extras.keyboard);
        // A live card is text with the picture as its preview: it grows
        // with the day past a caption's 1024 characters, and one kind of
        // message keeps its edits to one method (editMessageText).
        let image = msg.image.as_deref().filter(|_| carries_photo(msg) || extras.card).and_then(http_url);
        let photo = image.as_ref().filter(|_| !extras.card);
        if let Some(img) = photo
            && let Some(cap) = caption(msg)
        {
            self.wait_turn(chat).await?;
            match self.send_photo(to, img, &cap, keyboard.clone(), silent).await {
                Ok(sent) => return Ok(sent),
                // Telegram could not fetch or use the image: the alert still
                // goes out, as text with a link preview.
                Err(e) if is_image_problem(&e) => {
                    let reason = redact(&e.to_string(), &[self.token.expose()]);
                    debug!(%chat, %reason, "image refused; sending the alert as text");
                }
                Err(e) => return Err(self.failure(chat, "sendPhoto", &cap, e)),
            }
        }
        let text = html(msg);
        self.wait_turn(chat).await?;
        let mut req = self
            .bot
            .send_message(to.recipient(), text.as_str())
            .parse_mode(ParseMode::Html)
            .link_preview_options(preview(image))
            .allow_paid_broadcast(self.paid_broadcast);
        if let Some(thread) = to.thread {
            req = req.message_thread_id(thread);
        }
        if let Some(k) = keyboard {
            req = req.reply_markup(k);
        }
        if silent {
            req = req.disable_notification(true);
        }
        if let Some(id) = extras.reply_to.and_then(|id| id.parse().ok()) {
            req = req.reply_parameters(ReplyParameters::new(MessageId(id)).allow_sending_without_reply());
        }
        match req.await {
            Ok(m) => Ok(Sent { message_id: Some(m.id.0.to_string()) }),
            Err(e) => Err(self.failure(chat, "sendMessage", &text, e)),
        }
    }

    async fn send_photo(
        &self,
        to: &Target,
        image: &str,
        caption: &str,
        keyboard: Option<InlineKeyboardMarkup>,
        silent: bool,
    ) -> Result<Sent, RequestError> {
        let Ok(url) = reqwest::Url::parse(image) else {
            // `http_url` already parsed it; treat the impossible as an image
            // problem so the alert goes out as text.
            return Err(RequestError::Api(ApiError::WrongFileIdOrUrl));
        };
        let mut req = self
            .bot
            .send_photo(to.recipient(), InputFile::url(url))
            .caption(caption)
            .parse_mode(ParseMode::Html)
            .allow_paid_broadcast(self.paid_broadcast);
        if let Some(thread) = to.thread {
            req = req.message_thread_id(thread);
        }
        if let Some(k) = keyboard {
            req = req.reply_markup(k);
        }
        if silent {
            req = req.disable_notification(true);
        }
        let m = req.await?;
        Ok(Sent { message_id: Some(m.id.0.to_string()) })
    }

    /// Edits the live card `id` to show `msg` (editMessageText: cards are
    /// always text, see `deliver`). "Not modified" is done already; a
    /// message Telegram no longer lets us edit is `EditError::Gone`.
    async fn edit(&self, to: &Target, id: i32, msg: &Message, extras: AlertExtras<'_>) -> Result<(), EditError> {
        let chat = &to.key;
        let text = html(msg);
        self.wait_turn(chat).await?;
        let image = msg.image.as_deref().and_then(http_url);
        let mut req = self
            .bot
            .edit_message_text(to.recipient(), MessageId(id), text.as_str())
            .parse_mode(ParseMode::Html)
            .link_preview_options(preview(image));
        if let Some(k) = keyboard(msg, extras.mute, extras.keyboard) {
            req = req.reply_markup(k);
        }
        match req.await {
            Ok(_) => Ok(()),
            Err(RequestError::Api(e)) if description(&e).to_ascii_lowercase().contains("message is not modified") => {
                Ok(())
            }
            Err(RequestError::Api(e)) if is_gone(&e) => {
                Err(EditError::Gone { reason: redact(&description(&e), &[self.token.expose()]) })
            }
            Err(e) => Err(EditError::Failed(self.failure(chat, "editMessageText", &text, e))),
        }
    }

    /// Waits for the limiter's slot for `chat`; a pause longer than
    /// [`PAUSE_WAIT`] is handed back as a retry instead.
    async fn wait_turn(&self, chat: &ChatKey) -> Result<(), SendError> {
        match self.limiter.acquire_within(chat, PAUSE_WAIT).await {
            Ok(_) => Ok(()),
            Err(wait) => Err(SendError::Transient {
                reason: format!("Telegram: sends to {chat} paused for {:.1}s (flood control)", wait.as_secs_f64()),
                retry_after: Some(wait),
            }),
        }
    }

    /// Classifies `err`, applies what it means for pacing, and logs what
    /// only this layer can log (the rejected payload).
    fn failure(&self, chat: &ChatKey, method: &str, payload: &str, err: RequestError) -> SendError {
        let out = classify(&err, self.token.expose());
        match (&err, &out) {
            (RequestError::RetryAfter(_), SendError::Transient { retry_after: Some(wait), .. }) => {
                self.flooded(chat.clone(), *wait)
            }
            (_, SendError::Rejected { reason }) => {
                warn!(%chat, method, %reason, payload, "Telegram rejected the message; payload logged for the bug report");
            }
            _ => {}
        }
        out
    }

    /// A 429 for `chat`: pause that chat; if several chats got one just
    /// now, it is the bot-wide limit: pause everything.
    fn flooded(&self, chat: ChatKey, wait: Duration) {
        let now = Instant::now();
        let until = now + wait;
        self.limiter.pause_key(&chat, until);
        let mut recent = self.floods.lock().unwrap_or_else(|p| p.into_inner());
        while recent.front().is_some_and(|(t, _)| now.duration_since(*t) > FLOOD_WINDOW) {
            recent.pop_front();
        }
        recent.push_back((now, chat));
        let mut chats: Vec<&ChatKey> = recent.iter().map(|(_, c)| c).collect();
        chats.sort_unstable();
        chats.dedup();
        let per_second = self
            .limiter
            .limits()
            .global
            .map_or(0, |r| (f64::from(r.count) / r.per.as_secs_f64().max(f64::EPSILON)) as usize);
        if chats.len() >= FLOOD_MIN_CHATS.max(per_second / 10) {
            info!(
                chats = chats.len(),
                wait_s = wait.as_secs(),
                "Telegram flood control across chats; pausing all sends"
            );
            self.limiter.pause_all(until);
            recent.clear();
        }
    }
}

impl Sender for TelegramSender {
    fn send_alert<'a>(
        &'a self,
        dest: &'a Destination,
        msg: &'a Message,
        extras: AlertExtras<'a>,
    ) -> BoxFuture<'a, Result<Sent, SendError>> {
        Box::pin(async move {
            let Some(to) = Target::of(dest) else {
                return Err(SendError::Rejected { reason: format!("not a Telegram destination: {dest}") });
            };
            self.deliver(&to, msg, extras).await
        })
    }

    fn can_edit(&self) -> bool {
        true
    }

    fn edit_alert<'a>(
        &'a self,
        dest: &'a Destination,
        message_id: &'a str,
        msg: &'a Message,
        extras: AlertExtras<'a>,
    ) -> BoxFuture<'a, Result<(), EditError>> {
        Box::pin(async move {
            let (Some(to), Ok(id)) = (Target::of(dest), message_id.parse()) else {
                return Err(EditError::Gone { reason: format!("not a Telegram message: {dest} {message_id}") });
            };
            self.edit(&to, id, msg, extras).await
        })
    }
}

/// The text message's preview: the item's picture, large, above the text.
fn preview(image: Option<String>) -> LinkPreviewOptions {
    match image {
        Some(img) => LinkPreviewOptions {
            is_disabled: false,
            url: Some(img),
            prefer_small_media: false,
            prefer_large_media: true,
            show_above_text: true,
        },
        None => NO_PREVIEW,
    }
}

/// The message to edit is gone or can no longer be edited.
fn is_gone(e: &ApiError) -> bool {
    if matches!(e, ApiError::MessageToEditNotFound | ApiError::MessageCantBeEdited | ApiError::MessageIdInvalid) {
        return true;
    }
    let d = description(e).to_ascii_lowercase();
    ["message to edit not found", "message can't be edited", "there is no text in the message to edit"]
        .iter()
        .any(|p| d.contains(p))
}

/// A message without a link preview.
pub(super) const NO_PREVIEW: LinkPreviewOptions = LinkPreviewOptions {
    is_disabled: true,
    url: None,
    prefer_small_media: false,
    prefer_large_media: false,
    show_above_text: false,
};

/// Neutral keys as Telegram inline buttons.
pub(super) fn inline_keyboard(keys: &Keyboard) -> InlineKeyboardMarkup {
    InlineKeyboardMarkup::new(
        keys.iter()
            .map(|row| row.iter().map(|k| InlineKeyboardButton::callback(&k.label, &k.data)).collect::<Vec<_>>()),
    )
}

/// A failed request in words, without the token.
pub(super) fn reason(e: &RequestError, token: &str) -> String {
    crate::errors::redact(&classify(e, token).to_string(), &[token])
}

/// The message's links (Watch live, Details, …) as one row of URL buttons.
pub(super) fn link_row(msg: &Message) -> Vec<InlineKeyboardButton> {
    buttons(msg)
        .into_iter()
        .filter_map(|(label, url)| reqwest::Url::parse(&url).ok().map(|u| InlineKeyboardButton::url(label, u)))
        .collect()
}

/// The inline keyboard: one row with the buttons that have URLs, a row
/// with the Mute button when the chat may mute the item, then `keys` (a
/// digest's page buttons).
fn keyboard(msg: &Message, mute: Option<&ItemId>, keys: Option<&Keyboard>) -> Option<InlineKeyboardMarkup> {
    let mut rows: Vec<Vec<InlineKeyboardButton>> = vec![link_row(msg)];
    rows.extend(mute.map(|item| vec![callback_button(&Button::Mute(item.clone()))]));
    rows.extend(keys.map(|k| inline_keyboard(k).inline_keyboard).unwrap_or_default());
    rows.retain(|r| !r.is_empty());
    (!rows.is_empty()).then(|| InlineKeyboardMarkup::new(rows))
}

/// A button that calls back with `button`'s data.
pub(crate) fn callback_button(button: &Button) -> InlineKeyboardButton {
    InlineKeyboardButton::callback(button.label(), button.data())
}

/// Telegram's own words for an error (teloxide wraps unknown ones).
fn description(e: &ApiError) -> String {
    match e {
        ApiError::Unknown(s) | ApiError::CantParseEntities(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Telegram could not fetch or decode the photo URL: worth a text retry.
fn is_image_problem(err: &RequestError) -> bool {
    let RequestError::Api(e) = err else { return false };
    match e {
        ApiError::WrongFileIdOrUrl
        | ApiError::FailedToGetUrlContent
        | ApiError::ImageProcessFailed
        | ApiError::PhotoAsInputFileRequired
        | ApiError::WrongFileId => true,
        other => {
            let d = description(other).to_ascii_lowercase();
            [
                "wrong type of the web page content",
                "failed to get http url content",
                "image_process_failed",
                "photo_invalid",
                "wrong file identifier",
                "photo_invalid_dimensions",
            ]
            .iter()
            .any(|p| d.contains(p))
        }
    }
}

/// What a failed request means for delivery. Every reason is redacted of
/// `token`.
#[cfg_attr(feature = "testing", visibility::make(pub))]
pub(crate) fn classify(err: &RequestError, token: &str) -> SendError {
    let clean = |s: &str| redact(s, &[token]);
    match err {
        RequestError::RetryAfter(secs) => {
            let wait = Duration::from_secs(u64::from(secs.seconds()).max(1));
            SendError::Transient {
                reason: format!("Telegram flood control: retry after {}s", wait.as_secs()),
                retry_after: Some(wait),
            }
        }
        // A group that became a supergroup: only plain groups migrate (forum
        // topics live in supergroups), so the new place is a plain chat.
        RequestError::MigrateToChatId(to) => SendError::Moved { to: Destination::Telegram(ChatId(to.0)) },
        RequestError::Api(e) => classify_api(e, &clean(&description(e))),
        RequestError::Network(e) => {
            let what = if e.is_timeout() {
                "timeout"
            } else if e.is_connect() {
                "cannot connect"
            } else {
                "network error"
            };
            SendError::Transient {
                reason: format!("Telegram {what}: {}", clean(&error_chain(e.as_ref()))),
                retry_after: None,
            }
        }
        RequestError::InvalidJson { raw, .. } => {
            // Proxies and outages answer with HTML pages; keep the log short.
            let head: String = raw.chars().take(200).collect();
            SendError::Transient {
                reason: format!("Telegram sent an unreadable answer: {}", clean(&head)),
                retry_after: None,
            }
        }
        RequestError::Io(e) => {
            SendError::Transient { reason: format!("Telegram I/O error: {}", clean(&e.to_string())), retry_after: None }
        }
    }
}

fn classify_api(e: &ApiError, reason: &str) -> SendError {
    let permanent = || SendError::Permanent { reason: format!("Telegram: {reason}") };
    let rejected = || SendError::Rejected { reason: format!("Telegram: {reason}") };
    match e {
        ApiError::BotBlocked
        | ApiError::BotKicked
        | ApiError::BotKickedFromSupergroup
        | ApiError::BotKickedFromChannel
        | ApiError::UserDeactivated
        | ApiError::CantInitiateConversation
        | ApiError::CantTalkWithBots
        | ApiError::ChatNotFound
        | ApiError::GroupDeactivated => permanent(),
        ApiError::NotEnoughRightsToPostMessages => SendError::Paused { reason: format!("Telegram: {reason}") },
        ApiError::InvalidToken => refused_token(reason),
        ApiError::CantParseEntities(_)
        | ApiError::MessageIsTooLong
        | ApiError::MessageTextIsEmpty
        | ApiError::ButtonUrlInvalid
        | ApiError::ButtonDataInvalid
        | ApiError::TextButtonsAreUnallowed
        | ApiError::WrongHttpUrl
        | ApiError::CantParseUrl
        | ApiError::RequestEntityTooLarge => rejected(),
        _ => classify_description(reason),
    }
}

/// An error teloxide has no variant for, classified by Telegram's
/// description (`reason`).
fn classify_description(reason: &str) -> SendError {
    let d = reason.to_ascii_lowercase();
    // An admin can give the rights back or reopen the topic.
    const FIXABLE: &[&str] = &[
        "not enough rights to send",
        "have no rights to send",
        "need administrator rights",
        "chat_write_forbidden",
        "topic_closed",
    ];
    const GONE: &[&str] = &[
        "chat not found",
        "chat_restricted",
        "group chat was deactivated",
        "group is deactivated",
        "user is deactivated",
        "peer_id_invalid",
        "chat was deleted",
        // A forum topic deleted, or a topic id on a group without
        // topics: only that topic's subscriptions stop.
        "message thread not found",
        "topic_deleted",
    ];
    let told = || format!("Telegram: {reason}");
    if FIXABLE.iter().any(|g| d.contains(g)) {
        SendError::Paused { reason: told() }
    } else if d.starts_with("forbidden") || GONE.iter().any(|g| d.contains(g)) {
        SendError::Permanent { reason: told() }
    } else if d.starts_with("unauthorized") {
        refused_token(reason)
    } else if d.starts_with("bad request") {
        SendError::Rejected { reason: told() }
    } else {
        // 5xx ("Internal Server Error", "Bad Gateway"), "Too Many
        // Requests" without parameters, and what we do not know yet.
        SendError::Transient { reason: told(), retry_after: None }
    }
}

/// Telegram refused the bot token: retried slowly ([`BAD_TOKEN_RETRY`])
/// until someone fixes `telegram.token`, never disabling a subscription.
fn refused_token(reason: &str) -> SendError {
    SendError::Transient {
        reason: format!("Telegram refuses the bot token ({reason}); check telegram.token"),
        retry_after: Some(BAD_TOKEN_RETRY),
    }
}

#[cfg(test)]
mod tests {
    use teloxide::types::Seconds;

    use super::*;

    const TOKEN: &str = "123456789:AAE-secret_Token";

    #[tokio::test]
    async fn network_errors_do_not_leak_the_token() {
        // Port 9 on localhost: nothing listens, the connection is refused.
        let client = reqwest::Client::new();
        let e = client.post(format!("http://127.0.0.1:9/bot{TOKEN}/SendMessage")).send().await.unwrap_err();
        let raw = error_chain(&e);
        assert!(raw.contains("secret"), "precondition: reqwest puts the URL in its errors: {raw}");
        let err = RequestError::Network(Arc::new(e));
        let out = classify(&err, TOKEN);
        assert!(matches!(out, SendError::Transient { retry_after: None, .. }), "{out:?}");
        assert!(!out.to_string().contains("secret"), "{out}");
    }

    #[test]
    fn errors_are_classified() {
        let api = |e: ApiError| classify(&RequestError::Api(e), TOKEN);
        let unknown = |s: &str| api(ApiError::Unknown(s.into()));
        for e in
            [ApiError::BotBlocked, ApiError::BotKickedFromSupergroup, ApiError::ChatNotFound, ApiError::UserDeactivated]
        {
            assert!(matches!(api(e.clone()), SendError::Permanent { .. }), "{e:?}");
        }
        for d in [
            "Forbidden: bot was kicked from the group chat",
            "Forbidden: bot is not a member of the channel chat",
            "Bad Request: chat not found",
            "Bad Request: message thread not found",
        ] {
            assert!(matches!(unknown(d), SendError::Permanent { .. }), "{d}");
        }
        for d in [
            "Bad Request: not enough rights to send text messages to the chat",
            "Forbidden: CHAT_WRITE_FORBIDDEN",
            "Bad Request: TOPIC_CLOSED",
        ] {
            assert!(matches!(unknown(d), SendError::Paused { .. }), "{d}");
        }
        assert!(matches!(api(ApiError::NotEnoughRightsToPostMessages), SendError::Paused { .. }));
        let e = api(ApiError::CantParseEntities("Bad Request: can't parse entities: Unsupported start tag".into()));
        assert!(matches!(&e, SendError::Rejected { reason } if reason.contains("Unsupported start tag")), "{e:?}");
        assert!(matches!(api(ApiError::MessageIsTooLong), SendError::Rejected { .. }));
        assert!(matches!(unknown("Bad Request: BUTTON_URL_INVALID"), SendError::Rejected { .. }));
        assert!(matches!(unknown("Internal Server Error"), SendError::Transient { retry_after: None, .. }));
        assert!(matches!(unknown("Bad Gateway"), SendError::Transient { .. }));
        assert!(
            matches!(api(ApiError::InvalidToken), SendError::Transient { retry_after: Some(_), .. }),
            "never disables subs"
        );
        assert_eq!(
            classify(&RequestError::RetryAfter(Seconds::from_seconds(7)), TOKEN),
            SendError::Transient {
                reason: "Telegram flood control: retry after 7s".into(),
                retry_after: Some(Duration::from_secs(7))
            }
        );
        assert_eq!(
            classify(&RequestError::MigrateToChatId(TgChatId(-1001234)), TOKEN),
            SendError::Moved { to: Destination::Telegram(ChatId(-1001234)) }
        );
        let raw = format!("<html>502 for /bot{TOKEN}/x</html>");
        let json = RequestError::InvalidJson {
            source: Arc::new(serde_json::from_str::<i32>("<").unwrap_err()),
            raw: raw.into_boxed_str(),
        };
        let out = classify(&json, TOKEN);
        assert!(matches!(out, SendError::Transient { .. }) && !out.to_string().contains("secret"), "{out}");
    }

    #[tokio::test]
    async fn a_flood_across_chats_pauses_everything() {
        let s = TelegramSender::new(&Secret::new(TOKEN), "http://127.0.0.1:1", TelegramLimits::default()).unwrap();
        let limiter = s.limiter();
        for chat in 1..=4 {
            s.flooded(ChatId(chat).into(), Duration::from_secs(3));
            assert!(limiter.paused_until(&ChatId(chat).into()).is_some());
        }
        assert!(limiter.paused_until(&ChatId(99).into()).is_none(), "a few 429s pause only their chats");
        s.flooded(ChatId(5).into(), Duration::from_secs(3));
        assert!(limiter.paused_until(&ChatId(99).into()).is_some(), "many chats at once: the bot-wide limit");

        // At 1000/s it takes a hundred chats to call it a flood.
        let fast = TelegramSender::new(
            &Secret::new(TOKEN),
            "http://127.0.0.1:1",
            TelegramLimits::default().scaled(1000.0 / 30.0),
        )
        .unwrap();
        for chat in 1..=20 {
            fast.flooded(ChatId(chat).into(), Duration::from_secs(1));
        }
        assert!(fast.limiter().paused_until(&ChatId(99).into()).is_none());
    }

    #[test]
    fn image_problems_fall_back_to_text() {
        assert!(is_image_problem(&RequestError::Api(ApiError::FailedToGetUrlContent)));
        assert!(is_image_problem(&RequestError::Api(ApiError::Unknown(
            "Bad Request: wrong type of the web page content".into()
        ))));
        assert!(!is_image_problem(&RequestError::Api(ApiError::BotBlocked)));
    }

    #[test]
    fn construction_checks_and_hides_the_token() {
        let t = Secret::new(TOKEN);
        assert_eq!(
            TelegramSender::new(&Secret::default(), "https://api.telegram.org", TelegramLimits::default()).unwrap_err(),
            TelegramError::NoToken
        );
        assert!(matches!(
            TelegramSender::new(&t, "api.telegram.org", TelegramLimits::default()),
            Err(TelegramError::ApiUrl { .. })
        ));
        let s = TelegramSender::new(&t, "http://127.0.0.1:8081", TelegramLimits::default()).unwrap();
        assert!(!format!("{s:?}").contains("secret"));
        assert_eq!(TelegramLimits::default().scaled(1000.0 / 30.0).global, Rate::per_second(1000));
        assert!(ChatKey::from(ChatId(-5)).is_group() && !ChatKey::from(ChatId(5)).is_group());
        assert!(ChatKey::Channel(ChannelName::parse("@spacenews").unwrap()).is_group());
    }
}
