//! Proving one step: the recording context and [`Machine::prove_step`].

use opml_isa::{Context, Flow, Width};
use opml_platform::memory::LEAF_SIZE;
use opml_proof::StepWitness;
use opml_state::merkle::leaf_index;

use crate::Machine;
use crate::core::Core;
use crate::preimage::HostError;

/// A [`Context`] over the machine's core that records, before each access, the memory proof of
/// every leaf and the input chunk the step touches (see [`StepWitness`]).
struct Recorder<'a> {
    core: &'a mut Core,
    witness: &'a mut StepWitness,
    /// The bytes the step wrote to memory, `(addr, len)`, to keep the decoded-instruction cache
    /// coherent afterwards.
    written: Option<(u32, u32)>,
}

impl Recorder<'_> {
    fn touch(&mut self, addr: u32) {
        let mem = &mut self.core.mem;
        self.witness
            .touch_leaf(leaf_index(addr), || mem.proof(addr));
    }
}

impl Context for Recorder<'_> {
    fn reg(&self, index: usize) -> u32 {
        self.core.reg(index)
    }

    fn set_reg(&mut self, index: usize, value: u32) {
        self.core.set_reg(index, value);
    }

    fn fetch(&mut self, pc: u32) -> u32 {
        self.touch(pc);
        self.core.fetch(pc)
    }

    fn load(&mut self, addr: u32, width: Width) -> u32 {
        self.touch(addr);
        self.core.load(addr, width)
    }

    fn store(&mut self, addr: u32, width: Width, value: u32) {
        self.touch(addr);
        self.written = Some((addr, width as u32));
        self.core.store(addr, width, value);
    }

    fn input_available(&mut self) -> u32 {
        if let Some(chunk) = self.core.input.chunk(self.core.cursor) {
            self.witness.touch_input(chunk);
        }
        self.core.input_available()
    }

    fn read_input(&mut self, buf: u32, len: u32) {
        self.touch(buf);
        self.written = Some((buf, len));
        self.core.read_input(buf, len);
    }

    fn output_room(&self) -> u32 {
        self.core.output_room()
    }

    fn write_output(&mut self, buf: u32, len: u32) {
        self.touch(buf);
        self.core.write_output(buf, len);
    }

    fn write_log(&mut self, buf: u32, len: u32) {
        self.core.write_log(buf, len);
    }

    /// Records the leaf holding the key, then the preimage; a missing preimage records only
    /// the leaf (the machine reports the step as blocked and does not take it).
    fn preimage(&mut self, buf: u32, half: u32) -> bool {
        self.touch(buf);
        let Some(preimage) = self.core.lookup(buf) else {
            return false;
        };
        self.witness.touch_preimage(preimage);
        self.written = Some((buf, LEAF_SIZE));
        self.core.write_half(buf, half, &preimage);
        true
    }
}

impl Machine {
    /// Executes the next step and returns its witness: the state before it and the memory
    /// proofs, input chunk and preimage it touched, in first-touch order. A halted machine does
    /// not move and gives a witness with no items.
    ///
    /// `opml_proof::verify_step` on the witness gives the state hash after the step.
    ///
    /// Fails, without taking the step, if the step reads a preimage the machine does not have
    /// (the error is also kept: [`host_error`](Self::host_error)).
    pub fn prove_step(&mut self) -> Result<StepWitness, HostError> {
        if let Some(error) = self.host_error() {
            return Err(error);
        }
        let mut witness = StepWitness::new(self.state());
        if self.status().is_halted() {
            return Ok(witness);
        }
        let pc = self.pc();
        let mut recorder = Recorder {
            core: &mut self.core,
            witness: &mut witness,
            written: None,
        };
        let flow = opml_isa::step(&mut recorder, pc);
        let written = recorder.written;
        if flow == Flow::Blocked {
            return Err(self.block());
        }
        self.apply(flow);
        if let Some((addr, len)) = written {
            self.refresh_code(addr, len);
        }
        Ok(witness)
    }
}
