//! The registry of live connections, and a bounded ring of recently closed ones with why they
//! closed (NATS's `closedRingBuffer`): what the snapshot lists as connections.
//!
//! Each session registers a [`ConnectionInfo`] when it opens and removes it when it is dropped.
//! The info is shared: the session updates it (login, subscriptions, message counters), the
//! connection task its byte counters, and a snapshot reads it without stopping either.
//!
//! The broker's byte totals are read here, not counted on the hot path: the live connections'
//! counters plus what the closed ones had, handed over under the same lock as the removal, so a
//! total never counts a connection twice or skips it.

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
    /// The session's outbox, to close the connection from outside its task (access revoked, or
    /// an operator's request).
    pub(crate) outbox: Outbox,
}

/// Set once the handshake succeeds.
#[derive(Debug)]
pub(crate) struct LoggedIn {
    pub(crate) principal: Arc<Principal>,
    pub(crate) version: Version,
}

impl ConnectionInfo {
    /// Bytes read from and written to its socket.
    fn bytes(&self) -> (u64, u64) {
        (read(&self.counters.bytes_in), read(&self.counters.bytes_out))
    }

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
    live: Mutex<Live>,
    closed: Mutex<VecDeque<ClosedConnection>>,
}

#[derive(Debug, Default)]
struct Live {
    connections: HashMap<u64, Arc<ConnectionInfo>>,
    /// Bytes read from and written to the connections that have closed.
    closed_bytes: (u64, u64),
}

impl Registry {
    pub(crate) fn add(&self, info: Arc<ConnectionInfo>) {
        self.live.lock().connections.insert(info.id, info);
    }

    /// Removes a connection, keeping its bytes in the totals.
    pub(crate) fn remove(&self, id: u64) {
        let mut live = self.live.lock();
        if let Some(info) = live.connections.remove(&id) {
            let (read_in, written_out) = info.bytes();
            live.closed_bytes.0 += read_in;
            live.closed_bytes.1 += written_out;
        }
    }

    /// One live connection.
    pub(crate) fn get(&self, id: u64) -> Option<Arc<ConnectionInfo>> {
        self.live.lock().connections.get(&id).cloned()
    }

    /// Bytes read from and written to every connection so far, closed ones included.
    pub(crate) fn bytes(&self) -> (u64, u64) {
        let live = self.live.lock();
        live.connections.values().map(|info| info.bytes()).fold(live.closed_bytes, |(i, o), (a, b)| (i + a, o + b))
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
        self.live.lock().connections.values().cloned().collect()
    }

    /// The recently closed connections, oldest first.
    pub(crate) fn closed(&self) -> Vec<ClosedConnection> {
        self.closed.lock().iter().cloned().collect()
    }
}
