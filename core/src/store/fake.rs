//! [`MemoryBackend`]: a store backend in memory, for crash tests without processes to kill.
//!
//! As redb's `CrashBackend`, it keeps only what a sync made durable: a committed batch is durable
//! as a whole. It can be told to fail at the Nth commit (the batch is then lost, as after a
//! failed `fdatasync`) or to hold commits back (a slow disk), and a clone taken before the
//! "crash" opens the durable image again.

use std::collections::BTreeMap;
use std::io;
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::{Condvar, Mutex};

use super::{Backend, Key, Space, StoreError, Visit, Write};

/// A backend in memory. Clones share the same image. See the module docs.
#[derive(Debug, Clone, Default)]
pub struct MemoryBackend {
    image: Arc<Mutex<Image>>,
    /// Whether commits are held back, and the wake-up of a held commit.
    paused: Arc<(Mutex<bool>, Condvar)>,
}

#[derive(Debug, Default)]
struct Image {
    catalog: BTreeMap<Key, Bytes>,
    messages: BTreeMap<Key, Bytes>,
    commits: u64,
    /// The commit (counted from 1) that fails, and every one after it.
    fail_at: Option<u64>,
}

impl Image {
    fn space(&mut self, space: Space) -> &mut BTreeMap<Key, Bytes> {
        match space {
            Space::Catalog => &mut self.catalog,
            Space::Messages => &mut self.messages,
        }
    }
}

impl MemoryBackend {
    /// An empty backend.
    pub fn new() -> MemoryBackend {
        MemoryBackend::default()
    }

    /// Makes the `nth` commit from now (1 = the next) and every later one fail.
    pub fn fail_at(&self, nth: u64) {
        let mut image = self.image.lock();
        image.fail_at = Some(image.commits + nth);
    }

    /// Holds every commit back until [`MemoryBackend::resume`].
    pub fn pause(&self) {
        *self.paused.0.lock() = true;
    }

    /// Lets held commits go on.
    pub fn resume(&self) {
        *self.paused.0.lock() = false;
        self.paused.1.notify_all();
    }

    /// Batches committed so far.
    pub fn commits(&self) -> u64 {
        self.image.lock().commits
    }

    /// Stored messages.
    pub fn messages(&self) -> usize {
        self.image.lock().messages.len()
    }
}

impl Backend for MemoryBackend {
    fn commit(&mut self, batch: &[Write]) -> io::Result<()> {
        let mut paused = self.paused.0.lock();
        while *paused {
            self.paused.1.wait(&mut paused);
        }
        drop(paused);
        let mut image = self.image.lock();
        if image.fail_at.is_some_and(|at| image.commits + 1 >= at) {
            return Err(io::Error::other("injected sync failure"));
        }
        image.commits += 1;
        for write in batch {
            match write {
                Write::Put { space, key, value } => {
                    image.space(*space).insert(*key, value.clone());
                }
                Write::Delete { space, key } => {
                    image.space(*space).remove(key);
                }
            }
        }
        Ok(())
    }

    fn scan(&mut self, space: Space, visit: &mut Visit<'_>) -> Result<(), StoreError> {
        let entries: Vec<(Key, Bytes)> = self.image.lock().space(space).iter().map(|(k, v)| (*k, v.clone())).collect();
        entries.into_iter().try_for_each(|(key, value)| visit(&key, value))
    }

    fn disk_bytes(&self) -> u64 {
        let image = self.image.lock();
        image.catalog.values().chain(image.messages.values()).map(|v| 16 + v.len() as u64).sum()
    }
}
