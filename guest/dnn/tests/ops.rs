//! The operators against hand-computed cases, with the rounding edge cases of the spec.

use opml_dnn::canonical;
use opml_dnn::ops::*;
use opml_dnn::{DnnError, Quant};

const NAN_BITS: u32 = 0x7fc0_0000;

fn bits(values: &[f32]) -> Vec<u32> {
    values.iter().map(|v| v.to_bits()).collect()
}

fn q(scale: f32, zero_point: i32) -> Quant {
    Quant { scale, zero_point }
}

#[test]
fn canonical_replaces_every_nan_and_keeps_signed_zero() {
    for nan in [0x7fc0_0000, 0xffc0_0000, 0x7f80_0001, 0xffff_ffff] {
        assert_eq!(canonical(f32::from_bits(nan)).to_bits(), NAN_BITS);
    }
    assert_eq!(canonical(-0.0).to_bits(), (-0.0f32).to_bits());
    assert_eq!(canonical(f32::INFINITY), f32::INFINITY);
}

#[test]
fn round_half_away_rounds_ties_away_from_zero() {
    let cases = [
        (3, 2, 2),
        (-3, 2, -2),
        (5, 4, 1),
        (6, 4, 2),
        (-6, 4, -2),
        (-5, 4, -1),
        (7, 4, 2),
        (1, 2, 1),
        (-1, 2, -1),
        (0, 8, 0),
        (13, 9, 1),
        (14, 9, 2),
        (i64::MIN, 1, i64::MIN),
        (i64::MAX, 1 << 62, 2),
    ];
    for (num, den, want) in cases {
        assert_eq!(round_half_away(num, den), want, "{num} / {den}");
    }
}

#[test]
fn requant_rounds_ties_away_and_saturates() {
    const HALF: i32 = 1 << 30; // with s = 0: × 0.5
    assert_eq!(requant(3, HALF, 0, 0, false), 2); // 1.5
    assert_eq!(requant(-3, HALF, 0, 0, false), -2); // -1.5
    assert_eq!(requant(5, HALF, 0, 0, false), 3); // 2.5
    assert_eq!(requant(1, HALF, 0, 0, false), 1); // 0.5
    assert_eq!(requant(-1, HALF, 0, 0, false), -1);
    assert_eq!(requant(3, HALF, 0, 10, false), 12);
    assert_eq!(requant(-3, HALF, 0, 10, false), 8);
    // Negative shift: × 2^30 · 2^−30 = × 1; large shift: × 2^30 · 2^−62.
    assert_eq!(requant(7, HALF, -1, -4, false), 3);
    assert_eq!(requant(i32::MAX, HALF, 31, 0, false), 0);
    // Saturation at both ends, and the extremes of the accumulator.
    assert_eq!(requant(1000, HALF, 0, 0, false), 127);
    assert_eq!(requant(-1000, HALF, 0, 0, false), -128);
    assert_eq!(requant(i32::MIN, i32::MAX, -30, 0, false), -128);
    assert_eq!(requant(i32::MAX, i32::MAX, -30, 0, false), 127);
    // Fused ReLU clamps at the output zero point.
    assert_eq!(requant(-3, HALF, 0, 10, true), 10);
    assert_eq!(requant(-300, HALF, 0, -100, true), -100);
    assert_eq!(requant(3, HALF, 0, 10, true), 12);
    // m0 = 0: everything maps to the zero point.
    assert_eq!(requant(12345, 0, 0, 5, false), 5);
}

#[test]
fn quantize_rounds_half_even_and_saturates() {
    let unit = q(1.0, 0);
    let cases = [
        (0.5, 0),
        (1.5, 2),
        (2.5, 2),
        (-0.5, 0),
        (-1.5, -2),
        (-2.5, -2),
        (127.4, 127),
        (1000.0, 127),
        (-1000.0, -128),
        (f32::INFINITY, 127),
        (f32::NEG_INFINITY, -128),
        (f32::NAN, 0),
        (3e38, 127),
    ];
    for (x, want) in cases {
        assert_eq!(quantize(x, unit), want, "quantize({x})");
    }
    assert_eq!(quantize(1.0, q(0.25, -3)), 1);
    assert_eq!(quantize(40.0, q(0.25, 100)), 127);
    assert_eq!(quantize(f32::NAN, q(0.25, 100)), 0);
}

