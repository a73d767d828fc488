//! History trees: keccak256 Merkle trees over the state hashes a party commits to, built by
//! streaming a trace's leaves and kept in bounded memory.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use alloy_primitives::keccak256;
use opml_state::Hash;

use crate::config::MAX_HEIGHT;
use crate::{Trace, TreeError};

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

/// A binary Merkle tree over `2^height` leaves with [`node_hash`] as the inner node, in bounded
/// memory: a party can open any node's children or any leaf's proof without holding the
/// `2 · 2^height` hashes of the whole tree.
///
/// Nodes are addressed by `(level, index)`: `level` is the height above the leaves (0 for a
/// leaf, [`height`](Self::height) for the root) and `index` counts from the left at that
/// level.
///
/// # Memory: the cut
///
/// A tree over a trace's range ([`build`](Self::build)) streams the range's leaves once and
/// keeps the nodes at and above its **cut level** `c` ([`cut_level`](Self::cut_level)): trees
/// up to [`WHOLE_HEIGHT`](Self::WHOLE_HEIGHT) (16) are kept whole (`c = 0`, nothing is ever
/// recomputed); a higher tree of height `h` has `c = h − 16`, so it keeps the `2^16` nodes of
/// the cut level and the levels above them (`2^17 − 1` hashes, 4 MiB), plus its last leaf and
/// that leaf's proof. A node below the cut is recomputed on demand from the trace: the subtree
/// of `2^c` leaves (at most `2^16` for `h ≤ 32`) under its cut-level node, one seek and one
/// forward run over `1/2^16` of the tree's range, checked against the stored cut-level node.
/// The last recomputed subtree is cached (`2^(c+1) − 1` hashes), since a bisection walks down
/// one path: a whole bisection of a high tree costs one subtree recomputation, two when the
/// agreed state's proof falls in the subtree before the disputed leaf's. So a tree holds at
/// most [`MAX_STORED_HASHES`](Self::MAX_STORED_HASHES) hashes (8 MiB) whatever its height
/// ([`stored_hashes`](Self::stored_hashes)).
///
/// # Sharing
///
/// Cloning is cheap: the stored levels are behind an [`Arc`], so a task's top tree is built
/// once and handed to every player of every game on the task. Each clone has its own cache of
/// recomputed nodes, filled through the trace its queries are given.
#[derive(Clone)]
pub struct HistoryTree {
    /// Its height.
    height: u8,
    /// Its cut level: nodes below it are recomputed.
    cut: u8,
    /// The agreed start of the range its leaves come from: leaf `i` is `S(start + (i+1)·stride)`.
    start: u64,
    /// Steps per leaf.
    stride: u64,
    /// The stored levels, shared by clones.
    upper: Arc<Upper>,
    /// The last subtree below the cut that this clone recomputed.
    cache: Option<Subtree>,
    /// Leaves recomputed by this tree and its clones.
    recomputed: Arc<AtomicU64>,
}

/// What a tree stores.
struct Upper {
    /// `levels[k]` holds the nodes of level `cut + k`, left to right: the root last.
    levels: Vec<Vec<Hash>>,
    /// The last leaf.
    last_leaf: Hash,
    /// The siblings of the last leaf, from the leaf up.
    last_proof: Vec<Hash>,
}

/// A recomputed subtree under one node of the cut level.
#[derive(Clone)]
struct Subtree {
    /// The index of its root on the cut level.
    index: u64,
    /// `levels[l]` holds its nodes of level `l`, from its leaves (level 0) to its root.
    levels: Vec<Vec<Hash>>,
}

impl fmt::Debug for HistoryTree {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HistoryTree")
            .field("height", &self.height)
            .field("cut", &self.cut)
            .field("start", &self.start)
            .field("stride", &self.stride)
            .field("root", &self.root())
            .finish_non_exhaustive()
    }
}

impl HistoryTree {
    /// Trees up to this height are kept whole; a higher tree keeps this many levels above its
    /// cut level ([`cut_level`](Self::cut_level)).
    pub const WHOLE_HEIGHT: u8 = 16;

