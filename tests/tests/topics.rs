//! Topics: fan-out, wildcards, expiry, the MESSAGE headers, 1.0 subscriptions keyed by destination.

use std::time::{SystemTime, UNIX_EPOCH};

use stompbox_tests::{body, describe, start};

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_millis() as u64
}

#[tokio::test]
async fn every_subscriber_gets_every_message() {
    let broker = start().await;
    let mut subscribers = Vec::new();
    for (i, version) in ["1.0", "1.1", "1.2"].into_iter().enumerate() {
        let mut client = broker.connect(version).await;
        client.subscribe("/topic/news", &format!("s{i}"), "").await;
        subscribers.push(client);
    }
    let mut producer = broker.connect12().await;
    producer.publish_sync("/topic/news", "one").await;
    producer.publish_sync("/topic/news", "two").await;
    for (i, client) in subscribers.iter_mut().enumerate() {
        for expected in ["one", "two"] {
            let message = client.message().await;
            assert_eq!(body(&message), expected);
            assert_eq!(message.header("subscription"), Some(format!("s{i}").as_str()));
        }
        client.barrier().await;
    }
}

#[tokio::test]
async fn a_topic_without_subscribers_drops_the_message() {
    let broker = start().await;
    let mut producer = broker.connect12().await;
    producer.publish_sync("/topic/void", "lost").await;
    let mut late = broker.connect12().await;
    late.subscribe("/topic/void", "0", "").await;
    late.barrier().await;
}

#[tokio::test]
async fn single_and_multi_segment_wildcards() {
    let broker = start().await;
    let mut star = broker.connect12().await;
    star.subscribe("/topic/chat.*", "star", "").await;
    let mut stars = broker.connect12().await;
    stars.subscribe("/topic/chat.**", "stars", "").await;
    let mut producer = broker.connect12().await;

    producer.publish_sync("/topic/chat.general.demo", "deep").await;
    let message = stars.message().await;
    assert_eq!(body(&message), "deep");
    assert_eq!(message.header("destination"), Some("/topic/chat.general.demo"));
    assert_eq!(message.header("subscription"), Some("stars"));
    star.barrier().await;

    producer.publish_sync("/topic/chat.general", "shallow").await;
    assert_eq!(body(&star.message().await), "shallow");
    assert_eq!(body(&stars.message().await), "shallow");

    producer.publish_sync("/topic/chat", "root").await;
    assert_eq!(body(&stars.message().await), "root", "** matches zero segments");
    producer.publish_sync("/topic/other.general", "elsewhere").await;
    star.barrier().await;
    stars.barrier().await;
}

#[tokio::test]
async fn a_subscriber_matching_twice_through_two_subscriptions_gets_both() {
    let broker = start().await;
    let mut client = broker.connect12().await;
    client.subscribe("/topic/a.b", "exact", "").await;
    client.subscribe("/topic/a.*", "wild", "").await;
    let mut producer = broker.connect12().await;
    producer.publish_sync("/topic/a.b", "x").await;
    let mut subscriptions = [
        client.message().await.header("subscription").map(str::to_owned),
        client.message().await.header("subscription").map(str::to_owned),
    ];
    subscriptions.sort();
    assert_eq!(subscriptions, [Some("exact".to_owned()), Some("wild".to_owned())]);
}

#[tokio::test]
async fn expired_topic_messages_are_never_delivered() {
    let broker = start().await;
    let mut sub = broker.connect12().await;
    sub.subscribe("/topic/exp", "0", "").await;
    let mut producer = broker.connect12().await;
    let past = now_ms() - 60_000;
    let future = now_ms() + 600_000;
    producer.send(format!("SEND\ndestination:/topic/exp\nexpires:{past}\nreceipt:r1\n\nstale\0")).await;
    producer.expect_receipt("r1").await;
    sub.barrier().await;
    producer.send(format!("SEND\ndestination:/topic/exp\nexpires:{future}\nreceipt:r2\n\nfresh\0")).await;
    producer.expect_receipt("r2").await;
    let message = sub.message().await;
    assert_eq!(body(&message), "fresh");
    assert_eq!(message.header("expires"), Some(future.to_string().as_str()));
    producer.send("SEND\ndestination:/topic/exp\nexpires:0\n\nnever expires\0").await;
    assert_eq!(body(&sub.message().await), "never expires");
}

