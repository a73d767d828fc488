//! What a service computes for a task, once, whatever number of games it plays on it: the
//! task's run, started as a job within a budget, its top history tree, and the players built
//! from them.

use std::time::{Duration, Instant};

use opml_chain::Chain;
use opml_chain::contracts::TaskRegistry;
use opml_game::{HistoryTree, PhaseConfig, VmTrace};
use opml_state::{Hash, sha256};
use opml_vm::Interrupted;

use super::desk::{Desk, config_of};
use super::jobs::{Spec, Stop};
use super::results::{JobKey, JobOutput};
use crate::AgentError;
use crate::adversary::{LyingTrace, wrong_final_state};
use crate::player::Player;
use crate::program::Program;
use crate::record::Party;
use crate::roles;

/// The rate at which the backlog turns steps still to run into seconds: 2·10^8 steps a second
/// on one core, about two thirds of the fast loop's measured speed (250–390 MIPS on a 2-core
/// AMD EPYC, `framework/vm/src/machine.rs`), since a recording also hashes its snapshots and
/// a tree build hashes its leaves.
pub const STEPS_PER_SECOND: u64 = 200_000_000;

/// Seconds a server keeps between the end of its run and the task's deadline, to send its
/// commitment (one transaction, with a node that may be slow).
pub const COMMIT_RESERVE_S: u64 = 30;

/// Seconds a challenger keeps between the end of its work and the close of the challenge
/// window, to send its challenge. Its work after the run, the top tree, replays the run, so
/// the run itself gets half of the rest.
pub const CHALLENGE_RESERVE_S: u64 = 30;

/// How far a run may go: a step budget (the task's trace length, `2^Σh`) and a wall-clock
/// budget derived from the chain time the service has left.
#[derive(Clone, Debug)]
pub(crate) struct RunBudget {
    /// Most steps.
    pub(crate) steps: u64,
    /// Most wall-clock time.
    pub(crate) wall: Duration,
    /// The chain moment the service works towards, for the narration ("the deadline").
    pub(crate) before: &'static str,
    /// How the wall-clock budget was derived, for the narration.
    pub(crate) why: String,
}

impl RunBudget {
    /// A run of `config`'s length with `left` seconds of chain time until `before`, of which
    /// `reserve` are kept for what follows the run and the rest is shared `1 / share` to the
    /// run. Fails, saying why, when nothing is left for the run.
    pub(crate) fn new(
        config: &PhaseConfig,
        before: &'static str,
        left: u64,
        reserve: u64,
        share: u64,
    ) -> Result<RunBudget, String> {
        let wall = left.saturating_sub(reserve) / share.max(1);
        let what = if share > 1 {
            format!("{reserve} s to send its move, and its top tree takes as long as the run")
        } else {
            format!("{reserve} s to send its move")
        };
        if wall == 0 {
            return Err(format!(
                "cannot finish its run before {before} ({before} is {left} s away, and it \
                 needs {what})"
            ));
        }
        Ok(RunBudget {
            steps: config.total_steps(),
            wall: Duration::from_secs(wall),
            before,
            why: format!("{left} s until {before}, less {what}"),
        })
    }

    /// How long the run of a job that gave up at `step`, started at `started`, took, and why
    /// that was its limit.
    fn gave_up(&self, step: u64, started: Instant) -> String {
        format!(
            "cannot finish its run before {} (gave up after {step} steps in {:.1} s, its \
             budget: {})",
            self.before,
            started.elapsed().as_secs_f64(),
            self.why
        )
    }
}

/// Where a task's run is.
pub(crate) enum RunState {
    /// Its job is queued or running.
    Running,
    /// The run, shared (clones share its timeline) by every player on the task.
    Done(Box<VmTrace>),
    /// No run: why, for the narration.
    Failed(String),
}

/// What a service keeps for one task.
pub(crate) struct TaskWork {
    /// Its run.
    pub(crate) run: RunState,
    /// A challenger's opening of its dispute (its player and top commitment), once built.
    pub(crate) opening: Option<(Box<Player>, Result<Commitment, AgentError>)>,
    /// Its top history tree, once built (or why it could not be): every game's player gets a
    /// clone, so the task's top phase is hashed once however many games dispute it.
    pub(crate) top: Option<Result<HistoryTree, String>>,
}

/// A top-phase commitment: the root, its last leaf and that leaf's proof.
pub(crate) type Commitment = (Hash, Hash, Vec<Hash>);

impl TaskWork {
    /// A task whose run has just been started.
    pub(crate) fn running() -> TaskWork {
        TaskWork {
            run: RunState::Running,
            opening: None,
            top: None,
        }
    }

