//! The opML roles on a node, each its own process: `opml deploy` (the contracts), `opml request`
//! (a requester posting a task: a program's, or with `--model` a DNN model's graph task),
//! `opml serve` (a server) and `opml challenge` (a challenger), each given programs (`--elf`)
//! and models (`--model`) whose tasks it takes on.
//!
//! Every command sends from one account, whose private key comes from `--key` or from the
//! `OPML_KEY` environment variable (which keeps it out of `ps`). The services poll the node and
//! print what they do, a line each, and their backlog when it changes; they never move the
//! node's clock. A node that fails is retried with backoff, never a reason to exit; only a
//! configuration error (no key for the account) stops a service.

use std::io::Write;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::{Duration, Instant};

use alloy_primitives::{Address, U256};
use anyhow::{Context, Result, bail, ensure};
use clap::Args;
use opml_agent::models::llm_graph;
use opml_agent::roles::{self, GraphRequest, TaskRequest};
use opml_agent::service::{Challenger, Server, Service, default_job_limit, stops_service};
use opml_agent::{Contracts, ModelStore, Program, RegistryConfig};
use opml_chain::rpc::parse_key;
use opml_chain::{Chain, PrivateKeySigner, RpcChain};
use opml_game::{Heights, MAX_TOTAL_HEIGHT, PhaseConfig, Top};
use serde_json::json;

use crate::commands::demo::default_phases;
use crate::guest_input::{read_file, read_input, read_preimages};
use crate::json::hex;
use crate::progress;

/// The node, for the commands that only read it.
#[derive(Args)]
pub(crate) struct RpcArgs {
    /// The JSON-RPC node (`http://` only).
    #[arg(long, value_name = "URL")]
    rpc_url: String,
}

impl RpcArgs {
    /// Connects to the node, able to send from the accounts of `keys`.
    pub(crate) fn connect_with(&self, keys: &[PrivateKeySigner]) -> Result<RpcChain> {
        RpcChain::connect(&self.rpc_url, keys)
            .with_context(|| format!("cannot reach the node at {}", self.rpc_url))
    }
}

/// The node, and the key of the account that sends.
#[derive(Args)]
pub(crate) struct NodeArgs {
    #[command(flatten)]
    rpc: RpcArgs,
    /// The private key (hex) of the account to send from. Also read from OPML_KEY.
    #[arg(long, env = "OPML_KEY", hide_env_values = true, value_name = "HEX")]
    key: String,
}

impl NodeArgs {
    /// Connects to the node; returns the chain and the account of the key.
    pub(crate) fn connect(&self) -> Result<(RpcChain, Address)> {
        let key = parse_key(&self.key).context("bad --key (or OPML_KEY)")?;
        let account = key.address();
        Ok((self.rpc.connect_with(&[key])?, account))
    }
}

/// Arguments of `opml deploy`.
#[derive(Args)]
pub(crate) struct DeployArgs {
    #[command(flatten)]
    node: NodeArgs,
    /// Bond a server posts with a result, in wei.
    #[arg(long, value_name = "WEI", default_value_t = RegistryConfig::default().server_bond)]
    server_bond: U256,
    /// Bond a challenger posts with a dispute, in wei.
    #[arg(long, value_name = "WEI", default_value_t = RegistryConfig::default().challenger_bond)]
    challenger_bond: U256,
    /// Seconds after a result during which it may be disputed.
    #[arg(long, value_name = "N", default_value_t = RegistryConfig::default().challenge_window)]
    window_s: u64,
    /// Chess-clock budget of each side of a dispute, in seconds.
    #[arg(long, value_name = "N", default_value_t = RegistryConfig::default().game_clock)]
    clock_s: u64,
}

