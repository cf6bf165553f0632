//! What the JSON API answers with, apart from HTTP (as NATS's `Connz` is apart from
//! `HandleConnz`): each function takes the broker and the request's options and returns plain
//! serde data, so the tests can compare it with the JSON the handler sent. Lists are copied from
//! the broker first; filtering, sorting and paging happen after, under no lock.

use serde::{Deserialize, Serialize};
use stompbox_core::broker::{
    Broker, ClosedConnection, ClusterSnapshot, ConnectionSnapshot, DestinationSnapshot, MemorySnapshot, StatsSnapshot,
};
use stompbox_core::store::StoreSnapshot;

/// The broker's version.
pub(crate) const VERSION: &str = env!("CARGO_PKG_VERSION");

/// `GET /api/broker`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Overview {
    /// The broker's version.
    pub(crate) version: &'static str,
    /// The virtual host these figures are of.
    pub(crate) host: String,
    /// Every virtual host's id, the default first.
    pub(crate) virtual_hosts: Vec<String>,
    /// When it started, ms since the epoch.
    pub(crate) started_at_ms: u64,
    /// How long it has run, in ms.
    pub(crate) uptime_ms: u64,
    /// Connections, messages, bytes, slow consumers and closes by reason.
    #[serde(flatten)]
    pub(crate) stats: StatsSnapshot,
    /// Bytes held for messages against the memory bound.
    pub(crate) memory: MemorySnapshot,
    /// The message store's figures (`null`: persistence is off).
    pub(crate) store: Option<StoreSnapshot>,
    /// The cluster bridge: whether NATS is reachable, what crossed it (`null`: a single node).
    pub(crate) cluster: Option<ClusterSnapshot>,
}

/// The figures of `broker`, virtual host `host` of `virtual_hosts`.
pub(crate) fn overview(broker: &Broker, host: String, virtual_hosts: Vec<String>) -> Overview {
    let now = broker.config().clock.now_ms();
    let started_at_ms = broker.started_at_ms();
    Overview {
        version: VERSION,
        host,
        virtual_hosts,
        started_at_ms,
        uptime_ms: now.saturating_sub(started_at_ms),
        stats: broker.stats(),
        memory: broker.memory_snapshot(),
        store: broker.store().map(|store| store.snapshot()),
        cluster: broker.cluster_snapshot(),
    }
}

/// A list's query options: `offset`, `limit`, `sort` (a field, or `-field` for descending),
/// and the filters `state` (connections) and `kind` (destinations).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListOptions {
    #[serde(default)]
    pub(crate) offset: usize,
    pub(crate) limit: Option<usize>,
    pub(crate) sort: Option<String>,
    /// Connections: `open` (the default) or `closed` (the ring of recently closed ones).
    pub(crate) state: Option<String>,
    /// Destinations: `topic` or `queue` (default: both).
    pub(crate) kind: Option<String>,
    /// The virtual host listed (default: the first).
    pub(crate) host: Option<String>,
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Page<T> {
    /// How many there are in all (after filters).
    pub(crate) total: usize,
    /// Where this page starts.
    pub(crate) offset: usize,
    /// The most a page holds.
    pub(crate) limit: usize,
    /// The page.
    pub(crate) items: Vec<T>,
}

/// `GET /api/connections`: open connections, or with `state=closed` the recently closed ones.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub(crate) enum Connections {
    /// Live connections.
    Open(Page<ConnectionSnapshot>),
    /// Closed connections with why they closed, oldest first.
    Closed(Page<ClosedConnection>),
}

/// A sort key's value.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Key<'a> {
    Number(u64),
    Text(Option<&'a str>),
}

type KeyOf<T> = for<'a> fn(&'a T) -> Key<'a>;

