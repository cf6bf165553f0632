//! Flow control: the prefetch window of queue subscriptions, the per-connection outbox and the
//! slow-consumer policy for topics, and full queues (`error` and `block`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use stompbox_core::broker::{QueueFullPolicy, QueueRule, SlowConsumerPolicy};
use stompbox_core::Command;
use stompbox_server::Config;
use stompbox_tests::{body, start, start_with, Client, Event, TestBroker, TIMEOUT};

/// Sends `n` numbered messages to `destination` and waits until they are routed.
async fn produce(broker: &TestBroker, destination: &str, n: usize) {
    let mut producer = broker.connect12().await;
    let mut frames = String::new();
    for i in 0..n {
        frames.push_str(&format!("SEND\ndestination:{destination}\n\n{i}\0"));
    }
    producer.send(frames).await;
    producer.barrier().await;
}

/// Checks that a subscription with this window header gets `window` messages, then nothing
/// until it acknowledges one, then exactly one more.
async fn window_holds(header: &str, window: usize) {
    let broker = start().await;
    produce(&broker, "/queue/window", window + 3).await;
    let mut consumer = broker.connect12().await;
    consumer.subscribe("/queue/window", "0", &format!("ack:client-individual\n{header}\n")).await;
    let mut acks = Vec::new();
    for i in 0..window {
        let message = consumer.message().await;
        assert_eq!(body(&message), i.to_string());
        acks.push(message.header("ack").expect("ack").to_owned());
    }
    consumer.barrier().await;
    consumer.send(format!("ACK\nid:{}\n\n\0", acks[0])).await;
    assert_eq!(body(&consumer.message().await), window.to_string(), "one ACK makes room for one");
    consumer.barrier().await;
}

#[tokio::test]
async fn prefetch_count_limits_in_flight_messages() {
    window_holds("prefetch-count:2", 2).await;
}

#[tokio::test]
async fn activemq_prefetch_size_limits_in_flight_messages() {
    window_holds("activemq.prefetchSize:3", 3).await;
}

#[tokio::test]
async fn apollo_credit_limits_in_flight_messages() {
    window_holds("credit:2,65536", 2).await;
}

#[tokio::test]
async fn cumulative_ack_frees_the_whole_window() {
    let broker = start().await;
    produce(&broker, "/queue/cumulative", 5).await;
    let mut consumer = broker.connect11().await;
    consumer.subscribe("/queue/cumulative", "s", "ack:client\nprefetch-count:2\n").await;
    consumer.message().await;
    let second = consumer.message().await;
    consumer.barrier().await;
    let id = second.header("message-id").expect("message-id");
    consumer.send(format!("ACK\nsubscription:s\nmessage-id:{id}\n\n\0")).await;
    assert_eq!(body(&consumer.message().await), "2");
    assert_eq!(body(&consumer.message().await), "3");
    consumer.barrier().await;
}

#[tokio::test]
async fn auto_mode_window_refills_as_messages_are_written() {
    let broker = start().await;
    produce(&broker, "/queue/auto-window", 10).await;
    let mut consumer = broker.connect12().await;
    consumer.subscribe("/queue/auto-window", "0", "prefetch-count:1\n").await;
    for i in 0..10 {
        assert_eq!(body(&consumer.message().await), i.to_string());
    }
    consumer.barrier().await;
}

#[tokio::test]
async fn default_window_is_1000() {
    assert_eq!(Config::default().delivery.default_prefetch, 1000, "documented default");
    let broker = start().await;
    produce(&broker, "/queue/default-window", 1001).await;
    let mut consumer = broker.connect12().await;
    consumer.subscribe("/queue/default-window", "0", "ack:client-individual\n").await;
    let mut first_ack = None;
    for i in 0..1000 {
        let message = consumer.message().await;
        assert_eq!(body(&message), i.to_string());
        first_ack.get_or_insert_with(|| message.header("ack").expect("ack").to_owned());
    }
    consumer.barrier().await;
    consumer.send(format!("ACK\nid:{}\n\n\0", first_ack.expect("a message"))).await;
    assert_eq!(body(&consumer.message().await), "1000");
}

#[tokio::test]
async fn configured_default_window_applies() {
    let broker = start_with(|c| c.delivery.default_prefetch = 2).await;
    produce(&broker, "/queue/cfg-window", 3).await;
    let mut consumer = broker.connect12().await;
    consumer.subscribe("/queue/cfg-window", "0", "ack:client\n").await;
    consumer.message().await;
    consumer.message().await;
    consumer.barrier().await;
}

/// A 256 KiB outbox: room for a burst of 100 1 KiB messages, so a subscriber that reads keeps
/// up, while one that never reads falls behind once its socket buffers are full.
fn slow_consumer_config(c: &mut Config) {
    c.delivery.outbox_max_bytes = 256 * 1024;
    c.delivery.high_water_bytes = 128 * 1024;
    c.delivery.low_water_bytes = 32 * 1024;
    // The subscriber that stops reading paces the publisher for this long, then no more.
    c.delivery.stall_ms = 100;
    c.limits.write_timeout_ms = 20_000;
}

