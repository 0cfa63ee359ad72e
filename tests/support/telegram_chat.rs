//! One Telegram chat harness for the tests that talk to the real command
//! bot: the in-process app synced from the fake LL2, the fake Bot API, the
//! command bot (teloxide) long polling it, and a deliverer with the real
//! Telegram sender. Tests push updates and read the fake's calls through
//! it. It only waits for answers and checks they were accepted; what an
//! answer says is for the tests to assert.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use teloxide::Bot;
use tminus::commands::Defaults;
use tminus::commands::SharedServices;
use tminus::config::Watch;
use tminus::deliver::{Deliverer, DeliveryConfig, Sender, Senders};
use tminus::directory::Directory;
use tminus::poller::BudgetWait;
use tminus::rules::Subscription;
use tminus::store::Store;
use tminus::subscriptions::{Subscriptions, default_console_watch};
use tminus::telegram::bot::CommandBot;
use tminus::telegram::{TelegramLimits, TelegramSender};
use tminus::types::Platform;
use tminus::types::{ChatId, Destination, Feed};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::app::{App, AppOptions};
use super::fake_ll2::FakeLl2;
use super::fake_telegram::{Call, FakeTelegram, MemberStatus, message_update};
use super::logs::{log_text, logs};

/// How long any answer may take.
pub const WAIT: Duration = Duration::from_secs(10);
/// A private chat and its user.
pub const ALICE: i64 = 555;
/// A basic group, with an administrator and a plain member.
pub const GROUP: i64 = -4242;
pub const ADMIN: i64 = 7;
pub const MEMBER: i64 = 8;
/// The SpaceX launch in the fake LL2's fixture.
pub const SPACEX_LAUNCH: &str = "521f3a1c-f977-4306-9b7f-495858719adf";

/// What the bot runs with: the app's parts and the defaults of `tminus run`
/// (UTC, 1h reminders).
pub fn bot_services(subs: Subscriptions, store: Store, directory: Arc<RwLock<Directory>>) -> SharedServices {
    let defaults = Defaults {
        timezone: chrono_tz::UTC,
        reminders: vec![Duration::from_secs(3600)],
        calendar_base: None,
        schedule_horizon: None,
    };
    SharedServices { subs, store, directory, defaults }
}

