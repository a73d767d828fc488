//! The block compiler of fast mode (feature `jit`): hot code of the instruction cache becomes
//! host functions (Cranelift), which run instead of the interpreter.
//!
//! A basic block starts where control arrives (a jump target, the instruction after a block or
//! a syscall) and runs straight to and including its first branch or jump; it stops before an
//! `ecall`, `ebreak`, illegal word or jump to a misaligned target (the interpreter executes
//! those), at the end of its page and after [`MAX_LEN`] instructions. One function compiles a
//! region: a hot block and the blocks its branches, plain jumps and fall-throughs reach, inside
//! its page and the next, up to [`MAX_REGION`] instructions; the guest registers stay in host
//! registers across the region's loops and branches.
//!
//! Regions are linked: where one goes on to a pc outside it (a call, a `jalr` return, an edge
//! out of the region) whose region is compiled, it tail-calls that region through the
//! machine's link table ([`Blocks`]) instead of returning, so hot code runs without the Rust
//! loop. Before each basic block, compiled code checks that the budget holds all of it, and
//! returns before it if not, so runs stop at exact step counts.
//!
//! A chain of regions returns how many instructions it completed and where to go on. It
//! leaves early, before the instruction, on a misaligned access (the interpreter then traps on
//! it), and right after a store into a code page (the store may have changed the code that
//! follows). Such a store re-decodes the word and forgets the regions that may cover its page.
//!
//! One compiler serves the process: it keeps every region it compiled, by addresses and
//! instructions, so machines loading the same program (snapshots, one node step after another)
//! compile each region once. Its code is never freed, so it compiles at most [`MAX_REGIONS`]
//! regions (a guest that keeps rewriting its code, or a long-lived service's many programs,
//! then runs interpreted rather than growing the process without bound).

mod compile;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Sender, channel};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError, TryLockError};
use std::time::Duration;

use opml_isa::Instruction;

use crate::memory::PAGE_SHIFT;

pub(crate) use compile::{Compiler, ends_block};
use compile::{Region, RegionKey};

/// Most instructions in one region (one compiled function), and the pages it may span (its
/// start's and the next: a store into a page forgets the regions starting on that page and the
/// one before). 256 instructions cover the hot loops and soft-float routines of the DNN and
/// LLM guests; compile time grows with the region.
const MAX_REGION: usize = 256;
const REGION_PAGES: usize = 2;
/// Most instructions in one basic block. Compile time grows faster than a block's length: 256
/// took about twice as long per instruction as 64 on the MNIST guest, for no faster code.
const MAX_LEN: usize = 64;
/// Most regions the process compiles: at a few hundred bytes to some 10 KB of host code each,
/// a few hundred MB at the very most.
pub(crate) const MAX_REGIONS: u64 = 1 << 14;
/// Entries of a block start, in the interpreter, before its region is compiled. A region
/// costs 1 – 3 ms to compile, the time to interpret some 10^6 instructions. Measured on the
/// MNIST guest (13 – 17 × 10^6 instructions for mlp and cnn, 1.35 × 10^9 for cnn-deep) with
/// regions compiled in the machine's thread: at 1000 entries mlp and cnn ran slower than
/// interpreted (about 60 ms of compiling), at 3000 mlp still did; at 5000 both ran 1.2 – 1.6×
/// faster than interpreted and cnn-deep within 2% of its best; at 10^4 and more, cnn-deep lost
/// 10%. On the compiler thread, 1000 – 5000 ran cnn-deep within 6% of each other, and mlp
/// best at 5000.
pub(crate) const DEFAULT_THRESHOLD: u32 = 5000;
/// Entries of a block start before a machine looks for its region among those the process
/// compiled already (for a machine loading the same program before: the next node step, a
/// replay), at the cost of finding the region's extent and one hash lookup.
const REUSE_AFTER: u32 = 50;

