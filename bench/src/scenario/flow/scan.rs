//! A MESSAGE's bench headers, read where they lie in the read buffer.
//!
//! A subscriber of a room gets a million MESSAGEs a second between all of them, and decoding
//! each into a [`Frame`](stompbox_core::frame::Frame) (a `String` per header name and value)
//! cost the load generator more CPU than the broker spent delivering them. A consumer that does
//! not acknowledge only needs three numbers from each MESSAGE and where it ends, so it scans
//! for them with `memchr` and allocates nothing; anything else (an ERROR, a RECEIPT, a frame
//! this scanner does not take) goes to the codec.

use super::{PRODUCER_HEADER, SEQ_HEADER, TIMESTAMP_HEADER};

/// What [`scan`] found at the start of a buffer.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Scan {
    /// Heart-beat EOLs, this many bytes.
    Eol(usize),
    /// A whole MESSAGE, `len` bytes with its NUL.
    Message {
        /// Bytes it takes.
        len: usize,
        /// Its `bench_prod`, `bench_seq` and `bench_ts`, where present.
        numbers: Numbers,
    },
    /// Something else, for the codec to decode.
    Other,
    /// Not a whole frame yet.
    Incomplete,
}

/// The bench headers of one MESSAGE (the first of each counts, as for any reader).
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Numbers {
    pub(super) producer: Option<u64>,
    pub(super) seq: Option<u64>,
    pub(super) sent_ns: Option<u64>,
}

/// Scans the start of `bytes`.
pub(super) fn scan(bytes: &[u8]) -> Scan {
    let eols = bytes.iter().take_while(|&&b| b == b'\n' || b == b'\r').count();
    if eols > 0 {
        return Scan::Eol(eols);
    }
    let Some(first) = memchr::memchr(b'\n', bytes) else { return Scan::Incomplete };
    if trim_cr(&bytes[..first]) != b"MESSAGE" {
        return Scan::Other;
    }
    let mut numbers = Numbers::default();
    let mut content_length = None;
    let mut line = first + 1;
    let body = loop {
        let Some(end) = memchr::memchr(b'\n', &bytes[line..]).map(|n| line + n) else { return Scan::Incomplete };
        let text = trim_cr(&bytes[line..end]);
        if text.is_empty() {
            break end + 1;
        }
        if let Some((name, value)) = split_header(text) {
            let slot = match name {
                b"content-length" => &mut content_length,
                _ if name == PRODUCER_HEADER.as_bytes() => &mut numbers.producer,
                _ if name == SEQ_HEADER.as_bytes() => &mut numbers.seq,
                _ if name == TIMESTAMP_HEADER.as_bytes() => &mut numbers.sent_ns,
                _ => &mut None,
            };
            if slot.is_none() {
                *slot = parse(value);
            }
        }
        line = end + 1;
    };
    let nul = match content_length {
        Some(length) => match usize::try_from(length).ok().and_then(|length| body.checked_add(length)) {
            Some(nul) => nul,
            None => return Scan::Other,
        },
        None => match memchr::memchr(0, &bytes[body..]) {
            Some(n) => body + n,
            None => return Scan::Incomplete,
        },
    };
    match bytes.get(nul) {
        None => Scan::Incomplete,
        Some(0) => Scan::Message { len: nul + 1, numbers },
        // Not where content-length says: let the codec report it.
        Some(_) => Scan::Other,
    }
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn split_header(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let colon = memchr::memchr(b':', line)?;
    Some((&line[..colon], &line[colon + 1..]))
}

fn parse(value: &[u8]) -> Option<u64> {
    std::str::from_utf8(value).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_gives_its_numbers_and_length() {
        let frame = b"MESSAGE\nsubscription:s0\nbench_prod:2\nbench_seq:41\nbench_ts:99\nbench_seq:7\ncontent-length:3\n\na\0b\0\nMESSAGE";
        let numbers = Numbers { producer: Some(2), seq: Some(41), sent_ns: Some(99) };
        assert_eq!(scan(frame), Scan::Message { len: frame.len() - 8, numbers });
    }

    #[test]
    fn without_content_length_the_body_ends_at_its_nul() {
        let frame = b"MESSAGE\r\nbench_seq:1\r\n\r\nhi\0";
        let numbers = Numbers { seq: Some(1), ..Numbers::default() };
        assert_eq!(scan(frame), Scan::Message { len: frame.len(), numbers });
    }

    #[test]
    fn partial_frames_wait_and_other_frames_go_to_the_codec() {
        assert_eq!(scan(b"\n\nMESSAGE"), Scan::Eol(2));
        assert_eq!(scan(b"MESSAGE\nbench_seq:1\n"), Scan::Incomplete);
        assert_eq!(scan(b"MESSAGE\ncontent-length:5\n\nab"), Scan::Incomplete);
        assert_eq!(scan(b"MESSAGE\n\nab"), Scan::Incomplete);
        assert_eq!(scan(b"ERROR\nmessage:no\n\n\0"), Scan::Other);
        assert_eq!(scan(b"MESSAGE\ncontent-length:1\n\nab\0"), Scan::Other);
    }
}