/// Deploys the contract suite; prints the addresses and parameters as JSON.
pub(crate) fn deploy(args: DeployArgs) -> Result<u8> {
    let (mut chain, account) = args.node.connect()?;
    let config = RegistryConfig {
        server_bond: args.server_bond,
        challenger_bond: args.challenger_bond,
        challenge_window: args.window_s,
        game_clock: args.clock_s,
    };
    let contracts =
        Contracts::deploy(&mut chain, account, config).context("cannot deploy the contracts")?;
    let report = json!({
        "chain_id": chain.chain_id(),
        "deployer": account.to_string(),
        "verifier": contracts.verifier.to_string(),
        "oracle": contracts.oracle.to_string(),
        "game": contracts.game.to_string(),
        "registry": contracts.registry.to_string(),
        "server_bond": config.server_bond.to_string(),
        "challenger_bond": config.challenger_bond.to_string(),
        "window_s": config.challenge_window,
        "clock_s": config.game_clock,
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(0)
}

/// `opml request --help`'s example of a graph task.
const GRAPH_EXAMPLE: &str = "Example, a graph task: digit 0 (the graph inputs' raw bytes) for \
the small int8 CNN, whose 11 coarse steps the top phase holds and whose nodes' step program \
runs the lower phases hold:
  opml request --rpc-url http://127.0.0.1:8545 --registry 0x… \\
    --model toolchain/model/models/cnn-int8.opml --input digit0.bin --phases 4,11,11

Example, an LLM task: a llama GGUF model continues a prompt with 4 tokens, sampled at
temperature 0.7 among the 40 likeliest; the task's graph (the whole generation) and its model
root are derived from the GGUF file and the task, and the phases are the smallest that fit.
With SmolLM2-135M (largest node step about 10^8 instructions), a task of up to about 15
positions fits the game's 40 levels; a longer one (a chat prompt) is refused before posting:
  opml request --rpc-url http://127.0.0.1:8545 --registry 0x… \\
    --gguf toolchain/llm/cache/SmolLM2-135M-Instruct.Q4_1.gguf \\
    --prompt \"The capital of France is\" --tokens 4 --temperature 0.7 --top-k 40 --seed 1";

/// `opml serve --help` and `opml challenge --help`'s examples.
const SERVICE_EXAMPLES: &str = "Examples:
  opml serve --rpc-url http://127.0.0.1:8545 --registry 0x… --elf guest.elf
  opml serve --rpc-url http://127.0.0.1:8545 --registry 0x… \\
    --model toolchain/model/models/cnn-int8.opml --gguf model.gguf
  opml challenge --rpc-url http://127.0.0.1:8545 --registry 0x… --gguf model.gguf --until-idle";

/// Arguments of `opml request`: a VM task (`--elf`: a program on an input published in the
/// input oracle) or a graph task (`--model`: a DNN model run on input bytes carried by the
/// posting itself, disputed over the graph's coarse steps and the node step program), for
/// example ([`GRAPH_EXAMPLE`]):
///
/// ```text
/// opml request --rpc-url http://127.0.0.1:8545 --registry 0x… \
///   --model toolchain/model/models/cnn-int8.opml --input digit0.bin --phases 4,11,11
/// ```
#[derive(Args)]
#[command(after_help = GRAPH_EXAMPLE)]
pub(crate) struct RequestArgs {
    #[command(flatten)]
    node: NodeArgs,
    /// The task registry (`opml deploy` prints it).
    #[arg(long, value_name = "ADDR")]
    registry: Address,
    /// The program to run: a static RV32IM ELF executable.
    #[arg(long, value_name = "FILE", required_unless_present_any = ["model", "gguf"])]
    elf: Option<PathBuf>,
    /// Post a graph task of this model (an `.opml` file; on chain, its model root) instead of
    /// a program's task: the input is the graph inputs' raw bytes, in the model's input order.
    #[arg(long, value_name = "FILE", conflicts_with = "elf")]
    model: Option<PathBuf>,
    /// Post an LLM task of this llama GGUF model (SmolLM2) instead: a graph task over the
    /// whole generation, whose model root is derived from the model and the task (--prompt,
    /// --tokens, ...) and whose input is the task's record.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["elf", "model", "input"], requires = "prompt")]
    gguf: Option<PathBuf>,
    /// The LLM task's prompt (with --gguf).
    #[arg(long, value_name = "TEXT", requires = "gguf")]
    prompt: Option<String>,
    /// Tokens the LLM generates after the prompt (with --gguf).
    #[arg(long, value_name = "N", default_value_t = 16, requires = "gguf")]
    tokens: u32,
    /// Wrap the prompt in the model's chat template, as a user message (with --gguf).
    #[arg(long, requires = "gguf")]
    chat: bool,
    /// Sampling temperature; 0 picks the likeliest token (with --gguf).
    #[arg(long, value_name = "T", default_value_t = 0.0, requires = "gguf")]
    temperature: f32,
    /// Sample among the K likeliest tokens only; 0: all (with --gguf).
    #[arg(long, value_name = "K", default_value_t = 0, requires = "gguf")]
    top_k: u32,
    /// Sample among the likeliest tokens of total probability P, in (0, 1] (with --gguf).
    #[arg(long, value_name = "P", default_value_t = 1.0, requires = "gguf")]
    top_p: f32,
    /// The sampler's seed (with --gguf).
    #[arg(long, value_name = "S", default_value_t = 0, requires = "gguf")]
    seed: u64,
    /// The task's input (raw bytes); `-` reads standard input. Default: empty.
    #[arg(short, long, value_name = "FILE")]
    input: Option<PathBuf>,
    /// Phase heights of the task's dispute games, top first, or `auto`: the smallest that fit
    /// a dry run of the task, run here before anything is posted. Given heights must cover
    /// the run (`20,10`: 2^30 instructions), or the request is refused: a task whose run does
    /// not fit gets no result, and its fee stays locked until the deadline. A graph task's
    /// top phase holds its coarse steps (2^h of them) and needs a phase below it for the
    /// longest node step program's run (re-done in the VM here: about the model's cost in the
    /// VM).
    #[arg(long, value_name = "H,H,…|auto", default_value = "auto")]
    phases: Phases,
    /// Preimages of the guest's data oracle, for the dry run (a file of 64-byte records, as
    /// `opml run --preimages`). Default: none.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["model", "gguf"])]
    preimages: Option<PathBuf>,
    /// The fee, in wei.
    #[arg(long, value_name = "WEI", default_value_t = U256::ZERO)]
    fee: U256,
    /// Seconds of chain time until the deadline for a result.
    #[arg(long, value_name = "N", default_value_t = 86_400)]
    deadline_s: u64,
    /// Print the task as JSON (id, program ID, input commitment, ...) instead of its id.
    #[arg(long)]
    json: bool,
}

/// Publishes the input and posts the task (or posts the graph task); prints the task id.
pub(crate) fn request(args: RequestArgs) -> Result<u8> {
    if let Some(gguf) = &args.gguf {
        return request_llm(&args, gguf);
    }
    if let Some(model) = &args.model {
        return request_graph(&args, model);
    }
    let elf = args
        .elf
        .as_deref()
        .context("--elf or --model is required")?;
    let program = load_program(elf)?;
    let input = read_input(args.input.as_deref())?;
    let (phases, steps) = vm_phases(&program, &input, args.preimages.as_deref(), &args.phases)?;
    let (mut chain, account) = args.node.connect()?;
    let contracts = registry(&mut chain, args.registry)?;
    let commitment = roles::publish_input(&mut chain, &contracts, account, &input)
        .context("cannot publish the input")?;
    let deadline = chain.timestamp()?.saturating_add(args.deadline_s);
    let request = TaskRequest {
        program_id: program.id(),
        input_commitment: commitment,
        config: phases,
        fee: args.fee,
        deadline,
    };
    let task_id = roles::post_task(&mut chain, &contracts, account, &request)
        .context("cannot post the task")?;
    if args.json {
        let report = json!({
            "task_id": task_id,
            "registry": contracts.registry.to_string(),
            "requester": account.to_string(),
            "program_id": hex(&program.id()),
            "input_commitment": hex(&commitment),
            "input_len": input.len(),
            "steps": steps,
            "phases": phases.heights(),
            "fee": args.fee.to_string(),
            "deadline": deadline,
        });
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{task_id}");
    }
    Ok(0)
}

/// Posts a graph task of the model in the file `model` on the input of `args`; prints the task
/// id.
fn request_graph(args: &RequestArgs, model: &std::path::Path) -> Result<u8> {
    let file = read_file(model)?;
    let model_root =
        ModelStore::root_of(&file).with_context(|| format!("cannot load {}", model.display()))?;
    let input = read_input(args.input.as_deref())?;
    let phases = graph_phases(&file, &input, &args.phases)?;
    post_graph(args, model_root, input, phases, json!({}))
}

/// Posts the graph task of `model_root` on `input` under `phases`; prints its id (or, with
/// --json, a report with `extra`'s fields too).
fn post_graph(
    args: &RequestArgs,
    model_root: [u8; 32],
    input: Vec<u8>,
    phases: PhaseConfig,
    extra: serde_json::Value,
) -> Result<u8> {
    let (mut chain, account) = args.node.connect()?;
    let contracts = registry(&mut chain, args.registry)?;
    let deadline = chain.timestamp()?.saturating_add(args.deadline_s);
    let request = GraphRequest {
        step_program: opml_graph::STEP_PROGRAM_ID,
        model_root,
        input,
        config: phases,
        fee: args.fee,
        deadline,
    };
    let task_id = roles::post_graph_task(&mut chain, &contracts, account, &request)
        .context("cannot post the graph task")?;
    if args.json {
        let mut report = json!({
            "task_id": task_id,
            "kind": "graph",
            "registry": contracts.registry.to_string(),
            "requester": account.to_string(),
            "model_root": hex(&model_root),
            "step_program": hex(&request.step_program),
            "input_len": request.input.len(),
            "phases": phases.heights(),
            "fee": args.fee.to_string(),
            "deadline": deadline,
        });
        if let (Some(report), serde_json::Value::Object(extra)) = (report.as_object_mut(), extra) {
            report.extend(extra);
        }
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{task_id}");
    }
    Ok(0)
}

/// `--phases` of `opml request`: heights, or the smallest that fit a dry run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Phases {
    /// The smallest phases that fit a dry run of the task (`auto`).
    Auto,
    /// These heights, top first (`20,10`), checked against a dry run of the task.
    Heights(Heights),
}

impl FromStr for Phases {
    type Err = String;

    fn from_str(s: &str) -> Result<Phases, String> {
        match s.trim() {
            "auto" => Ok(Phases::Auto),
            heights => heights
                .parse()
                .map(Phases::Heights)
                .map_err(|error| format!("{error}, or `auto`")),
        }
    }
}

impl Phases {
    /// The configuration of given heights over a `top` phase; `None` for `auto`.
    fn fixed(&self, top: Top) -> Result<Option<PhaseConfig>> {
        match self {
            Phases::Auto => Ok(None),
            Phases::Heights(heights) => heights
                .config(top)
                .map(Some)
                .with_context(|| format!("--phases {heights}")),
        }
    }
}

/// The phases of a VM task of `program` on `input`, and the steps of its run, from a dry run
/// of it (with the data oracle's `preimages`): with `auto`, the smallest phases whose games
/// cover the run; given heights, refused unless the run halts within their `2^Σh` steps (the
/// registry refuses a longer result, so the task would get none and its fee stay locked until
/// the deadline).
fn vm_phases(
    program: &Program,
    input: &[u8],
    preimages: Option<&std::path::Path>,
    requested: &Phases,
) -> Result<(PhaseConfig, u64)> {
    let fixed = requested.fixed(Top::Vm)?;
    let limit = fixed.map_or(1 << MAX_TOTAL_HEIGHT, |config| config.total_steps());
    let mut machine = program.machine(input)?;
    if let Some(path) = preimages {
        machine.set_preimages(read_preimages(path)?);
    }
    let started = Instant::now();
    let bar = progress::steps_bar(None, "dry run");
    let status = progress::run(&mut machine, limit, bar).context(
        "the dry run of the task failed (a guest that reads through the data oracle needs \
         --preimages)",
    )?;
    let steps = machine.step_count();
    let config = match fixed {
        Some(config) => {
            ensure!(
                status.is_halted(),
                "--phases {config}: the task's games cover 2^{} = {limit} steps, but its run \
                 does not halt within them, so no server could commit a result; give larger \
                 phases, or `--phases auto` to size them from the run (nothing was posted)",
                config.total_height()
            );
            config
        }
        None => {
            ensure!(
                status.is_halted(),
                "the task's run does not halt within 2^{MAX_TOTAL_HEIGHT} steps, the most a \
                 task's games cover (nothing was posted)"
            );
            smallest_vm_phases(steps)?
        }
    };
    eprintln!(
        "dry run: {status} after {steps} steps ({:.1} s); phases {config} cover 2^{} steps",
        started.elapsed().as_secs_f64(),
        config.total_height()
    );
    Ok((config, steps))
}

/// The smallest phases of a VM task whose run takes `steps` (`2^Σh ≥ steps`, and `Σh ≥ 2`), in
/// the shape `opml demo` gives them: `default_phases(n)` covers more than `n` steps.
fn smallest_vm_phases(steps: u64) -> Result<PhaseConfig> {
    default_phases(steps.saturating_sub(1).max(1))
}

/// The smallest phases of a graph task of `m` coarse steps whose longest node step takes
/// `longest` instructions in the VM: a top phase of `2^h ≥ m` leaves, and two lower phases
/// (one if a single level does) of `2^Σh > longest` instructions.
fn smallest_graph_phases(m: u64, longest: u64) -> Result<PhaseConfig> {
    let top = (64 - m.saturating_sub(1).leading_zeros()).max(1);
    let lower = (64 - longest.leading_zeros()).max(1);
    let heights = match lower {
        1 => vec![top, lower],
        _ => vec![top, lower.div_ceil(2), lower / 2],
    };
    let heights: Vec<u8> = heights
        .iter()
        .map(|&h| u8::try_from(h).unwrap_or(u8::MAX))
        .collect();
    PhaseConfig::program(&heights).with_context(|| {
        format!(
            "no phases fit the task: its {m} coarse steps need a top phase of height {top}, \
             and its longest node step 2^{lower} instructions below it"
        )
    })
}

/// Posts the LLM task of `args` (--prompt, --tokens, ...) on the llama model in the GGUF file
/// `gguf`: derives the task's graph and model root, runs it natively, finds (or checks) the
/// phases it needs, and posts the graph task of that root with the task's record as input;
/// narrates on stderr, prints the task id.
fn request_llm(args: &RequestArgs, gguf: &std::path::Path) -> Result<u8> {
    let started = Instant::now();
    let file = read_file(gguf)?;
    let task = opml_llm::task::Task {
        chat: args.chat,
        tokens: args.tokens,
        sampling: opml_llm::sample::Sampling {
            temperature: args.temperature,
            top_k: args.top_k,
            top_p: args.top_p,
            seed: args.seed,
        },
        prompt: args.prompt.as_deref().context("--gguf needs --prompt")?,
    };
    let record = task.encode();
    opml_llm::task::Task::parse(&record).map_err(|error| anyhow::anyhow!("{error}"))?;
    let graph = llm_graph(&file, &record)
        .with_context(|| format!("cannot make the task's graph from {}", gguf.display()))?;
    let model = opml_dnn::Model::parse(&graph.file)?;
    let model_root = model.root();
    let nodes = model.nodes().len();
    eprintln!(
        "the task's graph: {} prompt tokens + {} generated, {nodes} nodes, model root {} \
         ({:.1} s)",
        graph.prompt_tokens,
        graph.positions - graph.prompt_tokens,
        hex(&model_root),
        started.elapsed().as_secs_f64()
    );
    let bar = progress::spinner("running the generation natively");
    let phase = opml_graph::GraphPhase::new(&graph.file, &graph.input)?;
    bar.finish_and_clear();
    if let Some(refusal) = phase.run().refusal() {
        bail!("the graph refuses the task's record ({refusal:?}): no server would take the task");
    }
    let tokens: Vec<u32> = phase
        .run()
        .output()
        .unwrap_or_default()
        .chunks_exact(4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    eprintln!(
        "ran it natively ({:.1} s): tokens {:?}",
        started.elapsed().as_secs_f64(),
        &tokens[graph.prompt_tokens as usize..]
    );
    let m = phase.step_count();
    let top = 64 - (m - 1).leading_zeros();
    let bar = progress::spinner("re-doing one node step of each kind in the VM");
    let limit = 1u64 << 40;
    let bound = phase.step_bound(limit)?;
    bar.finish_and_clear();
    ensure!(
        bound.bound < limit,
        "coarse step {} ({}) does not halt within 2^40 instructions in the VM",
        bound.step,
        phase.describe_step(bound.step)
    );
    let lower = 64 - bound.bound.leading_zeros();
    eprintln!(
        "the longest node step: coarse step {} ({}), {} instructions in the VM ({} with the \
         margin of its group), from {} steps re-done for {} groups of like steps ({:.1} s)",
        bound.step,
        phase.describe_step(bound.step),
        bound.measured,
        bound.bound,
        bound.redone,
        bound.groups,
        started.elapsed().as_secs_f64()
    );
    let phases = match args.phases.fixed(Top::Program)? {
        Some(phases) => {
            let heights = phases.heights();
            let below: u32 = heights[1..].iter().map(|&h| u32::from(h)).sum();
            ensure!(
                heights.len() >= 2
                    && 1u64
                        .checked_shl(u32::from(heights[0]))
                        .is_none_or(|l| l >= m),
                "--phases {phases}: the task's graph has {m} coarse steps, so its top phase \
                 needs a height of {top} or more, and a VM phase below it"
            );
            ensure!(
                below >= lower,
                "--phases {phases}: the lower phases hold 2^{below} instructions, but coarse \
                 step {} needs {} (with its group's margin): they need 2^{lower} or more",
                bound.step,
                bound.bound
            );
            phases
        }
        None => {
            let levels = top.max(1) + lower;
            ensure!(
                levels <= opml_game::MAX_PROGRAM_TOTAL_HEIGHT,
                "no phases fit the task: its {m} coarse steps need a top phase of height {top}, \
                 and its longest node step (coarse step {}: {}) 2^{lower} instructions in the \
                 lower phases; {levels} levels, more than a graph game's {}",
                bound.step,
                phase.describe_step(bound.step),
                opml_game::MAX_PROGRAM_TOTAL_HEIGHT
            );
            smallest_graph_phases(m, bound.bound)?
        }
    };
    eprintln!("posting it with phases {phases}");
    let generated = &tokens[graph.prompt_tokens as usize..];
    let extra = json!({
        "llm": {
            "prompt_tokens": graph.prompt_tokens,
            "generated_tokens": graph.positions - graph.prompt_tokens,
            "nodes": nodes,
            "tokens": generated,
            "longest_step": bound.measured,
            "step_bound": bound.bound,
        }
    });
    post_graph(args, model_root, graph.input, phases, extra)
}

/// The phases of a graph task of the model in `file` on `input`: with `auto`, the smallest
/// that fit its run; given heights, refused unless the top phase holds the run's coarse steps
/// and the lower ones the longest node step program's run (measured here by re-doing every
/// step in the VM once, as the servers do before they commit).
fn graph_phases(file: &[u8], input: &[u8], requested: &Phases) -> Result<PhaseConfig> {
    let fixed = requested.fixed(Top::Program)?;
    let bar = progress::spinner("running the model natively");
    let phase = opml_graph::GraphPhase::new(file, input)?;
    bar.finish_and_clear();
    if let Some(refusal) = phase.run().refusal() {
        bail!("the model refuses this input ({refusal:?}): no server would take the task");
    }
    let m = phase.step_count();
    let lower = match &fixed {
        Some(phases) => {
            let heights = phases.heights();
            ensure!(
                heights.len() >= 2 && 1u64 << heights[0] >= m,
                "--phases {phases}: a graph task needs a top phase of 2^h ≥ {m} coarse steps \
                 and a VM phase below it"
            );
            heights[1..].iter().map(|&h| u32::from(h)).sum()
        }
        None => MAX_TOTAL_HEIGHT,
    };
    let limit = 1u64.checked_shl(lower).unwrap_or(u64::MAX);
    let bar = progress::spinner("re-doing every node step in the VM");
    let (longest, j) = phase.longest_step(limit)?;
    bar.finish_and_clear();
    let step = phase.describe_step(j);
    let phases = match fixed {
        Some(phases) => {
            ensure!(
                longest < limit,
                "--phases {phases}: the lower phases hold 2^{lower} instructions, but coarse \
                 step {j} ({step}) takes at least {longest} in the VM; raise them, or let \
                 `--phases auto` size them (nothing was posted)"
            );
            phases
        }
        None => {
            ensure!(
                longest < limit,
                "coarse step {j} ({step}) does not halt within 2^{lower} instructions in the VM, \
                 the most a game's lower phases hold (nothing was posted)"
            );
            smallest_graph_phases(m, longest)?
        }
    };
    eprintln!(
        "the model's run: {m} coarse steps, the longest node step {longest} instructions in \
         the VM (coarse step {j}, {step}); phases {phases}"
    );
    Ok(phases)
}

/// What every service takes.
#[derive(Args)]
#[command(after_help = SERVICE_EXAMPLES)]
pub(crate) struct ServiceArgs {
    #[command(flatten)]
    node: NodeArgs,
    /// The task registry (`opml deploy` prints it).
    #[arg(long, value_name = "ADDR")]
    registry: Address,
    /// A program whose tasks it takes on (repeat for several).
    #[arg(long = "elf", value_name = "FILE", required_unless_present_any = ["models", "gguf"])]
    elves: Vec<PathBuf>,
    /// A DNN model (an `.opml` file) whose graph tasks it takes on (repeat for several).
    #[arg(long = "model", value_name = "FILE")]
    models: Vec<PathBuf>,
    /// A llama GGUF model (SmolLM2) whose LLM tasks it takes on: a graph task of a model
    /// root it does not have, whose input is an LLM task record whose graph on this model has
    /// that root (derived per task; see `opml request --gguf`).
    #[arg(long, value_name = "FILE")]
    gguf: Option<PathBuf>,
    /// Milliseconds between polls.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    poll_ms: u64,
    /// Poll once (and again while the jobs that poll started finish), then exit.
    #[arg(long, conflicts_with = "until_idle")]
    once: bool,
    /// Exit once nothing is pending: every task taken on ended, every game settled (at once if
    /// there is no task yet).
    #[arg(long)]
    until_idle: bool,
    /// Read the registry's log from this block on (default: the genesis block); for nodes that
    /// cap `eth_getLogs` ranges.
    #[arg(long, value_name = "BLOCK", default_value_t = 0)]
    from_block: u64,
    /// Ask the node for the logs of at most this many blocks at a time (for nodes that cap
    /// `eth_getLogs` ranges). Default: any range.
    #[arg(long, value_name = "BLOCKS")]
    log_window: Option<u64>,
    /// Most runs and tree builds at a time. Default: the available cores.
    #[arg(long, value_name = "N")]
    jobs: Option<usize>,
    /// Write the JSON report of each game it finishes to DIR/game-<id>.json.
    #[arg(long, value_name = "DIR")]
    report_dir: Option<PathBuf>,
}

/// Arguments of `opml serve`.
#[derive(Args)]
#[command(after_help = SERVICE_EXAMPLES)]
pub(crate) struct ServeArgs {
    #[command(flatten)]
    service: ServiceArgs,
    /// For testing challengers: commit wrong outputs, and defend them with a trace that leaves
    /// the true run at this step.
    #[arg(long, value_name = "STEP")]
    lie_from_step: Option<u64>,
}

/// Runs a server until it is told to stop.
pub(crate) fn serve(args: ServeArgs) -> Result<u8> {
    let started = args.service.start("serve")?;
    let jobs = args.service.jobs.unwrap_or_else(default_job_limit);
    let mut server = Server::new(
        started.account,
        started.contracts,
        started.programs,
        args.lie_from_step,
    )
    .with_max_jobs(jobs);
    if let Some(models) = started.models {
        server = server.with_models(models);
    }
    let mut chain = started.chain;
    args.service.poll(&mut server, &mut chain)
}

/// Runs a challenger until it is told to stop.
pub(crate) fn challenge(args: ServiceArgs) -> Result<u8> {
    let started = args.start("challenge")?;
    let jobs = args.jobs.unwrap_or_else(default_job_limit);
    let mut challenger =
        Challenger::new(started.account, started.contracts, started.programs).with_max_jobs(jobs);
    if let Some(models) = started.models {
        challenger = challenger.with_models(models);
    }
    let mut chain = started.chain;
    args.poll(&mut challenger, &mut chain)
}

/// A service's setup: its connection, account, suite, programs and models (`None`: no
/// `--model`).
struct Started {
    chain: RpcChain,
    account: Address,
    contracts: Contracts,
    programs: Vec<Program>,
    models: Option<ModelStore>,
}

impl ServiceArgs {
    /// Loads the programs and models and connects to the registry; tells stderr who runs.
    fn start(&self, name: &str) -> Result<Started> {
        if let Some(dir) = &self.report_dir {
            // Made now, so that a folder that cannot be is refused before any game is played.
            std::fs::create_dir_all(dir)
                .with_context(|| format!("--report-dir {}: cannot create it", dir.display()))?;
        }
        let programs = self
            .elves
            .iter()
            .map(|elf| load_program(elf))
            .collect::<Result<Vec<_>>>()?;
        let models = if self.models.is_empty() && self.gguf.is_none() {
            None
        } else {
            let mut store =
                ModelStore::new::<&[u8]>([]).context("cannot load the node step program")?;
            for path in &self.models {
                store
                    .insert(&read_file(path)?)
                    .with_context(|| format!("cannot load {}", path.display()))?;
            }
            if let Some(path) = &self.gguf {
                store = store
                    .with_llm(read_file(path)?)
                    .with_context(|| format!("cannot load {}", path.display()))?;
            }
            Some(store)
        };
        let (mut chain, account) = self.node.connect()?;
        chain.set_log_window(self.log_window);
        let contracts = registry(&mut chain, self.registry)?;
        let ids: Vec<String> = programs.iter().map(|p| hex(&p.id())).collect();
        let roots: Vec<String> = models
            .iter()
            .flat_map(|models| models.roots().map(|root| hex(root)))
            .collect();
        let llm = models
            .as_ref()
            .and_then(ModelStore::llm_name)
            .map_or_else(String::new, |name| format!(", LLM tasks of {name}"));
        eprintln!(
            "opml {name}: account {account}, registry {}, programs {}, models {}{llm}",
            contracts.registry,
            or_none(&ids),
            or_none(&roots)
        );
        Ok(Started {
            chain,
            account,
            contracts,
            programs,
            models,
        })
    }

    /// Polls `service` until `--once` or `--until-idle` says to stop, printing its lines. A
    /// poll in which the node failed is followed by a longer pause, doubling up to
    /// [`MAX_PAUSE`]; a configuration error stops the service.
    fn poll(&self, service: &mut dyn Service, chain: &mut RpcChain) -> Result<u8> {
        let mut stdout = std::io::stdout();
        service.start_at_block(self.from_block);
        loop {
            let lines = match service.poll(chain) {
                Ok(lines) => lines,
                Err(error) if stops_service(&error) => {
                    return Err(error).context("the service cannot go on");
                }
                Err(error) => vec![format!("the poll failed: {error}; retried")],
            };
            for line in lines {
                writeln!(stdout, "{line}")?;
            }
            if let Some(dir) = &self.report_dir {
                for report in service.take_reports() {
                    std::fs::create_dir_all(dir)
                        .with_context(|| format!("creating {}", dir.display()))?;
                    let path = dir.join(format!("game-{}.json", report.game_id));
                    std::fs::write(&path, serde_json::to_string_pretty(&report)? + "\n")
                        .with_context(|| format!("writing {}", path.display()))?;
                    writeln!(stdout, "report written to {}", path.display())?;
                }
            }
            stdout.flush()?;
            let backlog = service.backlog();
            if self.once && !backlog.is_busy() {
                eprintln!("{backlog}");
                return Ok(0);
            }
            if self.until_idle && service.is_idle() {
                return Ok(0);
            }
            let pause = match backlog.node_failures {
                0 if self.once => JOB_PAUSE,
                0 => Duration::from_millis(self.poll_ms),
                failures => {
                    let pause = Duration::from_millis(self.poll_ms)
                        .saturating_mul(1 << failures.min(16))
                        .min(MAX_PAUSE);
                    writeln!(
                        stdout,
                        "the node failed {failures} poll(s) in a row; next poll in {pause:?}"
                    )?;
                    pause
                }
            };
            std::thread::sleep(pause);
        }
    }
}

/// The longest pause between two polls while the node keeps failing.
const MAX_PAUSE: Duration = Duration::from_secs(60);

/// The pause between the polls of `--once` while its jobs finish.
const JOB_PAUSE: Duration = Duration::from_millis(20);

/// `items` joined by commas, or "none".
fn or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".to_owned()
    } else {
        items.join(", ")
    }
}

