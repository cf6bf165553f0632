//! The handshake: version negotiation, the CONNECTED headers, `host`, logins, the connect timeout.

use stompbox_core::Command;
use stompbox_tests::{start, start_with, Event};

#[tokio::test]
async fn no_accept_version_means_1_0_without_heart_beat() {
    let broker = start().await;
    let mut client = broker.client().await;
    let connected = client.handshake("CONNECT\nheart-beat:0,100\n\n\0").await;
    assert_eq!(connected.header("version"), Some("1.0"));
    assert!(connected.header("heart-beat").is_none(), "a 1.0 CONNECTED has no heart-beat header");
    assert!(connected.header("session").is_some_and(|s| !s.is_empty()));
    assert!(connected.header("server").is_some_and(|s| s.starts_with("stompbox/")));
}

#[tokio::test]
async fn highest_common_version_is_chosen() {
    let broker = start().await;
    for (accept, chosen) in [("1.1,1.2", "1.2"), ("1.0,1.1", "1.1"), ("1.0", "1.0"), ("2.0,1.1", "1.1"), ("1.2", "1.2")]
    {
        let mut client = broker.client().await;
        let connected = client.handshake(&format!("CONNECT\naccept-version:{accept}\nhost:localhost\n\n\0")).await;
        assert_eq!(connected.header("version"), Some(chosen), "accept-version:{accept}");
    }
}

#[tokio::test]
async fn unsupported_versions_only_get_an_error_with_the_supported_list() {
    let broker = start().await;
    let mut client = broker.client().await;
    client.send("CONNECT\naccept-version:2.0,3.1\nhost:localhost\nreceipt:c1\n\n\0").await;
    let error = client.expect_error_and_close("supported protocol versions").await;
    assert_eq!(error.header("version"), Some("1.0,1.1,1.2"));
    assert_eq!(error.header("content-type"), Some("text/plain"));
    assert!(!error.body.is_empty(), "the body describes the supported versions");
}

#[tokio::test]
async fn connected_has_version_session_server_and_heart_beat() {
    let broker = start_with(|c| {
        c.heartbeat.send_ms = 1_500;
        c.heartbeat.receive_ms = 2_500;
    })
    .await;
    let mut first = broker.client().await;
    let connected = first.handshake("CONNECT\naccept-version:1.2\nhost:localhost\n\n\0").await;
    assert_eq!(connected.header("version"), Some("1.2"));
    assert_eq!(connected.header("heart-beat"), Some("1500,2500"));
    assert!(connected.header("server").is_some_and(|s| s.starts_with("stompbox/")));
    let session = connected.header("session").expect("session header").to_owned();

    let mut second = broker.client().await;
    let connected = second.handshake("CONNECT\naccept-version:1.1\nhost:localhost\n\n\0").await;
    assert_eq!(connected.header("heart-beat"), Some("1500,2500"));
    assert_ne!(connected.header("session"), Some(session.as_str()), "session ids are unique");
}

#[tokio::test]
async fn stomp_command_is_treated_as_connect() {
    let broker = start().await;
    let mut client = broker.client().await;
    let connected = client.handshake("STOMP\naccept-version:1.2\nhost:localhost\n\n\0").await;
    assert_eq!(connected.header("version"), Some("1.2"));
    client.barrier().await;
}

#[tokio::test]
async fn host_may_be_missing_or_anything() {
    let broker = start().await;
    for connect in [
        "CONNECT\naccept-version:1.2\n\n\0",
        "CONNECT\naccept-version:1.1\nhost:no-such-vhost.example\n\n\0",
        "CONNECT\naccept-version:1.2\nhost:\n\n\0",
        "CONNECT\nhost:/\n\n\0",
    ] {
        let mut client = broker.client().await;
        client.handshake(connect).await;
        client.barrier().await;
    }
}

