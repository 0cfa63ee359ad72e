//! Discord message components and the answers that carry them: the
//! handler's [`Response`] as serenity's `CreateInteractionResponse`, the
//! Mute/Unmute row under bot alerts, the `/settings` keyboard as action
//! rows within Discord's limits (pure, [`fit`]), and the dispatch of a
//! pressed button by its custom-id prefix (`Handler::press`).
//!
//! A settings press runs `commands::settings::press` and is answered by
//! editing the `/settings` message in place (type 7): the refreshed buttons,
//! and what the press did (or why it was not applied: out-of-date buttons)
//! as a last line of the content, because Discord has no toast and
//! everyone in the channel sees the same buttons change. A member without
//! Manage Channels gets an ephemeral refusal and the message stays as it
//! is, so one member's refused press is not shown to the whole channel.
//!
//! This module must not touch the store itself (the shared `commands`
//! logic does) or decide flooding (`Handler::handle` does, before a press
//! gets here).

use chrono::{DateTime, Utc};
use serenity::all::ButtonStyle;
use serenity::builder::{
    CreateActionRow, CreateAllowedMentions, CreateAutocompleteResponse, CreateButton, CreateInteractionResponse,
    CreateInteractionResponseMessage,
};
use tracing::{error, info, warn};

use super::commands::Handler;
use super::invocation::Invocation;
use super::render::embed;
use super::reply::{MAX_CONTENT, Page, Response, clip};
use crate::commands::SETTINGS_TEXT;
use crate::commands::keyboard::{Key, Keyboard};
use crate::commands::mute::{self, Button, Pressed};
use crate::commands::next::View;
use crate::commands::settings::{self, SettingsPressed};
use crate::links;

/// Discord's component limits: action rows per message, buttons per row,
/// characters of a custom id and of a label.
const MAX_ROWS: usize = 5;
const MAX_PER_ROW: usize = 5;
const MAX_CUSTOM_ID: usize = 100;
const MAX_LABEL: usize = 80;

/// The answer to a press that went wrong on our side.
const SORRY: &str = "Something went wrong on my side; please try again in a moment.";

/// The handler's response as serenity's builder, which both front-ends
/// answer with. Mentions are off: a name typed by a user never pings.
impl From<Response> for CreateInteractionResponse {
    fn from(response: Response) -> CreateInteractionResponse {
        let message = |content: String| {
            CreateInteractionResponseMessage::new().content(content).allowed_mentions(CreateAllowedMentions::new())
        };
        match response {
            Response::Pong => CreateInteractionResponse::Pong,
            Response::Message { content, ephemeral } => {
                // `ephemeral(false)` would add `flags: 0`; leave flags out.
                let m = message(content);
                CreateInteractionResponse::Message(if ephemeral { m.ephemeral(true) } else { m })
            }
            Response::Choices(choices) => CreateInteractionResponse::Autocomplete(
                choices
                    .into_iter()
                    .fold(CreateAutocompleteResponse::new(), |r, c| r.add_string_choice(c.name, c.value)),
            ),
            // The alert's one row (Watch live, Mute) is the message's
            // whole set of components: the link goes back in with it.
            Response::Buttons(button, watch) => CreateInteractionResponse::UpdateMessage(
                CreateInteractionResponseMessage::new()
                    .components(alert_row(Some(&button), watch.as_deref()).into_iter().collect()),
            ),
            Response::Settings { content, keyboard, edit } => {
                let m = message(content).components(action_rows(&keyboard));
                if edit { CreateInteractionResponse::UpdateMessage(m) } else { CreateInteractionResponse::Message(m) }
            }
            Response::Acknowledge => CreateInteractionResponse::Acknowledge,
            Response::Page(page) => page.into(),
        }
    }
}

/// Discord's longest link-button URL.
const MAX_BUTTON_URL: usize = 512;

/// The action row under a bot alert: `button` (Mute or Unmute), then
/// "Watch live" (a link button, style 5) for `watch` when Discord takes it
/// as a button URL; `None` when there is neither.
pub(crate) fn alert_row(button: Option<&Button>, watch: Option<&str>) -> Option<CreateActionRow> {
    // Mute first: it keeps its place whether or not there is a webcast.
    let mut row = Vec::new();
    if let Some(b) = button {
        row.push(CreateButton::new(b.data()).label(b.label()).style(ButtonStyle::Secondary));
    }
    if let Some(url) = watch.and_then(watch_url) {
        row.push(CreateButton::new_link(url).label(links::WATCH_LIVE));
    }
    (!row.is_empty()).then_some(CreateActionRow::Buttons(row))
}

