//! One side of one dispute game: from the game's record to the side's next move.
//!
//! A player holds the trace it stands for and builds history trees lazily, one per phase range
//! the game actually enters (`docs/game-design.md`). Everything it needs to find its place
//! (phase, height, position, which node is its own) comes from the on-chain record, so a player
//! can join or resume a game at any point.
//!
//! Its trees are bounded-memory [`HistoryTree`]s (at most
//! [`HistoryTree::MAX_STORED_HASHES`] hashes each, whatever the phase height): nodes below a
//! tree's cut are recomputed through the player's own trace when a move needs them. It keeps
//! only the trees of the current phase and the one below, and a task's top tree can be built
//! once and shared by every player of every game on the task ([`Player::build_top_tree`],
//! [`Player::with_top_tree`]).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use alloy_primitives::{B256, Bytes, U256};
use alloy_sol_types::SolCall;
use opml_chain::contracts::DisputeGame;
use opml_game::{HistoryTree, PhaseConfig, ProgramTrace, Trace, TreeError, node_hash};
use opml_graph::GraphPhase;
use opml_state::Hash;
use serde::Serialize;

use crate::AgentError;
use crate::adversary::{LyingTrace, final_state_with_output};
use crate::program::Program;
use crate::record::{GameRecord, Party, Stage};

/// How a player deviates from the rules (the adversaries of the test suite), or not.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Conduct {
    /// Plays every move by the rules.
    Honest,
    /// Makes `moves` moves, then never moves again.
    SilentAfter {
        /// Moves made before falling silent.
        moves: usize,
    },
    /// From phase `phase` down, commits child traces that do not follow its parent trace:
    /// the true states, with only the last leaf forced to its parent leaf (the link opML's
    /// multi-phase games never checked).
    Inconsistent {
        /// The first phase (0 = top) committed inconsistently; at least 1.
        phase: usize,
    },
    /// Descends with a forged boundary: a child root whose last leaf is not its own parent
    /// leaf, and a forged agreed state where one is due.
    ForgedDescent,
    /// Reveals children that do not hash to its node.
    BadReveal,
}

/// A move in a game, ready to be sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Move {
    /// The claimant's top-phase root.
    CommitRoot {
        /// The root.
        root: Hash,
        /// Left siblings of its last leaf (the claimed end), bottom up.
        end_proof: Vec<Hash>,
    },
    /// The children of the mover's current node.
    Reveal {
        /// Left child.
        left: Hash,
        /// Right child.
        right: Hash,
    },
    /// The mover's root for the disputed coarse step in the next phase.
    Descend {
        /// The child root.
        child_root: Hash,
        /// Left siblings of its last leaf (the mover's own parent leaf).
        last_leaf_proof: Vec<Hash>,
        /// `[S(position), siblings…]` when the agreed state is pending, else empty.
        agreed_proof: Vec<Hash>,
    },
    /// The mover's root for the step program's run of the disputed coarse step of a
    /// program-defined top phase.
    DescendProgram {
        /// The child root.
        child_root: Hash,
        /// Left siblings of its last leaf (the hash of `final_state`).
        last_leaf_proof: Vec<Hash>,
        /// As for `Descend`.
        agreed_proof: Vec<Hash>,
        /// The step program's packed initial state (the first descender only, else empty).
        step_initial_state: Vec<u8>,
        /// The packed final state of the mover's run: a clean exit whose output is its own
        /// commitment.
        final_state: Vec<u8>,
    },
    /// The one-step proof from the agreed state.
    Step {
        /// The packed pre-state.
        state_data: Vec<u8>,
        /// The step proof.
        proof: Vec<u8>,
        /// As for `Descend`.
        agreed_proof: Vec<Hash>,
    },
    /// Ends the game: the side on turn ran out of time.
    Timeout,
}

