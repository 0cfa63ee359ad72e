//! Discord guild scheduled events that mirror upcoming items
//! (`discord-events:GUILD_ID` destinations).
//!
//! Two halves:
//! - pure planning: the events a guild should have ([`desired`]: matching
//!   items known at least to the day, not ended, starting within
//!   `[discord] events_window`, nearest first, at most [`MAX_ACTIVE`]) and
//!   the operations that bring the stored ones there ([`plan`]: create,
//!   patch, delete), within Discord's limits (name <= 100 characters,
//!   description <= 1000, location <= 100, no start in the past);
//! - [`EventsApi`]: the REST calls (`{api_url}/api/v10/guilds/{id}/scheduled-events`)
//!   with the bot token, paced by the bot's one [`BotLimiter`], the alert
//!   sender's: Discord's 50 requests/s are the bot's, so events and alerts
//!   share them (a 429's `retry_after` pauses the guild's route, a global
//!   one every route of the bot). The sync makes one call at a time, so it
//!   holds at most one slot ahead of an alert: alerts never queue behind a
//!   whole sync.
//!
//! The ids of the events the bot created live in the store (one record per
//! guild and item, written right after Discord confirmed), so a restart
//! neither duplicates nor orphans events; [`reconcile`](EventSync::reconcile)
//! at start-up deletes events the bot created that the store does not know
//! (a crash between a create and its record) and forgets records whose
//! event a human deleted. The sync ([`EventSync`]) is idempotent from the
//! store's state: it runs after every store commit, after a chat's
//! `/events on|off` (`Store::mirrors_changed`) and every few minutes, on
//! its own task, so it never blocks alerts; with no guild to keep it makes
//! no request at all.
//!
//! The calls go through reqwest, not serenity's `Http`, for the reason the
//! sender gives (`discord::sender`): they are paced by the same
//! [`BotLimiter`] as alerts, whose 429 handling is the outbox's, not a
//! retry loop inside the request.
//!
//! It must not log the bot token, nor decide which items a guild wants
//! beyond the subscription filters.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, HeaderValue};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::render::truncate;
use super::sender::{BotLimiter, RouteKey};
use crate::calendar::{self, ics};
use crate::errors::redact;
use crate::item::{Item, status};
use crate::store::{EventSpec, GuildEvent, Store, StoreError};
use crate::types::{Destination, GuildId, ItemId, Secret};

/// Discord allows this many scheduled (and active) events per guild.
pub(crate) const MAX_ACTIVE: usize = 100;
/// Discord's limits on an event's text, in characters.
const MAX_NAME: usize = 100;
const MAX_DESCRIPTION: usize = 1000;
const MAX_LOCATION: usize = 100;
/// `[discord] events_window` default.
#[cfg(test)]
pub(crate) const DEFAULT_WINDOW: Duration = Duration::from_secs(14 * 86_400);
/// How often the sync runs without a store change (the window moves, and
/// guilds that failed are retried).
const RESYNC: Duration = Duration::from_secs(300);

impl EventSpec {
    /// The event of an item, or `None` when its date is not known to the
    /// day (Discord events need an instant).
    pub(crate) fn of(item: &Item) -> Option<EventSpec> {
        let start = match ics::start(item)? {
            ics::Start::Instant(at) => at,
            ics::Start::AllDay { net: false, .. } => item.when?,
            ics::Start::AllDay { net: true, .. } => return None,
        };
        Some(EventSpec {
            name: truncate(&item.name, MAX_NAME).into_owned(),
            description: truncate(&ics::description(item), MAX_DESCRIPTION).into_owned(),
            location: truncate(&ics::location(item).unwrap_or_else(|| "Webcast".into()), MAX_LOCATION).into_owned(),
            start,
            end: ics::end_of(item, start),
        })
    }

    /// The JSON body of a create or a patch: an EXTERNAL event (type 3).
    pub(crate) fn body(&self) -> Value {
        json!({
            "name": self.name,
            "description": self.description,
            "privacy_level": 2,
            "entity_type": 3,
            "entity_metadata": {"location": self.location},
            "scheduled_start_time": self.start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "scheduled_end_time": self.end.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        })
    }
}

