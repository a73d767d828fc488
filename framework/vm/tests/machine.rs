//! Hand-assembled programs through every mode of the machine: fast runs, checkpoints, proving
//! steps (each checked by the step verifier), snapshots and timelines.

mod common;

use common::asm::*;
use common::check;
use opml_elf::Program;
use opml_platform::TrapCause;
use opml_vm::{ExitStatus, Interrupted, LoadError, Machine, Snapshots, Timeline};

fn code(parts: &[&[u32]]) -> Vec<u32> {
    parts.concat()
}

#[test]
fn loads_stores_branches_and_arithmetic() {
    let text = code(&[
        &li(S0, 0x2_0000),
        &li(T0, 10),
        &li(A1, 0),
        // loop:
        &[
            sw(T0, S0, 0),
            lw(T1, S0, 0),
            add(A1, A1, T1),
            sb(T0, S0, 5),
            lbu(T2, S0, 5),
            lb(T3, S0, 5),
            sh(T0, S0, 6),
            lh(T4, S0, 6),
            lhu(T5, S0, 6),
            add(A1, A1, T2),
            add(A1, A1, T3),
            sub(A1, A1, T4),
            add(A1, A1, T5),
            addi(S0, S0, 1000),
            addi(T0, T0, -1),
            blt(ZERO, T0, -15 * 4),
            // Division by zero and friends.
            divu(T1, A1, T0),
            add(A1, A1, T1),
            rem(T2, A1, T0),
            sub(A1, A1, T2),
            mul(A1, A1, A1),
            addi(A0, A1, 0),
        ],
        &exit(),
    ]);
    let mut m = check(&program(&text, &[1, 2, 3], 16 << 10), &[], 10_000);
    // Sum over t of (t + t + t - t + t) = 3 * 55; then + 0xffffffff (t / 0), minus itself
    // (x % 0 = x), squared.
    let expected = {
        let mut x = 3u32 * 55;
        x = x.wrapping_add(u32::MAX);
        x = x.wrapping_sub(x);
        x.wrapping_mul(x)
    };
    assert_eq!(m.status(), ExitStatus::Exited(expected));
    assert_eq!(m.read_memory(0x2_0000 + 9000 + 5, 1), vec![1]);
    assert_ne!(m.state_hash(), [0; 32]);
}

/// Reads the input in pieces of up to 13 bytes into buffers at odd offsets, echoes each piece
/// to the output and the log, then tries a bad descriptor and an unknown syscall.
fn echo_program() -> Program {
    let text = code(&[
        &li(S0, 0x2_0000),
        &li(S1, 0),
        // loop: n = read(0, s0, 13)
        &li(A7, 63),
        &[
            addi(A0, ZERO, 0),
            addi(A1, S0, 0),
            addi(A2, ZERO, 13),
            ecall(),
        ],
        &[beq(A0, ZERO, 4 * 13)],
        // write(1, s0, n), write(2, s0, n)
        &[addi(A2, A0, 0), addi(S1, S1, 1)],
        &li(A7, 64),
        &[addi(A0, ZERO, 1), addi(A1, S0, 0), ecall()],
        &[addi(A0, ZERO, 2), addi(A1, S0, 0), ecall()],
        &[addi(S0, S0, 7), jal(ZERO, -4 * 18)],
        // done: write(5, ...) and syscall 999 give -EBADF and -ENOSYS.
        &[addi(A0, ZERO, 5), ecall(), addi(T0, A0, 0)],
        &li(A7, 999),
        &[ecall(), add(A0, A0, T0), add(A0, A0, S1)],
        &exit(),
    ]);
    program(&text, &[], 8192)
}

#[test]
fn syscalls_stream_input_to_output_and_log() {
    let input: Vec<u8> = (0..200u32).map(|i| (i * 7 + 3) as u8).collect();
    let mut m = Machine::from_program(&echo_program(), input.clone()).unwrap();
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = log.clone();
    m.set_log(Some(Box::new(move |bytes: &[u8]| {
        sink.lock().unwrap().extend_from_slice(bytes)
    })));
    m.run(u64::MAX);
    // Reads stop at leaf ends and chunk ends, so the pieces vary; the bytes do not.
    assert_eq!(m.output(), &input[..]);
    assert_eq!(*log.lock().unwrap(), input);
    let ExitStatus::Exited(code) = m.status() else {
        panic!("{}", m.status())
    };
    let pieces = code.wrapping_add(9 + 38);
    assert!(pieces >= 200 / 13, "{pieces} reads");
    assert_eq!(m.input_cursor(), 200);

    let fast = check(&echo_program(), &input, 100_000);
    assert_eq!(fast.output(), &input[..]);
    assert_eq!(check(&echo_program(), &[], 1000).output(), b"");
    assert_eq!(check(&echo_program(), b"x", 1000).output(), b"x");
}

