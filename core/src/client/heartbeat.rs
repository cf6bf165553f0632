//! The client's heart-beat thread. It exists only while heart-beats from the client are
//! negotiated: it is started by [`Client::connect`](super::Client::connect), never at load time,
//! so a process that forks before connecting has no thread to lose.
//!
//! The thread writes a bare EOL whenever the connection has been quiet for most of the
//! negotiated interval. Watching for a silent broker needs no thread: the reader knows when it
//! last received a byte and checks that whenever it waits.

use std::io::Write;
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// The write half shared by the client and its heart-beat thread.
#[derive(Debug)]
pub(crate) struct Writer {
    stream: TcpStream,
    /// Serialises whole frames against heart-beats.
    lock: Mutex<()>,
    /// When the connection was opened; timestamps below are ms since then.
    epoch: Instant,
    /// When the last byte was written.
    last_write_ms: AtomicU64,
    /// Set when a heart-beat write failed: the connection is dead.
    failed: AtomicBool,
}

impl Writer {
    pub(crate) fn new(stream: TcpStream) -> Writer {
        Writer {
            stream,
            lock: Mutex::new(()),
            epoch: Instant::now(),
            last_write_ms: AtomicU64::new(0),
            failed: AtomicBool::new(false),
        }
    }

    pub(crate) fn stream(&self) -> &TcpStream {
        &self.stream
    }

    fn guard(&self) -> MutexGuard<'_, ()> {
        self.lock.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Writes `bytes` (one whole frame) in one `write_all`.
    pub(crate) fn write_all(&self, bytes: &[u8]) -> std::io::Result<()> {
        let _guard = self.guard();
        (&self.stream).write_all(bytes)?;
        self.last_write_ms.store(self.now_ms(), Ordering::Relaxed);
        Ok(())
    }

    /// Whether a heart-beat write failed.
    pub(crate) fn failed(&self) -> bool {
        self.failed.load(Ordering::Relaxed)
    }

    /// Writes an EOL if nothing was written for `idle`.
    fn beat_if_idle(&self, idle: Duration) {
        let _guard = self.guard();
        let quiet_ms = self.now_ms().saturating_sub(self.last_write_ms.load(Ordering::Relaxed));
        if u128::from(quiet_ms) >= idle.as_millis() {
            match (&self.stream).write_all(b"\n") {
                Ok(()) => self.last_write_ms.store(self.now_ms(), Ordering::Relaxed),
                Err(_) => self.failed.store(true, Ordering::Relaxed),
            }
        }
    }
}

/// A running heart-beat thread; dropping it stops and joins the thread.
#[derive(Debug)]
pub(crate) struct HeartbeatThread {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

impl HeartbeatThread {
    /// Starts a thread that keeps `writer` from being quiet for `every`.
    pub(crate) fn start(writer: Arc<Writer>, every: Duration) -> std::io::Result<HeartbeatThread> {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let signal = stop.clone();
        // Beat once the connection has been quiet for 3/4 of the interval; look 4 times per interval.
        let idle = every * 3 / 4;
        let tick = (every / 4).max(Duration::from_millis(1));
        let thread = thread::Builder::new().name("stompbox-heartbeat".into()).spawn(move || {
            let (lock, wake) = &*signal;
            let mut stopped = lock.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            while !*stopped && !writer.failed() {
                stopped = match wake.wait_timeout(stopped, tick) {
                    Ok((guard, _)) => guard,
                    Err(poisoned) => poisoned.into_inner().0,
                };
                if !*stopped {
                    writer.beat_if_idle(idle);
                }
            }
        })?;
        Ok(HeartbeatThread { stop, thread: Some(thread) })
    }
}

impl Drop for HeartbeatThread {
    fn drop(&mut self) {
        let (lock, wake) = &*self.stop;
        *lock.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = true;
        wake.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
