//! Graph tasks through the task registry (`docs/game-design.md`, "Graph tasks"): a requester
//! posts an MNIST model's root and a digit, a server commits the output bytes (the registry
//! derives the final graph state from them), a challenger disputes a wrong one through the
//! graph phase and the node step program, and the bonds move to the wei. The registry's
//! graph-state formulas equal `opml_dnn::phase::state`'s.

use std::sync::Arc;

use alloy_primitives::{Address, B256, Bytes, U256};
use opml_agent::scenario::{self, Adversary, DisputeReport, Scenario};
use opml_agent::{Conduct, Contracts, Party, Program, RegistryConfig, deploy, roles};
use opml_chain::contracts::TaskRegistry;
use opml_chain::{Anvil, Chain, EmbeddedChain};
use opml_dnn::phase::state;
use opml_game::PhaseConfig;
use opml_graph::{GraphPhase, STEP_PROGRAM_ELF};

/// A built-in MNIST model's file and held-out digit `digit`'s graph input.
fn task(model: &str, digit: usize) -> (Arc<[u8]>, Vec<u8>) {
    let path = format!(
        "{}/../../toolchain/model/models/{model}.opml",
        env!("CARGO_MANIFEST_DIR")
    );
    let (_, pixels) = mnist::digit(digit).unwrap();
    (
        std::fs::read(path).unwrap().into(),
        mnist::graph_input(pixels),
    )
}

fn scenario(model: &str, heights: &[u8], adversary: Option<Adversary>) -> Scenario {
    let (file, input) = task(model, 3);
    Scenario {
        program: Program::new(STEP_PROGRAM_ELF).unwrap(),
        input,
        model: Some(file),
        config: PhaseConfig::program(heights).unwrap(),
        registry: RegistryConfig::default(),
        adversary,
        claimed_output: None,
        late_join_s: 0,
        runs: Default::default(),
    }
}

fn liar(side: Party, from_step: u64, conduct: Conduct) -> Option<Adversary> {
    Some(Adversary {
        side,
        from_step,
        conduct,
    })
}

/// The books of a rejected round: the liar's bond split 25/25/50, the fee to round 1's server.
fn assert_rejected_books(report: &DisputeReport) {
    assert!(!report.finalized, "the wrong result is rejected");
    assert_eq!(report.ledger.burned, "250000000000000000");
    assert_eq!(report.ledger.registry_balance_after, report.ledger.burned);
    assert_eq!(report.ledger.challenger.withdrawn, "1500000000000000000");
    assert_eq!(report.ledger.requester.withdrawn, "250000000000000000");
    assert_eq!(report.ledger.server.withdrawn, "0");
    let fee: u128 = report.ledger.requester.paid.parse().unwrap();
    assert_eq!(
        report.ledger.second_server.withdrawn,
        (10u128.pow(18) + fee).to_string()
    );
}

#[test]
fn the_registry_computes_the_graph_state_as_the_rust_side() {
    let mut chain = EmbeddedChain::new();
    let deployer = chain.accounts()[0];
    let contracts = Contracts::deploy(&mut chain, deployer, RegistryConfig::default()).unwrap();
    let registry = contracts.registry;
    for len in [0usize, 1, 31, 32, 33, 40, 64, 65, 96, 1000, 3136] {
        let bytes: Vec<u8> = (0..len).map(|i| (i * 7 + len) as u8).collect();
        let data = Bytes::copy_from_slice(&bytes);
        let call = TaskRegistry::byteCommitmentCall { data: data.clone() };
        let on_chain = deploy::view(&mut chain, Address::ZERO, registry, call).unwrap();
        assert_eq!(on_chain.0, state::byte_commitment(&bytes), "{len} bytes");
        let root = [len as u8; 32];
        let call = TaskRegistry::graphTaskWordCall {
            modelRoot: B256::from(root),
            input: data.clone(),
        };
        let word = deploy::view(&mut chain, Address::ZERO, registry, call).unwrap();
        assert_eq!(word.0, state::task(&root, &state::byte_commitment(&bytes)));
        let call = TaskRegistry::graphStartStateCall { task_: word };
        let start = deploy::view(&mut chain, Address::ZERO, registry, call).unwrap();
        assert_eq!(start.0, state::start(&word.0));
        let values = [9; 32];
        let call = TaskRegistry::graphFinalStateCall {
            task_: word,
            values: B256::from(values),
            output: data,
        };
        let end = deploy::view(&mut chain, Address::ZERO, registry, call).unwrap();
        let result = state::byte_commitment(&bytes);
        assert_eq!(end.0, state::state(&word.0, &values, &result));
    }
}

