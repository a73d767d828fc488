//! The kernels' share of a SmolLM2-135M token (30 layers, hidden 576, 9 heads of 64 with 3 kv
//! heads, MLP 1536, Q4_1 layers and a Q8_0 49152 × 576 head; random weights), on `THREADS`
//! threads splitting matrix rows and heads, as the graph integration would:
//! `cargo run --release -p opml-llm --features std --example token_bench [threads] [context]`.
//! RMSNorm and the residual adds are plain loops here; the tokenizer is not involved.

use std::sync::{Barrier, Mutex};
use std::time::Instant;

use opml_llm::kernels::{
    QuantizedActivations, attention_heads, matvec, quantize_activations, rope, swiglu,
};
use opml_llm::quant::BlockFormat;
use opml_llm::sample::{Sampling, sample};

const HIDDEN: usize = 576;
const HEADS: usize = 9;
const KV_HEADS: usize = 3;
const HD: usize = 64;
const MLP: usize = 1536;
const LAYERS: usize = 30;
const VOCAB: usize = 49152;
/// Tokens timed.
const TOKENS: usize = 40;

fn bytes(n: usize, mut state: u64) -> Vec<u8> {
    (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

/// Random blocks with sane f16 scales.
fn weights(format: BlockFormat, rows: usize, cols: usize, seed: u64) -> Vec<u8> {
    let mut w = bytes(format.row_bytes(cols).unwrap() * rows, seed);
    for block in w.chunks_exact_mut(format.block_bytes()) {
        block[1] = 0x20 | (block[1] & 3);
        if format == BlockFormat::Q4_1 {
            block[3] = 0xa0 | (block[3] & 3);
        }
    }
    w
}

struct Layer {
    wq: Vec<u8>,
    wk: Vec<u8>,
    wv: Vec<u8>,
    wo: Vec<u8>,
    gate: Vec<u8>,
    up: Vec<u8>,
    down: Vec<u8>,
}

/// Rows `part` of `threads` (multiples of 4).
fn part(rows: usize, part: usize, threads: usize) -> std::ops::Range<usize> {
    let per = rows.div_ceil(threads).div_ceil(4) * 4;
    (part * per).min(rows)..((part + 1) * per).min(rows)
}

fn rms_norm(x: &[f32]) -> Vec<f32> {
    let mut ss = 0.0f32;
    for v in x {
        ss += v * v;
    }
    let inv = 1.0 / libm::sqrtf(ss / x.len() as f32 + 1e-5);
    x.iter().map(|v| v * inv).collect()
}

/// This thread's rows of `w · x` into `shared` (at their offset).
fn mv(
    format: BlockFormat,
    w: &[u8],
    cols: usize,
    x: &QuantizedActivations,
    rows: std::ops::Range<usize>,
    shared: &Mutex<Vec<f32>>,
    offset: usize,
) {
    let mut out = vec![0f32; rows.len()];
    matvec(format, w, cols, x, rows.clone(), &mut out);
    shared.lock().unwrap()[offset + rows.start..offset + rows.end].copy_from_slice(&out);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let threads: usize = args.get(1).map_or(2, |a| a.parse().unwrap());
    let context: usize = args.get(2).map_or(256, |a| a.parse().unwrap());
    let q4 = BlockFormat::Q4_1;
    let layers: Vec<Layer> = (0..LAYERS as u64)
        .map(|l| Layer {
            wq: weights(q4, HIDDEN, HIDDEN, 10 * l + 1),
            wk: weights(q4, KV_HEADS * HD, HIDDEN, 10 * l + 2),
            wv: weights(q4, KV_HEADS * HD, HIDDEN, 10 * l + 3),
            wo: weights(q4, HIDDEN, HIDDEN, 10 * l + 4),
            gate: weights(q4, MLP, HIDDEN, 10 * l + 5),
            up: weights(q4, MLP, HIDDEN, 10 * l + 6),
            down: weights(q4, HIDDEN, MLP, 10 * l + 7),
        })
        .collect();
    let head = weights(BlockFormat::Q8_0, VOCAB, HIDDEN, 999);
    let kv = KV_HEADS * HD;
    // A KV cache already holding `context` positions (random), one per layer.
    let cache: Vec<(Vec<f32>, Vec<f32>)> = (0..LAYERS as u64)
        .map(|l| {
            let f = |s| -> Vec<f32> {
                let mut c = Vec::with_capacity((context + TOKENS) * kv);
                c.extend(
                    bytes(context * kv, s)
                        .iter()
                        .map(|&b| (b as f32 - 128.0) / 128.0),
                );
                c
            };
            (f(2 * l + 5000), f(2 * l + 5001))
        })
        .collect();
    let tokens = TOKENS;
    let barrier = Barrier::new(threads);
    let qkv = Mutex::new(vec![0f32; HIDDEN + 2 * kv]);
    let att = Mutex::new(vec![0f32; HIDDEN]);
    let o = Mutex::new(vec![0f32; HIDDEN]);
    let gu = Mutex::new(vec![0f32; 2 * MLP]);
    let down = Mutex::new(vec![0f32; HIDDEN]);
    let logits = Mutex::new(vec![0f32; VOCAB]);
    let start = Instant::now();
    std::thread::scope(|s| {
        for t in 0..threads {
            let (layers, cache, head, barrier) = (&layers, &cache, &head, &barrier);
            let (qkv, att, o, gu, down, logits) = (&qkv, &att, &o, &gu, &down, &logits);
            s.spawn(move || {
                let mut cache: Vec<(Vec<f32>, Vec<f32>)> = cache
                    .iter()
                    .map(|(k, v)| {
                        let mut kc = Vec::with_capacity(k.capacity());
                        kc.extend_from_slice(k);
                        let mut vc = Vec::with_capacity(v.capacity());
                        vc.extend_from_slice(v);
                        (kc, vc)
                    })
                    .collect();
                let mut x: Vec<f32> = (0..HIDDEN).map(|i| (i % 7) as f32 * 0.1).collect();
                for token in 0..tokens {
                    let pos = (context + token) as u32;
                    for (layer, (kc, vc)) in layers.iter().zip(cache.iter_mut()) {
                        let xq = quantize_activations(&rms_norm(&x));
                        mv(q4, &layer.wq, HIDDEN, &xq, part(HIDDEN, t, threads), qkv, 0);
                        mv(
                            q4,
                            &layer.wk,
                            HIDDEN,
                            &xq,
                            part(kv, t, threads),
                            qkv,
                            HIDDEN,
                        );
                        mv(
                            q4,
                            &layer.wv,
                            HIDDEN,
                            &xq,
                            part(kv, t, threads),
                            qkv,
                            HIDDEN + kv,
                        );
                        barrier.wait();
                        let mut all = qkv.lock().unwrap().clone();
                        let (q, rest) = all.split_at_mut(HIDDEN);
                        let (k, v) = rest.split_at_mut(kv);
                        rope(q, HD, pos, 100000.0);
                        rope(k, HD, pos, 100000.0);
                        kc.extend_from_slice(k);
                        vc.extend_from_slice(v);
                        let heads = part(HEADS, t, threads);
                        let heads = heads.start.min(HEADS)..heads.end.min(HEADS);
                        let mut out = vec![0f32; heads.len() * HD];
                        attention_heads(q, kc, vc, HEADS, KV_HEADS, HD, heads.clone(), &mut out);
                        att.lock().unwrap()[heads.start * HD..heads.end * HD].copy_from_slice(&out);
                        barrier.wait();
                        let aq = quantize_activations(&att.lock().unwrap());
                        mv(q4, &layer.wo, HIDDEN, &aq, part(HIDDEN, t, threads), o, 0);
                        barrier.wait();
                        for (x, o) in x.iter_mut().zip(o.lock().unwrap().iter()) {
                            *x += o;
                        }
                        let xq = quantize_activations(&rms_norm(&x));
                        mv(q4, &layer.gate, HIDDEN, &xq, part(MLP, t, threads), gu, 0);
                        mv(q4, &layer.up, HIDDEN, &xq, part(MLP, t, threads), gu, MLP);
                        barrier.wait();
                        let g = gu.lock().unwrap().clone();
                        let mut h = vec![0f32; MLP];
                        swiglu(&g[..MLP], &g[MLP..], &mut h);
                        let hq = quantize_activations(&h);
                        mv(q4, &layer.down, MLP, &hq, part(HIDDEN, t, threads), down, 0);
                        barrier.wait();
                        for (x, d) in x.iter_mut().zip(down.lock().unwrap().iter()) {
                            *x += d;
                        }
                    }
                    let xq = quantize_activations(&rms_norm(&x));
                    let bq = BlockFormat::Q8_0;
                    mv(bq, head, HIDDEN, &xq, part(VOCAB, t, threads), logits, 0);
                    barrier.wait();
                    if t == 0 {
                        let sampling = Sampling {
                            temperature: 0.7,
                            top_k: 40,
                            top_p: 0.95,
                            seed: 1,
                        };
                        std::hint::black_box(sample(&logits.lock().unwrap(), &sampling, pos));
                    }
                    barrier.wait();
                }
            });
        }
    });
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{threads} threads, context {context}..{}: {:.1} tokens/s ({:.2} ms per token)",
        context + tokens,
        tokens as f64 / secs,
        secs / tokens as f64 * 1e3
    );
}
