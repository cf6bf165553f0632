//! Client tests against a scripted fake broker on a loopback socket.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread::{self, JoinHandle};

use super::*;

/// Runs `script` on the first connection to a fresh loopback listener; returns its URL.
fn fake_broker<F>(script: F) -> (String, JoinHandle<()>)
where
    F: FnOnce(TcpStream) + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("tcp://{}", listener.local_addr().unwrap());
    let handle = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        script(stream);
    });
    (url, handle)
}

/// Reads one frame's raw bytes, up to and including the NUL (skipping leading EOLs).
fn read_raw(stream: &mut TcpStream) -> Vec<u8> {
    let mut frame = Vec::new();
    let mut byte = [0u8];
    loop {
        stream.read_exact(&mut byte).unwrap();
        if frame.is_empty() && byte[0] == b'\n' {
            continue;
        }
        frame.push(byte[0]);
        if byte[0] == 0 {
            return frame;
        }
    }
}

fn header_of(raw: &[u8], name: &str) -> Option<String> {
    let text = String::from_utf8_lossy(raw);
    let prefix = format!("{name}:");
    text.lines().find_map(|l| l.strip_prefix(&prefix).map(str::to_owned))
}

fn connected(stream: &mut TcpStream, extra: &str) {
    read_raw(stream);
    write!(stream, "CONNECTED\nversion:1.2\nsession:s-1\nserver:fake/1{extra}\n\n\0").unwrap();
}

fn options() -> ConnectOptions {
    ConnectOptions { timeout: Duration::from_secs(5), ..ConnectOptions::default() }
}

#[test]
fn connect_offers_all_versions_and_reads_the_session() {
    let (url, broker) = fake_broker(|mut s| {
        let raw = read_raw(&mut s);
        assert!(raw.starts_with(b"CONNECT\n"));
        assert_eq!(header_of(&raw, "accept-version").as_deref(), Some("1.0,1.1,1.2"));
        assert_eq!(header_of(&raw, "host").as_deref(), Some("127.0.0.1"));
        assert_eq!(header_of(&raw, "login").as_deref(), Some("guest"));
        assert_eq!(header_of(&raw, "client-id").as_deref(), Some("me"));
        assert_eq!(header_of(&raw, "heart-beat"), None);
        s.write_all(b"CONNECTED\nversion:1.1\nsession:abc\n\n\0").unwrap();
    });
    let opts = ConnectOptions {
        login: Some("guest".into()),
        passcode: Some("guest".into()),
        headers: vec![("client-id".into(), "me".into())],
        ..options()
    };
    let client = Client::connect(&url, &opts).unwrap();
    assert_eq!(client.session(), Some("abc"));
    assert_eq!(client.version(), Version::V1_1);
    assert!(!client.has_heartbeat_thread());
    broker.join().unwrap();
}

#[test]
fn receipt_wait_keeps_other_frames_in_order() {
    let (url, broker) = fake_broker(|mut s| {
        connected(&mut s, "");
        let raw = read_raw(&mut s);
        assert!(raw.starts_with(b"SEND\ndestination:/queue/a\ncontent-length:5\nreceipt:r1\n\nhello\0"));
        s.write_all(b"MESSAGE\nmessage-id:1\ndestination:/queue/b\nsubscription:x\n\none\0\n").unwrap();
        s.write_all(b"RECEIPT\nreceipt-id:stale\n\n\0MESSAGE\nmessage-id:2\n\ntwo\0").unwrap();
        s.write_all(b"RECEIPT\nreceipt-id:r1\n\n\0").unwrap();
        read_raw(&mut s);
    });
    let mut client = Client::connect(&url, &options()).unwrap();
    client.send("/queue/a", b"hello", &[("receipt", "r1")]).unwrap();
    assert!(client.has_frame(Duration::ZERO).unwrap());
    let first = client.read_frame(Duration::from_secs(1)).unwrap().unwrap();
    let second = client.read_frame(Duration::from_secs(1)).unwrap().unwrap();
    assert_eq!((&first.body[..], &second.body[..]), (&b"one"[..], &b"two"[..]));
    assert!(!client.has_frame(Duration::ZERO).unwrap());
    client.send("/queue/a", b"bye", NO_HEADERS).unwrap();
    broker.join().unwrap();
}

