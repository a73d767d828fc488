//! The model root (`docs/dnn.md`, "Model root"): Rust against the Python converter's vectors
//! (`toolchain/model/reference/roots.json` and the `model_root` of every reference vector file),
//! the tree against its recursive definition, streaming against one-shot hashing, and inclusion
//! proofs: every tensor and node proof of random models verifies, and tampered proofs, tampered
//! data, other indices and proofs of one kind passed off as the other are refused.

mod common;

use std::path::{Path, PathBuf};

use common::{f32_info, header, info, mlp, q, read_u32, reseal, write_u32};
use opml_dnn::root::{
    DataHasher, Merkleizer, RootError, RootHeader, TensorMeta, chunk_proof, data_root, depth, node,
    tensor_commitment, tree_proof, tree_root, verify_chunk, verify_node, verify_tensor,
};
use opml_dnn::{AlignedBytes, DType, Hash, Model, ModelBuilder, Op, Tensor, TensorKind};
use proptest::prelude::*;
use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn json(rel: &str) -> Value {
    serde_json::from_slice(&std::fs::read(repo().join(rel)).unwrap()).unwrap()
}

fn hashes(value: &Value) -> Vec<String> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap().to_string())
        .collect()
}

fn hexes(values: &[Hash]) -> Vec<String> {
    values.iter().map(hex::encode).collect()
}

#[test]
fn committed_models_have_the_python_roots_and_commitments() {
    let roots = json("toolchain/model/reference/roots.json");
    let models = roots["models"].as_array().unwrap();
    assert_eq!(models.len(), 7, "every committed model is in roots.json");
    for entry in models {
        let rel = entry["model"].as_str().unwrap();
        let file = AlignedBytes::from_slice(&std::fs::read(repo().join(rel)).unwrap());
        let model = Model::parse(&file).unwrap();
        let c = model.commit();
        assert_eq!(
            hex::encode(c.root()),
            entry["root"].as_str().unwrap(),
            "{rel}"
        );
        assert_eq!(model.root(), c.root(), "{rel}");
        assert_eq!(
            hexes(c.tensors()),
            hashes(&entry["tensor_commitments"]),
            "{rel}"
        );
        assert_eq!(
            hexes(c.nodes()),
            hashes(&entry["node_commitments"]),
            "{rel}"
        );
    }
    // The reference vector files carry the same roots.
    let mut checked = 0;
    for dir_entry in std::fs::read_dir(repo().join("toolchain/model/reference")).unwrap() {
        let path = dir_entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        if !name.ends_with(".json") || name == "roots.json" {
            continue;
        }
        let vectors = json(&format!("toolchain/model/reference/{name}"));
        let file = std::fs::read(repo().join(vectors["model"].as_str().unwrap())).unwrap();
        let file = AlignedBytes::from_slice(&file);
        let root = Model::parse(&file).unwrap().root();
        assert_eq!(
            hex::encode(root),
            vectors["model_root"].as_str().unwrap(),
            "{name}"
        );
        checked += 1;
    }
    assert_eq!(checked, 7);
}

#[test]
fn random_models_and_byte_strings_have_the_python_roots() {
    let roots = json("toolchain/model/reference/roots.json");
    let randoms = roots["random_models"].as_array().unwrap();
    assert!(randoms.len() >= 20);
    let mut with_nodes = 0;
    for (i, entry) in randoms.iter().enumerate() {
        let file =
            AlignedBytes::from_slice(&hex::decode(entry["bytes"].as_str().unwrap()).unwrap());
        let model = Model::parse(&file).unwrap();
        assert_eq!(
            hex::encode(model.root()),
            entry["root"].as_str().unwrap(),
            "random model {i}"
        );
        with_nodes += usize::from(!model.nodes().is_empty());
    }
    assert!(with_nodes >= 5, "the random models exercise node entries");
    for entry in roots["data_roots"].as_array().unwrap() {
        let data = hex::decode(entry["data"].as_str().unwrap()).unwrap();
        assert_eq!(
            hex::encode(data_root(&data)),
            entry["root"].as_str().unwrap(),
            "{} bytes",
            data.len()
        );
    }
}

