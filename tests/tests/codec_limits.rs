//! The codec over the wire: partial frames, bodies, line ends, heart-beats between frames,
//! repeated headers, header escaping per version, the frame limits, and the broker's own output.

use stompbox_core::Command;
use stompbox_tests::{all_values, body, start, start_with, TestBroker};

/// A 1.2 subscriber on `destination` (subscription id `s`).
async fn subscriber(broker: &TestBroker, version: &str, destination: &str) -> stompbox_tests::Client {
    let mut client = broker.connect(version).await;
    client.subscribe(destination, "s", "").await;
    client
}

#[tokio::test]
async fn frames_sent_byte_by_byte_are_reassembled() {
    let broker = start().await;
    let mut client = broker.client().await;
    client.send_bytewise("CONNECT\naccept-version:1.2\nhost:localhost\n\n\0").await;
    client.expect(Command::Connected).await;
    client.send_bytewise("SUBSCRIBE\ndestination:/topic/bytes\nid:0\nreceipt:r1\n\n\0").await;
    client.expect_receipt("r1").await;
    client.send_bytewise("SEND\ndestination:/topic/bytes\ncontent-length:5\n\na\0b\0c\0").await;
    client.send_bytewise("SEND\ndestination:/topic/bytes\n\nno length\0").await;
    let first = client.message().await;
    assert_eq!(&first.body[..], b"a\0b\0c");
    let second = client.message().await;
    assert_eq!(body(&second), "no length");
}

#[tokio::test]
async fn content_length_body_may_contain_nul() {
    let broker = start().await;
    let mut sub = subscriber(&broker, "1.0", "/topic/binary").await;
    let mut producer = broker.connect10().await;
    producer.send(b"SEND\ndestination:/topic/binary\ncontent-length:18\n\nA test Message\0Foo\0").await;
    let message = sub.message().await;
    assert_eq!(&message.body[..], b"A test Message\0Foo");
    assert_eq!(message.header("content-length"), Some("18"));
}

#[tokio::test]
async fn without_content_length_the_body_ends_at_the_first_nul() {
    let broker = start().await;
    let mut sub = subscriber(&broker, "1.2", "/topic/text").await;
    let mut producer = broker.connect12().await;
    // Two frames in one write: the first body stops at its NUL, the second frame follows.
    producer.send("SEND\ndestination:/topic/text\n\nhello\0SEND\ndestination:/topic/text\n\nworld\0").await;
    let first = sub.message().await;
    assert_eq!(body(&first), "hello");
    assert_eq!(first.header("content-length"), Some("5"), "MESSAGE always carries content-length");
    assert_eq!(body(&sub.message().await), "world");
}

#[tokio::test]
async fn lf_and_crlf_line_ends_are_both_accepted() {
    let broker = start().await;
    for (version, connect) in [
        ("1.2", "CONNECT\r\naccept-version:1.2\r\nhost:localhost\r\n\r\n\0"),
        ("1.1", "CONNECT\r\naccept-version:1.1\nhost:localhost\r\n\n\0"),
        ("1.0", "CONNECT\r\n\r\n\0"),
    ] {
        let mut client = broker.client().await;
        let connected = client.handshake(connect).await;
        assert_eq!(connected.header("version"), Some(version));
        client.send("SUBSCRIBE\r\ndestination:/topic/crlf\r\nid:0\r\nreceipt:r1\r\n\r\n\0").await;
        client.expect_receipt("r1").await;
        client.send("SEND\r\ndestination:/topic/crlf\r\ncolor:red\r\n\r\ncrlf body\0").await;
        client.send("SEND\ndestination:/topic/crlf\ncolor:blue\n\nlf body\0").await;
        let message = client.message().await;
        assert_eq!(message.header("color"), Some("red"), "the CR is not part of the value");
        assert_eq!(message.header("destination"), Some("/topic/crlf"));
        assert_eq!(body(&message), "crlf body");
        let message = client.message().await;
        assert_eq!(message.header("color"), Some("blue"));
        client.send("UNSUBSCRIBE\r\nid:0\r\n\r\n\0").await;
        client.barrier().await;
    }
}

#[tokio::test]
async fn bare_eols_between_frames_are_heart_beats() {
    let broker = start().await;
    let mut client = broker.client().await;
    client.send("\n\r\n\n").await;
    client.handshake("CONNECT\naccept-version:1.2\nhost:localhost\n\n\0\n\n").await;
    client.send("\r\n\nSUBSCRIBE\ndestination:/topic/hb\nid:0\nreceipt:r1\n\n\0\n\r\n").await;
    client.expect_receipt("r1").await;
    client.send("\n").await;
    client.send("\nSEND\ndestination:/topic/hb\n\nafter eols\0\n\n\n").await;
    assert_eq!(body(&client.message().await), "after eols");
    client.barrier().await;
}

