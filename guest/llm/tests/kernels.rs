//! The kernels against f64 references (the math) and the fast matvec paths against the scalar
//! specification (bit for bit).

use opml_llm::kernels::{
    Path, attention, attention_heads, attention_path, embedding, matvec, matvec_path,
    quantize_activations, reference, rope, round_clamp, swiglu,
};
use opml_llm::quant::{BlockFormat, QK};

/// xorshift64*: deterministic test data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    /// Uniform in [-1, 1).
    fn unit(&mut self) -> f32 {
        ((self.next() >> 40) as f32 / (1u64 << 23) as f32) - 1.0
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
    /// Mostly ordinary values, sometimes extreme ones.
    fn wild(&mut self) -> f32 {
        match self.below(16) {
            0 => f32::from_bits(self.next() as u32), // anything, incl. NaN, inf, subnormal
            1 => [0.0, -0.0, f32::INFINITY, f32::NEG_INFINITY, f32::NAN][self.below(5)],
            2 => f32::from_bits(self.next() as u32 & 0x807f_ffff), // subnormal
            3 => self.unit() * 3e38,
            _ => self.unit() * 4.0,
        }
    }
}

/// Equal bits, or both NaN (the caller canonicalizes NaN payloads).
fn same(a: f32, b: f32) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

/// Weights with f16 scales of a sane magnitude (|d| about 0.004..0.06, `m` of either sign).
fn sane_weights(rng: &mut Rng, format: BlockFormat, rows: usize, cols: usize) -> Vec<u8> {
    let mut w = rng.bytes(format.row_bytes(cols).unwrap() * rows);
    for block in w.chunks_exact_mut(format.block_bytes()) {
        block[1] = 0x1c | (block[1] & 0x03);
        if format == BlockFormat::Q4_1 {
            block[3] = 0x1c | (block[3] & 0x83);
        }
    }
    w
}

#[test]
fn quantize_activations_exact_cases() {
    // amax = 127 → d = 1, 1/d = 1: halves round away from zero.
    let mut x = [0.0f32; QK];
    x[0] = 127.0;
    x[1] = 0.5;
    x[2] = -0.5;
    x[3] = 1.5;
    x[4] = -2.5;
    x[5] = 0.499_999_97;
    let a = quantize_activations(&x);
    assert_eq!(a.d(), &[1.0]);
    assert_eq!(&a.q()[..7], &[127, 1, -1, 2, -3, 0, 0]);
    assert_eq!(a.s(), &[126.0]);
    // All zeros (and NaN, which never raises amax): d = 0, q = 0, s = 0.
    let mut z = [0.0f32; 2 * QK];
    z[40] = f32::NAN;
    let a = quantize_activations(&z);
    assert_eq!(a.d(), &[0.0, 0.0]);
    assert!(a.q().iter().all(|&q| q == 0));
    assert_eq!(a.s(), &[0.0, 0.0]);
    // Infinity: d = inf, 1/d = 0, inf·0 = NaN → 0; finite values → 0.
    let mut y = [1.0f32; QK];
    y[3] = f32::NEG_INFINITY;
    let a = quantize_activations(&y);
    assert_eq!(a.d(), &[f32::INFINITY]);
    assert!(a.q().iter().all(|&q| q == 0));
}

#[test]
fn quantize_activations_against_f64() {
    let mut rng = Rng(1);
    for _ in 0..200 {
        let scale = [1e-30f32, 1e-3, 1.0, 1e3, 1e30][rng.below(5)];
        let x: Vec<f32> = (0..4 * QK).map(|_| rng.unit() * scale).collect();
        let a = quantize_activations(&x);
        for (b, block) in x.chunks_exact(QK).enumerate() {
            let amax = block.iter().fold(0f64, |m, &v| m.max(v.abs() as f64));
            let d = a.d()[b] as f64;
            assert!((d - amax / 127.0).abs() <= d * 1e-6);
            let mut sum = 0i32;
            for (i, &v) in block.iter().enumerate() {
                let q = a.q()[b * QK + i];
                assert!((-127..=127).contains(&q));
                assert!((q as f64 - v as f64 / d).abs() <= 0.5 + 1e-4, "{v} {q} {d}");
                sum += q as i32;
            }
            assert_eq!(a.s()[b], a.d()[b] * sum as f32);
        }
    }
}

