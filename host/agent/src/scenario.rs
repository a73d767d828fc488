//! The whole opML story on one chain, with every role in this process: a requester posts a
//! task, a server commits a result, a challenger checks it and disputes it if it is wrong, the
//! game runs to its verdict, and the bonds move. A rejected round reopens the task, and an
//! honest server (the deployer's account) commits the true result in round 1. `opml demo`, the adversarial suite and the
//! benchmarks all run this.

use std::sync::Arc;
use std::time::Instant;

use alloy_primitives::{Address, U256, keccak256};
use opml_chain::Chain;
use opml_dnn::phase::state as graph_state;
use opml_game::{ConfigError, PhaseConfig, ProgramTrace, Top, Trace};
use opml_graph::GraphPhase;
use opml_state::{Hash, sha256};
use serde::Serialize;

use crate::AgentError;
use crate::adversary::{LyingTrace, final_state_with_output, wrong_final_state};
use crate::arena::{GameEvent, GameReport, play};
use crate::deploy::{Contracts, RegistryConfig};
use crate::player::{Conduct, Player};
use crate::program::Program;
use crate::record::Party;
use crate::roles;

/// The fee a requester pays in the scenario: 0.1 ether.
pub const FEE_WEI: u128 = 100_000_000_000_000_000;

/// Who lies, from which step, and how it plays.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Adversary {
    /// The lying side: the server (claimant) claims a wrong output, or a challenger disputes
    /// a correct one.
    pub side: Party,
    /// The first step of its trace that differs from the true run (clamped to `1..=T`).
    pub from_step: u64,
    /// How it plays.
    pub conduct: Conduct,
}

/// One run of the story.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// The task's program; for a graph task, its node step program.
    pub program: Program,
    /// The task's input; for a graph task, the graph inputs' data.
    pub input: Vec<u8>,
    /// `Some(.opml file)`: a graph task (two-phase DNN inference, `docs/dnn.md`, "Graph
    /// phase") of this model on `input`; its top phase is the graph phase and
    /// `program` must be `opml_graph`'s node step program. An adversary's `from_step` is
    /// then the coarse step its run departs from (a node's output altered).
    pub model: Option<Arc<[u8]>>,
    /// The games' phases.
    pub config: PhaseConfig,
    /// The registry's bonds, window and clocks.
    pub registry: RegistryConfig,
    /// The liar (`None`: an honest server and no dispute).
    pub adversary: Option<Adversary>,
    /// The output a lying server claims (`None`: the true output with its last byte flipped).
    pub claimed_output: Option<Vec<u8>>,
    /// Seconds that pass between the challenge and the server's first answer (a server that
    /// joins the game late; it must still win within its clock when it is right).
    pub late_join_s: u64,
    /// A graph task's runs computed beforehand, used instead of running the model again: the
    /// honest run, and the adversary's (which may depart in any way, a lazy server's say;
    /// without it, the adversary alters the output of the node at `from_step`).
    pub runs: GraphRuns,
}

impl Scenario {
    /// The story of `program` on `input` with sensible defaults: phases sized to the run
    /// ([`default_phases`]), the default registry ([`RegistryConfig::default`]) and an honest
    /// server, so nothing is disputed until a liar is named ([`Scenario::with_liar`]). Runs
    /// the program once to size the phases (a program that never halts never returns).
    ///
    /// A whole dispute of your own program inside a test, on the embedded EVM:
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # if !opml_methods::GUESTS_BUILT { return Ok(()); }
    /// use opml_agent::{Party, Program, Scenario};
    ///
    /// let input = echo::raw_input(b"dispute me");
    /// let report = Scenario::new(Program::new(opml_methods::ECHO_ELF)?, input)?
    ///     .with_liar(Party::Claimant)? // the server claims a wrong output
    ///     .play()?;                    // deploy, post, commit, dispute, settle, withdraw
    /// assert!(report.honest_won && !report.finalized); // round 0 rejected, round 1 final
    /// assert_eq!(report.true_output, hex::encode(b"em etupsid"));
    /// # Ok(())
    /// # }
    /// ```
    pub fn new(program: Program, input: impl Into<Vec<u8>>) -> Result<Scenario, AgentError> {
        let input = input.into();
        let steps = true_steps(&program, &input)?;
        Ok(Scenario {
            program,
            input,
            model: None,
            config: default_phases(steps)?,
            registry: RegistryConfig::default(),
            adversary: None,
            claimed_output: None,
            late_join_s: 0,
            runs: GraphRuns::default(),
        })
    }

