//! Engine tests without a runtime or a socket: sessions are fed frames and their outboxes are
//! drained into bytes, which are parsed back.

use bytes::BytesMut;

mod access_rules;
mod admin;
mod authorization;
mod bridge_pressure;
mod cluster;
mod flow;
mod persistence;
mod room;
mod snapshot;

use super::*;
use crate::auth::{Connector, Principal};
use crate::destination::Destination;
use crate::frame::{Command, Frame, FrameLimits, FrameParser, Parsed};

struct Client {
    session: Session,
    outbox: OutboxReceiver,
    replies: Vec<Frame>,
}

fn frame(command: Command, headers: &[(&str, &str)]) -> Frame {
    headers.iter().fold(Frame::new(command), |f, (n, v)| f.with_header(*n, *v))
}

/// A session as a TCP listener would open it.
fn open(broker: &Broker) -> (Session, OutboxReceiver) {
    broker.open_session(ConnectionMeta { peer: None, connector: Connector::of_kind("tcp") })
}

/// Handles a frame as the connection task does: credentials that CONNECT asks to check are
/// checked at once.
fn handle_connect(
    broker: &Broker,
    session: &mut Session,
    frame: Frame,
    replies: &mut Vec<Frame>,
) -> Result<Action, SessionError> {
    match session.handle(frame, replies)? {
        Action::Authenticate(login) => session.authenticated(login.verify(&*broker.authenticator()), replies),
        other => Ok(other),
    }
}

impl Client {
    fn connect(broker: &Broker, version: &str) -> Client {
        let (mut session, outbox) = open(broker);
        let mut replies = Vec::new();
        let connect = frame(Command::Connect, &[("accept-version", version)]);
        let action = handle_connect(broker, &mut session, connect, &mut replies).unwrap();
        assert!(matches!(action, Action::Connected { .. }));
        Client { session, outbox, replies }
    }

    fn handle(&mut self, frame: Frame) -> Result<Action, SessionError> {
        self.session.handle(frame, &mut self.replies)
    }

    fn ok(&mut self, command: Command, headers: &[(&str, &str)]) {
        let action = self.handle(frame(command, headers)).expect("frame accepted");
        assert!(matches!(action, Action::Continue), "{action:?}");
    }

    fn send(&mut self, destination: &str, body: &'static str) {
        let send = frame(Command::Send, &[("destination", destination)]).with_body(body);
        assert!(matches!(self.handle(send).unwrap(), Action::Continue));
    }

    /// Everything waiting in the outbox, as frames.
    fn messages(&mut self) -> Vec<Frame> {
        let mut bytes = BytesMut::new();
        while self.outbox.drain(&mut bytes, usize::MAX).frames > 0 {}
        let mut parser = FrameParser::new(FrameLimits::default());
        let mut frames = Vec::new();
        while let Some(parsed) = parser.parse(&mut bytes).unwrap() {
            if let Parsed::Frame(frame) = parsed {
                frames.push(frame);
            }
        }
        frames
    }

    fn bodies(&mut self) -> Vec<String> {
        self.messages().iter().map(|m| String::from_utf8(m.body.to_vec()).unwrap()).collect()
    }
}

/// `broker` with a fresh `B` attached as its cluster bridge.
fn clustered<B: Bridge + Default + 'static>(broker: Broker) -> (Broker, Arc<B>) {
    let bridge = Arc::new(B::default());
    broker.attach_bridge(bridge.clone());
    (broker, bridge)
}

#[test]
fn topic_fans_out_one_shared_body_to_every_subscriber() {
    let broker = Broker::new(BrokerConfig::default());
    let mut a = Client::connect(&broker, "1.2");
    let mut b = Client::connect(&broker, "1.0");
    a.ok(Command::Subscribe, &[("id", "a"), ("destination", "/topic/chat.*")]);
    b.ok(Command::Subscribe, &[("destination", "/topic/chat.**")]);
    let mut p = Client::connect(&broker, "1.1");
    p.send("/topic/chat.general", "hi");
    let (from_a, from_b) = (a.messages(), b.messages());
    assert_eq!(from_a[0].header("subscription"), Some("a"));
    assert_eq!(from_b[0].header("subscription"), Some("/topic/chat.**"));
    assert_eq!(from_a[0].header("message-id"), from_b[0].header("message-id"));
    assert_eq!(from_a[0].body, "hi");
    assert_eq!(broker.stats().messages_out, 2);
}

