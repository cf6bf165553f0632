//! The router: the one path every publish and every subscription takes.
//!
//! [`Router::publish`] receives the principal, the SEND frame (its destination and message) and
//! the session's [`RouteCache`], and runs, in this order: resolve the destination and authorize
//! `send` (and `create` for a destination that does not exist yet), then deliver: fan out to a
//! topic's subscribers, or enqueue on a queue. The persistent store and the cluster bridge will
//! be called here, between authorization and delivery and after delivery; no other file fans
//! out or enqueues. [`Router::subscribe`] authorizes `receive` (topics) or `consume` (queues),
//! and `create`, then inserts the subscription. A wildcard topic subscription is allowed when
//! some of what it matches may be received; the topics filter its deliveries one destination at
//! a time. With `add_user_header`, the message is stamped with its sender here, once.
//!
//! Decisions are cached: each session keeps the routes of its recent SEND destinations, already
//! authorized, and drops them all when the authorizer's version moves. A repeated SEND costs one
//! hash lookup, no rule walk and no shared lock but the destination's own.
//!
//! Lock order: the queue map, then a queue; the topic trie, then a topic's cache; then outboxes.
//! No two of the map locks are held at once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::time::Instant;

use super::admin::QueueError;
use super::config::{BrokerConfig, QueueFullPolicy};
use super::delivery::Subscriber;
use super::error::ProtocolError;
use super::memory::Memory;
use super::message::Message;
use super::outbox::Pressure;
use super::queue::{Environment, Queue};
use super::registry::ConnectionInfo;
use super::stats::{DestinationStats, Stats};
use super::topic::{Topic, Topics};
use crate::auth::{Operation, Principal, Resource};
use crate::destination::{Destination, Kind};
use crate::frame::{header, Frame};

/// Most destinations one session keeps routes for (the cache is cleared when full).
const ROUTE_CACHE: usize = 64;

/// Where publishes and subscriptions go. See the module docs.
#[derive(Debug)]
pub(crate) struct Router {
    config: BrokerConfig,
    topics: Topics,
    queues: Mutex<HashMap<Arc<str>, Arc<Queue>>>,
    env: Environment,
    next_id: AtomicU64,
}

/// What a publish came to.
#[derive(Debug)]
pub(crate) enum Published {
    /// Delivered or enqueued.
    Done,
    /// Delivered, and a subscriber is past its high-water mark: the publisher waits for
    /// [`Pressure::relieved`] before it reads more.
    Paced(Pressure),
    /// A full queue holds the message back ([`QueueFullPolicy::Block`]).
    Held(Held),
}

/// Whether a publish may wait for room in a full queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    /// A full queue holds the message back ([`QueueFullPolicy::Block`]) or refuses it.
    Bounded,
    /// Enqueue even past the limits (a committed transaction, bounded by its own cap).
    Forced,
}

/// A message held back by a full queue, already routed: [`Router::resume`] enqueues it.
#[derive(Debug)]
pub(crate) struct Held {
    pub(crate) queue: Arc<Queue>,
    pub(crate) message: Arc<Message>,
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

/// A resolved and authorized SEND destination. While it is cached, its session counts as one of
/// the destination's producers (counted when it was resolved, given back when it is dropped).
#[derive(Debug)]
struct Route {
    target: Target,
}

impl Drop for Route {
    fn drop(&mut self) {
        self.target.counters().producers.fetch_sub(1, Ordering::Relaxed);
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
}

/// A subscription's place in the router, kept by the session to end it.
#[derive(Debug)]
pub(crate) enum Binding {
    /// A topic pattern; `_topic` holds the entry of a subscription by name, so the topic is
    /// kept (and listed) while the subscription lives.
    Topic { pattern: Destination, _topic: Option<Arc<Topic>> },
    /// A queue.
    Queue(Arc<Queue>),
}

impl Router {
    pub(crate) fn new(config: BrokerConfig, stats: Arc<Stats>, memory: Arc<Memory>) -> Router {
        let env = Environment { stats, memory, clock: config.clock.clone() };
        let topics = Topics::new(config.authorizer.clone());
        Router { config, topics, queues: Mutex::default(), env, next_id: AtomicU64::new(1) }
    }

