//! The example guests, run in the VM: outputs, exit statuses and the SDK's failure paths.

use std::sync::{Arc, Mutex};

use opml_methods::{
    CODEC_BENCH_ELF, CODEC_BENCH_ID, ECHO_ELF, ECHO_ID, GUESTS_BUILT, HASHBENCH_ELF, HASHBENCH_ID,
    SYSCALLS_ELF, SYSCALLS_ID,
};
use opml_platform::{TrapCause, exit_code};
use opml_vm::{ExitStatus, Machine};

/// What a run left behind.
struct Run {
    status: ExitStatus,
    output: Vec<u8>,
    log: String,
}

/// Runs `elf` on `input` to the end.
fn run(elf: &[u8], input: Vec<u8>) -> Run {
    // A runtime check, so that the tests still compile (for clippy) when guests are skipped.
    if !GUESTS_BUILT {
        panic!("the guests were not built (OPML_SKIP_GUEST_BUILD=1): these tests need them");
    }
    let mut machine = Machine::load(elf, input).expect("the guest loads");
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&log);
    machine.set_log(Some(Box::new(move |bytes| {
        sink.lock().unwrap().extend_from_slice(bytes)
    })));
    let status = machine.run(u64::MAX);
    let log = String::from_utf8(log.lock().unwrap().clone()).expect("the log is text");
    Run {
        status,
        output: machine.output().to_vec(),
        log,
    }
}

#[test]
fn program_ids_are_those_of_the_embedded_elfs() {
    for (elf, id) in [
        (CODEC_BENCH_ELF, CODEC_BENCH_ID),
        (ECHO_ELF, ECHO_ID),
        (HASHBENCH_ELF, HASHBENCH_ID),
        (SYSCALLS_ELF, SYSCALLS_ID),
    ] {
        assert_eq!(opml_vm::program_id(elf).unwrap(), id);
    }
    assert_ne!(ECHO_ID, SYSCALLS_ID);
}

#[test]
fn echo_replies_to_typed_requests() {
    let requests = [
        echo::Request {
            text: String::new(),
            numbers: vec![],
        },
        echo::Request {
            text: "Hello, opml! ß→SS".into(),
            numbers: vec![1, -2, 3],
        },
        echo::Request {
            text: "x".repeat(1000),
            numbers: (0..10_000).map(|n| n * 7919 - 1_000_000).collect(),
        },
    ];
    for request in requests {
        let result = run(ECHO_ELF, echo::typed_input(&request).unwrap());
        assert_eq!(
            result.status,
            ExitStatus::Exited(exit_code::SUCCESS),
            "{}",
            result.log
        );
        let reply: echo::Reply = opml_codec::decode(&result.output).unwrap();
        assert_eq!(reply, echo::reply(&request));
        assert!(result.log.starts_with("echo: "), "{}", result.log);
    }
}

#[test]
fn echo_reverses_raw_bytes() {
    for len in [0, 1, 31, 32, 33, 100, 4097] {
        let bytes: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
        let result = run(ECHO_ELF, echo::raw_input(&bytes));
        assert_eq!(result.status, ExitStatus::Exited(exit_code::SUCCESS));
        let mut reversed = bytes;
        reversed.reverse();
        assert_eq!(result.output, reversed, "{len} bytes");
    }
}

#[test]
fn echo_rejects_bad_input() {
    // Unknown mode; no mode byte at all; a typed request cut short; a payload that does not
    // decode.
    let request = echo::Request {
        text: "abc".into(),
        numbers: vec![1],
    };
    let mut truncated = echo::typed_input(&request).unwrap();
    truncated.pop();
    let mut garbage = vec![echo::MODE_TYPED];
    garbage.extend_from_slice(&opml_codec::frame_header(1).unwrap());
    garbage.push(0xff);
    // A frame header announcing more than 2 GiB.
    let huge = vec![echo::MODE_TYPED, 0xf0, 0xff, 0xff, 0xff];
    for input in [vec![7], vec![], truncated, garbage, huge] {
        let result = run(ECHO_ELF, input);
        assert_eq!(result.status, ExitStatus::Exited(exit_code::BAD_INPUT));
        assert!(result.output.is_empty());
        assert!(!result.log.is_empty());
    }
}

/// A frame header that announces more bytes than the input holds is bad input, however large:
/// `read` does not allocate what the header announces (1.25 GiB is more than the whole heap,
/// once out of memory), as the native build does (`guest/examples/echo/tests/native.rs`).
#[test]
fn echo_refuses_a_length_prefix_beyond_the_input() {
    for (announced, present) in [(0x5000_0000u32, 10usize), (0x0100_0000, 100_000), (33, 32)] {
        let mut input = vec![echo::MODE_TYPED];
        input.extend_from_slice(&announced.to_le_bytes());
        input.resize(input.len() + present, 0x5a);
        let result = run(ECHO_ELF, input);
        assert_eq!(
            result.status,
            ExitStatus::Exited(exit_code::BAD_INPUT),
            "{announced} bytes announced: {}",
            result.log
        );
        assert_eq!(
            result.log,
            format!("opml-guest: bad input: input ended after {present} of {announced} bytes\n")
        );
    }
}