    /// The most hashes a tree of any height up to 32 holds
    /// ([`stored_hashes`](Self::stored_hashes)): the levels at and above the cut
    /// (`2^17 − 1`), a cached subtree below it (at most `2^17 − 1`), and the last leaf with its
    /// proof (at most 33). 8 MiB.
    pub const MAX_STORED_HASHES: usize = 2 * ((1 << (Self::WHOLE_HEIGHT + 1)) - 1) + 33;

    /// The cut level of a tree of `height`: 0 up to [`WHOLE_HEIGHT`](Self::WHOLE_HEIGHT),
    /// else `height − WHOLE_HEIGHT`, so that `2^WHOLE_HEIGHT` nodes are stored on the cut level
    /// and a subtree recomputed below it has `2^(height − WHOLE_HEIGHT)` leaves.
    pub fn cut_level(height: u8) -> u8 {
        height.saturating_sub(Self::WHOLE_HEIGHT)
    }

    /// The tree over the `2^height` leaves `S(start + stride), …, S(start + 2^height · stride)`
    /// of `source` ([`Trace::for_each_leaf`], one pass), with the cut of
    /// [`cut_level`](Self::cut_level). `last` replaces the last leaf when given (an adversary's
    /// child tree that ends at its parent leaf whatever its trace says). Later queries that
    /// recompute nodes must be given the same source.
    pub fn build(
        source: &mut dyn Trace,
        start: u64,
        stride: u64,
        height: u8,
        last: Option<Hash>,
    ) -> Result<HistoryTree, TreeError> {
        HistoryTree::build_with_cut(source, start, stride, height, last, Self::cut_level(height))
    }

    /// Like [`build`](Self::build) with the cut level `cut` (at most `height`) instead of the
    /// default: for tests and tuning. A lower cut stores more (`2^(height − cut + 1) − 1`
    /// hashes, allocated up front) and recomputes less.
    pub fn build_with_cut(
        source: &mut dyn Trace,
        start: u64,
        stride: u64,
        height: u8,
        last: Option<Hash>,
        cut: u8,
    ) -> Result<HistoryTree, TreeError> {
        check_shape(height, cut)?;
        let upper = match fork_plan(&*source, stride, height, cut) {
            Some((unit, forks)) => build_parallel(forks, start, stride, height, cut, unit, last)?,
            None => {
                let mut builder = Builder::new(height, cut, last);
                source.for_each_leaf(start, stride, 1 << height, &mut |leaf| {
                    builder.push(leaf);
                    Ok(())
                })?;
                builder.finish()?
            }
        };
        Ok(HistoryTree::with_upper(height, cut, start, stride, upper))
    }

    /// The whole tree over `leaves`, of which there must be exactly `2^height`: it never
    /// recomputes anything, and its queries ignore their source. It has no range of a trace
    /// ([`start`](Self::start) 0, [`stride`](Self::stride) 1).
    pub fn new(height: u8, leaves: Vec<Hash>) -> Result<HistoryTree, TreeError> {
        check_shape(height, 0)?;
        let count = leaves.len() as u64;
        if count != 1 << height {
            return Err(TreeError::LeafCount { height, count });
        }
        let mut builder = Builder::new(height, 0, None);
        for leaf in leaves {
            builder.push(leaf);
        }
        Ok(HistoryTree::with_upper(height, 0, 0, 1, builder.finish()?))
    }

    fn with_upper(height: u8, cut: u8, start: u64, stride: u64, upper: Upper) -> HistoryTree {
        HistoryTree {
            height,
            cut,
            start,
            stride,
            upper: Arc::new(upper),
            cache: None,
            recomputed: Arc::new(AtomicU64::new(0)),
        }
    }

    /// The tree's height: `log2` of its number of leaves.
    pub fn height(&self) -> u8 {
        self.height
    }

    /// Its cut level: nodes below it are recomputed from the trace on demand.
    pub fn cut(&self) -> u8 {
        self.cut
    }

    /// The agreed start of its range (not a leaf).
    pub fn start(&self) -> u64 {
        self.start
    }

    /// Steps per leaf.
    pub fn stride(&self) -> u64 {
        self.stride
    }

    /// The root.
    pub fn root(&self) -> Hash {
        // The top stored level holds exactly the root.
        self.upper.levels[self.upper.levels.len() - 1][0]
    }

