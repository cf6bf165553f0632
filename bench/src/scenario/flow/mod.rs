//! Producers and consumers over one destination: the `fanout`, `queue`, `latency` and
//! `persistent` scenarios.
//!
//! Every SEND carries `bench_prod` (producer index), `bench_seq` (its sequence number) and
//! `bench_ts` (send time, [`now_ns`]). Consumers track sequence numbers for loss and duplicates
//! and record `now - bench_ts` in a histogram. Header names use `_`, not `-`, because ActiveMQ
//! maps headers to JMS properties, whose names must be Java identifiers.
//!
//! Subscribers connect and subscribe a few hundred at a time (a room has thousands), and
//! producing starts once every subscription is confirmed. With `--pid`, the broker's RSS is read
//! before and after subscribing (RSS per subscriber) and its CPU time while producing and
//! draining (CPU per million deliveries).
//!
//! Producers encode up to `--batch` SEND frames into one buffer per write. They stop when the
//! clock or `--count` says so, and pause while `--window` messages are in flight (sent but not
//! yet delivered to every subscriber of a topic, or to any consumer of a queue), so broker
//! buffers stay bounded and the measured rate is one the broker sustains. Consumers read with a
//! large buffer and write all ACKs of one read in one write.
//!
//! - `spec`: what a run does, per scenario.
//! - `send`: the SEND frame a producer restamps per message.
//! - `producer`: the producer loop and the reader of its replies.
//! - `consumer`: the consumer loop; `scan`: a MESSAGE's numbers read in place.
//! - `churn`: a subscription that comes and goes (`room --churn`).
//! - here: the wiring: subscribe, produce, drain, report.
//!
//! [`now_ns`]: crate::stats::now_ns

mod churn;
mod consumer;
mod producer;
mod scan;
mod send;
mod spec;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use stompbox_core::Version;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

pub(crate) use self::spec::Spec;
use super::counters::{wait_for_deliveries, Counters};
use super::{delta, open_files_for, quotas, Ctx};
use crate::client::{Conn, Target};
use crate::progress::Progress;
use crate::report::Report;
use crate::stats::{now_ns, Tracker};
use crate::{proc, BenchError, Result};
use consumer::consume;
use producer::Producer;

/// Subscribers connecting and subscribing at once.
const CONNECT_CONCURRENCY: usize = 256;

/// Header: index of the producer that sent the message.
pub const PRODUCER_HEADER: &str = "bench_prod";
/// Header: the producer's sequence number, from 0.
pub const SEQ_HEADER: &str = "bench_seq";
/// Header: send time in nanoseconds on this process's monotonic clock.
pub const TIMESTAMP_HEADER: &str = "bench_ts";

