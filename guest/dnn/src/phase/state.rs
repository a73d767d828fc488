//! The graph state `S(i)` and the words it is made of (`docs/dnn.md`, "Graph state").
//!
//! ```text
//! S(i)             = H(task ‖ H(values(i) ‖ result(i)))
//! task             = H(model_root ‖ byte_commitment(input))
//! byte_commitment  = H(len_word(len) ‖ data_root(bytes))      len_word = u64 LE ‖ 0^24
//! values(i)        = tree over the model's tensor slots; slot t holds H(meta_t ‖ c_t)
//! ```
//!
//! A slot's `c_t` is a constant's data root (as in the model root), the byte commitment of a
//! graph input or node output once it exists, and the zero word before. A byte commitment is
//! never zero, so "written" is visible in the slot. `values(0)` is the zero word (nothing
//! loaded); `result` is zero while running, the byte commitment of the concatenated graph
//! outputs once finished, or a [`Refusal`] word.

use crate::root::{TensorMeta, data_root, node, tensor_commitment};
use crate::{Hash, sha256};

/// The zero word.
pub const ZERO: Hash = [0; 32];

/// `u64 LE ‖ 0^24`: a byte length as a leaf.
pub fn len_word(len: u64) -> Hash {
    let mut word = ZERO;
    word[..8].copy_from_slice(&len.to_le_bytes());
    word
}

/// `H(len_word(len) ‖ data_root(bytes))`: commits to a byte string and its length; never the
/// zero word.
pub fn byte_commitment(bytes: &[u8]) -> Hash {
    node(&len_word(bytes.len() as u64), &data_root(bytes))
}

/// The task word: `H(model_root ‖ input_commitment)`, `input_commitment` being the
/// [`byte_commitment`] of the graph inputs' data, concatenated in the model's input order.
pub fn task(model_root: &Hash, input_commitment: &Hash) -> Hash {
    node(model_root, input_commitment)
}

/// `S = H(task ‖ H(values ‖ result))`.
pub fn state(task: &Hash, values: &Hash, result: &Hash) -> Hash {
    node(task, &node(values, result))
}

/// `S(0)`: nothing loaded, no result.
pub fn start(task: &Hash) -> Hash {
    state(task, &ZERO, &ZERO)
}

/// The values slot of a graph input or node output whose data is `bytes`.
pub fn written_slot(meta: &TensorMeta, bytes: &[u8]) -> Hash {
    tensor_commitment(meta, &byte_commitment(bytes))
}

/// The number of coarse steps of a graph of `nodes` nodes: load the inputs, one per node,
/// finish.
pub fn coarse_steps(nodes: u32) -> u64 {
    u64::from(nodes) + 2
}

/// What coarse step `j` does in a graph of `nodes` nodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Coarse {
    /// Step 1: the graph inputs go into their slots.
    Load,
    /// Steps 2 to `nodes + 1`: node `j − 2` (table index) writes its output slot.
    Node(u32),
    /// Step `nodes + 2`: the result is the byte commitment of the graph outputs.
    Finish,
    /// Step 0 and every step past the last: the state does not change.
    Idle,
}

impl Coarse {
    /// Coarse step `j` of a graph of `nodes` nodes.
    pub fn of(j: u64, nodes: u32) -> Coarse {
        match j {
            0 => Coarse::Idle,
            1 => Coarse::Load,
            j if j <= u64::from(nodes) + 1 => Coarse::Node((j - 2) as u32),
            j if j == coarse_steps(nodes) => Coarse::Finish,
            _ => Coarse::Idle,
        }
    }
}

/// Why a graph run ends refused instead of finished. A valid `.opml` file's root is refused
/// only for its input: its length, or data a kernel refuses ([`Refusal::Compute`], e.g. an LLM
/// task record); the others guard the step program against roots of invalid graphs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Refusal {
    /// The input's length is not the sum of the graph inputs' sizes.
    InputLength = 1,
    /// The model root's header word is not one.
    Header = 2,
    /// A tensor's metadata word is invalid, or its slot does not fit its kind.
    Tensor = 3,
    /// A node entry does not decode or does not fit its tensors.
    Node = 4,
    /// A node reads a tensor not yet written, or writes one already written.
    Order = 5,
    /// The kernel refused the node's tensors.
    Compute = 6,
}

impl Refusal {
    /// The result word of a refused run: `H("opml refused" ‖ code ‖ 0… ‖ 0^32)`.
    pub fn word(self) -> Hash {
        let mut tag = ZERO;
        tag[..12].copy_from_slice(b"opml refused");
        tag[12] = self as u8;
        sha256(&[&tag, &ZERO])
    }
}
