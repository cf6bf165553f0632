//! Broker-wide counters, updated with relaxed atomics on the hot path and read as a snapshot.

use std::sync::atomic::{AtomicU64, Ordering};

/// Live counters. Every field only grows except `connections`.
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
}

/// A point-in-time copy of [`Stats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StatsSnapshot {
    /// See [`Stats::connections`].
    pub connections: u64,
    /// See [`Stats::connections_total`].
    pub connections_total: u64,
    /// See [`Stats::messages_in`].
    pub messages_in: u64,
    /// See [`Stats::messages_out`].
    pub messages_out: u64,
    /// See [`Stats::slow_consumers`].
    pub slow_consumers: u64,
    /// See [`Stats::dropped`].
    pub dropped: u64,
    /// See [`Stats::expired`].
    pub expired: u64,
    /// See [`Stats::redelivered`].
    pub redelivered: u64,
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

    /// Reads every counter.
    pub fn snapshot(&self) -> StatsSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        StatsSnapshot {
            connections: get(&self.connections),
            connections_total: get(&self.connections_total),
            messages_in: get(&self.messages_in),
            messages_out: get(&self.messages_out),
            slow_consumers: get(&self.slow_consumers),
            dropped: get(&self.dropped),
            expired: get(&self.expired),
            redelivered: get(&self.redelivered),
        }
    }
}
