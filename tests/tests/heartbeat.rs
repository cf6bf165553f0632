//! Heart-beats both ways: the broker sends EOLs at the negotiated rate, drops a client that
//! promised heart-beats and went silent, and sends none to 1.0 sessions or clients that did not
//! ask.
//!
//! Time is paused (`start_paused`): the runtime jumps from one timer to the next whenever every
//! task waits, so the counts and instants below are exact, however loaded the machine.

use std::time::Duration;

use stompbox_tests::{start_with, Event};
use tokio::time::Instant;

/// Counts heart-beats for `window`, requiring that nothing else arrives.
async fn count_heartbeats(client: &mut stompbox_tests::Client, window: Duration) -> usize {
    let deadline = Instant::now() + window;
    let mut count = 0;
    loop {
        match client.event(deadline.saturating_duration_since(Instant::now())).await {
            Event::Heartbeat => count += 1,
            Event::Timeout => return count,
            other => panic!("expected only heart-beats, got {other:?}"),
        }
    }
}

#[tokio::test(start_paused = true)]
async fn broker_sends_eols_at_the_negotiated_rate() {
    let broker = start_with(|c| c.heartbeat.send_ms = 50).await;
    let mut client = broker.client().await;
    // The client wants one every 100 ms; the broker can do 50: max(50, 100) = 100 ms.
    let connected = client.handshake("CONNECT\naccept-version:1.2\nhost:localhost\nheart-beat:0,100\n\n\0").await;
    assert_eq!(connected.header("heart-beat"), Some("50,10000"));
    // One every 100 ms: ten in a second (the one due at the window's end races its close).
    let count = count_heartbeats(&mut client, Duration::from_millis(1_050)).await;
    assert_eq!(count, 10);
    client.barrier().await;
}

#[tokio::test(start_paused = true)]
async fn client_asking_slower_than_the_broker_can_send_sets_the_rate() {
    let broker = start_with(|c| c.heartbeat.send_ms = 200).await;
    let mut client = broker.client().await;
    // The broker cannot send more often than every 200 ms, even though the client asks for 20.
    client.handshake("CONNECT\naccept-version:1.1\nhost:localhost\nheart-beat:0,20\n\n\0").await;
    let count = count_heartbeats(&mut client, Duration::from_millis(1_050)).await;
    assert_eq!(count, 5, "one every 200 ms");
}

#[tokio::test(start_paused = true)]
async fn no_heart_beats_unless_asked_for() {
    let broker = start_with(|c| c.heartbeat.send_ms = 20).await;
    for connect in [
        "CONNECT\naccept-version:1.2\nhost:localhost\n\n\0",
        "CONNECT\naccept-version:1.2\nhost:localhost\nheart-beat:0,0\n\n\0",
        "CONNECT\naccept-version:1.1\nhost:localhost\nheart-beat:1000,0\n\n\0",
        // 1.0 never gets heart-beats (PECL's reader breaks on a bare EOL).
        "CONNECT\nheart-beat:0,20\n\n\0",
    ] {
        let mut client = broker.client().await;
        client.handshake(connect).await;
        // At a 20 ms rate ten would have come in this window.
        let count = count_heartbeats(&mut client, Duration::from_millis(200)).await;
        assert_eq!(count, 0, "{connect:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn broker_with_send_ms_zero_never_sends() {
    let broker = start_with(|c| c.heartbeat.send_ms = 0).await;
    let mut client = broker.client().await;
    let connected = client.handshake("CONNECT\naccept-version:1.2\nhost:localhost\nheart-beat:0,20\n\n\0").await;
    assert_eq!(connected.header("heart-beat"), Some("0,10000"));
    assert_eq!(count_heartbeats(&mut client, Duration::from_millis(200)).await, 0);
}

#[tokio::test(start_paused = true)]
async fn silent_client_that_promised_heart_beats_is_dropped() {
    let broker = start_with(|c| {
        c.heartbeat.receive_ms = 100;
        c.heartbeat.grace_factor = 2.0;
    })
    .await;
    let mut client = broker.client().await;
    let connected = client.handshake("CONNECT\naccept-version:1.2\nhost:localhost\nheart-beat:100,0\n\n\0").await;
    assert_eq!(connected.header("heart-beat"), Some("10000,100"));
    let silent_since = Instant::now();
    client.expect_error("no heart-beat from client").await;
    // Negotiated max(100, 100) = 100 ms, times the grace factor 2.
    assert_eq!(silent_since.elapsed(), Duration::from_millis(200));
    client.expect_closed().await;
}

#[tokio::test(start_paused = true)]
async fn client_sending_heart_beats_is_kept() {
    let broker = start_with(|c| c.heartbeat.receive_ms = 100).await;
    let mut client = broker.client().await;
    client.handshake("CONNECT\naccept-version:1.2\nhost:localhost\nheart-beat:50,0\n\n\0").await;
    // Six hundred ms of heart-beats every 50 ms: three times the 200 ms it would take to be dropped.
    for _ in 0..12 {
        client.send("\n").await;
        match client.event(Duration::from_millis(50)).await {
            Event::Timeout => {}
            other => panic!("the broker must keep a client that sends heart-beats: {other:?}"),
        }
    }
    client.barrier().await;
}

#[tokio::test(start_paused = true)]
async fn client_promising_no_heart_beats_is_never_timed_out() {
    let broker = start_with(|c| c.heartbeat.receive_ms = 50).await;
    let mut client = broker.client().await;
    client.handshake("CONNECT\naccept-version:1.2\nhost:localhost\nheart-beat:0,0\n\n\0").await;
    match client.event(Duration::from_secs(3600)).await {
        Event::Timeout => {}
        other => panic!("a client that promised nothing must not be dropped: {other:?}"),
    }
    client.barrier().await;
}

#[tokio::test]
async fn bad_heart_beat_header_is_an_error() {
    let broker = start_with(|_| {}).await;
    let mut client = broker.client().await;
    client.send("CONNECT\naccept-version:1.2\nhost:localhost\nheart-beat:fast\n\n\0").await;
    client.expect_error_and_close("invalid heart-beat header").await;
}

#[tokio::test(start_paused = true)]
async fn producer_blocked_on_a_full_queue_is_not_dropped_for_silence() {
    let broker = start_with(|c| {
        c.heartbeat.receive_ms = 100;
        c.queues.max_messages = 1;
        c.queues.when_full = stompbox_core::broker::QueueFullPolicy::Block;
    })
    .await;
    let mut producer = broker.client().await;
    producer.handshake("CONNECT\naccept-version:1.2\nhost:localhost\nheart-beat:50,0\n\n\0").await;
    producer.publish_sync("/queue/full", "1").await;
    producer.send("SEND\ndestination:/queue/full\nreceipt:r2\n\n2\0").await;
    // The broker stops reading a blocked producer; the producer keeps its heart-beat promise.
    for _ in 0..12 {
        producer.send("\n").await;
        match producer.event(Duration::from_millis(50)).await {
            Event::Timeout => {}
            other => panic!("a blocked producer that sends heart-beats must be kept: {other:?}"),
        }
    }
    let mut consumer = broker.connect12().await;
    consumer.subscribe("/queue/full", "0", "").await;
    producer.expect_receipt("r2").await;
    producer.barrier().await;
}
