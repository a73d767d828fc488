//! Running one program on the opml VM and under qemu, and comparing what they did.
//!
//! What is compared is what a Linux process shows: the bytes written to stdout and how it
//! ended. An exit code compares by its low byte (all Linux keeps); a trap compares with the
//! signal qemu-user raises for it: an illegal instruction with `SIGILL`, `ebreak` with
//! `SIGTRAP`. The VM runs each program twice, in fast mode as configured by default and with
//! every block compiled on its first entry, and both runs must end in the same state. The other traps have no counterpart (qemu-user performs misaligned loads and
//! stores, aborts on misaligned jumps and faults on memory outside the image, which the VM reads
//! as zero), so programs compared here must avoid them.

use std::fmt;

use opml_platform::TrapCause;
use opml_vm::{ExitStatus, LoadError, Machine};

use crate::qemu::{QemuError, QemuExit, run_qemu};

/// The most steps a program may take on the VM.
pub const MAX_STEPS: u64 = 1 << 26;

const SIGILL: i32 = 4;
const SIGTRAP: i32 = 5;

/// How a program ended, in terms both machines share.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// `exit(code)`, low byte of the code.
    Exited(u8),
    /// An illegal instruction or `ebreak` (the only traps both machines report alike).
    Trapped(TrapCause),
}

impl fmt::Display for End {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            End::Exited(code) => write!(f, "exited with code {code}"),
            End::Trapped(cause) => write!(f, "trapped: {}", cause.name()),
        }
    }
}

/// What a program did: its stdout and how it ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Run {
    /// Bytes written to fd 1.
    pub stdout: Vec<u8>,
    /// How it ended.
    pub end: End,
}

impl fmt::Display for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}, {} bytes of output:", self.end, self.stdout.len())?;
        for (index, byte) in self.stdout.iter().enumerate() {
            let separator = if index % 32 == 0 { "\n  " } else { " " };
            write!(f, "{separator}{byte:02x}")?;
        }
        Ok(())
    }
}

/// Why a comparison failed.
#[derive(Debug)]
pub enum DiffError {
    /// The VM refused the program.
    Load(LoadError),
    /// The program did not halt on the VM within [`MAX_STEPS`].
    StepLimit,
    /// The VM stopped on a trap qemu has no counterpart for.
    VmTrap(TrapCause),
    /// The VM with every block compiled at once ended in another state, after `steps` steps,
    /// than by default.
    Compiled {
        /// The steps of the default run.
        steps: u64,
    },
    /// qemu could not run the program.
    Qemu(QemuError),
    /// qemu killed the program with a signal that is not a trap the VM reports alike.
    QemuSignal(i32),
    /// qemu printed diagnostics (or the program wrote to fd 2, which compared programs must
    /// not do).
    QemuStderr(String),
    /// The machines disagree.
    Mismatch {
        /// What the VM did.
        vm: Run,
        /// What qemu did.
        qemu: Run,
    },
}

impl fmt::Display for DiffError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DiffError::Load(err) => write!(f, "the VM refused the program: {err}"),
            DiffError::StepLimit => write!(f, "no halt on the VM within {MAX_STEPS} steps"),
            DiffError::VmTrap(cause) => write!(
                f,
                "the VM trapped ({}), which qemu-user does not reproduce",
                cause.name()
            ),
            DiffError::Compiled { steps } => write!(
                f,
                "the VM with every block compiled at once disagrees with its default run \
                 ({steps} steps)"
            ),
            DiffError::Qemu(err) => err.fmt(f),
            DiffError::QemuSignal(signal) => write!(f, "qemu killed the program (signal {signal})"),
            DiffError::QemuStderr(stderr) => write!(f, "qemu printed to stderr: {stderr}"),
            DiffError::Mismatch { vm, qemu } => {
                write!(f, "the VM and qemu disagree\nVM:   {vm}\nqemu: {qemu}")?;
                match vm.stdout.iter().zip(&qemu.stdout).position(|(a, b)| a != b) {
                    Some(at) => write!(f, "\nfirst differing output byte: {at}"),
                    None => Ok(()),
                }
            }
        }
    }
}

impl std::error::Error for DiffError {}

/// Runs the ELF executable `elf` on the VM with input `stdin`, by default and with every
/// block compiled at once.
pub fn run_vm(elf: &[u8], stdin: &[u8]) -> Result<Run, DiffError> {
    let mut machine = Machine::load(elf, stdin.to_vec()).map_err(DiffError::Load)?;
    let mut compiled = machine.clone();
    compiled.set_jit(Some(0));
    let status = machine.run(MAX_STEPS);
    compiled.run(MAX_STEPS);
    if compiled.state() != machine.state() || compiled.output() != machine.output() {
        return Err(DiffError::Compiled {
            steps: machine.step_count(),
        });
    }
    let end = match status {
        ExitStatus::Running => return Err(DiffError::StepLimit),
        // Compared as Linux does: the low byte.
        ExitStatus::Exited(code) => End::Exited(code as u8),
        ExitStatus::Trapped(cause @ (TrapCause::IllegalInstruction | TrapCause::Breakpoint)) => {
            End::Trapped(cause)
        }
        ExitStatus::Trapped(cause) => return Err(DiffError::VmTrap(cause)),
    };
    Ok(Run {
        stdout: machine.output().to_vec(),
        end,
    })
}

/// Runs the ELF executable `elf` under qemu with input `stdin`.
pub fn run_reference(elf: &[u8], stdin: &[u8]) -> Result<Run, DiffError> {
    let run = run_qemu(elf, stdin).map_err(DiffError::Qemu)?;
    if !run.stderr.is_empty() {
        return Err(DiffError::QemuStderr(
            String::from_utf8_lossy(&run.stderr).into_owned(),
        ));
    }
    let end = match run.exit {
        QemuExit::Exited(code) => End::Exited(code),
        QemuExit::Signaled(SIGILL) => End::Trapped(TrapCause::IllegalInstruction),
        QemuExit::Signaled(SIGTRAP) => End::Trapped(TrapCause::Breakpoint),
        QemuExit::Signaled(signal) => return Err(DiffError::QemuSignal(signal)),
    };
    Ok(Run {
        stdout: run.stdout,
        end,
    })
}

/// Runs `elf` with input `stdin` on the VM and under qemu, and returns what both did if they
/// agree.
pub fn compare(elf: &[u8], stdin: &[u8]) -> Result<Run, DiffError> {
    let vm = run_vm(elf, stdin)?;
    let qemu = run_reference(elf, stdin)?;
    if vm == qemu {
        Ok(vm)
    } else {
        Err(DiffError::Mismatch { vm, qemu })
    }
}
