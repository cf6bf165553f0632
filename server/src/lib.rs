//! stompbox-server: the broker as a library. The `stompbox` binary is a thin wrapper over
//! [`bind`] and [`serve_hosts`], keeping each virtual host's [`Broker`] and its [`Auth`] to
//! reload them on SIGHUP ([`auth::reload`]); [`run`] serves without reloading; tests and the
//! Python module embed it through [`bind`] and [`serve`].
//!
//! Module map:
//! - [`config`]: the TOML configuration: listeners, `[auth]`, access rules, and the engine's
//!   sections.
//! - [`auth`]: the users, groups and access rules put in force, and [`auth::reload`] for SIGHUP.
//! - [`users_file`]: storing a hashed password in `users.properties` (`stompbox passwd`).
//! - [`create`]: `stompbox create DIR`, an instance for production: configuration, users,
//!   certificate, folders, systemd unit.
//! - [`listener`]: bind (`tcp`, `tls`, `ws`, `wss`, `http`, `https`), accept with a connection
//!   cap, spawn one task per connection, which runs its kind's handshake (TLS, the WebSocket
//!   upgrade) or serves HTTP.
//! - `console`: what `http` and `https` listeners serve: the management API, Prometheus metrics,
//!   the console and chat pages, and STOMP over WebSocket at `/stomp`.
//! - `connection`: the per-connection task (frames in, replies and outbox out, heart-beats).
//! - `login`: checking credentials off the runtime, slowed per address after failures.
//! - `per_address`: open connections per IP address.
//! - `transport`: the seam TCP, TLS and WebSocket streams plug into (a WebSocket seen as a byte
//!   stream).
//! - `cluster`: the bridge that shares topics with other nodes through NATS (`[cluster]`).
//! - [`virtual_host`]: `[[virtual_host]]`: one broker per host, picked by CONNECT's `host`
//!   header ([`serve_hosts`] serves them all behind the same listeners).
//! - [`store`]: the message store on disk (an append-only segmented journal), behind the
//!   engine's store `Backend`.
//!
//! Shutdown: when the `shutdown` future completes, listeners stop accepting, every connection
//! gets an ERROR saying the broker is shutting down and is closed, and [`serve`] returns once
//! they are gone (or after a grace period); then the store writes what is waiting and closes.

pub mod auth;
mod cluster;
pub mod config;
mod connection;
mod console;
pub mod create;
pub mod listener;
mod login;
mod per_address;
pub mod store;
mod transport;
pub mod users_file;
pub mod virtual_host;

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use auth::Auth;
pub use config::{Config, ConfigError};
pub use listener::Bound;
pub use stompbox_core::broker::Broker;
use stompbox_core::broker::BrokerConfig;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};
use virtual_host::config::{HostSpec, DEFAULT_HOST};
use virtual_host::{Host, HostBroker, Listening, VirtualHosts};

/// How long shutdown waits for connections to finish closing.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Binds the configured listeners (so a caller can learn ephemeral ports before serving).
pub async fn bind(config: &Config) -> io::Result<Bound> {
    listener::bind(&config.listeners()).await
}

/// Serves bound listeners until `shutdown` completes, then closes every connection. Reads the
/// users, groups and access rules `config` names first, and opens every virtual host's broker.
pub async fn serve(config: Config, bound: Bound, shutdown: impl Future<Output = ()>) -> io::Result<()> {
    let hosts = open_all(&config)?;
    serve_hosts(hosts, config, bound, shutdown).await
}

/// The users, groups and access rules in force in each of `hosts` (what SIGHUP reloads).
pub fn load_auths(hosts: &[HostSpec]) -> Result<Vec<Auth>, ConfigError> {
    hosts.iter().map(|host| Auth::load(&host.config)).collect()
}

/// Opens the broker of each of `hosts`, under its [`Auth`] (from [`load_auths`]).
pub fn open_hosts(hosts: Vec<HostSpec>, auths: &[Auth]) -> io::Result<Vec<HostBroker>> {
    hosts.into_iter().zip(auths).map(|(host, auth)| HostBroker::open(host, auth)).collect()
}

/// Every virtual host of `config` with its broker opened.
fn open_all(config: &Config) -> io::Result<Vec<HostBroker>> {
    let hosts = virtual_host::config::hosts(config);
    let auths = load_auths(&hosts).map_err(io::Error::other)?;
    open_hosts(hosts, &auths)
}

/// The broker of `engine` (the engine's configuration, from [`Auth::broker_config`]): with
/// `config.data_dir`, one that stores persistent messages there and has read back what it holds;
/// without, one that keeps everything in memory (and says so).
pub fn open_broker(config: &Config, engine: BrokerConfig) -> io::Result<Broker> {
    let Some(dir) = &config.data_dir else {
        info!("persistence is off (no data_dir): persistent messages are kept in memory only");
        return Ok(Broker::new(engine));
    };
    let started = Instant::now();
    std::fs::create_dir_all(dir)?;
    let disk = store::DiskStore::open(dir)?;
    let broker = Broker::with_store(engine, Box::new(disk)).map_err(io::Error::other)?;
    let snapshot = broker.snapshot();
    let queues = snapshot.destinations.iter().filter(|d| d.kind != "topic").count();
    let messages: u64 = snapshot.destinations.iter().map(|d| d.depth).sum();
    info!(dir = %dir.display(), queues, messages, took = ?started.elapsed(), "message store opened");
    Ok(broker)
}

