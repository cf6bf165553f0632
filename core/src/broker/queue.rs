//! A queue: messages wait in order until a consumer takes them; each goes to exactly one
//! consumer, round-robin over the consumers that have room in their window. A delivered message
//! stays in its consumer's in-flight set until acknowledged (or, in `auto` mode, written); NACK
//! and a consumer leaving put it back at the front, marked redelivered.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::clock::Clock;
use super::config::{QueueFullPolicy, QueueLimits};
use super::delivery::{Delivery, Settle, Subscriber};
use super::memory::Memory;
use super::message::Message;
use super::stats::{read, DestinationStats, Stats};
use super::AckMode;
use crate::destination::Destination;

/// The queue was full: the message comes back; [`Queue::space`] is notified when there is room.
#[derive(Debug)]
pub(crate) struct Full {
    pub(crate) message: Arc<Message>,
}

#[derive(Debug)]
pub(crate) struct Queue {
    destination: Destination,
    limits: QueueLimits,
    when_full: QueueFullPolicy,
    state: Mutex<State>,
    space: Arc<Notify>,
    counters: Arc<DestinationStats>,
    /// The count of queues its creator made that still exist: one less when this one goes.
    creator: Arc<AtomicUsize>,
    env: Environment,
}

/// What every queue reports to and reads the time from.
#[derive(Debug, Clone)]
pub(crate) struct Environment {
    pub(crate) stats: Arc<Stats>,
    pub(crate) memory: Arc<Memory>,
    pub(crate) clock: Arc<dyn Clock>,
}

/// What the snapshot shows of a queue.
#[derive(Debug, Clone, Copy)]
pub(crate) struct QueueFigures {
    pub(crate) consumers: usize,
    pub(crate) depth: usize,
    pub(crate) bytes: usize,
}

#[derive(Debug, Clone)]
struct Queued {
    message: Arc<Message>,
    redelivered: bool,
}

#[derive(Debug)]
struct Consumer {
    subscriber: Arc<Subscriber>,
    window: usize,
    in_flight: VecDeque<Queued>,
}

#[derive(Debug, Default)]
struct State {
    ready: VecDeque<Queued>,
    messages: usize,
    bytes: usize,
    consumers: Vec<Consumer>,
    cursor: usize,
    /// Since when nobody has used the queue, as the sweeper of unused queues last saw it.
    idle_since: Option<Instant>,
}

impl State {
    fn is_full(&self, limits: &QueueLimits) -> bool {
        self.messages >= limits.max_messages || self.bytes >= limits.max_bytes
    }

    /// Takes a message off the counts; returns its size.
    fn forget(&mut self, message: &Message) -> usize {
        self.messages -= 1;
        self.bytes -= message.size();
        message.size()
    }
}

impl Queue {
    pub(crate) fn new(
        destination: Destination,
        (limits, when_full): (QueueLimits, QueueFullPolicy),
        creator: Arc<AtomicUsize>,
        env: Environment,
    ) -> Queue {
        creator.fetch_add(1, Ordering::Relaxed);
        Queue {
            destination,
            limits,
            when_full,
            state: Mutex::default(),
            space: Arc::new(Notify::new()),
            counters: Arc::default(),
            creator,
            env,
        }
    }

    /// How long nobody has used the queue (no producer, consumer or message), as of `now`;
    /// zero while somebody does. The first call that finds it unused starts the count.
    pub(crate) fn idle_for(&self, now: Instant) -> Duration {
        let mut state = self.state.lock();
        let unused = read(&self.counters.producers) == 0 && state.consumers.is_empty() && state.messages == 0;
        if !unused {
            state.idle_since = None;
            return Duration::ZERO;
        }
        now.saturating_duration_since(*state.idle_since.get_or_insert(now))
    }

    /// Its destination, `/queue/NAME`.
    pub(crate) fn destination(&self) -> &Destination {
        &self.destination
    }

