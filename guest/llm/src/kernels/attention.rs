//! Causal grouped-query attention of one query position.

use alloc::vec;

/// Positions whose scores are computed together (independent accumulators; each score is
/// still one sequential sum).
const LANES: usize = 8;

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
    assert!(
        head_dim != 0 && kv_heads != 0 && heads.is_multiple_of(kv_heads),
        "attention: bad head counts"
    );
    let hd = head_dim;
    let kv_dim = kv_heads * hd;
    assert!(
        q.len() == heads * hd && out.len() == heads * hd,
        "attention: q or out length"
    );
    assert!(
        k.len().is_multiple_of(kv_dim) && !k.is_empty() && v.len() == k.len(),
        "attention: k or v length"
    );
    let t = k.len() / kv_dim;
    let group = heads / kv_heads;
    let scale = 1.0 / libm::sqrtf(hd as f32);
    let mut p = vec![0.0f32; t];
    for h in 0..heads {
        let g = h / group;
        let qh = &q[h * hd..(h + 1) * hd];
        // Scores, LANES positions at a time (each lane its own sequential sum over d).
        let mut j0 = 0;
        while j0 < t {
            let n = LANES.min(t - j0);
            let mut acc = [0.0f32; LANES];
            for (d, &qd) in qh.iter().enumerate() {
                for (l, a) in acc.iter_mut().enumerate().take(n) {
                    *a += qd * k[(j0 + l) * kv_dim + g * hd + d];
                }
            }
            for (l, &a) in acc.iter().enumerate().take(n) {
                p[j0 + l] = a * scale;
            }
            j0 += n;
        }
        let mut max = f32::NEG_INFINITY;
        for &a in &p {
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
        let oh = &mut out[h * hd..(h + 1) * hd];
        oh.fill(0.0);
        for (j, &pj) in p.iter().enumerate() {
            let vj = &v[j * kv_dim + g * hd..][..hd];
            for (o, &vd) in oh.iter_mut().zip(vj) {
                *o += pj * vd;
            }
        }
    }
}
