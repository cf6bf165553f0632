//! One connection's protocol state: the handshake, its subscriptions and transactions, and what
//! it answers to each frame. The connection task feeds it frames with [`Session::handle`];
//! dropping the session ends its subscriptions, returns its unacknowledged queue messages and
//! aborts its transactions.
//!
//! A frame that stored or removed a persistent message (SEND, ACK, COMMIT, a durable SUBSCRIBE or
//! UNSUBSCRIBE) has its RECEIPT held until the store says the change is durable; receipts after
//! it wait behind it, so the client sees them in order ([`Session::release_receipts`]).
//!
//! One file per group of commands, as mini-redis's `cmd/`:
//! - `connect`: CONNECT/STOMP, authentication, CONNECTED;
//! - `publish`: SEND, and SENDs held back by a full queue;
//! - `subscribe`: SUBSCRIBE and UNSUBSCRIBE;
//! - `ack`: ACK and NACK;
//! - `transaction`: BEGIN, COMMIT and ABORT;
//! - `temporary`: `/temp-queue/` and `/temp-topic/` names, rewritten before any of these.
//!
//! Every publish and subscription goes through the broker's router, which authorizes it. When
//! the access rules change, the session's next frame first asks them again whether it may stay
//! connected and keep its subscriptions (and fails with an ERROR if not).

mod ack;
mod connect;
mod publish;
mod subscribe;
mod temporary;
mod transaction;

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::claim::Confirmation;
use super::close::CloseReason;
use super::delivery::Subscriber;
use super::error::{ProtocolError, SessionError};
use super::outbox::Outbox;
use super::pressure::Pressure;
use super::registry::ConnectionInfo;
use super::router::{Binding, RouteCache, Router};
use super::stats::ConnectionCounters;
use super::Broker;
use crate::auth::{Login, Principal};
use crate::frame::{header, Command, Frame};
use crate::heartbeat::Negotiated;
use crate::store::{Refusal, Ticket};
use crate::version::Version;

use connect::Handshake;
pub use publish::PendingSend;
pub use temporary::is_temporary_queue;
pub(crate) use temporary::temporary_owner;
use temporary::Temporary;

/// What the connection does after a frame was handled (besides writing the replies).
#[derive(Debug)]
pub enum Action {
    /// Keep going.
    Continue,
    /// CONNECT arrived: check these credentials off the runtime (they may need password
    /// hashing), then hand the verdict to [`Session::authenticated`]. Read nothing meanwhile.
    Authenticate(Login),
    /// The handshake succeeded: switch the codec to `version` and start these heart-beat timers.
    Connected {
        /// The negotiated protocol version.
        version: Version,
        /// The negotiated heart-beat intervals.
        heartbeat: Negotiated,
    },
    /// The client said DISCONNECT: write the replies, then close.
    Disconnect,
    /// A queue is full: stop reading, wait for [`PendingSend::space`], then hand the SEND to
    /// [`Session::resume`].
    Blocked(PendingSend),
    /// The SEND was delivered, and a subscriber that still reads, or the cluster bridge, is past
    /// its high-water mark: read nothing more until [`Pressure::relieved`] (the producer is
    /// paced to it).
    Paced(Pressure),
}

#[derive(Debug)]
struct Subscription {
    subscriber: Arc<Subscriber>,
    /// One per destination of a composite destination.
    bindings: Vec<Binding>,
}

impl Subscription {
    /// Ends the subscription at each of its destinations.
    fn end(&self, router: &Router) {
        for binding in &self.bindings {
            router.unsubscribe(binding, &self.subscriber);
        }
    }
}

/// One connection's protocol state. See the module docs.
#[derive(Debug)]
pub struct Session {
    broker: Broker,
    info: Arc<ConnectionInfo>,
    outbox: Outbox,
    /// Set by CONNECT while its credentials are checked.
    handshake: Option<Handshake>,
    /// Set once connected, with the principal.
    version: Option<Version>,
    principal: Option<Arc<Principal>>,
    /// The authorizer version the session's access was last checked under.
    access_version: u64,
    subscriptions: HashMap<String, Subscription>,
    transactions: HashMap<String, Transaction>,
    routes: RouteCache,
    /// CONNECT's `client-id`, which names ActiveMQ-style durable subscriptions.
    client_id: Option<String>,
    /// Its temporary destinations.
    temporary: Temporary,
    /// The store's ticket of what the frame being handled stored or removed.
    ticket: Option<Ticket>,
    /// The cluster's confirmations of what the frame being handled sent or acknowledged.
    confirming: Vec<Confirmation>,
    /// Receipts waiting for the store or the cluster, in order.
    waiting: VecDeque<HeldReceipt>,
}

/// A RECEIPT held until the store made its frame's changes durable (`ticket`) and the cluster
/// confirmed what it sent or acknowledged.
#[derive(Debug)]
struct HeldReceipt {
    ticket: Option<Ticket>,
    confirmations: Vec<Confirmation>,
    receipt: String,
}

/// An open transaction: its buffered frames and the bytes they hold.
#[derive(Debug, Default)]
struct Transaction {
    frames: Vec<Frame>,
    bytes: usize,
}

