// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {DisputeReplay} from "opml-kit/DisputeReplay.sol";
import {ITaskRegistry} from "opml-kit/ITaskRegistry.sol";
import {DisputeGame} from "opml-contracts/DisputeGame.sol";
import {InputOracle} from "opml-contracts/InputOracle.sol";
import {RiscvStep} from "opml-contracts/RiscvStep.sol";
import {TaskRegistry} from "opml-contracts/TaskRegistry.sol";
import {Consumer} from "../src/Consumer.sol";

/// @notice Disputes of this app's guest, recorded by `opml fixture --disputes` into
/// `fixtures/median.json`, replayed move by move against the real opml contracts, down to the
/// one instruction the real `RiscvStep` re-executes; then the consumer reads the verified result.
contract DisputeTest is DisputeReplay {
    uint256 internal constant BOND = 1 ether;
    uint64 internal constant WINDOW = 1 hours;

    string internal json;
    DisputeGame internal games;
    InputOracle internal oracle;
    TaskRegistry internal registry;

    function setUp() public {
        json = vm.readFile(string.concat(vm.projectRoot(), "/fixtures/median.json"));
        games = new DisputeGame(new RiscvStep());
        oracle = new InputOracle();
        registry = new TaskRegistry(games, oracle, BOND, BOND, WINDOW, 1 days);
        vm.warp(1_700_000_000);
    }

    /// @dev Dispute `key` played on the registry: task posted, claim committed, disputed,
    /// every recorded move sent, verdict settled.
    function replay(string memory key)
        internal
        returns (uint256 taskId, bytes32 input, Dispute memory d)
    {
        (taskId, input, d) = replayTask(registry, oracle, json, key, address(this), 0);
        vm.assertTrue(games.game(d.gameId).winner == d.winner, "the recorded winner");
    }

    function test_aLyingServerLosesItsRound() public {
        (uint256 taskId,, Dispute memory d) = replay("lying_claimant");
        vm.assertTrue(d.winner == DisputeGame.Party.Challenger, "the challenger wins");
        vm.assertTrue(registry.round(taskId, 0).rejected, "the lie is rejected");
    }

    function test_aLyingChallengerLosesAndTheConsumerReadsTheResult() public {
        (uint256 taskId, bytes32 input, Dispute memory d) = replay("lying_challenger");
        vm.assertTrue(d.winner == DisputeGame.Party.Claimant, "the server wins");
        vm.warp(block.timestamp + WINDOW + 1);
        registry.finalize(taskId);
        Consumer app = new Consumer(ITaskRegistry(address(registry)));
        int64 median = app.accept(taskId, input);
        vm.assertEq(abi.encode(median), vm.parseJsonBytes(json, ".output"), "the verified median");
    }
}
