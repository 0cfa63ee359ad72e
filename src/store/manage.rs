//! The store's part for chats managed from elsewhere: which channel a
//! Telegram private chat manages (`/manage`), and which Telegram chats are
//! known to be channels (their posts get no Mute button: readers cannot
//! press it). One tree, `telegram_chats`, keyed `manage:PRIVATE_CHAT` and
//! `channel:CHAT`. Session state of chats, not chat-made subscriptions, so
//! `tminus export` leaves it out: after a move an admin sends `/manage`
//! again. It must not decide who may manage (the Telegram front-end
//! checks rights on every command).

use super::*;
use crate::types::ChatId;

/// The channel a private chat acts for.
#[cfg_attr(feature = "testing", visibility::make(pub))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ManagedChat {
    /// The channel, by id (its commands' own destination).
    pub(crate) chat: ChatId,
    /// How replies name it: `@name`, or its title.
    pub(crate) label: String,
}

fn manage_key(private: ChatId) -> String {
    format!("manage:{}", private.0)
}

fn channel_key(chat: ChatId) -> String {
    format!("channel:{}", chat.0)
}

impl Store {
    /// The channel the private chat `private` manages, if any.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn managed_by(&self, private: ChatId) -> Result<Option<ManagedChat>> {
        let k = manage_key(private);
        self.telegram_chats.get(&k)?.map(|v| dec("telegram_chats", k.as_bytes(), &v)).transpose()
    }

    /// Makes `private` act for `managed` (`None`: for itself again).
    pub(crate) fn set_managed(&self, private: ChatId, managed: Option<&ManagedChat>) -> Result<()> {
        match managed {
            Some(m) => self.telegram_chats.insert(manage_key(private), enc(m))?,
            None => self.telegram_chats.remove(manage_key(private))?,
        };
        Ok(())
    }

    /// Remembers that the Telegram chat `chat` is a channel.
    pub(crate) fn mark_telegram_channel(&self, chat: ChatId) -> Result<()> {
        if !self.telegram_chats.contains_key(channel_key(chat))? {
            self.telegram_chats.insert(channel_key(chat), &[])?;
        }
        Ok(())
    }

    /// Whether `dest` is a broadcast channel, whose readers cannot press a
    /// message's buttons: a Telegram channel named `@name`, or a chat seen
    /// to be one.
    pub(crate) fn is_channel(&self, dest: &Destination) -> Result<bool> {
        Ok(match dest {
            Destination::TelegramChannel(_) => true,
            Destination::Telegram(chat) => self.telegram_chats.contains_key(channel_key(*chat))?,
            _ => false,
        })
    }

    /// Wakes the mirrors (the Discord scheduled-events sync) after a chat
    /// changed what they mirror, as an applied batch does.
    pub(crate) fn mirrors_changed(&self) {
        self.applied.send_modify(|n| *n = n.wrapping_add(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::ChannelName;

    #[test]
    fn managed_chats_and_known_channels_persist() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let managed = ManagedChat { chat: ChatId(-1001), label: "@spacenews".into() };
        assert_eq!(store.managed_by(ChatId(5)).unwrap(), None);
        store.set_managed(ChatId(5), Some(&managed)).unwrap();
        assert_eq!(store.managed_by(ChatId(5)).unwrap(), Some(managed));
        assert_eq!(store.managed_by(ChatId(6)).unwrap(), None, "per private chat");
        store.set_managed(ChatId(5), None).unwrap();
        assert_eq!(store.managed_by(ChatId(5)).unwrap(), None);

        assert!(!store.is_channel(&Destination::Telegram(ChatId(-1001))).unwrap());
        store.mark_telegram_channel(ChatId(-1001)).unwrap();
        store.mark_telegram_channel(ChatId(-1001)).unwrap();
        assert!(store.is_channel(&Destination::Telegram(ChatId(-1001))).unwrap());
        assert!(!store.is_channel(&Destination::Telegram(ChatId(-1002))).unwrap());
        let named = Destination::TelegramChannel(ChannelName::parse("@spacenews").unwrap());
        assert!(store.is_channel(&named).unwrap());
    }
}
