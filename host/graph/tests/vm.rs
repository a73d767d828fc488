//! The fast path against the proving path in the VM: for every committed model (the MNIST
//! models in both dtypes, the sklearn models) and `ops.opml` (every op in both dtypes), on
//! seeded random inputs, every state `S(j)` of the native executor equals the output of the
//! node step program re-doing step `j` in the VM from `S(j − 1)`, with the data oracle served
//! from the run's preimages; and the same on random graphs (DAGs of f32 and int8 layers,
//! activations, norms, residual adds reading any earlier tensor). Wrong inputs are refused
//! alike on both paths.

use std::path::{Path, PathBuf};

use opml_dnn::ops::quantize_multiplier;
use opml_dnn::phase::Refusal;
use opml_dnn::{
    AlignedBytes, DType, Epilogue, Model, ModelBuilder, Op, Quant, Shape, Tensor, TensorInfo,
};
use opml_graph::GraphPhase;

mod common;

use common::{Rng, random_input};
use opml_vm::ExitStatus;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every committed `.opml` file.
fn models() -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    for dir in ["toolchain/model/models", "toolchain/model/reference"] {
        for entry in std::fs::read_dir(root().join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().and_then(|e| e.to_str()) == Some("opml") {
                files.push((path.display().to_string(), std::fs::read(&path).unwrap()));
            }
        }
    }
    files.sort();
    assert!(files.len() >= 7, "only {} models", files.len());
    files
}

/// A seeded random input for the model in `file`.
fn input(file: &[u8], rng: &mut Rng, raw: bool) -> Vec<u8> {
    random_input(
        &Model::parse(&AlignedBytes::from_slice(file)).unwrap(),
        rng,
        raw,
    )
}

/// Re-does every step of `phase` in the VM; returns the most instructions a step took.
fn check_in_the_vm(name: &str, phase: &GraphPhase) -> u64 {
    let mut most = 0;
    for j in 1..=phase.run().step_count() + 1 {
        let step = phase.vm_step(j, 1 << 32).unwrap();
        assert_eq!(step.status, ExitStatus::Exited(0), "{name}: step {j}");
        assert_eq!(step.output, phase.state(j), "{name}: S({j})");
        most = most.max(step.steps);
    }
    most
}

#[test]
fn every_step_of_every_model_is_the_same_in_the_vm() {
    let mut rng = Rng(20261202);
    for (name, file) in models() {
        for raw in [false, true] {
            let input = input(&file, &mut rng, raw);
            let phase = GraphPhase::new(&file, &input).unwrap();
            assert_eq!(phase.run().refusal(), None, "{name}");
            check_in_the_vm(&name, &phase);
        }
    }
}

#[test]
fn a_refused_input_is_refused_in_the_vm_too() {
    let (name, file) = models().swap_remove(0);
    let mut input = input(&file, &mut Rng(7), false);
    input.push(0);
    let phase = GraphPhase::new(&file, &input).unwrap();
    assert_eq!(phase.run().refusal(), Some(Refusal::InputLength));
    check_in_the_vm(&name, &phase);
}

#[test]
fn a_faulty_run_differs_from_the_vm_exactly_at_its_fault() {
    let (name, file) = models().swap_remove(0);
    let input = input(&file, &mut Rng(9), false);
    let k = 1;
    let liar = GraphPhase::with_fault(&file, &input, k).unwrap();
    let honest = GraphPhase::new(&file, &input).unwrap();
    let j = u64::from(k) + 2;
    assert_eq!(liar.state(j - 1), honest.state(j - 1), "{name}");
    assert_ne!(liar.state(j), honest.state(j));
    // From the agreed state the VM computes the honest state, not the liar's.
    let step = liar.vm_step(j, 1 << 32).unwrap();
    assert_eq!(step.output, honest.state(j));
    // After the fault the liar's run is consistent: each of its later steps holds in the VM.
    let step = liar.vm_step(j + 1, 1 << 32).unwrap();
    assert_eq!(step.output, liar.state(j + 1));
}

