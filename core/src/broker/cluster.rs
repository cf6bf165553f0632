//! The seam of the cluster bridge: what the router tells the bridge, and what the bridge hands
//! back.
//!
//! The engine knows nothing of NATS. A server in cluster mode attaches a [`Bridge`] with
//! [`Broker::attach_bridge`]; the router then gives it every topic message a local client
//! published (after local delivery) and every change of local interest in a topic pattern (the
//! first subscription to a pattern, and the last one leaving). What other nodes published comes
//! back through [`Broker::deliver_from_cluster`], which delivers locally and never calls the
//! bridge: a message crosses the bridge once, so nodes cannot echo each other (NATS's route
//! check `c.kind != ROUTER`).
//!
//! Queues and durable subscriptions are the cluster's in cluster mode: the router hands a SEND
//! to a queue to [`Bridge::enqueue`] instead of the local queue, and a topic message to each
//! durable subscription that collects it (every node knows every durable subscription: a client
//! making, replacing or deleting one is told to the bridge with [`Bridge::durable_changed`], and
//! other nodes' come back through [`Broker::durable_from_cluster`]). The router tells the bridge
//! when the local consumers of a queue or durable subscription change; the bridge takes messages
//! from the cluster as long as they have room ([`Broker::queue_room`]) and hands them to the
//! local queue with [`Broker::deliver_to_queue_from_cluster`], each with its [`Claim`].
//!
//! Calls into the bridge are made with no lock of the engine held that a bridge could need, and
//! must not block: a bridge queues the work for its own task. A bridge falling behind paces
//! the producers instead, as a slow subscriber does: [`Bridge::publish`] hands back a
//! [`Pressure`] the publisher's connection waits for.

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use serde::Serialize;

use super::claim::{Claim, Confirmation};
use super::error::ProtocolError;
use super::message::Message;
use super::pressure::Pressure;
use super::retained::Retain;
use super::stats::Stats;
use super::Broker;
use crate::auth::Principal;
use crate::destination::{Destination, Kind, DURABLE_PREFIX};
use crate::frame::header;
use crate::selector::Selector;
use crate::store::CatalogEntry;

/// Where the router sends what other nodes must know. See the module docs.
pub trait Bridge: Send + Sync + fmt::Debug {
    /// A local client published `message` to a topic; it was delivered locally already. Returns
    /// the pressure to pace the publisher to while the bridge's backlog is past its high-water
    /// mark (see `pressure`); the bridge drops (and counts) only what it has no room for.
    fn publish(&self, message: &Arc<Message>) -> Option<Pressure>;

    /// Local interest in the topic `pattern` began (the first subscription to it) or ended
    /// (the last one left): [`Broker::has_topic_interest`] tells which, when the bridge gets to it.
    fn interest_changed(&self, pattern: &str);

    /// A local client sent `message` to the queue `queue`, or to a topic the durable
    /// subscription `queue` (`/dsub/NAME`) collects: the bridge hands it to the cluster's queue
    /// instead of the local one. The confirmation resolves once the cluster stored it; `Err`
    /// says why the bridge cannot take it now.
    fn enqueue(&self, queue: &Destination, message: &Arc<Message>) -> Result<Confirmation, String>;

    /// The local consumers of the queue or durable subscription `destination` changed (one
    /// came, one left, or one got room): [`Broker::queue_room`] tells how many messages they
    /// can take.
    fn consumers_changed(&self, destination: &str);

    /// The temporary queue `destination` was deleted with the connection that owned it: the
    /// cluster forgets it and what it holds.
    fn temporary_deleted(&self, destination: &str);

    /// A local client made, replaced (or subscribed again to) or deleted the durable
    /// subscription `name`: [`Broker::durable_subscription`] tells what it is now, and `owner`
    /// is the client that subscribed (none for a deletion), whose `receive` rights filter what a
    /// wildcard one collects on every node. The confirmation resolves once the cluster knows.
    fn durable_changed(&self, name: &str, owner: Option<&Principal>) -> Result<Confirmation, String>;

    /// The bridge's state, for the snapshot and the console.
    fn snapshot(&self) -> ClusterSnapshot;
}

