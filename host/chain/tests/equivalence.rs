//! The Solidity step verifier, run on the embedded EVM, against the Rust VM: every step of the
//! example guests and of random programs, and a sample of a long run. Each step is proved by the
//! VM and verified by the contract; the post-state must be the VM's state hash. A mismatch
//! panics with replayable calldata and a forge test.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use opml_chain::contracts::{StepVerifierEvm, decode_error, replay_report};
use opml_chain::{EvmError, TxGas};
use opml_methods::{
    CODEC_BENCH_ELF, DATA_WALK_ELF, ECHO_ELF, GUESTS_BUILT, HASHBENCH_ELF, SYSCALLS_ELF,
};
use opml_proof::StepWitness;
use opml_state::Hash;
use opml_tests::RandomProgram;
use opml_vm::{Machine, Preimage, Preimages};

/// Checks steps on the EVM and keeps statistics.
struct Harness {
    evm: StepVerifierEvm,
    steps: u64,
    max_gas: TxGas,
    evm_time: Duration,
}

impl Harness {
    fn new() -> Harness {
        Harness {
            evm: StepVerifierEvm::new().expect("deploy the step verifier"),
            steps: 0,
            max_gas: TxGas {
                execution: 0,
                cancun: 0,
                prague: 0,
            },
            evm_time: Duration::ZERO,
        }
    }

    /// Verifies `witness` on the EVM; its post-state must be `expected`.
    fn check(&mut self, label: &str, witness: &StepWitness, expected: Hash) {
        let state_data = witness.state_data();
        let proof = witness.encode_proof();
        let start = Instant::now();
        let result = self.evm.step(&state_data, &proof);
        self.evm_time += start.elapsed();
        self.steps += 1;
        match result {
            Ok(outcome) if outcome.post == expected => {
                let gas = &mut self.max_gas;
                gas.execution = gas.execution.max(outcome.gas.execution);
                gas.cancun = gas.cancun.max(outcome.gas.cancun);
                gas.prague = gas.prague.max(outcome.gas.prague);
            }
            result => {
                let got = match result {
                    Ok(outcome) => format!("post-state 0x{}", hex::encode(outcome.post)),
                    Err(err) => err.to_string(),
                };
                panic!(
                    "EVM MISMATCH in {label} at step {} (pc {:#010x}): the VM says 0x{}, the EVM \
                     {got}\n{}",
                    witness.state.step,
                    witness.state.pc,
                    hex::encode(expected),
                    replay_report(&state_data, &proof, &expected)
                );
            }
        }
    }

    /// Checks every step of `machine`'s run (at most `max_steps`), then the halted fixed point.
    fn run(&mut self, label: &str, mut machine: Machine, max_steps: u64) -> u64 {
        let start = machine.step_count();
        let prove = |machine: &mut Machine| {
            machine
                .prove_step()
                .unwrap_or_else(|err| panic!("{label}: {err}"))
        };
        while !machine.status().is_halted() && machine.step_count() - start < max_steps {
            let witness = prove(&mut machine);
            let expected = machine.state_hash();
            self.check(label, &witness, expected);
        }
        assert!(machine.status().is_halted(), "{label} did not halt");
        let witness = prove(&mut machine);
        let expected = machine.state_hash();
        self.check(label, &witness, expected);
        machine.step_count() - start
    }

    fn report(&self, label: &str, wall: Duration) {
        eprintln!(
            "{label}: {} steps verified on the EVM in {:.2?} ({:.0} steps/s, EVM alone {:.0} \
             steps/s); max gas: execution {}, tx {} (Cancun) / {} (Prague)",
            self.steps,
            wall,
            self.steps as f64 / wall.as_secs_f64(),
            self.steps as f64 / self.evm_time.as_secs_f64(),
            self.max_gas.execution,
            self.max_gas.cancun,
            self.max_gas.prague
        );
    }
}

fn guests() {
    if !GUESTS_BUILT {
        panic!("the example guests were not built (OPML_SKIP_GUEST_BUILD is set)");
    }
}

fn load(elf: &[u8], input: Vec<u8>) -> Machine {
    Machine::load(elf, input).expect("load")
}

