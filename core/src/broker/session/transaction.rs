//! BEGIN, COMMIT and ABORT: a transaction buffers its SENDs, ACKs and NACKs and applies them on
//! COMMIT; ABORT (or the connection's end) forgets them.

use super::{require, Action, Session, Transaction};
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
        self.transactions.insert(id.to_owned(), Transaction::default());
        Ok(())
    }

    /// Adds a SEND, ACK or NACK to an open transaction, within its frame and byte limits; the
    /// bytes count against the broker's memory bound until the transaction ends.
    pub(super) fn buffer(&mut self, transaction: String, frame: Frame) -> Result<(), ProtocolError> {
        let limits = &self.broker.shared.router.config().limits;
        let open = self.transactions.get_mut(&transaction).ok_or(ProtocolError::NoSuchTransaction(transaction))?;
        if open.frames.len() >= limits.max_frames_per_transaction {
            return Err(ProtocolError::TransactionTooLarge { limit: limits.max_frames_per_transaction });
        }
        let size = frame_size(&frame);
        if open.bytes + size > limits.max_bytes_per_transaction {
            return Err(ProtocolError::TransactionTooManyBytes { limit: limits.max_bytes_per_transaction });
        }
        open.bytes += size;
        open.frames.push(frame);
        self.broker.shared.memory.add(size);
        Ok(())
    }

    /// Applies a transaction's frames in order, as one group of the store's: what they store
    /// and remove is one durable write. A SEND that reached a subscriber past its high-water mark
    /// paces the producer once the commit is done.
    pub(super) fn commit(&mut self, frame: &Frame) -> Result<Action, ProtocolError> {
        let id = require(frame, header::TRANSACTION)?;
        let committed = self.end_transaction(id)?;
        let store = self.broker.store().cloned();
        let _group = store.as_ref().map(|store| store.group());
        let mut pressure = None;
        for frame in committed.frames {
            match frame.command {
                // Authorized when buffered; the transaction's own caps bound what it adds.
                Command::Send => pressure = self.publish_committed(frame)?.or(pressure),
                _ => {
                    let settled = self.apply_acknowledgement(&frame);
                    self.stored(settled.ticket);
                    self.confirming(settled.confirmations);
                }
            }
        }
        Ok(pressure.map_or(Action::Continue, Action::Paced))
    }

    pub(super) fn abort(&mut self, frame: &Frame) -> Result<(), ProtocolError> {
        let id = require(frame, header::TRANSACTION)?;
        self.end_transaction(id).map(drop)
    }

    /// Takes an open transaction out; its bytes are no longer held.
    fn end_transaction(&mut self, id: &str) -> Result<Transaction, ProtocolError> {
        let ended = self.transactions.remove(id).ok_or_else(|| ProtocolError::NoSuchTransaction(id.to_owned()))?;
        self.broker.shared.memory.sub(ended.bytes);
        Ok(ended)
    }
}

/// The bytes a buffered frame holds: its body and its headers.
fn frame_size(frame: &Frame) -> usize {
    frame.body.len() + frame.headers.iter().map(|(name, value)| name.len() + value.len()).sum::<usize>()
}
