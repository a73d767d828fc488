//! What adversaries claim: traces that leave the true run at a chosen step, and wrong final
//! states that still look like halted runs.

use std::sync::Arc;

use alloy_primitives::keccak256;
use opml_game::{Trace, TraceError, VmTrace};
use opml_state::{Hash, VmState, output, sha256};
use opml_vm::PreimageSource;

/// A trace that follows `truth` before step `from` and lies from there on: made-up state
/// hashes up to the step `end_step`, then the fixed point `end` (like a halted run).
#[derive(Debug)]
pub struct LyingTrace<T> {
    truth: T,
    from: u64,
    end_step: u64,
    end: Hash,
}

impl<T: Trace> LyingTrace<T> {
    /// Lies from step `from` (at least 1: the start state is never in dispute), ending in
    /// `end` from step `end_step` on.
    pub fn new(truth: T, from: u64, end_step: u64, end: Hash) -> LyingTrace<T> {
        LyingTrace {
            truth,
            from: from.max(1),
            end_step,
            end,
        }
    }

    fn lie(&self, step: u64, true_hash: Hash) -> Hash {
        lie(self.from, self.end_step, self.end, step, true_hash)
    }
}

/// What a [`LyingTrace`] lying from `from` and ending in `end` at `end_step` says `S(step)` is,
/// when the truth is `true_hash`.
fn lie(from: u64, end_step: u64, end: Hash, step: u64, true_hash: Hash) -> Hash {
    if step < from {
        true_hash
    } else if step >= end_step {
        end
    } else {
        let mut data = [0u8; 8 + 32];
        data[..8].copy_from_slice(&step.to_be_bytes());
        data[8..].copy_from_slice(&true_hash);
        keccak256(data).0
    }
}

impl LyingTrace<VmTrace> {
    /// A lie about the halted run `truth` (halting at step `T`): true before `from_step`
    /// (clamped to `1..=T`), ending in `end` from `T` on.
    pub fn about(truth: VmTrace, from_step: u64, end: Hash) -> LyingTrace<VmTrace> {
        let steps = truth.end_step();
        LyingTrace::new(truth, from_step.clamp(1, steps.max(1)), steps, end)
    }
}

impl<T: Trace> Trace for LyingTrace<T> {
    fn state_hash(&mut self, step: u64) -> Result<Hash, TraceError> {
        let true_hash = self.truth.state_hash(step)?;
        Ok(self.lie(step, true_hash))
    }

    fn for_each_leaf(
        &mut self,
        start: u64,
        stride: u64,
        count: u64,
        f: &mut dyn FnMut(Hash) -> Result<(), TraceError>,
    ) -> Result<(), TraceError> {
        let (from, end_step, end) = (self.from, self.end_step, self.end);
        let mut step = start;
        self.truth.for_each_leaf(start, stride, count, &mut |hash| {
            // The truth checked that the range ends before step `u64::MAX`.
            step += stride;
            f(lie(from, end_step, end, step, hash))
        })
    }

    /// The same lie about a fork of the truth.
    fn fork(&self, span: u64) -> Option<Box<dyn Trace + Send>> {
        let truth = self.truth.fork(span)?;
        Some(Box::new(LyingTrace::new(
            truth,
            self.from,
            self.end_step,
            self.end,
        )))
    }

    fn step_witness(&mut self, step: u64) -> Result<(Vec<u8>, Vec<u8>), TraceError> {
        // Only true steps have proofs.
        self.truth.step_witness(step)
    }

    fn step_preimages(&mut self, step: u64) -> Result<Option<Arc<dyn PreimageSource>>, TraceError> {
        // A lie about states, not about data: the step program reads the true data.
        self.truth.step_preimages(step)
    }
}

/// A wrong claim that looks right: the true final state with `output` replaced by a
/// different output (its last byte flipped, or one byte if it was empty). Returns the packed
/// state, its hash and the wrong output; the registry accepts it as a halted run.
pub fn wrong_final_state(truth: &VmState, true_output: &[u8]) -> (Vec<u8>, Hash, Vec<u8>) {
    let mut wrong = true_output.to_vec();
    match wrong.last_mut() {
        Some(byte) => *byte ^= 0x01,
        None => wrong.push(0x01),
    }
    let (data, hash) = final_state_with_output(truth, &wrong);
    (data, hash, wrong)
}

/// The final state `truth` with its output commitment replaced by that of `output`: the packed
/// state and its hash (a claim of `output` that looks like the same halted run).
pub fn final_state_with_output(truth: &VmState, output: &[u8]) -> (Vec<u8>, Hash) {
    let mut state = truth.clone();
    let full = output.len() / output::CHUNK_LEN * output::CHUNK_LEN;
    state.output_acc = output[..full]
        .chunks_exact(output::CHUNK_LEN)
        .fold([0u8; 32], |acc, chunk| {
            output::fold(&acc, chunk.try_into().expect("a full chunk"))
        });
    state.output_tail = [0; output::CHUNK_LEN];
    state.output_tail[..output.len() - full].copy_from_slice(&output[full..]);
    state.output_len = output.len() as u32;
    let data = state.encode().to_vec();
    let hash = sha256(&data);
    (data, hash)
}
