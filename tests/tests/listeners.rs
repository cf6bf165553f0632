//! The `tls`, `ws` and `wss` listeners end to end: the same STOMP over every kind, WebSocket
//! framing both ways, subprotocols, refused upgrades, handshakes under the connect deadline,
//! client certificates, and the configuration errors that name a listener and a key.

use std::net::SocketAddr;

use stompbox_core::Command;
use stompbox_server::config::ListenerConfig;
use stompbox_server::listener::ListenerKind;
use stompbox_server::{Config, ConfigError};
use stompbox_tests::pki::TestPki;
use stompbox_tests::wire::{self, Upgrade};
use stompbox_tests::{body, start_with, Client, TestBroker};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

const CONNECT: &str = "CONNECT\naccept-version:1.2\nhost:localhost\n\n\0";
const KINDS: [ListenerKind; 4] = [ListenerKind::Tcp, ListenerKind::Tls, ListenerKind::Ws, ListenerKind::Wss];

/// A broker with these listeners only.
async fn broker_with(listeners: Vec<ListenerConfig>) -> TestBroker {
    start_with(move |c| {
        c.listen.clear();
        c.listener = listeners;
    })
    .await
}

/// A client on the listener at `addr` of `kind`, not yet connected.
async fn open(pki: &TestPki, kind: ListenerKind, addr: SocketAddr) -> Client {
    match kind {
        ListenerKind::Tcp => Client::open(addr).await,
        ListenerKind::Tls => Client::open_tls(addr, pki.client()).await,
        ListenerKind::Ws => Client::open_websocket(addr, &Upgrade::default()).await.expect("upgrade").0,
        ListenerKind::Wss => {
            let upgrade = Upgrade { tls: Some(pki.client()), ..Upgrade::default() };
            Client::open_websocket(addr, &upgrade).await.expect("upgrade").0
        }
    }
}

async fn connected(pki: &TestPki, kind: ListenerKind, addr: SocketAddr) -> Client {
    let mut client = open(pki, kind, addr).await;
    client.handshake(CONNECT).await;
    client
}

#[tokio::test]
async fn every_kind_carries_the_same_stomp_to_every_other() {
    let pki = TestPki::new();
    let broker = broker_with(KINDS.iter().map(|&kind| pki.listener(kind)).collect()).await;
    let mut subscribers = Vec::new();
    for (&kind, &addr) in KINDS.iter().zip(&broker.addrs) {
        let mut client = connected(&pki, kind, addr).await;
        client.subscribe("/topic/chat.general", "0", "").await;
        subscribers.push(client);
    }
    for (&kind, &addr) in KINDS.iter().zip(&broker.addrs) {
        let mut producer = connected(&pki, kind, addr).await;
        producer.publish_sync("/topic/chat.general", &format!("from {}", kind.as_str())).await;
        for subscriber in &mut subscribers {
            assert_eq!(body(&subscriber.message().await), format!("from {}", kind.as_str()));
        }
        producer.disconnect().await;
    }
    let snapshot = broker.broker.snapshot();
    let mut kinds: Vec<&str> = snapshot.connections.iter().map(|c| c.kind.as_str()).collect();
    kinds.sort_unstable();
    assert_eq!(kinds, ["tcp", "tls", "ws", "wss"]);
    for connection in &snapshot.connections {
        assert_eq!(connection.listener, connection.kind, "a listener without a name is named after its kind");
    }
}

