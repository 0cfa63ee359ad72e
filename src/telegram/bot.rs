//! The Telegram command front-end: long polling with teloxide's
//! `Dispatcher`, one thin handler per update kind.
//!
//! - `message` / `channel_post` with a command → `commands::split_command`
//!   → `commands::parse` → who may manage the chat → `commands::execute` →
//!   the reply, as plain text, to the same chat (a reply to the command in
//!   groups). Commands addressed to another bot (`/next@otherbot`) are
//!   ignored; so are unknown commands in groups and channels unless they
//!   name this bot.
//! - Flooding: each command is judged at arrival by a
//!   [`FloodGuard`] (per chat, and per sender in groups): a short burst is
//!   answered, then one "slow down", then nothing until the burst passes.
//!   Ignored commands are not run and never reach the rate limiter. Replies
//!   are sent from their own tasks, so the chat's next update is judged
//!   when it arrives, not after the previous reply went through the
//!   limiter; commands still run one after another per chat.
//! - Who may manage a chat: anyone in a private chat; in groups and
//!   supergroups the chat's administrators (`getChatMember`, cached for
//!   [`ADMIN_CACHE_TTL`]; an anonymous admin posting as the group counts);
//!   in channels whoever posts, since only admins can.
//! - `my_chat_member`: the bot removed, kicked or blocked → every
//!   subscription of the chat is disabled; added again → re-enabled, and a
//!   pause of the chat (lost rights, see `deliver`) ends; so does one on
//!   any command from the chat.
//! - `callback_query` (a Mute/Unmute button under an alert) →
//!   `commands::mute::press` for the chat the message is in, with the same
//!   admin rule as commands (channels too: any reader can press there) →
//!   `answerCallbackQuery` with a short toast, and `editMessageReplyMarkup`
//!   swapping the pressed button for its opposite. Settings buttons go to
//!   `commands::settings::press` (the keyboard is refreshed in place), `/next`
//!   buttons to `commands::next::press` (the message is edited in place by
//!   `telegram::pages`; paging is for everyone, so no admin check).
//! - `/next` is answered with its first page and the page's buttons
//!   (`commands::next::open`), `/settings` with the settings keyboard.
//! - `/manage @channel` in a private chat makes its later commands and
//!   buttons act for that channel (`manage`, rights re-checked on each);
//!   chats seen to be channels are remembered, so their alerts carry no
//!   Mute button.
//!
//! Start-up: `getMe` (retried with backoff until it answers), `deleteWebhook`
//! (long polling and a webhook exclude each other), `setMyCommands` from
//! `commands::COMMANDS`. Then the dispatcher polls until the shutdown
//! token is cancelled; stopping confirms the updates already handled and
//! waits for running handlers, within [`STOP_BUDGET`].
//!
//! Never logs the bot token: every error string goes through
//! `errors::redact` (via [`classify`]), and teloxide's own error loggers are
//! replaced because they print errors with the request URL.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use teloxide::Bot;
use teloxide::RequestError;
use teloxide::dispatching::{DefaultKey, Dispatcher, UpdateFilterExt, UpdateHandler};
use teloxide::dptree;
use teloxide::payloads::{AnswerCallbackQuerySetters, EditMessageReplyMarkupSetters, SendMessageSetters};
use teloxide::requests::Requester;
use teloxide::types::{
    BotCommand, CallbackQuery, Chat, ChatMemberKind, ChatMemberUpdated, InlineKeyboardButtonKind, InlineKeyboardMarkup,
    Me, Message, ReplyParameters, Update, UserId,
};
use teloxide::update_listeners::Polling;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, error, info, warn};

use crate::backoff::Backoff;
use crate::commands::flood::{FloodGuard, FloodLimits, SLOW_DOWN, Verdict};
use crate::commands::mute::{self, Button};
use crate::commands::{self, ChatCommand, CommandContext, CommandError, SharedServices, next, settings};
use crate::deliver::SendError;
use crate::deliver::ratelimit::RateLimiter;
use crate::telegram::pages;
use crate::telegram::sender::{ChatKey, callback_button, classify, inline_keyboard, reason};
use crate::types::{ChatId, Destination, ThreadId};

mod manage;

