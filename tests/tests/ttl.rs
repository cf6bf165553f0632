//! Apollo's `ttl` on SEND: milliseconds from arrival; the broker sets the matching `expires`.

use std::sync::Arc;

use stompbox_core::broker::ManualClock;
use stompbox_tests::{body, start_with_engine, TestBroker};

/// What the broker's clock reads when the test starts (ms since the epoch).
const NOW_MS: u64 = 1_700_000_000_000;

async fn start_at_now() -> (TestBroker, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::starting_at(NOW_MS));
    let engine_clock = clock.clone();
    (start_with_engine(|_| {}, |engine| engine.clock = engine_clock).await, clock)
}

#[tokio::test]
async fn ttl_becomes_expires_and_the_message_expires_then() {
    let (broker, clock) = start_at_now().await;
    let mut producer = broker.connect12().await;
    producer.send("SEND\ndestination:/queue/ttl\nttl:5000\nexpires:1\nreceipt:a\n\nshort-lived\0").await;
    producer.expect_receipt("a").await;
    producer.send("SEND\ndestination:/queue/ttl\nttl:60000\nreceipt:b\n\nlong-lived\0").await;
    producer.expect_receipt("b").await;

    clock.advance(10_000);
    let mut consumer = broker.connect12().await;
    consumer.subscribe("/queue/ttl", "0", "").await;
    let message = consumer.message().await;
    assert_eq!(body(&message), "long-lived", "the first one expired after its ttl");
    assert_eq!(message.header("expires"), Some((NOW_MS + 60_000).to_string().as_str()));
    assert_eq!(message.header("ttl"), Some("60000"));
    consumer.barrier().await;
}

#[tokio::test]
async fn ttl_on_a_topic_and_in_a_transaction() {
    let (broker, _clock) = start_at_now().await;
    let mut subscriber = broker.connect12().await;
    subscriber.subscribe("/topic/ttl", "0", "").await;
    let mut producer = broker.connect12().await;
    producer.send("SEND\ndestination:/topic/ttl\nttl:1000\n\nnow\0").await;
    producer.send("BEGIN\ntransaction:t\n\n\0SEND\ndestination:/topic/ttl\ntransaction:t\nttl:0\n\nnever\0").await;
    producer.send("COMMIT\ntransaction:t\nreceipt:c\n\n\0").await;
    producer.expect_receipt("c").await;
    assert_eq!(subscriber.message().await.header("expires"), Some((NOW_MS + 1_000).to_string().as_str()));
    assert_eq!(subscriber.message().await.header("expires"), None, "ttl:0 never expires");
}

#[tokio::test]
async fn a_ttl_that_is_not_a_number_gets_an_error() {
    let (broker, _clock) = start_at_now().await;
    let mut producer = broker.connect12().await;
    producer.send("SEND\ndestination:/queue/ttl\nttl:soon\nreceipt:r\n\n\0").await;
    let error = producer.expect_error_and_close("invalid ttl \"soon\"").await;
    assert_eq!(error.header("code"), Some("protocol-error"));
    let mut producer = broker.connect12().await;
    producer.send("BEGIN\ntransaction:t\n\n\0SEND\ndestination:/queue/ttl\ntransaction:t\nttl:-5\n\n\0").await;
    producer.expect_error_and_close("invalid ttl \"-5\"").await;
}
