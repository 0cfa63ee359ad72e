//! Change detection: compares a fresh item with its stored snapshot and
//! names what changed, as alert-worthy `Change`s. Pure functions over plain
//! data; it must not read the store, the clock or the network.
//!
//! A `last_updated` bump alone is not news: LL2 bumps it for unrelated edits
//! (about one time in five in real polling), so only the fields people care
//! about are compared.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::item::{Item, Named, Precision};
use crate::types::AlertKind;

/// Stable id of an alert, allocated by the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AlertId(pub u64);

/// What changed about an item, with the values needed to tell people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Change {
    /// First time this item is seen.
    New,
    /// Date/NET, its precision or the window moved.
    Schedule {
        /// The date before (`net` / `date`), UTC; `None` if there was none.
        old_when: Option<DateTime<Utc>>,
        /// The date now, UTC.
        new_when: Option<DateTime<Utc>>,
        /// How precisely the old date was known.
        old_precision: Option<Precision>,
        /// How precisely the new date is known.
        new_precision: Option<Precision>,
        /// Launch window (start, end) before, UTC.
        old_window: (Option<DateTime<Utc>>, Option<DateTime<Utc>>),
        /// Launch window (start, end) now, UTC.
        new_window: (Option<DateTime<Utc>>, Option<DateTime<Utc>>),
    },
    /// Launch status changed (Go, Hold, Success, Failure…).
    Status {
        /// The status before; `None` if LL2 gave none.
        old: Option<Named>,
        /// The status now.
        new: Option<Named>,
    },
    /// Booster landing results arrived (LL2 fills them in after the
    /// launch). Heard as a status change: it is how the flight ended.
    Landing {
        /// The landings whose result is new, as they are now.
        results: Vec<crate::item::Landing>,
    },
    /// The webcast went live or a video link was added.
    Webcast {
        /// True when the item or one of its videos turned live; false when
        /// only a link was added.
        went_live: bool,
        /// The link to show: the video that went live or was added, else
        /// the item's best one.
        url: Option<String>,
    },
    /// A T-minus reminder before the item's date.
    Reminder {
        /// How long before `when` the reminder fires (stored in seconds).
        #[serde(with = "secs")]
        offset: Duration,
        /// The item's date the reminder counts down to, UTC.
        when: DateTime<Utc>,
    },
    /// A news article about the item (see `crate::news`); an article about
    /// nothing the store knows rides on [`crate::news::unlinked_item`].
    News {
        /// The article, as the news feed read it.
        article: Box<crate::news::model::Article>,
    },
}

impl Change {
    /// The alert kind a subscription must want to hear of this change.
    pub fn kind(&self) -> AlertKind {
        match self {
            Change::New => AlertKind::New,
            Change::Schedule { .. } => AlertKind::Schedule,
            Change::Status { .. } | Change::Landing { .. } => AlertKind::Status,
            Change::Webcast { .. } => AlertKind::Webcast,
            Change::Reminder { .. } => AlertKind::Reminder,
            Change::News { .. } => AlertKind::News,
        }
    }

    /// Importance, lower first: status > landing > webcast > schedule > new
    /// (a reminder and an article are always alone).
    pub(crate) fn rank(&self) -> u8 {
        match self {
            Change::Status { .. } => 0,
            Change::Landing { .. } => 1,
            Change::Webcast { .. } => 2,
            Change::Schedule { .. } => 3,
            Change::New => 4,
            Change::Reminder { .. } => 5,
            Change::News { .. } => 6,
        }
    }

    /// For a schedule change: how soon the nearer of the old and new dates
    /// comes after `now`. An old date that has already passed counts as
    /// zero, the nearest there is: the item was due, so moving it is news
    /// (a scrub after T-0 moved days out must reach a subscriber whose
    /// horizon is shorter than the new date). `None` when the old date is
    /// unknown and the new one passed or is unknown.
    pub(crate) fn nearest_future_date(&self, now: DateTime<Utc>) -> Option<Duration> {
        let Change::Schedule { old_when, new_when, .. } = self else { return None };
        if old_when.is_some_and(|d| d <= now) {
            return Some(Duration::ZERO);
        }
        [*old_when, *new_when]
            .into_iter()
            .flatten()
            .filter(|d| *d >= now)
            .map(|d| (d - now).to_std().unwrap_or_default())
            .min()
    }