#[test]
fn queue_round_robins_and_waits_for_consumers() {
    let broker = Broker::new(BrokerConfig::default());
    let mut p = Client::connect(&broker, "1.2");
    for body in ["1", "2", "3", "4"] {
        p.send("/queue/jobs", body);
    }
    assert_eq!(broker.queue_depth("/queue/jobs"), 4);
    let mut a = Client::connect(&broker, "1.2");
    let mut b = Client::connect(&broker, "1.2");
    a.ok(
        Command::Subscribe,
        &[("id", "0"), ("destination", "/queue/jobs"), ("prefetch-count", "1"), ("ack", "client-individual")],
    );
    b.ok(
        Command::Subscribe,
        &[("id", "0"), ("destination", "/queue/jobs"), ("prefetch-count", "1"), ("ack", "client-individual")],
    );
    let first_a = a.messages();
    let first_b = b.messages();
    assert_eq!(first_a.len() + first_b.len(), 2, "window of one each");
    a.ok(Command::Ack, &[("id", first_a[0].header("ack").unwrap())]);
    b.ok(Command::Ack, &[("id", first_b[0].header("ack").unwrap())]);
    let mut all: Vec<String> = [first_a, first_b, a.messages(), b.messages()]
        .iter()
        .flatten()
        .map(|m| String::from_utf8(m.body.to_vec()).unwrap())
        .collect();
    all.sort();
    assert_eq!(all, ["1", "2", "3", "4"]);
}

#[test]
fn nack_and_disconnect_redeliver_with_the_flag() {
    let broker = Broker::new(BrokerConfig::default());
    let mut p = Client::connect(&broker, "1.2");
    p.send("/queue/q", "m");
    let mut c = Client::connect(&broker, "1.2");
    c.ok(Command::Subscribe, &[("id", "s"), ("destination", "/queue/q"), ("ack", "client")]);
    let first = c.messages();
    assert_eq!(first[0].header("redelivered"), None);
    c.ok(Command::Nack, &[("id", first[0].header("ack").unwrap())]);
    let again = c.messages();
    assert_eq!(again[0].header("redelivered"), Some("true"));
    drop(c);
    let mut d = Client::connect(&broker, "1.2");
    d.ok(Command::Subscribe, &[("id", "s"), ("destination", "/queue/q"), ("ack", "auto")]);
    let last = d.messages();
    assert_eq!((last[0].body.as_ref(), last[0].header("redelivered")), (&b"m"[..], Some("true")));
    assert_eq!(broker.queue_depth("/queue/q"), 0, "auto mode settles once written");
}

#[test]
fn client_ack_is_cumulative() {
    let broker = Broker::new(BrokerConfig::default());
    let mut p = Client::connect(&broker, "1.2");
    for body in ["1", "2", "3"] {
        p.send("/queue/q", body);
    }
    let mut c = Client::connect(&broker, "1.1");
    c.ok(Command::Subscribe, &[("id", "s"), ("destination", "/queue/q"), ("ack", "client")]);
    let messages = c.messages();
    c.ok(Command::Ack, &[("message-id", messages[1].header("message-id").unwrap()), ("subscription", "s")]);
    assert_eq!(broker.queue_depth("/queue/q"), 1);
}

#[test]
fn unmatched_ack_is_ignored() {
    let broker = Broker::new(BrokerConfig::default());
    let mut c = Client::connect(&broker, "1.0");
    c.ok(Command::Subscribe, &[("destination", "/topic/t"), ("ack", "auto")]);
    c.ok(Command::Ack, &[("message-id", "999")]);
    c.ok(Command::Ack, &[("message-id", "not-a-number")]);
}