#[test]
fn node_entries_are_the_files_bytes() {
    for name in ["mlp", "mlp-int8", "cnn", "cnn-int8"] {
        let bytes =
            std::fs::read(repo().join(format!("toolchain/model/models/{name}.opml"))).unwrap();
        let file = AlignedBytes::from_slice(&bytes);
        let model = Model::parse(&file).unwrap();
        let table = read_u32(&bytes, header::NODES_OFFSET) as usize;
        for (i, node) in model.nodes().iter().enumerate() {
            let at = table + 56 * i;
            assert_eq!(node.entry()[..], bytes[at..at + 56], "{name} node {i}");
        }
    }
}

/// The tree by its definition: pad the leaves with zero words to a power of two, halve.
fn tree_by_definition(leaves: &[Hash]) -> Hash {
    let width = 1usize << depth(leaves.len() as u64);
    let mut level = leaves.to_vec();
    level.resize(width, [0; 32]);
    while level.len() > 1 {
        level = level.chunks(2).map(|p| node(&p[0], &p[1])).collect();
    }
    level[0]
}

#[test]
fn depth_and_empty_trees() {
    assert_eq!(
        [0, 1, 2, 3, 4, 5, 8, 9, 1 << 26, (1 << 26) + 1].map(depth),
        [0, 0, 1, 2, 2, 3, 3, 4, 26, 27]
    );
    assert_eq!(depth(u64::from(u32::MAX)), 32);
    assert_eq!(tree_root(&[]), [0; 32]);
    assert_eq!(data_root(&[]), [0; 32]);
    let mut chunk = [0; 32];
    chunk[..3].copy_from_slice(b"abc");
    assert_eq!(data_root(b"abc"), chunk, "one chunk is its own root");
    assert_eq!(tree_proof(&[[1; 32]], 1), None);
}

#[test]
fn the_root_is_the_content_not_the_layout() {
    // Move the data region 16 bytes later: another file (another checksum), the same model.
    let mut bytes = mlp().to_vec();
    let data_offset = read_u32(&bytes, header::DATA_OFFSET) as usize;
    bytes.splice(data_offset..data_offset, [0; 16]);
    write_u32(&mut bytes, header::DATA_OFFSET, data_offset as u32 + 16);
    reseal(&mut bytes);
    let (a, b) = (mlp(), AlignedBytes::from_slice(&bytes));
    let (a, b) = (Model::parse(&a).unwrap(), Model::parse(&b).unwrap());
    assert_ne!(a.checksum(), b.checksum());
    assert_eq!(a.root(), b.root());
}

#[test]
fn every_field_is_committed() {
    // One model, and variants each differing in one committed thing.
    let build = |variant: usize| {
        let mut b = ModelBuilder::new();
        let qx = if variant == 1 { q(0.5, 3) } else { q(0.5, 2) };
        let x = b.input(info(DType::I8, &[2, 3], qx));
        let scale = if variant == 2 { 0.25 } else { 0.125 };
        let data = if variant == 3 {
            vec![1, 2, 4]
        } else {
            vec![1, 2, 3]
        };
        let c = b.constant(&Tensor::i8(&[3], data, q(scale, 0)).unwrap());
        let dims: &[u32] = if variant == 4 { &[3, 2] } else { &[6] };
        let r = b.node(Op::Reshape, &[x], info(DType::I8, dims, qx));
        let y = b.node(Op::Relu, &[r], info(DType::I8, dims, qx));
        b.output(if variant == 5 { r } else { y });
        if variant == 6 {
            b.output(c);
        }
        b.finish()
    };
    let roots: Vec<Hash> = (0..7)
        .map(|v| Model::parse(&build(v)).unwrap().root())
        .collect();
    for i in 0..roots.len() {
        for j in i + 1..roots.len() {
            assert_ne!(roots[i], roots[j], "variants {i} and {j}");
        }
    }
}

