//! [`VmTrace`] against brute force: a cloned machine stepped one instruction at a time.

use std::sync::LazyLock;

use opml_game::{
    HistoryTree, PhaseConfig, RECORDED_TOP_HEIGHT, Trace, TraceError, VmTrace, Work,
    root_from_proof, root_of_last_leaf,
};
use opml_state::{ExitStatus, Hash};
use opml_vm::{Machine, Snapshots};
use proptest::prelude::*;

/// Fails the test when the guests were not built (`OPML_SKIP_GUEST_BUILD=1`): these tests
/// need them, and a skipped test must not pass.
fn require_guests() {
    if !opml_methods::GUESTS_BUILT {
        panic!("the guest programs were not built (OPML_SKIP_GUEST_BUILD is set)");
    }
}

/// The bytes the `echo` guest reverses.
fn data() -> Vec<u8> {
    (0..4000u32).map(|i| (i * 7) as u8).collect()
}

/// The `echo` guest reversing [`data`].
fn machine() -> Machine {
    require_guests();
    Machine::load(opml_methods::ECHO_ELF, echo::raw_input(&data())).expect("echo loads")
}

/// Every state hash of the run, `S(0)` to `S(T)`, one step at a time.
static BRUTE: LazyLock<Vec<Hash>> = LazyLock::new(|| {
    let mut m = machine();
    let mut hashes = vec![m.state_hash()];
    while !m.status().is_halted() {
        m.run(1);
        hashes.push(m.state_hash());
    }
    hashes
});

/// `S(step)` by brute force, the final state past the halt.
fn brute(step: u64) -> Hash {
    let last = BRUTE.len() - 1;
    BRUTE[(step as usize).min(last)]
}

/// The halting step `T`.
fn halt() -> u64 {
    BRUTE.len() as u64 - 1
}

/// A trace with a snapshot every 1000 steps, so that seeks start from snapshots midway.
fn trace() -> VmTrace {
    VmTrace::with_interval(machine(), u64::MAX, 1000)
}

fn expected(start: u64, stride: u64, count: u64) -> Vec<Hash> {
    (1..=count).map(|i| brute(start + i * stride)).collect()
}

#[test]
fn the_run_halts_and_reports_its_end() {
    let trace = trace();
    let t = halt();
    assert!(
        t > 5_000,
        "the run is long enough to cross snapshots ({t} steps)"
    );
    assert!(trace.halted());
    assert_eq!(trace.status(), ExitStatus::Exited(0));
    assert_eq!(trace.end_step(), t);
    assert_eq!(trace.first_step(), 0);
    assert_eq!(trace.initial_state_hash(), BRUTE[0]);
    assert_eq!(trace.final_state_hash(), brute(t));
    assert_eq!(trace.final_state().hash(), brute(t));
    assert_eq!(trace.final_machine().step_count(), t);
    let mut reversed = data();
    reversed.reverse();
    assert_eq!(trace.output(), &reversed[..]);
}

#[test]
fn leaves_match_brute_force() {
    let mut trace = trace();
    let t = halt();
    for (start, stride, count) in [
        (0, 1, 16),
        (0, 1024, 8),
        (0, 64, 1 << 10),
        (2048, 256, 4),
        (1000, 1, 1000),
        (t - 3, 1, 8),
        (t - 100, 64, 4),
        (t, 1, 4),
        (t + 10, 5, 3),
        (1 << 40, 1 << 20, 2),
        (4, 4, 0),
        // Starts that are not multiples of the stride.
        (3, 1000, 7),
        (t - 7, 3, 5),
    ] {
        assert_eq!(
            trace.leaves(start, stride, count).unwrap(),
            expected(start, stride, count),
            "leaves({start}, {stride}, {count})"
        );
    }
    for step in [0, 1, 999, 1000, 1001, t - 1, t, t + 1, u64::MAX] {
        assert_eq!(trace.state_hash(step).unwrap(), brute(step), "S({step})");
    }
}

