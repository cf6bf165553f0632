//! Fuzz target: arbitrary bytes into `FrameParser`, with small limits.
//!
//! The first input byte chooses how the rest is fed and parsed:
//! - bits 0-3: chunk size minus one (1 to 16 bytes per read);
//! - bits 4-5: the version (1.0, 1.1, 1.2, 1.2);
//! - bits 6-7: the limits (three small sets and the defaults).
//!
//! Checked on every input: no panic; the results are the same fed in chunks as fed whole; and
//! every parsed frame that its version can represent re-encodes and re-parses to itself.
#![no_main]

#[path = "../../tests/common/mod.rs"]
mod common;

use bytes::BytesMut;
use common::{feed, parser};
use libfuzzer_sys::fuzz_target;
use stompbox_core::frame::{encode, escape_for, Escaping};
use stompbox_core::{Frame, FrameLimits, Parsed, Version};

fn limits(choice: u8) -> FrameLimits {
    match choice {
        0 => FrameLimits { max_frame_bytes: 256, max_headers: 8, max_header_line_bytes: 64, max_body_bytes: 128 },
        1 => FrameLimits { max_frame_bytes: 64, max_headers: 2, max_header_line_bytes: 16, max_body_bytes: 24 },
        2 => FrameLimits { max_frame_bytes: 1024, max_headers: 32, max_header_line_bytes: 12, max_body_bytes: 1000 },
        _ => FrameLimits::default(),
    }
}

/// Whether re-encoding `frame` in `version` can give back the same headers: without escapes a
/// value cannot end in CR (it would read as a CR LF line end), nor in 1.1, which has no `\r`.
fn representable(frame: &Frame, version: Version) -> bool {
    escape_for(frame.command, version) == Escaping::V1_2
        || frame.headers.iter().all(|(_, value)| !value.ends_with('\r'))
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, input)) = data.split_first() else { return };
    let chunk = usize::from(control & 0x0f) + 1;
    let version = [Version::V1_0, Version::V1_1, Version::V1_2, Version::V1_2][usize::from((control >> 4) & 3)];
    let limits = limits(control >> 6);

    let whole = feed(&mut parser(version, limits), [input]);
    let chunked = feed(&mut parser(version, limits), input.chunks(chunk));
    assert_eq!(whole, chunked, "fed whole vs in chunks of {chunk}");

    for step in &whole {
        let Ok(Some(Parsed::Frame(frame))) = step else { continue };
        if !representable(frame, version) {
            continue;
        }
        let mut wire = BytesMut::new();
        encode(frame, version, &mut wire);
        let again = feed(&mut parser(version, FrameLimits::default()), [&wire[..]]);
        assert_eq!(again, vec![Ok(Some(Parsed::Frame(frame.clone()))), Ok(Some(Parsed::Heartbeat))]);
    }
});