/// A random graph over `[1, d]` rows: each node reads a random earlier tensor (and, for the
/// binary ops, another of its shape), so slots anywhere in the values tree are read; one or
/// two graph outputs.
fn random_graph(rng: &mut Rng) -> Vec<u8> {
    let d = 4 + (rng.next() % 20) as u32;
    let f32_row = |n: u32| TensorInfo {
        dtype: DType::F32,
        shape: Shape::new(&[1, n]).unwrap(),
        quant: Quant::default(),
    };
    let weights = |rng: &mut Rng, count: usize| -> Vec<f32> {
        (0..count)
            .map(|_| (rng.next() % 2001) as f32 / 1000.0 - 1.0)
            .collect()
    };
    let mut b = ModelBuilder::new();
    let x = b.input(f32_row(d));
    // Earlier f32 tensors of shape [1, d].
    let mut rows = vec![x];
    let nodes = 4 + rng.next() % 8;
    for _ in 0..nodes {
        let a = rows[(rng.next() % rows.len() as u64) as usize];
        let other = rows[(rng.next() % rows.len() as u64) as usize];
        let out = match rng.next() % 9 {
            0 | 1 => {
                let w = Tensor::f32(&[d, d], weights(rng, (d * d) as usize)).unwrap();
                let w = b.constant(&w);
                let bias = b.constant(&Tensor::f32(&[d], weights(rng, d as usize)).unwrap());
                let e = Epilogue {
                    requant: None,
                    relu: rng.next().is_multiple_of(2),
                };
                b.node(Op::Dense(e), &[a, w, bias], f32_row(d))
            }
            2 => b.node(Op::Add, &[a, other], f32_row(d)),
            3 => b.node(Op::Mul, &[a, other], f32_row(d)),
            4 => b.node(Op::Gelu, &[a], f32_row(d)),
            5 => b.node(Op::Silu, &[a], f32_row(d)),
            6 => {
                let g = b.constant(&Tensor::f32(&[d], weights(rng, d as usize)).unwrap());
                b.node(Op::RmsNorm { eps: 1e-5 }, &[a, g], f32_row(d))
            }
            7 => {
                let g = b.constant(&Tensor::f32(&[d], weights(rng, d as usize)).unwrap());
                let beta = b.constant(&Tensor::f32(&[d], weights(rng, d as usize)).unwrap());
                b.node(Op::LayerNorm { eps: 1e-5 }, &[a, g, beta], f32_row(d))
            }
            _ => {
                // An int8 layer: quantize, i8 dense with requantization, dequantize.
                let act = Quant {
                    scale: 0.02,
                    zero_point: (rng.next() % 21) as i32 - 10,
                };
                let i8_row = TensorInfo {
                    dtype: DType::I8,
                    shape: Shape::new(&[1, d]).unwrap(),
                    quant: act,
                };
                let q = b.node(Op::Quantize, &[a], i8_row);
                let wq: Vec<i8> = (0..d * d).map(|_| (rng.next() % 255) as i8).collect();
                let wq = b.constant(
                    &Tensor::i8(
                        &[d, d],
                        wq,
                        Quant {
                            scale: 0.01,
                            zero_point: 0,
                        },
                    )
                    .unwrap(),
                );
                let out_q = Quant {
                    scale: 0.05,
                    zero_point: 3,
                };
                let e = Epilogue {
                    requant: quantize_multiplier(0.02 * 0.01 / 0.05),
                    relu: false,
                };
                let y = b.node(
                    Op::Dense(e),
                    &[q, wq],
                    TensorInfo {
                        quant: out_q,
                        ..i8_row
                    },
                );
                b.node(Op::Dequantize, &[y], f32_row(d))
            }
        };
        rows.push(out);
    }
    let last = rows[rows.len() - 1];
    b.output(last);
    if rng.next().is_multiple_of(2) {
        b.output(rows[(rng.next() % (rows.len() as u64 - 1)) as usize + 1]);
    }
    b.finish().to_vec()
}

#[test]
fn every_step_of_random_graphs_is_the_same_in_the_vm() {
    let mut rng = Rng(0x0c0ffee);
    let mut nodes = 0;
    for graph in 0..12 {
        let file = random_graph(&mut rng);
        let input = input(&file, &mut rng, false);
        let phase = GraphPhase::new(&file, &input).unwrap();
        assert_eq!(phase.run().refusal(), None, "graph {graph}");
        check_in_the_vm(&format!("random graph {graph}"), &phase);
        nodes += phase.step_count() - 2;
    }
    assert!(nodes >= 60, "only {nodes} nodes");
}

/// `step_groups` puts node steps alike but for their data (and a `Rope` position) together,
/// and `step_bound` covers every step's run with the group representatives' runs × 5/4 (here:
/// on every committed model, where it must be at least the exact longest step, and on a graph
/// of repeated layers, whose every step it checks against the bound).
#[test]
fn the_grouped_step_bound_covers_every_step() {
    for (name, file) in models().into_iter().take(3) {
        let input = input(&file, &mut Rng(11), false);
        let phase = GraphPhase::new(&file, &input).unwrap();
        let (longest, _) = phase.longest_step(1 << 32).unwrap();
        let bound = phase.step_bound(1 << 32).unwrap();
        assert!(bound.bound >= longest, "{name}: {bound:?} < {longest}");
        let nodes: usize = phase.step_groups().iter().map(Vec::len).sum();
        assert_eq!(nodes as u64, phase.step_count() - 2, "{name}");
    }

    // Ten times: a dense layer, rope at position p, add: five groups (the first dense layer and
    // add read the graph input, the others node outputs: another kind).
    let d = 8;
    let row = TensorInfo {
        dtype: DType::F32,
        shape: Shape::new(&[1, d]).unwrap(),
        quant: Quant::default(),
    };
    let mut b = ModelBuilder::new();
    let mut x = b.input(row);
    let w = b.constant(&Tensor::f32(&[d, d], vec![0.125; (d * d) as usize]).unwrap());
    for p in 0..10 {
        let e = Epilogue {
            requant: None,
            relu: false,
        };
        let y = b.node(Op::Dense(e), &[x, w], row);
        let rope = Op::Rope {
            head_dim: 4,
            position: p * 100,
            base: 10_000.0,
        };
        let y = b.node(rope, &[y], row);
        x = b.node(Op::Add, &[x, y], row);
    }
    b.output(x);
    let file = b.finish().to_vec();
    let input = input(&file, &mut Rng(12), false);
    let phase = GraphPhase::new(&file, &input).unwrap();
    let groups = phase.step_groups();
    assert_eq!(groups.len(), 5, "{groups:?}");
    assert_eq!(groups[1], (0..10).map(|p| 3 * p + 3).collect::<Vec<u64>>());
    let bound = phase.step_bound(1 << 32).unwrap();
    // Load, finish and one representative per group.
    assert_eq!((bound.groups, bound.redone), (5, 7));
    for j in 1..=phase.step_count() {
        let steps = phase.vm_step(j, 1 << 32).unwrap().steps;
        assert!(steps <= bound.bound, "step {j}: {steps} > {bound:?}");
    }
    // A limit below the bound is reported as reached.
    let low = phase.step_bound(bound.measured / 2).unwrap();
    assert!(low.bound >= bound.measured / 2);
}
