//! The router: the one path every publish and every subscription takes.
//!
//! [`Router::publish`] receives the principal, the SEND frame (its destination and message) and
//! the session's [`RouteCache`], and runs, in this order: resolve the destination and authorize
//! `send` (and `create` for a destination that does not exist yet), admit a persistent message
//! (the store refuses it when failed or full), then deliver: fan out to a topic's subscribers and
//! durable subscriptions, or enqueue on a queue. The store is a subscriber, not a branch: each
//! queue and durable subscription stores the persistent messages it takes, and publish returns
//! the store's [`Ticket`] for the RECEIPT to wait on. The cluster bridge, when one is attached, is
//! the last subscriber of a topic: it gets the message after local delivery (see `cluster`); no
//! other file fans out or enqueues. [`Router::subscribe`] authorizes
//! `receive` (topics) or `consume` (queues), and `create`, then inserts the subscription: a plain
//! one, a durable one, or a browser. `lifecycle` makes and deletes durable subscriptions and
//! deletes unused, temporary and operator-deleted queues; `recovery` puts back what the store read
//! at start.
//! A wildcard topic subscription is allowed when some of what it matches may be received; the
//! topics filter its deliveries one destination at a time. With `add_user_header`, the message is
//! stamped with its sender here, once. Subscribing and unsubscribing tell the bridge when local
//! interest in a topic pattern begins or ends.
//!
//! Decisions are cached: each session keeps the routes of its recent SEND destinations, already
//! authorized, and drops them all when the authorizer's version moves. A repeated SEND costs one
//! hash lookup, no rule walk and no shared lock but the destination's own.
//!
//! Lock order: the queue map, then a queue; the topic trie, then a topic's cache; then outboxes
//! or the store's queue of operations. No two of the map locks are held at once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use super::claim::Confirmation;
use super::cluster::Bridge;
use super::config::{BrokerConfig, QueueFullPolicy};
use super::delivery::Subscriber;
use super::directory::{Directory, Environment};
use super::error::ProtocolError;
use super::memory::Memory;
use super::message::{asks_persistence, Message};
use super::outbox::Pressure;
use super::queue::Queue;
use super::registry::ConnectionInfo;
use super::retained::Retain;
use super::stats::{DestinationStats, Stats};
use super::topic::{Topic, Topics};
use crate::auth::{Operation, Principal, Resource};
use crate::destination::{Destination, Kind};
use crate::frame::{header, Frame};
use crate::store::{Store, Ticket};

mod lifecycle;
mod recovery;

/// Most destinations one session keeps routes for (the cache is cleared when full).
const ROUTE_CACHE: usize = 64;

/// Where publishes and subscriptions go. See the module docs.
#[derive(Debug)]
pub(crate) struct Router {
    config: BrokerConfig,
    topics: Topics,
    directory: Arc<Directory>,
    /// The cluster bridge, in cluster mode.
    bridge: OnceLock<Arc<dyn Bridge>>,
}

/// What a publish came to.
#[derive(Debug)]
pub(crate) enum Published {
    /// Delivered or enqueued; stored if the store's ticket is given.
    Done(Option<Ticket>),
    /// Delivered (and stored if the ticket is given), and a subscriber is past its high-water
    /// mark: the publisher waits for [`Pressure::relieved`] before it reads more.
    Paced(Pressure, Option<Ticket>),
    /// A full queue holds the message back ([`QueueFullPolicy::Block`]).
    Held(Held),
}

/// What kind of subscription a SUBSCRIBE makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Subscribe {
    /// A plain subscription to a topic pattern, a queue or (`/dsub/NAME`) a durable
    /// subscription's backlog.
    Plain,
    /// A durable subscription of this name to a topic pattern: made if new, attached to if not.
    Durable(String),
    /// A browser of a queue: copies of what it holds, then the end marker unless `keep_open`.
    Browse {
        /// Keep sending copies of new messages instead of ending.
        keep_open: bool,
    },
}

/// Whether a publish may wait for room in a full queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    /// A full queue holds the message back ([`QueueFullPolicy::Block`]) or refuses it.
    Bounded,
    /// Enqueue even past the limits (a committed transaction, bounded by its own cap).
    Forced,
}

