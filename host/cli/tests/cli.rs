//! The `opml` binary, end to end, on the example guests.

use std::path::Path;
use std::process::{Command, Output};

use opml_methods::{DATA_WALK_ELF, ECHO_ELF, ECHO_ID, GUESTS_BUILT, HASHBENCH_ELF, SYSCALLS_ELF};
use serde_json::Value;

mod common;

use common::Scratch;

/// Asserts that `out` succeeded and its narration (stdout) contains every one of `lines`.
fn says(out: &Output, lines: &[&str]) {
    assert_eq!(out.status.code(), Some(0), "{}", stderr(out));
    let narration = String::from_utf8_lossy(&out.stdout);
    for line in lines {
        assert!(
            narration.contains(line),
            "missing {line:?} in:\n{narration}"
        );
    }
}

fn opml(args: &[&Path]) -> Output {
    if !GUESTS_BUILT {
        panic!("the example guests were not built (OPML_SKIP_GUEST_BUILD is set)");
    }
    Command::new(env!("CARGO_BIN_EXE_opml"))
        .args(args)
        .output()
        .expect("opml runs")
}

fn p(s: &str) -> &Path {
    Path::new(s)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).expect("valid JSON")
}

fn hex_bytes(value: &Value) -> Vec<u8> {
    hex::decode(value.as_str().unwrap().trim_start_matches("0x")).unwrap()
}

