//! `ecall` per the syscall table of `docs/vm-spec.md`.

use opml_isa::Flow;
use opml_state::ExitStatus;

use crate::common::*;

const NEXT: Flow = Flow::Next(PC + 4);
const EBADF: u32 = (-9i32) as u32;
const ENOSYS: u32 = (-38i32) as u32;
const EINVAL: u32 = (-22i32) as u32;
const PREIMAGE: u32 = opml_platform::syscall::PREIMAGE;

/// `ecall` with `a7 = number` and arguments `a0, a1, a2`.
fn syscall(number: u32, args: [u32; 3], setup: impl FnOnce(&mut TestCtx)) -> (TestCtx, Flow) {
    run_with(
        ECALL,
        &[(A7, number), (A0, args[0]), (A1, args[1]), (A2, args[2])],
        setup,
    )
}

fn with_input(input: &[u8], cursor: usize) -> impl FnOnce(&mut TestCtx) {
    let input = input.to_vec();
    move |ctx: &mut TestCtx| {
        ctx.input = input;
        ctx.cursor = cursor;
    }
}

fn input_of(len: usize) -> Vec<u8> {
    (1..=len).map(|i| i as u8).collect()
}

#[test]
fn exit_and_exit_group_halt_with_a0() {
    for number in [93, 94] {
        for code in [0, 1, 101, 0xffff_ffff] {
            let (ctx, flow) = syscall(number, [code, 0, 0], |_| {});
            assert_eq!(flow, Flow::Halt(ExitStatus::Exited(code)));
            assert_eq!(ctx.regs[10], code);
            assert!(ctx.events.is_empty());
        }
    }
}

#[test]
fn unknown_syscalls_return_enosys() {
    for number in [0, 1, 56, 62, 65, 92, 95, 214, 0xffff, 0x1_0001, 0xffff_ffff] {
        let (ctx, flow) = syscall(number, [5, 6, 7], |_| {});
        assert_eq!(flow, NEXT, "syscall {number}");
        assert_eq!(ctx.regs[10], ENOSYS);
        assert_eq!((ctx.regs[11], ctx.regs[12]), (6, 7));
        assert!(ctx.events.is_empty());
    }
}

#[test]
fn read_copies_up_to_the_end_of_the_leaf() {
    let input = input_of(100);
    // (cursor, buf, len, expected n): n = min(len, available in chunk, 32 - buf % 32).
    let cases = [
        (0, 0x2000, 10, 10),
        (0, 0x2000, 100, 32), // chunk bound (and leaf bound)
        (0, 0x201e, 10, 2),   // leaf bound
        (30, 0x2000, 10, 2),  // chunk bound: 2 bytes left in chunk 0
        (32, 0x2004, 64, 28), // leaf bound
        (96, 0x2000, 32, 4),  // last chunk holds 4 bytes
        (97, 0x2000, 32, 3),
        (5, 0x201f, 0xffff_ffff, 1),
    ];
    for (cursor, buf, len, n) in cases {
        let (ctx, flow) = syscall(63, [0, buf, len], with_input(&input, cursor));
        assert_eq!(flow, NEXT);
        assert_eq!(ctx.regs[10], n, "cursor {cursor} buf {buf:#x} len {len}");
        assert_eq!(ctx.cursor, cursor + n as usize);
        assert_eq!(ctx.bytes(buf, n), &input[cursor..cursor + n as usize]);
        assert_eq!(ctx.byte(buf + n), 0, "nothing written past n");
        assert_eq!(
            ctx.events,
            [Event::InputAvailable, Event::ReadInput(buf, n)],
            "the input chunk is touched before the data leaf"
        );
    }
}

#[test]
fn read_at_end_of_input_returns_zero() {
    for (input, cursor) in [(vec![], 0), (input_of(10), 10), (input_of(64), 64)] {
        let (ctx, flow) = syscall(63, [0, 0x2000, 8], with_input(&input, cursor));
        assert_eq!(flow, NEXT);
        assert_eq!(ctx.regs[10], 0);
        assert_eq!(ctx.events, [Event::InputAvailable]);
    }
}

#[test]
fn read_of_zero_bytes_touches_nothing() {
    let (ctx, flow) = syscall(63, [0, 0x2000, 0], with_input(&input_of(10), 0));
    assert_eq!(flow, NEXT);
    assert_eq!(ctx.regs[10], 0);
    assert_eq!(ctx.cursor, 0);
    assert!(ctx.events.is_empty());
}

#[test]
fn read_from_other_fds_is_ebadf() {
    for file in [1, 2, 3, 0xffff_ffff] {
        let (ctx, flow) = syscall(63, [file, 0x2000, 8], with_input(&input_of(10), 0));
        assert_eq!(flow, NEXT);
        assert_eq!(ctx.regs[10], EBADF);
        assert!(ctx.events.is_empty());
    }
}

