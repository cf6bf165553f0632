//! Open connections per IP address (`limits.max_connections_per_address`): a connection takes a
//! [`Slot`] of its address for its whole life, and one over the limit is told so and closed.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use parking_lot::Mutex;

/// Counts open connections per address.
#[derive(Debug)]
pub(crate) struct PerAddress {
    limit: usize,
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One open connection of an address; dropping it frees its place.
#[derive(Debug)]
pub(crate) struct Slot {
    counts: Arc<PerAddress>,
    address: IpAddr,
}

impl PerAddress {
    /// At most `limit` connections per address.
    pub(crate) fn new(limit: usize) -> PerAddress {
        PerAddress { limit, open: Mutex::default() }
    }

    /// A slot for one more connection from `address`, or the limit it would go over. An
    /// in-process session (no address) needs none.
    pub(crate) fn admit(self: &Arc<Self>, address: Option<IpAddr>) -> Result<Option<Slot>, usize> {
        let Some(address) = address else { return Ok(None) };
        let mut open = self.open.lock();
        let count = open.entry(address).or_default();
        if *count >= self.limit {
            return Err(self.limit);
        }
        *count += 1;
        Ok(Some(Slot { counts: self.clone(), address }))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.counts.open.lock();
        if let Some(count) = open.get_mut(&self.address) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.address);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_address_has_its_own_limit_and_slots_free_their_place() {
        let counts = Arc::new(PerAddress::new(2));
        let (a, b) = (Some(IpAddr::from([10, 0, 0, 1])), Some(IpAddr::from([10, 0, 0, 2])));
        let first = counts.admit(a).unwrap();
        let _second = counts.admit(a).unwrap();
        assert_eq!(counts.admit(a).unwrap_err(), 2);
        assert!(counts.admit(b).is_ok());
        drop(first);
        assert!(counts.admit(a).is_ok());
        assert!(counts.admit(None).unwrap().is_none());
    }

    #[test]
    fn forgotten_addresses_leave_no_entry() {
        let counts = Arc::new(PerAddress::new(1));
        drop(counts.admit(Some(IpAddr::from([10, 0, 0, 1]))));
        assert!(counts.open.lock().is_empty());
    }
}