impl Session {
    pub(crate) fn new(broker: Broker, info: Arc<ConnectionInfo>, outbox: Outbox) -> Session {
        let temporary = Temporary::new(broker.shared.run.wrapping_add(info.id));
        Session {
            broker,
            info,
            outbox,
            handshake: None,
            version: None,
            principal: None,
            access_version: 0,
            subscriptions: HashMap::new(),
            transactions: HashMap::new(),
            routes: RouteCache::default(),
            client_id: None,
            temporary,
            ticket: None,
            confirming: Vec::new(),
            waiting: VecDeque::new(),
        }
    }

    /// The session id sent in CONNECTED.
    pub fn name(&self) -> &str {
        &self.info.session
    }

    /// The peer's address (`None` for an in-process session).
    pub fn peer(&self) -> Option<std::net::SocketAddr> {
        self.info.meta.peer
    }

    /// The negotiated version, once connected.
    pub fn version(&self) -> Option<Version> {
        self.version
    }

    /// Who connected, once connected.
    pub fn principal(&self) -> Option<&Principal> {
        self.principal.as_deref()
    }

    /// This connection's traffic counters; the connection task adds the bytes it reads and
    /// writes and the MESSAGE frames it writes.
    pub fn counters(&self) -> &ConnectionCounters {
        &self.info.counters
    }

    /// Records why the connection task is not reading the client now (`None`: it is), for the
    /// snapshot.
    pub fn set_held_by(&self, reason: Option<String>) {
        *self.info.held_by.lock() = reason;
    }

    /// Handles one client frame, appending any CONNECTED or RECEIPT to `replies`. An error
    /// means: write its [`SessionError::to_frame`], linger briefly, close.
    pub fn handle(&mut self, mut frame: Frame, replies: &mut Vec<Frame>) -> Result<Action, SessionError> {
        if matches!(frame.command, Command::Send | Command::Subscribe | Command::Unsubscribe) {
            self.temporary.rewrite(&mut frame);
        }
        let receipt = frame.header(header::RECEIPT).map(str::to_owned);
        let fail = |error: ProtocolError| SessionError { error, receipt: receipt.clone() };
        if self.version.is_some() && frame.command != Command::Disconnect && self.access_changed() {
            self.recheck_access().map_err(fail)?;
        }
        let action = match (self.version, frame.command) {
            (None, Command::Connect | Command::Stomp) if self.handshake.is_none() => {
                return self.connect(&frame, receipt.clone()).map_err(fail);
            }
            (None, command) => Err(ProtocolError::NotConnected(command.as_str())),
            (Some(_), Command::Connect | Command::Stomp) => Err(ProtocolError::AlreadyConnected),
            (Some(_), command @ (Command::Connected | Command::Message | Command::Receipt | Command::Error)) => {
                Err(ProtocolError::ServerFrame(command.as_str()))
            }
            (Some(_), Command::Disconnect) => Ok(Action::Disconnect),
            (Some(_), Command::Send) => self.send(frame, &receipt),
            (Some(_), Command::Subscribe) => self.subscribe(&frame).map(|()| Action::Continue),
            (Some(_), Command::Unsubscribe) => self.unsubscribe(&frame).map(|()| Action::Continue),
            (Some(_), Command::Ack | Command::Nack) => self.acknowledge(frame).map(|()| Action::Continue),
            (Some(_), Command::Begin) => self.begin(&frame).map(|()| Action::Continue),
            (Some(_), Command::Commit) => self.commit(&frame),
            (Some(_), Command::Abort) => self.abort(&frame).map(|()| Action::Continue),
        }
        .map_err(fail)?;
        let ticket = self.ticket.take();
        let confirmations = std::mem::take(&mut self.confirming);
        if !matches!(action, Action::Blocked(_)) {
            self.receipt(receipt, ticket, confirmations, replies);
        }
        Ok(action)
    }

    /// Notes the store's ticket of a change the frame being handled made.
    fn stored(&mut self, ticket: Option<Ticket>) {
        self.ticket = self.ticket.max(ticket);
    }

    /// Notes the cluster's confirmation of what the frame being handled sent, acknowledged or
    /// subscribed to.
    fn confirming(&mut self, confirmations: Vec<Confirmation>) {
        // Mostly none (no cluster): nothing to copy.
        match self.confirming.is_empty() {
            true => self.confirming = confirmations,
            false => self.confirming.extend(confirmations),
        }
    }

    /// Answers a frame's `receipt`: at once, or once `ticket` is durable and the cluster
    /// confirmed `confirmations` (and every receipt before it was answered).
    fn receipt(
        &mut self,
        receipt: Option<String>,
        ticket: Option<Ticket>,
        confirmations: Vec<Confirmation>,
        replies: &mut Vec<Frame>,
    ) {
        let Some(receipt) = receipt else { return };
        match self.waiting.is_empty() && ticket.is_none() && confirmations.is_empty() {
            true => push_receipt(Some(receipt), replies),
            false => self.waiting.push_back(HeldReceipt { ticket, confirmations, receipt }),
        }
    }