#[tokio::test]
async fn message_carries_destination_id_subscription_user_headers_and_content_length() {
    let broker = start().await;
    let mut sub = broker.connect12().await;
    sub.subscribe("/topic/hdr", "my-sub", "").await;
    let mut producer = broker.connect12().await;
    producer
        .send("SEND\ndestination:/topic/hdr\ncontent-type:text/plain\npriority:9\nx-custom:a b\nreceipt:r\n\nhi\0")
        .await;
    producer.expect_receipt("r").await;
    producer.send("SEND\ndestination:/topic/hdr\n\n\0").await;
    let first = sub.message().await;
    assert_eq!(first.header("destination"), Some("/topic/hdr"));
    assert_eq!(first.header("subscription"), Some("my-sub"));
    assert_eq!(first.header("content-type"), Some("text/plain"));
    assert_eq!(first.header("priority"), Some("9"));
    assert_eq!(first.header("x-custom"), Some("a b"));
    assert_eq!(first.header("content-length"), Some("2"));
    assert!(first.header("receipt").is_none(), "the SEND's receipt is not passed on: {}", describe(&first));
    assert!(first.header("ack").is_none(), "no ack header on an auto subscription");
    let second = sub.message().await;
    assert_eq!(second.header("content-length"), Some("0"), "content-length even for an empty body");
    let (a, b) = (first.header("message-id").expect("message-id"), second.header("message-id").expect("message-id"));
    assert_ne!(a, b, "message ids are unique");
}

#[tokio::test]
async fn message_ids_are_unique_across_destinations_and_connections() {
    let broker = start().await;
    let mut sub = broker.connect12().await;
    sub.subscribe("/topic/ids.**", "0", "").await;
    let mut producers = [broker.connect12().await, broker.connect10().await];
    for i in 0..10 {
        let producer = &mut producers[i % 2];
        producer.publish(&format!("/topic/ids.d{}", i % 3), "x").await;
    }
    let mut ids = std::collections::HashSet::new();
    for _ in 0..10 {
        let message = sub.message().await;
        assert!(ids.insert(message.header("message-id").expect("message-id").to_owned()), "duplicate id");
    }
}

#[tokio::test]
async fn unsubscribe_by_id_stops_delivery() {
    let broker = start().await;
    let mut sub = broker.connect11().await;
    sub.subscribe("/topic/u", "s1", "").await;
    let mut producer = broker.connect11().await;
    producer.publish_sync("/topic/u", "before").await;
    assert_eq!(body(&sub.message().await), "before");
    sub.send("UNSUBSCRIBE\nid:s1\nreceipt:u1\n\n\0").await;
    sub.expect_receipt("u1").await;
    producer.publish_sync("/topic/u", "after").await;
    sub.barrier().await;
}

#[tokio::test]
async fn stomp_1_0_subscription_without_id_is_keyed_by_destination() {
    let broker = start().await;
    let mut sub = broker.connect10().await;
    sub.send("SUBSCRIBE\ndestination:/topic/legacy\nreceipt:s\n\n\0").await;
    sub.expect_receipt("s").await;
    let mut producer = broker.connect10().await;
    producer.publish_sync("/topic/legacy", "hello").await;
    let message = sub.message().await;
    assert_eq!(body(&message), "hello");
    assert_eq!(message.header("destination"), Some("/topic/legacy"));
    assert_eq!(message.header("subscription"), Some("/topic/legacy"));

    sub.send("UNSUBSCRIBE\ndestination:/topic/legacy\nreceipt:u\n\n\0").await;
    sub.expect_receipt("u").await;
    producer.publish_sync("/topic/legacy", "gone").await;
    sub.barrier().await;

    // The destination is free again as a key.
    sub.send("SUBSCRIBE\ndestination:/topic/legacy\nack:client\nreceipt:s2\n\n\0").await;
    sub.expect_receipt("s2").await;
    producer.publish_sync("/topic/legacy", "again").await;
    assert_eq!(body(&sub.message().await), "again");
}

#[tokio::test]
async fn no_message_for_a_subscription_after_its_unsubscribe_receipt() {
    let broker = start().await;
    let mut client = broker.connect12().await;
    client.subscribe("/topic/late", "s", "").await;
    // The SEND is routed to `s` before the UNSUBSCRIBE, but not yet written when it ends.
    client.send("SEND\ndestination:/topic/late\n\nx\0UNSUBSCRIBE\nid:s\nreceipt:u\n\n\0").await;
    loop {
        let frame = client.frame().await;
        if frame.command == stompbox_core::Command::Receipt {
            assert_eq!(frame.header("receipt-id"), Some("u"));
            break;
        }
        assert_eq!(frame.command, stompbox_core::Command::Message, "{}", describe(&frame));
    }
    client.barrier().await;
}
