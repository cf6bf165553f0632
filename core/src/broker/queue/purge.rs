//! Purging: dropping the messages a queue holds waiting, at an operator's request.

use super::{Queue, State};
use crate::broker::stats::read;

impl Queue {
    /// Drops the messages waiting (not those in flight), from memory and the store; returns how
    /// many.
    pub(crate) fn purge(&self) -> usize {
        let mut state = self.state.lock();
        self.purge_waiting(&mut state)
    }

    /// Drops every message unless someone uses the queue; returns how many, or the consumers
    /// and producers that use it.
    pub(crate) fn purge_unused(&self) -> Result<usize, (usize, u64)> {
        let mut state = self.state.lock();
        let producers = read(&self.counters.producers);
        if producers > 0 || !state.consumers.is_empty() {
            return Err((state.consumers.len(), producers));
        }
        Ok(self.purge_waiting(&mut state))
    }

    fn purge_waiting(&self, state: &mut State) -> usize {
        let was_full = state.is_full(&self.policy);
        let purged = std::mem::take(&mut state.ready);
        state.skipped = 0;
        let mut bytes = 0;
        for queued in &purged {
            bytes += state.forget(&queued.message);
            self.unstore(queued);
        }
        self.env.memory.sub(bytes);
        if was_full && !state.is_full(&self.policy) {
            self.space.notify_waiters();
        }
        purged.len()
    }
}