impl Move {
    /// The move's name, as the contract function.
    pub fn name(&self) -> &'static str {
        match self {
            Move::CommitRoot { .. } => "commitRoot",
            Move::Reveal { .. } => "reveal",
            Move::Descend { .. } => "descend",
            Move::DescendProgram { .. } => "descendProgram",
            Move::Step { .. } => "step",
            Move::Timeout => "timeout",
        }
    }

    /// The calldata of the move in game `id`.
    pub fn calldata(&self, id: u64) -> Bytes {
        let id = U256::from(id);
        let hashes = |hashes: &[Hash]| hashes.iter().map(|h| B256::from(*h)).collect::<Vec<_>>();
        match self {
            Move::CommitRoot { root, end_proof } => DisputeGame::commitRootCall {
                id,
                root: B256::from(*root),
                endProof: hashes(end_proof),
            }
            .abi_encode(),
            Move::Reveal { left, right } => DisputeGame::revealCall {
                id,
                left: B256::from(*left),
                right: B256::from(*right),
            }
            .abi_encode(),
            Move::Descend {
                child_root,
                last_leaf_proof,
                agreed_proof,
            } => DisputeGame::descendCall {
                id,
                childRoot: B256::from(*child_root),
                lastLeafProof: hashes(last_leaf_proof),
                agreedProof: hashes(agreed_proof),
            }
            .abi_encode(),
            Move::DescendProgram {
                child_root,
                last_leaf_proof,
                agreed_proof,
                step_initial_state,
                final_state,
            } => DisputeGame::descendProgramCall {
                id,
                childRoot: B256::from(*child_root),
                lastLeafProof: hashes(last_leaf_proof),
                agreedProof: hashes(agreed_proof),
                stepInitialState: Bytes::copy_from_slice(step_initial_state),
                finalState: Bytes::copy_from_slice(final_state),
            }
            .abi_encode(),
            Move::Step {
                state_data,
                proof,
                agreed_proof,
            } => DisputeGame::stepCall {
                id,
                stateData: Bytes::copy_from_slice(state_data),
                proof: Bytes::copy_from_slice(proof),
                agreedProof: hashes(agreed_proof),
            }
            .abi_encode(),
            Move::Timeout => DisputeGame::timeoutCall { id }.abi_encode(),
        }
        .into()
    }
}

/// One side of a game, standing for a trace.
pub struct Player {
    side: Party,
    config: PhaseConfig,
    trace: Box<dyn Trace + Send>,
    /// The true trace, for [`Conduct::Inconsistent`] child commitments.
    truth: Option<Box<dyn Trace + Send>>,
    conduct: Conduct,
    /// Made by [`Player::adversary`]: a move it cannot make or the chain refuses ends its
    /// play instead of being an error.
    adversary: bool,
    /// Trees of the current phase and the one below, by (phase, range start).
    trees: HashMap<(usize, u64), HistoryTree>,
    moves: usize,
    gave_up: bool,
    busy: Duration,
    /// The step program of a program-defined top phase, and the run of the disputed coarse
    /// step once the game has descended into it.
    step: Option<StepGame>,
}

/// A program-defined top phase's step program and the run of the disputed coarse step.
struct StepGame {
    program: Program,
    run: Option<Box<dyn Trace + Send>>,
}

impl std::fmt::Debug for Player {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Player")
            .field("side", &self.side)
            .field("config", &self.config)
            .field("conduct", &self.conduct)
            .field("moves", &self.moves)
            .finish_non_exhaustive()
    }
}

impl Player {
    /// A player for `side` of games with `config`, standing for `trace` and playing by the
    /// rules.
    pub fn honest(side: Party, config: PhaseConfig, trace: Box<dyn Trace + Send>) -> Player {
        Player {
            side,
            config,
            trace,
            truth: None,
            conduct: Conduct::Honest,
            adversary: false,
            trees: HashMap::new(),
            moves: 0,
            gave_up: false,
            busy: Duration::ZERO,
            step: None,
        }
    }

    /// A player that follows `conduct`; `truth` is the true trace, which
    /// [`Conduct::Inconsistent`] needs.
    pub fn adversary(
        side: Party,
        config: PhaseConfig,
        trace: Box<dyn Trace + Send>,
        truth: Option<Box<dyn Trace + Send>>,
        conduct: Conduct,
    ) -> Player {
        Player {
            truth,
            conduct,
            adversary: true,
            ..Player::honest(side, config, trace)
        }
    }

    /// Makes the top phase program-defined: `self`'s trace is over the program's commitments
    /// `C(i)` (one per coarse step, [`opml_game::ProgramTrace`]), and a disputed coarse step
    /// `j` is re-done by `step_program` on the input `C(j−1) ‖ be64(j)`, its run disputed in
    /// the phases below.
    pub fn with_step_program(mut self, step_program: Program) -> Player {
        self.step = Some(StepGame {
            program: step_program,
            run: None,
        });
        self
    }

