//! `/metrics`: the broker's figures in Prometheus text format. A prometheus-client `Collector`
//! reads the broker when scraped (nothing is counted per message for it) and turns the figures
//! into constant counters and gauges. Per-destination series go to the busiest destinations
//! (most enqueued) only, up to `console.metrics_max_destinations`, so the labels a scrape carries
//! stay bounded however many destinations there are; `stompbox_destinations` counts them all.
//! With several virtual hosts, every series of a host's figures carries a `host` label (its id),
//! and the per-destination cap applies per host; one host's series carry none, as before.

use std::fmt;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeGaugeValue, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use stompbox_core::broker::{Broker, ClusterSnapshot, DestinationSnapshot, MemorySnapshot, StatsSnapshot};
use stompbox_core::store::StoreSnapshot;

use crate::virtual_host::VirtualHosts;

/// The registry `/metrics` encodes: every series is named `stompbox_...`.
pub(crate) fn registry(hosts: &VirtualHosts, max_destinations: usize) -> Registry {
    let labelled = hosts.several();
    let brokers =
        hosts.all().iter().map(|host| (labelled.then(|| host.spec.id.clone()), host.context.broker.clone())).collect();
    let mut registry = Registry::with_prefix("stompbox");
    registry.register_collector(Box::new(BrokerCollector { brokers, max_destinations }));
    registry
}

/// Reads the hosts' brokers on every scrape. See the module docs.
#[derive(Debug)]
struct BrokerCollector {
    /// Each host's broker, with its `host` label when there are several.
    brokers: Vec<(Option<String>, Broker)>,
    max_destinations: usize,
}

/// One host's figures, read at scrape time.
struct Figures<'a> {
    host: Option<&'a str>,
    stats: StatsSnapshot,
    memory: MemorySnapshot,
    store: Option<StoreSnapshot>,
    cluster: Option<ClusterSnapshot>,
    /// Its busiest destinations, up to the cap.
    destinations: Vec<DestinationSnapshot>,
    topics: u64,
    queues: u64,
}

impl Figures<'_> {
    /// `labels` with the host's label first, when it has one.
    fn labels<'l>(&'l self, labels: &[(&'static str, &'l str)]) -> Vec<(&'static str, &'l str)> {
        self.host.map(|host| ("host", host)).into_iter().chain(labels.iter().copied()).collect()
    }
}

/// A figure each host has: its name, help, type and how to read it (`None`: not for this host).
type HostFigure = (&'static str, &'static str, MetricType, fn(&Figures) -> Option<u64>);

const HOST_FIGURES: [HostFigure; 28] = [
    ("connections", "Connections open now.", MetricType::Gauge, |f| Some(f.stats.connections)),
    ("connections_opened", "Connections ever opened.", MetricType::Counter, |f| Some(f.stats.connections_total)),
    ("messages_in", "Messages accepted from SEND frames.", MetricType::Counter, |f| Some(f.stats.messages_in)),
    ("messages_out", "MESSAGE frames written to connections.", MetricType::Counter, |f| Some(f.stats.messages_out)),
    ("bytes_in", "Bytes read from connections.", MetricType::Counter, |f| Some(f.stats.bytes_in)),
    ("bytes_out", "Bytes written to connections.", MetricType::Counter, |f| Some(f.stats.bytes_out)),
    ("slow_consumers", "Subscribers disconnected for falling behind.", MetricType::Counter, |f| {
        Some(f.stats.slow_consumers)
    }),
    ("dropped_messages", "Topic messages dropped by the drop-oldest policy.", MetricType::Counter, |f| {
        Some(f.stats.dropped)
    }),
    ("expired_messages", "Messages discarded because they expired.", MetricType::Counter, |f| Some(f.stats.expired)),
    ("redelivered_messages", "Queue messages returned for redelivery.", MetricType::Counter, |f| {
        Some(f.stats.redelivered)
    }),
    ("queues_deleted", "Queues deleted after standing unused.", MetricType::Counter, |f| Some(f.stats.queues_deleted)),
    ("topics_deleted", "Topics deleted after standing unused.", MetricType::Counter, |f| Some(f.stats.topics_deleted)),
    ("memory_held_bytes", "Bytes held for messages.", MetricType::Gauge, |f| Some(f.memory.held)),
    ("memory_high_watermark_bytes", "The memory bound's high watermark.", MetricType::Gauge, |f| {
        Some(f.memory.high_watermark)
    }),
    ("memory_over_watermark", "1 while publishers are held back by the memory bound.", MetricType::Gauge, |f| {
        Some(u64::from(f.memory.over))
    }),
    ("memory_watermark_crossings", "Times the high watermark was passed.", MetricType::Counter, |f| {
        Some(f.memory.crossings)
    }),
    ("store_commits", "Batches the store wrote, one sync each.", MetricType::Counter, |f| {
        f.store.as_ref().map(|s| s.commits)
    }),
    ("store_operations_written", "Stores and removals written.", MetricType::Counter, |f| {
        f.store.as_ref().map(|s| s.written)
    }),
    ("store_pending_bytes", "Bytes waiting for the store's writer.", MetricType::Gauge, |f| {
        f.store.as_ref().map(|s| s.pending_bytes)
    }),
    ("store_disk_bytes", "Bytes the store holds on disk.", MetricType::Gauge, |f| {
        f.store.as_ref().map(|s| s.disk_bytes)
    }),
    ("store_failed", "1 once the store has failed and writes nothing more.", MetricType::Gauge, |f| {
        f.store.as_ref().map(|s| u64::from(s.failed.is_some()))
    }),
    ("cluster_connected", "1 while the cluster bridge reaches NATS.", MetricType::Gauge, |f| {
        f.cluster.as_ref().map(|c| u64::from(c.state == "connected"))
    }),
    ("cluster_published", "Topic messages sent to other nodes.", MetricType::Counter, |f| {
        f.cluster.as_ref().map(|c| c.published)
    }),
    ("cluster_received", "Topic messages received from other nodes.", MetricType::Counter, |f| {
        f.cluster.as_ref().map(|c| c.received)
    }),
    ("cluster_dropped", "Topic messages not sent to, or not taken from, NATS.", MetricType::Counter, |f| {
        f.cluster.as_ref().map(|c| c.dropped)
    }),
    ("cluster_queues", "Queues this node takes messages from JetStream for.", MetricType::Gauge, |f| {
        f.cluster.as_ref().map(|c| c.queues)
    }),
    ("cluster_queue_sent", "Queue messages stored in JetStream.", MetricType::Counter, |f| {
        f.cluster.as_ref().map(|c| c.queue_sent)
    }),
    ("cluster_queue_received", "Queue messages taken from JetStream.", MetricType::Counter, |f| {
        f.cluster.as_ref().map(|c| c.queue_received)
    }),
];

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

