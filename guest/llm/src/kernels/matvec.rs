//! Activation quantization and the quantized matrix-vector product (fast paths).

use alloc::vec::Vec;
use core::ops::Range;

use crate::quant::{BlockFormat, QK, f16_to_f32};

#[cfg(all(feature = "std", target_arch = "x86_64"))]
extern crate std;

/// Activations quantized per block of [`QK`] values for integer dot products (ggml's Q8_1 with
/// f32 scales): per block a scale `d = max |x| / 127`, `s = d · Σ q`, and 32 values `q` in
/// `−127..=127`. See the [module docs](crate::kernels) for the exact computation.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct QuantizedActivations {
    d: Vec<f32>,
    s: Vec<f32>,
    q: Vec<i8>,
}

impl QuantizedActivations {
    /// The number of values (a multiple of [`QK`]).
    pub fn len(&self) -> usize {
        self.q.len()
    }

    /// Whether there are no values.
    pub fn is_empty(&self) -> bool {
        self.q.is_empty()
    }

    /// The per-block scales `d`.
    pub fn d(&self) -> &[f32] {
        &self.d
    }

    /// The per-block `s = d · Σ q`.
    pub fn s(&self) -> &[f32] {
        &self.s
    }

    /// The quantized values, each in `−127..=127`.
    pub fn q(&self) -> &[i8] {
        &self.q
    }
}

/// Quantizes `x` per block of [`QK`] (precondition: `x.len() % QK == 0`).
pub fn quantize_activations(x: &[f32]) -> QuantizedActivations {
    let mut out = QuantizedActivations::default();
    quantize_activations_into(x, &mut out);
    out
}

/// [`quantize_activations`] into an existing value, reusing its allocations.
pub fn quantize_activations_into(x: &[f32], out: &mut QuantizedActivations) {
    assert!(
        x.len().is_multiple_of(QK),
        "quantize_activations: length is not a multiple of QK"
    );
    out.d.clear();
    out.s.clear();
    out.q.clear();
    for block in x.chunks_exact(QK) {
        // The maximum of non-negative, non-NaN values does not depend on the order: eight
        // partial maxima (vectorizable), then theirs.
        let mut lanes = [0.0f32; 8];
        for chunk in block.chunks_exact(8) {
            for (m, &v) in lanes.iter_mut().zip(chunk) {
                let a = libm::fabsf(v);
                if a > *m {
                    *m = a;
                }
            }
        }
        let mut amax = 0.0f32;
        for m in lanes {
            if m > amax {
                amax = m;
            }
        }
        let d = amax / 127.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        let mut q = [0i32; QK];
        for (q, &v) in q.iter_mut().zip(block) {
            *q = round_clamp(v * id);
        }
        let sum: i32 = q.iter().sum();
        out.q.extend(q.iter().map(|&q| q as i8));
        out.d.push(d);
        out.s.push(d * sum as f32);
    }
}

/// `clamp(libm::roundf(r) as i32, −127, 127)` without the call, equal to it for every `r`
/// (tested exhaustively): `t` = `r` truncated (and clamped to ±128; NaN → 0), `f = r − t` (exact
/// for `|r| < 128`), then `t ± 1` when `|f| ≥ 0.5` (half away from zero), clamped.
#[doc(hidden)]
#[inline(always)]
pub fn round_clamp(r: f32) -> i32 {
    let t = (r as i32).clamp(-128, 128);
    let f = r - t as f32;
    (t + i32::from(f >= 0.5) - i32::from(f <= -0.5)).clamp(-127, 127)
}

/// `out[r − rows.start] = W[r] · x` for `r` in `rows`, with `W` a `rows × cols` block-quantized
/// matrix stored row-major (each row `cols / QK` blocks), in the normative order of the
/// [module docs](crate::kernels) (bit-identical to [`reference::matvec`](super::reference::matvec)).
///
/// Preconditions: `cols % QK == 0`, `x.len() == cols`, `out.len() == rows.len()`, `w` holds
/// rows `..rows.end`. With the `std` feature on x86-64, AVX2 and F16C are used when the CPU has
/// them (the same exact integer sums and f32 operations).
pub fn matvec(
    format: BlockFormat,
    w: &[u8],
    cols: usize,
    x: &QuantizedActivations,
    rows: Range<usize>,
    out: &mut [f32],
) {
    matvec_path(Path::detect(), format, w, cols, x, rows, out)
}