    /// An honest player for `side` of a graph task's games with `config`: its top phase is
    /// `phase`'s graph states (program-defined), and a disputed coarse step is re-done by
    /// `step_program`, the node step program (`opml_graph::STEP_PROGRAM_ELF`).
    pub fn honest_graph(
        side: Party,
        config: PhaseConfig,
        phase: GraphPhase,
        step_program: Program,
    ) -> Player {
        Player::honest(side, config, Box::new(ProgramTrace::new(phase)))
            .with_step_program(step_program)
    }

    /// The top-phase tree of games with `config` over `trace` (a VM trace: leaves of
    /// `config.stride(0)` steps from step 0), to be built once per task and handed to every
    /// player of every game on the task with [`with_top_tree`](Self::with_top_tree): clones
    /// share its stored levels. It holds at most [`HistoryTree::MAX_STORED_HASHES`] hashes.
    pub fn build_top_tree(
        config: &PhaseConfig,
        trace: &mut dyn Trace,
    ) -> Result<HistoryTree, AgentError> {
        let (height, stride) = config
            .height(0)
            .zip(config.stride(0))
            .ok_or(AgentError::Internal("a configuration without a top phase"))?;
        Ok(HistoryTree::build(trace, 0, stride, height, None)?)
    }

    /// Plays with `tree` as its top-phase tree instead of building its own: a tree from
    /// [`build_top_tree`](Self::build_top_tree) over the same trace as the player's (its
    /// nodes below the cut are recomputed through the player's own trace). A tree whose range is
    /// not the player's top range (for example one given to a program-defined top phase) is
    /// refused when first used ([`AgentError::ConfigMismatch`]).
    pub fn with_top_tree(mut self, tree: HistoryTree) -> Player {
        self.trees.insert((0, 0), tree);
        self
    }

    /// The side it plays.
    pub fn side(&self) -> Party {
        self.side
    }

    /// Its conduct.
    pub fn conduct(&self) -> Conduct {
        self.conduct
    }

    /// Whether it was made by [`Player::adversary`] (whatever its conduct: a lying trace
    /// played by the rules is an adversary too).
    pub fn is_adversary(&self) -> bool {
        self.adversary
    }

    /// Moves it has made (accepted by the chain).
    pub fn moves(&self) -> usize {
        self.moves
    }

    /// Time spent computing commitments and proofs.
    pub fn busy(&self) -> Duration {
        self.busy
    }

    /// Records that the chain accepted its last move.
    pub fn accepted(&mut self) {
        self.moves += 1;
    }

    /// Records that the chain refused its last move: an adversary gives up (falls silent).
    pub fn refused(&mut self) {
        self.gave_up = true;
    }

    /// The top-phase commitment: the root, its last leaf (the end state) and that leaf's
    /// proof. A challenger opens its dispute with it.
    pub fn top_commitment(&mut self) -> Result<(Hash, Hash, Vec<Hash>), AgentError> {
        let started = Instant::now();
        let commitment = self.top_tree_commitment();
        self.busy += started.elapsed();
        commitment
    }

    /// Its top-phase tree, built on first use: a clone to hand to the other players of the same
    /// task and trace with [`with_top_tree`](Self::with_top_tree) (clones share its stored
    /// levels).
    pub fn top_tree(&mut self) -> Result<HistoryTree, AgentError> {
        let started = Instant::now();
        let tree = self.tree(0, 0, None).cloned();
        self.busy += started.elapsed();
        tree
    }

    fn top_tree_commitment(&mut self) -> Result<(Hash, Hash, Vec<Hash>), AgentError> {
        let tree = self.tree(0, 0, None)?;
        Ok((tree.root(), tree.last_leaf(), tree.last_proof().to_vec()))
    }

    /// The player's next move in the game `g`, where the side on turn has `clock_left`
    /// seconds. `None`: nothing to do now (the opponent's turn, or a silent adversary).
    pub fn next_move(
        &mut self,
        g: &GameRecord,
        clock_left: u64,
    ) -> Result<Option<Move>, AgentError> {
        if g.stage == Stage::Resolved || self.gave_up {
            return Ok(None);
        }
        if let Conduct::SilentAfter { moves } = self.conduct
            && self.moves >= moves
        {
            return Ok(None);
        }
        let started = Instant::now();
        let mv = self.choose(g, clock_left);
        self.busy += started.elapsed();
        match mv {
            // A liar's trace may have no move to give (say, no step proof of a lie): it goes
            // silent, as a real one would.
            Err(_) if self.adversary => {
                self.gave_up = true;
                Ok(None)
            }
            mv => mv,
        }
    }

