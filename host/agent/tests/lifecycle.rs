//! The task lifecycle without a dispute: an honest result finalizes after the window, the
//! server is paid, and the requester reads the verified output from the registry.

use alloy_primitives::{Address, U256};
use opml_agent::scenario::{self, Event, Scenario};
use opml_agent::{Contracts, Program, RegistryConfig, deploy, roles};
use opml_chain::EmbeddedChain;
use opml_chain::contracts::TaskRegistry;
use opml_game::PhaseConfig;

#[test]
fn honest_result_finalizes_and_the_requester_reads_it() {
    let mut chain = EmbeddedChain::new();
    let deployer = chain.accounts()[0];
    let contracts = Contracts::deploy(&mut chain, deployer, RegistryConfig::default()).unwrap();
    let mut input = vec![1u8];
    input.extend(b"hello, opML".iter());
    let scenario = Scenario {
        program: Program::new(opml_methods::ECHO_ELF).unwrap(),
        input,
        model: None,
        config: PhaseConfig::new(&[8, 8]).unwrap(),
        registry: RegistryConfig::default(),
        adversary: None,
        claimed_output: None,
        late_join_s: 0,
        runs: Default::default(),
    };
    let mut disputed = false;
    let report = scenario::run_on(&mut chain, &contracts, &scenario, &mut |event| {
        disputed |= matches!(event, Event::Challenged { .. });
    })
    .unwrap();
    assert!(!disputed && report.game.is_none(), "nothing to dispute");
    assert!(report.finalized && report.honest_won);
    assert_eq!(report.true_output, hex::encode(b"LMpo ,olleh"));
    assert_eq!(
        report.ledger.server.withdrawn, "1100000000000000000",
        "bond and fee"
    );
    assert_eq!(report.ledger.requester.withdrawn, "0");
    assert_eq!(report.ledger.registry_balance_after, "0");

    let output = deploy::view(
        &mut chain,
        Address::ZERO,
        contracts.registry,
        TaskRegistry::outputOfCall { taskId: U256::ZERO },
    )
    .unwrap();
    assert_eq!(output.as_ref(), b"LMpo ,olleh");
    let task = roles::read_task(&mut chain, &contracts, 0).unwrap();
    assert_eq!(task.status, 3, "Finalized");
}
