//! Every opml-dnn operation, native against the VM: random single-node models (every op, both
//! dtypes where it has them, random shapes, parameters and values, special f32 values
//! included) run natively and inside the VM by the `dnn-runner` guest. The graph commitments
//! `C(0..=n)` (which hash every intermediate tensor) and the output bytes must be identical.
//! The committed MNIST models run the same check on real digits, and the guest computes the
//! same model root as the host and the Python converter.

use opml_dnn::ops::quantize_multiplier;
use opml_dnn::{
    Conv, DType, Epilogue, Model, ModelBuilder, Op, Pool, Quant, Shape, Tensor, TensorInfo,
    chain_next, chain_start, run_observed,
};
use opml_tests::rng::Rng;
use opml_vm::Machine;

/// Random cases per operation form.
const CASES: usize = 12;

/// Special f32 values, drawn one time in eight.
const SPECIALS: [u32; 10] = [
    0x0000_0000, // +0
    0x8000_0000, // -0
    0x0000_0001, // smallest subnormal
    0x807f_ffff, // largest negative subnormal
    0x7f7f_ffff, // f32::MAX
    0xff7f_ffff, // -f32::MAX
    0x7f80_0000, // +inf
    0xff80_0000, // -inf
    0x7fa0_0001, // a signalling NaN with a payload
    0xffc0_1234, // a negative quiet NaN with a payload
];

struct Gen(Rng);

impl Gen {
    fn dim(&mut self, max: u32) -> u32 {
        1 + self.0.below(max)
    }

    fn f32s(&mut self, n: usize, specials: bool) -> Vec<f32> {
        (0..n)
            .map(|_| {
                if specials && self.0.one_in(8) {
                    f32::from_bits(self.0.pick(&SPECIALS))
                } else {
                    (self.0.next_u32() as i32 as f32) / (1u64 << 29) as f32
                }
            })
            .collect()
    }

    fn i8s(&mut self, n: usize) -> Vec<i8> {
        (0..n).map(|_| self.0.next_u32() as i8).collect()
    }

    fn quant(&mut self) -> Quant {
        Quant {
            scale: 0.01 + self.0.below(100) as f32 / 1000.0,
            zero_point: self.0.range(-20, 20),
        }
    }
}

fn info(dtype: DType, dims: &[u32], quant: Quant) -> TensorInfo {
    TensorInfo {
        dtype,
        shape: Shape::new(dims).expect("valid dims"),
        quant,
    }
}

fn f32_info(dims: &[u32]) -> TensorInfo {
    info(DType::F32, dims, Quant::default())
}

/// A random graph input of `info`, with special values if f32.
fn input(g: &mut Gen, info: &TensorInfo) -> Tensor {
    let n = info.shape.count();
    match info.dtype {
        DType::F32 => Tensor::f32(info.shape.dims(), g.f32s(n, true)),
        DType::I8 => Tensor::i8(info.shape.dims(), g.i8s(n), info.quant),
        DType::I32 => Tensor::i32(info.shape.dims(), vec![0; n]),
        DType::Q4_1 | DType::Q8_0 => unreachable!("block dtypes are constants"),
    }
    .expect("valid tensor")
}

