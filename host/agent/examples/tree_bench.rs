//! History-tree benchmark: the honest agent's peak memory and time to its first move (the top
//! tree) for a top phase of height 24 and one of height 20, each over a real guest run (iterated
//! SHA-256) that fills the top tree's range, then 20 games sharing that top tree.
//!
//! ```text
//! cargo run --release -p opml-agent --example tree_bench            # both, one process each
//! cargo run --release -p opml-agent --example tree_bench -- 24,6    # one configuration
//! ```
//!
//! Peak RSS is the process's `VmHWM` (`/proc/self/status`), so each configuration runs in a
//! process of its own.

use std::process::Command;
use std::time::Instant;

use opml_agent::{Party, Player, Program};
use opml_game::{HistoryTree, PhaseConfig};

/// The configurations measured: top heights 24 and 20 over runs of `2^30` steps.
const CONFIGS: [&str; 2] = ["24,6", "20,10"];

/// Instructions per `hashbench` iteration (see `game_bench`).
const STEPS_PER_ITERATION: u64 = 4_940;

/// Games sharing the task's top tree.
const GAMES: u64 = 20;

/// A status line of this process (`VmHWM`, `VmRSS`) in MiB, or 0 where there is no procfs.
fn status_mib(key: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix(key)?.strip_prefix(':'))
                .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .map_or(0.0, |kib: f64| kib / 1024.0)
}

fn measure(heights: &str) {
    let config: PhaseConfig = heights.parse().expect("valid heights");
    let steps = config.total_steps();
    let input = opml_codec::encode(&hashbench::Input {
        // A little short of the range, so that the run halts within it.
        iterations: (steps / STEPS_PER_ITERATION * 15 / 16) as u32,
        seed: [0; 32],
    })
    .expect("encodes");
    let program = Program::new(opml_methods::HASHBENCH_ELF).expect("hashbench loads");
    let baseline = status_mib("VmHWM");

    let started = Instant::now();
    let mut truth = program.trace(&input, &config).expect("runs");
    let record_s = started.elapsed().as_secs_f64();
    let after_record = status_mib("VmHWM");

    let started = Instant::now();
    let top = Player::build_top_tree(&config, &mut truth).expect("top tree");
    let mut server =
        Player::honest(Party::Claimant, config, Box::new(truth.clone())).with_top_tree(top.clone());
    let (root, _, _) = server.top_commitment().expect("first move");
    let first_move_s = started.elapsed().as_secs_f64();
    assert_eq!(root, top.root());
    let after_tree = status_mib("VmHWM");
    let work = truth.work();

    // Every game opens the top tree somewhere else: one subtree recomputed per game.
    let started = Instant::now();
    let leaves = 1u64 << top.height();
    let mut trees: Vec<HistoryTree> = (0..GAMES).map(|_| top.clone()).collect();
    for (game, tree) in (0..GAMES).zip(&mut trees) {
        let index = (leaves / GAMES * game + game) % leaves;
        tree.proof(index, &mut truth).expect("proof");
    }
    let games_s = started.elapsed().as_secs_f64();
    let stored: usize = trees.iter().map(HistoryTree::stored_hashes).sum();

    println!(
        "| {heights} | {} | {:.2} | {:.2} | {:.1} | {:.1} | {:.1} | {} | {} | {} | {:.2} | {} | {} | {:.1} |",
        truth.end_step(),
        record_s,
        first_move_s,
        baseline,
        after_record,
        after_tree,
        top.stored_hashes(),
        work.steps_run,
        work.states_hashed,
        games_s,
        top.recomputed_leaves(),
        stored,
        status_mib("VmHWM"),
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(heights) = args.first() {
        measure(heights);
        return;
    }
    println!(
        "| heights | run steps | record s | first move s (top tree) | HWM MiB start | HWM MiB after record | HWM MiB after top tree | top tree hashes | steps run | states hashed | 20 games s | leaves recomputed | hashes held by the 20 trees | HWM MiB after 20 games |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    let exe = std::env::current_exe().expect("own path");
    for heights in CONFIGS {
        let status = Command::new(&exe).arg(heights).status().expect("runs");
        assert!(status.success(), "{heights} failed");
    }
}
