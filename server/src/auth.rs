//! The users, groups and access rules a configuration names, put in force in the engine and
//! loaded again on SIGHUP.
//!
//! Without `[auth]` the broker keeps its first mode (anonymous and `guest`/`guest` logins); with
//! it, logins are checked against `users_file` and `groups_file`. The `[[access_rule]]` tables
//! apply in both modes (none: everything is allowed). [`Auth`] holds the engine's authenticator
//! and authorizer behind [`Reloadable`] wrappers, so [`reload`] can replace them while
//! connections stay open: everything is read and checked first, and a mistake anywhere keeps
//! what was in force.

use std::path::Path;
use std::sync::Arc;

use stompbox_core::auth::{Authenticator, Authorizer, GuestOnly, Reloadable, Rules, Users};
use stompbox_core::broker::{Broker, BrokerConfig};
use tracing::{info, warn};

use crate::config::{AuthConfig, Config, ConfigError};

/// The engine's authenticator and authorizer, replaceable. See the module docs.
#[derive(Debug, Clone)]
pub struct Auth {
    authenticator: Arc<Reloadable<dyn Authenticator>>,
    authorizer: Arc<Reloadable<dyn Authorizer>>,
}

/// What one configuration makes: read and checked, not yet in force.
struct Loaded {
    authenticator: Arc<dyn Authenticator>,
    authorizer: Arc<dyn Authorizer>,
}

impl Auth {
    /// Reads the files `config` names and compiles its access rules. Warns about users whose
    /// password is stored in plain text (naming them, never their passwords).
    pub fn load(config: &Config) -> Result<Auth, ConfigError> {
        let loaded = Loaded::read(config)?;
        Ok(Auth {
            authenticator: Arc::new(Reloadable::new(loaded.authenticator)),
            authorizer: Arc::new(Reloadable::new(loaded.authorizer)),
        })
    }

    /// Puts this authenticator and authorizer into an engine configuration.
    pub fn install(&self, engine: &mut BrokerConfig) {
        engine.authenticator = self.authenticator.clone();
        engine.authorizer = self.authorizer.clone();
    }

    /// The engine configuration of `config`, with these installed.
    pub fn broker_config(&self, config: &Config) -> BrokerConfig {
        let mut engine = config.broker_config();
        self.install(&mut engine);
        engine
    }

    /// Reads `config`'s users, groups and rules and puts them in force for every question asked
    /// from now on; on an error nothing changes.
    pub fn replace(&self, config: &Config) -> Result<(), ConfigError> {
        self.put_in_force(Loaded::read(config)?);
        Ok(())
    }

    fn put_in_force(&self, loaded: Loaded) {
        self.authenticator.replace(loaded.authenticator);
        self.authorizer.replace(loaded.authorizer);
    }
}

impl Loaded {
    fn read(config: &Config) -> Result<Loaded, ConfigError> {
        let rules = Rules::compile(&config.access_rule).map_err(|e| ConfigError::Invalid(e.to_string()))?;
        let authenticator: Arc<dyn Authenticator> = match &config.auth {
            None => Arc::new(GuestOnly),
            Some(auth) => Arc::new(read_users(auth)?),
        };
        Ok(Loaded { authenticator, authorizer: Arc::new(rules) })
    }
}

fn read_users(auth: &AuthConfig) -> Result<Users, ConfigError> {
    let users_text = read(&auth.users_file)?;
    let groups_text = auth.groups_file.as_deref().map(read).transpose()?;
    let users = Users::parse(&users_text, groups_text.as_deref(), auth.anonymous)
        .map_err(|e| ConfigError::Invalid(format!("{}: {e}", auth.users_file.display())))?;
    let plain = users.plain_text_users();
    if !plain.is_empty() {
        warn!(
            "{}: plain-text passwords for {} (store hashes instead: stompbox passwd USER --file FILE)",
            auth.users_file.display(),
            plain.join(", ")
        );
    }
    Ok(users)
}

fn read(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.display().to_string(), source })
}

/// Loads the configuration at `path` again and puts each virtual host's users, groups and
/// access rules in force in `hosts` (each host's id, [`Auth`] and broker, in configuration
/// order; other settings, and adding, removing, renaming or reordering hosts, need a restart);
/// then closes, with an ERROR saying why, every session the new rules refuse. Returns how many
/// were closed. On an error in the file nothing changes.
pub fn reload(path: &Path, hosts: &[(String, Auth, Broker)]) -> Result<usize, ConfigError> {
    let config = Config::load(path)?;
    let specs = crate::virtual_host::config::hosts(&config);
    if !specs.iter().map(|spec| &spec.id).eq(hosts.iter().map(|(id, _, _)| id)) {
        return Err(ConfigError::Invalid("the virtual hosts changed: restart to apply that".into()));
    }
    let loaded = specs.iter().map(|spec| Loaded::read(&spec.config)).collect::<Result<Vec<_>, _>>()?;
    let mut closed = 0;
    for ((_, auth, broker), loaded) in hosts.iter().zip(loaded) {
        auth.put_in_force(loaded);
        closed += broker.revoke_refused();
    }
    info!(hosts = hosts.len(), closed, "reloaded users, groups and access rules from {}", path.display());
    Ok(closed)
}