    /// The store's ticket the oldest held receipt waits for, if it waits for one: the connection
    /// task calls [`Session::release_receipts`] once it is durable (at once if it is and the
    /// receipt waits for nothing else).
    pub fn awaited(&self) -> Option<Ticket> {
        let held = self.waiting.front()?;
        let ticket = held.ticket?;
        let confirmed = held.confirmations.iter().all(|c| c.outcome().is_some());
        (!self.is_durable(ticket) || confirmed).then_some(ticket)
    }

    /// The cluster's confirmation the oldest held receipt waits for, once the store has made its
    /// changes durable: the connection task calls [`Session::release_receipts`] once it is
    /// answered (at once if every one is).
    pub fn awaited_confirmation(&self) -> Option<Confirmation> {
        let held = self.waiting.front()?;
        if held.ticket.is_some_and(|ticket| !self.is_durable(ticket)) {
            return None;
        }
        let pending = held.confirmations.iter().find(|confirmation| confirmation.outcome().is_none());
        pending.or(held.confirmations.first()).cloned()
    }

    fn is_durable(&self, ticket: Ticket) -> bool {
        self.broker.store().is_some_and(|store| store.is_durable(ticket))
    }

    /// Moves the receipts whose changes are durable and confirmed now to `replies`. Fails once
    /// the store has failed with receipts still held (their messages may not have been stored),
    /// or the cluster refused what a held receipt waits for.
    pub fn release_receipts(&mut self, replies: &mut Vec<Frame>) -> Result<(), SessionError> {
        while let Some(held) = self.waiting.front() {
            if let Some(ticket) = held.ticket {
                let store = self.broker.store().expect("a ticket comes from the store");
                if !store.is_durable(ticket) {
                    if let Some(failure) = store.failure() {
                        let error = ProtocolError::Store(Refusal::Failed(failure.to_owned()));
                        return Err(SessionError { error, receipt: self.waiting.pop_front().map(|h| h.receipt) });
                    }
                    break;
                }
            }
            let outcomes: Option<Result<(), String>> = held.confirmations.iter().map(|c| c.outcome()).collect();
            match outcomes {
                None => break,
                Some(Err(refusal)) => {
                    let error = ProtocolError::Cluster(refusal);
                    return Err(SessionError { error, receipt: self.waiting.pop_front().map(|h| h.receipt) });
                }
                Some(Ok(())) => push_receipt(self.waiting.pop_front().map(|h| h.receipt), replies),
            }
        }
        Ok(())
    }

    /// Whether the access rules changed since this session's access was last checked.
    fn access_changed(&self) -> bool {
        self.broker.shared.router.config().authorizer.version() != self.access_version
    }

    /// Asks the changed access rules whether the session may stay connected and keep its
    /// subscriptions.
    fn recheck_access(&mut self) -> Result<(), ProtocolError> {
        let router = &self.broker.shared.router;
        self.access_version = router.config().authorizer.version();
        if let Some(refused) = router.recheck(connected(&self.principal), &self.info) {
            return Err(refused);
        }
        Ok(())
    }

    /// Ends the session for `reason`: counts and keeps the reason for the snapshot, then drops
    /// the session (see [`Drop`]).
    pub fn finish(self, reason: &CloseReason) {
        let shared = &self.broker.shared;
        shared.stats.count_close(reason.kind());
        shared.registry.record_close(&self.info, reason, shared.router.config().clock.now_ms());
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // Open transactions are aborted by forgetting them; subscriptions end and return their
        // unacknowledged queue messages for redelivery.
        for (_, subscription) in std::mem::take(&mut self.subscriptions) {
            subscription.end(&self.broker.shared.router);
        }
        for queue in self.temporary.queues() {
            self.broker.shared.router.delete_temporary(queue);
        }
        let shared = &self.broker.shared;
        shared.memory.sub(self.transactions.values().map(|t| t.bytes).sum());
        shared.stats.connections.fetch_sub(1, Ordering::Relaxed);
        shared.registry.remove(self.info.id);
    }
}

fn push_receipt(receipt: Option<String>, replies: &mut Vec<Frame>) {
    if let Some(receipt) = receipt {
        replies.push(Frame::new(Command::Receipt).with_header(header::RECEIPT_ID, receipt));
    }
}

/// The principal of a connected session: frames past CONNECT reach only connected sessions. (A
/// free function, so the caller can borrow other fields of the session meanwhile.)
fn connected(principal: &Option<Arc<Principal>>) -> &Arc<Principal> {
    principal.as_ref().expect("frames past CONNECT reach only a connected session")
}

/// The value of a required header.
fn require<'f>(frame: &'f Frame, name: &'static str) -> Result<&'f str, ProtocolError> {
    frame.header(name).ok_or_else(|| missing(frame, name))
}

fn missing(frame: &Frame, name: &'static str) -> ProtocolError {
    ProtocolError::MissingHeader { command: frame.command.as_str(), header: name }
}

/// A frame's `transaction` header.
fn frame_in_transaction(frame: &Frame) -> Option<String> {
    frame.header(header::TRANSACTION).map(str::to_owned)
}
