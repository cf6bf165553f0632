//! Each session's bounded outbox: deliveries wait here until the connection writes them.
//!
//! The broker pushes without blocking; the connection task drains in batches straight into its
//! write buffer. Topic deliveries count against the outbox's bytes, which three marks govern:
//!
//! - past the **high-water mark**, while the subscriber is still making progress (its outbox was
//!   drained within `stall`), the push reports [`Pushed::pressing`]: the publisher stops reading
//!   its client ([`Pressure::relieved`]) until this outbox is under the **low-water mark** again.
//!   Producers are paced to the slowest subscriber that still reads, so a burst never costs a
//!   reading subscriber its messages;
//! - a subscriber that has made no progress for `stall` no longer holds publishers back; past
//!   the **limit** it is handled by the [`SlowConsumerPolicy`] (disconnected with an ERROR, or
//!   its oldest messages dropped), counted, never silently.
//!
//! The limit bounds what waits behind a message, not one message: an empty outbox takes any
//! message, however large. Queue deliveries are bounded instead by their subscription's window
//! (prefetch) and are never dropped: a queue message leaves its queue only when acknowledged.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use parking_lot::Mutex;
use tokio::sync::Notify;
use tokio::time::{sleep_until, Instant};

use super::config::{DeliveryConfig, SlowConsumerPolicy};
use super::delivery::Delivery;
use super::error::ProtocolError;
use super::memory::Memory;
use super::pressure::Pressure;
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
    /// An operator closed the connection (the management API).
    ByOperator,
}

/// The sending side of a session's outbox (cheap to clone).
#[derive(Debug, Clone)]
pub struct Outbox {
    shared: Arc<Shared>,
}

/// The marks and the policy of one outbox.
#[derive(Debug, Clone, Copy)]
struct Marks {
    limit: usize,
    high_water: usize,
    low_water: usize,
    stall: Duration,
    policy: SlowConsumerPolicy,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    ready: Notify,
    /// Notified once, when the outbox closes (apart from `ready`, so a wait for closure does
    /// not use up a wake-up meant for draining).
    closing: Notify,
    /// Notified when a pressing outbox falls under its low-water mark or closes.
    relief: Notify,
    marks: Marks,
    /// When the outbox was made; [`Shared::last_drain_ms`] counts from here.
    born: Instant,
    /// When its subscriber last made progress (a drain, a write, or work beginning), in ms
    /// since `born`.
    last_drain_ms: AtomicU64,
    stats: Arc<Stats>,
    memory: Arc<Memory>,
}

#[derive(Debug, Default)]
struct State {
    items: VecDeque<Delivery>,
    counted_bytes: usize,
    closed: Option<Closed>,
    /// Whether a publisher was told to wait for relief.
    pressed: bool,
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

/// What one push did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Pushed {
    /// Net change of the bytes the outbox holds against [`Memory`] (drops make it smaller).
    pub(crate) held: isize,
    /// The outbox is past its high-water mark while its subscriber still makes progress: the
    /// publisher should wait for [`Pressure::relieved`].
    pub(crate) pressing: bool,
}

/// A subscriber past its high-water mark, as a publisher waits for it (see [`Pressure`]).
#[derive(Debug, Clone)]
pub(crate) struct Lagging {
    shared: Arc<Shared>,
}

/// A new outbox with the marks and policy of `delivery`.
pub(crate) fn outbox(delivery: &DeliveryConfig, stats: Arc<Stats>, memory: Arc<Memory>) -> (Outbox, OutboxReceiver) {
    let shared = Arc::new(Shared {
        state: Mutex::default(),
        ready: Notify::new(),
        closing: Notify::new(),
        relief: Notify::new(),
        marks: Marks {
            limit: delivery.outbox_max_bytes,
            high_water: delivery.high_water_bytes,
            low_water: delivery.low_water_bytes,
            stall: Duration::from_millis(delivery.stall_ms),
            policy: delivery.slow_consumer,
        },
        born: Instant::now(),
        last_drain_ms: AtomicU64::new(0),
        stats,
        memory,
    });
    (Outbox { shared: shared.clone() }, OutboxReceiver { shared, batch: Vec::new() })
}

impl Shared {
    /// Whether the subscriber was drained within the stall time.
    fn progressing(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.last_drained()) < self.marks.stall
    }

    fn last_drained(&self) -> Instant {
        self.born + Duration::from_millis(self.last_drain_ms.load(Ordering::Relaxed))
    }

    /// Records that the subscriber made progress now.
    fn stamp_progress(&self) {
        let since_born = Instant::now().saturating_duration_since(self.born);
        self.last_drain_ms.store(since_born.as_millis() as u64, Ordering::Relaxed);
    }
}

