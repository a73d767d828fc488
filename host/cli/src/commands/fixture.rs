//! `opml fixture`: everything a forge test needs about one run of a guest (program ID, input
//! commitment, packed initial and final states, output, steps, a phase configuration), and with
//! `--disputes` two complete games of it played on an embedded EVM, every move recorded as
//! calldata, for a forge harness to replay against the real `DisputeGame` and `RiscvStep`
//! (`contracts/test/Replay.t.sol`, `contracts/README.md`, "The forge kit").

use std::path::PathBuf;

use alloy_primitives::keccak256;
use anyhow::{Context, Result, bail, ensure};
use clap::Args;
use opml_agent::adversary::{LyingTrace, wrong_final_state};
use opml_agent::arena::{self, GameEvent};
use opml_agent::{Conduct, Contracts, Party, Player, Program, RegistryConfig};
use opml_chain::EmbeddedChain;
use opml_chain::contracts::DisputeGame;
use opml_game::{MAX_TOTAL_HEIGHT, PhaseConfig, VmTrace};
use opml_state::{Hash, input, sha256};
use serde_json::{Value, json};

use crate::commands::demo::default_phases;
use crate::guest_input::GuestArgs;
use crate::json::{self, hex};
use crate::progress;

/// Arguments of `opml fixture`.
#[derive(Args)]
pub(crate) struct FixtureArgs {
    #[command(flatten)]
    guest: GuestArgs,
    /// Where to write the fixture.
    #[arg(long, value_name = "FILE.json")]
    json: PathBuf,
    /// Phase heights of the task, top first (e.g. `4,4`). Default: sized to the run, as
    /// `opml demo` does.
    #[arg(long)]
    phases: Option<PhaseConfig>,
    /// Also play two disputes on an embedded EVM and record every move: a lying claimant
    /// against an honest challenger, and an honest claimant against a lying challenger (each
    /// liar departs from the true run at half its steps).
    #[arg(long)]
    disputes: bool,
}

/// Writes the fixture of the guest's run.
pub(crate) fn fixture(args: FixtureArgs) -> Result<u8> {
    crate::out_path::check(&args.json, "--json")?;
    let loaded = args.guest.load()?;
    let program = Program::new(&loaded.elf)?;
    let mut machine = loaded.machine;
    let start_state = machine.state_hash();
    // Step 0, for the traces of the disputes (with the same input and preimages).
    let start = machine.clone();
    let limit = args
        .phases
        .map_or(1 << MAX_TOTAL_HEIGHT, |config| config.total_steps());
    let status = progress::run(&mut machine, limit, progress::steps_bar(None, "running"))?;
    ensure!(
        status.is_halted(),
        "the guest did not halt within {limit} steps (a task's games cover at most that)"
    );
    let steps = machine.step_count();
    let config = match args.phases {
        Some(config) => config,
        None => default_phases(steps)?,
    };
    let final_state = machine.state();
    let mut fixture = json!({
        "program_id": hex(&program.id()),
        "initial_state": hex(program.initial_state()),
        "input": hex(machine.input()),
        "input_commitment": hex(&input::commitment(machine.input())),
        "start_state": hex(&start_state),
        "final_state": hex(&final_state.encode()),
        "final_state_hash": hex(&final_state.hash()),
        "status": json::status(status),
        "steps": steps,
        "output": hex(machine.output()),
        "phases": config.heights(),
        "heights": hex(&config.pack()),
    });
    if args.disputes {
        let bar = progress::spinner("playing two disputes on an embedded EVM");
        // One recorded run, shared by both sides of both games (clones share its snapshots).
        let recorded = VmTrace::record(
            start.clone(),
            config.total_steps(),
            VmTrace::snapshots_for(&config),
        );
        let trace = || recorded.clone();
        let (claim_state, claim_hash, claim_output) =
            wrong_final_state(&final_state, machine.output());
        fixture["disputes"] = json!({
            "lying_claimant": dispute(
                &config,
                Liar::Claimant { claim_hash },
                [trace(), trace()],
                (&claim_state, &claim_output),
            )?,
            "lying_challenger": dispute(
                &config,
                Liar::Challenger { end: keccak256(final_state.hash()).0 },
                [trace(), trace()],
                (&final_state.encode(), machine.output()),
            )?,
        });
        bar.finish_and_clear();
    }
    std::fs::write(&args.json, serde_json::to_string_pretty(&fixture)? + "\n")
        .with_context(|| format!("cannot write {}", args.json.display()))?;
    Ok(0)
}

