//! A full opML dispute on a real node: anvil, started and stopped by the test, through the
//! JSON-RPC backend. The agents are the same code as on the embedded EVM.

use opml_agent::scenario::{self, Adversary, Event, Scenario};
use opml_agent::{Conduct, Party, Program, RegistryConfig};
use opml_chain::Anvil;
use opml_game::PhaseConfig;

#[test]
fn dispute_on_anvil_rejects_a_wrong_result() {
    let anvil =
        Anvil::spawn().expect("anvil starts (install it with toolchain/scripts/install.sh)");
    let mut chain = anvil.connect().expect("anvil answers");
    let mut input = vec![1u8];
    input.extend(b"optimistic machine learning, disputed on a real node".iter());
    let scenario = Scenario {
        program: Program::new(opml_methods::ECHO_ELF).expect("echo loads"),
        input,
        model: None,
        config: PhaseConfig::new(&[6, 6]).expect("valid heights"),
        registry: RegistryConfig::default(),
        adversary: Some(Adversary {
            side: Party::Claimant,
            from_step: 400,
            conduct: Conduct::Honest,
        }),
        claimed_output: None,
        late_join_s: 0,
        runs: Default::default(),
    };
    let mut moves = 0;
    let report = scenario::run(&mut chain, &scenario, &mut |event| {
        if let Event::Game(_) = event {
            moves += 1;
        }
    })
    .expect("the dispute runs");
    assert!(report.honest_won, "the challenger must win");
    assert!(!report.finalized, "the wrong result is rejected");
    let game = report.game.expect("a game was played");
    assert_eq!(game.winner, Party::Challenger);
    assert!(!game.by_timeout, "decided by the step proof");
    assert!(moves >= game.moves.len());
    assert!(
        game.claimant.gas > 0 && game.challenger.gas > 0,
        "a node charges gas"
    );
    // Only the burned quarter of the server's bond stays in the registry.
    assert_eq!(report.ledger.burned, "250000000000000000");
    assert_eq!(report.ledger.registry_balance_after, report.ledger.burned);
    // The challenger took its bond and the pool (half the server's bond); the requester got a
    // quarter of the server's bond; the honest server of round 1 took its bond and the fee.
    assert_eq!(report.ledger.challenger.withdrawn, "1500000000000000000");
    assert_eq!(report.ledger.requester.withdrawn, "250000000000000000");
    let fee: u128 = report.ledger.requester.paid.parse().unwrap();
    assert_eq!(
        report.ledger.second_server.withdrawn,
        (10u128.pow(18) + fee).to_string()
    );
    assert_eq!(report.ledger.server.withdrawn, "0");
}
