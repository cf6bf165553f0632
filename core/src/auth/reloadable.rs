//! [`Reloadable`]: an authenticator or authorizer that can be replaced while the broker runs
//! (SIGHUP). The engine holds the wrapper; a reload swaps what is inside.
//!
//! Sessions keep their principal (users and groups are resolved at CONNECT). Replacing the
//! authorizer moves its [`Authorizer::version`], so every decision cached under the old rules is
//! dropped and asked again.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;

use super::{AuthError, Authenticator, Authorizer, Login, Operation, Principal, Resource};

/// A replaceable authenticator or authorizer. See the module docs.
#[derive(Debug)]
pub struct Reloadable<T: ?Sized> {
    current: RwLock<Arc<T>>,
    /// Moves with every replacement.
    version: AtomicU64,
}

impl<T: ?Sized> Reloadable<T> {
    /// Starts with `initial`.
    pub fn new(initial: Arc<T>) -> Reloadable<T> {
        Reloadable { current: RwLock::new(initial), version: AtomicU64::new(1) }
    }

    /// What is in force now.
    pub fn current(&self) -> Arc<T> {
        self.current.read().clone()
    }

    /// Puts `next` in force, for every question asked from now on.
    pub fn replace(&self, next: Arc<T>) {
        *self.current.write() = next;
        self.version.fetch_add(1, Ordering::Release);
    }
}

impl Authenticator for Reloadable<dyn Authenticator> {
    fn authenticate(&self, login: &Login) -> Result<Principal, AuthError> {
        // Not under the lock: a password check takes milliseconds.
        self.current().authenticate(login)
    }

    fn may_block(&self) -> bool {
        self.current.read().may_block()
    }
}

impl Authorizer for Reloadable<dyn Authorizer> {
    fn allows(&self, principal: &Principal, operation: Operation, resource: Resource<'_>) -> bool {
        self.current.read().allows(principal, operation, resource)
    }

    fn version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{AllowAll, Connector, GuestOnly, Rules, Users};

    #[test]
    fn replacing_changes_the_answers_and_the_version() {
        let authorizer: Reloadable<dyn Authorizer> = Reloadable::new(Arc::new(AllowAll));
        let anonymous = Principal::anonymous(Connector::of_kind("tcp"));
        let before = authorizer.version();
        assert!(authorizer.allows(&anonymous, Operation::Connect, Resource::Broker));
        let deny_all = crate::auth::AccessRule { deny: Some("*".into()), ..Default::default() };
        authorizer.replace(Arc::new(Rules::compile(&[deny_all]).unwrap()));
        assert!(!authorizer.allows(&anonymous, Operation::Connect, Resource::Broker));
        assert_ne!(authorizer.version(), before);
    }

    #[test]
    fn an_authenticator_is_replaced_whole() {
        let authenticator: Reloadable<dyn Authenticator> = Reloadable::new(Arc::new(GuestOnly));
        let login = Login { login: None, passcode: None, connector: Connector::of_kind("tcp") };
        assert!(authenticator.authenticate(&login).is_ok());
        authenticator.replace(Arc::new(Users::parse("demo=pw\n", None, false).unwrap()));
        assert_eq!(authenticator.authenticate(&login), Err(AuthError));
    }
}
