//! Discord: sender (pending).
