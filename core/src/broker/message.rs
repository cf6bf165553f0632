//! A published message and its delivery to one subscription.
//!
//! A [`Message`] is built once per SEND and shared (`Arc`) by every subscriber: the body is one
//! `Bytes`, and the part of the MESSAGE header block that is the same for every subscriber
//! (destination, message-id, user headers, content-length) is encoded once per escaping style,
//! on first use. Per subscriber only `subscription`, `ack` and `redelivered` are written.

use std::sync::{Arc, OnceLock};

use bytes::{BufMut, Bytes, BytesMut};

use super::claim::Claim;
use super::stats::DestinationStats;
use crate::frame::{header, write_header, Escaping};
use crate::selector::Selector;

/// Headers a client may not set on a SEND because the broker writes them on MESSAGE.
const RESERVED: [&str; 7] = [
    header::DESTINATION,
    header::MESSAGE_ID,
    header::SUBSCRIPTION,
    header::ACK,
    header::CONTENT_LENGTH,
    header::RECEIPT,
    header::TRANSACTION,
];

/// Headers a dead letter gets anew (an earlier trip to a dead-letter queue's are replaced), and
/// `expires`, which it loses.
const DEAD_LETTER_HEADERS: [&str; 4] =
    [header::ORIGINAL_DESTINATION, header::ORIGINAL_MESSAGE_ID, header::DEAD_LETTER_REASON, header::EXPIRES];

/// One published message, shared by every delivery of it.
#[derive(Debug)]
pub struct Message {
    id: u64,
    destination: Arc<str>,
    headers: Vec<(String, String)>,
    body: Bytes,
    expires_at_ms: Option<u64>,
    /// Sent with `persistent:true`: stored, when the broker has a store, by every queue and
    /// durable subscription it reaches.
    persistent: bool,
    /// [`Message::size`], computed once: every push, drain and queue settle asks for it.
    size: usize,
    /// Encoded common header blocks, one per [`Escaping`], built on first use.
    blocks: [OnceLock<Bytes>; 3],
    /// The counters of the destination it was published to.
    stats: Arc<DestinationStats>,
    /// This node's hold on it, when it came from the cluster's queue.
    claim: Option<Arc<dyn Claim>>,
}

impl Message {
    /// Builds a message from a SEND's headers (reserved ones are dropped) and body. `expires`
    /// (ms since the epoch; 0 means never) is read from the headers.
    pub(crate) fn new(
        id: u64,
        destination: Arc<str>,
        headers: Vec<(String, String)>,
        body: Bytes,
        stats: Arc<DestinationStats>,
    ) -> Message {
        let mut headers = headers;
        headers.retain(|(name, _)| !RESERVED.contains(&name.as_str()));
        // A message may wait in a queue for long: keep no spare header slots.
        headers.shrink_to_fit();
        let expires_at_ms = headers
            .iter()
            .find(|(name, _)| name == header::EXPIRES)
            .and_then(|(_, value)| value.trim().parse::<u64>().ok())
            .filter(|&ms| ms != 0);
        let persistent = asks_persistence(&headers);
        const OVERHEAD: usize = 128;
        let size = body.len() + headers.iter().map(|(n, v)| n.len() + v.len() + 2).sum::<usize>() + OVERHEAD;
        let blocks = Default::default();
        Message { id, destination, headers, body, expires_at_ms, persistent, size, blocks, stats, claim: None }
    }

    /// A copy for a dead-letter queue, with headers saying where it came from and why
    /// (`original-destination`, `original-message-id`, `dead-letter-reason`). It no longer
    /// expires: an expired message must stay to be looked at.
    pub(crate) fn dead_letter(
        &self,
        id: u64,
        destination: Arc<str>,
        reason: &str,
        stats: Arc<DestinationStats>,
    ) -> Message {
        let mut headers = self.headers.clone();
        headers.retain(|(name, _)| !DEAD_LETTER_HEADERS.contains(&name.as_str()));
        headers.push((header::ORIGINAL_DESTINATION.to_owned(), self.destination.to_string()));
        headers.push((header::ORIGINAL_MESSAGE_ID.to_owned(), self.id.to_string()));
        headers.push((header::DEAD_LETTER_REASON.to_owned(), reason.to_owned()));
        Message::new(id, destination, headers, self.body.clone(), stats)
    }

    /// The MESSAGE that ends a browse: `browser:end`, no body.
    pub(crate) fn browse_end(id: u64, destination: Arc<str>) -> Message {
        let headers = vec![(header::BROWSER.to_owned(), "end".to_owned())];
        Message::new(id, destination, headers, Bytes::new(), Arc::default())
    }

    /// The message with this node's hold on it, as taken from the cluster's queue.
    pub(crate) fn with_claim(self, claim: Arc<dyn Claim>) -> Message {
        Message { claim: Some(claim), ..self }
    }

    /// This node's hold on it, when it came from the cluster's queue.
    pub(crate) fn claim(&self) -> Option<&Arc<dyn Claim>> {
        self.claim.as_ref()
    }

    /// The broker-assigned id, unique for the broker's lifetime.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Where it was sent.
    pub fn destination(&self) -> &str {
        &self.destination
    }

