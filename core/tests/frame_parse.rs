//! The frame parser and encoder against golden frames: one or more tests per wire rule.

use bytes::BytesMut;
use stompbox_core::frame::{encode, escape_for, write_frame, write_header, Escaping};
use stompbox_core::{Command, Frame, FrameError, FrameLimits, FrameParser, Parsed, Version};

type Step = Result<Option<Parsed>, FrameError>;

fn parser(version: Version) -> FrameParser {
    let mut parser = FrameParser::new(FrameLimits::default());
    parser.set_version(version);
    parser
}

/// Parses `input` fed in one piece until the parser needs more bytes or fails.
fn parse_whole(parser: &mut FrameParser, input: &[u8]) -> Vec<Step> {
    let mut buf = BytesMut::from(input);
    let mut steps = Vec::new();
    loop {
        let step = parser.parse(&mut buf);
        let stop = !matches!(step, Ok(Some(_)));
        steps.push(step);
        if stop {
            return steps;
        }
    }
}

/// Parses `input` fed one byte at a time, calling the parser after every byte.
fn parse_bytewise(parser: &mut FrameParser, input: &[u8]) -> Vec<Step> {
    let mut buf = BytesMut::new();
    let mut steps = Vec::new();
    for &byte in input {
        buf.extend_from_slice(&[byte]);
        loop {
            match parser.parse(&mut buf) {
                Ok(None) => break,
                Ok(Some(parsed)) => steps.push(Ok(Some(parsed))),
                Err(e) => {
                    steps.push(Err(e));
                    return steps;
                }
            }
        }
    }
    steps.push(Ok(None));
    steps
}

fn one_frame(version: Version, input: &[u8]) -> Frame {
    match parse_whole(&mut parser(version), input).remove(0) {
        Ok(Some(Parsed::Frame(frame))) => frame,
        other => panic!("expected a frame from {input:?}, got {other:?}"),
    }
}

fn first_error(version: Version, limits: FrameLimits, input: &[u8]) -> FrameError {
    let mut parser = FrameParser::new(limits);
    parser.set_version(version);
    match parse_whole(&mut parser, input).pop() {
        Some(Err(e)) => e,
        other => panic!("expected an error from {input:?}, got {other:?}"),
    }
}

fn error(version: Version, input: &[u8]) -> FrameError {
    first_error(version, FrameLimits::default(), input)
}

fn small_limits() -> FrameLimits {
    FrameLimits { max_frame_bytes: 100, max_headers: 3, max_header_line_bytes: 20, max_body_bytes: 40 }
}

fn frame(command: Command, headers: &[(&str, &str)], body: &[u8]) -> Parsed {
    let mut frame = Frame::new(command).with_body(body.to_vec());
    for (name, value) in headers {
        frame = frame.with_header(*name, *value);
    }
    Parsed::Frame(frame)
}

// ---- framing ------------------------------------------------------------------------------

#[test]
fn parses_a_minimal_frame() {
    let steps = parse_whole(&mut parser(Version::V1_2), b"DISCONNECT\nreceipt:77\n\n\0");
    assert_eq!(steps, vec![Ok(Some(frame(Command::Disconnect, &[("receipt", "77")], b""))), Ok(None)]);
}

#[test]
fn every_command_is_recognised_and_commands_are_case_sensitive() {
    for command in Command::ALL {
        let input = format!("{}\n\n\0", command.as_str());
        assert_eq!(one_frame(Version::V1_2, input.as_bytes()).command, command);
    }
    assert_eq!(error(Version::V1_2, b"send\n\n\0"), FrameError::UnknownCommand("send".into()));
    assert_eq!(error(Version::V1_2, b"SEND \n\n\0"), FrameError::UnknownCommand("SEND ".into()));
}