/// Messages held back by full queues (one per queue of a composite destination), already
/// routed: [`Router::resume`] enqueues them.
#[derive(Debug)]
pub(crate) struct Held {
    /// Each full queue and the message waiting for it; never empty.
    waiting: Vec<(Arc<Queue>, Arc<Message>)>,
    /// The store's ticket of what was published before the hold.
    ticket: Option<Ticket>,
}

impl Held {
    /// The first full queue.
    pub(crate) fn queue(&self) -> &Arc<Queue> {
        &self.waiting[0].0
    }
}

/// What delivering to one destination came to.
#[derive(Debug)]
enum Delivered {
    Done(Option<Ticket>),
    Paced(Pressure, Option<Ticket>),
    Held(Arc<Queue>, Arc<Message>),
}

/// What a destination resolves to.
#[derive(Debug, Clone)]
enum Target {
    Topic(Arc<Topic>),
    Queue(Arc<Queue>),
}

impl Target {
    fn destination(&self) -> &Destination {
        match self {
            Target::Topic(topic) => topic.destination(),
            Target::Queue(queue) => queue.destination(),
        }
    }

    fn counters(&self) -> &Arc<DestinationStats> {
        match self {
            Target::Topic(topic) => topic.counters(),
            Target::Queue(queue) => queue.counters(),
        }
    }
}

/// A resolved and authorized SEND destination: one target, or one per destination of a
/// composite one. While it is cached, its session counts as one of each destination's producers
/// (counted when it was resolved, given back when it is dropped).
#[derive(Debug)]
struct Route {
    targets: Vec<Target>,
}

