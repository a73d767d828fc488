//! Services that stay live under attack, on the embedded chain: a task that never halts does
//! not stop a challenger from disputing another; a node whose log queries fail is retried; the
//! most urgent game is served first; the backlog says what is queued; a forged input length is
//! refused; a chain whose clock stands still is said to.

use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_sol_types::SolEvent;
use opml_agent::adversary::final_state_with_output;
use opml_agent::roles::{self, TaskRequest, TaskStatus};
use opml_agent::service::{
    Challenger, FIRST_RETRY, READ_ATTEMPTS, STEPS_PER_SECOND, Server, Service,
};
use opml_agent::{AgentError, Contracts, Program, RegistryConfig};
use opml_chain::contracts::InputOracle;
use opml_chain::{BlockLog, Chain, ChainError, EmbeddedChain, LogQuery, Tx, TxReceipt};
use opml_game::PhaseConfig;
use opml_state::ExitStatus;
use opml_tests::RandomProgram;
use opml_tests::encode::Insn;

/// Polls (in which a service acted, or the clock moved) after which a test calls it stuck.
const MAX_ROUNDS: usize = 400;

/// Polls in which services only wait for their jobs after which a test calls them stuck.
const MAX_WAITS: usize = 100_000;

/// The embedded chain, with a node's failures: its log queries fail while `log_failures` is
/// above zero, and it adds `forged` logs (events anyone could have emitted) to the answers
/// they match.
struct Node {
    chain: EmbeddedChain,
    log_failures: u32,
    failed: u32,
    forged: Vec<BlockLog>,
}

impl Node {
    fn new() -> Node {
        Node {
            chain: EmbeddedChain::new(),
            log_failures: 0,
            failed: 0,
            forged: Vec::new(),
        }
    }
}

impl Chain for Node {
    fn accounts(&self) -> &[Address] {
        Chain::accounts(&self.chain)
    }
    fn deploy(&mut self, from: Address, code: Bytes) -> Result<Address, ChainError> {
        Chain::deploy(&mut self.chain, from, code)
    }
    fn send(&mut self, tx: Tx) -> Result<TxReceipt, ChainError> {
        self.chain.send(tx)
    }
    fn call(&mut self, from: Address, to: Address, data: Bytes) -> Result<Bytes, ChainError> {
        Chain::call(&mut self.chain, from, to, data)
    }
    fn balance(&mut self, who: Address) -> Result<U256, ChainError> {
        self.chain.balance(who)
    }
    fn timestamp(&mut self) -> Result<u64, ChainError> {
        self.chain.timestamp()
    }
    fn advance_time(&mut self, seconds: u64) -> Result<(), ChainError> {
        self.chain.advance_time(seconds)
    }
    fn logs(&mut self, query: &LogQuery) -> Result<Vec<BlockLog>, ChainError> {
        if self.log_failures > 0 {
            self.log_failures -= 1;
            self.failed += 1;
            return Err(ChainError::Rpc(
                "eth_getLogs: query returned more than 10000 results".into(),
            ));
        }
        let mut logs = self.chain.logs(query)?;
        logs.extend(self.forged.iter().filter(|log| query.matches(log)).cloned());
        Ok(logs)
    }
    fn block_number(&mut self) -> Result<u64, ChainError> {
        self.chain.block_number()
    }
}

/// Account indices: deployer 0, requester 1, servers 2 and 4, challenger 3.
const REQUESTER: usize = 1;
const SERVER: usize = 2;
const CHALLENGER: usize = 3;
const OTHER_SERVER: usize = 4;

fn account(chain: &dyn Chain, index: usize) -> Address {
    chain.accounts()[index]
}

fn deploy(chain: &mut dyn Chain) -> Contracts {
    let deployer = account(chain, 0);
    Contracts::deploy(chain, deployer, config()).unwrap()
}

/// The registry's parameters: a window and a clock long enough for the largest trace the caps
/// allow (`[24, 16]`, 2^40 steps), so that tasks can be enormous.
fn config() -> RegistryConfig {
    RegistryConfig {
        challenge_window: 90_000,
        game_clock: 90_000,
        ..RegistryConfig::default()
    }
}

fn echo() -> Program {
    Program::new(opml_methods::ECHO_ELF).unwrap()
}

/// A program that never halts: `jal x0, 0`.
fn forever() -> Program {
    let program = RandomProgram {
        code: vec![Insn::Jal { rd: 0, offset: 0 }],
        data: Vec::new(),
    };
    Program::new(&program.elf()).unwrap()
}