/// What [`plan`] asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Op {
    Create { item: ItemId, spec: EventSpec },
    Patch { item: ItemId, event_id: String, spec: EventSpec },
    Delete { item: ItemId, event_id: String },
}

/// Whether an item is over: a final launch status.
fn ended(item: &Item) -> bool {
    item.status.as_ref().and_then(|s| s.id).is_some_and(|id| status::FINAL.contains(&id))
}

/// The events a guild should have: `items` (already the ones its
/// subscriptions select) that have a day-precise date within `window` of
/// `now` and have not ended. Items already mirrored (`kept`) stay while in
/// flight (start passed, no final status yet). Nearest first, at most
/// [`MAX_ACTIVE`].
pub(crate) fn desired(
    items: &[Item],
    kept: &HashSet<ItemId>,
    now: DateTime<Utc>,
    window: Duration,
) -> Vec<(ItemId, EventSpec)> {
    let horizon = now + chrono::Duration::from_std(window).unwrap_or(chrono::Duration::MAX);
    let mut out: Vec<(ItemId, EventSpec)> = items
        .iter()
        .filter(|i| !ended(i))
        .filter_map(|i| EventSpec::of(i).map(|s| (i.id.clone(), s)))
        .filter(|(id, s)| s.start <= horizon && (s.start > now || kept.contains(id)))
        .collect();
    out.sort_by(|a, b| a.1.start.cmp(&b.1.start).then_with(|| a.0.cmp(&b.0)));
    out.truncate(MAX_ACTIVE);
    out
}

/// The operations from `stored` to `desired`: deletes first (they free
/// slots under Discord's cap), then patches and creates, nearest first. A
/// start that already passed is never sent (Discord refuses it): such an
/// event is left as it is.
pub(crate) fn plan(desired: &[(ItemId, EventSpec)], stored: &[GuildEvent], now: DateTime<Utc>) -> Vec<Op> {
    let wanted: HashMap<&ItemId, &EventSpec> = desired.iter().map(|(id, s)| (id, s)).collect();
    let mut ops: Vec<Op> = stored
        .iter()
        .filter(|g| !wanted.contains_key(&g.item))
        .map(|g| Op::Delete { item: g.item.clone(), event_id: g.event_id.clone() })
        .collect();
    let have: HashMap<&ItemId, &GuildEvent> = stored.iter().map(|g| (&g.item, g)).collect();
    for (id, spec) in desired {
        match have.get(id) {
            Some(g) if g.spec != *spec && spec.start > now => {
                ops.push(Op::Patch { item: id.clone(), event_id: g.event_id.clone(), spec: spec.clone() })
            }
            Some(_) => {}
            None if spec.start > now => ops.push(Op::Create { item: id.clone(), spec: spec.clone() }),
            None => {}
        }
    }
    ops
}

/// Why a REST call failed.
#[cfg_attr(feature = "testing", visibility::make(pub))]
#[derive(Debug, thiserror::Error)]
pub(crate) enum EventsError {
    /// Discord answered 429, or the local limiter would wait too long: try
    /// again after this long.
    #[error("rate limited, retry after {0:?}")]
    RateLimited(Duration),
    /// HTTP 403 in this guild: the bot lacks Manage Events.
    #[error(
        "the bot lacks the Manage Events permission in guild {0} (give its role Manage Events, or remove the discord-events destination)"
    )]
    Forbidden(u64),
    /// HTTP 404 on a guild route: the bot is not in this guild.
    #[error("the bot is not in guild {0} (invite it, or fix the discord-events destination)")]
    UnknownGuild(u64),
    /// Discord error 10070: the event is gone (a human deleted it).
    #[error("unknown scheduled event")]
    UnknownEvent,
    /// Any other refusal.
    #[error("Discord answered {status}: {text}")]
    Status {
        /// The HTTP status code.
        status: u16,
        /// The start of Discord's answer (500 characters), the token redacted.
        text: String,
    },
    /// No answer, or one without the fields the call needs.
    #[error("request failed: {0}")]
    Transport(String),
    /// Reading or writing the event records failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// An event as Discord lists it (the fields the sync reads).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Listed {
    id: String,
    #[serde(default)]
    creator_id: Option<String>,
}

