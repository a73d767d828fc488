//! The opML roles as separate `opml` processes on a spawned anvil: `deploy`, `request`, a lying
//! `serve` and an honest `challenge`, polled in turn (`--once`) until the game ends, then run
//! `--until-idle` to settle; then an honest server's result, finalized after the window that
//! the test moves the node's clock past.

use std::path::Path;

use alloy_primitives::{Address, U256};
use opml_agent::arena::read_game;
use opml_agent::roles::{self, TaskStatus};
use opml_agent::{Contracts, Stage, deploy};
use opml_chain::contracts::TaskRegistry;
use opml_chain::{Anvil, Chain, PrivateKeySigner, RpcChain};
use opml_methods::{ECHO_ELF, GUESTS_BUILT};
use serde_json::Value;

mod common;
#[path = "common/opml.rs"]
mod opml;

use common::Scratch;

/// One bond: the registry's default of one ether.
const BOND: u128 = 1_000_000_000_000_000_000;

/// The challenge window the test deploys with.
const WINDOW_S: u64 = 600;

/// The roles' processes: the node, the files, and whose key each role sends with.
struct Roles<'a> {
    dir: &'a Scratch,
    url: String,
    keys: &'a [PrivateKeySigner],
    registry: String,
    /// What `serve` and `challenge` run: `--elf FILE` or `--model FILE`.
    program: [String; 2],
    runs: usize,
}

/// The dev accounts' roles.
const DEPLOYER: usize = 0;
const REQUESTER: usize = 1;
const SERVER: usize = 2;
const CHALLENGER: usize = 3;

impl Roles<'_> {
    /// Runs `opml <args>` with `role`'s key in OPML_KEY; returns its stdout, failing the test
    /// unless it succeeds in time.
    fn opml(&mut self, role: usize, args: &[&str]) -> String {
        self.runs += 1;
        opml::opml(&self.dir.0, self.runs, &self.url, &self.keys[role], args).ok(args)
    }

    /// `opml serve` as the server, with `extra` arguments.
    fn serve(&mut self, extra: &[&str]) -> String {
        let (registry, [flag, file]) = (self.registry.clone(), self.program.clone());
        let mut args = vec!["serve", "--registry", &registry, &flag, &file];
        args.extend_from_slice(extra);
        self.opml(SERVER, &args)
    }

    /// `opml challenge` as the challenger, with `extra` arguments.
    fn challenge(&mut self, extra: &[&str]) -> String {
        let (registry, [flag, file]) = (self.registry.clone(), self.program.clone());
        let reports = self.dir.0.join("challenger-reports");
        let mut args = vec![
            "challenge",
            "--registry",
            &registry,
            &flag,
            &file,
            "--report-dir",
            path(&reports),
        ];
        args.extend_from_slice(extra);
        self.opml(CHALLENGER, &args)
    }

    /// `opml request` of the echo guest on `text` as the requester; returns the task id.
    fn request(&mut self, name: &str, text: &[u8]) -> u64 {
        let input = self.dir.file(name, &echo::raw_input(text));
        let (registry, [flag, file]) = (self.registry.clone(), self.program.clone());
        let args = [
            "request",
            "--registry",
            &registry,
            &flag,
            &file,
            "--input",
            path(&input),
            "--phases",
            "6,6",
            "--fee",
            "1000",
            "--json",
        ];
        let report: Value = serde_json::from_str(&self.opml(REQUESTER, &args)).unwrap();
        assert_eq!(report["input_len"], text.len() + 1);
        report["task_id"].as_u64().unwrap()
    }
}

impl Roles<'_> {
    /// `opml deploy` with the deployer's key on the command line (every other role's is in
    /// OPML_KEY); returns the contracts.
    fn deploy(&mut self, chain: &mut RpcChain) -> Contracts {
        let deployer_key = hex::encode(self.keys[DEPLOYER].to_bytes());
        let window = WINDOW_S.to_string();
        let args = ["deploy", "--key", &deployer_key, "--window-s", &window];
        let deployed: Value = serde_json::from_str(&self.opml(DEPLOYER, &args)).unwrap();
        self.registry = deployed["registry"].as_str().unwrap().to_owned();
        let contracts = Contracts::at(chain, self.registry.parse().unwrap()).unwrap();
        assert_eq!(deployed["game"], contracts.game.to_string());
        contracts
    }
}