#[test]
fn dequantize_subtracts_the_zero_point() {
    assert_eq!(dequantize(5, q(0.5, 3)), 1.0);
    assert_eq!(dequantize(-128, q(0.5, 127)), -127.5);
    assert_eq!(dequantize(3, q(0.5, 3)).to_bits(), 0);
}

#[test]
fn quantize_multiplier_represents_the_real_factor() {
    let rq = |m0, s| Some(Requant { m0, s });
    assert_eq!(quantize_multiplier(0.0), rq(0, 0));
    assert_eq!(quantize_multiplier(0.5), rq(1 << 30, 0));
    assert_eq!(quantize_multiplier(1.0), rq(1 << 30, -1));
    assert_eq!(quantize_multiplier(0.75), rq(3 << 29, 0));
    // Just below 1: m0 rounds up to 2^31 and renormalizes.
    assert_eq!(quantize_multiplier(1.0 - 1e-12), rq(1 << 30, -1));
    for bad in [-0.5, f64::NAN, f64::INFINITY, 2f64.powi(30), 2f64.powi(-33)] {
        assert_eq!(quantize_multiplier(bad), None, "{bad}");
    }
    for real in [1e-9, 3.3e-4, 0.0123, 0.999, 7.5, 12345.678] {
        let Requant { m0, s } = quantize_multiplier(real).unwrap();
        assert!((1 << 30..=i32::MAX).contains(&m0));
        let back = f64::from(m0) * 2f64.powi(-(31 + s));
        assert!((back / real - 1.0).abs() <= 2f64.powi(-31), "{real}");
    }
}

#[test]
fn relu_keeps_negative_zero_and_nan_canonical() {
    assert_eq!(relu(-1.0).to_bits(), 0);
    assert_eq!(relu(2.5), 2.5);
    assert_eq!(relu(-0.0).to_bits(), (-0.0f32).to_bits());
    assert_eq!(relu(f32::from_bits(0xffc0_0001)).to_bits(), NAN_BITS);
    assert_eq!(relu_i8(-5, 3), 3);
    assert_eq!(relu_i8(7, 3), 7);
}

#[test]
fn gelu_and_silu_match_their_formulas() {
    assert_eq!(gelu(0.0), 0.0);
    assert_eq!(silu(0.0), 0.0);
    assert_eq!(gelu(10.0), 10.0);
    assert_eq!(silu(-200.0).to_bits(), (-0.0f32).to_bits());
    for x in [-3.0f32, -0.5, 0.25, 1.0, 2.5] {
        let x64 = f64::from(x);
        let silu64 = x64 / (1.0 + (-x64).exp());
        assert!((f64::from(silu(x)) - silu64).abs() < 1e-6, "silu({x})");
        let gelu64 = 0.5 * x64 * (1.0 + libm::erf(x64 / 2f64.sqrt()));
        assert!((f64::from(gelu(x)) - gelu64).abs() < 1e-6, "gelu({x})");
    }
    assert_eq!(gelu(f32::NAN).to_bits(), NAN_BITS);
    assert_eq!(silu(f32::NAN).to_bits(), NAN_BITS);
}

#[test]
fn dense_f32_starts_at_the_bias() {
    let l = LinearF32 { relu: false };
    let w = [1.0, 1.0, 2.0, -1.0];
    assert_eq!(dense(&l, &[1.0, 2.0], &w, Some(&[0.5, 0.0]), 2), [3.5, 0.0]);
    assert_eq!(
        dense(&l, &[1.0, 2.0, 0.0, 1.0], &w, None, 2),
        [3.0, 0.0, 1.0, -1.0]
    );
    let relu = LinearF32 { relu: true };
    assert_eq!(dense(&relu, &[1.0, 2.0], &[-1.0, 0.0], None, 2), [0.0]);
    // No bias: the sum starts at +0.0, so −0.0 products give +0.0.
    assert_eq!(dense(&l, &[-0.0], &[1.0], None, 1)[0].to_bits(), 0);
}

