//! Heart-beats both ways, as each client asks: the broker sends EOLs as often as the client asks
//! to receive them, drops a client that offered heart-beats and went silent, never agrees to
//! less than `heartbeat.min_ms`, and sends none to 1.0 sessions or clients that did not ask.
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

/// CONNECT of `version` with a `heart-beat` header.
fn connect(version: &str, heartbeat: &str) -> String {
    format!("CONNECT\naccept-version:{version}\nhost:localhost\nheart-beat:{heartbeat}\n\n\0")
}

#[tokio::test(start_paused = true)]
async fn the_broker_sends_as_often_as_the_client_asks() {
    let broker = start_with(|_| {}).await;
    for version in ["1.1", "1.2"] {
        let mut client = broker.client().await;
        // The broker's own setting (10 s) does not slow a client that asks for one a second.
        let connected = client.handshake(&connect(version, "0,1000")).await;
        assert_eq!(connected.header("heart-beat"), Some("1000,10000"), "{version}");
        // One every second: ten in ten seconds (the one due at the window's end races its close).
        assert_eq!(count_heartbeats(&mut client, Duration::from_millis(10_050)).await, 10, "{version}");
        client.barrier().await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_client_asking_every_500_ms_gets_a_beat_every_500_ms() {
    let broker = start_with(|_| {}).await;
    let mut client = broker.client().await;
    let connected = client.handshake(&connect("1.2", "0,500")).await;
    assert_eq!(connected.header("heart-beat"), Some("500,10000"));
    assert_eq!(count_heartbeats(&mut client, Duration::from_millis(2_050)).await, 4);
}

#[tokio::test(start_paused = true)]
async fn no_beat_comes_more_often_than_the_floor() {
    let broker = start_with(|c| c.heartbeat.min_ms = 200).await;
    let mut client = broker.client().await;
    // The client asks for one every 20 ms; the broker's floor is 200 ms.
    let connected = client.handshake(&connect("1.1", "0,20")).await;
    assert_eq!(connected.header("heart-beat"), Some("200,10000"));
    assert_eq!(count_heartbeats(&mut client, Duration::from_millis(1_050)).await, 5);
}

#[tokio::test(start_paused = true)]
async fn no_heart_beats_unless_asked_for() {
    let broker = start_with(|c| c.heartbeat.min_ms = 20).await;
    for connect in [
        "CONNECT\naccept-version:1.2\nhost:localhost\n\n\0",
        "CONNECT\naccept-version:1.2\nhost:localhost\nheart-beat:0,0\n\n\0",
        "CONNECT\naccept-version:1.1\nhost:localhost\nheart-beat:1000,0\n\n\0",
        // 1.0 never gets heart-beats (PECL's reader breaks on a bare EOL).
        "CONNECT\nheart-beat:0,20\n\n\0",
    ] {
        let mut client = broker.client().await;
        let connected = client.handshake(connect).await;
        if connect.contains("accept-version") {
            // A client that asks for none is shown the broker's own settings.
            assert!(connected.header("heart-beat").is_some_and(|h| h.starts_with("10000,")), "{connect:?}");
        }
        // At a 20 ms rate fifty would have come in this window.
        assert_eq!(count_heartbeats(&mut client, Duration::from_millis(1_000)).await, 0, "{connect:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn broker_with_send_ms_zero_never_sends() {
    let broker = start_with(|c| c.heartbeat.send_ms = 0).await;
    let mut client = broker.client().await;
    let connected = client.handshake(&connect("1.2", "0,1000")).await;
    assert_eq!(connected.header("heart-beat"), Some("0,10000"));
    assert_eq!(count_heartbeats(&mut client, Duration::from_secs(10)).await, 0);
}

#[tokio::test(start_paused = true)]
async fn silent_client_that_offered_heart_beats_is_dropped() {
    let broker = start_with(|c| c.heartbeat.grace_factor = 2.0).await;
    for (version, offer, silent_for) in [("1.2", "1000,0", 2_000), ("1.1", "1000,0", 2_000), ("1.2", "100,0", 1_000)] {
        let mut client = broker.client().await;
        let connected = client.handshake(&connect(version, offer)).await;
        let silent_since = Instant::now();
        let error = client.expect_error("no heart-beat from client").await;
        assert_eq!(error.header("code"), Some("timeout"));
        // The offered interval (never below the 500 ms floor), times the grace factor 2.
        assert_eq!(silent_since.elapsed(), Duration::from_millis(silent_for), "{version} {offer}");
        let expected = (silent_for / 2).to_string();
        assert!(connected.header("heart-beat").is_some_and(|h| h.ends_with(&expected)), "{connected:?}");
        client.expect_closed().await;
    }
}

#[tokio::test(start_paused = true)]
async fn broker_with_receive_ms_zero_never_drops_a_silent_client() {
    let broker = start_with(|c| c.heartbeat.receive_ms = 0).await;
    let mut client = broker.client().await;
    let connected = client.handshake(&connect("1.2", "1000,0")).await;
    assert_eq!(connected.header("heart-beat"), Some("10000,0"));
    match client.event(Duration::from_secs(3600)).await {
        Event::Timeout => {}
        other => panic!("the broker checks no heart-beats: {other:?}"),
    }
    client.barrier().await;
}

#[tokio::test(start_paused = true)]
async fn client_sending_heart_beats_is_kept() {
    let broker = start_with(|_| {}).await;
    let mut client = broker.client().await;
    client.handshake(&connect("1.2", "500,0")).await;
    // Six seconds of heart-beats every 500 ms: six times the second it would take to be dropped.
    for _ in 0..12 {
        client.send("\n").await;
        match client.event(Duration::from_millis(500)).await {
            Event::Timeout => {}
            other => panic!("the broker must keep a client that sends heart-beats: {other:?}"),
        }
    }
    client.barrier().await;
}

#[tokio::test(start_paused = true)]
async fn client_promising_no_heart_beats_is_never_timed_out() {
    let broker = start_with(|_| {}).await;
    let mut client = broker.client().await;
    client.handshake(&connect("1.2", "0,0")).await;
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
    client.send(connect("1.2", "fast")).await;
    client.expect_error_and_close("invalid heart-beat header").await;
}

#[tokio::test(start_paused = true)]
async fn producer_blocked_on_a_full_queue_is_not_dropped_for_silence() {
    let broker = start_with(|c| {
        c.queues.max_messages = 1;
        c.queues.when_full = stompbox_core::broker::QueueFullPolicy::Block;
    })
    .await;
    let mut producer = broker.client().await;
    producer.handshake(&connect("1.2", "500,0")).await;
    producer.publish_sync("/queue/full", "1").await;
    producer.send("SEND\ndestination:/queue/full\nreceipt:r2\n\n2\0").await;
    // The broker stops reading a blocked producer; the producer keeps its heart-beat promise.
    for _ in 0..12 {
        producer.send("\n").await;
        match producer.event(Duration::from_millis(500)).await {
            Event::Timeout => {}
            other => panic!("a blocked producer that sends heart-beats must be kept: {other:?}"),
        }
    }
    let mut consumer = broker.connect12().await;
    consumer.subscribe("/queue/full", "0", "").await;
    producer.expect_receipt("r2").await;
    producer.barrier().await;
}
