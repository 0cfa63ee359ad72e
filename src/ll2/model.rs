//! Serde models of LL2 events and launches (API 2.2.0 and 2.3.0, `list`,
//! `normal` and `detailed` modes) and their conversion into the normalized
//! [`Item`].
//!
//! This module owns the knowledge of LL2's JSON: field names per version
//! (`vidURLs` vs `vid_urls`, `image` as URL vs object, `feature_image`…),
//! the page envelope (`count/next/previous/results`) and how a malformed
//! object is isolated. It does no I/O and keeps no state; HTTP, paging and
//! throttling belong to `client`, deciding what changed belongs to `detect`.
//!
//! Tolerance policy: LL2 is a community database whose schema drifts between
//! versions and modes. Only `id`, `name` and `last_updated` are required of an
//! object (without them an item cannot be identified or ordered). Every other
//! field is optional and *lenient*: missing, `null` or of an unexpected type,
//! it reads as absent instead of failing the object. One object that still
//! cannot be read is skipped (and logged by id), never the whole page.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde::de::{self, DeserializeOwned, Deserializer};
use serde_json::{Map, Value};

use crate::item::{Details, Item, Landing, Named, Precision, UpdateNote, Video};
use crate::types::{Feed, ItemId, ItemKind};

/// A list answer, converted. `next` is the raw text LL2 sent; checking that
/// it points back at LL2 is the client's job.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParsedPage {
    /// LL2's `count`: how many objects match the query across all pages;
    /// `None` for a bare `results` array.
    pub(crate) count: Option<u64>,
    /// LL2's `next`: the URL of the following page, trimmed; `None` on the
    /// last page.
    pub(crate) next: Option<String>,
    /// The objects of `results` that were read, in LL2's order.
    pub items: Vec<Item>,
    /// Objects of `results` that could not be read as an item (each logged).
    pub skipped: usize,
}

/// Why a whole answer (not a single item of it) could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The body is not JSON at all (HTML error page, truncated body…).
    #[error("not JSON: {0}")]
    NotJson(String),
    /// JSON, but not the expected shape (error object, missing `results`…).
    #[error("{0}")]
    Shape(String),
}

/// Parses one page of `/{feed}/…` list answer. The body must be the DRF
/// envelope `{"count", "next", "previous", "results": [...]}`; a bare
/// `results` array is accepted as well (some proxies and caches store only
/// that). Each result is read on its own, so a malformed object is skipped,
/// logged and counted in `skipped` instead of failing the page.
pub fn parse_page(feed: Feed, body: &[u8]) -> Result<ParsedPage, ParseError> {
    let root: Value = serde_json::from_slice(body).map_err(|e| ParseError::NotJson(e.to_string()))?;
    let (count, next, results) = match root {
        Value::Array(results) => (None, None, results),
        Value::Object(mut map) => {
            let results = match map.remove("results") {
                Some(Value::Array(results)) => results,
                Some(other) => {
                    return Err(ParseError::Shape(format!("`results` is {}, expected an array", json_kind(&other))));
                }
                None => return Err(ParseError::Shape(describe_object(&map))),
            };
            let next = match map.get("next") {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) if s.trim().is_empty() => None,
                Some(Value::String(s)) => Some(s.trim().to_string()),
                // Not harmless: ignoring it would silently stop paging.
                Some(other) => {
                    return Err(ParseError::Shape(format!("`next` is {}, expected a URL or null", json_kind(other))));
                }
            };
            (map.get("count").and_then(Value::as_u64), next, results)
        }
        other => {
            return Err(ParseError::Shape(format!(
                "top level is {}, expected an object with `results`",
                json_kind(&other)
            )));
        }
    };

    let mut items = Vec::with_capacity(results.len());
    let mut skipped = 0;
    for value in results {
        let id = value.get("id").map(id_for_log);
        match item_from_value(feed, value) {
            Ok(item) => items.push(item),
            Err(error) => {
                skipped += 1;
                tracing::warn!(
                    feed = %feed,
                    id = id.as_deref().unwrap_or("?"),
                    %error,
                    "skipping an LL2 object that cannot be read as an item"
                );
            }
        }
    }
    Ok(ParsedPage { count, next, items, skipped })
}

/// Parses a single-object answer such as `/events/1280/`.
#[cfg_attr(feature = "testing", visibility::make(pub))]
pub(crate) fn parse_item(feed: Feed, body: &[u8]) -> Result<Item, ParseError> {
    let root: Value = serde_json::from_slice(body).map_err(|e| ParseError::NotJson(e.to_string()))?;
    match &root {
        Value::Object(map) if !map.contains_key("id") => Err(ParseError::Shape(describe_object(map))),
        Value::Object(_) => item_from_value(feed, root).map_err(|e| ParseError::Shape(e.to_string())),
        other => Err(ParseError::Shape(format!("top level is {}, expected an object", json_kind(other)))),
    }
}