#[tokio::test]
async fn anonymous_and_guest_logins_are_accepted() {
    let broker = start().await;
    for connect in [
        "CONNECT\n\n\0",
        "CONNECT\nlogin:\npasscode:\n\n\0",
        "CONNECT\nlogin:guest\npasscode:guest\n\n\0",
        "CONNECT\naccept-version:1.2\nhost:localhost\nlogin:guest\npasscode:guest\n\n\0",
    ] {
        let mut client = broker.client().await;
        client.handshake(connect).await;
        client.barrier().await;
    }
}

#[tokio::test]
async fn other_logins_are_refused_with_an_error() {
    let broker = start().await;
    for connect in [
        "CONNECT\nlogin:admin\npasscode:password\nreceipt:r\n\n\0",
        "CONNECT\naccept-version:1.2\nhost:localhost\nlogin:guest\npasscode:wrong\n\n\0",
        "CONNECT\naccept-version:1.1\nhost:localhost\nlogin:guest\n\n\0",
        "CONNECT\npasscode:guest\n\n\0",
    ] {
        let mut client = broker.client().await;
        client.send(connect).await;
        let error = client.expect_error_and_close("authentication failed").await;
        assert_eq!(error.header("code"), Some("authentication-failed"), "{connect:?}");
    }
}

#[tokio::test]
async fn frames_before_connect_are_refused() {
    let broker = start().await;
    let mut client = broker.client().await;
    client.send("SEND\ndestination:/topic/a\nreceipt:r1\n\nx\0").await;
    let error = client.expect_error_and_close("expected CONNECT").await;
    assert_eq!(error.header("receipt-id"), Some("r1"));
}

#[tokio::test]
async fn a_second_connect_is_an_error() {
    let broker = start().await;
    let mut client = broker.connect12().await;
    client.send("CONNECT\naccept-version:1.2\nhost:localhost\n\n\0").await;
    client.expect_error_and_close("already connected").await;
}

#[tokio::test(start_paused = true)]
async fn no_connect_within_the_connect_timeout_gets_an_error_and_close() {
    let broker = start_with(|c| c.limits.connect_timeout_ms = 150).await;
    let mut silent = broker.client().await;
    let started = tokio::time::Instant::now();
    let error = silent.expect_error("no CONNECT within").await;
    assert_eq!(error.header("code"), Some("timeout"));
    // Paused time: the deadline is exact.
    assert_eq!(started.elapsed(), std::time::Duration::from_millis(150));
    silent.expect_closed().await;

    // A connection that did CONNECT in time is not affected by the timeout.
    let mut connected = broker.connect12().await;
    match connected.event(std::time::Duration::from_millis(400)).await {
        Event::Timeout => {}
        other => panic!("a connected client must not be timed out: {other:?}"),
    }
    connected.barrier().await;
}

#[tokio::test]
async fn connected_frame_is_not_escaped_and_connect_is_not_unescaped() {
    // CONNECT headers are never unescaped: an escape that would be undefined elsewhere is fine.
    let broker = start().await;
    let mut client = broker.client().await;
    let connected = client.handshake("CONNECT\naccept-version:1.2\nhost:vhost\\q\\c:1\n\n\0").await;
    assert_eq!(connected.command, Command::Connected);
    client.barrier().await;
    let raw = String::from_utf8_lossy(client.transcript()).into_owned();
    assert!(raw.starts_with("CONNECTED\n"), "{raw:?}");
    assert!(!raw.split("\n\n").next().unwrap_or_default().contains('\\'), "CONNECTED carries no escapes: {raw:?}");
}

#[tokio::test]
async fn frames_sent_right_behind_connect_are_handled() {
    let broker = start().await;
    let mut client = broker.client().await;
    // One write: the broker checks the login first, then handles what was buffered behind it.
    client
        .send(
            "CONNECT\naccept-version:1.2\nhost:localhost\n\n\0\
             SUBSCRIBE\nid:0\ndestination:/topic/eager\n\n\0\
             SEND\ndestination:/topic/eager\nreceipt:r\n\nat once\0",
        )
        .await;
    client.expect(stompbox_core::Command::Connected).await;
    client.expect_receipt("r").await;
    assert_eq!(stompbox_tests::body(&client.message().await), "at once");
}
