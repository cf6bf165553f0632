//! SUBSCRIBE and UNSUBSCRIBE: the subscription's id, acknowledgement mode and window, handed to
//! the router; the connection's list of subscriptions for the snapshot.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use bytes::BytesMut;

use super::{connected, missing, require, Session, Subscription};
use crate::broker::delivery::Subscriber;
use crate::broker::error::ProtocolError;
use crate::broker::snapshot::SubscriptionSnapshot;
use crate::broker::AckMode;
use crate::destination::Destination;
use crate::frame::{escape_for, header, write_header, Command, Frame};
use crate::version::Version;

/// SUBSCRIBE headers that set the window of unacknowledged messages, in the order they are
/// looked for: RabbitMQ's, ActiveMQ's, Apollo's (`credit:count[,bytes]`).
const PREFETCH_HEADERS: [&str; 3] = ["prefetch-count", "activemq.prefetchSize", "credit"];

impl Session {
    pub(super) fn subscribe(&mut self, frame: &Frame) -> Result<(), ProtocolError> {
        let version = self.version.expect("connected");
        let destination = Destination::parse_pattern(require(frame, header::DESTINATION)?)?;
        let id = match frame.header(header::ID) {
            Some(id) => id.to_owned(),
            // STOMP 1.0 made `id` optional: such a subscription is keyed by its destination.
            None if version == Version::V1_0 => destination.as_str().to_owned(),
            None => return Err(missing(frame, header::ID)),
        };
        if self.subscriptions.contains_key(&id) {
            return Err(ProtocolError::SubscriptionInUse(id));
        }
        let router = &self.broker.shared.router;
        let config = router.config();
        let limit = config.limits.max_subscriptions_per_connection;
        if self.subscriptions.len() >= limit {
            return Err(ProtocolError::TooManySubscriptions { limit });
        }
        let ack = match frame.header(header::ACK) {
            None => AckMode::Auto,
            Some(value) => AckMode::parse(value).ok_or_else(|| ProtocolError::BadAckMode(value.to_owned()))?,
        };
        let delivery = &config.delivery;
        let window = prefetch(frame)?.unwrap_or(delivery.default_prefetch).clamp(1, delivery.max_prefetch);
        let escaping = escape_for(Command::Message, version);
        let mut lines = BytesMut::new();
        write_header(&mut lines, header::SUBSCRIPTION, &id, escaping);
        let subscriber = Arc::new(Subscriber {
            outbox: self.outbox.clone(),
            lines: lines.freeze(),
            escaping,
            ack_header: version == Version::V1_2 && ack != AckMode::Auto,
            ack,
            active: AtomicBool::new(true),
            receive_check: destination.is_wildcard().then(|| connected(&self.principal).clone()),
        });
        let binding = router.subscribe(connected(&self.principal), &self.routes, &destination, &subscriber, window)?;
        self.info.subscriptions.lock().push(SubscriptionSnapshot {
            id: id.clone(),
            destination: destination.as_str().to_owned(),
            ack: ack.as_str(),
        });
        self.subscriptions.insert(id, Subscription { subscriber, binding });
        Ok(())
    }

    pub(super) fn unsubscribe(&mut self, frame: &Frame) -> Result<(), ProtocolError> {
        let id = match (frame.header(header::ID), self.version) {
            (Some(id), _) => id,
            (None, Some(Version::V1_0)) => require(frame, header::DESTINATION)?,
            (None, _) => return Err(missing(frame, header::ID)),
        };
        let subscription =
            self.subscriptions.remove(id).ok_or_else(|| ProtocolError::NoSuchSubscription(id.to_owned()))?;
        self.broker.shared.router.unsubscribe(&subscription.binding, &subscription.subscriber);
        self.info.subscriptions.lock().retain(|s| s.id != id);
        Ok(())
    }
}

/// The window a SUBSCRIBE asks for, if it names one.
fn prefetch(frame: &Frame) -> Result<Option<usize>, ProtocolError> {
    for name in PREFETCH_HEADERS {
        if let Some(value) = frame.header(name) {
            let count = value.split(',').next().unwrap_or_default().trim();
            let count: usize =
                count.parse().map_err(|_| ProtocolError::BadPrefetch { header: name, value: value.to_owned() })?;
            // 0 means "unlimited" to RabbitMQ: the broker's own cap applies.
            return Ok(Some(if count == 0 { usize::MAX } else { count }));
        }
    }
    Ok(None)
}
