//! The `.opml` reader and writer: roundtrips, one refusal per [`ModelError`] variant, and
//! random files that must never panic.

mod common;

use common::*;
use opml_dnn::ops::Requant;
use opml_dnn::{
    AlignedBytes, Conv, DType, Epilogue, MAGIC, Model, ModelBuilder, ModelError, Op, Pool, Quant,
    Region, Shape, Tensor, TensorKind, run,
};
use proptest::prelude::*;

#[test]
fn roundtrip_keeps_tensors_nodes_and_constants() {
    let file = mlp();
    assert_eq!(file[..8], MAGIC);
    assert_eq!(file.as_ptr().addr() % 16, 0);
    let model = Model::parse(&file).unwrap();
    assert_eq!(model.tensor_count(), 10);
    assert_eq!(model.inputs(), [mlp_t::X]);
    assert_eq!(model.outputs(), [mlp_t::Y, mlp_t::ARGMAX]);
    assert_eq!(model.kind(mlp_t::X), Some(TensorKind::Input));
    assert_eq!(model.kind(mlp_t::W1), Some(TensorKind::Constant));
    assert_eq!(model.kind(mlp_t::H), Some(TensorKind::NodeOutput));
    assert_eq!(model.kind(10), None);
    let hq = model.tensor(mlp_t::HQ).unwrap();
    assert_eq!(
        (hq.dtype, hq.shape.dims(), hq.quant),
        (DType::I8, &[1, 3][..], q(0.05, -10))
    );

    let wq = model.constant(mlp_t::WQ).unwrap();
    assert_eq!(wq.values::<i8>(), Some(&[1, 2, 3, -2, 1, 0][..]));
    assert_eq!(wq.quant(), q(0.02, 0));
    let b1 = model.constant(mlp_t::B1).unwrap();
    assert_eq!(b1.values::<f32>(), Some(&[0.5, 0.0, 0.0][..]));
    // Zero-copy: the constant lies inside the file buffer.
    assert!(file.as_ptr_range().contains(&b1.data().bytes().as_ptr()));
    assert!(model.constant(mlp_t::X).is_none());

    let ops: Vec<Op> = model.nodes().iter().map(|n| *n.op()).collect();
    assert_eq!(ops.len(), 5);
    assert_eq!(
        ops[0],
        Op::Dense(Epilogue {
            requant: None,
            relu: true
        })
    );
    assert!(matches!(
        ops[2],
        Op::Dense(Epilogue {
            requant: Some(_),
            relu: false
        })
    ));
    assert_eq!(ops[3..], [Op::Dequantize, Op::Argmax]);
    assert_eq!(model.nodes()[2].inputs(), [mlp_t::HQ, mlp_t::WQ, mlp_t::BQ]);
    assert_eq!(model.nodes()[2].output(), mlp_t::YQ);
}

