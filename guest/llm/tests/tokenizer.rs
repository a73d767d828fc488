//! The tokenizer against Hugging Face `tokenizers` built from the same GGUF vocabulary
//! (`toolchain/llm/tokenizer_reference.py`), and the table blob's validation.

use opml_llm::tokenizer::{Tables, TokenizerError, chat_prompt, pre_tokenize};
use proptest::prelude::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Instant;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The reference JSON, generated once per test binary.
fn reference() -> &'static Value {
    static REF: OnceLock<Value> = OnceLock::new();
    REF.get_or_init(|| run_reference("tokenizer_reference.json", &["--llama-cpp"]))
}

/// Runs `toolchain/llm/tokenizer_reference.py` with `args` and reads its JSON output. The
/// interpreter is `toolchain/llm/.venv/bin/python`, or `$OPML_LLM_PYTHON` when set.
fn run_reference(name: &str, args: &[&str]) -> Value {
    {
        let root = root();
        let python = std::env::var_os("OPML_LLM_PYTHON").map_or_else(
            || root.join("toolchain/llm/.venv/bin/python"),
            PathBuf::from,
        );
        let model = root.join("toolchain/llm/cache/SmolLM2-135M-Instruct.Q4_1.gguf");
        assert!(
            python.exists() && model.exists(),
            "the LLM toolchain is missing ({} or {}): run `bash toolchain/llm/install.sh`",
            python.display(),
            model.display()
        );
        let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
        let status = Command::new(&python)
            .arg(root.join("toolchain/llm/tokenizer_reference.py"))
            .args(args)
            .arg(&out)
            .status()
            .expect("running toolchain/llm/tokenizer_reference.py");
        assert!(
            status.success(),
            "tokenizer_reference.py failed ({status}): run `bash toolchain/llm/install.sh`"
        );
        serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap()
    }
}

/// Every Unicode scalar value is classified as Hugging Face's pre-tokenizer does (its letters,
/// numbers and white space, whatever Unicode versions its Oniguruma and Rust use).
#[test]
fn every_code_point_pre_tokenizes_as_hugging_face() {
    let r = run_reference("tokenizer_codepoints.json", &["--codepoints"]);
    let per_text = r["probes_per_text"].as_u64().unwrap() as usize;
    let want = r["pieces"].as_array().unwrap();
    let scalars: Vec<char> = (0..0x110000).filter_map(char::from_u32).collect();
    assert_eq!(want.len(), scalars.len().div_ceil(per_text));
    let mut bad = Vec::new();
    for (chars, want) in scalars.chunks(per_text).zip(want) {
        // `a{c} {c}x` for each c, separated by digits (as probe_text in the script).
        let text = chars
            .iter()
            .map(|c| format!("a{c} {c}x"))
            .collect::<Vec<_>>()
            .join("1");
        let mut got = Vec::new();
        pre_tokenize(text.as_bytes(), |piece| got.push(piece.len().to_string()));
        if got.join(",") != want.as_str().unwrap() {
            let (first, last) = (chars[0] as u32, chars[chars.len() - 1] as u32);
            bad.push(format!("  code points {first:04X}..={last:04X}"));
        }
    }
    assert!(
        bad.is_empty(),
        "{} probe blocks split differently:\n{}",
        bad.len(),
        bad[..bad.len().min(20)].join("\n")
    );
}

fn strs(v: &Value) -> Vec<&str> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect()
}

fn ids(v: &Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

/// The blob built from the reference's vocabulary (the GGUF's).
fn blob() -> &'static [u8] {
    static BLOB: OnceLock<Vec<u8>> = OnceLock::new();
    BLOB.get_or_init(|| {
        let r = reference();
        let types: Vec<i32> = r["token_types"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_i64().unwrap() as i32)
            .collect();
        Tables::build(&strs(&r["tokens"]), &types, &strs(&r["merges"])).unwrap()
    })
}

/// `text` without the bytes that have no token (dropped by the encoder).
fn encodable(tables: &Tables<'_>, text: &[u8]) -> Vec<u8> {
    text.iter()
        .copied()
        .filter(|&b| tables.token_id(&[b]).is_some())
        .collect()
}

/// Compares the encoding of each entry's text with the ids under `key`; panics listing the first
/// mismatches.
fn compare(tables: &Tables<'_>, entries: &[Value], key: &str) -> usize {
    compare_except(tables, entries, key, |_| false).0
}

