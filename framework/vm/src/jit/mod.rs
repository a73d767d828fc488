//! The block compiler of fast mode (feature `jit`): hot basic blocks of cached code become host
//! functions (Cranelift), which the fast loop calls instead of interpreting their instructions.
//!
//! A block starts where control arrives (a jump target, the instruction after a block or a
//! syscall) and runs straight to and including its first branch or jump; it stops before an
//! `ecall`, `ebreak`, illegal word or jump to a misaligned target (the interpreter executes
//! those), at the end of its page and after [`MAX_LEN`] instructions. A block whose branch
//! goes back to its own start loops inside while the budget allows.
//!
//! A block returns how many instructions it completed and where to go on. It leaves early,
//! before the instruction, on a misaligned access (the interpreter then traps on it), and right
//! after a store into a code page (the store may have changed the code that follows). Such a
//! store re-decodes the word and forgets the compiled blocks of its page.
//!
//! One compiler serves the process: it keeps every block it compiled, by start address and
//! instructions, so machines loading the same program (snapshots, one node step after another)
//! compile each block once. Its code is never freed, so it compiles at most [`MAX_BLOCKS`]
//! blocks (a guest that keeps rewriting its code, or a long-lived service's many programs, then
//! runs interpreted rather than growing the process without bound).

mod compile;

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use opml_isa::Instruction;

use crate::memory::PAGE_SHIFT;

pub(crate) use compile::{Compiler, ends_block};

/// Most instructions in one block. Compile time grows faster than a block's length: 256 took
/// about twice as long per instruction as 64 on the MNIST guest, for no faster code.
const MAX_LEN: usize = 64;
/// Most blocks the process compiles: with blocks of a few hundred bytes of host code, tens of
/// MB at most.
pub(crate) const MAX_BLOCKS: u64 = 1 << 16;
/// Entries of a block start, in the interpreter, before it is compiled. A block costs about
/// 0.1 – 0.3 ms to compile, the time to interpret some 10^5 instructions: at 64 entries, a
/// 13.5 million-instruction MNIST inference ran slower than interpreted (176 blocks, ~100 ms
/// of compiling), at 1000 faster (115 blocks, ~20 ms).
pub(crate) const DEFAULT_THRESHOLD: u32 = 1000;

/// `Blocks::entries` values at or above this hold a compiled block's index (plus this).
const COMPILED: u32 = 1 << 31;
/// `Blocks::entries` value of a start that does not begin a compilable block.
const NEVER: u32 = u32::MAX;
/// Instruction slots per page.
const PAGE_SLOTS: usize = 1 << (PAGE_SHIFT - 2);

/// A compiled block: `run(fast, budget)` executes at most `budget` (at least `len`)
/// instructions on the [`Fast`](crate::fast::Fast) context at `fast`, and returns
/// `done << 32 | next_pc`.
pub(crate) type BlockFn = unsafe extern "C" fn(*mut u8, u64) -> u64;

/// A compiled block and its length in instructions (one pass).
#[derive(Clone, Copy)]
pub(crate) struct Block {
    pub(crate) run: BlockFn,
    pub(crate) len: u32,
}

/// The process's block compiler, created on first use.
static COMPILER: Mutex<Option<Compiler>> = Mutex::new(None);

/// The process's compiler, locked.
fn compiler() -> std::sync::MutexGuard<'static, Option<Compiler>> {
    COMPILER.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Blocks compiled in this process so far and the time it took.
pub(crate) fn stats() -> (u64, Duration) {
    compiler()
        .as_ref()
        .map_or((0, Duration::ZERO), Compiler::stats)
}

/// The compiled blocks of a [`Code`](crate::fast::Code) cache, by start slot.
///
/// Each clone keeps its own table, so invalidating a page in one leaves the others' blocks,
/// compiled from their own unchanged code, in place.
#[derive(Clone)]
pub(crate) struct Blocks {
    /// Per instruction slot: how often the interpreter entered it, or a compiled block
    /// (`COMPILED + index`), or `NEVER`.
    entries: Vec<u32>,
    compiled: Vec<Block>,
    /// Pages with `COMPILED` or `NEVER` entries, one bit each.
    pages: Vec<u64>,
}

impl Blocks {
    /// No blocks for a cache of `slots` instructions.
    pub(crate) fn new(slots: usize) -> Blocks {
        Blocks {
            entries: vec![0; slots],
            compiled: Vec::new(),
            pages: vec![0; slots.div_ceil(PAGE_SLOTS).div_ceil(64)],
        }
    }

    /// Counts an entry at `slot` and returns its compiled block, compiling it from `insns` on
    /// the `threshold`th entry.
    #[inline(always)]
    pub(crate) fn enter(
        &mut self,
        insns: &[Instruction],
        slot: usize,
        threshold: u32,
    ) -> Option<Block> {
        let entry = self.entries[slot];
        if entry < COMPILED {
            if entry + 1 < threshold {
                self.entries[slot] = entry + 1;
                return None;
            }
            return self.compile(insns, slot);
        }
        (entry != NEVER).then(|| self.compiled[(entry - COMPILED) as usize])
    }

    #[cold]
    #[inline(never)]
    fn compile(&mut self, insns: &[Instruction], slot: usize) -> Option<Block> {
        let block = compiler()
            .get_or_insert_with(Compiler::new)
            .compile(insns, slot);
        let page = slot / PAGE_SLOTS;
        self.pages[page / 64] |= 1 << (page % 64);
        self.entries[slot] = match block {
            Some(block) => {
                self.compiled.push(block);
                COMPILED + (self.compiled.len() - 1) as u32
            }
            None => NEVER,
        };
        block
    }

    /// Forgets the blocks on page `pn`, whose code changed.
    pub(crate) fn invalidate_page(&mut self, pn: u32) {
        let page = pn as usize;
        let Some(bits) = self.pages.get_mut(page / 64) else {
            return;
        };
        if *bits & (1 << (page % 64)) == 0 {
            return;
        }
        *bits &= !(1 << (page % 64));
        let end = ((page + 1) * PAGE_SLOTS).min(self.entries.len());
        self.entries[page * PAGE_SLOTS..end].fill(0);
    }
}
