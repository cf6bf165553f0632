//! A queue: messages wait in order until a consumer takes them; each goes to exactly one
//! consumer, round-robin over the consumers that have room in their window and whose selector
//! selects it (a message nobody selects waits without holding back those behind it; the ones
//! skipped are not looked at again until a consumer gets room). While the queue has exclusive
//! consumers, the first of them takes every message; when it leaves, the next one does. The
//! messages of a group go to the consumer the group sticks to (see `groups`). A delivered
//! message
//! stays in its consumer's in-flight set until acknowledged (or, in `auto` mode, written); NACK
//! and a consumer leaving put it back at the front, marked redelivered, at most
//! `max_redeliveries` times: the next time it goes to the dead-letter queue instead.
//!
//! A durable topic subscription is a queue too (`/dsub/NAME`), fed by its topic pattern.
//!
//! Persistence: a `persistent:true` message that enters a queue of a broker with a store is
//! stored under the queue's lock (so its removal can never reach the store before it), and
//! removed from the store when acknowledged, expired or moved to a dead-letter queue. The queue
//! is written to the store's catalog with its first stored message. Browsers get copies of what
//! the queue holds without taking it.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::claim::Confirmation;
use super::config::{QueueFullPolicy, QueuePolicy};
use super::delivery::{Delivery, Settle, Subscriber};
use super::directory::Environment;
use super::groups::Groups;
use super::message::Message;
use super::stats::{read, DestinationStats, Stats};
use super::AckMode;
use crate::destination::Destination;
use crate::store::{CatalogEntry, Op, Ticket};

mod browse;
mod cluster;
mod purge;

/// The queue was full: the message comes back; [`Queue::space`] is notified when there is room.
#[derive(Debug)]
pub(crate) struct Full {
    pub(crate) message: Arc<Message>,
}

#[derive(Debug)]
pub(crate) struct Queue {
    destination: Destination,
    policy: QueuePolicy,
    /// What the store's catalog says it is.
    entry: CatalogEntry,
    /// Its id in the store, once it is in the store's catalog.
    stored: OnceLock<u64>,
    state: Mutex<State>,
    space: Arc<Notify>,
    counters: Arc<DestinationStats>,
    /// The count of queues its creator made that still exist: one less when this one goes.
    creator: Arc<AtomicUsize>,
    env: Environment,
}

/// What the snapshot shows of a queue.
#[derive(Debug, Clone, Copy)]
pub(crate) struct QueueFigures {
    pub(crate) consumers: usize,
    pub(crate) depth: usize,
    pub(crate) bytes: usize,
}

/// What an ACK or NACK came to.
#[derive(Debug, Clone, Default)]
pub(crate) struct Settled {
    /// It named an in-flight message of this consumer.
    pub(crate) matched: bool,
    /// The store's ticket of the removals it caused.
    pub(crate) ticket: Option<Ticket>,
    /// The cluster's confirmations of the acknowledgements it caused (shared queues).
    pub(crate) confirmations: Vec<Confirmation>,
}

#[derive(Debug, Clone)]
struct Queued {
    message: Arc<Message>,
    redelivered: bool,
    /// Times it came back (NACK, or a consumer leaving without acknowledging it).
    redeliveries: u32,
    /// Its sequence number in the store, if stored.
    stored: Option<u64>,
}

/// Dead letters found with the queue map's lock held, buried once it is released.
#[derive(Debug)]
pub(crate) struct Burial {
    queue: Arc<Queue>,
    dead: Vec<DeadLetter>,
}

impl Burial {
    /// Moves the dead letters to their dead-letter queue.
    pub(crate) fn bury(self) {
        self.queue.bury(self.dead);
    }
}

/// A message on its way to the dead-letter queue, and why.
#[derive(Debug)]
struct DeadLetter {
    queued: Queued,
    reason: String,
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
    /// Browsers that keep browsing (`browser-end:false`): they get a copy of each new message.
    browsers: Vec<Arc<Subscriber>>,
    cursor: usize,
    groups: Groups,
    /// How many messages at the front of `ready` no consumer with room selected when last
    /// looked at: a new message is matched from there on (only selectors make this nonzero).
    skipped: usize,
    /// Since when nobody has used the queue, as the sweeper of unused queues last saw it.
    idle_since: Option<Instant>,
}