#[test]
fn every_operator_roundtrips_with_its_parameters() {
    // One node per operator on inputs that fit it; the parsed ops equal the written ones.
    let f = |dims: &[u32]| f32_info(dims);
    let i8q = q(0.5, 1);
    let i8_info = |dims: &[u32]| info(DType::I8, dims, i8q);
    let mut b = ModelBuilder::new();
    let img = b.input(f(&[1, 2, 4, 4]));
    let qimg = b.input(i8_info(&[1, 2, 4, 4]));
    let ids = b.input(info(DType::I32, &[3], Quant::default()));
    let w = b.constant(&Tensor::f32(&[3, 2, 2, 2], vec![0.5; 24]).unwrap());
    let wq = b.constant(&Tensor::i8(&[3, 2, 2, 2], vec![1; 24], q(0.25, 0)).unwrap());
    let bq = b.constant(&Tensor::i32(&[3], vec![7; 3]).unwrap());
    let v4 = b.constant(&Tensor::f32(&[4], vec![1.0; 4]).unwrap());
    let m44 = b.constant(&Tensor::f32(&[4, 4], vec![0.25; 16]).unwrap());
    let table = b.constant(&Tensor::f32(&[5, 4], vec![2.0; 20]).unwrap());
    let conv = Conv {
        stride_h: 2,
        stride_w: 1,
        pad_h: 1,
        pad_w: 0,
    };
    let requant = Some(Requant { m0: 1 << 30, s: -3 });
    let pool = Pool {
        kernel_h: 2,
        kernel_w: 3,
        stride_h: 1,
        stride_w: 1,
    };
    let eps = 1e-5;
    let mut written = Vec::new();
    let mut node = |b: &mut ModelBuilder, op: Op, inputs: &[u32], out| {
        written.push(op);
        b.node(op, inputs, out)
    };
    let relu = Epilogue {
        requant: None,
        relu: true,
    };
    node(&mut b, Op::Conv2d(conv, relu), &[img, w], f(&[1, 3, 3, 3]));
    let qe = Epilogue {
        requant,
        relu: true,
    };
    node(
        &mut b,
        Op::Conv2d(conv, qe),
        &[qimg, wq, bq],
        i8_info(&[1, 3, 3, 3]),
    );
    node(&mut b, Op::MaxPool2d(pool), &[img], f(&[1, 2, 3, 2]));
    node(&mut b, Op::AvgPool2d(pool), &[qimg], i8_info(&[1, 2, 3, 2]));
    node(&mut b, Op::Relu, &[qimg], i8_info(&[1, 2, 4, 4]));
    node(&mut b, Op::Gelu, &[img], f(&[1, 2, 4, 4]));
    node(&mut b, Op::Silu, &[img], f(&[1, 2, 4, 4]));
    node(&mut b, Op::Softmax, &[img], f(&[1, 2, 4, 4]));
    node(
        &mut b,
        Op::Argmax,
        &[qimg],
        info(DType::I32, &[1, 2, 4], Quant::default()),
    );
    node(
        &mut b,
        Op::LayerNorm { eps },
        &[img, v4, v4],
        f(&[1, 2, 4, 4]),
    );
    node(&mut b, Op::RmsNorm { eps }, &[img, v4], f(&[1, 2, 4, 4]));
    let emb = node(&mut b, Op::Embedding, &[ids, table], f(&[3, 4]));
    node(&mut b, Op::Add, &[img, v4], f(&[1, 2, 4, 4]));
    node(&mut b, Op::Mul, &[emb, emb], f(&[3, 4]));
    node(&mut b, Op::MatMul, &[img, m44], f(&[1, 2, 4, 4]));
    node(&mut b, Op::Dense(F32_LAYER), &[emb, m44, v4], f(&[3, 4]));
    node(&mut b, Op::Reshape, &[img], f(&[32]));
    node(&mut b, Op::Quantize, &[img], i8_info(&[1, 2, 4, 4]));
    let last = node(&mut b, Op::Dequantize, &[qimg], f(&[1, 2, 4, 4]));
    b.output(last);
    let file = b.finish();
    let model = Model::parse(&file).unwrap();
    let read: Vec<Op> = model.nodes().iter().map(|n| *n.op()).collect();
    assert_eq!(read, written);
    let codes: Vec<u16> = read.iter().map(Op::code).collect();
    let mut sorted = codes.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted, (1..=18).collect::<Vec<u16>>());

    let inputs = filled_inputs(&model, 1.0);
    assert_eq!(run(&model, &inputs).unwrap().len(), 1);
}

#[test]
fn params_pack_the_list_for_the_input_dtype() {
    let relu = Epilogue {
        requant: None,
        relu: true,
    };
    assert_eq!(Op::Dense(relu).params(), [1, 0, 0, 0, 0, 0, 0, 0]);
    let quantized = Epilogue {
        requant: Some(Requant { m0: 1 << 30, s: -2 }),
        relu: true,
    };
    assert_eq!(
        Op::Dense(quantized).params(),
        [1 << 30, -2, 1, 0, 0, 0, 0, 0]
    );
    let conv = Conv {
        stride_h: 1,
        stride_w: 2,
        pad_h: 3,
        pad_w: 4,
    };
    assert_eq!(
        Op::Conv2d(conv, quantized).params(),
        [1, 2, 3, 4, 1 << 30, -2, 1, 0]
    );
    assert_eq!(Op::RmsNorm { eps: 1.0 }.params()[0], 0x3f80_0000);
    assert_eq!(Op::Softmax.params(), [0; 8]);
}

