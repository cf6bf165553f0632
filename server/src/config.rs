//! The broker's configuration: one TOML file, every limit with its default in one place.
//!
//! Unknown keys are errors (a typo must not silently fall back to a default). The annotated
//! example `examples/stompbox.toml` lists every key; `Config::default()` is what `stompbox run`
//! uses without a file: STOMP on 127.0.0.1:61613.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use stompbox_core::auth::GuestOnly;
use stompbox_core::broker::{BrokerConfig, QueueFullPolicy, QueueLimits, QueueRule, SlowConsumerPolicy};
use stompbox_core::heartbeat;
use stompbox_core::FrameLimits;
use thiserror::Error;

/// Why a configuration could not be loaded.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The TOML is malformed or has an unknown key or a bad value.
    #[error("invalid configuration: {0}")]
    Parse(#[from] toml::de::Error),
    /// The values are inconsistent.
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// The whole configuration file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// STOMP-over-TCP listen addresses. Default `["127.0.0.1:61613"]`.
    pub listen: Vec<SocketAddr>,
    /// Accept anonymous and guest logins on non-loopback listeners (off: such a listener is
    /// refused at start, like Redis's protected mode).
    pub allow_anonymous: bool,
    /// Connection and frame limits.
    pub limits: Limits,
    /// Heart-beats the broker offers and expects.
    pub heartbeat: Heartbeat,
    /// Topic delivery and slow consumers.
    pub delivery: Delivery,
    /// Queue depth limits.
    pub queues: Queues,
}

/// `[limits]`: caps that keep memory and file descriptors bounded.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Open connections at once (default 10,000). The broker raises its open-file soft limit to
    /// the hard limit at start.
    pub max_connections: usize,
    /// Time a new connection has to send CONNECT, in ms (default 10,000).
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
    /// Open transactions per connection (default 16).
    pub max_transactions_per_connection: usize,
    /// Frames buffered in one transaction (default 10,000).
    pub max_frames_per_transaction: usize,
    /// Queues the broker holds (default 10,000).
    pub max_queues: usize,
}

/// `[heartbeat]`: what CONNECTED offers.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Heartbeat {
    /// How often the broker can send heart-beats, in ms (default 10,000; 0 = never).
    pub send_ms: u64,
    /// How often the broker wants to hear from clients, in ms (default 10,000; 0 = never).
    pub receive_ms: u64,
    /// A silent client is dropped after the negotiated interval times this factor (default 2.0).
    pub grace_factor: f64,
}

/// `[delivery]`: outbound buffering and the slow-consumer policy.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Delivery {
    /// Bytes of topic messages one connection may have waiting to be written (default 8 MiB).
    pub outbox_max_bytes: usize,
    /// `"disconnect"` (default: ERROR "slow consumer", close, counted) or `"drop-oldest"`
    /// (drop that subscriber's oldest topic messages, counted).
    pub slow_consumer: SlowConsumer,
    /// Unacknowledged queue messages per subscription when SUBSCRIBE names no
    /// `prefetch-count`, `activemq.prefetchSize` or `credit` (default 1,000).
    pub default_prefetch: usize,
    /// Largest window a SUBSCRIBE may ask for (default 10,000).
    pub max_prefetch: usize,
}

/// The slow-consumer policy, as spelled in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SlowConsumer {
    /// Disconnect with an ERROR.
    Disconnect,
    /// Drop the oldest topic messages.
    DropOldest,
}

/// What a producer meets at a full queue, as spelled in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WhenFull {
    /// Stop reading the producer's socket until there is room.
    Block,
    /// Answer with an ERROR.
    Error,
}

/// `[queues]`: default depth limits, and `[[queues.rule]]` per name pattern.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Queues {
    /// Most messages (waiting plus unacknowledged) per queue (default 100,000).
    pub max_messages: usize,
    /// Most bytes per queue (default 256 MiB).
    pub max_bytes: usize,
    /// `"block"` (default) or `"error"`.
    pub when_full: WhenFull,
    /// Per-pattern overrides; the first match wins.
    pub rule: Vec<QueueRuleConfig>,
}

