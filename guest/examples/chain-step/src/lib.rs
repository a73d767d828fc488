//! The `chain-step` example: the step program of a program-defined phase
//! (`docs/game-design.md`), as small as one can be. The program's coarse steps are the links of
//! a hash chain, `C(i) = sha256(C(i−1) ‖ be64(i))` for `1 ≤ i ≤` [`LINKS`], a fixed point
//! after; the host computes them natively, and a disputed link `j` is re-done in the VM by this
//! guest.
//!
//! Input: `C(j−1) ‖ be64(j)` (40 bytes, the input every step program of a program-defined
//! phase receives). Output: `C(j)`, 32 bytes. Any other input length exits with
//! `exit_code::BAD_INPUT`.
#![no_std]

use sha2::{Digest, Sha256};

/// Links in the chain: coarse steps after the last one repeat `C(LINKS)`.
pub const LINKS: u64 = 24;

/// `C(j)` from `C(j−1)`.
pub fn link(previous: &[u8; 32], j: u64) -> [u8; 32] {
    if j == 0 || j > LINKS {
        return *previous;
    }
    let mut hasher = Sha256::new();
    hasher.update(previous);
    hasher.update(j.to_be_bytes());
    hasher.finalize().into()
}
