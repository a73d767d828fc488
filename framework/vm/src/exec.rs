//! Running a guest with typed input and reading its typed output: the host side of
//! `opml_guest::read` / `opml_guest::commit`.
//!
//! [`Executor`] builds a guest's input stream value by value, in the guest's own wire format
//! (`opml_codec` frames, re-exported as [`crate::codec`]), runs the guest to its end and
//! returns a [`Session`]: the output bytes, the debug log, the steps, the exit status, and the
//! commitments a task and a claim name (program ID, input commitment, final state hash).
//! [`Session::decode`] reads the output back as a typed value.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # if !opml_methods::GUESTS_BUILT { return Ok(()); }
//! use opml_methods::{ECHO_ELF, ECHO_ID};
//!
//! let request = echo::Request { text: "opml".into(), numbers: vec![1, 2, 39] };
//! let session = opml_vm::Executor::new(ECHO_ELF)
//!     .write_slice(&[echo::MODE_TYPED]) // raw bytes, as the guest's `read_slice` takes them
//!     .write(&request)?                 // one frame, as the guest's `read::<Request>()` takes it
//!     .run()?;                          // an error unless the guest exits with code 0
//!
//! let reply: echo::Reply = session.decode()?; // the output: one frame, as `commit` wrote it
//! assert_eq!(reply.sum, 42);
//! assert_eq!(session.program_id, ECHO_ID);
//! println!("{} steps, output {}", session.steps, session.output.len());
//! # Ok(())
//! # }
//! ```
//!
//! [`Executor::run`] fails unless the guest exits with code 0 (the error carries its status
//! and debug log); [`Executor::execute`] returns the session of any run that ends (an exit
//! code, a trap, or the step limit of [`Executor::max_steps`]).

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use opml_codec::FrameReader;
use opml_elf::Program;
use opml_state::{ExitStatus, Hash, input, output};
use serde::{Deserialize, Serialize};

use crate::{HostError, LoadError, Machine, PreimageSource};

/// A guest program and its input stream, ready to run (the opml counterpart of RISC Zero's
/// `ExecutorEnv` and executor in one).
///
/// The input stream is what the guest reads on fd 0, in order: [`write`](Self::write) appends a
/// value as one frame (what `opml_guest::read::<T>()` takes), [`write_frame`](Self::write_frame)
/// raw bytes as one frame (`opml_guest::read_frame()`), and [`write_slice`](Self::write_slice)
/// raw bytes without a frame (`opml_guest::read_slice`, `read_to_end`).
pub struct Executor<'a> {
    elf: &'a [u8],
    input: Vec<u8>,
    max_steps: u64,
    preimages: Option<Arc<dyn PreimageSource>>,
}

impl<'a> Executor<'a> {
    /// An executor of the ELF executable `elf` with an empty input and no step limit.
    pub fn new(elf: &'a [u8]) -> Self {
        Executor {
            elf,
            input: Vec::new(),
            max_steps: u64::MAX,
            preimages: None,
        }
    }

    /// Appends `value` to the input stream as one frame: the guest reads it with
    /// `opml_guest::read::<T>()`.
    pub fn write<T: Serialize + ?Sized>(mut self, value: &T) -> Result<Self, ExecError> {
        opml_codec::encode_into(value, &mut self.input).map_err(ExecError::Encode)?;
        Ok(self)
    }

    /// Appends `payload` to the input stream as one frame: the guest reads it with
    /// `opml_guest::read_frame()`.
    pub fn write_frame(mut self, payload: &[u8]) -> Result<Self, ExecError> {
        let header = opml_codec::frame_header(payload.len()).map_err(ExecError::Encode)?;
        self.input.extend_from_slice(&header);
        self.input.extend_from_slice(payload);
        Ok(self)
    }

    /// Appends raw bytes to the input stream, without a frame header: the guest reads them
    /// with `opml_guest::read_slice` or `read_to_end`.
    pub fn write_slice(mut self, bytes: &[u8]) -> Self {
        self.input.extend_from_slice(bytes);
        self
    }

    /// Stops the run after `steps` steps if the guest has not halted by then (its session's
    /// status is then [`ExitStatus::Running`]).
    pub fn max_steps(mut self, steps: u64) -> Self {
        self.max_steps = steps;
        self
    }

    /// Serves the guest's data-oracle reads (`opml_guest::preimage`) from `source`.
    pub fn preimages(mut self, source: Arc<dyn PreimageSource>) -> Self {
        self.preimages = Some(source);
        self
    }

    /// The input stream built so far: what a task posts, and what `opml run --input` takes.
    pub fn input(&self) -> &[u8] {
        &self.input
    }

