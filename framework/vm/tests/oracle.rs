//! The data oracle through every mode of the machine: a hand-assembled guest walks a binary
//! SHA-256 tree of data from its root, and a missing preimage stops the machine with a typed
//! error before the step that needs it.

mod common;

use std::sync::Arc;

use common::asm::*;
use common::check_with;
use opml_elf::Program;
use opml_platform::{errno, syscall};
use opml_state::Hash;
use opml_vm::{ExitStatus, HostError, Machine, Preimage, Preimages, Snapshots, Timeline};

/// Where the program keeps the key it walks with (a 32-aligned data leaf) and the next leaf.
const BUF: u32 = 0x2_0000;
/// Depth of the test tree: 8 leaves.
const DEPTH: u32 = 3;

/// Eight distinct leaves of 64 data bytes.
fn leaves() -> Vec<Preimage> {
    (0..8u8)
        .map(|leaf| core::array::from_fn(|i| (i as u8).wrapping_add(leaf * 29)))
        .collect()
}

/// The index of the leaf [`walker`] reaches on `path`: its first decision is the top bit of
/// the leaf index.
fn leaf_of(path: u32) -> usize {
    (path.reverse_bits() >> (32 - DEPTH)) as usize
}

/// A guest that walks from the root (at [`BUF`]) down the path whose bits, lowest first, are
/// `path` (1: right), opens the leaf's two halves, writes them to the output, checks that a
/// misaligned `buf` and `half = 2` give `-EINVAL`, and exits with the sum of those results.
fn walker(root: &Hash, path: u32) -> Program {
    let copy: Vec<u32> = (0..8)
        .flat_map(|k| [lw(T1, S0, 4 * k), sw(T1, S0, 32 + 4 * k)])
        .collect();
    let text = [
        &li(S0, BUF)[..],
        &li(S1, path),
        &li(T0, DEPTH),
        &li(A7, syscall::PREIMAGE),
        // loop: the key at BUF becomes the child key the path's next bit picks.
        &[
            addi(A0, S0, 0),
            andi(A1, S1, 1),
            ecall(),
            srli(S1, S1, 1),
            addi(T0, T0, -1),
            bne(T0, ZERO, -5 * 4),
        ],
        // The leaf key is at BUF; copy it to BUF + 32 and open both halves in place.
        &copy,
        &[addi(A0, S0, 0), addi(A1, ZERO, 0), ecall()],
        &[addi(A0, S0, 32), addi(A1, ZERO, 1), ecall()],
        // write(1, BUF, 32) twice: 64 bytes of the leaf.
        &li(A7, 64),
        &[
            addi(A0, ZERO, 1),
            addi(A1, S0, 0),
            addi(A2, ZERO, 32),
            ecall(),
        ],
        &[
            addi(A0, ZERO, 1),
            addi(A1, S0, 32),
            addi(A2, ZERO, 32),
            ecall(),
        ],
        // Refusals: misaligned buf, then half 2; sum the results in s2 (x18).
        &li(A7, syscall::PREIMAGE),
        &[addi(A0, S0, 4), addi(A1, ZERO, 0), ecall(), addi(18, A0, 0)],
        &[addi(A0, S0, 0), addi(A1, ZERO, 2), ecall(), add(A0, A0, 18)],
        &exit(),
    ]
    .concat();
    program(&text, root, 64)
}

#[test]
fn a_guest_walks_a_tree_to_any_leaf_in_every_mode() {
    let mut preimages = Preimages::new();
    let root = preimages.insert_tree(&leaves());
    assert_eq!((leaf_of(1), leaf_of(6)), (4, 3));
    for path in [0, 1, 6] {
        let m = check_with(&walker(&root, path), &[], preimages.clone(), u64::MAX);
        assert_eq!(m.host_error(), None);
        assert_eq!(m.output(), leaves()[leaf_of(path)]);
        assert_eq!(
            m.status(),
            ExitStatus::Exited(0u32.wrapping_sub(2 * errno::EINVAL))
        );
    }
}

#[test]
fn a_missing_preimage_stops_the_machine_before_its_step() {
    let mut full = Preimages::new();
    let root = full.insert_tree(&leaves());
    // Everything but the leaves: the walk reaches a leaf key and blocks there.
    let mut partial = Preimages::new();
    let mut level = vec![root];
    for _ in 0..DEPTH {
        level = level
            .iter()
            .flat_map(|key| {
                let node = opml_vm::PreimageSource::preimage(&full, key).unwrap();
                partial.insert(node);
                [
                    node[..32].try_into().unwrap(),
                    node[32..].try_into().unwrap(),
                ]
            })
            .collect::<Vec<Hash>>();
    }
    let leaf_key = level[leaf_of(6)];
    let program = walker(&root, 6);

    let mut m = Machine::from_program(&program, Vec::new()).unwrap();
    m.set_preimages(Arc::new(partial.clone()));
    assert_eq!(m.run(u64::MAX), ExitStatus::Running);
    let stopped = m.step_count();
    let error = HostError::MissingPreimage {
        key: leaf_key,
        step: stopped,
    };
    assert_eq!(m.host_error(), Some(error));
    assert_eq!(m.try_run(u64::MAX), Err(error));
    assert_eq!(m.step_count(), stopped, "a blocked machine takes no step");
    let before = m.state_hash();
    assert_eq!(m.prove_step(), Err(error));
    assert_eq!(m.state_hash(), before);
    assert!(
        error
            .to_string()
            .starts_with(&format!("step {stopped} reads the preimage"))
    );

    // Proving step by step blocks at the same step, with the same error.
    let mut slow = Machine::from_program(&program, Vec::new()).unwrap();
    slow.set_preimages(Arc::new(partial.clone()));
    let blocked = loop {
        match slow.prove_step() {
            Ok(witness) => assert!(witness.verify().is_ok()),
            Err(error) => break error,
        }
    };
    assert_eq!(blocked, error);
    assert_eq!(slow.state_hash(), before);

    // Checkpointed runs and recordings stop there too instead of spinning.
    let mut reported = Vec::new();
    let mut checkpointed = Machine::from_program(&program, Vec::new()).unwrap();
    checkpointed.set_preimages(Arc::new(partial.clone()));
    checkpointed.run_with_checkpoints(u64::MAX, 7, |step, _| reported.push(step));
    assert_eq!(reported.last(), Some(&stopped));
    let mut recorded = Machine::from_program(&program, Vec::new()).unwrap();
    recorded.set_preimages(Arc::new(partial));
    let timeline = Timeline::record(recorded, u64::MAX, Snapshots::every(4));
    assert_eq!(timeline.end().step_count(), stopped);
    assert_eq!(timeline.witness(stopped), Err(error));

    // Given the data, the same machine goes on and ends as an unblocked run does.
    m.set_preimages(Arc::new(full.clone()));
    assert_eq!(m.host_error(), None);
    let status = m.run(u64::MAX);
    let mut reference = Machine::from_program(&program, Vec::new()).unwrap();
    reference.set_preimages(Arc::new(full));
    assert_eq!(reference.run(u64::MAX), status);
    assert_eq!(m.state(), reference.state());
    assert_eq!(m.output(), leaves()[leaf_of(6)]);
}

#[test]
fn without_a_source_every_preimage_is_missing() {
    let root = Preimages::new().insert_tree(&leaves());
    let mut m = Machine::from_program(&walker(&root, 0), Vec::new()).unwrap();
    assert_eq!(m.run(1000), ExitStatus::Running);
    assert_eq!(
        m.host_error(),
        Some(HostError::MissingPreimage {
            key: root,
            step: m.step_count()
        })
    );
}
