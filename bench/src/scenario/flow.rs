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

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use hdrhistogram::Histogram;
use stompbox_core::frame::{header, Command, Frame, Parsed};
use stompbox_core::Version;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedReadHalf;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::codec::{Decoder, Encoder};
use tokio_util::sync::CancellationToken;

use super::{per_second, Ctx};
use crate::cli::{AckMode, Load};
use crate::client::{ack_for, describe_error, Conn, READ_CHUNK};
use crate::progress::Progress;
use crate::report::Report;
use crate::stats::{histogram, now_ns, Latency, Tracker};
use crate::{BenchError, Result};

/// Header: index of the producer that sent the message.
pub const PRODUCER_HEADER: &str = "bench_prod";
/// Header: the producer's sequence number, from 0.
pub const SEQ_HEADER: &str = "bench_seq";
/// Header: send time in nanoseconds on this process's monotonic clock.
pub const TIMESTAMP_HEADER: &str = "bench_ts";
/// Receipt id of the DISCONNECT that ends a producer.
const BYE: &str = "bench-bye";
/// How long a finished connection waits for the broker's last words.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// What one flow run does.
#[derive(Debug, Clone)]
pub(crate) struct Spec {
    /// Scenario name in the report.
    pub scenario: &'static str,
    /// `/topic/...` or `/queue/...`.
    pub destination: String,
    /// Producer connections.
    pub producers: usize,
    /// Consumer connections.
    pub consumers: usize,
    /// Every consumer receives every message (a topic).
    pub fanout: bool,
    /// Subscription acknowledgement mode.
    pub ack: AckMode,
    /// Subscription prefetch window.
    pub prefetch: u32,
    /// Pacing and batching.
    pub load: Load,
    /// Total messages per second, paced; `None` = as fast as the window allows.
    pub rate: Option<u64>,
    /// `persistent:true` plus a receipt on every SEND, with at most this many receipts
    /// outstanding per producer.
    pub persistent: Option<u64>,
}

impl Spec {
    /// `fanout`: producers to a topic with `subscribers` subscribers.
    pub fn fanout(ctx: &Ctx, producers: usize, subscribers: usize, load: Load) -> Spec {
        Spec {
            scenario: "fanout",
            destination: ctx.destination("topic", "fanout"),
            producers,
            consumers: subscribers,
            fanout: true,
            ack: AckMode::Auto,
            prefetch: 1000,
            load,
            rate: None,
            persistent: None,
        }
    }

    /// `queue` (or `persistent`, which the caller marks): producers to a queue with consumers.
    pub fn queue(
        ctx: &Ctx,
        scenario: &'static str,
        producers: usize,
        consumers: usize,
        ack: AckMode,
        prefetch: u32,
        load: Load,
    ) -> Spec {
        Spec {
            scenario,
            destination: ctx.destination("queue", scenario),
            producers,
            consumers,
            fanout: false,
            ack,
            prefetch,
            load,
            rate: None,
            persistent: None,
        }
    }

    /// `latency`: one producer at `rate` msgs/s to a topic with one subscriber.
    pub fn latency(ctx: &Ctx, rate: u64) -> Spec {
        Spec {
            scenario: "latency",
            destination: ctx.destination("topic", "latency"),
            producers: 1,
            consumers: 1,
            fanout: true,
            ack: AckMode::Auto,
            prefetch: 1000,
            load: Load { window: 0, batch: 64 },
            rate: Some(rate.max(1)),
            persistent: None,
        }
    }
}

/// Counters the tasks share while running (the relay ceiling uses them too).
pub(super) struct Shared {
    pub(super) fanout: bool,
    /// Messages written by all producers.
    pub(super) sent: AtomicU64,
    /// Messages received, per consumer.
    pub(super) delivered: Vec<AtomicU64>,
    /// RECEIPTs received, per producer.
    pub(super) receipts: Vec<AtomicU64>,
    /// Woken when deliveries or receipts arrive.
    pub(super) progress: Notify,
    /// [`now_ns`] of the latest delivery.
    pub(super) last_delivery_ns: AtomicU64,
    pub(super) errors: Mutex<Report>,
}

