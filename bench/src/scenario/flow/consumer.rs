//! One consumer: reads MESSAGEs with a large buffer, tracks their sequence numbers and latency,
//! and writes the ACKs of one read in one write.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::BytesMut;
use hdrhistogram::Histogram;
use stompbox_core::frame::{Command, Frame, Parsed};
use tokio_util::codec::{Decoder, Encoder};
use tokio_util::sync::CancellationToken;

use super::{Spec, PRODUCER_HEADER, SEQ_HEADER, TIMESTAMP_HEADER};
use crate::cli::AckMode;
use crate::client::{ack_for, describe_error, make_read_room, Conn};
use crate::scenario::counters::Counters;
use crate::stats::{histogram, now_ns, Tracker};

/// What a consumer hands back.
pub(super) struct Consumed {
    /// The sequence numbers seen.
    pub(super) tracker: Tracker,
    /// Latency of every message that carried a send time, in nanoseconds.
    pub(super) latency: Histogram<u64>,
}

/// Reads MESSAGEs until `done`, records them, ACKs them when the mode asks.
pub(super) async fn consume(
    spec: Arc<Spec>,
    counters: Arc<Counters>,
    index: usize,
    conn: Conn,
    done: CancellationToken,
) -> Consumed {
    let Conn { mut reader, mut writer, mut codec, mut read_buf, version, .. } = conn;
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
                    counters.error(format!("consumer {index}: {e}"));
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
                            None => counters.error(format!("consumer {index}: MESSAGE without an ack id")),
                        }
                    }
                }
                Command::Error => counters.error(format!("consumer {index}: {}", describe_error(&frame))),
                _ => {}
            }
        }
        if got > 0 {
            counters.delivered[index].fetch_add(got, Ordering::Relaxed);
            counters.last_delivery_ns.fetch_max(now, Ordering::Relaxed);
            counters.progress.notify_waiters();
        }
        if !acks.is_empty() {
            if let Err(e) = writer.write_all(&acks).await {
                counters.error(format!("consumer {index}: ack write failed: {e}"));
                break;
            }
            acks.clear();
        }
        make_read_room(&mut read_buf);
        tokio::select! {
            biased;
            () = done.cancelled() => break,
            read = reader.read_into(&mut read_buf) => match read {
                Ok(0) => {
                    counters.error(format!("consumer {index}: the broker closed the connection"));
                    break;
                }
                Ok(_) => {}
                Err(e) => {
                    counters.error(format!("consumer {index}: read failed: {e}"));
                    break;
                }
            },
        }
    }
    let conn = Conn { reader, writer, codec, read_buf, version, server: String::new() };
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
