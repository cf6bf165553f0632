//! Persistence over real sockets and a real data directory: restarts, durable subscriptions in
//! the three dialects, the disk limit, and a torn last write.

use std::path::{Path, PathBuf};

use stompbox_core::broker::BrokerConfig;
use stompbox_core::store::{Recovered, Store};
use stompbox_core::Frame;
use stompbox_server::store::DiskStore;
use stompbox_tests::{body, start_with, Client, DataDir, TestBroker};

async fn start_on(dir: &DataDir, tweak: impl FnOnce(&mut stompbox_server::Config)) -> TestBroker {
    let path = dir.path().to_owned();
    start_with(move |config| {
        config.data_dir = Some(path);
        tweak(config);
    })
    .await
}

/// A persistent SEND, waiting for its RECEIPT (written only once the message is durable).
async fn send_persistent(client: &mut Client, destination: &str, text: &str) {
    let receipt = format!("p-{text}");
    client.send(format!("SEND\ndestination:{destination}\npersistent:true\nreceipt:{receipt}\n\n{text}\0")).await;
    client.expect_receipt(&receipt).await;
}

/// ACKs `message` with a receipt and waits for it (the removal is durable by then), setting
/// aside the MESSAGE frames that arrive meanwhile.
async fn ack(client: &mut Client, message: &Frame) -> Vec<Frame> {
    let id = message.header("ack").expect("an ack header");
    client.send(format!("ACK\nid:{id}\nreceipt:a-{id}\n\n\0")).await;
    let mut meanwhile = Vec::new();
    loop {
        let frame = client.frame().await;
        if frame.command == stompbox_core::Command::Receipt {
            assert_eq!(frame.header("receipt-id"), Some(format!("a-{id}").as_str()));
            return meanwhile;
        }
        meanwhile.push(frame);
    }
}

#[tokio::test]
async fn receipted_messages_survive_a_restart_and_acknowledged_ones_do_not() {
    let dir = DataDir::new();
    let broker = start_on(&dir, |_| {}).await;
    let mut producer = broker.connect12().await;
    for n in 0..50 {
        send_persistent(&mut producer, "/queue/orders", &n.to_string()).await;
    }
    producer.publish_sync("/queue/orders", "not persistent").await;
    let mut consumer = broker.connect12().await;
    consumer.subscribe("/queue/orders", "0", "ack:client-individual\nprefetch-count:1\n").await;
    let mut message = consumer.message().await;
    for n in 0..10 {
        assert_eq!(body(&message), n.to_string());
        let mut next = ack(&mut consumer, &message).await;
        message = match next.pop() {
            Some(next) => next,
            None => consumer.message().await,
        };
    }
    assert_eq!(body(&message), "10", "delivered, never acknowledged");
    broker.shutdown().await.unwrap();

    let broker = start_on(&dir, |_| {}).await;
    let mut consumer = broker.connect12().await;
    consumer.subscribe("/queue/orders", "0", "ack:client-individual\n").await;
    for n in 10..50 {
        let message = consumer.message().await;
        assert_eq!(body(&message), n.to_string(), "in order, none missing");
        assert_eq!(message.header("redelivered"), Some("true"));
    }
    consumer.barrier().await;
    assert!(consumer.try_frame(std::time::Duration::ZERO).await.is_none(), "none duplicated, none non-persistent");
    broker.shutdown().await.unwrap();
}

/// CONNECT headers, SUBSCRIBE headers and UNSUBSCRIBE headers of one dialect's durable
/// subscription, and the name it is stored under.
const DIALECTS: [(&str, &str, &str, &str); 3] = [
    ("", "persistent:true\n", "persistent:true\n", "/dsub/feed"),
    (
        "client-id:php-1\n",
        "activemq.subscriptionName:prices\n",
        "activemq.subscriptionName:prices\n",
        "/dsub/php-1.prices",
    ),
    ("", "durable:true\nauto-delete:false\n", "durable:true\nauto-delete:false\n", "/dsub/feed"),
];

