//! One phase against two phases (issue 10): for the MNIST CNN and the deep CNN on a held-out
//! digit, the full dispute of a lying server (it claims the runner-up class) played both ways
//! on the embedded EVM, side by side: wall and execution time, VM instructions each party
//! executes, leaves each party hashes, and gas per move and per side; and the native graph
//! executor's speedup from 1 to 2 threads.
//!
//! ```text
//! cargo run --release -p opml-agent --example phases_bench -- --json phases.json
//! ```
//!
//! - **One phase**: the `mnist` guest runs the whole model in the VM, phases `[Σ−16, 8, 8]`
//!   (Σ = log2 of the run, rounded up); the liar's trace departs two thirds into the run. The
//!   instructions are exact: this example plays a second copy of the same game with players
//!   it builds itself over [`VmTrace`] clones, and reads their shared [`VmTrace::work`]
//!   counters (the recording run, and every replay its tree builds and step witnesses do).
//! - **Two phases**: the top phase is the model's graph (load, one coarse step per node,
//!   finish) computed natively (0 VM instructions); the liar alters the output of the heaviest
//!   node ([`GraphPhase::heaviest_step`], the one that reads the most data), and in a second
//!   dispute the node of the most VM instructions when that is another; phases
//!   `[top, lower/2, lower − lower/2]` with `2^lower` covering the largest node step. The disputed node's step program runs inside
//!   each player, out of reach of its counters, so its work is **replayed**: a [`VmTrace`] of
//!   the same run, the trees of every phase at the ranges the game's moves entered, and as
//!   many step witnesses per party as the one-phase game's counters show each party computes.
//!   The one-phase replay is checked against that game's exact counters.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use alloy_primitives::U256;
use anyhow::{Context, Result, bail, ensure};
use clap::Parser;
use opml_agent::adversary::{LyingTrace, final_state_with_output};
use opml_agent::arena::{MoveRecord, play};
use opml_agent::scenario::{self, Adversary, DisputeReport, FEE_WEI, Scenario};
use opml_agent::{Conduct, Contracts, Party, Player, Program, RegistryConfig, roles};
use opml_chain::{Chain, EmbeddedChain};
use opml_dnn::AlignedBytes;
use opml_dnn::phase::GraphRun;
use opml_game::{HistoryTree, PhaseConfig, Trace, VmTrace, Work};
use opml_graph::{GraphPhase, STEP_PROGRAM_ELF};
use serde::Serialize;

/// Command-line arguments.
#[derive(Parser)]
#[command(
    about = "One-phase against two-phase opML disputes of the MNIST CNNs: time, VM instructions, leaves hashed and gas of each side"
)]
struct Args {
    /// Write every figure (and every move of every game) as JSON to this file.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Which of the built-in held-out digits to classify.
    #[arg(long, default_value_t = 0)]
    digit: usize,
    /// Timings of the native graph run per thread count (the best is kept).
    #[arg(long, default_value_t = 5)]
    repeats: usize,
    /// Only the small CNN (skip the deep CNN, whose one-phase game runs 1.35 × 10^9 instructions a party on digit 0).
    #[arg(long)]
    quick: bool,
}

/// The VM work of one party.
#[derive(Clone, Copy, Debug, Default, Serialize)]
struct PartyWork {
    /// Instructions of the recording run (the program's full run; for two phases, the
    /// disputed node's step program).
    run: u64,
    /// Instructions the party's tree builds and step witnesses replayed.
    replays: u64,
    /// VM states packed and hashed ([`Work::states_hashed`]).
    states_hashed: u64,
    /// Leaves of the trees it built: `Σ_p 2^h_p`.
    leaves: u64,
}

impl PartyWork {
    fn total(&self) -> u64 {
        self.run + self.replays
    }
}

