//! The blocking client (`stompbox_core::client`) against the real broker: handshake, logins and
//! failover, RECEIPT waits and the frames kept meanwhile, ERRORs, ACK/NACK in every version,
//! header escaping in standard and raw mode, timeouts, heart-beats both ways, DISCONNECT, the
//! buffered sends and their writer thread, and polls with no time left.
//!
//! The client blocks, so these are plain `#[test]`s against a [`BlockingBroker`], which runs
//! the broker on a runtime of its own.

use std::io;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use stompbox_core::broker::QueueFullPolicy;
use stompbox_core::client::{Client, ConnectOptions, Error, Mode, NO_HEADERS};
use stompbox_core::heartbeat::Heartbeat;
use stompbox_core::{Command, Frame, Version};
use stompbox_tests::{body, describe, poll_until_frame, BlockingBroker, TIMEOUT};

fn options() -> ConnectOptions {
    ConnectOptions { timeout: TIMEOUT, ..ConnectOptions::default() }
}

fn connect(broker: &BlockingBroker) -> Client {
    Client::connect(&broker.url(), &options()).expect("connect")
}

/// A standard-mode client that offers only `version` (`"1.0"`, `"1.1"` or `"1.2"`).
fn connect_version(broker: &BlockingBroker, version: &str) -> Client {
    let opts = ConnectOptions { headers: vec![("accept-version".into(), version.into())], ..options() };
    let client = Client::connect(&broker.url(), &opts).expect("connect");
    assert_eq!(client.version().as_str(), version);
    client
}

/// A client subscribed to `destination` (the RECEIPT waited for).
fn subscriber(broker: &BlockingBroker, destination: &str) -> Client {
    let mut client = connect(broker);
    client.subscribe(destination, &[("receipt", "sub")]).expect("subscribe");
    client
}

/// The next frame, which must be a MESSAGE.
fn message(client: &mut Client) -> Frame {
    let frame = client.read_frame(TIMEOUT).expect("read").expect("a frame within the timeout");
    assert_eq!(frame.command, Command::Message, "expected a MESSAGE, got {}", describe(&frame));
    frame
}

/// A port nothing listens on.
fn closed_port() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

#[test]
fn connect_negotiates_1_2_and_reads_the_session_and_server() {
    let broker = BlockingBroker::start();
    let opts = ConnectOptions {
        login: Some("guest".into()),
        passcode: Some("guest".into()),
        headers: vec![("client-id".into(), "me".into())],
        ..options()
    };
    let mut client = Client::connect(&broker.url(), &opts).unwrap();
    // The client offers 1.0,1.1,1.2; the broker picks the highest.
    assert_eq!(client.version(), Version::V1_2);
    let session = client.session().expect("CONNECTED has a session").to_owned();
    assert!(!session.is_empty());
    assert!(client.server().expect("CONNECTED has a server").starts_with("stompbox/"));
    assert!(!client.has_writer_thread());
    assert_eq!(broker.broker.stats().connections, 1);

    // A second session gets its own id; a client offering less gets what it offered.
    let other = connect_version(&broker, "1.1");
    assert_ne!(other.session(), Some(session.as_str()));
    client.send("/topic/connect", b"", &[("receipt", "r")]).unwrap();
}

#[test]
fn refused_login_is_an_auth_error() {
    let broker = BlockingBroker::start();
    let opts = ConnectOptions { login: Some("admin".into()), passcode: Some("password".into()), ..options() };
    let err = Client::connect(&broker.url(), &opts).unwrap_err();
    match &err {
        Error::Auth { message, frame } => {
            assert!(message.contains("authentication failed"), "{message:?}");
            assert_eq!(frame.command, Command::Error);
        }
        other => panic!("expected an auth error, got {other:?}"),
    }
    assert!(err.error_frame().is_some());
}

#[test]
fn other_connect_errors_are_broker_errors() {
    let broker = BlockingBroker::start();
    // Credentials are fine; the version is what the broker refuses.
    let opts = ConnectOptions {
        login: Some("guest".into()),
        passcode: Some("guest".into()),
        headers: vec![("accept-version".into(), "2.0".into())],
        ..options()
    };
    let err = Client::connect(&broker.url(), &opts).unwrap_err();
    match &err {
        Error::Broker { frame, .. } => {
            assert_eq!(frame.command, Command::Error);
            assert_ne!(frame.header("code"), Some("authentication-failed"), "{}", describe(frame));
        }
        other => panic!("expected a broker error, got {other:?}"),
    }
}

