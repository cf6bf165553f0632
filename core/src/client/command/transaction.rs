//! BEGIN, COMMIT and ABORT.

use super::pairs;
use crate::client::{Client, Result};
use crate::frame::{header, Command};

impl Client {
    /// Opens a transaction, `transaction` or a generated id, and returns its id.
    pub fn begin<K: AsRef<str>, V: AsRef<str>>(
        &mut self,
        transaction: Option<&str>,
        headers: &[(K, V)],
    ) -> Result<String> {
        let id = match transaction {
            Some(id) => id.to_owned(),
            None => self.next_id("tx"),
        };
        self.transaction(Command::Begin, &id, headers)?;
        Ok(id)
    }

    /// Commits a transaction.
    pub fn commit<K: AsRef<str>, V: AsRef<str>>(&mut self, transaction: &str, headers: &[(K, V)]) -> Result<()> {
        self.transaction(Command::Commit, transaction, headers)
    }

    /// Rolls back a transaction.
    pub fn abort<K: AsRef<str>, V: AsRef<str>>(&mut self, transaction: &str, headers: &[(K, V)]) -> Result<()> {
        self.transaction(Command::Abort, transaction, headers)
    }

    fn transaction<K: AsRef<str>, V: AsRef<str>>(
        &mut self,
        command: Command,
        id: &str,
        headers: &[(K, V)],
    ) -> Result<()> {
        self.transmit(command, [(header::TRANSACTION, id)].into_iter().chain(pairs(headers)), b"")
    }
}