/// One way of disputing the model.
#[derive(Debug, Serialize)]
struct Dispute {
    /// "one phase" or "two phases".
    how: &'static str,
    /// Phase heights, top first.
    heights: Vec<u8>,
    /// The top phase's run: VM instructions (one phase) or coarse steps (two phases).
    steps: u64,
    /// Two phases: the disputed coarse step and what it does.
    disputed: Option<String>,
    /// Two phases: instructions of the disputed node's step program.
    node_instructions: Option<u64>,
    /// Two phases: seconds of the native graph run (all threads).
    native_s: Option<f64>,
    /// Seconds both parties spent running the task before the dispute (the scenario's).
    execute_s: f64,
    /// Wall time of the whole scenario, seconds.
    wall_s: f64,
    /// The server's (liar's) VM work.
    claimant: PartyWork,
    /// The honest challenger's VM work.
    challenger: PartyWork,
    /// Whether the party work was counted in the game (else replayed).
    work_counted: bool,
    /// Transactions of the game, server / challenger.
    txs: [u64; 2],
    /// Gas of the game, server / challenger.
    gas: [u64; 2],
    /// Every move.
    moves: Vec<MoveRecord>,
}

/// The native executor on one thread against two.
#[derive(Debug, Serialize)]
struct Speedup {
    /// Best of `repeats` seconds of `GraphRun::new` on one thread.
    one_thread_s: f64,
    /// The same on two threads.
    two_threads_s: f64,
}

/// Everything measured for one model.
#[derive(Debug, Serialize)]
struct ModelBench {
    model: &'static str,
    digit: usize,
    true_class: u8,
    claimed_class: u8,
    one_phase: Dispute,
    two_phases: Dispute,
    speedup: Speedup,
    /// The one-phase game's exact counters against their replay (trees and witnesses): equal
    /// when the replay does what the players do.
    one_phase_replay: [PartyWork; 2],
    /// Step witnesses each party computed in the one-phase game, server / challenger.
    witnesses: [u64; 2],
    /// Two phases, the node of the most VM instructions disputed, when it is not the heaviest.
    two_phases_largest: Option<Dispute>,
    /// VM instructions of each node's step program, node 0 first.
    node_instructions: Vec<u64>,
    /// `/proc/loadavg` before and after this model's measurements (the machine is shared).
    loadavg: [String; 2],
}

fn main() -> Result<()> {
    let args = Args::parse();
    let models: &[(mnist::Model, u8)] = if args.quick {
        &[(mnist::Model::Cnn, 24)]
    } else {
        &[(mnist::Model::Cnn, 24), (mnist::Model::CnnDeep, 28)]
    };
    let mut benches = Vec::new();
    for &(model, lower) in models {
        eprintln!("{}: …", model.name());
        let bench = bench(model, lower, &args)?;
        print_model(&bench);
        benches.push(bench);
    }
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&benches)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// Everything for `model`, its lower phases covering `2^lower` instructions.
fn bench(model: mnist::Model, lower: u8, args: &Args) -> Result<ModelBench> {
    let load_before = loadavg();
    let (_, pixels) = mnist::digit(args.digit).context("no such digit")?;
    let truth = mnist::classify(model, pixels).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let runner_up = (0..10u8)
        .filter(|&c| c != truth.class)
        .max_by(|&a, &b| truth.scores[usize::from(a)].total_cmp(&truth.scores[usize::from(b)]))
        .unwrap_or(0);

    let claimed = mnist::Prediction {
        class: runner_up,
        ..truth
    }
    .encode()
    .to_vec();
    let (one_phase, one_phase_replay, witnesses) = one_phase(model, pixels, &claimed)?;

    // Two phases: the graph natively, one node in the VM: the heaviest (the most data read),
    // as in the demo, and the one of the most instructions when that is another.
    let graph_input = mnist::graph_input(pixels);
    let started = Instant::now();
    let phase = GraphPhase::new(model.file(), &graph_input)?;
    let native_s = started.elapsed().as_secs_f64();
    let m = phase.step_count();
    let top = (64 - (m - 1).leading_zeros()).max(1) as u8;
    let config = PhaseConfig::program(&[top, lower / 2, lower - lower / 2])?;
    let node_instructions = (2..m)
        .map(|j| Ok(phase.vm_step(j, u64::MAX)?.steps))
        .collect::<Result<Vec<u64>>>()?;
    let largest = (2..m)
        .max_by_key(|&j| node_instructions[(j - 2) as usize])
        .context("a model without nodes")?;
    let mut claimed = phase.run().output().context("no graph output")?.to_vec();
    claimed[40..].copy_from_slice(&i32::from(runner_up).to_le_bytes());
    let graph = GraphDispute {
        model,
        phase: &phase,
        input: &graph_input,
        claimed: &claimed,
        config,
        native_s,
        witnesses,
    };
    let heaviest = phase.heaviest_step();
    let two_phases = graph.dispute(heaviest)?;
    let two_phases_largest = if largest == heaviest {
        None
    } else {
        Some(graph.dispute(largest)?)
    };

    Ok(ModelBench {
        model: model.name(),
        digit: args.digit,
        true_class: truth.class,
        claimed_class: runner_up,
        one_phase,
        two_phases,
        two_phases_largest,
        node_instructions,
        speedup: speedup(model, pixels, args.repeats)?,
        one_phase_replay,
        witnesses,
        loadavg: [load_before, loadavg()],
    })
}

