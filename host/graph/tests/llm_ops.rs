//! The fast path against the proving path on the LLM operators (`docs/dnn.md`, "LLM
//! operators"): random small graphs of every LLM kernel (QLinear over random Q4_1 and Q8_0
//! blocks, whose f16 scales include infinities, NaNs and subnormals; RoPE, attention, Concat of
//! each dtype, SwiGLU, TokenEmbedding over f32 and block tables, Sample with random settings,
//! Tokenize with a random tiny byte-level BPE vocabulary), on inputs that include raw f32 bit
//! patterns. Every coarse step re-done in the VM gives the native state; the runs the kernels
//! refuse (a bad task record, a wrong token count, an id out of the table) are refused alike.

use std::sync::Arc;

use opml_dnn::Hash;
use opml_dnn::phase::state;
use opml_dnn::phase::{Oracle, Refusal, step};
use opml_dnn::root::{MerkleTree, RootHeader, chunks, node_commitment};
use opml_dnn::tensor::BlockFormat;
use opml_dnn::{DType, Data, ModelBuilder, Op, Quant, Shape, Tensor, TensorInfo};
use opml_graph::GraphPhase;
use opml_llm::sample::{Sampling, greedy};
use opml_llm::task::Task;
use opml_llm::tokenizer::Tables;
use opml_vm::{ExitStatus, Machine};

mod common;

use common::Rng;

fn info(dtype: DType, dims: &[u32]) -> TensorInfo {
    TensorInfo {
        dtype,
        shape: Shape::new(dims).unwrap(),
        quant: Quant::default(),
    }
}

/// The quantization of the task record and the tokenizer tables (i8 tensors need one).
const BYTES: Quant = Quant {
    scale: 1.0,
    zero_point: 0,
};

fn bytes_info(len: usize) -> TensorInfo {
    TensorInfo {
        quant: BYTES,
        ..info(DType::I8, &[len as u32])
    }
}

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<T: Copy>(&mut self, values: &[T]) -> T {
        values[self.below(values.len() as u64) as usize]
    }
}

/// f32 values: in [-1, 1), any bit pattern, or mostly ordinary with specials mixed in.
fn f32_values(rng: &mut Rng, n: usize) -> Vec<f32> {
    let mode = rng.below(3);
    (0..n)
        .map(|_| {
            let r = rng.next();
            let sane = (r >> 40) as f32 / (1u32 << 23) as f32 - 1.0;
            match mode {
                0 => sane,
                1 => f32::from_bits(r as u32),
                _ if r.is_multiple_of(8) => rng.pick(&[
                    f32::NAN,
                    f32::from_bits(0xffc0_1234),
                    f32::INFINITY,
                    f32::NEG_INFINITY,
                    -0.0,
                    f32::from_bits(1),
                    f32::MAX,
                    -1e30,
                ]),
                _ => sane * 8.0,
            }
        })
        .collect()
}

/// An f16 scale: ordinary (2^-7..2^-3, either sign), or a special one.
fn f16_scale(rng: &mut Rng) -> u16 {
    if rng.below(3) == 0 {
        rng.pick(&[
            0x7c00, 0xfc00, 0x7e00, 0x7c01, 0xfe00, 0x0001, 0x03ff, 0x8001, 0x0000, 0x8000, 0x7bff,
        ])
    } else {
        (0x2000 + rng.below(0x1000) as u16) | if rng.below(2) == 0 { 0 } else { 0x8000 }
    }
}

/// `rows × cols` values as blocks of `format`: each block random bytes, or random quants with
/// an ordinary or special scale (and minimum).
fn blocks(rng: &mut Rng, format: BlockFormat, rows: u32, cols: u32) -> Tensor {
    let count = (rows * cols / 32) as usize;
    let mut bytes = Vec::with_capacity(count * format.block_bytes());
    for _ in 0..count {
        let start = bytes.len();
        bytes.extend((0..format.block_bytes()).map(|_| rng.next() as u8));
        if rng.below(4) != 0 {
            bytes[start..start + 2].copy_from_slice(&f16_scale(rng).to_le_bytes());
            if format == BlockFormat::Q4_1 {
                bytes[start + 2..start + 4].copy_from_slice(&f16_scale(rng).to_le_bytes());
            }
        }
    }
    Tensor::new(
        Shape::new(&[rows, cols]).unwrap(),
        Data::Blocks(format, bytes),
    )
    .unwrap()
}

/// The character GPT-2's byte-level alphabet writes byte `b` as.
fn byte_char(b: u8) -> char {
    let printable = |b: u8| matches!(b, 33..=126 | 161..=172 | 174..=255);
    if printable(b) {
        return char::from(b);
    }
    let n = (0..b).filter(|&x| !printable(x)).count() as u32;
    char::from_u32(256 + n).unwrap()
}