/// Long-polling timeout (`getUpdates?timeout=`); below the HTTP client's
/// 17 s request timeout.
pub(crate) const POLL_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a stop may take: confirming handled updates and finishing the
/// handlers already running. Inside the binary's 5 s shutdown grace.
pub(crate) const STOP_BUDGET: Duration = Duration::from_secs(4);
/// How long a `getChatMember` answer is trusted.
pub(crate) const ADMIN_CACHE_TTL: Duration = Duration::from_secs(60);
/// Most (chat, user) admin answers remembered.
pub(crate) const ADMIN_CACHE_MAX: usize = 1024;
/// Wait between retries after network errors: 1 s, 2 s, 4 s … 60 s. No
/// jitter: one bot, one connection.
const RETRY: Backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
/// Telegram's limit for one message, in UTF-16 code units.
#[cfg_attr(feature = "testing", visibility::make(pub))]
pub(crate) const MAX_MESSAGE_LEN: usize = 4096;
/// A reply that got a 429 is retried once when the wait is at most this.
const REPLY_RETRY_MAX: Duration = Duration::from_secs(10);

/// The reply when the store fails under a command.
pub(crate) const SORRY: &str = "Something went wrong on my side; please try again later.";
/// The reply to plain text in a private chat.
#[cfg_attr(feature = "testing", visibility::make(pub))]
pub(crate) const ONLY_COMMANDS: &str = "I understand commands only. Send /help for the list.";

/// The Telegram command bot. Build it with the `Bot` the sender uses
/// (`TelegramSender::bot`) and share the sender's rate limiter, so command
/// replies and alerts stay within the same Telegram limits together.
#[cfg_attr(feature = "testing", visibility::make(pub))]
pub(crate) struct CommandBot {
    bot: Bot,
    services: SharedServices,
    limiter: Option<Arc<RateLimiter<ChatKey>>>,
    flood: FloodLimits,
}

impl CommandBot {
    /// `bot` must already point at the configured `api_url`.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn new(bot: Bot, services: SharedServices) -> CommandBot {
        CommandBot { bot, services, limiter: None, flood: FloodLimits::default() }
    }

    /// Paces replies with `limiter` (the alert sender's).
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn with_limiter(mut self, limiter: Arc<RateLimiter<ChatKey>>) -> CommandBot {
        self.limiter = Some(limiter);
        self
    }

    /// How many commands a chat may send at once (default:
    /// [`FloodLimits::default`]).
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn with_flood_limits(mut self, flood: FloodLimits) -> CommandBot {
        self.flood = flood;
        self
    }

    /// Runs until `stop` is cancelled. Network and API errors are logged
    /// and retried with backoff; this never returns an error and never
    /// panics on input.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) async fn run(self, stop: CancellationToken) {
        let CommandBot { bot, services, limiter, flood } = self;
        let token = bot.token().to_string();
        tokio::select! {
            () = start_up(&bot) => {}
            _ = stop.cancelled() => {
                info!("Telegram bot stopped before it started");
                return;
            }
        }

        let ctx = Arc::new(Handlers::new(services, limiter, flood));
        let mut failures = 0u32;
        loop {
            let mut dispatcher = dispatcher(&bot, &ctx);
            let shutdown = dispatcher.shutdown_token();
            let listener = Polling::builder(bot.clone()).timeout(POLL_TIMEOUT).backoff_strategy(backoff).build();
            let listener_errors = {
                let token = token.clone();
                Arc::new(move |e: RequestError| {
                    let reason = reason(&e, &token);
                    async move { warn!(%reason, "Telegram getUpdates failed; retrying with backoff") }
                })
            };
            let dispatch = dispatcher.try_dispatch_with_listener(listener, listener_errors);
            tokio::pin!(dispatch);
            tokio::select! {
                result = &mut dispatch => match result {
                    Ok(()) => {
                        info!("Telegram polling ended");
                        ctx.finish_replies().await;
                        return;
                    }
                    // The dispatcher's own getMe failed: the network is
                    // down again; wait and start over.
                    Err(e) => {
                        let wait = retry_wait(&e, &token, failures);
                        failures = failures.saturating_add(1);
                        warn!(reason = %reason(&e, &token), retry_in_s = wait.as_secs(), "Telegram polling could not start");
                        tokio::select! {
                            _ = tokio::time::sleep(wait) => continue,
                            _ = stop.cancelled() => return,
                        }
                    }
                },
                _ = stop.cancelled() => {
                    // `Err` means the dispatcher is not running yet (it is
                    // in its getMe): dropping it is the whole stop.
                    if shutdown.shutdown().is_ok() && tokio::time::timeout(STOP_BUDGET, dispatch).await.is_err() {
                        warn!("Telegram polling did not stop within {}s; leaving it", STOP_BUDGET.as_secs());
                    }
                    ctx.finish_replies().await;
                    info!("Telegram bot stopped");
                    return;
                }
            }
        }
    }
}

