//! The opML roles as long-running services, each in its own process against a node: a
//! [`Server`] runs the tasks of its programs, commits the results and defends them, and a
//! [`Challenger`] checks every result of its programs and disputes the wrong ones.
//!
//! A service polls ([`Service::poll`]): it reads the registry's new events, acts on the tasks
//! and games they name, makes its move in each of its games, and returns what it did as
//! narration lines. What it acts on comes from the chain (events, task and game records), and a
//! player can join a game at any point, so a service can start or restart at any time: its
//! first poll reads the registry's whole log. A service never moves the chain's clock; on a
//! dev node whoever runs it does.

use std::collections::{BTreeMap, HashMap, HashSet};

use alloy_primitives::{Address, U256};
use alloy_sol_types::SolEvent;
use opml_chain::contracts::TaskRegistry;
use opml_chain::{BlockLog, Chain, ChainError};
use opml_game::{PhaseConfig, VmTrace};
use opml_state::{Hash, sha256};
use serde::Serialize;

use crate::AgentError;
use crate::adversary::{LyingTrace, wrong_final_state};
use crate::arena::{
    HistoryEntry, MoveRecord, Sent, clock_left, game_history, read_game, send_move,
};
use crate::deploy::Contracts;
use crate::player::{Move, Player};
use crate::program::Program;
use crate::record::{GameRecord, Party, Stage};
use crate::roles::{self, DisputeStatus, TaskStatus, id_of};

/// A role that runs as a service.
pub trait Service {
    /// Reads the chain and acts once; returns what happened, a line each. A failure of one
    /// task or game is reported in the lines and retried at the next poll; only a failure of
    /// the node itself (unreachable, timing out, refusing the request, no key for the account)
    /// is an error.
    fn poll(&mut self, chain: &mut dyn Chain) -> Result<Vec<String>, AgentError>;

    /// Whether nothing is pending: every task it took on has ended and every game it plays in
    /// has been settled. (A service that has seen no task yet is idle.)
    fn is_idle(&self) -> bool;

    /// The reports of the games that ended since the last call.
    fn take_reports(&mut self) -> Vec<SeatReport>;

    /// Starts reading the registry's log at `block` instead of the genesis block (for nodes
    /// that cap `eth_getLogs` ranges; tasks posted before it are not seen).
    fn start_at_block(&mut self, block: u64);
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
    /// Who won (`none`: the game became moot when another game rejected the result).
    pub winner: Party,
    /// The game's whole history on chain, both sides' moves.
    pub history: Vec<HistoryEntry>,
    /// The moves this process made, with their gas (a service restarted mid-game made the
    /// others).
    pub own_moves: Vec<MoveRecord>,
}

/// A server: runs the open tasks of its programs, commits the results with its bond, defends
/// them in every dispute, finalizes them after the challenge window, and withdraws what the
/// registry credits it.
#[derive(Debug)]
pub struct Server(Desk);

impl Server {
    /// A server sending from `account` (a key of the chain it polls) to the suite `contracts`,
    /// serving the tasks of `programs`. `lie_from_step`, for testing challengers: commit a
    /// wrong output instead (`adversary::wrong_final_state`) and defend it with a trace that
    /// leaves the true run at that step.
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

