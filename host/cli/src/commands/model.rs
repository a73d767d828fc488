//! `opml model`: check and describe `.opml` model files with the reader the guests use
//! (`docs/dnn.md`), and show their model root and tensor and node commitments. Converting from ONNX, npz or safetensors is `toolchain/model/convert.py`.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use opml_dnn::{AlignedBytes, Model, TensorKind};
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
        /// The `.opml` file.
        file: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Also print each tensor's and each node's commitment under the model root.
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
