//! Queues across nodes over JetStream.
//!
//! One work-queue stream, `<prefix>_queues` on `<prefix>.q.>`, holds every queue's messages
//! until acknowledged. A SEND to a queue is published there (the bridge task awaits JetStream's
//! `PubAck` off the connection's path and resolves the SEND's [`Confirmation`]). Per queue one
//! durable pull consumer (`q_<name>`) is shared by every node: a node whose clients consume the
//! queue runs a puller ([`pull`]) that fetches as many messages as its local consumers have room for
//! (at most `max_in_flight` unacknowledged) and hands each to the local queue with a [`Held`]
//! claim. The local queue's ACK becomes a JetStream ack (a `double_ack` when a RECEIPT waits
//! for it), a message given back (NACK, its consumer left) a `nak`: JetStream delivers it
//! again, to any node. A node that dies acknowledges nothing more: after `ack_wait` JetStream
//! delivers its messages to the others. Durable subscriptions' backlogs live in the same stream,
//! each on its own subject with its own consumer (`d_<name>`), published and consumed the same
//! way (see `durables`).

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::{pull, AckPolicy};
use async_nats::jetstream::message::Acker;
use async_nats::jetstream::stream::{self, ConsumerErrorKind, RetentionPolicy, StorageType};
use async_nats::jetstream::{self, AckKind};
use parking_lot::Mutex;
use stompbox_core::broker::{
    confirmation, is_temporary_queue, Broker, Claim, Confirmation, Confirmer, DurableSubscription, Message,
};
use stompbox_core::destination::DURABLE_PREFIX;
use tokio::sync::{mpsc, Notify};
use tokio::task::JoinSet;
use tokio_stream::StreamExt;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, warn};

use super::{bump, durables, subject, wire, Link};

/// How long one pull waits for messages before it asks again, and how long a puller waits
/// before it tries again after an error.
const PULL_WAIT: Duration = Duration::from_secs(1);

/// How long a temporary queue's JetStream consumer lives without pulls (its node died with it).
const TEMPORARY_INACTIVITY: Duration = Duration::from_secs(600);

/// A message a local client sent, on its way to JetStream: for a queue, or for a durable
/// subscription that collects it (the queue's or the subscription's destination first).
pub(super) type Outgoing = (Arc<str>, Arc<Message>, Confirmer);

/// What the local queue decided about a message of the cluster's queue.
pub(super) enum Settlement {
    /// Acknowledged (or expired, or dead-lettered): JetStream forgets it.
    Ack(Acker, Confirmer),
    /// Given back unacknowledged: JetStream delivers it again.
    Nak(Acker),
}

/// What `[cluster]` says about queues.
#[derive(Debug, Clone, Copy)]
pub(super) struct Settings {
    pub(super) ack_wait: Duration,
    pub(super) max_in_flight: usize,
    pub(super) replicas: usize,
}

/// The bridge task's part for queues: publishing, settling, and one puller per queue with local
/// consumers. See the module docs.
pub(super) struct Queues {
    jetstream: jetstream::Context,
    prefix: String,
    stream: String,
    settings: Settings,
    /// Whether the stream is known to exist.
    stream_ready: bool,
    /// PubAcks and double acks awaited.
    pending: JoinSet<()>,
    pullers: HashMap<String, Puller>,
    /// The pullers' tasks, stopped ones included until they have read their last pull.
    pulling: TaskTracker,
    settlements: mpsc::UnboundedSender<Settlement>,
    sequence: u64,
}

/// A running puller, stopped when the queue has no local consumers any more.
struct Puller {
    shared: Arc<PullerShared>,
    stop: CancellationToken,
}

/// What a puller shares with the claims it hands out.
#[derive(Debug, Default)]
struct PullerShared {
    /// Messages taken from JetStream and not settled yet.
    outstanding: AtomicUsize,
    /// Room may have come: a claim was settled, or a consumer came or got room.
    wake: Notify,
}

