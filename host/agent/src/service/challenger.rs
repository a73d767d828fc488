//! The challenger: checks every result of its programs and models and disputes the wrong ones.

use alloy_primitives::Address;
use alloy_sol_types::SolEvent;
use opml_chain::contracts::TaskRegistry;
use opml_chain::{BlockLog, Chain};

use super::desk::{Desk, Progress, config_of};
use super::games::{Hand, Seat};
use super::jobs::Spec;
use super::results::{JobKey, JobOutput};
use super::task_work::{CHALLENGE_RESERVE_S, Commitment, Run, RunBudget, RunState};
use super::{Backlog, SeatReport, Service};
use crate::AgentError;
use crate::deploy::Contracts;
use crate::models::ModelStore;
use crate::player::Player;
use crate::program::Program;
use crate::record::Party;
use crate::roles::{self, DisputeStatus, TaskStatus, id_of};

/// A challenger: checks every result committed for its programs (and for the graph tasks of its
/// models, given with [`with_models`](Self::with_models)) by running the task itself, disputes
/// a wrong one with its bond, plays the game to its end, settles it and withdraws what the
/// registry credits it.
#[derive(Debug)]
pub struct Challenger(Desk);

impl Challenger {
    /// A challenger sending from `account` (a key of the chain it polls) to the suite
    /// `contracts`, checking the results of `programs`.
    pub fn new(
        account: Address,
        contracts: Contracts,
        programs: impl IntoIterator<Item = Program>,
    ) -> Challenger {
        Challenger(Desk::new(
            Party::Challenger,
            account,
            contracts,
            programs,
            None,
        ))
    }

    /// Runs at most `jobs` (at least 1) jobs at a time instead of one per core.
    pub fn with_max_jobs(mut self, jobs: usize) -> Challenger {
        self.0.jobs.set_limit(jobs);
        self
    }

    /// Also checks the results of the graph tasks of `models` (those of the node step
    /// program): it computes the model's run itself and disputes a result whose final graph
    /// state is not its own `S(m)`. A task of another model, or one whose top phase cannot
    /// hold the model's coarse steps, is not checked, saying why.
    pub fn with_models(mut self, models: ModelStore) -> Challenger {
        self.0.models = Some(models);
        self
    }

    /// Takes on every committed result (whether its task is one of its programs' or models',
    /// the task record and posting say) and its own games.
    fn take(desk: &mut Desk, entry: &BlockLog, lines: &mut Vec<String>) {
        let committed = TaskRegistry::ResultCommitted::decode_log(&entry.log)
            .map(|committed| (committed.taskId, committed.round))
            .or_else(|_| {
                TaskRegistry::GraphResultCommitted::decode_log(&entry.log)
                    .map(|committed| (committed.taskId, committed.round))
            });
        if let Ok((task_id, round)) = committed {
            desk.take_task(task_id, entry.block_number, lines);
            // A later round's result is checked again.
            if let (Ok(id), false) = (id_of(task_id), round.is_zero())
                && let Some(task) = desk.tasks.get_mut(&id)
            {
                task.done = false;
            }
        } else if let Ok(challenged) = TaskRegistry::Challenged::decode_log(&entry.log)
            && challenged.challenger == desk.account
        {
            desk.take_game(&challenged, entry.block_number, lines);
        }
    }

