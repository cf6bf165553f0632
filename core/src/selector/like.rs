//! `LIKE` patterns: `%` matches any run of characters (none included), `_` exactly one, and an
//! `ESCAPE` character makes the next `%`, `_` or itself literal.

/// A compiled `LIKE` pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Like {
    pieces: Vec<Piece>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    /// This character.
    Char(char),
    /// Any one character.
    One,
    /// Any run of characters.
    Many,
}

impl Like {
    /// Compiles a pattern; `escape` makes the character after it literal. `None` for a pattern
    /// that ends in a lone escape character.
    pub(super) fn new(pattern: &str, escape: Option<char>) -> Option<Like> {
        let mut pieces = Vec::with_capacity(pattern.len());
        let mut chars = pattern.chars();
        while let Some(c) = chars.next() {
            pieces.push(match c {
                c if Some(c) == escape => Piece::Char(chars.next()?),
                '%' => Piece::Many,
                '_' => Piece::One,
                c => Piece::Char(c),
            });
        }
        Some(Like { pieces })
    }

    /// Whether `text` matches. Greedy with backtracking to the last `%` only: linear for
    /// patterns with one `%`, at most text × pattern steps in general, no allocation.
    pub(super) fn matches(&self, text: &str) -> bool {
        let pieces = &self.pieces;
        let (mut p, mut t) = (0, 0);
        // The last `%` seen and where in the text it was resumed from.
        let mut restart: Option<(usize, usize)> = None;
        while t < text.len() {
            let here = char_at(text, t);
            match pieces.get(p) {
                Some(Piece::Many) => {
                    restart = Some((p, t));
                    p += 1;
                    continue;
                }
                Some(Piece::One) => {
                    p += 1;
                    t += here.len_utf8();
                    continue;
                }
                Some(Piece::Char(c)) if *c == here => {
                    p += 1;
                    t += here.len_utf8();
                    continue;
                }
                _ => {}
            }
            // Mismatch: let the last `%` take one more character, or fail.
            let Some((star, from)) = restart else { return false };
            let skipped = char_at(text, from).len_utf8();
            restart = Some((star, from + skipped));
            p = star + 1;
            t = from + skipped;
        }
        pieces[p..].iter().all(|piece| *piece == Piece::Many)
    }
}

/// The character starting at byte `at` of `text`, a character boundary.
fn char_at(text: &str, at: usize) -> char {
    text[at..].chars().next().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn like(pattern: &str, text: &str) -> bool {
        Like::new(pattern, Some('\\')).unwrap().matches(text)
    }

    #[test]
    fn percent_and_underscore() {
        assert!(like("chat%", "chat.general"));
        assert!(like("%general%", "chat.general.demo"));
        assert!(like("c_at", "chat"));
        assert!(!like("c_at", "cat"));
        assert!(like("%", ""));
        assert!(!like("_", ""));
        assert!(like("a%b%c", "aXXbYYc"));
        assert!(!like("a%b%c", "aXXbYY"));
        assert!(like("é_é%", "été"));
    }

    #[test]
    fn escaped_wildcards_are_literal() {
        assert!(like("100\\%", "100%"));
        assert!(!like("100\\%", "1000"));
        assert!(like("a\\_b", "a_b"));
        assert!(!like("a\\_b", "axb"));
        assert!(Like::new("oops\\", Some('\\')).is_none());
    }
}
