//! Users and groups from Apollo's two files: `users.properties` (`user=password`, the password
//! plain or an argon2 hash) and `groups.properties` (`group=user1|user2`). [`Users`] is the
//! [`Authenticator`] they make: a login names a user and its password; the principal carries the
//! user's groups, resolved once, at CONNECT.
//!
//! An unknown user costs the same as a known one (a dummy verification), so timing does not tell
//! which names exist. With `anonymous`, a CONNECT without credentials is accepted as the
//! anonymous principal, whose groups are those that list the user `anonymous`.

use std::collections::HashMap;
use std::sync::Arc;

use thiserror::Error;

use super::password::{PasswordError, StoredPassword};
use super::properties;
use super::{AuthError, Authenticator, Login, Principal};

/// The name access rules and `groups.properties` use for logins without credentials.
pub const ANONYMOUS: &str = "anonymous";

/// A fixed argon2id hash (default parameters) that an unknown user's password is checked
/// against, so an unknown user costs as much as a known one.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c3RvbXBib3hkdW1teQ$5Ag+V4mb5ecMTtQIcwBNkzOjH6xlUwf4dCn+bHqNSlE";

/// Why `users.properties` or `groups.properties` was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum UsersError {
    /// A user name that cannot be written back or matched by the groups file.
    #[error("line {line}: invalid user name {name:?}: {reason}")]
    BadName {
        /// The line, 1-based.
        line: usize,
        /// The name.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A password value that cannot be read.
    #[error("line {line}: user {user:?}: {error}")]
    BadPassword {
        /// The line, 1-based.
        line: usize,
        /// Whose.
        user: String,
        /// Why.
        error: PasswordError,
    },
}

/// Checks that `name` can be a user: written back to `users.properties` unescaped, listed in
/// `groups.properties` and matched by access rules. Returns why not.
pub fn check_user_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("it is empty");
    }
    if name == ANONYMOUS {
        return Err("it is reserved for logins without credentials");
    }
    if name == "*" || name == "+" {
        return Err("access rules use it to mean everyone");
    }
    if name.starts_with(['#', '!']) {
        return Err("a line starting with # or ! is a comment");
    }
    if name.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, '=' | ':' | '\\' | '|')) {
        return Err("it may not contain blanks, control characters, =, :, \\ or |");
    }
    Ok(())
}

/// The users and groups of the two files: the authenticator of `[auth]`. See the module docs.
#[derive(Debug)]
pub struct Users {
    passwords: HashMap<String, StoredPassword>,
    groups: HashMap<String, Vec<Arc<str>>>,
    anonymous: bool,
    /// What an unknown user's password is checked against: a hash when any password is one.
    dummy: StoredPassword,
}

impl Users {
    /// Reads `users.properties` and, if given, `groups.properties`; `anonymous` admits logins
    /// without credentials.
    pub fn parse(users: &str, groups: Option<&str>, anonymous: bool) -> Result<Users, UsersError> {
        let mut passwords = HashMap::new();
        for entry in properties::parse(users) {
            let line = entry.line();
            check_user_name(&entry.key).map_err(|reason| UsersError::BadName {
                line,
                name: entry.key.clone(),
                reason,
            })?;
            let password = StoredPassword::parse(&entry.value).map_err(|error| UsersError::BadPassword {
                line,
                user: entry.key.clone(),
                error,
            })?;
            passwords.insert(entry.key, password);
        }
        let mut membership: HashMap<String, Vec<Arc<str>>> = HashMap::new();
        for entry in groups.map(properties::parse).unwrap_or_default() {
            let group: Arc<str> = entry.key.into();
            for user in entry.value.split('|').map(str::trim).filter(|u| !u.is_empty()) {
                let groups = membership.entry(user.to_owned()).or_default();
                if !groups.contains(&group) {
                    groups.push(group.clone());
                }
            }
        }
        let dummy = match passwords.values().any(StoredPassword::is_hashed) {
            true => StoredPassword::parse(DUMMY_HASH).expect("the dummy hash is valid"),
            false => StoredPassword::Plain(DUMMY_HASH.to_owned()),
        };
        Ok(Users { passwords, groups: membership, anonymous, dummy })
    }

    /// The users whose password is stored in plain text, sorted (for the warning at start).
    pub fn plain_text_users(&self) -> Vec<&str> {
        let mut users: Vec<&str> =
            self.passwords.iter().filter(|(_, p)| !p.is_hashed()).map(|(u, _)| u.as_str()).collect();
        users.sort_unstable();
        users
    }

    /// How many users there are.
    pub fn len(&self) -> usize {
        self.passwords.len()
    }

    /// Whether there are no users.
    pub fn is_empty(&self) -> bool {
        self.passwords.is_empty()
    }