impl Drop for Route {
    fn drop(&mut self) {
        for target in &self.targets {
            target.counters().producers.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// One session's routes (see the module docs), and the count of the queues it created that
/// still exist (capped by `limits.max_queues_per_connection`).
#[derive(Debug, Default)]
pub(crate) struct RouteCache {
    routes: HashMap<Box<str>, Route>,
    /// The authorizer version the routes were authorized under.
    version: u64,
    created: Arc<AtomicUsize>,
}

/// What a queue lookup does with the queue while the queue map is locked, so the sweeper of
/// unused queues can never remove a queue between its lookup and its use.
#[derive(Debug)]
enum Attach<'a> {
    /// Count a producer (a route).
    Producer,
    /// Add a consumer with this window.
    Consumer(&'a Arc<Subscriber>, usize),
    /// Nothing: a browser only looks.
    Browser,
}

/// A subscription's place in the router, kept by the session to end it.
#[derive(Debug)]
pub(crate) enum Binding {
    /// A topic pattern; `_topic` holds the entry of a subscription by name, so the topic is
    /// kept (and listed) while the subscription lives.
    Topic { pattern: Destination, _topic: Option<Arc<Topic>> },
    /// A queue, or a durable subscription's queue.
    Queue(Arc<Queue>),
    /// A browser of a queue.
    Browse(Arc<Queue>),
}

impl Router {
    pub(crate) fn new(config: BrokerConfig, stats: Arc<Stats>, memory: Arc<Memory>, store: Option<Store>) -> Router {
        let directory = Directory::new(&config, stats, memory, store);
        let topics = Topics::new(config.authorizer.clone());
        Router { config, topics, directory, bridge: OnceLock::new() }
    }

    /// Attaches the cluster bridge; `false` if one was attached already.
    pub(crate) fn set_bridge(&self, bridge: Arc<dyn Bridge>) -> bool {
        self.bridge.set(bridge).is_ok()
    }

    /// The cluster bridge, in cluster mode.
    pub(crate) fn bridge(&self) -> Option<&Arc<dyn Bridge>> {
        self.bridge.get()
    }

    /// Tells the bridge that local interest in `pattern` began or ended, when `changed`.
    fn interest(&self, pattern: &Destination, changed: bool) {
        if let (true, Some(bridge)) = (changed, self.bridge()) {
            bridge.interest_changed(pattern.as_str());
        }
    }

    /// The bridge a queue is shared through, in cluster mode (not a durable subscription: its
    /// backlog is this node's).
    fn shared_through(&self, queue: &Queue) -> Option<&Arc<dyn Bridge>> {
        self.bridge().filter(|_| !queue.is_durable())
    }

    /// Tells the bridge that the local consumers of a shared queue changed.
    fn consumers_changed(&self, queue: &Queue) {
        if let Some(bridge) = self.shared_through(queue) {
            bridge.consumers_changed(queue.destination().as_str());
        }
    }

    fn env(&self) -> &Environment {
        self.directory.env()
    }

    /// The store, when the broker persists messages.
    pub(crate) fn store(&self) -> Option<&Store> {
        self.env().store.as_ref()
    }

    /// The configuration.
    pub(crate) fn config(&self) -> &BrokerConfig {
        &self.config
    }

    /// A fresh id, unique for the broker's lifetime (sessions and messages share the sequence).
    pub(crate) fn next_id(&self) -> u64 {
        self.env().next_id()
    }

    /// Refuses `operation` unless the access rules allow it.
    pub(crate) fn authorize(
        &self,
        principal: &Principal,
        operation: Operation,
        resource: Resource<'_>,
    ) -> Result<(), ProtocolError> {
        if self.config.authorizer.allows(principal, operation, resource) {
            Ok(())
        } else {
            Err(ProtocolError::denied(principal, operation, resource))
        }
    }

    /// Refuses a session the access rules do not let `connect`: asked of the broker and of the
    /// listener the session came in on (Apollo asks the virtual host and the connector).
    pub(crate) fn authorize_connect(&self, principal: &Principal) -> Result<(), ProtocolError> {
        self.authorize(principal, Operation::Connect, Resource::Broker)?;
        self.authorize(principal, Operation::Connect, Resource::Connector(&principal.connector))
    }

    /// Asks the access rules again about a connected session (after they changed): whether it
    /// may still connect, and still receive or consume from each of its subscriptions. Returns
    /// the first refusal.
    pub(crate) fn recheck(&self, principal: &Principal, info: &ConnectionInfo) -> Option<ProtocolError> {
        if let Err(refused) = self.authorize_connect(principal) {
            return Some(refused);
        }
        let subscriptions = info.subscriptions.lock().clone();
        let mut each = subscriptions.iter().flat_map(|subscription| {
            composite(&subscription.destination).map(move |destination| (subscription, destination))
        });
        let refused = each.find_map(|(subscription, destination)| {
            let pattern = Destination::parse_pattern(destination).ok()?;
            let operation = match pattern.kind() {
                Kind::Topic => Operation::Receive,
                Kind::Queue | Kind::Durable => Operation::Consume,
            };
            self.authorize(principal, operation, Resource::Destination(&pattern)).err().map(|refused| match refused {
                ProtocolError::AccessDenied { user, operation, resource } => ProtocolError::AccessDenied {
                    user,
                    operation,
                    resource: format!("{resource} (subscription {})", subscription.id),
                },
                other => other,
            })
        });
        refused
    }

    /// Publishes one SEND: authorize, then deliver, to each destination of a composite one
    /// (`/queue/a,/topic/b`) in turn. See [`Published`].
    pub(crate) fn publish(
        &self,
        principal: &Principal,
        routes: &mut RouteCache,
        frame: Frame,
        admission: Admission,
        confirmations: &mut Vec<Confirmation>,
    ) -> Result<Published, ProtocolError> {
        let targets = &self.route(principal, routes, required_destination(&frame)?)?.targets;
        let retain = Retain::parse(frame.header(header::RETAIN));
        let ttl = time_to_live(&frame)?;
        let mut headers = frame.headers;
        if let Some(name) = &self.config.add_user_header {
            stamp_sender(&mut headers, name, principal);
        }
        if let Some(ttl) = ttl {
            stamp_expiry(&mut headers, self.config.clock.now_ms().saturating_add(ttl));
        }
        if asks_persistence(&headers) {
            for target in targets {
                self.admit(target, retain)?;
            }
        }
        let (mut ticket, mut pressure, mut held) = (None, None, Vec::new());
        for (index, target) in targets.iter().enumerate() {
            let headers = match index + 1 == targets.len() {
                true => std::mem::take(&mut headers),
                false => headers.clone(),
            };
            let destination = target.destination().shared().clone();
            let counters = target.counters().clone();
            let message = Arc::new(Message::new(self.next_id(), destination, headers, frame.body.clone(), counters));
            match self.deliver(target, message, retain, admission, confirmations)? {
                Delivered::Done(done) => ticket = ticket.max(done),
                Delivered::Paced(paced, done) => {
                    pressure = pressure.or(Some(paced));
                    ticket = ticket.max(done);
                }
                Delivered::Held(queue, message) => held.push((queue, message)),
            }
        }
        Ok(match (held.is_empty(), pressure) {
            (false, _) => Published::Held(Held { waiting: held, ticket }),
            (true, Some(pressure)) => Published::Paced(pressure, ticket),
            (true, None) => Published::Done(ticket),
        })
    }

    /// Fans a message out to a topic, or enqueues it on a queue.
    fn deliver(
        &self,
        target: &Target,
        message: Arc<Message>,
        retain: Option<Retain>,
        admission: Admission,
        confirmations: &mut Vec<Confirmation>,
    ) -> Result<Delivered, ProtocolError> {
        let env = self.env();
        match target {
            Target::Topic(topic) => {
                Stats::bump(&env.stats.messages_in);
                Stats::bump(&topic.counters().enqueued);
                if message.expires() && message.is_expired_at(self.config.clock.now_ms()) {
                    Stats::bump(&env.stats.expired);
                    Stats::bump(&topic.counters().expired);
                    return Ok(Delivered::Done(None));
                }
                let retained = retain.and_then(|retain| {
                    let name = topic.destination().as_str();
                    topic.retained().update(retain, &message, name, self.store(), &env.memory)
                });
                let fanned = self.topics.fan_out(topic, &message, &env.memory);
                let ticket = fanned.ticket.max(retained);
                if let Some(bridge) = self.bridge() {
                    bridge.publish(&message);
                }
                Ok(match fanned.pressure {
                    Some(pressure) => Delivered::Paced(pressure, ticket),
                    None => Delivered::Done(ticket),
                })
            }
            Target::Queue(queue) if self.shared_through(queue).is_some() => {
                let bridge = self.shared_through(queue).expect("matched on it");
                confirmations.push(bridge.enqueue(&message).map_err(ProtocolError::Cluster)?);
                Stats::bump(&env.stats.messages_in);
                Ok(Delivered::Done(None))
            }
            Target::Queue(queue) => {
                let ticket = match admission {
                    Admission::Forced => queue.force(message),
                    Admission::Bounded => match queue.offer(message) {
                        Ok(ticket) => ticket,
                        Err(full) => {
                            return match queue.when_full() {
                                QueueFullPolicy::Block => Ok(Delivered::Held(queue.clone(), full.message)),
                                QueueFullPolicy::Error => {
                                    Err(ProtocolError::QueueFull(queue.destination().as_str().to_owned()))
                                }
                            };
                        }
                    },
                };
                Stats::bump(&env.stats.messages_in);
                Ok(Delivered::Done(ticket))
            }
        }
    }

    /// Refuses a persistent message the store cannot take (failed, or full) when it would be
    /// stored: sent to a queue, or to a topic with durable subscriptions or to be retained.
    fn admit(&self, target: &Target, retain: Option<Retain>) -> Result<(), ProtocolError> {
        let Some(store) = self.store() else { return Ok(()) };
        let stored = match target {
            Target::Queue(queue) => self.shared_through(queue).is_none(),
            Target::Topic(topic) => retain == Some(Retain::Set) || self.topics.has_durables(topic),
        };
        match stored {
            true => store.admit().map_err(ProtocolError::Store),
            false => Ok(()),
        }
    }

    /// Tries held-back messages again, in order: `Err` gives back those whose queue is still
    /// full.
    pub(crate) fn resume(&self, mut held: Held) -> Result<Option<Ticket>, Held> {
        while let Some((queue, message)) = held.waiting.first() {
            let ticket = queue.offer(message.clone()).map_err(drop);
            let Ok(ticket) = ticket else { return Err(held) };
            Stats::bump(&self.env().stats.messages_in);
            held.ticket = held.ticket.max(ticket);
            held.waiting.remove(0);
        }
        Ok(held.ticket)
    }

    /// Checks that a SEND could be published (its destination resolves and `send` is allowed)
    /// without publishing it: for a SEND buffered in a transaction.
    pub(crate) fn check_send(
        &self,
        principal: &Principal,
        routes: &mut RouteCache,
        frame: &Frame,
    ) -> Result<(), ProtocolError> {
        time_to_live(frame)?;
        self.route(principal, routes, required_destination(frame)?).map(drop)
    }

    /// The route of a SEND destination, from the session's cache or resolved and authorized.
    fn route<'r>(
        &self,
        principal: &Principal,
        routes: &'r mut RouteCache,
        text: &str,
    ) -> Result<&'r Route, ProtocolError> {
        let version = self.config.authorizer.version();
        if routes.version != version || routes.routes.len() >= ROUTE_CACHE {
            routes.routes.clear();
            routes.version = version;
        }
        if !routes.routes.contains_key(text) {
            let mut route = Route { targets: Vec::with_capacity(1) };
            for part in composite(text) {
                let destination = Destination::parse(part)?;
                self.authorize(principal, Operation::Send, Resource::Destination(&destination))?;
                route.targets.push(self.target(principal, &routes.created, &destination)?);
            }
            routes.routes.insert(text.into(), route);
        }
        Ok(&routes.routes[text])
    }

    /// What a concrete destination resolves to, made (and `create` authorized) if new, with one
    /// more producer counted.
    fn target(
        &self,
        principal: &Principal,
        created: &Arc<AtomicUsize>,
        destination: &Destination,
    ) -> Result<Target, ProtocolError> {
        Ok(match destination.kind() {
            Kind::Topic => {
                let topic = self.topic(principal, destination)?;
                Stats::bump(&topic.counters().producers);
                Target::Topic(topic)
            }
            Kind::Queue => Target::Queue(self.queue(principal, created, destination, Attach::Producer)?),
            Kind::Durable => return Err(ProtocolError::SendToDurable(destination.as_str().to_owned())),
        })
    }

    fn topic(&self, principal: &Principal, destination: &Destination) -> Result<Arc<Topic>, ProtocolError> {
        if let Some(topic) = self.topics.find(destination) {
            return Ok(topic);
        }
        self.authorize(principal, Operation::Create, Resource::Destination(destination))?;
        Ok(self.topics.get_or_create(destination))
    }

    /// The queue for a destination, created on first use with the limits of the first matching
    /// rule, and `attach`ed while the queue map is locked.
    fn queue(
        &self,
        principal: &Principal,
        created: &Arc<AtomicUsize>,
        destination: &Destination,
        attach: Attach<'_>,
    ) -> Result<Arc<Queue>, ProtocolError> {
        let mut queues = self.directory.lock();
        let queue = match queues.get(destination.as_str()) {
            Some(queue) => queue.clone(),
            None => {
                let limits = &self.config.limits;
                if queues.len() >= limits.max_queues {
                    return Err(ProtocolError::TooManyQueues { limit: limits.max_queues });
                }
                if created.load(Ordering::Relaxed) >= limits.max_queues_per_connection {
                    return Err(ProtocolError::TooManyQueuesCreated { limit: limits.max_queues_per_connection });
                }
                self.authorize(principal, Operation::Create, Resource::Destination(destination))?;
                self.directory.insert(&mut queues, destination.clone(), created.clone())
            }
        };
        let burial = match attach {
            Attach::Producer => {
                Stats::bump(&queue.counters().producers);
                None
            }
            Attach::Consumer(subscriber, window) => Some(queue.add_consumer(subscriber.clone(), window)),
            Attach::Browser => None,
        };
        drop(queues);
        if let Some(burial) = burial {
            burial.bury();
        }
        Ok(queue)
    }

    /// Subscribes to a topic pattern, a queue or a durable subscription: authorize, insert.
    /// Returns the binding, and the store's ticket when a new durable subscription was stored.
    pub(crate) fn subscribe(
        &self,
        principal: &Principal,
        routes: &RouteCache,
        pattern: &Destination,
        kind: Subscribe,
        subscriber: &Arc<Subscriber>,
        window: usize,
    ) -> Result<(Binding, Option<Ticket>), ProtocolError> {
        let resource = Resource::Destination(pattern);
        match (pattern.kind(), kind) {
            (Kind::Topic, Subscribe::Durable(name)) => {
                self.authorize(principal, Operation::Receive, resource)?;
                let (queue, ticket) = self.durable(principal, &name, pattern, subscriber.selector.clone())?;
                queue.add_consumer(subscriber.clone(), window).bury();
                Ok((Binding::Queue(queue), ticket))
            }
            (Kind::Topic, _) => {
                self.authorize(principal, Operation::Receive, resource)?;
                let topic = match pattern.is_wildcard() {
                    true => None,
                    false => Some(self.topic(principal, pattern)?),
                };
                let began = self.topics.subscribe(pattern, subscriber.clone());
                self.interest(pattern, began);
                let env = self.env();
                self.topics.replay_retained(pattern, subscriber, self.config.clock.now_ms(), &env.memory);
                Ok((Binding::Topic { pattern: pattern.clone(), _topic: topic }, None))
            }
            (Kind::Queue, Subscribe::Browse { keep_open }) => {
                self.authorize(principal, Operation::Receive, resource)?;
                let queue = self.queue(principal, &routes.created, pattern, Attach::Browser)?;
                queue.browse(subscriber, keep_open, self.next_id());
                Ok((Binding::Browse(queue), None))
            }
            (Kind::Queue, _) => {
                self.authorize(principal, Operation::Consume, resource)?;
                let queue = self.queue(principal, &routes.created, pattern, Attach::Consumer(subscriber, window))?;
                self.consumers_changed(&queue);
                Ok((Binding::Queue(queue), None))
            }
            (Kind::Durable, _) => {
                self.authorize(principal, Operation::Consume, resource)?;
                let queue = self
                    .directory
                    .find(pattern.as_str())
                    .ok_or_else(|| ProtocolError::NoSuchDurable(pattern.name().to_owned()))?;
                queue.add_consumer(subscriber.clone(), window).bury();
                Ok((Binding::Queue(queue), None))
            }
        }
    }

    /// Ends a subscription: a topic forgets it, a queue takes its unacknowledged messages back,
    /// a browser stops.
    pub(crate) fn unsubscribe(&self, binding: &Binding, subscriber: &Arc<Subscriber>) {
        subscriber.deactivate();
        match binding {
            Binding::Topic { pattern, .. } => {
                let ended = self.topics.unsubscribe(pattern, subscriber);
                self.interest(pattern, ended);
            }
            Binding::Queue(queue) => {
                queue.remove_consumer(subscriber);
                self.consumers_changed(queue);
            }
            Binding::Browse(queue) => queue.remove_browser(subscriber),
        }
    }

    /// The topics.
    pub(crate) fn topics(&self) -> &Topics {
        &self.topics
    }

    /// The queue (or durable subscription) of a destination name, if it exists.
    pub(crate) fn find_queue(&self, name: &str) -> Option<Arc<Queue>> {
        self.directory.find(name)
    }

    /// Every queue and durable subscription, copied out under the lock.
    pub(crate) fn queues(&self) -> Vec<Arc<Queue>> {
        self.directory.all()
    }
}

/// Sets header `name` to the sender's user name, replacing whatever the sender put there (and
/// leaving it out for an anonymous sender), so receivers can trust it.
fn stamp_sender(headers: &mut Vec<(String, String)>, name: &str, principal: &Principal) {
    headers.retain(|(header, _)| header != name);
    if let Some(user) = &principal.user {
        headers.push((name.to_owned(), user.to_string()));
    }
}

/// The destinations of a composite destination (`/queue/a,/topic/b`; Apollo's and ActiveMQ's),
/// or the one of a plain one.
pub(crate) fn composite(text: &str) -> impl Iterator<Item = &str> {
    text.split(',')
}

/// A SEND's `ttl` (Apollo's: ms from arrival until it expires); `None` without one, or `0`.
fn time_to_live(frame: &Frame) -> Result<Option<u64>, ProtocolError> {
    let Some(value) = frame.header(header::TTL) else { return Ok(None) };
    let ttl: u64 = value.trim().parse().map_err(|_| ProtocolError::BadTtl(value.to_owned()))?;
    Ok(Some(ttl).filter(|&ttl| ttl > 0))
}

/// Sets `expires` to `at_ms` (ms since the epoch), replacing the sender's.
fn stamp_expiry(headers: &mut Vec<(String, String)>, at_ms: u64) {
    headers.retain(|(header, _)| header != header::EXPIRES);
    headers.push((header::EXPIRES.to_owned(), at_ms.to_string()));
}

/// A SEND's `destination` header.
fn required_destination(frame: &Frame) -> Result<&str, ProtocolError> {
    frame
        .header(header::DESTINATION)
        .ok_or(ProtocolError::MissingHeader { command: frame.command.as_str(), header: header::DESTINATION })
}