#[test]
fn waits_for_the_content_length_body() {
    let mut parser = parser(Version::V1_2);
    let mut buf = BytesMut::from(&b"SEND\ndestination:/queue/a\ncontent-length:5\n\nhel"[..]);
    assert_eq!(parser.parse(&mut buf), Ok(None));
    // The declared body is known: room for it and the NUL has been reserved.
    assert!(buf.capacity() >= buf.len() + 3);
    buf.extend_from_slice(b"lo");
    assert_eq!(parser.parse(&mut buf), Ok(None), "the NUL is still missing");
    buf.extend_from_slice(b"\0\n");
    let expected = frame(Command::Send, &[("destination", "/queue/a"), ("content-length", "5")], b"hello");
    assert_eq!(parser.parse(&mut buf), Ok(Some(expected)));
    assert_eq!(&buf[..], b"\n");
}

#[test]
fn content_length_body_may_contain_nuls() {
    let f = one_frame(Version::V1_0, b"SEND\ncontent-length:18\n\nA test Message\0Foo\0");
    assert_eq!(&f.body[..], b"A test Message\0Foo");
}

#[test]
fn body_without_content_length_ends_at_the_first_nul() {
    let steps = parse_whole(&mut parser(Version::V1_2), b"SEND\n\nab\0cd\0");
    assert_eq!(steps[0], Ok(Some(frame(Command::Send, &[], b"ab"))));
    assert_eq!(steps[1], Err(FrameError::UnknownCommand("cd\0".into())));
}

#[test]
fn content_length_not_followed_by_nul_is_missing_nul() {
    assert_eq!(error(Version::V1_2, b"SEND\ncontent-length:2\n\nabc\0"), FrameError::MissingNul);
}

#[test]
fn invalid_content_length_is_rejected() {
    for bad in ["abc", "-1", "", " 5", "5 ", "0x10", "1.0"] {
        let input = format!("SEND\ncontent-length:{bad}\n\n\0");
        assert_eq!(
            error(Version::V1_2, input.as_bytes()),
            FrameError::InvalidContentLength(bad.into()),
            "content-length {bad:?}"
        );
    }
}

#[test]
fn only_the_first_content_length_counts() {
    let f = one_frame(Version::V1_2, b"SEND\ncontent-length:1\ncontent-length:zz\n\n\0\0");
    assert_eq!(&f.body[..], b"\0");
}

#[test]
fn body_is_a_zero_copy_slice_of_the_input() {
    let mut buf = BytesMut::from(&b"SEND\n\nsome body bytes\0"[..]);
    let range = buf.as_ptr() as usize..buf.as_ptr() as usize + buf.len();
    let Ok(Some(Parsed::Frame(f))) = parser(Version::V1_2).parse(&mut buf) else { panic!() };
    assert!(range.contains(&(f.body.as_ptr() as usize)));
    assert_eq!(&f.body[..], b"some body bytes");
}

#[test]
fn crlf_line_endings_are_accepted() {
    let f = one_frame(Version::V1_2, b"SEND\r\ndestination:/queue/a\r\nk:v\r\n\r\nbody\0");
    assert_eq!(Parsed::Frame(f), frame(Command::Send, &[("destination", "/queue/a"), ("k", "v")], b"body"));
    // Only one trailing CR is the line end; an earlier one is part of the value.
    let f = one_frame(Version::V1_0, b"SEND\nk:v\r\r\n\n\0");
    assert_eq!(f.header("k"), Some("v\r"));
}

#[test]
fn heartbeats_before_and_between_frames_are_returned_one_per_eol() {
    let input = b"\n\r\nSEND\n\na\0\n\r\n\nSEND\n\nb\0";
    let steps = parse_whole(&mut parser(Version::V1_2), input);
    assert_eq!(
        steps,
        vec![
            Ok(Some(Parsed::Heartbeat)),
            Ok(Some(Parsed::Heartbeat)),
            Ok(Some(frame(Command::Send, &[], b"a"))),
            Ok(Some(Parsed::Heartbeat)),
            Ok(Some(Parsed::Heartbeat)),
            Ok(Some(Parsed::Heartbeat)),
            Ok(Some(frame(Command::Send, &[], b"b"))),
            Ok(None),
        ]
    );
}

#[test]
fn a_lone_cr_waits_for_its_lf() {
    let mut parser = parser(Version::V1_2);
    let mut buf = BytesMut::from(&b"\r"[..]);
    assert_eq!(parser.parse(&mut buf), Ok(None));
    buf.extend_from_slice(b"\n");
    assert_eq!(parser.parse(&mut buf), Ok(Some(Parsed::Heartbeat)));
    assert!(buf.is_empty());
}

