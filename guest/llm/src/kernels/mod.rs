//! Deterministic llama kernels: bit-identical natively (SIMD, rows split across threads by the
//! caller) and in the VM (`riscv32im`, soft-float).
//!
//! Every kernel is a pure, total function of its inputs on valid sizes; it panics only when a
//! documented size precondition is violated. The rules that make the results bit-identical:
//! no fused multiply-add (Rust never contracts `a * b + c`), transcendental functions only from
//! the software `libm` crate, every f32 sum in the order given below with one accumulator, and
//! integer dot products exact (so their order is free). NaN payloads are not canonicalized here:
//! the caller canonicalizes every f32 output; no kernel branches on payload bits.
//!
//! # Normative order of operations
//!
//! `+`, `·`, `/` below are single f32 operations, evaluated as parenthesized; `Σ` over f32 is a
//! left fold from `+0.0` in ascending index order; `Σ` over integers is exact.
//!
//! **Activation quantization** ([`quantize_activations`], ggml's `quantize_row_q8_1_ref` with f32
//! instead of f16 scales; scalar spec: [`reference::quantize_activations`]): for each block of
//! [`QK`] values `x_i`, `amax = max |x_i|` (a left fold from `0.0` of `if |x_i| > amax { amax =
//! |x_i| }`: NaN never raises it, and the order is free), `d = amax / 127`, `id = 1 / d` if
//! `d ≠ 0` else `0`, `q_i = clamp(libm::roundf(x_i · id) as i32, −127, 127)` (the product
//! `x·(1/d)`, as ggml; `as` saturates and maps NaN to 0), and `s = d · (Σ q_i as f32)`.
//!
//! **Quantized matrix-vector product** ([`matvec`]; scalar spec: [`reference::matvec`]): per row,
//! `acc = +0.0`; for each block `b` in ascending order, `isum = Σ_i qw_i · qx_i` (exact i32; Q4_1
//! nibbles unsigned `0..=15`, Q8_0 signed), with `dw`, `mw` the block's f16 scales as f32:
//!
//! * Q4_1: `acc = acc + ((dw · dx_b) · (isum as f32) + mw · sx_b)`
//! * Q8_0: `acc = acc + (dw · dx_b) · (isum as f32)`
//!
//! This is the scalar path of ggml's `ggml_vec_dot_q4_1_q8_1` / `ggml_vec_dot_q8_0_q8_0`
//! (`sumf += (d_x·d_y)·sumi + m_x·s_y`), one block at a time into a single f32 accumulator. ggml's
//! SIMD paths keep 8 partial sums and f16 activation scales; we do neither, so results match
//! ggml's scalar reference up to the f16 rounding of `d` and `s` only.
//!
//! **Embedding** ([`embedding`]): row `id` dequantized as [`BlockFormat::dequantize_block`].
//!
//! **RoPE** ([`rope`], llama.cpp's NORM mode, `ggml_rope_cache_init` + `rotate_pairs`): with
//! `n = head_dim`, `scale = libm::powf(base, −2 / (n as f32))` and `θ_0 = pos as f32`,
//! `θ_{i+1} = θ_i · scale` (repeated multiplication, as ggml; mathematically
//! `pos · base^(−2i/n)`), `c_i = libm::cosf(θ_i)`, `s_i = libm::sinf(θ_i)`; every head's pair
//! `(x0, x1) = (x[2i], x[2i+1])` becomes `(x0·c_i − x1·s_i, x0·s_i + x1·c_i)`.
//!
//! **Attention** ([`attention`]): per query head `h` with kv head `g = h / (heads / kv_heads)`,
//! `scale = 1 / libm::sqrtf(head_dim as f32)`; for each position `j`: `a_j = (Σ_d q_d · k_{j,d}) ·
//! scale`; `max` = left fold from `−∞` of `if a_j > max { max = a_j }`; `e_j = libm::expf(a_j −
//! max)`; `sum = Σ_j e_j`; `inv = 1 / sum`; `p_j = e_j · inv`; `out_d = Σ_j p_j · v_{j,d}`. This
//! is ggml's `soft_max_ext` (scale, max, `expf`, multiply by `1/sum`) except that ggml sums the
//! exponentials in f64; the products are ggml's `mul_mat` order with one accumulator.
//!
//! **SwiGLU** ([`swiglu`], ggml's `ggml_vec_swiglu_f32`): `out_i = (g_i / (1 + libm::expf(−g_i)))
//! · up_i`.
//!
//! # Relation to ggml / llama.cpp
//!
//! The formulas are ggml's CPU reference (scalar) code with these differences, so results are
//! close to llama.cpp's but not bit-compatible with it: activation scales `d`, `s` stay f32 (ggml
//! rounds them to f16); rounding is `roundf` (half away from zero) as in ggml's
//! `quantize_row_q8_1_ref`, while ggml's x86 SIMD quantizer rounds half to even; ggml's SIMD dot
//! products keep several partial f32 sums, we keep one per row; the KV cache is f32 here (f16 in
//! llama.cpp); the softmax sum is f32 (f64 in ggml); `expf`, `sinf`, `cosf`, `powf`, `sqrtf` are
//! the `libm` crate's, not the C library's.
//!
//! # Implementations
//!
//! [`matvec`] and [`attention`] choose a [`Path`] at run time: the portable code (the only one
//! in the VM; auto-vectorized natively for the compile-time target features) or, with the `std`
//! feature on x86-64 CPUs with AVX2 and F16C, an AVX2 one. Matvec's AVX2 path computes the exact
//! integer block sums with `maddubs`/`madd` and runs four rows in the four lanes of the f32
//! accumulation, each lane doing exactly the scalar operations; attention's is the portable code
//! compiled with AVX2 (its SIMD lanes are positions or output elements, never parts of one
//! sum). Every path is tested bit-identical to the portable one and, for matvec, to the scalar
//! [`reference`](mod@reference). Threads: split [`matvec`] by rows (best at multiples of 4
//! rows) and [`attention_heads`] by heads; any split gives the same bits. Quantize an input
//! vector once for all the matrices that read it (q, k and v; gate and up).

