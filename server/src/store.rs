//! The message store on disk: the engine's store `Backend` over fjall, an embedded LSM-tree
//! key-value store (see docs/PERSISTENCE.md for why fjall, the layout and recovery).
//!
//! Two partitions, `catalog` and `messages`, hold the engine's two key spaces. A batch is one
//! fjall write batch, appended to fjall's journal as one unit and synced with `fdatasync`
//! (`PersistMode::SyncData`) before `commit` returns; fjall poisons itself when a sync fails,
//! and every later write is refused. After a crash, fjall replays its journal up to the last
//! whole batch: a torn last write is cut off, never half applied.

use std::io;
use std::path::Path;

use bytes::Bytes;
use fjall::{Config, Keyspace, PartitionCreateOptions, PartitionHandle, PersistMode};
use stompbox_core::store::{Backend, Space, StoreError, Visit, Write};

/// The store under one data directory.
pub struct DiskStore {
    keyspace: Keyspace,
    catalog: PartitionHandle,
    messages: PartitionHandle,
}

impl DiskStore {
    /// Opens (or creates) the store in `dir`, replaying its journal.
    pub fn open(dir: &Path) -> io::Result<DiskStore> {
        let keyspace = Config::new(dir).open().map_err(io::Error::other)?;
        let partition =
            |name| keyspace.open_partition(name, PartitionCreateOptions::default()).map_err(io::Error::other);
        let (catalog, messages) = (partition("catalog")?, partition("messages")?);
        Ok(DiskStore { keyspace, catalog, messages })
    }

    fn partition(&self, space: Space) -> &PartitionHandle {
        match space {
            Space::Catalog => &self.catalog,
            Space::Messages => &self.messages,
        }
    }
}

impl Backend for DiskStore {
    fn commit(&mut self, writes: &[Write]) -> io::Result<()> {
        let mut batch = self.keyspace.batch().durability(Some(PersistMode::SyncData));
        for write in writes {
            match write {
                Write::Put { space, key, value } => batch.insert(self.partition(*space), *key, value.clone()),
                Write::Delete { space, key } => batch.remove(self.partition(*space), *key),
            }
        }
        batch.commit().map_err(io::Error::other)
    }

    fn scan(&mut self, space: Space, visit: &mut Visit<'_>) -> Result<(), StoreError> {
        for entry in self.partition(space).iter() {
            let (key, value) = entry.map_err(|e| StoreError::Io(io::Error::other(e)))?;
            visit(&key, Bytes::from(value))?;
        }
        Ok(())
    }

    fn disk_bytes(&self) -> u64 {
        self.keyspace.disk_space()
    }
}