/// `[[queues.rule]]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueRuleConfig {
    /// Queue names (without `/queue/`), `.`-separated, `*` and `**` wildcards.
    pub pattern: String,
    /// Overrides `queues.max_messages`.
    pub max_messages: Option<usize>,
    /// Overrides `queues.max_bytes`.
    pub max_bytes: Option<usize>,
    /// Overrides `queues.when_full`.
    pub when_full: Option<WhenFull>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: vec![SocketAddr::from(([127, 0, 0, 1], 61613))],
            allow_anonymous: false,
            limits: Limits::default(),
            heartbeat: Heartbeat::default(),
            delivery: Delivery::default(),
            queues: Queues::default(),
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        let frame = FrameLimits::default();
        let broker = BrokerConfig::default();
        Limits {
            max_connections: 10_000,
            connect_timeout_ms: 10_000,
            error_linger_ms: 1_000,
            write_timeout_ms: 30_000,
            max_frame_bytes: frame.max_frame_bytes,
            max_body_bytes: frame.max_body_bytes,
            max_headers: frame.max_headers,
            max_header_line_bytes: frame.max_header_line_bytes,
            max_subscriptions_per_connection: broker.max_subscriptions_per_session,
            max_transactions_per_connection: broker.max_transactions_per_session,
            max_frames_per_transaction: broker.max_frames_per_transaction,
            max_queues: broker.max_queues,
        }
    }
}

impl Default for Heartbeat {
    fn default() -> Self {
        let offered = BrokerConfig::default().heartbeat;
        Heartbeat { send_ms: offered.send_ms, receive_ms: offered.receive_ms, grace_factor: 2.0 }
    }
}

impl Default for Delivery {
    fn default() -> Self {
        let broker = BrokerConfig::default();
        Delivery {
            outbox_max_bytes: broker.outbox_max_bytes,
            slow_consumer: SlowConsumer::Disconnect,
            default_prefetch: broker.default_prefetch,
            max_prefetch: broker.max_prefetch,
        }
    }
}

impl Default for Queues {
    fn default() -> Self {
        let limits = QueueLimits::default();
        Queues {
            max_messages: limits.max_messages,
            max_bytes: limits.max_bytes,
            when_full: WhenFull::Block,
            rule: Vec::new(),
        }
    }
}

impl From<WhenFull> for QueueFullPolicy {
    fn from(value: WhenFull) -> Self {
        match value {
            WhenFull::Block => QueueFullPolicy::Block,
            WhenFull::Error => QueueFullPolicy::Error,
        }
    }
}