mod attention;
mod matvec;
pub mod reference;
mod rope;

#[doc(hidden)]
pub use attention::attention_path;
pub use attention::{attention, attention_heads};
#[doc(hidden)]
pub use matvec::{Path, matvec_path, round_clamp};
pub use matvec::{QuantizedActivations, matvec, quantize_activations, quantize_activations_into};
pub use rope::rope;

use crate::quant::{BlockFormat, QK};

/// Row `id` of a block-quantized table (`rows × cols`, row-major), dequantized into `out`.
///
/// Preconditions: `cols % QK == 0`, `out.len() == cols`, the table holds row `id`.
pub fn embedding(format: BlockFormat, table: &[u8], cols: usize, id: usize, out: &mut [f32]) {
    let row_bytes = format.row_bytes(cols).expect("cols is a multiple of QK");
    assert_eq!(out.len(), cols, "embedding: out.len() != cols");
    let row = &table[id * row_bytes..(id + 1) * row_bytes];
    for (block, chunk) in row
        .chunks_exact(format.block_bytes())
        .zip(out.chunks_exact_mut(QK))
    {
        let chunk: &mut [f32; QK] = chunk.try_into().expect("chunks of QK");
        format.dequantize_block(block, chunk);
    }
}

/// `out_i = silu(gate_i) · up_i` with `silu(x) = x / (1 + libm::expf(−x))`.
///
/// Preconditions: `gate`, `up` and `out` have the same length.
pub fn swiglu(gate: &[f32], up: &[f32], out: &mut [f32]) {
    assert!(
        gate.len() == out.len() && up.len() == out.len(),
        "swiglu: lengths differ"
    );
    for ((o, &g), &u) in out.iter_mut().zip(gate).zip(up) {
        *o = (g / (1.0 + libm::expf(-g))) * u;
    }
}
