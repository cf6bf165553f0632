//! Property tests: encode then parse gives back the frame, in every version, however the bytes
//! are split; and any input gives the same results fed whole or in pieces.

mod common;

use bytes::BytesMut;
use common::{feed, parser};
use proptest::prelude::*;
use stompbox_core::frame::{encode, escape_for, Escaping};
use stompbox_core::{Command, Frame, FrameLimits, Parsed, Version};

/// Header text biased towards the bytes escaping cares about.
fn text(max_chars: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            3 => any::<char>(),
            2 => prop::sample::select(vec![':', '\n', '\r', '\\', 'c', 'n', 'r', 'a']),
        ],
        0..max_chars,
    )
    .prop_map(String::from_iter)
}

/// Makes a header representable with this escaping: never a NUL (no version can carry one);
/// without escapes (1.0, handshakes) no LF or CR anywhere and no `:` in a name; in 1.1 (no CR
/// escape) no CR at the end of a value.
fn representable(mut name: String, mut value: String, escaping: Escaping) -> (String, String) {
    name.retain(|c| c != '\0');
    value.retain(|c| c != '\0');
    match escaping {
        Escaping::None => {
            name.retain(|c| !matches!(c, '\n' | '\r' | ':'));
            value.retain(|c| !matches!(c, '\n' | '\r'));
        }
        Escaping::V1_1 => {
            while value.ends_with('\r') {
                value.pop();
            }
        }
        Escaping::V1_2 => {}
    }
    if name.is_empty() || name == "content-length" {
        name.insert(0, 'h');
    }
    (name, value)
}

fn any_frame() -> impl Strategy<Value = (Version, Frame)> {
    (
        prop::sample::select(Version::ALL.to_vec()),
        prop::sample::select(Command::ALL.to_vec()),
        prop::collection::vec((text(12), text(16)), 0..8),
        prop::collection::vec(any::<u8>(), 0..64),
        any::<bool>(),
    )
        .prop_map(|(version, command, headers, body, always_length)| {
            let escaping = escape_for(command, version);
            let mut frame = Frame::new(command);
            if always_length || body.contains(&0) {
                frame = frame.with_header("content-length", body.len().to_string());
            }
            for (name, value) in headers {
                let (name, value) = representable(name, value, escaping);
                frame = frame.with_header(name, value);
            }
            (version, frame.with_body(body))
        })
}

/// `input` cut at the given (sorted, deduplicated) offsets.
fn split_at<'a>(input: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut offsets: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
    offsets.sort_unstable();
    offsets.dedup();
    let mut chunks = Vec::new();
    let mut start = 0;
    for offset in offsets {
        chunks.push(&input[start..offset]);
        start = offset;
    }
    chunks.push(&input[start..]);
    chunks
}

proptest! {
    #[test]
    fn encode_then_parse_round_trips_split_anywhere(
        (version, frame) in any_frame(),
        cuts in prop::collection::vec(any::<usize>(), 1..5),
    ) {
        let mut wire = BytesMut::new();
        encode(&frame, version, &mut wire);
        let expected = vec![Ok(Some(Parsed::Frame(frame))), Ok(Some(Parsed::Heartbeat))];

        let limits = FrameLimits::default();
        prop_assert_eq!(&feed(&mut parser(version, limits), [&wire[..]]), &expected);
        prop_assert_eq!(&feed(&mut parser(version, limits), split_at(&wire, &cuts)), &expected);
        for at in 0..=wire.len() {
            let (a, b) = wire.split_at(at);
            prop_assert_eq!(&feed(&mut parser(version, limits), [a, b]), &expected, "split at {}", at);
        }
        prop_assert_eq!(&feed(&mut parser(version, limits), wire.chunks(1)), &expected);
    }

    #[test]
    fn any_input_gives_the_same_results_however_it_is_split(
        version in prop::sample::select(Version::ALL.to_vec()),
        input in prop::collection::vec(
            prop_oneof![
                4 => prop::sample::select(b"SEND\nMESSAGE\nCONNECT\n:\\content-length:3\r\0 ".to_vec()),
                1 => any::<u8>(),
            ],
            0..120,
        ),
        cuts in prop::collection::vec(any::<usize>(), 1..6),
        max_frame_bytes in 8usize..80,
        max_headers in 0usize..4,
        max_header_line_bytes in 0usize..24,
        max_body_bytes in 0usize..24,
    ) {
        let limits = FrameLimits { max_frame_bytes, max_headers, max_header_line_bytes, max_body_bytes };
        let whole = feed(&mut parser(version, limits), [&input[..]]);
        prop_assert_eq!(&feed(&mut parser(version, limits), split_at(&input, &cuts)), &whole);
        prop_assert_eq!(&feed(&mut parser(version, limits), input.chunks(1)), &whole);
    }
}
