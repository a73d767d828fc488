//! Several challengers on one task: honest ones, and a lying server's sybils that lose on
//! purpose or win against their own liar (a self-challenge). Plays the story on the embedded
//! EVM with real players and checks every party's exact payoff and the registry's books.

use std::collections::BTreeMap;

use alloy_primitives::{Address, U256};
use alloy_sol_types::SolError;
use opml_agent::adversary::{LyingTrace, wrong_final_state};
use opml_agent::arena::{Sent, clock_left, play, read_game, send_move};
use opml_agent::roles::{self, TaskRequest, TaskStatus};
use opml_agent::{AgentError, Conduct, Contracts, Party, Player, Program, RegistryConfig};
use opml_chain::{Chain, ChainError, EmbeddedChain};
use opml_game::PhaseConfig;

/// The fee of the task: 0.1 ether.
pub(crate) const FEE: u128 = 100_000_000_000_000_000;

/// What one challenger does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Plan {
    /// An honest challenger: plays its true trace (the liar plays its lie to the end).
    Honest,
    /// The liar's sybil, and the liar loses its game on purpose (never answers).
    SybilWins,
    /// The liar's sybil, which loses on purpose (never moves after its challenge).
    SybilLoses,
}

/// The net payoffs (withdrawn minus paid, wei) of a story.
#[derive(Debug)]
pub(crate) struct Payoffs {
    /// The lying server.
    pub(crate) liar: i128,
    /// Each challenger, in plan order.
    pub(crate) challengers: Vec<i128>,
    /// The requester.
    pub(crate) requester: i128,
    /// The honest server of round 1 (zero if none).
    pub(crate) honest_server: i128,
    /// Wei burned.
    pub(crate) burned: u128,
}

fn wei(value: U256) -> u128 {
    u128::try_from(value).expect("fits in u128")
}

/// The revert data of a failed transaction.
pub(crate) fn revert_data(error: AgentError) -> Vec<u8> {
    match error {
        AgentError::Chain(ChainError::Revert { data, .. }) => data.to_vec(),
        other => panic!("expected a revert, got {other}"),
    }
}