    /// The configuration.
    pub(crate) fn config(&self) -> &BrokerConfig {
        &self.config
    }

    /// A fresh id, unique for the broker's lifetime (sessions and messages share the sequence).
    pub(crate) fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
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
        subscriptions.into_iter().find_map(|subscription| {
            let pattern = Destination::parse_pattern(&subscription.destination).ok()?;
            let operation = match pattern.kind() {
                Kind::Topic => Operation::Receive,
                Kind::Queue => Operation::Consume,
            };
            self.authorize(principal, operation, Resource::Destination(&pattern)).err().map(|refused| match refused {
                ProtocolError::AccessDenied { user, operation, resource } => ProtocolError::AccessDenied {
                    user,
                    operation,
                    resource: format!("{resource} (subscription {})", subscription.id),
                },
                other => other,
            })
        })
    }

    /// Publishes one SEND: authorize, then deliver. See [`Published`].
    pub(crate) fn publish(
        &self,
        principal: &Principal,
        routes: &mut RouteCache,
        frame: Frame,
        admission: Admission,
    ) -> Result<Published, ProtocolError> {
        let target = self.route(principal, routes, required_destination(&frame)?)?.target.clone();
        let destination = target.destination().shared().clone();
        let mut headers = frame.headers;
        if let Some(name) = &self.config.add_user_header {
            stamp_sender(&mut headers, name, principal);
        }
        let message =
            Arc::new(Message::new(self.next_id(), destination, headers, frame.body, target.counters().clone()));
        match target {
            Target::Topic(topic) => {
                let stats = &self.env.stats;
                Stats::bump(&stats.messages_in);
                Stats::bump(&topic.counters().enqueued);
                if message.expires() && message.is_expired_at(self.config.clock.now_ms()) {
                    Stats::bump(&stats.expired);
                    Stats::bump(&topic.counters().expired);
                    return Ok(Published::Done);
                }
                if let Some(pressure) = self.topics.fan_out(&topic, &message, &self.env.memory) {
                    return Ok(Published::Paced(pressure));
                }
            }
            Target::Queue(queue) => {
                if admission == Admission::Forced {
                    queue.force(message);
                } else if let Err(full) = queue.offer(message) {
                    return match queue.when_full() {
                        QueueFullPolicy::Block => Ok(Published::Held(Held { queue, message: full.message })),
                        QueueFullPolicy::Error => {
                            Err(ProtocolError::QueueFull(queue.destination().as_str().to_owned()))
                        }
                    };
                }
                Stats::bump(&self.env.stats.messages_in);
            }
        }
        Ok(Published::Done)
    }

    /// Tries a held-back message again: `Err` gives it back while its queue is still full.
    pub(crate) fn resume(&self, held: Held) -> Result<(), Held> {
        match held.queue.offer(held.message) {
            Ok(()) => {
                Stats::bump(&self.env.stats.messages_in);
                Ok(())
            }
            Err(full) => Err(Held { message: full.message, ..held }),
        }
    }

