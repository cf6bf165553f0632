//! The snapshot: connections from the registry, destinations from the router, closed
//! connections with their reasons, and counters that match what happened.

use std::sync::Arc;

use super::{frame, open, Client};
use crate::broker::{Broker, BrokerConfig, CloseReason, ManualClock, ProtocolError};
use crate::frame::Command;

#[test]
fn connections_show_their_login_version_subscriptions_and_traffic() {
    let broker = Broker::new(BrokerConfig::default());
    let mut c = Client::connect(&broker, "1.1");
    c.ok(Command::Subscribe, &[("id", "s1"), ("destination", "/queue/jobs"), ("ack", "client")]);
    c.ok(Command::Subscribe, &[("id", "s2"), ("destination", "/topic/chat.*")]);
    c.send("/topic/chat.general", "hi");
    let (_fresh, _outbox) = open(&broker);
    let snapshot = broker.snapshot();
    assert_eq!(snapshot.connections.len(), 2);
    let row = snapshot.connections.iter().find(|row| row.session == c.session.name()).unwrap();
    assert_eq!(
        (row.version, row.user.as_deref(), row.listener.as_str(), row.kind.as_str()),
        (Some("1.1"), None, "tcp", "tcp")
    );
    assert_eq!(row.messages_in, 1);
    let subscriptions: Vec<_> =
        row.subscriptions.iter().map(|s| (s.id.as_str(), s.destination.as_str(), s.ack)).collect();
    assert_eq!(subscriptions, [("s1", "/queue/jobs", "client"), ("s2", "/topic/chat.*", "auto")]);
    let fresh = snapshot.connections.iter().find(|row| row.session != c.session.name()).unwrap();
    assert_eq!(fresh.version, None, "not connected yet");
    c.ok(Command::Unsubscribe, &[("id", "s1")]);
    let row = broker.snapshot().connections.into_iter().find(|row| row.session == c.session.name()).unwrap();
    assert_eq!(row.subscriptions.len(), 1);
}

#[test]
fn destinations_count_producers_consumers_and_messages() {
    let broker = Broker::new(BrokerConfig::default());
    let mut sub = Client::connect(&broker, "1.2");
    sub.ok(Command::Subscribe, &[("id", "a"), ("destination", "/topic/chat.general")]);
    sub.ok(Command::Subscribe, &[("id", "b"), ("destination", "/topic/chat.**")]);
    let mut p = Client::connect(&broker, "1.2");
    p.send("/topic/chat.general", "1");
    p.send("/topic/chat.general", "2");
    p.send("/queue/jobs", "job");
    let snapshot = broker.snapshot();
    let names: Vec<_> = snapshot.destinations.iter().map(|d| (d.destination.as_str(), d.kind)).collect();
    assert_eq!(names, [("/queue/jobs", "queue"), ("/topic/chat.general", "topic")]);
    let topic = &snapshot.destinations[1];
    assert_eq!((topic.producers, topic.consumers, topic.enqueued, topic.dequeued), (1, 2, 2, 4));
    let queue = &snapshot.destinations[0];
    assert_eq!((queue.producers, queue.consumers, queue.enqueued, queue.depth), (1, 0, 1, 1));
    assert!(queue.bytes > 3);
    let mut worker = Client::connect(&broker, "1.2");
    worker.ok(Command::Subscribe, &[("id", "w"), ("destination", "/queue/jobs")]);
    assert_eq!(worker.bodies(), ["job"]);
    let queue = broker.snapshot().destinations.into_iter().find(|d| d.kind == "queue").unwrap();
    assert_eq!((queue.consumers, queue.dequeued, queue.depth), (1, 1, 0));
    drop(p);
    let topic = broker.snapshot().destinations.into_iter().find(|d| d.kind == "topic").unwrap();
    assert_eq!(topic.producers, 0, "a closed connection publishes no more");
}

#[test]
fn closed_connections_keep_their_reason_and_are_counted_by_kind() {
    let broker = Broker::new(BrokerConfig::default());
    let c = Client::connect(&broker, "1.2");
    c.session.finish(&CloseReason::Protocol(ProtocolError::AlreadyConnected));
    let (fresh, _outbox) = open(&broker);
    fresh.finish(&CloseReason::PeerClosed);
    let snapshot = broker.snapshot();
    assert!(snapshot.connections.is_empty());
    let kinds: Vec<_> = snapshot.closed.iter().map(|c| c.kind).collect();
    assert_eq!(kinds, ["protocol-error", "peer-closed"]);
    assert_eq!(snapshot.closed[0].reason, "protocol error: already connected");
    assert_eq!(snapshot.closed[0].connection.version, Some("1.2"));
    assert_eq!(snapshot.stats.closes["protocol-error"], 1);
    assert_eq!(snapshot.stats.closes["peer-closed"], 1);
    assert_eq!(snapshot.stats.closes["slow-consumer"], 0);
}

#[test]
fn a_message_that_expires_while_queued_is_dropped_and_counted() {
    let clock = Arc::new(ManualClock::starting_at(1_000_000));
    let broker = Broker::new(BrokerConfig { clock: clock.clone(), ..BrokerConfig::default() });
    let mut p = Client::connect(&broker, "1.2");
    p.ok(Command::Send, &[("destination", "/queue/q"), ("expires", "1000500")]);
    p.ok(Command::Send, &[("destination", "/queue/q"), ("expires", "1000900")]);
    clock.advance(600);
    let mut c = Client::connect(&broker, "1.2");
    c.ok(Command::Subscribe, &[("id", "s"), ("destination", "/queue/q")]);
    assert_eq!(c.messages().len(), 1, "the first expired while it waited; the second had not yet");
    let queue = &broker.snapshot().destinations[0];
    assert_eq!((queue.expired, queue.enqueued), (1, 2));
    assert_eq!(broker.stats().expired, 1);
}

#[test]
fn the_snapshot_is_plain_serde_data() {
    let broker = Broker::new(BrokerConfig::default());
    let mut p = Client::connect(&broker, "1.2");
    p.send("/queue/jobs", "x");
    let mut s = frame(Command::Send, &[("destination", "/topic/t")]);
    s = s.with_body("y");
    p.handle(s).unwrap();
    let json = serde_json::to_value(broker.snapshot()).unwrap();
    assert_eq!(json["destinations"][0]["destination"], "/queue/jobs");
    assert_eq!(json["connections"][0]["version"], "1.2");
    assert_eq!(json["stats"]["closes"]["disconnect"], 0);
}
