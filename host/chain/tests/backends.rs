//! One agent, two chains: the same code runs against the embedded EVM and against anvil through
//! JSON-RPC. The anvil test starts (and kills) the pinned anvil itself; without it the test fails
//! and says how to install it (`toolchain/scripts/install.sh`).

use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_sol_types::SolCall;
use opml_chain::contracts::{RiscvStep, decode_error};
use opml_chain::{Anvil, BlockLog, Chain, ChainError, EmbeddedChain, LogQuery, RpcChain, Tx, rpc};
use opml_tests::RandomProgram;
use opml_vm::Machine;

/// A contract that logs its calldata with `block.timestamp` as the topic: LOG1 on every call.
///
/// Runtime code (9 bytes), Cancun (PUSH0):
/// ```text
/// 36 5f 5f 37   calldatacopy(0, 0, calldatasize)
/// 42            timestamp
/// 36 5f         calldatasize, push0
/// a1            log1(0, calldatasize, timestamp)
/// 00            stop
/// ```
/// Creation code (10 bytes) that returns it: `codecopy(0, 10, 9); return(0, 9)`, as
/// `60 09 60 0a 5f 39 60 09 5f f3`.
fn logger_creation_code() -> Bytes {
    let creation = [0x60, 0x09, 0x60, 0x0a, 0x5f, 0x39, 0x60, 0x09, 0x5f, 0xf3];
    let runtime = [0x36, 0x5f, 0x5f, 0x37, 0x42, 0x36, 0x5f, 0xa1, 0x00];
    [&creation[..], &runtime[..]].concat().into()
}

/// One step of a random program, 50 steps in: its packed pre-state, proof and post-state hash.
fn a_step() -> (Vec<u8>, Vec<u8>, B256) {
    let program = RandomProgram::new(7, 120).program();
    let mut machine = Machine::from_program(&program, Vec::new()).expect("load");
    machine.run(50);
    let witness = machine.prove_step().expect("the program reads no preimage");
    let post = B256::from(machine.state_hash());
    let (state_data, proof) = (witness.state_data().to_vec(), witness.encode_proof());
    assert_eq!(
        opml_proof::verify_step(&state_data, &proof).map(B256::from),
        Ok(post),
        "the Rust verifier disagrees with the VM"
    );
    (state_data, proof, post)
}

fn step_calldata(state_data: &[u8], proof: &[u8]) -> Bytes {
    RiscvStep::stepCall {
        stateData: Bytes::copy_from_slice(state_data),
        proof: Bytes::copy_from_slice(proof),
    }
    .abi_encode()
    .into()
}

