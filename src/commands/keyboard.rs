//! Buttons, platform-neutral: a `Keyboard` of labelled `Key`s whose data
//! comes back when pressed, the data's size limit, the stamp that tells a
//! stale keyboard from the current one, and the toast a press answers
//! with. Shared by `/settings`, the Mute button and the `/next` pages;
//! front-ends turn a keyboard into an inline keyboard (Telegram) or
//! components (Discord). It must not decide what a press does.

/// Telegram's limit for `callback_data` (Discord allows 100).
pub(crate) const MAX_DATA_LEN: usize = 64;

/// One button: what it says and what it sends back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Key {
    /// The text on the button.
    pub(crate) label: String,
    /// Callback data / custom id sent back when pressed.
    pub(crate) data: String,
}

/// Rows of buttons.
pub(crate) type Keyboard = Vec<Vec<Key>>;

/// FNV-1a of `text`: stable across restarts and builds (std's hasher is
/// not), which button data needs; a checksum, not a secret.
pub(super) fn fnv1a(text: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in text.bytes() {
        h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    h
}

/// Toasts are short (Telegram: 200 characters): the first line, clipped.
pub(super) fn clip_toast(text: &str) -> String {
    crate::text::clip(text.lines().next().unwrap_or_default(), 190).into_owned()
}