/// `Blocks::entries` value of a start that does not begin a compilable block, or whose block
/// is compiled.
const DONE: u32 = u32::MAX;
/// `Blocks::entries` value of a start whose region the compiler thread is compiling.
const PENDING: u32 = u32::MAX - 1;
/// `Blocks::entries` value of a block inside a region the compiler thread is compiling: not
/// counted meanwhile, so that a hot loop compiles as one region rather than one per block
/// that gets hot while the first is compiling (cnn-deep: 39 regions instead of 162).
const HELD: u32 = u32::MAX - 2;
/// Thresholds below this compile in the machine's thread, on the entry that reaches them
/// (tests, and callers that want compiled code at once); larger ones on the compiler thread,
/// while the machine goes on interpreting, so compiling costs a run no time when a core is
/// free.
const AT_ONCE_BELOW: u32 = 100;
/// Instruction slots per page.
const PAGE_SLOTS: usize = 1 << (PAGE_SHIFT - 2);

/// The entry into compiled code: `enter(fast, budget, block)` runs `block` and the blocks it
/// links to, at most `budget` instructions on the [`Fast`](crate::fast::Fast) context at
/// `fast`, and returns `done << 32 | next_pc`.
pub(crate) type EnterFn = unsafe extern "C" fn(*mut u8, u64, usize) -> u64;

/// The process's entry function, compiled with the compiler.
static ENTER: OnceLock<EnterFn> = OnceLock::new();

/// A compiled block: the address of a function in Cranelift's `tail` calling convention,
/// `(fast, budget, done) -> done' << 32 | next_pc`, called through [`Block::enter`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Block(usize);

impl Block {
    /// Runs this block and those it links to on the context at `fast` for at most `budget`
    /// instructions; returns `done << 32 | next_pc`.
    ///
    /// # Safety
    /// `fast` must point at a live [`Fast`](crate::fast::Fast) whose link table holds only
    /// blocks of this process's compiler, borrowed mutably for the call.
    pub(crate) unsafe fn enter(self, fast: *mut u8, budget: u64) -> u64 {
        let enter = ENTER.get().expect("a block exists only after the compiler");
        // SAFETY: by the caller's contract; the entry function calls the block with the
        // signature it was compiled with.
        unsafe { enter(fast, budget, self.0) }
    }
}

/// The process's block compiler, created on first use.
static COMPILER: Mutex<Option<Compiler>> = Mutex::new(None);

/// Whether the interpreter, running a block from `start`, ends it after `insn`, going on at
/// `next`: after a control transfer or an instruction compiled code leaves to the interpreter
/// (`ecall`, `ebreak`, an illegal word), at a page end and after [`MAX_LEN`] instructions, as
/// compiled blocks do. The next start it then counts is one that compiled blocks link to, so
/// straight-line code longer than a block compiles block by block as it gets hot.
#[inline(always)]
pub(crate) fn interpreted_block_ends(start: u32, next: u32, insn: Instruction) -> bool {
    ends_block(insn)
        || matches!(
            insn,
            Instruction::Ecall | Instruction::Ebreak | Instruction::Illegal(_)
        )
        || next.is_multiple_of(1 << PAGE_SHIFT)
        || next.wrapping_sub(start) >= 4 * MAX_LEN as u32
}

/// The process's compiler, locked.
fn compiler() -> MutexGuard<'static, Option<Compiler>> {
    COMPILER.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The process's compiler, if no other thread is using it.
fn compiler_if_free() -> Option<MutexGuard<'static, Option<Compiler>>> {
    match COMPILER.try_lock() {
        Ok(guard) => Some(guard),
        Err(TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
        Err(TryLockError::WouldBlock) => None,
    }
}

/// Compiles `region` with the process's compiler.
fn build(region: &Region, key: RegionKey) -> Option<Block> {
    compiler()
        .get_or_insert_with(Compiler::new)
        .build(region, key)
}

/// The result of a region sent to the compiler thread, set when it is compiled.
type Pending = Arc<OnceLock<Option<Block>>>;

/// A region for the compiler thread.
struct Job {
    region: Region,
    key: RegionKey,
    done: Pending,
}

/// The compiler thread's queue, started on first use.
static QUEUE: Mutex<Option<Sender<Job>>> = Mutex::new(None);

