//! The store's part for the calendar mirrors: the change signal the sync
//! steps wait on, the SEQUENCE of each item (written by `apply` with the
//! snapshots; [`Sequenced`] is what it counts), private feed tokens and the
//! Discord scheduled events the bot made ([`GuildEvent`]). The records are
//! defined here, with the trees that hold them, so the store depends on no
//! mirror; `calendar` and `discord::events` build and read them. Kept
//! beside the core store so `store.rs` stays about the outbox and its
//! transactions; it must not decide what a calendar shows.

use super::*;

/// What the `SEQUENCE` of an item's event counts: the fields whose change
/// is a change of the event for calendar clients.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Schedule {
    /// The item's date, UTC.
    pub(crate) when: Option<DateTime<Utc>>,
    /// LL2's precision id of the date (it decides all-day vs timed).
    pub(crate) precision: Option<i64>,
    /// The launch window's end (the event's end), UTC.
    pub(crate) window_end: Option<DateTime<Utc>>,
    /// LL2's status id (the description shows it).
    pub(crate) status: Option<i64>,
    /// The item's name (the event's summary).
    pub(crate) name: String,
}

impl Schedule {
    /// What `item` shows a calendar now.
    pub(crate) fn of(item: &Item) -> Schedule {
        Schedule {
            when: item.when,
            precision: item.precision.map(|p| p.id()),
            window_end: item.window_end,
            status: item.status.as_ref().and_then(|s| s.id),
            name: item.name.clone(),
        }
    }
}

/// The stored sequence of one item and the schedule it counted last.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Sequenced {
    /// The VEVENT's `SEQUENCE`: 0 when first seen, +1 on each change.
    pub(crate) sequence: u32,
    /// What the item showed when `sequence` was last raised.
    pub(crate) schedule: Schedule,
}

impl Sequenced {
    /// The record after seeing `item`: `None` when nothing it counts
    /// changed (no write), else the record with the sequence raised (0 for
    /// an item seen for the first time).
    pub(crate) fn next(prev: Option<&Sequenced>, item: &Item) -> Option<Sequenced> {
        let schedule = Schedule::of(item);
        match prev {
            Some(p) if p.schedule == schedule => None,
            Some(p) => Some(Sequenced { sequence: p.sequence.saturating_add(1), schedule }),
            None => Some(Sequenced { sequence: 0, schedule }),
        }
    }
}

/// What one scheduled event says; compared with the stored one to decide
/// whether it needs a PATCH.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct EventSpec {
    /// The item's name, cut to 100 characters.
    pub(crate) name: String,
    /// The same text as the calendar entry's, cut to 1000 characters.
    pub(crate) description: String,
    /// Pad and place, or "Webcast" when LL2 names none; cut to 100 characters.
    pub(crate) location: String,
    /// The item's date (`when`), UTC.
    pub(crate) start: DateTime<Utc>,
    /// The launch window's end when after `start`, else `start` plus the
    /// calendar's default length.
    pub(crate) end: DateTime<Utc>,
}

/// One event the bot keeps in a guild, as stored.
#[cfg_attr(feature = "testing", visibility::make(pub))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct GuildEvent {
    /// The item the event mirrors.
    pub(crate) item: ItemId,
    /// Discord's id of the scheduled event (a snowflake, as text).
    pub event_id: String,
    /// What the event said when it was last created or patched.
    pub(crate) spec: EventSpec,
}