#[test]
fn traps_halt_at_the_faulting_instruction() {
    let cases: Vec<(Vec<u32>, TrapCause)> = vec![
        (vec![ebreak()], TrapCause::Breakpoint),
        (vec![0], TrapCause::IllegalInstruction),
        (
            code(&[&li(T0, 0x2_0001), &[lw(T1, T0, 0)]]),
            TrapCause::MisalignedLoad,
        ),
        (
            code(&[&li(T0, 0x2_0001), &[sh(T1, T0, 0)]]),
            TrapCause::MisalignedStore,
        ),
        (
            code(&[&li(T0, 0x1_0002), &[jalr(1, T0, 0)]]),
            TrapCause::MisalignedFetch,
        ),
        (vec![beq(ZERO, ZERO, 6)], TrapCause::MisalignedFetch),
        // Jump far away into zero memory (outside the instruction cache): illegal.
        (
            code(&[&li(T0, 0x5000_0000), &[jalr(0, T0, 0)]]),
            TrapCause::IllegalInstruction,
        ),
        // Run off the end of the code.
        (vec![addi(T0, T0, 1)], TrapCause::IllegalInstruction),
    ];
    for (text, cause) in cases {
        let mut m = check(&program(&text, &[], 4096), &[], 1000);
        assert_eq!(m.status(), ExitStatus::Trapped(cause), "{text:x?}");
        let pc = m.pc();
        assert_eq!(m.run(10), ExitStatus::Trapped(cause));
        assert_eq!(m.pc(), pc);
        assert_eq!(m.regs()[1], 0, "a trapping jump does not link");
    }
    let mut misaligned = program(&[addi(A0, ZERO, 1)], &[], 0);
    misaligned.entry += 2;
    let m = check(&misaligned, &[], 10);
    assert_eq!(m.status(), ExitStatus::Trapped(TrapCause::MisalignedFetch));
    assert_eq!(m.step_count(), 1);
}

#[test]
fn self_modifying_code_and_code_outside_the_image() {
    // Overwrite the instruction two slots after the store, then run it.
    let mut text = Vec::new();
    text.extend(li(T0, addi(A0, ZERO, 42)));
    text.extend([
        auipc(T1, 0),
        sw(T0, T1, 12),
        addi(0, 0, 0),
        addi(A0, ZERO, 1),
    ]);
    text.extend(exit());
    let m = check(&program(&text, &[], 0), &[], 100);
    assert_eq!(m.status(), ExitStatus::Exited(42));

    // Write a function into the data segment and call it.
    let mut text = Vec::new();
    text.extend(li(S0, 0x2_0000));
    text.extend(li(T0, addi(A0, ZERO, 7)));
    text.push(sw(T0, S0, 0));
    text.extend(li(T0, jalr(0, 1, 0)));
    text.push(sw(T0, S0, 4));
    text.push(jalr(1, S0, 0));
    text.extend(exit());
    let m = check(&program(&text, &[], 64), &[], 100);
    assert_eq!(m.status(), ExitStatus::Exited(7));

    // Read input straight into the code: the input is `addi a0, zero, 99`.
    let mut text = Vec::new();
    text.extend(li(A7, 63));
    text.extend([
        auipc(A1, 0),
        addi(A1, A1, 20),
        addi(A0, ZERO, 0),
        addi(A2, ZERO, 4),
        ecall(),
    ]);
    text.push(addi(A0, ZERO, 1)); // replaced by the input
    text.extend(exit());
    let input = addi(A0, ZERO, 99).to_le_bytes();
    let m = check(&program(&text, &[], 0), &input, 100);
    assert_eq!(m.status(), ExitStatus::Exited(99));
}

#[test]
fn memory_wraps_at_the_top_of_the_address_space() {
    let mut text = Vec::new();
    text.extend(li(T0, 0xffff_fffc));
    text.extend(li(T1, 0x8765_4321));
    text.extend([
        sw(T1, T0, 0),
        lw(A0, T0, 0),
        lbu(T2, T0, 3),
        lw(T3, ZERO, 0),
    ]);
    text.extend([add(A0, A0, T2), add(A0, A0, T3)]);
    text.extend(exit());
    let mut m = check(&program(&text, &[], 0), &[], 100);
    assert_eq!(m.status(), ExitStatus::Exited(0x8765_4321 + 0x87));
    assert_eq!(m.read_memory(0xffff_fffe, 4), vec![0x65, 0x87, 0, 0]);
    let _ = m.state_hash();
}