/// Every fast path equals the scalar specification bit for bit, on random shapes, row ranges
/// and data including arbitrary f16 scales (inf, NaN, subnormal) and extreme activations.
#[test]
fn matvec_fast_equals_reference() {
    let mut rng = Rng(2);
    let paths: Vec<Path> = [Path::Portable, Path::Avx2]
        .into_iter()
        .filter(|p| p.available())
        .collect();
    // The tests build the crate with `std`: AVX2 is compared wherever the CPU has it.
    #[cfg(target_arch = "x86_64")]
    assert_eq!(
        Path::Avx2.available(),
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("f16c")
    );
    for case in 0..400 {
        let format = [BlockFormat::Q4_1, BlockFormat::Q8_0][case % 2];
        let rows = 1 + rng.below(40);
        let cols = QK * (1 + rng.below(12));
        let w = if case % 3 == 0 {
            rng.bytes(format.row_bytes(cols).unwrap() * rows)
        } else {
            sane_weights(&mut rng, format, rows, cols)
        };
        let x: Vec<f32> = (0..cols)
            .map(|_| {
                if case % 4 == 0 {
                    rng.wild()
                } else {
                    rng.unit()
                }
            })
            .collect();
        let xq = quantize_activations(&x);
        let start = rng.below(rows);
        let end = start + 1 + rng.below(rows - start);
        let mut want = vec![0f32; end - start];
        reference::matvec(format, &w, cols, &xq, start..end, &mut want);
        let mut got = vec![0f32; end - start];
        matvec(format, &w, cols, &xq, start..end, &mut got);
        for (g, r) in got.iter().zip(&want) {
            assert!(same(*g, *r), "case {case}: {g} vs {r}");
        }
        for &path in &paths {
            got.fill(0.0);
            matvec_path(path, format, &w, cols, &xq, start..end, &mut got);
            for (g, r) in got.iter().zip(&want) {
                assert!(same(*g, *r), "case {case} {path:?}: {g} vs {r}");
            }
        }
    }
}

/// Extreme integer sums: all weights and activations at their bounds (no overflow, exact).
#[test]
fn matvec_extreme_integers() {
    let cols = 4 * QK;
    let x = vec![-1.0f32; cols];
    let xq = quantize_activations(&x);
    assert!(xq.q().iter().all(|&q| q == -127));
    // Q8_0 with q = −128 and d = 1: each block (1 · 1/127) · (−128 · −127 · 32).
    let mut w = Vec::new();
    for _ in 0..cols / QK {
        w.extend_from_slice(&[0x00, 0x3c]);
        w.extend_from_slice(&[0x80; QK]);
    }
    let block = (1.0f32 / 127.0) * (128 * 127 * 32) as f32;
    let mut out = [0f32];
    reference::matvec(BlockFormat::Q8_0, &w, cols, &xq, 0..1, &mut out);
    assert_eq!(out[0], 0.0 + block + block + block + block);
    for path in [Path::Portable, Path::Avx2] {
        if path.available() {
            matvec_path(path, BlockFormat::Q8_0, &w, cols, &xq, 0..1, &mut out);
            assert_eq!(out[0], 0.0 + block + block + block + block);
        }
    }
    // Q4_1 with every nibble 15, d = 1, m = 0: 15 · −127 · 32 per block.
    let mut w = Vec::new();
    for _ in 0..cols / QK {
        w.extend_from_slice(&[0x00, 0x3c, 0x00, 0x00]);
        w.extend_from_slice(&[0xff; 16]);
    }
    let block = (1.0f32 / 127.0) * (-15 * 127 * 32) as f32 + 0.0 * xq.s()[0];
    for path in [Path::Portable, Path::Avx2] {
        if path.available() {
            matvec_path(path, BlockFormat::Q4_1, &w, cols, &xq, 0..1, &mut out);
            assert_eq!(out[0], 0.0 + block + block + block + block);
        }
    }
}

