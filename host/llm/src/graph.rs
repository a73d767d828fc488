//! The graph of one LLM task: every node of the whole generation.
//!
//! For a prompt of `n` tokens and `g` generated tokens (`P = n + g` positions):
//!
//! ```text
//! ids      = Tokenize(record, tokenizer tables)                  i32 (n)
//! for p in 0 .. P−1:
//!   x      = TokenEmbedding[p](ids, token_embd)                    f32 (1, d)
//!   for each layer:
//!     xn   = RmsNorm(x, attn_norm)
//!     q, k, v = QLinear(xn, Wq), QLinear(xn, Wk), QLinear(xn, Wv)
//!     q, k = Rope[p](q), Rope[p](k)
//!     K, V = Concat(K, k), Concat(V, v)                            the KV cache: (p+1, kv·hd)
//!     h    = Add(x, QLinear(Attention(q, K, V), Wo))
//!     x    = Add(h, QLinear(SwiGlu(QLinear(hn, Wgate), QLinear(hn, Wup)), Wdown)),  hn = RmsNorm(h, ffn_norm)
//!   if p ≥ n − 1:
//!     logits = Concat(…Concat(QLinear[0](xn, head), QLinear[2048](xn, head))…)   rows in blocks of HEAD_ROWS
//!     ids  = Concat(ids, Sample[p+1](logits, record)),  xn = RmsNorm(x, output_norm) as (d)
//! output: ids                                                      i32 (P)
//! ```
//!
//! The graph's one input is the task record ([`opml_llm::task`]); its shape fixes `n` (the
//! `Tokenize` node refuses a prompt of another token count) and the record's length, so a
//! task's model root commits to the weights, the tokenizer and the generation's length.

use std::sync::Arc;

use opml_dnn::{
    AlignedBytes, DType, DataRef, ModelBuilder, Op, Quant, Shape, TensorInfo, TensorRef,
};
use opml_llm::task::Task;

use crate::config::{Llama, LlamaError, Weight};

/// Rows of the output head per node: a node of 2,048 of its 49,152 rows takes about
/// 5 × 10^7 instructions in the VM, as a layer's largest matrix does.
pub const HEAD_ROWS: u32 = 2048;

/// What a node of an LLM graph computes, for narration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeLabel {
    /// The position whose forward pass the node is part of (for `Sample`: the position of
    /// the token it draws).
    pub position: u32,
    /// The transformer block, if the node is inside one.
    pub layer: Option<u32>,
    /// What it computes: "q projection", "attention", "sample", ….
    pub what: &'static str,
}

impl std::fmt::Display for NodeLabel {
    /// "position 17, layer 3, ffn down", or "position 17, sample" outside the layers.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.layer {
            Some(layer) => write!(
                f,
                "position {}, layer {layer}, {}",
                self.position, self.what
            ),
            None => write!(f, "position {}, {}", self.position, self.what),
        }
    }
}

/// One task's graph: the `.opml` file, its input, and a label per node.
#[derive(Clone, Debug)]
pub struct LlmGraph {
    /// The whole `.opml` file.
    pub file: Arc<AlignedBytes>,
    /// The graph input: the task record.
    pub input: Vec<u8>,
    /// One label per node, in table order.
    pub labels: Vec<NodeLabel>,
    /// Prompt tokens `n`.
    pub prompt_tokens: u32,
    /// Positions `P = n + g`.
    pub positions: u32,
}

