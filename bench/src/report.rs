//! The result of one scenario: printed as a human summary, or as one JSON object with `--json`.

use std::fmt;

use serde::Serialize;

use crate::stats::Latency;

/// Everything one scenario measured. Counts are messages (connections for `connections`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// Scenario name: `fanout`, `queue`, `latency`, `connections`, `persistent`, `relay-ceiling`.
    pub scenario: String,
    /// The broker, as given by `--url`.
    pub url: String,
    /// The CONNECTED `server` header (empty if the broker sends none).
    pub server: String,
    /// The negotiated STOMP version (empty for `relay-ceiling`).
    pub stomp_version: String,
    /// Producer connections.
    pub producers: usize,
    /// Consumer or subscriber connections.
    pub consumers: usize,
    /// Body size in bytes.
    pub size: usize,
    /// Messages written (CONNECT frames for `connections`).
    pub sent: u64,
    /// Messages received by all consumers together (CONNECTED frames for `connections`).
    pub delivered: u64,
    /// Deliveries that should have happened: `sent` times subscribers for topics.
    pub expected: u64,
    /// Seconds from the first send until producing stopped.
    pub send_seconds: f64,
    /// Seconds from the first send until the last delivery.
    pub seconds: f64,
    /// `sent / send_seconds`.
    pub sent_per_s: f64,
    /// `delivered / seconds` (connections per second for `connections`).
    pub msgs_per_s: f64,
    /// Expected deliveries that never arrived.
    pub lost: u64,
    /// Deliveries of a message already delivered (to the same subscriber, or on a queue to any).
    pub duplicated: u64,
    /// End-to-end latency (handshake round trip for `connections`).
    pub latency_us: Latency,
    /// ERROR frames and failures seen.
    pub errors: u64,
    /// The first few of them.
    pub error_messages: Vec<String>,
    /// The run was stopped by Ctrl-C.
    pub interrupted: bool,
    /// CPU seconds this load generator used (to tell whether it was the bottleneck).
    pub client_cpu_seconds: Option<f64>,
    /// CPU seconds the broker used during the run (with `--pid`).
    pub broker_cpu_seconds: Option<f64>,
    /// `broker_cpu_seconds` per million messages delivered (flow scenarios: the CPU time is that
    /// of producing and draining, not of connecting and subscribing).
    pub broker_cpu_seconds_per_million: Option<f64>,
    /// Broker RSS before the run, KiB (with `--pid`).
    pub broker_rss_before_kib: Option<u64>,
    /// Broker RSS at the end of the run (for `connections`: with every connection open), KiB.
    pub broker_rss_after_kib: Option<u64>,
    /// `connections`: (after - before) / connections, in KiB.
    pub rss_per_connection_kib: Option<f64>,
    /// Flow scenarios: broker RSS growth while the subscribers connected and subscribed, over
    /// the subscribers, in KiB.
    pub rss_per_subscriber_kib: Option<f64>,
    /// `connections`: broker RSS after they were closed again, KiB.
    pub broker_rss_closed_kib: Option<u64>,
    /// `latency`: the target rate in messages per second.
    pub rate: Option<u64>,
    /// Producer in-flight window (0 = none).
    pub window: Option<u64>,
    /// `room --churn`: subscribe-unsubscribe cycles completed while producing.
    pub churned: Option<u64>,
    /// `persistent`: RECEIPTs received for SENDs.
    pub receipts: Option<u64>,
    /// Anything the reader must know to interpret the numbers.
    pub note: Option<String>,
}

/// Most error messages kept in a report.
pub const MAX_ERROR_MESSAGES: usize = 10;

impl Report {
    /// Records one error, keeping the first [`MAX_ERROR_MESSAGES`] distinct texts.
    pub fn add_error(&mut self, message: String) {
        self.errors += 1;
        if self.error_messages.len() < MAX_ERROR_MESSAGES && !self.error_messages.contains(&message) {
            self.error_messages.push(message);
        }
    }

    /// One JSON object on one line.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a report always serializes")
    }
}

