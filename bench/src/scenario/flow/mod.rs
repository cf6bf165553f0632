//! Producers and consumers over one destination: the `fanout`, `queue`, `latency` and
//! `persistent` scenarios.
//!
//! Every SEND carries `bench_prod` (producer index), `bench_seq` (its sequence number) and
//! `bench_ts` (send time, [`now_ns`]). Consumers track sequence numbers for loss and duplicates
//! and record `now - bench_ts` in a histogram. Header names use `_`, not `-`, because ActiveMQ
//! maps headers to JMS properties, whose names must be Java identifiers.
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
//! - `consumer`: the consumer loop.
//! - here: the wiring: subscribe, produce, drain, report.
//!
//! [`now_ns`]: crate::stats::now_ns

mod consumer;
mod producer;
mod send;
mod spec;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use stompbox_core::Version;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

pub(crate) use self::spec::Spec;
use super::counters::{wait_for_deliveries, Counters};
use super::{quotas, Ctx};
use crate::client::Conn;
use crate::progress::Progress;
use crate::report::Report;
use crate::stats::{histogram, now_ns};
use crate::{BenchError, Result};
use consumer::consume;
use producer::Producer;

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
    let target = ctx.target()?;
    let spec = Arc::new(spec);
    let counters = Arc::new(Counters::new(spec.fanout, spec.producers, spec.consumers));

    // Subscribe first, each confirmed by a RECEIPT, so no message is produced before every
    // subscription exists.
    let done = CancellationToken::new();
    let mut consumers = JoinSet::new();
    let mut version = Version::V1_2;
    let mut server = String::new();
    for index in 0..spec.consumers {
        let mut conn = Conn::connect(&target).await?;
        conn.subscribe(&spec.destination, &format!("s{index}"), spec.ack, spec.prefetch, spec.selector.as_deref())
            .await?;
        version = version.min(conn.version);
        server.clone_from(&conn.server);
        consumers.spawn(consume(spec.clone(), counters.clone(), index, conn, done.clone()));
    }
    // Stuck subscribers: subscribed, then never read until the run ends.
    let mut stuck = Vec::with_capacity(spec.stuck);
    for index in 0..spec.stuck {
        let mut conn = Conn::connect(&target).await?;
        conn.subscribe(&spec.destination, &format!("stuck{index}"), spec.ack, spec.prefetch, spec.selector.as_deref())
            .await?;
        stuck.push(conn);
    }
    let mut conns = Vec::with_capacity(spec.producers);
    for _ in 0..spec.producers {
        conns.push(Conn::connect(&target).await?);
    }

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
    wait_for_deliveries(ctx, &counters).await;
    done.cancel();
    drop(stuck);

    let mut trackers = Vec::new();
    let mut latency = histogram();
    while let Some(joined) = consumers.join_next().await {
        match joined {
            Ok(consumed) => {
                let _ = latency.add(&consumed.latency);
                trackers.push(consumed.tracker);
            }
            Err(e) => counters.error(format!("consumer task failed: {e}")),
        }
    }
    progress.finish();

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
        ..counters.report(start_ns, send_seconds, &trackers, &latency)
    })
}
