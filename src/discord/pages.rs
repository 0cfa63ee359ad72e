//! `/next` pages on Discord: the `/next` reply is the first page with its
//! buttons as components, and a press of one of them
//! (`commands::next::press`) is answered with type 7 UpdateMessage, which
//! edits the message in place: a page as content (no embed), an item's card
//! as the alert's embed (`discord::render::embed`) under ◀ Back. Discord has
//! no toast; the press's toast is only logged. It must not decide what a
//! press means; that is `commands::next`'s.

use tracing::{debug, error};

use super::reply::{Page, Response};
use crate::commands::next;
use crate::commands::{CommandContext, NextQuery, Services};

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
