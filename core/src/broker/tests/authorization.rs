//! The router asks the authorizer about every connect, send, subscribe and creation, caches its
//! answers per session, and drops them when the rules' version moves.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use super::{frame, handle_connect, open, Client};
use crate::auth::{Authorizer, Operation, Principal, Resource};
use crate::broker::{Broker, BrokerConfig, ProtocolError};
use crate::frame::Command;

/// Refuses the listed operations (on any destination, or on one named destination), and
/// records every question it is asked.
#[derive(Debug, Default)]
struct Rules {
    refused: Mutex<Vec<(Operation, Option<&'static str>)>>,
    asked: Mutex<Vec<(Operation, String)>>,
    version: AtomicU64,
}

impl Rules {
    fn refuse(&self, operation: Operation, destination: Option<&'static str>) {
        self.refused.lock().push((operation, destination));
        self.version.fetch_add(1, Ordering::SeqCst);
    }

    fn asked(&self, operation: Operation) -> usize {
        self.asked.lock().iter().filter(|(op, _)| *op == operation).count()
    }
}

impl Authorizer for Rules {
    fn allows(&self, _: &Principal, operation: Operation, resource: Resource<'_>) -> bool {
        let name = match resource {
            Resource::Destination(destination) => destination.as_str().to_owned(),
            _ => String::new(),
        };
        self.asked.lock().push((operation, name.clone()));
        !self.refused.lock().iter().any(|(op, only)| *op == operation && only.is_none_or(|d| d == name))
    }

    fn version(&self) -> u64 {
        self.version.load(Ordering::SeqCst)
    }
}

fn broker_with(rules: &Arc<Rules>) -> Broker {
    Broker::new(BrokerConfig { authorizer: rules.clone(), ..BrokerConfig::default() })
}

#[test]
fn connect_needs_the_connect_permission() {
    let rules = Arc::new(Rules::default());
    rules.refuse(Operation::Connect, None);
    let broker = broker_with(&rules);
    let (mut session, _outbox) = open(&broker);
    let mut replies = Vec::new();
    let error = handle_connect(&broker, &mut session, frame(Command::Connect, &[]), &mut replies).unwrap_err();
    assert_eq!(error.to_frame().header("code"), Some("access-denied"));
    assert!(error.error.to_string().contains("anonymous may not connect the broker"), "{}", error.error);
    assert!(replies.is_empty(), "no CONNECTED");
}

#[test]
fn a_refused_send_creates_and_delivers_nothing() {
    let rules = Arc::new(Rules::default());
    rules.refuse(Operation::Send, Some("/queue/secret"));
    let broker = broker_with(&rules);
    let mut p = Client::connect(&broker, "1.2");
    let refused = p.handle(frame(Command::Send, &[("destination", "/queue/secret")])).unwrap_err();
    assert!(matches!(refused.error, ProtocolError::AccessDenied { operation: Operation::Send, .. }));
    assert_eq!(broker.queue_depth("/queue/secret"), 0);
    assert!(broker.snapshot().destinations.is_empty(), "nothing was created");
    p.send("/queue/open", "fine");
    assert_eq!(broker.queue_depth("/queue/open"), 1);
}

#[test]
fn creating_a_destination_needs_the_create_permission() {
    let rules = Arc::new(Rules::default());
    rules.refuse(Operation::Create, None);
    let broker = broker_with(&rules);
    let mut c = Client::connect(&broker, "1.2");
    for destination in ["/queue/new", "/topic/new"] {
        let refused = c.handle(frame(Command::Send, &[("destination", destination)])).unwrap_err();
        assert!(matches!(refused.error, ProtocolError::AccessDenied { operation: Operation::Create, .. }));
        let subscribe = frame(Command::Subscribe, &[("id", "s"), ("destination", destination)]);
        assert!(c.handle(subscribe).is_err());
    }
    // A wildcard subscription creates nothing, so it needs no create permission.
    c.ok(Command::Subscribe, &[("id", "w"), ("destination", "/topic/new.*")]);
}

#[test]
fn subscribing_needs_receive_for_topics_and_consume_for_queues() {
    let rules = Arc::new(Rules::default());
    rules.refuse(Operation::Receive, Some("/topic/private"));
    rules.refuse(Operation::Consume, Some("/queue/jobs"));
    let broker = broker_with(&rules);
    let mut c = Client::connect(&broker, "1.2");
    let topic = c.handle(frame(Command::Subscribe, &[("id", "t"), ("destination", "/topic/private")])).unwrap_err();
    assert!(matches!(topic.error, ProtocolError::AccessDenied { operation: Operation::Receive, .. }));
    let queue = c.handle(frame(Command::Subscribe, &[("id", "q"), ("destination", "/queue/jobs")])).unwrap_err();
    assert!(matches!(queue.error, ProtocolError::AccessDenied { operation: Operation::Consume, .. }));
    assert_eq!(broker.topic_subscriptions(), 0);
}

#[test]
fn decisions_are_cached_per_session_until_the_rules_change() {
    let rules = Arc::new(Rules::default());
    let broker = broker_with(&rules);
    let mut p = Client::connect(&broker, "1.2");
    for _ in 0..10 {
        p.send("/topic/chat", "hi");
    }
    assert_eq!(rules.asked(Operation::Send), 1, "one rule check for ten SENDs");
    rules.refuse(Operation::Send, Some("/topic/chat"));
    let refused = p.handle(frame(Command::Send, &[("destination", "/topic/chat")])).unwrap_err();
    assert!(matches!(refused.error, ProtocolError::AccessDenied { .. }), "new rules apply at once");
}

#[test]
fn a_transaction_checks_its_sends_when_they_are_buffered() {
    let rules = Arc::new(Rules::default());
    rules.refuse(Operation::Send, Some("/queue/secret"));
    let broker = broker_with(&rules);
    let mut p = Client::connect(&broker, "1.2");
    p.ok(Command::Begin, &[("transaction", "t")]);
    let refused = p.handle(frame(Command::Send, &[("destination", "/queue/secret"), ("transaction", "t")]));
    assert!(matches!(refused.unwrap_err().error, ProtocolError::AccessDenied { .. }));
}
