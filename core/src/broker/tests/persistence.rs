//! Persistence through the engine, over the in-memory backend: a "crash" is a new broker opened on
//! what the old one made durable.

use super::*;
use crate::store::MemoryBackend;

fn persistent_broker(backend: &MemoryBackend, config: BrokerConfig) -> Broker {
    Broker::with_store(config, Box::new(backend.clone())).expect("the image reads back")
}

/// What the store made durable, opened as a broker would be after a crash.
fn after_crash(broker: Broker, backend: &MemoryBackend, config: BrokerConfig) -> Broker {
    let store = broker.store().expect("a store").clone();
    store.flush();
    store.close();
    persistent_broker(backend, config)
}

fn send_persistent(client: &mut Client, destination: &str, body: &'static str) {
    let send = frame(Command::Send, &[("destination", destination), ("persistent", "true")]).with_body(body);
    assert!(matches!(client.handle(send).unwrap(), Action::Continue));
}

fn consume(client: &mut Client, destination: &str, ack: &str) {
    client.ok(Command::Subscribe, &[("id", "0"), ("destination", destination), ("ack", ack)]);
}

fn receipts(replies: &[Frame]) -> Vec<&str> {
    replies.iter().filter(|f| f.command == Command::Receipt).filter_map(|f| f.header("receipt-id")).collect()
}

#[test]
fn a_receipt_waits_until_the_message_is_durable() {
    let backend = MemoryBackend::new();
    let broker = persistent_broker(&backend, BrokerConfig::default());
    let mut p = Client::connect(&broker, "1.2");
    backend.pause();
    let send = frame(Command::Send, &[("destination", "/queue/q"), ("persistent", "true"), ("receipt", "s1")]);
    p.handle(send).unwrap();
    p.ok(Command::Begin, &[("transaction", "t"), ("receipt", "b1")]);
    assert!(receipts(&p.replies).is_empty(), "no receipt before the store syncs, nor after it");
    assert!(p.session.awaited().is_some());
    backend.resume();
    broker.store().unwrap().flush();
    p.session.release_receipts(&mut p.replies).unwrap();
    assert_eq!(receipts(&p.replies), ["s1", "b1"], "in order");
    assert_eq!(backend.messages(), 1);
}

#[test]
fn a_restart_restores_unacknowledged_persistent_messages_marked_redelivered() {
    let backend = MemoryBackend::new();
    let broker = persistent_broker(&backend, BrokerConfig::default());
    let mut p = Client::connect(&broker, "1.2");
    for body in ["1", "2", "3"] {
        send_persistent(&mut p, "/queue/jobs", body);
    }
    p.send("/queue/jobs", "memory only");
    let mut c = Client::connect(&broker, "1.2");
    c.ok(
        Command::Subscribe,
        &[("id", "0"), ("destination", "/queue/jobs"), ("ack", "client-individual"), ("prefetch-count", "1")],
    );
    let first = c.messages();
    assert_eq!(first[0].body, "1");
    c.ok(Command::Ack, &[("id", first[0].header("ack").unwrap())]);
    assert_eq!(c.bodies(), ["2"], "delivered, not acknowledged");
    drop((p, c));

    let broker = after_crash(broker, &backend, BrokerConfig::default());
    assert_eq!(broker.queue_depth("/queue/jobs"), 2);
    let mut c = Client::connect(&broker, "1.2");
    consume(&mut c, "/queue/jobs", "auto");
    let messages = c.messages();
    let bodies: Vec<_> = messages.iter().map(|m| m.body.clone()).collect();
    assert_eq!(bodies, ["2", "3"]);
    assert!(messages.iter().all(|m| m.header("redelivered") == Some("true")));
    assert_eq!(messages[0].header("persistent"), Some("true"));
}

#[test]
fn acknowledged_messages_leave_the_store() {
    let backend = MemoryBackend::new();
    let broker = persistent_broker(&backend, BrokerConfig::default());
    let mut c = Client::connect(&broker, "1.2");
    consume(&mut c, "/queue/q", "auto");
    let mut p = Client::connect(&broker, "1.2");
    for body in ["1", "2"] {
        send_persistent(&mut p, "/queue/q", body);
    }
    assert_eq!(c.bodies(), ["1", "2"], "written, so acknowledged");
    broker.store().unwrap().flush();
    assert_eq!(backend.messages(), 0);
    let broker = after_crash(broker, &backend, BrokerConfig::default());
    assert_eq!(broker.queue_depth("/queue/q"), 0);
}

