//! Cluster mode: durable subscriptions shared by the nodes through JetStream on a real NATS
//! server on loopback. Every node knows every durable subscription, what it collects waits in
//! JetStream, and a client consumes it on any node.

use std::time::Duration;

use stompbox_core::broker::Snapshot;
use stompbox_tests::nats::{node, NatsServer};
use stompbox_tests::{body, until, Client, TestBroker};

/// The SUBSCRIBE headers of the durable subscription `archive` (Apollo's dialect).
const ARCHIVE: &str = "persistent:true\nack:client-individual\n";

/// Whether the node whose snapshot this is knows the durable subscription `/dsub/NAME`.
fn knows(snapshot: &Snapshot, name: &str) -> bool {
    let destination = format!("/dsub/{name}");
    snapshot.destinations.iter().any(|d| d.destination == destination)
}

/// Waits until each of `nodes` knows (or, with `known` false, has forgotten) `/dsub/NAME`.
async fn until_known(nodes: &[&TestBroker], name: &str, known: bool) {
    for node in nodes {
        until(node, "the durable subscription to reach every node", |s| knows(s, name) == known).await;
    }
}

/// Takes `count` messages sent to `/topic/chat.room`, checks their bodies are `prefix0`,
/// `prefix1`, ... and acknowledges them, each ACK with a receipt waited for.
async fn take_in_order(client: &mut Client, prefix: &str, count: usize) {
    let mut acks = Vec::new();
    for n in 0..count {
        let message = client.message().await;
        assert_eq!(body(&message), format!("{prefix}{n}"), "one publisher's order is kept");
        assert_eq!(message.header("destination"), Some("/topic/chat.room"), "the topic it was sent to");
        acks.push(message.header("ack").expect("client acknowledgement gives an ack header").to_owned());
    }
    for id in acks {
        client.send(format!("ACK\nid:{id}\nreceipt:ack-{id}\n\n\0")).await;
        client.expect_receipt(&format!("ack-{id}")).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_durable_subscriptions_backlog_outlives_its_node_and_is_consumed_on_another() {
    let nats = NatsServer::start().await;
    let (a, b, c) = (node(&nats, "a").await, node(&nats, "b").await, node(&nats, "c").await);
    let mut subscriber = a.connect12().await;
    subscriber.subscribe("/topic/chat.*", "archive", ARCHIVE).await;
    until_known(&[&b, &c], "archive", true).await;
    subscriber.disconnect().await;
    a.shutdown().await.expect("node a stops");

    // Published on b while nobody consumes it and its node is gone: each RECEIPT means
    // JetStream holds the message.
    let mut producer = b.connect12().await;
    for n in 0..5 {
        producer.publish_sync("/topic/chat.room", &format!("m{n}")).await;
    }
    producer.publish_sync("/topic/news", "not collected").await;

    // The client comes back on c: the backlog is there, with its topic as destination.
    // The backlog may come before the SUBSCRIBE's RECEIPT (which waits for JetStream).
    let mut again = c.connect12().await;
    again.send(format!("SUBSCRIBE\ndestination:/topic/chat.*\nid:archive\n{ARCHIVE}\n\0")).await;
    take_in_order(&mut again, "m", 5).await;
    assert!(again.try_frame(Duration::from_millis(300)).await.is_none(), "each message once, and only chat.*");

    // Deleted on c: no node knows it any more, and nothing is collected for it.
    again.send("UNSUBSCRIBE\nid:archive\npersistent:true\nreceipt:gone\n\n\0").await;
    again.expect_receipt("gone").await;
    until_known(&[&b, &c], "archive", false).await;
    producer.publish_sync("/topic/chat.room", "after").await;
    again.subscribe("/topic/chat.*", "archive", ARCHIVE).await;
    assert!(again.try_frame(Duration::from_millis(300)).await.is_none(), "a new subscription starts empty");
}

/// SENDs `body` to `/topic/alerts` with a `level` header, and waits for its RECEIPT.
async fn alert(producer: &mut Client, level: u8, body: &str) {
    producer.send(format!("SEND\ndestination:/topic/alerts\nlevel:{level}\nreceipt:{body}\n\n{body}\0")).await;
    producer.expect_receipt(body).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_selector_replaces_the_subscription_on_every_node() {
    let nats = NatsServer::start().await;
    let (a, b) = (node(&nats, "a").await, node(&nats, "b").await);
    let mut subscriber = a.connect12().await;
    subscriber.subscribe("/topic/alerts", "pager", &format!("{ARCHIVE}selector:level > 1\n")).await;
    until_known(&[&b], "pager", true).await;
    subscriber.disconnect().await;

    let mut producer = b.connect12().await;
    for level in [1, 2, 3] {
        alert(&mut producer, level, &format!("l{level}")).await;
    }
    let mut on_b = b.connect12().await;
    on_b.subscribe("/dsub/pager", "p", "ack:client-individual\n").await;
    let mut got = Vec::new();
    for _ in 0..2 {
        // In any order: a message a's last pull took as its client left comes back after later ones.
        let message = on_b.message().await;
        got.push(body(&message).to_owned());
        let id = message.header("ack").expect("an ack header");
        on_b.send(format!("ACK\nid:{id}\n\n\0")).await;
    }
    got.sort();
    assert_eq!(got, ["l2", "l3"], "the selector was applied on the publisher's node");
    on_b.disconnect().await;

    // Subscribing again with another selector replaces it, backlog and all, on every node.
    alert(&mut producer, 5, "old").await;
    let mut changed = a.connect12().await;
    changed.subscribe("/topic/alerts", "pager", &format!("{ARCHIVE}selector:level > 4\n")).await;
    alert(&mut producer, 9, "new").await;
    let message = changed.message().await;
    assert_eq!(body(&message), "new", "what the old subscription collected went with it");
}
