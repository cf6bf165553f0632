//! The encoder. [`write_frame`] is the only code that lays a frame out on the wire: the command
//! line, one `name:value` line per header, a blank line, the body and the NUL. Every frame
//! writer goes through it: [`encode`] (the broker's replies, the codec), the blocking client
//! and the PHP extension. The one exception is the broker's MESSAGE, whose header block is
//! built once and shared by every subscriber (`broker::message`); it uses [`write_header`].

use bytes::{BufMut, BytesMut};

use super::escape::{escape_for, write_escaped, Escaping};
use super::{Frame, LF, NUL};
use crate::version::Version;

/// Appends one frame to `dst`: `command`, LF, each header as a `name:value` line in the order
/// given, escaped as `escaping` says, LF, `body`, NUL. Headers are written as given: the caller
/// adds `content-length`. Nothing is allocated but room in `dst`, so a hot path can pass
/// borrowed headers: `(&str, &str)` pairs, or byte strings that need not be UTF-8.
pub fn write_frame<N, V>(
    dst: &mut BytesMut,
    command: &[u8],
    headers: impl IntoIterator<Item = (N, V)>,
    body: &[u8],
    escaping: Escaping,
) where
    N: AsRef<[u8]>,
    V: AsRef<[u8]>,
{
    dst.reserve(command.len() + 1 + body.len() + 2);
    dst.extend_from_slice(command);
    dst.put_u8(LF);
    for (name, value) in headers {
        put_header(dst, name.as_ref(), value.as_ref(), escaping);
    }
    dst.put_u8(LF);
    dst.extend_from_slice(body);
    dst.put_u8(NUL);
}

/// Appends `frame` to `dst` in wire form for `version` with [`write_frame`]: headers escaped
/// as the version says (never in CONNECT/CONNECTED), then the body, NUL and LF (the spec allows
/// EOLs after a frame; a reader takes them as heart-beats). Headers are written as given: the
/// caller adds `content-length`.
///
/// What a version cannot carry is written raw and will not read back the same: in 1.0 and in
/// handshake frames an LF in a name or value, or a `:` in a name; in 1.1 a CR at the end of a
/// value (see [`write_header`]).
pub fn encode(frame: &Frame, version: Version, dst: &mut BytesMut) {
    let command = frame.command.as_str().as_bytes();
    let headers: usize = frame.headers.iter().map(|(n, v)| n.len() + v.len() + 2).sum();
    dst.reserve(command.len() + 1 + headers + 1 + frame.body.len() + 2);
    let escaping = escape_for(frame.command, version);
    write_frame(dst, command, frame.headers.iter().map(|(n, v)| (n, v)), &frame.body, escaping);
    dst.put_u8(LF);
}

/// Appends one `name:value\n` header line, escaping name and value as `escaping` says
/// (`\\`, `\n`, `\c`, and `\r` for 1.2; see [`escape_for`]).
///
/// STOMP 1.1 has no escape for CR, so a CR is written raw there; it reads back unchanged except
/// at the very end of a value, where it reads as part of a CR LF line end.
pub fn write_header(dst: &mut BytesMut, name: &str, value: &str, escaping: Escaping) {
    put_header(dst, name.as_bytes(), value.as_bytes(), escaping);
}

/// [`write_header`] over bytes.
fn put_header(dst: &mut BytesMut, name: &[u8], value: &[u8], escaping: Escaping) {
    dst.reserve(name.len() + value.len() + 2);
    write_escaped(dst, name, escaping);
    dst.put_u8(b':');
    write_escaped(dst, value, escaping);
    dst.put_u8(LF);
}
