//! Who may connect. The broker asks an [`Authenticator`] about every CONNECT; until users and
//! groups exist, [`GuestOnly`] admits anonymous logins and `guest`/`guest` (RabbitMQ's convention)
//! and refuses every other login.

use thiserror::Error;

/// Why a login was refused. The message is what the client sees in the ERROR frame, so it never
/// says whether the user exists.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("authentication failed: unknown login or wrong passcode")]
pub struct AuthError;

/// Who a session belongs to once authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// No login was given.
    Anonymous,
    /// An authenticated user.
    User(String),
}

/// Decides whether a CONNECT's credentials are accepted.
pub trait Authenticator: Send + Sync + 'static {
    /// Checks `login`/`passcode` as given in CONNECT (either may be absent).
    fn authenticate(&self, login: Option<&str>, passcode: Option<&str>) -> Result<Principal, AuthError>;
}

/// The default policy: anonymous and `guest`/`guest` only.
#[derive(Debug, Clone, Copy, Default)]
pub struct GuestOnly;

impl Authenticator for GuestOnly {
    fn authenticate(&self, login: Option<&str>, passcode: Option<&str>) -> Result<Principal, AuthError> {
        match (login.filter(|l| !l.is_empty()), passcode.filter(|p| !p.is_empty())) {
            (None, None) => Ok(Principal::Anonymous),
            (Some("guest"), Some("guest")) => Ok(Principal::User("guest".to_owned())),
            _ => Err(AuthError),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guest_only_admits_anonymous_and_guest() {
        assert_eq!(GuestOnly.authenticate(None, None), Ok(Principal::Anonymous));
        assert_eq!(GuestOnly.authenticate(Some(""), Some("")), Ok(Principal::Anonymous));
        assert_eq!(GuestOnly.authenticate(Some("guest"), Some("guest")), Ok(Principal::User("guest".into())));
        assert_eq!(GuestOnly.authenticate(Some("guest"), Some("nope")), Err(AuthError));
        assert_eq!(GuestOnly.authenticate(Some("admin"), Some("password")), Err(AuthError));
        assert_eq!(GuestOnly.authenticate(None, Some("x")), Err(AuthError));
    }
}
