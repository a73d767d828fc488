//! The `syscalls` guest program; see the library for the modes.
#![cfg_attr(target_os = "none", no_std, no_main)]

extern crate alloc;

use alloc::vec::Vec;

use opml_guest::platform::{exit_code, fd};
use opml_guest::sys;
use syscalls::{BAD_FD, PIECE_SIZES, Results, UNKNOWN_SYSCALL, mode};

opml_guest::entry!(main);

fn main() {
    let mut selected = [0u8];
    opml_guest::read_slice(&mut selected);
    match selected[0] {
        mode::NORMAL => normal(),
        mode::PANIC => panic!("panic requested by the input"),
        mode::OUT_OF_MEMORY => {
            let mut held = Vec::new();
            loop {
                held.push(core::hint::black_box(Vec::<u8>::with_capacity(1 << 20)));
            }
        }
        mode::BAD_INPUT => {
            let value: u64 = opml_guest::read();
            opml_guest::log!("unexpectedly read {value}");
        }
        trap_mode => trap(trap_mode),
    }
}

/// The normal mode: echo, every system call, exit with the requested code.
fn normal() {
    let mut code = [0u8];
    opml_guest::read_slice(&mut code);
    let mut buf = [0u8; 65];
    let mut echoed = 0;
    for &size in PIECE_SIZES.iter().cycle() {
        let got = opml_guest::read_up_to(&mut buf[..size]);
        opml_guest::commit_slice(&buf[..got]);
        echoed += got;
        if got < size {
            break;
        }
    }
    opml_guest::log!("syscalls: echoed {echoed} bytes");
    let results = Results {
        eof_read: sys::read(fd::STDIN, &mut buf[..64]),
        empty_read: sys::read(fd::STDIN, &mut []),
        empty_write: sys::write(fd::STDOUT, &[]),
        bad_fd_read: sys::read(BAD_FD, &mut buf[..64]),
        bad_fd_write: sys::write(BAD_FD, b"x"),
        // SAFETY: a call number nobody implements takes no pointers.
        unknown_syscall: unsafe { sys::syscall(UNKNOWN_SYSCALL, 0, 0, 0) },
    };
    opml_guest::commit_slice(results.report().as_bytes());
    opml_guest::log("syscalls: done");
    opml_guest::exit(u32::from(code[0]));
}

/// Executes the faulting instruction of a trap mode.
#[cfg(target_os = "none")]
fn trap(selected: u8) {
    let word = [0u32; 2];
    let base = word.as_ptr() as usize;
    // SAFETY: each instruction traps, halting the machine; none touches memory outside `word`.
    unsafe {
        match selected {
            mode::EBREAK => core::arch::asm!("ebreak"),
            mode::ILLEGAL_INSTRUCTION => core::arch::asm!(".word 0"),
            mode::MISALIGNED_LOAD => core::arch::asm!("lw {0}, 1({1})", out(reg) _, in(reg) base),
            mode::MISALIGNED_STORE => core::arch::asm!("sw zero, 2({0})", in(reg) base),
            // Where the C extension makes the target legal (qemu), it holds the 16-bit
            // all-zero parcel, which is illegal there too.
            mode::MISALIGNED_JUMP => core::arch::asm!(
                "la {0}, 2f",
                "jalr zero, 2({0})",
                "2:",
                ".word 0",
                out(reg) _,
            ),
            _ => {}
        }
    }
    opml_guest::log!("syscalls: mode {selected} did not trap");
    opml_guest::exit(exit_code::BAD_INPUT);
}

/// Natively the trap modes cannot run: the instructions would fault the host process.
#[cfg(not(target_os = "none"))]
fn trap(selected: u8) {
    opml_guest::log!("syscalls: mode {selected} is not available natively");
    opml_guest::exit(exit_code::BAD_INPUT);
}
