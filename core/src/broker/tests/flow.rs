//! Pacing, the memory bound and large messages in the engine: outboxes report pressure while a
//! reading subscriber is past its high-water mark, stop when it stalls, and the bytes held are
//! counted and given back.

use super::{frame, Client};
use crate::broker::memory::Amount;
use crate::broker::{Action, Broker, BrokerConfig, Closed, DeliveryConfig, Limits, MemoryConfig, ProtocolError};
use crate::frame::Command;

fn paced_broker(stall_ms: u64) -> Broker {
    let delivery = DeliveryConfig {
        outbox_max_bytes: 8 * 1024,
        high_water_bytes: 4 * 1024,
        low_water_bytes: 1024,
        stall_ms,
        ..DeliveryConfig::default()
    };
    Broker::new(BrokerConfig { delivery, ..BrokerConfig::default() })
}

/// A 1 KiB topic SEND.
fn kilobyte(destination: &str) -> crate::frame::Frame {
    frame(Command::Send, &[("destination", destination)]).with_body(vec![b'x'; 1024])
}

#[test]
fn a_reading_subscriber_past_its_high_water_mark_paces_the_publisher() {
    let broker = paced_broker(60_000);
    let mut sub = Client::connect(&broker, "1.2");
    sub.ok(Command::Subscribe, &[("id", "s"), ("destination", "/topic/burst")]);
    // The subscriber's first drain is its progress.
    assert!(sub.messages().is_empty());
    let mut producer = Client::connect(&broker, "1.2");
    let mut sent = 0;
    let pressure = loop {
        sent += 1;
        match producer.handle(kilobyte("/topic/burst")).unwrap() {
            Action::Continue => assert!(sent < 10, "no pressure after {sent} KiB"),
            Action::Paced(pressure) => break pressure,
            other => panic!("{other:?}"),
        }
    };
    assert!(sent <= 4, "paced once past 4 KiB, after {sent} messages");
    // Still reading: once under the low-water mark, the publisher may go on.
    let relieved = pressure.relieved();
    assert_eq!(sub.messages().len(), sent);
    futures_now(relieved);
    assert_eq!(sub.outbox.closed(), None, "never disconnected");
}

#[test]
fn a_stalled_subscriber_does_not_pace_and_meets_the_slow_consumer_policy() {
    let broker = paced_broker(0);
    let mut stuck = Client::connect(&broker, "1.2");
    stuck.ok(Command::Subscribe, &[("id", "s"), ("destination", "/topic/t")]);
    let mut producer = Client::connect(&broker, "1.2");
    for _ in 0..20 {
        assert!(matches!(producer.handle(kilobyte("/topic/t")).unwrap(), Action::Continue));
    }
    assert_eq!(stuck.outbox.closed(), Some(Closed::SlowConsumer { limit: 8 * 1024 }));
}

#[test]
fn one_message_larger_than_the_outbox_limit_is_still_delivered() {
    let broker = paced_broker(60_000);
    let mut a = Client::connect(&broker, "1.2");
    let mut b = Client::connect(&broker, "1.0");
    a.ok(Command::Subscribe, &[("id", "a"), ("destination", "/topic/big")]);
    b.ok(Command::Subscribe, &[("destination", "/topic/big")]);
    let mut producer = Client::connect(&broker, "1.2");
    let big = frame(Command::Send, &[("destination", "/topic/big")]).with_body(vec![b'b'; 64 * 1024]);
    producer.handle(big).unwrap();
    for client in [&mut a, &mut b] {
        let messages = client.messages();
        assert_eq!(messages[0].body.len(), 64 * 1024);
        assert_eq!(client.outbox.closed(), None);
    }
}

#[test]
fn memory_counts_outboxes_queues_and_transactions_and_gives_them_back() {
    let broker = Broker::new(BrokerConfig::default());
    let memory = broker.memory().clone();
    let mut sub = Client::connect(&broker, "1.2");
    sub.ok(Command::Subscribe, &[("id", "s"), ("destination", "/topic/t")]);
    let mut producer = Client::connect(&broker, "1.2");
    producer.handle(kilobyte("/topic/t")).unwrap();
    producer.handle(kilobyte("/queue/q")).unwrap();
    producer.ok(Command::Begin, &[("transaction", "tx")]);
    producer.ok(Command::Send, &[("destination", "/queue/q"), ("transaction", "tx")]);
    assert!(memory.held() > 2 * 1024, "{}", memory.held());
    producer.ok(Command::Abort, &[("transaction", "tx")]);
    assert_eq!(sub.messages().len(), 1);
    let mut worker = Client::connect(&broker, "1.2");
    worker.ok(Command::Subscribe, &[("id", "w"), ("destination", "/queue/q")]);
    assert_eq!(worker.messages().len(), 1, "auto: settled once written");
    assert_eq!(memory.held(), 0);
}

#[test]
fn memory_past_its_high_watermark_is_reported() {
    let memory = MemoryConfig { high_watermark: Amount::Bytes(4096), low_watermark: Amount::Bytes(1024) };
    let broker = Broker::new(BrokerConfig { memory, ..BrokerConfig::default() });
    let mut producer = Client::connect(&broker, "1.2");
    for _ in 0..5 {
        producer.handle(kilobyte("/queue/nobody")).unwrap();
    }
    assert!(broker.memory().is_over());
    assert_eq!(broker.memory().crossings(), 1);
}

#[test]
fn a_transaction_is_limited_by_its_bytes() {
    let limits = Limits { max_bytes_per_transaction: 2048, ..Limits::default() };
    let broker = Broker::new(BrokerConfig { limits, ..BrokerConfig::default() });
    let mut producer = Client::connect(&broker, "1.2");
    producer.ok(Command::Begin, &[("transaction", "tx")]);
    let in_tx = || kilobyte("/queue/q").with_header("transaction", "tx");
    producer.handle(in_tx()).unwrap();
    let refused = producer.handle(in_tx()).unwrap_err();
    assert_eq!(refused.error, ProtocolError::TransactionTooManyBytes { limit: 2048 });
    assert_eq!(refused.to_frame().header("code"), Some("limit-exceeded"));
}

/// Polls a future once: it must be ready.
fn futures_now(future: impl std::future::Future<Output = ()>) {
    let waker = std::task::Waker::noop();
    let mut context = std::task::Context::from_waker(waker);
    let mut future = std::pin::pin!(future);
    assert!(future.as_mut().poll(&mut context).is_ready(), "expected to be relieved at once");
}