    /// Moves task `task_id` on; returns whether the server is done with it.
    fn step_task(
        desk: &mut Desk,
        chain: &mut dyn Chain,
        task_id: u64,
        lines: &mut Vec<String>,
    ) -> Result<bool, AgentError> {
        let contracts = desk.contracts;
        let task = roles::read_task(chain, &contracts, task_id)?;
        let now = chain.timestamp()?;
        let (ours, lie) = (task.server == desk.account, desk.lie);
        match TaskStatus::of(&task)? {
            TaskStatus::Open => {
                if now >= task.deadline {
                    lines.push(format!("task {task_id}: its deadline passed; skipped"));
                    return Ok(true);
                }
                // A round of ours was rejected (the task reopened): a liar lies once per task.
                if lie.is_some() && task.round > 0 {
                    let last = roles::read_round(chain, &contracts, task_id, task.round - 1)?;
                    if last.server == desk.account {
                        lines.push(format!(
                            "task {task_id}: rejected: a challenger proved the result wrong; \
                             the bond was split (requester, burn, winners) and the task reopened"
                        ));
                        return Ok(true);
                    }
                }
                let config = config_of(&task)?;
                let truth = match desk.run(chain, task_id, &task) {
                    Ok(truth) => truth,
                    Err(error) if !is_fatal(&error) => {
                        lines.push(format!("task {task_id}: cannot run it ({error}); skipped"));
                        return Ok(true);
                    }
                    Err(error) => return Err(error),
                };
                if !truth.halted() {
                    lines.push(format!(
                        "task {task_id}: {}; skipped",
                        AgentError::NoHalt(config.total_steps())
                    ));
                    return Ok(true);
                }
                let steps = truth.end_step();
                let (state, output) = match lie {
                    Some(_) => {
                        let (state, _, output) =
                            wrong_final_state(truth.final_state(), truth.output());
                        (state, output)
                    }
                    None => (
                        truth.final_state().encode().to_vec(),
                        truth.output().to_vec(),
                    ),
                };
                roles::commit_result(chain, &contracts, desk.account, task_id, &state, &output)?;
                let what = if lie.is_some() {
                    "a WRONG result (lying on purpose, for testing)"
                } else {
                    "its result"
                };
                lines.push(format!(
                    "task {task_id}: committed {what}: {} bytes of output after {steps} steps, \
                     with a bond of {} wei",
                    output.len(),
                    contracts.config.server_bond
                ));
                Ok(false)
            }
            TaskStatus::Committed if !ours => {
                // Watched while it may still be rejected (which reopens the task): until its
                // window has closed with no dispute open.
                if desk.watched.insert((task_id, task.round)) {
                    lines.push(format!("task {task_id}: another server committed a result"));
                }
                let closes = task.committedAt + contracts.config.challenge_window;
                Ok(now > closes && task.openDisputes == 0)
            }
            TaskStatus::Committed => {
                let closes = task.committedAt + contracts.config.challenge_window;
                if now <= closes || task.openDisputes > 0 {
                    return Ok(false);
                }
                roles::finalize(chain, &contracts, desk.account, task_id)?;
                lines.push(format!(
                    "task {task_id}: finalized (the window closed undisputed or defended): \
                     bond and fee credited"
                ));
                Ok(true)
            }
            TaskStatus::Finalized if ours => {
                lines.push(format!("task {task_id}: finalized"));
                Ok(true)
            }
            TaskStatus::None | TaskStatus::Finalized | TaskStatus::Cancelled => Ok(true),
        }
    }
}

impl Service for Server {
    fn poll(&mut self, chain: &mut dyn Chain) -> Result<Vec<String>, AgentError> {
        let mut lines = Vec::new();
        for log in self.0.new_logs(chain)? {
            if let Ok(posted) = TaskRegistry::TaskPosted::decode_log(&log.log) {
                if self.0.programs.contains_key(&posted.programId.0) {
                    self.0.take_task(posted.taskId, &mut lines);
                }
            } else if let Ok(challenged) = TaskRegistry::Challenged::decode_log(&log.log) {
                // Only tasks it serves: whether it committed them, the game record says.
                let task = id_of(challenged.taskId);
                if task.is_ok_and(|task| self.0.tasks.contains_key(&task)) {
                    self.0.take_game(&challenged, &mut lines);
                }
            }
        }
        self.0.play(chain, &mut lines)?;
        self.0.work_tasks(chain, &mut lines, Self::step_task)?;
        self.0.wrap_up(chain, &mut lines)?;
        Ok(lines)
    }

    fn is_idle(&self) -> bool {
        self.0.is_idle()
    }

    fn take_reports(&mut self) -> Vec<SeatReport> {
        std::mem::take(&mut self.0.reports)
    }

    fn start_at_block(&mut self, block: u64) {
        self.0.next_block = block;
    }
}

