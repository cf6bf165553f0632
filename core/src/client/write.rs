//! Writing: frames laid out by [`frame::write_frame`] straight into the connection's outgoing
//! buffer ([`Wire`](super::wire::Wire)), handed to the writer thread or written at once, and
//! write failures turned into errors.
//!
//! The client's frames end at their NUL, with no EOL after it (STOMP allows either): nothing
//! follows a DISCONNECT that the broker would still have to read before it closes.

use std::io;
use std::time::{Duration, Instant};

use super::wire::FORKED;
use super::writer::WriterThread;
use super::{Client, Error, Mode, Result};
use crate::frame::{self, escape_for, Command, Escaping};

/// How long a failed write waits for the ERROR that may explain it.
const ERROR_AFTER_FAILED_WRITE: Duration = Duration::from_millis(200);

impl Client {
    /// Writes everything sent so far and waits until it is written; returns a write error the
    /// writer thread met, if any. (Anything that waits for the broker flushes by itself.) In
    /// the child of a fork, fails: the connection is the parent's (see the `writer` module).
    pub fn flush(&mut self) -> Result<()> {
        if self.closed {
            return Ok(());
        }
        if self.wire.forked() {
            return Err(self.write_failed(io::Error::other(FORKED)));
        }
        self.wire.flush().map_err(|e| self.write_failed(e))
    }

    /// Kept from the earlier batching API, whose behaviour every send now has: frames are
    /// buffered and written together whenever they pile up. Turning batching off flushes, as
    /// ending a batch did; turning it on does nothing.
    pub fn set_batching(&mut self, on: bool) -> Result<()> {
        if on {
            Ok(())
        } else {
            self.flush()
        }
    }

    /// Sends bytes as they are (whole frames), for callers that lay out frames themselves
    /// (with [`frame::write_frame`]): queued for the writer thread like a frame without a
    /// receipt.
    pub fn send_bytes(&mut self, bytes: &[u8]) -> Result<()> {
        self.check_open()?;
        self.queue(|buf| buf.extend_from_slice(bytes))?;
        self.release()
    }

    /// As [`Client::send_bytes`], but written (after everything queued before) by the calling
    /// thread before this returns, as a frame with a receipt is: for a frame the caller then
    /// waits on.
    pub fn write_bytes(&mut self, bytes: &[u8]) -> Result<()> {
        self.check_open()?;
        self.queue(|buf| buf.extend_from_slice(bytes))?;
        self.flush()
    }

    /// Lays out one frame at the end of the outgoing buffer, escaped as [`Client::escaping`]
    /// says. Nothing is written yet: the caller ends with [`Client::release`] or a wait.
    pub(super) fn write_frame<'h>(
        &mut self,
        command: Command,
        headers: impl IntoIterator<Item = (&'h str, &'h str)>,
        body: &[u8],
    ) -> Result<()> {
        let escaping = self.escaping(command);
        self.queue(|buf| frame::write_frame(buf, command.as_str().as_bytes(), headers, body, escaping))
    }

    /// Lets what is queued go: wakes the writer thread (starting it if it is not running yet),
    /// or writes at once when the client has no write buffer.
    pub(super) fn release(&mut self) -> Result<()> {
        if !self.wire.buffers() {
            return self.flush();
        }
        if self.writer.is_none() {
            self.start_writer()?;
        }
        Ok(())
    }

    /// Starts the writer thread, with the negotiated heart-beats.
    pub(super) fn start_writer(&mut self) -> Result<()> {
        self.writer = Some(WriterThread::start(self.wire.clone(), self.send_every)?);
        Ok(())
    }

    /// Appends to the outgoing buffer (waiting while it is full).
    fn queue(&mut self, encode: impl FnOnce(&mut bytes::BytesMut)) -> Result<()> {
        self.wire.push(encode).map_err(|e| self.write_failed(e))
    }

    /// How this client escapes the headers of a `command` frame: never in [`Mode::Raw`], else
    /// as the negotiated version says.
    fn escaping(&self, command: Command) -> Escaping {
        match self.mode {
            Mode::Raw => Escaping::None,
            Mode::Standard => escape_for(command, self.version),
        }
    }

    /// The error for a failed write, which leaves the connection closed. When the broker has
    /// closed the connection, the ERROR it sent before closing, if any, rather than the bare
    /// transport error.
    fn write_failed(&mut self, e: io::Error) -> Error {
        if self.wire.forked() {
            // Whatever arrives on the socket is the parent's to read.
            self.close_socket();
            return Error::Io(e);
        }
        if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) {
            // Part of a frame may be on the wire: the connection cannot be used any more.
            self.close_socket();
            return Error::Timeout("the broker to take more data (write timed out)");
        }
        let deadline = Instant::now() + ERROR_AFTER_FAILED_WRITE;
        while let Ok(Some(frame)) = self.parse_next(deadline) {
            if frame.command == Command::Error {
                self.close_socket();
                return Error::from_error_frame(frame);
            }
            self.pending.push_back(frame);
        }
        self.close_socket();
        Error::Io(e)
    }
}