#[test]
fn transactions_apply_on_commit_only() {
    let broker = Broker::new(BrokerConfig::default());
    let mut c = Client::connect(&broker, "1.2");
    c.ok(Command::Subscribe, &[("id", "s"), ("destination", "/topic/t")]);
    c.ok(Command::Begin, &[("transaction", "tx")]);
    c.ok(Command::Send, &[("destination", "/topic/t"), ("transaction", "tx")]);
    assert!(c.messages().is_empty());
    c.ok(Command::Commit, &[("transaction", "tx")]);
    assert_eq!(c.messages().len(), 1);
    c.ok(Command::Begin, &[("transaction", "tx")]);
    c.ok(Command::Send, &[("destination", "/topic/t"), ("transaction", "tx")]);
    c.ok(Command::Abort, &[("transaction", "tx")]);
    assert!(c.messages().is_empty());
    let error = c.handle(frame(Command::Commit, &[("transaction", "tx"), ("receipt", "r")])).unwrap_err();
    assert_eq!(error.error, ProtocolError::NoSuchTransaction("tx".into()));
    let error = error.to_frame();
    assert_eq!(error.header("message"), Some("no transaction \"tx\" is open"));
    assert_eq!(error.header("receipt-id"), Some("r"));
}

#[test]
fn receipts_follow_every_frame_that_asks() {
    let broker = Broker::new(BrokerConfig::default());
    let mut c = Client::connect(&broker, "1.2");
    c.replies.clear();
    c.ok(Command::Subscribe, &[("id", "s"), ("destination", "/topic/t"), ("receipt", "r1")]);
    let action = c.handle(frame(Command::Disconnect, &[("receipt", "r2")])).unwrap();
    assert!(matches!(action, Action::Disconnect));
    let ids: Vec<_> = c.replies.iter().map(|r| (r.command, r.header("receipt-id").unwrap())).collect();
    assert_eq!(ids, [(Command::Receipt, "r1"), (Command::Receipt, "r2")]);
}

#[test]
fn slow_topic_subscriber_is_closed_and_counted() {
    let delivery = DeliveryConfig { outbox_max_bytes: 1024, ..DeliveryConfig::default() };
    let config = BrokerConfig { delivery, ..BrokerConfig::default() };
    let broker = Broker::new(config);
    let mut slow = Client::connect(&broker, "1.2");
    let mut fast = Client::connect(&broker, "1.2");
    slow.ok(Command::Subscribe, &[("id", "s"), ("destination", "/topic/t")]);
    fast.ok(Command::Subscribe, &[("id", "s"), ("destination", "/topic/t")]);
    let mut p = Client::connect(&broker, "1.2");
    for _ in 0..20 {
        p.send("/topic/t", "0123456789");
        assert_eq!(fast.messages().len(), 1);
    }
    assert_eq!(slow.outbox.closed(), Some(Closed::SlowConsumer { limit: 1024 }));
    assert_eq!(broker.stats().slow_consumers, 1);
}

#[test]
fn drop_oldest_keeps_the_newest_and_counts_the_rest() {
    let delivery = DeliveryConfig {
        outbox_max_bytes: 1024,
        slow_consumer: SlowConsumerPolicy::DropOldest,
        ..DeliveryConfig::default()
    };
    let config = BrokerConfig { delivery, ..BrokerConfig::default() };
    let broker = Broker::new(config);
    let mut slow = Client::connect(&broker, "1.2");
    slow.ok(Command::Subscribe, &[("id", "s"), ("destination", "/topic/t")]);
    let mut p = Client::connect(&broker, "1.2");
    for n in 0..20 {
        let body: &'static str = Box::leak(n.to_string().into_boxed_str());
        p.send("/topic/t", body);
    }
    let kept = slow.bodies();
    assert!(kept.len() < 20 && !kept.is_empty());
    assert_eq!(kept.last().map(String::as_str), Some("19"));
    assert_eq!(broker.stats().dropped, 20 - kept.len() as u64);
    assert_eq!(slow.outbox.closed(), None);
}