/// The one-phase dispute of `model` on `pixels` (the whole model in the VM), the server
/// claiming `claimed`; its players' counted work checked against the replay of their trees
/// and witnesses, and the witnesses each party computed (server first).
fn one_phase(
    model: mnist::Model,
    pixels: &[u8],
    claimed: &[u8],
) -> Result<(Dispute, [PartyWork; 2], [u64; 2])> {
    let program = Program::new(opml_methods::MNIST_ELF)?;
    let input = mnist::input(model, pixels);
    let base = VmTrace::new(program.machine(&input)?, u64::MAX);
    let recorded = base.work();
    ensure!(base.halted(), "the mnist guest did not halt");
    let steps = base.end_step();
    let total = 64 - steps.leading_zeros();
    let config = PhaseConfig::new(&[(total - 16) as u8, 8, 8])?;
    let from_step = steps * 2 / 3;
    let scenario = Scenario {
        program: program.clone(),
        input: input.clone(),
        model: None,
        config,
        registry: RegistryConfig::default(),
        adversary: Some(Adversary {
            side: Party::Claimant,
            from_step,
            conduct: Conduct::Honest,
        }),
        claimed_output: Some(claimed.to_vec()),
        late_join_s: 0,
        runs: Default::default(),
    };
    eprintln!("  one phase {:?}, {steps} instructions", config.heights());
    let report = dispute(&scenario)?;
    let counted = counted_game(&program, &input, &config, from_step, claimed)?;
    let game = report.game.as_ref().context("no game")?;
    let ranges = entered_ranges(&config, &game.moves, 0)?;
    let step = proven_step(&game.moves);
    // Both parties build the same trees; every step witness hashes one state, and the
    // recording and the trees hash the rest.
    let trees = replay(&base, &config, &ranges, None, 0)?;
    let mut one_phase_replay = [PartyWork::default(); 2];
    let mut witnesses = [0; 2];
    for i in 0..2 {
        witnesses[i] = counted[i]
            .states_hashed
            .saturating_sub(recorded.states_hashed + trees.states_hashed);
        let proofs = replay(&base, &config, &[], step, witnesses[i])?;
        one_phase_replay[i] = party_work(sum(&[recorded, trees, proofs]), steps, &config);
    }
    let one_phase = Dispute {
        how: "one phase",
        heights: config.heights().to_vec(),
        steps,
        disputed: None,
        node_instructions: None,
        native_s: None,
        execute_s: report.execute_s,
        wall_s: report.wall_s,
        claimant: party_work(counted[0], steps, &config),
        challenger: party_work(counted[1], steps, &config),
        work_counted: true,
        txs: [game.claimant.txs, game.challenger.txs],
        gas: [game.claimant.gas, game.challenger.gas],
        moves: game.moves.clone(),
    };
    Ok((one_phase, one_phase_replay, witnesses))
}

