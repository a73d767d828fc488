//! Build-script helper that compiles opml guest crates and embeds them in a host crate.
//!
//! In a host crate's `build.rs`:
//!
//! ```no_run
//! // The whole of `main` in build.rs:
//! opml_build::Guests::new()
//!     .guest("../examples/echo")
//!     .solidity("../../contracts/src/generated/GuestPrograms.sol", "GuestPrograms")
//!     .build()
//!     .unwrap_or_else(|err| panic!("{err}"));
//! ```
//!
//! and in its `lib.rs`: `include!(concat!(env!("OUT_DIR"), "/methods.rs"));`, which defines for
//! each guest package `echo-thing` the constants `ECHO_THING_ELF: &[u8]` (the ELF) and
//! `ECHO_THING_ID: [u8; 32]` (its program ID, `opml_vm::program_id`), plus
//! `GUESTS_BUILT: bool`. The host runs a guest with typed input and decodes its typed output
//! with `opml_vm::Executor`: `Executor::new(ECHO_THING_ELF).write(&input)?.run()?.decode()?`.
//!
//! # How it builds
//!
//! - Guests are compiled with `cargo build --release --target riscv32im-unknown-none-elf`, one
//!   cargo invocation per guest workspace, run from the workspace root so that its
//!   configuration and `rust-toolchain.toml` apply. A guest needs no linker flags of its own:
//!   the SDK (`opml-guest`, which every guest must depend on, else [`BuildError::NoSdk`]) links
//!   it with the SDK's linker script.
//! - Builds are reproducible: the ELF, and so the program ID, depends on the guest's sources,
//!   its `Cargo.lock` and the toolchain, not on where they are. Every absolute path the compiler
//!   could embed (panic locations, debug line tables) is remapped: the guest's workspace root to
//!   `/workspace`, each local package outside it to `/path/<name>-<version>`, cargo's home
//!   (registry sources) to `/cargo`, the toolchain's sysroot to `/sysroot` and the target
//!   directory to `/target`. [`build_guest`] does the same outside a build script
//!   (`opml verify-build`).
//! - The target directory is `riscv-guest` inside the host build's target directory (derived
//!   from `OUT_DIR`): separate from the outer build, so the inner cargo never waits on the outer
//!   cargo's lock, and shared by every profile and tool of the outer build (build, test,
//!   clippy), so a guest is compiled once.
//! - The inner cargo gets a clean environment: the variables cargo sets for build scripts
//!   (`CARGO_*` except `CARGO_HOME`, the jobserver's `CARGO_MAKEFLAGS` and the network,
//!   registry and terminal settings; `RUSTC*`, `TARGET`, `OUT_DIR`, ...) and the outer build's
//!   flags (`RUSTFLAGS`, `CARGO_ENCODED_RUSTFLAGS`, `CARGO_TARGET_DIR`, wrappers such as
//!   clippy's `RUSTC_WORKSPACE_WRAPPER`) are removed, as they describe the host build.
//! - `cargo::rerun-if-changed` is emitted for the sources and manifest of every path
//!   dependency of each guest (the guest, the SDK, the codec, the platform crate, ...) and for the
//!   workspace lock file, so an unchanged guest costs nothing on the next build; the inner
//!   cargo's own fingerprints make a rebuild after an unrelated change quick as well.
//! - The Solidity library (optional) is rewritten only when its content changes.
//!
//! In an app's workspace, where this crate is only a build-dependency, `cargo doc -p opml-build`
//! makes cargo panic (rust-lang/cargo#11105); build this page in the opml repository instead
//! (`cargo doc --no-deps -p opml-build`).
//!
//! Setting `OPML_SKIP_GUEST_BUILD=1` skips the guest builds (for fast `clippy` or `check` runs):
//! every ELF constant is then empty, every ID zero, `GUESTS_BUILT` is `false`, and the Solidity
//! file is left alone.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

mod cargo;
mod generate;

/// The target guests are compiled for.
pub const GUEST_TARGET: &str = "riscv32im-unknown-none-elf";

