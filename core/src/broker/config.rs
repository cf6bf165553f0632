//! The engine's configuration: every limit and policy with its default, in one place.
//!
//! Each section is a serde struct that the server's TOML file embeds as it is (`[limits]`,
//! `[heartbeat]`, `[delivery]`, `[queues]`, `[memory]`, `[store]`), so adding a limit means adding one field, its
//! default and its doc comment here (and its line in `examples/stompbox.toml`). Unknown keys are
//! errors: a typo must not silently fall back to a default.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use super::clock::{Clock, SystemClock};
use super::memory::{physical_memory, Amount};
use crate::auth::{AllowAll, Authenticator, Authorizer, GuestOnly};
use crate::destination::segments_match;
use crate::frame::FrameLimits;
use crate::heartbeat::{Heartbeat, Negotiated};

/// What happens to a topic subscriber whose outbox is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SlowConsumerPolicy {
    /// Send it an ERROR that says it was too slow and close its connection (counted).
    #[default]
    Disconnect,
    /// Drop that subscriber's oldest undelivered topic messages to make room (counted).
    DropOldest,
}

/// What a producer meets when its queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum QueueFullPolicy {
    /// Hold the producer back: the broker stops reading its socket until there is room.
    #[default]
    Block,
    /// Answer the SEND with an ERROR (and close, as every ERROR does).
    Error,
}

/// `[limits]`: caps that keep memory and file descriptors bounded.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Open connections at once (default 10,000). The broker raises its open-file soft limit to
    /// the hard limit at start.
    pub max_connections: usize,
    /// Open connections at once from one IP address (default 1,000); one over gets an ERROR.
    pub max_connections_per_address: usize,
    /// After a failed login, the next login from the same address waits this long, doubled
    /// for each further failure in a row, in ms (default 200; 0: never wait).
    pub failed_login_delay_ms: u64,
    /// The longest such wait, in ms (default 5,000).
    pub failed_login_max_delay_ms: u64,
    /// Time a new connection has to finish its handshake and send CONNECT, in ms (default 10,000).
    pub connect_timeout_ms: u64,
    /// How long the socket stays open after an ERROR frame, in ms (default 1,000); frames
    /// received meanwhile are ignored.
    pub error_linger_ms: u64,
    /// How long one write may wait for a peer that does not read, in ms (default 30,000).
    pub write_timeout_ms: u64,
    /// Largest frame, in bytes (default 4 MiB + 64 KiB).
    pub max_frame_bytes: usize,
    /// Largest body, in bytes (default 4 MiB).
    pub max_body_bytes: usize,
    /// Most headers in a frame (default 64).
    pub max_headers: usize,
    /// Longest header line, in bytes (default 8 KiB).
    pub max_header_line_bytes: usize,
    /// Subscriptions per connection (default 1,000).
    pub max_subscriptions_per_connection: usize,
    /// How deep a SUBSCRIBE `selector`'s parentheses and `NOT`s may nest (default 32).
    pub max_selector_depth: usize,
    /// Message groups one queue remembers the consumer of (default 1,024); beyond, the oldest
    /// is forgotten and its next message may go to another consumer.
    pub max_message_groups: usize,
    /// Open transactions per connection (default 16).
    pub max_transactions_per_connection: usize,
    /// Frames buffered in one transaction (default 10,000).
    pub max_frames_per_transaction: usize,
    /// A topic or queue with no producer, consumer, retained or waiting message for this long,
    /// in ms, is deleted (default 30,000, Apollo's `auto_delete_after`); counted.
    pub auto_delete_after_ms: u64,
    /// Queues the broker holds (default 10,000).
    pub max_queues: usize,
    /// Queues one connection created that still exist (default 1,000): one client cannot
    /// take every queue for itself. Unused queues are deleted (`auto_delete_after_ms`).
    pub max_queues_per_connection: usize,
    /// Bytes one transaction may buffer (default 128 MiB; at least `max_body_bytes`).
    pub max_bytes_per_transaction: usize,
    /// A frame that has started arriving must be complete within this, in ms (default 30,000).
    /// Idle connections between frames are not affected.
    pub frame_timeout_ms: u64,
}