#[tokio::test]
async fn several_frames_in_one_message_and_one_frame_over_several_messages() {
    let pki = TestPki::new();
    let broker = broker_with(vec![pki.listener(ListenerKind::Ws)]).await;
    let mut client = connected(&pki, ListenerKind::Ws, broker.addr).await;
    client
        .send(
            "SUBSCRIBE\ndestination:/topic/t\nid:0\nreceipt:r1\n\n\0\nSEND\ndestination:/topic/t\n\none\0\
             SEND\ndestination:/topic/t\nreceipt:r2\n\ntwo\0",
        )
        .await;
    client.expect_receipt("r1").await;
    // RECEIPTs go out in the round that handled their frame, deliveries in the next one.
    let mut bodies = Vec::new();
    let mut receipts = Vec::new();
    for _ in 0..3 {
        let frame = client.frame().await;
        match frame.command {
            Command::Message => bodies.push(body(&frame).to_owned()),
            _ => receipts.push(frame.header("receipt-id").map(str::to_owned)),
        }
    }
    assert_eq!((bodies, receipts), (vec!["one".to_owned(), "two".to_owned()], vec![Some("r2".to_owned())]));

    for part in ["SE", "ND\ndestination:/topic/t\ncontent-le", "ngth:5\n\nthr", "ee", "\0"] {
        client.send_message(Message::binary(part.as_bytes().to_vec())).await;
    }
    assert_eq!(body(&client.message().await), "three");
}

#[tokio::test]
async fn each_frame_is_one_message_text_unless_its_body_has_a_nul_and_heartbeats_are_their_own() {
    let pki = TestPki::new();
    let broker = start_with(|c| {
        c.listen.clear();
        c.listener = vec![pki.listener(ListenerKind::Ws)];
        c.heartbeat.send_ms = 50;
    })
    .await;
    let mut client = open(&pki, ListenerKind::Ws, broker.addr).await;
    client.handshake("CONNECT\naccept-version:1.2\nhost:localhost\nheart-beat:0,50\n\n\0").await;
    client.subscribe("/topic/t", "0", "").await;
    client.publish("/topic/t", "plain").await;
    client.send("SEND\ndestination:/topic/t\ncontent-length:3\n\na\0b\0").await;
    assert_eq!(body(&client.message().await), "plain");
    assert_eq!(&client.message().await.body[..], b"a\0b");
    while client.heartbeats == 0 {
        client.event(stompbox_tests::TIMEOUT).await;
    }
    let messages = client.messages();
    let frames: Vec<&Message> = messages.iter().filter(|m| m.len() > 1).collect();
    assert_eq!(frames.len(), 4, "CONNECTED, RECEIPT and two MESSAGEs, one message each: {messages:?}");
    assert!(frames[..3].iter().all(|m| m.is_text()), "{frames:?}");
    assert!(frames[3].is_binary(), "{:?}", frames[3]);
    for frame in &frames {
        assert_eq!((*frame).clone().into_data().last(), Some(&0), "a message ends with its frame's NUL");
    }
    assert!(messages.iter().any(|m| *m == Message::text("\n")), "a heart-beat is a message of its own");
}

#[tokio::test]
async fn each_subprotocol_is_agreed_in_the_servers_order_and_none_is_fine() {
    let pki = TestPki::new();
    let broker = broker_with(vec![pki.listener(ListenerKind::Ws)]).await;
    let cases: [(&[&str], Option<&str>); 7] = [
        (&["v12.stomp"], Some("v12.stomp")),
        (&["v11.stomp"], Some("v11.stomp")),
        (&["v10.stomp"], Some("v10.stomp")),
        (&["stomp"], Some("stomp")),
        (&["stomp", "v10.stomp", "v12.stomp"], Some("v12.stomp")),
        (&["mqtt", "v11.stomp"], Some("v11.stomp")),
        (&[], None),
    ];
    for (offered, agreed) in cases {
        let (mut client, response) =
            Client::open_websocket(broker.addr, &Upgrade::offering(offered)).await.expect("upgrade");
        let header = response.headers().get("sec-websocket-protocol").map(|v| v.to_str().unwrap());
        assert_eq!(header, agreed, "offered {offered:?}");
        client.handshake(CONNECT).await;
        client.disconnect().await;
    }
    match Client::open_websocket(broker.addr, &Upgrade::offering(&["mqtt"])).await {
        Err(WsError::Http(response)) => assert_eq!(response.status(), 400),
        other => panic!("offering only other subprotocols must be refused, got {:?}", other.map(|(_, r)| r)),
    }
}

