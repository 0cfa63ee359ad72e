//! What every command and button press runs with: the chat it came from
//! and what its sender may do (`CommandContext`), the services it reads and
//! changes (`Services`, lent from a front-end's `SharedServices`), the
//! defaults for chats that set nothing, and the two lookups every handler
//! shares (the chat's settings, names the directory does not know). It
//! must not run a command: that is `exec`, which the handlers beside it
//! (`next`, `mute`, `settings`) never need to reach back into.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::directory::Directory;
use crate::rules::Filter;
use crate::store::{ChatSettings, Store, StoreError};
use crate::subscriptions::Subscriptions;
use crate::types::{AlertKind, Destination};

/// The chat a command came from and what its sender may do.
#[cfg_attr(feature = "testing", visibility::make(pub))]
#[derive(Debug, Clone)]
pub(crate) struct CommandContext {
    /// The chat (or topic, or channel) the command was sent in.
    pub destination: Destination,
    /// Allowed to change subscriptions and settings (private chat, group
    /// admin, Manage Channels on Discord).
    pub can_manage: bool,
    /// When the command arrived.
    pub now: DateTime<Utc>,
}

/// Defaults for chats that set nothing yet: `[alerts]` of the config.
#[cfg_attr(feature = "testing", visibility::make(pub))]
#[derive(Debug, Clone)]
pub(crate) struct Defaults {
    /// `[alerts].timezone`.
    pub timezone: Tz,
    /// `[alerts].reminders`, longest first; empty: none.
    pub reminders: Vec<Duration>,
    /// `[server] public_url` when the server that serves feeds is on
    /// (`listen` set): the base of `/calendar` links.
    pub calendar_base: Option<String>,
    /// `[alerts].schedule_horizon`, given to new chat subscriptions.
    pub schedule_horizon: Option<Duration>,
}

/// What a command needs to run.
#[cfg_attr(feature = "testing", visibility::make(pub))]
pub(crate) struct Services<'a> {
    /// The subscription API that changes are made through.
    pub subs: &'a Subscriptions,
    /// Items, subscriptions and chat settings to read.
    pub store: &'a Store,
    /// Known agencies, programs and types, for names in filters.
    pub directory: &'a Directory,
    /// What chats without settings get.
    pub defaults: &'a Defaults,
}

/// The handles a front-end keeps to run commands: cheap clones of the
/// services the rest of tminus uses (the subscription API, the store, the
/// directory the poller fills). [`SharedServices::with`] lends them as
/// [`Services`] for one command or press.
#[cfg_attr(feature = "testing", visibility::make(pub))]
#[derive(Clone)]
pub(crate) struct SharedServices {
    /// The subscription API that changes are made through.
    pub subs: Subscriptions,
    /// Items, subscriptions and chat settings to read.
    pub store: Store,
    /// Known agencies, programs and types, filled by the poller.
    pub directory: Arc<RwLock<Directory>>,
    /// What chats without settings get.
    pub defaults: Defaults,
}

impl SharedServices {
    /// Runs `f` with the services; the directory is read-locked meanwhile
    /// (the poller only writes it briefly after a sync).
    pub(crate) fn with<T>(&self, f: impl FnOnce(&Services<'_>) -> T) -> T {
        let directory = self.directory.read().unwrap_or_else(|e| e.into_inner());
        f(&Services { subs: &self.subs, store: &self.store, directory: &directory, defaults: &self.defaults })
    }
}

/// A chat's settings, or the defaults when it set none yet.
pub(super) fn chat_settings(dest: &Destination, svc: &Services<'_>) -> Result<ChatSettings, StoreError> {
    Ok(svc.store.chat_settings(dest)?.unwrap_or_else(|| ChatSettings {
        timezone: svc.defaults.timezone,
        reminders: svc.defaults.reminders.clone(),
        alerts: AlertKind::ALL.to_vec(),
        schedule_horizon: svc.defaults.schedule_horizon,
        quiet_hours: None,
        silent: Vec::new(),
        style: Default::default(),
        digest: None,
    }))
}

/// Names the directory does not know, with suggestions. Ids always pass
/// (the directory only knows what LL2 listed recently), and before the
/// first sync nothing can be checked.
pub(super) fn unknown_names(filter: &Filter, dir: &Directory) -> Option<String> {
    if dir.is_empty() {
        return None;
    }
    let mut lines = Vec::new();
    for (dim, value) in dir.unresolved(filter) {
        if value.parse::<i64>().is_ok() {
            continue;
        }
        let hint = dir.suggest(dim, &value, 3);
        lines.push(if hint.is_empty() {
            format!("I don't know the {} {value:?} (nothing upcoming from it on LL2).", dim.as_str())
        } else {
            format!("I don't know the {} {value:?}. Did you mean {}?", dim.as_str(), hint.join(", "))
        });
    }
    if lines.is_empty() {
        None
    } else {
        lines.push("Names are matched as LL2 spells them; an LL2 id works too.".into());
        Some(lines.join("\n"))
    }
}