    /// The last leaf (the end of the range, or the leaf `build` was told to end with).
    pub fn last_leaf(&self) -> Hash {
        self.upper.last_leaf
    }

    /// The siblings of the last leaf from the leaf up: its proof, which needs no recomputation.
    pub fn last_proof(&self) -> &[Hash] {
        &self.upper.last_proof
    }

    /// The hashes this tree holds: its stored levels (shared with its clones, counted in each),
    /// its cached subtree, and its last leaf with its proof. At most
    /// [`MAX_STORED_HASHES`](Self::MAX_STORED_HASHES) for heights up to 32.
    pub fn stored_hashes(&self) -> usize {
        let levels: usize = self.upper.levels.iter().map(Vec::len).sum();
        let cache: usize = self
            .cache
            .iter()
            .flat_map(|subtree| &subtree.levels)
            .map(Vec::len)
            .sum();
        levels + cache + 1 + self.upper.last_proof.len()
    }

    /// Leaves recomputed below the cut so far, by this tree and every clone of it.
    pub fn recomputed_leaves(&self) -> u64 {
        self.recomputed.load(Ordering::Relaxed)
    }

    /// Leaf `index`; see [`node`](Self::node).
    pub fn leaf(&mut self, index: u64, source: &mut dyn Trace) -> Result<Hash, TreeError> {
        self.node(0, index, source)
    }

    /// The node at `level` above the leaves and `index` from the left. Below the cut it is
    /// recomputed from `source`, which must be the trace the tree was built from.
    ///
    /// Fails with [`TreeError::NoNode`] if there is no such node, and with
    /// [`TreeError::Diverged`] if the source no longer gives the leaves the tree was built on.
    pub fn node(
        &mut self,
        level: u8,
        index: u64,
        source: &mut dyn Trace,
    ) -> Result<Hash, TreeError> {
        let width = self.height.checked_sub(level).map(|above| 1u64 << above);
        if width.is_none_or(|width| index >= width) {
            return Err(TreeError::NoNode { level, index });
        }
        if let Some(above) = level.checked_sub(self.cut) {
            return Ok(self.upper.levels[usize::from(above)][index as usize]);
        }
        let below = self.cut - level;
        let subtree = self.subtree(index >> below, source)?;
        let offset = index & ((1 << below) - 1);
        Ok(subtree.levels[usize::from(level)][offset as usize])
    }

    /// The `(left, right)` children of the node at `level` (at least 1) and `index`: what a
    /// party reveals at that node during bisection. See [`node`](Self::node).
    pub fn children(
        &mut self,
        level: u8,
        index: u64,
        source: &mut dyn Trace,
    ) -> Result<(Hash, Hash), TreeError> {
        let below = level
            .checked_sub(1)
            .ok_or(TreeError::NoNode { level, index })?;
        self.node(level, index, source)?;
        Ok((
            self.node(below, 2 * index, source)?,
            self.node(below, 2 * index + 1, source)?,
        ))
    }

    /// The siblings of leaf `index` from the leaf up ([`height`](Self::height) of them), which
    /// [`root_from_proof`] turns back into the root. Below the cut they come from the one
    /// subtree holding the leaf. See [`node`](Self::node).
    pub fn proof(&mut self, index: u64, source: &mut dyn Trace) -> Result<Vec<Hash>, TreeError> {
        self.node(0, index, source)?;
        (0..self.height)
            .map(|level| self.node(level, (index >> level) ^ 1, source))
            .collect()
    }

    /// The subtree under node `index` of the cut level, recomputed unless it is the cached one.
    fn subtree(&mut self, index: u64, source: &mut dyn Trace) -> Result<&Subtree, TreeError> {
        if self.cache.as_ref().map(|cached| cached.index) != Some(index) {
            // Drop the old subtree before building the new one: one at a time.
            self.cache = None;
            let leaves = 1u64 << self.cut;
            let last_subtree = index == (1 << (self.height - self.cut)) - 1;
            let mut builder = Builder::new(self.cut, 0, last_subtree.then_some(self.last_leaf()));
            // The tree's range was checked when it was built, so this does not overflow.
            let start = self.start + index * leaves * self.stride;
            source.for_each_leaf(start, self.stride, leaves, &mut |leaf| {
                builder.push(leaf);
                Ok(())
            })?;
            self.recomputed.fetch_add(leaves, Ordering::Relaxed);
            let levels = builder.finish()?.levels;
            if levels[levels.len() - 1][0] != self.upper.levels[0][index as usize] {
                return Err(TreeError::Diverged { subtree: index });
            }
            self.cache = Some(Subtree { index, levels });
        }
        self.cache
            .as_ref()
            .ok_or(TreeError::Diverged { subtree: index })
    }
}