#[test]
fn a_tree_over_a_range_ends_in_the_next_phase_start() {
    // Phase heights [2, 6] over the run: each top leaf's child tree ends in that top leaf.
    let mut trace = trace();
    let mut top = HistoryTree::build(&mut trace, 0, 64, 2, None).unwrap();
    assert_eq!(
        top.root(),
        HistoryTree::new(2, expected(0, 64, 4)).unwrap().root()
    );
    for j in 0..4u64 {
        let child = HistoryTree::build(&mut trace, j * 64, 1, 6, None).unwrap();
        let parent_leaf = top.leaf(j, &mut trace).unwrap();
        assert_eq!(child.last_leaf(), parent_leaf);
        assert_eq!(
            root_of_last_leaf(parent_leaf, child.last_proof()),
            child.root()
        );
    }
}

#[test]
fn work_is_counted_exactly() {
    // A run cut at 2000 steps with a snapshot every 512: the recording runs 2000 steps and
    // hashes its snapshots at 0, 512, 1024, 1536 and its final state.
    let mut trace = VmTrace::with_interval(machine(), 2000, 512);
    let work = |steps_run, states_hashed| Work {
        steps_run,
        states_hashed,
    };
    assert_eq!(trace.work(), work(2000, 5));
    // 20 leaves of stride 10 from 1100: a seek from the snapshot at 1024 (76 steps), then 200
    // steps and 20 hashes.
    let leaves = trace.leaves(1100, 10, 20).unwrap();
    assert_eq!(leaves, expected(1100, 10, 20));
    assert_eq!(trace.work(), work(2000 + 76 + 200, 5 + 20));
    // Clones share the counters: a seek of 1 step from the snapshot at 512 and one hash.
    let mut clone = trace.clone();
    assert_eq!(clone.state_hash(513).unwrap(), brute(513));
    assert_eq!(trace.work(), work(2276 + 1, 26));
    // The final state is stored: no work.
    assert_eq!(clone.state_hash(2000).unwrap(), brute(2000));
    assert_eq!(trace.work(), work(2277, 26));
    // A step witness seeks (1536 → 1600) and proves one step, packing its pre-state.
    trace.step_witness(1600).unwrap();
    assert_eq!(trace.work(), work(2277 + 64 + 1, 27));

    // A halting run: leaves past the halt are the stored final hash.
    let t = halt();
    let mut trace = VmTrace::with_interval(machine(), u64::MAX, 1000);
    let recording = work(t, 1 + (t - 1) / 1000 + 1);
    assert_eq!(trace.work(), recording);
    let start = t - 25;
    let seek = start % 1000;
    assert_eq!(trace.leaves(start, 10, 5).unwrap(), expected(start, 10, 5));
    assert_eq!(
        trace.work(),
        work(t + seek + 25, recording.states_hashed + 3)
    );
    // A witness at the halt runs nothing and packs the final state.
    trace.step_witness(t).unwrap();
    let last_snapshot = (t - 1) / 1000 * 1000;
    assert_eq!(
        trace.work(),
        work(
            t + seek + 25 + t - last_snapshot,
            recording.states_hashed + 4
        )
    );
}

/// A tree's build is one pass over its range, and a node below its cut costs one seek and the
/// run of one subtree's range, once.
#[test]
fn a_recomputed_subtree_costs_one_seek_and_its_range() {
    let mut trace = trace();
    let (height, cut, stride) = (8, 3, 16);
    let start = trace.work();
    let mut tree = HistoryTree::build_with_cut(&mut trace, 0, stride, height, None, cut).unwrap();
    // From the snapshot at 0: 256 leaves of 16 steps.
    let built = trace.work();
    assert_eq!(
        built.since(start),
        Work {
            steps_run: 4096,
            states_hashed: 256
        }
    );
    // Leaf 100 is S(1616), in subtree 12 (leaves 96 to 103, from step 1536): a seek from the
    // snapshot at 1000 (536 steps), then 8 leaves of 16 steps.
    let proof = tree.proof(100, &mut trace).unwrap();
    assert_eq!(root_from_proof(brute(1616), 100, &proof), tree.root());
    let opened = trace.work();
    assert_eq!(
        opened.since(built),
        Work {
            steps_run: 536 + 128,
            states_hashed: 8
        }
    );
    assert_eq!(tree.recomputed_leaves(), 8);
    // The same subtree again: cached.
    tree.children(1, 49, &mut trace).unwrap();
    assert_eq!(trace.work(), opened);
}

