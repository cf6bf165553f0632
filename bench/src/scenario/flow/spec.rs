//! What one flow run does: destination, connections, acknowledgement and pacing, one
//! constructor per scenario.

use crate::cli::{AckMode, Load};
use crate::scenario::Ctx;

/// What one flow run does.
#[derive(Debug, Clone)]
pub(crate) struct Spec {
    /// Scenario name in the report.
    pub scenario: &'static str,
    /// `/topic/...` or `/queue/...`.
    pub destination: String,
    /// Producer connections.
    pub producers: usize,
    /// Consumer connections.
    pub consumers: usize,
    /// Every consumer receives every message (a topic).
    pub fanout: bool,
    /// Subscription acknowledgement mode.
    pub ack: AckMode,
    /// Subscription prefetch window.
    pub prefetch: u32,
    /// Pacing and batching.
    pub load: Load,
    /// Total messages per second, paced; `None` = as fast as the window allows.
    pub rate: Option<u64>,
    /// `persistent:true` plus a receipt on every SEND, with at most this many receipts
    /// outstanding per producer.
    pub persistent: Option<u64>,
    /// Extra subscribers that never read (not counted as consumers).
    pub stuck: usize,
    /// Subscribe-unsubscribe cycles per second on one more connection (0: none).
    pub churn: u64,
    /// The `selector` every subscription carries.
    pub selector: Option<String>,
    /// The durable subscription (its name) every consumer subscribes to the topic with.
    pub durable: Option<String>,
}

impl Spec {
    /// `fanout`: producers to a topic with `subscribers` subscribers.
    pub fn fanout(ctx: &Ctx, producers: usize, subscribers: usize, load: Load) -> Spec {
        Spec {
            scenario: "fanout",
            destination: ctx.destination("topic", "fanout"),
            producers,
            consumers: subscribers,
            fanout: true,
            ack: AckMode::Auto,
            prefetch: 1000,
            load,
            rate: None,
            persistent: None,
            stuck: 0,
            churn: 0,
            selector: None,
            durable: None,
        }
    }

    /// `queue` (or `persistent`, which the caller marks): producers to a queue with consumers.
    pub fn queue(
        ctx: &Ctx,
        scenario: &'static str,
        producers: usize,
        consumers: usize,
        ack: AckMode,
        prefetch: u32,
        load: Load,
    ) -> Spec {
        Spec {
            scenario,
            destination: ctx.destination("queue", scenario),
            producers,
            consumers,
            fanout: false,
            ack,
            prefetch,
            load,
            rate: None,
            persistent: None,
            stuck: 0,
            churn: 0,
            selector: None,
            durable: None,
        }
    }

    /// `durable`: producers to a topic whose one durable subscription `consumers` share.
    pub fn durable(ctx: &Ctx, producers: usize, consumers: usize, prefetch: u32, load: Load) -> Spec {
        let destination = ctx.destination("topic", "durable");
        let name = destination.trim_start_matches("/topic/").to_owned();
        Spec {
            destination,
            durable: Some(name),
            ..Spec::queue(ctx, "durable", producers, consumers, AckMode::ClientIndividual, prefetch, load)
        }
    }

    /// `room`: `publishers` sharing `rate` msgs/s to a topic with `subscribers` subscribers,
    /// and `churn` subscriptions a second that come and go.
    pub fn room(ctx: &Ctx, publishers: usize, subscribers: usize, rate: u64, churn: u64) -> Spec {
        Spec::paced_topic(ctx, "room", publishers, subscribers, rate, churn)
    }

    /// `latency`: one producer at `rate` msgs/s to a topic with one subscriber.
    pub fn latency(ctx: &Ctx, rate: u64) -> Spec {
        Spec::paced_topic(ctx, "latency", 1, 1, rate, 0)
    }

    /// Producers sharing a fixed rate to a topic, unacknowledged subscribers.
    fn paced_topic(
        ctx: &Ctx,
        scenario: &'static str,
        producers: usize,
        consumers: usize,
        rate: u64,
        churn: u64,
    ) -> Spec {
        Spec {
            scenario,
            destination: ctx.destination("topic", scenario),
            producers,
            consumers,
            fanout: true,
            ack: AckMode::Auto,
            prefetch: 1000,
            load: Load { window: 0, batch: 64 },
            rate: Some(rate.max(1)),
            persistent: None,
            stuck: 0,
            churn,
            selector: None,
            durable: None,
        }
    }
}