#[test]
fn run_streams_output_and_writes_a_consistent_report() {
    let dir = Scratch::new("run");
    let elf = dir.file("echo.elf", ECHO_ELF);
    let data = b"opml runs guests".to_vec();
    let input = dir.file("input.bin", &echo::raw_input(&data));
    let report = dir.0.join("report.json");
    let out = opml(&[p("run"), &elf, p("--input"), &input, p("--report"), &report]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let reversed: Vec<u8> = data.iter().rev().copied().collect();
    assert_eq!(out.stdout, reversed);

    let report = json(&std::fs::read(&report).unwrap());
    assert_eq!(report["status"]["kind"], "exited");
    assert_eq!(report["status"]["code"], 0);
    assert_eq!(hex_bytes(&report["program_id"]), ECHO_ID);
    let input_bytes = echo::raw_input(&data);
    assert_eq!(
        hex_bytes(&report["input_commitment"]),
        opml_state::input::commitment(&input_bytes)
    );
    assert_eq!(
        hex_bytes(&report["output_digest"]),
        opml_state::output::digest(&reversed)
    );
    let steps = report["steps"].as_u64().unwrap();
    assert!(steps > 100);

    // The final state hash is the state after `steps` steps, however it is reached.
    let state = opml(&[
        p("state"),
        &elf,
        p("--input"),
        &input,
        p("--step"),
        p(&steps.to_string()),
        p("--hash-only"),
    ]);
    assert_eq!(
        String::from_utf8(state.stdout).unwrap().trim(),
        report["final_state_hash"]
    );
}

#[test]
fn exit_codes_pass_through_and_traps_and_limits_are_distinct() {
    let dir = Scratch::new("codes");
    let syscalls_elf = dir.file("syscalls.elf", SYSCALLS_ELF);
    let normal = dir.file("normal.bin", &syscalls::normal_input(42, b"data"));
    let out = opml(&[p("run"), &syscalls_elf, p("--input"), &normal]);
    assert_eq!(out.status.code(), Some(42), "{}", stderr(&out));

    let ebreak = dir.file("ebreak.bin", &[syscalls::mode::EBREAK]);
    let out = opml(&[p("run"), &syscalls_elf, p("--input"), &ebreak]);
    assert_eq!(out.status.code(), Some(250));
    let message = stderr(&out);
    assert!(message.contains("breakpoint"), "{message}");
    // The trap is located by function name (`(name+0xoffset)`), not only by address.
    let location = message
        .split_once(" at 0x")
        .map(|(_, rest)| rest)
        .unwrap_or_default();
    assert!(
        location.contains(" (") && location.contains("+0x"),
        "{message}"
    );

    let panic = dir.file("panic.bin", &[syscalls::mode::PANIC]);
    let out = opml(&[p("run"), &syscalls_elf, p("--input"), &panic]);
    assert_eq!(out.status.code(), Some(101));
    assert!(stderr(&out).contains("panicked"), "{}", stderr(&out));

    let hashbench_elf = dir.file("hashbench.elf", HASHBENCH_ELF);
    let out = opml(&[p("run"), &hashbench_elf, p("--max-steps"), p("1000")]);
    assert_eq!(out.status.code(), Some(251));
    assert!(stderr(&out).contains("step limit"), "{}", stderr(&out));
}

#[test]
fn bad_files_get_a_clear_error_and_no_backtrace() {
    let dir = Scratch::new("bad");
    let text = dir.file("not-an-elf", b"#!/bin/sh\necho hi\n");
    for args in [
        vec![p("run"), &text],
        vec![p("run"), p("/nonexistent/guest.elf")],
        vec![p("program-id"), &text],
        vec![p("witness"), &text, p("--step"), p("0")],
    ] {
        let out = opml(&args);
        assert_eq!(out.status.code(), Some(2));
        let message = stderr(&out);
        assert!(message.starts_with("error: "), "{message}");
        assert!(
            !message.contains("panicked") && !message.contains("backtrace"),
            "{message}"
        );
    }
    let out = opml(&[p("run")]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "clap reports a missing argument"
    );
}

#[test]
fn witness_json_verifies_to_the_next_state() {
    let dir = Scratch::new("witness");
    let elf = dir.file("echo.elf", ECHO_ELF);
    let request = echo::Request {
        text: "witness".into(),
        numbers: vec![1, 2, 3],
    };
    let input = dir.file("input.bin", &echo::typed_input(&request).unwrap());
    for step in [0u64, 1, 50, 777] {
        let step_arg = step.to_string();
        let out = opml(&[
            p("witness"),
            &elf,
            p("--input"),
            &input,
            p("--step"),
            p(&step_arg),
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let witness = json(&out.stdout);
        let post = opml_proof::verify_step(
            &hex_bytes(&witness["state_data"]),
            &hex_bytes(&witness["proof"]),
        )
        .expect("the dumped witness verifies");
        assert_eq!(post, hex_bytes(&witness["post_state_hash"])[..]);
        let next = (step + 1).to_string();
        let state = opml(&[
            p("state"),
            &elf,
            p("--input"),
            &input,
            p("--step"),
            p(&next),
            p("--hash-only"),
        ]);
        assert_eq!(
            String::from_utf8(state.stdout).unwrap().trim(),
            witness["post_state_hash"]
        );
    }
}

#[test]
fn check_evm_verifies_every_step_on_the_embedded_evm_too() {
    let dir = Scratch::new("check-evm");
    let elf = dir.file("echo.elf", ECHO_ELF);
    let input = dir.file("input.bin", &echo::raw_input(b"every step on the EVM"));
    let out = opml(&[p("check"), &elf, p("--input"), &input, p("--evm")]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let summary = json(&out.stdout);
    assert_eq!(summary["mismatches"], 0);
    let steps = summary["checked_steps"].as_u64().unwrap();
    let evm = &summary["evm"];
    assert_eq!(evm["verified_steps"].as_u64(), Some(steps));
    assert!(evm["steps_per_second"].as_f64().unwrap() > 0.0);
    assert!(evm["contract_size"].as_u64().unwrap() > 0);
    let gas = &evm["gas"];
    for kind in ["execution", "tx_cancun", "tx_prague"] {
        let (mean, max) = (
            gas[kind]["mean"].as_u64().unwrap(),
            gas[kind]["max"].as_u64().unwrap(),
        );
        assert!(0 < mean && mean <= max, "{kind}: {gas}");
    }
    assert!(gas["tx_cancun"]["mean"].as_u64() > gas["execution"]["mean"].as_u64());

    // Without --evm, no EVM statistics.
    let out = opml(&[
        p("check"),
        &elf,
        p("--input"),
        &input,
        p("--max-steps"),
        p("50"),
    ]);
    assert!(json(&out.stdout).get("evm").is_none());
}

/// `opml check --evm` on a guest that reads through the data oracle: given its preimages, every
/// step (the `preimage` ones included) verifies in Rust and on the EVM within the gas target;
/// without them, or with a malformed file, the command fails and says why.
#[test]
fn check_evm_handles_the_data_oracle_given_preimages() {
    let dir = Scratch::new("check-oracle");
    let elf = dir.file("data-walk.elf", DATA_WALK_ELF);
    let leaves: Vec<[u8; 64]> = (0..4u8).map(|i| [i ^ 0x5a; 64]).collect();
    let mut preimages = opml_vm::Preimages::new();
    let root = preimages.insert_tree(&leaves);
    let request = data_walk::Request { root, depth: 2 };
    let input = dir.file("input.bin", &opml_codec::encode(&request).unwrap());
    let records = dir.file("preimages.bin", &preimages.records());
    let out = opml(&[
        p("check"),
        &elf,
        p("--input"),
        &input,
        p("--preimages"),
        &records,
        p("--evm"),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let summary = json(&out.stdout);
    assert_eq!(summary["mismatches"], 0);
    assert_eq!(summary["status"]["kind"], "exited", "{summary}");
    assert_eq!(summary["status"]["code"], 0, "{summary}");
    let steps = summary["checked_steps"].as_u64().unwrap();
    assert_eq!(summary["evm"]["verified_steps"].as_u64(), Some(steps));
    let max = summary["evm"]["gas"]["tx_cancun"]["max"].as_u64().unwrap();
    assert!(max <= 85_000, "{max}");

    let out = opml(&[p("check"), &elf, p("--input"), &input]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("--preimages") && err.contains(&hex::encode(root)),
        "{err}"
    );

    let bad = dir.file("bad.bin", &[0; 65]);
    let out = opml(&[p("check"), &elf, p("--preimages"), &bad]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("65 bytes"), "{}", stderr(&out));
}

#[test]
fn check_verifies_every_step_and_program_id_and_disasm_work() {
    let dir = Scratch::new("check");
    let elf = dir.file("echo.elf", ECHO_ELF);
    let input = dir.file("input.bin", &echo::raw_input(b"check every step"));
    let out = opml(&[p("check"), &elf, p("--input"), &input]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let summary = json(&out.stdout);
    assert_eq!(summary["mismatches"], 0);
    assert_eq!(summary["status"]["kind"], "exited");
    assert!(summary["checked_steps"].as_u64().unwrap() > 100);

    let out = opml(&[p("program-id"), &elf]);
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        format!("0x{}", hex::encode(ECHO_ID))
    );

    let out = opml(&[p("disasm"), &elf]);
    let listing = String::from_utf8(out.stdout).unwrap();
    assert!(
        listing.contains("ecall") && listing.contains("<_start>:"),
        "{listing}"
    );
}

#[test]
fn tour_runs_to_the_end_on_a_short_workload() {
    let out = opml(&[p("tour"), p("--iterations"), p("300")]);
    says(
        &out,
        &[
            "== 1.",
            "== 2.",
            "== 3.",
            "== 4.",
            "== 5.",
            "All checks passed.",
        ],
    );
}

#[test]
fn demo_disputes_a_wrong_result_and_writes_its_report() {
    let dir = Scratch::new("demo");
    let report_path = dir.0.join("report.json");
    let out = opml(&[
        p("demo"),
        p("--iterations"),
        p("300"),
        p("--json"),
        &report_path,
    ]);
    says(
        &out,
        &[
            "server committed a WRONG output",
            "opens dispute game #0",
            "Phase 1/3: bisection",
            "Phase 3/3: bisection",
            "on chain: RiscvStep re-executes it",
            "game over: challenger wins",
            "requester credited 0.2500 ETH compensation, 0.2500 ETH burned; the challenger collected 1.5000 ETH",
            "an honest server committed the true result in round 1",
            "task rejected",
            "The honest side won and every wei is accounted for.",
        ],
    );
    let report = json(&std::fs::read(&report_path).unwrap());
    assert_eq!(report["honest_won"], true);
    assert_eq!(report["game"]["winner"], "challenger");
    // Only the burned quarter of the lying server's bond stays in the registry.
    assert_eq!(report["ledger"]["burned"], "250000000000000000");
    assert_eq!(
        report["ledger"]["registry_balance_after"],
        report["ledger"]["burned"]
    );
    assert_eq!(report["heights"].as_array().unwrap().len(), 3);
    let moves = report["game"]["moves"].as_array().unwrap();
    assert_eq!(moves.last().unwrap()["name"], "step");
}

#[test]
fn demo_with_a_silent_lying_challenger_ends_by_timeout() {
    let out = opml(&[
        p("demo"),
        p("--workload"),
        p("echo"),
        p("--liar"),
        p("challenger"),
        p("--strategy"),
        p("silent"),
    ]);
    says(&out, &["challenger is silent", "task finalized"]);
}

#[test]
fn mnist_demo_disputes_a_wrong_digit_on_the_embedded_evm() {
    let out = opml(&[
        p("demo"),
        p("--workload"),
        p("mnist"),
        p("--model"),
        p("mlp-int8"),
    ]);
    says(
        &out,
        &[
            "MNIST mlp-int8 on held-out MNIST digit #0 (a 4)",
            "the model says 4; a lying server will claim",
            "server committed a WRONG output",
            "game over: challenger wins",
            "task rejected",
            "The honest side won and every wei is accounted for.",
        ],
    );
}

#[test]
fn mnist_demo_disputes_one_node_in_two_phases_by_default_and_the_whole_model_with_one_phase() {
    let out = opml(&[
        p("demo"),
        p("--workload"),
        p("mnist"),
        p("--model"),
        p("cnn"),
    ]);
    says(
        &out,
        &[
            "MNIST cnn on held-out MNIST digit #0 (a 4), two phases",
            "coarse steps (load, 7 nodes, finish)",
            "the graph phase over 9 coarse steps",
            "The disputed coarse step",
            "): output 1×",
            "challenger descends into the step program's run of coarse step",
            "game over: challenger wins",
            "The honest side won and every wei is accounted for.",
        ],
    );
    let out = opml(&[
        p("demo"),
        p("--workload"),
        p("mnist"),
        p("--model"),
        p("cnn-int8"),
        p("--one-phase"),
    ]);
    says(
        &out,
        &[
            "MNIST cnn-int8 on held-out MNIST digit #0 (a 4), one phase",
            "game over: challenger wins",
        ],
    );
    let narration = String::from_utf8_lossy(&out.stdout);
    assert!(
        !narration.contains("The disputed coarse step"),
        "{narration}"
    );
}

#[test]
fn a_graph_request_with_phases_too_low_for_a_node_step_is_refused_before_posting() {
    let dir = Scratch::new("graph-request");
    let model = dir.file("cnn-int8.opml", mnist::Model::CnnInt8.file());
    let input = dir.file("digit.bin", &mnist::graph_input(mnist::digit(0).unwrap().1));
    let registry = Path::new("0x0000000000000000000000000000000000000001");
    let request = |phases: &str| {
        Command::new(env!("CARGO_BIN_EXE_opml"))
            .args([
                p("request"),
                p("--rpc-url"),
                p("http://127.0.0.1:9"),
                p("--registry"),
            ])
            .args([
                registry,
                p("--model"),
                &model,
                p("--input"),
                &input,
                p("--phases"),
            ])
            .arg(phases)
            .env("OPML_KEY", "01".repeat(32))
            .output()
            .expect("opml runs")
    };
    let out = request("4,8,8");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("the lower phases hold 2^16 instructions, but coarse step"),
        "{}",
        stderr(&out)
    );
    let out = request("2,11,11");
    assert!(
        stderr(&out).contains("2^h ≥ 11 coarse steps"),
        "{}",
        stderr(&out)
    );
    // Phases that hold the task get past the checks to the (absent) node.
    let out = request("4,11,11");
    assert!(!stderr(&out).contains("--phases"), "{}", stderr(&out));
}

#[test]
fn mnist_demo_reads_a_users_pgm_and_refuses_a_bad_image() {
    let dir = Scratch::new("mnist");
    // Held-out digit #1, written as a user's PGM file.
    let (label, pixels) = mnist::digit(1).unwrap();
    let mut pgm = b"P5\n28 28\n255\n".to_vec();
    pgm.extend_from_slice(pixels);
    let image = dir.file("digit.pgm", &pgm);
    let out = opml(&[
        p("demo"),
        p("--workload"),
        p("mnist"),
        p("--model"),
        p("cnn-int8"),
        p("--image"),
        &image,
    ]);
    says(
        &out,
        &[
            &format!("the model says {label}"),
            "game over: challenger wins",
        ],
    );

    // An oversized header is refused before its pixels are looked for.
    let bad = dir.file("wide.pgm", b"P5\n5000 28\n255\n");
    let out = opml(&[p("demo"), p("--workload"), p("mnist"), p("--image"), &bad]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("5000×28"), "{}", stderr(&out));
    // A blank page is refused.
    let mut blank = b"P5\n40 30\n255\n".to_vec();
    blank.extend([230u8; 40 * 30]);
    let blank = dir.file("blank.pgm", &blank);
    let out = opml(&[p("demo"), p("--workload"), p("mnist"), p("--image"), &blank]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("blank"), "{}", stderr(&out));
}

#[test]
fn mnist_demo_prepares_a_dark_digit_drawn_high_in_a_large_light_frame() {
    let dir = Scratch::new("mnist-prepare");
    // Held-out digit #2, drawn twice as large, dark on light paper, at the top left of a
    // 90×120 page: as is, it looks nothing like an MNIST digit.
    let (label, digit) = mnist::digit(2).unwrap();
    let (width, height) = (90, 120);
    let mut page = vec![235u8; width * height];
    for y in 0..56 {
        for x in 0..56 {
            page[y * width + x] = 235 - (u16::from(digit[(y / 2) * 28 + x / 2]) * 225 / 255) as u8;
        }
    }
    let mut pgm = format!("P5\n{width} {height}\n255\n").into_bytes();
    pgm.extend_from_slice(&page);
    let image = dir.file("page.pgm", &pgm);
    let out = opml(&[
        p("demo"),
        p("--workload"),
        p("mnist"),
        p("--model"),
        p("cnn-int8"),
        p("--image"),
        &image,
    ]);
    says(
        &out,
        &[
            "the image is a dark digit on a light background; inverted it",
            "prepared as MNIST digits were",
            "moved to (14, 14)",
            &format!("the model says {label}"),
            "game over: challenger wins",
        ],
    );
}

#[test]
fn model_info_validates_committed_models_shows_their_roots_and_refuses_corrupt_ones() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../toolchain/model/models");
    let out = opml(&[
        p("model"),
        p("info"),
        &root.join("cnn-int8.opml"),
        p("--json"),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let info = json(&out.stdout);
    assert_eq!(
        info["inputs"][0]["shape"],
        serde_json::json!([1, 1, 28, 28])
    );
    assert_eq!(info["outputs"].as_array().unwrap().len(), 2);
    assert!(info["nodes"].as_array().unwrap().len() >= 5);
    assert!(info.get("tensor_commitments").is_none());

    // The model root and, with --commitments, every tensor's and node's commitment: the
    // values the Python converter computed (toolchain/model/reference/roots.json).
    let roots: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join("../reference/roots.json")).unwrap())
            .unwrap();
    let expected = roots["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["model"] == "toolchain/model/models/cnn-int8.opml")
        .unwrap();
    // The CLI writes hashes with 0x, the vectors without.
    let prefixed = |v: &serde_json::Value| match v {
        serde_json::Value::Array(items) => items
            .iter()
            .map(|h| format!("0x{}", h.as_str().unwrap()))
            .collect(),
        _ => serde_json::Value::from(format!("0x{}", v.as_str().unwrap())),
    };
    assert_eq!(info["root"], prefixed(&expected["root"]));
    let out = opml(&[
        p("model"),
        p("info"),
        &root.join("cnn-int8.opml"),
        p("--json"),
        p("--commitments"),
    ]);
    let info = json(&out.stdout);
    assert_eq!(info["root"], prefixed(&expected["root"]));
    assert_eq!(
        info["tensor_commitments"],
        prefixed(&expected["tensor_commitments"])
    );
    assert_eq!(
        info["node_commitments"],
        prefixed(&expected["node_commitments"])
    );
    let out = opml(&[
        p("model"),
        p("info"),
        &root.join("cnn-int8.opml"),
        p("--commitments"),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    let root_hex = expected["root"].as_str().unwrap();
    assert!(text.contains(&format!("model root 0x{root_hex}")), "{text}");
    let first = expected["tensor_commitments"][0].as_str().unwrap();
    assert!(
        text.contains(&format!("tensor   0 commitment 0x{first}")),
        "{text}"
    );
    let last_node = expected["node_commitments"].as_array().unwrap().len() - 1;
    let node_hex = expected["node_commitments"][last_node].as_str().unwrap();
    assert!(
        text.contains(&format!("node {last_node:>3} commitment 0x{node_hex}")),
        "{text}"
    );

    let mut corrupt = std::fs::read(root.join("mlp.opml")).unwrap();
    corrupt[100] ^= 1;
    let dir = Scratch::new("model");
    let path = dir.file("corrupt.opml", &corrupt);
    let out = opml(&[p("model"), p("info"), &path]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("is not a valid model"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn model_info_describes_gguf_files_and_refuses_corrupt_ones() {
    let model = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../toolchain/llm/cache/SmolLM2-135M-Instruct.Q4_1.gguf");
    assert!(
        model.is_file(),
        "{} is missing: run `bash toolchain/llm/install.sh`",
        model.display()
    );
    let out = opml(&[p("model"), p("info"), &model, p("--json")]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let info = json(&out.stdout);
    assert_eq!(info["format"], "gguf");
    assert_eq!(info["version"], 3);
    assert_eq!(info["architecture"], "llama");
    assert_eq!(info["file_type"], 3);
    let hyper = &info["hyperparameters"];
    assert_eq!(hyper["block_count"], 30);
    assert_eq!(hyper["embedding_length"], 576);
    assert_eq!(hyper["feed_forward_length"], 1536);
    assert_eq!(hyper["attention.head_count"], 9);
    assert_eq!(hyper["attention.head_count_kv"], 3);
    assert_eq!(hyper["rope.freq_base"], 100000.0);
    assert_eq!(hyper["attention.layer_norm_rms_epsilon"], 1e-5);
    assert_eq!(hyper["vocab_size"], 49152);
    assert_eq!(info["tokenizer"]["model"], "gpt2");
    assert_eq!(info["tokenizer"]["pre"], "smollm");
    assert_eq!(info["tokenizer"]["tokens"], 49152);
    assert_eq!(info["tokenizer"]["bos_token_id"], 1);
    assert_eq!(info["tokenizer"]["eos_token_id"], 2);
    assert_eq!(info["tensors"], 272);
    assert_eq!(
        info["tensor_types"],
        serde_json::json!([
            { "type": "F32", "count": 61, "bytes": 140544 },
            { "type": "Q4_1", "count": 210, "bytes": 66355200 },
            { "type": "Q8_0", "count": 1, "bytes": 30081024 },
        ])
    );
    assert_eq!(info["first_tensors"][0]["name"], "token_embd.weight");
    assert_eq!(
        info["first_tensors"][0]["dims"],
        serde_json::json!([576, 49152])
    );

    let out = opml(&[p("model"), p("info"), &model]);
    says(
        &out,
        &[
            "valid GGUF v3 file, 33 metadata keys, 272 tensors",
            "architecture llama",
            "llama.block_count                        30",
            "tokenizer.pre                            smollm",
            "Q4_1      210 tensors, 66355200 bytes",
            "tensor token_embd.weight Q8_0 [576, 49152] at offset 0, 30081024 bytes",
        ],
    );
    let out = opml(&[p("model"), p("info"), &model, p("--commitments")]);
    assert_eq!(out.status.code(), Some(2));

    // The header without the tensor data.
    let mut head = Vec::new();
    std::io::Read::read_to_end(
        &mut std::io::Read::take(std::fs::File::open(&model).unwrap(), 2 << 20),
        &mut head,
    )
    .unwrap();
    let dir = Scratch::new("gguf");
    let path = dir.file("cut.gguf", &head);
    let out = opml(&[p("model"), p("info"), &path]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("is not a valid GGUF file"), "{err}");
    assert!(err.contains("token_embd.weight"), "{err}");
}

#[test]
fn llm_demo_catches_a_changed_token_at_its_sample_node() {
    let out = opml(&[
        p("demo"),
        p("--workload"),
        p("llm"),
        p("--prompt"),
        p("The capital of France is"),
        p("--tokens"),
        p("3"),
    ]);
    says(
        &out,
        &[
            "continues \"The capital of France is\" with 3 tokens, two phases",
            "5 prompt tokens + 3 generated = 8 positions",
            "true continuation:  \" Paris.",
            "(token 6 changed)",
            "the liar departs at coarse step",
            ": position 6, sample",
            "The disputed coarse step",
            "position 6, sample; node",
            "on chain: RiscvStep re-executes it",
            "game over: challenger wins",
            "The honest side won and every wei is accounted for.",
        ],
    );
}

#[test]
fn llm_demo_catches_a_lazy_server_at_the_layer_it_skips() {
    let out = opml(&[
        p("demo"),
        p("--workload"),
        p("llm"),
        p("--prompt"),
        p("Once upon a time"),
        p("--tokens"),
        p("2"),
        p("--lie"),
        p("lazy"),
    ]);
    says(
        &out,
        &[
            "(layer 29 skipped)",
            "position 0, layer 29, attention residual",
            "game over: challenger wins",
            "The honest side won and every wei is accounted for.",
        ],
    );
}

#[test]
fn llm_demo_refuses_a_generation_longer_than_a_game_covers() {
    // ~285 positions: 2^18 coarse steps over lower phases of 2^27, refused before the run.
    let out = opml(&[
        p("demo"),
        p("--workload"),
        p("llm"),
        p("--chat"),
        p("--tokens"),
        p("250"),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("a game would cover more than 2^44 steps of VM work"),
        "{}",
        stderr(&out)
    );
}