/// Reads one LL2 object of `feed` as an item.
pub fn item_from_value(feed: Feed, value: Value) -> Result<Item, serde_json::Error> {
    match feed {
        Feed::Launches => serde_json::from_value::<Launch>(value).map(Launch::into_item),
        Feed::Events => serde_json::from_value::<Event>(value).map(Event::into_item),
    }
}

/// An LL2 launch in any mode. Unknown fields are ignored.
#[derive(Debug, Clone, Deserialize)]
struct Launch {
    id: Ll2Id,
    name: String,
    last_updated: DateTime<Utc>,
    /// Librarian notes (detailed mode), newest first as LL2 sends them.
    #[serde(default, deserialize_with = "lenient_vec")]
    updates: Vec<UpdateModel>,
    #[serde(default, deserialize_with = "lenient_text")]
    slug: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    url: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    status: Option<NamedModel>,
    #[serde(default, deserialize_with = "lenient")]
    net: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "lenient")]
    net_precision: Option<PrecisionModel>,
    #[serde(default, deserialize_with = "lenient")]
    window_start: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "lenient")]
    window_end: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "lenient")]
    webcast_live: Option<bool>,
    /// 2.3.0 (and 2.2.0 normal) spelling.
    #[serde(default, deserialize_with = "lenient_vec")]
    vid_urls: Vec<VideoModel>,
    /// 2.2.0 detailed spelling.
    #[serde(default, rename = "vidURLs", deserialize_with = "lenient_vec")]
    vid_urls_camel: Vec<VideoModel>,
    #[serde(default, deserialize_with = "lenient")]
    launch_service_provider: Option<NamedModel>,
    #[serde(default, deserialize_with = "lenient")]
    mission: Option<Mission>,
    #[serde(default, deserialize_with = "lenient_vec")]
    program: Vec<NamedModel>,
    #[serde(default, deserialize_with = "lenient")]
    pad: Option<Pad>,
    #[serde(default, deserialize_with = "image")]
    image: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    rocket: Option<Rocket>,
    #[serde(default, deserialize_with = "lenient_int")]
    probability: Option<i64>,
    #[serde(default, deserialize_with = "lenient_text")]
    weather_concerns: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    flightclub_url: Option<String>,
}

/// `rocket`: its configuration in every mode, its stages in detailed mode.
#[derive(Debug, Clone, Deserialize)]
struct Rocket {
    #[serde(default, deserialize_with = "lenient")]
    configuration: Option<RocketConfiguration>,
    #[serde(default, deserialize_with = "lenient_vec")]
    launcher_stage: Vec<LauncherStage>,
}

#[derive(Debug, Clone, Deserialize)]
struct RocketConfiguration {
    #[serde(default, deserialize_with = "lenient_text")]
    full_name: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    name: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
struct LauncherStage {
    #[serde(default, deserialize_with = "lenient")]
    launcher: Option<Launcher>,
    #[serde(default, deserialize_with = "lenient")]
    landing: Option<LandingModel>,
}

#[derive(Debug, Clone, Deserialize)]
struct Launcher {
    #[serde(default, deserialize_with = "lenient_text")]
    serial_number: Option<String>,
}

/// `launcher_stage[].landing`: `attempt`, `success` (null until known),
/// the place (`landing_location` in 2.3.0, `location` in 2.2.0) and `type`
/// as `{name, abbrev}`.
#[derive(Debug, Clone, Deserialize)]
struct LandingModel {
    #[serde(default, deserialize_with = "lenient")]
    attempt: Option<bool>,
    #[serde(default, deserialize_with = "lenient")]
    success: Option<bool>,
    #[serde(default, alias = "landing_location", deserialize_with = "lenient")]
    location: Option<NamedModel>,
    #[serde(default, rename = "type", deserialize_with = "lenient")]
    landing_type: Option<NamedModel>,
}

/// An event's `launches[]` entry (list mode): only its name is kept.
#[derive(Debug, Clone, Deserialize)]
struct LaunchRef {
    name: String,
}

/// `updates[]`: `id`, `comment`, `info_url`, `created_on`.
#[derive(Debug, Clone, Deserialize)]
struct UpdateModel {
    #[serde(default, deserialize_with = "lenient_int")]
    id: Option<i64>,
    #[serde(default, deserialize_with = "lenient_text")]
    comment: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    info_url: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    created_on: Option<DateTime<Utc>>,
}

/// The newest readable note of `updates`, by date (LL2 sends them newest
/// first, but not always).
fn newest_update(updates: Vec<UpdateModel>) -> Option<UpdateNote> {
    updates
        .into_iter()
        .filter_map(|u| {
            let comment = sanitize(&u.comment?, 280);
            let link = u.info_url.filter(|l| l.starts_with("https://") || l.starts_with("http://"));
            (!comment.is_empty()).then_some(UpdateNote { id: u.id, comment, link, at: u.created_on })
        })
        .max_by_key(|n| (n.at, n.id))
}

/// An `info_urls[]` entry.
#[derive(Debug, Clone, Deserialize)]
struct InfoUrl {
    url: String,
    #[serde(default, deserialize_with = "lenient_int")]
    priority: Option<i64>,
}

/// An LL2 event in any mode. Unknown fields are ignored.
#[derive(Debug, Clone, Deserialize)]
struct Event {
    id: Ll2Id,
    name: String,
    last_updated: DateTime<Utc>,
    /// Librarian notes (detailed mode), newest first as LL2 sends them.
    #[serde(default, deserialize_with = "lenient_vec")]
    updates: Vec<UpdateModel>,
    #[serde(default, deserialize_with = "lenient_text")]
    slug: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    url: Option<String>,
    #[serde(default, rename = "type", deserialize_with = "lenient")]
    event_type: Option<NamedModel>,
    #[serde(default, deserialize_with = "lenient")]
    date: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "lenient")]
    date_precision: Option<PrecisionModel>,
    #[serde(default, deserialize_with = "lenient_text")]
    description: Option<String>,
    #[serde(default, deserialize_with = "place")]
    location: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    webcast_live: Option<bool>,
    #[serde(default, deserialize_with = "lenient_vec")]
    vid_urls: Vec<VideoModel>,
    /// 2.2.0 normal: a single video link.
    #[serde(default, deserialize_with = "lenient_text")]
    video_url: Option<String>,
    #[serde(default, deserialize_with = "lenient_vec")]
    agencies: Vec<NamedModel>,
    #[serde(default, deserialize_with = "lenient_vec")]
    program: Vec<NamedModel>,
    /// 2.3.0: an image object; 2.2.0 has `feature_image` instead.
    #[serde(default, deserialize_with = "image")]
    image: Option<String>,
    #[serde(default, deserialize_with = "image")]
    feature_image: Option<String>,
    #[serde(default, deserialize_with = "lenient_vec")]
    launches: Vec<LaunchRef>,
    #[serde(default, deserialize_with = "lenient_vec")]
    info_urls: Vec<InfoUrl>,
}

