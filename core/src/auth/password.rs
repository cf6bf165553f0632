//! Stored passwords: an argon2 PHC string (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`, what
//! [`hash_password`] and `stompbox passwd` write), or plain text as Apollo kept it.
//!
//! A hashed password is verified with argon2 (tens of milliseconds of a core: never on a runtime
//! worker); a plain one is compared in constant time. Either way the comparison does not stop
//! at the first differing byte, so timing does not tell how much of a guess was right.

use std::fmt;

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Argon2, Params};
use subtle::ConstantTimeEq;
use thiserror::Error;

/// Why a stored password or a new one was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PasswordError {
    /// A value that starts like an argon2 hash but is not a valid one.
    #[error("not a valid argon2 PHC string: {0}")]
    BadHash(String),
    /// Hashing failed (no randomness for the salt).
    #[error("cannot hash the password: {0}")]
    Hashing(String),
}

/// A password as `users.properties` stores it.
#[derive(Clone)]
pub enum StoredPassword {
    /// An argon2 hash, parsed once.
    Hashed(Box<PasswordHash>),
    /// Plain text (logged as a warning at start).
    Plain(String),
}

impl StoredPassword {
    /// Reads a stored value: a value starting with `$argon2` must be a valid argon2 PHC string;
    /// anything else is a plain password.
    pub fn parse(value: &str) -> Result<StoredPassword, PasswordError> {
        if !value.starts_with("$argon2") {
            return Ok(StoredPassword::Plain(value.to_owned()));
        }
        let bad = |e: &dyn fmt::Display| PasswordError::BadHash(e.to_string());
        let hash = PasswordHash::new(value).map_err(|e| bad(&e))?;
        Params::try_from(&hash).map_err(|e| bad(&e))?;
        if hash.salt.is_none() || hash.hash.is_none() {
            return Err(PasswordError::BadHash("salt or hash missing".to_owned()));
        }
        Ok(StoredPassword::Hashed(Box::new(hash)))
    }

    /// Whether `candidate` is this password.
    pub fn verify(&self, candidate: &str) -> bool {
        match self {
            StoredPassword::Hashed(hash) => Argon2::default().verify_password(candidate.as_bytes(), &**hash).is_ok(),
            StoredPassword::Plain(plain) => bool::from(plain.as_bytes().ct_eq(candidate.as_bytes())),
        }
    }

    /// Whether it is a hash (verifying it takes long enough to keep off the runtime).
    pub fn is_hashed(&self) -> bool {
        matches!(self, StoredPassword::Hashed(_))
    }
}

impl fmt::Debug for StoredPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never log a password, nor its hash.
        f.write_str(if self.is_hashed() {
            "StoredPassword::Hashed(<redacted>)"
        } else {
            "StoredPassword::Plain(<redacted>)"
        })
    }
}

/// Hashes a password with argon2id and its default parameters (19 MiB, 2 passes) and a random
/// salt, as a PHC string.
pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|e| PasswordError::Hashing(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let stored = StoredPassword::parse(&hash_password("s3cret").unwrap()).unwrap();
        assert!(stored.is_hashed());
        assert!(stored.verify("s3cret"));
        assert!(!stored.verify("s3creT"));
        assert!(!stored.verify(""));
    }

    #[test]
    fn hashes_are_salted_argon2id() {
        let (a, b) = (hash_password("x").unwrap(), hash_password("x").unwrap());
        assert!(a.starts_with("$argon2id$v=19$"), "{a}");
        assert_ne!(a, b);
    }

    #[test]
    fn plain_passwords_compare_whole() {
        let stored = StoredPassword::parse("password").unwrap();
        assert!(!stored.is_hashed());
        assert!(stored.verify("password"));
        assert!(!stored.verify("passwor"));
        assert!(!stored.verify("password1"));
    }

    #[test]
    fn a_broken_hash_is_refused_not_taken_as_plain_text() {
        assert!(matches!(StoredPassword::parse("$argon2id$v=19$garbage"), Err(PasswordError::BadHash(_))));
    }

    #[test]
    fn debug_shows_no_secret() {
        let shown = format!("{:?}", StoredPassword::parse("hunter2").unwrap());
        assert!(!shown.contains("hunter2"), "{shown}");
    }
}
