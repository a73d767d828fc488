//! A reference machine that records step witnesses: state, sparse memory, input and output
//! bytes, with the commitments recomputed from scratch after each step.

use std::collections::HashMap;

use opml_isa::{Context, Flow, Width};
use opml_proof::StepWitness;
use opml_state::input::{END_LINK, chunk_at};
use opml_state::merkle::leaf_index;
use opml_state::{Hash, VmState, output, sha256};

use crate::sparse::SparseMemory;

pub(crate) struct Machine {
    pub(crate) state: VmState,
    pub(crate) mem: SparseMemory,
    pub(crate) input: Vec<u8>,
    /// `links[i]` is the link of input chunk `i`; the last entry is the end link.
    links: Vec<Hash>,
    pub(crate) output: Vec<u8>,
    pub(crate) log: Vec<u8>,
    /// The data oracle's preimages by key.
    pub(crate) preimages: HashMap<Hash, [u8; 64]>,
    /// Whether the last step was blocked on a missing preimage (and not taken).
    pub(crate) blocked: bool,
    witness: StepWitness,
}

impl Machine {
    /// A running machine at `pc` with `input` read up to `cursor` and `output` written.
    pub(crate) fn new(
        mem: SparseMemory,
        pc: u32,
        regs: [u32; 32],
        input: &[u8],
        cursor: u32,
        output: &[u8],
    ) -> Machine {
        let len = input.len() as u32;
        let chunks = input.len().div_ceil(32);
        let mut links = vec![END_LINK; chunks + 1];
        for i in (0..chunks).rev() {
            links[i] = chunk_at(input, len, i, links[i + 1]).link();
        }
        let mut state = VmState::initial(mem.root(), pc, END_LINK);
        state.regs = regs;
        state.regs[0] = 0;
        state.input_cursor = cursor;
        let mut machine = Machine {
            witness: StepWitness::new(state.clone()),
            state,
            mem,
            input: input.to_vec(),
            links,
            output: output.to_vec(),
            log: Vec::new(),
            preimages: HashMap::new(),
            blocked: false,
        };
        machine.commit();
        machine
    }

    /// The input link for the cursor: the chunk holding it, or the end.
    fn link_at(&self, cursor: u32) -> Hash {
        if (cursor as usize) < self.input.len() {
            self.links[cursor as usize / 32]
        } else {
            END_LINK
        }
    }

    /// Recomputes the state's commitments from memory, input and output.
    fn commit(&mut self) {
        self.state.memory_root = self.mem.root();
        self.state.input_link = self.link_at(self.state.input_cursor);
        let mut chunks = self.output.chunks_exact(32);
        self.state.output_acc = chunks
            .by_ref()
            .fold([0; 32], |acc, c| output::fold(&acc, c.try_into().unwrap()));
        self.state.output_tail = [0; 32];
        let rest = chunks.remainder();
        self.state.output_tail[..rest.len()].copy_from_slice(rest);
        self.state.output_len = self.output.len() as u32;
    }

    fn touch(&mut self, addr: u32) {
        let mem = &self.mem;
        self.witness
            .touch_leaf(leaf_index(addr), || mem.proof(addr));
    }

    /// Adds a preimage to the oracle; returns its key.
    pub(crate) fn add_preimage(&mut self, preimage: [u8; 64]) -> Hash {
        let key = sha256(&preimage);
        self.preimages.insert(key, preimage);
        key
    }

    /// Takes one step; returns its witness. A step blocked on a missing preimage is not taken
    /// (`blocked` is set, the state is unchanged).
    pub(crate) fn step(&mut self) -> StepWitness {
        self.witness = StepWitness::new(self.state.clone());
        self.blocked = false;
        if !self.state.status.is_halted() {
            let pc = self.state.pc;
            match opml_isa::step(self, pc) {
                Flow::Next(pc) => self.state.pc = pc,
                Flow::Halt(status) => self.state.status = status,
                Flow::Blocked => {
                    self.blocked = true;
                    return self.witness.clone();
                }
            }
            self.state.step += 1;
            self.commit();
        }
        self.witness.clone()
    }
}

impl Context for Machine {
    fn reg(&self, index: usize) -> u32 {
        self.state.regs[index]
    }

    fn set_reg(&mut self, index: usize, value: u32) {
        assert_ne!(index, 0);
        self.state.regs[index] = value;
    }

    fn fetch(&mut self, pc: u32) -> u32 {
        self.touch(pc);
        u32::from_le_bytes(self.mem.bytes(pc, 4).try_into().unwrap())
    }

    fn load(&mut self, addr: u32, width: Width) -> u32 {
        self.touch(addr);
        let mut le = [0u8; 4];
        le[..width as usize].copy_from_slice(&self.mem.bytes(addr, width as u32));
        u32::from_le_bytes(le)
    }

    fn store(&mut self, addr: u32, width: Width, value: u32) {
        self.touch(addr);
        self.mem.put(addr, &value.to_le_bytes()[..width as usize]);
    }

    fn input_available(&mut self) -> u32 {
        let cursor = self.state.input_cursor;
        if self.state.input_link != END_LINK {
            let index = cursor as usize / 32;
            let chunk = chunk_at(
                &self.input,
                self.input.len() as u32,
                index,
                self.links[index + 1],
            );
            self.witness.touch_input(chunk);
        }
        let left = self.input.len() as u32 - cursor;
        left.min(32 - cursor % 32)
    }

    fn read_input(&mut self, buf: u32, len: u32) {
        self.touch(buf);
        let cursor = self.state.input_cursor as usize;
        let data = self.input[cursor..cursor + len as usize].to_vec();
        self.mem.put(buf, &data);
        self.state.input_cursor += len;
    }

    fn output_room(&self) -> u32 {
        32 - self.output.len() as u32 % 32
    }

    fn write_output(&mut self, buf: u32, len: u32) {
        self.touch(buf);
        let data = self.mem.bytes(buf, len);
        self.output.extend_from_slice(&data);
    }

    fn write_log(&mut self, buf: u32, len: u32) {
        let data = self.mem.bytes(buf, len);
        self.log.extend_from_slice(&data);
    }

    fn preimage(&mut self, buf: u32, half: u32) -> bool {
        self.touch(buf);
        let key: Hash = self.mem.bytes(buf, 32).try_into().unwrap();
        let Some(preimage) = self.preimages.get(&key).copied() else {
            return false;
        };
        self.witness.touch_preimage(preimage);
        self.mem.put(buf, &preimage[32 * half as usize..][..32]);
        true
    }
}
