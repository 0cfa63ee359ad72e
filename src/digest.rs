//! Digests: at each due moment of a destination's digest schedule
//! (`rules::DigestSchedule`, `digest = "daily 08:00"` on a watch,
//! `/digest` in a chat) one message listing what its subscriptions select
//! in the next 24 hours or 7 days, in date order, local times, with status.
//! It owns when a digest is due and what it lists; it must not send
//! anything (the outbox and `deliver` do) nor talk to LL2 (it reads the
//! stored snapshots).
//!
//! Rules:
//! - **One message per destination and schedule.** The subscriptions at a
//!   destination with the same schedule make one digest, like `deliver`'s
//!   merge: the union of what their filters select, the chat's own zone
//!   when a chat's subscription is among them (else the first one's), the
//!   chat's mutes when one of them is the chat's own. Independent of the
//!   alert kinds: `/alerts reminder` plus `/digest daily 08:00` gets
//!   reminders and the digest.
//! - **Once per due moment, never twice.** A pass (at start, at each due
//!   moment and at least once a minute, one scan of the subscriptions)
//!   takes the latest due moment at or before now; it is handled when it is at most `grace` old (a digest missed while the bot
//!   was down is sent once on start) and newer than the destination's
//!   durable mark. The mark, the digest record and its outbox entry commit
//!   in one transaction (`Store::enqueue_digest`).
//! - **Nothing when empty.** An empty list sends nothing; its due moment
//!   is marked handled all the same (logged at debug).
//! - **Decided at due time, drawn at send time.** The record keeps the
//!   listed item ids (small, unlike snapshots: a weekly list of ~50 items
//!   would pass sled's blob threshold); the deliverer draws the message
//!   from the snapshots as they are when it sends (fresh status and
//!   dates, the chat's zone and quiet hours then), via [`message`].
//!   The news headlines are a [`Section`] of their own ([`news_section`]).

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::detect::AlertId;
use crate::item::Item;
use crate::render::Message;
use crate::rules::{DigestSchedule, Origin, Subscription};
use crate::store::{DigestRecord, Store, StoreError};
use crate::types::{AlertKind, Destination};

/// Most entries one digest message lists; the rest are counted in a last
/// line pointing to `/next` (a message must stay readable and within
/// Telegram's 4096 characters).
pub(crate) const MAX_LISTED: usize = 15;

/// How late a digest may still go out: one missed while the bot was down
/// for less than this is sent once on start; a later one is skipped.
pub(crate) const DIGEST_GRACE: Duration = Duration::from_secs(3600);

/// The longest the task waits between passes (a chat may set a digest
/// due sooner than the ones it knew).
const TICK: Duration = Duration::from_secs(60);

/// Digest records are dropped this long after their due moment.
const KEEP_RECORDS: chrono::Duration = chrono::Duration::days(2);

/// The subscriptions at one destination sharing one schedule: one digest.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Group {
    /// Where it goes.
    pub(crate) destination: Destination,
    /// When.
    pub(crate) schedule: DigestSchedule,
    /// The enabled subscriptions there with this schedule, in id order.
    pub(crate) subs: Vec<Subscription>,
}

/// Groups the enabled subscriptions that have a digest, by destination and
/// schedule, in a stable order.
pub(crate) fn groups(subs: Vec<Subscription>) -> Vec<Group> {
    let mut by: BTreeMap<(String, String), Group> = BTreeMap::new();
    for s in subs.into_iter().filter(|s| s.enabled) {
        let Some(schedule) = s.digest else { continue };
        by.entry((s.destination.storage_key(), schedule.to_string()))
            .or_insert_with(|| Group { destination: s.destination.clone(), schedule, subs: Vec::new() })
            .subs
            .push(s);
    }
    by.into_values().collect()
}

/// The zone a group's digest is shown and scheduled in: the chat's own
/// (`chat_timezone`) when a chat's subscription is among them, else the
/// first subscription's.
pub(crate) fn zone(subs: &[Subscription], chat_timezone: Option<Tz>) -> Tz {
    let chat = subs.iter().any(|s| s.origin == Origin::Chat);
    chat_timezone.filter(|_| chat).or_else(|| subs.first().map(|s| s.timezone)).unwrap_or(chrono_tz::UTC)
}

/// The items a digest of `subs` lists for `[from, until)`: dated in the
/// span, selected by any of them, not muted (`muted` is asked only when a
/// chat's own subscription is among them); soonest first.
pub(crate) fn select<'a>(
    items: &'a [Item],
    subs: &[Subscription],
    muted: impl Fn(&Item) -> bool,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Vec<&'a Item> {
    let chat = subs.iter().any(|s| s.origin == Origin::Chat);
    let mut out: Vec<&Item> = items
        .iter()
        .filter(|i| i.when.is_some_and(|w| from <= w && w < until))
        .filter(|i| subs.iter().any(|s| s.filter.matches(i)))
        .filter(|i| !(chat && muted(i)))
        .collect();
    out.sort_by_key(|i| (i.when, i.name.clone()));
    out
}