    /// The same story with `side` lying: a server ([`Party::Claimant`]) claiming a wrong
    /// output, or a challenger disputing the true one; its trace departs from the true run two
    /// thirds into it and it plays by the rules. Runs the program once more to find that step;
    /// set [`Scenario::adversary`] yourself for another step or conduct.
    pub fn with_liar(mut self, side: Party) -> Result<Scenario, AgentError> {
        let steps = true_steps(&self.program, &self.input)?;
        self.adversary = Some(Adversary {
            side,
            from_step: (steps * 2 / 3).clamp(1, steps.max(1)),
            conduct: Conduct::Honest,
        });
        Ok(self)
    }

    /// The same story with the games' phases `config` (e.g. `PhaseConfig::new(&[8, 8])?`).
    pub fn with_phases(mut self, config: PhaseConfig) -> Scenario {
        self.config = config;
        self
    }

    /// Plays the story on a fresh embedded EVM ([`opml_chain::EmbeddedChain`]); see [`run`]
    /// for another chain or to watch its events.
    pub fn play(&self) -> Result<DisputeReport, AgentError> {
        run(&mut opml_chain::EmbeddedChain::new(), self, &mut |_| {})
    }
}

/// The default phases of a VM task whose run takes `steps` steps: three phases, the two lower
/// of height 8, above 2^18 steps; two phases of about equal height below.
pub fn default_phases(steps: u64) -> Result<PhaseConfig, ConfigError> {
    let total = 64 - steps.leading_zeros();
    let heights: Vec<u8> = if total > 18 {
        vec![(total - 16) as u8, 8, 8]
    } else {
        vec![(total - total / 2) as u8, (total / 2).max(1) as u8]
    };
    PhaseConfig::new(&heights)
}

/// Steps of the true run of `program` on `input`, to its halt.
fn true_steps(program: &Program, input: &[u8]) -> Result<u64, AgentError> {
    let mut machine = program.machine(input)?;
    machine.run(u64::MAX);
    Ok(machine.step_count())
}

/// A graph task's runs computed beforehand (see [`Scenario::runs`]).
#[derive(Clone, Debug, Default)]
pub struct GraphRuns {
    /// The honest run.
    pub honest: Option<GraphPhase>,
    /// The adversary's run.
    pub lying: Option<GraphPhase>,
}

/// Something that happened in the story.
#[derive(Debug)]
pub enum Event<'a> {
    /// The contracts are deployed.
    Deployed(&'a Contracts),
    /// The honest run is known (the server and the challenger each ran it).
    Executed {
        /// Steps to the halt.
        steps: u64,
        /// The true output.
        output: &'a [u8],
    },
    /// The requester published the input and posted the task.
    TaskPosted {
        /// Task id.
        task_id: u64,
        /// Input commitment.
        input_commitment: Hash,
    },
    /// The server committed a result.
    ResultCommitted {
        /// The committed output.
        output: &'a [u8],
        /// Whether it is the true output.
        honest: bool,
    },
    /// The challenger found the result right and stayed out.
    NoDispute,
    /// A challenger opened game `game_id`.
    Challenged {
        /// The game.
        game_id: u64,
    },
    /// A move or turn of the game.
    Game(&'a GameEvent<'a>),
    /// The verdict was applied and the task settled.
    Settled {
        /// Whether the challenger won.
        challenger_won: bool,
    },
    /// Round 0 was rejected: the server's bond was split and the winner collected.
    Rejected {
        /// Credited to the requester as compensation.
        to_requester: U256,
        /// Burned.
        burned: U256,
        /// Credited to the winning challenger: its bond and the whole pool.
        to_challenger: U256,
    },
    /// The task reopened and an honest server's result in round 1 finalized.
    Recommitted,
    /// `role` withdrew `amount` wei.
    Withdrawn {
        /// Which role.
        role: &'static str,
        /// Wei.
        amount: U256,
    },
}