#[tokio::test]
async fn a_durable_subscription_collects_while_away_and_across_a_restart_in_every_dialect() {
    for (connect, subscribe, delete, stored_as) in DIALECTS {
        let dir = DataDir::new();
        let broker = start_on(&dir, |_| {}).await;
        let connect = format!("CONNECT\naccept-version:1.2\nhost:localhost\n{connect}\n\0");
        let mut subscriber = broker.connect_with(&connect).await;
        subscriber.subscribe("/topic/prices.*", "feed", &format!("ack:client-individual\n{subscribe}")).await;
        subscriber.disconnect().await;
        let mut producer = broker.connect12().await;
        send_persistent(&mut producer, "/topic/prices.eu", "while away").await;
        broker.shutdown().await.unwrap();

        let broker = start_on(&dir, |_| {}).await;
        assert_eq!(broker.broker.queue_depth(stored_as), 1, "{stored_as}");
        let mut producer = broker.connect12().await;
        send_persistent(&mut producer, "/topic/prices.us", "after the restart").await;
        let mut subscriber = broker.connect_with(&connect).await;
        subscriber.subscribe("/topic/prices.*", "feed", &format!("ack:client-individual\n{subscribe}")).await;
        let first = subscriber.message().await;
        assert_eq!((body(&first), first.header("destination")), ("while away", Some("/topic/prices.eu")));
        let second = subscriber.message().await;
        assert_eq!(body(&second), "after the restart");
        ack(&mut subscriber, &first).await;
        ack(&mut subscriber, &second).await;
        subscriber.send(format!("UNSUBSCRIBE\nid:feed\n{delete}receipt:gone\n\n\0")).await;
        subscriber.expect_receipt("gone").await;
        broker.shutdown().await.unwrap();

        let broker = start_on(&dir, |_| {}).await;
        assert_eq!(broker.broker.topic_subscriptions(), 0, "deleted for good: {stored_as}");
        broker.shutdown().await.unwrap();
    }
}

#[tokio::test]
async fn a_durable_subscriptions_selector_survives_a_restart() {
    let dir = DataDir::new();
    let broker = start_on(&dir, |_| {}).await;
    let durably = "persistent:true\nselector:region = 'eu'\n";
    let mut subscriber = broker.connect12().await;
    subscriber.subscribe("/topic/prices", "feed", durably).await;
    subscriber.disconnect().await;
    broker.shutdown().await.unwrap();

    let broker = start_on(&dir, |_| {}).await;
    let mut producer = broker.connect12().await;
    for region in ["us", "eu"] {
        let send = format!(
            "SEND\ndestination:/topic/prices\npersistent:true\nregion:{region}\nreceipt:{region}\n\n{region}\0"
        );
        producer.send(send).await;
        producer.expect_receipt(region).await;
    }
    assert_eq!(broker.broker.queue_depth("/dsub/feed"), 1, "only what the selector selects");
    let mut subscriber = broker.connect12().await;
    subscriber.subscribe("/topic/prices", "feed", durably).await;
    assert_eq!(body(&subscriber.message().await), "eu");
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_full_store_refuses_persistent_sends_with_an_error_and_loses_nothing() {
    let dir = DataDir::new();
    // Whatever an empty store takes, and room for a few of these messages.
    let empty = {
        let broker = start_on(&dir, |_| {}).await;
        let bytes = broker.broker.store().expect("a store").snapshot().disk_bytes;
        broker.shutdown().await.unwrap();
        bytes
    };
    let broker = start_on(&dir, |config| config.store.max_disk_bytes = empty + 2 * 1024 * 1024).await;
    let mut producer = broker.connect12().await;
    let mut receipted = Vec::new();
    let error = loop {
        let n = receipted.len();
        let text = format!("{n}{}", ".".repeat(512 * 1024));
        producer.send(format!("SEND\ndestination:/queue/big\npersistent:true\nreceipt:r{n}\n\n{text}\0")).await;
        let frame = producer.frame().await;
        if frame.command == stompbox_core::Command::Error {
            break frame;
        }
        assert_eq!(frame.header("receipt-id"), Some(format!("r{n}").as_str()));
        receipted.push(text);
        assert!(receipted.len() < 500, "the limit was never reached");
    };
    assert_eq!(error.header("code"), Some("limit-exceeded"));
    assert!(error.header("message").unwrap().contains("store is full"), "{error:?}");
    let mut plain = broker.connect12().await;
    plain.publish_sync("/queue/other", "memory only still works").await;
    broker.shutdown().await.unwrap();

    let broker = start_on(&dir, |_| {}).await;
    let mut consumer = broker.connect12().await;
    consumer.subscribe("/queue/big", "0", "").await;
    for text in &receipted {
        assert!(body(&consumer.message().await) == text, "every receipted message, in order");
    }
    broker.shutdown().await.unwrap();
}

/// The newest journal segment of a data directory, and its length.
fn newest_journal(dir: &Path) -> (PathBuf, usize) {
    let segments = std::fs::read_dir(dir.join("journal")).expect("a journal folder");
    let newest = segments.map(|entry| entry.expect("readable").path()).max().expect("a segment");
    let length = std::fs::metadata(&newest).expect("readable segment").len() as usize;
    (newest, length)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        match entry.file_type().unwrap().is_dir() {
            true => copy_dir(&entry.path(), &target),
            false => drop(std::fs::copy(entry.path(), target).unwrap()),
        }
    }
}

