//! The SEND frame a producer writes, built once and restamped per message.
//!
//! The frame's headers never change in number or name; only the sequence number, the send time
//! and (for `persistent`) the receipt id change per message. [`SendTemplate`] remembers where
//! each of those sits as it adds it, so the header order can change freely, and rewrites the
//! values in place, so stamping allocates nothing once the strings have grown to size.

use bytes::Bytes;
use stompbox_core::frame::{header, Command, Frame};

use super::{PRODUCER_HEADER, SEQ_HEADER, TIMESTAMP_HEADER};

/// Header: asks the broker to store the message (ActiveMQ, RabbitMQ).
const PERSISTENT_HEADER: &str = "persistent";

/// One producer's SEND frame, with the positions of its per-message headers.
#[derive(Debug)]
pub(super) struct SendTemplate {
    frame: Frame,
    /// Where [`SEQ_HEADER`] sits.
    seq: HeaderSlot,
    /// Where [`TIMESTAMP_HEADER`] sits.
    timestamp: HeaderSlot,
    /// Where the `receipt` header sits, when every SEND asks for one.
    receipt: Option<HeaderSlot>,
}

/// The position of a header in its frame, known only to the template that added it.
#[derive(Debug, Clone, Copy)]
struct HeaderSlot(usize);

impl SendTemplate {
    /// SENDs from producer `producer` to `destination` with a body of `size` bytes, marked
    /// `persistent:true` with a receipt each when `persistent` is set.
    pub(super) fn new(destination: &str, producer: usize, size: usize, persistent: bool) -> SendTemplate {
        let mut frame = Frame::new(Command::Send)
            .with_header(header::DESTINATION, destination)
            .with_header(header::CONTENT_LENGTH, size.to_string())
            .with_header(PRODUCER_HEADER, producer.to_string())
            .with_body(Bytes::from(vec![b'x'; size]));
        let seq = add_slot(&mut frame, SEQ_HEADER);
        let timestamp = add_slot(&mut frame, TIMESTAMP_HEADER);
        let receipt = persistent.then(|| {
            frame.headers.push((PERSISTENT_HEADER.to_owned(), "true".to_owned()));
            add_slot(&mut frame, header::RECEIPT)
        });
        SendTemplate { frame, seq, timestamp, receipt }
    }

    /// The SEND numbered `seq`, stamped with `sent_ns` (its receipt id is `seq` too).
    pub(super) fn stamp(&mut self, seq: u64, sent_ns: u64) -> &Frame {
        self.set(self.seq, seq);
        self.set(self.timestamp, sent_ns);
        if let Some(receipt) = self.receipt {
            self.set(receipt, seq);
        }
        &self.frame
    }

    /// Rewrites the value in `slot` to `value` in decimal.
    fn set(&mut self, slot: HeaderSlot, value: u64) {
        let text = &mut self.frame.headers[slot.0].1;
        text.clear();
        text.push_str(itoa::Buffer::new().format(value));
    }
}

/// Appends header `name` (value `0` until stamped) and returns where it sits.
fn add_slot(frame: &mut Frame, name: &str) -> HeaderSlot {
    frame.headers.push((name.to_owned(), "0".to_owned()));
    HeaderSlot(frame.headers.len() - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_land_in_their_own_headers() {
        let mut template = SendTemplate::new("/topic/t", 3, 5, false);
        let frame = template.stamp(41, 123_456);
        assert_eq!(frame.header(header::DESTINATION), Some("/topic/t"));
        assert_eq!(frame.header(header::CONTENT_LENGTH), Some("5"));
        assert_eq!(frame.header(PRODUCER_HEADER), Some("3"));
        assert_eq!(frame.header(SEQ_HEADER), Some("41"));
        assert_eq!(frame.header(TIMESTAMP_HEADER), Some("123456"));
        assert_eq!(frame.header(header::RECEIPT), None);
        assert_eq!(frame.header(PERSISTENT_HEADER), None);
        assert_eq!(&frame.body[..], b"xxxxx");
    }

    #[test]
    fn persistent_sends_ask_for_a_receipt_named_by_their_sequence_number() {
        let mut template = SendTemplate::new("/queue/q", 0, 1, true);
        template.stamp(7, 1);
        let frame = template.stamp(8, 2);
        assert_eq!(frame.header(PERSISTENT_HEADER), Some("true"));
        assert_eq!(frame.header(header::RECEIPT), Some("8"));
        assert_eq!(frame.header(SEQ_HEADER), Some("8"));
        assert_eq!(frame.header(TIMESTAMP_HEADER), Some("2"));
        assert_eq!(frame.headers.len(), 7, "stamping rewrites headers, never adds them: {frame:?}");
    }
}
