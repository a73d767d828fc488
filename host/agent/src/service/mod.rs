//! The opML roles as long-running services, each in its own process against a node: a
//! [`Server`] runs the tasks of its programs, commits the results and defends them, and a
//! [`Challenger`] checks every result of its programs and disputes the wrong ones. Given
//! models ([`ModelStore`](crate::models::ModelStore)), both also take on the graph tasks of
//! those models: the model's run is computed natively, and a disputed coarse step is re-done
//! in the VM by the node step program.
//!
//! A service polls ([`Service::poll`]): it reads the registry's new events, acts on the tasks
//! and games they name, makes its move in each of its games, and returns what it did as
//! narration lines. What it acts on comes from the chain (events, task and game records), and a
//! player can join a game at any point, so a service can start or restart at any time: its
//! first poll reads the registry's log from its start block. A service never moves the chain's
//! clock; on a dev node whoever runs it does.
//!
//! A poll never waits for a computation. A task's run and every move's computation (a
//! player's tree build) are jobs on threads of their own, at most [`default_job_limit`] at a
//! time, of which long ones (a huge task's run) never hold every thread; a poll starts them, collects the finished ones and sends their moves. A task's run is
//! made once and shared by every game on the task, and is abandoned when it cannot end before
//! the chain moment it is for (a server's deadline, a challenger's window). When several games
//! wait on the service, the one with the least clock left is served first. Reads that fail are
//! retried with backoff; a node that keeps failing is reported and counted in the [`Backlog`],
//! never a reason to stop.
//!
//! The parts, a file each: `server.rs` and `challenger.rs` (each role's work on a task and its
//! events), `desk.rs` (what both keep, and the poll), `games.rs` (their moves in the games),
//! `task_work.rs` (a task's run, its budget and its players), `graph_tasks.rs` (a graph task's
//! posting and native run), `jobs.rs` (the job runner),
//! `results.rs` (the jobs' results), `logs.rs` (patient reads, the registry's log) and
//! `narration.rs` (backlog and chain-time notes).

mod challenger;
mod desk;
mod games;
mod graph_tasks;
mod jobs;
mod logs;
mod narration;
mod results;
mod server;
mod task_work;

use std::fmt;

use opml_chain::{Chain, ChainError};
use opml_game::Work;
use serde::Serialize;

use crate::AgentError;
use crate::arena::{HistoryEntry, MoveRecord};
use crate::record::Party;

pub use challenger::Challenger;
pub use logs::{FIRST_RETRY, READ_ATTEMPTS, is_transient};
pub use server::Server;
pub use task_work::{CHALLENGE_RESERVE_S, COMMIT_RESERVE_S, STEPS_PER_SECOND};

/// A role that runs as a service.
pub trait Service {
    /// Reads the chain and acts once, without waiting for any computation; returns what
    /// happened, a line each. A failure of the node, of a task or of a game is reported in the
    /// lines and retried at the next poll; only a configuration error (no key for the account,
    /// [`stops_service`]) is an error.
    fn poll(&mut self, chain: &mut dyn Chain) -> Result<Vec<String>, AgentError>;

    /// Whether nothing is pending: every task it took on has ended, every game it plays in has
    /// been settled and no job is left. (A service that has seen no task yet is idle.)
    fn is_idle(&self) -> bool;

    /// The reports of the games that ended since the last call.
    fn take_reports(&mut self) -> Vec<SeatReport>;

    /// Starts reading the registry's log (and the inputs' uploads) at `block` instead of the
    /// genesis block; tasks posted before it are not seen.
    fn start_at_block(&mut self, block: u64);

    /// What it has to do, and how long that may take.
    fn backlog(&self) -> Backlog;
}

/// The report of one game a service played.
#[derive(Clone, Debug, Serialize)]
pub struct SeatReport {
    /// The game.
    pub game_id: u64,
    /// The disputed task.
    pub task_id: u64,
    /// The side the service played.
    pub side: Party,
    /// Who won.
    pub winner: Party,
    /// The game's whole history on chain, both sides' moves.
    pub history: Vec<HistoryEntry>,
    /// The moves this process made, with their gas (a service restarted mid-game made the
    /// others).
    pub own_moves: Vec<MoveRecord>,
    /// The off-chain work the service had done for the task when the game ended, shared by all
    /// its games on the task: its run, its top tree and every game's own work so far (`None`
    /// if it had no run, or for a graph task, whose native run counts no work).
    pub task_work: Option<Work>,
}

/// A service's backlog: what it has to do and an estimate of the time it needs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Backlog {
    /// Tasks whose run is queued or running.
    pub tasks_running: usize,
    /// Games on the service's turn at its last poll.
    pub games_waiting: usize,
    /// Jobs running.
    pub jobs_running: usize,
    /// Jobs waiting for a free thread.
    pub jobs_queued: usize,
    /// Steps of work queued, by the jobs' estimates (a run counts its whole step budget, a
    /// move the steps of its phase range), less their progress: an upper bound.
    pub steps_left: u64,
    /// `steps_left` in seconds at [`STEPS_PER_SECOND`] on each of the job threads.
    pub seconds_left: u64,
    /// Polls in a row in which the node failed (a read failed after every retry).
    pub node_failures: u32,
}

impl Backlog {
    /// Whether a job is queued or running (a poll soon will have something to act on).
    pub fn is_busy(&self) -> bool {
        self.jobs_running + self.jobs_queued > 0
    }
}

impl fmt::Display for Backlog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "backlog: {} task run(s), {} game(s) waiting on it, {} job(s) running and {} \
             queued; at most {} s of work queued ({} steps at {} steps/s a thread)",
            self.tasks_running,
            self.games_waiting,
            self.jobs_running,
            self.jobs_queued,
            self.seconds_left,
            self.steps_left,
            STEPS_PER_SECOND
        )?;
        if self.node_failures > 0 {
            write!(
                f,
                "; the node failed {} poll(s) in a row",
                self.node_failures
            )?;
        }
        Ok(())
    }
}

/// How many jobs a service runs at a time unless told otherwise: the available cores.
pub fn default_job_limit() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// Whether `error` must stop a service: a configuration error (the node has no key for the
/// account), which no retry mends. Every other error is reported and retried.
pub fn stops_service(error: &AgentError) -> bool {
    matches!(error, AgentError::Chain(ChainError::UnknownAccount(_)))
}

/// Reports `error` of `what` in the lines, unless it must stop the service (then it is
/// returned).
fn report(error: AgentError, what: &str, lines: &mut Vec<String>) -> Result<(), AgentError> {
    if stops_service(&error) {
        return Err(error);
    }
    lines.push(format!("{what}: {error}"));
    Ok(())
}
