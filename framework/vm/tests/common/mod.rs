//! Shared helpers of the integration tests.
#![allow(dead_code)]

pub(crate) mod asm;

use opml_elf::Program;
use opml_state::Hash;
use std::sync::Arc;

use opml_vm::{Machine, Preimages, Snapshots, Timeline};

/// Runs `program` on `input` every way there is and checks that they all agree; returns the
/// machine after a fast run.
///
/// - Step by step with `prove_step`: the verifier's post-state hash equals the machine's state
///   hash after every step, and a halted machine's witness is empty.
/// - A fast run ends in the same state (hash, output, registers), with blocks compiled on
///   their first entry, on their third, on the compiler thread from the 100th and never; and fast runs with blocks compiled at once,
///   stopped after every step count up to 200 and in strides of 3 and 7 steps up to step
///   1000, stop in the same states.
/// - Checkpoints every step report the same hashes.
/// - A timeline reaches every step (about a thousand of a long run) with the same hash, and
///   its witnesses verify.
/// - A snapshot taken midway and run to the end ends in the same state.
pub(crate) fn check(program: &Program, input: &[u8], max_steps: u64) -> Machine {
    check_with(program, input, Preimages::new(), max_steps)
}

/// [`check`] for a guest that reads `preimages` through the data oracle.
pub(crate) fn check_with(
    program: &Program,
    input: &[u8],
    preimages: Preimages,
    max_steps: u64,
) -> Machine {
    let preimages = Arc::new(preimages);
    let load = || {
        let mut machine = Machine::from_program(program, input.to_vec()).expect("load");
        machine.set_preimages(preimages.clone());
        machine
    };

    let mut slow = load();
    let mut hashes: Vec<Hash> = vec![slow.state_hash()];
    while !slow.status().is_halted() && slow.step_count() < max_steps {
        let witness = slow.prove_step().expect("every preimage is known");
        let after = slow.state_hash();
        assert_eq!(
            witness.verify(),
            Ok(after),
            "verifier disagrees at step {} (pc {:#x})",
            witness.state.step,
            witness.state.pc
        );
        hashes.push(after);
    }
    if slow.status().is_halted() {
        let witness = slow
            .prove_step()
            .expect("a halted machine needs no preimage");
        assert!(witness.items.is_empty());
        assert_eq!(witness.verify(), Ok(slow.state_hash()));
        assert_eq!(slow.step_count() as usize + 1, hashes.len());
    }

    let mut fast = load();
    assert_eq!(fast.run(max_steps), slow.status());
    assert_eq!(fast.state(), slow.state());
    assert_eq!(fast.output(), slow.output());
    assert_eq!(fast.regs(), slow.regs());

    for jit in [None, Some(0), Some(2), Some(100)] {
        let mut m = load();
        m.set_jit(jit);
        assert_eq!(m.run(max_steps), slow.status(), "jit {jit:?}");
        assert_eq!(m.state(), slow.state(), "jit {jit:?}");
        assert_eq!(m.output(), slow.output(), "jit {jit:?}");
    }
    let compiled = || {
        let mut m = load();
        m.set_jit(Some(0));
        m
    };
    let last = hashes.len() as u64 - 1;
    for steps in 0..=last.min(200) {
        let mut m = compiled();
        m.run(steps);
        assert_eq!(m.state_hash(), hashes[steps as usize], "jit run({steps})");
    }
    for stride in [3, 7] {
        let mut m = compiled();
        while m.step_count() < last.min(1000) {
            m.run(stride);
            let step = m.step_count();
            assert_eq!(m.state_hash(), hashes[step as usize], "jit stride {stride}");
        }
    }

    let mut reported = Vec::new();
    let mut checkpointed = load();
    checkpointed.run_with_checkpoints(max_steps, 1, |step, hash| reported.push((step, hash)));
    let expected: Vec<(u64, Hash)> = (1..hashes.len() as u64)
        .map(|step| (step, hashes[step as usize]))
        .collect();
    assert_eq!(reported, expected);

    // About 200 snapshots, at least 5 steps apart; every step of short runs, about a thousand
    // of long ones, and the last.
    let interval = (hashes.len() as u64 / 200).max(5);
    let timeline = Timeline::record(load(), max_steps, Snapshots::every(interval));
    assert_eq!(timeline.end().clone().state_hash(), *hashes.last().unwrap());
    for (step, hash) in timeline.snapshot_hashes() {
        assert_eq!(hash, hashes[step as usize]);
    }
    let stride = hashes.len().div_ceil(1000);
    let sampled = hashes
        .iter()
        .enumerate()
        .filter(|(step, _)| step % stride == 0 || step + 1 == hashes.len());
    for (step, hash) in sampled {
        assert_eq!(
            timeline.seek(step as u64).state_hash(),
            *hash,
            "seek {step}"
        );
        let next = hashes.get(step + 1).unwrap_or(hash);
        let witness = timeline
            .witness(step as u64)
            .expect("every preimage is known");
        assert_eq!(witness.verify(), Ok(*next));
    }

    let half = hashes.len() as u64 / 2;
    let mut original = load();
    original.run(half);
    let mut snapshot = original.clone();
    original.run(max_steps);
    assert_eq!(snapshot.state_hash(), hashes[half as usize]);
    snapshot.run(max_steps);
    assert_eq!(snapshot.state(), original.state());

    fast
}
