//! History trees: keccak256 Merkle trees over the state hashes a party commits to.

use alloy_primitives::keccak256;
use opml_state::Hash;

use crate::TreeError;

/// An inner node: `keccak256(left ‖ right)`, as the game contract computes it.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut pair = [0u8; 64];
    pair[..32].copy_from_slice(left);
    pair[32..].copy_from_slice(right);
    keccak256(pair).0
}

/// The root that `leaf` at `index` and its `siblings`, ordered from the leaf up, hash to: at
/// level `i`, bit `i` of `index` says whether the node is a right child (1) or a left one
/// (0). Bits of `index` above `siblings.len()` are ignored.
pub fn root_from_proof(leaf: Hash, index: u64, siblings: &[Hash]) -> Hash {
    siblings
        .iter()
        .enumerate()
        .fold(leaf, |node, (level, sibling)| {
            let bit = u32::try_from(level)
                .ok()
                .and_then(|level| index.checked_shr(level))
                .unwrap_or(0);
            match bit & 1 {
                0 => node_hash(&node, sibling),
                _ => node_hash(sibling, &node),
            }
        })
}

/// The root of a tree whose *last* leaf is `leaf`: [`root_from_proof`] with every index bit
/// set, so the node is always the right child. The game uses it when a party descends: its
/// child tree's last leaf must be its own state at the end of the parent leaf.
pub fn root_of_last_leaf(leaf: Hash, siblings: &[Hash]) -> Hash {
    siblings
        .iter()
        .fold(leaf, |node, sibling| node_hash(sibling, &node))
}

/// A binary Merkle tree over `2^height` leaves with [`node_hash`] as the inner node, kept
/// whole so that a party can open any node's children or any leaf's proof.
///
/// Nodes are addressed by `(level, index)`: `level` is the height above the leaves (0 for a
/// leaf, [`height`](Self::height) for the root) and `index` counts from the left at that
/// level. The tree holds `2 · 2^height` hashes: 256 MiB for the `2^22` leaves of a large phase.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryTree {
    /// `levels[l]` holds the `2^(height - l)` nodes of level `l`: the leaves first, the root
    /// last.
    levels: Vec<Vec<Hash>>,
}

impl HistoryTree {
    /// The tree over `leaves`, of which there must be exactly `2^height`.
    pub fn new(height: u8, leaves: Vec<Hash>) -> Result<HistoryTree, TreeError> {
        let expected = 1usize.checked_shl(u32::from(height));
        if expected != Some(leaves.len()) {
            return Err(TreeError::LeafCount {
                height,
                count: leaves.len(),
            });
        }
        let mut levels = Vec::with_capacity(usize::from(height) + 1);
        levels.push(leaves);
        while let Some(below) = levels.last().filter(|level| level.len() > 1) {
            let level = below
                .chunks_exact(2)
                .map(|pair| node_hash(&pair[0], &pair[1]))
                .collect();
            levels.push(level);
        }
        Ok(HistoryTree { levels })
    }

    /// The tree's height: `log2` of its number of leaves.
    pub fn height(&self) -> u8 {
        // At most `usize::BITS` levels were built, so this never truncates.
        (self.levels.len() - 1) as u8
    }

    /// The root.
    pub fn root(&self) -> Hash {
        // Every level is non-empty: the last one holds exactly the root.
        self.levels[self.levels.len() - 1][0]
    }

    /// The leaves, left to right.
    pub fn leaves(&self) -> &[Hash] {
        &self.levels[0]
    }

    /// Leaf `index`, or `None` past the last one.
    pub fn leaf(&self, index: u64) -> Option<Hash> {
        self.node(0, index)
    }

    /// The node at `level` above the leaves and `index` from the left, or `None` if there is
    /// no such node.
    pub fn node(&self, level: u8, index: u64) -> Option<Hash> {
        let index = usize::try_from(index).ok()?;
        self.levels.get(usize::from(level))?.get(index).copied()
    }

    /// The `(left, right)` children of the node at `level` (at least 1) and `index`: what a
    /// party reveals at that node during bisection. `None` for a leaf or a missing node.
    pub fn children(&self, level: u8, index: u64) -> Option<(Hash, Hash)> {
        let below = level.checked_sub(1)?;
        self.node(level, index)?;
        let left = index.checked_mul(2)?;
        Some((self.node(below, left)?, self.node(below, left + 1)?))
    }

