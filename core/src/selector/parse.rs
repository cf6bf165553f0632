//! The selector grammar, parsed with winnow:
//!
//! ```text
//! selector   = or EOF
//! or         = and ("OR" and)*
//! and        = not ("AND" not)*
//! not        = "NOT" not | "(" or ")" | predicate
//! predicate  = operand [ compare operand
//!                      | ["NOT"] "LIKE" string ["ESCAPE" string]
//!                      | ["NOT"] "IN" "(" string ("," string)* ")"
//!                      | ["NOT"] "BETWEEN" operand "AND" operand
//!                      | "IS" ["NOT"] "NULL" ]
//! operand    = string | number | "TRUE" | "FALSE" | identifier
//! ```
//!
//! Keywords are case-insensitive whole words; an identifier is a letter, `_` or `$`, then
//! letters, digits, `_`, `$`, `.` or `-`, and is not a keyword. Once a keyword commits to a
//! construct (`LIKE`, `IN`, `BETWEEN`, `IS`, `NOT`), a mistake after it is reported there, not
//! as a failure to match something else.

use winnow::ascii::{float, multispace0, Caseless};
use winnow::combinator::{alt, cut_err, delimited, eof, fail, not, opt, preceded, repeat, separated, terminated};
use winnow::error::{ContextError, ErrMode, StrContext, StrContextValue};
use winnow::prelude::*;
use winnow::token::{any, one_of, take_while};

use super::eval::{Comparison, Expr, Operand};
use super::like::Like;
use super::SelectorError;

type Input<'i> = &'i str;

/// Words that cannot name a header.
const KEYWORDS: [&str; 11] = ["AND", "OR", "NOT", "LIKE", "ESCAPE", "IN", "BETWEEN", "IS", "NULL", "TRUE", "FALSE"];

/// Parses a whole selector nested at most `max_depth` deep (see [`nesting`]).
pub(super) fn selector(text: &str, max_depth: usize) -> Result<Expr, SelectorError> {
    nesting(text, max_depth)?;
    terminated(delimited(multispace0, or, multispace0), eof.context(expected("AND, OR or the end")))
        .parse(text)
        .map_err(|error| SelectorError {
            position: text[..error.offset()].chars().count() + 1,
            expected: describe(error.inner()),
        })
}

/// Refuses a selector whose parentheses and `NOT`s nest deeper than `max_depth`, before the
/// recursive parser (and later the evaluation) could exhaust the stack: the depth counted is
/// the open parentheses plus every `NOT` so far, outside string literals, which bounds both.
fn nesting(text: &str, max_depth: usize) -> Result<(), SelectorError> {
    let (mut open, mut nots, mut quoted) = (0usize, 0usize, false);
    let mut word_start = None;
    for (position, (index, c)) in text.char_indices().enumerate() {
        let in_word = !quoted && is_identifier_char(c);
        match (word_start, in_word) {
            (None, true) => word_start = Some(index),
            (Some(start), false) => {
                nots += usize::from(text[start..index].eq_ignore_ascii_case("NOT"));
                word_start = None;
            }
            _ => {}
        }
        match c {
            '\'' => quoted = !quoted,
            '(' if !quoted => open += 1,
            ')' if !quoted => open = open.saturating_sub(1),
            _ => {}
        }
        if open + nots > max_depth {
            return Err(SelectorError {
                position: position + 1,
                expected: format!("parentheses and NOTs nested at most {max_depth} deep"),
            });
        }
    }
    Ok(())
}

/// What a failed parse expected, from its contexts.
fn describe(error: &ContextError) -> String {
    let expected: Vec<String> = error
        .context()
        .filter_map(|context| match context {
            StrContext::Expected(value) => Some(value.to_string()),
            _ => None,
        })
        .collect();
    if expected.is_empty() {
        "a valid selector".to_owned()
    } else {
        expected.join(" or ")
    }
}

fn expected(what: &'static str) -> StrContext {
    StrContext::Expected(StrContextValue::Description(what))
}

fn or(input: &mut Input<'_>) -> ModalResult<Expr> {
    let first = and.parse_next(input)?;
    let rest = repeat(0.., preceded(keyword("OR"), cut_err(and))).parse_next(input)?;
    Ok(chain(first, rest, Expr::Or))
}

fn and(input: &mut Input<'_>) -> ModalResult<Expr> {
    let first = negation.parse_next(input)?;
    let rest = repeat(0.., preceded(keyword("AND"), cut_err(negation))).parse_next(input)?;
    Ok(chain(first, rest, Expr::And))
}

/// `first` alone, or with `rest` as one n-ary `AND` or `OR`.
fn chain(first: Expr, mut rest: Vec<Expr>, join: fn(Vec<Expr>) -> Expr) -> Expr {
    if rest.is_empty() {
        return first;
    }
    rest.insert(0, first);
    join(rest)
}

fn negation(input: &mut Input<'_>) -> ModalResult<Expr> {
    alt((
        preceded(keyword("NOT"), cut_err(negation)).map(|e| Expr::Not(Box::new(e))),
        delimited(token("("), cut_err(or), cut_err(token(")").context(expected("')'")))),
        predicate,
    ))
    .parse_next(input)
}

