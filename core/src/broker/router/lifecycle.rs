//! What the router makes and deletes apart from a publish or a subscription: durable
//! subscriptions (made by a SUBSCRIBE that names one, deleted by an UNSUBSCRIBE that says so), and
//! queues deleted when unused, when their temporary owner leaves, or by an operator.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::Router;
use crate::auth::Principal;
use crate::broker::admin::QueueError;
use crate::broker::error::ProtocolError;
use crate::broker::queue::Queue;
use crate::broker::stats::Stats;
use crate::destination::{Destination, DURABLE_PREFIX};
use crate::selector::Selector;
use crate::store::{CatalogEntry, Ticket};

impl Router {
    /// Removes the queues that nobody has used (no producer, consumer or message) for `grace`,
    /// and returns how many.
    pub(crate) fn delete_unused_queues(&self, now: Instant, grace: Duration) -> usize {
        let mut queues = self.directory.lock();
        let before = queues.len();
        queues.retain(|_, queue| {
            let keep = queue.idle_for(now) < grace;
            if !keep {
                queue.forget_catalog();
            }
            keep
        });
        let deleted = before - queues.len();
        Stats::add(&self.env().stats.queues_deleted, deleted as u64);
        deleted
    }

    /// Deletes a queue nobody uses, with its messages (which it returns the count of), from
    /// memory and the store. The check and the removal happen under the queue map's lock, where
    /// producers and consumers attach, so none can attach in between.
    pub(crate) fn delete_queue(&self, name: &str) -> Result<usize, QueueError> {
        let mut queues = self.directory.lock();
        let queue = queues.get(name).ok_or_else(|| QueueError::NoSuchQueue(name.to_owned()))?;
        let purged = queue.purge_unused().map_err(|(consumers, producers)| QueueError::InUse {
            queue: name.to_owned(),
            consumers,
            producers,
        })?;
        queue.forget_catalog();
        queues.remove(name);
        Ok(purged)
    }

    /// Deletes a closing connection's temporary queue, with its messages (in cluster mode, the
    /// cluster's too).
    pub(crate) fn delete_temporary(&self, name: &str) {
        let queue = self.directory.lock().remove(name);
        if let Some(queue) = queue {
            queue.destroy();
            Stats::bump(&self.env().stats.queues_deleted);
        }
        if let Some(bridge) = self.bridge() {
            bridge.temporary_deleted(name);
        }
    }

    /// The durable subscription `name` to `pattern`: the existing one, or a new one (stored at
    /// once, so it outlives a restart even before its first message). One that subscribed to
    /// another pattern or with another selector is replaced, its backlog dropped (as JMS does).
    /// A wildcard one collects only what `principal`, its latest subscriber, may receive (none:
    /// everything, for one another node made without saying who).
    pub(crate) fn durable(
        &self,
        principal: Option<&Principal>,
        name: &str,
        pattern: &Destination,
        selector: Option<Arc<Selector>>,
    ) -> Result<(Arc<Queue>, Option<Ticket>), ProtocolError> {
        let destination = Destination::parse(&format!("{DURABLE_PREFIX}{name}"))?;
        let entry = CatalogEntry::Durable {
            name: name.to_owned(),
            pattern: pattern.as_str().to_owned(),
            selector: selector.as_ref().map(|selector| selector.text().to_owned()),
        };
        let mut queues = self.directory.lock();
        if let Some(queue) = queues.get(destination.as_str()).filter(|queue| queue.entry() == &entry) {
            if let Some(principal) = principal {
                self.topics.set_durable_owner(pattern, queue, Arc::new(principal.clone()));
            }
            return Ok((queue.clone(), None));
        }
        let replaced = queues.remove(destination.as_str());
        if queues.len() >= self.config.limits.max_queues {
            return Err(ProtocolError::TooManyQueues { limit: self.config.limits.max_queues });
        }
        let queue = self.directory.insert_entry(&mut queues, destination, entry, Arc::default());
        drop(queues);
        let mut ticket = replaced.and_then(|old| self.drop_durable(&old));
        let receive_check = principal.map(|principal| Arc::new(principal.clone()));
        self.topics.subscribe_durable(pattern, queue.clone(), receive_check, selector);
        ticket = ticket.max(queue.record());
        Ok((queue, ticket))
    }

    /// Deletes the durable subscription `name` and its backlog; returns the store's ticket.
    pub(crate) fn delete_durable(&self, name: &str) -> Result<Option<Ticket>, ProtocolError> {
        let destination = Destination::parse(&format!("{DURABLE_PREFIX}{name}"))?;
        let queue = self.directory.lock().remove(destination.as_str());
        let queue = queue.ok_or_else(|| ProtocolError::NoSuchDurable(name.to_owned()))?;
        Ok(self.drop_durable(&queue))
    }

    /// Unhooks a durable subscription's queue from its topics and empties it.
    fn drop_durable(&self, queue: &Arc<Queue>) -> Option<Ticket> {
        if let CatalogEntry::Durable { pattern, .. } = queue.entry() {
            if let Ok(pattern) = Destination::parse_pattern(pattern) {
                self.topics.unsubscribe_durable(&pattern, queue);
            }
        }
        queue.destroy()
    }
}