impl Queues {
    pub(super) fn new(
        jetstream: jetstream::Context,
        prefix: String,
        settings: Settings,
        settlements: mpsc::UnboundedSender<Settlement>,
    ) -> Queues {
        let stream = stream_config(&prefix, settings.replicas).name;
        Queues {
            jetstream,
            prefix,
            stream,
            settings,
            stream_ready: false,
            pending: JoinSet::new(),
            pullers: HashMap::new(),
            pulling: TaskTracker::new(),
            settlements,
            sequence: 0,
        }
    }

    /// The JetStream context the queues (and retained messages) use.
    pub(super) fn jetstream(&self) -> &jetstream::Context {
        &self.jetstream
    }

    /// Whether the task may take another message to publish (PubAcks awaited are bounded).
    pub(super) fn has_room(&self) -> bool {
        self.pending.len() < self.settings.max_in_flight
    }

    /// Resolves when an awaited PubAck or double ack came; pending while none is awaited.
    pub(super) async fn answered(&mut self) {
        match self.pending.join_next().await {
            Some(_) => {}
            None => std::future::pending().await,
        }
    }

    /// Publishes a message to JetStream, on its queue's or durable subscription's subject;
    /// `confirmer` gets the PubAck's outcome.
    pub(super) async fn publish(&mut self, link: &Arc<Link>, (queue, message, confirmer): Outgoing) {
        if let Err(refusal) = self.ensure_stream().await {
            confirmer.resolve(Err(refusal));
            return;
        }
        let Some((subject, _)) = subject::shared_queue(&self.prefix, &queue) else {
            confirmer.resolve(Err(format!("{queue} is no queue")));
            return;
        };
        self.sequence += 1;
        let payload = wire::encode(&link.origin, self.sequence, &message);
        match self.jetstream.publish(subject, payload).await {
            Ok(acknowledged) => {
                let link = link.clone();
                self.pending.spawn(async move {
                    let outcome = acknowledged.await.map(drop).map_err(|error| format!("JetStream: {error}"));
                    if outcome.is_ok() {
                        bump(&link.counters.queue_sent);
                    }
                    confirmer.resolve(outcome);
                });
            }
            Err(error) => confirmer.resolve(Err(format!("JetStream: {error}"))),
        }
    }

    /// Tells the cluster what a durable subscription is now (see `durables`) off the task's
    /// path; the change's confirmer gets the outcome.
    pub(super) fn announce(&mut self, change: durables::Change, broker: &Broker) {
        let subscription = broker.durable_subscription(&change.name);
        let (jetstream, prefix, settings) = (self.jetstream.clone(), self.prefix.clone(), self.settings);
        self.pending.spawn(async move {
            let word = durables::Word::new(change.name, subscription, change.owner.as_ref());
            change.confirmer.resolve(durables::announce(&jetstream, &prefix, settings, word).await);
        });
    }

    /// Sends JetStream what the local queues decided.
    pub(super) async fn settle(&mut self, settlement: Settlement) {
        match settlement {
            Settlement::Ack(acker, confirmer) if confirmer.is_awaited() => {
                self.pending.spawn(async move {
                    let outcome = acker.double_ack().await.map_err(|error| format!("JetStream ack: {error}"));
                    confirmer.resolve(outcome);
                });
            }
            Settlement::Ack(acker, confirmer) => {
                confirmer.resolve(acker.ack().await.map_err(|error| error.to_string()));
            }
            Settlement::Nak(acker) => {
                if let Err(error) = acker.ack_with(AckKind::Nak(None)).await {
                    debug!(%error, "cluster: a queue message was not given back to JetStream");
                }
            }
        }
    }