impl LlmGraph {
    /// The graph of `task` on `llama`: tokenizes the prompt natively for its token count.
    pub fn build(llama: &Llama<'_>, task: &Task<'_>) -> Result<LlmGraph, LlamaError> {
        let n = task.prompt_ids(&llama.tables()).len() as u32;
        if n == 0 || task.tokens == 0 {
            return Err(LlamaError::Unsupported(
                "a task needs a prompt of at least one token and at least one token to generate"
                    .into(),
            ));
        }
        let positions = n
            .checked_add(task.tokens)
            .filter(|&p| p <= 1 << 16)
            .ok_or_else(|| LlamaError::Unsupported("more than 65,536 positions".into()))?;
        let input = task.encode();
        let mut g = Builder::default();
        let f32_info = |dims: &[u32]| info(DType::F32, dims);

        let record = g.b.input(info(DType::I8, &[input.len() as u32]));
        let tables_blob: Vec<i8> = llama.tokenizer.iter().map(|&b| b as i8).collect();
        let tables = g.b.constant(
            &opml_dnn::Tensor::i8(
                &[tables_blob.len() as u32],
                tables_blob,
                Quant {
                    scale: 1.0,
                    zero_point: 0,
                },
            )
            .expect("a rank-1 tensor of its own length"),
        );
        let embedding = g.weight(&llama.embedding);
        let head = match &llama.output {
            Some(w) => g.weight(w),
            None => embedding,
        };
        let output_norm = g.weight(&llama.output_norm);
        let blocks: Vec<[u32; 9]> = llama
            .blocks
            .iter()
            .map(|b| {
                [
                    b.attn_norm,
                    b.q,
                    b.k,
                    b.v,
                    b.o,
                    b.ffn_norm,
                    b.gate,
                    b.up,
                    b.down,
                ]
                .map(|w| g.weight(&w))
            })
            .collect();

        let (d, hd) = (llama.dim, llama.head_dim());
        let kv = llama.kv_heads * hd;
        let rms = Op::RmsNorm { eps: llama.rms_eps };
        g.label(0, None, "tokenize");
        let mut seq =
            g.b.node(Op::Tokenize, &[record, tables], info(DType::I32, &[n]));
        let mut caches: Vec<Option<(u32, u32)>> = vec![None; blocks.len()];
        for p in 0..positions - 1 {
            g.label(p, None, "token embedding");
            let mut x = g.b.node(
                Op::TokenEmbedding { index: p },
                &[seq, embedding],
                f32_info(&[1, d]),
            );
            for (l, (w, cache)) in blocks.iter().zip(&mut caches).enumerate() {
                let at = |what| (p, Some(l as u32), what);
                let [attn_norm, wq, wk, wv, wo, ffn_norm, wg, wu, wd] = *w;
                let rope = Op::Rope {
                    head_dim: hd,
                    position: p,
                    base: llama.rope_base,
                };
                let xn = g.node(
                    at("attention norm"),
                    rms,
                    &[x, attn_norm],
                    f32_info(&[1, d]),
                );
                let q = g.node(
                    at("q projection"),
                    Op::QLinear { first_row: 0 },
                    &[xn, wq],
                    f32_info(&[1, d]),
                );
                let k = g.node(
                    at("k projection"),
                    Op::QLinear { first_row: 0 },
                    &[xn, wk],
                    f32_info(&[1, kv]),
                );
                let v = g.node(
                    at("v projection"),
                    Op::QLinear { first_row: 0 },
                    &[xn, wv],
                    f32_info(&[1, kv]),
                );
                let q = g.node(at("q rope"), rope, &[q], f32_info(&[1, d]));
                let k = g.node(at("k rope"), rope, &[k], f32_info(&[1, kv]));
                let (keys, values) = match *cache {
                    None => (k, v),
                    Some((keys, values)) => {
                        let len = &[p + 1, kv];
                        let keys = g.node(at("k cache"), Op::Concat, &[keys, k], f32_info(len));
                        let values = g.node(at("v cache"), Op::Concat, &[values, v], f32_info(len));
                        (keys, values)
                    }
                };
                *cache = Some((keys, values));
                let attention = Op::Attention {
                    heads: llama.heads,
                    kv_heads: llama.kv_heads,
                };
                let a = g.node(
                    at("attention"),
                    attention,
                    &[q, keys, values],
                    f32_info(&[1, d]),
                );
                let o = g.node(
                    at("attention output"),
                    Op::QLinear { first_row: 0 },
                    &[a, wo],
                    f32_info(&[1, d]),
                );
                let h = g.node(
                    at("attention residual"),
                    Op::Add,
                    &[x, o],
                    f32_info(&[1, d]),
                );
                let hn = g.node(at("ffn norm"), rms, &[h, ffn_norm], f32_info(&[1, d]));
                let f = llama.ffn_dim;
                let gate = g.node(
                    at("ffn gate"),
                    Op::QLinear { first_row: 0 },
                    &[hn, wg],
                    f32_info(&[1, f]),
                );
                let up = g.node(
                    at("ffn up"),
                    Op::QLinear { first_row: 0 },
                    &[hn, wu],
                    f32_info(&[1, f]),
                );
                let s = g.node(at("swiglu"), Op::SwiGlu, &[gate, up], f32_info(&[1, f]));
                let down = g.node(
                    at("ffn down"),
                    Op::QLinear { first_row: 0 },
                    &[s, wd],
                    f32_info(&[1, d]),
                );
                x = g.node(at("ffn residual"), Op::Add, &[h, down], f32_info(&[1, d]));
            }
            if p + 1 >= n {
                let at = |what| (p, None, what);
                let xn = g.node(at("output norm"), rms, &[x, output_norm], f32_info(&[1, d]));
                let xn = g.node(at("output norm"), Op::Reshape, &[xn], f32_info(&[d]));
                // The head in blocks of rows, so that no node is much heavier than a layer's.
                let mut logits = None;
                for first_row in (0..llama.vocab).step_by(HEAD_ROWS as usize) {
                    let rows = HEAD_ROWS.min(llama.vocab - first_row);
                    let qlinear = Op::QLinear { first_row };
                    let part = g.node(at("output head"), qlinear, &[xn, head], f32_info(&[rows]));
                    logits = Some(match logits {
                        None => part,
                        Some(done) => {
                            let len = first_row + rows;
                            g.node(at("logits"), Op::Concat, &[done, part], f32_info(&[len]))
                        }
                    });
                }
                let logits = logits.expect("a vocabulary of at least one token");
                let sample = Op::Sample { position: p + 1 };
                let token = g.node(
                    (p + 1, None, "sample"),
                    sample,
                    &[logits, record],
                    info(DType::I32, &[1]),
                );
                seq = g.node(
                    (p + 1, None, "token sequence"),
                    Op::Concat,
                    &[seq, token],
                    info(DType::I32, &[p + 2]),
                );
            }
        }
        g.b.output(seq);
        Ok(LlmGraph {
            file: Arc::new(g.b.finish()),
            input,
            labels: g.labels,
            prompt_tokens: n,
            positions,
        })
    }