/// `url` when Discord accepts it on a link button: absolute http(s) with a
/// host, at most [`MAX_BUTTON_URL`] characters, a page for people.
pub(crate) fn watch_url(url: &str) -> Option<&str> {
    let url = url.trim();
    let parsed = url::Url::parse(url).ok()?;
    let ok = matches!(parsed.scheme(), "http" | "https")
        && parsed.host_str().is_some_and(|h| !h.is_empty())
        && url.chars().count() <= MAX_BUTTON_URL
        && links::is_web(url);
    ok.then_some(url)
}

/// A keyboard laid out within Discord's limits (pure): rows longer than
/// five buttons are split, labels clipped to 80 characters, buttons whose
/// custom id Discord would refuse (empty, over 100 characters) left out,
/// and rows past the fifth dropped with a warning. The settings keyboard
/// fits as it is (five rows of at most five); the rules keep a future
/// row from making Discord refuse the whole answer.
pub(crate) fn fit(keyboard: &Keyboard) -> Keyboard {
    let rows: Keyboard = keyboard
        .iter()
        .flat_map(|row| row.chunks(MAX_PER_ROW))
        .map(|row| {
            row.iter()
                .filter(|k| !k.data.is_empty() && k.data.len() <= MAX_CUSTOM_ID && !k.label.is_empty())
                .map(|k| Key { label: clip(&k.label, MAX_LABEL), data: k.data.clone() })
                .collect::<Vec<_>>()
        })
        .filter(|row| !row.is_empty())
        .collect();
    if rows.len() > MAX_ROWS {
        warn!(rows = rows.len(), "a keyboard has more rows than Discord shows; the last ones are left out");
    }
    rows.into_iter().take(MAX_ROWS).collect()
}

/// The keyboard as Discord action rows of buttons.
pub(crate) fn action_rows(keyboard: &Keyboard) -> Vec<CreateActionRow> {
    fit(keyboard)
        .into_iter()
        .map(|row| {
            CreateActionRow::Buttons(
                row.into_iter()
                    .map(|k| CreateButton::new(k.data).label(k.label).style(ButtonStyle::Secondary))
                    .collect(),
            )
        })
        .collect()
}

/// The `/settings` message's text after a press: what the press did (or
/// why it was not applied) under the usual text.
fn settings_content(toast: &str) -> String {
    clip(&format!("{SETTINGS_TEXT}\n\n» {toast}"), MAX_CONTENT)
}

impl Handler {
    /// A pressed button, dispatched by its custom id's prefix.
    pub(super) fn press(&self, inv: &Invocation, now: DateTime<Utc>) -> Response {
        let Some(channel) = inv.channel_id else {
            return Response::ephemeral("I cannot tell which channel this is.");
        };
        // One arm per kind of button, by the custom id's prefix.
        match inv.name.split_once(':').map(|(prefix, _)| prefix) {
            Some("mute" | "unmute") => self.mute_press(inv, channel, now),
            Some("s") => self.settings_press(inv, channel, now),
            Some("n") => {
                let ctx = Handler::context(inv, channel, now);
                self.with_services(|svc| super::pages::press(&inv.name, &ctx, svc))
            }
            _ => Response::ephemeral("This button is not one I understand any more."),
        }
    }

    /// A Mute/Unmute button: done → the message with the other button;
    /// refused or stale → an ephemeral note (Discord has no toast).
    fn mute_press(&self, inv: &Invocation, channel: u64, now: DateTime<Utc>) -> Response {
        let ctx = Handler::context(inv, channel, now);
        match self.with_services(|svc| mute::press(&inv.name, &ctx, svc)) {
            Ok(Pressed { button: Some(button), toast }) => {
                info!(channel, %toast, "Discord button pressed");
                Response::Buttons(button, inv.watch.clone())
            }
            Ok(Pressed { toast, button: None }) => Response::ephemeral(toast),
            Err(e) => {
                error!(channel, error = %e, "Discord button press failed");
                Response::ephemeral(SORRY)
            }
        }
    }

