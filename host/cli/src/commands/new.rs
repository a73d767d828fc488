//! `opml new`: a new app from the template in `host/cli/template` — a guest, a host crate that
//! embeds and tests it, and a forge project with a consumer contract, its tests on the kit's
//! mock registry, and replays of recorded disputes on the real contracts.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail, ensure};
use clap::Args;

/// Arguments of `opml new`.
#[derive(Args)]
pub(crate) struct NewArgs {
    /// The app's name: lower-case letters, digits and `-`, starting with a letter (its crates
    /// are `NAME-guest` and `NAME-host`).
    name: String,
    /// Where to create it (a new or empty folder). Default: `./NAME`.
    #[arg(long, value_name = "DIR")]
    path: Option<PathBuf>,
    /// The opml checkout the app depends on (its SDK, VM, build helper, forge kit, pinned
    /// toolchain and solc). Default: the checkout this `opml` was built from.
    #[arg(long, value_name = "DIR")]
    opml: Option<PathBuf>,
}

/// The template's files: (path in the app, contents); `{{…}}` placeholders filled in.
const TEMPLATE: &[(&str, &str)] = &[
    ("Cargo.toml", include_str!("../../template/Cargo.toml.tmpl")),
    ("README.md", include_str!("../../template/README.md.tmpl")),
    (".gitignore", include_str!("../../template/gitignore.tmpl")),
    (
        "guest/Cargo.toml",
        include_str!("../../template/guest/Cargo.toml.tmpl"),
    ),
    (
        "guest/src/lib.rs",
        include_str!("../../template/guest/src/lib.rs"),
    ),
    (
        "guest/src/main.rs",
        include_str!("../../template/guest/src/main.rs"),
    ),
    (
        "host/Cargo.toml",
        include_str!("../../template/host/Cargo.toml.tmpl"),
    ),
    (
        "host/build.rs",
        include_str!("../../template/host/build.rs"),
    ),
    (
        "host/src/lib.rs",
        include_str!("../../template/host/src/lib.rs"),
    ),
    (
        "host/tests/vm.rs",
        include_str!("../../template/host/tests/vm.rs"),
    ),
    (
        "host/examples/export.rs",
        include_str!("../../template/host/examples/export.rs"),
    ),
    (
        "contracts/foundry.toml",
        include_str!("../../template/contracts/foundry.toml.tmpl"),
    ),
    (
        "contracts/forge.sh",
        include_str!("../../template/contracts/forge.sh.tmpl"),
    ),
    (
        "contracts/src/Consumer.sol",
        include_str!("../../template/contracts/src/Consumer.sol.tmpl"),
    ),
    (
        "contracts/test/Consumer.t.sol",
        include_str!("../../template/contracts/test/Consumer.t.sol.tmpl"),
    ),
    (
        "contracts/replay/Dispute.t.sol",
        include_str!("../../template/contracts/replay/Dispute.t.sol"),
    ),
    (
        "contracts/fixtures/README.md",
        include_str!("../../template/contracts/fixtures/README.md"),
    ),
];

/// Files copied from the opml checkout: the pinned toolchain, and the dependency versions the
/// guest's program ID was checked with.
const FROM_CHECKOUT: &[&str] = &["rust-toolchain.toml", "Cargo.lock"];

/// Creates the app.
pub(crate) fn new(args: NewArgs) -> Result<u8> {
    check_name(&args.name)?;
    let opml = match &args.opml {
        Some(dir) => dir.clone(),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."),
    };
    let opml = opml
        .canonicalize()
        .with_context(|| format!("the opml checkout {} is not there", opml.display()))?;
    ensure!(
        opml.join("guest/sdk/Cargo.toml").is_file(),
        "{} is not an opml checkout (no guest/sdk): pass --opml DIR",
        opml.display()
    );
    let opml_text = opml
        .to_str()
        .filter(|p| !p.contains(['"', '\\', '\n']))
        .with_context(|| {
            format!(
                "the opml checkout's path {} cannot be written into Cargo.toml",
                opml.display()
            )
        })?;
    let dir = args
        .path
        .clone()
        .unwrap_or_else(|| PathBuf::from(&args.name));
    if dir.exists() && !(dir.is_dir() && fs::read_dir(&dir)?.next().is_none()) {
        bail!("{} exists and is not an empty folder", dir.display());
    }
    let fill = |text: &str| {
        text.replace("{{name}}", &args.name)
            .replace("{{crate}}", &args.name.replace('-', "_"))
            .replace("{{const}}", &args.name.replace('-', "_").to_uppercase())
            .replace("{{opml}}", opml_text)
    };
    for (path, text) in TEMPLATE {
        write(&dir.join(path), &fill(text))?;
    }
    for file in FROM_CHECKOUT {
        fs::copy(opml.join(file), dir.join(file))
            .with_context(|| format!("copying {file} from {}", opml.display()))?;
    }
    make_executable(&dir.join("contracts/forge.sh"))?;
    println!("created {} (opml at {})", dir.display(), opml.display());
    println!("next, in {}: see its README.md", dir.display());
    println!(
        "  cargo test                                             the guest natively and in the VM"
    );
    println!(
        "  cargo run -p {}-host --example export -- out           its ELF and an input, for the CLI",
        args.name
    );
    println!(
        "  contracts/forge.sh test                                the consumer on the mock registry"
    );
    Ok(0)
}

/// Refuses a name that is not a valid crate name prefix.
fn check_name(name: &str) -> Result<()> {
    let valid = name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-');
    ensure!(
        valid,
        "`{name}` is not an app name: use lower-case letters, digits and `-`, starting with a letter"
    );
    Ok(())
}

fn write(path: &Path, text: &str) -> Result<()> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

#[cfg(unix)]
fn make_executable(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(0o755))
        .with_context(|| format!("making {} executable", path.display()))
}

#[cfg(not(unix))]
fn make_executable(_: &Path) -> Result<()> {
    Ok(())
}
