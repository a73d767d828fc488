//! The `parallel` feature against the serial kernels: every operator that can split its output
//! across threads, in each dtype it supports, on random shapes on both sides of
//! [`PARALLEL_WORK`], gives bit-for-bit the output it gives on one thread, in the global rayon
//! pool and in pools of 2 and 3 threads.
//!
//! The serial result is the same function run in a one-thread pool, where [`splits`] is false:
//! the kernel's serial path. Requires the feature (`required-features` in `Cargo.toml`):
//! `cargo test -p opml-dnn --features parallel --test parallel`.

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Duration;

use opml_dnn::ops::*;
use rayon::{ThreadPool, ThreadPoolBuilder};

/// Shapes drawn per operator and dtype.
const CASES: usize = 24;

/// SplitMix64: a seeded, dependency-free source of shapes and values.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next() % (hi - lo + 1) as u64) as usize
    }

    /// Mostly values in (-4, 4), with a NaN, a -0.0 or an infinity now and then.
    fn f32s(&mut self, len: usize) -> Vec<f32> {
        (0..len)
            .map(|_| match self.next() % 512 {
                0 => f32::NAN,
                1 => -0.0,
                2 => f32::NEG_INFINITY,
                _ => (self.next() as i32) as f32 / (1u32 << 29) as f32,
            })
            .collect()
    }

    fn i8s(&mut self, len: usize) -> Vec<i8> {
        (0..len).map(|_| self.next() as i8).collect()
    }

    fn i32s(&mut self, len: usize, bound: i32) -> Vec<i32> {
        (0..len)
            .map(|_| (self.next() % (2 * bound as u64 + 1)) as i32 - bound)
            .collect()
    }

    fn linear_i8(&mut self) -> LinearI8 {
        let real = (self.range(1, 1000) as f64) * 1e-5;
        LinearI8 {
            x_zero_point: self.next() as i8,
            requant: quantize_multiplier(real).unwrap(),
            out_zero_point: self.next() as i8,
            relu: self.next().is_multiple_of(2),
        }
    }
}

/// An output element as its bits, so that f32 compares bit for bit (NaN and -0.0 included).
trait Bits: Copy {
    fn bits(self) -> u32;
}

impl Bits for f32 {
    fn bits(self) -> u32 {
        self.to_bits()
    }
}

impl Bits for i8 {
    fn bits(self) -> u32 {
        u32::from(self as u8)
    }
}

fn pool(threads: usize) -> ThreadPool {
    ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
}

/// Runs kernels on one thread and in the parallel pools, and counts the cases on each side of
/// the threshold.
struct Harness {
    serial: ThreadPool,
    pools: [ThreadPool; 2],
    above: usize,
    below: usize,
}

impl Harness {
    fn new() -> Self {
        Self {
            serial: pool(1),
            pools: [pool(2), pool(3)],
            above: 0,
            below: 0,
        }
    }

    /// `kernel()` (doing `work`) gives the same bits in the global pool and in 2- and 3-thread
    /// pools as on one thread, and splits exactly when `work` reaches the threshold.
    fn agree<T: Bits + Send>(
        &mut self,
        case: &str,
        work: usize,
        kernel: impl Fn() -> Vec<T> + Sync,
    ) {
        let bits = |out: Vec<T>| out.into_iter().map(Bits::bits).collect::<Vec<u32>>();
        let expected = self.serial.install(|| {
            assert!(!splits(work), "{case}: one thread never splits");
            bits(kernel())
        });
        let big = work >= PARALLEL_WORK;
        if big {
            self.above += 1;
        } else {
            self.below += 1;
        }
        assert_eq!(bits(kernel()), expected, "{case}: global pool");
        for pool in &self.pools {
            let threads = pool.current_num_threads();
            let got = pool.install(|| {
                assert_eq!(splits(work), big, "{case}: {threads} threads");
                bits(kernel())
            });
            assert_eq!(got, expected, "{case}: {threads} threads");
        }
    }

    /// Both sides of the threshold were exercised.
    fn covered(&self, op: &str) {
        assert!(
            self.above > 0 && self.below > 0,
            "{op}: {} cases above the threshold, {} below",
            self.above,
            self.below
        );
    }
}

#[test]
fn dense_splits_bit_identically() {
    let mut rng = Rng(1);
    let mut h = Harness::new();
    for case in 0..CASES {
        let (rows, k, n) = (rng.range(1, 9), rng.range(1, 400), rng.range(1, 300));
        let with_bias = case % 3 != 0;
        let name = format!("dense f32 {rows}×{k} → {n}, bias {with_bias}");
        let (x, w, b) = (rng.f32s(rows * k), rng.f32s(n * k), rng.f32s(n));
        let l = LinearF32 {
            relu: case % 2 == 0,
        };
        let b = with_bias.then_some(&b[..]);
        h.agree(&name, rows * n * k, || dense(&l, &x, &w, b, k));

        let name = format!("dense i8 {rows}×{k} → {n}, bias {with_bias}");
        let (x, w, b) = (rng.i8s(rows * k), rng.i8s(n * k), rng.i32s(n, 1 << 20));
        let l = rng.linear_i8();
        let b = with_bias.then_some(&b[..]);
        h.agree(&name, rows * n * k, || dense(&l, &x, &w, b, k));
    }
    h.covered("dense");
}

