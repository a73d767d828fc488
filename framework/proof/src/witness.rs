//! Step witnesses: what a machine records while it executes a step, and its proof bytes.

use opml_platform::memory::PREIMAGE_LEN;
use opml_state::input::InputChunk;
use opml_state::merkle::MerkleProof;
use opml_state::{Hash, VmState, layout::STATE_LEN};

use crate::VerifyError;

/// One item of a step proof.
#[derive(Clone, Debug, PartialEq, Eq)]
#[expect(
    clippy::large_enum_variant,
    reason = "a step has at most three items; boxing would only complicate recording"
)]
pub enum ProofItem {
    /// A memory leaf and its Merkle path, as memory was when the step first touched it.
    Memory {
        /// Index of the leaf (byte address / 32). Not part of the proof bytes: the verifier
        /// knows which address it accesses.
        leaf_index: u32,
        /// The leaf and its siblings.
        proof: MerkleProof,
    },
    /// The input chunk holding the read cursor.
    Input(InputChunk),
    /// The 64-byte preimage a `preimage` syscall returns half of; the verifier checks it
    /// against the key in the data leaf.
    Preimage([u8; PREIMAGE_LEN]),
}

impl ProofItem {
    /// Appends the item's proof bytes: for memory the canonical encoding (every zero-subtree
    /// sibling elided, [`MerkleProof::encode`]: 36 to `MAX_PROOF_LEN` bytes),
    /// `CHUNK_PROOF_LEN` for input, [`PREIMAGE_LEN`] for a preimage.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        match self {
            ProofItem::Memory { proof, .. } => {
                proof.encode(out);
            }
            ProofItem::Input(chunk) => out.extend_from_slice(&chunk.encode()),
            ProofItem::Preimage(preimage) => out.extend_from_slice(preimage),
        }
    }
}

/// The pre-state of one step and the proof items it touches, in first-touch order.
///
/// # Recording a witness
///
/// A machine records a witness by stepping through an [`opml_isa::Context`] that, *before*
/// performing each access, notes what it touches:
///
/// | context call | record |
/// |---|---|
/// | `fetch(pc)`, `load(addr, _)`, `store(addr, _, _)` | [`touch_leaf`](Self::touch_leaf) for `addr` |
/// | `read_input(buf, _)`, `write_output(buf, _)` | [`touch_leaf`](Self::touch_leaf) for `buf` |
/// | `input_available()` while the input link is not zero | [`touch_input`](Self::touch_input) with the chunk at the cursor |
/// | `preimage(buf, _)` | [`touch_leaf`](Self::touch_leaf) for `buf`, then [`touch_preimage`](Self::touch_preimage) with the preimage of the key there |
/// | `write_log`, registers, `output_room` | nothing |
///
/// `touch_leaf` ignores a leaf already recorded, so a load from the instruction's own leaf adds
/// no second proof. A halted state, or one with a misaligned `pc`, records nothing (the step
/// calls no memory primitive). [`verify`](Self::verify) checks the result against the
/// verifier.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepWitness {
    /// The state before the step.
    pub state: VmState,
    /// The leaves and input chunk the step touches, in first-touch order.
    pub items: Vec<ProofItem>,
}

impl StepWitness {
    /// A witness for a step from `state` that has touched nothing yet.
    pub fn new(state: VmState) -> StepWitness {
        StepWitness {
            state,
            items: Vec::new(),
        }
    }

    /// Records that the step touches leaf `leaf_index`, unless it already did. `proof` is
    /// called only then, and must open the leaf in memory as it is now (before a store).
    pub fn touch_leaf(&mut self, leaf_index: u32, proof: impl FnOnce() -> MerkleProof) {
        let seen = self.items.iter().any(|item| {
            matches!(item, ProofItem::Memory { leaf_index: seen, .. } if *seen == leaf_index)
        });
        if !seen {
            self.items.push(ProofItem::Memory {
                leaf_index,
                proof: proof(),
            });
        }
    }

    /// Records that the step opens the input chunk holding the cursor.
    pub fn touch_input(&mut self, chunk: InputChunk) {
        self.items.push(ProofItem::Input(chunk));
    }

    /// Records the preimage a `preimage` syscall reads (after the leaf holding its key).
    pub fn touch_preimage(&mut self, preimage: [u8; PREIMAGE_LEN]) {
        self.items.push(ProofItem::Preimage(preimage));
    }

    /// The packed pre-state.
    pub fn state_data(&self) -> [u8; STATE_LEN] {
        self.state.encode()
    }

    /// The proof bytes: the items' encodings, concatenated in order.
    pub fn encode_proof(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for item in &self.items {
            item.encode_into(&mut out);
        }
        out
    }

    /// Runs [`verify_step`](crate::verify_step) on this witness: the post-state hash.
    pub fn verify(&self) -> Result<Hash, VerifyError> {
        crate::verify_step(&self.state_data(), &self.encode_proof())
    }
}