/// Posts a task of `program` on `input` with phases `heights`; returns its id.
fn post(
    chain: &mut dyn Chain,
    contracts: &Contracts,
    program: &Program,
    input: &[u8],
    heights: &[u8],
) -> u64 {
    let requester = account(chain, REQUESTER);
    let commitment = roles::publish_input(chain, contracts, requester, input).unwrap();
    let request = TaskRequest {
        program_id: program.id(),
        input_commitment: commitment,
        config: PhaseConfig::new(heights).unwrap(),
        fee: U256::from(1000u64),
        deadline: chain.timestamp().unwrap() + 86_400,
    };
    roles::post_task(chain, contracts, requester, &request).unwrap()
}

/// Echo in raw mode: the output is the input's bytes reversed.
fn echo_input(text: &[u8]) -> Vec<u8> {
    let mut input = vec![1u8];
    input.extend_from_slice(text);
    input
}

fn said(lines: &[String], text: &str) -> bool {
    lines.iter().any(|line| line.contains(text))
}

fn position(lines: &[String], text: &str) -> usize {
    lines
        .iter()
        .position(|line| line.contains(text))
        .unwrap_or_else(|| panic!("nobody said {text:?}: {lines:#?}"))
}

fn status(chain: &mut dyn Chain, contracts: &Contracts, task: u64) -> TaskStatus {
    TaskStatus::of(&roles::read_task(chain, contracts, task).unwrap()).unwrap()
}

/// Whether the first result of `task` was proven wrong (the task then reopens).
fn first_round_rejected(chain: &mut dyn Chain, contracts: &Contracts, task: u64) -> bool {
    roles::read_round(chain, contracts, task, 0)
        .unwrap()
        .rejected
}

