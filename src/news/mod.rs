//! News about what chats follow: articles of the Spaceflight News API
//! (SNAPI v4, by The Space Devs), which links each article to the LL2
//! launches and events it is about, sent as the opt-in `news` alert kind.
//!
//! - `model`: SNAPI's article and page shapes.
//! - `client`: SNAPI's wire habits (the `/articles/` queries), on the
//!   HTTP client it shares with LL2's (`crate::http_get`).
//! - `feed`: when to ask (its own request budget, off unless someone chose
//!   `news`), the incremental poll by `updated_at` and one store
//!   transaction per page.
//! - `route`: which destinations an article goes to: like an alert about
//!   the items it is linked to (their filters, exclusions and mutes), one
//!   message per destination, never twice to one destination.
//! - `render`: the article as a message.
//!
//! It must not change subscriptions or send anything itself: delivery
//! reads the outbox like for every other alert.

pub(crate) mod client;
pub(crate) mod feed;
pub(crate) mod model;
pub(crate) mod render;
pub(crate) mod route;

pub(crate) use client::Client;
#[cfg_attr(feature = "testing", visibility::make(pub))]
pub(crate) use client::NewsError;
pub(crate) use feed::NewsFeed;
#[cfg_attr(feature = "testing", visibility::make(pub))]
pub(crate) use feed::{NewsPollError, NewsReport};
pub(crate) use model::Article;
pub(crate) use route::latest_for;

use chrono::{DateTime, Utc};

use crate::store::{Store, StoreError};
use crate::types::Destination;

/// The headlines published at or after `since` about what `dest` follows,
/// newest first, when one of its enabled subscriptions chose `news` (else
/// none): the digest's one call per destination. Reads the kept articles,
/// sends no request.
#[cfg_attr(feature = "testing", visibility::make(pub))]
pub(crate) fn headlines_for(
    store: &Store,
    dest: &Destination,
    since: DateTime<Utc>,
) -> Result<Vec<Article>, StoreError> {
    let subs: Vec<_> = store.subscriptions_of(dest)?.into_iter().filter(|s| s.enabled).collect();
    let articles = store.articles()?;
    Ok(route::headlines_since(&articles, &subs, |id| store.item(id).ok().flatten(), since))
}
