//! Acknowledgement modes (auto, client, client-individual), NACK and redelivery, ACK by
//! `message-id` (1.0, 1.1) or `id` (1.2), and ACKs that match nothing.

use stompbox_core::Frame;
use stompbox_tests::{body, start, Client, TestBroker};

/// Sends `bodies` to `destination` and waits until they are routed.
async fn produce(broker: &TestBroker, destination: &str, bodies: &[&str]) {
    let mut producer = broker.connect12().await;
    for text in bodies {
        producer.publish(destination, text).await;
    }
    producer.barrier().await;
}

/// Reads `n` MESSAGE frames.
async fn messages(client: &mut Client, n: usize) -> Vec<Frame> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(client.message().await);
    }
    out
}

fn bodies(frames: &[Frame]) -> Vec<&str> {
    frames.iter().map(body).collect()
}

fn ack_id(frame: &Frame) -> &str {
    frame.header("ack").expect("a 1.2 MESSAGE of a client-ack subscription has an ack header")
}

/// UNSUBSCRIBE with a receipt: the subscription's unacknowledged messages are back in the queue
/// when the RECEIPT arrives.
async fn unsubscribe(client: &mut Client, id: &str) {
    client.send(format!("UNSUBSCRIBE\nid:{id}\nreceipt:unsub-{id}\n\n\0")).await;
    client.expect_receipt(&format!("unsub-{id}")).await;
}

#[tokio::test]
async fn auto_mode_needs_no_ack() {
    let broker = start().await;
    produce(&broker, "/queue/auto", &["a", "b"]).await;
    let mut consumer = broker.connect12().await;
    consumer.subscribe("/queue/auto", "0", "ack:auto\n").await;
    let got = messages(&mut consumer, 2).await;
    assert_eq!(bodies(&got), ["a", "b"]);
    assert!(got.iter().all(|m| m.header("ack").is_none()), "no ack header in auto mode");
    unsubscribe(&mut consumer, "0").await;
    consumer.subscribe("/queue/auto", "1", "").await;
    consumer.barrier().await;
}

#[tokio::test]
async fn client_mode_ack_is_cumulative() {
    let broker = start().await;
    produce(&broker, "/queue/client", &["1", "2", "3"]).await;
    let mut consumer = broker.connect12().await;
    consumer.subscribe("/queue/client", "0", "ack:client\n").await;
    let got = messages(&mut consumer, 3).await;
    assert_eq!(bodies(&got), ["1", "2", "3"]);
    // Acknowledging the second acknowledges the first too.
    consumer.send(format!("ACK\nid:{}\nreceipt:a\n\n\0", ack_id(&got[1]))).await;
    consumer.expect_receipt("a").await;
    unsubscribe(&mut consumer, "0").await;
    consumer.subscribe("/queue/client", "1", "ack:client\n").await;
    let again = consumer.message().await;
    assert_eq!(body(&again), "3");
    assert_eq!(again.header("redelivered"), Some("true"));
    consumer.barrier().await;
}

#[tokio::test]
async fn client_individual_ack_is_for_one_message() {
    let broker = start().await;
    produce(&broker, "/queue/indiv", &["1", "2", "3"]).await;
    let mut consumer = broker.connect12().await;
    consumer.subscribe("/queue/indiv", "0", "ack:client-individual\n").await;
    let got = messages(&mut consumer, 3).await;
    consumer.send(format!("ACK\nid:{}\nreceipt:a\n\n\0", ack_id(&got[1]))).await;
    consumer.expect_receipt("a").await;
    unsubscribe(&mut consumer, "0").await;
    consumer.subscribe("/queue/indiv", "1", "ack:client-individual\n").await;
    let again = messages(&mut consumer, 2).await;
    assert_eq!(bodies(&again), ["1", "3"]);
    assert!(again.iter().all(|m| m.header("redelivered") == Some("true")));
    consumer.barrier().await;
}