/// `1234567.8` as `1,234,568`.
fn grouped(value: f64) -> String {
    let digits = format!("{:.0}", value.max(0.0));
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let version =
            if self.stomp_version.is_empty() { String::new() } else { format!(", STOMP {}", self.stomp_version) };
        writeln!(f, "{} against {}{}", self.scenario, self.url, version)?;
        if self.scenario == "connections" {
            writeln!(
                f,
                "  opened     {} of {} connections in {:.2} s: {} conn/s",
                grouped(self.delivered as f64),
                grouped(self.sent as f64),
                self.seconds,
                grouped(self.msgs_per_s)
            )?;
            if let (Some(before), Some(after)) = (self.broker_rss_before_kib, self.broker_rss_after_kib) {
                let per = self.rss_per_connection_kib.unwrap_or(0.0);
                writeln!(f, "  broker RSS {before} KiB -> {after} KiB with all open: {per:.1} KiB per connection")?;
            }
            if let Some(closed) = self.broker_rss_closed_kib {
                writeln!(f, "  broker RSS {closed} KiB after closing them")?;
            }
        } else {
            writeln!(
                f,
                "  {} producer(s) -> {} consumer(s), {} B bodies{}",
                self.producers,
                self.consumers,
                self.size,
                self.rate.map(|r| format!(", {r} msgs/s offered")).unwrap_or_default()
            )?;
            writeln!(
                f,
                "  sent       {:>12} msgs in {:.2} s: {:>10} msgs/s",
                grouped(self.sent as f64),
                self.send_seconds,
                grouped(self.sent_per_s)
            )?;
            writeln!(
                f,
                "  delivered  {:>12} msgs in {:.2} s: {:>10} msgs/s",
                grouped(self.delivered as f64),
                self.seconds,
                grouped(self.msgs_per_s)
            )?;
            writeln!(f, "  lost {}  duplicated {}", self.lost, self.duplicated)?;
        }
        let l = &self.latency_us;
        writeln!(
            f,
            "  latency µs p50 {:.1}  p99 {:.1}  p99.9 {:.1}  max {:.1}  ({} samples)",
            l.p50, l.p99, l.p999, l.max, l.count
        )?;
        if let (Some(client), Some(broker)) = (self.client_cpu_seconds, self.broker_cpu_seconds) {
            write!(f, "  cpu s      bench {client:.2}  broker {broker:.2}")?;
            if let Some(per_million) = self.broker_cpu_seconds_per_million {
                write!(f, " ({per_million:.3} per million deliveries)")?;
            }
            writeln!(f)?;
        } else if let Some(client) = self.client_cpu_seconds {
            writeln!(f, "  cpu s      bench {client:.2}")?;
        }
        if let Some(per) = self.rss_per_subscriber_kib {
            writeln!(f, "  broker RSS {per:.1} KiB per subscriber")?;
        }
        if let Some(churned) = self.churned {
            writeln!(f, "  churn      {churned} subscribe-unsubscribe cycles during the run")?;
        }
        write!(f, "  errors {}", self.errors)?;
        for message in &self.error_messages {
            write!(f, "\n    {message}")?;
        }
        if self.interrupted {
            write!(f, "\n  interrupted by Ctrl-C: partial results")?;
        }
        if let Some(note) = &self.note {
            write!(f, "\n  note: {note}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_grouped_by_thousands() {
        assert_eq!(grouped(0.0), "0");
        assert_eq!(grouped(999.4), "999");
        assert_eq!(grouped(1234567.8), "1,234,568");
    }

    #[test]
    fn json_has_the_required_fields() {
        let report = Report { scenario: "queue".into(), sent: 3, delivered: 3, ..Report::default() };
        let value: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
        for key in ["scenario", "sent", "delivered", "msgs_per_s", "lost", "duplicated", "errors"] {
            assert!(value.get(key).is_some(), "{key}");
        }
        for key in ["p50", "p99", "p999", "max"] {
            assert!(value["latency_us"].get(key).is_some(), "{key}");
        }
    }
}
