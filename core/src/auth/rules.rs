//! Access rules, Apollo's model: `[[access_rule]]` tables compiled once into [`Rules`], the
//! [`Authorizer`] of a configured broker.
//!
//! A rule has `allow` and/or `deny` (users or groups, blank-separated; `+` is any logged-in user,
//! `*` everyone, anonymous logins too; `anonymous` names logins without credentials), and
//! narrows what it applies to with `action` (connect create destroy send receive consume admin
//! monitor, or `*`), `kind` (topic queue dsub broker connector, or `*`), `id` (a destination
//! name with the broker's wildcards, `*` alone meaning any), `id_regex` (must match the whole
//! id) and `connector` (the listener's name or kind the principal came in on). Unset means any.
//!
//! The semantics are Apollo's, so an Apollo user's rules behave as before:
//! 1. the rules are tried in order, and the first rule that matches decides;
//! 2. a rule matches when it applies to the resource, the action and the connector, and its
//!    `deny` or `allow` names the principal; when both name it, it denies;
//! 3. when no rule matches, access is refused; with no rules at all everything is allowed.
//!
//! (NATS differs: allowed when some allow entry and no deny entry matches, whatever the order.)
//!
//! What is asked: `connect` on the connector the session came in on and on the broker (both
//! must allow, as Apollo asks the connector and the virtual host); `send` and `create` on a
//! destination; `receive` on a topic, `consume` on a queue. A wildcard subscription is allowed
//! when some destination it matches could be allowed and no rule before that denies the whole
//! pattern; its deliveries are then filtered destination by destination.

use std::sync::Arc;

use regex::Regex;
use serde::Deserialize;
use thiserror::Error;

use super::users::ANONYMOUS;
use super::{Authorizer, Operation, Principal, Resource};
use crate::destination::{segments_match, Destination, Kind};

/// The id of the broker itself, for rules with `kind = "broker"` and an `id`.
pub const BROKER_ID: &str = "default";

/// One `[[access_rule]]` table as written. See the module docs.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessRule {
    /// Users or groups allowed: blank-separated (or split by `separator`); `+` any logged-in
    /// user, `*` everyone.
    pub allow: Option<String>,
    /// Users or groups denied, as `allow`.
    pub deny: Option<String>,
    /// Splits `allow` and `deny` instead of blanks (Apollo's attribute of the same name).
    pub separator: Option<String>,
    /// The actions it applies to (default `*`).
    pub action: Option<String>,
    /// The kinds of resource it applies to (default `*`).
    pub kind: Option<String>,
    /// The resource id: a destination name (without `/topic/` or `/queue/`, with `*` and `**`
    /// wildcards), a listener name, or the broker's id; `*` alone (the default) is any.
    pub id: Option<String>,
    /// A regular expression the whole id must match.
    pub id_regex: Option<String>,
    /// The listener (name or kind) the principal must have come in on (default `*`).
    pub connector: Option<String>,
}

/// Why the access rules were refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("access_rule {index}: {reason}")]
pub struct RuleError {
    /// Which rule, 1-based, in file order.
    pub index: usize,
    /// What is wrong with it.
    pub reason: String,
}

/// A resource kind, as rules name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ResourceKind {
    Broker,
    Connector,
    Topic,
    Queue,
    /// Durable subscriptions (`/dsub/NAME`), as Apollo's `dsub`.
    Dsub,
}

impl ResourceKind {
    fn parse(word: &str) -> Option<ResourceKind> {
        Some(match word {
            // Apollo's virtual host is what stompbox's broker is.
            "broker" | "virtual-host" | "virtual_host" => ResourceKind::Broker,
            "connector" => ResourceKind::Connector,
            "topic" => ResourceKind::Topic,
            "queue" => ResourceKind::Queue,
            "dsub" => ResourceKind::Dsub,
            _ => return None,
        })
    }

    fn bit(self) -> u8 {
        1 << self as u8
    }

