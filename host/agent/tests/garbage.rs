//! Garbage disputes of a correct result (issue 9): twenty challengers with made-up traces
//! dispute one honest result. The honest server's service wins every game inside its clock, is
//! paid every garbage bond, and does the task's expensive work once: one run and one top tree,
//! then only each game's own work below the top phase. The work is counted by the run's
//! trace, not timed.

use alloy_primitives::U256;
use opml_agent::siege::{self, Siege};
use opml_agent::{Party, Program, RegistryConfig};
use opml_chain::EmbeddedChain;
use opml_game::PhaseConfig;

/// Garbage challengers.
const N: u64 = 20;

#[test]
fn twenty_garbage_disputes_cost_the_defender_one_run_one_top_tree_and_per_game_work() {
    // About 15,000 steps of iterated SHA-256 under phases [10, 4]: a top tree of 1024 leaves
    // of 16 steps, and child trees of 16 single steps.
    let input = opml_codec::encode(&hashbench::Input {
        iterations: 3,
        seed: [7; 32],
    })
    .unwrap();
    let config = PhaseConfig::new(&[10, 4]).unwrap();
    let registry = RegistryConfig::default();
    let fee = U256::from(10u64).pow(U256::from(17u64));
    let siege = Siege {
        program: Program::new(opml_methods::HASHBENCH_ELF).unwrap(),
        input,
        config,
        registry,
        fee,
        challengers: N as usize,
    };
    let report = siege::run(&mut EmbeddedChain::new(), &siege).unwrap();

    // Every garbage game is won by the server, by the step proof or on time, with clock left.
    assert_eq!(report.games.len() as u64, N);
    for game in &report.games {
        assert_eq!(game.winner, Party::Claimant, "game {}", game.id);
        assert!(game.server_clock_left > 0, "game {}", game.id);
    }
    assert!(report.finalized);
    // The books: the server gains the fee and every garbage bond; each attacker loses its bond.
    assert_eq!(
        report.server_gain,
        fee + registry.challenger_bond * U256::from(N)
    );
    assert!(
        report
            .challenger_loss
            .iter()
            .all(|&loss| loss == registry.challenger_bond)
    );

    // The work. T steps; the top tree hashes one leaf per 16 steps up to the halt.
    let t = report.steps;
    assert!((12_000..16_384).contains(&t), "{t} steps");
    let stride = config.stride(0).unwrap();
    let top_leaves = t.div_ceil(stride);
    let per_game_leaves = 1u64 << config.height(1).unwrap();
    let work = report.server_work;
    // The recording hashes its snapshot at step 0 and its final state; the top tree its
    // leaves; each game at most one child tree and one step witness below the top phase.
    let one_top_tree = 2 + top_leaves;
    assert!(
        work.states_hashed >= one_top_tree,
        "{work:?}: fewer hashes than one top tree"
    );
    assert!(
        work.states_hashed <= one_top_tree + N * (per_game_leaves + 1),
        "{work:?}: more than one top tree and the games' own leaves ({top_leaves} top leaves)"
    );
    // A second top tree alone would cost more than all the games' own hashing.
    assert!(top_leaves > N * (per_game_leaves + 1));
    // Steps: the recording and the top tree run T each; a game replays at most its child
    // range and the witnessed step, each from a seek of at most T steps (one snapshot here).
    assert!(work.steps_run >= 2 * t, "{work:?}");
    assert!(
        work.steps_run <= 2 * t + N * (2 * t + per_game_leaves + 1),
        "{work:?}"
    );
}