/// A two-phase dispute of one model's run, whichever node the liar alters.
struct GraphDispute<'a> {
    model: mnist::Model,
    phase: &'a GraphPhase,
    input: &'a [u8],
    claimed: &'a [u8],
    config: PhaseConfig,
    native_s: f64,
    /// Step witnesses each party computes (counted in the one-phase game).
    witnesses: [u64; 2],
}

impl GraphDispute<'_> {
    /// The dispute of a liar that alters coarse step `j`'s node.
    fn dispute(&self, j: u64) -> Result<Dispute> {
        let (phase, config) = (self.phase, self.config);
        let node = phase.vm_step(j, u64::MAX)?;
        ensure!(
            node.steps < config.span(1).unwrap_or(0),
            "a node step of {} instructions does not fit {:?}",
            node.steps,
            config.heights()
        );
        let scenario = Scenario {
            program: Program::new(STEP_PROGRAM_ELF)?,
            input: self.input.to_vec(),
            model: Some(self.model.file().into()),
            config,
            registry: RegistryConfig::default(),
            adversary: Some(Adversary {
                side: Party::Claimant,
                from_step: j,
                conduct: Conduct::Honest,
            }),
            claimed_output: Some(self.claimed.to_vec()),
            late_join_s: 0,
            runs: Default::default(),
        };
        eprintln!(
            "  two phases {:?}, {} coarse steps, step {j}: {} instructions",
            config.heights(),
            phase.step_count(),
            node.steps
        );
        let report = dispute(&scenario)?;
        let game = report.game.as_ref().context("no game")?;
        let descent = game
            .moves
            .iter()
            .find(|mv| mv.name == "descendProgram")
            .context("no descendProgram move")?;
        ensure!(
            descent.position + 1 == j,
            "the game disputed coarse step {}, not {j}",
            descent.position + 1
        );
        // The step program's run as each player records it.
        let lower = PhaseConfig::new(&config.heights()[1..])?;
        let step_trace = Program::new(STEP_PROGRAM_ELF)?.trace_with(
            &phase.step_input(j),
            &lower,
            Arc::new(phase.preimages(j)),
        )?;
        let recorded = step_trace.work();
        ensure!(
            step_trace.end_step() == node.steps,
            "the step program's run differs"
        );
        let ranges = entered_ranges(&config, &game.moves, 1)?;
        let step = proven_step(&game.moves);
        let trees = replay(&step_trace, &config, &ranges, None, 0)?;
        let mut work = [PartyWork::default(); 2];
        for (i, party) in work.iter_mut().enumerate() {
            let proofs = replay(&step_trace, &config, &[], step, self.witnesses[i])?;
            *party = party_work(sum(&[recorded, trees, proofs]), node.steps, &config);
        }
        Ok(Dispute {
            how: "two phases",
            heights: config.heights().to_vec(),
            steps: phase.step_count(),
            disputed: Some(format!("step {j}: {}", phase.describe_step(j))),
            node_instructions: Some(node.steps),
            native_s: Some(self.native_s),
            execute_s: report.execute_s,
            wall_s: report.wall_s,
            claimant: work[0],
            challenger: work[1],
            work_counted: false,
            txs: [game.claimant.txs, game.challenger.txs],
            gas: [game.claimant.gas, game.challenger.gas],
            moves: game.moves.clone(),
        })
    }
}

/// The first three fields of `/proc/loadavg` (1, 5 and 15 minutes), or "?".
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg").map_or_else(
        |_| "?".to_owned(),
        |s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
    )
}

/// Plays `scenario` on a fresh embedded EVM; the honest challenger must win.
fn dispute(scenario: &Scenario) -> Result<DisputeReport> {
    let report = scenario::run(&mut EmbeddedChain::new(), scenario, &mut |_| {})?;
    ensure!(report.honest_won, "the honest challenger lost");
    Ok(report)
}

