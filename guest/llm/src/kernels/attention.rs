//! Causal grouped-query attention of one query position.

use alloc::vec;
use core::ops::Range;

use super::Path;

/// Positions whose scores are computed together: the lanes of a transposed tile of keys (each
/// lane is still its own sequential sum over `d`, so SIMD over lanes changes nothing). Enough
/// independent accumulators to hide the latency of the additions.
const LANES: usize = 32;

/// Attention of one query over a KV cache of `t` positions, in the order of the
/// [module docs](crate::kernels).
///
/// `q` and `out` are `heads · head_dim`; `k` and `v` are `t × (kv_heads · head_dim)`, one row per
/// position (`t = k.len() / (kv_heads · head_dim)`); query head `h` reads kv head
/// `h / (heads / kv_heads)`. Preconditions: `head_dim`, `kv_heads` non-zero, `heads` a multiple
/// of `kv_heads`, `t ≥ 1`, the lengths as said.
pub fn attention(
    q: &[f32],
    k: &[f32],
    v: &[f32],
    heads: usize,
    kv_heads: usize,
    head_dim: usize,
    out: &mut [f32],
) {
    attention_heads(q, k, v, heads, kv_heads, head_dim, 0..heads, out)
}

/// [`attention`] of the query heads in `range` only (to split heads across threads): `out` is
/// `range.len() · head_dim`, the same values as the corresponding part of [`attention`]'s.
#[allow(clippy::too_many_arguments)]
pub fn attention_heads(
    q: &[f32],
    k: &[f32],
    v: &[f32],
    heads: usize,
    kv_heads: usize,
    head_dim: usize,
    range: Range<usize>,
    out: &mut [f32],
) {
    attention_path(
        Path::detect(),
        q,
        k,
        v,
        heads,
        kv_heads,
        head_dim,
        range,
        out,
    )
}

/// [`attention_heads`] by a given [`Path`] (panics if it is not [`available`](Path::available)).
#[doc(hidden)]
#[allow(clippy::too_many_arguments)]
pub fn attention_path(
    path: Path,
    q: &[f32],
    k: &[f32],
    v: &[f32],
    heads: usize,
    kv_heads: usize,
    head_dim: usize,
    range: Range<usize>,
    out: &mut [f32],
) {
    match path {
        Path::Portable => attention_generic(q, k, v, heads, kv_heads, head_dim, range, out),
        #[cfg(all(feature = "std", target_arch = "x86_64"))]
        Path::Avx2 => {
            assert!(path.available(), "attention: AVX2 is not available");
            // SAFETY: the CPU has AVX2 (checked just above).
            unsafe { attention_avx2(q, k, v, heads, kv_heads, head_dim, range, out) }
        }
        #[cfg(not(all(feature = "std", target_arch = "x86_64")))]
        Path::Avx2 => panic!("attention: AVX2 is not available"),
    }
}

/// The same code compiled with AVX2 (wider vectors over the same lanes; no FMA).
#[cfg(all(feature = "std", target_arch = "x86_64"))]
#[target_feature(enable = "avx2")]
#[allow(clippy::too_many_arguments)]
fn attention_avx2(
    q: &[f32],
    k: &[f32],
    v: &[f32],
    heads: usize,
    kv_heads: usize,
    head_dim: usize,
    range: Range<usize>,
    out: &mut [f32],
) {
    attention_generic(q, k, v, heads, kv_heads, head_dim, range, out)
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn attention_generic(
    q: &[f32],
    k: &[f32],
    v: &[f32],
    heads: usize,
    kv_heads: usize,
    head_dim: usize,
    range: Range<usize>,
    out: &mut [f32],
) {
    assert!(
        head_dim != 0 && kv_heads != 0 && heads.is_multiple_of(kv_heads),
        "attention: bad head counts"
    );
    let hd = head_dim;
    let kv_dim = kv_heads * hd;
    assert!(
        range.end <= heads && q.len() == heads * hd && out.len() == range.len() * hd,
        "attention: q or out length"
    );
    assert!(
        k.len().is_multiple_of(kv_dim) && !k.is_empty() && v.len() == k.len(),
        "attention: k or v length"
    );
    let t = k.len() / kv_dim;
    let group = heads / kv_heads;
    let scale = 1.0 / libm::sqrtf(hd as f32);
    // scores[i · t + j]: query head range.start + i, position j.
    let mut scores = vec![0.0f32; range.len() * t];
    // tile[d · LANES + l] = k[j0 + l][g · hd + d] for the lanes l in use.
    let mut tile = vec![0.0f32; hd * LANES];
    let mut h = range.start;
    while h < range.end {
        let g = h / group;
        let group_end = range.end.min((g + 1) * group);
        let mut j0 = 0;
        while j0 < t {
            let n = LANES.min(t - j0);
            for l in 0..n {
                let row = &k[(j0 + l) * kv_dim + g * hd..][..hd];
                for (d, &kd) in row.iter().enumerate() {
                    tile[d * LANES + l] = kd;
                }
            }
            for hh in h..group_end {
                let mut acc = [0.0f32; LANES];
                let qh = &q[hh * hd..][..hd];
                if n == LANES {
                    for (&qd, kd) in qh.iter().zip(tile.chunks_exact(LANES)) {
                        for (a, &kl) in acc.iter_mut().zip(kd) {
                            *a += qd * kl;
                        }
                    }
                } else {
                    // A partial tile: only the lanes in use (the same operations per lane).
                    for (&qd, kd) in qh.iter().zip(tile.chunks_exact(LANES)) {
                        for (a, &kl) in acc[..n].iter_mut().zip(kd) {
                            *a += qd * kl;
                        }
                    }
                }
                let row = &mut scores[(hh - range.start) * t..][..t];
                for (s, &a) in row[j0..j0 + n].iter_mut().zip(&acc) {
                    *s = a * scale;
                }
            }
            j0 += n;
        }
        h = group_end;
    }
    for (i, (p, oh)) in scores
        .chunks_exact_mut(t)
        .zip(out.chunks_exact_mut(hd))
        .enumerate()
    {
        let g = (range.start + i) / group;
        let mut max = f32::NEG_INFINITY;
        for &a in p.iter() {
            if a > max {
                max = a;
            }
        }
        let mut sum = 0.0f32;
        for a in p.iter_mut() {
            *a = libm::expf(*a - max);
            sum += *a;
        }
        let inv = 1.0 / sum;
        for a in p.iter_mut() {
            *a *= inv;
        }
        oh.fill(0.0);
        for (j, &pj) in p.iter().enumerate() {
            let vj = &v[j * kv_dim + g * hd..][..hd];
            for (o, &vd) in oh.iter_mut().zip(vj) {
                *o += pj * vd;
            }
        }
    }
}
