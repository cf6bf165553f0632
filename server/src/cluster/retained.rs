//! Retained messages across nodes over JetStream.
//!
//! A topic message that asks its topic to keep it (`retain:set`) or to forget what it keeps
//! (`retain:remove`) is also published on `<prefix>.r.<topic>`, to the stream
//! `<prefix>_retained`, which keeps one message per subject: the last word on each topic. Every
//! node follows that stream from its start with an ordered consumer (the last message of each
//! subject, then each new one) and applies what comes to its own topics, its own messages
//! included: every node applies the same words in the stream's order, so all end with the same
//! retained message, and a node started later reads them all back. A new subscription then gets
//! the retained message from its own node, as on a single node.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::{pull, DeliverPolicy};
use async_nats::jetstream::stream::{self, StorageType};
use async_nats::jetstream::{self, Context};
use stompbox_core::broker::{Broker, Message};
use stompbox_core::destination::TOPIC_PREFIX;
use stompbox_core::frame::header;
use tokio_stream::StreamExt;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::{bump, subject, wire, Link};

/// How long the follower waits before it tries again after an error.
const RETRY: Duration = Duration::from_secs(1);

/// Whether `message` asks its topic to keep it, or to forget what it keeps.
pub(super) fn asks(message: &Message) -> bool {
    matches!(message.header(header::RETAIN), Some("set" | "remove"))
}

/// Publishes a retained message's word to the stream (`payload` is its wire encoding). Not
/// awaited: the word is lost if NATS loses it, as a topic message would be.
pub(super) async fn publish(jetstream: &Context, prefix: &str, message: &Message, payload: bytes::Bytes) {
    let name = message.destination().strip_prefix(TOPIC_PREFIX).unwrap_or(message.destination());
    if let Err(error) = jetstream.publish(subject::for_retained(prefix, name), payload).await {
        debug!(%error, "cluster: a retained message was not sent to JetStream");
    }
}

/// Follows the retained messages' stream until `cancel` (see the module docs), making it if it
/// does not exist.
pub(super) async fn follow(
    jetstream: Context,
    prefix: String,
    replicas: usize,
    link: Arc<Link>,
    broker: Broker,
    cancel: CancellationToken,
) {
    while !cancel.is_cancelled() {
        if let Err(error) =
            cancel.run_until_cancelled(read(&jetstream, &prefix, replicas, &link, &broker)).await.transpose()
        {
            warn!(%error, "cluster: following the retained messages' JetStream stream failed; trying again");
            let _ = cancel.run_until_cancelled(tokio::time::sleep(RETRY)).await;
        }
    }
}

/// Applies the stream's last message per subject, then each new one, until an error.
async fn read(
    jetstream: &Context,
    prefix: &str,
    replicas: usize,
    link: &Link,
    broker: &Broker,
) -> Result<(), async_nats::Error> {
    let config = stream::Config {
        name: subject::stream_name(prefix, "retained"),
        subjects: vec![subject::all_retained(prefix)],
        max_messages_per_subject: 1,
        storage: StorageType::File,
        num_replicas: replicas,
        ..Default::default()
    };
    let stream = jetstream.get_or_create_stream(config).await?;
    let consumer = pull::OrderedConfig {
        filter_subject: subject::all_retained(prefix),
        deliver_policy: DeliverPolicy::LastPerSubject,
        ..Default::default()
    };
    let mut messages = stream.create_consumer(consumer).await?.messages().await?;
    while let Some(message) = messages.next().await {
        apply(broker, link, message?);
    }
    Err("the retained messages' stream ended".into())
}

fn apply(broker: &Broker, link: &Link, message: jetstream::Message) {
    let applied = wire::decode(message.message.payload).map_err(|error| error.to_string()).and_then(|remote| {
        broker.retain_from_cluster(&remote.destination, remote.headers, remote.body).map_err(|e| e.to_string())
    });
    if let Err(error) = applied {
        bump(&link.counters.dropped);
        warn!(%error, "cluster: dropped a retained message from JetStream");
    }
}