#[test]
fn matvec_against_dequantized_f64() {
    let mut rng = Rng(3);
    for case in 0..60 {
        let format = [BlockFormat::Q4_1, BlockFormat::Q8_0][case % 2];
        let rows = 1 + rng.below(20);
        let cols = QK * (1 + rng.below(20));
        let w = sane_weights(&mut rng, format, rows, cols);
        let x: Vec<f32> = (0..cols).map(|_| rng.unit()).collect();
        let xq = quantize_activations(&x);
        let mut out = vec![0f32; rows];
        matvec(format, &w, cols, &xq, 0..rows, &mut out);
        let row_bytes = format.row_bytes(cols).unwrap();
        for (r, &got) in out.iter().enumerate() {
            let mut deq = vec![0f32; cols];
            format.dequantize(&w[r * row_bytes..(r + 1) * row_bytes], &mut deq);
            // The dot with the exact activations and with the dequantized activations.
            let exact: f64 = deq.iter().zip(&x).map(|(&a, &b)| a as f64 * b as f64).sum();
            let quant: f64 = deq
                .iter()
                .enumerate()
                .map(|(i, &a)| a as f64 * xq.q()[i] as f64 * xq.d()[i / QK] as f64)
                .sum();
            let mag: f64 = deq
                .iter()
                .zip(&x)
                .map(|(&a, &b)| (a as f64 * b as f64).abs())
                .sum();
            let got = got as f64;
            assert!((got - quant).abs() <= 1e-5 * mag + 1e-6, "{got} vs {quant}");
            // The activation quantization error is at most d/2 per element.
            let bound: f64 = deq
                .iter()
                .enumerate()
                .map(|(i, &a)| a.abs() as f64 * xq.d()[i / QK] as f64 * 0.5)
                .sum();
            assert!((got - exact).abs() <= bound * 1.01 + 1e-5 * mag + 1e-6);
        }
    }
}

#[test]
fn matvec_q4_1_uses_min_and_nibble_order() {
    // One block: d = 1, m = 0.5, element i has nibble i % 16; x = e_17 → q_x[17] = 127.
    let mut block = vec![0x00, 0x3c, 0x00, 0x38];
    block.extend((0..16u8).map(|i| i | (i << 4)));
    let mut x = [0f32; QK];
    x[17] = 1.0;
    let xq = quantize_activations(&x);
    let mut out = [0f32];
    matvec(BlockFormat::Q4_1, &block, QK, &xq, 0..1, &mut out);
    let d = 1.0f32 / 127.0;
    assert_eq!(out[0], 0.0 + ((1.0 * d) * 127.0 + 0.5 * (d * 127.0)));
    assert!((out[0] - 1.5).abs() < 1e-6); // nibble 1 · 1 + 0.5
}

#[test]
fn embedding_is_the_dequantized_row() {
    let mut rng = Rng(4);
    for format in [BlockFormat::Q4_1, BlockFormat::Q8_0] {
        let (rows, cols) = (7, 96);
        let table = sane_weights(&mut rng, format, rows, cols);
        let row_bytes = format.row_bytes(cols).unwrap();
        for id in 0..rows {
            let mut got = vec![0f32; cols];
            embedding(format, &table, cols, id, &mut got);
            let mut want = vec![0f32; cols];
            format.dequantize(&table[id * row_bytes..(id + 1) * row_bytes], &mut want);
            assert_eq!(got, want);
        }
    }
}

