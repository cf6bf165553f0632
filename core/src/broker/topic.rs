//! Topics: fan-out to every current subscriber whose pattern matches. Subscriptions live in a
//! wildcard trie; the subscriber list of each published destination is cached (bounded) and
//! the cache is cleared whenever a subscription changes.

use std::collections::HashMap;
use std::sync::Arc;

use super::outbox::Subscriber;
use crate::destination::{Destination, TopicTrie};

/// Most destinations whose subscriber lists are cached at once.
const CACHE_CAPACITY: usize = 4096;

/// The subscribers of one published destination, shared by concurrent publishers.
pub(crate) type Subscribers = Arc<[Arc<Subscriber>]>;

#[derive(Debug, Default)]
pub(crate) struct Topics {
    trie: TopicTrie<Arc<Subscriber>>,
    cache: HashMap<Arc<str>, Subscribers>,
}

impl Topics {
    pub(crate) fn subscribe(&mut self, pattern: &Destination, subscriber: Arc<Subscriber>) {
        self.trie.insert(pattern.segments(), subscriber);
        self.cache.clear();
    }

    pub(crate) fn unsubscribe(&mut self, pattern: &Destination, subscriber: &Arc<Subscriber>) {
        self.trie.remove(pattern.segments(), |s| Arc::ptr_eq(s, subscriber));
        self.cache.clear();
    }

    /// Every subscriber whose pattern matches `destination`.
    pub(crate) fn subscribers(&mut self, destination: &Destination) -> Subscribers {
        if let Some(hit) = self.cache.get(destination.as_str()) {
            return hit.clone();
        }
        let segments: Vec<&str> = destination.segments().collect();
        let mut found = Vec::new();
        self.trie.for_each_match(&segments, |s| found.push(s.clone()));
        let found: Subscribers = found.into();
        if self.cache.len() >= CACHE_CAPACITY {
            self.cache.clear();
        }
        self.cache.insert(destination.shared().clone(), found.clone());
        found
    }

    /// How many subscriptions exist.
    pub(crate) fn len(&self) -> usize {
        self.trie.len()
    }
}
