//! Why a publisher is paced, and what it waits for before its connection reads on.
//!
//! The engine never waits: a publish that finds something past its high-water mark hands the
//! session a [`Pressure`], and the connection task stops reading its client until
//! [`Pressure::relieved`]. Two things press:
//!
//! - a subscriber past its high-water mark that still reads (see `outbox`);
//! - a [`Backlog`] outside the engine: the cluster bridge's messages waiting for NATS. Without
//!   pacing, a bridge that cannot hand messages over as fast as local clients publish has to drop
//!   them, so every local subscriber gets a message the other nodes never see. Producers are
//!   paced to it as to a slow subscriber instead, and dropping is left for a backlog truly full.

use std::fmt;
use std::sync::Arc;

use tokio::sync::Notify;

use super::outbox::Lagging;

/// A backlog outside the engine that producers are paced to (the cluster bridge's).
pub trait Backlog: Send + Sync + fmt::Debug {
    /// Whether it is under its low-water mark, or no longer drained: producers may go on.
    fn relieved(&self) -> bool;

    /// Notified (to all waiters) whenever [`Backlog::relieved`] may have become true.
    fn relief(&self) -> &Notify;
}

/// A publisher's wait for what its last publish found past its high-water mark.
#[derive(Debug, Clone)]
pub struct Pressure(Source);

#[derive(Debug, Clone)]
enum Source {
    Subscriber(Lagging),
    Bridge(Arc<dyn Backlog>),
}

impl Pressure {
    /// The wait for a subscriber past its high-water mark.
    pub(crate) fn subscriber(lagging: Lagging) -> Self {
        Pressure(Source::Subscriber(lagging))
    }

    /// The wait for a bridge's `backlog`, which its bridge hands back from a publish.
    pub fn bridge(backlog: Arc<dyn Backlog>) -> Self {
        Pressure(Source::Bridge(backlog))
    }

    /// Resolves once what pressed no longer holds publishers back.
    pub async fn relieved(&self) {
        match &self.0 {
            Source::Subscriber(lagging) => lagging.relieved().await,
            Source::Bridge(backlog) => loop {
                let notified = backlog.relief().notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                if backlog.relieved() {
                    return;
                }
                notified.await;
            },
        }
    }

    /// What the publisher is paced to, in words, for the snapshot.
    pub fn describe(&self) -> &'static str {
        match self.0 {
            Source::Subscriber(_) => "paced to a subscriber that is behind",
            Source::Bridge(_) => "paced to the cluster bridge's backlog",
        }
    }
}