#[test]
fn rope_is_a_complex_rotation() {
    let mut rng = Rng(5);
    for &(heads, hd, pos, base) in &[
        (3usize, 64usize, 0u32, 10000.0f32),
        (3, 64, 1, 10000.0),
        (9, 64, 517, 100000.0),
        (2, 8, 8191, 10000.0),
    ] {
        let x: Vec<f32> = (0..heads * hd).map(|_| rng.unit()).collect();
        let mut y = x.clone();
        rope(&mut y, hd, pos, base);
        if pos == 0 {
            assert_eq!(x, y);
        }
        for h in 0..heads {
            for i in 0..hd / 2 {
                let theta = pos as f64 * (base as f64).powf(-2.0 * i as f64 / hd as f64);
                let (s, c) = theta.sin_cos();
                let (x0, x1) = (x[h * hd + 2 * i] as f64, x[h * hd + 2 * i + 1] as f64);
                let (w0, w1) = (x0 * c - x1 * s, x0 * s + x1 * c);
                // θ is accumulated in f32: relative error ~ (i + 1) · 2^-24.
                let tol = 1e-5 + theta.abs() * 2e-6 * (i as f64 + 1.0);
                let (g0, g1) = (y[h * hd + 2 * i] as f64, y[h * hd + 2 * i + 1] as f64);
                assert!((g0 - w0).abs() <= tol && (g1 - w1).abs() <= tol, "{h} {i}");
                // A rotation keeps the pair's norm.
                let n = (x0 * x0 + x1 * x1).sqrt();
                assert!(((g0 * g0 + g1 * g1).sqrt() - n).abs() < 1e-6);
            }
        }
    }
}

/// f64 reference attention.
fn attention_f64(
    q: &[f32],
    k: &[f32],
    v: &[f32],
    heads: usize,
    kv_heads: usize,
    hd: usize,
) -> Vec<f64> {
    let kv_dim = kv_heads * hd;
    let t = k.len() / kv_dim;
    let mut out = vec![0f64; heads * hd];
    for h in 0..heads {
        let g = h / (heads / kv_heads);
        let scores: Vec<f64> = (0..t)
            .map(|j| {
                (0..hd)
                    .map(|d| q[h * hd + d] as f64 * k[j * kv_dim + g * hd + d] as f64)
                    .sum::<f64>()
                    / (hd as f64).sqrt()
            })
            .collect();
        let max = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let e: Vec<f64> = scores.iter().map(|s| (s - max).exp()).collect();
        let sum: f64 = e.iter().sum();
        for d in 0..hd {
            out[h * hd + d] = (0..t)
                .map(|j| e[j] / sum * v[j * kv_dim + g * hd + d] as f64)
                .sum();
        }
    }
    out
}

#[test]
fn attention_against_f64_with_gqa() {
    let mut rng = Rng(6);
    for &(heads, kv_heads, hd, t) in &[
        (9usize, 3usize, 64usize, 1usize),
        (9, 3, 64, 13),
        (4, 4, 16, 9),
        (6, 1, 8, 40),
        (3, 3, 64, 100),
        (2, 2, 4, 3),
    ] {
        let q: Vec<f32> = (0..heads * hd).map(|_| rng.unit() * 3.0).collect();
        let k: Vec<f32> = (0..t * kv_heads * hd).map(|_| rng.unit() * 3.0).collect();
        let v: Vec<f32> = (0..t * kv_heads * hd).map(|_| rng.unit()).collect();
        let mut out = vec![0f32; heads * hd];
        attention(&q, &k, &v, heads, kv_heads, hd, &mut out);
        let want = attention_f64(&q, &k, &v, heads, kv_heads, hd);
        for (g, w) in out.iter().zip(&want) {
            assert!((*g as f64 - w).abs() < 1e-5, "{g} vs {w}");
        }
        // Any split of the heads gives the same values, bit for bit.
        for split in [1, heads / 2, heads - 1] {
            let mut part = vec![0f32; heads * hd];
            let (a, b) = part.split_at_mut(split * hd);
            attention_heads(&q, &k, &v, heads, kv_heads, hd, 0..split, a);
            attention_heads(&q, &k, &v, heads, kv_heads, hd, split..heads, b);
            assert_eq!(
                part.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                out.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
            );
        }
        if t == 1 {
            // A single position: the output is v of the head's kv head, exactly.
            for h in 0..heads {
                let g = h / (heads / kv_heads);
                assert_eq!(out[h * hd..][..hd], v[g * hd..][..hd]);
            }
        }
    }
}

