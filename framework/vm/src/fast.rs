//! The fast executor's context: registers in a local array, memory through two small
//! direct-mapped TLBs of raw page pointers, and the decoded-instruction cache kept coherent with
//! stores into code.

use opml_isa::{Context, Instruction, Width, decode};
use opml_platform::memory::LEAF_SIZE;
use opml_platform::reg;

use crate::core::Core;
use crate::memory::{Memory, PAGE_SHIFT, PAGE_SIZE, ZERO_PAGE};

/// Entries per TLB (a power of two).
const TLB_SIZE: usize = 64;
/// A tag no page number (`< 2^20`) matches.
const NO_PAGE: u32 = u32::MAX;

/// The decoded instructions of the addresses `0 .. 4 * insns.len()`: slot `pc / 4` holds the
/// instruction at `pc`. (Guest code sits low in memory; starting the cache at address zero
/// spares the fast loop a subtraction and a register.)
#[derive(Clone)]
pub(crate) struct Code {
    pub(crate) insns: Vec<Instruction>,
    /// The compiled blocks of this code.
    #[cfg(jit)]
    pub(crate) blocks: crate::jit::Blocks,
}

impl Code {
    /// Whether the cache covers any of the `len` (at least 1) bytes from `addr` on.
    pub(crate) fn covers(&self, addr: u32, len: u32) -> bool {
        slot(self.insns.len(), addr).is_some()
            || slot(self.insns.len(), addr.wrapping_add(len - 1)).is_some()
    }

    /// The cache, for updating.
    pub(crate) fn view(&mut self) -> CodeView<'_> {
        CodeView {
            insns: &mut self.insns,
            #[cfg(jit)]
            blocks: &mut self.blocks,
        }
    }
}

/// The slot of the word holding `addr` in a cache of `len` instructions.
#[inline(always)]
fn slot(len: usize, addr: u32) -> Option<usize> {
    let slot = (addr >> 2) as usize;
    (slot < len).then_some(slot)
}

/// A [`Code`] borrowed for the fast loop.
pub(crate) struct CodeView<'a> {
    insns: &'a mut [Instruction],
    #[cfg(jit)]
    blocks: &'a mut crate::jit::Blocks,
}

impl CodeView<'_> {
    /// The same view, reborrowed by value: passing it to an out-of-line function passes the
    /// slice as values, so the loop can keep its copy in registers.
    fn reborrow(&mut self) -> CodeView<'_> {
        CodeView {
            insns: self.insns,
            #[cfg(jit)]
            blocks: self.blocks,
        }
    }

    /// Re-decodes the cached words overlapping the `len` (at least 1) bytes from `addr` on,
    /// which were just written.
    pub(crate) fn refresh(&mut self, mem: &Memory, addr: u32, len: u32) {
        let first = addr & !3;
        let words = ((addr.wrapping_add(len - 1) & !3).wrapping_sub(first) >> 2) + 1;
        for k in 0..words {
            let word = first.wrapping_add(4 * k);
            if let Some(slot) = slot(self.insns.len(), word) {
                self.insns[slot] = decode(mem.load(word, 4));
                #[cfg(jit)]
                self.blocks.invalidate_page(word >> PAGE_SHIFT);
            }
        }
    }

    /// Whether page `pn` holds cached instructions.
    fn covers_page(&self, pn: u32) -> bool {
        (pn as usize) < (4 * self.insns.len()).div_ceil(PAGE_SIZE)
    }
}

/// Two direct-mapped TLBs of raw page pointers.
///
/// # Safety invariant
///
/// Every read entry whose tag is not [`NO_PAGE`] points at the current contents of its page (a
/// page of the memory the TLB serves, or [`ZERO_PAGE`] for an absent one), and every write
/// entry at a page that memory owns exclusively and has marked dirty. The [`Fast`] context
/// holding the TLB holds its memory mutably for its whole life, and every path that changes the
/// page table (the fills and the syscalls that write memory) refreshes the entries of the pages
/// it touched, so the pointers stay valid and exclusive. Compiled blocks read the entries
/// (`repr(C)`, see [`layout`]) and access memory only through a hit.
#[repr(C)]
struct Tlb {
    read_tags: [u32; TLB_SIZE],
    read_ptrs: [*const u8; TLB_SIZE],
    write_tags: [u32; TLB_SIZE],
    write_ptrs: [*mut u8; TLB_SIZE],
}

