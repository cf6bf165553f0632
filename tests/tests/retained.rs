//! Retained messages (Apollo's `retain:set` / `retain:remove`): a topic keeps its last retained
//! message for each new subscription, across a restart when it was sent `persistent:true`.

use stompbox_tests::{body, start, start_with, Client, DataDir, TestBroker};

async fn start_on(dir: &DataDir) -> TestBroker {
    let path = dir.path().to_owned();
    start_with(move |config| config.data_dir = Some(path)).await
}

/// SEND with `retain` (and more raw header lines), waiting for its RECEIPT.
async fn retain(client: &mut Client, destination: &str, retain: &str, extra: &str, text: &str) {
    client.send(format!("SEND\ndestination:{destination}\nretain:{retain}\n{extra}receipt:{text}\n\n{text}\0")).await;
    client.expect_receipt(text).await;
}

#[tokio::test]
async fn a_new_subscriber_gets_the_last_retained_message_until_it_is_removed() {
    let broker = start().await;
    let mut present = broker.connect12().await;
    present.subscribe("/topic/room.lobby", "0", "").await;
    let mut admin = broker.connect12().await;
    retain(&mut admin, "/topic/room.lobby", "set", "sticky:true\n", "welcome").await;
    retain(&mut admin, "/topic/room.lobby", "set", "sticky:true\n", "welcome, again").await;
    admin.publish_sync("/topic/room.lobby", "chatter").await;
    for expected in ["welcome", "welcome, again", "chatter"] {
        assert_eq!(body(&present.message().await), expected, "retained messages are delivered as usual too");
    }

    let mut newcomer = broker.connect12().await;
    newcomer.subscribe("/topic/room.lobby", "0", "").await;
    let pinned = newcomer.message().await;
    assert_eq!(body(&pinned), "welcome, again", "only the last one, on subscribing");
    assert_eq!(pinned.header("sticky"), Some("true"));
    assert_eq!(pinned.header("subscription"), Some("0"));
    newcomer.barrier().await;

    // A wildcard subscription gets the retained message of each topic it matches.
    retain(&mut admin, "/topic/room.kitchen", "set", "", "dinner at 8").await;
    let mut everywhere = broker.connect12().await;
    everywhere.subscribe("/topic/room.*", "all", "").await;
    let mut bodies = vec![body(&everywhere.message().await).to_owned(), body(&everywhere.message().await).to_owned()];
    bodies.sort();
    assert_eq!(bodies, ["dinner at 8", "welcome, again"]);
    everywhere.barrier().await;

    retain(&mut admin, "/topic/room.lobby", "remove", "", "unpinned").await;
    let mut late = broker.connect12().await;
    late.subscribe("/topic/room.lobby", "0", "").await;
    late.barrier().await;
}

#[tokio::test]
async fn a_selector_and_expiry_apply_to_the_retained_message() {
    let broker = start().await;
    let mut admin = broker.connect12().await;
    retain(&mut admin, "/topic/prices", "set", "symbol:IBM\n", "112.12").await;
    retain(&mut admin, "/topic/stale", "set", "expires:1\n", "long gone").await;

    let mut other = broker.connect12().await;
    other.subscribe("/topic/prices", "0", "selector:symbol = 'AAPL'\n").await;
    other.subscribe("/topic/stale", "1", "").await;
    other.barrier().await;
    let mut ibm = broker.connect12().await;
    ibm.subscribe("/topic/prices", "0", "selector:symbol = 'IBM'\n").await;
    assert_eq!(body(&ibm.message().await), "112.12");
}

#[tokio::test]
async fn a_persistent_retained_message_survives_a_restart() {
    let dir = DataDir::new();
    let broker = start_on(&dir).await;
    let mut admin = broker.connect12().await;
    retain(&mut admin, "/topic/kept", "set", "persistent:true\n", "first").await;
    retain(&mut admin, "/topic/kept", "set", "persistent:true\n", "second").await;
    retain(&mut admin, "/topic/forgotten", "set", "", "in memory only").await;
    retain(&mut admin, "/topic/removed", "set", "persistent:true\n", "pinned").await;
    retain(&mut admin, "/topic/removed", "remove", "", "unpinned").await;
    broker.shutdown().await.unwrap();

    let broker = start_on(&dir).await;
    let mut subscriber = broker.connect12().await;
    subscriber.subscribe("/topic/kept", "0", "").await;
    let kept = subscriber.message().await;
    assert_eq!(body(&kept), "second");
    assert_eq!(kept.header("destination"), Some("/topic/kept"));
    subscriber.subscribe("/topic/forgotten", "1", "").await;
    subscriber.subscribe("/topic/removed", "2", "").await;
    subscriber.barrier().await;

    // Removed now, it stays removed after the next restart.
    let mut admin = broker.connect12().await;
    retain(&mut admin, "/topic/kept", "remove", "", "gone").await;
    broker.shutdown().await.unwrap();
    let broker = start_on(&dir).await;
    let mut subscriber = broker.connect12().await;
    subscriber.subscribe("/topic/kept", "0", "").await;
    subscriber.barrier().await;
    broker.shutdown().await.unwrap();
}