/// Parses a copy of [`mlp`] after `edit`, resealed when `seal` is set.
fn refuse(edit: impl FnOnce(&mut [u8]), seal: bool) -> ModelError {
    let mut file = mlp();
    edit(&mut file);
    if seal {
        reseal(&mut file);
    }
    parse(&file).unwrap_err()
}

/// Parses [`mlp`] with the u32 at `offset(file)` set to `value`, resealed.
fn refuse_u32(offset: impl FnOnce(&[u8]) -> usize, value: u32) -> ModelError {
    refuse(
        |f| {
            let at = offset(f);
            write_u32(f, at, value);
        },
        true,
    )
}

/// Byte offset of field `at` of tensor entry `t` / node entry `n` of [`mlp`].
fn tensor_field(t: u32, at: usize) -> impl FnOnce(&[u8]) -> usize {
    move |f| tensor_entry(f, t) + at
}

fn node_field(n: u32, at: usize) -> impl FnOnce(&[u8]) -> usize {
    move |f| node_entry(f, n) + at
}

/// Tensor entry fields: dtype/rank/kind/reserved at 0, dims at 4, offset 20, len 24, scale 28.
const DIMS: usize = 4;
const OFFSET: usize = 20;
const LEN: usize = 24;
const SCALE: usize = 28;
/// Node entry fields: op at 0, inputs at 4, output 20, params 24.
const INPUTS: usize = 4;
const OUTPUT: usize = 20;
const PARAMS: usize = 24;

#[test]
fn refuses_too_short() {
    let file = mlp();
    assert_eq!(parse(&file[..95]), Err(ModelError::TooShort(95)));
    assert_eq!(parse(&[]), Err(ModelError::TooShort(0)));
}

#[test]
fn refuses_bad_magic() {
    assert_eq!(refuse(|f| f[7] = b'X', false), ModelError::BadMagic);
}

#[test]
fn refuses_version() {
    assert_eq!(refuse_u32(|_| header::VERSION, 2), ModelError::Version(2));
}

#[test]
fn refuses_checksum() {
    assert_eq!(refuse(|f| f[100] ^= 1, false), ModelError::Checksum);
    assert_eq!(
        refuse(|f| *f.last_mut().unwrap() ^= 1, false),
        ModelError::Checksum
    );
}

#[test]
fn refuses_reserved() {
    assert_eq!(
        refuse_u32(|_| header::FLAGS, 1),
        ModelError::Reserved { offset: 12 }
    );
    assert_eq!(refuse_u32(|_| 60, 1), ModelError::Reserved { offset: 60 });
    let entry = tensor_entry(&mlp(), 2);
    assert_eq!(
        refuse(|f| f[entry + 3] = 1, true),
        ModelError::Reserved { offset: entry + 3 }
    );
    assert_eq!(
        refuse(|f| f[entry + 47] = 1, true),
        ModelError::Reserved { offset: entry + 44 }
    );
    let node = node_entry(&mlp(), 1);
    assert_eq!(
        refuse(|f| f[node + 3] = 1, true),
        ModelError::Reserved { offset: node + 3 }
    );
}

#[test]
fn refuses_out_of_bounds() {
    let len = mlp().len() as u32;
    let tensors = refuse_u32(|_| header::TENSORS_OFFSET, len - 40);
    assert_eq!(tensors, ModelError::OutOfBounds(Region::Tensors));
    let inputs = refuse_u32(|_| header::INPUTS_OFFSET, 8);
    assert_eq!(inputs, ModelError::OutOfBounds(Region::Inputs));
    let data = refuse_u32(|_| header::DATA_LEN, u32::MAX);
    assert_eq!(data, ModelError::OutOfBounds(Region::Data));
}