    /// Checks that a SEND could be published (its destination resolves and `send` is allowed)
    /// without publishing it: for a SEND buffered in a transaction.
    pub(crate) fn check_send(
        &self,
        principal: &Principal,
        routes: &mut RouteCache,
        frame: &Frame,
    ) -> Result<(), ProtocolError> {
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
            let destination = Destination::parse(text)?;
            self.authorize(principal, Operation::Send, Resource::Destination(&destination))?;
            let target = self.target(principal, &routes.created, &destination)?;
            routes.routes.insert(text.into(), Route { target });
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
        let mut queues = self.queues.lock();
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
                let policy = self.config.queues.for_queue(destination.segments());
                let queue = Arc::new(Queue::new(destination.clone(), policy, created.clone(), self.env.clone()));
                queues.insert(destination.shared().clone(), queue.clone());
                queue
            }
        };
        match attach {
            Attach::Producer => Stats::bump(&queue.counters().producers),
            Attach::Consumer(subscriber, window) => queue.add_consumer(subscriber.clone(), window),
        }
        Ok(queue)
    }

    /// Removes the queues that nobody has used (no producer, consumer or message) for `grace`,
    /// and returns how many.
    pub(crate) fn delete_unused_queues(&self, now: Instant, grace: Duration) -> usize {
        let mut queues = self.queues.lock();
        let before = queues.len();
        queues.retain(|_, queue| queue.idle_for(now) < grace);
        let deleted = before - queues.len();
        Stats::add(&self.env.stats.queues_deleted, deleted as u64);
        deleted
    }

    /// Deletes a queue nobody uses, with its messages (which it returns the count of). The
    /// check and the removal happen under the queue map's lock, where producers and consumers
    /// attach, so none can attach in between.
    pub(crate) fn delete_queue(&self, name: &str) -> Result<usize, QueueError> {
        let mut queues = self.queues.lock();
        let queue = queues.get(name).ok_or_else(|| QueueError::NoSuchQueue(name.to_owned()))?;
        let purged = queue.purge_unused().map_err(|(consumers, producers)| QueueError::InUse {
            queue: name.to_owned(),
            consumers,
            producers,
        })?;
        queues.remove(name);
        Ok(purged)
    }

    /// Subscribes to a topic pattern or a queue: authorize, insert.
    pub(crate) fn subscribe(
        &self,
        principal: &Principal,
        routes: &RouteCache,
        pattern: &Destination,
        subscriber: &Arc<Subscriber>,
        window: usize,
    ) -> Result<Binding, ProtocolError> {
        let resource = Resource::Destination(pattern);
        match pattern.kind() {
            Kind::Topic => {
                self.authorize(principal, Operation::Receive, resource)?;
                let topic = match pattern.is_wildcard() {
                    true => None,
                    false => Some(self.topic(principal, pattern)?),
                };
                self.topics.subscribe(pattern, subscriber.clone());
                Ok(Binding::Topic { pattern: pattern.clone(), _topic: topic })
            }
            Kind::Queue => {
                self.authorize(principal, Operation::Consume, resource)?;
                let queue = self.queue(principal, &routes.created, pattern, Attach::Consumer(subscriber, window))?;
                Ok(Binding::Queue(queue))
            }
        }
    }

    /// Ends a subscription: a topic forgets it, a queue takes its unacknowledged messages back.
    pub(crate) fn unsubscribe(&self, binding: &Binding, subscriber: &Arc<Subscriber>) {
        subscriber.deactivate();
        match binding {
            Binding::Topic { pattern, .. } => self.topics.unsubscribe(pattern, subscriber),
            Binding::Queue(queue) => queue.remove_consumer(subscriber),
        }
    }

    /// The topics.
    pub(crate) fn topics(&self) -> &Topics {
        &self.topics
    }

    /// The queue of a destination name, if it exists.
    pub(crate) fn find_queue(&self, name: &str) -> Option<Arc<Queue>> {
        self.queues.lock().get(name).cloned()
    }

    /// Every queue, copied out under the lock.
    pub(crate) fn queues(&self) -> Vec<Arc<Queue>> {
        self.queues.lock().values().cloned().collect()
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

/// A SEND's `destination` header.
fn required_destination(frame: &Frame) -> Result<&str, ProtocolError> {
    frame
        .header(header::DESTINATION)
        .ok_or(ProtocolError::MissingHeader { command: frame.command.as_str(), header: header::DESTINATION })
}