    /// How far the date moved, when both ends are known.
    #[cfg(test)]
    pub(crate) fn shift(&self) -> Option<chrono::Duration> {
        match self {
            Change::Schedule { old_when: Some(o), new_when: Some(n), .. } => Some(*n - *o),
            _ => None,
        }
    }
}

/// One alert: the changes of one item found in one poll (or one reminder),
/// with the item as it is now. `changes` is never empty and is ordered by
/// importance, the headline first (see [`Change::rank`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "AlertRecord")]
pub struct Alert {
    /// Its key in the store (outbox entries refer to it).
    pub id: AlertId,
    /// The item as it is now, after the changes.
    pub item: Item,
    /// What changed, most important first; never empty.
    pub changes: Vec<Change>,
    /// When the poll (or reminder pass) found it, UTC.
    pub detected_at: DateTime<Utc>,
}

/// How an alert is read from the store: records written before alerts
/// grouped changes carry a single `change`.
#[derive(Deserialize)]
struct AlertRecord {
    id: AlertId,
    item: Item,
    #[serde(default)]
    changes: Vec<Change>,
    #[serde(default)]
    change: Option<Change>,
    detected_at: DateTime<Utc>,
}

impl From<AlertRecord> for Alert {
    fn from(r: AlertRecord) -> Alert {
        let changes = r.changes.into_iter().chain(r.change).collect();
        Alert::new(r.id, r.item, changes, r.detected_at)
    }
}

impl Alert {
    /// An alert of `changes`, put in headline order.
    pub fn new(id: AlertId, item: Item, mut changes: Vec<Change>, detected_at: DateTime<Utc>) -> Alert {
        changes.sort_by_key(Change::rank);
        Alert { id, item, changes, detected_at }
    }

    /// The headline change.
    pub(crate) fn headline(&self) -> Option<&Change> {
        self.changes.first()
    }

    /// The kind of the headline (reminder for an empty alert, which only a
    /// damaged record can be).
    pub fn kind(&self) -> AlertKind {
        self.headline().map_or(AlertKind::Reminder, Change::kind)
    }

    /// The changes someone hears who wants `kinds` with a schedule
    /// `horizon`: the kinds asked for, schedule changes only within the
    /// horizon (as of detection), and a correction after lift-off only
    /// together with the status it belongs to.
    pub(crate) fn visible(&self, kinds: &[AlertKind], horizon: Option<Duration>) -> Vec<Change> {
        let mut out: Vec<Change> = self
            .changes
            .iter()
            .filter(|c| kinds.contains(&c.kind()))
            .filter(|c| c.kind() != AlertKind::Schedule || within_horizon(c, horizon, self.detected_at))
            .cloned()
            .collect();
        if after_liftoff(&self.item, self.detected_at) && !out.iter().any(|c| c.kind() == AlertKind::Status) {
            out.retain(|c| c.kind() != AlertKind::Schedule);
        }
        out
    }

    /// This alert as seen by someone who wants `kinds` with `horizon`;
    /// `None` when none of its changes is for them.
    pub(crate) fn seen_by(&self, kinds: &[AlertKind], horizon: Option<Duration>) -> Option<Alert> {
        let changes = self.visible(kinds, horizon);
        (!changes.is_empty()).then(|| Alert { changes, ..self.clone() })
    }
}

/// Whether a schedule change is news for someone with a schedule
/// `horizon` at `now`: when the old date has passed, or the old or the new
/// date lies within `now..=now + horizon` (see
/// [`Change::nearest_future_date`]). `None` means no horizon: always.
/// Other changes are not affected.
pub(crate) fn within_horizon(change: &Change, horizon: Option<Duration>, now: DateTime<Utc>) -> bool {
    match (change, horizon) {
        (Change::Schedule { .. }, Some(h)) => change.nearest_future_date(now).is_some_and(|d| d <= h),
        _ => true,
    }
}