impl Outbox {
    /// Queues a delivery without blocking. Topic deliveries past the limit trigger the
    /// slow-consumer policy; a closed outbox takes nothing.
    pub(crate) fn push(&self, delivery: Delivery) -> Pushed {
        let marks = self.shared.marks;
        let size = delivery.message.size();
        let mut state = self.shared.state.lock();
        if state.closed.is_some() {
            count_lost(&delivery);
            return Pushed::default();
        }
        let mut held = 0;
        if delivery.counted && state.counted_bytes > 0 && state.counted_bytes + size > marks.limit {
            match marks.policy {
                SlowConsumerPolicy::Disconnect => {
                    state.closed = Some(Closed::SlowConsumer { limit: marks.limit });
                    Stats::bump(&self.shared.stats.slow_consumers);
                    drop(state);
                    count_lost(&delivery);
                    self.shared.ready.notify_one();
                    self.shared.closing.notify_one();
                    self.shared.relief.notify_waiters();
                    return Pushed::default();
                }
                SlowConsumerPolicy::DropOldest => {
                    while state.counted_bytes > 0 && state.counted_bytes + size > marks.limit {
                        let Some(index) = state.items.iter().position(|d| d.counted) else { break };
                        let dropped = state.items.remove(index).expect("index from position");
                        state.counted_bytes -= dropped.message.size();
                        held -= dropped.message.size() as isize;
                        Stats::bump(&self.shared.stats.dropped);
                        count_lost(&dropped);
                    }
                }
            }
        }
        let mut pressing = false;
        if delivery.counted {
            state.counted_bytes += size;
            held += size as isize;
            if state.counted_bytes >= marks.high_water && self.shared.progressing(Instant::now()) {
                state.pressed = true;
                pressing = true;
            }
        }
        let was_empty = state.items.is_empty();
        state.items.push_back(delivery);
        drop(state);
        if was_empty {
            // Work begins: the subscriber's time to make progress starts now, not at its last
            // write, however long ago that was.
            self.shared.stamp_progress();
            self.shared.ready.notify_one();
        }
        Pushed { held, pressing }
    }

    /// Closes the outbox from outside the connection (the access rules now refuse its session,
    /// or an operator closed it): the connection sends an ERROR saying why and ends. Does
    /// nothing to an outbox already closed.
    pub(crate) fn revoke(&self, why: Closed) {
        let mut state = self.shared.state.lock();
        if state.closed.is_none() {
            state.closed = Some(why);
            drop(state);
            self.shared.ready.notify_one();
            self.shared.closing.notify_one();
            self.shared.relief.notify_waiters();
        }
    }

    /// The wait a publisher takes when [`Pushed::pressing`].
    pub(crate) fn pressure(&self) -> Pressure {
        Pressure::subscriber(Lagging { shared: self.shared.clone() })
    }
}

impl Lagging {
    /// Resolves once the subscriber no longer holds publishers back: its outbox is under the
    /// low-water mark or closed, or it has made no progress for the stall time.
    pub(crate) async fn relieved(&self) {
        let shared = &self.shared;
        loop {
            let notified = shared.relief.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let state = shared.state.lock();
                if state.counted_bytes < shared.marks.low_water || state.closed.is_some() {
                    return;
                }
            }
            let stalls_at = shared.last_drained() + shared.marks.stall;
            if Instant::now() >= stalls_at {
                return;
            }
            tokio::select! {
                () = notified => {}
                () = sleep_until(stalls_at) => {}
            }
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
    /// has ended since are dropped. Counts as the subscriber's progress. Returns what it did.
    pub fn drain(&mut self, dst: &mut BytesMut, max_bytes: usize) -> Drained {
        let shared = &self.shared;
        let mut batch = std::mem::take(&mut self.batch);
        let closed;
        let mut released = 0;
        {
            let mut state = shared.state.lock();
            closed = state.closed.clone();
            let mut budget = 0;
            while budget < max_bytes {
                let Some(delivery) = state.items.pop_front() else { break };
                let size = delivery.message.size();
                budget += size;
                if delivery.counted {
                    state.counted_bytes -= size;
                    released += size;
                }
                batch.push(delivery);
            }
            if !state.items.is_empty() {
                // More than one batch is waiting: keep the wake-up for the next round.
                shared.ready.notify_one();
            }
            if state.pressed && state.counted_bytes < shared.marks.low_water {
                state.pressed = false;
                shared.relief.notify_waiters();
            }
        }
        if !batch.is_empty() {
            shared.stamp_progress();
        }
        shared.memory.sub(released);
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
        Stats::add(&shared.stats.messages_out, frames as u64);
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

    /// Records that the connection wrote to its socket: the subscriber's progress, which keeps
    /// it pacing publishers rather than being treated as stalled.
    pub fn wrote(&self) {
        self.shared.stamp_progress();
    }

    /// Why the outbox was closed, if it was.
    pub fn closed(&self) -> Option<Closed> {
        self.shared.state.lock().closed.clone()
    }
}

impl Drop for OutboxReceiver {
    /// Topic messages still waiting when the connection ends are lost to it: counted against
    /// their destinations, and no longer held. (Queue deliveries go back to their queue with the
    /// subscription.) Publishers waiting on this outbox are let go.
    fn drop(&mut self) {
        let mut state = self.shared.state.lock();
        for delivery in state.items.drain(..) {
            count_lost(&delivery);
        }
        self.shared.memory.sub(std::mem::take(&mut state.counted_bytes));
        drop(state);
        self.shared.relief.notify_waiters();
    }
}

/// Counts a topic delivery that will never be written against its destination.
fn count_lost(delivery: &Delivery) {
    if delivery.counted {
        Stats::bump(&delivery.message.stats().dropped);
    }
}
