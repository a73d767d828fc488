//! `opml fixture`: the forge kit's fixture `contracts/test/fixtures/echo.json` is its output on
//! the `echo` guest, the one source of truth the forge tests (`Kit.t.sol`, `Replay.t.sol`) read.
//!
//! `OPML_WRITE_FIXTURES=1 cargo test -p opml-cli --test fixture` (re)writes the fixture;
//! without it, the test fails if the committed file differs from what `opml fixture` writes now
//! (a change to the echo guest, its SDK, the VM or the agents' moves).

use std::path::{Path, PathBuf};
use std::process::Command;

use opml_methods::{ECHO_ELF, ECHO_ID, GUESTS_BUILT};
use serde_json::Value;

mod common;

use common::Scratch;

/// The echo guest's input in the fixture: raw mode, reversed back.
const INPUT: &[u8] = b"opml fixture";

fn fixture_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../contracts/test/fixtures/echo.json")
}

/// Runs `opml fixture` on the echo guest with `extra` arguments; returns the fixture's text.
fn fixture(dir: &Scratch, extra: &[&str]) -> String {
    if !GUESTS_BUILT {
        panic!("the example guests were not built (OPML_SKIP_GUEST_BUILD is set)");
    }
    let elf = dir.file("echo.elf", ECHO_ELF);
    let input = dir.file("input.bin", &echo::raw_input(INPUT));
    let out = dir.0.join("fixture.json");
    let status = Command::new(env!("CARGO_BIN_EXE_opml"))
        .arg("fixture")
        .args([&elf, Path::new("-i"), &input, Path::new("--json"), &out])
        .args(extra)
        .status()
        .expect("opml runs");
    assert!(status.success(), "opml fixture failed: {status}");
    std::fs::read_to_string(&out).expect("the fixture is written")
}

fn hex(value: &Value) -> Vec<u8> {
    hex::decode(
        value
            .as_str()
            .expect("a hex string")
            .trim_start_matches("0x"),
    )
    .expect("hex")
}

#[test]
fn committed_fixture_is_current() {
    let dir = Scratch::new("fixture-current");
    let content = fixture(&dir, &["--disputes"]);
    let path = fixture_path();
    if std::env::var("OPML_WRITE_FIXTURES").as_deref() == Ok("1") {
        std::fs::write(&path, &content).expect("write the fixture");
        return;
    }
    let committed =
        std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
    assert!(
        committed == content,
        "{} is stale: regenerate it with OPML_WRITE_FIXTURES=1 cargo test -p opml-cli --test fixture",
        path.display()
    );
}

/// The fields agree with the guest and with each other: the program ID is the echo guest's,
/// the output is the input reversed, the heights pack the phases, and each recorded game was
/// won by the honest side against the claim it names.
#[test]
fn fixture_fields_are_consistent() {
    let dir = Scratch::new("fixture-fields");
    let f: Value =
        serde_json::from_str(&fixture(&dir, &["--phases", "4,6", "--disputes"])).expect("JSON");
    assert_eq!(hex(&f["program_id"]), ECHO_ID);
    assert_eq!(opml_state::sha256(&hex(&f["initial_state"])), ECHO_ID);
    let reversed: Vec<u8> = INPUT.iter().rev().copied().collect();
    assert_eq!(hex(&f["output"]), reversed);
    assert_eq!(f["phases"], serde_json::json!([4, 6]));
    assert_eq!(hex(&f["heights"])[..3], [4, 6, 0]);
    let final_state = hex(&f["final_state"]);
    assert_eq!(
        opml_state::sha256(&final_state),
        hex(&f["final_state_hash"])[..]
    );
    let steps = f["steps"].as_u64().expect("steps");
    assert!(steps > 0 && steps <= 1 << 10, "{steps} steps");

    let lying = &f["disputes"]["lying_claimant"];
    assert_eq!(lying["winner"], "challenger");
    assert_ne!(hex(&lying["claimed_output"]), reversed);
    let honest = &f["disputes"]["lying_challenger"];
    assert_eq!(honest["winner"], "claimant");
    assert_eq!(hex(&honest["claimed_state"]), final_state);
    for dispute in [lying, honest] {
        assert_eq!(dispute["start_state"], f["start_state"]);
        assert_eq!(
            opml_state::sha256(&hex(&dispute["claimed_state"]))[..],
            hex(&dispute["claimed_end"])
        );
        let moves = dispute["moves"].as_array().expect("moves");
        assert_eq!(moves.first().expect("a move")["function"], "commitRoot");
        assert_eq!(moves.last().expect("a move")["function"], "step");
    }
}

#[test]
fn a_guest_that_does_not_fit_the_phases_is_refused() {
    let dir = Scratch::new("fixture-too-long");
    let elf = dir.file("echo.elf", ECHO_ELF);
    let out = Command::new(env!("CARGO_BIN_EXE_opml"))
        .arg("fixture")
        .args([&elf, Path::new("--phases"), Path::new("2,2")])
        .args([Path::new("--json"), &dir.0.join("f.json")])
        .output()
        .expect("opml runs");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("did not halt within 16 steps"), "{stderr}");
}