// ---- headers ------------------------------------------------------------------------------

#[test]
fn repeated_headers_are_kept_in_order_and_the_first_wins() {
    let f = one_frame(Version::V1_2, b"MESSAGE\nfoo:World\nfoo:Hello\nbar:1\n\n\0");
    assert_eq!(f.header("foo"), Some("World"));
    let expected = [("foo", "World"), ("foo", "Hello"), ("bar", "1")];
    assert!(f.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).eq(expected));
}

#[test]
fn header_value_is_everything_after_the_first_colon_untrimmed() {
    let f = one_frame(Version::V1_0, b"SEND\n key : a:b:c \nempty:\n\n\0");
    assert_eq!(f.headers, vec![(" key ".to_string(), " a:b:c ".to_string()), ("empty".into(), "".into())]);
}

#[test]
fn header_without_colon_or_name_is_malformed() {
    assert_eq!(error(Version::V1_2, b"SEND\nnocolon\n\n\0"), FrameError::MalformedHeader("nocolon".into()));
    assert_eq!(error(Version::V1_2, b"SEND\n:value\n\n\0"), FrameError::MalformedHeader(":value".into()));
}

#[test]
fn headers_must_be_utf8() {
    assert_eq!(error(Version::V1_2, b"SEND\nk:\xff\xfe\n\n\0"), FrameError::NotUtf8);
    assert_eq!(error(Version::V1_0, b"SEND\n\xc3:v\n\n\0"), FrameError::NotUtf8);
    let f = one_frame(Version::V1_2, "SEND\nclé:värde ✓\n\n\0".as_bytes());
    assert_eq!(f.header("clé"), Some("värde ✓"));
}

#[test]
fn v1_1_unescapes_backslash_newline_and_colon() {
    let f = one_frame(Version::V1_1, b"MESSAGE\na\\cb:x\\\\y\\nz\\c\n\n\0");
    assert_eq!(f.headers, vec![("a:b".to_string(), "x\\y\nz:".to_string())]);
}

#[test]
fn v1_1_has_no_cr_escape() {
    assert_eq!(error(Version::V1_1, b"MESSAGE\nk:a\\rb\n\n\0"), FrameError::InvalidEscape("\\r".into()));
}

#[test]
fn v1_2_unescapes_cr_too() {
    let f = one_frame(Version::V1_2, b"MESSAGE\nk\\r:a\\rb\\n\\c\\\\\n\n\0");
    assert_eq!(f.headers, vec![("k\r".to_string(), "a\rb\n:\\".to_string())]);
}

#[test]
fn undefined_escapes_are_errors_in_1_1_and_1_2() {
    for version in [Version::V1_1, Version::V1_2] {
        assert_eq!(error(version, b"SEND\nk:a\\tb\n\n\0"), FrameError::InvalidEscape("\\t".into()));
        assert_eq!(error(version, b"SEND\nk:trailing\\\n\n\0"), FrameError::InvalidEscape("\\".into()));
        assert_eq!(error(version, b"SEND\nk\\x:v\n\n\0"), FrameError::InvalidEscape("\\x".into()));
        assert_eq!(error(version, "SEND\nk:\\é\n\n\0".as_bytes()), FrameError::InvalidEscape("\\é".into()));
    }
}

#[test]
fn v1_0_keeps_backslashes_raw() {
    let f = one_frame(Version::V1_0, b"SEND\npath:C:\\tmp\\n\\c\\\n\n\0");
    assert_eq!(f.header("path"), Some("C:\\tmp\\n\\c\\"));
}

#[test]
fn handshake_frames_are_not_unescaped() {
    for command in ["CONNECT", "STOMP", "CONNECTED"] {
        let input = format!("{command}\nlogin:a\\tb\\c\npasscode:x\\\\y\n\n\0");
        let f = one_frame(Version::V1_2, input.as_bytes());
        assert_eq!(f.header("login"), Some("a\\tb\\c"));
        assert_eq!(f.header("passcode"), Some("x\\\\y"));
    }
}

