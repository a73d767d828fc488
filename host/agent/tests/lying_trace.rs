//! A lie forks with its truth: its history trees build on every core, equal to the one-pass
//! trees.

use opml_agent::adversary::LyingTrace;
use opml_game::{HistoryTree, Trace, VmTrace};
use opml_vm::Machine;

/// A hashbench run of about 50,000 steps, snapshots every 256 steps.
fn truth() -> VmTrace {
    let input = opml_codec::encode(&hashbench::Input {
        iterations: 10,
        seed: [7; 32],
    })
    .unwrap();
    let machine = Machine::load(opml_methods::HASHBENCH_ELF, input).unwrap();
    VmTrace::with_interval(machine, u64::MAX, 256)
}

fn build_on(
    threads: usize,
    trace: &mut LyingTrace<VmTrace>,
    start: u64,
    stride: u64,
) -> HistoryTree {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(|| HistoryTree::build(trace, start, stride, 10, None))
        .unwrap()
}

#[test]
fn a_lie_forks_and_its_trees_on_every_core_are_its_one_pass_trees() {
    let truth = truth();
    let steps = truth.end_step();
    assert!(steps > 40_000, "{steps} steps");
    let mut lie = LyingTrace::about(truth, steps / 3, [0xee; 32]);
    assert!(lie.fork(8 * 256).is_some());
    assert!(lie.fork(8 * 256 - 1).is_none());

    let stride = steps.div_ceil(1 << 10);
    let one = build_on(1, &mut lie, 0, stride);
    let all = build_on(2, &mut lie, 0, stride);
    assert_eq!(all.root(), one.root());
    let leaves = lie.leaves(0, stride, 1 << 10).unwrap();
    assert_eq!(
        all.root(),
        HistoryTree::new(10, leaves.clone()).unwrap().root()
    );
    // The leaves lie from a third of the run on, and end in the claimed state.
    let mut truth = self::truth();
    assert_eq!(leaves[100], truth.state_hash(101 * stride).unwrap());
    assert_ne!(leaves[600], truth.state_hash(601 * stride).unwrap());
    assert_eq!(leaves[1023], [0xee; 32]);
}