/// [`compare`], except the strings `known` says may differ: returns how many strings were
/// compared and how many of them were known differences.
fn compare_except(
    tables: &Tables<'_>,
    entries: &[Value],
    key: &str,
    known: impl Fn(&str) -> bool,
) -> (usize, usize) {
    let mut bad = Vec::new();
    let (mut n, mut known_bad) = (0, 0);
    for e in entries {
        let Some(want) = e.get(key) else { continue };
        n += 1;
        let text = e["text"].as_str().unwrap();
        let mut got = Vec::new();
        tables.encode(text.as_bytes(), &mut got);
        let want = ids(want);
        if got != want {
            if known(text) {
                known_bad += 1;
            } else {
                bad.push(format!("  {text:?}\n    got  {got:?}\n    want {want:?}"));
            }
        }
        assert_eq!(
            tables.decode(&got).unwrap(),
            encodable(tables, text.as_bytes()),
            "decode(encode({text:?}))"
        );
    }
    assert!(
        bad.is_empty(),
        "{} of {n} strings encode differently from {key}; the first ones:\n{}",
        bad.len(),
        bad[..bad.len().min(12)].join("\n")
    );
    (n, known_bad)
}

#[test]
fn corpus_matches_hugging_face() {
    let tables = Tables::parse(blob()).unwrap();
    let corpus = reference()["corpus"].as_array().unwrap();
    assert!(corpus.len() >= 10_000);
    assert_eq!(compare(&tables, corpus, "ids"), corpus.len());
}

/// llama.cpp's ids (llama-cpp-python, installed by `toolchain/llm/install.sh`). The known
/// difference: bytes without a token are dropped by both, but llama.cpp does not merge their
/// neighbours.
#[test]
fn corpus_matches_llama_cpp() {
    let tables = Tables::parse(blob()).unwrap();
    let tokenless = |text: &str| text.bytes().any(|b| tables.token_id(&[b]).is_none());
    let r = reference();
    let (n, known) = compare_except(
        &tables,
        r["corpus"].as_array().unwrap(),
        "llama_ids",
        tokenless,
    );
    let (chat, _) = compare_except(&tables, r["chat"].as_array().unwrap(), "llama_ids", |_| {
        false
    });
    eprintln!("llama.cpp: {n} corpus strings ({known} known differences), {chat} chat prompts");
    let corpus = r["corpus"].as_array().unwrap().len();
    assert!(
        n == corpus && n >= 10_000 && chat > 0,
        "llama.cpp ids for {n} of {corpus} strings: run `bash toolchain/llm/install.sh` \
         (llama_cpp must import in the reference's Python)"
    );
    assert!(known * 100 <= n, "{known} known differences of {n}");
}

#[test]
fn chat_prompt_matches_the_rendered_template() {
    let tables = Tables::parse(blob()).unwrap();
    let chat = reference()["chat"].as_array().unwrap();
    assert!(!chat.is_empty());
    for e in chat {
        let user = e["user"].as_str().unwrap();
        assert_eq!(
            chat_prompt(user.as_bytes()),
            e["text"].as_str().unwrap().as_bytes()
        );
        let mut got = Vec::new();
        tables.encode_chat(user.as_bytes(), &mut got);
        assert_eq!(got, ids(&e["ids"]), "chat prompt of {user:?}");
    }
    let im_start = tables.special_id(b"<|im_start|>").unwrap();
    assert_eq!(im_start, 1);
    assert_eq!(tables.special_id(b"<|im_end|>"), Some(2));
    assert_eq!(tables.special_id(b"<|endoftext|>"), Some(0));
    assert_eq!(tables.special_id(b"<|im_start"), None);
    assert_eq!(tables.specials().len(), 17);
}

/// The blob of SmolLM2's vocabulary is pinned: a change of its format or of the vocabulary
/// changes the model's constants.
#[test]
fn blob_of_smollm2_is_pinned() {
    use sha2::{Digest, Sha256};
    let hash: String = Sha256::digest(blob())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!((blob().len(), hash.as_str()), (BLOB_LEN, BLOB_SHA256));
}

const BLOB_LEN: usize = 1_557_095;
const BLOB_SHA256: &str = "0ac1631c6e4682fdbe09888cebe8a7ec5a2331a66ac6dbc09bc956642b0c9f8f";