#[test]
fn refuses_overlap() {
    let nodes_on_tensors = refuse(
        |f| {
            let tensors = read_u32(f, header::TENSORS_OFFSET);
            write_u32(f, header::NODES_OFFSET, tensors + 48);
        },
        true,
    );
    assert_eq!(
        nodes_on_tensors,
        ModelError::Overlap(Region::Tensors, Region::Nodes)
    );
    let data_on_nodes = refuse(
        |f| {
            let nodes = read_u32(f, header::NODES_OFFSET);
            write_u32(f, header::DATA_OFFSET, nodes.next_multiple_of(16));
        },
        true,
    );
    assert_eq!(
        data_on_nodes,
        ModelError::Overlap(Region::Nodes, Region::Data)
    );
}

#[test]
fn refuses_data_alignment() {
    let error = refuse(
        |f| {
            let offset = read_u32(f, header::DATA_OFFSET);
            write_u32(f, header::DATA_OFFSET, offset + 8);
            let len = read_u32(f, header::DATA_LEN);
            write_u32(f, header::DATA_LEN, len - 8);
        },
        true,
    );
    assert_eq!(error, ModelError::DataAlignment);
}

#[test]
fn refuses_buffer_alignment() {
    let file = mlp();
    let mut shifted = AlignedBytes::zeroed(file.len() + 4);
    shifted[4..].copy_from_slice(&file);
    assert_eq!(
        Model::parse(&shifted[4..]).unwrap_err(),
        ModelError::BufferAlignment
    );
    // The same bytes parse from an aligned buffer.
    assert!(parse(&shifted[4..]).is_ok());
}

#[test]
fn refuses_dtype() {
    let error = refuse(|f| f[tensor_entry(f, 1)] = 5, true);
    assert_eq!(error, ModelError::DType { tensor: 1, code: 5 });
}

#[test]
fn refuses_kind() {
    let error = refuse(|f| f[tensor_entry(f, 4) + 2] = 3, true);
    assert_eq!(error, ModelError::Kind { tensor: 4, code: 3 });
}

#[test]
fn refuses_shape() {
    let shape = ModelError::Shape { tensor: 1 };
    assert_eq!(refuse(|f| f[tensor_entry(f, 1) + 1] = 5, true), shape);
    // Rank 2 with a third dimension that is not 1.
    assert_eq!(refuse_u32(tensor_field(1, DIMS + 8), 2), shape);
    // A zero dimension.
    assert_eq!(refuse_u32(tensor_field(1, DIMS), 0), shape);
}

#[test]
fn refuses_length() {
    let length = ModelError::Length { tensor: 1 };
    assert_eq!(refuse_u32(tensor_field(1, LEN), 47), length);
    // 2^16 × 2^15 f32 elements: 2^33 bytes, past the limit (the len field cannot say it).
    let huge = refuse(
        |f| {
            let entry = tensor_entry(f, 1);
            write_u32(f, entry + DIMS, 1 << 16);
            write_u32(f, entry + DIMS + 4, 1 << 15);
            write_u32(f, entry + LEN, 0);
        },
        true,
    );
    assert_eq!(huge, length);
}

#[test]
fn refuses_quant() {
    let quant = ModelError::Quant { tensor: mlp_t::HQ };
    assert_eq!(refuse_u32(tensor_field(mlp_t::HQ, SCALE), 0), quant);
    assert_eq!(
        refuse_u32(tensor_field(mlp_t::HQ, SCALE), f32::NAN.to_bits()),
        quant
    );
    assert_eq!(refuse_u32(tensor_field(mlp_t::HQ, SCALE + 4), 128), quant);
}

#[test]
fn refuses_data_range() {
    let past_end = refuse(
        |f| {
            let len = read_u32(f, header::DATA_LEN);
            write_u32(
                f,
                tensor_entry(f, mlp_t::B1) + OFFSET,
                len.next_multiple_of(16),
            );
        },
        true,
    );
    assert_eq!(past_end, ModelError::DataRange { tensor: mlp_t::B1 });
    let input_with_data = refuse_u32(tensor_field(mlp_t::X, OFFSET), 16);
    assert_eq!(input_with_data, ModelError::DataRange { tensor: mlp_t::X });
}