/// What each role paid into the registry and took out of it, in wei.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Ledger {
    /// Fee paid / refunds withdrawn by the requester.
    pub requester: Flow,
    /// Bond paid / bond, fee and winnings withdrawn by the server.
    pub server: Flow,
    /// Bond paid / bond and winnings withdrawn by the challenger.
    pub challenger: Flow,
    /// Bond paid / bond and fee withdrawn by the honest server of round 1 (after a rejection).
    pub second_server: Flow,
    /// Wei the registry burned (held by it, credited to nobody).
    pub burned: String,
    /// The registry's balance after every withdrawal (equal to `burned` on a fresh registry).
    pub registry_balance_after: String,
}

/// Money in and out for one role.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Flow {
    /// Wei sent to the registry.
    pub paid: String,
    /// Wei withdrawn from it.
    pub withdrawn: String,
}

/// The report of one run of the story (`opml demo --json`).
#[derive(Clone, Debug, Serialize)]
pub struct DisputeReport {
    /// Program ID, hex.
    pub program_id: String,
    /// Input commitment, hex.
    pub input_commitment: String,
    /// Phase heights, top first.
    pub heights: Vec<u8>,
    /// The true run's length in steps.
    pub steps: u64,
    /// The true output, hex.
    pub true_output: String,
    /// The committed output, hex.
    pub committed_output: String,
    /// The liar, if any.
    pub adversary: Option<Adversary>,
    /// The game, if one was played.
    pub game: Option<GameReport>,
    /// Whether the task ended finalized (else rejected).
    pub finalized: bool,
    /// Whether the honest side won (or no dispute was needed).
    pub honest_won: bool,
    /// Money in and out.
    pub ledger: Ledger,
    /// Seconds running the program before the dispute (both parties).
    pub execute_s: f64,
    /// Wall time of everything, seconds.
    pub wall_s: f64,
}

/// The accounts the roles use: the chain's first four.
struct Roles {
    deployer: Address,
    requester: Address,
    server: Address,
    challenger: Address,
}

impl Roles {
    /// The chain's first four accounts.
    fn of(chain: &dyn Chain) -> Result<Roles, AgentError> {
        match *chain.accounts() {
            [deployer, requester, server, challenger, ..] => Ok(Roles {
                deployer,
                requester,
                server,
                challenger,
            }),
            ref accounts => Err(AgentError::Accounts(accounts.len())),
        }
    }
}

