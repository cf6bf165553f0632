//! [`Broker::snapshot`]: a read-only view of the broker for the console and metrics.
//!
//! The snapshot is plain serde data, no HTTP. It copies the registry's and the router's lists
//! under their locks, reads each entry's counters without any lock, and sorts after every lock
//! is released, so taking one never stalls publishers for longer than a list copy. Its parts can
//! be taken alone ([`Broker::connections`], [`Broker::destinations`], ...) when a caller needs
//! only one.

use serde::Serialize;

use super::cluster::ClusterSnapshot;
use super::stats::{read, StatsSnapshot};
use super::Broker;
use crate::destination::Kind;
use crate::store::StoreSnapshot;

/// The whole view.
#[derive(Debug, Clone, Serialize)]
pub struct Snapshot {
    /// When it was taken, ms since the epoch.
    pub taken_at_ms: u64,
    /// When the broker started, ms since the epoch.
    pub started_at_ms: u64,
    /// The broker-wide counters.
    pub stats: StatsSnapshot,
    /// The bytes held for messages against the memory bound.
    pub memory: MemorySnapshot,
    /// The message store (`None`: persistence is off).
    pub store: Option<StoreSnapshot>,
    /// The cluster bridge (`None`: a single node).
    pub cluster: Option<ClusterSnapshot>,
    /// Live connections, by id.
    pub connections: Vec<ConnectionSnapshot>,
    /// Topics and queues, by name.
    pub destinations: Vec<DestinationSnapshot>,
    /// Recently closed connections (a bounded ring), oldest first.
    pub closed: Vec<ClosedConnection>,
}

/// The memory bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MemorySnapshot {
    /// Bytes held for messages now.
    pub held: u64,
    /// The high watermark, in bytes.
    pub high_watermark: u64,
    /// Whether publishers are held back now.
    pub over: bool,
    /// How many times the high watermark was passed.
    pub crossings: u64,
}

/// One connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConnectionSnapshot {
    /// The broker's id for it.
    pub id: u64,
    /// The `session` sent in CONNECTED.
    pub session: String,
    /// The logged-in user (`None`: anonymous, or not connected yet).
    pub user: Option<String>,
    /// The peer's address.
    pub peer: Option<String>,
    /// The listener's name.
    pub listener: String,
    /// The listener's kind (`tcp`, `tls`, `ws`, `wss`).
    pub kind: String,
    /// The negotiated STOMP version, once connected.
    pub version: Option<&'static str>,
    /// When it was opened, ms since the epoch.
    pub connected_since_ms: u64,
    /// SEND frames accepted from it.
    pub messages_in: u64,
    /// MESSAGE frames written to it.
    pub messages_out: u64,
    /// Bytes read from it.
    pub bytes_in: u64,
    /// Bytes written to it.
    pub bytes_out: u64,
    /// Its subscriptions, in the order they were made.
    pub subscriptions: Vec<SubscriptionSnapshot>,
    /// Why the broker is not reading it now, if it is not: a full queue, a slow subscriber it
    /// publishes to, or the memory bound.
    pub held_by: Option<String>,
}

/// One subscription of a connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubscriptionSnapshot {
    /// The subscription id.
    pub id: String,
    /// The destination or pattern.
    pub destination: String,
    /// `auto`, `client` or `client-individual`.
    pub ack: &'static str,
}

/// One topic or queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DestinationSnapshot {
    /// `/topic/NAME` or `/queue/NAME`.
    pub destination: String,
    /// `topic`, `queue` or `dsub` (a durable subscription).
    pub kind: &'static str,
    /// Connections publishing to it.
    pub producers: u64,
    /// Subscriptions receiving from it (for a topic, wildcard ones that match included).
    pub consumers: u64,
    /// Messages accepted for it.
    pub enqueued: u64,
    /// Messages handed out (topic: deliveries to subscribers; queue: acknowledged).
    pub dequeued: u64,
    /// Messages waiting or unacknowledged (queues).
    pub depth: u64,
    /// Bytes those hold (queues).
    pub bytes: u64,
    /// Messages lost to slow subscribers.
    pub dropped: u64,
    /// Messages that expired.
    pub expired: u64,
}

/// A connection that has closed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClosedConnection {
    /// The connection as it was when it closed.
    pub connection: ConnectionSnapshot,
    /// When it closed, ms since the epoch.
    pub closed_at_ms: u64,
    /// Why, in words.
    pub reason: String,
    /// Why, as the counter it was counted under.
    pub kind: &'static str,
}

impl Broker {
    /// A snapshot of the broker's state. See the module docs.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            taken_at_ms: self.config().clock.now_ms(),
            started_at_ms: self.started_at_ms(),
            stats: self.stats(),
            memory: self.memory_snapshot(),
            store: self.store().map(|store| store.snapshot()),
            cluster: self.cluster_snapshot(),
            connections: self.connections(),
            destinations: self.destinations(),
            closed: self.closed_connections(),
        }
    }

    /// The memory bound's figures.
    pub fn memory_snapshot(&self) -> MemorySnapshot {
        let memory = &self.shared.memory;
        MemorySnapshot {
            held: memory.held() as u64,
            high_watermark: memory.high_watermark() as u64,
            over: memory.is_over(),
            crossings: memory.crossings(),
        }
    }

    /// The live connections, by id.
    pub fn connections(&self) -> Vec<ConnectionSnapshot> {
        let mut connections: Vec<ConnectionSnapshot> =
            self.shared.registry.live().iter().map(|info| info.snapshot()).collect();
        connections.sort_unstable_by_key(|c| c.id);
        connections
    }

    /// One live connection.
    pub fn connection(&self, id: u64) -> Option<ConnectionSnapshot> {
        self.shared.registry.get(id).map(|info| info.snapshot())
    }

    /// The recently closed connections (a bounded ring), oldest first.
    pub fn closed_connections(&self) -> Vec<ClosedConnection> {
        self.shared.registry.closed()
    }

    /// The topics and queues, by name.
    pub fn destinations(&self) -> Vec<DestinationSnapshot> {
        let mut destinations = self.destination_rows();
        destinations.sort_unstable_by(|a, b| a.destination.cmp(&b.destination));
        destinations
    }

    fn destination_rows(&self) -> Vec<DestinationSnapshot> {
        let router = &self.shared.router;
        let topics = router.topics();
        let topic_rows = topics.known().into_iter().map(|topic| {
            let counters = topic.counters();
            DestinationSnapshot {
                destination: topic.destination().as_str().to_owned(),
                kind: kind_name(Kind::Topic),
                producers: read(&counters.producers),
                consumers: topics.subscriber_count(&topic) as u64,
                enqueued: read(&counters.enqueued),
                dequeued: read(&counters.dequeued),
                depth: 0,
                bytes: 0,
                dropped: read(&counters.dropped),
                expired: read(&counters.expired),
            }
        });
        let queue_rows = router.queues().into_iter().map(|queue| {
            let counters = queue.counters();
            let figures = queue.figures();
            DestinationSnapshot {
                destination: queue.destination().as_str().to_owned(),
                kind: kind_name(queue.destination().kind()),
                producers: read(&counters.producers),
                consumers: figures.consumers as u64,
                enqueued: read(&counters.enqueued),
                dequeued: read(&counters.dequeued),
                depth: figures.depth as u64,
                bytes: figures.bytes as u64,
                dropped: read(&counters.dropped),
                expired: read(&counters.expired),
            }
        });
        topic_rows.chain(queue_rows).collect()
    }
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Topic => "topic",
        Kind::Queue => "queue",
        Kind::Durable => "dsub",
    }
}