impl State {
    fn is_full(&self, policy: &QueuePolicy) -> bool {
        self.messages >= policy.limits.max_messages || self.bytes >= policy.limits.max_bytes
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
        policy: QueuePolicy,
        entry: CatalogEntry,
        creator: Arc<AtomicUsize>,
        env: Environment,
    ) -> Queue {
        creator.fetch_add(1, Ordering::Relaxed);
        Queue {
            destination,
            policy,
            entry,
            stored: OnceLock::new(),
            state: Mutex::default(),
            space: Arc::new(Notify::new()),
            counters: Arc::default(),
            creator,
            env,
        }
    }

    /// How long nobody has used the queue (no producer, consumer or message), as of `now`;
    /// zero while somebody does. The first call that finds it unused starts the count. A
    /// durable subscription is always in use.
    pub(crate) fn idle_for(&self, now: Instant) -> Duration {
        let mut state = self.state.lock();
        let unused = !self.is_durable()
            && read(&self.counters.producers) == 0
            && state.consumers.is_empty()
            && state.browsers.is_empty()
            && state.messages == 0;
        if !unused {
            state.idle_since = None;
            return Duration::ZERO;
        }
        now.saturating_duration_since(*state.idle_since.get_or_insert(now))
    }

    /// Its destination, `/queue/NAME` or `/dsub/NAME`.
    pub(crate) fn destination(&self) -> &Destination {
        &self.destination
    }

    /// What the store's catalog says it is.
    pub(crate) fn entry(&self) -> &CatalogEntry {
        &self.entry
    }

    /// Whether it is a durable topic subscription.
    pub(crate) fn is_durable(&self) -> bool {
        matches!(self.entry, CatalogEntry::Durable { .. })
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
        self.policy.when_full
    }

    /// Writes the queue to the store's catalog now (a durable subscription exists without
    /// messages); returns the ticket, if it was not there yet.
    pub(crate) fn record(&self) -> Option<Ticket> {
        let store = self.env.store.as_ref()?;
        let mut ticket = None;
        self.stored.get_or_init(|| {
            let id = store.next_queue_id();
            ticket = Some(store.submit(Op::Catalog { queue: id, entry: Some(self.entry.clone()) }));
            id
        });
        ticket
    }

    /// Marks the queue as the store's queue `id` (it was read back from the store).
    pub(crate) fn recovered(&self, id: u64) {
        let _ = self.stored.set(id);
    }

    /// Stores a persistent message, writing the queue to the catalog first if need be. Called
    /// under the queue's lock, so its removal cannot overtake it.
    fn store(&self, message: &Arc<Message>) -> Option<(u64, Ticket)> {
        // A message of the cluster's queue is the cluster's to keep.
        let store = self.env.store.as_ref().filter(|_| message.is_persistent() && message.claim().is_none())?;
        self.record();
        let queue = *self.stored.get().expect("recorded above");
        let sequence = store.next_sequence();
        Some((sequence, store.submit(Op::Put { queue, sequence, message: message.clone() })))
    }

    /// Removes a message for good: from the store if stored, from the cluster's queue if it
    /// came from there. Returns the store's ticket and the cluster's confirmation.
    fn unstore(&self, queued: &Queued) -> (Option<Ticket>, Option<Confirmation>) {
        let confirmation = queued.message.claim().map(|claim| claim.done());
        let ticket = (|| {
            let (store, sequence) = (self.env.store.as_ref()?, queued.stored?);
            let queue = *self.stored.get()?;
            Some(store.submit(Op::Delete { queue, sequence }))
        })();
        (ticket, confirmation)
    }

