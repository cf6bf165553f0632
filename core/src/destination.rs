//! Destinations: `/topic/NAME` (fan-out), `/queue/NAME` (each message to one consumer) and
//! `/dsub/NAME` (an existing durable topic subscription, to consume its backlog), and the
//! wildcard patterns of topic subscriptions.
//!
//! Names are `.`-separated segments. In a topic SUBSCRIBE, a segment `*` matches exactly one
//! segment and `**` matches zero or more, so `/topic/chat.**` matches `/topic/chat` and
//! `/topic/chat.general.demo`. Wildcards are refused anywhere else.

use std::collections::HashSet;
use std::sync::Arc;

use thiserror::Error;

/// The prefix of topic destinations.
pub const TOPIC_PREFIX: &str = "/topic/";
/// The prefix of queue destinations.
pub const QUEUE_PREFIX: &str = "/queue/";
/// The prefix of durable subscriptions (Apollo's).
pub const DURABLE_PREFIX: &str = "/dsub/";

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
}

impl Destination {
    /// Parses a concrete destination, as in SEND: no wildcards.
    pub fn parse(text: &str) -> Result<Destination, DestinationError> {
        let destination = Destination::parse_pattern(text)?;
        if destination.wildcard {
            return Err(DestinationError::MisplacedWildcard(text.to_owned()));
        }
        Ok(destination)
    }

    /// Parses a SUBSCRIBE destination: a topic may use `*` and `**` segments.
    pub fn parse_pattern(text: &str) -> Result<Destination, DestinationError> {
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

    /// Whether this is a pattern with `*` or `**` segments.
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
    values: Vec<T>,
}

impl<T> Default for Node<T> {
    fn default() -> Self {
        Node { literal: Default::default(), one: None, many: None, values: Vec::new() }
    }
}

impl<T> Node<T> {
    fn is_empty(&self) -> bool {
        self.values.is_empty() && self.literal.is_empty() && self.one.is_none() && self.many.is_none()
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
                literal => j > 0 && reach[j - 1] && name[j - 1] == literal,
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
}
