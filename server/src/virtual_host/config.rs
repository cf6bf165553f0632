//! `[[virtual_host]]` tables (Apollo's virtual hosts): an id, the names a CONNECT's `host`
//! header picks the host by, and sections that replace the top-level ones for that host.
//!
//! A host's configuration is the top-level one with its own sections in place ([`HostSpec`]),
//! so everything that reads a [`Config`] (the engine's sections, access rules, the store, the
//! cluster bridge) works per host unchanged. Its store lives in `data_dir/virtual_hosts/<id>/`
//! and its cluster subjects start `<subject_prefix>.vh.<id>`, so hosts never share data. Without
//! any table there is one implicit host, `default`, that is the top-level configuration as it
//! is (same data folder, same subjects): existing configurations and data are unchanged.

use std::collections::HashSet;

use serde::Deserialize;
use stompbox_core::auth::AccessRule;
use stompbox_core::broker::{DeliveryConfig, HeartbeatConfig, Limits, MemoryConfig, QueuesConfig, StoreConfig};

use crate::config::{Config, ConfigError};

/// The implicit host's id, when the configuration has no `[[virtual_host]]`.
pub const DEFAULT_HOST: &str = "default";

/// `[[virtual_host]]`: one virtual host. Sections it leaves out are the top-level ones.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VirtualHostConfig {
    /// Its id: letters, digits, `_` and `-` (it names its data folder).
    pub id: String,
    /// The CONNECT `host` header values that pick it (compared without regard to case).
    #[serde(default)]
    pub host_names: Vec<String>,
    /// Its own `[limits]`.
    pub limits: Option<Limits>,
    /// Its own `[heartbeat]`.
    pub heartbeat: Option<HeartbeatConfig>,
    /// Its own `[delivery]`.
    pub delivery: Option<DeliveryConfig>,
    /// Its own `[queues]`.
    pub queues: Option<QueuesConfig>,
    /// Its own `[memory]`.
    pub memory: Option<MemoryConfig>,
    /// Its own `[store]`.
    pub store: Option<StoreConfig>,
    /// Its own `[[access_rule]]` tables (`[[virtual_host.access_rule]]`).
    pub access_rule: Option<Vec<AccessRule>>,
}

/// One host as the broker runs it: its id, its names and its whole configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct HostSpec {
    /// Its id.
    pub id: String,
    /// The `host` header values that pick it.
    pub host_names: Vec<String>,
    /// The top-level configuration with the host's sections, data folder and cluster subjects.
    pub config: Config,
}

impl VirtualHostConfig {
    /// `base` with this host's sections in place, its own data folder and cluster subjects, and
    /// no virtual hosts of its own.
    fn apply(&self, base: &Config) -> Config {
        let mut config = Config { virtual_host: Vec::new(), ..base.clone() };
        replace(&mut config.limits, &self.limits);
        replace(&mut config.heartbeat, &self.heartbeat);
        replace(&mut config.delivery, &self.delivery);
        replace(&mut config.queues, &self.queues);
        replace(&mut config.memory, &self.memory);
        replace(&mut config.store, &self.store);
        replace(&mut config.access_rule, &self.access_rule);
        config.data_dir = base.data_dir.as_ref().map(|dir| dir.join("virtual_hosts").join(&self.id));
        if let Some(cluster) = &mut config.cluster {
            cluster.subject_prefix = format!("{}.vh.{}", cluster.subject_prefix, self.id);
        }
        config
    }
}

/// Puts a host's own section, if it has one, in place of the top-level one.
fn replace<T: Clone>(section: &mut T, own: &Option<T>) {
    if let Some(own) = own {
        *section = own.clone();
    }
}

/// Every host `config` runs, the first one first (it takes connections whose `host` header
/// names no host).
pub fn hosts(config: &Config) -> Vec<HostSpec> {
    if config.virtual_host.is_empty() {
        return vec![HostSpec { id: DEFAULT_HOST.to_owned(), host_names: Vec::new(), config: config.clone() }];
    }
    let spec = |host: &VirtualHostConfig| HostSpec {
        id: host.id.clone(),
        host_names: host.host_names.clone(),
        config: host.apply(config),
    };
    config.virtual_host.iter().map(spec).collect()
}

