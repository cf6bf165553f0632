//! Checking a CONNECT's credentials: off the runtime when the authenticator may block (a few at
//! a time, behind a semaphore), logged when refused, and slowed per source address after
//! failures.
//!
//! After a failed login, the next login from the same IP address waits
//! `limits.failed_login_delay_ms`, doubled for each further failure in a row, up to
//! `limits.failed_login_max_delay_ms`; a successful login from the address starts it over. The
//! table of addresses is bounded ([`TRACKED_ADDRESSES`]): addresses whose last failure is older
//! than [`FORGET_AFTER`] go first, then the oldest.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use stompbox_core::auth::{AuthError, Authenticator, Login, Principal};
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tracing::{error, warn};

/// Most addresses whose failures are remembered at once.
pub(crate) const TRACKED_ADDRESSES: usize = 10_000;
/// An address with no failure for this long starts over.
pub(crate) const FORGET_AFTER: Duration = Duration::from_secs(300);

/// Checks logins and remembers failures per address. See the module docs.
#[derive(Debug)]
pub(crate) struct Logins {
    /// Password checks running at once: each may take tens of milliseconds of a core and some
    /// memory, so they wait for a permit rather than fill the blocking pool.
    permits: Arc<Semaphore>,
    delay: Duration,
    max_delay: Duration,
    failures: Mutex<HashMap<IpAddr, Failures>>,
}

/// Failed logins in a row from one address.
#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
}

impl Logins {
    /// `concurrent` checks at once; failures slowed from `delay` up to `max_delay`.
    pub(crate) fn new(concurrent: usize, delay: Duration, max_delay: Duration) -> Logins {
        Logins { permits: Arc::new(Semaphore::new(concurrent)), delay, max_delay, failures: Mutex::default() }
    }

    /// Checks `login` from `peer` with `authenticator`: waits first if the address failed
    /// recently, then verifies (off the runtime when the authenticator may block), records and
    /// logs the outcome.
    pub(crate) async fn verify(
        &self,
        peer: Option<SocketAddr>,
        login: Login,
        authenticator: Arc<dyn Authenticator>,
    ) -> Result<Principal, AuthError> {
        let address = peer.map(|peer| peer.ip());
        if let Some(wait) = address.map(|address| self.wait(address, Instant::now())).filter(|w| !w.is_zero()) {
            tokio::time::sleep(wait).await;
        }
        let user = login.login.clone();
        let verdict = if authenticator.may_block() {
            let _permit = self.permits.acquire().await;
            let checked = tokio::task::spawn_blocking(move || login.verify(&*authenticator)).await;
            checked.unwrap_or_else(|panicked| {
                error!("the authenticator failed: {panicked}");
                Err(AuthError)
            })
        } else {
            login.verify(&*authenticator)
        };
        if let Some(address) = address {
            let failures = self.record(address, verdict.is_ok(), Instant::now());
            if verdict.is_err() {
                warn!(peer = %address, login = user.as_deref().unwrap_or(""), failures, "login refused");
            }
        }
        verdict
    }

    /// How long a login from `address` waits at `now`.
    pub(crate) fn wait(&self, address: IpAddr, now: Instant) -> Duration {
        let Some(failures) = self.failures.lock().get(&address).copied() else { return Duration::ZERO };
        let delay = self.delay.saturating_mul(1 << (failures.count - 1).min(16)).min(self.max_delay);
        (failures.last + delay).saturating_duration_since(now)
    }

    /// Records a login's outcome; returns the failures in a row from `address` now.
    pub(crate) fn record(&self, address: IpAddr, accepted: bool, now: Instant) -> u32 {
        let mut failures = self.failures.lock();
        if accepted {
            failures.remove(&address);
            return 0;
        }
        if failures.len() >= TRACKED_ADDRESSES && !failures.contains_key(&address) {
            failures.retain(|_, f| now.saturating_duration_since(f.last) < FORGET_AFTER);
            if failures.len() >= TRACKED_ADDRESSES {
                let oldest = failures.iter().min_by_key(|(_, f)| f.last).map(|(address, _)| *address);
                oldest.map(|oldest| failures.remove(&oldest));
            }
        }
        let entry = failures.entry(address).or_insert(Failures { count: 0, last: now });
        if now.saturating_duration_since(entry.last) >= FORGET_AFTER {
            entry.count = 0;
        }
        entry.count = entry.count.saturating_add(1);
        entry.last = now;
        entry.count
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn logins() -> Logins {
        Logins::new(2, Duration::from_millis(200), Duration::from_secs(5))
    }

    #[test]
    fn failures_in_a_row_double_the_wait_up_to_the_cap() {
        let logins = logins();
        let (address, now) = (IpAddr::from([10, 0, 0, 1]), Instant::now());
        assert_eq!(logins.wait(address, now), Duration::ZERO);
        let waits: Vec<Duration> = (0..7)
            .map(|_| {
                logins.record(address, false, now);
                logins.wait(address, now)
            })
            .collect();
        let ms: Vec<u128> = waits.iter().map(Duration::as_millis).collect();
        assert_eq!(ms, [200, 400, 800, 1600, 3200, 5000, 5000]);
        assert_eq!(logins.wait(address, now + Duration::from_secs(2)), Duration::from_secs(3), "time counts down");
        assert_eq!(logins.wait(IpAddr::from([10, 0, 0, 2]), now), Duration::ZERO, "per address");
        logins.record(address, true, now);
        assert_eq!(logins.wait(address, now), Duration::ZERO, "a success starts over");
    }

    #[test]
    fn old_failures_are_forgotten() {
        let logins = logins();
        let (address, now) = (IpAddr::from([10, 0, 0, 1]), Instant::now());
        logins.record(address, false, now);
        logins.record(address, false, now);
        assert_eq!(logins.record(address, false, now + FORGET_AFTER), 1);
    }

    #[test]
    fn the_table_stays_bounded() {
        let logins = logins();
        let now = Instant::now();
        for i in 0..TRACKED_ADDRESSES as u32 + 10 {
            logins.record(IpAddr::from(i.to_be_bytes()), false, now + Duration::from_millis(u64::from(i)));
        }
        assert_eq!(logins.failures.lock().len(), TRACKED_ADDRESSES);
        assert_eq!(logins.wait(IpAddr::from(0u32.to_be_bytes()), now), Duration::ZERO, "the oldest went first");
    }

    #[tokio::test(start_paused = true)]
    async fn a_refused_address_waits_before_its_next_check() {
        let logins = logins();
        let users: Arc<dyn Authenticator> = Arc::new(stompbox_core::auth::GuestOnly);
        let peer = Some(SocketAddr::from(([10, 0, 0, 1], 1234)));
        let connector = stompbox_core::auth::Connector::of_kind("tcp");
        let wrong = Login { login: Some("guest".into()), passcode: Some("nope".into()), connector };
        let started = Instant::now();
        assert_eq!(logins.verify(peer, wrong.clone(), users.clone()).await, Err(AuthError));
        assert_eq!(started.elapsed(), Duration::ZERO, "the first try does not wait");
        assert_eq!(logins.verify(peer, wrong, users).await, Err(AuthError));
        assert_eq!(started.elapsed(), Duration::from_millis(200), "the second waits the delay");
    }
}
