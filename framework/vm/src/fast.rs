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
}

impl CodeView<'_> {
    /// The same view, reborrowed by value: passing it to an out-of-line function passes the
    /// slice as values, so the loop can keep its copy in registers.
    fn reborrow(&mut self) -> CodeView<'_> {
        CodeView { insns: self.insns }
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
/// it touched, so the pointers stay valid and exclusive.
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
pub(crate) struct Fast<'a> {
    pub(crate) regs: [u32; reg::COUNT],
    code: CodeView<'a>,
    tlb: Tlb,
    core: &'a mut Core,
}

impl<'a> Fast<'a> {
    pub(crate) fn new(core: &'a mut Core, code: &'a mut Code) -> Fast<'a> {
        Fast {
            regs: core.regs,
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
