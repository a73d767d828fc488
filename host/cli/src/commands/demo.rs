//! `opml demo`: the whole opML story, narrated. The contracts are deployed on an embedded EVM
//! (or a node), a requester posts a task, a server commits a wrong result with a bond, an
//! honest challenger re-runs the task, disputes it, and wins the bisection game down to one
//! instruction re-executed on chain; the bonds move.

use std::path::PathBuf;
use std::time::Instant;

use alloy_primitives::U256;
use anyhow::{Context, Result, bail, ensure};
use clap::{Args, ValueEnum};
use indicatif::ProgressBar;
use opml_agent::arena::GameEvent;
use opml_agent::scenario::{self, Adversary, Event, Scenario};
use opml_agent::{Conduct, Move, Party, Program, RegistryConfig};
use opml_chain::{Anvil, Chain, EmbeddedChain, RpcChain};
use opml_game::{Heights, PhaseConfig, Top};
use opml_graph::{GraphPhase, STEP_PROGRAM_ELF, STEP_PROGRAM_ID};
use opml_methods::{ECHO_ELF, GUESTS_BUILT, HASHBENCH_ELF, MNIST_ELF};
use opml_state::VmState;

use crate::guest_input::{read_file, read_input};
use crate::image;
use crate::json::hex;
use crate::progress;

/// Which side lies in the demo.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Liar {
    /// The server commits a wrong output.
    Server,
    /// A challenger disputes a correct output.
    Challenger,
}

/// How the liar plays.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Strategy {
    /// Every move by the rules, on its made-up trace.
    Play,
    /// Never answers the challenge.
    Silent,
    /// Commits child traces that do not follow its parent trace.
    Inconsistent,
    /// Tries to descend with a forged boundary state.
    ForgedDescent,
}

/// The task the demo disputes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Workload {
    /// Iterated SHA-256 (about 5,000 instructions per iteration).
    Hashbench,
    /// Reverses a short text.
    Echo,
    /// Classifies a real MNIST digit (or --image) with a built-in model (--model), disputed
    /// in two phases: graph nodes natively, one node in the VM (--one-phase: the whole model).
    Mnist,
    /// SmolLM2-135M-Instruct continues --prompt, disputed in two phases: the nodes of the
    /// whole generation natively, one node in the VM.
    Llm,
}

/// How the lying server of `--workload llm` departs from the true generation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum LlmLie {
    /// It changes one generated token (the second, or the only one) and carries on from it.
    Token,
    /// It is lazy: it skips the last transformer layer at every position.
    Lazy,
}

/// The built-in MNIST models.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum MnistModel {
    /// 784 → 64 → 10 MLP, f32.
    Mlp,
    /// The MLP, int8.
    MlpInt8,
    /// Small CNN, f32.
    Cnn,
    /// The CNN, int8.
    CnnInt8,
    /// Deep CNN (8 convolutions), f32: 1.6 × 10^9 instructions in the VM in one phase.
    CnnDeep,
}

impl MnistModel {
    fn model(self) -> mnist::Model {
        match self {
            MnistModel::Mlp => mnist::Model::Mlp,
            MnistModel::MlpInt8 => mnist::Model::MlpInt8,
            MnistModel::Cnn => mnist::Model::Cnn,
            MnistModel::CnnInt8 => mnist::Model::CnnInt8,
            MnistModel::CnnDeep => mnist::Model::CnnDeep,
        }
    }

    /// log2 of the VM steps that cover the model's largest node step (measured: the small
    /// models' take at most 8.6 × 10^6 instructions, the deep CNN's 2.5 × 10^8).
    fn largest_step_log2(self) -> u8 {
        match self {
            MnistModel::CnnDeep => 28,
            _ => 24,
        }
    }
}