fn byte_level(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| byte_char(b)).collect()
}

/// Words whose merges the random vocabularies learn (in a random order and subset).
const WORDS: &[&str] = &[
    " the", "Hello", " world", "in", "er", "an", "'s", " you", "re", "日本", "é", "\n\n", "  ",
    "12", "ab", " a", "ing", "<|", "|>", "Ġ", " is", "��",
];

/// A random tiny vocabulary: the 256 byte tokens, the merges of random words (left to right)
/// and of random pairs, and SmolLM2's three control tokens, in a random id order.
fn tokenizer(rng: &mut Rng) -> Vec<u8> {
    let mut tokens: Vec<Vec<u8>> = (0..=255u8).map(|b| vec![b]).collect();
    let mut merges: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    let mut add = |tokens: &mut Vec<Vec<u8>>, l: Vec<u8>, r: Vec<u8>| {
        if !merges.contains(&(l.clone(), r.clone())) {
            let m = [l.clone(), r.clone()].concat();
            if !tokens.contains(&m) {
                tokens.push(m);
            }
            merges.push((l, r));
        }
    };
    for _ in 0..12 {
        let word = rng.pick(WORDS).as_bytes();
        let mut cur = vec![word[0]];
        for &b in &word[1..] {
            add(&mut tokens, cur.clone(), vec![b]);
            cur.push(b);
        }
    }
    for _ in 0..16 {
        let l = tokens[rng.below(tokens.len() as u64) as usize].clone();
        let r = tokens[rng.below(tokens.len() as u64) as usize].clone();
        if l.len() + r.len() <= 6 {
            add(&mut tokens, l, r);
        }
    }
    let mut strings: Vec<(String, i32)> = tokens.iter().map(|t| (byte_level(t), 1)).collect();
    for control in ["<|endoftext|>", "<|im_start|>", "<|im_end|>"] {
        strings.push((control.to_owned(), 3));
    }
    for i in (1..strings.len()).rev() {
        strings.swap(i, rng.below(i as u64 + 1) as usize);
    }
    let merges: Vec<String> = merges
        .iter()
        .map(|(l, r)| format!("{} {}", byte_level(l), byte_level(r)))
        .collect();
    let names: Vec<&str> = strings.iter().map(|(s, _)| s.as_str()).collect();
    let types: Vec<i32> = strings.iter().map(|(_, t)| *t).collect();
    let merges: Vec<&str> = merges.iter().map(String::as_str).collect();
    Tables::build(&names, &types, &merges).unwrap()
}

/// Pieces of random prompts: letters, contractions, spaces and other white space, numbers of
/// every category, symbols, multi-byte characters, control tokens.
const PIECES: &[&str] = &[
    "Hello",
    " world",
    "the",
    " ",
    "  ",
    "\n",
    "\t",
    "I'm",
    "you're",
    "'S",
    "123",
    "4",
    "é",
    "日本",
    "\u{3000}",
    "!?",
    "<|im_start|>",
    "<|im_end|>",
    "<|endoftext|>",
    "<|",
    "ab",
    "½",
    "٣",
    "Ⅻ",
    "🙂",
    "\r\n",
    "x",
    " is",
    "ing",
];

fn random_task(rng: &mut Rng) -> (Vec<u8>, Task<'static>) {
    let pieces = 1 + rng.below(10);
    let prompt: String = (0..pieces).map(|_| rng.pick(PIECES)).collect();
    let task = Task {
        chat: rng.below(3) == 0,
        tokens: rng.below(100) as u32,
        sampling: Sampling {
            temperature: match rng.below(6) {
                0 => 0.0,
                1 => -0.0,
                2 => rng.pick(&[1e-30, f32::from_bits(1), f32::MAX, 1e6]),
                _ => rng.below(2000) as f32 / 1000.0 + 0.01,
            },
            top_k: {
                let any = rng.below(80) as u32;
                rng.pick(&[0, 1, 2, any, u32::MAX])
            },
            top_p: match rng.below(4) {
                0 => 1.0,
                1 => rng.pick(&[1e-30, f32::from_bits(1), 0.999_999_94]),
                _ => (rng.below(1000) as f32 + 1.0) / 1000.0,
            },
            seed: rng.next(),
        },
        prompt: Box::leak(prompt.into_boxed_str()),
    };
    (task.encode(), task)
}

/// A graph being built, with its input bytes.
#[derive(Default)]
struct Graph {
    b: ModelBuilder,
    input: Vec<u8>,
    results: Vec<u32>,
}

impl Graph {
    fn f32_input(&mut self, rng: &mut Rng, dims: &[u32]) -> u32 {
        let n = dims.iter().product::<u32>() as usize;
        for v in f32_values(rng, n) {
            self.input.extend_from_slice(&v.to_le_bytes());
        }
        self.b.input(info(DType::F32, dims))
    }