/// One random single-node model of the form `form`, and its inputs.
fn case(g: &mut Gen, form: &str) -> (Vec<u8>, Vec<Tensor>) {
    let mut b = ModelBuilder::new();
    let mut inputs = Vec::new();
    let mut add_input = |b: &mut ModelBuilder, g: &mut Gen, info: TensorInfo| {
        inputs.push(input(g, &info));
        b.input(info)
    };
    let relu = g.0.one_in(2);
    let f32_layer = Epilogue {
        requant: None,
        relu,
    };
    let out = match form {
        "dense-f32" | "dense-i8" => {
            let (m, k, n) = (g.dim(3), g.dim(40), g.dim(12));
            if form == "dense-f32" {
                let x = add_input(&mut b, g, f32_info(&[m, k]));
                let w = b.constant(&Tensor::f32(&[n, k], g.f32s((n * k) as usize, false)).unwrap());
                let bias = b.constant(&Tensor::f32(&[n], g.f32s(n as usize, false)).unwrap());
                b.node(Op::Dense(f32_layer), &[x, w, bias], f32_info(&[m, n]))
            } else {
                let (qx, qw, qy) = (
                    g.quant(),
                    Quant {
                        zero_point: 0,
                        ..g.quant()
                    },
                    g.quant(),
                );
                let x = add_input(&mut b, g, info(DType::I8, &[m, k], qx));
                let w = b.constant(&Tensor::i8(&[n, k], g.i8s((n * k) as usize), qw).unwrap());
                let biases = (0..n).map(|_| g.0.range(-5000, 5000)).collect();
                let bias = Tensor::i32(&[n], biases).unwrap().with_quant(Quant {
                    scale: qx.scale * qw.scale,
                    zero_point: 0,
                });
                let bias = b.constant(&bias);
                let requant = quantize_multiplier(f64::from(qx.scale * qw.scale / qy.scale));
                let epilogue = Epilogue { requant, relu };
                b.node(
                    Op::Dense(epilogue),
                    &[x, w, bias],
                    info(DType::I8, &[m, n], qy),
                )
            }
        }
        "conv-f32" | "conv-i8" => {
            let (c, o) = (g.dim(3), g.dim(4));
            let (kh, kw) = (g.dim(3), g.dim(3));
            let (h, w) = (kh + g.dim(6), kw + g.dim(6));
            let conv = Conv {
                stride_h: g.dim(2),
                stride_w: g.dim(2),
                pad_h: g.0.below(kh),
                pad_w: g.0.below(kw),
            };
            let oh = (h + 2 * conv.pad_h - kh) / conv.stride_h + 1;
            let ow = (w + 2 * conv.pad_w - kw) / conv.stride_w + 1;
            let wn = (o * c * kh * kw) as usize;
            if form == "conv-f32" {
                let x = add_input(&mut b, g, f32_info(&[1, c, h, w]));
                let wt = b.constant(&Tensor::f32(&[o, c, kh, kw], g.f32s(wn, false)).unwrap());
                let bias = b.constant(&Tensor::f32(&[o], g.f32s(o as usize, false)).unwrap());
                b.node(
                    Op::Conv2d(conv, f32_layer),
                    &[x, wt, bias],
                    f32_info(&[1, o, oh, ow]),
                )
            } else {
                let (qx, qw, qy) = (
                    g.quant(),
                    Quant {
                        zero_point: 0,
                        ..g.quant()
                    },
                    g.quant(),
                );
                let x = add_input(&mut b, g, info(DType::I8, &[1, c, h, w], qx));
                let wt = b.constant(&Tensor::i8(&[o, c, kh, kw], g.i8s(wn), qw).unwrap());
                let requant = quantize_multiplier(f64::from(qx.scale * qw.scale / qy.scale));
                let epilogue = Epilogue { requant, relu };
                b.node(
                    Op::Conv2d(conv, epilogue),
                    &[x, wt],
                    info(DType::I8, &[1, o, oh, ow], qy),
                )
            }
        }
        "relu-f32" | "gelu" | "silu" | "softmax" => {
            let dims = [g.dim(3), g.dim(20)];
            let x = add_input(&mut b, g, f32_info(&dims));
            let op = match form {
                "relu-f32" => Op::Relu,
                "gelu" => Op::Gelu,
                "silu" => Op::Silu,
                _ => Op::Softmax,
            };
            b.node(op, &[x], f32_info(&dims))
        }
        "relu-i8" => {
            let dims = [g.dim(3), g.dim(20)];
            let quant = g.quant();
            let x = add_input(&mut b, g, info(DType::I8, &dims, quant));
            b.node(Op::Relu, &[x], info(DType::I8, &dims, quant))
        }
        "maxpool-f32" | "maxpool-i8" | "avgpool-f32" | "avgpool-i8" => {
            let pool = Pool {
                kernel_h: g.dim(3),
                kernel_w: g.dim(3),
                stride_h: g.dim(2),
                stride_w: g.dim(2),
            };
            let (c, h, w) = (g.dim(3), pool.kernel_h + g.dim(6), pool.kernel_w + g.dim(6));
            let out = [
                1,
                c,
                (h - pool.kernel_h) / pool.stride_h + 1,
                (w - pool.kernel_w) / pool.stride_w + 1,
            ];
            let op = if form.starts_with("max") {
                Op::MaxPool2d(pool)
            } else {
                Op::AvgPool2d(pool)
            };
            if form.ends_with("f32") {
                let x = add_input(&mut b, g, f32_info(&[1, c, h, w]));
                b.node(op, &[x], f32_info(&out))
            } else {
                let quant = g.quant();
                let x = add_input(&mut b, g, info(DType::I8, &[1, c, h, w], quant));
                b.node(op, &[x], info(DType::I8, &out, quant))
            }
        }
        "argmax-f32" | "argmax-i8" => {
            let (m, d) = (g.dim(4), g.dim(12));
            let x = if form.ends_with("f32") {
                add_input(&mut b, g, f32_info(&[m, d]))
            } else {
                let quant = g.quant();
                add_input(&mut b, g, info(DType::I8, &[m, d], quant))
            };
            b.node(Op::Argmax, &[x], info(DType::I32, &[m], Quant::default()))
        }
        "layernorm" | "rmsnorm" => {
            let (m, d) = (g.dim(3), g.dim(24));
            let x = add_input(&mut b, g, f32_info(&[m, d]));
            let gamma = b.constant(&Tensor::f32(&[d], g.f32s(d as usize, false)).unwrap());
            let eps = 1e-5;
            if form == "layernorm" {
                let beta = b.constant(&Tensor::f32(&[d], g.f32s(d as usize, false)).unwrap());
                b.node(Op::LayerNorm { eps }, &[x, gamma, beta], f32_info(&[m, d]))
            } else {
                b.node(Op::RmsNorm { eps }, &[x, gamma], f32_info(&[m, d]))
            }
        }
        "embedding" => {
            let (v, d, n) = (g.dim(16), g.dim(8), g.dim(6));
            let ids: Vec<i32> = (0..n).map(|_| g.0.below(v) as i32).collect();
            let ids_info = info(DType::I32, &[n], Quant::default());
            inputs.push(Tensor::i32(&[n], ids).unwrap());
            let x = b.input(ids_info);
            let table = b.constant(&Tensor::f32(&[v, d], g.f32s((v * d) as usize, true)).unwrap());
            b.node(Op::Embedding, &[x, table], f32_info(&[n, d]))
        }
        "add" | "mul" => {
            let (m, d) = (g.dim(4), g.dim(16));
            let x = add_input(&mut b, g, f32_info(&[m, d]));
            let broadcast = g.0.one_in(2);
            let y_dims: &[u32] = if broadcast { &[d] } else { &[m, d] };
            let y = add_input(&mut b, g, f32_info(y_dims));
            let op = if form == "add" { Op::Add } else { Op::Mul };
            b.node(op, &[x, y], f32_info(&[m, d]))
        }
        "matmul" => {
            let (m, k, n) = (g.dim(5), g.dim(24), g.dim(6));
            let a = add_input(&mut b, g, f32_info(&[m, k]));
            let w = b.constant(&Tensor::f32(&[k, n], g.f32s((k * n) as usize, false)).unwrap());
            b.node(Op::MatMul, &[a, w], f32_info(&[m, n]))
        }
        "reshape" => {
            let (m, d) = (g.dim(4), g.dim(8));
            let x = add_input(&mut b, g, f32_info(&[m, d]));
            b.node(Op::Reshape, &[x], f32_info(&[m * d]))
        }
        "quantize" => {
            let dims = [g.dim(4), g.dim(16)];
            let x = add_input(&mut b, g, f32_info(&dims));
            let quant = g.quant();
            b.node(Op::Quantize, &[x], info(DType::I8, &dims, quant))
        }
        "dequantize" => {
            let dims = [g.dim(4), g.dim(16)];
            let quant = g.quant();
            let x = add_input(&mut b, g, info(DType::I8, &dims, quant));
            b.node(Op::Dequantize, &[x], f32_info(&dims))
        }
        other => panic!("unknown form {other}"),
    };
    b.output(out);
    (b.finish().to_vec(), inputs)
}

