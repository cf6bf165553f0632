//! Cluster mode: three nodes sharing topics through a real NATS server on loopback.

use std::collections::BTreeSet;

use stompbox_tests::nats::{cluster, node, node_with, NatsServer};
use stompbox_tests::{body, until, until_within, Client, TIMEOUT};

/// Reads messages until one with body `end` came from each of `nodes`; returns the others'
/// `(from, n)` headers, each of which must have come once.
async fn read_until_ends(client: &mut Client, nodes: usize) -> BTreeSet<(String, String)> {
    let (mut got, mut ends) = (BTreeSet::new(), 0);
    while ends < nodes {
        let message = client.message().await;
        if body(&message) == "end" {
            ends += 1;
            continue;
        }
        let key = (message.header("from").unwrap().to_owned(), message.header("n").unwrap().to_owned());
        assert!(got.insert(key.clone()), "{key:?} came twice");
        assert_eq!(message.header("color"), Some("a:b"), "headers cross NATS unchanged");
    }
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_topic_message_from_any_node_reaches_every_node_once() {
    let nats = NatsServer::start().await;
    let names = ["a", "b", "c"];
    let mut nodes = Vec::new();
    for name in names {
        nodes.push(node(&nats, name).await);
    }
    // On every node: one subscription by name, one by a wildcard that overlaps it (two NATS
    // subjects, each message sent to the node twice), one to a topic nobody publishes to.
    let mut subscribers = Vec::new();
    for node in &nodes {
        let mut exact = node.connect12().await;
        exact.subscribe("/topic/chat.room", "exact", "").await;
        let mut wildcard = node.connect12().await;
        wildcard.subscribe("/topic/chat.*", "wild", "").await;
        subscribers.push((exact, wildcard));
    }
    for node in &nodes {
        until(node, "both subjects subscribed in NATS", |s| cluster(s).subscriptions == 2).await;
    }
    for (node, name) in nodes.iter().zip(names) {
        let mut producer = node.connect12().await;
        for n in 0..5 {
            producer.send(format!("SEND\ndestination:/topic/chat.room\nfrom:{name}\nn:{n}\ncolor:a\\cb\n\nhi\0")).await;
        }
        producer.publish_sync("/topic/chat.room", "end").await;
    }
    let expected: BTreeSet<(String, String)> =
        names.iter().flat_map(|name| (0..5).map(move |n| (name.to_string(), n.to_string()))).collect();
    for (exact, wildcard) in &mut subscribers {
        assert_eq!(read_until_ends(exact, names.len()).await, expected);
        assert_eq!(read_until_ends(wildcard, names.len()).await, expected);
        exact.barrier().await;
        wildcard.barrier().await;
    }
    for node in &nodes {
        let bridge = node.broker.snapshot().cluster.expect("cluster");
        assert_eq!(bridge.received, 12, "each of the other nodes' 6 messages delivered once");
        assert!(bridge.published >= 6, "its own 6 and the barriers went out: {bridge:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_subscribes_in_nats_only_while_it_has_local_interest() {
    let nats = NatsServer::start().await;
    let (a, b) = (node(&nats, "a").await, node(&nats, "b").await);
    let mut producer = a.connect12().await;
    producer.publish_sync("/topic/elsewhere", "nobody on b wants it").await;
    let mut listener = b.connect12().await;
    listener.subscribe("/topic/room.**", "0", "").await;
    until(&b, "the first subscriber's subjects", |s| cluster(s).subscriptions == 2).await;
    let mut second = b.connect12().await;
    second.subscribe("/topic/room.**", "0", "").await;
    producer.publish_sync("/topic/room.1", "hello").await;
    assert_eq!(body(&listener.message().await), "hello");
    assert_eq!(body(&second.message().await), "hello");
    assert_eq!(cluster(&b.broker.snapshot()).received, 1, "b never got /topic/elsewhere");
    assert_eq!(cluster(&b.broker.snapshot()).subscriptions, 2, "a second subscriber adds nothing");
    listener.disconnect().await;
    assert_eq!(cluster(&b.broker.snapshot()).subscriptions, 2, "one subscriber is left");
    second.disconnect().await;
    until(&b, "the last subscriber's leaving to unsubscribe", |s| cluster(s).subscriptions == 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_nats_a_node_serves_locally_and_topics_resume_after_it_returns() {
    let mut nats = NatsServer::start().await;
    let (a, b) = (node(&nats, "a").await, node(&nats, "b").await);
    let mut local = a.connect12().await;
    local.subscribe("/topic/news", "0", "").await;
    let mut remote = b.connect12().await;
    remote.subscribe("/topic/news", "0", "").await;
    until(&a, "a's subscription in NATS", |s| cluster(s).subscriptions == 1).await;

    nats.stop();
    for node in [&a, &b] {
        until(node, "the node to see NATS gone", |s| cluster(s).state == "disconnected").await;
    }
    let mut producer = a.connect12().await;
    producer.publish_sync("/topic/news", "while NATS is down").await;
    assert_eq!(body(&local.message().await), "while NATS is down", "local delivery goes on");
    assert!(cluster(&a.broker.snapshot()).dropped >= 1, "what could not go out is counted");

    nats.restart().await;
    for node in [&a, &b] {
        until(node, "the node to reconnect", |s| cluster(s).state == "connected").await;
    }
    // b subscribes again on its own after reconnecting; publish until its subscription is back.
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        producer.publish_sync("/topic/news", "after").await;
        assert_eq!(body(&local.message().await), "after");
        if remote.try_frame(std::time::Duration::from_millis(100)).await.is_some_and(|m| body(&m) == "after") {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "topics did not resume after NATS came back");
    }
    remote.barrier().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_node_rejoins() {
    let nats = NatsServer::start().await;
    let a = node(&nats, "a").await;
    let mut listener = a.connect12().await;
    listener.subscribe("/topic/news", "0", "").await;
    until(&a, "a's subscription in NATS", |s| cluster(s).subscriptions == 1).await;
    for run in ["first run", "second run"] {
        // Same name, a new run: its sequence numbers start over and must not be taken for copies.
        let b = node(&nats, "b").await;
        let mut producer = b.connect12().await;
        producer.publish_sync("/topic/news", run).await;
        assert_eq!(body(&listener.message().await), run);
        producer.disconnect().await;
        b.shutdown().await.expect("b stops");
    }
    listener.barrier().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_producer_faster_than_nats_is_paced_and_nothing_is_dropped() {
    // More than a frozen NATS connection buffers (socket buffers, the client's own queue).
    const COUNT: usize = 20_000;
    let nats = NatsServer::start().await;
    let a = node_with(&nats, "a", |cluster| cluster.outgoing_capacity = 8).await;
    let b = node(&nats, "b").await;
    let mut listener = b.connect12().await;
    listener.subscribe("/topic/flood", "0", "").await;
    until(&b, "b's subscription in NATS", |s| cluster(s).subscriptions == 1).await;

    nats.pause();
    let mut producer = a.connect12().await;
    let body = "x".repeat(1024);
    let sending = tokio::spawn(async move {
        for n in 0..COUNT {
            producer.send(format!("SEND\ndestination:/topic/flood\nn:{n}\n\n{body}\0")).await;
        }
        producer
    });
    let paced = |s: &stompbox_core::broker::Snapshot| {
        s.connections.iter().any(|c| c.held_by.as_deref() == Some("paced to the cluster bridge's backlog"))
    };
    until_within(std::time::Duration::from_secs(30), &a, "the producer paced to the bridge", paced).await;
    assert!(!sending.is_finished(), "the producer waits in its writes");
    assert_eq!(cluster(&a.broker.snapshot()).dropped, 0, "nothing dropped while paced");

    nats.resume();
    for n in 0..COUNT {
        let message = listener.message().await;
        assert_eq!(message.header("n"), Some(n.to_string().as_str()), "in order, none missing");
    }
    sending.await.expect("the producer finished");
    assert_eq!(cluster(&a.broker.snapshot()).dropped, 0);
    assert_eq!(cluster(&b.broker.snapshot()).dropped, 0);
}
