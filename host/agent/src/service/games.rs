//! A service's moves in its games: settles the games that are over, and serves the others by
//! the urgency of their clocks, each move computed by a job and sent at a later poll.

use opml_chain::Chain;
use opml_chain::contracts::TaskRegistry;

use super::desk::{Desk, config_of};
use super::jobs::Spec;
use super::report;
use super::results::{JobKey, JobOutput};
use super::task_work::{COMMIT_RESERVE_S, Run, RunBudget, RunState};
use crate::AgentError;
use crate::arena::{MoveRecord, Sent, clock_left, game_history, read_game, send_move};
use crate::player::{Move, Player};
use crate::record::{GameRecord, Party, Stage};
use crate::roles::{self, DisputeStatus};

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
    /// The disputed round of the task.
    pub(crate) round: u32,
    /// The block the game was created in.
    pub(crate) block: u64,
    /// Whether the game is over and its dispute settled.
    pub(crate) done: bool,
    /// Its moves so far.
    pub(crate) moves: Vec<MoveRecord>,
    /// Its player.
    pub(crate) hand: Hand,
    /// Whether it said why it cannot play.
    pub(crate) stuck: bool,
}

impl Seat {
    /// A seat in a game over round `round` of `task_id` created in `block`, played by `hand`.
    pub(crate) fn new(task_id: u64, round: u32, block: u64, hand: Hand) -> Seat {
        Seat {
            task_id,
            round,
            block,
            done: false,
            moves: Vec::new(),
            hand,
            stuck: false,
        }
    }
}

/// A game that goes on, as read at this poll.
struct Turn {
    id: u64,
    task_id: u64,
    task: TaskRegistry::Task,
    record: GameRecord,
    /// Seconds the side on turn has left.
    left: u64,
}

impl Desk {
    /// Settles the games that are over, then serves the others, the one whose side on turn has
    /// the least clock left first (the games on its own turn before the others): its move is
    /// sent, or its job started, before the others'.
    pub(crate) fn play(
        &mut self,
        chain: &mut dyn Chain,
        now: u64,
        lines: &mut Vec<String>,
        waits: &mut Vec<String>,
    ) -> Result<(), AgentError> {
        let open: Vec<(u64, u64, u32)> = self
            .games
            .iter()
            .filter(|(_, seat)| !seat.done)
            .map(|(&id, seat)| (id, seat.task_id, seat.round))
            .collect();
        let mut turns = Vec::new();
        for (id, task_id, round) in open {
            match self.look(chain, id, task_id, round) {
                Ok(Ok(turn)) => turns.push(turn),
                Ok(Err(Some(line))) => lines.push(line),
                Ok(Err(None)) => {}
                Err(error) => report(error, &format!("game {id}"), lines)?,
            }
        }
        turns.sort_by_key(|turn| (turn.record.turn != self.side, turn.left, turn.id));
        self.games_waiting = turns
            .iter()
            .filter(|turn| turn.record.turn == self.side)
            .count();
        for turn in turns {
            if let Err(error) = self.serve(chain, &turn, now, lines, waits) {
                report(error, &format!("game {}", turn.id), lines)?;
            }
        }
        Ok(())
    }

    /// Reads game `id` (over round `round` of task `task_id`): settles it once it is over, and
    /// collects a challenger's reward once its rejected round is closed, with a line to say;
    /// else the game as it goes on.
    fn look(
        &mut self,
        chain: &mut dyn Chain,
        id: u64,
        task_id: u64,
        round: u32,
    ) -> Result<Result<Turn, Option<String>>, AgentError> {
        let contracts = self.contracts;
        let record = read_game(chain, &contracts, id)?;
        if record.account(self.side) != Some(self.account) {
            // Another server's game on a task it serves too.
            self.finish(id);
            return Ok(Err(None));
        }
        let task = roles::read_task(chain, &contracts, task_id)?;
        let dispute = roles::read_dispute(chain, &contracts, task_id, round, record.challenger)?;
        let winner = match record.winner {
            Party::Challenger => "the challenger won",
            Party::Claimant => "the server won",
            Party::None => "no winner",
        };
        let (from, challenger) = (self.account, record.challenger);
        match DisputeStatus::of(&dispute)? {
            DisputeStatus::Open if record.stage == Stage::Resolved => {
                roles::settle(chain, &contracts, from, task_id, round, challenger)?;
                // A winning challenger keeps its seat to collect once the round closes.
                if self.side != Party::Challenger || record.winner != Party::Challenger {
                    self.finish(id);
                    self.report(chain, id, task_id, record.winner)?;
                }
                return Ok(Err(Some(format!(
                    "game {id}: over ({winner}); settled the dispute of task {task_id}"
                ))));
            }
            DisputeStatus::Open => {}
            DisputeStatus::Won if self.side == Party::Challenger => {
                let r = roles::read_round(chain, &contracts, task_id, round)?;
                if r.openDisputes > 0 {
                    return Ok(Err(None));
                }
                roles::collect(chain, &contracts, from, task_id, round, challenger)?;
                self.finish(id);
                self.report(chain, id, task_id, record.winner)?;
                return Ok(Err(Some(format!(
                    "game {id}: over ({winner}); round {round} of task {task_id} closed: \
                     collected the bond and a share of {} wei of the reward pool",
                    r.share
                ))));
            }
            _ => {
                self.finish(id);
                self.report(chain, id, task_id, record.winner)?;
                return Ok(Err(Some(format!("game {id}: over ({winner}) and settled"))));
            }
        }
        let left = clock_left(chain, &contracts, id)?;
        Ok(Ok(Turn {
            id,
            task_id,
            task,
            record,
            left,
        }))
    }

