//! Transactions: SEND, ACK and NACK inside BEGIN/COMMIT take effect on COMMIT only; ABORT and
//! disconnect discard them; receipts come at once; unknown transactions are errors.

use stompbox_tests::{body, start};

#[tokio::test]
async fn sends_are_delivered_only_on_commit() {
    let broker = start().await;
    let mut sub = broker.connect12().await;
    sub.subscribe("/topic/tx", "t", "").await;
    sub.subscribe("/queue/tx", "q", "").await;
    let mut producer = broker.connect12().await;
    producer.send("BEGIN\ntransaction:tx1\nreceipt:b\n\n\0").await;
    producer.expect_receipt("b").await;
    producer.send("SEND\ndestination:/topic/tx\ntransaction:tx1\nreceipt:s1\n\none\0").await;
    producer.expect_receipt("s1").await;
    producer.send("SEND\ndestination:/queue/tx\ntransaction:tx1\nreceipt:s2\n\ntwo\0").await;
    producer.expect_receipt("s2").await;
    sub.barrier().await;
    producer.send("COMMIT\ntransaction:tx1\nreceipt:c\n\n\0").await;
    producer.expect_receipt("c").await;
    let mut got = [sub.message().await, sub.message().await];
    got.sort_by_key(|m| body(m).to_owned());
    assert_eq!(body(&got[0]), "one");
    assert_eq!(got[0].header("destination"), Some("/topic/tx"));
    assert!(got[0].header("transaction").is_none(), "the transaction header is not passed on");
    assert_eq!(body(&got[1]), "two");
    sub.barrier().await;
}

#[tokio::test]
async fn abort_discards() {
    let broker = start().await;
    let mut sub = broker.connect11().await;
    sub.subscribe("/queue/abort", "0", "").await;
    let mut producer = broker.connect11().await;
    producer.send("BEGIN\ntransaction:t\n\n\0").await;
    producer.send("SEND\ndestination:/queue/abort\ntransaction:t\n\ndiscarded\0").await;
    producer.send("ABORT\ntransaction:t\nreceipt:a\n\n\0").await;
    producer.expect_receipt("a").await;
    sub.barrier().await;
    // The id is free again, and the connection works.
    producer.send("BEGIN\ntransaction:t\n\n\0").await;
    producer.send("SEND\ndestination:/queue/abort\ntransaction:t\n\nkept\0").await;
    producer.send("COMMIT\ntransaction:t\nreceipt:c\n\n\0").await;
    producer.expect_receipt("c").await;
    assert_eq!(body(&sub.message().await), "kept");
    sub.barrier().await;
}

#[tokio::test]
async fn commit_preserves_order_and_interleaves_with_plain_sends() {
    let broker = start().await;
    let mut sub = broker.connect12().await;
    sub.subscribe("/queue/order", "0", "").await;
    let mut producer = broker.connect12().await;
    producer.send("BEGIN\ntransaction:t\n\n\0").await;
    for i in 0..3 {
        producer.send(format!("SEND\ndestination:/queue/order\ntransaction:t\n\ntx{i}\0")).await;
    }
    producer.publish_sync("/queue/order", "plain").await;
    assert_eq!(body(&sub.message().await), "plain");
    producer.send("COMMIT\ntransaction:t\n\n\0").await;
    for i in 0..3 {
        assert_eq!(body(&sub.message().await), format!("tx{i}"));
    }
}

#[tokio::test]
async fn ack_in_a_transaction_applies_on_commit() {
    let broker = start().await;
    let mut producer = broker.connect12().await;
    producer.publish_sync("/queue/txack", "m").await;
    let mut consumer = broker.connect12().await;
    consumer.subscribe("/queue/txack", "0", "ack:client-individual\n").await;
    let message = consumer.message().await;
    let ack = message.header("ack").expect("ack header").to_owned();

    // ACK then ABORT: still unacknowledged, so unsubscribing returns it.
    consumer.send(format!("BEGIN\ntransaction:t1\n\n\0ACK\nid:{ack}\ntransaction:t1\n\n\0")).await;
    consumer.send("ABORT\ntransaction:t1\n\n\0").await;
    consumer.send("UNSUBSCRIBE\nid:0\nreceipt:u\n\n\0").await;
    consumer.expect_receipt("u").await;
    consumer.subscribe("/queue/txack", "1", "ack:client-individual\n").await;
    let again = consumer.message().await;
    assert_eq!(again.header("redelivered"), Some("true"));
    let ack = again.header("ack").expect("ack header").to_owned();

    // ACK then COMMIT: gone for good.
    consumer.send(format!("BEGIN\ntransaction:t2\n\n\0ACK\nid:{ack}\ntransaction:t2\nreceipt:a\n\n\0")).await;
    consumer.expect_receipt("a").await;
    consumer.send("COMMIT\ntransaction:t2\nreceipt:c\n\n\0").await;
    consumer.expect_receipt("c").await;
    consumer.send("UNSUBSCRIBE\nid:1\nreceipt:u2\n\n\0").await;
    consumer.expect_receipt("u2").await;
    consumer.subscribe("/queue/txack", "2", "").await;
    consumer.barrier().await;
}