/// The scheduled-events REST calls, as the bot.
#[cfg_attr(feature = "testing", visibility::make(pub))]
pub(crate) struct EventsApi {
    http: reqwest::Client,
    base: String,
    token: Secret,
    limiter: BotLimiter,
}

impl EventsApi {
    /// `api_url` as `[discord] api_url` (requests go to `{api_url}/api/v10`);
    /// `limiter` is the bot's (`DiscordSender::limiter`), so events and
    /// alerts together stay under Discord's ceiling.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn new(token: Secret, api_url: &str, limiter: BotLimiter) -> Result<EventsApi, EventsError> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("DiscordBot (tminus, ", env!("CARGO_PKG_VERSION"), ")"))
            .timeout(Duration::from_secs(15))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| EventsError::Transport(e.without_url().to_string()))?;
        let base = format!("{}{}", api_url.trim_end_matches('/'), super::sender::API_PATH);
        Ok(EventsApi { http, base, token, limiter })
    }

    async fn call(
        &self,
        guild: u64,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, EventsError> {
        let key = RouteKey(format!("guild-events:{guild}"));
        let limiter = &self.limiter.0;
        if let Err(wait) = limiter.acquire_within(&key, Duration::from_secs(10)).await {
            return Err(EventsError::RateLimited(wait));
        }
        let auth = HeaderValue::from_str(&format!("Bot {}", self.token.expose()))
            .map_err(|_| EventsError::Transport("the bot token is not a valid header value".into()))?;
        let mut req = self.http.request(method, format!("{}{path}", self.base)).header(AUTHORIZATION, auth);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.map_err(|e| EventsError::Transport(e.without_url().to_string()))?;
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        let parsed: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        match status {
            s if s.is_success() => Ok(parsed),
            StatusCode::TOO_MANY_REQUESTS => {
                let secs = parsed.get("retry_after").and_then(Value::as_f64).unwrap_or(1.0).clamp(0.0, 3600.0);
                let wait = Duration::from_secs_f64(secs);
                if parsed.get("global").and_then(Value::as_bool) == Some(true) {
                    limiter.pause_all(Instant::now() + wait);
                } else {
                    limiter.pause_key(&key, Instant::now() + wait);
                }
                Err(EventsError::RateLimited(wait))
            }
            StatusCode::FORBIDDEN => Err(EventsError::Forbidden(guild)),
            StatusCode::NOT_FOUND if parsed.get("code").and_then(Value::as_i64) == Some(10070) => {
                Err(EventsError::UnknownEvent)
            }
            StatusCode::NOT_FOUND => Err(EventsError::UnknownGuild(guild)),
            s => Err(EventsError::Status {
                status: s.as_u16(),
                text: redact(&text.chars().take(500).collect::<String>(), &[self.token.expose()]),
            }),
        }
    }

    /// The bot's own user id (to recognise the events it created).
    pub(crate) async fn bot_user(&self) -> Result<String, EventsError> {
        let me = self.call(0, reqwest::Method::GET, "/users/@me", None).await?;
        me.get("id").and_then(Value::as_str).map(str::to_owned).ok_or(EventsError::Transport("no user id".into()))
    }

    pub(crate) async fn list(&self, guild: GuildId) -> Result<Vec<Listed>, EventsError> {
        let v =
            self.call(guild.0, reqwest::Method::GET, &format!("/guilds/{}/scheduled-events", guild.0), None).await?;
        serde_json::from_value(v).map_err(|e| EventsError::Transport(format!("unexpected list answer: {e}")))
    }

    pub(crate) async fn create(&self, guild: GuildId, spec: &EventSpec) -> Result<String, EventsError> {
        let path = format!("/guilds/{}/scheduled-events", guild.0);
        let v = self.call(guild.0, reqwest::Method::POST, &path, Some(spec.body())).await?;
        v.get("id").and_then(Value::as_str).map(str::to_owned).ok_or(EventsError::Transport("no event id".into()))
    }

    pub(crate) async fn patch(&self, guild: GuildId, event_id: &str, spec: &EventSpec) -> Result<(), EventsError> {
        let path = format!("/guilds/{}/scheduled-events/{event_id}", guild.0);
        self.call(guild.0, reqwest::Method::PATCH, &path, Some(spec.body())).await.map(drop)
    }

    pub(crate) async fn delete(&self, guild: GuildId, event_id: &str) -> Result<(), EventsError> {
        let path = format!("/guilds/{}/scheduled-events/{event_id}", guild.0);
        self.call(guild.0, reqwest::Method::DELETE, &path, None).await.map(drop)
    }
}

