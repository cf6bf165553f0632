//! The transport seam: the byte stream under a [`Client`](super::Client). The client reads,
//! writes and sends heart-beats only through [`Transport`], so TCP (here) and TLS
//! ([`TlsTransport`](super::tls::TlsTransport)) share the rest of the client.
//!
//! Every method takes `&self`, because two threads use one connection at once: the user's
//! thread may be blocked in a read (up to [`POLL_SLICE`](super::POLL_SLICE) at a time) while
//! the writer thread writes (see [`writer`](super::writer)). A `&TcpStream` reads and writes
//! concurrently by itself. A TLS session cannot: rustls's `ClientConnection` needs `&mut` both
//! to take in ciphertext and to produce it. Locking the session around a blocking socket read
//! would make every write wait behind the read, so a TLS transport must hold no lock while it
//! waits for the socket. The shape that fits this trait: read raw bytes from the `TcpStream`
//! with no lock held, then lock the session only to feed it those bytes and take out the
//! plaintext; to write, lock it only to encrypt, then write the ciphertext (writes are
//! already serialised by [`Wire`](super::wire::Wire): one writer at a time). A read that took
//! in bytes but completed no plaintext (part of a record) must report `WouldBlock`, as a read
//! that timed out does, since `Ok(0)` means the end of the stream; [`Transport::read_now`]
//! reads the raw socket with `MSG_DONTWAIT` and reports the same way.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::fd::AsRawFd;
use std::time::Duration;

use nix::sys::socket::{recv, MsgFlags};

/// A connected byte stream the client can use from two threads at once. See the module docs.
pub(super) trait Transport: fmt::Debug + Send + Sync {
    /// Bounds how long each following [`Transport::read`] waits.
    fn set_read_timeout(&self, wait: Duration) -> io::Result<()>;

    /// Reads what has arrived into `buf`, waiting at most the read timeout. `Ok(0)`: the peer
    /// closed the stream. `WouldBlock` or `TimedOut`: nothing arrived in time.
    fn read(&self, buf: &mut [u8]) -> io::Result<usize>;

    /// As [`Transport::read`], but without waiting: `WouldBlock` at once when nothing has
    /// arrived. For polls with no time left (`has_frame` with a zero timeout). The socket stays
    /// blocking for the writer thread, so this must not switch it to non-blocking mode.
    fn read_now(&self, buf: &mut [u8]) -> io::Result<usize>;

    /// Writes all of `bytes`, waiting at most the write timeout set when connecting.
    fn write_all(&self, bytes: &[u8]) -> io::Result<()>;

    /// Shuts the stream down in both directions, which also wakes a blocked read.
    fn shutdown(&self) -> io::Result<()>;
}

impl Transport for TcpStream {
    fn set_read_timeout(&self, wait: Duration) -> io::Result<()> {
        TcpStream::set_read_timeout(self, Some(wait))
    }

    fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        Read::read(&mut &*self, buf)
    }

    fn read_now(&self, buf: &mut [u8]) -> io::Result<usize> {
        Ok(recv(self.as_raw_fd(), buf, MsgFlags::MSG_DONTWAIT)?)
    }

    fn write_all(&self, bytes: &[u8]) -> io::Result<()> {
        Write::write_all(&mut &*self, bytes)
    }

    fn shutdown(&self) -> io::Result<()> {
        TcpStream::shutdown(self, Shutdown::Both)
    }
}
