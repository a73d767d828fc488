//! What both services keep (where they stand in the registry's log, the tasks and games they
//! took on, the work done for each task, their jobs) and the poll they share.

use std::collections::{BTreeMap, HashMap, HashSet};

use alloy_primitives::{Address, U256};
use opml_chain::contracts::TaskRegistry;
use opml_chain::{BlockLog, Chain};
use opml_game::{PhaseConfig, Top};
use opml_state::Hash;

use super::games::{Hand, Seat};
use super::graph_tasks::is_graph;
use super::jobs::Jobs;
use super::logs::{LogCursor, Patient};
use super::narration::Said;
use super::results::{JobKey, JobOutput};
use super::task_work::TaskWork;
use super::{SeatReport, default_job_limit, report};
use crate::AgentError;
use crate::deploy::Contracts;
use crate::models::ModelStore;
use crate::program::Program;
use crate::record::Party;
use crate::roles::{self, id_of};

/// A task taken on.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TaskEntry {
    /// Whether the service is done with it.
    pub(crate) done: bool,
    /// The block of the event that named it: its input was complete by then.
    pub(crate) block: u64,
}

/// Where a role's work on a task stands after a poll.
pub(crate) enum Progress {
    /// Done with the task.
    Done,
    /// Working on it, or waiting for its games.
    Pending,
    /// Waiting for chain time only: when the wait ends, for the narration.
    WaitsForTime(String),
}

/// A role's work on one task (`task_id`) at chain time `now`.
pub(crate) type TaskAction =
    fn(&mut Desk, &mut dyn Chain, u64, u64, &mut Vec<String>) -> Result<Progress, AgentError>;

/// A role's reading of one registry event.
pub(crate) type Take = fn(&mut Desk, &BlockLog, &mut Vec<String>);

/// What both services keep.
pub(crate) struct Desk {
    /// The side it plays in its games.
    pub(crate) side: Party,
    pub(crate) account: Address,
    pub(crate) contracts: Contracts,
    pub(crate) programs: HashMap<Hash, Program>,
    /// The models whose graph tasks it takes on (`None`: it takes on none).
    pub(crate) models: Option<ModelStore>,
    /// The server's lie: the step its trace leaves the true run at.
    pub(crate) lie: Option<u64>,
    pub(crate) cursor: LogCursor,
    /// Tasks taken on.
    pub(crate) tasks: BTreeMap<u64, TaskEntry>,
    /// The work done for each task it still needs.
    pub(crate) work: HashMap<u64, TaskWork>,
    /// Games it plays in, by game id.
    pub(crate) games: BTreeMap<u64, Seat>,
    pub(crate) jobs: Jobs<JobKey, JobOutput>,
    /// Reports of the games that ended, not yet taken.
    pub(crate) reports: Vec<SeatReport>,
    /// Games on its turn at the last poll.
    pub(crate) games_waiting: usize,
    /// Polls in a row in which a read failed after every retry.
    pub(crate) node_failures: u32,
    pub(crate) said: Said,
    /// Rounds of other servers' results it has seen committed (said once each).
    pub(crate) watched: HashSet<(u64, u32)>,
}

