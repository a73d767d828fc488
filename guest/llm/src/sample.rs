//! Greedy and seeded sampling of the next token from logits; the PRNG is part of the
//! computation, so a draw is as reproducible (and as disputable) as the logits.
//!
//! # [`sample`], exactly
//!
//! 1. If `!(temperature > 0)` (zero, negative or NaN): [`greedy`].
//! 2. Candidates: every id whose logit is not NaN, ordered by (logit descending, id ascending)
//!    — a total order, so the result does not depend on the sorting algorithm. No candidate
//!    (all NaN): id 0.
//! 3. Top-k: the first `top_k` candidates (`0` or `≥` their number: all).
//! 4. Softmax at the temperature, f32: `z_i = l_i / temperature`, `e_i = libm::expf(z_i − z_0)`
//!    (`z_0` is the largest), `sum = Σ e_i` (left fold from `+0.0` in candidate order),
//!    `p_i = e_i / sum`.
//! 5. Top-p (only if `top_p < 1`): keep the shortest prefix whose running sum `c_i = Σ_{j≤i} p_j`
//!    (left fold, f32) reaches `c_i ≥ top_p` (at least one candidate; all if never reached).
//! 6. Draw: `u` = the `position`-th output of SplitMix64 seeded with `seed` (see [`random`]),
//!    `r = ((u >> 40) as f32 · 2^−24) · c_last` (a uniform in `[0, c_last)` with `c_last` the running sum
//!    of the kept candidates); the result is the first kept candidate with `r < c_i`, or the
//!    last kept one if there is none (rounding, or NaN from infinite logits).
//!
//! Steps 3–5 follow Hugging Face's order (temperature before top-p); llama.cpp applies top-p to
//! the untempered distribution and draws with `std::discrete_distribution`, so its draws differ.

use alloc::vec::Vec;
use core::cmp::Ordering;

/// Sampling parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sampling {
    /// Softmax temperature; `0` (or any value that is not `> 0`) means [`greedy`].
    pub temperature: f32,
    /// Keep only the `top_k` most likely tokens (`0`: all).
    pub top_k: u32,
    /// Nucleus: keep the most likely tokens whose probabilities reach `top_p` (`≥ 1`: all).
    pub top_p: f32,
    /// The PRNG key; the draw at a position depends only on `(seed, position)`.
    pub seed: u64,
}

/// The index of the largest logit; ties go to the lowest index. NaN never wins (it compares
/// neither greater nor equal); if every logit is NaN the result is 0.
///
/// Precondition: `logits` is not empty and has fewer than 2^32 entries.
pub fn greedy(logits: &[f32]) -> u32 {
    assert!(!logits.is_empty(), "greedy: no logits");
    let mut best: Option<(usize, f32)> = None;
    for (i, &l) in logits.iter().enumerate() {
        let better = match best {
            Some((_, b)) => l > b,
            None => !l.is_nan(),
        };
        if better {
            best = Some((i, l));
        }
    }
    best.map_or(0, |(i, _)| i as u32)
}

/// The `position`-th (0-based) output of SplitMix64 seeded with `seed`: with `γ =
/// 0x9e3779b97f4a7c15`, `z = seed + (position + 1)·γ` (wrapping), then `z = (z ^ (z >> 30)) ·
/// 0xbf58476d1ce4e5b9`, `z = (z ^ (z >> 27)) · 0x94d049bb133111eb`, `z ^ (z >> 31)`.
pub fn random(seed: u64, position: u32) -> u64 {
    let mut z = seed.wrapping_add((u64::from(position) + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Samples a token id from `logits` at `position`, exactly as the [module docs](self) say.
///
/// Precondition: `logits` is not empty and has fewer than 2^32 entries.
pub fn sample(logits: &[f32], sampling: &Sampling, position: u32) -> u32 {
    assert!(!logits.is_empty(), "sample: no logits");
    let t = sampling.temperature;
    if t.is_nan() || t <= 0.0 {
        return greedy(logits);
    }
    let order = |a: &(u32, f32), b: &(u32, f32)| -> Ordering {
        // Both logits are non-NaN: partial_cmp is total here.
        b.1.partial_cmp(&a.1)
            .unwrap_or(Ordering::Equal)
            .then(a.0.cmp(&b.0))
    };
    let mut cand: Vec<(u32, f32)> = logits
        .iter()
        .enumerate()
        .filter(|(_, l)| !l.is_nan())
        .map(|(i, &l)| (i as u32, l))
        .collect();
    if cand.is_empty() {
        return 0;
    }
    let k = sampling.top_k as usize;
    if k != 0 && k < cand.len() {
        cand.select_nth_unstable_by(k - 1, order);
        cand.truncate(k);
    }
    cand.sort_unstable_by(order);
    let z0 = cand[0].1 / t;
    let mut p: Vec<f32> = cand.iter().map(|&(_, l)| libm::expf(l / t - z0)).collect();
    let mut sum = 0.0f32;
    for &e in &p {
        sum += e;
    }
    for e in p.iter_mut() {
        *e /= sum;
    }
    let mut kept = p.len();
    if sampling.top_p < 1.0 {
        let mut c = 0.0f32;
        for (i, &pi) in p.iter().enumerate() {
            c += pi;
            if c >= sampling.top_p {
                kept = i + 1;
                break;
            }
        }
    }
    let mut total = 0.0f32;
    for &pi in &p[..kept] {
        total += pi;
    }
    let u = (random(sampling.seed, position) >> 40) as f32 * (1.0 / 16_777_216.0);
    let r = u * total;
    let mut c = 0.0f32;
    for (i, &pi) in p[..kept].iter().enumerate() {
        c += pi;
        if r < c {
            return cand[i].0;
        }
    }
    cand[kept - 1].0
}
