//! LLM tasks in the server and challenger services (`docs/game-design.md`, "LLM tasks"): a
//! graph task whose model root is the graph of an LLM task record on SmolLM2-135M, which a
//! service holding the GGUF model derives from the record it reads in the posting. An honest
//! result finalizes, a lying server is disputed at its node and rejected, and records a service
//! must not run are refused with a reason, before any graph is built where the header says
//! enough.

use std::sync::OnceLock;
use std::time::Instant;

use alloy_primitives::U256;
use opml_agent::models::{MAX_LLM_POSITIONS, llm_graph};
use opml_agent::roles::{self, GraphRequest, TaskStatus};
use opml_agent::service::{Challenger, Server, Service};
use opml_agent::{Contracts, ModelStore, RegistryConfig};
use opml_chain::{Chain, EmbeddedChain};
use opml_dnn::Model;
use opml_game::PhaseConfig;
use opml_graph::{GraphPhase, STEP_PROGRAM_ID};
use opml_llm::sample::Sampling;
use opml_llm::task::Task;

#[path = "support/services.rs"]
mod services;
#[path = "support/tiny_llama.rs"]
mod tiny_llama;
use services::{anvil, output_of, poll_once, run, said, status};

/// The fee the requester pays: 0.1 ether.
const FEE: u128 = 100_000_000_000_000_000;

/// The tasks' phases, for the tiny llama ([`tiny_gguf`]): a top phase for the graph's coarse
/// steps (about 300 for 6 + 2 tokens), two lower ones for the longest node step (its output
/// head, about 2^26 instructions in the VM).
const HEIGHTS: [u8; 3] = [9, 14, 14];

/// The suite's parameters: a challenge window and a game clock long enough for heights of up
/// to the game's 40 levels (the registry counts `2^{Σh}` VM steps of work at 25 × 10^6 a
/// second: `requiredWindow`, `requiredClock`).
fn registry_config() -> RegistryConfig {
    RegistryConfig {
        challenge_window: 100_000,
        game_clock: 200_000,
        ..RegistryConfig::default()
    }
}

/// The GGUF file of SmolLM2-135M-Instruct (Q4_1), read once.
fn gguf() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| {
        let path = opml_llama::smollm2_path();
        std::fs::read(&path).unwrap_or_else(|error| {
            panic!("{} ({error}): run toolchain/llm/install.sh", path.display())
        })
    })
}

/// A store deriving LLM graphs of SmolLM2.
fn store() -> ModelStore {
    ModelStore::new::<&[u8]>([])
        .unwrap()
        .with_llm(gguf())
        .unwrap()
}

/// The tiny llama's GGUF file (see [`tiny_llama::gguf`]), made once.
fn tiny_gguf() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| tiny_llama::gguf(gguf()))
}

/// A store deriving LLM graphs of the tiny llama.
fn tiny_store() -> ModelStore {
    ModelStore::new::<&[u8]>([])
        .unwrap()
        .with_llm(tiny_gguf())
        .unwrap()
}

/// A greedy task of 2 generated tokens after a 7-token prompt.
fn record() -> Vec<u8> {
    task("The capital of France is known as", 2)
}

fn task(prompt: &str, tokens: u32) -> Vec<u8> {
    Task {
        chat: false,
        tokens,
        sampling: Sampling {
            temperature: 0.0,
            top_k: 0,
            top_p: 1.0,
            seed: 0,
        },
        prompt,
    }
    .encode()
}

/// The model root of the graph of LLM task `record` on the model in `gguf`.
fn root_of(gguf: &[u8], record: &[u8]) -> [u8; 32] {
    let graph = llm_graph(gguf, record).unwrap();
    Model::parse(&graph.file).unwrap().root()
}

