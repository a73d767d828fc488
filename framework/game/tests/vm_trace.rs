//! [`VmTrace`] against brute force: a cloned machine stepped one instruction at a time.

use std::sync::LazyLock;

use opml_game::{HistoryTree, Trace, TraceError, VmTrace, root_of_last_leaf};
use opml_state::{ExitStatus, Hash};
use opml_vm::Machine;
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
    let top = HistoryTree::new(2, trace.leaves(0, 64, 4).unwrap()).unwrap();
    for j in 0..4u64 {
        let child = HistoryTree::new(6, trace.leaves(j * 64, 1, 64).unwrap()).unwrap();
        let proof = child.proof(63).unwrap();
        assert_eq!(
            root_of_last_leaf(top.leaf(j).unwrap(), &proof),
            child.root()
        );
    }
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
