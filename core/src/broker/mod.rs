//! The synchronous broker engine.
//!
//! A [`Broker`] holds the router (topics and queues), the registry of connections and the
//! counters; it is cheap to clone and shared by every connection. Each connection owns one
//! [`Session`], feeds it the frames it reads, and writes what the session answers plus whatever
//! its [`OutboxReceiver`] holds. Nothing here awaits or blocks: delivery is a push into the
//! subscriber's bounded outbox, so the engine is tested with plain `#[test]`s, without a runtime.
//!
//! Module map:
//! - [`config`](BrokerConfig): every limit and policy, as serde sections the server's file embeds;
//! - `session`: one connection's protocol state, one file per group of commands;
//! - `router`: the one path of every publish and subscription (authorization, delivery);
//! - `topic`, `queue`: fan-out and load-balancing (durable subscriptions are queues fed by a
//!   topic), redelivery limits, dead letters and browsing; `groups`: message groups; `directory`: the queue map and what
//!   every queue shares; `delivery`, `outbox`: the way to a socket;
//! - `message`: a published message, its body shared by every delivery; `retained`: a topic's
//!   retained message;
//! - `registry`, [`snapshot`](Snapshot): live connections and the read-only view of it all;
//! - `admin`: what an operator does through the management API (close, purge, delete);
//! - `stats`, `close`: counters, and why connections end; `error`: what a session answers with;
//! - `memory`: the broker-wide bound on bytes held for messages;
//! - `cluster`: the seam of the cluster bridge ([`Bridge`]): what other nodes must know, and
//!   delivery of what they publish;
//! - `clock`: the time `expires` is compared with.
//!
//! Lock order (a lock is only ever taken after those listed before it, and none is held across
//! an `.await`; there are none here):
//! 1. the queue map (`Router::queues`), or the topic trie (`Topics::inner`), never both;
//! 2. one queue's state, or one topic's subscriber cache;
//! 3. one outbox, or the store's queue of operations (never both).
//!
//! The registry's maps and a connection's subscription list are leaves: nothing is locked while
//! they are held. Locks are `parking_lot`'s, which do not poison: a panic elsewhere cannot turn
//! every later publish into a panic too.

mod admin;
mod claim;
mod clock;
mod close;
mod cluster;
mod config;
mod delivery;
mod directory;
mod error;
mod groups;
mod memory;
mod message;
mod outbox;
mod pressure;
mod queue;
mod registry;
mod retained;
mod router;
mod session;
mod snapshot;
mod stats;
mod topic;

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

pub use admin::QueueError;
pub use claim::{confirmation, Claim, Confirmation, Confirmer};
pub use clock::{Clock, ManualClock, SystemClock};
pub use close::{CloseKind, CloseReason};
pub use cluster::{Bridge, ClusterSnapshot, DurableSubscription, RemoteError};
pub use config::{
    BrokerConfig, DeadLetterPolicy, DeliveryConfig, HeartbeatConfig, Limits, MemoryConfig, QueueFullPolicy,
    QueueLimits, QueuePolicy, QueueRule, QueuesConfig, SlowConsumerPolicy, StoreConfig,
};
pub use error::{error_frame, frame_error_code, ProtocolError, SessionError};
pub use memory::{Amount, Memory};
pub use message::Message;
pub use outbox::{Closed, Drained, Outbox, OutboxReceiver};
pub use pressure::{Backlog, Pressure};
pub use registry::ConnectionMeta;
pub use session::{is_temporary_queue, Action, PendingSend, Session};
pub use snapshot::{
    ClosedConnection, ConnectionSnapshot, DestinationSnapshot, MemorySnapshot, Snapshot, SubscriptionSnapshot,
};
pub use stats::{ConnectionCounters, Stats, StatsSnapshot};

use crate::auth::Authenticator;
use crate::store::{Backend, Store, StoreError};
use registry::{ConnectionInfo, Registry};
use router::Router;

/// How a subscription acknowledges messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AckMode {
    /// Delivered is acknowledged.
    #[default]
    Auto,
    /// An ACK acknowledges that message and every earlier one of the subscription.
    Client,
    /// An ACK acknowledges that message only.
    ClientIndividual,
}

impl AckMode {
    /// Parses a SUBSCRIBE `ack` header.
    pub fn parse(value: &str) -> Option<AckMode> {
        match value {
            "auto" => Some(AckMode::Auto),
            "client" => Some(AckMode::Client),
            "client-individual" => Some(AckMode::ClientIndividual),
            _ => None,
        }
    }

    /// The header spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            AckMode::Auto => "auto",
            AckMode::Client => "client",
            AckMode::ClientIndividual => "client-individual",
        }
    }
}

/// The broker: cheap to clone, shared by every connection.
#[derive(Clone, Debug)]
pub struct Broker {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    router: Router,
    registry: Registry,
    /// Distinguishes this broker run's session ids from another run's.
    epoch: u64,
    /// A random number of this run. A connection's temporary destinations are named after it
    /// plus the connection's id: unique across runs and, in a cluster, across nodes, whose
    /// connection ids overlap (a temporary queue is the cluster's there).
    run: u64,
    /// When it was made, ms since the epoch (by its clock).
    started_at_ms: u64,
    stats: Arc<Stats>,
    memory: Arc<Memory>,
}

