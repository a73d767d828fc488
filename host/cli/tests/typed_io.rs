//! Typed I/O on the command line: `opml codec encode|decode`, `opml run --output-schema` and the
//! output in its report, and `opml demo --elf` on a guest given as a file.

use std::process::{Command, Output};

use opml_methods::{ECHO_ELF, GUESTS_BUILT};
use serde_json::{Value, json};

mod common;

use common::Scratch;

/// The echo guest's request and reply, as schemas.
const REQUEST: &str = "{text: string, numbers: vec<i32>}";
const REPLY: &str = "{shout: string, sum: i64, count: u32, max: option<i32>}";

fn opml(args: &[&str]) -> Output {
    if !GUESTS_BUILT {
        panic!("the example guests were not built (OPML_SKIP_GUEST_BUILD is set)");
    }
    Command::new(env!("CARGO_BIN_EXE_opml"))
        .args(args)
        .output()
        .expect("opml runs")
}

/// Asserts success and returns standard output.
fn ok(out: &Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn request() -> echo::Request {
    echo::Request {
        text: "typed io".into(),
        numbers: vec![5, -7, 1 << 30],
    }
}

fn request_json() -> String {
    json!({"text": "typed io", "numbers": [5, -7, 1 << 30]}).to_string()
}

#[test]
fn encode_writes_the_guest_codecs_bytes_and_decode_reads_them_back() {
    let dir = Scratch::new("codec");
    // Hex on stdout, and the same bytes to a file: the mode byte, then one frame.
    let hex = ok(&opml(&[
        "codec",
        "encode",
        "--prefix",
        "00",
        "-s",
        REQUEST,
        &request_json(),
    ]));
    let expected = echo::typed_input(&request()).unwrap();
    assert_eq!(hex.trim(), format!("0x{}", hex::encode(&expected)));
    let file = dir.0.join("input.bin");
    ok(&opml(&[
        "codec",
        "encode",
        "--prefix",
        "0x00",
        "--schema",
        REQUEST,
        &request_json(),
        "-o",
        file.to_str().unwrap(),
    ]));
    assert_eq!(std::fs::read(&file).unwrap(), expected);

    // Several values: one frame each, in order.
    let two = ok(&opml(&[
        "codec", "encode", "-s", "u32", "-s", "string", "7", "\"x\"",
    ]));
    let mut frames = opml_codec::encode(&7u32).unwrap();
    frames.extend(opml_codec::encode("x").unwrap());
    assert_eq!(two.trim(), format!("0x{}", hex::encode(&frames)));
    let decoded = ok(&opml(&[
        "codec",
        "decode",
        "-s",
        "u32",
        "-s",
        "string",
        &hex::encode(&frames),
    ]));
    assert_eq!(decoded, "7\n\"x\"\n");

    // The guest's reply, encoded by the guest's own types, decodes to JSON.
    let reply = opml_codec::encode(&echo::reply(&request())).unwrap();
    let path = dir.file("reply.bin", &reply);
    let decoded = ok(&opml(&[
        "codec",
        "decode",
        "-s",
        REPLY,
        "--file",
        path.to_str().unwrap(),
    ]));
    let value: Value = serde_json::from_str(&decoded).unwrap();
    assert_eq!(
        value,
        json!({"shout": "OI DEPYT", "sum": (1i64 << 30) - 2, "count": 3, "max": 1 << 30})
    );
    // `--skip` passes raw bytes before the frames.
    let decoded = ok(&opml(&[
        "codec",
        "decode",
        "--skip",
        "1",
        "-s",
        REQUEST,
        &hex::encode(&expected),
    ]));
    let value: Value = serde_json::from_str(&decoded).unwrap();
    assert_eq!(
        value,
        serde_json::from_str::<Value>(&request_json()).unwrap()
    );

    // Mistakes are named.
    let out = opml(&[
        "codec",
        "encode",
        "-s",
        "{text: string}",
        "{\"txt\": \"a\"}",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no field \"txt\""));
    let out = opml(&["codec", "decode", "-s", "u32", "0x0100000007ff"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("1 bytes follow"));
}

#[test]
fn run_prints_the_decoded_output_and_reports_the_output_bytes() {
    let dir = Scratch::new("run-typed");
    let elf = dir.file("echo.elf", ECHO_ELF);
    let input = dir.file("input.bin", &echo::typed_input(&request()).unwrap());
    let report = dir.0.join("report.json");
    let (elf, input, report) = (
        elf.to_str().unwrap(),
        input.to_str().unwrap(),
        report.to_str().unwrap(),
    );
    let reply = echo::reply(&request());
    let reply_bytes = opml_codec::encode(&reply).unwrap();

    // Raw: the output bytes on stdout, and as hex in the report.
    let out = opml(&["run", elf, "-i", input, "--report", report]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(out.stdout, reply_bytes);
    let json: Value = serde_json::from_slice(&std::fs::read(report).unwrap()).unwrap();
    assert_eq!(json["output"], format!("0x{}", hex::encode(&reply_bytes)));
    assert_eq!(json["output_len"], reply_bytes.len());
    assert!(json.get("output_decoded").is_none());

    // With a schema: the decoded output, on stdout and in the report.
    let stdout = ok(&opml(&[
        "run",
        elf,
        "-i",
        input,
        "--output-schema",
        REPLY,
        "--report",
        report,
    ]));
    let expected = json!({"shout": reply.shout, "sum": reply.sum, "count": 3, "max": reply.max});
    assert_eq!(serde_json::from_str::<Value>(&stdout).unwrap(), expected);
    let json: Value = serde_json::from_slice(&std::fs::read(report).unwrap()).unwrap();
    assert_eq!(json["output_decoded"], json!([expected]));
    assert_eq!(json["output"], format!("0x{}", hex::encode(&reply_bytes)));

    // An output that does not decode by the schema is an error, after the report.
    let out = opml(&["run", elf, "-i", input, "--output-schema", "u32"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not decode"));
}

#[test]
fn demo_disputes_a_guest_given_as_a_file_whichever_side_lies() {
    let dir = Scratch::new("demo-elf");
    let elf = dir.file("echo.elf", ECHO_ELF);
    let input = dir.file("input.bin", &echo::typed_input(&request()).unwrap());
    let (elf, input) = (elf.to_str().unwrap(), input.to_str().unwrap());
    let server = ok(&opml(&["demo", "--elf", elf, "--input", input]));
    for line in [
        "The task: echo.elf on",
        "server committed a WRONG output",
        "game over: challenger wins",
        "The honest side won and every wei is accounted for.",
    ] {
        assert!(server.contains(line), "missing {line:?} in:\n{server}");
    }
    let challenger = ok(&opml(&[
        "demo",
        "--elf",
        elf,
        "-i",
        input,
        "--liar",
        "challenger",
        "--phases",
        "6,6",
    ]));
    for line in [
        "Phase 2/2: bisection",
        "game over: server wins",
        "task finalized",
        "The honest side won and every wei is accounted for.",
    ] {
        assert!(
            challenger.contains(line),
            "missing {line:?} in:\n{challenger}"
        );
    }
    // The same story on a local anvil node, started and stopped by the demo.
    let anvil = ok(&opml(&[
        "demo",
        "--elf",
        elf,
        "-i",
        input,
        "--liar",
        "challenger",
        "--anvil",
    ]));
    for line in [
        "The chain: anvil at",
        "game over: server wins",
        "task finalized",
    ] {
        assert!(anvil.contains(line), "missing {line:?} in:\n{anvil}");
    }
    // --elf is a task of its own: not a workload's.
    let out = opml(&["demo", "--elf", elf, "--workload", "echo"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn decode_reads_abi_output_by_solidity_types() {
    let fixture: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../contracts/test/fixtures/abi-sum.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let hex_of = |key: &str| hex::decode(&fixture[key].as_str().unwrap()[2..]).unwrap();

    // The abi-sum guest's run: its output in the report, decoded as the contract does.
    let dir = Scratch::new("abi");
    let elf = dir.file("abi-sum.elf", opml_methods::ABI_SUM_ELF);
    let input = dir.file("input.bin", &hex_of("input"));
    let report = dir.0.join("report.json");
    let out = opml(&[
        "run",
        elf.to_str().unwrap(),
        "-i",
        input.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
    ]);
    assert_eq!(out.stdout, hex_of("output"));
    let report: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    let decoded = ok(&opml(&[
        "codec",
        "decode",
        "--abi",
        "uint256, uint32, string",
        report["output"].as_str().unwrap(),
    ]));
    assert_eq!(
        serde_json::from_str::<Value>(&decoded).unwrap(),
        json!([fixture["sum"], fixture["count"], fixture["label"]])
    );

    let mut bytes = vec![0u8; 64];
    bytes[31] = 1;
    bytes[32..].fill(0xff);
    let decoded = ok(&opml(&[
        "codec",
        "decode",
        "--abi",
        "(bool,int256)",
        &hex::encode(&bytes),
    ]));
    assert_eq!(decoded.trim(), "[true,-1]");
    let out = opml(&["codec", "decode", "--abi", "string", "0x00"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not abi.encode of (string)"));
}