#[test]
fn a_version_change_applies_from_the_next_frame() {
    let mut parser = FrameParser::new(FrameLimits::default());
    let mut buf = BytesMut::from(&b"SEND\nk:a\\cb\n"[..]);
    assert_eq!(parser.parse(&mut buf), Ok(None));
    parser.set_version(Version::V1_2);
    buf.extend_from_slice(b"\n\0SEND\nk:a\\cb\n\n\0");
    assert_eq!(parser.parse(&mut buf), Ok(Some(frame(Command::Send, &[("k", "a\\cb")], b""))));
    assert_eq!(parser.parse(&mut buf), Ok(Some(frame(Command::Send, &[("k", "a:b")], b""))));
}

// ---- commands -----------------------------------------------------------------------------

#[test]
fn unknown_command_is_rejected_as_soon_as_its_line_is_complete() {
    let mut parser = parser(Version::V1_2);
    let mut buf = BytesMut::from(&b"HELLO\n"[..]);
    assert_eq!(parser.parse(&mut buf), Err(FrameError::UnknownCommand("HELLO".into())));
}

#[test]
fn a_command_line_that_cannot_become_a_command_is_rejected_before_its_eol() {
    let mut parser = parser(Version::V1_2);
    let mut buf = BytesMut::from(&b"SUB"[..]);
    assert_eq!(parser.parse(&mut buf), Ok(None));
    buf.extend_from_slice(b"SCRIBE");
    assert_eq!(parser.parse(&mut buf), Ok(None));
    buf.extend_from_slice(b"\r");
    assert_eq!(parser.parse(&mut buf), Ok(None));

    let mut parser = self::parser(Version::V1_2);
    let mut buf = BytesMut::from(&b"GET / HTTP/1.1"[..]);
    assert_eq!(parser.parse(&mut buf), Err(FrameError::UnknownCommand("GET / HTTP/1.1".into())));
}

// ---- limits -------------------------------------------------------------------------------

#[test]
fn header_line_at_the_limit_is_accepted_with_lf_or_crlf() {
    let limits = small_limits();
    let line = format!("k:{}", "v".repeat(18)); // 20 bytes
    for eol in ["\n", "\r\n"] {
        let input = format!("SEND{eol}{line}{eol}{eol}\0");
        let mut parser = FrameParser::new(limits);
        let steps = parse_whole(&mut parser, input.as_bytes());
        assert!(matches!(steps[0], Ok(Some(Parsed::Frame(_)))), "{eol:?}: {steps:?}");
        assert_eq!(parse_bytewise(&mut FrameParser::new(limits), input.as_bytes()), steps);
    }
}

#[test]
fn header_line_too_long_is_rejected_before_its_eol() {
    let limits = small_limits();
    let mut parser = FrameParser::new(limits);
    let mut buf = BytesMut::from(&b"SEND\nk:"[..]);
    buf.extend_from_slice(&[b'v'; 18]);
    assert_eq!(parser.parse(&mut buf), Ok(None), "20 bytes: at the limit");
    buf.extend_from_slice(b"\r");
    assert_eq!(parser.parse(&mut buf), Ok(None), "a CR may still be the line end");
    buf.extend_from_slice(b"v");
    assert_eq!(parser.parse(&mut buf), Err(FrameError::HeaderLineTooLong { limit: 20 }));

    let mut parser = FrameParser::new(limits);
    let mut buf = BytesMut::from(&b"SEND\nk:"[..]);
    buf.extend_from_slice(&[b'v'; 19]);
    assert_eq!(parser.parse(&mut buf), Err(FrameError::HeaderLineTooLong { limit: 20 }));
}

#[test]
fn command_line_longer_than_the_header_line_limit_is_rejected() {
    let limits = FrameLimits { max_header_line_bytes: 5, ..small_limits() };
    assert_eq!(first_error(Version::V1_2, limits, b"UNSUBSCRIBE\n\n\0"), FrameError::HeaderLineTooLong { limit: 5 });
    assert!(matches!(parse_whole(&mut FrameParser::new(limits), b"SEND\n\n\0")[0], Ok(Some(_))));
}