#[test]
fn refuses_constant_alignment() {
    let error = refuse_u32(tensor_field(mlp_t::W1, OFFSET), 4);
    assert_eq!(error, ModelError::ConstantAlignment { tensor: mlp_t::W1 });
}

#[test]
fn refuses_constant_overlap() {
    // b1 (12 bytes) moved onto w1 (48 bytes, at 0).
    let error = refuse_u32(tensor_field(mlp_t::B1, OFFSET), 0);
    assert_eq!(error, ModelError::ConstantOverlap { tensor: mlp_t::W1 });
}

#[test]
fn refuses_op() {
    let error = refuse(|f| f[node_entry(f, 3)] = 99, true);
    assert_eq!(error, ModelError::Op { node: 3, code: 99 });
}

#[test]
fn refuses_inputs() {
    let inputs = ModelError::Inputs { node: 0 };
    assert_eq!(refuse(|f| f[node_entry(f, 0) + 2] = 0, true), inputs);
    assert_eq!(refuse(|f| f[node_entry(f, 0) + 2] = 5, true), inputs);
    // Dense with one input.
    let one = refuse(
        |f| {
            let node = node_entry(f, 0);
            f[node + 2] = 1;
            write_u32(f, node + INPUTS + 4, u32::MAX);
            write_u32(f, node + INPUTS + 8, u32::MAX);
        },
        true,
    );
    assert_eq!(one, inputs);
    // An unused slot that is not u32::MAX.
    assert_eq!(
        refuse_u32(node_field(3, INPUTS + 4), 0),
        ModelError::Inputs { node: 3 }
    );
}

#[test]
fn refuses_tensor_index() {
    let error = refuse_u32(node_field(1, INPUTS), 1000);
    assert_eq!(error, ModelError::TensorIndex { index: 1000 });
    let output = refuse_u32(node_field(1, OUTPUT), 10);
    assert_eq!(output, ModelError::TensorIndex { index: 10 });
    let graph_output = refuse_u32(|f| read_u32(f, 44) as usize, 77);
    assert_eq!(graph_output, ModelError::TensorIndex { index: 77 });
}

#[test]
fn refuses_undefined() {
    // Node 1 (Quantize) reads its own output; node 0 reads a later tensor.
    let own = refuse_u32(node_field(1, INPUTS), mlp_t::HQ);
    assert_eq!(
        own,
        ModelError::Undefined {
            node: 1,
            tensor: mlp_t::HQ
        }
    );
    let later = refuse_u32(node_field(0, INPUTS), mlp_t::Y);
    assert_eq!(
        later,
        ModelError::Undefined {
            node: 0,
            tensor: mlp_t::Y
        }
    );
}

#[test]
fn refuses_output_kind() {
    let constant = refuse_u32(node_field(1, OUTPUT), mlp_t::WQ);
    assert_eq!(
        constant,
        ModelError::OutputKind {
            node: 1,
            tensor: mlp_t::WQ
        }
    );
    let input = refuse_u32(node_field(0, OUTPUT), mlp_t::X);
    assert_eq!(
        input,
        ModelError::OutputKind {
            node: 0,
            tensor: mlp_t::X
        }
    );
}

#[test]
fn refuses_written_twice() {
    let error = refuse_u32(node_field(1, OUTPUT), mlp_t::H);
    assert_eq!(
        error,
        ModelError::WrittenTwice {
            node: 1,
            tensor: mlp_t::H
        }
    );
}

#[test]
fn refuses_params() {
    let params = |node| ModelError::Params { node };
    // relu = 2 (f32 Dense: params[0]); m0 below 2^30 and s = 32 (i8 Dense: params[0], [1]).
    assert_eq!(refuse_u32(node_field(0, PARAMS), 2), params(0));
    assert_eq!(refuse_u32(node_field(2, PARAMS), 12345), params(2));
    assert_eq!(refuse_u32(node_field(2, PARAMS + 4), 32), params(2));
    // A parameter the operator does not use.
    assert_eq!(refuse_u32(node_field(4, PARAMS + 28), 1), params(4));
}