/// Arguments of `opml demo`.
#[derive(Args)]
pub(crate) struct DemoArgs {
    /// The task.
    #[arg(long, value_enum, default_value_t = Workload::Hashbench)]
    workload: Workload,
    /// Dispute your own program instead of a built-in workload: a guest ELF, disputed in VM
    /// phases (--phases, default sized to its run) on --input.
    #[arg(long, value_name = "FILE", conflicts_with = "workload")]
    elf: Option<PathBuf>,
    /// The input of --elf (raw bytes, e.g. written by `opml codec encode -o`); `-` reads
    /// standard input. Default: empty.
    #[arg(long, short, value_name = "FILE", requires = "elf")]
    input: Option<PathBuf>,
    /// SHA-256 iterations of the hashbench task (20,000 is about 10^8 instructions).
    #[arg(long, default_value_t = 20_000)]
    iterations: u32,
    /// The MNIST model (--workload mnist).
    #[arg(long, value_enum, default_value_t = MnistModel::Cnn)]
    model: MnistModel,
    /// Which of the 64 built-in held-out MNIST digits to classify (--workload mnist).
    #[arg(long, default_value_t = 0, conflicts_with = "image")]
    digit: usize,
    /// Your own digit, a binary PGM or an 8-bit PNG of any size up to 4096×4096, either way
    /// round; it is prepared as the MNIST digits were (--workload mnist).
    #[arg(long, value_name = "FILE")]
    image: Option<PathBuf>,
    /// Dispute an MNIST task as one VM run of the whole model (the `mnist` guest) instead of
    /// the two-phase game (graph nodes computed natively, then one node in the VM).
    #[arg(long)]
    one_phase: bool,
    /// Phase heights, top first (e.g. `11,8,8`: 2^11 coarse steps of 2^16 instructions, then
    /// 2^8 of 2^8, then 2^8 single instructions). Default: three phases, the two lower of
    /// height 8, sized to the run.
    #[arg(long)]
    phases: Option<Heights>,
    /// The prompt (--workload llm).
    #[arg(long, default_value = "The capital of France is")]
    prompt: String,
    /// Tokens to generate (--workload llm).
    #[arg(long, default_value_t = 4)]
    tokens: u32,
    /// Wrap the prompt in the model's chat template (--workload llm; the template's ~30
    /// tokens make a longer generation).
    #[arg(long)]
    chat: bool,
    /// Sampling temperature; 0 is greedy (--workload llm).
    #[arg(long, default_value_t = 0.0)]
    temperature: f32,
    /// Seed of the sampler's random numbers (--workload llm).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// How the lying server departs (--workload llm).
    #[arg(long, value_enum, default_value_t = LlmLie::Token)]
    lie: LlmLie,
    /// The GGUF model (--workload llm; default: SmolLM2-135M-Instruct as
    /// toolchain/llm/install.sh installs it, or $OPML_GGUF).
    #[arg(long, value_name = "FILE")]
    gguf: Option<PathBuf>,
    /// Which side lies.
    #[arg(long, value_enum, default_value_t = Liar::Server)]
    liar: Liar,
    /// How the liar plays.
    #[arg(long, value_enum, default_value_t = Strategy::Play)]
    strategy: Strategy,
    /// The first step where the liar's trace departs from the true run (default: two thirds
    /// into the run).
    #[arg(long)]
    cheat_step: Option<u64>,
    /// Write the JSON report of the dispute here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Run on a local anvil (started and stopped by the demo) instead of the embedded EVM.
    #[arg(long, conflicts_with = "rpc_url")]
    anvil: bool,
    /// Run on this JSON-RPC node instead of the embedded EVM (needs --keys).
    #[arg(long, requires = "keys")]
    rpc_url: Option<String>,
    /// Four comma-separated private keys (hex) for the deployer, requester, server and
    /// challenger on --rpc-url. Also read from OPML_KEYS.
    #[arg(long, env = "OPML_KEYS", hide_env_values = true)]
    keys: Option<String>,
}

/// Runs the demo; fails unless the honest side wins and the books balance.
pub(crate) fn demo(args: DemoArgs) -> Result<u8> {
    if let Some(path) = &args.elf {
        let elf = read_file(path)?;
        let program =
            Program::new(&elf).with_context(|| format!("cannot load {}", path.display()))?;
        let input = read_input(args.input.as_deref())?;
        let name = format!(
            "{} on {} bytes of input",
            path.file_name()
                .unwrap_or(path.as_os_str())
                .to_string_lossy(),
            input.len()
        );
        return vm_demo(&args, program, input, name, None);
    }
    ensure!(
        GUESTS_BUILT,
        "this opml was built with OPML_SKIP_GUEST_BUILD set: no guests to demo"
    );
    if let Some(path) = &args.json {
        crate::out_path::check(path, "--json")?;
    }
    let mut claimed_output = None;
    let (program, input, name) = match args.workload {
        Workload::Hashbench => (
            Program::new(HASHBENCH_ELF)?,
            opml_codec::encode(&hashbench::Input {
                iterations: args.iterations,
                seed: [0; 32],
            })?,
            format!("hashbench ({} iterations of SHA-256)", args.iterations),
        ),
        Workload::Mnist => {
            let model = args.model.model();
            let (pixels, what) = digit_pixels(&args)?;
            let truth = mnist::classify(model, &pixels)
                .map_err(|error| anyhow::anyhow!("classifying: {error:?}"))?;
            println!("{}", ascii_digit(&pixels));
            // The lie: the runner-up class, with the true scores and commitment.
            let runner_up = runner_up(&truth.scores, truth.class);
            println!(
                "the model says {}; a lying server will claim {runner_up}",
                truth.class
            );
            if !args.one_phase {
                return graph_demo(&args, model, &pixels, &what, runner_up);
            }
            claimed_output = Some(
                mnist::Prediction {
                    class: runner_up,
                    ..truth
                }
                .encode()
                .to_vec(),
            );
            (
                Program::new(MNIST_ELF)?,
                mnist::input(model, &pixels),
                format!("MNIST {} on {what}, one phase", model.name()),
            )
        }
        Workload::Llm => return llm_demo(&args),
        Workload::Echo => {
            let mut input = vec![echo::MODE_RAW];
            input.extend_from_slice(b"optimistic machine learning on RISC-V");
            (
                Program::new(ECHO_ELF)?,
                input,
                "echo (reverses its input)".to_owned(),
            )
        }
    };
    vm_demo(&args, program, input, name, claimed_output)
}