#[test]
fn attention_gqa_mapping_and_invariances() {
    let (heads, kv_heads, hd, t) = (6, 2, 8, 5);
    let mut rng = Rng(7);
    let q: Vec<f32> = (0..heads * hd).map(|_| rng.unit()).collect();
    let k: Vec<f32> = (0..t * kv_heads * hd).map(|_| rng.unit()).collect();
    // v: kv head g holds the constant g + 1 → every query head of group g outputs ≈ g + 1.
    let v: Vec<f32> = (0..t * kv_heads * hd)
        .map(|i| ((i / hd) % kv_heads + 1) as f32)
        .collect();
    let mut out = vec![0f32; heads * hd];
    attention(&q, &k, &v, heads, kv_heads, hd, &mut out);
    for h in 0..heads {
        let want = (h / 3 + 1) as f32;
        assert!(out[h * hd..][..hd].iter().all(|&o| (o - want).abs() < 1e-5));
    }
    // Permuting the cache positions leaves the result unchanged (up to rounding).
    let v: Vec<f32> = (0..t * kv_heads * hd).map(|_| rng.unit()).collect();
    attention(&q, &k, &v, heads, kv_heads, hd, &mut out);
    let row = kv_heads * hd;
    let perm = [3usize, 0, 4, 1, 2];
    let pk: Vec<f32> = perm
        .iter()
        .flat_map(|&j| k[j * row..][..row].to_vec())
        .collect();
    let pv: Vec<f32> = perm
        .iter()
        .flat_map(|&j| v[j * row..][..row].to_vec())
        .collect();
    let mut pout = vec![0f32; heads * hd];
    attention(&q, &pk, &pv, heads, kv_heads, hd, &mut pout);
    for (a, b) in out.iter().zip(&pout) {
        assert!((a - b).abs() < 1e-6);
    }
    // A zero query gives uniform weights: the mean of v.
    let zq = vec![0f32; heads * hd];
    attention(&zq, &k, &v, heads, kv_heads, hd, &mut out);
    for h in 0..heads {
        let g = h / 3;
        for d in 0..hd {
            let mean = (0..t).map(|j| v[j * row + g * hd + d] as f64).sum::<f64>() / t as f64;
            assert!((out[h * hd + d] as f64 - mean).abs() < 1e-6);
        }
    }
    // Huge scores do not overflow (the max is subtracted): one position takes everything.
    let mut bk = k.clone();
    bk[2 * row..3 * row].fill(1e30);
    let oq = vec![1f32; heads * hd];
    attention(&oq, &bk, &v, heads, kv_heads, hd, &mut out);
    for h in 0..heads {
        let g = h / 3;
        assert_eq!(out[h * hd..][..hd], v[2 * row + g * hd..][..hd]);
    }
}

#[test]
fn swiglu_against_f64() {
    let mut rng = Rng(8);
    let gate: Vec<f32> = (0..1000).map(|_| rng.unit() * 20.0).collect();
    let up: Vec<f32> = (0..1000).map(|_| rng.unit() * 3.0).collect();
    let mut out = vec![0f32; 1000];
    swiglu(&gate, &up, &mut out);
    for i in 0..1000 {
        let g = gate[i] as f64;
        let want = g / (1.0 + (-g).exp()) * up[i] as f64;
        assert!((out[i] as f64 - want).abs() <= 1e-6 * (1.0 + want.abs()));
    }
    let mut o = [0f32; 3];
    swiglu(&[0.0, f32::INFINITY, -100.0], &[5.0, 2.0, 1.0], &mut o);
    assert_eq!(o[0], 0.0);
    assert_eq!(o[1], f32::INFINITY);
    assert!(o[2].abs() < 1e-40);
}