fn conv_dims(rng: &mut Rng) -> Conv2dDims {
    let (kh, kw) = (rng.range(1, 5), rng.range(1, 5));
    Conv2dDims {
        n: rng.range(1, 3),
        c: rng.range(1, 8),
        h: rng.range(kh, 23),
        w: rng.range(kw, 23),
        o: rng.range(1, 13),
        kh,
        kw,
        stride_h: rng.range(1, 3),
        stride_w: rng.range(1, 3),
        pad_h: rng.range(0, kh - 1),
        pad_w: rng.range(0, kw - 1),
    }
}

#[test]
fn conv2d_splits_bit_identically() {
    let mut rng = Rng(2);
    let mut h = Harness::new();
    for case in 0..CASES {
        let d = conv_dims(&mut rng);
        let (input, weights) = (d.n * d.c * d.h * d.w, d.o * d.c * d.kh * d.kw);
        let work = d.n * d.o * d.out_h() * d.out_w() * d.c * d.kh * d.kw;
        let with_bias = case % 3 != 0;

        let (x, w, b) = (rng.f32s(input), rng.f32s(weights), rng.f32s(d.o));
        let l = LinearF32 {
            relu: case % 2 == 0,
        };
        let b = with_bias.then_some(&b[..]);
        h.agree(&format!("conv2d f32 {d:?}"), work, || {
            conv2d(&l, &x, &w, b, &d)
        });

        let (x, w, b) = (rng.i8s(input), rng.i8s(weights), rng.i32s(d.o, 1 << 20));
        let l = rng.linear_i8();
        let b = with_bias.then_some(&b[..]);
        h.agree(&format!("conv2d i8 {d:?}"), work, || {
            conv2d(&l, &x, &w, b, &d)
        });
    }
    h.covered("conv2d");
}

#[test]
fn matmul_splits_bit_identically() {
    let mut rng = Rng(3);
    let mut h = Harness::new();
    for _ in 0..CASES {
        let (m, k, n) = (rng.range(1, 64), rng.range(1, 100), rng.range(1, 100));
        let (a, b) = (rng.f32s(m * k), rng.f32s(k * n));
        h.agree(&format!("matmul {m}×{k} · {k}×{n}"), m * k * n, || {
            matmul(&a, &b, k, n)
        });
    }
    h.covered("matmul");
}

#[test]
fn pools_split_bit_identically() {
    let mut rng = Rng(4);
    let mut h = Harness::new();
    for _ in 0..CASES {
        let (kh, kw) = (rng.range(1, 4), rng.range(1, 4));
        let d = Pool2dDims {
            n: rng.range(1, 3),
            c: rng.range(1, 32),
            h: rng.range(kh, 70),
            w: rng.range(kw, 70),
            kh,
            kw,
            stride_h: rng.range(1, 3),
            stride_w: rng.range(1, 3),
        };
        let (len, window) = (d.n * d.c * d.h * d.w, d.kh * d.kw);
        let work = d.n * d.c * d.out_h() * d.out_w() * window;
        let (x, q) = (rng.f32s(len), rng.i8s(len));
        h.agree(&format!("max_pool2d f32 {d:?}"), work, || {
            max_pool2d(&x, &d)
        });
        h.agree(&format!("max_pool2d i8 {d:?}"), work, || max_pool2d(&q, &d));
        h.agree(&format!("avg_pool2d f32 {d:?}"), work, || {
            avg_pool2d_f32(&x, &d)
        });
        h.agree(&format!("avg_pool2d i8 {d:?}"), work, || {
            avg_pool2d_i8(&q, &d)
        });
    }
    h.covered("pools");
}

#[test]
fn maps_split_bit_identically() {
    let mut rng = Rng(5);
    let mut h = Harness::new();
    for _ in 0..CASES {
        let len = rng.range(1, 5 * PARALLEL_WORK);
        let a = rng.f32s(len);
        h.agree(&format!("map gelu {len}"), len, || map(&a, 1, gelu));
        h.agree(&format!("map silu {len}"), 3 * len, || map(&a, 3, silu));
        h.agree(&format!("map relu {len}, cost 0"), 0, || map(&a, 0, relu));
        let (q, zp) = (rng.i8s(len), rng.next() as i8);
        h.agree(&format!("map relu_i8 {len}"), len, || {
            map(&q, 1, |v| relu_i8(v, zp))
        });
    }
    h.covered("map");
    assert!(map(&[], PARALLEL_WORK, gelu).is_empty());
}

/// The threads that computed each element of `map(0..len, cost, …)` in a 2-thread pool, each
/// element taking 2 ms: plenty of time for the second thread to take its share, even on a busy
/// machine.
fn threads_used(len: usize, cost: usize) -> usize {
    let seen = Mutex::new(HashSet::new());
    let input: Vec<u32> = (0..len as u32).collect();
    let out = pool(2).install(|| {
        map(&input, cost, |v| {
            std::thread::sleep(Duration::from_millis(2));
            seen.lock().unwrap().insert(std::thread::current().id());
            v + 1
        })
    });
    assert_eq!(out, (1..=len as u32).collect::<Vec<_>>());
    seen.into_inner().unwrap().len()
}

#[test]
fn large_work_runs_on_several_threads_and_small_work_on_one() {
    assert_eq!(threads_used(64, PARALLEL_WORK / 64), 2);
    assert_eq!(threads_used(64, PARALLEL_WORK / 64 - 1), 1);
}
