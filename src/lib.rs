//! tminus: a self-hosted spaceflight notification bot.
//!
//! Data flow, one module per stage:
//!
//! ```text
//! ll2 (client) → poller → detect → rules (index) → store (outbox) → deliver → console / telegram / discord
//!                    reminders ─┘                        ▲
//!          chat commands → subscriptions ────────────────┘
//! ```
//!
//! [`app::App`] wires the stages, once, for the binary and the tests;
//! everything below it is a library that tests drive piece by piece.
//! `docs/ARCHITECTURE.md` is the map: the rooms, the rules that keep the
//! store durable, and where a new platform, alert kind or command goes.
//!
//! The public surface is what the binary, the benches, the examples and
//! the fuzz targets use. The integration tests reach a little further: the
//! items only they use are `pub(crate)` and marked
//! `#[cfg_attr(feature = "testing", visibility::make(pub))]`, public only
//! with the `testing` feature that `cargo test` turns on (Cargo.toml).
//! Without it those items are unused, or more private than the public
//! field that holds them, which is expected, not dead code.

#![cfg_attr(not(feature = "testing"), allow(dead_code, unused_imports, private_interfaces))]

pub mod app;
mod backoff;
mod budget;
pub mod calendar;
pub mod cli;
pub mod commands;
pub mod config;
mod console;
pub mod deliver;
pub mod detect;
mod digest;
pub mod directory;
pub mod discord;
mod errors;
pub mod hooks;
mod http_get;
pub mod item;
pub mod links;
pub mod ll2;
pub mod metrics;
pub mod news;
pub mod poller;
pub mod reminders;
pub mod render;
pub mod rules;
pub mod server;
mod status_page;
pub mod store;
pub mod subscriptions;
pub mod telegram;
mod text;
mod transfer;
pub mod types;
mod tz;
