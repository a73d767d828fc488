//! The example guest programs (`opml-methods`), every step of complete runs checked by the step
//! verifier and every execution mode compared (see `common::check`).

mod common;

use std::sync::Arc;

use common::{check, check_with};
use opml_elf::Program;
use opml_platform::{TrapCause, exit_code};
use opml_vm::{ExitStatus, HostError, Machine, Preimage, Preimages};

/// Fails the test when the guests were not built (`OPML_SKIP_GUEST_BUILD=1`): these tests
/// need them, and a skipped test must not pass.
fn require_guests() {
    if !opml_methods::GUESTS_BUILT {
        panic!("the guest programs were not built (OPML_SKIP_GUEST_BUILD is set)");
    }
}

fn run(elf: &[u8], input: &[u8]) -> Machine {
    let program = Program::from_elf(elf).expect("the guest ELF loads");
    check(&program, input, u64::MAX)
}

#[test]
fn program_ids_match_the_embedded_ones() {
    require_guests();
    for (elf, id) in [
        (opml_methods::ECHO_ELF, opml_methods::ECHO_ID),
        (opml_methods::HASHBENCH_ELF, opml_methods::HASHBENCH_ID),
        (opml_methods::SYSCALLS_ELF, opml_methods::SYSCALLS_ID),
        (opml_methods::DATA_WALK_ELF, opml_methods::DATA_WALK_ID),
    ] {
        assert_eq!(opml_vm::program_id(elf).unwrap(), id);
    }
}

#[test]
fn echo_reverses_raw_input() {
    require_guests();
    for data in [&b""[..], b"hello world", &[0xa5; 100]] {
        let m = run(opml_methods::ECHO_ELF, &echo::raw_input(data));
        assert_eq!(m.status(), ExitStatus::Exited(exit_code::SUCCESS));
        let reversed: Vec<u8> = data.iter().rev().copied().collect();
        assert_eq!(m.output(), &reversed[..]);
    }
    let m = run(opml_methods::ECHO_ELF, &[7]);
    assert_eq!(m.status(), ExitStatus::Exited(exit_code::BAD_INPUT));
}

#[test]
fn hashbench_hashes() {
    require_guests();
    let input = hashbench::Input {
        iterations: 3,
        seed: [0x5a; 32],
    };
    let m = run(
        opml_methods::HASHBENCH_ELF,
        &opml_codec::encode(&input).unwrap(),
    );
    assert_eq!(m.status(), ExitStatus::Exited(exit_code::SUCCESS));
    assert!(m.output().ends_with(&hashbench::run(&input)));
}

#[test]
fn syscalls_every_mode() {
    require_guests();
    let data: Vec<u8> = (0..150u8).collect();
    let m = run(
        opml_methods::SYSCALLS_ELF,
        &syscalls::normal_input(42, &data),
    );
    assert_eq!(m.status(), ExitStatus::Exited(42));
    assert!(m.output().starts_with(&data));

    use syscalls::mode;
    for (mode, status) in [
        (mode::PANIC, ExitStatus::Exited(exit_code::PANIC)),
        (
            mode::OUT_OF_MEMORY,
            ExitStatus::Exited(exit_code::OUT_OF_MEMORY),
        ),
        (mode::EBREAK, ExitStatus::Trapped(TrapCause::Breakpoint)),
        (
            mode::ILLEGAL_INSTRUCTION,
            ExitStatus::Trapped(TrapCause::IllegalInstruction),
        ),
        (
            mode::MISALIGNED_LOAD,
            ExitStatus::Trapped(TrapCause::MisalignedLoad),
        ),
        (
            mode::MISALIGNED_STORE,
            ExitStatus::Trapped(TrapCause::MisalignedStore),
        ),
        (
            mode::MISALIGNED_JUMP,
            ExitStatus::Trapped(TrapCause::MisalignedFetch),
        ),
        (mode::BAD_INPUT, ExitStatus::Exited(exit_code::BAD_INPUT)),
    ] {
        let m = run(opml_methods::SYSCALLS_ELF, &[mode, 0, 1, 2, 3]);
        assert_eq!(m.status(), status, "mode {mode}");
    }
}

/// `count` leaves of 64 data bytes, distinct.
fn data_leaves(count: usize) -> Vec<Preimage> {
    (0..count)
        .map(|leaf| std::array::from_fn(|i| (leaf * 64 + i) as u8 ^ (leaf >> 2) as u8))
        .collect()
}

/// The `data-walk` guest's input for the tree with `root` and `depth`.
fn walk_input(root: [u8; 32], depth: u8) -> Vec<u8> {
    opml_codec::encode(&data_walk::Request { root, depth }).unwrap()
}

#[test]
fn data_walk_reads_a_tree_through_the_oracle() {
    require_guests();
    for depth in [0u8, 3] {
        let leaves = data_leaves(1 << depth);
        let mut preimages = Preimages::new();
        let root = preimages.insert_tree(&leaves);
        let program = Program::from_elf(opml_methods::DATA_WALK_ELF).unwrap();
        let m = check_with(&program, &walk_input(root, depth), preimages, u64::MAX);
        assert_eq!(m.status(), ExitStatus::Exited(exit_code::SUCCESS));
        let reply: data_walk::Reply = opml_codec::decode(m.output()).unwrap();
        assert_eq!(reply.leaves, 1 << depth);
        assert_eq!(reply.digest, opml_state::sha256(&leaves.concat()));
    }
}

#[test]
fn data_walk_without_its_data_stops_with_the_missing_key() {
    require_guests();
    let leaves = data_leaves(4);
    let mut preimages = Preimages::new();
    let root = preimages.insert_tree(&leaves);
    let mut m = Machine::load(opml_methods::DATA_WALK_ELF, walk_input(root, 2)).unwrap();
    let Err(HostError::MissingPreimage { key, step }) = m.try_run(u64::MAX) else {
        panic!("the walk ran without its data");
    };
    assert_eq!((key, step), (root, m.step_count()));
    // With the data, the same machine finishes.
    m.set_preimages(Arc::new(preimages));
    assert_eq!(
        m.try_run(u64::MAX),
        Ok(ExitStatus::Exited(exit_code::SUCCESS))
    );
}
