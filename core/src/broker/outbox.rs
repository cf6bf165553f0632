//! Each session's bounded outbox: deliveries wait here until the connection writes them.
//!
//! The broker pushes without blocking; the connection task drains in batches straight into its
//! write buffer. Topic deliveries count against the outbox's byte limit, and a subscriber that
//! falls behind it is handled by the [`SlowConsumerPolicy`], never by blocking the publisher and
//! never silently. Queue deliveries are bounded instead by their subscription's window (prefetch)
//! and are never dropped: a queue message leaves its queue only when acknowledged.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use bytes::{Bytes, BytesMut};
use tokio::sync::Notify;

use super::message::Message;
use super::queue::Queue;
use super::stats::Stats;
use super::AckMode;
use crate::frame::Escaping;

/// What happens to a topic subscriber whose outbox is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SlowConsumerPolicy {
    /// Send it an ERROR that says it was too slow and close its connection (counted).
    #[default]
    Disconnect,
    /// Drop that subscriber's oldest undelivered topic messages to make room (counted).
    DropOldest,
}

/// Why an outbox stopped accepting deliveries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closed {
    /// A topic subscriber fell more than the outbox limit behind.
    SlowConsumer {
        /// The limit it went over, in bytes.
        limit: usize,
    },
}

/// One subscription as the delivery path sees it: where to deliver and how to encode.
#[derive(Debug)]
pub(crate) struct Subscriber {
    /// The session's outbox.
    pub(crate) outbox: Outbox,
    /// `subscription:<id>\n`, escaped for the session's version.
    pub(crate) lines: Bytes,
    /// The session's header escaping.
    pub(crate) escaping: Escaping,
    /// Whether MESSAGE frames carry an `ack` header (1.2, client acknowledgement).
    pub(crate) ack_header: bool,
    /// The subscription's acknowledgement mode.
    pub(crate) ack: AckMode,
    /// Cleared on unsubscribe, so a fan-out that raced with it delivers nothing.
    pub(crate) active: AtomicBool,
}

/// One message on its way to one subscription.
#[derive(Debug)]
pub(crate) struct Delivery {
    pub(crate) message: Arc<Message>,
    pub(crate) subscriber: Arc<Subscriber>,
    pub(crate) redelivered: bool,
    /// For a queue subscription in `auto` mode: the queue to settle with once written.
    pub(crate) settle: Option<Arc<Queue>>,
    /// Whether this counts against the byte limit (topic deliveries do).
    pub(crate) counted: bool,
}

/// The sending side of a session's outbox (cheap to clone).
#[derive(Debug, Clone)]
pub struct Outbox {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    ready: Notify,
    /// Notified once, when the outbox closes (apart from `ready`, so a wait for closure does
    /// not use up a wake-up meant for draining).
    closing: Notify,
    max_bytes: usize,
    policy: SlowConsumerPolicy,
    stats: Arc<Stats>,
}

#[derive(Debug, Default)]
struct State {
    items: VecDeque<Delivery>,
    counted_bytes: usize,
    closed: Option<Closed>,
}

/// The receiving side, owned by the connection task.
#[derive(Debug)]
pub struct OutboxReceiver {
    shared: Arc<Shared>,
    /// Deliveries taken out under the lock, encoded after it is released (kept for reuse).
    batch: Vec<Delivery>,
}

/// What one [`OutboxReceiver::drain`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Drained {
    /// MESSAGE frames written into the buffer.
    pub frames: usize,
    /// Set once the outbox is closed; the connection sends an ERROR and ends.
    pub closed: Option<Closed>,
}

/// A new outbox with its byte limit and slow-consumer policy.
pub(crate) fn outbox(max_bytes: usize, policy: SlowConsumerPolicy, stats: Arc<Stats>) -> (Outbox, OutboxReceiver) {
    let shared = Arc::new(Shared {
        state: Mutex::default(),
        ready: Notify::new(),
        closing: Notify::new(),
        max_bytes,
        policy,
        stats,
    });
    (Outbox { shared: shared.clone() }, OutboxReceiver { shared, batch: Vec::new() })
}