/// A task of `program` on `input` disputed in VM phases (a built-in workload or --elf).
fn vm_demo(
    args: &DemoArgs,
    program: Program,
    input: Vec<u8>,
    name: String,
    claimed_output: Option<Vec<u8>>,
) -> Result<u8> {
    heading(&format!("The task: {name}"));
    println!("program ID {}", hex(&program.id()));
    let started = Instant::now();
    let mut machine = program.machine(&input)?;
    machine.run(u64::MAX);
    let steps = machine.step_count();
    println!(
        "the true run: {} after {steps} instructions ({:.2} s in the VM)",
        machine.status(),
        started.elapsed().as_secs_f64()
    );
    let config = match &args.phases {
        Some(heights) => heights.config(Top::Vm)?,
        None => default_phases(steps)?,
    };
    ensure!(
        config.total_steps() > steps,
        "phases {config} cover {} steps; the run needs more than {steps}",
        config.total_steps()
    );
    let cheat_step = args.cheat_step.unwrap_or(steps * 2 / 3).clamp(1, steps);
    let side = match args.liar {
        Liar::Server => Party::Claimant,
        Liar::Challenger => Party::Challenger,
    };
    let conduct = conduct(args.strategy, &config)?;
    describe_phases(&config);
    let scenario = Scenario {
        program,
        input,
        model: None,
        config,
        registry: RegistryConfig::default(),
        adversary: Some(Adversary {
            side,
            from_step: cheat_step,
            conduct,
        }),
        // Only a lying server claims an output; a lying challenger disputes the true one.
        claimed_output: claimed_output.filter(|_| side == Party::Claimant),
        late_join_s: 0,
        runs: Default::default(),
    };

    let mut narrator = Narrator::new(config, side, None, None);
    let report = run_story(args, &scenario, &mut narrator)?;
    verdict(args, &report)
}

/// `--workload mnist`, two phases: the model's graph computed natively, one node in the VM.
fn graph_demo(
    args: &DemoArgs,
    model: mnist::Model,
    pixels: &[u8],
    what: &str,
    runner_up: u8,
) -> Result<u8> {
    let input = mnist::graph_input(pixels);
    heading(&format!(
        "The task: MNIST {} on {what}, two phases",
        model.name()
    ));
    let started = Instant::now();
    let phase = GraphPhase::new(model.file(), &input)?;
    let m = phase.step_count();
    let output = phase
        .run()
        .output()
        .context("the model refused the digit (a build problem)")?;
    println!(
        "model root {}; node step program {}",
        hex(phase.run().model_root()),
        hex(&STEP_PROGRAM_ID)
    );
    println!(
        "the true run, natively on every core: {m} coarse steps (load, {} nodes, finish) in {:.1} ms",
        m - 2,
        started.elapsed().as_secs_f64() * 1e3
    );
    let (mut scores, _) = mnist::graph_output(output).context("the model's outputs")?;
    let mut claimed = output.to_vec();
    claimed[40..].copy_from_slice(&i32::from(runner_up).to_le_bytes());
    scores.iter_mut().for_each(|s| *s = s.clamp(-1e30, 1e30));
    let config = match &args.phases {
        Some(heights) => heights.config(Top::Program)?,
        None => graph_phases(m, args.model.largest_step_log2())?,
    };
    ensure!(
        config.len() >= 2 && config.height(0).is_some_and(|h| 1u64 << h >= m),
        "phases {config}: the graph phase (the first) needs 2^h ≥ {m} coarse steps, and a VM \
         phase below it"
    );
    let side = match args.liar {
        Liar::Server => Party::Claimant,
        Liar::Challenger => Party::Challenger,
    };
    // By default the liar alters the output of the node that reads the most data.
    let cheat_step = args
        .cheat_step
        .unwrap_or_else(|| phase.heaviest_step())
        .clamp(1, m);
    println!(
        "the liar departs at coarse step {cheat_step}: {}",
        phase.describe_step(cheat_step)
    );
    describe_graph_phases(&config, m);
    let scenario = Scenario {
        program: Program::new(STEP_PROGRAM_ELF)?,
        input,
        model: Some(model.file().into()),
        config,
        registry: RegistryConfig::default(),
        adversary: Some(Adversary {
            side,
            from_step: cheat_step,
            conduct: conduct(args.strategy, &config)?,
        }),
        claimed_output: Some(claimed).filter(|_| side == Party::Claimant),
        late_join_s: 0,
        runs: Default::default(),
    };
    let mut narrator = Narrator::new(config, side, Some(phase), None);
    let report = run_story(args, &scenario, &mut narrator)?;
    verdict(args, &report)
}

