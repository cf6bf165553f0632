//! The broker's configuration: one TOML file.
//!
//! The engine's sections (`[limits]`, `[heartbeat]`, `[delivery]`, `[queues]`, `[memory]`,
//! `[store]`) are the core's own serde structs, with their defaults and docs in
//! `stompbox_core::broker`; this file adds what only the server knows: the listeners, protected
//! mode, the data directory, `[auth]` (the users and groups files) with the `[[access_rule]]`
//! tables (the core's [`AccessRule`]), and `[cluster]` (the NATS servers nodes share topics
//! through), and the `[[virtual_host]]` tables (`virtual_host::config`). Unknown keys are errors
//! (a typo must not silently fall back to a default). The annotated example
//! `examples/stompbox.toml` lists every key; `Config::default()` is what `stompbox run` uses
//! without a file: STOMP on 127.0.0.1:61613.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use stompbox_core::auth::AccessRule;
use stompbox_core::broker::{
    BrokerConfig, DeliveryConfig, HeartbeatConfig, Limits, MemoryConfig, QueuesConfig, StoreConfig,
};
use thiserror::Error;

mod cluster;

pub use cluster::ClusterConfig;

use crate::listener::ListenerKind;
use crate::virtual_host::config::VirtualHostConfig;

/// Where the broker listens when the configuration names no listener.
pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 61613);

/// Why a configuration could not be loaded.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The TOML is malformed or has an unknown key or a bad value.
    #[error("invalid configuration: {0}")]
    Parse(#[from] toml::de::Error),
    /// The values are inconsistent.
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// The whole configuration file.
#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Shorthand for `tcp` listeners on these addresses. With neither `listen` nor `[[listener]]`,
    /// the broker listens on 127.0.0.1:61613.
    pub listen: Vec<SocketAddr>,
    /// `[[listener]]` tables: every listener with its kind and options.
    pub listener: Vec<ListenerConfig>,
    /// Accept anonymous and guest logins on non-loopback listeners (off: such a listener is
    /// refused at start, like Redis's protected mode).
    pub allow_anonymous: bool,
    /// Where persistent messages are stored, relative to the configuration file (`--data-dir`
    /// overrides it). Without it, persistence is off: every message is kept in memory only.
    pub data_dir: Option<PathBuf>,
    /// Connection, frame and session caps.
    pub limits: Limits,
    /// Heart-beats the broker offers and expects.
    pub heartbeat: HeartbeatConfig,
    /// Topic delivery, slow consumers and queue windows.
    pub delivery: DeliveryConfig,
    /// Queue depth limits.
    pub queues: QueuesConfig,
    /// The broker-wide memory bound.
    pub memory: MemoryConfig,
    /// The web console, management API and metrics of `http` and `https` listeners.
    pub console: ConsoleConfig,
    /// How persistent messages are written.
    pub store: StoreConfig,
    /// Users and groups; without it, anonymous and `guest`/`guest` logins only.
    pub auth: Option<AuthConfig>,
    /// Access rules, in order (Apollo's `access_rule`); none: everything is allowed.
    pub access_rule: Vec<AccessRule>,
    /// Several nodes sharing topics through NATS; without it, a single node.
    pub cluster: Option<ClusterConfig>,
    /// Virtual hosts, the first one the default; without any, one host made of the top-level
    /// sections.
    pub virtual_host: Vec<VirtualHostConfig>,
}

/// `[auth]`: the users and groups files (Apollo's), read at start and on SIGHUP.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// `users.properties`: `user=password`, the password an argon2 PHC string (as written by
    /// `stompbox passwd`) or plain text. Relative to the configuration file.
    pub users_file: PathBuf,
    /// `groups.properties`: `group=user1|user2`. Relative to the configuration file.
    pub groups_file: Option<PathBuf>,
    /// Accept CONNECTs without credentials as the user `anonymous` (default false).
    #[serde(default)]
    pub anonymous: bool,
    /// A header set on every message to the user name of its sender, replacing whatever the
    /// sender put there (Apollo's `add_user_header`, e.g. `"sender"`).
    pub add_user_header: Option<String>,
}

