//! Export and import of chat-made state (`tminus export [FILE]`,
//! `tminus import FILE`): the subscriptions made with chat commands (their
//! destinations, filters, alert kinds, reminders, timezone, horizon, quiet
//! hours, silent kinds and whether they are enabled), each chat's settings (its `/style` too), the items it muted and
//! its private calendar link token, as versioned JSON,
//! for backups and moves to a new machine or store.
//!
//! Config watches are not exported: they live in the config and are
//! reconciled at start. Store ids are not exported either (a fresh store
//! hands out its own), so an export of an imported store equals the
//! original. Import goes through [`Subscriptions`] (the one API that
//! changes subscriptions) and is idempotent: a subscription equal to one
//! already there (ignoring its id) is skipped, chat settings are replaced.
//!
//! **Format.** `{"format": "tminus-export", "version": 1, "subscriptions":
//! [...], "chat_settings": [...]}`. Subscriptions are written in the store's
//! own record form without `id` and `origin`, so fields added to
//! subscriptions later travel without a format change as long as they have
//! serde defaults. New kinds of chat state (mutes, calendar tokens) are new
//! optional sections read with `#[serde(default)]`: a version 1 file without
//! them stays valid. A file of any other version is refused; a file with a
//! section this build does not know is refused too (rather than dropping it).
//!
//! It must not write anything but subscriptions, chat settings, mutes and
//! calendar tokens.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::rules::{Origin, SubId, Subscription};
use crate::store::{ChatSettings, Mute, Store, StoreError};
use crate::subscriptions::Subscriptions;
use crate::types::Destination;

/// The one format version this build writes and reads.
pub(crate) const VERSION: u64 = 1;
const FORMAT: &str = "tminus-export";

/// Why an export could not be written or a file could not be imported.
#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    /// Not JSON, not an export, or a section this build does not know.
    #[error("not a tminus export: {0}")]
    Malformed(String),
    /// A `version` other than the one this build reads.
    #[error(
        "this is a tminus export of version {found}; this tminus reads version {VERSION} only (use the tminus that wrote it, or a newer one)"
    )]
    UnknownVersion {
        /// The `version` value the file carries.
        found: Value,
    },
    /// Reading or writing the store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The file, as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Export {
    pub(crate) format: String,
    pub(crate) version: u64,
    /// Chat-made subscriptions in store form, without `id` and `origin`,
    /// sorted so that equal state gives an equal file.
    #[serde(default)]
    pub(crate) subscriptions: Vec<Value>,
    #[serde(default)]
    pub(crate) chat_settings: Vec<ChatSettingsEntry>,
    /// Items chats muted (`/mute`, the Mute button).
    #[serde(default)]
    pub(crate) mutes: Vec<Mute>,
    /// Private calendar feed tokens, so `/calendar` links keep working.
    #[serde(default)]
    pub(crate) calendar_tokens: Vec<TokenEntry>,
}

/// One chat's private calendar token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct TokenEntry {
    pub(crate) destination: String,
    pub(crate) token: String,
}

/// One chat's settings and the destination (`telegram:ID`, `discord:ID`)
/// they belong to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ChatSettingsEntry {
    pub(crate) destination: String,
    pub(crate) settings: ChatSettings,
}

/// What an import changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Imported {
    /// Subscriptions the store did not have yet.
    pub subscriptions_added: usize,
    /// Subscriptions skipped because an equal one (ignoring its id) exists.
    pub subscriptions_present: usize,
    /// Chats whose settings were written (replacing any there).
    pub chat_settings: usize,
    /// Mutes restored (ones already there are not counted).
    pub mutes: usize,
    /// Calendar tokens written (an equal token already there is not counted).
    pub calendar_tokens: usize,
}

/// A subscription without what is local to one store.
fn portable(sub: &Subscription) -> Value {
    let mut v = serde_json::to_value(sub).expect("subscriptions serialize");
    if let Value::Object(map) = &mut v {
        map.remove("id");
        map.remove("origin");
    }
    v
}

