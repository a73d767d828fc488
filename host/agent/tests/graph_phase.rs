//! Two-phase DNN disputes (`docs/dnn.md`, "Graph phase"): the top phase bisects over the
//! coarse steps of an MNIST model's run (load, one per node, finish), computed natively; the
//! disputed step is re-done in the VM by the `graph-step` guest reading the model and the
//! tensors through the data oracle, down to one instruction verified on chain. Every
//! adversary loses on either side: a wrong tensor at the first, a middle or the last node, a
//! forged state, wrong data fed to the step program, a wrong output over a right graph trace,
//! and silence.

use std::sync::Arc;

use alloy_primitives::B256;
use opml_agent::adversary::LyingTrace;
use opml_agent::arena::{open_game, play};
use opml_agent::{Conduct, Contracts, Party, Player, Program, RegistryConfig};
use opml_chain::EmbeddedChain;
use opml_chain::contracts::DisputeGame;
use opml_dnn::phase::state;
use opml_game::{PhaseConfig, ProgramPhase, ProgramTrace, Trace};
use opml_graph::{GraphError, GraphPhase, STEP_PROGRAM_ELF, STEP_PROGRAM_ID};
use opml_state::Hash;
use opml_vm::{Preimage, PreimageSource, Preimages};

/// The int8 CNN (11 coarse steps, at most 2.4 M instructions each) on held-out digit 0.
fn task(model: &str) -> (Vec<u8>, Vec<u8>) {
    let path = format!(
        "{}/../../toolchain/model/models/{model}.opml",
        env!("CARGO_MANIFEST_DIR")
    );
    let (_, pixels) = mnist::digit(0).unwrap();
    (std::fs::read(path).unwrap(), mnist::graph_input(pixels))
}

/// How a side departs from the honest run.
#[derive(Clone, Copy, Debug)]
enum Lie {
    /// Node `k`'s output altered, every later state consistent with it.
    Tensor(u32),
    /// Made-up states from coarse step `j` on.
    Forged(u64),
    /// The step program of coarse step `j` fed a wrong preimage for node `j − 2`'s entry.
    Data(u64),
    /// The right graph trace, a wrong output: only the last state differs.
    Output,
}

/// A phase whose step program is fed one wrong preimage at coarse step `at`.
struct Tampered {
    phase: GraphPhase,
    at: u64,
}

/// The true preimages, but a made-up answer for one key.
struct Lying {
    truth: Preimages,
    key: Hash,
}

impl PreimageSource for Lying {
    fn preimage(&self, key: &Hash) -> Option<Preimage> {
        let truth = self.truth.preimage(key)?;
        Some(if *key == self.key {
            let mut wrong = truth;
            wrong[4] ^= 1;
            wrong
        } else {
            truth
        })
    }
}

impl Tampered {
    fn source(&self) -> Arc<dyn PreimageSource> {
        let node = (self.at - 2) as usize;
        Arc::new(Lying {
            truth: self.phase.preimages(self.at),
            key: self.phase.run().commitment().nodes()[node],
        })
    }
}

impl ProgramPhase for Tampered {
    type Error = GraphError;

    fn step_count(&self) -> u64 {
        self.phase.step_count()
    }

    /// The tampered step's state is what the step program makes of the wrong data; later
    /// states are made up.
    fn commitment(&mut self, i: u64) -> Result<Hash, GraphError> {
        if i < self.at {
            return Ok(self.phase.state(i));
        }
        let mut machine = Program::new(STEP_PROGRAM_ELF)
            .unwrap()
            .machine(&self.phase.step_input(self.at))
            .unwrap();
        machine.set_preimages(self.source());
        machine.run(1 << 30);
        let tampered: Hash = machine.output().try_into().expect("a state");
        Ok(if i == self.at {
            tampered
        } else {
            state::state(&tampered, &[i as u8; 32], &[0; 32])
        })
    }

    fn step_program_id(&self) -> Hash {
        STEP_PROGRAM_ID
    }

