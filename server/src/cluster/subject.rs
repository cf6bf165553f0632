//! NATS subjects for topics, topic patterns, queues and durable subscriptions, and JetStream
//! names.
//!
//! A topic `/topic/a.b` is published on `<prefix>.t.a.b`, a queue `/queue/a.b` on
//! `<prefix>.q.a.b`, what the durable subscription `/dsub/a.b` collects on `<prefix>.q.=d.a.b`
//! (`=d` is no encoded segment), the topic's retained message on `<prefix>.r.a.b`, and what the
//! durable subscription is on `<prefix>.s.<a.b as one token>`. A segment that is not a plain NATS
//! token (letters, digits, `_`, `-`) is written as `~` and the hex of its bytes, so every topic
//! has one subject and no two topics share one. A pattern's `*` is NATS's `*`; `**` (zero or
//! more segments) is NATS's `>` (one or more) plus, at the end, the subject without it. A `**`
//! followed by more segments cannot be said in NATS: the node subscribes to everything under
//! the segments before it, and its own trie keeps only what matches.

use std::fmt::Write;

use stompbox_core::destination::{DURABLE_PREFIX, QUEUE_PREFIX};

/// The subject a message to the topic named `name` (after `/topic/`) is published on.
pub(crate) fn for_topic(prefix: &str, name: &str) -> String {
    for_name(prefix, "t", name)
}

/// The subject a message to the queue named `name` (after `/queue/`) is published on.
pub(crate) fn for_queue(prefix: &str, name: &str) -> String {
    for_name(prefix, "q", name)
}

/// The subject what the durable subscription named `name` (after `/dsub/`) collects is kept on,
/// in the queues' stream.
pub(crate) fn for_durable(prefix: &str, name: &str) -> String {
    for_name(prefix, "q.=d", name)
}

/// The subject and the shared JetStream consumer of a queue or durable subscription
/// (`/queue/NAME` or `/dsub/NAME`); `None` for another destination.
pub(crate) fn shared_queue(prefix: &str, destination: &str) -> Option<(String, String)> {
    if let Some(name) = destination.strip_prefix(QUEUE_PREFIX) {
        return Some((for_queue(prefix, name), consumer("q", name)));
    }
    let name = destination.strip_prefix(DURABLE_PREFIX)?;
    Some((for_durable(prefix, name), consumer("d", name)))
}

/// The subject that says what the durable subscription named `name` is (its last word).
pub(crate) fn for_subscription(prefix: &str, name: &str) -> String {
    let mut subject = format!("{prefix}.s.");
    push_token(&mut subject, name);
    subject
}

/// The subjects of every durable subscription's word: what the subscriptions' stream holds.
pub(crate) fn all_subscriptions(prefix: &str) -> String {
    format!("{prefix}.s.>")
}

/// The subject the retained message of the topic named `name` is kept on.
pub(crate) fn for_retained(prefix: &str, name: &str) -> String {
    for_name(prefix, "r", name)
}

/// The subjects of every queue: what the queues' stream holds.
pub(crate) fn all_queues(prefix: &str) -> String {
    format!("{prefix}.q.>")
}

/// The subjects of every retained message: what the retained messages' stream holds.
pub(crate) fn all_retained(prefix: &str) -> String {
    format!("{prefix}.r.>")
}

/// A JetStream stream's name for the nodes using `prefix`: stream names cannot hold `.` (nor
/// `*`, `>`, spaces), so everything outside `[A-Za-z0-9_-]` becomes `_`; `what` tells the
/// streams of one prefix apart (`queues`).
pub(crate) fn stream_name(prefix: &str, what: &str) -> String {
    let plain = |c: char| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '_' };
    format!("{}_{what}", prefix.chars().map(plain).collect::<String>())
}

/// The durable JetStream consumer every node shares for the queue (`kind` `q`) or durable
/// subscription (`d`) named `name`: `q_<name>` for a name of letters, digits, `_` and `-`, else
/// `qx_` and the hex of its bytes.
fn consumer(kind: &str, name: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    if !name.is_empty() && name.chars().all(plain) {
        return format!("{kind}_{name}");
    }
    name.bytes().fold(format!("{kind}x_"), |mut hex, byte| {
        let _ = write!(hex, "{byte:02x}");
        hex
    })
}

fn for_name(prefix: &str, kind: &str, name: &str) -> String {
    let mut subject = format!("{prefix}.{kind}");
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
    fn queues_and_jetstream_names_are_plain_tokens() {
        assert_eq!(for_queue("sb", "orders.eu"), "sb.q.orders.eu");
        assert_eq!(stream_name("app.vh.2", "queues"), "app_vh_2_queues");
        assert_ne!(stream_name("a.vh.1", "queues"), stream_name("a.vh.2", "queues"), "two hosts, two streams");
        let consumer = |destination| shared_queue("sb", destination).unwrap().1;
        assert_eq!(consumer("/queue/jobs-1"), "q_jobs-1");
        assert_eq!(consumer("/queue/a.b"), "qx_612e62");
        assert_ne!(consumer("/queue/qx_61"), consumer("/queue/a"), "an encoded name never meets a plain one");
        assert_eq!(consumer("/dsub/client.archive"), "dx_636c69656e742e61726368697665");
        assert_eq!(shared_queue("sb", "/topic/a"), None);
    }

    #[test]
    fn durable_subscriptions_have_subjects_of_their_own() {
        assert_eq!(shared_queue("sb", "/dsub/c.x"), Some(("sb.q.=d.c.x".into(), "dx_632e78".into())));
        assert_ne!(for_durable("sb", "x"), for_queue("sb", "=d.x"), "no queue's subject is a durable one's");
        assert_eq!(for_subscription("sb", "c.x"), "sb.s.~632e78");
        assert_eq!(all_subscriptions("sb"), "sb.s.>");
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