#[test]
fn full_queue_blocks_or_errors_by_policy() {
    let rule = QueueRule { when_full: Some(QueueFullPolicy::Error), ..QueueRule::new("strict") };
    let queues = QueuesConfig { max_messages: 1, rule: vec![rule], ..QueuesConfig::default() };
    let config = BrokerConfig { queues, ..BrokerConfig::default() };
    let broker = Broker::new(config);
    let mut p = Client::connect(&broker, "1.2");
    p.send("/queue/lenient", "1");
    let blocked = p.handle(frame(Command::Send, &[("destination", "/queue/lenient"), ("receipt", "r")])).unwrap();
    assert!(matches!(blocked, Action::Blocked(_)));
    assert!(p.replies.iter().all(|r| r.command != Command::Receipt), "no receipt while blocked");
    p.send("/queue/strict", "1");
    let error = p.handle(frame(Command::Send, &[("destination", "/queue/strict")])).unwrap_err();
    assert_eq!(error.error, ProtocolError::QueueFull("/queue/strict".into()));
}

#[test]
fn expired_messages_are_never_delivered() {
    let broker = Broker::new(BrokerConfig::default());
    let mut c = Client::connect(&broker, "1.2");
    c.ok(Command::Subscribe, &[("id", "s"), ("destination", "/topic/t")]);
    let mut p = Client::connect(&broker, "1.2");
    p.ok(Command::Send, &[("destination", "/topic/t"), ("expires", "1")]);
    p.ok(Command::Send, &[("destination", "/queue/q"), ("expires", "1")]);
    p.ok(Command::Send, &[("destination", "/topic/t"), ("expires", "0")]);
    c.ok(Command::Subscribe, &[("id", "q"), ("destination", "/queue/q")]);
    assert_eq!(c.messages().len(), 1, "only the message that never expires");
    assert_eq!(broker.stats().expired, 2);
}

#[test]
fn protocol_errors_name_the_problem() {
    let broker = Broker::new(BrokerConfig::default());
    let (mut fresh, _outbox) = open(&broker);
    let error = fresh.handle(frame(Command::Send, &[("destination", "/topic/t")]), &mut Vec::new()).unwrap_err();
    assert_eq!(error.error, ProtocolError::NotConnected("SEND"));
    let mut c = Client::connect(&broker, "1.2");
    let cases = [
        (frame(Command::Send, &[]), "SEND frame is missing the required destination header"),
        (
            frame(Command::Subscribe, &[("destination", "/topic/t")]),
            "SUBSCRIBE frame is missing the required id header",
        ),
        (frame(Command::Send, &[("destination", "/topic/a.*")]), "wildcards are allowed only"),
        (frame(Command::Subscribe, &[("id", "x"), ("destination", "/queue/a.*")]), "wildcards are allowed only"),
        (
            frame(Command::Subscribe, &[("id", "x"), ("destination", "/topic/t"), ("ack", "sometimes")]),
            "invalid ack mode",
        ),
        (frame(Command::Unsubscribe, &[("id", "nope")]), "no subscription with id"),
        (frame(Command::Connect, &[]), "already connected"),
        (frame(Command::Message, &[]), "MESSAGE is a server frame"),
    ];
    for (bad, expected) in cases {
        let error = c.handle(bad).unwrap_err().to_frame();
        let message = error.header("message").unwrap();
        assert!(message.contains(expected), "{message:?} should contain {expected:?}");
    }
    c.ok(Command::Subscribe, &[("id", "x"), ("destination", "/topic/t")]);
    let reused = c.handle(frame(Command::Subscribe, &[("id", "x"), ("destination", "/topic/u")])).unwrap_err();
    assert_eq!(reused.error, ProtocolError::SubscriptionInUse("x".into()));
}

