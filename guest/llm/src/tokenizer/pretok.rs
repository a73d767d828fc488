//! The `smollm` pre-tokenizer, hand-written: number characters are isolated, then GPT-2's
//! pattern `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+` splits
//! each remaining piece (the end of a piece counts as the end of the text).

use unicode_general_category::{GeneralCategory as G, get_general_category};

/// The character classes the pattern distinguishes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Class {
    /// U+0020, the only character ` ?` accepts.
    Space,
    /// Other `White_Space` characters (`\s`).
    White,
    /// `\p{L}`: Lu Ll Lt Lm Lo (Unicode 16.0).
    Letter,
    /// `\p{N}`: Nd Nl No (Unicode 16.0).
    Number,
    /// Everything else, U+FFFD for invalid UTF-8 included.
    Other,
}

/// Decodes the character at the start of `s` (non-empty): its class and its length in bytes.
/// An invalid sequence is one U+FFFD per maximal subpart (as `String::from_utf8_lossy`).
pub(crate) fn next_char(s: &[u8]) -> (Class, usize) {
    let (c, len) = decode(s);
    (classify(c), len)
}

fn classify(c: Option<char>) -> Class {
    match c {
        Some(c) if c.is_ascii() => ascii_class(c as u8),
        Some(c) => char_class(c),
        None => Class::Other,
    }
}

/// Decodes the character at the start of `s` (non-empty): `None` for an invalid sequence (its
/// maximal subpart), and the length in bytes.
fn decode(s: &[u8]) -> (Option<char>, usize) {
    let b0 = s[0];
    if b0 < 0x80 {
        return (Some(char::from(b0)), 1);
    }
    let (need, lo, hi) = match b0 {
        0xC2..=0xDF => (1, 0x80, 0xBF),
        0xE0 => (2, 0xA0, 0xBF),
        0xE1..=0xEC | 0xEE..=0xEF => (2, 0x80, 0xBF),
        0xED => (2, 0x80, 0x9F),
        0xF0 => (3, 0x90, 0xBF),
        0xF1..=0xF3 => (3, 0x80, 0xBF),
        0xF4 => (3, 0x80, 0x8F),
        _ => return (None, 1),
    };
    let mut cp = u32::from(b0) & (0x7F >> (need + 1));
    for k in 1..=need {
        let (lo, hi) = if k == 1 { (lo, hi) } else { (0x80, 0xBF) };
        match s.get(k) {
            Some(&b) if (lo..=hi).contains(&b) => cp = (cp << 6) | u32::from(b & 0x3F),
            _ => return (None, k),
        }
    }
    (char::from_u32(cp), need + 1)
}

/// Whether the Digits step isolates the character: Nd Nl No of Unicode 17.0 (`char::is_numeric`
/// of the Rust that `tokenizers` is built with), i.e. those of Unicode 16.0 and the 13 numbers
/// Unicode 17.0 added, which the pattern (Oniguruma, Unicode 16.0) does not know.
fn isolated(c: Option<char>, class: Class) -> bool {
    class == Class::Number
        || c.is_some_and(|c| matches!(c, '\u{11DE0}'..='\u{11DE9}' | '\u{16FF4}'..='\u{16FF6}'))
}

fn ascii_class(b: u8) -> Class {
    match b {
        b' ' => Class::Space,
        b'\t' | b'\n' | 0x0B | 0x0C | b'\r' => Class::White,
        b'a'..=b'z' | b'A'..=b'Z' => Class::Letter,
        b'0'..=b'9' => Class::Number,
        _ => Class::Other,
    }
}

/// The class of a character (non-ASCII included).
pub(crate) fn char_class(c: char) -> Class {
    if c == ' ' {
        return Class::Space;
    }
    if c.is_whitespace() {
        return Class::White;
    }
    match get_general_category(c) {
        G::UppercaseLetter
        | G::LowercaseLetter
        | G::TitlecaseLetter
        | G::ModifierLetter
        | G::OtherLetter => Class::Letter,
        G::DecimalNumber | G::LetterNumber | G::OtherNumber => Class::Number,
        _ => Class::Other,
    }
}