impl Shared {
    /// Counters for `producers` producers and `consumers` consumers.
    pub(super) fn new(fanout: bool, producers: usize, consumers: usize) -> Shared {
        Shared {
            fanout,
            sent: AtomicU64::new(0),
            delivered: (0..consumers).map(|_| AtomicU64::new(0)).collect(),
            receipts: (0..producers).map(|_| AtomicU64::new(0)).collect(),
            progress: Notify::new(),
            last_delivery_ns: AtomicU64::new(0),
            errors: Mutex::new(Report::default()),
        }
    }

    /// Messages received by all consumers.
    pub(super) fn total_delivered(&self) -> u64 {
        self.delivered.iter().map(|d| d.load(Ordering::Relaxed)).sum()
    }

    /// Messages no longer in flight: delivered to every subscriber (topic) or to one (queue).
    pub(super) fn settled(&self) -> u64 {
        if self.fanout {
            self.delivered.iter().map(|d| d.load(Ordering::Relaxed)).min().unwrap_or(0)
        } else {
            self.total_delivered()
        }
    }

    pub(super) fn error(&self, message: String) {
        self.errors.lock().expect("errors lock").add_error(message);
    }
}

/// What a consumer hands back.
struct Consumed {
    tracker: Tracker,
    latency: Histogram<u64>,
}

/// Runs one flow scenario.
pub(crate) async fn run(ctx: &Ctx, spec: Spec) -> Result<Report> {
    if spec.producers == 0 || spec.consumers == 0 {
        return Err(BenchError::Options("at least one producer and one consumer are needed".into()));
    }
    let target = ctx.target()?;
    let spec = Arc::new(spec);
    let shared = Arc::new(Shared::new(spec.fanout, spec.producers, spec.consumers));

    // Subscribe first, each confirmed by a RECEIPT, so no message is produced before every
    // subscription exists.
    let done = CancellationToken::new();
    let mut consumers = JoinSet::new();
    let mut version = Version::V1_2;
    let mut server = String::new();
    for index in 0..spec.consumers {
        let mut conn = Conn::connect(&target).await?;
        conn.subscribe(&spec.destination, &format!("s{index}"), spec.ack, spec.prefetch).await?;
        version = version.min(conn.version);
        server.clone_from(&conn.server);
        consumers.spawn(consume(spec.clone(), shared.clone(), index, conn, done.clone()));
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
        let shared = shared.clone();
        Progress::start(ctx.progress_enabled(), spec.scenario, move || {
            format!("sent {}  delivered {}", shared.sent.load(Ordering::Relaxed), shared.total_delivered())
        })
    };
    let mut producers = JoinSet::new();
    for (index, conn) in conns.into_iter().enumerate() {
        let producer = produce(ctx.clone(), spec.clone(), shared.clone(), index, conn, quotas[index], start);
        producers.spawn(producer);
    }
    while let Some(joined) = producers.join_next().await {
        if let Err(e) = joined {
            shared.error(format!("producer task failed: {e}"));
        }
    }
    let send_seconds = start.elapsed().as_secs_f64();
    let sent = shared.sent.load(Ordering::SeqCst);
    let expected = if spec.fanout { sent * spec.consumers as u64 } else { sent };
    wait_for_deliveries(ctx, &shared, expected).await;
    done.cancel();

    let mut trackers = Vec::new();
    let mut latency = histogram();
    while let Some(joined) = consumers.join_next().await {
        match joined {
            Ok(consumed) => {
                let _ = latency.add(&consumed.latency);
                trackers.push(consumed.tracker);
            }
            Err(e) => shared.error(format!("consumer task failed: {e}")),
        }
    }
    progress.finish();

    let (lost, duplicated) = if spec.fanout {
        let lost = trackers.iter().map(|t| sent.saturating_sub(t.unique)).sum();
        (lost, trackers.iter().map(|t| t.duplicated).sum())
    } else {
        let mut all = Tracker::default();
        for tracker in &trackers {
            all.merge(tracker);
        }
        (sent.saturating_sub(all.unique), all.duplicated)
    };
    let delivered = shared.total_delivered();
    let last = shared.last_delivery_ns.load(Ordering::SeqCst);
    let seconds = last.saturating_sub(start_ns) as f64 / 1e9;
    let errors = std::mem::take(&mut *shared.errors.lock().expect("errors lock"));
    let mut note = None;
    if spec.persistent.is_some() {
        let mut text = "persistent:true with a receipt per SEND".to_owned();
        if server.starts_with("stompbox") {
            text.push_str("; stompbox has no persistence yet, so this measures its non-persistent behaviour");
        }
        note = Some(text);
    }
    Ok(Report {
        scenario: spec.scenario.to_owned(),
        server,
        stomp_version: version.to_string(),
        producers: spec.producers,
        consumers: spec.consumers,
        sent,
        delivered,
        expected,
        send_seconds: (send_seconds * 1000.0).round() / 1000.0,
        seconds: (seconds * 1000.0).round() / 1000.0,
        sent_per_s: per_second(sent, send_seconds),
        msgs_per_s: per_second(delivered, seconds),
        lost,
        duplicated,
        latency_us: Latency::from_histogram(&latency),
        errors: errors.errors,
        error_messages: errors.error_messages,
        rate: spec.rate,
        window: Some(spec.load.window),
        receipts: spec.persistent.map(|_| shared.receipts.iter().map(|r| r.load(Ordering::SeqCst)).sum()),
        note,
        ..Report::default()
    })
}

