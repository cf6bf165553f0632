//! Topics: fan-out to every current subscriber whose pattern matches and whose selector (if any)
//! selects the message.
//!
//! Subscriptions live in a wildcard trie. Each concrete topic that is published to or subscribed
//! to by name has a [`Topic`] entry with its counters and the cached list of its matching
//! subscribers. Subscribing and unsubscribing bump a generation number; a publisher whose cached
//! list is of an older generation recomputes it once, so the hot path takes only the topic's own
//! lock, never the trie's (NATS's sublist `genid` and per-client result cache).
//!
//! Durable subscriptions are subscribers of the same trie: queues that collect what their
//! pattern matches while their subscriber is away (see `queue`), so the topic hands each message
//! to its subscribers' outboxes and to its durable subscriptions' queues in one pass.
//!
//! The same list is the deny filter of wildcard subscriptions (NATS's `checkDenySub`): a
//! subscription to `/topic/chat.*` is left out of `/topic/chat.secret`'s list when its principal
//! may not receive from that topic. The decision is made once per subscription and topic, when
//! the list is computed, and the list is also recomputed when the authorizer's version moves, so
//! fan-out itself checks nothing.
//!
//! Entries nobody holds (no cached route of a producer, no subscription by name, no retained
//! message) are swept when the map has doubled since the last sweep, so publishing to ever-new
//! names cannot grow it without bound; those unused for `limits.auto_delete_after_ms` are
//! deleted too (`Topics::delete_unused`). A new subscription gets the retained message of each
//! topic it matches (see `retained`).
//!
//! Lock order: the trie lock ([`Topics::inner`]), then a topic's cache lock.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::time::{Duration, Instant};

use super::delivery::{Delivery, Subscriber};
use super::memory::Memory;
use super::message::Message;
use super::outbox::Pressure;
use super::queue::Queue;
use super::retained::Retained;
use super::session::temporary_owner;
use super::stats::{DestinationStats, Stats};
use crate::auth::{Authorizer, Operation, Principal, Resource};
use crate::destination::{segments_match, Destination, TopicTrie};
use crate::selector::Selector;
use crate::store::Ticket;

/// Entries kept at least before the map is swept of unused ones.
const SWEEP_FLOOR: usize = 1024;

/// The subscribers of one topic, shared by concurrent publishers.
pub(crate) type Subscribers = Arc<[Arc<Subscriber>]>;

/// The durable subscriptions of one topic.
type Durables = Arc<[DurableEntry]>;

/// What a fan-out came to.
#[derive(Debug, Default)]
pub(crate) struct Fanned {
    /// A subscriber past its high-water mark, which the publisher must wait for.
    pub(crate) pressure: Option<Pressure>,
    /// The store's ticket, when durable subscriptions stored the message.
    pub(crate) ticket: Option<Ticket>,
}

/// Every topic subscription and every known topic.
#[derive(Debug)]
pub(crate) struct Topics {
    inner: Mutex<Inner>,
    /// Bumped (under the trie lock) by every subscribe and unsubscribe.
    generation: AtomicU64,
    /// Asked whether a wildcard subscription may receive from a topic.
    authorizer: Arc<dyn Authorizer>,
}

#[derive(Debug, Default)]
struct Inner {
    trie: TopicTrie<Arc<Subscriber>>,
    durables: TopicTrie<DurableEntry>,
    known: HashMap<Arc<str>, Arc<Topic>>,
    sweep_at: usize,
}

/// A durable subscription in the trie: its queue, and for a wildcard pattern the principal whose
/// `receive` right filters what it collects (as for a plain wildcard subscription).
#[derive(Debug, Clone)]
struct DurableEntry {
    queue: Arc<Queue>,
    receive_check: Option<Arc<Principal>>,
    /// Only what this selects is collected (the `selector` of the SUBSCRIBE that made it).
    selector: Option<Arc<Selector>>,
}

/// One concrete topic: its counters and its cached subscriber list.
#[derive(Debug)]
pub(crate) struct Topic {
    destination: Destination,
    counters: Arc<DestinationStats>,
    cache: Mutex<Cached>,
    retained: Retained,
    /// Since when nobody has used it, as the sweeper of unused topics last saw it.
    idle_since: Mutex<Option<Instant>>,
}

#[derive(Debug)]
struct Cached {
    /// The generation the list was computed at (`u64::MAX`: never).
    generation: u64,
    /// The authorizer's version it was filtered under.
    version: u64,
    subscribers: Subscribers,
    durables: Durables,
}

impl Topic {
    /// Its destination, `/topic/NAME`.
    pub(crate) fn destination(&self) -> &Destination {
        &self.destination
    }

    /// Its counters (shared with the messages published to it).
    pub(crate) fn counters(&self) -> &Arc<DestinationStats> {
        &self.counters
    }

