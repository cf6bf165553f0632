//! ACK and NACK: which message they name (per version), and settling it with its queue.

use super::{frame_in_transaction, missing, Session, Subscription};
use crate::broker::error::ProtocolError;
use crate::broker::queue::Settled;
use crate::broker::router::Binding;
use crate::broker::AckMode;
use crate::frame::{header, Command, Frame};
use crate::version::Version;

impl Session {
    pub(super) fn acknowledge(&mut self, frame: Frame) -> Result<(), ProtocolError> {
        if self.acknowledged_id(&frame).is_none() {
            return Err(missing(&frame, self.ack_id_headers().0));
        }
        if let Some(transaction) = frame_in_transaction(&frame) {
            return self.buffer(transaction, frame);
        }
        let settled = self.apply_acknowledgement(&frame);
        self.stored(settled.ticket);
        self.confirming(settled.confirmations);
        Ok(())
    }

    /// The headers that name the acknowledged message, the version's own first: 1.2 names the
    /// MESSAGE's `ack` header in `id`, 1.0 and 1.1 its `message-id`; the other is accepted too.
    fn ack_id_headers(&self) -> (&'static str, &'static str) {
        match self.version {
            Some(Version::V1_2) => (header::ID, header::MESSAGE_ID),
            _ => (header::MESSAGE_ID, header::ID),
        }
    }

    /// The value naming the message an ACK or NACK is about.
    fn acknowledged_id<'f>(&self, frame: &'f Frame) -> Option<&'f str> {
        let (primary, fallback) = self.ack_id_headers();
        frame.header(primary).or(frame.header(fallback))
    }

    /// Applies an ACK or NACK; returns what it came to (the store's ticket of the removals it
    /// caused, the cluster's confirmations of its acknowledgements). One that
    /// matches no unacknowledged message is ignored (PECL scripts ACK on auto subscriptions, and
    /// topic messages need no ACK).
    pub(super) fn apply_acknowledgement(&self, frame: &Frame) -> Settled {
        let Some(message_id) = self.acknowledged_id(frame).and_then(|v| v.parse::<u64>().ok()) else {
            return Settled::default();
        };
        let nack = frame.command == Command::Nack;
        let settle = |subscription: &Subscription| {
            let cumulative = subscription.subscriber.ack == AckMode::Client;
            let queues = subscription.bindings.iter().filter_map(|binding| match binding {
                Binding::Queue(queue) => Some(queue),
                _ => None,
            });
            let mut settled = queues.map(|queue| match nack {
                true => queue.nack(&subscription.subscriber, message_id, cumulative),
                false => queue.ack(&subscription.subscriber, message_id, cumulative),
            });
            settled.find(|settled| settled.matched).unwrap_or_default()
        };
        // A 1.1 ACK names its subscription; otherwise look through this session's queues.
        match frame.header(header::SUBSCRIPTION).and_then(|id| self.subscriptions.get(id)) {
            Some(subscription) => settle(subscription),
            None => self.subscriptions.values().map(settle).find(|settled| settled.matched).unwrap_or_default(),
        }
    }
}
