//! Progress display for long runs: shown only when stderr is a terminal.

use std::io::IsTerminal;
use std::time::Duration;

use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};
use opml_state::ExitStatus;
use opml_vm::Machine;

/// Steps between progress updates (and between output flushes) in long runs.
pub(crate) const SLICE_STEPS: u64 = 1 << 24;

/// A progress bar over steps, or a no-op when stderr is not a terminal.
pub(crate) fn steps_bar(total: Option<u64>, what: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = match total {
        Some(total) => ProgressBar::new(total).with_style(
            ProgressStyle::with_template(
                "{prefix} [{elapsed_precise}] {wide_bar} {human_pos}/{human_len} steps ({per_sec})",
            )
            .expect("valid template"),
        ),
        None => ProgressBar::new_spinner().with_style(
            ProgressStyle::with_template("{prefix} {spinner} {human_pos} steps ({per_sec})")
                .expect("valid template"),
        ),
    };
    bar.set_prefix(what.to_string());
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// A progress bar over the levels of one bisection, or a no-op when stderr is not a terminal.
pub(crate) fn levels_bar(levels: u64) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    ProgressBar::new(levels).with_style(
        ProgressStyle::with_template("bisecting [{elapsed_precise}] {bar:40} {pos}/{len} levels")
            .expect("valid template"),
    )
}

/// A spinner saying what runs (and for how long), or a no-op when stderr is not a terminal.
pub(crate) fn spinner(what: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner().with_style(
        ProgressStyle::with_template("{spinner} {msg} [{elapsed}]").expect("valid template"),
    );
    bar.set_message(what.to_owned());
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// Runs `machine` fast for at most `max_steps` more steps (or to its halt) in slices of
/// [`SLICE_STEPS`], moving `bar` (from [`steps_bar`]) and clearing it at the end; returns the
/// status it stops in. Fails if the guest reads a preimage the machine was not given.
pub(crate) fn run(machine: &mut Machine, max_steps: u64, bar: ProgressBar) -> Result<ExitStatus> {
    let target = machine.step_count().saturating_add(max_steps);
    while machine.step_count() < target && !machine.status().is_halted() {
        let left = target - machine.step_count();
        machine.try_run(left.min(SLICE_STEPS))?;
        bar.set_position(machine.step_count());
    }
    bar.finish_and_clear();
    Ok(machine.status())
}
