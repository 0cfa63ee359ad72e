//! The live cards' records: per (destination, item), the platform's id of
//! the card message (see `deliver::card`). Written in the transaction that
//! confirms the delivery which sent the card, so a restart finds the card
//! and edits it; pruned by retention like the delivery log. It must not
//! decide anything about cards: `deliver::card` does.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sled::Transactional;
use sled::transaction::ConflictableTransactionError;

use super::{Delivered, OutboxKey, Result, Store, StoreError, abort, dec, enc, mute_key};
use crate::types::{Destination, ItemId};

/// One destination's live card of one launch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct CardRecord {
    /// The platform's id of the card message.
    pub(crate) message_id: String,
    /// When the card was sent or last edited (retention ages it by this).
    pub(crate) at: DateTime<Utc>,
}

impl Store {
    /// The live card `dest` has for `item`, if any.
    pub(crate) fn card(&self, dest: &Destination, item: &ItemId) -> Result<Option<CardRecord>> {
        let k = mute_key(dest, item);
        self.cards.get(&k)?.map(|v| dec("cards", &k, &v)).transpose()
    }

    /// [`Store::complete`] and the card record (`card`: set, `None`: left
    /// as it is) in one transaction: a kill leaves either both or neither,
    /// so the worst a kill between send and confirm does is send one more
    /// card (the entry is delivered again, without the record).
    pub(crate) fn complete_with_card(
        &self,
        key: OutboxKey,
        record: &Delivered,
        item: &ItemId,
        card: &CardRecord,
    ) -> Result<()> {
        let k = key.0.to_be_bytes();
        let v = enc(record);
        let ck = mute_key(&record.destination, item);
        let cv = enc(card);
        let _shared = self.io.read().unwrap_or_else(|e| e.into_inner());
        let removed = (&self.outbox, &self.delivered, &self.cards)
            .transaction(|(outbox, delivered, cards)| {
                let removed = outbox.remove(&k)?.is_some();
                delivered.insert(&k, v.as_slice())?;
                cards.insert(ck.as_slice(), cv.as_slice())?;
                Ok::<_, ConflictableTransactionError<StoreError>>(removed)
            })
            .map_err(abort)?;
        self.uncount_outbox(removed);
        Ok(())
    }

    /// Removes up to `batch` card records last touched before `cutoff`.
    pub(super) fn prune_cards(&self, cutoff: DateTime<Utc>, batch: usize) -> Result<usize> {
        let mut doomed = Vec::new();
        for kv in self.cards.iter() {
            let (k, v) = kv?;
            if dec::<CardRecord>("cards", &k, &v)?.at < cutoff {
                doomed.push(k);
                if doomed.len() >= batch {
                    break;
                }
            }
        }
        for k in &doomed {
            self.cards.remove(k)?;
        }
        Ok(doomed.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::AlertId;
    use crate::rules::SubId;
    use crate::store::{Batch, OutboxEntry};
    use crate::types::{ChatId, ItemKind};

    #[test]
    fn a_card_lands_with_its_confirmation_and_ages_out() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let dest = Destination::Telegram(ChatId(7));
        let item = ItemId::new(ItemKind::Launch, "x");
        let entry = OutboxEntry {
            alert: AlertId(1),
            sub: SubId(1),
            destination: dest.clone(),
            enqueued_at: Utc::now(),
            attempts: 0,
            not_before: None,
        };
        store.apply(&Batch { deliveries: vec![entry.clone()], ..Batch::default() }).unwrap();
        let (key, _) = store.pending(10).unwrap().remove(0);
        let at = Utc::now();
        let record = Delivered { alert: entry.alert, sub: entry.sub, destination: dest.clone(), message_id: None, at };
        let card = CardRecord { message_id: "42".into(), at };
        store.complete_with_card(key, &record, &item, &card).unwrap();
        assert_eq!(store.outbox_len(), 0);
        assert_eq!(store.delivered().unwrap().len(), 1);
        assert_eq!(store.card(&dest, &item).unwrap(), Some(card));
        assert_eq!(store.card(&Destination::Telegram(ChatId(8)), &item).unwrap(), None, "per destination");
        assert_eq!(store.prune_cards(at - chrono::Duration::days(1), 10).unwrap(), 0, "recent");
        assert_eq!(store.prune_cards(at + chrono::Duration::seconds(1), 10).unwrap(), 1);
        assert_eq!(store.card(&dest, &item).unwrap(), None);
    }
}
