//! Chess clocks: a silent party loses by timeout; an honest party that joins late still wins
//! within its clock, and one that stays away longer than its clock loses.

use opml_agent::scenario::{self, Adversary, DisputeReport, Scenario};
use opml_agent::{Conduct, Party, Program, RegistryConfig};
use opml_chain::EmbeddedChain;
use opml_game::PhaseConfig;

fn dispute(liar: Party, conduct: Conduct, late_join_s: u64) -> DisputeReport {
    let mut input = vec![1u8];
    input.extend(0..64u8);
    let scenario = Scenario {
        program: Program::new(opml_methods::ECHO_ELF).expect("echo loads"),
        input,
        model: None,
        config: PhaseConfig::new(&[5, 3, 3]).expect("valid heights"),
        registry: RegistryConfig::default(),
        adversary: Some(Adversary {
            side: liar,
            from_step: 300,
            conduct,
        }),
        claimed_output: None,
        late_join_s,
        runs: Default::default(),
    };
    scenario::run(&mut EmbeddedChain::new(), &scenario, &mut |_| {}).expect("the dispute runs")
}

#[test]
fn silent_server_loses_by_timeout() {
    let report = dispute(Party::Claimant, Conduct::SilentAfter { moves: 0 }, 0);
    let game = report.game.expect("played");
    assert_eq!(game.winner, Party::Challenger);
    assert!(game.by_timeout);
    assert!(game.claimant.txs == 0, "the server never moved");
    assert!(game.waited_s > RegistryConfig::default().game_clock);
    assert!(!report.finalized);
}

#[test]
fn challenger_silent_mid_game_loses_by_timeout() {
    let report = dispute(Party::Challenger, Conduct::SilentAfter { moves: 4 }, 0);
    let game = report.game.expect("played");
    assert_eq!(game.winner, Party::Claimant);
    assert!(game.by_timeout);
    assert_eq!(game.challenger.txs, 4, "four moves, then silence");
    assert!(report.finalized, "the correct result stands");
    assert_eq!(
        report.ledger.server.withdrawn, "2100000000000000000",
        "bond, fee and the challenger's bond"
    );
}

#[test]
fn honest_server_joining_late_still_wins_within_its_clock() {
    let clock = RegistryConfig::default().game_clock;
    let report = dispute(Party::Challenger, Conduct::Honest, clock - 60);
    let game = report.game.expect("played");
    assert_eq!(game.winner, Party::Claimant);
    assert!(!game.by_timeout, "won by the step proof");
    assert!(
        game.claimant.clock_used_s >= clock - 60,
        "the delay was charged to the server"
    );
    assert!(report.finalized);
}

#[test]
fn honest_server_absent_beyond_its_clock_loses() {
    let clock = RegistryConfig::default().game_clock;
    let report = dispute(Party::Challenger, Conduct::Honest, clock + 1);
    let game = report.game.expect("played");
    assert_eq!(game.winner, Party::Challenger, "clocks bind the honest too");
    assert!(game.by_timeout);
}
