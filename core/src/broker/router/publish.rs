//! Publishing: a SEND authorized, then delivered to each destination of a composite one (see
//! the router's module docs): fanned out to a topic, enqueued on a queue, or handed to the
//! cluster's queue in cluster mode; and SENDs held back by a full queue, tried again.

use std::sync::Arc;

use super::{required_destination, RouteCache, Router, Target};
use crate::auth::Principal;
use crate::broker::claim::Confirmation;
use crate::broker::config::QueueFullPolicy;
use crate::broker::error::ProtocolError;
use crate::broker::message::{asks_persistence, Message};
use crate::broker::pressure::Pressure;
use crate::broker::queue::Queue;
use crate::broker::retained::Retain;
use crate::broker::stats::Stats;
use crate::frame::{header, Frame};
use crate::store::Ticket;

/// What a publish came to.
#[derive(Debug)]
pub(crate) enum Published {
    /// Delivered or enqueued; stored if the store's ticket is given.
    Done(Option<Ticket>),
    /// Delivered (and stored if the ticket is given), and a subscriber or the cluster bridge is
    /// past its high-water mark: the publisher waits for [`Pressure::relieved`] before it reads
    /// more.
    Paced(Pressure, Option<Ticket>),
    /// A full queue holds the message back ([`QueueFullPolicy::Block`]).
    Held(Held),
}

/// Whether a publish may wait for room in a full queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    /// A full queue holds the message back ([`QueueFullPolicy::Block`]) or refuses it.
    Bounded,
    /// Enqueue even past the limits (a committed transaction, bounded by its own cap).
    Forced,
}

/// Messages held back by full queues (one per queue of a composite destination), already
/// routed: [`Router::resume`] enqueues them.
#[derive(Debug)]
pub(crate) struct Held {
    /// Each full queue and the message waiting for it; never empty.
    waiting: Vec<(Arc<Queue>, Arc<Message>)>,
    /// The store's ticket of what was published before the hold.
    ticket: Option<Ticket>,
}

impl Held {
    /// The first full queue.
    pub(crate) fn queue(&self) -> &Arc<Queue> {
        &self.waiting[0].0
    }
}

/// What delivering to one destination came to.
#[derive(Debug)]
enum Delivered {
    Done(Option<Ticket>),
    Paced(Pressure, Option<Ticket>),
    Held(Arc<Queue>, Arc<Message>),
}

impl Router {
    /// Publishes one SEND: authorize, then deliver, to each destination of a composite one
    /// (`/queue/a,/topic/b`) in turn. See [`Published`].
    pub(crate) fn publish(
        &self,
        principal: &Principal,
        routes: &mut RouteCache,
        frame: Frame,
        admission: Admission,
        confirmations: &mut Vec<Confirmation>,
    ) -> Result<Published, ProtocolError> {
        let targets = &self.route(principal, routes, required_destination(&frame)?)?.targets;
        let retain = Retain::parse(frame.header(header::RETAIN));
        let ttl = time_to_live(&frame)?;
        let mut headers = frame.headers;
        if let Some(name) = &self.config.add_user_header {
            stamp_sender(&mut headers, name, principal);
        }
        if let Some(ttl) = ttl {
            stamp_expiry(&mut headers, self.config.clock.now_ms().saturating_add(ttl));
        }
        if asks_persistence(&headers) {
            for target in targets {
                self.admit(target, retain)?;
            }
        }
        let (mut ticket, mut pressure, mut held) = (None, None, Vec::new());
        for (index, target) in targets.iter().enumerate() {
            let headers = match index + 1 == targets.len() {
                true => std::mem::take(&mut headers),
                false => headers.clone(),
            };
            let destination = target.destination().shared().clone();
            let counters = target.counters().clone();
            let message = Arc::new(Message::new(self.next_id(), destination, headers, frame.body.clone(), counters));
            match self.deliver(target, message, retain, admission, confirmations)? {
                Delivered::Done(done) => ticket = ticket.max(done),
                Delivered::Paced(paced, done) => {
                    pressure = pressure.or(Some(paced));
                    ticket = ticket.max(done);
                }
                Delivered::Held(queue, message) => held.push((queue, message)),
            }
        }
        Ok(match (held.is_empty(), pressure) {
            (false, _) => Published::Held(Held { waiting: held, ticket }),
            (true, Some(pressure)) => Published::Paced(pressure, ticket),
            (true, None) => Published::Done(ticket),
        })
    }

