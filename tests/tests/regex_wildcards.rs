//! Apollo's `{regex}` segments in topic subscriptions, beside `*` and `**`.

use stompbox_tests::{body, start};

#[tokio::test]
async fn a_regex_segment_matches_the_segments_its_regex_matches_whole() {
    let broker = start().await;
    let mut rooms = broker.connect12().await;
    rooms.subscribe("/topic/chat.{room[0-9]+}.demo", "0", "").await;
    let mut producer = broker.connect12().await;
    for topic in
        ["/topic/chat.room7.demo", "/topic/chat.lobby.demo", "/topic/chat.room7x.demo", "/topic/chat.room42.demo"]
    {
        producer.publish_sync(topic, topic).await;
    }
    assert_eq!(body(&rooms.message().await), "/topic/chat.room7.demo");
    assert_eq!(body(&rooms.message().await), "/topic/chat.room42.demo");
    rooms.barrier().await;

    // Unsubscribing removes it; braces in a SEND destination are plain characters.
    rooms.send("UNSUBSCRIBE\nid:0\n\n\0").await;
    rooms.subscribe("/topic/plain.*", "1", "").await;
    producer.publish_sync("/topic/plain.{x}", "braces").await;
    assert_eq!(body(&rooms.message().await), "braces");
    producer.publish_sync("/topic/chat.room7.demo", "gone").await;
    rooms.barrier().await;
}

#[tokio::test]
async fn a_regex_that_does_not_compile_or_is_too_large_gets_an_error() {
    let broker = start().await;
    let mut client = broker.connect12().await;
    client.send("SUBSCRIBE\ndestination:/topic/chat.{room(}\nid:0\n\n\0").await;
    let error = client.expect_error_and_close("invalid regex segment").await;
    assert_eq!(error.header("code"), Some("protocol-error"));
    let mut client = broker.connect12().await;
    client.send("SUBSCRIBE\ndestination:/topic/{a{1000}{1000}}\nid:0\n\n\0").await;
    client.expect_error_and_close("size limit").await;
}
