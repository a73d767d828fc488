//! `cnn-deep` (`toolchain/model/models/cnn-deep.opml`), the MNIST model large enough that the
//! graph phase of a two-phase dispute matters: the whole graph is over 10^9 RV32IM instructions
//! in the VM, each node a few 10^8 at most (BENCHMARKS.md). Checked here against the numpy
//! reference evaluator's vectors (`toolchain/model/reference/large/cnn-deep.json`, written by
//! `make_reference.py`; its directory is apart from the vectors `tests/reference.rs` runs):
//! every node's output hash, every commitment `C(0..=n)` and the outputs bit for bit; each node
//! re-done alone (as a dispute's step program does) gives the graph run's output; and the
//! model keeps the shape that makes it this workload.

use std::path::{Path, PathBuf};
use std::time::Instant;

use opml_dnn::{AlignedBytes, Model, Op, Tensor, TensorKind, commitments, run_node, run_observed};
use serde_json::Value;

const MODEL: &str = "toolchain/model/models/cnn-deep.opml";
const VECTORS: &str = "toolchain/model/reference/large/cnn-deep.json";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn model_file() -> AlignedBytes {
    AlignedBytes::from_slice(&std::fs::read(repo().join(MODEL)).unwrap())
}

fn vectors() -> Value {
    serde_json::from_slice(&std::fs::read(repo().join(VECTORS)).unwrap()).unwrap()
}

/// The vector's one graph input, an f32 image.
fn input(model: &Model<'_>, vector: &Value) -> Tensor {
    let spec = &vector["inputs"][0];
    assert_eq!(spec["tensor"].as_u64(), Some(u64::from(model.inputs()[0])));
    let bytes = hex::decode(spec["data"].as_str().unwrap()).unwrap();
    let values = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect();
    let dims = model.tensor(model.inputs()[0]).unwrap().shape;
    Tensor::f32(dims.dims(), values).unwrap()
}

fn hexes(values: &Value) -> Vec<&str> {
    values
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap())
        .collect()
}

#[test]
fn rust_and_the_numpy_reference_agree_bit_for_bit() {
    let file = model_file();
    let model = Model::parse(&file).unwrap();
    let vectors = vectors();
    assert_eq!(vectors["model"], MODEL);
    assert_eq!(
        hex::encode(model.checksum()),
        vectors["model_checksum"].as_str().unwrap(),
        "the committed model changed; rerun make_reference.py"
    );
    assert_eq!(
        hex::encode(model.root()),
        vectors["model_root"].as_str().unwrap()
    );
    let cases = vectors["vectors"].as_array().unwrap();
    assert!(cases.len() >= 3, "only {} vectors", cases.len());
    for vector in cases {
        let name = vector["name"].as_str().unwrap();
        let inputs = [input(&model, vector)];
        let start = Instant::now();
        let mut node_hashes = Vec::new();
        let outputs = run_observed(&model, &inputs, |_, out| {
            node_hashes.push(hex::encode(out.hash()));
        })
        .unwrap();
        eprintln!("{name}: graph run natively in {:?}", start.elapsed());
        assert_eq!(
            node_hashes,
            hexes(&vector["node_output_hashes"]),
            "{name}: node output hashes"
        );
        let chain: Vec<String> = commitments(&model, &inputs)
            .unwrap()
            .iter()
            .map(hex::encode)
            .collect();
        assert_eq!(chain, hexes(&vector["commitments"]), "{name}: commitments");
        let expected = vector["outputs"].as_array().unwrap();
        assert_eq!(outputs.len(), expected.len());
        for (out, spec) in outputs.iter().zip(expected) {
            assert_eq!(
                hex::encode(out.as_ref().data().bytes()),
                spec["data"].as_str().unwrap(),
                "{name}: output"
            );
        }
    }
}

#[test]
fn each_node_re_done_alone_gives_the_graph_runs_output() {
    let file = model_file();
    let model = Model::parse(&file).unwrap();
    let image = input(&model, &vectors()["vectors"][0]);
    let mut values: Vec<Option<Tensor>> = vec![None; model.tensor_count()];
    values[model.inputs()[0] as usize] = Some(image.clone());
    let mut outputs = Vec::new();
    run_observed(&model, &[image], |_, out| outputs.push(out.clone())).unwrap();
    for (index, node) in model.nodes().iter().enumerate() {
        let given: Vec<_> = node
            .inputs()
            .iter()
            .filter(|&&t| model.kind(t) != Some(TensorKind::Constant))
            .map(|&t| values[t as usize].as_ref().unwrap().as_ref())
            .collect();
        let start = Instant::now();
        let alone = run_node(&model, index, &given).unwrap();
        eprintln!(
            "node {index} ({}): alone natively in {:?}",
            op_name(node.op()),
            start.elapsed()
        );
        assert_eq!(alone.hash(), outputs[index].hash(), "node {index}");
        values[node.output() as usize] = Some(alone);
    }
}

/// `Conv2d` for `Conv2d(Conv { … }, …)`.
fn op_name(op: &Op) -> String {
    let name = format!("{op:?}");
    name.split('(').next().unwrap_or_default().to_string()
}

/// Multiply-adds of a `Dense` or `Conv2d` node: output elements × the weight's reduction size
/// (K, or C·KH·KW); 0 for the other ops.
fn multiply_adds(model: &Model<'_>, index: usize) -> u64 {
    let node = &model.nodes()[index];
    let count = |t: u32| model.tensor(t).unwrap().shape.count() as u64;
    match node.op() {
        Op::Dense(_) | Op::Conv2d(..) => {
            let weight = node.inputs()[1];
            let rows = model.tensor(weight).unwrap().shape.dims()[0];
            count(node.output()) * (count(weight) / u64::from(rows))
        }
        _ => 0,
    }
}

#[test]
fn the_graph_is_large_and_every_node_small() {
    let file = model_file();
    let model = Model::parse(&file).unwrap();
    let per_node: Vec<u64> = (0..model.nodes().len())
        .map(|i| multiply_adds(&model, i))
        .collect();
    for (i, macs) in per_node.iter().enumerate() {
        eprintln!(
            "node {i} ({}): {macs} multiply-adds",
            op_name(model.nodes()[i].op())
        );
    }
    let total: u64 = per_node.iter().sum();
    let largest = *per_node.iter().max().unwrap();
    eprintln!(
        "total {total}, largest node {largest}, file {} bytes",
        file.len()
    );
    // About 100 RV32IM instructions per f32 multiply-add (soft float): over 10^9 instructions
    // for the graph, under 3 × 10^8 for any one node, including hashing its weights.
    assert!(total >= 10_000_000, "{total} multiply-adds in all");
    assert!(largest <= 2_000_000, "a node of {largest} multiply-adds");
    assert!(file.len() <= 2 << 20, "{} bytes", file.len());
}
