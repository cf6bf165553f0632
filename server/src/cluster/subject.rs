//! NATS subjects for topics and topic patterns.
//!
//! A topic `/topic/a.b` is published on `<prefix>.t.a.b`. A segment that is not a plain NATS
//! token (letters, digits, `_`, `-`) is written as `~` and the hex of its bytes, so every topic
//! has one subject and no two topics share one. A pattern's `*` is NATS's `*`; `**` (zero or
//! more segments) is NATS's `>` (one or more) plus, at the end, the subject without it. A `**`
//! followed by more segments cannot be said in NATS: the node subscribes to everything under
//! the segments before it, and its own trie keeps only what matches.

use std::fmt::Write;

/// The subject a message to the topic named `name` (after `/topic/`) is published on.
pub(crate) fn for_topic(prefix: &str, name: &str) -> String {
    let mut subject = format!("{prefix}.t");
    for segment in name.split('.') {
        subject.push('.');
        push_token(&mut subject, segment);
    }
    subject
}

/// The subjects to subscribe to for the topic pattern named `name` (after `/topic/`): one, or
/// two for a trailing `**`.
pub(crate) fn for_pattern(prefix: &str, name: &str) -> Vec<String> {
    let segments: Vec<&str> = name.split('.').collect();
    let mut subject = format!("{prefix}.t");
    for (at, segment) in segments.iter().enumerate() {
        match *segment {
            "**" => {
                let all = format!("{subject}.>");
                // Only `**` left: zero segments more match too, unless nothing came before.
                let zero_more = segments[at..].iter().all(|s| *s == "**") && at > 0;
                return if zero_more { vec![subject, all] } else { vec![all] };
            }
            "*" => subject.push_str(".*"),
            literal => {
                subject.push('.');
                push_token(&mut subject, literal);
            }
        }
    }
    vec![subject]
}

/// Appends a segment as one NATS token (see the module docs).
fn push_token(subject: &mut String, segment: &str) {
    let plain = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    if !segment.is_empty() && segment.chars().all(plain) {
        subject.push_str(segment);
        return;
    }
    subject.push('~');
    for byte in segment.bytes() {
        let _ = write!(subject, "{byte:02x}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_keep_plain_segments_and_encode_the_rest() {
        assert_eq!(for_topic("sb", "chat.room-1"), "sb.t.chat.room-1");
        assert_eq!(for_topic("sb", "a b.>.~"), "sb.t.~612062.~3e.~7e");
        assert_ne!(for_topic("sb", "~3e"), for_topic("sb", ">"), "an encoded name never meets a plain one");
    }

    #[test]
    fn patterns_use_nats_wildcards() {
        assert_eq!(for_pattern("sb", "chat.*"), ["sb.t.chat.*"]);
        assert_eq!(for_pattern("sb", "chat.**"), ["sb.t.chat", "sb.t.chat.>"]);
        assert_eq!(for_pattern("sb", "**"), ["sb.t.>"]);
        assert_eq!(for_pattern("sb", "a.**.b"), ["sb.t.a.>"], "everything under `a`, filtered locally");
        assert_eq!(for_pattern("sb", "a.**.**"), ["sb.t.a", "sb.t.a.>"]);
        assert_eq!(for_pattern("sb", "x y"), [for_topic("sb", "x y")]);
    }
}