/// `--workload llm`: a real LLM's generation disputed in two phases.
fn llm_demo(args: &DemoArgs) -> Result<u8> {
    ensure!(
        args.liar == Liar::Server,
        "--workload llm plays a lying server (--liar server)"
    );
    let path = args.gguf.clone().unwrap_or_else(opml_llama::smollm2_path);
    let started = Instant::now();
    let bytes = std::fs::read(&path).with_context(|| {
        format!(
            "reading {} (install the model with `bash toolchain/llm/install.sh`)",
            path.display()
        )
    })?;
    let gguf = opml_gguf::Gguf::parse(&bytes)
        .with_context(|| format!("{} is not a valid GGUF file", path.display()))?;
    let llama = opml_llama::Llama::from_gguf(&gguf)?;
    let task = opml_llm::task::Task {
        chat: args.chat,
        tokens: args.tokens,
        sampling: opml_llm::sample::Sampling {
            temperature: args.temperature,
            top_k: 0,
            top_p: 1.0,
            seed: args.seed,
        },
        prompt: &args.prompt,
    };
    heading(&format!(
        "The task: {} continues {:?}{} with {} tokens, two phases",
        llama.name,
        args.prompt,
        if args.chat { " (chat)" } else { "" },
        args.tokens
    ));
    println!(
        "model {} ({} layers, d = {}, vocabulary {}) read in {:.2} s",
        path.display(),
        llama.blocks.len(),
        llama.dim,
        llama.vocab,
        started.elapsed().as_secs_f64()
    );
    // The phases first: a generation too long for a game is refused before it is run.
    let built = opml_llama::LlmGraph::build(&llama, &task)?;
    let m = built.labels.len() as u64 + 2;
    let config = match &args.phases {
        Some(heights) => heights.config(Top::Program)?,
        None => {
            let top = (64 - (m - 1).leading_zeros()).max(1) as u8;
            PhaseConfig::program(&[top, 14, 13]).map_err(|error| {
                anyhow::anyhow!(
                    "{m} coarse steps need a graph phase of 2^{top} leaves; with the node step \
                     program's 2^27 instructions below it, a game would cover more than 2^{} \
                     steps of VM work ({error}): shorten the prompt or the generation",
                    opml_game::MAX_PROGRAM_TOTAL_HEIGHT
                )
            })?
        }
    };
    ensure!(
        config.len() >= 2 && config.height(0).is_some_and(|h| 1u64 << h >= m),
        "phases {config}: the graph phase (the first) needs 2^h ≥ {m} coarse steps, and a VM \
         phase below it"
    );
    let started = Instant::now();
    let honest = opml_llama::Generation::of(built.clone(), None)?;
    let graph = &honest.graph;
    ensure!(
        honest.run().step_count() == m,
        "the run has {} coarse steps, its graph {m}",
        honest.run().step_count()
    );
    ensure!(
        honest.run().refusal().is_none(),
        "the task is refused: {:?}",
        honest.run().refusal()
    );
    println!(
        "the true run, natively on every core: {} prompt tokens + {} generated = {} positions, \
         {m} coarse steps (tokenize, every layer's every op at every position, sample) in {:.2} s",
        graph.prompt_tokens,
        args.tokens,
        graph.positions,
        started.elapsed().as_secs_f64()
    );
    println!(
        "model root {} (the weights, the tokenizer and this generation's graph); node step program {}",
        hex(honest.run().model_root()),
        hex(&STEP_PROGRAM_ID)
    );
    let lie = match args.lie {
        LlmLie::Token => opml_llama::Lie::Token {
            position: graph.prompt_tokens + args.tokens.min(2) - 1,
        },
        LlmLie::Lazy => opml_llama::Lie::SkipLayer {
            layer: llama.blocks.len() as u32 - 1,
        },
    };
    let liar = opml_llama::Generation::of(built, Some(lie))?;
    let (truth, lies) = (honest.generated(), liar.generated());
    println!("  true continuation:  {:?}", honest.text(&llama));
    println!(
        "  lying continuation: {:?} ({})",
        liar.text(&llama),
        match lie {
            opml_llama::Lie::Token { position } => format!("token {position} changed"),
            opml_llama::Lie::SkipLayer { layer } => format!("layer {layer} skipped"),
        }
    );
    if let Some(i) = (0..truth.len()).find(|&i| truth.get(i) != lies.get(i)) {
        println!(
            "  the tokens first differ at position {}: {} vs {}",
            graph.prompt_tokens as usize + i,
            truth[i],
            lies.get(i).copied().unwrap_or(0)
        );
    }
    let departs = (0..m)
        .find(|&i| honest.run().state(i) != liar.run().state(i))
        .context("the lying run equals the true one")?;
    println!(
        "the liar departs at coarse step {departs}: node {}: {}",
        departs - 2,
        graph.describe(departs as u32 - 2)
    );
    describe_graph_phases(&config, m);
    let claimed = liar
        .run()
        .output()
        .context("the lying run finishes")?
        .to_vec();
    let scenario = Scenario {
        program: Program::new(STEP_PROGRAM_ELF)?,
        input: graph.input.clone(),
        model: Some(std::sync::Arc::from(&graph.file[..])),
        config,
        // The window and the clocks cover the phases' steps at the registry's VM rate.
        registry: RegistryConfig {
            challenge_window: 2 * 86_400,
            game_clock: 7 * 86_400,
            ..RegistryConfig::default()
        },
        adversary: Some(Adversary {
            side: Party::Claimant,
            from_step: departs,
            conduct: conduct(args.strategy, &config)?,
        }),
        claimed_output: Some(claimed),
        late_join_s: 0,
        runs: opml_agent::GraphRuns {
            honest: Some(honest.phase.clone()),
            lying: Some(liar.phase.clone()),
        },
    };
    let labels = graph.labels.clone();
    let name = move |j: u64| {
        let k = j.checked_sub(2).and_then(|k| labels.get(k as usize));
        k.map(ToString::to_string)
    };
    let mut narrator = Narrator::new(
        config,
        Party::Claimant,
        Some(honest.phase.clone()),
        Some(Box::new(name)),
    );
    let report = run_story(args, &scenario, &mut narrator)?;
    verdict(args, &report)
}

