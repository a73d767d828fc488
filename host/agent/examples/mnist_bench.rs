//! MNIST benchmark: per built-in model, native inference time, VM instructions and VM wall time
//! per inference, and the wall time of a full opML challenge of a wrong answer on the embedded
//! EVM and on a local anvil.
//!
//! ```text
//! cargo run --release -p opml-agent --example mnist_bench
//! ```

use std::time::Instant;

use opml_agent::scenario::{self, Adversary, Scenario};
use opml_agent::{Conduct, Party, Program, RegistryConfig};
use opml_chain::{Anvil, Chain, EmbeddedChain};
use opml_game::PhaseConfig;

/// Inferences timed per model (natively and in the VM).
const RUNS: usize = 20;

fn challenge(chain: &mut dyn Chain, model: mnist::Model, pixels: &[u8], steps: u64) -> f64 {
    let truth = mnist::classify(model, pixels).expect("classifies");
    let wrong = mnist::Prediction {
        class: (truth.class + 1) % 10,
        ..truth
    };
    let total = 64 - steps.leading_zeros();
    let scenario = Scenario {
        program: Program::new(opml_methods::MNIST_ELF).expect("loads"),
        input: mnist::input(model, pixels),
        model: None,
        config: PhaseConfig::new(&[(total - 16) as u8, 8, 8]).expect("valid heights"),
        registry: RegistryConfig::default(),
        adversary: Some(Adversary {
            side: Party::Claimant,
            from_step: steps * 2 / 3,
            conduct: Conduct::Honest,
        }),
        claimed_output: Some(wrong.encode().to_vec()),
        late_join_s: 0,
        runs: Default::default(),
    };
    let started = Instant::now();
    let report = scenario::run(chain, &scenario, &mut |_| {}).expect("the dispute runs");
    assert!(report.honest_won);
    started.elapsed().as_secs_f64()
}

fn main() {
    let anvil = Anvil::spawn().expect("anvil starts");
    println!(
        "| model | VM instructions | VM ms / inference | native ms / inference | challenge s, embedded | challenge s, anvil |"
    );
    println!("|---|---|---|---|---|---|");
    for model in mnist::Model::ALL {
        let (_, pixels) = mnist::digit(0).expect("a digit");
        let started = Instant::now();
        for _ in 0..RUNS {
            std::hint::black_box(mnist::classify(model, std::hint::black_box(pixels)))
                .expect("classifies");
        }
        let native_ms = started.elapsed().as_secs_f64() * 1e3 / RUNS as f64;
        let mut steps = 0;
        let started = Instant::now();
        for _ in 0..RUNS {
            let mut machine =
                opml_vm::Machine::load(opml_methods::MNIST_ELF, mnist::input(model, pixels))
                    .expect("loads");
            machine.run(u64::MAX);
            steps = machine.step_count();
        }
        let vm_ms = started.elapsed().as_secs_f64() * 1e3 / RUNS as f64;
        let embedded = challenge(&mut EmbeddedChain::new(), model, pixels, steps);
        let on_anvil = challenge(
            &mut anvil.connect().expect("anvil answers"),
            model,
            pixels,
            steps,
        );
        println!(
            "| {} | {steps} | {vm_ms:.1} | {native_ms:.2} | {embedded:.2} | {on_anvil:.2} |",
            model.name()
        );
    }
}
