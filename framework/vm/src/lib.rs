//! The opml virtual machine.
//!
//! [`Machine`] loads a guest program and runs it in two modes that agree step for step:
//!
//! - **fast** ([`Machine::run`]): decoded instructions are cached, registers live in a local
//!   array and memory is reached through small TLBs; nothing is hashed. With the `jit`
//!   feature (on by default; x86-64 and AArch64 hosts), hot basic blocks are compiled to host
//!   code (Cranelift) and the interpreter runs the rest; [`Machine::set_jit`] tunes or turns
//!   it off.
//! - **proving** ([`Machine::prove_step`]): one step through a context that records the memory
//!   proofs, the input chunk and the preimage the step touches, as the step verifier
//!   (`opml-proof`) needs them.
//!
//! A guest's `preimage` syscalls (the data oracle) are served from a [`PreimageSource`]
//! ([`Machine::set_preimages`]); a key the source lacks stops the machine before that step with
//! a [`HostError`].
//!
//! The state hash ([`Machine::state_hash`]) is incremental: memory is a sparse copy-on-write
//! page table whose Merkle tree is rehashed only along the pages written since the previous
//! hash. Cloning a machine is a cheap snapshot, which [`Timeline`] uses to reach any step of a
//! long run quickly.
//!
//! The semantics are those of `docs/vm-spec.md`, implemented once in `opml-isa`.
//!
//! **A host app** that runs a guest with typed input and reads its typed output starts at
//! [`Executor`] (module [`exec`]): `Executor::new(ELF).write(&input)?.run()?.decode()?`, with
//! the steps, program ID, input commitment, exit status and output bytes in the [`Session`].

mod core;
pub mod exec;
mod fast;
mod io;
#[cfg(jit)]
mod jit;
mod machine;
mod memory;
mod preimage;
mod timeline;
mod witness;

/// The test assembler, shared with the integration tests.
#[cfg(test)]
#[path = "../tests/common/asm.rs"]
mod asm;

use std::fmt;

use opml_elf::ElfError;
use opml_state::Hash;

pub use exec::{ExecError, Executor, Session};
pub use io::LogSink;
pub use machine::{JitStats, Machine};
/// The guests' wire format for typed values (frames of postcard), as the guest SDK uses it.
pub use opml_codec as codec;
pub use opml_proof::StepWitness;
pub use opml_state::{ExitStatus, VmState};
pub use preimage::{HostError, Preimage, PreimageFileError, PreimageSource, Preimages};
pub use timeline::{Interrupted, Snapshots, Timeline};

/// Why a program could not be loaded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoadError {
    /// The ELF file is not an executable the VM runs.
    Elf(ElfError),
    /// A program image segment with more data than memory size, or ending past `2^32`.
    BadSegment {
        /// First address.
        vaddr: u32,
        /// Bytes of data.
        data_len: usize,
        /// Size in memory.
        mem_size: u32,
    },
    /// The input is 4 GiB or longer; the value is its length.
    InputTooLarge(usize),
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Elf(err) => write!(f, "invalid ELF executable: {err}"),
            LoadError::BadSegment {
                vaddr,
                data_len,
                mem_size,
            } => write!(
                f,
                "segment at {vaddr:#010x} with {data_len} data bytes and memory size {mem_size} \
                 does not fit in memory"
            ),
            LoadError::InputTooLarge(len) => {
                write!(f, "input of {len} bytes is too large (the limit is 4 GiB)")
            }
        }
    }
}

/// The `Display` text already includes the wrapped error, so `source` is not implemented (one or
/// the other, never both, or chained printers say it twice).
impl std::error::Error for LoadError {}

impl From<ElfError> for LoadError {
    fn from(err: ElfError) -> LoadError {
        LoadError::Elf(err)
    }
}

/// The program ID of an ELF executable: the hash of its initial state with empty input.
pub fn program_id(elf: &[u8]) -> Result<Hash, LoadError> {
    Ok(Machine::load(elf, Vec::new())?.state_hash())
}