/// Plays `scenario` on the chain the arguments choose.
fn run_story(
    args: &DemoArgs,
    scenario: &Scenario,
    narrator: &mut Narrator,
) -> Result<opml_agent::DisputeReport> {
    if args.anvil {
        let anvil = Anvil::spawn()?;
        heading(&format!("The chain: anvil at {}", anvil.url()));
        run_on(&mut anvil.connect()?, scenario, narrator)
    } else if let Some(url) = &args.rpc_url {
        let keys = args
            .keys
            .as_deref()
            .unwrap_or_default()
            .split(',')
            .map(|key| opml_chain::rpc::parse_key(key.trim()))
            .collect::<Result<Vec<_>, _>>()?;
        ensure!(
            keys.len() >= 4,
            "--keys needs four keys (deployer, requester, server, challenger)"
        );
        heading(&format!("The chain: {url}"));
        run_on(&mut RpcChain::connect(url, &keys)?, scenario, narrator)
    } else {
        heading("The chain: an embedded EVM (revm, Cancun), in this process");
        run_on(&mut EmbeddedChain::new(), scenario, narrator)
    }
}

/// Prints the verdict and the books; fails unless the honest side won and every wei is
/// accounted for.
fn verdict(args: &DemoArgs, report: &opml_agent::DisputeReport) -> Result<u8> {
    heading("Verdict");
    let game = report
        .game
        .as_ref()
        .context("the result was not disputed")?;
    println!(
        "{} wins ({}), after {} moves: {} by the server ({} gas), {} by the challenger ({} gas)",
        match game.winner {
            Party::Challenger => "the challenger",
            _ => "the server",
        },
        if game.by_timeout {
            "the other side ran out of time"
        } else {
            "the step proof"
        },
        game.moves.len(),
        game.claimant.txs,
        game.claimant.gas,
        game.challenger.txs,
        game.challenger.gas,
    );
    let ledger = &report.ledger;
    for (role, flow) in [
        ("requester", &ledger.requester),
        ("server", &ledger.server),
        ("challenger", &ledger.challenger),
        ("2nd server", &ledger.second_server),
    ] {
        println!(
            "  {role:<10} paid {:>9}  withdrew {:>9}",
            ether(&flow.paid),
            ether(&flow.withdrawn)
        );
    }
    println!(
        "  burned: {}; registry balance after: {}",
        ether(&ledger.burned),
        ether(&ledger.registry_balance_after)
    );
    println!(
        "task {}; wall time {:.2} s (execution {:.2} s)",
        if report.finalized {
            "finalized: the result stands"
        } else {
            "rejected in round 0 (the wrong result is slashed), reopened and finalized in round 1"
        },
        report.wall_s,
        report.execute_s
    );
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(report)? + "\n")
            .with_context(|| format!("writing {}", path.display()))?;
        println!("report written to {}", path.display());
    }
    ensure!(report.honest_won, "the honest side lost");
    ensure!(
        ledger.registry_balance_after == ledger.burned,
        "the registry kept {} wei, but burned {}",
        ledger.registry_balance_after,
        ledger.burned
    );
    println!("\nThe honest side won and every wei is accounted for.");
    Ok(0)
}

