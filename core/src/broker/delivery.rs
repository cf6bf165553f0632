//! What the delivery path carries: a [`Subscriber`] (one subscription: where to deliver and how to
//! encode) and a [`Delivery`] (one message on its way to one subscriber).
//!
//! Queues and outboxes both use these types; neither imports the other. A queue message delivered
//! in `auto` mode is settled once written through the [`Settle`] trait, which the queue
//! implements.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;

use super::message::Message;
use super::outbox::Outbox;
use super::AckMode;
use crate::auth::Principal;
use crate::frame::Escaping;
use crate::selector::Selector;

/// One subscription as the delivery path sees it.
#[derive(Debug)]
pub(crate) struct Subscriber {
    /// The session's outbox.
    pub(crate) outbox: Outbox,
    /// `subscription:<id>\n`, escaped for the session's version.
    pub(crate) lines: Bytes,
    /// The session's header escaping.
    pub(crate) escaping: Escaping,
    /// Whether MESSAGE frames carry an `ack` header (1.2, client acknowledgement).
    pub(crate) ack_header: bool,
    /// The subscription's acknowledgement mode.
    pub(crate) ack: AckMode,
    /// Cleared on unsubscribe, so a fan-out that raced with it delivers nothing.
    pub(crate) active: AtomicBool,
    /// For a wildcard topic subscription, whose `receive` permission each matching topic is
    /// checked against (the deny filter; see `topic`). `None` for a subscription authorized
    /// for its one destination at SUBSCRIBE.
    pub(crate) receive_check: Option<Arc<Principal>>,
    /// The SUBSCRIBE `selector`: only the messages it selects are delivered.
    pub(crate) selector: Option<Arc<Selector>>,
    /// The subscribing connection's number as owner of temporary destinations (see
    /// `session::temporary`).
    pub(crate) owner: u64,
    /// `exclusive:true` (or `activemq.exclusive:true`): while it is the queue's first exclusive
    /// consumer, the queue's messages go to it alone.
    pub(crate) exclusive: bool,
}

impl Subscriber {
    /// Whether the subscription still takes deliveries.
    pub(crate) fn is_active(&self) -> bool {
        self.active.load(Ordering::Acquire)
    }

    /// Whether the subscription's selector (if any) selects `message`.
    pub(crate) fn selects(&self, message: &Message) -> bool {
        self.selector.as_ref().is_none_or(|selector| message.selected_by(selector))
    }

    /// Stops deliveries to this subscription, including those already queued.
    pub(crate) fn deactivate(&self) {
        self.active.store(false, Ordering::Release);
    }
}

/// Settles a delivered message once the connection has written it (`auto` acknowledgement).
pub(crate) trait Settle: Send + Sync + fmt::Debug {
    /// The message `message_id`, delivered to `subscriber`, was written. Takes the delivery's
    /// own reference, so settling costs no reference count.
    fn settle(self: Arc<Self>, subscriber: &Arc<Subscriber>, message_id: u64);
}

/// One message on its way to one subscription.
#[derive(Debug)]
pub(crate) struct Delivery {
    pub(crate) message: Arc<Message>,
    pub(crate) subscriber: Arc<Subscriber>,
    pub(crate) redelivered: bool,
    /// Who settles it once written (`auto` queue subscriptions).
    pub(crate) settle: Option<Arc<dyn Settle>>,
    /// Whether this counts against the outbox's byte limit (topic deliveries do).
    pub(crate) counted: bool,
}

impl Delivery {
    /// A copy for a topic subscriber or a queue's browser: counted against the outbox, settled
    /// by nobody.
    pub(crate) fn copy(message: &Arc<Message>, subscriber: &Arc<Subscriber>, redelivered: bool) -> Delivery {
        Delivery { message: message.clone(), subscriber: subscriber.clone(), redelivered, settle: None, counted: true }
    }
}
