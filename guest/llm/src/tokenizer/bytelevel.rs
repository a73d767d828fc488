//! GPT-2's byte-level alphabet: every byte is written as one printable character in the
//! vocabulary's token strings (`Ġ` for a space, `Ċ` for a newline, ...).

/// Whether the byte stands for itself in the alphabet (`!`..=`~`, `¡`..=`¬`, `®`..=`ÿ`).
const fn is_self(b: u8) -> bool {
    matches!(b, 33..=126 | 161..=172 | 174..=255)
}

/// The character byte `b` is written as: itself for printable bytes, else `U+0100 + n` where `n`
/// counts the bytes before `b` that do not stand for themselves.
#[cfg(test)]
pub(crate) fn byte_to_char(b: u8) -> char {
    if is_self(b) {
        return char::from(b);
    }
    let n = (0..b).filter(|&x| !is_self(x)).count() as u32;
    // 256 + n < 256 + 68 is always a valid scalar value.
    char::from_u32(256 + n).unwrap_or(char::REPLACEMENT_CHARACTER)
}

/// The byte a character of the alphabet stands for, `None` for characters outside it.
pub(crate) fn char_to_byte(c: char) -> Option<u8> {
    let c = c as u32;
    if c < 256 {
        let b = c as u8;
        return is_self(b).then_some(b);
    }
    let mut n = c.checked_sub(256)?;
    for b in 0..=255u8 {
        if !is_self(b) {
            if n == 0 {
                return Some(b);
            }
            n -= 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alphabet_is_a_bijection() {
        for b in 0..=255u8 {
            assert_eq!(char_to_byte(byte_to_char(b)), Some(b));
        }
        assert_eq!(byte_to_char(b' '), 'Ġ');
        assert_eq!(byte_to_char(b'\n'), 'Ċ');
        assert_eq!(char_to_byte('Ā'), Some(0));
        assert_eq!(char_to_byte(char::from_u32(256 + 68).unwrap()), None);
        assert_eq!(char_to_byte(' '), None);
    }
}
