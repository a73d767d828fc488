//! The opml VM state and the commitments it is made of.
//!
//! Everything here feeds a state hash, so everything here is defined exactly once and mirrored by
//! the Solidity step verifier (field order, offsets and lengths are checked there against vectors
//! generated from this crate).
//!
//! - [`VmState`]: the packed state and its hash (module [`layout`] gives every offset).
//! - [`merkle`]: the SHA-256 Merkle tree over the 4 GiB memory, 32-byte leaves.
//! - [`input`]: the commitment to the input stream, a hash chain of 32-byte chunks read front to
//!   back, so a `read` step proves one chunk with 68 bytes of witness.
//! - [`output`]: the running commitment to the public output, independent of how the guest split
//!   its writes.
#![no_std]

pub mod input;
pub mod merkle;
pub mod output;
mod state;

pub use state::{ExitStatus, StateDecodeError, VmState, layout};

/// A SHA-256 digest.
pub type Hash = [u8; 32];

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> Hash {
    use sha2::Digest;
    sha2::Sha256::digest(data).into()
}

/// SHA-256 of `a ‖ b`: an inner node of every tree and chain in this crate.
pub fn hash_pair(a: &Hash, b: &Hash) -> Hash {
    use sha2::Digest;
    let mut hasher = sha2::Sha256::new();
    hasher.update(a);
    hasher.update(b);
    hasher.finalize().into()
}
