//! The router: the one path every publish and every subscription takes.
//!
//! [`Router::publish`] receives the principal, the SEND frame (its destination and message) and
//! the session's [`RouteCache`], and runs, in this order: resolve the destination and authorize
//! `send` (and `create` for a destination that does not exist yet), admit a persistent message
//! (the store refuses it when failed or full), then deliver: fan out to a topic's subscribers and
//! durable subscriptions, or enqueue on a queue. The store is a subscriber, not a branch: each
//! queue and durable subscription stores the persistent messages it takes, and publish returns
//! the store's [`Ticket`] for the RECEIPT to wait on. The cluster bridge, when one is attached, is
//! the last subscriber of a topic: it gets the message after local delivery (see `cluster`); in
//! cluster mode a queue SEND goes to the bridge instead of the local queue, so does a topic
//! message for each durable subscription that collects it (before local delivery), and the
//! RECEIPT waits for the cluster's confirmation. That path is `publish`; no other file fans out
//! or enqueues. [`Router::subscribe`] authorizes `receive` (topics) or `consume` (queues), and
//! `create`, then inserts the subscription: a plain one, a durable one (told to the bridge in
//! cluster mode), or a browser. `lifecycle` makes and deletes durable subscriptions and
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
use super::config::BrokerConfig;
use super::delivery::Subscriber;
use super::directory::{Directory, Environment};
use super::error::ProtocolError;
use super::memory::Memory;
use super::queue::Queue;
use super::registry::ConnectionInfo;
use super::stats::{DestinationStats, Stats};
use super::topic::{Topic, Topics};
use crate::auth::{Operation, Principal, Resource};
use crate::destination::{Destination, Kind};
use crate::frame::{header, Frame};
use crate::store::{Store, Ticket};

mod lifecycle;
mod publish;
mod recovery;

use publish::time_to_live;
pub(crate) use publish::{Admission, Held, Published};

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

/// What a subscription came to: its binding, the store's ticket when a new durable
/// subscription was stored, and in cluster mode the cluster's confirmation that it knows the
/// durable subscription; a RECEIPT waits for both.
#[derive(Debug)]
pub(crate) struct Subscribed {
    pub(crate) binding: Binding,
    pub(crate) ticket: Option<Ticket>,
    pub(crate) confirmation: Option<Confirmation>,
}

impl Subscribed {
    /// A subscription with nothing to wait for.
    fn bound(binding: Binding) -> Subscribed {
        Subscribed { binding, ticket: None, confirmation: None }
    }
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

    /// Tells the bridge that the local consumers of a queue (or durable subscription) changed:
    /// in cluster mode the cluster holds its messages.
    fn consumers_changed(&self, queue: &Queue) {
        if let Some(bridge) = self.bridge() {
            bridge.consumers_changed(queue.destination().as_str());
        }
    }

    /// Tells the bridge that a client (`owner`; none when it deleted it) made, replaced or
    /// deleted the durable subscription `name`; returns the confirmation its RECEIPT waits for,
    /// in cluster mode.
    pub(crate) fn durable_changed(
        &self,
        name: &str,
        owner: Option<&Principal>,
    ) -> Result<Option<Confirmation>, ProtocolError> {
        let Some(bridge) = self.bridge() else { return Ok(None) };
        bridge.durable_changed(name, owner).map(Some).map_err(ProtocolError::Cluster)
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
    /// See [`Subscribed`].
    pub(crate) fn subscribe(
        &self,
        principal: &Principal,
        routes: &RouteCache,
        pattern: &Destination,
        kind: Subscribe,
        subscriber: &Arc<Subscriber>,
        window: usize,
    ) -> Result<Subscribed, ProtocolError> {
        let resource = Resource::Destination(pattern);
        match (pattern.kind(), kind) {
            (Kind::Topic, Subscribe::Durable(name)) => {
                self.authorize(principal, Operation::Receive, resource)?;
                let (queue, ticket) = self.durable(Some(principal), &name, pattern, subscriber.selector.clone())?;
                let confirmation = self.durable_changed(&name, Some(principal))?;
                queue.add_consumer(subscriber.clone(), window).bury();
                self.consumers_changed(&queue);
                Ok(Subscribed { binding: Binding::Queue(queue), ticket, confirmation })
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
                Ok(Subscribed::bound(Binding::Topic { pattern: pattern.clone(), _topic: topic }))
            }
            (Kind::Queue, Subscribe::Browse { keep_open }) => {
                self.authorize(principal, Operation::Receive, resource)?;
                let queue = self.queue(principal, &routes.created, pattern, Attach::Browser)?;
                queue.browse(subscriber, keep_open, self.next_id());
                Ok(Subscribed::bound(Binding::Browse(queue)))
            }
            (Kind::Queue, _) => {
                self.authorize(principal, Operation::Consume, resource)?;
                let queue = self.queue(principal, &routes.created, pattern, Attach::Consumer(subscriber, window))?;
                self.consumers_changed(&queue);
                Ok(Subscribed::bound(Binding::Queue(queue)))
            }
            (Kind::Durable, _) => {
                self.authorize(principal, Operation::Consume, resource)?;
                let queue = self
                    .directory
                    .find(pattern.as_str())
                    .ok_or_else(|| ProtocolError::NoSuchDurable(pattern.name().to_owned()))?;
                queue.add_consumer(subscriber.clone(), window).bury();
                self.consumers_changed(&queue);
                Ok(Subscribed::bound(Binding::Queue(queue)))
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

/// The destinations of a composite destination (`/queue/a,/topic/b`; Apollo's and ActiveMQ's),
/// or the one of a plain one.
pub(crate) fn composite(text: &str) -> impl Iterator<Item = &str> {
    text.split(',')
}

/// A SEND's `destination` header.
fn required_destination(frame: &Frame) -> Result<&str, ProtocolError> {
    frame
        .header(header::DESTINATION)
        .ok_or(ProtocolError::MissingHeader { command: frame.command.as_str(), header: header::DESTINATION })
}
