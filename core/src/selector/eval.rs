//! The compiled selector and its three-valued evaluation over a message's headers. Nothing here
//! allocates: header values are borrowed, numbers parsed from them in place.

use std::cmp::Ordering;

use super::like::Like;
use super::{parse, SelectorError};

/// A parsed selector, ready to test messages with. See the module docs of [`selector`](super).
#[derive(Debug, Clone, PartialEq)]
pub struct Selector {
    root: Expr,
    /// The text it was parsed from (what a durable subscription stores).
    text: Box<str>,
}

/// A selector expression.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Expr {
    /// Any of these (n-ary, so a long chain nests no deeper than one).
    Or(Vec<Expr>),
    /// All of these.
    And(Vec<Expr>),
    Not(Box<Expr>),
    Compare(Operand, Comparison, Operand),
    Like {
        operand: Operand,
        pattern: Like,
        negated: bool,
    },
    In {
        operand: Operand,
        list: Vec<Box<str>>,
        negated: bool,
    },
    Between {
        operand: Operand,
        low: Operand,
        high: Operand,
        negated: bool,
    },
    IsNull {
        operand: Operand,
        negated: bool,
    },
    /// An operand standing alone: `TRUE`, `FALSE`, or a header holding `true` or `false`.
    Truth(Operand),
}

/// What a comparison compares.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Operand {
    Header(Box<str>),
    Text(Box<str>),
    Number(f64),
    Boolean(bool),
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Comparison {
    Equal,
    NotEqual,
    Less,
    Greater,
    LessOrEqual,
    GreaterOrEqual,
}

/// SQL's three truth values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Truth {
    True,
    False,
    Unknown,
}

/// An operand's value in one message.
#[derive(Debug, Clone, Copy)]
enum Value<'a> {
    Text(&'a str),
    Number(f64),
    Boolean(bool),
}

impl Selector {
    /// Parses a selector whose parentheses and `NOT`s nest at most `max_depth` deep (so that
    /// neither parsing nor evaluation can exhaust the stack); the error says where and what
    /// was expected.
    pub fn parse(text: &str, max_depth: usize) -> Result<Selector, SelectorError> {
        parse::selector(text, max_depth).map(|root| Selector { root, text: text.into() })
    }

    /// The text it was parsed from.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether a message with these headers is selected (`header` looks one up by name).
    pub fn matches<'a>(&'a self, header: impl Fn(&str) -> Option<&'a str>) -> bool {
        self.root.eval(&header) == Truth::True
    }
}

impl Truth {
    fn of(value: bool) -> Truth {
        if value {
            Truth::True
        } else {
            Truth::False
        }
    }

    /// SQL's OR over `truths`, stopping at the first true one.
    fn any(truths: impl Iterator<Item = Truth>) -> Truth {
        let mut result = Truth::False;
        for truth in truths {
            match truth {
                Truth::True => return Truth::True,
                Truth::Unknown => result = Truth::Unknown,
                Truth::False => {}
            }
        }
        result
    }

    fn not(self) -> Truth {
        match self {
            Truth::True => Truth::False,
            Truth::False => Truth::True,
            Truth::Unknown => Truth::Unknown,
        }
    }

    /// `NOT self` when `negated`.
    fn negated_if(self, negated: bool) -> Truth {
        if negated {
            self.not()
        } else {
            self
        }
    }
}