    fn choose(&mut self, g: &GameRecord, clock_left: u64) -> Result<Option<Move>, AgentError> {
        self.restore_step_run(g)?;
        if g.turn != self.side {
            // Off turn: prove the step early if it wins, or end the game on the opponent's
            // timeout.
            if g.stage == Stage::Step
                && let Some(step) = self.winning_step(g)?
            {
                return Ok(Some(step));
            }
            return Ok((clock_left == 0).then_some(Move::Timeout));
        }
        if clock_left == 0 {
            return Ok(None);
        }
        let stride_log2 = self.stride_log2(g.phase)?;
        let start = self.range_start(g)?;
        let index = (g.position - start) >> (stride_log2 + u32::from(g.height));
        // Trees of phases the game has left are never needed again.
        self.trees.retain(|&(phase, _), _| phase >= g.phase);
        Ok(Some(match g.stage {
            Stage::ClaimantRoot => {
                let (root, _, end_proof) = self.top_tree_commitment()?;
                Move::CommitRoot { root, end_proof }
            }
            Stage::Bisection => {
                let (mut left, right) = self.open(g.phase, start, |tree, source| {
                    tree.children(g.height, index, source)
                })?;
                if self.conduct == Conduct::BadReveal {
                    left = node_hash(&left, &right);
                }
                Move::Reveal { left, right }
            }
            Stage::Descent if self.step.is_some() && g.phase == 0 => {
                self.descend_program(g, start, index)?
            }
            Stage::Descent => {
                let own_leaf = g.node(self.side);
                let forced = match self.conduct {
                    Conduct::ForgedDescent => Some(node_hash(&own_leaf, &own_leaf)),
                    _ => Some(own_leaf),
                };
                let child = self.tree(g.phase + 1, g.position, forced)?;
                let child_root = child.root();
                let last_leaf_proof = child.last_proof().to_vec();
                let agreed_proof = if self.side == Party::Challenger {
                    self.agreed_proof(g, start, index)?
                } else {
                    Vec::new()
                };
                Move::Descend {
                    child_root,
                    last_leaf_proof,
                    agreed_proof,
                }
            }
            Stage::Step => match self.winning_step(g)? {
                Some(step) => step,
                // A losing step is never worth sending: wait for the clock.
                None => return Ok(None),
            },
            Stage::Resolved => return Ok(None),
        }))
    }

    /// The step move if it makes this player win: the true post-state is its own leaf.
    fn winning_step(&mut self, g: &GameRecord) -> Result<Option<Move>, AgentError> {
        let (state_data, proof) = self.source(g.phase)?.step_witness(g.position)?;
        let post = opml_proof::verify_step(&state_data, &proof)
            .map_err(|error| AgentError::Witness(error.to_string()))?;
        if post != g.node(self.side) {
            return Ok(None);
        }
        let start = self.range_start(g)?;
        let index = (g.position - start) >> self.stride_log2(g.phase)?;
        let agreed_proof = self.agreed_proof(g, start, index)?;
        Ok(Some(Move::Step {
            state_data,
            proof,
            agreed_proof,
        }))
    }

    /// `[S(position), siblings…]`: the agreed state as the last leaf of the agreed subtree,
    /// when the game waits for it.
    fn agreed_proof(
        &mut self,
        g: &GameRecord,
        start: u64,
        leaf_index: u64,
    ) -> Result<Vec<Hash>, AgentError> {
        if !g.agreed_pending {
            return Ok(Vec::new());
        }
        // The agreed state is the leaf before the disputed one.
        let agreed = leaf_index
            .checked_sub(1)
            .ok_or(AgentError::Internal("agreed state before the range"))?;
        let (mut leaf, siblings) = self.open(g.phase, start, |tree, source| {
            Ok((tree.leaf(agreed, source)?, tree.proof(agreed, source)?))
        })?;
        if self.conduct == Conduct::ForgedDescent {
            leaf = node_hash(&leaf, &leaf);
        }
        let siblings = siblings
            .get(..usize::from(g.agreed_left_height))
            .ok_or(AgentError::Internal("agreed subtree higher than the tree"))?;
        let mut proof = vec![leaf];
        proof.extend_from_slice(siblings);
        Ok(proof)
    }

