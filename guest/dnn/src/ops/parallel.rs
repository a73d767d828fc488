//! How a kernel's output elements are computed: in order on the calling thread, or (feature
//! `parallel`, host only) in contiguous ranges on rayon's threads.
//!
//! A kernel states its output as rows of equal length: `row(r)` prepares row `r` (what its
//! elements share, such as their input row) and returns `element`, where `element(c)` computes
//! the element in column `c` alone, every reduction it needs inside it in the order the spec
//! gives, sharing no accumulator with any other element. [`generate`] is the only place that
//! decides who calls them; each element goes through the same operations on either path and
//! whatever the thread count, so the output is bit-identical to the guest's (which never has
//! the feature).

use alloc::vec;
use alloc::vec::Vec;
use core::ops::Range;

/// The least work for which a kernel splits its output across threads, in units of about a
/// nanosecond (a multiply-add; see [`ops`](super) for each kernel's count). Below it, rayon's
/// overhead (a few microseconds) would outweigh the gain.
pub const PARALLEL_WORK: usize = 1 << 16;

/// Whether a kernel doing `work` splits its output across threads: with the `parallel` feature,
/// when `work ≥` [`PARALLEL_WORK`] and the current rayon pool (the global one, or the one
/// installed around the call with `ThreadPool::install`) has more than one thread; never without
/// the feature.
///
/// Only speed depends on it: the results are the same either way.
#[cfg(feature = "parallel")]
pub fn splits(work: usize) -> bool {
    work >= PARALLEL_WORK && rayon::current_num_threads() > 1
}

/// Whether a kernel doing `work` splits its output across threads: never without the `parallel`
/// feature.
#[cfg(not(feature = "parallel"))]
pub fn splits(_work: usize) -> bool {
    false
}

/// The `rows × row_len` elements `row(r)(c)`, row by row, that take `work` units of work
/// together: computed in contiguous ranges on rayon's threads if [`splits`]`(work)`, else in
/// order.
pub(crate) fn generate<T: Copy + Default + Send, E: Fn(usize) -> T>(
    rows: usize,
    row_len: usize,
    work: usize,
    row: impl Fn(usize) -> E + Sync,
) -> Vec<T> {
    ranges(rows * row_len, work, |range, out| {
        fill(out, range.start, row_len, &row)
    })
}

/// `len` elements that take `work` units of work together, each range of them written by
/// `fill(range, out)` (which must compute every element alone, as if the range were any
/// other): the whole range in order, or (if [`splits`]`(work)`) contiguous ranges on rayon's
/// threads.
pub(crate) fn ranges<T: Copy + Default + Send>(
    len: usize,
    work: usize,
    fill: impl Fn(Range<usize>, &mut [T]) + Sync,
) -> Vec<T> {
    let mut out = vec![T::default(); len];
    if len == 0 {
        return out;
    }
    if splits(work) {
        #[cfg(feature = "parallel")]
        {
            use rayon::iter::{IndexedParallelIterator, ParallelIterator};
            use rayon::slice::ParallelSliceMut;
            // A few ranges per thread, so that a thread slowed down by something else does not
            // hold up the rest.
            let range = len.div_ceil(4 * rayon::current_num_threads());
            out.par_chunks_mut(range)
                .enumerate()
                .for_each(|(i, chunk)| fill(i * range..i * range + chunk.len(), chunk));
            return out;
        }
    }
    fill(0..len, &mut out);
    out
}

/// Writes the elements from flat index `start` on (rows of `row_len`) into `out`.
fn fill<T, E: Fn(usize) -> T>(
    out: &mut [T],
    start: usize,
    row_len: usize,
    row: &impl Fn(usize) -> E,
) {
    let (mut r, mut first) = (start / row_len, start % row_len);
    let mut rest = out;
    while !rest.is_empty() {
        let (out_row, tail) = rest.split_at_mut((row_len - first).min(rest.len()));
        let element = row(r);
        for (slot, c) in out_row.iter_mut().zip(first..) {
            *slot = element(c);
        }
        (rest, r, first) = (tail, r + 1, 0);
    }
}
