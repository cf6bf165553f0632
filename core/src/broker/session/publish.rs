//! SEND: handed to the router, or buffered in a transaction; and SENDs held back by a full queue.

use std::sync::Arc;

use tokio::sync::Notify;

use super::{connected, frame_in_transaction, Action, Session};
use crate::broker::error::ProtocolError;
use crate::broker::pressure::Pressure;
use crate::broker::router::{Admission, Held, Published};
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
        self.held.queue().space()
    }

    /// The full queue, `/queue/NAME`.
    pub fn destination(&self) -> &str {
        self.held.queue().destination().as_str()
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
        let published = router.publish(principal, &mut self.routes, frame, Admission::Bounded, &mut self.confirming)?;
        Stats::bump(&self.info.counters.messages_in);
        Ok(match published {
            Published::Done(ticket) => {
                self.stored(ticket);
                Action::Continue
            }
            Published::Paced(pressure, ticket) => {
                self.stored(ticket);
                Action::Paced(pressure)
            }
            Published::Held(held) => Action::Blocked(PendingSend { held, receipt: receipt.clone() }),
        })
    }

    /// Publishes a SEND of a committed transaction: its queue may go past its limits. Returns
    /// the pressure of a subscriber past its high-water mark, if any.
    pub(super) fn publish_committed(&mut self, frame: Frame) -> Result<Option<Pressure>, ProtocolError> {
        let principal = connected(&self.principal);
        let router = &self.broker.shared.router;
        let published = router.publish(principal, &mut self.routes, frame, Admission::Forced, &mut self.confirming)?;
        Stats::bump(&self.info.counters.messages_in);
        Ok(match published {
            Published::Paced(pressure, ticket) => {
                self.stored(ticket);
                Some(pressure)
            }
            Published::Done(ticket) => {
                self.stored(ticket);
                None
            }
            Published::Held(_) => None,
        })
    }

    /// Tries a held-back SEND again: it is enqueued (and its RECEIPT written to `replies`) or
    /// comes back as [`Action::Blocked`].
    pub fn resume(&mut self, pending: PendingSend, replies: &mut Vec<Frame>) -> Action {
        match self.broker.shared.router.resume(pending.held) {
            Ok(ticket) => {
                self.receipt(pending.receipt, ticket, Vec::new(), replies);
                Action::Continue
            }
            Err(held) => Action::Blocked(PendingSend { held, ..pending }),
        }
    }
}
