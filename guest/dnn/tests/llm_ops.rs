//! Malformed LLM graphs (`docs/dnn.md`, "LLM operators"): node entries of the LLM operators
//! with bad parameters, shapes or dtypes, and block-quantized tensors where they cannot be, are
//! refused by the reader with a [`ModelError`] and, when a state commits to such a model root
//! anyway, by the node step (`phase::step`) with a refusal, never a panic. Runs the kernels
//! refuse (a bad task record, a wrong token count, an id out of the table) end refused
//! ([`Refusal::Compute`]) natively and in the node step alike.

use std::collections::HashMap;

use proptest::prelude::*;

use opml_dnn::phase::state::{self, Refusal, ZERO};
use opml_dnn::phase::{GraphRun, Oracle, Preimage, step};
use opml_dnn::root::{MerkleTree, RootHeader, chunks, data_root, node, node_commitment};
use opml_dnn::tensor::BlockFormat;
use opml_dnn::{
    AlignedBytes, Conv, DType, Data, Epilogue, Hash, Model, ModelBuilder, ModelError, Op, Pool,
    Quant, Shape, Tensor, TensorInfo,
};
use opml_llm::sample::Sampling;
use opml_llm::task::Task;
use opml_llm::tokenizer::Tables;

fn info(dtype: DType, dims: &[u32]) -> TensorInfo {
    let quant = match dtype {
        DType::I8 => Quant {
            scale: 1.0,
            zero_point: 0,
        },
        _ => Quant::default(),
    };
    TensorInfo {
        dtype,
        shape: Shape::new(dims).unwrap(),
        quant,
    }
}

fn f32(dims: &[u32]) -> TensorInfo {
    info(DType::F32, dims)
}

fn i8(dims: &[u32]) -> TensorInfo {
    info(DType::I8, dims)
}

fn i32(dims: &[u32]) -> TensorInfo {
    info(DType::I32, dims)
}

fn q4(dims: &[u32]) -> TensorInfo {
    info(DType::Q4_1, dims)
}

fn q8(dims: &[u32]) -> TensorInfo {
    info(DType::Q8_0, dims)
}

/// A tensor of `info` whose bytes are all `byte`.
fn filled(info: TensorInfo, byte: u8) -> Tensor {
    let n = info.shape.count();
    let data = match info.dtype {
        DType::F32 => Data::from(vec![f32::from_bits(u32::from_le_bytes([byte; 4])); n]),
        DType::I8 => Data::from(vec![byte as i8; n]),
        DType::I32 => Data::from(vec![i32::from_le_bytes([byte; 4]); n]),
        DType::Q4_1 | DType::Q8_0 => {
            let format = info.dtype.block().unwrap();
            Data::Blocks(format, vec![byte; n / 32 * format.block_bytes()])
        }
    };
    Tensor::new(info.shape, data)
        .unwrap()
        .with_quant(info.quant)
}

/// An input of a one-node graph: a graph input or a constant (filled with zero bytes).
#[derive(Clone, Copy)]
enum In {
    Input(TensorInfo),
    Const(TensorInfo),
}

/// The file of a graph of one node, `op` on `inputs`, writing `out` (its one output).
fn one_node(inputs: &[In], op: Op, out: TensorInfo) -> Vec<u8> {
    let mut b = ModelBuilder::new();
    let inputs: Vec<u32> = inputs
        .iter()
        .map(|i| match *i {
            In::Input(info) => b.input(info),
            In::Const(info) => b.constant(&filled(info, 0)),
        })
        .collect();
    let y = b.node(op, &inputs, out);
    b.output(y);
    b.finish().to_vec()
}

fn u32_at(file: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(file[at..at + 4].try_into().unwrap())
}

/// Rewrites the trailing checksum after an edit.
fn reseal(file: &mut [u8]) {
    use sha2::Digest;
    let body = file.len() - 32;
    let digest = sha2::Sha256::digest(&file[..body]);
    file[body..].copy_from_slice(&digest);
}

/// Byte offset of tensor entry `t` and node entry `n` (docs/dnn.md, "File format").
fn tensor_entry(file: &[u8], t: u32) -> usize {
    u32_at(file, 32) as usize + 48 * t as usize
}

fn node_entry(file: &[u8], n: u32) -> usize {
    u32_at(file, 36) as usize + 56 * n as usize
}

/// Preimages by key.
#[derive(Default)]
struct Map(HashMap<Hash, Preimage>);

/// A key the map lacks.
#[derive(Debug, PartialEq)]
struct Missing(Hash);

impl Oracle for Map {
    type Error = Missing;

    fn preimage(&mut self, key: &Hash) -> Result<Preimage, Missing> {
        self.0.get(key).copied().ok_or(Missing(*key))
    }
}

impl Map {
    /// `H(left ‖ right)`, its preimage kept.
    fn h(&mut self, left: &Hash, right: &Hash) -> Hash {
        let mut p = [0; 64];
        p[..32].copy_from_slice(left);
        p[32..].copy_from_slice(right);
        let key = node(left, right);
        self.0.insert(key, p);
        key
    }

    /// The root of a tree over `leaves`, every inner node kept.
    fn tree(&mut self, leaves: &[Hash]) -> Hash {
        let tree = MerkleTree::new(leaves);
        for (l, r) in tree.inner_nodes() {
            let (l, r) = (*l, *r);
            self.h(&l, &r);
        }
        tree.root()
    }

    /// `data_root(bytes)`, every inner node kept.
    fn data(&mut self, bytes: &[u8]) -> Hash {
        let root = self.tree(&chunks(bytes));
        assert_eq!(root, data_root(bytes));
        root
    }

    /// A byte commitment, its preimages kept.
    fn bytes(&mut self, bytes: &[u8]) -> Hash {
        let root = self.data(bytes);
        self.h(&state::len_word(bytes.len() as u64), &root)
    }
}

/// A state committing to the model root of a file that need not be valid: the root computed
/// from the file's raw tables (as `docs/dnn.md`, "Model root", lays it out, without the
/// reader's checks), with every preimage a step of its run reads; `S(0)` and the state after
/// the load step computed by hand.
struct Forged {
    map: Map,
    root: Hash,
    task: Hash,
    s0: Hash,
    s1: Hash,
    values1: Hash,
}

fn forge(file: &[u8], input: &[u8]) -> Forged {
    let mut map = Map::default();
    let count = |at| u32_at(file, at);
    let header = RootHeader {
        tensor_count: count(16),
        node_count: count(20),
        input_count: count(24),
        output_count: count(28),
    };
    let data_offset = count(48) as usize;
    let mut metas = Vec::new();
    let mut slots = Vec::new();
    for t in 0..header.tensor_count {
        let e = tensor_entry(file, t);
        let mut meta = [0; 32];
        meta[..3].copy_from_slice(&file[e..e + 3]);
        meta[4..20].copy_from_slice(&file[e + 4..e + 20]);
        meta[20..28].copy_from_slice(&file[e + 28..e + 36]);
        meta[28..32].copy_from_slice(&file[e + 24..e + 28]);
        let (offset, len) = (u32_at(file, e + 20) as usize, u32_at(file, e + 24) as usize);
        let c = if file[e + 2] == 0 {
            let start = data_offset.saturating_add(offset);
            let data = file.get(start..start.saturating_add(len)).unwrap_or(&[]);
            map.data(data)
        } else {
            ZERO
        };
        slots.push(map.h(&meta, &c));
        metas.push((meta, len));
    }
    let tensors_root = map.tree(&slots);
    let nodes: Vec<Hash> = (0..header.node_count)
        .map(|n| {
            let e = node_entry(file, n);
            let entry: [u8; 56] = file[e..e + 56].try_into().unwrap();
            let mut p = [0; 64];
            p[..56].copy_from_slice(&entry);
            let key = node_commitment(&entry);
            map.0.insert(key, p);
            key
        })
        .collect();
    let nodes_root = map.tree(&nodes);
    let list = |at: usize, n: u32| -> Vec<u8> {
        let start = count(at) as usize;
        file[start..start + 4 * n as usize].to_vec()
    };
    let (inputs, outputs) = (list(40, header.input_count), list(44, header.output_count));
    let (inputs_root, outputs_root) = (map.data(&inputs), map.data(&outputs));
    let io = map.h(&inputs_root, &outputs_root);
    let graph = map.h(&nodes_root, &io);
    let body = map.h(&graph, &tensors_root);
    let root = map.h(&header.encode(), &body);
    let input_commitment = map.bytes(input);
    let task = map.h(&root, &input_commitment);
    let zero_inner = map.h(&ZERO, &ZERO);
    let s0 = map.h(&task, &zero_inner);
    assert_eq!(s0, state::start(&task));
    // The load: each graph input's slot gets its part of the input.
    let mut at = 0;
    for word in inputs.chunks_exact(4) {
        let t = u32::from_le_bytes(word.try_into().unwrap()) as usize;
        let Some(&(meta, len)) = metas.get(t) else {
            continue;
        };
        let part = &input[at.min(input.len())..at.saturating_add(len).min(input.len())];
        at = at.saturating_add(len);
        let c = map.bytes(part);
        slots[t] = map.h(&meta, &c);
    }
    let values1 = map.tree(&slots);
    let inner = map.h(&values1, &ZERO);
    let s1 = map.h(&task, &inner);
    assert_eq!(s1, state::state(&task, &values1, &ZERO));
    Forged {
        map,
        root,
        task,
        s0,
        s1,
        values1,
    }
}

