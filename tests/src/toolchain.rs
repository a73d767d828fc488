//! Assembling hand-written RV32IM programs with the GNU RISC-V toolchain.

use std::ffi::OsString;
use std::io;
use std::path::Path;
use std::process::{Command, ExitStatus};
use std::{env, fmt, fs};

use opml_platform::memory;

use crate::temp::TempDir;

/// Why a program could not be assembled.
#[derive(Debug)]
pub enum AssembleError {
    /// The compiler driver is not installed; the value is the name or path tried.
    NotFound(OsString),
    /// Writing or reading the files, or starting the compiler, failed.
    Io(io::Error),
    /// The assembler or linker refused the program.
    Failed {
        /// The compiler's exit status.
        status: ExitStatus,
        /// Its diagnostics.
        stderr: String,
    },
}

impl fmt::Display for AssembleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AssembleError::NotFound(gcc) => write!(
                f,
                "{} not found: install the RISC-V toolchain (Debian: apt-get install \
                 gcc-riscv64-unknown-elf) or point OPML_RISCV_GCC at it",
                gcc.to_string_lossy()
            ),
            AssembleError::Io(err) => write!(f, "running the assembler failed: {err}"),
            AssembleError::Failed { status, stderr } => {
                write!(f, "assembling failed ({status}):\n{stderr}")
            }
        }
    }
}

impl std::error::Error for AssembleError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            AssembleError::Io(err) => Some(err),
            _ => None,
        }
    }
}

impl From<io::Error> for AssembleError {
    fn from(err: io::Error) -> AssembleError {
        AssembleError::Io(err)
    }
}

/// The compiler driver: `OPML_RISCV_GCC`, or `riscv64-unknown-elf-gcc` on the `PATH`.
pub fn gcc_path() -> OsString {
    env::var_os("OPML_RISCV_GCC").unwrap_or_else(|| "riscv64-unknown-elf-gcc".into())
}

/// Assembles and links the assembler source `source` (`.S`: preprocessed, so `#include`s are
/// looked up beside it) into a static RV32IM executable with `.text` at
/// [`TEXT_START`](memory::TEXT_START) and `_start` as entry point.
pub fn assemble_file(source: &Path) -> Result<Vec<u8>, AssembleError> {
    let dir = TempDir::new()?;
    link(source, dir.path())
}

/// Like [`assemble_file`], for source text.
pub fn assemble(source: &str) -> Result<Vec<u8>, AssembleError> {
    let dir = TempDir::new()?;
    let path = dir.path().join("program.S");
    fs::write(&path, source)?;
    link(&path, dir.path())
}

fn link(source: &Path, out_dir: &Path) -> Result<Vec<u8>, AssembleError> {
    let gcc = gcc_path();
    let elf = out_dir.join("program.elf");
    let mut command = Command::new(&gcc);
    command
        .args(["-march=rv32im", "-mabi=ilp32", "-nostdlib", "-static"])
        .arg(format!("-Ttext={:#x}", memory::TEXT_START))
        // Relaxation would rewrite symbol addresses relative to a `gp` nothing sets.
        .arg("-Wl,--no-relax");
    if let Some(dir) = source.parent() {
        command.arg("-I").arg(dir);
    }
    let output = command
        .arg(source)
        .arg("-o")
        .arg(&elf)
        .output()
        .map_err(|err| match err.kind() {
            io::ErrorKind::NotFound => AssembleError::NotFound(gcc),
            _ => AssembleError::Io(err),
        })?;
    if !output.status.success() {
        return Err(AssembleError::Failed {
            status: output.status,
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        });
    }
    Ok(fs::read(elf)?)
}
