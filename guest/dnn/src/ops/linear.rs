//! Linear layers: `Dense` and `Conv2d` (f32 and i8, through [`Linear`]) and `MatMul` (f32).
//!
//! The accumulator starts at the bias (or zero) and adds one product per reduced index in
//! ascending order: `k` for `Dense`; `c`, then `kh`, then `kw` for `Conv2d`. Each output
//! element is computed alone (one `generate` element), so large layers can split their outputs
//! across threads.

use alloc::vec::Vec;

use super::activation::relu;
use super::parallel::generate;
use super::quant::{Requant, requant};
use crate::canonical;

/// The arithmetic of a linear layer: the accumulator, how a product is added, and how the
/// accumulator becomes an output element.
///
/// `Sync` (and `Send` for outputs) so that a layer's output elements can be computed on several
/// threads.
pub trait Linear: Sync {
    /// Input and output element.
    type X: Copy + Default + Send + Sync;
    /// Weight element.
    type W: Copy + Sync;
    /// Bias element.
    type B: Copy + Sync;
    /// Accumulator.
    type Acc: Copy;
    /// The input value padding stands for: real 0.
    fn pad(&self) -> Self::X;
    /// The accumulator before the first product: the bias, or zero.
    fn start(&self, bias: Option<Self::B>) -> Self::Acc;
    /// `acc + x · w`.
    fn mac(&self, acc: Self::Acc, x: Self::X, w: Self::W) -> Self::Acc;
    /// The output element for a final accumulator.
    fn finish(&self, acc: Self::Acc) -> Self::X;
}

/// f32 layer: f32 accumulator, optional fused [`relu`].
#[derive(Clone, Copy, Debug)]
pub struct LinearF32 {
    /// Fused ReLU.
    pub relu: bool,
}

impl Linear for LinearF32 {
    type X = f32;
    type W = f32;
    type B = f32;
    type Acc = f32;

    fn pad(&self) -> f32 {
        0.0
    }

    fn start(&self, bias: Option<f32>) -> f32 {
        bias.unwrap_or(0.0)
    }

    fn mac(&self, acc: f32, x: f32, w: f32) -> f32 {
        acc + x * w
    }

    fn finish(&self, acc: f32) -> f32 {
        if self.relu { relu(acc) } else { canonical(acc) }
    }
}

/// Quantized layer: `acc = b + Σ (x − x_zero_point) · w` in wrapping i32 (weights symmetric),
/// then [`requant`].
#[derive(Clone, Copy, Debug)]
pub struct LinearI8 {
    /// Zero point of the input.
    pub x_zero_point: i8,
    /// Rescaling from the accumulator to the output.
    pub requant: Requant,
    /// Zero point of the output.
    pub out_zero_point: i8,
    /// Fused ReLU (clamps at the output zero point).
    pub relu: bool,
}

impl Linear for LinearI8 {
    type X = i8;
    type W = i8;
    type B = i32;
    type Acc = i32;

    fn pad(&self) -> i8 {
        self.x_zero_point
    }

    fn start(&self, bias: Option<i32>) -> i32 {
        bias.unwrap_or(0)
    }

    fn mac(&self, acc: i32, x: i8, w: i8) -> i32 {
        // |x − zx| ≤ 255 and |w| ≤ 128: the product fits; only the sum can wrap.
        acc.wrapping_add((i32::from(x) - i32::from(self.x_zero_point)) * i32::from(w))
    }

    fn finish(&self, acc: i32) -> i8 {
        let Requant { m0, s } = self.requant;
        requant(acc, m0, s, i32::from(self.out_zero_point), self.relu)
    }
}

/// `Dense`: each row of `x` (length `k`) against each row of `w` (N rows of length `k`), plus
/// `b` (length N): output rows of length N.
pub fn dense<L: Linear>(l: &L, x: &[L::X], w: &[L::W], b: Option<&[L::B]>, k: usize) -> Vec<L::X> {
    let n = w.len() / k;
    generate(x.len() / k, n, x.len().saturating_mul(n), |row| {
        let x = &x[row * k..][..k];
        move |j| {
            let acc = l.start(b.map(|b| b[j]));
            let acc = x
                .iter()
                .zip(&w[j * k..][..k])
                .fold(acc, |acc, (&x, &w)| l.mac(acc, x, w));
            l.finish(acc)
        }
    })
}

