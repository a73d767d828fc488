//! Loading a guest and its input from the command line.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use std::sync::Arc;

use opml_vm::{Machine, Preimages};

use crate::symbols::Symbols;

/// The arguments every command that runs a guest takes.
#[derive(Args)]
pub(crate) struct GuestArgs {
    /// The guest program: a static RV32IM ELF executable.
    pub(crate) elf: PathBuf,
    /// The guest's input stream (raw bytes); `-` reads standard input. Default: empty.
    #[arg(short, long, value_name = "FILE")]
    pub(crate) input: Option<PathBuf>,
    /// Preimages for the guest's data oracle: a file of 64-byte records, each one preimage
    /// (keys are their SHA-256, derived here). Default: none.
    #[arg(long, value_name = "FILE")]
    pub(crate) preimages: Option<PathBuf>,
}

/// A guest loaded into a machine, with what the CLI needs to describe it.
pub(crate) struct LoadedGuest {
    /// The machine, at step 0.
    pub(crate) machine: Machine,
    /// Function symbols of the ELF, for reports.
    pub(crate) symbols: Symbols,
    /// The ELF bytes.
    pub(crate) elf: Vec<u8>,
}

impl GuestArgs {
    /// Reads the ELF, the input and the preimages and loads them into a machine.
    pub(crate) fn load(&self) -> Result<LoadedGuest> {
        let elf = read_file(&self.elf)?;
        let input = read_input(self.input.as_deref())?;
        let mut machine = Machine::load(&elf, input)
            .with_context(|| format!("cannot load {}", self.elf.display()))?;
        if let Some(path) = &self.preimages {
            machine.set_preimages(read_preimages(path)?);
        }
        let symbols = Symbols::parse(&elf);
        Ok(LoadedGuest {
            machine,
            symbols,
            elf,
        })
    }
}

/// Reads a guest's input: the file at `path`, standard input for `-`, nothing for `None`.
pub(crate) fn read_input(path: Option<&Path>) -> Result<Vec<u8>> {
    match path {
        None => Ok(Vec::new()),
        Some(path) if path.as_os_str() == "-" => {
            let mut buf = Vec::new();
            std::io::stdin()
                .read_to_end(&mut buf)
                .context("reading input from stdin")?;
            Ok(buf)
        }
        Some(path) => read_file(path),
    }
}

/// Reads a file of preimages for the data oracle (64-byte records).
pub(crate) fn read_preimages(path: &Path) -> Result<Arc<Preimages>> {
    let preimages = Preimages::from_records(&read_file(path)?)
        .with_context(|| format!("cannot read preimages from {}", path.display()))?;
    Ok(Arc::new(preimages))
}

/// Reads a whole file, naming it in the error.
pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}
