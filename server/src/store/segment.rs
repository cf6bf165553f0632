//! The journal's file format: a segment is a sequence of batches, each written whole by one
//! `commit` and synced once.
//!
//! A batch is a header of 12 bytes (the magic `SBJ1`, the payload's length and the payload's
//! CRC-32, big-endian) and the payload: its writes, each `[kind: u8][key: 16 bytes]`, and for a
//! put `[length: u32][value]`. Kinds: 0 put catalog, 1 put message, 2 delete catalog, 3 delete
//! message. A batch whose header or CRC does not check ends the readable part of a segment: a
//! write torn by a crash is never half applied.

use bytes::{Buf, BufMut, Bytes};
use stompbox_core::store::{Key, Space, Write};

const MAGIC: u32 = u32::from_be_bytes(*b"SBJ1");
const HEADER: usize = 12;

/// One write read back, with where a put's value lies in its segment.
#[derive(Debug)]
pub(super) enum Record {
    Put { space: Space, key: Key, value: Bytes, offset: u64 },
    Delete { space: Space, key: Key },
}

/// Appends `writes` to `out` as one batch; returns, for each put, the offset of its value from
/// the start of the batch.
pub(super) fn encode(writes: &[Write], out: &mut Vec<u8>) -> Vec<u64> {
    let start = out.len();
    out.extend_from_slice(&[0; HEADER]);
    let mut offsets = Vec::new();
    for write in writes {
        match write {
            Write::Put { space, key, value } => {
                out.put_u8(kind(*space, true));
                out.extend_from_slice(key);
                out.put_u32(value.len() as u32);
                offsets.push((out.len() - start) as u64);
                out.extend_from_slice(value);
            }
            Write::Delete { space, key } => {
                out.put_u8(kind(*space, false));
                out.extend_from_slice(key);
            }
        }
    }
    let payload = &out[start + HEADER..];
    let (length, crc) = (payload.len() as u32, crc32fast::hash(payload));
    let header = &mut out[start..start + HEADER];
    header[..4].copy_from_slice(&MAGIC.to_be_bytes());
    header[4..8].copy_from_slice(&length.to_be_bytes());
    header[8..].copy_from_slice(&crc.to_be_bytes());
    offsets
}

fn kind(space: Space, put: bool) -> u8 {
    match (space, put) {
        (Space::Catalog, true) => 0,
        (Space::Messages, true) => 1,
        (Space::Catalog, false) => 2,
        (Space::Messages, false) => 3,
    }
}

/// Reads a segment's batches in order, handing each record to `visit`; returns the length of the
/// readable part (the whole segment unless its last batch is torn or corrupt).
pub(super) fn read(segment: &Bytes, mut visit: impl FnMut(Record)) -> usize {
    let mut at = 0;
    while let Some((payload_at, payload)) = batch(segment, at) {
        let mut records = Vec::new();
        if !parse(segment, payload_at, payload, &mut records) {
            break;
        }
        records.into_iter().for_each(&mut visit);
        at = payload_at + payload;
    }
    at
}

/// The payload's start and length of a whole batch at `at`, if one is there and checks.
fn batch(segment: &[u8], at: usize) -> Option<(usize, usize)> {
    let mut header = segment.get(at..at + HEADER)?;
    let (magic, length, crc) = (header.get_u32(), header.get_u32() as usize, header.get_u32());
    let payload = segment.get(at + HEADER..(at + HEADER).checked_add(length)?)?;
    (magic == MAGIC && crc32fast::hash(payload) == crc).then_some((at + HEADER, length))
}

/// Parses a checked payload into `records`; false if it does not parse.
fn parse(segment: &Bytes, start: usize, length: usize, records: &mut Vec<Record>) -> bool {
    let end = start + length;
    let mut at = start;
    while at < end {
        let Some((&kind, key)) = segment.get(at..at + 17).and_then(|s| s.split_first()) else { return false };
        let key: Key = key.try_into().expect("16 bytes");
        at += 17;
        let space = if kind % 2 == 0 { Space::Catalog } else { Space::Messages };
        match kind {
            0 | 1 => {
                let Some(mut len) = segment.get(at..at + 4) else { return false };
                let len = len.get_u32() as usize;
                at += 4;
                if at + len > end {
                    return false;
                }
                records.push(Record::Put { space, key, value: segment.slice(at..at + len), offset: at as u64 });
                at += len;
            }
            2 | 3 => records.push(Record::Delete { space, key }),
            _ => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(n: u8) -> Write {
        Write::Put { space: Space::Messages, key: [n; 16], value: Bytes::from(vec![n; 10]) }
    }

    #[test]
    fn batches_read_back_and_a_torn_one_is_cut_off() {
        let mut file = Vec::new();
        encode(&[put(1), Write::Delete { space: Space::Catalog, key: [9; 16] }], &mut file);
        let whole = file.len();
        let offsets = encode(&[put(2), put(3)], &mut file);
        assert_eq!(offsets.len(), 2);
        let file = Bytes::from(file);
        let mut seen = Vec::new();
        assert_eq!(read(&file, |r| seen.push(r)), file.len());
        assert_eq!(seen.len(), 4);
        match &seen[3] {
            Record::Put { value, offset, .. } => assert_eq!(&file[*offset as usize..][..10], &value[..]),
            other => panic!("{other:?}"),
        }
        for cut in whole..file.len() {
            let mut count = 0;
            assert_eq!(read(&file.slice(..cut), |_| count += 1), whole, "cut at {cut}");
            assert_eq!(count, 2, "only the whole first batch");
        }
        let mut flipped = file.to_vec();
        flipped[whole + 20] ^= 1;
        assert_eq!(read(&Bytes::from(flipped), |_| {}), whole, "a bad CRC ends the readable part");
    }
}
