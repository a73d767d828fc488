//! A guest program as the agents see it: its ID, its packed initial state and its runs.

use std::sync::Arc;

use opml_game::{PhaseConfig, VmTrace};
use opml_state::Hash;
use opml_vm::{Interrupted, Machine, PreimageSource};

use crate::AgentError;

/// A loaded guest ELF.
#[derive(Clone, Debug)]
pub struct Program {
    elf: Arc<[u8]>,
    id: Hash,
    initial_state: Vec<u8>,
}

impl Program {
    /// Loads `elf`; refuses anything the VM refuses.
    pub fn new(elf: &[u8]) -> Result<Program, AgentError> {
        let mut machine = Machine::load(elf, Vec::new())?;
        let initial_state = machine.state().encode().to_vec();
        Ok(Program {
            elf: elf.into(),
            id: machine.state_hash(),
            initial_state,
        })
    }

    /// The program ID: the hash of the initial state with an empty input.
    pub fn id(&self) -> Hash {
        self.id
    }

    /// The packed initial state with an empty input (what a challenger opens a game with).
    pub fn initial_state(&self) -> &[u8] {
        &self.initial_state
    }

    /// A machine at step 0 on `input`.
    pub fn machine(&self, input: &[u8]) -> Result<Machine, AgentError> {
        Ok(Machine::load(&self.elf, input.to_vec())?)
    }

    /// The honest trace of the run on `input`, as long as the games of `config` look.
    pub fn trace(&self, input: &[u8], config: &PhaseConfig) -> Result<VmTrace, AgentError> {
        let snapshots = VmTrace::snapshots_for(config);
        Ok(VmTrace::record(
            self.machine(input)?,
            config.total_steps(),
            snapshots,
        ))
    }

    /// [`trace`](Self::trace) with the guest's data oracle served from `preimages`.
    pub fn trace_with(
        &self,
        input: &[u8],
        config: &PhaseConfig,
        preimages: Arc<dyn PreimageSource>,
    ) -> Result<VmTrace, AgentError> {
        let mut machine = self.machine(input)?;
        machine.set_preimages(preimages);
        let snapshots = VmTrace::snapshots_for(config);
        Ok(VmTrace::record(machine, config.total_steps(), snapshots))
    }

    /// Like [`trace`](Self::trace), but asks `stop` with the step reached every
    /// [`opml_vm::Timeline::STOP_CHECK`] steps whether to give up: `Ok(Err(..))` then, with
    /// the step the run had reached.
    pub fn trace_until(
        &self,
        input: &[u8],
        config: &PhaseConfig,
        stop: impl FnMut(u64) -> bool,
    ) -> Result<Result<VmTrace, Interrupted>, AgentError> {
        Ok(VmTrace::record_until(
            self.machine(input)?,
            config.total_steps(),
            VmTrace::snapshots_for(config),
            stop,
        ))
    }
}
