//! The operator table: each [`Op`] with its code and parameters, as a node entry stores them.
//!
//! Parameters are the list of the spec's table for the node's input dtype, packed from
//! `params[0]`; the rest are 0. `Dense` and `Conv2d` carry `m0, s` only when their input is i8.

use core::ops::RangeInclusive;

use crate::ModelError;
use crate::ops::Requant;
use crate::tensor::DType;

/// What follows the accumulation of a `Dense` or `Conv2d`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Epilogue {
    /// Requantization: present exactly for i8 layers.
    pub requant: Option<Requant>,
    /// Fused ReLU.
    pub relu: bool,
}

/// Strides and padding of a `Conv2d`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv {
    /// Vertical stride (≥ 1).
    pub stride_h: u32,
    /// Horizontal stride (≥ 1).
    pub stride_w: u32,
    /// Rows of padding above and below (< KH).
    pub pad_h: u32,
    /// Columns of padding left and right (< KW).
    pub pad_w: u32,
}

/// Kernel and strides of a pooling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pool {
    /// Kernel height (≥ 1).
    pub kernel_h: u32,
    /// Kernel width (≥ 1).
    pub kernel_w: u32,
    /// Vertical stride (≥ 1).
    pub stride_h: u32,
    /// Horizontal stride (≥ 1).
    pub stride_w: u32,
}

/// An operator with its parameters. See `docs/dnn.md` for inputs, outputs and semantics, and
/// [`ops`](crate::ops) for the computations.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Op {
    /// Code 1: x (…, K) · Wᵀ (N, K) + b (N).
    Dense(Epilogue),
    /// Code 2: 2-D convolution, NCHW.
    Conv2d(Conv, Epilogue),
    /// Code 3.
    Relu,
    /// Code 4.
    Gelu,
    /// Code 5.
    Silu,
    /// Code 6.
    MaxPool2d(Pool),
    /// Code 7.
    AvgPool2d(Pool),
    /// Code 8: over the last axis.
    Softmax,
    /// Code 9: over the last axis.
    Argmax,
    /// Code 10: over the last axis.
    LayerNorm {
        /// Added to the variance.
        eps: f32,
    },
    /// Code 11: over the last axis.
    RmsNorm {
        /// Added to the mean square.
        eps: f32,
    },
    /// Code 12: rows of a table.
    Embedding,
    /// Code 13.
    Add,
    /// Code 14.
    Mul,
    /// Code 15: A (…, M, K) · B (K, N).
    MatMul,
    /// Code 16: to the output tensor's shape.
    Reshape,
    /// Code 17: f32 to i8 with the output tensor's quantization.
    Quantize,
    /// Code 18: i8 to f32 with the input tensor's quantization.
    Dequantize,
    /// Code 19: x (…, K) · Wᵀ with rows `first_row ..` of a block-quantized W (N, K), as many
    /// as the output's last dimension; each row of x is quantized per block for integer dot
    /// products.
    QLinear {
        /// The first row of W used.
        first_row: u32,
    },
    /// Code 20: rotary position embedding of x (R, D) in heads of `head_dim`, row `r` at
    /// position `position + r`.
    Rope {
        /// Length of a head (even).
        head_dim: u32,
        /// Position of the first row.
        position: u32,
        /// The frequency base θ (finite, > 0).
        base: f32,
    },
    /// Code 21: causal grouped-query attention of q (1, H·hd) over a cache k, v (T, KV·hd).
    Attention {
        /// Query heads H.
        heads: u32,
        /// Key and value heads KV (dividing H).
        kv_heads: u32,
    },
    /// Code 22: a (T, …) then b (U, …) along the first axis.
    Concat,
    /// Code 23: `silu(gate) · up`.
    SwiGlu,
    /// Code 24: the prompt's token ids, from an LLM task record and the tokenizer tables.
    Tokenize,
    /// Code 25: row `ids[index]` of an embedding table (V, D), as f32 (1, D).
    TokenEmbedding {
        /// Which id of the ids tensor.
        index: u32,
    },
    /// Code 26: the next token, from logits (1, V) and an LLM task record's sampling settings.
    Sample {
        /// The position the token is drawn for (keys the sampler's random numbers).
        position: u32,
    },
}

/// Parameter count of a node entry.
pub(crate) const PARAMS: usize = 8;