    fn i32_input(&mut self, values: &[i32]) -> u32 {
        for v in values {
            self.input.extend_from_slice(&v.to_le_bytes());
        }
        self.b.input(info(DType::I32, &[values.len() as u32]))
    }

    fn bytes_input(&mut self, bytes: &[u8]) -> u32 {
        self.input.extend_from_slice(bytes);
        self.b.input(bytes_info(bytes.len()))
    }

    fn node(&mut self, op: Op, inputs: &[u32], out: TensorInfo) -> u32 {
        let t = self.b.node(op, inputs, out);
        self.results.push(t);
        t
    }

    fn file(mut self, rng: &mut Rng) -> (Vec<u8>, Vec<u8>) {
        let last = *self.results.last().unwrap();
        self.b.output(last);
        for _ in 0..rng.below(3) {
            let t = self.results[rng.below(self.results.len() as u64) as usize];
            self.b.output(t);
        }
        (self.b.finish().to_vec(), self.input)
    }
}

fn block_format(rng: &mut Rng) -> (BlockFormat, DType) {
    rng.pick(&[
        (BlockFormat::Q4_1, DType::Q4_1),
        (BlockFormat::Q8_0, DType::Q8_0),
    ])
}

/// A random graph with nodes of every LLM operator, some of them chained: the file, its input,
/// and the tensors of the logits and the token `Sample` draws from them.
fn random_graph(rng: &mut Rng) -> (Vec<u8>, Vec<u8>, (u32, u32)) {
    let mut g = Graph::default();

    // QLinear on x of rank 1, 2 or 3, then SwiGlu of two projections of the same x.
    let k = 32 * (1 + rng.below(4) as u32);
    let rows = 1 + rng.below(3) as u32;
    let lead: Vec<u32> = match rng.below(3) {
        0 => vec![],
        1 => vec![rows],
        _ => vec![2, rows],
    };
    let dims = |last: u32| [lead.clone(), vec![last]].concat();
    let x = g.f32_input(rng, &dims(k));
    let projection = |g: &mut Graph, rng: &mut Rng, n: u32| {
        let (format, _) = block_format(rng);
        let w = g.b.constant(&blocks(rng, format, n, k));
        g.node(
            Op::QLinear { first_row: 0 },
            &[x, w],
            info(DType::F32, &dims(n)),
        )
    };
    let n = 1 + rng.below(12) as u32;
    let gate = projection(&mut g, rng, n);
    let up = projection(&mut g, rng, n);
    g.node(Op::SwiGlu, &[gate, up], info(DType::F32, &dims(n)));
    // SwiGlu on raw inputs.
    let shape = [1 + rng.below(3) as u32, 1 + rng.below(20) as u32];
    let a = g.f32_input(rng, &shape);
    let b = g.f32_input(rng, &shape);
    g.node(Op::SwiGlu, &[a, b], info(DType::F32, &shape));

    // Rope of rows of heads, at a random position and base.
    let head_dim = 2 * (1 + rng.below(8) as u32);
    let d = head_dim * (1 + rng.below(4) as u32);
    let r = 1 + rng.below(4) as u32;
    let position = match rng.below(3) {
        0 => 0,
        1 => rng.below(4096) as u32,
        _ => rng.below((1 << 31) - 4) as u32,
    };
    let base = match rng.below(4) {
        0 => 10_000.0,
        1 => 1e-3 + rng.below(1_000_000) as f32,
        2 => rng.pick(&[1.0, f32::from_bits(1), f32::MIN_POSITIVE, f32::MAX, 0.5]),
        _ => f32::from_bits(1 + rng.below(0x7f7f_ffff) as u32),
    };
    let xr = g.f32_input(rng, &[r, d]);
    let rope = Op::Rope {
        head_dim,
        position,
        base,
    };
    g.node(rope, &[xr], info(DType::F32, &[r, d]));

    // Attention of a roped query over a cache built by Concat (f32).
    let hd = 1 + rng.below(8) as u32;
    let kv = 1 + rng.below(3) as u32;
    let heads = kv * (1 + rng.below(3) as u32);
    let t = 1 + rng.below(40) as u32;
    let mut q = g.f32_input(rng, &[1, heads * hd]);
    if hd.is_multiple_of(2) {
        let rope = Op::Rope {
            head_dim: hd,
            position: t - 1,
            base: 10_000.0,
        };
        q = g.node(rope, &[q], info(DType::F32, &[1, heads * hd]));
    }
    let cache = |g: &mut Graph, rng: &mut Rng| {
        if t == 1 {
            return g.f32_input(rng, &[1, kv * hd]);
        }
        let old = g.f32_input(rng, &[t - 1, kv * hd]);
        let new = g.f32_input(rng, &[1, kv * hd]);
        g.node(Op::Concat, &[old, new], info(DType::F32, &[t, kv * hd]))
    };
    let keys = cache(&mut g, rng);
    let values = cache(&mut g, rng);
    let attention = Op::Attention {
        heads,
        kv_heads: kv,
    };
    g.node(
        attention,
        &[q, keys, values],
        info(DType::F32, &[1, heads * hd]),
    );

    // Concat of i8 tensors (rank 1 to 3) keeping their quantization.
    let tail: Vec<u32> = (0..rng.below(3)).map(|_| 1 + rng.below(4) as u32).collect();
    let (t1, t2) = (1 + rng.below(5) as u32, 1 + rng.below(5) as u32);
    let quant = Quant {
        scale: 0.05,
        zero_point: rng.below(256) as i32 - 128,
    };
    let i8_info = |rows: u32| TensorInfo {
        quant,
        ..info(DType::I8, &[vec![rows], tail.clone()].concat())
    };
    let i8_input = |g: &mut Graph, rng: &mut Rng, rows: u32| {
        let info = i8_info(rows);
        g.input
            .extend((0..info.shape.count()).map(|_| rng.next() as u8));
        g.b.input(info)
    };
    let a = i8_input(&mut g, rng, t1);
    let b = i8_input(&mut g, rng, t2);
    g.node(Op::Concat, &[a, b], i8_info(t1 + t2));

    // Tokenize the task record, embed a token, sample the next one from projected logits and
    // concatenate it to the ids (i32), as an LLM graph does.
    let blob = tokenizer(rng);
    let tables = Tables::parse(&blob).unwrap();
    let (record_bytes, task) = random_task(rng);
    let mut ids = Vec::new();
    if task.chat {
        tables.encode_chat(task.prompt.as_bytes(), &mut ids);
    } else {
        tables.encode(task.prompt.as_bytes(), &mut ids);
    }
    let n_ids = ids.len() as u32;
    let vocab = tables.n_tokens() as u32;
    let record = g.bytes_input(&record_bytes);
    let blob: Vec<i8> = blob.iter().map(|&b| b as i8).collect();
    let table_tensor = Tensor::i8(&[blob.len() as u32], blob, BYTES).unwrap();
    let tables_t = g.b.constant(&table_tensor);
    let ids_t = g.node(
        Op::Tokenize,
        &[record, tables_t],
        info(DType::I32, &[n_ids]),
    );
    let (width, table) = if rng.below(2) == 0 {
        let width = 1 + rng.below(6) as u32;
        let rows = vocab + rng.below(3) as u32;
        let values = f32_values(rng, (rows * width) as usize);
        (width, Tensor::f32(&[rows, width], values).unwrap())
    } else {
        let width = 32 * (1 + rng.below(2) as u32);
        let (format, _) = block_format(rng);
        (width, blocks(rng, format, vocab, width))
    };
    let table = g.b.constant(&table);
    let index = rng.below(u64::from(n_ids)) as u32;
    let x = g.node(
        Op::TokenEmbedding { index },
        &[ids_t, table],
        info(DType::F32, &[1, width]),
    );
    let logits = if width.is_multiple_of(32) && rng.below(2) == 0 {
        let (format, _) = block_format(rng);
        let v = 1 + rng.below(64) as u32;
        let head = g.b.constant(&blocks(rng, format, v, width));
        (
            v,
            g.node(
                Op::QLinear { first_row: 0 },
                &[x, head],
                info(DType::F32, &[1, v]),
            ),
        )
    } else {
        let v = 1 + rng.below(64) as u32;
        (v, g.f32_input(rng, &[1, v]))
    };
    let any = rng.below(1 << 31) as u32;
    let sample = Op::Sample {
        position: rng.pick(&[0, 1, any]),
    };
    let next = g.node(sample, &[logits.1, record], info(DType::I32, &[1]));
    g.node(Op::Concat, &[ids_t, next], info(DType::I32, &[n_ids + 1]));

    // TokenEmbedding of a given id (i32 input) in a block table with special scales.
    let (format, _) = block_format(rng);
    let v = 1 + rng.below(8) as u32;
    let width = 32 * (1 + rng.below(3) as u32);
    let table = g.b.constant(&blocks(rng, format, v, width));
    let given: Vec<i32> = (0..1 + rng.below(4))
        .map(|_| rng.below(u64::from(v)) as i32)
        .collect();
    let given_t = g.i32_input(&given);
    let index = rng.below(given.len() as u64) as u32;
    g.node(
        Op::TokenEmbedding { index },
        &[given_t, table],
        info(DType::F32, &[1, width]),
    );

    let (file, input) = g.file(rng);
    (file, input, (logits.1, next))
}

