//! Greedy and seeded sampling of the next token from logits; the PRNG is part of the
//! computation, so a draw is as reproducible (and as disputable) as the logits.
//!
//! # [`sample`], exactly
//!
//! 1. If the temperature `T` is not `> 0` (zero, negative or NaN): [`greedy`].
//! 2. Candidates: every id whose logit is not NaN, in the total order (logit descending, id
//!    ascending; `−0` equals `+0`), so the result does not depend on a sorting algorithm. No
//!    candidate (all NaN): id 0.
//! 3. Top-k: the first `top_k` candidates in that order (`0` or `≥` their number: all).
//! 4. Softmax weights at the temperature, f32: `z_0 = l_0 / T` with `l_0` the first candidate's
//!    logit (the largest), `e_i = libm::expf(l_i / T − z_0)` for every kept candidate, and
//!    `S = Σ e_i` (left fold from `+0.0` in **ascending id** order, so that no sort is needed).
//! 5. Top-p (only if `top_p < 1`): running sums `C_i = C_{i−1} + e_i` (from `C_{−1} = +0.0`) in
//!    candidate order; keep the candidates through the first `i` with `C_i ≥ top_p · S`, and
//!    let `total = C_i`. If there is none (or `top_p ≥ 1` or NaN), keep all and `total = S`.
//! 6. Draw: `u` = the `position`-th output of SplitMix64 seeded with `seed` ([`random`]),
//!    `r = ((u >> 40) as f32 · 2^−24) · total` (uniform in `[0, total)`); the result is the
//!    first kept candidate (in candidate order) with `r < C_i`, or the last kept candidate if
//!    there is none (rounding, or NaN from infinite logits).
//!
//! The weights are not divided by `S`: `C_i ≥ top_p · S` is the nucleus test on the normalized
//! probabilities. Steps 3–5 follow Hugging Face's order (temperature before top-p); llama.cpp
//! applies top-p to the untempered distribution and draws with `std::discrete_distribution`, so
//! its draws differ. Only the prefix of the candidate order that the walks reach is sorted.

use alloc::vec::Vec;

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

/// The sort key of a candidate: ascending keys are (logit descending, id ascending).
fn key(id: u32, logit: f32) -> u64 {
    let bits = (logit + 0.0).to_bits(); // −0 + 0 = +0: the zeros are equal
    // Ascending in the logit (for non-NaN values), then flipped to descending.
    let ascending = if bits >> 31 == 1 {
        !bits
    } else {
        bits | 0x8000_0000
    };
    (u64::from(!ascending) << 32) | u64::from(id)
}

/// The candidates, sorted lazily: a prefix is sorted, the rest only partitioned after it.
struct Candidates {
    keys: Vec<u64>,
    sorted: usize,
}

impl Candidates {
    /// The `i`-th key in candidate order (`i < keys.len()`).
    fn get(&mut self, i: usize) -> u64 {
        if i >= self.sorted {
            let n = self.keys.len();
            let end = n.min(self.sorted + self.sorted.max(64));
            let rest = &mut self.keys[self.sorted..];
            if end < n {
                rest.select_nth_unstable(end - self.sorted - 1);
            }
            self.keys[self.sorted..end].sort_unstable();
            self.sorted = end;
        }
        self.keys[i]
    }
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
    let mut keys: Vec<u64> = logits
        .iter()
        .enumerate()
        .filter(|(_, l)| !l.is_nan())
        .map(|(i, &l)| key(i as u32, l))
        .collect();
    if keys.is_empty() {
        return 0;
    }
    let k = sampling.top_k as usize;
    // Kept by top-k ⇔ key ≤ threshold (keys are distinct).
    let mut threshold = u64::MAX;
    if k != 0 && k < keys.len() {
        keys.select_nth_unstable(k - 1);
        keys.truncate(k);
        threshold = keys[k - 1];
    }
    let id = |key: u64| key as u32;
    let first = *keys.iter().min().expect("not empty");
    let last = *keys.iter().max().expect("not empty");
    let z0 = logits[id(first) as usize] / t;
    let weight = |key: u64| libm::expf(logits[id(key) as usize] / t - z0);
    let mut sum = 0.0f32;
    for (i, &l) in logits.iter().enumerate() {
        if !l.is_nan() && key(i as u32, l) <= threshold {
            sum += libm::expf(l / t - z0);
        }
    }
    let mut cand = Candidates { keys, sorted: 0 };
    let n = cand.keys.len();
    let (mut kept, mut total, mut last_kept) = (n, sum, last);
    if sampling.top_p < 1.0 {
        let target = sampling.top_p * sum;
        let mut c = 0.0f32;
        for i in 0..n {
            let key = cand.get(i);
            c += weight(key);
            if c >= target {
                (kept, total, last_kept) = (i + 1, c, key);
                break;
            }
        }
    }
    let u = (random(sampling.seed, position) >> 40) as f32 * (1.0 / 16_777_216.0);
    let r = u * total;
    let mut c = 0.0f32;
    for i in 0..kept {
        let key = cand.get(i);
        c += weight(key);
        if r < c {
            return id(key);
        }
    }
    id(last_kept)
}
