//! Launch Library 2: typed serde models of LL2 responses (`model`) and the
//! HTTP client that knows LL2's habits (`client`): pages, modes, the
//! throttle answer, the API key. It turns LL2 JSON into normalized `Item`s;
//! it must not decide what is news (that is `detect`) or keep state.

pub(crate) mod client;
pub(crate) mod model;

pub use client::Client;
#[cfg_attr(feature = "testing", visibility::make(pub))]
pub(crate) use client::{Ll2Error, Page, ThrottleInfo};
#[cfg_attr(feature = "testing", visibility::make(pub))]
pub(crate) use model::parse_item;
pub use model::{item_from_value, parse_page};