#[test]
fn failover_skips_a_refused_address() {
    let broker = BlockingBroker::start();
    let dead = closed_port();
    let failover = format!("failover://(tcp://{dead},{})", broker.url());
    let mut client = Client::connect(&failover, &options()).unwrap();
    assert_eq!(client.endpoint().port, broker.addr.port());
    assert!(client.session().is_some());
    client.send("/topic/failover", b"", &[("receipt", "r")]).unwrap();
}

#[test]
fn connect_refused_is_a_connect_error() {
    let dead = closed_port();
    let err = Client::connect(&format!("tcp://{dead}"), &options()).unwrap_err();
    assert!(
        matches!(err, Error::Connect { ref source, .. } if source.kind() == io::ErrorKind::ConnectionRefused),
        "{err:?}"
    );
    // A failover list of dead addresses reports the last one's error.
    let err = Client::connect(&format!("failover:(tcp://{dead},tcp://{dead})"), &options()).unwrap_err();
    assert!(matches!(err, Error::Connect { .. }), "{err:?}");
}

#[test]
fn receipt_wait_keeps_other_frames_in_order() {
    let broker = BlockingBroker::start();
    let mut client = connect(&broker);
    client.subscribe("/topic/kept", &[("receipt", "sub")]).unwrap();
    let mut producer = connect(&broker);
    producer.send("/topic/kept", b"one", &[("receipt", "p1")]).unwrap();
    // A RECEIPT nobody waits for, between the two MESSAGEs (or after both): it is dropped.
    client.send_bytes(b"SEND\ndestination:/topic/elsewhere\nreceipt:stale\n\n\0").unwrap();
    producer.send("/topic/kept", b"two", &[("receipt", "p2")]).unwrap();
    // Both MESSAGEs were queued for the client before this SEND, so the broker writes them
    // before its RECEIPT: the wait reads them and must keep them.
    client.send("/topic/elsewhere", b"", &[("receipt", "r1")]).unwrap();
    assert!(client.has_frame(Duration::ZERO).unwrap());
    // A zero timeout reads nothing from the socket: these come from what the wait kept.
    let first = client.read_frame(Duration::ZERO).unwrap().expect("first kept frame");
    let second = client.read_frame(Duration::ZERO).unwrap().expect("second kept frame");
    assert_eq!((body(&first), body(&second)), ("one", "two"));
    assert!(!client.has_frame(Duration::ZERO).unwrap());
    assert!(client.read_frame(Duration::from_millis(20)).unwrap().is_none(), "the stale RECEIPT is dropped");
    client.send("/topic/elsewhere", b"bye", &[("receipt", "r2")]).unwrap();
}

#[test]
fn error_instead_of_receipt_is_a_broker_error_with_message_and_body() {
    let broker = BlockingBroker::start();
    let mut client = connect(&broker);
    let err = client.send("/exchange/a", b"x", &[("receipt", "r")]).unwrap_err();
    let expected = "destination \"/exchange/a\" must start with /topic/ or /queue/";
    match &err {
        Error::Broker { message, body, frame } => {
            assert_eq!(message, expected);
            assert_eq!(&body[..], format!("{expected}\n").as_bytes());
            assert_eq!(frame.header("receipt-id"), Some("r"));
        }
        other => panic!("expected a broker error, got {other:?}"),
    }
    assert_eq!(err.to_string(), format!("broker error: {expected}"));
    assert!(err.is_fatal());
    assert!(client.is_closed());
    assert!(matches!(client.send("/queue/a", b"", NO_HEADERS), Err(Error::Closed { .. })));
}

#[test]
fn ack_and_nack_name_the_message_in_every_version() {
    let broker = BlockingBroker::start();
    let mut producer = connect(&broker);
    for version in ["1.0", "1.1", "1.2"] {
        let queue = format!("/queue/ack-{version}");
        let mut consumer = connect_version(&broker, version);
        consumer.subscribe(&queue, &[("ack", "client-individual"), ("receipt", "sub")]).unwrap();
        producer.send(&queue, b"1", NO_HEADERS).unwrap();
        producer.send(&queue, b"2", &[("receipt", "sent")]).unwrap();
        let first = message(&mut consumer);
        let second = message(&mut consumer);
        assert_eq!((body(&first), body(&second)), ("1", "2"), "{version}");
        assert_eq!(broker.broker.queue_depth(&queue), 2, "{version}: both in flight");

        // An ACK the broker could not match would leave the depth alone.
        consumer.ack(&first, &[("receipt", "ack")]).unwrap();
        assert_eq!(broker.broker.queue_depth(&queue), 1, "{version}: the ACK removed one");

        consumer.nack(&second, &[("receipt", "nack")]).unwrap();
        let again = message(&mut consumer);
        assert_eq!(body(&again), "2", "{version}");
        assert_eq!(again.header("redelivered"), Some("true"), "{version}: {}", describe(&again));
        consumer.ack(&again, &[("receipt", "ack2")]).unwrap();
        assert_eq!(broker.broker.queue_depth(&queue), 0, "{version}");
    }
}