#[test]
fn dense_i8_accumulates_around_the_zero_point() {
    let l = LinearI8 {
        x_zero_point: 10,
        requant: Requant { m0: 1 << 30, s: 0 },
        out_zero_point: -3,
        relu: false,
    };
    // x − zx = [0, 10]; acc = [5 + 20, 0 − 40]; × 0.5 = [12.5, −20].
    let w = [1, 2, 3, -4];
    assert_eq!(dense(&l, &[10, 20], &w, Some(&[5, 0]), 2), [10, -23]);
    let relu = LinearI8 { relu: true, ..l };
    assert_eq!(dense(&relu, &[10, 20], &w, Some(&[5, 0]), 2), [10, -3]);
}

#[test]
fn matmul_multiplies_rows_by_the_matrix() {
    let a = [1.0, 2.0, 3.0, 4.0];
    let b = [1.0, 0.0, 2.0, 0.0, 1.0, -1.0];
    assert_eq!(matmul(&a, &b, 2, 3), [1.0, 2.0, 0.0, 3.0, 4.0, 2.0]);
}

fn conv_dims(h: usize, w: usize, k: usize, stride: usize, pad: usize) -> Conv2dDims {
    Conv2dDims {
        n: 1,
        c: 1,
        h,
        w,
        o: 1,
        kh: k,
        kw: k,
        stride_h: stride,
        stride_w: stride,
        pad_h: pad,
        pad_w: pad,
    }
}

#[test]
fn conv2d_f32_with_stride_and_padding() {
    let x: Vec<f32> = (1..=9).map(|v| v as f32).collect();
    let w = [1.0, 0.0, 0.0, 1.0];
    let l = LinearF32 { relu: false };
    let plain = conv_dims(3, 3, 2, 1, 0);
    assert_eq!((plain.out_h(), plain.out_w()), (2, 2));
    assert_eq!(conv2d(&l, &x, &w, None, &plain), [6.0, 8.0, 12.0, 14.0]);
    assert_eq!(
        conv2d(&l, &x, &w, Some(&[0.5]), &plain),
        [6.5, 8.5, 12.5, 14.5]
    );
    // Stride 2, padding 1: windows at rows/columns −1..0 and 1..2.
    let padded = conv_dims(3, 3, 2, 2, 1);
    assert_eq!((padded.out_h(), padded.out_w()), (2, 2));
    assert_eq!(conv2d(&l, &x, &w, None, &padded), [1.0, 3.0, 7.0, 14.0]);
}

#[test]
fn conv2d_f32_channels_and_batches() {
    // x (2, 2, 1, 1), W (3, 2, 1, 1): a per-pixel Dense over channels.
    let d = Conv2dDims {
        n: 2,
        c: 2,
        h: 1,
        w: 1,
        o: 3,
        kh: 1,
        kw: 1,
        stride_h: 1,
        stride_w: 1,
        pad_h: 0,
        pad_w: 0,
    };
    let l = LinearF32 { relu: true };
    let w = [1.0, 0.0, 0.0, 1.0, 1.0, -2.0];
    let out = conv2d(&l, &[1.0, 2.0, 3.0, 1.0], &w, None, &d);
    assert_eq!(out, [1.0, 2.0, 0.0, 3.0, 1.0, 1.0]);
}

#[test]
fn conv2d_i8_pads_with_the_input_zero_point() {
    // x − zx = [1, 2, 3, 4]; a 3×3 all-ones kernel with padding 1 covers the whole input from
    // every output position: acc = 10. Padding with 0 instead of zx would add −5 per padded
    // position.
    let l = LinearI8 {
        x_zero_point: 5,
        requant: Requant { m0: 1 << 30, s: -1 },
        out_zero_point: 2,
        relu: false,
    };
    let out = conv2d(&l, &[6, 7, 8, 9], &[1; 9], None, &conv_dims(2, 2, 3, 1, 1));
    assert_eq!(out, [12; 4]);
    let bias = conv2d(
        &l,
        &[6, 7, 8, 9],
        &[1; 9],
        Some(&[-4]),
        &conv_dims(2, 2, 3, 1, 1),
    );
    assert_eq!(bias, [8; 4]);
}