/// The cluster bridge as the snapshot shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClusterSnapshot {
    /// This node's name.
    pub node: String,
    /// `connected`, or `disconnected` while NATS cannot be reached (local delivery goes on).
    pub state: &'static str,
    /// When the state last changed, ms since the epoch.
    pub since_ms: u64,
    /// Why NATS was last unreachable, if it was.
    pub last_error: Option<String>,
    /// Topic subjects the node subscribes to in NATS (one per pattern with local interest).
    pub subscriptions: u64,
    /// Messages sent to other nodes.
    pub published: u64,
    /// Messages received from other nodes.
    pub received: u64,
    /// Messages that could not be sent to other nodes (the bridge's queue was full) or that came
    /// from them malformed.
    pub dropped: u64,
    /// Queues (and durable subscriptions) this node takes messages from the cluster for (it has
    /// consumers of them).
    pub queues: u64,
    /// Queue messages this node's clients sent into the cluster's queues (stored by NATS).
    pub queue_sent: u64,
    /// Queue messages this node took from the cluster's queues for its consumers.
    pub queue_received: u64,
}

/// Why a message from another node was not delivered.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RemoteError {
    /// Its destination is not a concrete topic.
    #[error("not a topic: {0}")]
    NotATopic(String),
    /// It asks a topic to keep nothing (no `retain:set` or `retain:remove`).
    #[error("not a retained message: {0}")]
    NotRetained(String),
    /// Its queue has no consumers on this node (any more).
    #[error("no local consumers of {0}")]
    NoConsumers(String),
    /// A durable subscription's definition this node cannot make.
    #[error("durable subscription {name}: {why}")]
    BadDurable {
        /// Its name.
        name: String,
        /// Why not.
        why: String,
    },
}

/// A durable subscription as every node of a cluster knows it: the topic pattern it collects
/// and the selector it collects with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct DurableSubscription {
    /// `/topic/PATTERN`.
    pub pattern: String,
    /// The SUBSCRIBE's `selector`, if it had one.
    pub selector: Option<String>,
}

impl Broker {
    /// Attaches the cluster bridge (once; a second call is ignored), and tells it about every
    /// pattern with local interest already.
    pub fn attach_bridge(&self, bridge: Arc<dyn Bridge>) {
        let router = &self.shared.router;
        if router.set_bridge(bridge.clone()) {
            for pattern in router.topics().patterns() {
                bridge.interest_changed(&pattern);
            }
        }
    }

    /// Whether any live local subscription uses the topic `pattern` (durable subscriptions
    /// collect through the cluster's queues instead).
    pub fn has_topic_interest(&self, pattern: &str) -> bool {
        self.shared.router.topics().has_interest(pattern)
    }

    /// The bridge's state, when the broker is part of a cluster.
    pub fn cluster_snapshot(&self) -> Option<ClusterSnapshot> {
        self.shared.router.bridge().map(|bridge| bridge.snapshot())
    }

    /// How many local consumers the queue (or durable subscription) `destination` has.
    pub fn queue_consumers(&self, destination: &str) -> usize {
        let queue = self.shared.router.find_queue(destination);
        queue.map_or(0, |queue| queue.figures().consumers)
    }

    /// The durable subscription `name` (after `/dsub/`), if this node knows it.
    pub fn durable_subscription(&self, name: &str) -> Option<DurableSubscription> {
        let queue = self.shared.router.find_queue(&format!("{DURABLE_PREFIX}{name}"))?;
        match queue.entry() {
            CatalogEntry::Durable { pattern, selector, .. } => {
                Some(DurableSubscription { pattern: pattern.clone(), selector: selector.clone() })
            }
            _ => None,
        }
    }

    /// Makes, replaces (`Some`) or deletes (`None`) the durable subscription `name` as another
    /// node (or this one, in an earlier run) did; never calls the bridge. Making one that is
    /// known already, the same, changes nothing but whose `receive` rights filter what a wildcard
    /// one collects: `owner`'s, the client that last subscribed to it.
    pub fn durable_from_cluster(
        &self,
        name: &str,
        subscription: Option<DurableSubscription>,
        owner: Option<Principal>,
    ) -> Result<(), RemoteError> {
        let router = &self.shared.router;
        let invalid = |why: String| RemoteError::BadDurable { name: name.to_owned(), why };
        let Some(DurableSubscription { pattern, selector }) = subscription else {
            return match router.delete_durable(name) {
                Ok(_) | Err(ProtocolError::NoSuchDurable(_)) => Ok(()),
                Err(error) => Err(invalid(error.to_string())),
            };
        };
        let pattern = Destination::parse_pattern(&pattern).map_err(|e| invalid(e.to_string()))?;
        if pattern.kind() != Kind::Topic {
            return Err(invalid(format!("not a topic pattern: {}", pattern.as_str())));
        }
        let depth = self.config().limits.max_selector_depth;
        let selector = selector.map(|text| Selector::parse(&text, depth).map(Arc::new)).transpose();
        let selector = selector.map_err(|e| invalid(e.to_string()))?;
        router.durable(owner.as_ref(), name, &pattern, selector).map_err(|e| invalid(e.to_string()))?;
        Ok(())
    }