    fn of(resource: &Resource<'_>) -> ResourceKind {
        match resource {
            Resource::Broker => ResourceKind::Broker,
            Resource::Connector(_) => ResourceKind::Connector,
            Resource::Destination(destination) => match destination.kind() {
                Kind::Topic => ResourceKind::Topic,
                Kind::Queue => ResourceKind::Queue,
                Kind::Durable => ResourceKind::Dsub,
            },
        }
    }
}

/// Who an `allow` or `deny` names.
#[derive(Debug, Clone, Default)]
struct Principals {
    everyone: bool,
    logged_in: bool,
    names: Vec<Arc<str>>,
}

impl Principals {
    fn parse(value: &str, separator: Option<&str>) -> Principals {
        let words: Vec<&str> = match separator {
            Some(separator) => value.split(separator).map(str::trim).collect(),
            None => value.split_whitespace().collect(),
        };
        let mut principals = Principals::default();
        for word in words.into_iter().filter(|w| !w.is_empty()) {
            match word {
                "*" => principals.everyone = true,
                "+" => principals.logged_in = true,
                name => principals.names.push(name.into()),
            }
        }
        principals
    }

    fn include(&self, principal: &Principal) -> bool {
        if self.everyone || (self.logged_in && principal.user.is_some()) {
            return true;
        }
        let user = principal.user.as_deref().unwrap_or(ANONYMOUS);
        self.names.iter().any(|name| **name == *user || principal.groups.contains(name))
    }
}

/// How a rule's `id` and `id_regex` relate to a wildcard subscription's pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Overlap {
    /// No destination matches both.
    None,
    /// Some destinations the pattern matches are matched by the rule, maybe not all.
    Some,
    /// Every destination the pattern matches is matched by the rule.
    All,
}

/// One compiled rule.
#[derive(Debug)]
struct Rule {
    /// Bit per [`Operation`]; every bit for `*`.
    actions: u8,
    /// Bit per [`ResourceKind`]; every bit for `*`.
    kinds: u8,
    /// `None` for any id; else the id and its `.`-separated segments.
    id: Option<(String, Vec<String>)>,
    id_regex: Option<Regex>,
    /// `None` for any connector.
    connectors: Option<Vec<String>>,
    allow: Option<Principals>,
    deny: Option<Principals>,
}

impl Rule {
    fn compile(rule: &AccessRule, index: usize) -> Result<Rule, RuleError> {
        let error = |reason: String| RuleError { index, reason };
        if rule.allow.is_none() && rule.deny.is_none() {
            return Err(error("either allow or deny must be given".to_owned()));
        }
        let actions = match words(&rule.action) {
            None => u8::MAX,
            Some(words) => words.iter().try_fold(0, |bits, word| match Operation::parse(word) {
                Some(operation) => Ok(bits | operation.bit()),
                None => Err(error(format!(
                    "unknown action {word:?} (expected connect create destroy send receive consume admin monitor, or *)"
                ))),
            })?,
        };
        let kinds = match words(&rule.kind) {
            None => u8::MAX,
            Some(words) => words.iter().try_fold(0, |bits, word| match ResourceKind::parse(word) {
                Some(kind) => Ok(bits | kind.bit()),
                None => Err(error(format!("unknown kind {word:?} (expected topic queue dsub broker connector, or *)"))),
            })?,
        };
        let id = match rule.id.as_deref().map(str::trim) {
            None | Some("*") => None,
            Some(id) => {
                let segments: Vec<String> = id.split('.').map(str::to_owned).collect();
                let misplaced = |s: &String| s.is_empty() || (s.contains('*') && s != "*" && s != "**");
                if segments.iter().any(misplaced) {
                    return Err(error(format!(
                        "id {id:?}: segments are separated by single dots, and * and ** stand alone"
                    )));
                }
                Some((id.to_owned(), segments))
            }
        };
        let id_regex = match &rule.id_regex {
            None => None,
            Some(source) => {
                Some(Regex::new(&format!("^(?:{source})$")).map_err(|e| error(format!("id_regex {source:?}: {e}")))?)
            }
        };
        let separator = rule.separator.as_deref();
        Ok(Rule {
            actions,
            kinds,
            id,
            id_regex,
            connectors: words(&rule.connector).map(|w| w.into_iter().map(str::to_owned).collect()),
            allow: rule.allow.as_deref().map(|v| Principals::parse(v, separator)),
            deny: rule.deny.as_deref().map(|v| Principals::parse(v, separator)),
        })
    }