/// Re-does every step of `phase` in the VM; returns the most instructions a step took.
fn check_in_the_vm(name: &str, phase: &GraphPhase) -> u64 {
    let mut most = 0;
    for j in 1..=phase.run().step_count() + 1 {
        let step = phase.vm_step(j, 1 << 32).unwrap();
        assert_eq!(step.status, ExitStatus::Exited(0), "{name}: step {j}");
        assert_eq!(
            step.output,
            phase.state(j),
            "{name}: S({j}), {}",
            phase.describe_step(j)
        );
        most = most.max(step.steps);
    }
    most
}

#[test]
fn every_step_of_random_llm_graphs_is_the_same_in_the_vm() {
    let mut rng = Rng(0x11a_0b5);
    let mut nodes = 0;
    let mut most = 0;
    // Draws that are not the greedy token, and the distinct tokens drawn: the sampler's
    // tempered paths are exercised, not only greedy and all-NaN logits.
    let (mut not_greedy, mut drawn) = (0, std::collections::BTreeSet::new());
    for graph in 0..120 {
        let (file, input, (logits, next)) = random_graph(&mut rng);
        let phase = GraphPhase::new(&file, &input).unwrap();
        assert_eq!(phase.run().refusal(), None, "graph {graph}");
        let name = format!("random LLM graph {graph}");
        most = most.max(check_in_the_vm(&name, &phase));
        nodes += phase.step_count() - 2;
        let logits: Vec<f32> = phase
            .run()
            .written(logits)
            .unwrap()
            .chunks_exact(4)
            .map(|w| f32::from_le_bytes(w.try_into().unwrap()))
            .collect();
        let token = phase.run().written(next).unwrap();
        let token = i32::from_le_bytes(token.try_into().unwrap());
        not_greedy += usize::from(token as u32 != greedy(&logits));
        drawn.insert(token);
    }
    eprintln!(
        "{nodes} nodes, at most {most} instructions a step; {not_greedy} draws not greedy, {} \
         distinct tokens",
        drawn.len()
    );
    assert!(nodes >= 1500, "only {nodes} nodes");
    assert!(
        not_greedy >= 20 && drawn.len() >= 20,
        "{not_greedy}, {drawn:?}"
    );
}