    /// Enqueues unless the queue is full. Returns the store's ticket if the message was stored.
    pub(crate) fn offer(self: &Arc<Self>, message: Arc<Message>) -> Result<Option<Ticket>, Full> {
        let mut dead = Vec::new();
        let mut state = self.state.lock();
        if state.is_full(&self.policy) {
            return Err(Full { message });
        }
        let ticket = self.enqueue(&mut state, message, 0, &mut dead);
        drop(state);
        self.bury(dead);
        Ok(ticket)
    }

    /// Enqueues even past the limits (a committed transaction, already bounded by its own cap).
    pub(crate) fn force(self: &Arc<Self>, message: Arc<Message>) -> Option<Ticket> {
        let mut dead = Vec::new();
        let ticket = self.enqueue(&mut self.state.lock(), message, 0, &mut dead);
        self.bury(dead);
        ticket
    }

    /// Puts back a message read from the store at start, marked redelivered: it may have been
    /// delivered before the broker stopped.
    pub(crate) fn restore(self: &Arc<Self>, message: Arc<Message>, sequence: u64) {
        let mut state = self.state.lock();
        Stats::bump(&self.counters.enqueued);
        state.messages += 1;
        state.bytes += message.size();
        self.env.memory.add(message.size());
        state.ready.push_back(Queued { message, redelivered: true, redeliveries: 0, stored: Some(sequence) });
    }

    /// Adds a message at the back (delivered `redeliveries` times before, elsewhere) and
    /// dispatches.
    fn enqueue(
        self: &Arc<Self>,
        state: &mut State,
        message: Arc<Message>,
        redeliveries: u32,
        dead: &mut Vec<DeadLetter>,
    ) -> Option<Ticket> {
        Stats::bump(&self.counters.enqueued);
        let stored = self.store(&message);
        state.messages += 1;
        state.bytes += message.size();
        self.env.memory.add(message.size());
        state.browsers.retain(|browser| browser.is_active());
        for browser in state.browsers.iter().filter(|browser| browser.selects(&message)) {
            self.env.memory.change(browser.outbox.push(Delivery::copy(&message, browser, false)).held);
        }
        let redelivered = redeliveries > 0;
        state.ready.push_back(Queued { message, redelivered, redeliveries, stored: stored.map(|s| s.0) });
        self.dispatch_new(state, dead);
        stored.map(|s| s.1)
    }

    /// Adds a consumer with a window of at most `window` unacknowledged messages. The router
    /// may hold the queue map's lock here, which dead-lettering needs: the expired messages this
    /// finds are [`Burial::bury`]ed by the caller once it has let go.
    #[must_use = "dead letters wait to be buried"]
    pub(crate) fn add_consumer(self: &Arc<Self>, subscriber: Arc<Subscriber>, window: usize) -> Burial {
        let mut dead = Vec::new();
        let mut state = self.state.lock();
        state.consumers.push(Consumer { subscriber, window: window.max(1), in_flight: VecDeque::new() });
        self.dispatch(&mut state, &mut dead);
        Burial { queue: self.clone(), dead }
    }

    /// Removes a consumer and returns its in-flight messages to the front, in order (each counts
    /// as a failed delivery).
    pub(crate) fn remove_consumer(self: &Arc<Self>, subscriber: &Arc<Subscriber>) {
        let mut dead = Vec::new();
        let mut state = self.state.lock();
        let Some(index) = state.consumers.iter().position(|c| Arc::ptr_eq(&c.subscriber, subscriber)) else {
            return;
        };
        let consumer = state.consumers.remove(index);
        state.groups.forget(subscriber);
        for queued in consumer.in_flight.into_iter().rev() {
            self.give_back(&mut state, queued, &mut dead);
        }
        if state.consumers.is_empty() {
            self.release_claims(&mut state);
        }
        self.dispatch(&mut state, &mut dead);
        drop(state);
        self.bury(dead);
    }

    /// Acknowledges `message_id` (and, if `cumulative`, every earlier in-flight message of this
    /// consumer).
    pub(crate) fn ack(self: &Arc<Self>, subscriber: &Arc<Subscriber>, message_id: u64, cumulative: bool) -> Settled {
        self.settle_with(subscriber, message_id, cumulative, false)
    }