impl Op {
    /// The operator code.
    pub fn code(&self) -> u16 {
        match self {
            Op::Dense(_) => 1,
            Op::Conv2d(..) => 2,
            Op::Relu => 3,
            Op::Gelu => 4,
            Op::Silu => 5,
            Op::MaxPool2d(_) => 6,
            Op::AvgPool2d(_) => 7,
            Op::Softmax => 8,
            Op::Argmax => 9,
            Op::LayerNorm { .. } => 10,
            Op::RmsNorm { .. } => 11,
            Op::Embedding => 12,
            Op::Add => 13,
            Op::Mul => 14,
            Op::MatMul => 15,
            Op::Reshape => 16,
            Op::Quantize => 17,
            Op::Dequantize => 18,
            Op::QLinear { .. } => 19,
            Op::Rope { .. } => 20,
            Op::Attention { .. } => 21,
            Op::Concat => 22,
            Op::SwiGlu => 23,
            Op::Tokenize => 24,
            Op::TokenEmbedding { .. } => 25,
            Op::Sample { .. } => 26,
        }
    }

    /// How many inputs the operator takes.
    pub fn arity(&self) -> RangeInclusive<usize> {
        match self {
            Op::Dense(_) | Op::Conv2d(..) => 2..=3,
            Op::LayerNorm { .. } | Op::Attention { .. } => 3..=3,
            Op::RmsNorm { .. }
            | Op::Embedding
            | Op::Add
            | Op::Mul
            | Op::MatMul
            | Op::QLinear { .. }
            | Op::Concat
            | Op::SwiGlu
            | Op::Tokenize
            | Op::TokenEmbedding { .. }
            | Op::Sample { .. } => 2..=2,
            _ => 1..=1,
        }
    }

    /// The node entry's `params`.
    pub fn params(&self) -> [i32; PARAMS] {
        let mut p = Params::default();
        match self {
            Op::Dense(e) => p.epilogue(e),
            Op::Conv2d(c, e) => {
                for v in [c.stride_h, c.stride_w, c.pad_h, c.pad_w] {
                    p.push(v as i32);
                }
                p.epilogue(e);
            }
            Op::MaxPool2d(k) | Op::AvgPool2d(k) => {
                for v in [k.kernel_h, k.kernel_w, k.stride_h, k.stride_w] {
                    p.push(v as i32);
                }
            }
            Op::LayerNorm { eps } | Op::RmsNorm { eps } => p.push(eps.to_bits() as i32),
            Op::Rope {
                head_dim,
                position,
                base,
            } => {
                for v in [*head_dim, *position, base.to_bits()] {
                    p.push(v as i32);
                }
            }
            Op::Attention { heads, kv_heads } => {
                p.push(*heads as i32);
                p.push(*kv_heads as i32);
            }
            Op::TokenEmbedding { index: v }
            | Op::Sample { position: v }
            | Op::QLinear { first_row: v } => p.push(*v as i32),
            _ => {}
        }
        p.values
    }

    /// Decodes a node entry's `op` and `params`; `input` is the dtype of the node's first input.
    pub(crate) fn decode(
        node: u32,
        code: u16,
        params: [i32; PARAMS],
        input: DType,
    ) -> Result<Op, ModelError> {
        let mut p = Params {
            values: params,
            at: 0,
        };
        let bad = ModelError::Params { node };
        let op = match code {
            1 => Op::Dense(p.read_epilogue(input).ok_or(bad)?),
            2 => {
                let conv = Conv {
                    stride_h: p.positive().ok_or(bad)?,
                    stride_w: p.positive().ok_or(bad)?,
                    pad_h: p.non_negative().ok_or(bad)?,
                    pad_w: p.non_negative().ok_or(bad)?,
                };
                Op::Conv2d(conv, p.read_epilogue(input).ok_or(bad)?)
            }
            3 => Op::Relu,
            4 => Op::Gelu,
            5 => Op::Silu,
            6 | 7 => {
                let pool = Pool {
                    kernel_h: p.positive().ok_or(bad)?,
                    kernel_w: p.positive().ok_or(bad)?,
                    stride_h: p.positive().ok_or(bad)?,
                    stride_w: p.positive().ok_or(bad)?,
                };
                if code == 6 {
                    Op::MaxPool2d(pool)
                } else {
                    Op::AvgPool2d(pool)
                }
            }
            8 => Op::Softmax,
            9 => Op::Argmax,
            10 => Op::LayerNorm {
                eps: f32::from_bits(p.next().ok_or(bad)? as u32),
            },
            11 => Op::RmsNorm {
                eps: f32::from_bits(p.next().ok_or(bad)? as u32),
            },
            12 => Op::Embedding,
            13 => Op::Add,
            14 => Op::Mul,
            15 => Op::MatMul,
            16 => Op::Reshape,
            17 => Op::Quantize,
            18 => Op::Dequantize,
            19 => Op::QLinear {
                first_row: p.non_negative().ok_or(bad)?,
            },
            20 => {
                let head_dim = p.positive().filter(|d| d.is_multiple_of(2)).ok_or(bad)?;
                let position = p.non_negative().ok_or(bad)?;
                let base = f32::from_bits(p.next().ok_or(bad)? as u32);
                if !(base.is_finite() && base > 0.0) {
                    return Err(bad);
                }
                Op::Rope {
                    head_dim,
                    position,
                    base,
                }
            }
            21 => {
                let heads = p.positive().ok_or(bad)?;
                let kv_heads = p
                    .positive()
                    .filter(|kv| heads.is_multiple_of(*kv))
                    .ok_or(bad)?;
                Op::Attention { heads, kv_heads }
            }
            22 => Op::Concat,
            23 => Op::SwiGlu,
            24 => Op::Tokenize,
            25 => Op::TokenEmbedding {
                index: p.non_negative().ok_or(bad)?,
            },
            26 => Op::Sample {
                position: p.non_negative().ok_or(bad)?,
            },
            _ => return Err(ModelError::Op { node, code }),
        };
        // Every parameter the operator does not use must be 0.
        if p.values[p.at..].iter().any(|&v| v != 0) {
            return Err(bad);
        }
        Ok(op)
    }
}

