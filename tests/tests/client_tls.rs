//! The blocking client (`stompbox_core::client`) over TLS against the broker's `tls` listener:
//! `ssl://` and `tls://` URLs trusting a CA file, large frames both ways, the writer thread's
//! heart-beats and sends while a read waits, polls with no time left, failover mixing schemes,
//! and the errors for a certificate that does not verify, a wrong host name, a plain-TCP port
//! and a CA file that cannot be used.

use std::net::TcpListener;
use std::time::Duration;

use stompbox_core::client::{Client, ConnectOptions, Error, NO_HEADERS};
use stompbox_core::heartbeat::Heartbeat;
use stompbox_core::{Command, Frame};
use stompbox_server::listener::ListenerKind;
use stompbox_tests::pki::TestPki;
use stompbox_tests::{body, describe, poll_until_frame, BlockingBroker, TIMEOUT};

/// A broker whose only listener is a `tls` one with the certificate of `pki`.
fn tls_broker(pki: &TestPki) -> BlockingBroker {
    tls_broker_with(pki, |_| {})
}

fn tls_broker_with(pki: &TestPki, tweak: impl FnOnce(&mut stompbox_server::Config)) -> BlockingBroker {
    let listener = pki.listener(ListenerKind::Tls);
    BlockingBroker::start_with(move |c| {
        c.listen.clear();
        c.listener = vec![listener];
        tweak(c);
    })
}

/// Options trusting the test CA.
fn trusting(pki: &TestPki) -> ConnectOptions {
    ConnectOptions { timeout: TIMEOUT, ca_file: Some(pki.ca.clone()), ..ConnectOptions::default() }
}

fn ssl_url(broker: &BlockingBroker) -> String {
    format!("ssl://{}", broker.addr)
}

/// A consumer subscribed to `destination` (its receipt awaited) and a producer, both over
/// `ssl://` trusting the test CA.
fn consumer_and_producer(pki: &TestPki, broker: &BlockingBroker, destination: &str) -> (Client, Client) {
    let mut consumer = Client::connect(&ssl_url(broker), &trusting(pki)).expect("consumer");
    consumer.subscribe(destination, &[("receipt", "sub")]).expect("subscribe");
    (consumer, Client::connect(&ssl_url(broker), &trusting(pki)).expect("producer"))
}

/// The next frame, which must be a MESSAGE.
fn message(client: &mut Client) -> Frame {
    let frame = client.read_frame(TIMEOUT).expect("read").expect("a frame within the timeout");
    assert_eq!(frame.command, Command::Message, "expected a MESSAGE, got {}", describe(&frame));
    frame
}

/// The reason of a TLS error, failing on anything else.
fn tls_reason(result: Result<Client, Error>) -> String {
    match result {
        Err(Error::Tls { reason, .. }) => reason,
        other => panic!("expected a TLS error, got {other:?}"),
    }
}

#[test]
fn ssl_and_tls_urls_carry_frames_trusting_a_ca_file() {
    let pki = TestPki::new();
    let broker = tls_broker(&pki);
    let mut consumer = Client::connect(&ssl_url(&broker), &trusting(&pki)).expect("ssl:// by IP address");
    consumer.subscribe("/queue/tls", &[("receipt", "sub")]).unwrap();
    let tls_url = format!("tls://localhost:{}", broker.addr.port());
    let mut producer = Client::connect(&tls_url, &trusting(&pki)).expect("tls:// by host name");
    assert!(producer.endpoint().tls);
    producer.send("/queue/tls", b"over tls", &[("receipt", "r")]).unwrap();
    assert_eq!(body(&message(&mut consumer)), "over tls");
    let kinds: Vec<String> = broker.broker.snapshot().connections.iter().map(|c| c.kind.clone()).collect();
    assert_eq!(kinds, ["tls", "tls"]);
    producer.disconnect().unwrap();
    consumer.disconnect().unwrap();
}

#[test]
fn frames_larger_than_a_tls_record_go_both_ways() {
    let pki = TestPki::new();
    let broker = tls_broker(&pki);
    let (mut consumer, mut producer) = consumer_and_producer(&pki, &broker, "/queue/big");
    let big: Vec<u8> = (0..3 << 20).map(|n: u32| (n % 251) as u8).collect();
    producer.send("/queue/big", &big, NO_HEADERS).unwrap();
    producer.send("/queue/big", b"after", &[("receipt", "r")]).unwrap();
    assert!(message(&mut consumer).body == big, "the 3 MiB body arrives intact");
    assert_eq!(body(&message(&mut consumer)), "after");
}