/// The chat-made state of `store`.
pub(crate) fn export(store: &Store) -> Result<Export, TransferError> {
    let mut subscriptions: Vec<Value> =
        store.subscriptions()?.iter().filter(|s| s.origin == Origin::Chat).map(portable).collect();
    subscriptions.sort_by_key(|v| v.to_string());
    let chat_settings = store
        .all_chat_settings()?
        .into_iter()
        .map(|(dest, settings)| ChatSettingsEntry { destination: dest.storage_key(), settings })
        .collect();
    let mut mutes = store.mutes()?;
    mutes.sort_by_key(|m| (m.destination.storage_key(), m.item.key()));
    let calendar_tokens = store
        .calendar_tokens()?
        .into_iter()
        .map(|(dest, token)| TokenEntry { destination: dest.storage_key(), token })
        .collect();
    Ok(Export { format: FORMAT.into(), version: VERSION, subscriptions, chat_settings, mutes, calendar_tokens })
}

/// The export as pretty JSON with a trailing newline.
pub(crate) fn to_json(export: &Export) -> String {
    serde_json::to_string_pretty(export).expect("exports serialize") + "\n"
}

/// Reads an export, checking the format marker and version first so an
/// unknown version gets its own message.
pub(crate) fn parse(text: &str) -> Result<Export, TransferError> {
    let raw: Value = serde_json::from_str(text).map_err(|e| TransferError::Malformed(e.to_string()))?;
    if raw.get("format").and_then(Value::as_str) != Some(FORMAT) {
        return Err(TransferError::Malformed(format!("missing \"format\": \"{FORMAT}\"")));
    }
    match raw.get("version") {
        Some(v) if v.as_u64() == Some(VERSION) => {}
        Some(v) => return Err(TransferError::UnknownVersion { found: v.clone() }),
        None => return Err(TransferError::Malformed("missing \"version\"".into())),
    }
    serde_json::from_value(raw).map_err(|e| TransferError::Malformed(e.to_string()))
}

/// Loads `export` into the store behind `subs`. Everything is checked
/// before anything is written, so a bad entry changes nothing.
pub(crate) fn import(subs: &Subscriptions, export: &Export) -> Result<Imported, TransferError> {
    let store = subs.store();
    let mut present: HashSet<String> =
        store.subscriptions()?.iter().filter(|s| s.origin == Origin::Chat).map(|s| portable(s).to_string()).collect();
    let new = imported_subscriptions(export)?;
    let settings = imported_settings(export)?;
    let tokens = imported_tokens(export)?;
    let mut done = Imported::default();
    for sub in new {
        if present.insert(portable(&sub).to_string()) {
            subs.put(&Subscription { id: SubId(store.next_id()?), ..sub })?;
            done.subscriptions_added += 1;
        } else {
            done.subscriptions_present += 1;
        }
    }
    for (dest, s) in settings {
        store.put_chat_settings(&dest, s)?;
        done.chat_settings += 1;
    }
    // After the subscriptions, so the mutes reach their routing.
    for m in &export.mutes {
        if !store.is_muted(&m.destination, &m.item)? {
            subs.restore_mute(m)?;
            done.mutes += 1;
        }
    }
    for (dest, token) in tokens {
        if store.calendar_token(&dest)?.as_deref() != Some(token.as_str()) {
            store.set_calendar_token(&dest, token)?;
            done.calendar_tokens += 1;
        }
    }
    Ok(done)
}