/// Floods `/topic/flood` with `n` 1 KiB messages in batches of 100. Each batch ends in a
/// receipt the producer must get (the publisher is held back by a subscriber that does not read
/// only until it has stalled), and `reader` reads each batch before the next is sent, so a
/// subscriber that does read never has more than one batch waiting.
async fn flood(producer: &mut Client, reader: &mut Client, n: usize) {
    let payload = "p".repeat(1024);
    let batch = 100;
    for start in (0..n).step_by(batch) {
        let end = (start + batch).min(n);
        let mut frames = String::new();
        for i in start..end {
            frames.push_str(&format!("SEND\ndestination:/topic/flood\nseq:{i}\n\n{payload}\0"));
        }
        frames.push_str(&format!("SEND\ndestination:/topic/other\nreceipt:batch-{start}\n\n\0"));
        producer.send(frames).await;
        producer.expect_receipt(&format!("batch-{start}")).await;
        for i in start..end {
            let message = reader.message().await;
            assert_eq!(message.header("seq"), Some(i.to_string().as_str()));
        }
    }
}

const FLOOD: usize = 12_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_topic_subscriber_is_disconnected_and_others_keep_receiving() {
    // The ERROR waits behind the messages already buffered for the slow subscriber, so the
    // broker must linger long enough for it to start reading again after the flood (it
    // half-closes once it has the ERROR, so the test does not wait this long).
    let broker = start_with(|c| {
        slow_consumer_config(c);
        c.limits.error_linger_ms = 10_000;
    })
    .await;
    let mut slow = broker.client_with_small_buffer().await;
    slow.handshake("CONNECT\naccept-version:1.2\nhost:localhost\n\n\0").await;
    slow.subscribe("/topic/flood", "slow", "").await;
    let mut fast = broker.connect12().await;
    fast.subscribe("/topic/flood", "fast", "").await;
    let mut producer = broker.connect12().await;

    tokio::time::timeout(TIMEOUT * 3, flood(&mut producer, &mut fast, FLOOD)).await.expect("the publisher was blocked");
    fast.barrier().await;

    // The slow subscriber finally reads: some messages, then the ERROR, then the close.
    let mut delivered = 0;
    let error = loop {
        match slow.event(TIMEOUT).await {
            Event::Frame(frame) if frame.command == Command::Message => delivered += 1,
            Event::Frame(frame) if frame.command == Command::Error => break frame,
            other => panic!("expected MESSAGE or ERROR, got {other:?}"),
        }
    };
    assert!(delivered < FLOOD, "the slow subscriber was not cut off");
    assert_eq!(broker.broker.stats().slow_consumers, 1, "the disconnect is counted");
    assert!(error.header("message").is_some_and(|m| m.contains("slow consumer")), "{error:?}");
    // Half-close so the broker need not wait out its linger: the close follows.
    slow.close_write().await;
    slow.expect_closed().await;
    // The publisher still works.
    producer.publish_sync("/topic/flood", "after").await;
    assert_eq!(body(&fast.message().await), "after");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_oldest_keeps_the_slow_subscriber_connected() {
    let broker = start_with(|c| {
        slow_consumer_config(c);
        c.delivery.slow_consumer = SlowConsumerPolicy::DropOldest;
    })
    .await;
    let mut slow = broker.client_with_small_buffer().await;
    slow.handshake("CONNECT\naccept-version:1.2\nhost:localhost\n\n\0").await;
    slow.subscribe("/topic/flood", "slow", "").await;
    let mut fast = broker.connect12().await;
    fast.subscribe("/topic/flood", "fast", "").await;
    let mut producer = broker.connect12().await;

    tokio::time::timeout(TIMEOUT * 3, flood(&mut producer, &mut fast, FLOOD)).await.expect("the publisher was blocked");
    fast.barrier().await;

    // The slow subscriber reads what is left: fewer messages, in order, and no ERROR.
    slow.send("SEND\ndestination:/topic/other\nreceipt:done\n\n\0").await;
    let mut delivered = 0;
    let mut last_seq = None;
    loop {
        let frame = slow.frame().await;
        match frame.command {
            Command::Message => {
                let seq: usize = frame.header("seq").expect("seq").parse().expect("number");
                assert!(last_seq.is_none_or(|last| seq > last), "out of order: {seq} after {last_seq:?}");
                last_seq = Some(seq);
                delivered += 1;
            }
            Command::Receipt => break,
            _ => panic!("unexpected {frame:?}"),
        }
    }
    assert!(delivered < FLOOD, "nothing was dropped ({delivered} delivered)");
    assert_eq!(broker.broker.stats().dropped, (FLOOD - delivered) as u64, "every drop is counted");
    assert_eq!(last_seq, Some(FLOOD - 1), "the newest messages are kept");
    producer.publish_sync("/topic/flood", "after").await;
    assert_eq!(body(&slow.message().await), "after");
}

#[tokio::test]
async fn full_queue_with_error_policy_refuses_the_send() {
    let broker = start_with(|c| {
        c.queues.max_messages = 2;
        c.queues.when_full = QueueFullPolicy::Error;
    })
    .await;
    let mut producer = broker.connect12().await;
    producer.publish_sync("/queue/small", "1").await;
    producer.publish_sync("/queue/small", "2").await;
    producer.send("SEND\ndestination:/queue/small\nreceipt:r3\n\n3\0").await;
    let error = producer.expect_error_and_close("queue /queue/small is full").await;
    assert_eq!(error.header("receipt-id"), Some("r3"));
    let mut consumer = broker.connect12().await;
    consumer.subscribe("/queue/small", "0", "").await;
    assert_eq!(body(&consumer.message().await), "1");
    assert_eq!(body(&consumer.message().await), "2");
    consumer.barrier().await;
}

#[tokio::test]
async fn queue_rule_applies_to_matching_queues_only() {
    let broker = start_with(|c| {
        c.queues.max_messages = 1;
        c.queues.when_full = QueueFullPolicy::Error;
        c.queues.rule.push(QueueRule { max_messages: Some(100), ..QueueRule::new("big.**") });
    })
    .await;
    let mut producer = broker.connect12().await;
    for i in 0..5 {
        producer.publish_sync("/queue/big.jobs", &i.to_string()).await;
    }
    producer.publish_sync("/queue/tiny", "1").await;
    producer.send("SEND\ndestination:/queue/tiny\n\n2\0").await;
    producer.expect_error_and_close("queue /queue/tiny is full").await;
}

#[tokio::test]
async fn full_queue_with_block_policy_withholds_the_receipt_until_there_is_room() {
    let broker = start_with(|c| {
        c.queues.max_messages = 1;
        c.queues.when_full = QueueFullPolicy::Block;
    })
    .await;
    let mut producer = broker.connect12().await;
    producer.publish_sync("/queue/blocking", "1").await;
    producer.send("SEND\ndestination:/queue/blocking\nreceipt:r2\n\n2\0").await;
    // The queue is full: the RECEIPT is withheld (for as long as we care to wait).
    match producer.event(Duration::from_millis(300)).await {
        Event::Timeout => {}
        other => panic!("the blocked SEND must not be answered yet: {other:?}"),
    }
    // A consumer takes the first message and acknowledges it: now the SEND goes through.
    let mut consumer = broker.connect12().await;
    consumer.subscribe("/queue/blocking", "0", "ack:client-individual\n").await;
    let first = consumer.message().await;
    assert_eq!(body(&first), "1");
    consumer.send(format!("ACK\nid:{}\n\n\0", first.header("ack").expect("ack"))).await;
    producer.expect_receipt("r2").await;
    let second = consumer.message().await;
    assert_eq!(body(&second), "2");
    // The producer is reading again; acknowledging "2" leaves room for "3".
    consumer.send(format!("ACK\nid:{}\n\n\0", second.header("ack").expect("ack"))).await;
    producer.publish_sync("/queue/blocking", "3").await;
    assert_eq!(body(&consumer.message().await), "3");
}

#[tokio::test]
async fn blocked_producer_does_not_block_other_connections() {
    let broker = start_with(|c| {
        c.queues.max_messages = 1;
        c.queues.when_full = QueueFullPolicy::Block;
    })
    .await;
    let mut producer = broker.connect12().await;
    producer.publish_sync("/queue/full", "1").await;
    producer.send("SEND\ndestination:/queue/full\nreceipt:r2\n\n2\0").await;
    let mut other = broker.connect12().await;
    other.publish_sync("/queue/elsewhere", "x").await;
    other.subscribe("/topic/t", "t", "").await;
    other.barrier().await;
    let mut consumer = broker.connect12().await;
    consumer.subscribe("/queue/full", "0", "").await;
    assert_eq!(body(&consumer.message().await), "1");
    producer.expect_receipt("r2").await;
    assert_eq!(body(&consumer.message().await), "2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_under_a_steady_stream_still_has_its_frames_handled() {
    let broker = start().await;
    let mut subscriber = broker.connect12().await;
    subscriber.subscribe("/topic/stream", "s", "").await;
    let mut producer = broker.connect12().await;
    let stop = Arc::new(AtomicBool::new(false));
    let streaming = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let batch = "SEND\ndestination:/topic/stream\n\nx\0".repeat(100);
            while !stop.load(Ordering::Relaxed) {
                producer.send(&batch).await;
            }
            producer
        })
    };
    subscriber.message().await;
    // While deliveries keep coming, the subscriber's own frame is still read and answered.
    subscriber.send("UNSUBSCRIBE\nid:s\nreceipt:unsubscribed\n\n\0").await;
    loop {
        let frame = subscriber.frame().await;
        if frame.command == Command::Receipt {
            assert_eq!(frame.header("receipt-id"), Some("unsubscribed"));
            break;
        }
        assert_eq!(frame.command, Command::Message, "{frame:?}");
    }
    stop.store(true, Ordering::Relaxed);
    streaming.await.expect("producer task");
}