    /// A settings button: refused (no Manage Channels) → ephemeral, the
    /// message unchanged; otherwise the message edited in place with the
    /// buttons as they are now and what happened (see the module docs).
    fn settings_press(&self, inv: &Invocation, channel: u64, now: DateTime<Utc>) -> Response {
        if !inv.can_manage() {
            return Response::ephemeral("Changing this channel's settings needs the Manage Channels permission.");
        }
        let ctx = Handler::context(inv, channel, now);
        match self.with_services(|svc| settings::press(&inv.name, &ctx, svc)) {
            Ok(SettingsPressed { toast, keyboard }) => {
                info!(channel, %toast, "Discord settings button pressed");
                Response::Settings { content: settings_content(&toast), keyboard, edit: true }
            }
            Err(e) => {
                error!(channel, error = %e, "Discord settings press failed");
                Response::ephemeral(SORRY)
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key(label: &str, data: &str) -> Key {
        Key { label: label.into(), data: data.into() }
    }

    fn row(n: usize, tag: &str) -> Vec<Key> {
        (0..n).map(|i| key(&format!("{tag}{i}"), &format!("s:00000000:{tag}{i}"))).collect()
    }

    #[test]
    fn the_alert_row_carries_mute_and_a_watch_live_link_button() {
        let mute = Button::Mute(crate::types::ItemId::new(crate::types::ItemKind::Launch, "abc"));
        let row = |b: Option<&Button>, w: Option<&str>| serde_json::to_value(alert_row(b, w)).unwrap();
        assert_eq!(
            row(Some(&mute), Some("https://youtu.be/x"))["components"],
            json!([
                {"type": 2, "style": 2, "label": "🔕 Mute", "custom_id": "mute:launch/abc", "disabled": false},
                {"type": 2, "style": 5, "label": "Watch live", "url": "https://youtu.be/x", "disabled": false}
            ])
        );
        assert_eq!(row(None, Some("https://youtu.be/x"))["components"][0]["style"], 5, "a link alone, without Mute");
        assert_eq!(row(Some(&mute), None)["components"].as_array().unwrap().len(), 1);
        let too_long = format!("https://youtu.be/{}", "x".repeat(600));
        for bad in ["javascript:alert(1)", "ftp://x.org/v", too_long.as_str()] {
            assert_eq!(row(Some(&mute), Some(bad))["components"].as_array().unwrap().len(), 1, "{bad}");
        }
        assert!(alert_row(None, None).is_none());
    }

    #[test]
    fn keyboards_fit_discord_limits() {
        // The settings keyboard's shape: five rows of at most five.
        let full: Keyboard = vec![row(5, "k"), row(5, "r"), row(5, "h"), row(4, "z"), row(5, "x")];
        assert_eq!(fit(&full), full, "the settings keyboard fits unchanged");
        let long: Keyboard = vec![row(7, "a"), row(2, "b")];
        let fitted = fit(&long);
        assert_eq!(fitted.iter().map(Vec::len).collect::<Vec<_>>(), [5, 2, 2], "a long row is split");
        assert_eq!(fitted[1][0].label, "a5");
        let many: Keyboard = (0..8).map(|i| row(1, &i.to_string())).collect();
        assert_eq!(fit(&many).len(), MAX_ROWS);
        let odd = vec![vec![key(&"é".repeat(120), "s:1:a"), key("x", &"s".repeat(101)), key("y", "")]];
        let fitted = fit(&odd);
        assert_eq!(fitted.len(), 1);
        assert_eq!(fitted[0].len(), 1, "bad custom ids are left out");
        assert!(fitted[0][0].label.chars().count() <= MAX_LABEL);
        assert!(fit(&vec![vec![key("x", "")]]).is_empty(), "no empty row");
    }

    #[test]
    fn settings_answers_are_messages_with_buttons() {
        let keyboard = vec![row(2, "k"), row(1, "h")];
        let body = |r: Response| serde_json::to_value(CreateInteractionResponse::from(r)).unwrap();
        let first = body(Response::Settings { content: SETTINGS_TEXT.into(), keyboard: keyboard.clone(), edit: false });
        assert_eq!(first["type"], 4);
        let rows = first["data"]["components"].as_array().unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0]["type"], 1, "action row");
        assert_eq!(
            rows[0]["components"][1],
            json!({"type": 2, "style": 2, "label": "k1", "custom_id": "s:00000000:k1", "disabled": false})
        );
        assert_eq!(first["data"]["allowed_mentions"]["parse"], json!([]));
        let edit = body(Response::Settings { content: settings_content("Done."), keyboard, edit: true });
        assert_eq!(edit["type"], 7);
        assert!(edit["data"]["content"].as_str().unwrap().ends_with("» Done."));
        assert!(edit["data"].get("flags").is_none(), "{edit}");
        assert_eq!(body(Response::Acknowledge)["type"], 6);
        assert_eq!(body(Response::Pong)["type"], 1);
    }
}
