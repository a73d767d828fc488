//! Fast mode's block compiler against single steps (through [`check`], which also runs every
//! program with blocks compiled at once, after a few entries and never, and stops those runs
//! after any number of steps): traps at every position of a hot block, stores into hot and
//! running blocks and into the second page of a hot region, snapshots around a code
//! change.

mod common;

use common::asm::*;
use common::check;
use opml_platform::TrapCause;
use opml_vm::{ExitStatus, Machine};

/// `s0 = 0x2_0000`, `s1 = iterations`, then a loop of `body` that counts `s1` down to zero,
/// then `exit(a0)`.
fn hot_loop(body: &[u32], iterations: u32) -> Vec<u32> {
    let mut text = Vec::new();
    text.extend(li(S0, 0x2_0000));
    text.extend(li(S1, iterations));
    text.extend(body);
    let back = -4 * (body.len() as i32 + 1);
    text.extend([addi(S1, S1, -1), bne(S1, ZERO, back)]);
    text.extend(exit());
    text
}

#[test]
fn machines_stay_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Machine>();
}

#[test]
fn traps_at_every_position_of_a_hot_block() {
    // `t3 = s0 + t4`, `t4 = (s1 >> 7) & 1`: aligned for the first 128 of 383 iterations (so the
    // block is compiled by then at thresholds up to 128), then misaligned.
    let flag = [srli(T4, S1, 7), andi(T4, T4, 1), add(T3, S0, T4)];
    let body = [
        addi(A0, A0, 1),
        lw(T1, S0, 4),
        sw(T1, S0, 8),
        add(A0, A0, T1),
        lh(T2, S0, 2),
        sb(A0, S0, 3),
        mul(A1, A0, A0),
        divu(A2, A1, T2),
    ];
    let traps: [(&[u32], TrapCause); 5] = [
        (&[lw(T1, T3, 0)], TrapCause::MisalignedLoad),
        (&[lhu(T1, T3, 4)], TrapCause::MisalignedLoad),
        (&[sh(A0, T3, 0)], TrapCause::MisalignedStore),
        (&[beq(T4, ZERO, 8), ebreak()], TrapCause::Breakpoint),
        (&[beq(T4, ZERO, 8), 0], TrapCause::IllegalInstruction),
    ];
    for (trap, cause) in traps {
        for pos in 0..=body.len() {
            let looped = [&flag[..], &body[..pos], trap, &body[pos..]].concat();
            let m = check(&program(&hot_loop(&looped, 383), &[], 64), &[], 100_000);
            assert_eq!(m.status(), ExitStatus::Trapped(cause), "{trap:x?} at {pos}");
            assert_eq!(m.regs()[S1 as usize], 255, "{trap:x?} at {pos}");
        }
    }
}

/// Stores over instruction `P`, `gap` instructions after the store, entry `(s1 >> 6) & 1` of
/// the table at `s0` (`a0 += 1` or `a0 += 3`, see [`patch_table`]).
fn patch(gap: usize) -> [u32; 7] {
    [
        srli(T4, S1, 6),
        andi(T4, T4, 1),
        slli(T4, T4, 2),
        add(T2, S0, T4),
        lw(T1, T2, 0),
        auipc(T5, 0),
        sw(T1, T5, 8 + 4 * gap as i32),
    ]
}

/// Code that patches instruction `P` (changing every 64 iterations) before running it, `P`
/// being `gap` instructions after the store.
fn patching_loop(gap: &[u32]) -> Vec<u32> {
    let body = [
        &patch(gap.len())[..],
        gap,
        &[addi(A0, A0, 1), add(A1, A1, A0)],
    ]
    .concat();
    hot_loop(&body, 300)
}

fn patch_table() -> Vec<u8> {
    [addi(A0, A0, 1), addi(A0, A0, 3)]
        .iter()
        .flat_map(|w| w.to_le_bytes())
        .collect()
}

#[test]
fn stores_into_hot_and_running_blocks() {
    // Into the running block, the next instruction; a few instructions further; and into the
    // next block (after a branch), compiled and hot.
    let gaps: [&[u32]; 3] = [
        &[],
        &[addi(A2, A2, 1), xor(A2, A2, A0)],
        &[beq(ZERO, ZERO, 4)],
    ];
    for gap in gaps {
        let m = check(
            &program(&patching_loop(gap), &patch_table(), 64),
            &[],
            100_000,
        );
        // 300 iterations: s1 in 300..=256, 191..=128 and 63..=1 add 1, 255..=192 and
        // 127..=64 add 3.
        let expected = (45 + 64 + 63) + 3 * (64 + 64);
        assert_eq!(m.regs()[A0 as usize], expected, "gap {gap:x?}");
        assert_eq!(m.status(), ExitStatus::Exited(expected), "gap {gap:x?}");
    }
}

#[test]
fn stores_into_the_next_page_of_a_hot_region() {
    // A loop whose instruction `P` (`a0 += 1` or `a0 += 3`) is the first of a page, and which
    // patches it every 64 iterations only: the compiled region of the loop spans both pages,
    // and a store into the second must forget it, or the next pass runs the old `P`.
    let body = [
        &[andi(T4, S1, 63), bne(T4, ZERO, 4 * 8)][..],
        &patch(0),
        &[addi(A0, A0, 1), add(A1, A1, A0)],
    ]
    .concat();
    let patched = 4 + 9;
    let text = [
        vec![addi(ZERO, ZERO, 0); 1024 - patched],
        hot_loop(&body, 300),
    ]
    .concat();
    let m = check(&program(&text, &patch_table(), 64), &[], 100_000);
    // s1 in 300..=193 and 128..=65 add 1, 192..=129 and 64..=1 add 3.
    let expected = (108 + 64) + 3 * (64 + 64);
    assert_eq!(m.status(), ExitStatus::Exited(expected));
}

#[test]
fn a_snapshot_keeps_its_code_when_the_original_changes_it() {
    let image = program(&patching_loop(&[]), &patch_table(), 64);
    let mut reference = Machine::from_program(&image, Vec::new()).unwrap();
    reference.set_jit(None);
    let mut m = Machine::from_program(&image, Vec::new()).unwrap();
    m.set_jit(Some(0));
    for steps in [500, 7, 1000, 13, 2000] {
        m.run(steps);
        reference.run(steps);
        let mut snapshot = m.clone();
        m.run(777);
        snapshot.run(777);
        reference.run(777);
        assert_eq!(m.state(), reference.state());
        assert_eq!(snapshot.state(), reference.state());
    }
    assert_eq!(Machine::jit_stats().blocks > 0, cfg!(jit));
}
