//! Games whose top phase is program-defined (`docs/game-design.md`): the leaves are a
//! program's own commitments `C(i)`, computed natively, and the disputed coarse step is re-done
//! in the VM by its step program (`chain-step`: one link of a SHA-256 hash chain), whose run
//! the lower phases bisect down to one instruction. The descent checks that each side's run
//! ends in a clean exit whose output is its own `C(j)`, from a start the game derives from the
//! agreed `C(j−1)` and `j`. The honest side wins against every strategy, on either side.

use std::convert::Infallible;

use alloy_primitives::{B256, U256, keccak256};
use alloy_sol_types::SolCall;
use opml_agent::arena::{open_game, play};
use opml_agent::deploy::send;
use opml_agent::{Conduct, Contracts, Party, Player, Program, RegistryConfig};
use opml_chain::EmbeddedChain;
use opml_chain::contracts::DisputeGame;
use opml_game::{PhaseConfig, ProgramPhase, ProgramTrace};
use opml_state::Hash;

/// The hash chain of `chain-step`, honest or lying from link `lie_from` on (a
/// consistent-looking wrong chain).
struct HashChain {
    links: Vec<Hash>,
}

impl HashChain {
    fn new(lie_from: Option<u64>) -> HashChain {
        let mut links = vec![keccak256(b"opml program-defined phase").0];
        for j in 1..=chain_step::LINKS {
            let previous = links[j as usize - 1];
            let next = match lie_from {
                Some(from) if j >= from => keccak256([previous.as_slice(), b"lie"].concat()).0,
                _ => chain_step::link(&previous, j),
            };
            links.push(next);
        }
        HashChain { links }
    }
}

impl ProgramPhase for HashChain {
    type Error = Infallible;

    fn step_count(&self) -> u64 {
        chain_step::LINKS
    }

    fn commitment(&mut self, i: u64) -> Result<Hash, Infallible> {
        Ok(self.links[i.min(chain_step::LINKS) as usize])
    }

    fn step_program_id(&self) -> Hash {
        opml_methods::CHAIN_STEP_ID
    }

    fn step_input(&mut self, i: u64) -> Result<Vec<u8>, Infallible> {
        let mut input = self.commitment(i - 1)?.to_vec();
        input.extend_from_slice(&i.to_be_bytes());
        Ok(input)
    }
}

/// A player of `side` on the chain, lying from `lie_from` with `conduct` if given.
fn player(side: Party, config: PhaseConfig, lie_from: Option<u64>, conduct: Conduct) -> Player {
    let trace = Box::new(ProgramTrace::new(HashChain::new(lie_from)));
    let step = Program::new(opml_methods::CHAIN_STEP_ELF).expect("the step program loads");
    let player = match lie_from {
        None => Player::honest(side, config, trace),
        Some(_) => Player::adversary(side, config, trace, None, conduct),
    };
    player.with_step_program(step)
}

/// Plays one game; returns (winner, by timeout, move names).
fn game(liar: Party, lie_from: u64, conduct: Conduct) -> (Party, bool, Vec<&'static str>) {
    // 2^5 links cover the 24 of the chain; 2^14 instructions cover one link's VM run.
    let config = PhaseConfig::program(&[5, 7, 7]).unwrap();
    let mut chain = EmbeddedChain::new();
    let accounts = chain.accounts().to_vec();
    let contracts = Contracts::deploy(&mut chain, accounts[0], RegistryConfig::default()).unwrap();
    let lie = |side| (side == liar).then_some(lie_from);
    let mut claimant = player(Party::Claimant, config, lie(Party::Claimant), conduct);
    let mut challenger = player(Party::Challenger, config, lie(Party::Challenger), conduct);
    let (_, claimed_end, _) = claimant.top_commitment().unwrap();
    let params = DisputeGame::Params {
        claimant: accounts[2],
        challenger: accounts[3],
        startState: B256::from(HashChain::new(None).links[0]),
        claimedEnd: B256::from(claimed_end),
        heights: B256::from(config.pack()),
        clock: 3600,
        stepProgram: B256::from(opml_methods::CHAIN_STEP_ID),
    };
    let id = open_game(&mut chain, &contracts, params, &mut challenger)
        .expect("the challenger opens the game");
    let report = play(
        &mut chain,
        &contracts,
        id,
        &mut claimant,
        &mut challenger,
        &mut |_| {},
    )
    .expect("the game runs");
    let names = report.moves.iter().map(|m| m.name).collect();
    (report.winner, report.by_timeout, names)
}

