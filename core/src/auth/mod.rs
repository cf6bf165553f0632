//! Who may connect, and what they may do once connected.
//!
//! Authentication and authorization are apart, as in Apollo: an [`Authenticator`] turns a
//! CONNECT's credentials into a [`Principal`] (the user and its groups, resolved once, at
//! CONNECT), and an [`Authorizer`] decides each [`Operation`] on a [`Resource`] from the principal
//! alone, never reading a file.
//!
//! Authentication may be slow (password hashing takes tens of milliseconds), so the engine never
//! runs it itself: it answers CONNECT with [`Action::Authenticate`](crate::broker::Action) and the
//! connection task runs [`Login::verify`] off its runtime. Authorization is on the hot path, so
//! the router caches decisions per connection and drops them when [`Authorizer::version`] moves.
//!
//! The defaults keep the broker's first behaviour: [`GuestOnly`] admits anonymous logins and
//! `guest`/`guest` (RabbitMQ's convention), and [`AllowAll`] lets every principal do everything.
//! A configured broker uses [`Users`] (Apollo's `users.properties` and `groups.properties`) and
//! [`Rules`] (Apollo's access rules), each inside a [`Reloadable`] so SIGHUP can replace them.
//!
//! - `properties`: the `.properties` file format;
//! - `password`: stored passwords, argon2 hashes or plain text;
//! - `users`: [`Users`], the authenticator of the two files;
//! - `rules`: [`AccessRule`] and [`Rules`], the authorizer, with the rules' semantics;
//! - `reloadable`: [`Reloadable`].

mod password;
mod properties;
mod reloadable;
mod rules;
mod users;

use std::fmt;
use std::sync::Arc;

use thiserror::Error;

use crate::destination::Destination;

pub use password::{hash_password, PasswordError, StoredPassword};
pub use reloadable::Reloadable;
pub use rules::{AccessRule, RuleError, Rules, BROKER_ID};
pub use users::{check_user_name, Users, UsersError, ANONYMOUS};

/// The users file with `user`'s entry set to `value` (written where it was, or appended),
/// every other line and comment kept. The user name must pass [`check_user_name`].
pub fn with_user_entry(users_file: &str, user: &str, value: &str) -> String {
    properties::with_entry(users_file, user, value)
}

/// Why a login was refused. The message is what the client sees in the ERROR frame, so it never
/// says whether the user exists.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("authentication failed: unknown login or wrong passcode")]
pub struct AuthError;

/// The listener a connection came in on, as the server names it (Apollo's "connector").
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Connector {
    /// The listener's name (its kind unless the configuration names it).
    pub name: Arc<str>,
    /// The listener's kind: `tcp`, `tls`, `ws`, `wss`, or `embedded` for in-process sessions.
    pub kind: Arc<str>,
}

impl Connector {
    /// A connector of this kind, named after it.
    pub fn of_kind(kind: &str) -> Connector {
        let kind: Arc<str> = kind.into();
        Connector { name: kind.clone(), kind }
    }
}

/// Who a session belongs to once authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The user name; `None` for an anonymous login.
    pub user: Option<Arc<str>>,
    /// The groups the user is in.
    pub groups: Vec<Arc<str>>,
    /// Where the session came in.
    pub connector: Connector,
}

impl Principal {
    /// An anonymous principal on `connector`.
    pub fn anonymous(connector: Connector) -> Principal {
        Principal { user: None, groups: Vec::new(), connector }
    }

    /// A user without groups on `connector`.
    pub fn user(name: &str, connector: Connector) -> Principal {
        Principal { user: Some(name.into()), groups: Vec::new(), connector }
    }
}

/// The credentials of one CONNECT, to be checked off the runtime by [`Login::verify`].
#[derive(Clone)]
pub struct Login {
    /// The `login` header (absent or empty: none).
    pub login: Option<String>,
    /// The `passcode` header (absent or empty: none).
    pub passcode: Option<String>,
    /// Where the connection came in.
    pub connector: Connector,
}

impl fmt::Debug for Login {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never log a passcode.
        f.debug_struct("Login")
            .field("login", &self.login)
            .field("passcode", &self.passcode.as_ref().map(|_| "<redacted>"))
            .field("connector", &self.connector)
            .finish()
    }
}

impl Login {
    /// Asks `authenticator` about these credentials. May block; call it off the runtime when
    /// [`Authenticator::may_block`] says so.
    pub fn verify(&self, authenticator: &dyn Authenticator) -> Result<Principal, AuthError> {
        authenticator.authenticate(self)
    }
}

/// Decides whether a CONNECT's credentials are accepted.
pub trait Authenticator: Send + Sync + fmt::Debug + 'static {
    /// Checks the credentials and returns the principal with its groups.
    fn authenticate(&self, login: &Login) -> Result<Principal, AuthError>;

    /// Whether [`Authenticator::authenticate`] may take long enough (password hashing, a file
    /// read) that it must not run on a runtime worker. The default says it may.
    fn may_block(&self) -> bool {
        true
    }
}

