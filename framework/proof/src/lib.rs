//! The opml step proof.
//!
//! A fraud proof ends in one disputed step. Whoever proves it sends the packed pre-state and a
//! proof (`docs/vm-spec.md`, "Step proof"): the memory leaves and the input chunk the step
//! touches, each with what ties it to the state. [`verify_step`] checks the proof against the
//! pre-state, runs the one instruction with [`opml_isa::step`] and returns the post-state hash.
//! It is the reference the Solidity verifier mirrors function by function, so it is kept small:
//! one [`opml_isa::Context`] implementation over the state and a cursor into the proof bytes.
//!
//! [`StepWitness`] is the other side: the pre-state and the [`ProofItem`]s a machine records
//! while it executes the step, encoded to the same bytes.

mod error;
mod verify;
mod witness;

pub use error::VerifyError;
pub use verify::verify_step;
pub use witness::{ProofItem, StepWitness};
