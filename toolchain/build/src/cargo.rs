//! Running the inner cargo: `cargo metadata` to find a guest's package and what it depends on,
//! `cargo build` to compile it, both in a clean environment.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use crate::{BuildError, GUEST_TARGET, SDK_PACKAGE};

/// What `build` needs to know about one guest package.
#[derive(Debug)]
pub(crate) struct GuestPackage {
    /// Package name.
    pub(crate) name: String,
    /// Name of its binary target (the ELF's file name).
    pub(crate) bin_name: String,
    /// Root of its workspace, where cargo runs.
    pub(crate) workspace_root: PathBuf,
    /// Files and folders whose change must rerun the build script.
    pub(crate) watch: BTreeSet<PathBuf>,
    /// The folder of every local package it depends on outside its workspace root, and the
    /// name it gets in the ELF: `<name>-<version>`.
    pub(crate) outside_packages: BTreeMap<PathBuf, String>,
}

/// The output of `cargo metadata` for one workspace.
pub(crate) struct Metadata {
    json: Value,
}

impl Metadata {
    /// Runs `cargo metadata` for the workspace of `manifest`, resolved for the guest target.
    pub(crate) fn load(manifest: &Path) -> Result<Metadata, BuildError> {
        let mut command = cargo();
        command
            .args(["metadata", "--format-version", "1", "--filter-platform"])
            .arg(GUEST_TARGET)
            .arg("--manifest-path")
            .arg(manifest);
        if let Some(dir) = manifest.parent() {
            command.current_dir(dir);
        }
        let output = run(&mut command)?;
        let json = serde_json::from_slice(&output.stdout)
            .map_err(|err| BuildError::Metadata(err.to_string()))?;
        Ok(Metadata { json })
    }

    fn packages(&self) -> impl Iterator<Item = &Value> {
        self.json["packages"].as_array().into_iter().flatten()
    }

    fn package_by_manifest(&self, manifest: &Path) -> Option<&Value> {
        self.packages()
            .find(|package| package["manifest_path"].as_str().map(Path::new) == Some(manifest))
    }

    /// Whether the package of `manifest` is in this workspace.
    pub(crate) fn has_package(&self, manifest: &Path) -> bool {
        self.package_by_manifest(manifest).is_some()
    }

    /// The guest package of `manifest`, with the files of every local package it depends on.
    pub(crate) fn guest(&self, manifest: &Path) -> Result<GuestPackage, BuildError> {
        let missing = |what: &str| BuildError::Metadata(format!("{what} ({})", manifest.display()));
        let package = self
            .package_by_manifest(manifest)
            .ok_or_else(|| missing("package not found"))?;
        let name = str_field(package, "name").ok_or_else(|| missing("package without name"))?;
        let bins: Vec<&str> = targets(package)
            .filter(|target| has_kind(target, "bin"))
            .filter_map(|target| str_field(target, "name"))
            .collect();
        let [bin_name] = bins[..] else {
            return Err(BuildError::NoBinary {
                package: name.to_owned(),
            });
        };
        let workspace_root = self.json["workspace_root"]
            .as_str()
            .map(PathBuf::from)
            .ok_or_else(|| missing("no workspace root"))?;
        let id = str_field(package, "id").ok_or_else(|| missing("package without id"))?;

        let closure: Vec<&Value> = self
            .dependency_closure(id)
            .into_iter()
            .filter_map(|id| self.packages().find(|p| str_field(p, "id") == Some(id)))
            .collect();
        if !closure
            .iter()
            .any(|p| str_field(p, "name") == Some(SDK_PACKAGE))
        {
            return Err(BuildError::NoSdk {
                package: name.to_owned(),
            });
        }

        let mut watch = BTreeSet::new();
        let lock = workspace_root.join("Cargo.lock");
        if lock.exists() {
            watch.insert(lock);
        }
        let mut outside_packages = BTreeMap::new();
        for local in closure.into_iter().filter(|p| p["source"].is_null()) {
            watch_package(local, &mut watch);
            let dir = local["manifest_path"]
                .as_str()
                .map(Path::new)
                .and_then(Path::parent);
            if let (Some(dir), Some(name), Some(version)) =
                (dir, str_field(local, "name"), str_field(local, "version"))
                && !dir.starts_with(&workspace_root)
            {
                outside_packages.insert(dir.to_owned(), format!("{name}-{version}"));
            }
        }
        Ok(GuestPackage {
            name: name.to_owned(),
            bin_name: bin_name.to_owned(),
            workspace_root,
            watch,
            outside_packages,
        })
    }

