//! Typed values on the opml input and output streams.
//!
//! A guest reads its input stream (fd 0) and commits its public output (fd 1) as a sequence of
//! **frames**. One frame is one value:
//!
//! ```text
//! frame   = le32(len) ‖ payload          (len = payload length in bytes, HEADER_LEN = 4)
//! payload = postcard encoding of the value (serde data model: varint integers, length-prefixed
//!           sequences and strings, enums by varint variant index)
//! ```
//!
//! The guest SDK (`opml-guest`) and host code (CLI, tests, agents) both use this crate, so the
//! two sides cannot disagree on the format. The length prefix lets a reader take a frame off the
//! stream without knowing its type, lets a guest read a value's bytes in one pass before decoding
//! them, and keeps raw byte frames (`opml_guest::commit_frame`) and typed frames interchangeable.
//!
//! Postcard was measured against bincode 2 with fixed-width integers in the VM (guest
//! `codec-bench`; `cargo run --release -p opml-methods --example codec_costs`, figures in the
//! repository's `BENCHMARKS.md`): postcard decodes small integers slightly more cheaply and its
//! payloads are smaller, bincode encodes 2–3× more cheaply and decodes full-range integers
//! about 1.6× more cheaply. Postcard is kept for the common case of guest inputs (small values),
//! its size, and because bincode is no longer maintained (its 3.0.0 release is a tombstone).
//! The choice is private to this crate.
//!
//! The crate is `no_std` with `alloc`.
#![no_std]

extern crate alloc;

use alloc::vec::Vec;
use core::fmt;

use postcard::ser_flavors::Flavor;
use serde::{Deserialize, Serialize};

/// Bytes in a frame header: the payload length as a little-endian `u32`.
pub const HEADER_LEN: usize = 4;

/// Why a value could not be encoded or decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The value could not be serialized (for example a sequence of unknown length).
    Encode(PayloadError),
    /// The payload is not a valid encoding of the requested type.
    Decode(PayloadError),
    /// The payload is too long for a `u32` length prefix; the value is its length.
    TooLarge(usize),
    /// The bytes end before the frame does.
    Truncated {
        /// Bytes the frame (or its header) needs.
        needed: usize,
        /// Bytes that were there.
        available: usize,
    },
    /// Bytes follow the value where none were expected: inside a payload after the value, or
    /// after the only frame of [`decode`].
    TrailingBytes(usize),
}

/// The serde codec's own description of an encoding or decoding failure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PayloadError(postcard::Error);

impl fmt::Display for PayloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Encode(err) => write!(f, "cannot encode value: {err}"),
            Error::Decode(err) => write!(f, "cannot decode value: {err}"),
            Error::TooLarge(len) => {
                write!(f, "payload of {len} bytes does not fit a u32 length prefix")
            }
            Error::Truncated { needed, available } => write!(
                f,
                "frame truncated: needs {needed} bytes, only {available} available"
            ),
            Error::TrailingBytes(count) => write!(f, "{count} unexpected bytes after the value"),
        }
    }
}

impl core::error::Error for Error {}

/// A postcard output flavor that appends to an existing vector, so a frame header (or any
/// prefix the caller wants, such as alignment padding) can precede the payload in one buffer.
struct Append<'a>(&'a mut Vec<u8>);

/// Writes up to this many bytes one at a time (the longest varint, of a `u64`, is 10 bytes).
const SHORT: usize = 10;

impl Flavor for Append<'_> {
    type Output = ();

    #[inline(always)]
    fn try_push(&mut self, byte: u8) -> postcard::Result<()> {
        self.0.push(byte);
        Ok(())
    }

    #[inline(always)]
    fn try_extend(&mut self, bytes: &[u8]) -> postcard::Result<()> {
        // Most calls carry one varint: for those a byte loop is much cheaper in the VM than
        // the `memcpy` call of `extend_from_slice`.
        if bytes.len() <= SHORT {
            self.0.reserve(bytes.len());
            let len = self.0.len();
            for (slot, &byte) in self.0.spare_capacity_mut().iter_mut().zip(bytes) {
                slot.write(byte);
            }
            // SAFETY: `reserve` made room for `bytes.len()` more, and the loop initialized them.
            unsafe { self.0.set_len(len + bytes.len()) };
        } else {
            self.0.extend_from_slice(bytes);
        }
        Ok(())
    }

    fn finalize(self) -> postcard::Result<()> {
        Ok(())
    }
}