/// Whether the item's date has passed at `now` and its status is final
/// (success, failure, partial failure) or in flight: from then on a
/// NET/window correction belongs to the result, not to a message of its own.
pub(crate) fn after_liftoff(item: &Item, now: DateTime<Utc>) -> bool {
    let flown = item
        .status
        .as_ref()
        .and_then(|s| s.id)
        .is_some_and(|id| crate::item::status::FINAL.contains(&id) || id == crate::item::status::IN_FLIGHT);
    flown && item.when.is_some_and(|w| w <= now)
}

/// The changes of one update that may be told at `now`: a correction after
/// lift-off without a status change is dropped (see [`after_liftoff`]).
pub fn fold_after_liftoff(mut changes: Vec<Change>, item: &Item, now: DateTime<Utc>) -> Vec<Change> {
    if after_liftoff(item, now) && !changes.iter().any(|c| c.kind() == AlertKind::Status) {
        changes.retain(|c| c.kind() != AlertKind::Schedule);
    }
    changes
}

/// Names what changed between the stored snapshot `old` and the fresh `new`.
/// No snapshot means the item is new. The result is in a fixed order
/// (schedule, status, webcast) so it does not depend on field order.
pub fn detect(old: Option<&Item>, new: &Item) -> Vec<Change> {
    let Some(old) = old else {
        return vec![Change::New];
    };
    let mut changes = Vec::new();

    let old_window = (old.window_start, old.window_end);
    let new_window = (new.window_start, new.window_end);
    if old.when != new.when || old.precision != new.precision || old_window != new_window {
        changes.push(Change::Schedule {
            old_when: old.when,
            new_when: new.when,
            old_precision: old.precision,
            new_precision: new.precision,
            old_window,
            new_window,
        });
    }

    // By id: LL2 sometimes rewords a status name without changing it.
    let status_id =
        |i: &Item| i.status.as_ref().map(|s| s.id.map_or_else(|| s.name.to_lowercase(), |id| id.to_string()));
    if status_id(old) != status_id(new) {
        changes.push(Change::Status { old: old.status.clone(), new: new.status.clone() });
    }

    let went_live = !old.webcast_live && new.webcast_live;
    let was_live = |i: &Item, url: &str| i.videos.iter().any(|v| v.url == url && v.live == Some(true));
    let new_live_video = new.videos.iter().find(|v| v.live == Some(true) && !was_live(old, &v.url));
    let added_video = new.videos.iter().find(|v| !old.videos.iter().any(|o| o.url == v.url));
    if went_live || new_live_video.is_some() || added_video.is_some() {
        let url =
            new_live_video.or(added_video).map(|v| v.url.clone()).or_else(|| new.webcast_url().map(str::to_owned));
        changes.push(Change::Webcast { went_live: went_live || new_live_video.is_some(), url });
    }

    let results = landing_results(&old.details.landings, &new.details.landings);
    if !results.is_empty() {
        changes.push(Change::Landing { results });
    }

    changes
}

/// `item` as an alert tells it: with its LL2 update note only when the note
/// is newer than the one the snapshot `old` carried (it is then the reason
/// for the change being alerted); an old note is not news.
pub(crate) fn as_told(old: Option<&Item>, item: &Item) -> Item {
    let mut told = item.clone();
    let before = old.and_then(|o| o.details.update.as_ref());
    if !told.details.update.as_ref().is_some_and(|n| n.is_newer_than(before)) {
        told.details.update = None;
    }
    told
}

/// The landings of `new` whose result (success or failure) is known now
/// and was not in `old`. Landings are matched by booster serial, else by
/// position (LL2 lists the cores in a fixed order).
fn landing_results(old: &[crate::item::Landing], new: &[crate::item::Landing]) -> Vec<crate::item::Landing> {
    let before = |i: usize, l: &crate::item::Landing| {
        l.booster
            .as_ref()
            .and_then(|b| old.iter().find(|o| o.booster.as_ref() == Some(b)))
            .or_else(|| old.get(i))
            .and_then(|o| o.success)
    };
    new.iter()
        .enumerate()
        .filter(|(i, l)| l.attempt && l.success.is_some() && before(*i, l) != l.success)
        .map(|(_, l)| l.clone())
        .collect()
}

