//! Why a step proof is rejected.

use core::fmt;

use opml_state::StateDecodeError;

/// Why [`verify_step`](crate::verify_step) rejects a pre-state and proof.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VerifyError {
    /// The pre-state bytes are not a packed state.
    State(StateDecodeError),
    /// The proof ended at byte `offset` where the step needed an item of `needed` more bytes.
    ProofTooShort {
        /// Where the missing item starts.
        offset: usize,
        /// Length of the missing item.
        needed: usize,
    },
    /// The step used `used` bytes of a proof of `len` bytes.
    ProofTooLong {
        /// Bytes the step consumed.
        used: usize,
        /// Bytes in the proof.
        len: usize,
    },
    /// A memory proof's elision mask has a bit set above the tree's levels.
    ProofMask {
        /// The mask.
        mask: u32,
    },
    /// The memory proof of leaf `leaf_index` does not hash to the state's memory root.
    MemoryRoot {
        /// Index of the leaf the step touched (byte address / 32).
        leaf_index: u32,
    },
    /// The input chunk does not hash to the state's input link.
    InputLink,
    /// The preimage's SHA-256 is not the key held in the data leaf at `buf`.
    PreimageKey {
        /// The `buf` argument of the `preimage` syscall.
        buf: u32,
    },
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VerifyError::State(err) => write!(f, "invalid pre-state: {err}"),
            VerifyError::ProofTooShort { offset, needed } => write!(
                f,
                "proof ends at byte {offset}, the step needs {needed} more bytes"
            ),
            VerifyError::ProofTooLong { used, len } => {
                write!(f, "proof has {len} bytes, the step uses only {used}")
            }
            VerifyError::ProofMask { mask } => write!(
                f,
                "memory proof mask {mask:#010x} has bits above the tree's {} levels",
                opml_state::merkle::DEPTH
            ),
            VerifyError::MemoryRoot { leaf_index } => write!(
                f,
                "memory proof of leaf {leaf_index:#x} (address {:#010x}) does not match the memory root",
                leaf_index.wrapping_shl(opml_platform::memory::LEAF_SIZE_LOG2)
            ),
            VerifyError::InputLink => f.write_str("input chunk does not match the input link"),
            VerifyError::PreimageKey { buf } => {
                write!(f, "preimage does not hash to the key held at {buf:#010x}")
            }
        }
    }
}

impl std::error::Error for VerifyError {}

impl From<StateDecodeError> for VerifyError {
    fn from(err: StateDecodeError) -> VerifyError {
        VerifyError::State(err)
    }
}