#[test]
fn an_honest_graph_result_finalizes_and_its_output_is_read_back() {
    let mut chain = EmbeddedChain::new();
    let deployer = chain.accounts()[0];
    let contracts = Contracts::deploy(&mut chain, deployer, RegistryConfig::default()).unwrap();
    let scenario = scenario("cnn-int8", &[4, 22], None);
    let report = scenario::run_on(&mut chain, &contracts, &scenario, &mut |_| {}).unwrap();
    assert!(report.finalized && report.honest_won && report.game.is_none());
    let output = deploy::view(
        &mut chain,
        Address::ZERO,
        contracts.registry,
        TaskRegistry::outputOfCall { taskId: U256::ZERO },
    )
    .unwrap();
    let (file, input) = task("cnn-int8", 3);
    let truth = GraphPhase::new(&file, &input).unwrap();
    assert_eq!(output.as_ref(), truth.run().output().unwrap());
    let (_, class) = mnist::graph_output(&output).unwrap();
    let (label, _) = mnist::digit(3).unwrap();
    assert_eq!(class, label, "the CNN reads held-out digit 3");
    let task = roles::read_task(&mut chain, &contracts, 0).unwrap();
    assert_eq!(task.finalState.0, truth.state(truth.step_count()));
    assert_eq!(task.inputCommitment.0, *truth.run().task());
}

#[test]
fn a_lying_server_is_rejected_at_any_node_and_the_books_balance() {
    let m = 11; // the int8 CNN: load, 9 nodes, finish
    for from in [1, 2, 6, m - 1, m] {
        let lie = liar(Party::Claimant, from, Conduct::Honest);
        let report = scenario::run(
            &mut EmbeddedChain::new(),
            &scenario("cnn-int8", &[4, 11, 11], lie),
            &mut |_| {},
        )
        .unwrap_or_else(|error| panic!("lie from {from}: {error}"));
        assert!(report.honest_won, "lie from {from}");
        let game = report.game.as_ref().unwrap();
        assert!(
            !game.by_timeout,
            "lie from {from}: decided by the step proof"
        );
        assert_rejected_books(&report);
    }
}

#[test]
fn a_lying_challenger_loses_and_the_result_stands() {
    for (from, conduct) in [(5, Conduct::Honest), (3, Conduct::SilentAfter { moves: 1 })] {
        let lie = liar(Party::Challenger, from, conduct);
        let report = scenario::run(
            &mut EmbeddedChain::new(),
            &scenario("cnn-int8", &[4, 22], lie),
            &mut |_| {},
        )
        .unwrap();
        assert!(report.honest_won && report.finalized, "{conduct:?}");
        let game = report.game.as_ref().unwrap();
        assert_eq!(game.winner, Party::Claimant);
        // The server takes its bond, the fee and the lying challenger's bond.
        let fee: u128 = report.ledger.requester.paid.parse().unwrap();
        assert_eq!(
            report.ledger.server.withdrawn,
            (2 * 10u128.pow(18) + fee).to_string(),
            "{conduct:?}"
        );
        assert_eq!(report.ledger.challenger.withdrawn, "0");
        assert_eq!(report.ledger.registry_balance_after, "0");
    }
}

#[test]
fn the_deep_cnn_of_a_billion_instructions_is_disputed_by_one_node() {
    // 1.6 × 10^9 instructions in one phase; its largest node step takes 2.5 × 10^8, which the
    // two VM phases of 2^14 cover.
    let lie = liar(Party::Claimant, 9, Conduct::Honest);
    let report = scenario::run(
        &mut EmbeddedChain::new(),
        &scenario("cnn-deep", &[4, 14, 14], lie),
        &mut |_| {},
    )
    .unwrap();
    assert!(report.honest_won);
    assert_eq!(report.steps, 16, "load, 14 nodes, finish");
    assert!(!report.game.as_ref().unwrap().by_timeout);
    assert_rejected_books(&report);
}

#[test]
fn a_two_phase_mnist_dispute_on_anvil() {
    let anvil =
        Anvil::spawn().expect("anvil starts (install it with toolchain/scripts/install.sh)");
    let mut chain = anvil.connect().expect("anvil answers");
    let lie = liar(Party::Claimant, 5, Conduct::Honest);
    let report = scenario::run(
        &mut chain,
        &scenario("cnn-int8", &[4, 11, 11], lie),
        &mut |_| {},
    )
    .expect("the dispute runs");
    assert!(report.honest_won);
    let game = report.game.as_ref().unwrap();
    assert!(!game.by_timeout && game.claimant.gas > 0 && game.challenger.gas > 0);
    assert_rejected_books(&report);
    assert!(chain.accounts().len() >= 4);
}
