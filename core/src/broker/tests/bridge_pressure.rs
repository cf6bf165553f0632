//! Producers paced to the cluster bridge (a fake one here): a publish that finds the bridge's
//! backlog past its high-water mark paces the publisher until the bridge signals it drained.

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};

use tokio::sync::Notify;

use super::*;

/// A bridge whose backlog the test sets; it counts the topic messages it is given.
#[derive(Debug, Default)]
struct BackedUpBridge {
    published: AtomicUsize,
    backlog: Arc<FakeBacklog>,
}

/// A backlog that is high until the test drains it.
#[derive(Debug, Default)]
struct FakeBacklog {
    high: AtomicBool,
    relief: Notify,
}

impl FakeBacklog {
    /// The bridge's task caught up: under the low-water mark, and says so.
    fn drain(&self) {
        self.high.store(false, Ordering::Release);
        self.relief.notify_waiters();
    }
}

impl Bridge for BackedUpBridge {
    fn publish(&self, _: &Arc<Message>) -> Option<Pressure> {
        self.published.fetch_add(1, Ordering::Relaxed);
        let pressing = self.backlog.high.load(Ordering::Acquire);
        pressing.then(|| Pressure::bridge(self.backlog.clone()))
    }

    fn interest_changed(&self, _: &str) {}

    fn enqueue(&self, _: &Destination, _: &Arc<Message>) -> Result<Confirmation, String> {
        unreachable!("no queues in these tests")
    }

    fn consumers_changed(&self, _: &str) {}

    fn temporary_deleted(&self, _: &str) {}

    fn durable_changed(&self, _: &str, _: Option<&Principal>) -> Result<Confirmation, String> {
        unreachable!("no durable subscriptions in these tests")
    }

    fn snapshot(&self) -> ClusterSnapshot {
        unreachable!("not asked for in these tests")
    }
}

impl Backlog for FakeBacklog {
    fn relieved(&self) -> bool {
        !self.high.load(Ordering::Acquire)
    }

    fn relief(&self) -> &Notify {
        &self.relief
    }
}

#[test]
fn a_backed_up_bridge_paces_the_publisher_until_it_drains() {
    let (broker, bridge) = clustered::<BackedUpBridge>(Broker::new(BrokerConfig::default()));
    let mut sub = Client::connect(&broker, "1.2");
    sub.ok(Command::Subscribe, &[("id", "s"), ("destination", "/topic/t")]);
    let mut producer = Client::connect(&broker, "1.2");
    producer.send("/topic/t", "before");

    bridge.backlog.high.store(true, Ordering::Release);
    let send = frame(Command::Send, &[("destination", "/topic/t")]).with_body("during");
    let Action::Paced(pressure) = producer.handle(send).unwrap() else { panic!("not paced") };
    assert_eq!(pressure.describe(), "paced to the cluster bridge's backlog");
    assert_eq!(sub.bodies(), ["before", "during"], "delivered locally all the same");
    assert_eq!(bridge.published.load(Ordering::Relaxed), 2, "and handed to the bridge");

    let mut relieved = pin!(pressure.relieved());
    let mut context = Context::from_waker(Waker::noop());
    assert!(relieved.as_mut().poll(&mut context).is_pending(), "held while the backlog is high");
    assert!(relieved.as_mut().poll(&mut context).is_pending(), "no wake-up of its own");
    bridge.backlog.drain();
    assert_eq!(relieved.as_mut().poll(&mut context), Poll::Ready(()));
    producer.send("/topic/t", "after");
}

#[test]
fn a_transaction_committed_to_a_backed_up_bridge_paces_the_publisher() {
    let (broker, bridge) = clustered::<BackedUpBridge>(Broker::new(BrokerConfig::default()));
    let mut producer = Client::connect(&broker, "1.2");
    producer.ok(Command::Begin, &[("transaction", "tx")]);
    producer.ok(Command::Send, &[("destination", "/topic/t"), ("transaction", "tx")]);
    bridge.backlog.high.store(true, Ordering::Release);
    let commit = frame(Command::Commit, &[("transaction", "tx")]);
    assert!(matches!(producer.handle(commit).unwrap(), Action::Paced(_)));
    assert_eq!(bridge.published.load(Ordering::Relaxed), 1);
}
