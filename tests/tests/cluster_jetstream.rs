//! Cluster mode: queues and retained messages shared by the nodes through JetStream on a real
//! NATS server on loopback.

use std::collections::BTreeSet;
use std::time::Duration;

use async_nats::jetstream::consumer;
use async_nats::jetstream::stream::{self, DiscardPolicy, RetentionPolicy};
use futures_util::TryStreamExt;
use stompbox_core::frame::Frame;
use stompbox_tests::nats::{cluster, node, NatsServer};
use stompbox_tests::{body, until, Client, TestBroker, TIMEOUT};

/// A consumer of `/queue/jobs` on `node`, once the node pulls the queue from JetStream.
async fn consumer(node: &TestBroker, extra: &str) -> Client {
    let mut client = node.connect12().await;
    client.subscribe("/queue/jobs", "0", extra).await;
    until(node, "the node to pull the queue from JetStream", |s| cluster(s).queues == 1).await;
    client
}

/// ACK (or NACK) a MESSAGE by its `ack` header, with a receipt, and wait for the RECEIPT.
async fn settle(client: &mut Client, command: &str, message: &Frame, receipt: &str) {
    let id = message.header("ack").expect("client acknowledgement gives an ack header");
    client.send(format!("{command}\nid:{id}\nreceipt:{receipt}\n\n\0")).await;
    client.expect_receipt(receipt).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_message_sent_on_one_node_is_consumed_on_another_once() {
    let nats = NatsServer::start().await;
    let (a, b) = (node(&nats, "a").await, node(&nats, "b").await);
    let mut receiver = consumer(&b, "").await;
    let mut producer = a.connect12().await;
    for n in 0..10 {
        producer.send(format!("SEND\ndestination:/queue/jobs\nn:{n}\ncolor:a\\cb\nreceipt:r{n}\n\njob {n}\0")).await;
        producer.expect_receipt(&format!("r{n}")).await;
    }
    for n in 0..10 {
        let message = receiver.message().await;
        assert_eq!(body(&message), format!("job {n}"), "one producer's order is kept");
        assert_eq!(message.header("color"), Some("a:b"), "headers cross JetStream unchanged");
        assert_eq!(message.header("destination"), Some("/queue/jobs"));
    }
    receiver.barrier().await;
    assert_eq!(cluster(&a.broker.snapshot()).queue_sent, 10, "stored in JetStream, not in a's queue");
    until(&b, "b to count what it took", |s| cluster(s).queue_received == 10).await;
    let mut late = a.connect12().await;
    late.subscribe("/queue/jobs", "0", "").await;
    assert!(late.try_frame(Duration::from_millis(500)).await.is_none(), "each message went to one consumer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_consumed_on_several_nodes_each_go_to_one_consumer() {
    let nats = NatsServer::start().await;
    let names = ["a", "b", "c"];
    let mut nodes = Vec::new();
    for name in names {
        nodes.push(node(&nats, name).await);
    }
    let mut consumers = Vec::new();
    for node in &nodes {
        consumers.push(consumer(node, "ack:client-individual\nactivemq.prefetchSize:4\n").await);
    }
    for (node, name) in nodes.iter().zip(names) {
        let mut producer = node.connect12().await;
        for n in 0..20 {
            producer.send(format!("SEND\ndestination:/queue/jobs\n\n{name}-{n}\0")).await;
        }
        producer.barrier().await;
    }
    let (mut got, mut per_node) = (BTreeSet::new(), [0; 3]);
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    while got.len() < 60 {
        assert!(tokio::time::Instant::now() < deadline, "only {} of 60 came: {got:?}", got.len());
        for (index, client) in consumers.iter_mut().enumerate() {
            if let Some(message) = client.try_frame(Duration::from_millis(50)).await {
                assert!(got.insert(body(&message).to_owned()), "{} came twice", body(&message));
                per_node[index] += 1;
                let id = message.header("ack").expect("an ack header");
                client.send(format!("ACK\nid:{id}\n\n\0")).await;
            }
        }
    }
    for client in &mut consumers {
        client.barrier().await;
    }
    assert!(per_node.iter().all(|&n| n > 0), "every node's consumer took some: {per_node:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nacked_and_abandoned_messages_are_delivered_again_and_acked_ones_are_gone() {
    let nats = NatsServer::start().await;
    let (a, b) = (node(&nats, "a").await, node(&nats, "b").await);
    let mut first = consumer(&a, "ack:client-individual\n").await;
    let mut producer = b.connect12().await;
    producer.publish_sync("/queue/jobs", "one").await;
    let message = first.message().await;
    assert_eq!((body(&message), message.header("redelivered")), ("one", None));
    settle(&mut first, "NACK", &message, "nacked").await;
    let again = first.message().await;
    assert_eq!(body(&again), "one");
    assert_eq!(again.header("redelivered"), Some("true"), "JetStream counted the first delivery");
    settle(&mut first, "ACK", &again, "acked").await;

    producer.publish_sync("/queue/jobs", "two").await;
    assert_eq!(body(&first.message().await), "two");
    // Its consumer leaves without acknowledging it: the message goes back to JetStream, to
    // the consumer on the other node.
    let mut second = consumer(&b, "ack:client-individual\n").await;
    first.disconnect().await;
    let message = second.message().await;
    assert_eq!(body(&message), "two", "\"one\" was acknowledged and is gone");
    assert_eq!(message.header("redelivered"), Some("true"), "its consumer left without acknowledging it");
    settle(&mut second, "ACK", &message, "acked").await;
    second.barrier().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receipt_waits_for_jetstream_to_store_the_message() {
    let mut nats = NatsServer::start().await;
    // The queues' stream made beforehand to take one message only: the second SEND is refused
    // by JetStream, after the node handed it on.
    let client = async_nats::connect(nats.url()).await.expect("a NATS client");
    let jetstream = async_nats::jetstream::new(client);
    let config = stream::Config {
        name: "test_queues".to_owned(),
        subjects: vec!["test.q.>".to_owned()],
        retention: RetentionPolicy::WorkQueue,
        discard: DiscardPolicy::New,
        max_messages: 1,
        ..Default::default()
    };
    jetstream.create_stream(config).await.expect("the stream");
    let a = node(&nats, "a").await;
    let mut producer = a.connect12().await;
    producer.publish_sync("/queue/jobs", "fits").await;
    producer.send("SEND\ndestination:/queue/jobs\nreceipt:r2\n\ndoes not fit\0").await;
    let error = producer.expect_error_and_close("JetStream").await;
    assert_eq!(error.header("code"), Some("store-failed"));
    assert_eq!(error.header("receipt-id"), Some("r2"));

    nats.stop();
    until(&a, "a to see NATS gone", |s| cluster(s).state == "disconnected").await;
    let mut producer = a.connect12().await;
    producer.send("SEND\ndestination:/queue/jobs\nreceipt:r3\n\nNATS is gone\0").await;
    let error = producer.expect_error_and_close("NATS is unreachable").await;
    assert_eq!(error.header("code"), Some("store-failed"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn temporary_queues_of_two_nodes_never_meet_and_leave_nothing_behind() {
    let nats = NatsServer::start().await;
    let (a, b) = (node(&nats, "a").await, node(&nats, "b").await);
    // Each node's first client: the same connection id on both nodes.
    let (mut on_a, mut on_b) = (a.connect12().await, b.connect12().await);
    on_a.subscribe("/temp-queue/replies", "r", "").await;
    on_b.subscribe("/temp-queue/replies", "r", "").await;
    let mut worker = b.connect12().await;
    worker.subscribe("/queue/jobs", "0", "").await;
    until(&a, "a to pull its temporary queue", |s| cluster(s).queues == 1).await;
    until(&b, "b to pull its temporary queue and the jobs", |s| cluster(s).queues == 2).await;

    on_a.send("SEND\ndestination:/queue/jobs\nreply-to:/temp-queue/replies\n\nquestion\0").await;
    let request = worker.message().await;
    let reply_to = request.header("reply-to").expect("the request says where to reply").to_owned();
    worker.send(format!("SEND\ndestination:{reply_to}\nreceipt:answered\n\nanswer\0")).await;
    worker.expect_receipt("answered").await;
    assert_eq!(body(&on_a.message().await), "answer");
    assert!(on_b.try_frame(Duration::from_millis(300)).await.is_none(), "b's /temp-queue/replies is another");

    // Closing its connection deletes a's temporary queue in JetStream too.
    let client = async_nats::connect(nats.url()).await.expect("a NATS client");
    let mut stream = async_nats::jetstream::new(client).get_stream("test_queues").await.expect("the stream");
    assert_eq!(stream.info().await.expect("stream info").state.consumer_count, 3);
    on_a.disconnect().await;
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    while stream.info().await.expect("stream info").state.consumer_count != 2 {
        assert!(tokio::time::Instant::now() < deadline, "a's temporary queue stayed in JetStream");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Had b died instead, NATS would delete its temporary queue's consumer once unused.
    let consumers: Vec<_> = stream.consumers().try_collect().await.expect("consumer infos");
    let reaped = |info: &&consumer::Info| !info.config.inactive_threshold.is_zero();
    let jobs = consumers.iter().find(|info| info.name == "q_jobs").expect("the jobs queue's consumer");
    assert!(!reaped(&jobs), "a queue's consumer stays");
    assert_eq!(consumers.iter().filter(reaped).count(), 1, "b's temporary queue's consumer goes once unused");
}

/// What a new subscriber to `topic` on `node` gets at once: the retained message's body, if any.
async fn retained_on(node: &TestBroker, topic: &str) -> Option<String> {
    let mut client = node.connect12().await;
    client.subscribe(topic, "0", "").await;
    let message = client.try_frame(Duration::from_millis(200)).await;
    message.map(|message| body(&message).to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retained_message_set_on_one_node_is_handed_to_new_subscribers_on_another() {
    let nats = NatsServer::start().await;
    let (a, b) = (node(&nats, "a").await, node(&nats, "b").await);
    let mut publisher = a.connect12().await;
    publisher.send("SEND\ndestination:/topic/status\nretain:set\nreceipt:r1\n\nall good\0").await;
    publisher.expect_receipt("r1").await;
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    while retained_on(&b, "/topic/status").await.as_deref() != Some("all good") {
        assert!(tokio::time::Instant::now() < deadline, "b never got a's retained message");
    }
    let c = node(&nats, "c").await;
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    while retained_on(&c, "/topic/status").await.as_deref() != Some("all good") {
        assert!(tokio::time::Instant::now() < deadline, "a node started later reads it back");
    }
    publisher.send("SEND\ndestination:/topic/status\nretain:remove\nreceipt:r2\n\n\0").await;
    publisher.expect_receipt("r2").await;
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    while retained_on(&b, "/topic/status").await.is_some() {
        assert!(tokio::time::Instant::now() < deadline, "b still hands out a removed retained message");
    }
}