/// Refuses a height above [`MAX_HEIGHT`] or a cut above the height.
fn check_shape(height: u8, cut: u8) -> Result<(), TreeError> {
    if height > MAX_HEIGHT {
        return Err(TreeError::TooHigh(height));
    }
    if cut > height {
        return Err(TreeError::Cut { height, cut });
    }
    Ok(())
}

/// Builds a tree's stored levels from its leaves, streamed left to right: it holds the nodes
/// at and above the cut level and, below, only the left nodes still waiting for their right
/// sibling (one per level).
/// How [`HistoryTree::build`] splits a tree between threads: into `2^split` subtrees of
/// `2^unit` leaves (twice as many as threads, so that cheap segments past a run's end even
/// out), each built from its own fork of the source; `None` for one pass: one thread, a
/// source that does not fork ([`Trace::fork`]) for segments that long, or a tree too low.
fn fork_plan(
    source: &dyn Trace,
    stride: u64,
    height: u8,
    cut: u8,
) -> Option<(u8, Vec<Box<dyn Trace + Send>>)> {
    let threads = rayon::current_num_threads();
    if threads < 2 {
        return None;
    }
    let split = ((2 * threads).next_power_of_two().trailing_zeros() as u8).min(height - cut);
    if split == 0 {
        return None;
    }
    let unit = height - split;
    let span = stride.checked_mul(1 << unit)?;
    let forks = (0..1u32 << split)
        .map(|_| source.fork(span))
        .collect::<Option<Vec<_>>>()?;
    Some((unit, forks))
}

/// The stored levels of a tree built as `forks.len()` subtrees of `2^unit` leaves on every
/// core: the same as one pass of [`Builder`] gives. Each subtree's levels from the cut up are
/// its part of those levels; a small tree over the subtrees' roots gives the levels above.
fn build_parallel(
    forks: Vec<Box<dyn Trace + Send>>,
    start: u64,
    stride: u64,
    height: u8,
    cut: u8,
    unit: u8,
    last: Option<Hash>,
) -> Result<Upper, TreeError> {
    use rayon::prelude::*;
    let count = forks.len();
    let span = stride << unit;
    let parts = forks
        .into_par_iter()
        .enumerate()
        .map(|(part, mut trace)| {
            let last = if part + 1 == count { last } else { None };
            let mut builder = Builder::new(unit, cut, last);
            let from = start + part as u64 * span;
            trace.for_each_leaf(from, stride, 1 << unit, &mut |leaf| {
                builder.push(leaf);
                Ok(())
            })?;
            builder.finish()
        })
        .collect::<Result<Vec<Upper>, TreeError>>()?;
    let mut top = Builder::new(height - unit, 0, None);
    let mut levels: Vec<Vec<Hash>> = (cut..=height)
        .map(|level| Vec::with_capacity(1 << (height - level)))
        .collect();
    for part in &parts {
        for (k, level) in part.levels.iter().enumerate() {
            levels[k].extend_from_slice(level);
        }
        top.push(part.levels[part.levels.len() - 1][0]);
    }
    let top = top.finish()?;
    // The top tree's level 0 is the subtrees' roots, already in place.
    for (k, level) in top.levels.into_iter().enumerate().skip(1) {
        levels[usize::from(unit - cut) + k] = level;
    }
    let last_part = &parts[count - 1];
    let mut last_proof = last_part.last_proof.clone();
    last_proof.extend_from_slice(&top.last_proof);
    Ok(Upper {
        levels,
        last_leaf: last_part.last_leaf,
        last_proof,
    })
}

