//! Serde models of LL2 events and launches (2.2.0 and 2.3.0, list/normal/
//! detailed modes) and their conversion into `Item`.
//!
//! HELPER-OWNED: implementation pending.
