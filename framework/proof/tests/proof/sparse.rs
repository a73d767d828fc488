//! A sparse memory with its Merkle tree, built from `merkle::ZERO_HASHES`.

use std::collections::BTreeMap;

use opml_state::merkle::{DEPTH, MerkleProof, ZERO_HASHES, leaf_index};
use opml_state::{Hash, hash_pair};

/// Memory as its nonzero leaves.
#[derive(Clone, Default)]
pub(crate) struct SparseMemory {
    leaves: BTreeMap<u32, [u8; 32]>,
}

impl SparseMemory {
    /// The node at `height` above the leaves with index `index` on that level.
    fn node(&self, height: usize, index: u32) -> Hash {
        let first = u64::from(index) << height;
        let last = first + (1u64 << height) - 1;
        if self
            .leaves
            .range(first as u32..=last as u32)
            .next()
            .is_none()
        {
            return ZERO_HASHES[height];
        }
        if height == 0 {
            return self.leaves[&index];
        }
        hash_pair(
            &self.node(height - 1, 2 * index),
            &self.node(height - 1, 2 * index + 1),
        )
    }

    pub(crate) fn root(&self) -> Hash {
        self.node(DEPTH, 0)
    }

    /// The proof of the leaf holding `addr`.
    pub(crate) fn proof(&self, addr: u32) -> MerkleProof {
        let index = leaf_index(addr);
        MerkleProof {
            leaf: self.leaves.get(&index).copied().unwrap_or([0; 32]),
            siblings: core::array::from_fn(|level| self.node(level, (index >> level) ^ 1)),
        }
    }

    pub(crate) fn byte(&self, addr: u32) -> u8 {
        self.leaves
            .get(&leaf_index(addr))
            .map_or(0, |leaf| leaf[(addr % 32) as usize])
    }

    pub(crate) fn bytes(&self, addr: u32, len: u32) -> Vec<u8> {
        (0..len).map(|i| self.byte(addr.wrapping_add(i))).collect()
    }

    pub(crate) fn put(&mut self, addr: u32, data: &[u8]) {
        for (i, &b) in data.iter().enumerate() {
            let addr = addr.wrapping_add(i as u32);
            self.leaves.entry(leaf_index(addr)).or_default()[(addr % 32) as usize] = b;
        }
    }

    pub(crate) fn put_word(&mut self, addr: u32, word: u32) {
        self.put(addr, &word.to_le_bytes());
    }
}

#[test]
fn sparse_roots_agree_with_proofs() {
    let mut mem = SparseMemory::default();
    assert_eq!(mem.root(), opml_state::merkle::EMPTY_ROOT);
    mem.put(0x1000, &[1, 2, 3]);
    mem.put(0xffff_fff0, &[9; 16]);
    mem.put(0x20, &[7]);
    for addr in [0x1000, 0xffff_fff0, 0x20, 0x0, 0x1020, 0x8000_0000] {
        assert_eq!(
            mem.proof(addr).root(leaf_index(addr)),
            mem.root(),
            "{addr:#x}"
        );
    }
}