    fn step_input(&mut self, i: u64) -> Result<Vec<u8>, GraphError> {
        Ok(self.phase.step_input(i).to_vec())
    }

    fn step_preimages(&mut self, i: u64) -> Result<Option<Arc<dyn PreimageSource>>, GraphError> {
        if i == self.at {
            return Ok(Some(self.source()));
        }
        self.phase.step_preimages(i)
    }
}

/// The trace a side plays: the honest run, or `lie` about it.
fn trace(file: &[u8], input: &[u8], lie: Option<Lie>) -> Box<dyn Trace + Send> {
    let honest = GraphPhase::new(file, input).unwrap();
    let m = honest.step_count();
    match lie {
        None => Box::new(ProgramTrace::new(honest)),
        Some(Lie::Tensor(k)) => Box::new(ProgramTrace::new(
            GraphPhase::with_fault(file, input, k).unwrap(),
        )),
        Some(Lie::Forged(j)) => {
            let end = state::state(honest.run().task(), &[1; 32], &[2; 32]);
            Box::new(LyingTrace::new(ProgramTrace::new(honest), j, m, end))
        }
        Some(Lie::Data(at)) => Box::new(ProgramTrace::new(Tampered { phase: honest, at })),
        Some(Lie::Output) => {
            let mut output = honest.run().output().unwrap().to_vec();
            output[0] ^= 1;
            let values = honest.run().values().root();
            let run = honest.run();
            let end = state::state(run.task(), &values, &state::byte_commitment(&output));
            Box::new(LyingTrace::new(ProgramTrace::new(honest), m, m, end))
        }
    }
}

/// A side of the game: honest, or lying with `conduct`.
fn player(
    side: Party,
    config: PhaseConfig,
    trace: Box<dyn Trace + Send>,
    liar: Option<Conduct>,
) -> Player {
    let player = match liar {
        Some(conduct) => Player::adversary(side, config, trace, None, conduct),
        None => Player::honest(side, config, trace),
    };
    player.with_step_program(Program::new(STEP_PROGRAM_ELF).unwrap())
}

/// The outcome of one game.
#[derive(Debug)]
struct Outcome {
    winner: Party,
    by_timeout: bool,
    moves: Vec<&'static str>,
}

/// Plays one two-phase game of `model` with `heights`, `liar` lying with `lie` and playing
/// with `conduct`; the claimant's claimed end is its own last state.
fn game(model: &str, heights: &[u8], liar: Party, lie: Lie, conduct: Conduct) -> Outcome {
    let (file, input) = task(model);
    let config = PhaseConfig::program(heights).unwrap();
    let side = |party: Party| {
        let lying = party == liar;
        let trace = trace(&file, &input, lying.then_some(lie));
        player(party, config, trace, lying.then_some(conduct))
    };
    let (mut claimant, mut challenger) = (side(Party::Claimant), side(Party::Challenger));
    let mut chain = EmbeddedChain::new();
    let accounts = chain.accounts().to_vec();
    let contracts = Contracts::deploy(&mut chain, accounts[0], RegistryConfig::default()).unwrap();
    let honest = GraphPhase::new(&file, &input).unwrap();
    let (_, claimed_end, _) = claimant.top_commitment().unwrap();
    let params = DisputeGame::Params {
        claimant: accounts[2],
        challenger: accounts[3],
        startState: B256::from(honest.state(0)),
        claimedEnd: B256::from(claimed_end),
        heights: B256::from(config.pack()),
        clock: 3600,
        stepProgram: B256::from(STEP_PROGRAM_ID),
    };
    let id = open_game(&mut chain, &contracts, params, &mut challenger).unwrap();
    let report = play(
        &mut chain,
        &contracts,
        id,
        &mut claimant,
        &mut challenger,
        &mut |_| {},
    )
    .expect("the game runs");
    Outcome {
        winner: report.winner,
        by_timeout: report.by_timeout,
        moves: report.moves.iter().map(|m| m.name).collect(),
    }
}

