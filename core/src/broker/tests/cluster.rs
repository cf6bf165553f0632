//! Queues and durable subscriptions shared through a cluster bridge (a fake one here): SENDs go
//! to the bridge and their RECEIPTs wait for its confirmation; messages it hands over settle
//! their claims.

use parking_lot::Mutex;

use super::*;

/// A bridge that keeps what it is given, for the test to answer.
#[derive(Debug, Default)]
pub(super) struct FakeBridge {
    /// `QUEUE BODY` of each message enqueued, and its confirmer.
    pub(super) enqueued: Mutex<Vec<(String, Confirmer)>>,
    consumers_changed: Mutex<Vec<String>>,
    /// `NAME by USER` of each durable subscription changed, and its confirmer.
    durables_changed: Mutex<Vec<(String, Confirmer)>>,
}

impl Bridge for FakeBridge {
    fn publish(&self, _: &Arc<Message>) -> Option<Pressure> {
        None
    }

    fn interest_changed(&self, _: &str) {}

    fn enqueue(&self, queue: &Destination, message: &Arc<Message>) -> Result<Confirmation, String> {
        let (confirmer, confirmation) = confirmation();
        let body = String::from_utf8(message.body().to_vec()).unwrap();
        self.enqueued.lock().push((format!("{} {body}", queue.as_str()), confirmer));
        Ok(confirmation)
    }

    fn durable_changed(&self, name: &str, owner: Option<&Principal>) -> Result<Confirmation, String> {
        let (confirmer, confirmation) = confirmation();
        let owner = owner.and_then(|owner| owner.user.as_deref()).unwrap_or("nobody");
        self.durables_changed.lock().push((format!("{name} by {owner}"), confirmer));
        Ok(confirmation)
    }

    fn consumers_changed(&self, destination: &str) {
        self.consumers_changed.lock().push(destination.to_owned());
    }

    fn temporary_deleted(&self, _: &str) {}

    fn snapshot(&self) -> ClusterSnapshot {
        unreachable!("not asked for in these tests")
    }
}

/// A claim that counts how it was settled, and keeps the confirmer of its `done`.
#[derive(Debug, Default)]
struct FakeClaim {
    done: Mutex<Vec<Confirmer>>,
    released: Mutex<usize>,
}

impl Claim for FakeClaim {
    fn done(&self) -> Confirmation {
        let (confirmer, confirmation) = confirmation();
        self.done.lock().push(confirmer);
        confirmation
    }

    fn release(&self) {
        *self.released.lock() += 1;
    }
}

#[test]
fn a_queue_send_goes_to_the_bridge_and_its_receipt_waits_for_the_answer_in_order() {
    let (broker, bridge) = clustered::<FakeBridge>(Broker::new(BrokerConfig::default()));
    let mut c = Client::connect(&broker, "1.2");
    c.replies.clear();
    c.ok(Command::Send, &[("destination", "/queue/q"), ("receipt", "r1")]);
    c.ok(Command::Send, &[("destination", "/topic/t"), ("receipt", "r2")]);
    assert!(c.replies.is_empty(), "r1 waits for the cluster, r2 behind it");
    assert_eq!(broker.queue_room("/queue/q"), 0);
    assert!(c.session.awaited_confirmation().is_some());
    let (sent, confirmer) = bridge.enqueued.lock().remove(0);
    assert_eq!(sent, "/queue/q ");
    confirmer.resolve(Ok(()));
    c.session.release_receipts(&mut c.replies).unwrap();
    let ids: Vec<_> = c.replies.iter().map(|r| r.header("receipt-id").unwrap()).collect();
    assert_eq!(ids, ["r1", "r2"]);
    assert!(c.session.awaited_confirmation().is_none());

    c.ok(Command::Send, &[("destination", "/queue/q"), ("receipt", "r3")]);
    let (_, confirmer) = bridge.enqueued.lock().remove(0);
    confirmer.resolve(Err("stream full".to_owned()));
    let refused = c.session.release_receipts(&mut c.replies).unwrap_err();
    assert_eq!(refused.error, ProtocolError::Cluster("stream full".to_owned()));
    assert_eq!(refused.receipt.as_deref(), Some("r3"));
}

