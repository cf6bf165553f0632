//! stompbox-bench: a STOMP load generator that runs the same scenarios against any broker
//! (stompbox, ActiveMQ, RabbitMQ) and reports throughput, loss, duplicates and latency.
//!
//! Module map:
//! - [`cli`]: the command line (clap): connection options shared by every scenario, one
//!   subcommand per scenario.
//! - [`client`]: a minimal STOMP client over [`stompbox_core::codec::StompCodec`]: CONNECT with
//!   1.2/1.1 negotiation, SUBSCRIBE that waits for its RECEIPT, ACK headers per version.
//! - [`transport`]: TCP, TLS, WebSocket and WebSocket over TLS, picked by the URL's scheme.
//! - [`scenario`]: the scenarios. `flow` drives producers and consumers (fan-out, queue, latency,
//!   persistent); `connections` opens idle connections; `relay` is the plain-TCP ceiling.
//! - [`stats`]: sequence tracking (loss, duplicates) and latency histograms.
//! - [`report`]: the result of one scenario, printed as a human summary or one JSON object.
//! - [`proc`]: RSS and CPU time of a process, from `/proc`.
//!
//! The binary is thin: it parses [`cli::Cli`] and calls [`run`].

pub mod cli;
pub mod client;
pub mod proc;
mod progress;
pub mod report;
pub mod scenario;
pub mod stats;
pub mod transport;

use std::io;

use stompbox_core::codec::CodecError;
use thiserror::Error;

pub use cli::Cli;
pub use report::Report;

/// Why a scenario could not run.
#[derive(Debug, Error)]
pub enum BenchError {
    /// The `--url` is not `tcp://`, `ssl://`, `tls://`, `ws://` or `wss://` `host:port`.
    #[error("invalid url {0:?}: expected tcp://, ssl://, tls://, ws:// or wss:// host:port")]
    Url(String),
    /// A socket operation failed.
    #[error("i/o error: {0}")]
    Io(#[from] io::Error),
    /// The broker sent bytes that are not STOMP.
    #[error("codec error: {0}")]
    Codec(#[from] CodecError),
    /// The broker answered with an ERROR or something unexpected.
    #[error("broker refused: {0}")]
    Broker(String),
    /// The broker did not answer in time.
    #[error("timed out waiting for {0}")]
    Timeout(&'static str),
    /// The options do not make sense together.
    #[error("invalid options: {0}")]
    Options(String),
}

/// What every fallible function of this crate returns.
pub type Result<T> = std::result::Result<T, BenchError>;

/// Runs the scenario the command line names and returns its report (the caller prints it).
pub async fn run(cli: &Cli) -> Result<Report> {
    scenario::run(cli).await
}
