//! The synchronous broker engine.
//!
//! A [`Broker`] holds topics, queues and counters; it is cheap to clone and shared by every
//! connection. Each connection owns one [`Session`], feeds it the frames it reads, and writes
//! what the session answers plus whatever its [`OutboxReceiver`] holds. Nothing here awaits or
//! blocks: delivery is a push into the subscriber's bounded outbox, so the engine is tested with
//! plain `#[test]`s, without a runtime.
//!
//! Lock order: topics or a queue, then outboxes. An outbox lock is never held while another
//! lock is taken. No lock is held across an `.await` (there are none here).

mod message;
mod outbox;
mod queue;
mod session;
mod stats;
mod topic;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

pub use message::{now_ms, Message};
pub use outbox::{Closed, Drained, Outbox, OutboxReceiver, SlowConsumerPolicy};
pub use queue::QueueLimits;
pub use session::{error_frame, frame_error_code, Action, PendingSend, ProtocolError, Session, SessionError};
pub use stats::{Stats, StatsSnapshot};

use crate::auth::{Authenticator, GuestOnly};
use crate::destination::{segments_match, Destination};
use crate::heartbeat::Heartbeat;
use queue::Queue;
use topic::Topics;

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
}

/// What a producer meets when its queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum QueueFullPolicy {
    /// Hold the producer back: the broker stops reading its socket until there is room.
    #[default]
    Block,
    /// Answer the SEND with an ERROR (and close, as every ERROR does).
    Error,
}

/// Limits for the queues whose names match `pattern` (`.`-separated, `*` and `**` wildcards,
/// without the `/queue/` prefix).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueRule {
    /// Which queues, e.g. `orders.**`.
    pub pattern: String,
    /// Their depth limits.
    pub limits: QueueLimits,
    /// What a producer meets when one is full.
    pub when_full: QueueFullPolicy,
}

/// Everything the engine needs to know; the server fills it from its configuration file.
#[derive(Clone)]
pub struct BrokerConfig {
    /// The `server` header of CONNECTED.
    pub server_name: String,
    /// The heart-beat the server offers: how often it can send and wants to receive, in ms.
    pub heartbeat: Heartbeat,
    /// Byte limit of each session's outbox of topic messages.
    pub outbox_max_bytes: usize,
    /// What happens to a topic subscriber that falls past `outbox_max_bytes`.
    pub slow_consumer: SlowConsumerPolicy,
    /// Window of unacknowledged queue messages per subscription when SUBSCRIBE names none.
    pub default_prefetch: usize,
    /// Largest window a SUBSCRIBE may ask for.
    pub max_prefetch: usize,
    /// Subscriptions one session may hold.
    pub max_subscriptions_per_session: usize,
    /// Open transactions one session may hold.
    pub max_transactions_per_session: usize,
    /// Frames one transaction may buffer.
    pub max_frames_per_transaction: usize,
    /// Queues the broker may hold.
    pub max_queues: usize,
    /// Per-pattern queue limits; the first matching rule applies.
    pub queue_rules: Vec<QueueRule>,
    /// Limits of queues no rule matches.
    pub queue_limits: QueueLimits,
    /// What a producer meets when a queue no rule matches is full.
    pub queue_full: QueueFullPolicy,
    /// Who may connect.
    pub authenticator: Arc<dyn Authenticator>,
}

impl std::fmt::Debug for BrokerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrokerConfig")
            .field("server_name", &self.server_name)
            .field("heartbeat", &self.heartbeat)
            .field("outbox_max_bytes", &self.outbox_max_bytes)
            .field("slow_consumer", &self.slow_consumer)
            .field("default_prefetch", &self.default_prefetch)
            .field("queue_limits", &self.queue_limits)
            .finish_non_exhaustive()
    }
}

impl Default for BrokerConfig {
    fn default() -> Self {
        BrokerConfig {
            server_name: concat!("stompbox/", env!("CARGO_PKG_VERSION")).to_owned(),
            heartbeat: Heartbeat { send_ms: 10_000, receive_ms: 10_000 },
            outbox_max_bytes: 8 * 1024 * 1024,
            slow_consumer: SlowConsumerPolicy::Disconnect,
            default_prefetch: 1000,
            max_prefetch: 10_000,
            max_subscriptions_per_session: 1000,
            max_transactions_per_session: 16,
            max_frames_per_transaction: 10_000,
            max_queues: 10_000,
            queue_rules: Vec::new(),
            queue_limits: QueueLimits::default(),
            queue_full: QueueFullPolicy::Block,
            authenticator: Arc::new(GuestOnly),
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
    config: BrokerConfig,
    topics: Mutex<Topics>,
    queues: Mutex<HashMap<Arc<str>, Arc<Queue>>>,
    next_id: AtomicU64,
    /// Distinguishes this broker run's session ids from another run's.
    epoch: u64,
    stats: Arc<Stats>,
}

impl Broker {
    /// A broker with this configuration.
    pub fn new(config: BrokerConfig) -> Broker {
        let epoch = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        Broker {
            shared: Arc::new(Shared {
                config,
                topics: Mutex::default(),
                queues: Mutex::default(),
                next_id: AtomicU64::new(1),
                epoch,
                stats: Arc::default(),
            }),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &BrokerConfig {
        &self.shared.config
    }

    /// Opens a session for a new connection. The receiver is drained by the connection task.
    pub fn open_session(&self) -> (Session, OutboxReceiver) {
        let (outbox, receiver) = outbox::outbox(
            self.shared.config.outbox_max_bytes,
            self.shared.config.slow_consumer,
            self.shared.stats.clone(),
        );
        let id = self.next_id();
        let name = format!("{:x}-{id}", self.shared.epoch);
        (Session::new(self.clone(), name, outbox), receiver)
    }

    /// The live counters.
    pub fn stats(&self) -> StatsSnapshot {
        self.shared.stats.snapshot()
    }

    /// Messages waiting or in flight on a queue (0 if it does not exist).
    pub fn queue_depth(&self, name: &str) -> usize {
        let queues = self.shared.queues.lock().expect("queues lock");
        queues.get(name).map_or(0, |q| q.depth())
    }

    /// Topic subscriptions across all sessions.
    pub fn topic_subscriptions(&self) -> usize {
        self.shared.topics.lock().expect("topics lock").len()
    }

    fn next_id(&self) -> u64 {
        self.shared.next_id.fetch_add(1, Ordering::Relaxed)
    }

    fn counters(&self) -> &Stats {
        &self.shared.stats
    }

    /// The queue for a destination, created on first use with the limits of the first
    /// matching rule.
    fn queue(&self, destination: &Destination) -> Result<Arc<Queue>, ProtocolError> {
        let config = &self.shared.config;
        let mut queues = self.shared.queues.lock().expect("queues lock");
        if let Some(queue) = queues.get(destination.as_str()) {
            return Ok(queue.clone());
        }
        if queues.len() >= config.max_queues {
            return Err(ProtocolError::TooManyQueues { limit: config.max_queues });
        }
        let name: Vec<&str> = destination.segments().collect();
        let rule = config.queue_rules.iter().find(|rule| {
            let pattern: Vec<&str> = rule.pattern.split('.').collect();
            segments_match(&pattern, &name)
        });
        let (limits, when_full) = rule.map_or((config.queue_limits, config.queue_full), |r| (r.limits, r.when_full));
        let queue = Arc::new(Queue::new(limits, when_full, self.shared.stats.clone()));
        queues.insert(destination.shared().clone(), queue.clone());
        Ok(queue)
    }
}

#[cfg(test)]
mod tests;