#[test]
fn a_failed_sync_fails_held_receipts_and_refuses_persistent_sends() {
    let backend = MemoryBackend::new();
    let broker = persistent_broker(&backend, BrokerConfig::default());
    let mut p = Client::connect(&broker, "1.2");
    backend.fail_at(1);
    let send = frame(Command::Send, &[("destination", "/queue/q"), ("persistent", "true"), ("receipt", "s1")]);
    p.handle(send).unwrap();
    broker.store().unwrap().flush();
    let error = p.session.release_receipts(&mut p.replies).unwrap_err();
    assert_eq!(error.receipt.as_deref(), Some("s1"));
    assert_eq!(error.to_frame().header("code"), Some("store-failed"));
    let again = frame(Command::Send, &[("destination", "/queue/q"), ("persistent", "true")]);
    assert!(matches!(p.handle(again).unwrap_err().error, ProtocolError::Store(_)));
    p.send("/queue/q", "memory only is still fine");
    assert!(broker.snapshot().store.unwrap().failed.is_some(), "visible in the snapshot");
}

#[test]
fn a_transaction_is_one_durable_write() {
    let backend = MemoryBackend::new();
    let broker = persistent_broker(&backend, BrokerConfig::default());
    let mut p = Client::connect(&broker, "1.2");
    p.ok(Command::Begin, &[("transaction", "t")]);
    let before = backend.commits();
    backend.pause();
    for body in ["1", "2", "3"] {
        let send = frame(Command::Send, &[("destination", "/queue/q"), ("persistent", "true"), ("transaction", "t")])
            .with_body(body);
        assert!(matches!(p.handle(send).unwrap(), Action::Continue));
    }
    p.ok(Command::Commit, &[("transaction", "t"), ("receipt", "c")]);
    backend.resume();
    broker.store().unwrap().flush();
    p.session.release_receipts(&mut p.replies).unwrap();
    assert_eq!(receipts(&p.replies), ["c"]);
    assert_eq!(backend.commits(), before + 1, "the queue's catalog entry and three messages in one batch");
    assert_eq!(backend.messages(), 3);
}

#[test]
fn a_message_nacked_past_its_limit_is_dead_lettered_with_its_story() {
    let rule = QueueRule { max_redeliveries: Some(2), ..QueueRule::new("jobs") };
    let config = || BrokerConfig {
        queues: QueuesConfig { rule: vec![rule.clone()], ..QueuesConfig::default() },
        ..BrokerConfig::default()
    };
    let backend = MemoryBackend::new();
    let broker = persistent_broker(&backend, config());
    let mut p = Client::connect(&broker, "1.2");
    send_persistent(&mut p, "/queue/jobs", "poison");
    let mut c = Client::connect(&broker, "1.2");
    consume(&mut c, "/queue/jobs", "client-individual");
    for delivery in 1..=3 {
        let message = c.messages().pop().expect("delivered again");
        assert_eq!(message.header("redelivered").is_some(), delivery > 1);
        c.ok(Command::Nack, &[("id", message.header("ack").unwrap())]);
    }
    assert!(c.messages().is_empty(), "two redeliveries, then the dead-letter queue");
    assert_eq!(broker.queue_depth("/queue/jobs"), 0);
    assert_eq!(broker.queue_depth("/queue/DLQ.jobs"), 1);
    let broker = after_crash(broker, &backend, config());
    assert_eq!(broker.queue_depth("/queue/jobs"), 0, "the original left the store");
    let mut d = Client::connect(&broker, "1.2");
    consume(&mut d, "/queue/DLQ.jobs", "auto");
    let dead = d.messages().pop().expect("the dead letter survived the restart");
    assert_eq!(dead.body, "poison");
    assert_eq!(dead.header("original-destination"), Some("/queue/jobs"));
    assert_eq!(dead.header("dead-letter-reason"), Some("delivered 3 times without acknowledgement"));
}

#[test]
fn expired_messages_are_dead_lettered_when_the_rule_says_so() {
    let clock = Arc::new(ManualClock::starting_at(1_000));
    let rule = QueueRule {
        dead_letter_expired: Some(true),
        dead_letter: Some("expired.*".into()),
        ..QueueRule::new("offers")
    };
    let queues = QueuesConfig { rule: vec![rule], ..QueuesConfig::default() };
    let broker = Broker::new(BrokerConfig { queues, clock: clock.clone(), ..BrokerConfig::default() });
    let mut p = Client::connect(&broker, "1.2");
    for queue in ["/queue/offers", "/queue/other"] {
        p.ok(Command::Send, &[("destination", queue), ("expires", "2000")]);
    }
    clock.advance(1_000);
    let mut c = Client::connect(&broker, "1.2");
    consume(&mut c, "/queue/offers", "auto");
    c.ok(Command::Subscribe, &[("id", "1"), ("destination", "/queue/other")]);
    assert!(c.messages().is_empty());
    assert_eq!(broker.queue_depth("/queue/expired.offers"), 1);
    assert_eq!(broker.queue_depth("/queue/DLQ.other"), 0, "dropped: the default is not to dead-letter");
    assert_eq!(broker.stats().expired, 2);
}

