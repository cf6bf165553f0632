//! What an operator does to a running broker through the management API: close a connection,
//! purge a queue, delete a queue. Each acts at once and says what it did.

use thiserror::Error;

use super::outbox::Closed;
use super::Broker;

/// Why a queue could not be deleted.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum QueueError {
    /// There is no queue of that name.
    #[error("no queue {0}")]
    NoSuchQueue(String),
    /// Someone uses it: deleting it would leave them attached to a queue nobody else sees.
    #[error("queue {queue} is in use ({consumers} consumers, {producers} producers): close them first")]
    InUse {
        /// The queue.
        queue: String,
        /// Subscriptions consuming from it.
        consumers: usize,
        /// Connections publishing to it.
        producers: u64,
    },
}

impl Broker {
    /// Closes a live connection: it gets an ERROR saying an operator closed it (code `closed`),
    /// and its close is counted and kept like any other. Returns whether there was such a
    /// connection.
    pub fn close_connection(&self, id: u64) -> bool {
        let Some(info) = self.shared.registry.get(id) else { return false };
        info.outbox.revoke(Closed::ByOperator);
        true
    }

    /// Drops the messages waiting on queue `destination` (`/queue/NAME`); those delivered and
    /// not yet acknowledged stay with their consumers. Returns how many were dropped.
    pub fn purge_queue(&self, destination: &str) -> Result<usize, QueueError> {
        let queue = self.shared.router.find_queue(destination);
        queue.map(|queue| queue.purge()).ok_or_else(|| QueueError::NoSuchQueue(destination.to_owned()))
    }

    /// Deletes queue `destination` (`/queue/NAME`) with the messages it holds, unless someone
    /// consumes from or publishes to it. Returns how many messages went with it.
    pub fn delete_queue(&self, destination: &str) -> Result<usize, QueueError> {
        self.shared.router.delete_queue(destination)
    }
}
