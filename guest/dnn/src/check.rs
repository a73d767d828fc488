//! The shape rules: which input and output tensors fit each operator. The reader applies them to
//! every node, so that the executor only meets shapes its kernels accept.

use alloc::vec::Vec;

use crate::op::{Conv, Op, Pool};
use crate::tensor::{DType, Shape, TensorInfo};

/// The largest reduced length `K` of an i8 layer: `255 · 128 · 2^16 < 2^31`.
const MAX_I8_K: u64 = 1 << 16;

type Rule = Result<(), &'static str>;

/// The reader checks arities first; this guards the rules against a short `inputs`.
const ARITY: &str = "missing input";

/// Checks that `inputs` (as many as the operator's arity) and `out` fit `op`.
pub(crate) fn check(op: &Op, inputs: &[TensorInfo], out: &TensorInfo) -> Rule {
    let [x, rest @ ..] = inputs else {
        return Err(ARITY);
    };
    let (xd, rank) = (x.shape.dims(), x.shape.rank());
    match op {
        Op::Dense(_) => {
            let w = rest.first().ok_or(ARITY)?;
            rule(
                rank >= 1 && w.shape.rank() == 2,
                "Dense needs x (…, K) and W (N, K)",
            )?;
            let (n, k) = (w.shape.dims()[0], w.shape.dims()[1]);
            rule(k == xd[rank - 1], "Dense: x and W disagree on K")?;
            linear(x, w, rest.get(1), n, u64::from(k))?;
            output(out, x.dtype, &with_last(xd, n))
        }
        Op::Conv2d(conv, _) => {
            let w = rest.first().ok_or(ARITY)?;
            rule(
                rank == 4 && w.shape.rank() == 4,
                "Conv2d needs x (N, C, H, W) and W (O, C, KH, KW)",
            )?;
            let wd = w.shape.dims();
            rule(wd[1] == xd[1], "Conv2d: x and W disagree on C")?;
            let Conv {
                stride_h,
                stride_w,
                pad_h,
                pad_w,
            } = *conv;
            rule(
                pad_h < wd[2] && pad_w < wd[3],
                "Conv2d: padding must be smaller than the kernel",
            )?;
            let out_h = window(xd[2], wd[2], stride_h, pad_h)?;
            let out_w = window(xd[3], wd[3], stride_w, pad_w)?;
            let k = u64::from(wd[1]) * u64::from(wd[2]) * u64::from(wd[3]);
            linear(x, w, rest.get(1), wd[0], k)?;
            output(out, x.dtype, &[xd[0], wd[0], out_h, out_w])
        }
        Op::MaxPool2d(pool) | Op::AvgPool2d(pool) => {
            rule(rank == 4, "pooling needs x (N, C, H, W)")?;
            rule(
                matches!(x.dtype, DType::F32 | DType::I8),
                "pooling takes f32 or i8",
            )?;
            let Pool {
                kernel_h,
                kernel_w,
                stride_h,
                stride_w,
            } = *pool;
            let out_h = window(xd[2], kernel_h, stride_h, 0)?;
            let out_w = window(xd[3], kernel_w, stride_w, 0)?;
            same_quant(x, out)?;
            output(out, x.dtype, &[xd[0], xd[1], out_h, out_w])
        }
        Op::Relu => {
            rule(
                matches!(x.dtype, DType::F32 | DType::I8),
                "Relu takes f32 or i8",
            )?;
            same_quant(x, out)?;
            output(out, x.dtype, xd)
        }
        Op::Gelu | Op::Silu => {
            rule(x.dtype == DType::F32, "activation takes f32")?;
            output(out, DType::F32, xd)
        }
        Op::Softmax => {
            rule(
                x.dtype == DType::F32 && rank >= 1,
                "Softmax takes f32 of rank ≥ 1",
            )?;
            output(out, DType::F32, xd)
        }
        Op::Argmax => {
            rule(rank >= 1, "Argmax takes rank ≥ 1")?;
            rule(x.dtype.block().is_none(), "Argmax takes f32, i8 or i32")?;
            output(out, DType::I32, &xd[..rank - 1])
        }
        Op::LayerNorm { .. } | Op::RmsNorm { .. } => {
            rule(
                x.dtype == DType::F32 && rank >= 1,
                "normalization takes f32 of rank ≥ 1",
            )?;
            let d = xd[rank - 1];
            for p in rest {
                rule(
                    p.dtype == DType::F32 && p.shape.dims() == [d],
                    "γ and β must be f32 (D)",
                )?;
            }
            output(out, DType::F32, xd)
        }
        Op::Embedding => {
            let table = rest.first().ok_or(ARITY)?;
            rule(
                x.dtype == DType::I32 && rank <= 3,
                "Embedding ids must be i32 of rank ≤ 3",
            )?;
            rule(table.shape.rank() == 2, "Embedding table must be (V, D)")?;
            rule(
                matches!(table.dtype, DType::F32 | DType::I8),
                "Embedding table takes f32 or i8",
            )?;
            same_quant(table, out)?;
            let dims: Vec<u32> = xd.iter().chain(&table.shape.dims()[1..]).copied().collect();
            output(out, table.dtype, &dims)
        }
        Op::Add | Op::Mul => {
            let b = rest.first().ok_or(ARITY)?;
            rule(
                x.dtype == DType::F32 && b.dtype == DType::F32,
                "Add and Mul take f32",
            )?;
            let broadcast = b.shape.rank() == 1 && rank >= 1 && b.shape.dims()[0] == xd[rank - 1];
            rule(
                b.shape == x.shape || broadcast,
                "b must have a's shape or (a's last dim)",
            )?;
            output(out, DType::F32, xd)
        }
        Op::MatMul => {
            let b = rest.first().ok_or(ARITY)?;
            rule(
                x.dtype == DType::F32 && b.dtype == DType::F32,
                "MatMul takes f32",
            )?;
            rule(
                rank >= 2 && b.shape.rank() == 2,
                "MatMul needs A (…, M, K) and B (K, N)",
            )?;
            let (k, n) = (b.shape.dims()[0], b.shape.dims()[1]);
            rule(k == xd[rank - 1], "MatMul: A and B disagree on K")?;
            output(out, DType::F32, &with_last(xd, n))
        }
        Op::Reshape => {
            rule(out.dtype == x.dtype, "Reshape keeps the dtype")?;
            rule(x.dtype.block().is_none(), "Reshape takes f32, i8 or i32")?;
            rule(
                out.shape.count() == x.shape.count(),
                "Reshape keeps the element count",
            )?;
            same_quant(x, out)
        }
        Op::Quantize => {
            rule(x.dtype == DType::F32, "Quantize takes f32")?;
            output(out, DType::I8, xd)
        }
        Op::Dequantize => {
            rule(x.dtype == DType::I8, "Dequantize takes i8")?;
            output(out, DType::F32, xd)
        }
        Op::QLinear { first_row } => {
            let w = rest.first().ok_or(ARITY)?;
            rule(
                x.dtype == DType::F32 && rank >= 1,
                "QLinear takes f32 x (…, K)",
            )?;
            rule(
                w.dtype.block().is_some() && w.shape.rank() == 2,
                "QLinear needs block-quantized W (N, K)",
            )?;
            let (n, k) = (w.shape.dims()[0], w.shape.dims()[1]);
            rule(k == xd[rank - 1], "QLinear: x and W disagree on K")?;
            let rows = out.shape.last() as u64;
            rule(
                u64::from(*first_row) + rows <= u64::from(n),
                "QLinear: the rows used must be rows of W",
            )?;
            output(out, DType::F32, &with_last(xd, rows as u32))
        }
        Op::Rope { head_dim, .. } => {
            rule(
                x.dtype == DType::F32 && rank == 2 && xd[1] % head_dim == 0,
                "Rope takes f32 (R, D), D a multiple of the head length",
            )?;
            rule(
                u64::from(xd[0]) <= 1 << 31,
                "Rope: too many rows for their positions",
            )?;
            output(out, DType::F32, xd)
        }
        Op::Attention { heads, kv_heads } => {
            let (k, v) = (rest.first().ok_or(ARITY)?, rest.get(1).ok_or(ARITY)?);
            rule(
                x.dtype == DType::F32 && rank == 2 && xd[0] == 1 && xd[1] % heads == 0,
                "Attention takes q f32 (1, H·hd)",
            )?;
            let head_dim = xd[1] / heads;
            rule(
                k.dtype == DType::F32
                    && k.shape == v.shape
                    && v.dtype == DType::F32
                    && k.shape.rank() == 2
                    && u64::from(k.shape.dims()[1]) == u64::from(*kv_heads) * u64::from(head_dim),
                "Attention takes k and v f32 (T, KV·hd)",
            )?;
            output(out, DType::F32, xd)
        }
        Op::Concat => {
            let b = rest.first().ok_or(ARITY)?;
            rule(
                matches!(x.dtype, DType::F32 | DType::I8 | DType::I32) && b.dtype == x.dtype,
                "Concat takes two f32, i8 or i32 tensors",
            )?;
            rule(
                rank >= 1 && b.shape.rank() == rank && b.shape.dims()[1..] == xd[1..],
                "Concat: a and b differ past the first axis",
            )?;
            same_quant(x, out)?;
            rule(x.quant == b.quant, "Concat: a and b differ in quantization")?;
            let mut dims = xd.to_vec();
            dims[0] = xd[0]
                .checked_add(b.shape.dims()[0])
                .ok_or("Concat output too large")?;
            output(out, x.dtype, &dims)
        }
        Op::SwiGlu => {
            let up = rest.first().ok_or(ARITY)?;
            rule(
                x.dtype == DType::F32 && up.dtype == DType::F32 && up.shape == x.shape,
                "SwiGlu takes gate and up f32 of one shape",
            )?;
            output(out, DType::F32, xd)
        }
        Op::Tokenize => {
            let tables = rest.first().ok_or(ARITY)?;
            rule(
                x.dtype == DType::I8 && rank == 1,
                "Tokenize takes a task record i8 (L)",
            )?;
            rule(
                tables.dtype == DType::I8 && tables.shape.rank() == 1,
                "Tokenize takes tokenizer tables i8 (B)",
            )?;
            rule(
                out.dtype == DType::I32 && out.shape.rank() == 1,
                "Tokenize writes i32 ids (n)",
            )
        }
        Op::TokenEmbedding { index } => {
            let table = rest.first().ok_or(ARITY)?;
            rule(
                x.dtype == DType::I32 && rank == 1 && *index < xd[0],
                "TokenEmbedding takes i32 ids (T) and an index below T",
            )?;
            rule(
                table.shape.rank() == 2
                    && (table.dtype == DType::F32 || table.dtype.block().is_some()),
                "TokenEmbedding takes an f32 or block-quantized table (V, D)",
            )?;
            output(out, DType::F32, &[1, table.shape.dims()[1]])
        }
        Op::Sample { .. } => {
            let record = rest.first().ok_or(ARITY)?;
            rule(
                x.dtype == DType::F32 && (rank == 1 || rank == 2 && xd[0] == 1),
                "Sample takes logits f32 (V) or (1, V)",
            )?;
            rule(
                record.dtype == DType::I8 && record.shape.rank() == 1,
                "Sample takes a task record i8 (L)",
            )?;
            output(out, DType::I32, &[1])
        }
    }
}

