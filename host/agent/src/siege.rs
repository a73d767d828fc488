//! A siege: an honest server's [`Server`] service defends one correct result against `n`
//! garbage disputes, each opened from its own account with a made-up trace
//! (`docs/game-design.md`, "Incentives"). The test suite plays it to check that the defender
//! wins every game inside its clock, is paid every garbage bond, and shares its off-chain work
//! across the games; `examples/siege_bench.rs` measures that work on large tasks.
//!
//! The garbage challengers alternate two conducts: one plays its made-up trace to the end (and
//! loses at the one-step proof), the next falls silent after a few moves (and loses on time).
//! The driver moves the chain's clock only when nobody can act: no transaction in a round and
//! the server's jobs all done.

use std::time::{Duration, Instant};

use alloy_primitives::{Address, U256};
use opml_chain::Chain;
use opml_game::{PhaseConfig, Work};
use opml_state::{Hash, sha256};
use serde::Serialize;

use crate::AgentError;
use crate::adversary::LyingTrace;
use crate::arena::{clock_left, read_game, send_move};
use crate::deploy::{Contracts, RegistryConfig};
use crate::player::{Conduct, Player};
use crate::program::Program;
use crate::record::{Party, Stage};
use crate::roles::{self, TaskRequest, TaskStatus};
use crate::service::{Server, Service};

/// Rounds after which a siege is called stuck (each round is one poll of the server and one
/// look at every game).
const MAX_ROUNDS: usize = 1_000_000;

/// The accounts before the challengers': deployer, requester, server.
const ROLES: usize = 3;

/// What a siege plays.
#[derive(Clone, Debug)]
pub struct Siege {
    /// The task's program.
    pub program: Program,
    /// Its input.
    pub input: Vec<u8>,
    /// The games' phases.
    pub config: PhaseConfig,
    /// The registry's parameters.
    pub registry: RegistryConfig,
    /// The task's fee, in wei.
    pub fee: U256,
    /// The number of garbage challengers, each with its own account.
    pub challengers: usize,
}

/// One garbage game's end.
#[derive(Clone, Debug, Serialize)]
pub struct SiegeGame {
    /// The game.
    pub id: u64,
    /// The garbage challenger's conduct.
    pub conduct: Conduct,
    /// Who won.
    pub winner: Party,
    /// Seconds left on the server's chess clock at the end.
    pub server_clock_left: u64,
}

/// What a siege came to.
#[derive(Clone, Debug, Serialize)]
pub struct SiegeReport {
    /// Steps of the task's run.
    pub steps: u64,
    /// The games, in the order they were opened.
    pub games: Vec<SiegeGame>,
    /// The server's off-chain work for the task, counted by its run's trace: the run, the top
    /// tree and every game's own work.
    pub server_work: Work,
    /// Whether the result finalized.
    pub finalized: bool,
    /// What the server gained, in wei (its balance after less before; gas is free here).
    pub server_gain: U256,
    /// What each garbage challenger lost, in wei.
    pub challenger_loss: Vec<U256>,
    /// Seconds the server's service spent in its polls (its jobs included, since the driver
    /// waits for them), from the first challenge to the finalization.
    pub defence_s: f64,
    /// Seconds the attackers spent building their made-up top trees.
    pub attack_s: f64,
}

