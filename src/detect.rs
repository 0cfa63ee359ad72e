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
        old_when: Option<DateTime<Utc>>,
        new_when: Option<DateTime<Utc>>,
        old_precision: Option<Precision>,
        new_precision: Option<Precision>,
        old_window: (Option<DateTime<Utc>>, Option<DateTime<Utc>>),
        new_window: (Option<DateTime<Utc>>, Option<DateTime<Utc>>),
    },
    /// Launch status changed (Go, Hold, Success, Failure…).
    Status { old: Option<Named>, new: Option<Named> },
    /// The webcast went live or a video link was added.
    Webcast { went_live: bool, url: Option<String> },
    /// A T-minus reminder before the item's date.
    Reminder {
        #[serde(with = "secs")]
        offset: Duration,
        when: DateTime<Utc>,
    },
}

impl Change {
    pub fn kind(&self) -> AlertKind {
        match self {
            Change::New => AlertKind::New,
            Change::Schedule { .. } => AlertKind::Schedule,
            Change::Status { .. } => AlertKind::Status,
            Change::Webcast { .. } => AlertKind::Webcast,
            Change::Reminder { .. } => AlertKind::Reminder,
        }
    }

    /// How far the date moved, when both ends are known.
    pub fn shift(&self) -> Option<chrono::Duration> {
        match self {
            Change::Schedule { old_when: Some(o), new_when: Some(n), .. } => Some(*n - *o),
            _ => None,
        }
    }
}

/// One alert: a change of one item, with the item as it is now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    pub id: AlertId,
    pub item: Item,
    pub change: Change,
    pub detected_at: DateTime<Utc>,
}

impl Alert {
    pub fn kind(&self) -> AlertKind {
        self.change.kind()
    }
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

    changes
}

mod secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_secs())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
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
}