/// Agency, program, status or event type: `{id, name, abbrev?}`.
#[derive(Debug, Clone, Deserialize)]
struct NamedModel {
    #[serde(default, deserialize_with = "lenient_int")]
    id: Option<i64>,
    name: String,
    #[serde(default, deserialize_with = "lenient_text")]
    abbrev: Option<String>,
}

/// `net_precision` / `date_precision`.
#[derive(Debug, Clone, Deserialize)]
struct PrecisionModel {
    id: i64,
}

#[derive(Debug, Clone, Deserialize)]
struct VideoModel {
    url: String,
    #[serde(default, deserialize_with = "lenient_text")]
    title: Option<String>,
    /// 2.3.0 only.
    #[serde(default, deserialize_with = "lenient")]
    live: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
struct Mission {
    #[serde(default, deserialize_with = "lenient_text")]
    description: Option<String>,
    /// A plain string (no id) in every known version.
    #[serde(default, rename = "type", deserialize_with = "mission_type")]
    mission_type: Option<NamedModel>,
    #[serde(default, deserialize_with = "lenient_vec")]
    agencies: Vec<NamedModel>,
    #[serde(default, deserialize_with = "lenient")]
    orbit: Option<NamedModel>,
}

#[derive(Debug, Clone, Deserialize)]
struct Pad {
    #[serde(default, deserialize_with = "lenient_text")]
    name: Option<String>,
    #[serde(default, deserialize_with = "place")]
    location: Option<String>,
}

/// LL2 ids: UUID strings for launches, integers for events. Kept as text.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Ll2Id(String);

impl<'de> Deserialize<'de> for Ll2Id {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::String(s) if !s.trim().is_empty() => Ok(Ll2Id(s.trim().to_string())),
            Value::Number(n) if n.is_i64() || n.is_u64() => Ok(Ll2Id(n.to_string())),
            other => Err(de::Error::custom(format!(
                "`id` is {}, expected a non-empty string or an integer",
                json_kind(&other)
            ))),
        }
    }
}