/// The one-phase game again, with players built here over clones of their own [`VmTrace`]s:
/// the work each party's trace counted, server first.
fn counted_game(
    program: &Program,
    input: &[u8],
    config: &PhaseConfig,
    from_step: u64,
    claimed: &[u8],
) -> Result<[Work; 2]> {
    let chain = &mut EmbeddedChain::new();
    let [deployer, requester, server, challenger, ..] = *chain.accounts() else {
        bail!("too few accounts");
    };
    let contracts = Contracts::deploy(chain, deployer, RegistryConfig::default())?;
    let server_truth = program.trace(input, config)?;
    let challenger_truth = program.trace(input, config)?;
    let input_commitment = roles::publish_input(chain, &contracts, requester, input)?;
    let request = roles::TaskRequest {
        program_id: program.id(),
        input_commitment,
        config: *config,
        fee: U256::from(FEE_WEI),
        deadline: chain.timestamp()? + 86_400,
    };
    let task_id = roles::post_task(chain, &contracts, requester, &request)?;
    let (state, hash) = final_state_with_output(server_truth.final_state(), claimed);
    roles::commit_result(chain, &contracts, server, task_id, &state, claimed)?;
    let lie = LyingTrace::about(server_truth.clone(), from_step, hash);
    let mut claimant = Player::adversary(
        Party::Claimant,
        *config,
        Box::new(lie),
        None,
        Conduct::Honest,
    );
    let mut honest = Player::honest(
        Party::Challenger,
        *config,
        Box::new(challenger_truth.clone()),
    );
    let (game_id, _) = roles::challenge(
        chain,
        &contracts,
        challenger,
        task_id,
        program.initial_state(),
        honest.top_commitment()?,
    )?;
    let report = play(
        chain,
        &contracts,
        game_id,
        &mut claimant,
        &mut honest,
        &mut |_| {},
    )?;
    ensure!(
        report.winner == Party::Challenger,
        "the counted game was lost"
    );
    Ok([server_truth.work(), challenger_truth.work()])
}

/// The range start of every phase from `first` down that the game entered.
fn entered_ranges(
    config: &PhaseConfig,
    moves: &[MoveRecord],
    first: usize,
) -> Result<Vec<(usize, u64)>> {
    (first..config.len())
        .map(|p| {
            let span = config.span(p).context("phase")?;
            let position = match p {
                // A program-defined top phase's child is the step program's run from 0.
                1 if first == 1 => 0,
                _ => moves
                    .iter()
                    .find(|mv| mv.phase == p)
                    .map(|mv| mv.position)
                    .with_context(|| format!("no move in phase {p}"))?,
            };
            Ok((p, position - position % span))
        })
        .collect()
}

/// The step the game proved (the position of its `step` move).
fn proven_step(moves: &[MoveRecord]) -> Option<u64> {
    moves
        .iter()
        .find(|mv| mv.name == "step")
        .map(|mv| mv.position)
}

/// The work a party's trace does over a clone of `base` (the recording excluded): the trees
/// of `ranges`, then `witnesses` step witnesses of `step`.
fn replay(
    base: &VmTrace,
    config: &PhaseConfig,
    ranges: &[(usize, u64)],
    step: Option<u64>,
    witnesses: u64,
) -> Result<Work> {
    let before = base.work();
    let mut trace = base.clone();
    for &(p, start) in ranges {
        let (stride, height) = config.stride(p).zip(config.height(p)).context("phase")?;
        HistoryTree::build(&mut trace, start, stride, height, None)?;
    }
    if let Some(step) = step {
        for _ in 0..witnesses {
            trace.step_witness(step)?;
        }
    }
    Ok(trace.work().since(before))
}

fn sum(works: &[Work]) -> Work {
    works.iter().fold(Work::default(), |a, w| Work {
        steps_run: a.steps_run + w.steps_run,
        states_hashed: a.states_hashed + w.states_hashed,
    })
}

/// A party's work from its trace's counters, `run` of them the recording; it builds one tree
/// per phase (the graph phase's leaves are coarse states, the others VM states).
fn party_work(work: Work, run: u64, config: &PhaseConfig) -> PartyWork {
    let leaves = config.heights().iter().map(|&h| 1u64 << h).sum();
    PartyWork {
        run,
        replays: work.steps_run - run,
        states_hashed: work.states_hashed,
        leaves,
    }
}