#[test]
fn metadata_and_header_words_round_trip_and_refuse_garbage() {
    let meta = TensorMeta {
        info: info(DType::I8, &[2, 3, 5], q(0.5, -7)),
        kind: TensorKind::Constant,
    };
    let word = meta.encode();
    assert_eq!(&word[..4], &[1, 3, 0, 0]);
    assert_eq!(read_u32(&word, 4), 2);
    assert_eq!(read_u32(&word, 28), 30, "byte length");
    assert_eq!(TensorMeta::decode(&word), Ok(meta));
    for (at, value) in [(0, 3), (1, 5), (2, 3), (3, 1), (16, 0), (16, 2), (28, 31)] {
        let mut bad = word;
        bad[at] = value;
        assert_eq!(
            TensorMeta::decode(&bad),
            Err(RootError::Meta),
            "byte {at} = {value}"
        );
    }
    let h = RootHeader {
        tensor_count: 5,
        node_count: 2,
        input_count: 1,
        output_count: 3,
    };
    let word = h.encode();
    assert_eq!(&word[..12], b"opmlroot\x01\0\0\0");
    assert_eq!(RootHeader::decode(&word), Ok(h));
    for at in [0, 8, 28] {
        let mut bad = word;
        bad[at] ^= 1;
        assert_eq!(
            RootHeader::decode(&bad),
            Err(RootError::Header),
            "byte {at}"
        );
    }
}

/// A random valid model: constants of random dtypes and sizes, inputs, a chain of
/// Relu/Reshape nodes, outputs.
fn random_model(
    constants: &[(u8, Vec<u8>)],
    inputs: &[Vec<u32>],
    nodes: &[(bool, usize)],
) -> AlignedBytes {
    let mut b = ModelBuilder::new();
    for (dtype, bytes) in constants {
        let tensor = match dtype % 3 {
            0 => Tensor::f32(
                &[bytes.len() as u32],
                bytes.iter().map(|&v| f32::from(v)).collect(),
            ),
            1 => Tensor::i8(
                &[bytes.len() as u32],
                bytes.iter().map(|&v| v as i8).collect(),
                q(0.5, 1),
            ),
            _ => Tensor::i32(
                &[bytes.len() as u32],
                bytes.iter().map(|&v| i32::from(v) << 20).collect(),
            ),
        };
        b.constant(&tensor.unwrap());
    }
    let mut live: Vec<(u32, Vec<u32>)> = inputs
        .iter()
        .map(|dims| (b.input(f32_info(dims)), dims.clone()))
        .collect();
    if !live.is_empty() {
        for &(relu, pick) in nodes {
            let (x, dims) = live[pick % live.len()].clone();
            let out = if relu {
                (b.node(Op::Relu, &[x], f32_info(&dims)), dims)
            } else {
                let flat = vec![dims.iter().product::<u32>()];
                (b.node(Op::Reshape, &[x], f32_info(&flat)), flat)
            };
            live.push(out);
        }
        b.output(live[live.len() - 1].0);
    }
    b.finish()
}

/// Chunk `k` of `data`, zero-padded; `None` past the end.
fn padded_chunk(data: &[u8], k: usize) -> Option<Hash> {
    let part = data.get(32 * k..)?.get(..32).unwrap_or(&data[32 * k..]);
    let mut chunk = [0; 32];
    chunk[..part.len()].copy_from_slice(part);
    (!part.is_empty()).then_some(chunk)
}

