//! Prints the VM instruction counts of the `codec-bench` guest: what decoding and encoding a
//! typical payload (a few fields and a `Vec<u32>` of 10,000 elements) costs with postcard and
//! with bincode 2 (fixed-width integers).
//!
//! `cargo run --release -p opml-methods --example codec_costs`

use codec_bench::{Payload, Values, mode};
use opml_methods::CODEC_BENCH_ELF;
use opml_vm::{ExitStatus, Machine};

/// Values in the measured payload.
const LEN: usize = 10_000;

/// Instruction count of one run of `mode` on `encoded`.
fn steps(mode: u8, encoded: &[u8]) -> u64 {
    let input = codec_bench::input(mode, encoded).expect("frame");
    let mut machine = Machine::load(CODEC_BENCH_ELF, input).expect("loads");
    let status = machine.run(u64::MAX);
    assert_eq!(status, ExitStatus::Exited(0), "mode {mode}");
    machine.step_count()
}

fn main() {
    if !opml_methods::GUESTS_BUILT {
        panic!("the guests were not built (OPML_SKIP_GUEST_BUILD=1)");
    }
    println!("| values | codec | payload bytes | read | decode | encode |");
    println!("|---|---|---:|---:|---:|---:|");
    for values in [Values::Small, Values::Full] {
        let payload: Payload = codec_bench::payload(LEN, values);
        let codecs = [
            (
                "postcard",
                opml_codec::to_payload(&payload).expect("encodes"),
                mode::POSTCARD_DECODE,
                mode::POSTCARD_ROUNDTRIP,
            ),
            (
                "bincode 2 (fixint)",
                codec_bench::bincode_payload(&payload).expect("encodes"),
                mode::BINCODE_DECODE,
                mode::BINCODE_ROUNDTRIP,
            ),
        ];
        for (name, encoded, decode, roundtrip) in codecs {
            let read = steps(mode::READ, &encoded);
            let decoded = steps(decode, &encoded);
            let roundtripped = steps(roundtrip, &encoded);
            println!(
                "| {values:?} | {name} | {} | {read} | {} | {} |",
                encoded.len(),
                decoded - read,
                roundtripped - decoded
            );
        }
        let encoded = opml_codec::to_payload(&payload).expect("encodes");
        println!(
            "| {values:?} | SDK `read` + `commit` (postcard, whole program) | {} | | {} | |",
            encoded.len(),
            steps(mode::SDK_ROUNDTRIP, &encoded)
        );
    }
}