/// `[console]`: the web console, management API and metrics that `http` and `https` listeners
/// serve.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsoleConfig {
    /// A console login (its session cookie) ends after this long unused, in ms (default
    /// 1,800,000: 30 minutes).
    pub session_idle_ms: u64,
    /// Console logins kept at once (default 1,000); past it, the least recently used ends.
    pub max_sessions: usize,
    /// Most connections or destinations one API list answers with, and its default `limit`
    /// (default 1,024).
    pub max_list_items: usize,
    /// Destinations given series of their own in `/metrics`, the busiest (most enqueued) first
    /// (default 100): a cap on the labels a scrape carries however many destinations there are.
    pub metrics_max_destinations: usize,
}

impl Default for ConsoleConfig {
    fn default() -> ConsoleConfig {
        ConsoleConfig {
            session_idle_ms: 30 * 60 * 1000,
            max_sessions: 1000,
            max_list_items: 1024,
            metrics_max_destinations: 100,
        }
    }
}

/// `[[listener]]`: one listening socket.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenerConfig {
    /// What it speaks: `tcp`, `tls`, `ws` (WebSocket), `wss` (WebSocket over TLS), `http` or
    /// `https` (the web console, management API and metrics, and STOMP over WebSocket at
    /// `/stomp`).
    pub kind: ListenerKind,
    /// Where it listens, e.g. `127.0.0.1:61613`.
    pub address: SocketAddr,
    /// Its name in logs, the snapshot and access rules (default: its kind).
    pub name: Option<String>,
    /// `tls`, `wss`, `https`: the certificate chain, PEM (relative paths are relative to the
    /// configuration file).
    pub cert: Option<PathBuf>,
    /// `tls`, `wss`, `https`: the certificate's private key, PEM.
    pub key: Option<PathBuf>,
    /// `tls`, `wss`, `https`: require client certificates signed by one of these CA
    /// certificates, PEM.
    pub client_ca: Option<PathBuf>,
    /// `ws`, `wss`: the only request path upgraded, e.g. `/stomp` (default: any path).
    pub path: Option<String>,
    /// `ws`, `wss`: the web origins whose pages may connect, e.g. `https://chat.example.com`
    /// (default: any). A request that has an `Origin` header (every browser's does) must name
    /// one of them, against cross-site WebSocket hijacking. `http`, `https`: origins trusted
    /// besides the listener's own (default: none), e.g. a reverse proxy's.
    pub allowed_origins: Option<Vec<String>>,
}

impl ListenerConfig {
    /// A listener of `kind` on `address` with no options.
    pub fn new(kind: ListenerKind, address: SocketAddr) -> ListenerConfig {
        ListenerConfig {
            kind,
            address,
            name: None,
            cert: None,
            key: None,
            client_ca: None,
            path: None,
            allowed_origins: None,
        }
    }

    /// A `tcp` listener on `address`.
    pub fn tcp(address: SocketAddr) -> ListenerConfig {
        ListenerConfig::new(ListenerKind::Tcp, address)
    }

    /// Its name: the configured one, else its kind.
    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or(self.kind.as_str())
    }

    /// How errors name it: `listener "NAME" (KIND on ADDRESS)`.
    pub fn describe(&self) -> String {
        format!("listener \"{}\" ({} on {})", self.name(), self.kind.as_str(), self.address)
    }

    /// Checks that it has the keys its kind needs and none it cannot use, and for `tls` and
    /// `wss` that its certificate and keys load.
    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |text: String| Err(ConfigError::Invalid(format!("{}: {text}", self.describe())));
        let tls = self.kind.is_tls();
        for (key, set) in
            [("cert", self.cert.is_some()), ("key", self.key.is_some()), ("client_ca", self.client_ca.is_some())]
        {
            if set && !tls {
                return invalid(format!("`{key}` is only for tls, wss and https listeners"));
            }
        }
        if self.path.is_some() && !self.kind.is_websocket() {
            return invalid("`path` is only for ws and wss listeners".into());
        }
        if self.allowed_origins.is_some() && !(self.kind.is_websocket() || self.kind.is_http()) {
            return invalid("`allowed_origins` is only for ws, wss, http and https listeners".into());
        }
        if self.path.as_deref().is_some_and(|path| !path.starts_with('/')) {
            return invalid("`path` must start with `/`".into());
        }
        if tls {
            crate::listener::tls::server_config(self).map_err(|e| ConfigError::Invalid(e.to_string()))?;
        }
        Ok(())
    }

    /// Makes its file paths relative to `base` (the configuration file's folder).
    fn resolve_paths(&mut self, base: &Path) {
        for path in [&mut self.cert, &mut self.key, &mut self.client_ca].into_iter().flatten() {
            *path = base.join(&*path);
        }
    }
}

