//! Composite destinations (Apollo's and ActiveMQ's `/queue/a,/topic/b`): a SEND goes to each, a
//! SUBSCRIBE subscribes to each under one id.

use stompbox_tests::{body, start};

#[tokio::test]
async fn a_send_to_a_composite_destination_goes_to_each() {
    let broker = start().await;
    let mut watcher = broker.connect12().await;
    watcher.subscribe("/topic/audit", "0", "").await;
    let mut producer = broker.connect12().await;
    producer
        .send("SEND\ndestination:/queue/orders,/queue/billing,/topic/audit\norder:7\nreceipt:r\n\nnew order\0")
        .await;
    producer.expect_receipt("r").await;

    let seen = watcher.message().await;
    assert_eq!((body(&seen), seen.header("destination")), ("new order", Some("/topic/audit")));
    assert_eq!(seen.header("order"), Some("7"));
    for queue in ["/queue/orders", "/queue/billing"] {
        assert_eq!(broker.broker.queue_depth(queue), 1, "{queue}");
        let mut consumer = broker.connect12().await;
        consumer.subscribe(queue, "0", "").await;
        let message = consumer.message().await;
        assert_eq!((body(&message), message.header("destination")), ("new order", Some(queue)));
    }
}

#[tokio::test]
async fn a_subscription_to_a_composite_destination_gets_each_and_acks_across_them() {
    let broker = start().await;
    let mut consumer = broker.connect12().await;
    consumer.subscribe("/queue/a,/topic/b.*", "both", "ack:client-individual\n").await;
    let mut producer = broker.connect12().await;
    producer.publish_sync("/queue/a", "from the queue").await;
    producer.publish_sync("/topic/b.x", "from the topic").await;

    let first = consumer.message().await;
    let second = consumer.message().await;
    assert_eq!((body(&first), first.header("subscription")), ("from the queue", Some("both")));
    assert_eq!((body(&second), second.header("subscription")), ("from the topic", Some("both")));
    let ack = first.header("ack").unwrap();
    consumer.send(format!("ACK\nid:{ack}\nreceipt:a\n\n\0")).await;
    consumer.expect_receipt("a").await;
    assert_eq!(broker.broker.queue_depth("/queue/a"), 0);

    // UNSUBSCRIBE ends it everywhere.
    consumer.send("UNSUBSCRIBE\nid:both\nreceipt:u\n\n\0").await;
    consumer.expect_receipt("u").await;
    producer.publish_sync("/queue/a", "later").await;
    producer.publish_sync("/topic/b.x", "later").await;
    consumer.barrier().await;
    assert_eq!(broker.broker.queue_depth("/queue/a"), 1);
}

#[tokio::test]
async fn a_bad_part_refuses_the_whole_composite() {
    let broker = start().await;
    let mut producer = broker.connect12().await;
    producer.send("SEND\ndestination:/queue/ok,/exchange/x\nreceipt:r\n\nnope\0").await;
    producer.expect_error_and_close("/exchange/x").await;
    assert_eq!(broker.broker.queue_depth("/queue/ok"), 0, "nothing was sent");

    let mut consumer = broker.connect12().await;
    consumer.send("SUBSCRIBE\ndestination:/topic/a,/topic/b\nid:d\npersistent:true\n\n\0").await;
    consumer.expect_error_and_close("a durable subscription subscribes to one destination").await;
    assert_eq!(broker.broker.topic_subscriptions(), 0, "the part subscribed first was undone");
}