impl Tlb {
    #[cold]
    #[inline(never)]
    fn fill_read(&mut self, mem: &Memory, pn: u32) -> *const u8 {
        let slot = pn as usize % TLB_SIZE;
        let ptr = mem.page(pn).as_ptr();
        self.read_tags[slot] = pn;
        self.read_ptrs[slot] = ptr;
        ptr
    }

    /// Forgets both entries of page `pn`.
    fn flush_page(&mut self, pn: u32) {
        let slot = pn as usize % TLB_SIZE;
        if self.read_tags[slot] == pn {
            self.read_tags[slot] = NO_PAGE;
        }
        if self.write_tags[slot] == pn {
            self.write_tags[slot] = NO_PAGE;
        }
    }

    /// A store that missed the write TLB: unshare the page, then either cache it for writing
    /// or, for a page holding cached instructions, store and re-decode the word stored to.
    #[cold]
    #[inline(never)]
    fn store_slow(
        &mut self,
        core: &mut Core,
        mut code: CodeView<'_>,
        (addr, width, value): (u32, Width, u32),
    ) {
        let pn = addr >> PAGE_SHIFT;
        let slot = pn as usize % TLB_SIZE;
        if code.covers_page(pn) {
            core.mem.store(addr, width as usize, value);
            self.flush_page(pn);
            code.refresh(&core.mem, addr, width as u32);
            return;
        }
        let ptr = core.mem.page_mut(pn).as_mut_ptr();
        self.write_tags[slot] = pn;
        self.write_ptrs[slot] = ptr;
        self.read_tags[slot] = pn;
        self.read_ptrs[slot] = ptr;
        // SAFETY: `ptr` points at the exclusively owned page just fetched; the access is
        // aligned to its width, so it stays inside the page.
        unsafe { write(ptr, addr, width, value) }
    }
}

/// The context of [`Machine::run`](crate::Machine::run)'s loop.
#[repr(C)]
pub(crate) struct Fast<'a> {
    pub(crate) regs: [u32; reg::COUNT],
    /// The code's link table and its length in slots, for compiled blocks (see
    /// [`Blocks::table`](crate::jit::Blocks::table)).
    #[cfg(jit)]
    links: (*const std::sync::atomic::AtomicUsize, u32),
    code: CodeView<'a>,
    tlb: Tlb,
    core: &'a mut Core,
}