/// Posts a graph task of `model_root` on `input` (phases [`HEIGHTS`], a week to its deadline)
/// from account 1, deploying the suite from account 0 unless `contracts` are given.
fn post(
    chain: &mut dyn Chain,
    contracts: Option<Contracts>,
    model_root: [u8; 32],
    input: &[u8],
) -> (Contracts, u64) {
    let accounts = chain.accounts().to_vec();
    let contracts = contracts
        .unwrap_or_else(|| Contracts::deploy(chain, accounts[0], registry_config()).unwrap());
    let request = GraphRequest {
        step_program: STEP_PROGRAM_ID,
        model_root,
        input: input.to_vec(),
        config: PhaseConfig::program(&HEIGHTS).unwrap(),
        fee: U256::from(FEE),
        deadline: chain.timestamp().unwrap() + 7 * 86_400,
    };
    let task = roles::post_graph_task(chain, &contracts, accounts[1], &request).unwrap();
    (contracts, task)
}

/// The tiny llama's 7 + 2 task fits [`HEIGHTS`], by the bound the services check.
#[test]
fn the_tiny_llama_task_fits_the_phases() {
    let graph = llm_graph(tiny_gguf(), &record()).unwrap();
    let phase = GraphPhase::new(&graph.file, &graph.input).unwrap();
    let bound = phase.step_bound(1 << 40).unwrap();
    eprintln!(
        "{} coarse steps; {bound:?}: {}",
        phase.step_count(),
        phase.describe_step(bound.step)
    );
    assert!(phase.step_count() <= 1 << HEIGHTS[0]);
    assert!(bound.bound < 1 << (HEIGHTS[1] + HEIGHTS[2]));
    assert!(phase.step_count() > 2_000 || bound.groups < 60);
}

#[test]
fn an_honest_llm_result_finalizes_on_anvil() {
    let (_anvil, mut chain, mut server_chain, mut challenger_chain) = anvil();
    let record = record();
    let root = root_of(tiny_gguf(), &record);
    let (contracts, task) = post(&mut chain, None, root, &record);
    // Separate stores, as separate processes have.
    let mut server =
        Server::new(server_chain.accounts()[0], contracts, [], None).with_models(tiny_store());
    let mut challenger =
        Challenger::new(challenger_chain.accounts()[0], contracts, []).with_models(tiny_store());

    let transcript = run(
        &mut chain,
        (&mut server, &mut server_chain),
        (&mut challenger, &mut challenger_chain),
        false,
        registry_config().game_clock,
    );
    let deriving = format!(
        "task 0: graph task, model 0x{}, not held: an LLM task of tiny llama",
        hex::encode(root)
    );
    assert!(
        said(&transcript.server, &deriving),
        "{:?}",
        transcript.server
    );
    assert!(said(&transcript.challenger, &deriving));
    assert!(said(&transcript.server, "committed its result"));
    assert!(
        said(
            &transcript.challenger,
            "task 0: checked the result: correct"
        ),
        "{:?}",
        transcript.challenger
    );
    assert!(!said(&transcript.challenger, "disputed"));
    assert!(said(&transcript.server, "task 0: finalized"));
    assert_eq!(status(&mut chain, &contracts, task), TaskStatus::Finalized);
    // The output: the prompt's 7 tokens and the 2 generated, as the graph's native run says.
    let graph = llm_graph(tiny_gguf(), &record).unwrap();
    assert_eq!((graph.prompt_tokens, graph.positions), (7, 9));
    let truth = GraphPhase::new(&graph.file, &graph.input).unwrap();
    let output = output_of(&mut chain, &contracts, task);
    assert_eq!(output, truth.run().output().unwrap());
    assert_eq!(output.len(), 9 * 4);
}

