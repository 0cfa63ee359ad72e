//! `/manage`: a private chat acting for a Telegram channel its user
//! administers, so nobody has to type commands in the channel where every
//! reader sees them.
//!
//! - `/manage @channel` (or `-100…`), only in a private chat: `getChat`
//!   finds the channel, `getChatMember` must call the user its creator or
//!   an administrator and the bot an administrator that may post. Then
//!   the choice is stored (`Store::set_managed`, durable) and the channel
//!   is remembered as a channel (no Mute button under its alerts).
//! - Every later command of that private chat, except `/start`, `/help`
//!   and `/manage`, acts for the channel, and so do its `/settings` and
//!   `/next` buttons; replies stay private and start "For @channel:".
//! - Rights are checked again on every such command and press with a
//!   fresh `getChatMember` (no cache): an administrator removed since
//!   loses control at once, and the private chat stops managing.
//! - `/manage` alone shows the target, `/manage off` ends it.
//!
//! It must not run commands itself: `bot.rs` does, for the destination
//! this module names.

use teloxide::Bot;
use teloxide::requests::Requester;
use teloxide::types::{CallbackQuery, Chat, MaybeInaccessibleMessage, Message, Recipient, UserId};
use tracing::{error, info, warn};

use super::{Handlers, SORRY, destination_of};
use crate::commands::manage::{ChannelRef, ManageArg, parse_manage};
use crate::commands::{ChatCommand, next, settings};
use crate::store::ManagedChat;
use crate::telegram::sender::reason;
use crate::types::{ChatId, Destination};

/// The answer to `/manage` outside a private chat.
pub(super) const ONLY_PRIVATE: &str = "/manage works in a private chat with me: open one, then send \
     /manage @yourchannel there. Commands in this chat act for this chat.";

impl Handlers {
    /// Remembers `chat` when it is a channel, so its alerts carry no Mute
    /// button.
    pub(super) fn remember_channel(&self, chat: &Chat) {
        if chat.is_channel()
            && let Err(e) = self.services.store.mark_telegram_channel(ChatId(chat.id.0))
        {
            error!(chat = chat.id.0, error = %e, "could not remember that a chat is a channel");
        }
    }

    /// Whom `cmd` from `msg` acts for: its own chat (or topic), or the
    /// channel a private chat manages, with the label replies lead with.
    /// `Err` is the reply refusing it.
    pub(super) async fn target(
        &self,
        bot: &Bot,
        msg: &Message,
        cmd: &ChatCommand,
    ) -> Result<(Destination, Option<String>), String> {
        let own = destination_of(msg);
        let Some(user) = msg.from.as_ref() else { return Ok((own, None)) };
        if !msg.chat.is_private() || matches!(cmd, ChatCommand::Start | ChatCommand::Help) {
            return Ok((own, None));
        }
        Ok(match self.acting_for(bot, ChatId(msg.chat.id.0), user.id).await? {
            Some(managed) => (Destination::Telegram(managed.chat), Some(managed.label)),
            None => (own, None),
        })
    }

    /// Whom a press of the button with `data` under `message` acts for:
    /// settings and pages in a private chat that manages a channel are the
    /// channel's; Mute buttons stay under the chat's own alerts. `Err` is
    /// the toast refusing it.
    pub(super) async fn press_target(
        &self,
        bot: &Bot,
        query: &CallbackQuery,
        message: &MaybeInaccessibleMessage,
        data: &str,
    ) -> Result<Destination, String> {
        let chat = message.chat();
        let own = match message.regular_message() {
            Some(m) => destination_of(m),
            None => Destination::Telegram(ChatId(chat.id.0)),
        };
        if !chat.is_private() || !(settings::is_settings_data(data) || next::is_next_data(data)) {
            return Ok(own);
        }
        Ok(match self.acting_for(bot, ChatId(chat.id.0), query.from.id).await? {
            Some(managed) => Destination::Telegram(managed.chat),
            None => own,
        })
    }

    /// `/manage ARGS` from `msg`; the reply.
    pub(super) async fn manage(&self, bot: &Bot, me: UserId, msg: &Message, args: &str) -> String {
        if !msg.chat.is_private() {
            return ONLY_PRIVATE.into();
        }
        let private = ChatId(msg.chat.id.0);
        let arg = match parse_manage(args) {
            Ok(arg) => arg,
            Err(e) => return e.to_string(),
        };
        let store = &self.services.store;
        let result = match arg {
            ManageArg::Show => store.managed_by(private).map(|m| match m {
                Some(m) => format!(
                    "Commands here act for {}; replies stay here. Send /manage off to act for this chat again.",
                    m.label
                ),
                None => "Commands here act for this chat. Send /manage @channel to manage a channel you \
                         administer from here."
                    .into(),
            }),
            ManageArg::Off => {
                store.set_managed(private, None).map(|()| "Commands here act for this chat again.".into())
            }
            ManageArg::Channel(target) => return self.take_over(bot, me, msg, &target).await,
        };
        result.unwrap_or_else(|e| {
            error!(chat = private.0, error = %e, "store error on /manage");
            SORRY.into()
        })
    }

