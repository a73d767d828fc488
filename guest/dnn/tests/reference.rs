//! The Rust executor against the independent numpy reference evaluator
//! (`toolchain/model/reference.py`): for every committed reference vector
//! (`toolchain/model/reference/*.json`: the MNIST models in f32 and int8, the skl2onnx-exported
//! sklearn model, and `ops.opml`, which uses every op in both dtypes), every node's output hash,
//! every commitment `C(0..=n)` and every graph output must be bit-identical.

use std::path::{Path, PathBuf};

use opml_dnn::{
    AlignedBytes, DType, DataRef, Model, Tensor, TensorRef, chain_next, chain_start, run_observed,
};
use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn tensor(model: &Model<'_>, spec: &Value) -> Tensor {
    let index = spec["tensor"].as_u64().unwrap() as u32;
    let info = model.tensor(index).unwrap();
    let bytes = hex::decode(spec["data"].as_str().unwrap()).unwrap();
    let aligned = AlignedBytes::from_slice(&bytes);
    let dtype = match spec["dtype"].as_str().unwrap() {
        "f32" => DType::F32,
        "i8" => DType::I8,
        _ => DType::I32,
    };
    assert_eq!(dtype, info.dtype, "tensor {index} dtype");
    let data = DataRef::from_bytes(dtype, &aligned).unwrap();
    TensorRef::new(info.shape, data, info.quant)
        .unwrap()
        .to_tensor()
}

#[test]
fn rust_and_the_numpy_reference_agree_bit_for_bit() {
    let dir = root().join("toolchain/model/reference");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let vectors: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        if vectors["format"] != "opml-reference-v1" {
            continue; // roots.json: the model roots, checked by tests/root.rs
        }
        let file = AlignedBytes::from_slice(
            &std::fs::read(root().join(vectors["model"].as_str().unwrap())).unwrap(),
        );
        let model = Model::parse(&file).unwrap();
        assert_eq!(
            hex::encode(model.checksum()),
            vectors["model_checksum"].as_str().unwrap(),
            "{}: the committed model changed; rerun make_reference.py",
            path.display()
        );
        for vector in vectors["vectors"].as_array().unwrap() {
            let name = format!("{} / {}", path.display(), vector["name"]);
            let inputs: Vec<Tensor> = vector["inputs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|spec| tensor(&model, spec))
                .collect();
            let hashes: Vec<_> = inputs.iter().map(Tensor::hash).collect();
            let mut chain = vec![chain_start(model.checksum(), &hashes)];
            let mut node_hashes = Vec::new();
            let outputs = run_observed(&model, &inputs, |_, out| {
                node_hashes.push(hex::encode(out.hash()));
                let next = chain_next(chain.last().unwrap(), &out.hash());
                chain.push(next);
            })
            .unwrap();
            let expected: Vec<&str> = vector["node_output_hashes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| h.as_str().unwrap())
                .collect();
            assert_eq!(node_hashes, expected, "{name}: node output hashes");
            let commitments: Vec<String> = chain.iter().map(hex::encode).collect();
            let expected: Vec<&str> = vector["commitments"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| h.as_str().unwrap())
                .collect();
            assert_eq!(commitments, expected, "{name}: commitments");
            for (out, spec) in outputs.iter().zip(vector["outputs"].as_array().unwrap()) {
                assert_eq!(
                    hex::encode(out.as_ref().data().bytes()),
                    spec["data"].as_str().unwrap(),
                    "{name}: output"
                );
            }
            checked += 1;
        }
    }
    assert!(
        checked >= 21,
        "only {checked} reference vectors found in {}",
        dir.display()
    );
}