fn pool_dims(h: usize, w: usize, k: usize, stride: usize) -> Pool2dDims {
    Pool2dDims {
        n: 1,
        c: 1,
        h,
        w,
        kh: k,
        kw: k,
        stride_h: stride,
        stride_w: stride,
    }
}

#[test]
fn pools() {
    // Rows [1, 5, 2, 0], [3, −1, −2, 3], [7, 6, 0, 0]; 2×2 windows, stride 2: one output row.
    let x = [1.0, 5.0, 2.0, 0.0, 3.0, -1.0, -2.0, 3.0, 7.0, 6.0, 0.0, 0.0];
    let d = Pool2dDims {
        w: 4,
        ..pool_dims(3, 4, 2, 2)
    };
    assert_eq!((d.out_h(), d.out_w()), (1, 2));
    assert_eq!(max_pool2d(&x, &d), [5.0, 3.0]);
    assert_eq!(avg_pool2d_f32(&x, &d), [2.0, 0.75]);
    let xi = x.map(|v| v as i8);
    assert_eq!(max_pool2d(&xi, &d), [5, 3]);
    // 8 / 4 = 2; 3 / 4 = 0.75 → 1.
    assert_eq!(avg_pool2d_i8(&xi, &d), [2, 1]);
    // Two planes (N = 1, C = 2), 1×1 windows: the identity.
    let planes = Pool2dDims {
        c: 2,
        ..pool_dims(1, 1, 1, 1)
    };
    assert_eq!(max_pool2d(&[4i8, -4], &planes), [4, -4]);
}

#[test]
fn avg_pool_i8_rounds_half_away_from_zero() {
    let d = Pool2dDims {
        w: 2,
        ..pool_dims(1, 2, 1, 1)
    };
    let pair = Pool2dDims { kw: 2, ..d };
    assert_eq!(avg_pool2d_i8(&[-1, -2], &pair), [-2]); // −1.5
    assert_eq!(avg_pool2d_i8(&[1, 2], &pair), [2]); // 1.5
    assert_eq!(avg_pool2d_i8(&[-1, 0], &pair), [-1]); // −0.5
    assert_eq!(avg_pool2d_i8(&[-128, -128], &pair), [-128]);
    let quad = Pool2dDims { kw: 4, w: 4, ..d };
    assert_eq!(avg_pool2d_i8(&[-1, 0, 0, 0], &quad), [0]); // −0.25
    assert_eq!(avg_pool2d_i8(&[127; 4], &quad), [127]);
}

#[test]
fn max_pool_keeps_the_first_maximum() {
    let d = Pool2dDims {
        w: 2,
        kw: 2,
        ..pool_dims(1, 2, 1, 1)
    };
    assert_eq!(max_pool2d(&[0.0, -0.0], &d)[0].to_bits(), 0);
    assert_eq!(
        max_pool2d(&[-0.0, 0.0], &d)[0].to_bits(),
        (-0.0f32).to_bits()
    );
    assert_eq!(max_pool2d(&[1.0, f32::NAN], &d), [1.0]);
    assert_eq!(max_pool2d(&[f32::NAN, 1.0], &d)[0].to_bits(), NAN_BITS);
}

#[test]
fn argmax_ties_take_the_first_index() {
    assert_eq!(argmax(&[1.0, 3.0, 3.0, 2.0], 4), [1]);
    assert_eq!(argmax(&[1.0, 3.0, 3.0, 2.0], 2), [1, 0]);
    assert_eq!(argmax(&[5i8, 5, 5], 3), [0]);
    assert_eq!(argmax(&[-7i32, 9, 9], 3), [1]);
    assert_eq!(argmax(&[0.0, -0.0], 2), [0]);
    assert_eq!(argmax(&[1.0, f32::NAN, 3.0], 3), [2]);
    assert_eq!(argmax(&[f32::NAN, 1.0], 2), [0]);
}