/// Like [`serve`], with a broker the caller made from `config` (with
/// [`Auth::broker_config`] or `config.broker_config()`) and keeps a handle to, for its counters
/// or to reload its access rules (tests, an embedding application): served as the one host.
pub async fn serve_broker(
    broker: Broker,
    config: Config,
    bound: Bound,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let spec = HostSpec { id: DEFAULT_HOST.to_owned(), host_names: Vec::new(), config: config.clone() };
    serve_hosts(vec![HostBroker { spec, broker }], config, bound, shutdown).await
}

/// Like [`serve`], with the virtual hosts' brokers the caller opened (the first one the
/// default); `config` is the top-level configuration (listeners, console, connection caps).
pub async fn serve_hosts(
    hosts: Vec<HostBroker>,
    config: Config,
    bound: Bound,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let hosts = Arc::new(start_hosts(hosts, &config));
    let permits = Arc::new(Semaphore::new(config.limits.max_connections));
    let cancel = CancellationToken::new();
    let tracker = TaskTracker::new();
    let console = console::Console::new(&config, hosts.clone(), permits.clone(), cancel.clone(), tracker.clone());
    let console = console::app(console);
    for host in hosts.all() {
        if let Some(cluster) = &host.spec.config.cluster {
            cluster::start(cluster, &host.context.broker, cancel.clone(), &tracker).await?;
        }
        tracker.spawn(delete_unused_destinations(host.context.broker.clone(), cancel.clone()));
    }
    for listener in bound.listeners {
        tracker.spawn(listener::accept_loop(
            listener,
            hosts.clone(),
            console.clone(),
            permits.clone(),
            cancel.clone(),
            tracker.clone(),
        ));
    }
    shutdown.await;
    info!("shutting down");
    cancel.cancel();
    tracker.close();
    if tokio::time::timeout(SHUTDOWN_GRACE, tracker.wait()).await.is_err() {
        warn!("some connections did not close within {SHUTDOWN_GRACE:?}");
    }
    for store in hosts.all().iter().filter_map(|host| host.context.broker.store().cloned()) {
        // Joins the writer thread: off the runtime's workers.
        let _ = tokio::task::spawn_blocking(move || store.close()).await;
    }
    Ok(())
}

/// The running hosts: each host's broker with the connection settings of its configuration,
/// sharing `config`'s login checks and connections per address.
fn start_hosts(hosts: Vec<HostBroker>, config: &Config) -> VirtualHosts {
    let limits = &config.limits;
    let logins = Arc::new(login::Logins::new(
        concurrent_authentications(),
        Duration::from_millis(limits.failed_login_delay_ms),
        Duration::from_millis(limits.failed_login_max_delay_ms),
    ));
    let start = |HostBroker { spec, broker }: HostBroker| {
        let context = context(broker, &spec.config, logins.clone());
        Host { spec, context: Arc::new(context) }
    };
    let listening = Listening {
        connect: Duration::from_millis(limits.connect_timeout_ms),
        limits: limits.frame(),
        per_address: Arc::new(per_address::PerAddress::new(limits.max_connections_per_address)),
    };
    VirtualHosts::new(hosts.into_iter().map(start).collect(), listening)
}

/// What every connection of `broker` shares, as its host's `config` sets it.
fn context(broker: Broker, config: &Config, logins: Arc<login::Logins>) -> connection::Context {
    let limits = &config.limits;
    connection::Context {
        broker,
        limits: limits.frame(),
        timeouts: connection::Timeouts {
            connect: Duration::from_millis(limits.connect_timeout_ms),
            error_linger: Duration::from_millis(limits.error_linger_ms),
            write: Duration::from_millis(limits.write_timeout_ms),
            heartbeat_grace: config.heartbeat.grace_factor,
            frame: Duration::from_millis(limits.frame_timeout_ms),
            queue_block: Duration::from_millis(config.queues.block_timeout_ms),
        },
        logins,
    }
}

/// Deletes unused topics and queues now and then (twice per `limits.auto_delete_after_ms`, or
/// the queues' own grace if shorter), until `cancel`.
async fn delete_unused_destinations(broker: Broker, cancel: CancellationToken) {
    let config = broker.config();
    let grace = config.topics_auto_delete_after().min(config.queues_auto_delete_after());
    let mut ticks = tokio::time::interval((grace / 2).max(Duration::from_millis(100)));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            _ = ticks.tick() => {
                let deleted = broker.delete_unused_destinations();
                if deleted > 0 {
                    tracing::debug!(deleted, "deleted unused destinations");
                }
            }
        }
    }
}

/// Password checks run at once: one per core (at least two), so hashing never takes more than
/// the machine has while connections keep being served.
fn concurrent_authentications() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().max(2))
}

/// Binds and serves until `shutdown` completes.
pub async fn run(config: Config, shutdown: impl Future<Output = ()>) -> io::Result<()> {
    // The stores are read back before the listeners open: once the broker says it is listening,
    // it is ready.
    let hosts = open_all(&config)?;
    let bound = bind(&config).await?;
    serve_hosts(hosts, config, bound, shutdown).await
}