#[test]
fn too_many_headers_is_rejected_as_the_extra_header_starts() {
    let limits = small_limits();
    let ok = parse_whole(&mut FrameParser::new(limits), b"SEND\na:1\nb:2\nc:3\n\n\0");
    assert!(matches!(ok[0], Ok(Some(Parsed::Frame(_)))));
    let ok = parse_whole(&mut FrameParser::new(limits), b"SEND\na:1\nb:2\nc:3\r\n\r\n\0");
    assert!(matches!(ok[0], Ok(Some(Parsed::Frame(_)))));

    let mut parser = FrameParser::new(limits);
    let mut buf = BytesMut::from(&b"SEND\na:1\nb:2\nc:3\n\r"[..]);
    assert_eq!(parser.parse(&mut buf), Ok(None));
    buf.extend_from_slice(b"d");
    assert_eq!(parser.parse(&mut buf), Err(FrameError::TooManyHeaders { limit: 3 }));
}

#[test]
fn declared_content_length_above_the_body_limit_is_rejected_before_the_body() {
    let mut parser = FrameParser::new(small_limits());
    let mut buf = BytesMut::from(&b"SEND\ncontent-length:41\n"[..]);
    assert_eq!(parser.parse(&mut buf), Err(FrameError::BodyTooLarge { limit: 40 }));

    let limits = FrameLimits { max_header_line_bytes: 100, ..small_limits() };
    let mut parser = FrameParser::new(limits);
    let mut buf = BytesMut::from(&b"SEND\ncontent-length:99999999999999999999999999\n"[..]);
    assert_eq!(parser.parse(&mut buf), Err(FrameError::BodyTooLarge { limit: 40 }));
}

#[test]
fn declared_content_length_over_the_frame_limit_is_rejected_at_the_blank_line() {
    let limits = FrameLimits { max_frame_bytes: 50, ..small_limits() };
    let mut parser = FrameParser::new(limits);
    // Head: 24 bytes; 24 + 27 = 51 > 50.
    let mut buf = BytesMut::from(&b"SEND\ncontent-length:27\n\n"[..]);
    assert_eq!(parser.parse(&mut buf), Err(FrameError::FrameTooLarge { limit: 50 }));
    let input = b"SEND\ncontent-length:26\n\n01234567890123456789012345\0";
    assert!(matches!(parse_whole(&mut FrameParser::new(limits), input)[0], Ok(Some(_))));
}

#[test]
fn body_without_content_length_is_rejected_as_soon_as_it_outgrows_the_limit() {
    let mut parser = FrameParser::new(small_limits());
    let mut buf = BytesMut::from(&b"SEND\n\n"[..]);
    buf.extend_from_slice(&[b'x'; 40]);
    assert_eq!(parser.parse(&mut buf), Ok(None), "40 bytes is the limit");
    buf.extend_from_slice(b"x");
    assert_eq!(parser.parse(&mut buf), Err(FrameError::BodyTooLarge { limit: 40 }));

    let mut input = b"SEND\n\n".to_vec();
    input.extend_from_slice(&[b'x'; 40]);
    input.push(0);
    assert!(matches!(parse_whole(&mut FrameParser::new(small_limits()), &input)[0], Ok(Some(_))));
}

#[test]
fn frame_too_large_is_rejected_as_soon_as_the_buffer_exceeds_it() {
    let limits = FrameLimits { max_frame_bytes: 30, ..small_limits() };
    // In the body.
    let mut parser = FrameParser::new(limits);
    let mut buf = BytesMut::from(&b"SEND\nk:v\n\n"[..]);
    buf.extend_from_slice(&[b'x'; 20]); // 30 bytes buffered, no NUL yet
    assert_eq!(parser.parse(&mut buf), Ok(None));
    buf.extend_from_slice(b"x");
    assert_eq!(parser.parse(&mut buf), Err(FrameError::FrameTooLarge { limit: 30 }));
    // In the head.
    let mut parser = FrameParser::new(limits);
    let mut buf = BytesMut::from(&b"SEND\na:1234567890\nb:12345678901"[..]); // 31 bytes
    assert_eq!(parser.parse(&mut buf), Err(FrameError::FrameTooLarge { limit: 30 }));
}