/// The total byte length of the graph inputs, from the raw tensor table.
fn input_len(file: &[u8]) -> usize {
    let start = u32_at(file, 40) as usize;
    (0..u32_at(file, 24) as usize)
        .map(|i| {
            let t = u32_at(file, start + 4 * i);
            if t < u32_at(file, 16) {
                u32_at(file, tensor_entry(file, t) + 24) as usize
            } else {
                0
            }
        })
        .sum()
}

/// A block-quantized tensor that is not a constant.
fn block_kind(error: &ModelError) -> bool {
    matches!(error, ModelError::BlockKind { .. })
}

/// `file` (a one-node graph) is refused by the reader with an error `expect` accepts, and a
/// state committing to its root anyway is refused by the node step with `refusal`, at the
/// load or at the node.
fn assert_refused(name: &str, file: &[u8], expect: impl Fn(&ModelError) -> bool, refusal: Refusal) {
    let error = Model::parse(&AlignedBytes::from_slice(file)).map(|_| ());
    let error = error.expect_err(name);
    assert!(expect(&error), "{name}: {error:?}");
    let input = vec![0x3c; input_len(file)];
    let mut f = forge(file, &input);
    let refused_at_load = state::state(&f.task, &ZERO, &refusal.word());
    let s1 = step(&f.s0, 1, &mut f.map).unwrap_or_else(|e| panic!("{name}: {e:?}"));
    if s1 != refused_at_load {
        assert_eq!(s1, f.s1, "{name}: the load");
        let s2 = step(&s1, 2, &mut f.map).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        let refused = state::state(&f.task, &f.values1, &refusal.word());
        assert_eq!(
            s2, refused,
            "{name}: the node step does not refuse with {refusal:?}"
        );
        // A refused state is a fixed point.
        let inner = f.map.h(&f.values1, &refusal.word());
        f.map.h(&f.task, &inner);
        assert_eq!(step(&s2, 3, &mut f.map), Ok(s2), "{name}");
    }
}

fn params(e: &ModelError) -> bool {
    matches!(e, ModelError::Params { node: 0 })
}

fn mismatch(e: &ModelError) -> bool {
    matches!(e, ModelError::Mismatch { node: 0, .. })
}

fn params_or_mismatch(e: &ModelError) -> bool {
    params(e) || mismatch(e)
}

#[test]
fn the_forged_root_of_a_valid_file_is_its_model_root() {
    let file = one_node(
        &[In::Input(f32(&[2, 64])), In::Const(q4(&[3, 64]))],
        Op::QLinear { first_row: 0 },
        f32(&[2, 3]),
    );
    let model_file = AlignedBytes::from_slice(&file);
    let model = Model::parse(&model_file).unwrap();
    let input = vec![0x3c; input_len(&file)];
    let mut f = forge(&file, &input);
    assert_eq!(f.root, model.root());
    let run = GraphRun::new(&model, &input);
    assert_eq!(run.refusal(), None);
    assert_eq!((f.s0, f.s1), (run.state(0), run.state(1)));
    assert_eq!(step(&f.s0, 1, &mut f.map), Ok(run.state(1)));
    assert_eq!(run.values_at(1).root(), f.values1);
}

#[test]
fn malformed_rope_nodes_are_refused() {
    let x = [In::Input(f32(&[2, 8]))];
    let rope = |head_dim, position, base| Op::Rope {
        head_dim,
        position,
        base,
    };
    for (name, op) in [
        ("odd head_dim", rope(3, 0, 1e4)),
        ("head_dim 1", rope(1, 0, 1e4)),
        ("head_dim 0", rope(0, 0, 1e4)),
        ("negative head_dim", rope(1 << 31, 0, 1e4)),
        ("negative position", rope(8, 1 << 31, 1e4)),
        ("position -1", rope(8, u32::MAX, 1e4)),
        ("base NaN", rope(8, 0, f32::NAN)),
        ("base 0", rope(8, 0, 0.0)),
        ("base -0", rope(8, 0, -0.0)),
        ("base negative", rope(8, 0, -10_000.0)),
        ("base -subnormal", rope(8, 0, -f32::from_bits(1))),
        ("base infinite", rope(8, 0, f32::INFINITY)),
        ("base -infinite", rope(8, 0, f32::NEG_INFINITY)),
    ] {
        let file = one_node(&x, op, f32(&[2, 8]));
        assert_refused(name, &file, params, Refusal::Node);
    }
    let ok = rope(4, 7, 1e4);
    for (name, inputs, out) in [
        (
            "D not a multiple of head_dim",
            [In::Input(f32(&[2, 6]))],
            f32(&[2, 6]),
        ),
        ("head_dim past D", [In::Input(f32(&[2, 2]))], f32(&[2, 2])),
        ("rank 3", [In::Input(f32(&[1, 2, 8]))], f32(&[1, 2, 8])),
        ("rank 1", [In::Input(f32(&[8]))], f32(&[8])),
        ("i8 x", [In::Input(i8(&[2, 8]))], i8(&[2, 8])),
        ("block x", [In::Const(q8(&[2, 32]))], f32(&[2, 32])),
        ("wrong output shape", x, f32(&[1, 8])),
        ("wrong output dtype", x, i32(&[2, 8])),
    ] {
        let file = one_node(&inputs, ok, out);
        assert_refused(name, &file, mismatch, Refusal::Node);
    }
    // An unused parameter that is not 0.
    let mut file = one_node(&x, ok, f32(&[2, 8]));
    let at = node_entry(&file, 0) + 24 + 4 * 3;
    file[at] = 1;
    reseal(&mut file);
    assert_refused("rope params[3]", &file, params, Refusal::Node);
}

#[test]
fn malformed_attention_nodes_are_refused() {
    // q (1, H·hd) = (1, 8), k and v (T, KV·hd) = (5, 4): H 4, KV 2, hd 2.
    let (q, kv) = (In::Input(f32(&[1, 8])), In::Input(f32(&[5, 4])));
    let attention = |heads, kv_heads| Op::Attention { heads, kv_heads };
    let out = f32(&[1, 8]);
    for (name, op) in [
        ("heads 0", attention(0, 1)),
        ("kv_heads 0", attention(4, 0)),
        ("kv_heads not dividing", attention(4, 3)),
        ("kv_heads above heads", attention(2, 4)),
        ("negative heads", attention(1 << 31, 1)),
    ] {
        let file = one_node(&[q, kv, kv], op, out);
        assert_refused(name, &file, params, Refusal::Node);
    }
    let ok = attention(4, 2);
    let file = one_node(&[q, kv, kv], ok, out);
    assert!(Model::parse(&AlignedBytes::from_slice(&file)).is_ok());
    for (name, inputs, out) in [
        (
            "two query rows",
            [In::Input(f32(&[2, 8])), kv, kv],
            f32(&[2, 8]),
        ),
        (
            "q not H·hd",
            [In::Input(f32(&[1, 6])), kv, kv],
            f32(&[1, 6]),
        ),
        ("q rank 1", [In::Input(f32(&[8])), kv, kv], f32(&[8])),
        (
            "k not KV·hd",
            [q, In::Input(f32(&[5, 6])), In::Input(f32(&[5, 6]))],
            out,
        ),
        ("v not k's shape", [q, kv, In::Input(f32(&[4, 4]))], out),
        (
            "k rank 3",
            [q, In::Input(f32(&[1, 5, 4])), In::Input(f32(&[1, 5, 4]))],
            out,
        ),
        ("v i32", [q, kv, In::Input(i32(&[5, 4]))], out),
        ("k i8", [q, In::Input(i8(&[5, 4])), kv], out),
        ("q i8", [In::Input(i8(&[1, 8])), kv, kv], i8(&[1, 8])),
        ("wrong output shape", [q, kv, kv], f32(&[1, 4])),
        ("wrong output dtype", [q, kv, kv], i32(&[1, 8])),
    ] {
        let file = one_node(&inputs, ok, out);
        assert_refused(name, &file, mismatch, Refusal::Node);
    }
    let file = one_node(&[q, kv], ok, out);
    assert_refused(
        "two inputs",
        &file,
        |e| matches!(e, ModelError::Inputs { node: 0 }),
        Refusal::Node,
    );
    let mut file = one_node(&[q, kv, kv], ok, out);
    let at = node_entry(&file, 0) + 24 + 4 * 2;
    file[at] = 1;
    reseal(&mut file);
    assert_refused("attention params[2]", &file, params, Refusal::Node);
}