/// What the runner commits, computed natively with the same library.
fn native(model: &[u8], inputs: &[Tensor]) -> Vec<u8> {
    let file = opml_dnn::AlignedBytes::from_slice(model);
    let model = Model::parse(&file).expect("the model parses");
    let hashes: Vec<_> = inputs.iter().map(Tensor::hash).collect();
    let mut chain = vec![chain_start(model.checksum(), &hashes)];
    let outputs = run_observed(&model, inputs, |_, out| {
        let next = chain_next(chain.last().unwrap(), &out.hash());
        chain.push(next);
    })
    .expect("the model runs");
    let mut bytes = model.root().to_vec();
    bytes.extend_from_slice(&(chain.len() as u32).to_le_bytes());
    bytes.extend_from_slice(chain.as_flattened());
    for out in &outputs {
        bytes.extend_from_slice(out.as_ref().data().bytes());
    }
    bytes
}

/// What the runner commits in the VM, and its step count.
fn in_vm(model: &[u8], inputs: &[Tensor]) -> (Vec<u8>, u64) {
    let input = dnn_runner::input(model, inputs);
    let mut machine = Machine::load(opml_methods::DNN_RUNNER_ELF, input).expect("loads");
    let status = machine.run(1 << 32);
    assert_eq!(status, opml_vm::ExitStatus::Exited(0), "the runner exits 0");
    (machine.output().to_vec(), machine.step_count())
}

