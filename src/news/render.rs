//! An article as a message: 📰 its title, its news site, a short summary,
//! the article as the link for people, and one line naming the linked
//! launch or event with its T-minus. It fills the platform-neutral
//! `render::Message`, so the Telegram and Discord renderers lay it out
//! within their limits like any alert. Pure.

use chrono::{DateTime, Utc};

use super::model::Article;
use super::route::is_unlinked;
use crate::detect::Alert;
use crate::links::Link;
use crate::render::message::{Message, format_tminus, format_when};
use crate::types::{AlertKind, ItemKind};

/// The label of the article's link.
pub(crate) const READ: &str = "Read the article";

/// The message of a `news` alert about `article`, at `now`.
pub(crate) fn message(article: &Article, alert: &Alert, now: DateTime<Utc>) -> Message {
    let url = Some(article.url.trim().to_string()).filter(|u| crate::links::is_web(u));
    Message {
        changes: about_line(alert, now).into_iter().collect(),
        link: url.clone(),
        pages: url.map(|url| Link { label: READ, url }).into_iter().collect(),
        image: article.image_url.clone().filter(|u| crate::links::is_web(u)),
        description: Some(article.summary.clone()).filter(|s| !s.trim().is_empty()),
        ..Message::bare(AlertKind::News, "📰", article.title.clone(), article.news_site.clone())
    }
}

/// "🚀 Falcon Heavy | Roman · T-3d 4h" for the item the alert is about;
/// a date coarser than an hour is said as LL2 knows it ("NET 2026-12").
/// `None` for an article linked to nothing known.
pub(crate) fn about_line(alert: &Alert, now: DateTime<Utc>) -> Option<String> {
    let item = &alert.item;
    if is_unlinked(item) {
        return None;
    }
    let icon = if item.kind() == ItemKind::Launch { "🚀" } else { "🛰" };
    let fine = item.precision.as_ref().is_none_or(|p| p.to_the_hour());
    let when = match item.when {
        Some(w) if fine => Some(format_tminus(w, now)),
        Some(w) => Some(format_when(w, item.precision.as_ref(), chrono_tz::UTC)),
        None => None,
    };
    Some(match when {
        Some(w) => format!("{icon} {} · {w}", item.name),
        None => format!("{icon} {}", item.name),
    })
}

/// The `/news` reply: the articles, newest first, one entry each (title,
/// site, age, link), or what to do when there are none. Plain text.
pub(crate) fn news_list(articles: &[Article], now: DateTime<Utc>) -> String {
    if articles.is_empty() {
        return "📰 No news about this chat's subscriptions yet. Articles are fetched while some chat or watch \
                hears news: /alerts new schedule status webcast reminder news."
            .into();
    }
    let mut out = String::from("📰 Latest news about what this chat follows:\n");
    for (i, a) in articles.iter().enumerate() {
        let age = crate::types::format_duration(std::time::Duration::from_secs(
            (now - a.published_at).num_minutes().max(0).unsigned_abs() * 60,
        ));
        out.push_str(&format!(
            "\n{}. {} ({}, {age} ago)\n{}\n",
            i + 1,
            super::model::cut(&a.title, 200),
            a.news_site,
            a.url
        ));
    }
    out.trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::news::model::parse_page;
    use crate::news::route::unlinked_item;

    fn articles() -> Vec<Article> {
        parse_page(include_bytes!("../../tests/fixtures/snapi/articles-page-1.json")).unwrap().articles
    }

    #[test]
    fn an_unlinked_article_is_title_site_summary_and_link() {
        let a = &articles()[2];
        let alert = Alert::new(crate::detect::AlertId(1), unlinked_item(a), vec![], a.published_at);
        let m = message(a, &alert, a.published_at);
        assert_eq!(
            (m.kind, m.emoji, m.headline.as_str(), m.title.as_str()),
            (AlertKind::News, "📰", a.title.as_str(), "SpaceNews")
        );
        assert!(m.changes.is_empty(), "no linked item, no line about it");
        assert_eq!(m.link.as_deref(), Some(a.url.as_str()));
        assert_eq!(m.pages[0].label, READ);
        // Both platforms lay it out within their limits.
        assert!(crate::telegram::render::html(&m).contains(&a.title));
        let body = serde_json::to_value(crate::discord::render::channel_message(&m, &[])).unwrap();
        crate::discord::render::check_limits(&body).unwrap();
        assert!(body.to_string().contains(&a.url), "the embed links the article");
    }

    #[test]
    fn the_list_numbers_the_articles() {
        let now = "2026-07-21T18:00:00Z".parse().unwrap();
        let text = news_list(&articles(), now);
        assert!(
            text.contains(
                "1. Roman Space Telescope arrives at Kennedy ahead of Falcon Heavy launch (Spaceflight Now, 3h58m ago)"
            ),
            "{text}"
        );
        assert!(news_list(&[], now).contains("No news"));
    }
}