/// One titled block of a digest's lines: launches and events, then the
/// news headlines when the destination chose `news`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Section {
    /// Its heading; `None` for the only section.
    pub(crate) title: Option<String>,
    /// One line per entry.
    pub(crate) lines: Vec<String>,
}

/// The launches-and-events section: one numbered `/next`-style line per
/// item (at most [`MAX_LISTED`], then a count of the rest).
pub(crate) fn items_section(items: &[&Item], tz: Tz, now: DateTime<Utc>) -> Section {
    let mut lines: Vec<String> = (1..)
        .zip(items.iter().take(MAX_LISTED))
        .map(|(n, i)| format!("{n}. {}", crate::commands::next::entry(i, tz, now, false)))
        .collect();
    if items.len() > MAX_LISTED {
        lines.push(format!("…and {} more: /next 20", items.len() - MAX_LISTED));
    }
    Section { title: None, lines }
}

/// Most headlines a digest lists (`/news` shows more).
pub(crate) const MAX_HEADLINES: usize = 5;

/// The news section: the headlines of the span just past about what the
/// destination follows, newest first (`news::headlines_for`, which is empty
/// unless one of its subscriptions chose `news`), with site and link;
/// `None` without any.
pub(crate) fn news_section(articles: &[crate::news::Article]) -> Option<Section> {
    if articles.is_empty() {
        return None;
    }
    let mut lines: Vec<String> =
        articles.iter().take(MAX_HEADLINES).map(|a| format!("{} — {}: {}", a.title, a.news_site, a.url)).collect();
    if articles.len() > MAX_HEADLINES {
        lines.push(format!("…and {} more: /news", articles.len() - MAX_HEADLINES));
    }
    Some(Section { title: Some("News".into()), lines })
}

/// The digest as a platform-neutral message: headline and span, then the
/// sections' lines (a heading line before each titled section).
pub(crate) fn message(schedule: DigestSchedule, count: usize, sections: &[Section], tz: Tz) -> Message {
    let span = match schedule {
        DigestSchedule::Daily(_) => "the next 24 hours",
        DigestSchedule::Weekly(..) => "the next 7 days",
    };
    let mut changes = Vec::new();
    for s in sections {
        changes.extend(s.title.iter().map(|t| format!("— {t} —")));
        changes.extend(s.lines.iter().cloned());
    }
    let things = if count == 1 { "1 launch or event".to_string() } else { format!("{count} launches and events") };
    let title = format!("{things} in {span} (times in {})", tz.name());
    // Colour of a reminder: a digest is a calm heads-up.
    Message { changes, ..Message::bare(AlertKind::Reminder, "📋", schedule.title().to_string(), title) }
}

/// Queues the digests that come due.
#[cfg_attr(feature = "testing", visibility::make(pub))]
pub(crate) struct Digests {
    store: Store,
    grace: Duration,
    wake_delivery: std::sync::Arc<Notify>,
}

impl Digests {
    /// `grace`: how late a digest may still go out (after a restart);
    /// `wake_delivery` is notified when one is queued.
    pub(crate) fn new(store: Store, grace: Duration, wake_delivery: std::sync::Arc<Notify>) -> Digests {
        Digests { store, grace, wake_delivery }
    }

    /// The groups with a digest, each with its zone: one scan of the
    /// subscriptions, keeping only those with a digest.
    fn digest_groups(&self) -> Result<Vec<(Group, Tz)>, StoreError> {
        let mut with_digest = Vec::new();
        self.store.for_each_subscription(|s| {
            if s.digest.is_some() && s.enabled {
                with_digest.push(s);
            }
        })?;
        let mut out = Vec::new();
        for g in groups(with_digest) {
            let tz = zone(&g.subs, self.store.chat_settings(&g.destination)?.map(|c| c.timezone));
            out.push((g, tz));
        }
        Ok(out)
    }

