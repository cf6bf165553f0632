//! What the store writes: keys and values, encoded by hand in a small binary form.
//!
//! Two key spaces, both with 16-byte big-endian keys so that key order is numeric order:
//! - the catalog: `[queue id][0]` → a [`CatalogEntry`] (a queue, a durable subscription and the
//!   topic pattern it collects from, or a topic's retained message);
//! - messages: `[queue id][sequence]` → the message's destination, headers and body. Within a
//!   queue, sequence order is arrival order, so a scan restores every queue in FIFO order.
//!
//! Values start with a format byte, so a later version can read what this one wrote.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use thiserror::Error;

use crate::broker::Message;

/// The format byte of every value this version writes.
const FORMAT: u8 = 1;

/// A 16-byte store key.
pub type Key = [u8; 16];

/// Which key space a write goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Space {
    /// Queues and durable subscriptions.
    Catalog,
    /// Stored messages.
    Messages,
}

/// The key of a catalog entry.
pub fn catalog_key(queue: u64) -> Key {
    message_key(queue, 0)
}

/// The key of a stored message.
pub fn message_key(queue: u64, sequence: u64) -> Key {
    let mut key = [0; 16];
    key[..8].copy_from_slice(&queue.to_be_bytes());
    key[8..].copy_from_slice(&sequence.to_be_bytes());
    key
}

/// The queue id and sequence number of a key.
pub fn split_key(key: &[u8]) -> Result<(u64, u64), RecordError> {
    let key: &Key = key.try_into().map_err(|_| RecordError::BadKey(key.len()))?;
    let (queue, sequence) = key.split_at(8);
    Ok((
        u64::from_be_bytes(queue.try_into().expect("8 bytes")),
        u64::from_be_bytes(sequence.try_into().expect("8 bytes")),
    ))
}

/// A stored value that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RecordError {
    /// A key that is not 16 bytes long.
    #[error("store key of {0} bytes (expected 16)")]
    BadKey(usize),
    /// A value written by an unknown format.
    #[error("stored value of unknown format {0}")]
    UnknownFormat(u8),
    /// A value that ends before its fields do, or holds text that is not UTF-8.
    #[error("stored value is truncated or malformed")]
    Malformed,
}

/// What the catalog says a stored queue is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CatalogEntry {
    /// A queue, `/queue/NAME`.
    Queue {
        /// Its destination.
        destination: String,
    },
    /// A durable subscription: a queue named `/dsub/NAME` that collects what is published to
    /// the topics `pattern` matches (those `selector` selects, when it has one).
    Durable {
        /// The subscription's name (the part after `/dsub/`).
        name: String,
        /// The topic pattern it subscribes to.
        pattern: String,
        /// Its selector's text; stored last, and only when there is one, so that entries
        /// written before selectors were stored read back as having none.
        selector: Option<String>,
    },
    /// A topic's retained message (its one message is the one retained).
    Retained {
        /// The topic, `/topic/NAME`.
        topic: String,
    },
}

impl CatalogEntry {
    /// The entry as a stored value.
    pub fn encode(&self) -> Bytes {
        let mut out = BytesMut::new();
        out.put_u8(FORMAT);
        match self {
            CatalogEntry::Queue { destination } => {
                out.put_u8(0);
                put_text(&mut out, destination);
            }
            CatalogEntry::Durable { name, pattern, selector } => {
                out.put_u8(1);
                put_text(&mut out, name);
                put_text(&mut out, pattern);
                if let Some(selector) = selector {
                    put_text(&mut out, selector);
                }
            }
            CatalogEntry::Retained { topic } => {
                out.put_u8(2);
                put_text(&mut out, topic);
            }
        }
        out.freeze()
    }

    /// Reads a stored value back.
    pub fn decode(mut value: &[u8]) -> Result<CatalogEntry, RecordError> {
        format(&mut value)?;
        let kind = take_u8(&mut value)?;
        match kind {
            0 => Ok(CatalogEntry::Queue { destination: take_text(&mut value)? }),
            1 => Ok(CatalogEntry::Durable {
                name: take_text(&mut value)?,
                pattern: take_text(&mut value)?,
                selector: match value.is_empty() {
                    true => None,
                    false => Some(take_text(&mut value)?),
                },
            }),
            2 => Ok(CatalogEntry::Retained { topic: take_text(&mut value)? }),
            _ => Err(RecordError::Malformed),
        }
    }
}

/// A stored message read back: where it was published, its headers and its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    /// The destination it was sent to (a topic, for a durable subscription's message).
    pub destination: String,
    /// Its user headers, in SEND order.
    pub headers: Vec<(String, String)>,
    /// Its body.
    pub body: Bytes,
}

