//! Each session's bounded outbox: deliveries wait here until the connection writes them.
//!
//! The broker pushes without blocking; the connection task drains in batches straight into its
//! write buffer. Topic deliveries count against the outbox's byte limit, and a subscriber that
//! falls behind it is handled by the [`SlowConsumerPolicy`], never by blocking the publisher and
//! never silently. Queue deliveries are bounded instead by their subscription's window (prefetch)
//! and are never dropped: a queue message leaves its queue only when acknowledged.

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::BytesMut;
use parking_lot::Mutex;
use tokio::sync::Notify;

use super::config::SlowConsumerPolicy;
use super::delivery::Delivery;
use super::error::ProtocolError;
use super::stats::Stats;

/// Why an outbox stopped accepting deliveries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Closed {
    /// A topic subscriber fell more than the outbox limit behind.
    SlowConsumer {
        /// The limit it went over, in bytes.
        limit: usize,
    },
    /// The access rules changed and refuse the session or one of its subscriptions.
    AccessRevoked(ProtocolError),
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
#[derive(Debug, Clone, PartialEq, Eq, Default)]
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
        let mut state = self.shared.state.lock();
        if state.closed.is_some() {
            count_lost(&delivery);
            return;
        }
        if delivery.counted && state.counted_bytes + size > self.shared.max_bytes {
            match self.shared.policy {
                SlowConsumerPolicy::Disconnect => {
                    state.closed = Some(Closed::SlowConsumer { limit: self.shared.max_bytes });
                    Stats::bump(&self.shared.stats.slow_consumers);
                    drop(state);
                    count_lost(&delivery);
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
                        count_lost(&dropped);
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

    /// Closes the outbox because the access rules now refuse its session: the connection sends
    /// an ERROR saying so and ends. Does nothing to an outbox already closed.
    pub(crate) fn revoke(&self, refused: ProtocolError) {
        let mut state = self.shared.state.lock();
        if state.closed.is_none() {
            state.closed = Some(Closed::AccessRevoked(refused));
            drop(state);
            self.shared.ready.notify_one();
            self.shared.closing.notify_one();
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
            let mut state = self.shared.state.lock();
            closed = state.closed.clone();
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
        for mut delivery in batch.drain(..) {
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
            if let Some(settle) = delivery.settle.take() {
                settle.settle(&delivery.subscriber, delivery.message.id());
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
        self.shared.state.lock().closed.clone()
    }
}

impl Drop for OutboxReceiver {
    /// Topic messages still waiting when the connection ends are lost to it: counted against
    /// their destinations. (Queue deliveries go back to their queue with the subscription.)
    fn drop(&mut self) {
        for delivery in self.shared.state.lock().items.drain(..) {
            count_lost(&delivery);
        }
    }
}

/// Counts a topic delivery that will never be written against its destination.
fn count_lost(delivery: &Delivery) {
    if delivery.counted {
        Stats::bump(&delivery.message.stats().dropped);
    }
}