    /// Serves one game: sends the move its job computed for this very record, or starts the
    /// job of its next move when it may have one, or waits (for its run, its job, or the
    /// opponent's clock, said in `waits`).
    fn serve(
        &mut self,
        chain: &mut dyn Chain,
        turn: &Turn,
        now: u64,
        lines: &mut Vec<String>,
        waits: &mut Vec<String>,
    ) -> Result<(), AgentError> {
        let Some(seat) = self.games.get_mut(&turn.id) else {
            return Ok(());
        };
        let clock_out = turn.left == 0;
        let player = match std::mem::replace(&mut seat.hand, Hand::Empty) {
            Hand::Busy => {
                seat.hand = Hand::Busy;
                return Ok(());
            }
            Hand::Ready {
                mut player,
                record,
                mv,
            } if record == turn.record => {
                let sent = send_move(
                    chain,
                    &self.contracts,
                    turn.id,
                    self.account,
                    &mut player,
                    &mv,
                );
                seat.hand = Hand::Idle {
                    player,
                    nothing_for: None,
                };
                let entry = match sent? {
                    Sent::Accepted(receipt) => {
                        MoveRecord::new(self.side, &mv, &turn.record, receipt.gas_used, false)
                    }
                    Sent::Refused(_) => MoveRecord::new(self.side, &mv, &turn.record, 0, true),
                };
                seat.moves.push(entry);
                let run = match self.work.get(&turn.task_id).map(|work| &work.run) {
                    Some(RunState::Done(run)) => Some(run),
                    _ => None,
                };
                let said = describe(&mv, &turn.record, run);
                lines.push(format!("game {}: {said}", turn.id));
                return Ok(());
            }
            Hand::Ready { player, .. } => player,
            Hand::Idle {
                player,
                nothing_for,
            } => {
                if nothing_for == Some((turn.record.clone(), clock_out)) {
                    seat.hand = Hand::Idle {
                        player,
                        nothing_for,
                    };
                    waits.push(clock_wait(turn, now));
                    return Ok(());
                }
                player
            }
            Hand::Empty => match self.new_player(chain, turn, lines)? {
                Some(player) => Box::new(player),
                None => return Ok(()),
            },
        };
        let on_turn = turn.record.turn == self.side;
        if !(on_turn || turn.record.stage == Stage::Step || clock_out) {
            // The opponent's turn, and no early step or timeout to claim.
            if let Some(seat) = self.games.get_mut(&turn.id) {
                seat.hand = Hand::Idle {
                    player,
                    nothing_for: None,
                };
            }
            waits.push(clock_wait(turn, now));
            return Ok(());
        }
        self.start_move(turn, player, lines)
    }

    /// Starts the job of `player`'s next move in the game of `turn`.
    fn start_move(
        &mut self,
        turn: &Turn,
        mut player: Box<Player>,
        lines: &mut Vec<String>,
    ) -> Result<(), AgentError> {
        let (game, record, left) = (turn.id, Box::new(turn.record.clone()), turn.left);
        let spec = Spec {
            urgency: left,
            steps: self.move_steps(turn)?,
            deadline: None,
        };
        let queued = self.jobs.submit(JobKey::Move(game), spec, move |_| {
            let mv = player.next_move(&record, left);
            JobOutput::Move {
                game,
                player,
                record,
                clock_out: left == 0,
                mv,
            }
        });
        if queued {
            lines.push(format!(
                "game {game}: its move is queued ({} s left on the clock; {} job(s) running)",
                left,
                self.jobs.running()
            ));
        }
        if let Some(seat) = self.games.get_mut(&game) {
            seat.hand = Hand::Busy;
        }
        Ok(())
    }

    /// The steps a move in the game of `turn` may run: its phase range, at most the task's run.
    fn move_steps(&self, turn: &Turn) -> Result<u64, AgentError> {
        let config = config_of(&turn.task)?;
        let phase = turn.record.phase;
        let span = match (config.stride_log2(phase), config.height(phase)) {
            (Some(stride), Some(height)) => 1u64
                .checked_shl(stride + u32::from(height))
                .unwrap_or(u64::MAX),
            _ => config.total_steps(),
        };
        // A graph task's top phase counts its coarse steps; its lower phases run its step
        // program, up to the phase's span.
        let run = match self.work.get(&turn.task_id).map(|work| &work.run) {
            Some(RunState::Done(run @ Run::Vm(_))) => run.steps(),
            Some(RunState::Done(run @ Run::Graph { .. })) if phase == 0 => run.steps(),
            _ => span,
        };
        Ok(span.min(run))
    }

