//! One producer: batches of SEND frames, one write per batch, until the clock or `--count` says
//! stop; then, for `persistent`, the outstanding receipts; then DISCONNECT with a receipt.
//!
//! Before each batch it asks what it may send: no more than `--batch`, the rest of its quota,
//! the messages due at its `rate`, the room left in `--window` and, for `persistent`, in the
//! receipt window. When that is nothing it waits (for the next due time or for progress) and
//! asks again. A task of its own reads what the broker sends back (RECEIPTs and ERRORs).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use stompbox_core::codec::StompCodec;
use stompbox_core::frame::{self, header, Command, Frame, Parsed};
use stompbox_core::Version;
use tokio::sync::Notify;
use tokio_util::codec::Decoder;

use super::send::SendTemplate;
use super::Spec;
use crate::client::{describe_error, Conn};
use crate::scenario::counters::{wait_progress, Counters};
use crate::scenario::{Ctx, Pace};
use crate::stats::now_ns;
use crate::transport::{Reader, Writer};

/// Receipt id of the DISCONNECT that ends a producer.
const BYE: &str = "bench-bye";
/// How long a finished connection waits for the broker's last words.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// One producer's connection and its progress.
pub(super) struct Producer {
    ctx: Ctx,
    spec: Arc<Spec>,
    counters: Arc<Counters>,
    /// This producer's index (its `bench_prod`).
    index: usize,
    /// Messages to send in all, `None` until stopped.
    quota: Option<u64>,
    /// This producer's share of the rate, `None` = unpaced.
    pace: Option<Pace>,
    version: Version,
    writer: Writer,
    /// Notified by the reply reader when the DISCONNECT's receipt (or the close) arrives.
    bye: Arc<Notify>,
    reader: tokio::task::JoinHandle<()>,
    template: SendTemplate,
    /// One batch, encoded.
    buf: BytesMut,
    /// Messages sent so far, and the next sequence number.
    seq: u64,
}

impl Producer {
    /// Takes over `conn` (starting its reply reader) to produce as `spec` says.
    pub(super) fn new(
        ctx: Ctx,
        spec: Arc<Spec>,
        counters: Arc<Counters>,
        index: usize,
        conn: Conn,
        quota: Option<u64>,
        start: Instant,
    ) -> Producer {
        let Conn { reader, writer, codec, read_buf, version, .. } = conn;
        let bye = Arc::new(Notify::new());
        let reader = tokio::spawn(read_replies(reader, codec, read_buf, counters.clone(), index, bye.clone()));
        let size = ctx.cli.size;
        let template = SendTemplate::new(&spec.destination, index, size, spec.persistent.is_some());
        let buf = BytesMut::with_capacity(spec.load.batch.max(1) * (size + 160));
        Producer {
            pace: spec.rate.map(|rate| Pace::new(start, rate as f64 / spec.producers as f64)),
            ctx,
            spec,
            counters,
            index,
            quota,
            version,
            writer,
            bye,
            reader,
            template,
            buf,
            seq: 0,
        }
    }

    /// Produces until stopped, waits for outstanding receipts, then disconnects.
    pub(super) async fn run(mut self) {
        while let Some(n) = self.next_batch().await {
            if !self.send_batch(n).await {
                break;
            }
        }
        if self.spec.persistent.is_some() {
            self.wait_for_receipts().await;
        }
        self.disconnect().await;
    }

    /// How many SENDs to write next, after waiting as long as none may be; `None` once
    /// producing must stop.
    async fn next_batch(&self) -> Option<u64> {
        loop {
            if self.ctx.stop.is_cancelled() || self.quota.is_some_and(|q| self.seq >= q) {
                return None;
            }
            let mut n = self.spec.load.batch.max(1) as u64;
            if let Some(quota) = self.quota {
                n = n.min(quota - self.seq);
            }
            if let Some(pace) = &self.pace {
                match pace.due(self.seq, &self.ctx.stop).await {
                    0 => continue,
                    due => n = n.min(due),
                }
            }
            let notified = self.counters.progress.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let window = self.spec.load.window;
            if window > 0 {
                let in_flight = self.counters.in_flight();
                if in_flight >= window {
                    wait_progress(&self.ctx, notified).await;
                    continue;
                }
                n = n.min(window - in_flight);
            }
            if let Some(receipt_window) = self.spec.persistent {
                let outstanding = self.seq.saturating_sub(self.receipts());
                if outstanding >= receipt_window {
                    wait_progress(&self.ctx, notified).await;
                    continue;
                }
                n = n.min(receipt_window - outstanding);
            }
            return Some(n);
        }
    }

    /// Encodes `n` SENDs into one buffer and writes it; false if producing cannot go on.
    async fn send_batch(&mut self, n: u64) -> bool {
        for _ in 0..n {
            frame::encode(self.template.stamp(self.seq, now_ns()), self.version, &mut self.buf);
            self.seq += 1;
        }
        tokio::select! {
            written = self.writer.write_all(&self.buf) => if let Err(e) = written {
                self.counters.error(format!("producer {}: write failed: {e}", self.index));
                return false;
            },
            () = self.ctx.abort.cancelled() => return false,
        }
        self.buf.clear();
        self.counters.sent.fetch_add(n, Ordering::Relaxed);
        true
    }

    /// RECEIPTs received so far.
    fn receipts(&self) -> u64 {
        self.counters.receipts[self.index].load(Ordering::Relaxed)
    }

    /// Waits (as long as deliveries may) for the receipts of everything sent.
    async fn wait_for_receipts(&self) {
        let deadline = Instant::now() + self.ctx.cli.drain;
        while self.receipts() < self.seq && Instant::now() < deadline {
            let notified = self.counters.progress.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.receipts() >= self.seq {
                break;
            }
            // Not `wait_progress`: producing has stopped, so its stop signal is always ready
            // and the loop would spin, starving the consumers that run on the same workers.
            tokio::select! {
                () = notified => {}
                () = tokio::time::sleep(Duration::from_millis(5)) => {}
                () = self.ctx.abort.cancelled() => break,
            }
        }
    }

    /// Sends DISCONNECT with a receipt, waits a little for it, and stops the reply reader.
    async fn disconnect(mut self) {
        let disconnect = Frame::new(Command::Disconnect).with_header(header::RECEIPT, BYE);
        self.buf.clear();
        frame::encode(&disconnect, self.version, &mut self.buf);
        if self.writer.write_all(&self.buf).await.is_ok() {
            let _ = tokio::time::timeout(CLOSE_WAIT, self.bye.notified()).await;
        }
        self.reader.abort();
    }
}

/// Reads what the broker sends a producer: RECEIPTs (counted) and ERRORs (reported).
async fn read_replies(
    mut reader: Reader,
    mut codec: StompCodec,
    mut buf: BytesMut,
    counters: Arc<Counters>,
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
                        counters.receipts[index].fetch_add(1, Ordering::Relaxed);
                        counters.progress.notify_waiters();
                    }
                    Command::Error => counters.error(format!("producer {index}: {}", describe_error(&frame))),
                    _ => {}
                },
                Ok(Some(Parsed::Heartbeat)) => {}
                Ok(None) => break,
                Err(e) => {
                    counters.error(format!("producer {index}: {e}"));
                    return;
                }
            }
        }
        buf.reserve(64 * 1024);
        match reader.read_into(&mut buf).await {
            Ok(0) | Err(_) => {
                bye.notify_one();
                return;
            }
            Ok(_) => {}
        }
    }
}
