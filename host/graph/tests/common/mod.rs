//! Seeded inputs for any model, shared by the tests and the `alpha` example.
// Each user takes what it needs.
#![allow(dead_code)]

use opml_dnn::{DType, Model, Op};

/// SplitMix64: a seeded, dependency-free source of inputs.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    /// The next 64 random bits.
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// A random input for `model`: f32 in [-1, 1) (any bit pattern, NaNs included, if `raw`), i8
/// anything, i32 ids below the smallest embedding table that reads them (or below 4).
pub(crate) fn random_input(model: &Model<'_>, rng: &mut Rng, raw: bool) -> Vec<u8> {
    let mut bytes = Vec::new();
    for &t in model.inputs() {
        let info = model.tensor(t).expect("a graph input is a tensor");
        let rows = model
            .nodes()
            .iter()
            .filter(|n| *n.op() == Op::Embedding && n.inputs()[0] == t)
            .filter_map(|n| model.tensor(n.inputs()[1]))
            .map(|table| u64::from(table.shape.dims()[0]))
            .min()
            .unwrap_or(4);
        for _ in 0..info.shape.count() {
            let r = rng.next();
            match info.dtype {
                DType::F32 if raw => bytes.extend_from_slice(&(r as u32).to_le_bytes()),
                DType::F32 => {
                    let x = (r >> 40) as f32 / (1u32 << 23) as f32 - 1.0;
                    bytes.extend_from_slice(&x.to_le_bytes());
                }
                DType::I8 => bytes.push(r as u8),
                DType::I32 => bytes.extend_from_slice(&((r % rows) as i32).to_le_bytes()),
                DType::Q4_1 | DType::Q8_0 => unreachable!("block dtypes are constants"),
            }
        }
    }
    bytes
}