    /// Whether the rule's kind, action and connector let it speak about this question.
    fn concerns(&self, principal: &Principal, operation: Operation, kind: ResourceKind) -> bool {
        self.actions & operation.bit() != 0
            && self.kinds & kind.bit() != 0
            && self.connectors.as_ref().is_none_or(|names| {
                let connector = &principal.connector;
                names.iter().any(|n| **n == *connector.name || **n == *connector.kind)
            })
    }

    /// How the rule's ids relate to the resource: `All` or `None` for a concrete resource.
    fn overlap(&self, resource: &Resource<'_>) -> Overlap {
        let (id, pattern) = match resource {
            Resource::Broker => (BROKER_ID, None),
            Resource::Connector(connector) => (&*connector.name, None),
            Resource::Destination(destination) => (destination.name(), Some(*destination)),
        };
        let by_id = match (&self.id, pattern) {
            (None, _) => Overlap::All,
            (Some((name, _)), None) => match name == id {
                true => Overlap::All,
                false => Overlap::None,
            },
            (Some((_, rule)), Some(destination)) => pattern_overlap(rule, destination),
        };
        match (&self.id_regex, by_id) {
            (None, overlap) | (Some(_), overlap @ Overlap::None) => overlap,
            (Some(regex), overlap) if !pattern.is_some_and(Destination::is_wildcard) => {
                if regex.is_match(id) {
                    overlap
                } else {
                    Overlap::None
                }
            }
            // A regular expression cannot be compared with a pattern: it may match some of it.
            (Some(_), _) => Overlap::Some,
        }
    }
}

/// The words of an optional blank-separated attribute; `None` when unset or `*`.
fn words(value: &Option<String>) -> Option<Vec<&str>> {
    let words: Vec<&str> = value.as_deref()?.split_whitespace().collect();
    (!words.is_empty() && !words.contains(&"*")).then_some(words)
}

/// How a rule's id pattern relates to a destination (a wildcard subscription's pattern or a
/// concrete name).
fn pattern_overlap(rule: &[String], destination: &Destination) -> Overlap {
    let rule: Vec<&str> = rule.iter().map(String::as_str).collect();
    let name: Vec<&str> = destination.segments().collect();
    if !destination.is_wildcard() {
        return match segments_match(&rule, &name) {
            true => Overlap::All,
            false => Overlap::None,
        };
    }
    if covers(&rule, &name) {
        Overlap::All
    } else if intersects(&rule, &name) {
        Overlap::Some
    } else {
        Overlap::None
    }
}

/// Whether every name `pattern` matches is matched by `rule` (`*` one segment, `**` any number).
/// Dynamic programming over both lengths: patterns come from clients and may be long.
fn covers(rule: &[&str], pattern: &[&str]) -> bool {
    // at[i][j]: rule[i..] covers pattern[j..].
    let (n, m) = (rule.len(), pattern.len());
    let mut at = vec![vec![false; m + 1]; n + 1];
    at[n][m] = true;
    for i in (0..n).rev() {
        for j in (0..=m).rev() {
            at[i][j] = match (rule[i], pattern.get(j).copied()) {
                // `**` covers nothing more (next rule segment) or eats one pattern segment.
                ("**", next) => at[i + 1][j] || (next.is_some() && at[i][j + 1]),
                (_, None | Some("**")) => false,
                ("*", Some(_)) => at[i + 1][j + 1],
                (literal, Some(segment)) => literal == segment && at[i + 1][j + 1],
            };
        }
    }
    at[0][0]
}

