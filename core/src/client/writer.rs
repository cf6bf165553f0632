//! The writer thread: writes what the client queues as soon as the socket takes it, and sends
//! the client's heart-beats when the connection is quiet. One thread per connection does both.
//!
//! It starts only when needed, never at load time: with the first frame queued without a
//! receipt, or at connect when heart-beats from the client are negotiated. It stops when the
//! connection closes ([`Client::close`](super::Client::close), `disconnect`, a fatal error, or
//! dropping the client), and is joined then. A frame sent with a receipt, and everything the
//! client sends before it waits for the broker, is written by the caller's own thread when the
//! writer is idle, so a client that only ever waits for receipts never starts one.
//!
//! The thread blocks every signal, so signals reach the application's threads: PHP's
//! `max_execution_time` (SIGPROF) and PHP-FPM's SIGTERM/SIGQUIT, Python's SIGINT.
//!
//! Fork: a child gets a copy of the connection but not the thread. The connection belongs to
//! the process that opened it (as any socket client's does): in the child, reads, receipt
//! waits and flushes fail with an error that says so (sends only queue until then), and
//! closing or dropping the copy neither writes nor shuts the parent's socket down. PHP-FPM forks its workers from a master that has loaded the
//! extension but never connects; connections, and their writer threads, live inside one request
//! of one worker and are closed when the request ends (even after a fatal error, when the
//! engine frees the objects), so no thread outlives a request. With Python's multiprocessing,
//! a child forked after a connection was opened must connect again (with the `spawn` or
//! `forkserver` start methods nothing is inherited).

use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use nix::sys::signal::{pthread_sigmask, SigSet, SigmaskHow};

use super::wire::{Beat, Wire};

/// A running writer thread; dropping it stops and joins the thread.
#[derive(Debug)]
pub(super) struct WriterThread {
    wire: Arc<Wire>,
    thread: Option<JoinHandle<()>>,
}

impl WriterThread {
    /// Starts the thread serving `wire`, with heart-beats every `heartbeat` if given.
    pub(super) fn start(wire: Arc<Wire>, heartbeat: Option<Duration>) -> std::io::Result<WriterThread> {
        let beat = heartbeat.map(Beat::every);
        let served = wire.clone();
        // The new thread inherits the signal mask: block everything around the spawn.
        let mut mask = SigSet::empty();
        pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&SigSet::all()), Some(&mut mask))?;
        let spawned = thread::Builder::new().name("stompbox-writer".into()).spawn(move || served.serve(beat));
        pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&mask), None)?;
        Ok(WriterThread { wire, thread: Some(spawned?) })
    }
}

impl Drop for WriterThread {
    fn drop(&mut self) {
        if self.wire.forked() {
            // The thread is the parent's: nothing to stop or join here.
            std::mem::forget(self.thread.take());
            return;
        }
        self.wire.stop();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