/// The environment variable that, set to `1`, skips guest builds.
pub const SKIP_ENV: &str = "OPML_SKIP_GUEST_BUILD";

/// The file written to `OUT_DIR`, to be `include!`d by the host crate.
pub const GENERATED_FILE: &str = "methods.rs";

/// The guest SDK's package name: every guest depends on it for its runtime and linker script.
pub const SDK_PACKAGE: &str = "opml-guest";

/// Why the guests could not be built or embedded.
#[derive(Debug)]
#[non_exhaustive]
pub enum BuildError {
    /// A variable cargo sets for build scripts is missing: not running in a build script.
    NotInBuildScript(&'static str),
    /// A file could not be read or written.
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// A cargo command could not be started or failed.
    Cargo {
        /// The command line.
        command: String,
        /// The exit status, or why it did not run.
        error: String,
    },
    /// `cargo metadata` gave something this crate does not understand.
    Metadata(String),
    /// The guest package has no binary target (or more than one).
    NoBinary {
        /// The package.
        package: String,
    },
    /// The guest package does not depend on the SDK, which supplies its entry point and linker
    /// script.
    NoSdk {
        /// The package.
        package: String,
    },
    /// The built ELF does not load in the VM.
    ProgramId {
        /// The ELF.
        elf: PathBuf,
        /// Why it does not load.
        source: opml_vm::LoadError,
    },
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::NotInBuildScript(var) => {
                write!(f, "{var} is not set: opml-build runs inside a build script")
            }
            BuildError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            BuildError::Cargo { command, error } => write!(f, "`{command}` failed: {error}"),
            BuildError::Metadata(message) => write!(f, "unexpected cargo metadata: {message}"),
            BuildError::NoBinary { package } => {
                write!(
                    f,
                    "guest package `{package}` must have exactly one binary target"
                )
            }
            BuildError::NoSdk { package } => write!(
                f,
                "guest package `{package}` does not depend on {SDK_PACKAGE}, which supplies a \
                 guest's entry point and its linker script (without it the link fails with \
                 `undefined symbol: __opml_stack_top`); add to its Cargo.toml:\n\n\
                 [dependencies]\n{SDK_PACKAGE} = {{ path = \"<opml checkout>/guest/sdk\" }}"
            ),
            BuildError::ProgramId { elf, source } => {
                write!(f, "{} does not load in the VM: {source}", elf.display())
            }
        }
    }
}

/// The `Display` text already includes the wrapped errors, so `source` is not implemented.
impl std::error::Error for BuildError {}

/// One embedded guest, as [`Guests::build`] reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuiltGuest {
    /// The package name.
    pub package: String,
    /// The constant prefix: the package name in upper case, `-` replaced by `_`.
    pub const_name: String,
    /// The ELF file (`None` when guest builds are skipped).
    pub elf: Option<PathBuf>,
    /// The program ID (zero when guest builds are skipped).
    pub program_id: [u8; 32],
}

/// Where and under what name to write the Solidity library of program IDs.
#[derive(Clone, Debug)]
struct SolidityOutput {
    path: PathBuf,
    library: String,
}

/// The guests to build, and where their constants go. See the [crate documentation](crate).
#[derive(Clone, Debug, Default)]
pub struct Guests {
    dirs: Vec<PathBuf>,
    solidity: Option<SolidityOutput>,
}

impl Guests {
    /// No guests yet.
    pub fn new() -> Guests {
        Guests::default()
    }

    /// Adds the guest package in `dir` (relative paths are relative to the calling package).
    pub fn guest(mut self, dir: impl Into<PathBuf>) -> Guests {
        self.dirs.push(dir.into());
        self
    }

    /// Also writes a Solidity `library` with a `bytes32 internal constant <NAME>_ID` per guest
    /// to `path` (relative to the calling package), when its content changes.
    pub fn solidity(mut self, path: impl Into<PathBuf>, library: &str) -> Guests {
        self.solidity = Some(SolidityOutput {
            path: path.into(),
            library: library.to_owned(),
        });
        self
    }

