//! The scalar specification of [`quantize_activations`](super::quantize_activations) and
//! [`matvec`](super::matvec): the normative order of the [module docs](crate::kernels), written
//! as plainly as possible. The fast paths are tested bit-identical to it.

use alloc::vec::Vec;
use core::ops::Range;

use super::QuantizedActivations;
use crate::quant::{BlockFormat, QK, f16_to_f32};

/// [`quantize_activations`](super::quantize_activations) as `(d, s, q)`, one scalar operation at a
/// time (same precondition).
pub fn quantize_activations(x: &[f32]) -> (Vec<f32>, Vec<f32>, Vec<i8>) {
    assert!(x.len().is_multiple_of(QK), "length is not a multiple of QK");
    let (mut ds, mut ss, mut qs) = (Vec::new(), Vec::new(), Vec::new());
    for block in x.chunks_exact(QK) {
        let mut amax = 0.0f32;
        for &v in block {
            let a = libm::fabsf(v);
            if a > amax {
                amax = a;
            }
        }
        let d = amax / 127.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        let mut sum = 0i32;
        for &v in block {
            let q = (libm::roundf(v * id) as i32).clamp(-127, 127);
            sum += q;
            qs.push(q as i8);
        }
        ds.push(d);
        ss.push(d * sum as f32);
    }
    (ds, ss, qs)
}

/// [`matvec`](super::matvec), one scalar operation at a time (same preconditions).
pub fn matvec(
    format: BlockFormat,
    w: &[u8],
    cols: usize,
    x: &QuantizedActivations,
    rows: Range<usize>,
    out: &mut [f32],
) {
    let row_bytes = format.row_bytes(cols).expect("cols is a multiple of QK");
    assert_eq!(x.len(), cols, "matvec: x.len() != cols");
    assert_eq!(out.len(), rows.len(), "matvec: out.len() != rows.len()");
    let bb = format.block_bytes();
    for (o, r) in out.iter_mut().zip(rows) {
        let mut acc = 0.0f32;
        for b in 0..cols / QK {
            let block = &w[r * row_bytes + b * bb..][..bb];
            let dw = f16_to_f32(u16::from_le_bytes([block[0], block[1]]));
            let mut qw = [0i32; QK];
            match format {
                BlockFormat::Q4_1 => {
                    for i in 0..16 {
                        qw[i] = i32::from(block[4 + i] & 15);
                        qw[i + 16] = i32::from(block[4 + i] >> 4);
                    }
                }
                BlockFormat::Q8_0 => {
                    for i in 0..QK {
                        qw[i] = i32::from(block[2 + i] as i8);
                    }
                }
            }
            let mut isum = 0i32;
            for (i, &q) in qw.iter().enumerate() {
                isum += q * i32::from(x.q()[b * QK + i]);
            }
            let dx = x.d()[b];
            acc = match format {
                BlockFormat::Q4_1 => {
                    let mw = f16_to_f32(u16::from_le_bytes([block[2], block[3]]));
                    acc + ((dw * dx) * isum as f32 + mw * x.s()[b])
                }
                BlockFormat::Q8_0 => acc + (dw * dx) * isum as f32,
            };
        }
        *o = acc;
    }
}
