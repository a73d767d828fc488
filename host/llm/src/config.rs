//! A llama model read from GGUF: hyperparameters, quantized weights, tokenizer tables.

use std::fmt;

use opml_dnn::DType;
use opml_gguf::{GgmlType, Gguf, GgufError};
use opml_llm::tokenizer::Tables;

/// Why a GGUF file is not a llama model this crate runs.
#[derive(Debug)]
pub enum LlamaError {
    /// The file is not valid GGUF.
    Gguf(GgufError),
    /// The file is GGUF, but not a model this crate supports.
    Unsupported(String),
}

impl fmt::Display for LlamaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LlamaError::Gguf(e) => write!(f, "not a valid GGUF file: {e}"),
            LlamaError::Unsupported(why) => write!(f, "unsupported model: {why}"),
        }
    }
}

impl std::error::Error for LlamaError {}

impl From<GgufError> for LlamaError {
    fn from(e: GgufError) -> LlamaError {
        LlamaError::Gguf(e)
    }
}

fn unsupported(why: impl Into<String>) -> LlamaError {
    LlamaError::Unsupported(why.into())
}

/// One weight tensor: its dtype, dims (rows, row length) or (length), and GGUF bytes.
#[derive(Clone, Copy, Debug)]
pub struct Weight<'a> {
    /// F32, Q4_1 or Q8_0.
    pub dtype: DType,
    /// `[rows, columns]` for a matrix, `[len]` for a vector.
    pub dims: [u32; 2],
    /// Rank: 1 or 2.
    pub rank: usize,
    /// The data, as the GGUF file stores it.
    pub bytes: &'a [u8],
}

impl Weight<'_> {
    /// The values of an F32 weight (a norm).
    pub fn f32_values(&self) -> Vec<f32> {
        self.bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect()
    }
}

/// The weights of one transformer block.
#[derive(Clone, Copy, Debug)]
pub struct Block<'a> {
    /// RMSNorm before attention.
    pub attn_norm: Weight<'a>,
    /// Query, key, value and output projections.
    pub q: Weight<'a>,
    /// Key projection.
    pub k: Weight<'a>,
    /// Value projection.
    pub v: Weight<'a>,
    /// Attention output projection.
    pub o: Weight<'a>,
    /// RMSNorm before the feed-forward network.
    pub ffn_norm: Weight<'a>,
    /// SwiGLU gate projection.
    pub gate: Weight<'a>,
    /// SwiGLU up projection.
    pub up: Weight<'a>,
    /// Down projection.
    pub down: Weight<'a>,
}

/// A llama model from a GGUF file: what a graph needs, borrowed from the file.
#[derive(Clone, Debug)]
pub struct Llama<'a> {
    /// `general.name`.
    pub name: String,
    /// Embedding width d.
    pub dim: u32,
    /// Feed-forward width.
    pub ffn_dim: u32,
    /// Query heads.
    pub heads: u32,
    /// Key/value heads.
    pub kv_heads: u32,
    /// RoPE frequency base θ.
    pub rope_base: f32,
    /// RMSNorm epsilon.
    pub rms_eps: f32,
    /// Vocabulary size.
    pub vocab: u32,
    /// The end-of-sequence token id.
    pub eos: u32,
    /// Token embedding (V, d), also the output head (tied) unless `output` is present.
    pub embedding: Weight<'a>,
    /// The output head (V, d), when not tied to the embedding.
    pub output: Option<Weight<'a>>,
    /// Final RMSNorm.
    pub output_norm: Weight<'a>,
    /// Transformer blocks.
    pub blocks: Vec<Block<'a>>,
    /// The tokenizer tables ([`Tables`]), built from the GGUF metadata.
    pub tokenizer: Vec<u8>,
}

