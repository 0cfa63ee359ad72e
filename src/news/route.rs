//! Where an article goes. It routes like an alert about the items it is
//! linked to: for each linked item the store knows, the routing index
//! names the subscriptions that want a `news` alert about it (their
//! agency, program and type filters, exclusions and mutes apply, so a
//! muted launch's news is muted too), and each destination gets the
//! article once, through the first of its linked items that reaches it:
//! one `news` alert per such item, one outbox entry per destination. An
//! article linked to nothing the store knows rides on a placeholder item
//! ([`unlinked_item`]) and reaches only subscriptions without a filter.
//! A destination the article was sent to before (an edit brought it back)
//! gets nothing.
//!
//! Also here, for the chat front-ends and the digest: which stored
//! articles are about what a destination follows ([`latest_for`],
//! [`headlines_since`]). Pure functions over what the caller read.

use std::collections::HashSet;

use chrono::{DateTime, Utc};

use super::model::Article;
use crate::detect::{Alert, AlertId, Change};
use crate::item::Item;
use crate::rules::{Index, Subscription, Target};
use crate::store::FanOut;
use crate::types::{AlertKind, Destination, ItemId};

/// One article's alerts, deliveries and sent marks.
#[derive(Debug, Default)]
pub(crate) struct Routed {
    /// One `news` alert per linked item that reaches a destination first.
    pub(crate) alerts: Vec<Alert>,
    /// Their deliveries, one target per destination in all.
    pub(crate) fan_outs: Vec<FanOut>,
    /// The destinations it goes to, as sent marks.
    pub(crate) sent: Vec<(u64, Destination)>,
}

/// The item an article linked to nothing known rides on: no agency, no
/// program, no type, an empty id (nothing can mute it), the article's
/// title as its name and its publication as its date of change.
pub(crate) fn unlinked_item(article: &Article) -> Item {
    let value = serde_json::json!({
        "id": { "kind": "event", "id": "" },
        "name": article.title,
        "last_updated": article.published_at,
    });
    // A fixed shape of our own type: it always reads.
    serde_json::from_value(value).expect("the placeholder item reads")
}

/// Whether `item` is the placeholder of an unlinked article.
pub(crate) fn is_unlinked(item: &Item) -> bool {
    item.id.id.is_empty()
}

/// Routes `article`. `known`: the stored snapshots of its linked items, in
/// the article's order; `unfiltered(sub)`: whether a subscription has no
/// filter (for unlinked articles); `sent(dest)`: whether the article went
/// there already; `next_id` allocates alert ids.
pub(crate) fn route(
    article: &Article,
    known: Vec<Item>,
    index: &Index,
    unfiltered: impl Fn(crate::rules::SubId) -> bool,
    sent: impl Fn(&Destination) -> bool,
    mut next_id: impl FnMut() -> AlertId,
    now: DateTime<Utc>,
) -> Routed {
    let groups: Vec<(Item, Vec<Target>)> = if known.is_empty() {
        let item = unlinked_item(article);
        let subs: Vec<_> = index.route(&item, AlertKind::News).into_iter().filter(|s| unfiltered(*s)).collect();
        vec![(item, index.targets(&subs))]
    } else {
        known
            .into_iter()
            .map(|item| {
                let subs = index.route(&item, AlertKind::News);
                let targets = index.targets(&subs);
                (item, targets)
            })
            .collect()
    };
    let mut claimed: HashSet<Destination> = HashSet::new();
    let mut out = Routed::default();
    for (item, targets) in groups {
        let targets: Vec<Target> =
            targets.into_iter().filter(|t| !sent(&t.destination) && claimed.insert(t.destination.clone())).collect();
        if targets.is_empty() {
            continue;
        }
        let id = next_id();
        out.sent.extend(targets.iter().map(|t| (article.id, t.destination.clone())));
        out.fan_outs.push(FanOut { alert: id, targets, enqueued_at: now });
        let change = Change::News { article: Box::new(article.clone()) };
        out.alerts.push(Alert::new(id, item, vec![change], now));
    }
    out
}

/// Whether an article whose linked items the store knows as `known` is
/// about what `subs` follow: a linked item one of them selects, or, for an
/// article linked to nothing known, one of them without a filter. Mutes are not
/// asked: this is for reading, not for sending.
fn about(known: &[Item], subs: &[Subscription]) -> bool {
    if known.is_empty() {
        return subs.iter().any(|s| s.enabled && s.filter.is_everything());
    }
    known.iter().any(|item| subs.iter().any(|s| s.enabled && s.filter.matches(item)))
}

