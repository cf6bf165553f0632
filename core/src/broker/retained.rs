//! A topic's retained message (Apollo's `retain:set` / `retain:remove` on SEND): the last one a
//! publisher asked the topic to keep, handed to each new subscription when it subscribes.
//!
//! A retained message sent with `persistent:true` to a broker with a store is stored under a
//! catalog entry of its own ([`CatalogEntry::Retained`]), so it outlives a restart; replacing
//! it stores the new one before the old one is forgotten, and removing it forgets both the
//! message and the entry. What a topic keeps counts against the broker-wide memory bound.

use std::sync::Arc;

use parking_lot::Mutex;

use super::memory::Memory;
use super::message::Message;
use crate::store::{CatalogEntry, Op, Store, Ticket};

/// What a SEND's `retain` header asks of the topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Retain {
    /// `retain:set`: keep this message, replacing the one kept before.
    Set,
    /// `retain:remove`: forget the one kept.
    Remove,
}

impl Retain {
    /// Reads a SEND's `retain` header; other values (Apollo's documentation once said `true`)
    /// ask for nothing, as in Apollo.
    pub(crate) fn parse(value: Option<&str>) -> Option<Retain> {
        match value? {
            "set" => Some(Retain::Set),
            "remove" => Some(Retain::Remove),
            _ => None,
        }
    }
}

/// One topic's retained message, if any.
#[derive(Debug, Default)]
pub(crate) struct Retained {
    slot: Mutex<Option<Kept>>,
}

#[derive(Debug)]
struct Kept {
    message: Arc<Message>,
    /// Its catalog id and sequence number in the store, when stored.
    stored: Option<(u64, u64)>,
}

impl Retained {
    /// The retained message, if any.
    pub(crate) fn get(&self) -> Option<Arc<Message>> {
        self.slot.lock().as_ref().map(|kept| kept.message.clone())
    }

    /// Whether the topic keeps a message.
    pub(crate) fn is_set(&self) -> bool {
        self.slot.lock().is_some()
    }

    /// Keeps `message` (or with [`Retain::Remove`] nothing) from now on; a persistent one is
    /// stored through `store` under an entry for `topic`. Returns the store's ticket.
    pub(crate) fn update(
        &self,
        retain: Retain,
        message: &Arc<Message>,
        topic: &str,
        store: Option<&Store>,
        memory: &Memory,
    ) -> Option<Ticket> {
        let mut slot = self.slot.lock();
        let old = slot.take().and_then(|kept| {
            memory.sub(kept.message.size());
            kept.stored
        });
        let mut ticket = None;
        let stored = match (retain, store.filter(|_| message.is_persistent())) {
            (Retain::Remove, _) | (Retain::Set, None) => None,
            (Retain::Set, Some(store)) => {
                // The old one's entry serves the new one; a first one gets an entry of its own.
                let catalog = old.map(|(catalog, _)| catalog).unwrap_or_else(|| {
                    let catalog = store.next_queue_id();
                    let entry = CatalogEntry::Retained { topic: topic.to_owned() };
                    ticket = Some(store.submit(Op::Catalog { queue: catalog, entry: Some(entry) }));
                    catalog
                });
                let sequence = store.next_sequence();
                let put = Op::Put { queue: catalog, sequence, message: message.clone() };
                ticket = ticket.max(Some(store.submit(put)));
                Some((catalog, sequence))
            }
        };
        if let (Some(store), Some((catalog, sequence))) = (store, old) {
            ticket = ticket.max(Some(store.submit(Op::Delete { queue: catalog, sequence })));
            if stored.is_none() {
                ticket = ticket.max(Some(store.submit(Op::Catalog { queue: catalog, entry: None })));
            }
        }
        if retain == Retain::Set {
            memory.add(message.size());
            *slot = Some(Kept { message: message.clone(), stored });
        }
        ticket
    }

    /// Puts back a retained message the store read at start. Read in sequence order, a later one
    /// replaces (and forgets) an earlier one the broker stopped before forgetting.
    pub(crate) fn restore(&self, message: Arc<Message>, at: (u64, u64), store: &Store, memory: &Memory) {
        memory.add(message.size());
        let earlier = self.slot.lock().replace(Kept { message, stored: Some(at) });
        if let Some(Kept { message, stored: Some((catalog, sequence)) }) = earlier {
            memory.sub(message.size());
            store.submit(Op::Delete { queue: catalog, sequence });
        }
    }
}
