//! The `codec-bench` example guest: the VM instruction cost of decoding and encoding a typical
//! payload (a few scalar fields and a `Vec<u32>` of 10,000 elements) with postcard, the codec of
//! `opml_codec`, and with bincode 2 (fixed-width integers), the alternative.
//!
//! Input: one [`mode`] byte, then one frame whose payload is a [`Payload`] in the codec the mode
//! names. Output: 4 raw bytes, a little-endian `u32` summary of what the mode computed (so that
//! nothing is optimized away); [`mode::SDK_ROUNDTRIP`] instead commits the payload again as an
//! `opml_codec` frame. The cost of a step is the difference of two modes' instruction counts, for
//! example `POSTCARD_DECODE - READ` on the same input; `opml-methods`' example `codec_costs`
//! prints the table.
#![no_std]

extern crate alloc;

use alloc::string::String;
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

/// The first input byte: what the guest does with the frame that follows.
pub mod mode {
    /// Read the frame; commit its length. The baseline.
    pub const READ: u8 = 0;
    /// Read the frame and decode it with postcard; commit [`checksum`](super::checksum).
    pub const POSTCARD_DECODE: u8 = 1;
    /// As `POSTCARD_DECODE`, then encode it again with postcard; commit the checksum xor the
    /// encoded length.
    pub const POSTCARD_ROUNDTRIP: u8 = 2;
    /// Read the frame and decode it with bincode; commit the checksum.
    pub const BINCODE_DECODE: u8 = 3;
    /// As `BINCODE_DECODE`, then encode it again with bincode; commit the checksum xor the
    /// encoded length.
    pub const BINCODE_ROUNDTRIP: u8 = 4;
    /// `opml_guest::read` the payload (postcard) and `opml_guest::commit` it back.
    pub const SDK_ROUNDTRIP: u8 = 5;
}

/// A typical guest input: a few fields and a large vector.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Payload {
    /// An identifier.
    pub id: u64,
    /// A name.
    pub label: String,
    /// A tensor shape.
    pub shape: [u32; 4],
    /// A scale factor.
    pub scale: f32,
    /// The bulk of the data.
    pub values: Vec<u32>,
}

/// Which values a generated [`Payload`] holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Values {
    /// Values below 1000 (two-byte varints).
    Small,
    /// Pseudo-random values over the whole `u32` range (mostly five-byte varints).
    Full,
}

/// A payload with `len` values.
pub fn payload(len: usize, values: Values) -> Payload {
    let mut state = 0x1234_5678u32;
    let values = (0..len)
        .map(|_| {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            match values {
                Values::Small => state % 1000,
                Values::Full => state,
            }
        })
        .collect();
    Payload {
        id: 0x0123_4567_89ab_cdef,
        label: "layer-7/weights".into(),
        shape: [1, 10, 1000, 1],
        scale: 0.0125,
        values,
    }
}

/// A summary of every field, which a decoder cannot skip computing.
pub fn checksum(payload: &Payload) -> u32 {
    let fields = (payload.id as u32)
        ^ (payload.id >> 32) as u32
        ^ payload.label.len() as u32
        ^ payload
            .shape
            .iter()
            .fold(0u32, |acc, &d| acc.wrapping_mul(31) ^ d)
        ^ payload.scale.to_bits();
    payload
        .values
        .iter()
        .fold(fields, |acc, &v| acc.rotate_left(5) ^ v)
}

/// The bincode configuration measured: little-endian, fixed-width integers, no limit.
pub fn bincode_config() -> impl bincode::config::Config {
    bincode::config::standard().with_fixed_int_encoding()
}

/// `payload` encoded with bincode.
pub fn bincode_payload(payload: &Payload) -> Result<Vec<u8>, bincode::error::EncodeError> {
    bincode::serde::encode_to_vec(payload, bincode_config())
}

/// The guest input for `mode` with an already encoded payload.
pub fn input(mode: u8, encoded: &[u8]) -> Result<Vec<u8>, opml_guest::codec::Error> {
    let mut input = Vec::with_capacity(1 + opml_guest::codec::HEADER_LEN + encoded.len());
    input.push(mode);
    input.extend_from_slice(&opml_guest::codec::frame_header(encoded.len())?);
    input.extend_from_slice(encoded);
    Ok(input)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_codecs_round_trip() {
        for values in [Values::Small, Values::Full] {
            let p = payload(1000, values);
            let postcard = opml_guest::codec::to_payload(&p).unwrap();
            assert_eq!(
                opml_guest::codec::from_payload::<Payload>(&postcard).unwrap(),
                p
            );
            let bincode = bincode_payload(&p).unwrap();
            let (decoded, used): (Payload, usize) =
                bincode::serde::decode_from_slice(&bincode, bincode_config()).unwrap();
            assert_eq!((decoded, used), (p, bincode.len()));
        }
    }

    #[test]
    fn value_kinds_have_the_documented_sizes() {
        let small = opml_guest::codec::to_payload(&payload(1000, Values::Small)).unwrap();
        let full = opml_guest::codec::to_payload(&payload(1000, Values::Full)).unwrap();
        assert!(
            small.len() < 2100 && full.len() > 4500,
            "{} {}",
            small.len(),
            full.len()
        );
        assert_eq!(
            checksum(&payload(10, Values::Full)),
            checksum(&payload(10, Values::Full))
        );
    }
}