impl Expr {
    fn eval<'a>(&'a self, header: &impl Fn(&str) -> Option<&'a str>) -> Truth {
        match self {
            Expr::Or(terms) => Truth::any(terms.iter().map(|term| term.eval(header))),
            Expr::And(terms) => Truth::any(terms.iter().map(|term| term.eval(header).not())).not(),
            Expr::Not(a) => a.eval(header).not(),
            Expr::Compare(a, comparison, b) => compare(a.value(header), *comparison, b.value(header)),
            Expr::Like { operand, pattern, negated } => match operand.value(header) {
                Some(Value::Text(text)) => Truth::of(pattern.matches(text)).negated_if(*negated),
                _ => Truth::Unknown,
            },
            Expr::In { operand, list, negated } => match operand.value(header) {
                Some(Value::Text(text)) => Truth::of(list.iter().any(|item| **item == *text)).negated_if(*negated),
                _ => Truth::Unknown,
            },
            Expr::Between { operand, low, high, negated } => {
                let value = operand.value(header);
                let above = compare(value, Comparison::GreaterOrEqual, low.value(header));
                let below = compare(value, Comparison::LessOrEqual, high.value(header));
                Expr::and(above, below).negated_if(*negated)
            }
            Expr::IsNull { operand, negated } => Truth::of(operand.value(header).is_none()).negated_if(*negated),
            Expr::Truth(operand) => match operand.value(header) {
                Some(Value::Boolean(value)) => Truth::of(value),
                Some(Value::Text(text)) => boolean(text).map_or(Truth::Unknown, Truth::of),
                _ => Truth::Unknown,
            },
        }
    }

    fn and(a: Truth, b: Truth) -> Truth {
        match (a, b) {
            (Truth::False, _) | (_, Truth::False) => Truth::False,
            (Truth::True, Truth::True) => Truth::True,
            _ => Truth::Unknown,
        }
    }
}

impl Operand {
    /// The value in a message; `None` for a header it does not have (SQL's NULL).
    fn value<'a>(&'a self, header: &impl Fn(&str) -> Option<&'a str>) -> Option<Value<'a>> {
        Some(match self {
            Operand::Header(name) => Value::Text(header(name)?),
            Operand::Text(text) => Value::Text(text),
            Operand::Number(number) => Value::Number(*number),
            Operand::Boolean(value) => Value::Boolean(*value),
        })
    }
}

/// Compares two values: numbers as numbers (text read as a number), text as text, booleans
/// for equality only. Unknown when either is missing or they cannot be compared.
fn compare(a: Option<Value<'_>>, comparison: Comparison, b: Option<Value<'_>>) -> Truth {
    let (Some(a), Some(b)) = (a, b) else { return Truth::Unknown };
    let ordering = match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.partial_cmp(&y),
        (Value::Number(x), Value::Text(t)) => number(t).and_then(|y| x.partial_cmp(&y)),
        (Value::Text(t), Value::Number(y)) => number(t).and_then(|x| x.partial_cmp(&y)),
        (Value::Text(s), Value::Text(t)) => Some(s.cmp(t)),
        (Value::Boolean(p), Value::Boolean(q)) => return equality(p == q, comparison),
        (Value::Boolean(p), Value::Text(t)) | (Value::Text(t), Value::Boolean(p)) => {
            return boolean(t).map_or(Truth::Unknown, |q| equality(p == q, comparison));
        }
        (Value::Boolean(_), Value::Number(_)) | (Value::Number(_), Value::Boolean(_)) => None,
    };
    let Some(ordering) = ordering else { return Truth::Unknown };
    Truth::of(match comparison {
        Comparison::Equal => ordering == Ordering::Equal,
        Comparison::NotEqual => ordering != Ordering::Equal,
        Comparison::Less => ordering == Ordering::Less,
        Comparison::Greater => ordering == Ordering::Greater,
        Comparison::LessOrEqual => ordering != Ordering::Greater,
        Comparison::GreaterOrEqual => ordering != Ordering::Less,
    })
}

/// Booleans compare for (in)equality only.
fn equality(equal: bool, comparison: Comparison) -> Truth {
    match comparison {
        Comparison::Equal => Truth::of(equal),
        Comparison::NotEqual => Truth::of(!equal),
        _ => Truth::Unknown,
    }
}

/// A header value read as a number.
fn number(text: &str) -> Option<f64> {
    text.trim().parse().ok()
}

/// A header value read as a boolean (`true` or `false`, any case).
fn boolean(text: &str) -> Option<bool> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("true") {
        Some(true)
    } else if text.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}
