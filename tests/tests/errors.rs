//! ERROR frames: `message`, `receipt-id` and a body for every refused frame; the linger after
//! an ERROR; RECEIPT for every frame with `receipt`; DISCONNECT.

use std::time::Duration;

use stompbox_core::{Command, ErrorCode};
use stompbox_tests::{body, start, start_with, Event, TestBroker};

/// Sends `frame` on a fresh session of `version` and requires an ERROR mentioning `needle`,
/// with `receipt-id` when the frame had `receipt:r1`, a text body, then the close.
async fn refused(broker: &TestBroker, version: &str, frame: &str, needle: &str) {
    let mut client = broker.connect(version).await;
    client.send(frame).await;
    let error = client.expect_error_and_close(needle).await;
    if frame.contains("\nreceipt:r1\n") {
        assert_eq!(error.header("receipt-id"), Some("r1"), "{frame:?}");
    } else {
        assert!(error.header("receipt-id").is_none());
    }
    assert_eq!(error.header("content-type"), Some("text/plain"));
    let code = error.header("code").and_then(ErrorCode::parse);
    let expected = if needle.contains("max_") { ErrorCode::LimitExceeded } else { ErrorCode::ProtocolError };
    assert_eq!(code, Some(expected), "{frame:?}");
    assert!(body(&error).contains(needle), "the body explains: {:?}", body(&error));
    assert_eq!(error.header("content-length").map(str::parse::<usize>), Some(Ok(error.body.len())));
}

#[tokio::test]
async fn unknown_command() {
    let broker = start().await;
    refused(&broker, "1.2", "FROB\nreceipt:r2\n\n\0", "unknown command \"FROB\"").await;
    refused(&broker, "1.0", "send\ndestination:/topic/a\n\n\0", "unknown command").await;
}

#[tokio::test]
async fn server_frames_from_a_client_are_refused() {
    let broker = start().await;
    refused(&broker, "1.2", "MESSAGE\ndestination:/topic/a\nreceipt:r1\n\n\0", "MESSAGE is a server frame").await;
}

#[tokio::test]
async fn missing_required_headers() {
    let broker = start().await;
    refused(&broker, "1.2", "SEND\nreceipt:r1\n\nno destination\0", "missing the required destination header").await;
    refused(&broker, "1.0", "SEND\nreceipt:r1\n\nno destination\0", "missing the required destination header").await;
    refused(&broker, "1.1", "SUBSCRIBE\ndestination:/topic/a\nreceipt:r1\n\n\0", "missing the required id header")
        .await;
    refused(&broker, "1.2", "SUBSCRIBE\ndestination:/topic/a\nreceipt:r1\n\n\0", "missing the required id header")
        .await;
    refused(&broker, "1.2", "SUBSCRIBE\nid:0\nreceipt:r1\n\n\0", "missing the required destination header").await;
    refused(&broker, "1.2", "UNSUBSCRIBE\nreceipt:r1\n\n\0", "missing the required id header").await;
    refused(&broker, "1.2", "BEGIN\nreceipt:r1\n\n\0", "missing the required transaction header").await;
    refused(&broker, "1.2", "COMMIT\nreceipt:r1\n\n\0", "missing the required transaction header").await;
    refused(&broker, "1.2", "ACK\nreceipt:r1\n\n\0", "missing the required id header").await;
    refused(&broker, "1.1", "ACK\nsubscription:0\nreceipt:r1\n\n\0", "missing the required message-id header").await;
}

#[tokio::test]
async fn bad_destinations() {
    let broker = start().await;
    refused(&broker, "1.2", "SEND\ndestination:/exchange/a\nreceipt:r1\n\nx\0", "must start with /topic/ or /queue/")
        .await;
    refused(&broker, "1.2", "SEND\ndestination:foo\n\nx\0", "must start with /topic/ or /queue/").await;
    refused(&broker, "1.2", "SUBSCRIBE\nid:0\ndestination:/exchange/amq.topic\nreceipt:r1\n\n\0", "must start with")
        .await;
    refused(&broker, "1.2", "SEND\ndestination:/topic/chat.*\nreceipt:r1\n\nx\0", "wildcards").await;
    refused(&broker, "1.2", "SEND\ndestination:/topic/chat.**\n\nx\0", "wildcards").await;
    refused(&broker, "1.2", "SUBSCRIBE\nid:0\ndestination:/queue/jobs.*\nreceipt:r1\n\n\0", "wildcards").await;
    refused(&broker, "1.2", "SUBSCRIBE\nid:0\ndestination:/topic/chat.a*\nreceipt:r1\n\n\0", "wildcards").await;
    refused(&broker, "1.2", "SEND\ndestination:/queue/\nreceipt:r1\n\nx\0", "empty name or segment").await;
}

