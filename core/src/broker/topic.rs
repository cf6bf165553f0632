//! Topics: fan-out to every current subscriber whose pattern matches and whose selector (if any)
//! selects the message.
//!
//! Each concrete topic that is published to or subscribed to by name has a [`Topic`] entry with
//! its counters and its subscribers, in two parts:
//!
//! - **by name**: the subscriptions to exactly this topic (a chat room's thousands), in a
//!   persistent ordered map. Subscribing and unsubscribing change it in O(log n) under the
//!   topic's own lock; a publisher takes a snapshot of it in O(1) (a reference count) and fans
//!   out with no lock held, so a subscriber that comes or goes never waits for a fan-out to
//!   thousands, nor makes the next one rebuild a list;
//! - **by wildcard**: the wildcard subscriptions and the durable subscriptions live in tries.
//!   Changing either bumps a generation number; a publisher whose cached lists of matching
//!   wildcard and durable subscriptions are of an older generation recomputes them once (NATS's
//!   sublist `genid` and per-client result cache). They are few; a change costs a walk of those
//!   that match.
//!
//! Durable subscriptions are queues that collect what their pattern matches while their
//! subscriber is away (see `queue`), so the topic hands each message to its subscribers' outboxes
//! and to its durable subscriptions' queues in one pass. In cluster mode the durable
//! subscriptions collect through the cluster instead ([`Topics::collectors`] tells the router
//! which ones a message is for), and they are not local interest: the node subscribes to a
//! pattern in NATS for its live subscriptions only.
//!
//! The wildcard lists are also the deny filter of wildcard subscriptions (NATS's
//! `checkDenySub`): a subscription to `/topic/chat.*` is left out of `/topic/chat.secret`'s list
//! when its principal may not receive from that topic. The decision is made once per
//! subscription and topic, when the list is computed, and the list is also recomputed when the
//! authorizer's version moves, so fan-out itself checks nothing. A subscription by name was
//! authorized for its one destination at SUBSCRIBE.
//!
//! Entries nobody holds (no cached route of a producer, no subscription by name, no retained
//! message) are swept when the map has doubled since the last sweep, so publishing to ever-new
//! names cannot grow it without bound; those unused for `limits.auto_delete_after_ms` are
//! deleted too (`Topics::delete_unused`). A new subscription gets the retained message of each
//! topic it matches (see `retained`). A temporary topic reaches its own connection's
//! subscriptions only.
//!
//! Lock order: the trie lock ([`Topics::inner`]), then a topic's locks (its subscribers by name,
//! or its wildcard cache; never both at once).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::time::{Duration, Instant};

use super::delivery::{Delivery, Subscriber};
use super::memory::Memory;
use super::message::Message;
use super::pressure::Pressure;
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

/// The wildcard subscribers matching one topic, shared by concurrent publishers.
type Matching = Arc<[Arc<Subscriber>]>;

/// The durable subscriptions collecting one topic's messages.
type Durables = Arc<[DurableEntry]>;

/// The subscribers of one topic by name, keyed by the address of their [`Subscriber`] (unique
/// while the map holds it): a snapshot is a reference count, a change O(log n).
type ByName = imbl::OrdMap<usize, Arc<Subscriber>>;

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
    /// Bumped (under the trie lock) by every change of the tries.
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
    /// The durable subscriptions, by pattern (wildcard or not).
    durables: TopicTrie<DurableEntry>,
    known: HashMap<Arc<str>, Arc<Topic>>,
    sweep_at: usize,
    /// How many live subscriptions (not durable ones) use each pattern: the local interest the
    /// cluster bridge follows.
    interest: HashMap<Arc<str>, usize>,
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

/// One concrete topic: its counters and its subscribers.
#[derive(Debug)]
pub(crate) struct Topic {
    destination: Destination,
    counters: Arc<DestinationStats>,
    by_name: Mutex<ByName>,
    wildcard: Mutex<Cached>,
    retained: Retained,
    /// Since when nobody has used it, as the sweeper of unused topics last saw it.
    idle_since: Mutex<Option<Instant>>,
}

