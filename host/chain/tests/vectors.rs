//! The step vectors the Solidity tests read: generated here from the Rust VM and verifier, the
//! source of truth.
//!
//! `OPML_WRITE_VECTORS=1 cargo test -p opml-chain --test vectors` (re)writes
//! `contracts/test/vectors/{steps,input}.json`; without it, the test fails if the committed files
//! differ from what the Rust code generates now.

mod common;

use std::path::PathBuf;

use common::vectors;

fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../contracts/test/vectors")
}

/// Writes `name` under `contracts/test/vectors` if `OPML_WRITE_VECTORS=1`; otherwise checks that
/// the committed file equals `content`.
fn write_or_check(name: &str, content: &str) {
    let path = vectors_dir().join(name);
    if std::env::var("OPML_WRITE_VECTORS").as_deref() == Ok("1") {
        std::fs::create_dir_all(vectors_dir()).expect("create the vectors directory");
        std::fs::write(&path, content).expect("write the vectors");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_else(|err| {
        panic!(
            "{}: {err}; generate it with OPML_WRITE_VECTORS=1 cargo test -p opml-chain --test vectors",
            path.display()
        )
    });
    assert!(
        committed == content,
        "{} is stale: regenerate it with OPML_WRITE_VECTORS=1 cargo test -p opml-chain --test vectors",
        path.display()
    );
}

#[test]
fn step_vectors_are_current() {
    let vectors = vectors::vectors();
    assert!(vectors.len() > 150, "{} vectors", vectors.len());
    write_or_check("steps.json", &vectors::steps_json(&vectors));
}

#[test]
fn input_vector_is_current() {
    write_or_check("input.json", &vectors::input_json());
}

/// The vectors cover every proof shape the spec names: empty (halted, misaligned pc), the fetch
/// leaf alone, fetch and data leaves, fetch leaf and input chunk, all three, and fetch and data
/// leaves with a preimage; and memory proofs with several numbers of siblings elided.
#[test]
fn vectors_cover_every_proof_shape() {
    use opml_proof::ProofItem;
    let vectors = vectors::vectors();
    let shapes: std::collections::BTreeSet<String> =
        vectors.iter().map(|v| vectors::shape(&v.witness)).collect();
    for shape in ["", "M", "MM", "MI", "MIM", "MMP"] {
        assert!(
            shapes.contains(shape),
            "no vector with proof items {shape:?}: {shapes:?}"
        );
    }
    let elided: std::collections::BTreeSet<u32> = vectors
        .iter()
        .flat_map(|v| v.witness.items.iter())
        .filter_map(|item| match item {
            ProofItem::Memory { proof, .. } => Some(proof.zero_mask().count_ones()),
            _ => None,
        })
        .collect();
    // The vectors' memories are sparse: a few leaves, most siblings elided.
    assert!(elided.len() >= 3, "siblings elided: {elided:?}");
}