/// A challenger: checks every result committed for its programs by running the task itself,
/// disputes a wrong one with its bond, plays the game to its end, settles it and withdraws
/// what the registry credits it.
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

    /// Checks the result of task `task_id` and disputes it if it is wrong; returns whether the
    /// check is done (its game, if any, is played from then on).
    fn check(
        desk: &mut Desk,
        chain: &mut dyn Chain,
        task_id: u64,
        lines: &mut Vec<String>,
    ) -> Result<bool, AgentError> {
        let contracts = desk.contracts;
        let task = roles::read_task(chain, &contracts, task_id)?;
        if TaskStatus::of(&task)? != TaskStatus::Committed
            || !desk.programs.contains_key(&task.programId.0)
            || task.server == desk.account
        {
            return Ok(true);
        }
        let dispute = roles::read_dispute(chain, &contracts, task_id, task.round, desk.account)?;
        if DisputeStatus::of(&dispute)? != DisputeStatus::None {
            // Disputed already (by an earlier run of this service): its game is a seat.
            return Ok(true);
        }
        let config = config_of(&task)?;
        let truth = match desk.run(chain, task_id, &task) {
            Ok(truth) => truth.clone(),
            Err(error) if !is_fatal(&error) => {
                lines.push(format!(
                    "task {task_id}: cannot run it ({error}); not checked"
                ));
                return Ok(true);
            }
            Err(error) => return Err(error),
        };
        let claimed = task.finalState.0;
        let own = truth.final_state_hash();
        if claimed == own {
            lines.push(format!("task {task_id}: checked the result: correct"));
            return Ok(true);
        }
        let closes = task.committedAt + contracts.config.challenge_window;
        if chain.timestamp()? >= closes {
            lines.push(format!(
                "task {task_id}: the result is wrong, but its challenge window has closed"
            ));
            return Ok(true);
        }
        let program = desk
            .programs
            .get(&task.programId.0)
            .ok_or(AgentError::UnknownProgram(task.programId.0))?;
        let mut player = Player::honest(Party::Challenger, config, Box::new(truth));
        let (game_id, _) = roles::challenge(
            chain,
            &contracts,
            desk.account,
            task_id,
            program.initial_state(),
            player.top_commitment()?,
        )?;
        desk.games.insert(game_id, Seat::new(task_id, task.round));
        desk.players.insert(game_id, player);
        lines.push(format!(
            "task {task_id}: the result is wrong (final state 0x{}, the true one is 0x{}): \
             disputed it in game {game_id} with a bond of {} wei",
            hex::encode(claimed),
            hex::encode(own),
            contracts.config.challenger_bond
        ));
        Ok(true)
    }
}

impl Service for Challenger {
    fn poll(&mut self, chain: &mut dyn Chain) -> Result<Vec<String>, AgentError> {
        let mut lines = Vec::new();
        for log in self.0.new_logs(chain)? {
            if let Ok(committed) = TaskRegistry::ResultCommitted::decode_log(&log.log) {
                // Whether it is a task of its programs, the task record says.
                self.0.take_task(committed.taskId, &mut lines);
                // A later round's result is checked again.
                if let (Ok(id), false) = (id_of(committed.taskId), committed.round.is_zero()) {
                    self.0.tasks.insert(id, false);
                }
            } else if let Ok(challenged) = TaskRegistry::Challenged::decode_log(&log.log)
                && challenged.challenger == self.0.account
            {
                self.0.take_game(&challenged, &mut lines);
            }
        }
        self.0.work_tasks(chain, &mut lines, Self::check)?;
        self.0.play(chain, &mut lines)?;
        self.0.wrap_up(chain, &mut lines)?;
        Ok(lines)
    }

    fn is_idle(&self) -> bool {
        self.0.is_idle()
    }

    fn take_reports(&mut self) -> Vec<SeatReport> {
        std::mem::take(&mut self.0.reports)
    }

    fn start_at_block(&mut self, block: u64) {
        self.0.next_block = block;
    }
}