/// One node reading the task record `record` (and logits) with `tables`, `n` ids declared.
fn record_graph(op: Op, record: &[u8], blob: &[u8], n: u32) -> (Vec<u8>, Vec<u8>) {
    let mut g = Graph::default();
    let record_t = g.bytes_input(record);
    match op {
        Op::Tokenize => {
            let blob: Vec<i8> = blob.iter().map(|&b| b as i8).collect();
            let tables =
                g.b.constant(&Tensor::i8(&[blob.len() as u32], blob, BYTES).unwrap());
            g.node(op, &[record_t, tables], info(DType::I32, &[n]));
        }
        _ => {
            let logits = g.f32_input(&mut Rng(n.into()), &[1, 5]);
            g.node(op, &[logits, record_t], info(DType::I32, &[1]));
        }
    }
    g.file(&mut Rng(0))
}

/// Runs the kernels refuse: natively and in the VM, the run ends refused at the node.
#[test]
fn llm_runs_the_kernels_refuse_are_refused_alike_in_the_vm() {
    let mut rng = Rng(5);
    let blob = tokenizer(&mut rng);
    let (_, task) = random_task(&mut rng);
    let mut ids = Vec::new();
    Tables::parse(&blob)
        .unwrap()
        .encode(&chat_free(&task), &mut ids);
    let count = ids.len() as u32;
    let plain = Task {
        chat: false,
        ..task.clone()
    }
    .encode();
    let mut bad_magic = plain.clone();
    bad_magic[0] = b'X';
    let mut bad_top_p = plain.clone();
    bad_top_p[24..28].copy_from_slice(&0f32.to_bits().to_le_bytes());
    let mut bad_reserved = plain.clone();
    bad_reserved[28] = 1;
    let mut bad_utf8 = plain.clone();
    bad_utf8.push(0xff);
    let mut bad_tables = blob.clone();
    bad_tables[8] ^= 1;
    let mut graphs = vec![
        (
            "tokenize: one id too many",
            record_graph(Op::Tokenize, &plain, &blob, count + 1),
        ),
        (
            "tokenize: bad magic",
            record_graph(Op::Tokenize, &bad_magic, &blob, count),
        ),
        (
            "tokenize: top-p 0",
            record_graph(Op::Tokenize, &bad_top_p, &blob, count),
        ),
        (
            "tokenize: prompt not UTF-8",
            record_graph(Op::Tokenize, &bad_utf8, &blob, count),
        ),
        (
            "tokenize: bad tables",
            record_graph(Op::Tokenize, &plain, &bad_tables, count),
        ),
        (
            "sample: reserved word",
            record_graph(Op::Sample { position: 3 }, &bad_reserved, &blob, 1),
        ),
        (
            "sample: short record",
            record_graph(Op::Sample { position: 3 }, &plain[..39], &blob, 1),
        ),
    ];
    if count > 1 {
        graphs.push((
            "tokenize: one id too few",
            record_graph(Op::Tokenize, &plain, &blob, count - 1),
        ));
    }
    // TokenEmbedding of an id past the table, or negative.
    for id in [4, -1, i32::MIN] {
        let mut g = Graph::default();
        let ids = g.i32_input(&[0, id]);
        let table = g.b.constant(&blocks(&mut rng, BlockFormat::Q8_0, 4, 32));
        g.node(
            Op::TokenEmbedding { index: 1 },
            &[ids, table],
            info(DType::F32, &[1, 32]),
        );
        graphs.push(("token embedding: id out of range", g.file(&mut rng)));
        let mut g = Graph::default();
        let ids = g.i32_input(&[id]);
        let table = g.b.constant(&Tensor::f32(&[4, 3], vec![0.5; 12]).unwrap());
        g.node(
            Op::TokenEmbedding { index: 0 },
            &[ids, table],
            info(DType::F32, &[1, 3]),
        );
        graphs.push(("token embedding (f32): id out of range", g.file(&mut rng)));
    }
    // The valid record gives the declared count: not refused.
    let (file, input) = record_graph(Op::Tokenize, &plain, &blob, count);
    let phase = GraphPhase::new(&file, &input).unwrap();
    assert_eq!(phase.run().refusal(), None);
    for (name, (file, input)) in graphs {
        let phase = GraphPhase::new(&file, &input).unwrap();
        assert_eq!(phase.run().refusal(), Some(Refusal::Compute), "{name}");
        check_in_the_vm(name, &phase);
    }
}

