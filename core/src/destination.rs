//! Destinations: `/topic/NAME` (fan-out), `/queue/NAME` (each message to one consumer) and
//! `/dsub/NAME` (an existing durable topic subscription, to consume its backlog), and the
//! wildcard patterns of topic subscriptions.
//!
//! Names are `.`-separated segments. In a topic SUBSCRIBE, a segment `*` matches exactly one
//! segment and `**` matches zero or more, so `/topic/chat.**` matches `/topic/chat` and
//! `/topic/chat.general.demo`; a segment `{regex}` (Apollo's) matches one segment the regular
//! expression matches whole, so `/topic/chat.{room[0-9]+}.demo` matches `/topic/chat.room7.demo`.
//! A regex cannot hold `.` or `,` (they separate segments and destinations) and its compiled
//! size is bounded ([`MAX_REGEX_BYTES`]). Wildcards are refused anywhere else (elsewhere, braces
//! are plain characters).

use std::collections::HashSet;
use std::sync::Arc;

use regex::{Regex, RegexBuilder};
use thiserror::Error;

/// The prefix of topic destinations.
pub const TOPIC_PREFIX: &str = "/topic/";
/// The prefix of queue destinations.
pub const QUEUE_PREFIX: &str = "/queue/";
/// The prefix of durable subscriptions (Apollo's).
pub const DURABLE_PREFIX: &str = "/dsub/";

/// The most memory one `{regex}` segment may compile to, in bytes: a pattern such as
/// `{a{1000}{1000}}` is refused instead of taking the broker's memory.
pub const MAX_REGEX_BYTES: usize = 64 * 1024;

/// Whether a destination fans out or load-balances.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `/topic/`: every current subscriber gets every message.
    Topic,
    /// `/queue/`: messages wait for a consumer; each goes to exactly one.
    Queue,
    /// `/dsub/`: a durable topic subscription, a queue fed by a topic pattern.
    Durable,
}

/// A validated destination or subscription pattern, e.g. `/topic/chat.general`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Destination {
    kind: Kind,
    full: Arc<str>,
    wildcard: bool,
}

/// Why a destination was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DestinationError {
    /// Not under `/topic/` or `/queue/` (nor, for SUBSCRIBE, `/dsub/`).
    #[error("destination {0:?} must start with /topic/ or /queue/")]
    UnknownPrefix(String),
    /// An empty name or an empty segment (`a..b`, trailing `.`).
    #[error("destination {0:?} has an empty name or segment")]
    EmptySegment(String),
    /// `*` or `**` where wildcards are not allowed, or a segment mixing them with text.
    #[error("destination {0:?}: wildcards are allowed only as whole segments of a topic SUBSCRIBE")]
    MisplacedWildcard(String),
    /// A control character in the name.
    #[error("destination {0:?} contains a control character")]
    ControlCharacter(String),
    /// A `{regex}` segment that does not compile (or is too large).
    #[error("destination {destination:?}: invalid regex segment: {reason}")]
    BadRegex {
        /// The destination.
        destination: String,
        /// Why the regex was refused.
        reason: String,
    },
}

impl Destination {
    /// Parses a concrete destination, as in SEND: no wildcards (braces are plain characters).
    pub fn parse(text: &str) -> Result<Destination, DestinationError> {
        let destination = Destination::parse_with(text, false)?;
        if destination.wildcard {
            return Err(DestinationError::MisplacedWildcard(text.to_owned()));
        }
        Ok(destination)
    }

    /// Parses a SUBSCRIBE destination: a topic may use `*`, `**` and `{regex}` segments.
    pub fn parse_pattern(text: &str) -> Result<Destination, DestinationError> {
        Destination::parse_with(text, true)
    }