/// An implementation of [`matvec`] (for tests and benchmarks: all give identical results).
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Path {
    /// Portable code (auto-vectorized for the compile-time target features).
    Portable,
    /// AVX2 and F16C (x86-64 with the `std` feature only): intrinsics for [`matvec`], the
    /// portable code compiled with AVX2 for [`attention`](super::attention).
    Avx2,
}

impl Path {
    /// The fastest path this CPU runs.
    pub fn detect() -> Path {
        if Path::Avx2.available() {
            Path::Avx2
        } else {
            Path::Portable
        }
    }

    /// Whether this CPU (and build) runs the path.
    pub fn available(self) -> bool {
        match self {
            Path::Portable => true,
            #[cfg(all(feature = "std", target_arch = "x86_64"))]
            Path::Avx2 => {
                std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("f16c")
            }
            #[cfg(not(all(feature = "std", target_arch = "x86_64")))]
            Path::Avx2 => false,
        }
    }
}

/// [`matvec`] by a given [`Path`] (panics if it is not [`available`](Path::available)).
#[doc(hidden)]
pub fn matvec_path(
    path: Path,
    format: BlockFormat,
    w: &[u8],
    cols: usize,
    x: &QuantizedActivations,
    rows: Range<usize>,
    out: &mut [f32],
) {
    let row_bytes = format.row_bytes(cols).expect("cols is a multiple of QK");
    assert_eq!(x.len(), cols, "matvec: x.len() != cols");
    assert_eq!(out.len(), rows.len(), "matvec: out.len() != rows.len()");
    assert!(w.len() >= rows.end * row_bytes, "matvec: w is too short");
    if row_bytes == 0 {
        // cols = 0: every row is the empty sum.
        out.fill(0.0);
        return;
    }
    let w = &w[rows.start * row_bytes..rows.end * row_bytes];
    match path {
        Path::Portable => rows_generic(format, w, row_bytes, x, out),
        #[cfg(all(feature = "std", target_arch = "x86_64"))]
        Path::Avx2 => {
            assert!(path.available(), "matvec: AVX2 is not available");
            // SAFETY: the CPU has AVX2 and F16C (checked just above).
            unsafe { rows_avx2(format, w, row_bytes, x, out) }
        }
        #[cfg(not(all(feature = "std", target_arch = "x86_64")))]
        Path::Avx2 => panic!("matvec: AVX2 is not available"),
    }
}

#[inline(always)]
fn rows_generic(
    format: BlockFormat,
    w: &[u8],
    row_bytes: usize,
    x: &QuantizedActivations,
    out: &mut [f32],
) {
    match format {
        BlockFormat::Q4_1 => {
            for (row, o) in w.chunks_exact(row_bytes).zip(out) {
                *o = row_q4_1(row, x);
            }
        }
        BlockFormat::Q8_0 => {
            for (row, o) in w.chunks_exact(row_bytes).zip(out) {
                *o = row_q8_0(row, x);
            }
        }
    }
}

#[inline(always)]
fn row_q4_1(row: &[u8], x: &QuantizedActivations) -> f32 {
    let mut acc = 0.0f32;
    for (((block, xq), &dx), &sx) in row
        .chunks_exact(20)
        .zip(x.q.chunks_exact(QK))
        .zip(&x.d)
        .zip(&x.s)
    {
        let dw = f16_to_f32(u16::from_le_bytes([block[0], block[1]]));
        let mw = f16_to_f32(u16::from_le_bytes([block[2], block[3]]));
        let isum = dot_q4_1(block[4..20].try_into().unwrap(), xq.try_into().unwrap());
        acc += (dw * dx) * isum as f32 + mw * sx;
    }
    acc
}