/// Calls `f` with each pre-token piece of `s` (a text between special tokens), in order; the
/// pieces are non-empty and concatenate to `s`.
pub(crate) fn split(s: &[u8], mut f: impl FnMut(&[u8])) {
    // Isolate the numbers (Digits(individual_digits)), then apply the pattern to the rest.
    let mut start = 0;
    let mut i = 0;
    while i < s.len() {
        let (c, len) = decode(&s[i..]);
        if isolated(c, classify(c)) {
            if start < i {
                split_gpt2(&s[start..i], &mut f);
            }
            f(&s[i..i + len]);
            start = i + len;
        }
        i += len;
    }
    if start < s.len() {
        split_gpt2(&s[start..], &mut f);
    }
}

/// The end of the run of characters of class `class` (Space counted as White when `white`)
/// starting at `i`, and the start of its last character.
fn run(s: &[u8], mut i: usize, pred: impl Fn(Class) -> bool) -> (usize, usize) {
    let mut last = i;
    while i < s.len() {
        let (class, len) = next_char(&s[i..]);
        if !pred(class) {
            break;
        }
        last = i;
        i += len;
    }
    (i, last)
}

fn is_white(c: Class) -> bool {
    matches!(c, Class::Space | Class::White)
}

/// GPT-2's pattern over `s`, the end of `s` being the end of the text.
fn split_gpt2(s: &[u8], f: &mut impl FnMut(&[u8])) {
    let mut i = 0;
    while i < s.len() {
        let (class, len) = next_char(&s[i..]);
        let end = if s[i] == b'\'' && contraction(&s[i + 1..]) > 0 {
            i + 1 + contraction(&s[i + 1..])
        } else {
            let next = s
                .get(i + len..)
                .filter(|r| !r.is_empty())
                .map(|r| next_char(r).0);
            match (class, next) {
                (Class::Space, Some(n @ (Class::Letter | Class::Number | Class::Other))) => {
                    run(s, i + len, |c| c == n).0
                }
                (Class::Letter | Class::Number | Class::Other, _) => run(s, i, |c| c == class).0,
                _ => {
                    // `\s+(?!\S)`, else `\s+`.
                    let (end, last) = run(s, i, is_white);
                    if end < s.len() && last > i { last } else { end }
                }
            }
        };
        f(&s[i..end]);
        i = end;
    }
}

/// The length of the contraction suffix (`s t re ve m ll d`) at the start of `s`, 0 if none.
fn contraction(s: &[u8]) -> usize {
    match s {
        [b's' | b't' | b'm' | b'd', ..] => 1,
        [b'r', b'e', ..] | [b'v', b'e', ..] | [b'l', b'l', ..] => 2,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::String;
    use alloc::vec::Vec;

    fn pieces(s: &str) -> Vec<String> {
        let mut v = Vec::new();
        split(s.as_bytes(), |p| {
            v.push(String::from_utf8(p.to_vec()).unwrap())
        });
        v
    }

    #[test]
    fn gpt2_pattern() {
        assert_eq!(pieces("Hello world"), ["Hello", " world"]);
        assert_eq!(
            pieces("I'm  fine\n\nyou're"),
            ["I", "'m", " ", " fine", "\n", "\n", "you", "'re"]
        );
        assert_eq!(pieces("a  "), ["a", "  "]);
        assert_eq!(pieces("x \n y"), ["x", " \n", " y"]);
        assert_eq!(pieces("!'s"), ["!'", "s"]);
        assert_eq!(pieces(" 'S"), [" '", "S"]);
        assert_eq!(pieces("ab 123x"), ["ab", " ", "1", "2", "3", "x"]);
        assert_eq!(pieces("é\u{3000}日本"), ["é", "\u{3000}", "日本"]);
        assert_eq!(pieces("\t\ta"), ["\t", "\t", "a"]);
    }

    #[test]
    fn invalid_utf8_is_one_replacement_per_maximal_subpart() {
        assert_eq!(next_char(b"\xE2\x82"), (Class::Other, 2));
        assert_eq!(next_char(b"\xE2\x82A"), (Class::Other, 2));
        assert_eq!(next_char(b"\xF0\x80"), (Class::Other, 1));
        assert_eq!(next_char(b"\xED\xA0\x80"), (Class::Other, 1));
        assert_eq!(next_char("é".as_bytes()), (Class::Letter, 2));
        let mut v = Vec::new();
        split(b"a\xFF\xFEb", |p| v.push(p.to_vec()));
        assert_eq!(v, [b"a".to_vec(), b"\xFF\xFE".to_vec(), b"b".to_vec()]);
    }
}
