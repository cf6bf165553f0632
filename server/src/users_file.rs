//! Writing `users.properties`: [`set_password`] stores a user's password as an argon2id hash,
//! keeping the file's other lines and comments (used by `stompbox passwd`, and by whatever
//! creates an instance).

use std::io::{self, Write};
use std::path::Path;

use stompbox_core::auth::{check_user_name, hash_password, with_user_entry, PasswordError};
use thiserror::Error;

/// Why a password could not be stored.
#[derive(Debug, Error)]
pub enum SetPasswordError {
    /// The user name cannot be stored (see [`check_user_name`]).
    #[error("invalid user name {name:?}: {reason}")]
    BadName {
        /// The name.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An empty password.
    #[error("the password is empty")]
    EmptyPassword,
    /// Hashing failed.
    #[error(transparent)]
    Hash(#[from] PasswordError),
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: io::Error,
    },
}

/// Sets `user`'s password in the users file at `path` (created if missing, readable by its
/// owner only) to an argon2id hash of `password`: its line is replaced where it was, or
/// appended; every other line is kept. The file is replaced in one rename, so a broker reading
/// it meanwhile sees the old file or the new one.
pub fn set_password(path: &Path, user: &str, password: &str) -> Result<(), SetPasswordError> {
    check_user_name(user).map_err(|reason| SetPasswordError::BadName { name: user.to_owned(), reason })?;
    if password.is_empty() {
        return Err(SetPasswordError::EmptyPassword);
    }
    let io_error = |source| SetPasswordError::Io { path: path.display().to_string(), source };
    let current = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == io::ErrorKind::NotFound => String::new(),
        Err(error) => return Err(io_error(error)),
    };
    let updated = with_user_entry(&current, user, &hash_password(password)?);
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    write_private(Path::new(&temporary), updated.as_bytes()).map_err(io_error)?;
    std::fs::rename(&temporary, path).map_err(io_error)
}

/// Writes a file only its owner may read.
fn write_private(path: &Path, contents: &[u8]) -> io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use stompbox_core::auth::{Authenticator, Connector, Login, Users};

    fn logs_in(text: &str, user: &str, password: &str) -> bool {
        let users = Users::parse(text, None, false).unwrap();
        let login =
            Login { login: Some(user.into()), passcode: Some(password.into()), connector: Connector::of_kind("tcp") };
        users.authenticate(&login).is_ok()
    }

    #[test]
    fn sets_a_hash_and_keeps_the_rest() {
        let dir = std::env::temp_dir().join(format!("stompbox-users-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("users.properties");
        std::fs::write(&path, "# the users\nadmin=password\napp1=old\n").unwrap();
        set_password(&path, "app1", "n3w").unwrap();
        set_password(&path, "demo", "d3mo").unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[..2], ["# the users", "admin=password"]);
        assert!(lines[2].starts_with("app1=$argon2id$") && lines[3].starts_with("demo=$argon2id$"), "{text}");
        assert!(logs_in(&text, "app1", "n3w") && logs_in(&text, "demo", "d3mo") && logs_in(&text, "admin", "password"));
        assert!(!text.contains("n3w"), "never the password itself");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn refuses_names_and_passwords_it_cannot_store() {
        let path = Path::new("/nonexistent/users.properties");
        assert!(matches!(set_password(path, "a b", "x"), Err(SetPasswordError::BadName { .. })));
        assert!(matches!(set_password(path, "anonymous", "x"), Err(SetPasswordError::BadName { .. })));
        assert!(matches!(set_password(path, "demo", ""), Err(SetPasswordError::EmptyPassword)));
        assert!(matches!(set_password(path, "demo", "x"), Err(SetPasswordError::Io { .. })));
    }
}
