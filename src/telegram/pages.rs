//! `/next` pages on Telegram: a press of ◀ Earlier, Later ▶, 🔄, ℹ️ or
//! ◀ Back (`commands::next::press`) is answered with its toast
//! (`answerCallbackQuery`) and the message is edited in place
//! (`editMessageText` with the new inline keyboard): a page as plain text,
//! an item's card as the alert's HTML (`telegram::render::html`) with its
//! Watch live / Details links under ◀ Back. It must not decide what a
//! press means; that is `commands::next`'s.

use std::sync::Arc;

use teloxide::ApiError;
use teloxide::Bot;
use teloxide::RequestError;
use teloxide::payloads::EditMessageTextSetters;
use teloxide::requests::Requester;
use teloxide::types::{InlineKeyboardMarkup, MessageId, ParseMode};
use tracing::debug;

use super::render::html;
use super::sender::{ChatKey, NO_PREVIEW, inline_keyboard, link_row, reason};
use crate::commands::next::{NextPressed, View};
use crate::deliver::ratelimit::RateLimiter;
use crate::types::ChatId;

/// A view as Telegram text: (text, HTML or plain, keyboard).
pub(super) fn render(view: &View) -> (String, Option<ParseMode>, InlineKeyboardMarkup) {
    match view {
        View::Page { text, keyboard } => (text.clone(), None, inline_keyboard(keyboard)),
        View::Card { message, keyboard } => {
            let mut markup = inline_keyboard(keyboard);
            let links = link_row(message);
            if !links.is_empty() {
                markup.inline_keyboard.push(links);
            }
            (html(message), Some(ParseMode::Html), markup)
        }
    }
}

/// Shows what a press returned in place of message `id` of `chat`, paced
/// like every other send. An unchanged view (🔄 within the same minute)
/// is Telegram's "message is not modified": nothing to do, not an error.
pub(super) async fn edit(
    bot: &Bot,
    limiter: Option<&Arc<RateLimiter<ChatKey>>>,
    chat: teloxide::types::ChatId,
    id: MessageId,
    pressed: &NextPressed,
) {
    let (text, parse_mode, markup) = render(&pressed.view);
    if let Some(limiter) = limiter {
        limiter.acquire(&ChatKey::Id(ChatId(chat.0))).await;
    }
    let mut request = bot.edit_message_text(chat, id, text).reply_markup(markup).link_preview_options(NO_PREVIEW);
    if let Some(mode) = parse_mode {
        request = request.parse_mode(mode);
    }
    match request.await {
        Ok(_) | Err(RequestError::Api(ApiError::MessageNotModified)) => {}
        Err(e) => debug!(chat = chat.0, reason = %reason(&e, bot.token()), "could not show the /next page"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::keyboard::Key;
    use crate::detect::tests::sample_launch_with_details;
    use crate::detect::{Alert, AlertId, Change};
    use crate::telegram::render::buttons;

    #[test]
    fn pages_are_plain_text_and_cards_html_with_links_under_back() {
        let back = vec![vec![Key { label: "◀ Back".into(), data: "n:0000:p0:5".into() }]];
        let (text, mode, markup) = render(&View::Page { text: "Coming up: <b>".into(), keyboard: back.clone() });
        assert_eq!((text.as_str(), mode), ("Coming up: <b>", None));
        assert_eq!(markup.inline_keyboard.len(), 1);
        let now = "2026-12-01T00:00:00Z".parse().unwrap();
        let alert = Alert::new(AlertId(0), sample_launch_with_details(), vec![Change::New], now);
        let message = Box::new(crate::render::message(&alert, chrono_tz::UTC, now));
        let (text, mode, markup) = render(&View::Card { message: message.clone(), keyboard: back });
        assert_eq!(text, html(&message));
        assert_eq!(mode, Some(ParseMode::Html));
        assert_eq!(markup.inline_keyboard[0][0].text, "◀ Back");
        assert_eq!(markup.inline_keyboard.len(), 1 + usize::from(!buttons(&message).is_empty()));
    }
}
