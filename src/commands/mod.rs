//! Chat commands, shared by the Telegram and Discord front-ends: parsing
//! (`parse`, pure: text → `ChatCommand` or a usage error) and execution
//! against the subscription API (`exec`: `ChatCommand` + services → a
//! plain-text `Reply`). Front-ends only translate platform updates into
//! `parse`/`execute` calls and send the reply; they decide who may manage a
//! chat (`CommandContext::can_manage`). Replies are plain text, so no
//! platform markup needs escaping.
//!
//! Grammar (the README): `/start`, `/help`,
//! `/subscribe [agency|type|program NAME]... [-agency|-type|-program NAME]...`
//! (no argument: everything), `/unsubscribe N|all`, `/list`, `/next [N]`,
//! `/timezone Area/City`, `/reminders 24h 1h 10m | off`, `/calendar [reset]`.

mod exec;
mod parse;

pub use exec::{CommandContext, Defaults, Reply, Services, describe, execute, help_text, resolve_timezone};
pub use parse::{ChatCommand, CommandError, Target, dimension, parse, parse_filter, parse_reminders, split_command};

/// Longest argument text accepted.
pub const MAX_ARGS_LEN: usize = 200;
/// Most subscriptions one chat may have.
pub const MAX_SUBSCRIPTIONS_PER_CHAT: usize = 20;
/// `/next` default and ceiling.
pub const NEXT_DEFAULT: usize = 5;
pub const NEXT_MAX: usize = 20;

/// The commands, for help texts and platform registration.
pub const COMMANDS: [(&str, &str, &str); 9] = [
    ("start", "Welcome and how to subscribe", "/start"),
    ("help", "List the commands with examples", "/help"),
    ("subscribe", "Get alerts here, optionally filtered", "/subscribe agency SpaceX -program Starlink"),
    ("unsubscribe", "Stop a subscription by its number, or all", "/unsubscribe 2"),
    ("list", "Show this chat's subscriptions", "/list"),
    ("next", "The next upcoming items for this chat", "/next 5"),
    ("timezone", "Show times in your timezone", "/timezone Europe/Berlin"),
    ("reminders", "When to be reminded before T-0", "/reminders 24h 1h 10m"),
    ("calendar", "A private calendar feed of this chat's items", "/calendar"),
];
