//! Discord: delivery of alerts into channels, through the bot token
//! (`discord:CHANNEL_ID`) or through an incoming webhook
//! (`discord-webhook:URL`, no bot needed).
//!
//! This module owns the Discord REST side of delivery: building the request
//! from serenity's serialized builders (see [`render`]), posting it
//! with reqwest to `{api_url}/api/v10/...` or to the webhook URL, Discord's
//! per-route rate-limit buckets and global limit, and mapping Discord's
//! answers onto `deliver::SendError`. Requests go through reqwest rather than
//! serenity's `Http`, because serenity's own rate limiter ignores a proxy or
//! base URL (serenity issue #1739); this way production and tests take the
//! same path.
//!
//! It must not decide what happens to a failed delivery (the `Deliverer`
//! does), render message text ([`render`] does), or let the bot
//! token or a webhook URL (which contains the webhook's token) reach an
//! error message or a log line.
//!
//! Slash commands and the interactions endpoint live in `commands`,
//! `gateway` and `interactions`; `sender` is the delivery side only.

pub mod commands;
pub mod gateway;
pub mod interactions;
pub mod render;
pub mod sender;

pub use sender::{DiscordSender, SenderConfig, SenderStats, SetupError, WebhookSender};
