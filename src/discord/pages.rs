//! `/next` pages on Discord: the `/next` reply is the first page with its
//! buttons as components, and a press of one of them
//! (`commands::next::press`) is answered with type 7 UpdateMessage, which
//! edits the message in place: a page as content (no embed), an item's card
//! as the alert's embed (`discord::render::embed`) under ◀ Back. Discord has
//! no toast; the press's toast is only logged. It must not decide what a
//! press means; that is `commands::next`'s.

use serenity::builder::{CreateAllowedMentions, CreateInteractionResponse, CreateInteractionResponseMessage};
use tracing::{debug, error};

use super::commands::{MAX_CONTENT, Response, clip};
use super::components::action_rows;
use super::render::embed;
use crate::commands::next::{self, View};
use crate::commands::{CommandContext, NextQuery, Services};

/// A `/next` view as Discord shows it; `update`: in place of the pressed
/// message (type 7) rather than as a new reply (type 4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Page {
    view: View,
    update: bool,
}

/// The reply to a `/next` command: the first page with its buttons, or
/// the hint for a name nobody knows (only to its user).
pub(crate) fn command(query: &NextQuery, ctx: &CommandContext, svc: &Services<'_>) -> Response {
    match next::open(query, ctx, svc) {
        Ok(Ok(view)) => Response::Page(Page { view, update: false }),
        Ok(Err(problem)) => Response::ephemeral(problem),
        Err(e) => {
            error!(destination = %ctx.destination, error = %e, "Discord /next failed");
            Response::ephemeral("Something went wrong on my side; please try again in a moment.")
        }
    }
}

/// A press of a `/next` button: the message edited in place.
pub(crate) fn press(data: &str, ctx: &CommandContext, svc: &Services<'_>) -> Response {
    match next::press(data, ctx, svc) {
        Ok(pressed) => {
            debug!(destination = %ctx.destination, toast = %pressed.toast, "Discord /next button pressed");
            Response::Page(Page { view: pressed.view, update: true })
        }
        Err(e) => {
            error!(destination = %ctx.destination, error = %e, "Discord /next button press failed");
            Response::ephemeral("Something went wrong on my side; please try again in a moment.")
        }
    }
}

impl From<Page> for CreateInteractionResponse {
    fn from(page: Page) -> CreateInteractionResponse {
        let (message, keys) = match &page.view {
            // `embeds([])` takes a card's embed away when Back is pressed.
            View::Page { text, keyboard } => {
                (CreateInteractionResponseMessage::new().content(clip(text, MAX_CONTENT)).embeds(Vec::new()), keyboard)
            }
            View::Card { message, keyboard } => {
                (CreateInteractionResponseMessage::new().content("").embed(embed(message)), keyboard)
            }
        };
        let message = message.components(action_rows(keys)).allowed_mentions(CreateAllowedMentions::new());
        if page.update {
            CreateInteractionResponse::UpdateMessage(message)
        } else {
            CreateInteractionResponse::Message(message)
        }
    }
}
