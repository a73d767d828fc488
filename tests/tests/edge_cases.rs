//! Hand-written edge-case programs (`tests/programs/*.S`) and illegal instructions on the opml VM
//! and under qemu.

use std::path::PathBuf;

use opml_platform::TrapCause;
use opml_tests::differential::{DiffError, End, Run, compare};
use opml_tests::toolchain::{assemble, assemble_file};

fn program(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("programs")
        .join(format!("{name}.S"));
    assemble_file(&path).unwrap_or_else(|err| panic!("{name}: {err}"))
}

/// Runs `name.S` on both machines and returns what they agreed on.
fn agree(name: &str, stdin: &[u8]) -> Run {
    compare(&program(name), stdin).unwrap_or_else(|err| panic!("{name}: {err}"))
}

fn words(run: &Run) -> Vec<u32> {
    run.stdout
        .chunks_exact(4)
        .map(|word| u32::from_le_bytes(word.try_into().unwrap()))
        .collect()
}

#[test]
fn division_edge_cases() {
    let run = agree("divide", &[]);
    assert_eq!(run.end, End::Exited(0));
    // div, divu, rem, remu of INT_MIN by zero: -1, all ones, the dividend twice.
    assert_eq!(
        words(&run)[..4],
        [u32::MAX, u32::MAX, 0x8000_0000, 0x8000_0000]
    );
}

#[test]
fn shift_amounts_are_masked() {
    assert_eq!(agree("shifts", &[]).end, End::Exited(0));
}

#[test]
fn loads_and_immediates_extend() {
    let run = agree("extend", &[]);
    assert_eq!(run.end, End::Exited(0));
    // lb and lbu of 0x80.
    assert_eq!(words(&run)[..2], [0xffff_ff80, 0x80]);
}

#[test]
fn x0_stays_zero() {
    let run = agree("zero", &[]);
    assert_eq!(run.end, End::Exited(0));
    assert!(words(&run)[..10].iter().all(|&word| word == 0));
}

#[test]
fn jumps_and_branches() {
    assert_eq!(agree("jumps", &[]).end, End::Exited(0));
}

#[test]
fn syscall_edge_cases() {
    let run = agree("syscalls", &[]);
    // exit_group(300): Linux keeps the low byte, 300 - 256.
    assert_eq!(run.end, End::Exited(44));
    let enosys = (-38i32) as u32;
    let ebadf = (-9i32) as u32;
    assert_eq!(words(&run), [enosys, ebadf, ebadf, 0, 0, 0]);
}

#[test]
fn stdin_is_read_to_the_end() {
    for len in [0, 1, 31, 32, 33, 100, 1000, 4096] {
        let input: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
        let run = agree("echo", &input);
        assert_eq!(run.end, End::Exited(0));
        assert_eq!(run.stdout[..len], input[..], "{len} bytes");
        assert_eq!(run.stdout[len..], (len as u32).to_le_bytes(), "{len} bytes");
    }
}

/// Words that are not RV32IM instructions, with what they are.
const ILLEGAL: [(u32, &str); 16] = [
    (0x0000_0000, "all zeros"),
    (0xffff_ffff, "all ones"),
    (0x0001_0001, "two c.nop (RVC)"),
    (0xc000_2573, "csrr a0, cycle (Zicsr)"),
    (0x0000_100f, "fence.i (Zifencei)"),
    (0x0001_2507, "flw fa0, 0(sp) (F)"),
    (0x1005_252f, "lr.w a0, (a0) (A)"),
    (0x20b5_2533, "sh1add a0, a0, a1 (Zba)"),
    (0x3020_0073, "mret"),
    (0x1050_0073, "wfi"),
    (0x0000_0173, "ecall with rd = x2"),
    (0x0205_1513, "slli a0, a0, 32 (shamt[5] set)"),
    (0x6005_5513, "srai with funct7 0110000"),
    (0x8000_0533, "add with funct7 1000000"),
    (0x0000_1067, "jalr with funct3 001"),
    (0x0000_3003, "ld (RV64)"),
];

#[test]
fn illegal_instructions_trap_on_both() {
    for (word, what) in ILLEGAL {
        let source = format!(".globl _start\n_start:\n    .word {word:#010x}\n");
        let elf = assemble(&source).unwrap_or_else(|err| panic!("{what}: {err}"));
        let run = compare(&elf, &[]).unwrap_or_else(|err| panic!("{what}: {err}"));
        assert_eq!(
            run.end,
            End::Trapped(TrapCause::IllegalInstruction),
            "{what}"
        );
    }
}

#[test]
fn ebreak_traps_on_both() {
    let elf =
        assemble(".globl _start\n_start:\n    ebreak\n").unwrap_or_else(|err| panic!("{err}"));
    let run = compare(&elf, &[]).unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(run.end, End::Trapped(TrapCause::Breakpoint));
}

/// Where qemu-user is no RV32IM reference (see `opml_tests::differential`), the comparison says
/// so instead of passing.
#[test]
fn known_divergences_are_reported() {
    let exit = "li a7, 93\n    ecall\n";
    // The VM reads unmapped memory as zero; qemu faults.
    let unmapped =
        format!(".globl _start\n_start:\n    li t0, 0x30000000\n    lw a0, 0(t0)\n    {exit}");
    let elf = assemble(&unmapped).unwrap_or_else(|err| panic!("{err}"));
    let err = compare(&elf, &[]).expect_err("qemu faults");
    assert!(matches!(err, DiffError::QemuSignal(11)), "{err}");
    // The VM traps on a misaligned load; qemu performs it.
    let misaligned =
        format!(".globl _start\n_start:\n    la t0, _start\n    lw a0, 1(t0)\n    {exit}");
    let elf = assemble(&misaligned).unwrap_or_else(|err| panic!("{err}"));
    let err = compare(&elf, &[]).expect_err("the VM traps");
    assert!(
        matches!(err, DiffError::VmTrap(TrapCause::MisalignedLoad)),
        "{err}"
    );
}
