//! What a topic message looks like on NATS, and how a node drops the copies it already has.
//!
//! The NATS payload carries the message whole: the origin (node name and run), the origin's
//! sequence number, the destination, the STOMP headers and the body, each length-prefixed, so
//! any header a STOMP client can send crosses unchanged (NATS headers could not carry every STOMP
//! header name and value). A node whose NATS subscriptions overlap (`chat.*` and `chat.room1`)
//! is sent a message once per matching subscription; [`Seen`] lets the first copy through only.

use std::collections::HashMap;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use stompbox_core::broker::Message;

/// The payload format's version, its first byte.
const VERSION: u8 = 1;

/// Sequence numbers remembered per origin: a copy later than this many newer messages of its
/// origin is taken for one already delivered.
const WINDOW: u64 = 65_536;

/// Origins remembered; past it, the one heard from least recently is forgotten.
const MAX_ORIGINS: usize = 1024;

/// A topic message from another node.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Remote {
    pub(crate) origin: String,
    pub(crate) sequence: u64,
    pub(crate) destination: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Bytes,
}

/// Why a payload could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("malformed cluster message: {0}")]
pub(crate) struct Malformed(&'static str);

/// Encodes `message` for NATS, from `origin` with sequence number `sequence`.
pub(crate) fn encode(origin: &str, sequence: u64, message: &Message) -> Bytes {
    encode_parts(origin, sequence, message.destination(), message.headers(), message.body())
}

fn encode_parts(origin: &str, sequence: u64, destination: &str, headers: &[(String, String)], body: &[u8]) -> Bytes {
    let header_bytes: usize = headers.iter().map(|(n, v)| 8 + n.len() + v.len()).sum();
    let mut out =
        BytesMut::with_capacity(1 + 4 + origin.len() + 8 + 4 + destination.len() + 4 + header_bytes + body.len());
    out.put_u8(VERSION);
    put_str(&mut out, origin);
    out.put_u64(sequence);
    put_str(&mut out, destination);
    out.put_u32(headers.len() as u32);
    for (name, value) in headers {
        put_str(&mut out, name);
        put_str(&mut out, value);
    }
    out.put_slice(body);
    out.freeze()
}

/// Reads a payload [`encode`] wrote.
pub(crate) fn decode(mut payload: Bytes) -> Result<Remote, Malformed> {
    if payload.try_get_u8().ok() != Some(VERSION) {
        return Err(Malformed("unknown version"));
    }
    let origin = take_str(&mut payload)?;
    let sequence = payload.try_get_u64().map_err(|_| Malformed("truncated"))?;
    let destination = take_str(&mut payload)?;
    let count = payload.try_get_u32().map_err(|_| Malformed("truncated"))? as usize;
    // Each header takes at least 8 bytes: a count the payload cannot hold is refused before
    // anything is allocated for it.
    if count > payload.remaining() / 8 {
        return Err(Malformed("too many headers"));
    }
    let mut headers = Vec::with_capacity(count);
    for _ in 0..count {
        headers.push((take_str(&mut payload)?, take_str(&mut payload)?));
    }
    Ok(Remote { origin, sequence, destination, headers, body: payload })
}

fn put_str(out: &mut BytesMut, text: &str) {
    out.put_u32(text.len() as u32);
    out.put_slice(text.as_bytes());
}

fn take_str(payload: &mut Bytes) -> Result<String, Malformed> {
    let len = payload.try_get_u32().map_err(|_| Malformed("truncated"))? as usize;
    if len > payload.remaining() {
        return Err(Malformed("truncated"));
    }
    String::from_utf8(payload.split_to(len).to_vec()).map_err(|_| Malformed("not UTF-8"))
}

/// The sequence numbers recently delivered, per origin. See the module docs.
#[derive(Debug, Default)]
pub(crate) struct Seen {
    origins: HashMap<String, Window>,
    /// Bumped per message: when each origin was last heard from.
    clock: u64,
}

/// One origin's recent sequence numbers: a ring of bits below the highest one seen.
#[derive(Debug)]
struct Window {
    top: u64,
    bits: Box<[u64]>,
    heard: u64,
}

impl Seen {
    /// Whether this is the first copy of `origin`'s message `sequence` (a copy older than the
    /// window counts as seen: at most once).
    pub(crate) fn first(&mut self, origin: &str, sequence: u64) -> bool {
        self.clock += 1;
        if !self.origins.contains_key(origin) && self.origins.len() >= MAX_ORIGINS {
            let oldest = self.origins.iter().min_by_key(|(_, w)| w.heard).map(|(o, _)| o.clone());
            oldest.map(|o| self.origins.remove(&o));
        }
        let window = self.origins.entry(origin.to_owned()).or_insert_with(|| Window {
            top: 0,
            bits: vec![0; (WINDOW / 64) as usize].into(),
            heard: 0,
        });
        window.heard = self.clock;
        window.first(sequence)
    }
}

impl Window {
    fn first(&mut self, sequence: u64) -> bool {
        if sequence > self.top {
            if sequence - self.top >= WINDOW {
                self.bits.fill(0);
            } else {
                (self.top + 1..sequence).for_each(|s| self.set(s, false));
            }
            self.top = sequence;
            self.set(sequence, true);
            return true;
        }
        if self.top - sequence >= WINDOW || self.get(sequence) {
            return false;
        }
        self.set(sequence, true);
        true
    }

    fn get(&self, sequence: u64) -> bool {
        let bit = sequence % WINDOW;
        self.bits[(bit / 64) as usize] & (1 << (bit % 64)) != 0
    }

    fn set(&mut self, sequence: u64, on: bool) {
        let bit = sequence % WINDOW;
        let word = &mut self.bits[(bit / 64) as usize];
        match on {
            true => *word |= 1 << (bit % 64),
            false => *word &= !(1 << (bit % 64)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payload_round_trips_any_stomp_header() {
        let headers = vec![("a:b".to_owned(), "line\nbreak".to_owned()), ("persistent".to_owned(), "true".to_owned())];
        let payload = encode_parts("node-a/1", 42, "/topic/chat", &headers, b"hi\0there");
        let remote = decode(payload).unwrap();
        let expected = Remote {
            origin: "node-a/1".into(),
            sequence: 42,
            destination: "/topic/chat".into(),
            headers,
            body: Bytes::from_static(b"hi\0there"),
        };
        assert_eq!(remote, expected);
    }

    #[test]
    fn malformed_payloads_are_refused() {
        assert_eq!(decode(Bytes::from_static(b"")), Err(Malformed("unknown version")));
        assert_eq!(decode(Bytes::from_static(b"\x01\0\0\0\x09ab")), Err(Malformed("truncated")));
        let mut lying = BytesMut::new();
        lying.put_u8(VERSION);
        put_str(&mut lying, "o");
        lying.put_u64(1);
        put_str(&mut lying, "/topic/x");
        lying.put_u32(u32::MAX);
        assert_eq!(decode(lying.freeze()), Err(Malformed("too many headers")));
    }

    #[test]
    fn seen_lets_each_sequence_through_once_in_any_order() {
        let mut seen = Seen::default();
        assert!(seen.first("a", 1));
        assert!(!seen.first("a", 1));
        assert!(seen.first("a", 3));
        assert!(seen.first("a", 2), "a copy through a slower subscription is still new");
        assert!(!seen.first("a", 2));
        assert!(seen.first("b", 1), "origins are apart");
        assert!(seen.first("a", 3 + WINDOW));
        assert!(!seen.first("a", 3), "older than the window: taken as seen");
        assert!(seen.first("a", 4 + WINDOW));
    }
}
