//! The web console of `http` and `https` listeners: the management API (JSON), Prometheus
//! metrics, the console and chat pages, and STOMP over WebSocket at `/stomp`.
//!
//! [`app`] is the axum `Router` every `http` and `https` connection is served with
//! (`listener::http`); tests call it with `oneshot`, without a socket. Handlers are thin: they
//! check who is asking, call a data function (`view`, or the broker's own methods) and encode
//! the answer. Nothing is counted per message for the console: lists and metrics are read from
//! the broker when asked for.
//!
//! With several virtual hosts, `?host=ID` picks the host a request is about (default: the
//! first), `/api/broker` lists them, and `/metrics` labels every series with its `host`. Who may
//! use the console is the first host's access rules' answer (not each host's own).
//!
//! Who may do what: a request carries HTTP basic credentials (scripts) or the session cookie a
//! console login set (the page); with neither it is an anonymous login. Credentials are checked
//! against the broker's users, and the broker's access rules decide: `monitor` (or `admin`) to
//! read, `admin` to act. Without `[auth]` (guest mode) only loopback clients are served at all.
//! Requests from another site's pages are refused.
//!
//! - `caller`: who is asking, and whether they may (the order of the checks is there);
//! - `origin`: whether a request comes from another site's page;
//! - `sessions`: console logins and their cookie;
//! - `api`: the JSON API's handlers, `error`: how they refuse; `view`: the data they answer with;
//! - `metrics`: `/metrics`, a collector reading the broker at scrape time;
//! - `assets`: the console and chat pages, embedded in the binary;
//! - `stomp`: `/stomp`, the WebSocket upgrade into a STOMP session.

mod api;
mod assets;
mod caller;
mod error;
mod metrics;
mod origin;
mod sessions;
mod stomp;
mod view;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::response::Redirect;
use axum::routing::{delete, get, post};
use axum::Router;
use prometheus_client::registry::Registry;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use self::sessions::Sessions;
use crate::config::Config;
use crate::virtual_host::VirtualHosts;

/// The largest request body the console reads (a login).
const MAX_BODY_BYTES: usize = 16 * 1024;

/// What the console's handlers share (axum state; cheap to clone).
#[derive(Debug, Clone)]
pub(crate) struct Console {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    /// Every host (the first one's users and access rules say who may use the console): what requests ask about, and what `/stomp` sessions are served with.
    hosts: Arc<VirtualHosts>,
    /// Where `/stomp` sessions take their connection permit and run.
    stomp: stomp::Spawner,
    sessions: Sessions,
    metrics: Registry,
    /// No `[auth]`: only loopback clients are served.
    guest_mode: bool,
    max_list_items: usize,
}

impl Console {
    /// The console of `hosts`, configured by `config`; `/stomp` sessions share the listeners'
    /// connection `permits` and end with the rest on `cancel`.
    pub(crate) fn new(
        config: &Config,
        hosts: Arc<VirtualHosts>,
        permits: Arc<Semaphore>,
        cancel: CancellationToken,
        tracker: TaskTracker,
    ) -> Console {
        let settings = &config.console;
        Console {
            shared: Arc::new(Shared {
                metrics: metrics::registry(&hosts, settings.metrics_max_destinations),
                hosts,
                stomp: stomp::Spawner { permits, cancel, tracker },
                sessions: Sessions::new(Duration::from_millis(settings.session_idle_ms), settings.max_sessions),
                guest_mode: config.auth.is_none(),
                max_list_items: settings.max_list_items,
            }),
        }
    }
}

/// The console's routes.
pub(crate) fn app(console: Console) -> Router {
    Router::new()
        .route("/", get(|| async { Redirect::to("/console/") }))
        .route("/console", get(|| async { Redirect::to("/console/") }))
        .route("/chat", get(|| async { Redirect::to("/chat/") }))
        .route("/api/whoami", get(api::whoami))
        .route("/api/login", post(api::login))
        .route("/api/logout", post(api::logout))
        .route("/api/broker", get(api::broker))
        .route("/api/connections", get(api::connections))
        .route("/api/connections/{id}", get(api::connection).delete(api::close_connection))
        .route("/api/destinations", get(api::destinations))
        .route("/api/queues/{name}/purge", post(api::purge_queue))
        .route("/api/queues/{name}", delete(api::delete_queue))
        .route("/metrics", get(api::metrics))
        .route("/stomp", get(stomp::upgrade))
        .fallback(assets::serve)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(console)
}

#[cfg(test)]
mod tests;
