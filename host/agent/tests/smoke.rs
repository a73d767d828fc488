//! One dispute of each kind, end to end on the embedded EVM.

use opml_agent::scenario::{self, Adversary, Scenario};
use opml_agent::{Conduct, Party, Program, RegistryConfig};
use opml_chain::EmbeddedChain;
use opml_game::PhaseConfig;

fn echo_scenario(adversary: Option<Adversary>, heights: &[u8]) -> Scenario {
    let mut input = vec![1u8];
    input.extend((0..100u8).map(|i| i.wrapping_mul(7)));
    Scenario {
        program: Program::new(opml_methods::ECHO_ELF).unwrap(),
        input,
        config: PhaseConfig::new(heights).unwrap(),
        registry: RegistryConfig::default(),
        adversary,
    }
}

#[test]
fn lying_server_loses() {
    let mut chain = EmbeddedChain::new();
    let s = echo_scenario(
        Some(Adversary {
            side: Party::Claimant,
            from_step: 500,
            conduct: Conduct::Honest,
        }),
        &[6, 6],
    );
    let report = scenario::run(&mut chain, &s, &mut |e| eprintln!("{e:?}")).unwrap();
    eprintln!("{}", serde_json::to_string_pretty(&report).unwrap());
    assert!(report.honest_won);
}
