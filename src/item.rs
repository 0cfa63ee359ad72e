//! The normalized spaceflight item: what tminus keeps of an LL2 event or
//! launch, independent of the API version and response mode it came from.
//! Snapshots of this type are what the store keeps and what detection
//! compares. No parsing of LL2 JSON happens here (see `ll2`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::types::{ItemId, ItemKind};

/// An agency, program, event type, mission type or status as LL2 names it.
/// Mission types have no id in LL2, so `id` is optional.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Named {
    /// LL2's numeric id; `None` for mission types (LL2 gives them none).
    pub id: Option<i64>,
    /// LL2's full name ("Space Exploration Technologies Corp.", "Go for Launch").
    pub name: String,
    /// LL2's short form ("SpaceX", "Go"), when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abbrev: Option<String>,
}

impl Named {
    /// Builds a name as LL2 would give it.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn new(id: Option<i64>, name: impl Into<String>, abbrev: Option<String>) -> Self {
        Named { id, name: name.into(), abbrev }
    }

    /// The short label people know: the abbreviation if LL2 has one.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn short(&self) -> &str {
        self.abbrev.as_deref().filter(|a| !a.is_empty()).unwrap_or(&self.name)
    }
}

/// LL2 launch status ids (`/config/launch_statuses/`), the one place they
/// are named.
pub mod status {
    /// "Go for Launch": date and time confirmed.
    pub(crate) const GO: i64 = 1;
    /// "To Be Determined": the date is not firm.
    pub(crate) const TBD: i64 = 2;
    /// "Launch Successful".
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) const SUCCESS: i64 = 3;
    /// "Launch Failure".
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) const FAILURE: i64 = 4;
    /// "On Hold": the count is stopped.
    pub(crate) const HOLD: i64 = 5;
    /// "Launch in Flight": lifted off, result not yet known.
    pub(crate) const IN_FLIGHT: i64 = 6;
    /// "Launch was a Partial Failure".
    pub(crate) const PARTIAL_FAILURE: i64 = 7;
    /// "To Be Confirmed": a date announced but not yet confirmed.
    pub(crate) const TBC: i64 = 8;
    /// "Payload Deployed".
    pub(crate) const PAYLOAD_DEPLOYED: i64 = 9;

    /// Statuses that end a launch: nothing more to remind of.
    pub(crate) const FINAL: [i64; 3] = [SUCCESS, FAILURE, PARTIAL_FAILURE];
}

/// A video link. `live` is known only from LL2 2.3.0 detailed responses.
#[cfg_attr(feature = "testing", visibility::make(pub))]
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub(crate) struct Video {
    /// Where to watch (YouTube, X, an agency's site…).
    pub url: String,
    /// The title LL2 gives the stream, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Whether the stream is live now; `None` when LL2 did not say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live: Option<bool>,
}

/// How precisely LL2 knows a date (`net_precision` / `date_precision`),
/// by LL2's precision ids: 0 Second, 1 Minute, 2 Hour, 3 Morning,
/// 4 Afternoon, 5 Day, 6 Week, 7 Month, 8–11 Q1–Q4, 12–13 H1–H2, 14 Year,
/// 15 Fiscal Year. An id this version does not know is kept as `Other`.
/// Stored in LL2's shape, `{"id": 7, "name": "Month"}`, as it always was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "PrecisionRecord", into = "PrecisionRecord")]
pub enum Precision {
    /// Exact to the second (id 0).
    Second,
    /// Exact to the minute (id 1).
    Minute,
    /// Exact to the hour (id 2).
    Hour,
    /// Local morning of the day.
    Morning,
    /// Local afternoon of the day.
    Afternoon,
    /// Some time that day, UTC (id 5).
    Day,
    /// Some time that week (id 6).
    Week,
    /// Some time that month (id 7).
    Month,
    /// Quarter 1–4 of the year.
    Quarter(u8),
    /// Half 1–2 of the year.
    Half(u8),
    /// Some time that year (id 14).
    Year,
    /// Some time in that fiscal year (id 15).
    FiscalYear,
    /// An LL2 id without a meaning here: the date is shown as exact, but
    /// not trusted as an instant (no T-minus, no reminder).
    Other(i64),
}

