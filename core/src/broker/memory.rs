//! The broker-wide memory bound.
//!
//! Per-connection and per-queue limits do not bound their sum: ten thousand connections or
//! queues, each within its limit, can still exhaust memory. [`Memory`] counts the bytes the
//! broker holds for messages: topic messages waiting in outboxes, queue messages (waiting or
//! unacknowledged), SENDs buffered in open transactions, and partly read frames (the connection
//! task counts its read buffer). When the count passes the high watermark the broker stops reading
//! from publishing connections (the connection task holds a SEND until [`Memory::relieved`]);
//! subscribers, ACKs and every other frame still flow, so the count falls. Publishing resumes once
//! it is under the low watermark. Each crossing is logged and counted.
//!
//! A topic message delivered to N subscribers counts N times (each outbox holds it): an
//! overestimate, since the body is shared, that errs on the safe side.
//!
//! The count is one atomic that the hot path updates once per message (a fan-out adds its whole
//! size at once) and once per drain, not once per delivery. So a drain may subtract before the
//! fan-out that filled it has added: the count is signed and may dip below zero for an instant.

use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicU64, Ordering};

use serde::{Deserialize, Deserializer};
use tokio::sync::Notify;
use tracing::{info, warn};

/// A memory amount in the configuration: bytes, or a percentage of physical memory (`"40%"`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Amount {
    /// So many bytes.
    Bytes(u64),
    /// This share of the machine's physical memory, in percent.
    PercentOfRam(f64),
}

impl Amount {
    /// The amount in bytes on a machine with `ram` bytes of physical memory.
    pub fn bytes(self, ram: u64) -> u64 {
        match self {
            Amount::Bytes(bytes) => bytes,
            Amount::PercentOfRam(percent) => (ram as f64 * percent / 100.0) as u64,
        }
    }
}

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Amount, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Written {
            Bytes(u64),
            Text(String),
        }
        let invalid =
            |text: &str| serde::de::Error::custom(format!("{text:?} is not a byte count or a percentage like \"40%\""));
        match Written::deserialize(deserializer)? {
            Written::Bytes(bytes) => Ok(Amount::Bytes(bytes)),
            Written::Text(text) => {
                let percent: f64 =
                    text.trim().strip_suffix('%').and_then(|p| p.trim().parse().ok()).ok_or_else(|| invalid(&text))?;
                if !(0.0..=100.0).contains(&percent) {
                    return Err(invalid(&text));
                }
                Ok(Amount::PercentOfRam(percent))
            }
        }
    }
}

/// The machine's physical memory in bytes (Linux: `/proc/meminfo`), if it can be read.
pub fn physical_memory() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = meminfo.lines().find(|line| line.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// The count of bytes held and the watermarks. See the module docs.
#[derive(Debug)]
pub struct Memory {
    held: AtomicIsize,
    high: isize,
    low: isize,
    over: AtomicBool,
    crossings: AtomicU64,
    relief: Notify,
}

impl Memory {
    /// A count starting at zero with these watermarks, in bytes.
    pub fn new(high: usize, low: usize) -> Memory {
        let clamp = |bytes: usize| isize::try_from(bytes).unwrap_or(isize::MAX);
        Memory {
            held: AtomicIsize::new(0),
            high: clamp(high),
            low: clamp(low.min(high)),
            over: AtomicBool::new(false),
            crossings: AtomicU64::new(0),
            relief: Notify::new(),
        }
    }

    /// Counts `bytes` more held.
    pub fn add(&self, bytes: usize) {
        if bytes == 0 {
            return;
        }
        let bytes = isize::try_from(bytes).unwrap_or(isize::MAX);
        let held = self.held.fetch_add(bytes, Ordering::Relaxed).wrapping_add(bytes);
        if held > self.high && !self.over.load(Ordering::Relaxed) && !self.over.swap(true, Ordering::AcqRel) {
            self.crossings.fetch_add(1, Ordering::Relaxed);
            warn!(held, high_watermark = self.high, "memory high watermark passed: publishers are held back");
        }
    }

    /// Counts `bytes` fewer held.
    pub fn sub(&self, bytes: usize) {
        if bytes == 0 {
            return;
        }
        let bytes = isize::try_from(bytes).unwrap_or(isize::MAX);
        let held = self.held.fetch_sub(bytes, Ordering::Relaxed).wrapping_sub(bytes);
        if held < self.low && self.over.load(Ordering::Relaxed) && self.over.swap(false, Ordering::AcqRel) {
            info!(held, low_watermark = self.low, "memory back under the low watermark: publishers resume");
            self.relief.notify_waiters();
        }
    }

    /// Counts a change that may go either way (an outbox push that dropped older messages).
    pub(crate) fn change(&self, delta: isize) {
        if delta >= 0 {
            self.add(delta.unsigned_abs());
        } else {
            self.sub(delta.unsigned_abs());
        }
    }

    /// Whether publishers are held back now.
    pub fn is_over(&self) -> bool {
        self.over.load(Ordering::Acquire)
    }

    /// Resolves once publishers may go on (at once when they may now).
    pub async fn relieved(&self) {
        loop {
            let notified = self.relief.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if !self.is_over() {
                return;
            }
            notified.await;
        }
    }

    /// Bytes held now.
    pub fn held(&self) -> usize {
        self.held.load(Ordering::Relaxed).max(0).unsigned_abs()
    }

    /// The high watermark, in bytes.
    pub fn high_watermark(&self) -> usize {
        self.high.unsigned_abs()
    }

    /// How many times the high watermark was passed.
    pub fn crossings(&self) -> u64 {
        self.crossings.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_bytes_or_percentages_of_ram() {
        #[derive(Deserialize)]
        struct Holder {
            amount: Amount,
        }
        let read = |text: &str| serde_json::from_str::<Holder>(text).map(|h| h.amount);
        assert_eq!(read(r#"{"amount": 1024}"#).unwrap().bytes(0), 1024);
        assert_eq!(read(r#"{"amount": "40%"}"#).unwrap().bytes(1000), 400);
        assert!(read(r#"{"amount": "lots"}"#).is_err());
        assert!(read(r#"{"amount": "140%"}"#).is_err());
    }

    #[test]
    fn crossing_the_high_watermark_holds_until_under_the_low_one() {
        let memory = Memory::new(100, 50);
        memory.add(100);
        assert!(!memory.is_over(), "at the watermark is not over it");
        memory.add(1);
        assert!(memory.is_over());
        memory.sub(40);
        assert!(memory.is_over(), "61 is still over the low watermark");
        memory.sub(20);
        assert!(!memory.is_over());
        memory.add(200);
        assert_eq!((memory.crossings(), memory.held()), (2, 241));
    }
}
