//! The reader against ggml's own Python reader (gguf-py, `toolchain/llm/gguf_reference.py`) on
//! the real SmolLM2 model: every metadata value, every tensor info, sampled dequantized rows of
//! every tensor, bit for bit.

mod support;

use std::process::Command;

use opml_gguf::{Array, Gguf, Value};
use serde_json::{Value as Json, json};
use sha2::{Digest, Sha256};
use support::{model_path, repo};

/// Elements at each end of an array that the reference prints.
const EDGE: usize = 5;

fn reference(model: &std::path::Path) -> Json {
    let python = repo().join("toolchain/llm/.venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run `bash toolchain/llm/install.sh`",
        python.display()
    );
    let out = Command::new(&python)
        .arg(repo().join("toolchain/llm/gguf_reference.py"))
        .arg(model)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "running {}: {e} (run `bash toolchain/llm/install.sh`)",
                python.display()
            )
        });
    assert!(
        out.status.success(),
        "gguf_reference.py failed (run `bash toolchain/llm/install.sh`):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the reference prints JSON")
}

/// A scalar as the reference prints it: floats as bit patterns.
fn scalar(value: &Value<'_>) -> Json {
    match *value {
        Value::U8(x) => json!(x),
        Value::I8(x) => json!(x),
        Value::U16(x) => json!(x),
        Value::I16(x) => json!(x),
        Value::U32(x) => json!(x),
        Value::I32(x) => json!(x),
        Value::F32(x) => json!(x.to_bits()),
        Value::Bool(x) => json!(x),
        Value::String(x) => json!(x),
        Value::U64(x) => json!(x),
        Value::I64(x) => json!(x),
        Value::F64(x) => json!(x.to_bits()),
        Value::Array(_) => panic!("nested arrays are not in the reference format"),
    }
}

/// An array's elements as scalars, and their canonical encoding (the GGUF encoding).
fn elements<'a>(array: &Array<'a>) -> (Vec<Value<'a>>, Vec<u8>) {
    macro_rules! plain {
        ($v:expr, $variant:ident) => {
            (
                $v.iter().map(|&x| Value::$variant(x)).collect(),
                $v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            )
        };
    }
    match array {
        Array::U8(v) => plain!(v, U8),
        Array::I8(v) => plain!(v, I8),
        Array::U16(v) => plain!(v, U16),
        Array::I16(v) => plain!(v, I16),
        Array::U32(v) => plain!(v, U32),
        Array::I32(v) => plain!(v, I32),
        Array::F32(v) => plain!(v, F32),
        Array::U64(v) => plain!(v, U64),
        Array::I64(v) => plain!(v, I64),
        Array::F64(v) => plain!(v, F64),
        Array::Bool(v) => (
            v.iter().map(|&x| Value::Bool(x)).collect(),
            v.iter().map(|&x| u8::from(x)).collect(),
        ),
        Array::String(v) => (
            v.iter().map(|&x| Value::String(x)).collect(),
            v.iter()
                .flat_map(|x| [&(x.len() as u64).to_le_bytes()[..], x.as_bytes()].concat())
                .collect(),
        ),
        Array::Array(_) => panic!("nested arrays are not in the reference format"),
    }
}

fn value_json(value: &Value<'_>) -> Json {
    let Value::Array(array) = value else {
        return scalar(value);
    };
    let (items, canonical) = elements(array);
    let digest: String = Sha256::digest(&canonical)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let head = &items[..items.len().min(EDGE)];
    let tail = &items[items.len().saturating_sub(EDGE)..];
    json!({
        "element_type": array.element_type().name(),
        "len": array.len(),
        "sha256": digest,
        "head": head.iter().map(scalar).collect::<Vec<_>>(),
        "tail": tail.iter().map(scalar).collect::<Vec<_>>(),
    })
}