impl<'a> Llama<'a> {
    /// Reads a llama model from a parsed GGUF file.
    pub fn from_gguf(gguf: &Gguf<'a>) -> Result<Llama<'a>, LlamaError> {
        let arch = gguf.str("general.architecture")?;
        if arch != "llama" {
            return Err(unsupported(format!("architecture {arch:?}, not llama")));
        }
        let tokenizer_model = gguf.str("tokenizer.ggml.model")?;
        let pre = gguf.str("tokenizer.ggml.pre")?;
        if tokenizer_model != "gpt2" || pre != "smollm" {
            return Err(unsupported(format!(
                "tokenizer {tokenizer_model}/{pre}: only gpt2/smollm is implemented"
            )));
        }
        let u = |key: &str| gguf.u32(key);
        let (dim, ffn_dim, heads, kv_heads, layers) = (
            u("llama.embedding_length")?,
            u("llama.feed_forward_length")?,
            u("llama.attention.head_count")?,
            u("llama.attention.head_count_kv")?,
            u("llama.block_count")?,
        );
        if heads == 0 || kv_heads == 0 || heads % kv_heads != 0 || dim % heads != 0 {
            return Err(unsupported(format!(
                "{heads} heads and {kv_heads} KV heads of d = {dim}"
            )));
        }
        let head_dim = dim / heads;
        if head_dim % 2 != 0 || u("llama.rope.dimension_count").unwrap_or(head_dim) != head_dim {
            return Err(unsupported("RoPE must span whole heads of even length"));
        }
        let tokens = gguf.str_array("tokenizer.ggml.tokens")?;
        let types = gguf.i32_array("tokenizer.ggml.token_type")?;
        let merges = gguf.str_array("tokenizer.ggml.merges")?;
        let tokenizer = Tables::build(tokens, types, merges)
            .map_err(|e| unsupported(format!("tokenizer tables: {e}")))?;
        let vocab = tokens.len() as u32;
        let kv_dim = kv_heads * head_dim;
        let weight = |name: &str, dims: &[u32]| weight(gguf, name, dims);
        let blocks = (0..layers)
            .map(|l| {
                let w = |part: &str, dims: &[u32]| weight(&format!("blk.{l}.{part}.weight"), dims);
                Ok(Block {
                    attn_norm: w("attn_norm", &[dim])?,
                    q: w("attn_q", &[dim, dim])?,
                    k: w("attn_k", &[kv_dim, dim])?,
                    v: w("attn_v", &[kv_dim, dim])?,
                    o: w("attn_output", &[dim, dim])?,
                    ffn_norm: w("ffn_norm", &[dim])?,
                    gate: w("ffn_gate", &[ffn_dim, dim])?,
                    up: w("ffn_up", &[ffn_dim, dim])?,
                    down: w("ffn_down", &[dim, ffn_dim])?,
                })
            })
            .collect::<Result<Vec<_>, LlamaError>>()?;
        let output = match gguf.tensor("output.weight") {
            Some(_) => Some(weight("output.weight", &[vocab, dim])?),
            None => None,
        };
        Ok(Llama {
            name: gguf.str("general.name").unwrap_or("llama").to_string(),
            dim,
            ffn_dim,
            heads,
            kv_heads,
            rope_base: gguf.f32("llama.rope.freq_base")?,
            rms_eps: gguf.f32("llama.attention.layer_norm_rms_epsilon")?,
            vocab,
            eos: u("tokenizer.ggml.eos_token_id")?,
            embedding: weight("token_embd.weight", &[vocab, dim])?,
            output,
            output_norm: weight("output_norm.weight", &[dim])?,
            blocks,
            tokenizer,
        })
    }

    /// Length of a head.
    pub fn head_dim(&self) -> u32 {
        self.dim / self.heads
    }

    /// The output head: `output.weight`, or the tied embedding.
    pub fn head(&self) -> Weight<'a> {
        self.output.unwrap_or(self.embedding)
    }

    /// The tokenizer.
    pub fn tables(&self) -> Tables<'_> {
        Tables::parse(&self.tokenizer).expect("built by Tables::build")
    }
}

/// Tensor `name` with `dims` (rows first; GGUF lists the row length first), as a [`Weight`].
fn weight<'a>(gguf: &Gguf<'a>, name: &str, dims: &[u32]) -> Result<Weight<'a>, LlamaError> {
    let info = gguf
        .tensor(name)
        .ok_or_else(|| unsupported(format!("no tensor {name}")))?;
    let ggml_dims: Vec<u64> = dims.iter().rev().map(|&d| u64::from(d)).collect();
    if info.dims() != ggml_dims {
        return Err(unsupported(format!(
            "{name} has dims {:?}, expected {ggml_dims:?}",
            info.dims()
        )));
    }
    let dtype = match info.ggml_type() {
        GgmlType::F32 => DType::F32,
        GgmlType::Q4_1 => DType::Q4_1,
        GgmlType::Q8_0 => DType::Q8_0,
        other => return Err(unsupported(format!("{name} is {other:?}"))),
    };
    if (dims.len() == 1) != (dtype == DType::F32) {
        return Err(unsupported(format!(
            "{name}: norms must be F32 and matrices Q4_1 or Q8_0"
        )));
    }
    Ok(Weight {
        dtype,
        dims: [dims[0], dims.get(1).copied().unwrap_or(1)],
        rank: dims.len(),
        bytes: gguf.tensor_bytes(info),
    })
}