/// Loads a program from its ELF file.
fn load_program(elf: &std::path::Path) -> Result<Program> {
    Program::new(&read_file(elf)?).with_context(|| format!("cannot load {}", elf.display()))
}

/// The suite around the task registry at `address`, read from the chain.
pub(crate) fn registry(chain: &mut RpcChain, address: Address) -> Result<Contracts> {
    Contracts::at(chain, address)
        .with_context(|| format!("no opml task registry answers at {address} (see `opml deploy`)"))
}

#[cfg(test)]
mod tests {
    use super::{Phases, smallest_graph_phases, smallest_vm_phases};
    use opml_game::Heights;

    #[test]
    fn auto_vm_phases_are_the_smallest_that_hold_the_run() {
        for steps in [
            1,
            2,
            3,
            4,
            5,
            1023,
            1024,
            1025,
            1 << 20,
            (1 << 20) + 1,
            1 << 40,
        ] {
            let config = smallest_vm_phases(steps).unwrap();
            let total = config.total_steps();
            assert!(total >= steps, "{config} for {steps} steps");
            assert!(
                total / 2 < steps || config.total_height() == 2,
                "{config} for {steps}"
            );
        }
        assert_eq!(smallest_vm_phases(1446).unwrap().heights(), [6, 5]);
        assert!(smallest_vm_phases((1 << 40) + 1).is_err());
    }

    #[test]
    fn auto_graph_phases_hold_the_coarse_steps_and_the_longest_node_step() {
        // The small int8 CNN: 11 coarse steps, its longest node step 2,336,222 instructions.
        assert_eq!(
            smallest_graph_phases(11, 2_336_222).unwrap().heights(),
            [4, 11, 11]
        );
        assert_eq!(smallest_graph_phases(1, 1).unwrap().heights(), [1, 1]);
        assert_eq!(smallest_graph_phases(16, 4).unwrap().heights(), [4, 2, 1]);
        assert!(smallest_graph_phases(1 << 30, 1 << 20).is_err());
    }

    #[test]
    fn phases_parse_heights_or_auto() {
        assert_eq!("auto".parse::<Phases>(), Ok(Phases::Auto));
        assert_eq!(
            "14, 8,8".parse::<Phases>(),
            Ok(Phases::Heights(Heights(vec![14, 8, 8])))
        );
        let error = "automatic".parse::<Phases>().unwrap_err();
        assert!(error.contains("or `auto`"), "{error}");
    }
}