#[test]
fn step_witnesses_verify_to_the_next_state() {
    let mut trace = trace();
    let t = halt();
    for step in [0, 1, 500, 1000, 1001, 2500, t - 1, t, t + 5] {
        let (state_data, proof) = trace.step_witness(step).unwrap();
        assert_eq!(
            opml_state::sha256(&state_data),
            brute(step),
            "pre-state {step}"
        );
        assert_eq!(
            opml_proof::verify_step(&state_data, &proof),
            Ok(brute(step + 1)),
            "step {step}"
        );
        if step >= t {
            assert!(proof.is_empty());
        }
    }
}

#[test]
fn a_run_cut_by_its_limit_knows_only_the_steps_up_to_it() {
    let limit = 2000;
    let mut trace = VmTrace::with_interval(machine(), limit, 512);
    assert!(!trace.halted());
    assert_eq!(trace.status(), ExitStatus::Running);
    assert_eq!(trace.end_step(), limit);
    assert_eq!(trace.final_state_hash(), brute(limit));
    assert_eq!(trace.leaves(0, 250, 8).unwrap(), expected(0, 250, 8));
    assert_eq!(trace.state_hash(limit).unwrap(), brute(limit));
    let (state_data, proof) = trace.step_witness(limit - 1).unwrap();
    assert_eq!(
        opml_proof::verify_step(&state_data, &proof),
        Ok(brute(limit))
    );
    let out_of_range = |err: TraceError| matches!(err, TraceError::OutOfRange { first: 0, last, .. } if last == limit);
    assert!(out_of_range(trace.state_hash(limit + 1).unwrap_err()));
    assert!(out_of_range(trace.leaves(0, 250, 9).unwrap_err()));
    assert!(out_of_range(trace.step_witness(limit).unwrap_err()));
}

#[test]
fn a_run_from_a_later_step_knows_nothing_before_it() {
    let mut m = machine();
    m.run(100);
    let mut trace = VmTrace::new(m, u64::MAX);
    assert_eq!(trace.first_step(), 100);
    assert_eq!(trace.initial_state_hash(), brute(100));
    assert_eq!(trace.leaves(100, 10, 5).unwrap(), expected(100, 10, 5));
    assert!(matches!(
        trace.state_hash(99),
        Err(TraceError::OutOfRange {
            step: 99,
            first: 100,
            ..
        })
    ));
    assert!(matches!(
        trace.leaves(50, 10, 10),
        Err(TraceError::OutOfRange { step: 50, .. })
    ));
}

