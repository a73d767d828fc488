//! A dispute game's on-chain record, decoded from `DisputeGame.game(id)`.

use alloy_primitives::Address;
use opml_chain::contracts::DisputeGame;
use opml_game::{PhaseConfig, Top};
use opml_state::Hash;
use serde::Serialize;

use crate::AgentError;

/// A side of a game (`DisputeGame.Party`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Party {
    /// Nobody (the winner of an unresolved game, the turn of a resolved one).
    None,
    /// The side defending the claimed end state (the server).
    Claimant,
    /// The side disputing it.
    Challenger,
}

impl Party {
    /// The other side (`None` stays `None`).
    pub fn opponent(self) -> Party {
        match self {
            Party::Claimant => Party::Challenger,
            Party::Challenger => Party::Claimant,
            Party::None => Party::None,
        }
    }

    fn from_u8(value: u8) -> Result<Party, AgentError> {
        Ok(match value {
            0 => Party::None,
            1 => Party::Claimant,
            2 => Party::Challenger,
            _ => return Err(AgentError::Decode(format!("unknown party {value}"))),
        })
    }
}

/// What a game waits for (`DisputeGame.Stage`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    /// The claimant's top-phase root.
    ClaimantRoot,
    /// Both sides' children of their current nodes.
    Bisection,
    /// Both sides' child roots for the next phase.
    Descent,
    /// The one-step proof.
    Step,
    /// Nothing: the game is over.
    Resolved,
}

impl Stage {
    fn from_u8(value: u8) -> Result<Stage, AgentError> {
        Ok(match value {
            0 => Stage::ClaimantRoot,
            1 => Stage::Bisection,
            2 => Stage::Descent,
            3 => Stage::Step,
            4 => Stage::Resolved,
            _ => return Err(AgentError::Decode(format!("unknown stage {value}"))),
        })
    }
}

/// The record of one game: field for field `DisputeGame.Game`, with typed enums.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GameRecord {
    /// The claimant's account.
    pub claimant: Address,
    /// The challenger's account.
    pub challenger: Address,
    /// When the side on turn got the turn (block time).
    pub turn_start: u64,
    /// Current phase, 0 = top.
    pub phase: usize,
    /// Height of the current nodes in the current phase's tree.
    pub height: u8,
    /// The side whose move it is.
    pub turn: Party,
    /// What the game waits for.
    pub stage: Stage,
    /// Seconds left on the claimant's clock at `turn_start` (or now, when not on turn).
    pub claimant_clock: u64,
    /// Seconds left on the challenger's clock, likewise.
    pub challenger_clock: u64,
    /// Height of the agreed subtree while the agreed state waits for its proof.
    pub agreed_left_height: u8,
    /// Whether the agreed state at `position` still has to be proven.
    pub agreed_pending: bool,
    /// The winner of a resolved game.
    pub winner: Party,
    /// Absolute step of the agreed start of the current nodes' range.
    pub position: u64,
    /// The disputed coarse step of a program-defined top phase once the game descended into
    /// its step program's run (0 before, and in VM games).
    pub program_step: u64,
    /// The game's phase configuration.
    pub config: PhaseConfig,
    /// The claimed end state.
    pub claimed_end: Hash,
    /// `S(position)`, unless `agreed_pending`.
    pub agreed_state: Hash,
    /// The claimant's current node.
    pub claimant_node: Hash,
    /// The challenger's current node.
    pub challenger_node: Hash,
    /// The step program of a program-defined top phase (zero: a VM trace).
    pub step_program: Hash,
}

impl GameRecord {
    /// Decodes the binding's record; an unknown id (an all-zero record) is an error.
    pub fn decode(id: u64, game: &DisputeGame::Game) -> Result<GameRecord, AgentError> {
        if game.claimant == Address::ZERO {
            return Err(AgentError::NoSuchGame(id));
        }
        let top = if game.stepProgram.is_zero() {
            Top::Vm
        } else {
            Top::Program
        };
        let config = PhaseConfig::unpack(&game.heights.0, top)
            .map_err(|error| AgentError::Decode(format!("game {id} heights: {error}")))?;
        Ok(GameRecord {
            claimant: game.claimant,
            challenger: game.challenger,
            turn_start: game.turnStart,
            phase: usize::from(game.phase),
            height: game.height,
            turn: Party::from_u8(game.turn)?,
            stage: Stage::from_u8(game.stage)?,
            claimant_clock: game.claimantClock,
            challenger_clock: game.challengerClock,
            agreed_left_height: game.agreedLeftHeight,
            agreed_pending: game.agreedPending,
            winner: Party::from_u8(game.winner)?,
            position: game.position,
            program_step: game.programStep,
            config,
            claimed_end: game.claimedEnd.0,
            agreed_state: game.agreedState.0,
            claimant_node: game.claimantNode.0,
            challenger_node: game.challengerNode.0,
            step_program: game.stepProgram.0,
        })
    }

    /// The account of `party`.
    pub fn account(&self, party: Party) -> Option<Address> {
        match party {
            Party::Claimant => Some(self.claimant),
            Party::Challenger => Some(self.challenger),
            Party::None => None,
        }
    }

    /// The current node of `party` (its leaf at height 0).
    pub fn node(&self, party: Party) -> Hash {
        match party {
            Party::Challenger => self.challenger_node,
            _ => self.claimant_node,
        }
    }

    /// Whether the game's top phase is program-defined.
    pub fn is_program_game(&self) -> bool {
        self.step_program != [0; 32]
    }

    /// Whether the current phase is the last (stride 1).
    pub fn in_last_phase(&self) -> bool {
        self.phase + 1 == self.config.len()
    }
}