    fn stride_log2(&self, phase: usize) -> Result<u32, AgentError> {
        if self.step.is_some() && phase == 0 {
            // A program-defined phase counts coarse steps.
            return Ok(0);
        }
        self.config
            .stride_log2(phase)
            .ok_or(AgentError::Internal("phase outside the configuration"))
    }

    /// The range length of `phase`.
    fn span(&self, phase: usize) -> Result<u64, AgentError> {
        let height = self
            .config
            .height(phase)
            .ok_or(AgentError::Internal("phase outside the configuration"))?;
        Ok(1u64 << (self.stride_log2(phase)? + u32::from(height)))
    }

    /// The trace the leaves of `phase` come from: the step program's run below a
    /// program-defined phase, else the player's own trace.
    fn source(&mut self, phase: usize) -> Result<&mut (dyn Trace + Send + 'static), AgentError> {
        match &mut self.step {
            Some(step) if phase > 0 => step
                .run
                .as_deref_mut()
                .ok_or(AgentError::Internal("no step run before the descent")),
            _ => Ok(self.trace.as_mut()),
        }
    }

    /// Runs the step program on coarse step `j` (input `C(j−1) ‖ be64(j)`, its data oracle
    /// served by the player's trace) and keeps the run as the source of the phases below, ending
    /// at `own`, the player's `C(j)` (a liar's run is the true one with a made-up last state).
    /// Returns the run's packed final state.
    fn run_step(&mut self, j: u64, own: &Hash) -> Result<Vec<u8>, AgentError> {
        let previous = self.trace.state_hash(j - 1)?;
        let mut input = previous.to_vec();
        input.extend_from_slice(&j.to_be_bytes());
        let lower = PhaseConfig::new(&self.config.heights()[1..])
            .map_err(|_| AgentError::Internal("a program game needs two phases or more"))?;
        let preimages = self.trace.step_preimages(j)?;
        let step = self
            .step
            .as_mut()
            .ok_or(AgentError::Internal("not a program game"))?;
        let truth = match preimages {
            Some(preimages) => step.program.trace_with(&input, &lower, preimages)?,
            None => step.program.trace(&input, &lower)?,
        };
        let exited_with_own =
            truth.status() == opml_vm::ExitStatus::Exited(0) && truth.output() == own.as_slice();
        let (run, final_state): (Box<dyn Trace + Send>, Vec<u8>) = if exited_with_own {
            let data = truth.final_state().encode().to_vec();
            (Box::new(truth), data)
        } else {
            let (data, hash) = final_state_with_output(truth.final_state(), own);
            let end = truth.final_state().step;
            (Box::new(LyingTrace::new(truth, end, end, hash)), data)
        };
        step.run = Some(run);
        Ok(final_state)
    }

    /// A player joining a program game below its top phase (a restarted service) re-runs the
    /// disputed coarse step's step program, which the game names (`programStep`).
    fn restore_step_run(&mut self, g: &GameRecord) -> Result<(), AgentError> {
        let missing = self.step.as_ref().is_some_and(|step| step.run.is_none());
        if g.phase == 0 || !missing || g.program_step == 0 {
            return Ok(());
        }
        let own = self.trace.state_hash(g.program_step)?;
        self.run_step(g.program_step, &own).map(|_| ())
    }

    /// The descent from coarse step `j = position + 1` of the program-defined phase: runs the
    /// step program on `C(j−1) ‖ be64(j)` and commits to that run, ending at the player's own
    /// `C(j)` (a liar's run is the true one with a made-up last state).
    fn descend_program(
        &mut self,
        g: &GameRecord,
        start: u64,
        index: u64,
    ) -> Result<Move, AgentError> {
        let own = g.node(self.side);
        let final_state = self.run_step(g.position + 1, &own)?;
        let step_initial_state = match (&self.step, self.side) {
            (Some(step), Party::Challenger) => step.program.initial_state().to_vec(),
            _ => Vec::new(),
        };
        let forced = match self.conduct {
            Conduct::ForgedDescent => Some(node_hash(&own, &own)),
            _ => None,
        };
        let child = self.tree(1, 0, forced)?;
        let child_root = child.root();
        let last_leaf_proof = child.last_proof().to_vec();
        let agreed_proof = if self.side == Party::Challenger {
            self.agreed_proof(g, start, index)?
        } else {
            Vec::new()
        };
        Ok(Move::DescendProgram {
            child_root,
            last_leaf_proof,
            agreed_proof,
            step_initial_state,
            final_state,
        })
    }