#[test]
fn acking_a_non_message_is_refused_locally() {
    let broker = BlockingBroker::start();
    let mut client = connect(&broker);
    let err = client.ack(&Frame::new(Command::Receipt), NO_HEADERS).unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)), "{err:?}");
    assert!(!err.is_fatal());
    let err = client.nack(&Frame::new(Command::Error), NO_HEADERS).unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)), "{err:?}");
    // Nothing was sent: the connection is still good.
    client.send("/topic/after", b"", &[("receipt", "r")]).unwrap();
}

#[test]
fn standard_mode_escapes_headers() {
    let broker = BlockingBroker::start();
    let mut subscriber = connect(&broker);
    subscriber.subscribe("/topic/escape", &[("receipt", "sub")]).unwrap();
    let mut producer = connect(&broker);
    let value = "a:b\nc\\d";
    producer.send("/topic/escape", b"", &[("k:x", value), ("receipt", "r")]).unwrap();
    let got = message(&mut subscriber);
    assert_eq!(got.header("k:x"), Some(value), "{}", describe(&got));
}

#[test]
fn raw_mode_writes_headers_as_given() {
    let broker = BlockingBroker::start();
    let raw = |headers: &[(&str, &str)]| ConnectOptions {
        login: Some("guest".into()),
        passcode: Some("guest".into()),
        headers: headers.iter().map(|&(n, v)| (n.to_owned(), v.to_owned())).collect(),
        mode: Mode::Raw,
        ..options()
    };
    let raw_send = |destination: &str, name: &str, value: &str| {
        Frame::new(Command::Send)
            .with_header("destination", destination)
            .with_header(name, value)
            .with_header("content-length", "2")
            .with_body(&b"hi"[..])
    };

    // A 1.0 CONNECT (no accept-version): values go out raw, and a 1.0 subscriber gets them raw.
    let mut subscriber10 = connect_version(&broker, "1.0");
    subscriber10.subscribe("/topic/raw", &[("receipt", "sub")]).unwrap();
    let mut client = Client::connect(&broker.url(), &raw(&[("z", "1"), ("a", "2")])).unwrap();
    assert_eq!(client.version(), Version::V1_0);
    assert!(client.session().is_some());
    client.send_frame(&raw_send("/topic/raw", "x", "a:b\\c")).unwrap();
    let got = message(&mut subscriber10);
    assert_eq!(got.header("x"), Some("a:b\\c"), "{}", describe(&got));
    assert_eq!(body(&got), "hi");

    // Even on a 1.2 session nothing is escaped: `a\cb` written as given is the broker's `a:b`,
    // where a standard client escapes the backslash and `a\cb` arrives.
    let mut subscriber12 = connect(&broker);
    subscriber12.subscribe("/topic/raw12", &[("receipt", "sub")]).unwrap();
    let mut client = Client::connect(&broker.url(), &raw(&[("accept-version", "1.2")])).unwrap();
    assert_eq!(client.version(), Version::V1_2);
    // The receipt orders the two connections' messages.
    client.send_frame(&raw_send("/topic/raw12", "x", "a\\cb").with_header("receipt", "r")).unwrap();
    let mut standard = connect(&broker);
    standard.send_frame(&raw_send("/topic/raw12", "x", "a\\cb")).unwrap();
    assert_eq!(message(&mut subscriber12).header("x"), Some("a:b"));
    assert_eq!(message(&mut subscriber12).header("x"), Some("a\\cb"));
}

#[test]
fn read_frame_times_out_with_none() {
    let broker = BlockingBroker::start();
    let mut client = connect(&broker);
    let started = Instant::now();
    assert!(client.read_frame(Duration::from_millis(150)).unwrap().is_none());
    assert!(started.elapsed() >= Duration::from_millis(150));
    assert!(!client.is_closed());
}