    /// Rejects `message_id` (cumulatively in `client` mode): back to the front, redelivered, or
    /// to the dead-letter queue once redelivered `max_redeliveries` times.
    pub(crate) fn nack(self: &Arc<Self>, subscriber: &Arc<Subscriber>, message_id: u64, cumulative: bool) -> Settled {
        self.settle_with(subscriber, message_id, cumulative, true)
    }

    fn settle_with(
        self: &Arc<Self>,
        subscriber: &Arc<Subscriber>,
        message_id: u64,
        cumulative: bool,
        requeue: bool,
    ) -> Settled {
        let mut dead = Vec::new();
        let mut guard = self.state.lock();
        let state = &mut *guard;
        let was_full = state.is_full(&self.policy);
        let Some(consumer) = state.consumers.iter_mut().find(|c| Arc::ptr_eq(&c.subscriber, subscriber)) else {
            return Settled::default();
        };
        // Acknowledgements mostly come in delivery order: the match is usually at the front.
        let Some(position) = consumer.in_flight.iter().position(|q| q.message.id() == message_id) else {
            return Settled::default();
        };
        let settled: Vec<Queued> = match cumulative {
            // Newest first, so giving each back to the front keeps their order.
            true => consumer.in_flight.drain(..=position).rev().collect(),
            false => consumer.in_flight.remove(position).into_iter().collect(),
        };
        let (mut ticket, mut confirmations) = (None, Vec::new());
        if requeue {
            for queued in settled {
                self.give_back(state, queued, &mut dead);
            }
        } else {
            let mut bytes = 0;
            for queued in &settled {
                bytes += state.forget(&queued.message);
                let (removed, confirmation) = self.unstore(queued);
                ticket = ticket.max(removed);
                confirmations.extend(confirmation);
            }
            self.env.memory.sub(bytes);
            Stats::add(&self.counters.dequeued, settled.len() as u64);
        }
        if was_full && !state.is_full(&self.policy) {
            self.space.notify_waiters();
        }
        self.dispatch(state, &mut dead);
        drop(guard);
        self.bury(dead);
        Settled { matched: true, ticket, confirmations }
    }

    /// A message came back unacknowledged: to the front, redelivered, or on its way to the
    /// dead-letter queue once it has been redelivered `max_redeliveries` times.
    fn give_back(&self, state: &mut State, queued: Queued, dead: &mut Vec<DeadLetter>) {
        let policy = &self.policy.dead_letter;
        if policy.queue.is_some() && queued.redeliveries >= policy.max_redeliveries {
            self.env.memory.sub(state.forget(&queued.message));
            let reason = format!("delivered {} times without acknowledgement", queued.redeliveries + 1);
            dead.push(DeadLetter { queued, reason });
            return;
        }
        if let Some(claim) = queued.message.claim() {
            // The cluster's to deliver again, here or on another node.
            self.env.memory.sub(state.forget(&queued.message));
            claim.release();
            return;
        }
        Stats::bump(&self.env.stats.redelivered);
        state.ready.push_front(Queued { redelivered: true, redeliveries: queued.redeliveries + 1, ..queued });
    }

    /// Moves dead letters to the dead-letter queue (called with no lock held): the copy is stored
    /// there before the original leaves the store. If the dead-letter queue cannot take them,
    /// they are dropped and counted.
    fn bury(&self, dead: Vec<DeadLetter>) {
        if dead.is_empty() {
            return;
        }
        let target = self.policy.dead_letter.queue.as_deref().and_then(|name| self.env.dead_letter_queue(name));
        for DeadLetter { queued, reason } in dead {
            let accepted = target.as_ref().is_some_and(|dlq| {
                let id = self.env.next_id();
                let letter =
                    queued.message.dead_letter(id, dlq.destination.shared().clone(), &reason, dlq.counters.clone());
                dlq.offer(Arc::new(letter)).is_ok()
            });
            if !accepted {
                Stats::bump(&self.counters.dropped);
                Stats::bump(&self.env.stats.dropped);
            }
            self.unstore(&queued);
        }
        self.space.notify_waiters();
    }

