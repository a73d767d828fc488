//! Bounded-memory [`HistoryTree`]s against a plain tree kept whole, over a cheap synthetic
//! trace: the same roots, nodes and proofs, with nodes below the cut recomputed from the trace,
//! and at most [`HistoryTree::MAX_STORED_HASHES`] hashes held.

use opml_game::{
    HistoryTree, Trace, TraceError, TreeError, node_hash, root_from_proof, root_of_last_leaf,
};
use opml_state::Hash;
use proptest::prelude::*;

/// `S(i)`: the bytes of `i` after a seed byte; every state is distinct and cheap.
#[derive(Default)]
struct Synthetic {
    seed: u8,
    /// States asked for so far.
    asked: u64,
}

impl Synthetic {
    fn new(seed: u8) -> Synthetic {
        Synthetic { seed, asked: 0 }
    }

    fn state(&self, step: u64) -> Hash {
        let mut state = [self.seed; 32];
        state[24..].copy_from_slice(&step.to_be_bytes());
        state
    }
}

impl Trace for Synthetic {
    fn state_hash(&mut self, step: u64) -> Result<Hash, TraceError> {
        self.asked += 1;
        Ok(self.state(step))
    }

    fn step_witness(&mut self, _step: u64) -> Result<(Vec<u8>, Vec<u8>), TraceError> {
        Err(TraceError::NoStepProof)
    }
}

/// The plain tree: `levels[l]` holds every node of level `l`.
fn reference(leaves: Vec<Hash>) -> Vec<Vec<Hash>> {
    let mut levels = vec![leaves];
    while let Some(below) = levels.last().filter(|level| level.len() > 1) {
        let level = below
            .chunks_exact(2)
            .map(|pair| node_hash(&pair[0], &pair[1]))
            .collect();
        levels.push(level);
    }
    levels
}

/// The most a tree of `height` cut at `cut` holds: its stored levels, one cached subtree, its
/// last leaf and proof.
fn bound(height: u8, cut: u8) -> usize {
    (1usize << (height - cut + 1)) - 1 + (1usize << (cut + 1)) - 1 + 1 + usize::from(height)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn a_bounded_tree_is_the_whole_tree(
        height in 0u8..=12,
        cut in 0u8..=12,
        start in 0u64..1_000,
        stride in 1u64..50,
        seed in any::<u8>(),
        forced in any::<bool>(),
    ) {
        let cut = cut.min(height);
        let mut trace = Synthetic::new(seed);
        let count = 1u64 << height;
        let mut leaves: Vec<Hash> = (1..=count).map(|i| trace.state(start + i * stride)).collect();
        let last = forced.then_some([0xee; 32]);
        if let Some(last) = last {
            leaves[count as usize - 1] = last;
        }
        let levels = reference(leaves);
        let mut tree = HistoryTree::build_with_cut(&mut trace, start, stride, height, last, cut)
            .unwrap();
        prop_assert_eq!(trace.asked, count, "one pass over the leaves");
        prop_assert_eq!((tree.height(), tree.cut()), (height, cut));
        prop_assert_eq!((tree.start(), tree.stride()), (start, stride));
        prop_assert_eq!(tree.root(), levels[usize::from(height)][0]);
        prop_assert_eq!(tree.last_leaf(), levels[0][count as usize - 1]);
        prop_assert_eq!(root_of_last_leaf(tree.last_leaf(), tree.last_proof()), tree.root());
        let stored = (1usize << (height - cut + 1)) - 1 + 1 + usize::from(height);
        prop_assert_eq!(tree.stored_hashes(), stored, "nothing below the cut before a query");

        for level in 1..=height {
            for index in 0..count >> level {
                let children = tree.children(level, index, &mut trace).unwrap();
                let below = &levels[usize::from(level) - 1];
                prop_assert_eq!(children, (below[2 * index as usize], below[2 * index as usize + 1]));
                prop_assert_eq!(tree.node(level, index, &mut trace).unwrap(), levels[usize::from(level)][index as usize]);
            }
        }
        for index in 0..count {
            let proof = tree.proof(index, &mut trace).unwrap();
            let expected: Vec<Hash> = (0..height)
                .map(|level| levels[usize::from(level)][((index >> level) ^ 1) as usize])
                .collect();
            prop_assert_eq!(&proof, &expected);
            let leaf = tree.leaf(index, &mut trace).unwrap();
            prop_assert_eq!(leaf, levels[0][index as usize]);
            prop_assert_eq!(root_from_proof(leaf, index, &proof), tree.root());
        }
        let last_proof = tree.proof(count - 1, &mut trace).unwrap();
        prop_assert_eq!(tree.last_proof(), &last_proof[..]);
        prop_assert!(tree.stored_hashes() <= bound(height, cut));
        if cut == 0 {
            prop_assert_eq!(tree.recomputed_leaves(), 0);
        } else {
            // Every subtree was recomputed at least once (the queries went left to right).
            prop_assert!(tree.recomputed_leaves() >= count);
        }
        let missing = tree.node(height + 1, 0, &mut trace);
        prop_assert!(matches!(missing, Err(TreeError::NoNode { .. })), "no such node");
        let missing = tree.proof(count, &mut trace);
        prop_assert!(matches!(missing, Err(TreeError::NoNode { .. })), "no such node");
    }
}

