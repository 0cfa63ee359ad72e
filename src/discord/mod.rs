//! Discord, everything platform-specific in one folder: alerts into
//! channels through the bot token (`discord:CHANNEL_ID`) or an incoming
//! webhook (`discord-webhook:URL`, no bot needed), and the slash-command
//! front-end.
//!
//! - [`render`]: a platform-neutral `render::Message` → an embed in
//!   serenity's builders, within Discord's limits (pure);
//! - [`sender`]: posts it with reqwest to `{api_url}/api/v10/...` or to the
//!   webhook URL, paced by the shared `deliver::ratelimit::RateLimiter`
//!   (Discord's route buckets, global ceiling and 429s), and maps Discord's
//!   answers onto `deliver::SendError`;
//! - [`commands`]: the slash commands (definitions, registration through
//!   serenity's `Http`, options → `commands::ChatCommand`, the [`Handler`]
//!   both front-ends answer with);
//! - `autocomplete`: directory and timezone choices while an option is
//!   typed (pure);
//! - [`components`]: buttons (the Mute row under alerts, the `/settings`
//!   keyboard within Discord's limits), pressed buttons dispatched by
//!   custom-id prefix, and the handler's answers as serenity builders;
//! - [`interactions`]: the HTTP interactions endpoint, and the one decoding
//!   of serenity's `Interaction` both front-ends use;
//! - [`gateway`]: registration at start-up and serenity's gateway client;
//! - [`events`]: guild scheduled events mirroring upcoming items
//!   (`discord-events:GUILD_ID`), planned from the store and kept in step;
//!   `mirror`: `/events on|off`, a channel's subscriptions mirrored as
//!   the guild's events from chat.
//!
//! Alerts go out through reqwest rather than serenity's `Http` because the
//! outbox owns retries: serenity would sleep through a 429 and retry inside
//! the call, and its rate limiter ignores a proxy or base URL (serenity
//! issue #1739). This way production and tests take the same path.
//!
//! This module must not decide what happens to a failed delivery (the
//! `Deliverer` does) or let the bot token or a webhook URL (which contains
//! the webhook's token) reach an error message or a log line.
//!
//! [`Handler`]: commands::Handler

mod autocomplete;
pub mod commands;
pub(crate) mod components;
pub(crate) mod definitions;
pub mod events;
pub mod gateway;
pub mod interactions;
mod invocation;
mod mirror;
mod pages;
pub mod render;
mod reply;
pub mod sender;

#[cfg_attr(feature = "testing", visibility::make(pub))]
pub(crate) use sender::{BotLimiter, DiscordSender, SenderConfig, WebhookSender};