/// Serializes `value` to a bare payload (no frame header).
pub fn to_payload<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    postcard::serialize_with_flavor(value, Append(&mut out))
        .map_err(|e| Error::Encode(PayloadError(e)))?;
    Ok(out)
}

/// Deserializes a bare payload; every byte of `payload` must belong to the value.
pub fn from_payload<'a, T: Deserialize<'a>>(payload: &'a [u8]) -> Result<T, Error> {
    let (value, rest) =
        postcard::take_from_bytes(payload).map_err(|e| Error::Decode(PayloadError(e)))?;
    if rest.is_empty() {
        Ok(value)
    } else {
        Err(Error::TrailingBytes(rest.len()))
    }
}

/// The frame header for a payload of `payload_len` bytes.
pub fn frame_header(payload_len: usize) -> Result<[u8; HEADER_LEN], Error> {
    u32::try_from(payload_len)
        .map(u32::to_le_bytes)
        .map_err(|_| Error::TooLarge(payload_len))
}

/// The payload length a frame header announces.
pub fn payload_len(header: [u8; HEADER_LEN]) -> usize {
    u32::from_le_bytes(header) as usize
}

/// Encodes `value` as one frame (header and payload).
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    encode_into(value, &mut out)?;
    Ok(out)
}

/// Appends `value` as one frame to `out`. On error `out` is left as it was.
pub fn encode_into<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) -> Result<(), Error> {
    let start = out.len();
    out.extend_from_slice(&[0; HEADER_LEN]);
    let header = postcard::serialize_with_flavor(value, Append(out))
        .map_err(|e| Error::Encode(PayloadError(e)))
        .and_then(|()| frame_header(out.len() - start - HEADER_LEN));
    match header {
        Ok(header) => {
            out[start..start + HEADER_LEN].copy_from_slice(&header);
            Ok(())
        }
        Err(err) => {
            out.truncate(start);
            Err(err)
        }
    }
}

/// Decodes `bytes` as exactly one frame holding a `T`.
pub fn decode<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, Error> {
    let mut reader = FrameReader::new(bytes);
    let value = reader.value()?;
    match reader.remaining().len() {
        0 => Ok(value),
        extra => Err(Error::TrailingBytes(extra)),
    }
}

/// Reads consecutive frames from a byte slice, such as a guest's whole output.
#[derive(Clone, Debug)]
pub struct FrameReader<'a> {
    rest: &'a [u8],
}

impl<'a> FrameReader<'a> {
    /// A reader at the start of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        FrameReader { rest: bytes }
    }

    /// Takes the next frame and returns its payload.
    pub fn payload(&mut self) -> Result<&'a [u8], Error> {
        let truncated = |needed| Error::Truncated {
            needed,
            available: self.rest.len(),
        };
        let (header, body) = self
            .rest
            .split_first_chunk::<HEADER_LEN>()
            .ok_or_else(|| truncated(HEADER_LEN))?;
        let len = payload_len(*header);
        if body.len() < len {
            return Err(truncated(HEADER_LEN.saturating_add(len)));
        }
        let (payload, rest) = body.split_at(len);
        self.rest = rest;
        Ok(payload)
    }

    /// Takes the next frame and decodes it as a `T`.
    pub fn value<T: Deserialize<'a>>(&mut self) -> Result<T, Error> {
        from_payload(self.payload()?)
    }

    /// The bytes not read yet.
    pub fn remaining(&self) -> &'a [u8] {
        self.rest
    }

    /// Whether every frame has been read.
    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }
}

