//! The LLM operators (`docs/dnn.md`, "LLM operators"): the kernels of [`opml_llm`] with the
//! executor's conventions. Every f32 result is [`canonical`]; `QLinear` splits its output rows
//! across threads (each row is computed alone, in the kernel's order).

use alloc::vec::Vec;

use opml_llm::kernels;
use opml_llm::quant::BlockFormat;
use opml_llm::sample::sample as draw;
use opml_llm::task::Task;
use opml_llm::tokenizer::Tables;

use super::parallel::ranges;
use crate::{DnnError, canonical};

/// `x (…, K) · Wᵀ (N, K)` with `W` in `format`: each row of `x` quantized per block, then one
/// integer-dot-product row of `W` per output element.
pub fn qlinear(x: &[f32], w: &[u8], format: BlockFormat, n: usize, k: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(x.len() / k * n);
    for row in x.chunks_exact(k) {
        let activations = kernels::quantize_activations(row);
        let [row_out] = qlinear_quantized(&activations, k, [(w, format, n)]);
        out.extend(row_out);
    }
    out
}

/// RoPE of each row of `x` (length `d`), row `r` at `position + r`.
pub fn rope(x: &[f32], d: usize, head_dim: usize, position: u32, base: f32) -> Vec<f32> {
    let mut out = x.to_vec();
    for (row, pos) in out.chunks_exact_mut(d).zip(position..) {
        kernels::rope(row, head_dim, pos, base);
    }
    canonical_all(out)
}

/// Attention of one query `q` (H·hd) over the cache `k`, `v` (T × KV·hd); with the feature
/// `parallel`, its heads split across threads when the work is large enough (each head is
/// computed alone, in the kernel's order: the same bits either way).
pub fn attention(q: &[f32], k: &[f32], v: &[f32], heads: usize, kv_heads: usize) -> Vec<f32> {
    let head_dim = q.len() / heads;
    let mut out = alloc::vec![0.0; q.len()];
    #[cfg(feature = "parallel")]
    {
        // Per head and position: a dot product and a multiply-add per value.
        let positions = k.len() / (kv_heads * head_dim).max(1);
        if super::parallel::splits(2 * q.len() * positions) {
            use rayon::iter::{IndexedParallelIterator, ParallelIterator};
            use rayon::slice::ParallelSliceMut;
            out.par_chunks_mut(head_dim)
                .enumerate()
                .for_each(|(h, out)| {
                    kernels::attention_heads(q, k, v, heads, kv_heads, head_dim, h..h + 1, out);
                });
            return canonical_all(out);
        }
    }
    kernels::attention(q, k, v, heads, kv_heads, head_dim, &mut out);
    canonical_all(out)
}

/// `silu(gate) · up`, element by element.
pub fn swiglu(gate: &[f32], up: &[f32]) -> Vec<f32> {
    let mut out = alloc::vec![0.0; gate.len()];
    kernels::swiglu(gate, up, &mut out);
    canonical_all(out)
}

/// Row `id` of a block-quantized table of rows of `d` values.
pub fn block_row(
    table: &[u8],
    format: BlockFormat,
    d: usize,
    id: i32,
) -> Result<Vec<f32>, DnnError> {
    let rows = table.len() / format.row_bytes(d).ok_or(DnnError::Malformed)?;
    let row = usize::try_from(id).ok().filter(|&i| i < rows);
    let row = row.ok_or(DnnError::EmbeddingId { id, vocab: rows })?;
    let mut out = alloc::vec![0.0; d];
    kernels::embedding(format, table, d, row, &mut out);
    Ok(canonical_all(out))
}

/// The prompt's token ids: the task record's prompt (in the chat template if it asks for it)
/// encoded with the tokenizer `tables`; exactly `n` of them, or an error.
pub fn tokenize(record: &[u8], tables: &[u8], n: usize) -> Result<Vec<i32>, DnnError> {
    let task = Task::parse(record).map_err(|_| DnnError::Task)?;
    let tables = Tables::parse(tables).map_err(|_| DnnError::Task)?;
    let ids = task.prompt_ids(&tables);
    if ids.len() != n {
        return Err(DnnError::Task);
    }
    Ok(ids.into_iter().map(|id| id as i32).collect())
}

/// The token drawn at `position` from `logits` with the task record's sampling settings.
pub fn sample(logits: &[f32], record: &[u8], position: u32) -> Result<i32, DnnError> {
    let task = Task::parse(record).map_err(|_| DnnError::Task)?;
    Ok(draw(logits, &task.sampling, position) as i32)
}

fn canonical_all(mut values: Vec<f32>) -> Vec<f32> {
    for v in &mut values {
        *v = canonical(*v);
    }
    values
}

/// [`qlinear`] of one input row already quantized (`x`, `K` values) by each of `weights`
/// (`(W, format, N)`, `W` being `N × K`), the outputs of all of them split across threads as one
/// range of rows (so q, k and v, or gate and up, cost one quantization and one split). Every
/// element is the one [`qlinear`] computes for that matrix and row, bit for bit.
pub fn qlinear_quantized<const M: usize>(
    x: &kernels::QuantizedActivations,
    k: usize,
    weights: [(&[u8], BlockFormat, usize); M],
) -> [Vec<f32>; M] {
    let total: usize = weights.iter().map(|&(_, _, n)| n).sum();
    let all = ranges(total, total * k, |range, slot: &mut [f32]| {
        // The part of `range` in each matrix (rows `first..first + n` of the concatenation).
        let mut first = 0;
        for &(w, format, n) in &weights {
            let (start, end) = (range.start.max(first), range.end.min(first + n));
            if start < end {
                let out = &mut slot[start - range.start..end - range.start];
                kernels::matvec(format, w, k, x, start - first..end - first, out);
            }
            first += n;
        }
    });
    let mut rest = all.as_slice();
    weights.map(|(_, _, n)| {
        let (mine, tail) = rest.split_at(n);
        rest = tail;
        canonical_all(mine.to_vec())
    })
}

/// Runs `f` on a thread of rayon's current pool (feature `parallel`), so that the splits of the
/// kernels it calls are `join`s inside the pool (the calling thread does its share and no split
/// is injected from outside and waited for on a lock); without the feature, `f()` here. Only
/// speed depends on it.
pub fn on_pool<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    #[cfg(feature = "parallel")]
    {
        rayon::scope(|_| f())
    }
    #[cfg(not(feature = "parallel"))]
    {
        f()
    }
}