#[test]
fn receipt_wait_times_out_on_a_producer_blocked_by_a_full_queue() {
    let broker = BlockingBroker::start_with(|c| {
        c.queues.max_messages = 1;
        c.queues.when_full = QueueFullPolicy::Block;
    });
    let mut producer = connect(&broker);
    producer.send("/queue/full", b"1", &[("receipt", "r1")]).unwrap();
    producer.set_timeout(Duration::from_millis(150));
    let started = Instant::now();
    let err = producer.send("/queue/full", b"2", &[("receipt", "r2")]).unwrap_err();
    assert!(matches!(err, Error::Timeout("RECEIPT")), "{err:?}");
    assert!(started.elapsed() >= Duration::from_millis(150));
    assert!(!err.is_fatal());
    assert!(!producer.is_closed());

    // Room made: the held-back message goes in, and its late RECEIPT is dropped.
    let mut consumer = connect(&broker);
    consumer.subscribe("/queue/full", &[("receipt", "sub")]).unwrap();
    assert_eq!(body(&message(&mut consumer)), "1");
    assert_eq!(body(&message(&mut consumer)), "2");
    producer.set_timeout(TIMEOUT);
    producer.send("/queue/other", b"", &[("receipt", "r3")]).unwrap();
    assert!(!producer.has_frame(Duration::ZERO).unwrap());
}

#[test]
fn heart_beat_thread_keeps_the_connection_alive() {
    let broker = BlockingBroker::start_with(|c| {
        c.heartbeat.min_ms = 10;
        // A loaded machine may stall the thread for a while: the broker allows 5 beats.
        c.heartbeat.grace_factor = 5.0;
    });
    let opts = ConnectOptions { heartbeat: Heartbeat { send_ms: 50, receive_ms: 0 }, ..options() };
    let mut client = Client::connect(&broker.url(), &opts).unwrap();
    assert!(client.has_writer_thread());
    // Idle eight times as long as the broker waits (50 ms x 5) before dropping a silent client:
    // without the thread's EOLs, this would end in its ERROR.
    assert!(client.read_frame(Duration::from_millis(2_000)).unwrap().is_none());
    client.send("/topic/alive", b"", &[("receipt", "r")]).unwrap();
    client.disconnect().unwrap();
    assert!(!client.has_writer_thread(), "the thread stops with the connection");
}

#[test]
fn no_heart_beats_no_thread() {
    let broker = BlockingBroker::start_with(|c| c.heartbeat.min_ms = 10);
    assert!(!connect(&broker).has_writer_thread());
    // Only receiving heart-beats needs no thread either.
    let opts = ConnectOptions { heartbeat: Heartbeat { send_ms: 0, receive_ms: 50 }, ..options() };
    assert!(!Client::connect(&broker.url(), &opts).unwrap().has_writer_thread());
}

#[test]
fn a_silent_broker_is_reported() {
    let broker = BlockingBroker::start_with(|c| c.heartbeat.min_ms = 10);
    let opts = ConnectOptions { heartbeat: Heartbeat { send_ms: 0, receive_ms: 50 }, ..options() };
    let mut client = Client::connect(&broker.url(), &opts).unwrap();
    // Heart-beats every 50 ms: 300 ms of nothing else is no silence.
    assert!(client.read_frame(Duration::from_millis(300)).unwrap().is_none());

    let frozen = broker.freeze();
    let silent_since = Instant::now();
    let err = client.read_frame(TIMEOUT).unwrap_err();
    let after = silent_since.elapsed();
    match err {
        // The client allows twice the interval (reported in whole ms).
        Error::HeartbeatTimeout { silent_ms, expected_ms: 50 } => assert!(silent_ms >= 100, "{silent_ms}"),
        other => panic!("expected a heart-beat timeout, got {other:?}"),
    }
    assert!(after < Duration::from_secs(1), "reported after {after:?}");
    assert!(client.is_closed());
    drop(frozen);
}

#[test]
fn disconnect_waits_for_its_receipt_and_closing_twice_is_harmless() {
    let broker = BlockingBroker::start();
    let mut client = connect(&broker);
    // Ok only if the RECEIPT came: a close without it would be `Error::Closed`.
    client.disconnect().unwrap();
    assert!(client.is_closed());
    client.disconnect().unwrap();
    client.close();
    assert!(matches!(client.read_frame(Duration::ZERO), Err(Error::Closed { .. })));
    assert!(matches!(client.send("/queue/a", b"", NO_HEADERS), Err(Error::Closed { .. })));
}

