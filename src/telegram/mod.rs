//! Telegram, everything platform-specific in one folder: rendering,
//! delivery through the Bot API (teloxide's `Bot`, pointed at `[telegram]
//! api_url`) within Telegram's rate limits with every platform error
//! classified for the deliverer, and the chat front-end.
//!
//! - [`render`]: a platform-neutral `render::Message` → Telegram HTML, a
//!   photo caption and inline buttons, within Telegram's limits (pure);
//! - [`sender`]: [`TelegramSender`], the `deliver::Sender` for
//!   `Destination::Telegram`. It renders with [`render`], paces
//!   requests with a shared `deliver::ratelimit::RateLimiter`, and maps
//!   Telegram answers to `SendError` (blocked/kicked → permanent, migrated →
//!   moved, bad HTML → rejected, flood/5xx/network → transient);
//! - [`bot`]: the chat front-end, commands by long polling.
//!
//! This module must not decide what to do about a failure (the deliverer
//! does) and must never let the bot token reach a log line or an error
//! string: teloxide's network errors carry the request URL, which contains
//! the token, so every string leaving here goes through `errors::redact`.

pub mod bot;
mod pages;
pub mod render;
pub(crate) mod sender;

#[cfg_attr(feature = "testing", visibility::make(pub))]
pub(crate) use sender::classify;
pub use sender::{TelegramLimits, TelegramSender};
