//! The memory Merkle tree.
//!
//! Memory is 2^32 bytes cut into 32-byte leaves. A leaf is its 32 raw bytes (not hashed); an
//! inner node is `sha256(left ‖ right)`. The tree has [`DEPTH`] = 27 levels above the leaves,
//! so the leaf holding byte address `a` has index `a >> 5` and bit `k` of that index says
//! whether the node on level `k` of its path is a right child. Untouched memory is zero; the
//! root of an all-zero subtree of height `h` is [`ZERO_HASHES`]`[h]`.

use crate::{Hash, hash_pair};

/// Levels above the leaves.
pub const DEPTH: usize = opml_platform::memory::MERKLE_DEPTH;

/// Bytes of the elision mask that starts a serialized [`MerkleProof`].
pub const MASK_LEN: usize = 4;

/// Bytes in the longest serialized [`MerkleProof`] (no sibling elided): the mask, the leaf,
/// then all [`DEPTH`] siblings from the bottom up.
pub const MAX_PROOF_LEN: usize = MASK_LEN + 32 * (DEPTH + 1);

/// Mask bits that may be set: one per level, bit `i` for the sibling at height `i`.
pub const MASK_BITS: u32 = (1 << DEPTH) - 1;

/// The root of an all-zero subtree of each height (height 0 is a zero leaf).
/// `ZERO_HASHES[h + 1] = sha256(ZERO_HASHES[h] ‖ ZERO_HASHES[h])`; a unit test recomputes them.
pub const ZERO_HASHES: [Hash; DEPTH + 1] = [
    hex32("0000000000000000000000000000000000000000000000000000000000000000"),
    hex32("f5a5fd42d16a20302798ef6ed309979b43003d2320d9f0e8ea9831a92759fb4b"),
    hex32("db56114e00fdd4c1f85c892bf35ac9a89289aaecb1ebd0a96cde606a748b5d71"),
    hex32("c78009fdf07fc56a11f122370658a353aaa542ed63e44c4bc15ff4cd105ab33c"),
    hex32("536d98837f2dd165a55d5eeae91485954472d56f246df256bf3cae19352a123c"),
    hex32("9efde052aa15429fae05bad4d0b1d7c64da64d03d7a1854a588c2cb8430c0d30"),
    hex32("d88ddfeed400a8755596b21942c1497e114c302e6118290f91e6772976041fa1"),
    hex32("87eb0ddba57e35f6d286673802a4af5975e22506c7cf4c64bb6be5ee11527f2c"),
    hex32("26846476fd5fc54a5d43385167c95144f2643f533cc85bb9d16b782f8d7db193"),
    hex32("506d86582d252405b840018792cad2bf1259f1ef5aa5f887e13cb2f0094f51e1"),
    hex32("ffff0ad7e659772f9534c195c815efc4014ef1e1daed4404c06385d11192e92b"),
    hex32("6cf04127db05441cd833107a52be852868890e4317e6a02ab47683aa75964220"),
    hex32("b7d05f875f140027ef5118a2247bbb84ce8f2f0f1123623085daf7960c329f5f"),
    hex32("df6af5f5bbdb6be9ef8aa618e4bf8073960867171e29676f8b284dea6a08a85e"),
    hex32("b58d900f5e182e3c50ef74969ea16c7726c549757cc23523c369587da7293784"),
    hex32("d49a7502ffcfb0340b1d7885688500ca308161a7f96b62df9d083b71fcc8f2bb"),
    hex32("8fe6b1689256c0d385f42f5bbe2027a22c1996e110ba97c171d3e5948de92beb"),
    hex32("8d0d63c39ebade8509e0ae3c9c3876fb5fa112be18f905ecacfecb92057603ab"),
    hex32("95eec8b2e541cad4e91de38385f2e046619f54496c2382cb6cacd5b98c26f5a4"),
    hex32("f893e908917775b62bff23294dbbe3a1cd8e6cc1c35b4801887b646a6f81f17f"),
    hex32("cddba7b592e3133393c16194fac7431abf2f5485ed711db282183c819e08ebaa"),
    hex32("8a8d7fe3af8caa085a7639a832001457dfb9128a8061142ad0335629ff23ff9c"),
    hex32("feb3c337d7a51a6fbf00b9e34c52e1c9195c969bd4e7a0bfd51d5c5bed9c1167"),
    hex32("e71f0aa83cc32edfbefa9f4d3e0174ca85182eec9f3a09f6a6c0df6377a510d7"),
    hex32("31206fa80a50bb6abe29085058f16212212a60eec8f049fecb92d8c8e0a84bc0"),
    hex32("21352bfecbeddde993839f614c3dac0a3ee37543f9b412b16199dc158e23b544"),
    hex32("619e312724bb6d7c3153ed9de791d764a366b389af13c58bf8a8d90481a46765"),
    hex32("7cdd2986268250628d0c10e385c58c6191e6fbe05191bcc04f133f2cea72c1c4"),
];

