//! The Mute button under an alert: its callback data (what the platform
//! hands back when it is pressed) and what a press does. The data can only
//! name an item and an action; the chat is always the one the press came
//! from, so forged data can at worst mute some item for the presser's own
//! chat. Shared by Telegram (callback queries) and Discord (component
//! interactions). It must not talk to a platform: front-ends answer the
//! press and swap the button.

use super::context::{CommandContext, Services};
use super::keyboard::MAX_DATA_LEN;
use crate::store::StoreError;
use crate::types::{ItemId, ItemKind};

/// The longest item id accepted in data: LL2 launch ids are 36-character
/// UUIDs, event ids short integers.
const MAX_ID_LEN: usize = 40;

/// Text of the button that mutes an item.
const MUTE_LABEL: &str = "🔕 Mute";
/// Text of the button that lifts a mute.
const UNMUTE_LABEL: &str = "🔔 Unmute";

/// What a button does when pressed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Button {
    /// Mute this item in the chat.
    Mute(ItemId),
    /// Lift this item's mute in the chat.
    Unmute(ItemId),
}

impl Button {
    /// The callback data / custom id: `mute:launch/<uuid>`, `unmute:event/42`.
    pub(crate) fn data(&self) -> String {
        match self {
            Button::Mute(item) => format!("mute:{}", item.key()),
            Button::Unmute(item) => format!("unmute:{}", item.key()),
        }
    }

    /// The text shown on the button.
    pub(crate) fn label(&self) -> &'static str {
        match self {
            Button::Mute(_) => MUTE_LABEL,
            Button::Unmute(_) => UNMUTE_LABEL,
        }
    }

    /// Reads callback data back, refusing anything this bot did not make:
    /// too long, an unknown action or kind, an id with other characters.
    pub(crate) fn parse(data: &str) -> Option<Button> {
        if data.len() > MAX_DATA_LEN {
            return None;
        }
        let (action, item) = data.split_once(':')?;
        let (kind, id) = item.split_once('/')?;
        let kind = kind.parse::<ItemKind>().ok()?;
        let valid =
            !id.is_empty() && id.len() <= MAX_ID_LEN && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !valid {
            return None;
        }
        let item = ItemId::new(kind, id);
        match action {
            "mute" => Some(Button::Mute(item)),
            "unmute" => Some(Button::Unmute(item)),
            _ => None,
        }
    }
}

/// What to answer a press with: a short toast, and the button to show in
/// place of the pressed one (`None`: leave the message alone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pressed {
    /// Short text the platform shows the presser.
    pub(crate) toast: String,
    /// The button to show instead; `None`: leave the message alone.
    pub(crate) button: Option<Button>,
}

impl Pressed {
    fn toast(text: impl Into<String>) -> Pressed {
        Pressed { toast: text.into(), button: None }
    }
}

/// Runs a press of a button whose data is `data` in the chat of `ctx`.
pub(crate) fn press(data: &str, ctx: &CommandContext, svc: &Services<'_>) -> Result<Pressed, StoreError> {
    let Some(button) = Button::parse(data) else {
        return Ok(Pressed::toast("This button is not one I understand any more."));
    };
    if !ctx.can_manage {
        return Ok(Pressed::toast("Only administrators of this chat can mute or unmute alerts here."));
    }
    let dest = &ctx.destination;
    Ok(match button {
        Button::Mute(id) => match svc.store.item(&id)? {
            None => Pressed::toast("That is no longer upcoming; nothing to mute."),
            Some(item) => {
                svc.subs.mute(dest, &item, ctx.now)?;
                Pressed { toast: format!("🔕 Muted {}", short(&item.name)), button: Some(Button::Unmute(id)) }
            }
        },
        Button::Unmute(id) => {
            svc.subs.unmute(dest, &id)?;
            let name = svc.store.item(&id)?.map(|i| i.name).unwrap_or_default();
            let button = (!name.is_empty()).then_some(Button::Mute(id));
            Pressed { toast: format!("🔔 Unmuted {}", short(&name)).trim_end().to_string(), button }
        }
    })
}

/// A name short enough for a toast (Telegram shows up to 200 characters):
/// 81 characters at most, the ellipsis included.
fn short(name: &str) -> std::borrow::Cow<'_, str> {
    crate::text::clip(name, 81)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_round_trips_and_rejects_the_rest() {
        let launch = ItemId::new(ItemKind::Launch, "f059d5b4-0e2b-4c5f-9f3e-1f5b6d1b2a3c");
        for b in [Button::Mute(launch.clone()), Button::Unmute(ItemId::new(ItemKind::Event, "42"))] {
            assert!(b.data().len() <= MAX_DATA_LEN, "{}", b.data());
            assert_eq!(Button::parse(&b.data()), Some(b));
        }
        for bad in [
            "",
            "mute",
            "mute:",
            "mute:launch/",
            "mute:rocket/1",
            "delete:launch/1",
            "mute:launch/../../x",
            "mute:launch/a b",
            &format!("mute:launch/{}", "a".repeat(41)),
            &format!("mute:launch/{}", "a".repeat(80)),
        ] {
            assert_eq!(Button::parse(bad), None, "{bad:?}");
        }
    }
}