/// The bodies a copy of the data directory reads back, queue by queue in order.
fn read_back(dir: &Path) -> Vec<String> {
    let disk = DiskStore::open(dir).expect("a torn journal still opens");
    let store = Store::open(Box::new(disk), BrokerConfig::default().store);
    let mut bodies = Vec::new();
    store
        .recover(&mut |item| {
            if let Recovered::Message(_, _, message) = item {
                bodies.push(String::from_utf8(message.body.to_vec()).unwrap());
            }
        })
        .expect("every record reads");
    store.close();
    bodies
}

#[tokio::test]
async fn a_torn_last_write_recovers_to_a_prefix_of_what_was_written() {
    let dir = DataDir::new();
    let broker = start_on(&dir, |_| {}).await;
    let mut producer = broker.connect12().await;
    let sent: Vec<String> = (0..200).map(|n| format!("message {n}")).collect();
    for text in &sent {
        send_persistent(&mut producer, "/queue/torn", text).await;
    }
    // A crash image: everything receipted is synced to the journal.
    let image = DataDir::new();
    copy_dir(dir.path(), image.path());
    broker.shutdown().await.unwrap();
    assert_eq!(read_back(image.path()), sent, "the untorn image holds everything receipted");

    let (journal, end) = newest_journal(image.path());
    let relative = journal.strip_prefix(image.path()).unwrap().to_owned();
    // Cut points spread over the whole journal, a fixed pseudo-random walk (no flaky seeds).
    let mut cut = 7usize;
    let mut torn_within = 0;
    for _ in 0..12 {
        cut = (cut * 7919 + 104_729) % end.max(1);
        let torn = DataDir::new();
        copy_dir(image.path(), torn.path());
        let file = std::fs::OpenOptions::new().write(true).open(torn.path().join(&relative)).unwrap();
        file.set_len(cut as u64).unwrap();
        drop(file);
        let recovered = read_back(torn.path());
        assert_eq!(recovered, sent[..recovered.len()], "cut at {cut} of {end}: a prefix, in order");
        torn_within += usize::from(!recovered.is_empty() && recovered.len() < sent.len());
    }
    assert!(torn_within > 0, "some cuts fell among the messages");
}

#[tokio::test]
async fn disconnect_waits_for_the_receipts_held_for_the_store() {
    let dir = DataDir::new();
    let broker = start_on(&dir, |_| {}).await;
    let mut producer = broker.connect12().await;
    let sends: String =
        (0..100).map(|n| format!("SEND\ndestination:/queue/last\npersistent:true\nreceipt:s{n}\n\n{n}\0")).collect();
    producer.send(format!("{sends}DISCONNECT\nreceipt:bye\n\n\0")).await;
    for n in 0..100 {
        producer.expect_receipt(&format!("s{n}")).await;
    }
    producer.expect_receipt("bye").await;
    producer.expect_closed().await;
    broker.shutdown().await.unwrap();
    let broker = start_on(&dir, |_| {}).await;
    assert_eq!(broker.broker.queue_depth("/queue/last"), 100);
    broker.shutdown().await.unwrap();
}
