//! Managing a chat from elsewhere, platform-neutral and pure: the grammar
//! of Telegram's `/manage` (a private chat acting for a channel its user
//! administers) and of Discord's `/events on|off` (the guild's scheduled
//! events mirroring a channel's subscriptions), and the words of their
//! answers. The front-ends check rights and keep the state
//! (`telegram::bot::manage`, `discord::commands`); nothing here does I/O.

use super::CommandError;
use crate::types::ChannelName;

/// The welcome `/start` answers with, on every platform.
#[cfg_attr(feature = "testing", visibility::make(pub))]
pub(crate) const WELCOME: &str = "🚀 Hi! I send alerts about launches and space events: new items, schedule slips, \
     status changes, webcasts and T-minus reminders.\n\n\
     Try /subscribe for everything, or /subscribe agency SpaceX for one agency. /help lists all commands.";

/// A channel as a user names it: `@name` or its numeric id (`-100…`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ChannelRef {
    /// A public channel's username.
    Name(ChannelName),
    /// A channel's id, as Telegram's clients show it.
    Id(i64),
}

impl ChannelRef {
    /// How replies name it.
    pub(crate) fn label(&self) -> String {
        match self {
            ChannelRef::Name(n) => n.handle(),
            ChannelRef::Id(id) => id.to_string(),
        }
    }
}

/// What `/manage` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ManageArg {
    /// `/manage`: which chat the commands act for now.
    Show,
    /// `/manage off`: back to the private chat itself.
    Off,
    /// `/manage @channel` or `/manage -100…`.
    Channel(ChannelRef),
}

/// Parses `/manage`'s arguments.
pub(crate) fn parse_manage(args: &str) -> Result<ManageArg, CommandError> {
    let a = args.trim();
    let usage = || {
        CommandError::Usage(
            "Use: /manage @channel (or its id, -100…) to manage a channel you administer from here, \
             /manage off to go back, /manage to see which chat commands act for."
                .into(),
        )
    };
    if a.is_empty() {
        return Ok(ManageArg::Show);
    }
    if a.eq_ignore_ascii_case("off") || a.eq_ignore_ascii_case("none") {
        return Ok(ManageArg::Off);
    }
    if a.starts_with('@') {
        return ChannelName::parse(a).map(|n| ManageArg::Channel(ChannelRef::Name(n))).map_err(|_| usage());
    }
    match a.parse::<i64>() {
        // Channels' ids are negative; a positive one is a user.
        Ok(id) if id < 0 => Ok(ManageArg::Channel(ChannelRef::Id(id))),
        _ => Err(usage()),
    }
}

/// What `/events` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EventsArg {
    /// `/events`: whether the guild's events mirror anything.
    Show,
    /// `/events on`: mirror this channel's subscriptions.
    On,
    /// `/events off`: stop mirroring; the bot's events are deleted.
    Off,
}

/// Parses `/events`' argument.
pub(crate) fn parse_events(arg: &str) -> Result<EventsArg, CommandError> {
    match arg.trim().to_ascii_lowercase().as_str() {
        "" => Ok(EventsArg::Show),
        "on" => Ok(EventsArg::On),
        "off" => Ok(EventsArg::Off),
        _ => Err(CommandError::Usage("Use: /events on, /events off, or /events to see the state.".into())),
    }
}

/// The lead of a reply given for a managed chat, so nobody mistakes which
/// chat a private answer speaks of.
pub(crate) fn for_chat(label: &str, text: &str) -> String {
    format!("For {label}: {text}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manage_grammar() {
        assert_eq!(parse_manage("").unwrap(), ManageArg::Show);
        assert_eq!(parse_manage(" OFF ").unwrap(), ManageArg::Off);
        let name = ChannelName::parse("@SpaceNews").unwrap();
        assert_eq!(parse_manage("@SpaceNews").unwrap(), ManageArg::Channel(ChannelRef::Name(name)));
        assert_eq!(parse_manage("-1001234567890").unwrap(), ManageArg::Channel(ChannelRef::Id(-1001234567890)));
        assert!(parse_manage("555").is_err(), "a user is not a channel");
        assert!(parse_manage("@x").is_err(), "too short a username");
        assert!(parse_manage("spacenews").unwrap_err().to_string().contains("/manage @channel"));
        assert_eq!(ChannelRef::Id(-100).label(), "-100");
        assert_eq!(ChannelRef::Name(ChannelName::parse("@abcde").unwrap()).label(), "@abcde");
    }

    #[test]
    fn events_grammar() {
        assert_eq!(parse_events("").unwrap(), EventsArg::Show);
        assert_eq!(parse_events("On").unwrap(), EventsArg::On);
        assert_eq!(parse_events("off").unwrap(), EventsArg::Off);
        assert!(parse_events("maybe").unwrap_err().to_string().contains("/events on"));
        assert_eq!(for_chat("@abcde", "Removed #1."), "For @abcde: Removed #1.");
    }
}
