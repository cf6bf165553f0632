//! Putting back what the store read at start: queues, durable subscriptions and retained
//! messages, then their messages.

use std::collections::HashMap;
use std::sync::Arc;

use tracing::warn;

use super::Router;
use crate::broker::message::Message;
use crate::broker::queue::Queue;
use crate::broker::topic::Topic;
use crate::destination::{Destination, Kind, DURABLE_PREFIX};
use crate::selector::Selector;
use crate::store::{CatalogEntry, Op, Recovered};

impl Router {
    /// Puts back what the store reads at start (see [`Recovery`]).
    pub(crate) fn recovery(&self) -> Recovery<'_> {
        Recovery { router: self, by_id: HashMap::new(), orphans: 0 }
    }

    /// A stored queue, durable subscription or retained message's topic, made anew.
    fn restore_entry(&self, entry: CatalogEntry) -> Option<Restored> {
        if let CatalogEntry::Retained { topic } = &entry {
            let topic = Destination::parse(topic).ok().filter(|d| d.kind() == Kind::Topic)?;
            return Some(Restored::Retained(self.topics.get_or_create(&topic), false));
        }
        self.restore_queue(entry).map(Restored::Queue)
    }

    /// A stored queue or durable subscription, made anew.
    fn restore_queue(&self, entry: CatalogEntry) -> Option<Arc<Queue>> {
        match &entry {
            CatalogEntry::Queue { destination } => {
                let destination = Destination::parse(destination).ok().filter(|d| d.kind() == Kind::Queue)?;
                let mut queues = self.directory.lock();
                Some(self.directory.insert_entry(&mut queues, destination, entry, Arc::default()))
            }
            CatalogEntry::Durable { name, pattern, selector } => {
                let destination = Destination::parse(&format!("{DURABLE_PREFIX}{name}")).ok()?;
                let pattern = Destination::parse_pattern(pattern).ok().filter(|d| d.kind() == Kind::Topic)?;
                let depth = self.config.limits.max_selector_depth;
                let selector = match selector {
                    Some(text) => Some(Arc::new(Selector::parse(text, depth).ok()?)),
                    None => None,
                };
                let mut queues = self.directory.lock();
                let queue = self.directory.insert_entry(&mut queues, destination, entry, Arc::default());
                drop(queues);
                self.topics.subscribe_durable(&pattern, queue.clone(), None, selector);
                Some(queue)
            }
            CatalogEntry::Retained { .. } => None,
        }
    }
}

/// Puts back what the store reads at start, item by item: queues, durable subscriptions and
/// topics' retained messages first, then their messages, in order (a queue's marked
/// redelivered).
pub(crate) struct Recovery<'a> {
    router: &'a Router,
    by_id: HashMap<u64, Restored>,
    /// Messages of no known queue, left out.
    orphans: u64,
}

/// What a catalog entry read back at start was made into.
enum Restored {
    Queue(Arc<Queue>),
    /// The topic of a retained message, and whether its message was read back yet.
    Retained(Arc<Topic>, bool),
}

impl Recovery<'_> {
    pub(crate) fn add(&mut self, item: Recovered) {
        match item {
            Recovered::Entry(id, entry) => match self.router.restore_entry(entry) {
                Some(restored) => {
                    if let Restored::Queue(queue) = &restored {
                        queue.recovered(id);
                    }
                    self.by_id.insert(id, restored);
                }
                None => warn!(id, "the store holds an unusable catalog entry; its messages are left out"),
            },
            Recovered::Message(id, sequence, stored) => {
                let queue = match self.by_id.get_mut(&id) {
                    Some(Restored::Queue(queue)) => queue,
                    Some(Restored::Retained(topic, found)) => {
                        let message = Message::new(
                            self.router.next_id(),
                            topic.destination().shared().clone(),
                            stored.headers,
                            stored.body,
                            topic.counters().clone(),
                        );
                        let env = self.router.env();
                        let store = env.store.as_ref().expect("recovering from a store");
                        topic.retained().restore(Arc::new(message), (id, sequence), store, &env.memory);
                        *found = true;
                        return;
                    }
                    None => {
                        self.orphans += 1;
                        return;
                    }
                };
                let destination = match stored.destination == queue.destination().as_str() {
                    true => queue.destination().shared().clone(),
                    false => stored.destination.into(),
                };
                let id = self.router.next_id();
                let message = Message::new(id, destination, stored.headers, stored.body, queue.counters().clone());
                queue.restore(Arc::new(message), sequence);
            }
        }
    }

    /// Forgets the catalog entries of retained messages whose message was not there (it was
    /// removed, or never written).
    pub(crate) fn finish(self) {
        let empty = self.by_id.iter().filter(|(_, restored)| matches!(restored, Restored::Retained(_, false)));
        if let Some(store) = self.router.store() {
            for (&id, _) in empty {
                store.submit(Op::Catalog { queue: id, entry: None });
            }
        }
        if self.orphans > 0 {
            warn!(orphans = self.orphans, "the store holds messages of no known queue; they are left out");
        }
    }
}
