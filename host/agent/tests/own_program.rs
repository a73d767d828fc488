//! Disputing your own program with the defaults (`Scenario::new`), whichever side lies.

use opml_agent::{Party, Program, Scenario, default_phases};
use opml_game::PhaseConfig;
use opml_methods::{ECHO_ELF, GUESTS_BUILT};

fn echo_story() -> Scenario {
    let request = echo::Request {
        text: "my own program".into(),
        numbers: vec![1, 2, 3],
    };
    let input = echo::typed_input(&request).unwrap();
    Scenario::new(Program::new(ECHO_ELF).unwrap(), input).unwrap()
}

#[test]
fn defaults_are_an_honest_story_with_phases_sized_to_the_run() {
    if !GUESTS_BUILT {
        return;
    }
    let scenario = echo_story();
    assert!(scenario.adversary.is_none());
    let report = scenario.play().unwrap();
    assert!(report.game.is_none() && report.finalized && report.honest_won);
    assert_eq!(scenario.config, default_phases(report.steps).unwrap());
    assert!(scenario.config.total_steps() > report.steps);
}

#[test]
fn a_lying_server_and_a_lying_challenger_both_lose() {
    if !GUESTS_BUILT {
        return;
    }
    let report = echo_story()
        .with_liar(Party::Claimant)
        .unwrap()
        .play()
        .unwrap();
    let game = report.game.as_ref().expect("disputed");
    assert_eq!(game.winner, Party::Challenger);
    assert!(report.honest_won && !report.finalized);
    assert_ne!(report.committed_output, report.true_output);

    let story = echo_story()
        .with_phases(PhaseConfig::new(&[6, 6]).unwrap())
        .with_liar(Party::Challenger)
        .unwrap();
    let adversary = story.adversary.unwrap();
    assert_eq!(adversary.side, Party::Challenger);
    let report = story.play().unwrap();
    assert_eq!(
        report.game.as_ref().expect("disputed").winner,
        Party::Claimant
    );
    assert!(report.honest_won && report.finalized);
    assert_eq!(report.heights, [6, 6]);
}
