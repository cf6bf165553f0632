//! The cluster bridge: several nodes sharing topics through NATS (`[cluster]`).
//!
//! One task owns the NATS client (`task`): it publishes what local clients send to topics, keeps
//! one NATS subscription per subject this node has local interest in, and delivers what arrives
//! to this node's subscribers. The engine reaches it through [`Link`], its `Bridge`: the router
//! hands over a message with a `try_send` on a bounded channel and never waits for the network,
//! and a producer is paced while that channel's backlog is high (`backlog`, for why); an
//! interest change marks the pattern for the task to look at. Messages from NATS are
//! delivered with `Broker::deliver_from_cluster`, which never calls the bridge again, and the
//! connection is `no_echo`: nothing loops.
//!
//! When NATS cannot be reached, the node serves its own clients as a single node would, drops
//! (and counts) what it would have sent, says so in the log and the snapshot, and the client
//! reconnects on its own, subscribing again to what it had. Topic messages sent during the
//! outage are not replayed. Subjects and the payload are in `subject` and `wire`.
//!
//! Queues are the cluster's, over JetStream (`queues`): the router hands a queue SEND to
//! [`Link::enqueue`], which queues it for the task and returns the confirmation the SEND's
//! RECEIPT waits for; a change of a queue's local consumers marks the queue for the task.
//! Durable subscriptions are too (`durables`): every node knows them all, hands what they
//! collect to `Link::enqueue` as for a queue, and consumes them as queues.
//! Retained messages are shared through a JetStream stream too (`retained`).

mod backlog;
mod durables;
mod last_word;
mod queues;
mod retained;
mod subject;
mod task;
mod wire;

use std::collections::HashSet;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use async_nats::{ConnectOptions, Event};
use parking_lot::Mutex;
use std::time::Duration;

use stompbox_core::auth::Principal;
use stompbox_core::broker::{
    confirmation, Bridge, Broker, ClusterSnapshot, Confirmation, Confirmer, Message, Pressure,
};
use stompbox_core::destination::Destination;
use tokio::sync::{mpsc, Notify};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use crate::config::ClusterConfig;
use backlog::TopicBacklog;

/// Connects to NATS (in the background: a node starts, and serves, while NATS is down), spawns
/// the bridge task on `tracker` until `cancel`, and attaches the bridge to `broker`.
pub(crate) async fn start(
    config: &ClusterConfig,
    broker: &Broker,
    cancel: CancellationToken,
    tracker: &TaskTracker,
) -> io::Result<()> {
    let node = config.node_name();
    let (backlog, outgoing_receiver) = TopicBacklog::new(config.outgoing_capacity);
    let (queued, queued_receiver) = mpsc::channel(config.outgoing_capacity);
    let (durables, durables_receiver) = mpsc::channel(config.outgoing_capacity);
    let (settlements, settlements_receiver) = mpsc::unbounded_channel();
    let link = Arc::new(Link {
        origin: format!("{node}/{:016x}", run_id()),
        node,
        backlog: Arc::new(backlog),
        queued,
        durables,
        dirty: Mutex::default(),
        dirty_queues: Mutex::default(),
        deleted_queues: Mutex::default(),
        wake: Notify::new(),
        connected: AtomicBool::new(false),
        state: Mutex::new(State { since_ms: now_ms(), last_error: None }),
        counters: Counters::default(),
    });
    let client = options(config, link.clone()).await?.connect(&config.nats).await.map_err(io::Error::other)?;
    info!(node = %link.node, nats = ?config.nats, "cluster mode: sharing topics through NATS");
    let settings = queues::Settings {
        ack_wait: Duration::from_millis(config.ack_wait_ms),
        max_in_flight: config.max_in_flight,
        replicas: config.stream_replicas,
    };
    let jetstream = async_nats::jetstream::new(client.clone());
    let prefix = &config.subject_prefix;
    // Every node follows the last words on retained messages and on durable subscriptions.
    let followed: [(_, Apply); 2] = [
        (retained::stream(prefix, settings.replicas), retained::apply),
        (durables::stream(prefix, settings.replicas), durables::apply),
    ];
    for (stream, apply) in followed {
        let (link, broker) = (link.clone(), broker.clone());
        let apply = move |message| apply(&broker, &link, message);
        tracker.spawn(last_word::follow(jetstream.clone(), stream, cancel.clone(), apply));
    }
    let queues = queues::Queues::new(jetstream, config.subject_prefix.clone(), settings, settlements);
    let inbound = task::Inbound {
        outgoing: outgoing_receiver,
        queued: queued_receiver,
        durables: durables_receiver,
        settlements: settlements_receiver,
    };
    tracker.spawn(task::run(
        client,
        link.clone(),
        broker.clone(),
        inbound,
        queues,
        config.subject_prefix.clone(),
        cancel,
    ));
    broker.attach_bridge(link);
    Ok(())
}