/// Sends `job` to the compiler thread (starting it if needed); gives it back if there is no
/// such thread.
fn submit(job: Job) -> Result<(), Job> {
    let mut queue = QUEUE.lock().unwrap_or_else(PoisonError::into_inner);
    if queue.is_none() {
        let (send, receive) = channel::<Job>();
        let started = std::thread::Builder::new()
            .name("opml-vm-jit".into())
            .spawn(move || {
                for job in receive {
                    // A machine that stopped waiting drops its end; the region is cached anyway.
                    let _ = job.done.set(build(&job.region, job.key));
                }
            });
        if started.is_err() {
            return Err(job);
        }
        *queue = Some(send);
    }
    let queue = queue.as_ref().expect("started above");
    queue.send(job).map_err(|unsent| unsent.0)
}

/// Regions compiled in this process so far, regions machines took from the cache, and the
/// time compiling took.
pub(crate) fn stats() -> (u64, u64, Duration) {
    compiler()
        .as_ref()
        .map_or((0, 0, Duration::ZERO), Compiler::stats)
}

/// The compiled blocks of a [`Code`](crate::fast::Code) cache, by start slot: the link table
/// that compiled code reads (through [`Blocks::table`]) to go on to the next block.
///
/// Each clone keeps its own table, so invalidating a page in one leaves the others' blocks,
/// compiled from their own unchanged code, in place.
pub(crate) struct Blocks {
    /// Per instruction slot: how often the interpreter entered it, or `DONE`.
    entries: Vec<u32>,
    /// Per instruction slot: the address of the block starting there, or 0. Atomic only for
    /// its interior mutability: compiled code reads it through a raw pointer while the machine
    /// holds the table (one thread at a time).
    links: Box<[AtomicUsize]>,
    /// Pages with `DONE`, `PENDING` or `HELD` entries, one bit each.
    pages: Vec<u64>,
    /// The regions of `PENDING` starts, and the `HELD` slots inside each.
    pending: HashMap<usize, (Pending, Vec<usize>)>,
    /// The `PENDING` start holding each `HELD` slot.
    held: HashMap<usize, usize>,
}

impl Clone for Blocks {
    fn clone(&self) -> Blocks {
        Blocks {
            entries: self.entries.clone(),
            links: self
                .links
                .iter()
                .map(|link| AtomicUsize::new(link.load(Ordering::Relaxed)))
                .collect(),
            pages: self.pages.clone(),
            pending: self.pending.clone(),
            held: self.held.clone(),
        }
    }
}

impl Blocks {
    /// No blocks for a cache of `slots` instructions.
    pub(crate) fn new(slots: usize) -> Blocks {
        Blocks {
            entries: vec![0; slots],
            links: (0..slots).map(|_| AtomicUsize::new(0)).collect(),
            pages: vec![0; slots.div_ceil(PAGE_SLOTS).div_ceil(64)],
            pending: HashMap::new(),
            held: HashMap::new(),
        }
    }

    /// The link table's address and length, for compiled code (see `layout::LINKS`).
    pub(crate) fn table(&self) -> (*const AtomicUsize, u32) {
        (self.links.as_ptr(), self.links.len() as u32)
    }

    /// The compiled block at `slot`, if there is one; else counts an entry there, compiling
    /// the block from `insns` on the `threshold`th.
    #[inline(always)]
    pub(crate) fn enter(
        &mut self,
        insns: &[Instruction],
        slot: usize,
        threshold: u32,
    ) -> Option<Block> {
        let link = self.links[slot].load(Ordering::Relaxed);
        if link != 0 {
            return Some(Block(link));
        }
        let entry = self.entries[slot];
        if entry >= HELD {
            return match entry {
                PENDING => self.collect(slot),
                HELD => {
                    // Installs the holding region if it is ready, releasing this slot.
                    let start = self.held.get(&slot).copied();
                    start.and_then(|start| self.collect(start));
                    None
                }
                _ => None,
            };
        }
        if entry + 1 < threshold {
            self.entries[slot] = entry + 1;
            if entry + 1 == REUSE_AFTER {
                return self.reuse(insns, slot);
            }
            return None;
        }
        self.compile(insns, slot, threshold < AT_ONCE_BELOW)
    }

