//! The input commitment: a hash chain over 32-byte chunks.
//!
//! The input of length `L` is cut into chunks `c_0, c_1, …` of 32 bytes (the last one zero
//! padded). With `r_i = L - 32 i` the bytes remaining from chunk `i` on,
//!
//! ```text
//! link_i = sha256(be32(r_i) ‖ c_i ‖ link_{i+1})      for 32 i < L
//! link_n = 0 (32 zero bytes)                         at the end
//! ```
//!
//! The **input commitment** of a task is `link_0`; the empty input commits to zero. The state
//! keeps the link of the chunk holding the read cursor, so a `read` step proves its data with
//! one [`InputChunk`] (68 bytes) and one hash, whatever the input's size. Because each link
//! carries `r_i`, the verifier knows how many bytes of the chunk are real.

use crate::{Hash, sha256};

/// Bytes per chunk.
pub const CHUNK_LEN: usize = opml_platform::memory::LEAF_SIZE as usize;

/// Bytes in a serialized [`InputChunk`]: `be32(remaining) ‖ chunk ‖ next`.
pub const CHUNK_PROOF_LEN: usize = 4 + CHUNK_LEN + 32;

/// The link after the last chunk.
pub const END_LINK: Hash = [0; 32];

/// One link of the input chain, opened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputChunk {
    /// Bytes of input from the start of this chunk to the end of the input.
    pub remaining: u32,
    /// The chunk, zero padded.
    pub data: [u8; CHUNK_LEN],
    /// The link of the next chunk ([`END_LINK`] after the last).
    pub next: Hash,
}

impl InputChunk {
    /// The link this chunk opens.
    pub fn link(&self) -> Hash {
        sha256(&self.encode())
    }

    /// How many bytes of `data` are input (the rest is padding).
    pub fn valid_len(&self) -> u32 {
        self.remaining.min(CHUNK_LEN as u32)
    }

    /// The serialized form, which is also the preimage of [`link`](Self::link).
    pub fn encode(&self) -> [u8; CHUNK_PROOF_LEN] {
        let mut out = [0u8; CHUNK_PROOF_LEN];
        out[..4].copy_from_slice(&self.remaining.to_be_bytes());
        out[4..4 + CHUNK_LEN].copy_from_slice(&self.data);
        out[4 + CHUNK_LEN..].copy_from_slice(&self.next);
        out
    }

    /// Parses the serialized form.
    pub fn decode(data: &[u8; CHUNK_PROOF_LEN]) -> InputChunk {
        InputChunk {
            remaining: u32::from_be_bytes(data[..4].try_into().expect("4 bytes")),
            data: data[4..4 + CHUNK_LEN].try_into().expect("32 bytes"),
            next: data[4 + CHUNK_LEN..].try_into().expect("32 bytes"),
        }
    }
}

/// Chunk `index` of `input` (of length `len`), opened with `next` as its successor link.
pub fn chunk_at(input: &[u8], len: u32, index: usize, next: Hash) -> InputChunk {
    let start = index * CHUNK_LEN;
    let end = (start + CHUNK_LEN).min(input.len());
    let mut data = [0u8; CHUNK_LEN];
    data[..end - start].copy_from_slice(&input[start..end]);
    InputChunk {
        remaining: len - start as u32,
        data,
        next,
    }
}

/// The input commitment (`link_0`) of `input`.
///
/// # Panics
/// If `input` is 4 GiB or longer.
pub fn commitment(input: &[u8]) -> Hash {
    let len = u32::try_from(input.len()).expect("input shorter than 4 GiB");
    let chunks = input.len().div_ceil(CHUNK_LEN);
    (0..chunks)
        .rev()
        .fold(END_LINK, |next, i| chunk_at(input, len, i, next).link())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_input_commits_to_zero() {
        assert_eq!(commitment(&[]), END_LINK);
    }

    #[test]
    fn commitment_binds_length_and_content() {
        assert_ne!(commitment(b"ab"), commitment(b"ab\0"));
        assert_ne!(commitment(b"ab"), commitment(b"ac"));
        let long: [u8; 100] = core::array::from_fn(|i| i as u8);
        let c3 = chunk_at(&long, 100, 3, END_LINK);
        let c2 = chunk_at(&long, 100, 2, c3.link());
        let c1 = chunk_at(&long, 100, 1, c2.link());
        let c0 = chunk_at(&long, 100, 0, c1.link());
        assert_eq!(c0.link(), commitment(&long));
        assert_eq!(c3.valid_len(), 4);
        assert_eq!(c0.valid_len(), 32);
        assert_eq!(&c0.data[..], &long[..32]);
    }

    #[test]
    fn chunk_encoding_round_trips() {
        let chunk = InputChunk {
            remaining: 77,
            data: [5; 32],
            next: [6; 32],
        };
        assert_eq!(InputChunk::decode(&chunk.encode()), chunk);
    }
}