/// The client's options as `[cluster]` sets them: credentials, TLS, no echo, reconnecting
/// forever (from the first attempt on), events to `link`.
async fn options(config: &ClusterConfig, link: Arc<Link>) -> io::Result<ConnectOptions> {
    let mut options = ConnectOptions::new()
        .name(format!("stompbox {}", link.node))
        .no_echo()
        .retry_on_initial_connect()
        .subscription_capacity(config.subscription_capacity)
        .require_tls(config.require_tls);
    if let Some(path) = &config.credentials_file {
        options = options.credentials_file(path).await?;
    }
    if let (Some(user), Some(password)) = (&config.user, &config.password) {
        options = options.user_and_password(user.clone(), password.clone());
    }
    if let Some(token) = &config.token {
        options = options.token(token.clone());
    }
    if let Some(ca) = &config.tls_ca {
        options = options.add_root_certificates(ca.clone());
    }
    if let (Some(cert), Some(key)) = (&config.tls_cert, &config.tls_key) {
        options = options.add_client_certificate(cert.clone(), key.clone());
    }
    Ok(options.event_callback(move |event| {
        let link = link.clone();
        async move { link.event(event) }
    }))
}

/// Applies a word of a stream every node follows (see `last_word`) to this node.
type Apply = fn(&Broker, &Link, async_nats::jetstream::Message);

/// The engine's side of the bridge (see the module docs), shared with the task.
#[derive(Debug)]
pub(crate) struct Link {
    node: String,
    /// The node and this run of it: what other nodes tell its messages apart by.
    origin: String,
    /// Topic messages on their way to NATS.
    backlog: Arc<TopicBacklog>,
    /// Queue messages (and durable subscriptions' messages) on their way to JetStream.
    queued: mpsc::Sender<queues::Outgoing>,
    /// Durable subscriptions local clients changed, on their way to the cluster.
    durables: mpsc::Sender<durables::Change>,
    /// Patterns whose local interest changed since the task last looked.
    dirty: Mutex<HashSet<String>>,
    /// Queues whose local consumers changed since the task last looked.
    dirty_queues: Mutex<HashSet<String>>,
    /// Temporary queues deleted since the task last looked.
    deleted_queues: Mutex<Vec<String>>,
    wake: Notify,
    connected: AtomicBool,
    state: Mutex<State>,
    counters: Counters,
}

#[derive(Debug)]
struct State {
    since_ms: u64,
    last_error: Option<String>,
}

#[derive(Debug, Default)]
struct Counters {
    subscriptions: AtomicU64,
    published: AtomicU64,
    received: AtomicU64,
    dropped: AtomicU64,
    queues: AtomicU64,
    queue_sent: AtomicU64,
    queue_received: AtomicU64,
}

impl Bridge for Link {
    fn publish(&self, message: &Arc<Message>) -> Option<Pressure> {
        if !self.backlog.send(message) {
            bump(&self.counters.dropped);
        }
        self.backlog.pressing().then(|| Pressure::bridge(self.backlog.clone()))
    }

    fn interest_changed(&self, pattern: &str) {
        self.dirty.lock().insert(pattern.to_owned());
        self.wake.notify_one();
    }

    fn enqueue(&self, queue: &Destination, message: &Arc<Message>) -> Result<Confirmation, String> {
        let queue = queue.shared().clone();
        self.hand_over(&self.queued, "queue messages", |confirmer| (queue, message.clone(), confirmer))
    }

