//! SNAPI v4 articles as serde reads them, and the pages of `/articles/`
//! (`count`, `next`, `previous`, `results`). One unreadable object in
//! `results` is skipped and counted, never the whole page. Pure data.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::types::{ItemId, ItemKind};

/// Characters of an article's summary kept: a message says what the
/// article is about and links to it, it does not reprint it.
pub(crate) const SUMMARY_CHARS: usize = 300;

/// One SNAPI article, as tminus keeps it (in the store and in `news`
/// alerts). Fields SNAPI may leave out read as empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Article {
    /// SNAPI's id.
    pub(crate) id: u64,
    /// The headline.
    pub title: String,
    /// Who wrote it (SNAPI 4.x lists `{name, socials}`).
    #[serde(default)]
    pub(crate) authors: Vec<Author>,
    /// The article itself, for people.
    pub(crate) url: String,
    /// Its picture.
    #[serde(default)]
    pub(crate) image_url: Option<String>,
    /// The site that published it ("Spaceflight Now").
    #[serde(default)]
    pub(crate) news_site: String,
    /// Its summary, cut to [`SUMMARY_CHARS`] when read.
    #[serde(default, deserialize_with = "short_summary")]
    pub(crate) summary: String,
    /// When the site published it.
    pub(crate) published_at: DateTime<Utc>,
    /// When SNAPI last changed it: the feed's watermark.
    pub(crate) updated_at: DateTime<Utc>,
    /// Featured by SNAPI's editors.
    #[serde(default)]
    pub(crate) featured: bool,
    /// The LL2 launches it is about.
    #[serde(default)]
    pub(crate) launches: Vec<LaunchLink>,
    /// The LL2 events it is about.
    #[serde(default)]
    pub(crate) events: Vec<EventLink>,
}

/// An author of an article.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Author {
    /// The author's name.
    #[serde(default)]
    pub(crate) name: String,
}

/// `launches[]`: an LL2 launch by its UUID.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct LaunchLink {
    /// LL2's launch UUID.
    pub(crate) launch_id: String,
    /// Where the id comes from ("Launch Library 2").
    #[serde(default)]
    pub(crate) provider: String,
}

/// `events[]`: an LL2 event by its number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct EventLink {
    /// LL2's event id.
    pub(crate) event_id: i64,
    /// Where the id comes from ("Launch Library 2").
    #[serde(default)]
    pub(crate) provider: String,
}

impl Article {
    /// The LL2 items the article is linked to, launches first, in SNAPI's
    /// order, without repeats.
    pub(crate) fn linked(&self) -> Vec<ItemId> {
        let mut out: Vec<ItemId> = Vec::new();
        let launches = self.launches.iter().map(|l| ItemId::new(ItemKind::Launch, l.launch_id.trim().to_lowercase()));
        let events = self.events.iter().map(|e| ItemId::new(ItemKind::Event, e.event_id.to_string()));
        for id in launches.chain(events) {
            if !id.id.is_empty() && !out.contains(&id) {
                out.push(id);
            }
        }
        out
    }
}

fn short_summary<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = Option::<String>::deserialize(d)?.unwrap_or_default();
    Ok(cut(s.trim(), SUMMARY_CHARS))
}

/// `s` cut to at most `max` characters at a word boundary, with `…`
/// (`crate::text::clip_with`).
pub(crate) fn cut(s: &str, max: usize) -> String {
    crate::text::clip_with(s, max, |head| {
        let head = match head.rfind(char::is_whitespace) {
            Some(i) if i > max / 2 => &head[..i],
            _ => head,
        };
        head.trim_end()
    })
    .into_owned()
}

/// One page of `/articles/`, read.
#[derive(Debug, Clone, Default)]
pub(crate) struct Page {
    /// Articles matching the query across all pages.
    #[allow(dead_code, reason = "read by the tests; the feed pages by `updated_at`, not by SNAPI's links")]
    pub count: Option<u64>,
    /// The following page's URL, as SNAPI wrote it.
    #[allow(dead_code, reason = "read by the tests; the feed pages by `updated_at`, not by SNAPI's links")]
    pub next: Option<String>,
    /// The articles that could be read, in SNAPI's order.
    pub(crate) articles: Vec<Article>,
    /// Objects of `results` that were not articles (logged by the caller).
    pub skipped: usize,
}

/// Why a body is not a page of articles.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum PageError {
    /// Not JSON at all.
    #[error("not JSON: {0}")]
    NotJson(String),
    /// JSON, but no `results` list.
    #[error("{0}")]
    Shape(String),
}

/// Reads a `/articles/` answer.
pub(crate) fn parse_page(body: &[u8]) -> Result<Page, PageError> {
    #[derive(Deserialize)]
    struct Raw {
        #[serde(default)]
        count: Option<u64>,
        #[serde(default)]
        next: Option<String>,
        results: Vec<serde_json::Value>,
    }
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| PageError::NotJson(e.to_string()))?;
    let raw: Raw = serde_json::from_value(value)
        .map_err(|e| PageError::Shape(format!("expected {{count, next, previous, results}}: {e}")))?;
    let mut page = Page { count: raw.count, next: raw.next, ..Page::default() };
    for v in raw.results {
        match serde_json::from_value::<Article>(v) {
            Ok(a) => page.articles.push(a),
            Err(e) => {
                tracing::debug!(error = %e, "SNAPI result is not an article; skipped");
                page.skipped += 1;
            }
        }
    }
    Ok(page)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &[u8] = include_bytes!("../../tests/fixtures/snapi/articles-page-1.json");

    #[test]
    fn reads_a_real_page() {
        let page = parse_page(PAGE).unwrap();
        assert!(!page.articles.is_empty());
        assert_eq!(page.skipped, 0);
        let a = &page.articles[0];
        assert!(!a.title.is_empty() && a.url.starts_with("https://"));
        assert!(page.articles.iter().all(|a| a.summary.chars().count() <= SUMMARY_CHARS));
        assert!(page.articles.iter().any(|a| !a.linked().is_empty()));
    }

    #[test]
    fn a_bad_result_is_skipped_not_the_page() {
        let body = br#"{"count":2,"next":null,"previous":null,"results":[{"id":"x"},
            {"id":7,"title":"T","url":"https://e.org/a","news_site":"NASA","summary":null,
             "published_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z",
             "launches":[{"launch_id":"ABC","provider":"Launch Library 2"}],"events":[{"event_id":5,"provider":"x"}]}]}"#;
        let page = parse_page(body).unwrap();
        assert_eq!((page.articles.len(), page.skipped), (1, 1));
        assert_eq!(
            page.articles[0].linked(),
            [ItemId::new(ItemKind::Launch, "abc"), ItemId::new(ItemKind::Event, "5")]
        );
        assert!(matches!(parse_page(b"<html>"), Err(PageError::NotJson(_))));
        assert!(matches!(parse_page(br#"{"detail":"x"}"#), Err(PageError::Shape(_))));
    }

    #[test]
    fn summaries_are_cut_at_a_word() {
        assert_eq!(cut("short", 10), "short");
        let long = "word ".repeat(100);
        let c = cut(&long, 50);
        assert!(c.chars().count() <= 50 && c.ends_with("word…"), "{c}");
    }
}