/// A bisection walks down one path: one subtree is recomputed for the whole walk, and clones
/// share the stored levels but not the cache.
#[test]
fn a_bisection_recomputes_one_subtree() {
    let (height, cut) = (10, 4);
    let mut trace = Synthetic::new(1);
    let tree = HistoryTree::build_with_cut(&mut trace, 0, 3, height, None, cut).unwrap();
    let mut walker = tree.clone();
    let disputed = 0b10_1101_0000u64;
    for level in (1..=height).rev() {
        walker
            .children(level, disputed >> level, &mut trace)
            .unwrap();
    }
    assert_eq!(walker.recomputed_leaves(), 1 << cut);
    walker.proof(disputed, &mut trace).unwrap();
    assert_eq!(walker.recomputed_leaves(), 1 << cut, "the same subtree");
    // The agreed leaf before the first leaf of a subtree lies in the one before it.
    walker.proof(disputed - 1, &mut trace).unwrap();
    assert_eq!(walker.recomputed_leaves(), 2 << cut);
    assert_eq!(
        tree.recomputed_leaves(),
        2 << cut,
        "counted for every clone"
    );
    assert_eq!(tree.stored_hashes(), (1 << (height - cut + 1)) - 1 + 1 + 10);
    assert_eq!(
        walker.stored_hashes(),
        tree.stored_hashes() + (1 << (cut + 1)) - 1
    );
}

/// A source other than the one the tree was built from is caught when a subtree is
/// recomputed, not turned into a proof of another root.
#[test]
fn a_diverging_source_is_refused() {
    let mut tree = HistoryTree::build_with_cut(&mut Synthetic::new(1), 5, 2, 8, None, 3).unwrap();
    let mut other = Synthetic::new(2);
    assert!(matches!(
        tree.proof(17, &mut other),
        Err(TreeError::Diverged { subtree: 2 })
    ));
    // Above the cut nothing is recomputed.
    assert!(tree.children(8, 0, &mut other).is_ok());
    assert!(tree.children(4, 1, &mut other).is_ok());
    assert!(tree.children(3, 1, &mut other).is_err());
}

/// A tree too short of leaves, or given a bad range, is refused.
#[test]
fn bad_builds_are_refused() {
    /// Gives one leaf too few.
    struct Short;
    impl Trace for Short {
        fn state_hash(&mut self, _step: u64) -> Result<Hash, TraceError> {
            Ok([0; 32])
        }
        fn for_each_leaf(
            &mut self,
            _start: u64,
            _stride: u64,
            count: u64,
            f: &mut dyn FnMut(Hash) -> Result<(), TraceError>,
        ) -> Result<(), TraceError> {
            (1..count).try_for_each(|_| f([0; 32]))
        }
        fn step_witness(&mut self, _step: u64) -> Result<(Vec<u8>, Vec<u8>), TraceError> {
            Err(TraceError::NoStepProof)
        }
    }
    assert!(matches!(
        HistoryTree::build(&mut Short, 0, 1, 3, None),
        Err(TreeError::LeafCount {
            height: 3,
            count: 7
        })
    ));
    assert!(matches!(
        HistoryTree::build(&mut Synthetic::new(0), 0, 0, 3, None),
        Err(TreeError::Trace(TraceError::ZeroStride))
    ));
    assert!(matches!(
        HistoryTree::build(&mut Synthetic::new(0), u64::MAX - 3, 1, 3, None),
        Err(TreeError::Trace(TraceError::RangeOverflow { .. }))
    ));
}

/// A height-24 tree over `2^24` synthetic leaves holds at most the bound and proves its
/// first, middle and last leaves; each proof below the cut recomputes one subtree of `2^8`
/// leaves. (The cut rule for heights up to 32 is checked in the crate's unit tests: building
/// `2^32` leaves takes too long for a test.)
#[test]
fn a_height_24_tree_stays_within_the_bound() {
    let height = 24;
    let stride = 1 << 10;
    let mut trace = Synthetic::new(3);
    let mut tree = HistoryTree::build(&mut trace, 0, stride, height, None).unwrap();
    assert_eq!(tree.cut(), 8);
    assert!(tree.stored_hashes() <= HistoryTree::MAX_STORED_HASHES);
    for (n, index) in [0, 1 << 23, (1 << 24) - 1].into_iter().enumerate() {
        let leaf = tree.leaf(index, &mut trace).unwrap();
        assert_eq!(leaf, trace.state((index + 1) * stride));
        let proof = tree.proof(index, &mut trace).unwrap();
        assert_eq!(root_from_proof(leaf, index, &proof), tree.root());
        assert!(tree.stored_hashes() <= HistoryTree::MAX_STORED_HASHES);
        assert_eq!(tree.recomputed_leaves(), (n as u64 + 1) << 8);
    }
    assert_eq!(
        root_of_last_leaf(tree.last_leaf(), tree.last_proof()),
        tree.root()
    );
}