impl Default for Limits {
    fn default() -> Self {
        // The frame limits' defaults are the parser's own (the client uses them too).
        let frame = FrameLimits::default();
        Limits {
            max_connections: 10_000,
            max_connections_per_address: 1_000,
            failed_login_delay_ms: 200,
            failed_login_max_delay_ms: 5_000,
            connect_timeout_ms: 10_000,
            error_linger_ms: 1_000,
            write_timeout_ms: 30_000,
            max_frame_bytes: frame.max_frame_bytes,
            max_body_bytes: frame.max_body_bytes,
            max_headers: frame.max_headers,
            max_header_line_bytes: frame.max_header_line_bytes,
            max_subscriptions_per_connection: 1000,
            max_selector_depth: 32,
            max_message_groups: 1024,
            max_transactions_per_connection: 16,
            max_frames_per_transaction: 10_000,
            auto_delete_after_ms: 30_000,
            max_queues: 10_000,
            max_queues_per_connection: 1_000,
            max_bytes_per_transaction: 128 * 1024 * 1024,
            frame_timeout_ms: 30_000,
        }
    }
}

impl Limits {
    /// The limits the frame parser enforces.
    pub fn frame(&self) -> FrameLimits {
        FrameLimits {
            max_frame_bytes: self.max_frame_bytes,
            max_headers: self.max_headers,
            max_header_line_bytes: self.max_header_line_bytes,
            max_body_bytes: self.max_body_bytes,
        }
    }
}

/// `[heartbeat]`: whether the broker sends and expects heart-beats, how often at most, and how
/// long a silent client is given.
///
/// The broker honours what each client asks: it sends as often as the client asks to receive
/// and expects beats as often as the client offers to send, each no more often than `min_ms`. A
/// direction is off when the client's side or the broker's (`send_ms`, `receive_ms`) is 0.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HeartbeatConfig {
    /// The broker sends heart-beats to clients that ask for them (default 10,000, shown in
    /// CONNECTED to clients that ask for none; 0 = never sends).
    pub send_ms: u64,
    /// The broker holds clients to the heart-beats they offer (default 10,000, shown in
    /// CONNECTED to clients that offer none; 0 = never checks).
    pub receive_ms: u64,
    /// The shortest interval the broker agrees to, either way, in ms (default 500).
    pub min_ms: u64,
    /// A silent client is dropped after the negotiated interval times this factor (default 2.0).
    pub grace_factor: f64,
}

impl Default for HeartbeatConfig {
    fn default() -> Self {
        HeartbeatConfig { send_ms: 10_000, receive_ms: 10_000, min_ms: 500, grace_factor: 2.0 }
    }
}

impl HeartbeatConfig {
    /// The `heart-beat` CONNECTED answers a client's with, and the intervals that follow. The
    /// header is chosen so that a client negotiating by the spec (the larger of the two values
    /// of each direction) arrives at the same intervals.
    pub fn answer(&self, client: Heartbeat) -> (Heartbeat, Negotiated) {
        let interval =
            |enabled_ms: u64, asked_ms: u64| (enabled_ms != 0 && asked_ms != 0).then(|| asked_ms.max(self.min_ms));
        let send = interval(self.send_ms, client.receive_ms);
        let expect = interval(self.receive_ms, client.send_ms);
        let header = Heartbeat { send_ms: send.unwrap_or(self.send_ms), receive_ms: expect.unwrap_or(self.receive_ms) };
        let negotiated =
            Negotiated { send_every: send.map(Duration::from_millis), expect_every: expect.map(Duration::from_millis) };
        (header, negotiated)
    }
}

