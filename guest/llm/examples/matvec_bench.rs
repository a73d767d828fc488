//! Single-threaded throughput of the quantized matrix-vector product on the SmolLM2-135M
//! shapes: `cargo run --release -p opml-llm --features std --example matvec_bench`.

use std::hint::black_box;
use std::time::Instant;

use opml_llm::kernels::{Path, matvec_path, quantize_activations};
use opml_llm::quant::BlockFormat;

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