#[test]
fn messages_from_the_cluster_settle_their_claims() {
    let (broker, bridge) = clustered::<FakeBridge>(Broker::new(BrokerConfig::default()));
    let mut c = Client::connect(&broker, "1.2");
    c.ok(Command::Subscribe, &[("id", "s"), ("destination", "/queue/q"), ("ack", "client-individual")]);
    assert_eq!(*bridge.consumers_changed.lock(), ["/queue/q"]);
    let (nacked, acked) = (Arc::new(FakeClaim::default()), Arc::new(FakeClaim::default()));
    broker.deliver_to_queue_from_cluster("/queue/q", "/queue/q", vec![], "one".into(), nacked.clone(), 0).unwrap();
    broker.deliver_to_queue_from_cluster("/queue/q", "/queue/q", vec![], "two".into(), acked.clone(), 1).unwrap();
    let messages = c.messages();
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0].header("redelivered"), None);
    assert_eq!(messages[1].header("redelivered"), Some("true"), "delivered once before, elsewhere");

    c.ok(Command::Nack, &[("id", messages[0].header("ack").unwrap())]);
    assert_eq!(*nacked.released.lock(), 1, "given back to the cluster");
    assert!(c.messages().is_empty(), "not redelivered here by the local queue");

    c.replies.clear();
    c.ok(Command::Ack, &[("id", messages[1].header("ack").unwrap()), ("receipt", "acked")]);
    assert!(c.replies.is_empty(), "the ACK's receipt waits for the cluster");
    acked.done.lock().remove(0).resolve(Ok(()));
    c.session.release_receipts(&mut c.replies).unwrap();
    assert_eq!(c.replies[0].header("receipt-id"), Some("acked"));

    let left = Arc::new(FakeClaim::default());
    c.ok(Command::Unsubscribe, &[("id", "s")]);
    // The queue has no consumers now (or is gone): the message goes back either way.
    let _ = broker.deliver_to_queue_from_cluster("/queue/q", "/queue/q", vec![], "three".into(), left.clone(), 0);
    assert_eq!(*left.released.lock(), 1, "without local consumers it goes back at once");
}

#[test]
fn durable_subscriptions_collect_through_the_bridge_and_every_node_knows_them() {
    let (broker, bridge) = clustered::<FakeBridge>(Broker::new(BrokerConfig::default()));
    let mut c = Client::connect(&broker, "1.2");
    c.replies.clear();
    let durable = [("id", "archive"), ("destination", "/topic/chat.*"), ("persistent", "true")];
    c.ok(Command::Subscribe, &[durable.as_slice(), &[("receipt", "made")]].concat());
    assert!(c.replies.is_empty(), "the SUBSCRIBE's receipt waits for the cluster to know it");
    let (name, confirmer) = bridge.durables_changed.lock().remove(0);
    assert_eq!(name, "archive by nobody", "an anonymous client made it");
    let known = broker.durable_subscription("archive").unwrap();
    assert_eq!((known.pattern.as_str(), known.selector), ("/topic/chat.*", None));
    assert!(!broker.has_topic_interest("/topic/chat.*"), "a durable subscription is not live interest");
    confirmer.resolve(Ok(()));
    c.session.release_receipts(&mut c.replies).unwrap();
    assert_eq!(c.replies.remove(0).header("receipt-id"), Some("made"));
    assert_eq!(*bridge.consumers_changed.lock(), ["/dsub/archive"]);

    // Another node's durable subscription collects here too; a topic message goes to the
    // cluster once per durable subscription, and to neither local queue.
    let elsewhere = DurableSubscription { pattern: "/topic/chat.room".into(), selector: Some("n > 1".into()) };
    broker.durable_from_cluster("other", Some(elsewhere.clone()), None).unwrap();
    assert_eq!(broker.durable_subscription("other"), Some(elsewhere));
    let room = broker.queue_room("/dsub/archive");
    c.ok(Command::Send, &[("destination", "/topic/chat.room"), ("n", "1")]);
    c.ok(Command::Send, &[("destination", "/topic/chat.room"), ("n", "2")]);
    let mut sent: Vec<String> = bridge.enqueued.lock().drain(..).map(|(sent, _)| sent).collect();
    sent.sort();
    assert_eq!(sent, ["/dsub/archive ", "/dsub/archive ", "/dsub/other "], "the selector is applied here");
    assert_eq!(broker.queue_room("/dsub/archive"), room, "nothing waits in the local queue");
    assert!(c.messages().is_empty());

    // What the cluster hands the durable subscription keeps its topic as destination.
    let claim = Arc::new(FakeClaim::default());
    broker.deliver_to_queue_from_cluster("/dsub/archive", "/topic/chat.x", vec![], "hi".into(), claim, 0).unwrap();
    assert_eq!(c.messages()[0].header("destination"), Some("/topic/chat.x"));
    broker.durable_from_cluster("other", None, None).unwrap();
    assert_eq!(broker.durable_subscription("other"), None, "deleted by another node");
    assert!(bridge.durables_changed.lock().is_empty(), "what the cluster said is not said back to it");
}