    /// Starts a puller for each of `queues` (or durable subscriptions) that has local consumers
    /// now, wakes the running ones, and stops those of queues without local consumers.
    pub(super) fn follow(&mut self, queues: Vec<String>, link: &Arc<Link>, broker: &Broker) {
        for destination in queues {
            let consumers = broker.queue_consumers(&destination);
            let Some((subject, consumer)) = subject::shared_queue(&self.prefix, &destination) else { continue };
            match (consumers > 0, self.pullers.get(&destination)) {
                (true, Some(puller)) => puller.shared.wake.notify_one(),
                (true, None) => {
                    let puller = Puller { shared: Arc::default(), stop: CancellationToken::new() };
                    let context = PullContext {
                        jetstream: self.jetstream.clone(),
                        prefix: self.prefix.clone(),
                        subject,
                        consumer,
                        destination: destination.clone(),
                        settings: self.settings,
                        link: link.clone(),
                        broker: broker.clone(),
                        settlements: self.settlements.clone(),
                        shared: puller.shared.clone(),
                    };
                    self.pulling.spawn(pull(context, puller.stop.clone()));
                    self.pullers.insert(destination, puller);
                }
                (false, Some(_)) => {
                    if let Some(puller) = self.pullers.remove(&destination) {
                        puller.stop.cancel();
                    }
                }
                (false, None) => {}
            }
        }
        link.counters.queues.store(self.pullers.len() as u64, Ordering::Relaxed);
    }

    /// Deletes the JetStream consumers of `queues` (temporary ones, deleted with their
    /// connection) and what their subjects hold, off the task's path.
    pub(super) fn forget(&mut self, queues: Vec<String>) {
        for destination in queues {
            if let Some(puller) = self.pullers.remove(&destination) {
                puller.stop.cancel();
            }
            let Some((subject, consumer)) = subject::shared_queue(&self.prefix, &destination) else { continue };
            let (jetstream, stream) = (self.jetstream.clone(), self.stream.clone());
            self.pending.spawn(async move {
                let forgotten = async { remove(&jetstream.get_stream(stream).await?, &consumer, &subject).await };
                if let Err(error) = forgotten.await {
                    debug!(%error, queue = %destination, "cluster: a temporary queue stays in JetStream");
                }
            });
        }
    }

    /// Stops every puller (the node is stopping) and waits until each has read its last pull,
    /// so that what JetStream sent them is given back now rather than after `ack_wait`.
    pub(super) async fn stop(&mut self) {
        for (_, puller) in self.pullers.drain() {
            puller.stop.cancel();
        }
        self.pulling.close();
        let _ = tokio::time::timeout(3 * PULL_WAIT, self.pulling.wait()).await;
    }

    /// Makes sure the queues' stream exists (once per run of the node).
    async fn ensure_stream(&mut self) -> Result<(), String> {
        if self.stream_ready {
            return Ok(());
        }
        match queues_stream(&self.jetstream, &self.prefix, self.settings.replicas).await {
            Ok(_) => {
                self.stream_ready = true;
                Ok(())
            }
            Err(error) => {
                warn!(%error, stream = %self.stream, "cluster: the queues' JetStream stream is unavailable");
                Err(format!("JetStream stream {}: {error}", self.stream))
            }
        }
    }
}

/// The queues' stream, made if it does not exist.
pub(super) async fn queues_stream(
    jetstream: &jetstream::Context,
    prefix: &str,
    replicas: usize,
) -> Result<stream::Stream, async_nats::Error> {
    Ok(jetstream.get_or_create_stream(stream_config(prefix, replicas)).await?)
}

/// Deletes the shared consumer `consumer` (if it exists) and purges `subject`, what it held.
pub(super) async fn remove(stream: &stream::Stream, consumer: &str, subject: &str) -> Result<(), async_nats::Error> {
    stream.delete_consumer(consumer).await.map(drop).or_else(|error| match error.kind() {
        ConsumerErrorKind::JetStream(error) if error.code() == 404 => Ok(()),
        _ => Err(error),
    })?;
    stream.purge().filter(subject).await?;
    Ok(())
}

/// The queues' stream (see the module docs), which holds durable subscriptions' messages too.
fn stream_config(prefix: &str, replicas: usize) -> stream::Config {
    stream::Config {
        name: subject::stream_name(prefix, "queues"),
        subjects: vec![subject::all_queues(prefix)],
        retention: RetentionPolicy::WorkQueue,
        storage: StorageType::File,
        num_replicas: replicas,
        ..Default::default()
    }
}

