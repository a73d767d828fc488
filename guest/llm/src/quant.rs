//! GGML block quantization: Q4_1 and Q8_0 weights (blocks of [`QK`] values along a row), and
//! IEEE binary16 (f16) scales.
//!
//! | format | block bytes | layout | value of element `i` |
//! |---|---|---|---|
//! | Q4_1 | 20 | `d: f16, m: f16, qs: [u8; 16]` | `q·d + m`, `q = qs[i] & 15` (i < 16) or `qs[i − 16] >> 4` |
//! | Q8_0 | 34 | `d: f16, qs: [i8; 32]` | `q·d` |
//!
//! Scales convert to f32 exactly; the products and sums are f32 in the order the table gives.

/// Values per block.
pub const QK: usize = 32;

/// A block-quantized weight format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockFormat {
    /// 4-bit with a scale and a minimum per block.
    Q4_1,
    /// 8-bit with a scale per block.
    Q8_0,
}

impl BlockFormat {
    /// Bytes per block of [`QK`] values.
    pub const fn block_bytes(self) -> usize {
        match self {
            BlockFormat::Q4_1 => 20,
            BlockFormat::Q8_0 => 34,
        }
    }

    /// Bytes of a row of `values` values, or `None` unless `values` is a multiple of [`QK`].
    pub const fn row_bytes(self, values: usize) -> Option<usize> {
        if values.is_multiple_of(QK) {
            Some(values / QK * self.block_bytes())
        } else {
            None
        }
    }

    /// Dequantizes one block (`block.len()` must be [`block_bytes`](Self::block_bytes)).
    pub fn dequantize_block(self, block: &[u8], out: &mut [f32; QK]) {
        let d = f16_to_f32(u16::from_le_bytes([block[0], block[1]]));
        match self {
            BlockFormat::Q4_1 => {
                let m = f16_to_f32(u16::from_le_bytes([block[2], block[3]]));
                for (i, &byte) in block[4..20].iter().enumerate() {
                    out[i] = f32::from(byte & 15) * d + m;
                    out[i + 16] = f32::from(byte >> 4) * d + m;
                }
            }
            BlockFormat::Q8_0 => {
                for (o, &q) in out.iter_mut().zip(&block[2..34]) {
                    *o = f32::from(q as i8) * d;
                }
            }
        }
    }

    /// Dequantizes whole blocks: `out.len()` must be `blocks.len() / block_bytes × QK`.
    pub fn dequantize(self, blocks: &[u8], out: &mut [f32]) {
        for (block, chunk) in blocks
            .chunks_exact(self.block_bytes())
            .zip(out.chunks_exact_mut(QK))
        {
            let chunk: &mut [f32; QK] = chunk.try_into().expect("chunks of QK");
            self.dequantize_block(block, chunk);
        }
    }
}

/// The f32 value of an IEEE binary16 (exact: every f16 is an f32).
pub fn f16_to_f32(bits: u16) -> f32 {
    let sign = u32::from(bits >> 15) << 31;
    let exponent = u32::from((bits >> 10) & 0x1f);
    let mantissa = u32::from(bits & 0x3ff);
    let magnitude = match (exponent, mantissa) {
        (0, 0) => 0,
        // Subnormal: mantissa · 2^-24, normalized into f32.
        (0, _) => {
            let shift = mantissa.leading_zeros() - 21;
            ((113 - shift) << 23) | ((mantissa << shift) & 0x3ff) << 13
        }
        (0x1f, _) => 0x7f80_0000 | mantissa << 13,
        _ => (exponent + 112) << 23 | mantissa << 13,
    };
    f32::from_bits(sign | magnitude)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every f16 against a reference decoding by arithmetic.
    #[test]
    fn f16_every_value() {
        for bits in 0..=u16::MAX {
            let e = i32::from((bits >> 10) & 0x1f);
            let m = f64::from(bits & 0x3ff);
            let sign = if bits >> 15 == 1 { -1.0 } else { 1.0 };
            let got = f16_to_f32(bits);
            let want = match e {
                0 => sign * m * 2f64.powi(-24),
                31 if m == 0.0 => sign * f64::INFINITY,
                31 => {
                    assert!(got.is_nan(), "{bits:#06x}");
                    assert_eq!(got.to_bits() & 0x3ff << 13, u32::from(bits & 0x3ff) << 13);
                    continue;
                }
                _ => sign * (1.0 + m / 1024.0) * 2f64.powi(e - 15),
            };
            assert_eq!(got, want as f32, "{bits:#06x}");
            assert_eq!(got.is_sign_negative(), bits >> 15 == 1, "{bits:#06x}");
        }
    }

    #[test]
    fn blocks_dequantize_as_the_table_says() {
        // d = 0.5 (0x3800), m = -1 (0xbc00), nibbles 0..15 low and 15..0 high.
        let mut q4 = [0u8; 20];
        q4[..4].copy_from_slice(&[0x00, 0x38, 0x00, 0xbc]);
        for i in 0..16 {
            q4[4 + i] = (i as u8) | ((15 - i as u8) << 4);
        }
        let mut out = [0f32; QK];
        BlockFormat::Q4_1.dequantize_block(&q4, &mut out);
        for i in 0..16 {
            assert_eq!(out[i], i as f32 * 0.5 - 1.0);
            assert_eq!(out[i + 16], (15 - i) as f32 * 0.5 - 1.0);
        }
        let mut q8 = [0u8; 34];
        q8[..2].copy_from_slice(&[0x00, 0x40]); // d = 2
        for i in 0..32 {
            q8[2 + i] = (i as i8 - 16) as u8;
        }
        BlockFormat::Q8_0.dequantize_block(&q8, &mut out);
        for (i, v) in out.iter().enumerate() {
            assert_eq!(*v, (i as f32 - 16.0) * 2.0);
        }
        assert_eq!(BlockFormat::Q4_1.row_bytes(576), Some(360));
        assert_eq!(BlockFormat::Q8_0.row_bytes(33), None);
    }
}
