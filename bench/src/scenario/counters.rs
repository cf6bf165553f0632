//! What the tasks of one run share while it runs: messages sent, delivered and receipted, the
//! errors seen, the waits built on them, and the report they add up to (the `flow` scenarios and
//! the relay ceiling alike).

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use parking_lot::Mutex;
use tokio::sync::futures::Notified;
use tokio::sync::Notify;

use super::{per_second, Ctx};
use crate::report::Report;
use crate::stats::{histogram, Latency, Tracker};

/// Counters the producers and consumers of one run share.
pub(super) struct Counters {
    /// Every consumer receives every message (a topic).
    fanout: bool,
    /// Messages written by all producers.
    pub(super) sent: AtomicU64,
    /// Messages received, per consumer.
    delivered: Vec<AtomicU64>,
    /// Messages received by all consumers together (summing `delivered` costs a pass over
    /// thousands of counters in a room).
    delivered_total: AtomicU64,
    /// RECEIPTs received, per producer.
    pub(super) receipts: Vec<AtomicU64>,
    /// Woken when deliveries or receipts arrive.
    pub(super) progress: Notify,
    /// [`now_ns`](crate::stats::now_ns) of the latest delivery.
    pub(super) last_delivery_ns: AtomicU64,
    /// End-to-end latency in nanoseconds, in a few shards rather than one histogram per
    /// consumer: a histogram takes about 270 KiB, too much for each of 10,000 subscribers.
    latency: Vec<Mutex<Histogram<u64>>>,
    /// Errors seen by any task.
    errors: Mutex<Report>,
}

/// Latency histograms shared by the consumers (consumer `i` records into shard `i % SHARDS`).
const LATENCY_SHARDS: usize = 8;

impl Counters {
    /// Counters for `producers` producers and `consumers` consumers.
    pub(super) fn new(fanout: bool, producers: usize, consumers: usize) -> Counters {
        Counters {
            fanout,
            sent: AtomicU64::new(0),
            delivered: (0..consumers).map(|_| AtomicU64::new(0)).collect(),
            delivered_total: AtomicU64::new(0),
            receipts: (0..producers).map(|_| AtomicU64::new(0)).collect(),
            progress: Notify::new(),
            last_delivery_ns: AtomicU64::new(0),
            latency: (0..LATENCY_SHARDS).map(|_| Mutex::new(histogram())).collect(),
            errors: Mutex::new(Report::default()),
        }
    }

    /// Records that consumer `index` received `count` messages in a read at `now_ns`, and wakes
    /// whoever waits for progress.
    pub(super) fn record_delivered(&self, index: usize, count: u64, now_ns: u64) {
        self.delivered[index].fetch_add(count, Ordering::Relaxed);
        self.delivered_total.fetch_add(count, Ordering::Relaxed);
        self.last_delivery_ns.fetch_max(now_ns, Ordering::Relaxed);
        self.progress.notify_waiters();
    }

    /// Records the latencies (ns) consumer `index` measured in one read.
    pub(super) fn record_latency(&self, index: usize, samples: &[u64]) {
        if samples.is_empty() {
            return;
        }
        let mut shard = self.latency[index % LATENCY_SHARDS].lock();
        for &ns in samples {
            let _ = shard.record(ns.max(1));
        }
    }

    /// Messages received by all consumers.
    pub(super) fn total_delivered(&self) -> u64 {
        self.delivered_total.load(Ordering::Relaxed)
    }

    /// Messages no longer in flight: delivered to every subscriber (topic) or to one (queue).
    pub(super) fn settled(&self) -> u64 {
        if self.fanout {
            self.delivered.iter().map(|d| d.load(Ordering::Relaxed)).min().unwrap_or(0)
        } else {
            self.total_delivered()
        }
    }

    /// Deliveries due for what was sent: one per subscriber (topic) or one in all (queue).
    pub(super) fn expected(&self) -> u64 {
        let sent = self.sent.load(Ordering::SeqCst);
        if self.fanout {
            sent * self.delivered.len() as u64
        } else {
            sent
        }
    }