/// The prompt's bytes (the record is encoded without the chat template in these tests).
fn chat_free(task: &Task<'_>) -> Vec<u8> {
    task.prompt.as_bytes().to_vec()
}

/// The preimages of a forged state: every `H(left ‖ right)` computed is kept.
struct Forge(opml_vm::Preimages);

impl Forge {
    fn h(&mut self, left: &Hash, right: &Hash) -> Hash {
        let mut p = [0; 64];
        p[..32].copy_from_slice(left);
        p[32..].copy_from_slice(right);
        self.0.insert(p)
    }

    fn tree(&mut self, leaves: &[Hash]) -> Hash {
        let tree = MerkleTree::new(leaves);
        for (l, r) in tree.inner_nodes() {
            let (l, r) = (*l, *r);
            self.h(&l, &r);
        }
        tree.root()
    }

    fn bytes(&mut self, bytes: &[u8]) -> Hash {
        let root = self.tree(&chunks(bytes));
        self.h(&state::len_word(bytes.len() as u64), &root)
    }
}

impl Oracle for &Forge {
    type Error = Hash;

    fn preimage(&mut self, key: &Hash) -> Result<[u8; 64], Hash> {
        use opml_vm::PreimageSource;
        self.0.preimage(key).ok_or(*key)
    }
}

/// `S(0)` of a run on `input` of the model root of `file`, a file that need not be valid: the
/// root computed from its raw tables (`docs/dnn.md`, "Model root"), and the preimages that the
/// load and the first node step read; also the task word and the values after the load.
fn forge(file: &[u8], input: &[u8]) -> (Forge, Hash, Hash, Hash) {
    let mut f = Forge(opml_vm::Preimages::new());
    let word = |at: usize| u32::from_le_bytes(file[at..at + 4].try_into().unwrap());
    let header = RootHeader {
        tensor_count: word(16),
        node_count: word(20),
        input_count: word(24),
        output_count: word(28),
    };
    let (tensors_at, nodes_at, data_at) = (word(32) as usize, word(36) as usize, word(48) as usize);
    let mut metas = Vec::new();
    let mut slots = Vec::new();
    for t in 0..header.tensor_count as usize {
        let e = tensors_at + 48 * t;
        let mut meta = [0; 32];
        meta[..3].copy_from_slice(&file[e..e + 3]);
        meta[4..20].copy_from_slice(&file[e + 4..e + 20]);
        meta[20..28].copy_from_slice(&file[e + 28..e + 36]);
        meta[28..32].copy_from_slice(&file[e + 24..e + 28]);
        let (offset, len) = (word(e + 20) as usize, word(e + 24) as usize);
        let c = if file[e + 2] == 0 {
            f.tree(&chunks(&file[data_at + offset..][..len]))
        } else {
            [0; 32]
        };
        slots.push(f.h(&meta, &c));
        metas.push((meta, len));
    }
    let tensors_root = f.tree(&slots);
    let nodes: Vec<Hash> = (0..header.node_count as usize)
        .map(|n| {
            let entry: [u8; 56] = file[nodes_at + 56 * n..][..56].try_into().unwrap();
            let mut p = [0; 64];
            p[..56].copy_from_slice(&entry);
            assert_eq!(f.0.insert(p), node_commitment(&entry));
            node_commitment(&entry)
        })
        .collect();
    let nodes_root = f.tree(&nodes);
    let list = |at: usize, n: u32| file[word(at) as usize..][..4 * n as usize].to_vec();
    let (inputs, outputs) = (list(40, header.input_count), list(44, header.output_count));
    let (i, o) = (f.tree(&chunks(&inputs)), f.tree(&chunks(&outputs)));
    let io = f.h(&i, &o);
    let graph = f.h(&nodes_root, &io);
    let body = f.h(&graph, &tensors_root);
    let root = f.h(&header.encode(), &body);
    let input_commitment = f.bytes(input);
    let task = f.h(&root, &input_commitment);
    let zero = f.h(&[0; 32], &[0; 32]);
    let s0 = f.h(&task, &zero);
    let mut at = 0;
    for w in inputs.chunks_exact(4) {
        let t = u32::from_le_bytes(w.try_into().unwrap()) as usize;
        let (meta, len) = metas[t];
        let c = f.bytes(&input[at..at + len]);
        at += len;
        slots[t] = f.h(&meta, &c);
    }
    let values = f.tree(&slots);
    let inner = f.h(&values, &[0; 32]);
    f.h(&task, &inner);
    (f, task, s0, values)
}

