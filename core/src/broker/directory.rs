//! The directory of queues: every queue and durable subscription by name, and the
//! [`Environment`] they all share (counters, the memory bound, the clock, the store, message ids,
//! and the way to a dead-letter queue).
//!
//! The router creates queues here after authorizing; a queue reaches its dead-letter queue
//! through its environment, which refers back to the directory weakly (the directory owns the
//! queues, so a strong reference would be a cycle). A queue only ever looks up its dead-letter
//! queue with no queue lock held: the directory's lock comes before any queue's.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};

use parking_lot::{Mutex, MutexGuard};

use super::clock::Clock;
use super::config::{BrokerConfig, QueuesConfig};
use super::memory::Memory;
use super::queue::Queue;
use super::stats::Stats;
use crate::destination::Destination;
use crate::store::{CatalogEntry, Store};

/// What every queue reports to and reads from.
#[derive(Debug, Clone)]
pub(crate) struct Environment {
    pub(crate) stats: Arc<Stats>,
    pub(crate) memory: Arc<Memory>,
    pub(crate) clock: Arc<dyn Clock>,
    /// The store, when the broker persists messages.
    pub(crate) store: Option<Store>,
    /// Message groups a queue remembers (`limits.max_message_groups`).
    pub(crate) max_message_groups: usize,
    ids: Arc<AtomicU64>,
    directory: Weak<Directory>,
}

/// The queue map. See the module docs.
#[derive(Debug)]
pub(crate) struct Directory {
    queues: Mutex<HashMap<Arc<str>, Arc<Queue>>>,
    config: QueuesConfig,
    max_queues: usize,
    env: Environment,
}

/// The queues by destination, locked.
pub(crate) type QueueMap<'a> = MutexGuard<'a, HashMap<Arc<str>, Arc<Queue>>>;

impl Environment {
    /// A fresh id, unique for the broker's lifetime (sessions and messages share the sequence).
    pub(crate) fn next_id(&self) -> u64 {
        self.ids.fetch_add(1, Ordering::Relaxed)
    }

    /// The dead-letter queue `destination` (`/queue/...`), made if need be; `None` when the
    /// broker is at `limits.max_queues` or going away.
    pub(crate) fn dead_letter_queue(&self, destination: &str) -> Option<Arc<Queue>> {
        let directory = self.directory.upgrade()?;
        let destination = Destination::parse(destination).ok()?;
        let mut queues = directory.lock();
        if let Some(queue) = queues.get(destination.as_str()) {
            return Some(queue.clone());
        }
        if queues.len() >= directory.max_queues {
            return None;
        }
        Some(directory.insert(&mut queues, destination, Arc::default()))
    }
}

impl Directory {
    pub(crate) fn new(
        config: &BrokerConfig,
        stats: Arc<Stats>,
        memory: Arc<Memory>,
        store: Option<Store>,
    ) -> Arc<Directory> {
        Arc::new_cyclic(|directory| Directory {
            queues: Mutex::default(),
            config: config.queues.clone(),
            max_queues: config.limits.max_queues,
            env: Environment {
                stats,
                memory,
                clock: config.clock.clone(),
                store,
                max_message_groups: config.limits.max_message_groups,
                ids: Arc::new(AtomicU64::new(1)),
                directory: directory.clone(),
            },
        })
    }

    /// What the queues share.
    pub(crate) fn env(&self) -> &Environment {
        &self.env
    }

    /// The queue map, locked.
    pub(crate) fn lock(&self) -> QueueMap<'_> {
        self.queues.lock()
    }

    /// Makes a queue (`/queue/NAME`) or durable subscription (`/dsub/NAME`) with the policy of the
    /// first matching rule, and adds it to the locked map. `creator` counts the queues its
    /// creator made.
    pub(crate) fn insert(
        &self,
        queues: &mut QueueMap<'_>,
        destination: Destination,
        creator: Arc<AtomicUsize>,
    ) -> Arc<Queue> {
        self.insert_entry(
            queues,
            destination.clone(),
            CatalogEntry::Queue { destination: destination.as_str().to_owned() },
            creator,
        )
    }

    /// Like [`Directory::insert`], with the catalog entry given (a durable subscription's).
    pub(crate) fn insert_entry(
        &self,
        queues: &mut QueueMap<'_>,
        destination: Destination,
        entry: CatalogEntry,
        creator: Arc<AtomicUsize>,
    ) -> Arc<Queue> {
        let policy = self.config.for_queue(destination.name());
        let queue = Arc::new(Queue::new(destination.clone(), policy, entry, creator, self.env.clone()));
        queues.insert(destination.shared().clone(), queue.clone());
        queue
    }

    /// The queue or durable subscription of a destination name, if it exists.
    pub(crate) fn find(&self, name: &str) -> Option<Arc<Queue>> {
        self.queues.lock().get(name).cloned()
    }

    /// Every queue and durable subscription, copied out under the lock.
    pub(crate) fn all(&self) -> Vec<Arc<Queue>> {
        self.queues.lock().values().cloned().collect()
    }
}