/// A dispatcher routing updates through [`schema`] to `ctx`; updates no
/// branch takes are only logged.
fn dispatcher(bot: &Bot, ctx: &Arc<Handlers>) -> Dispatcher<Bot, Infallible, DefaultKey> {
    Dispatcher::builder(bot.clone(), schema())
        .dependencies(dptree::deps![ctx.clone()])
        .default_handler(|update: Arc<Update>| async move {
            debug!(update = update.id.0, "Telegram update ignored");
        })
        .build()
}

/// `getMe` until it answers (proves the token and the connection), then
/// `deleteWebhook` and `setMyCommands`, whose failures are only logged.
async fn start_up(bot: &Bot) {
    let token = bot.token();
    let mut failures = 0u32;
    let me = loop {
        match bot.get_me().await {
            Ok(me) => break me,
            Err(e) => {
                let wait = retry_wait(&e, token, failures);
                failures = failures.saturating_add(1);
                warn!(reason = %reason(&e, token), retry_in_s = wait.as_secs(), "Telegram getMe failed; will retry");
                tokio::time::sleep(wait).await;
            }
        }
    };
    let username = me.user.username.as_deref().unwrap_or_default();
    info!(bot = %username, "Telegram bot connected; listening for commands");
    if let Err(e) = bot.delete_webhook().await {
        debug!(reason = %reason(&e, token), "deleteWebhook failed; polling will say if a webhook is in the way");
    }
    let list: Vec<BotCommand> =
        commands::COMMANDS.iter().map(|(name, what, _)| BotCommand::new(*name, *what)).collect();
    if let Err(e) = bot.set_my_commands(list).await {
        warn!(reason = %reason(&e, token), "could not register the command list with Telegram (setMyCommands)");
    }
}

/// [`RETRY`] after `failures` earlier failures (teloxide's error count,
/// which starts at 0).
pub(crate) fn backoff(failures: u32) -> Duration {
    RETRY.delay(failures.saturating_add(1))
}

/// The wait Telegram asked for (429, refused token), else [`backoff`].
fn retry_wait(e: &RequestError, token: &str, failures: u32) -> Duration {
    match classify(e, token) {
        SendError::Transient { retry_after: Some(wait), .. } => wait,
        _ => backoff(failures),
    }
}

fn schema() -> UpdateHandler<Infallible> {
    dptree::entry()
        .branch(Update::filter_message().endpoint(on_message))
        .branch(Update::filter_channel_post().endpoint(on_message))
        .branch(Update::filter_my_chat_member().endpoint(on_my_chat_member))
        .branch(Update::filter_callback_query().endpoint(on_callback))
}

// Each handler runs in its own task: a panic there is logged and the
// dispatcher (whose per-chat workers would die with it) goes on.

async fn on_message(bot: Bot, me: Me, msg: Message, ctx: Arc<Handlers>) -> Result<(), Infallible> {
    let chat = msg.chat.id.0;
    if let Err(e) = tokio::spawn(async move { ctx.command(&bot, &me, &msg).await }).await {
        error!(chat, error = %e, "Telegram command handler failed");
    }
    Ok(())
}

async fn on_my_chat_member(update: ChatMemberUpdated, ctx: Arc<Handlers>) -> Result<(), Infallible> {
    let chat = update.chat.id.0;
    if let Err(e) = tokio::spawn(async move { ctx.membership(&update) }).await {
        error!(chat, error = %e, "Telegram membership handler failed");
    }
    Ok(())
}

async fn on_callback(bot: Bot, query: CallbackQuery, ctx: Arc<Handlers>) -> Result<(), Infallible> {
    let id = query.id.0.clone();
    if let Err(e) = tokio::spawn(async move { ctx.press(&bot, &query).await }).await {
        error!(query = %id, error = %e, "Telegram button handler failed");
    }
    Ok(())
}

/// Who is talking, as far as permissions go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    Private,
    Group,
    Channel,
}

impl Place {
    fn of(msg: &Message) -> Place {
        if msg.chat.is_private() {
            Place::Private
        } else if msg.chat.is_channel() {
            Place::Channel
        } else {
            Place::Group
        }
    }
}

struct Handlers {
    services: SharedServices,
    limiter: Option<Arc<RateLimiter<ChatKey>>>,
    admins: AdminCache,
    flood: Mutex<FloodGuard<Sender>>,
    /// Replies being sent, waited for at stop.
    replies: TaskTracker,
}