fn rule(ok: bool, reason: &'static str) -> Rule {
    if ok { Ok(()) } else { Err(reason) }
}

/// The dtypes of a `Dense` or `Conv2d` with `n` outputs per position and reduced length `k`:
/// all f32, or i8 input, symmetric i8 weights and i32 bias with zero point 0, `k ≤ 2^16`.
fn linear(x: &TensorInfo, w: &TensorInfo, b: Option<&TensorInfo>, n: u32, k: u64) -> Rule {
    if let Some(b) = b {
        rule(b.shape.dims() == [n], "bias must be (N) or (O)")?;
    }
    match x.dtype {
        DType::F32 => rule(
            w.dtype == DType::F32 && b.is_none_or(|b| b.dtype == DType::F32),
            "f32 layer needs f32 weights and bias",
        ),
        DType::I8 => {
            rule(
                w.dtype == DType::I8 && w.quant.zero_point == 0,
                "i8 layer needs symmetric i8 weights",
            )?;
            rule(
                b.is_none_or(|b| b.dtype == DType::I32 && b.quant.zero_point == 0),
                "i8 layer needs an i32 bias with zero point 0",
            )?;
            rule(
                k <= MAX_I8_K,
                "i8 layer reduces over more than 2^16 elements",
            )
        }
        DType::I32 | DType::Q4_1 | DType::Q8_0 => Err("layers take f32 or i8"),
    }
}

