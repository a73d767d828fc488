//! Running ELF executables under `qemu-riscv32` (qemu-user), the differential reference.

use std::ffi::OsString;
use std::io::{self, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};
use std::{env, fmt, fs, thread};

use crate::temp::TempDir;

/// The CPU model qemu emulates unless `OPML_QEMU_CPU` names another: RV32IM, with every
/// extension qemu enables by default and the opml VM lacks (C, F, D, A, Zicsr, Zifencei, Zb*)
/// turned off, so that qemu raises `SIGILL` exactly where the VM traps on an illegal
/// instruction. (Property names as qemu 7.2 spells them.)
pub const QEMU_CPU: &str = "rv32,c=false,f=false,d=false,a=false,Zicsr=false,Zifencei=false,\
                            zba=false,zbb=false,zbc=false,zbs=false";
/// How long a program may run under qemu before it is killed.
pub const QEMU_TIMEOUT: Duration = Duration::from_secs(30);

/// How a program under qemu ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QemuExit {
    /// The guest called `exit(code)`; Linux keeps the low byte.
    Exited(u8),
    /// The guest was killed by a signal (`SIGILL`, `SIGTRAP`, `SIGSEGV`, ...).
    Signaled(i32),
}

/// What a program did under qemu.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QemuRun {
    /// Bytes written to fd 1.
    pub stdout: Vec<u8>,
    /// Bytes written to fd 2, and qemu's own messages.
    pub stderr: Vec<u8>,
    /// How it ended.
    pub exit: QemuExit,
}

/// Why a program could not be run under qemu.
#[derive(Debug)]
pub enum QemuError {
    /// The qemu executable is not installed; the value is the name or path tried.
    NotFound(OsString),
    /// Writing the program, starting qemu or talking to it failed.
    Io(io::Error),
    /// The program ran longer than [`QEMU_TIMEOUT`] and was killed.
    TimedOut,
}

impl fmt::Display for QemuError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QemuError::NotFound(qemu) => write!(
                f,
                "{} not found: install qemu-user (Debian: apt-get install qemu-user) or point \
                 OPML_QEMU at qemu-riscv32",
                qemu.to_string_lossy()
            ),
            QemuError::Io(err) => write!(f, "running qemu failed: {err}"),
            QemuError::TimedOut => write!(
                f,
                "the program ran longer than {} s under qemu",
                QEMU_TIMEOUT.as_secs()
            ),
        }
    }
}

impl std::error::Error for QemuError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            QemuError::Io(err) => Some(err),
            _ => None,
        }
    }
}

impl From<io::Error> for QemuError {
    fn from(err: io::Error) -> QemuError {
        QemuError::Io(err)
    }
}

/// The qemu executable: `OPML_QEMU`, or `qemu-riscv32` on the `PATH`.
pub fn qemu_path() -> OsString {
    env::var_os("OPML_QEMU").unwrap_or_else(|| "qemu-riscv32".into())
}

/// Runs the ELF executable `elf` under qemu with `stdin` as its standard input.
pub fn run_qemu(elf: &[u8], stdin: &[u8]) -> Result<QemuRun, QemuError> {
    let dir = TempDir::new()?;
    let path = dir.path().join("program.elf");
    fs::write(&path, elf)?;
    // qemu-user refuses (exit code 1, no message) to run a file without execute permission.
    fs::set_permissions(&path, fs::Permissions::from_mode(0o700))?;
    let qemu = qemu_path();
    let cpu = env::var_os("OPML_QEMU_CPU").unwrap_or_else(|| QEMU_CPU.into());
    let mut child = Command::new(&qemu)
        .arg("-cpu")
        .arg(cpu)
        .arg(&path)
        // Where a core dump of a crashed guest would land.
        .current_dir(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|err| match err.kind() {
            io::ErrorKind::NotFound => QemuError::NotFound(qemu),
            _ => QemuError::Io(err),
        })?;
    let (mut input, mut output, mut errors) =
        match (child.stdin.take(), child.stdout.take(), child.stderr.take()) {
            (Some(input), Some(output), Some(errors)) => (input, output, errors),
            _ => return Err(io::Error::other("qemu's pipes were not set up").into()),
        };
    thread::scope(|scope| {
        // The guest may exit without reading its input: a broken pipe is not an error.
        scope.spawn(move || input.write_all(stdin));
        let stdout = scope.spawn(move || read_all(&mut output));
        let stderr = scope.spawn(move || read_all(&mut errors));
        let status = wait(&mut child)?;
        let join = |reader: thread::ScopedJoinHandle<'_, io::Result<Vec<u8>>>| {
            reader
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("reading qemu's output failed")))
        };
        let (stdout, stderr) = (join(stdout)?, join(stderr)?);
        let exit = match (status.code(), status.signal()) {
            // Linux exit codes are a byte; the cast keeps it.
            (Some(code), _) => QemuExit::Exited(code as u8),
            (None, Some(signal)) => QemuExit::Signaled(signal),
            (None, None) => {
                let message = format!("qemu ended without exit code or signal: {status}");
                return Err(io::Error::other(message).into());
            }
        };
        Ok(QemuRun {
            stdout,
            stderr,
            exit,
        })
    })
}

fn read_all(pipe: &mut impl Read) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    pipe.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Waits for qemu to end, killing it after [`QEMU_TIMEOUT`].
fn wait(child: &mut Child) -> Result<ExitStatus, QemuError> {
    let deadline = Instant::now() + QEMU_TIMEOUT;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        if Instant::now() >= deadline {
            child.kill()?;
            child.wait()?;
            return Err(QemuError::TimedOut);
        }
        thread::sleep(Duration::from_millis(1));
    }
}
