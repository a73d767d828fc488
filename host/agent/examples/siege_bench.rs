//! A defender under N garbage disputes of one correct result (issue 9's benchmark): the honest
//! server's service defends a task of about 10^9 steps against 1, 5 and 20 garbage
//! challengers on the embedded EVM, each N in a fresh process state of its own. Prints the
//! defender's off-chain seconds, its counted work and the process's peak memory.
//!
//! ```sh
//! cargo run --release -p opml-agent --example siege_bench            # N = 1, 5, 20
//! cargo run --release -p opml-agent --example siege_bench -- 5 2e8   # N = 5, 2·10^8 steps
//! ```

use alloy_primitives::U256;
use opml_agent::siege::{self, Siege};
use opml_agent::{Party, Program, RegistryConfig};
use opml_chain::EmbeddedChain;
use opml_game::PhaseConfig;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let counts: Vec<usize> = match args.first() {
        Some(n) => vec![n.parse().expect("N is a whole number")],
        None => vec![1, 5, 20],
    };
    let steps = args
        .get(1)
        .map_or(1e9, |s| s.parse::<f64>().expect("steps is a number")) as u64;
    let input = opml_codec::encode(&hashbench::Input {
        iterations: (steps / 4_940) as u32,
        seed: [0; 32],
    })
    .expect("encodes");
    // [14, 16] covers 2^30 steps: a top tree of 16,384 leaves, child trees of 65,536 steps.
    let config = PhaseConfig::new(&[14, 16]).expect("valid heights");
    println!("| N | steps | defence s | attack s | steps run | states hashed | peak RSS MiB |");
    println!("|---|---|---|---|---|---|---|");
    for n in counts {
        let siege = Siege {
            program: Program::new(opml_methods::HASHBENCH_ELF).expect("hashbench"),
            input: input.clone(),
            config,
            registry: RegistryConfig::default(),
            fee: U256::ZERO,
            challengers: n,
        };
        let report = siege::run(&mut EmbeddedChain::new(), &siege).expect("the siege ends");
        assert!(report.finalized, "the result stands");
        assert!(report.games.iter().all(|g| g.winner == Party::Claimant));
        println!(
            "| {n} | {} | {:.1} | {:.1} | {} | {} | {:.0} |",
            report.steps,
            report.defence_s,
            report.attack_s,
            report.server_work.steps_run,
            report.server_work.states_hashed,
            peak_rss_mib()
        );
    }
}

/// The process's peak resident memory (VmHWM), in MiB.
fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<f64>()
                .ok()
        })
        .map_or(0.0, |kb| kb / 1024.0)
}
