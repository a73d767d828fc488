//! `opml new`, out of tree: the generated app builds and passes its tests, its guest runs under
//! `opml run` and `opml check --evm`, its disputes are recorded by `opml fixture` and replayed
//! by its forge tests on the real contracts, its consumer passes its tests on the kit's mock
//! registry, and `opml verify-build` rebuilds its guest to the same program ID: every command of
//! the app's README, in order.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;

use common::Scratch;

/// This repository's root.
fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// Runs `program` with `args` in `dir`; asserts that it succeeded.
fn run(dir: &Path, program: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .envs(env.iter().copied())
        // The app is its own workspace, with its own target directory (kept between runs).
        .env(
            "CARGO_TARGET_DIR",
            std::env::temp_dir().join("opml-cli-new-target"),
        )
        .output()
        .unwrap_or_else(|e| panic!("{} runs: {e}", program.display()));
    assert!(
        out.status.success(),
        "{} {args:?} failed:\n{}\n{}",
        program.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn a_new_app_builds_tests_and_replays_its_disputes() {
    let scratch = Scratch::new("new");
    let opml = Path::new(env!("CARGO_BIN_EXE_opml"));
    let cargo = PathBuf::from(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    let repo = repo();
    run(
        &scratch.0,
        opml,
        &["new", "median-app", "--opml", repo.to_str().unwrap()],
        &[],
    );
    let app = scratch.0.join("median-app");
    for file in [
        "guest/src/main.rs",
        "host/build.rs",
        "contracts/src/Consumer.sol",
    ] {
        assert!(app.join(file).is_file(), "{file}");
    }
    // A second app at the same place is refused.
    let again = Command::new(opml)
        .args(["new", "median-app"])
        .current_dir(&scratch.0)
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2));

    let tests = run(&app, &cargo, &["test"], &[]);
    let text = String::from_utf8_lossy(&tests.stdout);
    assert!(
        text.contains("the_vm_computes_what_the_library_does ... ok"),
        "{text}"
    );
    assert!(app.join("contracts/src/generated/Programs.sol").is_file());

    run(
        &app,
        &cargo,
        &[
            "run",
            "-p",
            "median-app-host",
            "--example",
            "export",
            "--",
            "out",
        ],
        &[],
    );
    // The median of 5, -2, 9 as one ABI word.
    let output = run(
        &app,
        opml,
        &["run", "out/guest.elf", "-i", "out/input.bin"],
        &[],
    );
    let mut word = [0u8; 32];
    word[31] = 5;
    assert_eq!(output.stdout, word);
    let check = run(
        &app,
        opml,
        &["check", "out/guest.elf", "-i", "out/input.bin", "--evm"],
        &[],
    );
    assert!(String::from_utf8_lossy(&check.stdout).contains("\"mismatches\":0"));
    let demo = run(
        &app,
        opml,
        &["demo", "--elf", "out/guest.elf", "--input", "out/input.bin"],
        &[],
    );
    assert!(
        String::from_utf8_lossy(&demo.stdout)
            .contains("The honest side won and every wei is accounted for.")
    );
    run(
        &app,
        opml,
        &[
            "fixture",
            "out/guest.elf",
            "-i",
            "out/input.bin",
            "--disputes",
            "--json",
            "contracts/fixtures/median.json",
        ],
        &[],
    );

    let forge = app.join("contracts/forge.sh");
    let mock = run(&app, &forge, &["test"], &[]);
    assert!(String::from_utf8_lossy(&mock.stdout).contains("4 tests passed, 0 failed"));
    let replay = run(&app, &forge, &["test"], &[("FOUNDRY_PROFILE", "replay")]);
    assert!(String::from_utf8_lossy(&replay.stdout).contains("2 tests passed, 0 failed"));

    let id = run(&app, opml, &["program-id", "out/guest.elf"], &[]);
    let id = String::from_utf8(id.stdout).unwrap();
    let verified = run(&app, opml, &["verify-build", "guest", id.trim()], &[]);
    assert!(String::from_utf8_lossy(&verified.stdout).starts_with("match"));
}

#[test]
fn a_bad_name_or_checkout_is_refused() {
    let scratch = Scratch::new("new-refusals");
    let opml = env!("CARGO_BIN_EXE_opml");
    scratch.file("taken", b"a file, not a folder");
    for args in [
        vec!["new", "taken"],
        vec!["new", "Median"],
        vec!["new", "9lives"],
        vec!["new", "app", "--opml", "/nonexistent"],
        vec!["new", "app", "--opml", "/tmp"],
    ] {
        let out = Command::new(opml)
            .args(&args)
            .current_dir(&scratch.0)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(!scratch.0.join("app").exists(), "{args:?}");
    }
}