#[tokio::test]
async fn nack_redelivers_with_redelivered_true() {
    let broker = start().await;
    produce(&broker, "/queue/nack", &["1", "2"]).await;
    let mut consumer = broker.connect12().await;
    consumer.subscribe("/queue/nack", "0", "ack:client-individual\n").await;
    let got = messages(&mut consumer, 2).await;
    consumer.send(format!("NACK\nid:{}\n\n\0", ack_id(&got[0]))).await;
    let again = consumer.message().await;
    assert_eq!(body(&again), "1");
    assert_eq!(again.header("redelivered"), Some("true"));
    assert_eq!(again.header("message-id"), got[0].header("message-id"), "the same message comes back");
    consumer.send(format!("ACK\nid:{}\n\n\0", ack_id(&again))).await;
    consumer.send(format!("ACK\nid:{}\n\n\0", ack_id(&got[1]))).await;
    unsubscribe(&mut consumer, "0").await;
    consumer.subscribe("/queue/nack", "1", "").await;
    consumer.barrier().await;
}

#[tokio::test]
async fn nack_in_client_mode_covers_earlier_messages() {
    let broker = start().await;
    produce(&broker, "/queue/nack-client", &["1", "2", "3"]).await;
    let mut consumer = broker.connect11().await;
    consumer.subscribe("/queue/nack-client", "s", "ack:client\n").await;
    let got = messages(&mut consumer, 3).await;
    let id = got[1].header("message-id").expect("message-id");
    consumer.send(format!("NACK\nsubscription:s\nmessage-id:{id}\n\n\0")).await;
    let again = messages(&mut consumer, 2).await;
    assert_eq!(bodies(&again), ["1", "2"]);
    assert!(again.iter().all(|m| m.header("redelivered") == Some("true")));
    consumer.barrier().await;
}

#[tokio::test]
async fn consumer_disconnect_returns_unacked_messages() {
    let broker = start().await;
    let mut first = broker.connect12().await;
    first.subscribe("/queue/gone", "0", "ack:client-individual\n").await;
    produce(&broker, "/queue/gone", &["1", "2"]).await;
    let got = messages(&mut first, 2).await;
    first.send(format!("ACK\nid:{}\nreceipt:a\n\n\0", ack_id(&got[0]))).await;
    first.expect_receipt("a").await;
    let mut second = broker.connect12().await;
    second.subscribe("/queue/gone", "0", "ack:client\n").await;
    second.barrier().await;
    // The first consumer vanishes without DISCONNECT: its unacknowledged message moves on.
    drop(first);
    let again = second.message().await;
    assert_eq!(body(&again), "2");
    assert_eq!(again.header("redelivered"), Some("true"));
    second.barrier().await;
}

#[tokio::test]
async fn graceful_disconnect_also_returns_unacked_messages() {
    let broker = start().await;
    produce(&broker, "/queue/bye", &["1"]).await;
    let mut first = broker.connect10().await;
    first.send("SUBSCRIBE\ndestination:/queue/bye\nack:client\n\n\0").await;
    assert_eq!(body(&first.message().await), "1");
    first.disconnect().await;
    let mut second = broker.connect10().await;
    second.send("SUBSCRIBE\ndestination:/queue/bye\n\n\0").await;
    let again = second.message().await;
    assert_eq!(body(&again), "1");
    assert_eq!(again.header("redelivered"), Some("true"));
}

#[tokio::test]
async fn stomp_1_0_acks_by_message_id() {
    let broker = start().await;
    produce(&broker, "/queue/ack10", &["1", "2"]).await;
    let mut consumer = broker.connect10().await;
    consumer.send("SUBSCRIBE\ndestination:/queue/ack10\nack:client\nreceipt:s\n\n\0").await;
    consumer.expect_receipt("s").await;
    let got = messages(&mut consumer, 2).await;
    assert!(got.iter().all(|m| m.header("ack").is_none()), "1.0 MESSAGE has no ack header");
    let id = got[1].header("message-id").expect("message-id");
    consumer.send(format!("ACK\nmessage-id:{id}\nreceipt:a\n\n\0")).await;
    consumer.expect_receipt("a").await;
    consumer.send("UNSUBSCRIBE\ndestination:/queue/ack10\nreceipt:u\n\n\0").await;
    consumer.expect_receipt("u").await;
    consumer.send("SUBSCRIBE\ndestination:/queue/ack10\nreceipt:s2\n\n\0").await;
    consumer.expect_receipt("s2").await;
    consumer.barrier().await;
}

