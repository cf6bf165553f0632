//! DISCONNECT: ending the session politely.

use crate::client::{Client, Result};
use crate::frame::{header, Command};

impl Client {
    /// Ends the session: DISCONNECT with a receipt, waits for it (bounded by the timeout), then
    /// closes the connection. Disconnecting an already closed client does nothing.
    pub fn disconnect(&mut self) -> Result<()> {
        if self.closed {
            return Ok(());
        }
        let receipt = self.next_id("disconnect");
        let result = self.transmit(Command::Disconnect, [(header::RECEIPT, receipt.as_str())], b"");
        self.close_socket();
        result
    }
}