fn run_on(
    chain: &mut dyn Chain,
    scenario: &Scenario,
    narrator: &mut Narrator,
) -> Result<opml_agent::DisputeReport> {
    Ok(scenario::run(chain, scenario, &mut |event| {
        narrator.event(event)
    })?)
}

/// The liar's conduct for `strategy` in games of `config`.
fn conduct(strategy: Strategy, config: &PhaseConfig) -> Result<Conduct> {
    Ok(match strategy {
        Strategy::Play => Conduct::Honest,
        Strategy::Silent => Conduct::SilentAfter { moves: 0 },
        Strategy::Inconsistent if config.len() > 1 => Conduct::Inconsistent { phase: 1 },
        Strategy::ForgedDescent if config.len() > 1 => Conduct::ForgedDescent,
        Strategy::Inconsistent | Strategy::ForgedDescent => {
            bail!("--strategy {strategy:?} needs at least two phases")
        }
    })
}

/// The digit to classify: `--image` prepared as MNIST was, or a built-in held-out digit; and
/// what it is, in words.
fn digit_pixels(args: &DemoArgs) -> Result<(Vec<u8>, String)> {
    if let Some(path) = &args.image {
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let gray = image::read(&bytes).with_context(|| format!("reading {}", path.display()))?;
        let prepared = image::prepare::mnist(&gray)
            .with_context(|| format!("preparing {}", path.display()))?;
        if prepared.inverted {
            println!("the image is a dark digit on a light background; inverted it");
        }
        println!("{}", prepared.describe());
        return Ok((prepared.pixels, format!("your image {}", path.display())));
    }
    let (label, pixels) = mnist::digit(args.digit)
        .with_context(|| format!("--digit {}: there are 64 (0..=63)", args.digit))?;
    Ok((
        pixels.to_vec(),
        format!("held-out MNIST digit #{} (a {label})", args.digit),
    ))
}

/// The class with the highest score but `class`'s.
fn runner_up(scores: &[f32; 10], class: u8) -> u8 {
    (0..10u8)
        .filter(|&c| c != class)
        .max_by(|&a, &b| scores[usize::from(a)].total_cmp(&scores[usize::from(b)]))
        .unwrap_or(0)
}

/// The graph phase over `m` coarse steps, then two VM phases splitting the `2^vm_log2`
/// instructions that cover the largest node step program's run.
fn graph_phases(m: u64, vm_log2: u8) -> Result<PhaseConfig> {
    let top = (64 - (m - 1).leading_zeros()).max(1) as u8;
    Ok(PhaseConfig::program(&[
        top,
        vm_log2 / 2,
        vm_log2 - vm_log2 / 2,
    ])?)
}

fn describe_graph_phases(config: &PhaseConfig, m: u64) {
    let lower = phase_parts(config, 1);
    println!(
        "dispute game: {} phases: the graph phase over {m} coarse steps (2^{} leaves, computed natively), then the node step program's run in the VM: {}",
        config.len(),
        config.height(0).unwrap_or(0),
        lower.join(", then ")
    );
}

/// The phases sized to a run of `steps`: past 2^18 steps three, the lower two of height 8 and
/// the top covering the rest; otherwise two of about half the height each (`opml demo`,
/// `opml fixture`).
pub(crate) fn default_phases(steps: u64) -> Result<PhaseConfig> {
    Ok(opml_agent::default_phases(steps)?)
}