    /// Checks the result of task `task_id` at chain time `now`: runs the task (within the
    /// window), compares, and disputes a wrong result once its opening is built. Done once the
    /// check is (its game, if any, is played from then on).
    fn check(
        desk: &mut Desk,
        chain: &mut dyn Chain,
        task_id: u64,
        now: u64,
        lines: &mut Vec<String>,
    ) -> Result<Progress, AgentError> {
        let contracts = desk.contracts;
        let task = roles::read_task(chain, &contracts, task_id)?;
        if TaskStatus::of(&task)? != TaskStatus::Committed
            || !desk.serves(&task)
            || task.server == desk.account
        {
            return Ok(Progress::Done);
        }
        let dispute = roles::read_dispute(chain, &contracts, task_id, task.round, desk.account)?;
        if DisputeStatus::of(&dispute)? != DisputeStatus::None {
            // Disputed already (by an earlier run of this service): its game is a seat.
            return Ok(Progress::Done);
        }
        let closes = task
            .committedAt
            .saturating_add(contracts.config.challenge_window);
        let opening = desk
            .work
            .get_mut(&task_id)
            .and_then(|work| work.opening.take());
        if let Some((player, commitment)) = opening {
            return Challenger::dispute(desk, chain, task_id, &task, player, commitment, lines);
        }
        let config = config_of(&task)?;
        let window = "the challenge window closes";
        desk.abandon_if_late(task_id, now, closes, CHALLENGE_RESERVE_S, window);
        let truth = match desk.work.get(&task_id).map(|work| &work.run) {
            None => {
                let left = closes.saturating_sub(now);
                match RunBudget::new(&config, window, left, CHALLENGE_RESERVE_S, 2) {
                    Ok(budget) => desk.start_run(chain, task_id, &task, budget, lines)?,
                    Err(reason) => {
                        lines.push(format!("task {task_id}: {reason}; not checked"));
                        return Ok(Progress::Done);
                    }
                }
                return Ok(Progress::Pending);
            }
            Some(RunState::Running) => return Ok(Progress::Pending),
            Some(RunState::Failed(reason)) => {
                lines.push(format!("task {task_id}: {reason}; not checked"));
                return Ok(Progress::Done);
            }
            Some(RunState::Done(truth)) => truth,
        };
        let (claimed, own) = (task.finalState.0, truth.final_state_hash());
        if claimed == own {
            lines.push(format!("task {task_id}: checked the result: correct"));
            return Ok(Progress::Done);
        }
        if now >= closes {
            lines.push(format!(
                "task {task_id}: the result is wrong, but its challenge window has closed"
            ));
            return Ok(Progress::Done);
        }
        if !desk.jobs.contains(JobKey::Opening(task_id)) {
            let mut player = Box::new(desk.player(config, truth.clone()));
            let spec = Spec {
                urgency: closes - now,
                steps: truth.steps(),
                deadline: None,
            };
            desk.jobs.submit(JobKey::Opening(task_id), spec, move |_| {
                let commitment = player.top_commitment();
                JobOutput::Opening {
                    task: task_id,
                    player,
                    commitment,
                }
            });
        }
        Ok(Progress::Pending)
    }

    /// Disputes the result of task `task_id` with `player`'s top `commitment`.
    fn dispute(
        desk: &mut Desk,
        chain: &mut dyn Chain,
        task_id: u64,
        task: &TaskRegistry::Task,
        player: Box<Player>,
        commitment: Result<Commitment, AgentError>,
        lines: &mut Vec<String>,
    ) -> Result<Progress, AgentError> {
        let commitment = match commitment {
            Ok(commitment) => commitment,
            Err(error) => {
                lines.push(format!(
                    "task {task_id}: cannot build its top commitment ({error}); not disputed"
                ));
                return Ok(Progress::Done);
            }
        };
        let contracts = desk.contracts;
        let (own, initial_state, what) = match desk.work.get(&task_id).map(|work| &work.run) {
            // A graph task's game starts from its own S(0): no program state to open.
            Some(RunState::Done(truth)) if matches!(truth, Run::Graph { .. }) => {
                (truth.final_state_hash(), &[][..], "final graph state")
            }
            Some(RunState::Done(truth)) => {
                let program = desk
                    .programs
                    .get(&task.programId.0)
                    .ok_or(AgentError::UnknownProgram(task.programId.0))?;
                (
                    truth.final_state_hash(),
                    program.initial_state(),
                    "final state",
                )
            }
            _ => return Err(AgentError::Internal("an opening without its run")),
        };
        let sent = roles::challenge(
            chain,
            &contracts,
            desk.account,
            task_id,
            initial_state,
            commitment.clone(),
        );
        let (game_id, receipt) = match sent {
            Ok(sent) => sent,
            Err(error) => {
                // Kept for the next poll's attempt.
                if let Some(work) = desk.work.get_mut(&task_id) {
                    work.opening = Some((player, Ok(commitment)));
                }
                return Err(error);
            }
        };
        let hand = Hand::Idle {
            player,
            nothing_for: None,
        };
        desk.games.insert(
            game_id,
            Seat::new(task_id, task.round, receipt.block_number, hand),
        );
        lines.push(format!(
            "task {task_id}: the result is wrong ({what} 0x{}, the true one is 0x{}): \
             disputed it in game {game_id} with a bond of {} wei",
            hex::encode(task.finalState.0),
            hex::encode(own),
            contracts.config.challenger_bond
        ));
        Ok(Progress::Done)
    }
}

impl Service for Challenger {
    fn poll(&mut self, chain: &mut dyn Chain) -> Result<Vec<String>, AgentError> {
        self.0.poll(chain, Challenger::take, Challenger::check)
    }

    fn is_idle(&self) -> bool {
        self.0.is_idle()
    }

    fn take_reports(&mut self) -> Vec<SeatReport> {
        std::mem::take(&mut self.0.reports)
    }

    fn start_at_block(&mut self, block: u64) {
        self.0.cursor.start_at(block);
    }

    fn backlog(&self) -> Backlog {
        self.0.backlog()
    }
}