impl Store {
    /// Changes whenever a batch was applied (poll pages, reminder passes).
    pub(crate) fn changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.applied.subscribe()
    }

    /// The sequence rows `apply` writes with a batch's snapshots: one per
    /// item whose schedule or status changed since its last sequence.
    pub(super) fn sequence_rows(&self, items: &[Item]) -> Result<Vec<(String, Vec<u8>)>> {
        let mut rows = Vec::new();
        for item in items {
            let prev = self.sequence(&item.id)?;
            if let Some(next) = Sequenced::next(prev.as_ref(), item) {
                rows.push((item.id.key(), enc(&next)));
            }
        }
        Ok(rows)
    }

    /// The calendar sequence of an item, once it was stored.
    pub(crate) fn sequence(&self, id: &ItemId) -> Result<Option<Sequenced>> {
        let key = id.key();
        self.calendar.sequences.get(&key)?.map(|v| dec("calendar_sequences", key.as_bytes(), &v)).transpose()
    }

    /// The private feed token of a chat, if it has one.
    pub(crate) fn calendar_token(&self, chat: &Destination) -> Result<Option<String>> {
        let k = format!("\0{}", chat.storage_key());
        self.calendar.tokens.get(&k)?.map(|v| dec("calendar_tokens", k.as_bytes(), &v)).transpose()
    }

    /// Every chat's private feed token, in key order (for `tminus export`).
    pub(crate) fn calendar_tokens(&self) -> Result<Vec<(Destination, String)>> {
        let mut out = Vec::new();
        for kv in self.calendar.tokens.iter() {
            let (k, v) = kv?;
            if k.first() == Some(&0) {
                continue;
            }
            let token = String::from_utf8_lossy(&k).into_owned();
            out.push((dec::<Destination>("calendar_tokens", &k, &v)?, token));
        }
        out.sort_by_key(|(d, _)| d.storage_key());
        Ok(out)
    }

    /// The chat a private feed token belongs to.
    pub(crate) fn calendar_token_destination(&self, token: &str) -> Result<Option<Destination>> {
        if token.is_empty() || token.starts_with('\0') {
            return Ok(None);
        }
        self.calendar.tokens.get(token)?.map(|v| dec("calendar_tokens", token.as_bytes(), &v)).transpose()
    }

    /// Gives a chat a new token; its old one (if any) stops working.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn set_calendar_token(&self, chat: &Destination, token: &str) -> Result<()> {
        let by_chat = format!("\0{}", chat.storage_key());
        let (chat_row, token_row) = (enc(&chat), enc(&token));
        self.calendar
            .tokens
            .transaction(|t| {
                if let Some(old) = t.get(by_chat.as_bytes())?
                    && let Ok(old) = serde_json::from_slice::<String>(&old)
                {
                    t.remove(old.as_bytes())?;
                }
                t.insert(by_chat.as_bytes(), token_row.as_slice())?;
                t.insert(token.as_bytes(), chat_row.as_slice())?;
                Ok::<_, ConflictableTransactionError<StoreError>>(())
            })
            .map_err(abort)
    }

    /// The scheduled events the bot keeps in a guild, by item.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn guild_events(&self, guild: GuildId) -> Result<Vec<(ItemId, GuildEvent)>> {
        let prefix = guild_prefix(guild);
        let mut out = Vec::new();
        for kv in self.calendar.discord_events.scan_prefix(&prefix) {
            let (k, v) = kv?;
            let record: GuildEvent = dec("discord_events", &k, &v)?;
            out.push((record.item.clone(), record));
        }
        Ok(out)
    }

    /// The guilds the bot keeps scheduled events in, from the records.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn event_guilds(&self) -> Result<Vec<GuildId>> {
        let mut out: Vec<GuildId> = Vec::new();
        for k in self.calendar.discord_events.iter().keys() {
            let k = k?;
            let id = GuildId(u64::from_be_bytes(k[..8.min(k.len())].try_into().unwrap_or([0; 8])));
            if out.last() != Some(&id) {
                out.push(id);
            }
        }
        Ok(out)
    }

    /// Records (or replaces) the event mirroring `record.item` in `guild`.
    pub(crate) fn put_guild_event(&self, guild: GuildId, record: &GuildEvent) -> Result<()> {
        self.calendar.discord_events.insert(guild_event_key(guild, &record.item), enc(record))?;
        Ok(())
    }

    /// Forgets the event of `item` in `guild` (it was deleted).
    pub(crate) fn remove_guild_event(&self, guild: GuildId, item: &ItemId) -> Result<()> {
        self.calendar.discord_events.remove(guild_event_key(guild, item))?;
        Ok(())
    }
}

fn guild_prefix(guild: GuildId) -> Vec<u8> {
    let mut k = guild.0.to_be_bytes().to_vec();
    k.push(0);
    k
}

fn guild_event_key(guild: GuildId, item: &ItemId) -> Vec<u8> {
    let mut k = guild_prefix(guild);
    k.extend_from_slice(item.key().as_bytes());
    k
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::tests::sample_launch;

    #[test]
    fn sequence_rises_only_when_the_schedule_or_status_changes() {
        let mut item = sample_launch();
        let first = Sequenced::next(None, &item).unwrap();
        assert_eq!(first.sequence, 0);
        item.description = Some("edited text".into());
        assert_eq!(Sequenced::next(Some(&first), &item), None, "unrelated edits keep the sequence");
        item.when = item.when.map(|w| w + chrono::Duration::hours(2));
        let moved = Sequenced::next(Some(&first), &item).unwrap();
        assert_eq!(moved.sequence, 1);
        assert_eq!(Sequenced::next(Some(&moved), &item), None);
    }
}