#[test]
fn a_lying_llm_server_is_disputed_at_its_node_and_rejected_on_anvil() {
    let (_anvil, mut chain, mut server_chain, mut challenger_chain) = anvil();
    let record = record();
    let graph = llm_graph(tiny_gguf(), &record).unwrap();
    let root = Model::parse(&graph.file).unwrap().root();
    let (contracts, task) = post(&mut chain, None, root, &record);
    // The liar alters the attention residual of layer 1 at position 2 (a cheap node: the
    // games' lower phases re-run it in the VM).
    let node = graph
        .labels
        .iter()
        .position(|l| l.position == 2 && l.layer == Some(1) && l.what == "attention residual")
        .unwrap() as u64;
    let j = node + 2;
    let models = tiny_store();
    let mut server =
        Server::new(server_chain.accounts()[0], contracts, [], Some(j)).with_models(models.clone());
    let mut challenger =
        Challenger::new(challenger_chain.accounts()[0], contracts, []).with_models(models);

    let transcript = run(
        &mut chain,
        (&mut server, &mut server_chain),
        (&mut challenger, &mut challenger_chain),
        false,
        registry_config().game_clock,
    );
    assert!(said(&transcript.server, "committed a WRONG result"));
    assert!(said(
        &transcript.challenger,
        "the result is wrong (final graph state 0x"
    ));
    assert!(said(&transcript.challenger, "disputed it in game 0"));
    let truth = GraphPhase::new(&graph.file, &graph.input).unwrap();
    let descent = format!(
        "descended into the step program's run of coarse step {j}: {}",
        truth.describe_step(j)
    );
    assert!(
        said(&transcript.server, &descent) || said(&transcript.challenger, &descent),
        "{:?}\n{:?}",
        transcript.server,
        transcript.challenger
    );
    assert!(said(&transcript.challenger, "proved step"));
    assert!(said(&transcript.challenger, "the challenger won"));
    assert!(said(&transcript.server, "task 0: rejected"));
    let record = roles::read_task(&mut chain, &contracts, task).unwrap();
    assert_eq!(TaskStatus::of(&record).unwrap(), TaskStatus::Open);
    assert_eq!(record.round, 1);
}

#[test]
fn llm_tasks_the_server_cannot_run_are_refused_with_a_reason() {
    let mut chain = EmbeddedChain::new();
    let good = record();
    let root = root_of(gguf(), &good);
    let unknown = [7u8; 32];
    // Not a record; a record of a malformed header (unknown flags); a record asking for 2^32 − 1
    // tokens; one asking for none; a prompt of more bytes than a service tokenizes; a prompt
    // of more tokens than a graph's positions; a good record under another root; and a good
    // record of the right root under a top phase too small for its graph.
    let (contracts, garbage) = post(&mut chain, None, unknown, b"not a record");
    let mut flags = good.clone();
    flags[8] = 2;
    let (_, flagged) = post(&mut chain, Some(contracts), unknown, &flags);
    let (_, huge) = post(&mut chain, Some(contracts), unknown, &task("Hi", u32::MAX));
    let (_, none) = post(&mut chain, Some(contracts), unknown, &task("Hi", 0));
    let long_prompt = "ab".repeat(2_100);
    let (_, long) = post(&mut chain, Some(contracts), unknown, &task(&long_prompt, 1));
    let many_tokens = " 1".repeat(200);
    let (_, many) = post(&mut chain, Some(contracts), unknown, &task(&many_tokens, 1));
    let (_, mismatch) = post(&mut chain, Some(contracts), unknown, &good);
    let accounts = chain.accounts().to_vec();
    let request = GraphRequest {
        step_program: STEP_PROGRAM_ID,
        model_root: root,
        input: good.clone(),
        config: PhaseConfig::program(&[4, 13, 14]).unwrap(),
        fee: U256::from(FEE),
        deadline: chain.timestamp().unwrap() + 7 * 86_400,
    };
    let short = roles::post_graph_task(&mut chain, &contracts, accounts[1], &request).unwrap();
    // Lower phases of 2^24: SmolLM2's tokenizer step (~8 × 10^7 instructions in the VM) and its
    // output head's blocks (~5 × 10^7) do not fit.
    let request = GraphRequest {
        config: PhaseConfig::program(&[13, 12, 12]).unwrap(),
        ..request
    };
    let low = roles::post_graph_task(&mut chain, &contracts, accounts[1], &request).unwrap();

    let started = Instant::now();
    let mut server = Server::new(accounts[2], contracts, [], None).with_models(store());
    let lines = poll_once(&mut server, &mut chain);
    let lacks = |task: u64, root: &[u8; 32]| {
        format!(
            "task {task}: a graph task of model 0x{}, which this service does not have, and ",
            hex::encode(root)
        )
    };
    let expect = |task: u64, root: &[u8; 32], reason: &str| {
        let text = format!("{}{reason}", lacks(task, root));
        assert!(said(&lines, &text), "{text}\n{lines:#?}");
    };
    expect(
        garbage,
        &unknown,
        "its input is not an LLM task record (the LLM task record has no valid header)",
    );
    expect(
        flagged,
        &unknown,
        "its input is not an LLM task record (the LLM task record sets unknown flags",
    );
    expect(
        huge,
        &unknown,
        &format!(
            "its LLM task asks for 4294967295 tokens, more than the {MAX_LLM_POSITIONS} \
             positions a graph may have; not committing"
        ),
    );
    expect(
        none,
        &unknown,
        "its LLM task asks for no token to generate; not committing",
    );
    expect(
        long,
        &unknown,
        "its LLM task's prompt has 4200 bytes, more than the 4096 this service tokenizes",
    );
    expect(
        many,
        &unknown,
        "its LLM task has 400 prompt tokens and 1 to generate: more than the 256 positions",
    );
    expect(
        mismatch,
        &unknown,
        &format!(
            "its input is an LLM task of Smollm2 135M 8k Lc100K Mix1 Ep2 (7 prompt tokens, 2 \
             generated), \
             whose graph has model root 0x{}, not the task's; not committing",
            hex::encode(root)
        ),
    );
    assert!(
        said(
            &lines,
            &format!(
                "task {short}: a graph task of model 0x{}",
                hex::encode(root)
            )
        ) && said(&lines, "more than its top phase of height 4 holds"),
        "{lines:#?}"
    );
    assert!(
        said(
            &lines,
            &format!("task {low}: its lower phases hold 2^24 instructions, but the node step")
        ) && said(&lines, "the task cannot be defended; not committing"),
        "{lines:#?}"
    );
    assert!(!said(&lines, "committed"), "{lines:?}");
    assert!(server.is_idle());
    for task in [
        garbage, flagged, huge, none, long, many, mismatch, short, low,
    ] {
        assert_eq!(status(&mut chain, &contracts, task), TaskStatus::Open);
    }
    eprintln!("refused in {:.1} s", started.elapsed().as_secs_f64());
}

