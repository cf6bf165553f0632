//! Why a connection reads nothing from its client for a while, and what it waits for.
//!
//! Not reading is how the broker pushes back on a producer: its TCP window fills and the client
//! waits in its write. Everything else (deliveries to the connection, its heart-beats, shutdown)
//! goes on meanwhile, and a held connection is not expected to send heart-beats or finish a
//! frame, since it is not being read.

use std::pin::Pin;

use stompbox_core::broker::{Memory, PendingSend, Pressure};
use stompbox_core::frame::Frame;
use stompbox_core::store::Store;
use tokio::sync::futures::OwnedNotified;
use tokio::time::Instant;

/// What a held connection waits for.
pub(super) enum Hold {
    /// A SEND waits for room in a full queue (`when_full = "block"`), since `since`.
    QueueFull { pending: PendingSend, space: Pin<Box<OwnedNotified>>, since: Instant },
    /// A subscriber the last SEND reached is past its high-water mark and still reading, or the
    /// cluster bridge's backlog for NATS is: the producer is paced to it.
    Paced(Pressure),
    /// The broker holds more than its memory watermark: this SEND waits to be handled.
    Memory(Frame),
    /// More than `store.max_pending_bytes` wait for the store's writer: this SEND waits.
    Store(Frame),
}

impl Hold {
    /// Why the connection is held, in words, for the snapshot.
    pub(super) fn describe(&self) -> String {
        match self {
            Hold::QueueFull { pending, .. } => format!("queue {} is full", pending.destination()),
            Hold::Paced(pressure) => pressure.describe().to_owned(),
            Hold::Memory(_) => "the broker's memory high watermark".to_owned(),
            Hold::Store(_) => "the message store's backlog".to_owned(),
        }
    }

    /// Resolves when the connection may go on.
    pub(super) async fn released(&mut self, memory: &Memory, store: Option<&Store>) {
        match self {
            Hold::QueueFull { space, .. } => space.as_mut().await,
            Hold::Paced(pressure) => pressure.relieved().await,
            Hold::Memory(_) => memory.relieved().await,
            Hold::Store(_) => {
                if let Some(store) = store {
                    store.wait_for(|store| !store.is_backlogged()).await;
                }
            }
        }
    }
}

/// Resolves when the hold, if any, is released; pending forever without one.
pub(super) async fn released(hold: &mut Option<Hold>, memory: &Memory, store: Option<&Store>) {
    match hold {
        Some(hold) => hold.released(memory, store).await,
        None => std::future::pending().await,
    }
}
