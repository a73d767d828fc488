//! The α of the two-phase design (issue 10): what re-doing one graph node in the VM costs
//! against computing it natively. opML puts it at "tens to hundreds".
//!
//! For every node `k` of each model, on one seeded input: the native time of the node alone
//! ([`opml_dnn::compute`] on the run's tensors, repeated for at least `--min-ms` and averaged),
//! and the wall time and instructions of [`GraphPhase::vm_step`]`(k + 2)`, the node step
//! program re-doing it in the VM, its data read through the oracle. α = VM time / native time.
//! The VM time includes loading the program and building the oracle's preimage map on the
//! host (the map's time is also shown apart).
//!
//! Times are the measuring thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`), so that other
//! processes on shared cores do not count, or wall-clock time with `--wall`; either way the
//! best of `--runs`. Every measurement is single-threaded (the native kernels too, unless
//! opml-dnn's `parallel` feature is on; then use `--wall`).
//!
//! `cargo run --release -p opml-graph --example alpha -- --help`

use std::collections::BTreeMap;
use std::error::Error;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::Parser;
use opml_dnn::{AlignedBytes, Model, Node, Op, compute};
use opml_graph::GraphPhase;
use opml_vm::ExitStatus;
use serde_json::{Value, json};

#[path = "../tests/common/mod.rs"]
mod common;

use common::{Rng, random_input};

/// Measures α = VM time / native time for every node of `.opml` models.
#[derive(Parser)]
#[command(about, long_about = None)]
struct Cli {
    /// `.opml` files [default: every committed model and the operator reference `ops.opml`]
    models: Vec<PathBuf>,
    /// Seed of the random inputs.
    #[arg(long, default_value_t = 20261202)]
    seed: u64,
    /// Least total native time per node, in milliseconds (the mean of as many calls).
    #[arg(long, default_value_t = 20)]
    min_ms: u64,
    /// Measurements of each time; the best is kept.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    runs: u32,
    /// Wall-clock time instead of the thread's CPU time.
    #[arg(long)]
    wall: bool,
    /// Also write every figure as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

/// One node's figures.
struct Row {
    node: usize,
    /// Operator and first input's dtype, e.g. `Dense i8`.
    op: String,
    shape: Vec<u32>,
    macs: Option<u64>,
    bytes_read: usize,
    native: Duration,
    instructions: u64,
    vm: Duration,
    /// Of `vm`: building the preimage map on the host.
    map: Duration,
    preimages: usize,
}

impl Row {
    /// VM time / native time.
    fn alpha(&self) -> f64 {
        self.vm.as_secs_f64() / self.native.as_secs_f64()
    }

    /// The row as a JSON object.
    fn json(&self) -> Value {
        json!({
            "node": self.node, "op": self.op, "shape": self.shape, "macs": self.macs,
            "bytes_read": self.bytes_read, "native_us": micros(self.native),
            "vm_instructions": self.instructions, "vm_ms": millis(self.vm),
            "map_ms": millis(self.map), "preimages": self.preimages, "alpha": self.alpha(),
        })
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    let cli = Cli::parse();
    let models = if cli.models.is_empty() {
        committed()?
    } else {
        cli.models.clone()
    };
    let mut rng = Rng(cli.seed);
    let mut report = Vec::new();
    let mut kinds: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for path in &models {
        let file = std::fs::read(path)?;
        let rows =
            measure(&file, &mut rng, &cli).map_err(|e| format!("{}: {e}", path.display()))?;
        print_model(path, &rows);
        for row in &rows {
            kinds.entry(row.op.clone()).or_default().push(row.alpha());
        }
        let rows: Vec<Value> = rows.iter().map(Row::json).collect();
        report.push(json!({ "model": path.display().to_string(), "nodes": rows }));
    }
    println!("## α per op kind\n");
    println!("| op | nodes | min α | median α | max α |\n|---|---:|---:|---:|---:|");
    let mut summary = Vec::new();
    for (op, mut alphas) in kinds {
        alphas.sort_by(f64::total_cmp);
        let (min, median, max) = (alphas[0], median(&alphas), alphas[alphas.len() - 1]);
        println!(
            "| {op} | {} | {min:.0} | {median:.0} | {max:.0} |",
            alphas.len()
        );
        summary.push(
            json!({ "op": op, "nodes": alphas.len(), "min": min, "median": median, "max": max }),
        );
    }
    if let Some(out) = &cli.json {
        let clock = if cli.wall { "wall" } else { "thread CPU" };
        let all = json!({ "seed": cli.seed, "runs": cli.runs, "clock": clock, "models": report, "summary": summary });
        std::fs::write(out, serde_json::to_string_pretty(&all)? + "\n")?;
    }
    Ok(())
}

/// Every committed `.opml` under `toolchain/model/models`, then the operator reference.
fn committed() -> Result<Vec<PathBuf>, Box<dyn Error>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../toolchain/model");
    let mut files = Vec::new();
    for entry in std::fs::read_dir(root.join("models"))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "opml") {
            files.push(path);
        }
    }
    files.sort();
    files.push(root.join("reference/ops.opml"));
    Ok(files)
}

