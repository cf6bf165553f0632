//! `relay-ceiling`: what loopback TCP allows on this machine with the same load generator and
//! no broker. One producer writes fixed-size records in batches to an in-process relay, which
//! forwards every whole record it reads to each reader, one write per reader per read. The
//! readers track sequence numbers and latency exactly as STOMP consumers do.
//!
//! Record layout (little-endian): producer index (8 bytes), sequence number (8), send time in
//! [`now_ns`] (8), then filler up to `--size`.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use bytes::{Buf, BufMut, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::counters::{wait_for_deliveries, wait_progress, Counters};
use super::{quotas, Ctx, Pace};
use crate::cli::Load;
use crate::client::{make_read_room, READ_CHUNK};
use crate::progress::Progress;
use crate::report::Report;
use crate::stats::{now_ns, Tracker};
use crate::{BenchError, Result};

/// The smallest record: the three numbers.
const HEADER_BYTES: usize = 24;

/// Runs the relay ceiling with `subscribers` readers.
pub(crate) async fn run(ctx: &Ctx, subscribers: usize, rate: Option<u64>, load: Load) -> Result<Report> {
    let size = ctx.cli.size.max(HEADER_BYTES);
    if subscribers == 0 {
        return Err(BenchError::Options("at least one subscriber is needed".into()));
    }
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let counters = Arc::new(Counters::new(true, 1, subscribers));
    let done = CancellationToken::new();

    let mut readers = JoinSet::new();
    let mut outputs = Vec::with_capacity(subscribers);
    for index in 0..subscribers {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let (accepted, _) = listener.accept().await?;
        accepted.set_nodelay(true)?;
        outputs.push(accepted);
        readers.spawn(read_records(stream, size, counters.clone(), index, done.clone()));
    }
    let mut producer = TcpStream::connect(addr).await?;
    producer.set_nodelay(true)?;
    let (input, _) = listener.accept().await?;
    let relay = tokio::spawn(relay(input, outputs, size));

    let start = Instant::now();
    let start_ns = now_ns();
    ctx.start_clock();
    let progress = {
        let counters = counters.clone();
        Progress::start(ctx.progress_enabled(), "relay-ceiling", move || {
            format!("sent {}  delivered {}", counters.sent.load(Ordering::Relaxed), counters.total_delivered())
        })
    };
    let quota = quotas(ctx.cli.count, 1)[0];
    let batch = load.batch.max(1) as u64;
    let mut buf = BytesMut::with_capacity(batch as usize * size);
    let pace = rate.map(|rate| Pace::new(start, rate.max(1) as f64));
    let mut seq = 0u64;
    while !ctx.stop.is_cancelled() && quota.is_none_or(|q| seq < q) {
        let mut n = quota.map_or(batch, |q| batch.min(q - seq));
        if let Some(pace) = &pace {
            match pace.due(seq, &ctx.stop).await {
                0 => continue,
                due => n = n.min(due),
            }
        }
        let notified = counters.progress.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if load.window > 0 {
            let in_flight = counters.in_flight();
            if in_flight >= load.window {
                wait_progress(ctx, notified).await;
                continue;
            }
            n = n.min(load.window - in_flight);
        }
        for _ in 0..n {
            buf.put_u64_le(0);
            buf.put_u64_le(seq);
            buf.put_u64_le(now_ns());
            buf.put_bytes(b'x', size - HEADER_BYTES);
            seq += 1;
        }
        if let Err(e) = producer.write_all(&buf).await {
            counters.error(format!("relay producer: {e}"));
            break;
        }
        buf.clear();
        counters.sent.fetch_add(n, Ordering::Relaxed);
    }
    let send_seconds = start.elapsed().as_secs_f64();
    wait_for_deliveries(ctx, &counters).await;
    done.cancel();
    drop(producer);
    relay.abort();

    let mut trackers = Vec::new();
    while let Some(joined) = readers.join_next().await {
        if let Ok(tracker) = joined {
            trackers.push(tracker);
        }
    }
    progress.finish();
    Ok(Report {
        scenario: "relay-ceiling".into(),
        producers: 1,
        consumers: subscribers,
        rate,
        window: Some(load.window),
        note: Some("plain TCP relay of fixed-size records, no STOMP: the ceiling for fan-out on this machine".into()),
        ..counters.report(start_ns, send_seconds, &trackers)
    })
}

/// Forwards every whole record read from `input` to each output, in one write per output.
async fn relay(mut input: TcpStream, mut outputs: Vec<TcpStream>, size: usize) {
    let mut buf = BytesMut::with_capacity(READ_CHUNK);
    loop {
        make_read_room(&mut buf);
        match input.read_buf(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let whole = buf.len() - buf.len() % size;
        if whole == 0 {
            continue;
        }
        let chunk = buf.split_to(whole).freeze();
        for output in &mut outputs {
            if output.write_all(&chunk).await.is_err() {
                return;
            }
        }
    }
}

/// One reader: parses records until `done`, tracking sequence numbers and latency.
async fn read_records(
    mut stream: TcpStream,
    size: usize,
    counters: Arc<Counters>,
    index: usize,
    done: CancellationToken,
) -> Tracker {
    let mut tracker = Tracker::default();
    let mut latency = Vec::new();
    let mut buf = BytesMut::with_capacity(READ_CHUNK);
    loop {
        make_read_room(&mut buf);
        tokio::select! {
            biased;
            () = done.cancelled() => break,
            read = stream.read_buf(&mut buf) => match read {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            },
        }
        let now = now_ns();
        let mut got = 0;
        while buf.len() >= size {
            let mut record = buf.split_to(size);
            let producer = record.get_u64_le();
            let seq = record.get_u64_le();
            let sent = record.get_u64_le();
            tracker.mark(producer as usize, seq);
            latency.push(now.saturating_sub(sent));
            got += 1;
        }
        if got > 0 {
            counters.record_latency(index, &latency);
            latency.clear();
            counters.record_delivered(index, got, now);
        }
    }
    tracker
}