impl Outbox {
    /// Queues a delivery without blocking. Topic deliveries past the byte limit trigger the
    /// slow-consumer policy; a closed outbox takes nothing.
    pub(crate) fn push(&self, delivery: Delivery) {
        let size = delivery.message.size();
        let mut state = self.shared.state.lock().expect("outbox lock");
        if state.closed.is_some() {
            return;
        }
        if delivery.counted && state.counted_bytes + size > self.shared.max_bytes {
            match self.shared.policy {
                SlowConsumerPolicy::Disconnect => {
                    state.closed = Some(Closed::SlowConsumer { limit: self.shared.max_bytes });
                    Stats::bump(&self.shared.stats.slow_consumers);
                    drop(state);
                    self.shared.ready.notify_one();
                    self.shared.closing.notify_one();
                    return;
                }
                SlowConsumerPolicy::DropOldest => {
                    while state.counted_bytes + size > self.shared.max_bytes {
                        let Some(index) = state.items.iter().position(|d| d.counted) else { break };
                        let dropped = state.items.remove(index).expect("index from position");
                        state.counted_bytes -= dropped.message.size();
                        Stats::bump(&self.shared.stats.dropped);
                    }
                }
            }
        }
        if delivery.counted {
            state.counted_bytes += size;
        }
        let was_empty = state.items.is_empty();
        state.items.push_back(delivery);
        drop(state);
        if was_empty {
            self.shared.ready.notify_one();
        }
    }
}

impl OutboxReceiver {
    /// Waits until there is something to drain (or the outbox was closed). A wake-up may find
    /// nothing; callers drain in a loop.
    pub async fn ready(&self) {
        self.shared.ready.notified().await;
    }

    /// Encodes queued deliveries into `dst` as MESSAGE frames, up to about `max_bytes` of
    /// output, and settles `auto` queue deliveries as written. Deliveries to a subscription that
    /// has ended since are dropped. Returns what it did.
    pub fn drain(&mut self, dst: &mut BytesMut, max_bytes: usize) -> Drained {
        let mut batch = std::mem::take(&mut self.batch);
        let closed;
        {
            let mut state = self.shared.state.lock().expect("outbox lock");
            closed = state.closed;
            let mut budget = 0;
            while budget < max_bytes {
                let Some(delivery) = state.items.pop_front() else { break };
                let size = delivery.message.size();
                budget += size;
                if delivery.counted {
                    state.counted_bytes -= size;
                }
                batch.push(delivery);
            }
            if !state.items.is_empty() {
                // More than one batch is waiting: keep the wake-up for the next round.
                self.shared.ready.notify_one();
            }
        }
        let mut frames = 0;
        for delivery in batch.drain(..) {
            let subscriber = &delivery.subscriber;
            if !subscriber.is_active() {
                // Unsubscribed after this was queued: the client has been told the subscription
                // is gone, and a queue took the message back when the consumer left, so writing
                // it would deliver it twice.
                continue;
            }
            frames += 1;
            delivery.message.encode(
                subscriber.escaping,
                &subscriber.lines,
                delivery.redelivered,
                subscriber.ack_header,
                dst,
            );
            if let Some(queue) = &delivery.settle {
                queue.settle(subscriber, delivery.message.id());
            }
        }
        self.batch = batch;
        Stats::add(&self.shared.stats.messages_out, frames as u64);
        Drained { frames, closed }
    }

    /// Resolves once the outbox is closed, with the reason; never otherwise. It does not take the
    /// wake-ups [`OutboxReceiver::ready`] waits for.
    pub async fn wait_closed(&self) -> Closed {
        loop {
            if let Some(closed) = self.closed() {
                return closed;
            }
            self.shared.closing.notified().await;
        }
    }

    /// Why the outbox was closed, if it was.
    pub fn closed(&self) -> Option<Closed> {
        self.shared.state.lock().expect("outbox lock").closed
    }
}

impl Subscriber {
    /// Whether the subscription still takes deliveries.
    pub(crate) fn is_active(&self) -> bool {
        self.active.load(Ordering::Acquire)
    }
}