#[test]
fn connect_negotiates_version_heartbeat_and_login() {
    let broker = Broker::new(BrokerConfig::default());
    let (mut s, _o) = open(&broker);
    let mut replies = Vec::new();
    let connect = frame(Command::Stomp, &[("accept-version", "1.1,1.2"), ("heart-beat", "5000,20000")]);
    let Action::Connected { version, heartbeat } = handle_connect(&broker, &mut s, connect, &mut replies).unwrap()
    else {
        panic!()
    };
    assert_eq!(version, crate::Version::V1_2);
    // As the client asks: beats to it every 20 s, from it every 5 s.
    assert_eq!(heartbeat.send_every, Some(std::time::Duration::from_secs(20)));
    assert_eq!(heartbeat.expect_every, Some(std::time::Duration::from_secs(5)));
    assert_eq!(replies[0].header("heart-beat"), Some("20000,5000"));
    assert_eq!(replies[0].header("session"), Some(s.name()));

    let (mut old, _o) = open(&broker);
    let mut replies = Vec::new();
    let connect = frame(Command::Connect, &[("heart-beat", "1000,1000")]);
    let Action::Connected { version, heartbeat } = handle_connect(&broker, &mut old, connect, &mut replies).unwrap()
    else {
        panic!()
    };
    assert_eq!((version, heartbeat), (crate::Version::V1_0, crate::heartbeat::Negotiated::default()));
    assert_eq!(replies[0].header("heart-beat"), None, "1.0 sessions get no heart-beats");

    let (mut bad, _o) = open(&broker);
    let refused = bad.handle(frame(Command::Connect, &[("accept-version", "2.0")]), &mut Vec::new()).unwrap_err();
    assert_eq!(refused.to_frame().header("version"), Some("1.0,1.1,1.2"));
    let (mut intruder, _o) = open(&broker);
    let login = frame(Command::Connect, &[("login", "admin"), ("passcode", "admin"), ("receipt", "c")]);
    let refused = handle_connect(&broker, &mut intruder, login, &mut Vec::new()).unwrap_err();
    assert!(matches!(refused.error, ProtocolError::Auth(_)));
    assert_eq!(refused.receipt.as_deref(), Some("c"), "the refusal echoes CONNECT's receipt");
}

#[test]
fn unsubscribe_stops_delivery_and_by_destination_in_1_0() {
    let broker = Broker::new(BrokerConfig::default());
    let mut c = Client::connect(&broker, "1.0");
    c.ok(Command::Subscribe, &[("destination", "/topic/t")]);
    c.ok(Command::Unsubscribe, &[("destination", "/topic/t")]);
    let mut p = Client::connect(&broker, "1.2");
    p.send("/topic/t", "x");
    assert!(c.messages().is_empty());
    assert_eq!(broker.topic_subscriptions(), 0);
}

#[test]
fn caps_on_subscriptions_and_transactions() {
    let limits = Limits {
        max_subscriptions_per_connection: 1,
        max_transactions_per_connection: 1,
        max_frames_per_transaction: 1,
        ..Limits::default()
    };
    let config = BrokerConfig { limits, ..BrokerConfig::default() };
    let broker = Broker::new(config);
    let mut c = Client::connect(&broker, "1.2");
    c.ok(Command::Subscribe, &[("id", "1"), ("destination", "/topic/t")]);
    let over = c.handle(frame(Command::Subscribe, &[("id", "2"), ("destination", "/topic/t")])).unwrap_err();
    assert_eq!(over.error, ProtocolError::TooManySubscriptions { limit: 1 });
    c.ok(Command::Begin, &[("transaction", "a")]);
    let over = c.handle(frame(Command::Begin, &[("transaction", "b")])).unwrap_err();
    assert_eq!(over.error, ProtocolError::TooManyTransactions { limit: 1 });
    c.ok(Command::Send, &[("destination", "/topic/t"), ("transaction", "a")]);
    let over = c.handle(frame(Command::Send, &[("destination", "/topic/t"), ("transaction", "a")])).unwrap_err();
    assert_eq!(over.error, ProtocolError::TransactionTooLarge { limit: 1 });
}
