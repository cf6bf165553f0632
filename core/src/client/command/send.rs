//! SEND: publishing a message. This is the client's hot path: the only work besides copying
//! the caller's headers and body into the write buffer is formatting `content-length`, on the
//! stack.

use super::pairs;
use crate::client::{Client, Result};
use crate::frame::{header, Command};

impl Client {
    /// Sends a message. A `content-length` header is added unless `headers` has one. With a
    /// `receipt` header, waits for the RECEIPT.
    pub fn send<K: AsRef<str>, V: AsRef<str>>(
        &mut self,
        destination: &str,
        body: &[u8],
        headers: &[(K, V)],
    ) -> Result<()> {
        let mut length = itoa::Buffer::new();
        let content_length = (!headers.iter().any(|(n, _)| n.as_ref() == header::CONTENT_LENGTH))
            .then(|| (header::CONTENT_LENGTH, length.format(body.len())));
        let own = [(header::DESTINATION, destination)].into_iter().chain(content_length);
        self.transmit(Command::Send, own.chain(pairs(headers)), body)
    }
}