#[test]
fn error_instead_of_receipt_is_a_broker_error_with_message_and_body() {
    let (url, broker) = fake_broker(|mut s| {
        connected(&mut s, "");
        read_raw(&mut s);
        s.write_all(b"ERROR\nmessage:destination refused\nreceipt-id:r\n\ndetails here\0").unwrap();
    });
    let mut client = Client::connect(&url, &options()).unwrap();
    let err = client.subscribe("nowhere", &[("receipt", "r")]).unwrap_err();
    match &err {
        Error::Broker { message, body, .. } => {
            assert_eq!(message, "destination refused");
            assert_eq!(&body[..], b"details here");
        }
        other => panic!("expected a broker error, got {other:?}"),
    }
    assert_eq!(err.to_string(), "broker error: destination refused");
    assert!(client.is_closed());
    assert!(matches!(client.send("/queue/a", b"", NO_HEADERS), Err(Error::Closed { .. })));
    broker.join().unwrap();
}

#[test]
fn refused_login_is_an_auth_error() {
    let (url, broker) = fake_broker(|mut s| {
        read_raw(&mut s);
        s.write_all(b"ERROR\nmessage:authentication failed: unknown login or wrong passcode\n\n\0").unwrap();
    });
    let opts = ConnectOptions { login: Some("bad".into()), passcode: Some("bad".into()), ..options() };
    let err = Client::connect(&url, &opts).unwrap_err();
    assert!(matches!(err, Error::Auth { ref message, .. } if message.contains("authentication failed")), "{err:?}");
    broker.join().unwrap();
}

#[test]
fn ack_names_the_message_as_each_version_requires() {
    for (version, expected) in [
        ("1.2", "ACK\nid:a-7\n\n\0"),
        ("1.1", "ACK\nmessage-id:m-7\nsubscription:s\n\n\0"),
        ("1.0", "ACK\nmessage-id:m-7\n\n\0"),
    ] {
        let (url, broker) = fake_broker(move |mut s| {
            read_raw(&mut s);
            write!(s, "CONNECTED\nversion:{version}\n\n\0").unwrap();
            assert_eq!(String::from_utf8(read_raw(&mut s)).unwrap(), expected);
        });
        let mut client = Client::connect(&url, &options()).unwrap();
        let message = Frame::new(Command::Message)
            .with_header("message-id", "m-7")
            .with_header("subscription", "s")
            .with_header("ack", "a-7");
        client.ack(&message, NO_HEADERS).unwrap();
        broker.join().unwrap();
    }
}

#[test]
fn acking_a_non_message_is_refused_locally() {
    let (url, broker) = fake_broker(|mut s| connected(&mut s, ""));
    let mut client = Client::connect(&url, &options()).unwrap();
    let err = client.ack(&Frame::new(Command::Receipt), NO_HEADERS).unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)));
    assert!(!err.is_fatal());
    broker.join().unwrap();
}

#[test]
fn standard_mode_escapes_headers_and_pecl_mode_writes_them_as_given() {
    let (url, broker) = fake_broker(|mut s| {
        connected(&mut s, "");
        assert_eq!(read_raw(&mut s), b"SEND\ndestination:/queue/a\ncontent-length:0\nk\\cx:a\\nb\n\n\0");
    });
    let mut client = Client::connect(&url, &options()).unwrap();
    client.send("/queue/a", b"", &[("k:x", "a\nb")]).unwrap();
    broker.join().unwrap();

    let (url, broker) = fake_broker(|mut s| {
        assert_eq!(read_raw(&mut s), b"CONNECT\nlogin:u\npasscode:p\nz:1\na:2\n\n\0");
        s.write_all(b"CONNECTED\nsession:pecl\n\n\0").unwrap();
        assert_eq!(read_raw(&mut s), b"SEND\ndestination:/queue/a\nx:a:b\ncontent-length:2\n\nhi\0");
    });
    let opts = ConnectOptions {
        login: Some("u".into()),
        passcode: Some("p".into()),
        headers: vec![("z".into(), "1".into()), ("a".into(), "2".into())],
        mode: Mode::Pecl,
        ..options()
    };
    let mut client = Client::connect(&url, &opts).unwrap();
    assert_eq!(client.version(), Version::V1_0);
    let frame = Frame::new(Command::Send)
        .with_header("destination", "/queue/a")
        .with_header("x", "a:b")
        .with_header("content-length", "2")
        .with_body(&b"hi"[..]);
    client.send_frame(&frame).unwrap();
    broker.join().unwrap();
}

