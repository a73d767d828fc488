//! Measures the VM on one program: fast-mode speed (with the block compiler and with the
//! interpreter only, and the blocks compiled), the overhead of state-hash checkpoints,
//! the time to a witness of a late step through a [`Timeline`], and peak memory.
//!
//! ```text
//! cargo run --release -p opml-vm --example mips [-- ELF [INPUT_FILE]]
//! ```
//!
//! Without arguments it runs a hand-assembled CPU loop of 1.6 * 10^9 steps. Times are CPU time
//! of the measuring thread (`/proc/thread-self/schedstat`), so other processes competing for
//! the cores disturb them less than wall-clock time; wall-clock time is shown next to them.

#[path = "../tests/common/asm.rs"]
mod asm;

use std::time::Instant;

use opml_vm::{Machine, Snapshots, Timeline};

/// CPU time of this thread in seconds.
fn cpu_time() -> f64 {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    let ns: u64 = stat
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    ns as f64 * 1e-9
}

/// Peak resident set size of this process, from `/proc/self/status`.
fn peak_rss() -> String {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|line| line.starts_with("VmHWM"))
        .map_or_else(|| "unknown".into(), |line| line[6..].trim().to_string())
}

/// Runs `f`, returning its result with its CPU and wall-clock seconds.
fn timed<T>(f: impl FnOnce() -> T) -> (T, f64, f64) {
    let (cpu, wall) = (cpu_time(), Instant::now());
    let out = f();
    (out, cpu_time() - cpu, wall.elapsed().as_secs_f64())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let fresh = || -> Machine {
        match args.as_slice() {
            [] => Machine::from_program(&asm::cpu_loop(100_000_000), Vec::new()),
            [elf, rest @ ..] => {
                let elf = std::fs::read(elf).expect("read the ELF file");
                let input = rest.first().map_or_else(Vec::new, |path| {
                    std::fs::read(path).expect("read the input file")
                });
                Machine::load(&elf, input)
            }
        }
        .expect("load the program")
    };

    let mut best = f64::INFINITY;
    let mut best_interpreter = f64::INFINITY;
    let mut steps = 0;
    for run in 0..3 {
        for jit in [true, false] {
            let mut m = fresh();
            if !jit {
                m.set_jit(None);
            }
            let (status, cpu, wall) = timed(|| m.run(u64::MAX));
            steps = m.step_count();
            let mode = if jit { "block compiler" } else { "interpreter" };
            if jit {
                best = best.min(cpu);
            } else {
                best_interpreter = best_interpreter.min(cpu);
            }
            println!(
                "fast run ({mode}): {steps} steps, {status}, {cpu:.3} s CPU ({wall:.3} s wall), \
                 {:.0} MIPS",
                steps as f64 / cpu / 1e6
            );
            if jit && run == 0 {
                let stats = Machine::jit_stats();
                println!(
                    "  first run compiled {} blocks in {:.1} ms",
                    stats.blocks,
                    stats.time.as_secs_f64() * 1e3
                );
            }
        }
    }
    let mips = steps as f64 / best / 1e6;
    println!(
        "fast mode, best of 3: {mips:.0} MIPS with the block compiler, {:.0} MIPS interpreter only",
        steps as f64 / best_interpreter / 1e6
    );

    let every = 1 << 20;
    let mut m = fresh();
    let mut count = 0;
    let (_, cpu, wall) = timed(|| m.run_with_checkpoints(u64::MAX, every, |_, _| count += 1));
    println!(
        "checkpoints every 2^20 steps: {count} hashes, {cpu:.3} s CPU ({wall:.3} s wall), \
         {:.0} MIPS, overhead {:+.1}% over the best fast run",
        steps as f64 / cpu / 1e6,
        (cpu / best - 1.0) * 100.0
    );

    let (timeline, cpu, wall) =
        timed(|| Timeline::record(fresh(), u64::MAX, Snapshots::adaptive()));
    println!(
        "timeline (adaptive snapshots): recorded in {cpu:.3} s CPU ({wall:.3} s wall), {} \
         snapshots, interval {}",
        timeline.snapshot_hashes().count(),
        timeline.interval()
    );
    for step in [steps / 3, steps - 2, timeline.interval() - 1] {
        let step = step.min(steps - 1);
        let (witness, cpu, wall) = timed(|| timeline.witness(step));
        let witness = witness.expect("the guest reads no preimage");
        let ok = witness.verify().is_ok();
        println!(
            "witness of step {step}: {} items, verifies: {ok}, {cpu:.3} s CPU ({wall:.3} s wall)",
            witness.items.len()
        );
    }
    println!("peak RSS: {}", peak_rss());
}