#[test]
fn long_cpu_loop_agrees_everywhere() {
    let m = check(&cpu_loop(300), &[], u64::MAX);
    assert_eq!(m.step_count(), 300 * 16 + 10);
}

#[test]
fn run_stops_exactly_at_the_budget() {
    let mut m = Machine::from_program(&cpu_loop(1000), Vec::new()).unwrap();
    for k in 1..50 {
        assert_eq!(m.run(k), ExitStatus::Running);
    }
    assert_eq!(m.step_count(), 49 * 50 / 2);
    assert_eq!(m.run(0), ExitStatus::Running);
    assert_eq!(m.step_count(), 49 * 50 / 2);
    let mut reference = Machine::from_program(&cpu_loop(1000), Vec::new()).unwrap();
    for _ in 0..49 * 50 / 2 {
        reference.prove_step().expect("no preimage is read");
    }
    assert_eq!(m.state(), reference.state());
}

#[test]
fn checkpoints_land_on_multiples_and_at_the_end() {
    let mut m = Machine::from_program(&cpu_loop(100), Vec::new()).unwrap();
    let mut steps = Vec::new();
    let status = m.run_with_checkpoints(u64::MAX, 500, |step, _| steps.push(step));
    assert_eq!(status, ExitStatus::Exited(m.regs()[10]));
    assert_eq!(steps, vec![500, 1000, 1500, 1610]);
    let mut m = Machine::from_program(&cpu_loop(100), Vec::new()).unwrap();
    let mut last = None;
    m.run_with_checkpoints(700, 0, |step, hash| last = Some((step, hash)));
    assert_eq!(last, Some((700, m.state_hash())));
}

#[test]
fn a_recording_asks_whether_to_stop_and_otherwise_is_the_same() {
    // 16 · 2^19 + 10 steps: the recording asks twice, and halts before a third question.
    let program = cpu_loop(1 << 19);
    let load = || Machine::from_program(&program, Vec::new()).unwrap();
    let interval = Snapshots::every(Timeline::STOP_CHECK);
    let whole = Timeline::record(load(), u64::MAX, interval);
    let mut asked = Vec::new();
    let same = Timeline::record_until(load(), u64::MAX, interval, |step| {
        asked.push(step);
        false
    })
    .unwrap();
    assert_eq!(asked, [Timeline::STOP_CHECK, 2 * Timeline::STOP_CHECK]);
    assert!(same.snapshot_hashes().eq(whole.snapshot_hashes()));
    assert_eq!(same.end().step_count(), 16 * (1 << 19) + 10);
    assert_eq!(same.end().status(), whole.end().status());
    let stopped = Timeline::record_until(load(), u64::MAX, interval, |_| true);
    assert_eq!(
        stopped.err(),
        Some(Interrupted {
            step: Timeline::STOP_CHECK
        })
    );
}

#[test]
fn program_id_is_the_initial_state_hash_with_empty_input() {
    let program = cpu_loop(5);
    let elf = program.to_elf();
    let id = opml_vm::program_id(&elf).unwrap();
    assert_eq!(opml_vm::program_id(&elf).unwrap(), id);
    assert_eq!(Machine::load(&elf, Vec::new()).unwrap().state_hash(), id);
    assert_eq!(
        Machine::from_program(&program, Vec::new())
            .unwrap()
            .state_hash(),
        id
    );
    // The input only changes the input link.
    let mut with_input = Machine::load(&elf, b"hello".to_vec()).unwrap().state();
    assert_eq!(
        with_input.input_link,
        opml_state::input::commitment(b"hello")
    );
    with_input.input_link = [0; 32];
    assert_eq!(with_input.hash(), id);
    // Another program has another ID.
    assert_ne!(opml_vm::program_id(&cpu_loop(6).to_elf()).unwrap(), id);
    assert!(matches!(
        opml_vm::program_id(b"not an elf"),
        Err(LoadError::Elf(_))
    ));
}

#[test]
fn bad_program_images_are_refused() {
    let mut p = program(&[0], &[], 0);
    p.segments[0].mem_size = 2;
    assert!(matches!(
        Machine::from_program(&p, Vec::new()),
        Err(LoadError::BadSegment { .. })
    ));
    let mut p = program(&[0], &[], 0);
    p.segments[0].vaddr = 0xffff_fffe;
    let err = Machine::from_program(&p, Vec::new()).err().unwrap();
    assert!(err.to_string().contains("0xfffffffe"), "{err}");
}