    /// Its counters (shared with the messages published to it).
    pub(crate) fn counters(&self) -> &Arc<DestinationStats> {
        &self.counters
    }

    /// Notified when the queue goes from full to having room.
    pub(crate) fn space(&self) -> Arc<Notify> {
        self.space.clone()
    }

    /// What a producer meets when this queue is full.
    pub(crate) fn when_full(&self) -> QueueFullPolicy {
        self.when_full
    }

    /// Enqueues unless the queue is full.
    pub(crate) fn offer(self: &Arc<Self>, message: Arc<Message>) -> Result<(), Full> {
        let mut state = self.state.lock();
        if state.is_full(&self.limits) {
            return Err(Full { message });
        }
        self.enqueue(&mut state, message);
        Ok(())
    }

    /// Enqueues even past the limits (a committed transaction, already bounded by its own cap).
    pub(crate) fn force(self: &Arc<Self>, message: Arc<Message>) {
        let mut state = self.state.lock();
        self.enqueue(&mut state, message);
    }

    fn enqueue(self: &Arc<Self>, state: &mut State, message: Arc<Message>) {
        Stats::bump(&self.counters.enqueued);
        state.messages += 1;
        state.bytes += message.size();
        self.env.memory.add(message.size());
        state.ready.push_back(Queued { message, redelivered: false });
        self.dispatch(state);
    }

    /// Adds a consumer with a window of at most `window` unacknowledged messages.
    pub(crate) fn add_consumer(self: &Arc<Self>, subscriber: Arc<Subscriber>, window: usize) {
        let mut state = self.state.lock();
        state.consumers.push(Consumer { subscriber, window: window.max(1), in_flight: VecDeque::new() });
        self.dispatch(&mut state);
    }

    /// Removes a consumer and returns its in-flight messages to the front, in order.
    pub(crate) fn remove_consumer(self: &Arc<Self>, subscriber: &Arc<Subscriber>) {
        let mut state = self.state.lock();
        let Some(index) = state.consumers.iter().position(|c| Arc::ptr_eq(&c.subscriber, subscriber)) else {
            return;
        };
        let consumer = state.consumers.remove(index);
        Stats::add(&self.env.stats.redelivered, consumer.in_flight.len() as u64);
        for queued in consumer.in_flight.into_iter().rev() {
            state.ready.push_front(Queued { redelivered: true, ..queued });
        }
        self.dispatch(&mut state);
    }

    /// Acknowledges `message_id` (and, if `cumulative`, every earlier in-flight message of this
    /// consumer). Returns whether it matched.
    pub(crate) fn ack(self: &Arc<Self>, subscriber: &Arc<Subscriber>, message_id: u64, cumulative: bool) -> bool {
        self.settle_with(subscriber, message_id, cumulative, false)
    }

    /// Rejects `message_id` (cumulatively in `client` mode): back to the front, redelivered.
    pub(crate) fn nack(self: &Arc<Self>, subscriber: &Arc<Subscriber>, message_id: u64, cumulative: bool) -> bool {
        self.settle_with(subscriber, message_id, cumulative, true)
    }

    fn settle_with(
        self: &Arc<Self>,
        subscriber: &Arc<Subscriber>,
        message_id: u64,
        cumulative: bool,
        requeue: bool,
    ) -> bool {
        let mut guard = self.state.lock();
        let state = &mut *guard;
        let was_full = state.is_full(&self.limits);
        let Some(consumer) = state.consumers.iter_mut().find(|c| Arc::ptr_eq(&c.subscriber, subscriber)) else {
            return false;
        };
        // Acknowledgements mostly come in delivery order: the match is usually at the front.
        let Some(position) = consumer.in_flight.iter().position(|q| q.message.id() == message_id) else {
            return false;
        };
        let (mut count, mut bytes) = (0, 0);
        let mut settle = |queued: Queued| {
            count += 1;
            if requeue {
                // Settled newest first, so pushing each to the front keeps their order.
                state.ready.push_front(Queued { redelivered: true, ..queued });
            } else {
                bytes += queued.message.size();
            }
        };
        if cumulative {
            consumer.in_flight.drain(..=position).rev().for_each(&mut settle);
        } else {
            settle(consumer.in_flight.remove(position).expect("position is in range"));
        }
        if requeue {
            Stats::add(&self.env.stats.redelivered, count);
        } else {
            state.messages -= count as usize;
            state.bytes -= bytes;
            self.env.memory.sub(bytes);
            Stats::add(&self.counters.dequeued, count);
            if was_full && !state.is_full(&self.limits) {
                self.space.notify_waiters();
            }
        }
        self.dispatch(state);
        true
    }

