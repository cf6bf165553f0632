//! SUBSCRIBE and UNSUBSCRIBE.

use super::pairs;
use crate::client::{Client, Result};
use crate::frame::{header, Command};

impl Client {
    /// Subscribes to `destination` and returns the subscription id: the `id` header if
    /// `headers` has one, else a generated one. With a `receipt` header, waits for the RECEIPT.
    pub fn subscribe<K: AsRef<str>, V: AsRef<str>>(&mut self, destination: &str, headers: &[(K, V)]) -> Result<String> {
        let given = headers.iter().find(|(n, _)| n.as_ref() == header::ID).map(|(_, v)| v.as_ref().to_owned());
        let generated = given.is_none();
        let id = given.unwrap_or_else(|| self.next_id("sub"));
        let own_id = generated.then_some((header::ID, id.as_str()));
        let own = [(header::DESTINATION, destination)].into_iter().chain(own_id);
        self.transmit(Command::Subscribe, own.chain(pairs(headers)), b"")?;
        Ok(id)
    }

    /// Ends the subscription `id`. With a `receipt` header, waits for the RECEIPT.
    pub fn unsubscribe<K: AsRef<str>, V: AsRef<str>>(&mut self, id: &str, headers: &[(K, V)]) -> Result<()> {
        self.transmit(Command::Unsubscribe, [(header::ID, id)].into_iter().chain(pairs(headers)), b"")
    }
}