/// What one puller works with.
struct PullContext {
    jetstream: jetstream::Context,
    prefix: String,
    subject: String,
    /// The shared JetStream consumer's name.
    consumer: String,
    destination: String,
    settings: Settings,
    link: Arc<Link>,
    broker: Broker,
    settlements: mpsc::UnboundedSender<Settlement>,
    shared: Arc<PullerShared>,
}

/// One queue's puller: fetches what the local consumers have room for, until stopped. A pull
/// that fails (the consumer was deleted: a durable subscription replaced) binds it again.
async fn pull(context: PullContext, stop: CancellationToken) {
    while !stop.is_cancelled() {
        match consumer(&context).await {
            Ok((consumer, bound)) => pull_from(&context, &consumer, &bound, &stop).await,
            Err(error) => {
                warn!(%error, queue = %context.destination, "cluster: no JetStream consumer for the queue yet");
            }
        }
        let _ = stop.run_until_cancelled(tokio::time::sleep(PULL_WAIT)).await;
    }
}

/// What a puller bound to: a queue, or a durable subscription as this node knew it then.
#[derive(Debug, PartialEq, Eq)]
enum Bound {
    Queue,
    Durable(Option<DurableSubscription>),
}

/// Pulls from `consumer` until stopped, or until a pull fails.
async fn pull_from(
    context: &PullContext,
    consumer: &jetstream::consumer::PullConsumer,
    bound: &Bound,
    stop: &CancellationToken,
) {
    while !stop.is_cancelled() {
        let outstanding = context.shared.outstanding.load(Ordering::Acquire);
        let room = context.broker.queue_room(&context.destination);
        let room = room.min(context.settings.max_in_flight.saturating_sub(outstanding));
        if room == 0 {
            let woken = tokio::time::timeout(PULL_WAIT, context.shared.wake.notified());
            if stop.run_until_cancelled(woken).await.is_none() {
                return;
            }
            continue;
        }
        let batch = consumer.batch().max_messages(room).expires(PULL_WAIT).messages().await;
        let mut messages = match batch {
            Ok(messages) => messages,
            Err(error) => {
                debug!(%error, queue = %context.destination, "cluster: a JetStream pull failed");
                return;
            }
        };
        // A pull is read to its end (`PULL_WAIT` at most), even once stopped: a message JetStream
        // sent it must reach the local queue, which gives it back if its consumers are gone;
        // dropped unread, it would wait for `ack_wait` first.
        let end = tokio::time::Instant::now() + 2 * PULL_WAIT;
        while let Ok(Some(next)) = tokio::time::timeout_at(end, messages.next()).await {
            match next {
                Ok(message) => deliver(context, bound, message),
                Err(error) => {
                    debug!(%error, queue = %context.destination, "cluster: a JetStream pull ended early");
                    return;
                }
            }
        }
    }
}

/// The queue's shared durable consumer, made (with the stream) if it does not exist. A durable
/// subscription's must say what this node knows the subscription to be: one that says
/// otherwise is about to be replaced (see `durables`), and its backlog is not this one's.
async fn consumer(context: &PullContext) -> Result<(jetstream::consumer::PullConsumer, Bound), async_nats::Error> {
    let stream = queues_stream(&context.jetstream, &context.prefix, context.settings.replicas).await?;
    let bound = bound_now(context);
    let description = match &bound {
        Bound::Queue => None,
        Bound::Durable(subscription) => Some(durables::describe(subscription)),
    };
    if let Some(description) = &description {
        if let Ok(info) = stream.consumer_info(&context.consumer).await {
            if info.config.description.as_ref() != Some(description) {
                return Err(format!("{} is being replaced", context.destination).into());
            }
        }
    }
    let mut config = consumer_config(&context.consumer, &context.subject, context.settings, description);
    if is_temporary_queue(&context.destination) {
        // Its connection's node deletes it when the connection closes; if that node dies first,
        // NATS does, once nobody has pulled from it for this long.
        config.inactive_threshold = TEMPORARY_INACTIVITY;
    }
    Ok((stream.get_or_create_consumer(&context.consumer, config).await?, bound))
}