impl Broker {
    /// A broker with this configuration that keeps every message in memory only.
    pub fn new(config: BrokerConfig) -> Broker {
        Broker::build(config, None)
    }

    /// A broker that stores persistent messages through `backend`: what the backend holds
    /// (queues, durable subscriptions and their messages) is read back first.
    pub fn with_store(config: BrokerConfig, backend: Box<dyn Backend>) -> Result<Broker, StoreError> {
        let store = Store::open(backend, config.store.clone());
        let broker = Broker::build(config, Some(store.clone()));
        let mut recovery = broker.shared.router.recovery();
        store.recover(&mut |item| recovery.add(item))?;
        recovery.finish();
        Ok(broker)
    }

    fn build(config: BrokerConfig, store: Option<Store>) -> Broker {
        let epoch = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let stats = Arc::<Stats>::default();
        let (high, low) = config.memory.watermarks();
        let memory = Arc::new(Memory::new(high, low));
        let started_at_ms = config.clock.now_ms();
        Broker {
            shared: Arc::new(Shared {
                router: Router::new(config, stats.clone(), memory.clone(), store),
                registry: Registry::default(),
                epoch,
                run: random_run(epoch),
                started_at_ms,
                stats,
                memory,
            }),
        }
    }

    /// The store, when the broker persists messages.
    pub fn store(&self) -> Option<&Store> {
        self.shared.router.store()
    }

    /// The configuration.
    pub fn config(&self) -> &BrokerConfig {
        self.shared.router.config()
    }

    /// Who checks CONNECT's credentials (the connection task runs it off the runtime).
    pub fn authenticator(&self) -> Arc<dyn Authenticator> {
        self.config().authenticator.clone()
    }

    /// Opens a session for a new connection. The receiver is drained by the connection task.
    pub fn open_session(&self, meta: ConnectionMeta) -> (Session, OutboxReceiver) {
        let shared = &self.shared;
        let (outbox, receiver) = outbox::outbox(&self.config().delivery, shared.stats.clone(), shared.memory.clone());
        let id = shared.router.next_id();
        let info = Arc::new(ConnectionInfo {
            id,
            session: format!("{:x}-{id}", shared.epoch),
            meta,
            opened_at_ms: self.config().clock.now_ms(),
            login: Default::default(),
            counters: Default::default(),
            subscriptions: Default::default(),
            held_by: Default::default(),
            outbox: outbox.clone(),
        });
        shared.registry.add(info.clone());
        Stats::bump(&shared.stats.connections);
        Stats::bump(&shared.stats.connections_total);
        (Session::new(self.clone(), info, outbox), receiver)
    }

    /// The broker-wide memory bound: the connection task counts its partly read frames here
    /// and holds SENDs back while it [`Memory::is_over`].
    pub fn memory(&self) -> &Arc<Memory> {
        &self.shared.memory
    }

    /// The live counters.
    pub fn stats(&self) -> StatsSnapshot {
        self.shared.stats.snapshot(self.shared.registry.bytes())
    }

    /// When the broker was made, ms since the epoch (by its clock).
    pub fn started_at_ms(&self) -> u64 {
        self.shared.started_at_ms
    }

    /// Messages waiting or in flight on a queue (0 if it does not exist).
    pub fn queue_depth(&self, name: &str) -> usize {
        self.shared.router.find_queue(name).map_or(0, |q| q.depth())
    }

    /// Deletes the topics and queues nobody has used for `limits.auto_delete_after_ms`
    /// ([`BrokerConfig::queues_auto_delete_after`] for queues); the server calls this now and
    /// then. Returns how many went.
    pub fn delete_unused_destinations(&self) -> usize {
        let (now, config, router) = (tokio::time::Instant::now(), self.config(), &self.shared.router);
        let queues = router.delete_unused_queues(now, config.queues_auto_delete_after());
        let topics = router.topics().delete_unused(now, config.topics_auto_delete_after());
        Stats::add(&self.shared.stats.topics_deleted, topics as u64);
        queues + topics
    }

    /// Asks the access rules again about every connected session (call it after replacing
    /// them): a session that may no longer connect, or no longer receive or consume from one of
    /// its subscriptions, is closed with an ERROR that says why. Returns how many were closed.
    pub fn revoke_refused(&self) -> usize {
        let router = &self.shared.router;
        let mut closed = 0;
        for info in self.shared.registry.live() {
            let Some(login) = info.login.get() else { continue };
            if let Some(refused) = router.recheck(&login.principal, &info) {
                info.outbox.revoke(Closed::AccessRevoked(refused));
                closed += 1;
            }
        }
        closed
    }

    /// Topic subscriptions across all sessions.
    pub fn topic_subscriptions(&self) -> usize {
        self.shared.router.topics().len()
    }
}

#[cfg(test)]
mod tests;

/// A random number for a broker run (see `Shared::run`); from the clock if the system has no
/// randomness to give.
fn random_run(epoch: u64) -> u64 {
    let mut bytes = [0; 8];
    match getrandom::fill(&mut bytes) {
        Ok(()) => u64::from_le_bytes(bytes),
        Err(_) => epoch.rotate_left(32) ^ u64::from(std::process::id()),
    }
}
