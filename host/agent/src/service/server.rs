//! The server: runs the open tasks of its programs and models, commits the results, finalizes
//! them.

use alloy_primitives::Address;
use alloy_sol_types::SolEvent;
use opml_chain::contracts::TaskRegistry;
use opml_chain::{BlockLog, Chain};

use super::desk::{Desk, Progress};
use super::graph_tasks::refusal;
use super::task_work::{COMMIT_RESERVE_S, Run, RunBudget, RunState};
use super::{Backlog, SeatReport, Service};
use crate::AgentError;
use crate::adversary::wrong_final_state;
use crate::deploy::Contracts;
use crate::models::ModelStore;
use crate::program::Program;
use crate::record::Party;
use crate::roles::{self, TaskStatus, id_of};

/// A server: runs the open tasks of its programs (and the graph tasks of its models, given
/// with [`with_models`](Self::with_models)), commits the results with its bond, defends them
/// in every dispute, finalizes them after the challenge window, and withdraws what the
/// registry credits it.
#[derive(Debug)]
pub struct Server(Desk);

impl Server {
    /// A server sending from `account` (a key of the chain it polls) to the suite `contracts`,
    /// serving the tasks of `programs`. `lie_from_step`, for testing challengers: commit a
    /// wrong output instead (`adversary::wrong_final_state`) and defend it with a trace that
    /// leaves the true run at that step (a graph task's lie: [`with_models`](Self::with_models)).
    pub fn new(
        account: Address,
        contracts: Contracts,
        programs: impl IntoIterator<Item = Program>,
        lie_from_step: Option<u64>,
    ) -> Server {
        Server(Desk::new(
            Party::Claimant,
            account,
            contracts,
            programs,
            lie_from_step,
        ))
    }

    /// Runs at most `jobs` (at least 1) jobs at a time instead of one per core.
    pub fn with_max_jobs(mut self, jobs: usize) -> Server {
        self.0.jobs.set_limit(jobs);
        self
    }

    /// Also serves the graph tasks of `models` (those of the node step program): a task of
    /// another model, one whose input the model refuses, or one whose top phase cannot hold
    /// the model's coarse steps is refused, saying why. A lying server (`lie_from_step`)
    /// alters the output of node `lie_from_step − 2` (the coarse step's node, clamped to the
    /// graph's nodes), commits the run that follows from it and defends that run.
    pub fn with_models(mut self, models: ModelStore) -> Server {
        self.0.models = Some(models);
        self
    }

    /// Takes on the tasks of its programs and models, and the games on the tasks it serves.
    fn take(desk: &mut Desk, entry: &BlockLog, lines: &mut Vec<String>) {
        if let Ok(posted) = TaskRegistry::TaskPosted::decode_log(&entry.log) {
            if desk.programs.contains_key(&posted.programId.0) {
                desk.take_task(posted.taskId, entry.block_number, lines);
            }
        } else if let Ok(posted) = TaskRegistry::GraphTaskPosted::decode_log(&entry.log)
            && desk.models.is_some()
        {
            // Whether it has the model, and whether the model takes the input, its run says.
            let id = posted.taskId;
            if posted.stepProgram.0 != opml_graph::STEP_PROGRAM_ID {
                lines.push(format!(
                    "task {id}: a graph task of step program 0x{}, not the node step \
                     program; skipped",
                    hex::encode(posted.stepProgram)
                ));
            } else {
                desk.take_task(id, entry.block_number, lines);
            }
        } else if let Ok(challenged) = TaskRegistry::Challenged::decode_log(&entry.log) {
            // Only tasks it serves: whether it committed them, the game record says.
            let task = id_of(challenged.taskId);
            if task.is_ok_and(|task| desk.tasks.contains_key(&task)) {
                desk.take_game(&challenged, entry.block_number, lines);
            }
        }
    }

    /// Moves task `task_id` on at chain time `now`.
    fn step_task(
        desk: &mut Desk,
        chain: &mut dyn Chain,
        task_id: u64,
        now: u64,
        lines: &mut Vec<String>,
    ) -> Result<Progress, AgentError> {
        let contracts = desk.contracts;
        let task = roles::read_task(chain, &contracts, task_id)?;
        let ours = task.server == desk.account;
        match TaskStatus::of(&task)? {
            TaskStatus::Open => Server::run_and_commit(desk, chain, task_id, &task, now, lines),
            TaskStatus::Committed if !ours => {
                // Watched while it may still be rejected (which reopens the task): until its
                // window has closed with no dispute open.
                if desk.watched.insert((task_id, task.round)) {
                    lines.push(format!("task {task_id}: another server committed a result"));
                }
                let closes = task
                    .committedAt
                    .saturating_add(contracts.config.challenge_window);
                Ok(if now > closes && task.openDisputes == 0 {
                    Progress::Done
                } else {
                    Progress::Pending
                })
            }
            TaskStatus::Committed => {
                let closes = task
                    .committedAt
                    .saturating_add(contracts.config.challenge_window);
                if task.openDisputes > 0 {
                    return Ok(Progress::Pending);
                }
                if now <= closes {
                    return Ok(Progress::WaitsForTime(format!(
                        "task {task_id}'s challenge window closes at {closes}"
                    )));
                }
                roles::finalize(chain, &contracts, desk.account, task_id)?;
                lines.push(format!(
                    "task {task_id}: finalized (the window closed undisputed or defended): \
                     bond and fee credited"
                ));
                Ok(Progress::Done)
            }
            TaskStatus::Finalized if ours => {
                lines.push(format!("task {task_id}: finalized"));
                Ok(Progress::Done)
            }
            TaskStatus::None | TaskStatus::Finalized | TaskStatus::Cancelled => Ok(Progress::Done),
        }
    }