/// Runs `scenario` on `chain` (deploying the contracts first), telling `observer` each event.
pub fn run(
    chain: &mut dyn Chain,
    scenario: &Scenario,
    observer: &mut dyn FnMut(&Event<'_>),
) -> Result<DisputeReport, AgentError> {
    let roles = Roles::of(chain)?;
    let contracts = Contracts::deploy(chain, roles.deployer, scenario.registry)?;
    observer(&Event::Deployed(&contracts));
    run_on(chain, &contracts, scenario, observer)
}

/// Runs `scenario` against already deployed `contracts`.
pub fn run_on(
    chain: &mut dyn Chain,
    contracts: &Contracts,
    scenario: &Scenario,
    observer: &mut dyn FnMut(&Event<'_>),
) -> Result<DisputeReport, AgentError> {
    let started = Instant::now();
    let roles = Roles::of(chain)?;
    let config = &scenario.config;
    let program = &scenario.program;
    let top = match scenario.model {
        Some(_) => Top::Program,
        None => Top::Vm,
    };
    if config.top() != top {
        return Err(AgentError::ConfigMismatch);
    }

    // Both sides run the task (a liar runs it too, to know where to lie).
    let executing = Instant::now();
    let graph = match &scenario.model {
        Some(model) => match &scenario.runs.honest {
            Some(run) => Some(run.clone()),
            None => Some(GraphPhase::new(model, &scenario.input)?),
        },
        None => None,
    };
    let vm = match graph {
        Some(_) => None,
        None => {
            let server_truth = program.trace(&scenario.input, config)?;
            let challenger_truth = program.trace(&scenario.input, config)?;
            if !server_truth.status().is_halted() {
                return Err(AgentError::NoHalt(config.total_steps()));
            }
            Some((server_truth, challenger_truth))
        }
    };
    let execute_s = executing.elapsed().as_secs_f64();
    let vm_final = vm.as_ref().map(|(truth, _)| truth.final_state().clone());
    let (true_output, steps) = match (&graph, &vm) {
        (Some(phase), _) => (
            phase
                .run()
                .output()
                .ok_or(AgentError::Internal("the graph task's input is refused"))?
                .to_vec(),
            phase.step_count(),
        ),
        (None, Some((truth, _))) => (truth.output().to_vec(), truth.final_state().step),
        (None, None) => return Err(AgentError::Internal("no run")),
    };
    observer(&Event::Executed {
        steps,
        output: &true_output,
    });

    // The requester publishes the input and posts the task.
    let fee = U256::from(FEE_WEI);
    let deadline = chain.timestamp()? + 7 * 86_400;
    let (task_id, commitment) = match &graph {
        Some(phase) => {
            let request = roles::GraphRequest {
                step_program: program.id(),
                model_root: *phase.run().model_root(),
                input: scenario.input.clone(),
                config: *config,
                fee,
                deadline,
            };
            let task_id = roles::post_graph_task(chain, contracts, roles.requester, &request)?;
            (task_id, *phase.run().task())
        }
        None => {
            let commitment =
                roles::publish_input(chain, contracts, roles.requester, &scenario.input)?;
            let request = roles::TaskRequest {
                program_id: program.id(),
                input_commitment: commitment,
                config: *config,
                fee,
                deadline,
            };
            let task_id = roles::post_task(chain, contracts, roles.requester, &request)?;
            (task_id, commitment)
        }
    };
    observer(&Event::TaskPosted {
        task_id,
        input_commitment: commitment,
    });

    // The server commits its result: the truth, or a wrong output that looks like a valid run.
    let adversary = scenario.adversary;
    let lying_server = adversary.filter(|a| a.side == Party::Claimant);
    let lying_challenger = adversary.filter(|a| a.side == Party::Challenger);
    let (claim_hash, claim_output) = match (&graph, &vm) {
        (Some(honest), _) => {
            let (output, values) = match lying_server {
                Some(liar) => {
                    let output = scenario.claimed_output.clone().unwrap_or_else(|| {
                        let mut wrong = true_output.clone();
                        if let Some(last) = wrong.last_mut() {
                            *last ^= 1;
                        }
                        wrong
                    });
                    let (phase, _) = lying_graph(scenario, honest, liar.from_step)?;
                    (output, phase.run().values().root())
                }
                None => (true_output.clone(), honest.run().values().root()),
            };
            roles::commit_graph_result(chain, contracts, roles.server, task_id, &values, &output)?;
            let task = honest.run().task();
            let end = graph_state::state(task, &values, &graph_state::byte_commitment(&output));
            (end, output)
        }
        (None, Some((truth, _))) => {
            let true_final = truth.final_state();
            let (claim_state, claim_hash, claim_output) = match lying_server {
                Some(_) => match &scenario.claimed_output {
                    Some(claimed) => {
                        let (data, hash) = final_state_with_output(true_final, claimed);
                        (data, hash, claimed.clone())
                    }
                    None => wrong_final_state(true_final, &true_output),
                },
                None => {
                    let data = true_final.encode().to_vec();
                    let hash = sha256(&data);
                    (data, hash, true_output.clone())
                }
            };
            roles::commit_result(
                chain,
                contracts,
                roles.server,
                task_id,
                &claim_state,
                &claim_output,
            )?;
            (claim_hash, claim_output)
        }
        (None, None) => return Err(AgentError::Internal("no run")),
    };
    observer(&Event::ResultCommitted {
        output: &claim_output,
        honest: lying_server.is_none(),
    });

    // The challenger compares the committed final state with its own run.
    let task = roles::read_task(chain, contracts, task_id)?;
    let own_final = match (&graph, &vm) {
        (Some(phase), _) => phase.state(steps),
        (None, Some((_, truth))) => truth.final_state_hash(),
        (None, None) => return Err(AgentError::Internal("no run")),
    };
    let disputes = task.finalState.0 != own_final || lying_challenger.is_some();
    let mut game = None;
    let mut challenger_won = false;
    let mut before = (U256::ZERO, U256::ZERO, U256::ZERO);
    if disputes {
        let wrong_end = keccak256(claim_hash).0;
        let (mut claimant, mut challenger) = match (&graph, vm) {
            (Some(honest), _) => (
                graph_player(scenario, Party::Claimant, honest, lying_server, claim_hash)?,
                graph_player(
                    scenario,
                    Party::Challenger,
                    honest,
                    lying_challenger,
                    wrong_end,
                )?,
            ),
            (None, Some((server_truth, challenger_truth))) => (
                player(
                    scenario,
                    Party::Claimant,
                    server_truth,
                    lying_server,
                    claim_hash,
                )?,
                player(
                    scenario,
                    Party::Challenger,
                    challenger_truth,
                    lying_challenger,
                    wrong_end,
                )?,
            ),
            (None, None) => return Err(AgentError::Internal("no run")),
        };
        // A graph task's game starts from its own S(0): no program state to open.
        let initial_state = match graph {
            Some(_) => &[][..],
            None => program.initial_state(),
        };
        let (game_id, _) = roles::challenge(
            chain,
            contracts,
            roles.challenger,
            task_id,
            initial_state,
            challenger.top_commitment()?,
        )?;
        observer(&Event::Challenged { game_id });
        if scenario.late_join_s > 0 {
            chain.advance_time(scenario.late_join_s)?;
        }
        let report = play(
            chain,
            contracts,
            game_id,
            &mut claimant,
            &mut challenger,
            &mut |e| observer(&Event::Game(e)),
        )?;
        challenger_won = report.winner == Party::Challenger;
        game = Some(report);
        // The split of a rejected server's bond is credited when the dispute is settled.
        before = (
            roles::credit(chain, contracts, roles.requester)?,
            roles::burned(chain, contracts)?,
            roles::credit(chain, contracts, roles.challenger)?,
        );
        roles::settle(
            chain,
            contracts,
            roles.deployer,
            task_id,
            0,
            roles.challenger,
        )?;
    } else {
        observer(&Event::NoDispute);
    }
    observer(&Event::Settled { challenger_won });
    let mut recommitted = false;
    if challenger_won {
        // Round 0 is rejected and closed (its only dispute is settled): the winner collects;
        // the task reopened and an honest server commits the true result in round 1.
        let (requester_before, burned_before, challenger_before) = before;
        roles::collect(
            chain,
            contracts,
            roles.deployer,
            task_id,
            0,
            roles.challenger,
        )?;
        observer(&Event::Rejected {
            to_requester: roles::credit(chain, contracts, roles.requester)? - requester_before,
            burned: roles::burned(chain, contracts)? - burned_before,
            to_challenger: roles::credit(chain, contracts, roles.challenger)? - challenger_before,
        });
        let task = roles::read_task(chain, contracts, task_id)?;
        if roles::TaskStatus::of(&task)? == roles::TaskStatus::Open {
            let server = roles.deployer;
            match &graph {
                Some(phase) => {
                    let values = phase.run().values().root();
                    roles::commit_graph_result(
                        chain,
                        contracts,
                        server,
                        task_id,
                        &values,
                        &true_output,
                    )?;
                }
                None => {
                    let data = vm_final
                        .as_ref()
                        .ok_or(AgentError::Internal("no run"))?
                        .encode()
                        .to_vec();
                    roles::commit_result(chain, contracts, server, task_id, &data, &true_output)?;
                }
            }
            recommitted = true;
        }
    }
    if !challenger_won || recommitted {
        // The window must pass before the result finalizes.
        let task = roles::read_task(chain, contracts, task_id)?;
        let closes = task.committedAt + contracts.config.challenge_window;
        let now = chain.timestamp()?;
        if now <= closes {
            chain.advance_time(closes - now + 1)?;
        }
        roles::finalize(chain, contracts, roles.deployer, task_id)?;
    }
    if recommitted {
        observer(&Event::Recommitted);
    }

    // Everyone withdraws what the registry credited.
    let mut ledger = Ledger::default();
    let bonds = contracts.config;
    let disputed = game.is_some();
    for (role, account, paid, flow) in [
        ("requester", roles.requester, fee, &mut ledger.requester),
        (
            "server",
            roles.server,
            bonds.server_bond,
            &mut ledger.server,
        ),
        (
            "challenger",
            roles.challenger,
            if disputed {
                bonds.challenger_bond
            } else {
                U256::ZERO
            },
            &mut ledger.challenger,
        ),
        (
            "second server",
            roles.deployer,
            if recommitted {
                bonds.server_bond
            } else {
                U256::ZERO
            },
            &mut ledger.second_server,
        ),
    ] {
        let amount = roles::withdraw(chain, contracts, account)?;
        observer(&Event::Withdrawn { role, amount });
        *flow = Flow {
            paid: paid.to_string(),
            withdrawn: amount.to_string(),
        };
    }
    ledger.burned = roles::burned(chain, contracts)?.to_string();
    ledger.registry_balance_after = chain.balance(contracts.registry)?.to_string();

    let honest_won = match adversary {
        None => !challenger_won && !disputed,
        Some(a) => (a.side == Party::Claimant) == challenger_won,
    };
    Ok(DisputeReport {
        program_id: hex::encode(program.id()),
        input_commitment: hex::encode(commitment),
        heights: config.heights().to_vec(),
        steps,
        true_output: hex::encode(&true_output),
        committed_output: hex::encode(&claim_output),
        adversary,
        game,
        finalized: !challenger_won,
        honest_won,
        ledger,
        execute_s,
        wall_s: started.elapsed().as_secs_f64(),
    })
}

/// The run a graph liar departing at coarse step `from_step` plays: the model's run with
/// node `from_step − 2` altered (every later state following from it) when that is a node,
/// else the honest run; and whether it is altered.
fn lying_graph(
    scenario: &Scenario,
    honest: &GraphPhase,
    from_step: u64,
) -> Result<(GraphPhase, bool), AgentError> {
    if let Some(run) = &scenario.runs.lying {
        return Ok((run.clone(), true));
    }
    let m = honest.step_count();
    match (&scenario.model, from_step) {
        (Some(model), j) if j >= 2 && j < m => {
            let node = u32::try_from(j - 2).map_err(|_| AgentError::Internal("node index"))?;
            Ok((GraphPhase::with_fault(model, &scenario.input, node)?, true))
        }
        _ => Ok((honest.clone(), false)),
    }
}

/// A side's player in a graph task's game: honest on the model's run, or the adversary's
/// run (see [`lying_graph`]) ending in `wrong_end`.
fn graph_player(
    scenario: &Scenario,
    side: Party,
    honest: &GraphPhase,
    adversary: Option<Adversary>,
    wrong_end: Hash,
) -> Result<Player, AgentError> {
    let config = scenario.config;
    let step_program = scenario.program.clone();
    let Some(adversary) = adversary else {
        return Ok(Player::honest_graph(
            side,
            config,
            honest.clone(),
            step_program,
        ));
    };
    let m = honest.step_count();
    let (phase, altered) = lying_graph(scenario, honest, adversary.from_step)?;
    // An altered run lies from its node on by itself; its end is the claimed one. Otherwise
    // the lie starts at `from_step`.
    let from = if altered {
        m
    } else {
        adversary.from_step.clamp(1, m)
    };
    let trace: Box<dyn Trace + Send> = if side == Party::Challenger && altered {
        Box::new(ProgramTrace::new(phase))
    } else {
        Box::new(LyingTrace::new(
            ProgramTrace::new(phase),
            from,
            m,
            wrong_end,
        ))
    };
    let truth: Option<Box<dyn Trace + Send>> = match adversary.conduct {
        Conduct::Inconsistent { .. } => Some(Box::new(ProgramTrace::new(honest.clone()))),
        _ => None,
    };
    let player = Player::adversary(side, config, trace, truth, adversary.conduct);
    Ok(player.with_step_program(step_program))
}

/// A side's player: honest on its true trace, or the adversary's lie (ending in `wrong_end`
/// from the true halting step on) and conduct.
fn player(
    scenario: &Scenario,
    side: Party,
    truth: opml_game::VmTrace,
    adversary: Option<Adversary>,
    wrong_end: Hash,
) -> Result<Player, AgentError> {
    let config = scenario.config;
    let Some(adversary) = adversary else {
        return Ok(Player::honest(side, config, Box::new(truth)));
    };
    let trace: Box<dyn Trace + Send> =
        Box::new(LyingTrace::about(truth, adversary.from_step, wrong_end));
    let second_truth: Option<Box<dyn Trace + Send>> = match adversary.conduct {
        Conduct::Inconsistent { .. } => {
            Some(Box::new(scenario.program.trace(&scenario.input, &config)?))
        }
        _ => None,
    };
    Ok(Player::adversary(
        side,
        config,
        trace,
        second_truth,
        adversary.conduct,
    ))
}