#[inline(always)]
fn row_q8_0(row: &[u8], x: &QuantizedActivations) -> f32 {
    let mut acc = 0.0f32;
    for ((block, xq), &dx) in row.chunks_exact(34).zip(x.q.chunks_exact(QK)).zip(&x.d) {
        let dw = f16_to_f32(u16::from_le_bytes([block[0], block[1]]));
        let isum = dot_q8_0(block[2..34].try_into().unwrap(), xq.try_into().unwrap());
        acc += (dw * dx) * isum as f32;
    }
    acc
}

/// Exact: |Σ| ≤ 32 · 15 · 127.
#[inline(always)]
fn dot_q4_1(qs: &[u8; 16], x: &[i8; QK]) -> i32 {
    let mut lo = [0i16; 16];
    let mut hi = [0i16; 16];
    for j in 0..16 {
        lo[j] = i16::from(qs[j] & 15) * i16::from(x[j]);
        hi[j] = i16::from(qs[j] >> 4) * i16::from(x[j + 16]);
    }
    let mut s = 0i32;
    for j in 0..16 {
        s += i32::from(lo[j]) + i32::from(hi[j]);
    }
    s
}

/// Exact: |Σ| ≤ 32 · 128 · 127.
#[inline(always)]
fn dot_q8_0(qs: &[u8; QK], x: &[i8; QK]) -> i32 {
    let mut s = 0i32;
    for j in 0..QK {
        s += i32::from(i16::from(qs[j] as i8) * i16::from(x[j]));
    }
    s
}

/// AVX2: four rows at a time. Per block and row the exact integer sum (`maddubs` of unsigned
/// 4-bit or |w| by sign-adjusted activations: pairs of products ≤ 2·128·127 < 2^15, so nothing
/// saturates; then `madd` by 1 and a horizontal add, all exact), then the same f32 operations as
/// the scalar code, four rows in the four lanes (IEEE single `mulps`/`addps`, no FTZ/DAZ).
#[cfg(all(feature = "std", target_arch = "x86_64"))]
#[target_feature(enable = "avx2,f16c")]
fn rows_avx2(
    format: BlockFormat,
    w: &[u8],
    row_bytes: usize,
    x: &QuantizedActivations,
    out: &mut [f32],
) {
    use core::arch::x86_64::*;

    let blocks = x.d.len();
    let bb = format.block_bytes();
    let q4 = format == BlockFormat::Q4_1;
    let mut rows = w.chunks_exact(4 * row_bytes);
    let mut outs = out.chunks_exact_mut(4);
    assert_eq!(blocks * bb, row_bytes);
    for (four, o) in (&mut rows).zip(&mut outs) {
        let mut acc = _mm_setzero_ps();
        let p = four.as_ptr();
        for b in 0..blocks {
            // SAFETY (all loads): `four` is 4 rows of `blocks` blocks of `bb` bytes, `x.q` is
            // `blocks · QK` bytes; AVX2 and F16C are enabled.
            let xv = unsafe { _mm256_loadu_si256(x.q.as_ptr().add(b * QK).cast()) };
            // Interleaved rows defeat the hardware prefetcher on matrices beyond the caches:
            // prefetch the group after next, spread over the blocks (a hint: any address is safe).
            let ahead = p.wrapping_add(8 * row_bytes + b * 4 * bb);
            for line in 0..(4 * bb).div_ceil(64) {
                _mm_prefetch::<_MM_HINT_T0>(ahead.wrapping_add(64 * line).cast());
            }
            let blk = |r: usize| unsafe { p.add(r * row_bytes + b * bb) };
            // The four rows' first 4 bytes (d, m for Q4_1; d and 2 values for Q8_0) as f16
            // pairs → f32 (F16C: exact, like f16_to_f32; NaN payloads may differ by the quiet bit).
            // (Q8_0: only d; the upper half is zeroed, so no garbage subnormal f16 is converted.)
            let keep = if q4 { -1 } else { 0xffff };
            let head = |r: usize| unsafe { blk(r).cast::<i32>().read_unaligned() } & keep;
            let scales = _mm256_cvtph_ps(_mm_setr_epi32(head(0), head(1), head(2), head(3)));
            // [d0, m0, d1, m1 | d2, m2, d3, m3] → [d0, d1, d2, d3] and [m0, m1, m2, m3].
            let idx_d = _mm256_setr_epi32(0, 2, 4, 6, 0, 0, 0, 0);
            let idx_m = _mm256_setr_epi32(1, 3, 5, 7, 0, 0, 0, 0);
            let dw = _mm256_castps256_ps128(_mm256_permutevar8x32_ps(scales, idx_d));
            let sums: [__m256i; 4] = if q4 {
                core::array::from_fn(|r| unsafe { dot_q4_1_avx2(blk(r).add(4), xv) })
            } else {
                core::array::from_fn(|r| unsafe { dot_q8_0_avx2(blk(r).add(2), xv) })
            };
            // Horizontal sums of the four rows into the lanes 0..4 (exact i32 adds).
            let h01 = _mm256_hadd_epi32(sums[0], sums[1]);
            let h23 = _mm256_hadd_epi32(sums[2], sums[3]);
            let h = _mm256_hadd_epi32(h01, h23);
            let isum = _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
            // Exact: |isum| < 2^24.
            let isum = _mm_cvtepi32_ps(isum);
            let dwx = _mm_mul_ps(dw, _mm_set1_ps(x.d[b]));
            let t = _mm_mul_ps(dwx, isum);
            let t = if q4 {
                let mw = _mm256_castps256_ps128(_mm256_permutevar8x32_ps(scales, idx_m));
                _mm_add_ps(t, _mm_mul_ps(mw, _mm_set1_ps(x.s[b])))
            } else {
                t
            };
            acc = _mm_add_ps(acc, t);
        }
        let mut a = [0f32; 4];
        // SAFETY: 4 floats.
        unsafe { _mm_storeu_ps(a.as_mut_ptr(), acc) };
        o.copy_from_slice(&a);
    }
    let rest = rows.remainder();
    rows_generic(format, rest, row_bytes, x, outs.into_remainder());
}