/// The status and text of a refused upgrade.
async fn refusal(addr: SocketAddr, upgrade: &Upgrade) -> (u16, String) {
    match Client::open_websocket(addr, upgrade).await {
        Err(WsError::Http(response)) => {
            let text = String::from_utf8(response.body().clone().unwrap_or_default()).unwrap();
            (response.status().as_u16(), text)
        }
        other => panic!("expected an HTTP error, got {:?}", other.map(|(_, r)| r)),
    }
}

#[tokio::test]
async fn a_wrong_path_and_a_foreign_origin_get_an_http_error() {
    let pki = TestPki::new();
    let mut listener = pki.listener(ListenerKind::Ws);
    listener.path = Some("/stomp".into());
    listener.allowed_origins = Some(vec!["https://chat.example".into()]);
    let broker = broker_with(vec![listener]).await;
    let at = |path: &str, origin: Option<&str>| Upgrade {
        path: path.into(),
        origin: origin.map(str::to_owned),
        ..Upgrade::default()
    };

    assert_eq!(refusal(broker.addr, &at("/other", None)).await, (404, "no STOMP endpoint at this path\n".into()));
    let foreign = at("/stomp", Some("https://evil.example"));
    assert_eq!(refusal(broker.addr, &foreign).await, (403, "origin not allowed\n".into()));

    // The listed origin, and a client that is not a browser (no Origin), are served.
    for upgrade in [at("/stomp", Some("https://chat.example")), at("/stomp", None)] {
        let (mut client, _) = Client::open_websocket(broker.addr, &upgrade).await.expect("upgrade");
        client.handshake(CONNECT).await;
        client.disconnect().await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_silent_handshake_holds_up_nobody_and_is_closed_at_the_connect_deadline() {
    let pki = TestPki::new();
    let listeners = vec![pki.listener(ListenerKind::Tls), pki.listener(ListenerKind::Ws)];
    let broker = start_with(move |c| {
        c.listen.clear();
        c.listener = listeners;
        c.limits.connect_timeout_ms = 150;
    })
    .await;
    let started = tokio::time::Instant::now();
    // Connected over TCP, never starting the TLS handshake or sending the upgrade request.
    let mut silent_tls = Client::open(broker.addrs[0]).await;
    let mut silent_ws = Client::open(broker.addrs[1]).await;

    let mut tls = connected(&pki, ListenerKind::Tls, broker.addrs[0]).await;
    let mut ws = connected(&pki, ListenerKind::Ws, broker.addrs[1]).await;
    tls.barrier().await;
    ws.barrier().await;
    assert_eq!(started.elapsed(), std::time::Duration::ZERO, "served while the silent ones wait");

    silent_tls.expect_closed().await;
    silent_ws.expect_closed().await;
    // Paused time: the deadline is exact.
    assert_eq!(started.elapsed(), std::time::Duration::from_millis(150));
    tls.barrier().await;
}

#[tokio::test]
async fn client_ca_requires_a_client_certificate_signed_by_it() {
    let pki = TestPki::new();
    let mut listener = pki.listener(ListenerKind::Tls);
    listener.client_ca = Some(pki.ca.clone());
    let broker = broker_with(vec![listener]).await;

    let mut with_certificate = Client::open_tls(broker.addr, pki.client_with_certificate()).await;
    with_certificate.handshake(CONNECT).await;
    with_certificate.disconnect().await;

    // TLS 1.3 finishes the client's side of the handshake before the server has checked the
    // client: the refusal shows as an alert (an error) or the end of the stream.
    if let Ok(mut stream) = wire::tls(broker.addr, pki.client()).await {
        let _ = stream.write_all(CONNECT.as_bytes()).await;
        let mut buf = [0u8; 64];
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => {}
            Ok(n) => panic!("a client without a certificate got an answer: {:?}", String::from_utf8_lossy(&buf[..n])),
        }
    }
}

/// The error of a configuration with these `[[listener]]` lines.
fn listener_error(lines: &str) -> String {
    match Config::from_toml_str(&format!("[[listener]]\n{lines}")) {
        Err(ConfigError::Invalid(text)) => text,
        other => panic!("expected an invalid configuration, got {other:?}"),
    }
}

#[test]
fn configuration_errors_name_the_listener_and_the_key() {
    let pki = TestPki::new();
    let tls = "kind = \"tls\"\naddress = \"127.0.0.1:0\"\nname = \"secure\"\n";
    let missing = listener_error(tls);
    assert!(missing.contains("listener \"secure\" (tls on 127.0.0.1:0)") && missing.contains("`cert`"), "{missing}");

    let cert = pki.cert.display();
    let nowhere = pki.path("nowhere.pem");
    let unreadable = listener_error(&format!("{tls}cert = \"{cert}\"\nkey = \"{}\"\n", nowhere.display()));
    assert!(unreadable.contains("`key`") && unreadable.contains("cannot read"), "{unreadable}");

    std::fs::write(pki.path("junk.pem"), "not a certificate").unwrap();
    let junk = pki.path("junk.pem");
    let no_cert = listener_error(&format!("{tls}cert = \"{}\"\nkey = \"{}\"\n", junk.display(), pki.key.display()));
    assert!(no_cert.contains("`cert`") && no_cert.contains("no certificate"), "{no_cert}");
    std::fs::write(pki.path("broken.pem"), "-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n").unwrap();
    let broken = pki.path("broken.pem");
    let bad_pem = listener_error(&format!("{tls}cert = \"{}\"\nkey = \"{}\"\n", broken.display(), pki.key.display()));
    assert!(bad_pem.contains("`cert`") && bad_pem.contains("not valid PEM"), "{bad_pem}");
    let no_key = listener_error(&format!("{tls}cert = \"{cert}\"\nkey = \"{cert}\"\n"));
    assert!(no_key.contains("`key`") && no_key.contains("no private key"), "{no_key}");

    let tcp = "kind = \"tcp\"\naddress = \"127.0.0.1:0\"\n";
    assert!(listener_error(&format!("{tcp}cert = \"{cert}\"\n")).contains("`cert` is only for tls and wss"));
    assert!(listener_error(&format!("{tcp}path = \"/stomp\"\n")).contains("`path` is only for ws and wss"));
    let ws = "kind = \"ws\"\naddress = \"127.0.0.1:0\"\n";
    assert!(listener_error(&format!("{ws}path = \"stomp\"\n")).contains("must start with `/`"));
}

#[tokio::test]
async fn certificate_paths_are_relative_to_the_configuration_file() {
    let pki = TestPki::new();
    let file = pki.path("stompbox.toml");
    std::fs::write(
        &file,
        "[[listener]]\nkind = \"wss\"\naddress = \"127.0.0.1:0\"\ncert = \"cert.pem\"\nkey = \"key.pem\"\n",
    )
    .unwrap();
    let config = Config::load(&file).expect("the files next to the configuration are found");
    let listener = &config.listeners()[0];
    assert_eq!(listener.cert.as_deref(), Some(pki.cert.as_path()));
    let listener = listener.clone();
    let broker = broker_with(vec![listener]).await;
    connected(&pki, ListenerKind::Wss, broker.addr).await.disconnect().await;
}

#[tokio::test]
async fn a_websocket_message_over_the_frame_limit_closes_the_connection() {
    let pki = TestPki::new();
    let listeners = vec![pki.listener(ListenerKind::Ws)];
    let broker = start_with(move |c| {
        c.listen.clear();
        c.listener = listeners;
        c.limits.max_frame_bytes = 4096;
    })
    .await;
    let mut client = connected(&pki, ListenerKind::Ws, broker.addr).await;
    let body = "x".repeat(8192);
    client.send_lossy(format!("SEND\ndestination:/topic/t\n\n{body}\0")).await;
    client.expect_closed().await;
    // The broker is unharmed.
    connected(&pki, ListenerKind::Ws, broker.addr).await.disconnect().await;
}
