//! The `stompbox` command: `run` parses arguments, loads the configuration, starts logging and
//! runs the broker library until SIGINT or SIGTERM, reloading users, groups and access rules on
//! SIGHUP; `passwd` stores a user's hashed password; `create` makes an instance for production
//! (the library's [`create`] module).

use std::io::{BufRead, IsTerminal};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use stompbox_server::create::{self, Instance};
use stompbox_server::virtual_host;
use stompbox_server::{auth, users_file, Auth, Broker, Config};
use tokio::signal::unix::{signal, Signal, SignalKind};
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
    /// Set a user's password in users.properties, stored as an argon2id hash (asks twice,
    /// without echo; reads two lines from standard input when it is not a terminal).
    Passwd {
        /// The user.
        user: String,
        /// The users file (created if missing; other lines are kept).
        #[arg(long, default_value = "users.properties")]
        file: PathBuf,
    },
    /// Make an instance for production in DIR, as `apollo create` does: etc/stompbox.toml with
    /// the tcp, tls, ws and wss listeners (61613, 61614, 61623, 61624), users and groups with an
    /// admin whose random password is printed once, a self-signed certificate in etc/tls/,
    /// data/ and log/, and a systemd unit. Never overwrites: DIR must not exist or be empty.
    Create {
        /// The instance's folder.
        dir: PathBuf,
        /// A host name or IP address for the certificate (repeatable; default: this machine's
        /// host name, localhost, 127.0.0.1 and ::1).
        #[arg(long = "host")]
        hosts: Vec<String>,
        /// The address every listener binds (0.0.0.0: every interface).
        #[arg(long, default_value_t = create::DEFAULT_BIND)]
        bind: IpAddr,
    },
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Run { config, listen, allow_anonymous, data_dir, log } => {
            run(config, listen, allow_anonymous, data_dir, log)
        }
        Command::Passwd { user, file } => passwd(&user, &file),
        Command::Create { dir, hosts, bind } => create_instance(dir, hosts, bind),
    }
}

/// `stompbox run`.
fn run(
    config_path: Option<PathBuf>,
    listen: Vec<SocketAddr>,
    allow_anonymous: bool,
    data_dir: Option<PathBuf>,
    log: Option<String>,
) -> ExitCode {
    let filter = match log {
        Some(filter) => EnvFilter::new(filter),
        None => EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let mut config = match config_path.as_deref().map(Config::load).transpose() {
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
    let hosts = virtual_host::config::hosts(&config);
    let auths = match stompbox_server::load_auths(&hosts) {
        Ok(auths) => auths,
        Err(e) => {
            error!("{e}");
            return ExitCode::from(2);
        }
    };
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
    let served = runtime.block_on(async {
        // Signals are watched before anything listens: a client (or a test) that reacts to
        // "listening on" may signal at once, and an unwatched SIGTERM or SIGHUP kills. The store
        // is read back before the listeners open: once the broker says it listens, it is ready.
        let shutdown = shutdown_signal();
        let hangups = hangups();
        let hosts = stompbox_server::open_hosts(hosts, &auths)?;
        let bound = stompbox_server::bind(&config).await?;
        if let (Some(path), Some(hangups)) = (config_path, hangups) {
            let opened = hosts.iter().map(|host| (host.spec.id.clone(), host.broker.clone()));
            let reloaded = opened.zip(auths).map(|((id, broker), auth)| (id, auth, broker)).collect();
            tokio::spawn(reload_on_hangup(hangups, path, reloaded));
        }
        stompbox_server::serve_hosts(hosts, config, bound, shutdown).await
    });
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            error!("{e}");
            ExitCode::FAILURE
        }
    }
}

/// On every SIGHUP, loads the configuration file again and puts its users, groups and access
/// rules in force in every virtual host; a bad file is logged and the rules in force stay.
async fn reload_on_hangup(mut hangups: Signal, path: PathBuf, hosts: Vec<(String, Auth, Broker)>) {
    let hosts = std::sync::Arc::new(hosts);
    while hangups.recv().await.is_some() {
        let (path, hosts) = (path.clone(), hosts.clone());
        // Reads files: off the runtime.
        match tokio::task::spawn_blocking(move || auth::reload(&path, &hosts)).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => error!("reload failed, the access rules in force stay: {e}"),
            Err(e) => error!("reload failed: {e}"),
        }
    }
}

/// `stompbox passwd USER [--file F]`.
fn passwd(user: &str, file: &Path) -> ExitCode {
    let stdin = std::io::stdin();
    let ask = |prompt: &str| -> std::io::Result<String> {
        if stdin.is_terminal() {
            return rpassword::prompt_password(prompt);
        }
        let mut line = String::new();
        stdin.lock().read_line(&mut line)?;
        Ok(line.trim_end_matches(['\n', '\r']).to_owned())
    };
    let password = match (ask(&format!("New password for {user}: ")), ask("Again: ")) {
        (Ok(first), Ok(again)) if first == again => first,
        (Ok(_), Ok(_)) => {
            eprintln!("stompbox passwd: the passwords differ; nothing changed");
            return ExitCode::FAILURE;
        }
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("stompbox passwd: cannot read the password: {e}");
            return ExitCode::FAILURE;
        }
    };
    match users_file::set_password(file, user, &password) {
        Ok(()) => {
            println!("stored a hashed password for {user} in {}", file.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("stompbox passwd: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `stompbox create DIR [--host NAME]... [--bind ADDR]`.
fn create_instance(dir: PathBuf, hosts: Vec<String>, bind: IpAddr) -> ExitCode {
    let binary = match std::env::current_exe() {
        Ok(binary) => binary,
        Err(e) => {
            eprintln!("stompbox create: cannot tell where this binary is: {e}");
            return ExitCode::FAILURE;
        }
    };
    let hosts = if hosts.is_empty() { create::default_hosts() } else { hosts };
    let instance = Instance { dir, hosts, bind, binary, user: create::current_user() };
    match create::create(&instance) {
        Ok(created) => {
            print!("{}", created.instructions());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("stompbox create: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Watches SIGHUP from now on.
fn hangups() -> Option<Signal> {
    signal(SignalKind::hangup()).map_err(|e| warn!("cannot watch SIGHUP: {e}")).ok()
}

/// Watches SIGINT and SIGTERM from now on; the future completes on either.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    let watched = [SignalKind::interrupt(), SignalKind::terminate()]
        .map(|kind| signal(kind).map_err(|e| warn!("cannot watch signal {}: {e}", kind.as_raw_value())).ok());
    async move {
        let [mut interrupt, mut terminate] = watched;
        tokio::select! {
            () = received(&mut interrupt) => {}
            () = received(&mut terminate) => {}
        }
    }
}

/// Completes when the watched signal arrives; never when it could not be watched.
async fn received(watched: &mut Option<Signal>) {
    match watched {
        Some(signal) => {
            signal.recv().await;
        }
        None => std::future::pending().await,
    }
}
