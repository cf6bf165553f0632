//! Graceful shutdown: completing the shutdown future sends every connection an ERROR, closes
//! it, and makes `serve` return.

use std::time::Duration;

use stompbox_tests::{start, TIMEOUT};

#[tokio::test]
async fn connected_clients_get_an_error_and_eof_and_serve_returns() {
    let broker = start().await;
    let addr = broker.addr;
    let mut v10 = broker.connect10().await;
    let mut v12 = broker.connect12().await;
    v12.subscribe("/queue/work", "0", "ack:client\n").await;
    let mut not_connected = broker.client().await;
    not_connected.send("CONN").await;

    let started = tokio::time::Instant::now();
    broker.shutdown().await.expect("serve() returns Ok");
    assert!(started.elapsed() < TIMEOUT, "shutdown took {:?}", started.elapsed());

    for client in [&mut v10, &mut v12] {
        client.expect_error_and_close("shutting down").await;
    }
    not_connected.expect_error_and_close("shutting down").await;

    // Nothing listens any more.
    let refused = tokio::time::timeout(Duration::from_secs(1), tokio::net::TcpStream::connect(addr)).await;
    assert!(matches!(refused, Ok(Err(_))), "the listener is closed: {refused:?}");
}

#[tokio::test]
async fn shutdown_with_no_connections_returns_at_once() {
    let broker = start().await;
    let started = tokio::time::Instant::now();
    broker.shutdown().await.expect("serve() returns Ok");
    assert!(started.elapsed() < Duration::from_secs(1));
}
