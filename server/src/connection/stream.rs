//! The connection's transport with its read and write buffers (mini-redis's `Connection`): it
//! reads into a buffer that grows while reads fill it, and writes out a buffer of many frames.

use bytes::BytesMut;
use stompbox_core::codec::StompCodec;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::transport::Transport;

/// Spare room the read buffer starts with before each read.
const READ_CHUNK: usize = 4 * 1024;
/// The most spare room a busy connection's read buffer grows to.
const READ_CHUNK_MAX: usize = 64 * 1024;
/// A write buffer that grew past this is released once flushed, so idle connections stay small.
const WRITE_BUFFER_KEEP: usize = 64 * 1024;

/// The transport, the codec and both buffers.
pub(super) struct Connection<T> {
    pub(super) stream: T,
    pub(super) codec: StompCodec,
    pub(super) read_buf: BytesMut,
    read_chunk: usize,
    pub(super) write_buf: BytesMut,
}

impl<T: Transport> Connection<T> {
    pub(super) fn new(stream: T, codec: StompCodec) -> Connection<T> {
        Connection { stream, codec, read_buf: BytesMut::new(), read_chunk: READ_CHUNK, write_buf: BytesMut::new() }
    }

    /// Reads what the transport has into the read buffer; `Ok(0)` at end of stream.
    /// Cancellation-safe: a cancelled read has read nothing. The read size starts small (idle
    /// connections stay small) and doubles while reads fill it, up to [`READ_CHUNK_MAX`].
    pub(super) async fn read_more(&mut self) -> std::io::Result<usize> {
        if self.read_buf.capacity() - self.read_buf.len() < self.read_chunk / 4 {
            self.read_buf.reserve(self.read_chunk);
        }
        let room = self.read_buf.capacity() - self.read_buf.len();
        let read = self.stream.read_buf(&mut self.read_buf).await?;
        if read == room && self.read_chunk < READ_CHUNK_MAX {
            self.read_chunk *= 2;
        }
        Ok(read)
    }

    /// Writes some of the write buffer; what was written leaves the buffer. Once the buffer is
    /// empty, flushes the transport: a no-op for TCP, and what sends the TLS records and the
    /// WebSocket messages the writes left buffered. Cancellation-safe: a cancelled write has
    /// written nothing, and what a cancelled flush did not send goes with the next flush.
    pub(super) async fn write_some(&mut self) -> std::io::Result<usize> {
        let written = self.stream.write_buf(&mut self.write_buf).await?;
        if self.write_buf.is_empty() {
            self.stream.flush().await?;
        }
        Ok(written)
    }

    /// After the write buffer was written out: releases a buffer that grew large.
    pub(super) fn written_out(&mut self) {
        self.write_buf.clear();
        if self.write_buf.capacity() > WRITE_BUFFER_KEEP {
            self.write_buf = BytesMut::new();
        }
    }

    /// Writes whatever is buffered and flushes the transport.
    pub(super) async fn flush(&mut self) -> std::io::Result<()> {
        self.stream.write_all(&self.write_buf).await?;
        self.stream.flush().await
    }

    /// Reads and throws away what the peer sends until it closes or fails.
    pub(super) async fn discard_input(&mut self) {
        loop {
            self.read_buf.clear();
            if !matches!(self.read_more().await, Ok(n) if n > 0) {
                break;
            }
        }
    }

    /// Shuts the write side down.
    pub(super) async fn shutdown(&mut self) -> std::io::Result<()> {
        self.stream.shutdown().await
    }
}