impl Config {
    /// Parses and checks a TOML document.
    pub fn from_toml_str(text: &str) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text)?;
        config.validate()?;
        Ok(config)
    }

    /// Reads and checks a TOML file. Relative paths in it (certificates, keys, users, the data
    /// directory) are relative to the file's folder.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.display().to_string(), source })?;
        let mut config: Config = toml::from_str(&text)?;
        let base = path.parent().unwrap_or(Path::new(""));
        config.listener.iter_mut().for_each(|listener| listener.resolve_paths(base));
        if let Some(auth) = &mut config.auth {
            auth.users_file = base.join(&auth.users_file);
            auth.groups_file = auth.groups_file.as_ref().map(|groups| base.join(groups));
        }
        config.data_dir = config.data_dir.map(|dir| base.join(dir));
        if let Some(cluster) = &mut config.cluster {
            cluster.resolve_paths(base);
        }
        config.validate()?;
        Ok(config)
    }

    /// Replaces every configured listener with `tcp` listeners on `addresses` (`--listen`).
    pub fn listen_only_on(&mut self, addresses: Vec<SocketAddr>) {
        self.listen = addresses;
        self.listener.clear();
    }

    /// Every listener: `listen`'s as `tcp` ones, then the `[[listener]]` tables; the default
    /// one when there are none.
    pub fn listeners(&self) -> Vec<ListenerConfig> {
        let mut listeners: Vec<ListenerConfig> = self.listen.iter().copied().map(ListenerConfig::tcp).collect();
        listeners.extend(self.listener.iter().cloned());
        if listeners.is_empty() {
            listeners.push(ListenerConfig::tcp(DEFAULT_LISTEN));
        }
        listeners
    }

    /// Checks what serde cannot: each listener's keys and certificates, non-zero limits,
    /// protected mode.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.listener.iter().try_for_each(ListenerConfig::validate)?;
        // With users, a public listener is what the access rules make of it.
        if !self.allow_anonymous && self.auth.is_none() {
            if let Some(open) = self.listeners().iter().find(|l| !l.address.ip().is_loopback()) {
                return Err(ConfigError::Invalid(format!(
                    "listening on {} would let anyone connect as guest: there are no users, so add an \
                     [auth] section, pass --allow-anonymous (or allow_anonymous = true) to accept that, \
                     or listen on 127.0.0.1",
                    open.address
                )));
            }
        }
        self.validate_sections()?;
        crate::virtual_host::config::validate(self)
    }

    /// Checks the sections a virtual host may have of its own (limits, heart-beats, delivery,
    /// queues, memory, store, access rules, cluster), as [`Config::validate`] does; not the
    /// listeners, whose TLS files it would read again for each host.
    pub(crate) fn validate_sections(&self) -> Result<(), ConfigError> {
        let invalid = |text: &str| Err(ConfigError::Invalid(text.to_owned()));
        let limits = &self.limits;
        let console = &self.console;
        for (name, value) in [
            ("console.max_sessions", console.max_sessions),
            ("console.max_list_items", console.max_list_items),
            ("limits.max_connections", limits.max_connections),
            ("limits.max_connections_per_address", limits.max_connections_per_address),
            ("limits.max_frame_bytes", limits.max_frame_bytes),
            ("limits.max_headers", limits.max_headers),
            ("limits.max_header_line_bytes", limits.max_header_line_bytes),
            ("delivery.outbox_max_bytes", self.delivery.outbox_max_bytes),
            ("delivery.default_prefetch", self.delivery.default_prefetch),
            ("delivery.max_prefetch", self.delivery.max_prefetch),
            ("queues.max_messages", self.queues.max_messages),
            ("store.max_batch_messages", self.store.max_batch_messages),
            ("store.max_batch_bytes", self.store.max_batch_bytes),
            ("limits.max_queues_per_connection", limits.max_queues_per_connection),
        ] {
            if value == 0 {
                return Err(ConfigError::Invalid(format!("{name} must be at least 1")));
            }
        }
        if self.heartbeat.grace_factor.is_nan() || self.heartbeat.grace_factor < 1.0 {
            return invalid("heartbeat.grace_factor must be at least 1.0");
        }
        if limits.max_bytes_per_transaction < limits.max_body_bytes {
            return invalid("limits.max_bytes_per_transaction must be at least limits.max_body_bytes");
        }
        let delivery = &self.delivery;
        if !(delivery.low_water_bytes <= delivery.high_water_bytes
            && delivery.high_water_bytes <= delivery.outbox_max_bytes)
        {
            return invalid("delivery needs low_water_bytes <= high_water_bytes <= outbox_max_bytes");
        }
        let (high, low) = self.memory.watermarks();
        if low > high {
            return invalid("memory.low_watermark must not be above memory.high_watermark");
        }
        if let Some(name) = self.auth.as_ref().and_then(|auth| auth.add_user_header.as_deref()) {
            if name.is_empty() || name.chars().any(|c| c == ':' || c.is_control()) {
                return invalid("auth.add_user_header must be a header name: not empty, no ':' or control characters");
            }
        }
        stompbox_core::auth::Rules::compile(&self.access_rule).map_err(|e| ConfigError::Invalid(e.to_string()))?;
        self.cluster.as_ref().map_or(Ok(()), ClusterConfig::validate)
    }

    /// The broker engine's configuration: the engine's sections as they are.
    pub fn broker_config(&self) -> BrokerConfig {
        BrokerConfig {
            limits: self.limits.clone(),
            heartbeat: self.heartbeat.clone(),
            delivery: self.delivery.clone(),
            queues: self.queues.clone(),
            memory: self.memory.clone(),
            store: self.store.clone(),
            add_user_header: self.auth.as_ref().and_then(|auth| auth.add_user_header.clone()),
            ..BrokerConfig::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stompbox_core::broker::QueueFullPolicy;

    #[test]
    fn empty_file_is_the_default_and_listens_on_loopback() {
        assert_eq!(Config::from_toml_str("").unwrap(), Config::default());
        assert_eq!(Config::default().listeners(), [ListenerConfig::tcp(DEFAULT_LISTEN)]);
    }

    #[test]
    fn unknown_keys_are_errors() {
        let err = Config::from_toml_str("[limits]\nmax_conections = 5\n").unwrap_err();
        assert!(err.to_string().contains("max_conections"), "{err}");
        let err = Config::from_toml_str("[[listener]]\nkind = \"tcp\"\naddress = \"127.0.0.1:1\"\nport = 2\n");
        assert!(err.unwrap_err().to_string().contains("port"));
    }

    #[test]
    fn non_loopback_needs_allow_anonymous() {
        let err = Config::from_toml_str("listen = [\"0.0.0.0:61613\"]").unwrap_err();
        assert!(err.to_string().contains("--allow-anonymous"), "{err}");
        assert!(Config::from_toml_str("listen = [\"0.0.0.0:61613\"]\nallow_anonymous = true").is_ok());
        let table = "[[listener]]\nkind = \"tcp\"\naddress = \"0.0.0.0:61613\"\n";
        assert!(Config::from_toml_str(table).is_err(), "a [[listener]] is checked too");
    }

    #[test]
    fn auth_paths_are_relative_to_the_file_and_users_lift_protected_mode() {
        let dir = std::env::temp_dir().join(format!("stompbox-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("stompbox.toml");
        let text = "listen = [\"0.0.0.0:61613\"]\n[auth]\nusers_file = \"users.properties\"\n\
                    groups_file = \"/etc/groups.properties\"\n";
        std::fs::write(&path, text).unwrap();
        let auth = Config::load(&path).expect("users make a public listener acceptable").auth.unwrap();
        assert_eq!(auth.users_file, dir.join("users.properties"));
        assert_eq!(auth.groups_file.as_deref(), Some(Path::new("/etc/groups.properties")));
        assert!(!auth.anonymous);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn access_rules_and_the_user_header_are_checked_at_load() {
        let err = Config::from_toml_str("[[access_rule]]\nallow = \"a\"\naction = \"publish\"\n").unwrap_err();
        assert!(err.to_string().contains("access_rule 1: unknown action \"publish\""), "{err}");
        let err = Config::from_toml_str("[[access_rule]]\nallow = \"a\"\nactions = \"send\"\n").unwrap_err();
        assert!(err.to_string().contains("actions"), "{err}");
        let err = Config::from_toml_str("[auth]\nusers_file = \"u\"\nadd_user_header = \"a:b\"\n").unwrap_err();
        assert!(err.to_string().contains("add_user_header"), "{err}");
        let config = Config::from_toml_str("[auth]\nusers_file = \"u\"\nadd_user_header = \"sender\"\n").unwrap();
        assert_eq!(config.broker_config().add_user_header.as_deref(), Some("sender"));
    }

    #[test]
    fn listen_and_listener_tables_add_up_and_listen_only_on_replaces_both() {
        let mut config = Config::from_toml_str(
            "listen = [\"127.0.0.1:1\"]\n[[listener]]\nkind = \"tcp\"\naddress = \"127.0.0.1:2\"\nname = \"internal\"\n",
        )
        .unwrap();
        let listeners = config.listeners();
        assert_eq!(listeners.len(), 2);
        assert_eq!(listeners[1].name.as_deref(), Some("internal"));
        config.listen_only_on(vec!["127.0.0.1:3".parse().unwrap()]);
        assert_eq!(config.listeners(), [ListenerConfig::tcp("127.0.0.1:3".parse().unwrap())]);
    }

    #[test]
    fn http_listeners_take_a_certificate_and_origins_but_no_path() {
        let listener = |kind: &str, extra: &str| {
            Config::from_toml_str(&format!("[[listener]]\nkind = \"{kind}\"\naddress = \"127.0.0.1:1\"\n{extra}"))
        };
        assert!(listener("http", "allowed_origins = [\"https://ops.example\"]\n").is_ok());
        let err = listener("http", "path = \"/x\"\n").unwrap_err();
        assert!(err.to_string().contains("`path` is only for ws and wss listeners"), "{err}");
        let err = listener("tcp", "allowed_origins = []\n").unwrap_err();
        assert!(err.to_string().contains("`allowed_origins` is only for ws, wss, http and https"), "{err}");
        let err = listener("https", "").unwrap_err();
        assert!(err.to_string().contains("`cert` is required"), "{err}");
        let err = Config::from_toml_str("[console]\nmax_sessions = 0\n").unwrap_err();
        assert!(err.to_string().contains("console.max_sessions must be at least 1"), "{err}");
    }

    #[test]
    fn data_dir_is_relative_to_the_config_file() {
        let folder = std::env::temp_dir().join(format!("stompbox-config-data-{}", std::process::id()));
        std::fs::create_dir_all(&folder).unwrap();
        let file = folder.join("stompbox.toml");
        std::fs::write(&file, "data_dir = \"data\"\n").unwrap();
        assert_eq!(Config::load(&file).unwrap().data_dir, Some(folder.join("data")));
        std::fs::write(&file, "data_dir = \"/var/lib/stompbox\"\n").unwrap();
        assert_eq!(Config::load(&file).unwrap().data_dir, Some(PathBuf::from("/var/lib/stompbox")));
        std::fs::remove_dir_all(&folder).unwrap();
        assert_eq!(Config::default().data_dir, None, "persistence is off without it");
    }

    #[test]
    fn policies_are_the_engines_own_enums() {
        let config = Config::from_toml_str(
            "[queues]\nmax_messages = 10\n[[queues.rule]]\npattern = \"jobs.**\"\nwhen_full = \"error\"\n",
        )
        .unwrap();
        let broker = config.broker_config();
        assert_eq!(broker.queues.for_queue("jobs.eu").when_full, QueueFullPolicy::Error);
        assert_eq!(broker.queues.for_queue("jobs.eu").limits.max_messages, 10);
        assert_eq!(broker.queues.when_full, QueueFullPolicy::Block);
    }
}
