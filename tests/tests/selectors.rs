//! SUBSCRIBE's `selector`: topics deliver only what a subscription selects, queues hand each
//! message to a consumer whose selector selects it, and a selector that does not parse gets an
//! ERROR naming the position.

use stompbox_tests::{body, start, start_with};

#[tokio::test]
async fn a_topic_subscription_gets_only_what_its_selector_selects() {
    let broker = start().await;
    let mut europe = broker.connect12().await;
    europe.subscribe("/topic/weather", "eu", "selector:region = 'eu' AND priority > 3\n").await;
    let mut everyone = broker.connect12().await;
    everyone.subscribe("/topic/weather", "all", "").await;

    let mut producer = broker.connect12().await;
    for (region, priority, text) in [("eu", "9", "storm"), ("us", "9", "heat"), ("eu", "1", "drizzle")] {
        producer
            .send(format!("SEND\ndestination:/topic/weather\nregion:{region}\npriority:{priority}\n\n{text}\0"))
            .await;
    }
    producer.publish_sync("/topic/weather", "no headers").await;

    for expected in ["storm", "heat", "drizzle", "no headers"] {
        assert_eq!(body(&everyone.message().await), expected);
    }
    let selected = europe.message().await;
    assert_eq!(body(&selected), "storm");
    assert_eq!(selected.header("subscription"), Some("eu"));
    europe.barrier().await;
}

#[tokio::test]
async fn activemq_jms_names_select_the_headers_that_carry_them() {
    let broker = start().await;
    let mut consumer = broker.connect12().await;
    consumer.subscribe("/topic/jms", "0", "selector:JMSPriority >= 7 AND JMSType LIKE 'order.%'\n").await;
    let mut producer = broker.connect12().await;
    producer.send("SEND\ndestination:/topic/jms\npriority:4\ntype:order.new\n\nlow\0").await;
    producer.send("SEND\ndestination:/topic/jms\npriority:8\ntype:invoice\n\nother\0").await;
    producer.send("SEND\ndestination:/topic/jms\npriority:8\ntype:order.new\nreceipt:r\n\nurgent\0").await;
    producer.expect_receipt("r").await;
    assert_eq!(body(&consumer.message().await), "urgent");
    consumer.barrier().await;
}

#[tokio::test]
async fn a_queue_message_goes_to_a_consumer_that_selects_it_and_waits_for_one() {
    let broker = start().await;
    let mut apples = broker.connect12().await;
    apples.subscribe("/queue/fruit", "a", "selector:kind = 'apple'\n").await;
    let mut pears = broker.connect12().await;
    pears.subscribe("/queue/fruit", "p", "selector:kind = 'pear'\n").await;

    let mut producer = broker.connect12().await;
    for (kind, text) in [("plum", "plum 1"), ("pear", "pear 1"), ("apple", "apple 1"), ("pear", "pear 2")] {
        producer.send(format!("SEND\ndestination:/queue/fruit\nkind:{kind}\n\n{text}\0")).await;
    }
    producer.publish_sync("/topic/flush", "").await;

    // The plum at the front, selected by nobody, does not hold the others back.
    assert_eq!(body(&apples.message().await), "apple 1");
    assert_eq!(body(&pears.message().await), "pear 1");
    assert_eq!(body(&pears.message().await), "pear 2");
    apples.barrier().await;
    pears.barrier().await;
    assert_eq!(broker.broker.queue_depth("/queue/fruit"), 1, "the plum waits");

    let mut plums = broker.connect12().await;
    plums.subscribe("/queue/fruit", "pl", "selector:kind IN ('plum', 'cherry')\n").await;
    assert_eq!(body(&plums.message().await), "plum 1");
}

#[tokio::test]
async fn a_full_consumer_leaves_its_messages_to_another_that_selects_them() {
    let broker = start().await;
    let mut slow = broker.connect12().await;
    slow.subscribe("/queue/jobs", "s", "ack:client-individual\nprefetch-count:1\nselector:size = 'big'\n").await;
    let mut any = broker.connect12().await;
    any.subscribe("/queue/jobs", "a", "ack:client-individual\nprefetch-count:1\nselector:size IS NOT NULL\n").await;

    let mut producer = broker.connect12().await;
    for i in 0..3 {
        producer.send(format!("SEND\ndestination:/queue/jobs\nsize:big\n\nbig {i}\0")).await;
    }
    producer.publish_sync("/topic/flush", "").await;
    let first = slow.message().await;
    let second = any.message().await;
    assert_eq!((body(&first), body(&second)), ("big 0", "big 1"));
    slow.barrier().await;

    // Acknowledging makes room: the next message goes to the consumer that has it.
    let ack = second.header("ack").expect("1.2 client ack").to_owned();
    any.send(format!("ACK\nid:{ack}\n\n\0")).await;
    assert_eq!(body(&any.message().await), "big 2");
}

#[tokio::test]
async fn a_selector_that_does_not_parse_gets_an_error_naming_the_position() {
    let broker = start().await;
    let mut client = broker.connect12().await;
    client.send("SUBSCRIBE\ndestination:/topic/t\nid:0\nselector:priority > \nreceipt:r\n\n\0").await;
    let error = client.expect_error_and_close("invalid selector at position 12").await;
    assert_eq!(error.header("code"), Some("protocol-error"));
    assert_eq!(error.header("receipt-id"), Some("r"));

    let mut client = broker.connect12().await;
    client.send("SUBSCRIBE\ndestination:/queue/q\nid:0\nselector:region = 'eu' AND LIKE\n\n\0").await;
    client.expect_error_and_close("invalid selector at position 19: expected a value or a header name").await;
}

#[tokio::test]
async fn nesting_deeper_than_the_limit_is_refused() {
    let broker = start_with(|c| c.limits.max_selector_depth = 3).await;
    let mut client = broker.connect12().await;
    client.subscribe("/topic/t", "ok", "selector:((NOT a = 1))\n").await;
    client.send("SUBSCRIBE\ndestination:/topic/t\nid:deep\nselector:((((a = 1))))\n\n\0").await;
    let error = client.expect_error_and_close("nested at most 3 deep").await;
    assert!(error.header("message").unwrap().contains("position 4"), "{:?}", error.header("message"));
}

#[tokio::test]
async fn a_durable_subscription_collects_only_what_its_selector_selects() {
    let broker = start().await;
    let mut subscriber = broker.connect12().await;
    subscriber.subscribe("/topic/news", "sport", "persistent:true\nselector:section = 'sport'\n").await;
    subscriber.disconnect().await;

    let mut producer = broker.connect12().await;
    producer.send("SEND\ndestination:/topic/news\nsection:politics\n\nvote\0").await;
    producer.send("SEND\ndestination:/topic/news\nsection:sport\nreceipt:r\n\ngoal\0").await;
    producer.expect_receipt("r").await;
    assert_eq!(broker.broker.queue_depth("/dsub/sport"), 1);

    let mut subscriber = broker.connect12().await;
    subscriber.subscribe("/topic/news", "sport", "persistent:true\nselector:section = 'sport'\n").await;
    assert_eq!(body(&subscriber.message().await), "goal");
    subscriber.barrier().await;
}