    /// `/manage @channel`: the checks, then the stored choice.
    async fn take_over(&self, bot: &Bot, me: UserId, msg: &Message, target: &ChannelRef) -> String {
        let Some(user) = msg.from.as_ref() else { return SORRY.into() };
        let recipient = match target {
            ChannelRef::Name(n) => Recipient::ChannelUsername(n.handle()),
            ChannelRef::Id(id) => Recipient::Id(teloxide::types::ChatId(*id)),
        };
        let asked = target.label();
        let chat = match bot.get_chat(recipient).await {
            Ok(chat) => chat,
            Err(e) => {
                info!(chat = %asked, reason = %reason(&e, bot.token()), "/manage: channel not found");
                return format!(
                    "I can't find {asked}. Check the name (a private channel goes by its id, -100…) and \
                     add me to the channel as an administrator first."
                );
            }
        };
        if !chat.is_channel() {
            return format!("{asked} is not a channel. In a group, send the commands in the group itself.");
        }
        let label = chat.username().map(|u| format!("@{u}")).or_else(|| chat.title().map(str::to_owned));
        let label = label.unwrap_or(asked);
        match bot.get_chat_member(chat.id, user.id).await {
            Ok(m) if m.kind.is_privileged() => {}
            Ok(_) => {
                return format!(
                    "Only the creator and the administrators of {label} can manage it, and you are not one of them."
                );
            }
            Err(e) => {
                warn!(chat = chat.id.0, reason = %reason(&e, bot.token()), "/manage: could not check the user");
                return format!("I could not check your rights in {label}; please try again later.");
            }
        }
        let can_post = bot.get_chat_member(chat.id, me).await.map(|m| m.kind.can_post_messages());
        if !matches!(can_post, Ok(true)) {
            return format!(
                "I can't post in {label}: make me an administrator of the channel with the right to post \
                 messages, then send /manage again."
            );
        }
        let managed = ManagedChat { chat: ChatId(chat.id.0), label: label.clone() };
        let private = ChatId(msg.chat.id.0);
        let stored = self.services.store.set_managed(private, Some(&managed));
        if let Err(e) = stored.and_then(|()| self.services.store.mark_telegram_channel(managed.chat)) {
            error!(chat = private.0, error = %e, "store error on /manage");
            return SORRY.into();
        }
        info!(chat = private.0, channel = managed.chat.0, "a private chat now manages a channel");
        format!(
            "Now managing {label} from here. Your next commands in this chat act for it: /subscribe, \
             /unsubscribe, /list, /next, /alerts, /settings, /reminders, /timezone, /horizon, /quiet, /silent, \
             /mute, /calendar. Replies stay in this private chat. /manage off goes back."
        )
    }

    /// The channel the private chat `private` acts for, its user's rights
    /// checked again now; `Ok(None)`: it acts for itself. `Err` is the
    /// reply: the user lost the rights (the private chat stops managing)
    /// or they could not be checked.
    pub(super) async fn acting_for(
        &self,
        bot: &Bot,
        private: ChatId,
        user: UserId,
    ) -> Result<Option<ManagedChat>, String> {
        let store = &self.services.store;
        let managed = store.managed_by(private).map_err(|e| {
            error!(chat = private.0, error = %e, "store error reading the managed chat");
            SORRY.to_string()
        })?;
        let Some(managed) = managed else { return Ok(None) };
        match bot.get_chat_member(teloxide::types::ChatId(managed.chat.0), user).await {
            Ok(m) if m.kind.is_privileged() => Ok(Some(managed)),
            Ok(_) => {
                info!(chat = private.0, channel = managed.chat.0, "the user is no longer an admin; /manage ended");
                if let Err(e) = store.set_managed(private, None) {
                    error!(chat = private.0, error = %e, "store error ending /manage");
                }
                Err(format!(
                    "You are no longer an administrator of {}, so this chat stopped managing it. Commands here \
                     act for this chat again.",
                    managed.label
                ))
            }
            Err(e) => {
                warn!(chat = private.0, reason = %reason(&e, bot.token()), "could not re-check a manager's rights");
                Err(format!(
                    "I could not check your rights in {}; please try again later, or send /manage off to act for \
                     this chat.",
                    managed.label
                ))
            }
        }
    }
}