    /// Its retained message.
    pub(crate) fn retained(&self) -> &Retained {
        &self.retained
    }
}

impl Topics {
    /// No topics yet; wildcard subscriptions are filtered by `authorizer`.
    pub(crate) fn new(authorizer: Arc<dyn Authorizer>) -> Topics {
        Topics { inner: Mutex::default(), generation: AtomicU64::new(0), authorizer }
    }

    /// The entry of a concrete topic, if it exists.
    pub(crate) fn find(&self, destination: &Destination) -> Option<Arc<Topic>> {
        self.inner.lock().known.get(destination.as_str()).cloned()
    }

    /// The entry of a concrete topic, made if it does not exist yet.
    pub(crate) fn get_or_create(&self, destination: &Destination) -> Arc<Topic> {
        let mut inner = self.inner.lock();
        if let Some(topic) = inner.known.get(destination.as_str()) {
            return topic.clone();
        }
        if inner.known.len() >= inner.sweep_at.max(SWEEP_FLOOR) {
            // Only the map holds an unused entry.
            inner.known.retain(|_, topic| Arc::strong_count(topic) > 1 || topic.retained.is_set());
            inner.sweep_at = inner.known.len() * 2;
        }
        let topic = Arc::new(Topic {
            destination: destination.clone(),
            counters: Arc::default(),
            cache: Mutex::new(Cached {
                generation: u64::MAX,
                version: 0,
                subscribers: Arc::new([]),
                durables: Arc::new([]),
            }),
            retained: Retained::default(),
            idle_since: Mutex::new(None),
        });
        inner.known.insert(destination.shared().clone(), topic.clone());
        topic
    }

    /// Adds a subscription to a pattern.
    pub(crate) fn subscribe(&self, pattern: &Destination, subscriber: Arc<Subscriber>) {
        self.change(|inner| inner.trie.insert(pattern.segments(), subscriber));
    }

    /// Removes a subscription.
    pub(crate) fn unsubscribe(&self, pattern: &Destination, subscriber: &Arc<Subscriber>) {
        self.change(|inner| drop(inner.trie.remove(pattern.segments(), |s| Arc::ptr_eq(s, subscriber))));
    }

    /// Adds a durable subscription's queue to a pattern; a wildcard one collects only what
    /// `receive_check` (its subscriber; `None` for one read back from the store) may receive,
    /// and one with a `selector` only what that selects.
    pub(crate) fn subscribe_durable(
        &self,
        pattern: &Destination,
        queue: Arc<Queue>,
        receive_check: Option<Arc<Principal>>,
        selector: Option<Arc<Selector>>,
    ) {
        let receive_check = receive_check.filter(|_| pattern.is_wildcard());
        let entry = DurableEntry { queue, receive_check, selector };
        self.change(|inner| inner.durables.insert(pattern.segments(), entry));
    }

    /// Removes a durable subscription's queue.
    pub(crate) fn unsubscribe_durable(&self, pattern: &Destination, queue: &Arc<Queue>) {
        self.change(|inner| drop(inner.durables.remove(pattern.segments(), |d| Arc::ptr_eq(&d.queue, queue))));
    }

    /// Changes the tries under their lock and bumps the generation, so that every topic's
    /// cached list is computed again.
    fn change(&self, change: impl FnOnce(&mut Inner)) {
        let mut inner = self.inner.lock();
        change(&mut inner);
        self.generation.fetch_add(1, Ordering::Release);
    }

    /// Every subscriber whose pattern matches `topic` and that may receive from it, from its
    /// cache when still current.
    pub(crate) fn subscribers(&self, topic: &Topic) -> Subscribers {
        self.matches(topic).0
    }

    /// Whether any durable subscription collects what is published to `topic`.
    pub(crate) fn has_durables(&self, topic: &Topic) -> bool {
        !self.matches(topic).1.is_empty()
    }

    /// The subscribers and durable subscriptions matching `topic`, from its cache when current.
    fn matches(&self, topic: &Topic) -> (Subscribers, Durables) {
        let generation = self.generation.load(Ordering::Acquire);
        let version = self.authorizer.version();
        {
            let cached = topic.cache.lock();
            if cached.generation == generation && cached.version == version {
                return (cached.subscribers.clone(), cached.durables.clone());
            }
        }
        let inner = self.inner.lock();
        // Stable while the trie lock is held.
        let generation = self.generation.load(Ordering::Acquire);
        let segments: Vec<&str> = topic.destination.segments().collect();
        let resource = Resource::Destination(&topic.destination);
        // A temporary topic reaches its own connection's subscriptions only.
        let owner = temporary_owner(&topic.destination);
        let mut found = Vec::new();
        inner.trie.for_each_match(&segments, |s| {
            let allowed =
                s.receive_check.as_ref().is_none_or(|p| self.authorizer.allows(p, Operation::Receive, resource));
            if allowed && owner.is_none_or(|owner| owner == s.owner) {
                found.push(s.clone());
            }
        });
        let mut durables = Vec::new();
        inner.durables.for_each_match(&segments, |d| {
            if owner.is_some() {
                return;
            }
            if d.receive_check.as_ref().is_none_or(|p| self.authorizer.allows(p, Operation::Receive, resource)) {
                durables.push(d.clone());
            }
        });
        let cached = Cached { generation, version, subscribers: found.into(), durables: durables.into() };
        let found = (cached.subscribers.clone(), cached.durables.clone());
        *topic.cache.lock() = cached;
        found
    }

