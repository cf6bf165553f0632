//! The scenarios, and what they share: the stop conditions (`--duration`, `--count`, Ctrl-C),
//! destination names, and the CPU/RSS readings around a run.
//!
//! - `flow`: producers and consumers over a topic, a queue or a durable subscription (`fanout`,
//!   `queue`, `durable`, `latency`, `persistent`).
//! - `counters`: what the tasks of a flow or relay run share (sent, delivered, receipts, errors)
//!   and the report they add up to.
//! - `connections`: idle connections, connections/s and broker RSS.
//! - `relay`: the plain-TCP ceiling (`relay-ceiling`).

mod connections;
mod counters;
mod flow;
mod relay;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::cli::{AckMode, Cli, Scenario};
use crate::client::Target;
use crate::report::Report;
use crate::transport::{Endpoint, Trust};
use crate::{proc, BenchError, Result};

/// How long a scenario produces when neither `--duration` nor `--count` is given.
pub const DEFAULT_DURATION: Duration = Duration::from_secs(10);
/// The cap on a `--count` run without `--duration`, so every run is bounded.
pub const COUNT_TIME_CAP: Duration = Duration::from_secs(300);

/// What one scenario run shares with its tasks.
#[derive(Debug, Clone)]
pub(crate) struct Ctx {
    /// The parsed command line.
    pub cli: Cli,
    /// Cancelled when producing must stop: the duration is over, or Ctrl-C.
    pub stop: CancellationToken,
    /// Cancelled on a second Ctrl-C: stop waiting for anything.
    pub abort: CancellationToken,
    /// Set by Ctrl-C.
    pub interrupted: Arc<AtomicBool>,
}

impl Ctx {
    /// The broker to connect to (the first of `--url`'s).
    pub fn target(&self) -> Result<Target> {
        Ok(self.targets()?.remove(0))
    }

    /// Every broker `--url` names, for connections to take in turn.
    pub fn targets(&self) -> Result<Vec<Target>> {
        let trust = Trust { ca: self.cli.ca.clone(), insecure: self.cli.insecure };
        let target = |url: &str| -> Result<Target> {
            let endpoint = Endpoint::parse(url, &trust)?;
            Ok(Target {
                endpoint,
                user: self.cli.user.clone(),
                pass: self.cli.pass.clone(),
                vhost: self.cli.vhost.clone(),
            })
        };
        self.cli.url.split(',').map(target).collect()
    }

    /// How long producing may last.
    pub fn duration(&self) -> Duration {
        match (self.cli.duration, self.cli.count) {
            (Some(duration), _) => duration,
            (None, Some(_)) => COUNT_TIME_CAP,
            (None, None) => DEFAULT_DURATION,
        }
    }

    /// Starts the clock: `stop` is cancelled once [`Ctx::duration`] has passed.
    pub fn start_clock(&self) {
        let stop = self.stop.clone();
        let duration = self.duration();
        tokio::spawn(async move {
            tokio::select! {
                () = tokio::time::sleep(duration) => stop.cancel(),
                () = stop.cancelled() => {}
            }
        });
    }

    /// The destination name: `--destination`, or unique to this process and scenario.
    pub fn destination(&self, kind: &str, scenario: &str) -> String {
        static RUNS: AtomicUsize = AtomicUsize::new(0);
        let name = match &self.cli.destination {
            Some(name) => name.clone(),
            None => {
                let run = RUNS.fetch_add(1, Ordering::Relaxed);
                format!("bench.{scenario}.{}.{run}", std::process::id())
            }
        };
        format!("/{kind}/{name}")
    }

    /// Whether the progress line may be drawn.
    pub fn progress_enabled(&self) -> bool {
        !self.cli.json
    }
}

