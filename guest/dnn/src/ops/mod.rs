//! The operators of `docs/dnn.md`, as free functions over slices.
//!
//! Each function is the normative computation: f32 sums start from `+0.0` (or the bias) and add
//! terms in ascending index order with one accumulator, transcendental functions come from
//! `libm`, and every f32 result is [`canonical`](crate::canonical). Integer kernels are exact.
//!
//! Kernels take slices whose lengths match the dimensions they are given, with every dimension
//! at least 1; they index out of bounds (panic) otherwise. The graph executor only calls them on
//! shapes [`Model::parse`](crate::Model::parse) has checked.
//!
//! With the `parallel` feature (host only), a large kernel computes its output elements on
//! rayon's threads; each element is computed by the same operations in the same order, so the
//! results are bit-identical with or without the feature. A kernel splits when [`splits`] is
//! true of its work, counted in units of about a nanosecond:
//!
//! | kernel | work |
//! |---|---|
//! | [`dense`], [`matmul`] | multiply-adds: rows × N × K |
//! | [`conv2d`] | multiply-adds: N × O × H' × W' × C × KH × KW |
//! | the poolings | window elements: N × C × H' × W' × KH × KW |
//! | [`map`] | elements × its `cost` |
//!
//! The other operators are serial, [`add`] and [`mul`] included: they are memory-bound, and
//! splitting them gained nothing measurable.

mod activation;
mod elementwise;
mod index;
mod linear;
pub mod llm;
mod norm;
mod parallel;
mod pool;
mod quant;

pub use activation::{gelu, relu, relu_i8, silu};
pub use elementwise::{add, map, mul};
pub use index::{argmax, embedding};
pub use linear::{Conv2dDims, Linear, LinearF32, LinearI8, conv2d, dense, matmul};
pub use norm::{layer_norm, rms_norm, softmax};
pub use parallel::{PARALLEL_WORK, splits};
pub use pool::{Pool2dDims, avg_pool2d_f32, avg_pool2d_i8, max_pool2d};
pub use quant::{Requant, dequantize, quantize, quantize_multiplier, requant, round_half_away};

/// `+0.0 + v0 + v1 + …`, in order.
fn sum(values: impl Iterator<Item = f32>) -> f32 {
    values.fold(0.0, |acc, v| acc + v)
}
