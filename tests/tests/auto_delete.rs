//! Auto-delete (Apollo's `auto_delete_after`): topics and queues with no producer, consumer,
//! retained or waiting message are deleted after `limits.auto_delete_after_ms`, counted.

use std::time::Duration;

use stompbox_core::broker::Snapshot;
use stompbox_tests::{start_with, TestBroker};

/// Waits (in paused time, bounded) until the broker's snapshot satisfies `test`.
async fn until(broker: &TestBroker, what: &str, test: impl Fn(&Snapshot) -> bool) {
    let waited = tokio::time::timeout(Duration::from_secs(120), async {
        while !test(&broker.broker.snapshot()) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    waited.await.unwrap_or_else(|_| panic!("timed out waiting for {what}"));
}

fn names(broker: &TestBroker) -> Vec<String> {
    let mut names: Vec<_> = broker.broker.snapshot().destinations.into_iter().map(|d| d.destination).collect();
    names.sort();
    names
}

#[tokio::test(start_paused = true)]
async fn unused_topics_are_deleted_and_used_ones_kept() {
    let broker = start_with(|c| c.limits.auto_delete_after_ms = 30_000).await;
    let mut room = broker.connect12().await;
    room.subscribe("/topic/room.busy", "0", "").await;
    let mut visitor = broker.connect12().await;
    for i in 0..5 {
        visitor.publish_sync(&format!("/topic/room.{i}"), "hello").await;
    }
    visitor.send("SEND\ndestination:/topic/room.pinned\nretain:set\nreceipt:p\n\nrules\0").await;
    visitor.expect_receipt("p").await;
    visitor.disconnect().await;

    until(&broker, "the unused topics to be deleted", |s| s.stats.topics_deleted == 5).await;
    assert_eq!(names(&broker), ["/topic/room.busy", "/topic/room.pinned"], "subscribed and retained ones stay");
}

#[tokio::test(start_paused = true)]
async fn the_older_queue_key_still_sets_the_queues_grace() {
    let broker = start_with(|c| {
        c.limits.auto_delete_after_ms = 3_600_000;
        c.queues.delete_unused_after_ms = Some(1_000);
    })
    .await;
    let mut client = broker.connect12().await;
    client.subscribe("/queue/short-lived", "0", "").await;
    client.publish_sync("/topic/long-lived", "x").await;
    client.disconnect().await;
    until(&broker, "the queue to be deleted", |s| s.stats.queues_deleted == 1).await;
    assert_eq!(broker.broker.stats().topics_deleted, 0);
    assert_eq!(names(&broker), ["/topic/long-lived"]);
}
