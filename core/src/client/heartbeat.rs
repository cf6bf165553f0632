//! The client's heart-beat thread. It exists only while heart-beats from the client are
//! negotiated: it is started by [`Client::connect`](super::Client::connect), never at load time,
//! so a process that forks before connecting has no thread to lose.
//!
//! The thread writes a bare EOL through the [`Wire`] whenever the connection has been quiet for
//! most of the negotiated interval. Watching for a silent broker needs no thread: the reader
//! knows when it last received a byte and checks that whenever it waits.

use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

use super::wire::Wire;

/// A running heart-beat thread; dropping it stops and joins the thread.
#[derive(Debug)]
pub(super) struct HeartbeatThread {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

impl HeartbeatThread {
    /// Starts a thread that keeps `wire` from being quiet for `every`.
    pub(super) fn start(wire: Arc<Wire>, every: Duration) -> std::io::Result<HeartbeatThread> {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let signal = stop.clone();
        // Beat once the connection has been quiet for 3/4 of the interval; look 4 times per interval.
        let idle = every * 3 / 4;
        let tick = (every / 4).max(Duration::from_millis(1));
        let thread = thread::Builder::new().name("stompbox-heartbeat".into()).spawn(move || {
            let (lock, wake) = &*signal;
            let mut stopped = lock.lock();
            while !*stopped && !wire.failed() {
                wake.wait_for(&mut stopped, tick);
                if !*stopped {
                    wire.beat_if_idle(idle);
                }
            }
        })?;
        Ok(HeartbeatThread { stop, thread: Some(thread) })
    }
}

impl Drop for HeartbeatThread {
    fn drop(&mut self) {
        let (lock, wake) = &*self.stop;
        *lock.lock() = true;
        wake.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
