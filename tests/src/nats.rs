//! A real NATS server for the cluster tests: Debian's `nats-server` binary (which `scripts/test`
//! installs) on a free loopback port with JetStream (its store in a fresh directory), stopped
//! and started again on the same port and store at will.

use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};

use tokio::net::TcpStream;
use tokio::time::{sleep, Instant};

use stompbox_core::broker::{ClusterSnapshot, Snapshot};
use stompbox_server::config::ClusterConfig;

use crate::{start_with, until, DataDir, TestBroker, TIMEOUT};

/// The binary, on `PATH` (Debian installs it in `/usr/sbin`).
const BINARY: &str = "nats-server";

/// A `nats-server` process listening on `127.0.0.1`. Dropping it kills the process.
#[derive(Debug)]
pub struct NatsServer {
    /// Where it listens.
    pub addr: SocketAddr,
    child: Option<Child>,
    store: DataDir,
}

impl NatsServer {
    /// Starts one on a free port (found by binding `127.0.0.1:0`: not every version takes
    /// `-p -1`) and waits until it accepts connections.
    pub async fn start() -> NatsServer {
        let addr = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free loopback port");
        let mut server = NatsServer { addr, child: None, store: DataDir::new() };
        server.restart().await;
        server
    }

    /// `nats://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("nats://{}", self.addr)
    }

    /// Kills the process and waits for it to end.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Freezes the process (`SIGSTOP`): connections stay open, nothing is read from them.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// Lets a paused process go on (`SIGCONT`).
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let child = self.child.as_ref().expect("a running nats-server");
        let status = Command::new("kill").args([signal, &child.id().to_string()]).status().expect("kill runs");
        assert!(status.success(), "kill {signal} failed");
    }

    /// Starts the process (again) on the same port and waits until it accepts connections.
    pub async fn restart(&mut self) {
        self.stop();
        let store = self.store.path().to_str().expect("a UTF-8 temporary path");
        let child = Command::new(BINARY)
            .args(["-a", "127.0.0.1", "-p", &self.addr.port().to_string(), "-js", "-sd", store])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {BINARY} (scripts/test installs Debian's package): {e}"));
        self.child = Some(child);
        let deadline = Instant::now() + TIMEOUT;
        while TcpStream::connect(self.addr).await.is_err() {
            assert!(Instant::now() < deadline, "{BINARY} did not listen on {} in time", self.addr);
            sleep(std::time::Duration::from_millis(10)).await;
        }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A node named `name` of the cluster sharing `nats`, with `[cluster]` defaults otherwise.
pub async fn node(nats: &NatsServer, name: &str) -> TestBroker {
    node_with(nats, name, |_| {}).await
}

/// A node's bridge, as its snapshot shows it.
pub fn cluster(snapshot: &Snapshot) -> &ClusterSnapshot {
    snapshot.cluster.as_ref().expect("a node in cluster mode shows its bridge")
}

/// A node named `name` of the cluster sharing `nats` (subject prefix `test`), once connected to
/// it; `tweak` sets more of its `[cluster]`.
pub async fn node_with(nats: &NatsServer, name: &str, tweak: impl FnOnce(&mut ClusterConfig)) -> TestBroker {
    let broker = start_with(|config| {
        let mut cluster = ClusterConfig::new(vec![nats.url()]);
        cluster.node = Some(name.to_owned());
        cluster.subject_prefix = "test".to_owned();
        tweak(&mut cluster);
        config.cluster = Some(cluster);
    })
    .await;
    // The bridge is attached as the node starts serving, and connects in the background.
    until(&broker, "the node to connect to NATS", |s| s.cluster.as_ref().is_some_and(|c| c.state == "connected")).await;
    broker
}