impl Handlers {
    fn new(services: SharedServices, limiter: Option<Arc<RateLimiter<ChatKey>>>, flood: FloodLimits) -> Handlers {
        Handlers {
            services,
            limiter,
            admins: AdminCache::new(ADMIN_CACHE_TTL, ADMIN_CACHE_MAX),
            flood: Mutex::new(FloodGuard::new(flood)),
            replies: TaskTracker::new(),
        }
    }

    /// At stop: takes no more replies and waits up to [`STOP_BUDGET`] for
    /// those still sending.
    async fn finish_replies(&self) {
        self.replies.close();
        if tokio::time::timeout(STOP_BUDGET, self.replies.wait()).await.is_err() {
            warn!("command replies still sending after {}s; leaving them", STOP_BUDGET.as_secs());
        }
    }
}

/// What a pressed button was, once handled (before anything is sent).
enum Press {
    Mute(Result<mute::Pressed, crate::store::StoreError>),
    Settings(Result<settings::SettingsPressed, crate::store::StoreError>),
    Next(Result<next::NextPressed, crate::store::StoreError>),
}

/// Who a command counts against for flooding.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Sender {
    Chat(i64),
    Member(i64, u64),
}

impl Handlers {
    async fn command(&self, bot: &Bot, me: &Me, msg: &Message) {
        let Some(text) = msg.text() else { return };
        let chat = msg.chat.id.0;
        let place = Place::of(msg);
        let Some((name, args)) = commands::split_command(text, me.user.username.as_deref()) else {
            if place == Place::Private && !text.trim_start().starts_with('/') && self.admit(bot, msg) {
                self.reply(bot, msg, ONLY_COMMANDS);
            }
            return;
        };
        self.remember_channel(&msg.chat);
        if name == "manage" {
            if self.admit(bot, msg) {
                let text = self.manage(bot, me.user.id, msg, args).await;
                self.reply(bot, msg, &text);
            }
            return;
        }
        let parsed = commands::parse(&name, args);
        // In a group `/foo` may be meant for another bot: answer only
        // when it names this one.
        if matches!(parsed, Err(CommandError::Unknown(_))) && place != Place::Private && !names_a_bot(text) {
            debug!(chat, command = %name, "unknown command not addressed to this bot; ignored");
            return;
        }
        if !self.admit(bot, msg) {
            return;
        }
        let cmd = match parsed {
            Ok(cmd) => cmd,
            Err(e) => {
                self.reply(bot, msg, &e.to_string());
                return;
            }
        };
        let can_manage = match place {
            Place::Private | Place::Channel => true,
            Place::Group if !cmd.changes_settings() => false,
            Place::Group => match self.is_admin(bot, msg).await {
                Ok(admin) => admin,
                Err(reason) => {
                    warn!(chat, %reason, "could not check the sender's admin status (getChatMember)");
                    self.reply(bot, msg, SORRY);
                    return;
                }
            },
        };
        let (destination, lead) = match self.target(bot, msg, &cmd).await {
            Ok(target) => target,
            Err(refusal) => {
                self.reply(bot, msg, &refusal);
                return;
            }
        };
        debug!(chat, command = %name, can_manage, %destination, "Telegram command");
        let context = CommandContext { destination, can_manage, now: Utc::now() };
        self.run(bot, msg, &name, cmd, &context, lead.as_deref());
    }

    /// Runs `cmd` for `context` and replies to `msg`; `lead` names the
    /// managed chat it acted for.
    fn run(
        &self,
        bot: &Bot,
        msg: &Message,
        name: &str,
        cmd: ChatCommand,
        context: &CommandContext,
        lead: Option<&str>,
    ) {
        let chat = msg.chat.id.0;
        let wants_keyboard = cmd == ChatCommand::Settings;
        let result = self.services.with(|services| {
            match cmd {
                // A page with its buttons; a name nobody knows: the hint.
                ChatCommand::Next(query) => next::open(&query, context, services).map(|view| match view {
                    Ok(view) => {
                        let (text, _, markup) = pages::render(&view);
                        (text, Some(markup).filter(|m| !m.inline_keyboard.is_empty()))
                    }
                    Err(problem) => (problem, None),
                }),
                cmd => commands::execute(cmd, context, services).and_then(|reply| {
                    let keys = if wants_keyboard { Some(settings::keyboard(context, services)?) } else { None };
                    Ok((reply.text, keys.as_ref().map(inline_keyboard)))
                }),
            }
        });
        match result {
            Ok((text, keys)) => {
                let text = match lead {
                    Some(label) => commands::manage::for_chat(label, &text),
                    None => text,
                };
                self.reply_with(bot, msg, &text, keys)
            }
            Err(e) => {
                error!(chat, command = %name, error = %e, "store error while running a Telegram command");
                self.reply(bot, msg, SORRY);
            }
        }
    }

