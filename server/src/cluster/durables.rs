//! Durable subscriptions across nodes over JetStream.
//!
//! Every node knows every durable subscription, so that whichever node a message is published on
//! hands it to each durable subscription that collects it. A client making, replacing (or
//! subscribing again to) or deleting one on any node has that node [`announce`] it: the
//! subscription's shared JetStream consumer is made in the queues' stream (on
//! `<prefix>.q.=d.<name>`, named `d_<name>`, its description saying what the subscription is),
//! or replaced with its backlog when it said something else (as JMS replaces a subscription whose
//! topic or selector changed), or deleted with its backlog; then the word (with the client that
//! subscribed, whose `receive` rights filter what a wildcard one collects) is published on
//! `<prefix>.s.<name>` to the stream `<prefix>_subscriptions`, which keeps the last word per
//! subscription and which every node follows (see `last_word`) and applies with
//! `Broker::durable_from_cluster`. The SUBSCRIBE's (or UNSUBSCRIBE's) RECEIPT waits for all of
//! that.
//!
//! What the durable subscriptions collect then travels as queue messages do (`queues`): the
//! publisher's node publishes a copy to each one's subject and the SEND's RECEIPT waits for the
//! PubAcks; a node whose clients consume a durable subscription pulls from its consumer, acks
//! what they acknowledge, and naks what they give back. Its backlog is JetStream's, so a node's
//! crash loses none of it, and a client may consume it again on any node.

use async_nats::jetstream::context::ConsumerInfoErrorKind;
use async_nats::jetstream::stream;
use async_nats::jetstream::{self, Context};
use serde::{Deserialize, Serialize};
use stompbox_core::auth::{Connector, Principal};
use stompbox_core::broker::{Broker, Confirmer, DurableSubscription};
use stompbox_core::destination::DURABLE_PREFIX;
use tracing::warn;

use super::queues::{self, Settings};
use super::{bump, last_word, subject, Link};

/// A durable subscription a local client changed, on its way to the bridge task.
#[derive(Debug)]
pub(super) struct Change {
    pub(super) name: String,
    /// The client that subscribed; none when it deleted the subscription.
    pub(super) owner: Option<Principal>,
    pub(super) confirmer: Confirmer,
}

/// What the durable subscription `name` is now (none: deleted), and who subscribed to it last
/// (their `receive` rights filter what a wildcard one collects), as published for every node.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct Word {
    name: String,
    subscription: Option<DurableSubscription>,
    owner: Option<Owner>,
}

impl Word {
    pub(super) fn new(name: String, subscription: Option<DurableSubscription>, owner: Option<&Principal>) -> Word {
        Word { name, subscription, owner: owner.map(Owner::from) }
    }
}

/// A [`Principal`] in a [`Word`]: access rules decide by user, groups and listener.
#[derive(Debug, Serialize, Deserialize)]
struct Owner {
    user: Option<String>,
    groups: Vec<String>,
    listener: String,
    listener_kind: String,
}

impl From<&Principal> for Owner {
    fn from(principal: &Principal) -> Owner {
        Owner {
            user: principal.user.as_deref().map(str::to_owned),
            groups: principal.groups.iter().map(|group| group.to_string()).collect(),
            listener: principal.connector.name.to_string(),
            listener_kind: principal.connector.kind.to_string(),
        }
    }
}

impl From<Owner> for Principal {
    fn from(owner: Owner) -> Principal {
        Principal {
            user: owner.user.map(Into::into),
            groups: owner.groups.into_iter().map(Into::into).collect(),
            connector: Connector { name: owner.listener.into(), kind: owner.listener_kind.into() },
        }
    }
}

/// What a durable subscription's JetStream consumer says it is, in its description.
pub(super) fn describe(subscription: &Option<DurableSubscription>) -> String {
    serde_json::to_string(subscription).expect("a durable subscription serializes")
}

/// Tells the cluster what the durable subscription `name` is now on this node (see the module
/// docs); `Err` says why the cluster does not know.
pub(super) async fn announce(jetstream: &Context, prefix: &str, settings: Settings, word: Word) -> Result<(), String> {
    let name = &word.name;
    let failed = |error: &dyn std::fmt::Display| format!("JetStream, durable subscription {name}: {error}");
    let stream = queues::queues_stream(jetstream, prefix, settings.replicas).await.map_err(|e| failed(&*e))?;
    let destination = format!("{DURABLE_PREFIX}{name}");
    let (subject, consumer) = subject::shared_queue(prefix, &destination).expect("a durable subscription's");
    // A deletion's description (`null`) is no consumer's: it removes whatever is there.
    let description = describe(&word.subscription);
    let same = match stream.consumer_info(&consumer).await {
        Ok(info) => info.config.description.as_deref() == Some(description.as_str()),
        Err(error) if error.kind() == ConsumerInfoErrorKind::NotFound => false,
        Err(error) => return Err(failed(&error)),
    };
    if !same {
        // What an earlier subscription of the name collected is not this one's.
        queues::remove(&stream, &consumer, &subject).await.map_err(|e| failed(&*e))?;
        if word.subscription.is_some() {
            let config = queues::consumer_config(&consumer, &subject, settings, Some(description));
            stream.create_consumer(config).await.map_err(|e| failed(&e))?;
        }
    }
    jetstream.get_or_create_stream(self::stream(prefix, settings.replicas)).await.map_err(|e| failed(&e))?;
    let subject = subject::for_subscription(prefix, name);
    let acknowledged = jetstream.publish(subject, serde_json::to_vec(&word).expect("a word serializes").into()).await;
    acknowledged.map_err(|e| failed(&e))?.await.map_err(|e| failed(&e))?;
    Ok(())
}

/// The durable subscriptions' words, which every node follows (see the module docs).
pub(super) fn stream(prefix: &str, replicas: usize) -> stream::Config {
    last_word::stream(subject::stream_name(prefix, "subscriptions"), subject::all_subscriptions(prefix), replicas)
}

/// Makes, replaces or deletes a durable subscription on this node as its word says.
pub(super) fn apply(broker: &Broker, link: &Link, message: jetstream::Message) {
    let applied =
        serde_json::from_slice::<Word>(&message.message.payload).map_err(|error| error.to_string()).and_then(|word| {
            let owner = word.owner.map(Principal::from);
            broker.durable_from_cluster(&word.name, word.subscription, owner).map_err(|e| e.to_string())
        });
    if let Err(error) = applied {
        bump(&link.counters.dropped);
        warn!(%error, "cluster: dropped a durable subscription's word from JetStream");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_word_carries_its_owner_whole() {
        let connector = Connector { name: "public".into(), kind: "wss".into() };
        let owner = Principal { groups: vec!["users".into(), "chat".into()], ..Principal::user("demo", connector) };
        let subscription = DurableSubscription { pattern: "/topic/chat.*".into(), selector: Some("n > 1".into()) };
        let word =
            Word { name: "archive".into(), subscription: Some(subscription.clone()), owner: Some((&owner).into()) };
        let read: Word = serde_json::from_slice(&serde_json::to_vec(&word).unwrap()).unwrap();
        assert_eq!((read.name.as_str(), read.subscription), ("archive", Some(subscription)));
        assert_eq!(read.owner.map(Principal::from), Some(owner));
        let deleted: Word = serde_json::from_str(r#"{"name":"archive","subscription":null}"#).unwrap();
        assert!(deleted.subscription.is_none() && deleted.owner.is_none(), "a deletion names no owner");
    }
}