    fn consumers_changed(&self, destination: &str) {
        self.dirty_queues.lock().insert(destination.to_owned());
        self.wake.notify_one();
    }

    fn temporary_deleted(&self, destination: &str) {
        self.deleted_queues.lock().push(destination.to_owned());
        self.wake.notify_one();
    }

    fn durable_changed(&self, name: &str, owner: Option<&Principal>) -> Result<Confirmation, String> {
        let change = |confirmer| durables::Change { name: name.to_owned(), owner: owner.cloned(), confirmer };
        self.hand_over(&self.durables, "durable subscriptions", change)
    }

    fn snapshot(&self) -> ClusterSnapshot {
        let state = self.state.lock();
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        ClusterSnapshot {
            node: self.node.clone(),
            state: if self.connected.load(Ordering::Acquire) { "connected" } else { "disconnected" },
            since_ms: state.since_ms,
            last_error: state.last_error.clone(),
            subscriptions: read(&self.counters.subscriptions),
            published: read(&self.counters.published),
            received: read(&self.counters.received),
            dropped: read(&self.counters.dropped),
            queues: read(&self.counters.queues),
            queue_sent: read(&self.counters.queue_sent),
            queue_received: read(&self.counters.queue_received),
        }
    }
}

impl Link {
    /// Hands the task what the cluster must keep (`work`, with the confirmer the task resolves
    /// once the cluster has it); `Err` while NATS is unreachable or the task has `what` waiting
    /// past `outgoing_capacity`.
    fn hand_over<T>(
        &self,
        to: &mpsc::Sender<T>,
        what: &str,
        work: impl FnOnce(Confirmer) -> T,
    ) -> Result<Confirmation, String> {
        if !self.connected.load(Ordering::Acquire) {
            return Err("NATS is unreachable".to_owned());
        }
        let (confirmer, confirmation) = confirmation();
        match to.try_send(work(confirmer)) {
            Ok(()) => Ok(confirmation),
            Err(_) => Err(format!("too many {what} are waiting for NATS (cluster.outgoing_capacity)")),
        }
    }

    /// Follows the connection's events: its state for the snapshot, and the log.
    fn event(&self, event: Event) {
        match event {
            Event::Connected => {
                self.set_connected(true);
                info!(node = %self.node, "cluster: connected to NATS");
            }
            Event::Disconnected => {
                self.set_connected(false);
                warn!(node = %self.node, "cluster: NATS unreachable; serving local clients only until it is back");
            }
            Event::SlowConsumer(_) => {
                bump(&self.counters.dropped);
                warn!(node = %self.node, "cluster: NATS dropped messages for this node: it did not keep up");
            }
            other => {
                self.state.lock().last_error = Some(other.to_string());
                warn!(node = %self.node, event = %other, "cluster: NATS connection event");
            }
        }
    }

    fn set_connected(&self, connected: bool) {
        let was = self.connected.swap(connected, Ordering::AcqRel);
        self.backlog.set_connected(connected);
        let mut state = self.state.lock();
        if was != connected {
            state.since_ms = now_ms();
        }
        if !connected {
            state.last_error = Some("disconnected from NATS".to_owned());
        }
    }

    /// The patterns whose interest changed, taken.
    fn take_dirty(&self) -> HashSet<String> {
        std::mem::take(&mut *self.dirty.lock())
    }

    /// The queues whose local consumers changed, taken.
    fn take_dirty_queues(&self) -> Vec<String> {
        self.dirty_queues.lock().drain().collect()
    }

    /// The temporary queues deleted, taken.
    fn take_deleted_queues(&self) -> Vec<String> {
        std::mem::take(&mut *self.deleted_queues.lock())
    }
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// A number telling this run of the node from its earlier ones (its sequence numbers start over).
fn run_id() -> u64 {
    let mut bytes = [0; 8];
    match getrandom::fill(&mut bytes) {
        Ok(()) => u64::from_le_bytes(bytes),
        Err(_) => now_ms(),
    }
}
