//! The `stompbox` command: parses arguments, loads the configuration, starts logging and runs
//! the broker library until SIGINT or SIGTERM.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use stompbox_server::Config;
use tracing::{error, info, warn};
use tracing_subscriber::EnvFilter;

/// mimalloc: the broker allocates a few small objects per message (headers, the shared message,
/// its encoded header block) on one thread and frees them on another; the bench profile showed
/// the system allocator at over a fifth of the broker's CPU.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// stompbox: a fast STOMP 1.0-1.2 message broker.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the broker (without a config: STOMP on 127.0.0.1:61613).
    Run {
        /// A TOML configuration file (see examples/stompbox.toml).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Listen on this address instead of the configured ones (repeatable).
        #[arg(long)]
        listen: Vec<SocketAddr>,
        /// Accept anonymous and guest logins on non-loopback addresses.
        #[arg(long)]
        allow_anonymous: bool,
        /// Store persistent messages in this directory (overrides the config's `data_dir`).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Log filter, e.g. `info` or `stompbox_server=debug` (default: RUST_LOG, else info).
        #[arg(long)]
        log: Option<String>,
    },
}

fn main() -> ExitCode {
    let Command::Run { config, listen, allow_anonymous, data_dir, log } = Cli::parse().command;
    let filter = match log {
        Some(filter) => EnvFilter::new(filter),
        None => EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let mut config = match config.as_deref().map(Config::load).transpose() {
        Ok(config) => config.unwrap_or_default(),
        Err(e) => {
            error!("{e}");
            return ExitCode::from(2);
        }
    };
    if !listen.is_empty() {
        config.listen_only_on(listen);
    }
    config.allow_anonymous |= allow_anonymous;
    if data_dir.is_some() {
        config.data_dir = data_dir;
    }
    if let Err(e) = config.validate() {
        error!("{e}");
        return ExitCode::from(2);
    }
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => info!("open-file limit: {limit}"),
        Err(e) => warn!("cannot raise the open-file limit: {e}"),
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            error!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    // The signals are watched before the store is read back and the listeners open, so a SIGTERM
    // sent as soon as the broker says it is listening shuts it down cleanly.
    let served = runtime.block_on(async {
        let shutdown = shutdown_signal();
        stompbox_server::run(config, shutdown).await
    });
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            error!("{e}");
            ExitCode::FAILURE
        }
    }
}

/// Watches SIGINT and SIGTERM from now on (call it inside the runtime); the future completes on
/// either.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{signal, SignalKind};
    let watch = |kind: SignalKind, name: &str| signal(kind).inspect_err(|e| warn!("cannot watch {name}: {e}")).ok();
    let (mut interrupt, mut terminate) =
        (watch(SignalKind::interrupt(), "SIGINT"), watch(SignalKind::terminate(), "SIGTERM"));
    async move {
        let received = |signal: Option<&mut tokio::signal::unix::Signal>| async move {
            match signal {
                Some(signal) => drop(signal.recv().await),
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = received(interrupt.as_mut()) => {}
            () = received(terminate.as_mut()) => {}
        }
    }
}
