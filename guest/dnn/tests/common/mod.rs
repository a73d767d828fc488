//! Models and file surgery shared by the integration tests.
// Each test crate uses a different subset of these helpers.
#![allow(dead_code)]

use opml_dnn::ops::quantize_multiplier;
use opml_dnn::{
    AlignedBytes, Conv, DType, Epilogue, Model, ModelBuilder, ModelError, Op, Pool, Quant, Shape,
    Tensor, TensorInfo,
};
use sha2::Digest;

pub(crate) fn info(dtype: DType, dims: &[u32], quant: Quant) -> TensorInfo {
    TensorInfo {
        dtype,
        shape: Shape::new(dims).unwrap(),
        quant,
    }
}

pub(crate) fn f32_info(dims: &[u32]) -> TensorInfo {
    info(DType::F32, dims, Quant::default())
}

pub(crate) fn q(scale: f32, zero_point: i32) -> Quant {
    Quant { scale, zero_point }
}

pub(crate) const F32_LAYER: Epilogue = Epilogue {
    requant: None,
    relu: false,
};

/// Tensors of [`mlp`], by index.
pub(crate) mod mlp_t {
    pub(crate) const X: u32 = 0;
    pub(crate) const W1: u32 = 1;
    pub(crate) const B1: u32 = 2;
    pub(crate) const H: u32 = 3;
    pub(crate) const HQ: u32 = 4;
    pub(crate) const WQ: u32 = 5;
    pub(crate) const BQ: u32 = 6;
    pub(crate) const YQ: u32 = 7;
    pub(crate) const Y: u32 = 8;
    pub(crate) const ARGMAX: u32 = 9;
}

/// A two-layer MLP, the first layer f32 and the second quantized:
/// x (1, 4) → Dense+ReLU → h (1, 3) → Quantize → Dense i8 → Dequantize → y (1, 2) → Argmax.
/// Outputs: y, argmax. With x = [1, 2, 3, 4]: h = [1.5, 2, 0], hq = [20, 30, -10],
/// acc = [210, -25], yq = [5, 3], y = [0.2, 0], argmax 0.
pub(crate) fn mlp() -> AlignedBytes {
    let mut b = ModelBuilder::new();
    let x = b.input(f32_info(&[1, 4]));
    let w1 = Tensor::f32(
        &[3, 4],
        vec![1., 0., 0., 0., 0., 1., 0., 0., -1., -1., 0., 0.],
    );
    let w1 = b.constant(&w1.unwrap());
    let b1 = b.constant(&Tensor::f32(&[3], vec![0.5, 0., 0.]).unwrap());
    let relu = Epilogue {
        requant: None,
        relu: true,
    };
    let h = b.node(Op::Dense(relu), &[x, w1, b1], f32_info(&[1, 3]));
    let hq_quant = q(0.05, -10);
    let hq = b.node(Op::Quantize, &[h], info(DType::I8, &[1, 3], hq_quant));
    let wq = Tensor::i8(&[2, 3], vec![1, 2, 3, -2, 1, 0], q(0.02, 0)).unwrap();
    let wq = b.constant(&wq);
    let bq = Tensor::i32(&[2], vec![100, -5])
        .unwrap()
        .with_quant(q(0.001, 0));
    let bq = b.constant(&bq);
    let requant = quantize_multiplier(0.05 * 0.02 / 0.1);
    let epilogue = Epilogue {
        requant,
        relu: false,
    };
    let yq = b.node(
        Op::Dense(epilogue),
        &[hq, wq, bq],
        info(DType::I8, &[1, 2], q(0.1, 3)),
    );
    let y = b.node(Op::Dequantize, &[yq], f32_info(&[1, 2]));
    let am = b.node(Op::Argmax, &[y], info(DType::I32, &[1], Quant::default()));
    b.output(y);
    b.output(am);
    b.finish()
}