    /// Builds the guests (unless skipped), writes `OUT_DIR/methods.rs` and the Solidity library,
    /// and prints the `cargo::` directives; returns what it embedded.
    pub fn build(self) -> Result<Vec<BuiltGuest>, BuildError> {
        println!("cargo::rerun-if-env-changed={SKIP_ENV}");
        let out_dir = PathBuf::from(
            std::env::var_os("OUT_DIR").ok_or(BuildError::NotInBuildScript("OUT_DIR"))?,
        );
        let skip = std::env::var(SKIP_ENV).is_ok_and(|value| value == "1");

        let mut metadata: Vec<cargo::Metadata> = Vec::new();
        let mut packages = Vec::new();
        for dir in &self.dirs {
            let manifest = canonical(&dir.join("Cargo.toml"))?;
            let known = metadata.iter().position(|m| m.has_package(&manifest));
            let index = match known {
                Some(index) => index,
                None => {
                    metadata.push(cargo::Metadata::load(&manifest)?);
                    metadata.len() - 1
                }
            };
            packages.push(metadata[index].guest(&manifest)?);
        }

        let built = if skip {
            packages
                .iter()
                .map(|package| BuiltGuest {
                    package: package.name.clone(),
                    const_name: const_name(&package.name),
                    elf: None,
                    program_id: [0; 32],
                })
                .collect()
        } else {
            for package in &packages {
                for path in &package.watch {
                    println!("cargo::rerun-if-changed={}", path.display());
                }
            }
            build_packages(&packages, &guest_target_dir(&out_dir))?
        };

        write(
            &out_dir.join(GENERATED_FILE),
            &generate::rust(&built, !skip),
        )?;
        if let Some(solidity) = self.solidity.as_ref().filter(|_| !skip) {
            write_if_changed(
                &solidity.path,
                &generate::solidity(&built, &solidity.library),
            )?;
        }
        Ok(built)
    }
}

/// Builds the guest package in `dir` as a build script's [`Guests`] would, but into
/// `target_dir`, outside any build script; returns its ELF file and program ID.
pub fn build_guest(dir: &Path, target_dir: &Path) -> Result<BuiltGuest, BuildError> {
    let manifest = canonical(&dir.join("Cargo.toml"))?;
    let package = cargo::Metadata::load(&manifest)?.guest(&manifest)?;
    let mut built = build_packages(std::slice::from_ref(&package), target_dir)?;
    built
        .pop()
        .ok_or_else(|| BuildError::Metadata("no guest was built".into()))
}

/// Compiles `packages` into `target_dir` (one cargo invocation per workspace) and loads their
/// ELFs.
fn build_packages(
    packages: &[cargo::GuestPackage],
    target_dir: &Path,
) -> Result<Vec<BuiltGuest>, BuildError> {
    // The inner cargo runs elsewhere: a relative path would name another folder there.
    let target_dir = &std::path::absolute(target_dir).map_err(|source| BuildError::Io {
        path: target_dir.to_owned(),
        source,
    })?;
    let mut by_workspace: BTreeMap<&Path, Vec<&cargo::GuestPackage>> = BTreeMap::new();
    for package in packages {
        by_workspace
            .entry(&package.workspace_root)
            .or_default()
            .push(package);
    }
    for (root, members) in by_workspace {
        let names: Vec<&str> = members.iter().map(|p| p.name.as_str()).collect();
        let remaps = path_remaps(root, &members, target_dir)?;
        cargo::build(root, &names, target_dir, &remaps)?;
    }
    packages
        .iter()
        .map(|package| {
            let elf = target_dir
                .join(GUEST_TARGET)
                .join("release")
                .join(&package.bin_name);
            let bytes = std::fs::read(&elf).map_err(|source| BuildError::Io {
                path: elf.clone(),
                source,
            })?;
            let program_id =
                opml_vm::program_id(&bytes).map_err(|source| BuildError::ProgramId {
                    elf: elf.clone(),
                    source,
                })?;
            Ok(BuiltGuest {
                package: package.name.clone(),
                const_name: const_name(&package.name),
                elf: Some(elf),
                program_id,
            })
        })
        .collect()
}

