//! Playing a game to its end between two in-process players, on any chain.
//!
//! Each round reads the game's record, asks the side on turn for its move, then the other side
//! (which may prove the final step early or claim a timeout). When neither moves, the side on
//! turn is silent: the arena moves the chain's clock past its time, so the other side can end
//! the game (dev chains only; on a real node the roles run as separate processes and wait).

use std::time::Instant;

use alloy_primitives::{Address, B256, U256};
use alloy_sol_types::{SolCall, SolEventInterface};
use opml_chain::contracts::DisputeGame;
use opml_chain::{Chain, ChainError, LogQuery, TxReceipt};
use serde::Serialize;

use crate::AgentError;
use crate::deploy::{Contracts, send, view};
use crate::player::{Move, Player};
use crate::record::{GameRecord, Party};

/// Most rounds a game may take before the arena calls it stuck (a game of the deepest
/// configuration takes about 2 × 62 + 2 × 8 moves).
const MAX_ROUNDS: usize = 1_000;

/// Something that happened in a game.
#[derive(Debug)]
pub enum GameEvent<'a> {
    /// `side` made `mv` in the game `before` described.
    Moved {
        /// Who moved.
        side: Party,
        /// The move.
        mv: &'a Move,
        /// The record before the move.
        before: &'a GameRecord,
        /// Gas of the transaction.
        gas: u64,
    },
    /// The chain refused an adversary's move.
    Refused {
        /// Who tried.
        side: Party,
        /// The move.
        mv: &'a Move,
        /// The contract's error.
        error: String,
    },
    /// Nobody moved: the chain's clock was moved on.
    Waited {
        /// The silent side.
        silent: Party,
        /// Seconds.
        seconds: u64,
    },
    /// The game is over.
    Resolved {
        /// The final record.
        record: &'a GameRecord,
    },
}

/// One move as sent.
#[derive(Clone, Debug, Serialize)]
pub struct MoveRecord {
    /// Who moved.
    pub side: Party,
    /// The contract function.
    pub name: &'static str,
    /// Phase of the game at the move.
    pub phase: usize,
    /// Height of the nodes at the move.
    pub height: u8,
    /// Position (agreed start) at the move.
    pub position: u64,
    /// Gas of the transaction (0 if refused).
    pub gas: u64,
    /// Whether the chain refused it.
    pub refused: bool,
}

impl MoveRecord {
    /// The record of `mv` by `side` in the game `before` described, with its gas.
    pub fn new(side: Party, mv: &Move, before: &GameRecord, gas: u64, refused: bool) -> MoveRecord {
        MoveRecord {
            side,
            name: mv.name(),
            phase: before.phase,
            height: before.height,
            position: before.position,
            gas,
            refused,
        }
    }
}

/// What one side spent.
#[derive(Clone, Debug, Default, Serialize)]
pub struct SideStats {
    /// Transactions sent (refused ones included).
    pub txs: u64,
    /// Gas of its accepted transactions.
    pub gas: u64,
    /// Transactions the chain refused.
    pub refused: u64,
    /// Seconds spent computing commitments and proofs.
    pub offchain_s: f64,
    /// Seconds of its chess clock used.
    pub clock_used_s: u64,
}

/// The report of one game.
#[derive(Clone, Debug, Serialize)]
pub struct GameReport {
    /// The game's id.
    pub id: u64,
    /// Its phase heights, top first.
    pub heights: Vec<u8>,
    /// Who won.
    pub winner: Party,
    /// Whether the game ended by a timeout (else by the step proof).
    pub by_timeout: bool,
    /// Every move.
    pub moves: Vec<MoveRecord>,
    /// The claimant's costs.
    pub claimant: SideStats,
    /// The challenger's costs.
    pub challenger: SideStats,
    /// Seconds the arena moved the chain's clock on for silent sides.
    pub waited_s: u64,
    /// Wall time of the game, seconds.
    pub wall_s: f64,
}

/// One event of a game's on-chain history.
#[derive(Clone, Debug, Serialize)]
pub struct HistoryEntry {
    /// The block it was emitted in.
    pub block: u64,
    /// The decoded event, such as `Revealed { id: 0, party: 2, left: 0x…, right: 0x… }`.
    pub event: String,
}

/// Every event the game contract emitted for game `id` from block `from_block` on (the block
/// the game was created in, when known), decoded, in order: the game's whole history as the
/// chain records it, whoever moved. Asks the node for that game's events only (the id is an
/// indexed topic of every game event).
pub fn game_history(
    chain: &mut dyn Chain,
    contracts: &Contracts,
    id: u64,
    from_block: u64,
) -> Result<Vec<HistoryEntry>, AgentError> {
    let query = LogQuery::new(contracts.game)
        .from_block(from_block)
        .topic(1, B256::from(U256::from(id)));
    Ok(chain
        .logs(&query)?
        .into_iter()
        .filter_map(|entry| {
            let event = DisputeGame::DisputeGameEvents::decode_log(&entry.log).ok()?;
            Some(HistoryEntry {
                block: entry.block_number,
                event: format!("{:?}", event.data),
            })
        })
        .collect())
}

/// Reads game `id`'s record.
pub fn read_game(
    chain: &mut dyn Chain,
    contracts: &Contracts,
    id: u64,
) -> Result<GameRecord, AgentError> {
    let game = view(
        chain,
        Address::ZERO,
        contracts.game,
        DisputeGame::gameCall { id: U256::from(id) },
    )?;
    GameRecord::decode(id, &game)
}

