//! The bridge's backlog of topic messages for NATS, as producers are paced to it.
//!
//! The router hands a topic message over with a `try_send` and never waits. Past the high-water
//! mark (half the channel) the publisher is paced (see core's `pressure`): its connection reads
//! nothing more until the bridge task has taken the backlog under the low-water mark (a quarter)
//! and signals it. Only a message that finds the channel full is dropped (and counted): one
//! publish per paced producer at most, or a transaction's messages, which are not paced one by
//! one. While NATS is unreachable nothing paces: the node serves its own clients as a single
//! node would.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use stompbox_core::broker::{Backlog, Message};
use tokio::sync::{mpsc, Notify};

/// The channel of topic messages to the bridge task, with its marks.
#[derive(Debug)]
pub(super) struct TopicBacklog {
    sender: mpsc::Sender<Arc<Message>>,
    high_water: usize,
    low_water: usize,
    /// Whether NATS is reachable (producers are paced only then).
    connected: AtomicBool,
    relief: Notify,
}

impl TopicBacklog {
    /// A backlog of at most `capacity` messages, and the task's end of it.
    pub(super) fn new(capacity: usize) -> (Self, mpsc::Receiver<Arc<Message>>) {
        let (sender, receiver) = mpsc::channel(capacity);
        let backlog = TopicBacklog {
            sender,
            high_water: (capacity / 2).max(1),
            low_water: capacity / 4,
            connected: AtomicBool::new(false),
            relief: Notify::new(),
        };
        (backlog, receiver)
    }

    /// Hands `message` to the task; `false` when the channel is full or NATS unreachable.
    pub(super) fn send(&self, message: &Arc<Message>) -> bool {
        self.connected.load(Ordering::Acquire) && self.sender.try_send(message.clone()).is_ok()
    }

    /// Whether the publisher should be paced now: past the high-water mark while connected.
    pub(super) fn pressing(&self) -> bool {
        self.connected.load(Ordering::Acquire) && self.len() >= self.high_water
    }

    /// The task took a message, or NATS came or went: wakes the paced producers if they may go on.
    pub(super) fn drained(&self) {
        if self.relieved() {
            self.relief.notify_waiters();
        }
    }

    /// Follows the connection's state; unreachable NATS releases the paced producers.
    pub(super) fn set_connected(&self, connected: bool) {
        self.connected.store(connected, Ordering::Release);
        self.drained();
    }

    fn len(&self) -> usize {
        self.sender.max_capacity() - self.sender.capacity()
    }
}

impl Backlog for TopicBacklog {
    fn relieved(&self) -> bool {
        !self.connected.load(Ordering::Acquire) || self.sender.is_closed() || self.len() <= self.low_water
    }

    fn relief(&self) -> &Notify {
        &self.relief
    }
}