    /// Pushes `message` into the outbox of every active subscriber of `topic`, counting what
    /// the outboxes now hold against `memory` at once, and into the queue of every durable
    /// subscription (one that is full misses it, counted as dropped). See [`Fanned`].
    pub(crate) fn fan_out(&self, topic: &Topic, message: &Arc<Message>, memory: &Memory) -> Fanned {
        let (subscribers, durables) = self.matches(topic);
        let (mut delivered, mut held, mut fanned) = (0, 0, Fanned::default());
        for subscriber in subscribers.iter().filter(|s| s.is_active() && s.selects(message)) {
            let pushed = subscriber.outbox.push(Delivery::copy(message, subscriber, false));
            held += pushed.held;
            if pushed.pressing && fanned.pressure.is_none() {
                fanned.pressure = Some(subscriber.outbox.pressure());
            }
            delivered += 1;
        }
        memory.change(held);
        let selected = |d: &&DurableEntry| d.selector.as_ref().is_none_or(|s| message.selected_by(s));
        for durable in durables.iter().filter(selected) {
            match durable.queue.offer(message.clone()) {
                Ok(ticket) => fanned.ticket = fanned.ticket.max(ticket),
                Err(_) => Stats::bump(&topic.counters.dropped),
            }
            delivered += 1;
        }
        Stats::add(&topic.counters.dequeued, delivered);
        fanned
    }

    /// Hands a new subscription to `pattern` the retained message of every topic it matches and
    /// may receive from, unexpired as of `now_ms` and selected by its selector.
    pub(crate) fn replay_retained(
        &self,
        pattern: &Destination,
        subscriber: &Arc<Subscriber>,
        now_ms: u64,
        memory: &Memory,
    ) {
        let topics: Vec<Arc<Topic>> = match pattern.is_wildcard() {
            false => self.find(pattern).into_iter().collect(),
            true => {
                let wanted: Vec<&str> = pattern.segments().collect();
                let inner = self.inner.lock();
                let matching = inner.known.values().filter(|topic| {
                    topic.retained.is_set()
                        && segments_match(&wanted, &topic.destination.segments().collect::<Vec<_>>())
                });
                matching.cloned().collect()
            }
        };
        let mut held = 0;
        for topic in topics {
            let resource = Resource::Destination(&topic.destination);
            let allowed = subscriber
                .receive_check
                .as_ref()
                .is_none_or(|principal| self.authorizer.allows(principal, Operation::Receive, resource));
            let foreign = temporary_owner(&topic.destination).is_some_and(|owner| owner != subscriber.owner);
            let Some(message) = topic.retained.get().filter(|_| allowed && !foreign) else { continue };
            if !(message.expires() && message.is_expired_at(now_ms)) && subscriber.selects(&message) {
                held += subscriber.outbox.push(Delivery::copy(&message, subscriber, false)).held;
            }
        }
        memory.change(held);
    }

    /// Removes the topics nobody has used (no producer's route, no subscription by name, no
    /// retained message) for `grace` as of `now`; returns how many. A topic is unused from the
    /// first sweep that finds it so.
    pub(crate) fn delete_unused(&self, now: Instant, grace: Duration) -> usize {
        let mut inner = self.inner.lock();
        let before = inner.known.len();
        inner.known.retain(|_, topic| {
            let mut idle_since = topic.idle_since.lock();
            if Arc::strong_count(topic) > 1 || topic.retained.is_set() {
                *idle_since = None;
                return true;
            }
            now.saturating_duration_since(*idle_since.get_or_insert(now)) < grace
        });
        before - inner.known.len()
    }

    /// How many subscriptions exist (durable ones included).
    pub(crate) fn len(&self) -> usize {
        let inner = self.inner.lock();
        inner.trie.len() + inner.durables.len()
    }

    /// The known topics, copied out under the lock.
    pub(crate) fn known(&self) -> Vec<Arc<Topic>> {
        self.inner.lock().known.values().cloned().collect()
    }
}