/// What both services keep: where they stand in the registry's log, the tasks and games they
/// took on, their players and their runs.
struct Desk {
    /// The side it plays in its games.
    side: Party,
    account: Address,
    contracts: Contracts,
    programs: HashMap<Hash, Program>,
    /// The server's lie: the step its trace leaves the true run at.
    lie: Option<u64>,
    /// The first block of the registry's log not read yet.
    next_block: u64,
    /// Tasks taken on, and whether it is done with each.
    tasks: BTreeMap<u64, bool>,
    /// Games it plays in, by game id.
    games: BTreeMap<u64, Seat>,
    /// Its player in each unsettled game, built on first use.
    players: HashMap<u64, Player>,
    /// The true runs of the tasks it still needs.
    runs: HashMap<u64, VmTrace>,
    /// Reports of the games that ended, not yet taken.
    reports: Vec<SeatReport>,
    /// Rounds of other servers it has seen committed (reported once).
    watched: HashSet<(u64, u32)>,
}

impl std::fmt::Debug for Desk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Desk")
            .field("side", &self.side)
            .field("account", &self.account)
            .field("registry", &self.contracts.registry)
            .field("next_block", &self.next_block)
            .field("tasks", &self.tasks)
            .field("games", &self.games)
            .finish_non_exhaustive()
    }
}

/// A role's work on one task (`task_id`): returns whether it is done with the task.
type TaskAction = fn(&mut Desk, &mut dyn Chain, u64, &mut Vec<String>) -> Result<bool, AgentError>;

/// One game it plays in.
#[derive(Debug)]
struct Seat {
    /// The disputed task.
    task_id: u64,
    /// The disputed round of the task.
    round: u32,
    /// Whether the game is over and its dispute settled.
    done: bool,
    /// Its moves so far.
    moves: Vec<MoveRecord>,
}

impl Seat {
    fn new(task_id: u64, round: u32) -> Seat {
        Seat {
            task_id,
            round,
            done: false,
            moves: Vec::new(),
        }
    }
}