    /// An open task: starts its run (within the time left before the deadline), and commits
    /// its result once the run is there.
    fn run_and_commit(
        desk: &mut Desk,
        chain: &mut dyn Chain,
        task_id: u64,
        task: &TaskRegistry::Task,
        now: u64,
        lines: &mut Vec<String>,
    ) -> Result<Progress, AgentError> {
        if now >= task.deadline {
            lines.push(format!("task {task_id}: its deadline passed; skipped"));
            return Ok(Progress::Done);
        }
        // A round of ours was rejected (the task reopened): a liar lies once per task.
        if desk.lie.is_some() && task.round > 0 {
            let contracts = desk.contracts;
            let last = roles::read_round(chain, &contracts, task_id, task.round - 1)?;
            if last.server == desk.account {
                lines.push(format!(
                    "task {task_id}: rejected: a challenger proved the result wrong; the bond \
                     was split (requester, burn, winners) and the task reopened"
                ));
                return Ok(Progress::Done);
            }
        }
        let deadline = "the deadline";
        desk.abandon_if_late(task_id, now, task.deadline, COMMIT_RESERVE_S, deadline);
        let truth = match desk.work.get(&task_id).map(|work| &work.run) {
            None => {
                let config = super::desk::config_of(task)?;
                let left = task.deadline - now;
                match RunBudget::new(&config, deadline, left, COMMIT_RESERVE_S, 1) {
                    Ok(budget) => desk.start_run(chain, task_id, task, budget, lines)?,
                    Err(reason) => {
                        lines.push(format!("task {task_id}: {reason}; not committing"));
                        return Ok(Progress::Done);
                    }
                }
                return Ok(Progress::Pending);
            }
            Some(RunState::Running) => return Ok(Progress::Pending),
            Some(RunState::Failed(reason)) => {
                lines.push(format!("task {task_id}: {reason}; not committing"));
                return Ok(Progress::Done);
            }
            Some(RunState::Done(truth)) => truth,
        };
        let truth = match truth {
            Run::Vm(truth) => truth,
            Run::Graph { phase, .. } => {
                if let Some(reason) = refusal(phase) {
                    lines.push(format!("task {task_id}: {reason}; not committing"));
                    return Ok(Progress::Done);
                }
                let output = phase.run().output().ok_or(AgentError::Internal(
                    "a graph run with neither output nor refusal",
                ))?;
                let values = phase.run().values().root();
                let contracts = desk.contracts;
                roles::commit_graph_result(
                    chain,
                    &contracts,
                    desk.account,
                    task_id,
                    &values,
                    output,
                )?;
                let what = match desk.lie {
                    Some(_) => "a WRONG result (a node's output altered on purpose, for testing)",
                    None => "its result",
                };
                lines.push(format!(
                    "task {task_id}: committed {what}: {} bytes of output after {} coarse \
                     steps (values root 0x{}), with a bond of {} wei",
                    output.len(),
                    phase.step_count(),
                    hex::encode(values),
                    contracts.config.server_bond
                ));
                return Ok(Progress::Pending);
            }
        };
        let steps = truth.end_step();
        let (state, output) = match desk.lie {
            Some(_) => {
                let (state, _, output) = wrong_final_state(truth.final_state(), truth.output());
                (state, output)
            }
            None => (
                truth.final_state().encode().to_vec(),
                truth.output().to_vec(),
            ),
        };
        let contracts = desk.contracts;
        roles::commit_result(chain, &contracts, desk.account, task_id, &state, &output)?;
        let what = if desk.lie.is_some() {
            "a WRONG result (lying on purpose, for testing)"
        } else {
            "its result"
        };
        lines.push(format!(
            "task {task_id}: committed {what}: {} bytes of output after {steps} steps, with a \
             bond of {} wei",
            output.len(),
            contracts.config.server_bond
        ));
        Ok(Progress::Pending)
    }
}

impl Service for Server {
    fn poll(&mut self, chain: &mut dyn Chain) -> Result<Vec<String>, AgentError> {
        self.0.poll(chain, Server::take, Server::step_task)
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