#[test]
fn limit_errors_name_the_limit() {
    let texts = [
        (FrameError::FrameTooLarge { limit: 7 }, "max_frame_bytes (7 bytes)"),
        (FrameError::TooManyHeaders { limit: 7 }, "max_headers (7)"),
        (FrameError::HeaderLineTooLong { limit: 7 }, "max_header_line_bytes (7 bytes)"),
        (FrameError::BodyTooLarge { limit: 7 }, "max_body_bytes (7 bytes)"),
    ];
    for (error, text) in texts {
        assert!(error.to_string().contains(text), "{error}");
    }
}

#[test]
fn parser_starts_afresh_after_an_error() {
    let mut parser = parser(Version::V1_2);
    let mut buf = BytesMut::from(&b"SEND\nbad\n\n\0"[..]);
    assert!(parser.parse(&mut buf).is_err());
    let mut buf = BytesMut::from(&b"SEND\n\n\0"[..]);
    assert_eq!(parser.parse(&mut buf), Ok(Some(frame(Command::Send, &[], b""))));
}

// ---- incremental input gives the same result ---------------------------------------------

/// An unknown command is reported with the bytes that had arrived when it was rejected, which
/// depends on how the input was split: compare everything else.
fn without_command_text(steps: Vec<Step>) -> Vec<Step> {
    steps
        .into_iter()
        .map(|step| match step {
            Err(FrameError::UnknownCommand(_)) => Err(FrameError::UnknownCommand(String::new())),
            other => other,
        })
        .collect()
}

const GOLDEN: &[&[u8]] = &[
    b"\nCONNECT\naccept-version:1.2\nhost:/\nlogin:a\\b\n\n\0\n",
    b"SEND\r\ndestination:/queue/a\r\ncontent-length:5\r\n\r\nhe\0lo\0\r\n\n",
    b"MESSAGE\na\\cb:x\\\\y\\nz\\r\nfoo:1\nfoo:2\n\nbody without length\0",
    b"SEND\nk:a\\tb\n\n\0",
    b"SEND\ncontent-length:3\n\nabcd\0",
    b"SEND\nno colon\n\n\0",
    b"HELLO WORLD\n\n\0",
    b"SUBSCRIBE\nid:0\ndestination:/topic/x\nack:client\n\n\0\n\n\nACK\nid:1\n\n\0",
    b"SEND\na:1\nb:2\nc:3\nd:4\n\n\0",
    b"SEND\nk:0123456789012345678901234567890\n\n\0",
    b"SEND\n\n0123456789012345678901234567890123456789012345678901234567890\0",
    b"SEND\ncontent-length:41\n\n\0",
];

#[test]
fn input_fed_one_byte_at_a_time_gives_the_same_result_as_fed_whole() {
    for version in Version::ALL {
        for limits in [FrameLimits::default(), small_limits()] {
            for input in GOLDEN {
                let mut whole_parser = FrameParser::new(limits);
                whole_parser.set_version(version);
                let mut byte_parser = whole_parser.clone();
                assert_eq!(
                    without_command_text(parse_whole(&mut whole_parser, input)),
                    without_command_text(parse_bytewise(&mut byte_parser, input)),
                    "{version} {limits:?} {:?}",
                    String::from_utf8_lossy(input)
                );
            }
        }
    }
}

// ---- encoder ------------------------------------------------------------------------------

#[test]
fn escape_for_follows_version_and_command() {
    assert_eq!(escape_for(Command::Send, Version::V1_0), Escaping::None);
    assert_eq!(escape_for(Command::Send, Version::V1_1), Escaping::V1_1);
    assert_eq!(escape_for(Command::Message, Version::V1_2), Escaping::V1_2);
    for command in [Command::Connect, Command::Stomp, Command::Connected] {
        assert_eq!(escape_for(command, Version::V1_2), Escaping::None);
    }
}

