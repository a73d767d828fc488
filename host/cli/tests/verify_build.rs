//! `opml verify-build`: the example `echo` guest, rebuilt from source into a target directory of
//! its own, is the program `opml-methods` embeds; against another program's ELF it names the
//! first differing section.

use std::path::Path;
use std::process::{Command, Output};

use opml_methods::{ECHO_ELF, ECHO_ID, GUESTS_BUILT, HASHBENCH_ELF};

mod common;

use common::Scratch;

/// Runs `opml verify-build guest/examples/echo <expected>`, building into a folder kept between
/// runs (the target directory does not change the result).
fn verify_echo(expected: &str) -> Output {
    if !GUESTS_BUILT {
        panic!("the example guests were not built (OPML_SKIP_GUEST_BUILD is set)");
    }
    let echo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../guest/examples/echo");
    let target = std::env::temp_dir().join("opml-cli-verify-build-target");
    Command::new(env!("CARGO_BIN_EXE_opml"))
        .arg("verify-build")
        .arg(echo)
        .arg(expected)
        .arg("--target-dir")
        .arg(target)
        .output()
        .expect("opml runs")
}

#[test]
fn verify_build_matches_the_embedded_echo_and_names_the_first_difference_otherwise() {
    let id = format!("0x{}", hex::encode(ECHO_ID));
    let out = verify_echo(&id);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.starts_with(&format!("match: `echo` builds to program ID {id}")),
        "{stdout}"
    );

    let dir = Scratch::new("verify-build");
    let same = dir.file("echo.elf", ECHO_ELF);
    let out = verify_echo(same.to_str().unwrap());
    assert_eq!(out.status.code(), Some(0));

    let other = dir.file("hashbench.elf", HASHBENCH_ELF);
    let out = verify_echo(other.to_str().unwrap());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(253), "{stdout}");
    assert!(
        stdout.starts_with("MISMATCH: `echo` builds to program ID"),
        "{stdout}"
    );
    assert!(
        stdout.contains("first difference: section .text"),
        "{stdout}"
    );

    let out = verify_echo("0x1234");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("neither a program ID"));
}
