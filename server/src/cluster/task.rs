//! The bridge task: the one owner of the NATS client (see the module docs of `cluster`).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use async_nats::{Client, RequestErrorKind, Subscriber};
use bytes::Bytes;
use stompbox_core::broker::{Broker, Message};
use stompbox_core::destination::TOPIC_PREFIX;
use tokio::sync::mpsc;
use tokio_stream::{StreamExt, StreamMap};
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::queues::{Outgoing, Queues, Settlement};
use super::wire::{self, Seen};
use super::{bump, subject, Link};
use super::{durables, retained};

/// The longest the task waits for NATS to confirm what it sent (subscriptions, or the last
/// messages of a stopping node), so that it never stalls on a NATS that went away.
const FLUSH_WAIT: Duration = Duration::from_secs(1);

/// What the engine hands the task.
pub(super) struct Inbound {
    /// Topic messages to publish.
    pub(super) outgoing: mpsc::Receiver<Arc<Message>>,
    /// Queue messages to publish to JetStream.
    pub(super) queued: mpsc::Receiver<Outgoing>,
    /// Durable subscriptions to tell the cluster about.
    pub(super) durables: mpsc::Receiver<durables::Change>,
    /// What the local queues decided about messages of the cluster's queues.
    pub(super) settlements: mpsc::UnboundedReceiver<Settlement>,
}

/// Serves the bridge until `cancel`: publishes what `inbound` brings, follows local interest
/// and local queue consumers, delivers what NATS brings.
pub(super) async fn run(
    client: Client,
    link: Arc<Link>,
    broker: Broker,
    mut inbound: Inbound,
    mut queues: Queues,
    prefix: String,
    cancel: CancellationToken,
) {
    let mut interest =
        Interest { prefix, patterns: HashMap::new(), subjects: HashMap::new(), streams: StreamMap::new() };
    // The round trip confirming the latest subscriptions, while one is under way.
    let mut confirming: Option<Probe> = None;
    let mut seen = Seen::default();
    let mut sequence = 0;
    loop {
        tokio::select! {
            () = cancel.cancelled() => break,
            () = link.wake.notified() => {
                queues.forget(link.take_deleted_queues());
                queues.follow(link.take_dirty_queues(), &link, &broker);
                if interest.follow(&client, &link, &broker).await {
                    confirming = Some(confirm_subscriptions(&client, &interest.prefix, Duration::ZERO));
                }
            }
            confirmed = async { confirming.as_mut().expect("guarded by the condition").await }, if confirming.is_some() => {
                confirming = if confirmed {
                    link.counters.subscriptions.store(interest.streams.len() as u64, Ordering::Relaxed);
                    None
                } else {
                    debug!("cluster: NATS did not confirm the subscriptions yet; asking again");
                    Some(confirm_subscriptions(&client, &interest.prefix, FLUSH_WAIT))
                };
            }
            Some(message) = inbound.queued.recv(), if queues.has_room() => queues.publish(&link, message).await,
            Some(change) = inbound.durables.recv(), if queues.has_room() => queues.announce(change, &broker),
            Some(settlement) = inbound.settlements.recv() => queues.settle(settlement).await,
            () = queues.answered() => {}
            Some(message) = inbound.outgoing.recv() => {
                link.backlog.drained();
                sequence += 1;
                let name = message.destination().strip_prefix(TOPIC_PREFIX).unwrap_or(message.destination());
                let subject = subject::for_topic(&interest.prefix, name);
                let payload = wire::encode(&link.origin, sequence, &message);
                match client.publish(subject, payload.clone()).await {
                    Ok(()) => bump(&link.counters.published),
                    Err(error) => {
                        bump(&link.counters.dropped);
                        debug!(%error, "cluster: a message was not sent to NATS");
                    }
                }
                if retained::asks(&message) {
                    retained::publish(queues.jetstream(), &interest.prefix, &message, payload).await;
                }
            }
            Some((_, nats)) = interest.streams.next() => deliver(&broker, &link, &mut seen, nats.payload),
        }
    }
    queues.stop().await;
    // Producers paced to the backlog go on: nothing drains it any more.
    inbound.outgoing.close();
    link.backlog.drained();
    // What the node's consumers gave back as they left goes back to JetStream now.
    while let Ok(settlement) = inbound.settlements.try_recv() {
        queues.settle(settlement).await;
    }
    // What was sent goes out before the node stops, if NATS is there to take it.
    if link.connected.load(Ordering::Acquire) {
        let _ = tokio::time::timeout(FLUSH_WAIT, client.flush()).await;
    }
}