#[test]
fn a_browser_sees_the_queue_without_taking_it() {
    let broker = Broker::new(BrokerConfig::default());
    let mut p = Client::connect(&broker, "1.2");
    p.send("/queue/q", "1");
    p.send("/queue/q", "2");
    let mut b = Client::connect(&broker, "1.2");
    b.ok(Command::Subscribe, &[("id", "b"), ("destination", "/queue/q"), ("browser", "true")]);
    let seen = b.messages();
    assert_eq!(seen.iter().map(|m| m.body.clone()).collect::<Vec<_>>(), ["1", "2", ""]);
    assert_eq!(seen[2].header("browser"), Some("end"));
    assert_eq!(broker.queue_depth("/queue/q"), 2, "nothing taken");
    let mut open = Client::connect(&broker, "1.2");
    open.ok(
        Command::Subscribe,
        &[("id", "b"), ("destination", "/queue/q"), ("browser", "true"), ("browser-end", "false")],
    );
    assert_eq!(open.bodies(), ["1", "2"]);
    p.send("/queue/q", "3");
    assert_eq!(open.bodies(), ["3"], "a browser that stays open sees new messages");
    assert!(b.messages().is_empty(), "the ended browser does not");
    let refused =
        open.handle(frame(Command::Subscribe, &[("id", "t"), ("destination", "/topic/t"), ("browser", "true")]));
    assert_eq!(refused.unwrap_err().error, ProtocolError::BrowseNotQueue);
}

/// A durable subscription's SUBSCRIBE and UNSUBSCRIBE headers in one dialect.
struct Dialect {
    connect: &'static [(&'static str, &'static str)],
    subscribe: &'static [(&'static str, &'static str)],
    delete: &'static [(&'static str, &'static str)],
    stored_as: &'static str,
}

const DIALECTS: [Dialect; 3] = [
    Dialect {
        connect: &[],
        subscribe: &[("persistent", "true")],
        delete: &[("persistent", "true")],
        stored_as: "/dsub/feed",
    },
    Dialect {
        connect: &[("client-id", "php-7")],
        subscribe: &[("activemq.subscriptionName", "prices")],
        delete: &[("activemq.subscriptionName", "prices")],
        stored_as: "/dsub/php-7.prices",
    },
    Dialect {
        connect: &[],
        subscribe: &[("durable", "true"), ("auto-delete", "false")],
        delete: &[("durable", "true"), ("auto-delete", "false")],
        stored_as: "/dsub/feed",
    },
];

fn connect_as(broker: &Broker, dialect: &Dialect) -> Client {
    let (mut session, outbox) = open(broker);
    let mut replies = Vec::new();
    let mut connect = frame(Command::Connect, &[("accept-version", "1.2")]);
    for (name, value) in dialect.connect {
        connect = connect.with_header(*name, *value);
    }
    handle_connect(broker, &mut session, connect, &mut replies).unwrap();
    Client { session, outbox, replies }
}

fn subscribe_durably(client: &mut Client, dialect: &Dialect) {
    let mut headers = vec![("id", "feed"), ("destination", "/topic/prices.*"), ("ack", "client")];
    headers.extend_from_slice(dialect.subscribe);
    client.ok(Command::Subscribe, &headers);
}