/// `MatMul`: each row of `a` (length `k`) times `b` (K × `n`, row-major): output rows of
/// length `n`; `Σ_k a[k] · b[k][j]` from `+0.0`.
pub fn matmul(a: &[f32], b: &[f32], k: usize, n: usize) -> Vec<f32> {
    generate(a.len() / k, n, a.len().saturating_mul(n), |row| {
        let a = &a[row * k..][..k];
        move |j| {
            let acc = a
                .iter()
                .enumerate()
                .fold(0.0, |acc, (t, &x)| acc + x * b[t * n + j]);
            canonical(acc)
        }
    })
}

/// Dimensions of a `Conv2d`: input (N, C, H, W), weights (O, C, KH, KW), strides and padding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2dDims {
    /// Batch.
    pub n: usize,
    /// Input channels.
    pub c: usize,
    /// Input height.
    pub h: usize,
    /// Input width.
    pub w: usize,
    /// Output channels.
    pub o: usize,
    /// Kernel height.
    pub kh: usize,
    /// Kernel width.
    pub kw: usize,
    /// Vertical stride (≥ 1).
    pub stride_h: usize,
    /// Horizontal stride (≥ 1).
    pub stride_w: usize,
    /// Rows of padding above and below.
    pub pad_h: usize,
    /// Columns of padding left and right.
    pub pad_w: usize,
}

impl Conv2dDims {
    /// Output height: `(H + 2·pad_h − KH) / stride_h + 1`.
    pub fn out_h(&self) -> usize {
        (self.h + 2 * self.pad_h - self.kh) / self.stride_h + 1
    }

    /// Output width: `(W + 2·pad_w − KW) / stride_w + 1`.
    pub fn out_w(&self) -> usize {
        (self.w + 2 * self.pad_w - self.kw) / self.stride_w + 1
    }
}

/// `Conv2d` (NCHW): output (N, O, H', W'). Padding positions take [`Linear::pad`] and are
/// accumulated like any other input.
pub fn conv2d<L: Linear>(
    l: &L,
    x: &[L::X],
    w: &[L::W],
    b: Option<&[L::B]>,
    d: &Conv2dDims,
) -> Vec<L::X> {
    // By value: the closures below then need not reload the dimensions after every soft-float
    // call in the guest (about 10,000 fewer instructions for the f32 MNIST CNN).
    let (d, out_h, out_w) = (*d, d.out_h(), d.out_w());
    // The input row (or column) that output position `o` and kernel offset `k` read, if any.
    let source = |o: usize, stride: usize, k: usize, pad: usize, len: usize| {
        (o * stride + k).checked_sub(pad).filter(|&i| i < len)
    };
    // Rows of the output: (n, o, oy) in NCHW order; columns: ox.
    let (rows, work) = (d.n * d.o * out_h, d.c * d.kh * d.kw);
    generate(rows, out_w, (rows * out_w).saturating_mul(work), |row| {
        let (oy, o, n) = (row % out_h, row / out_h % d.o, row / out_h / d.o);
        let start = l.start(b.map(|b| b[o]));
        move |ox| {
            let mut acc = start;
            for c in 0..d.c {
                let plane = (n * d.c + c) * d.h;
                let kernel = (o * d.c + c) * d.kh;
                for ky in 0..d.kh {
                    let y = source(oy, d.stride_h, ky, d.pad_h, d.h);
                    for kx in 0..d.kw {
                        let xi = source(ox, d.stride_w, kx, d.pad_w, d.w);
                        let v = match (y, xi) {
                            (Some(y), Some(xi)) => x[(plane + y) * d.w + xi],
                            _ => l.pad(),
                        };
                        acc = l.mac(acc, v, w[(kernel + ky) * d.kw + kx]);
                    }
                }
            }
            l.finish(acc)
        }
    })
}
