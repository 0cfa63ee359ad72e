//! Telegram: sender (pending).
