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

/// `f` applied to every element of `x`, each costing `cost` units of work (1 for an arithmetic
/// operation, more for a transcendental one: only whether a large map splits across threads
/// depends on it, see [`splits`](super::splits)).
pub fn map<T: Copy + Sync, U: Copy + Default + Send>(
    x: &[T],
    cost: usize,
    f: impl Fn(T) -> U + Sync,
) -> Vec<U> {
    generate(1, x.len(), cost, |_, i| f(x[i]))
}

fn broadcast(a: &[f32], b: &[f32], f: impl Fn(f32, f32) -> f32 + Sync) -> Vec<f32> {
    let d = b.len();
    generate(a.len() / d, d, 1, |row, i| {
        canonical(f(a[row * d + i], b[i]))
    })
}