    /// Runs the guest; fails unless it exits with code 0 ([`ExecError::Failed`] carries the
    /// session, its status and its debug log).
    pub fn run(self) -> Result<Session, ExecError> {
        let session = self.execute()?;
        if session.status == ExitStatus::Exited(0) {
            Ok(session)
        } else {
            Err(ExecError::Failed(Box::new(session)))
        }
    }

    /// Runs the guest until it halts or reaches the step limit, and returns its session
    /// whatever its status. Fails only when the ELF does not load or the guest reads a
    /// preimage the executor lacks.
    pub fn execute(self) -> Result<Session, ExecError> {
        let program = Program::from_elf(self.elf).map_err(LoadError::from)?;
        let program_id = Machine::from_program(&program, Vec::new())?.state_hash();
        let input_commitment = input::commitment(&self.input);
        let mut machine = Machine::from_program(&program, self.input)?;
        if let Some(source) = self.preimages {
            machine.set_preimages(source);
        }
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&log);
        machine.set_log(Some(Box::new(move |bytes: &[u8]| {
            sink.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .extend_from_slice(bytes);
        })));
        let status = machine.try_run(self.max_steps)?;
        machine.set_log(None);
        let log = std::mem::take(&mut *log.lock().unwrap_or_else(PoisonError::into_inner));
        Ok(Session {
            program_id,
            input_commitment,
            steps: machine.step_count(),
            status,
            output_digest: output::digest(machine.output()),
            output: machine.output().to_vec(),
            final_state_hash: machine.state_hash(),
            log,
        })
    }
}

/// What a guest run produced: its output and log, and the numbers a task and a claim name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    /// The program ID (the hash of the ELF's initial state with empty input).
    pub program_id: Hash,
    /// The input commitment, which a task names with the program ID.
    pub input_commitment: Hash,
    /// Steps executed (instructions and system calls).
    pub steps: u64,
    /// How the run ended: exited with a code, trapped, or still running at the step limit.
    pub status: ExitStatus,
    /// The public output (fd 1), as the claim commits it.
    pub output: Vec<u8>,
    /// The output digest the final state holds.
    pub output_digest: Hash,
    /// The hash of the final state.
    pub final_state_hash: Hash,
    /// The debug log (fd 2): not part of the claim.
    pub log: Vec<u8>,
}

impl Session {
    /// The guest's exit code, if it exited (not if it trapped or is still running).
    pub fn exit_code(&self) -> Option<u32> {
        match self.status {
            ExitStatus::Exited(code) => Some(code),
            _ => None,
        }
    }

    /// Decodes the output as exactly one frame holding a `T` (what one
    /// `opml_guest::commit(&value)` writes).
    pub fn decode<'s, T: Deserialize<'s>>(&'s self) -> Result<T, opml_codec::Error> {
        opml_codec::decode(&self.output)
    }

    /// A reader of the output's frames, for a guest that commits several values:
    /// `session.frames().value::<A>()?`, then `.value::<B>()?`, ….
    pub fn frames(&self) -> FrameReader<'_> {
        FrameReader::new(&self.output)
    }

    /// The debug log as text (invalid UTF-8 replaced).
    pub fn log_text(&self) -> String {
        String::from_utf8_lossy(&self.log).into_owned()
    }
}

/// Why a guest could not be run, or did not succeed.
#[derive(Debug)]
pub enum ExecError {
    /// The ELF does not load.
    Load(LoadError),
    /// An input value could not be encoded.
    Encode(opml_codec::Error),
    /// The guest read a preimage the executor does not have.
    Host(HostError),
    /// The guest did not exit with code 0 ([`Executor::run`]); its session says how it ended.
    Failed(Box<Session>),
}

impl fmt::Display for ExecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExecError::Load(err) => write!(f, "cannot load the guest: {err}"),
            ExecError::Encode(err) => write!(f, "cannot encode the input: {err}"),
            ExecError::Host(err) => write!(f, "{err}"),
            ExecError::Failed(session) => {
                write!(
                    f,
                    "the guest {} after {} steps",
                    session.status, session.steps
                )?;
                let log = session.log_text();
                let log = log.trim_end();
                if !log.is_empty() {
                    write!(f, "; its log:\n{log}")?;
                }
                Ok(())
            }
        }
    }
}

/// The `Display` text includes the wrapped error, so `source` is not implemented.
impl std::error::Error for ExecError {}

impl From<LoadError> for ExecError {
    fn from(err: LoadError) -> Self {
        ExecError::Load(err)
    }
}

impl From<HostError> for ExecError {
    fn from(err: HostError) -> Self {
        ExecError::Host(err)
    }
}
