//! The client's commands, one file each, as mini-redis's `cmd/`: `send` (SEND, the hot path),
//! `subscribe` (SUBSCRIBE, UNSUBSCRIBE), `ack` (ACK, NACK), `transaction` (BEGIN, COMMIT,
//! ABORT) and `disconnect` (DISCONNECT). This file holds what they share: the step every
//! command ends with, queueing its frame and either leaving it to the writer thread or, when
//! it asked for a RECEIPT, writing everything and waiting for that RECEIPT; and
//! [`Client::send_frame`] for any frame.
//!
//! Commands pass their headers as borrowed pairs straight to the encoder: no [`Frame`] is built
//! and no header is copied on the way out.

mod ack;
mod disconnect;
mod send;
mod subscribe;
mod transaction;

use super::{Client, Result};
use crate::frame::{header, Command, Frame};

impl Client {
    /// A fresh id, unique within this connection, for a receipt, subscription or transaction.
    pub fn next_id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}-{}", self.next_id)
    }

    /// Sends any frame with its headers in the given order; the caller adds `content-length`.
    /// Headers are escaped as the negotiated version says, except in [`Mode::Raw`] and for
    /// CONNECT/STOMP, where they are written exactly as given. With a `receipt` header, waits
    /// for the RECEIPT (or fails with the ERROR that comes instead).
    ///
    /// [`Mode::Raw`]: super::Mode::Raw
    pub fn send_frame(&mut self, frame: &Frame) -> Result<()> {
        self.transmit(frame.command, frame.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())), &frame.body)
    }

    /// Queues one frame. Without a `receipt` header it is left to the writer thread; with one
    /// (the first one counts), everything queued is written and the call waits for that
    /// RECEIPT (or fails with the ERROR that comes instead).
    fn transmit<'h>(
        &mut self,
        command: Command,
        headers: impl IntoIterator<Item = (&'h str, &'h str)>,
        body: &[u8],
    ) -> Result<()> {
        self.check_open()?;
        let mut receipt = None;
        let headers = headers.into_iter().inspect(|&(name, value)| {
            if name == header::RECEIPT && receipt.is_none() {
                receipt = Some(value);
            }
        });
        self.write_frame(command, headers, body)?;
        match receipt {
            Some(id) => self.await_receipt(id),
            None => self.release(),
        }
    }
}

/// A caller's headers as borrowed pairs, in their order.
fn pairs<K: AsRef<str>, V: AsRef<str>>(headers: &[(K, V)]) -> impl Iterator<Item = (&str, &str)> {
    headers.iter().map(|(n, v)| (n.as_ref(), v.as_ref()))
}