    /// Parses a destination; `{regex}` segments of a topic are regexes when `regexes`.
    fn parse_with(text: &str, regexes: bool) -> Result<Destination, DestinationError> {
        let (kind, name) = if let Some(name) = text.strip_prefix(TOPIC_PREFIX) {
            (Kind::Topic, name)
        } else if let Some(name) = text.strip_prefix(QUEUE_PREFIX) {
            (Kind::Queue, name)
        } else if let Some(name) = text.strip_prefix(DURABLE_PREFIX) {
            (Kind::Durable, name)
        } else {
            return Err(DestinationError::UnknownPrefix(text.to_owned()));
        };
        if name.chars().any(char::is_control) {
            return Err(DestinationError::ControlCharacter(text.to_owned()));
        }
        let mut wildcard = false;
        for segment in name.split('.') {
            match segment {
                "" => return Err(DestinationError::EmptySegment(text.to_owned())),
                "*" | "**" => wildcard = true,
                s if s.contains('*') => return Err(DestinationError::MisplacedWildcard(text.to_owned())),
                s if regexes && kind == Kind::Topic && is_regex(s) => {
                    compile(s).map_err(|reason| DestinationError::BadRegex { destination: text.to_owned(), reason })?;
                    wildcard = true;
                }
                _ => {}
            }
        }
        if wildcard && kind != Kind::Topic {
            return Err(DestinationError::MisplacedWildcard(text.to_owned()));
        }
        Ok(Destination { kind, full: text.into(), wildcard })
    }

    /// Topic or queue.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The whole destination, prefix included.
    pub fn as_str(&self) -> &str {
        &self.full
    }

    /// The whole destination as a shared string.
    pub fn shared(&self) -> &Arc<str> {
        &self.full
    }

    /// The name after the prefix.
    pub fn name(&self) -> &str {
        let prefix = match self.kind {
            Kind::Topic => TOPIC_PREFIX,
            Kind::Queue => QUEUE_PREFIX,
            Kind::Durable => DURABLE_PREFIX,
        };
        &self.full[prefix.len()..]
    }

    /// Whether this is a pattern with `*`, `**` or `{regex}` segments.
    pub fn is_wildcard(&self) -> bool {
        self.wildcard
    }

    /// The name's segments.
    pub fn segments(&self) -> std::str::Split<'_, char> {
        self.name().split('.')
    }
}

/// A trie of topic subscriptions keyed by pattern segments, with `*` and `**` children kept
/// apart from literal ones (the shape of NATS's sublist). Matching a name visits only the
/// branches that can match.
#[derive(Debug)]
pub struct TopicTrie<T> {
    root: Node<T>,
    len: usize,
}

#[derive(Debug)]
struct Node<T> {
    literal: std::collections::HashMap<Box<str>, Node<T>>,
    one: Option<Box<Node<T>>>,
    many: Option<Box<Node<T>>>,
    /// `{regex}` segments: the segment as written, its compiled regex, the child.
    regex: Vec<(Box<str>, Option<Regex>, Node<T>)>,
    values: Vec<T>,
}

impl<T> Default for Node<T> {
    fn default() -> Self {
        Node { literal: Default::default(), one: None, many: None, regex: Vec::new(), values: Vec::new() }
    }
}

impl<T> Node<T> {
    fn is_empty(&self) -> bool {
        self.values.is_empty()
            && self.literal.is_empty()
            && self.one.is_none()
            && self.many.is_none()
            && self.regex.is_empty()
    }

    /// The child under a `{regex}` segment, made if need be.
    fn regex_child(&mut self, segment: &str) -> &mut Node<T> {
        let index = match self.regex.iter().position(|(text, ..)| &**text == segment) {
            Some(index) => index,
            None => {
                // Validated when the pattern was parsed; one that fails now matches nothing.
                self.regex.push((segment.into(), compile(segment).ok(), Node::default()));
                self.regex.len() - 1
            }
        };
        &mut self.regex[index].2
    }
}

/// Whether a pattern segment is a `{regex}` one.
fn is_regex(segment: &str) -> bool {
    segment.len() >= 2 && segment.starts_with('{') && segment.ends_with('}')
}

/// Compiles a `{regex}` segment to match a whole segment, within [`MAX_REGEX_BYTES`].
fn compile(segment: &str) -> Result<Regex, String> {
    let source = &segment[1..segment.len() - 1];
    RegexBuilder::new(&format!("^(?:{source})$"))
        .size_limit(MAX_REGEX_BYTES)
        .dfa_size_limit(MAX_REGEX_BYTES)
        .build()
        .map_err(|error| error.to_string())
}