/// Phases `from..` of `config` in words: "2^12 steps of 2^12 instructions", ….
fn phase_parts(config: &PhaseConfig, from: usize) -> Vec<String> {
    (from..config.len())
        .map(|p| {
            let stride = config.stride(p).unwrap_or(1);
            format!(
                "2^{} steps of {}",
                config.height(p).unwrap_or(0),
                if stride == 1 {
                    "1 instruction".to_owned()
                } else {
                    format!("2^{} instructions", stride.trailing_zeros())
                }
            )
        })
        .collect()
}

fn describe_phases(config: &PhaseConfig) {
    let k = config.len();
    let parts = phase_parts(config, 0);
    println!(
        "dispute game: {k} phase{} over 2^{} instructions: {}",
        if k == 1 { "" } else { "s" },
        config.total_steps().trailing_zeros(),
        parts.join(", then ")
    );
}

/// The instruction at `pc`, disassembled from the step proof's first item: the fetch leaf
/// (`docs/vm-spec.md`, "Step proof"), whose 32 bytes come first.
fn fetched_instruction(proof: &[u8], pc: u32) -> String {
    let at = (pc % 32) as usize;
    let Some(word) = proof.get(at..at + 4) else {
        return "?".to_owned();
    };
    let word = u32::from_le_bytes([word[0], word[1], word[2], word[3]]);
    opml_isa::decode(word).to_string()
}