/// Runs the scenario `cli` names, with Ctrl-C handling and CPU/RSS readings around it.
pub(crate) async fn run(cli: &Cli) -> Result<Report> {
    let ctx = Ctx {
        cli: cli.clone(),
        stop: CancellationToken::new(),
        abort: CancellationToken::new(),
        interrupted: Arc::new(AtomicBool::new(false)),
    };
    let watcher = {
        let ctx = ctx.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                ctx.interrupted.store(true, Ordering::SeqCst);
                ctx.stop.cancel();
                if tokio::signal::ctrl_c().await.is_ok() {
                    ctx.abort.cancel();
                }
            }
        })
    };
    let me = std::process::id();
    let client_cpu = proc::cpu_seconds(me);
    let broker_cpu = cli.pid.and_then(proc::cpu_seconds);
    let rss_before = cli.pid.and_then(proc::rss_kib);

    let result = match &cli.scenario {
        Scenario::Fanout { producers, subscribers, stuck, selector, load } => {
            let spec = flow::Spec {
                stuck: *stuck,
                selector: selector.clone(),
                ..flow::Spec::fanout(&ctx, *producers, *subscribers, *load)
            };
            flow::run(&ctx, spec).await
        }
        Scenario::Queue { producers, consumers, ack, prefetch, load } => {
            flow::run(&ctx, flow::Spec::queue(&ctx, "queue", *producers, *consumers, *ack, *prefetch, *load)).await
        }
        Scenario::Persistent { producers, consumers, prefetch, receipt_window, load } => {
            let mut spec = flow::Spec::queue(
                &ctx,
                "persistent",
                *producers,
                *consumers,
                AckMode::ClientIndividual,
                *prefetch,
                *load,
            );
            spec.persistent = Some(*receipt_window);
            flow::run(&ctx, spec).await
        }
        Scenario::Durable { producers, consumers, prefetch, load } => {
            flow::run(&ctx, flow::Spec::durable(&ctx, *producers, *consumers, *prefetch, *load)).await
        }
        Scenario::Latency { rate } => flow::run(&ctx, flow::Spec::latency(&ctx, *rate)).await,
        Scenario::Room { publishers, subscribers, rate, churn } => {
            flow::run(&ctx, flow::Spec::room(&ctx, *publishers, *subscribers, *rate, *churn)).await
        }
        Scenario::Connections { connections, concurrency, hold } => {
            let count = cli.count.unwrap_or(*connections);
            connections::run(&ctx, count, *concurrency, *hold).await
        }
        Scenario::RelayCeiling { subscribers, rate, load } => relay::run(&ctx, *subscribers, *rate, *load).await,
    };
    watcher.abort();
    let mut report = result?;
    report.interrupted = ctx.interrupted.load(Ordering::SeqCst);
    report.url = if report.scenario == "relay-ceiling" { "loopback relay".into() } else { cli.url.clone() };
    report.size = if report.scenario == "connections" { 0 } else { cli.size };
    report.client_cpu_seconds = delta(client_cpu, proc::cpu_seconds(me));
    if report.broker_cpu_seconds.is_none() {
        report.broker_cpu_seconds = delta(broker_cpu, cli.pid.and_then(proc::cpu_seconds));
    }
    if report.broker_rss_before_kib.is_none() {
        report.broker_rss_before_kib = rss_before;
        report.broker_rss_after_kib = cli.pid.and_then(proc::rss_kib);
    }
    Ok(report)
}

/// A fixed sending rate: message `n` (from 0) is due at `start + n / per_second`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pace {
    start: Instant,
    per_second: f64,
}

impl Pace {
    /// `per_second` messages a second from `start`.
    pub(crate) fn new(start: Instant, per_second: f64) -> Pace {
        Pace { start, per_second }
    }

    /// How many messages are due now, once `sent` have been sent. While none is, waits until
    /// the next is due (or `stop`) and returns 0: the caller checks its stop conditions again.
    pub(crate) async fn due(&self, sent: u64, stop: &CancellationToken) -> u64 {
        let due = (self.start.elapsed().as_secs_f64() * self.per_second) as u64 + 1;
        if due > sent {
            return due - sent;
        }
        let next = self.start + Duration::from_secs_f64(sent as f64 / self.per_second);
        tokio::select! {
            () = tokio::time::sleep_until(next.into()) => {}
            () = stop.cancelled() => {}
        }
        0
    }
}

/// Raises this process's open-file limit as far as allowed; fails if `connections` (one file
/// each) would not fit under it.
fn open_files_for(connections: u64) -> Result<()> {
    let limit = rlimit::increase_nofile_limit(u64::MAX).unwrap_or(0);
    if limit > 0 && connections + 64 > limit {
        return Err(BenchError::Options(format!(
            "{connections} connections need more than the open-file limit {limit}"
        )));
    }
    Ok(())
}

/// CPU seconds between two readings, to 10 ms.
fn delta(before: Option<f64>, after: Option<f64>) -> Option<f64> {
    Some(((after? - before?) * 100.0).round() / 100.0)
}

/// Splits `--count` over producers: the first ones take the remainder.
fn quotas(count: Option<u64>, producers: usize) -> Vec<Option<u64>> {
    let n = producers as u64;
    (0..n).map(|i| count.map(|c| c / n + u64::from(i < c % n))).collect()
}

/// Messages per second, 0 when no time passed.
pub(crate) fn per_second(count: u64, seconds: f64) -> f64 {
    if seconds > 0.0 {
        (count as f64 / seconds * 10.0).round() / 10.0
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_is_split_over_producers() {
        assert_eq!(quotas(Some(7), 3), vec![Some(3), Some(2), Some(2)]);
        assert_eq!(quotas(None, 2), vec![None, None]);
    }
}
