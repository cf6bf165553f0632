//! stompbox-server: the broker as a library. The `stompbox` binary is a thin wrapper over
//! [`run`]; tests and the Python module embed it through [`bind`] and [`serve`].
//!
//! Module map:
//! - [`config`]: the TOML configuration: listeners, and the engine's sections.
//! - [`listener`]: bind, accept with a connection cap, spawn one task per connection, which runs
//!   its kind's handshake.
//! - `connection`: the per-connection task (frames in, replies and outbox out, heart-beats,
//!   authentication off the runtime).
//! - `transport`: the seam TCP (and later TLS and WebSocket) streams plug into.
//! - [`store`]: the message store on disk (an append-only segmented journal), behind the
//!   engine's store `Backend`.
//!
//! Shutdown: when the `shutdown` future completes, listeners stop accepting, every connection
//! gets an ERROR saying the broker is shutting down and is closed, and [`serve`] returns once
//! they are gone (or after a grace period); then the store writes what is waiting and closes.

pub mod config;
mod connection;
pub mod listener;
pub mod store;
mod transport;

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use config::{Config, ConfigError};
pub use listener::Bound;
pub use stompbox_core::broker::Broker;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

/// How long shutdown waits for connections to finish closing.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Binds the configured listeners (so a caller can learn ephemeral ports before serving).
pub async fn bind(config: &Config) -> io::Result<Bound> {
    listener::bind(&config.listeners()).await
}

/// Serves bound listeners until `shutdown` completes, then closes every connection.
pub async fn serve(config: Config, bound: Bound, shutdown: impl Future<Output = ()>) -> io::Result<()> {
    serve_broker(open_broker(&config)?, config, bound, shutdown).await
}

/// The broker `config` asks for: with `data_dir`, one that stores persistent messages there and
/// has read back what it holds; without, one that keeps everything in memory (and says so).
pub fn open_broker(config: &Config) -> io::Result<Broker> {
    let Some(dir) = &config.data_dir else {
        info!("persistence is off (no data_dir): persistent messages are kept in memory only");
        return Ok(Broker::new(config.broker_config()));
    };
    let started = Instant::now();
    std::fs::create_dir_all(dir)?;
    let disk = store::DiskStore::open(dir)?;
    let broker = Broker::with_store(config.broker_config(), Box::new(disk)).map_err(io::Error::other)?;
    let snapshot = broker.snapshot();
    let queues = snapshot.destinations.iter().filter(|d| d.kind != "topic").count();
    let messages: u64 = snapshot.destinations.iter().map(|d| d.depth).sum();
    info!(dir = %dir.display(), queues, messages, took = ?started.elapsed(), "message store opened");
    Ok(broker)
}

/// Like [`serve`], with a broker the caller made from `config.broker_config()` and keeps a
/// handle to, for its counters (tests, an embedding application).
pub async fn serve_broker(
    broker: Broker,
    config: Config,
    bound: Bound,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let limits = &config.limits;
    let context = Arc::new(connection::Context {
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
        authentications: Arc::new(Semaphore::new(concurrent_authentications())),
    });
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let cancel = CancellationToken::new();
    let tracker = TaskTracker::new();
    for listener in bound.listeners {
        tracker.spawn(listener::accept_loop(
            listener,
            context.clone(),
            permits.clone(),
            cancel.clone(),
            tracker.clone(),
        ));
    }
    tracker.spawn(delete_unused_queues(context.broker.clone(), cancel.clone()));
    shutdown.await;
    info!("shutting down");
    cancel.cancel();
    tracker.close();
    if tokio::time::timeout(SHUTDOWN_GRACE, tracker.wait()).await.is_err() {
        warn!("some connections did not close within {SHUTDOWN_GRACE:?}");
    }
    if let Some(store) = context.broker.store().cloned() {
        // Joins the writer thread: off the runtime's workers.
        let _ = tokio::task::spawn_blocking(move || store.close()).await;
    }
    Ok(())
}

/// Deletes unused queues now and then (twice per `queues.delete_unused_after_ms`), until
/// `cancel`.
async fn delete_unused_queues(broker: Broker, cancel: CancellationToken) {
    let grace = Duration::from_millis(broker.config().queues.delete_unused_after_ms);
    let mut ticks = tokio::time::interval((grace / 2).max(Duration::from_millis(100)));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            _ = ticks.tick() => {
                let deleted = broker.delete_unused_queues();
                if deleted > 0 {
                    tracing::debug!(deleted, "deleted unused queues");
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
    // The store is read back before the listeners open: once the broker says it is listening,
    // it is ready (and watching for SIGTERM).
    let broker = open_broker(&config)?;
    let bound = bind(&config).await?;
    serve_broker(broker, config, bound, shutdown).await
}