/// Delivers a message from another node to this node's subscribers, once.
fn deliver(broker: &Broker, link: &Link, seen: &mut Seen, payload: bytes::Bytes) {
    let remote = match wire::decode(payload) {
        Ok(remote) => remote,
        Err(error) => {
            bump(&link.counters.dropped);
            warn!(%error, "cluster: dropped a message from NATS");
            return;
        }
    };
    if !seen.first(&remote.origin, remote.sequence) {
        return;
    }
    bump(&link.counters.received);
    if let Err(error) = broker.deliver_from_cluster(&remote.destination, remote.headers, remote.body) {
        bump(&link.counters.dropped);
        warn!(%error, origin = %remote.origin, "cluster: dropped a message from NATS");
    }
}

/// The NATS subscriptions that follow local interest: per pattern its subjects, per subject how
/// many patterns need it and its stream. A subject is subscribed to when its first pattern
/// comes and unsubscribed from (its stream dropped) when its last one goes. The snapshot
/// counts the subscriptions once a [`Probe`] has confirmed them.
struct Interest {
    prefix: String,
    patterns: HashMap<String, Vec<String>>,
    subjects: HashMap<String, usize>,
    streams: StreamMap<String, Subscriber>,
}

impl Interest {
    /// Looks at every pattern whose local interest changed, and subscribes or unsubscribes;
    /// returns whether the subscriptions changed.
    async fn follow(&mut self, client: &Client, link: &Link, broker: &Broker) -> bool {
        let mut changed = false;
        for pattern in link.take_dirty() {
            let wanted = broker.has_topic_interest(&pattern);
            match (wanted, self.patterns.contains_key(&pattern)) {
                (true, false) => {
                    let name = pattern.strip_prefix(TOPIC_PREFIX).unwrap_or(&pattern);
                    let subjects = subject::for_pattern(&self.prefix, name);
                    for subject in &subjects {
                        changed |= self.add(client, subject).await;
                    }
                    self.patterns.insert(pattern, subjects);
                }
                (false, true) => {
                    for subject in self.patterns.remove(&pattern).unwrap_or_default() {
                        changed |= self.remove(&subject);
                    }
                }
                _ => {}
            }
        }
        changed
    }

    /// One more pattern needs `subject`; returns whether it was subscribed to now.
    async fn add(&mut self, client: &Client, subject: &str) -> bool {
        let count = self.subjects.entry(subject.to_owned()).or_default();
        *count += 1;
        if *count > 1 {
            return false;
        }
        match client.subscribe(subject.to_owned()).await {
            Ok(subscriber) => {
                self.streams.insert(subject.to_owned(), subscriber);
                true
            }
            Err(error) => {
                warn!(%error, subject, "cluster: could not subscribe in NATS");
                false
            }
        }
    }

    /// One pattern less needs `subject`; returns whether it was unsubscribed from now.
    fn remove(&mut self, subject: &str) -> bool {
        let Some(count) = self.subjects.get_mut(subject) else { return false };
        *count -= 1;
        if *count > 0 {
            return false;
        }
        self.subjects.remove(subject);
        // Dropping the subscriber unsubscribes.
        self.streams.remove(subject).is_some()
    }
}

/// A round trip to NATS confirming that the server has processed the subscriptions made
/// before it, so that what is published after reaches this node. `Client::flush` only writes
/// them to the socket; the server, though, handles what one client sends in order, and answers
/// a request to a subject nobody serves ("no responders") when it gets there. It runs beside
/// the task's other work, at most `FLUSH_WAIT`, so a NATS that went away never stalls the task.
type Probe = Pin<Box<dyn Future<Output = bool> + Send>>;

/// A [`Probe`] sent after `delay` (a retry's pause); `true` once the server answered.
fn confirm_subscriptions(client: &Client, prefix: &str, delay: Duration) -> Probe {
    let (client, subject) = (client.clone(), format!("{prefix}.confirm"));
    Box::pin(async move {
        tokio::time::sleep(delay).await;
        match tokio::time::timeout(FLUSH_WAIT, client.request(subject, Bytes::new())).await {
            Ok(Ok(_)) => true,
            Ok(Err(error)) => error.kind() == RequestErrorKind::NoResponders,
            Err(_) => false,
        }
    })
}
