//! The server and challenger services, each polling the chain through its own connection (as
//! separate processes would), with the test moving the clock when nobody has anything to do.

use alloy_primitives::U256;
use opml_agent::roles::{self, GraphRequest, TaskRequest, TaskStatus};
use opml_agent::service::{Challenger, Server, Service};
use opml_agent::{AgentError, Contracts, ModelStore, Program, RegistryConfig};
use opml_chain::{Chain, EmbeddedChain, RpcChain};
use opml_game::PhaseConfig;
use opml_graph::{GraphPhase, STEP_PROGRAM_ID};

#[path = "support/services.rs"]
mod services;
use services::{anvil, output_of, poll_once, run, said, status};

/// The fee the requester pays: 0.1 ether.
const FEE: u128 = 100_000_000_000_000_000;

/// Echo in raw mode: the output is the input's bytes reversed.
fn echo_input(text: &[u8]) -> Vec<u8> {
    let mut input = vec![1u8];
    input.extend_from_slice(text);
    input
}

/// Deploys the suite from account 0 and posts a task of `input` for the echo guest from
/// account 1; returns the suite, the program and the task id.
fn post(chain: &mut dyn Chain, input: &[u8]) -> (Contracts, Program, u64) {
    let accounts = chain.accounts().to_vec();
    let contracts = Contracts::deploy(chain, accounts[0], RegistryConfig::default()).unwrap();
    let program = Program::new(opml_methods::ECHO_ELF).unwrap();
    let commitment = roles::publish_input(chain, &contracts, accounts[1], input).unwrap();
    let deadline = chain.timestamp().unwrap() + 86_400;
    let request = TaskRequest {
        program_id: program.id(),
        input_commitment: commitment,
        config: PhaseConfig::new(&[6, 6]).unwrap(),
        fee: U256::from(FEE),
        deadline,
    };
    let task = roles::post_task(chain, &contracts, accounts[1], &request).unwrap();
    (contracts, program, task)
}

/// The small int8 CNN's `.opml` file and held-out digit 0's graph input.
fn cnn_task() -> (Vec<u8>, Vec<u8>) {
    let path = format!(
        "{}/../../toolchain/model/models/cnn-int8.opml",
        env!("CARGO_MANIFEST_DIR")
    );
    let (_, pixels) = mnist::digit(0).unwrap();
    (std::fs::read(path).unwrap(), mnist::graph_input(pixels))
}

/// Deploys the suite from account 0 (unless `contracts` are given) and posts a graph task of
/// the model of root `model_root` on `input` (heights 4, 11, 11; a week to its deadline) from
/// account 1; returns the suite and the task id.
fn post_graph(
    chain: &mut dyn Chain,
    contracts: Option<Contracts>,
    model_root: [u8; 32],
    input: &[u8],
) -> (Contracts, u64) {
    let accounts = chain.accounts().to_vec();
    let contracts = contracts.unwrap_or_else(|| {
        Contracts::deploy(chain, accounts[0], RegistryConfig::default()).unwrap()
    });
    let request = GraphRequest {
        step_program: STEP_PROGRAM_ID,
        model_root,
        input: input.to_vec(),
        config: PhaseConfig::program(&[4, 11, 11]).unwrap(),
        fee: U256::from(FEE),
        deadline: chain.timestamp().unwrap() + 7 * 86_400,
    };
    let task = roles::post_graph_task(chain, &contracts, accounts[1], &request).unwrap();
    (contracts, task)
}