#[tokio::test]
async fn reused_subscription_id() {
    let broker = start().await;
    let mut client = broker.connect12().await;
    client.subscribe("/topic/a", "dup", "").await;
    client.send("SUBSCRIBE\ndestination:/topic/b\nid:dup\nreceipt:r1\n\n\0").await;
    let error = client.expect_error_and_close("subscription id \"dup\" is already in use").await;
    assert_eq!(error.header("receipt-id"), Some("r1"));
}

#[tokio::test]
async fn unsubscribe_of_an_unknown_id() {
    let broker = start().await;
    refused(&broker, "1.2", "UNSUBSCRIBE\nid:nope\nreceipt:r1\n\n\0", "no subscription with id").await;
}

#[tokio::test]
async fn bad_ack_mode_and_prefetch() {
    let broker = start().await;
    refused(&broker, "1.2", "SUBSCRIBE\nid:0\ndestination:/queue/a\nack:sometimes\nreceipt:r1\n\n\0", "ack mode").await;
    refused(&broker, "1.2", "SUBSCRIBE\nid:0\ndestination:/queue/a\nprefetch-count:many\nreceipt:r1\n\n\0", "prefetch")
        .await;
}

#[tokio::test(start_paused = true)]
async fn socket_lingers_after_an_error_ignoring_frames_then_closes() {
    let linger = Duration::from_millis(400);
    let broker = start_with(|c| c.limits.error_linger_ms = 400).await;
    let mut client = broker.connect12().await;
    client.send("SEND\nreceipt:r1\n\nx\0").await;
    client.expect_error("destination").await;
    let error_at = tokio::time::Instant::now();
    // The socket is still open: frames written now are read and ignored (no RECEIPT, no MESSAGE).
    client.send("SUBSCRIBE\nid:0\ndestination:/topic/l\nreceipt:r2\n\n\0").await;
    client.send("SEND\ndestination:/topic/l\nreceipt:r3\n\nignored\0").await;
    match client.event(linger / 4).await {
        Event::Timeout => {}
        other => panic!("nothing may follow the ERROR, got {other:?}"),
    }
    client.expect_closed().await;
    // Paused time: the linger is exact.
    assert_eq!(error_at.elapsed(), linger);
}

#[tokio::test]
async fn every_frame_with_a_receipt_gets_a_receipt() {
    let broker = start().await;
    let mut client = broker.connect12().await;
    let frames = [
        "SUBSCRIBE\nid:0\ndestination:/queue/r\nack:client-individual\nreceipt:1\n\n\0",
        "SUBSCRIBE\nid:1\ndestination:/topic/r\nreceipt:2\n\n\0",
        "SEND\ndestination:/topic/nobody\nreceipt:3\n\nx\0",
        "BEGIN\ntransaction:t\nreceipt:4\n\n\0",
        "SEND\ndestination:/topic/r\ntransaction:t\nreceipt:5\n\nx\0",
        "ABORT\ntransaction:t\nreceipt:6\n\n\0",
        "BEGIN\ntransaction:t2\nreceipt:7\n\n\0",
        "COMMIT\ntransaction:t2\nreceipt:8\n\n\0",
        "ACK\nid:42\nreceipt:9\n\n\0",
        "NACK\nid:42\nreceipt:10\n\n\0",
        "UNSUBSCRIBE\nid:1\nreceipt:11\n\n\0",
        "UNSUBSCRIBE\nid:0\nreceipt:12\n\n\0",
    ];
    for frame in frames {
        client.send(frame).await;
    }
    for i in 1..=frames.len() {
        client.expect_receipt(&i.to_string()).await;
    }
    // RECEIPT carries only receipt-id.
    client.send("SEND\ndestination:/topic/nobody\nreceipt:a\\cb\n\nx\0").await;
    let receipt = client.expect(Command::Receipt).await;
    assert_eq!(receipt.headers, [("receipt-id".to_owned(), "a:b".to_owned())]);
    client.disconnect().await;
}

#[tokio::test]
async fn disconnect_receipt_arrives_before_the_close() {
    let broker = start().await;
    for version in ["1.0", "1.1", "1.2"] {
        let mut client = broker.connect(version).await;
        client.send("DISCONNECT\nreceipt:77\n\n\0").await;
        client.expect_receipt("77").await;
        client.expect_closed().await;
    }
    // Without a receipt the connection just closes.
    let mut client = broker.connect12().await;
    client.send("DISCONNECT\n\n\0SEND\ndestination:/topic/x\nreceipt:late\n\nx\0").await;
    client.expect_closed().await;
}