fn path(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn output_of(chain: &mut dyn Chain, contracts: &Contracts, task: u64) -> Vec<u8> {
    let call = TaskRegistry::outputOfCall {
        taskId: U256::from(task),
    };
    deploy::view(chain, Address::ZERO, contracts.registry, call)
        .unwrap()
        .to_vec()
}

fn status(chain: &mut dyn Chain, contracts: &Contracts, task: u64) -> TaskStatus {
    TaskStatus::of(&roles::read_task(chain, contracts, task).unwrap()).unwrap()
}

#[test]
fn the_roles_dispute_and_finalize_as_separate_processes_on_anvil() {
    if !GUESTS_BUILT {
        panic!("the example guests were not built (OPML_SKIP_GUEST_BUILD is set)");
    }
    let anvil =
        Anvil::spawn().expect("anvil starts (install it with toolchain/scripts/install.sh)");
    let mut chain: RpcChain = anvil.connect().unwrap();
    let dir = Scratch::new("roles");
    let mut run = Roles {
        dir: &dir,
        url: anvil.url().to_owned(),
        keys: anvil.keys(),
        registry: String::new(),
        program: [
            "--elf".to_owned(),
            path(&dir.file("echo.elf", ECHO_ELF)).to_owned(),
        ],
        runs: 0,
    };

    let contracts = run.deploy(&mut chain);
    assert_eq!(contracts.config.challenge_window, WINDOW_S);

    // A wrong result: the lying server commits it, the challenger disputes it.
    let task = run.request("wrong.bin", b"a wrong result, disputed by another process");
    let lie = ["--once", "--lie-from-step", "400"];
    let out = run.serve(&lie);
    assert!(
        out.contains(&format!("task {task}: committed a WRONG result")),
        "{out}"
    );
    let out = run.challenge(&["--once"]);
    assert!(
        out.contains(&format!("task {task}: the result is wrong")),
        "{out}"
    );
    assert!(out.contains("disputed it in game 0"), "{out}");

    // The game, one poll of each side at a time.
    let mut rounds = 0;
    while read_game(&mut chain, &contracts, 0).unwrap().stage != Stage::Resolved {
        rounds += 1;
        assert!(rounds < 40, "the game did not end");
        run.serve(&lie);
        run.challenge(&["--once"]);
    }
    assert!(rounds > 5, "a bisection takes rounds");
    let out = run.challenge(&["--until-idle"]);
    // Its bond and the pool: half the server's bond.
    assert!(
        out.contains(&format!("withdrew {} wei", BOND + BOND / 2)),
        "{out}"
    );
    let out = run.serve(&["--until-idle", "--lie-from-step", "400"]);
    assert!(out.contains(&format!("task {task}: rejected")), "{out}");
    // The challenger filed the game's report when it settled it.
    let report = std::fs::read_to_string(run.dir.0.join("challenger-reports/game-0.json"))
        .expect("the challenger wrote the game's report");
    let report: serde_json::Value = serde_json::from_str(&report).unwrap();
    assert_eq!(report["winner"], "challenger");
    assert_eq!(report["side"], "challenger");
    let history = report["history"].as_array().unwrap();
    assert!(history.len() > 10, "{report}");
    let event = |entry: &serde_json::Value| entry["event"].as_str().unwrap().to_owned();
    assert!(event(&history[0]).starts_with("GameCreated"), "{report}");
    assert!(
        event(history.last().unwrap()).starts_with("Resolved"),
        "{report}"
    );
    assert!(
        history.iter().any(|e| event(e).starts_with("StepVerified")),
        "{report}"
    );
    assert!(!out.contains("withdrew"), "{out}");
    // The round is rejected; the task is open again for round 1.
    assert_eq!(status(&mut chain, &contracts, task), TaskStatus::Open);
    let reopened = task;

    // A right result: checked, left alone, finalized once the window has passed. The honest
    // server also commits the reopened task's true result in its round 1.
    let task = run.request("right.bin", b"a right result");
    let out = run.serve(&["--once"]);
    assert!(
        out.contains(&format!("task {task}: committed its result")),
        "{out}"
    );
    assert!(
        out.contains(&format!("task {reopened}: committed its result")),
        "{out}"
    );
    let out = run.challenge(&["--until-idle"]);
    assert!(
        out.contains(&format!("task {task}: checked the result: correct")),
        "{out}"
    );
    let out = run.serve(&["--once"]);
    assert!(
        !out.contains("finalized"),
        "the window is still open: {out}"
    );
    chain.advance_time(WINDOW_S + 1).unwrap();
    let out = run.serve(&["--until-idle"]);
    assert!(out.contains(&format!("task {task}: finalized")), "{out}");
    assert!(
        out.contains(&format!("task {reopened}: finalized")),
        "{out}"
    );
    // Two bonds and two fees.
    assert!(
        out.contains(&format!("withdrew {} wei", 2 * (BOND + 1000))),
        "{out}"
    );
    assert_eq!(status(&mut chain, &contracts, task), TaskStatus::Finalized);
    assert_eq!(
        status(&mut chain, &contracts, reopened),
        TaskStatus::Finalized
    );
    assert_eq!(output_of(&mut chain, &contracts, task), b"tluser thgir a");
}

#[test]
fn a_graph_task_is_disputed_at_its_node_by_separate_processes_on_anvil() {
    let anvil =
        Anvil::spawn().expect("anvil starts (install it with toolchain/scripts/install.sh)");
    let mut chain: RpcChain = anvil.connect().unwrap();
    let dir = Scratch::new("graph-roles");
    let model = mnist::Model::CnnInt8;
    let model_file = dir.file("cnn-int8.opml", model.file());
    let mut run = Roles {
        dir: &dir,
        url: anvil.url().to_owned(),
        keys: anvil.keys(),
        registry: String::new(),
        program: ["--model".to_owned(), path(&model_file).to_owned()],
        runs: 0,
    };
    let contracts = run.deploy(&mut chain);
    let (label, pixels) = mnist::digit(5).unwrap();
    let input = dir.file("digit.bin", &mnist::graph_input(pixels));
    let registry = run.registry.clone();
    let args = [
        "request",
        "--registry",
        &registry,
        "--model",
        path(&model_file),
        "--input",
        path(&input),
        "--phases",
        "4,11,11",
        "--fee",
        "1000",
        "--json",
    ];
    let report: Value = serde_json::from_str(&run.opml(REQUESTER, &args)).unwrap();
    assert_eq!(report["kind"], "graph");
    let task = report["task_id"].as_u64().unwrap();

    // A lying server alters node 3's output; the challenger disputes the result.
    let lie = ["--once", "--lie-from-step", "5"];
    let out = run.serve(&lie);
    assert!(out.contains(&format!("task {task}")), "{out}");
    let out = run.challenge(&["--once"]);
    assert!(
        out.contains(&format!("task {task}: the result is wrong")),
        "{out}"
    );
    let mut rounds = 0;
    let mut narration = String::new();
    while read_game(&mut chain, &contracts, 0).unwrap().stage != Stage::Resolved {
        rounds += 1;
        assert!(rounds < 40, "the game did not end");
        narration += &run.serve(&lie);
        narration += &run.challenge(&["--once"]);
    }
    assert!(narration.contains("coarse step 5: node 3 ("), "{narration}");
    let out = run.serve(&["--until-idle", "--lie-from-step", "5"]);
    assert!(out.contains(&format!("task {task}: rejected")), "{out}");

    // An honest server serves round 1; it finalizes after the window with the true digit.
    let out = run.serve(&["--once"]);
    assert!(
        out.contains(&format!("task {task}: committed its result")),
        "{out}"
    );
    chain.advance_time(WINDOW_S + 1).unwrap();
    run.challenge(&["--until-idle"]);
    let out = run.serve(&["--until-idle"]);
    assert!(out.contains(&format!("task {task}: finalized")), "{out}");
    let output = output_of(&mut chain, &contracts, task);
    assert_eq!(mnist::graph_output(&output).unwrap().1, label);
}

#[path = "../../agent/tests/support/tiny_llama.rs"]
mod tiny_llama;

/// An LLM task by separate processes: `opml request --gguf` derives the task's graph, runs it,
/// finds the phases it needs and posts it; `opml serve --gguf` and `opml challenge --gguf`,
/// holding no model file, derive the same graph from the posted record; the result is checked
/// and finalizes after the window. On a tiny llama with SmolLM2's tokenizer (SmolLM2's own
/// output head needs more than the game's 40 levels; `docs/game-design.md`, "LLM tasks").
#[test]
fn an_llm_task_is_served_and_checked_by_separate_processes_on_anvil() {
    let smollm2 = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../toolchain/llm/cache/SmolLM2-135M-Instruct.Q4_1.gguf"),
    )
    .expect("SmolLM2's GGUF file (toolchain/llm/install.sh)");
    let anvil =
        Anvil::spawn().expect("anvil starts (install it with toolchain/scripts/install.sh)");
    let mut chain: RpcChain = anvil.connect().unwrap();
    let dir = Scratch::new("llm-roles");
    let gguf = dir.file("tiny.gguf", &tiny_llama::gguf(&smollm2));
    let mut run = Roles {
        dir: &dir,
        url: anvil.url().to_owned(),
        keys: anvil.keys(),
        registry: String::new(),
        program: ["--gguf".to_owned(), path(&gguf).to_owned()],
        runs: 0,
    };
    // A window for the task's 2^37 levels of work, as the registry counts it.
    let window = 20_000u64;
    let deployer_key = hex::encode(run.keys[DEPLOYER].to_bytes());
    let window_s = window.to_string();
    let args = ["deploy", "--key", &deployer_key, "--window-s", &window_s];
    let deployed: Value = serde_json::from_str(&run.opml(DEPLOYER, &args)).unwrap();
    run.registry = deployed["registry"].as_str().unwrap().to_owned();
    let contracts = Contracts::at(&mut chain, run.registry.parse().unwrap()).unwrap();

    let registry = run.registry.clone();
    let args = [
        "request",
        "--registry",
        &registry,
        "--gguf",
        path(&gguf),
        "--prompt",
        "The capital of France is known as",
        "--tokens",
        "2",
        "--temperature",
        "0.8",
        "--top-k",
        "40",
        "--seed",
        "7",
        "--json",
    ];
    let report: Value = serde_json::from_str(&run.opml(REQUESTER, &args)).unwrap();
    assert_eq!(report["kind"], "graph");
    assert_eq!(report["llm"]["prompt_tokens"], 7);
    assert_eq!(report["llm"]["generated_tokens"], 2);
    // The smallest phases: 2^9 coarse steps, 2^27 instructions for the largest node step.
    assert_eq!(report["phases"], serde_json::json!([9, 14, 13]));
    let task = report["task_id"].as_u64().unwrap();
    let generated: Vec<u32> = report["llm"]["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_u64().unwrap() as u32)
        .collect();

    let out = run.serve(&["--once"]);
    assert!(
        out.contains(&format!("task {task}: committed its result")),
        "{out}"
    );
    let out = run.challenge(&["--once"]);
    assert!(
        out.contains(&format!("task {task}: checked the result: correct")),
        "{out}"
    );
    chain.advance_time(window + 1).unwrap();
    let out = run.serve(&["--until-idle"]);
    assert!(out.contains(&format!("task {task}: finalized")), "{out}");
    assert_eq!(status(&mut chain, &contracts, task), TaskStatus::Finalized);
    // The output: every token, the prompt's then the two generated ones the request saw.
    let output = output_of(&mut chain, &contracts, task);
    let tokens: Vec<u32> = output
        .chunks_exact(4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    assert_eq!(tokens.len(), 9);
    assert_eq!(tokens[7..], generated[..]);
}
