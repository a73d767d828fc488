//! Gas of the Solidity step verifier per instruction class, on the embedded EVM.
//!
//! `cargo run -p opml-chain --example gas` prints a markdown table: execution gas, calldata
//! bytes and full-transaction gas under Cancun and under Prague (EIP-7623 calldata floor) for
//! one representative step vector of each class, and the deployed contract size.

#[path = "../tests/common/vectors.rs"]
#[allow(dead_code, unreachable_pub)]
mod vectors;

use opml_chain::StepVerifierEvm;

/// `(class, vector name)`, in table order.
const CLASSES: &[(&str, &str)] = &[
    ("ALU (add)", "add"),
    ("ALU immediate (addi)", "addi"),
    ("ALU (sra)", "sra"),
    ("lui", "lui"),
    ("branch taken (beq)", "beq_taken"),
    ("branch not taken (bne)", "bne_not_taken"),
    ("jal", "jal"),
    ("jalr", "jalr"),
    ("mul", "mul"),
    ("mulh", "mulh"),
    ("div", "div"),
    ("remu", "remu"),
    ("load (lw)", "lw"),
    ("load (lb)", "lb"),
    ("load from the fetch leaf", "lw_fetch_leaf"),
    ("store (sw)", "sw"),
    ("store (sb)", "sb"),
    ("syscall read", "read_partial"),
    ("syscall read, crossing a chunk", "read_crosses_chunk_end"),
    ("syscall read at EOF", "read_at_eof"),
    ("syscall write fd 1", "write_stdout"),
    (
        "syscall write fd 1, folding the tail",
        "write_stdout_fills_tail",
    ),
    ("syscall write fd 2", "write_stderr"),
    ("syscall exit", "exit"),
    ("preimage read (data oracle)", "preimage_half1"),
    ("preimage read into a fresh page", "preimage_fresh_page"),
    ("preimage refused (misaligned)", "preimage_misaligned"),
    ("trap (illegal instruction)", "illegal_zero_word"),
    ("halted state", "halted_exited"),
];

fn main() {
    let vectors = vectors::vectors();
    let mut evm = StepVerifierEvm::new().expect("deploy the step verifier");
    println!(
        "| class | vector | execution gas | calldata bytes | tx gas (Cancun) | tx gas (Prague, EIP-7623) |"
    );
    println!("|---|---|---:|---:|---:|---:|");
    for &(class, name) in CLASSES {
        let vector = vectors
            .iter()
            .find(|v| v.name == name)
            .unwrap_or_else(|| panic!("no vector {name}"));
        let outcome = evm
            .step(&vector.witness.state_data(), &vector.witness.encode_proof())
            .unwrap_or_else(|err| panic!("{name}: {err}"));
        assert_eq!(outcome.post, vector.post, "{name}: wrong post-state");
        println!(
            "| {class} | `{name}` | {} | {} | {} | {} |",
            outcome.gas.execution, outcome.calldata_len, outcome.gas.cancun, outcome.gas.prague
        );
    }
    println!();
    println!(
        "Deployed RiscvStep: {} bytes (EIP-170 limit 24,576).",
        evm.code_size()
    );
}