impl<'a> Fast<'a> {
    pub(crate) fn new(core: &'a mut Core, code: &'a mut Code) -> Fast<'a> {
        Fast {
            regs: core.regs,
            #[cfg(jit)]
            links: code.blocks.table(),
            code: code.view(),
            tlb: Tlb {
                read_tags: [NO_PAGE; TLB_SIZE],
                read_ptrs: [ZERO_PAGE.as_ptr(); TLB_SIZE],
                write_tags: [NO_PAGE; TLB_SIZE],
                write_ptrs: [std::ptr::null_mut(); TLB_SIZE],
            },
            core,
        }
    }

    /// The decoded instruction at `pc` (4-aligned).
    #[inline(always)]
    pub(crate) fn instruction(&mut self, pc: u32) -> Instruction {
        match slot(self.code.insns.len(), pc) {
            Some(slot) => self.code.insns[slot],
            None => uncached(&self.core.mem, pc),
        }
    }

    /// Writes the registers back to the machine.
    pub(crate) fn finish(self) {
        self.core.regs = self.regs;
    }

    /// The compiled block starting at `pc`, if there is one; else counts an entry there
    /// (compiling the block on the `threshold`th).
    #[cfg(jit)]
    #[inline(always)]
    pub(crate) fn block(&mut self, pc: u32, threshold: u32) -> Option<crate::jit::Block> {
        let slot = slot(self.code.insns.len(), pc)?;
        self.code.blocks.enter(self.code.insns, slot, threshold)
    }

    /// Runs `block`, and the blocks it links to, for at most `budget` instructions; returns
    /// how many they executed (0 if the budget does not hold `block`) and the pc they stopped
    /// at.
    #[cfg(jit)]
    #[inline(always)]
    pub(crate) fn run_block(&mut self, block: crate::jit::Block, budget: u64) -> (u64, u32) {
        let budget = budget.min(u64::from(u32::MAX));
        // SAFETY: compiled blocks access the context's registers, link table and TLB entries
        // (at the offsets of `layout`), guest memory only through TLB hits (valid and, for
        // writes, exclusive pointers by `Tlb`'s invariant) and everything else through
        // `jit_load` and `jit_store`, which they pass this pointer, derived from `&mut self`.
        // The link table, this context's code's, holds only blocks of the process's compiler.
        let packed = unsafe { block.enter((self as *mut Fast<'a>).cast(), budget) };
        (packed >> 32, packed as u32)
    }
}

/// Offsets in [`Fast`] that compiled blocks use.
#[cfg(jit)]
pub(crate) mod layout {
    use std::mem::offset_of;

    use super::{Fast, Tlb};

    /// Entries per TLB.
    pub(crate) const TLB_SIZE: usize = super::TLB_SIZE;
    /// The registers, `[u32; 32]`.
    pub(crate) const REGS: i32 = offset_of!(Fast<'static>, regs) as i32;
    /// The link table's address (a pointer to the block address of each slot, 0 where none)
    /// and its length in slots (`u32`).
    pub(crate) const LINKS: i32 = offset_of!(Fast<'static>, links.0) as i32;
    pub(crate) const LINKS_LEN: i32 = offset_of!(Fast<'static>, links.1) as i32;
    const TLB: usize = offset_of!(Fast<'static>, tlb);
    /// The read TLB's tags (`u32`) and page pointers.
    pub(crate) const READ_TAGS: i32 = (TLB + offset_of!(Tlb, read_tags)) as i32;
    pub(crate) const READ_PTRS: i32 = (TLB + offset_of!(Tlb, read_ptrs)) as i32;
    /// The write TLB's tags (`u32`) and page pointers.
    pub(crate) const WRITE_TAGS: i32 = (TLB + offset_of!(Tlb, write_tags)) as i32;
    pub(crate) const WRITE_PTRS: i32 = (TLB + offset_of!(Tlb, write_ptrs)) as i32;
}

/// The `Width` of an access of `bytes` bytes (1, 2 or 4).
#[cfg(jit)]
fn width(bytes: u32) -> Width {
    match bytes {
        1 => Width::Byte,
        2 => Width::Half,
        _ => Width::Word,
    }
}

/// A load of `bytes` bytes at the aligned `addr` that missed a compiled block's read TLB
/// (zero-extended).
///
/// # Safety
/// `fast` must be the pointer [`Fast::run_block`] passed to the running block.
#[cfg(jit)]
pub(crate) unsafe extern "C" fn jit_load(fast: *mut u8, addr: u32, bytes: u32) -> u32 {
    // SAFETY: by the caller's contract `fast` is a live `Fast`, borrowed mutably by
    // `run_block` for the call, and nothing else uses it meanwhile.
    let fast = unsafe { &mut *fast.cast::<Fast<'_>>() };
    fast.load(addr, width(bytes))
}

/// A store of the low `bytes` bytes of `value` at the aligned `addr` that missed a compiled
/// block's write TLB; returns 1 if it went to a page holding cached code (which the store may
/// have changed), else 0.
///
/// # Safety
/// As for [`jit_load`].
#[cfg(jit)]
pub(crate) unsafe extern "C" fn jit_store(fast: *mut u8, addr: u32, bytes: u32, value: u32) -> u32 {
    // SAFETY: as in `jit_load`.
    let fast = unsafe { &mut *fast.cast::<Fast<'_>>() };
    fast.store(addr, width(bytes), value);
    u32::from(fast.code.covers_page(addr >> PAGE_SHIFT))
}

/// Fetches and decodes an instruction outside the cache.
#[cold]
#[inline(never)]
fn uncached(mem: &Memory, pc: u32) -> Instruction {
    decode(mem.load(pc, 4))
}

/// Stores the low `width` bytes of `value` at offset `addr % PAGE_SIZE` of the page at `page`.
///
/// # Safety
/// `page` must point at a writable page of [`PAGE_SIZE`] bytes, and `addr` be aligned to
/// `width`.
#[inline(always)]
unsafe fn write(page: *mut u8, addr: u32, width: Width, value: u32) {
    debug_assert!(addr.is_multiple_of(width as u32));
    let off = addr as usize & (PAGE_SIZE - 1);
    // SAFETY: by the caller's contract the access lies inside the page.
    unsafe {
        let p = page.add(off);
        match width {
            Width::Byte => *p = value as u8,
            Width::Half => p.cast::<[u8; 2]>().write((value as u16).to_le_bytes()),
            Width::Word => p.cast::<[u8; 4]>().write(value.to_le_bytes()),
        }
    }
}

impl Context for Fast<'_> {
    #[inline(always)]
    fn reg(&self, index: usize) -> u32 {
        // Indices are below 32; the mask only spares the bounds check.
        self.regs[index & (reg::COUNT - 1)]
    }

    #[inline(always)]
    fn set_reg(&mut self, index: usize, value: u32) {
        self.regs[index & (reg::COUNT - 1)] = value;
    }

    #[inline(always)]
    fn fetch(&mut self, pc: u32) -> u32 {
        self.load(pc, Width::Word)
    }

    #[inline(always)]
    fn load(&mut self, addr: u32, width: Width) -> u32 {
        let pn = addr >> PAGE_SHIFT;
        let slot = pn as usize % TLB_SIZE;
        let page = if self.tlb.read_tags[slot] == pn {
            self.tlb.read_ptrs[slot]
        } else {
            self.tlb.fill_read(&self.core.mem, pn)
        };
        debug_assert!(addr.is_multiple_of(width as u32));
        let off = addr as usize & (PAGE_SIZE - 1);
        // SAFETY: the read TLB only holds pointers to live pages (see `Tlb`'s invariant); the
        // access is aligned to its width, so it stays inside the page.
        unsafe {
            let p = page.add(off);
            match width {
                Width::Byte => u32::from(*p),
                Width::Half => u32::from(u16::from_le_bytes(p.cast::<[u8; 2]>().read())),
                Width::Word => u32::from_le_bytes(p.cast::<[u8; 4]>().read()),
            }
        }
    }

    #[inline(always)]
    fn store(&mut self, addr: u32, width: Width, value: u32) {
        let pn = addr >> PAGE_SHIFT;
        let slot = pn as usize % TLB_SIZE;
        if self.tlb.write_tags[slot] == pn {
            // SAFETY: a write-TLB hit is an exclusively owned page (see `Tlb`'s invariant).
            unsafe { write(self.tlb.write_ptrs[slot], addr, width, value) }
        } else {
            self.tlb
                .store_slow(self.core, self.code.reborrow(), (addr, width, value));
        }
    }

    fn input_available(&mut self) -> u32 {
        self.core.input_available()
    }

    fn read_input(&mut self, buf: u32, len: u32) {
        self.core.read_input(buf, len);
        self.tlb.flush_page(buf >> PAGE_SHIFT);
        self.code.reborrow().refresh(&self.core.mem, buf, len);
    }

    fn output_room(&self) -> u32 {
        self.core.output_room()
    }

    fn write_output(&mut self, buf: u32, len: u32) {
        self.core.write_output(buf, len);
    }

    fn write_log(&mut self, buf: u32, len: u32) {
        self.core.write_log(buf, len);
    }

    fn preimage(&mut self, buf: u32, half: u32) -> bool {
        if !self.core.preimage(buf, half) {
            return false;
        }
        self.tlb.flush_page(buf >> PAGE_SHIFT);
        self.code.reborrow().refresh(&self.core.mem, buf, LEAF_SIZE);
        true
    }
}
