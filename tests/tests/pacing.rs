//! Producers paced to the slowest subscriber that still reads, the broker-wide memory bound,
//! large messages, and the deadlines of a started frame and of a producer held by a full queue.

use std::time::Duration;

use stompbox_core::broker::{Amount, QueueFullPolicy};
use stompbox_server::Config;
use stompbox_tests::{start, start_with, until, until_within, Client, Event, TIMEOUT};

/// `n` numbered topic SENDs of `size` bytes in one string, the last with `receipt:burst`.
fn burst(destination: &str, n: usize, size: usize) -> String {
    let payload = "b".repeat(size);
    let mut frames = String::with_capacity(n * (size + 64));
    for i in 0..n {
        let receipt = if i + 1 == n { "receipt:burst\n" } else { "" };
        frames.push_str(&format!("SEND\ndestination:{destination}\nseq:{i}\n{receipt}\n{payload}\0"));
    }
    frames
}

/// Reads `n` MESSAGE frames, which must be numbered 0..n in order.
async fn read_in_order(subscriber: &mut Client, n: usize) {
    for i in 0..n {
        let message = subscriber.message().await;
        assert_eq!(message.header("seq"), Some(i.to_string().as_str()), "out of order or lost");
    }
}

fn small_outboxes(c: &mut Config) {
    c.delivery.outbox_max_bytes = 256 * 1024;
    c.delivery.high_water_bytes = 64 * 1024;
    c.delivery.low_water_bytes = 16 * 1024;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_producer_is_paced_down_while_its_subscriber_lags_and_back_up_when_it_reads() {
    let broker = start_with(|c| {
        small_outboxes(c);
        // The subscriber below stops reading for a while but is not stuck: never stalled.
        c.delivery.stall_ms = 60_000;
    })
    .await;
    let mut subscriber = broker.client_with_small_buffer().await;
    subscriber.handshake("CONNECT\naccept-version:1.2\nhost:localhost\n\n\0").await;
    subscriber.subscribe("/topic/burst", "0", "").await;
    let mut producer = broker.connect12().await;
    // 16 MiB: far more than the outbox limit, the high-water mark and the socket buffers.
    let frames = burst("/topic/burst", 4_000, 4 * 1024);
    let producing = tokio::spawn(async move {
        producer.send(frames).await;
        producer.expect_receipt("burst").await;
    });
    until(&broker, "the producer to be paced", |s| {
        s.connections.iter().any(|c| c.held_by.as_deref().is_some_and(|h| h.starts_with("paced")))
    })
    .await;
    read_in_order(&mut subscriber, 4_000).await;
    tokio::time::timeout(TIMEOUT, producing).await.expect("the producer resumed").expect("producer task");
    let stats = broker.broker.stats();
    assert_eq!((stats.slow_consumers, stats.dropped), (0, 0), "a reading subscriber loses nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_reaches_a_reading_subscriber_whole_while_a_stuck_one_is_cut_off() {
    let broker = start_with(|c| {
        small_outboxes(c);
        // Generous for the reader on a loaded machine; the stuck subscriber holds the
        // producer back this long, then no more.
        c.delivery.stall_ms = 3_000;
        c.limits.error_linger_ms = 100;
    })
    .await;
    let mut stuck = broker.client_with_small_buffer().await;
    stuck.handshake("CONNECT\naccept-version:1.2\nhost:localhost\n\n\0").await;
    stuck.subscribe("/topic/burst", "stuck", "").await;
    let mut reader = broker.connect12().await;
    reader.subscribe("/topic/burst", "reader", "").await;
    let mut producer = broker.connect12().await;
    let frames = burst("/topic/burst", 4_000, 4 * 1024);
    let producing = tokio::spawn(async move {
        producer.send(frames).await;
        producer.expect_receipt("burst").await;
    });
    read_in_order(&mut reader, 4_000).await;
    tokio::time::timeout(TIMEOUT, producing).await.expect("the producer finished").expect("producer task");
    assert_eq!(broker.broker.stats().slow_consumers, 1, "the stuck subscriber met the slow-consumer policy");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_16_mib_message_reaches_two_subscribers_with_the_default_configuration() {
    let broker = start().await;
    let mut a = broker.connect12().await;
    a.subscribe("/topic/big", "0", "").await;
    let mut b = broker.connect11().await;
    b.subscribe("/topic/big", "0", "").await;
    let body = vec![b'z'; 16 * 1024 * 1024];
    let mut producer = broker.connect12().await;
    let mut frame = format!("SEND\ndestination:/topic/big\ncontent-length:{}\nreceipt:r\n\n", body.len()).into_bytes();
    frame.extend_from_slice(&body);
    frame.push(0);
    producer.send(frame).await;
    producer.expect_receipt("r").await;
    for subscriber in [&mut a, &mut b] {
        let message = subscriber.message().await;
        assert_eq!(message.body.len(), body.len());
        assert!(message.body.iter().all(|&byte| byte == b'z'));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishers_stop_at_the_memory_watermark_and_nothing_is_lost() {
    const WATERMARK: u64 = 256 * 1024;
    let broker = start_with(|c| {
        c.memory.high_watermark = Amount::Bytes(WATERMARK);
        c.memory.low_watermark = Amount::Bytes(WATERMARK / 2);
    })
    .await;
    // Four producers, 100 x 4 KiB each (1.6 MiB in all), into a queue nobody consumes yet.
    let mut producing = Vec::new();
    for p in 0..4 {
        let mut producer = broker.connect12().await;
        let payload = "m".repeat(4 * 1024);
        let mut frames = String::new();
        for i in 0..100 {
            frames.push_str(&format!("SEND\ndestination:/queue/backlog\nfrom:{p}-{i}\n\n{payload}\0"));
        }
        frames.push_str("SEND\ndestination:/queue/backlog\nreceipt:done\n\nlast\0");
        producing.push(tokio::spawn(async move {
            producer.send(frames).await;
            producer.expect_receipt("done").await;
        }));
    }
    until(&broker, "the memory bound to hold publishers", |s| {
        s.memory.over && s.connections.iter().filter(|c| c.held_by.is_some()).count() == 4
    })
    .await;
    // Held under the watermark plus the stated slack: a partly read frame and the read buffer
    // (64 KiB at most) per publishing connection.
    let held = broker.broker.snapshot().memory.held;
    assert!(held <= WATERMARK + 4 * (68 * 1024), "{held} bytes held");
    let mut consumer = broker.connect12().await;
    consumer.subscribe("/queue/backlog", "0", "").await;
    let mut received = 0;
    while received < 404 {
        consumer.message().await;
        received += 1;
    }
    for producer in producing {
        tokio::time::timeout(TIMEOUT, producer).await.expect("every producer finished").expect("producer task");
    }
    consumer.barrier().await;
    assert!(broker.broker.snapshot().memory.crossings >= 1);
}

#[tokio::test(start_paused = true)]
async fn a_frame_that_never_completes_is_closed_at_its_deadline() {
    let broker = start_with(|c| c.limits.frame_timeout_ms = 30_000).await;
    // Headers one byte every 2 s, forever: the deadline counts from the frame's first byte.
    let mut trickle = broker.connect12().await;
    let started = tokio::time::Instant::now();
    trickle.send("SEND\ndestination:/topic/slow\n").await;
    let error = loop {
        trickle.send("x").await;
        match trickle.event(Duration::from_secs(2)).await {
            Event::Timeout => {}
            Event::Frame(frame) => break frame,
            other => panic!("expected an ERROR in the end, got {other:?}"),
        }
    };
    assert_eq!(error.header("message"), Some("frame not complete within 30s (limits.frame_timeout_ms)"));
    assert_eq!(error.header("code"), Some("timeout"));
    assert_eq!(started.elapsed(), Duration::from_secs(30));
    trickle.expect_closed().await;
    // A content-length larger than the body that comes.
    let mut short = broker.connect12().await;
    let started = tokio::time::Instant::now();
    short.send("SEND\ndestination:/topic/slow\ncontent-length:100\n\nshort").await;
    match short.event(Duration::from_secs(120)).await {
        Event::Frame(error) => assert_eq!(error.header("code"), Some("timeout")),
        other => panic!("expected the frame timeout's ERROR, got {other:?}"),
    }
    assert_eq!(started.elapsed(), Duration::from_secs(30));
    // Idle between frames is fine.
    let mut idle = broker.connect12().await;
    match idle.event(Duration::from_secs(3600)).await {
        Event::Timeout => {}
        other => panic!("an idle connection stays open: {other:?}"),
    }
    idle.barrier().await;
}

#[tokio::test(start_paused = true)]
async fn a_producer_held_by_a_full_queue_gets_an_error_naming_it() {
    let broker = start_with(|c| {
        c.queues.max_messages = 1;
        c.queues.when_full = QueueFullPolicy::Block;
        c.queues.block_timeout_ms = 60_000;
    })
    .await;
    let mut producer = broker.connect12().await;
    producer.publish_sync("/queue/full", "1").await;
    let started = tokio::time::Instant::now();
    producer.send("SEND\ndestination:/queue/full\nreceipt:r\n\n2\0").await;
    until(&broker, "the producer to be held", |s| {
        s.connections.iter().any(|c| c.held_by.as_deref() == Some("queue /queue/full is full"))
    })
    .await;
    let Event::Frame(error) = producer.event(Duration::from_secs(120)).await else { panic!("expected an ERROR") };
    let message = error.header("message").unwrap_or_default();
    assert!(message.starts_with("queue /queue/full is full: producer held back for 60s"), "{message}");
    assert_eq!(error.header("code"), Some("limit-exceeded"));
    assert_eq!(started.elapsed(), Duration::from_secs(60));
    producer.expect_closed().await;
}

#[tokio::test]
async fn a_transaction_is_limited_by_its_bytes() {
    let broker = start_with(|c| {
        c.limits.max_body_bytes = 1024;
        c.limits.max_frame_bytes = 2048;
        c.limits.max_bytes_per_transaction = 4096;
    })
    .await;
    let mut producer = broker.connect12().await;
    producer.send("BEGIN\ntransaction:t\n\n\0").await;
    let payload = "t".repeat(1000);
    for _ in 0..4 {
        producer.send(format!("SEND\ndestination:/queue/q\ntransaction:t\n\n{payload}\0")).await;
    }
    let error = producer.expect_error_and_close("limits.max_bytes_per_transaction").await;
    assert_eq!(error.header("code"), Some("limit-exceeded"));
    assert_eq!(broker.broker.queue_depth("/queue/q"), 0, "nothing of the refused transaction was sent");
}

#[tokio::test(start_paused = true)]
async fn unused_queues_are_deleted_and_one_connection_cannot_take_them_all() {
    let broker = start_with(|c| {
        c.limits.max_queues = 20;
        c.limits.max_queues_per_connection = 10;
        c.limits.auto_delete_after_ms = 30_000;
    })
    .await;
    // The attack: subscribe and unsubscribe to ever new queue names.
    let mut greedy = broker.connect12().await;
    for i in 0..10 {
        greedy.subscribe(&format!("/queue/q{i}"), "s", "").await;
        greedy.send("UNSUBSCRIBE\nid:s\n\n\0").await;
    }
    greedy.send("SUBSCRIBE\nid:s\ndestination:/queue/one-too-many\nreceipt:r\n\n\0").await;
    let error = greedy.expect_error_and_close("limits.max_queues_per_connection is 10").await;
    assert_eq!(error.header("code"), Some("limit-exceeded"));
    // Others can still make queues; the unused ones go after the grace period, counted.
    let mut other = broker.connect12().await;
    other.publish_sync("/queue/kept", "a message keeps its queue").await;
    // Paused time: the sweep after the 30 s grace comes at once.
    let deleted = |s: &stompbox_core::broker::Snapshot| s.stats.queues_deleted == 10;
    until_within(Duration::from_secs(60), &broker, "the unused queues to be deleted", deleted).await;
    let names: Vec<_> = broker.broker.snapshot().destinations.into_iter().map(|d| d.destination).collect();
    assert_eq!(names, ["/queue/kept"]);
    assert_eq!(broker.broker.queue_depth("/queue/kept"), 1);
}
