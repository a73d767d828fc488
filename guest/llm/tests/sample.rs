//! Sampling: greedy ties and NaN, determinism of the seeded draw, and its distribution.

use opml_llm::sample::{Sampling, greedy, random, sample};

fn sampling(temperature: f32, top_k: u32, top_p: f32, seed: u64) -> Sampling {
    Sampling {
        temperature,
        top_k,
        top_p,
        seed,
    }
}

#[test]
fn greedy_ties_and_nan() {
    assert_eq!(greedy(&[1.0, 3.0, 3.0, 2.0]), 1);
    assert_eq!(greedy(&[f32::NAN, 1.0, f32::NAN, 1.0]), 1);
    assert_eq!(greedy(&[f32::NAN, f32::NEG_INFINITY]), 1);
    assert_eq!(greedy(&[f32::NEG_INFINITY, f32::NEG_INFINITY]), 0);
    assert_eq!(greedy(&[f32::NAN, f32::NAN]), 0);
    assert_eq!(greedy(&[0.0, -0.0, f32::INFINITY, f32::NAN]), 2);
    assert_eq!(greedy(&[-0.0, 0.0]), 0); // −0 == +0: a tie
}

#[test]
fn splitmix64_known_outputs() {
    // SplitMix64 seeded with 0: its first outputs (Vigna's reference implementation).
    assert_eq!(random(0, 0), 0xe220_a839_7b1d_cdaf);
    assert_eq!(random(0, 1), 0x6e78_9e6a_a1b9_65f4);
    assert_eq!(random(0, 2), 0x06c4_5d18_8009_454f);
}

#[test]
fn temperature_zero_and_top_k_one_are_greedy() {
    let logits: Vec<f32> = (0..500)
        .map(|i| ((i * 7919) % 1000) as f32 / 100.0)
        .collect();
    let g = greedy(&logits);
    for pos in 0..50 {
        assert_eq!(sample(&logits, &sampling(0.0, 40, 0.9, 1), pos), g);
        assert_eq!(sample(&logits, &sampling(-1.0, 0, 1.0, 1), pos), g);
        assert_eq!(sample(&logits, &sampling(f32::NAN, 0, 1.0, 1), pos), g);
        assert_eq!(sample(&logits, &sampling(0.8, 1, 1.0, pos as u64), pos), g);
        // top-p so small that only the first candidate is kept.
        assert_eq!(sample(&logits, &sampling(1.0, 0, 0.0, 9), pos), g);
    }
    // top-k = 1 with tied maxima: the lowest id.
    assert_eq!(sample(&[1.0, 5.0, 5.0], &sampling(1.0, 1, 1.0, 3), 0), 1);
}

#[test]
fn same_key_same_draw_and_positions_vary() {
    let logits: Vec<f32> = (0..100).map(|i| (i % 10) as f32 * 0.1).collect();
    let s = sampling(1.0, 0, 1.0, 42);
    let draws: Vec<u32> = (0..200).map(|p| sample(&logits, &s, p)).collect();
    let again: Vec<u32> = (0..200).map(|p| sample(&logits, &s, p)).collect();
    assert_eq!(draws, again);
    let distinct = {
        let mut d = draws.clone();
        d.sort();
        d.dedup();
        d.len()
    };
    assert!(distinct > 50, "{distinct}");
    let other: Vec<u32> = (0..200)
        .map(|p| sample(&logits, &sampling(1.0, 0, 1.0, 43), p))
        .collect();
    assert_ne!(draws, other);
}

#[test]
fn nan_and_infinite_logits_are_total() {
    let s = sampling(0.7, 0, 0.95, 5);
    for pos in 0..20 {
        assert_eq!(sample(&[f32::NAN; 4], &s, pos), 0);
        let id = sample(&[f32::NAN, 2.0, f32::NAN, 1.0], &s, pos);
        assert!(id == 1 || id == 3);
        let id = sample(&[0.0, f32::INFINITY, 1.0, f32::INFINITY], &s, pos);
        assert!(id < 4);
        assert_eq!(
            sample(&[f32::NEG_INFINITY, 0.0, f32::NEG_INFINITY], &s, pos),
            1
        );
    }
}