#[test]
fn a_lying_server_is_disputed_and_slashed_on_anvil() {
    let (_anvil, mut chain, mut server_chain, mut challenger_chain) = anvil();
    let input = echo_input(b"a wrong result, caught by a separate challenger process");
    let (contracts, program, task) = post(&mut chain, &input);
    let server_account = server_chain.accounts()[0];
    let challenger_account = challenger_chain.accounts()[0];
    let mut server = Server::new(server_account, contracts, [program.clone()], Some(400));
    let mut challenger = Challenger::new(challenger_account, contracts, [program]);

    let transcript = run(
        &mut chain,
        (&mut server, &mut server_chain),
        (&mut challenger, &mut challenger_chain),
        false,
        RegistryConfig::default().game_clock,
    );
    assert!(said(&transcript.server, "committed a WRONG result"));
    assert!(said(&transcript.challenger, "disputed it in game 0"));
    assert!(said(&transcript.challenger, "proved step"));
    assert!(said(&transcript.challenger, "the challenger won"));
    assert!(said(&transcript.server, "task 0: rejected"));
    // The winner's bond and the pool: half the server's bond.
    let bond_and_pool = 10u128.pow(18) + 10u128.pow(18) / 2;
    assert!(said(
        &transcript.challenger,
        &format!("withdrew {bond_and_pool} wei")
    ));
    assert!(!said(&transcript.server, "withdrew"));

    // The round is rejected and the task open again, for round 1.
    assert_eq!(status(&mut chain, &contracts, task), TaskStatus::Open);
    assert_eq!(
        roles::read_task(&mut chain, &contracts, task)
            .unwrap()
            .round,
        1
    );
    for account in [server_account, challenger_account] {
        assert_eq!(
            roles::credit(&mut chain, &contracts, account).unwrap(),
            U256::ZERO
        );
    }
    // The requester's compensation waits for it, the fee waits for round 1, and the burned
    // quarter stays: nothing else is left in the registry.
    let requester = chain.accounts()[1];
    let quarter = U256::from(10u128.pow(18) / 4);
    assert_eq!(
        roles::credit(&mut chain, &contracts, requester).unwrap(),
        quarter
    );
    assert_eq!(roles::burned(&mut chain, &contracts).unwrap(), quarter);
    assert_eq!(
        chain.balance(contracts.registry).unwrap(),
        U256::from(FEE) + quarter + quarter
    );
}

#[test]
fn an_honest_result_finalizes_after_the_window_on_anvil() {
    let (_anvil, mut chain, mut server_chain, mut challenger_chain) = anvil();
    let input = echo_input(b"a right result, left alone");
    let (contracts, program, task) = post(&mut chain, &input);
    let mut server = Server::new(
        server_chain.accounts()[0],
        contracts,
        [program.clone()],
        None,
    );
    let mut challenger = Challenger::new(challenger_chain.accounts()[0], contracts, [program]);

    let transcript = run(
        &mut chain,
        (&mut server, &mut server_chain),
        (&mut challenger, &mut challenger_chain),
        false,
        RegistryConfig::default().game_clock,
    );
    assert!(said(&transcript.server, "committed its result"));
    assert!(said(
        &transcript.challenger,
        "task 0: checked the result: correct"
    ));
    assert!(!said(&transcript.challenger, "disputed"));
    assert!(said(&transcript.server, "task 0: finalized"));
    let bond_and_fee = 10u128.pow(18) + FEE;
    assert!(said(
        &transcript.server,
        &format!("withdrew {bond_and_fee} wei")
    ));

    assert_eq!(status(&mut chain, &contracts, task), TaskStatus::Finalized);
    let mut reversed = input[1..].to_vec();
    reversed.reverse();
    assert_eq!(output_of(&mut chain, &contracts, task), reversed);
    assert_eq!(chain.balance(contracts.registry).unwrap(), U256::ZERO);
}

#[test]
fn a_server_that_goes_away_loses_by_timeout_on_anvil() {
    let (_anvil, mut chain, mut server_chain, mut challenger_chain) = anvil();
    let input = echo_input(b"committed, then gone");
    let (contracts, program, task) = post(&mut chain, &input);
    let mut server = Server::new(
        server_chain.accounts()[0],
        contracts,
        [program.clone()],
        Some(1),
    );
    let mut challenger = Challenger::new(challenger_chain.accounts()[0], contracts, [program]);
    // The server commits its wrong result and goes away before the challenger disputes it.
    let lines = poll_once(&mut server, &mut server_chain);
    assert!(said(&lines, "committed a WRONG result"), "{lines:?}");
    let transcript = run(
        &mut chain,
        (&mut server, &mut server_chain),
        (&mut challenger, &mut challenger_chain),
        true,
        RegistryConfig::default().game_clock,
    );
    assert!(said(&transcript.challenger, "disputed it in game 0"));
    assert!(
        said(&transcript.challenger, "the opponent's clock ran out"),
        "{:?}",
        transcript.challenger
    );
    assert!(said(&transcript.challenger, "the challenger won"));
    // The round is rejected after the task's deadline (the game took a whole clock): the task
    // is cancelled.
    assert_eq!(status(&mut chain, &contracts, task), TaskStatus::Cancelled);
}