    /// A player for the game of `turn`, from its task's run and top tree; `None` while they are
    /// not there (they are started if they must be; a run or tree that failed is said once).
    fn new_player(
        &mut self,
        chain: &mut dyn Chain,
        turn: &Turn,
        lines: &mut Vec<String>,
    ) -> Result<Option<Player>, AgentError> {
        let config = config_of(&turn.task)?;
        let work = self.work.get(&turn.task_id);
        match work.map(|work| (&work.run, &work.top)) {
            Some((RunState::Done(truth), Some(Ok(top)))) => {
                let (truth, top) = (truth.clone(), top.clone());
                Ok(Some(self.player(config, truth).with_top_tree(top)))
            }
            Some((RunState::Done(truth), None)) => {
                // The first game on the task: its top tree is built once, as a job, for all.
                if !self.jobs.contains(JobKey::TopTree(turn.task_id)) {
                    let mut player = self.player(config, truth.clone());
                    let task = turn.task_id;
                    let spec = Spec {
                        urgency: turn.left,
                        steps: truth.steps(),
                        deadline: None,
                    };
                    self.jobs.submit(JobKey::TopTree(task), spec, move |_| {
                        let tree = player.top_tree().map_err(|error| error.to_string());
                        JobOutput::TopTree { task, tree }
                    });
                }
                Ok(None)
            }
            Some((RunState::Running, _)) => Ok(None),
            Some((RunState::Failed(reason), _)) | Some((RunState::Done(_), Some(Err(reason)))) => {
                let line = format!(
                    "game {}: cannot play: task {}: {reason}",
                    turn.id, turn.task_id
                );
                if let Some(seat) = self.games.get_mut(&turn.id)
                    && !std::mem::replace(&mut seat.stuck, true)
                {
                    lines.push(line);
                }
                Ok(None)
            }
            None => {
                // A game joined without the run (a restart): the run must fit the side's clock.
                let own = match self.side {
                    _ if turn.record.turn == self.side => turn.left,
                    Party::Challenger => turn.record.challenger_clock,
                    _ => turn.record.claimant_clock,
                };
                match RunBudget::new(&config, "its clock runs out", own, COMMIT_RESERVE_S, 2) {
                    Ok(budget) => self.start_run(chain, turn.task_id, &turn.task, budget, lines)?,
                    Err(reason) => {
                        self.work
                            .insert(turn.task_id, super::task_work::TaskWork::failed(reason));
                    }
                }
                Ok(None)
            }
        }
    }

    /// Done with game `id`: its player goes.
    fn finish(&mut self, id: u64) {
        if let Some(seat) = self.games.get_mut(&id) {
            seat.done = true;
            seat.hand = Hand::Empty;
        }
        self.jobs.cancel(JobKey::Move(id));
    }

    /// Files the report of game `id`, which `winner` won.
    fn report(
        &mut self,
        chain: &mut dyn Chain,
        id: u64,
        task_id: u64,
        winner: Party,
    ) -> Result<(), AgentError> {
        let from_block = self.games.get(&id).map_or(0, |seat| seat.block);
        let history = game_history(chain, &self.contracts, id, from_block)?;
        let own_moves = self
            .games
            .get_mut(&id)
            .map(|seat: &mut Seat| std::mem::take(&mut seat.moves))
            .unwrap_or_default();
        let task_work = match self.work.get(&task_id).map(|work| &work.run) {
            Some(RunState::Done(run)) => run.work(),
            _ => None,
        };
        self.reports.push(super::SeatReport {
            game_id: id,
            task_id,
            side: self.side,
            winner,
            history,
            own_moves,
            task_work,
        });
        Ok(())
    }
}

/// When the wait in the game of `turn` ends: the clock of the side on turn runs out.
fn clock_wait(turn: &Turn, now: u64) -> String {
    let side = match turn.record.turn {
        Party::Claimant => "the server's",
        Party::Challenger => "the challenger's",
        Party::None => "no side's",
    };
    format!(
        "game {}: {side} clock runs out at {}",
        turn.id,
        now.saturating_add(turn.left)
    )
}

/// A move in the game of record `g` over the task's run `run` (if there), for the narration:
/// a graph task's disputed coarse step is named by what it does.
fn describe(mv: &Move, g: &GameRecord, run: Option<&Run>) -> String {
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
        Move::DescendProgram { .. } => {
            let j = g.position + 1;
            match run {
                Some(Run::Graph { phase, .. }) => format!(
                    "descended into the step program's run of coarse step {j}: {}",
                    phase.describe_step(j)
                ),
                _ => format!("descended into the step program's run of coarse step {j}"),
            }
        }
        Move::Step { .. } => format!("proved step {} on chain", g.position),
        Move::Timeout => "ended the game: the opponent's clock ran out".to_owned(),
    }
}
