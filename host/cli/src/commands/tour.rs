//! `opml tour`: a narrated tour of the VM on the embedded example guests, needing nothing but
//! this binary.

use std::time::Instant;

use anyhow::{Context, Result, ensure};
use clap::Args;
use opml_methods::{ECHO_ELF, ECHO_ID, GUESTS_BUILT, HASHBENCH_ELF, HASHBENCH_ID, SYSCALLS_ELF};
use opml_state::ExitStatus;
use opml_vm::{Machine, Snapshots, Timeline};

use crate::json::hex;
use crate::progress;
use crate::symbols::Symbols;

/// Arguments of `opml tour`.
#[derive(Args)]
pub(crate) struct TourArgs {
    /// SHA-256 iterations of the CPU-heavy guest (about 5,000 instructions each).
    #[arg(long, default_value_t = hashbench::DEFAULT_ITERATIONS)]
    iterations: u32,
}

fn heading(text: &str) {
    println!("\n== {text}");
}

/// Runs the tour; fails if any check in it fails.
pub(crate) fn tour(args: TourArgs) -> Result<u8> {
    ensure!(
        GUESTS_BUILT,
        "this opml was built with OPML_SKIP_GUEST_BUILD set: no guests to tour"
    );

    heading("1. A guest program: echo");
    println!("program ID {}", hex(&ECHO_ID));
    let request = echo::Request {
        text: "optimistic machine learning".into(),
        numbers: vec![7, -2, 40, 1],
    };
    let input = echo::typed_input(&request)?;
    let mut machine = Machine::load(ECHO_ELF, input.clone())?;
    let status = machine.run(u64::MAX);
    ensure!(status == ExitStatus::Exited(0), "echo ended with {status}");
    let reply: echo::Reply = opml_codec::decode(machine.output())
        .map_err(|err| anyhow::anyhow!("echo's output does not decode: {err:?}"))?;
    println!("request  {request:?}");
    println!("reply    {reply:?}");
    println!(
        "{} steps; final state hash {}",
        machine.step_count(),
        hex(&machine.state_hash())
    );

    heading("2. Every step of that run, re-checked by the independent step verifier");
    let mut machine = Machine::load(ECHO_ELF, input)?;
    let bar = progress::steps_bar(None, "verifying");
    let mut proof_bytes = 0;
    while !machine.status().is_halted() {
        let witness = machine.prove_step()?;
        let proof = witness.encode_proof();
        proof_bytes = proof_bytes.max(proof.len());
        let verified = opml_proof::verify_step(&witness.state_data(), &proof)
            .with_context(|| format!("the verifier refused step {}", witness.state.step))?;
        ensure!(
            verified == machine.state_hash(),
            "mismatch at step {}",
            witness.state.step
        );
        bar.inc(1);
    }
    bar.finish_and_clear();
    println!(
        "{} steps verified from packed pre-state + proof alone; largest proof {proof_bytes} bytes",
        machine.step_count()
    );

    heading("3. A CPU-heavy guest in fast mode: iterated SHA-256");
    println!("program ID {}", hex(&HASHBENCH_ID));
    let bench_input = opml_codec::encode(&hashbench::Input {
        iterations: args.iterations,
        seed: [0; 32],
    })?;
    let machine = Machine::load(HASHBENCH_ELF, bench_input)?;
    let bar = progress::steps_bar(None, "recording");
    let started = Instant::now();
    let timeline = Timeline::record(machine, u64::MAX, Snapshots::adaptive());
    let seconds = started.elapsed().as_secs_f64();
    bar.finish_and_clear();
    let end = timeline.end();
    let steps = end.step_count();
    println!(
        "{} after {steps} steps in {seconds:.2} s ({:.0} MIPS), with a snapshot every {} steps",
        end.status(),
        steps as f64 / seconds / 1e6,
        timeline.interval()
    );
    println!("digest {}", hex(end.output()));

    heading("4. The witness of an arbitrary step, rebuilt from the nearest snapshot");
    let step = steps * 5 / 7;
    let started = Instant::now();
    let witness = timeline.witness(step)?;
    let seconds = started.elapsed().as_secs_f64();
    let post = opml_proof::verify_step(&witness.state_data(), &witness.encode_proof())?;
    ensure!(
        post == timeline.seek(step + 1).state_hash(),
        "the witness of step {step} does not lead to the state after it"
    );
    println!(
        "step {step}: pc {:#010x}, {} proof items, built in {seconds:.3} s; verifies to {}",
        witness.state.pc,
        witness.items.len(),
        hex(&post)
    );

    heading("5. A guest that misbehaves traps deterministically");
    let mut machine = Machine::load(SYSCALLS_ELF, vec![syscalls::mode::MISALIGNED_LOAD])?;
    let status = machine.run(u64::MAX);
    println!(
        "{status} at {} after {} steps",
        Symbols::parse(SYSCALLS_ELF).locate(machine.pc()),
        machine.step_count()
    );
    ensure!(status.is_halted(), "the trap guest did not halt");
    println!("\nAll checks passed.");
    Ok(0)
}