#[test]
fn a_lying_server_loses_at_any_link() {
    for lie_from in [1, 2, 13, 24] {
        let (winner, by_timeout, moves) = game(Party::Claimant, lie_from, Conduct::Honest);
        assert_eq!(winner, Party::Challenger, "lie from link {lie_from}");
        assert!(
            !by_timeout,
            "lie from link {lie_from}: decided by the step proof"
        );
        assert_eq!(
            moves.iter().filter(|&&m| m == "descendProgram").count(),
            2,
            "both sides descend into the step program's run"
        );
        assert_eq!(moves.iter().filter(|&&m| m == "descend").count(), 2);
        assert_eq!(moves.last(), Some(&"step"));
    }
}

#[test]
fn a_lying_challenger_loses_at_any_link() {
    for lie_from in [1, 7, 24] {
        let (winner, by_timeout, _) = game(Party::Challenger, lie_from, Conduct::Honest);
        assert_eq!(winner, Party::Claimant, "lie from link {lie_from}");
        assert!(!by_timeout, "lie from link {lie_from}");
    }
}

#[test]
fn forged_silent_and_bad_moves_lose_on_either_side() {
    for conduct in [
        Conduct::ForgedDescent,
        Conduct::BadReveal,
        Conduct::SilentAfter { moves: 3 },
    ] {
        for liar in [Party::Claimant, Party::Challenger] {
            let (winner, by_timeout, moves) = game(liar, 9, conduct);
            assert_eq!(winner, liar.opponent(), "{conduct:?} by the {liar:?}");
            assert!(by_timeout, "{conduct:?} by the {liar:?}: {moves:?}");
        }
    }
}

/// Plays game `id` until both sides stand at the program-defined descent (the challenger on
/// turn), without sending that move.
fn play_to_program_descent(
    chain: &mut EmbeddedChain,
    contracts: &Contracts,
    id: u64,
    claimant: &mut Player,
    challenger: &mut Player,
) -> opml_agent::GameRecord {
    loop {
        let g = opml_agent::arena::read_game(chain, contracts, id).unwrap();
        if g.stage == opml_agent::Stage::Descent {
            return g;
        }
        let player = if g.turn == Party::Claimant {
            &mut *claimant
        } else {
            &mut *challenger
        };
        let mv = player.next_move(&g, 3600).unwrap().expect("a move");
        let from = g.account(g.turn).unwrap();
        send(chain, from, contracts.game, U256::ZERO, mv.calldata(id)).expect("accepted");
    }
}

