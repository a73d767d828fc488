//! `opml model`: check and describe `.opml` model files with the reader the guests use
//! (`docs/dnn.md`), and show their model root and tensor and node commitments. Converting from ONNX, npz or safetensors is `toolchain/model/convert.py`.
//! GGUF files (LLMs, recognised by their magic) are checked and described with `opml-gguf`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use opml_dnn::{AlignedBytes, Model, TensorKind};
use opml_gguf::{GgmlType, Gguf, TensorInfo, Value};
use serde_json::json;

use crate::json::hex;

/// Arguments of `opml model`.
#[derive(Args)]
pub(crate) struct ModelArgs {
    #[command(subcommand)]
    command: ModelCommand,
}

#[derive(Subcommand)]
enum ModelCommand {
    /// Validate a model file (checksum, tables, shapes, every node) and describe it.
    Info {
        /// The `.opml` file, or a GGUF v3 file (an LLM: its architecture, hyperparameters,
        /// tokenizer and tensors).
        file: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Also print each tensor's and each node's commitment under the model root (`.opml`
        /// files only).
        #[arg(long)]
        commitments: bool,
    },
}

/// Runs `opml model`.
pub(crate) fn model(args: ModelArgs) -> Result<u8> {
    let ModelCommand::Info {
        file,
        json,
        commitments,
    } = args.command;
    let bytes = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
    if bytes.starts_with(&opml_gguf::MAGIC) {
        if commitments {
            anyhow::bail!(
                "--commitments is for .opml models; {} is GGUF",
                file.display()
            );
        }
        return gguf_info(&file, &bytes, json);
    }
    let aligned = AlignedBytes::from_slice(&bytes);
    let model = Model::parse(&aligned)
        .with_context(|| format!("{} is not a valid model", file.display()))?;
    let tensor = |t: u32| {
        let info = model.tensor(t).expect("the reader checked every index");
        let kind = match model.kind(t) {
            Some(TensorKind::Constant) => "constant",
            Some(TensorKind::Input) => "input",
            _ => "node output",
        };
        json!({
            "index": t,
            "kind": kind,
            "dtype": format!("{:?}", info.dtype).to_lowercase(),
            "shape": info.shape.dims(),
            "scale": info.quant.scale,
            "zero_point": info.quant.zero_point,
        })
    };
    let nodes: Vec<_> = model
        .nodes()
        .iter()
        .map(|node| {
            json!({
                "op": format!("{:?}", node.op()),
                "inputs": node.inputs(),
                "output": tensor(node.output()),
            })
        })
        .collect();
    let commitment = model.commit();
    let constant_bytes: usize = (0..model.tensor_count() as u32)
        .filter_map(|t| model.constant(t))
        .map(|c| c.data().bytes().len())
        .sum();
    let report = json!({
        "file": file.display().to_string(),
        "checksum": hex(model.checksum()),
        "root": hex(&commitment.root()),
        "inputs": model.inputs().iter().map(|&t| tensor(t)).collect::<Vec<_>>(),
        "outputs": model.outputs().iter().map(|&t| tensor(t)).collect::<Vec<_>>(),
        "nodes": nodes,
        "tensors": model.tensor_count(),
        "constant_bytes": constant_bytes,
    });
    if json {
        let mut report = report;
        if commitments {
            report["tensor_commitments"] = commitment.tensors().iter().map(|h| hex(h)).collect();
            report["node_commitments"] = commitment.nodes().iter().map(|h| hex(h)).collect();
        }
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(0);
    }
    println!(
        "{}: valid .opml v1 model, checksum {}",
        file.display(),
        hex(model.checksum())
    );
    println!("model root {}", hex(&commitment.root()));
    for input in report["inputs"].as_array().into_iter().flatten() {
        println!(
            "input   t{}: {} {}",
            input["index"], input["dtype"], input["shape"]
        );
    }
    for (i, node) in nodes.iter().enumerate() {
        println!(
            "node {i:>3} {} {} -> t{}: {} {}",
            node["op"].as_str().unwrap_or_default(),
            node["inputs"],
            node["output"]["index"],
            node["output"]["dtype"].as_str().unwrap_or_default(),
            node["output"]["shape"]
        );
    }
    println!(
        "outputs {}; {} tensors, {constant_bytes} bytes of constants",
        model
            .outputs()
            .iter()
            .map(|t| format!("t{t}"))
            .collect::<Vec<_>>()
            .join(", "),
        model.tensor_count()
    );
    if commitments {
        for (t, h) in commitment.tensors().iter().enumerate() {
            println!("tensor {t:>3} commitment {}", hex(h));
        }
        for (n, h) in commitment.nodes().iter().enumerate() {
            println!("node {n:>3} commitment {}", hex(h));
        }
    }
    Ok(0)
}

/// Tensors `opml model info` lists for a GGUF file.
const GGUF_FIRST_TENSORS: usize = 8;

/// A scalar metadata value as JSON (arrays as their length).
fn gguf_json(value: &Value<'_>) -> serde_json::Value {
    match *value {
        Value::U8(x) => json!(x),
        Value::I8(x) => json!(x),
        Value::U16(x) => json!(x),
        Value::I16(x) => json!(x),
        Value::U32(x) => json!(x),
        Value::I32(x) => json!(x),
        // The shortest decimal that reads back as the f32 (1e-5, not 9.999999747378752e-6).
        Value::F32(x) => x
            .to_string()
            .parse::<f64>()
            .map_or(json!(null), |v| json!(v)),
        Value::Bool(x) => json!(x),
        Value::String(x) => json!(x),
        Value::Array(ref a) => json!(a.len()),
        Value::U64(x) => json!(x),
        Value::I64(x) => json!(x),
        Value::F64(x) => json!(x),
    }
}

/// llama.cpp's name of a `general.file_type` (`llama_ftype`), for the common ones.
fn gguf_file_type(file_type: u32) -> &'static str {
    match file_type {
        0 => "ALL_F32",
        1 => "MOSTLY_F16",
        2 => "MOSTLY_Q4_0",
        3 => "MOSTLY_Q4_1",
        7 => "MOSTLY_Q8_0",
        8 => "MOSTLY_Q5_0",
        9 => "MOSTLY_Q5_1",
        10 => "MOSTLY_Q2_K",
        15 => "MOSTLY_Q4_K_M",
        17 => "MOSTLY_Q5_K_M",
        18 => "MOSTLY_Q6_K",
        32 => "MOSTLY_BF16",
        _ => "other",
    }
}