/// A one-node graph: `op` on graph inputs and zero-filled constants (`true`), writing `out`.
fn one_node(inputs: &[(TensorInfo, bool)], op: Op, out: TensorInfo) -> Vec<u8> {
    let mut b = ModelBuilder::new();
    let inputs: Vec<u32> = inputs
        .iter()
        .map(|&(info, constant)| {
            if !constant {
                return b.input(info);
            }
            let n = info.shape.count();
            let data = match info.dtype.block() {
                Some(format) => Data::Blocks(format, vec![0; n / 32 * format.block_bytes()]),
                None if info.dtype == DType::F32 => Data::from(vec![0f32; n]),
                None if info.dtype == DType::I32 => Data::from(vec![0i32; n]),
                None => Data::from(vec![0i8; n]),
            };
            b.constant(
                &Tensor::new(info.shape, data)
                    .unwrap()
                    .with_quant(info.quant),
            )
        })
        .collect();
    let y = b.node(op, &inputs, out);
    b.output(y);
    b.finish().to_vec()
}

/// Malformed LLM nodes under a state that commits to their model root anyway: the node step
/// program refuses them in the VM exactly as natively (no panic in the 32-bit guest).
#[test]
fn malformed_llm_nodes_are_refused_alike_in_the_vm() {
    let f = |dims: &[u32]| (info(DType::F32, dims), false);
    let c = |dtype, dims: &[u32]| (info(dtype, dims), true);
    let i8q = |dims: &[u32], scale| TensorInfo {
        quant: Quant {
            scale,
            zero_point: 0,
        },
        ..info(DType::I8, dims)
    };
    let rope = |head_dim, base| Op::Rope {
        head_dim,
        position: 0,
        base,
    };
    let attention = |heads, kv_heads| Op::Attention { heads, kv_heads };
    let out = |dims: &[u32]| info(DType::F32, dims);
    let mut cases: Vec<(&str, Vec<u8>, Refusal)> = vec![
        (
            "rope odd head_dim",
            one_node(&[f(&[2, 6])], rope(3, 1e4), out(&[2, 6])),
            Refusal::Node,
        ),
        (
            "rope base NaN",
            one_node(&[f(&[2, 6])], rope(2, f32::NAN), out(&[2, 6])),
            Refusal::Node,
        ),
        (
            "rope base 0",
            one_node(&[f(&[2, 6])], rope(2, 0.0), out(&[2, 6])),
            Refusal::Node,
        ),
        (
            "attention kv_heads not dividing",
            one_node(
                &[f(&[1, 8]), f(&[3, 4]), f(&[3, 4])],
                attention(4, 3),
                out(&[1, 8]),
            ),
            Refusal::Node,
        ),
        (
            "attention k width",
            one_node(
                &[f(&[1, 8]), f(&[3, 6]), f(&[3, 6])],
                attention(4, 2),
                out(&[1, 8]),
            ),
            Refusal::Node,
        ),
        (
            "concat i8 quantizations",
            one_node(
                &[(i8q(&[2], 0.5), false), (i8q(&[3], 0.25), false)],
                Op::Concat,
                i8q(&[5], 0.5),
            ),
            Refusal::Node,
        ),
        (
            "qlinear K",
            one_node(
                &[f(&[1, 32]), c(DType::Q8_0, &[4, 64])],
                Op::QLinear { first_row: 0 },
                out(&[1, 4]),
            ),
            Refusal::Node,
        ),
        (
            "swiglu shapes",
            one_node(&[f(&[2, 3]), f(&[3, 2])], Op::SwiGlu, out(&[2, 3])),
            Refusal::Node,
        ),
        (
            "token embedding index = T",
            one_node(
                &[(info(DType::I32, &[3]), false), c(DType::Q4_1, &[5, 32])],
                Op::TokenEmbedding { index: 3 },
                out(&[1, 32]),
            ),
            Refusal::Node,
        ),
        (
            "sample negative position",
            one_node(
                &[f(&[1, 5]), (i8q(&[40], 1.0), false)],
                Op::Sample { position: 1 << 31 },
                info(DType::I32, &[1]),
            ),
            Refusal::Node,
        ),
        (
            "tokenize f32 ids",
            one_node(
                &[(i8q(&[40], 1.0), false), (i8q(&[30], 1.0), true)],
                Op::Tokenize,
                out(&[4]),
            ),
            Refusal::Node,
        ),
        (
            "reshape of blocks",
            one_node(
                &[c(DType::Q4_1, &[2, 32])],
                Op::Reshape,
                info(DType::Q4_1, &[1, 64]),
            ),
            // Its block-quantized output is not a constant: refused at its slot's metadata.
            Refusal::Tensor,
        ),
        (
            "argmax of blocks",
            one_node(
                &[c(DType::Q8_0, &[2, 32])],
                Op::Argmax,
                info(DType::I32, &[2]),
            ),
            Refusal::Node,
        ),
    ];
    // A Q4_1 constant (4, 32) whose dims say (8, 16): the same bytes, rows of half a block.
    let mut file = one_node(
        &[f(&[1, 32]), c(DType::Q4_1, &[4, 32])],
        Op::QLinear { first_row: 0 },
        out(&[1, 4]),
    );
    let e = u32::from_le_bytes(file[32..36].try_into().unwrap()) as usize + 48;
    file[e + 4..e + 12].copy_from_slice(&[8, 0, 0, 0, 16, 0, 0, 0]);
    let body = file.len() - 32;
    let checksum = opml_state::sha256(&file[..body]);
    file[body..].copy_from_slice(&checksum);
    cases.push(("block rows of 16", file, Refusal::Tensor));
    for (name, file, refusal) in cases {
        assert!(opml_dnn::Model::parse(&opml_dnn::AlignedBytes::from_slice(&file)).is_err());
        let len = input_length(&file);
        let input: Vec<u8> = (0..len).map(|i| i as u8).collect();
        let (mut forge, task, s0, values) = forge(&file, &input);
        // The refused state's own preimages, for the step after it.
        let inner = forge.h(&values, &refusal.word());
        forge.h(&task, &inner);
        let forge = Arc::new(forge);
        let mut s = s0;
        for j in 1..=3 {
            let native = step(&s, j, &mut &*forge).unwrap_or_else(|k| panic!("{name}: {k:?}"));
            let mut machine = Machine::load(
                opml_graph::STEP_PROGRAM_ELF,
                graph_step::input(&s, j).to_vec(),
            )
            .unwrap();
            machine.set_preimages(Arc::new(forge.0.clone()));
            machine.run(1 << 32);
            assert!(machine.host_error().is_none(), "{name}: step {j}");
            assert_eq!(machine.status(), ExitStatus::Exited(0), "{name}: step {j}");
            assert_eq!(machine.output(), native, "{name}: step {j}");
            s = native;
        }
        assert_eq!(s, state::state(&task, &values, &refusal.word()), "{name}");
    }
}