#[test]
fn malformed_concats_swiglus_and_qlinears_are_refused() {
    let f = |dims: &[u32]| In::Input(f32(dims));
    let quant = |scale, zero_point| Quant { scale, zero_point };
    let i8q = |dims: &[u32], q: Quant| TensorInfo {
        quant: q,
        ..i8(dims)
    };
    let (qa, qb) = (quant(0.5, 3), quant(0.25, 3));
    let cases: Vec<(&str, Vec<In>, Op, TensorInfo)> = vec![
        (
            "concat f32 and i32",
            vec![f(&[2, 3]), In::Input(i32(&[2, 3]))],
            Op::Concat,
            f32(&[4, 3]),
        ),
        (
            "concat trailing dims differ",
            vec![f(&[2, 3]), f(&[2, 4])],
            Op::Concat,
            f32(&[4, 3]),
        ),
        (
            "concat ranks differ",
            vec![f(&[2, 3]), f(&[2, 3, 1])],
            Op::Concat,
            f32(&[4, 3]),
        ),
        (
            "concat of scalars",
            vec![f(&[]), f(&[])],
            Op::Concat,
            f32(&[2]),
        ),
        (
            "concat wrong length",
            vec![f(&[2, 3]), f(&[3, 3])],
            Op::Concat,
            f32(&[6, 3]),
        ),
        (
            "concat wrong output dtype",
            vec![f(&[2, 3]), f(&[3, 3])],
            Op::Concat,
            i32(&[5, 3]),
        ),
        (
            "concat i8 quantizations differ",
            vec![In::Input(i8q(&[2], qa)), In::Input(i8q(&[3], qb))],
            Op::Concat,
            i8q(&[5], qa),
        ),
        (
            "concat i8 output quantization",
            vec![In::Input(i8q(&[2], qa)), In::Input(i8q(&[3], qa))],
            Op::Concat,
            i8q(&[5], qb),
        ),
        (
            "concat of blocks",
            vec![In::Const(q8(&[1, 32])), In::Const(q8(&[1, 32]))],
            Op::Concat,
            q8(&[2, 32]),
        ),
        (
            "swiglu shapes differ",
            vec![f(&[2, 3]), f(&[3, 2])],
            Op::SwiGlu,
            f32(&[2, 3]),
        ),
        (
            "swiglu i8 gate",
            vec![In::Input(i8(&[6])), f(&[6])],
            Op::SwiGlu,
            f32(&[6]),
        ),
        (
            "swiglu i32 up",
            vec![f(&[6]), In::Input(i32(&[6]))],
            Op::SwiGlu,
            f32(&[6]),
        ),
        (
            "swiglu wrong output",
            vec![f(&[6]), f(&[6])],
            Op::SwiGlu,
            f32(&[1, 6]),
        ),
        (
            "qlinear f32 W",
            vec![f(&[1, 32]), In::Const(f32(&[4, 32]))],
            Op::QLinear { first_row: 0 },
            f32(&[1, 4]),
        ),
        (
            "qlinear i8 W",
            vec![f(&[1, 32]), In::Const(i8(&[4, 32]))],
            Op::QLinear { first_row: 0 },
            f32(&[1, 4]),
        ),
        (
            "qlinear K differs",
            vec![f(&[1, 32]), In::Const(q8(&[4, 64]))],
            Op::QLinear { first_row: 0 },
            f32(&[1, 4]),
        ),
        (
            "qlinear W rank 3",
            vec![f(&[1, 32]), In::Const(q4(&[1, 4, 32]))],
            Op::QLinear { first_row: 0 },
            f32(&[1, 4]),
        ),
        (
            "qlinear W rank 1",
            vec![f(&[32]), In::Const(q4(&[32]))],
            Op::QLinear { first_row: 0 },
            f32(&[1]),
        ),
        (
            "qlinear i8 x",
            vec![In::Input(i8(&[1, 32])), In::Const(q4(&[4, 32]))],
            Op::QLinear { first_row: 0 },
            f32(&[1, 4]),
        ),
        (
            "qlinear block x",
            vec![In::Const(q4(&[1, 32])), In::Const(q4(&[4, 32]))],
            Op::QLinear { first_row: 0 },
            f32(&[1, 4]),
        ),
        (
            "qlinear scalar x",
            vec![f(&[]), In::Const(q4(&[4, 32]))],
            Op::QLinear { first_row: 0 },
            f32(&[4]),
        ),
        (
            "qlinear wrong output",
            vec![f(&[2, 32]), In::Const(q8(&[4, 32]))],
            Op::QLinear { first_row: 0 },
            f32(&[1, 4]),
        ),
    ];
    for (name, inputs, op, out) in cases {
        let file = one_node(&inputs, op, out);
        if out.dtype.block().is_some() {
            assert_refused(name, &file, block_kind, Refusal::Tensor);
        } else {
            assert_refused(name, &file, mismatch, Refusal::Node);
        }
    }
}

/// A tokenizer of the 256 byte tokens and SmolLM2's control tokens, no merges.
fn byte_tokenizer() -> Vec<u8> {
    let printable = |b: u8| matches!(b, 33..=126 | 161..=172 | 174..=255);
    let mut tokens: Vec<String> = (0..=255u8)
        .map(|b| {
            if printable(b) {
                char::from(b).to_string()
            } else {
                let n = (0..b).filter(|&x| !printable(x)).count() as u32;
                char::from_u32(256 + n).unwrap().to_string()
            }
        })
        .collect();
    tokens.extend(["<|endoftext|>", "<|im_start|>", "<|im_end|>"].map(String::from));
    let types: Vec<i32> = (0..tokens.len())
        .map(|i| if i < 256 { 1 } else { 3 })
        .collect();
    let names: Vec<&str> = tokens.iter().map(String::as_str).collect();
    Tables::build(&names, &types, &[]).unwrap()
}

fn record(prompt: &'static str, chat: bool) -> Vec<u8> {
    Task {
        chat,
        tokens: 4,
        sampling: Sampling {
            temperature: 0.8,
            top_k: 3,
            top_p: 0.9,
            seed: 42,
        },
        prompt,
    }
    .encode()
}

