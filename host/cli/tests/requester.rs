//! The requester's commands as `opml` processes on a spawned anvil: `request` (its phases sized
//! from a dry run, or refused when the run does not fit them), `task`, `output`, `withdraw` and
//! `cancel`, around an honest `serve`; and the early refusal of a `--report` path that cannot
//! be written, before the run.

use std::path::Path;
use std::process::Command;

use opml_chain::{Anvil, Chain, PrivateKeySigner, RpcChain};
use opml_methods::{ECHO_ELF, GUESTS_BUILT};
use opml_vm::Machine;
use serde_json::Value;

mod common;
#[path = "common/opml.rs"]
mod opml;

use common::Scratch;
use opml::Finished;

/// The challenge window the test deploys with.
const WINDOW_S: u64 = 600;

/// The dev accounts' roles.
const DEPLOYER: usize = 0;
const REQUESTER: usize = 1;
const SERVER: usize = 2;

/// `opml` processes on one node, each numbered for its output files.
struct Node<'a> {
    dir: &'a Scratch,
    url: String,
    keys: &'a [PrivateKeySigner],
    runs: usize,
}

impl Node<'_> {
    /// Runs `opml <args>` as `role`, however it ends.
    fn run(&mut self, role: usize, args: &[&str]) -> Finished {
        self.runs += 1;
        opml::opml(&self.dir.0, self.runs, &self.url, &self.keys[role], args)
    }

    /// Runs `opml <args>` as `role`; its stdout, failing the test unless it succeeds.
    fn ok(&mut self, role: usize, args: &[&str]) -> String {
        self.run(role, args).ok(args)
    }

    /// Runs `opml <args>` as `role`; its stderr, failing the test if it succeeds.
    fn fails(&mut self, role: usize, args: &[&str]) -> String {
        let finished = self.run(role, args);
        assert_eq!(
            finished.status.code(),
            Some(2),
            "opml {args:?} should fail:\n{}\n{}",
            finished.stdout,
            finished.stderr
        );
        finished.stderr
    }

    /// `opml task <id> --json`.
    fn task(&mut self, registry: &str, id: u64) -> Value {
        let id = id.to_string();
        let args = ["task", &id, "--registry", registry, "--json"];
        serde_json::from_str(&self.ok(REQUESTER, &args)).unwrap()
    }
}

/// Fails the test if the example guests were not built (OPML_SKIP_GUEST_BUILD).
fn guests_built() {
    if !GUESTS_BUILT {
        panic!("the example guests were not built (OPML_SKIP_GUEST_BUILD is set)");
    }
}