/// Whether some name is matched by both patterns.
fn intersects(a: &[&str], b: &[&str]) -> bool {
    // at[i][j]: some name matches both a[i..] and b[j..].
    let (n, m) = (a.len(), b.len());
    let mut at = vec![vec![false; m + 1]; n + 1];
    for i in (0..=n).rev() {
        for j in (0..=m).rev() {
            at[i][j] = match (a.get(i).copied(), b.get(j).copied()) {
                (None, None) => true,
                (Some("**"), _) => at[i + 1][j] || (j < m && at[i][j + 1]),
                (_, Some("**")) => at[i][j + 1] || (i < n && at[i + 1][j]),
                (None, Some(_)) | (Some(_), None) => false,
                (Some(x), Some(y)) => (x == "*" || y == "*" || x == y) && at[i + 1][j + 1],
            };
        }
    }
    at[0][0]
}

/// The compiled access rules: an [`Authorizer`]. See the module docs.
#[derive(Debug, Default)]
pub struct Rules {
    rules: Vec<Rule>,
}

impl Rules {
    /// Compiles rules, in order. No rules at all allows everything.
    pub fn compile(rules: &[AccessRule]) -> Result<Rules, RuleError> {
        let rules = rules.iter().enumerate().map(|(i, rule)| Rule::compile(rule, i + 1)).collect::<Result<_, _>>()?;
        Ok(Rules { rules })
    }

    /// How many rules there are.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Whether there are none (everything is allowed).
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}