/// `[delivery]`: outbound buffering and the slow-consumer policy.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeliveryConfig {
    /// Bytes of topic messages one connection may have waiting to be written (default 8 MiB):
    /// past it, a subscriber that has stalled meets `slow_consumer`. A single larger message is
    /// still delivered: the limit bounds what waits behind it.
    pub outbox_max_bytes: usize,
    /// Past this many bytes waiting for a subscriber that still reads, the connections
    /// publishing to it are paced: read no more until it is under `low_water_bytes`
    /// (default 4 MiB).
    pub high_water_bytes: usize,
    /// See `high_water_bytes` (default 1 MiB).
    pub low_water_bytes: usize,
    /// A subscriber that has written nothing for this long, in ms, no longer paces publishers
    /// (default 1,000): one stuck client does not freeze a topic for longer.
    pub stall_ms: u64,
    /// `"disconnect"` (default: ERROR "slow consumer", close, counted) or `"drop-oldest"`
    /// (drop that subscriber's oldest topic messages, counted).
    pub slow_consumer: SlowConsumerPolicy,
    /// Unacknowledged queue messages per subscription when SUBSCRIBE names no
    /// `prefetch-count`, `activemq.prefetchSize` or `credit` (default 1,000).
    pub default_prefetch: usize,
    /// Largest window a SUBSCRIBE may ask for (default 10,000).
    pub max_prefetch: usize,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            outbox_max_bytes: 8 * 1024 * 1024,
            high_water_bytes: 4 * 1024 * 1024,
            low_water_bytes: 1024 * 1024,
            stall_ms: 1_000,
            slow_consumer: SlowConsumerPolicy::Disconnect,
            default_prefetch: 1000,
            max_prefetch: 10_000,
        }
    }
}

/// How deep one queue may grow, counting waiting and in-flight messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueLimits {
    /// Most messages.
    pub max_messages: usize,
    /// Most bytes (as [`Message::size`](super::Message::size) counts them).
    pub max_bytes: usize,
}

/// `[queues]`: default depth limits, and `[[queues.rule]]` per name pattern.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueuesConfig {
    /// Most messages (waiting plus unacknowledged) per queue (default 100,000).
    pub max_messages: usize,
    /// Most bytes per queue (default 256 MiB).
    pub max_bytes: usize,
    /// `"block"` (default) or `"error"`.
    pub when_full: QueueFullPolicy,
    /// A producer held back by a full queue this long, in ms, gets an ERROR naming the queue
    /// (default 60,000).
    pub block_timeout_ms: u64,
    /// The older spelling of `limits.auto_delete_after_ms`, for queues only; still read, and
    /// when set it wins for queues.
    pub delete_unused_after_ms: Option<u64>,
    /// A message is redelivered (after a NACK, or its consumer leaving without acknowledging
    /// it) at most this many times; the next time it moves to its dead-letter queue (default 6).
    pub max_redeliveries: u32,
    /// The dead-letter queue's name; `*` stands for the queue's own name (default `"DLQ.*"`:
    /// `/queue/jobs` dead-letters to `/queue/DLQ.jobs`). Dead-letter queues do not dead-letter.
    pub dead_letter: String,
    /// Whether expired messages move to the dead-letter queue rather than being dropped
    /// (default false).
    pub dead_letter_expired: bool,
    /// Per-pattern overrides; the first match wins.
    pub rule: Vec<QueueRule>,
}

impl Default for QueuesConfig {
    fn default() -> Self {
        QueuesConfig {
            max_messages: 100_000,
            max_bytes: 256 * 1024 * 1024,
            when_full: QueueFullPolicy::Block,
            block_timeout_ms: 60_000,
            delete_unused_after_ms: None,
            max_redeliveries: 6,
            dead_letter: "DLQ.*".to_owned(),
            dead_letter_expired: false,
            rule: Vec::new(),
        }
    }
}

