//! Virtual hosts (Apollo's): several brokers behind the same listeners, each with its own
//! destinations, access rules, limits and store. A connection is handed to the host its
//! CONNECT (or STOMP) frame's `host` header names (`connection::host` reads it before the
//! session opens); an unknown or absent name picks the first host.
//!
//! Each host is a whole engine (`Broker`) rather than a namespace inside one: destinations,
//! memory bounds, queue limits, the store and the snapshot are the engine's own, so isolation
//! needs no change to the engine and a host's figures are simply its broker's. What hosts share
//! is what belongs to the listeners: the connection cap, connections per address, the users
//! file and the slowdown after failed logins.
//!
//! - `config`: the `[[virtual_host]]` tables and what each host's configuration is made of.

pub mod config;

use std::io;
use std::sync::Arc;
use std::time::Duration;

use stompbox_core::broker::Broker;
use stompbox_core::frame::FrameLimits;

use self::config::HostSpec;
use crate::auth::Auth;
use crate::connection::Context;
use crate::per_address::PerAddress;

/// A host's specification with its opened broker: what [`crate::serve_hosts`] serves.
#[derive(Debug, Clone)]
pub struct HostBroker {
    /// The host.
    pub spec: HostSpec,
    /// Its broker.
    pub broker: Broker,
}

impl HostBroker {
    /// Opens `spec`'s broker (reading its store back) with `auth` in force.
    pub fn open(spec: HostSpec, auth: &Auth) -> io::Result<HostBroker> {
        let broker = crate::open_broker(&spec.config, auth.broker_config(&spec.config))?;
        Ok(HostBroker { spec, broker })
    }
}

/// A running host: its specification and what its connections share.
#[derive(Debug)]
pub(crate) struct Host {
    pub(crate) spec: HostSpec,
    pub(crate) context: Arc<Context>,
}

/// Every running host, the first one the default. Never empty.
#[derive(Debug)]
pub(crate) struct VirtualHosts {
    hosts: Vec<Host>,
    /// What the listeners apply before a connection's host is known.
    pub(crate) listening: Listening,
}

/// What belongs to the listeners, so to every host alike: the top-level configuration's connect
/// deadline and frame limits (for a WebSocket's messages and the frame that names the host), and
/// the count of connections per address.
#[derive(Debug)]
pub(crate) struct Listening {
    pub(crate) connect: Duration,
    pub(crate) limits: FrameLimits,
    pub(crate) per_address: Arc<PerAddress>,
}

impl VirtualHosts {
    /// The hosts, in configuration order; at least one.
    pub(crate) fn new(hosts: Vec<Host>, listening: Listening) -> VirtualHosts {
        assert!(!hosts.is_empty(), "a broker runs at least one host");
        VirtualHosts { hosts, listening }
    }

    /// The first host: the default one.
    pub(crate) fn first(&self) -> &Host {
        &self.hosts[0]
    }

    /// Every host.
    pub(crate) fn all(&self) -> &[Host] {
        &self.hosts
    }

    /// Whether there is more than one host (so that a connection's host must be picked).
    pub(crate) fn several(&self) -> bool {
        self.hosts.len() > 1
    }

    /// The host a CONNECT `host` header names (without regard to case); else the first.
    pub(crate) fn pick(&self, name: Option<&str>) -> &Host {
        let named =
            |host: &&Host| name.is_some_and(|name| host.spec.host_names.iter().any(|n| n.eq_ignore_ascii_case(name)));
        self.hosts.iter().find(named).unwrap_or(self.first())
    }

    /// The host whose id is `id`.
    pub(crate) fn find(&self, id: &str) -> Option<&Host> {
        self.hosts.iter().find(|host| host.spec.id == id)
    }

    /// Every host's id, in order.
    pub(crate) fn ids(&self) -> Vec<String> {
        self.hosts.iter().map(|host| host.spec.id.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use stompbox_core::broker::BrokerConfig;

    use super::*;
    use crate::config::Config;

    fn hosts(toml: &str) -> VirtualHosts {
        let config = Config::from_toml_str(toml).unwrap();
        let hosts = config::hosts(&config)
            .into_iter()
            .map(|spec| HostBroker { spec, broker: Broker::new(BrokerConfig::default()) });
        crate::start_hosts(hosts.collect(), &config)
    }

    #[test]
    fn the_host_header_picks_a_host_and_an_unknown_or_absent_one_the_first() {
        let hosts = hosts(
            "[[virtual_host]]\nid = \"a\"\nhost_names = [\"a.example\"]\n\
             [[virtual_host]]\nid = \"b\"\nhost_names = [\"b.example\", \"b2.example\"]\n",
        );
        assert!(hosts.several());
        assert_eq!(hosts.ids(), ["a", "b"]);
        assert_eq!(hosts.pick(Some("b2.example")).spec.id, "b");
        assert_eq!(hosts.pick(Some("B.Example")).spec.id, "b", "without regard to case");
        assert_eq!(hosts.pick(Some("a.example")).spec.id, "a");
        assert_eq!(hosts.pick(Some("elsewhere")).spec.id, "a");
        assert_eq!(hosts.pick(None).spec.id, "a");
        assert!(hosts.find("b").is_some() && hosts.find("c").is_none());
    }

    #[test]
    fn the_listeners_apply_the_top_level_limits_whatever_the_first_host_has() {
        let hosts = hosts(
            "[limits]\nconnect_timeout_ms = 7000\n\
             [[virtual_host]]\nid = \"a\"\nhost_names = [\"a.example\"]\n\
             [virtual_host.limits]\nconnect_timeout_ms = 100\n",
        );
        assert_eq!(hosts.listening.connect, Duration::from_millis(7000));
        assert_eq!(hosts.first().context.timeouts.connect, Duration::from_millis(100), "the host's own, once picked");
    }

    #[test]
    fn without_tables_every_connection_goes_to_the_default_host() {
        let hosts = hosts("");
        assert!(!hosts.several());
        assert_eq!(hosts.pick(Some("anything")).spec.id, config::DEFAULT_HOST);
    }
}