    /// Whether `msg` is to be handled: yes within a burst; past it, the
    /// first gets a "slow down" and the rest nothing, until it passes.
    fn admit(&self, bot: &Bot, msg: &Message) -> bool {
        let chat = msg.chat.id.0;
        let mut keys = vec![Sender::Chat(chat)];
        if Place::of(msg) == Place::Group
            && let Some(user) = msg.from.as_ref()
        {
            keys.push(Sender::Member(chat, user.id.0));
        }
        let verdict = self.flood.lock().unwrap_or_else(|e| e.into_inner()).check(&keys, Instant::now());
        match verdict {
            Verdict::Answer => true,
            Verdict::SlowDown => {
                info!(chat, "command flood; asking to slow down and ignoring commands until it passes");
                self.reply(bot, msg, SLOW_DOWN);
                false
            }
            Verdict::Ignore => {
                debug!(chat, "command flood; command ignored");
                false
            }
        }
    }

    /// Whether the sender of `msg` administers its group (cached).
    async fn is_admin(&self, bot: &Bot, msg: &Message) -> Result<bool, String> {
        // "Remain anonymous" admins post as the group itself.
        if msg.sender_chat.as_ref().is_some_and(|c| c.id == msg.chat.id) {
            return Ok(true);
        }
        let Some(user) = msg.from.as_ref() else { return Ok(false) };
        self.administers(bot, msg.chat.id, user.id).await
    }

    /// Whether `user` administers `chat` (cached).
    async fn administers(&self, bot: &Bot, chat: teloxide::types::ChatId, user: UserId) -> Result<bool, String> {
        if let Some(admin) = self.admins.get(chat.0, user.0) {
            return Ok(admin);
        }
        let member = bot.get_chat_member(chat, user).await.map_err(|e| reason(&e, bot.token()))?;
        let admin = member.kind.is_privileged();
        self.admins.put(chat.0, user.0, admin);
        Ok(admin)
    }

    /// A button was pressed: under an alert (Mute/Unmute) or under
    /// `/settings`. Always answered, so the presser's client stops its
    /// spinner, whatever the data says.
    async fn press(&self, bot: &Bot, query: &CallbackQuery) {
        let data = query.data.as_deref().unwrap_or_default();
        let Some(message) = query.message.as_ref() else {
            self.answer(bot, query, "This button only works under an alert.").await;
            return;
        };
        let chat = message.chat();
        let Some(can_manage) = self.may_manage(bot, query, chat, data).await else { return };
        let destination = match self.press_target(bot, query, message, data).await {
            Ok(destination) => destination,
            Err(refusal) => {
                self.answer(bot, query, &refusal.chars().take(200).collect::<String>()).await;
                return;
            }
        };
        let context = CommandContext { destination, can_manage, now: Utc::now() };
        let result = self.services.with(|services| {
            if settings::is_settings_data(data) {
                Press::Settings(settings::press(data, &context, services))
            } else if next::is_next_data(data) {
                Press::Next(next::press(data, &context, services))
            } else {
                Press::Mute(mute::press(data, &context, services))
            }
        });
        let result = match result {
            Press::Mute(mute) => mute,
            Press::Settings(settings) => return self.settings_pressed(bot, query, settings).await,
            Press::Next(Ok(pressed)) => {
                debug!(chat = chat.id.0, toast = %pressed.toast, "Telegram /next button pressed");
                self.answer(bot, query, &pressed.toast).await;
                pages::edit(bot, self.limiter.as_ref(), chat.id, message.id(), &pressed).await;
                return;
            }
            Press::Next(Err(e)) => Err(e),
        };
        self.mute_pressed(bot, query, can_manage, result).await;
    }

    /// Whether the presser may change settings: anyone in a private chat,
    /// else the chat's admins. Paging `/next` is for everyone: no
    /// `getChatMember` for it. `None` once the press was answered [`SORRY`]
    /// because the admin check failed.
    async fn may_manage(&self, bot: &Bot, query: &CallbackQuery, chat: &Chat, data: &str) -> Option<bool> {
        if chat.is_private() || next::is_next_data(data) {
            return Some(chat.is_private());
        }
        match self.administers(bot, chat.id, query.from.id).await {
            Ok(admin) => Some(admin),
            Err(reason) => {
                warn!(chat = chat.id.0, %reason, "could not check the presser's admin status (getChatMember)");
                self.answer(bot, query, SORRY).await;
                None
            }
        }
    }