/// `opml model info` of a GGUF file: validate it with `opml-gguf` and describe it.
fn gguf_info(file: &Path, bytes: &[u8], as_json: bool) -> Result<u8> {
    let gguf = Gguf::parse(bytes)
        .with_context(|| format!("{} is not a valid GGUF file", file.display()))?;
    let arch = gguf.str("general.architecture").ok();
    let field = |key: &str| gguf.get(key).map_or(json!(null), gguf_json);
    let arch_key = |name: &str| format!("{}.{name}", arch.unwrap_or("llama"));
    let hyper: Vec<(&str, serde_json::Value)> = [
        "block_count",
        "context_length",
        "embedding_length",
        "feed_forward_length",
        "attention.head_count",
        "attention.head_count_kv",
        "rope.freq_base",
        "rope.dimension_count",
        "attention.layer_norm_rms_epsilon",
        "vocab_size",
    ]
    .into_iter()
    .map(|name| (name, field(&arch_key(name))))
    .collect();
    let tokenizer: Vec<(&str, serde_json::Value)> = [
        ("model", "tokenizer.ggml.model"),
        ("pre", "tokenizer.ggml.pre"),
        ("tokens", "tokenizer.ggml.tokens"),
        ("merges", "tokenizer.ggml.merges"),
        ("bos_token_id", "tokenizer.ggml.bos_token_id"),
        ("eos_token_id", "tokenizer.ggml.eos_token_id"),
        ("unknown_token_id", "tokenizer.ggml.unknown_token_id"),
        ("padding_token_id", "tokenizer.ggml.padding_token_id"),
    ]
    .into_iter()
    .map(|(name, key)| (name, field(key)))
    .collect();
    // Tensor count and bytes by type, in ggml type order.
    let mut by_type: BTreeMap<u32, (GgmlType, usize, u64)> = BTreeMap::new();
    for t in gguf.tensors() {
        let entry = by_type
            .entry(t.ggml_type().id())
            .or_insert((t.ggml_type(), 0, 0));
        entry.1 += 1;
        entry.2 += t.byte_size();
    }
    let tensor_json = |t: &TensorInfo<'_>| {
        json!({
            "name": t.name(),
            "type": t.ggml_type().name(),
            "dims": t.dims(),
            "offset": t.offset(),
            "bytes": t.byte_size(),
        })
    };
    let file_type = gguf.u32("general.file_type").ok();
    let report = json!({
        "file": file.display().to_string(),
        "format": "gguf",
        "version": gguf.version(),
        "alignment": gguf.alignment(),
        "data_offset": gguf.data_offset(),
        "metadata_keys": gguf.metadata().len(),
        "architecture": arch,
        "name": field("general.name"),
        "file_type": file_type,
        "file_type_name": file_type.map(gguf_file_type),
        "hyperparameters": hyper.iter().map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect::<serde_json::Map<_, _>>(),
        "tokenizer": tokenizer.iter().map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect::<serde_json::Map<_, _>>(),
        "tensor_types": by_type.values().map(|(ty, count, size)| {
            json!({ "type": ty.name(), "count": count, "bytes": size })
        }).collect::<Vec<_>>(),
        "tensors": gguf.tensors().len(),
        "tensor_bytes": by_type.values().map(|v| v.2).sum::<u64>(),
        "first_tensors": gguf.tensors().iter().take(GGUF_FIRST_TENSORS).map(tensor_json)
            .collect::<Vec<_>>(),
    });
    if as_json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(0);
    }
    let text = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "-".to_owned(),
        other => other.to_string(),
    };
    println!(
        "{}: valid GGUF v{} file, {} metadata keys, {} tensors, alignment {}, data at offset {}",
        file.display(),
        gguf.version(),
        gguf.metadata().len(),
        gguf.tensors().len(),
        gguf.alignment(),
        gguf.data_offset()
    );
    println!(
        "architecture {}, name {}, file type {} ({})",
        arch.unwrap_or("-"),
        text(&report["name"]),
        text(&report["file_type"]),
        text(&report["file_type_name"]),
    );
    for (name, value) in &hyper {
        println!("{:<40} {}", arch_key(name), text(value));
    }
    for (name, value) in &tokenizer {
        let value = match *name {
            "tokens" | "merges" => format!("{} entries", text(value)),
            _ => text(value),
        };
        println!("{:<40} {value}", format!("tokenizer.{name}"));
    }
    for (ty, count, size) in by_type.values() {
        println!("{:<8} {count:>4} tensors, {size} bytes", ty.name());
    }
    for t in gguf.tensors().iter().take(GGUF_FIRST_TENSORS) {
        println!(
            "tensor {} {} {:?} at offset {}, {} bytes",
            t.name(),
            t.ggml_type(),
            t.dims(),
            t.offset(),
            t.byte_size()
        );
    }
    if gguf.tensors().len() > GGUF_FIRST_TENSORS {
        println!(
            "... {} more tensors",
            gguf.tensors().len() - GGUF_FIRST_TENSORS
        );
    }
    Ok(0)
}