    /// The node that samples the token at `position` (≥ n), if there is one.
    pub fn sample_node(&self, position: u32) -> Option<u32> {
        self.labels
            .iter()
            .position(|l| l.position == position && l.what == "sample")
            .map(|k| k as u32)
    }

    /// Every node of transformer block `layer`, at every position.
    pub fn layer_nodes(&self, layer: u32) -> impl Iterator<Item = u32> + '_ {
        (0..self.labels.len() as u32).filter(move |&k| self.labels[k as usize].layer == Some(layer))
    }

    /// What node `node` computes: "position 17, layer 3, ffn down".
    pub fn describe(&self, node: u32) -> String {
        match self.labels.get(node as usize) {
            Some(label) => label.to_string(),
            None => format!("no node {node}"),
        }
    }
}

/// A model builder that labels its nodes.
#[derive(Default)]
struct Builder {
    b: ModelBuilder,
    labels: Vec<NodeLabel>,
}

impl Builder {
    fn label(&mut self, position: u32, layer: Option<u32>, what: &'static str) {
        self.labels.push(NodeLabel {
            position,
            layer,
            what,
        });
    }

    fn node(
        &mut self,
        (position, layer, what): (u32, Option<u32>, &'static str),
        op: Op,
        inputs: &[u32],
        output: TensorInfo,
    ) -> u32 {
        self.label(position, layer, what);
        self.b.node(op, inputs, output)
    }

    /// A weight as a constant: norms as f32, matrices as their GGML blocks.
    fn weight(&mut self, w: &Weight<'_>) -> u32 {
        let dims = &w.dims[..w.rank];
        let shape = Shape::new(dims).expect("dims checked against the GGUF's");
        if w.dtype == DType::F32 {
            let values = w.f32_values();
            self.b
                .constant(&opml_dnn::Tensor::f32(dims, values).expect("dims of the data"))
        } else {
            let data = DataRef::from_bytes(w.dtype, w.bytes).expect("whole blocks");
            let tensor = TensorRef::new(shape, data, Quant::default()).expect("dims of the data");
            self.b.constant(tensor)
        }
    }
}

fn info(dtype: DType, dims: &[u32]) -> TensorInfo {
    TensorInfo {
        dtype,
        shape: Shape::new(dims).expect("a valid shape"),
        quant: if dtype == DType::I8 {
            Quant {
                scale: 1.0,
                zero_point: 0,
            }
        } else {
            Quant::default()
        },
    }
}
