//! SEND: handed to the router, or buffered in a transaction; and SENDs held back by a full queue.

use std::sync::Arc;

use tokio::sync::Notify;

use super::{connected, frame_in_transaction, push_receipt, Action, Session};
use crate::broker::error::ProtocolError;
use crate::broker::router::{Admission, Held};
use crate::broker::stats::Stats;
use crate::frame::Frame;

/// A SEND held back by a full queue, already routed: [`Session::resume`] enqueues it.
#[derive(Debug)]
pub struct PendingSend {
    held: Held,
    receipt: Option<String>,
}

impl PendingSend {
    /// Notified when the queue has room.
    pub fn space(&self) -> Arc<Notify> {
        self.held.queue.space()
    }
}

impl Session {
    pub(super) fn send(&mut self, frame: Frame, receipt: &Option<String>) -> Result<Action, ProtocolError> {
        let principal = connected(&self.principal);
        let router = &self.broker.shared.router;
        if let Some(transaction) = frame_in_transaction(&frame) {
            router.check_send(principal, &mut self.routes, &frame)?;
            self.buffer(transaction, frame)?;
            return Ok(Action::Continue);
        }
        let held = router.publish(principal, &mut self.routes, frame, Admission::Bounded)?;
        Stats::bump(&self.info.counters.messages_in);
        Ok(match held {
            None => Action::Continue,
            Some(held) => Action::Blocked(PendingSend { held, receipt: receipt.clone() }),
        })
    }

    /// Publishes a SEND of a committed transaction: its queue may go past its limits.
    pub(super) fn publish_committed(&mut self, frame: Frame) -> Result<(), ProtocolError> {
        let principal = connected(&self.principal);
        self.broker.shared.router.publish(principal, &mut self.routes, frame, Admission::Forced)?;
        Stats::bump(&self.info.counters.messages_in);
        Ok(())
    }

    /// Tries a held-back SEND again: it is enqueued (and its RECEIPT written to `replies`) or
    /// comes back as [`Action::Blocked`].
    pub fn resume(&mut self, pending: PendingSend, replies: &mut Vec<Frame>) -> Action {
        match self.broker.shared.router.resume(pending.held) {
            Ok(()) => {
                push_receipt(pending.receipt, replies);
                Action::Continue
            }
            Err(held) => Action::Blocked(PendingSend { held, ..pending }),
        }
    }
}
