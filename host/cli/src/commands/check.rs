//! `opml check`: prove every step of a run and check it with the step verifier.
//!
//! This is the conformance check an app developer runs on their own program: every step is
//! proven by the emulator (through its access tracker) and re-executed by the independent step
//! verifier from the packed pre-state and the proof alone. Any disagreement is a bug in the VM
//! and is reported with the step, the instruction and the witness.
//!
//! A guest that reads through the data oracle needs its preimages (`--preimages`); the check
//! derives every key itself, and each `preimage` step's proof carries the preimage it read.
//!
//! With `--evm`, every step is also verified by the Solidity step verifier on an embedded EVM
//! (`opml-chain`); a disagreement is reported the same way, with replayable calldata and a forge
//! test, and the summary adds throughput and gas statistics.

use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::{Context as _, Result};
use clap::Args;
use opml_chain::contracts::{StepVerifierEvm, forge_test};
use opml_chain::{EvmError, StepOutcome};
use opml_proof::{ProofItem, StepWitness};
use serde_json::{Value, json};

use crate::exit_codes;
use crate::guest_input::GuestArgs;
use crate::json;
use crate::progress;

/// Arguments of `opml check`.
#[derive(Args)]
pub(crate) struct CheckArgs {
    #[command(flatten)]
    guest: GuestArgs,
    /// Check at most this many steps.
    #[arg(long, value_name = "N")]
    max_steps: Option<u64>,
    /// Also verify every step with the Solidity step verifier on an embedded EVM (revm).
    #[arg(long)]
    evm: bool,
}

/// Gas statistics of the steps verified on the EVM.
#[derive(Default)]
struct GasStats {
    steps: u64,
    execution_total: u64,
    execution_max: u64,
    cancun_total: u64,
    cancun_max: u64,
    prague_total: u64,
    prague_max: u64,
    calldata_max: usize,
    /// Per step class ([`step_class`]): steps, then Cancun, Prague and calldata totals.
    by_class: BTreeMap<&'static str, [u64; 4]>,
}

/// The class of a step for the gas statistics: what the instruction does with memory, and
/// whether its data access is to a second leaf (a second memory proof).
fn step_class(witness: &StepWitness) -> &'static str {
    let leaves = witness
        .items
        .iter()
        .filter(|item| matches!(item, ProofItem::Memory { .. }))
        .count();
    let Some(ProofItem::Memory { proof, .. }) = witness.items.first() else {
        return "no proof (halted, misaligned pc)";
    };
    let at = (witness.state.pc % 32) as usize;
    let word = u32::from_le_bytes(proof.leaf[at..at + 4].try_into().expect("4 bytes"));
    let second = leaves == 2;
    match (word & 0x7f, word == 0x73, second) {
        (0x03, _, true) => "load, second leaf",
        (0x03, _, false) => "load, fetch leaf",
        (0x23, _, true) => "store, second leaf",
        (0x23, _, false) => "store, fetch leaf",
        (_, true, _) => match witness.state.regs[opml_platform::reg::A7] {
            opml_platform::syscall::READ if second => "read, second leaf",
            opml_platform::syscall::WRITE if second => "write, second leaf",
            opml_platform::syscall::PREIMAGE if second => "preimage, second leaf",
            _ => "other ecall",
        },
        _ => "register, branch, jump, trap",
    }
}

impl GasStats {
    fn add(&mut self, outcome: &StepOutcome, class: &'static str) {
        let totals = self.by_class.entry(class).or_default();
        totals[0] += 1;
        totals[1] += outcome.gas.cancun;
        totals[2] += outcome.gas.prague;
        totals[3] += outcome.calldata_len as u64;
        self.steps += 1;
        self.execution_total += outcome.gas.execution;
        self.execution_max = self.execution_max.max(outcome.gas.execution);
        self.cancun_total += outcome.gas.cancun;
        self.cancun_max = self.cancun_max.max(outcome.gas.cancun);
        self.prague_total += outcome.gas.prague;
        self.prague_max = self.prague_max.max(outcome.gas.prague);
        self.calldata_max = self.calldata_max.max(outcome.calldata_len);
    }

