//! Guests built outside this workspace: they link with no flags of their own, their ELFs carry
//! no path of the machine that built them, and a guest without the SDK gets an error that says
//! what to add.
//!
//! Each test builds its guests into its own target directory under the system's temporary
//! folder, kept between runs so that a rerun only relinks.

use std::path::{Path, PathBuf};
use std::{env, fs};

use opml_build::{BuildError, build_guest};
use opml_vm::{ExitStatus, Machine};

/// This repository's root.
fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A fresh folder `name` under the system's temporary folder.
fn scratch(name: &str) -> PathBuf {
    let dir = env::temp_dir().join(format!("opml-build-tests-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// The target directory of test `name`, kept between runs.
fn target_dir(name: &str) -> PathBuf {
    env::temp_dir().join(format!("opml-build-tests-target/{name}"))
}

/// Copies the folder `from` to `to`, leaving out `target` folders.
fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let path = entry.path();
        if entry.file_type().unwrap().is_dir() {
            if entry.file_name() != "target" {
                copy_dir(&path, &to.join(entry.file_name()));
            }
        } else {
            fs::copy(&path, to.join(entry.file_name())).unwrap();
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

/// A guest crate in a folder of its own, depending on the SDK of this checkout by path, as an
/// app developer's guest does: it builds with no linker flags, runs, and its ELF names neither
/// its own folder nor the SDK's.
#[test]
fn a_guest_outside_the_workspace_links_and_runs() {
    let dir = scratch("sum");
    let sdk = repo().join("guest/sdk").canonicalize().unwrap();
    fs::write(
        dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"sum\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n\
             [dependencies]\nopml-guest = {{ path = {:?} }}\n\n[workspace]\n",
            sdk.display().to_string()
        ),
    )
    .unwrap();
    // The toolchain it is pinned to, and the versions of this checkout's lock file.
    for file in ["rust-toolchain.toml", "Cargo.lock"] {
        fs::copy(repo().join(file), dir.join(file)).unwrap();
    }
    fs::create_dir(dir.join("src")).unwrap();
    fs::write(
        dir.join("src/main.rs"),
        "#![cfg_attr(target_os = \"none\", no_std, no_main)]\n\
         extern crate alloc;\n\
         opml_guest::entry!(main);\n\
         fn main() {\n\
             let numbers: alloc::vec::Vec<u32> = opml_guest::read();\n\
             opml_guest::commit(&numbers.iter().sum::<u32>());\n\
         }\n",
    )
    .unwrap();

    let built = build_guest(&dir, &target_dir("sum")).unwrap_or_else(|err| panic!("{err}"));
    let elf = fs::read(built.elf.as_ref().unwrap()).unwrap();
    assert_eq!(built.package, "sum");
    assert_eq!(built.program_id, opml_vm::program_id(&elf).unwrap());
    for path in [&dir, &sdk, &repo().canonicalize().unwrap()] {
        let path = path.display().to_string();
        assert!(!contains(&elf, path.as_bytes()), "the ELF names {path}");
    }

    let input = opml_codec::encode(&vec![1u32, 20, 300]).unwrap();
    let mut machine = Machine::load(&elf, input).unwrap();
    assert_eq!(machine.run(u64::MAX), ExitStatus::Exited(0));
    assert_eq!(opml_codec::decode::<u32>(machine.output()).unwrap(), 321);
    fs::remove_dir_all(dir).unwrap();
}

/// The `echo` example with the crates it needs, copied to two checkouts at different paths,
/// builds to the same bytes and program ID in both. The second checkout also keeps the
/// `.cargo/config.toml` that guests used to need (`-C link-arg=-Topml-guest.ld`): the SDK then
/// leaves the script to it, and nothing changes.
#[test]
fn the_same_source_at_two_paths_builds_the_same_elf() {
    const CRATES: [&str; 4] = [
        "framework/platform",
        "framework/codec",
        "guest/sdk",
        "guest/examples/echo",
    ];
    let root = scratch("checkouts");
    let checkouts = [root.join("a"), root.join("somewhere/much/deeper/b")];
    let manifest = fs::read_to_string(repo().join("Cargo.toml")).unwrap();
    let start = manifest
        .find("members = [")
        .expect("the workspace lists its members");
    let end = start + manifest[start..].find(']').unwrap() + 1;
    let members = format!("members = {CRATES:?}");
    let manifest = format!("{}{members}{}", &manifest[..start], &manifest[end..]);
    for checkout in &checkouts {
        for krate in CRATES {
            copy_dir(&repo().join(krate), &checkout.join(krate));
        }
        for file in ["Cargo.lock", "rust-toolchain.toml"] {
            fs::copy(repo().join(file), checkout.join(file)).unwrap();
        }
        fs::write(checkout.join("Cargo.toml"), &manifest).unwrap();
    }
    fs::create_dir(checkouts[1].join(".cargo")).unwrap();
    fs::write(
        checkouts[1].join(".cargo/config.toml"),
        "[target.riscv32im-unknown-none-elf]\nrustflags = [\"-C\", \"link-arg=-Topml-guest.ld\"]\n",
    )
    .unwrap();

    // A target directory each: cargo names artifacts independently of the checkout's path and
    // judges them fresh by file times, so a shared one could hand `a`'s artifacts to `b`.
    let [a, b] = [(&checkouts[0], "echo-a"), (&checkouts[1], "echo-b")].map(|(checkout, name)| {
        let built = build_guest(&checkout.join("guest/examples/echo"), &target_dir(name))
            .unwrap_or_else(|err| panic!("{err}"));
        let elf = fs::read(built.elf.as_ref().unwrap()).unwrap();
        let path = checkout.display().to_string();
        assert!(!contains(&elf, path.as_bytes()), "the ELF names {path}");
        (built.program_id, elf)
    });
    assert_eq!(a.0, b.0, "program IDs");
    assert!(a.1 == b.1, "the ELFs differ");
    fs::remove_dir_all(root).unwrap();
}

/// A guest that does not depend on the SDK would fail to link (`undefined symbol:
/// __opml_stack_top` when it uses the SDK's runtime some other way, or no entry point at all):
/// the builder says what to add before running the compiler.
#[test]
fn a_guest_without_the_sdk_is_told_what_to_add() {
    let dir = scratch("bare");
    fs::write(
        dir.join("Cargo.toml"),
        "[package]\nname = \"bare\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n[workspace]\n",
    )
    .unwrap();
    fs::create_dir(dir.join("src")).unwrap();
    fs::write(dir.join("src/main.rs"), "fn main() {}\n").unwrap();

    let error = build_guest(&dir, &target_dir("bare")).expect_err("no SDK");
    assert!(
        matches!(&error, BuildError::NoSdk { package } if package == "bare"),
        "{error}"
    );
    let message = error.to_string();
    assert!(
        message.contains("[dependencies]\nopml-guest = { path = "),
        "{message}"
    );
    fs::remove_dir_all(dir).unwrap();
}
