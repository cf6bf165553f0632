//! Queues: messages wait for a consumer, each goes to exactly one, round-robin, expiry.

use std::collections::HashSet;
use std::sync::Arc;

use stompbox_core::broker::ManualClock;
use stompbox_tests::{body, start, start_with_engine};

/// What the broker's clock reads in the expiry tests (ms since the epoch).
const NOW_MS: u64 = 1_700_000_000_000;

#[tokio::test]
async fn messages_wait_until_a_consumer_subscribes() {
    let broker = start().await;
    let mut producer = broker.connect12().await;
    for i in 0..3 {
        producer.publish_sync("/queue/work", &format!("job {i}")).await;
    }
    producer.disconnect().await;
    let mut consumer = broker.connect12().await;
    consumer.subscribe("/queue/work", "0", "").await;
    for i in 0..3 {
        let message = consumer.message().await;
        assert_eq!(body(&message), format!("job {i}"), "in order");
        assert_eq!(message.header("destination"), Some("/queue/work"));
        assert_eq!(message.header("subscription"), Some("0"));
        assert!(message.header("redelivered").is_none());
    }
    consumer.barrier().await;
}

#[tokio::test]
async fn each_message_goes_to_exactly_one_consumer() {
    let broker = start().await;
    let mut consumers = Vec::new();
    for i in 0..3 {
        let mut consumer = broker.connect12().await;
        consumer.subscribe("/queue/once", &format!("c{i}"), "").await;
        consumers.push(consumer);
    }
    let mut producer = broker.connect12().await;
    for i in 0..30 {
        producer.publish("/queue/once", &format!("{i}")).await;
    }
    producer.barrier().await;
    let mut seen = HashSet::new();
    let mut total = 0;
    for consumer in &mut consumers {
        // Round-robin over three consumers with room: ten each.
        for _ in 0..10 {
            let message = consumer.message().await;
            assert!(seen.insert(body(&message).to_owned()), "delivered twice: {}", body(&message));
            total += 1;
        }
        consumer.barrier().await;
    }
    assert_eq!(total, 30);
    assert_eq!(seen.len(), 30);
}

#[tokio::test]
async fn round_robin_over_two_consumers() {
    let broker = start().await;
    let mut a = broker.connect12().await;
    a.subscribe("/queue/rr", "a", "").await;
    let mut b = broker.connect11().await;
    b.subscribe("/queue/rr", "b", "").await;
    let mut producer = broker.connect12().await;
    for i in 0..6 {
        producer.publish_sync("/queue/rr", &format!("{i}")).await;
    }
    let got_a: Vec<String> =
        [a.message().await, a.message().await, a.message().await].iter().map(|m| body(m).to_owned()).collect();
    let got_b: Vec<String> =
        [b.message().await, b.message().await, b.message().await].iter().map(|m| body(m).to_owned()).collect();
    a.barrier().await;
    b.barrier().await;
    assert_eq!(got_a, ["0", "2", "4"]);
    assert_eq!(got_b, ["1", "3", "5"]);
}

#[tokio::test]
async fn expired_queue_messages_are_never_delivered() {
    let clock = Arc::new(ManualClock::starting_at(NOW_MS));
    let engine_clock = clock.clone();
    let broker = start_with_engine(|_| {}, |engine| engine.clock = engine_clock).await;
    let mut producer = broker.connect12().await;
    let past = NOW_MS - 1_000;
    let future = NOW_MS + 600_000;
    producer.send(format!("SEND\ndestination:/queue/exp\nexpires:{past}\nreceipt:r1\n\nstale\0")).await;
    producer.expect_receipt("r1").await;
    producer.send(format!("SEND\ndestination:/queue/exp\nexpires:{future}\nreceipt:r2\n\nfresh\0")).await;
    producer.expect_receipt("r2").await;
    let mut consumer = broker.connect12().await;
    consumer.subscribe("/queue/exp", "0", "").await;
    assert_eq!(body(&consumer.message().await), "fresh");
    consumer.barrier().await;

    // Expiry while waiting: a message that expires shortly is dropped before a late consumer.
    let soon = NOW_MS + 150;
    producer.send(format!("SEND\ndestination:/queue/exp2\nexpires:{soon}\nreceipt:r3\n\nbrief\0")).await;
    producer.expect_receipt("r3").await;
    clock.advance(151);
    let mut late = broker.connect12().await;
    late.subscribe("/queue/exp2", "0", "").await;
    late.barrier().await;
}

#[tokio::test]
async fn queue_and_topic_of_the_same_name_are_separate() {
    let broker = start().await;
    let mut topic = broker.connect12().await;
    topic.subscribe("/topic/same", "t", "").await;
    let mut queue = broker.connect12().await;
    queue.subscribe("/queue/same", "q", "").await;
    let mut producer = broker.connect12().await;
    producer.publish_sync("/queue/same", "to queue").await;
    assert_eq!(body(&queue.message().await), "to queue");
    topic.barrier().await;
    producer.publish_sync("/topic/same", "to topic").await;
    assert_eq!(body(&topic.message().await), "to topic");
    queue.barrier().await;
}

#[tokio::test]
async fn a_message_routed_to_a_consumer_that_unsubscribes_before_it_is_written_goes_to_one_consumer_only() {
    let broker = start().await;
    let mut a = broker.connect12().await;
    a.subscribe("/queue/race", "a", "").await;
    // One write: the SEND is routed to `a` itself, then `a` unsubscribes before the connection
    // gets round to writing it. The message must reach exactly one consumer.
    a.send("SEND\ndestination:/queue/race\n\nonce\0UNSUBSCRIBE\nid:a\nreceipt:u\n\n\0").await;
    let mut got = 0;
    loop {
        let frame = a.frame().await;
        match frame.command {
            stompbox_core::Command::Message => got += 1,
            stompbox_core::Command::Receipt => break,
            _ => panic!("unexpected {frame:?}"),
        }
    }
    a.barrier().await;
    let mut b = broker.connect12().await;
    b.subscribe("/queue/race", "b", "").await;
    if got == 0 {
        assert_eq!(body(&b.message().await), "once");
    }
    b.barrier().await;
}
