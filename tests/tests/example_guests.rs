//! Every example guest, run in the opml VM and under `qemu-riscv32` on the same input: the
//! public output (fd 1), the debug log (fd 2) and the exit code must be byte-identical, and
//! the VM with every block compiled on its first entry must end in the same state.

use std::sync::{Arc, Mutex};

use opml_methods::{
    ABI_SUM_ELF, CODEC_BENCH_ELF, DATA_WALK_ELF, ECHO_ELF, GUESTS_BUILT, HASHBENCH_ELF,
    SYSCALLS_ELF,
};
use opml_tests::qemu::{QemuExit, run_qemu};
use opml_vm::{ExitStatus, Machine};

/// Runs `elf` on `input` in both machines and asserts they agree on everything observable.
fn assert_same_as_qemu(name: &str, elf: &[u8], input: &[u8]) {
    if !GUESTS_BUILT {
        panic!("the example guests were not built (OPML_SKIP_GUEST_BUILD is set)");
    }
    let mut machine = Machine::load(elf, input.to_vec()).expect("the guest loads");
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&log);
    machine.set_log(Some(Box::new(move |bytes| {
        sink.lock().unwrap().extend_from_slice(bytes)
    })));
    let status = machine.run(u64::MAX);
    let ExitStatus::Exited(code) = status else {
        panic!("{name}: the guest did not exit in the VM: {status}");
    };
    let mut compiled = Machine::load(elf, input.to_vec()).expect("the guest loads");
    compiled.set_jit(Some(0));
    compiled.run(u64::MAX);
    assert_eq!(
        compiled.state(),
        machine.state(),
        "{name}: every block compiled at once"
    );

    let qemu = run_qemu(elf, input).unwrap_or_else(|err| panic!("{name}: {err}"));
    assert_eq!(qemu.exit, QemuExit::Exited(code as u8), "{name}: exit code");
    assert_eq!(qemu.stdout, machine.output(), "{name}: public output");
    assert_eq!(qemu.stderr, *log.lock().unwrap(), "{name}: debug log");
}

#[test]
fn echo_typed_and_raw() {
    let request = echo::Request {
        text: "opml, déjà vu".into(),
        numbers: vec![3, -7, i32::MAX, 12],
    };
    assert_same_as_qemu(
        "echo typed",
        ECHO_ELF,
        &echo::typed_input(&request).unwrap(),
    );
    let raw: Vec<u8> = (0..1000u32).map(|i| (i * 31 % 251) as u8).collect();
    assert_same_as_qemu("echo raw", ECHO_ELF, &echo::raw_input(&raw));
    assert_same_as_qemu("echo raw empty", ECHO_ELF, &echo::raw_input(&[]));
    // A frame header announcing 1.25 GiB, with 3 bytes behind it: bad input in both.
    let beyond = [echo::MODE_TYPED, 0x00, 0x00, 0x00, 0x50, 1, 2, 3];
    assert_same_as_qemu("echo, a length beyond the input", ECHO_ELF, &beyond);
}

#[test]
fn abi_sum_commits_abi_output() {
    let input = abi_sum::Input {
        numbers: (0..200).map(|i| u64::MAX - i).collect(),
        label: "ABI output, déjà vu".into(),
    };
    assert_same_as_qemu("abi-sum", ABI_SUM_ELF, &opml_codec::encode(&input).unwrap());
}

#[test]
fn hashbench_short_run() {
    let input = hashbench::Input {
        iterations: 2_000,
        seed: [7; 32],
    };
    assert_same_as_qemu(
        "hashbench",
        HASHBENCH_ELF,
        &opml_codec::encode(&input).unwrap(),
    );
}

#[test]
fn syscalls_normal_mode() {
    let data: Vec<u8> = (0..300).map(|i| (i * 7) as u8).collect();
    for code in [0, 42, 255] {
        assert_same_as_qemu(
            "syscalls",
            SYSCALLS_ELF,
            &syscalls::normal_input(code, &data),
        );
    }
    assert_same_as_qemu(
        "syscalls, no data",
        SYSCALLS_ELF,
        &syscalls::normal_input(9, &[]),
    );
}

#[test]
fn codec_bench_every_mode() {
    let payload = codec_bench::payload(500, codec_bench::Values::Small);
    let postcard = opml_codec::encode(&payload).unwrap();
    let bincode = codec_bench::bincode_payload(&payload).unwrap();
    for mode in [
        codec_bench::mode::READ,
        codec_bench::mode::POSTCARD_DECODE,
        codec_bench::mode::POSTCARD_ROUNDTRIP,
        codec_bench::mode::SDK_ROUNDTRIP,
    ] {
        assert_same_as_qemu(
            "codec-bench",
            CODEC_BENCH_ELF,
            &codec_bench::input(mode, &postcard).unwrap(),
        );
    }
    for mode in [
        codec_bench::mode::BINCODE_DECODE,
        codec_bench::mode::BINCODE_ROUNDTRIP,
    ] {
        assert_same_as_qemu(
            "codec-bench",
            CODEC_BENCH_ELF,
            &codec_bench::input(mode, &bincode).unwrap(),
        );
    }
}

/// A guest that reads through the data oracle cannot run under qemu: `preimage` is not a Linux
/// syscall (`-ENOSYS`), so the SDK says so and exits with `ORACLE_UNAVAILABLE`. (In the VM
/// without preimages the machine stops before that step instead; see `opml-vm`'s tests.)
#[test]
fn data_walk_under_qemu_has_no_oracle() {
    if !GUESTS_BUILT {
        panic!("the example guests were not built (OPML_SKIP_GUEST_BUILD is set)");
    }
    let request = data_walk::Request {
        root: [7; 32],
        depth: 1,
    };
    let input = opml_codec::encode(&request).unwrap();
    let qemu = run_qemu(DATA_WALK_ELF, &input).expect("qemu runs");
    assert_eq!(
        qemu.exit,
        QemuExit::Exited(opml_platform::exit_code::ORACLE_UNAVAILABLE as u8)
    );
    assert!(qemu.stdout.is_empty());
    let log = String::from_utf8_lossy(&qemu.stderr);
    assert!(log.contains("preimage returned -38"), "{log}");
}
