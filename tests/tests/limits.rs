//! Per-connection and broker-wide caps: transactions, frames per transaction, subscriptions,
//! connections.

use stompbox_core::Command;
use stompbox_tests::{start_with, Event, TIMEOUT};

#[tokio::test]
async fn open_transactions_per_connection_are_capped() {
    let broker = start_with(|c| c.limits.max_transactions_per_connection = 2).await;
    let mut client = broker.connect12().await;
    client.send("BEGIN\ntransaction:a\n\n\0BEGIN\ntransaction:b\nreceipt:b\n\n\0").await;
    client.expect_receipt("b").await;
    client.send("BEGIN\ntransaction:c\nreceipt:c\n\n\0").await;
    let error = client.expect_error_and_close("too many open transactions").await;
    assert_eq!(error.header("receipt-id"), Some("c"));

    // Ending one frees its slot.
    let mut client = broker.connect12().await;
    client.send("BEGIN\ntransaction:a\n\n\0BEGIN\ntransaction:b\n\n\0COMMIT\ntransaction:a\n\n\0").await;
    client.send("BEGIN\ntransaction:c\nreceipt:c\n\n\0").await;
    client.expect_receipt("c").await;
}

#[tokio::test]
async fn frames_per_transaction_are_capped() {
    let broker = start_with(|c| c.limits.max_frames_per_transaction = 2).await;
    let mut client = broker.connect12().await;
    client.send("BEGIN\ntransaction:t\n\n\0").await;
    client.send("SEND\ndestination:/queue/tx\ntransaction:t\n\n1\0").await;
    client.send("ACK\nid:1\ntransaction:t\nreceipt:a\n\n\0").await;
    client.expect_receipt("a").await;
    client.send("SEND\ndestination:/queue/tx\ntransaction:t\nreceipt:s\n\n3\0").await;
    let error = client.expect_error_and_close("transaction is too large").await;
    assert_eq!(error.header("receipt-id"), Some("s"));
}

#[tokio::test]
async fn subscriptions_per_connection_are_capped() {
    let broker = start_with(|c| c.limits.max_subscriptions_per_connection = 2).await;
    let mut client = broker.connect12().await;
    client.subscribe("/topic/a", "1", "").await;
    client.subscribe("/queue/b", "2", "").await;
    client.send("SUBSCRIBE\ndestination:/topic/c\nid:3\nreceipt:r\n\n\0").await;
    let error = client.expect_error_and_close("too many subscriptions").await;
    assert_eq!(error.header("receipt-id"), Some("r"));

    // Unsubscribing frees a slot; the cap is per connection.
    let mut client = broker.connect12().await;
    client.subscribe("/topic/a", "1", "").await;
    client.subscribe("/topic/b", "2", "").await;
    client.send("UNSUBSCRIBE\nid:1\n\n\0").await;
    client.subscribe("/topic/c", "3", "").await;
}

#[tokio::test]
async fn connections_over_max_connections_get_an_error() {
    let broker = start_with(|c| c.limits.max_connections = 2).await;
    let first = broker.connect12().await;
    let _second = broker.connect10().await;
    let mut third = broker.client().await;
    let error = third.expect(Command::Error).await;
    assert!(error.header("message").is_some_and(|m| m.contains("too many connections")), "{error:?}");
    third.expect_closed().await;

    // A closed connection frees its slot.
    first.disconnect().await;
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        let mut next = broker.client().await;
        next.send("CONNECT\naccept-version:1.2\nhost:localhost\n\n\0").await;
        match next.event(TIMEOUT).await {
            Event::Frame(frame) if frame.command == Command::Connected => break,
            // The first connection's slot is released just after its socket closes.
            Event::Frame(frame) if frame.command == Command::Error && tokio::time::Instant::now() < deadline => {
                tokio::task::yield_now().await;
            }
            other => panic!("expected CONNECTED once a slot is free, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn queues_are_capped() {
    let broker = start_with(|c| c.limits.max_queues = 2).await;
    let mut client = broker.connect12().await;
    client.publish_sync("/queue/one", "x").await;
    client.subscribe("/queue/two", "0", "").await;
    client.publish_sync("/queue/one", "y").await;
    client.send("SEND\ndestination:/queue/three\nreceipt:r\n\nz\0").await;
    let error = client.expect_error_and_close("too many queues").await;
    assert_eq!(error.header("receipt-id"), Some("r"));
}

#[tokio::test]
async fn a_refused_connection_that_already_sent_connect_still_reads_the_error() {
    let broker = start_with(|c| c.limits.max_connections = 1).await;
    let _only = broker.connect12().await;
    for _ in 0..5 {
        let mut eager = broker.client().await;
        eager.send("CONNECT\naccept-version:1.2\nhost:localhost\n\n\0").await;
        let error = eager.expect(Command::Error).await;
        assert!(error.header("message").is_some_and(|m| m.contains("too many connections")), "{error:?}");
        eager.expect_closed().await;
    }
}
