//! Feeding bytes to a [`FrameParser`] in chunks, shared by the property tests and the fuzz target
//! (`core/fuzz/fuzz_targets/decode.rs` includes this file by path).

use bytes::BytesMut;
use stompbox_core::{FrameError, FrameLimits, FrameParser, Parsed, Version};

/// One result of [`FrameParser::parse`] that produced something.
pub type Step = Result<Option<Parsed>, FrameError>;

/// A parser with these limits, set to `version`.
pub fn parser(version: Version, limits: FrameLimits) -> FrameParser {
    let mut parser = FrameParser::new(limits);
    parser.set_version(version);
    parser
}

/// Feeds the chunks in turn, collecting every result until the first error. The text of an
/// unknown command is what had arrived when it was rejected, so it is blanked out: the same input
/// split differently then gives equal results.
pub fn feed<'a>(parser: &mut FrameParser, chunks: impl IntoIterator<Item = &'a [u8]>) -> Vec<Step> {
    let mut buf = BytesMut::new();
    let mut steps = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        loop {
            match parser.parse(&mut buf) {
                Ok(None) => break,
                Ok(Some(parsed)) => steps.push(Ok(Some(parsed))),
                Err(e) => {
                    let e = match e {
                        FrameError::UnknownCommand(_) => FrameError::UnknownCommand(String::new()),
                        e => e,
                    };
                    steps.push(Err(e));
                    return steps;
                }
            }
        }
    }
    steps
}
