//! `[cluster]`: the NATS servers a node shares topics and queues through, its name and subjects,
//! and the bridge's capacities and JetStream settings (see `crate::cluster`).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::ConfigError;

/// `[cluster]`: this node and the NATS servers it shares topics through with the other nodes.
/// Credentials and TLS are what NATS clients take (a `.creds` file, user and password, or a
/// token; CA and client certificates).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// NATS server URLs, e.g. `["nats://127.0.0.1:4222"]` (several: a NATS cluster).
    pub nats: Vec<String>,
    /// This node's name, unique in the cluster (default: the host name).
    pub node: Option<String>,
    /// The first tokens of every NATS subject the nodes use: `<prefix>.t.<topic>` (default
    /// `stompbox`). Nodes of one cluster share it; another prefix is another cluster.
    #[serde(default = "default_subject_prefix")]
    pub subject_prefix: String,
    /// A NATS credentials file (JWT and NKey seed), relative to the configuration file.
    pub credentials_file: Option<PathBuf>,
    /// A NATS user name (with `password`).
    pub user: Option<String>,
    /// The NATS user's password.
    pub password: Option<String>,
    /// A NATS authentication token.
    pub token: Option<String>,
    /// CA certificates (PEM) the NATS servers' certificates are checked against.
    pub tls_ca: Option<PathBuf>,
    /// A client certificate chain (PEM) for NATS servers that ask for one (with `tls_key`).
    pub tls_cert: Option<PathBuf>,
    /// The client certificate's private key (PEM).
    pub tls_key: Option<PathBuf>,
    /// Refuse NATS servers that do not speak TLS (default false).
    #[serde(default)]
    pub require_tls: bool,
    /// Topic messages waiting to go to NATS (default 65,536); past it, or while NATS is
    /// unreachable, a message reaches this node's subscribers only, and is counted as dropped.
    #[serde(default = "default_cluster_capacity")]
    pub outgoing_capacity: usize,
    /// Messages from NATS waiting per subscribed subject (default 65,536; async-nats's
    /// `subscription_capacity`); past it, NATS drops them (a slow consumer).
    #[serde(default = "default_cluster_capacity")]
    pub subscription_capacity: usize,
    /// How long JetStream waits for a node to acknowledge a queue message before it delivers
    /// it again, to any node (default 30,000 ms): a node that dies gives its messages back so.
    #[serde(default = "default_ack_wait_ms")]
    pub ack_wait_ms: u64,
    /// Queue messages one node holds from the cluster per queue, unacknowledged (default 1,000).
    #[serde(default = "default_max_in_flight")]
    pub max_in_flight: usize,
    /// Replicas of the JetStream streams the nodes create (default 1; 3 on a NATS cluster of
    /// 3 or more servers).
    #[serde(default = "default_stream_replicas")]
    pub stream_replicas: usize,
}

fn default_ack_wait_ms() -> u64 {
    30_000
}

fn default_max_in_flight() -> usize {
    1_000
}

fn default_stream_replicas() -> usize {
    1
}

fn default_subject_prefix() -> String {
    "stompbox".to_owned()
}

fn default_cluster_capacity() -> usize {
    65_536
}

impl ClusterConfig {
    /// A cluster of `nats` servers with every other key at its default.
    pub fn new(nats: Vec<String>) -> ClusterConfig {
        ClusterConfig {
            nats,
            node: None,
            subject_prefix: default_subject_prefix(),
            credentials_file: None,
            user: None,
            password: None,
            token: None,
            tls_ca: None,
            tls_cert: None,
            tls_key: None,
            require_tls: false,
            outgoing_capacity: default_cluster_capacity(),
            subscription_capacity: default_cluster_capacity(),
            ack_wait_ms: default_ack_wait_ms(),
            max_in_flight: default_max_in_flight(),
            stream_replicas: default_stream_replicas(),
        }
    }

    /// This node's name: the configured one, else the host name.
    pub fn node_name(&self) -> String {
        self.node.clone().unwrap_or_else(|| {
            nix::unistd::gethostname()
                .ok()
                .and_then(|name| name.into_string().ok())
                .unwrap_or_else(|| "stompbox".into())
        })
    }

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |text: &str| Err(ConfigError::Invalid(format!("cluster: {text}")));
        if self.nats.is_empty() {
            return invalid("`nats` needs at least one NATS server URL");
        }
        let token = |t: &str| !t.is_empty() && t.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !self.subject_prefix.split('.').all(token) {
            return invalid("`subject_prefix` must be dot-separated tokens of letters, digits, `_` and `-`");
        }
        if self.node.as_deref().is_some_and(|node| node.is_empty() || node.chars().any(char::is_control)) {
            return invalid("`node` must be a name: not empty, no control characters");
        }
        if self.ack_wait_ms == 0 || self.max_in_flight == 0 || !(1..=5).contains(&self.stream_replicas) {
            return invalid("`ack_wait_ms` and `max_in_flight` must be positive, `stream_replicas` 1 to 5");
        }
        if self.user.is_some() != self.password.is_some() {
            return invalid("`user` and `password` go together");
        }
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            return invalid("`tls_cert` and `tls_key` go together");
        }
        if self.outgoing_capacity == 0 || self.subscription_capacity == 0 {
            return invalid("`outgoing_capacity` and `subscription_capacity` must be at least 1");
        }
        Ok(())
    }

    /// Makes its file paths relative to `base` (the configuration file's folder).
    pub(super) fn resolve_paths(&mut self, base: &Path) {
        for path in
            [&mut self.credentials_file, &mut self.tls_ca, &mut self.tls_cert, &mut self.tls_key].into_iter().flatten()
        {
            *path = base.join(&*path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn cluster_takes_nats_urls_and_defaults_the_rest() {
        assert_eq!(Config::default().cluster, None, "a single node without it");
        let config = Config::from_toml_str("[cluster]\nnats = [\"nats://127.0.0.1:4222\"]\n").unwrap();
        let cluster = config.cluster.unwrap();
        assert_eq!(cluster, ClusterConfig::new(vec!["nats://127.0.0.1:4222".into()]));
        assert_eq!(cluster.subject_prefix, "stompbox");
        assert_eq!((cluster.ack_wait_ms, cluster.max_in_flight, cluster.stream_replicas), (30_000, 1_000, 1));
        assert!(!cluster.node_name().is_empty(), "the host name by default");
        for (bad, says) in [
            ("nats = []", "at least one NATS server"),
            ("nats = [\"n\"]\nsubject_prefix = \"a b\"", "subject_prefix"),
            ("nats = [\"n\"]\nuser = \"u\"", "`user` and `password` go together"),
            ("nats = [\"n\"]\ntls_cert = \"c.pem\"", "`tls_cert` and `tls_key` go together"),
            ("nats = [\"n\"]\noutgoing_capacity = 0", "at least 1"),
            ("nats = [\"n\"]\nmax_in_flight = 0", "`max_in_flight` must be positive"),
        ] {
            let err = Config::from_toml_str(&format!("[cluster]\n{bad}\n")).unwrap_err();
            assert!(err.to_string().contains(says), "{bad}: {err}");
        }
    }
}