/// A message as a stored value.
pub fn encode_message(message: &Message) -> Bytes {
    let headers = message.headers();
    let size = 16 + message.destination().len() + headers.iter().map(|(n, v)| 8 + n.len() + v.len()).sum::<usize>();
    let mut out = BytesMut::with_capacity(size + message.body().len());
    out.put_u8(FORMAT);
    put_text(&mut out, message.destination());
    out.put_u32(headers.len() as u32);
    for (name, value) in headers {
        put_text(&mut out, name);
        put_text(&mut out, value);
    }
    out.put_slice(message.body());
    out.freeze()
}

/// Reads a stored message back; the body shares `value`'s memory.
pub fn decode_message(value: Bytes) -> Result<StoredMessage, RecordError> {
    let mut rest = &value[..];
    format(&mut rest)?;
    let destination = take_text(&mut rest)?;
    let count = take_u32(&mut rest)? as usize;
    // Each header takes at least 8 bytes: a count larger than that is corruption, not an
    // allocation to attempt.
    if count > rest.len() / 8 {
        return Err(RecordError::Malformed);
    }
    let mut headers = Vec::with_capacity(count);
    for _ in 0..count {
        headers.push((take_text(&mut rest)?, take_text(&mut rest)?));
    }
    let body = value.slice(value.len() - rest.len()..);
    Ok(StoredMessage { destination, headers, body })
}

fn put_text(out: &mut BytesMut, text: &str) {
    out.put_u32(text.len() as u32);
    out.put_slice(text.as_bytes());
}

fn format(value: &mut &[u8]) -> Result<(), RecordError> {
    match take_u8(value)? {
        FORMAT => Ok(()),
        other => Err(RecordError::UnknownFormat(other)),
    }
}

fn take_u8(value: &mut &[u8]) -> Result<u8, RecordError> {
    value.try_get_u8().map_err(|_| RecordError::Malformed)
}

fn take_u32(value: &mut &[u8]) -> Result<u32, RecordError> {
    value.try_get_u32().map_err(|_| RecordError::Malformed)
}

fn take_text(value: &mut &[u8]) -> Result<String, RecordError> {
    let len = take_u32(value)? as usize;
    if value.len() < len {
        return Err(RecordError::Malformed);
    }
    let (text, rest) = value.split_at(len);
    *value = rest;
    String::from_utf8(text.to_vec()).map_err(|_| RecordError::Malformed)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn a_message_reads_back_as_written() {
        let headers = vec![("persistent".to_owned(), "true".to_owned()), ("color".to_owned(), "a:b\n".to_owned())];
        let message = Message::new(9, "/topic/x".into(), headers.clone(), Bytes::from_static(b"hi\0"), Arc::default());
        let stored = decode_message(encode_message(&message)).unwrap();
        assert_eq!(
            stored,
            StoredMessage { destination: "/topic/x".into(), headers, body: Bytes::from_static(b"hi\0") }
        );
    }

    #[test]
    fn truncated_values_are_errors_not_panics() {
        let message = Message::new(1, "/queue/q".into(), vec![("a".into(), "b".into())], Bytes::new(), Arc::default());
        let value = encode_message(&message);
        for len in 0..value.len() - 1 {
            // The last header's value is the last field; cutting into the body is not detectable.
            assert!(decode_message(value.slice(..len)).is_err(), "cut at {len}");
        }
        let entry = CatalogEntry::Durable { name: "n".into(), pattern: "/topic/a.*".into(), selector: None };
        assert_eq!(CatalogEntry::decode(&entry.encode()).unwrap(), entry);
        let entry =
            CatalogEntry::Durable { name: "n".into(), pattern: "/topic/a".into(), selector: Some("x > 1".into()) };
        let value = entry.encode();
        assert_eq!(CatalogEntry::decode(&value).unwrap(), entry);
        assert!(CatalogEntry::decode(&value[..value.len() - 1]).is_err(), "a cut selector is an error");
        let entry = CatalogEntry::Retained { topic: "/topic/prices".into() };
        assert_eq!(CatalogEntry::decode(&entry.encode()).unwrap(), entry);
        assert_eq!(CatalogEntry::decode(&[7]), Err(RecordError::UnknownFormat(7)));
    }

    #[test]
    fn keys_sort_by_queue_then_sequence() {
        assert!(message_key(1, u64::MAX) < message_key(2, 0));
        assert!(message_key(1, 255) < message_key(1, 256));
        assert_eq!(split_key(&message_key(3, 4)).unwrap(), (3, 4));
        assert_eq!(split_key(&[0; 3]), Err(RecordError::BadKey(3)));
    }
}