#[test]
fn malformed_token_nodes_are_refused() {
    let blob = byte_tokenizer();
    let tables = TensorInfo {
        quant: Quant {
            scale: 1.0,
            zero_point: 0,
        },
        ..i8(&[blob.len() as u32])
    };
    let rec = In::Input(i8(&[45]));
    let table = In::Const(tables);
    let ids = In::Input(i32(&[3]));
    let emb = In::Const(q4(&[300, 32]));
    let logits = In::Input(f32(&[1, 10]));
    let te = |index| Op::TokenEmbedding { index };
    let sample = |position| Op::Sample { position };
    let cases: Vec<(&str, Vec<In>, Op, TensorInfo)> = vec![
        (
            "tokenize i32 record",
            vec![In::Input(i32(&[45])), table],
            Op::Tokenize,
            i32(&[5]),
        ),
        (
            "tokenize record rank 2",
            vec![In::Input(i8(&[1, 45])), table],
            Op::Tokenize,
            i32(&[5]),
        ),
        (
            "tokenize f32 tables",
            vec![rec, In::Const(f32(&[8]))],
            Op::Tokenize,
            i32(&[5]),
        ),
        (
            "tokenize tables rank 2",
            vec![rec, In::Const(i8(&[2, 8]))],
            Op::Tokenize,
            i32(&[5]),
        ),
        (
            "tokenize f32 ids",
            vec![rec, table],
            Op::Tokenize,
            f32(&[5]),
        ),
        (
            "tokenize ids rank 2",
            vec![rec, table],
            Op::Tokenize,
            i32(&[1, 5]),
        ),
        (
            "token embedding index = T",
            vec![ids, emb],
            te(3),
            f32(&[1, 32]),
        ),
        (
            "token embedding index past T",
            vec![ids, emb],
            te(1000),
            f32(&[1, 32]),
        ),
        (
            "token embedding f32 ids",
            vec![In::Input(f32(&[3])), emb],
            te(0),
            f32(&[1, 32]),
        ),
        (
            "token embedding ids rank 2",
            vec![In::Input(i32(&[1, 3])), emb],
            te(0),
            f32(&[1, 32]),
        ),
        (
            "token embedding i8 table",
            vec![ids, In::Const(i8(&[300, 32]))],
            te(0),
            f32(&[1, 32]),
        ),
        (
            "token embedding i32 table",
            vec![ids, In::Const(i32(&[300, 32]))],
            te(0),
            f32(&[1, 32]),
        ),
        (
            "token embedding table rank 3",
            vec![ids, In::Const(q8(&[2, 3, 32]))],
            te(0),
            f32(&[1, 32]),
        ),
        (
            "token embedding output width",
            vec![ids, emb],
            te(0),
            f32(&[1, 64]),
        ),
        (
            "token embedding output rank 1",
            vec![ids, emb],
            te(0),
            f32(&[32]),
        ),
        (
            "sample two rows",
            vec![In::Input(f32(&[2, 10])), rec],
            sample(0),
            i32(&[1]),
        ),
        (
            "sample i8 logits",
            vec![In::Input(i8(&[1, 10])), rec],
            sample(0),
            i32(&[1]),
        ),
        (
            "sample f32 record",
            vec![logits, In::Input(f32(&[45]))],
            sample(0),
            i32(&[1]),
        ),
        (
            "sample record rank 2",
            vec![logits, In::Input(i8(&[1, 45]))],
            sample(0),
            i32(&[1]),
        ),
        ("sample f32 output", vec![logits, rec], sample(0), f32(&[1])),
        (
            "sample two outputs",
            vec![logits, rec],
            sample(0),
            i32(&[2]),
        ),
    ];
    for (name, inputs, op, out) in cases {
        let file = one_node(&inputs, op, out);
        assert_refused(name, &file, mismatch, Refusal::Node);
    }
    for (name, inputs, op, out) in [
        (
            "token embedding negative index",
            vec![ids, emb],
            te(1 << 31),
            f32(&[1, 32]),
        ),
        (
            "token embedding index -1",
            vec![ids, emb],
            te(u32::MAX),
            f32(&[1, 32]),
        ),
        (
            "sample negative position",
            vec![logits, rec],
            sample(1 << 31),
            i32(&[1]),
        ),
    ] {
        let file = one_node(&inputs, op, out);
        assert_refused(name, &file, params, Refusal::Node);
    }
    // Operators without parameters, and unused parameters, must be 0.
    for (name, inputs, op, out, at) in [
        (
            "tokenize params[0]",
            vec![rec, table],
            Op::Tokenize,
            i32(&[5]),
            0,
        ),
        (
            "token embedding params[1]",
            vec![ids, emb],
            te(0),
            f32(&[1, 32]),
            1,
        ),
        (
            "sample params[7]",
            vec![logits, rec],
            sample(0),
            i32(&[1]),
            7,
        ),
        ("concat params[0]", vec![ids, ids], Op::Concat, i32(&[6]), 0),
        (
            "swiglu params[4]",
            vec![logits, logits],
            Op::SwiGlu,
            f32(&[1, 10]),
            4,
        ),
        (
            "qlinear params[1]",
            vec![In::Input(f32(&[32])), emb],
            Op::QLinear { first_row: 0 },
            f32(&[300]),
            1,
        ),
    ] {
        let mut file = one_node(&inputs, op, out);
        let entry = node_entry(&file, 0) + 24 + 4 * at;
        file[entry + 2] = 0x80;
        reseal(&mut file);
        assert_refused(name, &file, params, Refusal::Node);
    }
    for arity in [1, 3] {
        let inputs = [ids, emb, emb];
        let file = one_node(&inputs[..arity], te(0), f32(&[1, 32]));
        assert_refused(
            "token embedding arity",
            &file,
            |e| matches!(e, ModelError::Inputs { node: 0 }),
            Refusal::Node,
        );
    }
}

#[test]
fn block_tensors_are_refused_where_they_cannot_be() {
    let q = |dims: &[u32]| In::Const(q4(dims));
    let f = |dims: &[u32]| In::Input(f32(dims));
    let layer = Epilogue {
        requant: None,
        relu: false,
    };
    let conv = Conv {
        stride_h: 1,
        stride_w: 1,
        pad_h: 0,
        pad_w: 0,
    };
    let pool = Pool {
        kernel_h: 1,
        kernel_w: 1,
        stride_h: 1,
        stride_w: 1,
    };
    // Every operator with a block-quantized tensor where it takes none.
    let cases: Vec<(&str, Vec<In>, Op, TensorInfo)> = vec![
        ("reshape", vec![q(&[2, 32])], Op::Reshape, q4(&[1, 64])),
        ("reshape to f32", vec![q(&[2, 32])], Op::Reshape, f32(&[64])),
        (
            "argmax",
            vec![In::Const(q8(&[2, 32]))],
            Op::Argmax,
            i32(&[2]),
        ),
        ("relu", vec![q(&[1, 32])], Op::Relu, q4(&[1, 32])),
        ("gelu", vec![q(&[1, 32])], Op::Gelu, f32(&[1, 32])),
        ("silu", vec![q(&[1, 32])], Op::Silu, f32(&[1, 32])),
        ("softmax", vec![q(&[1, 32])], Op::Softmax, f32(&[1, 32])),
        (
            "rms norm",
            vec![q(&[1, 32]), f(&[32])],
            Op::RmsNorm { eps: 1e-5 },
            f32(&[1, 32]),
        ),
        (
            "rms norm γ",
            vec![f(&[1, 32]), q(&[32])],
            Op::RmsNorm { eps: 1e-5 },
            f32(&[1, 32]),
        ),
        (
            "layer norm",
            vec![q(&[1, 32]), f(&[32]), f(&[32])],
            Op::LayerNorm { eps: 1e-5 },
            f32(&[1, 32]),
        ),
        (
            "dense x",
            vec![q(&[1, 32]), In::Const(f32(&[4, 32]))],
            Op::Dense(layer),
            f32(&[1, 4]),
        ),
        (
            "dense W",
            vec![f(&[1, 32]), q(&[4, 32])],
            Op::Dense(layer),
            f32(&[1, 4]),
        ),
        (
            "conv2d W",
            vec![f(&[1, 1, 2, 32]), q(&[1, 1, 1, 32])],
            Op::Conv2d(conv, layer),
            f32(&[1, 1, 2, 1]),
        ),
        (
            "max pool",
            vec![q(&[1, 1, 1, 32])],
            Op::MaxPool2d(pool),
            q4(&[1, 1, 1, 32]),
        ),
        (
            "avg pool",
            vec![q(&[1, 1, 1, 32])],
            Op::AvgPool2d(pool),
            f32(&[1, 1, 1, 32]),
        ),
        (
            "embedding table",
            vec![In::Input(i32(&[1])), q(&[4, 32])],
            Op::Embedding,
            q4(&[1, 32]),
        ),
        (
            "embedding table as f32",
            vec![In::Input(i32(&[1])), q(&[4, 32])],
            Op::Embedding,
            f32(&[1, 32]),
        ),
        (
            "add",
            vec![q(&[1, 32]), f(&[1, 32])],
            Op::Add,
            f32(&[1, 32]),
        ),
        (
            "mul b",
            vec![f(&[1, 32]), q(&[1, 32])],
            Op::Mul,
            f32(&[1, 32]),
        ),
        (
            "matmul B",
            vec![f(&[1, 32]), q(&[32, 32])],
            Op::MatMul,
            f32(&[1, 32]),
        ),
        ("quantize", vec![q(&[1, 32])], Op::Quantize, i8(&[1, 32])),
        (
            "dequantize",
            vec![q(&[1, 32])],
            Op::Dequantize,
            f32(&[1, 32]),
        ),
        (
            "swiglu",
            vec![q(&[1, 32]), q(&[1, 32])],
            Op::SwiGlu,
            f32(&[1, 32]),
        ),
        (
            "attention k",
            vec![f(&[1, 32]), q(&[2, 32]), q(&[2, 32])],
            Op::Attention {
                heads: 1,
                kv_heads: 1,
            },
            f32(&[1, 32]),
        ),
        (
            "sample logits",
            vec![q(&[1, 32]), In::Input(i8(&[45]))],
            Op::Sample { position: 0 },
            i32(&[1]),
        ),
        (
            "tokenize record",
            vec![q(&[1, 32]), In::Input(i8(&[45]))],
            Op::Tokenize,
            i32(&[1]),
        ),
        (
            "token embedding ids",
            vec![q(&[1, 32]), q(&[4, 32])],
            Op::TokenEmbedding { index: 0 },
            f32(&[1, 32]),
        ),
        (
            "qlinear output",
            vec![f(&[1, 32]), q(&[4, 32])],
            Op::QLinear { first_row: 0 },
            q4(&[1, 32]),
        ),
        (
            "token embedding output",
            vec![In::Input(i32(&[1])), q(&[4, 32])],
            Op::TokenEmbedding { index: 0 },
            q4(&[1, 32]),
        ),
        (
            "concat output",
            vec![f(&[1, 32]), f(&[1, 32])],
            Op::Concat,
            q4(&[2, 32]),
        ),
    ];
    for (name, inputs, op, out) in cases {
        let file = one_node(&inputs, op, out);
        if out.dtype.block().is_some() {
            assert_refused(name, &file, block_kind, Refusal::Tensor);
        } else {
            assert_refused(name, &file, params_or_mismatch, Refusal::Node);
        }
    }
}

