//! The randomized adversarial suite: 1,000 complete opML disputes on the embedded EVM, over
//! random programs and inputs, random phase configurations (k = 1..4), random cheat positions
//! and every adversary strategy, on both sides. The honest side wins every game, and the
//! registry's books balance exactly: every wei paid in is withdrawn by someone or burned, and
//! the registry ends holding exactly the burned wei.
//!
//! Every tenth game also plays the task with several challengers against a lying server
//! (`common/sybil.rs`): honest ones, and the liar's sybils that lose on purpose or win against
//! their own liar (a self-challenge), settled in a random order, with or without an honest
//! server for the reopened task; every party's payoff is checked to the wei.
//!
//! `OPML_GAMES=n` runs another number of games; `OPML_GAMES_SEED=s` another seed.

#[path = "common/sybil.rs"]
mod sybil;

use std::collections::BTreeMap;

use alloy_primitives::U256;
use opml_agent::scenario::{self, Adversary, DisputeReport, Scenario};
use opml_agent::{Conduct, Party, Program, RegistryConfig};
use opml_chain::EmbeddedChain;
use opml_game::PhaseConfig;
use opml_tests::RandomProgram;
use opml_tests::rng::Rng;
use sybil::{Plan, play_story};

/// Games in the suite.
const GAMES: u64 = 1_000;

/// A random task: a random RV32IM program (which ignores its input) or the echo guest on a
/// random input (which reads all of it and writes it reversed).
fn random_task(rng: &mut Rng, seed: u64, echo: &Program) -> (Program, Vec<u8>) {
    if rng.one_in(2) {
        let ops = rng.range(1, 120) as usize;
        let elf = RandomProgram::new(seed, ops).elf();
        (Program::new(&elf).expect("generated ELF loads"), Vec::new())
    } else {
        let len = rng.range(0, 200) as usize;
        let mut input = vec![1u8]; // echo's raw mode
        input.extend((0..len).map(|_| rng.next_u32() as u8));
        (echo.clone(), input)
    }
}

/// Random heights for `k` phases summing to `total`.
fn random_config(rng: &mut Rng, steps: u64) -> PhaseConfig {
    let needed = 64 - steps.leading_zeros(); // 2^needed > steps
    let total = needed + rng.range(0, 2) as u32;
    let k = rng.range(1, 4).min(total as i32) as usize;
    let mut heights = vec![1u8; k];
    for _ in 0..total as usize - k {
        heights[rng.below(k as u32) as usize] += 1;
    }
    PhaseConfig::new(&heights).expect("valid heights")
}

/// A random cheat position: the first or last step, a phase boundary, or anywhere.
fn random_step(rng: &mut Rng, config: &PhaseConfig, steps: u64) -> u64 {
    match rng.below(4) {
        0 => 1,
        1 => steps,
        2 => {
            let phase = rng.below(config.len() as u32) as usize;
            let stride = config.stride(phase).expect("phase in range");
            (stride * u64::from(rng.next_u32()) % steps.max(1)).max(1)
        }
        _ => 1 + rng.next_u64() % steps.max(1),
    }
}

/// Random challengers for a sybil story (2 to 5, at least one winner), a random settlement
/// order and whether an honest server serves the reopened task.
fn random_sybils(rng: &mut Rng) -> (Vec<Plan>, Vec<usize>, bool) {
    let n = rng.range(2, 5) as usize;
    let mut plans: Vec<Plan> = (0..n)
        .map(|_| match rng.below(3) {
            0 => Plan::Honest,
            1 => Plan::SybilWins,
            _ => Plan::SybilLoses,
        })
        .collect();
    if plans.iter().all(|p| *p == Plan::SybilLoses) {
        plans[0] = Plan::Honest;
    }
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        order.swap(i, rng.below(i as u32 + 1) as usize);
    }
    (plans, order, rng.one_in(2))
}

/// A random strategy that the configuration allows.
fn random_conduct(rng: &mut Rng, config: &PhaseConfig, total_moves: usize) -> Conduct {
    let k = config.len();
    match rng.below(6) {
        0 => Conduct::Honest,
        1 => Conduct::SilentAfter {
            moves: rng.below(total_moves as u32 + 1) as usize,
        },
        2 if k > 1 => Conduct::Inconsistent {
            phase: 1 + rng.below(k as u32 - 1) as usize,
        },
        3 if k > 1 => Conduct::ForgedDescent,
        4 => Conduct::BadReveal,
        // A wrong output with a trace that is right up to the last step.
        _ => Conduct::Honest,
    }
}

fn strategy_name(adversary: &Adversary, steps: u64) -> String {
    let conduct = match adversary.conduct {
        Conduct::Honest if adversary.from_step >= steps => "wrong-output".to_owned(),
        Conduct::Honest => "cheat-at-step".to_owned(),
        Conduct::SilentAfter { .. } => "silent".to_owned(),
        Conduct::Inconsistent { .. } => "inconsistent-phases".to_owned(),
        Conduct::ForgedDescent => "forged-descent".to_owned(),
        Conduct::BadReveal => "bad-reveal".to_owned(),
    };
    format!("{:?}/{conduct}", adversary.side)
}