    fn json(&self, evm: &StepVerifierEvm, seconds: f64) -> Value {
        let mean = |total: u64| total.checked_div(self.steps).unwrap_or(0);
        let by_class: serde_json::Map<String, Value> = self
            .by_class
            .iter()
            .map(|(class, [steps, cancun, prague, calldata])| {
                let mean = |total: u64| total / steps;
                let stats = json!({
                    "steps": steps,
                    "tx_cancun_mean": mean(*cancun),
                    "tx_prague_mean": mean(*prague),
                    "calldata_mean_bytes": mean(*calldata),
                });
                ((*class).to_owned(), stats)
            })
            .collect();
        json!({
            "verified_steps": self.steps,
            "seconds": seconds,
            "steps_per_second": if seconds > 0.0 { self.steps as f64 / seconds } else { 0.0 },
            "contract_size": evm.code_size(),
            "gas": {
                "execution": { "mean": mean(self.execution_total), "max": self.execution_max },
                "tx_cancun": { "mean": mean(self.cancun_total), "max": self.cancun_max },
                "tx_prague": { "mean": mean(self.prague_total), "max": self.prague_max },
                "calldata_max_bytes": self.calldata_max,
                "by_class": by_class,
            },
        })
    }
}

/// Checks every step; exit status 0 if all agree, 252 at the first mismatch.
pub(crate) fn check(args: CheckArgs) -> Result<u8> {
    let loaded = args.guest.load()?;
    let mut machine = loaded.machine;
    let limit = args.max_steps.unwrap_or(u64::MAX);
    let mut evm = match args.evm {
        true => Some(StepVerifierEvm::new().context("deploying the step verifier on the EVM")?),
        false => None,
    };
    let mut gas = GasStats::default();
    let started = Instant::now();
    let bar = progress::steps_bar(args.max_steps, "checking");
    while !machine.status().is_halted() && machine.step_count() < limit {
        let step = machine.step_count();
        let pc = machine.pc();
        let witness = machine
            .prove_step()
            .context("the guest reads through the data oracle: pass its data with --preimages")?;
        let expected = machine.state_hash();
        let state_data = witness.state_data();
        let proof = witness.encode_proof();
        let mismatch = |checker: &str, got: Value, extra: Value| -> Result<u8> {
            bar.finish_and_clear();
            let location = loaded.symbols.locate(pc);
            let mut report = json!({
                "step": step,
                "location": location,
                "emulator_post_state": json::hex(&expected),
                checker: got,
                "state_data": json::hex(&state_data),
                "proof": json::hex(&proof),
            });
            if let (Value::Object(report), Value::Object(extra)) = (&mut report, extra) {
                report.extend(extra);
            }
            eprintln!("opml: {checker} MISMATCH at step {step}, {location}");
            println!("{}", serde_json::to_string_pretty(&report)?);
            Ok(exit_codes::CHECK_MISMATCH)
        };

        let verified = opml_proof::verify_step(&state_data, &proof);
        if verified.as_ref().ok() != Some(&expected) {
            let got = match &verified {
                Ok(hash) => json::hex(hash),
                Err(error) => format!("error: {error}"),
            };
            return mismatch("verifier", got.into(), json!({}));
        }
        if let Some(evm) = evm.as_mut() {
            let on_evm = evm.step(&state_data, &proof);
            if let Ok(outcome) = &on_evm {
                gas.add(outcome, step_class(&witness));
            }
            if on_evm.as_ref().ok().map(|outcome| &outcome.post) != Some(&expected) {
                let got = match &on_evm {
                    Ok(outcome) => json::hex(&outcome.post),
                    Err(error) => format!("error: {error}"),
                };
                let revert_data = match &on_evm {
                    Err(EvmError::Revert { data, .. }) => Some(json::hex(data)),
                    _ => None,
                };
                let extra = json!({
                    "evm_revert_data": revert_data,
                    "calldata": json::hex(&StepVerifierEvm::calldata(&state_data, &proof)),
                    "forge_test": forge_test(&state_data, &proof, &expected),
                });
                return mismatch("evm", got.into(), extra);
            }
        }
        if step % 4096 == 0 {
            bar.set_position(step);
        }
    }
    bar.finish_and_clear();
    let mut summary = json!({
        "checked_steps": machine.step_count(),
        "status": json::status(machine.status()),
        "mismatches": 0,
    });
    if let Some(evm) = &evm {
        summary["evm"] = gas.json(evm, started.elapsed().as_secs_f64());
    }
    println!("{summary}");
    Ok(0)
}