    /// Answers a mute press with its toast and, when it names one, shows
    /// the new button in place of the pressed one.
    async fn mute_pressed(
        &self,
        bot: &Bot,
        query: &CallbackQuery,
        can_manage: bool,
        result: Result<mute::Pressed, crate::store::StoreError>,
    ) {
        let Some(message) = query.message.as_ref() else { return };
        let chat = message.chat();
        let data = query.data.as_deref().unwrap_or_default();
        let pressed = match result {
            Ok(p) => p,
            Err(e) => {
                error!(chat = chat.id.0, error = %e, "store error while handling a button press");
                self.answer(bot, query, SORRY).await;
                return;
            }
        };
        debug!(chat = chat.id.0, can_manage, toast = %pressed.toast, "Telegram button pressed");
        self.answer(bot, query, &pressed.toast).await;
        if let Some(button) = pressed.button {
            let markup = swap_button(message.regular_message().and_then(Message::reply_markup), data, &button);
            if let Some(limiter) = &self.limiter {
                limiter.acquire(&ChatKey::Id(ChatId(chat.id.0))).await;
            }
            if let Err(e) = bot.edit_message_reply_markup(chat.id, message.id()).reply_markup(markup).await {
                debug!(chat = chat.id.0, reason = %reason(&e, bot.token()), "could not swap the alert's button");
            }
        }
    }

    /// Answers a settings press and shows the keyboard as it is now, in
    /// place.
    async fn settings_pressed(
        &self,
        bot: &Bot,
        query: &CallbackQuery,
        pressed: Result<settings::SettingsPressed, crate::store::StoreError>,
    ) {
        let Some(message) = query.message.as_ref() else { return };
        let chat = message.chat().id;
        let pressed = match pressed {
            Ok(p) => p,
            Err(e) => {
                error!(chat = chat.0, error = %e, "store error while handling a settings button");
                self.answer(bot, query, SORRY).await;
                return;
            }
        };
        debug!(chat = chat.0, toast = %pressed.toast, "Telegram settings button pressed");
        self.answer(bot, query, &pressed.toast).await;
        if let Some(limiter) = &self.limiter {
            limiter.acquire(&ChatKey::Id(ChatId(chat.0))).await;
        }
        let markup = inline_keyboard(&pressed.keyboard);
        if let Err(e) = bot.edit_message_reply_markup(chat, message.id()).reply_markup(markup).await {
            // "message is not modified" when the press changed nothing.
            debug!(chat = chat.0, reason = %reason(&e, bot.token()), "could not refresh the settings keyboard");
        }
    }

    /// `answerCallbackQuery` with a toast; failures are only logged (the
    /// press may be older than Telegram keeps them answerable).
    async fn answer(&self, bot: &Bot, query: &CallbackQuery, toast: &str) {
        if let Err(e) = bot.answer_callback_query(query.id.clone()).text(toast).await {
            debug!(reason = %reason(&e, bot.token()), "could not answer a button press");
        }
    }

    /// Sends `text` as the reply to `msg` from a task of its own, so the
    /// chat's next command need not wait for the rate limiter.
    fn reply(&self, bot: &Bot, msg: &Message, text: &str) {
        self.reply_with(bot, msg, text, None);
    }

    /// [`Handlers::reply`] with an inline keyboard under the (last) part.
    fn reply_with(&self, bot: &Bot, msg: &Message, text: &str, keyboard: Option<InlineKeyboardMarkup>) {
        let to = ReplyTo {
            chat: msg.chat.id,
            reply_to: (Place::of(msg) == Place::Group).then_some(msg.id),
            thread: topic_of(msg),
            keyboard,
        };
        self.replies.spawn(send_reply(bot.clone(), self.limiter.clone(), to, text.to_string()));
    }