#[test]
fn write_stdout_copies_up_to_output_room_and_leaf_end() {
    // (bytes already written, buf, len, expected n): n = min(len, 32 - out % 32, 32 - buf % 32).
    let cases = [
        (0, 0x2000, 5, 5),
        (0, 0x2000, 100, 32),
        (0, 0x2010, 100, 16), // leaf bound
        (30, 0x2000, 10, 2),  // output room
        (31, 0x2000, 10, 1),
        (32, 0x2008, 64, 24), // output room 32, leaf bound 24
        (40, 0x2000, 64, 24), // output room 24
    ];
    for (written, buf, len, n) in cases {
        let (ctx, flow) = syscall(64, [1, buf, len], |c| {
            c.output = vec![0xee; written];
            c.put(0x2000, &input_of(64));
        });
        assert_eq!(flow, NEXT);
        assert_eq!(ctx.regs[10], n, "written {written} buf {buf:#x} len {len}");
        assert_eq!(&ctx.output[written..], ctx.bytes(buf, n));
        assert_eq!(ctx.events, [Event::WriteOutput(buf, n)]);
        assert!(ctx.log.is_empty());
    }
}

#[test]
fn write_stderr_copies_up_to_leaf_end() {
    let cases = [(0x2000, 5, 5), (0x2000, 100, 32), (0x201f, 9, 1)];
    for (buf, len, n) in cases {
        let (ctx, flow) = syscall(64, [2, buf, len], |c| {
            c.output = vec![0xee; 31]; // output room does not limit the log
            c.put(0x2000, &input_of(64));
        });
        assert_eq!(flow, NEXT);
        assert_eq!(ctx.regs[10], n);
        assert_eq!(ctx.log, ctx.bytes(buf, n));
        assert_eq!(ctx.output.len(), 31);
        assert_eq!(ctx.events, [Event::WriteLog(buf, n)]);
    }
}

#[test]
fn write_of_zero_bytes_touches_nothing() {
    for file in [1, 2] {
        let (ctx, flow) = syscall(64, [file, 0x2000, 0], |_| {});
        assert_eq!(flow, NEXT);
        assert_eq!(ctx.regs[10], 0);
        assert!(ctx.events.is_empty());
    }
}

#[test]
fn write_to_other_fds_is_ebadf() {
    for file in [0, 3, 0xffff_ffff] {
        let (ctx, flow) = syscall(64, [file, 0x2000, 8], |_| {});
        assert_eq!(flow, NEXT);
        assert_eq!(ctx.regs[10], EBADF);
        assert!(ctx.events.is_empty());
        assert!(ctx.output.is_empty());
    }
}

/// A test machine holding `key` at `buf` and the preimage `p` (bytes `0..64`) under it.
fn with_preimage(buf: u32, key: [u8; 32], p: [u8; 64]) -> impl FnOnce(&mut TestCtx) {
    move |ctx: &mut TestCtx| {
        ctx.put(buf, &key);
        ctx.put(buf + 32, &[0xaa; 32]);
        ctx.preimages.insert(key, p);
    }
}

fn sample_preimage() -> [u8; 64] {
    core::array::from_fn(|i| i as u8 + 1)
}

#[test]
fn preimage_replaces_the_key_with_the_chosen_half() {
    let key = [7u8; 32];
    for half in [0u32, 1] {
        let (ctx, flow) = syscall(
            PREIMAGE,
            [0x2000, half, 99],
            with_preimage(0x2000, key, sample_preimage()),
        );
        assert_eq!(flow, NEXT);
        assert_eq!(ctx.regs[10], 0);
        assert_eq!(
            ctx.bytes(0x2000, 32),
            &sample_preimage()[half as usize * 32..][..32]
        );
        assert_eq!(
            ctx.bytes(0x2020, 32),
            [0xaa; 32],
            "the next leaf is untouched"
        );
        assert_eq!(ctx.events, [Event::Preimage(0x2000, half)]);
    }
}

#[test]
fn preimage_with_a_bad_buffer_or_half_is_einval_and_touches_nothing() {
    let key = [7u8; 32];
    for (buf, half) in [
        (0x2001, 0),
        (0x2010, 1),
        (0x201c, 0),
        (0x2000, 2),
        (0x2000, 0xffff_ffff),
    ] {
        let (ctx, flow) = syscall(
            PREIMAGE,
            [buf, half, 0],
            with_preimage(0x2000, key, sample_preimage()),
        );
        assert_eq!(flow, NEXT, "buf {buf:#x} half {half}");
        assert_eq!(ctx.regs[10], EINVAL);
        assert_eq!(ctx.bytes(0x2000, 32), key);
        assert!(ctx.events.is_empty());
    }
}

#[test]
fn preimage_of_an_unknown_key_blocks_without_a_change() {
    let (ctx, flow) = syscall(PREIMAGE, [0x2000, 0, 0], |c| c.put(0x2000, &[3; 32]));
    assert_eq!(flow, Flow::Blocked);
    assert_eq!(ctx.regs[10], 0x2000, "a0 is not written");
    assert_eq!(ctx.bytes(0x2000, 32), [3; 32]);
    assert_eq!(ctx.events, [Event::Preimage(0x2000, 0)]);
}
