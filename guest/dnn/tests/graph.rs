//! The executor end to end (a quantized MLP and a CNN), single nodes, commitments and f32
//! determinism.

mod common;

use common::*;
use opml_dnn::ops::{self, LinearF32, Pool2dDims};
use opml_dnn::{
    AlignedBytes, Data, DnnError, Model, ModelBuilder, Op, Tensor, TensorRef, chain_next,
    chain_start, commitments, run, run_node, run_observed,
};

fn mlp_input() -> Vec<Tensor> {
    vec![Tensor::f32(&[1, 4], vec![1.0, 2.0, 3.0, 4.0]).unwrap()]
}

/// Every node's output, in order.
fn trace(model: &Model<'_>, inputs: &[Tensor]) -> Vec<Tensor> {
    let mut outputs = Vec::new();
    run_observed(model, inputs, |_, t| outputs.push(t.clone())).unwrap();
    outputs
}

#[test]
fn mlp_matches_the_hand_computation() {
    let file = mlp();
    let model = Model::parse(&file).unwrap();
    let nodes = trace(&model, &mlp_input());
    assert_eq!(nodes[0].data(), &Data::F32(vec![1.5, 2.0, 0.0]));
    assert_eq!(nodes[1].data(), &Data::I8(vec![20, 30, -10]));
    assert_eq!(nodes[1].quant(), q(0.05, -10));
    assert_eq!(nodes[2].data(), &Data::I8(vec![5, 3]));
    let outputs = run(&model, &mlp_input()).unwrap();
    assert_eq!(outputs[0].data(), &Data::F32(vec![0.2, 0.0]));
    assert_eq!(outputs[1].data(), &Data::I32(vec![0]));
    assert_eq!(outputs[1].shape().dims(), [1]);
}

#[test]
fn cnn_matches_the_kernels_composed_by_hand() {
    let file = cnn();
    let model = Model::parse(&file).unwrap();
    let pixels: Vec<f32> = (0..36).map(|i| ((i * 7 % 11) as f32 - 5.0) / 4.0).collect();
    let input = vec![Tensor::f32(&[1, 1, 6, 6], pixels.clone()).unwrap()];
    let nodes = trace(&model, &input);
    assert_eq!(nodes.len(), 10);

    // The first two nodes again, straight from the kernels and the model's constants.
    let constant = |t| model.constant(t).unwrap().values::<f32>().unwrap();
    let dims = ops::Conv2dDims {
        n: 1,
        c: 1,
        h: 6,
        w: 6,
        o: 2,
        kh: 3,
        kw: 3,
        stride_h: 1,
        stride_w: 1,
        pad_h: 1,
        pad_w: 1,
    };
    let conv = ops::conv2d(
        &LinearF32 { relu: true },
        &pixels,
        constant(1),
        Some(constant(2)),
        &dims,
    );
    assert_eq!(nodes[0].values::<f32>().unwrap(), conv);
    let pool = Pool2dDims {
        n: 1,
        c: 2,
        h: 6,
        w: 6,
        kh: 2,
        kw: 2,
        stride_h: 2,
        stride_w: 2,
    };
    assert_eq!(
        nodes[1].values::<f32>().unwrap(),
        ops::max_pool2d(&conv, &pool)
    );

    let outputs = run(&model, &input).unwrap();
    let probs = outputs[0].values::<f32>().unwrap();
    assert!((probs.iter().sum::<f32>() - 1.0).abs() < 1e-6);
    let best = ops::argmax(probs, 3)[0];
    assert_eq!(outputs[1].values::<i32>(), Some(&[best][..]));
}

#[test]
fn run_node_redoes_each_node_alone() {
    for file in [mlp(), cnn()] {
        let model = Model::parse(&file).unwrap();
        let inputs = filled_inputs(&model, 0.75);
        let nodes = trace(&model, &inputs);
        for (index, node) in model.nodes().iter().enumerate() {
            // The node's non-constant inputs: a graph input or an earlier node's output.
            let given: Vec<TensorRef<'_>> = node
                .inputs()
                .iter()
                .filter(|&&t| model.constant(t).is_none())
                .map(|&t| match model.inputs().iter().position(|&i| i == t) {
                    Some(position) => inputs[position].as_ref(),
                    None => {
                        let producer = model.nodes().iter().position(|n| n.output() == t);
                        nodes[producer.unwrap()].as_ref()
                    }
                })
                .collect();
            let alone = run_node(&model, index, &given).unwrap();
            assert_eq!(alone.hash(), nodes[index].hash(), "node {index}");
        }
    }
}

