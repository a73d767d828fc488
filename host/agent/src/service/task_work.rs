//! What a service computes for a task, once, whatever number of games it plays on it: the
//! task's run (a VM task's trace or a graph task's graph phase), started as a job within a
//! budget, its top history tree, and the players built from them.

use std::time::{Duration, Instant};

use opml_chain::Chain;
use opml_chain::contracts::TaskRegistry;
use opml_game::{HistoryTree, PhaseConfig, VmTrace, Work};
use opml_graph::GraphPhase;
use opml_state::{Hash, sha256};
use opml_vm::Interrupted;

use super::desk::{Desk, config_of};
use super::graph_tasks::is_graph;
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

/// A task's true run, shared by every player on the task (clones share it).
#[derive(Clone)]
pub(crate) enum Run {
    /// A VM task's trace (clones share its timeline).
    Vm(Box<VmTrace>),
    /// A graph task's graph phase (clones share its states), and the node step program that
    /// re-does its steps.
    Graph {
        /// The run.
        phase: GraphPhase,
        /// The node step program.
        step_program: Program,
    },
}

impl Run {
    /// The hash of its final state: a VM task's halted state, a graph task's `S(m)` (its
    /// refused state if the model refused the input).
    pub(crate) fn final_state_hash(&self) -> Hash {
        match self {
            Run::Vm(trace) => trace.final_state_hash(),
            Run::Graph { phase, .. } => phase.state(phase.step_count()),
        }
    }

    /// Its length: a VM task's steps to the halt, a graph task's coarse steps (its top phase;
    /// a graph task's top tree hashes nothing but those states).
    pub(crate) fn steps(&self) -> u64 {
        match self {
            Run::Vm(trace) => trace.end_step(),
            Run::Graph { phase, .. } => phase.step_count(),
        }
    }

    /// The work a VM task's run has counted; a graph task's native run counts none.
    pub(crate) fn work(&self) -> Option<Work> {
        match self {
            Run::Vm(trace) => Some(trace.work()),
            Run::Graph { .. } => None,
        }
    }
}

/// Where a task's run is.
pub(crate) enum RunState {
    /// Its job is queued or running.
    Running,
    /// The run.
    Done(Run),
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
/// server testing challengers (`lie`), on a VM task, a liar that leaves the true run at that
/// step (a lying server's graph run is wrong already: it is played as it is).
pub(crate) fn player(side: Party, config: PhaseConfig, truth: Run, lie: Option<u64>) -> Player {
    match (truth, lie) {
        (Run::Vm(truth), None) => Player::honest(side, config, truth),
        (Run::Vm(truth), Some(from_step)) => {
            let (state, _, _) = wrong_final_state(truth.final_state(), truth.output());
            let lie = LyingTrace::about(*truth, from_step, sha256(&state));
            Player::honest(side, config, Box::new(lie))
        }
        (
            Run::Graph {
                phase,
                step_program,
            },
            _,
        ) => Player::honest_graph(side, config, phase, step_program),
    }
}

impl Desk {
    /// Starts the run of task `task_id` (record `task`) within `budget`: fetches its input and
    /// submits the run as a job (a graph task's: [`start_graph_run`](Self::start_graph_run)).
    /// Says so.
    pub(crate) fn start_run(
        &mut self,
        chain: &mut dyn Chain,
        task_id: u64,
        task: &TaskRegistry::Task,
        budget: RunBudget,
        lines: &mut Vec<String>,
    ) -> Result<(), AgentError> {
        if is_graph(task) {
            return self.start_graph_run(chain, task_id, task, budget, lines);
        }
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
                run: run_job(&program, &input, &config, &budget, stop)
                    .map(|trace| Run::Vm(Box::new(trace))),
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
    pub(crate) fn player(&self, config: PhaseConfig, truth: Run) -> Player {
        player(self.side, config, truth, self.lie)
    }
}
