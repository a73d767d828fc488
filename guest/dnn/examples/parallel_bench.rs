//! Serial against parallel kernels (feature `parallel`): for each large operator, the fastest of
//! several runs on one thread (a one-thread rayon pool, where the kernels take their serial path)
//! and in the global pool (every core), and a check that both outputs are bit-identical.
//!
//! `cargo run --release -p opml-dnn --features parallel --example parallel_bench`

use std::hint::black_box;
use std::time::{Duration, Instant};

use opml_dnn::ops::*;
use rayon::ThreadPoolBuilder;

/// Deterministic pseudo-random values in (-1, 1) (a 32-bit LCG: the values only need to be
/// ordinary numbers).
fn values(len: usize, seed: u32) -> Vec<f32> {
    let mut state = seed;
    (0..len)
        .map(|_| {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (state as i32) as f32 / 2_147_483_648.0
        })
        .collect()
}

fn quantized(len: usize, seed: u32) -> Vec<i8> {
    values(len, seed)
        .iter()
        .map(|v| (v * 127.0) as i8)
        .collect()
}

/// The time of one run of `f`.
fn once<T>(f: &impl Fn() -> T) -> Duration {
    let start = Instant::now();
    black_box(f());
    start.elapsed()
}

/// Times `kernel` serially and in parallel, checks that both give the same output, prints a row.
///
/// Serial and parallel runs alternate (at least 10 of each, for at least two seconds) and each side
/// keeps its fastest: other processes on the machine slow both sides alike, and the minimum is
/// the run they disturbed least.
fn bench<T: PartialEq + Send>(name: &str, work: usize, kernel: impl Fn() -> Vec<T> + Sync) {
    let serial = ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    assert!(splits(work), "{name}: below the threshold");
    assert!(
        serial.install(&kernel) == kernel(),
        "{name}: outputs differ"
    );
    let (mut one, mut all) = (Duration::MAX, Duration::MAX);
    let start = Instant::now();
    for round in 0.. {
        if round >= 10 && start.elapsed() > Duration::from_secs(2) {
            break;
        }
        one = one.min(serial.install(|| once(&kernel)));
        all = all.min(once(&kernel));
    }
    println!(
        "| {name} | {:.1e} | {:.2} | {:.2} | {:.2}× |",
        work as f64,
        one.as_secs_f64() * 1e3,
        all.as_secs_f64() * 1e3,
        one.as_secs_f64() / all.as_secs_f64()
    );
}

fn main() {
    println!(
        "{} threads; PARALLEL_WORK = {PARALLEL_WORK}\n",
        rayon::current_num_threads()
    );
    println!("| kernel | work | 1 thread (ms) | all threads (ms) | speed-up |");
    println!("|---|---|---|---|---|");
    let f32_layer = LinearF32 { relu: true };
    let i8_layer = LinearI8 {
        x_zero_point: 3,
        requant: quantize_multiplier(0.0004).unwrap(),
        out_zero_point: -5,
        relu: false,
    };

    for (rows, k, n) in [(1, 4096, 4096), (64, 1024, 1024)] {
        let (x, w, b) = (values(rows * k, 1), values(n * k, 2), values(n, 3));
        bench(
            &format!("dense f32 {rows}×{k} → {n}"),
            rows * k * n,
            || dense(&f32_layer, &x, &w, Some(&b), k),
        );
        let (x, w) = (quantized(rows * k, 1), quantized(n * k, 2));
        bench(
            &format!("dense i8 {rows}×{k} → {n}"),
            rows * k * n,
            || dense(&i8_layer, &x, &w, None, k),
        );
    }

    let d = Conv2dDims {
        n: 1,
        c: 64,
        h: 32,
        w: 32,
        o: 64,
        kh: 3,
        kw: 3,
        stride_h: 1,
        stride_w: 1,
        pad_h: 1,
        pad_w: 1,
    };
    let work = d.n * d.o * d.out_h() * d.out_w() * d.c * d.kh * d.kw;
    let (x, w, b) = (
        values(d.n * d.c * d.h * d.w, 4),
        values(d.o * d.c * 9, 5),
        values(d.o, 6),
    );
    bench("conv2d f32 1×64×32×32, 64 3×3", work, || {
        conv2d(&f32_layer, &x, &w, Some(&b), &d)
    });
    let (x, w) = (quantized(x.len(), 4), quantized(w.len(), 5));
    bench("conv2d i8 1×64×32×32, 64 3×3", work, || {
        conv2d(&i8_layer, &x, &w, None, &d)
    });

    let (m, k, n) = (256, 256, 256);
    let (a, b) = (values(m * k, 7), values(k * n, 8));
    bench("matmul 256×256 · 256×256", m * k * n, || {
        matmul(&a, &b, k, n)
    });

    let p = Pool2dDims {
        n: 1,
        c: 64,
        h: 128,
        w: 128,
        kh: 2,
        kw: 2,
        stride_h: 2,
        stride_w: 2,
    };
    let (x, q) = (values(64 * 128 * 128, 9), quantized(64 * 128 * 128, 9));
    let work = 64 * 64 * 64 * 4;
    bench("max_pool2d f32 1×64×128×128, 2×2/2", work, || {
        max_pool2d(&x, &p)
    });
    bench("avg_pool2d f32 1×64×128×128, 2×2/2", work, || {
        avg_pool2d_f32(&x, &p)
    });
    bench("avg_pool2d i8 1×64×128×128, 2×2/2", work, || {
        avg_pool2d_i8(&q, &p)
    });

    let len = 1 << 20;
    let a = values(len, 10);
    // Pure computation, no memory traffic to speak of: the speed-up the machine offers.
    bench("map gelu f32 2^20", len * 8, || map(&a, 8, gelu));
    bench("map silu f32 2^20", len * 8, || map(&a, 8, silu));
}
