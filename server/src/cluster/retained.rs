//! Retained messages across nodes over JetStream.
//!
//! A topic message that asks its topic to keep it (`retain:set`) or to forget what it keeps
//! (`retain:remove`) is also published on `<prefix>.r.<topic>`, to the stream
//! `<prefix>_retained`, which keeps one message per subject: the last word on each topic. Every
//! node follows that stream (see `last_word`) and applies what comes to its own topics, so all
//! end with the same retained message, and a node started later reads them all back. A new
//! subscription then gets the retained message from its own node, as on a single node.

use async_nats::jetstream::stream;
use async_nats::jetstream::{self, Context};
use stompbox_core::broker::{Broker, Message};
use stompbox_core::destination::TOPIC_PREFIX;
use stompbox_core::frame::header;
use tracing::{debug, warn};

use super::{bump, last_word, subject, wire, Link};

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

/// The retained messages' stream, which every node follows (see the module docs).
pub(super) fn stream(prefix: &str, replicas: usize) -> stream::Config {
    last_word::stream(subject::stream_name(prefix, "retained"), subject::all_retained(prefix), replicas)
}

/// Applies a retained message's word to this node's topic.
pub(super) fn apply(broker: &Broker, link: &Link, message: jetstream::Message) {
    let applied = wire::decode(message.message.payload).map_err(|error| error.to_string()).and_then(|remote| {
        broker.retain_from_cluster(&remote.destination, remote.headers, remote.body).map_err(|e| e.to_string())
    });
    if let Err(error) = applied {
        bump(&link.counters.dropped);
        warn!(%error, "cluster: dropped a retained message from JetStream");
    }
}