#[test]
fn vectors_verify_on_the_evm() {
    let start = Instant::now();
    let mut harness = Harness::new();
    for vector in common::vectors::vectors() {
        harness.check(&vector.name, &vector.witness, vector.post);
    }
    harness.report("vectors", start.elapsed());
}

#[test]
fn example_guests_every_step() {
    guests();
    let start = Instant::now();
    let mut harness = Harness::new();
    let request = echo::Request {
        text: "opml on the EVM".into(),
        numbers: vec![3, -1, 4, 1, -5, 9],
    };
    harness.run(
        "echo typed",
        load(ECHO_ELF, echo::typed_input(&request).unwrap()),
        u64::MAX,
    );
    harness.run(
        "echo raw",
        load(ECHO_ELF, echo::raw_input(b"raw bytes, reversed")),
        u64::MAX,
    );
    harness.run(
        "syscalls normal",
        load(SYSCALLS_ELF, syscalls::normal_input(42, b"some data")),
        u64::MAX,
    );
    for mode in [
        syscalls::mode::PANIC,
        syscalls::mode::OUT_OF_MEMORY,
        syscalls::mode::EBREAK,
        syscalls::mode::ILLEGAL_INSTRUCTION,
        syscalls::mode::MISALIGNED_LOAD,
        syscalls::mode::MISALIGNED_STORE,
        syscalls::mode::MISALIGNED_JUMP,
        syscalls::mode::BAD_INPUT,
    ] {
        harness.run(
            &format!("syscalls mode {mode}"),
            load(SYSCALLS_ELF, vec![mode]),
            u64::MAX,
        );
    }
    let input = hashbench::Input {
        iterations: 3,
        seed: [7; 32],
    };
    harness.run(
        "hashbench",
        load(HASHBENCH_ELF, opml_codec::encode(&input).unwrap()),
        u64::MAX,
    );
    let payload = codec_bench::payload(16, codec_bench::Values::Full);
    let postcard = opml_codec::encode(&payload).unwrap();
    harness.run(
        "codec-bench",
        load(
            CODEC_BENCH_ELF,
            codec_bench::input(codec_bench::mode::SDK_ROUNDTRIP, &postcard).unwrap(),
        ),
        u64::MAX,
    );
    harness.report("example guests", start.elapsed());
}

/// A guest that reads through the data oracle: every step of `data-walk` over a tree of 8
/// leaves (15 preimages, each read as two `preimage` steps), through the contract.
#[test]
fn data_oracle_guest_every_step() {
    guests();
    let start = Instant::now();
    let mut harness = Harness::new();
    let leaves: Vec<Preimage> = (0..8u8)
        .map(|leaf| std::array::from_fn(|i| leaf.wrapping_mul(41) ^ i as u8))
        .collect();
    let mut preimages = Preimages::new();
    let root = preimages.insert_tree(&leaves);
    let input = opml_codec::encode(&data_walk::Request { root, depth: 3 }).unwrap();
    let mut machine = load(DATA_WALK_ELF, input);
    machine.set_preimages(Arc::new(preimages));
    let steps = harness.run("data-walk", machine, u64::MAX);
    assert!(steps > 1000, "only {steps} steps");
    // The preimage steps cost what the gas table says: at most 85,000 per transaction.
    assert!(
        harness.max_gas.cancun <= 85_000,
        "{:?}",
        harness.max_gas.cancun
    );
    harness.report("data-walk", start.elapsed());
}

/// The node step program of the graph phase, in lockstep with the contract over complete runs:
/// every step of `graph-step` re-doing the int8 MLP's last node and its finish step (reading
/// the node, its tensors and the outputs through the data oracle).
#[test]
fn node_step_program_every_step() {
    guests();
    let start = Instant::now();
    let mut harness = Harness::new();
    let file = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../toolchain/model/models/mlp-int8.opml"
    ))
    .unwrap();
    let input: Vec<u8> = (0..784u32)
        .flat_map(|i| (i as f32 / 784.0).to_le_bytes())
        .collect();
    let phase = opml_graph::GraphPhase::new(&file, &input).unwrap();
    let m = phase.step_count();
    for j in [m - 1, m] {
        let mut machine = load(opml_graph::STEP_PROGRAM_ELF, phase.step_input(j).to_vec());
        machine.set_preimages(Arc::new(phase.preimages(j)));
        let steps = harness.run(&format!("graph-step {j}"), machine, u64::MAX);
        assert!(steps > 10_000, "step {j}: only {steps} steps");
    }
    assert!(
        harness.max_gas.cancun <= 85_000,
        "{:?}",
        harness.max_gas.cancun
    );
    harness.report("graph-step", start.elapsed());
}

