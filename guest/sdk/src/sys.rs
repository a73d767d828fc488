//! Raw system calls: one call each, no retry on short counts.
//!
//! On the guest every function is one `ecall` with the Linux RISC-V convention (number in `a7`,
//! arguments in `a0..a2`, result in `a0`), which the opml VM and `qemu-riscv32` both implement;
//! `docs/vm-spec.md` says exactly what each call does in the VM. Natively the same calls are
//! emulated with the process's standard streams, so a guest binary built for the host behaves the
//! same: fd 0 is standard input, fd 1 standard output, fd 2 standard error, any other descriptor
//! gives `-EBADF` and any other call number `-ENOSYS`.
//!
//! Most guests want the looping functions at the crate root instead ([`crate::read_slice`],
//! [`crate::commit_slice`], ...).

use opml_platform::syscall as nr;

/// Makes system call `number` with arguments `a0`, `a1`, `a2` and returns what the call leaves in
/// `a0`: a count, or a negated errno (`opml_platform::errno`).
///
/// # Safety
///
/// The arguments must be what the call expects: for `read`, `a1` points to `a2` writable bytes;
/// for `write`, `a1` points to `a2` readable bytes; for `preimage`, `a0` points to 32 writable
/// bytes. Calls that do not exist take no pointers.
#[cfg(target_os = "none")]
#[inline(always)]
pub unsafe fn syscall(number: u32, a0: usize, a1: usize, a2: usize) -> isize {
    let ret: isize;
    // SAFETY: the VM (and Linux) only write `a0` and the memory the caller vouched for.
    unsafe {
        core::arch::asm!(
            "ecall",
            inlateout("a0") a0 => ret,
            in("a1") a1,
            in("a2") a2,
            in("a7") number,
            options(nostack),
        );
    }
    ret
}

/// Makes system call `number` with arguments `a0`, `a1`, `a2` and returns what the call leaves in
/// `a0`: a count, or a negated errno (`opml_platform::errno`). Natively the call is emulated on
/// the standard streams.
///
/// # Safety
///
/// The arguments must be what the call expects: for `read`, `a1` points to `a2` writable bytes;
/// for `write`, `a1` points to `a2` readable bytes; for `preimage`, `a0` points to 32 writable
/// bytes. Calls that do not exist take no pointers. (`preimage` is not emulated natively: it
/// gives `-ENOSYS`, as under `qemu-riscv32`.)
#[cfg(not(target_os = "none"))]
pub unsafe fn syscall(number: u32, a0: usize, a1: usize, a2: usize) -> isize {
    match number {
        nr::READ if a2 == 0 => 0,
        // SAFETY: the caller vouched for `a2` writable bytes at `a1`.
        nr::READ => host::read(a0, unsafe {
            core::slice::from_raw_parts_mut(a1 as *mut u8, a2)
        }),
        nr::WRITE if a2 == 0 => 0,
        // SAFETY: the caller vouched for `a2` readable bytes at `a1`.
        nr::WRITE => host::write(a0, unsafe {
            core::slice::from_raw_parts(a1 as *const u8, a2)
        }),
        nr::EXIT | nr::EXIT_GROUP => host::exit(a0 as u32),
        _ => -(opml_platform::errno::ENOSYS as isize),
    }
}

/// `read(fd, buf)`: reads at most `buf.len()` bytes, returns the count (0 at the end of the
/// input) or a negated errno. In the VM one call stops at the end of the 32-byte memory leaf
/// holding `buf` and at the end of the current input chunk.
pub fn read(fd: u32, buf: &mut [u8]) -> isize {
    // SAFETY: `buf` is `buf.len()` writable bytes.
    unsafe { syscall(nr::READ, fd as usize, buf.as_mut_ptr() as usize, buf.len()) }
}

/// `write(fd, buf)`: writes at most `buf.len()` bytes, returns the count or a negated errno. In
/// the VM one call stops at the end of the 32-byte memory leaf holding `buf` (and, for fd 1, of
/// the output stream's current 32-byte chunk).
pub fn write(fd: u32, buf: &[u8]) -> isize {
    // SAFETY: `buf` is `buf.len()` readable bytes.
    unsafe { syscall(nr::WRITE, fd as usize, buf.as_ptr() as usize, buf.len()) }
}

/// One 32-byte aligned memory leaf: the buffer of a [`preimage`] call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C, align(32))]
pub struct Leaf(pub [u8; 32]);

/// `preimage(buf, half)`, the data oracle: `buf` holds a key; the VM replaces it with half
/// `half` (0: bytes `0..32`, 1: bytes `32..64`) of the 64-byte preimage whose SHA-256 is the
/// key, and returns 0; `half > 1` gives `-EINVAL`. Natively and under `qemu-riscv32` the call
/// does not exist (`-ENOSYS`, `buf` untouched). See [`crate::preimage`] for both halves at once.
pub fn preimage(buf: &mut Leaf, half: u32) -> isize {
    // SAFETY: `buf` is 32 writable bytes (and 32-aligned, as the VM requires).
    unsafe { syscall(nr::PREIMAGE, buf as *mut Leaf as usize, half as usize, 0) }
}

/// `exit_group(code)`: ends the program with `code`. Natively, standard output is flushed first
/// and the process exit status is `code` (truncated to 8 bits by the operating system).
pub fn exit(code: u32) -> ! {
    #[cfg(target_os = "none")]
    // SAFETY: `exit_group` takes no pointer and does not return.
    unsafe {
        core::arch::asm!(
            "ecall",
            in("a0") code,
            in("a7") nr::EXIT_GROUP,
            options(noreturn, nostack),
        );
    }
    #[cfg(not(target_os = "none"))]
    host::exit(code)
}

/// The native emulation of the guest system calls.
#[cfg(not(target_os = "none"))]
mod host {
    use std::io::{ErrorKind, Read, Write};

    use opml_platform::{errno, fd};

    /// Linux `EIO`, for a failed host stream operation that carries no OS error number.
    const EIO: i32 = 5;

    /// `n` as a syscall result, or the negated OS error of `err`.
    fn result(outcome: std::io::Result<usize>) -> isize {
        match outcome {
            Ok(n) => n as isize,
            Err(err) => -(err.raw_os_error().unwrap_or(EIO) as isize),
        }
    }

    fn retry<T>(mut op: impl FnMut() -> std::io::Result<T>) -> std::io::Result<T> {
        loop {
            match op() {
                Err(err) if err.kind() == ErrorKind::Interrupted => continue,
                other => return other,
            }
        }
    }

    pub(super) fn read(descriptor: usize, buf: &mut [u8]) -> isize {
        if descriptor != fd::STDIN as usize {
            return -(errno::EBADF as isize);
        }
        result(retry(|| std::io::stdin().read(buf)))
    }

    pub(super) fn write(descriptor: usize, buf: &[u8]) -> isize {
        if descriptor == fd::STDOUT as usize {
            result(retry(|| std::io::stdout().write(buf)))
        } else if descriptor == fd::STDERR as usize {
            result(retry(|| std::io::stderr().write(buf)))
        } else {
            -(errno::EBADF as isize)
        }
    }

    pub(super) fn exit(code: u32) -> ! {
        // Nothing useful can be done if flushing fails on the way out.
        let _ = std::io::stdout().flush();
        std::process::exit(code as i32)
    }
}