/// Who lies in a recorded dispute, and what it claims.
enum Liar {
    /// The claimant claims the final state hashing to `claim_hash`.
    Claimant { claim_hash: Hash },
    /// The challenger claims its run ends in `end`.
    Challenger { end: Hash },
}

/// Plays one game of `config` between a liar and an honest side on a fresh embedded EVM (its
/// game 0), both standing for `truths` (claimant's, challenger's); returns the game's
/// parameters, the challenger's opening and every move as calldata, with the claim
/// `(packed state, output)` the claimant defends.
fn dispute(
    config: &PhaseConfig,
    liar: Liar,
    truths: [VmTrace; 2],
    claim: (&[u8], &[u8]),
) -> Result<Value> {
    let [claimant_truth, challenger_truth] = truths;
    let start_state = claimant_truth.initial_state_hash();
    let lie_from = claimant_truth.end_step() / 2;
    let honest = |side, truth| Player::honest(side, *config, Box::new(truth));
    let lying = |side, truth, end| {
        let trace = LyingTrace::about(truth, lie_from, end);
        Player::adversary(side, *config, Box::new(trace), None, Conduct::Honest)
    };
    let (claimed_end, mut claimant, mut challenger, winner) = match liar {
        Liar::Claimant { claim_hash } => (
            claim_hash,
            lying(Party::Claimant, claimant_truth, claim_hash),
            honest(Party::Challenger, challenger_truth),
            Party::Challenger,
        ),
        Liar::Challenger { end } => (
            claimant_truth.final_state_hash(),
            honest(Party::Claimant, claimant_truth),
            lying(Party::Challenger, challenger_truth, end),
            Party::Claimant,
        ),
    };
    ensure!(
        sha256(claim.0) == claimed_end,
        "the claim is not the claimed end"
    );

    let mut chain = EmbeddedChain::new();
    let [deployer, claimant_account, challenger_account, ..] = *chain.accounts() else {
        bail!("the embedded chain has fewer than three accounts");
    };
    let registry = RegistryConfig::default();
    let contracts = Contracts::deploy(&mut chain, deployer, registry)?;
    let params = DisputeGame::Params {
        claimant: claimant_account,
        challenger: challenger_account,
        startState: start_state.into(),
        claimedEnd: claimed_end.into(),
        heights: config.pack().into(),
        clock: registry.game_clock,
        stepProgram: Default::default(),
    };
    let (root, end, end_proof) = challenger.top_commitment()?;
    let id = arena::open_game(&mut chain, &contracts, params, &mut challenger)?;
    let mut moves = Vec::new();
    let mut unexpected = None;
    let report = arena::play(
        &mut chain,
        &contracts,
        id,
        &mut claimant,
        &mut challenger,
        &mut |event| match event {
            GameEvent::Moved { side, mv, .. } => moves.push(json!({
                "party": side,
                "function": mv.name(),
                "calldata": hex(&mv.calldata(id)),
            })),
            GameEvent::Refused { .. } | GameEvent::Waited { .. } => {
                unexpected.get_or_insert_with(|| format!("{event:?}"));
            }
            GameEvent::Resolved { .. } => {}
        },
    )?;
    if let Some(event) = unexpected {
        bail!("the game did not end by the step proof: {event}");
    }
    ensure!(
        report.winner == winner,
        "the liar won game {id}: {:?}",
        report.winner
    );
    Ok(json!({
        "game_id": id,
        "claimant": claimant_account.to_string(),
        "challenger": challenger_account.to_string(),
        "start_state": hex(&start_state),
        "claimed_end": hex(&claimed_end),
        "claimed_state": hex(claim.0),
        "claimed_output": hex(claim.1),
        "heights": hex(&config.pack()),
        "clock": registry.game_clock,
        "challenger_root": hex(&root),
        "challenger_end": hex(&end),
        "challenger_end_proof": end_proof.iter().map(|h| hex(h)).collect::<Vec<_>>(),
        "lie_from_step": lie_from,
        "winner": winner,
        "moves": moves,
    }))
}
