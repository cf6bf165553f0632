//! What consumers record: which sequence numbers arrived (for loss and duplicates) and how long
//! each message took (an hdrhistogram in nanoseconds), plus the clock the timestamps use.

use std::sync::OnceLock;
use std::time::Instant;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Nanoseconds since the first call in this process (monotonic). Producers stamp messages with
/// it and consumers in the same process subtract, so no wall clock is involved.
pub fn now_ns() -> u64 {
    static BASE: OnceLock<Instant> = OnceLock::new();
    let nanos = BASE.get_or_init(Instant::now).elapsed().as_nanos();
    u64::try_from(nanos).unwrap_or(u64::MAX)
}

/// Which sequence numbers of each producer one consumer (or, merged, all consumers) has seen.
#[derive(Debug, Clone, Default)]
pub struct Tracker {
    seen: Vec<Vec<u64>>,
    /// Distinct messages seen.
    pub unique: u64,
    /// Messages seen again.
    pub duplicated: u64,
}

impl Tracker {
    /// Records message `seq` of producer `producer`.
    pub fn mark(&mut self, producer: usize, seq: u64) {
        if self.seen.len() <= producer {
            self.seen.resize_with(producer + 1, Vec::new);
        }
        let words = &mut self.seen[producer];
        let (word, bit) = ((seq / 64) as usize, 1u64 << (seq % 64));
        if words.len() <= word {
            words.resize(word + 1 + word / 2, 0);
        }
        if words[word] & bit != 0 {
            self.duplicated += 1;
        } else {
            words[word] |= bit;
            self.unique += 1;
        }
    }

    /// Adds another consumer's record: a message both saw counts as a duplicate.
    pub fn merge(&mut self, other: &Tracker) {
        self.duplicated += other.duplicated;
        if self.seen.len() < other.seen.len() {
            self.seen.resize_with(other.seen.len(), Vec::new);
        }
        for (mine, theirs) in self.seen.iter_mut().zip(&other.seen) {
            if mine.len() < theirs.len() {
                mine.resize(theirs.len(), 0);
            }
            for (a, b) in mine.iter_mut().zip(theirs) {
                let both = u64::from((*a & *b).count_ones());
                self.duplicated += both;
                self.unique += u64::from(b.count_ones()) - both;
                *a |= *b;
            }
        }
    }
}

/// A latency histogram in nanoseconds (1 ns to 1 hour, 3 significant digits).
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000_000, 3).expect("valid histogram bounds")
}

/// Latency percentiles in microseconds, as reported.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Latency {
    /// Samples.
    pub count: u64,
    /// Median.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Largest sample.
    pub max: f64,
    /// Mean.
    pub mean: f64,
}

impl Latency {
    /// Summarises a nanosecond histogram in microseconds (zeros when empty).
    pub fn from_histogram(h: &Histogram<u64>) -> Latency {
        if h.is_empty() {
            return Latency::default();
        }
        let us = |ns: u64| (ns as f64 / 100.0).round() / 10.0;
        Latency {
            count: h.len(),
            p50: us(h.value_at_quantile(0.50)),
            p99: us(h.value_at_quantile(0.99)),
            p999: us(h.value_at_quantile(0.999)),
            max: us(h.max()),
            mean: (h.mean() / 100.0).round() / 10.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracker_counts_unique_and_duplicates() {
        let mut t = Tracker::default();
        for seq in [0, 1, 2, 2, 1000] {
            t.mark(0, seq);
        }
        t.mark(3, 7);
        assert_eq!((t.unique, t.duplicated), (5, 1));
    }

    #[test]
    fn merged_trackers_count_overlap_as_duplicates() {
        let (mut a, mut b) = (Tracker::default(), Tracker::default());
        a.mark(0, 1);
        a.mark(0, 2);
        b.mark(0, 2);
        b.mark(0, 3);
        b.mark(1, 500);
        a.merge(&b);
        assert_eq!((a.unique, a.duplicated), (4, 1));
    }

    #[test]
    fn latency_is_reported_in_microseconds() {
        let mut h = histogram();
        for ns in [1_000, 2_000, 3_000, 1_000_000] {
            h.record(ns).unwrap();
        }
        let l = Latency::from_histogram(&h);
        assert_eq!(l.count, 4);
        assert_eq!(l.p50, 2.0);
        assert!((l.max - 1000.0).abs() < 1.0);
    }
}
