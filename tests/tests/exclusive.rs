//! Exclusive queue consumers (`exclusive:true`; ActiveMQ's `activemq.exclusive:true`): the first
//! takes every message while it lives, then the next one does.

use stompbox_tests::{body, start};

#[tokio::test]
async fn the_first_exclusive_consumer_takes_every_message_then_the_next_one() {
    let broker = start().await;
    let mut shared = broker.connect12().await;
    shared.subscribe("/queue/ledger", "s", "").await;
    let mut first = broker.connect12().await;
    first.subscribe("/queue/ledger", "x1", "exclusive:true\nack:client-individual\n").await;
    let mut second = broker.connect12().await;
    second.subscribe("/queue/ledger", "x2", "activemq.exclusive:true\n").await;

    let mut producer = broker.connect12().await;
    for i in 0..4 {
        producer.publish_sync("/queue/ledger", &format!("entry {i}")).await;
    }
    let mut unacknowledged = Vec::new();
    for i in 0..4 {
        let message = first.message().await;
        assert_eq!(body(&message), format!("entry {i}"), "in order, all to the first exclusive consumer");
        unacknowledged.push(message);
    }
    shared.barrier().await;
    second.barrier().await;

    // It leaves without acknowledging: the next exclusive consumer gets everything, in order.
    first.disconnect().await;
    for i in 0..4 {
        let message = second.message().await;
        assert_eq!(body(&message), format!("entry {i}"));
        assert_eq!(message.header("redelivered"), Some("true"));
    }
    producer.publish_sync("/queue/ledger", "entry 4").await;
    assert_eq!(body(&second.message().await), "entry 4");
    shared.barrier().await;

    // With no exclusive consumer left, the others share again.
    second.disconnect().await;
    producer.publish_sync("/queue/ledger", "entry 5").await;
    assert_eq!(body(&shared.message().await), "entry 5");
}