/// Checks the tables: ids that can name a folder, unique ids and host names, and each host's
/// own configuration as a whole.
pub fn validate(config: &Config) -> Result<(), ConfigError> {
    let mut ids = HashSet::new();
    let mut names = HashSet::new();
    for host in &config.virtual_host {
        let invalid = |text: String| Err(ConfigError::Invalid(format!("virtual_host \"{}\": {text}", host.id)));
        let safe = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
        if host.id.is_empty() || !host.id.chars().all(safe) {
            return invalid("`id` must be letters, digits, `_` and `-` (it names the host's data folder)".into());
        }
        if !ids.insert(host.id.as_str()) {
            return invalid("another virtual_host has this id".into());
        }
        for name in &host.host_names {
            if name.is_empty() || name.chars().any(|c| c.is_control() || c == ':') {
                return invalid(format!("host name {name:?} must not be empty nor hold `:` or control characters"));
            }
            if !names.insert(name.to_ascii_lowercase()) {
                return invalid(format!("host name {name:?} names another virtual_host too"));
            }
        }
        host.apply(config).validate_sections().or_else(|error| invalid(error.to_string()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    const TWO_HOSTS: &str = "data_dir = \"/data\"\n[limits]\nmax_frame_bytes = 1000\n\
        [[access_rule]]\nallow = \"*\"\n\
        [[virtual_host]]\nid = \"first\"\nhost_names = [\"a.example\"]\n\
        [[virtual_host]]\nid = \"second\"\nhost_names = [\"b.example\", \"B2.example\"]\n\
        [virtual_host.limits]\nmax_frame_bytes = 2000\n\
        [[virtual_host.access_rule]]\ndeny = \"*\"\n\
        [cluster]\nnats = [\"nats://127.0.0.1:4222\"]\n";

    #[test]
    fn without_tables_there_is_one_default_host_that_is_the_configuration_itself() {
        let config = Config::from_toml_str("data_dir = \"/data\"\n").unwrap();
        let hosts = hosts(&config);
        assert_eq!(hosts.len(), 1);
        assert_eq!((hosts[0].id.as_str(), &hosts[0].config), (DEFAULT_HOST, &config));
    }

    #[test]
    fn the_readme_one_liner_makes_two_hosts() {
        let line = "virtual_host = [{ id = \"shop\", host_names = [\"shop.example.com\"] }, \
                    { id = \"lab\", host_names = [\"lab.example.com\"] }]";
        let hosts = hosts(&Config::from_toml_str(line).unwrap());
        assert_eq!(hosts.iter().map(|host| host.id.as_str()).collect::<Vec<_>>(), ["shop", "lab"]);
    }

    #[test]
    fn a_hosts_sections_replace_the_top_level_ones_and_the_rest_is_inherited() {
        let config = Config::from_toml_str(TWO_HOSTS).unwrap();
        let [first, second] = &hosts(&config)[..] else { panic!("two hosts") };
        assert_eq!(first.config.limits.max_frame_bytes, 1000, "inherited");
        assert_eq!(first.config.access_rule, config.access_rule, "inherited");
        assert_eq!(second.config.limits.max_frame_bytes, 2000);
        assert_eq!(second.config.access_rule[0].deny.as_deref(), Some("*"));
        assert_eq!(second.host_names, ["b.example", "B2.example"]);
        assert_eq!(second.config.data_dir, Some(PathBuf::from("/data/virtual_hosts/second")));
        assert_eq!(second.config.cluster.as_ref().unwrap().subject_prefix, "stompbox.vh.second");
        assert!(second.config.virtual_host.is_empty());
    }

    #[test]
    fn ids_and_host_names_are_checked() {
        let host = |id: &str, names: &str| format!("[[virtual_host]]\nid = \"{id}\"\nhost_names = [{names}]\n");
        for (toml, says) in [
            (host("a/b", ""), "`id` must be letters, digits"),
            (host("", ""), "`id` must be letters, digits"),
            (host("a", "") + &host("a", ""), "another virtual_host has this id"),
            (host("a", "\"x.example\"") + &host("b", "\"X.example\""), "names another virtual_host too"),
            (host("a", "\"x:1\""), "must not be empty nor hold `:`"),
            (
                host("a", "") + "[virtual_host.limits]\nmax_frame_bytes = 0\n",
                "limits.max_frame_bytes must be at least 1",
            ),
            (host("a", "") + "[[virtual_host.access_rule]]\nallow = \"a\"\naction = \"x\"\n", "unknown action"),
            (host("a", "") + "port = 1\n", "port"),
        ] {
            let err = Config::from_toml_str(&toml).unwrap_err().to_string();
            assert!(err.contains(says), "{toml}: {err}");
        }
    }
}