/// A node's parameter list, written or read from the front.
#[derive(Default)]
struct Params {
    values: [i32; PARAMS],
    at: usize,
}

impl Params {
    fn push(&mut self, value: i32) {
        self.values[self.at] = value;
        self.at += 1;
    }

    fn epilogue(&mut self, e: &Epilogue) {
        if let Some(Requant { m0, s }) = e.requant {
            self.push(m0);
            self.push(s);
        }
        self.push(i32::from(e.relu));
    }

    fn next(&mut self) -> Option<i32> {
        let value = *self.values.get(self.at)?;
        self.at += 1;
        Some(value)
    }

    fn positive(&mut self) -> Option<u32> {
        self.non_negative().filter(|&v| v > 0)
    }

    fn non_negative(&mut self) -> Option<u32> {
        u32::try_from(self.next()?).ok()
    }

    /// `m0, s` for an i8 input (m0 0 or in 2^30..2^31, s in -30..=31), then `relu` (0 or 1).
    fn read_epilogue(&mut self, input: DType) -> Option<Epilogue> {
        let requant = match input {
            DType::I8 => {
                let (m0, s) = (self.next()?, self.next()?);
                let valid = (m0 == 0 || m0 >= 1 << 30) && (-30..=31).contains(&s);
                Some(valid.then_some(Requant { m0, s })?)
            }
            DType::F32 | DType::I32 | DType::Q4_1 | DType::Q8_0 => None,
        };
        let relu = match self.next()? {
            0 => false,
            1 => true,
            _ => return None,
        };
        Some(Epilogue { requant, relu })
    }
}

// Kept after everything the guests compile, so that adding it moved no panic location (the
// program IDs hash the guests' ELFs, and those embed line numbers).
impl Op {
    /// The operator's name, as `docs/dnn.md`'s operator table spells it.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Dense(_) => "Dense",
            Op::Conv2d(..) => "Conv2d",
            Op::Relu => "Relu",
            Op::Gelu => "Gelu",
            Op::Silu => "Silu",
            Op::MaxPool2d(_) => "MaxPool2d",
            Op::AvgPool2d(_) => "AvgPool2d",
            Op::Softmax => "Softmax",
            Op::Argmax => "Argmax",
            Op::LayerNorm { .. } => "LayerNorm",
            Op::RmsNorm { .. } => "RmsNorm",
            Op::Embedding => "Embedding",
            Op::Add => "Add",
            Op::Mul => "Mul",
            Op::MatMul => "MatMul",
            Op::Reshape => "Reshape",
            Op::Quantize => "Quantize",
            Op::Dequantize => "Dequantize",
            Op::QLinear { .. } => "QLinear",
            Op::Rope { .. } => "Rope",
            Op::Attention { .. } => "Attention",
            Op::Concat => "Concat",
            Op::SwiGlu => "SwiGlu",
            Op::Tokenize => "Tokenize",
            Op::TokenEmbedding { .. } => "TokenEmbedding",
            Op::Sample { .. } => "Sample",
        }
    }
}
