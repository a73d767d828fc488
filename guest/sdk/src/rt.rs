//! The guest runtime: entry point, global allocator and panic handler (guest builds only).

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;
use core::fmt::Write;
use core::ptr::NonNull;

use opml_platform::exit_code;

use crate::heap::Heap;
use crate::io::DebugLog;
use crate::sys;

// `_start`: the ELF entry point. Registers start at 0 in the VM; `gp` and `sp` come from the
// linker script, then Rust takes over. `gp` must be set without relaxation, or the assembler
// would compute it relative to itself.
core::arch::global_asm!(
    ".section .text.init, \"ax\", @progbits",
    ".globl _start",
    ".type _start, @function",
    "_start:",
    ".option push",
    ".option norelax",
    "la gp, __global_pointer$",
    ".option pop",
    "la sp, __opml_stack_top",
    "call {start}",
    start = sym start,
);

unsafe extern "C" {
    /// First byte of the heap arena (linker script).
    static __opml_heap_start: u8;
    /// One past the last byte of the heap arena (linker script).
    static __opml_heap_end: u8;
}

unsafe extern "Rust" {
    /// The guest's `main`, exported by [`entry!`](crate::entry).
    safe fn __opml_main();
}

/// Sets up the heap, runs the guest's `main` and exits with [`exit_code::SUCCESS`].
extern "C" fn start() -> ! {
    // SAFETY: the linker script reserves the arena for the heap alone, it does not contain
    // address 0, and this runs once, before anything allocates.
    unsafe {
        // The arena is memory outside any Rust allocation: address it directly.
        let start = (&raw const __opml_heap_start).addr();
        let end = (&raw const __opml_heap_end).addr();
        *ALLOCATOR.0.get() = Heap::new(core::ptr::with_exposed_provenance_mut(start), end - start);
    }
    __opml_main();
    sys::exit(exit_code::SUCCESS)
}

/// The global allocator: one [`Heap`] over the linker script's arena.
struct GuestAllocator(UnsafeCell<Heap>);

// SAFETY: a guest runs on a single hart with no threads and no interrupt or signal handlers, and
// the heap never calls back into the allocator, so no two accesses to the heap can overlap.
// (riscv32im has no atomic instructions for a lock, and needs none.)
unsafe impl Sync for GuestAllocator {}

#[global_allocator]
static ALLOCATOR: GuestAllocator = GuestAllocator(UnsafeCell::new(Heap::empty()));

/// Reports a failed allocation and exits with [`exit_code::OUT_OF_MEMORY`]; never allocates.
#[cold]
fn out_of_memory(layout: Layout) -> ! {
    let _ = writeln!(
        DebugLog,
        "opml-guest: out of memory allocating {} bytes (alignment {})",
        layout.size(),
        layout.align()
    );
    sys::exit(exit_code::OUT_OF_MEMORY)
}

// SAFETY: `Heap` hands out disjoint blocks of the requested layout from memory it owns, and is
// only given back its own blocks (GlobalAlloc's contract on the callers).
unsafe impl GlobalAlloc for GuestAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: see `Sync`; the heap was set up by `start`.
        match unsafe { (*self.0.get()).alloc(layout) } {
            Some(ptr) => ptr.as_ptr(),
            None => out_of_memory(layout),
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: see `Sync`; `ptr` is a live (so non-null) block of `layout`.
        unsafe { (*self.0.get()).dealloc(NonNull::new_unchecked(ptr), layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: see `Sync`; `ptr` is a live (so non-null) block of `layout` and `new_size` is
        // valid for it.
        match unsafe { (*self.0.get()).realloc(NonNull::new_unchecked(ptr), layout, new_size) } {
            Some(moved) => moved.as_ptr(),
            // SAFETY: GlobalAlloc's contract makes this a valid layout.
            None => out_of_memory(unsafe {
                Layout::from_size_align_unchecked(new_size, layout.align())
            }),
        }
    }
}

/// Writes the panic message and location to the debug log and exits with
/// [`exit_code::PANIC`].
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    let _ = match info.location() {
        Some(at) => writeln!(DebugLog, "guest panicked at {at}:\n{}", info.message()),
        None => writeln!(DebugLog, "guest panicked:\n{}", info.message()),
    };
    sys::exit(exit_code::PANIC)
}
