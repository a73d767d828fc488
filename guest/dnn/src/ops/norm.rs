//! Row-wise f32 operators over the last axis: `Softmax`, `LayerNorm`, `RmsNorm`.

use alloc::vec::Vec;

use super::{index::max_index, sum};
use crate::canonical;

/// Softmax of each row of length `d`: `e_i = exp(x_i − max)`, then `e_i / Σ e` (Σ from `+0.0`,
/// ascending), the max found as by [`argmax`](super::argmax).
pub fn softmax(x: &[f32], d: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(x.len());
    for row in x.chunks_exact(d) {
        let max = row[max_index(row)];
        let start = out.len();
        out.extend(row.iter().map(|&v| libm::expf(v - max)));
        let total = sum(out[start..].iter().copied());
        for e in &mut out[start..] {
            *e = canonical(*e / total);
        }
    }
    out
}

/// LayerNorm of each row (length `D` = `gamma.len()`), two passes:
/// `mean = Σ x / D`, `var = Σ (x − mean)² / D`, `y = (x − mean) / sqrt(var + eps) × γ + β`.
pub fn layer_norm(x: &[f32], gamma: &[f32], beta: &[f32], eps: f32) -> Vec<f32> {
    let d = gamma.len();
    let mut out = Vec::with_capacity(x.len());
    for row in x.chunks_exact(d) {
        let mean = sum(row.iter().copied()) / d as f32;
        let var = sum(row.iter().map(|&v| (v - mean) * (v - mean))) / d as f32;
        let std = libm::sqrtf(var + eps);
        out.extend(
            row.iter()
                .zip(gamma.iter().zip(beta))
                .map(|(&v, (&g, &b))| canonical((v - mean) / std * g + b)),
        );
    }
    out
}

/// RmsNorm of each row (length `D` = `gamma.len()`): `y = x / sqrt(Σ x² / D + eps) × γ`.
pub fn rms_norm(x: &[f32], gamma: &[f32], eps: f32) -> Vec<f32> {
    let d = gamma.len();
    let mut out = Vec::with_capacity(x.len());
    for row in x.chunks_exact(d) {
        let rms = libm::sqrtf(sum(row.iter().map(|&v| v * v)) / d as f32 + eps);
        out.extend(row.iter().zip(gamma).map(|(&v, &g)| canonical(v / rms * g)));
    }
    out
}
