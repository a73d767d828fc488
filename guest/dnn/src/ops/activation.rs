//! Element-wise activations: `Relu` (f32 and i8), `Gelu`, `Silu`.

use core::f32::consts::SQRT_2;

use crate::canonical;

/// ReLU: `+0.0` if `x < 0`, else `x` (`-0.0` and NaN pass, NaN canonical).
pub fn relu(x: f32) -> f32 {
    if x < 0.0 { 0.0 } else { canonical(x) }
}

/// Quantized ReLU: `max(q, zero_point)` (real 0 is `zero_point`).
pub fn relu_i8(q: i8, zero_point: i8) -> i8 {
    q.max(zero_point)
}

/// GELU, exact form: `0.5 · x · (1 + erf(x / √2))`, left to right, `√2` the f32 constant.
pub fn gelu(x: f32) -> f32 {
    canonical(0.5 * x * (1.0 + libm::erff(x / SQRT_2)))
}

/// SiLU: `x / (1 + exp(−x))`.
pub fn silu(x: f32) -> f32 {
    canonical(x / (1.0 + libm::expf(-x)))
}