fn path(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// The steps of the echo guest's run on `input`.
fn echo_steps(input: &[u8]) -> u64 {
    let mut machine = Machine::load(ECHO_ELF, input.to_vec()).unwrap();
    assert!(machine.try_run(1 << 30).unwrap().is_halted());
    machine.step_count()
}

#[test]
fn a_requester_posts_reads_cancels_and_withdraws_with_the_cli_on_anvil() {
    guests_built();
    let anvil =
        Anvil::spawn().expect("anvil starts (install it with toolchain/scripts/install.sh)");
    let mut chain: RpcChain = anvil.connect().unwrap();
    let dir = Scratch::new("requester");
    let elf = dir.file("echo.elf", ECHO_ELF);
    let mut node = Node {
        dir: &dir,
        url: anvil.url().to_owned(),
        keys: anvil.keys(),
        runs: 0,
    };
    let window = WINDOW_S.to_string();
    let deployed: Value =
        serde_json::from_str(&node.ok(DEPLOYER, &["deploy", "--window-s", &window])).unwrap();
    let registry = deployed["registry"].as_str().unwrap().to_owned();
    let requester = node.keys[REQUESTER].address().to_string();
    let server = node.keys[SERVER].address().to_string();

    // `--phases auto` (the default): the smallest phases whose 2^Σh steps hold the run.
    let input = echo::raw_input(b"a requester's task, 32 bytes, ok");
    let input_file = dir.file("input.bin", &input);
    let steps = echo_steps(&input);
    let request = |node: &mut Node, extra: &[&str]| -> Value {
        let mut args = vec![
            "request",
            "--registry",
            &registry,
            "--elf",
            path(&elf),
            "--input",
            path(&input_file),
            "--fee",
            "1000",
            "--json",
        ];
        args.extend_from_slice(extra);
        serde_json::from_str(&node.ok(REQUESTER, &args)).unwrap()
    };
    let posted = request(&mut node, &["--phases", "auto"]);
    let heights: Vec<u64> = posted["phases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_u64().unwrap())
        .collect();
    let total: u64 = heights.iter().sum();
    assert_eq!(posted["steps"], steps);
    assert!(
        1 << total >= steps && 1 << (total - 1) < steps,
        "{heights:?}, {steps} steps"
    );
    let id = posted["task_id"].as_u64().unwrap();

    // `opml task`: the open task's record.
    let task = node.task(&registry, id);
    assert_eq!(task["status"], "open");
    assert_eq!(task["round"], 0);
    assert_eq!(task["kind"], "vm");
    assert_eq!(task["requester"], requester);
    assert_eq!(task["program_id"], posted["program_id"]);
    assert_eq!(task["input_commitment"], posted["input_commitment"]);
    assert_eq!(task["phases"], posted["phases"]);
    assert_eq!(task["fee"], "1000");
    assert_eq!(task["deadline"], posted["deadline"]);
    assert_eq!(task["server"], Value::Null);
    assert_eq!(task["final_state"], Value::Null);
    let id_arg = id.to_string();
    let words = node.ok(REQUESTER, &["task", &id_arg, "--registry", &registry]);
    assert!(
        words.starts_with(&format!("task {id}: open (round 0), a VM task")),
        "{words}"
    );
    let error = node.fails(REQUESTER, &["output", &id_arg, "--registry", &registry]);
    assert!(error.contains("no result yet"), "{error}");

    // The default is `auto` too.
    let second = request(&mut node, &[]);
    assert_eq!(second["phases"], posted["phases"]);

    // An honest server commits both: the output is only committed, still disputable.
    let serve = [
        "serve",
        "--registry",
        &registry,
        "--elf",
        path(&elf),
        "--once",
    ];
    let out = node.ok(SERVER, &serve);
    assert!(
        out.contains(&format!("task {id}: committed its result")),
        "{out}"
    );
    let task = node.task(&registry, id);
    assert_eq!(task["status"], "committed");
    assert_eq!(task["server"], server);
    assert!(task["committed_at"].as_u64().unwrap() > 0, "{task}");
    assert_eq!(
        task["window_closes"].as_u64(),
        Some(task["committed_at"].as_u64().unwrap() + WINDOW_S)
    );
    assert!(
        task["final_state"].as_str().unwrap().starts_with("0x"),
        "{task}"
    );
    let output = node.run(REQUESTER, &["output", &id_arg, "--registry", &registry]);
    let expected = format!("0x{}\n", hex::encode(b"ko ,setyb 23 ,ksat s'retseuqer a"));
    assert_eq!(output.stdout, expected, "{}", output.stderr);
    assert!(
        output.stderr.contains("only COMMITTED, not final"),
        "{}",
        output.stderr
    );
    let args = ["output", &id_arg, "--registry", &registry, "--finalized"];
    let error = node.fails(REQUESTER, &args);
    assert!(error.contains("not finalized"), "{error}");

    // Past the window, the server finalizes: the output is final, written raw with --out.
    chain.advance_time(WINDOW_S + 1).unwrap();
    let out = node.ok(
        SERVER,
        &[
            "serve",
            "--registry",
            &registry,
            "--elf",
            path(&elf),
            "--until-idle",
        ],
    );
    assert!(out.contains(&format!("task {id}: finalized")), "{out}");
    assert_eq!(node.task(&registry, id)["status"], "finalized");
    let file = dir.0.join("output.bin");
    let args = [
        "output",
        &id_arg,
        "--registry",
        &registry,
        "--out",
        path(&file),
        "--finalized",
    ];
    let output = node.run(REQUESTER, &args);
    assert!(output.status.success(), "{}", output.stderr);
    assert!(output.stderr.contains("FINALIZED"), "{}", output.stderr);
    assert_eq!(
        std::fs::read(&file).unwrap(),
        b"ko ,setyb 23 ,ksat s'retseuqer a"
    );
    // Decoded: the 32 bytes as one ABI word; not as a codec frame.
    let args = [
        "output",
        &id_arg,
        "--registry",
        &registry,
        "--abi",
        "bytes32",
    ];
    let output = node.run(REQUESTER, &args);
    let word = format!(
        "[\"0x{}\"]\n",
        hex::encode(b"ko ,setyb 23 ,ksat s'retseuqer a")
    );
    assert_eq!(output.stdout, word, "{}", output.stderr);
    let args = [
        "output",
        &id_arg,
        "--registry",
        &registry,
        "--schema",
        "u64",
    ];
    let error = node.fails(REQUESTER, &args);
    assert!(error.contains("frame 1"), "{error}");
    let error = node.fails(REQUESTER, &["cancel", &id_arg, "--registry", &registry]);
    assert!(error.contains("WrongStatus"), "{error}");
    assert!(error.contains("finalized"), "{error}");

    // A task nobody serves: refused before its deadline, cancelled after it; its fee is
    // credited back to the requester, who withdraws it.
    let late = request(&mut node, &["--deadline-s", "100"]);
    let late_id = late["task_id"].as_u64().unwrap().to_string();
    let error = node.fails(REQUESTER, &["cancel", &late_id, "--registry", &registry]);
    assert!(error.contains("DeadlineNotPassed"), "{error}");
    assert_eq!(
        node.task(&registry, late["task_id"].as_u64().unwrap())["cancellable"],
        false
    );
    chain.advance_time(101).unwrap();
    let late_task = node.task(&registry, late["task_id"].as_u64().unwrap());
    assert_eq!(late_task["cancellable"], true);
    let error = node.fails(REQUESTER, &["output", &late_id, "--registry", &registry]);
    assert!(
        error.contains(&format!("`opml cancel {late_id}` returns its fee")),
        "{error}"
    );
    let out = node.ok(REQUESTER, &["cancel", &late_id, "--registry", &registry]);
    assert!(out.contains(&format!("cancelled task {late_id}")), "{out}");
    assert_eq!(
        node.task(&registry, late_id.parse().unwrap())["status"],
        "cancelled"
    );
    let out = node.ok(REQUESTER, &["withdraw", "--registry", &registry]);
    assert_eq!(out.trim(), format!("withdrew 1000 wei to {requester}"));
    let out = node.ok(REQUESTER, &["withdraw", "--registry", &registry]);
    assert!(out.starts_with("nothing to withdraw"), "{out}");
    let error = node.fails(REQUESTER, &["task", "99", "--registry", &registry]);
    assert!(error.contains("no task 99"), "{error}");

    // A graph task's auto phases: a top phase for its 11 coarse steps, two below it for its
    // longest node step's run.
    let model = dir.file("cnn-int8.opml", mnist::Model::CnnInt8.file());
    let digit = dir.file("digit.bin", &mnist::graph_input(mnist::digit(0).unwrap().1));
    let args = [
        "request",
        "--registry",
        &registry,
        "--model",
        path(&model),
        "--input",
        path(&digit),
        "--json",
    ];
    let posted: Value = serde_json::from_str(&node.ok(REQUESTER, &args)).unwrap();
    assert_eq!(posted["kind"], "graph");
    let phases = posted["phases"].as_array().unwrap();
    assert_eq!(phases.len(), 3, "{posted}");
    assert_eq!(phases[0], 4, "{posted}");
    let task = node.task(&registry, posted["task_id"].as_u64().unwrap());
    assert_eq!(task["kind"], "graph");
    assert_eq!(task["phases"], posted["phases"]);
    assert_eq!(task["program_id"], posted["step_program"]);
}

/// `opml <args>` with no node: its exit code, stdout and stderr.
fn opml_offline(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_opml"))
        .args(args)
        .env_remove("OPML_KEY")
        .output()
        .unwrap();
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

/// Phases too small for the run are refused after the dry run, before the node is reached
/// (there is none at this address). (A graph task's: `cli.rs`,
/// `a_graph_request_with_phases_too_low_for_a_node_step_is_refused_before_posting`.)
#[test]
fn request_refuses_phases_the_run_does_not_fit_before_posting() {
    guests_built();
    let dir = Scratch::new("request-phases");
    let elf = dir.file("echo.elf", ECHO_ELF);
    let input = dir.file("input.bin", &echo::raw_input(b"too long for 2^4 steps"));
    let args = [
        "request",
        "--rpc-url",
        "http://127.0.0.1:9",
        "--key",
        "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
        "--registry",
        "0x5FbDB2315678afecb367f032d93F642f64180aa3",
        "--elf",
        path(&elf),
        "--input",
        path(&input),
        "--phases",
        "2,2",
    ];
    let (code, stdout, stderr) = opml_offline(&args);
    assert_eq!(code, Some(2), "{stdout}\n{stderr}");
    assert!(stderr.contains("--phases 2,2"), "{stderr}");
    assert!(stderr.contains("does not halt within them"), "{stderr}");
    assert!(stderr.contains("nothing was posted"), "{stderr}");
    assert!(!stderr.contains("cannot reach the node"), "{stderr}");
}

/// A `--report` in a folder that does not exist is refused before the guest runs (it would
/// print its output on stdout).
#[test]
fn a_bad_report_path_is_refused_before_the_run() {
    guests_built();
    let dir = Scratch::new("report-path");
    let elf = dir.file("echo.elf", ECHO_ELF);
    let input = dir.file("input.bin", &echo::raw_input(b"never run"));
    let report = dir.0.join("no-such-folder/run.json");
    let args = [
        "run",
        path(&elf),
        "--input",
        path(&input),
        "--report",
        path(&report),
    ];
    let (code, stdout, stderr) = opml_offline(&args);
    assert_eq!(code, Some(2), "{stdout}\n{stderr}");
    assert!(stdout.is_empty(), "the guest ran: {stdout}");
    assert!(stderr.contains("does not exist"), "{stderr}");
    assert!(stderr.contains("nothing was run"), "{stderr}");
    let args = [
        "run",
        path(&elf),
        "--input",
        path(&input),
        "--report",
        path(&dir.0),
    ];
    let (code, stdout, stderr) = opml_offline(&args);
    assert_eq!(code, Some(2), "{stdout}\n{stderr}");
    assert!(stderr.contains("is a folder"), "{stderr}");
}
