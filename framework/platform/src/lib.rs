//! The contract between opml guest programs and the opml VM.
//!
//! This crate is the single source of truth for everything both sides must agree on: the
//! memory map the guest linker script is generated from, the Linux-compatible syscall numbers
//! and file descriptors, the register ABI, the trap causes and the exit codes the guest SDK uses.
//! It is `no_std` and has no dependencies, so the guest SDK, the VM, the step verifier and the
//! Solidity generators can all depend on it.
#![no_std]

/// The guest memory map. Addresses are byte addresses in the 32-bit guest address space.
///
/// ```text
/// 0x0000_0000 .. TEXT_START        unused (null guard; never part of a guest image)
/// TEXT_START  .. _end              program image: .text, .rodata, .data, .bss
/// _end        .. HEAP_END          heap (the SDK allocator's arena; linker symbols
///                                  __opml_heap_start / __opml_heap_end)
/// STACK_BOTTOM .. STACK_TOP        stack, STACK_SIZE bytes, growing down from STACK_TOP
/// RAM_END     .. 2^32              not part of the guest image; the VM treats it as zeroed
///                                  memory, qemu-user leaves it unmapped
/// ```
///
/// Heap and stack are allocated (NOBITS) sections of the ELF, so every byte a well-behaved guest
/// touches is inside a `PT_LOAD` segment and the same ELF runs unchanged under `qemu-riscv32`.
pub mod memory {
    /// Where the linker places the first byte of `.text`.
    pub const TEXT_START: u32 = 0x0001_0000;
    /// One past the last byte of guest RAM (the top of the stack).
    pub const RAM_END: u32 = 0x4000_0000;
    /// Size of the guest stack in bytes.
    pub const STACK_SIZE: u32 = 1 << 20;
    /// The initial stack pointer.
    pub const STACK_TOP: u32 = RAM_END;
    /// Lowest stack address; the heap ends here.
    pub const STACK_BOTTOM: u32 = STACK_TOP - STACK_SIZE;
    /// One past the last heap byte.
    pub const HEAP_END: u32 = STACK_BOTTOM;
    /// Bytes per instruction (RV32IM has no compressed instructions).
    pub const INSTRUCTION_SIZE: u32 = 4;
    /// Bytes per Merkle leaf of memory, and per chunk of the input and output streams.
    pub const LEAF_SIZE: u32 = 32;
    /// log2 of [`LEAF_SIZE`].
    pub const LEAF_SIZE_LOG2: u32 = 5;
    /// Depth of the memory Merkle tree: one level per address bit above the leaf.
    pub const MERKLE_DEPTH: usize = 32 - LEAF_SIZE_LOG2 as usize;
    /// Bytes in one preimage of the data oracle: two memory leaves, the children of an inner
    /// node of a binary SHA-256 tree.
    pub const PREIMAGE_LEN: usize = 2 * LEAF_SIZE as usize;

    // The map is consistent, checked at compile time.
    const _: () = {
        assert!(TEXT_START < HEAP_END);
        assert!(STACK_TOP - STACK_BOTTOM == STACK_SIZE);
        assert!(
            STACK_TOP.is_multiple_of(16),
            "the ABI needs a 16-byte aligned stack"
        );
        assert!(1 << LEAF_SIZE_LOG2 == LEAF_SIZE);
        assert!(MERKLE_DEPTH == 27);
    };
}

/// Syscall numbers, passed in `a7`: the Linux RISC-V numbers, plus opml's own data oracle
/// ([`PREIMAGE`](syscall::PREIMAGE)) at a number Linux does not use.
pub mod syscall {
    /// `read(fd, buf, len)`: read from the input stream (fd 0).
    pub const READ: u32 = 63;
    /// `write(fd, buf, len)`: append to the public output (fd 1) or the debug log (fd 2).
    pub const WRITE: u32 = 64;
    /// `exit(code)`: halt with `code`.
    pub const EXIT: u32 = 93;
    /// `exit_group(code)`: same as [`EXIT`].
    pub const EXIT_GROUP: u32 = 94;
    /// `preimage(buf, half)`: the data oracle. `buf` is 32-byte aligned and holds a 32-byte key
    /// `k`; the call replaces those 32 bytes with half `half` (0: bytes `0..32`, 1: bytes
    /// `32..64`) of the [`PREIMAGE_LEN`](crate::memory::PREIMAGE_LEN)-byte `p` with
    /// `sha256(p) == k` (`docs/vm-spec.md`, "Data oracle"). Outside Linux's range, so
    /// `qemu-riscv32` answers `-ENOSYS`.
    pub const PREIMAGE: u32 = 0x0001_0000;
}