#[test]
fn encodes_exact_bytes_with_nul_and_lf_and_no_added_content_length() {
    let f = Frame::new(Command::Message)
        .with_header("destination", "/queue/a")
        .with_header("message-id", "7")
        .with_body("hello");
    let mut out = BytesMut::new();
    encode(&f, Version::V1_2, &mut out);
    assert_eq!(&out[..], b"MESSAGE\ndestination:/queue/a\nmessage-id:7\n\nhello\0\n");

    out.clear();
    encode(&Frame::new(Command::Receipt), Version::V1_0, &mut out);
    assert_eq!(&out[..], b"RECEIPT\n\n\0\n");
}

#[test]
fn encodes_a_body_with_nuls_as_given() {
    let f = Frame::new(Command::Send).with_header("content-length", "3").with_body(&b"a\0b"[..]);
    let mut out = BytesMut::new();
    encode(&f, Version::V1_1, &mut out);
    assert_eq!(&out[..], b"SEND\ncontent-length:3\n\na\0b\0\n");
}

#[test]
fn encoder_escapes_per_version() {
    let f = Frame::new(Command::Message).with_header("a:b\\", "x\ny:z\r\\");
    let cases: [(Version, &[u8]); 3] = [
        (Version::V1_0, b"MESSAGE\na:b\\:x\ny:z\r\\\n\n\0\n"),
        (Version::V1_1, b"MESSAGE\na\\cb\\\\:x\\ny\\cz\r\\\\\n\n\0\n"),
        (Version::V1_2, b"MESSAGE\na\\cb\\\\:x\\ny\\cz\\r\\\\\n\n\0\n"),
    ];
    for (version, expected) in cases {
        let mut out = BytesMut::new();
        encode(&f, version, &mut out);
        assert_eq!(&out[..], expected, "{version}: {:?}", String::from_utf8_lossy(&out));
    }
}

#[test]
fn encoder_never_escapes_handshake_frames() {
    let f = Frame::new(Command::Connected).with_header("server", "stompbox/0.1 a:b\\c");
    let mut out = BytesMut::new();
    encode(&f, Version::V1_2, &mut out);
    assert_eq!(&out[..], b"CONNECTED\nserver:stompbox/0.1 a:b\\c\n\n\0\n");
}

#[test]
fn write_header_copies_runs_between_special_bytes() {
    let mut out = BytesMut::new();
    write_header(&mut out, "plain", "no specials here", Escaping::V1_2);
    write_header(&mut out, "k", "\\\\::\n\n\r", Escaping::V1_2);
    write_header(&mut out, "k", "ab\rcd:", Escaping::V1_1);
    write_header(&mut out, "", "", Escaping::None);
    assert_eq!(&out[..], b"plain:no specials here\nk:\\\\\\\\\\c\\c\\n\\n\\r\nk:ab\rcd\\c\n:\n".as_slice());
}

#[test]
fn write_frame_lays_out_borrowed_parts_and_ends_at_the_nul() {
    let mut out = BytesMut::new();
    write_frame(&mut out, b"SEND", [("destination", "/queue/a"), ("k", "a:b")], b"hi", Escaping::V1_2);
    assert_eq!(&out[..], b"SEND\ndestination:/queue/a\nk:a\\cb\n\nhi\0");

    // Byte strings need not be UTF-8; without escaping they go out as given.
    out.clear();
    let headers: [(&[u8], &[u8]); 1] = [(b"x", b"\xff:\\")];
    write_frame(&mut out, b"FOO", headers, b"", Escaping::None);
    assert_eq!(&out[..], b"FOO\nx:\xff:\\\n\n\0");
}

#[test]
fn encoded_frames_parse_back() {
    let f = Frame::new(Command::Send)
        .with_header("destination", "/queue/a")
        .with_header("weird:name", "line1\nline2\r\\end")
        .with_header("content-length", "4")
        .with_body(&b"\0\0\0\0"[..]);
    let mut out = BytesMut::new();
    encode(&f, Version::V1_2, &mut out);
    let mut parser = parser(Version::V1_2);
    assert_eq!(parser.parse(&mut out), Ok(Some(Parsed::Frame(f))));
    assert_eq!(parser.parse(&mut out), Ok(Some(Parsed::Heartbeat)));
    assert!(out.is_empty());
}