#[test]
fn run_node_checks_its_arguments() {
    let file = mlp();
    let model = Model::parse(&file).unwrap();
    let x = &mlp_input()[0];
    assert_eq!(
        run_node(&model, 5, &[x.as_ref()]),
        Err(DnnError::NodeIndex(5))
    );
    assert_eq!(
        run_node(&model, 0, &[]),
        Err(DnnError::InputCount {
            expected: 1,
            got: 0
        })
    );
    let wide = Tensor::f32(&[1, 5], vec![0.0; 5]).unwrap();
    assert_eq!(
        run_node(&model, 0, &[wide.as_ref()]),
        Err(DnnError::Input { index: 0 })
    );
    let ids = Tensor::i32(&[1, 4], vec![0; 4]).unwrap();
    assert_eq!(
        run_node(&model, 0, &[ids.as_ref()]),
        Err(DnnError::Input { index: 0 })
    );
}

#[test]
fn run_checks_the_graph_inputs() {
    let file = mlp();
    let model = Model::parse(&file).unwrap();
    assert_eq!(
        run(&model, &[]),
        Err(DnnError::InputCount {
            expected: 1,
            got: 0
        })
    );
    let transposed = Tensor::f32(&[4, 1], vec![0.0; 4]).unwrap();
    assert_eq!(
        run(&model, &[transposed]),
        Err(DnnError::Input { index: 0 })
    );
}

#[test]
fn embedding_ids_out_of_range_are_an_error() {
    let mut b = ModelBuilder::new();
    let ids = b.input(info(opml_dnn::DType::I32, &[2], Default::default()));
    let table = b.constant(&Tensor::f32(&[3, 2], vec![0.0; 6]).unwrap());
    let out = b.node(Op::Embedding, &[ids, table], f32_info(&[2, 2]));
    b.output(out);
    let file = b.finish();
    let model = Model::parse(&file).unwrap();
    let run_ids = |ids: Vec<i32>| run(&model, &[Tensor::i32(&[2], ids).unwrap()]);
    assert!(run_ids(vec![2, 0]).is_ok());
    assert_eq!(
        run_ids(vec![0, 3]),
        Err(DnnError::EmbeddingId { id: 3, vocab: 3 })
    );
    assert_eq!(
        run_ids(vec![-1, 0]),
        Err(DnnError::EmbeddingId { id: -1, vocab: 3 })
    );
}

#[test]
fn graph_outputs_may_be_any_tensor() {
    let mut b = ModelBuilder::new();
    let x = b.input(f32_info(&[2]));
    let c = b.constant(&Tensor::f32(&[2], vec![1.0, 2.0]).unwrap());
    let y = b.node(Op::Add, &[x, c], f32_info(&[2]));
    // y is also read after it is final; the unread product is dropped at once.
    let z = b.node(Op::Mul, &[y, y], f32_info(&[2]));
    b.node(Op::Mul, &[z, z], f32_info(&[2]));
    for t in [y, x, c, z] {
        b.output(t);
    }
    let file = b.finish();
    let model = Model::parse(&file).unwrap();
    let outputs = run(&model, &[Tensor::f32(&[2], vec![10.0, 20.0]).unwrap()]).unwrap();
    let values: Vec<&[f32]> = outputs.iter().map(|t| t.values().unwrap()).collect();
    assert_eq!(
        values,
        [
            &[11.0, 22.0][..],
            &[10.0, 20.0],
            &[1.0, 2.0],
            &[121.0, 484.0]
        ]
    );
}

#[test]
fn commitments_chain_the_node_outputs() {
    let file = mlp();
    let model = Model::parse(&file).unwrap();
    let inputs = mlp_input();
    let chain = commitments(&model, &inputs).unwrap();
    assert_eq!(chain.len(), model.nodes().len() + 1);
    assert_eq!(chain[0], chain_start(model.checksum(), &[inputs[0].hash()]));
    for (i, output) in trace(&model, &inputs).iter().enumerate() {
        assert_eq!(chain[i + 1], chain_next(&chain[i], &output.hash()));
    }
    // The spec's formulas, spelled out.
    use sha2::Digest;
    let mut c0 = sha2::Sha256::new();
    c0.update(b"opml-dnn");
    c0.update(model.checksum());
    c0.update(inputs[0].hash());
    assert_eq!(chain[0], <[u8; 32]>::from(c0.finalize()));
    let x = &inputs[0];
    let mut head = vec![0u8, 2];
    for d in [1u32, 4, 1, 1] {
        head.extend_from_slice(&d.to_le_bytes());
    }
    let data: Vec<u8> = [1.0f32, 2.0, 3.0, 4.0]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    assert_eq!(
        x.hash(),
        <[u8; 32]>::from(sha2::Sha256::digest([head, data].concat()))
    );
}

