//! One consumer: reads MESSAGEs with a buffer that grows while reads fill it, tracks their
//! sequence numbers, records their latency in the run's shared histograms, and writes the ACKs
//! of one read in one write. Without ACKs to write, MESSAGEs are scanned in place (`scan`)
//! rather than decoded.

use std::sync::Arc;

use bytes::{Buf, BytesMut};
use stompbox_core::frame::{Command, Frame, Parsed};
use tokio_util::codec::{Decoder, Encoder};
use tokio_util::sync::CancellationToken;

use super::scan::{scan, Numbers, Scan};
use super::{Spec, PRODUCER_HEADER, SEQ_HEADER, TIMESTAMP_HEADER};
use crate::cli::AckMode;
use crate::client::{ack_for, describe_error, Conn, ReadRoom};
use crate::scenario::counters::Counters;
use crate::stats::{now_ns, Tracker};

/// Reads MESSAGEs until `done`, records them, ACKs them when the mode asks; returns the
/// sequence numbers seen.
pub(super) async fn consume(
    spec: Arc<Spec>,
    counters: Arc<Counters>,
    index: usize,
    conn: Conn,
    done: CancellationToken,
) -> Tracker {
    let Conn { mut reader, mut writer, mut codec, mut read_buf, version, .. } = conn;
    let mut tracker = Tracker::default();
    // Latency of every message of one read that carried a send time, in nanoseconds.
    let mut latency = Vec::new();
    let mut room = ReadRoom::default();
    let mut acks = BytesMut::new();
    let client_ack = spec.ack == AckMode::ClientIndividual;
    'reading: loop {
        let mut got = 0u64;
        let now = now_ns();
        loop {
            if !client_ack {
                // Most frames are MESSAGEs: read their numbers in place.
                match scan(&read_buf) {
                    Scan::Eol(len) => {
                        read_buf.advance(len);
                        continue;
                    }
                    Scan::Message { len, numbers } => {
                        got += 1;
                        record(numbers, now, &mut tracker, &mut latency);
                        read_buf.advance(len);
                        continue;
                    }
                    Scan::Incomplete => break,
                    Scan::Other => {}
                }
            }
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
                    record(numbers(&frame), now, &mut tracker, &mut latency);
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
            counters.record_latency(index, &latency);
            latency.clear();
            counters.record_delivered(index, got, now);
        }
        if !acks.is_empty() {
            if let Err(e) = writer.write_all(&acks).await {
                counters.error(format!("consumer {index}: ack write failed: {e}"));
                break;
            }
            acks.clear();
        }
        room.prepare(&mut read_buf);
        tokio::select! {
            biased;
            () = done.cancelled() => break,
            read = reader.read_into(&mut read_buf) => match read {
                Ok(0) => {
                    counters.error(format!("consumer {index}: the broker closed the connection"));
                    break;
                }
                Ok(read) => room.read(read),
                Err(e) => {
                    counters.error(format!("consumer {index}: read failed: {e}"));
                    break;
                }
            },
        }
    }
    let conn = Conn { reader, writer, codec, read_buf, version, server: String::new() };
    conn.disconnect().await;
    tracker
}

/// The bench headers of a decoded MESSAGE.
fn numbers(frame: &Frame) -> Numbers {
    let number = |name: &str| frame.header(name).and_then(|v| v.parse::<u64>().ok());
    Numbers { producer: number(PRODUCER_HEADER), seq: number(SEQ_HEADER), sent_ns: number(TIMESTAMP_HEADER) }
}

/// Tracks one MESSAGE and notes its latency (messages without bench headers only count).
fn record(numbers: Numbers, now: u64, tracker: &mut Tracker, latency: &mut Vec<u64>) {
    if let (Some(producer), Some(seq)) = (numbers.producer, numbers.seq) {
        tracker.mark(producer as usize, seq);
    }
    if let Some(sent) = numbers.sent_ns {
        latency.push(now.saturating_sub(sent));
    }
}