/// A topic's cached lists of matching wildcard and durable subscriptions.
#[derive(Debug)]
struct Cached {
    /// The generation the lists were computed at (`u64::MAX`: never).
    generation: u64,
    /// The authorizer's version they were filtered under.
    version: u64,
    subscribers: Matching,
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
            inner.known.retain(|_, topic| Arc::strong_count(topic) > 1 || topic.retained.is_set());
            inner.sweep_at = inner.known.len() * 2;
        }
        let topic = Arc::new(Topic {
            destination: destination.clone(),
            counters: Arc::default(),
            by_name: Mutex::default(),
            wildcard: Mutex::new(Cached {
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

    /// Adds a subscription to a pattern. The entry of a topic subscribed to by name must exist
    /// (the caller holds it for as long as the subscription lives). Returns whether it is the
    /// pattern's first: local interest in it began.
    pub(crate) fn subscribe(&self, pattern: &Destination, subscriber: Arc<Subscriber>) -> bool {
        if pattern.is_wildcard() {
            return self.change(pattern, |inner| {
                inner.trie.insert(pattern.segments(), subscriber);
                true
            });
        }
        let Some(topic) = self.find(pattern) else { return false };
        topic.by_name.lock().insert(key(&subscriber), subscriber);
        self.by_name.fetch_add(1, Ordering::Relaxed);
        // The trie lock only for the count: no generation bump, no list to compute again.
        interest_began(&mut self.inner.lock(), pattern)
    }

    /// Removes a subscription. Returns whether it was the pattern's last: local interest ended.
    pub(crate) fn unsubscribe(&self, pattern: &Destination, subscriber: &Arc<Subscriber>) -> bool {
        if pattern.is_wildcard() {
            return self.change_out(pattern, |inner| {
                inner.trie.remove(pattern.segments(), |s| Arc::ptr_eq(s, subscriber)).is_some()
            });
        }
        let Some(topic) = self.find(pattern) else { return false };
        if topic.by_name.lock().remove(&key(subscriber)).is_none() {
            return false;
        }
        self.by_name.fetch_sub(1, Ordering::Relaxed);
        interest_ended(&mut self.inner.lock(), pattern)
    }

    /// Adds a durable subscription's queue to a pattern; a wildcard one collects only what
    /// `receive_check` (its subscriber; `None` for one read back from the store or made by
    /// another node) may receive, and one with a `selector` only what that selects.
    pub(crate) fn subscribe_durable(
        &self,
        pattern: &Destination,
        queue: Arc<Queue>,
        receive_check: Option<Arc<Principal>>,
        selector: Option<Arc<Selector>>,
    ) {
        let receive_check = receive_check.filter(|_| pattern.is_wildcard());
        let entry = DurableEntry { queue, receive_check, selector };
        let mut inner = self.inner.lock();
        inner.durables.insert(pattern.segments(), entry);
        self.generation.fetch_add(1, Ordering::Release);
    }

    /// Makes `owner` the principal whose `receive` right filters what a wildcard durable
    /// subscription collects (its latest subscriber).
    pub(crate) fn set_durable_owner(&self, pattern: &Destination, queue: &Arc<Queue>, owner: Arc<Principal>) {
        if !pattern.is_wildcard() {
            return;
        }
        let mut inner = self.inner.lock();
        if let Some(mut entry) = inner.durables.remove(pattern.segments(), |d| Arc::ptr_eq(&d.queue, queue)) {
            entry.receive_check = Some(owner);
            inner.durables.insert(pattern.segments(), entry);
            self.generation.fetch_add(1, Ordering::Release);
        }
    }

    /// Removes a durable subscription's queue.
    pub(crate) fn unsubscribe_durable(&self, pattern: &Destination, queue: &Arc<Queue>) {
        let mut inner = self.inner.lock();
        inner.durables.remove(pattern.segments(), |d| Arc::ptr_eq(&d.queue, queue));
        self.generation.fetch_add(1, Ordering::Release);
    }

    /// Adds to a pattern under the trie lock (`add` says whether it did) and bumps the
    /// generation, so that every topic's cached list is computed again. Returns whether the
    /// pattern had no subscription before.
    fn change(&self, pattern: &Destination, add: impl FnOnce(&mut Inner) -> bool) -> bool {
        let mut inner = self.inner.lock();
        let added = add(&mut inner);
        self.generation.fetch_add(1, Ordering::Release);
        added && interest_began(&mut inner, pattern)
    }

    /// Removes from a pattern under the trie lock (`remove` says whether it did), like
    /// [`Topics::change`]. Returns whether the pattern has no subscription left.
    fn change_out(&self, pattern: &Destination, remove: impl FnOnce(&mut Inner) -> bool) -> bool {
        let mut inner = self.inner.lock();
        let removed = remove(&mut inner);
        self.generation.fetch_add(1, Ordering::Release);
        removed && interest_ended(&mut inner, pattern)
    }

    /// Whether any live subscription uses `pattern`.
    pub(crate) fn has_interest(&self, pattern: &str) -> bool {
        self.inner.lock().interest.contains_key(pattern)
    }

    /// The patterns live subscriptions use.
    pub(crate) fn patterns(&self) -> Vec<String> {
        self.inner.lock().interest.keys().map(|p| p.to_string()).collect()
    }

    /// How many subscriptions `topic` has: by name, and by wildcards that match it and may
    /// receive from it.
    pub(crate) fn subscriber_count(&self, topic: &Topic) -> usize {
        topic.by_name.lock().len() + self.matches(topic).0.len()
    }

    /// Whether any durable subscription collects what is published to `topic`.
    pub(crate) fn has_durables(&self, topic: &Topic) -> bool {
        !self.matches(topic).1.is_empty()
    }

    /// The durable subscriptions that collect `message`, published to `topic`: what the router
    /// hands the cluster in cluster mode, where [`Topics::fan_out`] leaves them out.
    pub(crate) fn collectors(&self, topic: &Topic, message: &Message) -> Vec<Arc<Queue>> {
        let (_, durables) = self.matches(topic);
        durables.iter().filter(|d| collects(d, message)).map(|d| d.queue.clone()).collect()
    }

    /// The wildcard subscriptions that match `topic` and may receive from it, and the durable
    /// subscriptions that collect it, from its cache when still current.
    fn matches(&self, topic: &Topic) -> (Matching, Durables) {
        let generation = self.generation.load(Ordering::Acquire);
        let version = self.authorizer.version();
        {
            let cached = topic.wildcard.lock();
            if cached.generation == generation && cached.version == version {
                return (cached.subscribers.clone(), cached.durables.clone());
            }
        }
        let inner = self.inner.lock();
        // Stable while the trie lock is held.
        let generation = self.generation.load(Ordering::Acquire);
        let segments: Vec<&str> = topic.destination.segments().collect();
        let resource = Resource::Destination(&topic.destination);
        let may_receive = |check: &Option<Arc<Principal>>| {
            check.as_ref().is_none_or(|p| self.authorizer.allows(p, Operation::Receive, resource))
        };
        // A temporary topic reaches its own connection's subscriptions only.
        let owner = temporary_owner(&topic.destination);
        let mut subscribers = Vec::new();
        inner.trie.for_each_match(&segments, |s| {
            if may_receive(&s.receive_check) && owner.is_none_or(|owner| owner == s.owner) {
                subscribers.push(s.clone());
            }
        });
        let mut durables = Vec::new();
        inner.durables.for_each_match(&segments, |d| {
            if owner.is_none() && may_receive(&d.receive_check) {
                durables.push(d.clone());
            }
        });
        let cached = Cached { generation, version, subscribers: subscribers.into(), durables: durables.into() };
        let found = (cached.subscribers.clone(), cached.durables.clone());
        *topic.wildcard.lock() = cached;
        found
    }

    /// Pushes `message` into the outbox of every active subscriber of `topic`, counting what
    /// the outboxes now hold against `memory` at once, and, when `to_durables`, into the queue
    /// of every durable subscription (one that is full misses it, counted as dropped). See
    /// [`Fanned`].
    pub(crate) fn fan_out(&self, topic: &Topic, message: &Arc<Message>, memory: &Memory, to_durables: bool) -> Fanned {
        let by_name = topic.by_name.lock().clone();
        let (wildcard, durables) = self.matches(topic);
        let (mut delivered, mut held, mut fanned) = (0, 0, Fanned::default());
        let selected = |s: &&Arc<Subscriber>| s.is_active() && s.selects(message);
        for subscriber in by_name.values().chain(wildcard.iter()).filter(selected) {
            let pushed = subscriber.outbox.push(Delivery::copy(message, subscriber, false));
            held += pushed.held;
            if pushed.pressing && fanned.pressure.is_none() {
                fanned.pressure = Some(subscriber.outbox.pressure());
            }
            delivered += 1;
        }
        memory.change(held);
        let durables = durables.iter().filter(|_| to_durables);
        for durable in durables.filter(|d| collects(d, message)) {
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
        inner.trie.len() + inner.durables.len() + self.by_name.load(Ordering::Relaxed)
    }

    /// The known topics, copied out under the lock.
    pub(crate) fn known(&self) -> Vec<Arc<Topic>> {
        self.inner.lock().known.values().cloned().collect()
    }
}

/// Counts one more subscription to `pattern`; returns whether it is the first.
fn interest_began(inner: &mut Inner, pattern: &Destination) -> bool {
    let count = inner.interest.entry(pattern.shared().clone()).or_default();
    *count += 1;
    *count == 1
}

/// Counts one subscription to `pattern` less; returns whether it was the last.
fn interest_ended(inner: &mut Inner, pattern: &Destination) -> bool {
    let Some(count) = inner.interest.get_mut(pattern.as_str()) else { return false };
    *count -= 1;
    let ended = *count == 0;
    if ended {
        inner.interest.remove(pattern.as_str());
    }
    ended
}

/// Whether a durable subscription collects `message` (its pattern matched): its selector, if
/// any, selects it.
fn collects(durable: &DurableEntry, message: &Message) -> bool {
    durable.selector.as_ref().is_none_or(|s| message.selected_by(s))
}

/// A subscriber's key among a topic's subscribers by name.
fn key(subscriber: &Arc<Subscriber>) -> usize {
    Arc::as_ptr(subscriber) as usize
}
