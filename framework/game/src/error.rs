//! Every error of this crate, one enum per concept.

use std::error::Error;
use std::fmt;

use crate::config::{MAX_HEIGHT, MAX_PHASES, MAX_TOTAL_HEIGHT};

/// Why a phase configuration is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// A game has at least one phase.
    NoPhases,
    /// More than [`MAX_PHASES`] phases; the value is how many were given.
    TooManyPhases(usize),
    /// A phase's tree has height zero (one leaf: nothing to bisect).
    ZeroHeight {
        /// The phase, 0 = top.
        phase: usize,
    },
    /// A phase's tree is higher than [`MAX_HEIGHT`].
    HeightTooLarge {
        /// The phase, 0 = top.
        phase: usize,
        /// Its height.
        height: u8,
    },
    /// The heights add up to more than the most allowed for their kind of top phase.
    TotalTooLarge {
        /// Their sum.
        sum: u32,
        /// The most allowed.
        max: u32,
    },
    /// Below a program-defined top phase, the VM phases add up to more than
    /// [`MAX_TOTAL_HEIGHT`]; the value is their sum.
    VmTooLarge(u32),
    /// A program-defined top phase without a VM phase below it to re-do its steps.
    ProgramPhaseAlone,
    /// A packed configuration has a non-zero byte after the zero byte that ends it.
    Padding {
        /// Index of the non-zero byte.
        byte: usize,
    },
    /// A comma-separated list item that is not a number from 0 to 255.
    Syntax(String),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::NoPhases => f.write_str("a game needs at least one phase"),
            ConfigError::TooManyPhases(count) => {
                write!(f, "{count} phases given, at most {MAX_PHASES} allowed")
            }
            ConfigError::ZeroHeight { phase } => {
                write!(f, "phase {phase} has height 0 (at least 1 allowed)")
            }
            ConfigError::HeightTooLarge { phase, height } => write!(
                f,
                "phase {phase} has height {height} (at most {MAX_HEIGHT} allowed)"
            ),
            ConfigError::TotalTooLarge { sum, max } => {
                write!(f, "phase heights add up to {sum} (at most {max} allowed)")
            }
            ConfigError::VmTooLarge(sum) => write!(
                f,
                "the VM phases below the top add up to {sum} (at most {MAX_TOTAL_HEIGHT} allowed)"
            ),
            ConfigError::ProgramPhaseAlone => {
                f.write_str("a program-defined top phase (a graph task) needs a VM phase below it")
            }
            ConfigError::Padding { byte } => write!(
                f,
                "packed configuration has a non-zero byte {byte} after its last phase"
            ),
            ConfigError::Syntax(item) => write!(
                f,
                "`{item}` is not a phase height (expected comma-separated heights, e.g. `20,10`)"
            ),
        }
    }
}

impl Error for ConfigError {}

/// Why a history tree cannot be built or opened.
#[derive(Debug)]
pub enum TreeError {
    /// The number of leaves is not `2^height`.
    LeafCount {
        /// The tree's height.
        height: u8,
        /// How many leaves were given.
        count: u64,
    },
    /// A tree higher than [`MAX_HEIGHT`]; the value is its height.
    TooHigh(u8),
    /// A cut level above the tree's height.
    Cut {
        /// The tree's height.
        height: u8,
        /// The cut level asked for.
        cut: u8,
    },
    /// The tree has no node at this level and index.
    NoNode {
        /// Height above the leaves.
        level: u8,
        /// Index from the left.
        index: u64,
    },
    /// A subtree recomputed below the cut does not hash to the node the tree stored: the
    /// source is not the trace the tree was built from.
    Diverged {
        /// The subtree's index on the cut level.
        subtree: u64,
    },
    /// The trace could not give the leaves.
    Trace(TraceError),
}

impl fmt::Display for TreeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TreeError::LeafCount { height, count } => write!(
                f,
                "a history tree of height {height} needs 2^{height} leaves, {count} given"
            ),
            TreeError::TooHigh(height) => write!(
                f,
                "a history tree of height {height} (at most {MAX_HEIGHT} allowed)"
            ),
            TreeError::Cut { height, cut } => write!(
                f,
                "cut level {cut} is above the history tree's height {height}"
            ),
            TreeError::NoNode { level, index } => {
                write!(f, "the history tree has no node {index} on level {level}")
            }
            TreeError::Diverged { subtree } => write!(
                f,
                "subtree {subtree} recomputed from the trace does not match the history tree"
            ),
            TreeError::Trace(err) => write!(f, "{err}"),
        }
    }
}

/// The `Display` text already includes a wrapped trace error, so `source` is not implemented.
impl Error for TreeError {}

impl From<TraceError> for TreeError {
    fn from(err: TraceError) -> TreeError {
        TreeError::Trace(err)
    }
}

/// Why a trace cannot answer a query.
#[derive(Debug)]
pub enum TraceError {
    /// Leaves were asked for with stride zero.
    ZeroStride,
    /// More leaves were asked for than a history tree of the highest height holds.
    TooManyLeaves(u64),
    /// The last leaf asked for lies past step `u64::MAX`.
    RangeOverflow {
        /// The range's agreed start.
        start: u64,
        /// Steps per leaf.
        stride: u64,
        /// Leaves asked for.
        count: u64,
    },
    /// A step outside the steps the trace knows: before its first step, or after its last
    /// one when the run did not halt by then.
    OutOfRange {
        /// The step asked for.
        step: u64,
        /// The first step the trace knows.
        first: u64,
        /// The last step the trace knows.
        last: u64,
    },
    /// The trace has no one-step proofs: its steps are not single VM instructions (a
    /// program-defined phase).
    NoStepProof,
    /// The program-defined phase failed.
    Program(Box<dyn Error + Send + Sync>),
    /// The VM cannot take a step: its guest reads a preimage the host does not have.
    Host(opml_vm::HostError),
}

impl fmt::Display for TraceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TraceError::ZeroStride => f.write_str("leaves asked for with stride 0"),
            TraceError::TooManyLeaves(count) => write!(
                f,
                "{count} leaves asked for, at most 2^{MAX_HEIGHT} allowed"
            ),
            TraceError::RangeOverflow {
                start,
                stride,
                count,
            } => write!(
                f,
                "{count} leaves of stride {stride} from step {start} end past step 2^64 - 1"
            ),
            TraceError::OutOfRange { step, first, last } => write!(
                f,
                "step {step} is outside the trace's steps {first} to {last}"
            ),
            TraceError::NoStepProof => {
                f.write_str("a program-defined phase has no one-step proofs")
            }
            TraceError::Program(err) => write!(f, "program-defined phase failed: {err}"),
            TraceError::Host(err) => write!(f, "the VM cannot go on: {err}"),
        }
    }
}

/// The `Display` text already includes a wrapped program error, so `source` is not
/// implemented (one or the other, never both, or chained printers say it twice).
impl Error for TraceError {}
