//! STOMP through the console's `http` and `https` listeners, over real sockets: `/stomp` is
//! STOMP over WebSocket (`ws`, and `wss` behind the listener's TLS), checked like a `ws`
//! listener's upgrade; a session an operator closes gets an ERROR saying so, and the broker's
//! counters and closed-connection ring agree.

use stompbox_core::ErrorCode;
use stompbox_server::config::ListenerConfig;
use stompbox_server::listener::ListenerKind;
use stompbox_tests::pki::TestPki;
use stompbox_tests::wire::Upgrade;
use stompbox_tests::{body, start_with, Client, TestBroker};
use tokio_tungstenite::tungstenite::Error as WsError;

const CONNECT: &str = "CONNECT\naccept-version:1.2\nhost:localhost\n\n\0";

async fn broker_with(listeners: Vec<ListenerConfig>) -> TestBroker {
    start_with(move |c| {
        c.listen.clear();
        c.listener = listeners;
    })
    .await
}

/// An upgrade of `/stomp` as a page of the listener itself sends it (the test client names the
/// host `localhost`).
fn from_own_page(scheme: &str, broker: &TestBroker, index: usize) -> Upgrade {
    Upgrade {
        path: "/stomp".into(),
        protocols: vec!["v12.stomp".into()],
        origin: Some(format!("{scheme}://localhost:{}", broker.addrs[index].port())),
        tls: None,
    }
}

#[tokio::test]
async fn stomp_over_websocket_at_the_http_and_https_listeners() {
    let pki = TestPki::new();
    let broker = broker_with(vec![pki.listener(ListenerKind::Http), pki.listener(ListenerKind::Https)]).await;
    let (mut plain, response) = Client::open_websocket(broker.addrs[0], &from_own_page("http", &broker, 0))
        .await
        .expect("upgrade at the http listener");
    assert_eq!(response.headers()["sec-websocket-protocol"], "v12.stomp");
    plain.handshake(CONNECT).await;
    plain.subscribe("/topic/chat.general.demo", "0", "").await;
    let upgrade = Upgrade { tls: Some(pki.client()), ..from_own_page("https", &broker, 1) };
    let (mut secure, _) = Client::open_websocket(broker.addrs[1], &upgrade).await.expect("upgrade behind TLS");
    secure.handshake(CONNECT).await;
    secure.publish_sync("/topic/chat.general.demo", "over wss").await;
    assert_eq!(body(&plain.message().await), "over wss");
    let mut kinds: Vec<(String, String)> =
        broker.broker.connections().into_iter().map(|c| (c.listener, c.kind)).collect();
    kinds.sort();
    assert_eq!(kinds, [("http".into(), "ws".into()), ("https".into(), "wss".into())]);
}

#[tokio::test]
async fn stomp_refuses_other_origins_and_plain_requests() {
    let pki = TestPki::new();
    let broker = broker_with(vec![pki.listener(ListenerKind::Http)]).await;
    let foreign = Upgrade { origin: Some("https://evil.example".into()), ..from_own_page("http", &broker, 0) };
    let Err(WsError::Http(refused)) = Client::open_websocket(broker.addr, &foreign).await else {
        panic!("another site's page may not upgrade")
    };
    assert_eq!(refused.status(), 403);
    let unknown = Upgrade { protocols: vec!["mqtt".into()], ..from_own_page("http", &broker, 0) };
    let Err(WsError::Http(refused)) = Client::open_websocket(broker.addr, &unknown).await else {
        panic!("a subprotocol other than STOMP's is refused")
    };
    assert_eq!(refused.status(), 400);
    let scripted = Upgrade { origin: None, ..from_own_page("http", &broker, 0) };
    let (mut client, _) = Client::open_websocket(broker.addr, &scripted).await.expect("no Origin: not a page");
    client.handshake(CONNECT).await;
}

#[tokio::test]
async fn a_session_closed_by_an_operator_is_told_why() {
    let pki = TestPki::new();
    let broker = broker_with(vec![pki.listener(ListenerKind::Http)]).await;
    let (mut client, _) = Client::open_websocket(broker.addr, &from_own_page("http", &broker, 0)).await.unwrap();
    client.handshake(CONNECT).await;
    let id = broker.broker.connections()[0].id;
    assert!(broker.broker.close_connection(id));
    let error = client.expect_error_and_close("closed by an operator").await;
    assert_eq!(error.header("code"), Some(ErrorCode::Closed.as_str()));
    let snapshot = broker.broker.snapshot();
    assert!(snapshot.connections.is_empty());
    assert_eq!(snapshot.closed[0].kind, "closed-by-operator");
    assert_eq!(snapshot.stats.closes["closed-by-operator"], 1);
    assert!(snapshot.stats.bytes_in > 0 && snapshot.stats.bytes_out > 0, "the closed session's bytes are kept");
}