/// Splits `--count` over producers: the first ones take the remainder.
pub(super) fn quotas(count: Option<u64>, producers: usize) -> Vec<Option<u64>> {
    let n = producers as u64;
    (0..n).map(|i| count.map(|c| c / n + u64::from(i < c % n))).collect()
}

/// Waits until every expected delivery arrived, or nothing arrived for `--drain` (1 s after
/// Ctrl-C), or a second Ctrl-C.
pub(super) async fn wait_for_deliveries(ctx: &Ctx, shared: &Shared, expected: u64) {
    let quiet_limit = if ctx.stop.is_cancelled() && ctx.interrupted.load(Ordering::SeqCst) {
        ctx.cli.drain.min(Duration::from_secs(1))
    } else {
        ctx.cli.drain
    };
    let mut seen = shared.total_delivered();
    let mut quiet_since = Instant::now();
    loop {
        let notified = shared.progress.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let now = shared.total_delivered();
        if now >= expected || ctx.abort.is_cancelled() {
            return;
        }
        if now != seen {
            seen = now;
            quiet_since = Instant::now();
        } else if quiet_since.elapsed() >= quiet_limit {
            return;
        }
        tokio::select! {
            () = &mut notified => {}
            () = tokio::time::sleep(Duration::from_millis(50)) => {}
            () = ctx.abort.cancelled() => return,
        }
    }
}

/// Sets a header value in place to a number, without allocating once warmed up.
fn set_number(frame: &mut Frame, at: usize, value: u64) {
    let slot = &mut frame.headers[at].1;
    slot.clear();
    slot.push_str(itoa::Buffer::new().format(value));
}

