//! Solidity ABI output: values a contract reads with `abi.decode(registry.outputOf(id), (...))`.
//!
//! `commit_abi(&(a, b, c))` ([`commit_abi`]) appends the ABI encoding of the parameters
//! `a, b, c`, which is what Solidity's `abi.encode(a, b, c)` gives and what
//! `abi.decode(output, (A, B, C))` reads back; a single value `commit_abi(&x)` is
//! `abi.encode(x)`. The output is raw (no `opml_codec` frame), so a guest that commits ABI output
//! commits nothing else: the whole output is what the registry's `outputOf` returns.
//!
//! | Rust | Solidity |
//! |---|---|
//! | `bool` | `bool` |
//! | `u8`, `u16`, `u32`, `u64`, `u128`, [`U256`] | `uint8` … `uint256` (any `uintN` that holds the value) |
//! | `i8`, `i16`, `i32`, `i64`, `i128` | `int8` … `int256` (any `intN` that holds the value) |
//! | [`Address`] | `address` |
//! | `[u8; 32]` | `bytes32` |
//! | [`Bytes`] | `bytes` |
//! | `str`, `String` | `string` |
//! | `Vec<T>`, `[T]` (not of `u8`: use [`Bytes`]) | `T[]` |
//! | tuples of up to 8 of these | the parameters of `abi.encode` |
//!
//! Written here rather than taken from `alloy-sol-types`: its `no_std` build needs the `bytes`
//! crate, which needs atomic compare-and-swap, and `riscv32im` has no atomics. The encodings are
//! tested natively against `alloy-sol-types`.

use alloc::string::String;
use alloc::vec::Vec;

/// One ABI word.
pub type Word = [u8; 32];

/// A value of a Solidity ABI type (see the [module](self) for the types).
pub trait AbiValue {
    /// The value's one-word encoding if its type is static; `None` if it is dynamic.
    fn abi_word(&self) -> Option<Word>;

    /// Appends a dynamic value's encoding (its tail); not called for static values.
    fn abi_tail(&self, out: &mut Vec<u8>);
}

/// Values `abi.encode` takes as its parameters: a tuple of [`AbiValue`]s, or one of them.
pub trait AbiParams {
    /// Appends the ABI encoding of the parameters to `out`.
    fn abi_encode_params_into(&self, out: &mut Vec<u8>);

    /// The ABI encoding of the parameters: `abi.encode(...)` of them.
    fn abi_encode_params(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.abi_encode_params_into(&mut out);
        out
    }
}

/// A `uint256`, big-endian.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct U256(pub Word);

impl From<u128> for U256 {
    fn from(value: u128) -> Self {
        let mut word = [0; 32];
        word[16..].copy_from_slice(&value.to_be_bytes());
        U256(word)
    }
}

/// An `address`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Address(pub [u8; 20]);

/// A `bytes` value (a `Vec<u8>` or `[u8]` alone encodes as `uint8[]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bytes<'a>(pub &'a [u8]);

/// `value` in the low bytes of a word, the high bytes filled with `fill`.
fn word_of(value: &[u8], fill: u8) -> Word {
    let mut word = [fill; 32];
    word[32 - value.len()..].copy_from_slice(value);
    word
}

/// A length or offset as a word.
fn usize_word(n: usize) -> Word {
    word_of(&(n as u64).to_be_bytes(), 0)
}

macro_rules! unsigned {
    ($($t:ty),*) => {$(
        impl AbiValue for $t {
            fn abi_word(&self) -> Option<Word> {
                Some(word_of(&self.to_be_bytes(), 0))
            }
            fn abi_tail(&self, _: &mut Vec<u8>) {}
        }
    )*};
}
unsigned!(u8, u16, u32, u64, u128);

macro_rules! signed {
    ($($t:ty),*) => {$(
        impl AbiValue for $t {
            fn abi_word(&self) -> Option<Word> {
                // Sign-extended to 256 bits.
                Some(word_of(&self.to_be_bytes(), if *self < 0 { 0xff } else { 0 }))
            }
            fn abi_tail(&self, _: &mut Vec<u8>) {}
        }
    )*};
}
signed!(i8, i16, i32, i64, i128);

impl AbiValue for bool {
    fn abi_word(&self) -> Option<Word> {
        Some(word_of(&[u8::from(*self)], 0))
    }
    fn abi_tail(&self, _: &mut Vec<u8>) {}
}

impl AbiValue for U256 {
    fn abi_word(&self) -> Option<Word> {
        Some(self.0)
    }
    fn abi_tail(&self, _: &mut Vec<u8>) {}
}

impl AbiValue for Address {
    fn abi_word(&self) -> Option<Word> {
        Some(word_of(&self.0, 0))
    }
    fn abi_tail(&self, _: &mut Vec<u8>) {}
}

impl AbiValue for Word {
    fn abi_word(&self) -> Option<Word> {
        Some(*self)
    }
    fn abi_tail(&self, _: &mut Vec<u8>) {}
}

/// A length word, then the bytes padded with zeros to whole words.
fn byte_tail(bytes: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&usize_word(bytes.len()));
    out.extend_from_slice(bytes);
    out.resize(out.len() + (32 - bytes.len() % 32) % 32, 0);
}

impl AbiValue for Bytes<'_> {
    fn abi_word(&self) -> Option<Word> {
        None
    }
    fn abi_tail(&self, out: &mut Vec<u8>) {
        byte_tail(self.0, out);
    }
}

impl AbiValue for str {
    fn abi_word(&self) -> Option<Word> {
        None
    }
    fn abi_tail(&self, out: &mut Vec<u8>) {
        byte_tail(self.as_bytes(), out);
    }
}