#[test]
fn bad_ranges_are_refused() {
    let mut trace = trace();
    assert!(matches!(trace.leaves(0, 0, 4), Err(TraceError::ZeroStride)));
    assert!(matches!(
        trace.leaves(0, 1, (1 << 32) + 1),
        Err(TraceError::TooManyLeaves(_))
    ));
    assert!(matches!(
        trace.leaves(u64::MAX - 10, 4, 3),
        Err(TraceError::RangeOverflow { .. })
    ));
    assert!(matches!(
        trace.leaves(1, u64::MAX, 2),
        Err(TraceError::RangeOverflow { .. })
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn random_ranges_match_brute_force(
        start in 0u64..25_000,
        stride_log2 in 0u32..12,
        count in 0u64..40,
        interval in 1u64..5_000,
    ) {
        let stride = 1 << stride_log2;
        let mut trace = VmTrace::with_interval(machine(), u64::MAX, interval);
        prop_assert_eq!(
            trace.leaves(start, stride, count).unwrap(),
            expected(start, stride, count)
        );
        prop_assert_eq!(trace.state_hash(start).unwrap(), brute(start));
    }
}

/// `build` with `threads` threads: one builds in one pass, more split the tree between them.
fn build_on(
    threads: usize,
    trace: &mut VmTrace,
    (start, stride, height, cut): (u64, u64, u8, u8),
    last: Option<Hash>,
) -> HistoryTree {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(|| HistoryTree::build_with_cut(trace, start, stride, height, last, cut))
        .unwrap()
}

/// A tree built on every core (segments from forks of the trace, seeking from its snapshots)
/// is the tree built in one pass: root, last leaf and its proof, and every queried proof; over
/// ranges inside the run, across its halt and wholly past it, with and without a replaced
/// last leaf, whole and cut.
#[test]
fn trees_built_on_every_core_are_the_one_pass_trees() {
    let mut trace = VmTrace::with_interval(machine(), u64::MAX, 16);
    let t = halt();
    assert!(trace.fork(8 * 16).is_some());
    assert!(
        trace.fork(8 * 16 - 1).is_none(),
        "a segment shorter than 8 intervals"
    );
    let shapes = [
        (0, 64, 8, 0),
        (1000, 16, 10, 3),
        (t - 5000, 1024, 6, 0),
        (t + 7, 128, 7, 2),
        (0, 1, 12, 4),
        (3, 9, 11, 11),
    ];
    for shape in shapes {
        for last in [None, Some([0xab; 32])] {
            let mut one = build_on(1, &mut trace, shape, last);
            let mut all = build_on(4, &mut trace, shape, last);
            assert_eq!(all.root(), one.root(), "{shape:?}");
            assert_eq!(all.last_leaf(), one.last_leaf(), "{shape:?}");
            assert_eq!(all.last_proof(), one.last_proof(), "{shape:?}");
            let leaves = 1u64 << shape.2;
            for index in [0, 1, leaves / 3, leaves / 2 + 1, leaves - 1] {
                let proof = all.proof(index, &mut trace).unwrap();
                assert_eq!(
                    proof,
                    one.proof(index, &mut trace).unwrap(),
                    "{shape:?} {index}"
                );
                let leaf = all.leaf(index, &mut trace).unwrap();
                assert_eq!(root_from_proof(leaf, index, &proof), all.root());
            }
        }
    }
    // Built on every core, the tree's leaves are the run's states.
    let (start, stride) = (1000, 16);
    let all = build_on(4, &mut trace, (start, stride, 10, 3), None);
    let one = HistoryTree::new(10, expected(start, stride, 1 << 10)).unwrap();
    assert_eq!(all.root(), one.root());
}

/// A run recorded with its top tree's leaves builds that tree without running again, and the
/// tree is the one built by running; other strides and starts still run.
#[test]
fn a_top_tree_from_recorded_leaves_runs_nothing() {
    let t = halt();
    let stride = 64;
    let snapshots = Snapshots::every(1000).hashes_every(stride);
    let mut recorded = VmTrace::record(machine(), u64::MAX, snapshots);
    let height = (t / stride + 2).next_power_of_two().trailing_zeros() as u8;
    let before = recorded.work();
    let tree = HistoryTree::build(&mut recorded, 0, stride, height, None).unwrap();
    assert_eq!(recorded.work(), before, "no step run, no state hashed");
    let mut run = trace();
    let reference = HistoryTree::build(&mut run, 0, stride, height, None).unwrap();
    assert_eq!(tree.root(), reference.root());
    assert_eq!(
        recorded.leaves(0, 2 * stride, 20).unwrap(),
        expected(0, 2 * stride, 20)
    );
    assert_eq!(recorded.work(), before);
    // Off the recorded stride: a seek and a run.
    assert_eq!(
        recorded.leaves(32, stride, 20).unwrap(),
        expected(32, stride, 20)
    );
    assert!(recorded.work().steps_run > before.steps_run);
    assert_eq!(recorded.state_hash(5 * stride).unwrap(), brute(5 * stride));
}

/// A party records its top tree's leaves when the top phase is a VM phase small enough.
#[test]
fn parties_record_the_leaves_of_small_vm_top_phases() {
    let config = PhaseConfig::new(&[14, 16]).unwrap();
    assert_eq!(
        VmTrace::snapshots_for(&config),
        Snapshots::adaptive().hashes_every(1 << 16)
    );
    let config = PhaseConfig::new(&[RECORDED_TOP_HEIGHT + 1, 10]).unwrap();
    assert_eq!(VmTrace::snapshots_for(&config), Snapshots::adaptive());
    let config = PhaseConfig::program(&[16, 14, 13]).unwrap();
    assert_eq!(VmTrace::snapshots_for(&config), Snapshots::adaptive());
}