    /// The start of the current phase's range: ranges are aligned to their own length.
    fn range_start(&self, g: &GameRecord) -> Result<u64, AgentError> {
        if g.config != self.config {
            return Err(AgentError::ConfigMismatch);
        }
        let span = self.span(g.phase)?;
        Ok(g.position - g.position % span)
    }

    /// The trace the leaves of `phase`'s trees come from: the true one for
    /// [`Conduct::Inconsistent`] phases, else [`source`](Self::source).
    fn leaf_source(
        &mut self,
        phase: usize,
    ) -> Result<&mut (dyn Trace + Send + 'static), AgentError> {
        let inconsistent =
            matches!(self.conduct, Conduct::Inconsistent { phase: from } if phase >= from);
        if !(inconsistent && self.truth.is_some()) {
            return self.source(phase);
        }
        self.truth
            .as_deref_mut()
            .ok_or(AgentError::Internal("no true trace"))
    }

    /// The tree of `phase` over the range from `start`, built on first use by streaming its
    /// leaves. `forced_last` replaces its last leaf when it is built (a child tree ends at the
    /// parent leaf) for the conducts that lie there.
    fn tree(
        &mut self,
        phase: usize,
        start: u64,
        forced_last: Option<Hash>,
    ) -> Result<&HistoryTree, AgentError> {
        let height = self
            .config
            .height(phase)
            .ok_or(AgentError::Internal("phase outside the configuration"))?;
        let stride = 1u64 << self.stride_log2(phase)?;
        match self.trees.get(&(phase, start)) {
            Some(tree)
                if (tree.height(), tree.start(), tree.stride()) != (height, start, stride) =>
            {
                // A top tree given for another configuration or trace kind.
                return Err(AgentError::ConfigMismatch);
            }
            Some(_) => {}
            None => {
                let last = forced_last.filter(|_| {
                    matches!(
                        self.conduct,
                        Conduct::Inconsistent { .. } | Conduct::ForgedDescent
                    )
                });
                let source = self.leaf_source(phase)?;
                let tree = HistoryTree::build(source, start, stride, height, last)?;
                self.trees.insert((phase, start), tree);
            }
        }
        self.trees
            .get(&(phase, start))
            .ok_or(AgentError::Internal("tree not built"))
    }

    /// Runs `query` on the tree of `phase` from `start` (built on first use) with the trace its
    /// nodes below the cut are recomputed from.
    fn open<R>(
        &mut self,
        phase: usize,
        start: u64,
        query: impl FnOnce(&mut HistoryTree, &mut dyn Trace) -> Result<R, TreeError>,
    ) -> Result<R, AgentError> {
        self.tree(phase, start, None)?;
        let mut tree = self
            .trees
            .remove(&(phase, start))
            .ok_or(AgentError::Internal("tree not built"))?;
        let answer = match self.leaf_source(phase) {
            Ok(source) => query(&mut tree, source).map_err(AgentError::from),
            Err(err) => Err(err),
        };
        self.trees.insert((phase, start), tree);
        answer
    }
}

#[cfg(test)]
mod tests {
    use alloy_primitives::Address;
    use opml_chain::EmbeddedChain;

    use super::*;
    use crate::record::Stage;
    use crate::scenario::{self, Adversary, Scenario};
    use crate::{Program, RegistryConfig};

    /// The echo guest reversing 40 bytes, and its halting step.
    fn task() -> (Program, Vec<u8>, u64) {
        let program = Program::new(opml_methods::ECHO_ELF).expect("echo loads");
        let mut input = vec![echo::MODE_RAW];
        input.extend(0..40u8);
        let mut machine = program.machine(&input).expect("loads");
        machine.run(u64::MAX);
        (program, input, machine.step_count())
    }