#[test]
fn invalid_program_descents_revert_with_custom_errors() {
    let config = PhaseConfig::program(&[5, 7, 7]).unwrap();
    let mut chain = EmbeddedChain::new();
    let accounts = chain.accounts().to_vec();
    let contracts = Contracts::deploy(&mut chain, accounts[0], RegistryConfig::default()).unwrap();
    let mut claimant = player(Party::Claimant, config, Some(10), Conduct::Honest);
    let mut challenger = player(Party::Challenger, config, None, Conduct::Honest);
    let (_, claimed_end, _) = claimant.top_commitment().unwrap();
    let params = DisputeGame::Params {
        claimant: accounts[2],
        challenger: accounts[3],
        startState: B256::from(HashChain::new(None).links[0]),
        claimedEnd: B256::from(claimed_end),
        heights: B256::from(config.pack()),
        clock: 3600,
        stepProgram: B256::from(opml_methods::CHAIN_STEP_ID),
    };
    open_game(&mut chain, &contracts, params, &mut challenger).unwrap();
    let g = play_to_program_descent(&mut chain, &contracts, 0, &mut claimant, &mut challenger);
    assert_eq!(g.position + 1, 10, "the chains part at link 10");
    let Some(opml_agent::Move::DescendProgram {
        child_root,
        last_leaf_proof,
        agreed_proof,
        step_initial_state,
        final_state,
    }) = challenger.next_move(&g, 3600).unwrap()
    else {
        panic!("the challenger descends into the step program")
    };
    let call = |root: Hash, initial: &[u8], final_state: &[u8], agreed: &[Hash]| {
        DisputeGame::descendProgramCall {
            id: U256::ZERO,
            childRoot: B256::from(root),
            lastLeafProof: last_leaf_proof.iter().copied().map(B256::from).collect(),
            agreedProof: agreed.iter().copied().map(B256::from).collect(),
            stepInitialState: initial.to_vec().into(),
            finalState: final_state.to_vec().into(),
        }
        .abi_encode()
    };
    let revert = |chain: &mut EmbeddedChain, data: Vec<u8>| match send(
        chain,
        accounts[3],
        contracts.game,
        U256::ZERO,
        data.into(),
    ) {
        Err(opml_agent::AgentError::Chain(opml_chain::ChainError::Revert {
            error: Some(error),
            ..
        })) => error,
        other => panic!("expected a revert, got {other:?}"),
    };
    // Another program's initial state.
    let echo = Program::new(opml_methods::ECHO_ELF).unwrap();
    let error = revert(
        &mut chain,
        call(
            child_root,
            echo.initial_state(),
            &final_state,
            &agreed_proof,
        ),
    );
    assert!(error.starts_with("StepProgramMismatch"), "{error}");
    // A final state that is not a clean exit with the mover's own commitment: the claimant's.
    let mut wrong_output = final_state.clone();
    wrong_output[opml_state::layout::OUTPUT_ACC] ^= 1;
    let error = revert(
        &mut chain,
        call(
            child_root,
            &step_initial_state,
            &wrong_output,
            &agreed_proof,
        ),
    );
    assert!(
        error.starts_with("NodeMismatch"),
        "the final state is the tree's last leaf: {error}"
    );
    let error = revert(
        &mut chain,
        call(
            child_root,
            &step_initial_state,
            &final_state[..280],
            &agreed_proof,
        ),
    );
    assert!(
        error.starts_with("NodeMismatch") || error.starts_with("StateLength"),
        "{error}"
    );
    // A run that ends in a clean tree but not in a clean exit with the mover's commitment.
    let mut failed = final_state.clone();
    failed[opml_state::layout::EXIT_CODE + 3] = 1;
    let mut leaves = vec![[7u8; 32]; 1 << 7];
    leaves[(1 << 7) - 1] = opml_state::sha256(&failed);
    let tree = opml_game::HistoryTree::new(7, leaves).unwrap();
    let bad = DisputeGame::descendProgramCall {
        id: U256::ZERO,
        childRoot: B256::from(tree.root()),
        lastLeafProof: tree.last_proof().iter().copied().map(B256::from).collect(),
        agreedProof: agreed_proof.iter().copied().map(B256::from).collect(),
        stepInitialState: step_initial_state.clone().into(),
        finalState: failed.into(),
    }
    .abi_encode();
    assert_eq!(revert(&mut chain, bad), "BadStepResult");
    // The VM descent at a program-defined phase.
    let vm_descent = DisputeGame::descendCall {
        id: U256::ZERO,
        childRoot: B256::from(child_root),
        lastLeafProof: vec![],
        agreedProof: vec![],
    }
    .abi_encode();
    let error = revert(&mut chain, vm_descent);
    assert_eq!(error, "WrongDescent");
    // The real move goes through; the claimant may not reopen the step program.
    send(
        &mut chain,
        accounts[3],
        contracts.game,
        U256::ZERO,
        call(child_root, &step_initial_state, &final_state, &agreed_proof).into(),
    )
    .expect("the honest descent");
    let g = opml_agent::arena::read_game(&mut chain, &contracts, 0).unwrap();
    let Some(opml_agent::Move::DescendProgram {
        child_root,
        last_leaf_proof,
        final_state,
        ..
    }) = claimant.next_move(&g, 3600).unwrap()
    else {
        panic!("the claimant descends too")
    };
    let reopen = DisputeGame::descendProgramCall {
        id: U256::ZERO,
        childRoot: B256::from(child_root),
        lastLeafProof: last_leaf_proof.into_iter().map(B256::from).collect(),
        agreedProof: vec![],
        stepInitialState: step_initial_state.into(),
        finalState: final_state.into(),
    }
    .abi_encode();
    match send(
        &mut chain,
        accounts[2],
        contracts.game,
        U256::ZERO,
        reopen.into(),
    ) {
        Err(opml_agent::AgentError::Chain(opml_chain::ChainError::Revert {
            error: Some(error),
            ..
        })) => assert_eq!(error, "UnexpectedProof"),
        other => panic!("expected UnexpectedProof, got {other:?}"),
    }
}