/// Polls `service` until it says `text` (pausing while it only waits for its jobs); returns
/// everything it said.
fn poll_until(service: &mut dyn Service, chain: &mut dyn Chain, text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    for _ in 0..MAX_WAITS {
        lines.extend(service.poll(chain).expect("the service polls"));
        if said(&lines, text) {
            return lines;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    panic!("the service never said {text:?}: {lines:#?}");
}

/// Polls the server and the challenger in turn until `done` says so; moves the clock past a
/// game clock when nobody acted and no job runs. Returns what each said.
fn drive(
    node: &mut Node,
    server: &mut Server,
    challenger: &mut Challenger,
    mut done: impl FnMut(&mut Server, &mut Challenger, &[String]) -> bool,
) -> (Vec<String>, Vec<String>) {
    let (mut by_server, mut by_challenger) = (Vec::new(), Vec::new());
    let (mut rounds, mut waits) = (0, 0);
    while rounds < MAX_ROUNDS && waits < MAX_WAITS {
        let lines = server.poll(&mut node.chain).expect("the server polls");
        let mut acted = !lines.is_empty();
        by_server.extend(lines);
        let lines = challenger.poll(node).expect("the challenger polls");
        acted |= !lines.is_empty();
        by_challenger.extend(lines);
        if done(server, challenger, &by_challenger) {
            return (by_server, by_challenger);
        }
        if acted {
            rounds += 1;
        } else if server.backlog().is_busy() || challenger.backlog().is_busy() {
            waits += 1;
            std::thread::sleep(std::time::Duration::from_millis(2));
        } else {
            rounds += 1;
            node.chain.advance_time(config().game_clock + 1).unwrap();
        }
    }
    panic!("the services did not finish:\nserver: {by_server:#?}\nchallenger: {by_challenger:#?}");
}

#[test]
fn a_task_that_never_halts_is_abandoned_while_another_is_disputed_and_won() {
    let mut node = Node::new();
    let contracts = deploy(&mut node);
    let (echo, forever) = (echo(), forever());
    // A task whose program never halts, with phases long enough (2^62 steps) that only time
    // ends its run, and a made-up result committed for it directly.
    let endless = post(&mut node, &contracts, &forever, b"", &[24, 16]);
    let mut state = forever.machine(&[]).unwrap().state();
    state.status = ExitStatus::Exited(0);
    state.step = 1000;
    let (claimed, _) = final_state_with_output(&state, b"made up");
    let server_account = account(&node, SERVER);
    roles::commit_result(
        &mut node,
        &contracts,
        server_account,
        endless,
        &claimed,
        b"made up",
    )
    .unwrap();
    // A tiny task, and a server lying about it. The challenger runs one job at a time: the
    // endless run holds it, and the tiny task's short jobs still get a thread.
    let tiny = post(&mut node, &contracts, &echo, &echo_input(b"tiny"), &[6, 6]);
    let mut server = Server::new(server_account, contracts, [echo.clone()], Some(5));
    let mut challenger =
        Challenger::new(account(&node, CHALLENGER), contracts, [forever, echo]).with_max_jobs(1);

    // While the endless run goes on, the challenger disputes the tiny task and wins.
    let (by_server, by_challenger) =
        drive(&mut node, &mut server, &mut challenger, |_, _, said_| {
            said(said_, "the challenger won")
        });
    assert!(said(
        &by_server,
        &format!("task {tiny}: committed a WRONG result")
    ));
    assert!(said(
        &by_challenger,
        &format!("task {endless}: running it (at most {} steps", 1u64 << 40)
    ));
    assert!(said(
        &by_challenger,
        &format!("task {tiny}: the result is wrong")
    ));
    assert!(!said(
        &by_challenger,
        &format!("task {endless}: cannot finish")
    ));
    let backlog = challenger.backlog();
    assert_eq!(backlog.tasks_running, 1, "{backlog}");
    assert!(backlog.steps_left > 1 << 39, "{backlog}");
    assert!(backlog.seconds_left > 2_000, "{backlog}");
    assert!(!challenger.is_idle());
    let (more, _) = drive(&mut node, &mut server, &mut challenger, |server, _, _| {
        server.is_idle()
    });
    assert!(said(
        &[by_server, more].concat(),
        &format!("task {tiny}: rejected")
    ));
    assert!(first_round_rejected(&mut node, &contracts, tiny));

    // Once the chain's clock says the window is about to close, the endless run is abandoned.
    node.chain.advance_time(config().challenge_window).unwrap();
    let lines = poll_until(&mut challenger, &mut node, "not checked");
    assert!(
        said(
            &lines,
            &format!(
                "task {endless}: cannot finish its run before the challenge window closes (the \
                 node's clock is at"
            )
        ),
        "{lines:#?}"
    );
    let lines = challenger.poll(&mut node).unwrap();
    assert!(!said(&lines, "not checked"), "said once: {lines:#?}");
    while !challenger.is_idle() {
        challenger.poll(&mut node).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    assert_eq!(challenger.backlog().jobs_running, 0);
}

#[test]
fn a_run_is_abandoned_when_its_wall_clock_budget_runs_out() {
    let mut node = Node::new();
    let contracts = deploy(&mut node);
    let forever = forever();
    // The deadline leaves the server one second for the run after the time it keeps to
    // commit.
    let requester = account(&node, REQUESTER);
    let request = TaskRequest {
        program_id: forever.id(),
        input_commitment: opml_state::input::commitment(&[]),
        config: PhaseConfig::new(&[24, 16]).unwrap(),
        fee: U256::ZERO,
        deadline: node.timestamp().unwrap() + opml_agent::service::COMMIT_RESERVE_S + 1,
    };
    let task = roles::post_task(&mut node, &contracts, requester, &request).unwrap();
    let mut server = Server::new(account(&node, SERVER), contracts, [forever], None);
    let lines = poll_until(&mut server, &mut node, "not committing");
    assert!(
        said(
            &lines,
            &format!("task {task}: cannot finish its run before the deadline (gave up after")
        ),
        "{lines:#?}"
    );
    assert!(said(
        &lines,
        "its budget: 31 s until the deadline, less 30 s to send its move"
    ));
    assert!(server.is_idle());
    assert_eq!(status(&mut node, &contracts, task), TaskStatus::Open);
    // A deadline that leaves no time at all is refused before any run.
    let request = TaskRequest {
        deadline: node.timestamp().unwrap() + 10,
        ..request
    };
    let task = roles::post_task(&mut node, &contracts, requester, &request).unwrap();
    let lines = poll_until(&mut server, &mut node, "not committing");
    assert!(
        said(
            &lines,
            &format!(
                "task {task}: cannot finish its run before the deadline (the deadline is 10 s away"
            )
        ),
        "{lines:#?}"
    );
    assert!(!said(&lines, &format!("task {task}: running it")));
}

#[test]
fn failing_log_queries_are_retried_and_the_game_still_won() {
    let mut node = Node::new();
    let contracts = deploy(&mut node);
    let tiny = post(
        &mut node,
        &contracts,
        &echo(),
        &echo_input(b"flaky node"),
        &[6, 6],
    );
    let mut server = Server::new(account(&node, SERVER), contracts, [echo()], Some(3));
    let mut challenger = Challenger::new(account(&node, CHALLENGER), contracts, [echo()]);
    // The first poll's reads of the log all fail; the second poll's first ones too.
    node.log_failures = READ_ATTEMPTS + 2;
    let started = std::time::Instant::now();
    let lines = challenger
        .poll(&mut node)
        .expect("a failing node is no error");
    assert!(started.elapsed() >= FIRST_RETRY * 7, "retried with backoff");
    assert!(
        said(
            &lines,
            "reading the registry's log failed (JSON-RPC: eth_getLogs"
        ),
        "{lines:#?}"
    );
    assert_eq!(node.failed, READ_ATTEMPTS);
    assert_eq!(challenger.backlog().node_failures, 1);
    assert!(
        said(&lines, "the node failed 1 poll(s) in a row"),
        "{lines:#?}"
    );

    let (_, by_challenger) = drive(
        &mut node,
        &mut server,
        &mut challenger,
        |server, challenger, _| server.is_idle() && challenger.is_idle(),
    );
    assert_eq!(node.failed, READ_ATTEMPTS + 2);
    assert_eq!(challenger.backlog().node_failures, 0);
    assert!(said(
        &by_challenger,
        &format!("task {tiny}: the result is wrong")
    ));
    assert!(said(&by_challenger, "the challenger won"));
    assert!(first_round_rejected(&mut node, &contracts, tiny));
}

#[test]
fn the_game_with_the_least_clock_left_is_served_first() {
    let mut node = Node::new();
    let contracts = deploy(&mut node);
    let echo = echo();
    // Two lying servers, one task each; the challenger disputes both.
    let first = post(&mut node, &contracts, &echo, &echo_input(b"first"), &[6, 6]);
    let mut server_a = Server::new(account(&node, SERVER), contracts, [echo.clone()], Some(3));
    poll_until(
        &mut server_a,
        &mut node,
        &format!("task {first}: committed a WRONG"),
    );
    let second = post(
        &mut node,
        &contracts,
        &echo,
        &echo_input(b"second"),
        &[6, 6],
    );
    let mut server_b = Server::new(
        account(&node, OTHER_SERVER),
        contracts,
        [echo.clone()],
        Some(3),
    );
    poll_until(
        &mut server_b,
        &mut node,
        &format!("task {second}: committed a WRONG"),
    );
    let mut challenger =
        Challenger::new(account(&node, CHALLENGER), contracts, [echo]).with_max_jobs(1);
    let lines = poll_until(
        &mut challenger,
        &mut node,
        &format!("task {second}: the result is wrong"),
    );
    assert!(said(&lines, "disputed it in game 0") && said(&lines, "disputed it in game 1"));
    // Game 1's root first: from then on the challenger's clock runs in game 1, 100 s longer.
    poll_until(
        &mut server_b,
        &mut node,
        "game 1: committed its top-phase history root",
    );
    node.chain.advance_time(100).unwrap();
    poll_until(
        &mut server_a,
        &mut node,
        "game 0: committed its top-phase history root",
    );

    // Both games wait on the challenger, with one job at a time: game 1 (less clock left,
    // though a higher id) gets the job, game 0 queues.
    let lines = challenger.poll(&mut node).unwrap();
    let game_clock = config().game_clock;
    assert!(
        said(
            &lines,
            &format!(
                "game 0: its move is queued ({game_clock} s left on the clock; 1 job(s) running)"
            )
        ),
        "{lines:#?}"
    );
    assert!(!said(&lines, "game 1: its move is queued"), "{lines:#?}");
    // The backlog says so, in the narration and as a report.
    let backlog = challenger.backlog();
    assert_eq!(
        (
            backlog.tasks_running,
            backlog.games_waiting,
            backlog.jobs_running,
            backlog.jobs_queued
        ),
        (0, 2, 1, 1),
        "{backlog}"
    );
    assert!(
        backlog.steps_left > 0 && backlog.steps_left <= 2 << 12,
        "{backlog}"
    );
    assert_eq!(
        backlog.seconds_left,
        backlog.steps_left.div_ceil(STEPS_PER_SECOND)
    );
    assert!(
        said(
            &lines,
            "backlog: 0 task run(s), 2 game(s) waiting on it, 1 job(s) running and 1 queued"
        ),
        "{lines:#?}"
    );
    // Its move goes out first.
    let lines = poll_until(&mut challenger, &mut node, "game 0: revealed");
    assert!(
        position(&lines, "game 1: revealed") < position(&lines, "game 0: revealed"),
        "{lines:#?}"
    );
}

#[test]
fn an_input_longer_than_the_agent_limit_is_refused() {
    let mut node = Node::new();
    let contracts = deploy(&mut node);
    let commitment = [0x42u8; 32];
    assert!(matches!(
        roles::fetch_input(&mut node, &contracts, commitment, 0, None),
        Err(AgentError::InputUnavailable(c)) if c == commitment
    ));
    // An `InputAvailable` event that claims 4 GiB - 1 bytes for the commitment.
    let event = InputOracle::InputAvailable {
        commitment: B256::from(commitment),
        id: U256::from(9),
        length: u32::MAX,
    };
    let block_number = node.block_number().unwrap();
    node.forged.push(BlockLog {
        block_number,
        log: alloy_primitives::Log {
            address: contracts.oracle,
            data: event.encode_log_data(),
        },
    });
    let refused = roles::fetch_input(&mut node, &contracts, commitment, 0, None);
    assert!(
        matches!(refused, Err(AgentError::InputOverLimit { commitment: c, length })
            if c == commitment && length == u64::from(u32::MAX)),
        "{refused:?}"
    );
    assert!(roles::MAX_INPUT < u32::MAX as usize);
}

#[test]
fn a_chain_whose_clock_stands_still_is_said_once() {
    let mut node = Node::new();
    let contracts = deploy(&mut node);
    let task = post(
        &mut node,
        &contracts,
        &echo(),
        &echo_input(b"right"),
        &[6, 6],
    );
    let mut server = Server::new(account(&node, SERVER), contracts, [echo()], None);
    poll_until(&mut server, &mut node, "committed its result");
    let committed = roles::read_task(&mut node, &contracts, task)
        .unwrap()
        .committedAt;
    let closes = committed + config().challenge_window;
    let now = node.timestamp().unwrap();
    // The first poll after the commitment sees the clock for the first time since... it only
    // waits now; the next one finds the clock where it was.
    let mut lines = Vec::new();
    for _ in 0..3 {
        lines.extend(server.poll(&mut node).unwrap());
    }
    let note = format!(
        "waiting for chain time: task {task}'s challenge window closes at {closes}, the node's \
         clock is at {now} and has not moved since the last poll; on anvil, start it with \
         `--block-time 1`"
    );
    assert_eq!(
        lines.iter().filter(|line| **line == note).count(),
        1,
        "{lines:#?}"
    );
    // Once the clock moves, nothing is said until it stands still again.
    node.chain.advance_time(10).unwrap();
    assert!(server.poll(&mut node).unwrap().is_empty());
    let lines = server.poll(&mut node).unwrap();
    assert!(
        said(&lines, &format!("the node's clock is at {}", now + 10)),
        "{lines:#?}"
    );
    node.chain.advance_time(config().challenge_window).unwrap();
    let lines = server.poll(&mut node).unwrap();
    assert!(
        said(&lines, &format!("task {task}: finalized")),
        "{lines:#?}"
    );
}

#[test]
fn a_server_restarted_mid_game_reruns_its_task_within_its_clock_and_plays_on() {
    let mut node = Node::new();
    let contracts = deploy(&mut node);
    let task = post(
        &mut node,
        &contracts,
        &echo(),
        &echo_input(b"restarted"),
        &[6, 6],
    );
    let server_account = account(&node, SERVER);
    let mut server = Server::new(server_account, contracts, [echo()], Some(3));
    let mut challenger = Challenger::new(account(&node, CHALLENGER), contracts, [echo()]);
    drive(&mut node, &mut server, &mut challenger, |_, _, said_| {
        said(said_, "game 0: revealed")
    });
    // A new process: it knows nothing but the chain, and has no run of the task.
    let mut server = Server::new(server_account, contracts, [echo()], Some(3));
    let (by_server, by_challenger) = drive(
        &mut node,
        &mut server,
        &mut challenger,
        |server, challenger, _| server.is_idle() && challenger.is_idle(),
    );
    assert!(
        said(
            &by_server,
            &format!("task {task}: running it (at most 4096 steps and ")
        ) && said(
            &by_server,
            "until its clock runs out, less 30 s to send its move"
        ),
        "{by_server:#?}"
    );
    assert!(said(&by_server, "game 0: revealed"), "{by_server:#?}");
    assert!(said(&by_challenger, "the challenger won"));
    assert!(first_round_rejected(&mut node, &contracts, task));
}
