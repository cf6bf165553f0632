//! `/metrics`: the broker's figures in Prometheus text format. A prometheus-client `Collector`
//! reads the broker when scraped (nothing is counted per message for it) and turns the figures
//! into constant counters and gauges. Per-destination series go to the busiest destinations
//! (most enqueued) only, up to `console.metrics_max_destinations`, so the labels a scrape carries
//! stay bounded however many destinations there are; `stompbox_destinations` counts them all.

use std::fmt;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeGaugeValue, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use stompbox_core::broker::{Broker, DestinationSnapshot};

/// The registry `/metrics` encodes: every series is named `stompbox_...`.
pub(crate) fn registry(broker: Broker, max_destinations: usize) -> Registry {
    let mut registry = Registry::with_prefix("stompbox");
    registry.register_collector(Box::new(BrokerCollector { broker, max_destinations }));
    registry
}

/// Reads the broker on every scrape. See the module docs.
#[derive(Debug)]
struct BrokerCollector {
    broker: Broker,
    max_destinations: usize,
}

/// A per-destination figure: its name, help, type and how to read it.
type DestinationFigure = (&'static str, &'static str, MetricType, fn(&DestinationSnapshot) -> u64);

const DESTINATION_FIGURES: [DestinationFigure; 8] = [
    ("destination_producers", "Connections publishing to the destination.", MetricType::Gauge, |d| d.producers),
    ("destination_consumers", "Subscriptions receiving from the destination.", MetricType::Gauge, |d| d.consumers),
    ("destination_depth_messages", "Messages waiting or unacknowledged (queues).", MetricType::Gauge, |d| d.depth),
    ("destination_depth_bytes", "Bytes those messages hold (queues).", MetricType::Gauge, |d| d.bytes),
    ("destination_enqueued", "Messages accepted for the destination.", MetricType::Counter, |d| d.enqueued),
    (
        "destination_dequeued",
        "Messages handed out (topics: deliveries; queues: acknowledged).",
        MetricType::Counter,
        |d| d.dequeued,
    ),
    ("destination_dropped", "Messages lost to slow subscribers.", MetricType::Counter, |d| d.dropped),
    ("destination_expired", "Messages that expired.", MetricType::Counter, |d| d.expired),
];