#[test]
fn block_tensors_whose_rows_are_not_whole_blocks_are_refused() {
    // A constant Q4_1 (4, 32) and a graph input Q8_0 (2, 32), their dims rewritten to rows
    // that are not a multiple of 32 (the byte length kept, or not).
    let file = one_node(
        &[In::Input(f32(&[1, 32])), In::Const(q4(&[4, 32]))],
        Op::QLinear { first_row: 0 },
        f32(&[1, 4]),
    );
    for (t, dims) in [
        (1u32, [8u32, 16]),
        (1, [4, 33]),
        (1, [2, 64 + 16]),
        (1, [4, 31]),
    ] {
        let mut file = file.clone();
        let e = tensor_entry(&file, t);
        file[e + 4..e + 8].copy_from_slice(&dims[0].to_le_bytes());
        file[e + 8..e + 12].copy_from_slice(&dims[1].to_le_bytes());
        reseal(&mut file);
        let name = format!("constant Q4_1 {dims:?}");
        assert_refused(
            &name,
            &file,
            |e| matches!(e, ModelError::Shape { tensor: 1 }),
            Refusal::Tensor,
        );
    }
    // A rank-0 block tensor: one value, no whole block.
    let mut file = file.clone();
    let e = tensor_entry(&file, 1);
    file[e + 1] = 0;
    file[e + 4..e + 12].copy_from_slice(&[1, 0, 0, 0, 1, 0, 0, 0]);
    reseal(&mut file);
    assert_refused(
        "constant Q4_1 scalar",
        &file,
        |e| matches!(e, ModelError::Shape { tensor: 1 }),
        Refusal::Tensor,
    );
}

/// A graph whose QLinear weights are a Q8_0 graph input, not a constant.
fn block_input_graph() -> Vec<u8> {
    one_node(
        &[In::Input(f32(&[1, 32])), In::Input(q8(&[4, 32]))],
        Op::QLinear { first_row: 0 },
        f32(&[1, 4]),
    )
}

/// The reader refuses a block-quantized tensor that is not a constant (`DType::Q4_1` and
/// `DType::Q8_0` are documented "constants only"): a graph input the host would have to
/// supply blocks for.
#[test]
fn block_graph_inputs_are_refused() {
    let file = block_input_graph();
    let parsed = Model::parse(&AlignedBytes::from_slice(&file)).map(|_| ());
    assert!(
        matches!(parsed, Err(ModelError::BlockKind { .. })),
        "a Q8_0 graph input parses: {parsed:?}"
    );
}

/// Runs `file` natively on `input` and checks every state against the node step.
fn run_and_step(name: &str, file: &[u8], input: &[u8]) -> GraphRun {
    let file = AlignedBytes::from_slice(file);
    let model = Model::parse(&file).unwrap_or_else(|e| panic!("{name}: {e}"));
    let run = GraphRun::new(&model, input);
    for j in 1..=run.step_count() + 1 {
        let mut map = Map::default();
        run.preimages(&model, j, &mut |p: Preimage| {
            let key: Hash = node(p[..32].try_into().unwrap(), p[32..].try_into().unwrap());
            map.0.insert(key, p);
        });
        // A node entry's preimage is the entry and 8 zero bytes, keyed by its hash.
        assert_eq!(
            step(&run.state(j - 1), j, &mut map),
            Ok(run.state(j)),
            "{name}: S({j})"
        );
    }
    run
}

#[test]
fn runs_the_kernels_refuse_are_refused_natively_and_by_the_node_step() {
    let blob = byte_tokenizer();
    let tables = Tensor::i8(
        &[blob.len() as u32],
        blob.iter().map(|&b| b as i8).collect(),
        Quant {
            scale: 1.0,
            zero_point: 0,
        },
    )
    .unwrap();
    let tokenize = |record: &[u8], tables: &Tensor, n: u32| {
        let mut b = ModelBuilder::new();
        let r = b.input(i8(&[record.len() as u32]));
        let t = b.constant(tables);
        let ids = b.node(Op::Tokenize, &[r, t], i32(&[n]));
        b.output(ids);
        (b.finish().to_vec(), record.to_vec())
    };
    // "a 1": three byte tokens; in the chat template, many more.
    let plain = record("a 1", false);
    let chat = record("a 1", true);
    let mut chat_ids = Vec::new();
    Tables::parse(&blob)
        .unwrap()
        .encode_chat(b"a 1", &mut chat_ids);
    let chat_n = chat_ids.len() as u32;
    let (file, input) = tokenize(&plain, &tables, 3);
    assert_eq!(run_and_step("tokenize", &file, &input).refusal(), None);
    let (file, input) = tokenize(&chat, &tables, chat_n);
    assert_eq!(run_and_step("tokenize chat", &file, &input).refusal(), None);
    let edit = |at: usize, bytes: &[u8]| {
        let mut r = plain.clone();
        r[at..at + bytes.len()].copy_from_slice(bytes);
        r
    };
    let mut bad_tables = blob.clone();
    bad_tables[0] = b'X';
    let bad_tables = Tensor::i8(
        &[blob.len() as u32],
        bad_tables.iter().map(|&b| b as i8).collect(),
        tables.quant(),
    )
    .unwrap();
    let mut cases = vec![
        ("one id too many", tokenize(&plain, &tables, 4)),
        ("one id too few", tokenize(&plain, &tables, 2)),
        ("chat ids as plain", tokenize(&plain, &tables, chat_n)),
        ("bad magic", tokenize(&edit(0, b"OPMLLLM2"), &tables, 3)),
        ("unknown flag", tokenize(&edit(8, &[2]), &tables, 3)),
        ("reserved word", tokenize(&edit(31, &[1]), &tables, 3)),
        (
            "temperature NaN",
            tokenize(&edit(16, &f32::NAN.to_le_bytes()), &tables, 3),
        ),
        (
            "temperature -1",
            tokenize(&edit(16, &(-1f32).to_le_bytes()), &tables, 3),
        ),
        (
            "temperature ∞",
            tokenize(&edit(16, &f32::INFINITY.to_le_bytes()), &tables, 3),
        ),
        (
            "top-p 0",
            tokenize(&edit(24, &0f32.to_le_bytes()), &tables, 3),
        ),
        (
            "top-p above 1",
            tokenize(&edit(24, &1.01f32.to_le_bytes()), &tables, 3),
        ),
        ("prompt not UTF-8", tokenize(&edit(41, &[0xff]), &tables, 3)),
        ("short record", tokenize(&plain[..39], &tables, 3)),
        ("bad tables", tokenize(&plain, &bad_tables, 3)),
    ];
    // Sample with an invalid record (its logits are fine).
    for (name, bad) in [
        ("sample: top-p 0", edit(24, &0f32.to_le_bytes())),
        ("sample: temperature NaN", edit(16, &f32::NAN.to_le_bytes())),
        ("sample: header only", plain[..40].to_vec()),
    ] {
        let mut b = ModelBuilder::new();
        let logits = b.input(f32(&[1, 3]));
        let r = b.input(i8(&[bad.len() as u32]));
        let next = b.node(Op::Sample { position: 1 }, &[logits, r], i32(&[1]));
        b.output(next);
        let input = [[0u8; 12].as_slice(), &bad].concat();
        let valid = name == "sample: header only";
        let run = run_and_step(name, &b.finish(), &input);
        let expected = if valid { None } else { Some(Refusal::Compute) };
        assert_eq!(run.refusal(), expected, "{name}");
    }
    // TokenEmbedding of an id out of the table (f32 and block tables).
    for id in [4, 5, -1, i32::MIN, i32::MAX] {
        for table in [filled(f32(&[4, 3]), 0x3f), filled(q8(&[4, 32]), 0x11)] {
            let mut b = ModelBuilder::new();
            let ids = b.input(i32(&[2]));
            let t = b.constant(&table);
            let width = table.shape().last() as u32;
            let x = b.node(Op::TokenEmbedding { index: 1 }, &[ids, t], f32(&[1, width]));
            b.output(x);
            let input: Vec<u8> = [0, id].iter().flat_map(|v: &i32| v.to_le_bytes()).collect();
            cases.push((
                "token embedding id out of range",
                (b.finish().to_vec(), input),
            ));
        }
    }
    for (name, (file, input)) in cases {
        let run = run_and_step(name, &file, &input);
        assert_eq!(run.refusal(), Some(Refusal::Compute), "{name}");
        assert_eq!(run.output(), None);
    }
}