impl Config {
    /// Parses and checks a TOML document.
    pub fn from_toml_str(text: &str) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text)?;
        config.validate()?;
        Ok(config)
    }

    /// Reads and checks a TOML file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.display().to_string(), source })?;
        Config::from_toml_str(&text)
    }

    /// Checks what serde cannot: non-empty listeners, non-zero limits, protected mode.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |text: &str| Err(ConfigError::Invalid(text.to_owned()));
        if self.listen.is_empty() {
            return invalid("listen needs at least one address");
        }
        if !self.allow_anonymous {
            if let Some(open) = self.listen.iter().find(|addr| !addr.ip().is_loopback()) {
                return Err(ConfigError::Invalid(format!(
                    "listening on {open} would let anyone connect as guest: there are no users yet, \
                     so pass --allow-anonymous (or allow_anonymous = true) to accept that, or listen on 127.0.0.1"
                )));
            }
        }
        let limits = &self.limits;
        for (name, value) in [
            ("limits.max_connections", limits.max_connections),
            ("limits.max_frame_bytes", limits.max_frame_bytes),
            ("limits.max_headers", limits.max_headers),
            ("limits.max_header_line_bytes", limits.max_header_line_bytes),
            ("delivery.outbox_max_bytes", self.delivery.outbox_max_bytes),
            ("delivery.default_prefetch", self.delivery.default_prefetch),
            ("delivery.max_prefetch", self.delivery.max_prefetch),
            ("queues.max_messages", self.queues.max_messages),
        ] {
            if value == 0 {
                return Err(ConfigError::Invalid(format!("{name} must be at least 1")));
            }
        }
        if self.heartbeat.grace_factor.is_nan() || self.heartbeat.grace_factor < 1.0 {
            return invalid("heartbeat.grace_factor must be at least 1.0");
        }
        Ok(())
    }

    /// The parser limits.
    pub fn frame_limits(&self) -> FrameLimits {
        FrameLimits {
            max_frame_bytes: self.limits.max_frame_bytes,
            max_headers: self.limits.max_headers,
            max_header_line_bytes: self.limits.max_header_line_bytes,
            max_body_bytes: self.limits.max_body_bytes,
        }
    }

    /// The broker engine's configuration.
    pub fn broker_config(&self) -> BrokerConfig {
        let queues = &self.queues;
        BrokerConfig {
            heartbeat: heartbeat::Heartbeat { send_ms: self.heartbeat.send_ms, receive_ms: self.heartbeat.receive_ms },
            outbox_max_bytes: self.delivery.outbox_max_bytes,
            slow_consumer: match self.delivery.slow_consumer {
                SlowConsumer::Disconnect => SlowConsumerPolicy::Disconnect,
                SlowConsumer::DropOldest => SlowConsumerPolicy::DropOldest,
            },
            default_prefetch: self.delivery.default_prefetch,
            max_prefetch: self.delivery.max_prefetch,
            max_subscriptions_per_session: self.limits.max_subscriptions_per_connection,
            max_transactions_per_session: self.limits.max_transactions_per_connection,
            max_frames_per_transaction: self.limits.max_frames_per_transaction,
            max_queues: self.limits.max_queues,
            queue_rules: queues
                .rule
                .iter()
                .map(|rule| QueueRule {
                    pattern: rule.pattern.clone(),
                    limits: QueueLimits {
                        max_messages: rule.max_messages.unwrap_or(queues.max_messages),
                        max_bytes: rule.max_bytes.unwrap_or(queues.max_bytes),
                    },
                    when_full: rule.when_full.unwrap_or(queues.when_full).into(),
                })
                .collect(),
            queue_limits: QueueLimits { max_messages: queues.max_messages, max_bytes: queues.max_bytes },
            queue_full: queues.when_full.into(),
            authenticator: Arc::new(GuestOnly),
            ..BrokerConfig::default()
        }
    }

    /// Duration helpers for the connection task.
    pub(crate) fn timeouts(&self) -> Timeouts {
        Timeouts {
            connect: Duration::from_millis(self.limits.connect_timeout_ms),
            error_linger: Duration::from_millis(self.limits.error_linger_ms),
            write: Duration::from_millis(self.limits.write_timeout_ms),
            heartbeat_grace: self.heartbeat.grace_factor,
        }
    }
}

/// The time limits a connection applies.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timeouts {
    pub(crate) connect: Duration,
    pub(crate) error_linger: Duration,
    pub(crate) write: Duration,
    pub(crate) heartbeat_grace: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_is_the_default() {
        assert_eq!(Config::from_toml_str("").unwrap(), Config::default());
    }

    #[test]
    fn unknown_keys_are_errors() {
        let err = Config::from_toml_str("[limits]\nmax_conections = 5\n").unwrap_err();
        assert!(err.to_string().contains("max_conections"), "{err}");
    }

    #[test]
    fn non_loopback_needs_allow_anonymous() {
        let err = Config::from_toml_str("listen = [\"0.0.0.0:61613\"]").unwrap_err();
        assert!(err.to_string().contains("--allow-anonymous"), "{err}");
        assert!(Config::from_toml_str("listen = [\"0.0.0.0:61613\"]\nallow_anonymous = true").is_ok());
    }

    #[test]
    fn queue_rules_inherit_defaults() {
        let config = Config::from_toml_str(
            "[queues]\nmax_messages = 10\n[[queues.rule]]\npattern = \"jobs.**\"\nwhen_full = \"error\"\n",
        )
        .unwrap();
        let broker = config.broker_config();
        assert_eq!(broker.queue_rules[0].limits.max_messages, 10);
        assert_eq!(broker.queue_rules[0].when_full, QueueFullPolicy::Error);
        assert_eq!(broker.queue_full, QueueFullPolicy::Block);
    }
}