#[tokio::test]
async fn repeated_header_first_value_wins() {
    let broker = start().await;
    let mut sub = subscriber(&broker, "1.2", "/topic/dup").await;
    let mut producer = broker.connect12().await;
    producer.send("SEND\ndestination:/topic/dup\nfoo:first\nfoo:second\n\nx\0").await;
    let message = sub.message().await;
    assert_eq!(message.header("foo"), Some("first"));
    let values = all_values(&message, "foo");
    assert_eq!(values.first(), Some(&"first"), "the first value comes first on the wire: {values:?}");
    // A repeated destination: the first one routes.
    producer.send("SEND\ndestination:/topic/dup\ndestination:/topic/elsewhere\n\ny\0").await;
    let message = sub.message().await;
    assert_eq!(message.header("destination"), Some("/topic/dup"));
    assert_eq!(body(&message), "y");
}

#[tokio::test]
async fn stomp_1_1_escapes_backslash_newline_and_colon() {
    let broker = start().await;
    let mut sub = subscriber(&broker, "1.1", "/topic/esc").await;
    let mut producer = broker.connect11().await;
    producer.send("SEND\ndestination:/topic/esc\nk\\cey:a\\\\b\\nc\\cd\n\nx\0").await;
    let message = sub.message().await;
    assert_eq!(message.header("k:ey"), Some("a\\b\nc:d"));
    let raw = String::from_utf8_lossy(sub.transcript()).into_owned();
    assert!(raw.contains("\nk\\cey:a\\\\b\\nc\\cd\n"), "re-escaped on the way out: {raw:?}");
}

#[tokio::test]
async fn stomp_1_1_refuses_the_cr_escape() {
    let broker = start().await;
    let mut producer = broker.connect11().await;
    producer.send("SEND\ndestination:/topic/esc\nk:a\\rb\n\nx\0").await;
    producer.expect_error_and_close("undefined escape").await;
}

#[tokio::test]
async fn stomp_1_2_also_escapes_cr() {
    let broker = start().await;
    let mut sub = subscriber(&broker, "1.2", "/topic/esc").await;
    let mut producer = broker.connect12().await;
    producer.send("SEND\ndestination:/topic/esc\ncr:x\\ry\\n\\c\\\\\n\nx\0").await;
    let message = sub.message().await;
    assert_eq!(message.header("cr"), Some("x\ry\n:\\"));
    let raw = String::from_utf8_lossy(sub.transcript()).into_owned();
    assert!(raw.contains("\ncr:x\\ry\\n\\c\\\\\n"), "{raw:?}");
}

#[tokio::test]
async fn undefined_escapes_are_errors_in_1_1_and_1_2() {
    let broker = start().await;
    for version in ["1.1", "1.2"] {
        let mut producer = broker.connect(version).await;
        producer.send("SEND\ndestination:/topic/esc\nreceipt:r1\nk:tab\\there\n\nx\0").await;
        producer.expect_error_and_close("undefined escape").await;
    }
}

#[tokio::test]
async fn stomp_1_0_has_no_escaping() {
    let broker = start().await;
    let mut sub10 = subscriber(&broker, "1.0", "/topic/esc").await;
    let mut sub12 = subscriber(&broker, "1.2", "/topic/esc").await;
    let mut producer = broker.connect10().await;
    producer.send("SEND\ndestination:/topic/esc\npath:C:\\new\\c\\t\n\nx\0").await;
    let message = sub10.message().await;
    assert_eq!(message.header("path"), Some("C:\\new\\c\\t"), "1.0 takes backslashes literally");
    let raw10 = String::from_utf8_lossy(sub10.transcript()).into_owned();
    assert!(raw10.contains("\npath:C:\\new\\c\\t\n"), "1.0 writes headers raw: {raw10:?}");
    // The same value reaches a 1.2 subscriber intact, escaped for 1.2.
    let message = sub12.message().await;
    assert_eq!(message.header("path"), Some("C:\\new\\c\\t"));
    let raw12 = String::from_utf8_lossy(sub12.transcript()).into_owned();
    assert!(raw12.contains("\npath:C\\c\\\\new\\\\c\\\\t\n"), "{raw12:?}");
}

#[tokio::test]
async fn a_header_with_a_line_break_is_not_injected_into_1_0_frames() {
    let broker = start().await;
    let mut sub10 = subscriber(&broker, "1.0", "/topic/esc").await;
    let mut producer = broker.connect12().await;
    producer.send("SEND\ndestination:/topic/esc\nevil:x\\ncontent-length:0\nok:1\n\nbody\0").await;
    let message = sub10.message().await;
    assert_eq!(message.header("ok"), Some("1"));
    assert!(message.header("evil").is_none());
    assert_eq!(body(&message), "body");
}

/// Starts a broker with one frame limit lowered and requires `frame` to be refused with an ERROR
/// naming `limit`, then the close.
async fn refused_over_limit(tweak: impl FnOnce(&mut stompbox_server::Config), frame: &[u8], limit: &str) {
    let broker = start_with(tweak).await;
    let mut client = broker.connect12().await;
    client.send(frame).await;
    client.expect_error_and_close(limit).await;
}