/// The `--remap-path-prefix` pairs that keep the machine's paths out of the guests of the
/// workspace at `root` built into the absolute `target_dir` (see the
/// [crate documentation](crate)), shortest prefix first, so that a nested folder's own name wins
/// (rustc applies the last match).
fn path_remaps(
    root: &Path,
    packages: &[&cargo::GuestPackage],
    target_dir: &Path,
) -> Result<Vec<(PathBuf, String)>, BuildError> {
    let mut remaps = vec![
        (root.to_owned(), "/workspace".to_owned()),
        (cargo::sysroot(root)?, "/sysroot".to_owned()),
        (target_dir.to_owned(), "/target".to_owned()),
    ];
    remaps.extend(cargo::cargo_home().map(|home| (home, "/cargo".to_owned())));
    for package in packages {
        for (dir, name) in &package.outside_packages {
            remaps.push((dir.clone(), format!("/path/{name}")));
        }
    }
    remaps.sort_by(|a, b| {
        let len = |remap: &(PathBuf, String)| remap.0.as_os_str().len();
        len(a).cmp(&len(b)).then_with(|| a.cmp(b))
    });
    remaps.dedup();
    Ok(remaps)
}

/// The constant prefix for a package name.
fn const_name(package: &str) -> String {
    package.to_uppercase().replace('-', "_")
}

/// `<target dir of the outer build>/riscv-guest`, from `OUT_DIR` =
/// `<target dir>/<profile>/build/<package>-<hash>/out`; or `OUT_DIR/riscv-guest` if the layout
/// is not that.
fn guest_target_dir(out_dir: &Path) -> PathBuf {
    let mut ancestors = out_dir.ancestors();
    let build = ancestors.nth(2);
    match (build, ancestors.nth(1)) {
        (Some(build), Some(target)) if build.file_name() == Some("build".as_ref()) => {
            target.join("riscv-guest")
        }
        _ => out_dir.join("riscv-guest"),
    }
}

fn canonical(path: &Path) -> Result<PathBuf, BuildError> {
    path.canonicalize().map_err(|source| BuildError::Io {
        path: path.to_owned(),
        source,
    })
}

fn write(path: &Path, content: &str) -> Result<(), BuildError> {
    std::fs::write(path, content).map_err(|source| BuildError::Io {
        path: path.to_owned(),
        source,
    })
}

/// Writes `content` to `path` (creating its folder) unless the file already holds it.
fn write_if_changed(path: &Path, content: &str) -> Result<(), BuildError> {
    if std::fs::read_to_string(path).is_ok_and(|old| old == content) {
        return Ok(());
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|source| BuildError::Io {
            path: parent.to_owned(),
            source,
        })?;
    }
    write(path, content)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn const_names_are_upper_snake_case() {
        assert_eq!(const_name("echo"), "ECHO");
        assert_eq!(const_name("codec-bench"), "CODEC_BENCH");
    }

    #[test]
    fn guest_target_dir_sits_beside_the_profiles() {
        let out = Path::new("/w/target/debug/build/opml-methods-0123/out");
        assert_eq!(guest_target_dir(out), Path::new("/w/target/riscv-guest"));
        let cross = Path::new("/w/target/x86_64-unknown-linux-gnu/release/build/m-1/out");
        assert_eq!(
            guest_target_dir(cross),
            Path::new("/w/target/x86_64-unknown-linux-gnu/riscv-guest")
        );
        let odd = Path::new("/somewhere/out");
        assert_eq!(
            guest_target_dir(odd),
            Path::new("/somewhere/out/riscv-guest")
        );
    }

    #[test]
    fn write_if_changed_keeps_an_identical_file() {
        let dir = std::env::temp_dir().join(format!("opml-build-test-{}", std::process::id()));
        let path = dir.join("sub/file.sol");
        write_if_changed(&path, "a").unwrap();
        let first = std::fs::metadata(&path).unwrap().modified().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        write_if_changed(&path, "a").unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().modified().unwrap(), first);
        write_if_changed(&path, "b").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "b");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
