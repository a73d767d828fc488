//! The architectural state of a machine apart from `pc`, the step counter and the status, with
//! the plain [`Context`] implementation every other context builds on.

use std::sync::Arc;

use opml_isa::{Context, Width};
use opml_platform::memory::LEAF_SIZE;
use opml_platform::reg;

use crate::io::{Input, Log, Output};
use crate::memory::Memory;
use crate::preimage::{Preimage, PreimageSource};

/// Registers, memory and streams.
#[derive(Clone)]
pub(crate) struct Core {
    pub(crate) regs: [u32; reg::COUNT],
    pub(crate) mem: Memory,
    pub(crate) input: Arc<Input>,
    pub(crate) cursor: u32,
    pub(crate) output: Output,
    pub(crate) log: Log,
    pub(crate) preimages: Arc<dyn PreimageSource>,
}

impl Core {
    /// The key held in the 32-byte leaf at `buf` (32-aligned) and its preimage, if the source
    /// has it.
    pub(crate) fn lookup(&self, buf: u32) -> Option<Preimage> {
        let key: [u8; 32] = self.mem.in_page(buf, LEAF_SIZE).try_into().ok()?;
        self.preimages.preimage(&key)
    }

    /// Writes half `half` of `preimage` over the leaf at `buf` (32-aligned).
    pub(crate) fn write_half(&mut self, buf: u32, half: u32, preimage: &Preimage) {
        let from = (half * LEAF_SIZE) as usize;
        self.mem
            .in_page_mut(buf, LEAF_SIZE)
            .copy_from_slice(&preimage[from..from + LEAF_SIZE as usize]);
    }
}

impl Context for Core {
    #[inline]
    fn reg(&self, index: usize) -> u32 {
        self.regs[index]
    }

    #[inline]
    fn set_reg(&mut self, index: usize, value: u32) {
        self.regs[index] = value;
    }

    fn fetch(&mut self, pc: u32) -> u32 {
        self.mem.load(pc, 4)
    }

    fn load(&mut self, addr: u32, width: Width) -> u32 {
        self.mem.load(addr, width as usize)
    }

    fn store(&mut self, addr: u32, width: Width, value: u32) {
        self.mem.store(addr, width as usize, value);
    }

    fn input_available(&mut self) -> u32 {
        self.input.available(self.cursor)
    }

    fn read_input(&mut self, buf: u32, len: u32) {
        let start = self.cursor as usize;
        let data = &self.input.bytes()[start..start + len as usize];
        self.mem.in_page_mut(buf, len).copy_from_slice(data);
        self.cursor += len;
    }

    fn output_room(&self) -> u32 {
        LEAF_SIZE - self.output.len() % LEAF_SIZE
    }

    fn write_output(&mut self, buf: u32, len: u32) {
        self.output.push(self.mem.in_page(buf, len));
    }

    fn write_log(&mut self, buf: u32, len: u32) {
        self.log.write(self.mem.in_page(buf, len));
    }

    fn preimage(&mut self, buf: u32, half: u32) -> bool {
        let Some(preimage) = self.lookup(buf) else {
            return false;
        };
        self.write_half(buf, half, &preimage);
        true
    }
}