    /// Empties a durable subscription that is being deleted: its messages and its catalog entry
    /// leave the store. Returns the store's ticket.
    pub(crate) fn destroy(&self) -> Option<Ticket> {
        let mut state = self.state.lock();
        let mut ticket = None;
        let consumers = std::mem::take(&mut state.consumers);
        let held: Vec<Queued> = consumers.into_iter().flat_map(|c| c.in_flight).chain(state.ready.drain(..)).collect();
        state.skipped = 0;
        for queued in held {
            self.env.memory.sub(state.forget(&queued.message));
            ticket = ticket.max(self.unstore(&queued).0);
        }
        drop(state);
        ticket.max(self.forget_catalog())
    }

    /// Removes the queue from the store's catalog (it is being deleted).
    pub(crate) fn forget_catalog(&self) -> Option<Ticket> {
        let store = self.env.store.as_ref()?;
        Some(store.submit(Op::Catalog { queue: *self.stored.get()?, entry: None }))
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

    /// Hands waiting messages to consumers with room, round-robin; drops (or dead-letters)
    /// expired ones.
    fn dispatch(self: &Arc<Self>, state: &mut State, dead: &mut Vec<DeadLetter>) {
        state.skipped = 0;
        self.dispatch_new(state, dead);
    }

    /// [`Queue::dispatch`] after a message was added at the back: the messages no consumer
    /// selected last time are not looked at again (no consumer got room since).
    fn dispatch_new(self: &Arc<Self>, state: &mut State, dead: &mut Vec<DeadLetter>) {
        let mut now = None;
        let mut index = state.skipped;
        while let Some(next) = state.ready.get(index) {
            if next.message.expires() && next.message.is_expired_at(*now.get_or_insert_with(|| self.env.clock.now_ms()))
            {
                let expired = state.ready.remove(index).expect("index exists");
                self.env.memory.sub(state.forget(&expired.message));
                Stats::bump(&self.env.stats.expired);
                Stats::bump(&self.counters.expired);
                self.space.notify_waiters();
                if self.policy.dead_letter.expired && self.policy.dead_letter.queue.is_some() {
                    dead.push(DeadLetter { queued: expired, reason: "expired".to_owned() });
                } else {
                    self.unstore(&expired);
                }
                continue;
            }
            let count = state.consumers.len();
            let has_room = |consumer: &Consumer| consumer.in_flight.len() < consumer.window;
            // The first exclusive consumer, if any, is the only one that takes messages; else
            // the one the message's group sticks to, if any.
            let group = next.message.group();
            let exclusive = state.consumers.iter().position(|c| c.subscriber.exclusive);
            let owner = group
                .and_then(|group| state.groups.owner(group))
                .and_then(|owner| state.consumers.iter().position(|c| Arc::ptr_eq(&c.subscriber, owner)));
            let only = exclusive.or(owner);
            let eligible = |i: &usize| only.is_none_or(|only| only == *i);
            let Some(chosen) = (0..count).map(|i| (state.cursor + i) % count).filter(eligible).find(|&i| {
                let consumer = &state.consumers[i];
                has_room(consumer) && consumer.subscriber.selects(&next.message)
            }) else {
                // Selected by nobody with room: the next message may be, unless nobody has room.
                if !(0..count).filter(eligible).any(|i| has_room(&state.consumers[i])) {
                    break;
                }
                index += 1;
                continue;
            };
            state.cursor = chosen + 1;
            if let Some(group) = group.filter(|_| owner.is_none()) {
                let subscriber = state.consumers[chosen].subscriber.clone();
                state.groups.assign(group, subscriber, self.env.max_message_groups);
            }
            let queued = state.ready.remove(index).expect("index exists");
            let consumer = &mut state.consumers[chosen];
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
        state.skipped = index;
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