/// Chi-square bound on the empirical distribution against the softmax (after top-k and top-p),
/// over many positions; deterministic since seeded.
#[test]
fn distribution_matches_softmax() {
    let logits = [2.0f32, 1.0, 0.5, 0.0, -1.0, 1.5, -0.5, 0.25];
    let n = 40_000u32;
    let check = |s: Sampling, expect: &dyn Fn(usize) -> f64| {
        let mut counts = [0u32; 8];
        for pos in 0..n {
            counts[sample(&logits, &s, pos) as usize] += 1;
        }
        let mut chi2 = 0.0;
        for (i, &c) in counts.iter().enumerate() {
            let e = expect(i) * n as f64;
            if e == 0.0 {
                assert_eq!(c, 0, "id {i} is outside the kept set");
            } else {
                chi2 += (c as f64 - e).powi(2) / e;
            }
        }
        // 7 degrees of freedom: P(χ² > 30) < 1e-4.
        assert!(chi2 < 30.0, "{s:?}: chi2 {chi2}, counts {counts:?}");
    };
    let softmax = |t: f64, keep: &[usize]| {
        let z: f64 = keep.iter().map(|&i| (logits[i] as f64 / t).exp()).sum();
        let keep = keep.to_vec();
        move |i: usize| {
            if keep.contains(&i) {
                (logits[i] as f64 / t).exp() / z
            } else {
                0.0
            }
        }
    };
    let all: Vec<usize> = (0..8).collect();
    check(sampling(1.0, 0, 1.0, 7), &softmax(1.0, &all));
    check(sampling(0.5, 0, 1.0, 8), &softmax(0.5, &all));
    // Top-k = 3: ids 0 (2.0), 5 (1.5), 1 (1.0).
    check(sampling(1.0, 3, 1.0, 9), &softmax(1.0, &[0, 5, 1]));
    // Top-p: at temperature 1 the running sums are 0.379, 0.609, 0.748, 0.833, ...
    // → 0.7 is reached with the third candidate (ids 0, 5, 1), 0.6 with the second.
    check(sampling(1.0, 0, 0.7, 10), &softmax(1.0, &[0, 5, 1]));
    check(sampling(1.0, 0, 0.6, 11), &softmax(1.0, &[0, 5]));
    // Both, at another temperature: top-k 5 at T = 2 (ids 0, 5, 1, 2, 7), then top-p 0.5.
    let t2: Vec<f64> = [0usize, 5, 1, 2, 7]
        .iter()
        .map(|&i| (logits[i] as f64 / 2.0).exp())
        .collect();
    let z: f64 = t2.iter().sum();
    assert!(t2[0] / z < 0.5 && (t2[0] + t2[1]) / z >= 0.5);
    check(sampling(2.0, 5, 0.5, 12), &softmax(2.0, &[0, 5]));
}

/// The module docs' algorithm with a full sort: the lazy implementation must agree exactly.
fn sample_spec(logits: &[f32], s: &Sampling, position: u32) -> u32 {
    let t = s.temperature;
    if t.is_nan() || t <= 0.0 {
        return greedy(logits);
    }
    let mut cand: Vec<(u32, f32)> = logits
        .iter()
        .enumerate()
        .filter(|(_, l)| !l.is_nan())
        .map(|(i, &l)| (i as u32, l))
        .collect();
    if cand.is_empty() {
        return 0;
    }
    cand.sort_by(|a, b| b.1.partial_cmp(&a.1).unwrap().then(a.0.cmp(&b.0)));
    if s.top_k != 0 {
        cand.truncate(s.top_k as usize);
    }
    let z0 = cand[0].1 / t;
    let e: Vec<f32> = cand.iter().map(|&(_, l)| libm::expf(l / t - z0)).collect();
    let mut by_id: Vec<usize> = (0..cand.len()).collect();
    by_id.sort_by_key(|&i| cand[i].0);
    let mut sum = 0.0f32;
    for &i in &by_id {
        sum += e[i];
    }
    let (mut kept, mut total) = (cand.len(), sum);
    if s.top_p < 1.0 {
        let mut c = 0.0f32;
        for (i, &ei) in e.iter().enumerate() {
            c += ei;
            if c >= s.top_p * sum {
                (kept, total) = (i + 1, c);
                break;
            }
        }
    }
    let r = ((random(s.seed, position) >> 40) as f32 / 16_777_216.0) * total;
    let mut c = 0.0f32;
    for i in 0..kept {
        c += e[i];
        if r < c {
            return cand[i].0;
        }
    }
    cand[kept - 1].0
}

#[test]
fn lazy_sort_equals_the_spec() {
    let mut state = 0x1234_5678_9abc_def0u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for case in 0..3000u32 {
        let n = 1 + (next() % 700) as usize;
        let spread = [0.01f32, 1.0, 5.0, 30.0][case as usize % 4];
        let logits: Vec<f32> = (0..n)
            .map(|_| match next() % 40 {
                0 => f32::NAN,
                1 => f32::NEG_INFINITY,
                2 => -0.0,
                3 => 0.0,
                4 => 1.0, // ties
                _ => ((next() >> 40) as f32 / 16_777_216.0 - 0.5) * spread,
            })
            .collect();
        let s = sampling(
            [0.3f32, 0.7, 1.0, 2.5][(next() % 4) as usize],
            [0u32, 0, 1, 5, 40, 1000][(next() % 6) as usize],
            [1.0f32, 0.95, 0.9, 0.5, 0.0][(next() % 5) as usize],
            next(),
        );
        let pos = (next() % 10_000) as u32;
        assert_eq!(
            sample(&logits, &s, pos),
            sample_spec(&logits, &s, pos),
            "case {case}: {s:?}"
        );
    }
}