impl Launch {
    fn into_item(self) -> Item {
        let MissionParts { description, item_type, agencies: mission_agencies, orbit } =
            self.mission.map(Mission::into_parts).unwrap_or_default();
        let (rocket, landings) = self.rocket.map(Rocket::into_parts).unwrap_or_default();
        let details = Details {
            rocket,
            orbit,
            // LL2 writes -1 (or nothing) for "not known".
            probability: self.probability.and_then(|p| u8::try_from(p).ok()).filter(|p| *p <= 100),
            weather: self.weather_concerns,
            landings,
            flightclub_url: self.flightclub_url,
            launches: Vec::new(),
            info_url: None,
            update: newest_update(self.updates),
        };
        let mut agencies = Vec::new();
        let providers = self.launch_service_provider.into_iter().chain(mission_agencies);
        push_unique(&mut agencies, providers.filter_map(NamedModel::into_named));
        let mut videos = Vec::new();
        push_videos(&mut videos, self.vid_urls.into_iter().chain(self.vid_urls_camel));
        let (location, pad) = match self.pad {
            Some(p) => (p.location, p.name),
            None => (None, None),
        };
        Item {
            id: ItemId::new(ItemKind::Launch, self.id.0),
            name: self.name,
            slug: self.slug.unwrap_or_default(),
            url: self.url,
            item_type,
            status: self.status.and_then(NamedModel::into_named),
            when: self.net,
            precision: self.net_precision.map(PrecisionModel::into_precision),
            window_start: self.window_start,
            window_end: self.window_end,
            webcast_live: self.webcast_live.unwrap_or(false),
            videos,
            agencies,
            programs: unique(self.program),
            location,
            pad,
            image: self.image,
            description,
            last_updated: self.last_updated,
            details,
        }
    }
}

/// What an item takes from a launch's mission.
#[derive(Default)]
struct MissionParts {
    description: Option<String>,
    item_type: Option<Named>,
    agencies: Vec<NamedModel>,
    orbit: Option<Named>,
}

impl Mission {
    /// The mission's description, type, agencies and orbit.
    fn into_parts(self) -> MissionParts {
        MissionParts {
            description: self.description,
            // Mission types have no id in LL2; drop one if it ever appears
            // so that subscriptions match mission types by name only.
            item_type: self.mission_type.and_then(NamedModel::into_named).map(|t| Named { id: None, ..t }),
            agencies: self.agencies,
            orbit: self.orbit.and_then(NamedModel::into_named),
        }
    }
}

impl Rocket {
    /// The rocket's name (its full name when LL2 gives one) and its
    /// stages' landings.
    fn into_parts(self) -> (Option<String>, Vec<Landing>) {
        (
            self.configuration.and_then(|c| c.full_name.or(c.name)),
            self.launcher_stage.into_iter().filter_map(LauncherStage::into_landing).collect(),
        )
    }
}

impl LauncherStage {
    fn into_landing(self) -> Option<Landing> {
        let landing = self.landing?;
        let short = |n: Option<NamedModel>| n.and_then(NamedModel::into_named).map(|n| n.short().to_string());
        Some(Landing {
            booster: self.launcher.and_then(|l| l.serial_number),
            attempt: landing.attempt?,
            success: landing.success,
            location: short(landing.location),
            method: short(landing.landing_type),
        })
    }
}

impl Event {
    fn into_item(self) -> Item {
        let mut videos = Vec::new();
        let single = self.video_url.map(|url| VideoModel { url, title: None, live: None });
        push_videos(&mut videos, self.vid_urls.into_iter().chain(single));
        Item {
            id: ItemId::new(ItemKind::Event, self.id.0),
            name: self.name,
            slug: self.slug.unwrap_or_default(),
            url: self.url,
            item_type: self.event_type.and_then(NamedModel::into_named),
            status: None,
            when: self.date,
            precision: self.date_precision.map(PrecisionModel::into_precision),
            window_start: None,
            window_end: None,
            webcast_live: self.webcast_live.unwrap_or(false),
            videos,
            agencies: unique(self.agencies),
            programs: unique(self.program),
            location: self.location,
            pad: None,
            image: self.image.or(self.feature_image),
            description: self.description,
            last_updated: self.last_updated,
            details: Details {
                launches: self.launches.into_iter().map(|l| l.name).filter(|n| !n.trim().is_empty()).collect(),
                info_url: self.info_urls.into_iter().min_by_key(|u| u.priority.unwrap_or(i64::MAX)).map(|u| u.url),
                update: newest_update(self.updates),
                ..Details::default()
            },
        }
    }
}

impl NamedModel {
    /// `None` for a blank name: such an entry would match no subscription
    /// and render as nothing.
    fn into_named(self) -> Option<Named> {
        let name = self.name.trim();
        if name.is_empty() {
            return None;
        }
        Some(Named::new(self.id, name, self.abbrev))
    }
}

impl PrecisionModel {
    fn into_precision(self) -> Precision {
        Precision::from_id(self.id)
    }
}

/// Same identity: equal ids, or (when either lacks an id) equal names.
fn same_named(a: &Named, b: &Named) -> bool {
    match (a.id, b.id) {
        (Some(x), Some(y)) => x == y,
        _ => a.name.eq_ignore_ascii_case(&b.name),
    }
}

fn push_unique(out: &mut Vec<Named>, new: impl IntoIterator<Item = Named>) {
    for n in new {
        if !out.iter().any(|o| same_named(o, &n)) {
            out.push(n);
        }
    }
}

fn unique(list: Vec<NamedModel>) -> Vec<Named> {
    let mut out = Vec::with_capacity(list.len());
    push_unique(&mut out, list.into_iter().filter_map(NamedModel::into_named));
    out
}

