//! The registry of live connections, and a bounded ring of recently closed ones with why they
//! closed (NATS's `closedRingBuffer`): what the snapshot lists as connections.
//!
//! Each session registers a [`ConnectionInfo`] when it opens and removes it when it is dropped.
//! The info is shared: the session updates it (login, subscriptions, message counters), the
//! connection task its byte counters, and a snapshot reads it without stopping either.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;

use super::close::CloseReason;
use super::outbox::Outbox;
use super::snapshot::{ClosedConnection, ConnectionSnapshot, SubscriptionSnapshot};
use super::stats::{read, ConnectionCounters};
use crate::auth::{Connector, Principal};
use crate::version::Version;

/// Closed connections kept for the snapshot.
const CLOSED_KEPT: usize = 256;

/// Where a new connection comes from, as the server tells the engine.
#[derive(Debug, Clone)]
pub struct ConnectionMeta {
    /// The peer's address (`None` for an in-process session).
    pub peer: Option<SocketAddr>,
    /// The listener it came in on.
    pub connector: Connector,
}

/// What the broker knows of one connection. See the module docs.
#[derive(Debug)]
pub(crate) struct ConnectionInfo {
    pub(crate) id: u64,
    pub(crate) session: String,
    pub(crate) meta: ConnectionMeta,
    pub(crate) opened_at_ms: u64,
    pub(crate) login: OnceLock<LoggedIn>,
    pub(crate) counters: ConnectionCounters,
    pub(crate) subscriptions: Mutex<Vec<SubscriptionSnapshot>>,
    /// Why the connection is not being read, while it is not.
    pub(crate) held_by: Mutex<Option<String>>,
    /// The session's outbox, to close the connection from outside its task (access revoked).
    pub(crate) outbox: Outbox,
}

/// Set once the handshake succeeds.
#[derive(Debug)]
pub(crate) struct LoggedIn {
    pub(crate) principal: Arc<Principal>,
    pub(crate) version: Version,
}

impl ConnectionInfo {
    pub(crate) fn snapshot(&self) -> ConnectionSnapshot {
        let login = self.login.get();
        let counters = &self.counters;
        ConnectionSnapshot {
            id: self.id,
            session: self.session.clone(),
            user: login.and_then(|l| l.principal.user.as_deref()).map(str::to_owned),
            peer: self.meta.peer.map(|peer| peer.to_string()),
            listener: self.meta.connector.name.to_string(),
            kind: self.meta.connector.kind.to_string(),
            version: login.map(|l| l.version.as_str()),
            connected_since_ms: self.opened_at_ms,
            messages_in: read(&counters.messages_in),
            messages_out: read(&counters.messages_out),
            bytes_in: read(&counters.bytes_in),
            bytes_out: read(&counters.bytes_out),
            subscriptions: self.subscriptions.lock().clone(),
            held_by: self.held_by.lock().clone(),
        }
    }
}

/// Live and recently closed connections.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    live: Mutex<HashMap<u64, Arc<ConnectionInfo>>>,
    closed: Mutex<VecDeque<ClosedConnection>>,
}

impl Registry {
    pub(crate) fn add(&self, info: Arc<ConnectionInfo>) {
        self.live.lock().insert(info.id, info);
    }

    pub(crate) fn remove(&self, id: u64) {
        self.live.lock().remove(&id);
    }

    /// Keeps a closed connection, with its reason, in the ring.
    pub(crate) fn record_close(&self, info: &ConnectionInfo, reason: &CloseReason, closed_at_ms: u64) {
        let closed = ClosedConnection {
            connection: info.snapshot(),
            closed_at_ms,
            reason: reason.to_string(),
            kind: reason.kind().as_str(),
        };
        let mut ring = self.closed.lock();
        if ring.len() == CLOSED_KEPT {
            ring.pop_front();
        }
        ring.push_back(closed);
    }

    /// The live connections, copied out under the lock.
    pub(crate) fn live(&self) -> Vec<Arc<ConnectionInfo>> {
        self.live.lock().values().cloned().collect()
    }

    /// The recently closed connections, oldest first.
    pub(crate) fn closed(&self) -> Vec<ClosedConnection> {
        self.closed.lock().iter().cloned().collect()
    }
}