/// Whether one pattern segment matches one name segment (`*` and `**` aside).
fn segment_matches(pattern: &str, name: &str) -> bool {
    match is_regex(pattern) {
        true => compile(pattern).is_ok_and(|regex| regex.is_match(name)),
        false => pattern == name,
    }
}

impl<T> Default for TopicTrie<T> {
    fn default() -> Self {
        TopicTrie { root: Node::default(), len: 0 }
    }
}

impl<T> TopicTrie<T> {
    /// An empty trie.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many values the trie holds.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the trie holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds `value` under a pattern's segments.
    pub fn insert<'a>(&mut self, segments: impl IntoIterator<Item = &'a str>, value: T) {
        let mut node = &mut self.root;
        for segment in segments {
            node = match segment {
                "*" => node.one.get_or_insert_with(Default::default),
                "**" => node.many.get_or_insert_with(Default::default),
                regex if is_regex(regex) => node.regex_child(regex),
                literal => node.literal.entry(literal.into()).or_default(),
            };
        }
        node.values.push(value);
        self.len += 1;
    }

    /// Removes the first value under the pattern for which `is_target` holds, pruning empty
    /// branches. Returns it, if found.
    pub fn remove<'a>(
        &mut self,
        segments: impl IntoIterator<Item = &'a str>,
        is_target: impl FnMut(&T) -> bool,
    ) -> Option<T> {
        let segments: Vec<&str> = segments.into_iter().collect();
        let removed = remove_in(&mut self.root, &segments, is_target);
        if removed.is_some() {
            self.len -= 1;
        }
        removed
    }

    /// Calls `visit` once for every value whose pattern matches the concrete name's segments.
    ///
    /// Each (node, position in the name) pair is visited once, so patterns with many `**`
    /// segments cost at most nodes × segments steps, not one step per way of splitting the name
    /// among them.
    pub fn for_each_match(&self, name: &[&str], mut visit: impl FnMut(&T)) {
        let mut search = Search { name, seen: HashSet::new(), ends: Vec::new() };
        search.visit(&self.root, 0);
        let mut ends = search.ends;
        if ends.len() > 1 {
            // Several `**` segments can reach the same node by different splits.
            ends.sort_unstable_by_key(|node| std::ptr::from_ref(*node) as usize);
            ends.dedup_by(|a, b| std::ptr::eq(*a, *b));
        }
        for node in ends {
            node.values.iter().for_each(&mut visit);
        }
    }
}

/// Whether a pattern's segments (`*` one segment, `**` zero or more) match a name's segments.
/// Used for configuration rules, which are few; subscriptions use [`TopicTrie`]. Dynamic
/// programming over (pattern position, name position): linear in their product, however many
/// `**` segments the pattern has.
pub fn segments_match(pattern: &[&str], name: &[&str]) -> bool {
    // `reach[j]`: the first `i` pattern segments can match the first `j` name segments.
    let mut reach = vec![false; name.len() + 1];
    reach[0] = true;
    for segment in pattern {
        let mut next = vec![false; name.len() + 1];
        for j in 0..=name.len() {
            next[j] = match *segment {
                "**" => reach[j] || (j > 0 && next[j - 1]),
                "*" => j > 0 && reach[j - 1],
                literal => j > 0 && reach[j - 1] && segment_matches(literal, name[j - 1]),
            };
        }
        reach = next;
    }
    reach[name.len()]
}

fn remove_in<T>(node: &mut Node<T>, segments: &[&str], is_target: impl FnMut(&T) -> bool) -> Option<T> {
    let Some((first, rest)) = segments.split_first() else {
        let index = node.values.iter().position(is_target)?;
        return Some(node.values.remove(index));
    };
    let removed;
    match *first {
        "*" => {
            let child = node.one.as_deref_mut()?;
            removed = remove_in(child, rest, is_target);
            if child.is_empty() {
                node.one = None;
            }
        }
        "**" => {
            let child = node.many.as_deref_mut()?;
            removed = remove_in(child, rest, is_target);
            if child.is_empty() {
                node.many = None;
            }
        }
        regex if is_regex(regex) => {
            let index = node.regex.iter().position(|(text, ..)| &**text == regex)?;
            removed = remove_in(&mut node.regex[index].2, rest, is_target);
            if node.regex[index].2.is_empty() {
                node.regex.remove(index);
            }
        }
        literal => {
            let child = node.literal.get_mut(literal)?;
            removed = remove_in(child, rest, is_target);
            if child.is_empty() {
                node.literal.remove(literal);
            }
        }
    }
    removed
}