/// The fields connections sort by.
const CONNECTION_KEYS: &[(&str, KeyOf<ConnectionSnapshot>)] = &[
    ("id", |c| Key::Number(c.id)),
    ("since", |c| Key::Number(c.connected_since_ms)),
    ("user", |c| Key::Text(c.user.as_deref())),
    ("peer", |c| Key::Text(c.peer.as_deref())),
    ("listener", |c| Key::Text(Some(&c.listener))),
    ("messages_in", |c| Key::Number(c.messages_in)),
    ("messages_out", |c| Key::Number(c.messages_out)),
    ("bytes_in", |c| Key::Number(c.bytes_in)),
    ("bytes_out", |c| Key::Number(c.bytes_out)),
    ("subscriptions", |c| Key::Number(c.subscriptions.len() as u64)),
];

/// The fields destinations sort by.
const DESTINATION_KEYS: &[(&str, KeyOf<DestinationSnapshot>)] = &[
    ("destination", |d| Key::Text(Some(&d.destination))),
    ("kind", |d| Key::Text(Some(d.kind))),
    ("producers", |d| Key::Number(d.producers)),
    ("consumers", |d| Key::Number(d.consumers)),
    ("enqueued", |d| Key::Number(d.enqueued)),
    ("dequeued", |d| Key::Number(d.dequeued)),
    ("depth", |d| Key::Number(d.depth)),
    ("bytes", |d| Key::Number(d.bytes)),
    ("dropped", |d| Key::Number(d.dropped)),
    ("expired", |d| Key::Number(d.expired)),
];

/// The connections an API list asks for. `Err` says what is wrong with the options.
pub(crate) fn connections(broker: &Broker, options: &ListOptions, max_items: usize) -> Result<Connections, String> {
    if options.kind.is_some() {
        return Err("`kind` filters destinations, not connections".into());
    }
    match options.state.as_deref().unwrap_or("open") {
        "open" => {
            let mut rows = broker.connections();
            sort(&mut rows, options.sort.as_deref(), CONNECTION_KEYS)?;
            Ok(Connections::Open(page(rows, options, max_items)))
        }
        "closed" if options.sort.is_some() => Err("closed connections are listed in the order they closed".into()),
        "closed" => Ok(Connections::Closed(page(broker.closed_connections(), options, max_items))),
        other => Err(format!("unknown state {other:?}: expected open or closed")),
    }
}

/// The destinations an API list asks for. `Err` says what is wrong with the options.
pub(crate) fn destinations(
    broker: &Broker,
    options: &ListOptions,
    max_items: usize,
) -> Result<Page<DestinationSnapshot>, String> {
    if options.state.is_some() {
        return Err("`state` filters connections, not destinations".into());
    }
    let mut rows = broker.destinations();
    match options.kind.as_deref() {
        None => {}
        Some(kind @ ("topic" | "queue" | "dsub")) => rows.retain(|d| d.kind == kind),
        Some(other) => return Err(format!("unknown kind {other:?}: expected topic, queue or dsub")),
    }
    sort(&mut rows, options.sort.as_deref(), DESTINATION_KEYS)?;
    Ok(page(rows, options, max_items))
}

/// Sorts by `sort` (`field` or `-field`), keeping the list's own order among equals.
fn sort<T>(rows: &mut [T], sort: Option<&str>, keys: &[(&str, KeyOf<T>)]) -> Result<(), String> {
    let Some(sort) = sort else { return Ok(()) };
    let (field, descending) = match sort.strip_prefix('-') {
        Some(field) => (field, true),
        None => (sort, false),
    };
    let Some((_, key)) = keys.iter().find(|(name, _)| *name == field) else {
        let names: Vec<&str> = keys.iter().map(|(name, _)| *name).collect();
        return Err(format!("cannot sort by {field:?}: sort by {} (prefix - for descending)", names.join(", ")));
    };
    rows.sort_by(|a, b| {
        let order = key(a).cmp(&key(b));
        if descending {
            order.reverse()
        } else {
            order
        }
    });
    Ok(())
}

fn page<T>(rows: Vec<T>, options: &ListOptions, max_items: usize) -> Page<T> {
    let limit = options.limit.unwrap_or(max_items).min(max_items);
    let total = rows.len();
    let items = rows.into_iter().skip(options.offset).take(limit).collect();
    Page { total, offset: options.offset, limit, items }
}