/// What the puller pulls for now on this node.
fn bound_now(context: &PullContext) -> Bound {
    match context.destination.strip_prefix(DURABLE_PREFIX) {
        Some(name) => Bound::Durable(context.broker.durable_subscription(name)),
        None => Bound::Queue,
    }
}

/// The shared durable consumer `name` of the queue or durable subscription on `subject`; a
/// durable subscription's `description` says what it is (see `durables`).
pub(super) fn consumer_config(
    name: &str,
    subject: &str,
    settings: Settings,
    description: Option<String>,
) -> pull::Config {
    pull::Config {
        durable_name: Some(name.to_owned()),
        description,
        filter_subject: subject.to_owned(),
        ack_policy: AckPolicy::Explicit,
        ack_wait: settings.ack_wait,
        ..Default::default()
    }
}

/// Hands one message from JetStream to the local queue, with its claim.
fn deliver(context: &PullContext, bound: &Bound, message: jetstream::Message) {
    let deliveries = message.info().map_or(1, |info| info.delivered.max(1));
    let (message, acker) = message.split();
    if *bound != Bound::Queue && bound_now(context) != *bound {
        // Pulled for a durable subscription since replaced here: not the new one's.
        let _ = context.settlements.send(Settlement::Nak(acker));
        return;
    }
    let remote = match wire::decode(message.payload) {
        Ok(remote) => remote,
        Err(error) => {
            bump(&context.link.counters.dropped);
            warn!(%error, queue = %context.destination, "cluster: dropped a malformed queue message");
            let _ = context.settlements.send(Settlement::Ack(acker, confirmation().0));
            return;
        }
    };
    context.shared.outstanding.fetch_add(1, Ordering::AcqRel);
    bump(&context.link.counters.queue_received);
    let claim = Arc::new(Held {
        acker: Mutex::new(Some(acker)),
        shared: context.shared.clone(),
        settlements: context.settlements.clone(),
    });
    let redeliveries = u32::try_from(deliveries - 1).unwrap_or(u32::MAX);
    let handed = context.broker.deliver_to_queue_from_cluster(
        &context.destination,
        &remote.destination,
        remote.headers,
        remote.body,
        claim,
        redeliveries,
    );
    if let Err(error) = handed {
        debug!(%error, "cluster: a queue message went back to JetStream");
    }
}

/// This node's hold on one message of the cluster's queue: settled once, by the local queue.
struct Held {
    acker: Mutex<Option<Acker>>,
    shared: Arc<PullerShared>,
    settlements: mpsc::UnboundedSender<Settlement>,
}

impl Held {
    /// Takes the right to settle the message, once; the puller may pull one more.
    fn take(&self) -> Option<Acker> {
        let acker = self.acker.lock().take()?;
        self.shared.outstanding.fetch_sub(1, Ordering::AcqRel);
        self.shared.wake.notify_one();
        Some(acker)
    }
}

impl Claim for Held {
    fn done(&self) -> Confirmation {
        let Some(acker) = self.take() else { return Confirmation::resolved(Ok(())) };
        let (confirmer, confirmation) = confirmation();
        // Sent to the bridge task: a queue's lock may be held here. If the task is gone, the
        // confirmer is dropped and the confirmation fails.
        let _ = self.settlements.send(Settlement::Ack(acker, confirmer));
        confirmation
    }

    fn release(&self) {
        if let Some(acker) = self.take() {
            let _ = self.settlements.send(Settlement::Nak(acker));
        }
    }
}

impl Drop for Held {
    /// Dropped unsettled (its queue went away): JetStream delivers it again.
    fn drop(&mut self) {
        self.release();
    }
}

impl fmt::Debug for Held {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let settled = self.acker.lock().is_none();
        f.debug_struct("Held").field("settled", &settled).finish()
    }
}