impl Authorizer for Rules {
    fn allows(&self, principal: &Principal, operation: Operation, resource: Resource<'_>) -> bool {
        if self.rules.is_empty() {
            return true;
        }
        let kind = ResourceKind::of(&resource);
        for rule in &self.rules {
            if !rule.concerns(principal, operation, kind) {
                continue;
            }
            let overlap = rule.overlap(&resource);
            if overlap == Overlap::None {
                continue;
            }
            if rule.deny.as_ref().is_some_and(|deny| deny.include(principal)) {
                if overlap == Overlap::All {
                    return false;
                }
                // Denies part of a wildcard subscription: delivery filters that part out.
                continue;
            }
            if rule.allow.as_ref().is_some_and(|allow| allow.include(principal)) {
                return true;
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Connector;

    fn rule(allow: Option<&str>, deny: Option<&str>, action: &str) -> AccessRule {
        AccessRule {
            allow: allow.map(str::to_owned),
            deny: deny.map(str::to_owned),
            action: Some(action.to_owned()),
            ..AccessRule::default()
        }
    }

    fn user(name: &str, groups: &[&str]) -> Principal {
        Principal {
            user: Some(name.into()),
            groups: groups.iter().map(|g| Arc::from(*g)).collect(),
            connector: Connector::of_kind("tcp"),
        }
    }

    fn dest(text: &str) -> Destination {
        Destination::parse_pattern(text).unwrap()
    }

    fn can(rules: &Rules, who: &Principal, operation: Operation, destination: &str) -> bool {
        rules.allows(who, operation, Resource::Destination(&dest(destination)))
    }

    #[test]
    fn the_first_matching_rule_decides_in_both_orders() {
        let both = user("u", &["blue", "red"]);
        let deny_first = Rules::compile(&[rule(None, Some("blue"), "send"), rule(Some("red"), None, "send")]).unwrap();
        assert!(!can(&deny_first, &both, Operation::Send, "/topic/t"));
        let allow_first = Rules::compile(&[rule(Some("red"), None, "send"), rule(None, Some("blue"), "send")]).unwrap();
        assert!(can(&allow_first, &both, Operation::Send, "/topic/t"));
    }

    #[test]
    fn each_action_is_allowed_by_its_name_and_no_other() {
        let demo = user("demo", &[]);
        for operation in Operation::ALL {
            let rules = Rules::compile(&[rule(Some("demo"), None, operation.as_str())]).unwrap();
            for asked in Operation::ALL {
                let allowed = rules.allows(&demo, asked, Resource::Broker);
                assert_eq!(allowed, asked == operation, "rule {operation}, asked {asked}");
            }
        }
    }

    #[test]
    fn a_rule_that_allows_and_denies_the_principal_denies() {
        let rules = Rules::compile(&[rule(Some("red"), Some("blue"), "send")]).unwrap();
        assert!(!can(&rules, &user("u", &["blue", "red"]), Operation::Send, "/topic/t"));
        assert!(can(&rules, &user("u", &["red"]), Operation::Send, "/topic/t"));
    }

    #[test]
    fn nothing_matching_is_refused_and_no_rules_allow_all() {
        let rules = Rules::compile(&[rule(Some("admins"), None, "*")]).unwrap();
        assert!(!can(&rules, &user("demo", &["users"]), Operation::Send, "/topic/t"));
        assert!(can(&rules, &user("boss", &["admins"]), Operation::Destroy, "/queue/q"));
        assert!(can(&Rules::default(), &user("demo", &[]), Operation::Send, "/topic/t"));
    }

    #[test]
    fn star_plus_and_anonymous_name_who_they_say() {
        let anonymous = Principal::anonymous(Connector::of_kind("tcp"));
        let demo = user("demo", &[]);
        let plus = Rules::compile(&[rule(Some("+"), None, "send")]).unwrap();
        assert!(can(&plus, &demo, Operation::Send, "/topic/t"));
        assert!(!can(&plus, &anonymous, Operation::Send, "/topic/t"));
        let star = Rules::compile(&[rule(Some("*"), None, "send")]).unwrap();
        assert!(can(&star, &anonymous, Operation::Send, "/topic/t"));
        let named = Rules::compile(&[rule(Some("anonymous"), None, "send")]).unwrap();
        assert!(can(&named, &anonymous, Operation::Send, "/topic/t"));
        assert!(!can(&named, &demo, Operation::Send, "/topic/t"));
        let users = Rules::compile(&[rule(Some("app1 demo"), None, "send")]).unwrap();
        assert!(can(&users, &demo, Operation::Send, "/topic/t"), "blank-separated users");
        let separated =
            Rules::compile(&[AccessRule { separator: Some(",".into()), ..rule(Some("app1, demo"), None, "send") }])
                .unwrap();
        assert!(can(&separated, &demo, Operation::Send, "/topic/t"));
    }

    #[test]
    fn kind_id_and_id_regex_narrow_a_rule() {
        let demo = user("demo", &[]);
        let rules = Rules::compile(&[
            AccessRule { kind: Some("queue".into()), ..rule(Some("demo"), None, "send") },
            AccessRule { id: Some("chat.**".into()), ..rule(Some("demo"), None, "receive") },
            AccessRule { id_regex: Some("jobs\\.[0-9]+".into()), ..rule(Some("demo"), None, "consume") },
        ])
        .unwrap();
        assert!(can(&rules, &demo, Operation::Send, "/queue/q"));
        assert!(!can(&rules, &demo, Operation::Send, "/topic/q"), "kind");
        assert!(can(&rules, &demo, Operation::Receive, "/topic/chat.general.demo"));
        assert!(!can(&rules, &demo, Operation::Receive, "/topic/news"), "id");
        assert!(can(&rules, &demo, Operation::Consume, "/queue/jobs.42"));
        assert!(!can(&rules, &demo, Operation::Consume, "/queue/jobs.42x"), "the whole id must match");
    }

    #[test]
    fn connect_is_asked_of_the_connector_and_the_broker() {
        let mut ws_user = user("demo", &[]);
        ws_user.connector = Connector { name: "public".into(), kind: "ws".into() };
        let rules = Rules::compile(&[
            AccessRule { connector: Some("ws".into()), ..rule(None, Some("*"), "connect") },
            rule(Some("*"), None, "connect"),
        ])
        .unwrap();
        assert!(!rules.allows(&ws_user, Operation::Connect, Resource::Broker), "connector by kind");
        assert!(rules.allows(&user("demo", &[]), Operation::Connect, Resource::Broker));
        let by_id = Rules::compile(&[AccessRule {
            kind: Some("connector".into()),
            id: Some("public".into()),
            ..rule(Some("*"), None, "connect")
        }])
        .unwrap();
        assert!(by_id.allows(&ws_user, Operation::Connect, Resource::Connector(&ws_user.connector)));
        assert!(!by_id.allows(&ws_user, Operation::Connect, Resource::Broker), "kind connector only");
    }

    #[test]
    fn a_wildcard_subscription_is_refused_only_when_all_of_it_is() {
        let demo = user("demo", &[]);
        let rules = Rules::compile(&[
            AccessRule { id: Some("chat.secret".into()), ..rule(None, Some("demo"), "receive") },
            AccessRule { id: Some("admin.**".into()), ..rule(None, Some("demo"), "receive") },
            AccessRule { id: Some("chat.*".into()), ..rule(Some("demo"), None, "receive") },
            AccessRule { id: Some("admin.public".into()), ..rule(Some("demo"), None, "receive") },
        ])
        .unwrap();
        assert!(can(&rules, &demo, Operation::Receive, "/topic/chat.*"), "partly denied: filtered later");
        assert!(!can(&rules, &demo, Operation::Receive, "/topic/chat.secret"));
        assert!(can(&rules, &demo, Operation::Receive, "/topic/chat.general"));
        assert!(!can(&rules, &demo, Operation::Receive, "/topic/admin.*"), "all of it is denied first");
        assert!(can(&rules, &demo, Operation::Receive, "/topic/**"), "some of it is allowed");
        assert!(!can(&rules, &demo, Operation::Receive, "/topic/news.*"), "none of it is allowed");
    }

    #[test]
    fn covers_and_intersects_follow_the_wildcards() {
        let s = |text: &'static str| text.split('.').collect::<Vec<_>>();
        assert!(covers(&s("chat.**"), &s("chat.*.demo")));
        assert!(covers(&s("**"), &s("a.**")));
        assert!(covers(&s("chat.*"), &s("chat.*")));
        assert!(!covers(&s("chat.*"), &s("chat.**")));
        assert!(!covers(&s("chat.general"), &s("chat.*")));
        assert!(intersects(&s("chat.general"), &s("chat.*")));
        assert!(intersects(&s("**.demo"), &s("chat.**")));
        assert!(!intersects(&s("news.*"), &s("chat.**")));
        assert!(!intersects(&s("a.*"), &s("a")));
        let long: Vec<&str> = vec!["**"; 2000];
        assert!(covers(&long, &long) && intersects(&long, &long), "quadratic, not exponential");
    }

    #[test]
    fn mistakes_are_errors_with_the_rule_number() {
        let error = Rules::compile(&[rule(Some("a"), None, "send"), rule(Some("a"), None, "publish")]).unwrap_err();
        assert_eq!(error.index, 2);
        assert!(error.reason.contains("publish"), "{error}");
        assert!(Rules::compile(&[AccessRule::default()]).is_err(), "neither allow nor deny");
        let kind = AccessRule { kind: Some("exchange".into()), ..rule(Some("a"), None, "*") };
        assert!(Rules::compile(&[kind]).is_err());
        let regex = AccessRule { id_regex: Some("(".into()), ..rule(Some("a"), None, "*") };
        assert!(Rules::compile(&[regex]).is_err());
        let id = AccessRule { id: Some("chat.a*".into()), ..rule(Some("a"), None, "*") };
        assert!(Rules::compile(&[id]).is_err());
    }
}