/// Runs one flow scenario.
pub(crate) async fn run(ctx: &Ctx, spec: Spec) -> Result<Report> {
    if spec.producers == 0 || spec.consumers == 0 {
        return Err(BenchError::Options("at least one producer and one consumer are needed".into()));
    }
    open_files_for((spec.consumers + spec.stuck + spec.producers + 1) as u64)?;
    let targets = ctx.targets()?;
    // Connections go to the brokers in turn, consumers first.
    let mut turn = targets.iter().cycle();
    let mut target = move || turn.next().expect("at least one broker");
    let spec = Arc::new(spec);
    let counters = Arc::new(Counters::new(spec.fanout, spec.producers, spec.consumers));
    let broker = ctx.cli.pid;
    let rss_before = broker.and_then(proc::rss_kib);

    // Subscribe first, each confirmed by a RECEIPT, so no message is produced before every
    // subscription exists.
    let done = CancellationToken::new();
    let (mut consumers, version, server) = subscribe_all(&mut target, &spec, &counters, &done).await?;
    // Stuck subscribers: subscribed, then never read until the run ends.
    let mut stuck = Vec::with_capacity(spec.stuck);
    for index in 0..spec.stuck {
        let mut conn = Conn::connect(target()).await?;
        let id = format!("stuck{index}");
        conn.subscribe(&spec.destination, &id, spec.ack, spec.prefetch, spec.selector.as_deref(), false).await?;
        stuck.push(conn);
    }
    let rss_subscribed = broker.and_then(proc::rss_kib);
    let mut conns = Vec::with_capacity(spec.producers);
    for _ in 0..spec.producers {
        conns.push(Conn::connect(target()).await?);
    }
    // Stops with the producers (which may stop at `--count`, before the clock).
    let churn_stop = ctx.stop.child_token();
    let churn = (spec.churn > 0)
        .then(|| tokio::spawn(churn::run(churn_stop.clone(), target().clone(), spec.clone(), counters.clone())));

    tokio::time::sleep(ctx.cli.settle).await;
    let broker_cpu = broker.and_then(proc::cpu_seconds);
    let quotas = quotas(ctx.cli.count, spec.producers);
    let start = Instant::now();
    let start_ns = now_ns();
    ctx.start_clock();
    let progress = {
        let counters = counters.clone();
        Progress::start(ctx.progress_enabled(), spec.scenario, move || {
            format!("sent {}  delivered {}", counters.sent.load(Ordering::Relaxed), counters.total_delivered())
        })
    };
    let mut producers = JoinSet::new();
    for (index, conn) in conns.into_iter().enumerate() {
        let producer = Producer::new(ctx.clone(), spec.clone(), counters.clone(), index, conn, quotas[index], start);
        producers.spawn(producer.run());
    }
    while let Some(joined) = producers.join_next().await {
        if let Err(e) = joined {
            counters.error(format!("producer task failed: {e}"));
        }
    }
    let send_seconds = start.elapsed().as_secs_f64();
    churn_stop.cancel();
    let churned = match churn {
        Some(churn) => churn.await.ok(),
        None => None,
    };
    wait_for_deliveries(ctx, &counters).await;
    let broker_cpu = delta(broker_cpu, broker.and_then(proc::cpu_seconds));
    done.cancel();
    drop(stuck);

    let mut trackers = Vec::new();
    while let Some(joined) = consumers.join_next().await {
        match joined {
            Ok(tracker) => trackers.push(tracker),
            Err(e) => counters.error(format!("consumer task failed: {e}")),
        }
    }
    progress.finish();
    let delivered = counters.total_delivered();

    Ok(Report {
        scenario: spec.scenario.to_owned(),
        stomp_version: version.to_string(),
        producers: spec.producers,
        consumers: spec.consumers,
        rate: spec.rate,
        window: Some(spec.load.window),
        receipts: spec.persistent.map(|_| counters.receipts.iter().map(|r| r.load(Ordering::SeqCst)).sum()),
        note: match (spec.persistent, spec.stuck) {
            (Some(_), _) => Some("persistent:true with a receipt per SEND".to_owned()),
            (None, 0) => None,
            (None, stuck) => Some(format!("{stuck} more subscriber(s) never read")),
        },
        server,
        broker_cpu_seconds: broker_cpu,
        broker_cpu_seconds_per_million: broker_cpu
            .filter(|_| delivered > 0)
            .map(|cpu| (cpu / delivered as f64 * 1e6 * 1000.0).round() / 1000.0),
        rss_per_subscriber_kib: rss_before.zip(rss_subscribed).map(|(before, after)| {
            let per = (after as f64 - before as f64) / (spec.consumers + spec.stuck) as f64;
            (per * 100.0).round() / 100.0
        }),
        churned,
        ..counters.report(start_ns, send_seconds, &trackers)
    })
}

/// Connects every subscriber (to the brokers `target` gives in turn) and subscribes it,
/// [`CONNECT_CONCURRENCY`] at a time, each confirmed by its RECEIPT; starts its consumer. Returns
/// the consumers, the lowest STOMP version negotiated and the broker's `server` header.
async fn subscribe_all<'a>(
    target: &mut impl FnMut() -> &'a Target,
    spec: &Arc<Spec>,
    counters: &Arc<Counters>,
    done: &CancellationToken,
) -> Result<(JoinSet<Tracker>, Version, String)> {
    let permits = Arc::new(Semaphore::new(CONNECT_CONCURRENCY));
    let mut subscribing = JoinSet::new();
    for index in 0..spec.consumers {
        let (target, spec, permits) = (target().clone(), spec.clone(), permits.clone());
        subscribing.spawn(async move {
            let _permit = permits.acquire_owned().await.expect("never closed");
            let mut conn = Conn::connect(&target).await?;
            // The consumers of a durable subscription all name it.
            let id = spec.durable.clone().unwrap_or_else(|| format!("s{index}"));
            let durable = spec.durable.is_some();
            conn.subscribe(&spec.destination, &id, spec.ack, spec.prefetch, spec.selector.as_deref(), durable).await?;
            Ok::<_, BenchError>((index, conn))
        });
    }
    let mut consumers = JoinSet::new();
    let mut version = Version::V1_2;
    let mut server = String::new();
    while let Some(joined) = subscribing.join_next().await {
        let (index, conn) = joined.map_err(|e| BenchError::Options(format!("subscriber task failed: {e}")))??;
        version = version.min(conn.version);
        server.clone_from(&conn.server);
        consumers.spawn(consume(spec.clone(), counters.clone(), index, conn, done.clone()));
    }
    Ok((consumers, version, server))
}
