//! Shared helpers for integration tests. Each `tests/*.rs` file is its own
//! crate and uses only part of this module, hence the blanket allow; the
//! crate's `unreachable_pub`/`missing_docs` lints are for the library's
//! public surface, not for test helpers `pub` across a test crate.
//!
//! - `fake_ll2`: an in-process fake Launch Library 2 server (see its docs).
//! - `app`: the tminus pipeline assembled in-process against the fakes.
//! - `data`: shared test data (the sample launch).
//! - `binary`: the `tminus` binary with a config for the fake LL2.
//! - `fake_hook`: a fake receiver for `webhook:`, `ntfy:` and `slack:`
//!   (records requests, scripted 500 / 429 / 4xx answers).
//! - `telegram_chat`: the app, the fakes and the real command bot, for
//!   tests that chat with the bot.
#![allow(dead_code, unused_imports, unreachable_pub, missing_docs)]

pub mod app;
pub mod binary;
pub mod data;
pub mod fake_discord;
pub mod fake_hook;
pub mod fake_ll2;
pub mod fake_telegram;
pub mod logs;
pub mod telegram_chat;

/// Flood limits for tests that send commands as fast as the bot answers
/// them, as no person does; the flood tests use the real defaults.
pub const UNHURRIED: tminus::commands::flood::FloodLimits =
    tminus::commands::flood::FloodLimits { burst: 1000, refill: std::time::Duration::from_millis(1), max_keys: 1000 };
