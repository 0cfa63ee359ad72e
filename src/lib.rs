//! tminus: a self-hosted spaceflight notification bot.
//!
//! Data flow (see README): `ll2` client → `poller` → `detect` → `rules` →
//! outbox in `store` → `deliver` → console / Telegram / Discord. `run` wires
//! those pieces for the binary.

pub mod cli;
pub mod config;
pub mod item;
pub mod ll2;
pub mod types;