/// Seconds the side on turn has left in game `id`.
pub fn clock_left(
    chain: &mut dyn Chain,
    contracts: &Contracts,
    id: u64,
) -> Result<u64, AgentError> {
    let left = view(
        chain,
        Address::ZERO,
        contracts.game,
        DisputeGame::clockLeftCall { id: U256::from(id) },
    )?;
    Ok(u64::try_from(left).unwrap_or(u64::MAX))
}

/// What the chain made of a move sent with [`send_move`].
#[derive(Debug)]
pub enum Sent {
    /// Mined.
    Accepted(TxReceipt),
    /// Refused (reverted): the adversary that sent it gives up.
    Refused(ChainError),
}

/// Sends `player`'s move `mv` in game `id` from `from`, and tells the player whether the chain
/// took it. A refused move of an honest player is an error; an adversary's is
/// [`Sent::Refused`].
pub fn send_move(
    chain: &mut dyn Chain,
    contracts: &Contracts,
    id: u64,
    from: Address,
    player: &mut Player,
    mv: &Move,
) -> Result<Sent, AgentError> {
    match send(chain, from, contracts.game, U256::ZERO, mv.calldata(id)) {
        Ok(receipt) => {
            player.accepted();
            Ok(Sent::Accepted(receipt))
        }
        Err(AgentError::Chain(error @ ChainError::Revert { .. })) if player.is_adversary() => {
            player.refused();
            Ok(Sent::Refused(error))
        }
        Err(error) => Err(error),
    }
}

/// Opens a game directly on the `DisputeGame` contract (no registry), as `params.challenger`:
/// the challenger's top-phase root goes with it. For tools and tests of games alone; tasks
/// open their games through the registry. Returns the game's id.
pub fn open_game(
    chain: &mut dyn Chain,
    contracts: &Contracts,
    params: DisputeGame::Params,
    challenger: &mut Player,
) -> Result<u64, AgentError> {
    let (root, end, end_proof) = challenger.top_commitment()?;
    let from = params.challenger;
    let create = DisputeGame::createCall {
        params,
        root: B256::from(root),
        end: B256::from(end),
        endProof: end_proof.into_iter().map(B256::from).collect(),
    };
    let receipt = send(
        chain,
        from,
        contracts.game,
        U256::ZERO,
        create.abi_encode().into(),
    )?;
    let created: DisputeGame::GameCreated = crate::roles::event(&receipt, contracts.game)?;
    crate::roles::id_of(created.id)
}

/// Plays game `id` between `claimant` and `challenger` to its end, telling `observer` what
/// happens. An honest player's refused move is an error; an adversary's ends its play.
pub fn play(
    chain: &mut dyn Chain,
    contracts: &Contracts,
    id: u64,
    claimant: &mut Player,
    challenger: &mut Player,
    observer: &mut dyn FnMut(&GameEvent<'_>),
) -> Result<GameReport, AgentError> {
    let started = Instant::now();
    let mut moves = Vec::new();
    let mut stats = [SideStats::default(), SideStats::default()];
    let mut waited_s = 0;
    let first = read_game(chain, contracts, id)?;
    for _ in 0..MAX_ROUNDS {
        let g = read_game(chain, contracts, id)?;
        if g.stage == crate::record::Stage::Resolved {
            observer(&GameEvent::Resolved { record: &g });
            let slot = |p: &Player| p.busy().as_secs_f64();
            stats[0].offchain_s = slot(claimant);
            stats[1].offchain_s = slot(challenger);
            stats[0].clock_used_s = first.claimant_clock.saturating_sub(g.claimant_clock);
            stats[1].clock_used_s = first.challenger_clock.saturating_sub(g.challenger_clock);
            let [claimant_stats, challenger_stats] = stats;
            return Ok(GameReport {
                id,
                heights: g.config.heights().to_vec(),
                winner: g.winner,
                by_timeout: moves
                    .last()
                    .is_some_and(|m: &MoveRecord| m.name == Move::Timeout.name()),
                moves,
                claimant: claimant_stats,
                challenger: challenger_stats,
                waited_s,
                wall_s: started.elapsed().as_secs_f64(),
            });
        }
        let left = clock_left(chain, contracts, id)?;
        let (on_turn, off_turn): (&mut Player, &mut Player) = if g.turn == Party::Claimant {
            (&mut *claimant, &mut *challenger)
        } else {
            (&mut *challenger, &mut *claimant)
        };
        let mut acted = false;
        for player in [on_turn, off_turn] {
            let Some(mv) = player.next_move(&g, left)? else {
                continue;
            };
            let side = player.side();
            let from = g.account(side).ok_or(AgentError::Internal("no side"))?;
            let slot = &mut stats[usize::from(side == Party::Challenger)];
            slot.txs += 1;
            let record = |gas, refused| MoveRecord::new(side, &mv, &g, gas, refused);
            match send_move(chain, contracts, id, from, player, &mv)? {
                Sent::Accepted(receipt) => {
                    slot.gas += receipt.gas_used;
                    moves.push(record(receipt.gas_used, false));
                    observer(&GameEvent::Moved {
                        side,
                        mv: &mv,
                        before: &g,
                        gas: receipt.gas_used,
                    });
                }
                Sent::Refused(error) => {
                    slot.refused += 1;
                    moves.push(record(0, true));
                    observer(&GameEvent::Refused {
                        side,
                        mv: &mv,
                        error: error.to_string(),
                    });
                }
            }
            acted = true;
            break;
        }
        if !acted {
            let seconds = left + 1;
            chain.advance_time(seconds)?;
            waited_s += seconds;
            observer(&GameEvent::Waited {
                silent: g.turn,
                seconds,
            });
        }
    }
    Err(AgentError::Stuck(id))
}