/// Output length of a window: `(len + 2·pad − kernel) / stride + 1`, the window must fit.
fn window(len: u32, kernel: u32, stride: u32, pad: u32) -> Result<u32, &'static str> {
    let padded = u64::from(len) + 2 * u64::from(pad);
    let span = padded
        .checked_sub(u64::from(kernel))
        .ok_or("window larger than the input")?;
    // span < 2^33 and stride ≥ 1; a result past u32 cannot match the output's dims.
    u32::try_from(span / u64::from(stride) + 1).map_err(|_| "window output too large")
}

/// An i8 output of a data-moving operator keeps its input's quantization.
fn same_quant(x: &TensorInfo, out: &TensorInfo) -> Rule {
    rule(
        x.dtype != DType::I8 || x.quant == out.quant,
        "i8 output must keep the input's quantization",
    )
}

/// `dims` without the last, then `last`.
fn with_last(dims: &[u32], last: u32) -> Vec<u32> {
    let mut out = dims.to_vec();
    if let Some(d) = out.last_mut() {
        *d = last;
    }
    out
}

fn output(out: &TensorInfo, dtype: DType, dims: &[u32]) -> Rule {
    rule(out.dtype == dtype, "output has the wrong dtype")?;
    let shape = Shape::new(dims).map_err(|_| "output shape is not a valid shape")?;
    rule(out.shape == shape, "output has the wrong shape")
}