/// Keeps every `discord-events:` guild in step with the store.
#[cfg_attr(feature = "testing", visibility::make(pub))]
pub(crate) struct EventSync {
    store: Store,
    api: EventsApi,
    window: Duration,
    /// Guilds whose permission/membership problem was already logged.
    warned: std::sync::Mutex<HashSet<u64>>,
}

impl EventSync {
    /// A sync of the guilds the store's subscriptions name, mirroring items
    /// that start within `window` (`[discord] events_window`).
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn new(store: Store, api: EventsApi, window: Duration) -> EventSync {
        EventSync { store, api, window, warned: Default::default() }
    }

    /// The guilds some subscription mirrors into, and those that still
    /// have events of ours although no subscription wants them any more
    /// (a watch was removed): their pass deletes those events.
    pub(crate) fn guilds(&self) -> Result<Vec<GuildId>, StoreError> {
        let mut out: Vec<GuildId> = self
            .store
            .subscriptions()?
            .into_iter()
            .filter_map(|s| match s.destination {
                Destination::DiscordEvents(g) => Some(g),
                _ => None,
            })
            .collect();
        out.extend(self.store.event_guilds()?);
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// Start-up check against what the guild lists: events the bot created
    /// that the store does not know are deleted (a crash between a create
    /// and its record), records whose event is gone are forgotten.
    pub(crate) async fn reconcile(&self, guild: GuildId, bot_user: &str) -> Result<(), EventsError> {
        let listed = self.api.list(guild).await?;
        let stored = self.store.guild_events(guild)?;
        let known: HashSet<&str> = stored.iter().map(|(_, g)| g.event_id.as_str()).collect();
        for e in &listed {
            if e.creator_id.as_deref() == Some(bot_user) && !known.contains(e.id.as_str()) {
                info!(guild = guild.0, event = %e.id, "deleting a scheduled event the store does not know");
                match self.api.delete(guild, &e.id).await {
                    Ok(()) | Err(EventsError::UnknownEvent) => {}
                    Err(err) => return Err(err),
                }
            }
        }
        let present: HashSet<&str> = listed.iter().map(|e| e.id.as_str()).collect();
        for (item, g) in &stored {
            if !present.contains(g.event_id.as_str()) {
                self.store.remove_guild_event(guild, item)?;
            }
        }
        Ok(())
    }

    /// One pass over a guild: plan from the store, apply, record each
    /// confirmed operation at once. Returns the operations done.
    pub(crate) async fn sync_guild(&self, guild: GuildId, now: DateTime<Utc>) -> Result<usize, EventsError> {
        let subs = self.store.subscriptions_of(&Destination::DiscordEvents(guild))?;
        let items: Vec<Item> = self
            .store
            .items()?
            .into_iter()
            .filter(|i| calendar::is_current(i, now) && calendar::selected(&subs, i))
            .collect();
        let stored: Vec<GuildEvent> = self.store.guild_events(guild)?.into_iter().map(|(_, g)| g).collect();
        let kept: HashSet<ItemId> = stored.iter().map(|g| g.item.clone()).collect();
        let ops = plan(&desired(&items, &kept, now, self.window), &stored, now);
        let mut done = 0;
        for op in ops {
            match op {
                Op::Create { item, spec } => {
                    let event_id = self.api.create(guild, &spec).await?;
                    self.store.put_guild_event(guild, &GuildEvent { item, event_id, spec })?;
                }
                Op::Patch { item, event_id, spec } => match self.api.patch(guild, &event_id, &spec).await {
                    Ok(()) => self.store.put_guild_event(guild, &GuildEvent { item, event_id, spec })?,
                    // Deleted by a human: forget it, the next pass creates it again.
                    Err(EventsError::UnknownEvent) => self.store.remove_guild_event(guild, &item)?,
                    Err(e) => return Err(e),
                },
                Op::Delete { item, event_id } => {
                    match self.api.delete(guild, &event_id).await {
                        Ok(()) | Err(EventsError::UnknownEvent) => {}
                        Err(e) => return Err(e),
                    }
                    self.store.remove_guild_event(guild, &item)?;
                }
            }
            done += 1;
        }
        if done > 0 {
            self.store.flush().await?;
            debug!(guild = guild.0, operations = done, "scheduled events synced");
        }
        Ok(done)
    }

    /// Whether no guild needs a pass (a store error counts as work: the
    /// pass reports it).
    fn idle(&self) -> bool {
        self.guilds().is_ok_and(|g| g.is_empty())
    }

    /// Logs a guild's failure: permission and membership problems once per
    /// guild (until it works again), with the fix.
    fn report(&self, guild: GuildId, e: &EventsError) {
        let mut warned = self.warned.lock().unwrap_or_else(|p| p.into_inner());
        match e {
            EventsError::Forbidden(_) | EventsError::UnknownGuild(_) => {
                if warned.insert(guild.0) {
                    warn!(guild = guild.0, "Discord scheduled events: {e}; retrying every few minutes");
                }
            }
            EventsError::RateLimited(wait) => debug!(guild = guild.0, ?wait, "Discord scheduled events rate limited"),
            other => warn!(guild = guild.0, error = %other, "Discord scheduled events sync failed; will retry"),
        }
    }

    /// Every guild once: reconcile on the first successful pass of a guild
    /// (`reconciled` remembers), then sync. Returns the earliest retry a
    /// rate limit asked for.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) async fn pass(&self, bot_user: &str, reconciled: &mut HashSet<u64>) -> Option<Duration> {
        let mut retry: Option<Duration> = None;
        let guilds = match self.guilds() {
            Ok(g) => g,
            Err(e) => {
                warn!(error = %e, "cannot read subscriptions for scheduled events");
                return Some(RESYNC);
            }
        };
        for guild in guilds {
            let result = async {
                if !reconciled.contains(&guild.0) {
                    self.reconcile(guild, bot_user).await?;
                    reconciled.insert(guild.0);
                }
                self.sync_guild(guild, Utc::now()).await
            }
            .await;
            match result {
                Ok(_) => {
                    self.warned.lock().unwrap_or_else(|p| p.into_inner()).remove(&guild.0);
                }
                Err(e) => {
                    if let EventsError::RateLimited(w) = e {
                        retry = Some(retry.map_or(w, |r| r.min(w)));
                    }
                    self.report(guild, &e);
                }
            }
        }
        retry
    }