/// A 28×28 gray image as text, two characters per pixel.
fn ascii_digit(pixels: &[u8]) -> String {
    pixels
        .chunks(image::SIDE)
        .map(|row| {
            row.iter()
                .map(|&p| match p {
                    0..=63 => "  ",
                    64..=127 => "..",
                    128..=191 => "++",
                    _ => "##",
                })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn heading(text: &str) {
    println!("\n== {text}");
}

/// Wei as ether, with up to four decimals.
fn ether(wei: &str) -> String {
    let wei: U256 = wei.parse().unwrap_or_default();
    let milli = wei / U256::from(10u64).pow(U256::from(14u64));
    let milli = u64::try_from(milli).unwrap_or(u64::MAX);
    format!("{}.{:04} ETH", milli / 10_000, milli % 10_000)
}

/// Prints the story as it happens, with a progress bar per bisection phase.
struct Narrator {
    config: PhaseConfig,
    liar: Party,
    bar: Option<(usize, ProgressBar)>,
    /// A graph task's run, to name the disputed node.
    graph: Option<GraphPhase>,
    /// What a graph's coarse step computes, in the task's own words (an LLM's position,
    /// layer and op).
    names: Option<StepNames>,
}

/// Names a graph's coarse steps.
type StepNames = Box<dyn Fn(u64) -> Option<String>>;

impl Narrator {
    fn new(
        config: PhaseConfig,
        liar: Party,
        graph: Option<GraphPhase>,
        names: Option<StepNames>,
    ) -> Narrator {
        Narrator {
            config,
            liar,
            bar: None,
            graph,
            names,
        }
    }

    fn say(&self, line: String) {
        match &self.bar {
            Some((_, bar)) if !bar.is_hidden() => bar.println(line),
            _ => println!("{line}"),
        }
    }

    fn finish_bar(&mut self) {
        if let Some((_, bar)) = self.bar.take() {
            bar.finish_and_clear();
        }
    }

    fn event(&mut self, event: &Event<'_>) {
        match event {
            Event::Deployed(c) => self.say(format!(
                "deployed RiscvStep {}, InputOracle {}, DisputeGame {}, TaskRegistry {}",
                c.verifier, c.oracle, c.game, c.registry
            )),
            Event::Executed { steps, output } => self.say(format!(
                "server and challenger each ran the task: {steps} {}, output {}",
                if self.graph.is_some() {
                    "coarse steps natively"
                } else {
                    "steps"
                },
                hex(output)
            )),
            Event::TaskPosted {
                task_id,
                input_commitment,
            } => {
                heading("The opML flow");
                self.say(match &self.graph {
                    Some(graph) => format!(
                        "requester posted task #{task_id}: model {} on its input (task word {}), with a 0.1 ETH fee",
                        hex(graph.run().model_root()),
                        hex(input_commitment)
                    ),
                    None => format!(
                        "requester published the input (commitment {}) and posted task #{task_id} with a 0.1 ETH fee",
                        hex(input_commitment)
                    ),
                });
            }
            Event::ResultCommitted { output, honest } => self.say(format!(
                "server committed {} output {} with a 1 ETH bond",
                if *honest { "the true" } else { "a WRONG" },
                hex(output)
            )),
            Event::NoDispute => self.say("challenger agrees with the result".to_owned()),
            Event::Challenged { game_id } => self.say(format!(
                "challenger's final state differs{}: it opens dispute game #{game_id} with a 1 ETH bond",
                if self.liar == Party::Challenger {
                    " (it is lying)"
                } else {
                    ""
                }
            )),
            Event::Game(event) => self.game_event(event),
            Event::Settled { challenger_won } => {
                self.finish_bar();
                self.say(format!(
                    "registry settled the dispute: {}",
                    if *challenger_won {
                        "round 0 rejected: the server's bond is split (25% to the requester, 25% burned, 50% to the winners' pool) and the task reopens"
                    } else {
                        "the challenger's bond goes to the server; after the window the result finalizes"
                    }
                ));
            }
            Event::Rejected {
                to_requester,
                burned,
                to_challenger,
            } => self.say(format!(
                "requester credited {} compensation, {} burned; the challenger collected {} (its bond and the pool)",
                ether(&to_requester.to_string()),
                ether(&burned.to_string()),
                ether(&to_challenger.to_string())
            )),
            Event::Recommitted => self.say(
                "an honest server committed the true result in round 1; after the window it finalized"
                    .to_owned(),
            ),
            Event::Withdrawn { role, amount } => {
                self.say(format!("{role} withdrew {}", ether(&amount.to_string())))
            }
        }
    }

    fn game_event(&mut self, event: &GameEvent<'_>) {
        match event {
            GameEvent::Moved {
                side,
                mv,
                before,
                gas,
            } => {
                let who = side_name(*side);
                match mv {
                    Move::CommitRoot { .. } => {
                        self.say(format!("{who} commits its trace root ({gas} gas)"));
                    }
                    Move::Reveal { .. } => {
                        if self.bar.as_ref().map(|(p, _)| *p) != Some(before.phase) {
                            self.finish_bar();
                            heading(&format!(
                                "Phase {}/{}: bisection over {} leaves",
                                before.phase + 1,
                                self.config.len(),
                                1u64 << self.config.height(before.phase).unwrap_or(0)
                            ));
                            let bar = progress::levels_bar(u64::from(before.height));
                            self.bar = Some((before.phase, bar));
                        }
                        if *side == Party::Claimant
                            && let Some((_, bar)) = &self.bar
                        {
                            bar.inc(1);
                        }
                    }
                    Move::Descend { .. } => {
                        let stride = self.config.stride(before.phase).unwrap_or(1);
                        self.say(format!(
                            "{who} descends into coarse step [{}, {}] ({gas} gas){}",
                            before.position,
                            before.position + stride,
                            if *side == Party::Challenger {
                                ", proving its child trace ends at its own parent leaf"
                            } else {
                                ""
                            }
                        ));
                    }
                    Move::DescendProgram { .. } => {
                        let j = before.position + 1;
                        let named = self.names.as_ref().and_then(|name| name(j));
                        let described = self.graph.as_ref().map(|g| match named {
                            Some(name) => format!("{name}; {}", g.describe_step(j)),
                            None => g.describe_step(j),
                        });
                        if *side == Party::Challenger
                            && let Some(described) = described
                        {
                            self.finish_bar();
                            heading(&format!("The disputed coarse step {j}: {described}"));
                        }
                        self.say(format!(
                            "{who} descends into the step program's run of coarse step {j} ({gas} gas)",
                        ));
                    }
                    Move::Step {
                        state_data, proof, ..
                    } => {
                        self.finish_bar();
                        let pc = VmState::decode(state_data).map(|s| s.pc).unwrap_or(0);
                        self.say(format!(
                            "{who} proves instruction {} (pc {pc:#010x}: `{}`) on chain: RiscvStep re-executes it ({gas} gas)",
                            before.position,
                            fetched_instruction(proof, pc)
                        ));
                    }
                    Move::Timeout => self.say(format!("{who} claims the timeout ({gas} gas)")),
                }
            }
            GameEvent::Refused { side, mv, error } => self.say(format!(
                "{} tried {} and the game refused it: {error}",
                side_name(*side),
                mv.name()
            )),
            GameEvent::Waited { silent, seconds } => self.say(format!(
                "{} is silent; {seconds} s pass on the chain's clock",
                side_name(*silent)
            )),
            GameEvent::Resolved { record } => {
                self.finish_bar();
                self.say(format!("game over: {} wins", side_name(record.winner)));
            }
        }
    }
}

fn side_name(side: Party) -> &'static str {
    match side {
        Party::Claimant => "server",
        Party::Challenger => "challenger",
        Party::None => "nobody",
    }
}