    /// A task that gets no run, for `reason`.
    pub(crate) fn failed(reason: String) -> TaskWork {
        TaskWork {
            run: RunState::Failed(reason),
            opening: None,
            top: None,
        }
    }
}

/// The job of a task's run: `program` on `input` within `budget`, reporting its progress to
/// `stop`; `Err` says why there is no run.
pub(crate) fn run_job(
    program: &Program,
    input: &[u8],
    config: &PhaseConfig,
    budget: &RunBudget,
    stop: &Stop,
) -> Result<VmTrace, String> {
    let started = Instant::now();
    let run = program.trace_until(input, config, |step| {
        stop.report(step);
        stop.should_stop()
    });
    match run {
        Err(error) => Err(format!("cannot run it ({error})")),
        Ok(Ok(trace)) if !trace.halted() => Err(AgentError::NoHalt(budget.steps).to_string()),
        Ok(Ok(trace)) => Ok(trace),
        Ok(Err(Interrupted { step })) if stop.deadline_passed() => {
            Err(budget.gave_up(step, started))
        }
        Ok(Err(Interrupted { step })) => Err(format!("its run was cancelled after {step} steps")),
    }
}

/// A player for `side` of the games of `config` over the true run `truth`: honest, or, for a
/// server testing challengers (`lie`), a liar that leaves the true run at that step.
pub(crate) fn player(side: Party, config: PhaseConfig, truth: VmTrace, lie: Option<u64>) -> Player {
    match lie {
        None => Player::honest(side, config, Box::new(truth)),
        Some(from_step) => {
            let (state, _, _) = wrong_final_state(truth.final_state(), truth.output());
            let lie = LyingTrace::about(truth, from_step, sha256(&state));
            Player::honest(side, config, Box::new(lie))
        }
    }
}

impl Desk {
    /// Starts the run of task `task_id` (record `task`) within `budget`: fetches its input and
    /// submits the run as a job. Says so.
    pub(crate) fn start_run(
        &mut self,
        chain: &mut dyn Chain,
        task_id: u64,
        task: &TaskRegistry::Task,
        budget: RunBudget,
        lines: &mut Vec<String>,
    ) -> Result<(), AgentError> {
        let program = self
            .programs
            .get(&task.programId.0)
            .ok_or(AgentError::UnknownProgram(task.programId.0))?
            .clone();
        let config = config_of(task)?;
        let to_block = self.tasks.get(&task_id).map(|entry| entry.block);
        let commitment = task.inputCommitment.0;
        let first = self.cursor.first;
        let input = match roles::fetch_input(chain, &self.contracts, commitment, first, to_block) {
            Ok(input) => input,
            // The node failed: the next poll tries again.
            Err(error @ AgentError::Chain(_)) => return Err(error),
            Err(error) => {
                let reason = format!("cannot fetch its input ({error})");
                self.work.insert(task_id, TaskWork::failed(reason));
                return Ok(());
            }
        };
        lines.push(format!(
            "task {task_id}: running it (at most {} steps and {} s: {})",
            budget.steps,
            budget.wall.as_secs(),
            budget.why
        ));
        let spec = Spec {
            urgency: budget.wall.as_secs(),
            steps: budget.steps,
            // A budget past what the clock can represent is no limit.
            deadline: Instant::now().checked_add(budget.wall),
        };
        self.jobs
            .submit(JobKey::Run(task_id), spec, move |stop| JobOutput::Run {
                task: task_id,
                run: run_job(&program, &input, &config, &budget, stop).map(Box::new),
            });
        self.work.insert(task_id, TaskWork::running());
        Ok(())
    }

    /// Abandons the running run of task `task_id` when the chain's clock (`now`) says it can no
    /// longer end in time: less than `reserve` seconds before `at`, the moment named `before`
    /// (a chain whose clock runs ahead of the wall clock ends a run before its wall budget).
    pub(crate) fn abandon_if_late(
        &mut self,
        task_id: u64,
        now: u64,
        at: u64,
        reserve: u64,
        before: &str,
    ) {
        let Some(work) = self.work.get_mut(&task_id) else {
            return;
        };
        if !matches!(work.run, RunState::Running) || now.saturating_add(reserve) < at {
            return;
        }
        work.run = RunState::Failed(format!(
            "cannot finish its run before {before} (the node's clock is at {now}, {before} at \
             {at}, and it needs {reserve} s after its run)"
        ));
        self.jobs.cancel(JobKey::Run(task_id));
    }

    /// Its player in the games of `config` over the true run `truth`.
    pub(crate) fn player(&self, config: PhaseConfig, truth: VmTrace) -> Player {
        player(self.side, config, truth, self.lie)
    }
}