    /// The region at `slot` from the process's cache, if there (and the compiler exists and
    /// is free to look).
    #[cold]
    #[inline(never)]
    fn reuse(&mut self, insns: &[Instruction], slot: usize) -> Option<Block> {
        let block = compiler_if_free()?.as_mut()?.cached(insns, slot)?;
        self.settle(slot, Some(block));
        Some(block)
    }

    /// Compiles the region at `slot`, `at_once` or on the compiler thread.
    #[cold]
    #[inline(never)]
    fn compile(&mut self, insns: &[Instruction], slot: usize, at_once: bool) -> Option<Block> {
        let Some((region, key)) = Region::keyed(insns, slot) else {
            self.settle(slot, None);
            return None;
        };
        let block = if at_once {
            build(&region, key)
        } else {
            let inside: Vec<usize> = region.blocks[1..]
                .iter()
                .map(|&(at, _)| at)
                .filter(|&at| self.entries[at] < HELD)
                .collect();
            let done = Pending::default();
            let job = Job {
                region,
                key,
                done: done.clone(),
            };
            match submit(job) {
                Ok(()) => {
                    self.mark(slot, PENDING);
                    for &at in &inside {
                        self.mark(at, HELD);
                        self.held.insert(at, slot);
                    }
                    self.pending.insert(slot, (done, inside));
                    return None;
                }
                Err(job) => build(&job.region, job.key),
            }
        };
        self.settle(slot, block);
        block
    }

    /// The region of the pending start at `slot`, if the compiler thread has finished it.
    #[cold]
    #[inline(never)]
    fn collect(&mut self, slot: usize) -> Option<Block> {
        let block = *self.pending.get(&slot)?.0.get()?;
        self.drop_pending(slot);
        self.settle(slot, block);
        block
    }

    /// Forgets the pending region of `start` and counts the slots it held from zero again.
    fn drop_pending(&mut self, start: usize) {
        let Some((_, inside)) = self.pending.remove(&start) else {
            return;
        };
        for at in inside {
            if self.held.get(&at) == Some(&start) {
                self.held.remove(&at);
                self.entries[at] = 0;
            }
        }
    }

    /// Sets the entry at `slot` to `DONE`, `PENDING` or `HELD`, and flags its page.
    fn mark(&mut self, slot: usize, entry: u32) {
        let page = slot / PAGE_SLOTS;
        self.pages[page / 64] |= 1 << (page % 64);
        self.entries[slot] = entry;
    }

    /// Records that the start at `slot` is settled: its region `block`, or none.
    fn settle(&mut self, slot: usize, block: Option<Block>) {
        self.mark(slot, DONE);
        if let Some(Block(link)) = block {
            self.links[slot].store(link, Ordering::Relaxed);
        }
    }

    /// Forgets the compiled code covering page `pn`, whose code changed: the regions starting
    /// on it and on the pages before it that a region may span.
    pub(crate) fn invalidate_page(&mut self, pn: u32) {
        let last = pn as usize;
        for page in last.saturating_sub(REGION_PAGES - 1)..=last {
            let Some(bits) = self.pages.get_mut(page / 64) else {
                return;
            };
            if *bits & (1 << (page % 64)) == 0 {
                continue;
            }
            *bits &= !(1 << (page % 64));
            let slots = page * PAGE_SLOTS..((page + 1) * PAGE_SLOTS).min(self.entries.len());
            self.entries[slots.clone()].fill(0);
            // A region still compiling was read from the old code.
            let stale: Vec<usize> = (self.pending.keys().copied())
                .filter(|start| slots.contains(start))
                .collect();
            for start in stale {
                self.drop_pending(start);
            }
            self.held.retain(|at, _| !slots.contains(at));
            for link in &self.links[slots] {
                link.store(0, Ordering::Relaxed);
            }
        }
    }
}