mod secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_secs())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_secs)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::item::Video;

    /// The sample launch all tests share (`tests/support/data.rs` reads the
    /// same file): a Falcon 9 Starlink launch by SpaceX, Go, NET
    /// 2026-12-05 13:30 UTC to the minute.
    pub(crate) fn sample_launch() -> Item {
        serde_json::from_str(include_str!("../tests/support/sample_launch.json")).expect("an Item")
    }

    /// The sample launch with the details LL2 gives in detailed mode: rocket,
    /// orbit, weather, a booster landing and a Flight Club page.
    pub(crate) fn sample_launch_with_details() -> Item {
        let mut item = sample_launch();
        item.details = crate::item::Details {
            rocket: Some("Falcon 9 Block 5".into()),
            orbit: Some(Named::new(Some(8), "Low Earth Orbit", Some("LEO".into()))),
            probability: Some(90),
            weather: Some("Cumulus Clouds, Flight Through Precipitation".into()),
            landings: vec![crate::item::Landing {
                booster: Some("B1082".into()),
                attempt: true,
                success: None,
                location: Some("OCISLY".into()),
                method: Some("ASDS".into()),
            }],
            flightclub_url: Some(format!("https://flightclub.io/result?llId={}", item.id.id)),
            ..Default::default()
        };
        item
    }

    #[test]
    fn a_landing_result_is_a_status_change_of_its_own() {
        let old = sample_launch_with_details();
        let mut landed = old.clone();
        landed.details.landings[0].success = Some(true);
        let changes = detect(Some(&old), &landed);
        assert_eq!(changes, vec![Change::Landing { results: landed.details.landings.clone() }]);
        assert_eq!(changes[0].kind(), AlertKind::Status);
        // Told once: the same result again is nothing new.
        assert!(detect(Some(&landed), &landed).is_empty());
        // A second core landing later is its own result.
        let mut two = landed.clone();
        two.details
            .landings
            .push(crate::item::Landing { booster: Some("B1085".into()), ..old.details.landings[0].clone() });
        let mut both = two.clone();
        both.details.landings[1].success = Some(false);
        assert_eq!(
            detect(Some(&two), &both),
            vec![Change::Landing { results: vec![both.details.landings[1].clone()] }]
        );
        // No attempt, no result to tell.
        let mut expended = old.clone();
        expended.details.landings[0].attempt = false;
        let mut after = expended.clone();
        after.details.landings[0].success = Some(false);
        assert!(detect(Some(&expended), &after).is_empty());
    }

    #[test]
    fn an_update_note_is_told_only_when_it_is_new() {
        let note = |id, comment: &str| crate::item::UpdateNote {
            id: Some(id),
            comment: comment.into(),
            link: None,
            at: Some("2026-11-20T10:00:00Z".parse().unwrap()),
        };
        let mut old = sample_launch();
        old.details.update = Some(note(1, "NET December."));
        let mut slipped = old.clone();
        slipped.details.update = Some(note(2, "Delayed to NET January 3."));
        assert_eq!(as_told(Some(&old), &slipped).details.update, slipped.details.update);
        assert_eq!(as_told(Some(&slipped), &slipped).details.update, None, "an old note is not news");
        assert_eq!(as_told(None, &slipped).details.update, slipped.details.update);
        // A note LL2 took back (an older one is newest again) is not news.
        assert_eq!(as_told(Some(&slipped), &old).details.update, None);
    }

    #[test]
    fn unseen_item_is_new() {
        assert_eq!(detect(None, &sample_launch()), vec![Change::New]);
    }

    #[test]
    fn identical_item_and_last_updated_bump_are_silent() {
        let old = sample_launch();
        assert!(detect(Some(&old), &old).is_empty());
        let mut bumped = old.clone();
        bumped.last_updated = "2026-11-21T10:00:00Z".parse().unwrap();
        bumped.description = Some("edited text".into());
        assert!(detect(Some(&old), &bumped).is_empty());
    }

    #[test]
    fn net_slip_is_a_schedule_change_with_shift() {
        let old = sample_launch();
        let mut new = old.clone();
        new.when = Some("2026-12-05T16:00:00Z".parse().unwrap());
        let changes = detect(Some(&old), &new);
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].kind(), AlertKind::Schedule);
        assert_eq!(changes[0].shift(), Some(chrono::Duration::minutes(150)));
    }

    #[test]
    fn precision_or_window_change_is_schedule() {
        let old = sample_launch();
        let mut new = old.clone();
        new.precision = Some(Precision::Second);
        assert_eq!(detect(Some(&old), &new)[0].kind(), AlertKind::Schedule);
        let mut new = old.clone();
        new.window_end = Some("2026-12-05T18:00:00Z".parse().unwrap());
        assert_eq!(detect(Some(&old), &new)[0].kind(), AlertKind::Schedule);
    }

    #[test]
    fn status_change_including_results() {
        let old = sample_launch();
        for (id, name) in [
            (5, "On Hold"),
            (3, "Launch Successful"),
            (4, "Launch Failure"),
            (7, "Partial Failure"),
            (6, "In Flight"),
            (9, "Payload Deployed"),
        ] {
            let mut new = old.clone();
            new.status = Some(Named::new(Some(id), name, None));
            let changes = detect(Some(&old), &new);
            assert_eq!(changes.len(), 1, "{name}");
            assert!(matches!(&changes[0], Change::Status { new: Some(n), .. } if n.id == Some(id)));
        }
    }

    #[test]
    fn webcast_live_or_video_added() {
        let old = sample_launch();
        let mut new = old.clone();
        new.webcast_live = true;
        assert!(matches!(detect(Some(&old), &new)[..], [Change::Webcast { went_live: true, .. }]));

        let mut new = old.clone();
        new.videos.push(Video { url: "https://youtu.be/x".into(), title: None, live: None });
        assert!(
            matches!(&detect(Some(&old), &new)[..], [Change::Webcast { went_live: false, url: Some(u) }] if u == "https://youtu.be/x")
        );

        // A video that was already there staying put is not news.
        let old = new.clone();
        assert!(detect(Some(&old), &new).is_empty());
    }

    #[test]
    fn several_changes_come_in_fixed_order() {
        let old = sample_launch();
        let mut new = old.clone();
        new.webcast_live = true;
        new.status = Some(Named::new(Some(6), "In Flight", None));
        new.when = Some("2026-12-05T13:31:00Z".parse().unwrap());
        let kinds: Vec<_> = detect(Some(&old), &new).iter().map(Change::kind).collect();
        assert_eq!(kinds, [AlertKind::Schedule, AlertKind::Status, AlertKind::Webcast]);
    }

    fn slip(old: &Item, days: i64) -> Change {
        let mut new = old.clone();
        new.when = old.when.map(|w| w + chrono::Duration::days(days));
        detect(Some(old), &new).remove(0)
    }

    #[test]
    fn alert_puts_the_most_important_change_first() {
        let item = sample_launch();
        let status = Change::Status { old: None, new: item.status.clone() };
        let webcast = Change::Webcast { went_live: true, url: None };
        let alert = Alert::new(AlertId(1), item.clone(), vec![slip(&item, 1), webcast, status], Utc::now());
        let kinds: Vec<_> = alert.changes.iter().map(Change::kind).collect();
        assert_eq!(kinds, [AlertKind::Status, AlertKind::Webcast, AlertKind::Schedule]);
        assert_eq!(alert.kind(), AlertKind::Status);
    }

    #[test]
    fn old_single_change_records_still_read() {
        let alert = Alert::new(AlertId(7), sample_launch(), vec![Change::New], Utc::now());
        let mut v = serde_json::to_value(&alert).unwrap();
        let map = v.as_object_mut().unwrap();
        map.remove("changes");
        map.insert("change".into(), serde_json::json!({"kind": "new"}));
        assert_eq!(serde_json::from_value::<Alert>(v).unwrap(), alert);
        let round = serde_json::to_string(&alert).unwrap();
        assert_eq!(serde_json::from_str::<Alert>(&round).unwrap(), alert);
    }

    #[test]
    fn horizon_counts_the_nearer_future_date() {
        let item = sample_launch();
        let t = item.when.unwrap();
        let now = t - chrono::Duration::days(20);
        let five = Some(Duration::from_secs(5 * 86_400));
        let far = slip(&item, 3);
        assert!(!within_horizon(&far, five, now), "both dates 20+ days out");
        assert!(within_horizon(&far, None, now), "no horizon: always");
        assert!(within_horizon(&far, Some(Duration::from_secs(21 * 86_400)), now));
        // Pulled in from 20 days to 2: the new date is near.
        let mut near = item.clone();
        near.when = Some(now + chrono::Duration::days(2));
        assert!(within_horizon(&detect(Some(&item), &near)[0], five, now));
        // A new date that passed, from an unknown old one: not news.
        let unknown_old = Change::Schedule {
            old_when: None,
            new_when: Some(now - chrono::Duration::days(1)),
            old_precision: None,
            new_precision: None,
            old_window: (None, None),
            new_window: (None, None),
        };
        assert!(!within_horizon(&unknown_old, five, now));
        // Other kinds are never held back.
        assert!(within_horizon(&Change::New, five, now));
    }

    /// A scrub after T-0 moved 10 days out: the old date passed, so the
    /// move is near for any horizon (it was ignored, and nobody heard).
    #[test]
    fn horizon_counts_a_past_old_date_as_near() {
        let item = sample_launch();
        let t = item.when.unwrap();
        let after_t0 = t + chrono::Duration::minutes(5);
        let mut scrubbed = item.clone();
        scrubbed.when = Some(t + chrono::Duration::days(10));
        let change = detect(Some(&item), &scrubbed).remove(0);
        assert_eq!(change.kind(), AlertKind::Schedule);
        assert_eq!(change.nearest_future_date(after_t0), Some(Duration::ZERO));
        let five = Some(Duration::from_secs(5 * 86_400));
        assert!(within_horizon(&change, five, after_t0), "the scrub reaches a 5-day horizon");
        assert!(within_horizon(&change, Some(Duration::from_secs(60)), after_t0));
        let alert = Alert::new(AlertId(1), scrubbed, vec![change], after_t0);
        assert!(alert.seen_by(&[AlertKind::Schedule], five).is_some());
    }

    #[test]
    fn a_correction_after_liftoff_rides_with_the_result() {
        let mut item = sample_launch();
        let t = item.when.unwrap();
        item.status = Some(Named::new(Some(crate::item::status::SUCCESS), "Launch Successful", None));
        let after = t + chrono::Duration::minutes(20);
        let correction = Change::Schedule {
            old_when: Some(t),
            new_when: Some(t + chrono::Duration::seconds(3)),
            old_precision: None,
            new_precision: None,
            old_window: (None, None),
            new_window: (None, None),
        };
        assert!(fold_after_liftoff(vec![correction.clone()], &item, after).is_empty());
        let status = Change::Status { old: None, new: item.status.clone() };
        let both = fold_after_liftoff(vec![correction.clone(), status.clone()], &item, after);
        assert_eq!(both.len(), 2);
        // Before T-0, or still Go: a schedule change stands on its own.
        assert_eq!(fold_after_liftoff(vec![correction.clone()], &item, t - chrono::Duration::hours(1)).len(), 1);
        let alert = Alert::new(AlertId(1), item, both, after);
        let all = AlertKind::ALL;
        assert_eq!(alert.visible(&all, None).len(), 2);
        assert!(alert.seen_by(&[AlertKind::Schedule], None).is_none(), "never alone");
        assert_eq!(alert.seen_by(&[AlertKind::Status], None).unwrap().changes, [status]);
    }
}