    /// How many messages the local consumers of the queue `destination` can take now.
    pub fn queue_room(&self, destination: &str) -> usize {
        self.shared.router.find_queue(destination).map_or(0, |queue| queue.room())
    }

    /// Hands a message of the cluster's queue to the local queue (or durable subscription)
    /// `queue`, which settles `claim` when done with it. The message was sent to `destination`
    /// (the queue, or a topic the durable subscription collects) and delivered `deliveries`
    /// times before.
    pub fn deliver_to_queue_from_cluster(
        &self,
        queue: &str,
        destination: &str,
        headers: Vec<(String, String)>,
        body: Bytes,
        claim: Arc<dyn Claim>,
        deliveries: u32,
    ) -> Result<(), RemoteError> {
        let router = &self.shared.router;
        let Some(queue) = router.find_queue(queue) else {
            claim.release();
            return Err(RemoteError::NoConsumers(queue.to_owned()));
        };
        let shared = match queue.destination().as_str() == destination {
            true => queue.destination().shared().clone(),
            false => match Destination::parse(destination) {
                Ok(topic) if topic.kind() == Kind::Topic && queue.is_durable() => topic.shared().clone(),
                _ => {
                    // Not for this queue: nobody here can take it.
                    claim.done();
                    return Err(RemoteError::NotATopic(destination.to_owned()));
                }
            },
        };
        let id = router.next_id();
        let message = Message::new(id, shared, headers, body, queue.counters().clone()).with_claim(claim);
        queue.take_from_cluster(Arc::new(message), deliveries);
        Ok(())
    }

    /// Keeps (`retain:set`) or forgets (`retain:remove`) a topic's retained message as another
    /// node (or this one, in an earlier run) asked: delivered to no one now, handed to the
    /// topic's new subscriptions from now on.
    pub fn retain_from_cluster(
        &self,
        destination: &str,
        headers: Vec<(String, String)>,
        body: Bytes,
    ) -> Result<(), RemoteError> {
        let topic = Destination::parse(destination).ok().filter(|d| d.kind() == Kind::Topic);
        let topic = topic.ok_or_else(|| RemoteError::NotATopic(destination.to_owned()))?;
        let retain = headers.iter().find(|(name, _)| name == header::RETAIN).map(|(_, value)| value.as_str());
        let retain = Retain::parse(retain).ok_or_else(|| RemoteError::NotRetained(destination.to_owned()))?;
        let router = &self.shared.router;
        let topic = router.topics().get_or_create(&topic);
        let id = router.next_id();
        let message = Message::new(id, topic.destination().shared().clone(), headers, body, topic.counters().clone());
        let name = topic.destination().as_str();
        topic.retained().update(retain, &Arc::new(message), name, router.store(), &self.shared.memory);
        Ok(())
    }

    /// Delivers a message another node published to a topic, to this node's subscribers only:
    /// access rules were applied on the publisher's node, and wildcard subscriptions here are
    /// filtered by their own `receive` rights as for a local message.
    pub fn deliver_from_cluster(
        &self,
        destination: &str,
        headers: Vec<(String, String)>,
        body: Bytes,
    ) -> Result<(), RemoteError> {
        let destination = Destination::parse(destination)
            .ok()
            .filter(|d| d.kind() == Kind::Topic)
            .ok_or_else(|| RemoteError::NotATopic(destination.to_owned()))?;
        let router = &self.shared.router;
        let topic = router.topics().get_or_create(&destination);
        let id = router.next_id();
        let message = Arc::new(Message::new(id, destination.shared().clone(), headers, body, topic.counters().clone()));
        Stats::bump(&topic.counters().enqueued);
        if message.expires() && message.is_expired_at(self.config().clock.now_ms()) {
            Stats::bump(&self.shared.stats.expired);
            Stats::bump(&topic.counters().expired);
            return Ok(());
        }
        // Pressure is not waited for: NATS does not wait for a slow node either, and the
        // subscribers' own slow-consumer policy bounds what they hold.
        router.topics().fan_out(&topic, &message, &self.shared.memory, false);
        Ok(())
    }
}
