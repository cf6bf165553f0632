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
//! Queues (not durable subscriptions) are the cluster's in cluster mode: the router hands a SEND
//! to a queue to [`Bridge::enqueue`] instead of the local queue, and tells the bridge when the
//! local consumers of a queue change; the bridge takes messages from the cluster's queue as long
//! as they have room ([`Broker::queue_room`]) and hands them to the local queue with
//! [`Broker::deliver_to_queue_from_cluster`], each with its [`Claim`].
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
use super::message::Message;
use super::pressure::Pressure;
use super::retained::Retain;
use super::stats::Stats;
use super::Broker;
use crate::destination::{Destination, Kind};
use crate::frame::header;

/// Where the router sends what other nodes must know. See the module docs.
pub trait Bridge: Send + Sync + fmt::Debug {
    /// A local client published `message` to a topic; it was delivered locally already. Returns
    /// the pressure to pace the publisher to while the bridge's backlog is past its high-water
    /// mark (see `pressure`); the bridge drops (and counts) only what it has no room for.
    fn publish(&self, message: &Arc<Message>) -> Option<Pressure>;

    /// Local interest in the topic `pattern` began (the first subscription to it) or ended
    /// (the last one left): [`Broker::has_topic_interest`] tells which, when the bridge gets to it.
    fn interest_changed(&self, pattern: &str);

    /// A local client sent `message` to a queue: the bridge hands it to the cluster's queue
    /// instead of the local one. The confirmation resolves once the cluster stored it; `Err`
    /// says why the bridge cannot take it now.
    fn enqueue(&self, message: &Arc<Message>) -> Result<Confirmation, String>;

    /// The local consumers of the queue `destination` changed (one came, one left, or one got
    /// room): [`Broker::queue_room`] tells how many messages they can take.
    fn consumers_changed(&self, destination: &str);

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
    /// Queues this node takes messages from the cluster for (it has consumers of them).
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
}

impl Broker {
    /// Attaches the cluster bridge (once; a second call is ignored), and tells it about every
    /// pattern with local interest already (durable subscriptions read back from the store).
    pub fn attach_bridge(&self, bridge: Arc<dyn Bridge>) {
        let router = &self.shared.router;
        if router.set_bridge(bridge.clone()) {
            for pattern in router.topics().patterns() {
                bridge.interest_changed(&pattern);
            }
        }
    }

    /// Whether any local subscription (durable ones included) uses the topic `pattern`.
    pub fn has_topic_interest(&self, pattern: &str) -> bool {
        self.shared.router.topics().has_interest(pattern)
    }

    /// The bridge's state, when the broker is part of a cluster.
    pub fn cluster_snapshot(&self) -> Option<ClusterSnapshot> {
        self.shared.router.bridge().map(|bridge| bridge.snapshot())
    }

    /// How many local consumers the queue `destination` has (none for a durable subscription).
    pub fn queue_consumers(&self, destination: &str) -> usize {
        let queue = self.shared.router.find_queue(destination).filter(|queue| !queue.is_durable());
        queue.map_or(0, |queue| queue.figures().consumers)
    }

    /// How many messages the local consumers of the queue `destination` can take now.
    pub fn queue_room(&self, destination: &str) -> usize {
        self.shared.router.find_queue(destination).map_or(0, |queue| queue.room())
    }

    /// Hands a message of the cluster's queue to the local queue `destination`, which settles
    /// `claim` when done with it. The message was delivered `deliveries` times before.
    pub fn deliver_to_queue_from_cluster(
        &self,
        destination: &str,
        headers: Vec<(String, String)>,
        body: Bytes,
        claim: Arc<dyn Claim>,
        deliveries: u32,
    ) -> Result<(), RemoteError> {
        let router = &self.shared.router;
        let Some(queue) = router.find_queue(destination).filter(|queue| !queue.is_durable()) else {
            claim.release();
            return Err(RemoteError::NoConsumers(destination.to_owned()));
        };
        let (id, shared) = (router.next_id(), queue.destination().shared().clone());
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
        router.topics().fan_out(&topic, &message, &self.shared.memory);
        Ok(())
    }
}
