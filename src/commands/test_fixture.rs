//! The command tests' shared world: a store in a temporary directory
//! holding the given items, a directory that learned them, the
//! subscription API over that store, UTC and 1h-reminder defaults, and the
//! context of a command sent on 2026-12-01. Test-only plumbing: it holds no
//! assertions and is built only by unit tests in `commands`.

use std::time::Duration;

use super::{CommandContext, Defaults, Services};
use crate::directory::Directory;
use crate::item::Item;
use crate::store::{Batch, Store};
use crate::subscriptions::Subscriptions;
use crate::types::{ChatId, Destination};

pub(crate) struct Fixture {
    _dir: tempfile::TempDir,
    pub(crate) store: Store,
    pub(crate) subs: Subscriptions,
    pub(crate) directory: Directory,
    pub(crate) defaults: Defaults,
}

impl Fixture {
    /// A fresh store synced with `items`, as a poll would leave it.
    pub(crate) fn with_items(items: Vec<Item>) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let mut directory = Directory::default();
        for item in &items {
            directory.learn(item);
        }
        store.apply(&Batch { items, ..Default::default() }).unwrap();
        let subs = Subscriptions::load(store.clone()).unwrap();
        let defaults = Defaults {
            timezone: chrono_tz::UTC,
            reminders: vec![Duration::from_secs(3600)],
            schedule_horizon: None,
            calendar_base: None,
        };
        Fixture { _dir: dir, store, subs, directory, defaults }
    }

    pub(crate) fn services(&self) -> Services<'_> {
        Services { subs: &self.subs, store: &self.store, directory: &self.directory, defaults: &self.defaults }
    }
}

/// A command from Telegram chat `chat`, sent on 2026-12-01 at midnight UTC.
pub(crate) fn context(chat: i64, can_manage: bool) -> CommandContext {
    CommandContext {
        destination: Destination::Telegram(ChatId(chat)),
        can_manage,
        now: "2026-12-01T00:00:00Z".parse().unwrap(),
    }
}
