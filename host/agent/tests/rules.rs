//! Regression tests of the registry's issue-9 rules on the embedded EVM: the time a task needs
//! (`requiredWindow`, `requiredClock`) is the same on chain as in `PhaseConfig`; heights beyond
//! the caps and infeasible tasks are refused; a lone program-defined phase is refused; and a
//! self-challenge cannot censor a task: the liar pays, the honest challenger is rewarded, and
//! the task reopens for an honest server.

#[path = "common/sybil.rs"]
mod sybil;

use alloy_primitives::{Address, B256, U256};
use alloy_sol_types::{SolCall, SolError};
use opml_agent::deploy::send;
use opml_agent::roles::{self, TaskRequest};
use opml_agent::{Contracts, Program, RegistryConfig};
use opml_chain::contracts::{DisputeGame, TaskRegistry};
use opml_chain::{Chain, EmbeddedChain};
use opml_game::{ConfigError, MAX_HEIGHT, MAX_PHASES, MAX_TOTAL_HEIGHT, PhaseConfig};
use opml_tests::rng::Rng;
use sybil::{Plan, play_story, revert_data};

fn deployed(config: RegistryConfig) -> (EmbeddedChain, Contracts, Vec<Address>) {
    let mut chain = EmbeddedChain::new();
    let accounts = chain.accounts().to_vec();
    let contracts = Contracts::deploy(&mut chain, accounts[0], config).unwrap();
    (chain, contracts, accounts)
}

/// Random heights for `k` phases within the caps.
fn random_heights(rng: &mut Rng, k: usize) -> Vec<u8> {
    let mut heights = vec![1u8; k];
    let budget = MAX_TOTAL_HEIGHT as usize - k;
    let extra = rng.below(budget as u32 + 1) as usize;
    for _ in 0..extra {
        let phase = rng.below(k as u32) as usize;
        if heights[phase] < MAX_HEIGHT {
            heights[phase] += 1;
        }
    }
    heights
}

#[test]
fn required_times_match_the_contract() {
    let (mut chain, contracts, _) = deployed(RegistryConfig::default());
    let mut configs: Vec<Vec<u8>> = vec![
        vec![1],
        vec![MAX_HEIGHT],
        vec![MAX_HEIGHT, 16],
        vec![16, MAX_HEIGHT],
        vec![5; MAX_PHASES],
        vec![1; MAX_PHASES],
        vec![11, 8, 8],
        vec![2, 1],
        vec![20, 20],
    ];
    let mut rng = Rng::new(0x6f706d6c);
    for k in 1..=4 {
        for _ in 0..40 {
            configs.push(random_heights(&mut rng, k));
        }
    }
    // Over a program-defined top phase (graph tasks): the same heights with two phases or
    // more, and heights only a graph game takes (up to 44 levels, 40 in the VM).
    let mut programs: Vec<Vec<u8>> = configs.iter().filter(|h| h.len() >= 2).cloned().collect();
    programs.extend([vec![16, 14, 13], vec![MAX_HEIGHT, 16, 4], vec![4, 20, 20]]);
    let configs = configs
        .iter()
        .map(|heights| PhaseConfig::new(heights).unwrap())
        .chain(programs.iter().map(|h| PhaseConfig::program(h).unwrap()));
    let mut distinct = std::collections::BTreeSet::new();
    for config in configs {
        let (window, clock) = roles::required_times(&mut chain, &contracts, &config).unwrap();
        assert_eq!(window, U256::from(config.required_window()), "{config}");
        assert_eq!(clock, U256::from(config.required_clock()), "{config}");
        distinct.insert((config.required_window(), config.required_clock()));
    }
    assert!(distinct.len() > 100, "the cases differ: {}", distinct.len());
}

#[test]
fn heights_beyond_the_caps_are_refused() {
    assert_eq!(
        "32,1".parse::<PhaseConfig>(),
        Err(ConfigError::HeightTooLarge {
            phase: 0,
            height: 32
        })
    );
    assert_eq!(
        PhaseConfig::new(&[MAX_HEIGHT, 17]),
        Err(ConfigError::TotalTooLarge { sum: 41, max: 40 })
    );
    let (mut chain, contracts, accounts) = deployed(RegistryConfig::default());
    for heights in [vec![25u8], vec![32, 1], vec![24, 17], vec![20, 20, 1]] {
        assert!(PhaseConfig::new(&heights).is_err(), "{heights:?}");
        let mut packed = [0u8; 32];
        packed[..heights.len()].copy_from_slice(&heights);
        let call = TaskRegistry::postTaskCall {
            programId: B256::ZERO,
            inputCommitment: B256::ZERO,
            heights: B256::from(packed),
            deadline: u64::MAX,
        };
        let error = send(
            &mut chain,
            accounts[1],
            contracts.registry,
            U256::ZERO,
            call.abi_encode().into(),
        )
        .unwrap_err();
        assert_eq!(
            revert_data(error),
            DisputeGame::BadHeights {
                heights: B256::from(packed)
            }
            .abi_encode(),
            "{heights:?}"
        );
    }
}