#[test]
fn every_operation_is_bit_identical_native_and_in_the_vm() {
    let forms = [
        "dense-f32",
        "dense-i8",
        "conv-f32",
        "conv-i8",
        "relu-f32",
        "relu-i8",
        "gelu",
        "silu",
        "maxpool-f32",
        "maxpool-i8",
        "avgpool-f32",
        "avgpool-i8",
        "softmax",
        "argmax-f32",
        "argmax-i8",
        "layernorm",
        "rmsnorm",
        "embedding",
        "add",
        "mul",
        "matmul",
        "reshape",
        "quantize",
        "dequantize",
    ];
    let mut g = Gen(Rng::new(0x6f70_6d6c_646e_6e00));
    let mut steps = 0;
    for form in forms {
        for case_index in 0..CASES {
            let (model, inputs) = case(&mut g, form);
            let expected = native(&model, &inputs);
            let (got, n) = in_vm(&model, &inputs);
            steps += n;
            assert_eq!(
                got, expected,
                "{form} case {case_index}: the VM differs from native"
            );
        }
    }
    eprintln!("{} cases, {steps} VM steps", forms.len() * CASES);
}

#[test]
fn the_mnist_guest_is_bit_identical_on_real_digits() {
    let mut correct = 0;
    let mut total = 0;
    for model in mnist::Model::SMALL {
        for index in 0..8 {
            let (label, pixels) = mnist::digit(index).expect("a held-out digit");
            let native = mnist::classify(model, pixels).expect("classifies");
            let mut machine =
                Machine::load(opml_methods::MNIST_ELF, mnist::input(model, pixels)).expect("loads");
            let status = machine.run(1 << 32);
            assert_eq!(status, opml_vm::ExitStatus::Exited(0));
            assert_eq!(
                machine.output(),
                native.encode(),
                "{} digit {index}: the VM differs from native",
                model.name()
            );
            // The generic runner computes the same commitment chain on the same model.
            let file = opml_dnn::AlignedBytes::from_slice(model.file());
            let parsed = Model::parse(&file).expect("parses");
            let dims = parsed.tensor(parsed.inputs()[0]).expect("an input").shape;
            let x: Vec<f32> = pixels.iter().map(|&p| f32::from(p) / 255.0).collect();
            let x = Tensor::f32(dims.dims(), x).expect("784 pixels");
            let runner = native_runner_commitment(model.file(), x);
            assert_eq!(runner, native.commitment, "{} digit {index}", model.name());
            correct += usize::from(native.class == label);
            total += 1;
        }
    }
    // Real digits, never trained on: the models are right on most of them.
    assert!(correct * 10 >= total * 9, "{correct}/{total} correct");
}

/// `C(n)` of the dnn-runner's native computation.
fn native_runner_commitment(model: &[u8], x: Tensor) -> opml_dnn::Hash {
    let file = opml_dnn::AlignedBytes::from_slice(model);
    let parsed = Model::parse(&file).expect("parses");
    let output = dnn_runner::Output::parse(&parsed, &native(model, &[x])).expect("fits");
    *output.commitments.last().expect("C(0) at least")
}

#[test]
fn the_guest_computes_the_model_root_of_every_committed_model() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../toolchain/model");
    // The roots the Python converter computed (one `"root": "<hex>"` per committed model).
    let roots = std::fs::read_to_string(dir.join("reference/roots.json")).unwrap();
    for name in ["mlp", "mlp-int8", "cnn", "cnn-int8"] {
        let bytes = std::fs::read(dir.join(format!("models/{name}.opml"))).unwrap();
        let file = opml_dnn::AlignedBytes::from_slice(&bytes);
        let model = Model::parse(&file).expect("parses");
        let dims = model.tensor(model.inputs()[0]).expect("an input").shape;
        let inputs = vec![Tensor::f32(dims.dims(), vec![0.5; 784]).expect("784 pixels")];
        let (got, steps) = in_vm(&bytes, &inputs);
        let output = dnn_runner::Output::parse(&model, &got).expect("the runner's output fits");
        assert_eq!(
            output.root,
            model.root(),
            "{name}: the guest's root is the host's"
        );
        let hex: String = output.root.iter().map(|b| format!("{b:02x}")).collect();
        assert!(
            roots.contains(&format!("\"root\": \"{hex}\"")),
            "{name}: root {hex} is not the converter's"
        );
        assert_eq!(got, native(&bytes, &inputs), "{name}");
        eprintln!("{name}: root {hex}, {steps} VM steps");
    }
}