#[test]
fn refuses_mismatch() {
    // w1 (3, 4) read as (4, 3): same size, but K no longer matches x.
    let error = refuse(
        |f| {
            let entry = tensor_entry(f, mlp_t::W1);
            write_u32(f, entry + DIMS, 4);
            write_u32(f, entry + DIMS + 4, 3);
        },
        true,
    );
    assert!(
        matches!(error, ModelError::Mismatch { node: 0, .. }),
        "{error:?}"
    );
    // The Dequantize output declared i32 (same byte size).
    let dtype = refuse(|f| f[tensor_entry(f, mlp_t::Y)] = 2, true);
    assert!(
        matches!(dtype, ModelError::Mismatch { node: 3, .. }),
        "{dtype:?}"
    );
    // The i8 weights with a zero point.
    let asymmetric = refuse_u32(tensor_field(mlp_t::WQ, SCALE + 4), 1);
    assert!(
        matches!(asymmetric, ModelError::Mismatch { node: 2, .. }),
        "{asymmetric:?}"
    );
}

#[test]
fn refuses_graph_input() {
    let not_input = refuse_u32(|f| read_u32(f, header::INPUTS_OFFSET) as usize, mlp_t::W1);
    assert_eq!(not_input, ModelError::GraphInput { tensor: mlp_t::W1 });
    // The input list emptied: tensor 0 is an input nobody lists.
    let unlisted = refuse_u32(|_| 24, 0);
    assert_eq!(unlisted, ModelError::GraphInput { tensor: mlp_t::X });
}

#[test]
fn refuses_unwritten() {
    // Drop the last node (Argmax): its output tensor is left unwritten.
    let error = refuse_u32(|_| header::NODE_COUNT, 4);
    assert_eq!(
        error,
        ModelError::Unwritten {
            tensor: mlp_t::ARGMAX
        }
    );
}

#[test]
fn shapes_check_their_dimensions() {
    assert!(Shape::new(&[1, 2, 3, 4]).is_ok());
    assert!(Shape::new(&[1, 2, 3, 4, 5]).is_err());
    assert!(Shape::new(&[3, 0]).is_err());
    assert!(Shape::new(&[1 << 16, 1 << 16]).is_err());
    let scalar = Shape::new(&[]).unwrap();
    assert_eq!(
        (scalar.rank(), scalar.count(), scalar.padded()),
        (0, 1, [1; 4])
    );
    assert_eq!(scalar, Shape::SCALAR);
}

/// Parses `bytes` and, if that succeeds, runs the model on filled inputs: neither may panic.
fn parse_and_run(bytes: &[u8]) {
    let buffer = AlignedBytes::from_slice(bytes);
    if let Ok(model) = Model::parse(&buffer) {
        for fill in [0.0, 1.0, -3.0, f32::NAN] {
            let _ = run(&model, &filled_inputs(&model, fill));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        parse_and_run(&bytes);
    }

    #[test]
    fn random_header_never_panics(words in proptest::collection::vec(any::<u32>(), 14), tail in 0usize..600) {
        let mut file = vec![0u8; 64 + tail + 32];
        file[..8].copy_from_slice(&MAGIC);
        for (i, w) in words.iter().enumerate() {
            write_u32(&mut file, 8 + 4 * i, *w);
        }
        write_u32(&mut file, 8, 1);
        reseal(&mut file);
        parse_and_run(&file);
    }

    #[test]
    fn mutated_models_never_panic(
        cnn_model in any::<bool>(),
        tables_only in any::<bool>(),
        edits in proptest::collection::vec((any::<usize>(), any::<u8>(), any::<bool>()), 1..6),
        seal in any::<bool>(),
    ) {
        let mut file = if cnn_model { cnn() } else { mlp() };
        // The tables (header to data) give valid but different graphs more often than the
        // whole body does.
        let end = if tables_only { read_u32(&file, header::DATA_OFFSET) as usize } else { file.len() - 32 };
        for (at, value, small) in edits {
            // Small values hit counts, ranks, codes and indices more often than random bytes.
            file[at % end] = if small { value % 8 } else { value };
        }
        if seal {
            reseal(&mut file);
        }
        parse_and_run(&file);
    }
}
