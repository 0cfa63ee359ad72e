//! Telegram HTML rendering of a `Message` (pending).