#[test]
fn durable_subscriptions_collect_while_away_and_outlive_a_restart_in_every_dialect() {
    for dialect in &DIALECTS {
        let backend = MemoryBackend::new();
        let broker = persistent_broker(&backend, BrokerConfig::default());
        let mut s = connect_as(&broker, dialect);
        subscribe_durably(&mut s, dialect);
        s.ok(Command::Unsubscribe, &[("id", "feed")]);
        drop(s);
        let mut p = Client::connect(&broker, "1.2");
        send_persistent(&mut p, "/topic/prices.eu", "1");
        send_persistent(&mut p, "/topic/news", "not matched");
        p.send("/topic/prices.us", "memory only");
        assert_eq!(broker.queue_depth(dialect.stored_as), 2, "{}", dialect.stored_as);

        let broker = after_crash(broker, &backend, BrokerConfig::default());
        let mut p = Client::connect(&broker, "1.2");
        send_persistent(&mut p, "/topic/prices.eu", "2");
        let mut s = connect_as(&broker, dialect);
        subscribe_durably(&mut s, dialect);
        let messages = s.messages();
        let bodies: Vec<_> = messages.iter().map(|m| m.body.clone()).collect();
        assert_eq!(bodies, ["1", "2"], "{}", dialect.stored_as);
        assert_eq!(messages[0].header("destination"), Some("/topic/prices.eu"));
        assert_eq!(messages[0].header("redelivered"), Some("true"));
        s.ok(Command::Ack, &[("id", messages[1].header("ack").unwrap())]);

        let mut headers = vec![("id", "feed")];
        headers.extend_from_slice(dialect.delete);
        s.ok(Command::Unsubscribe, &headers);
        let broker = after_crash(broker, &backend, BrokerConfig::default());
        assert_eq!(broker.queue_depth(dialect.stored_as), 0);
        assert_eq!(broker.topic_subscriptions(), 0, "deleted: {}", dialect.stored_as);
    }
}

#[test]
fn a_durable_subscription_is_consumed_through_dsub_and_bounded_by_queue_limits() {
    let rule = QueueRule { max_messages: Some(2), ..QueueRule::new("feed") };
    let queues = QueuesConfig { rule: vec![rule], ..QueuesConfig::default() };
    let broker = Broker::new(BrokerConfig { queues, ..BrokerConfig::default() });
    let mut s = Client::connect(&broker, "1.2");
    s.ok(Command::Subscribe, &[("id", "feed"), ("destination", "/topic/t"), ("persistent", "true")]);
    s.ok(Command::Unsubscribe, &[("id", "feed")]);
    let mut p = Client::connect(&broker, "1.2");
    for body in ["1", "2", "3"] {
        p.send("/topic/t", body);
    }
    let mut c = Client::connect(&broker, "1.2");
    c.ok(Command::Subscribe, &[("id", "x"), ("destination", "/dsub/feed")]);
    assert_eq!(c.bodies(), ["1", "2"], "the third did not fit");
    let missing = c.handle(frame(Command::Subscribe, &[("id", "y"), ("destination", "/dsub/nothing")]));
    assert_eq!(missing.unwrap_err().error, ProtocolError::NoSuchDurable("nothing".into()));
    let refused = p.handle(frame(Command::Send, &[("destination", "/dsub/feed")]));
    assert!(matches!(refused.unwrap_err().error, ProtocolError::SendToDurable(_)));
    let anonymous = c.handle(frame(
        Command::Subscribe,
        &[("id", "z"), ("destination", "/topic/t"), ("activemq.subscriptionName", "s")],
    ));
    assert_eq!(anonymous.unwrap_err().error, ProtocolError::DurableNeedsName("a client-id on CONNECT"));
}

#[test]
fn a_durable_subscriptions_selector_outlives_a_restart_and_another_one_replaces_it() {
    let backend = MemoryBackend::new();
    let broker = persistent_broker(&backend, BrokerConfig::default());
    let durably = |selector: &'static str| {
        vec![("id", "feed"), ("destination", "/topic/prices"), ("persistent", "true"), ("selector", selector)]
    };
    let publish = |client: &mut Client, region: &'static str| {
        let send =
            frame(Command::Send, &[("destination", "/topic/prices"), ("persistent", "true"), ("region", region)]);
        assert!(matches!(client.handle(send.with_body(region)).unwrap(), Action::Continue));
    };
    let mut s = Client::connect(&broker, "1.2");
    s.ok(Command::Subscribe, &durably("region = 'eu'"));
    s.ok(Command::Unsubscribe, &[("id", "feed")]);
    let broker = after_crash(broker, &backend, BrokerConfig::default());

    let mut p = Client::connect(&broker, "1.2");
    publish(&mut p, "eu");
    publish(&mut p, "us");
    assert_eq!(broker.queue_depth("/dsub/feed"), 1, "the recovered selector still selects");
    let mut s = Client::connect(&broker, "1.2");
    s.ok(Command::Subscribe, &durably("region = 'eu'"));
    assert_eq!(s.bodies(), ["eu"], "the same selector keeps the subscription");
    s.ok(Command::Unsubscribe, &[("id", "feed")]);
    publish(&mut p, "eu");
    assert_eq!(broker.queue_depth("/dsub/feed"), 1);
    s.ok(Command::Subscribe, &durably("region = 'us'"));
    assert_eq!(broker.queue_depth("/dsub/feed"), 0, "another selector replaces it, backlog and all");
    publish(&mut p, "us");
    assert_eq!(s.bodies(), ["us"]);
}