/// The native graph run of `model` on one thread and on two: the best of `repeats` each.
fn speedup(model: mnist::Model, pixels: &[u8], repeats: usize) -> Result<Speedup> {
    let file = AlignedBytes::from_slice(model.file());
    let parsed = opml_dnn::Model::parse(&file).map_err(|e| anyhow::anyhow!("{e}"))?;
    let input = mnist::graph_input(pixels);
    let mut best = [f64::INFINITY; 2];
    for (i, threads) in [1, 2].into_iter().enumerate() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()?;
        for _ in 0..repeats {
            let started = Instant::now();
            let run = pool.install(|| GraphRun::new(&parsed, &input));
            best[i] = best[i].min(started.elapsed().as_secs_f64());
            std::hint::black_box(run);
        }
    }
    Ok(Speedup {
        one_thread_s: best[0],
        two_threads_s: best[1],
    })
}

fn print_model(b: &ModelBench) {
    println!(
        "\n{} on digit {} (class {}, the liar claims {}); load average {} before, {} after\n",
        b.model, b.digit, b.true_class, b.claimed_class, b.loadavg[0], b.loadavg[1]
    );
    println!(
        "| dispute | phases | top-phase steps | wall s | execute s | VM instr. server (run + replays) | VM instr. challenger (run + replays) | leaves per party | txs server / challenger | gas server / challenger |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for d in [&b.one_phase, &b.two_phases]
        .into_iter()
        .chain(&b.two_phases_largest)
    {
        println!(
            "| {} | {:?} | {} | {:.2} | {:.2} | {} ({} + {}) | {} ({} + {}) | {} | {} / {} | {} / {} |",
            d.how,
            d.heights,
            d.steps,
            d.wall_s,
            d.execute_s,
            d.claimant.total(),
            d.claimant.run,
            d.claimant.replays,
            d.challenger.total(),
            d.challenger.run,
            d.challenger.replays,
            d.claimant.leaves,
            d.txs[0],
            d.txs[1],
            d.gas[0],
            d.gas[1],
        );
    }
    for d in std::iter::once(&b.two_phases).chain(&b.two_phases_largest) {
        println!(
            "\ntwo phases: native graph run {:.1} ms; disputed {}; node step {} instructions",
            d.native_s.unwrap_or(0.0) * 1e3,
            d.disputed.as_deref().unwrap_or("?"),
            d.node_instructions.unwrap_or(0)
        );
    }
    println!("node step instructions: {:?}", b.node_instructions);
    println!(
        "one-phase work counted {:?} / {:?}, replayed {:?} / {:?}; witnesses {:?}",
        b.one_phase.claimant,
        b.one_phase.challenger,
        b.one_phase_replay[0],
        b.one_phase_replay[1],
        b.witnesses
    );
    println!(
        "\n| move | one phase: n, gas min – max | two phases: n, gas min – max | two phases, largest node |"
    );
    println!("|---|---|---|---|");
    for name in ["commitRoot", "reveal", "descend", "descendProgram", "step"] {
        println!(
            "| {name} | {} | {} | {} |",
            gas_range(&b.one_phase.moves, name),
            gas_range(&b.two_phases.moves, name),
            b.two_phases_largest
                .as_ref()
                .map_or_else(|| "–".to_owned(), |d| gas_range(&d.moves, name))
        );
    }
    println!(
        "\nnative graph run: 1 thread {:.2} ms, 2 threads {:.2} ms (×{:.2})",
        b.speedup.one_thread_s * 1e3,
        b.speedup.two_threads_s * 1e3,
        b.speedup.one_thread_s / b.speedup.two_threads_s
    );
}

/// `n, min – max` of the gas of the moves named `name`.
fn gas_range(moves: &[MoveRecord], name: &str) -> String {
    let gas: Vec<u64> = moves
        .iter()
        .filter(|mv| mv.name == name && !mv.refused)
        .map(|mv| mv.gas)
        .collect();
    match (gas.iter().min(), gas.iter().max()) {
        (Some(min), Some(max)) => format!("{}, {min} – {max}", gas.len()),
        _ => "–".to_owned(),
    }
}
