//! The `hashbench` example guest: iterated SHA-256, the CPU-heavy workload of the MIPS
//! benchmark (VM against `qemu-riscv32` and native).
//!
//! Input: one frame holding an [`Input`], or nothing at all for [`Input::default`]
//! ([`DEFAULT_ITERATIONS`] rounds from a zero seed). Output: the 32 raw bytes of
//! `sha256^n(seed)`, where each round hashes the previous 32-byte digest.
//!
//! SHA-256 is written out here in plain integer arithmetic (FIPS 180-4) instead of taken from
//! the `sha2` crate, so that the native build runs exactly the code the VM runs, not a SHA
//! extension of the host CPU; the tests check it against `sha2`.
#![no_std]

use serde::{Deserialize, Serialize};

/// Rounds of the default benchmark: a few hundred million RV32IM instructions.
pub const DEFAULT_ITERATIONS: u32 = 100_000;

/// What the guest reads.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Input {
    /// How many times to hash.
    pub iterations: u32,
    /// The starting value.
    pub seed: [u8; 32],
}

impl Input {
    /// The default benchmark: [`DEFAULT_ITERATIONS`] rounds from a zero seed.
    pub fn benchmark() -> Input {
        Input {
            iterations: DEFAULT_ITERATIONS,
            seed: [0; 32],
        }
    }
}

/// SHA-256 round constants (FIPS 180-4, 4.2.2).
const K: [u32; 64] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

/// SHA-256 initial hash value (FIPS 180-4, 5.3.3).
const H0: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

/// SHA-256 of a 32-byte message: one compression of a single padded block.
pub fn sha256_32(message: &[u8; 32]) -> [u8; 32] {
    let mut w = [0u32; 64];
    for (word, bytes) in w.iter_mut().zip(message.chunks_exact(4)) {
        *word = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    }
    // Padding: a 1 bit after the message, zeros, then the length in bits (256).
    w[8] = 0x8000_0000;
    w[15] = 256;
    for i in 16..64 {
        let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
        let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16]
            .wrapping_add(s0)
            .wrapping_add(w[i - 7])
            .wrapping_add(s1);
    }
    let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut h] = H0;
    for (&k, &word) in K.iter().zip(w.iter()) {
        let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
        let choice = (e & f) ^ (!e & g);
        let t1 = h
            .wrapping_add(s1)
            .wrapping_add(choice)
            .wrapping_add(k)
            .wrapping_add(word);
        let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
        let majority = (a & b) ^ (a & c) ^ (b & c);
        let t2 = s0.wrapping_add(majority);
        h = g;
        g = f;
        f = e;
        e = d.wrapping_add(t1);
        d = c;
        c = b;
        b = a;
        a = t1.wrapping_add(t2);
    }
    let mut digest = [0u8; 32];
    for ((out, initial), value) in digest
        .chunks_exact_mut(4)
        .zip(H0)
        .zip([a, b, c, d, e, f, g, h])
    {
        out.copy_from_slice(&initial.wrapping_add(value).to_be_bytes());
    }
    digest
}

/// `sha256^n(seed)` for the input's `n` and seed.
pub fn run(input: &Input) -> [u8; 32] {
    (0..input.iterations).fold(input.seed, |digest, _| sha256_32(&digest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    #[test]
    fn matches_the_sha2_crate() {
        let mut value = [7u8; 32];
        for _ in 0..100 {
            let expected: [u8; 32] = Sha256::digest(value).into();
            assert_eq!(sha256_32(&value), expected);
            value = expected;
        }
    }

    #[test]
    fn iterates_from_the_seed() {
        let input = Input {
            iterations: 3,
            seed: [1; 32],
        };
        let once = |d: [u8; 32]| -> [u8; 32] { Sha256::digest(d).into() };
        assert_eq!(run(&input), once(once(once([1; 32]))));
        assert_eq!(run(&Input::default()), [0; 32]);
    }
}
