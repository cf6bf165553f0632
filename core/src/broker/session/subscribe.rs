//! SUBSCRIBE and UNSUBSCRIBE: the subscription's id, acknowledgement mode and window, handed to
//! the router; the connection's list of subscriptions for the snapshot.
//!
//! Durable topic subscriptions, in the three dialects clients use (each names the subscription
//! the router stores as `/dsub/NAME`):
//! - Apollo: `persistent:true` and an `id` (NAME is the id); UNSUBSCRIBE with `persistent:true`
//!   deletes it;
//! - RabbitMQ: `durable:true` (or `persistent:true`) with `auto-delete:false` and an `id`;
//! - ActiveMQ: CONNECT's `client-id` and `activemq.subscriptionName` (NAME is
//!   `CLIENT-ID.SUBSCRIPTION-NAME`); UNSUBSCRIBE with the same header deletes it.
//!
//! `browser:true` on a queue browses it (`browser-end:false` keeps browsing). `exclusive:true`
//! (ActiveMQ: `activemq.exclusive:true`) makes a queue consumer exclusive.
//!
//! A composite destination (`/queue/a,/topic/b`) subscribes to each of its destinations under
//! the one id; all or none (a durable subscription names one topic pattern).

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use bytes::BytesMut;

use super::{connected, missing, require, Session, Subscription};
use crate::broker::delivery::Subscriber;
use crate::broker::error::ProtocolError;
use crate::broker::router::{composite, Subscribe};
use crate::broker::snapshot::SubscriptionSnapshot;
use crate::broker::AckMode;
use crate::destination::{Destination, Kind};
use crate::frame::{escape_for, header, write_header, Command, Frame};
use crate::selector::Selector;
use crate::version::Version;

/// SUBSCRIBE headers that make a queue consumer exclusive: Apollo's, ActiveMQ's.
const EXCLUSIVE_HEADERS: [&str; 2] = ["exclusive", "activemq.exclusive"];

/// SUBSCRIBE headers that set the window of unacknowledged messages, in the order they are
/// looked for: RabbitMQ's, ActiveMQ's, Apollo's (`credit:count[,bytes]`).
const PREFETCH_HEADERS: [&str; 3] = ["prefetch-count", "activemq.prefetchSize", "credit"];

impl Session {
    pub(super) fn subscribe(&mut self, frame: &Frame) -> Result<(), ProtocolError> {
        let version = self.version.expect("connected");
        let text = require(frame, header::DESTINATION)?;
        let destinations = composite(text).map(Destination::parse_pattern).collect::<Result<Vec<_>, _>>()?;
        let id = match frame.header(header::ID) {
            Some(id) => id.to_owned(),
            // STOMP 1.0 made `id` optional: such a subscription is keyed by its destination.
            None if version == Version::V1_0 => text.to_owned(),
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
            receive_check: destinations
                .iter()
                .any(Destination::is_wildcard)
                .then(|| connected(&self.principal).clone()),
            selector: frame
                .header(header::SELECTOR)
                .map(|text| Selector::parse(text, config.limits.max_selector_depth).map(Arc::new))
                .transpose()?,
            owner: self.temporary.owner(),
            exclusive: EXCLUSIVE_HEADERS.iter().any(|name| frame.header(name) == Some("true")),
        });
        let mut subscription = Subscription { subscriber, bindings: Vec::with_capacity(destinations.len()) };
        let (mut stored, mut confirmation) = (None, None);
        if let Some(foreign) = destinations.iter().find(|d| self.temporary.is_foreign(d)) {
            return Err(ProtocolError::ForeignTemporary(foreign.as_str().to_owned()));
        }
        for destination in &destinations {
            let kind = self.subscription_kind(frame, destination, &id)?;
            if destinations.len() > 1 && matches!(kind, Subscribe::Durable(_)) {
                subscription.end(router);
                return Err(ProtocolError::CompositeDurable);
            }
            let principal = connected(&self.principal);
            let subscribed =
                router.subscribe(principal, &self.routes, destination, kind, &subscription.subscriber, window);
            match subscribed {
                Ok(subscribed) => {
                    subscription.bindings.push(subscribed.binding);
                    stored = stored.max(subscribed.ticket);
                    confirmation = confirmation.or(subscribed.confirmation);
                }
                Err(error) => {
                    subscription.end(router);
                    return Err(error);
                }
            }
        }
        self.stored(stored);
        self.confirming.extend(confirmation);
        self.info.subscriptions.lock().push(SubscriptionSnapshot {
            id: id.clone(),
            destination: text.to_owned(),
            ack: ack.as_str(),
        });
        self.subscriptions.insert(id, subscription);
        Ok(())
    }

    pub(super) fn unsubscribe(&mut self, frame: &Frame) -> Result<(), ProtocolError> {
        let id = match (frame.header(header::ID), self.version) {
            (Some(id), _) => id,
            (None, Some(Version::V1_0)) => require(frame, header::DESTINATION)?,
            (None, _) => return Err(missing(frame, header::ID)),
        };
        let durable = self.durable_name(frame, id)?;
        let router = &self.broker.shared.router;
        let removed = self.subscriptions.remove(id);
        match &removed {
            Some(subscription) => subscription.end(router),
            None if durable.is_some() => {}
            None => return Err(ProtocolError::NoSuchSubscription(id.to_owned())),
        }
        self.info.subscriptions.lock().retain(|s| s.id != id);
        if let Some(name) = durable {
            match router.delete_durable(&name) {
                Ok(ticket) => {
                    let confirmation = router.durable_changed(&name, None)?;
                    self.stored(ticket);
                    self.confirming.extend(confirmation);
                }
                // Durable headers on a plain subscription's UNSUBSCRIBE: it is gone, all the same.
                Err(ProtocolError::NoSuchDurable(_)) if removed.is_some() => {}
                Err(error) => return Err(error),
            }
        }
        Ok(())
    }

    /// Whether a SUBSCRIBE makes a durable subscription, a browser, or a plain subscription.
    fn subscription_kind(
        &self,
        frame: &Frame,
        destination: &Destination,
        id: &str,
    ) -> Result<Subscribe, ProtocolError> {
        if frame.header(header::BROWSER) == Some("true") {
            if destination.kind() != Kind::Queue {
                return Err(ProtocolError::BrowseNotQueue);
            }
            return Ok(Subscribe::Browse { keep_open: frame.header(header::BROWSER_END) == Some("false") });
        }
        if destination.kind() != Kind::Topic {
            return Ok(Subscribe::Plain);
        }
        Ok(self.durable_name(frame, id)?.map_or(Subscribe::Plain, Subscribe::Durable))
    }

    /// The durable subscription a SUBSCRIBE or UNSUBSCRIBE names, in any of the three dialects
    /// (see the module docs); `None` for a plain one.
    fn durable_name(&self, frame: &Frame, id: &str) -> Result<Option<String>, ProtocolError> {
        if let Some(name) = frame.header(header::ACTIVEMQ_SUBSCRIPTION_NAME) {
            let client_id =
                self.client_id.as_deref().ok_or(ProtocolError::DurableNeedsName("a client-id on CONNECT"))?;
            return Ok(Some(format!("{client_id}.{name}")));
        }
        let yes = |name| frame.header(name) == Some("true");
        let rabbitmq = yes(header::DURABLE) && frame.header(header::AUTO_DELETE) == Some("false");
        if !(yes(header::PERSISTENT) || rabbitmq) {
            return Ok(None);
        }
        if frame.header(header::ID).is_none() {
            return Err(ProtocolError::DurableNeedsName("an id header"));
        }
        Ok(Some(id.to_owned()))
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
