//! Message groups (Apollo's `message_group`, ActiveMQ's `JMSXGroupID`): one group's messages go
//! to one queue consumer while it lives, and to another once it leaves.

use std::collections::HashMap;

use stompbox_tests::{body, start, start_with, Client};

async fn send_grouped(producer: &mut Client, header: &str, group: &str, text: &str) {
    producer.send(format!("SEND\ndestination:/queue/orders\n{header}:{group}\nreceipt:{text}\n\n{text}\0")).await;
    producer.expect_receipt(text).await;
}

#[tokio::test]
async fn a_group_sticks_to_one_consumer_while_it_lives() {
    let broker = start().await;
    let mut consumers = Vec::new();
    for i in 0..2 {
        let mut consumer = broker.connect12().await;
        consumer.subscribe("/queue/orders", &format!("c{i}"), "ack:client-individual\n").await;
        consumers.push(consumer);
    }
    let mut producer = broker.connect12().await;
    for n in 0..6 {
        send_grouped(&mut producer, "message_group", "alice", &format!("alice {n}")).await;
        send_grouped(&mut producer, "JMSXGroupID", "bob", &format!("bob {n}")).await;
    }
    // Round-robin hands out the first message of each group; the rest follow it.
    let mut owner = HashMap::new();
    for (index, consumer) in consumers.iter_mut().enumerate() {
        for _ in 0..6 {
            let message = consumer.message().await;
            let text = body(&message);
            let group = text.split(' ').next().unwrap().to_owned();
            assert_eq!(*owner.entry(group).or_insert(index), index, "{text} went to another consumer");
        }
        consumer.barrier().await;
    }
    assert_eq!(owner.len(), 2);

    // Alice's consumer leaves without acknowledging: her messages, and new ones, go to the other.
    let alice = owner["alice"];
    let other = 1 - alice;
    drop(consumers.remove(alice));
    send_grouped(&mut producer, "message_group", "alice", "alice 6").await;
    let remaining = &mut consumers[0];
    let mut bodies = Vec::new();
    for _ in 0..7 {
        bodies.push(body(&remaining.message().await).to_owned());
    }
    let expected: Vec<String> = (0..7).map(|n| format!("alice {n}")).collect();
    assert_eq!(bodies, expected, "in order, to consumer c{other}");
}

#[tokio::test]
async fn ever_new_groups_keep_flowing_past_the_bound_on_remembered_groups() {
    let broker = start_with(|c| c.limits.max_message_groups = 2).await;
    let mut consumer = broker.connect12().await;
    consumer.subscribe("/queue/orders", "0", "").await;
    let mut producer = broker.connect12().await;
    for n in 0..100 {
        send_grouped(&mut producer, "message_group", &format!("g{n}"), &format!("m{n}")).await;
    }
    for n in 0..100 {
        assert_eq!(body(&consumer.message().await), format!("m{n}"));
    }
}