/// Plays the story: a liar commits a wrong result; it tries to challenge it itself (refused);
/// one challenger per `plans` entry disputes it; every game is played to its end; the
/// disputes are settled in `settle_order` (indexes into `plans`); the winners collect; then
/// an honest server commits the true result in round 1 and finalizes (`recommit`), or nobody
/// does and the task is cancelled after its deadline. Asserts the exact payoffs and books.
pub(crate) fn play_story(
    program: &Program,
    input: &[u8],
    config: PhaseConfig,
    from_step: u64,
    plans: &[Plan],
    settle_order: &[usize],
    recommit: bool,
) -> Payoffs {
    assert!(plans.iter().any(|p| *p != Plan::SybilLoses), "a winner");
    assert!(plans.len() <= 6, "dev accounts");
    let mut chain = EmbeddedChain::new();
    let accounts = chain.accounts().to_vec();
    let (deployer, requester, liar, honest_server) =
        (accounts[0], accounts[1], accounts[2], accounts[3]);
    let challengers: Vec<Address> = accounts[4..4 + plans.len()].to_vec();
    let registry = RegistryConfig::default();
    let bond = wei(registry.server_bond);
    let contracts = Contracts::deploy(&mut chain, deployer, registry).unwrap();
    let mut paid: BTreeMap<Address, u128> = BTreeMap::new();

    let truth = program.trace(input, &config).unwrap();
    let commitment = roles::publish_input(&mut chain, &contracts, requester, input).unwrap();
    let now = chain.timestamp().unwrap();
    let request = TaskRequest {
        program_id: program.id(),
        input_commitment: commitment,
        config,
        fee: U256::from(FEE),
        deadline: now + 7 * 86_400,
    };
    let task = roles::post_task(&mut chain, &contracts, requester, &request).unwrap();
    *paid.entry(requester).or_default() += FEE;

    let (state, claim, output) = wrong_final_state(truth.final_state(), truth.output());
    roles::commit_result(&mut chain, &contracts, liar, task, &state, &output).unwrap();
    *paid.entry(liar).or_default() += bond;

    // A self-challenge from the server's own address is refused.
    let mut own = Player::honest(Party::Challenger, config, Box::new(truth.clone()));
    let top = own.top_commitment().unwrap();
    let refused = roles::challenge(
        &mut chain,
        &contracts,
        liar,
        task,
        program.initial_state(),
        top,
    )
    .unwrap_err();
    assert_eq!(
        revert_data(refused),
        opml_chain::contracts::TaskRegistry::NotAllowed {}.abi_encode(),
        "the server may not challenge its own round"
    );

    // Every challenger disputes within the window.
    let mut games = Vec::new();
    for (&who, &plan) in challengers.iter().zip(plans) {
        let lie = || -> Box<LyingTrace<_>> {
            Box::new(LyingTrace::about(truth.clone(), from_step, claim))
        };
        let (liar_conduct, challenger_conduct) = match plan {
            Plan::Honest => (Conduct::Honest, Conduct::Honest),
            Plan::SybilWins => (Conduct::SilentAfter { moves: 0 }, Conduct::Honest),
            Plan::SybilLoses => (Conduct::Honest, Conduct::SilentAfter { moves: 0 }),
        };
        let claimant = Player::adversary(Party::Claimant, config, lie(), None, liar_conduct);
        let mut challenger = Player::adversary(
            Party::Challenger,
            config,
            Box::new(truth.clone()),
            None,
            challenger_conduct,
        );
        let top = challenger.top_commitment().unwrap();
        let (game, _) = roles::challenge(
            &mut chain,
            &contracts,
            who,
            task,
            program.initial_state(),
            top,
        )
        .unwrap();
        *paid.entry(who).or_default() += bond;
        games.push((game, plan, claimant, challenger));
    }
    // In the games its sybil loses, the liar answers at once (its root), before any time
    // passes: a clock runs from the game's creation, whatever else happens.
    for (game, plan, claimant, _) in &mut games {
        if *plan == Plan::SybilLoses {
            let g = read_game(&mut chain, &contracts, *game).unwrap();
            let left = clock_left(&mut chain, &contracts, *game).unwrap();
            let mv = claimant
                .next_move(&g, left)
                .unwrap()
                .expect("the liar's root");
            let sent = send_move(&mut chain, &contracts, *game, liar, claimant, &mv).unwrap();
            assert!(
                matches!(sent, Sent::Accepted(_)),
                "game {game}: root refused"
            );
        }
    }
    // Games decided by the step first (no time passes), then the ones decided by a clock.
    games.sort_by_key(|(_, plan, _, _)| match plan {
        Plan::Honest => 0,
        Plan::SybilLoses => 1,
        Plan::SybilWins => 2,
    });
    for (game, plan, claimant, challenger) in &mut games {
        let report = play(
            &mut chain,
            &contracts,
            *game,
            claimant,
            challenger,
            &mut |_| {},
        )
        .unwrap();
        let expected = match plan {
            Plan::SybilLoses => Party::Claimant,
            _ => Party::Challenger,
        };
        assert_eq!(report.winner, expected, "game {game} ({plan:?})");
    }

    // Settlement in the given order; the first win rejects round 0 and reopens the task.
    let mut recommitted = false;
    for (n, &i) in settle_order.iter().enumerate() {
        roles::settle(&mut chain, &contracts, deployer, task, 0, challengers[i]).unwrap();
        let t = roles::read_task(&mut chain, &contracts, task).unwrap();
        if recommit && !recommitted && TaskStatus::of(&t).unwrap() == TaskStatus::Open {
            assert_eq!(t.round, 1, "reopened for round 1");
            // An honest server commits while round 0 may still have open disputes.
            let data = truth.final_state().encode().to_vec();
            roles::commit_result(
                &mut chain,
                &contracts,
                honest_server,
                task,
                &data,
                truth.output(),
            )
            .unwrap();
            *paid.entry(honest_server).or_default() += bond;
            recommitted = true;
        }
        if n + 1 < settle_order.len() {
            // Nothing to collect before the round closes.
            let winner = plans
                .iter()
                .position(|p| *p != Plan::SybilLoses)
                .expect("a winner");
            assert!(
                roles::collect(
                    &mut chain,
                    &contracts,
                    deployer,
                    task,
                    0,
                    challengers[winner]
                )
                .is_err()
            );
        }
    }
    for (i, &plan) in plans.iter().enumerate() {
        if plan != Plan::SybilLoses {
            roles::collect(&mut chain, &contracts, deployer, task, 0, challengers[i]).unwrap();
        }
    }
    if recommit {
        let t = roles::read_task(&mut chain, &contracts, task).unwrap();
        let closes = t.committedAt + registry.challenge_window;
        let now = chain.timestamp().unwrap();
        chain.advance_time(closes.saturating_sub(now) + 1).unwrap();
        roles::finalize(&mut chain, &contracts, deployer, task).unwrap();
    } else {
        let t = roles::read_task(&mut chain, &contracts, task).unwrap();
        let now = chain.timestamp().unwrap();
        chain
            .advance_time(t.deadline.saturating_sub(now) + 1)
            .unwrap();
        roles::cancel(&mut chain, &contracts, deployer, task).unwrap();
    }

    // Everyone withdraws; the books are exact.
    let mut withdrawn: BTreeMap<Address, u128> = BTreeMap::new();
    for &account in [requester, liar, honest_server, deployer]
        .iter()
        .chain(&challengers)
    {
        withdrawn.insert(
            account,
            wei(roles::withdraw(&mut chain, &contracts, account).unwrap()),
        );
    }
    let burned = wei(roles::burned(&mut chain, &contracts).unwrap());
    assert_eq!(
        paid.values().sum::<u128>(),
        withdrawn.values().sum::<u128>() + burned,
        "paid == withdrawn + burned"
    );
    assert_eq!(wei(chain.balance(contracts.registry).unwrap()), burned);

    // The exact payoffs.
    let winners = plans.iter().filter(|p| **p != Plan::SybilLoses).count() as u128;
    let losers = plans.len() as u128 - winners;
    let pool = bond - bond / 4 - bond / 4 + losers * bond;
    let share = pool / winners;
    let dust = pool - share * winners;
    assert_eq!(burned, bond / 4 + dust, "burn share and dust");
    let net = |a: Address| withdrawn[&a] as i128 - paid.get(&a).copied().unwrap_or(0) as i128;
    let payoffs = Payoffs {
        liar: net(liar),
        challengers: challengers.iter().map(|&c| net(c)).collect(),
        requester: net(requester),
        honest_server: net(honest_server),
        burned,
    };
    assert_eq!(payoffs.liar, -(bond as i128), "the liar loses its bond");
    for (plan, &got) in plans.iter().zip(&payoffs.challengers) {
        match plan {
            Plan::SybilLoses => assert_eq!(got, -(bond as i128)),
            _ => assert_eq!(got, share as i128, "every winner: its bond and a share"),
        }
    }
    let requester_expected = (bond / 4) as i128 - if recommit { FEE as i128 } else { 0 };
    assert_eq!(payoffs.requester, requester_expected, "requester");
    let server_expected = if recommit { FEE as i128 } else { 0 };
    assert_eq!(payoffs.honest_server, server_expected, "honest server");
    // The liar's coalition (itself and its sybils) always loses at least the burn share and
    // the requester's share; an honest winner always gains.
    let coalition: i128 = payoffs.liar
        + plans
            .iter()
            .zip(&payoffs.challengers)
            .filter(|(p, _)| **p != Plan::Honest)
            .map(|(_, n)| n)
            .sum::<i128>();
    assert!(
        coalition <= -((bond / 2) as i128),
        "coalition nets {coalition}"
    );
    assert!(share > 0);
    payoffs
}