struct Builder {
    height: u8,
    cut: u8,
    /// The leaf that replaces the last one, if any.
    last: Option<Hash>,
    /// Leaves pushed so far.
    pushed: u64,
    /// `pending[l]`: the last left node of level `l` whose sibling has not come yet.
    pending: Vec<Hash>,
    /// The stored levels (see [`Upper::levels`]).
    levels: Vec<Vec<Hash>>,
    /// The last leaf and its siblings, once it has come.
    last_path: Option<(Hash, Vec<Hash>)>,
}

impl Builder {
    /// `height` and `cut` must have passed [`check_shape`].
    fn new(height: u8, cut: u8, last: Option<Hash>) -> Builder {
        Builder {
            height,
            cut,
            last,
            pushed: 0,
            pending: vec![[0; 32]; usize::from(height) + 1],
            levels: (cut..=height)
                .map(|level| Vec::with_capacity(1 << (height - level)))
                .collect(),
            last_path: None,
        }
    }

    /// Adds the next leaf; leaves past the `2^height`-th are counted and otherwise ignored.
    fn push(&mut self, leaf: Hash) {
        let index = self.pushed;
        self.pushed += 1;
        let count = 1u64 << self.height;
        if index >= count {
            return;
        }
        let mut node = leaf;
        if index == count - 1 {
            node = self.last.unwrap_or(leaf);
            // The last leaf is a right child at every level: its siblings are the pending
            // left nodes.
            let siblings = self.pending[..usize::from(self.height)].to_vec();
            self.last_path = Some((node, siblings));
        }
        let mut level = 0u8;
        loop {
            if let Some(above) = level.checked_sub(self.cut) {
                self.levels[usize::from(above)].push(node);
            }
            if level == self.height || (index >> level) & 1 == 0 {
                self.pending[usize::from(level)] = node;
                return;
            }
            node = node_hash(&self.pending[usize::from(level)], &node);
            level += 1;
        }
    }

