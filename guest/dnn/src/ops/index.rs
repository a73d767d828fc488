//! `Argmax` and `Embedding`.

use alloc::vec::Vec;

use crate::{DnnError, Element};

/// The index of the first maximum of `row` (0 if empty): the first element, replaced by each
/// later one that is greater (`>`; NaN never is).
pub(crate) fn max_index<T: PartialOrd>(row: &[T]) -> usize {
    let mut best = 0;
    for (i, v) in row.iter().enumerate().skip(1) {
        if *v > row[best] {
            best = i;
        }
    }
    best
}

/// The index of the first maximum of each row of length `d` (i8 compares quantized values).
pub fn argmax<T: PartialOrd>(x: &[T], d: usize) -> Vec<i32> {
    x.chunks_exact(d).map(|row| max_index(row) as i32).collect()
}

/// Rows `ids[i]` of `table` (rows of length `d`), concatenated; an id outside the table is an
/// error.
pub fn embedding<T: Element>(ids: &[i32], table: &[T], d: usize) -> Result<Vec<T>, DnnError> {
    let vocab = table.len() / d;
    let mut out = Vec::with_capacity(ids.len() * d);
    for &id in ids {
        let row = usize::try_from(id)
            .ok()
            .filter(|&i| i < vocab)
            .map(|i| &table[i * d..(i + 1) * d])
            .ok_or(DnnError::EmbeddingId { id, vocab })?;
        out.extend(row.iter().map(|v| v.canonical()));
    }
    Ok(out)
}