    fn groups_of(&self, user: &str) -> Vec<Arc<str>> {
        self.groups.get(user).cloned().unwrap_or_default()
    }
}

impl Authenticator for Users {
    fn authenticate(&self, login: &Login) -> Result<Principal, AuthError> {
        let connector = login.connector.clone();
        let user = login.login.as_deref().filter(|l| !l.is_empty());
        let passcode = login.passcode.as_deref().unwrap_or_default();
        match user {
            None if passcode.is_empty() && self.anonymous => {
                Ok(Principal { user: None, groups: self.groups_of(ANONYMOUS), connector })
            }
            None => Err(AuthError),
            Some(user) => match self.passwords.get(user) {
                Some(stored) if stored.verify(passcode) => {
                    Ok(Principal { user: Some(user.into()), groups: self.groups_of(user), connector })
                }
                Some(_) => Err(AuthError),
                None => {
                    // As slow as a wrong password: timing must not tell which users exist.
                    let _ = self.dummy.verify(passcode);
                    Err(AuthError)
                }
            },
        }
    }

    /// Only argon2 hashes are slow; plain passwords compare in nanoseconds.
    fn may_block(&self) -> bool {
        self.dummy.is_hashed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::password::hash_password;
    use crate::auth::Connector;

    fn login(user: Option<&str>, passcode: Option<&str>) -> Login {
        Login {
            login: user.map(str::to_owned),
            passcode: passcode.map(str::to_owned),
            connector: Connector::of_kind("tcp"),
        }
    }

    const GROUPS: &str = "admins=mtchang\nmonitors=admin\nusers=demo|app1\nappusers=app1\nguests=anonymous\n";

    #[test]
    fn plain_and_hashed_passwords_both_log_in_with_their_groups() {
        let users = format!("mtchang=plain\napp1={}\n", hash_password("app1-pw").unwrap());
        let users = Users::parse(&users, Some(GROUPS), false).unwrap();
        let app1 = users.authenticate(&login(Some("app1"), Some("app1-pw"))).unwrap();
        assert_eq!(app1.user.as_deref(), Some("app1"));
        let mut groups: Vec<&str> = app1.groups.iter().map(|g| &**g).collect();
        groups.sort_unstable();
        assert_eq!(groups, ["appusers", "users"]);
        assert!(users.authenticate(&login(Some("mtchang"), Some("plain"))).is_ok());
        assert_eq!(users.authenticate(&login(Some("app1"), Some("plain"))), Err(AuthError));
        assert_eq!(users.authenticate(&login(Some("mtchang"), Some("Plain"))), Err(AuthError));
        assert_eq!(users.plain_text_users(), ["mtchang"]);
        assert!(users.may_block(), "a hashed password makes verification slow");
    }

    #[test]
    fn unknown_users_and_missing_credentials_are_refused_alike() {
        let users = Users::parse("demo=pw\n", Some(GROUPS), false).unwrap();
        assert!(!users.may_block(), "plain passwords only: no hop to a blocking thread");
        assert_eq!(users.authenticate(&login(Some("nobody"), Some("pw"))), Err(AuthError));
        assert_eq!(users.authenticate(&login(None, None)), Err(AuthError));
        assert_eq!(users.authenticate(&login(Some(""), Some(""))), Err(AuthError));
        assert_eq!(users.authenticate(&login(None, Some("pw"))), Err(AuthError));
        assert_eq!(users.authenticate(&login(Some("guest"), Some("guest"))), Err(AuthError), "no built-in guest");
    }

    #[test]
    fn anonymous_logins_get_the_groups_of_the_anonymous_user() {
        let users = Users::parse("demo=pw\n", Some(GROUPS), true).unwrap();
        let anonymous = users.authenticate(&login(None, None)).unwrap();
        assert_eq!(anonymous.user, None);
        assert_eq!(anonymous.groups, [Arc::<str>::from("guests")]);
        assert_eq!(users.authenticate(&login(None, Some("pw"))), Err(AuthError), "a passcode without a login");
    }

    #[test]
    fn bad_names_and_hashes_are_reported_with_their_line() {
        let error = Users::parse("# comment\nanonymous=x\n", None, false).unwrap_err();
        assert!(matches!(error, UsersError::BadName { line: 2, .. }), "{error}");
        let error = Users::parse("a|b=x\n", None, false).unwrap_err();
        assert!(error.to_string().contains("line 1"), "{error}");
        let error = Users::parse("demo=$argon2id$broken\n", None, false).unwrap_err();
        assert!(matches!(error, UsersError::BadPassword { line: 1, .. }), "{error}");
    }

    #[test]
    fn the_dummy_hash_is_a_real_argon2id_hash() {
        let dummy = StoredPassword::parse(DUMMY_HASH).unwrap();
        assert!(dummy.is_hashed());
        assert!(!dummy.verify("anything"));
    }
}
