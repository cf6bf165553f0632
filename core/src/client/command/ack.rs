//! ACK and NACK: settling a received MESSAGE, named as the negotiated version requires.

use super::pairs;
use crate::client::{Client, Error, Result};
use crate::frame::{header, Command, Frame};
use crate::version::Version;

impl Client {
    /// Acknowledges a received MESSAGE, naming it as the negotiated version requires: 1.2 by
    /// its `ack` header (in `id`), 1.1 by `message-id` and `subscription`, 1.0 by `message-id`.
    pub fn ack<K: AsRef<str>, V: AsRef<str>>(&mut self, message: &Frame, headers: &[(K, V)]) -> Result<()> {
        self.acknowledge(Command::Ack, message, headers)
    }

    /// Rejects a received MESSAGE (STOMP 1.1+; a 1.0 broker may refuse it). Headers as [`Client::ack`].
    pub fn nack<K: AsRef<str>, V: AsRef<str>>(&mut self, message: &Frame, headers: &[(K, V)]) -> Result<()> {
        self.acknowledge(Command::Nack, message, headers)
    }

    fn acknowledge<K: AsRef<str>, V: AsRef<str>>(
        &mut self,
        command: Command,
        message: &Frame,
        headers: &[(K, V)],
    ) -> Result<()> {
        let naming = naming(self.version, message)?;
        self.transmit(command, naming.into_iter().flatten().chain(pairs(headers)), b"")
    }
}

/// The headers that name `message` in an ACK or NACK of `version`. Fails, sending nothing,
/// when `message` is not a MESSAGE or lacks the header that names it.
fn naming(version: Version, message: &Frame) -> Result<[Option<(&str, &str)>; 2]> {
    if message.command != Command::Message {
        return Err(Error::InvalidArgument(format!("cannot acknowledge a {} frame", message.command.as_str())));
    }
    let missing = |name: &str| Error::InvalidArgument(format!("MESSAGE has no {name} header"));
    let required = |name: &'static str| message.header(name).ok_or_else(|| missing(name));
    Ok(match version {
        Version::V1_2 => {
            let id = message.header(header::ACK).or_else(|| message.header(header::MESSAGE_ID));
            [Some((header::ID, id.ok_or_else(|| missing(header::ACK))?)), None]
        }
        Version::V1_1 => [
            Some((header::MESSAGE_ID, required(header::MESSAGE_ID)?)),
            Some((header::SUBSCRIPTION, required(header::SUBSCRIPTION)?)),
        ],
        Version::V1_0 => [Some((header::MESSAGE_ID, required(header::MESSAGE_ID)?)), None],
    })
}