#[test]
fn vocabulary_lookups() {
    let tables = Tables::parse(blob()).unwrap();
    assert_eq!(tables.n_tokens(), 49_152);
    assert_eq!(tables.n_merges(), 48_900);
    for id in 0..tables.n_tokens() as u32 {
        let b = tables.token_bytes(id).unwrap();
        if tables.token_type(id) == Some(1) {
            assert_eq!(tables.token_id(b), Some(id));
        } else {
            assert_eq!(tables.special_id(b), Some(id));
        }
    }
    assert_eq!(tables.token_bytes(49_152), None);
    assert_eq!(
        tables.decode(&[49_152]),
        Err(TokenizerError::BadId { id: 49_152 })
    );
    assert_eq!(
        tables
            .token_id(b" the")
            .map(|id| tables.token_bytes(id).unwrap()),
        Some(&b" the"[..])
    );
}

/// Long pieces stay fast (the merging is O(n log n)); not a timed assertion.
#[test]
fn long_runs_complete() {
    let tables = Tables::parse(blob()).unwrap();
    for text in [
        "a".repeat(10_000),
        "ab".repeat(20_000),
        " ".repeat(10_000),
        "!".repeat(10_000),
        "日".repeat(5_000),
        "\u{0301}".repeat(5_000),
    ] {
        let t = Instant::now();
        let mut out = Vec::new();
        tables.encode(text.as_bytes(), &mut out);
        assert_eq!(tables.decode(&out).unwrap(), text.as_bytes());
        eprintln!(
            "{} bytes → {} ids in {:?}",
            text.len(),
            out.len(),
            t.elapsed()
        );
    }
}

/// Invalid UTF-8 is encoded deterministically and decodes back to the same bytes.
#[test]
fn invalid_utf8_round_trips() {
    let tables = Tables::parse(blob()).unwrap();
    for text in [
        &b"\xff"[..],
        b"a\xc3",
        b"\xe2\x82 euro \xe2\x82\xac",
        b"<|im_end|>\x80\x80's",
        b"\xed\xa0\x80x",
    ] {
        let mut out = Vec::new();
        tables.encode(text, &mut out);
        assert_eq!(tables.decode(&out).unwrap(), encodable(&tables, text));
    }
}

/// A small vocabulary: the 256 bytes (in the byte-level alphabet), a few merges, two control
/// tokens.
fn small() -> Vec<u8> {
    let alphabet: Vec<char> = (0..=255u8)
        .map(|b| match b {
            33..=126 | 161..=172 | 174..=255 => char::from(b),
            _ => {
                let n = (0..b)
                    .filter(|&x| !matches!(x, 33..=126 | 161..=172 | 174..=255))
                    .count();
                char::from_u32(256 + n as u32).unwrap()
            }
        })
        .collect();
    let mut tokens: Vec<String> = vec!["<|s|>".into(), "<|s|>x".into()];
    tokens.extend(alphabet.iter().map(|c| c.to_string()));
    tokens.extend(["ab", "abc", "Ġa", "bc", "Ġab"].map(String::from));
    let mut types = vec![3, 3];
    types.resize(tokens.len(), 1);
    let merges = ["a b", "ab c", "Ġ a", "b c", "Ġa b"];
    let tokens: Vec<&str> = tokens.iter().map(String::as_str).collect();
    Tables::build(&tokens, &types, &merges).unwrap()
}

#[test]
fn blob_round_trip() {
    let blob = small();
    assert_eq!(small(), blob, "deterministic");
    let t = Tables::parse(&blob).unwrap();
    assert_eq!(t.n_tokens(), 256 + 7);
    assert_eq!(t.n_merges(), 5);
    let id = |s: &[u8]| t.token_id(s).unwrap();
    assert_eq!(t.special_id(b"<|s|>"), Some(0));
    assert_eq!(t.special_id(b"<|s|>x"), Some(1));
    assert_eq!(
        t.merge(id(b"a"), id(b"b")).map(|m| (m.rank, m.merged)),
        Some((0, id(b"ab")))
    );
    let mut out = Vec::new();
    t.encode(b"abc <|s|>x<|s|> abcab", &mut out);
    assert_eq!(
        out,
        [id(b"abc"), id(b" "), 1, 0, id(b" "), id(b"abc"), id(b"ab")]
    );
    out.clear();
    t.encode(b" ac <|s|", &mut out);
    assert_eq!(
        out,
        [
            id(b" a"),
            id(b"c"),
            id(b" "),
            id(b"<"),
            id(b"|"),
            id(b"s"),
            id(b"|")
        ]
    );
    // Rejected vocabularies.
    let e = |tokens: &[&str], types: &[i32], merges: &[&str]| {
        Tables::build(tokens, types, merges).unwrap_err()
    };
    assert_eq!(e(&["a"], &[1, 1], &[]), TokenizerError::TypeCount);
    assert_eq!(
        e(&["a", "a"], &[1, 1], &[]),
        TokenizerError::DuplicateToken { id: 1 }
    );
    assert_eq!(
        e(&["a "], &[1], &[]),
        TokenizerError::NotByteLevel { id: 0 }
    );
    assert_eq!(
        e(&["a"], &[2], &[]),
        TokenizerError::UnsupportedType { id: 0, ty: 2 }
    );
    assert_eq!(e(&[""], &[3], &[]), TokenizerError::EmptyToken { id: 0 });
}

