// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {DisputeReplay} from "../kit/src/DisputeReplay.sol";
import {ITaskRegistry} from "../kit/src/ITaskRegistry.sol";
import {Claims} from "../kit/src/Claims.sol";
import {RiscvStep} from "../src/RiscvStep.sol";
import {DisputeGame} from "../src/DisputeGame.sol";
import {InputOracle} from "../src/InputOracle.sol";
import {TaskRegistry} from "../src/TaskRegistry.sol";

/// @notice The disputes of `test/fixtures/echo.json` (written by `opml fixture --disputes`,
/// checked current by `host/cli/tests/fixture.rs`) replayed against the real contracts: the
/// fixture's task posted on a `TaskRegistry`, the claim committed, disputed, every recorded
/// move sent to the real `DisputeGame` (its last one executed by the real `RiscvStep`), the
/// verdict settled. Both outcomes: a lying claimant loses its round, a lying challenger loses
/// its dispute and the true result finalizes.
contract ReplayTest is DisputeReplay {
    string internal constant FIXTURE = "/test/fixtures/echo.json";
    uint256 internal constant BOND = 1 ether;
    uint256 internal constant FEE = 0.25 ether;
    uint64 internal constant WINDOW = 1 hours;
    address internal constant REQUESTER = address(0xB0B0);

    string internal json;
    DisputeGame internal games;
    InputOracle internal oracle;
    TaskRegistry internal registry;

    function setUp() public {
        json = vm.readFile(string.concat(vm.projectRoot(), FIXTURE));
        games = new DisputeGame(new RiscvStep());
        oracle = new InputOracle();
        registry = new TaskRegistry(games, oracle, BOND, BOND, WINDOW, 1 days);
        vm.deal(REQUESTER, 1 ether);
        vm.warp(1_700_000_000);
    }

    /// @dev The story of dispute `key` on the registry (`replayTask`), with its recorded
    /// input commitment, start state and winner checked.
    function replay(string memory key) internal returns (uint256 taskId, Dispute memory d) {
        bytes32 input;
        (taskId, input, d) = replayTask(registry, oracle, json, key, REQUESTER, FEE);
        vm.assertEq(input, vm.parseJsonBytes32(json, ".input_commitment"), "input");
        bytes memory initialState = vm.parseJsonBytes(json, ".initial_state");
        vm.assertEq(Claims.startState(initialState, input), d.params.startState, "start state");
        DisputeGame.Game memory g = games.game(d.gameId);
        vm.assertTrue(g.stage == DisputeGame.Stage.Resolved, "resolved");
        vm.assertTrue(g.winner == d.winner, "winner");
    }

    function test_lyingClaimantLosesItsRound() public {
        (uint256 taskId, Dispute memory d) = replay("lying_claimant");
        vm.assertTrue(d.winner == DisputeGame.Party.Challenger, "recorded winner");
        vm.assertNotEq(
            keccak256(d.claimedOutput),
            keccak256(vm.parseJsonBytes(json, ".output")),
            "the lie is another output"
        );
        TaskRegistry.Task memory t = registry.task(taskId);
        vm.assertTrue(t.status == TaskRegistry.TaskStatus.Open, "reopened");
        vm.assertEq(t.round, 1, "next round");
        vm.assertTrue(registry.round(taskId, 0).rejected, "round 0 rejected");
    }

    function test_lyingChallengerLosesAndTheResultFinalizes() public {
        (uint256 taskId, Dispute memory d) = replay("lying_challenger");
        vm.assertTrue(d.winner == DisputeGame.Party.Claimant, "recorded winner");
        vm.warp(block.timestamp + WINDOW + 1);
        registry.finalize(taskId);
        ITaskRegistry app = ITaskRegistry(address(registry));
        vm.assertTrue(app.task(taskId).status == ITaskRegistry.TaskStatus.Finalized, "final");
        vm.assertEq(app.outputOf(taskId), vm.parseJsonBytes(json, ".output"), "output");
        vm.assertEq(app.balanceOf(d.params.claimant), BOND + FEE + BOND, "bond, fee, loser's bond");
    }

    /// @dev The same games opened on a bare `DisputeGame`, without a registry.
    function test_gamesReplayWithoutARegistry() public {
        string[2] memory keys = ["lying_claimant", "lying_challenger"];
        for (uint256 i = 0; i < keys.length; ++i) {
            DisputeGame game = new DisputeGame(new RiscvStep());
            Dispute memory d = load(json, keys[i]);
            vm.assertEq(open(game, d), d.gameId, "game id");
            play(game, d);
            vm.assertTrue(game.game(d.gameId).winner == d.winner, "winner");
        }
    }

    /// @dev The replay checks something: the recorded step with one byte of its pre-state
    /// changed (the first byte of `stateData`, after the selector, four head words and its
    /// length) is refused.
    function test_aTamperedStepIsRefused() public {
        DisputeGame game = new DisputeGame(new RiscvStep());
        Dispute memory d = load(json, "lying_claimant");
        open(game, d);
        Move memory last = d.moves[d.moves.length - 1];
        vm.assertEq(last.function_, "step", "the last move is the step");
        last.data[4 + 5 * 32] ^= 0x01;
        try this.playExternal(game, d) {
            vm.assertTrue(false, "a tampered step proof was accepted");
        } catch (bytes memory reason) {
            vm.assertEq(bytes32(bytes4(reason)), bytes32(MoveRefused.selector), "refused");
        }
    }

    /// @dev `play` as an external call, so that a refusal can be caught.
    function playExternal(DisputeGame game, Dispute memory d) external {
        play(game, d);
    }
}
