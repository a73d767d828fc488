//! `opml run`: run a guest in fast mode.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use opml_state::{ExitStatus, input, output};
use opml_vm::Machine;
use serde_json::json;

use crate::commands::codec::decode_frames;
use crate::exit_codes;
use crate::guest_input::GuestArgs;
use crate::json;
use crate::progress::{self, SLICE_STEPS};
use crate::schema::Schema;
use crate::symbols::Symbols;

/// Arguments of `opml run`.
#[derive(Args)]
pub(crate) struct RunArgs {
    #[command(flatten)]
    guest: GuestArgs,
    /// Stop after this many steps (exit status 251 if the guest is still running).
    #[arg(long, value_name = "N")]
    max_steps: Option<u64>,
    /// Write a JSON report: exit status, steps, seconds, program ID, input commitment,
    /// output (hex), output digest and final state hash; with --output-schema, the output
    /// decoded too.
    #[arg(long, value_name = "FILE.json")]
    report: Option<PathBuf>,
    /// Decode the output by this schema (one per frame, in order; see `opml codec encode
    /// --help`) and print it as JSON, one line per frame, instead of the raw bytes.
    #[arg(long, value_name = "SCHEMA")]
    output_schema: Vec<String>,
    /// Print a one-line summary (status, steps, speed) to stderr when the run ends.
    #[arg(short, long)]
    verbose: bool,
    /// Interpret every instruction instead of compiling hot code to host code (same results,
    /// slower; for comparison).
    #[arg(long)]
    interpreter: bool,
}

/// Runs the guest, streaming its output to stdout and its log to stderr.
pub(crate) fn run(args: RunArgs) -> Result<u8> {
    if let Some(path) = &args.report {
        crate::out_path::check(path, "--report")?;
    }
    let schemas = args
        .output_schema
        .iter()
        .map(|s| Schema::parse(s))
        .collect::<Result<Vec<_>>>()?;
    let loaded = args.guest.load()?;
    let program_id = opml_vm::program_id(&loaded.elf)?;
    let mut machine = loaded.machine;
    if args.interpreter {
        machine.set_jit(None);
    }
    machine.set_log(Some(Box::new(|bytes: &[u8]| {
        let _ = std::io::stderr().write_all(bytes);
    })));

    let limit = args.max_steps.unwrap_or(u64::MAX);
    let bar = progress::steps_bar(args.max_steps, "running");
    let mut stdout = std::io::stdout().lock();
    let mut flushed = 0;
    let started = Instant::now();
    let status = loop {
        let left = limit - machine.step_count();
        let status = machine.try_run(left.min(SLICE_STEPS))?;
        if schemas.is_empty() {
            flushed = flush_output(&machine, flushed, &mut stdout)?;
        }
        bar.set_position(machine.step_count());
        if status.is_halted() || machine.step_count() >= limit {
            break status;
        }
    };
    let seconds = started.elapsed().as_secs_f64();
    bar.finish_and_clear();

    let steps = machine.step_count();
    if args.verbose {
        eprintln!(
            "opml: {status} after {steps} steps in {seconds:.3} s ({:.1} MIPS)",
            steps as f64 / seconds.max(1e-9) / 1e6
        );
    }
    // The decoded output: printed, and in the report. An output that does not decode is an
    // error only once the report is written.
    let decoded = (!schemas.is_empty()).then(|| decode_frames(&schemas, machine.output()));
    if let Some(Ok(values)) = &decoded {
        for value in values {
            writeln!(stdout, "{value}").context("writing the decoded output to stdout")?;
        }
    }
    if let Some(path) = &args.report {
        let final_state = machine.state();
        let mut report = json!({
            "status": json::status(status),
            "steps": steps,
            "seconds": seconds,
            "program_id": json::hex(&program_id),
            "input_commitment": json::hex(&input::commitment(machine.input())),
            "output_digest": json::hex(&output::digest(machine.output())),
            "output_len": machine.output().len(),
            "output": json::hex(machine.output()),
            "final_state_hash": json::hex(&final_state.hash()),
        });
        if let Some(Ok(values)) = &decoded {
            report["output_decoded"] = json!(values);
        }
        std::fs::write(path, serde_json::to_string_pretty(&report)? + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if let Some(Err(error)) = decoded {
        return Err(error.context("the output does not decode by --output-schema"));
    }
    Ok(exit_code(status, &machine, &loaded.symbols))
}

/// Writes the output bytes produced since `flushed`; returns the new flushed length.
fn flush_output(machine: &Machine, flushed: usize, out: &mut impl Write) -> Result<usize> {
    let output = machine.output();
    out.write_all(&output[flushed..])
        .context("writing the guest's output to stdout")?;
    out.flush()
        .context("writing the guest's output to stdout")?;
    Ok(output.len())
}

/// The process exit code for a finished run, explaining traps and step limits on stderr.
fn exit_code(status: ExitStatus, machine: &Machine, symbols: &Symbols) -> u8 {
    let at = symbols.locate(machine.pc());
    match status {
        ExitStatus::Exited(code) => {
            if code == opml_platform::exit_code::PANIC {
                eprintln!(
                    "opml: the guest panicked (exit code {code}; its message above names the \
                     source line); it exited from {at}"
                );
            }
            (code & 0xff) as u8
        }
        ExitStatus::Trapped(cause) => {
            eprintln!(
                "opml: the guest trapped: {} at {at} after {} steps",
                cause.name(),
                machine.step_count()
            );
            exit_codes::GUEST_TRAP
        }
        ExitStatus::Running => {
            eprintln!(
                "opml: step limit reached after {} steps; the guest is at {at}",
                machine.step_count()
            );
            exit_codes::STEP_LIMIT
        }
    }
}
