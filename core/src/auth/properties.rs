//! The `.properties` format of Apollo's `users.properties` and `groups.properties`: the parts of
//! Java's `java.util.Properties` those files use, so an Apollo user's files read the same.
//!
//! One entry per logical line: the key runs to the first unescaped `=`, `:` or blank, then one
//! `=` or `:` (blanks around it allowed), then the value. Lines whose first non-blank character
//! is `#` or `!` are comments. A line ending in an odd number of backslashes continues on the
//! next one. A backslash escapes the next character (`\t`, `\n`, `\r`, `\f` and `\uXXXX` as in
//! Java). A key given twice keeps its last value, as in Java.

use std::ops::Range;

/// One `key=value` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) key: String,
    pub(crate) value: String,
    /// The lines it spans, 0-based, end exclusive (more than one when continued).
    pub(crate) lines: Range<usize>,
}

impl Entry {
    /// Its first line, 1-based, for messages.
    pub(crate) fn line(&self) -> usize {
        self.lines.start + 1
    }
}

/// Every entry of a document, in order.
pub(crate) fn parse(text: &str) -> Vec<Entry> {
    let lines: Vec<&str> = text.lines().collect();
    let mut entries = Vec::new();
    let mut index = 0;
    while index < lines.len() {
        let start = index;
        let first = lines[index].trim_start();
        index += 1;
        if first.is_empty() || first.starts_with('#') || first.starts_with('!') {
            continue;
        }
        let mut logical = String::from(first);
        while ends_in_escape(&logical) && index < lines.len() {
            logical.pop();
            logical.push_str(lines[index].trim_start());
            index += 1;
        }
        let (key, value) = split_entry(&logical);
        entries.push(Entry { key: unescape(key), value: unescape(value), lines: start..index });
    }
    entries
}

/// Whether a line ends in an odd number of backslashes (it continues on the next line).
fn ends_in_escape(line: &str) -> bool {
    line.bytes().rev().take_while(|&b| b == b'\\').count() % 2 == 1
}

/// Splits a logical line into its raw key and raw value.
fn split_entry(line: &str) -> (&str, &str) {
    let bytes = line.as_bytes();
    let mut end = 0;
    while end < bytes.len() {
        match bytes[end] {
            b'\\' => end += 2,
            b'=' | b':' | b' ' | b'\t' | b'\x0c' => break,
            _ => end += 1,
        }
    }
    let end = end.min(bytes.len());
    let rest = line[end..].trim_start_matches([' ', '\t', '\x0c']);
    let rest = rest.strip_prefix(['=', ':']).unwrap_or(rest);
    (&line[..end], rest.trim_start_matches([' ', '\t', '\x0c']))
}

/// Resolves backslash escapes.
fn unescape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\x0c'),
            Some('u') => {
                let digits: String = chars.by_ref().take(4).collect();
                match u32::from_str_radix(&digits, 16).ok().and_then(char::from_u32) {
                    Some(decoded) => out.push(decoded),
                    None => out.push_str(&digits),
                }
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

/// The document with `key`'s entries replaced by one `key=value` line where the first of them
/// was (or appended), every other line kept as it was. `key` and `value` must need no escaping.
pub(crate) fn with_entry(text: &str, key: &str, value: &str) -> String {
    let entries: Vec<Entry> = parse(text).into_iter().filter(|entry| entry.key == key).collect();
    let replacement = format!("{key}={value}");
    let mut out = String::with_capacity(text.len() + replacement.len() + 1);
    let mut written = false;
    for (index, line) in text.lines().enumerate() {
        match entries.iter().find(|entry| entry.lines.contains(&index)) {
            Some(entry) if entry.lines.start == index && !written => {
                out.push_str(&replacement);
                out.push('\n');
                written = true;
            }
            Some(_) => {}
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    if !written {
        out.push_str(&replacement);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(text: &str) -> Vec<(String, String)> {
        parse(text).into_iter().map(|e| (e.key, e.value)).collect()
    }

    #[test]
    fn reads_apollos_files() {
        let text = "## header\n#\n# admin=ENC(xyz)\nadmin=password\n\n  ! bang comment\nadmins=admin|mtchang\n";
        assert_eq!(pairs(text), [("admin".into(), "password".into()), ("admins".into(), "admin|mtchang".into())]);
    }

    #[test]
    fn separators_blanks_and_escapes_follow_java() {
        assert_eq!(
            pairs("a : b\nc d\ne=f=g\nh\\=i=j\nk=\\u0041\\tB\n"),
            [
                ("a".into(), "b".into()),
                ("c".into(), "d".into()),
                ("e".into(), "f=g".into()),
                ("h=i".into(), "j".into()),
                ("k".into(), "A\tB".into()),
            ]
        );
    }

    #[test]
    fn a_trailing_backslash_continues_the_line() {
        let entries = parse("users=a|\\\n    b\nnext=1\n");
        assert_eq!(entries[0].value, "a|b");
        assert_eq!(entries[0].lines, 0..2);
        assert_eq!(entries[1].line(), 3);
        assert_eq!(pairs("x=ends\\\\\ny=2\n").len(), 2, "an escaped backslash does not continue");
    }

    #[test]
    fn with_entry_replaces_in_place_and_keeps_everything_else() {
        let text = "# users\nadmin=old\n# app\napp1=x\nadmin=older\\\n  still\n";
        assert_eq!(with_entry(text, "admin", "$argon2id$v=19$h"), "# users\nadmin=$argon2id$v=19$h\n# app\napp1=x\n");
        assert_eq!(with_entry("# only comments", "demo", "p"), "# only comments\ndemo=p\n");
        assert_eq!(with_entry("", "demo", "p"), "demo=p\n");
    }
}
