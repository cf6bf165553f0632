//! [`Wire`]: the connection's [`Transport`] and its outgoing buffer, shared by the client and
//! its writer thread (see [`writer`](super::writer)).
//!
//! Frames are encoded straight into the buffer. Whoever writes (the writer thread, or the
//! client's own thread when it flushes and nobody else is writing) takes everything buffered
//! at that moment and writes it with one `write_all`, outside the lock, while frames queued
//! meanwhile wait for the next write. So a lone frame leaves at once and a burst goes out in a
//! few large writes, as fast as the socket takes them, with no timer. Only one thread writes
//! at a time, so a heart-beat never lands inside a frame. The buffer is bounded: a sender that
//! finds it full waits for a write to end (back-pressure). A failed write is kept and returned
//! by the next call; after it nothing more is written. Reads take no lock (see
//! [`transport`](super::transport)).

use std::io;
use std::time::{Duration, Instant};

use bytes::{BufMut, BytesMut};
use parking_lot::{Condvar, Mutex, MutexGuard};

use super::transport::Transport;

/// Why a child of a fork cannot use the connection it inherited.
pub(super) const FORKED: &str = "the connection belongs to the process that opened it (connect again after a fork)";

/// A buffer left with more room than this after a large write is dropped rather than kept.
const KEEP_CAPACITY: usize = 4 * 1024 * 1024;

/// The transport with its outgoing buffer. See the module docs.
#[derive(Debug)]
pub(super) struct Wire {
    transport: Box<dyn Transport>,
    outgoing: Mutex<Outgoing>,
    /// Wakes the writer thread: bytes were queued, or it must stop.
    queued: Condvar,
    /// Wakes waiting senders: a write ended (room in the buffer, or a flush may be done).
    written: Condvar,
    /// A send waits while the buffer holds this many bytes (0: each frame is written at once).
    limit: usize,
    /// The process that opened the connection: a child of a fork has the memory but not the
    /// writer thread, and must neither wait for it nor shut the parent's socket down.
    owner: u32,
}

/// What the lock guards.
#[derive(Debug)]
struct Outgoing {
    /// Frames queued and not yet taken by a writer.
    queued: BytesMut,
    /// The buffer a writer swaps with `queued`; kept between writes so they allocate nothing.
    spare: BytesMut,
    /// Someone is writing, outside the lock.
    writing: bool,
    /// The first failed write, until a call reports it.
    failure: Option<io::Error>,
    /// A write failed: nothing more is written.
    broken: bool,
    /// When the last write ended (heart-beats are sent after a quiet spell).
    last_write: Instant,
    /// The writer thread must stop.
    stop: bool,
}

impl Wire {
    /// Wraps a connected transport; a send waits while `limit` bytes are queued.
    pub(super) fn new(transport: Box<dyn Transport>, limit: usize) -> Wire {
        let outgoing = Outgoing {
            queued: BytesMut::new(),
            spare: BytesMut::new(),
            writing: false,
            failure: None,
            broken: false,
            last_write: Instant::now(),
            stop: false,
        };
        Wire {
            transport,
            outgoing: Mutex::new(outgoing),
            queued: Condvar::new(),
            written: Condvar::new(),
            limit,
            owner: std::process::id(),
        }
    }

    /// The transport, for reading (no lock needed) and shutting down.
    pub(super) fn transport(&self) -> &dyn Transport {
        &*self.transport
    }

    /// Whether frames wait in the buffer for the writer thread (false: the caller writes each
    /// one at once).
    pub(super) fn buffers(&self) -> bool {
        self.limit > 0
    }

    /// Whether this process is a child of a fork, not the one that opened the connection.
    pub(super) fn forked(&self) -> bool {
        std::process::id() != self.owner
    }

    /// Queues one frame, laid out by `encode` at the end of the buffer, and wakes the writer
    /// thread. While the buffer is full, first waits for a write to end, or writes it itself
    /// when nobody is writing. Fails with a write failure not yet reported.
    pub(super) fn push(&self, encode: impl FnOnce(&mut BytesMut)) -> io::Result<()> {
        let mut out = self.outgoing.lock();
        self.settle(&mut out, |out| out.queued.len() < self.limit || out.queued.is_empty())?;
        encode(&mut out.queued);
        drop(out);
        self.queued.notify_one();
        Ok(())
    }

    /// Writes everything queued: waits for the write in progress, writes what is left itself.
    pub(super) fn flush(&self) -> io::Result<()> {
        let mut out = self.outgoing.lock();
        self.settle(&mut out, |out| out.queued.is_empty() && !out.writing)
    }

    /// Returns once `done` holds, writing what is queued whenever nobody else is writing and
    /// waiting for the writer otherwise. Fails with a write failure not yet reported.
    fn settle(&self, out: &mut MutexGuard<'_, Outgoing>, done: impl Fn(&Outgoing) -> bool) -> io::Result<()> {
        loop {
            if let Some(failure) = out.failure.take() {
                return Err(failure);
            }
            if out.broken {
                return Err(io::Error::new(io::ErrorKind::BrokenPipe, "an earlier write failed"));
            }
            if done(out) {
                return Ok(());
            }
            if self.forked() {
                return Err(io::Error::other(FORKED));
            }
            if out.writing {
                self.written.wait(out);
            } else {
                self.write_queued(out);
            }
        }
    }

    /// Takes the writing role and writes everything queued, the lock released meanwhile.
    fn write_queued(&self, out: &mut MutexGuard<'_, Outgoing>) {
        let mut batch = std::mem::take(&mut out.spare);
        std::mem::swap(&mut batch, &mut out.queued);
        out.writing = true;
        let written = MutexGuard::unlocked(out, || self.transport.write_all(&batch));
        batch.clear();
        if batch.capacity() <= KEEP_CAPACITY {
            out.spare = batch;
        }
        out.writing = false;
        out.last_write = Instant::now();
        if let Err(e) = written {
            out.failure = Some(e);
            out.broken = true;
            out.queued.clear();
        }
        self.written.notify_all();
        if !out.queued.is_empty() {
            self.queued.notify_one();
        }
    }

    /// The writer thread's loop: writes whatever is queued, as soon as it is; with `beat`,
    /// writes an EOL whenever nothing was written for `beat.idle`. Ends when told to stop or
    /// when a write fails.
    pub(super) fn serve(&self, beat: Option<Beat>) {
        let mut out = self.outgoing.lock();
        while !out.stop && !out.broken {
            if !out.writing && !out.queued.is_empty() {
                self.write_queued(&mut out);
                continue;
            }
            match beat {
                Some(beat) if !out.writing && out.last_write.elapsed() >= beat.idle => out.queued.put_u8(b'\n'),
                Some(beat) => {
                    self.queued.wait_for(&mut out, beat.tick);
                }
                None => self.queued.wait(&mut out),
            }
        }
    }

    /// Tells the writer thread to stop (after the write in progress, if any).
    pub(super) fn stop(&self) {
        self.outgoing.lock().stop = true;
        self.queued.notify_all();
    }
}

/// When the writer thread sends heart-beats: after `idle` without a write, looking every `tick`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Beat {
    /// How long the connection may be quiet.
    pub(super) idle: Duration,
    /// How often the thread looks.
    pub(super) tick: Duration,
}

impl Beat {
    /// Heart-beats every `every`: one after 3/4 of the interval of quiet, looking 4 times per
    /// interval.
    pub(super) fn every(every: Duration) -> Beat {
        Beat { idle: every * 3 / 4, tick: (every / 4).max(Duration::from_millis(1)) }
    }
}
