//! Binary element-wise `Add` and `Mul` (f32), with `b` the same length as `a` or broadcast over
//! its last axis.

use alloc::vec::Vec;

use crate::canonical;

/// `a + b`, `b` repeated over `a` when shorter (its length divides `a`'s: the last axis).
pub fn add(a: &[f32], b: &[f32]) -> Vec<f32> {
    broadcast(a, b, |x, y| x + y)
}

/// `a × b`, `b` repeated over `a` when shorter (its length divides `a`'s: the last axis).
pub fn mul(a: &[f32], b: &[f32]) -> Vec<f32> {
    broadcast(a, b, |x, y| x * y)
}

fn broadcast(a: &[f32], b: &[f32], f: impl Fn(f32, f32) -> f32) -> Vec<f32> {
    a.iter()
        .zip(b.iter().cycle())
        .map(|(&x, &y)| canonical(f(x, y)))
        .collect()
}
