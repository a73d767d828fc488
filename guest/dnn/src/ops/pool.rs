//! `MaxPool2d` and `AvgPool2d` (NCHW, no padding). A window is read row by row (`kh`, then `kw`
//! ascending).

use alloc::vec::Vec;

use super::{parallel::generate, quant::round_half_away, sum};
use crate::{Element, canonical};

/// Dimensions of a pooling: input (N, C, H, W), kernel and strides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pool2dDims {
    /// Batch.
    pub n: usize,
    /// Channels.
    pub c: usize,
    /// Input height (≥ `kh`).
    pub h: usize,
    /// Input width (≥ `kw`).
    pub w: usize,
    /// Kernel height.
    pub kh: usize,
    /// Kernel width.
    pub kw: usize,
    /// Vertical stride (≥ 1).
    pub stride_h: usize,
    /// Horizontal stride (≥ 1).
    pub stride_w: usize,
}

impl Pool2dDims {
    /// Output height: `(H − KH) / stride_h + 1`.
    pub fn out_h(&self) -> usize {
        (self.h - self.kh) / self.stride_h + 1
    }

    /// Output width: `(W − KW) / stride_w + 1`.
    pub fn out_w(&self) -> usize {
        (self.w - self.kw) / self.stride_w + 1
    }
}

/// `MaxPool2d`: the maximum of each window, found as by [`argmax`](super::argmax) (the first
/// element, replaced by each later one that is greater).
pub fn max_pool2d<T: Element + Default + Send + Sync>(x: &[T], d: &Pool2dDims) -> Vec<T> {
    pool(x, d, |first, rest| {
        rest.fold(first, |m, v| if v > m { v } else { m })
            .canonical()
    })
}

/// f32 `AvgPool2d`: the window's sum (from `+0.0`, in window order) divided by `KH·KW`.
pub fn avg_pool2d_f32(x: &[f32], d: &Pool2dDims) -> Vec<f32> {
    let count = (d.kh * d.kw) as f32;
    pool(x, d, |first, rest| {
        canonical(sum(core::iter::once(first).chain(rest)) / count)
    })
}

/// i8 `AvgPool2d`: the window's sum of quantized values divided by `KH·KW`, rounded half away
/// from zero (input and output share scale and zero point).
pub fn avg_pool2d_i8(x: &[i8], d: &Pool2dDims) -> Vec<i8> {
    let count = (d.kh * d.kw) as u64;
    pool(x, d, |first, rest| {
        let total = rest.fold(i64::from(first), |acc, v| acc + i64::from(v));
        // The mean of i8 values rounds to an i8.
        round_half_away(total, count) as i8
    })
}

/// Applies `reduce(first, rest)` to every window, in NCHW output order.
fn pool<T: Copy + Sync, O: Copy + Default + Send>(
    x: &[T],
    d: &Pool2dDims,
    reduce: impl Fn(T, &mut dyn Iterator<Item = T>) -> O + Sync,
) -> Vec<O> {
    let (out_h, out_w) = (d.out_h(), d.out_w());
    // Rows of the output: (plane, oy); columns: ox.
    let (rows, reduce) = (d.n * d.c * out_h, &reduce);
    generate(
        rows,
        out_w,
        (rows * out_w).saturating_mul(d.kh * d.kw),
        |row| {
            let (plane, oy) = (row / out_h, row % out_h);
            let top = (plane * d.h + oy * d.stride_h) * d.w;
            move |ox| {
                let top_left = top + ox * d.stride_w;
                // The window row by row, after its first element.
                let window_row = |ky: usize| &x[top_left + ky * d.w..][..d.kw];
                let mut rest = window_row(0)[1..]
                    .iter()
                    .chain((1..d.kh).flat_map(window_row))
                    .copied();
                reduce(x[top_left], &mut rest)
            }
        },
    )
}
