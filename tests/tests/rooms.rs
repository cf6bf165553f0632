//! Rooms: one topic, many subscribers over real sockets, members coming and going during the
//! fan-out. Nobody else misses, repeats or waits for a message because of them (counts only).

use stompbox_core::Command;
use stompbox_tests::{body, describe, start, Client};

const ROOM: &str = "/topic/room";
const MEMBERS: usize = 200;
const MESSAGES: u64 = 300;

/// Reads MESSAGEs up to the RECEIPT `receipt`, returning their numbered bodies in order.
async fn numbers_until(client: &mut Client, receipt: &str) -> Vec<u64> {
    let mut numbers = Vec::new();
    loop {
        let frame = client.frame().await;
        match frame.command {
            Command::Message => numbers.push(body(&frame).parse().expect("a numbered body")),
            Command::Receipt if frame.header("receipt-id") == Some(receipt) => return numbers,
            _ => panic!("expected MESSAGE or RECEIPT {receipt}, got {}", describe(&frame)),
        }
    }
}

#[tokio::test]
async fn members_coming_and_going_neither_stall_nor_cost_the_others_a_message() {
    let broker = start().await;
    let mut room = Vec::with_capacity(MEMBERS);
    for i in 0..MEMBERS {
        let mut member = broker.connect12().await;
        member.subscribe(ROOM, &format!("m{i}"), "").await;
        room.push(member);
    }
    // Leaves halfway through; joins halfway through.
    let mut leaver = broker.connect12().await;
    leaver.subscribe(ROOM, "leaver", "").await;
    let mut joiner = broker.connect12().await;

    // One more connection subscribes and unsubscribes over and over while the room is published to.
    let mut churner = broker.connect12().await;
    let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
    let churn = tokio::spawn(async move {
        let mut runs = Vec::new();
        for round in 0.. {
            churner.subscribe(ROOM, "churn", "").await;
            churner.send(format!("UNSUBSCRIBE\nid:churn\nreceipt:out-{round}\n\n\0")).await;
            runs.push(numbers_until(&mut churner, &format!("out-{round}")).await);
            if stopped.try_recv().is_ok() {
                break;
            }
        }
        runs
    });

    let mut publisher = broker.connect12().await;
    for n in 0..MESSAGES / 2 {
        publisher.publish(ROOM, &n.to_string()).await;
    }
    publisher.publish_sync(ROOM, &(MESSAGES / 2).to_string()).await;
    leaver.send("UNSUBSCRIBE\nid:leaver\nreceipt:left\n\n\0").await;
    joiner.subscribe(ROOM, "joiner", "").await;
    let left = numbers_until(&mut leaver, "left").await;
    for n in MESSAGES / 2 + 1..MESSAGES - 1 {
        publisher.publish(ROOM, &n.to_string()).await;
    }
    publisher.publish_sync(ROOM, &(MESSAGES - 1).to_string()).await;
    stop.send(()).expect("the churner runs until told");
    let runs = churn.await.expect("the churner ends");

    let all: Vec<u64> = (0..MESSAGES).collect();
    assert_eq!(left, all[..=MESSAGES as usize / 2], "the leaver gets exactly what came before it left");
    for (i, member) in room.iter_mut().enumerate() {
        let mut got = Vec::with_capacity(MESSAGES as usize);
        for _ in 0..MESSAGES {
            let message = member.message().await;
            assert_eq!(message.header("subscription"), Some(format!("m{i}").as_str()));
            got.push(body(&message).parse::<u64>().expect("a numbered body"));
        }
        assert_eq!(got, all, "member {i} missed, repeated or reordered a message");
    }
    let mut joined = Vec::new();
    while joined.last() != Some(&(MESSAGES - 1)) {
        joined.push(body(&joiner.message().await).parse::<u64>().expect("a numbered body"));
    }
    assert_eq!(joined, all[MESSAGES as usize / 2 + 1..], "the joiner gets exactly what came after it joined");
    assert!(!runs.is_empty());
    for run in runs {
        assert!(run.windows(2).all(|w| w[1] == w[0] + 1), "a churned subscription's messages have a gap: {run:?}");
    }
}