#[tokio::test]
async fn nack_in_a_transaction_applies_on_commit() {
    let broker = start().await;
    let mut producer = broker.connect12().await;
    producer.publish_sync("/queue/txnack", "m").await;
    let mut consumer = broker.connect12().await;
    consumer.subscribe("/queue/txnack", "0", "ack:client-individual\n").await;
    let ack = consumer.message().await.header("ack").expect("ack header").to_owned();
    consumer.send(format!("BEGIN\ntransaction:t\n\n\0NACK\nid:{ack}\ntransaction:t\n\n\0")).await;
    consumer.barrier().await;
    consumer.send("COMMIT\ntransaction:t\n\n\0").await;
    let again = consumer.message().await;
    assert_eq!(body(&again), "m");
    assert_eq!(again.header("redelivered"), Some("true"));
}

#[tokio::test]
async fn disconnect_aborts_open_transactions() {
    let broker = start().await;
    let mut producer = broker.connect12().await;
    producer.publish_sync("/queue/txdrop", "m").await;
    let mut consumer = broker.connect12().await;
    consumer.subscribe("/queue/txdrop", "0", "ack:client\n").await;
    let ack = consumer.message().await.header("ack").expect("ack header").to_owned();
    // An ACK and a SEND in a transaction that is never committed.
    consumer.send(format!("BEGIN\ntransaction:t\n\n\0ACK\nid:{ack}\ntransaction:t\n\n\0")).await;
    consumer.send("SEND\ndestination:/queue/txdrop\ntransaction:t\n\nnever\0").await;
    consumer.disconnect().await;

    let mut next = broker.connect12().await;
    next.subscribe("/queue/txdrop", "0", "").await;
    let again = next.message().await;
    assert_eq!(body(&again), "m", "the ACK was aborted, so the message is redelivered");
    assert_eq!(again.header("redelivered"), Some("true"));
    next.barrier().await;
}

#[tokio::test]
async fn transactional_send_receipt_is_immediate() {
    let broker = start().await;
    let mut producer = broker.connect10().await;
    producer.send("BEGIN\ntransaction:t\n\n\0").await;
    producer.send("SEND\ndestination:/topic/x\ntransaction:t\nreceipt:r\n\nx\0").await;
    producer.expect_receipt("r").await;
}

#[tokio::test]
async fn unknown_transaction_is_an_error_on_send_commit_and_abort() {
    let broker = start().await;
    for frame in [
        "SEND\ndestination:/queue/x\ntransaction:nope\nreceipt:r1\n\nx\0",
        "COMMIT\ntransaction:nope\nreceipt:r1\n\n\0",
        "ABORT\ntransaction:nope\nreceipt:r1\n\n\0",
        "ACK\nid:1\ntransaction:nope\nreceipt:r1\n\n\0",
    ] {
        let mut client = broker.connect12().await;
        client.send(frame).await;
        let error = client.expect_error_and_close("no transaction \"nope\" is open").await;
        assert_eq!(error.header("receipt-id"), Some("r1"), "for {frame:?}");
        assert!(!error.body.is_empty());
    }
}

#[tokio::test]
async fn committed_or_aborted_transaction_cannot_be_used_again() {
    let broker = start().await;
    let mut client = broker.connect12().await;
    client.send("BEGIN\ntransaction:t\n\n\0COMMIT\ntransaction:t\n\n\0").await;
    client.send("COMMIT\ntransaction:t\nreceipt:again\n\n\0").await;
    let error = client.expect_error_and_close("no transaction").await;
    assert_eq!(error.header("receipt-id"), Some("again"));
}

#[tokio::test]
async fn begin_with_an_open_id_is_an_error() {
    let broker = start().await;
    let mut client = broker.connect12().await;
    client.send("BEGIN\ntransaction:t\n\n\0BEGIN\ntransaction:t\nreceipt:b\n\n\0").await;
    let error = client.expect_error_and_close("already open").await;
    assert_eq!(error.header("receipt-id"), Some("b"));
}