#[test]
fn inputs_are_rebuilt_from_the_oracle_events() {
    let mut chain = EmbeddedChain::new();
    let accounts = chain.accounts().to_vec();
    let contracts = Contracts::deploy(&mut chain, accounts[0], RegistryConfig::default()).unwrap();
    // Three parts, the first (the input's end) ending mid-chunk.
    let data: Vec<u8> = (0..2 * roles::INPUT_PART + 1000)
        .map(|i| (i * 7 % 251) as u8)
        .collect();
    let commitment = roles::publish_input(&mut chain, &contracts, accounts[1], &data).unwrap();
    let other = roles::publish_input(&mut chain, &contracts, accounts[2], b"another").unwrap();
    assert_eq!(
        roles::fetch_input(&mut chain, &contracts, commitment, 0, None).unwrap(),
        data
    );
    assert_eq!(
        roles::fetch_input(&mut chain, &contracts, other, 0, None).unwrap(),
        b"another"
    );
    let empty = roles::publish_input(&mut chain, &contracts, accounts[1], &[]).unwrap();
    assert!(
        roles::fetch_input(&mut chain, &contracts, empty, 0, None)
            .unwrap()
            .is_empty()
    );
    let unknown = [7u8; 32];
    assert!(matches!(
        roles::fetch_input(&mut chain, &contracts, unknown, 0, None),
        Err(AgentError::InputUnavailable(c)) if c == unknown
    ));
}

#[test]
fn a_service_started_past_a_task_does_not_see_it() {
    let mut chain = EmbeddedChain::new();
    let (contracts, program, task) = post(&mut chain, &echo_input(b"before the start block"));
    let server_account = chain.accounts()[2];
    let start = chain.block_number().unwrap() + 1;
    let mut late = Server::new(server_account, contracts, [program.clone()], None);
    late.start_at_block(start);
    let lines = late.poll(&mut chain).unwrap();
    assert!(lines.is_empty(), "{lines:?}");
    assert!(late.is_idle());
    assert_eq!(status(&mut chain, &contracts, task), TaskStatus::Open);
    // From the genesis block the same server takes the task on.
    let mut server = Server::new(server_account, contracts, [program], None);
    let lines = poll_once(&mut server, &mut chain);
    assert!(said(&lines, "committed its result"), "{lines:?}");
    assert_eq!(status(&mut chain, &contracts, task), TaskStatus::Committed);
}

#[test]
fn an_honest_graph_result_finalizes_on_anvil() {
    let (_anvil, mut chain, mut server_chain, mut challenger_chain) = anvil();
    let (file, input) = cnn_task();
    let models = ModelStore::new([&file]).unwrap();
    let root = *models.roots().next().unwrap();
    let (contracts, task) = post_graph(&mut chain, None, root, &input);
    let mut server =
        Server::new(server_chain.accounts()[0], contracts, [], None).with_models(models.clone());
    let mut challenger =
        Challenger::new(challenger_chain.accounts()[0], contracts, []).with_models(models);

    let transcript = run(
        &mut chain,
        (&mut server, &mut server_chain),
        (&mut challenger, &mut challenger_chain),
        false,
        RegistryConfig::default().game_clock,
    );
    let steps = GraphPhase::new(&file, &input).unwrap().step_count();
    let running = format!(
        "task 0: graph task, model 0x{}, {steps} coarse steps",
        hex::encode(root)
    );
    assert!(said(&transcript.server, &running));
    assert!(said(&transcript.challenger, &running));
    assert!(said(&transcript.server, "committed its result"));
    assert!(
        said(
            &transcript.challenger,
            "task 0: checked the result: correct"
        ),
        "{:?}",
        transcript.challenger
    );
    assert!(!said(&transcript.challenger, "disputed"));
    assert!(said(&transcript.server, "task 0: finalized"));

    assert_eq!(status(&mut chain, &contracts, task), TaskStatus::Finalized);
    let truth = GraphPhase::new(&file, &input).unwrap();
    assert_eq!(
        output_of(&mut chain, &contracts, task),
        truth.run().output().unwrap()
    );
    assert_eq!(chain.balance(contracts.registry).unwrap(), U256::ZERO);
}