/// Runs the model in `file` on a random input and measures every node.
fn measure(file: &[u8], rng: &mut Rng, cli: &Cli) -> Result<Vec<Row>, Box<dyn Error>> {
    let min = Duration::from_millis(cli.min_ms);
    let input = random_input(&Model::parse(&AlignedBytes::from_slice(file))?, rng, false);
    let phase = GraphPhase::new(file, &input)?;
    if let Some(refusal) = phase.run().refusal() {
        return Err(format!("the run is refused: {refusal:?}").into());
    }
    let model = phase.model();
    let mut rows = Vec::new();
    for (k, node) in model.nodes().iter().enumerate() {
        let args = node
            .inputs()
            .iter()
            .map(|&t| phase.run().tensor(&model, t))
            .collect::<Option<Vec<_>>>()
            .ok_or("a node input is missing from the run")?;
        let out = model.tensor(node.output()).ok_or("no output tensor")?;
        let j = k as u64 + 2;
        let (mut native, mut map, mut vm) = (Duration::MAX, Duration::MAX, Duration::MAX);
        let mut step = None;
        for _ in 0..cli.runs {
            native = native.min(mean_time(cli.wall, min, || compute(node, &args, &out))?);
            map = map.min(timed(cli.wall, || phase.preimages(j)).0);
            let (took, result) = timed(cli.wall, || phase.vm_step(j, u64::MAX));
            vm = vm.min(took);
            step = Some(result?);
        }
        let step = step.expect("at least one run");
        if step.status != ExitStatus::Exited(0) || step.output != phase.state(j) {
            return Err(format!("node {k}: the VM's S({j}) is not the native one").into());
        }
        rows.push(Row {
            node: k,
            op: format!("{} {}", node.op().name(), args[0].dtype().name()),
            shape: out.shape.dims().to_vec(),
            macs: macs(
                node,
                &args.iter().map(|a| a.shape().dims()).collect::<Vec<_>>(),
                out.shape.count(),
            ),
            bytes_read: args.iter().map(|a| a.data().bytes().len()).sum(),
            native,
            instructions: step.steps,
            vm,
            map,
            preimages: step.preimages,
        });
    }
    Ok(rows)
}

/// How long `f` takes (wall-clock or this thread's CPU time), and what it gives.
fn timed<T>(wall: bool, f: impl FnOnce() -> T) -> (Duration, T) {
    let (cpu, start) = (thread_cpu(), Instant::now());
    let value = black_box(f());
    let took = if wall {
        start.elapsed()
    } else {
        thread_cpu() - cpu
    };
    (took, value)
}

/// The mean time of `f`, called in doubling batches until one batch takes at least `min`.
fn mean_time<T, E>(
    wall: bool,
    min: Duration,
    mut f: impl FnMut() -> Result<T, E>,
) -> Result<Duration, E> {
    black_box(f()?);
    let mut n = 1u32;
    loop {
        let (took, done) = timed(wall, || {
            (0..n).try_for_each(|_| f().map(|v| drop(black_box(v))))
        });
        done?;
        if took >= min {
            return Ok(took / n);
        }
        n *= 2;
    }
}

/// Multiply-adds of a linear node, from its inputs' dims and its output's element count.
fn macs(node: &Node, inputs: &[&[u32]], out: usize) -> Option<u64> {
    let last = |dims: &[u32]| u64::from(*dims.last().unwrap_or(&1));
    let per_output = match node.op() {
        Op::Dense(_) | Op::MatMul => last(inputs[0]),
        // W (O, C, KH, KW): C × KH × KW per output element.
        Op::Conv2d(..) => inputs[1][1..].iter().map(|&d| u64::from(d)).product(),
        _ => return None,
    };
    Some(per_output * out as u64)
}

/// The model's table and its totals, in Markdown.
fn print_model(path: &Path, rows: &[Row]) {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    println!("## {name}\n");
    println!(
        "| node | op | shape | MACs | bytes read | native µs | VM instructions | preimages | VM ms | map ms | α |"
    );
    println!("|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in rows {
        let macs = r.macs.map_or("–".into(), |m| m.to_string());
        println!(
            "| {} | {} | {} | {macs} | {} | {:.2} | {} | {} | {:.2} | {:.2} | {:.0} |",
            r.node,
            r.op,
            dims(&r.shape),
            r.bytes_read,
            micros(r.native),
            r.instructions,
            r.preimages,
            millis(r.vm),
            millis(r.map),
            r.alpha(),
        );
    }
    let total = |f: fn(&Row) -> Duration| rows.iter().map(f).sum::<Duration>();
    let (native, vm) = (total(|r| r.native), total(|r| r.vm));
    println!(
        "\nAll {} nodes: native {:.1} µs, VM {} instructions in {:.1} ms, α {:.0}.\n",
        rows.len(),
        micros(native),
        rows.iter().map(|r| r.instructions).sum::<u64>(),
        millis(vm),
        vm.as_secs_f64() / native.as_secs_f64()
    );
}

/// The median of sorted values.
fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    (sorted[(n - 1) / 2] + sorted[n / 2]) / 2.0
}

/// Microseconds.
fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// Milliseconds.
fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// `1×4×28×28`, or `()` for a scalar.
fn dims(dims: &[u32]) -> String {
    let dims: Vec<String> = dims.iter().map(u32::to_string).collect();
    if dims.is_empty() {
        "()".into()
    } else {
        dims.join("×")
    }
}

/// This thread's CPU time, `clock_gettime(CLOCK_THREAD_CPUTIME_ID)` (Linux).
fn thread_cpu() -> Duration {
    /// `struct timespec` of Linux (`time_t` is a C `long`).
    #[repr(C)]
    struct Timespec {
        sec: std::ffi::c_long,
        nsec: std::ffi::c_long,
    }
    unsafe extern "C" {
        fn clock_gettime(clock: i32, time: *mut Timespec) -> i32;
    }
    const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
    let mut time = Timespec { sec: 0, nsec: 0 };
    // SAFETY: `time` is a valid, writable `timespec`; the call writes nothing else.
    let status = unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut time) };
    assert_eq!(status, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
    Duration::new(time.sec as u64, time.nsec as u32)
}
