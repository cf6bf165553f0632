//! A queue shared by the nodes of a cluster: what this node takes from the cluster's queue
//! (see `broker::claim`).

use std::sync::Arc;

use super::{Queue, State};
use crate::broker::message::Message;

impl Queue {
    /// Takes a message from the cluster's queue, delivered `deliveries` times before (here or
    /// elsewhere). Without local consumers (they left meanwhile) it goes back to the cluster.
    pub(crate) fn take_from_cluster(self: &Arc<Self>, message: Arc<Message>, deliveries: u32) {
        let mut dead = Vec::new();
        let mut state = self.state.lock();
        if state.consumers.is_empty() {
            if let Some(claim) = message.claim() {
                claim.release();
            }
            return;
        }
        self.enqueue(&mut state, message, deliveries, &mut dead);
        drop(state);
        self.bury(dead);
    }

    /// How many more messages the local consumers can take now: their free windows less what
    /// waits already.
    pub(crate) fn room(&self) -> usize {
        let state = self.state.lock();
        let free: usize = state.consumers.iter().map(|c| c.window.saturating_sub(c.in_flight.len())).sum();
        free.saturating_sub(state.ready.len())
    }

    /// The last local consumer left: the messages of the cluster's queue waiting here go back
    /// to the cluster, for the nodes that have consumers.
    pub(super) fn release_claims(&self, state: &mut State) {
        let mut kept = std::collections::VecDeque::with_capacity(state.ready.len());
        for queued in std::mem::take(&mut state.ready) {
            match queued.message.claim() {
                Some(claim) => {
                    self.env.memory.sub(state.forget(&queued.message));
                    claim.release();
                }
                None => kept.push_back(queued),
            }
        }
        state.ready = kept;
        state.skipped = 0;
    }
}
