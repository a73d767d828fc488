//! The fast path against the proving path in the VM: for every committed model (the MNIST
//! models in both dtypes, the sklearn models) and `ops.opml` (every op in both dtypes), on
//! seeded random inputs, every state `S(j)` of the native executor equals the output of the
//! node step program re-doing step `j` in the VM from `S(j − 1)`, with the data oracle served
//! from the run's preimages. Wrong inputs are refused alike on both paths.

use std::path::{Path, PathBuf};

use opml_dnn::phase::Refusal;
use opml_dnn::{AlignedBytes, DType, Model};
use opml_graph::GraphPhase;
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

/// SplitMix64.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// A random input for `model`: f32 in [-2, 2) (or any bit pattern if `raw`), i8 anything,
/// i32 ids below 4 (every embedding table has at least 4 rows).
fn input(file: &[u8], rng: &mut Rng, raw: bool) -> Vec<u8> {
    let file = AlignedBytes::from_slice(file);
    let model = Model::parse(&file).unwrap();
    let mut bytes = Vec::new();
    for &t in model.inputs() {
        let info = model.tensor(t).unwrap();
        for _ in 0..info.shape.count() {
            let r = rng.next();
            match info.dtype {
                DType::F32 if raw => bytes.extend_from_slice(&(r as u32).to_le_bytes()),
                DType::F32 => {
                    let x = (r >> 40) as f32 / (1u64 << 24) as f32 * 4.0 - 2.0;
                    bytes.extend_from_slice(&x.to_le_bytes());
                }
                DType::I8 => bytes.push(r as u8),
                DType::I32 => bytes.extend_from_slice(&((r % 4) as i32).to_le_bytes()),
            }
        }
    }
    bytes
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