    /// The bot's own membership changed: the chat and its forum topics.
    fn membership(&self, update: &ChatMemberUpdated) {
        let chat = update.chat.id.0;
        let new = &update.new_chat_member.kind;
        let present = new.is_present();
        let status = status_name(new);
        self.remember_channel(&update.chat);
        // Promoted or given its rights back: what the chat was paused for
        // may be fixed, so try it again now rather than at the next probe.
        if present && let Err(e) = self.services.subs.resume_from_chat(&Destination::Telegram(ChatId(chat))) {
            error!(chat, status, error = %e, "could not resume the chat after a membership change");
        }
        match self.services.subs.set_enabled_in_chat(ChatId(chat), present) {
            Ok(0) => debug!(chat, status, "bot membership changed; no subscription to update"),
            Ok(n) if present => {
                info!(chat, status, enabled = n, "bot is back in the chat; its subscriptions are active again")
            }
            Ok(n) => info!(
                chat,
                status,
                disabled = n,
                "bot was removed from or blocked in the chat; its subscriptions are disabled"
            ),
            Err(e) => {
                error!(chat, status, error = %e, "could not update the chat's subscriptions after a membership change")
            }
        }
    }
}

/// Where a command reply goes: the chat, as a reply to the command in
/// groups, in the topic it came from.
struct ReplyTo {
    chat: teloxide::types::ChatId,
    reply_to: Option<teloxide::types::MessageId>,
    thread: Option<teloxide::types::ThreadId>,
    keyboard: Option<InlineKeyboardMarkup>,
}

/// Sends `text` as plain text, in parts when it is longer than one
/// message, paced by `limiter`; a short 429 is waited out once.
async fn send_reply(bot: Bot, limiter: Option<Arc<RateLimiter<ChatKey>>>, to: ReplyTo, text: String) {
    let ReplyTo { chat, reply_to, thread, keyboard } = to;
    let parts = split_message(&text, MAX_MESSAGE_LEN);
    let last = parts.len().saturating_sub(1);
    for (i, part) in parts.into_iter().enumerate() {
        let mut retried = false;
        loop {
            if let Some(limiter) = &limiter {
                limiter.acquire(&ChatKey::Id(ChatId(chat.0))).await;
            }
            let mut request = bot.send_message(chat, part.as_str());
            if let Some(t) = thread {
                request = request.message_thread_id(t);
            }
            if let (0, Some(id)) = (i, reply_to) {
                request = request.reply_parameters(ReplyParameters::new(id).allow_sending_without_reply());
            }
            if let (true, Some(k)) = (i == last, &keyboard) {
                request = request.reply_markup(k.clone());
            }
            match request.await {
                Ok(_) => break,
                Err(RequestError::RetryAfter(wait)) if !retried && wait.duration() <= REPLY_RETRY_MAX => {
                    retried = true;
                    if let Some(limiter) = &limiter {
                        limiter.pause_key(&ChatKey::Id(ChatId(chat.0)), Instant::now() + wait.duration());
                    }
                    tokio::time::sleep(wait.duration()).await;
                }
                Err(e) => {
                    warn!(chat = chat.0, reason = %reason(&e, bot.token()), "could not send a command reply");
                    return;
                }
            }
        }
    }
}

/// The forum topic a message was posted in; `None` in chats without
/// topics and in a forum's General topic (Telegram sets a thread id on
/// plain reply chains too, so only topic messages count).
fn topic_of(msg: &Message) -> Option<teloxide::types::ThreadId> {
    msg.thread_id.filter(|_| msg.is_topic_message)
}

/// Whose settings a message speaks for: its chat, or the forum topic it
/// was posted in, so `/subscribe` in a topic binds alerts to that topic.
fn destination_of(msg: &Message) -> Destination {
    Destination::telegram(ChatId(msg.chat.id.0), topic_of(msg).map(|t| ThreadId(t.0.0)))
}

/// The alert's keyboard with the button whose data is `pressed` replaced
/// by `new`; the link buttons stay. Without a keyboard to edit (an old
/// client or an inaccessible message) just the new button.
fn swap_button(current: Option<&InlineKeyboardMarkup>, pressed: &str, new: &Button) -> InlineKeyboardMarkup {
    let mut swapped = false;
    let mut markup = current.cloned().unwrap_or_else(|| InlineKeyboardMarkup::new(Vec::<Vec<_>>::new()));
    for b in markup.inline_keyboard.iter_mut().flatten() {
        if matches!(&b.kind, InlineKeyboardButtonKind::CallbackData(d) if d == pressed) {
            *b = callback_button(new);
            swapped = true;
        }
    }
    if !swapped {
        markup.inline_keyboard.push(vec![callback_button(new)]);
    }
    markup
}

/// Whether the command word names a bot (`/cmd@bot`); `split_command`
/// already dropped those naming another bot.
fn names_a_bot(text: &str) -> bool {
    text.split_whitespace().next().is_some_and(|w| w.contains('@'))
}

