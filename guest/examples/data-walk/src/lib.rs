//! The `data-walk` example guest: it reads data it knows only by a root hash, through the data
//! oracle (`opml_guest::preimage`), and commits a digest of it.
//!
//! The data is a binary SHA-256 tree of `2^depth` leaves, each 64 data bytes; an inner node's
//! preimage is `left key ‖ right key`, and every key is the SHA-256 of its preimage
//! (`docs/vm-spec.md`, "Data oracle"; `opml_vm::Preimages::insert_tree` builds one).
//!
//! Input: one frame holding a [`Request`]. Output: one frame holding the [`Reply`] of [`walk`].
//! A depth above [`MAX_DEPTH`] exits with `exit_code::BAD_INPUT`.
#![no_std]

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The deepest tree the guest walks (2^24 leaves, 1 GiB of data).
pub const MAX_DEPTH: u8 = 24;

/// What to read: the tree with this root and depth.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// The root key.
    pub root: [u8; 32],
    /// Levels of inner nodes above the leaves (0: the root is a leaf).
    pub depth: u8,
}

/// What the guest commits.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    /// Leaves read.
    pub leaves: u32,
    /// SHA-256 of the leaves' data, concatenated left to right.
    pub digest: [u8; 32],
}

/// Walks the tree of `request` depth first, left to right, reading every node with `preimage`
/// (the data oracle in the VM); returns the digest of the leaves' data.
pub fn walk(request: &Request, mut preimage: impl FnMut(&[u8; 32]) -> [u8; 64]) -> Reply {
    let mut hasher = Sha256::new();
    let mut leaves = 0u32;
    // The keys still to visit, with their depth below the root; right children are pushed
    // first so that left ones come out first. At most one pending key per level, plus one.
    let mut stack = [([0u8; 32], 0u8); MAX_DEPTH as usize + 1];
    stack[0] = (request.root, 0);
    let mut len = 1;
    while len > 0 {
        len -= 1;
        let (key, level) = stack[len];
        let node = preimage(&key);
        if level == request.depth {
            hasher.update(node);
            leaves += 1;
            continue;
        }
        let (left, right) = node.split_at(32);
        for child in [right, left] {
            let mut key = [0u8; 32];
            key.copy_from_slice(child);
            stack[len] = (key, level + 1);
            len += 1;
        }
    }
    Reply {
        leaves,
        digest: hasher.finalize().into(),
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use std::collections::HashMap;
    use std::vec::Vec;

    use super::*;

    fn sha(data: &[u8]) -> [u8; 32] {
        Sha256::digest(data).into()
    }

    #[test]
    fn walks_every_leaf_in_order() {
        let leaves: Vec<[u8; 64]> = (0..4u8).map(|i| [i + 1; 64]).collect();
        let mut map = HashMap::new();
        let keys: Vec<[u8; 32]> = leaves
            .iter()
            .map(|leaf| {
                map.insert(sha(leaf), *leaf);
                sha(leaf)
            })
            .collect();
        let mut level = keys;
        while level.len() > 1 {
            level = level
                .chunks(2)
                .map(|pair| {
                    let mut node = [0u8; 64];
                    node[..32].copy_from_slice(&pair[0]);
                    node[32..].copy_from_slice(&pair[1]);
                    map.insert(sha(&node), node);
                    sha(&node)
                })
                .collect();
        }
        let request = Request {
            root: level[0],
            depth: 2,
        };
        let reply = walk(&request, |key| map[key]);
        assert_eq!(reply.leaves, 4);
        assert_eq!(reply.digest, sha(&leaves.concat()));
        // Depth 0: the root itself is the one leaf.
        let one = walk(
            &Request {
                root: sha(&leaves[0]),
                depth: 0,
            },
            |key| map[key],
        );
        assert_eq!((one.leaves, one.digest), (1, sha(&leaves[0])));
    }
}