impl Desk {
    fn new(
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
            next_block: 0,
            reports: Vec::new(),
            watched: HashSet::new(),
            tasks: BTreeMap::new(),
            games: BTreeMap::new(),
            players: HashMap::new(),
            runs: HashMap::new(),
        }
    }

    /// Runs `act` on each pending task and marks the ones it is done with. A task's failure is
    /// reported in `lines` and retried at the next poll; only a node failure is returned.
    fn work_tasks(
        &mut self,
        chain: &mut dyn Chain,
        lines: &mut Vec<String>,
        act: TaskAction,
    ) -> Result<(), AgentError> {
        for task_id in self.pending_tasks() {
            match act(self, chain, task_id, lines) {
                Ok(true) => {
                    self.tasks.insert(task_id, true);
                }
                Ok(false) => {}
                Err(error) => report(error, &format!("task {task_id}"), lines)?,
            }
        }
        Ok(())
    }

    /// The registry's logs since the last read.
    fn new_logs(&mut self, chain: &mut dyn Chain) -> Result<Vec<BlockLog>, AgentError> {
        let head = chain.block_number()?;
        if self.next_block > head {
            // Nothing new (and a node refuses a range that starts past its head).
            return Ok(Vec::new());
        }
        let logs = chain.logs(self.contracts.registry, self.next_block)?;
        // Blocks come whole: every block up to the last one read is done with.
        let last = logs.iter().map(|log| log.block_number).fold(head, u64::max);
        self.next_block = last + 1;
        Ok(logs)
    }

    /// Takes on task `id` (once).
    fn take_task(&mut self, id: U256, lines: &mut Vec<String>) {
        match id_of(id) {
            Ok(id) => {
                self.tasks.entry(id).or_insert(false);
            }
            Err(error) => lines.push(format!("a task id: {error}")),
        }
    }

    /// Takes a seat in the game a `Challenged` event opened (once).
    fn take_game(&mut self, challenged: &TaskRegistry::Challenged, lines: &mut Vec<String>) {
        match (id_of(challenged.gameId), id_of(challenged.taskId)) {
            (Ok(game), Ok(task)) => {
                let round = u32::try_from(challenged.round).unwrap_or(u32::MAX);
                self.games
                    .entry(game)
                    .or_insert_with(|| Seat::new(task, round));
            }
            (Err(error), _) | (_, Err(error)) => lines.push(format!("a game id: {error}")),
        }
    }

    /// The tasks it is not done with.
    fn pending_tasks(&self) -> Vec<u64> {
        self.tasks
            .iter()
            .filter(|&(_, &done)| !done)
            .map(|(&id, _)| id)
            .collect()
    }

    fn is_idle(&self) -> bool {
        self.tasks.values().all(|&done| done) && self.games.values().all(|seat| seat.done)
    }

    /// The true run of task `task_id` (record `task`), run on first use.
    fn run(
        &mut self,
        chain: &mut dyn Chain,
        task_id: u64,
        task: &TaskRegistry::Task,
    ) -> Result<&VmTrace, AgentError> {
        if !self.runs.contains_key(&task_id) {
            let program = self
                .programs
                .get(&task.programId.0)
                .ok_or(AgentError::UnknownProgram(task.programId.0))?;
            let input = roles::fetch_input(chain, &self.contracts, task.inputCommitment.0)?;
            let trace = program.trace(&input, &config_of(task)?)?;
            self.runs.insert(task_id, trace);
        }
        self.runs
            .get(&task_id)
            .ok_or(AgentError::Internal("a run just made is missing"))
    }

    /// Its player in a game of `config` over the true run `truth`: honest, or the server's lie.
    fn player(&self, config: PhaseConfig, truth: VmTrace) -> Player {
        match self.lie {
            None => Player::honest(self.side, config, Box::new(truth)),
            Some(from_step) => {
                let (state, _, _) = wrong_final_state(truth.final_state(), truth.output());
                let lie = LyingTrace::about(truth, from_step, sha256(&state));
                Player::honest(self.side, config, Box::new(lie))
            }
        }
    }

    /// Makes its move in every unsettled game; settles the games that are over.
    fn play(&mut self, chain: &mut dyn Chain, lines: &mut Vec<String>) -> Result<(), AgentError> {
        let open: Vec<(u64, u64, u32)> = self
            .games
            .iter()
            .filter(|(_, seat)| !seat.done)
            .map(|(&id, seat)| (id, seat.task_id, seat.round))
            .collect();
        for (id, task_id, round) in open {
            match self.step_game(chain, id, task_id, round) {
                Ok(Some(line)) => lines.push(line),
                Ok(None) => {}
                Err(error) => report(error, &format!("game {id}"), lines)?,
            }
        }
        Ok(())
    }

    /// One turn in game `id` (over round `round` of task `task_id`): settle it if it is over,
    /// collect a challenger's reward once its rejected round closes, else make its move if it
    /// has one.
    fn step_game(
        &mut self,
        chain: &mut dyn Chain,
        id: u64,
        task_id: u64,
        round: u32,
    ) -> Result<Option<String>, AgentError> {
        let contracts = self.contracts;
        let g = read_game(chain, &contracts, id)?;
        if g.account(self.side) != Some(self.account) {
            // Another server's game on a task it serves too.
            self.finish(id);
            return Ok(None);
        }
        let task = roles::read_task(chain, &contracts, task_id)?;
        let dispute = roles::read_dispute(chain, &contracts, task_id, round, g.challenger)?;
        let winner = match g.winner {
            Party::Challenger => "the challenger won",
            Party::Claimant => "the server won",
            Party::None => "no winner",
        };
        match DisputeStatus::of(&dispute)? {
            DisputeStatus::Open if g.stage == Stage::Resolved => {
                roles::settle(
                    chain,
                    &contracts,
                    self.account,
                    task_id,
                    round,
                    g.challenger,
                )?;
                // A winning challenger keeps its seat to collect once the round closes.
                if self.side != Party::Challenger || g.winner != Party::Challenger {
                    self.finish(id);
                    self.report(chain, id, task_id, g.winner)?;
                }
                return Ok(Some(format!(
                    "game {id}: over ({winner}); settled the dispute of task {task_id}"
                )));
            }
            DisputeStatus::Open => {}
            DisputeStatus::Won if self.side == Party::Challenger => {
                let r = roles::read_round(chain, &contracts, task_id, round)?;
                if r.openDisputes > 0 {
                    return Ok(None);
                }
                roles::collect(
                    chain,
                    &contracts,
                    self.account,
                    task_id,
                    round,
                    g.challenger,
                )?;
                self.finish(id);
                self.report(chain, id, task_id, g.winner)?;
                return Ok(Some(format!(
                    "game {id}: over ({winner}); round {round} of task {task_id} closed: \
                     collected the bond and a share of {} wei of the reward pool",
                    r.share
                )));
            }
            _ => {
                self.finish(id);
                self.report(chain, id, task_id, g.winner)?;
                return Ok(Some(format!("game {id}: over ({winner}) and settled")));
            }
        }
        let left = clock_left(chain, &contracts, id)?;
        if !self.players.contains_key(&id) {
            let config = config_of(&task)?;
            let truth = self.run(chain, task_id, &task)?.clone();
            let player = self.player(config, truth);
            self.players.insert(id, player);
        }
        let player = self
            .players
            .get_mut(&id)
            .ok_or(AgentError::Internal("a player just made is missing"))?;
        let Some(mv) = player.next_move(&g, left)? else {
            return Ok(None);
        };
        let record = match send_move(chain, &contracts, id, self.account, player, &mv)? {
            Sent::Accepted(receipt) => MoveRecord::new(self.side, &mv, &g, receipt.gas_used, false),
            Sent::Refused(_) => MoveRecord::new(self.side, &mv, &g, 0, true),
        };
        if let Some(seat) = self.games.get_mut(&id) {
            seat.moves.push(record);
        }
        Ok(Some(format!("game {id}: {}", describe(&mv, &g))))
    }

    /// Done with game `id`: its player and, once no task or game needs it, its task's run go.
    fn finish(&mut self, id: u64) {
        if let Some(seat) = self.games.get_mut(&id) {
            seat.done = true;
        }
        self.players.remove(&id);
    }

    /// Files the report of game `id`, which `winner` won.
    fn report(
        &mut self,
        chain: &mut dyn Chain,
        id: u64,
        task_id: u64,
        winner: Party,
    ) -> Result<(), AgentError> {
        let history = game_history(chain, &self.contracts, id)?;
        let own_moves = self
            .games
            .get_mut(&id)
            .map(|seat| std::mem::take(&mut seat.moves))
            .unwrap_or_default();
        self.reports.push(SeatReport {
            game_id: id,
            task_id,
            side: self.side,
            winner,
            history,
            own_moves,
        });
        Ok(())
    }

    /// Withdraws what the registry credits it, and forgets the runs no longer needed.
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
        self.runs.retain(|task_id, _| {
            tasks.get(task_id) == Some(&false)
                || games
                    .values()
                    .any(|seat| seat.task_id == *task_id && !seat.done)
        });
        Ok(())
    }
}

