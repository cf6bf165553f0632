//! Browsers: copies of what a queue holds, without taking it.

use std::sync::Arc;

use super::Queue;
use crate::broker::delivery::{Delivery, Subscriber};
use crate::broker::message::Message;

impl Queue {
    /// Sends `subscriber` a copy of every message the queue holds, in order, without taking
    /// them; then either the `browser:end` marker, or (`keep_open`) a copy of each new message
    /// until it unsubscribes.
    pub(crate) fn browse(&self, subscriber: &Arc<Subscriber>, keep_open: bool, end_id: u64) {
        let mut state = self.state.lock();
        let in_flight = state.consumers.iter().flat_map(|c| c.in_flight.iter());
        let mut held = 0;
        for queued in in_flight.chain(state.ready.iter()).filter(|queued| subscriber.selects(&queued.message)) {
            held += subscriber.outbox.push(Delivery::copy(&queued.message, subscriber, queued.redelivered)).held;
        }
        self.env.memory.change(held);
        if keep_open {
            state.browsers.push(subscriber.clone());
        } else {
            let end = Arc::new(Message::browse_end(end_id, self.destination.shared().clone()));
            subscriber.outbox.push(Delivery { counted: false, ..Delivery::copy(&end, subscriber, false) });
        }
    }

    /// Stops sending copies to a browser.
    pub(crate) fn remove_browser(&self, subscriber: &Arc<Subscriber>) {
        self.state.lock().browsers.retain(|browser| !Arc::ptr_eq(browser, subscriber));
    }
}
