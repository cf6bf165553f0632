//! BEGIN, COMMIT and ABORT: a transaction buffers its SENDs, ACKs and NACKs and applies them on
//! COMMIT; ABORT (or the connection's end) forgets them.

use super::{require, Session};
use crate::broker::error::ProtocolError;
use crate::frame::{header, Command, Frame};

impl Session {
    pub(super) fn begin(&mut self, frame: &Frame) -> Result<(), ProtocolError> {
        let id = require(frame, header::TRANSACTION)?;
        if self.transactions.contains_key(id) {
            return Err(ProtocolError::TransactionInUse(id.to_owned()));
        }
        let limit = self.broker.shared.router.config().limits.max_transactions_per_connection;
        if self.transactions.len() >= limit {
            return Err(ProtocolError::TooManyTransactions { limit });
        }
        self.transactions.insert(id.to_owned(), Vec::new());
        Ok(())
    }

    /// Adds a SEND, ACK or NACK to an open transaction.
    pub(super) fn buffer(&mut self, transaction: String, frame: Frame) -> Result<(), ProtocolError> {
        let limit = self.broker.shared.router.config().limits.max_frames_per_transaction;
        let frames = self.transactions.get_mut(&transaction).ok_or(ProtocolError::NoSuchTransaction(transaction))?;
        if frames.len() >= limit {
            return Err(ProtocolError::TransactionTooLarge { limit });
        }
        frames.push(frame);
        Ok(())
    }

    pub(super) fn commit(&mut self, frame: &Frame) -> Result<(), ProtocolError> {
        let id = require(frame, header::TRANSACTION)?;
        let frames = self.transactions.remove(id).ok_or_else(|| ProtocolError::NoSuchTransaction(id.to_owned()))?;
        for frame in frames {
            match frame.command {
                // Authorized when buffered; the transaction's own cap bounds what it adds.
                Command::Send => self.publish_committed(frame)?,
                _ => self.apply_acknowledgement(&frame),
            }
        }
        Ok(())
    }

    pub(super) fn abort(&mut self, frame: &Frame) -> Result<(), ProtocolError> {
        let id = require(frame, header::TRANSACTION)?;
        self.transactions.remove(id).map(drop).ok_or_else(|| ProtocolError::NoSuchTransaction(id.to_owned()))
    }
}