/// The few ways the tests' worlds differ; everything else is shared.
pub struct TelegramChatBuilder {
    watches: Vec<Watch>,
    sync: bool,
    chat_kinds: Vec<(i64, &'static str)>,
    channels: Vec<(i64, &'static str)>,
    members: Vec<(i64, i64, MemberStatus)>,
}

impl TelegramChatBuilder {
    /// A config watch named "ops" (everything, 1h reminders) to `to`; by
    /// default there is none, so only what the chats subscribe to is heard.
    pub fn watch_to(mut self, to: Vec<Destination>) -> Self {
        let mut watch = default_console_watch(chrono_tz::UTC, vec![Duration::from_secs(3600)]);
        watch.name = "ops".into();
        watch.to = to;
        self.watches = vec![watch];
        self
    }

    /// No first sync: the store and the directory stay empty.
    pub fn unsynced(mut self) -> Self {
        self.sync = false;
        self
    }

    /// What the fake says `chat` is ("group", "channel", …).
    pub fn chat_kind(mut self, chat: i64, kind: &'static str) -> Self {
        self.chat_kinds.push((chat, kind));
        self
    }

    /// A public channel known by `@username`.
    pub fn channel(mut self, chat: i64, username: &'static str) -> Self {
        self.channels.push((chat, username));
        self
    }

    pub fn member(mut self, chat: i64, user: i64, status: MemberStatus) -> Self {
        self.members.push((chat, user, status));
        self
    }

    /// Starts everything and waits until the bot dispatches updates.
    pub async fn start(self) -> TelegramChat {
        logs();
        let ll2 = FakeLl2::start().await;
        let mut app = App::start(AppOptions { watches: self.watches, ..AppOptions::new(ll2.ll2_config()) }).await;
        if self.sync {
            app.cycle().await;
        }
        let tg = FakeTelegram::start().await;
        for (chat, kind) in self.chat_kinds {
            tg.set_chat_kind(chat, kind);
        }
        for (chat, username) in self.channels {
            tg.add_channel(chat, username);
        }
        for (chat, user, status) in self.members {
            tg.set_member(chat, user, status);
        }
        let sender = TelegramSender::new(&tg.token(), &tg.api_url(), TelegramLimits::default().scaled(10.0)).unwrap();
        let senders = Senders::default().with(Platform::Telegram, Arc::new(sender) as Arc<dyn Sender>);
        let deliverer = Arc::new(Deliverer::new(app.subs.clone(), senders, DeliveryConfig::default()));
        let stop = CancellationToken::new();
        let bot = Bot::new(FakeTelegram::TOKEN).set_api_url(tg.api_url().parse().unwrap());
        let services = bot_services(app.subs.clone(), app.store.clone(), app.poller.directory());
        let task = tokio::spawn(CommandBot::new(bot, services).with_flood_limits(super::UNHURRIED).run(stop.clone()));
        // The fake records a call when it answers, so a long poll in flight
        // is not seen yet: the dispatcher's own getMe (after start-up's) is.
        let dispatching = tg.wait_until(WAIT, |calls| calls.iter().filter(|c| c.is("getMe")).count() >= 2).await;
        assert!(dispatching, "bot started; log:\n{}", log_text());
        TelegramChat { tg, ll2, app, deliverer, stop, task: Some(task) }
    }
}

/// The running world; the bot is cancelled when it is dropped.
pub struct TelegramChat {
    pub tg: FakeTelegram,
    pub ll2: FakeLl2,
    pub app: App,
    /// Delivers the app's outbox through the real Telegram sender.
    pub deliverer: Arc<Deliverer>,
    stop: CancellationToken,
    task: Option<JoinHandle<()>>,
}

impl Drop for TelegramChat {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl TelegramChat {
    pub fn builder() -> TelegramChatBuilder {
        TelegramChatBuilder { watches: vec![], sync: true, chat_kinds: vec![], channels: vec![], members: vec![] }
    }

    /// Synced from the fake LL2, no config watches, nothing set up in the fake.
    pub async fn start() -> TelegramChat {
        TelegramChat::builder().start().await
    }

    /// Accepted `sendMessage` calls to `chat` (replies and text alerts).
    pub fn messages(&self, chat: i64) -> Vec<Call> {
        self.tg.sent_to(chat).into_iter().filter(|c| c.is("sendMessage")).collect()
    }

    /// Alerts (HTML messages and photos) sent anywhere.
    pub fn alerts(&self) -> Vec<Call> {
        self.tg.sent().into_iter().filter(|c| c.parse_mode.as_deref() == Some("HTML")).collect()
    }

    /// Alerts sent to `chat`.
    pub fn alerts_to(&self, chat: i64) -> Vec<Call> {
        self.alerts().into_iter().filter(|c| c.chat_id == Some(chat)).collect()
    }

    /// Queues `update` and waits for `n` new messages in `chat`.
    pub async fn exchange(&self, chat: i64, update: Value, n: usize) -> Vec<Call> {
        let before = self.messages(chat).len();
        self.tg.push_update(update);
        let arrived = self
            .tg
            .wait_until(WAIT, |calls| {
                calls.iter().filter(|c| c.is_delivery() && c.is("sendMessage") && c.chat_id == Some(chat)).count()
                    >= before + n
            })
            .await;
        let sent = self.messages(chat);
        assert!(arrived, "no reply in chat {chat} (had {before}, now {}); log:\n{}", sent.len(), log_text());
        sent[before..].to_vec()
    }

    /// Queues `update`; the next message in `chat`, which must be plain text.
    pub async fn reply(&self, chat: i64, update: Value) -> Call {
        let reply = self.exchange(chat, update, 1).await.remove(0);
        assert_eq!(reply.parse_mode, None, "command replies are plain text");
        reply
    }

    /// `text` from `user` in `chat`; the reply.
    pub async fn command(&self, chat: i64, user: i64, text: &str) -> Call {
        self.reply(chat, message_update(chat, user, text)).await
    }

    /// `text` from `user` in `chat`; the reply's text.
    pub async fn ask(&self, chat: i64, user: i64, text: &str) -> String {
        self.command(chat, user, text).await.text.unwrap()
    }

    /// A private-chat command from ALICE; the reply's text.
    pub async fn say(&self, text: &str) -> String {
        self.ask(ALICE, ALICE, text).await
    }

    /// Sends `update` and proves it got no answer: the chat's next message
    /// is the answer to a `/help` sent after it (updates of one chat are
    /// handled in order).
    pub async fn assert_ignored(&self, chat: i64, user: i64, update: Value) {
        let before = self.messages(chat).len();
        self.tg.push_update(update);
        let next = self.ask(chat, user, "/help").await;
        assert!(next.contains("/subscribe"), "{next}");
        assert_eq!(self.messages(chat).len(), before + 1, "only /help was answered");
    }

    /// Presses the button with `data` under `message` in `chat` as `user`;
    /// the toast it was answered with.
    pub async fn press(&self, chat: i64, user: i64, message: i64, data: &str) -> String {
        let before = self.tg.calls_to("answerCallbackQuery").len();
        self.tg.push_update(self.tg.callback_update(chat, user, message, data));
        let ok = self
            .tg
            .wait_until(WAIT, |calls| calls.iter().filter(|c| c.is("answerCallbackQuery")).count() > before)
            .await;
        assert!(ok, "press answered");
        self.toast(before)
    }

    /// Presses like [`TelegramChat::press`] and waits for the pressed
    /// message to be edited with `method` too: the toast, and that edit
    /// call (which may have failed, e.g. "message is not modified").
    pub async fn press_and_edit(&self, chat: i64, user: i64, message: i64, data: &str, method: &str) -> (String, Call) {
        let answers = self.tg.calls_to("answerCallbackQuery").len();
        let edits = self.tg.calls_to(method).len();
        self.tg.push_update(self.tg.callback_update(chat, user, message, data));
        let ok = self.tg.wait_until(WAIT, |calls| {
            calls.iter().filter(|c| c.is("answerCallbackQuery")).count() > answers
                && calls.iter().filter(|c| c.is(method)).count() > edits
        });
        assert!(ok.await, "press answered and message edited with {method}");
        let edit = self.tg.calls_to(method)[edits].clone();
        assert_eq!((edit.chat_id, edit.params["message_id"].as_i64()), (Some(chat), Some(message)), "in place");
        (self.toast(answers), edit)
    }

    /// The text of the `nth` callback answer, which must have been accepted.
    fn toast(&self, nth: usize) -> String {
        let answer = self.tg.calls_to("answerCallbackQuery")[nth].clone();
        assert!(answer.ok(), "{answer:?}");
        answer.params["text"].as_str().unwrap_or_default().to_string()
    }

    /// Changes the SpaceX launch's status in the fake LL2 and polls the
    /// launches; the alerts wait in the outbox for a `deliverer` drain.
    pub async fn status_change(&mut self, name: &str, id: i64) {
        self.ll2.set_field(Feed::Launches, SPACEX_LAUNCH, "/status", json!({"id": id, "name": name, "abbrev": name}));
        self.app.poller.poll_feed(Feed::Launches, BudgetWait::Skip).await.unwrap();
    }

    /// Delivers what waits in the outbox to the fake Telegram.
    pub async fn deliver(&self) {
        self.deliverer.drain_once().await.unwrap();
    }

    pub fn chat_subs(&self, chat: i64) -> Vec<Subscription> {
        self.app.store.subscriptions_of(&Destination::Telegram(ChatId(chat))).unwrap()
    }

    /// Stops the bot and waits for it (at most 5 s); how long that took.
    pub async fn stop(&mut self) -> Duration {
        let started = Instant::now();
        self.stop.cancel();
        let task = self.task.take().unwrap();
        tokio::time::timeout(Duration::from_secs(5), task).await.expect("bot stops within 5 s").unwrap();
        started.elapsed()
    }
}

/// Every button of an inline keyboard: its label and its callback data (or
/// URL).
pub fn buttons(markup: Option<&Value>) -> Vec<(String, String)> {
    let Some(rows) = markup.and_then(|m| m["inline_keyboard"].as_array()) else { return vec![] };
    rows.iter()
        .flat_map(|r| r.as_array().unwrap().iter())
        .map(|b| {
            let target = b.get("callback_data").or(b.get("url")).and_then(Value::as_str).unwrap();
            (b["text"].as_str().unwrap().to_string(), target.to_string())
        })
        .collect()
}

/// The callback buttons only (no links): label and data.
pub fn callbacks(markup: Option<&Value>) -> Vec<(String, String)> {
    let Some(rows) = markup.and_then(|m| m["inline_keyboard"].as_array()) else { return vec![] };
    rows.iter()
        .flat_map(|r| r.as_array().unwrap().iter())
        .filter_map(|b| Some((b["text"].as_str()?.to_string(), b["callback_data"].as_str()?.to_string())))
        .collect()
}

/// The data (or URL) of the button labelled `label`.
pub fn find(keys: &[(String, String)], label: &str) -> String {
    keys.iter().find(|(l, _)| l == label).unwrap_or_else(|| panic!("no {label:?} in {keys:?}")).1.clone()
}
