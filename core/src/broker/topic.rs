//! Topics: fan-out to every current subscriber whose pattern matches.
//!
//! Each concrete topic that is published to or subscribed to by name has a [`Topic`] entry with
//! its counters and its subscribers, in two parts:
//!
//! - **by name**: the subscriptions to exactly this topic (a chat room's thousands), in a
//!   persistent ordered map. Subscribing and unsubscribing change it in O(log n) under the
//!   topic's own lock; a publisher takes a snapshot of it in O(1) (a reference count) and fans
//!   out with no lock held, so a subscriber that comes or goes never waits for a fan-out to
//!   thousands, nor makes the next one rebuild a list;
//! - **by wildcard**: the wildcard subscriptions live in a trie. Subscribing and unsubscribing
//!   with a wildcard bump a generation number; a publisher whose cached list of matching wildcard
//!   subscriptions is of an older generation recomputes it once (NATS's sublist `genid` and
//!   per-client result cache). Wildcard subscriptions are few; a change costs a walk of those
//!   that match.
//!
//! The wildcard list is also the deny filter of wildcard subscriptions (NATS's `checkDenySub`): a
//! subscription to `/topic/chat.*` is left out of `/topic/chat.secret`'s list when its principal
//! may not receive from that topic. The decision is made once per subscription and topic, when
//! the list is computed, and the list is also recomputed when the authorizer's version moves, so
//! fan-out itself checks nothing. A subscription by name was authorized for its one destination
//! at SUBSCRIBE.
//!
//! Entries nobody holds (no cached route of a producer, no subscription by name) are swept when
//! the map has doubled since the last sweep, so publishing to ever-new names cannot grow it
//! without bound.
//!
//! Lock order: the trie lock ([`Topics::inner`]), then a topic's locks (its subscribers by name,
//! or its wildcard cache; never both at once).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use super::delivery::{Delivery, Subscriber};
use super::memory::Memory;
use super::message::Message;
use super::outbox::Pressure;
use super::stats::{DestinationStats, Stats};
use crate::auth::{Authorizer, Operation, Resource};
use crate::destination::{Destination, TopicTrie};

/// Entries kept at least before the map is swept of unused ones.
const SWEEP_FLOOR: usize = 1024;

/// The wildcard subscribers matching one topic, shared by concurrent publishers.
type Matching = Arc<[Arc<Subscriber>]>;

/// The subscribers of one topic by name, keyed by the address of their [`Subscriber`] (unique
/// while the map holds it): a snapshot is a reference count, a change O(log n).
type ByName = imbl::OrdMap<usize, Arc<Subscriber>>;

/// Every topic subscription and every known topic.
#[derive(Debug)]
pub(crate) struct Topics {
    inner: Mutex<Inner>,
    /// Bumped (under the trie lock) by every wildcard subscribe and unsubscribe.
    generation: AtomicU64,
    /// Subscriptions by name, in all topics.
    by_name: AtomicUsize,
    /// Asked whether a wildcard subscription may receive from a topic.
    authorizer: Arc<dyn Authorizer>,
}

#[derive(Debug, Default)]
struct Inner {
    /// The wildcard subscriptions.
    trie: TopicTrie<Arc<Subscriber>>,
    known: HashMap<Arc<str>, Arc<Topic>>,
    sweep_at: usize,
}

/// One concrete topic: its counters and its subscribers.
#[derive(Debug)]
pub(crate) struct Topic {
    destination: Destination,
    counters: Arc<DestinationStats>,
    by_name: Mutex<ByName>,
    wildcard: Mutex<Cached>,
}

#[derive(Debug)]
struct Cached {
    /// The generation the list was computed at (`u64::MAX`: never).
    generation: u64,
    /// The authorizer's version it was filtered under.
    version: u64,
    subscribers: Matching,
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
}

