//! Element-wise operations: `Add` and `Mul` (f32), with `b` the same length as `a` or broadcast
//! over its last axis, and [`map`] for the unary ones.

use alloc::vec::Vec;

use super::parallel::generate;
use crate::canonical;

/// `a + b`, `b` repeated over `a` when shorter (its length divides `a`'s: the last axis).
pub fn add(a: &[f32], b: &[f32]) -> Vec<f32> {
    broadcast(a, b, |x, y| x + y)
}

/// `a × b`, `b` repeated over `a` when shorter (its length divides `a`'s: the last axis).
pub fn mul(a: &[f32], b: &[f32]) -> Vec<f32> {
    broadcast(a, b, |x, y| x * y)
}

/// `f` applied to every element of `x`, `f` costing `cost` units of work (about a nanosecond
/// each, see [`PARALLEL_WORK`](super::PARALLEL_WORK)): about 8 for a `libm` transcendental
/// ([`gelu`](super::gelu), [`silu`](super::silu)), 0 for a map whose time goes into reading and
/// writing memory ([`relu`](super::relu), a conversion), which never splits. Only the speed
/// depends on `cost`.
pub fn map<T: Copy + Sync, U: Copy + Default + Send>(
    x: &[T],
    cost: usize,
    f: impl Fn(T) -> U + Sync,
) -> Vec<U> {
    generate(1, x.len(), x.len().saturating_mul(cost), |_| |i| f(x[i]))
}

fn broadcast(a: &[f32], b: &[f32], f: impl Fn(f32, f32) -> f32 + Sync) -> Vec<f32> {
    let (d, f) = (b.len(), &f);
    // Memory-bound: never split (2^20 elements on two cores: 0.9–1.1× the serial time).
    generate(a.len() / d, d, 0, |row| {
        let a = &a[row * d..][..d];
        move |i| canonical(f(a[i], b[i]))
    })
}
