//! The fast path of an LLM: the same kernels as the graph's nodes (`opml_dnn::ops`), called
//! directly with an in-place KV cache, without the graph's bookkeeping (no tensor hashes, no
//! graph states). Every logit is bit-identical to the graph run's (tested), so it serves
//! benchmarks, perplexity and long generations that no dispute needs to replay.

use opml_dnn::ops::llm::{attention, block_row, on_pool, qlinear, qlinear_quantized, rope, swiglu};
use opml_dnn::ops::{add, rms_norm};
use opml_llm::kernels::{QuantizedActivations, quantize_activations_into};
use opml_llm::quant::BlockFormat;
use opml_llm::sample::{Sampling, sample};

use crate::config::{Llama, Weight};

/// A model ready to run, with its KV cache.
pub struct Engine<'m> {
    llama: &'m Llama<'m>,
    norms: Vec<[Vec<f32>; 2]>,
    output_norm: Vec<f32>,
    /// Per layer: keys and values of every position so far, `kv · hd` each.
    cache: Vec<(Vec<f32>, Vec<f32>)>,
    position: u32,
}

impl<'m> Engine<'m> {
    /// An engine at position 0.
    pub fn new(llama: &'m Llama<'m>) -> Engine<'m> {
        Engine {
            llama,
            norms: llama
                .blocks
                .iter()
                .map(|b| [b.attn_norm.f32_values(), b.ffn_norm.f32_values()])
                .collect(),
            output_norm: llama.output_norm.f32_values(),
            cache: vec![(Vec::new(), Vec::new()); llama.blocks.len()],
            position: 0,
        }
    }

    /// The next position.
    pub fn position(&self) -> u32 {
        self.position
    }

    /// Feeds `token` at the next position; returns the final hidden state (1 × d).
    pub fn feed(&mut self, token: u32) -> Vec<f32> {
        on_pool(|| self.feed_here(token))
    }

    /// [`Engine::feed`] on the calling thread.
    fn feed_here(&mut self, token: u32) -> Vec<f32> {
        let l = self.llama;
        let (d, hd) = (l.dim as usize, l.head_dim() as usize);
        let p = self.position;
        let (eps, base) = (l.rms_eps, l.rope_base);
        let (heads, kv_heads) = (l.heads as usize, l.kv_heads as usize);
        let mut x = embed(&l.embedding, token as i32);
        // One quantization of the normed input for q, k and v (and one for gate and up), and one
        // split across threads for each group: the same elements as one `qlinear` per matrix.
        let mut xq = QuantizedActivations::default();
        for ((block, [attn_norm, ffn_norm]), (keys, values)) in
            l.blocks.iter().zip(&self.norms).zip(&mut self.cache)
        {
            quantize_activations_into(&rms_norm(&x, attn_norm, eps), &mut xq);
            let [q, k, v] = qlinear_quantized(&xq, d, [w(&block.q), w(&block.k), w(&block.v)]);
            let q = rope(&q, d, hd, p, base);
            keys.extend(rope(&k, k.len(), hd, p, base));
            values.extend(v);
            let a = attention(&q, keys, values, heads, kv_heads);
            let h = add(&x, &linear(&a, &block.o));
            quantize_activations_into(&rms_norm(&h, ffn_norm, eps), &mut xq);
            let [gate, up] = qlinear_quantized(&xq, d, [w(&block.gate), w(&block.up)]);
            x = add(&h, &linear(&swiglu(&gate, &up), &block.down));
        }
        self.position += 1;
        x
    }

    /// The logits (V) after a final hidden state.
    pub fn logits(&self, x: &[f32]) -> Vec<f32> {
        on_pool(|| {
            let xn = rms_norm(x, &self.output_norm, self.llama.rms_eps);
            linear(&xn, &self.llama.head())
        })
    }

    /// Feeds `prompt`, then generates `tokens` tokens drawn as `sampling` says (the token at
    /// position `p` drawn for `p`, as the graph's `Sample` nodes do). Returns the generated
    /// tokens.
    pub fn generate(&mut self, prompt: &[u32], tokens: u32, sampling: &Sampling) -> Vec<u32> {
        let mut out = Vec::with_capacity(tokens as usize);
        let mut x = Vec::new();
        for &t in prompt {
            x = self.feed(t);
        }
        for i in 0..tokens {
            let token = sample(&self.logits(&x), sampling, self.position);
            out.push(token);
            if i + 1 < tokens {
                x = self.feed(token);
            }
        }
        out
    }
}

fn linear(x: &[f32], w: &Weight<'_>) -> Vec<f32> {
    let [n, k] = w.dims.map(|v| v as usize);
    qlinear(x, w.bytes, format(w), n, k)
}

/// A matrix as [`qlinear_quantized`] takes it: bytes, format, output rows.
fn w<'a>(w: &Weight<'a>) -> (&'a [u8], BlockFormat, usize) {
    (w.bytes, format(w), w.dims[0] as usize)
}

fn embed(w: &Weight<'_>, id: i32) -> Vec<f32> {
    block_row(w.bytes, format(w), w.dims[1] as usize, id).expect("a token of the vocabulary")
}

fn format(w: &Weight<'_>) -> BlockFormat {
    w.dtype.block().expect("matrices are block-quantized")
}
