//! The seams later features hook into, seen from a real socket: authentication runs off the
//! runtime, listeners have names, and the snapshot shows connections, destinations and why
//! connections closed.

use std::sync::mpsc;

use parking_lot::Mutex;
use stompbox_core::auth::{AuthError, Authenticator, GuestOnly, Login, Principal};
use stompbox_server::config::ListenerConfig;
use stompbox_tests::{body, start, start_with, start_with_engine, TIMEOUT};

/// Admits what [`GuestOnly`] admits, but a login as `slow` waits until the test releases it.
#[derive(Debug)]
struct Gate {
    release: Mutex<mpsc::Receiver<()>>,
}

impl Authenticator for Gate {
    fn authenticate(&self, login: &Login) -> Result<Principal, AuthError> {
        if login.login.as_deref() == Some("slow") {
            let _ = self.release.lock().recv();
            return Ok(Principal::user("slow", login.connector.clone()));
        }
        GuestOnly.authenticate(login)
    }
}

#[tokio::test]
async fn a_slow_authentication_does_not_hold_up_other_connections() {
    let (release, released) = mpsc::channel();
    let gate = Gate { release: Mutex::new(released) };
    // `#[tokio::test]` runs everything on one thread: were the check run on it, nothing else
    // could happen until it returned.
    let broker = start_with_engine(|_| {}, |engine| engine.authenticator = std::sync::Arc::new(gate)).await;
    let mut slow = broker.client().await;
    slow.send("CONNECT\naccept-version:1.2\nhost:localhost\nlogin:slow\npasscode:x\n\n\0").await;
    let mut other = broker.connect12().await;
    other.subscribe("/topic/t", "0", "").await;
    other.publish_sync("/topic/t", "meanwhile").await;
    assert_eq!(body(&other.message().await), "meanwhile");
    release.send(()).expect("the check is waiting");
    let connected = slow.expect(stompbox_core::Command::Connected).await;
    assert_eq!(connected.header("version"), Some("1.2"));
}

#[tokio::test]
async fn the_snapshot_shows_peers_listeners_traffic_and_destinations() {
    let broker = start_with(|c| {
        c.listen.clear();
        c.listener.push(ListenerConfig {
            name: Some("internal".into()),
            ..ListenerConfig::tcp("127.0.0.1:0".parse().unwrap())
        });
    })
    .await;
    let mut sub = broker.connect12().await;
    sub.subscribe("/topic/chat.general", "0", "").await;
    let mut producer = broker.connect_with("CONNECT\naccept-version:1.1\nlogin:guest\npasscode:guest\n\n\0").await;
    producer.publish_sync("/topic/chat.general", "hello").await;
    sub.message().await;
    let snapshot = broker.broker.snapshot();
    assert_eq!(snapshot.connections.len(), 2);
    for connection in &snapshot.connections {
        assert_eq!((connection.listener.as_str(), connection.kind.as_str()), ("internal", "tcp"));
        assert!(connection.peer.as_deref().is_some_and(|peer| peer.starts_with("127.0.0.1:")), "{connection:?}");
        assert!(connection.bytes_in > 0 && connection.bytes_out > 0, "{connection:?}");
    }
    let producer_row = snapshot.connections.iter().find(|c| c.version == Some("1.1")).unwrap();
    assert_eq!((producer_row.user.as_deref(), producer_row.messages_in), (Some("guest"), 1));
    let sub_row = snapshot.connections.iter().find(|c| c.version == Some("1.2")).unwrap();
    assert_eq!(sub_row.messages_out, 1);
    let topic = &snapshot.destinations[0];
    assert_eq!((topic.destination.as_str(), topic.producers, topic.consumers), ("/topic/chat.general", 1, 1));
    assert_eq!((topic.enqueued, topic.dequeued), (1, 1));
}

#[tokio::test]
async fn closed_connections_are_kept_with_a_typed_reason() {
    let broker = start().await;
    let client = broker.connect12().await;
    client.disconnect().await;
    let mut rude = broker.connect12().await;
    rude.send("FROB\n\n\0").await;
    rude.expect_error_and_close("unknown command").await;
    // The session is finished just after the socket closes: let its task run until it has.
    let finished = async {
        loop {
            let snapshot = broker.broker.snapshot();
            if snapshot.closed.len() == 2 {
                return snapshot;
            }
            tokio::task::yield_now().await;
        }
    };
    let snapshot = tokio::time::timeout(TIMEOUT, finished).await.expect("both sessions finish");
    let kinds: Vec<_> = snapshot.closed.iter().map(|c| c.kind).collect();
    assert_eq!(kinds, ["disconnect", "protocol-error"]);
    assert_eq!(snapshot.stats.closes["disconnect"], 1);
    assert_eq!(snapshot.stats.closes["protocol-error"], 1);
    assert!(snapshot.closed[1].reason.contains("unknown command"), "{:?}", snapshot.closed[1].reason);
}