/// The phases of `task`'s games.
fn config_of(task: &TaskRegistry::Task) -> Result<PhaseConfig, AgentError> {
    PhaseConfig::unpack(&task.heights.0)
        .map_err(|error| AgentError::Decode(format!("task heights: {error}")))
}

/// A move, for the narration.
fn describe(mv: &Move, g: &GameRecord) -> String {
    match mv {
        Move::CommitRoot { .. } => "committed its top-phase history root".to_owned(),
        Move::Reveal { .. } => format!(
            "revealed its children at phase {}, height {} (from step {})",
            g.phase, g.height, g.position
        ),
        Move::Descend { .. } => format!(
            "descended into phase {} at step {}",
            g.phase + 1,
            g.position
        ),
        Move::DescendProgram { .. } => format!(
            "descended into the step program's run of coarse step {}",
            g.position + 1
        ),
        Move::Step { .. } => format!("proved step {} on chain", g.position),
        Move::Timeout => "ended the game: the opponent's clock ran out".to_owned(),
    }
}

/// Reports `error` of `what` in the lines, unless the node itself failed (then it is returned).
fn report(error: AgentError, what: &str, lines: &mut Vec<String>) -> Result<(), AgentError> {
    if is_fatal(&error) {
        return Err(error);
    }
    lines.push(format!("{what}: {error}"));
    Ok(())
}

/// Whether `error` is the node's (unreachable, timing out, refusing requests, or no key for
/// the account): nothing else will work either.
fn is_fatal(error: &AgentError) -> bool {
    matches!(
        error,
        AgentError::Chain(
            ChainError::Rpc(_)
                | ChainError::Timeout { .. }
                | ChainError::Node(_)
                | ChainError::UnknownAccount(_)
        )
    )
}
