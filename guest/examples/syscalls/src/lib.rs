//! The `syscalls` example guest: every system call and trap path, selected by the first input
//! byte (a [`mode`]).
//!
//! [`mode::NORMAL`] is the differential test against `qemu-riscv32`: its output and exit code
//! are the same there as in the VM (and natively). Its input is `mode ‖ exit code ‖ data`: it
//! echoes `data` to the public output, reading it in odd-sized pieces ([`PIECE_SIZES`]), logs to
//! fd 2, then makes the calls of [`Results`] and commits their [report](Results::report): a read
//! at the end of the input, empty reads and writes, reads and writes on a bad descriptor and an
//! unknown system call. Finally it exits with the requested code.
//!
//! The other modes end the program abnormally, each in its own documented way (see [`mode`]).
#![no_std]

extern crate alloc;

use alloc::format;
use alloc::string::String;

/// The first input byte: what the guest does.
pub mod mode {
    /// Echo, make every system call, exit with the code in the second input byte.
    pub const NORMAL: u8 = 0;
    /// Panic: exit code `exit_code::PANIC`, message on fd 2.
    pub const PANIC: u8 = 1;
    /// Allocate until the heap is exhausted: exit code `exit_code::OUT_OF_MEMORY`.
    pub const OUT_OF_MEMORY: u8 = 2;
    /// `ebreak`: trap `Breakpoint`.
    pub const EBREAK: u8 = 3;
    /// An all-zero instruction word: trap `IllegalInstruction`.
    pub const ILLEGAL_INSTRUCTION: u8 = 4;
    /// `lw` from an address that is 1 mod 4: trap `MisalignedLoad`.
    pub const MISALIGNED_LOAD: u8 = 5;
    /// `sw` to an address that is 2 mod 4: trap `MisalignedStore`.
    pub const MISALIGNED_STORE: u8 = 6;
    /// `jalr` to an address that is 2 mod 4: trap `MisalignedFetch`.
    pub const MISALIGNED_JUMP: u8 = 7;
    /// Read a typed `u64` from the rest of the input, which is too short: exit code
    /// `exit_code::BAD_INPUT`.
    pub const BAD_INPUT: u8 = 8;
}

/// A file descriptor that is neither open in the VM nor under `qemu-riscv32`.
pub const BAD_FD: u32 = 1000;

/// A system call number that neither the VM nor Linux implements.
pub const UNKNOWN_SYSCALL: u32 = 999;

/// Sizes of the pieces the normal mode reads its data in, cycled.
pub const PIECE_SIZES: [usize; 7] = [1, 3, 7, 13, 31, 33, 65];

/// What the normal mode's system calls returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Results {
    /// `read(0, buf, 64)` after the end of the input.
    pub eof_read: isize,
    /// `read(0, buf, 0)`.
    pub empty_read: isize,
    /// `write(1, buf, 0)`.
    pub empty_write: isize,
    /// `read(BAD_FD, buf, 64)`.
    pub bad_fd_read: isize,
    /// `write(BAD_FD, buf, 1)`.
    pub bad_fd_write: isize,
    /// `syscall(UNKNOWN_SYSCALL)`.
    pub unknown_syscall: isize,
}

impl Results {
    /// What the VM and Linux both return.
    pub fn expected() -> Results {
        use opml_guest::platform::errno::{EBADF, ENOSYS};
        Results {
            eof_read: 0,
            empty_read: 0,
            empty_write: 0,
            bad_fd_read: -(EBADF as isize),
            bad_fd_write: -(EBADF as isize),
            unknown_syscall: -(ENOSYS as isize),
        }
    }

    /// The text the normal mode commits after the echoed data.
    pub fn report(&self) -> String {
        format!(
            "read at end of input: {}\nempty read: {}\nempty write: {}\n\
             read(fd {BAD_FD}): {}\nwrite(fd {BAD_FD}): {}\nsyscall {UNKNOWN_SYSCALL}: {}\n",
            self.eof_read,
            self.empty_read,
            self.empty_write,
            self.bad_fd_read,
            self.bad_fd_write,
            self.unknown_syscall,
        )
    }
}

/// The input of the normal mode.
pub fn normal_input(exit_code: u8, data: &[u8]) -> alloc::vec::Vec<u8> {
    let mut input = alloc::vec![mode::NORMAL, exit_code];
    input.extend_from_slice(data);
    input
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_names_every_result() {
        let report = Results::expected().report();
        assert_eq!(report.lines().count(), 6);
        assert!(report.contains("read(fd 1000): -9\n"), "{report}");
        assert!(report.ends_with("syscall 999: -38\n"), "{report}");
    }
}
