//! Single-threaded throughput of the quantized matrix-vector product on the SmolLM2-135M
//! shapes, and the time of the other per-token kernels: `cargo run --release -p opml-llm --features std --example matvec_bench`.

use std::hint::black_box;
use std::time::Instant;

use opml_llm::kernels::{Path, attention, matvec_path, quantize_activations, rope, swiglu};
use opml_llm::quant::BlockFormat;
use opml_llm::sample::{Sampling, greedy, sample};

/// A deterministic byte stream (xorshift).
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

/// Random blocks with sane f16 scales (0x2000..0x27ff: ~0.008..0.03).
fn weights(format: BlockFormat, rows: usize, cols: usize) -> Vec<u8> {
    let mut w = bytes(format.row_bytes(cols).unwrap() * rows, 0x5eed);
    for block in w.chunks_exact_mut(format.block_bytes()) {
        block[1] = 0x20 | (block[1] & 7);
        if format == BlockFormat::Q4_1 {
            block[3] = 0xa0 | (block[3] & 7);
        }
    }
    w
}

fn main() {
    others();
    let shapes = [
        (BlockFormat::Q4_1, 576, 576),
        (BlockFormat::Q4_1, 192, 576),
        (BlockFormat::Q4_1, 1536, 576),
        (BlockFormat::Q4_1, 576, 1536),
        (BlockFormat::Q8_0, 576, 576),
        (BlockFormat::Q8_0, 49152, 576),
    ];
    for path in [Path::Portable, Path::Avx2] {
        if !path.available() {
            println!("{path:?}: not available");
            continue;
        }
        for &(format, rows, cols) in &shapes {
            let w = weights(format, rows, cols);
            let x: Vec<f32> = bytes(cols, 7)
                .iter()
                .map(|&b| (b as f32 - 128.0) / 64.0)
                .collect();
            let xq = quantize_activations(&x);
            let mut out = vec![0f32; rows];
            let macs = (rows * cols) as f64;
            let reps = (2e9 / macs).ceil() as usize;
            matvec_path(path, format, &w, cols, &xq, 0..rows, &mut out);
            let start = Instant::now();
            for _ in 0..reps {
                matvec_path(path, format, black_box(&w), cols, &xq, 0..rows, &mut out);
                black_box(&out);
            }
            let secs = start.elapsed().as_secs_f64();
            println!(
                "{path:?} {format:?} {rows}x{cols}: {:.2} GMAC/s ({:.1} µs per matvec)",
                macs * reps as f64 / secs / 1e9,
                secs / reps as f64 * 1e6
            );
        }
    }
}

/// Mean time of `f` over enough repetitions for ~0.3 s.
fn time(mut f: impl FnMut()) -> f64 {
    f();
    let start = Instant::now();
    let mut reps = 0;
    while start.elapsed().as_secs_f64() < 0.3 {
        f();
        reps += 1;
    }
    start.elapsed().as_secs_f64() / reps as f64
}

/// The other per-token kernels at SmolLM2-135M sizes (9 heads, 3 kv heads, head_dim 64,
/// vocabulary 49152), single-threaded.
fn others() {
    let unit = |n: usize, seed: u64| -> Vec<f32> {
        bytes(n, seed)
            .iter()
            .map(|&b| (b as f32 - 128.0) / 64.0)
            .collect()
    };
    let (heads, kv_heads, hd) = (9, 3, 64);
    let q = unit(heads * hd, 1);
    let mut out = vec![0f32; heads * hd];
    for t in [64usize, 512, 2048] {
        let k = unit(t * kv_heads * hd, 2);
        let v = unit(t * kv_heads * hd, 3);
        let s = time(|| {
            attention(black_box(&q), &k, &v, heads, kv_heads, hd, &mut out);
            black_box(&out);
        });
        println!("attention t = {t}: {:.1} µs per layer", s * 1e6);
    }
    let mut x = unit(heads * hd, 4);
    let s = time(|| rope(black_box(&mut x), hd, 1000, 100000.0));
    println!("rope 9 heads: {:.1} µs", s * 1e6);
    let (g, u) = (unit(1536, 5), unit(1536, 6));
    let mut o = vec![0f32; 1536];
    let s = time(|| swiglu(black_box(&g), &u, &mut o));
    println!("swiglu 1536: {:.1} µs", s * 1e6);
    let x = unit(1536, 7);
    let s = time(|| {
        black_box(quantize_activations(black_box(&x)));
    });
    println!("quantize_activations 1536: {:.1} µs", s * 1e6);
    let logits: Vec<f32> = unit(49152, 8).iter().map(|v| v * 4.0).collect();
    for (top_k, top_p) in [(0, 1.0), (0, 0.9), (40, 0.95)] {
        let sampling = Sampling {
            temperature: 0.7,
            top_k,
            top_p,
            seed: 1,
        };
        let mut pos = 0;
        let s = time(|| {
            black_box(sample(black_box(&logits), &sampling, pos));
            pos += 1;
        });
        println!("sample top_k {top_k} top_p {top_p}: {:.1} µs", s * 1e6);
    }
    let s = time(|| {
        black_box(greedy(black_box(&logits)));
    });
    println!("greedy: {:.1} µs", s * 1e6);
}
