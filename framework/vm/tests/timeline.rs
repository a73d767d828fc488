//! Timelines with adaptive snapshots: how many they keep, and that their seeks are the run's.

mod common;

use common::asm::*;
use opml_elf::Program;
use opml_vm::{Machine, Snapshots, Timeline};

/// Writes one word into each of `pages` consecutive pages from `0x10_0000`, `rounds` times,
/// then exits: every pass dirties all the pages again.
fn page_writer(pages: u32, rounds: u32) -> Program {
    let mut text = Vec::new();
    text.extend(li(T0, rounds));
    text.extend(li(T3, 4096));
    text.extend([
        // outer: t2 = base, t1 = pages
        lui(T2, 0x100),
        addi(T1, ZERO, pages as i32),
        // inner: store, next page, count down
        sw(T0, T2, 0),
        add(T2, T2, T3),
        addi(T1, T1, -1),
        bne(T1, ZERO, -3 * 4),
        addi(T0, T0, -1),
        bne(T0, ZERO, -7 * 4),
    ]);
    text.extend(exit());
    program(&text, &[], 0)
}

/// The snapshot steps of `timeline`, after its first.
fn snapshot_steps(timeline: &Timeline) -> Vec<u64> {
    timeline
        .snapshot_hashes()
        .skip(1)
        .map(|(step, _)| step)
        .collect()
}

/// Seeks of `timeline` at a spread of steps land in the states of `reference`.
fn assert_same_seeks(timeline: &Timeline, reference: &Timeline) {
    let end = reference.end().step_count();
    assert_eq!(timeline.end().step_count(), end);
    for k in 0..=40 {
        let step = end * k / 40;
        assert_eq!(
            timeline.seek(step).state_hash(),
            reference.seek(step).state_hash(),
            "step {step}"
        );
    }
}

#[test]
fn a_long_run_keeps_between_half_and_all_of_the_allowed_snapshots() {
    let program = cpu_loop(20_000); // 320,010 steps
    let load = || Machine::from_program(&program, Vec::new()).unwrap();
    let reference = Timeline::record(load(), u64::MAX, Snapshots::every(1000));
    assert_eq!(snapshot_steps(&reference).len(), 320);

    let adaptive = Timeline::record(load(), u64::MAX, Snapshots::every(1000).max_count(16));
    let steps = snapshot_steps(&adaptive);
    // 320 snapshots at 1000 would be too many; at 32,000 there are 10 (16,000: 20).
    assert_eq!(adaptive.interval(), 32_000);
    assert_eq!(steps, (1..=10).map(|k| k * 32_000).collect::<Vec<_>>());
    assert!(
        adaptive
            .snapshot_hashes()
            .skip(1)
            .all(|(step, hash)| reference.seek(step).state_hash() == hash)
    );
    assert_same_seeks(&adaptive, &reference);

    // A short run keeps the first interval.
    let short = Timeline::record(load(), 5_000, Snapshots::every(1000).max_count(16));
    assert_eq!(short.interval(), 1000);
    assert_eq!(snapshot_steps(&short), [1000, 2000, 3000, 4000, 5000]);
}

#[test]
fn snapshots_that_would_hold_too_much_memory_are_dropped() {
    // 64 pages rewritten every 200 steps: each snapshot 1000 steps apart holds about 64 pages.
    let program = page_writer(64, 300);
    let load = || Machine::from_program(&program, Vec::new()).unwrap();
    let reference = Timeline::record(load(), u64::MAX, Snapshots::every(1000));
    let all = snapshot_steps(&reference).len();
    assert!(all >= 70, "{all} snapshots");

    let budget = 1 << 20; // 1 MiB: about 3 snapshots of 64 pages and their directory
    let bounded = Timeline::record(load(), u64::MAX, Snapshots::every(1000).max_bytes(budget));
    let kept = snapshot_steps(&bounded);
    assert!((1..=4).contains(&kept.len()), "kept {kept:?}");
    assert!(
        bounded.interval() >= 16_000,
        "interval {}",
        bounded.interval()
    );
    assert!(kept.iter().all(|step| step % bounded.interval() == 0));
    assert_same_seeks(&bounded, &reference);

    // The same run under a budget it fits keeps every snapshot.
    let roomy = Timeline::record(load(), u64::MAX, Snapshots::every(1000).max_bytes(1 << 30));
    assert_eq!(snapshot_steps(&roomy).len(), all);
}

#[test]
fn the_adaptive_default_keeps_at_most_64_snapshots() {
    let program = cpu_loop(1 << 17); // about 2^21 steps: the 2^20 first interval keeps 2
    let timeline = Timeline::record(
        Machine::from_program(&program, Vec::new()).unwrap(),
        u64::MAX,
        Snapshots::adaptive(),
    );
    assert_eq!(timeline.interval(), 1 << 20);
    assert_eq!(snapshot_steps(&timeline), [1 << 20, 2 << 20]);
    assert_eq!(Snapshots::default(), Snapshots::adaptive());
}

#[test]
fn a_recording_keeps_the_hashes_at_its_stride() {
    let program = cpu_loop(1000); // 16,010 steps
    let load = || Machine::from_program(&program, Vec::new()).unwrap();
    let reference = Timeline::record(load(), u64::MAX, Snapshots::every(1000));
    let end = reference.end().step_count();
    let timeline = Timeline::record(load(), u64::MAX, Snapshots::every(1000).hashes_every(300));
    assert_eq!(timeline.hash_stride(), Some(300));
    for step in (300..end).step_by(300) {
        assert_eq!(
            timeline.recorded_hash(step),
            Some(reference.seek(step).state_hash()),
            "step {step}"
        );
    }
    // Not a multiple, the start, the end and past it: not kept.
    for step in [0, 299, 301, end, end / 300 * 300 + 300] {
        assert_eq!(timeline.recorded_hash(step), None, "step {step}");
    }
    // The snapshots (some on the same steps as kept hashes) are the same.
    assert!(timeline.snapshot_hashes().eq(reference.snapshot_hashes()));
    // 1 start + 16 snapshots + 53 hashes, of which 5 on snapshot steps (3000, 6000, …).
    assert_eq!(reference.states_hashed(), 17);
    assert_eq!(timeline.states_hashed(), 17 + 53 - 5);
    assert_eq!(reference.recorded_hash(300), None);
}