/// File descriptors understood by `read` and `write`.
pub mod fd {
    /// The input stream, committed by the state's input commitment.
    pub const STDIN: u32 = 0;
    /// The public output (journal), committed in the state's output digest.
    pub const STDOUT: u32 = 1;
    /// The debug log: shown by the host, never committed.
    pub const STDERR: u32 = 2;
}

/// Linux error numbers the VM returns, negated, in `a0`.
pub mod errno {
    /// Bad file descriptor: `read` on fd != 0, `write` on fd not in {1, 2}.
    pub const EBADF: u32 = 9;
    /// Invalid argument: `preimage` with a `buf` that is not 32-byte aligned or `half > 1`.
    pub const EINVAL: u32 = 22;
    /// Unknown syscall number.
    pub const ENOSYS: u32 = 38;
}

/// Integer register numbers of the RISC-V calling convention that the ABI uses.
pub mod reg {
    /// Return address.
    pub const RA: usize = 1;
    /// Stack pointer.
    pub const SP: usize = 2;
    /// Global pointer.
    pub const GP: usize = 3;
    /// First argument and return value.
    pub const A0: usize = 10;
    /// Second argument.
    pub const A1: usize = 11;
    /// Third argument.
    pub const A2: usize = 12;
    /// Syscall number.
    pub const A7: usize = 17;
    /// Number of integer registers, `x0` included.
    pub const COUNT: usize = 32;
}

/// Why a machine trapped. The cause is the exit code recorded in a trapped state.
///
/// A trap leaves `pc` at the faulting instruction and halts the machine; it counts as one step.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TrapCause {
    /// The word at `pc` is not an RV32IM instruction (includes CSR, `fence.i`, compressed and
    /// floating-point encodings).
    IllegalInstruction = 1,
    /// `ebreak`.
    Breakpoint = 2,
    /// A jump or taken branch to an address that is not 4-byte aligned, or a state whose `pc`
    /// is not 4-byte aligned.
    MisalignedFetch = 3,
    /// A halfword or word load from an address not aligned to its size.
    MisalignedLoad = 4,
    /// A halfword or word store to an address not aligned to its size.
    MisalignedStore = 5,
}

impl TrapCause {
    /// Every trap cause, in code order.
    pub const ALL: [TrapCause; 5] = [
        TrapCause::IllegalInstruction,
        TrapCause::Breakpoint,
        TrapCause::MisalignedFetch,
        TrapCause::MisalignedLoad,
        TrapCause::MisalignedStore,
    ];

    /// The numeric code stored in the state.
    pub const fn code(self) -> u32 {
        self as u32
    }

    /// The cause for a numeric code, if it names one.
    pub const fn from_code(code: u32) -> Option<TrapCause> {
        match code {
            1 => Some(TrapCause::IllegalInstruction),
            2 => Some(TrapCause::Breakpoint),
            3 => Some(TrapCause::MisalignedFetch),
            4 => Some(TrapCause::MisalignedLoad),
            5 => Some(TrapCause::MisalignedStore),
            _ => None,
        }
    }

    /// A short human-readable name.
    pub const fn name(self) -> &'static str {
        match self {
            TrapCause::IllegalInstruction => "illegal instruction",
            TrapCause::Breakpoint => "breakpoint (ebreak)",
            TrapCause::MisalignedFetch => "misaligned instruction fetch",
            TrapCause::MisalignedLoad => "misaligned load",
            TrapCause::MisalignedStore => "misaligned store",
        }
    }
}

/// The status byte of the packed state.
pub mod status {
    /// The machine can take another step.
    pub const RUNNING: u8 = 0;
    /// The guest called `exit`; the exit code is the guest's `a0`.
    pub const EXITED: u8 = 1;
    /// The machine trapped; the exit code is a [`TrapCause`](crate::TrapCause) code.
    pub const TRAPPED: u8 = 2;
}

/// Exit codes the guest SDK uses by convention (a guest may exit with any other code itself).
pub mod exit_code {
    /// Normal successful completion (`main` returned).
    pub const SUCCESS: u32 = 0;
    /// The guest panicked; the panic message went to the debug log (fd 2).
    pub const PANIC: u32 = 101;
    /// The guest heap allocator could not satisfy a request.
    pub const OUT_OF_MEMORY: u32 = 102;
    /// The input stream ended before a value the guest asked for, or did not decode.
    pub const BAD_INPUT: u32 = 103;
    /// The data oracle refused a `preimage` call the SDK made: the guest is not running in the
    /// opml VM (natively and under `qemu-riscv32` the call returns `-ENOSYS`).
    pub const ORACLE_UNAVAILABLE: u32 = 104;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trap_codes_round_trip() {
        for cause in TrapCause::ALL {
            assert_eq!(TrapCause::from_code(cause.code()), Some(cause));
        }
        assert_eq!(TrapCause::from_code(0), None);
        assert_eq!(TrapCause::from_code(6), None);
    }
}
