//! What the service tests share: a server and a challenger played to the end, polling a
//! service, reading a task, an anvil with one connection per role.

use std::time::{Duration, Instant};

use alloy_primitives::{Address, U256};
use opml_agent::roles::{self, TaskStatus};
use opml_agent::service::{Challenger, Server, Service};
use opml_agent::{Contracts, deploy};
use opml_chain::contracts::TaskRegistry;
use opml_chain::{Anvil, Chain, RpcChain};

/// How long the services' jobs may run in a test before it gives up.
const PATIENCE: Duration = Duration::from_secs(1800);

/// What each service said.
#[derive(Default)]
pub(crate) struct Transcript {
    pub(crate) server: Vec<String>,
    pub(crate) challenger: Vec<String>,
}

/// Whether any of `lines` contains `text`.
pub(crate) fn said(lines: &[String], text: &str) -> bool {
    lines.iter().any(|line| line.contains(text))
}

/// Polls the server (unless it is `away`) and the challenger in turn until both are idle;
/// moves the clock on by `game_clock + 1` seconds (past the challenge window, or a game clock)
/// whenever nobody acted and no job is running, and only pauses while a job is.
pub(crate) fn run(
    clock: &mut dyn Chain,
    (server, server_chain): (&mut Server, &mut dyn Chain),
    (challenger, challenger_chain): (&mut Challenger, &mut dyn Chain),
    away: bool,
    game_clock: u64,
) -> Transcript {
    let mut transcript = Transcript::default();
    let started = Instant::now();
    let mut rounds = 0;
    while rounds < 400 && started.elapsed() < PATIENCE {
        let mut acted = false;
        let mut busy = challenger.backlog().is_busy();
        if !away {
            let lines = server.poll(server_chain).expect("the server polls");
            acted |= !lines.is_empty();
            busy |= server.backlog().is_busy();
            transcript.server.extend(lines);
        }
        let lines = challenger
            .poll(challenger_chain)
            .expect("the challenger polls");
        acted |= !lines.is_empty();
        busy |= challenger.backlog().is_busy();
        transcript.challenger.extend(lines);
        if challenger.is_idle() && (away || server.is_idle()) {
            return transcript;
        }
        if acted {
            rounds += 1;
        } else if busy {
            std::thread::sleep(Duration::from_millis(2));
        } else {
            rounds += 1;
            clock.advance_time(game_clock + 1).unwrap();
        }
    }
    panic!(
        "the services did not finish:\nserver: {:#?}\nchallenger: {:#?}",
        transcript.server, transcript.challenger
    );
}

/// Polls `service` once, and again while the jobs it started run (as `opml serve --once`
/// does); returns everything it said.
pub(crate) fn poll_once(service: &mut dyn Service, chain: &mut dyn Chain) -> Vec<String> {
    let started = Instant::now();
    let mut lines = Vec::new();
    while started.elapsed() < PATIENCE {
        lines.extend(service.poll(chain).expect("the service polls"));
        if !service.backlog().is_busy() {
            return lines;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    panic!("the service's jobs did not finish: {lines:#?}");
}

/// The output task `task` stands on.
pub(crate) fn output_of(chain: &mut dyn Chain, contracts: &Contracts, task: u64) -> Vec<u8> {
    let call = TaskRegistry::outputOfCall {
        taskId: U256::from(task),
    };
    deploy::view(chain, Address::ZERO, contracts.registry, call)
        .unwrap()
        .to_vec()
}

/// Task `task`'s status.
pub(crate) fn status(chain: &mut dyn Chain, contracts: &Contracts, task: u64) -> TaskStatus {
    TaskStatus::of(&roles::read_task(chain, contracts, task).unwrap()).unwrap()
}

/// Anvil, a connection with every dev key (the requester's and the clock's), and one for
/// each of the server (key 2) and the challenger (key 3).
pub(crate) fn anvil() -> (Anvil, RpcChain, RpcChain, RpcChain) {
    let anvil =
        Anvil::spawn().expect("anvil starts (install it with toolchain/scripts/install.sh)");
    let all = anvil.connect().unwrap();
    let server = RpcChain::connect(anvil.url(), &anvil.keys()[2..3]).unwrap();
    let challenger = RpcChain::connect(anvil.url(), &anvil.keys()[3..4]).unwrap();
    (anvil, all, server, challenger)
}
