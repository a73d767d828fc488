//! Program-defined phases: coarse steps of the program's own model, computed natively.

use std::error::Error;
use std::sync::Arc;

use opml_state::Hash;
use opml_vm::PreimageSource;

use crate::{Trace, TraceError};

/// A program-defined phase: the program's own computation (for example one node of a DNN
/// graph per coarse step), computed natively on the host, committed to by the program's own
/// commitments (for example the Merkle root of all tensors after node `i`).
///
/// # Contract
///
/// The phase has [`step_count`](Self::step_count) coarse steps `1..=n` and commitments
/// `C(0)` (the initial one) to `C(n)`. A coarse step is bridged to the VM phase below it by a
/// **step program** ([`step_program_id`](Self::step_program_id)): coarse step `i` is a VM run
/// whose initial state is fixed by the step program's ID and the input
/// [`step_input(i)`](Self::step_input), which carries `C(i - 1)`, `i` and whatever data the step
/// needs. The run must halt with output exactly `C(i)`, and the step program itself checks
/// the data it is given against `C(i - 1)`, so a party cannot feed it anything else.
///
/// Like a halted VM state, the last commitment is a fixed point: the game treats
/// `C(i) = C(n)` for `i > n` (see [`ProgramTrace`]), so for `i > n` the step program must
/// output its input commitment `C(i - 1)` unchanged. Otherwise an honest party could not
/// defend a padded leaf.
///
/// The native computation and the step program must agree bit for bit (`DESIGN.md`,
/// "Determinism for ML"): the same Rust source compiled for both targets.
pub trait ProgramPhase {
    /// Why the program could not compute a commitment or an input.
    type Error;

    /// The number of coarse steps, `n`.
    fn step_count(&self) -> u64;

    /// `C(i)`, the program's commitment after coarse step `i`, for `i` from 0 (the initial
    /// commitment) to `n`.
    fn commitment(&mut self, i: u64) -> Result<Hash, Self::Error>;

    /// The program ID of the step program that redoes one coarse step in the VM.
    fn step_program_id(&self) -> Hash;

    /// The step program's input for coarse step `i` (from 1): it carries `C(i - 1)`, `i` and
    /// the data the step needs, and the step program's halted output must equal `C(i)`.
    fn step_input(&mut self, i: u64) -> Result<Vec<u8>, Self::Error>;

    /// The preimages the step program reads through the data oracle when it re-does coarse
    /// step `i` (none by default: a step program that reads only its input).
    fn step_preimages(&mut self, i: u64) -> Result<Option<Arc<dyn PreimageSource>>, Self::Error> {
        let _ = i;
        Ok(None)
    }
}

/// A [`ProgramPhase`] seen as a [`Trace`] over its commitments: step `i` is coarse step `i`,
/// `S(i) = C(i)` up to `n` and `C(n)` after it, so the agents commit to a program-defined
/// phase with the same history trees as to a VM-stride one (with stride 1 in coarse steps).
///
/// It has no one-step proofs ([`TraceError::NoStepProof`]): a disputed coarse step descends
/// into a VM run of the step program instead.
#[derive(Clone, Debug)]
pub struct ProgramTrace<P> {
    /// The phase.
    phase: P,
}

impl<P: ProgramPhase> ProgramTrace<P> {
    /// The trace over `phase`'s commitments.
    pub fn new(phase: P) -> ProgramTrace<P> {
        ProgramTrace { phase }
    }

    /// The phase.
    pub fn phase(&self) -> &P {
        &self.phase
    }

    /// The phase, mutably (for [`ProgramPhase::step_input`]).
    pub fn phase_mut(&mut self) -> &mut P {
        &mut self.phase
    }

    /// The phase back.
    pub fn into_inner(self) -> P {
        self.phase
    }
}

impl<P> Trace for ProgramTrace<P>
where
    P: ProgramPhase,
    P::Error: Error + Send + Sync + 'static,
{
    fn state_hash(&mut self, step: u64) -> Result<Hash, TraceError> {
        let step = step.min(self.phase.step_count());
        self.phase
            .commitment(step)
            .map_err(|err| TraceError::Program(Box::new(err)))
    }

    fn step_witness(&mut self, _step: u64) -> Result<(Vec<u8>, Vec<u8>), TraceError> {
        Err(TraceError::NoStepProof)
    }

    fn step_preimages(&mut self, step: u64) -> Result<Option<Arc<dyn PreimageSource>>, TraceError> {
        self.phase
            .step_preimages(step)
            .map_err(|err| TraceError::Program(Box::new(err)))
    }
}

#[cfg(test)]
mod tests {
    use std::fmt;

    use alloy_primitives::keccak256;

    use super::*;

    /// A toy model: `C(i) = keccak256(C(i - 1) ‖ i)` for `n` steps, failing at step `broken`.
    struct Chain {
        n: u64,
        broken: u64,
    }

    #[derive(Debug)]
    struct Broken(u64);

    impl fmt::Display for Broken {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "step {} is broken", self.0)
        }
    }

    impl Error for Broken {}

    impl ProgramPhase for Chain {
        type Error = Broken;

        fn step_count(&self) -> u64 {
            self.n
        }

        fn commitment(&mut self, i: u64) -> Result<Hash, Broken> {
            (1..=i).try_fold([0; 32], |c, j| {
                if j == self.broken {
                    return Err(Broken(j));
                }
                Ok(keccak256([&c[..], &j.to_be_bytes()].concat()).0)
            })
        }

        fn step_program_id(&self) -> Hash {
            [7; 32]
        }

        fn step_input(&mut self, i: u64) -> Result<Vec<u8>, Broken> {
            let previous = self.commitment(i.saturating_sub(1))?;
            Ok([&previous[..], &i.to_be_bytes()].concat())
        }
    }

    #[test]
    fn commitments_are_a_fixed_point_after_the_last_step() {
        let mut trace = ProgramTrace::new(Chain { n: 5, broken: 0 });
        let all: Vec<Hash> = (0..=5)
            .map(|i| trace.phase_mut().commitment(i).unwrap())
            .collect();
        assert_eq!(trace.state_hash(0).unwrap(), all[0]);
        let leaves = trace.leaves(0, 1, 8).unwrap();
        assert_eq!(&leaves[..5], &all[1..]);
        assert_eq!(&leaves[5..], &[all[5]; 3]);
        assert_eq!(trace.leaves(2, 2, 2).unwrap(), vec![all[4], all[5]]);
        assert!(matches!(trace.leaves(0, 0, 1), Err(TraceError::ZeroStride)));
        assert!(matches!(
            trace.step_witness(1),
            Err(TraceError::NoStepProof)
        ));
        assert_eq!(trace.phase().step_program_id(), [7; 32]);
        let input = trace.into_inner().step_input(3).unwrap();
        assert_eq!(&input[..32], &all[2]);
    }

    #[test]
    fn program_errors_are_passed_on() {
        let mut trace = ProgramTrace::new(Chain { n: 5, broken: 3 });
        let err = trace.leaves(0, 1, 4).unwrap_err();
        assert_eq!(
            err.to_string(),
            "program-defined phase failed: step 3 is broken"
        );
    }
}
