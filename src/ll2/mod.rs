//! Launch Library 2: typed serde models of LL2 responses (`model`) and the
//! HTTP client that knows LL2's habits (`client`): pages, modes, the
//! throttle answer, the API key. It turns LL2 JSON into normalized `Item`s;
//! it must not decide what is news (that is `detect`) or keep state.

pub mod client;
pub mod model;

pub use client::{Client, Ll2Error, Page, ThrottleInfo};
pub use model::{ParseError, ParsedPage, item_from_value, parse_item, parse_page};