/// The AVX2 copy of attention equals the portable code bit for bit, extreme values included.
#[test]
fn attention_paths_agree() {
    let mut rng = Rng(9);
    for case in 0..100 {
        let kv_heads = 1 + rng.below(3);
        let heads = kv_heads * (1 + rng.below(3));
        let hd = 2 * (1 + rng.below(40));
        let t = 1 + rng.below(80);
        let wild = case % 3 == 0;
        let mut gen_ = |n: usize| -> Vec<f32> {
            (0..n)
                .map(|_| if wild { rng.wild() } else { rng.unit() * 4.0 })
                .collect()
        };
        let q = gen_(heads * hd);
        let k = gen_(t * kv_heads * hd);
        let v = gen_(t * kv_heads * hd);
        let mut want = vec![0f32; heads * hd];
        attention_path(
            Path::Portable,
            &q,
            &k,
            &v,
            heads,
            kv_heads,
            hd,
            0..heads,
            &mut want,
        );
        let mut got = vec![0f32; heads * hd];
        attention(&q, &k, &v, heads, kv_heads, hd, &mut got);
        for (g, w) in got.iter().zip(&want) {
            assert!(same(*g, *w), "case {case}: {g} vs {w}");
        }
    }
}

/// The spec of the fast rounding.
fn round_spec(r: f32) -> i32 {
    (libm::roundf(r) as i32).clamp(-127, 127)
}

#[test]
fn round_clamp_equals_roundf() {
    let mut values = vec![
        0.0f32,
        -0.0,
        f32::NAN,
        -f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::MAX,
        f32::MIN,
        f32::MIN_POSITIVE,
        1e-45,
        0.499_999_97,
        -0.499_999_97,
    ];
    for k in -300..=300 {
        for base in [k as f32, k as f32 + 0.5] {
            let bits = base.to_bits();
            for delta in 0..6u32 {
                values.push(f32::from_bits(bits.wrapping_add(delta)));
                values.push(f32::from_bits(bits.wrapping_sub(delta)));
            }
        }
    }
    let mut rng = Rng(10);
    for _ in 0..200_000 {
        values.push(f32::from_bits(rng.next() as u32));
        values.push(rng.unit() * 200.0);
    }
    for r in values {
        assert_eq!(round_clamp(r), round_spec(r), "{r} ({:#010x})", r.to_bits());
    }
}

/// Every f32: `cargo test --release -p opml-llm --test kernels -- --ignored` (about a minute).
#[test]
#[ignore]
fn round_clamp_equals_roundf_exhaustively() {
    for bits in 0..=u32::MAX {
        let r = f32::from_bits(bits);
        assert_eq!(round_clamp(r), round_spec(r), "{bits:#010x}");
    }
}

#[test]
fn quantize_activations_equals_reference() {
    let mut rng = Rng(11);
    for case in 0..500 {
        let n = QK * (1 + rng.below(8));
        let x: Vec<f32> = (0..n)
            .map(|_| match case % 3 {
                0 => rng.wild(),
                1 => rng.unit() * 1e-38,
                _ => rng.unit() * 10.0,
            })
            .collect();
        let a = quantize_activations(&x);
        let (d, s, q) = reference::quantize_activations(&x);
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(a.d()), bits(&d), "case {case}");
        assert_eq!(bits(a.s()), bits(&s), "case {case}");
        assert_eq!(a.q(), &q[..], "case {case}");
    }
}

/// Splitting the rows (as threads do) never changes a bit, at any boundary.
#[test]
fn matvec_row_splits_are_bit_identical() {
    let mut rng = Rng(12);
    for format in [BlockFormat::Q4_1, BlockFormat::Q8_0] {
        let (rows, cols) = (37, 160);
        let w = sane_weights(&mut rng, format, rows, cols);
        let x: Vec<f32> = (0..cols).map(|_| rng.unit()).collect();
        let xq = quantize_activations(&x);
        let mut full = vec![0f32; rows];
        matvec(format, &w, cols, &xq, 0..rows, &mut full);
        for split in 0..=rows {
            let mut parts = vec![0f32; rows];
            let (a, b) = parts.split_at_mut(split);
            matvec(format, &w, cols, &xq, 0..split, a);
            matvec(format, &w, cols, &xq, split..rows, b);
            assert!(
                parts
                    .iter()
                    .zip(&full)
                    .all(|(p, f)| p.to_bits() == f.to_bits())
            );
        }
    }
}
