//! Discord embed rendering of a `Message` (pending).