/// The newest `limit` of `articles` (newest first) about what `subs`
/// follow; with no subscription, simply the newest. `lookup` reads a
/// linked item's stored snapshot. For `/news`.
pub(crate) fn latest_for(
    articles: &[Article],
    subs: &[Subscription],
    lookup: impl Fn(&ItemId) -> Option<Item>,
    limit: usize,
) -> Vec<Article> {
    articles.iter().filter(|a| subs.is_empty() || about(&known_of(a, &lookup), subs)).take(limit).cloned().collect()
}

/// The headlines published at or after `since` for a destination whose
/// subscriptions are `subs`, among those that chose `news`, newest first.
/// The digest calls it once per destination.
pub(crate) fn headlines_since(
    articles: &[Article],
    subs: &[Subscription],
    lookup: impl Fn(&ItemId) -> Option<Item>,
    since: DateTime<Utc>,
) -> Vec<Article> {
    let news: Vec<Subscription> = subs.iter().filter(|s| s.alerts.contains(&AlertKind::News)).cloned().collect();
    if news.is_empty() {
        return Vec::new();
    }
    articles.iter().filter(|a| a.published_at >= since && about(&known_of(a, &lookup), &news)).cloned().collect()
}

/// The stored snapshots of the items `article` is linked to.
pub(crate) fn known_of(article: &Article, lookup: impl Fn(&ItemId) -> Option<Item>) -> Vec<Item> {
    article.linked().iter().filter_map(lookup).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::{Filter, Origin, SubId};
    use crate::types::{ChatId, ItemKind};

    fn article() -> Article {
        let page = crate::news::model::parse_page(include_bytes!("../../tests/fixtures/snapi/articles-page-1.json"));
        page.unwrap().articles.remove(0)
    }

    fn chat(n: i64) -> Destination {
        Destination::Telegram(ChatId(n))
    }

    fn sub(id: u64, to: i64, filter: Filter, alerts: Vec<AlertKind>) -> Subscription {
        Subscription::new(SubId(id), chat(to), filter, Origin::Chat).with_alerts(alerts)
    }

    #[test]
    fn one_alert_per_destination_never_twice_and_only_for_news() {
        let launch = crate::detect::tests::sample_launch();
        let other = Item { id: ItemId::new(ItemKind::Launch, "other"), ..launch.clone() };
        let subs = [
            sub(1, 5, Filter::default(), vec![AlertKind::News]),
            sub(2, 6, Filter::default(), vec![AlertKind::News, AlertKind::Status]),
            sub(3, 7, Filter::default(), AlertKind::ALL.to_vec()),
        ];
        let index = Index::from_subscriptions(&subs);
        let a = article();
        let now = a.published_at;
        let mut n = 0;
        let mut ids = || {
            n += 1;
            AlertId(n)
        };
        let r = route(&a, vec![launch.clone(), other.clone()], &index, |_| true, |_| false, &mut ids, now);
        assert_eq!(r.alerts.len(), 1, "both destinations are reached through the first item");
        assert_eq!(r.sent, [(a.id, chat(5)), (a.id, chat(6))], "chat 7 did not choose news");
        assert!(matches!(&r.alerts[0].changes[..], [Change::News { .. }]));

        let r = route(&a, vec![launch, other], &index, |_| true, |d| *d == chat(5), &mut ids, now);
        assert_eq!(r.sent, [(a.id, chat(6))], "where it went before it goes no more");
    }

    #[test]
    fn an_unlinked_article_goes_only_to_subscriptions_without_a_filter() {
        let spacex = Filter { agencies: vec!["SpaceX".into()], ..Filter::default() };
        let subs = [sub(1, 5, Filter::default(), vec![AlertKind::News]), sub(2, 6, spacex, vec![AlertKind::News])];
        let index = Index::from_subscriptions(&subs);
        let a = article();
        let unfiltered = |id: SubId| subs.iter().any(|s| s.id == id && s.filter.is_everything());
        let r = route(&a, Vec::new(), &index, unfiltered, |_| false, || AlertId(1), a.published_at);
        assert_eq!(r.sent, [(a.id, chat(5))]);
        assert!(is_unlinked(&r.alerts[0].item));

        // `/news` and the digest read the same way.
        let articles = [a.clone()];
        assert_eq!(latest_for(&articles, &subs[1..], |_| None, 5), Vec::<Article>::new());
        assert_eq!(latest_for(&articles, &subs[..1], |_| None, 5), articles);
        assert_eq!(headlines_since(&articles, &subs, |_| None, a.published_at), articles);
        assert!(headlines_since(&articles, &subs, |_| None, a.published_at + chrono::Duration::seconds(1)).is_empty());
    }
}
