//! Message groups (Apollo's `message_group`, ActiveMQ's `JMSXGroupID`): the messages of one group
//! go to the one queue consumer the group was first given to, while it lives; when it leaves, its
//! groups are given anew. A queue remembers at most `limits.max_message_groups` groups, the
//! oldest forgotten first (as ActiveMQ's bounded group map does), so ever-new group names cannot
//! grow it without bound.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use super::delivery::Subscriber;

/// One queue's groups and the consumers they stick to.
#[derive(Debug, Default)]
pub(crate) struct Groups {
    owners: HashMap<Box<str>, Arc<Subscriber>>,
    /// Group names, oldest first.
    order: VecDeque<Box<str>>,
}

impl Groups {
    /// The consumer `group` sticks to, if any.
    pub(crate) fn owner(&self, group: &str) -> Option<&Arc<Subscriber>> {
        self.owners.get(group)
    }

    /// Sticks `group` to `subscriber`, forgetting the oldest group when `max` are remembered.
    pub(crate) fn assign(&mut self, group: &str, subscriber: Arc<Subscriber>, max: usize) {
        while self.owners.len() >= max.max(1) {
            let Some(oldest) = self.order.pop_front() else { break };
            self.owners.remove(&oldest);
        }
        self.owners.insert(group.into(), subscriber);
        self.order.push_back(group.into());
    }

    /// Forgets the groups of a consumer that left: their next messages go to whoever has room.
    pub(crate) fn forget(&mut self, subscriber: &Arc<Subscriber>) {
        self.owners.retain(|_, owner| !Arc::ptr_eq(owner, subscriber));
        let owners = &self.owners;
        self.order.retain(|group| owners.contains_key(group));
    }
}