    /// Games whose trees are higher than [`HistoryTree::WHOLE_HEIGHT`] (the top tree, a child
    /// tree, a single phase), so that both players recompute nodes below their trees' cuts,
    /// against every lying conduct on either side: the honest side wins every game.
    #[test]
    fn trees_above_the_cut_play_like_whole_ones() {
        let (program, input, steps) = task();
        let configs: [&[u8]; 3] = [&[17], &[18, 2], &[3, 17]];
        let conducts = [
            (Conduct::Honest, steps / 2),
            (Conduct::Honest, steps),
            (Conduct::Inconsistent { phase: 1 }, steps / 3),
            (Conduct::ForgedDescent, steps / 2),
            (Conduct::BadReveal, steps / 2),
        ];
        for heights in configs {
            let config = PhaseConfig::new(heights).expect("valid heights");
            for (conduct, from_step) in conducts {
                if config.len() == 1
                    && matches!(
                        conduct,
                        Conduct::Inconsistent { .. } | Conduct::ForgedDescent
                    )
                {
                    continue;
                }
                for side in [Party::Claimant, Party::Challenger] {
                    let scenario = Scenario {
                        program: program.clone(),
                        input: input.clone(),
                        model: None,
                        config,
                        registry: RegistryConfig::default(),
                        adversary: Some(Adversary {
                            side,
                            from_step,
                            conduct,
                        }),
                        claimed_output: None,
                        late_join_s: 0,
                        runs: Default::default(),
                    };
                    let report = scenario::run(&mut EmbeddedChain::new(), &scenario, &mut |_| {})
                        .unwrap_or_else(|error| {
                            panic!("{heights:?} {conduct:?} {side:?}: {error}")
                        });
                    assert!(report.honest_won, "{heights:?} {conduct:?} {side:?}");
                }
            }
        }
    }

    /// A record of a game of `config` at a bisection node.
    fn bisection(config: PhaseConfig, height: u8, position: u64) -> GameRecord {
        GameRecord {
            claimant: Address::ZERO,
            challenger: Address::ZERO,
            turn_start: 0,
            phase: 0,
            height,
            turn: Party::Claimant,
            stage: Stage::Bisection,
            claimant_clock: 100,
            challenger_clock: 100,
            agreed_left_height: 0,
            agreed_pending: false,
            winner: Party::Claimant,
            position,
            program_step: 0,
            config,
            claimed_end: [0; 32],
            agreed_state: [0; 32],
            claimant_node: [0; 32],
            challenger_node: [0; 32],
            step_program: [0; 32],
        }
    }

    /// A top tree built once answers for every player given it, recomputing below its cut
    /// through each player's own trace, and moves are those of a player that built its own.
    #[test]
    fn a_shared_top_tree_plays_like_an_own_one() {
        let (program, input, _) = task();
        let config = PhaseConfig::new(&[20, 2]).expect("valid heights");
        let truth = program.trace(&input, &config).expect("runs");
        let top = Player::build_top_tree(&config, &mut truth.clone()).expect("top tree");
        assert_eq!(top.cut(), 4);
        let mut own = Player::honest(Party::Claimant, config, Box::new(truth.clone()));
        let mut shared = Player::honest(Party::Claimant, config, Box::new(truth.clone()))
            .with_top_tree(top.clone());
        assert_eq!(
            own.top_commitment().expect("own"),
            shared.top_commitment().expect("shared")
        );
        assert_eq!(top.recomputed_leaves(), 0);
        // Node 37 at height 1 (position 37 · 2 · 4): its children lie in subtree 4 below the cut.
        let g = bisection(config, 1, 37 * 8);
        let mv = shared.next_move(&g, 100).expect("moves");
        assert_eq!(mv, own.next_move(&g, 100).expect("moves"));
        assert!(matches!(mv, Some(Move::Reveal { .. })));
        assert_eq!(
            top.recomputed_leaves(),
            16,
            "one subtree, through the shared player"
        );

        // A top tree of another configuration is refused, not played.
        let other = PhaseConfig::new(&[19, 3]).expect("valid heights");
        let wrong = Player::build_top_tree(&other, &mut truth.clone()).expect("top tree");
        let mut player =
            Player::honest(Party::Claimant, config, Box::new(truth)).with_top_tree(wrong);
        assert!(matches!(
            player.top_commitment(),
            Err(AgentError::ConfigMismatch)
        ));
    }
}