/// One producer: batches of SEND frames until stopped, then DISCONNECT with a receipt.
async fn produce(
    ctx: Ctx,
    spec: Arc<Spec>,
    shared: Arc<Shared>,
    index: usize,
    conn: Conn,
    quota: Option<u64>,
    start: Instant,
) {
    let Conn { stream, mut codec, read_buf, .. } = conn;
    let (read_half, mut write_half) = stream.into_split();
    let bye = Arc::new(Notify::new());
    let reader = tokio::spawn(read_replies(read_half, codec.clone(), read_buf, shared.clone(), index, bye.clone()));

    let size = ctx.cli.size;
    let mut frame = Frame::new(Command::Send)
        .with_header(header::DESTINATION, spec.destination.as_str())
        .with_header(header::CONTENT_LENGTH, size.to_string())
        .with_header(PRODUCER_HEADER, index.to_string())
        .with_header(SEQ_HEADER, "0")
        .with_header(TIMESTAMP_HEADER, "0")
        .with_body(Bytes::from(vec![b'x'; size]));
    const SEQ_AT: usize = 3;
    const TS_AT: usize = 4;
    const RECEIPT_AT: usize = 6;
    if spec.persistent.is_some() {
        frame = frame.with_header("persistent", "true").with_header(header::RECEIPT, "0");
    }
    let batch = spec.load.batch.max(1) as u64;
    let rate = spec.rate.map(|r| r as f64 / spec.producers as f64);
    let mut buf = BytesMut::with_capacity(batch as usize * (size + 160));
    let mut seq = 0u64;
    loop {
        if ctx.stop.is_cancelled() || quota.is_some_and(|q| seq >= q) {
            break;
        }
        let mut n = batch;
        if let Some(quota) = quota {
            n = n.min(quota - seq);
        }
        if let Some(rate) = rate {
            // Messages due by now, the first at time 0.
            let due = (start.elapsed().as_secs_f64() * rate) as u64 + 1;
            if due <= seq {
                let next = start + Duration::from_secs_f64(seq as f64 / rate);
                tokio::select! {
                    () = tokio::time::sleep_until(next.into()) => {}
                    () = ctx.stop.cancelled() => {}
                }
                continue;
            }
            n = n.min(due - seq);
        }
        let notified = shared.progress.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if spec.load.window > 0 {
            let in_flight = shared.sent.load(Ordering::Relaxed).saturating_sub(shared.settled());
            if in_flight >= spec.load.window {
                wait_progress(&ctx, notified).await;
                continue;
            }
            n = n.min(spec.load.window - in_flight);
        }
        if let Some(receipt_window) = spec.persistent {
            let outstanding = seq.saturating_sub(shared.receipts[index].load(Ordering::Relaxed));
            if outstanding >= receipt_window {
                wait_progress(&ctx, notified).await;
                continue;
            }
            n = n.min(receipt_window - outstanding);
        }
        for _ in 0..n {
            set_number(&mut frame, SEQ_AT, seq);
            set_number(&mut frame, TS_AT, now_ns());
            if spec.persistent.is_some() {
                set_number(&mut frame, RECEIPT_AT, seq);
            }
            if let Err(e) = codec.encode(&frame, &mut buf) {
                shared.error(format!("encode: {e}"));
                break;
            }
            seq += 1;
        }
        tokio::select! {
            written = write_half.write_all(&buf) => if let Err(e) = written {
                shared.error(format!("producer {index}: write failed: {e}"));
                break;
            },
            () = ctx.abort.cancelled() => break,
        }
        buf.clear();
        shared.sent.fetch_add(n, Ordering::Relaxed);
    }

    if spec.persistent.is_some() {
        // Wait (as long as deliveries may) for the receipts of everything sent.
        let deadline = Instant::now() + ctx.cli.drain;
        while shared.receipts[index].load(Ordering::Relaxed) < seq && Instant::now() < deadline {
            let notified = shared.progress.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if shared.receipts[index].load(Ordering::Relaxed) >= seq {
                break;
            }
            // Not `wait_progress`: producing has stopped, so its stop signal is always ready
            // and the loop would spin, starving the consumers that run on the same workers.
            tokio::select! {
                () = notified => {}
                () = tokio::time::sleep(Duration::from_millis(5)) => {}
                () = ctx.abort.cancelled() => break,
            }
        }
    }
    let disconnect = Frame::new(Command::Disconnect).with_header(header::RECEIPT, BYE);
    if codec.encode(&disconnect, &mut buf).is_ok() && write_half.write_all(&buf).await.is_ok() {
        let _ = tokio::time::timeout(CLOSE_WAIT, bye.notified()).await;
    }
    reader.abort();
}

/// Waits for deliveries or receipts (at most a few ms, so the stop flag is seen promptly).
pub(super) async fn wait_progress(ctx: &Ctx, notified: std::pin::Pin<&mut tokio::sync::futures::Notified<'_>>) {
    tokio::select! {
        () = notified => {}
        () = tokio::time::sleep(Duration::from_millis(5)) => {}
        () = ctx.stop.cancelled() => {}
    }
}