fn predicate(input: &mut Input<'_>) -> ModalResult<Expr> {
    let operand = operand.parse_next(input)?;
    if let Some(comparison) = opt(comparison).parse_next(input)? {
        let right = cut_err(operand_expected).parse_next(input)?;
        return Ok(Expr::Compare(operand, comparison, right));
    }
    if keyword("IS").parse_next(input).is_ok() {
        let negated = opt(keyword("NOT")).parse_next(input)?.is_some();
        cut_err(keyword("NULL").context(expected("NULL"))).parse_next(input)?;
        return Ok(Expr::IsNull { operand, negated });
    }
    let checkpoint = *input;
    let negated = opt(keyword("NOT")).parse_next(input)?.is_some();
    if keyword("LIKE").parse_next(input).is_ok() {
        return cut_err(like_tail(operand, negated)).parse_next(input);
    }
    if keyword("IN").parse_next(input).is_ok() {
        let list = cut_err(delimited(
            token("(").context(expected("'('")),
            separated(1.., string, token(",")),
            token(")").context(expected("',' or ')'")),
        ))
        .parse_next(input)?;
        return Ok(Expr::In { operand, list, negated });
    }
    if keyword("BETWEEN").parse_next(input).is_ok() {
        let low = cut_err(operand_expected).parse_next(input)?;
        cut_err(keyword("AND").context(expected("AND"))).parse_next(input)?;
        let high = cut_err(operand_expected).parse_next(input)?;
        return Ok(Expr::Between { operand, low, high, negated });
    }
    if negated {
        *input = checkpoint;
        return cut_err(fail.context(expected("LIKE, IN or BETWEEN after NOT"))).parse_next(input);
    }
    Ok(Expr::Truth(operand))
}

/// What follows `LIKE`: the pattern and its optional escape character.
fn like_tail<'i>(operand: Operand, negated: bool) -> impl Parser<Input<'i>, Expr, ErrMode<ContextError>> {
    move |input: &mut Input<'i>| {
        let pattern: Box<str> = string.context(expected("a quoted pattern")).parse_next(input)?;
        let escape = opt(preceded(keyword("ESCAPE"), cut_err(string.context(expected("a quoted escape character")))))
            .parse_next(input)?;
        let escape = match escape.as_deref().map(|e| {
            let mut chars = e.chars();
            (chars.next(), chars.next())
        }) {
            None => None,
            Some((Some(c), None)) => Some(c),
            Some(_) => return cut_err(fail.context(expected("a single escape character"))).parse_next(input),
        };
        let Some(pattern) = Like::new(&pattern, escape) else {
            return cut_err(fail.context(expected("a pattern that does not end in its escape character")))
                .parse_next(input);
        };
        Ok(Expr::Like { operand: operand.clone(), pattern, negated })
    }
}

fn comparison(input: &mut Input<'_>) -> ModalResult<Comparison> {
    token(alt((
        "<>".value(Comparison::NotEqual),
        "<=".value(Comparison::LessOrEqual),
        ">=".value(Comparison::GreaterOrEqual),
        "=".value(Comparison::Equal),
        "<".value(Comparison::Less),
        ">".value(Comparison::Greater),
    )))
    .parse_next(input)
}

fn operand_expected(input: &mut Input<'_>) -> ModalResult<Operand> {
    operand.context(expected("a value or a header name")).parse_next(input)
}

fn operand(input: &mut Input<'_>) -> ModalResult<Operand> {
    alt((
        string.map(Operand::Text),
        token(float).map(Operand::Number),
        keyword("TRUE").value(Operand::Boolean(true)),
        keyword("FALSE").value(Operand::Boolean(false)),
        identifier.map(Operand::Header),
    ))
    .context(expected("a value or a header name"))
    .parse_next(input)
}

/// A single-quoted string; `''` stands for one quote.
fn string(input: &mut Input<'_>) -> ModalResult<Box<str>> {
    token(delimited(
        '\'',
        repeat(0.., alt(("''".value('\''), any.verify(|c: &char| *c != '\''))))
            .map(|chars: String| chars.into_boxed_str()),
        cut_err('\''.context(expected("a closing quote"))),
    ))
    .parse_next(input)
}

fn identifier(input: &mut Input<'_>) -> ModalResult<Box<str>> {
    token(
        (one_of(|c: char| c.is_alphabetic() || c == '_' || c == '$'), take_while(0.., is_identifier_char))
            .take()
            .verify(|name: &str| !KEYWORDS.iter().any(|keyword| keyword.eq_ignore_ascii_case(name))),
    )
    .map(Box::from)
    .parse_next(input)
}

fn is_identifier_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '$' | '.' | '-')
}

/// A keyword, in any case, as a whole word, with the spaces after it.
fn keyword<'i>(word: &'static str) -> impl Parser<Input<'i>, (), ErrMode<ContextError>> {
    token(terminated(Caseless(word), not(one_of(is_identifier_char))).void())
}