    /// Drops the messages waiting (not those in flight); returns how many.
    pub(crate) fn purge(&self) -> usize {
        let mut state = self.state.lock();
        self.purge_waiting(&mut state)
    }

    /// Drops every message unless someone uses the queue; returns how many, or the consumers
    /// and producers that use it.
    pub(crate) fn purge_unused(&self) -> Result<usize, (usize, u64)> {
        let mut state = self.state.lock();
        let producers = read(&self.counters.producers);
        if producers > 0 || !state.consumers.is_empty() {
            return Err((state.consumers.len(), producers));
        }
        Ok(self.purge_waiting(&mut state))
    }

    fn purge_waiting(&self, state: &mut State) -> usize {
        let was_full = state.is_full(&self.limits);
        let purged = std::mem::take(&mut state.ready);
        let bytes: usize = purged.iter().map(|queued| state.forget(&queued.message)).sum();
        self.env.memory.sub(bytes);
        if was_full && !state.is_full(&self.limits) {
            self.space.notify_waiters();
        }
        purged.len()
    }

    /// Messages waiting plus in flight.
    pub(crate) fn depth(&self) -> usize {
        self.state.lock().messages
    }

    /// Consumers, depth and bytes, read under the lock at once.
    pub(crate) fn figures(&self) -> QueueFigures {
        let state = self.state.lock();
        QueueFigures { consumers: state.consumers.len(), depth: state.messages, bytes: state.bytes }
    }

    /// Hands waiting messages to consumers with room, round-robin; drops expired ones.
    fn dispatch(self: &Arc<Self>, state: &mut State) {
        let mut now = None;
        while let Some(front) = state.ready.front() {
            if front.message.expires()
                && front.message.is_expired_at(*now.get_or_insert_with(|| self.env.clock.now_ms()))
            {
                let expired = state.ready.pop_front().expect("front exists");
                self.env.memory.sub(state.forget(&expired.message));
                Stats::bump(&self.env.stats.expired);
                Stats::bump(&self.counters.expired);
                self.space.notify_waiters();
                continue;
            }
            let count = state.consumers.len();
            let Some(index) = (0..count)
                .map(|i| (state.cursor + i) % count)
                .find(|&i| state.consumers[i].in_flight.len() < state.consumers[i].window)
            else {
                break;
            };
            state.cursor = index + 1;
            let queued = state.ready.pop_front().expect("front exists");
            let consumer = &mut state.consumers[index];
            let settle = (consumer.subscriber.ack == AckMode::Auto).then(|| self.clone() as Arc<dyn Settle>);
            consumer.subscriber.outbox.push(Delivery {
                message: queued.message.clone(),
                subscriber: consumer.subscriber.clone(),
                redelivered: queued.redelivered,
                settle,
                counted: false,
            });
            consumer.in_flight.push_back(queued);
        }
    }
}

impl Settle for Queue {
    /// Settles an `auto`-mode delivery once the connection has written it.
    fn settle(self: Arc<Self>, subscriber: &Arc<Subscriber>, message_id: u64) {
        self.settle_with(subscriber, message_id, false, false);
    }
}

impl Drop for Queue {
    fn drop(&mut self) {
        self.creator.fetch_sub(1, Ordering::Relaxed);
    }
}
