//! A real SmolLM2 generation disputed through the registry on the embedded EVM, down to one
//! instruction: a server that changes a generated token, and a lazy server that skips a
//! layer, are both caught at the node where their run departs, and lose their bond.

mod common;

use std::sync::Arc;

use opml_agent::scenario::{self, Adversary, DisputeReport, GraphRuns, Scenario};
use opml_agent::{Conduct, Party, Program, RegistryConfig};
use opml_chain::EmbeddedChain;
use opml_game::PhaseConfig;
use opml_graph::STEP_PROGRAM_ELF;
use opml_llama::{Generation, Lie};
use opml_llm::sample::Sampling;
use opml_llm::task::Task;

/// The dispute of `task` against a server lying with `lie`; returns the report and the coarse
/// step where the honest and the lying runs first differ.
fn dispute(task: &Task<'_>, lie: Lie) -> (DisputeReport, u64) {
    let llama = common::llama();
    let honest = Generation::new(llama, task, None).expect("the honest run");
    let liar = Generation::new(llama, task, Some(lie)).expect("the lying run");
    let m = honest.run().step_count();
    let departs = (0..m)
        .find(|&i| honest.run().state(i) != liar.run().state(i))
        .expect("the runs differ");
    let claimed = liar
        .run()
        .output()
        .expect("the liar's run finishes")
        .to_vec();
    // The graph phase over every node, then the node step program's run in two VM phases:
    // its largest nodes (tokenization, a block of the output head) take under 10^8
    // instructions, inside 2^27.
    let top = 64 - (m - 1).leading_zeros() as u8;
    let scenario = Scenario {
        program: Program::new(STEP_PROGRAM_ELF).expect("the node step program loads"),
        input: honest.graph.input.clone(),
        model: Some(Arc::from(&honest.graph.file[..])),
        config: PhaseConfig::program(&[top, 14, 13]).expect("valid heights"),
        // The registry sizes the window and the clocks to the phases' 2^39 steps (at its
        // assumed VM rate: the graph phase is computed natively, far faster).
        registry: RegistryConfig {
            challenge_window: 2 * 86_400,
            game_clock: 7 * 86_400,
            ..RegistryConfig::default()
        },
        adversary: Some(Adversary {
            side: Party::Claimant,
            from_step: departs,
            conduct: Conduct::Honest,
        }),
        claimed_output: Some(claimed),
        late_join_s: 0,
        runs: GraphRuns {
            honest: Some(honest.phase.clone()),
            lying: Some(liar.phase.clone()),
        },
    };
    let report =
        scenario::run(&mut EmbeddedChain::new(), &scenario, &mut |_| {}).expect("the dispute runs");
    (report, departs)
}

/// The honest challenger won by the step proof, the disputed coarse step is where the runs
/// depart, and the books balance.
fn assert_caught(report: &DisputeReport, departs: u64) {
    assert!(report.honest_won, "the honest challenger wins");
    assert!(!report.finalized, "the wrong result is rejected");
    let game = report.game.as_ref().expect("a game was played");
    assert_eq!(game.winner, Party::Challenger);
    assert!(!game.by_timeout, "won by the step proof");
    let descent = game
        .moves
        .iter()
        .find(|m| m.name == "descendProgram" && !m.refused)
        .expect("the game descends into the node step program");
    assert_eq!(descent.position + 1, departs, "the disputed coarse step");
    assert_eq!(report.ledger.registry_balance_after, report.ledger.burned);
}

const GREEDY: Sampling = Sampling {
    temperature: 0.0,
    top_k: 0,
    top_p: 1.0,
    seed: 0,
};

#[test]
fn a_changed_token_is_caught_at_its_sample_node() {
    let task = Task {
        chat: false,
        tokens: 3,
        sampling: GREEDY,
        prompt: "The capital of France is",
    };
    let llama = common::llama();
    let graph = opml_llama::LlmGraph::build(llama, &task).expect("builds");
    let position = graph.prompt_tokens + 1;
    let (report, departs) = dispute(&task, Lie::Token { position });
    let node = graph.sample_node(position).expect("a sample node");
    assert_eq!(departs, u64::from(node) + 2);
    assert_caught(&report, departs);
}

#[test]
fn a_lazy_server_skipping_a_layer_is_caught() {
    let task = Task {
        chat: false,
        tokens: 2,
        sampling: Sampling {
            temperature: 0.7,
            top_k: 50,
            top_p: 0.9,
            seed: 11,
        },
        prompt: "Once upon a time",
    };
    let (report, departs) = dispute(&task, Lie::SkipLayer { layer: 29 });
    assert_caught(&report, departs);
}