#[test]
fn a_lying_graph_server_is_disputed_at_its_node_and_rejected_on_anvil() {
    let (_anvil, mut chain, mut server_chain, mut challenger_chain) = anvil();
    let (file, input) = cnn_task();
    let models = ModelStore::new([&file]).unwrap();
    let root = *models.roots().next().unwrap();
    let (contracts, task) = post_graph(&mut chain, None, root, &input);
    // The liar alters node 1's output (coarse step 3).
    let mut server =
        Server::new(server_chain.accounts()[0], contracts, [], Some(3)).with_models(models.clone());
    let mut challenger =
        Challenger::new(challenger_chain.accounts()[0], contracts, []).with_models(models);

    let transcript = run(
        &mut chain,
        (&mut server, &mut server_chain),
        (&mut challenger, &mut challenger_chain),
        false,
        RegistryConfig::default().game_clock,
    );
    assert!(said(&transcript.server, "committed a WRONG result"));
    assert!(said(
        &transcript.challenger,
        "the result is wrong (final graph state 0x"
    ));
    assert!(said(&transcript.challenger, "disputed it in game 0"));
    let truth = GraphPhase::new(&file, &input).unwrap();
    let descent = format!(
        "descended into the step program's run of coarse step 3: {}",
        truth.describe_step(3)
    );
    assert!(
        said(&transcript.server, &descent) || said(&transcript.challenger, &descent),
        "{:?}\n{:?}",
        transcript.server,
        transcript.challenger
    );
    assert!(said(&transcript.challenger, "proved step"));
    assert!(said(&transcript.challenger, "the challenger won"));
    assert!(said(&transcript.server, "task 0: rejected"));
    // The round is rejected and the task open again, for round 1.
    let record = roles::read_task(&mut chain, &contracts, task).unwrap();
    assert_eq!(TaskStatus::of(&record).unwrap(), TaskStatus::Open);
    assert_eq!(record.round, 1);
}

#[test]
fn graph_tasks_the_server_cannot_run_are_refused_with_a_reason() {
    let mut chain = EmbeddedChain::new();
    let (file, input) = cnn_task();
    let models = ModelStore::new([&file]).unwrap();
    let root = *models.roots().next().unwrap();
    // A model it lacks, inputs of the wrong length (garbage, and a huge one of a quarter MiB;
    // a transaction's gas cap bounds what a posting carries), heights whose top phase is too
    // small.
    let unknown = [7u8; 32];
    let (contracts, lacked) = post_graph(&mut chain, None, unknown, &input);
    let (_, garbage) = post_graph(&mut chain, Some(contracts), root, &[1, 2, 3]);
    let (_, huge) = post_graph(&mut chain, Some(contracts), root, &vec![0xff; 1 << 18]);
    let accounts = chain.accounts().to_vec();
    let request = GraphRequest {
        step_program: STEP_PROGRAM_ID,
        model_root: root,
        input: input.clone(),
        config: PhaseConfig::program(&[2, 11, 11]).unwrap(),
        fee: U256::from(FEE),
        deadline: chain.timestamp().unwrap() + 7 * 86_400,
    };
    let short = roles::post_graph_task(&mut chain, &contracts, accounts[1], &request).unwrap();
    // Lower phases of 2^16 instructions, where a node step takes more than 10^6.
    let request = GraphRequest {
        config: PhaseConfig::program(&[4, 8, 8]).unwrap(),
        ..request
    };
    let low = roles::post_graph_task(&mut chain, &contracts, accounts[1], &request).unwrap();
    // A server without models takes no graph task.
    let mut vm_only = Server::new(accounts[2], contracts, [], None);
    let lines = poll_once(&mut vm_only, &mut chain);
    assert!(lines.is_empty(), "{lines:?}");
    assert!(vm_only.is_idle());

    let mut server = Server::new(accounts[2], contracts, [], None).with_models(models);
    let lines = poll_once(&mut server, &mut chain);
    let lacks = format!(
        "task {lacked}: a graph task of model 0x{}, which this service does not have; not \
         committing",
        hex::encode(unknown)
    );
    assert!(said(&lines, &lacks), "{lines:?}");
    assert!(
        said(
            &lines,
            &format!(
                "task {garbage}: the model refuses its input: 3 bytes, not the size of the \
                 model's inputs; not committing"
            )
        ),
        "{lines:?}"
    );
    assert!(
        said(
            &lines,
            &format!(
                "task {huge}: the model refuses its input: 262144 bytes, not the size of the \
                 model's inputs; not committing"
            )
        ),
        "{lines:?}"
    );
    assert!(
        said(
            &lines,
            &format!(
                "task {short}: a graph task of model 0x{}",
                hex::encode(root)
            )
        ) && said(&lines, "more than its top phase of height 2 holds"),
        "{lines:?}"
    );
    assert!(
        said(
            &lines,
            &format!("task {low}: its lower phases hold 2^16 instructions, but the node step")
        ) && said(&lines, "the task cannot be defended; not committing"),
        "{lines:?}"
    );
    assert!(!said(&lines, "committed"), "{lines:?}");
    assert!(server.is_idle());
    for task in [lacked, garbage, huge, short, low] {
        assert_eq!(status(&mut chain, &contracts, task), TaskStatus::Open);
    }
}