#[test]
fn hashbench_iterates_sha256() {
    for input in [
        hashbench::Input {
            iterations: 0,
            seed: [9; 32],
        },
        hashbench::Input {
            iterations: 1000,
            seed: [0x5a; 32],
        },
    ] {
        let result = run(HASHBENCH_ELF, opml_codec::encode(&input).unwrap());
        assert_eq!(result.status, ExitStatus::Exited(exit_code::SUCCESS));
        assert_eq!(result.output, hashbench::run(&input));
    }
}

#[test]
fn codec_bench_decodes_and_encodes_both_codecs() {
    use codec_bench::{Values, mode};
    let payload = codec_bench::payload(500, Values::Full);
    let checksum = codec_bench::checksum(&payload);
    let postcard = opml_codec::to_payload(&payload).unwrap();
    let bincode = codec_bench::bincode_payload(&payload).unwrap();
    let cases = [
        (mode::READ, &postcard, postcard.len() as u32),
        (mode::POSTCARD_DECODE, &postcard, checksum),
        (
            mode::POSTCARD_ROUNDTRIP,
            &postcard,
            checksum ^ postcard.len() as u32,
        ),
        (mode::BINCODE_DECODE, &bincode, checksum),
        (
            mode::BINCODE_ROUNDTRIP,
            &bincode,
            checksum ^ bincode.len() as u32,
        ),
    ];
    for (selected, encoded, summary) in cases {
        let result = run(
            CODEC_BENCH_ELF,
            codec_bench::input(selected, encoded).unwrap(),
        );
        assert_eq!(
            result.status,
            ExitStatus::Exited(0),
            "mode {selected}: {}",
            result.log
        );
        assert_eq!(result.output, summary.to_le_bytes(), "mode {selected}");
    }
    let result = run(
        CODEC_BENCH_ELF,
        codec_bench::input(mode::SDK_ROUNDTRIP, &postcard).unwrap(),
    );
    assert_eq!(
        opml_codec::decode::<codec_bench::Payload>(&result.output).unwrap(),
        payload
    );
    // Bytes of the other codec do not decode.
    let result = run(
        CODEC_BENCH_ELF,
        codec_bench::input(mode::POSTCARD_DECODE, &bincode[..100]).unwrap(),
    );
    assert_eq!(result.status, ExitStatus::Exited(exit_code::BAD_INPUT));
}

#[test]
fn syscalls_normal_mode_echoes_and_reports() {
    for (code, len) in [(0u8, 0usize), (42, 1), (7, 153), (255, 1000)] {
        let data: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
        let result = run(SYSCALLS_ELF, syscalls::normal_input(code, &data));
        assert_eq!(result.status, ExitStatus::Exited(u32::from(code)));
        let mut expected = data;
        expected.extend_from_slice(syscalls::Results::expected().report().as_bytes());
        assert_eq!(
            String::from_utf8_lossy(&result.output),
            String::from_utf8_lossy(&expected)
        );
        assert_eq!(
            result.log,
            format!("syscalls: echoed {len} bytes\nsyscalls: done\n")
        );
    }
}

#[test]
fn syscalls_failure_modes_end_as_documented() {
    use syscalls::mode;
    let cases = [
        (
            mode::PANIC,
            ExitStatus::Exited(exit_code::PANIC),
            "panic requested by the input",
        ),
        (
            mode::OUT_OF_MEMORY,
            ExitStatus::Exited(exit_code::OUT_OF_MEMORY),
            "out of memory",
        ),
        (
            mode::BAD_INPUT,
            ExitStatus::Exited(exit_code::BAD_INPUT),
            "bad input",
        ),
        (mode::EBREAK, ExitStatus::Trapped(TrapCause::Breakpoint), ""),
        (
            mode::ILLEGAL_INSTRUCTION,
            ExitStatus::Trapped(TrapCause::IllegalInstruction),
            "",
        ),
        (
            mode::MISALIGNED_LOAD,
            ExitStatus::Trapped(TrapCause::MisalignedLoad),
            "",
        ),
        (
            mode::MISALIGNED_STORE,
            ExitStatus::Trapped(TrapCause::MisalignedStore),
            "",
        ),
        (
            mode::MISALIGNED_JUMP,
            ExitStatus::Trapped(TrapCause::MisalignedFetch),
            "",
        ),
    ];
    for (selected, status, message) in cases {
        let result = run(SYSCALLS_ELF, vec![selected]);
        assert_eq!(result.status, status, "mode {selected}: {}", result.log);
        assert!(
            result.log.contains(message),
            "mode {selected}: {}",
            result.log
        );
        assert!(result.output.is_empty());
    }
}