#[test]
fn read_frame_times_out_with_none_and_receipt_wait_with_timeout() {
    let (url, broker) = fake_broker(|mut s| {
        connected(&mut s, "");
        read_raw(&mut s);
        // Hold the connection open until the client gives up.
        let _ = s.read(&mut [0u8; 16]);
    });
    let mut client = Client::connect(&url, &options()).unwrap();
    let started = Instant::now();
    assert!(client.read_frame(Duration::from_millis(150)).unwrap().is_none());
    assert!(started.elapsed() >= Duration::from_millis(150));
    client.set_timeout(Duration::from_millis(150));
    let err = client.begin(Some("t"), &[("receipt", "r")]).unwrap_err();
    assert!(matches!(err, Error::Timeout("RECEIPT")), "{err:?}");
    drop(client);
    broker.join().unwrap();
}

#[test]
fn negotiated_heart_beats_start_a_thread_that_writes_eols() {
    let (url, broker) = fake_broker(|mut s| {
        connected(&mut s, "\nheart-beat:0,50");
        let mut byte = [0u8];
        s.read_exact(&mut byte).unwrap();
        assert_eq!(byte[0], b'\n');
    });
    let opts = ConnectOptions { heart_beat: HeartBeat { send_ms: 50, receive_ms: 0 }, ..options() };
    let client = Client::connect(&url, &opts).unwrap();
    assert!(client.has_heartbeat_thread());
    broker.join().unwrap();
}

#[test]
fn a_silent_broker_is_reported() {
    let (url, broker) = fake_broker(|mut s| {
        connected(&mut s, "\nheart-beat:50,0");
        let _ = s.read(&mut [0u8; 16]);
    });
    let opts = ConnectOptions { heart_beat: HeartBeat { send_ms: 0, receive_ms: 50 }, ..options() };
    let mut client = Client::connect(&url, &opts).unwrap();
    assert!(!client.has_heartbeat_thread());
    let err = client.read_frame(Duration::from_secs(2)).unwrap_err();
    assert!(matches!(err, Error::HeartbeatTimeout { expected_ms: 50, .. }), "{err:?}");
    drop(client);
    broker.join().unwrap();
}

#[test]
fn failover_skips_a_refused_address() {
    let refused = TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = refused.local_addr().unwrap();
    drop(refused);
    let (url, broker) = fake_broker(|mut s| connected(&mut s, ""));
    let failover = format!("failover://(tcp://{dead},{url})");
    let client = Client::connect(&failover, &options()).unwrap();
    assert_eq!(client.session(), Some("s-1"));
    broker.join().unwrap();

    let err = Client::connect(&format!("tcp://{dead}"), &options()).unwrap_err();
    assert!(matches!(err, Error::Connect { ref source, .. } if source.kind() == io::ErrorKind::ConnectionRefused));
}

#[test]
fn disconnect_waits_for_its_receipt_and_closing_twice_is_harmless() {
    let (url, broker) = fake_broker(|mut s| {
        connected(&mut s, "");
        let raw = read_raw(&mut s);
        assert!(raw.starts_with(b"DISCONNECT\nreceipt:"));
        let id = header_of(&raw, "receipt").unwrap();
        write!(s, "RECEIPT\nreceipt-id:{id}\n\n\0").unwrap();
    });
    let mut client = Client::connect(&url, &options()).unwrap();
    client.disconnect().unwrap();
    client.disconnect().unwrap();
    assert!(matches!(client.read_frame(Duration::ZERO), Err(Error::Closed { .. })));
    broker.join().unwrap();
}

#[test]
fn broker_closing_mid_frame_is_reported() {
    let (url, broker) = fake_broker(|mut s| {
        connected(&mut s, "");
        s.write_all(b"MESSAGE\nmessage-id:1\n\npart").unwrap();
    });
    let mut client = Client::connect(&url, &options()).unwrap();
    broker.join().unwrap();
    let err = client.read_frame(Duration::from_secs(2)).unwrap_err();
    assert!(matches!(err, Error::Closed { mid_frame: true }), "{err:?}");
}