#[tokio::test]
async fn frame_size_limit() {
    let body = "x".repeat(600);
    let frame = format!("SEND\ndestination:/topic/big\n\n{body}\0");
    refused_over_limit(|c| c.limits.max_frame_bytes = 300, frame.as_bytes(), "max_frame_bytes").await;
    let frame = format!("SEND\ndestination:/topic/big\ncontent-length:600\n\n{body}\0");
    refused_over_limit(|c| c.limits.max_frame_bytes = 300, frame.as_bytes(), "max_frame_bytes").await;
}

#[tokio::test]
async fn header_count_limit() {
    let frame = "SEND\ndestination:/topic/h\na:1\nb:2\nc:3\nd:4\ne:5\n\nx\0";
    refused_over_limit(|c| c.limits.max_headers = 4, frame.as_bytes(), "max_headers").await;
}

#[tokio::test]
async fn header_line_length_limit() {
    let frame = format!("SEND\ndestination:/topic/h\nlong:{}\n\nx\0", "v".repeat(200));
    refused_over_limit(|c| c.limits.max_header_line_bytes = 64, frame.as_bytes(), "max_header_line_bytes").await;
}

#[tokio::test]
async fn body_size_limit() {
    let body = "b".repeat(300);
    let frame = format!("SEND\ndestination:/topic/b\ncontent-length:300\n\n{body}\0");
    refused_over_limit(|c| c.limits.max_body_bytes = 100, frame.as_bytes(), "max_body_bytes").await;
    let frame = format!("SEND\ndestination:/topic/b\n\n{body}\0");
    refused_over_limit(|c| c.limits.max_body_bytes = 100, frame.as_bytes(), "max_body_bytes").await;
}

#[tokio::test]
async fn frames_within_the_limits_pass() {
    let broker = start_with(|c| {
        c.limits.max_frame_bytes = 512;
        c.limits.max_body_bytes = 100;
        c.limits.max_headers = 6;
        c.limits.max_header_line_bytes = 64;
    })
    .await;
    let mut sub = subscriber(&broker, "1.2", "/topic/ok").await;
    let mut producer = broker.connect12().await;
    let body = "b".repeat(100);
    producer.send(format!("SEND\ndestination:/topic/ok\na:1\nb:2\nc:3\nlong:{}\n\n{body}\0", "v".repeat(50))).await;
    assert_eq!(body_len(&sub.message().await), 100);
}

fn body_len(frame: &stompbox_core::Frame) -> usize {
    frame.body.len()
}

#[tokio::test]
async fn every_frame_the_broker_writes_ends_with_nul_lf_and_uses_lf_only() {
    let broker = start().await;
    for version in ["1.0", "1.1", "1.2"] {
        let mut client = broker.client().await;
        let connect = match version {
            "1.0" => "CONNECT\r\n\r\n\0".to_owned(),
            v => format!("CONNECT\r\naccept-version:{v}\r\nhost:localhost\r\n\r\n\0"),
        };
        client.handshake(&connect).await;
        client.send("SUBSCRIBE\r\ndestination:/queue/wire\r\nid:0\r\nreceipt:r1\r\n\r\n\0").await;
        client.expect_receipt("r1").await;
        client.send("SEND\r\ndestination:/queue/wire\r\nh:v\r\n\r\none\0SEND\ndestination:/queue/wire\n\ntwo\0").await;
        client.message().await;
        client.message().await;
        client.send("BOGUS\r\n\r\n\0").await;
        client.expect_error_and_close("unknown command").await;
        let raw = client.transcript();
        assert!(!raw.contains(&b'\r'), "{version}: the broker writes LF only: {:?}", String::from_utf8_lossy(raw));
        let nuls: Vec<usize> = raw.iter().enumerate().filter(|(_, b)| **b == 0).map(|(i, _)| i).collect();
        assert_eq!(nuls.len(), 5, "{version}: CONNECTED, RECEIPT, 2 MESSAGE, ERROR");
        for at in nuls {
            assert_eq!(raw.get(at + 1), Some(&b'\n'), "{version}: NUL at {at} is not followed by LF");
        }
        assert!(raw.ends_with(b"\0\n"));
        assert_eq!(client.frame_eols, 5);
        assert_eq!(client.heartbeats, 0, "{version}: no heart-beats were asked for");
    }
}

#[tokio::test]
async fn a_raw_nul_in_a_header_is_refused_and_never_forwarded() {
    let broker = stompbox_tests::start().await;
    let mut subscriber = broker.connect12().await;
    subscriber.subscribe("/topic/nul", "0", "").await;
    let mut producer = broker.connect12().await;
    producer.send("SEND\ndestination:/topic/nul\nevil:a\0b\n\nbody\0").await;
    let error = producer.expect_error_and_close("NUL").await;
    assert_eq!(error.header("code"), Some("protocol-error"));
    subscriber.barrier().await;
}