/// The store keeps the last graphs derived, by root, up to its bound.
#[test]
fn a_store_keeps_its_last_derived_graphs() {
    let models = store().with_llm_cache(1);
    let (a, b) = (record(), task("Hello", 1));
    let (root_a, held) = models.derive(&a).unwrap();
    assert_eq!(held.llm.unwrap().generated(), 2);
    assert!(models.get(&root_a).is_some());
    assert!(
        models.resolve(&root_a, &b).is_ok(),
        "a held root needs no derivation"
    );
    let (root_b, _) = models.derive(&b).unwrap();
    assert_ne!(root_a, root_b);
    assert!(models.get(&root_b).is_some());
    assert!(models.get(&root_a).is_none(), "the bound is one graph");
    // A clone shares what was derived.
    assert!(models.clone().get(&root_b).is_some());
    // A task whose record's graph is not of its root is refused, and evicts nothing.
    let error = models.resolve(&[7; 32], &a).unwrap_err();
    assert!(error.0.contains("not the task's"), "{error}");
    assert!(models.get(&root_b).is_some());
    assert!(models.get(&root_a).is_none());
}

/// Measurements for `docs/game-design.md` ("LLM tasks"), run by hand:
/// `cargo test --release -p opml-agent --test llm_services -- --ignored --nocapture`.
/// `OPML_MEASURE=spread` (`spread-tiny`): every step of a 7 + 2 generation of SmolLM2 (of the
/// tiny llama) in the VM, against its group's representative; `bound`: the bound of SmolLM2's
/// 7 + 2 task; else the time of deriving, running and bounding a 64 + 64 task of SmolLM2.
#[test]
#[ignore = "a measurement, minutes long"]
fn measure_the_grouped_step_bound() {
    if std::env::var("OPML_MEASURE").as_deref() == Ok("bound") {
        let started = Instant::now();
        let graph = llm_graph(gguf(), &record()).unwrap();
        let phase = GraphPhase::new(&graph.file, &graph.input).unwrap();
        let ran = started.elapsed();
        let bound = phase.step_bound(1 << 40).unwrap();
        eprintln!(
            "6 + 2: {} steps, run in {:.1} s, bounded in {:.1} s: {bound:?} ({})",
            phase.step_count(),
            ran.as_secs_f64(),
            (started.elapsed() - ran).as_secs_f64(),
            phase.describe_step(bound.step)
        );
        return;
    }
    if let Ok(which @ ("spread" | "spread-tiny")) = std::env::var("OPML_MEASURE").as_deref() {
        let model = if which == "spread" {
            gguf()
        } else {
            tiny_gguf()
        };
        let graph = llm_graph(model, &record()).unwrap();
        let phase = GraphPhase::new(&graph.file, &graph.input).unwrap();
        let bound = phase.step_bound(1 << 40).unwrap();
        let (mut worst, mut worst_group) = (0f64, String::new());
        for group in phase.step_groups() {
            let rep = *group.last().unwrap();
            let rep_steps = phase.vm_step(rep, 1 << 40).unwrap().steps as f64;
            let most = group
                .iter()
                .map(|&j| phase.vm_step(j, 1 << 40).unwrap().steps)
                .max()
                .unwrap() as f64;
            if most / rep_steps > worst {
                worst = most / rep_steps;
                worst_group = format!("{} ({} steps)", phase.describe_step(rep), group.len());
            }
        }
        let (longest, j) = phase.longest_step(1 << 40).unwrap();
        eprintln!(
            "{} steps, {} groups; longest {longest} (step {j}: {}); bound {bound:?}; worst \
             member / representative {worst:.4} in {worst_group}",
            phase.step_count(),
            bound.groups,
            phase.describe_step(j)
        );
        assert!(bound.bound >= longest);
        return;
    }
    // A prompt of exactly 64 tokens: words added until the tokenizer counts 64.
    let real = opml_gguf::Gguf::parse(gguf()).unwrap();
    let llama = opml_llama::Llama::from_gguf(&real).unwrap();
    let words = "Once upon a time in a small village at the edge of a great forest there lived \
                 an old clockmaker who had spent his whole life repairing the clocks of his \
                 neighbours and every morning he opened the shutters of his workshop to let the \
                 light fall on the brass wheels and the tiny springs that filled his bench while \
                 the children of the village watched him through the window";
    let mut prompt = String::new();
    let mut tokens = 0;
    for word in words.split(' ') {
        let mut next = prompt.clone();
        if !next.is_empty() {
            next.push(' ');
        }
        next.push_str(word);
        let mut ids = Vec::new();
        llama.tables().encode(next.as_bytes(), &mut ids);
        if ids.len() > 64 {
            break;
        }
        (prompt, tokens) = (next, ids.len());
    }
    let record = task(&prompt, 64);
    let started = Instant::now();
    let models = store();
    let (root, held) = models.derive(&record).unwrap();
    let derived = started.elapsed();
    let phase = GraphPhase::new(&held.file, &record).unwrap();
    let ran = started.elapsed();
    let bound = phase.step_bound(1 << 40).unwrap();
    let bounded = started.elapsed();
    eprintln!(
        "{tokens} + 64 tokens: {} coarse steps, root 0x{}; derived in {:.1} s, run natively in \
         {:.1} s, bounded in {:.1} s ({} groups, {} steps re-done; {bound:?}, step {}: {})",
        held.steps,
        hex::encode(root),
        derived.as_secs_f64(),
        (ran - derived).as_secs_f64(),
        (bounded - ran).as_secs_f64(),
        bound.groups,
        bound.redone,
        bound.step,
        phase.describe_step(bound.step)
    );
}