/// Appends videos in LL2's order, dropping blank and repeated URLs (2.2.0
/// events may repeat `video_url` inside `vid_urls`).
fn push_videos(out: &mut Vec<Video>, new: impl IntoIterator<Item = VideoModel>) {
    for v in new {
        let url = v.url.trim();
        if url.is_empty() || out.iter().any(|o| o.url == url) {
            continue;
        }
        out.push(Video { url: url.to_string(), title: v.title, live: v.live });
    }
}

// ---- lenient field readers -------------------------------------------------
//
// Each reads the field as raw JSON first, so a value of the wrong type is
// consumed and turned into "absent" instead of aborting the whole object.

fn lenient<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    let v = Value::deserialize(d)?;
    Ok(serde_json::from_value(v).ok())
}

fn lenient_vec<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    Ok(match Value::deserialize(d)? {
        Value::Array(items) => items.into_iter().filter_map(|v| serde_json::from_value(v).ok()).collect(),
        _ => Vec::new(),
    })
}

/// A non-blank string, else absent.
fn lenient_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(text(Value::deserialize(d)?))
}

fn text(v: Value) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(s),
        _ => None,
    }
}

/// An integer, also when sent as a numeric string.
fn lenient_int<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    })
}

/// `image`: a URL string (2.2.0) or an object with `image_url` (2.3.0).
fn image<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Object(mut map) => map.remove("image_url").and_then(text),
        other => text(other),
    })
}

/// A place: a string (event `location`) or an object with `name`
/// (`pad.location`).
fn place<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Object(mut map) => map.remove("name").and_then(text),
        other => text(other),
    })
}

/// Mission `type`: a plain string; an object `{id?, name}` is accepted too
/// in case LL2 promotes it. The id is dropped by the caller either way.
fn mission_type<'de, D: Deserializer<'de>>(d: D) -> Result<Option<NamedModel>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(name) => Some(NamedModel { id: None, name, abbrev: None }),
        v @ Value::Object(_) => serde_json::from_value(v).ok(),
        _ => None,
    })
}

// ---- messages --------------------------------------------------------------

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn id_for_log(v: &Value) -> String {
    match v {
        Value::String(s) => sanitize(s, 64),
        Value::Number(n) => n.to_string(),
        other => json_kind(other).to_string(),
    }
}

/// What an object without `results` (or without `id`) is: usually DRF's
/// error object `{"detail": "..."}`.
fn describe_object(map: &Map<String, Value>) -> String {
    if let Some(Value::String(detail)) = map.get("detail") {
        return format!("error object instead of data: detail {:?}", sanitize(detail, 120));
    }
    let keys: Vec<String> = map.keys().take(8).map(|k| sanitize(k, 32)).collect();
    format!("object without the expected fields (keys: {})", keys.join(", "))
}