/// A match of a name's segments against the trie, remembering the (node, position) pairs
/// already visited.
struct Search<'t, 'n, T> {
    name: &'n [&'n str],
    seen: HashSet<(usize, usize)>,
    ends: Vec<&'t Node<T>>,
}

impl<'t, T> Search<'t, '_, T> {
    /// Matches the name from segment `at` on, starting at `node`.
    fn visit(&mut self, node: &'t Node<T>, at: usize) {
        if !self.seen.insert((std::ptr::from_ref(node) as usize, at)) {
            return;
        }
        if let Some(many) = node.many.as_deref() {
            // `**` swallows zero or more segments.
            for skip in at..=self.name.len() {
                self.visit(many, skip);
            }
        }
        let Some(first) = self.name.get(at) else {
            if !node.values.is_empty() {
                self.ends.push(node);
            }
            return;
        };
        if let Some(child) = node.literal.get(*first) {
            self.visit(child, at + 1);
        }
        if let Some(one) = node.one.as_deref() {
            self.visit(one, at + 1);
        }
        for (_, regex, child) in &node.regex {
            if regex.as_ref().is_some_and(|regex| regex.is_match(first)) {
                self.visit(child, at + 1);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(patterns: &[&str], name: &str) -> Vec<usize> {
        let mut trie = TopicTrie::new();
        for (i, p) in patterns.iter().enumerate() {
            let d = Destination::parse_pattern(p).unwrap();
            trie.insert(d.segments(), i);
        }
        let d = Destination::parse(name).unwrap();
        let segments: Vec<&str> = d.segments().collect();
        let mut found = Vec::new();
        trie.for_each_match(&segments, |i| found.push(*i));
        found.sort();
        found
    }

    #[test]
    fn parse_accepts_topics_and_queues_only() {
        assert_eq!(Destination::parse("/topic/chat.general").unwrap().kind(), Kind::Topic);
        assert_eq!(Destination::parse("/queue/jobs").unwrap().name(), "jobs");
        assert!(matches!(Destination::parse("/exchange/x"), Err(DestinationError::UnknownPrefix(_))));
        assert!(matches!(Destination::parse("chat"), Err(DestinationError::UnknownPrefix(_))));
        assert_eq!(Destination::parse("/dsub/feed.eu").unwrap().kind(), Kind::Durable);
        assert_eq!(Destination::parse("/dsub/feed.eu").unwrap().name(), "feed.eu");
        assert!(matches!(Destination::parse_pattern("/dsub/a.*"), Err(DestinationError::MisplacedWildcard(_))));
        assert!(matches!(Destination::parse("/topic/"), Err(DestinationError::EmptySegment(_))));
        assert!(matches!(Destination::parse("/topic/a..b"), Err(DestinationError::EmptySegment(_))));
    }

    #[test]
    fn wildcards_only_in_topic_patterns() {
        assert!(Destination::parse_pattern("/topic/chat.*").unwrap().is_wildcard());
        assert!(Destination::parse_pattern("/topic/chat.**").unwrap().is_wildcard());
        assert!(matches!(Destination::parse("/topic/chat.*"), Err(DestinationError::MisplacedWildcard(_))));
        assert!(matches!(Destination::parse_pattern("/queue/a.*"), Err(DestinationError::MisplacedWildcard(_))));
        assert!(matches!(Destination::parse_pattern("/topic/a*"), Err(DestinationError::MisplacedWildcard(_))));
    }

    #[test]
    fn control_characters_are_refused() {
        for bad in ["/topic/a\u{7}b", "/queue/a\nb", "/topic/a\u{0}"] {
            assert!(matches!(Destination::parse(bad), Err(DestinationError::ControlCharacter(_))), "{bad:?}");
        }
    }

    #[test]
    fn star_matches_exactly_one_segment() {
        assert_eq!(matches(&["/topic/chat.*"], "/topic/chat.general"), vec![0]);
        assert!(matches(&["/topic/chat.*"], "/topic/chat").is_empty());
        assert!(matches(&["/topic/chat.*"], "/topic/chat.general.demo").is_empty());
    }

    #[test]
    fn double_star_matches_zero_or_more_segments() {
        let p = ["/topic/chat.**"];
        assert_eq!(matches(&p, "/topic/chat"), vec![0]);
        assert_eq!(matches(&p, "/topic/chat.general"), vec![0]);
        assert_eq!(matches(&p, "/topic/chat.general.demo"), vec![0]);
        assert!(matches(&p, "/topic/news.general").is_empty());
        assert_eq!(matches(&["/topic/**.demo"], "/topic/chat.general.demo"), vec![0]);
    }

    #[test]
    fn each_value_is_visited_once_even_with_many_paths() {
        assert_eq!(
            matches(&["/topic/**.**", "/topic/a.b", "/topic/*.b", "/topic/a.*"], "/topic/a.b"),
            vec![0, 1, 2, 3]
        );
    }

    #[test]
    fn segments_match_follows_the_wildcard_rules() {
        assert!(segments_match(&["**"], &[]));
        assert!(segments_match(&["orders", "*"], &["orders", "eu"]));
        assert!(!segments_match(&["orders", "*"], &["orders"]));
        assert!(segments_match(&["orders", "**"], &["orders", "eu", "fr"]));
        assert!(!segments_match(&["orders"], &["invoices"]));
    }

    #[test]
    fn many_double_stars_match_in_linear_steps() {
        // Exponential if every way of splitting 40 segments among ten `**` were tried.
        let pattern = ["**"; 10].join(".");
        let name = ["a"; 40].join(".");
        assert_eq!(matches(&[&format!("/topic/{pattern}")], &format!("/topic/{name}")), vec![0]);
        let segments: Vec<&str> = name.split('.').collect();
        assert!(segments_match(&["**"; 10], &segments));
        assert!(!segments_match(&[&["**"; 10][..], &["b"]].concat(), &segments));
    }

    #[test]
    fn remove_prunes_and_keeps_others() {
        let mut trie = TopicTrie::new();
        trie.insert(["a", "*"], 1);
        trie.insert(["a", "*"], 2);
        assert_eq!(trie.remove(["a", "*"], |v| *v == 1), Some(1));
        assert_eq!(trie.remove(["a", "*"], |v| *v == 1), None);
        assert_eq!(trie.len(), 1);
        assert_eq!(trie.remove(["a", "*"], |v| *v == 2), Some(2));
        assert!(trie.root.is_empty());
    }

    #[test]
    fn regex_segments_match_one_segment_whole_and_are_bounded() {
        assert_eq!(matches(&["/topic/chat.{room[0-9]+}.demo", "/topic/chat.*.demo"], "/topic/chat.room7.demo"), [0, 1]);
        assert_eq!(matches(&["/topic/chat.{room[0-9]+}.demo"], "/topic/chat.room7x.demo"), Vec::<usize>::new());
        assert_eq!(matches(&["/topic/chat.{room[0-9]+}.demo"], "/topic/chat.xroom7.demo"), Vec::<usize>::new());
        assert!(segments_match(&["{[a-c]+}", "**"], &["abc", "x", "y"]));
        assert!(Destination::parse_pattern("/topic/a.{x}").unwrap().is_wildcard());
        assert!(!Destination::parse_pattern("/queue/a.{x}").unwrap().is_wildcard(), "braces are plain in queues");
        assert_eq!(Destination::parse("/topic/a.{x}").unwrap().name(), "a.{x}", "and in SEND");
        assert!(matches!(Destination::parse_pattern("/topic/a.{(}"), Err(DestinationError::BadRegex { .. })));
        let huge = Destination::parse_pattern("/topic/{a{1000}{1000}}").unwrap_err();
        assert!(huge.to_string().contains("size limit"), "{huge}");

        let mut trie = TopicTrie::new();
        let pattern = Destination::parse_pattern("/topic/chat.{room[0-9]+}").unwrap();
        trie.insert(pattern.segments(), 1);
        assert_eq!(trie.remove(pattern.segments(), |v| *v == 1), Some(1));
        assert!(trie.root.is_empty(), "pruned");
    }
}