    /// Fans a message out to a topic, or enqueues it on a queue.
    fn deliver(
        &self,
        target: &Target,
        message: Arc<Message>,
        retain: Option<Retain>,
        admission: Admission,
        confirmations: &mut Vec<Confirmation>,
    ) -> Result<Delivered, ProtocolError> {
        let env = self.env();
        match target {
            Target::Topic(topic) => {
                Stats::bump(&env.stats.messages_in);
                Stats::bump(&topic.counters().enqueued);
                if message.expires() && message.is_expired_at(self.config.clock.now_ms()) {
                    Stats::bump(&env.stats.expired);
                    Stats::bump(&topic.counters().expired);
                    return Ok(Delivered::Done(None));
                }
                let bridge = self.bridge();
                // In cluster mode the durable subscriptions collect through the cluster, before
                // anything is delivered: a message they cannot have is refused whole.
                if let Some(bridge) = bridge {
                    for durable in self.topics.collectors(topic, &message) {
                        let enqueued = bridge.enqueue(durable.destination(), &message);
                        confirmations.push(enqueued.map_err(ProtocolError::Cluster)?);
                    }
                }
                let retained = retain.and_then(|retain| {
                    let name = topic.destination().as_str();
                    topic.retained().update(retain, &message, name, self.store(), &env.memory)
                });
                let fanned = self.topics.fan_out(topic, &message, &env.memory, bridge.is_none());
                let ticket = fanned.ticket.max(retained);
                let bridged = bridge.and_then(|bridge| bridge.publish(&message));
                Ok(match fanned.pressure.or(bridged) {
                    Some(pressure) => Delivered::Paced(pressure, ticket),
                    None => Delivered::Done(ticket),
                })
            }
            Target::Queue(queue) => {
                if let Some(bridge) = self.bridge() {
                    let enqueued = bridge.enqueue(queue.destination(), &message);
                    confirmations.push(enqueued.map_err(ProtocolError::Cluster)?);
                    Stats::bump(&env.stats.messages_in);
                    return Ok(Delivered::Done(None));
                }
                let ticket = match admission {
                    Admission::Forced => queue.force(message),
                    Admission::Bounded => match queue.offer(message) {
                        Ok(ticket) => ticket,
                        Err(full) => {
                            return match queue.when_full() {
                                QueueFullPolicy::Block => Ok(Delivered::Held(queue.clone(), full.message)),
                                QueueFullPolicy::Error => {
                                    Err(ProtocolError::QueueFull(queue.destination().as_str().to_owned()))
                                }
                            };
                        }
                    },
                };
                Stats::bump(&env.stats.messages_in);
                Ok(Delivered::Done(ticket))
            }
        }
    }

    /// Refuses a persistent message the store cannot take (failed, or full) when it would be
    /// stored: sent to a queue, or to a topic with durable subscriptions or to be retained (in
    /// cluster mode the cluster keeps queues' and durable subscriptions' messages).
    fn admit(&self, target: &Target, retain: Option<Retain>) -> Result<(), ProtocolError> {
        let Some(store) = self.store() else { return Ok(()) };
        let local = self.bridge().is_none();
        let stored = match target {
            Target::Queue(_) => local,
            Target::Topic(topic) => retain == Some(Retain::Set) || (local && self.topics.has_durables(topic)),
        };
        match stored {
            true => store.admit().map_err(ProtocolError::Store),
            false => Ok(()),
        }
    }

    /// Tries held-back messages again, in order: `Err` gives back those whose queue is still
    /// full.
    pub(crate) fn resume(&self, mut held: Held) -> Result<Option<Ticket>, Held> {
        while let Some((queue, message)) = held.waiting.first() {
            let ticket = queue.offer(message.clone()).map_err(drop);
            let Ok(ticket) = ticket else { return Err(held) };
            Stats::bump(&self.env().stats.messages_in);
            held.ticket = held.ticket.max(ticket);
            held.waiting.remove(0);
        }
        Ok(held.ticket)
    }
}

/// Sets header `name` to the sender's user name, replacing whatever the sender put there (and
/// leaving it out for an anonymous sender), so receivers can trust it.
fn stamp_sender(headers: &mut Vec<(String, String)>, name: &str, principal: &Principal) {
    headers.retain(|(header, _)| header != name);
    if let Some(user) = &principal.user {
        headers.push((name.to_owned(), user.to_string()));
    }
}

/// A SEND's `ttl` (Apollo's: ms from arrival until it expires); `None` without one, or `0`.
pub(super) fn time_to_live(frame: &Frame) -> Result<Option<u64>, ProtocolError> {
    let Some(value) = frame.header(header::TTL) else { return Ok(None) };
    let ttl: u64 = value.trim().parse().map_err(|_| ProtocolError::BadTtl(value.to_owned()))?;
    Ok(Some(ttl).filter(|&ttl| ttl > 0))
}

/// Sets `expires` to `at_ms` (ms since the epoch), replacing the sender's.
fn stamp_expiry(headers: &mut Vec<(String, String)>, at_ms: u64) {
    headers.retain(|(header, _)| header != header::EXPIRES);
    headers.push((header::EXPIRES.to_owned(), at_ms.to_string()));
}
