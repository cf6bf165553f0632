//! Writing: frames encoded by [`frame::write_frame`] into one reused buffer and written with
//! one `write_all` each, or collected while batching and written together.
//!
//! The client's frames end at their NUL, with no EOL after it (STOMP allows either): nothing
//! follows a DISCONNECT that the broker would still have to read before it closes.

use std::io;
use std::time::{Duration, Instant};

use bytes::BytesMut;

use super::{Client, Error, Mode, Result};
use crate::frame::{self, escape_for, Command, Escaping};

/// A batch is sent once it holds this many bytes (or before any wait for the broker).
const BATCH_FLUSH_BYTES: usize = 64 * 1024;

/// How long a failed write waits for the ERROR that may explain it.
const ERROR_AFTER_FAILED_WRITE: Duration = Duration::from_millis(200);

impl Client {
    /// Batching on: frames are collected and sent together, in one write per 64 KiB, instead
    /// of one write each. Whatever is collected is sent before
    /// the client waits for the broker (a receipt, `read_frame`, `has_frame`), on
    /// [`Client::flush`], and when batching is turned off. Nothing is sent by itself otherwise,
    /// so a batch must end (turn batching off) before the program waits on something else.
    pub fn set_batching(&mut self, on: bool) -> Result<()> {
        if on {
            self.batch.get_or_insert_with(BytesMut::new);
            Ok(())
        } else {
            let flushed = self.flush();
            self.batch = None;
            flushed
        }
    }

    /// Sends what a batch has collected so far.
    pub fn flush(&mut self) -> Result<()> {
        match self.batch.as_mut().filter(|batch| !batch.is_empty()).map(std::mem::take) {
            Some(collected) => {
                let written = self.write_now(&collected);
                if let Some(batch) = self.batch.as_mut() {
                    *batch = collected;
                    batch.clear();
                }
                written
            }
            None => Ok(()),
        }
    }

    /// Writes bytes as they are, for callers that lay out frames themselves (with
    /// [`frame::write_frame`]).
    pub fn send_bytes(&mut self, bytes: &[u8]) -> Result<()> {
        self.check_open()?;
        self.write_bytes(bytes)
    }

    /// Encodes one frame into the reused write buffer, escaped as [`Client::escaping`] says,
    /// and writes it (or adds it to the batch).
    pub(super) fn write_frame<'h>(
        &mut self,
        command: Command,
        headers: impl IntoIterator<Item = (&'h str, &'h str)>,
        body: &[u8],
    ) -> Result<()> {
        let escaping = self.escaping(command);
        let mut buf = std::mem::take(&mut self.write_buf);
        buf.clear();
        frame::write_frame(&mut buf, command.as_str().as_bytes(), headers, body, escaping);
        let written = self.write_bytes(&buf);
        self.write_buf = buf;
        written
    }

    /// How this client escapes the headers of a `command` frame: never in [`Mode::Raw`], else
    /// as the negotiated version says.
    fn escaping(&self, command: Command) -> Escaping {
        match self.mode {
            Mode::Raw => Escaping::None,
            Mode::Standard => escape_for(command, self.version),
        }
    }

    /// Writes bytes, or adds them to the batch while batching.
    fn write_bytes(&mut self, bytes: &[u8]) -> Result<()> {
        match self.batch.as_mut() {
            Some(batch) => {
                batch.extend_from_slice(bytes);
                if batch.len() >= BATCH_FLUSH_BYTES {
                    return self.flush();
                }
                Ok(())
            }
            None => self.write_now(bytes),
        }
    }

    /// Writes bytes to the transport; when the broker has closed the connection, reports the
    /// ERROR it sent before closing, if any, instead of the bare transport error.
    fn write_now(&mut self, bytes: &[u8]) -> Result<()> {
        match self.wire.write_all(bytes) {
            Ok(()) => Ok(()),
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                // Part of the frame may be on the wire: the connection cannot be used any more.
                self.close_socket();
                Err(Error::Timeout("the broker to take more data (write timed out)"))
            }
            Err(e) => {
                let deadline = Instant::now() + ERROR_AFTER_FAILED_WRITE;
                while let Ok(Some(frame)) = self.next_frame(deadline) {
                    if frame.command == Command::Error {
                        self.close_socket();
                        return Err(Error::from_error_frame(frame));
                    }
                    self.pending.push_back(frame);
                }
                self.close_socket();
                Err(Error::Io(e))
            }
        }
    }
}
