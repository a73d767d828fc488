// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {TestBase} from "../test/utils/Vm.sol";
import {RiscvStep} from "../src/RiscvStep.sol";
import {InputOracle} from "../src/InputOracle.sol";

/// @notice Deploys the step verifier and the input oracle.
/// @dev Simulate: `toolchain/scripts/forge.sh script script/Deploy.s.sol`.
///      Deploy to a node (anvil or any EVM chain):
///      `toolchain/scripts/forge.sh script script/Deploy.s.sol --rpc-url URL --private-key KEY --broadcast`.
///      The Rust agents deploy the same bytecode from `artifacts/` themselves; this script is for
///      operators who deploy by hand.
contract Deploy is TestBase {
    /// @notice Deploys both contracts in one broadcast and returns their addresses.
    function run() external returns (RiscvStep stepVerifier, InputOracle inputOracle) {
        vm.startBroadcast();
        stepVerifier = new RiscvStep();
        inputOracle = new InputOracle();
        vm.stopBroadcast();
    }
}