/// Reads what the broker sends a producer: RECEIPTs (counted) and ERRORs (reported).
async fn read_replies(
    mut read_half: OwnedReadHalf,
    mut codec: stompbox_core::codec::StompCodec,
    mut buf: BytesMut,
    shared: Arc<Shared>,
    index: usize,
    bye: Arc<Notify>,
) {
    loop {
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(Parsed::Frame(frame))) => match frame.command {
                    Command::Receipt if frame.header(header::RECEIPT_ID) == Some(BYE) => {
                        bye.notify_one();
                        return;
                    }
                    Command::Receipt => {
                        shared.receipts[index].fetch_add(1, Ordering::Relaxed);
                        shared.progress.notify_waiters();
                    }
                    Command::Error => shared.error(format!("producer {index}: {}", describe_error(&frame))),
                    _ => {}
                },
                Ok(Some(Parsed::Heartbeat)) => {}
                Ok(None) => break,
                Err(e) => {
                    shared.error(format!("producer {index}: {e}"));
                    return;
                }
            }
        }
        buf.reserve(64 * 1024);
        match read_half.read_buf(&mut buf).await {
            Ok(0) | Err(_) => {
                bye.notify_one();
                return;
            }
            Ok(_) => {}
        }
    }
}

/// One consumer: reads MESSAGEs until `done`, records them, ACKs them when the mode asks.
async fn consume(spec: Arc<Spec>, shared: Arc<Shared>, index: usize, conn: Conn, done: CancellationToken) -> Consumed {
    let Conn { mut stream, mut codec, mut read_buf, version, .. } = conn;
    let mut consumed = Consumed { tracker: Tracker::default(), latency: histogram() };
    let mut acks = BytesMut::new();
    let client_ack = spec.ack == AckMode::ClientIndividual;
    'reading: loop {
        let mut got = 0u64;
        let now = now_ns();
        loop {
            let frame = match codec.decode(&mut read_buf) {
                Ok(Some(Parsed::Frame(frame))) => frame,
                Ok(Some(Parsed::Heartbeat)) => continue,
                Ok(None) => break,
                Err(e) => {
                    shared.error(format!("consumer {index}: {e}"));
                    break 'reading;
                }
            };
            match frame.command {
                Command::Message => {
                    got += 1;
                    record(&frame, now, &mut consumed);
                    if client_ack {
                        match ack_for(&frame, version) {
                            Some(ack) => {
                                let _ = codec.encode(&ack, &mut acks);
                            }
                            None => shared.error(format!("consumer {index}: MESSAGE without an ack id")),
                        }
                    }
                }
                Command::Error => shared.error(format!("consumer {index}: {}", describe_error(&frame))),
                _ => {}
            }
        }
        if got > 0 {
            shared.delivered[index].fetch_add(got, Ordering::Relaxed);
            shared.last_delivery_ns.fetch_max(now, Ordering::Relaxed);
            shared.progress.notify_waiters();
        }
        if !acks.is_empty() {
            if let Err(e) = stream.write_all(&acks).await {
                shared.error(format!("consumer {index}: ack write failed: {e}"));
                break;
            }
            acks.clear();
        }
        if read_buf.capacity() - read_buf.len() < READ_CHUNK / 4 {
            read_buf.reserve(READ_CHUNK);
        }
        tokio::select! {
            biased;
            () = done.cancelled() => break,
            read = stream.read_buf(&mut read_buf) => match read {
                Ok(0) => {
                    shared.error(format!("consumer {index}: the broker closed the connection"));
                    break;
                }
                Ok(_) => {}
                Err(e) => {
                    shared.error(format!("consumer {index}: read failed: {e}"));
                    break;
                }
            },
        }
    }
    let conn = Conn { stream, codec, read_buf, version, server: String::new() };
    conn.disconnect().await;
    consumed
}

/// Tracks one MESSAGE and records its latency (messages without bench headers only count).
fn record(frame: &Frame, now: u64, consumed: &mut Consumed) {
    let number = |name: &str| frame.header(name).and_then(|v| v.parse::<u64>().ok());
    if let (Some(producer), Some(seq)) = (number(PRODUCER_HEADER), number(SEQ_HEADER)) {
        consumed.tracker.mark(producer as usize, seq);
    }
    if let Some(sent) = number(TIMESTAMP_HEADER) {
        let _ = consumed.latency.record(now.saturating_sub(sent).max(1));
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
