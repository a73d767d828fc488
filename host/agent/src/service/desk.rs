//! What both services keep (where they stand in the registry's log, the tasks and games they
//! took on, the work done for each task, their jobs) and the poll they share.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use alloy_primitives::{Address, U256};
use opml_chain::contracts::TaskRegistry;
use opml_chain::{BlockLog, Chain};
use opml_game::{PhaseConfig, VmTrace};
use opml_state::Hash;

use super::jobs::Jobs;
use super::logs::{LogCursor, Patient};
use super::task_work::{self, Commitment, RunBudget, RunState, STEPS_PER_SECOND, TaskWork};
use super::{Backlog, SeatReport, default_job_limit, report};
use crate::AgentError;
use crate::arena::MoveRecord;
use crate::deploy::Contracts;
use crate::player::{Move, Player};
use crate::program::Program;
use crate::record::{GameRecord, Party};
use crate::roles::{self, id_of};

/// A job of a service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum JobKey {
    /// The run of a task.
    Run(u64),
    /// A challenger's opening of its dispute of a task: its top tree.
    Opening(u64),
    /// The next move in a game.
    Move(u64),
}

/// What a job gives back.
pub(crate) enum JobOutput {
    /// A task's run, or why there is none.
    Run {
        /// The task.
        task: u64,
        /// The run.
        run: Result<Box<VmTrace>, String>,
    },
    /// A challenger's opening of its dispute of a task.
    Opening {
        /// The task.
        task: u64,
        /// Its player in the game to come.
        player: Box<Player>,
        /// Its top commitment.
        commitment: Result<Commitment, AgentError>,
    },
    /// A player's next move in a game.
    Move {
        /// The game.
        game: u64,
        /// The player, back from its job.
        player: Box<Player>,
        /// The record it moved on.
        record: Box<GameRecord>,
        /// Whether the clock on turn had run out.
        clock_out: bool,
        /// The move (`None`: nothing to do on this record).
        mv: Result<Option<Move>, AgentError>,
    },
}

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

/// Where a seat's player is.
pub(crate) enum Hand {
    /// Not built yet (or lost with a job).
    Empty,
    /// In a job, computing its move.
    Busy,
    /// Waiting; `nothing_for` is the record (and whether the clock on turn had run out) on
    /// which it last found nothing to do.
    Idle {
        /// The player.
        player: Box<Player>,
        /// See above.
        nothing_for: Option<(GameRecord, bool)>,
    },
    /// With a move to send, computed on `record`.
    Ready {
        /// The player.
        player: Box<Player>,
        /// The record the move was computed on.
        record: GameRecord,
        /// The move.
        mv: Move,
    },
}

/// One game it plays in.
pub(crate) struct Seat {
    /// The disputed task.
    pub(crate) task_id: u64,
    /// The block the game was created in.
    pub(crate) block: u64,
    /// Whether the game is over and its dispute settled.
    pub(crate) done: bool,
    /// Its moves so far.
    pub(crate) moves: Vec<MoveRecord>,
    /// Its player.
    pub(crate) hand: Hand,
    /// Why it cannot play, once said.
    pub(crate) stuck: bool,
}

impl Seat {
    /// A seat in a game over `task_id` created in `block`, played by `hand`.
    pub(crate) fn new(task_id: u64, block: u64, hand: Hand) -> Seat {
        Seat {
            task_id,
            block,
            done: false,
            moves: Vec::new(),
            hand,
            stuck: false,
        }
    }
}

/// What the narration said last, so that it says things once.
#[derive(Default)]
struct Said {
    /// The backlog's counts (and node failures) at the last backlog line.
    backlog: (usize, usize, usize, usize, u32),
    /// The chain's timestamp at the last poll.
    timestamp: Option<u64>,
    /// Whether it said it waits for chain time since the timestamp last moved.
    waiting: bool,
}

