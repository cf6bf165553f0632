//! The engine's side of persistence: what is stored, group commit, and durability tickets.
//!
//! The engine decides *what* is stored and *when* a client may be told it is safe; a
//! [`Backend`] decides *how* bytes reach the disk. The backend is a trait so that the core keeps
//! no file I/O (the server crate implements it as a journal on disk) and so that the engine's crash
//! behaviour is tested against [`MemoryBackend`], which keeps what was made durable apart from
//! what was only written and can fail on command, without killing processes.
//!
//! Group commit: every queue that stores or forgets a message [`Store::submit`]s an operation and
//! gets a [`Ticket`]. One writer thread takes everything waiting (bounded by
//! `store.max_batch_messages` and `store.max_batch_bytes`), writes it as one atomic batch, syncs
//! once, and then marks every ticket up to the batch's last as durable. The next batch fills
//! while the current sync runs, so many producers share one sync and no timer is needed. A
//! message stored and acknowledged before its batch is written cancels out: neither is written.
//! A transaction's COMMIT opens a [`Group`], and the writer never splits a group across batches,
//! so a transaction is one durable write.
//!
//! What a ticket promises: once [`Store::is_durable`] says so, the operation and every one
//! submitted before it survive a crash of the process or of the machine (the backend syncs the
//! data to the device before the batch counts as written). A RECEIPT for a persistent SEND, or
//! for an ACK of a stored message, is written only then.
//!
//! A failed write or sync is fatal for the store: it stops writing, every waiting ticket fails,
//! and every later persistent SEND is refused ([`Store::failure`]). It never retries, because
//! after a failed sync the kernel may already have dropped the dirty pages.

mod fake;
pub mod record;

use std::collections::{HashMap, VecDeque};
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;

use bytes::Bytes;
use parking_lot::{Condvar, Mutex};
use serde::Serialize;
use thiserror::Error;
use tokio::sync::Notify;
use tracing::{error, info, warn};

pub use fake::MemoryBackend;
pub use record::{CatalogEntry, Key, RecordError, Space, StoredMessage};

use crate::broker::{Message, StoreConfig};

/// What a store writes: puts and deletes in two key spaces (see [`record`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    /// Sets `key` to `value`.
    Put {
        /// The key space.
        space: Space,
        /// The key.
        key: Key,
        /// The value.
        value: Bytes,
    },
    /// Removes `key`.
    Delete {
        /// The key space.
        space: Space,
        /// The key.
        key: Key,
    },
}

impl Write {
    fn target(&self) -> (Space, Key) {
        match self {
            Write::Put { space, key, .. } | Write::Delete { space, key } => (*space, *key),
        }
    }
}

/// What [`Backend::scan`] calls with each key and value.
pub type Visit<'a> = dyn FnMut(&[u8], Bytes) -> Result<(), StoreError> + 'a;

/// Where a store's bytes go: an embedded database on disk, or memory in tests.
pub trait Backend: Send + 'static {
    /// Writes `batch` as one atomic unit and makes it durable (`fdatasync` or stronger) before
    /// returning `Ok`. After an `Err` the store writes nothing more.
    fn commit(&mut self, batch: &[Write]) -> io::Result<()>;

    /// Calls `visit` with every key and value of `space`, in key order.
    fn scan(&mut self, space: Space, visit: &mut Visit<'_>) -> Result<(), StoreError>;

    /// Bytes the store takes on disk now.
    fn disk_bytes(&self) -> u64;
}