#[test]
fn a_wrong_graph_output_is_rejected_and_an_honest_server_serves_round_1_on_anvil() {
    let (anvil, mut chain, mut liar_chain, mut challenger_chain) = anvil();
    let (file, input) = cnn_task();
    let models = ModelStore::new([&file]).unwrap();
    let root = *models.roots().next().unwrap();
    let (contracts, task) = post_graph(&mut chain, None, root, &input);
    // A liar commits the true values with a wrong output, directly, and is gone.
    let truth = GraphPhase::new(&file, &input).unwrap();
    let mut wrong = truth.run().output().unwrap().to_vec();
    *wrong.last_mut().unwrap() ^= 1;
    let liar = liar_chain.accounts()[0];
    let values = truth.run().values().root();
    roles::commit_graph_result(&mut liar_chain, &contracts, liar, task, &values, &wrong).unwrap();
    // An honest server (key 0) and the challenger, each with the model.
    let mut server_chain = RpcChain::connect(anvil.url(), &anvil.keys()[0..1]).unwrap();
    let mut server =
        Server::new(server_chain.accounts()[0], contracts, [], None).with_models(models.clone());
    let mut challenger =
        Challenger::new(challenger_chain.accounts()[0], contracts, []).with_models(models);

    let transcript = run(
        &mut chain,
        (&mut server, &mut server_chain),
        (&mut challenger, &mut challenger_chain),
        false,
        RegistryConfig::default().game_clock,
    );
    assert!(said(
        &transcript.server,
        "task 0: another server committed a result"
    ));
    assert!(said(
        &transcript.challenger,
        "the result is wrong (final graph state 0x"
    ));
    assert!(said(&transcript.challenger, "the opponent's clock ran out"));
    assert!(said(&transcript.challenger, "the challenger won"));
    // Round 1: the honest server's result, checked again by the challenger, finalizes.
    assert!(
        said(&transcript.server, "task 0: committed its result"),
        "{:?}",
        transcript.server
    );
    assert!(said(
        &transcript.challenger,
        "task 0: checked the result: correct"
    ));
    assert!(said(&transcript.server, "task 0: finalized"));
    let record = roles::read_task(&mut chain, &contracts, task).unwrap();
    assert_eq!(TaskStatus::of(&record).unwrap(), TaskStatus::Finalized);
    assert_eq!(record.round, 1);
    assert_eq!(
        output_of(&mut chain, &contracts, task),
        truth.run().output().unwrap()
    );
}