impl BrokerCollector {
    fn figures<'a>(&self, host: Option<&'a str>, broker: &Broker) -> Figures<'a> {
        let mut destinations = broker.destinations();
        let count = |kind| destinations.iter().filter(|d| d.kind == kind).count() as u64;
        let (topics, queues) = (count("topic"), count("queue"));
        destinations.sort_by(|a, b| b.enqueued.cmp(&a.enqueued).then_with(|| a.destination.cmp(&b.destination)));
        destinations.truncate(self.max_destinations);
        Figures {
            host,
            stats: broker.stats(),
            memory: broker.memory_snapshot(),
            store: broker.store().map(|store| store.snapshot()),
            cluster: broker.cluster_snapshot(),
            destinations,
            topics,
            queues,
        }
    }
}

impl Collector for BrokerCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> fmt::Result {
        let out = &mut encoder;
        let hosts: Vec<Figures> =
            self.brokers.iter().map(|(host, broker)| self.figures(host.as_deref(), broker)).collect();
        let info = [("version", super::view::VERSION)];
        family(out, "build_info", "The broker's version, as a label.", MetricType::Gauge, [(info, 1)])?;
        let started = self.brokers[0].1.started_at_ms() as f64 / 1000.0;
        gauge(out, "start_time_seconds", "When the broker started, in seconds since the epoch.", started)?;
        for (name, help, metric_type, figure) in HOST_FIGURES {
            let rows: Vec<_> = hosts.iter().filter_map(|f| figure(f).map(|value| (f.labels(&[]), value))).collect();
            if !rows.is_empty() {
                family(out, name, help, metric_type, rows)?;
            }
        }
        let closes =
            hosts.iter().flat_map(|f| f.stats.closes.iter().map(|(reason, n)| (f.labels(&[("reason", reason)]), *n)));
        family(out, "connections_closed", "Closed connections, by reason.", MetricType::Counter, closes)?;
        let counts = hosts
            .iter()
            .flat_map(|f| [(f.labels(&[("kind", "topic")]), f.topics), (f.labels(&[("kind", "queue")]), f.queues)]);
        family(out, "destinations", "Topics and queues.", MetricType::Gauge, counts)?;
        for (name, help, metric_type, figure) in DESTINATION_FIGURES {
            let rows = hosts.iter().flat_map(|f| {
                f.destinations
                    .iter()
                    .map(|d| (f.labels(&[("destination", d.destination.as_str()), ("kind", d.kind)]), figure(d)))
            });
            family(out, name, help, metric_type, rows)?;
        }
        Ok(())
    }
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
