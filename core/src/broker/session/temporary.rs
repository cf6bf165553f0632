//! Temporary destinations (Apollo's and RabbitMQ's `/temp-queue/NAME` and `/temp-topic/NAME`):
//! private to the connection that names them, and deleted when it closes.
//!
//! Each connection's temporary destinations are real ones named after it:
//! `/temp-queue/NAME` is `/queue/temp.OWNER.NAME`, `/temp-topic/NAME` `/topic/temp.OWNER.NAME`
//! (OWNER: in hex, the connection's id plus a random number of the broker's run, so that no
//! other run's connection, nor in a cluster another node's, has the same names). Its SEND,
//! SUBSCRIBE and UNSUBSCRIBE `destination` and SEND `reply-to` headers are rewritten so, which
//! lets another connection reply to the real name. No other
//! connection may subscribe to them, nor receive from a temporary topic through a wildcard
//! subscription (see `topic`); the connection's temporary queues are deleted, with their
//! messages, when it closes.

use std::collections::HashSet;

use crate::destination::{Destination, Kind, QUEUE_PREFIX};
use crate::frame::{header, Frame};

/// What a connection's temporary destinations are called, and which queues it made.
#[derive(Debug)]
pub(super) struct Temporary {
    /// The connection's number as owner (see the module docs), part of every real name.
    owner: u64,
    /// The real names of the temporary queues it named.
    queues: HashSet<String>,
}

/// The prefix of every real name of a temporary destination (after `/queue/` or `/topic/`).
const PREFIX: &str = "temp.";

/// Whether `destination` (`/queue/NAME`) is a connection's temporary queue.
pub fn is_temporary_queue(destination: &str) -> bool {
    destination.strip_prefix(QUEUE_PREFIX).is_some_and(|name| name.starts_with(PREFIX))
}

/// The owner number of the connection whose temporary destination `destination` is, if it is
/// one.
pub(crate) fn temporary_owner(destination: &Destination) -> Option<u64> {
    if destination.kind() == Kind::Durable {
        return None;
    }
    let rest = destination.name().strip_prefix(PREFIX)?;
    u64::from_str_radix(rest.split('.').next()?, 16).ok()
}

impl Temporary {
    pub(super) fn new(owner: u64) -> Temporary {
        Temporary { owner, queues: HashSet::new() }
    }

    /// Rewrites the `destination` and `reply-to` headers of `frame` that name temporary
    /// destinations (each part of a composite one) to their real names.
    pub(super) fn rewrite(&mut self, frame: &mut Frame) {
        for (name, value) in frame.headers.iter_mut() {
            if (name == header::DESTINATION || name == header::REPLY_TO) && value.contains("/temp-") {
                *value = value.split(',').map(|part| self.real_name(part)).collect::<Vec<_>>().join(",");
            }
        }
    }

    /// The real name of one destination (itself unless temporary).
    fn real_name(&mut self, text: &str) -> String {
        if let Some(name) = text.strip_prefix("/temp-queue/") {
            let real = format!("/queue/{PREFIX}{:x}.{name}", self.owner);
            self.queues.insert(real.clone());
            real
        } else if let Some(name) = text.strip_prefix("/temp-topic/") {
            format!("/topic/{PREFIX}{:x}.{name}", self.owner)
        } else {
            text.to_owned()
        }
    }

    /// The connection's number as owner of its temporary destinations.
    pub(super) fn owner(&self) -> u64 {
        self.owner
    }

    /// Whether `destination` is another connection's temporary destination.
    pub(super) fn is_foreign(&self, destination: &Destination) -> bool {
        temporary_owner(destination).is_some_and(|owner| owner != self.owner)
    }

    /// The real names of the temporary queues the connection named.
    pub(super) fn queues(&self) -> impl Iterator<Item = &str> {
        self.queues.iter().map(String::as_str)
    }
}