/// Why the store could not be opened or read.
#[derive(Debug, Error)]
pub enum StoreError {
    /// The backend failed.
    #[error("store i/o error: {0}")]
    Io(#[from] io::Error),
    /// A stored record cannot be read.
    #[error("store record {key:02x?} is unreadable: {error}")]
    Record {
        /// Its key.
        key: Vec<u8>,
        /// Why.
        error: RecordError,
    },
}

/// What [`Store::recover`] reads back, catalog first, then every message in key order.
#[derive(Debug)]
pub enum Recovered {
    /// A stored queue or durable subscription, by id.
    Entry(u64, CatalogEntry),
    /// A message of the queue with this id, with its sequence number.
    Message(u64, u64, StoredMessage),
}

/// A position in the store's stream of operations (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Ticket(u64);

/// One operation the engine asks for.
#[derive(Debug)]
pub(crate) enum Op {
    /// Records (or, with `None`, forgets) a queue's catalog entry.
    Catalog { queue: u64, entry: Option<CatalogEntry> },
    /// Stores a message.
    Put { queue: u64, sequence: u64, message: Arc<Message> },
    /// Forgets a message.
    Delete { queue: u64, sequence: u64 },
}

impl Op {
    /// Bytes it will take in a batch, about.
    fn size(&self) -> usize {
        match self {
            Op::Put { message, .. } => message.size(),
            _ => 32,
        }
    }
}

/// Why a persistent SEND is refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Refusal {
    /// A write or sync failed earlier: the store writes nothing more.
    #[error("the message store failed ({0}); persistent messages are refused")]
    Failed(String),
    /// The store is at `store.max_disk_bytes`.
    #[error("the message store is full (store.max_disk_bytes is {limit})")]
    Full {
        /// The limit in force.
        limit: u64,
    },
}

/// The store as the snapshot shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoreSnapshot {
    /// Batches written (one sync each).
    pub commits: u64,
    /// Operations written.
    pub written: u64,
    /// Operations that cancelled out before their batch was written (a message acknowledged
    /// before it reached the disk).
    pub cancelled: u64,
    /// Bytes of operations waiting for the writer.
    pub pending_bytes: u64,
    /// Bytes on disk, as of the last batch.
    pub disk_bytes: u64,
    /// Whether persistent SENDs are refused because the store is at `max_disk_bytes`.
    pub full: bool,
    /// Why the store failed, if it did: it writes nothing more.
    pub failed: Option<String>,
}

/// The store: cheap to clone, shared by every queue. See the module docs.
#[derive(Debug, Clone)]
pub struct Store {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    pending: Mutex<Pending>,
    /// Wakes the writer.
    work: Condvar,
    /// Wakes [`Store::flush`] after each batch.
    progress: Condvar,
    /// Notified after every batch, and when the store fails.
    written: Notify,
    /// The ticket of the last operation made durable.
    durable: AtomicU64,
    failure: OnceLock<String>,
    config: StoreConfig,
    next_sequence: AtomicU64,
    next_queue: AtomicU64,
    pending_bytes: AtomicUsize,
    disk_bytes: AtomicU64,
    full: AtomicBool,
    commits: AtomicU64,
    ops_written: AtomicU64,
    cancelled: AtomicU64,
    /// The backend, until [`Store::recover`] hands it to the writer thread.
    parked: Parked,
    writer: Mutex<Option<JoinHandle<()>>>,
}

/// A backend not yet handed to the writer thread.
struct Parked(Mutex<Option<Box<dyn Backend>>>);

impl std::fmt::Debug for Parked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.lock().is_some() { "Parked(backend)" } else { "Parked(none)" })
    }
}

#[derive(Debug, Default)]
struct Pending {
    ops: VecDeque<Op>,
    bytes: usize,
    /// Operations ever submitted: the ticket of the newest.
    submitted: u64,
    /// Where each open group began (the ticket before its first operation).
    open: Vec<u64>,
    /// Closed groups not yet taken, as ticket ranges `(after, last]`.
    closed: VecDeque<(u64, u64)>,
    stopping: bool,
}

impl Pending {
    /// The ticket of the oldest waiting operation minus one.
    fn taken(&self) -> u64 {
        self.submitted - self.ops.len() as u64
    }

    /// How many of the waiting operations the writer may take: none past the start of an open
    /// group, about the batch bounds, and never part of a group (a batch grows to take a whole
    /// group, or stops before one that reaches into an open group).
    fn takeable(&self, config: &StoreConfig) -> usize {
        let taken = self.taken();
        let limit = taken + self.open.iter().min().map_or(self.ops.len() as u64, |&start| start - taken);
        let (mut end, mut bytes) = (taken, 0);
        while end < limit
            && (end == taken || ((end - taken) as usize) < config.max_batch_messages && bytes < config.max_batch_bytes)
        {
            bytes += self.ops[(end - taken) as usize].size();
            end += 1;
        }
        let straddling = |end: u64| self.closed.iter().find(|&&(after, last)| after < end && last > end).copied();
        while let Some((after, last)) = straddling(end) {
            if last <= limit {
                end = last;
            } else {
                // Cut before it, and before any group that then straddles the cut.
                end = after;
                while let Some((after, _)) = straddling(end) {
                    end = after;
                }
                break;
            }
        }
        (end - taken) as usize
    }
}