fn dims() -> impl Strategy<Value = Vec<u32>> {
    proptest::collection::vec(1u32..5, 0..4)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn the_merkleizer_is_the_tree_by_definition(
        leaves in proptest::collection::vec(any::<[u8; 32]>(), 0..70),
    ) {
        let root = tree_by_definition(&leaves);
        let mut tree = Merkleizer::new();
        for leaf in &leaves {
            tree.push(leaf);
        }
        prop_assert_eq!(tree.count(), leaves.len() as u64);
        prop_assert_eq!(tree.root(), root);
        prop_assert_eq!(tree_root(&leaves), root);
        for (i, leaf) in leaves.iter().enumerate() {
            let proof = tree_proof(&leaves, i).unwrap();
            prop_assert_eq!(proof.len(), depth(leaves.len() as u64));
            let folded = proof.iter().enumerate().fold(*leaf, |acc, (level, s)| {
                if i >> level & 1 == 0 { node(&acc, s) } else { node(s, &acc) }
            });
            prop_assert_eq!(folded, root);
        }
    }

    #[test]
    fn streaming_equals_one_shot(
        data in proptest::collection::vec(any::<u8>(), 0..3000),
        cuts in proptest::collection::vec(0usize..3000, 0..6),
    ) {
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(data.len())).collect();
        cuts.sort_unstable();
        let mut hasher = DataHasher::new();
        let mut at = 0;
        for cut in cuts.into_iter().chain([data.len()]) {
            hasher.update(&data[at..cut]);
            at = cut;
        }
        prop_assert_eq!(hasher.len(), data.len() as u64);
        let mut padded = data.clone();
        padded.resize(data.len().next_multiple_of(32), 0);
        let chunks: Vec<Hash> = padded.chunks(32).map(|c| c.try_into().unwrap()).collect();
        prop_assert_eq!(hasher.finish(), tree_by_definition(&chunks));
    }

    #[test]
    fn proofs_verify_and_forgeries_are_refused(
        constants in proptest::collection::vec(
            (any::<u8>(), proptest::collection::vec(any::<u8>(), 1..200)), 0..9),
        inputs in proptest::collection::vec(dims(), 0..3),
        nodes in proptest::collection::vec((any::<bool>(), any::<usize>()), 0..7),
        flip in any::<usize>(),
    ) {
        let file = random_model(&constants, &inputs, &nodes);
        let model = Model::parse(&file).unwrap();
        let c = model.commit();
        let root = c.root();
        prop_assert_eq!(root, model.root());
        let tensors = c.tensors().len() as u32;
        prop_assert_eq!(tensors as usize, model.tensor_count());
        for t in 0..tensors {
            let commitment = c.tensors()[t as usize];
            prop_assert_eq!(Some(commitment), model.tensor_commitment(t));
            let proof = c.tensor_proof(t).unwrap();
            prop_assert_eq!(verify_tensor(&root, t, &commitment, &proof), Ok(()));
            // Any flipped bit in the proof.
            let mut bad = proof.clone();
            let (i, bit) = (flip % bad.len(), flip / bad.len() % 256);
            bad[i][bit / 8] ^= 1 << (bit % 8);
            prop_assert!(verify_tensor(&root, t, &commitment, &bad).is_err());
            // Another index (unless that tensor has the same commitment: identical node outputs
            // do), a truncated or extended proof.
            for other in [t ^ 1, t + 1, tensors] {
                if c.tensors().get(other as usize) != Some(&commitment) {
                    prop_assert!(verify_tensor(&root, other, &commitment, &proof).is_err());
                }
            }
            prop_assert!(verify_tensor(&root, t, &commitment, &proof[1..]).is_err());
            let mut longer = proof.clone();
            longer.insert(0, [0; 32]);
            prop_assert!(verify_tensor(&root, t, &commitment, &longer).is_err());
            // A tensor passed off as a node entry.
            for n in 0..model.nodes().len() as u32 {
                prop_assert!(verify_node(&root, n, &commitment, &proof).is_err());
            }
            // A tampered byte of a constant's data.
            if let Some(constant) = model.constant(t) {
                let mut bytes = constant.data().bytes().to_vec();
                let at = flip % bytes.len();
                bytes[at] ^= 1 << (flip % 8);
                let meta = TensorMeta { info: constant.info(), kind: TensorKind::Constant };
                prop_assert_eq!(tensor_commitment(&meta, &data_root(constant.data().bytes())), commitment);
                let forged = tensor_commitment(&meta, &data_root(&bytes));
                prop_assert_eq!(
                    verify_tensor(&root, t, &forged, &proof),
                    Err(RootError::Mismatch)
                );
                // Root → tensor → one chunk: every chunk verifies under the commitment; the
                // tampered chunk, another chunk's index and the other kind of proof do not.
                let data = constant.data().bytes();
                let word = meta.encode();
                let count = data.len().div_ceil(32);
                for k in 0..count {
                    let chunk = padded_chunk(data, k).unwrap();
                    let siblings = chunk_proof(data, k).unwrap();
                    let at = k as u32;
                    prop_assert_eq!(verify_chunk(&commitment, &word, at, &chunk, &siblings), Ok(()));
                    let mut bad = chunk;
                    bad[flip % 32] ^= 1;
                    prop_assert_eq!(
                        verify_chunk(&commitment, &word, at, &bad, &siblings),
                        Err(RootError::Mismatch)
                    );
                    if padded_chunk(data, k ^ 1).is_some_and(|other| other != chunk) {
                        prop_assert!(verify_chunk(&commitment, &word, at ^ 1, &chunk, &siblings).is_err());
                    }
                    // The tensor's proof (under the root) is not a chunk's.
                    prop_assert!(verify_chunk(&commitment, &word, at, &chunk, &proof).is_err());
                }
                prop_assert_eq!(chunk_proof(data, count), None);
                prop_assert_eq!(
                    verify_chunk(&commitment, &word, count as u32, &[0; 32], &[]),
                    Err(RootError::Index { index: count as u32, count: count as u32 })
                );
            }
        }
        prop_assert_eq!(c.tensor_proof(tensors), None);
        for (n, &commitment) in c.nodes().iter().enumerate() {
            let n = n as u32;
            let proof = c.node_proof(n).unwrap();
            prop_assert_eq!(verify_node(&root, n, &commitment, &proof), Ok(()));
            let mut bad = proof.clone();
            let i = flip % bad.len();
            bad[i][flip % 32] ^= 0x80;
            prop_assert!(verify_node(&root, n, &commitment, &bad).is_err());
            prop_assert!(verify_node(&root, n + 1, &commitment, &proof).is_err());
            // A node entry passed off as a tensor.
            for t in 0..tensors {
                prop_assert!(verify_tensor(&root, t, &commitment, &proof).is_err());
            }
        }
        prop_assert_eq!(c.node_proof(model.nodes().len() as u32), None);
    }
}