#[test]
fn the_real_model_reads_as_ggml_reads_it() {
    let model = model_path();
    let reference = reference(&model);
    let bytes = std::fs::read(&model).unwrap();
    let gguf = Gguf::parse(&bytes).unwrap();

    assert_eq!(reference["version"], json!(gguf.version()));
    assert_eq!(reference["alignment"], json!(gguf.alignment()));
    assert_eq!(reference["data_offset"], json!(gguf.data_offset()));

    let metadata = reference["metadata"].as_array().unwrap();
    assert_eq!(metadata.len(), 33);
    assert_eq!(gguf.metadata().len(), metadata.len());
    for ((key, value), want) in gguf.metadata().iter().zip(metadata) {
        let got = json!({
            "key": key,
            "type": value.value_type().name(),
            "value": value_json(value),
        });
        assert_eq!(&got, want, "metadata {key:?}");
    }

    let tensors = reference["tensors"].as_array().unwrap();
    assert_eq!(tensors.len(), 272);
    assert_eq!(gguf.tensors().len(), tensors.len());
    let mut rows_checked = 0;
    for (info, want) in gguf.tensors().iter().zip(tensors) {
        let name = info.name();
        assert_eq!(want["name"], json!(name));
        assert_eq!(want["type"], json!(info.ggml_type().name()), "{name}");
        assert_eq!(want["type_id"], json!(info.ggml_type().id()), "{name}");
        assert_eq!(want["dims"], json!(info.dims()), "{name}");
        assert_eq!(want["offset"], json!(info.offset()), "{name}");
        assert_eq!(want["n_bytes"], json!(info.byte_size()), "{name}");
        assert_eq!(gguf.tensor_bytes(info).len() as u64, info.byte_size());
        for sample in want["rows"].as_array().unwrap() {
            let row = sample["row"].as_u64().unwrap();
            let bits: Vec<u32> = serde_json::from_value(sample["bits"].clone()).unwrap();
            let got: Vec<u32> = gguf
                .dequantize_rows(info, row..row + 1)
                .unwrap()
                .iter()
                .map(|v| v.to_bits())
                .collect();
            assert_eq!(got.len(), bits.len(), "{name} row {row}");
            if let Some(i) = (0..bits.len()).find(|&i| got[i] != bits[i]) {
                panic!(
                    "{name} row {row} value {i}: {:#010x}, ggml says {:#010x}",
                    got[i], bits[i]
                );
            }
            rows_checked += 1;
        }
    }
    assert!(rows_checked >= 272, "{rows_checked}");
}

#[test]
fn the_real_model_through_the_typed_getters() {
    let bytes = std::fs::read(model_path()).unwrap();
    let gguf = Gguf::parse(&bytes).unwrap();
    assert_eq!(gguf.str("general.architecture").unwrap(), "llama");
    assert_eq!(gguf.u32("llama.block_count").unwrap(), 30);
    assert_eq!(gguf.u32("llama.embedding_length").unwrap(), 576);
    assert_eq!(gguf.f32("llama.rope.freq_base").unwrap(), 100_000.0);
    let tokens = gguf.str_array("tokenizer.ggml.tokens").unwrap();
    assert_eq!(tokens.len(), 49152);
    assert_eq!(tokens[0], "<|endoftext|>");
    assert_eq!(
        gguf.i32_array("tokenizer.ggml.token_type").unwrap().len(),
        49152
    );
    assert_eq!(
        gguf.str_array("tokenizer.ggml.merges").unwrap().len(),
        48900
    );
    assert_eq!(gguf.u32("tokenizer.ggml.bos_token_id").unwrap(), 1);
    assert_eq!(gguf.u32("tokenizer.ggml.eos_token_id").unwrap(), 2);
    let embd = gguf.tensor("token_embd.weight").unwrap();
    assert_eq!(embd.dims(), [576, 49152]);
    assert_eq!(embd.ggml_type(), opml_gguf::GgmlType::Q8_0);
    assert_eq!(embd.rows(), 49152);
    // A whole tensor is its rows end to end.
    let down = gguf.tensor("blk.0.ffn_down.weight").unwrap();
    let all = gguf.dequantize(down).unwrap();
    assert_eq!(all.len() as u64, down.elements());
    let last = down.rows() - 1;
    assert_eq!(
        gguf.dequantize_rows(down, last..last + 1).unwrap(),
        all[(last * down.row_len()) as usize..]
    );
}