impl AbiValue for String {
    fn abi_word(&self) -> Option<Word> {
        None
    }
    fn abi_tail(&self, out: &mut Vec<u8>) {
        byte_tail(self.as_bytes(), out);
    }
}

impl<T: AbiValue> AbiValue for [T] {
    fn abi_word(&self) -> Option<Word> {
        None
    }
    fn abi_tail(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&usize_word(self.len()));
        let items: Vec<&dyn AbiValue> = self.iter().map(|item| item as &dyn AbiValue).collect();
        encode_sequence(&items, out);
    }
}

impl<T: AbiValue> AbiValue for Vec<T> {
    fn abi_word(&self) -> Option<Word> {
        None
    }
    fn abi_tail(&self, out: &mut Vec<u8>) {
        self.as_slice().abi_tail(out);
    }
}

impl<T: AbiValue + ?Sized> AbiValue for &T {
    fn abi_word(&self) -> Option<Word> {
        (**self).abi_word()
    }
    fn abi_tail(&self, out: &mut Vec<u8>) {
        (**self).abi_tail(out);
    }
}

/// Appends the encoding of `items` as a sequence (a tuple's or an array's elements): a head
/// word each (the value, or the offset of its tail from the sequence's start), then the tails.
fn encode_sequence(items: &[&dyn AbiValue], out: &mut Vec<u8>) {
    let start = out.len();
    out.resize(start + 32 * items.len(), 0);
    for (i, item) in items.iter().enumerate() {
        let head = match item.abi_word() {
            Some(word) => word,
            None => {
                let offset = usize_word(out.len() - start);
                item.abi_tail(out);
                offset
            }
        };
        out[start + 32 * i..start + 32 * (i + 1)].copy_from_slice(&head);
    }
}

impl<T: AbiValue + ?Sized> AbiParams for T {
    fn abi_encode_params_into(&self, out: &mut Vec<u8>) {
        encode_sequence(&[&self], out);
    }
}

/// Appends the ABI encoding of `value` to the public output, raw: `commit_abi(&(a, b))` is
/// `abi.encode(a, b)`, which a contract reads with `abi.decode(output, (A, B))` (the
/// [module](crate::abi) lists the types). Commit nothing else, so the output is exactly that.
pub fn commit_abi<T: AbiParams + ?Sized>(value: &T) {
    crate::commit_slice(&value.abi_encode_params());
}

macro_rules! params {
    ($($name:ident),+) => {
        impl<$($name: AbiValue),+> AbiParams for ($($name,)+) {
            #[allow(non_snake_case)]
            fn abi_encode_params_into(&self, out: &mut Vec<u8>) {
                let ($($name,)+) = self;
                encode_sequence(&[$($name as &dyn AbiValue),+], out);
            }
        }
    };
}
params!(A);
params!(A, B);
params!(A, B, C);
params!(A, B, C, D);
params!(A, B, C, D, E);
params!(A, B, C, D, E, F);
params!(A, B, C, D, E, F, G);
params!(A, B, C, D, E, F, G, H);

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use alloy_sol_types::SolValue;
    use alloy_sol_types::private::{
        Address as AlloyAddress, B256, Bytes as AlloyBytes, U256 as AlloyU256,
    };

    fn ours<T: AbiParams + ?Sized>(value: &T) -> Vec<u8> {
        AbiParams::abi_encode_params(value)
    }

    /// alloy's `abi.encode` of parameters.
    macro_rules! theirs {
        ($value:expr) => {
            SolValue::abi_encode_params(&$value)
        };
    }

    #[test]
    fn static_values_match_alloy() {
        assert_eq!(
            ours(&(7u8, u128::MAX, -1i8, i128::MIN, true, Address([0xab; 20]))),
            theirs!((
                7u16,
                u128::MAX,
                -1i8,
                i128::MIN,
                true,
                AlloyAddress::from([0xab; 20])
            ))
        );
        let word = [0x5a; 32];
        assert_eq!(
            ours(&(U256(word), word, -300i64, 9u64)),
            theirs!((
                AlloyU256::from_be_bytes(word),
                B256::from(word),
                -300i64,
                9u64
            ))
        );
        assert_eq!(
            ours(&U256::from(300u128)),
            SolValue::abi_encode(&AlloyU256::from(300u64))
        );
        assert_eq!(ours(&42u32), SolValue::abi_encode(&42u32));
    }

    #[test]
    fn dynamic_values_match_alloy() {
        let text = String::from("a string longer than one word of thirty-two bytes");
        let blob = [1u8, 2, 3];
        assert_eq!(
            ours(&(
                U256::from(5u128),
                Bytes(&blob),
                text.clone(),
                vec![1u32, 2, 3],
                vec![String::from("x"), String::new()],
                false,
            )),
            theirs!((
                AlloyU256::from(5u64),
                AlloyBytes::from(blob.to_vec()),
                text.clone(),
                vec![1u32, 2, 3],
                vec![String::from("x"), String::new()],
                false,
            ))
        );
        // A single dynamic value is `abi.encode(value)`: an offset, then its tail.
        assert_eq!(ours(&text), SolValue::abi_encode(&text));
        assert_eq!(ours(text.as_str()), SolValue::abi_encode(&text));
        assert_eq!(ours(&Bytes(&[])), SolValue::abi_encode(&AlloyBytes::new()));
        let nested: Vec<Vec<i64>> = vec![vec![-1], vec![], vec![2, 3]];
        assert_eq!(ours(&nested), SolValue::abi_encode(&nested));
        assert_eq!(ours(&[5u16, 6][..]), SolValue::abi_encode(&vec![5u16, 6]));
    }
}
