//! The opml agents: everything that acts on the contracts, over any [`opml_chain::Chain`].
//!
//! - [`program`]: a guest program's ID, initial state and honest trace; [`models`]: the DNN
//!   models an agent serves graph tasks of.
//! - [`deploy`]: the contract suite (verifier, input oracle, dispute game, task registry).
//! - [`roles`]: the opML roles' transactions (requester, server, challenger).
//! - [`record`]: a game's on-chain record; [`player`]: one side's next move, honest or not;
//!   [`adversary`]: the lies adversaries tell; [`arena`]: a game played to its end.
//! - [`scenario`]: the whole story (task, result, dispute, verdict, payouts) in one process;
//!   to dispute your own program in a test: `Scenario::new(Program::new(ELF)?, input)?
//!   .with_liar(Party::Claimant)?.play()?` (see [`Scenario::new`]).
//! - [`siege`]: an honest server's service defending one result against many garbage
//!   disputes.
//! - [`service`]: the server and challenger as long-running services, each in its own
//!   process, polling a node; their runs and tree builds run as jobs off the polling path.

pub mod adversary;
pub mod arena;
pub mod deploy;
pub mod models;
pub mod player;
pub mod program;
pub mod record;
pub mod roles;
pub mod scenario;
pub mod service;
pub mod siege;

use std::fmt;

use opml_chain::ChainError;
use opml_game::{ConfigError, TraceError, TreeError};
use opml_state::Hash;

pub use deploy::{Contracts, RegistryConfig};
pub use models::ModelStore;
pub use player::{Conduct, Move, Player};
pub use program::Program;
pub use record::{GameRecord, Party, Stage};
pub use scenario::{Adversary, DisputeReport, Event, GraphRuns, Scenario, default_phases};
pub use service::{Challenger, Server, Service};

/// Why an agent could not act.
#[derive(Debug)]
pub enum AgentError {
    /// The chain failed or refused a transaction.
    Chain(ChainError),
    /// The program could not be loaded.
    Load(opml_vm::LoadError),
    /// A trace could not give the states asked for.
    Trace(TraceError),
    /// A history tree could not be built.
    Tree(TreeError),
    /// The agent's own step witness did not verify (a bug, never the opponent's doing).
    Witness(String),
    /// The chain returned something the agent cannot read.
    Decode(String),
    /// No game has this id.
    NoSuchGame(u64),
    /// The game's phases are not the ones the player was built for.
    ConfigMismatch,
    /// A transaction did not emit the event it must.
    MissingEvent(&'static str),
    /// The input is 4 GiB or longer.
    InputTooLong(usize),
    /// No complete upload of the input with this commitment is in the input oracle.
    InputUnavailable(Hash),
    /// The input oracle says the input with this commitment is longer than an agent fetches
    /// ([`roles::MAX_INPUT`]).
    InputOverLimit {
        /// The input's commitment.
        commitment: Hash,
        /// The length the oracle's event gives.
        length: u64,
    },
    /// The task's program is not one the agent was given.
    UnknownProgram(Hash),
    /// A graph task's model does not parse, or its node step cannot be re-done.
    Graph(opml_graph::GraphError),
    /// No model with this model root is known to the agent.
    UnknownModel(Hash),
    /// The program did not halt within the games' trace length.
    NoHalt(u64),
    /// The backend has fewer accounts than the roles need.
    Accounts(usize),
    /// A game took more rounds than any game can.
    Stuck(u64),
    /// An internal invariant broke.
    Internal(&'static str),
    /// A phase configuration the game refuses.
    Phases(ConfigError),
}

impl fmt::Display for AgentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AgentError::Chain(error) => write!(f, "chain: {error}"),
            AgentError::Load(error) => write!(f, "program: {error}"),
            AgentError::Trace(error) => write!(f, "trace: {error}"),
            AgentError::Tree(error) => write!(f, "history tree: {error}"),
            AgentError::Witness(error) => write!(f, "own step witness does not verify: {error}"),
            AgentError::Decode(what) => write!(f, "unreadable chain data: {what}"),
            AgentError::NoSuchGame(id) => write!(f, "no game {id}"),
            AgentError::ConfigMismatch => {
                f.write_str("the game's phase configuration is not the player's")
            }
            AgentError::MissingEvent(signature) => {
                write!(f, "the transaction emitted no {signature}")
            }
            AgentError::InputTooLong(len) => write!(f, "input of {len} bytes is 4 GiB or longer"),
            AgentError::InputUnavailable(commitment) => write!(
                f,
                "no complete upload of input 0x{} in the input oracle",
                hex::encode(commitment)
            ),
            AgentError::InputOverLimit { commitment, length } => write!(
                f,
                "input 0x{} is {length} bytes long, more than the {} bytes an agent fetches",
                hex::encode(commitment),
                roles::MAX_INPUT
            ),
            AgentError::UnknownProgram(id) => {
                write!(
                    f,
                    "program 0x{} is not one this agent runs",
                    hex::encode(id)
                )
            }
            AgentError::Graph(error) => write!(f, "graph task: {error}"),
            AgentError::UnknownModel(root) => {
                write!(f, "model 0x{} is not one this agent has", hex::encode(root))
            }
            AgentError::NoHalt(steps) => {
                write!(
                    f,
                    "the program does not halt within {steps} steps (the games' length)"
                )
            }
            AgentError::Accounts(n) => write!(f, "the chain offers {n} accounts; 4 are needed"),
            AgentError::Stuck(id) => write!(f, "game {id} did not end (a bug)"),
            AgentError::Internal(what) => write!(f, "internal error: {what}"),
            AgentError::Phases(error) => write!(f, "phases: {error}"),
        }
    }
}

impl std::error::Error for AgentError {}

impl From<ChainError> for AgentError {
    fn from(error: ChainError) -> AgentError {
        AgentError::Chain(error)
    }
}

impl From<opml_vm::LoadError> for AgentError {
    fn from(error: opml_vm::LoadError) -> AgentError {
        AgentError::Load(error)
    }
}

impl From<TraceError> for AgentError {
    fn from(error: TraceError) -> AgentError {
        AgentError::Trace(error)
    }
}

impl From<opml_graph::GraphError> for AgentError {
    fn from(error: opml_graph::GraphError) -> AgentError {
        AgentError::Graph(error)
    }
}

impl From<ConfigError> for AgentError {
    fn from(error: ConfigError) -> AgentError {
        AgentError::Phases(error)
    }
}

impl From<TreeError> for AgentError {
    fn from(error: TreeError) -> AgentError {
        AgentError::Tree(error)
    }
}