#[test]
fn random_programs_every_step() {
    let start = Instant::now();
    let mut harness = Harness::new();
    for seed in 0..60 {
        let program = RandomProgram::new(seed, 120).program();
        let machine = Machine::from_program(&program, Vec::new()).expect("load");
        harness.run(&format!("random program {seed}"), machine, 1 << 20);
    }
    harness.report("random programs", start.elapsed());
}

/// 10,000 steps drawn at random from a run of more than 10^8 steps, verified in ascending
/// order by one machine walking forward.
#[test]
fn sampled_steps_of_a_long_run() {
    guests();
    let start = Instant::now();
    let input = opml_codec::encode(&hashbench::Input {
        iterations: 20_500,
        seed: [1; 32],
    })
    .unwrap();
    let mut machine = load(HASHBENCH_ELF, input.clone());
    machine.run(u64::MAX);
    let total = machine.step_count();
    assert!(total > 100_000_000, "the run has only {total} steps");

    // splitmix64
    let mut state = 0x0123_4567_89ab_cdefu64;
    let mut next = || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let mut samples: Vec<u64> = (0..10_000).map(|_| next() % total).collect();
    samples.extend([0, total - 1, total]);
    samples.sort_unstable();
    samples.dedup();

    let mut harness = Harness::new();
    let mut machine = load(HASHBENCH_ELF, input);
    for &step in &samples {
        machine.run(step - machine.step_count());
        let witness = machine.prove_step().expect("hashbench reads no preimage");
        let expected = machine.state_hash();
        harness.check("hashbench (20,500 iterations)", &witness, expected);
    }
    assert!(machine.status().is_halted());
    assert!(harness.steps >= 10_000);
    harness.report(
        &format!("sampled steps of a {total}-step run"),
        start.elapsed(),
    );
}

/// A tampered proof or pre-state reverts with the contract's named error, as the Rust verifier
/// rejects it.
#[test]
fn tampered_steps_revert_with_named_errors() {
    let vectors = common::vectors::vectors();
    let mut evm = StepVerifierEvm::new().expect("deploy");
    let vector = vectors.iter().find(|v| v.name == "lw").expect("lw vector");
    let state_data = vector.witness.state_data();
    let proof = vector.witness.encode_proof();

    let mut bad_leaf = proof.clone();
    bad_leaf[proof.len() - 1] ^= 1;
    let mut long = proof.clone();
    long.push(0);
    let read = vectors
        .iter()
        .find(|v| v.name == "preimage_half1")
        .expect("preimage vector");
    let mut bad_preimage = read.witness.encode_proof();
    let last = bad_preimage.len() - 1;
    bad_preimage[last] ^= 0x80;
    for (what, state, proof) in [
        ("a sibling flipped", state_data.to_vec(), bad_leaf),
        (
            "a preimage byte flipped",
            read.witness.state_data().to_vec(),
            bad_preimage,
        ),
        ("a byte too many", state_data.to_vec(), long),
        (
            "a byte too few",
            state_data.to_vec(),
            proof[..proof.len() - 1].to_vec(),
        ),
        ("a short state", state_data[..280].to_vec(), proof.clone()),
    ] {
        let rust = opml_proof::verify_step(&state, &proof);
        assert!(rust.is_err(), "{what}: the Rust verifier accepts it");
        match evm.step(&state, &proof) {
            Err(EvmError::Revert { error, data, .. }) => {
                let name = error.unwrap_or_else(|| panic!("{what}: undecoded revert {data}"));
                eprintln!("{what}: Rust `{}`, EVM `{name}`", rust.unwrap_err());
                assert_eq!(decode_error(&data).as_deref(), Some(name.as_str()));
            }
            other => panic!("{what}: expected a revert, got {other:?}"),
        }
    }
}
