//! What a Discord command or press is answered with, before it becomes
//! serenity's builder (`components` does that): a message, autocomplete
//! choices, buttons, `/settings` or a `/next` page, within Discord's limits
//! and clipped to them. Plain data and the one clipping rule for Discord
//! text; it must not run a command or talk to Discord.

use crate::commands::Reply;
use crate::commands::keyboard::Keyboard;
use crate::commands::mute::Button;
use crate::commands::next::View;

// Discord's limits on replies and autocomplete choices.

/// Longest reply, in characters.
pub(super) const MAX_CONTENT: usize = 2000;

/// Most autocomplete choices in one answer.
pub(super) const MAX_CHOICES: usize = 25;

/// Longest name or value of one choice, in characters.
pub(super) const MAX_CHOICE_LEN: usize = 100;

/// A choice offered while an option is typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Choice {
    /// What the user sees, at most `MAX_CHOICE_LEN` characters.
    pub(crate) name: String,
    /// What the option is set to when picked.
    pub(crate) value: String,
}

/// The answer to an interaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Response {
    /// The answer to a ping (type 1).
    Pong,
    /// A message; `ephemeral`: only the user who used the command sees it.
    Message {
        /// The reply text, clipped to `MAX_CONTENT`.
        content: String,
        /// Shown only to the user who used the command.
        ephemeral: bool,
    },
    /// Autocomplete choices, at most `MAX_CHOICES`.
    Choices(Vec<Choice>),
    /// A pressed button's message, with the button swapped (type 7) and
    /// its "Watch live" link, if it had one, kept.
    Buttons(Button, Option<String>),
    /// `/settings`: the text with the settings as buttons, as a new message
    /// (type 4) or, for a press, editing the pressed message (type 7).
    Settings {
        /// The message text, clipped to `MAX_CONTENT`.
        content: String,
        /// The buttons, laid out by `components::fit`.
        keyboard: Keyboard,
        /// Edit the pressed message instead of answering with a new one.
        edit: bool,
    },
    /// A press acknowledged without any change (type 6): what a press
    /// past the flood limit gets.
    Acknowledge,
    /// A `/next` page or card: a new reply, or the pressed message updated.
    Page(Page),
}

impl Response {
    pub(super) fn message(reply: Reply) -> Response {
        Response::Message { content: clip(&reply.text, MAX_CONTENT), ephemeral: reply.private }
    }

    /// A message only the user sees, clipped to Discord's limit.
    pub(crate) fn ephemeral(text: impl Into<String>) -> Response {
        Response::Message { content: clip(&text.into(), MAX_CONTENT), ephemeral: true }
    }
}

/// At most `max` characters, cut at a line or word boundary when one is
/// near, with an ellipsis.
pub(super) fn clip(text: &str, max: usize) -> String {
    crate::text::clip_with(text, max, |cut| {
        let floor = cut.len() * 3 / 4;
        let end = cut.rfind('\n').filter(|i| *i >= floor).or_else(|| cut.rfind(' ').filter(|i| *i >= floor));
        end.map_or(cut, |i| &cut[..i]).trim_end()
    })
    .into_owned()
}

/// A `/next` view as Discord shows it; `update`: in place of the pressed
/// message (type 7) rather than as a new reply (type 4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Page {
    pub(super) view: View,
    pub(super) update: bool,
}
