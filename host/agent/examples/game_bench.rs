//! Dispute-game benchmark: for runs of about 10^3, 10^6 and 10^9 instructions and several phase
//! configurations, a full opML dispute (a server lying two thirds into the run, an honest
//! challenger) on the embedded EVM: transactions and gas of each side, off-chain time and wall
//! time. With `--anvil`, one ≥10^8-instruction dispute on a local anvil instead.
//!
//! ```text
//! cargo run --release -p opml-agent --example game_bench            # the table
//! cargo run --release -p opml-agent --example game_bench -- --anvil # 10^8 on anvil
//! cargo run --release -p opml-agent --example game_bench -- --quick # skip 10^9
//! ```

use std::time::Instant;

use opml_agent::scenario::{self, Adversary, DisputeReport, Scenario};
use opml_agent::{Conduct, Party, Program, RegistryConfig};
use opml_chain::{Anvil, Chain, EmbeddedChain};
use opml_game::PhaseConfig;

/// A task of about `steps` instructions: echo for short runs, iterated SHA-256 otherwise.
fn task(steps: u64) -> (Program, Vec<u8>) {
    if steps < 10_000 {
        let mut input = vec![echo::MODE_RAW];
        input.extend((0..steps / 10).map(|i| i as u8));
        (Program::new(opml_methods::ECHO_ELF).expect("echo"), input)
    } else {
        let input = opml_codec::encode(&hashbench::Input {
            iterations: (steps / 4_940) as u32,
            seed: [0; 32],
        })
        .expect("encodes");
        (
            Program::new(opml_methods::HASHBENCH_ELF).expect("hashbench"),
            input,
        )
    }
}

/// The dispute over a run of about `steps` instructions, the server lying from two thirds of
/// `steps` on (well inside the run; no run of its own is spent to count its steps).
fn dispute(
    chain: &mut dyn Chain,
    (program, input): (Program, Vec<u8>),
    steps: u64,
    heights: &[u8],
) -> DisputeReport {
    let scenario = Scenario {
        program,
        input,
        model: None,
        config: PhaseConfig::new(heights).expect("valid heights"),
        registry: RegistryConfig::default(),
        adversary: Some(Adversary {
            side: Party::Claimant,
            from_step: steps * 2 / 3,
            conduct: Conduct::Honest,
        }),
        claimed_output: None,
        late_join_s: 0,
        runs: Default::default(),
    };
    let report = scenario::run(chain, &scenario, &mut |_| {}).expect("the dispute runs");
    assert!(report.honest_won, "the honest challenger must win");
    report
}

fn row(report: &DisputeReport, wall: f64) {
    let game = report.game.as_ref().expect("played");
    println!(
        "| {} | {:?} | {} / {} | {} / {} | {:.2} / {:.2} | {:.2} | {:.2} |",
        report.steps,
        report.heights,
        game.claimant.txs,
        game.challenger.txs,
        game.claimant.gas,
        game.challenger.gas,
        game.claimant.offchain_s,
        game.challenger.offchain_s,
        report.execute_s,
        wall,
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--anvil") {
        let anvil = Anvil::spawn().expect("anvil starts");
        let mut chain = anvil.connect().expect("anvil answers");
        let started = Instant::now();
        let report = dispute(&mut chain, task(100_000_000), 100_000_000, &[11, 8, 8]);
        println!("anvil:");
        header();
        row(&report, started.elapsed().as_secs_f64());
        return;
    }
    let quick = args.iter().any(|a| a == "--quick");
    let cases: &[(u64, &[&[u8]])] = &[
        (1_000, &[&[11], &[6, 5], &[4, 4, 3], &[3, 3, 3, 2]]),
        (1_000_000, &[&[20], &[10, 10], &[8, 6, 6], &[5, 5, 5, 5]]),
        (100_000_000, &[&[11, 8, 8], &[15, 12]]),
        (
            1_000_000_000,
            &[&[14, 16], &[6, 12, 12], &[10, 10, 10], &[6, 8, 8, 8]],
        ),
    ];
    header();
    for &(steps, configs) in cases {
        if quick && steps > 100_000_000 {
            continue;
        }
        for heights in configs {
            let started = Instant::now();
            let report = dispute(&mut EmbeddedChain::new(), task(steps), steps, heights);
            row(&report, started.elapsed().as_secs_f64());
        }
    }
}

fn header() {
    println!(
        "| steps | phases | txs server / challenger | gas server / challenger | off-chain s server / challenger | execute s | wall s |"
    );
    println!("|---|---|---|---|---|---|---|");
}
