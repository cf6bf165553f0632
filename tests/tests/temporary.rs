//! Temporary destinations (`/temp-queue/NAME`, `/temp-topic/NAME`): private to their connection,
//! deleted when it closes; `reply-to` naming one is rewritten so others can reply.

use std::time::Duration;

use stompbox_tests::{body, start, TIMEOUT};

#[tokio::test]
async fn request_and_reply_through_a_temporary_queue() {
    let broker = start().await;
    let mut service = broker.connect12().await;
    service.subscribe("/queue/requests", "0", "").await;
    let mut client = broker.connect12().await;
    client.subscribe("/temp-queue/replies", "r", "").await;
    client
        .send("SEND\ndestination:/queue/requests\nreply-to:/temp-queue/replies\nreceipt:q\n\nwhat time is it?\0")
        .await;
    client.expect_receipt("q").await;

    let request = service.message().await;
    let reply_to = request.header("reply-to").expect("reply-to").to_owned();
    assert!(reply_to.starts_with("/queue/temp.") && reply_to.ends_with(".replies"), "{reply_to}");
    service.publish_sync(&reply_to, "noon").await;
    let reply = client.message().await;
    assert_eq!((body(&reply), reply.header("subscription")), ("noon", Some("r")));

    // The client itself may send to its temporary queue by either name.
    client.publish_sync("/temp-queue/replies", "to myself").await;
    assert_eq!(body(&client.message().await), "to myself");

    // Nobody else may consume from it.
    let mut snoop = broker.connect12().await;
    snoop.send(format!("SUBSCRIBE\ndestination:{reply_to}\nid:0\n\n\0")).await;
    let error = snoop.expect_error_and_close("another connection's temporary destination").await;
    assert_eq!(error.header("code"), Some("access-denied"));

    // Closing deletes it (once the connection task has dropped the session).
    let deleted = broker.broker.stats().queues_deleted;
    client.disconnect().await;
    let gone = async {
        while broker.broker.stats().queues_deleted == deleted {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    tokio::time::timeout(TIMEOUT, gone).await.expect("the temporary queue is deleted");
    assert_eq!(broker.broker.stats().queues_deleted, deleted + 1);
    assert!(broker.broker.snapshot().destinations.iter().all(|d| d.destination != reply_to));
}

#[tokio::test]
async fn a_temporary_topic_is_the_connection_s_own() {
    let broker = start().await;
    let mut client = broker.connect12().await;
    client.subscribe("/temp-topic/events", "e", "").await;
    client.send("SEND\ndestination:/queue/jobs\nreply-to:/temp-topic/events\nreceipt:s\n\nstart\0").await;
    client.expect_receipt("s").await;

    let mut everything = broker.connect12().await;
    everything.subscribe("/topic/**", "all", "").await;
    let mut worker = broker.connect12().await;
    worker.subscribe("/queue/jobs", "0", "").await;
    let job = worker.message().await;
    let events = job.header("reply-to").unwrap().to_owned();
    assert!(events.starts_with("/topic/temp."), "{events}");
    worker.publish_sync(&events, "progress 50%").await;
    assert_eq!(body(&client.message().await), "progress 50%");
    everything.publish_sync("/topic/public", "public").await;
    assert_eq!(body(&everything.message().await), "public", "a wildcard gets no other connection's temporary topic");
    worker.send(format!("SUBSCRIBE\ndestination:{events}\nid:1\n\n\0")).await;
    worker.expect_error_and_close("another connection's temporary destination").await;

    // Two connections' temporary destinations of the same name are different destinations.
    let mut other = broker.connect12().await;
    other.subscribe("/temp-topic/events", "e", "").await;
    other.publish_sync("/temp-topic/events", "mine only").await;
    assert_eq!(body(&other.message().await), "mine only");
    client.barrier().await;
}