#[tokio::test]
async fn stomp_1_1_acks_by_message_id_and_subscription() {
    let broker = start().await;
    produce(&broker, "/queue/ack11", &["1", "2"]).await;
    let mut consumer = broker.connect11().await;
    consumer.subscribe("/queue/ack11", "sub-a", "ack:client-individual\n").await;
    let got = messages(&mut consumer, 2).await;
    assert!(got.iter().all(|m| m.header("ack").is_none()), "1.1 MESSAGE has no ack header");
    for message in &got {
        let id = message.header("message-id").expect("message-id");
        consumer.send(format!("ACK\nsubscription:sub-a\nmessage-id:{id}\n\n\0")).await;
    }
    unsubscribe(&mut consumer, "sub-a").await;
    consumer.subscribe("/queue/ack11", "sub-b", "").await;
    consumer.barrier().await;
}

#[tokio::test]
async fn stomp_1_2_acks_by_the_ack_header_in_id() {
    let broker = start().await;
    produce(&broker, "/queue/ack12", &["1", "2"]).await;
    let mut consumer = broker.connect12().await;
    consumer.subscribe("/queue/ack12", "0", "ack:client-individual\n").await;
    let got = messages(&mut consumer, 2).await;
    for message in &got {
        consumer.send(format!("ACK\nid:{}\n\n\0", ack_id(message))).await;
    }
    unsubscribe(&mut consumer, "0").await;
    consumer.subscribe("/queue/ack12", "1", "").await;
    consumer.barrier().await;
}

#[tokio::test]
async fn ack_and_nack_matching_nothing_are_ignored() {
    let broker = start().await;
    let mut consumer = broker.connect12().await;
    consumer.subscribe("/queue/none", "0", "ack:client\n").await;
    for frame in [
        "ACK\nid:123456789\nreceipt:r1\n\n\0",
        "NACK\nid:123456789\nreceipt:r2\n\n\0",
        "ACK\nid:not-a-number\nreceipt:r3\n\n\0",
        "ACK\nid:1\nsubscription:no-such-sub\nreceipt:r4\n\n\0",
    ] {
        consumer.send(frame).await;
        let receipt = frame.split("receipt:").nth(1).and_then(|s| s.split('\n').next()).expect("receipt");
        consumer.expect_receipt(receipt).await;
    }
    // The connection is still usable.
    produce(&broker, "/queue/none", &["still here"]).await;
    assert_eq!(body(&consumer.message().await), "still here");
}

#[tokio::test]
async fn ack_on_an_auto_subscription_is_tolerated() {
    let broker = start().await;
    let mut consumer = broker.connect10().await;
    consumer.send("SUBSCRIBE\ndestination:/queue/pecl\n\n\0").await;
    produce(&broker, "/queue/pecl", &["x"]).await;
    let message = consumer.message().await;
    let id = message.header("message-id").expect("message-id");
    consumer.send(format!("ACK\nmessage-id:{id}\nreceipt:a\n\n\0")).await;
    consumer.expect_receipt("a").await;
    // And on a topic subscription.
    consumer.send("SUBSCRIBE\ndestination:/topic/pecl\nreceipt:s\n\n\0").await;
    consumer.expect_receipt("s").await;
    let mut producer = broker.connect10().await;
    producer.publish_sync("/topic/pecl", "t").await;
    let message = consumer.message().await;
    let id = message.header("message-id").expect("message-id");
    consumer.send(format!("ACK\nmessage-id:{id}\nreceipt:b\n\n\0")).await;
    consumer.expect_receipt("b").await;
    consumer.barrier().await;
}

#[tokio::test]
async fn ack_header_only_in_1_2_client_modes() {
    let broker = start().await;
    let mut client12 = broker.connect12().await;
    client12.subscribe("/topic/ackhdr", "auto", "").await;
    client12.subscribe("/topic/ackhdr", "client", "ack:client\n").await;
    client12.subscribe("/topic/ackhdr", "indiv", "ack:client-individual\n").await;
    let mut producer = broker.connect12().await;
    producer.publish_sync("/topic/ackhdr", "x").await;
    for _ in 0..3 {
        let message = client12.message().await;
        match message.header("subscription") {
            Some("auto") => assert!(message.header("ack").is_none()),
            Some("client" | "indiv") => assert!(message.header("ack").is_some_and(|a| !a.is_empty())),
            other => panic!("unexpected subscription {other:?}"),
        }
    }
}
