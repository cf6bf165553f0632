//! [`Wire`]: the connection's [`Transport`], shared by the client and its heart-beat thread.
//! Whole frames are written under one lock so that a heart-beat never lands inside a frame;
//! reads take no lock (see [`transport`](super::transport)).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::transport::Transport;

/// The transport, with what the heart-beat thread needs to know about writes.
#[derive(Debug)]
pub(super) struct Wire {
    transport: Box<dyn Transport>,
    /// Serialises whole frames against heart-beats.
    write_lock: Mutex<()>,
    /// When the connection was opened; timestamps below are ms since then.
    epoch: Instant,
    /// When the last byte was written.
    last_write_ms: AtomicU64,
    /// Set when a heart-beat write failed: the connection is dead.
    failed: AtomicBool,
}

impl Wire {
    pub(super) fn new(transport: impl Transport + 'static) -> Wire {
        Wire {
            transport: Box::new(transport),
            write_lock: Mutex::new(()),
            epoch: Instant::now(),
            last_write_ms: AtomicU64::new(0),
            failed: AtomicBool::new(false),
        }
    }

    /// The transport, for reading (no lock needed) and shutting down.
    pub(super) fn transport(&self) -> &dyn Transport {
        &*self.transport
    }

    /// Writes `bytes` (whole frames) in one `write_all`.
    pub(super) fn write_all(&self, bytes: &[u8]) -> std::io::Result<()> {
        let _frame = self.write_lock.lock();
        self.transport.write_all(bytes)?;
        self.last_write_ms.store(self.now_ms(), Ordering::Relaxed);
        Ok(())
    }

    /// Whether a heart-beat write failed.
    pub(super) fn failed(&self) -> bool {
        self.failed.load(Ordering::Relaxed)
    }

    /// Writes an EOL if nothing was written for `idle`.
    pub(super) fn beat_if_idle(&self, idle: Duration) {
        let _frame = self.write_lock.lock();
        let quiet_ms = self.now_ms().saturating_sub(self.last_write_ms.load(Ordering::Relaxed));
        if u128::from(quiet_ms) >= idle.as_millis() {
            match self.transport.write_all(b"\n") {
                Ok(()) => self.last_write_ms.store(self.now_ms(), Ordering::Relaxed),
                Err(_) => self.failed.store(true, Ordering::Relaxed),
            }
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}