impl std::fmt::Debug for Desk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Desk")
            .field("side", &self.side)
            .field("account", &self.account)
            .field("registry", &self.contracts.registry)
            .field("cursor", &self.cursor)
            .field("tasks", &self.tasks)
            .field("games", &self.games.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Desk {
    /// A desk for `side`, sending from `account` to `contracts`, for the tasks of `programs`.
    pub(crate) fn new(
        side: Party,
        account: Address,
        contracts: Contracts,
        programs: impl IntoIterator<Item = Program>,
        lie: Option<u64>,
    ) -> Desk {
        Desk {
            side,
            account,
            contracts,
            programs: programs
                .into_iter()
                .map(|program| (program.id(), program))
                .collect(),
            models: None,
            lie,
            cursor: LogCursor::new(),
            tasks: BTreeMap::new(),
            work: HashMap::new(),
            games: BTreeMap::new(),
            jobs: Jobs::new(default_job_limit()),
            reports: Vec::new(),
            games_waiting: 0,
            node_failures: 0,
            said: Said::default(),
            watched: HashSet::new(),
        }
    }

    /// One poll: collect finished jobs, read the registry's new events (`take`), play the
    /// games, work on the tasks (`act`), withdraw; then say the backlog when it changed and
    /// whether everything waits for chain time that does not move.
    pub(crate) fn poll(
        &mut self,
        chain: &mut dyn Chain,
        take: Take,
        act: TaskAction,
    ) -> Result<Vec<String>, AgentError> {
        let mut chain = Patient::new(chain);
        let mut lines = Vec::new();
        let mut waits = Vec::new();
        self.collect(&mut lines);
        match self.cursor.read(&mut chain, self.contracts.registry) {
            Ok(logs) => {
                for entry in &logs {
                    take(self, entry, &mut lines);
                }
            }
            Err(error) => lines.push(format!(
                "reading the registry's log failed ({error}); retried at the next poll"
            )),
        }
        match chain.timestamp() {
            Ok(now) => {
                self.play(&mut chain, now, &mut lines, &mut waits)?;
                self.work_tasks(&mut chain, now, act, &mut lines, &mut waits)?;
                self.wrap_up(&mut chain, &mut lines)?;
                self.note_chain_time(now, &waits, &mut lines);
            }
            Err(error) => lines.push(format!(
                "reading the chain's time failed ({error}); retried at the next poll"
            )),
        }
        self.node_failures = match chain.failed_reads() {
            0 => 0,
            _ => self.node_failures + 1,
        };
        self.note_backlog(&mut lines);
        Ok(lines)
    }

    /// Takes on task `id` (once), named by an event in `block`.
    pub(crate) fn take_task(&mut self, id: U256, block: u64, lines: &mut Vec<String>) {
        match id_of(id) {
            Ok(id) => {
                self.tasks
                    .entry(id)
                    .or_insert(TaskEntry { done: false, block });
            }
            Err(error) => lines.push(format!("a task id: {error}")),
        }
    }

    /// Takes a seat in the game a `Challenged` event (in `block`) opened (once).
    pub(crate) fn take_game(
        &mut self,
        challenged: &TaskRegistry::Challenged,
        block: u64,
        lines: &mut Vec<String>,
    ) {
        match (id_of(challenged.gameId), id_of(challenged.taskId)) {
            (Ok(game), Ok(task)) => {
                let round = u32::try_from(challenged.round).unwrap_or(u32::MAX);
                self.games
                    .entry(game)
                    .or_insert_with(|| Seat::new(task, round, block, Hand::Empty));
            }
            (Err(error), _) | (_, Err(error)) => lines.push(format!("a game id: {error}")),
        }
    }

    /// Whether it runs tasks like `task`: a VM task of one of its programs, or a graph task of
    /// the node step program when it has models (whether it has the task's model, the task's
    /// posting event says).
    pub(crate) fn serves(&self, task: &TaskRegistry::Task) -> bool {
        if is_graph(task) {
            self.models.is_some() && task.programId.0 == opml_graph::STEP_PROGRAM_ID
        } else {
            self.programs.contains_key(&task.programId.0)
        }
    }

    /// Whether nothing is pending.
    pub(crate) fn is_idle(&self) -> bool {
        self.tasks.values().all(|task| task.done)
            && self.games.values().all(|seat| seat.done)
            && self.jobs.running() + self.jobs.queued() == 0
    }

    /// Runs `act` on each pending task and marks the ones it is done with. A task's failure is
    /// reported in `lines` and retried at the next poll.
    fn work_tasks(
        &mut self,
        chain: &mut dyn Chain,
        now: u64,
        act: TaskAction,
        lines: &mut Vec<String>,
        waits: &mut Vec<String>,
    ) -> Result<(), AgentError> {
        let pending: Vec<u64> = self
            .tasks
            .iter()
            .filter(|(_, task)| !task.done)
            .map(|(&id, _)| id)
            .collect();
        for task_id in pending {
            match act(self, chain, task_id, now, lines) {
                Ok(Progress::Done) => {
                    if let Some(task) = self.tasks.get_mut(&task_id) {
                        task.done = true;
                    }
                }
                Ok(Progress::Pending) => {}
                Ok(Progress::WaitsForTime(until)) => waits.push(until),
                Err(error) => report(error, &format!("task {task_id}"), lines)?,
            }
        }
        Ok(())
    }

    /// Withdraws what the registry credits it, and forgets the work no task or game needs.
    fn wrap_up(
        &mut self,
        chain: &mut dyn Chain,
        lines: &mut Vec<String>,
    ) -> Result<(), AgentError> {
        match roles::withdraw(chain, &self.contracts, self.account) {
            Ok(amount) if amount.is_zero() => {}
            Ok(amount) => lines.push(format!("withdrew {amount} wei")),
            Err(error) => report(error, "withdrawal", lines)?,
        }
        let (tasks, games) = (&self.tasks, &self.games);
        let needed = |task_id: &u64| {
            tasks.get(task_id).is_some_and(|task| !task.done)
                || games
                    .values()
                    .any(|seat| seat.task_id == *task_id && !seat.done)
        };
        let unneeded: Vec<u64> = self.work.keys().filter(|id| !needed(id)).copied().collect();
        for task_id in unneeded {
            self.jobs.cancel(JobKey::Run(task_id));
            self.jobs.cancel(JobKey::Opening(task_id));
            self.jobs.cancel(JobKey::TopTree(task_id));
            self.work.remove(&task_id);
        }
        Ok(())
    }
}

/// The phases of `task`'s games.
pub(crate) fn config_of(task: &TaskRegistry::Task) -> Result<PhaseConfig, AgentError> {
    let top = if is_graph(task) {
        Top::Program
    } else {
        Top::Vm
    };
    PhaseConfig::unpack(&task.heights.0, top)
        .map_err(|error| AgentError::Decode(format!("task heights: {error}")))
}