#[test]
fn the_writer_thread_sends_heart_beats_and_frames_while_a_read_waits() {
    let pki = TestPki::new();
    let broker = tls_broker_with(&pki, |c| {
        c.heartbeat.min_ms = 10;
        c.heartbeat.grace_factor = 2.0;
    });
    let opts = ConnectOptions { heartbeat: Heartbeat { send_ms: 50, receive_ms: 0 }, ..trusting(&pki) };
    let mut client = Client::connect(&ssl_url(&broker), &opts).unwrap();
    assert!(client.has_writer_thread());
    let mut consumer = Client::connect(&ssl_url(&broker), &trusting(&pki)).unwrap();
    consumer.subscribe("/queue/beats", &[("receipt", "sub")]).unwrap();
    // A send left to the writer thread, then a read that waits ten times as long as the broker
    // lets a silent client live (50 ms x 2): only the thread's EOLs, written while the read
    // waits on the socket, keep the connection open.
    client.send("/queue/beats", b"from the writer thread", NO_HEADERS).unwrap();
    assert!(client.read_frame(Duration::from_millis(1_000)).unwrap().is_none());
    assert_eq!(body(&message(&mut consumer)), "from the writer thread");
    client.send("/queue/beats", b"still here", &[("receipt", "r")]).unwrap();
    assert_eq!(body(&message(&mut consumer)), "still here");
    client.disconnect().unwrap();
    assert!(!client.has_writer_thread());
}

#[test]
fn has_frame_with_no_time_left_reads_what_arrived_over_tls() {
    let pki = TestPki::new();
    let broker = tls_broker(&pki);
    let (mut consumer, mut producer) = consumer_and_producer(&pki, &broker, "/queue/poll");
    producer.send("/queue/poll", b"polled", &[("receipt", "r")]).unwrap();
    poll_until_frame(&mut consumer);
    assert_eq!(body(&message(&mut consumer)), "polled");
}

#[test]
fn failover_passes_from_a_dead_tcp_address_to_a_live_ssl_one() {
    let pki = TestPki::new();
    let broker = tls_broker(&pki);
    let dead = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let url = format!("failover://(tcp://{dead},ssl://{})", broker.addr);
    let mut client = Client::connect(&url, &trusting(&pki)).expect("the ssl address answers");
    assert_eq!(client.endpoint().port, broker.addr.port());
    client.send("/queue/failover", b"", &[("receipt", "r")]).unwrap();
}

#[test]
fn a_certificate_from_an_untrusted_ca_is_a_tls_error() {
    let pki = TestPki::new();
    let broker = tls_broker(&pki);
    // The system's CAs (no CA file) did not sign the test CA; nor did another test CA.
    let system = ConnectOptions { timeout: TIMEOUT, ..ConnectOptions::default() };
    let reason = tls_reason(Client::connect(&ssl_url(&broker), &system));
    assert!(reason.contains("not signed by a CA this client trusts"), "{reason}");
    let other = TestPki::new();
    let reason = tls_reason(Client::connect(&ssl_url(&broker), &trusting(&other)));
    assert!(reason.contains("not signed by a CA this client trusts"), "{reason}");
    assert_eq!(broker.broker.stats().connections, 0, "no session was opened");
}

#[test]
fn a_certificate_for_another_name_is_a_tls_error() {
    let pki = TestPki::for_names(&["broker.example"]);
    let broker = tls_broker(&pki);
    let err = Client::connect(&ssl_url(&broker), &trusting(&pki)).unwrap_err();
    assert!(err.to_string().starts_with(&format!("TLS handshake with {} failed: ", broker.addr)), "{err}");
    let reason = tls_reason(Err(err));
    assert!(reason.contains("not valid for the name \"127.0.0.1\""), "{reason}");
}

#[test]
fn a_plain_tcp_broker_on_a_tls_url_is_a_tls_error() {
    let pki = TestPki::new();
    let broker = BlockingBroker::start();
    let reason = tls_reason(Client::connect(&format!("ssl://{}", broker.addr), &trusting(&pki)));
    assert!(reason.contains("is this a plain TCP port?"), "{reason}");
}

#[test]
fn a_ca_file_that_cannot_be_used_is_a_trust_store_error() {
    let pki = TestPki::new();
    let broker = tls_broker(&pki);
    std::fs::write(pki.path("empty.pem"), "no certificate here\n").unwrap();
    for (file, expected) in [("missing.pem", "No such file"), ("empty.pem", "holds no certificate")] {
        let opts = ConnectOptions { ca_file: Some(pki.path(file)), ..trusting(&pki) };
        match Client::connect(&ssl_url(&broker), &opts) {
            Err(Error::TrustStore { from, reason }) => {
                assert!(from.ends_with(file) && reason.contains(expected), "{from}: {reason}");
            }
            other => panic!("expected a trust store error, got {other:?}"),
        }
    }
    // A CA file is read only when an address needs TLS.
    let plain = BlockingBroker::start();
    let opts = ConnectOptions { ca_file: Some(pki.path("missing.pem")), ..trusting(&pki) };
    Client::connect(&plain.url(), &opts).expect("tcp:// ignores the CA file");
}