impl Store {
    /// A store over `backend`, not writing yet: [`Store::recover`] reads back what the backend
    /// holds, then starts the writer thread. Operations submitted meanwhile wait.
    pub fn open(backend: Box<dyn Backend>, config: StoreConfig) -> Store {
        Store {
            shared: Arc::new(Shared {
                pending: Mutex::default(),
                work: Condvar::new(),
                progress: Condvar::new(),
                written: Notify::new(),
                durable: AtomicU64::new(0),
                failure: OnceLock::new(),
                disk_bytes: AtomicU64::new(backend.disk_bytes()),
                config,
                next_sequence: AtomicU64::new(1),
                next_queue: AtomicU64::new(1),
                pending_bytes: AtomicUsize::new(0),
                full: AtomicBool::new(false),
                commits: AtomicU64::new(0),
                ops_written: AtomicU64::new(0),
                cancelled: AtomicU64::new(0),
                parked: Parked(Mutex::new(Some(backend))),
                writer: Mutex::new(None),
            }),
        }
    }

    /// Reads back everything the backend holds, catalog first, then messages in key order,
    /// handing each to `visit` as it is read; then starts the writer thread. Once only: later
    /// calls read nothing.
    pub fn recover(&self, visit: &mut dyn FnMut(Recovered)) -> Result<(), StoreError> {
        let Some(mut backend) = self.shared.parked.0.lock().take() else { return Ok(()) };
        let (mut next_queue, mut next_sequence) = (1, 1);
        backend.scan(Space::Catalog, &mut |key, value| {
            let (queue, _) = unreadable(key, record::split_key(key))?;
            next_queue = next_queue.max(queue + 1);
            visit(Recovered::Entry(queue, unreadable(key, CatalogEntry::decode(&value))?));
            Ok(())
        })?;
        backend.scan(Space::Messages, &mut |key, value| {
            let (queue, sequence) = unreadable(key, record::split_key(key))?;
            next_sequence = next_sequence.max(sequence + 1);
            visit(Recovered::Message(queue, sequence, unreadable(key, record::decode_message(value))?));
            Ok(())
        })?;
        let shared = &self.shared;
        shared.next_queue.fetch_max(next_queue, Ordering::Relaxed);
        shared.next_sequence.fetch_max(next_sequence, Ordering::Relaxed);
        shared.disk_bytes.store(backend.disk_bytes(), Ordering::Relaxed);
        shared.update_full();
        let writer = {
            let shared = shared.clone();
            std::thread::Builder::new().name("stompbox-store".into()).spawn(move || shared.write_loop(backend))?
        };
        *shared.writer.lock() = Some(writer);
        Ok(())
    }

    /// A fresh id for a queue about to be stored.
    pub(crate) fn next_queue_id(&self) -> u64 {
        self.shared.next_queue.fetch_add(1, Ordering::Relaxed)
    }

    /// A fresh sequence number for a message about to be stored.
    pub(crate) fn next_sequence(&self) -> u64 {
        self.shared.next_sequence.fetch_add(1, Ordering::Relaxed)
    }

    /// Hands an operation to the writer; the ticket is durable once its batch is written. A
    /// failed store takes nothing more (its tickets are never durable).
    pub(crate) fn submit(&self, op: Op) -> Ticket {
        if self.shared.failure.get().is_some() {
            return Ticket(u64::MAX);
        }
        let size = op.size();
        let mut pending = self.shared.pending.lock();
        pending.submitted += 1;
        pending.bytes += size;
        pending.ops.push_back(op);
        let ticket = Ticket(pending.submitted);
        self.shared.pending_bytes.store(pending.bytes, Ordering::Relaxed);
        drop(pending);
        self.shared.work.notify_one();
        ticket
    }