/// The graph inputs' total byte length, from the raw tensor table.
fn input_length(file: &[u8]) -> usize {
    let word = |at: usize| u32::from_le_bytes(file[at..at + 4].try_into().unwrap()) as usize;
    (0..word(24))
        .map(|i| word(word(32) + 48 * word(word(40) + 4 * i) + 24))
        .sum()
}

/// A lie at any node of an LLM graph (a flipped bit in its output: a token id, an embedding, a
/// drawn token, …) is caught by the VM at that node's step: from the agreed state before it,
/// the step program computes the honest state, not the liar's.
#[test]
fn a_lie_at_any_llm_node_is_caught_in_the_vm() {
    let mut rng = Rng(0xfa11);
    let (file, input, _) = random_graph(&mut rng);
    let honest = GraphPhase::new(&file, &input).unwrap();
    let nodes = honest.step_count() - 2;
    for k in 0..nodes as u32 {
        let liar = GraphPhase::with_fault(&file, &input, k).unwrap();
        let j = u64::from(k) + 2;
        assert_eq!(liar.state(j - 1), honest.state(j - 1));
        assert_ne!(liar.state(j), honest.state(j), "node {k}");
        let step = liar.vm_step(j, 1 << 32).unwrap();
        assert_eq!(
            step.output,
            honest.state(j),
            "node {k}: {}",
            honest.describe_step(j)
        );
    }
}
