//! Reading: frames off the transport through the [`FrameParser`](crate::frame::FrameParser),
//! RECEIPT waits that keep the frames arriving meanwhile, and the check that a broker which
//! promised heart-beats still sends them.

use std::io;
use std::time::{Duration, Instant};

use super::{Client, Error, Result, POLL_SLICE};
use crate::frame::{header, Command, Frame, Parsed};

impl Client {
    /// The next frame, waiting up to `timeout`; `Ok(None)` on timeout. An ERROR frame is
    /// returned as [`Error::Broker`]; RECEIPTs nobody waits for are dropped.
    pub fn read_frame(&mut self, timeout: Duration) -> Result<Option<Frame>> {
        self.read_frame_until(Instant::now() + timeout)
    }

    /// As [`Client::read_frame`], with a deadline. Each transport read waits at most
    /// [`POLL_SLICE`], so a caller can pass a near deadline and loop to stay interruptible.
    /// Like every read, writes what is queued first.
    pub fn read_frame_until(&mut self, deadline: Instant) -> Result<Option<Frame>> {
        self.flush()?;
        if let Some(frame) = self.pending.pop_front() {
            return Ok(Some(frame));
        }
        self.check_open()?;
        loop {
            match self.next_frame(deadline)? {
                None => return Ok(None),
                Some(frame) => match frame.command {
                    Command::Error => {
                        self.close_socket();
                        return Err(Error::from_error_frame(frame));
                    }
                    Command::Receipt => {}
                    _ => return Ok(Some(frame)),
                },
            }
        }
    }

    /// The next frame of any kind, waiting up to `timeout`; `Ok(None)` on timeout. Unlike
    /// [`Client::read_frame`], an ERROR is returned as a frame and leaves the connection open,
    /// and RECEIPTs are returned too: for callers that keep their own receipt bookkeeping and
    /// want every frame. Frames kept by a RECEIPT wait come first.
    pub fn read_raw_frame(&mut self, timeout: Duration) -> Result<Option<Frame>> {
        self.flush()?;
        if let Some(frame) = self.pending.pop_front() {
            return Ok(Some(frame));
        }
        self.check_open()?;
        self.next_frame(Instant::now() + timeout)
    }

    /// Whether a frame can be read: one is kept, or one is in the read buffer or arrives
    /// within `timeout`. With a zero `timeout`, the socket is still read, without waiting, so
    /// what has already arrived counts. A frame found is kept for [`Client::read_frame`].
    pub fn has_frame(&mut self, timeout: Duration) -> Result<bool> {
        self.flush()?;
        if !self.pending.is_empty() {
            return Ok(true);
        }
        let deadline = Instant::now() + timeout;
        match self.read_frame_until(deadline)? {
            Some(frame) => {
                self.pending.push_back(frame);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Waits for the RECEIPT `id`, keeping other frames for [`Client::read_frame`].
    pub(super) fn await_receipt(&mut self, id: &str) -> Result<()> {
        let deadline = Instant::now() + self.timeout;
        loop {
            let Some(frame) = self.next_frame(deadline)? else {
                if Instant::now() >= deadline {
                    return Err(Error::Timeout("RECEIPT"));
                }
                continue;
            };
            match frame.command {
                Command::Receipt if frame.header(header::RECEIPT_ID) == Some(id) => return Ok(()),
                Command::Receipt => {}
                Command::Error => {
                    self.close_socket();
                    return Err(Error::from_error_frame(frame));
                }
                _ => self.pending.push_back(frame),
            }
        }
    }

    /// The next frame, reading as needed until `deadline`, once everything queued is written.
    /// `Ok(None)`: the deadline passed (possibly having read a partial frame).
    pub(super) fn next_frame(&mut self, deadline: Instant) -> Result<Option<Frame>> {
        self.flush()?;
        self.parse_next(deadline)
    }

    /// Parses the next frame off the read buffer, reading as needed until `deadline`. The
    /// transport is read at least once, without waiting when the deadline has passed, so a
    /// poll with no time left still sees what has arrived.
    pub(super) fn parse_next(&mut self, deadline: Instant) -> Result<Option<Frame>> {
        let mut looked = false;
        loop {
            match self.parser.parse(&mut self.read_buf) {
                Ok(Some(Parsed::Frame(frame))) => return Ok(Some(frame)),
                Ok(Some(Parsed::Heartbeat)) => continue,
                Ok(None) => {}
                Err(err) => {
                    self.close_socket();
                    return Err(Error::Protocol(err));
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if looked && left.is_zero() {
                return Ok(None);
            }
            self.fill(left)?;
            looked = true;
        }
    }

    /// One transport read of at most `wait` (and [`POLL_SLICE`]); with no wait, takes only
    /// what has arrived. Fails on EOF, on a transport error and when the broker's heart-beats
    /// stopped.
    fn fill(&mut self, wait: Duration) -> Result<()> {
        let read = if wait.is_zero() {
            self.wire.transport().read_now(&mut self.scratch)
        } else {
            let wait = wait.clamp(Duration::from_millis(1), POLL_SLICE);
            if self.read_timeout != Some(wait) {
                self.wire.transport().set_read_timeout(wait)?;
                self.read_timeout = Some(wait);
            }
            self.wire.transport().read(&mut self.scratch)
        };
        match read {
            Ok(0) => {
                let mid_frame = !self.read_buf.is_empty();
                self.close_socket();
                Err(Error::Closed { mid_frame })
            }
            Ok(n) => {
                self.read_buf.extend_from_slice(&self.scratch[..n]);
                self.last_read = Instant::now();
                Ok(())
            }
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                self.check_broker_alive()
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(()),
            Err(e) => {
                self.close_socket();
                Err(Error::Io(e))
            }
        }
    }

    /// After a read found nothing: has the broker been silent for longer than it promised?
    /// Everything it sent before now has been read, so the time since the last byte is exact.
    fn check_broker_alive(&mut self) -> Result<()> {
        if let Some(every) = self.expect_every {
            let silent = self.last_read.elapsed();
            // The spec lets the receiver allow for network delay: twice the interval.
            if silent > every * 2 {
                self.close_socket();
                return Err(Error::HeartbeatTimeout {
                    silent_ms: u64::try_from(silent.as_millis()).unwrap_or(u64::MAX),
                    expected_ms: u64::try_from(every.as_millis()).unwrap_or(u64::MAX),
                });
            }
        }
        Ok(())
    }
}