    /// The user headers, in SEND order.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The first user header of this name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(header, _)| header == name).map(|(_, value)| value.as_str())
    }

    /// Its message group: Apollo's `message_group` header, or ActiveMQ's `JMSXGroupID`.
    pub(crate) fn group(&self) -> Option<&str> {
        self.header(header::MESSAGE_GROUP).or_else(|| self.header(header::JMSX_GROUP_ID))
    }

    /// Whether `selector` selects this message. It names headers, or (as ActiveMQ's STOMP does)
    /// the JMS names of the headers that carry them: `JMSPriority`, `JMSType`,
    /// `JMSCorrelationID`.
    pub(crate) fn selected_by(&self, selector: &Selector) -> bool {
        selector.matches(|name| {
            let name = match name {
                "JMSPriority" => "priority",
                "JMSType" => "type",
                "JMSCorrelationID" => "correlation-id",
                other => other,
            };
            self.header(name)
        })
    }

    /// The body.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// Bytes this message accounts for in buffers and queue limits.
    pub fn size(&self) -> usize {
        self.size
    }

    /// The counters of its destination.
    pub(crate) fn stats(&self) -> &DestinationStats {
        &self.stats
    }

    /// Whether its `expires` time has passed at `now_ms` (ms since the epoch).
    pub fn is_expired_at(&self, now_ms: u64) -> bool {
        self.expires_at_ms.is_some_and(|at| at <= now_ms)
    }

    /// Whether it was sent with `persistent:true`.
    pub fn is_persistent(&self) -> bool {
        self.persistent
    }

    /// Whether it has an `expires` time at all.
    pub fn expires(&self) -> bool {
        self.expires_at_ms.is_some()
    }

    /// Appends a whole MESSAGE frame for one subscription: the command, the per-subscription
    /// lines given in `subscription_lines` (already encoded), the shared header block, the body,
    /// then NUL and LF.
    pub fn encode(
        &self,
        escaping: Escaping,
        subscription_lines: &[u8],
        redelivered: bool,
        ack: bool,
        dst: &mut BytesMut,
    ) {
        let block = self.block(escaping);
        dst.reserve(16 + subscription_lines.len() + block.len() + 48 + self.body.len());
        dst.put_slice(b"MESSAGE\n");
        dst.put_slice(subscription_lines);
        if ack {
            dst.put_slice(b"ack:");
            dst.put_slice(itoa::Buffer::new().format(self.id).as_bytes());
            dst.put_u8(b'\n');
        }
        if redelivered {
            dst.put_slice(b"redelivered:true\n");
        }
        dst.put_slice(block);
        dst.put_slice(&self.body);
        dst.put_slice(b"\0\n");
    }

    fn block(&self, escaping: Escaping) -> &Bytes {
        let slot = match escaping {
            Escaping::None => 0,
            Escaping::V1_1 => 1,
            Escaping::V1_2 => 2,
        };
        self.blocks[slot].get_or_init(|| {
            let mut block = BytesMut::with_capacity(64 + self.headers.len() * 32);
            write_header(&mut block, header::DESTINATION, &self.destination, escaping);
            let mut digits = itoa::Buffer::new();
            block.put_slice(b"message-id:");
            block.put_slice(digits.format(self.id).as_bytes());
            block.put_u8(b'\n');
            for (name, value) in &self.headers {
                // STOMP 1.0 cannot carry a line break in a header: leave such a header out
                // rather than let it inject lines into other subscribers' frames.
                if escaping == Escaping::None && has_line_break(name, value) {
                    continue;
                }
                write_header(&mut block, name, value, escaping);
            }
            block.put_slice(b"content-length:");
            block.put_slice(digits.format(self.body.len()).as_bytes());
            block.put_slice(b"\n\n");
            block.freeze()
        })
    }
}

fn has_line_break(name: &str, value: &str) -> bool {
    memchr::memchr2(b'\n', b'\r', name.as_bytes()).is_some()
        || memchr::memchr2(b'\n', b'\r', value.as_bytes()).is_some()
}

/// Whether a SEND's headers ask for `persistent:true`.
pub(crate) fn asks_persistence(headers: &[(String, String)]) -> bool {
    headers.iter().any(|(name, value)| name == header::PERSISTENT && value == "true")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(headers: &[(&str, &str)], body: &'static [u8]) -> Message {
        let headers = headers.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect();
        Message::new(7, "/topic/chat".into(), headers, Bytes::from_static(body), Arc::default())
    }

    #[test]
    fn encode_writes_the_whole_frame_with_content_length() {
        let m = message(&[("destination", "/topic/x"), ("color", "a:b"), ("receipt", "r1")], b"hi\0there");
        let mut out = BytesMut::new();
        m.encode(Escaping::V1_2, b"subscription:0\n", true, true, &mut out);
        assert_eq!(
            &out[..],
            b"MESSAGE\nsubscription:0\nack:7\nredelivered:true\ndestination:/topic/chat\nmessage-id:7\ncolor:a\\cb\ncontent-length:8\n\nhi\0there\0\n"
        );
        let mut out = BytesMut::new();
        m.encode(Escaping::None, b"subscription:s\n", false, false, &mut out);
        assert_eq!(
            &out[..],
            b"MESSAGE\nsubscription:s\ndestination:/topic/chat\nmessage-id:7\ncolor:a:b\ncontent-length:8\n\nhi\0there\0\n"
        );
    }

    #[test]
    fn line_breaks_are_left_out_for_stomp_1_0() {
        let m = message(&[("evil", "x\ncontent-length:0"), ("ok", "1")], b"");
        let mut out = BytesMut::new();
        m.encode(Escaping::None, b"", false, false, &mut out);
        assert_eq!(&out[..], b"MESSAGE\ndestination:/topic/chat\nmessage-id:7\nok:1\ncontent-length:0\n\n\0\n");
    }

    #[test]
    fn expiry_is_read_from_the_expires_header() {
        assert!(message(&[("expires", "1000")], b"").is_expired_at(1000));
        assert!(!message(&[("expires", "1000")], b"").is_expired_at(999));
        assert!(!message(&[("expires", "0")], b"").is_expired_at(u64::MAX));
        assert!(!message(&[], b"").expires());
    }
}