/// `inner`, then the spaces after it.
fn token<'i, O>(
    inner: impl Parser<Input<'i>, O, ErrMode<ContextError>>,
) -> impl Parser<Input<'i>, O, ErrMode<ContextError>> {
    terminated(inner, multispace0)
}

#[cfg(test)]
mod tests {
    use super::super::Selector;

    const DEPTH: usize = 32;

    fn selects(selector: &str, headers: &[(&str, &str)]) -> bool {
        let selector = Selector::parse(selector, DEPTH).unwrap_or_else(|e| panic!("{selector}: {e}"));
        selector.matches(|name| headers.iter().find(|(n, _)| *n == name).map(|(_, v)| *v))
    }

    #[test]
    fn comparisons_of_numbers_text_and_booleans() {
        let headers = [("priority", "7"), ("region", "eu"), ("urgent", "true")];
        assert!(selects("priority > 5", &headers));
        assert!(selects("priority >= 7 AND priority <= 7.0", &headers));
        assert!(!selects("priority < 7", &headers));
        assert!(selects("priority <> 8", &headers));
        assert!(selects("region = 'eu'", &headers));
        assert!(selects("region <> 'us'", &headers));
        assert!(selects("urgent = TRUE", &headers));
        assert!(selects("urgent", &headers));
        assert!(!selects("region > 5", &headers), "text that is no number is unknown, not selected");
        assert!(selects("'eu' = region", &headers));
    }

    #[test]
    fn missing_headers_are_unknown_in_three_valued_logic() {
        let none: [(&str, &str); 0] = [];
        assert!(!selects("priority > 5", &none));
        assert!(!selects("NOT priority > 5", &none), "NOT unknown is unknown");
        assert!(selects("priority > 5 OR TRUE", &none));
        assert!(!selects("priority > 5 AND TRUE", &none));
        assert!(selects("priority IS NULL", &none));
        assert!(!selects("priority IS NOT NULL", &none));
    }

    #[test]
    fn like_in_between() {
        let headers = [("name", "chat_general"), ("region", "eu"), ("size", "15")];
        assert!(selects("name LIKE 'chat%'", &headers));
        assert!(selects("name LIKE 'chat\\_%' ESCAPE '\\'", &headers));
        assert!(!selects("name LIKE 'chat\\_x%' ESCAPE '\\'", &headers));
        assert!(selects("name NOT LIKE 'news%'", &headers));
        assert!(selects("region IN ('eu', 'us')", &headers));
        assert!(selects("region NOT IN ('us', 'apac')", &headers));
        assert!(selects("size BETWEEN 10 AND 20", &headers));
        assert!(selects("size NOT BETWEEN 16 AND 20", &headers));
        assert!(selects("(region = 'eu' OR region = 'us') AND NOT (size < 10)", &headers));
        assert!(selects("it's = 'x' OR name = 'chat_general'".replace("it's", "other").as_str(), &headers));
        assert!(selects("region = 'e''u' OR region = 'eu'", &headers));
    }

    #[test]
    fn keywords_are_case_insensitive_and_precedence_is_sql_s() {
        let headers = [("a", "1"), ("b", "2")];
        assert!(selects("a = 1 or b = 3 and b = 4", &headers), "AND binds tighter than OR");
        assert!(!selects("(a = 1 or b = 3) and b = 4", &headers));
        assert!(selects("not a = 2", &headers));
    }

    #[test]
    fn errors_name_the_position() {
        let error = |text: &str| Selector::parse(text, DEPTH).unwrap_err();
        assert_eq!(error("priority >").position, 11);
        assert_eq!(error("priority > 5 AND").position, 17);
        assert_eq!(error("region = 'eu").position, 13);
        assert_eq!(error("a LIKE 5").position, 8);
        assert_eq!(error("(a = 1").position, 7);
        assert_eq!(error("a = 1 b").position, 7);
        assert!(error("a NOT 5").to_string().starts_with("invalid selector at position 3"), "{}", error("a NOT 5"));
        assert!(error("").to_string().contains("position 1"));
        assert_eq!(error("a LIKE 5").to_string(), "invalid selector at position 8: expected a quoted pattern");
        assert_eq!(error("(a = 1").to_string(), "invalid selector at position 7: expected ')'");
        assert_eq!(error("a IS 5").expected, "NULL");
    }

    #[test]
    fn nesting_is_bounded_before_parsing() {
        let deep = format!("{}a = 1{}", "(".repeat(40), ")".repeat(40));
        let error = Selector::parse(&deep, DEPTH).unwrap_err();
        assert_eq!(error.position, 33);
        assert!(Selector::parse(&deep, 40).is_ok());
        let nots = format!("{}a = 1", "NOT ".repeat(100_000));
        assert_eq!(Selector::parse(&nots, DEPTH).unwrap_err().position, 33 * 4);
        // Parentheses inside strings do not count; long chains are flat.
        assert!(Selector::parse("a = '((((((((((((((((((((((((((((((((((('", 4).is_ok());
        let chain = vec!["a = 1"; 10_000].join(" AND ");
        assert!(selects(&chain, &[("a", "1")]));
    }
}