impl Precision {
    /// The level LL2's precision id names.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn from_id(id: i64) -> Precision {
        match id {
            0 => Precision::Second,
            1 => Precision::Minute,
            2 => Precision::Hour,
            3 => Precision::Morning,
            4 => Precision::Afternoon,
            5 => Precision::Day,
            6 => Precision::Week,
            7 => Precision::Month,
            8..=11 => Precision::Quarter((id - 7) as u8),
            12 | 13 => Precision::Half((id - 11) as u8),
            14 => Precision::Year,
            15 => Precision::FiscalYear,
            other => Precision::Other(other),
        }
    }

    /// LL2's id of the level.
    pub(crate) fn id(self) -> i64 {
        match self {
            Precision::Second => 0,
            Precision::Minute => 1,
            Precision::Hour => 2,
            Precision::Morning => 3,
            Precision::Afternoon => 4,
            Precision::Day => 5,
            Precision::Week => 6,
            Precision::Month => 7,
            Precision::Quarter(q) => 7 + i64::from(q),
            Precision::Half(h) => 11 + i64::from(h),
            Precision::Year => 14,
            Precision::FiscalYear => 15,
            Precision::Other(id) => id,
        }
    }

    /// LL2's name of the level; empty for `Other`.
    pub(crate) fn name(self) -> String {
        match self {
            Precision::Second => "Second".into(),
            Precision::Minute => "Minute".into(),
            Precision::Hour => "Hour".into(),
            Precision::Morning => "Morning".into(),
            Precision::Afternoon => "Afternoon".into(),
            Precision::Day => "Day".into(),
            Precision::Week => "Week".into(),
            Precision::Month => "Month".into(),
            Precision::Quarter(q) => format!("Quarter {q}"),
            Precision::Half(h) => format!("Half {h}"),
            Precision::Year => "Year".into(),
            Precision::FiscalYear => "Fiscal Year".into(),
            Precision::Other(_) => String::new(),
        }
    }

    /// Whether a date this precise names an instant (to the hour or
    /// finer) rather than a placeholder for a coarser period.
    pub(crate) fn to_the_hour(self) -> bool {
        matches!(self, Precision::Second | Precision::Minute | Precision::Hour)
    }

    /// The uncertainty of a date with this precision, in seconds; `None` when
    /// unknown. Used to decide which reminders make sense.
    pub(crate) fn uncertainty_secs(self) -> Option<i64> {
        Some(match self {
            Precision::Second => 1,
            Precision::Minute => 60,
            Precision::Hour => 3600,
            Precision::Morning | Precision::Afternoon => 12 * 3600,
            Precision::Day => 86_400,
            Precision::Week => 7 * 86_400,
            Precision::Month => 31 * 86_400,
            Precision::Quarter(_) => 92 * 86_400,
            Precision::Half(_) => 183 * 86_400,
            Precision::Year | Precision::FiscalYear => 366 * 86_400,
            Precision::Other(_) => return None,
        })
    }
}

/// How a `Precision` is stored: LL2's shape. The name is written for
/// readers of older versions, which require it, and ignored when read.
#[derive(Serialize, Deserialize)]
struct PrecisionRecord {
    id: i64,
    #[serde(default)]
    name: String,
}

impl From<PrecisionRecord> for Precision {
    fn from(r: PrecisionRecord) -> Precision {
        Precision::from_id(r.id)
    }
}

impl From<Precision> for PrecisionRecord {
    fn from(p: Precision) -> PrecisionRecord {
        PrecisionRecord { id: p.id(), name: p.name() }
    }
}

/// One event or launch, normalized. `PartialEq` compares every field, so an
/// item compared with its own snapshot is equal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    /// Kind and LL2 id together: unique across feeds.
    pub id: ItemId,
    /// LL2's `name` ("Falcon 9 Block 5 | Starlink Group 6-32").
    pub name: String,
    /// LL2's `slug`, used to build human page links; empty when LL2 gave none.
    #[serde(default)]
    pub slug: String,
    /// LL2 API URL of the item (its "page" in LL2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Event type, or the mission type of a launch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_type: Option<Named>,
    /// Launch status (Go, TBD, Success…). Events have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Named>,
    /// `net` of a launch, `date` of an event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<DateTime<Utc>>,
    /// How precisely `when` is known; `None` when LL2 did not say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precision: Option<Precision>,
    /// Launches: opening of the launch window, UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_start: Option<DateTime<Utc>>,
    /// Launches: close of the launch window, UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_end: Option<DateTime<Utc>>,
    /// LL2's `webcast_live`: a stream is live now (false when LL2 did not say).
    #[serde(default)]
    pub webcast_live: bool,
    /// Video links, in LL2's order, without duplicate URLs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub videos: Vec<Video>,
    /// Launch service provider first, then mission agencies; for events their
    /// `agencies`. No duplicates.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub agencies: Vec<Named>,
    /// LL2 programs the item belongs to (Artemis, Starlink…).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub programs: Vec<Named>,
    /// Human place: launch site / location name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// Launches: the pad's name ("Space Launch Complex 40").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pad: Option<String>,
    /// URL of the item's picture.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// The event's description, or the launch's mission description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// LL2's `last_updated`: when LL2 last changed the object; the poller's
    /// watermark and the order of snapshots.
    pub last_updated: DateTime<Utc>,
    /// What people read first about a launch (and, for events, the
    /// launches they belong to). Shown in alerts, never compared by
    /// detection; absent in snapshots written before it existed.
    #[serde(default, skip_serializing_if = "Details::is_empty")]
    pub details: Details,
}