    /// Messages sent but not yet settled.
    pub(super) fn in_flight(&self) -> u64 {
        self.sent.load(Ordering::Relaxed).saturating_sub(self.settled())
    }

    /// Records an error for the report.
    pub(super) fn error(&self, message: String) {
        self.errors.lock().add_error(message);
    }

    /// The report of a finished run: counts, rates, loss, duplicates, latency and errors, from
    /// these counters and what the consumers recorded. Producing began at `start_ns` and lasted
    /// `send_seconds`; the caller fills in what is its own (scenario, connections, note).
    pub(super) fn report(&self, start_ns: u64, send_seconds: f64, trackers: &[Tracker]) -> Report {
        let sent = self.sent.load(Ordering::SeqCst);
        let delivered = self.total_delivered();
        let seconds = self.last_delivery_ns.load(Ordering::SeqCst).saturating_sub(start_ns) as f64 / 1e9;
        let (lost, duplicated) = self.lost_and_duplicated(sent, trackers);
        let errors = std::mem::take(&mut *self.errors.lock());
        let mut latency = histogram();
        for shard in &self.latency {
            let _ = latency.add(&*shard.lock());
        }
        Report {
            sent,
            delivered,
            expected: self.expected(),
            send_seconds: (send_seconds * 1000.0).round() / 1000.0,
            seconds: (seconds * 1000.0).round() / 1000.0,
            sent_per_s: per_second(sent, send_seconds),
            msgs_per_s: per_second(delivered, seconds),
            lost,
            duplicated,
            latency_us: Latency::from_histogram(&latency),
            errors: errors.errors,
            error_messages: errors.error_messages,
            ..Report::default()
        }
    }

    /// Messages lost and duplicated: per subscriber on a topic (each must see every message),
    /// over all consumers together on a queue (each message must reach exactly one).
    fn lost_and_duplicated(&self, sent: u64, trackers: &[Tracker]) -> (u64, u64) {
        if self.fanout {
            let lost = trackers.iter().map(|t| sent.saturating_sub(t.unique)).sum();
            (lost, trackers.iter().map(|t| t.duplicated).sum())
        } else {
            let mut all = Tracker::default();
            for tracker in trackers {
                all.merge(tracker);
            }
            (sent.saturating_sub(all.unique), all.duplicated)
        }
    }
}

/// Waits until every [expected](Counters::expected) delivery arrived, or nothing arrived for
/// `--drain` (1 s after Ctrl-C), or a second Ctrl-C.
pub(super) async fn wait_for_deliveries(ctx: &Ctx, counters: &Counters) {
    let expected = counters.expected();
    let quiet_limit = if ctx.stop.is_cancelled() && ctx.interrupted.load(Ordering::SeqCst) {
        ctx.cli.drain.min(Duration::from_secs(1))
    } else {
        ctx.cli.drain
    };
    let mut seen = counters.total_delivered();
    let mut quiet_since = Instant::now();
    loop {
        let notified = counters.progress.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let now = counters.total_delivered();
        if now >= expected || ctx.abort.is_cancelled() {
            return;
        }
        if now != seen {
            seen = now;
            quiet_since = Instant::now();
        } else if quiet_since.elapsed() >= quiet_limit {
            return;
        }
        tokio::select! {
            () = &mut notified => {}
            () = tokio::time::sleep(Duration::from_millis(50)) => {}
            () = ctx.abort.cancelled() => return,
        }
    }
}

/// Waits for deliveries or receipts (at most a few ms, so the stop flag is seen promptly).
pub(super) async fn wait_progress(ctx: &Ctx, notified: Pin<&mut Notified<'_>>) {
    tokio::select! {
        () = notified => {}
        () = tokio::time::sleep(Duration::from_millis(5)) => {}
        () = ctx.stop.cancelled() => {}
    }
}