/// `[[queues.rule]]`: limits for the queues whose names match `pattern`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueRule {
    /// Queue names (without `/queue/`), `.`-separated, `*` and `**` wildcards, e.g. `jobs.**`.
    pub pattern: String,
    /// Overrides `queues.max_messages`.
    pub max_messages: Option<usize>,
    /// Overrides `queues.max_bytes`.
    pub max_bytes: Option<usize>,
    /// Overrides `queues.when_full`.
    pub when_full: Option<QueueFullPolicy>,
    /// Overrides `queues.max_redeliveries`.
    pub max_redeliveries: Option<u32>,
    /// Overrides `queues.dead_letter`.
    pub dead_letter: Option<String>,
    /// Overrides `queues.dead_letter_expired`.
    pub dead_letter_expired: Option<bool>,
}

impl QueueRule {
    /// A rule for `pattern` that overrides nothing yet.
    pub fn new(pattern: &str) -> QueueRule {
        QueueRule {
            pattern: pattern.to_owned(),
            max_messages: None,
            max_bytes: None,
            when_full: None,
            max_redeliveries: None,
            dead_letter: None,
            dead_letter_expired: None,
        }
    }
}

/// What a queue does with messages it cannot deliver: the redelivery limit and where dead
/// letters go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetterPolicy {
    /// Redeliveries before a message is dead-lettered.
    pub max_redeliveries: u32,
    /// The dead-letter queue's destination, `/queue/...` (`None` for a dead-letter queue itself).
    pub queue: Option<String>,
    /// Whether expired messages are dead-lettered.
    pub expired: bool,
}

/// Everything a queue's rule sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuePolicy {
    /// Depth limits.
    pub limits: QueueLimits,
    /// What a producer meets when the queue is full.
    pub when_full: QueueFullPolicy,
    /// Redelivery limit and dead letters.
    pub dead_letter: DeadLetterPolicy,
}

impl QueuesConfig {
    /// The policy of the queue named `name` (without `/queue/`): that of the first matching
    /// rule, each unset value inherited from the section.
    pub fn for_queue(&self, name: &str) -> QueuePolicy {
        let segments: Vec<&str> = name.split('.').collect();
        let rule = self.rule.iter().find(|rule| {
            let pattern: Vec<&str> = rule.pattern.split('.').collect();
            segments_match(&pattern, &segments)
        });
        let limits = QueueLimits {
            max_messages: rule.and_then(|r| r.max_messages).unwrap_or(self.max_messages),
            max_bytes: rule.and_then(|r| r.max_bytes).unwrap_or(self.max_bytes),
        };
        let dead_letter = rule.and_then(|r| r.dead_letter.as_deref()).unwrap_or(&self.dead_letter);
        let dead_letter_name = dead_letter.replace('*', name);
        // A dead-letter queue's own dead letters would go to DLQ.DLQ.x, and so on: they stay.
        let is_dead_letter_queue = dead_letter_name == name || self.is_dead_letter_queue(name);
        QueuePolicy {
            limits,
            when_full: rule.and_then(|r| r.when_full).unwrap_or(self.when_full),
            dead_letter: DeadLetterPolicy {
                max_redeliveries: rule.and_then(|r| r.max_redeliveries).unwrap_or(self.max_redeliveries),
                queue: (!is_dead_letter_queue).then(|| format!("/queue/{dead_letter_name}")),
                expired: rule.and_then(|r| r.dead_letter_expired).unwrap_or(self.dead_letter_expired),
            },
        }
    }

    /// Whether `name` is what the section's default dead-letter name makes of some queue name.
    fn is_dead_letter_queue(&self, name: &str) -> bool {
        match self.dead_letter.split_once('*') {
            Some((prefix, suffix)) => {
                name.len() > prefix.len() + suffix.len() && name.starts_with(prefix) && name.ends_with(suffix)
            }
            None => name == self.dead_letter,
        }
    }
}

