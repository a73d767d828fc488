//! The `echo` example guest: what it reads, what it commits, and the transformation itself (so
//! host code and tests can build inputs and check outputs with the same types).
//!
//! Input: one mode byte, then
//! - [`MODE_TYPED`]: one frame holding a [`Request`]; the output is one frame holding the
//!   [`Reply`] from [`reply`];
//! - [`MODE_RAW`]: raw bytes up to the end of the input; the output is those bytes reversed, raw.
//!
//! Any other mode byte exits with `exit_code::BAD_INPUT`.
#![no_std]

extern crate alloc;

use alloc::string::String;
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

/// Mode byte: a typed [`Request`] follows.
pub const MODE_TYPED: u8 = 0;
/// Mode byte: raw bytes follow.
pub const MODE_RAW: u8 = 1;

/// A typed request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// Text to shout back.
    pub text: String,
    /// Numbers to add up.
    pub numbers: Vec<i32>,
}

/// The reply to a [`Request`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    /// The request's text reversed (by character) and upper-cased.
    pub shout: String,
    /// The sum of the numbers.
    pub sum: i64,
    /// How many numbers there were.
    pub count: u32,
    /// The largest number, if any.
    pub max: Option<i32>,
}

/// The reply the guest commits for `request`.
pub fn reply(request: &Request) -> Reply {
    Reply {
        shout: request
            .text
            .chars()
            .rev()
            .flat_map(char::to_uppercase)
            .collect(),
        sum: request.numbers.iter().map(|&n| i64::from(n)).sum(),
        count: request.numbers.len() as u32,
        max: request.numbers.iter().copied().max(),
    }
}

/// The guest's input for a typed request.
pub fn typed_input(request: &Request) -> Result<Vec<u8>, opml_guest::codec::Error> {
    let mut input = Vec::from([MODE_TYPED]);
    opml_guest::codec::encode_into(request, &mut input)?;
    Ok(input)
}

/// The guest's input for raw `bytes`.
pub fn raw_input(bytes: &[u8]) -> Vec<u8> {
    let mut input = Vec::with_capacity(1 + bytes.len());
    input.push(MODE_RAW);
    input.extend_from_slice(bytes);
    input
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn reply_shouts_and_sums() {
        let request = Request {
            text: "abc straße".into(),
            numbers: vec![1, -5, i32::MAX, i32::MAX],
        };
        assert_eq!(
            reply(&request),
            Reply {
                shout: "ESSARTS CBA".into(),
                sum: 2 * i64::from(i32::MAX) - 4,
                count: 4,
                max: Some(i32::MAX),
            }
        );
        let empty = Request {
            text: String::new(),
            numbers: vec![],
        };
        assert_eq!(reply(&empty).max, None);
    }

    #[test]
    fn inputs_start_with_the_mode() {
        assert_eq!(raw_input(b"hi"), [MODE_RAW, b'h', b'i']);
        let request = Request {
            text: "x".into(),
            numbers: vec![],
        };
        let input = typed_input(&request).unwrap();
        assert_eq!(input[0], MODE_TYPED);
        assert_eq!(
            opml_guest::codec::decode::<Request>(&input[1..]).unwrap(),
            request
        );
    }
}