/// What both services keep.
pub(crate) struct Desk {
    /// The side it plays in its games.
    pub(crate) side: Party,
    pub(crate) account: Address,
    pub(crate) contracts: Contracts,
    pub(crate) programs: HashMap<Hash, Program>,
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
    node_failures: u32,
    said: Said,
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
                self.games
                    .entry(game)
                    .or_insert_with(|| Seat::new(task, block, Hand::Empty));
            }
            (Err(error), _) | (_, Err(error)) => lines.push(format!("a game id: {error}")),
        }
    }

    /// Whether nothing is pending.
    pub(crate) fn is_idle(&self) -> bool {
        self.tasks.values().all(|task| task.done)
            && self.games.values().all(|seat| seat.done)
            && self.jobs.running() + self.jobs.queued() == 0
    }

    /// Its backlog now.
    pub(crate) fn backlog(&self) -> Backlog {
        let steps_left = self.jobs.steps_left();
        let threads = self.jobs.running().max(1) as u64;
        Backlog {
            tasks_running: self
                .work
                .values()
                .filter(|work| matches!(work.run, RunState::Running))
                .count(),
            games_waiting: self.games_waiting,
            jobs_running: self.jobs.running(),
            jobs_queued: self.jobs.queued(),
            steps_left,
            seconds_left: steps_left.div_ceil(STEPS_PER_SECOND.saturating_mul(threads)),
            node_failures: self.node_failures,
        }
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

    /// Files the finished jobs' results where the next steps look for them.
    fn collect(&mut self, lines: &mut Vec<String>) {
        for (key, output) in self.jobs.collect() {
            match output {
                Ok(JobOutput::Run { task, run }) => {
                    let run = match run {
                        Ok(trace) => RunState::Done(trace),
                        Err(reason) => RunState::Failed(reason),
                    };
                    // A run abandoned meanwhile stays abandoned, for the reason given then.
                    if let Some(work) = self.work.get_mut(&task)
                        && matches!(work.run, RunState::Running)
                    {
                        work.run = run;
                    }
                }
                Ok(JobOutput::Opening {
                    task,
                    player,
                    commitment,
                }) => {
                    if let Some(work) = self.work.get_mut(&task) {
                        work.opening = Some((player, commitment));
                    }
                }
                Ok(JobOutput::Move {
                    game,
                    player,
                    record,
                    clock_out,
                    mv,
                }) => {
                    let hand = match mv {
                        Ok(Some(mv)) => Hand::Ready {
                            player,
                            record: *record,
                            mv,
                        },
                        Ok(None) => Hand::Idle {
                            player,
                            nothing_for: Some((*record, clock_out)),
                        },
                        Err(error) => {
                            lines.push(format!("game {game}: {error}"));
                            Hand::Idle {
                                player,
                                nothing_for: None,
                            }
                        }
                    };
                    if let Some(seat) = self.games.get_mut(&game) {
                        seat.hand = hand;
                    }
                }
                Err(reason) => {
                    lines.push(format!("{key:?}: {reason}; retried at the next poll"));
                    match key {
                        JobKey::Run(task) | JobKey::Opening(task) => {
                            self.work.remove(&task);
                        }
                        JobKey::Move(game) => {
                            if let Some(seat) = self.games.get_mut(&game) {
                                seat.hand = Hand::Empty;
                            }
                        }
                    }
                }
            }
        }
    }

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
        let input = roles::fetch_input(
            chain,
            &self.contracts,
            task.inputCommitment.0,
            self.cursor.first,
            to_block,
        )?;
        let deadline = Instant::now() + budget.wall;
        lines.push(format!(
            "task {task_id}: running it (at most {} steps and {} s: {})",
            budget.steps,
            budget.wall.as_secs(),
            budget.why
        ));
        let urgency = budget.wall.as_secs();
        let steps = budget.steps;
        self.jobs.submit(
            JobKey::Run(task_id),
            urgency,
            steps,
            Some(deadline),
            move |stop| JobOutput::Run {
                task: task_id,
                run: task_work::run_job(&program, &input, &config, &budget, stop).map(Box::new),
            },
        );
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
        task_work::player(self.side, config, truth, self.lie)
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
            self.work.remove(&task_id);
        }
        Ok(())
    }

    /// Says the backlog when its counts or the node's failures changed (and are not all
    /// zero).
    fn note_backlog(&mut self, lines: &mut Vec<String>) {
        let backlog = self.backlog();
        let counts = (
            backlog.tasks_running,
            backlog.games_waiting,
            backlog.jobs_running,
            backlog.jobs_queued,
            backlog.node_failures,
        );
        if counts != self.said.backlog && counts != (0, 0, 0, 0, 0) {
            lines.push(backlog.to_string());
        }
        self.said.backlog = counts;
    }

    /// Says, once, that everything left waits for chain time (`waits`) that did not move since
    /// the last poll: nothing was done in this poll and no job runs.
    fn note_chain_time(&mut self, now: u64, waits: &[String], lines: &mut Vec<String>) {
        let still = self.said.timestamp == Some(now);
        if !still {
            self.said.waiting = false;
        }
        self.said.timestamp = Some(now);
        let busy = self.jobs.running() + self.jobs.queued() > 0;
        if still && !self.said.waiting && !waits.is_empty() && lines.is_empty() && !busy {
            lines.push(format!(
                "waiting for chain time: {}, the node's clock is at {now} and has not moved \
                 since the last poll; on anvil, start it with `--block-time 1`",
                waits.join("; ")
            ));
            self.said.waiting = true;
        }
    }
}

/// The phases of `task`'s games.
pub(crate) fn config_of(task: &TaskRegistry::Task) -> Result<PhaseConfig, AgentError> {
    PhaseConfig::unpack(&task.heights.0)
        .map_err(|error| AgentError::Decode(format!("task heights: {error}")))
}
