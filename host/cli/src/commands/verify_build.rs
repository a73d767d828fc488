//! `opml verify-build`: rebuild a guest from source and check that it is the program a task
//! names.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;
use object::{Object, ObjectSection};

use crate::exit_codes;
use crate::guest_input::read_file;
use crate::json;

/// Arguments of `opml verify-build`.
#[derive(Args)]
#[command(after_help = "\
Examples:
  opml verify-build guest/examples/echo 0x<program id>   the ID a task names
  opml verify-build ../my-app/guest published.elf         the ELF a server published

The ELF depends only on the guest's sources, its Cargo.lock and the pinned toolchain
(rust-toolchain.toml): every path of this machine is remapped, as opml-build does in build.rs.")]
pub(crate) struct VerifyBuildArgs {
    /// The guest package's folder (the one with its Cargo.toml).
    source: PathBuf,
    /// What it must build to: a program ID (64 hex digits, `0x` optional), or the ELF itself,
    /// which also lets a mismatch name the first differing section.
    expected: String,
    /// Where to build. Default: a folder of the source folder's own under
    /// `opml-verify-build` in the system's temporary folder (the path does not change the
    /// result; sharing one between checkouts could let cargo take one's artifacts for the
    /// other's).
    #[arg(long, value_name = "DIR")]
    target_dir: Option<PathBuf>,
}

/// What the build is compared with.
enum Expected {
    Id([u8; 32]),
    Elf { path: PathBuf, bytes: Vec<u8> },
}

/// Builds the guest reproducibly (as `opml-build` does in a build script) and compares it with
/// the expected program ID or ELF; exits with [`exit_codes::BUILD_MISMATCH`] if they differ.
pub(crate) fn verify_build(args: VerifyBuildArgs) -> Result<u8> {
    let expected = parse_expected(&args.expected)?;
    let target_dir = match args.target_dir {
        Some(dir) => dir,
        None => default_target_dir(&args.source)?,
    };
    let built = opml_build::build_guest(&args.source, &target_dir)
        .with_context(|| format!("cannot build the guest in {}", args.source.display()))?;
    let elf_path = built.elf.context("opml-build built no ELF")?;
    let id = json::hex(&built.program_id);
    let expected_id = match &expected {
        Expected::Id(id) => *id,
        Expected::Elf { path, bytes } => {
            opml_vm::program_id(bytes).with_context(|| format!("cannot load {}", path.display()))?
        }
    };
    let matches = built.program_id == expected_id;
    if matches {
        println!(
            "match: `{}` builds to program ID {id} ({})",
            built.package,
            elf_path.display()
        );
    } else {
        println!(
            "MISMATCH: `{}` builds to program ID {id}, not {} ({})",
            built.package,
            json::hex(&expected_id),
            elf_path.display()
        );
    }
    if let Expected::Elf { bytes, .. } = &expected {
        let ours = read_file(&elf_path)?;
        if ours != *bytes {
            let difference = first_difference(bytes, &ours)?;
            if matches {
                // Symbols or debug information: not part of the program image the ID covers.
                println!("(the ELF files differ outside the program image: {difference})");
            } else {
                println!("{difference}");
            }
        }
    }
    Ok(if matches {
        0
    } else {
        exit_codes::BUILD_MISMATCH
    })
}

/// `opml-verify-build/<hash of the source folder's canonical path>` in the temporary folder.
/// Cargo's artifact names do not depend on a checkout's path, and it judges them fresh by file
/// times, so two checkouts sharing a target directory could reuse each other's artifacts.
fn default_target_dir(source: &Path) -> Result<PathBuf> {
    use std::hash::{Hash, Hasher};
    let source = source
        .canonicalize()
        .with_context(|| format!("cannot read {}", source.display()))?;
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    source.hash(&mut hasher);
    Ok(std::env::temp_dir()
        .join("opml-verify-build")
        .join(format!("{:016x}", hasher.finish())))
}

/// A program ID in hex, else the path of an ELF file.
fn parse_expected(text: &str) -> Result<Expected> {
    let digits = text.strip_prefix("0x").unwrap_or(text);
    if digits.len() == 64 && digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        let mut id = [0u8; 32];
        hex::decode_to_slice(digits, &mut id)?;
        return Ok(Expected::Id(id));
    }
    let path = Path::new(text);
    if !path.is_file() {
        bail!("`{text}` is neither a program ID (64 hex digits) nor an ELF file");
    }
    Ok(Expected::Elf {
        path: path.to_owned(),
        bytes: read_file(path)?,
    })
}

/// The first section, in the expected ELF's order, whose address, size or bytes differ in the
/// built one, described in one line.
fn first_difference(expected: &[u8], built: &[u8]) -> Result<String> {
    let expected = object::File::parse(expected).context("the expected ELF does not parse")?;
    let built = object::File::parse(built).context("the built ELF does not parse")?;
    for section in expected.sections() {
        let name = section.name().unwrap_or("?");
        let Some(other) = built.section_by_name(name) else {
            return Ok(format!(
                "first difference: section {name} is missing from the build"
            ));
        };
        if (section.address(), section.size()) != (other.address(), other.size()) {
            return Ok(format!(
                "first difference: section {name} is at {:#x}, {} bytes in the build, not {:#x}, {} bytes",
                other.address(),
                other.size(),
                section.address(),
                section.size()
            ));
        }
        let (ours, theirs) = (other.data()?, section.data()?);
        if let Some(at) = ours.iter().zip(theirs).position(|(a, b)| a != b) {
            return Ok(format!(
                "first difference: section {name} (address {:#x}), at byte {at:#x} of the section",
                section.address()
            ));
        }
    }
    if let Some(extra) = built
        .sections()
        .find(|s| expected.section_by_name(s.name().unwrap_or("?")).is_none())
    {
        return Ok(format!(
            "first difference: section {} is only in the build",
            extra.name().unwrap_or("?")
        ));
    }
    Ok("every section is the same: the ELF or program headers differ".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_is_an_id_or_an_elf_file() {
        let id = format!("0x{}", "ab".repeat(32));
        assert!(matches!(parse_expected(&id), Ok(Expected::Id(bytes)) if bytes == [0xab; 32]));
        assert!(
            matches!(parse_expected(&"01".repeat(32)), Ok(Expected::Id(bytes)) if bytes == [1; 32])
        );
        let error = parse_expected("0x1234")
            .err()
            .expect("too short, and not a file");
        assert!(
            error.to_string().contains("neither a program ID"),
            "{error}"
        );
    }
}