    /// The ids of `root` and every package it depends on (normal and build dependencies).
    fn dependency_closure<'a>(&'a self, root: &'a str) -> BTreeSet<&'a str> {
        let nodes: HashMap<&str, &Value> = self.json["resolve"]["nodes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|node| Some((str_field(node, "id")?, node)))
            .collect();
        let mut seen = BTreeSet::from([root]);
        let mut queue = vec![root];
        while let Some(id) = queue.pop() {
            let deps = nodes
                .get(id)
                .and_then(|node| node["deps"].as_array())
                .into_iter()
                .flatten();
            for dep in deps {
                let not_dev_only = dep["dep_kinds"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|kind| kind["kind"].as_str() != Some("dev"));
                if let Some(pkg) = str_field(dep, "pkg")
                    && not_dev_only
                    && seen.insert(pkg)
                {
                    queue.push(pkg);
                }
            }
        }
        seen
    }
}

fn str_field<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value[key].as_str()
}

fn targets(package: &Value) -> impl Iterator<Item = &Value> {
    package["targets"].as_array().into_iter().flatten()
}

fn has_kind(target: &Value, kind: &str) -> bool {
    target["kind"]
        .as_array()
        .is_some_and(|kinds| kinds.iter().any(|k| k.as_str() == Some(kind)))
}

/// Adds a local package's manifest and the source folder of each of its targets (or the file
/// itself, for a target at the package root such as `build.rs`), never the package folder as a
/// whole, which may hold a target directory.
fn watch_package(package: &Value, watch: &mut BTreeSet<PathBuf>) {
    let Some(manifest) = package["manifest_path"].as_str().map(Path::new) else {
        return;
    };
    watch.insert(manifest.to_owned());
    let root = manifest.parent();
    for target in targets(package) {
        if let Some(src) = target["src_path"].as_str().map(Path::new) {
            match src.parent() {
                Some(dir) if Some(dir) != root => watch.insert(dir.to_owned()),
                _ => watch.insert(src.to_owned()),
            };
        }
    }
}

/// Compiles packages `names` of the workspace at `root` for the guest target into `target_dir`,
/// with `--remap-path-prefix` for each `(from, to)` of `remaps` (the last match wins in rustc).
pub(crate) fn build(
    root: &Path,
    names: &[&str],
    target_dir: &Path,
    remaps: &[(PathBuf, String)],
) -> Result<(), BuildError> {
    let mut command = cargo();
    command
        .current_dir(root)
        .args([
            "build",
            "--release",
            "--target",
            GUEST_TARGET,
            "--target-dir",
        ])
        .arg(target_dir)
        .arg("--manifest-path")
        .arg(root.join("Cargo.toml"));
    // `--config` arrays are appended to those of the project's own configuration.
    let flags: Vec<String> = remaps
        .iter()
        .map(|(from, to)| toml_string(&format!("--remap-path-prefix={}={to}", from.display())))
        .collect();
    command.arg("--config").arg(format!(
        "target.{GUEST_TARGET}.rustflags=[{}]",
        flags.join(", ")
    ));
    for name in names {
        command.args(["-p", name]);
    }
    // The inner cargo's messages go to the build script's stderr, which cargo shows when the
    // build fails; the build script's stdout is for `cargo::` directives only.
    let status = command
        .stdout(std::io::stderr())
        .status()
        .map_err(|err| BuildError::Cargo {
            command: describe(&command),
            error: err.to_string(),
        })?;
    if status.success() {
        Ok(())
    } else {
        Err(BuildError::Cargo {
            command: describe(&command),
            error: status.to_string(),
        })
    }
}

/// `text` as a TOML basic string (a JSON string is one).
fn toml_string(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}