#[test]
fn a_tensor_proof_of_the_right_length_is_still_not_a_node_proof() {
    // 7 tensors (depth 3, proofs of 5 hashes) and 3 nodes (depth 2, proofs of 5 hashes): the
    // lengths agree, so only the path refuses the swap.
    let mut b = ModelBuilder::new();
    let x = b.input(f32_info(&[2]));
    for i in 0..3 {
        b.constant(&Tensor::f32(&[1], vec![i as f32]).unwrap());
    }
    let y = b.node(Op::Relu, &[x], f32_info(&[2]));
    let z = b.node(Op::Relu, &[y], f32_info(&[2]));
    let w = b.node(Op::Reshape, &[z], f32_info(&[1, 2]));
    b.output(w);
    let file = b.finish();
    let model = Model::parse(&file).unwrap();
    let c = model.commit();
    let root = c.root();
    assert_eq!((c.tensors().len(), c.nodes().len()), (7, 3));
    for i in 0..3 {
        let (tensor, node_) = (c.tensor_proof(i).unwrap(), c.node_proof(i).unwrap());
        assert_eq!(tensor.len(), node_.len());
        assert_eq!(
            verify_node(&root, i, &c.tensors()[i as usize], &tensor),
            Err(RootError::Mismatch)
        );
        assert_eq!(
            verify_tensor(&root, i, &c.nodes()[i as usize], &node_),
            Err(RootError::Mismatch)
        );
        // The right leaf with the other kind's proof.
        assert_eq!(
            verify_node(&root, i, &c.nodes()[i as usize], &tensor),
            Err(RootError::Mismatch)
        );
    }
    assert_eq!(
        verify_tensor(&root, 7, &c.tensors()[0], &c.tensor_proof(0).unwrap()),
        Err(RootError::Index { index: 7, count: 7 })
    );
    assert_eq!(
        verify_tensor(&root, 0, &c.tensors()[0], &[]),
        Err(RootError::Length {
            expected: 2,
            got: 0
        })
    );
}