impl Topics {
    /// No topics yet; wildcard subscriptions are filtered by `authorizer`.
    pub(crate) fn new(authorizer: Arc<dyn Authorizer>) -> Topics {
        Topics { inner: Mutex::default(), generation: AtomicU64::new(0), by_name: AtomicUsize::new(0), authorizer }
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
            inner.known.retain(|_, topic| Arc::strong_count(topic) > 1);
            inner.sweep_at = inner.known.len() * 2;
        }
        let topic = Arc::new(Topic {
            destination: destination.clone(),
            counters: Arc::default(),
            by_name: Mutex::default(),
            wildcard: Mutex::new(Cached { generation: u64::MAX, version: 0, subscribers: Arc::new([]) }),
        });
        inner.known.insert(destination.shared().clone(), topic.clone());
        topic
    }

    /// Adds a subscription to a pattern. The entry of a topic subscribed to by name must exist
    /// (the caller holds it for as long as the subscription lives).
    pub(crate) fn subscribe(&self, pattern: &Destination, subscriber: Arc<Subscriber>) {
        if pattern.is_wildcard() {
            let mut inner = self.inner.lock();
            inner.trie.insert(pattern.segments(), subscriber);
            self.generation.fetch_add(1, Ordering::Release);
        } else if let Some(topic) = self.find(pattern) {
            topic.by_name.lock().insert(key(&subscriber), subscriber);
            self.by_name.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Removes a subscription.
    pub(crate) fn unsubscribe(&self, pattern: &Destination, subscriber: &Arc<Subscriber>) {
        if pattern.is_wildcard() {
            let mut inner = self.inner.lock();
            inner.trie.remove(pattern.segments(), |s| Arc::ptr_eq(s, subscriber));
            self.generation.fetch_add(1, Ordering::Release);
        } else if let Some(topic) = self.find(pattern) {
            if topic.by_name.lock().remove(&key(subscriber)).is_some() {
                self.by_name.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }

    /// How many subscriptions `topic` has: by name, and by wildcards that match it and may
    /// receive from it.
    pub(crate) fn subscriber_count(&self, topic: &Topic) -> usize {
        topic.by_name.lock().len() + self.wildcard_subscribers(topic).len()
    }

    /// The wildcard subscriptions that match `topic` and may receive from it, from its cache
    /// when still current.
    fn wildcard_subscribers(&self, topic: &Topic) -> Matching {
        let generation = self.generation.load(Ordering::Acquire);
        let version = self.authorizer.version();
        {
            let cached = topic.wildcard.lock();
            if cached.generation == generation && cached.version == version {
                return cached.subscribers.clone();
            }
        }
        let inner = self.inner.lock();
        // Stable while the trie lock is held.
        let generation = self.generation.load(Ordering::Acquire);
        let segments: Vec<&str> = topic.destination.segments().collect();
        let resource = Resource::Destination(&topic.destination);
        let mut found = Vec::new();
        inner.trie.for_each_match(&segments, |s| {
            let allowed =
                s.receive_check.as_ref().is_none_or(|p| self.authorizer.allows(p, Operation::Receive, resource));
            if allowed {
                found.push(s.clone());
            }
        });
        let found: Matching = found.into();
        *topic.wildcard.lock() = Cached { generation, version, subscribers: found.clone() };
        found
    }

    /// Pushes `message` into the outbox of every active subscriber of `topic`, counting what
    /// the outboxes now hold against `memory` at once. Returns the pressure of a subscriber past
    /// its high-water mark, which the publisher must wait for.
    pub(crate) fn fan_out(&self, topic: &Topic, message: &Arc<Message>, memory: &Memory) -> Option<Pressure> {
        let by_name = topic.by_name.lock().clone();
        let wildcard = self.wildcard_subscribers(topic);
        let (mut delivered, mut held, mut pressure) = (0, 0, None);
        for subscriber in by_name.values().chain(wildcard.iter()).filter(|s| s.is_active()) {
            let pushed = subscriber.outbox.push(Delivery {
                message: message.clone(),
                subscriber: subscriber.clone(),
                redelivered: false,
                settle: None,
                counted: true,
            });
            held += pushed.held;
            if pushed.pressing && pressure.is_none() {
                pressure = Some(subscriber.outbox.pressure());
            }
            delivered += 1;
        }
        if held >= 0 {
            memory.add(held.unsigned_abs());
        } else {
            memory.sub(held.unsigned_abs());
        }
        Stats::add(&topic.counters.dequeued, delivered);
        pressure
    }

    /// How many subscriptions exist.
    pub(crate) fn len(&self) -> usize {
        self.inner.lock().trie.len() + self.by_name.load(Ordering::Relaxed)
    }

    /// The known topics, copied out under the lock.
    pub(crate) fn known(&self) -> Vec<Arc<Topic>> {
        self.inner.lock().known.values().cloned().collect()
    }
}

/// A subscriber's key among a topic's subscribers by name.
fn key(subscriber: &Arc<Subscriber>) -> usize {
    Arc::as_ptr(subscriber) as usize
}