/// Where cargo keeps its registry and git checkouts: `$CARGO_HOME`, else `$HOME/.cargo`.
pub(crate) fn cargo_home() -> Option<PathBuf> {
    std::env::var_os("CARGO_HOME")
        .map(Into::into)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cargo")))
}

/// The sysroot of the toolchain that builds the guests of the workspace at `root`: that of the
/// `rustc` the inner cargo runs there.
pub(crate) fn sysroot(root: &Path) -> Result<PathBuf, BuildError> {
    let mut command = without_outer_build(Command::new("rustc"));
    command.current_dir(root).args(["--print", "sysroot"]);
    let output = run(&mut command)?;
    let text = String::from_utf8_lossy(&output.stdout);
    Ok(PathBuf::from(text.trim()))
}

/// A `cargo` command without the variables that describe the outer build.
fn cargo() -> Command {
    without_outer_build(Command::new(
        std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()),
    ))
}

/// `command` with the variables that describe the outer build removed from its environment.
fn without_outer_build(mut command: Command) -> Command {
    for (key, _) in std::env::vars_os() {
        if leaks_from_outer_build(&key) {
            command.env_remove(key);
        }
    }
    command
}

/// Whether an environment variable of the build script would leak the outer build's settings
/// into the guest build.
fn leaks_from_outer_build(key: &OsStr) -> bool {
    /// `CARGO_*` variables that are user settings valid for any build.
    const KEEP: [&str; 2] = ["CARGO_HOME", "CARGO_MAKEFLAGS"];
    const KEEP_PREFIXES: [&str; 5] = [
        "CARGO_NET_",
        "CARGO_HTTP_",
        "CARGO_REGISTRIES_",
        "CARGO_REGISTRY_",
        "CARGO_TERM_",
    ];
    /// Other variables cargo sets for build scripts or reads as build flags.
    const REMOVE: [&str; 16] = [
        "RUSTFLAGS",
        "RUSTDOCFLAGS",
        "RUSTC",
        "RUSTDOC",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "RUSTC_LINKER",
        "TARGET",
        "HOST",
        "OUT_DIR",
        "NUM_JOBS",
        "OPT_LEVEL",
        "DEBUG",
        "PROFILE",
        "CLIPPY_ARGS",
        "CLIPPY_CONF_DIR",
    ];
    let Some(key) = key.to_str() else {
        return false;
    };
    if key.starts_with("CARGO_") {
        !KEEP.contains(&key) && !KEEP_PREFIXES.iter().any(|prefix| key.starts_with(prefix))
    } else {
        REMOVE.contains(&key)
    }
}

/// Runs `command`, returning its output if it succeeded.
fn run(command: &mut Command) -> Result<Output, BuildError> {
    let output = command.output().map_err(|err| BuildError::Cargo {
        command: describe(command),
        error: err.to_string(),
    })?;
    if output.status.success() {
        Ok(output)
    } else {
        Err(BuildError::Cargo {
            command: describe(command),
            error: format!(
                "{}\n{}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            ),
        })
    }
}

fn describe(command: &Command) -> String {
    let mut text = command.get_program().to_string_lossy().into_owned();
    for arg in command.get_args() {
        text.push(' ');
        text.push_str(&arg.to_string_lossy());
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outer_build_variables_are_removed() {
        for key in [
            "CARGO_ENCODED_RUSTFLAGS",
            "CARGO_TARGET_DIR",
            "CARGO_MANIFEST_DIR",
            "CARGO_CFG_TARGET_ARCH",
            "CARGO_FEATURE_STD",
            "CARGO_PKG_NAME",
            "RUSTFLAGS",
            "RUSTC_WORKSPACE_WRAPPER",
            "OUT_DIR",
            "TARGET",
        ] {
            assert!(leaks_from_outer_build(OsStr::new(key)), "{key}");
        }
        for key in [
            "CARGO_HOME",
            "CARGO_MAKEFLAGS",
            "CARGO_NET_OFFLINE",
            "CARGO_TERM_COLOR",
            "PATH",
            "HOME",
            "RUSTUP_TOOLCHAIN",
        ] {
            assert!(!leaks_from_outer_build(OsStr::new(key)), "{key}");
        }
    }
}
