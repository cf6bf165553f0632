//! A room: one topic, many subscribers by name, members coming and going while it is published
//! to. Nobody misses or repeats a message, and a member gets exactly what was published while
//! it was subscribed.

use super::*;

const ROOM: &str = "/topic/room";

/// `count` clients subscribed to the room by name, ids `s0`, `s1`, ...
fn members(broker: &Broker, count: usize) -> Vec<Client> {
    (0..count)
        .map(|i| {
            let mut c = Client::connect(broker, "1.2");
            c.ok(Command::Subscribe, &[("id", &format!("s{i}")), ("destination", ROOM)]);
            c
        })
        .collect()
}

fn numbers(bodies: &[String]) -> Vec<u64> {
    bodies.iter().map(|b| b.parse().expect("a number")).collect()
}

fn publish(publisher: &mut Client, range: std::ops::Range<u64>) {
    for n in range {
        let send = frame(Command::Send, &[("destination", ROOM)]).with_body(n.to_string());
        assert!(matches!(publisher.handle(send).unwrap(), Action::Continue));
    }
}

#[test]
fn members_who_join_or_leave_get_exactly_the_messages_after_or_before() {
    let broker = Broker::new(BrokerConfig::default());
    let mut room = members(&broker, 1000);
    let mut wildcard = Client::connect(&broker, "1.1");
    wildcard.ok(Command::Subscribe, &[("id", "w"), ("destination", "/topic/*")]);
    let mut publisher = Client::connect(&broker, "1.2");
    publish(&mut publisher, 0..3);

    let mut joiner = Client::connect(&broker, "1.2");
    joiner.ok(Command::Subscribe, &[("id", "late"), ("destination", ROOM)]);
    let mut leaver = room.pop().unwrap();
    assert_eq!(numbers(&leaver.bodies()), [0, 1, 2]);
    leaver.ok(Command::Unsubscribe, &[("id", "s999")]);
    assert_eq!(broker.topic_subscriptions(), 999 + 1 + 1);
    publish(&mut publisher, 3..6);

    assert_eq!(numbers(&joiner.bodies()), [3, 4, 5]);
    assert!(leaver.bodies().is_empty());
    assert_eq!(numbers(&wildcard.bodies()), [0, 1, 2, 3, 4, 5]);
    for (i, member) in room.iter_mut().enumerate() {
        let messages = member.messages();
        assert_eq!(messages.len(), 6, "member {i}");
        assert!(messages.iter().all(|m| m.header("subscription") == Some(&format!("s{i}"))), "member {i}");
    }
}

#[test]
fn coming_and_going_during_fan_outs_never_costs_anyone_a_message() {
    const MESSAGES: u64 = 1000;
    let broker = Broker::new(BrokerConfig::default());
    let mut room = members(&broker, 100);
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let churner = {
        let (broker, done) = (broker.clone(), done.clone());
        std::thread::spawn(move || {
            let mut c = Client::connect(&broker, "1.2");
            let mut runs = Vec::new();
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                c.ok(Command::Subscribe, &[("id", "churn"), ("destination", ROOM)]);
                std::thread::yield_now();
                runs.push(numbers(&c.bodies()));
                c.ok(Command::Unsubscribe, &[("id", "churn")]);
            }
            runs
        })
    };
    let mut publisher = Client::connect(&broker, "1.2");
    let mut seen = vec![Vec::new(); room.len()];
    for chunk in (0..MESSAGES).step_by(100) {
        publish(&mut publisher, chunk..chunk + 100);
        for (member, seen) in room.iter_mut().zip(&mut seen) {
            seen.extend(numbers(&member.bodies()));
        }
    }
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let runs = churner.join().unwrap();

    let all: Vec<u64> = (0..MESSAGES).collect();
    assert!(seen.iter().all(|seen| *seen == all), "a member missed or repeated a message");
    assert!(!runs.is_empty());
    for run in runs {
        assert!(run.windows(2).all(|w| w[1] == w[0] + 1), "a subscription's messages have a gap: {run:?}");
    }
    assert_eq!(broker.topic_subscriptions(), 100);
}