#[test]
fn softmax_is_stable_for_large_values() {
    assert_eq!(softmax(&[1000.0, 1000.0], 2), [0.5, 0.5]);
    assert_eq!(softmax(&[1000.0, 0.0], 2), [1.0, 0.0]);
    assert_eq!(softmax(&[-1e30, 3e38], 2), [0.0, 1.0]);
    assert_eq!(softmax(&[f32::NEG_INFINITY, 0.0], 2), [0.0, 1.0]);
    assert_eq!(softmax(&[7.0], 1), [1.0]);
    // Two rows, each normalized on its own.
    let out = softmax(&[0.0, 0.0, 0.0, 1e4, 0.0, 1e4], 3);
    assert_eq!(out[..3], [1.0 / 3.0; 3]);
    assert_eq!(out[3..], [0.5, 0.0, 0.5]);
    // +∞ gives ∞ − ∞: NaN, canonical.
    assert_eq!(bits(&softmax(&[f32::INFINITY, 0.0], 2)), [NAN_BITS; 2]);
}

#[test]
fn layer_norm_two_passes_and_eps() {
    let out = layer_norm(&[1.0, 2.0, 3.0, 4.0], &[1.0; 4], &[0.0; 4], 0.0);
    let std = 1.25f32.sqrt();
    assert_eq!(out, [-1.5 / std, -0.5 / std, 0.5 / std, 1.5 / std]);
    let affine = layer_norm(&[1.0, 3.0], &[2.0, 3.0], &[0.5, -1.0], 0.0);
    assert_eq!(affine, [-1.5, 2.0]);
    // A constant row: eps decides between 0/eps and 0/0.
    let flat = [5.0; 3];
    assert_eq!(layer_norm(&flat, &[1.0; 3], &[0.25; 3], 1.0), [0.25; 3]);
    assert_eq!(
        bits(&layer_norm(&flat, &[1.0; 3], &[0.0; 3], 0.0)),
        [NAN_BITS; 3]
    );
    // eps is added to the variance before the square root: var = 1, eps = 3 → ÷ 2.
    assert_eq!(
        layer_norm(&[1.0, 3.0], &[1.0; 2], &[0.0; 2], 3.0),
        [-0.5, 0.5]
    );
}

#[test]
fn rms_norm_and_eps() {
    let rms = 12.5f32.sqrt();
    assert_eq!(
        rms_norm(&[3.0, 4.0], &[1.0, 2.0], 0.0),
        [3.0 / rms, 4.0 / rms * 2.0]
    );
    // mean(x²) = 1, eps = 3 → ÷ 2.
    assert_eq!(rms_norm(&[1.0, -1.0], &[1.0; 2], 3.0), [0.5, -0.5]);
    assert_eq!(rms_norm(&[0.0; 2], &[1.0; 2], 1.0), [0.0; 2]);
    assert_eq!(bits(&rms_norm(&[0.0; 2], &[1.0; 2], 0.0)), [NAN_BITS; 2]);
}

#[test]
fn embedding_copies_rows_and_refuses_bad_ids() {
    let table = [0.0, 1.0, 10.0, 11.0, 20.0, 21.0];
    assert_eq!(
        embedding(&[2, 0, 2], &table, 2),
        Ok(vec![20.0, 21.0, 0.0, 1.0, 20.0, 21.0])
    );
    let bad = |id| Err(DnnError::EmbeddingId { id, vocab: 3 });
    assert_eq!(embedding(&[0, 3], &table, 2), bad(3));
    assert_eq!(embedding(&[-1], &table, 2), bad(-1));
    assert_eq!(embedding(&[i32::MAX], &table, 2), bad(i32::MAX));
    assert_eq!(embedding(&[1], &[1i8, 2, 3, 4], 2), Ok(vec![3, 4]));
}

#[test]
fn add_and_mul_broadcast_over_the_last_axis() {
    let a = [1.0, 2.0, 3.0, 4.0];
    assert_eq!(add(&a, &[10.0, 20.0, 30.0, 40.0]), [11.0, 22.0, 33.0, 44.0]);
    assert_eq!(add(&a, &[10.0, 20.0]), [11.0, 22.0, 13.0, 24.0]);
    assert_eq!(mul(&a, &[2.0, -1.0]), [2.0, -2.0, 6.0, -4.0]);
    assert_eq!(bits(&mul(&[f32::INFINITY], &[0.0])), [NAN_BITS]);
}