/// `[store]`: how persistent messages are written (with `data_dir` set; see the `store` module).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// Most operations (stored or removed messages) written in one batch, with one sync
    /// (default 8,192).
    pub max_batch_messages: usize,
    /// Most bytes written in one batch (default 8 MiB).
    pub max_batch_bytes: usize,
    /// Past this many bytes waiting to be written, connections that publish persistent messages
    /// are not read until the writer catches up (default 64 MiB).
    pub max_pending_bytes: usize,
    /// Past this many bytes on disk, persistent SENDs get an ERROR until acknowledged messages
    /// are reclaimed (default 0: no limit but the disk's own; a full disk fails the store).
    pub max_disk_bytes: u64,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            max_batch_messages: 8192,
            max_batch_bytes: 8 * 1024 * 1024,
            max_pending_bytes: 64 * 1024 * 1024,
            max_disk_bytes: 0,
        }
    }
}

/// `[memory]`: the broker-wide bound on the bytes held for messages (see the `memory` module).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MemoryConfig {
    /// Past this, publishing connections are held back: bytes, or a share of physical memory
    /// such as `"40%"` (default, as RabbitMQ).
    pub high_watermark: Amount,
    /// Publishing resumes under this (default `"35%"`).
    pub low_watermark: Amount,
}

impl Default for MemoryConfig {
    fn default() -> Self {
        MemoryConfig { high_watermark: Amount::PercentOfRam(40.0), low_watermark: Amount::PercentOfRam(35.0) }
    }
}

impl MemoryConfig {
    /// The watermarks in bytes on this machine (8 GiB assumed where physical memory is unknown).
    pub fn watermarks(&self) -> (usize, usize) {
        let ram = physical_memory().unwrap_or(8 << 30);
        let bytes = |amount: Amount| usize::try_from(amount.bytes(ram)).unwrap_or(usize::MAX);
        (bytes(self.high_watermark), bytes(self.low_watermark))
    }
}

/// Everything the engine needs to know; the server fills it from its configuration file.
#[derive(Clone)]
pub struct BrokerConfig {
    /// The `server` header of CONNECTED.
    pub server_name: String,
    /// Connection, frame and session caps.
    pub limits: Limits,
    /// Heart-beats offered and expected.
    pub heartbeat: HeartbeatConfig,
    /// Outboxes, slow consumers and queue windows.
    pub delivery: DeliveryConfig,
    /// Queue depth limits.
    pub queues: QueuesConfig,
    /// The broker-wide memory bound.
    pub memory: MemoryConfig,
    /// How persistent messages are written, when there is a store.
    pub store: StoreConfig,
    /// Who may connect.
    pub authenticator: Arc<dyn Authenticator>,
    /// What they may do.
    pub authorizer: Arc<dyn Authorizer>,
    /// A header set on every published message to its sender's user name, replacing any value
    /// the sender gave (Apollo's `add_user_header`); `None`: no such header.
    pub add_user_header: Option<String>,
    /// The time `expires` headers are compared with.
    pub clock: Arc<dyn Clock>,
}

impl BrokerConfig {
    /// How long a topic stands unused before it is deleted (`limits.auto_delete_after_ms`).
    pub fn topics_auto_delete_after(&self) -> Duration {
        Duration::from_millis(self.limits.auto_delete_after_ms)
    }

    /// How long a queue stands unused before it is deleted: `limits.auto_delete_after_ms`, or
    /// the older `queues.delete_unused_after_ms` when set.
    pub fn queues_auto_delete_after(&self) -> Duration {
        Duration::from_millis(self.queues.delete_unused_after_ms.unwrap_or(self.limits.auto_delete_after_ms))
    }
}

