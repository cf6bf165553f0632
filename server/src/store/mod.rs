//! The message store on disk: the engine's store `Backend` as an append-only, segmented journal
//! (see docs/PERSISTENCE.md for why not fjall, the layout and recovery).
//!
//! Each batch the engine commits is appended to the current segment file as one CRC-checked unit
//! (`segment`) and synced with `fdatasync` before `commit` returns. Nothing is kept in memory but
//! an index of the live puts (where each lies) and, per segment, how many of its puts are live.
//! Space is reclaimed by deleting whole segments:
//!
//! - a segment whose puts are all deleted goes, unless it holds deletes of puts in an older
//!   segment that is still there (removing those deletes would bring the puts back at the next
//!   start);
//! - when the journal is more than twice its live data plus two segments, the live puts of the
//!   oldest segment are written again, at the end of the next batch, so one long-lived message
//!   cannot keep every later segment.
//!
//! At start every segment is read in order; the newest may end in a batch torn by a crash,
//! which is cut off (the file is truncated there). Recovered values are slices of the segments
//! read, not copies.

mod segment;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write as _};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use stompbox_core::store::{Backend, Key, Space, StoreError, Visit, Write};

use segment::Record;

/// A segment is closed once it is this large (a batch is never split).
const SEGMENT_BYTES: u64 = 64 * 1024 * 1024;
/// The folder of segment files under the data directory.
const JOURNAL: &str = "journal";

/// The store under one data directory.
pub struct DiskStore {
    dir: PathBuf,
    current: File,
    current_id: u64,
    index: Index,
    /// What the segments held at start, in key order, until [`Backend::scan`] hands it out.
    recovered: HashMap<Space, BTreeMap<Key, Bytes>>,
    buffer: Vec<u8>,
}

/// Where the live puts lie, and what each segment holds.
#[derive(Debug, Default)]
struct Index {
    segments: BTreeMap<u64, Segment>,
    live: HashMap<(Space, Key), Location>,
    /// The bytes of the live puts' values (and their keys and framing, about).
    live_bytes: u64,
}

#[derive(Debug, Default)]
struct Segment {
    bytes: u64,
    /// Puts of this segment not yet deleted.
    live: usize,
    /// Older segments with puts that this segment's deletes delete.
    deletes_from: HashSet<u64>,
}

#[derive(Debug, Clone, Copy)]
struct Location {
    segment: u64,
    offset: u64,
    len: u32,
}

impl Location {
    fn size(&self) -> u64 {
        u64::from(self.len) + 21
    }
}

impl Index {
    fn put(&mut self, space: Space, key: Key, location: Location) {
        if let Some(old) = self.live.insert((space, key), location) {
            self.forget(old);
        }
        self.live_bytes += location.size();
        self.segments.entry(location.segment).or_default().live += 1;
    }

    /// Notes a delete written to segment `id`.
    fn delete(&mut self, id: u64, space: Space, key: Key) {
        let Some(old) = self.live.remove(&(space, key)) else { return };
        self.forget(old);
        if old.segment != id {
            self.segments.entry(id).or_default().deletes_from.insert(old.segment);
        }
    }

    fn forget(&mut self, old: Location) {
        self.live_bytes -= old.size();
        self.segments.entry(old.segment).or_default().live -= 1;
    }

    /// The segments that hold nothing live and no delete still needed (see the module docs),
    /// now forgotten.
    fn reclaim(&mut self, current: u64) -> Vec<u64> {
        let mut gone = Vec::new();
        for (&id, segment) in &self.segments {
            let needed = segment.deletes_from.iter().any(|older| !gone.contains(older));
            if id != current && segment.live == 0 && !needed {
                gone.push(id);
            }
        }
        for id in &gone {
            self.segments.remove(id);
        }
        for segment in self.segments.values_mut() {
            segment.deletes_from.retain(|older| !gone.contains(older));
        }
        gone
    }
}