#[test]
fn commitments_change_with_every_input_byte() {
    let file = mlp();
    let model = Model::parse(&file).unwrap();
    let base = commitments(&model, &mlp_input()).unwrap();
    for byte in 0..16 {
        let mut values = [1.0f32, 2.0, 3.0, 4.0];
        let mut bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        bytes[byte] ^= 1;
        for (v, chunk) in values.iter_mut().zip(bytes.chunks(4)) {
            *v = f32::from_le_bytes(chunk.try_into().unwrap());
        }
        let input = Tensor::f32(&[1, 4], values.to_vec()).unwrap();
        let chain = commitments(&model, &[input]).unwrap();
        // C(0) covers the input itself, so every later commitment differs too.
        assert!(base.iter().zip(&chain).all(|(a, b)| a != b), "byte {byte}");
    }
}

#[test]
fn commitments_change_with_every_constant_byte() {
    let file = mlp();
    let base = commitments(&Model::parse(&file).unwrap(), &mlp_input()).unwrap();
    let model = Model::parse(&file).unwrap();
    let data_offset = read_u32(&file, header::DATA_OFFSET) as usize;
    let start = file.as_ptr().addr();
    for t in 0..model.tensor_count() as u32 {
        let Some(constant) = model.constant(t) else {
            continue;
        };
        let offset = constant.data().bytes().as_ptr().addr() - start;
        assert!(offset >= data_offset);
        for byte in offset..offset + constant.data().bytes().len() {
            let mut edited = AlignedBytes::from_slice(&file);
            edited[byte] ^= 0x10;
            reseal(&mut edited);
            let model = Model::parse(&edited).unwrap();
            let chain = commitments(&model, &mlp_input()).unwrap();
            assert_ne!(chain[0], base[0], "constant {t}, byte {byte}");
        }
    }
}

#[test]
fn node_commitments_follow_a_changed_intermediate() {
    // Zeroing the first layer's output changes C(1) and everything after it.
    let file = mlp();
    let model = Model::parse(&file).unwrap();
    let nodes = trace(&model, &mlp_input());
    let chain = commitments(&model, &mlp_input()).unwrap();
    let zero = Tensor::f32(&[1, 3], vec![0.0, 0.0, -0.0]).unwrap();
    assert_ne!(zero.hash(), nodes[0].hash());
    assert_ne!(chain_next(&chain[0], &zero.hash()), chain[1]);
    // −0.0 and +0.0 are different bytes, so different hashes.
    let positive = Tensor::f32(&[1, 3], vec![0.0; 3]).unwrap();
    assert_ne!(zero.hash(), positive.hash());
}

#[test]
fn f32_runs_are_deterministic_and_nans_canonical() {
    let file = cnn();
    let model = Model::parse(&file).unwrap();
    // Inputs with NaNs of every payload and sign, infinities and signed zeros.
    let specials = [
        f32::from_bits(0xffc0_0001),
        f32::from_bits(0x7f80_0001),
        f32::INFINITY,
        f32::NEG_INFINITY,
        -0.0,
        0.0,
        f32::MIN_POSITIVE,
        f32::MAX,
        -1.5,
    ];
    let pixels: Vec<f32> = (0..36).map(|i| specials[i % specials.len()]).collect();
    let input = [Tensor::f32(&[1, 1, 6, 6], pixels).unwrap()];
    let first = trace(&model, &input);
    let second = trace(&model, &input);
    let hashes = |ts: &[Tensor]| ts.iter().map(Tensor::hash).collect::<Vec<_>>();
    assert_eq!(hashes(&first), hashes(&second));
    for output in &first {
        if let Some(values) = output.values::<f32>() {
            for v in values.iter().filter(|v| v.is_nan()) {
                assert_eq!(v.to_bits(), 0x7fc0_0000);
            }
        }
    }
    assert!(first[0].values::<f32>().unwrap().iter().any(|v| v.is_nan()));
}