#[test]
fn block_constants_with_any_scales_run() {
    // f16 scales of every kind (infinities, NaNs, subnormals) in QLinear and TokenEmbedding:
    // never a panic, and every f32 output canonical.
    let scales: [u16; 8] = [
        0x7c00, 0xfc00, 0x7e01, 0x0001, 0x8000, 0x3c00, 0x7bff, 0x03ff,
    ];
    for format in [BlockFormat::Q4_1, BlockFormat::Q8_0] {
        let bb = format.block_bytes();
        let mut bytes = Vec::new();
        for (i, &d) in scales.iter().enumerate() {
            let mut block = vec![(i * 37) as u8; bb];
            block[..2].copy_from_slice(&d.to_le_bytes());
            if format == BlockFormat::Q4_1 {
                block[2..4].copy_from_slice(&scales[7 - i].to_le_bytes());
            }
            bytes.extend(block);
        }
        let w = Tensor::new(Shape::new(&[4, 64]).unwrap(), Data::Blocks(format, bytes)).unwrap();
        let mut b = ModelBuilder::new();
        let x = b.input(f32(&[2, 64]));
        let ids = b.input(i32(&[1]));
        let wt = b.constant(&w);
        let y = b.node(Op::QLinear { first_row: 0 }, &[x, wt], f32(&[2, 4]));
        let e = b.node(Op::TokenEmbedding { index: 0 }, &[ids, wt], f32(&[1, 64]));
        b.output(y);
        b.output(e);
        let file = b.finish();
        for fill in [0.5f32, f32::NAN, -0.0, f32::INFINITY] {
            for id in 0..4i32 {
                let input: Vec<u8> = (0..128)
                    .flat_map(|_| fill.to_le_bytes())
                    .chain(id.to_le_bytes())
                    .collect();
                let run = run_and_step("scales", &file, &input);
                assert_eq!(run.refusal(), None);
                let out = run.output().unwrap();
                for v in out.chunks_exact(4) {
                    let v = f32::from_le_bytes(v.try_into().unwrap());
                    assert!(!v.is_nan() || v.to_bits() == 0x7fc0_0000, "{v:?}");
                }
            }
        }
    }
}

/// A small graph of every LLM operator, as an LLM graph chains them, and a valid input: the
/// task record, then two rows of a key and a value cache.
fn llm_graph() -> (Vec<u8>, Vec<u8>) {
    let blob = byte_tokenizer();
    let record = record("Hi 7", false);
    let mut ids = Vec::new();
    Tables::parse(&blob).unwrap().encode(b"Hi 7", &mut ids);
    let n = ids.len() as u32;
    let mut b = ModelBuilder::new();
    let rec = b.input(i8(&[record.len() as u32]));
    let k_old = b.input(f32(&[2, 4]));
    let v_old = b.input(f32(&[2, 4]));
    let blob: Vec<i8> = blob.iter().map(|&b| b as i8).collect();
    let tables = Tensor::i8(&[blob.len() as u32], blob, i8(&[1]).quant).unwrap();
    let tables = b.constant(&tables);
    let embedding = b.constant(&filled(q4(&[260, 32]), 0x35));
    let wk = b.constant(&filled(q8(&[4, 32]), 0x21));
    let wq = b.constant(&filled(q8(&[8, 32]), 0x13));
    let head = b.constant(&filled(q4(&[6, 32]), 0x42));
    let ids_t = b.node(Op::Tokenize, &[rec, tables], i32(&[n]));
    let x = b.node(
        Op::TokenEmbedding { index: n - 1 },
        &[ids_t, embedding],
        f32(&[1, 32]),
    );
    let q = b.node(Op::QLinear { first_row: 0 }, &[x, wq], f32(&[1, 8]));
    let rope = Op::Rope {
        head_dim: 4,
        position: n - 1,
        base: 10_000.0,
    };
    let q = b.node(rope, &[q], f32(&[1, 8]));
    let k = b.node(Op::QLinear { first_row: 0 }, &[x, wk], f32(&[1, 4]));
    let keys = b.node(Op::Concat, &[k_old, k], f32(&[3, 4]));
    let values = b.node(Op::Concat, &[v_old, k], f32(&[3, 4]));
    let attention = Op::Attention {
        heads: 2,
        kv_heads: 1,
    };
    let a = b.node(attention, &[q, keys, values], f32(&[1, 8]));
    let h = b.node(Op::SwiGlu, &[a, q], f32(&[1, 8]));
    let logits = b.node(Op::QLinear { first_row: 0 }, &[x, head], f32(&[1, 6]));
    let next = b.node(Op::Sample { position: n }, &[logits, rec], i32(&[1]));
    let out = b.node(Op::Concat, &[ids_t, next], i32(&[n + 1]));
    b.output(out);
    b.output(h);
    let caches: Vec<u8> = (0..16)
        .flat_map(|i| (i as f32 / 8.0 - 1.0).to_le_bytes())
        .collect();
    (b.finish().to_vec(), [record, caches].concat())
}

#[test]
fn the_llm_graph_runs_alike_natively_and_in_the_node_step() {
    let (file, input) = llm_graph();
    let run = run_and_step("llm graph", &file, &input);
    assert_eq!(run.refusal(), None);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    /// Mutated LLM graphs (their tables or their constants, resealed) never make the reader,
    /// the native run or the node step on a state committing to them panic.
    #[test]
    fn mutated_llm_graphs_never_panic(
        edits in proptest::collection::vec((any::<usize>(), any::<u8>(), any::<bool>()), 1..6),
        constants in any::<bool>(),
    ) {
        let (mut file, input) = llm_graph();
        let (start, end) = if constants {
            (u32_at(&file, 48) as usize, file.len() - 32)
        } else {
            (u32_at(&file, 32) as usize, u32_at(&file, 48) as usize)
        };
        for (at, value, small) in edits {
            file[start + at % (end - start)] = if small { value % 8 } else { value };
        }
        reseal(&mut file);
        let buffer = AlignedBytes::from_slice(&file);
        if let Ok(model) = Model::parse(&buffer) {
            let len: usize = model
                .inputs()
                .iter()
                .map(|&t| model.meta(t).unwrap().byte_len())
                .sum();
            let input = if len == input.len() { input.clone() } else { vec![0x41; len] };
            let _ = GraphRun::new(&model, &input);
        }
        let len = input_len(&file);
        if len <= 1 << 16 {
            let input = if len == input.len() { input } else { vec![0x41; len] };
            let mut f = forge(&file, &input);
            let mut s = f.s0;
            for j in 1..=4 {
                match step(&s, j, &mut f.map) {
                    Ok(next) => s = next,
                    Err(Missing(_)) => break,
                }
            }
        }
    }
}