/// Launch and event details beyond what detection compares.
#[cfg_attr(feature = "testing", visibility::make(pub))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Details {
    /// Rocket configuration, full name ("Falcon 9 Block 5").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) rocket: Option<String>,
    /// Target orbit of the mission.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) orbit: Option<Named>,
    /// Launch probability (weather), percent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) probability: Option<u8>,
    /// LL2's `weather_concerns`, as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) weather: Option<String>,
    /// Booster landings, one per first-stage core (detailed mode only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) landings: Vec<Landing>,
    /// Flight Club's page of the launch, as LL2 gives it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) flightclub_url: Option<String>,
    /// Events: the names of the launches they belong to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) launches: Vec<String>,
    /// Events: their own information page (the highest-priority one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) info_url: Option<String>,
    /// LL2's newest librarian note (`updates[]`, detailed mode), e.g.
    /// "Delayed to NET January 3.". In an alert's item it is kept only
    /// when it is newer than the snapshot before: then it is the reason
    /// for the alert's schedule or status change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) update: Option<UpdateNote>,
}

/// One entry of LL2's `updates[]`: why a librarian changed the item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct UpdateNote {
    /// LL2's id of the note (they only grow), when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) id: Option<i64>,
    /// The note itself, on one line.
    pub(crate) comment: String,
    /// Where it comes from (an article, a NOTAM), an http(s) URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) link: Option<String>,
    /// When LL2 wrote it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) at: Option<DateTime<Utc>>,
}

impl UpdateNote {
    /// Whether this note came after `before` (the note an older snapshot
    /// carried): a different note written later, or the first one.
    pub(crate) fn is_newer_than(&self, before: Option<&UpdateNote>) -> bool {
        match before {
            None => true,
            Some(b) if b == self => false,
            Some(b) => match (self.id.zip(b.id), self.at.zip(b.at)) {
                (Some((new, old)), _) => new > old,
                (None, Some((new, old))) => new > old,
                (None, None) => self.comment != b.comment,
            },
        }
    }
}

impl Details {
    /// Whether nothing is known: such details are left out of snapshots.
    pub(crate) fn is_empty(&self) -> bool {
        *self == Details::default()
    }
}

/// A booster landing of a launch: planned, or with its result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Landing {
    /// Booster serial number ("B1082").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) booster: Option<String>,
    /// Whether a landing is attempted at all (false: expended).
    pub(crate) attempt: bool,
    /// `None` until the result is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) success: Option<bool>,
    /// Where, short ("OCISLY", "LZ-1").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) location: Option<String>,
    /// How, short ("ASDS", "RTLS").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) method: Option<String>,
}

impl Item {
    /// Event or launch.
    pub fn kind(&self) -> ItemKind {
        self.id.kind
    }

    /// LL2 never takes a status or a date away; an answer without one is a
    /// garbled field (lenient parsing reads it as absent). Keep what we knew
    /// so that it neither alerts "Go → unknown" nor flaps back later.
    pub fn keep_known(&mut self, old: &Item) {
        if self.status.is_none() {
            self.status = old.status.clone();
        }
        if self.when.is_none() {
            self.when = old.when;
            self.precision = old.precision;
        }
    }

    /// The best link to watch: a video flagged live, else the first one.
    pub(crate) fn webcast_url(&self) -> Option<&str> {
        self.videos.iter().find(|v| v.live == Some(true)).or_else(|| self.videos.first()).map(|v| v.url.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precision_levels_round_trip_through_ids_and_storage() {
        for id in -1..=17 {
            let p = Precision::from_id(id);
            assert_eq!(p.id(), id);
            let stored = serde_json::to_string(&p).unwrap();
            assert_eq!(serde_json::from_str::<Precision>(&stored).unwrap(), p, "{stored}");
        }
        assert_eq!(Precision::from_id(10), Precision::Quarter(3));
        assert_eq!(Precision::from_id(13), Precision::Half(2));
        assert_eq!(Precision::from_id(16), Precision::Other(16));
        assert_eq!(serde_json::to_string(&Precision::Month).unwrap(), r#"{"id":7,"name":"Month"}"#);
        // Records written before the type had levels, and without a name.
        assert_eq!(serde_json::from_str::<Precision>(r#"{"id":2,"name":"Hour"}"#).unwrap(), Precision::Hour);
        assert_eq!(serde_json::from_str::<Precision>(r#"{"id":10}"#).unwrap(), Precision::Quarter(3));
    }

    #[test]
    fn only_the_hour_or_finer_names_an_instant() {
        let instants: Vec<i64> = (0..=16).filter(|id| Precision::from_id(*id).to_the_hour()).collect();
        assert_eq!(instants, [0, 1, 2]);
    }
}