#[test]
fn a_send_without_receipt_leaves_by_itself_and_the_writer_thread_follows_the_connection() {
    let broker = BlockingBroker::start();
    let mut consumer = subscriber(&broker, "/queue/lone");
    let mut producer = connect(&broker);
    producer.send("/queue/lone", b"confirmed", &[("receipt", "r")]).unwrap();
    assert!(!producer.has_writer_thread(), "a frame with a receipt is written by the caller");
    producer.send("/queue/lone", b"alone", NO_HEADERS).unwrap();
    assert!(producer.has_writer_thread());
    // No further call on the producer: only its writer thread can send the frame.
    assert_eq!(body(&message(&mut consumer)), "confirmed");
    assert_eq!(body(&message(&mut consumer)), "alone");
    producer.disconnect().unwrap();
    assert!(!producer.has_writer_thread(), "the thread stops with the connection");
}

#[test]
fn dropping_a_client_writes_what_it_queued() {
    let broker = BlockingBroker::start();
    let mut producer = connect(&broker);
    for n in 0..5_000 {
        producer.send("/queue/dropped", n.to_string().as_bytes(), NO_HEADERS).unwrap();
    }
    drop(producer);
    let mut consumer = connect(&broker);
    consumer.subscribe("/queue/dropped", NO_HEADERS).unwrap();
    for n in 0..5_000 {
        assert_eq!(body(&message(&mut consumer)), n.to_string());
    }
}

#[test]
fn a_write_stuck_past_the_timeout_is_reported_by_the_next_call() {
    let broker = BlockingBroker::start();
    let opts = ConnectOptions { timeout: Duration::from_millis(300), write_buffer_bytes: 64 << 20, ..options() };
    let mut producer = Client::connect(&broker.url(), &opts).unwrap();
    let frozen = broker.freeze();
    // More than the kernel's buffers hold (the client's send buffer grows to 4 MiB by default):
    // every send returns, and the writer thread is stuck until its write times out.
    let body = vec![b'x'; 1 << 20];
    for _ in 0..24 {
        producer.send("/topic/stuck", &body, NO_HEADERS).unwrap();
    }
    let err = producer.flush().unwrap_err();
    assert!(matches!(err, Error::Timeout(_)), "{err:?}");
    assert!(producer.is_closed());
    assert!(matches!(producer.send("/topic/stuck", b"", NO_HEADERS), Err(Error::Closed { .. })));
    drop(frozen);
}

#[test]
fn unbuffered_clients_write_on_the_calling_thread() {
    let broker = BlockingBroker::start();
    let mut consumer = subscriber(&broker, "/queue/direct");
    let opts = ConnectOptions { write_buffer_bytes: 0, ..options() };
    let mut producer = Client::connect(&broker.url(), &opts).unwrap();
    producer.send("/queue/direct", b"direct", NO_HEADERS).unwrap();
    assert!(!producer.has_writer_thread());
    assert_eq!(body(&message(&mut consumer)), "direct");
}

#[test]
fn has_frame_with_no_time_left_still_reads_the_socket() {
    let broker = BlockingBroker::start();
    let mut consumer = subscriber(&broker, "/queue/poll");
    let mut producer = connect(&broker);
    producer.send("/queue/poll", b"polled", &[("receipt", "r")]).unwrap();
    // The MESSAGE is on its way; a zero-timeout poll must pick it up once it has arrived (it
    // used to look only at bytes already read, and never read any).
    poll_until_frame(&mut consumer);
    assert_eq!(body(&message(&mut consumer)), "polled");
}

#[test]
fn batched_frames_arrive_in_order() {
    let broker = BlockingBroker::start();
    let mut producer = connect(&broker);
    producer.set_batching(true).unwrap();
    for text in ["a", "b", "c"] {
        producer.send("/queue/batch", text.as_bytes(), NO_HEADERS).unwrap();
    }
    // A RECEIPT wait sends the batch first; the RECEIPT comes after all four are queued.
    producer.send("/queue/batch", b"d", &[("receipt", "r")]).unwrap();
    assert_eq!(broker.broker.queue_depth("/queue/batch"), 4);

    for text in ["e", "f"] {
        producer.send("/queue/batch", text.as_bytes(), NO_HEADERS).unwrap();
    }
    producer.flush().unwrap();
    producer.send("/queue/batch", b"g", NO_HEADERS).unwrap();
    producer.set_batching(false).unwrap();

    let mut consumer = connect(&broker);
    consumer.subscribe("/queue/batch", NO_HEADERS).unwrap();
    let got: Vec<String> = (0..7).map(|_| body(&message(&mut consumer)).to_owned()).collect();
    assert_eq!(got, ["a", "b", "c", "d", "e", "f", "g"]);
}