/// The root of a memory that is zero everywhere.
pub const EMPTY_ROOT: Hash = ZERO_HASHES[DEPTH];

const fn hex32(s: &str) -> Hash {
    let bytes = s.as_bytes();
    let mut out = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        out[i] = (nibble(bytes[2 * i]) << 4) | nibble(bytes[2 * i + 1]);
        i += 1;
    }
    out
}

const fn nibble(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => panic!("not a lowercase hex digit"),
    }
}

/// The index of the leaf holding byte address `addr`.
pub const fn leaf_index(addr: u32) -> u32 {
    addr >> opml_platform::memory::LEAF_SIZE_LOG2
}

/// A leaf and the sibling hashes on its path to the root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MerkleProof {
    /// The 32 bytes of the leaf.
    pub leaf: [u8; 32],
    /// Sibling hashes, `siblings[0]` next to the leaf, `siblings[DEPTH - 1]` below the root.
    pub siblings: [Hash; DEPTH],
}

impl MerkleProof {
    /// The root implied by this proof with `leaf` at leaf index `index`.
    pub fn root_with_leaf(&self, index: u32, leaf: &[u8; 32]) -> Hash {
        let mut node = *leaf;
        for (level, sibling) in self.siblings.iter().enumerate() {
            node = if (index >> level) & 1 == 1 {
                hash_pair(sibling, &node)
            } else {
                hash_pair(&node, sibling)
            };
        }
        node
    }

    /// The root implied by this proof for the leaf at leaf index `index`.
    pub fn root(&self, index: u32) -> Hash {
        self.root_with_leaf(index, &self.leaf)
    }

    /// The canonical elision mask: bit `i` set exactly when `siblings[i]` is
    /// [`ZERO_HASHES`]`[i]`, the root of an all-zero subtree of height `i`.
    pub fn zero_mask(&self) -> u32 {
        self.siblings
            .iter()
            .enumerate()
            .filter(|(height, sibling)| **sibling == ZERO_HASHES[*height])
            .fold(0, |mask, (height, _)| mask | (1 << height))
    }

    /// Appends the canonical serialized form ([`encode_with_mask`](Self::encode_with_mask)
    /// with [`zero_mask`](Self::zero_mask)): every zero-subtree sibling elided.
    pub fn encode(&self, out: &mut impl Extend<u8>) {
        self.encode_with_mask(self.zero_mask(), out);
    }

    /// Appends the serialized form with elision mask `mask`: `be32(mask)`, the leaf, then
    /// bottom up each sibling whose mask bit is clear ([`encoded_len`] bytes). A verifier takes
    /// [`ZERO_HASHES`]`[i]` for a set bit `i`, so the proof verifies only if every elided
    /// sibling is a zero-subtree root; `mask` may leave some of those in (any mask that
    /// verifies is accepted). Bits above [`MASK_BITS`] make the proof invalid.
    pub fn encode_with_mask(&self, mask: u32, out: &mut impl Extend<u8>) {
        out.extend(mask.to_be_bytes());
        out.extend(self.leaf);
        for (height, sibling) in self.siblings.iter().enumerate() {
            if (mask >> height) & 1 == 0 {
                out.extend(*sibling);
            }
        }
    }

