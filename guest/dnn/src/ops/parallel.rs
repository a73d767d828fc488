//! How a kernel's output elements are computed: in order on the calling thread, or (feature
//! `parallel`, host only) in contiguous ranges on rayon's threads.
//!
//! A kernel states its output as a function of the element's index: `element(i)` computes output
//! element `i` alone, every reduction it needs inside it, in the order the spec gives, and shares
//! no accumulator with any other element. [`generate`] is the only place that decides who calls
//! it; each element goes through the same operations on either path and whatever the thread
//! count, so the output is bit-identical to the guest's (which never has the feature).

use alloc::vec::Vec;

/// The least work (multiply-adds, window elements, or elements of an element-wise operation)
/// for which a kernel splits its output across threads. Below it, rayon's overhead (a few
/// microseconds) would outweigh the gain.
pub const PARALLEL_WORK: usize = 1 << 16;

/// Whether a kernel doing `work` splits its output across threads: with the `parallel` feature,
/// when `work ≥` [`PARALLEL_WORK`] and the current rayon pool (the global one, or the one
/// [`install`](https://docs.rs/rayon/1/rayon/struct.ThreadPool.html#method.install)ed around
/// the call) has more than one thread; never without the feature.
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

/// `[element(0), element(1), …, element(len − 1)]`, where each element costs `cost` units of
/// work: computed on rayon's threads if [`splits`]`(len × cost)`, else in order.
pub(crate) fn generate<T: Send>(
    len: usize,
    cost: usize,
    element: impl Fn(usize) -> T + Send + Sync,
) -> Vec<T> {
    if splits(len.saturating_mul(cost)) {
        #[cfg(feature = "parallel")]
        {
            use rayon::iter::{IntoParallelIterator, ParallelIterator};
            return (0..len).into_par_iter().map(element).collect();
        }
    }
    (0..len).map(element).collect()
}