/// Plays `siege` on `chain`, which needs `3 + siege.challengers` accounts: deploys the suite,
/// posts the task, lets the server commit the true result, opens every garbage dispute, and
/// plays until the result is finalized.
pub fn run(chain: &mut dyn Chain, siege: &Siege) -> Result<SiegeReport, AgentError> {
    let accounts = chain.accounts().to_vec();
    if accounts.len() < ROLES + siege.challengers {
        return Err(AgentError::Accounts(accounts.len()));
    }
    let (requester, server_account) = (accounts[1], accounts[2]);
    let challengers = &accounts[ROLES..ROLES + siege.challengers];
    let contracts = Contracts::deploy(chain, accounts[0], siege.registry)?;
    let commitment = roles::publish_input(chain, &contracts, requester, &siege.input)?;
    let request = TaskRequest {
        program_id: siege.program.id(),
        input_commitment: commitment,
        config: siege.config,
        fee: siege.fee,
        deadline: chain.timestamp()? + siege.registry.challenge_window,
    };
    let task_id = roles::post_task(chain, &contracts, requester, &request)?;
    let before = balances(chain, server_account, challengers)?;

    let mut server = Server::new(server_account, contracts, [siege.program.clone()], None);
    let mut defence = Duration::ZERO;
    while status(chain, &contracts, task_id)? != TaskStatus::Committed {
        poll(&mut server, chain, &mut defence)?;
    }
    defence = Duration::ZERO;

    // The attackers: the same run, each lying from its own step to its own made-up end.
    let truth = siege.program.trace(&siege.input, &siege.config)?;
    let steps = truth.end_step();
    let attack = Instant::now();
    let mut seats = Vec::with_capacity(challengers.len());
    for (i, &account) in challengers.iter().enumerate() {
        let conduct = match i % 2 {
            0 => Conduct::Honest,
            _ => Conduct::SilentAfter { moves: 1 + i % 5 },
        };
        let from = 1 + (i as u64 * steps) / challengers.len() as u64;
        let end: Hash = sha256(&(i as u64).to_be_bytes());
        let lie = LyingTrace::about(truth.clone(), from, end);
        let mut player = Player::adversary(
            Party::Challenger,
            siege.config,
            Box::new(lie),
            None,
            conduct,
        );
        let opening = player.top_commitment()?;
        let initial = siege.program.initial_state();
        let (game, _) = roles::challenge(chain, &contracts, account, task_id, initial, opening)?;
        seats.push((game, account, conduct, player));
    }
    let attack_s = attack.elapsed().as_secs_f64();

    let mut finalized = false;
    for _ in 0..MAX_ROUNDS {
        let block = chain.block_number()?;
        poll(&mut server, chain, &mut defence)?;
        let mut waits = Vec::new();
        for (game, account, _, player) in &mut seats {
            let record = read_game(chain, &contracts, *game)?;
            if record.stage == Stage::Resolved {
                continue;
            }
            let left = clock_left(chain, &contracts, *game)?;
            if let Some(mv) = player.next_move(&record, left)? {
                send_move(chain, &contracts, *game, *account, player, &mv)?;
            } else if record.turn == Party::Challenger {
                waits.push(left);
            }
        }
        let task = roles::read_task(chain, &contracts, task_id)?;
        if TaskStatus::of(&task)? == TaskStatus::Finalized && server.is_idle() {
            finalized = true;
            break;
        }
        if chain.block_number()? != block || server.backlog().is_busy() {
            continue;
        }
        // Nobody can act: a silent challenger's clock, or the window, must run out.
        let now = chain.timestamp()?;
        let closes = task.committedAt + siege.registry.challenge_window;
        let wait = waits
            .into_iter()
            .min()
            .unwrap_or(closes.saturating_sub(now));
        chain.advance_time(wait + 1)?;
    }
    let defence_s = defence.as_secs_f64();
    let games = seats
        .iter()
        .map(|(game, _, conduct, _)| {
            let record = read_game(chain, &contracts, *game)?;
            Ok(SiegeGame {
                id: *game,
                conduct: *conduct,
                winner: record.winner,
                server_clock_left: record.claimant_clock,
            })
        })
        .collect::<Result<Vec<_>, AgentError>>()?;
    let server_work = server
        .take_reports()
        .iter()
        .filter_map(|report| report.task_work)
        .max_by_key(|work| (work.steps_run, work.states_hashed))
        .unwrap_or_default();
    let after = balances(chain, server_account, challengers)?;
    Ok(SiegeReport {
        steps,
        games,
        server_work,
        finalized,
        server_gain: after[0].saturating_sub(before[0]),
        challenger_loss: before[1..]
            .iter()
            .zip(&after[1..])
            .map(|(before, after)| before.saturating_sub(*after))
            .collect(),
        defence_s,
        attack_s,
    })
}

/// The balances of `server` and then of each of `challengers`.
fn balances(
    chain: &mut dyn Chain,
    server: Address,
    challengers: &[Address],
) -> Result<Vec<U256>, AgentError> {
    std::iter::once(&server)
        .chain(challengers)
        .map(|&account| Ok(chain.balance(account)?))
        .collect()
}

/// The status of task `task_id`.
fn status(
    chain: &mut dyn Chain,
    contracts: &Contracts,
    task_id: u64,
) -> Result<TaskStatus, AgentError> {
    TaskStatus::of(&roles::read_task(chain, contracts, task_id)?)
}

/// One poll of `server`, its time added to `spent`; then a moment for its jobs if it has some
/// running.
fn poll(
    server: &mut Server,
    chain: &mut dyn Chain,
    spent: &mut Duration,
) -> Result<(), AgentError> {
    let started = Instant::now();
    server.poll(chain)?;
    *spent += started.elapsed();
    if server.backlog().is_busy() {
        std::thread::sleep(Duration::from_millis(1));
        *spent += Duration::from_millis(1);
    }
    Ok(())
}