/// The agent-side test body, written once against [`Chain`]; returns the address of a contract
/// that emitted logs, and its logs.
fn exercise(chain: &mut impl Chain) -> (Address, Vec<BlockLog>) {
    let accounts = chain.accounts().to_vec();
    assert!(accounts.len() >= 2, "need two accounts, have {accounts:?}");
    let (alice, bob) = (accounts[0], accounts[1]);

    // A real step through the Solidity verifier, as a call and as a transaction.
    let verifier = chain
        .deploy(alice, RiscvStep::BYTECODE.clone())
        .expect("deploy RiscvStep");
    let (state_data, proof, post) = a_step();
    let calldata = step_calldata(&state_data, &proof);
    let output = chain
        .call(alice, verifier, calldata.clone())
        .expect("step call");
    let returned = RiscvStep::stepCall::abi_decode_returns(&output).expect("decode step output");
    assert_eq!(returned, post, "the contract's post-state is not the VM's");
    let before = chain.block_number().unwrap();
    let receipt = chain
        .send(Tx::call(bob, verifier, calldata))
        .expect("step transaction");
    assert!(receipt.gas_used > 21_000, "gas used {}", receipt.gas_used);
    assert_eq!(receipt.block_number, before + 1);
    assert_eq!(chain.block_number().unwrap(), before + 1);

    // A bad pre-state reverts with the verifier's named error, as a call and as a transaction,
    // and the transaction changes nothing.
    let bad = step_calldata(&state_data[..state_data.len() - 1], &proof);
    for result in [
        chain.call(alice, verifier, bad.clone()).map(drop),
        chain.send(Tx::call(alice, verifier, bad)).map(drop),
    ] {
        match result.map_err(ChainError::decoded::<RiscvStep::RiscvStepErrors>) {
            Err(ChainError::Revert { data, error, .. }) => {
                let error = error.unwrap_or_else(|| panic!("undecoded revert {data}"));
                assert_eq!(decode_error(&data).as_deref(), Some(error.as_str()));
                let message = ChainError::Revert {
                    data,
                    error: Some(error.clone()),
                    gas_used: None,
                }
                .to_string();
                assert_eq!(message, format!("reverted: {error}"));
                eprintln!("bad pre-state: {message}");
            }
            other => panic!("expected a revert, got {other:?}"),
        }
    }
    assert_eq!(chain.block_number().unwrap(), before + 1);

    // Only the chain's accounts can send.
    let stranger = Address::repeat_byte(0x5a);
    assert_eq!(
        chain.send(Tx::transfer(stranger, alice, U256::from(1))),
        Err(ChainError::UnknownAccount(stranger))
    );

    // A transfer moves the value, and the sender pays the gas besides.
    let value = U256::from(10u128.pow(18));
    let (alice_before, bob_before) = (chain.balance(alice).unwrap(), chain.balance(bob).unwrap());
    let receipt = chain
        .send(Tx::transfer(alice, bob, value))
        .expect("transfer");
    let fee = U256::from(receipt.gas_used) * U256::from(receipt.effective_gas_price);
    assert_eq!(receipt.gas_used, 21_000);
    assert_eq!(chain.balance(bob).unwrap(), bob_before + value);
    assert_eq!(chain.balance(alice).unwrap(), alice_before - value - fee);

    // Time moves by at least what was asked, in a new block.
    let (t0, block) = (chain.timestamp().unwrap(), chain.block_number().unwrap());
    chain.advance_time(3_600).expect("advance time");
    assert!(chain.timestamp().unwrap() >= t0 + 3_600);
    assert_eq!(chain.block_number().unwrap(), block + 1);

    // Logs: from the receipt and from the chain, with the block's timestamp as Solidity sees it.
    let logger = chain
        .deploy(alice, logger_creation_code())
        .expect("deploy the logger");
    let from_block = chain.block_number().unwrap() + 1;
    let mut receipts = Vec::new();
    for message in [&b"opml"[..], b"fraud proof"] {
        let receipt = chain
            .send(Tx::call(bob, logger, Bytes::copy_from_slice(message)))
            .expect("log");
        assert_eq!(receipt.logs.len(), 1);
        let log = &receipt.logs[0];
        assert_eq!(log.address, logger);
        assert_eq!(log.data.data[..], *message);
        let timestamp = U256::from_be_bytes(log.topics()[0].0);
        assert_eq!(timestamp, U256::from(chain.timestamp().unwrap()));
        assert!(timestamp >= U256::from(t0 + 3_600));
        receipts.push(receipt);
    }
    let logs = chain
        .logs(&LogQuery::new(logger).from_block(from_block))
        .expect("logs");
    assert_eq!(logs.len(), 2);
    for (entry, receipt) in logs.iter().zip(&receipts) {
        assert_eq!(entry.block_number, receipt.block_number);
        assert_eq!(entry.log, receipt.logs[0]);
    }
    let last = chain
        .logs(&LogQuery::new(logger).from_block(receipts[1].block_number))
        .expect("logs");
    assert_eq!(last, logs[1..]);
    // A block range and a topic narrow the query.
    let first = LogQuery::new(logger)
        .from_block(from_block)
        .to_block(receipts[0].block_number);
    assert_eq!(chain.logs(&first).expect("logs"), logs[..1]);
    let topic = logs[1].log.topics()[0];
    let with_topic: Vec<_> = logs
        .iter()
        .filter(|entry| entry.log.topics()[0] == topic)
        .cloned()
        .collect();
    let by_topic = LogQuery::new(logger).from_block(from_block).topic(0, topic);
    assert_eq!(chain.logs(&by_topic).expect("logs"), with_topic);
    let no_such_topic = LogQuery::new(logger).topic(0, B256::repeat_byte(0xee));
    assert!(chain.logs(&no_such_topic).expect("logs").is_empty());
    assert!(
        chain
            .logs(&LogQuery::new(verifier))
            .expect("logs")
            .is_empty()
    );
    (logger, logs)
}

#[test]
fn embedded_chain() {
    let mut chain = EmbeddedChain::new();
    exercise(&mut chain);
    // Gas is free on the embedded chain, and time moves only when told.
    assert_eq!(
        chain.timestamp().unwrap(),
        opml_chain::evm::GENESIS_TIMESTAMP + 3_600
    );
}

#[test]
fn anvil_chain() {
    let anvil = Anvil::spawn().unwrap_or_else(|err| panic!("cannot start anvil: {err}"));
    let mut chain = anvil.connect().expect("connect to anvil");
    assert_eq!(chain.chain_id(), 31_337);
    let (logger, logs) = exercise(&mut chain);
    // Asked for in windows of a block or two, the logs are the same.
    for window in [1, 2] {
        chain.set_log_window(Some(window));
        assert_eq!(chain.logs(&LogQuery::new(logger)).expect("logs"), logs);
        let from_second = LogQuery::new(logger).from_block(logs[1].block_number);
        assert_eq!(chain.logs(&from_second).expect("logs"), logs[1..]);
    }
}

#[test]
fn rpc_errors_are_clear() {
    let https = RpcChain::connect("https://example.invalid", &[]).unwrap_err();
    assert!(https.to_string().contains("only http://"), "{https}");
    assert!(RpcChain::connect("not a url", &[]).is_err());
    // A port nobody listens on: an error, not a hang.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .unwrap()
        .port();
    match RpcChain::connect(&format!("http://127.0.0.1:{port}"), &[]) {
        Err(ChainError::Rpc(message)) => assert!(message.contains("eth_chainId"), "{message}"),
        other => panic!("expected an RPC error, got {other:?}"),
    }
    let bad_key = rpc::parse_key("0x1234").unwrap_err();
    assert!(!bad_key.to_string().contains("1234"), "{bad_key}");
}
