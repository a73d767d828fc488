//! Quantization arithmetic: rounding, requantization, `Quantize`, `Dequantize`, and the
//! conversion-time choice of an integer multiplier.

use crate::{Quant, canonical};

/// An integer rescaling factor `m0 × 2^−(31+s)`: `m0` is 0 or in `2^30..2^31`, `s` in
/// `-30..=31`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Requant {
    /// The multiplier.
    pub m0: i32,
    /// The shift.
    pub s: i32,
}

/// `num / den` rounded to the nearest integer, ties away from zero:
/// `sign(num) × ((|num| + den/2) / den)`. With `den = 2^n` this is the spec's
/// `round_half_away(num / 2^n)`; `den` must not be 0.
pub fn round_half_away(num: i64, den: u64) -> i64 {
    // |num| ≤ 2^63 and den/2 < 2^63: the sum fits in a u64; the quotient is at most 2^63.
    let q = (num.unsigned_abs() + den / 2) / den;
    if num < 0 {
        (q as i64).wrapping_neg()
    } else {
        q as i64
    }
}

/// Requantizes an i32 accumulator:
/// `clamp(zp + round_half_away(acc × m0 / 2^(31+s)), lo, 127)` with `lo = zp` under a fused
/// ReLU, else -128. `s` must be in `-30..=31` and `zp` in -128..=127.
pub fn requant(acc: i32, m0: i32, s: i32, zp: i32, relu: bool) -> i8 {
    // |acc × m0| < 2^62, so the product and the rounding (den ≤ 2^62) cannot overflow.
    let scaled = round_half_away(i64::from(acc) * i64::from(m0), 1 << (31 + s));
    let lo = if relu { zp } else { -128 };
    (i64::from(zp) + scaled).clamp(i64::from(lo), 127) as i8
}

/// Quantizes: `clamp(round_half_even(x / scale) + zero_point, -128, 127)`, computed in f32;
/// NaN quantizes to 0.
pub fn quantize(x: f32, quant: Quant) -> i8 {
    // Past 2^24 the f32 sum is inexact but far outside -128..=127; `as i32` saturates and
    // takes NaN to 0.
    let q = libm::roundevenf(x / quant.scale) + quant.zero_point as f32;
    (q as i32).clamp(-128, 127) as i8
}

/// Dequantizes: `scale × (q − zero_point)`.
pub fn dequantize(q: i8, quant: Quant) -> f32 {
    canonical(quant.scale * (i32::from(q) - quant.zero_point) as f32)
}

/// The [`Requant`] closest to a real rescaling factor (`scale_x × scale_w / scale_out`), for
/// converters: `m0 × 2^−(31+s) = real` within a relative error of `2^−31` (`m0` the nearest,
/// ties to even).
///
/// `Some` for `real = 0` (`m0 = s = 0`) and for `2^−32 ≤ real < 2^30` (rounding near the ends
/// may also succeed); `None` for anything else: negative, not finite, or out of that range.
pub fn quantize_multiplier(real: f64) -> Option<Requant> {
    if real == 0.0 {
        return Some(Requant { m0: 0, s: 0 });
    }
    if !(real > 0.0 && real.is_finite()) {
        return None;
    }
    // real = frac × 2^exp with frac in [0.5, 1), so m0 = frac × 2^31 lies in [2^30, 2^31].
    let (frac, mut exp) = libm::frexp(real);
    let mut m0 = libm::roundeven(frac * (1u64 << 31) as f64) as i64;
    if m0 == 1 << 31 {
        m0 = 1 << 30;
        exp += 1;
    }
    // real ≈ m0 × 2^(exp−31) = m0 × 2^−(31+s).
    let s = -exp;
    ((-30..=31).contains(&s)).then_some(Requant { m0: m0 as i32, s })
}