/// A small CNN on a (1, 1, 6, 6) image: Conv2d 3×3 pad 1 + ReLU (2 channels), MaxPool 2×2,
/// Quantize, Conv2d i8 (stride 1, pad 1), AvgPool i8 3×3, Dequantize, Reshape (1, 2),
/// Dense (3), Softmax, Argmax. Outputs: the softmax and the argmax.
pub(crate) fn cnn() -> AlignedBytes {
    let mut b = ModelBuilder::new();
    let x = b.input(f32_info(&[1, 1, 6, 6]));
    let w = (0..18).map(|i| ((i % 7) as f32 - 3.0) * 0.25).collect();
    let w = b.constant(&Tensor::f32(&[2, 1, 3, 3], w).unwrap());
    let bias = b.constant(&Tensor::f32(&[2], vec![0.1, -0.2]).unwrap());
    let conv = Conv {
        stride_h: 1,
        stride_w: 1,
        pad_h: 1,
        pad_w: 1,
    };
    let relu = Epilogue {
        requant: None,
        relu: true,
    };
    let c1 = b.node(
        Op::Conv2d(conv, relu),
        &[x, w, bias],
        f32_info(&[1, 2, 6, 6]),
    );
    let pool = Pool {
        kernel_h: 2,
        kernel_w: 2,
        stride_h: 2,
        stride_w: 2,
    };
    let p1 = b.node(Op::MaxPool2d(pool), &[c1], f32_info(&[1, 2, 3, 3]));
    let act = q(0.05, -20);
    let p1q = b.node(Op::Quantize, &[p1], info(DType::I8, &[1, 2, 3, 3], act));
    let wq = (0..36).map(|i| (i * 37 % 255 - 127) as i8 / 4).collect();
    let wq = b.constant(&Tensor::i8(&[2, 2, 3, 3], wq, q(0.01, 0)).unwrap());
    let qconv = Epilogue {
        requant: quantize_multiplier(0.05 * 0.01 / 0.04),
        relu: false,
    };
    let out = q(0.04, 7);
    let c2 = b.node(
        Op::Conv2d(conv, qconv),
        &[p1q, wq],
        info(DType::I8, &[1, 2, 3, 3], out),
    );
    let avg = Pool {
        kernel_h: 3,
        kernel_w: 3,
        stride_h: 1,
        stride_w: 1,
    };
    let p2 = b.node(
        Op::AvgPool2d(avg),
        &[c2],
        info(DType::I8, &[1, 2, 1, 1], out),
    );
    let p2f = b.node(Op::Dequantize, &[p2], f32_info(&[1, 2, 1, 1]));
    let flat = b.node(Op::Reshape, &[p2f], f32_info(&[1, 2]));
    let wd = b.constant(&Tensor::f32(&[3, 2], vec![1., -1., 0.5, 0.5, -1., 2.]).unwrap());
    let logits = b.node(Op::Dense(F32_LAYER), &[flat, wd], f32_info(&[1, 3]));
    let probs = b.node(Op::Softmax, &[logits], f32_info(&[1, 3]));
    let am = b.node(
        Op::Argmax,
        &[probs],
        info(DType::I32, &[1], Quant::default()),
    );
    b.output(probs);
    b.output(am);
    b.finish()
}

/// Parses `bytes` from a 16-aligned copy.
pub(crate) fn parse(bytes: &[u8]) -> Result<(), ModelError> {
    Model::parse(&AlignedBytes::from_slice(bytes)).map(|_| ())
}

pub(crate) fn read_u32(bytes: &[u8], offset: usize) -> u32 {
    u32::from_le_bytes(bytes[offset..offset + 4].try_into().unwrap())
}

pub(crate) fn write_u32(bytes: &mut [u8], offset: usize, value: u32) {
    bytes[offset..offset + 4].copy_from_slice(&value.to_le_bytes());
}

/// Rewrites the trailing checksum.
pub(crate) fn reseal(bytes: &mut [u8]) {
    let body = bytes.len() - 32;
    let digest = sha2::Sha256::digest(&bytes[..body]);
    bytes[body..].copy_from_slice(&digest);
}

/// Header field offsets (docs/dnn.md, "File format").
pub(crate) mod header {
    pub(crate) const VERSION: usize = 8;
    pub(crate) const FLAGS: usize = 12;
    pub(crate) const NODE_COUNT: usize = 20;
    pub(crate) const TENSORS_OFFSET: usize = 32;
    pub(crate) const NODES_OFFSET: usize = 36;
    pub(crate) const INPUTS_OFFSET: usize = 40;
    pub(crate) const DATA_OFFSET: usize = 48;
    pub(crate) const DATA_LEN: usize = 52;
}

/// Byte offset of tensor entry `t`.
pub(crate) fn tensor_entry(bytes: &[u8], t: u32) -> usize {
    read_u32(bytes, header::TENSORS_OFFSET) as usize + 48 * t as usize
}

/// Byte offset of node entry `n`.
pub(crate) fn node_entry(bytes: &[u8], n: u32) -> usize {
    read_u32(bytes, header::NODES_OFFSET) as usize + 56 * n as usize
}

/// Inputs of the declared dtypes and shapes, every element `fill` (ids 0).
pub(crate) fn filled_inputs(model: &Model<'_>, fill: f32) -> Vec<Tensor> {
    model
        .inputs()
        .iter()
        .map(|&t| {
            let info = model.tensor(t).unwrap();
            let n = info.shape.count();
            let data = match info.dtype {
                DType::F32 => vec![fill; n].into(),
                DType::I8 => vec![fill as i8; n].into(),
                DType::I32 => vec![0; n].into(),
                DType::Q4_1 | DType::Q8_0 => unreachable!("block dtypes are constants"),
            };
            Tensor::new(info.shape, data)
                .unwrap()
                .with_quant(info.quant)
        })
        .collect()
}