/// Deserializes a bare payload through `seed`, for values whose type is known only at run
/// time (the `opml codec` CLI decodes by a schema this way); every byte of `payload` must
/// belong to the value.
pub fn from_payload_seed<'a, S: serde::de::DeserializeSeed<'a>>(
    seed: S,
    payload: &'a [u8],
) -> Result<S::Value, Error> {
    let mut deserializer = postcard::Deserializer::from_bytes(payload);
    let value = seed
        .deserialize(&mut deserializer)
        .map_err(|e| Error::Decode(PayloadError(e)))?;
    let rest = deserializer
        .finalize()
        .map_err(|e| Error::Decode(PayloadError(e)))?;
    if rest.is_empty() {
        Ok(value)
    } else {
        Err(Error::TrailingBytes(rest.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::String;
    use alloc::vec;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Sample {
        name: String,
        values: Vec<u32>,
        signed: i64,
        flag: bool,
        tag: Option<u8>,
    }

    fn sample() -> Sample {
        Sample {
            name: "opml".into(),
            values: vec![0, 1, 127, 128, 300, u32::MAX],
            signed: -5,
            flag: true,
            tag: Some(7),
        }
    }

    #[test]
    fn frame_round_trips() {
        let bytes = encode(&sample()).unwrap();
        assert_eq!(
            payload_len(bytes[..4].try_into().unwrap()),
            bytes.len() - HEADER_LEN
        );
        assert_eq!(decode::<Sample>(&bytes).unwrap(), sample());
        assert_eq!(
            from_payload::<Sample>(&bytes[HEADER_LEN..]).unwrap(),
            sample()
        );
        assert_eq!(to_payload(&sample()).unwrap(), &bytes[HEADER_LEN..]);
    }

    #[test]
    fn header_is_little_endian_length() {
        let bytes = encode(&[1u8, 2, 3][..]).unwrap();
        // postcard: varint length 3, then the three bytes.
        assert_eq!(bytes, [4, 0, 0, 0, 3, 1, 2, 3]);
        assert_eq!(frame_header(0x0102_0304).unwrap(), [4, 3, 2, 1]);
    }

    #[test]
    fn borrowed_values_decode_without_copying() {
        let bytes = encode("hello").unwrap();
        let text: &str = decode(&bytes).unwrap();
        assert_eq!(text, "hello");
    }

    #[test]
    fn frames_concatenate() {
        let mut out = Vec::new();
        encode_into(&1u32, &mut out).unwrap();
        encode_into("two", &mut out).unwrap();
        out.extend_from_slice(&frame_header(2).unwrap());
        out.extend_from_slice(b"ab");
        let mut reader = FrameReader::new(&out);
        assert_eq!(reader.value::<u32>().unwrap(), 1);
        assert_eq!(reader.value::<String>().unwrap(), "two");
        assert_eq!(reader.payload().unwrap(), b"ab");
        assert!(reader.is_empty());
        assert_eq!(
            reader.payload(),
            Err(Error::Truncated {
                needed: 4,
                available: 0
            })
        );
    }

    #[test]
    fn truncated_and_trailing_bytes_are_errors() {
        let bytes = encode(&sample()).unwrap();
        assert_eq!(
            decode::<Sample>(&bytes[..bytes.len() - 1]),
            Err(Error::Truncated {
                needed: bytes.len(),
                available: bytes.len() - 1
            })
        );
        assert_eq!(
            decode::<Sample>(&bytes[..2]),
            Err(Error::Truncated {
                needed: 4,
                available: 2
            })
        );
        let mut extra = bytes.clone();
        extra.push(0);
        assert_eq!(decode::<Sample>(&extra), Err(Error::TrailingBytes(1)));
        // A payload longer than the value it holds.
        assert_eq!(from_payload::<u8>(&[1, 2]), Err(Error::TrailingBytes(1)));
        assert!(matches!(from_payload::<bool>(&[2]), Err(Error::Decode(_))));
    }

    #[test]
    fn failed_encode_leaves_buffer_unchanged() {
        struct Unsized;
        impl Serialize for Unsized {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                use serde::ser::SerializeSeq;
                s.serialize_seq(None)?.end()
            }
        }
        let mut out = vec![9, 9];
        assert!(matches!(
            encode_into(&Unsized, &mut out),
            Err(Error::Encode(_))
        ));
        assert_eq!(out, [9, 9]);
        let message = alloc::format!("{}", encode(&Unsized).unwrap_err());
        assert!(message.starts_with("cannot encode value"), "{message}");
    }
}