#[test]
fn an_infeasible_task_is_refused() {
    let config: PhaseConfig = "11,8,8".parse().unwrap();
    let (window, clock) = (config.required_window(), config.required_clock());
    let post = |registry: RegistryConfig| {
        let (mut chain, contracts, accounts) = deployed(registry);
        let now = chain.timestamp().unwrap();
        let request = TaskRequest {
            program_id: [7; 32],
            input_commitment: opml_state::input::commitment(&[]),
            config,
            fee: U256::ZERO,
            deadline: now + 86_400,
        };
        roles::post_task(&mut chain, &contracts, accounts[1], &request)
    };
    let exact = RegistryConfig {
        challenge_window: window,
        game_clock: clock,
        ..RegistryConfig::default()
    };
    assert_eq!(post(exact).unwrap(), 0, "exactly at the limit");
    let error = post(RegistryConfig {
        challenge_window: window - 1,
        ..exact
    })
    .unwrap_err();
    assert_eq!(
        revert_data(error),
        TaskRegistry::WindowTooShort {
            needed: U256::from(window),
            window: U256::from(window - 1)
        }
        .abi_encode()
    );
    let error = post(RegistryConfig {
        game_clock: clock - 1,
        ..exact
    })
    .unwrap_err();
    assert_eq!(
        revert_data(error),
        TaskRegistry::ClockTooShort {
            needed: U256::from(clock),
            clock: U256::from(clock - 1)
        }
        .abi_encode()
    );
    // The default registry serves the demo's configuration, but not a trace at the caps.
    assert!(post(RegistryConfig::default()).is_ok());
    let capped = PhaseConfig::new(&[MAX_HEIGHT, 16]).unwrap();
    assert!(capped.required_window() > RegistryConfig::default().challenge_window);
}

#[test]
fn a_lone_program_phase_is_refused() {
    let (mut chain, contracts, accounts) = deployed(RegistryConfig::default());
    let heights = B256::from(PhaseConfig::new(&[4]).unwrap().pack());
    let call = DisputeGame::createCall {
        params: DisputeGame::Params {
            claimant: accounts[2],
            challenger: accounts[3],
            startState: B256::repeat_byte(1),
            claimedEnd: B256::repeat_byte(2),
            heights,
            clock: 3600,
            stepProgram: B256::repeat_byte(9),
        },
        root: B256::ZERO,
        end: B256::repeat_byte(3),
        endProof: vec![],
    };
    let error = send(
        &mut chain,
        accounts[3],
        contracts.game,
        U256::ZERO,
        call.abi_encode().into(),
    )
    .unwrap_err();
    assert_eq!(
        revert_data(error),
        DisputeGame::ProgramPhaseAlone { heights }.abi_encode()
    );
}

/// The echo guest on a short input (reads it all, writes it reversed).
fn echo_task() -> (Program, Vec<u8>, PhaseConfig) {
    let program = Program::new(opml_methods::ECHO_ELF).unwrap();
    let mut input = vec![1u8];
    input.extend_from_slice(b"censor me if you can");
    let steps = {
        let mut machine = program.machine(&input).unwrap();
        machine.run(1 << 24);
        machine.step_count()
    };
    let total = (64 - steps.leading_zeros()) as u8;
    let config = PhaseConfig::new(&[total - total / 2, total / 2]).unwrap();
    (program, input, config)
}

/// The attack of issue 9: the liar's sybil challenges at once and wins (the liar never
/// answers); an honest challenger's game is played out against the liar's lie. The liar loses
/// its bond, its coalition at least the burn and requester shares, the honest challenger gains
/// half the pool, and an honest server serves the reopened task.
#[test]
fn self_challenge_censorship_fails() {
    let (program, input, config) = echo_task();
    let bond = 10i128.pow(18);
    for order in [[0, 1], [1, 0]] {
        let payoffs = play_story(
            &program,
            &input,
            config,
            200,
            &[Plan::SybilWins, Plan::Honest],
            &order,
            true,
        );
        assert_eq!(payoffs.liar, -bond);
        assert_eq!(payoffs.challengers, vec![bond / 4, bond / 4], "{order:?}");
        assert_eq!(payoffs.liar + payoffs.challengers[0], -3 * bond / 4);
        assert_eq!(payoffs.requester, bond / 4 - sybil::FEE as i128);
        assert_eq!(payoffs.honest_server, sybil::FEE as i128);
        assert_eq!(payoffs.burned, (bond / 4) as u128);
    }
}

/// The sybil loses on purpose: its bond goes to the honest winner's pool.
#[test]
fn a_sybil_that_loses_on_purpose_feeds_the_pool() {
    let (program, input, config) = echo_task();
    let bond = 10i128.pow(18);
    let payoffs = play_story(
        &program,
        &input,
        config,
        1,
        &[Plan::SybilLoses, Plan::Honest],
        &[0, 1],
        false,
    );
    assert_eq!(payoffs.challengers, vec![-bond, bond / 2 + bond]);
    // No server came back: the requester has its fee back and a quarter of the bond.
    assert_eq!(payoffs.requester, bond / 4);
}
