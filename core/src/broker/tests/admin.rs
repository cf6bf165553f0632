//! What an operator does: close a connection, purge and delete queues; and the broker's byte
//! totals, which outlive the connections they were counted on.

use std::sync::atomic::Ordering;

use super::{open, Client};
use crate::broker::{Broker, BrokerConfig, CloseReason, QueueError};
use crate::error_code::ErrorCode;
use crate::frame::Command;

fn connection_id(broker: &Broker, client: &Client) -> u64 {
    broker.connections().into_iter().find(|c| c.session == client.session.name()).expect("listed").id
}

#[test]
fn closing_a_connection_closes_its_outbox_with_the_operators_reason() {
    let broker = Broker::new(BrokerConfig::default());
    let mut c = Client::connect(&broker, "1.2");
    let id = connection_id(&broker, &c);
    assert!(broker.close_connection(id));
    let closed = c.outbox.closed().expect("the outbox is closed");
    let reason = CloseReason::from(closed);
    assert_eq!((reason.code(), reason.to_string()), (ErrorCode::Closed, "closed by an operator".to_owned()));
    assert!(reason.lingers(), "the client gets to read the ERROR");
    assert!(c.messages().is_empty());
    c.session.finish(&reason);
    assert_eq!(broker.snapshot().stats.closes["closed-by-operator"], 1);
    assert!(!broker.close_connection(id), "it is gone");
}

#[test]
fn purging_drops_waiting_messages_and_leaves_those_in_flight() {
    let broker = Broker::new(BrokerConfig::default());
    let mut p = Client::connect(&broker, "1.2");
    for body in ["1", "2", "3"] {
        p.send("/queue/jobs", body);
    }
    let mut worker = Client::connect(&broker, "1.2");
    worker.ok(
        Command::Subscribe,
        &[("id", "w"), ("destination", "/queue/jobs"), ("prefetch-count", "1"), ("ack", "client")],
    );
    assert_eq!(worker.bodies(), ["1"]);
    let held = broker.memory().held();
    assert_eq!(broker.purge_queue("/queue/jobs"), Ok(2));
    assert_eq!(broker.queue_depth("/queue/jobs"), 1, "the delivered one waits for its ACK");
    assert!(broker.memory().held() < held, "the purged bytes are no longer held");
    assert_eq!(broker.purge_queue("/queue/none"), Err(QueueError::NoSuchQueue("/queue/none".into())));
}

#[test]
fn a_queue_in_use_is_not_deleted_and_an_unused_one_goes_with_its_messages() {
    let broker = Broker::new(BrokerConfig::default());
    let mut p = Client::connect(&broker, "1.2");
    p.send("/queue/jobs", "1");
    p.send("/queue/jobs", "2");
    let refused = broker.delete_queue("/queue/jobs");
    assert_eq!(refused, Err(QueueError::InUse { queue: "/queue/jobs".into(), consumers: 0, producers: 1 }));
    assert_eq!(
        refused.unwrap_err().to_string(),
        "queue /queue/jobs is in use (0 consumers, 1 producers): close them first"
    );
    drop(p);
    assert_eq!(broker.delete_queue("/queue/jobs"), Ok(2));
    assert!(broker.destinations().is_empty());
    assert_eq!(broker.memory().held(), 0);
    assert!(matches!(broker.delete_queue("/queue/jobs"), Err(QueueError::NoSuchQueue(_))));
}

#[test]
fn byte_totals_keep_what_closed_connections_moved() {
    let broker = Broker::new(BrokerConfig::default());
    let (session, _outbox) = open(&broker);
    session.counters().bytes_in.fetch_add(100, Ordering::Relaxed);
    session.counters().bytes_out.fetch_add(40, Ordering::Relaxed);
    let (other, _other_outbox) = open(&broker);
    other.counters().bytes_in.fetch_add(1, Ordering::Relaxed);
    assert_eq!((broker.stats().bytes_in, broker.stats().bytes_out), (101, 40));
    session.finish(&CloseReason::PeerClosed);
    assert_eq!((broker.stats().bytes_in, broker.stats().bytes_out), (101, 40), "closed, still counted");
}