    /// Opens a group: what is submitted until it is dropped is written in one batch.
    pub(crate) fn group(&self) -> Group<'_> {
        let mut pending = self.shared.pending.lock();
        let start = pending.submitted;
        pending.open.push(start);
        Group { store: self, start }
    }

    /// Whether a persistent SEND may be stored now.
    pub(crate) fn admit(&self) -> Result<(), Refusal> {
        if let Some(failure) = self.shared.failure.get() {
            return Err(Refusal::Failed(failure.clone()));
        }
        if self.shared.full.load(Ordering::Relaxed) {
            return Err(Refusal::Full { limit: self.shared.config.max_disk_bytes });
        }
        Ok(())
    }

    /// Whether `ticket`, and every operation before it, is durable.
    pub fn is_durable(&self, ticket: Ticket) -> bool {
        self.shared.durable.load(Ordering::Acquire) >= ticket.0
    }

    /// Why the store failed, if it did.
    pub fn failure(&self) -> Option<&str> {
        self.shared.failure.get().map(String::as_str)
    }

    /// Whether more than `store.max_pending_bytes` wait for the writer: producers should stop
    /// until this is false again ([`Store::wait_for`]).
    pub fn is_backlogged(&self) -> bool {
        // A failed store drains nothing: waiting for it would be forever, and what producers
        // send next is refused anyway.
        self.shared.pending_bytes.load(Ordering::Relaxed) > self.shared.config.max_pending_bytes
            && self.shared.failure.get().is_none()
    }

    /// Resolves once `done` holds (checked after each batch) or the store has failed.
    pub async fn wait_for(&self, mut done: impl FnMut(&Store) -> bool) {
        loop {
            let notified = self.shared.written.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if done(self) || self.failure().is_some() {
                return;
            }
            notified.await;
        }
    }

    /// Waits (blocking the thread) until everything submitted so far is durable or the store
    /// has failed: for a clean shutdown and for tests.
    pub fn flush(&self) {
        let mut pending = self.shared.pending.lock();
        let last = Ticket(pending.submitted);
        while !self.is_durable(last) && self.failure().is_none() && self.shared.writer.lock().is_some() {
            self.shared.progress.wait(&mut pending);
        }
    }

    /// Writes what is waiting, then stops the writer thread. Later submissions are not written.
    pub fn close(&self) {
        self.shared.pending.lock().stopping = true;
        self.shared.work.notify_all();
        if let Some(writer) = self.shared.writer.lock().take() {
            let _ = writer.join();
            let snapshot = self.snapshot();
            info!(
                commits = snapshot.commits,
                written = snapshot.written,
                cancelled = snapshot.cancelled,
                disk_bytes = snapshot.disk_bytes,
                "message store closed"
            );
        }
    }

    /// Counters and state for the snapshot.
    pub fn snapshot(&self) -> StoreSnapshot {
        let shared = &self.shared;
        StoreSnapshot {
            commits: shared.commits.load(Ordering::Relaxed),
            written: shared.ops_written.load(Ordering::Relaxed),
            cancelled: shared.cancelled.load(Ordering::Relaxed),
            pending_bytes: shared.pending_bytes.load(Ordering::Relaxed) as u64,
            disk_bytes: shared.disk_bytes.load(Ordering::Relaxed),
            full: shared.full.load(Ordering::Relaxed),
            failed: shared.failure.get().cloned(),
        }
    }
}

/// An open group of operations (see [`Store::group`]); closed when dropped.
#[derive(Debug)]
pub(crate) struct Group<'a> {
    store: &'a Store,
    start: u64,
}

impl Drop for Group<'_> {
    fn drop(&mut self) {
        let mut pending = self.store.shared.pending.lock();
        if let Some(index) = pending.open.iter().position(|&start| start == self.start) {
            pending.open.swap_remove(index);
        }
        let last = pending.submitted;
        if last > self.start {
            pending.closed.push_back((self.start, last));
        }
        drop(pending);
        self.store.shared.work.notify_one();
    }
}

