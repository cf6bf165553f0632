//! Counters, updated with relaxed atomics on the hot path and read at snapshot time: broker-wide
//! ([`Stats`]), per destination ([`DestinationStats`]) and per connection
//! ([`ConnectionCounters`]). Nothing here takes a lock.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

use super::close::CloseKind;

/// Broker-wide live counters. Every field only grows except `connections`.
#[derive(Debug, Default)]
pub struct Stats {
    /// Sessions open now.
    pub connections: AtomicU64,
    /// Sessions ever opened.
    pub connections_total: AtomicU64,
    /// Messages accepted from SEND frames.
    pub messages_in: AtomicU64,
    /// MESSAGE frames handed to connections for writing.
    pub messages_out: AtomicU64,
    /// Subscribers disconnected for falling behind.
    pub slow_consumers: AtomicU64,
    /// Topic messages dropped by the `drop-oldest` slow-consumer policy.
    pub dropped: AtomicU64,
    /// Messages discarded because their `expires` time passed.
    pub expired: AtomicU64,
    /// Queue messages returned for redelivery (NACK or consumer gone).
    pub redelivered: AtomicU64,
    /// Queues deleted after standing unused (`limits.auto_delete_after_ms`), or with their
    /// connection (temporary queues).
    pub queues_deleted: AtomicU64,
    /// Topics deleted after standing unused (`limits.auto_delete_after_ms`).
    pub topics_deleted: AtomicU64,
    /// Closed connections, by [`CloseKind`] (indexed as [`CloseKind::ALL`]).
    closes: [AtomicU64; CloseKind::ALL.len()],
}

/// A point-in-time copy of [`Stats`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct StatsSnapshot {
    /// See [`Stats::connections`].
    pub connections: u64,
    /// See [`Stats::connections_total`].
    pub connections_total: u64,
    /// See [`Stats::messages_in`].
    pub messages_in: u64,
    /// See [`Stats::messages_out`].
    pub messages_out: u64,
    /// Bytes read from every connection's socket, closed connections included.
    pub bytes_in: u64,
    /// Bytes written to every connection's socket, closed connections included.
    pub bytes_out: u64,
    /// See [`Stats::slow_consumers`].
    pub slow_consumers: u64,
    /// See [`Stats::dropped`].
    pub dropped: u64,
    /// See [`Stats::expired`].
    pub expired: u64,
    /// See [`Stats::redelivered`].
    pub redelivered: u64,
    /// See [`Stats::queues_deleted`].
    pub queues_deleted: u64,
    /// See [`Stats::topics_deleted`].
    pub topics_deleted: u64,
    /// Closed connections by reason, named as [`CloseKind::as_str`]; every kind is present.
    pub closes: BTreeMap<&'static str, u64>,
}

impl Stats {
    /// Adds one to a counter.
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Adds `n` to a counter.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts a closed connection.
    pub fn count_close(&self, kind: CloseKind) {
        Stats::bump(&self.closes[kind.index()]);
    }

    /// Reads every counter. The byte totals (in, out) are not counted here but summed over the
    /// connections by the registry, which passes them in.
    pub fn snapshot(&self, (bytes_in, bytes_out): (u64, u64)) -> StatsSnapshot {
        StatsSnapshot {
            connections: read(&self.connections),
            connections_total: read(&self.connections_total),
            messages_in: read(&self.messages_in),
            messages_out: read(&self.messages_out),
            bytes_in,
            bytes_out,
            slow_consumers: read(&self.slow_consumers),
            dropped: read(&self.dropped),
            expired: read(&self.expired),
            redelivered: read(&self.redelivered),
            queues_deleted: read(&self.queues_deleted),
            topics_deleted: read(&self.topics_deleted),
            closes: CloseKind::ALL.iter().map(|kind| (kind.as_str(), read(&self.closes[kind.index()]))).collect(),
        }
    }
}

/// One destination's counters.
#[derive(Debug, Default)]
pub(crate) struct DestinationStats {
    /// Messages accepted for it.
    pub(crate) enqueued: AtomicU64,
    /// Messages handed to its subscribers (topic: one per subscriber; queue: acknowledged).
    pub(crate) dequeued: AtomicU64,
    /// Messages lost to slow subscribers (dropped, or discarded with a disconnected one).
    pub(crate) dropped: AtomicU64,
    /// Messages discarded because they expired.
    pub(crate) expired: AtomicU64,
    /// Connections currently publishing to it (a cached route each).
    pub(crate) producers: AtomicU64,
}

/// One connection's traffic counters, updated by the engine (messages) and by the connection
/// task (bytes).
#[derive(Debug, Default)]
pub struct ConnectionCounters {
    /// SEND frames accepted.
    pub messages_in: AtomicU64,
    /// MESSAGE frames written to it.
    pub messages_out: AtomicU64,
    /// Bytes read from its socket.
    pub bytes_in: AtomicU64,
    /// Bytes written to its socket.
    pub bytes_out: AtomicU64,
}

/// Reads a counter.
pub(crate) fn read(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}