/// The export's subscriptions as chat subscriptions (ids given at
/// import), each checked as its text form would be.
fn imported_subscriptions(export: &Export) -> Result<Vec<Subscription>, TransferError> {
    let mut new = Vec::new();
    for (i, v) in export.subscriptions.iter().enumerate() {
        let mut full = v.clone();
        let Value::Object(map) = &mut full else {
            return Err(TransferError::Malformed(format!("subscriptions[{i}] is not an object")));
        };
        map.insert("id".into(), serde_json::to_value(SubId(0)).expect("ids serialize"));
        map.insert("origin".into(), serde_json::to_value(Origin::Chat).expect("origins serialize"));
        let sub: Subscription =
            serde_json::from_value(full).map_err(|e| TransferError::Malformed(format!("subscriptions[{i}]: {e}")))?;
        // The record form skips the checks of the text form (a `webhook:`
        // URL must be https unless loopback): ask them again.
        if let Err(m) = sub.destination.storage_key().parse::<Destination>() {
            return Err(TransferError::Malformed(format!("subscriptions[{i}].destination: {m}")));
        }
        new.push(sub);
    }
    Ok(new)
}

/// The export's chat settings, by their parsed destination.
fn imported_settings(export: &Export) -> Result<Vec<(Destination, &ChatSettings)>, TransferError> {
    let mut settings = Vec::new();
    for (i, e) in export.chat_settings.iter().enumerate() {
        let dest = e
            .destination
            .parse::<Destination>()
            .map_err(|m| TransferError::Malformed(format!("chat_settings[{i}].destination: {m}")))?;
        settings.push((dest, &e.settings));
    }
    Ok(settings)
}

/// The export's calendar tokens, by their parsed destination; a token must
/// be non-empty ASCII letters and digits (it goes into a URL).
fn imported_tokens(export: &Export) -> Result<Vec<(Destination, &String)>, TransferError> {
    let mut tokens = Vec::new();
    for (i, e) in export.calendar_tokens.iter().enumerate() {
        let dest = e
            .destination
            .parse::<Destination>()
            .map_err(|m| TransferError::Malformed(format!("calendar_tokens[{i}].destination: {m}")))?;
        if e.token.is_empty() || !e.token.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(TransferError::Malformed(format!("calendar_tokens[{i}].token is not a token")));
        }
        tokens.push((dest, &e.token));
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_shapes_are_checked() {
        let err = parse(r#"{"format": "tminus-export", "version": 2, "subscriptions": []}"#).unwrap_err();
        assert!(matches!(err, TransferError::UnknownVersion { .. }), "{err}");
        assert!(err.to_string().contains("version 2") && err.to_string().contains("version 1 only"), "{err}");
        assert!(matches!(parse("{}"), Err(TransferError::Malformed(_))));
        assert!(matches!(parse("not json"), Err(TransferError::Malformed(_))));
        let unknown = r#"{"format": "tminus-export", "version": 1, "future_section": []}"#;
        assert!(matches!(parse(unknown), Err(TransferError::Malformed(m)) if m.contains("future_section")));
        let minimal = parse(r#"{"format": "tminus-export", "version": 1}"#).unwrap();
        assert!(minimal.subscriptions.is_empty() && minimal.chat_settings.is_empty());
    }

    /// The opt-in `news` kind survives export and import like any other.
    #[test]
    fn the_news_kind_round_trips() {
        use crate::types::AlertKind;
        let settings = ChatSettings {
            timezone: chrono_tz::UTC,
            reminders: Vec::new(),
            alerts: vec![AlertKind::Status, AlertKind::News],
            schedule_horizon: None,
            quiet_hours: None,
            silent: vec![AlertKind::News],
            style: crate::types::Style::Card,
            digest: None,
        };
        let export = Export {
            format: FORMAT.into(),
            version: VERSION,
            subscriptions: Vec::new(),
            chat_settings: vec![ChatSettingsEntry { destination: "telegram:5".into(), settings }],
            mutes: Vec::new(),
            calendar_tokens: Vec::new(),
        };
        let text = to_json(&export);
        assert!(text.contains("\"news\""), "{text}");
        assert_eq!(parse(&text).unwrap(), export);
    }
}