fn check_books(report: &DisputeReport) {
    let ledger = &report.ledger;
    let sum = |values: [&String; 4]| {
        values
            .iter()
            .map(|v| v.parse::<U256>().expect("a number"))
            .fold(U256::ZERO, |a, b| a + b)
    };
    let paid = sum([
        &ledger.requester.paid,
        &ledger.server.paid,
        &ledger.challenger.paid,
        &ledger.second_server.paid,
    ]);
    let withdrawn = sum([
        &ledger.requester.withdrawn,
        &ledger.server.withdrawn,
        &ledger.challenger.withdrawn,
        &ledger.second_server.withdrawn,
    ]);
    let burned: U256 = ledger.burned.parse().expect("a number");
    assert_eq!(paid, withdrawn + burned, "books do not balance: {ledger:?}");
    assert_eq!(
        ledger.registry_balance_after, ledger.burned,
        "the registry holds more than the burned wei"
    );
    // A lying server that lost pays its whole bond; a quarter of it is burned.
    let bond = U256::from(10u64).pow(U256::from(18u64));
    if report.finalized {
        assert_eq!(burned, U256::ZERO, "nothing burned: {ledger:?}");
    } else {
        assert_eq!(burned, bond / U256::from(4u64), "burn share: {ledger:?}");
        assert_eq!(ledger.server.withdrawn, "0", "the liar keeps nothing");
    }
}

#[test]
fn honest_side_wins_every_game_and_books_balance() {
    let games = std::env::var("OPML_GAMES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(GAMES);
    let seed0 = std::env::var("OPML_GAMES_SEED")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0x6f706d6c);
    let echo = Program::new(opml_methods::ECHO_ELF).expect("echo loads");
    let mut by_strategy: BTreeMap<String, u64> = BTreeMap::new();
    let mut by_k = [0u64; 5];
    let mut timeouts = 0;
    let mut by_plan: BTreeMap<String, u64> = BTreeMap::new();
    for game in 0..games {
        let seed = seed0 ^ game.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let mut rng = Rng::new(seed);
        let (program, input) = random_task(&mut rng, seed, &echo);
        let steps = {
            let mut machine = program.machine(&input).expect("loads");
            machine.run(1 << 24);
            assert!(
                machine.status().is_halted(),
                "game {game}: task does not halt"
            );
            machine.step_count()
        };
        let config = random_config(&mut rng, steps);
        let total: u32 = config.heights().iter().map(|&h| u32::from(h)).sum();
        let side = if rng.one_in(2) {
            Party::Claimant
        } else {
            Party::Challenger
        };
        let adversary = Adversary {
            side,
            from_step: random_step(&mut rng, &config, steps),
            conduct: random_conduct(&mut rng, &config, 2 * total as usize + 2 * config.len()),
        };
        let name = strategy_name(&adversary, steps);
        if game % 10 == 0 {
            let (plans, order, recommit) = random_sybils(&mut rng);
            let from_step = adversary.from_step;
            let payoffs = std::panic::catch_unwind(|| {
                play_story(
                    &program, &input, config, from_step, &plans, &order, recommit,
                )
            })
            .unwrap_or_else(|_| {
                panic!("game {game} (sybils {plans:?}, order {order:?}, {config}, seed {seed})")
            });
            assert!(payoffs.liar < 0, "game {game}: the liar pays");
            assert!(
                payoffs.burned >= 10u128.pow(18) / 4,
                "game {game}: the burn share"
            );
            for plan in plans {
                *by_plan.entry(format!("{plan:?}")).or_default() += 1;
            }
        }
        let scenario = Scenario {
            program,
            input,
            model: None,
            config,
            registry: RegistryConfig::default(),
            adversary: Some(adversary),
            claimed_output: None,
            late_join_s: 0,
            runs: Default::default(),
        };
        let mut chain = EmbeddedChain::new();
        let report = scenario::run(&mut chain, &scenario, &mut |_| {})
            .unwrap_or_else(|error| panic!("game {game} ({name}, {config}, seed {seed}): {error}"));
        assert!(
            report.honest_won,
            "game {game} ({name}, {config}, seed {seed}): the adversary won: {}",
            serde_json::to_string(&report).expect("report serializes")
        );
        let played = report.game.as_ref().expect("every adversary is disputed");
        assert_ne!(played.winner, side, "game {game}: {name} won");
        check_books(&report);
        let refused = played.moves.iter().filter(|m| m.refused).count();
        match adversary.conduct {
            // Every game reveals, and (k > 1) descends: the forgery is tried and refused.
            Conduct::BadReveal | Conduct::ForgedDescent => {
                assert_eq!(
                    refused, 1,
                    "game {game} ({name}): forged move not refused once"
                );
                assert!(played.by_timeout, "game {game} ({name}): must end silent");
            }
            // The inconsistent child trace is caught by the step, not by a clock.
            Conduct::Inconsistent { .. } | Conduct::Honest => {
                assert_eq!(refused, 0, "game {game} ({name})");
                assert!(
                    !played.by_timeout,
                    "game {game} ({name}): must end by the step"
                );
            }
            Conduct::SilentAfter { .. } => assert_eq!(refused, 0, "game {game} ({name})"),
        }
        timeouts += u64::from(played.by_timeout);
        *by_strategy.entry(name).or_default() += 1;
        by_k[config.len()] += 1;
    }
    eprintln!(
        "{games} games; by strategy: {by_strategy:?}; by k: {by_k:?}; timeouts: {timeouts}; \
         sybil-story challengers: {by_plan:?}"
    );
    if games >= GAMES {
        // Every strategy on both sides and every k were drawn.
        assert_eq!(by_strategy.len(), 12, "strategies drawn: {by_strategy:?}");
        assert!(by_k[1..].iter().all(|&n| n > 0), "k drawn: {by_k:?}");
        assert_eq!(by_plan.len(), 3, "every sybil plan drawn: {by_plan:?}");
    }
}