impl DiskStore {
    /// Opens (or creates) the journal in `dir`, reading it back and cutting off a torn tail.
    pub fn open(dir: &Path) -> io::Result<DiskStore> {
        let dir = dir.join(JOURNAL);
        std::fs::create_dir_all(&dir)?;
        let mut ids: Vec<u64> = std::fs::read_dir(&dir)?
            .filter_map(|entry| entry.ok()?.file_name().to_str()?.strip_suffix(".log")?.parse().ok())
            .collect();
        ids.sort_unstable();
        let mut index = Index::default();
        let mut recovered: HashMap<Space, BTreeMap<Key, Bytes>> = HashMap::new();
        for (n, &id) in ids.iter().enumerate() {
            let path = segment_path(&dir, id);
            let contents = Bytes::from(std::fs::read(&path)?);
            let readable = segment::read(&contents, |record| match record {
                Record::Put { space, key, value, offset } => {
                    let location = Location { segment: id, offset, len: value.len() as u32 };
                    recovered.entry(space).or_default().insert(key, value);
                    index.put(space, key, location);
                }
                Record::Delete { space, key } => {
                    recovered.entry(space).or_default().remove(&key);
                    index.delete(id, space, key);
                }
            }) as u64;
            if readable < contents.len() as u64 {
                if n + 1 < ids.len() {
                    return Err(io::Error::new(io::ErrorKind::InvalidData, format!("{} is corrupt", path.display())));
                }
                tracing::warn!(segment = %path.display(), at = readable, "cutting off a torn last write");
                OpenOptions::new().write(true).open(&path)?.set_len(readable)?;
            }
            index.segments.entry(id).or_default().bytes = readable;
        }
        let current_id = ids.last().copied().unwrap_or(0);
        index.segments.entry(current_id).or_default();
        let current = segment_file(&dir, current_id)?;
        let mut store = DiskStore { dir, current, current_id, index, recovered, buffer: Vec::new() };
        store.reclaim()?;
        Ok(store)
    }

    /// Deletes the segment files nothing needs any more, durably (a file that came back after a
    /// power loss could bring back puts whose deletes went with a later file).
    fn reclaim(&mut self) -> io::Result<()> {
        let gone = self.index.reclaim(self.current_id);
        for id in &gone {
            std::fs::remove_file(segment_path(&self.dir, *id))?;
        }
        if !gone.is_empty() {
            File::open(&self.dir)?.sync_all()?;
        }
        Ok(())
    }

    /// The live puts of the oldest segment, read back, when the journal is more than twice its
    /// live data plus two segments: they are written again so the segment can go.
    fn rewrite_oldest(&self) -> io::Result<Vec<Write>> {
        let (&oldest, _) = self.index.segments.iter().next().expect("the current segment exists");
        if oldest == self.current_id || self.disk_bytes() <= 2 * self.index.live_bytes + 2 * SEGMENT_BYTES {
            return Ok(Vec::new());
        }
        let mut file = File::open(segment_path(&self.dir, oldest))?;
        let mut writes = Vec::new();
        for (&(space, key), location) in self.index.live.iter().filter(|(_, l)| l.segment == oldest) {
            let mut value = vec![0; location.len as usize];
            file.seek(SeekFrom::Start(location.offset))?;
            file.read_exact(&mut value)?;
            writes.push(Write::Put { space, key, value: value.into() });
        }
        Ok(writes)
    }
}

fn segment_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("{id:020}.log"))
}

/// Opens segment `id` for appending, creating it (and syncing the folder) if new.
fn segment_file(dir: &Path, id: u64) -> io::Result<File> {
    let path = segment_path(dir, id);
    let existed = path.exists();
    let file = OpenOptions::new().create(true).append(true).open(&path)?;
    if !existed {
        File::open(dir)?.sync_all()?;
    }
    Ok(file)
}

impl Backend for DiskStore {
    fn commit(&mut self, writes: &[Write]) -> io::Result<()> {
        // Rewritten puts go first: a delete in this batch still deletes them.
        let mut batch = self.rewrite_oldest()?;
        batch.extend_from_slice(writes);
        self.buffer.clear();
        let offsets = segment::encode(&batch, &mut self.buffer);
        self.current.write_all(&self.buffer)?;
        self.current.sync_data()?;
        let id = self.current_id;
        let start = self.index.segments.entry(id).or_default().bytes;
        let mut offsets = offsets.into_iter();
        for write in &batch {
            match write {
                Write::Put { space, key, value } => {
                    let offset = start + offsets.next().expect("an offset per put");
                    self.index.put(*space, *key, Location { segment: id, offset, len: value.len() as u32 });
                }
                Write::Delete { space, key } => self.index.delete(id, *space, *key),
            }
        }
        let segment = self.index.segments.entry(id).or_default();
        segment.bytes += self.buffer.len() as u64;
        if segment.bytes >= SEGMENT_BYTES {
            self.current_id = id + 1;
            self.current = segment_file(&self.dir, self.current_id)?;
            self.index.segments.entry(self.current_id).or_default();
        }
        self.reclaim()
    }

    fn scan(&mut self, space: Space, visit: &mut Visit<'_>) -> Result<(), StoreError> {
        for (key, value) in self.recovered.remove(&space).unwrap_or_default() {
            visit(&key, value)?;
        }
        Ok(())
    }

    fn disk_bytes(&self) -> u64 {
        self.index.segments.values().map(|s| s.bytes).sum()
    }
}

#[cfg(test)]
mod tests;
