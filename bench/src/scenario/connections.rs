//! `connections`: opens K idle STOMP connections (TCP connect, CONNECT -> CONNECTED), reports
//! connections per second and, with `--pid`, the broker's RSS before, with all open, and after
//! they are closed again.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::{open_files_for, per_second, Ctx};
use crate::client::Conn;
use crate::progress::Progress;
use crate::report::Report;
use crate::stats::{histogram, Latency};
use crate::{proc, Result};

/// How long the broker gets to release closed connections before RSS is read again.
const SETTLE: Duration = Duration::from_secs(1);

/// Opens `count` connections, `concurrency` handshakes at a time, holds them, closes them.
pub(crate) async fn run(ctx: &Ctx, count: u64, concurrency: usize, hold: Duration) -> Result<Report> {
    let target = Arc::new(ctx.target()?);
    open_files_for(count)?;
    let rss_before = ctx.cli.pid.and_then(proc::rss_kib);
    let opened = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let progress = {
        let opened = opened.clone();
        Progress::start(ctx.progress_enabled(), "connections", move || {
            format!("opened {} of {count}", opened.load(std::sync::atomic::Ordering::Relaxed))
        })
    };
    ctx.start_clock();
    let permits = Arc::new(Semaphore::new(concurrency.max(1)));
    let start = Instant::now();
    let mut tasks = JoinSet::new();
    let mut report = Report { scenario: "connections".into(), sent: 0, ..Report::default() };
    for _ in 0..count {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => permit.expect("semaphore never closed"),
            () = ctx.stop.cancelled() => break,
        };
        report.sent += 1;
        let target = target.clone();
        let opened = opened.clone();
        tasks.spawn(async move {
            let began = Instant::now();
            let result = Conn::connect(&target).await;
            drop(permit);
            opened.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            result.map(|conn| (conn, began.elapsed()))
        });
    }
    let mut conns = Vec::with_capacity(count as usize);
    let mut latency = histogram();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(Ok((conn, took))) => {
                let _ = latency.record(u64::try_from(took.as_nanos()).unwrap_or(u64::MAX).max(1));
                report.stomp_version = conn.version.to_string();
                report.server.clone_from(&conn.server);
                conns.push(conn);
            }
            Ok(Err(e)) => report.add_error(e.to_string()),
            Err(e) => report.add_error(format!("connection task failed: {e}")),
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    progress.finish();
    tokio::select! {
        () = tokio::time::sleep(hold) => {}
        () = ctx.abort.cancelled() => {}
    }
    let rss_open = ctx.cli.pid.and_then(proc::rss_kib);
    report.delivered = conns.len() as u64;
    report.expected = report.sent;
    report.lost = report.sent - report.delivered;
    drop(conns);
    tokio::time::sleep(SETTLE).await;

    report.seconds = (seconds * 1000.0).round() / 1000.0;
    report.send_seconds = report.seconds;
    report.msgs_per_s = per_second(report.delivered, seconds);
    report.sent_per_s = report.msgs_per_s;
    report.latency_us = Latency::from_histogram(&latency);
    report.broker_rss_before_kib = rss_before;
    report.broker_rss_after_kib = rss_open;
    report.broker_rss_closed_kib = ctx.cli.pid.and_then(proc::rss_kib);
    if let (Some(before), Some(after)) = (rss_before, rss_open) {
        if report.delivered > 0 {
            let per = (after as f64 - before as f64) / report.delivered as f64;
            report.rss_per_connection_kib = Some((per * 100.0).round() / 100.0);
        }
    }
    report.note = Some("msgs_per_s is connections per second; latency is the TCP connect + CONNECT round trip".into());
    Ok(report)
}