    /// The stored levels, once exactly `2^height` leaves have come.
    fn finish(self) -> Result<Upper, TreeError> {
        match self.last_path {
            Some((last_leaf, last_proof)) if self.pushed == 1 << self.height => Ok(Upper {
                levels: self.levels,
                last_leaf,
                last_proof,
            }),
            _ => Err(TreeError::LeafCount {
                height: self.height,
                count: self.pushed,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::TraceError;

    fn leaves(height: u8, seed: u8) -> Vec<Hash> {
        (0..1u32 << height)
            .map(|i| {
                let mut leaf = [seed; 32];
                leaf[..4].copy_from_slice(&i.to_be_bytes());
                leaf
            })
            .collect()
    }

    /// A trace that must never be asked: the trees under test are whole.
    struct Unused;

    impl Trace for Unused {
        fn state_hash(&mut self, step: u64) -> Result<Hash, TraceError> {
            panic!("a whole tree asked its source for S({step})")
        }

        fn step_witness(&mut self, step: u64) -> Result<(Vec<u8>, Vec<u8>), TraceError> {
            panic!("a whole tree asked its source for the witness of {step}")
        }
    }

    #[test]
    fn small_trees_by_hand() {
        let [a, b, c, d] = [[1; 32], [2; 32], [3; 32], [4; 32]];
        let mut one = HistoryTree::new(0, vec![a]).unwrap();
        assert_eq!((one.height(), one.root()), (0, a));
        assert_eq!(one.proof(0, &mut Unused).unwrap(), Vec::<Hash>::new());
        assert_eq!((one.last_leaf(), one.last_proof()), (a, &[][..]));
        assert!(matches!(
            one.children(0, 0, &mut Unused),
            Err(TreeError::NoNode { level: 0, index: 0 })
        ));

        let mut tree = HistoryTree::new(2, vec![a, b, c, d]).unwrap();
        let (ab, cd) = (node_hash(&a, &b), node_hash(&c, &d));
        assert_eq!(tree.root(), node_hash(&ab, &cd));
        assert_eq!(tree.children(2, 0, &mut Unused).unwrap(), (ab, cd));
        assert_eq!(tree.children(1, 1, &mut Unused).unwrap(), (c, d));
        assert!(matches!(
            tree.children(1, 2, &mut Unused),
            Err(TreeError::NoNode { level: 1, index: 2 })
        ));
        assert!(matches!(
            tree.children(3, 0, &mut Unused),
            Err(TreeError::NoNode { level: 3, index: 0 })
        ));
        assert_eq!(tree.proof(2, &mut Unused).unwrap(), vec![d, ab]);
        assert!(matches!(
            tree.proof(4, &mut Unused),
            Err(TreeError::NoNode { level: 0, index: 4 })
        ));
        assert_eq!(tree.leaf(3, &mut Unused).unwrap(), d);
        assert_eq!((tree.last_leaf(), tree.last_proof()), (d, &[c, ab][..]));
        assert_eq!(root_of_last_leaf(d, &[c, ab]), tree.root());
        assert_eq!(tree.stored_hashes(), 7 + 1 + 2);
        // The node hash is keccak256 of the 64 concatenated bytes.
        let mut pair = [1u8; 64];
        pair[32..].fill(2);
        assert_eq!(ab, keccak256(pair).0);
    }

    #[test]
    fn wrong_shapes_are_refused() {
        for (height, count) in [(0, 0), (1, 1), (2, 3), (2, 5), (MAX_HEIGHT, 1)] {
            assert!(matches!(
                HistoryTree::new(height, vec![[0; 32]; count as usize]),
                Err(TreeError::LeafCount { height: h, count: c }) if h == height && c == count
            ));
        }
        for height in [MAX_HEIGHT + 1, 64, 255] {
            assert!(matches!(
                HistoryTree::new(height, vec![[0; 32]]),
                Err(TreeError::TooHigh(h)) if h == height
            ));
        }
        assert!(matches!(
            HistoryTree::build_with_cut(&mut Unused, 0, 1, 3, None, 4),
            Err(TreeError::Cut { height: 3, cut: 4 })
        ));
    }

    #[test]
    fn the_cut_rule() {
        for height in 0..=HistoryTree::WHOLE_HEIGHT {
            assert_eq!(HistoryTree::cut_level(height), 0);
        }
        for height in 17..=32u8 {
            let cut = HistoryTree::cut_level(height);
            assert_eq!(height - cut, 16, "2^16 nodes on the cut level");
            // Stored levels, the largest cached subtree, the last leaf and its proof.
            let stored = (1usize << (height - cut + 1)) - 1;
            let cached = (1usize << (cut + 1)) - 1;
            assert!(stored + cached + 1 + usize::from(height) <= HistoryTree::MAX_STORED_HASHES);
        }
        assert_eq!(HistoryTree::cut_level(32), 16);
        const { assert!(HistoryTree::MAX_STORED_HASHES * 32 < (8 << 20) + 1024) };
    }

    proptest! {
        #[test]
        fn every_proof_opens_the_root(height in 0u8..=7, seed in any::<u8>()) {
            let mut tree = HistoryTree::new(height, leaves(height, seed)).unwrap();
            prop_assert_eq!(tree.height(), height);
            let count = 1u64 << height;
            for index in 0..count {
                let leaf = tree.leaf(index, &mut Unused).unwrap();
                let proof = tree.proof(index, &mut Unused).unwrap();
                prop_assert_eq!(proof.len(), usize::from(height));
                prop_assert_eq!(root_from_proof(leaf, index, &proof), tree.root());
            }
            prop_assert_eq!(root_of_last_leaf(tree.last_leaf(), tree.last_proof()), tree.root());
            for level in 1..=height {
                for index in 0..count >> level {
                    let (left, right) = tree.children(level, index, &mut Unused).unwrap();
                    prop_assert_eq!(node_hash(&left, &right), tree.node(level, index, &mut Unused).unwrap());
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
            let mut tree = HistoryTree::new(height, honest.clone()).unwrap();
            let index = index % (1 << height);
            let mut tampered = honest;
            tampered[index as usize][byte] ^= flip;
            let forged = HistoryTree::new(height, tampered.clone()).unwrap();
            prop_assert_ne!(forged.root(), tree.root());
            // The honest proof does not open the tampered leaf, nor the leaf at another index.
            let proof = tree.proof(index, &mut Unused).unwrap();
            prop_assert_ne!(root_from_proof(tampered[index as usize], index, &proof), tree.root());
            let other = index ^ 1;
            let leaf = tree.leaf(index, &mut Unused).unwrap();
            prop_assert_ne!(root_from_proof(leaf, other, &proof), tree.root());
        }
    }
}
