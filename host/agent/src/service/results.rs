//! A service's jobs (a task's run, a challenger's opening, a move) and where their results
//! go when a poll collects them.

use opml_game::HistoryTree;

use super::desk::Desk;
use super::games::Hand;
use super::task_work::{Commitment, Run, RunState};
use crate::AgentError;
use crate::player::{Move, Player};
use crate::record::GameRecord;

/// A job of a service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum JobKey {
    /// The run of a task.
    Run(u64),
    /// A challenger's opening of its dispute of a task: its top tree.
    Opening(u64),
    /// The top history tree of a task, shared by every game on it.
    TopTree(u64),
    /// The next move in a game.
    Move(u64),
}

impl std::fmt::Display for JobKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JobKey::Run(task) => write!(f, "task {task}: its run"),
            JobKey::Opening(task) => write!(f, "task {task}: its top commitment"),
            JobKey::TopTree(task) => write!(f, "task {task}: its top history tree"),
            JobKey::Move(game) => write!(f, "game {game}: its move"),
        }
    }
}

/// What a job gives back.
pub(crate) enum JobOutput {
    /// A task's run, or why there is none.
    Run {
        /// The task.
        task: u64,
        /// The run.
        run: Result<Run, String>,
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
    /// A task's top history tree.
    TopTree {
        /// The task.
        task: u64,
        /// The tree, or why there is none.
        tree: Result<HistoryTree, String>,
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

impl Desk {
    /// Files the finished jobs' results where the next steps look for them.
    pub(crate) fn collect(&mut self, lines: &mut Vec<String>) {
        for (key, output) in self.jobs.collect() {
            match output {
                Ok(JobOutput::Run { task, run }) => {
                    let run = match run {
                        Ok(run) => RunState::Done(run),
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
                    mut player,
                    commitment,
                }) => {
                    if let Some(work) = self.work.get_mut(&task) {
                        // Built by the opening already: every later game on the task shares it.
                        if work.top.is_none() && commitment.is_ok() {
                            work.top = Some(player.top_tree().map_err(|error| error.to_string()));
                        }
                        work.opening = Some((player, commitment));
                    }
                }
                Ok(JobOutput::TopTree { task, tree }) => {
                    if let Some(work) = self.work.get_mut(&task) {
                        work.top = Some(tree);
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
                    // A game that ended meanwhile needs its player no more.
                    if let Some(seat) = self.games.get_mut(&game)
                        && !seat.done
                    {
                        seat.hand = hand;
                    }
                }
                Err(reason) => {
                    lines.push(format!("{key}: {reason}; retried at the next poll"));
                    match key {
                        JobKey::Run(task) | JobKey::Opening(task) => {
                            self.work.remove(&task);
                        }
                        JobKey::TopTree(task) => {
                            if let Some(work) = self.work.get_mut(&task) {
                                work.top = None;
                            }
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
}
