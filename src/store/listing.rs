//! Whole-tree listings the export needs (`crate::transfer`): every chat's
//! settings with the destination they belong to. Read-only.

use super::{ChatSettings, Result, Store, dec};
use crate::types::Destination;

impl Store {
    /// Every stored chat's settings, by destination, in key order. A key
    /// that no longer parses as a destination is reported as corrupt.
    pub(crate) fn all_chat_settings(&self) -> Result<Vec<(Destination, ChatSettings)>> {
        let mut out = Vec::new();
        for kv in self.chat_settings.iter() {
            let (k, v) = kv?;
            let key = String::from_utf8_lossy(&k).into_owned();
            let dest = key.parse::<Destination>().map_err(|message| super::StoreError::Corrupt {
                tree: "chat_settings",
                key: String::new(),
                message,
            })?;
            out.push((dest, dec("chat_settings", &k, &v)?));
        }
        Ok(out)
    }
}
