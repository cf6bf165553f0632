//! Message selectors: SUBSCRIBE's `selector` header, the SQL-92 subset of JMS over a message's
//! headers, as Apollo and ActiveMQ take it.
//!
//! `priority > 5 AND (region = 'eu' OR region IS NULL) AND name LIKE 'chat\_%' ESCAPE '\'`
//!
//! - comparisons `=`, `<>`, `<`, `>`, `<=`, `>=`; `[NOT] LIKE 'pattern' [ESCAPE 'c']` (`%` any
//!   run, `_` one character); `[NOT] IN ('a', 'b')`; `[NOT] BETWEEN x AND y`; `IS [NOT] NULL`;
//! - `AND`, `OR`, `NOT`, parentheses; string literals in single quotes (`''` for a quote),
//!   numbers, `TRUE` and `FALSE`; keywords in any case; identifiers name headers.
//!
//! Logic is SQL's three-valued one: a comparison with a header the message lacks is unknown,
//! `NOT unknown` is unknown, and a message is selected only when the whole selector is true.
//! Header values are text: compared with a number, a value is read as a number (and is unknown
//! when it is not one); compared with `TRUE`/`FALSE`, as a boolean.
//!
//! - `parse`: the grammar (winnow), with the position of the first error;
//! - `eval`: the compiled selector and its evaluation, which allocates nothing per message;
//! - `like`: `LIKE` patterns.

mod eval;
mod like;
mod parse;

use std::fmt;

pub use eval::Selector;

/// Why a selector was refused: where, and what was expected there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectorError {
    /// The character position (1-based) where parsing failed.
    pub position: usize,
    /// What was expected there.
    pub expected: String,
}

impl fmt::Display for SelectorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid selector at position {}: expected {}", self.position, self.expected)
    }
}

impl std::error::Error for SelectorError {}
