//! The command line: options shared by every scenario (`--url`, `--json`, `--duration`, ...)
//! and one subcommand per scenario.

use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Load generator for STOMP brokers. Runs one scenario and prints a summary (or, with
/// `--json`, one JSON object on stdout).
#[derive(Debug, Clone, Parser)]
#[command(version, about)]
pub struct Cli {
    /// The scenario to run.
    #[command(subcommand)]
    pub scenario: Scenario,
    /// The broker: `tcp://host:port`, `ssl://` or `tls://` (TLS), `ws://host:port/path`
    /// (WebSocket) or `wss://` (WebSocket over TLS). Several, separated by commas (the nodes of a
    /// cluster): producer and consumer connections go to them in turn.
    #[arg(long, global = true, default_value = "tcp://127.0.0.1:61613")]
    pub url: String,
    /// TLS: trust the CA certificates in this PEM file.
    #[arg(long, global = true)]
    pub ca: Option<std::path::PathBuf>,
    /// TLS: accept any certificate (for benchmarks against a self-signed one).
    #[arg(long, global = true)]
    pub insecure: bool,
    /// Login sent in CONNECT.
    #[arg(long, global = true)]
    pub user: Option<String>,
    /// Passcode sent in CONNECT.
    #[arg(long, global = true)]
    pub pass: Option<String>,
    /// Virtual host sent as the CONNECT `host` header (RabbitMQ's default vhost is `/`).
    #[arg(long, global = true, default_value = "/")]
    pub vhost: String,
    /// Print one JSON object on stdout instead of the human summary (no progress line).
    #[arg(long, global = true)]
    pub json: bool,
    /// How long to produce, e.g. `10s`, `500ms` (default 10s, or until `--count` is sent).
    #[arg(long, global = true, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Stop after sending this many messages in all (or opening this many connections).
    #[arg(long, global = true)]
    pub count: Option<u64>,
    /// Message body size in bytes.
    #[arg(long, global = true, default_value_t = 100)]
    pub size: usize,
    /// The broker's process id: its RSS and CPU time are read from /proc and reported.
    #[arg(long, global = true)]
    pub pid: Option<u32>,
    /// Destination name (without `/topic/` or `/queue/`); default: unique per run.
    #[arg(long, global = true)]
    pub destination: Option<String>,
    /// How long to wait after subscribing before producing: a cluster's other nodes learn of a
    /// subscription a moment after its RECEIPT (default 0).
    #[arg(long, global = true, default_value = "0s", value_parser = parse_duration)]
    pub settle: Duration,
    /// How long to wait for outstanding deliveries after producing stops.
    #[arg(long, global = true, default_value = "5s", value_parser = parse_duration)]
    pub drain: Duration,
}

/// One scenario per subcommand.
#[derive(Debug, Clone, Subcommand)]
pub enum Scenario {
    /// P producers -> /topic/... -> C subscribers: throughput and end-to-end latency.
    Fanout {
        /// Producer connections.
        #[arg(long, default_value_t = 1)]
        producers: usize,
        /// Subscriber connections; each receives every message.
        #[arg(long, default_value_t = 4)]
        subscribers: usize,
        /// Extra subscribers that subscribe and then never read (a stuck client): the broker
        /// must not let them hold the others back for long.
        #[arg(long, default_value_t = 0)]
        stuck: usize,
        /// A `selector` every subscriber subscribes with, e.g. `"bench_prod >= 0"` (which
        /// selects every message), to measure what evaluating selectors costs.
        #[arg(long)]
        selector: Option<String>,
        /// Producer pacing and batching.
        #[command(flatten)]
        load: Load,
    },
    /// P producers -> /queue/... -> C consumers: throughput, no loss, no duplicates.
    Queue {
        /// Producer connections.
        #[arg(long, default_value_t = 2)]
        producers: usize,
        /// Consumer connections; each message goes to one of them.
        #[arg(long, default_value_t = 2)]
        consumers: usize,
        /// Acknowledgement mode of the subscriptions.
        #[arg(long, value_enum, default_value_t = AckMode::ClientIndividual)]
        ack: AckMode,
        /// Unacknowledged messages per consumer (`prefetch-count` and `activemq.prefetchSize`).
        #[arg(long, default_value_t = 1000)]
        prefetch: u32,
        /// Producer pacing and batching.
        #[command(flatten)]
        load: Load,
    },
    /// P producers -> /topic/... -> one durable subscription that C consumers share (each
    /// message to one of them, acknowledged one by one): the path a topic's backlog takes, in
    /// a cluster through JetStream.
    Durable {
        /// Producer connections.
        #[arg(long, default_value_t = 1)]
        producers: usize,
        /// Consumer connections of the durable subscription.
        #[arg(long, default_value_t = 1)]
        consumers: usize,
        /// Unacknowledged messages per consumer.
        #[arg(long, default_value_t = 1000)]
        prefetch: u32,
        /// Producer pacing and batching.
        #[command(flatten)]
        load: Load,
    },
    /// One producer at a fixed rate -> /topic/... -> one subscriber: latency percentiles.
    Latency {
        /// Messages per second.
        #[arg(long, default_value_t = 1000)]
        rate: u64,
    },
    /// A chat room: P publishers at a fixed total rate -> one topic -> N subscribers, each
    /// receiving every message: deliveries/s, latency, broker CPU per delivery and RSS per
    /// subscriber.
    Room {
        /// Publisher connections; they share the rate.
        #[arg(long, default_value_t = 1)]
        publishers: usize,
        /// Subscriber connections; each receives every message.
        #[arg(long, default_value_t = 1000)]
        subscribers: usize,
        /// Messages per second, all publishers together.
        #[arg(long, default_value_t = 1000)]
        rate: u64,
        /// Subscriptions that come and go during the run: one more connection subscribes and
        /// unsubscribes again this many times a second (0: none).
        #[arg(long, default_value_t = 0)]
        churn: u64,
    },
    /// Opens K idle connections (CONNECT -> CONNECTED), reports connections/s and broker RSS.
    Connections {
        /// Connections to open (`--count` also sets this).
        #[arg(long, default_value_t = 1000)]
        connections: u64,
        /// Handshakes in flight at once.
        #[arg(long, default_value_t = 256)]
        concurrency: usize,
        /// How long the connections stay open before RSS is read and they are closed.
        #[arg(long, default_value = "1s", value_parser = parse_duration)]
        hold: Duration,
    },
    /// The queue scenario with `persistent:true` and a receipt on every SEND.
    Persistent {
        /// Producer connections.
        #[arg(long, default_value_t = 2)]
        producers: usize,
        /// Consumer connections.
        #[arg(long, default_value_t = 2)]
        consumers: usize,
        /// Unacknowledged messages per consumer.
        #[arg(long, default_value_t = 1000)]
        prefetch: u32,
        /// SENDs whose RECEIPT has not arrived, per producer, before it waits.
        #[arg(long, default_value_t = 1000)]
        receipt_window: u64,
        /// Producer pacing and batching.
        #[command(flatten)]
        load: Load,
    },
    /// The ceiling: a plain loopback TCP relay of fixed-size records (1 producer -> relay -> C
    /// readers, batched writes, no STOMP, no broker). Ignores `--url`.
    RelayCeiling {
        /// Reader connections; each receives every record.
        #[arg(long, default_value_t = 4)]
        subscribers: usize,
        /// Records per second, paced as a room's publisher is (default: as fast as the window
        /// allows).
        #[arg(long)]
        rate: Option<u64>,
        /// Producer pacing and batching.
        #[command(flatten)]
        load: Load,
    },
}

/// How producers pace themselves.
#[derive(Debug, Clone, Copy, Args)]
pub struct Load {
    /// Messages sent but not yet delivered (to every subscriber, for topics) before producers
    /// wait; 0 = no limit. Keeps broker buffers bounded so throughput is sustainable.
    #[arg(long, default_value_t = 10_000)]
    pub window: u64,
    /// Most SEND frames encoded into one write.
    #[arg(long, default_value_t = 64)]
    pub batch: usize,
}

/// STOMP subscription acknowledgement modes the bench uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AckMode {
    /// The broker considers a message acknowledged once sent.
    Auto,
    /// Every message is acknowledged on its own (`ACK` with its `ack` id).
    ClientIndividual,
}

impl AckMode {
    /// The SUBSCRIBE `ack` header value.
    pub fn as_str(self) -> &'static str {
        match self {
            AckMode::Auto => "auto",
            AckMode::ClientIndividual => "client-individual",
        }
    }
}

/// Parses `10s`, `250ms`, `2m` or a bare number of seconds (`1.5`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, scale) = if let Some(n) = text.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('m') {
        (n, 60.0)
    } else {
        (text, 1.0)
    };
    let value: f64 = number.trim().parse().map_err(|_| format!("invalid duration {text:?}"))?;
    if !value.is_finite() || value < 0.0 {
        return Err(format!("invalid duration {text:?}"));
    }
    Ok(Duration::from_secs_f64(value * scale))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_units() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("-1s").is_err());
    }

    #[test]
    fn global_options_may_follow_the_scenario() {
        let cli =
            Cli::try_parse_from(["stompbox-bench", "queue", "--count", "200", "--json", "--ack", "auto"]).unwrap();
        assert!(cli.json);
        assert_eq!(cli.count, Some(200));
        assert!(matches!(cli.scenario, Scenario::Queue { ack: AckMode::Auto, producers: 2, consumers: 2, .. }));
    }
}