    /// Queues every digest due at `now` and not yet handled; returns how
    /// many were queued (empty ones are not counted).
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) async fn pass(&self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        self.pass_over(&self.digest_groups()?, now).await
    }

    async fn pass_over(&self, groups: &[(Group, Tz)], now: DateTime<Utc>) -> Result<usize, StoreError> {
        let grace = chrono::Duration::from_std(self.grace).unwrap_or_default();
        let mut items: Option<Vec<Item>> = None;
        let mut queued = 0;
        for (g, tz) in groups {
            let Some(due) = g.schedule.last_due(now, *tz).filter(|d| now - *d <= grace) else { continue };
            if self.store.digest_handled(&g.destination, g.schedule)?.is_some_and(|m| m >= due) {
                continue;
            }
            let items = match &mut items {
                Some(i) => i,
                None => items.insert(self.store.items()?),
            };
            let until = due + chrono::Duration::from_std(g.schedule.window()).unwrap_or_default();
            let muted = |i: &Item| self.store.is_muted(&g.destination, &i.id).unwrap_or(false);
            let listed = select(items, &g.subs, muted, now, until);
            if listed.is_empty() {
                debug!(dest = %g.destination, schedule = %g.schedule, "digest due with nothing to list; nothing sent");
                self.store.digest_skipped(&g.destination, g.schedule, due)?;
                continue;
            }
            let record = DigestRecord {
                id: AlertId(self.store.next_id()?),
                destination: g.destination.clone(),
                schedule: g.schedule,
                due,
                until,
                items: listed.iter().map(|i| i.id.clone()).collect(),
            };
            self.store.enqueue_digest(&record, g.subs[0].id, now)?;
            info!(dest = %g.destination, schedule = %g.schedule, items = record.items.len(), "digest due");
            queued += 1;
        }
        if queued > 0 {
            self.store.flush().await?;
            self.wake_delivery.notify_one();
        }
        Ok(queued)
    }

    /// One round of `run`: the due digests queued, old records pruned, and
    /// how long to wait for the next round (until the soonest due moment,
    /// at most [`TICK`]: subscriptions change meanwhile).
    async fn round(&self) -> Duration {
        let now = Utc::now();
        let groups = self.digest_groups().unwrap_or_else(|e| {
            warn!(error = %e, "reading digest schedules failed");
            Vec::new()
        });
        if let Err(e) = self.pass_over(&groups, now).await {
            warn!(error = %e, "digest pass failed");
        }
        if let Err(e) = self.store.prune_digests(now - KEEP_RECORDS) {
            warn!(error = %e, "pruning old digests failed");
        }
        let soonest = groups.iter().filter_map(|(g, tz)| g.schedule.next_due(now, *tz)).min();
        // A little past the moment, so the pass finds it due.
        let due_in = soonest.map(|at| (at - Utc::now()).to_std().unwrap_or_default() + Duration::from_millis(50));
        due_in.unwrap_or(TICK).min(TICK)
    }

    /// Looks for due digests at start, then at each due moment and at
    /// least once a minute, until shutdown.
    pub(crate) async fn run(&self, shutdown: CancellationToken) {
        loop {
            let wait = self.round().await;
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.cancelled() => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::tests::sample_launch;
    use crate::rules::{Filter, SubId};
    use crate::types::{ChatId, ItemId, ItemKind};

    fn launch(id: &str, name: &str, hours: i64, now: DateTime<Utc>) -> Item {
        let mut i = sample_launch();
        i.id = ItemId::new(ItemKind::Launch, id);
        i.name = name.into();
        i.when = Some(now + chrono::Duration::hours(hours));
        i
    }

    fn sub(id: u64, dest: i64, origin: Origin, digest: Option<&str>) -> Subscription {
        Subscription::new(SubId(id), Destination::Telegram(ChatId(dest)), Filter::default(), origin)
            .with_digest(digest.map(|d| d.parse().unwrap()))
    }

    fn watch() -> Origin {
        Origin::Config { watch: "w".into() }
    }

    #[test]
    fn one_group_per_destination_and_schedule_of_enabled_subscriptions() {
        let off = Subscription { enabled: false, ..sub(4, 1, Origin::Chat, Some("daily 08:00")) };
        let all = vec![
            sub(1, 1, watch(), Some("daily 08:00")),
            sub(2, 1, Origin::Chat, Some("daily 08:00")),
            sub(3, 1, Origin::Chat, Some("weekly mon 08:00")),
            off,
            sub(5, 2, Origin::Chat, None),
            sub(6, 3, Origin::Chat, Some("daily 08:00")),
        ];
        let g = groups(all);
        let shape: Vec<(String, Vec<u64>)> = g
            .iter()
            .map(|g| (format!("{} {}", g.destination, g.schedule), g.subs.iter().map(|s| s.id.0).collect()))
            .collect();
        assert_eq!(shape.len(), 3, "{shape:?}");
        assert!(
            shape.contains(&(format!("{} daily 08:00", Destination::Telegram(ChatId(1))), vec![1, 2])),
            "{shape:?}"
        );
        assert!(shape.iter().all(|(_, ids)| !ids.contains(&4) && !ids.contains(&5)));
        let berlin = Some(chrono_tz::Europe::Berlin);
        let mut w = sub(1, 1, watch(), None);
        w.timezone = chrono_tz::Asia::Tokyo;
        assert_eq!(zone(&g[0].subs, berlin), chrono_tz::Europe::Berlin, "a chat's own subscription: its zone");
        assert_eq!(zone(std::slice::from_ref(&w), berlin), chrono_tz::Asia::Tokyo, "a watch alone: its zone");
    }

    #[test]
    fn lists_the_union_in_the_window_soonest_first_without_muted_items() {
        let now: DateTime<Utc> = "2026-12-07T07:00:00Z".parse().unwrap();
        let mut items = vec![
            launch("c", "Gamma", 20, now),
            launch("a", "Alpha", 2, now),
            launch("late", "Too late", 30, now),
            launch("past", "Gone", -1, now),
            launch("b", "Beta", 5, now),
        ];
        items[4].agencies.clear();
        let only = |name: &str| Filter { agencies: vec![name.into()], ..Filter::default() };
        let spacex = Subscription { filter: only("SpaceX"), ..sub(1, 1, watch(), None) };
        let nobody = Subscription { filter: only("Nobody"), ..sub(2, 1, watch(), None) };
        let until = now + chrono::Duration::hours(24);
        let names = |subs: &[Subscription], muted: &dyn Fn(&Item) -> bool| -> Vec<String> {
            select(&items, subs, muted, now, until).iter().map(|i| i.name.clone()).collect()
        };
        assert_eq!(names(std::slice::from_ref(&spacex), &|_| false), ["Alpha", "Gamma"], "Beta has no SpaceX");
        assert_eq!(names(std::slice::from_ref(&nobody), &|_| false), Vec::<String>::new());
        let everything = sub(3, 1, watch(), None);
        assert_eq!(names(&[nobody, everything.clone()], &|_| false), ["Alpha", "Beta", "Gamma"], "the union");
        let muted = |i: &Item| i.name == "Beta";
        assert_eq!(
            names(std::slice::from_ref(&everything), &muted),
            ["Alpha", "Beta", "Gamma"],
            "a watch alone: no chat mutes"
        );
        let chat = Subscription { origin: Origin::Chat, ..everything };
        assert_eq!(names(&[chat], &muted), ["Alpha", "Gamma"], "the chat's mutes hold");
    }

    #[test]
    fn the_message_lists_local_times_and_status_and_counts_the_rest() {
        let now: DateTime<Utc> = "2026-12-07T07:00:00Z".parse().unwrap();
        let items: Vec<Item> = (0..20).map(|n| launch(&n.to_string(), &format!("L{n}"), n + 1, now)).collect();
        let listed: Vec<&Item> = items.iter().collect();
        let berlin = chrono_tz::Europe::Berlin;
        let schedule: DigestSchedule = "daily 08:00".parse().unwrap();
        let two = message(schedule, 2, &[items_section(&listed[..2], berlin, now)], berlin);
        assert_eq!((two.headline.as_str(), two.emoji), ("Daily digest", "📋"));
        assert!(
            two.title.contains("2 launches and events in the next 24 hours") && two.title.contains("Europe/Berlin")
        );
        assert_eq!(two.changes.len(), 2);
        assert!(
            two.changes[0].starts_with("1. L0 — ") && two.changes[0].contains("09:00"),
            "local time: {:?}",
            two.changes
        );
        assert!(
            two.changes[0].contains("T-1h") && two.changes[0].contains('['),
            "countdown and status: {:?}",
            two.changes
        );
        let all = message(schedule, 20, &[items_section(&listed, berlin, now)], berlin);
        assert_eq!(all.changes.len(), MAX_LISTED + 1);
        assert_eq!(all.changes.last().unwrap(), "…and 5 more: /next 20");
        let titled = Section { title: Some("News".into()), lines: vec!["headline".into()] };
        let more = message(schedule, 2, &[items_section(&listed[..2], berlin, now), titled], berlin);
        assert_eq!(more.changes[2..], ["— News —".to_string(), "headline".to_string()]);
    }

    #[test]
    fn the_news_section_lists_five_headlines_with_site_and_link() {
        assert_eq!(news_section(&[]), None, "no headlines, no section");
        let article = |n: u64| -> crate::news::Article {
            serde_json::from_value(serde_json::json!({
                "id": n, "title": format!("Headline {n}"), "url": format!("https://news.example/{n}"),
                "news_site": "Example News", "summary": "", "published_at": "2026-07-22T08:00:00Z",
                "updated_at": "2026-07-22T08:00:00Z",
            }))
            .unwrap()
        };
        let many: Vec<_> = (1..=7).map(article).collect();
        let s = news_section(&many).unwrap();
        assert_eq!(s.title.as_deref(), Some("News"));
        assert_eq!(s.lines[0], "Headline 1 — Example News: https://news.example/1");
        assert_eq!(s.lines.len(), MAX_HEADLINES + 1);
        assert_eq!(s.lines[MAX_HEADLINES], "…and 2 more: /news");
    }
}