/// Asserts that the honest side won `outcome` by the one-step proof.
fn honest_wins_by_the_step(outcome: &Outcome, liar: Party, what: &str) {
    assert_eq!(outcome.winner, liar.opponent(), "{what}: {outcome:?}");
    assert!(!outcome.by_timeout, "{what}: decided on chain, not by time");
    assert_eq!(
        outcome
            .moves
            .iter()
            .filter(|&&m| m == "descendProgram")
            .count(),
        2,
        "{what}: both sides descend into the node step program's run"
    );
    assert_eq!(outcome.moves.last(), Some(&"step"), "{what}");
}

/// The int8 CNN's coarse steps: load, 9 nodes, finish.
const INT8_STEPS: u64 = 11;

#[test]
fn a_wrong_tensor_at_the_first_a_middle_or_the_last_node_loses_on_either_side() {
    for liar in [Party::Claimant, Party::Challenger] {
        for k in [0, 4, INT8_STEPS as u32 - 3] {
            let outcome = game(
                "cnn-int8",
                &[4, 11, 11],
                liar,
                Lie::Tensor(k),
                Conduct::Honest,
            );
            honest_wins_by_the_step(&outcome, liar, &format!("{liar:?}, node {k}"));
        }
    }
}

#[test]
fn two_phases_graph_nodes_to_instruction_settle_too() {
    // k = 2: graph nodes, then single instructions of the node step program's run.
    let outcome = game(
        "cnn-int8",
        &[4, 22],
        Party::Claimant,
        Lie::Tensor(3),
        Conduct::Honest,
    );
    honest_wins_by_the_step(&outcome, Party::Claimant, "k = 2");
    assert_eq!(outcome.moves.iter().filter(|&&m| m == "descend").count(), 0);
}

#[test]
fn an_f32_model_is_disputed_the_same_way() {
    let outcome = game(
        "cnn",
        // The f32 convolutions' steps take up to 8.6 M instructions: 2^24 covers them.
        &[4, 12, 12],
        Party::Claimant,
        Lie::Tensor(2),
        Conduct::Honest,
    );
    honest_wins_by_the_step(&outcome, Party::Claimant, "f32 CNN");
}

#[test]
fn forged_states_lose_on_either_side() {
    for liar in [Party::Claimant, Party::Challenger] {
        for j in [1, 6, INT8_STEPS] {
            let outcome = game(
                "cnn-int8",
                &[4, 11, 11],
                liar,
                Lie::Forged(j),
                Conduct::Honest,
            );
            honest_wins_by_the_step(&outcome, liar, &format!("{liar:?}, forged from {j}"));
        }
    }
}

#[test]
fn wrong_data_fed_to_the_step_program_loses_at_the_preimage_step() {
    for liar in [Party::Claimant, Party::Challenger] {
        let outcome = game(
            "cnn-int8",
            &[4, 11, 11],
            liar,
            Lie::Data(5),
            Conduct::Honest,
        );
        honest_wins_by_the_step(&outcome, liar, &format!("{liar:?}, wrong data"));
    }
}

#[test]
fn a_wrong_output_over_a_right_graph_trace_loses_at_the_finish() {
    for liar in [Party::Claimant, Party::Challenger] {
        let outcome = game("cnn-int8", &[4, 11, 11], liar, Lie::Output, Conduct::Honest);
        honest_wins_by_the_step(&outcome, liar, &format!("{liar:?}, wrong output"));
    }
}

#[test]
fn silence_and_forged_moves_lose_by_time() {
    for conduct in [Conduct::SilentAfter { moves: 2 }, Conduct::ForgedDescent] {
        for liar in [Party::Claimant, Party::Challenger] {
            let outcome = game("cnn-int8", &[4, 11, 11], liar, Lie::Tensor(4), conduct);
            assert_eq!(
                outcome.winner,
                liar.opponent(),
                "{conduct:?} by the {liar:?}"
            );
            assert!(
                outcome.by_timeout,
                "{conduct:?} by the {liar:?}: {outcome:?}"
            );
        }
    }
}
