//! The fake's guild scheduled events: the calls and Discord's validation
//! of their bodies (see the parent module's docs for the rules).

use std::collections::VecDeque;
use std::time::Instant;

use serde_json::{Value, json};

use super::{BOT_USER_ID, Fault, Kind, Reply, ServerState, Target, Window, invalid_form_body, rate_headers, round3};

impl ServerState {
    /// Route limit, scripted faults, membership and permission of a
    /// guild call; `None` when it may proceed.
    fn guild_gate(&mut self, kind: &Kind, guild: u64, now: Instant) -> Option<Reply> {
        let target = Target::Guild(guild);
        let (limit, per) = self.route_limit;
        let slot = self.windows.entry(target).or_default();
        if let Err(wait) = Window::admit(slot, limit, per, now) {
            let mut r = Reply::rate_limited(round3(wait), false);
            r.headers.extend(rate_headers(target, limit, 0, wait));
            return Some(r);
        }
        let fault =
            self.once.get_mut(&target).and_then(VecDeque::pop_front).or_else(|| self.always.get(&target).cloned());
        match fault {
            Some(Fault::RateLimited { retry_after, global }) => return Some(Reply::rate_limited(retry_after, global)),
            Some(Fault::ServerError) => return Some(Reply::error(500, 0, "500: Internal Server Error")),
            Some(Fault::MissingPermissions) => return Some(Reply::error(403, 50013, "Missing Permissions")),
            Some(Fault::MissingAccess) => return Some(Reply::error(403, 50001, "Missing Access")),
            _ => {}
        }
        if self.not_in.contains(&guild) {
            return Some(Reply::error(404, 10004, "Unknown Guild"));
        }
        let listing = matches!(kind, Kind::ListEvents { .. });
        (!listing && self.no_manage_events.contains(&guild)).then(|| Reply::error(403, 50013, "Missing Permissions"))
    }

    /// A scheduled-events call: the guild's gate, then Discord's
    /// validation and the change itself.
    pub(super) fn scheduled_event_call(&mut self, kind: &Kind, body: &Value, now: Instant) -> Reply {
        let Some(Target::Guild(guild)) = kind.target() else { return Reply::error(404, 0, "404: Not Found") };
        if let Some(refused) = self.guild_gate(kind, guild, now) {
            return refused;
        }
        let events = self.events.entry(guild).or_default();
        let find = |events: &[Value], id: u64| {
            events.iter().position(|e| e["id"].as_str().and_then(|s| s.parse::<u64>().ok()) == Some(id))
        };
        match kind {
            Kind::ListEvents { .. } => Reply::json(200, Value::Array(events.clone())),
            Kind::CreateEvent { .. } => {
                if let Some(r) = validate_event(body, None) {
                    return r;
                }
                if events.len() >= 100 {
                    return Reply::error(400, 30038, "Maximum number of guild events reached (100)");
                }
                let mut event = body.clone();
                let id = {
                    self.next_id += 1;
                    self.next_id.to_string()
                };
                if let Some(obj) = event.as_object_mut() {
                    obj.insert("id".into(), json!(id));
                    obj.insert("guild_id".into(), json!(guild.to_string()));
                    obj.insert("creator_id".into(), json!(BOT_USER_ID.to_string()));
                    obj.insert("status".into(), json!(1));
                }
                let events = self.events.entry(guild).or_default();
                events.push(event.clone());
                Reply::json(200, event)
            }
            Kind::PatchEvent { event, .. } => {
                let Some(i) = find(events, *event) else {
                    return Reply::error(404, 10070, "Unknown Guild Scheduled Event");
                };
                if let Some(r) = validate_event(body, Some(&events[i])) {
                    return r;
                }
                if let (Some(stored), Some(patch)) = (events[i].as_object_mut(), body.as_object()) {
                    for (k, v) in patch {
                        stored.insert(k.clone(), v.clone());
                    }
                }
                Reply::json(200, events[i].clone())
            }
            Kind::DeleteEvent { event, .. } => match find(events, *event) {
                Some(i) => {
                    events.remove(i);
                    Reply::empty(204)
                }
                None => Reply::error(404, 10070, "Unknown Guild Scheduled Event"),
            },
            _ => Reply::error(404, 0, "404: Not Found"),
        }
    }
}

/// Discord's checks of a scheduled event's create body, or of a patch
/// (`current`: the event it changes, for the fields it leaves out).
fn validate_event(body: &Value, current: Option<&Value>) -> Option<Reply> {
    let Some(obj) = body.as_object() else {
        return Some(Reply::error(400, 50109, "The request body contains invalid JSON."));
    };
    let field = |key: &str| obj.get(key).or_else(|| current.and_then(|c| c.get(key))).filter(|v| !v.is_null());
    let chars = |v: Option<&Value>| v.and_then(Value::as_str).map(|s| s.chars().count());
    let mut errors = serde_json::Map::new();
    let mut fail = |path: &str, code: &str, message: &str| {
        errors.insert(path.into(), json!({"_errors": [{"code": code, "message": message}]}));
    };
    match chars(field("name")) {
        Some(1..=100) => {}
        Some(_) => fail("name", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length."),
        None => fail("name", "BASE_TYPE_REQUIRED", "This field is required"),
    }
    if chars(field("description")).is_some_and(|n| n > 1000) {
        fail("description", "BASE_TYPE_MAX_LENGTH", "Must be 1000 or fewer in length.");
    }
    if field("privacy_level").and_then(Value::as_i64) != Some(2) {
        fail("privacy_level", "BASE_TYPE_CHOICES", "Value must be one of {2}.");
    }
    let time =
        |key: &str| field(key).and_then(Value::as_str).and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok());
    let start = time("scheduled_start_time");
    match start {
        None => fail("scheduled_start_time", "BASE_TYPE_REQUIRED", "This field is required"),
        Some(s) if obj.contains_key("scheduled_start_time") && s < chrono::Utc::now() => {
            fail("scheduled_start_time", "GUILD_SCHEDULED_EVENT_SCHEDULE_PAST", "Cannot schedule event in the past.")
        }
        _ => {}
    }
    if field("entity_type").and_then(Value::as_i64) == Some(3) {
        match chars(field("entity_metadata").and_then(|m| m.get("location"))) {
            Some(1..=100) => {}
            _ => fail("entity_metadata.location", "BASE_TYPE_REQUIRED", "This field is required"),
        }
        match (start, time("scheduled_end_time")) {
            (_, None) => fail("scheduled_end_time", "BASE_TYPE_REQUIRED", "This field is required"),
            (Some(s), Some(e)) if e <= s => {
                fail("scheduled_end_time", "GUILD_SCHEDULED_EVENT_END_BEFORE_START", "End must be after start.")
            }
            _ => {}
        }
    } else {
        fail("entity_type", "BASE_TYPE_CHOICES", "This bot only makes EXTERNAL (3) events.");
    }
    (!errors.is_empty()).then(|| invalid_form_body(Value::Object(errors)))
}
