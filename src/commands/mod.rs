//! Chat commands, shared by the Telegram and Discord front-ends: parsing
//! (`parse`, pure: text → `ChatCommand` or a usage error) and execution
//! against the subscription API (`exec`: `ChatCommand` + services → a
//! plain-text `Reply`). Front-ends only translate platform updates into
//! `parse`/`execute` calls and send the reply; they decide who may manage a
//! chat (`CommandContext::can_manage`, in `context` with the services every
//! handler runs with, so no handler reaches back into `exec`). Replies are
//! plain text, so no
//! platform markup needs escaping. Buttons are planned here too, as a
//! neutral `keyboard::Keyboard`: `/settings` (`settings`), Mute (`mute`)
//! and the `/next` pages (`next`).
//!
//! Grammar (the README): `/start`, `/help`,
//! `/subscribe [agency|type|program NAME]... [-agency|-type|-program NAME]...`
//! (no argument: everything), `/unsubscribe N|all`, `/list`,
//! `/next [N] [NAME | agency|type|program NAME...]`, `/timezone Area/City`,
//! `/reminders 24h 1h 10m | off`, `/alerts KIND... | all`,
//! `/horizon DURATION | off`, `/mute NAME`, `/muted`, `/unmute N|all`,
//! `/calendar [reset]`; the Mute button under alerts is `mute`. `/manage`
//! (Telegram) and `/events` (Discord) are platform-specific: their grammar
//! is in `manage`, their handling in the front-ends.

mod context;
mod exec;
pub mod flood;
pub(crate) mod keyboard;
pub mod manage;
pub mod mute;
pub mod next;
mod parse;
pub(crate) mod settings;
#[cfg(test)]
mod test_fixture;

#[cfg_attr(feature = "testing", visibility::make(pub))]
pub(crate) use context::{CommandContext, Defaults, Services, SharedServices};
#[cfg_attr(feature = "testing", visibility::make(pub))]
pub(crate) use exec::execute;
pub(crate) use exec::{Reply, describe};
#[cfg_attr(feature = "testing", visibility::make(pub))]
pub(crate) use parse::{ChatCommand, CommandError};
pub(crate) use parse::{NextQuery, Target};
pub use parse::{parse, parse_filter, parse_reminders, split_command};

/// Longest argument text accepted.
pub(crate) const MAX_ARGS_LEN: usize = 200;
/// Most subscriptions one chat may have.
#[cfg_attr(feature = "testing", visibility::make(pub))]
pub(crate) const MAX_SUBSCRIPTIONS_PER_CHAT: usize = 20;
/// How many items `/next` shows without a count.
pub(crate) const NEXT_DEFAULT: usize = 5;
/// Most items one `/next` shows.
pub(crate) const NEXT_MAX: usize = 20;

/// The commands, for help texts and platform registration.
#[cfg_attr(feature = "testing", visibility::make(pub))]
pub(crate) const COMMANDS: [(&str, &str, &str); 21] = [
    ("start", "Welcome and how to subscribe", "/start"),
    ("help", "List the commands with examples", "/help"),
    ("subscribe", "Get alerts here, optionally filtered", "/subscribe agency SpaceX -program Starlink"),
    ("unsubscribe", "Stop a subscription by its number, or all", "/unsubscribe 2"),
    ("list", "Show this chat's subscriptions", "/list"),
    ("next", "What's coming up, for this chat or by name", "/next 5 SpaceX"),
    ("news", "The latest news about what this chat follows", "/news"),
    ("timezone", "Show times in your timezone", "/timezone Europe/Berlin"),
    ("reminders", "When to be reminded before T-0", "/reminders 24h 1h 10m"),
    ("alerts", "Which alert kinds this chat hears", "/alerts status webcast reminder"),
    ("horizon", "Schedule changes only within this distance", "/horizon 7d"),
    ("quiet", "Hours when alerts here make no sound (or off)", "/quiet 23:00-07:00"),
    ("silent", "Alert kinds sent without a sound (or none)", "/silent schedule webcast"),
    ("style", "Launch day: one live card, or a message per alert", "/style card"),
    ("digest", "One message listing what's coming (or off)", "/digest daily 08:00"),
    ("mute", "Silence one launch or event here", "/mute Starlink Group 10-1"),
    ("muted", "List the items muted here", "/muted"),
    ("unmute", "Hear about a muted item again", "/unmute 1"),
    ("calendar", "A private calendar feed of this chat's items", "/calendar"),
    ("settings", "This chat's settings as buttons", "/settings"),
    ("manage", "From a private chat: act for a channel you administer", "/manage @mychannel"),
];

/// The message above the `/settings` keyboard (`settings::keyboard`).
pub(crate) const SETTINGS_TEXT: &str = "⚙️ Settings of this chat. Press a button to change it.\n\
     Row by row: alert kinds, reminders before T-0, how far ahead schedule changes alert, timezone \
     and 🌙 quiet hours (no sound), then 📰 news about what you follow, 🪧 live card (one message \
     per launch on its day, edited in place), 📋 a daily digest and ❌ to remove a subscription.\n\
     Another timezone: send /timezone Area/City; other quiet hours: /quiet HH:MM-HH:MM; \
     another digest: /digest weekly mon 08:00.";
