//! The opml contracts: bindings generated from the committed forge artifacts, and the step
//! verifier deployed on a chain.
//!
//! The ABI and bytecode come from the forge artifact `contracts/artifacts/RiscvStep.json`, which
//! `toolchain/scripts/contracts.sh build` writes (the build script falls back to a local forge
//! build's `contracts/out/`); nothing here restates them.

use std::fmt::Write as _;

use alloy_primitives::{Address, Bytes};
use alloy_sol_types::{SolCall, sol};
use opml_state::Hash;

use crate::error::{ChainError, decode_revert};
use crate::evm::{EmbeddedChain, EvmError, TxGas};

sol!(
    /// The Solidity step verifier (`contracts/src/RiscvStep.sol`).
    #[sol(all_derives)]
    RiscvStep,
    "../../contracts/artifacts/RiscvStep.json"
);

sol!(
    /// The input oracle (`contracts/src/InputOracle.sol`).
    #[sol(all_derives)]
    InputOracle,
    "../../contracts/artifacts/InputOracle.json"
);

sol!(
    /// The k-phase dispute game (`contracts/src/DisputeGame.sol`).
    #[sol(all_derives)]
    // The ABI carries no NatSpec for structs and events (see the Solidity source), and events
    // have many fields.
    #[allow(missing_docs, clippy::too_many_arguments)]
    DisputeGame,
    "../../contracts/artifacts/DisputeGame.json"
);

sol!(
    /// The opML task registry (`contracts/src/TaskRegistry.sol`).
    #[sol(all_derives)]
    // The ABI carries no NatSpec for structs and events (see the Solidity source), and events
    // have many fields.
    #[allow(missing_docs, clippy::too_many_arguments)]
    TaskRegistry,
    "../../contracts/artifacts/TaskRegistry.json"
);

/// What the EVM step verifier returned for one step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StepOutcome {
    /// The post-state hash.
    pub post: Hash,
    /// Gas of the `step` transaction.
    pub gas: TxGas,
    /// Length of the calldata (selector and ABI-encoded arguments).
    pub calldata_len: usize,
}

/// The step verifier contract deployed on an embedded chain.
#[derive(Debug)]
pub struct StepVerifierEvm {
    chain: EmbeddedChain,
    address: Address,
}

impl StepVerifierEvm {
    /// Deploys the step verifier on a new Cancun chain.
    pub fn new() -> Result<StepVerifierEvm, EvmError> {
        StepVerifierEvm::deploy(EmbeddedChain::new())
    }

    /// Deploys the step verifier on `chain`.
    pub fn deploy(mut chain: EmbeddedChain) -> Result<StepVerifierEvm, EvmError> {
        let address = chain.deploy(&RiscvStep::BYTECODE)?;
        Ok(StepVerifierEvm { chain, address })
    }

    /// Where the verifier is deployed.
    pub fn address(&self) -> Address {
        self.address
    }

    /// The chain it is deployed on.
    pub fn chain(&self) -> &EmbeddedChain {
        &self.chain
    }

    /// Size of the deployed code in bytes (EIP-170 limits it to 24,576).
    pub fn code_size(&self) -> usize {
        self.chain.code(self.address).len()
    }

    /// The calldata of `step(stateData, proof)`.
    pub fn calldata(state_data: &[u8], proof: &[u8]) -> Vec<u8> {
        RiscvStep::stepCall {
            stateData: Bytes::copy_from_slice(state_data),
            proof: Bytes::copy_from_slice(proof),
        }
        .abi_encode()
    }

    /// Runs `step(state_data, proof)` as a transaction (not committed): the post-state hash and
    /// the gas. A revert names the contract's custom error where it decodes.
    pub fn step(&mut self, state_data: &[u8], proof: &[u8]) -> Result<StepOutcome, EvmError> {
        let calldata = StepVerifierEvm::calldata(state_data, proof);
        let receipt = self
            .chain
            .call(self.address, calldata.clone().into())
            .map_err(ChainError::decoded::<RiscvStep::RiscvStepErrors>)?;
        let post = RiscvStep::stepCall::abi_decode_returns(&receipt.output).map_err(|_| {
            EvmError::BadOutput {
                output: receipt.output.clone(),
            }
        })?;
        Ok(StepOutcome {
            post: post.0,
            gas: TxGas::split(self.chain.spec(), &calldata, receipt.gas_used),
            calldata_len: calldata.len(),
        })
    }
}

/// The step verifier's custom error in revert `data`, as `Name { field: value, .. }` (see
/// [`decode_revert`]).
pub fn decode_error(data: &[u8]) -> Option<String> {
    decode_revert::<RiscvStep::RiscvStepErrors>(data)
}

/// A replayable report of a step the EVM and the VM disagree on: the calldata, and a forge test
/// that replays it.
pub fn replay_report(state_data: &[u8], proof: &[u8], expected_post: &Hash) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "state_data: 0x{}", hex_string(state_data));
    let _ = writeln!(out, "proof:      0x{}", hex_string(proof));
    let _ = writeln!(out, "expected:   0x{}", hex_string(expected_post));
    let _ = writeln!(
        out,
        "calldata:   0x{}",
        hex_string(&StepVerifierEvm::calldata(state_data, proof))
    );
    out.push_str(&forge_test(state_data, proof, expected_post));
    out
}

/// A forge test (for `contracts/test/`) that replays one step against the expected post-state.
pub fn forge_test(state_data: &[u8], proof: &[u8], expected_post: &Hash) -> String {
    format!(
        "// forge test snippet (paste into a contract in contracts/test/ that imports RiscvStep):\n\
         function test_replayStep() public {{\n    \
             RiscvStep verifier = new RiscvStep();\n    \
             bytes memory stateData = hex\"{}\";\n    \
             bytes memory proof = hex\"{}\";\n    \
             assertEq(verifier.step(stateData, proof), bytes32(0x{}));\n\
         }}\n",
        hex_string(state_data),
        hex_string(proof),
        hex_string(expected_post)
    )
}

fn hex_string(bytes: &[u8]) -> String {
    alloy_primitives::hex::encode(bytes)
}
