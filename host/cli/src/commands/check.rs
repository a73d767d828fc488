//! `opml check`: prove every step of a run and check it with the step verifier.
//!
//! This is the conformance check an app developer runs on their own program: every step is
//! proven by the emulator (through its access tracker) and re-executed by the independent step
//! verifier from the packed pre-state and the proof alone. Any disagreement is a bug in the VM
//! and is reported with the step, the instruction and the witness.

use anyhow::Result;
use clap::Args;
use serde_json::json;

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
}

/// Checks every step; exit status 0 if all agree, 252 at the first mismatch.
pub(crate) fn check(args: CheckArgs) -> Result<u8> {
    let loaded = args.guest.load()?;
    let mut machine = loaded.machine;
    let limit = args.max_steps.unwrap_or(u64::MAX);
    let bar = progress::steps_bar(args.max_steps, "checking");
    while !machine.status().is_halted() && machine.step_count() < limit {
        let step = machine.step_count();
        let pc = machine.pc();
        let witness = machine.prove_step();
        let expected = machine.state_hash();
        let verified = opml_proof::verify_step(&witness.state_data(), &witness.encode_proof());
        if verified.as_ref().ok() != Some(&expected) {
            bar.finish_and_clear();
            let report = json!({
                "step": step,
                "location": loaded.symbols.locate(pc),
                "emulator_post_state": json::hex(&expected),
                "verifier": match &verified {
                    Ok(hash) => json::hex(hash),
                    Err(error) => format!("error: {error}"),
                },
                "state_data": json::hex(&witness.state_data()),
                "proof": json::hex(&witness.encode_proof()),
            });
            eprintln!(
                "opml: MISMATCH at step {step}, {}",
                loaded.symbols.locate(pc)
            );
            println!("{}", serde_json::to_string_pretty(&report)?);
            return Ok(exit_codes::CHECK_MISMATCH);
        }
        if step % 4096 == 0 {
            bar.set_position(step);
        }
    }
    bar.finish_and_clear();
    println!(
        "{}",
        json!({
            "checked_steps": machine.step_count(),
            "status": json::status(machine.status()),
            "mismatches": 0,
        })
    );
    Ok(0)
}