impl Collector for BrokerCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> fmt::Result {
        let broker = &self.broker;
        let out = &mut encoder;
        let stats = broker.stats();
        let info = [("version", super::view::VERSION)];
        family(out, "build_info", "The broker's version, as a label.", MetricType::Gauge, [(info, 1)])?;
        let started = broker.started_at_ms() as f64 / 1000.0;
        gauge(out, "start_time_seconds", "When the broker started, in seconds since the epoch.", started)?;
        gauge(out, "connections", "Connections open now.", stats.connections)?;
        counter(out, "connections_opened", "Connections ever opened.", stats.connections_total)?;
        counter(out, "messages_in", "Messages accepted from SEND frames.", stats.messages_in)?;
        counter(out, "messages_out", "MESSAGE frames written to connections.", stats.messages_out)?;
        counter(out, "bytes_in", "Bytes read from connections.", stats.bytes_in)?;
        counter(out, "bytes_out", "Bytes written to connections.", stats.bytes_out)?;
        counter(out, "slow_consumers", "Subscribers disconnected for falling behind.", stats.slow_consumers)?;
        counter(out, "dropped_messages", "Topic messages dropped by the drop-oldest policy.", stats.dropped)?;
        counter(out, "expired_messages", "Messages discarded because they expired.", stats.expired)?;
        counter(out, "redelivered_messages", "Queue messages returned for redelivery.", stats.redelivered)?;
        counter(out, "queues_deleted", "Queues deleted after standing unused.", stats.queues_deleted)?;
        counter(out, "topics_deleted", "Topics deleted after standing unused.", stats.topics_deleted)?;
        let closes = stats.closes.iter().map(|(reason, count)| ([("reason", *reason)], *count));
        family(out, "connections_closed", "Closed connections, by reason.", MetricType::Counter, closes)?;
        let memory = broker.memory_snapshot();
        gauge(out, "memory_held_bytes", "Bytes held for messages.", memory.held)?;
        gauge(out, "memory_high_watermark_bytes", "The memory bound's high watermark.", memory.high_watermark)?;
        gauge(
            out,
            "memory_over_watermark",
            "1 while publishers are held back by the memory bound.",
            u64::from(memory.over),
        )?;
        counter(out, "memory_watermark_crossings", "Times the high watermark was passed.", memory.crossings)?;
        if let Some(store) = broker.store().map(|store| store.snapshot()) {
            counter(out, "store_commits", "Batches the store wrote, one sync each.", store.commits)?;
            counter(out, "store_operations_written", "Stores and removals written.", store.written)?;
            gauge(out, "store_pending_bytes", "Bytes waiting for the store's writer.", store.pending_bytes)?;
            gauge(out, "store_disk_bytes", "Bytes the store holds on disk.", store.disk_bytes)?;
            gauge(
                out,
                "store_failed",
                "1 once the store has failed and writes nothing more.",
                u64::from(store.failed.is_some()),
            )?;
        }
        if let Some(cluster) = broker.cluster_snapshot() {
            let connected = u64::from(cluster.state == "connected");
            gauge(out, "cluster_connected", "1 while the cluster bridge reaches NATS.", connected)?;
            counter(out, "cluster_published", "Topic messages sent to other nodes.", cluster.published)?;
            counter(out, "cluster_received", "Topic messages received from other nodes.", cluster.received)?;
            counter(out, "cluster_dropped", "Topic messages not sent to, or not taken from, NATS.", cluster.dropped)?;
            gauge(out, "cluster_queues", "Queues this node takes messages from JetStream for.", cluster.queues)?;
            counter(out, "cluster_queue_sent", "Queue messages stored in JetStream.", cluster.queue_sent)?;
            counter(out, "cluster_queue_received", "Queue messages taken from JetStream.", cluster.queue_received)?;
        }
        let mut destinations = broker.destinations();
        let count = |kind| destinations.iter().filter(|d| d.kind == kind).count() as u64;
        let counts = [([("kind", "topic")], count("topic")), ([("kind", "queue")], count("queue"))];
        family(out, "destinations", "Topics and queues.", MetricType::Gauge, counts)?;
        destinations.sort_by(|a, b| b.enqueued.cmp(&a.enqueued).then_with(|| a.destination.cmp(&b.destination)));
        destinations.truncate(self.max_destinations);
        for (name, help, metric_type, figure) in DESTINATION_FIGURES {
            let rows =
                destinations.iter().map(|d| ([("destination", d.destination.as_str()), ("kind", d.kind)], figure(d)));
            family(out, name, help, metric_type, rows)?;
        }
        Ok(())
    }
}

fn counter(encoder: &mut DescriptorEncoder, name: &str, help: &str, value: u64) -> fmt::Result {
    let metric = ConstCounter::new(value);
    metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)
}

fn gauge(encoder: &mut DescriptorEncoder, name: &str, help: &str, value: impl EncodeGaugeValue) -> fmt::Result {
    let metric = ConstGauge::new(value);
    metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)
}

/// A labelled family of counters or gauges.
fn family<L: EncodeLabelSet>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    metric_type: MetricType,
    rows: impl IntoIterator<Item = (L, u64)>,
) -> fmt::Result {
    let mut metrics = encoder.encode_descriptor(name, help, None, metric_type)?;
    for (labels, value) in rows {
        let series = metrics.encode_family(&labels)?;
        match metric_type {
            MetricType::Counter => ConstCounter::new(value).encode(series)?,
            _ => ConstGauge::new(value).encode(series)?,
        }
    }
    Ok(())
}