// The operators against `docs/dnn.md`, "LLM operators": each formula written out plainly from
// the spec (full sorts, no lanes, no lazy prefix) and compared bit for bit with the executor.

/// SplitMix64, for the spec tests' random cases.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// Ordinary values, any bit patterns, or ordinary values with specials mixed in.
    fn f32s(&mut self, n: usize) -> Vec<f32> {
        let mode = self.below(4);
        (0..n)
            .map(|_| {
                let r = self.next();
                let sane = (r >> 40) as f32 / (1u32 << 23) as f32 - 1.0;
                match mode {
                    0 | 1 => sane * 4.0,
                    2 => f32::from_bits(r as u32),
                    _ => match r % 16 {
                        0 => f32::NAN,
                        1 => f32::INFINITY,
                        2 => f32::NEG_INFINITY,
                        3 => -0.0,
                        4 => 0.0,
                        _ => sane,
                    },
                }
            })
            .collect()
    }

    /// Block bytes: random, with an ordinary or special f16 scale (and minimum) most of the time.
    fn blocks(&mut self, format: BlockFormat, count: usize) -> Vec<u8> {
        let mut bytes: Vec<u8> = Vec::new();
        for _ in 0..count {
            let mut block: Vec<u8> = (0..format.block_bytes())
                .map(|_| self.next() as u8)
                .collect();
            for at in [0, 2] {
                if at == 2 && format == BlockFormat::Q8_0 {
                    break;
                }
                let scale: u16 = match self.below(4) {
                    0 => self.next() as u16,
                    1 => [0x7c00, 0xfc00, 0x7e00, 0x0001, 0x8000, 0x03ff][self.below(6) as usize],
                    _ => 0x2000 + self.below(0x1000) as u16,
                };
                block[at..at + 2].copy_from_slice(&scale.to_le_bytes());
            }
            bytes.extend(block);
        }
        bytes
    }
}

fn canon(x: f32) -> f32 {
    if x.is_nan() {
        f32::from_bits(0x7fc0_0000)
    } else {
        x
    }
}

fn bits(values: &[f32]) -> Vec<u32> {
    values.iter().map(|v| canon(*v).to_bits()).collect()
}

/// Runs a one-node graph: `op` on `inputs` (constants if `true`), writing `out`.
fn run_one(
    op: Op,
    inputs: &[(Tensor, bool)],
    out: TensorInfo,
) -> Result<Tensor, opml_dnn::DnnError> {
    let mut b = ModelBuilder::new();
    let mut given = Vec::new();
    let indices: Vec<u32> = inputs
        .iter()
        .map(|(t, constant)| {
            if *constant {
                b.constant(t)
            } else {
                given.push(t.clone());
                b.input(t.info())
            }
        })
        .collect();
    let y = b.node(op, &indices, out);
    b.output(y);
    let file = b.finish();
    let model = Model::parse(&file).expect("a valid one-node graph");
    Ok(opml_dnn::run(&model, &given)?.remove(0))
}

fn f16(bits: u16) -> f32 {
    opml_llm::quant::f16_to_f32(bits)
}

/// Value `i` of a block, as the dtype table says.
fn block_value(format: BlockFormat, block: &[u8], i: usize) -> f32 {
    let d = f16(u16::from_le_bytes([block[0], block[1]]));
    match format {
        BlockFormat::Q4_1 => {
            let m = f16(u16::from_le_bytes([block[2], block[3]]));
            let q = if i < 16 {
                block[4 + i] & 15
            } else {
                block[4 + i - 16] >> 4
            };
            f32::from(q) * d + m
        }
        BlockFormat::Q8_0 => f32::from(block[2 + i] as i8) * d,
    }
}

fn spec_qlinear(x: &[f32], w: &[u8], format: BlockFormat, n: usize, k: usize) -> Vec<f32> {
    let bb = format.block_bytes();
    let mut out = Vec::new();
    for row in x.chunks_exact(k) {
        let (mut ds, mut ss, mut qs) = (Vec::new(), Vec::new(), Vec::new());
        for block in row.chunks_exact(32) {
            let mut amax = 0.0f32;
            for v in block {
                if v.abs() > amax {
                    amax = v.abs();
                }
            }
            let d = amax / 127.0;
            let id = if d != 0.0 { 1.0 / d } else { 0.0 };
            let q: Vec<i32> = block
                .iter()
                .map(|v| (libm::roundf(v * id) as i32).clamp(-127, 127))
                .collect();
            ds.push(d);
            ss.push(d * q.iter().sum::<i32>() as f32);
            qs.push(q);
        }
        for r in 0..n {
            let mut acc = 0.0f32;
            for (b, q) in qs.iter().enumerate() {
                let block = &w[(r * k / 32 + b) * bb..][..bb];
                let dw = f16(u16::from_le_bytes([block[0], block[1]]));
                let qw = |i: usize| -> i32 {
                    match format {
                        BlockFormat::Q4_1 => i32::from(if i < 16 {
                            block[4 + i] & 15
                        } else {
                            block[4 + i - 16] >> 4
                        }),
                        BlockFormat::Q8_0 => i32::from(block[2 + i] as i8),
                    }
                };
                let isum: i32 = (0..32).map(|i| qw(i) * q[i]).sum();
                acc = match format {
                    BlockFormat::Q4_1 => {
                        let mw = f16(u16::from_le_bytes([block[2], block[3]]));
                        acc + ((dw * ds[b]) * (isum as f32) + mw * ss[b])
                    }
                    BlockFormat::Q8_0 => acc + (dw * ds[b]) * (isum as f32),
                };
            }
            out.push(acc);
        }
    }
    out
}

fn spec_rope(x: &[f32], d: usize, head_dim: usize, position: u32, base: f32) -> Vec<f32> {
    let mut out = x.to_vec();
    for (r, row) in out.chunks_exact_mut(d).enumerate() {
        let pos = position + r as u32;
        let scale = libm::powf(base, -2.0 / (head_dim as f32));
        let mut theta = vec![pos as f32];
        for i in 1..head_dim / 2 {
            theta.push(theta[i - 1] * scale);
        }
        for head in row.chunks_exact_mut(head_dim) {
            for (i, &t) in theta.iter().enumerate() {
                let (c, s) = (libm::cosf(t), libm::sinf(t));
                let (x0, x1) = (head[2 * i], head[2 * i + 1]);
                head[2 * i] = x0 * c - x1 * s;
                head[2 * i + 1] = x0 * s + x1 * c;
            }
        }
    }
    out
}

#[allow(clippy::needless_range_loop)] // the spec's indices, as written
fn spec_attention(q: &[f32], k: &[f32], v: &[f32], heads: usize, kv_heads: usize) -> Vec<f32> {
    let hd = q.len() / heads;
    let t = k.len() / (kv_heads * hd);
    let mut out = Vec::new();
    for h in 0..heads {
        let g = h / (heads / kv_heads);
        let scale = 1.0 / libm::sqrtf(hd as f32);
        let key = |j: usize, d: usize| k[j * kv_heads * hd + g * hd + d];
        let value = |j: usize, d: usize| v[j * kv_heads * hd + g * hd + d];
        let a: Vec<f32> = (0..t)
            .map(|j| {
                let mut dot = 0.0f32;
                for d in 0..hd {
                    dot += q[h * hd + d] * key(j, d);
                }
                dot * scale
            })
            .collect();
        let mut max = f32::NEG_INFINITY;
        for &aj in &a {
            if aj > max {
                max = aj;
            }
        }
        let e: Vec<f32> = a.iter().map(|aj| libm::expf(aj - max)).collect();
        let mut sum = 0.0f32;
        for ej in &e {
            sum += ej;
        }
        let inv = 1.0 / sum;
        let p: Vec<f32> = e.iter().map(|ej| ej * inv).collect();
        for d in 0..hd {
            let mut o = 0.0f32;
            for j in 0..t {
                o += p[j] * value(j, d);
            }
            out.push(o);
        }
    }
    out
}