fn status_name(kind: &ChatMemberKind) -> &'static str {
    match kind {
        ChatMemberKind::Owner(_) => "creator",
        ChatMemberKind::Administrator(_) => "administrator",
        ChatMemberKind::Member(_) => "member",
        ChatMemberKind::Restricted(_) => "restricted",
        ChatMemberKind::Left => "left",
        ChatMemberKind::Banned(_) => "kicked",
    }
}

/// Splits plain text into messages of at most `max` UTF-16 units, at line
/// breaks where possible, never inside a character. Empty parts are dropped.
pub(crate) fn split_message(text: &str, max: usize) -> Vec<String> {
    let max = max.max(2);
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut len = 0;
    let mut flush = |current: &mut String, len: &mut usize| {
        let part = current.trim_end();
        if !part.trim().is_empty() {
            parts.push(part.to_string());
        }
        current.clear();
        *len = 0;
    };
    for line in text.split_inclusive('\n') {
        let line_len = line.encode_utf16().count();
        if len + line_len > max {
            flush(&mut current, &mut len);
        }
        if line_len <= max {
            current.push_str(line);
            len += line_len;
            continue;
        }
        for c in line.chars() {
            if len + c.len_utf16() > max {
                flush(&mut current, &mut len);
            }
            current.push(c);
            len += c.len_utf16();
        }
    }
    flush(&mut current, &mut len);
    parts
}

/// Recent `getChatMember` answers: (chat, user) → admin, for a while.
struct AdminCache {
    ttl: Duration,
    max: usize,
    entries: Mutex<HashMap<(i64, u64), (bool, Instant)>>,
}

impl AdminCache {
    fn new(ttl: Duration, max: usize) -> AdminCache {
        AdminCache { ttl, max: max.max(1), entries: Mutex::new(HashMap::new()) }
    }

    fn get(&self, chat: i64, user: u64) -> Option<bool> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.get(&(chat, user)).filter(|(_, at)| at.elapsed() < self.ttl).map(|(admin, _)| *admin)
    }

    fn put(&self, chat: i64, user: u64, admin: bool) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= self.max && !entries.contains_key(&(chat, user)) {
            entries.retain(|_, (_, at)| at.elapsed() < self.ttl);
            if entries.len() >= self.max
                && let Some(oldest) = entries.iter().min_by_key(|(_, (_, at))| *at).map(|(k, _)| *k)
            {
                entries.remove(&oldest);
            }
        }
        entries.insert((chat, user), (admin, Instant::now()));
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.lock().unwrap().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_replies_split_at_lines_and_characters() {
        assert_eq!(split_message("hello", 4096), ["hello"]);
        assert!(split_message("  \n ", 4096).is_empty());
        let parts = split_message("aaaa\nbbbb\ncccc", 10);
        assert_eq!(parts, ["aaaa\nbbbb", "cccc"]);
        // One line longer than a message: cut between characters, counting
        // UTF-16 units (🚀 is two).
        let parts = split_message(&"🚀".repeat(5), 4);
        assert_eq!(parts, ["🚀🚀", "🚀🚀", "🚀"]);
        let big = "x".repeat(10_000);
        let parts = split_message(&big, MAX_MESSAGE_LEN);
        assert_eq!(parts.len(), 3);
        assert!(parts.iter().all(|p| p.encode_utf16().count() <= MAX_MESSAGE_LEN));
        assert_eq!(parts.concat(), big);
    }

    #[test]
    fn admin_answers_expire_and_the_cache_stays_bounded() {
        let cache = AdminCache::new(Duration::from_secs(60), 3);
        cache.put(-1, 1, true);
        cache.put(-1, 2, false);
        assert_eq!(cache.get(-1, 1), Some(true));
        assert_eq!(cache.get(-1, 2), Some(false));
        assert_eq!(cache.get(-2, 1), None);
        for user in 3..10 {
            cache.put(-1, user, true);
        }
        assert_eq!(cache.len(), 3);
        assert_eq!(cache.get(-1, 9), Some(true));
        let short = AdminCache::new(Duration::ZERO, 3);
        short.put(-1, 1, true);
        assert_eq!(short.get(-1, 1), None, "expired");
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        assert_eq!(backoff(0), Duration::from_secs(1));
        assert_eq!(backoff(3), Duration::from_secs(8));
        assert_eq!(backoff(100), Duration::from_secs(60));
    }

    #[test]
    fn only_explicit_addressees_count() {
        assert!(names_a_bot("/foo@tminus_bot x"));
        assert!(!names_a_bot("/foo x@y"));
        assert!(!names_a_bot(""));
    }
}
