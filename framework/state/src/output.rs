//! The output commitment.
//!
//! Output bytes are collected in 32-byte chunks. The state keeps the fold of the completed
//! chunks, `acc' = sha256(acc ‖ chunk)` starting from zero, plus the pending bytes (`tail`) and
//! the total length. The **output digest** of a run is
//!
//! ```text
//! sha256(acc ‖ tail ‖ be32(len))
//! ```
//!
//! which depends only on the bytes written, never on how the guest split them into `write`
//! calls, so anyone holding the output bytes can recompute it.

use crate::{Hash, hash_pair, sha256};

/// Bytes per output chunk.
pub const CHUNK_LEN: usize = opml_platform::memory::LEAF_SIZE as usize;

/// Folds one completed chunk into the accumulator.
pub fn fold(acc: &Hash, chunk: &[u8; CHUNK_LEN]) -> Hash {
    hash_pair(acc, chunk)
}

/// The output digest from the state's accumulator, tail and length.
pub fn finish(acc: &Hash, tail: &[u8; CHUNK_LEN], len: u32) -> Hash {
    let mut data = [0u8; 32 + CHUNK_LEN + 4];
    data[..32].copy_from_slice(acc);
    data[32..32 + CHUNK_LEN].copy_from_slice(tail);
    data[32 + CHUNK_LEN..].copy_from_slice(&len.to_be_bytes());
    sha256(&data)
}

/// The output digest of `output`.
///
/// # Panics
/// If `output` is 4 GiB or longer.
pub fn digest(output: &[u8]) -> Hash {
    let len = u32::try_from(output.len()).expect("output shorter than 4 GiB");
    let mut chunks = output.chunks_exact(CHUNK_LEN);
    let acc = chunks.by_ref().fold([0u8; 32], |acc, chunk| {
        fold(&acc, chunk.try_into().expect("32 bytes"))
    });
    let mut tail = [0u8; CHUNK_LEN];
    let rest = chunks.remainder();
    tail[..rest.len()].copy_from_slice(rest);
    finish(&acc, &tail, len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_binds_length_and_content() {
        assert_ne!(digest(b""), digest(b"\0"));
        assert_ne!(digest(&[1; 32]), digest(&[1; 33]));
        assert_ne!(digest(&[1; 64]), digest(&[2; 64]));
    }

    #[test]
    fn digest_of_exact_chunks_has_an_empty_tail() {
        let data = [7u8; 64];
        let acc = fold(&fold(&[0; 32], &[7; 32]), &[7; 32]);
        assert_eq!(digest(&data), finish(&acc, &[0; 32], 64));
    }
}
