// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {TestBase} from "../test/utils/Vm.sol";
import {RiscvStep} from "../src/RiscvStep.sol";
import {InputOracle} from "../src/InputOracle.sol";
import {DisputeGame} from "../src/DisputeGame.sol";
import {TaskRegistry} from "../src/TaskRegistry.sol";

/// @notice Deploys the step verifier, the input oracle, the dispute game (over that verifier)
/// and the task registry (over that game and oracle) with the default parameters below.
/// @dev Simulate: `toolchain/scripts/forge.sh script script/Deploy.s.sol`.
///      Deploy to a node (anvil or any EVM chain):
///      `toolchain/scripts/forge.sh script script/Deploy.s.sol --rpc-url URL --private-key KEY --broadcast`.
///      The Rust agents deploy the same bytecode from `artifacts/` themselves; this script is for
///      operators who deploy by hand. The registry's parameters are immutable: to change them,
///      edit the constants and deploy a new registry (the verifier, oracle and game can stay).
contract Deploy is TestBase {
    /// @notice Bond a server posts with each result. Equal to the challenger's bond, as the
    /// game design asks (`docs/game-design.md`, "Clocks, bonds, resolution"): the winner of a
    /// dispute takes both.
    uint256 public constant SERVER_BOND = 0.1 ether;
    /// @notice Bond a challenger posts with each dispute.
    uint256 public constant CHALLENGER_BOND = 0.1 ether;
    /// @notice Seconds after a commitment during which anyone may dispute it: time for
    /// verifiers to notice the result and re-run the program.
    uint64 public constant CHALLENGE_WINDOW = 1 days;
    /// @notice Chess-clock budget of each side of a dispute, for all its moves together: a
    /// game of `h` levels takes about `h` moves per side, each a few seconds of host work, so
    /// the budget is margin against congestion and censorship (Optimism's fault dispute game
    /// uses 3.5 days per side).
    uint64 public constant GAME_CLOCK = 3 days;

    /// @notice Deploys the four contracts in one broadcast and returns their addresses.
    function run()
        external
        returns (
            RiscvStep stepVerifier,
            InputOracle inputOracle,
            DisputeGame disputeGame,
            TaskRegistry taskRegistry
        )
    {
        vm.startBroadcast();
        stepVerifier = new RiscvStep();
        inputOracle = new InputOracle();
        disputeGame = new DisputeGame(stepVerifier);
        taskRegistry = new TaskRegistry(
            disputeGame, inputOracle, SERVER_BOND, CHALLENGER_BOND, CHALLENGE_WINDOW, GAME_CLOCK
        );
        vm.stopBroadcast();
    }
}