impl Shared {
    /// The writer thread: take a batch, write it, sync once, mark it durable; until closed or
    /// failed.
    fn write_loop(&self, mut backend: Box<dyn Backend>) {
        let mut writes = Vec::new();
        loop {
            let (ops, last) = {
                let mut pending = self.pending.lock();
                loop {
                    let count = pending.takeable(&self.config);
                    if count > 0 {
                        let ops: Vec<Op> = pending.ops.drain(..count).collect();
                        pending.bytes -= ops.iter().map(Op::size).sum::<usize>();
                        let last = pending.taken();
                        pending.closed.retain(|&(_, end)| end > last);
                        self.pending_bytes.store(pending.bytes, Ordering::Relaxed);
                        break (ops, last);
                    }
                    if pending.stopping && pending.open.is_empty() {
                        return;
                    }
                    self.work.wait(&mut pending);
                }
            };
            let cancelled = batch(&ops, &mut writes);
            drop(ops);
            let result = if writes.is_empty() { Ok(()) } else { backend.commit(&writes) };
            match result {
                Ok(()) => {
                    self.commits.fetch_add(1, Ordering::Relaxed);
                    self.ops_written.fetch_add(writes.len() as u64, Ordering::Relaxed);
                    self.cancelled.fetch_add(cancelled, Ordering::Relaxed);
                    self.disk_bytes.store(backend.disk_bytes(), Ordering::Relaxed);
                    self.update_full();
                    self.durable.store(last, Ordering::Release);
                }
                Err(e) => {
                    error!("the message store failed, persistent messages are refused from now on: {e}");
                    let _ = self.failure.set(e.to_string());
                }
            }
            writes.clear();
            self.written.notify_waiters();
            // Under the lock, so a `flush` between its check and its wait cannot miss this.
            drop(self.pending.lock());
            self.progress.notify_all();
            if self.failure.get().is_some() {
                return;
            }
        }
    }

    /// Refuses persistent SENDs while the store is at its disk limit, and says so in the log.
    fn update_full(&self) {
        let limit = self.config.max_disk_bytes;
        let full = limit > 0 && self.disk_bytes.load(Ordering::Relaxed) >= limit;
        if self.full.swap(full, Ordering::Relaxed) != full {
            match full {
                true => warn!(limit, "the message store is full: persistent messages are refused"),
                false => warn!(limit, "the message store has room again"),
            }
        }
    }
}

/// Turns a batch of operations into writes, leaving out each message stored and deleted within
/// the batch; returns how many operations cancelled out.
fn batch(ops: &[Op], writes: &mut Vec<Write>) -> u64 {
    let mut put_at: HashMap<(Space, Key), usize> = HashMap::new();
    let mut cancelled = vec![false; 0];
    let mut count = 0;
    for op in ops {
        let write = match op {
            Op::Catalog { queue, entry: Some(entry) } => {
                Write::Put { space: Space::Catalog, key: record::catalog_key(*queue), value: entry.encode() }
            }
            Op::Catalog { queue, entry: None } => {
                Write::Delete { space: Space::Catalog, key: record::catalog_key(*queue) }
            }
            Op::Put { queue, sequence, message } => Write::Put {
                space: Space::Messages,
                key: record::message_key(*queue, *sequence),
                value: record::encode_message(message),
            },
            Op::Delete { queue, sequence } => {
                Write::Delete { space: Space::Messages, key: record::message_key(*queue, *sequence) }
            }
        };
        let target = write.target();
        match write {
            Write::Put { .. } => {
                put_at.insert(target, writes.len());
            }
            Write::Delete { .. } => {
                if let Some(index) = put_at.remove(&target) {
                    cancelled.resize(writes.len(), false);
                    cancelled[index] = true;
                    count += 2;
                    continue;
                }
            }
        }
        writes.push(write);
    }
    if count > 0 {
        cancelled.resize(writes.len(), false);
        let mut index = 0;
        writes.retain(|_| {
            index += 1;
            !cancelled[index - 1]
        });
    }
    count
}

fn unreadable<T>(key: &[u8], result: Result<T, RecordError>) -> Result<T, StoreError> {
    result.map_err(|error| StoreError::Record { key: key.to_vec(), error })
}

#[cfg(test)]
mod tests;
