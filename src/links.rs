//! Links people read: the pages of an item on the sites space fans use,
//! and its webcast. The one place their URL patterns live; renderers and
//! calendars take them from here. It must never produce a Launch Library 2
//! API URL: that is JSON for programs, not a page for people.
//!
//! The patterns are the ones those sites use for LL2 items (the same ones
//! LiveLaunch and other LL2 clients link to): Space Launch Now pages by the
//! item's `slug`, Go4Liftoff pages by its LL2 id. Flight Club's page of a
//! launch and an event's own information page are taken as LL2 gives them.

use crate::item::Item;
use crate::types::ItemKind;

/// One labelled link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Link {
    /// What the link is, as shown ("Watch live", "Space Launch Now").
    pub(crate) label: &'static str,
    /// An absolute http(s) URL.
    pub(crate) url: String,
}

/// Label of the webcast link.
pub(crate) const WATCH_LIVE: &str = "Watch live";

/// The item's pages, most useful first: the webcast (when there is one),
/// Space Launch Now, Go4Liftoff, then Flight Club (launches) or the
/// event's own page. Items without a slug or id get fewer.
pub(crate) fn for_item(item: &Item) -> Vec<Link> {
    let mut out = Vec::new();
    if let Some(url) = item.webcast_url().filter(|u| is_web(u)) {
        out.push(Link { label: WATCH_LIVE, url: url.to_string() });
    }
    out.extend(pages(item));
    out
}

/// The item's pages without the webcast: its main page first.
pub(crate) fn pages(item: &Item) -> Vec<Link> {
    let mut out = Vec::new();
    let path = match item.kind() {
        ItemKind::Launch => "launch",
        ItemKind::Event => "event",
    };
    if is_slug(&item.slug) {
        out.push(Link { label: "Space Launch Now", url: format!("https://spacelaunchnow.me/{path}/{}/", item.slug) });
    }
    if is_slug(&item.id.id) {
        out.push(Link { label: "Go4Liftoff", url: format!("https://go4liftoff.com/{path}/id/{}", item.id.id) });
    }
    let (label, given) = match item.kind() {
        ItemKind::Launch => (FLIGHT_CLUB, &item.details.flightclub_url),
        ItemKind::Event => (EVENT_INFO, &item.details.info_url),
    };
    if let Some(url) = given.as_deref().map(str::trim).filter(|u| is_web(u)) {
        out.push(Link { label, url: url.to_string() });
    }
    out
}

/// Label of a launch's Flight Club page.
pub(crate) const FLIGHT_CLUB: &str = "Flight Club";
/// Label of an event's own information page.
pub(crate) const EVENT_INFO: &str = "Official page";

/// The one page to open for an item (a calendar's `URL`, an embed title).
#[cfg_attr(feature = "testing", visibility::make(pub))]
pub(crate) fn main_page(item: &Item) -> Option<String> {
    pages(item).into_iter().next().map(|l| l.url)
}

/// Whether a link may be shown: http(s) and not the LL2 API.
pub(crate) fn is_web(url: &str) -> bool {
    (url.starts_with("https://") || url.starts_with("http://")) && !is_ll2_api(url)
}

/// Whether a URL points at the Launch Library 2 API (any host, any version).
#[cfg_attr(feature = "testing", visibility::make(pub))]
pub(crate) fn is_ll2_api(url: &str) -> bool {
    url.contains("thespacedevs.com/2.") || url.contains("/api/ll/")
}

/// Slugs and ids are safe path segments: letters, digits, `-` and `_`.
fn is_slug(s: &str) -> bool {
    !s.is_empty() && s.len() <= 200 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::item::Video;
    use crate::types::ItemId;

    fn item(kind: ItemKind, id: &str, slug: &str) -> Item {
        let mut it = crate::detect::tests::sample_launch();
        it.id = ItemId::new(kind, id);
        it.slug = slug.into();
        it.videos.clear();
        it
    }

    #[test]
    fn launch_pages_by_slug_and_id() {
        let it = item(ItemKind::Launch, "f059c8f4-1bd8-4c63-a1c6-4a0dbbd5ef2e", "falcon-9-block-5-starlink-10-12");
        let links = for_item(&it);
        assert_eq!(links[0].url, "https://spacelaunchnow.me/launch/falcon-9-block-5-starlink-10-12/");
        assert_eq!(links[1].url, "https://go4liftoff.com/launch/id/f059c8f4-1bd8-4c63-a1c6-4a0dbbd5ef2e");
        assert_eq!(main_page(&it).as_deref(), Some(links[0].url.as_str()));
    }

    #[test]
    fn event_pages() {
        let it = item(ItemKind::Event, "1280", "spacex-crew-10-docking");
        let urls: Vec<String> = pages(&it).into_iter().map(|l| l.url).collect();
        assert_eq!(
            urls,
            ["https://spacelaunchnow.me/event/spacex-crew-10-docking/", "https://go4liftoff.com/event/id/1280"]
        );
    }

    #[test]
    fn webcast_first_and_never_the_api() {
        let mut it = item(ItemKind::Launch, "abc", "a-b");
        it.url = Some("https://ll.thespacedevs.com/2.3.0/launches/abc/".into());
        it.videos.push(Video { url: "https://www.youtube.com/watch?v=x".into(), title: None, live: Some(true) });
        let links = for_item(&it);
        assert_eq!(links[0].label, WATCH_LIVE);
        assert!(links.iter().all(|l| !is_ll2_api(&l.url)));
        it.videos[0].url = "https://lldev.thespacedevs.com/2.3.0/launches/abc/".into();
        assert!(for_item(&it).iter().all(|l| l.label != WATCH_LIVE));
    }

    #[test]
    fn flight_club_and_event_pages_as_ll2_gives_them() {
        let mut it = item(ItemKind::Launch, "abc", "a-b");
        it.details.flightclub_url = Some("https://flightclub.io/result?llId=abc".into());
        assert_eq!(pages(&it)[2], Link { label: FLIGHT_CLUB, url: "https://flightclub.io/result?llId=abc".into() });
        let mut ev = item(ItemKind::Event, "12", "");
        ev.details.info_url = Some("https://www.esa.int/juice".into());
        assert_eq!(main_page(&ev).as_deref(), Some("https://go4liftoff.com/event/id/12"));
        assert_eq!(pages(&ev)[1].label, EVENT_INFO);
        ev.details.info_url = Some("https://ll.thespacedevs.com/2.3.0/events/12/".into());
        assert_eq!(pages(&ev).len(), 1, "never the API");
    }

    #[test]
    fn odd_slugs_are_not_linked() {
        let it = item(ItemKind::Launch, "a b", "x/../y");
        assert!(pages(&it).is_empty());
    }
}