/// Server text made safe for one log line: control characters become
/// spaces, whitespace runs collapse, and at most `max_chars` are kept,
/// then `…` when cut (`crate::text::clip`).
pub(crate) fn sanitize(s: &str, max_chars: usize) -> String {
    // Flattened only as far as the clip can look, so a huge body is not
    // copied whole: `max_chars` and the ellipsis' place, one more to know
    // it is longer, and one for a trailing space the trim removes (runs
    // are collapsed, so there is at most one).
    let room = max_chars + 1;
    let mut flat = String::new();
    let mut count = 0;
    let mut last_space = true;
    for c in s.chars() {
        let c = if c.is_control() || c.is_whitespace() { ' ' } else { c };
        if c == ' ' && last_space {
            continue;
        }
        if count == room + 2 {
            break;
        }
        last_space = c == ' ';
        flat.push(c);
        count += 1;
    }
    crate::text::clip(flat.trim_end(), room).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVENT_1280: &[u8] = include_bytes!("../../tests/fixtures/ll2/event-2.3.0-detail-1280.json");
    const EVENTS_220: &[u8] = include_bytes!("../../tests/fixtures/ll2/events-2.2.0-upcoming-normal.json");
    const EVENTS_230: &[u8] = include_bytes!("../../tests/fixtures/ll2/events-2.3.0-upcoming-detailed.json");
    const LAUNCHES_220_DETAILED: &[u8] =
        include_bytes!("../../tests/fixtures/ll2/launches-2.2.0-upcoming-detailed.json");
    const LAUNCHES_220_A: &[u8] =
        include_bytes!("../../tests/fixtures/ll2/launches-2.2.0-upcoming-normal-2025-08-25T1820Z.json");
    const LAUNCHES_220_B: &[u8] =
        include_bytes!("../../tests/fixtures/ll2/launches-2.2.0-upcoming-normal-2025-08-26T0107Z.json");
    const LAUNCHES_230: &[u8] = include_bytes!("../../tests/fixtures/ll2/launches-2.3.0-upcoming-detailed.json");
    const LAUNCHES_230_ARRAY: &[u8] =
        include_bytes!("../../tests/fixtures/ll2/launches-2.3.0-upcoming-normal-results-array.json");

    fn ts(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn page(feed: Feed, body: &[u8]) -> ParsedPage {
        parse_page(feed, body).unwrap()
    }

    fn find<'a>(p: &'a ParsedPage, id: &str) -> &'a Item {
        p.items.iter().find(|i| i.id.id == id).unwrap_or_else(|| panic!("no item {id}"))
    }

    #[test]
    fn every_fixture_parses_without_skips() {
        for (feed, body, n) in [
            (Feed::Events, EVENTS_220, 2),
            (Feed::Events, EVENTS_230, 5),
            (Feed::Launches, LAUNCHES_220_DETAILED, 2),
            (Feed::Launches, LAUNCHES_220_A, 5),
            (Feed::Launches, LAUNCHES_220_B, 5),
            (Feed::Launches, LAUNCHES_230, 5),
            (Feed::Launches, LAUNCHES_230_ARRAY, 10),
        ] {
            let p = page(feed, body);
            assert_eq!(p.skipped, 0);
            assert_eq!(p.items.len(), n);
            assert!(p.items.iter().all(|i| i.kind() == feed.kind() && i.when.is_some() && i.item_type.is_some()));
        }
        let array = page(Feed::Launches, LAUNCHES_230_ARRAY);
        assert_eq!((array.count, array.next), (None, None));
        let detailed = page(Feed::Launches, LAUNCHES_230);
        assert_eq!(detailed.count, Some(192));
        assert!(detailed.next.unwrap().contains("offset=40"));
        let item = parse_item(Feed::Events, EVENT_1280).unwrap();
        assert_eq!(item.id, ItemId::new(ItemKind::Event, "1280"));
        assert_eq!(item.item_type, Some(Named::new(Some(16), "Orbital Insertion", None)));
        assert_eq!(item.location.as_deref(), Some("Jupiter"));
    }

    #[test]
    fn h3_mmx_launch_2_3_0_detailed() {
        let p = page(Feed::Launches, LAUNCHES_230);
        let mmx = find(&p, "69ebbcd2-b257-4070-9ef9-21e7d1f8a883");
        assert_eq!(mmx.name, "H3-24 | Martian Moon eXplorer (MMX)");
        let status = mmx.status.as_ref().unwrap();
        assert_eq!((status.id, status.short()), (Some(1), "Go"));
        assert_eq!(mmx.when, Some(ts("2026-10-19T19:41:03Z")));
        assert_eq!(mmx.window_start, mmx.when);
        assert_eq!(mmx.precision, Some(Precision::Second));
        assert_eq!(mmx.agencies, vec![Named::new(Some(98), "Mitsubishi Heavy Industries", Some("MHI".into()))]);
        assert_eq!(mmx.item_type, Some(Named::new(None, "Planetary Science", None)));
        assert_eq!(mmx.location.as_deref(), Some("Tanegashima Space Center, Japan"));
        assert_eq!(mmx.pad.as_deref(), Some("Yoshinobu Launch Complex LP-2"));
        assert!(mmx.image.as_deref().unwrap().ends_with("h3-24_liftoff__image_20251028184029.jpeg"));
        assert!(mmx.description.as_deref().unwrap().starts_with("MMX is a Japanese"));
        assert_eq!(mmx.last_updated, ts("2026-08-20T21:04:48Z"));

        // vid_urls with the 2.3.0 `live` flag.
        let roman = find(&p, "521f3a1c-f977-4306-9b7f-495858719adf");
        assert_eq!(
            roman.videos,
            vec![Video {
                url: "https://x.com/i/broadcasts/1jxXgBanvZeJZ".into(),
                title: Some("Roman Space Telescope Mission".into()),
                live: Some(false),
            }]
        );
        // LSP first, then mission agencies; programs.
        let leo = find(&p, "7bdc412b-c965-4517-a131-f57a01189803");
        assert_eq!(leo.agencies.len(), 2);
        assert_eq!(leo.agencies[1], Named::new(Some(1058), "Amazon Leo", Some("Amazon".into())));
        assert_eq!(leo.programs, vec![Named::new(Some(27), "Amazon Leo", None)]);
    }

    #[test]
    fn details_rocket_orbit_landings_and_flight_club() {
        let p = page(Feed::Launches, LAUNCHES_230);
        let mmx = &find(&p, "69ebbcd2-b257-4070-9ef9-21e7d1f8a883").details;
        assert_eq!(mmx.rocket.as_deref(), Some("H3-24"));
        assert_eq!(mmx.orbit.as_ref().map(|o| o.name.as_str()), Some("Mars Orbit"));
        assert!(mmx.landings.is_empty() && mmx.flightclub_url.is_none() && mmx.probability.is_none());
        let roman = &find(&p, "521f3a1c-f977-4306-9b7f-495858719adf").details;
        assert_eq!(
            roman.flightclub_url.as_deref(),
            Some("https://flightclub.io/result?llId=521f3a1c-f977-4306-9b7f-495858719adf")
        );
        assert_eq!(roman.landings.iter().map(|l| l.attempt).collect::<Vec<_>>(), [true, true, false]);
        // The newest librarian note, by date (LL2's order is not always).
        let mmx = &find(&p, "69ebbcd2-b257-4070-9ef9-21e7d1f8a883").details;
        let note = mmx.update.as_ref().unwrap();
        assert_eq!((note.id, note.comment.as_str()), (Some(15898), "GO for launch."));
        assert_eq!(note.link.as_deref(), Some("https://www.jaxa.jp/press/2026/08/20260820-1_j.html"));
        // 2.3.0 names the place `landing_location`.
        assert_eq!(roman.landings[0].location.as_deref(), Some("LZ-40"));

        let p = page(Feed::Launches, LAUNCHES_220_DETAILED);
        let starlink = &find(&p, "95653d52-bb77-4860-a815-dd7141778d17").details;
        assert_eq!(starlink.rocket.as_deref(), Some("Falcon 9 Block 5"));
        assert_eq!(starlink.orbit.as_ref().map(Named::short), Some("LEO"));
        assert_eq!(
            starlink.landings,
            [Landing {
                booster: Some("B1082".into()),
                attempt: true,
                success: None,
                location: Some("OCISLY".into()),
                method: Some("ASDS".into()),
            }]
        );
        // Normal mode: configuration and orbit, no stages.
        let p = page(Feed::Launches, LAUNCHES_230_ARRAY);
        assert!(p.items.iter().all(|i| i.details.rocket.is_some() && i.details.landings.is_empty()));

        let event = parse_item(Feed::Events, EVENT_1280).unwrap();
        assert_eq!(event.details.launches, ["Ariane 5 ECA+ | JUICE (JUpiter ICy moons Explorer)"]);
        assert_eq!(
            event.details.info_url.as_deref(),
            Some("https://www.esa.int/ESA_Multimedia/Images/2022/12/Juice_mission_milestones")
        );
    }

    #[test]
    fn odd_details_read_as_absent() {
        let body = serde_json::json!({"results": [{
            "id": "x-1", "name": "Odd", "last_updated": "2025-01-01T00:00:00Z",
            "probability": -1, "weather_concerns": "", "flightclub_url": 5,
            "rocket": {"configuration": "Falcon", "launcher_stage": [{"landing": {"success": true}}, 3]},
            "mission": {"orbit": "LEO"}
        }]});
        let item = &page(Feed::Launches, body.to_string().as_bytes()).items[0];
        assert!(item.details.is_empty(), "{:?}", item.details);
    }

    #[test]
    fn camel_case_video_urls_and_deduplicated_agencies_2_2_0() {
        let p = page(Feed::Launches, LAUNCHES_220_DETAILED);
        let starlink = find(&p, "95653d52-bb77-4860-a815-dd7141778d17");
        assert_eq!(starlink.webcast_url(), Some("https://x.com/i/broadcasts/1AKEmvvQLayKL"));
        assert_eq!(starlink.videos[0].title.as_deref(), Some("Starlink Mission"));
        assert_eq!(starlink.videos[0].live, None);
        // SpaceX is both LSP and mission agency: listed once.
        assert_eq!(starlink.agencies, vec![Named::new(Some(121), "SpaceX", Some("SpX".into()))]);
        assert_eq!(starlink.programs, vec![Named::new(Some(25), "Starlink", None)]);
        assert!(starlink.image.as_deref().unwrap().ends_with("falcon2520925_image_20221009234147.png"));
        assert_eq!(starlink.location.as_deref(), Some("Vandenberg SFB, CA, USA"));
    }

    #[test]
    fn starship_flight_10_go_to_tbc_with_net_plus_24h() {
        let id = "fc1dafd8-bcb0-4e77-8ba9-2d03134f04e4";
        let before = page(Feed::Launches, LAUNCHES_220_A);
        let after = page(Feed::Launches, LAUNCHES_220_B);
        let (a, b) = (find(&before, id), find(&after, id));
        assert_eq!(a.name, "Starship | Flight 10");
        assert_eq!(a.status.as_ref().map(|s| (s.id, s.short())), Some((Some(1), "Go")));
        assert_eq!(b.status.as_ref().map(|s| (s.id, s.short())), Some((Some(8), "TBC")));
        assert_eq!(b.when.unwrap() - a.when.unwrap(), chrono::Duration::hours(24));
        assert!(b.last_updated > a.last_updated);
        // 2.2.0 normal LSPs carry no abbrev.
        assert_eq!(a.agencies[0], Named::new(Some(121), "SpaceX", None));
    }

    #[test]
    fn juice_earth_flyby_reads_the_same_in_both_versions() {
        let old = page(Feed::Events, EVENTS_220);
        let new = page(Feed::Events, EVENTS_230);
        let (a, b) = (find(&old, "1017"), find(&new, "1017"));
        for e in [a, b] {
            assert_eq!(e.name, "Juice Earth Flyby");
            assert_eq!(e.item_type, Some(Named::new(Some(23), "Flyby", None)));
            assert_eq!(e.precision, Some(Precision::Month));
            assert_eq!(e.agencies, vec![Named::new(Some(27), "European Space Agency", Some("ESA".into()))]);
            assert_eq!(e.when, Some(ts("2026-09-30T00:00:00Z")));
            assert_eq!(e.location.as_deref(), Some("Earth"));
            // 2.2.0 `feature_image` and 2.3.0 `image.image_url` name the same file.
            assert!(e.image.as_deref().unwrap().ends_with("255bauto255d__image_20240307192047.jpeg"));
        }
        assert_eq!(a.description, b.description);
        let docking = find(&new, "365");
        assert_eq!(docking.programs.len(), 2);
    }

    #[test]
    fn wrong_but_harmless_fields_read_as_absent() {
        let body = serde_json::json!({"results": [{
            "id": "x-1", "name": "Odd", "last_updated": "2025-01-01T00:00:00Z",
            "status": "Go", "net": "soon", "net_precision": {"name": "Second"},
            "image": 5, "vid_urls": {}, "vidURLs": [{"title": "no url"}, {"url": "https://v/1"}],
            "program": null, "launch_service_provider": {"id": "121", "name": "SpaceX"},
            "mission": {"type": 7, "agencies": [null, {"id": 121, "name": "SpaceX"}, {"id": 5, "name": " "}]},
            "pad": {"name": "", "location": "Somewhere"}, "webcast_live": "yes"
        }]});
        let p = page(Feed::Launches, body.to_string().as_bytes());
        assert_eq!(p.skipped, 0);
        let item = &p.items[0];
        assert_eq!((item.status.as_ref(), item.when, item.precision.as_ref()), (None, None, None));
        assert_eq!((item.image.as_ref(), item.item_type.as_ref(), item.pad.as_deref()), (None, None, None));
        assert_eq!(item.location.as_deref(), Some("Somewhere"));
        assert_eq!(item.videos.len(), 1);
        assert_eq!(item.agencies, vec![Named::new(Some(121), "SpaceX", None)]);
        assert!(!item.webcast_live);
    }

    #[test]
    fn malformed_objects_are_skipped_not_fatal() {
        let body = serde_json::json!({"count": 4, "next": null, "results": [
            {"id": 1, "name": "Good", "last_updated": "2025-01-01T00:00:00Z", "video_url": "https://v/1",
             "vid_urls": [{"url": "https://v/1", "live": true}]},
            {"id": 2, "last_updated": "2025-01-01T00:00:00Z"},
            {"id": 3, "name": "Bad date", "last_updated": "yesterday"},
            null
        ]});
        let p = page(Feed::Events, body.to_string().as_bytes());
        assert_eq!((p.count, p.items.len(), p.skipped), (Some(4), 1, 3));
        assert_eq!(p.items[0].id.id, "1");
        assert_eq!(p.items[0].videos.len(), 1, "video_url repeated in vid_urls is listed once");
        assert_eq!(p.items[0].videos[0].live, Some(true));
    }

    #[test]
    fn envelope_errors() {
        let shape = |b: &str| matches!(parse_page(Feed::Launches, b.as_bytes()), Err(ParseError::Shape(_)));
        let not_json = |b: &str| matches!(parse_page(Feed::Launches, b.as_bytes()), Err(ParseError::NotJson(_)));
        assert!(shape(r#"{"detail":"Not found."}"#));
        assert!(shape(r#"{"count":1,"results":{}}"#));
        assert!(shape(r#"{"results":[],"next":5}"#));
        assert!(shape("42"));
        assert!(not_json("<!DOCTYPE html><html><body>502</body></html>"));
        assert!(not_json(r#"{"count":3,"results":[{"id":"a","#));
        assert!(not_json(""));
        let Err(ParseError::Shape(m)) = parse_page(Feed::Events, br#"{"detail":"Not found."}"#) else {
            panic!("expected a shape error");
        };
        assert!(m.contains("Not found."), "{m}");
        assert!(matches!(parse_item(Feed::Events, br#"{"detail":"Not found."}"#), Err(ParseError::Shape(_))));
        assert_eq!(page(Feed::Events, br#"{"results":[],"next":""}"#).next, None);
    }

    #[test]
    fn sanitize_flattens_and_truncates() {
        assert_eq!(sanitize("  a\n\n\tb\u{7}c  ", 80), "a b c");
        assert_eq!(sanitize("abcdef", 3), "abc…");
        assert_eq!(sanitize("abcd \n", 4), "abcd", "an exact fit is not cut");
        assert_eq!(sanitize(&"ab ".repeat(100_000), 5), "ab ab…", "a long body is cut, not copied whole");
    }
}
