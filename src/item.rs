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
    pub id: Option<i64>,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abbrev: Option<String>,
}

impl Named {
    pub fn new(id: Option<i64>, name: impl Into<String>, abbrev: Option<String>) -> Self {
        Named { id, name: name.into(), abbrev }
    }

    /// The short label people know: the abbreviation if LL2 has one.
    pub fn short(&self) -> &str {
        self.abbrev.as_deref().filter(|a| !a.is_empty()).unwrap_or(&self.name)
    }
}

/// LL2 launch status ids (`/config/launch_statuses/`), the one place they
/// are named.
pub mod status {
    pub const GO: i64 = 1;
    pub const TBD: i64 = 2;
    pub const SUCCESS: i64 = 3;
    pub const FAILURE: i64 = 4;
    pub const HOLD: i64 = 5;
    pub const IN_FLIGHT: i64 = 6;
    pub const PARTIAL_FAILURE: i64 = 7;
    pub const TBC: i64 = 8;
    pub const PAYLOAD_DEPLOYED: i64 = 9;

    /// Statuses that end a launch: nothing more to remind of.
    pub const FINAL: [i64; 3] = [SUCCESS, FAILURE, PARTIAL_FAILURE];
}

/// A video link. `live` is known only from LL2 2.3.0 detailed responses.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Video {
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live: Option<bool>,
}

/// How precisely LL2 knows the date (`net_precision` / `date_precision`).
/// Ids as in LL2: 0 Second, 1 Minute, 2 Hour, 3 Morning, 4 Afternoon, 5 Day,
/// 6 Week, 7 Month, 8–11 Q1–Q4, 12–13 H1–H2, 14 Year, 15 Fiscal Year.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Precision {
    pub id: i64,
    pub name: String,
}

impl Precision {
    /// The uncertainty of a date with this precision, in seconds; `None` when
    /// unknown. Used to decide which reminders make sense.
    pub fn uncertainty_secs(&self) -> Option<i64> {
        Some(match self.id {
            0 => 1,
            1 => 60,
            2 => 3600,
            3 | 4 => 12 * 3600,
            5 => 86_400,
            6 => 7 * 86_400,
            7 => 31 * 86_400,
            8..=11 => 92 * 86_400,
            12 | 13 => 183 * 86_400,
            14 | 15 => 366 * 86_400,
            _ => return None,
        })
    }
}

/// One event or launch, normalized. `PartialEq` compares every field, so an
/// item compared with its own snapshot is equal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    pub id: ItemId,
    pub name: String,
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precision: Option<Precision>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_start: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_end: Option<DateTime<Utc>>,
    #[serde(default)]
    pub webcast_live: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub videos: Vec<Video>,
    /// Launch service provider first, then mission agencies; for events their
    /// `agencies`. No duplicates.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub agencies: Vec<Named>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub programs: Vec<Named>,
    /// Human place: launch site / location name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pad: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub last_updated: DateTime<Utc>,
}

impl Item {
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
            self.precision = old.precision.clone();
        }
    }

    /// The best link to watch: a video flagged live, else the first one.
    pub fn webcast_url(&self) -> Option<&str> {
        self.videos.iter().find(|v| v.live == Some(true)).or_else(|| self.videos.first()).map(|v| v.url.as_str())
    }
}