    /// Parses the bytes after the mask: the leaf, then the siblings `mask` does not elide.
    /// `None` unless `body` is exactly [`encoded_len`]`(mask) - MASK_LEN` bytes and `mask` has
    /// no bit above [`MASK_BITS`].
    pub fn decode(mask: u32, body: &[u8]) -> Option<MerkleProof> {
        if mask & !MASK_BITS != 0 || MASK_LEN + body.len() != encoded_len(mask) {
            return None;
        }
        let (leaf, mut rest) = body.split_first_chunk::<32>()?;
        let siblings = core::array::from_fn(|height| {
            if (mask >> height) & 1 == 1 {
                ZERO_HASHES[height]
            } else {
                let (sibling, tail) = rest.split_first_chunk::<32>().expect("length checked");
                rest = tail;
                *sibling
            }
        });
        Some(MerkleProof {
            leaf: *leaf,
            siblings,
        })
    }
}

/// Bytes of a serialized [`MerkleProof`] with elision mask `mask` (bits above [`MASK_BITS`]
/// ignored): the mask, the leaf and `DEPTH - popcount(mask)` siblings.
pub const fn encoded_len(mask: u32) -> usize {
    MASK_LEN + 32 * (1 + DEPTH - (mask & MASK_BITS).count_ones() as usize)
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::vec::Vec;

    use super::*;
    use crate::sha256;

    #[test]
    fn zero_hashes_are_the_zero_subtree_roots() {
        assert_eq!(ZERO_HASHES[0], [0u8; 32]);
        for h in 0..DEPTH {
            let mut both = [0u8; 64];
            both[..32].copy_from_slice(&ZERO_HASHES[h]);
            both[32..].copy_from_slice(&ZERO_HASHES[h]);
            assert_eq!(ZERO_HASHES[h + 1], sha256(&both), "height {}", h + 1);
        }
    }

    #[test]
    fn proof_of_a_zero_leaf_in_empty_memory_gives_the_empty_root() {
        let proof = MerkleProof {
            leaf: [0; 32],
            siblings: core::array::from_fn(|h| ZERO_HASHES[h]),
        };
        assert_eq!(proof.root(leaf_index(0xdead_bee0)), EMPTY_ROOT);
        let mut leaf = [0u8; 32];
        leaf[3] = 1;
        assert_ne!(proof.root_with_leaf(7, &leaf), EMPTY_ROOT);
        assert_ne!(
            proof.root_with_leaf(7, &leaf),
            proof.root_with_leaf(8, &leaf)
        );
    }

    #[test]
    fn proof_encoding_round_trips() {
        let mut proof = MerkleProof {
            leaf: [9; 32],
            siblings: core::array::from_fn(|h| [h as u8 + 1; 32]),
        };
        // Heights 0, 5 and 26 are zero subtrees.
        for height in [0, 5, 26] {
            proof.siblings[height] = ZERO_HASHES[height];
        }
        let mask = proof.zero_mask();
        assert_eq!(mask, 1 | 1 << 5 | 1 << 26);
        let mut bytes = Vec::new();
        proof.encode(&mut bytes);
        assert_eq!(bytes.len(), encoded_len(mask));
        assert_eq!(bytes.len(), MAX_PROOF_LEN - 3 * 32);
        assert_eq!(bytes[..MASK_LEN], mask.to_be_bytes());
        assert_eq!(
            MerkleProof::decode(mask, &bytes[MASK_LEN..]),
            Some(proof.clone())
        );
        // Any sub-mask of the canonical one encodes the same proof, longer.
        for sub in [0, 1 << 5, 1 | 1 << 26] {
            let mut bytes = Vec::new();
            proof.encode_with_mask(sub, &mut bytes);
            assert_eq!(bytes.len(), encoded_len(sub));
            assert_eq!(
                MerkleProof::decode(sub, &bytes[MASK_LEN..]),
                Some(proof.clone())
            );
        }
        // A wrong length or a bit above the tree is refused.
        assert_eq!(MerkleProof::decode(mask, &bytes[MASK_LEN + 1..]), None);
        assert_eq!(
            MerkleProof::decode(mask | 1 << DEPTH, &bytes[MASK_LEN..]),
            None
        );
        // A memory with one non-zero leaf has every sibling elided.
        let lone = MerkleProof {
            leaf: [1; 32],
            siblings: core::array::from_fn(|h| ZERO_HASHES[h]),
        };
        assert_eq!(lone.zero_mask(), MASK_BITS);
        let mut bytes = Vec::new();
        lone.encode(&mut bytes);
        assert_eq!(bytes.len(), MASK_LEN + 32);
    }
}
