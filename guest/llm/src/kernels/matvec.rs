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
        let mut amax = 0.0f32;
        for &v in block {
            let a = libm::fabsf(v);
            if a > amax {
                amax = a;
            }
        }
        let d = amax / 127.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        let mut sum = 0i32;
        for &v in block {
            let q = (libm::roundf(v * id) as i32).clamp(-127, 127);
            sum += q;
            out.q.push(q as i8);
        }
        out.d.push(d);
        out.s.push(d * sum as f32);
    }
}

/// `out[r − rows.start] = W[r] · x` for `r` in `rows`, with `W` a `rows × cols` block-quantized
/// matrix stored row-major (each row `cols / QK` blocks), in the normative order of the
/// [module docs](crate::kernels) (bit-identical to [`reference::matvec`](super::reference::matvec)).
///
/// Preconditions: `cols % QK == 0`, `x.len() == cols`, `out.len() == rows.len()`, `w` holds
/// rows `..rows.end`. With the `std` feature on x86-64, AVX2 is used when the CPU has it (same
/// exact integer sums, same f32 operations).
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
    /// The same code compiled with AVX2 enabled (x86-64 with the `std` feature only).
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
            Path::Avx2 => std::arch::is_x86_feature_detected!("avx2"),
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
    let w = &w[rows.start * row_bytes..rows.end * row_bytes];
    match path {
        Path::Portable => rows_generic(format, w, row_bytes, x, out),
        #[cfg(all(feature = "std", target_arch = "x86_64"))]
        Path::Avx2 => {
            assert!(path.available(), "matvec: AVX2 is not available");
            // SAFETY: the CPU has AVX2 (checked just above).
            unsafe { rows_avx2(format, w, row_bytes, x, out) }
        }
        #[cfg(not(all(feature = "std", target_arch = "x86_64")))]
        Path::Avx2 => panic!("matvec: AVX2 is not available"),
    }
}

#[cfg(all(feature = "std", target_arch = "x86_64"))]
#[target_feature(enable = "avx2")]
fn rows_avx2(
    format: BlockFormat,
    w: &[u8],
    row_bytes: usize,
    x: &QuantizedActivations,
    out: &mut [f32],
) {
    rows_generic(format, w, row_bytes, x, out)
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