    /// One full pass as `tminus once` runs it: identify the bot, reconcile
    /// and sync every guild; failures are logged.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) async fn pass_once(&self) {
        if self.idle() {
            return;
        }
        match self.api.bot_user().await {
            Ok(me) => {
                self.pass(&me, &mut HashSet::new()).await;
            }
            Err(e) => warn!(error = %e, "Discord scheduled events: cannot identify the bot"),
        }
    }

    /// The sync task: a pass at start, after every store commit and every
    /// few minutes, until `shutdown`.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let mut changes = self.store.changes();
        let mut reconciled = HashSet::new();
        let mut bot_user: Option<String> = None;
        loop {
            // Nothing to keep (no watch, no `/events on`): no request, until
            // a change names a guild.
            if self.idle() {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = changes.changed() => {}
                    _ = tokio::time::sleep(RESYNC) => {}
                }
                continue;
            }
            if bot_user.is_none() {
                match self.api.bot_user().await {
                    Ok(id) => bot_user = Some(id),
                    Err(e) => warn!(error = %e, "Discord scheduled events: cannot identify the bot; will retry"),
                }
            }
            let wait = match &bot_user {
                Some(me) => self.pass(me, &mut reconciled).await.unwrap_or(RESYNC).max(Duration::from_millis(50)),
                None => RESYNC,
            };
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = changes.changed() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::tests::sample_launch;
    use crate::item::{Named, Precision};
    use crate::types::ItemKind;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn launch(id: &str, when: &str, precision: Precision) -> Item {
        let mut item = sample_launch();
        item.id = ItemId::new(ItemKind::Launch, id);
        item.when = Some(at(when));
        item.precision = Some(precision);
        item.window_end = None;
        item
    }

    #[test]
    fn only_day_precise_items_within_the_window_that_have_not_ended() {
        let now = at("2026-10-01T00:00:00Z");
        let mut done = launch("done", "2026-10-02T00:00:00Z", Precision::Minute);
        done.status = Some(Named::new(Some(status::SUCCESS), "Launch Successful", None));
        let items = vec![
            launch("soon", "2026-10-02T10:00:00Z", Precision::Minute),
            launch("day", "2026-10-03T00:00:00Z", Precision::Day),
            launch("month", "2026-10-04T00:00:00Z", Precision::Month),
            launch("far", "2026-11-30T00:00:00Z", Precision::Minute),
            launch("past", "2026-09-30T00:00:00Z", Precision::Minute),
            done,
        ];
        let got: Vec<String> =
            desired(&items, &HashSet::new(), now, DEFAULT_WINDOW).into_iter().map(|(id, _)| id.id).collect();
        assert_eq!(got, ["soon", "day"]);
    }

    #[test]
    fn at_most_a_hundred_nearest_first() {
        let now = at("2026-10-01T00:00:00Z");
        let items: Vec<Item> = (0..150)
            .map(|i| {
                let when = now + chrono::Duration::minutes(150 - i);
                launch(&format!("l{i}"), &when.to_rfc3339(), Precision::Minute)
            })
            .collect();
        let got = desired(&items, &HashSet::new(), now, DEFAULT_WINDOW);
        assert_eq!(got.len(), MAX_ACTIVE);
        assert_eq!(got[0].0.id, "l149");
        assert!(got.windows(2).all(|w| w[0].1.start <= w[1].1.start));
    }

    #[test]
    fn specs_respect_discord_limits() {
        let mut item = launch("x", "2026-10-02T10:00:00Z", Precision::Minute);
        item.name = "🚀".repeat(300);
        item.pad = Some("P".repeat(300));
        let spec = EventSpec::of(&item).unwrap();
        assert_eq!(spec.name.chars().count(), MAX_NAME);
        assert!(spec.location.chars().count() <= MAX_LOCATION);
        assert_eq!(spec.end, spec.start + ics::DEFAULT_LENGTH);
        let body = spec.body();
        assert_eq!(body["entity_type"], 3);
        assert_eq!(body["scheduled_start_time"], "2026-10-02T10:00:00Z");
        item.pad = None;
        item.location = None;
        assert_eq!(EventSpec::of(&item).unwrap().location, "Webcast");
    }

    #[test]
    fn plan_creates_patches_and_deletes() {
        let now = at("2026-10-01T00:00:00Z");
        let a = launch("a", "2026-10-02T10:00:00Z", Precision::Minute);
        let mut b = launch("b", "2026-10-03T10:00:00Z", Precision::Minute);
        let spec_a = EventSpec::of(&a).unwrap();
        let spec_b = EventSpec::of(&b).unwrap();
        let stored = vec![
            GuildEvent { item: b.id.clone(), event_id: "eb".into(), spec: spec_b.clone() },
            GuildEvent { item: ItemId::new(ItemKind::Launch, "gone"), event_id: "eg".into(), spec: spec_b.clone() },
        ];
        b.when = Some(at("2026-10-03T12:00:00Z"));
        let desired = vec![(a.id.clone(), spec_a.clone()), (b.id.clone(), EventSpec::of(&b).unwrap())];
        let ops = plan(&desired, &stored, now);
        assert_eq!(ops.len(), 3);
        assert!(matches!(&ops[0], Op::Delete { event_id, .. } if event_id == "eg"));
        assert!(matches!(&ops[1], Op::Create { item, .. } if item.id == "a"));
        assert!(matches!(&ops[2], Op::Patch { event_id, .. } if event_id == "eb"));
        let same = plan(&[(b.id.clone(), spec_b.clone())], &stored[..1], now);
        assert!(same.is_empty(), "{same:?}");
    }
}