/// The default policy: anonymous and `guest`/`guest` only.
#[derive(Debug, Clone, Copy, Default)]
pub struct GuestOnly;

impl Authenticator for GuestOnly {
    fn authenticate(&self, login: &Login) -> Result<Principal, AuthError> {
        let connector = login.connector.clone();
        match (login.login.as_deref().filter(|l| !l.is_empty()), login.passcode.as_deref().filter(|p| !p.is_empty())) {
            (None, None) => Ok(Principal::anonymous(connector)),
            (Some("guest"), Some("guest")) => Ok(Principal::user("guest", connector)),
            _ => Err(AuthError),
        }
    }

    /// Two string comparisons: cheaper than a hop to a blocking thread.
    fn may_block(&self) -> bool {
        false
    }
}

/// What a principal asks to do (Apollo's action names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// Open a session.
    Connect,
    /// Make a destination that does not exist yet.
    Create,
    /// Remove a destination.
    Destroy,
    /// Publish to a destination.
    Send,
    /// Read without consuming: subscribe to a topic, browse a queue.
    Receive,
    /// Take messages from a queue.
    Consume,
    /// Act on the broker through its management interface.
    Admin,
    /// Read the broker's state through its management interface.
    Monitor,
}

impl Operation {
    /// Every operation.
    pub const ALL: [Operation; 8] = [
        Operation::Connect,
        Operation::Create,
        Operation::Destroy,
        Operation::Send,
        Operation::Receive,
        Operation::Consume,
        Operation::Admin,
        Operation::Monitor,
    ];

    /// Parses the configuration spelling.
    pub fn parse(word: &str) -> Option<Operation> {
        Operation::ALL.into_iter().find(|operation| operation.as_str() == word)
    }

    /// Its bit in a set of operations.
    pub(crate) fn bit(self) -> u8 {
        1 << self as u8
    }

    /// The configuration spelling, e.g. `"send"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Connect => "connect",
            Operation::Create => "create",
            Operation::Destroy => "destroy",
            Operation::Send => "send",
            Operation::Receive => "receive",
            Operation::Consume => "consume",
            Operation::Admin => "admin",
            Operation::Monitor => "monitor",
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an operation is about.
#[derive(Debug, Clone, Copy)]
pub enum Resource<'a> {
    /// The broker itself (connect, admin, monitor).
    Broker,
    /// The listener a session comes in on (connect).
    Connector(&'a Connector),
    /// A destination or, for a subscription, a destination pattern.
    Destination(&'a Destination),
}

impl fmt::Display for Resource<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Resource::Broker => f.write_str("the broker"),
            Resource::Connector(connector) => write!(f, "listener {}", connector.name),
            Resource::Destination(destination) => f.write_str(destination.as_str()),
        }
    }
}

/// Decides what a principal may do. Called on the hot path (cached per connection), so it must
/// be fast and must not block.
pub trait Authorizer: Send + Sync + fmt::Debug + 'static {
    /// Whether `principal` may perform `operation` on `resource`. For a wildcard subscription's
    /// pattern: whether it may receive from some of the destinations the pattern matches (each
    /// delivery is then asked about its own destination).
    fn allows(&self, principal: &Principal, operation: Operation, resource: Resource<'_>) -> bool;

    /// Changes whenever the rules change; decisions cached under another version are dropped.
    fn version(&self) -> u64 {
        0
    }
}

/// The default: everyone may do everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct AllowAll;

impl Authorizer for AllowAll {
    fn allows(&self, _: &Principal, _: Operation, _: Resource<'_>) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn login(login: Option<&str>, passcode: Option<&str>) -> Login {
        Login {
            login: login.map(str::to_owned),
            passcode: passcode.map(str::to_owned),
            connector: Connector::of_kind("tcp"),
        }
    }

    #[test]
    fn guest_only_admits_anonymous_and_guest() {
        let tcp = Connector::of_kind("tcp");
        assert_eq!(GuestOnly.authenticate(&login(None, None)), Ok(Principal::anonymous(tcp.clone())));
        assert_eq!(GuestOnly.authenticate(&login(Some(""), Some(""))), Ok(Principal::anonymous(tcp.clone())));
        assert_eq!(GuestOnly.authenticate(&login(Some("guest"), Some("guest"))), Ok(Principal::user("guest", tcp)));
        assert_eq!(GuestOnly.authenticate(&login(Some("guest"), Some("nope"))), Err(AuthError));
        assert_eq!(GuestOnly.authenticate(&login(Some("admin"), Some("password"))), Err(AuthError));
        assert_eq!(GuestOnly.authenticate(&login(None, Some("x"))), Err(AuthError));
    }

    #[test]
    fn a_login_never_shows_its_passcode() {
        let shown = format!("{:?}", login(Some("app1"), Some("s3cret")));
        assert!(shown.contains("app1") && !shown.contains("s3cret"), "{shown}");
    }
}