    /// The siblings of leaf `index` from the leaf up ([`height`](Self::height) of them), which
    /// [`root_from_proof`] turns back into the root; `None` past the last leaf.
    pub fn proof(&self, index: u64) -> Option<Vec<Hash>> {
        self.leaf(index)?;
        let mut index = usize::try_from(index).ok()?;
        let levels = &self.levels[..self.levels.len() - 1];
        let siblings = levels
            .iter()
            .map(|level| {
                let sibling = level[index ^ 1];
                index /= 2;
                sibling
            })
            .collect();
        Some(siblings)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn leaves(height: u8, seed: u8) -> Vec<Hash> {
        (0..1u32 << height)
            .map(|i| {
                let mut leaf = [seed; 32];
                leaf[..4].copy_from_slice(&i.to_be_bytes());
                leaf
            })
            .collect()
    }

    #[test]
    fn small_trees_by_hand() {
        let [a, b, c, d] = [[1; 32], [2; 32], [3; 32], [4; 32]];
        let one = HistoryTree::new(0, vec![a]).unwrap();
        assert_eq!((one.height(), one.root()), (0, a));
        assert_eq!(one.proof(0), Some(vec![]));
        assert_eq!(one.children(0, 0), None);

        let tree = HistoryTree::new(2, vec![a, b, c, d]).unwrap();
        let (ab, cd) = (node_hash(&a, &b), node_hash(&c, &d));
        assert_eq!(tree.root(), node_hash(&ab, &cd));
        assert_eq!(tree.children(2, 0), Some((ab, cd)));
        assert_eq!(tree.children(1, 1), Some((c, d)));
        assert_eq!(tree.children(1, 2), None);
        assert_eq!(tree.children(3, 0), None);
        assert_eq!(tree.proof(2), Some(vec![d, ab]));
        assert_eq!(tree.proof(4), None);
        assert_eq!(tree.leaf(3), Some(d));
        assert_eq!(root_of_last_leaf(d, &[c, ab]), tree.root());
        // The node hash is keccak256 of the 64 concatenated bytes.
        let mut pair = [1u8; 64];
        pair[32..].fill(2);
        assert_eq!(ab, keccak256(pair).0);
    }

    #[test]
    fn wrong_leaf_counts_are_refused() {
        for (height, count) in [(0, 0), (1, 1), (2, 3), (2, 5), (64, 1), (255, 0)] {
            assert_eq!(
                HistoryTree::new(height, vec![[0; 32]; count]),
                Err(TreeError::LeafCount { height, count })
            );
        }
    }

    proptest! {
        #[test]
        fn every_proof_opens_the_root(height in 0u8..=7, seed in any::<u8>()) {
            let tree = HistoryTree::new(height, leaves(height, seed)).unwrap();
            prop_assert_eq!(tree.height(), height);
            let count = 1u64 << height;
            for index in 0..count {
                let leaf = tree.leaf(index).unwrap();
                let proof = tree.proof(index).unwrap();
                prop_assert_eq!(proof.len(), usize::from(height));
                prop_assert_eq!(root_from_proof(leaf, index, &proof), tree.root());
            }
            let last = tree.proof(count - 1).unwrap();
            prop_assert_eq!(root_of_last_leaf(tree.leaf(count - 1).unwrap(), &last), tree.root());
            for level in 1..=height {
                for index in 0..count >> level {
                    let (left, right) = tree.children(level, index).unwrap();
                    prop_assert_eq!(Some(node_hash(&left, &right)), tree.node(level, index));
                }
            }
        }

        #[test]
        fn tampering_changes_the_root(
            height in 1u8..=6,
            seed in any::<u8>(),
            index in any::<u64>(),
            byte in 0usize..32,
            flip in 1u8..=255,
        ) {
            let honest = leaves(height, seed);
            let tree = HistoryTree::new(height, honest.clone()).unwrap();
            let index = index % (1 << height);
            let mut tampered = honest;
            tampered[index as usize][byte] ^= flip;
            let forged = HistoryTree::new(height, tampered.clone()).unwrap();
            prop_assert_ne!(forged.root(), tree.root());
            // The honest proof does not open the tampered leaf, nor the leaf at another index.
            let proof = tree.proof(index).unwrap();
            prop_assert_ne!(root_from_proof(tampered[index as usize], index, &proof), tree.root());
            let other = index ^ 1;
            prop_assert_ne!(root_from_proof(tree.leaf(index).unwrap(), other, &proof), tree.root());
        }
    }
}