impl fmt::Debug for BrokerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BrokerConfig")
            .field("server_name", &self.server_name)
            .field("limits", &self.limits)
            .field("heartbeat", &self.heartbeat)
            .field("delivery", &self.delivery)
            .field("queues", &self.queues)
            .field("memory", &self.memory)
            .field("store", &self.store)
            .field("authenticator", &self.authenticator)
            .field("authorizer", &self.authorizer)
            .field("add_user_header", &self.add_user_header)
            .finish_non_exhaustive()
    }
}

impl Default for BrokerConfig {
    fn default() -> Self {
        BrokerConfig {
            server_name: concat!("stompbox/", env!("CARGO_PKG_VERSION")).to_owned(),
            limits: Limits::default(),
            heartbeat: HeartbeatConfig::default(),
            delivery: DeliveryConfig::default(),
            queues: QueuesConfig::default(),
            memory: MemoryConfig::default(),
            store: StoreConfig::default(),
            authenticator: Arc::new(GuestOnly),
            authorizer: Arc::new(AllowAll),
            add_user_header: None,
            clock: Arc::new(SystemClock),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn beats(send_ms: u64, receive_ms: u64) -> Heartbeat {
        Heartbeat { send_ms, receive_ms }
    }

    #[test]
    fn heartbeats_follow_the_client_within_the_floor() {
        let config = HeartbeatConfig::default();
        let (header, negotiated) = config.answer(beats(1_000, 2_000));
        assert_eq!(header, beats(2_000, 1_000));
        assert_eq!(negotiated.send_every, Some(Duration::from_secs(2)));
        assert_eq!(negotiated.expect_every, Some(Duration::from_secs(1)));
        let (header, negotiated) = config.answer(beats(0, 100));
        assert_eq!(header, beats(500, 10_000), "100 ms is below the 500 ms floor; no beats expected");
        assert_eq!((negotiated.send_every, negotiated.expect_every), (Some(Duration::from_millis(500)), None));
        assert_eq!(config.answer(beats(0, 0)), (beats(10_000, 10_000), Negotiated::default()));
        let quiet = HeartbeatConfig { send_ms: 0, receive_ms: 0, ..HeartbeatConfig::default() };
        assert_eq!(quiet.answer(beats(1_000, 1_000)), (beats(0, 0), Negotiated::default()));
        // The spec's rule (the larger value each way) applied to the header gives the same
        // intervals, so the client agrees with the broker.
        for client in [beats(1_000, 2_000), beats(0, 100), beats(700, 0), beats(20_000, 30_000)] {
            let (header, negotiated) = config.answer(client);
            assert_eq!(crate::heartbeat::negotiate(client, header), negotiated, "{client:?}");
        }
    }

    #[test]
    fn queue_rules_inherit_the_section_defaults() {
        let queues = QueuesConfig {
            max_messages: 10,
            rule: vec![QueueRule {
                max_bytes: Some(99),
                when_full: Some(QueueFullPolicy::Error),
                max_redeliveries: Some(2),
                dead_letter: Some("failed.*".into()),
                ..QueueRule::new("jobs.**")
            }],
            ..QueuesConfig::default()
        };
        let policy = queues.for_queue("jobs.eu");
        assert_eq!(policy.limits, QueueLimits { max_messages: 10, max_bytes: 99 });
        assert_eq!(policy.when_full, QueueFullPolicy::Error);
        assert_eq!(
            policy.dead_letter,
            DeadLetterPolicy { max_redeliveries: 2, queue: Some("/queue/failed.jobs.eu".into()), expired: false }
        );
        let policy = queues.for_queue("mail");
        assert_eq!(policy.limits, QueueLimits { max_messages: 10, max_bytes: 256 * 1024 * 1024 });
        assert_eq!(policy.when_full, QueueFullPolicy::Block);
        assert_eq!(policy.dead_letter.queue.as_deref(), Some("/queue/DLQ.mail"));
        assert_eq!(queues.for_queue("DLQ.mail").dead_letter.queue, None, "a dead-letter queue keeps its own");
    }
}
