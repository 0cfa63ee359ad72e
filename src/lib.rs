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

pub mod app;
mod backoff;
pub mod budget;
pub mod calendar;
pub mod cli;
pub mod commands;
pub mod config;
pub mod console;
pub mod deliver;
pub mod detect;
pub mod digest;
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
pub mod text;
mod transfer;
pub mod types;
pub mod tz;