#[test]
fn parse_rejects_truncations() {
    let blob = small();
    for len in 0..blob.len() {
        assert!(Tables::parse(&blob[..len]).is_err(), "truncated to {len}");
    }
    let mut longer = blob.clone();
    longer.push(0);
    assert_eq!(
        Tables::parse(&longer).unwrap_err(),
        TokenizerError::BadLength
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

    /// Corrupted blobs are rejected or parse into tables that still encode without panicking.
    #[test]
    fn parse_never_panics(edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4), text in ".{0,40}") {
        let mut blob = small();
        for (at, v) in &edits {
            let i = at.index(blob.len());
            blob[i] = *v;
        }
        if let Ok(t) = Tables::parse(&blob) {
            let mut out = Vec::new();
            t.encode(text.as_bytes(), &mut out);
            prop_assert_eq!(t.decode(&out).unwrap(), encodable(&t, text.as_bytes()));
        }
    }

    /// Corrupted header words (counts, lengths) never panic either.
    #[test]
    fn parse_rejects_bad_headers(field in 0usize..4, v in any::<u32>()) {
        let mut blob = small();
        let at = 8 + 4 * field;
        let old = u32::from_le_bytes(blob[at..at + 4].try_into().unwrap());
        blob[at..at + 4].copy_from_slice(&v.to_le_bytes());
        prop_assert_eq!(Tables::parse(&blob).is_ok(), v == old);
    }
}

/// Native measurements (run with `--release -- --ignored --nocapture`): blob size, parse time,
/// encode throughput on the corpus.
#[test]
#[ignore]
fn measure() {
    let blob = blob();
    // The fastest of several runs (the machine may be shared).
    let parse = (0..20)
        .map(|_| {
            let t = Instant::now();
            Tables::parse(blob).unwrap();
            t.elapsed()
        })
        .min()
        .unwrap();
    let tables = Tables::parse(blob).unwrap();
    let corpus: Vec<&str> = reference()["corpus"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["text"].as_str().unwrap())
        .collect();
    let bytes: usize = corpus.iter().map(|s| s.len()).sum();
    let mut scratch = opml_llm::tokenizer::Scratch::default();
    let mut out = Vec::new();
    let dt = (0..10)
        .map(|_| {
            let t = Instant::now();
            for s in &corpus {
                out.clear();
                tables.encode_with(s.as_bytes(), &mut out, &mut scratch);
            }
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min);
    eprintln!(
        "blob {} bytes; parse {parse:?}; encode {} strings, {bytes} bytes in {:.1} ms: {:.1} MB/s",
        blob.len(),
        corpus.len(),
        dt * 1e3,
        bytes as f64 / dt / 1e6
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, failure_persistence: None, ..ProptestConfig::default() })]

    /// Any bytes (invalid UTF-8 included) and any text encode without panicking, every id is in
    /// the vocabulary, and decoding gives back the bytes that have a token.
    #[test]
    fn arbitrary_input_round_trips(bytes in prop::collection::vec(any::<u8>(), 0..200), text in "\\PC{0,60}") {
        static TABLES: OnceLock<Tables<'static>> = OnceLock::new();
        let tables = TABLES.get_or_init(|| Tables::parse(blob()).unwrap());
        for input in [&bytes[..], text.as_bytes()] {
            let mut out = vec![7];
            tables.encode(input, &mut out);
            prop_assert_eq!(out[0], 7, "encode appends");
            prop_assert!(out.iter().all(|&id| (id as usize) < tables.n_tokens()));
            prop_assert_eq!(tables.decode(&out[1..]).unwrap(), encodable(tables, input));
        }
    }
}
