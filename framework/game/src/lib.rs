//! The host side of the opml k-phase dispute game (`docs/game-design.md`): what a party
//! commits to and what it opens, for the agents and tests that play the game contract.
//!
//! - [`PhaseConfig`]: the phase heights of a game, top phase first. Phase `i` commits to
//!   history trees of `2^height(i)` leaves, each leaf `stride(i)` VM steps; the bottom phase
//!   has stride 1, and one leaf of a phase is exactly what one tree of the phase below covers.
//!   On chain it is one `bytes32`.
//! - [`HistoryTree`]: a keccak256 Merkle tree over `2^h` state hashes, with the node openings
//!   ([`HistoryTree::children`]) and leaf proofs ([`HistoryTree::proof`]) the contract checks,
//!   and the same checks as free functions ([`root_from_proof`], [`root_of_last_leaf`]). It is
//!   built by streaming a trace's leaves and holds at most
//!   [`HistoryTree::MAX_STORED_HASHES`] hashes (8 MiB) whatever its height: nodes below its
//!   cut level are recomputed from the trace when a query needs them.
//! - [`Trace`]: a party's run as state hashes `S(step)`. [`VmTrace`] is the honest VM's,
//!   recorded once and replayed on demand, counting its [`Work`]; [`ProgramTrace`] adapts a
//!   [`ProgramPhase`], whose coarse steps are the program's own (for example one node of a DNN
//!   graph).
//!
//! # How the game uses them
//!
//! In phase `p`, over a range starting at the agreed state `S(a)`, a party commits to the root
//! of the tree whose leaves are `S(a + stride), S(a + 2·stride), …, S(a + 2^h·stride)`
//! ([`Trace::for_each_leaf`]): the start is agreed and stored by the game, never a leaf. The two
//! parties bisect their trees by revealing the children of their nodes until the first leaf
//! `j` on which they differ. To descend, each party commits to a child tree over leaf `j`'s
//! range with the next phase's stride, and proves with [`root_of_last_leaf`] that the child
//! tree's last leaf is its own parent leaf `j`. In the bottom phase the dispute is one
//! instruction, settled by the step verifier on [`Trace::step_witness`].
//!
//! A halted VM state is a fixed point of the step, so `S(i) = S(T)` after the halting step `T`:
//! a tree that reaches past the end of the run is padded with the final state, which is also
//! exactly what the step verifier gives there. Program-defined phases pad their last
//! commitment the same way.

mod config;
mod error;
mod program;
mod trace;
mod tree;

pub use config::{
    Heights, LEAF_RATE, MARGIN, MAX_HEIGHT, MAX_PHASES, MAX_PROGRAM_TOTAL_HEIGHT, MAX_TOTAL_HEIGHT,
    MOVE_SECONDS, NATIVE_SPEEDUP_LOG2, PhaseConfig, RUN_RATE, Top,
};
pub use error::{ConfigError, TraceError, TreeError};
pub use program::{ProgramPhase, ProgramTrace};
pub use trace::{RECORDED_TOP_HEIGHT, Trace, VmTrace, Work};
pub use tree::{HistoryTree, node_hash, root_from_proof, root_of_last_leaf};
