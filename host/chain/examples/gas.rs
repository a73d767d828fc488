//! Gas of the Solidity step verifier per instruction class, on the embedded EVM.
//!
//! `cargo run -p opml-chain --example gas` prints a markdown table: execution gas, calldata
//! bytes and full-transaction gas under Cancun and under Prague (EIP-7623 calldata floor) for
//! one representative step vector of each class, and the deployed contract size. The last two
//! columns are the worst case, the same step with nothing elided from its memory proofs (mask
//! 0, every sibling sent: a dense memory).

#[path = "../tests/common/vectors.rs"]
#[allow(dead_code, unreachable_pub)]
mod vectors;

use opml_chain::StepVerifierEvm;
use opml_proof::{ProofItem, StepWitness};

/// The proof of `witness` with every memory proof sent in full (mask 0).
fn unelided_proof(witness: &StepWitness) -> Vec<u8> {
    let mut out = Vec::new();
    for item in &witness.items {
        match item {
            ProofItem::Memory { proof, .. } => proof.encode_with_mask(0, &mut out),
            other => other.encode_into(&mut out),
        }
    }
    out
}

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
        "| class | vector | execution gas | calldata bytes | tx gas (Cancun) | tx gas (Prague, EIP-7623) | worst case: calldata bytes | Cancun | Prague |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|");
    for &(class, name) in CLASSES {
        let vector = vectors
            .iter()
            .find(|v| v.name == name)
            .unwrap_or_else(|| panic!("no vector {name}"));
        let outcome = evm
            .step(&vector.witness.state_data(), &vector.witness.encode_proof())
            .unwrap_or_else(|err| panic!("{name}: {err}"));
        assert_eq!(outcome.post, vector.post, "{name}: wrong post-state");
        let worst = evm
            .step(
                &vector.witness.state_data(),
                &unelided_proof(&vector.witness),
            )
            .unwrap_or_else(|err| panic!("{name} unelided: {err}"));
        assert_eq!(
            worst.post, vector.post,
            "{name}: wrong post-state, unelided"
        );
        println!(
            "| {class} | `{name}` | {} | {} | {} | {} | {} | {} | {} |",
            outcome.gas.execution,
            outcome.calldata_len,
            outcome.gas.cancun,
            outcome.gas.prague,
            worst.calldata_len,
            worst.gas.cancun,
            worst.gas.prague
        );
    }
    println!();
    println!(
        "Deployed RiscvStep: {} bytes (EIP-170 limit 24,576).",
        evm.code_size()
    );
}
