//! Progress display for long runs: shown only when stderr is a terminal.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

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