/// Eight i32 partial sums of the Q4_1 block dot (exact).
#[cfg(all(feature = "std", target_arch = "x86_64"))]
#[target_feature(enable = "avx2,f16c")]
#[inline]
/// SAFETY: `qs` points to 16 readable bytes.
unsafe fn dot_q4_1_avx2(
    qs: *const u8,
    x: core::arch::x86_64::__m256i,
) -> core::arch::x86_64::__m256i {
    use core::arch::x86_64::*;
    // SAFETY: 16 bytes; AVX2 is enabled.
    let raw = unsafe { _mm_loadu_si128(qs.cast()) };
    let mask = _mm_set1_epi8(0x0f);
    let lo = _mm_and_si128(raw, mask);
    let hi = _mm_and_si128(_mm_srli_epi16(raw, 4), mask);
    let wv = _mm256_set_m128i(hi, lo);
    _mm256_madd_epi16(_mm256_maddubs_epi16(wv, x), _mm256_set1_epi16(1))
}

/// Eight i32 partial sums of the Q8_0 block dot (exact; |w| = 128 reads as unsigned 128).
#[cfg(all(feature = "std", target_arch = "x86_64"))]
#[target_feature(enable = "avx2,f16c")]
#[inline]
/// SAFETY: `qs` points to 32 readable bytes.
unsafe fn dot_q8_0_avx2(
    qs: *const u8,
    x: core::arch::x86_64::__m256i,
) -> core::arch::x86_64::__m256i {
    use core::arch::x86_64::*;
    // SAFETY: 32 bytes; AVX2 is enabled.
    let wv = unsafe { _mm256_loadu_si256(qs.cast()) };
    let aw = _mm256_sign_epi8(wv, wv);
    let sx = _mm256_sign_epi8(x, wv);
    _mm256_madd_epi16(_mm256_maddubs_epi16(aw, sx), _mm256_set1_epi16(1))
}