fn spec_sample(l: &[f32], s: &Sampling, position: u32) -> u32 {
    let t = s.temperature;
    if t.is_nan() || t <= 0.0 {
        let mut best: Option<usize> = None;
        for (i, v) in l.iter().enumerate() {
            if !v.is_nan() && best.is_none_or(|b| *v > l[b]) {
                best = Some(i);
            }
        }
        return best.unwrap_or(0) as u32;
    }
    let mut cands: Vec<usize> = (0..l.len()).filter(|&i| !l[i].is_nan()).collect();
    if cands.is_empty() {
        return 0;
    }
    // Logit descending (−0 = +0), then id ascending.
    cands.sort_by(|&a, &b| {
        (l[b] + 0.0)
            .partial_cmp(&(l[a] + 0.0))
            .unwrap()
            .then(a.cmp(&b))
    });
    let k = s.top_k as usize;
    if k != 0 && k < cands.len() {
        cands.truncate(k);
    }
    let z0 = l[cands[0]] / t;
    let e = |i: usize| libm::expf(l[i] / t - z0);
    let mut by_id = cands.clone();
    by_id.sort();
    let mut sum = 0.0f32;
    for &i in &by_id {
        sum += e(i);
    }
    let (mut kept, mut total) = (cands.len(), sum);
    if s.top_p < 1.0 {
        let mut c = 0.0f32;
        for (n, &i) in cands.iter().enumerate() {
            c += e(i);
            if c >= s.top_p * sum {
                (kept, total) = (n + 1, c);
                break;
            }
        }
    }
    let gamma = 0x9e37_79b9_7f4a_7c15u64;
    let mut z = s
        .seed
        .wrapping_add((u64::from(position) + 1).wrapping_mul(gamma));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    let u = z ^ (z >> 31);
    let r = ((u >> 40) as f32 * (1.0 / 16_777_216.0)) * total;
    let mut c = 0.0f32;
    for &i in &cands[..kept] {
        c += e(i);
        if r < c {
            return i as u32;
        }
    }
    cands[kept - 1] as u32
}

#[test]
fn the_llm_operators_follow_the_spec() {
    let mut rng = Rng(0x5bec);
    let tensor = |dims: &[u32], v: Vec<f32>| Tensor::f32(dims, v).unwrap();
    for case in 0..2000 {
        // QLinear and TokenEmbedding of a block table.
        let format = [BlockFormat::Q4_1, BlockFormat::Q8_0][case % 2];
        let dtype = [DType::Q4_1, DType::Q8_0][case % 2];
        let (rows, n, k) = (
            1 + rng.below(3) as usize,
            1 + rng.below(9) as usize,
            32 * (1 + rng.below(4) as usize),
        );
        let x = rng.f32s(rows * k);
        let w = rng.blocks(format, n * k / 32);
        let wt = Tensor::new(
            Shape::new(&[n as u32, k as u32]).unwrap(),
            Data::Blocks(format, w.clone()),
        )
        .unwrap();
        let y = run_one(
            Op::QLinear { first_row: 0 },
            &[
                (tensor(&[rows as u32, k as u32], x.clone()), false),
                (wt.clone(), true),
            ],
            f32(&[rows as u32, n as u32]),
        )
        .unwrap();
        assert_eq!(
            bits(y.values().unwrap()),
            bits(&spec_qlinear(&x, &w, format, n, k)),
            "qlinear {case}"
        );
        let id = rng.below(n as u64) as usize;
        let e = run_one(
            Op::TokenEmbedding { index: 0 },
            &[
                (Tensor::i32(&[1], vec![id as i32]).unwrap(), false),
                (wt, true),
            ],
            f32(&[1, k as u32]),
        )
        .unwrap();
        let row = &w[id * k / 32 * format.block_bytes()..][..k / 32 * format.block_bytes()];
        let want: Vec<f32> = (0..k)
            .map(|i| block_value(format, &row[i / 32 * format.block_bytes()..], i % 32))
            .collect();
        assert_eq!(
            bits(e.values().unwrap()),
            bits(&want),
            "token embedding {case} {dtype:?}"
        );

        // Rope.
        let head_dim = 2 * (1 + rng.below(8) as usize);
        let d = head_dim * (1 + rng.below(3) as usize);
        let r = 1 + rng.below(3) as usize;
        let position = [0, rng.below(5000) as u32, rng.below(1 << 31) as u32][case % 3];
        let base = match case % 4 {
            0 => 10_000.0,
            1 => 1e-3 + rng.below(1 << 20) as f32,
            _ => f32::from_bits(1 + rng.below(0x7f7f_ffff) as u32),
        };
        let x = rng.f32s(r * d);
        let rope = Op::Rope {
            head_dim: head_dim as u32,
            position,
            base,
        };
        let y = run_one(
            rope,
            &[(tensor(&[r as u32, d as u32], x.clone()), false)],
            f32(&[r as u32, d as u32]),
        )
        .unwrap();
        assert_eq!(
            bits(y.values().unwrap()),
            bits(&spec_rope(&x, d, head_dim, position, base)),
            "rope {case}"
        );

        // Attention.
        let hd = 1 + rng.below(8) as usize;
        let kv = 1 + rng.below(3) as usize;
        let heads = kv * (1 + rng.below(3) as usize);
        let t = 1 + rng.below(40) as usize;
        let (q, keys, values) = (
            rng.f32s(heads * hd),
            rng.f32s(t * kv * hd),
            rng.f32s(t * kv * hd),
        );
        let cache = |v: Vec<f32>| (tensor(&[t as u32, (kv * hd) as u32], v), false);
        let y = run_one(
            Op::Attention {
                heads: heads as u32,
                kv_heads: kv as u32,
            },
            &[
                (tensor(&[1, (heads * hd) as u32], q.clone()), false),
                cache(keys.clone()),
                cache(values.clone()),
            ],
            f32(&[1, (heads * hd) as u32]),
        )
        .unwrap();
        assert_eq!(
            bits(y.values().unwrap()),
            bits(&spec_attention(&q, &keys, &values, heads, kv)),
            "attention {case}"
        );

        // SwiGlu.
        let len = 1 + rng.below(40) as usize;
        let (g, u) = (rng.f32s(len), rng.f32s(len));
        let y = run_one(
            Op::SwiGlu,
            &[
                (tensor(&[len as u32], g.clone()), false),
                (tensor(&[len as u32], u.clone()), false),
            ],
            f32(&[len as u32]),
        )
        .unwrap();
        let want: Vec<f32> = g
            .iter()
            .zip(&u)
            .map(|(g, u)| (g / (1.0 + libm::expf(-g))) * u)
            .collect();
        assert_eq!(bits(y.values().unwrap()), bits(&want), "swiglu {case}");

        // Sample.
        let v = 1 + rng.below(200) as usize;
        let logits = if case % 3 == 0 {
            (0..v).map(|_| (rng.below(16) as f32 - 8.0) / 4.0).collect() // many ties
        } else {
            rng.f32s(v)
        };
        let sampling = Sampling {
            temperature: [0.0, -0.0, 1e-30, 0.7, 1.0, 3.5, f32::MAX][rng.below(7) as usize],
            top_k: [0, 1, 3, rng.below(300) as u32][rng.below(4) as usize],
            top_p: [1.0, 0.5, 0.9, 1e-30, 0.999_999_9][rng.below(5) as usize],
            seed: rng.next(),
        };
        let position = rng.below(1 << 20) as u32;
        let task = Task {
            chat: false,
            tokens: 1,
            sampling,
            prompt: "",
        };
        let record = task.encode();
        let rec = Tensor::i8(
            &[record.len() as u32],
            record.iter().map(|&b| b as i8).collect(),
            i8(&[1]).quant,
        )
        .unwrap();
        let y = run_one(
            Op::Sample { position },
            &[
                (tensor(&[1, v as u32], logits.clone()), false),
                (rec, false),
            ],
            i32(&[1]),
        )
        .unwrap();
        let got = y.values::<i32>().unwrap()[0] as u32;
        assert_eq!(
            got,
            spec_sample(&logits, &sampling, position),
            "sample {case}: {sampling:?}"
        );
    }
}
