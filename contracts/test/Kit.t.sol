// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {TestBase} from "../kit/src/Vm.sol";
import {ITaskRegistry} from "../kit/src/ITaskRegistry.sol";
import {IDisputeGameEvents} from "../kit/src/IDisputeGameEvents.sol";
import {Heights} from "../kit/src/Heights.sol";
import {Claims} from "../kit/src/Claims.sol";
import {MockTaskRegistry} from "../kit/src/MockTaskRegistry.sol";
import {RiscvStep} from "../src/RiscvStep.sol";
import {DisputeGame} from "../src/DisputeGame.sol";
import {InputOracle} from "../src/InputOracle.sol";
import {TaskRegistry} from "../src/TaskRegistry.sol";
import {VmConstants as C} from "../src/lib/VmConstants.sol";

/// @notice An app of the kit's README: pays `reward` to whoever settles it once its task's
/// output is verified, and records that output.
contract PayOnResult {
    error NotVerified(ITaskRegistry.TaskStatus status);
    error PaymentFailed();

    ITaskRegistry public immutable registry;
    uint256 public immutable taskId;
    bytes public result;

    constructor(ITaskRegistry registry_, uint256 taskId_) payable {
        (registry, taskId) = (registry_, taskId_);
    }

    function settle() external {
        ITaskRegistry.TaskStatus status = registry.task(taskId).status;
        if (status != ITaskRegistry.TaskStatus.Finalized) revert NotVerified(status);
        result = registry.outputOf(taskId);
        (bool ok,) = msg.sender.call{value: address(this).balance}("");
        if (!ok) revert PaymentFailed();
    }
}

/// @notice The kit (`kit/src`) held to the real contracts: every selector of the interfaces
/// equal to the contracts', the struct layouts read through the interface from a real registry,
/// `Heights` against `DisputeGame.checkHeights`, `Claims` against the registry on the fixture
/// `test/fixtures/echo.json`, and the mock's lifecycle and events.
contract KitTest is TestBase {
    uint256 internal constant BOND = 1 ether;
    uint256 internal constant FEE = 0.25 ether;
    uint64 internal constant WINDOW = 1 hours;
    uint256 internal constant START = 1_700_000_000;
    address internal constant SERVER = address(0x5E5E);

    string internal json;
    DisputeGame internal games;
    InputOracle internal oracle;
    TaskRegistry internal registry;
    MockTaskRegistry internal mock;

    function setUp() public {
        json = vm.readFile(string.concat(vm.projectRoot(), "/test/fixtures/echo.json"));
        games = new DisputeGame(new RiscvStep());
        oracle = new InputOracle();
        registry = new TaskRegistry(games, oracle, BOND, BOND, WINDOW, 1 days);
        mock = new MockTaskRegistry(BOND, BOND, WINDOW, 1 days);
        vm.deal(address(this), 10 ether);
        vm.deal(SERVER, 10 ether);
        vm.warp(START);
    }

    receive() external payable {}

    /*//////////////////////////////////////////////////////////////
                      THE INTERFACES ARE THE CONTRACTS'
    //////////////////////////////////////////////////////////////*/

    function test_functionSelectorsAreTheRegistrys() public view {
        ITaskRegistry i = ITaskRegistry(address(registry));
        TaskRegistry r = registry;
        bytes4[2][29] memory pairs = [
            [i.postTask.selector, r.postTask.selector],
            [i.postGraphTask.selector, r.postGraphTask.selector],
            [i.cancel.selector, r.cancel.selector],
            [i.withdraw.selector, r.withdraw.selector],
            [i.commitResult.selector, r.commitResult.selector],
            [i.commitGraphResult.selector, r.commitGraphResult.selector],
            [i.challenge.selector, r.challenge.selector],
            [i.settleDispute.selector, r.settleDispute.selector],
            [i.collect.selector, r.collect.selector],
            [i.finalize.selector, r.finalize.selector],
            [i.task.selector, r.task.selector],
            [i.round.selector, r.round.selector],
            [i.outputOf.selector, r.outputOf.selector],
            [i.dispute.selector, r.dispute.selector],
            [i.taskCount.selector, r.taskCount.selector],
            [i.balanceOf.selector, r.balanceOf.selector],
            [i.burned.selector, r.burned.selector],
            [i.serverBond.selector, r.serverBond.selector],
            [i.challengerBond.selector, r.challengerBond.selector],
            [i.challengeWindow.selector, r.challengeWindow.selector],
            [i.gameClock.selector, r.gameClock.selector],
            [i.inputOracle.selector, r.inputOracle.selector],
            [i.games.selector, r.games.selector],
            [i.byteCommitment.selector, r.byteCommitment.selector],
            [i.graphTaskWord.selector, r.graphTaskWord.selector],
            [i.graphStartState.selector, r.graphStartState.selector],
            [i.graphFinalState.selector, r.graphFinalState.selector],
            [i.requiredWindow.selector, r.requiredWindow.selector],
            [i.requiredClock.selector, r.requiredClock.selector]
        ];
        for (uint256 k = 0; k < pairs.length; ++k) {
            vm.assertEq(bytes32(pairs[k][0]), bytes32(pairs[k][1]), "function selector");
        }
    }

    function test_eventAndErrorSelectorsAreTheContracts() public pure {
        bytes32[2][27] memory pairs = [
            [ITaskRegistry.TaskPosted.selector, TaskRegistry.TaskPosted.selector],
            [ITaskRegistry.GraphTaskPosted.selector, TaskRegistry.GraphTaskPosted.selector],
            [ITaskRegistry.ResultCommitted.selector, TaskRegistry.ResultCommitted.selector],
            [
                ITaskRegistry.GraphResultCommitted.selector,
                TaskRegistry.GraphResultCommitted.selector
            ],
            [ITaskRegistry.Challenged.selector, TaskRegistry.Challenged.selector],
            [ITaskRegistry.DisputeSettled.selector, TaskRegistry.DisputeSettled.selector],
            [ITaskRegistry.RoundRejected.selector, TaskRegistry.RoundRejected.selector],
            [ITaskRegistry.RoundClosed.selector, TaskRegistry.RoundClosed.selector],
            [ITaskRegistry.Burned.selector, TaskRegistry.Burned.selector],
            [ITaskRegistry.TaskReopened.selector, TaskRegistry.TaskReopened.selector],
            [ITaskRegistry.RewardCollected.selector, TaskRegistry.RewardCollected.selector],
            [ITaskRegistry.TaskFinalized.selector, TaskRegistry.TaskFinalized.selector],
            [ITaskRegistry.TaskCancelled.selector, TaskRegistry.TaskCancelled.selector],
            [ITaskRegistry.Withdrawn.selector, TaskRegistry.Withdrawn.selector],
            [IDisputeGameEvents.GameCreated.selector, DisputeGame.GameCreated.selector],
            [IDisputeGameEvents.RootPosted.selector, DisputeGame.RootPosted.selector],
            [IDisputeGameEvents.Revealed.selector, DisputeGame.Revealed.selector],
            [IDisputeGameEvents.Bisected.selector, DisputeGame.Bisected.selector],
            [IDisputeGameEvents.AgreedStateProven.selector, DisputeGame.AgreedStateProven.selector],
            [IDisputeGameEvents.StepVerified.selector, DisputeGame.StepVerified.selector],
            [IDisputeGameEvents.Resolved.selector, DisputeGame.Resolved.selector],
            [bytes32(ITaskRegistry.NoSuchTask.selector), bytes32(TaskRegistry.NoSuchTask.selector)],
            [
                bytes32(ITaskRegistry.WrongStatus.selector),
                bytes32(TaskRegistry.WrongStatus.selector)
            ],
            [
                bytes32(ITaskRegistry.InputUnavailable.selector),
                bytes32(TaskRegistry.InputUnavailable.selector)
            ],
            [
                bytes32(ITaskRegistry.WindowTooShort.selector),
                bytes32(TaskRegistry.WindowTooShort.selector)
            ],
            [
                bytes32(ITaskRegistry.ClockTooShort.selector),
                bytes32(TaskRegistry.ClockTooShort.selector)
            ],
            [bytes32(Heights.BadHeights.selector), bytes32(DisputeGame.BadHeights.selector)]
        ];
        for (uint256 k = 0; k < pairs.length; ++k) {
            vm.assertEq(pairs[k][0], pairs[k][1], "event or error selector");
        }
        // The remaining errors, one line each (no arrays of mixed widths).
        vm.assertEq(
            bytes32(ITaskRegistry.DeadlinePassed.selector),
            bytes32(TaskRegistry.DeadlinePassed.selector),
            "DeadlinePassed"
        );
        vm.assertEq(
            bytes32(ITaskRegistry.DeadlineNotPassed.selector),
            bytes32(TaskRegistry.DeadlineNotPassed.selector),
            "DeadlineNotPassed"
        );
        vm.assertEq(
            bytes32(ITaskRegistry.WindowOpen.selector),
            bytes32(TaskRegistry.WindowOpen.selector),
            "WindowOpen"
        );
        vm.assertEq(
            bytes32(ITaskRegistry.DisputesOpen.selector),
            bytes32(TaskRegistry.DisputesOpen.selector),
            "DisputesOpen"
        );
        vm.assertEq(
            bytes32(ITaskRegistry.NoStepProgram.selector),
            bytes32(TaskRegistry.NoStepProgram.selector),
            "NoStepProgram"
        );
        vm.assertEq(
            bytes32(ITaskRegistry.NothingToWithdraw.selector),
            bytes32(TaskRegistry.NothingToWithdraw.selector),
            "NothingToWithdraw"
        );
        vm.assertEq(
            bytes32(ITaskRegistry.TransferFailed.selector),
            bytes32(TaskRegistry.TransferFailed.selector),
            "TransferFailed"
        );
    }

    /// @dev The structs' layouts: a real task, round and dispute read through the interface
    /// equal the registry's own reads, field by field (a missing or reordered field fails).
    function test_structsReadThroughTheInterface() public {
        (uint256 taskId,) = postFixtureTask();
        commitFixtureResult(taskId);
        ITaskRegistry i = ITaskRegistry(address(registry));
        vm.assertEq(
            keccak256(abi.encode(i.task(taskId))),
            keccak256(abi.encode(registry.task(taskId))),
            "task"
        );
        ITaskRegistry.Task memory t = i.task(taskId);
        vm.assertTrue(t.status == ITaskRegistry.TaskStatus.Committed, "status");
        vm.assertTrue(t.kind == ITaskRegistry.TaskKind.Vm, "kind");
        vm.assertEq(t.server, SERVER, "server");
        vm.assertEq(t.finalState, vm.parseJsonBytes32(json, ".final_state_hash"), "final state");
        vm.assertEq(t.heights, vm.parseJsonBytes32(json, ".heights"), "heights");
        vm.assertEq(
            keccak256(abi.encode(i.round(taskId, 0))),
            keccak256(abi.encode(registry.round(taskId, 0))),
            "round"
        );
        vm.assertEq(i.round(taskId, 0).server, SERVER, "round server");
        vm.assertEq(
            keccak256(abi.encode(i.dispute(taskId, 0, SERVER))),
            keccak256(abi.encode(registry.dispute(taskId, 0, SERVER))),
            "dispute"
        );
        vm.assertEq(i.inputOracle(), address(oracle), "oracle");
        vm.assertEq(i.games(), address(games), "games");
    }

    /*//////////////////////////////////////////////////////////////
                                 HEIGHTS
    //////////////////////////////////////////////////////////////*/

    function test_heightsPackAsTheRustSide() public view {
        vm.assertEq(Heights.pack(20, 10), bytes32(bytes2(0x140a)), "20,10");
        vm.assertEq(Heights.pack(11, 8, 8), bytes32(bytes3(0x0b0808)), "11,8,8");
        bytes32 fixture = vm.parseJsonBytes32(json, ".heights");
        vm.assertEq(Heights.count(fixture), 2, "fixture phases");
        vm.assertEq(
            Heights.pack(Heights.at(fixture, 0), Heights.at(fixture, 1)), fixture, "fixture"
        );
        vm.assertLe(vm.parseJsonUint(json, ".steps"), Heights.maxSteps(fixture), "fits");
    }

    /// @dev Differential: `Heights.pack` accepts exactly what `DisputeGame.checkHeights`
    /// accepts, with the same phase count and total.
    function testFuzz_heightsAgreeWithTheGame(uint8[9] memory raw, uint8 len) public view {
        // 0 to 9 phases of heights 0..25, so every rule is hit often.
        uint8[] memory h = new uint8[](len % 10);
        for (uint256 p = 0; p < h.length; ++p) {
            h[p] = raw[p] % 26;
        }
        try this.pack(h) returns (bytes32 packed) {
            (uint256 k, uint256 total) = games.checkHeights(packed, false);
            vm.assertEq(k, Heights.count(packed), "count");
            vm.assertEq(total, Heights.total(packed), "total");
        } catch (bytes memory reason) {
            vm.assertEq(bytes32(bytes4(reason)), bytes32(Heights.BadHeights.selector), "error");
            bytes32 packed = abi.decode(_tail(reason), (bytes32));
            try games.checkHeights(packed, false) {
                // A zero height inside the list packs like a shorter list, which may be valid.
                bool zero;
                for (uint256 p = 0; p < h.length; ++p) {
                    zero = zero || h[p] == 0;
                }
                vm.assertTrue(zero && packed != 0, "pack refused valid heights");
            } catch {}
        }
    }

    function pack(uint8[] memory h) external pure returns (bytes32) {
        return Heights.pack(h);
    }

    /*//////////////////////////////////////////////////////////////
                                 CLAIMS
    //////////////////////////////////////////////////////////////*/

    function test_claimOfTheFixture() public view {
        Claims.Claim memory c = Claims.decode(
            vm.parseJsonBytes32(json, ".program_id"),
            vm.parseJsonBytes32(json, ".input_commitment"),
            vm.parseJsonBytes(json, ".final_state"),
            vm.parseJsonBytes(json, ".output")
        );
        vm.assertEq(c.finalState, vm.parseJsonBytes32(json, ".final_state_hash"), "hash");
        vm.assertEq(c.steps, vm.parseJsonUint(json, ".steps"), "steps");
        vm.assertEq(vm.parseJsonString(json, ".status.kind"), "exited", "kind");
        vm.assertEq(c.exitStatus, C.STATUS_EXITED, "exited");
        vm.assertEq(c.exitCode, vm.parseJsonUint(json, ".status.code"), "code");
        vm.assertEq(
            sha256(vm.parseJsonBytes(json, ".initial_state")),
            vm.parseJsonBytes32(json, ".program_id"),
            "program ID"
        );
    }

    /// forge-config: default.fuzz.runs = 500
    /// @dev `outputMatches` agrees with the registry's check: the fixture's output passes both,
    /// and the same output with any one byte flipped, one byte longer or one shorter fails.
    function testFuzz_outputMatchesAsTheRegistry(uint256 at, uint8 change) public {
        bytes memory state = vm.parseJsonBytes(json, ".final_state");
        bytes memory output = vm.parseJsonBytes(json, ".output");
        vm.assertTrue(output.length > 0, "the fixture has an output");
        vm.assertTrue(Claims.outputMatches(state, output), "the fixture's output");
        bytes memory wrong;
        if (change % 3 == 0) {
            wrong = bytes.concat(output, bytes1(change));
        } else if (change % 3 == 1 && output.length > 0) {
            wrong = new bytes(output.length - 1);
            for (uint256 j = 0; j < wrong.length; ++j) {
                wrong[j] = output[j];
            }
        } else {
            wrong = bytes.concat(output);
            wrong[at % wrong.length] ^= bytes1(uint8(1) << (change % 8));
        }
        vm.assertTrue(!Claims.outputMatches(state, wrong), "a wrong output");
        (uint256 taskId,) = postFixtureTask();
        vm.prank(SERVER);
        vm.expectRevert(TaskRegistry.OutputMismatch.selector);
        registry.commitResult{value: BOND}(taskId, state, wrong);
    }

    /*//////////////////////////////////////////////////////////////
                                  MOCK
    //////////////////////////////////////////////////////////////*/

    function postMock() internal returns (uint256 taskId) {
        taskId = mock.postTask{value: FEE}(
            bytes32("program"), bytes32("input"), Heights.pack(4, 4), uint64(START + 1 days)
        );
    }

    function test_mockFinalizedPaysTheApp() public {
        uint256 taskId = postMock();
        PayOnResult app = new PayOnResult{value: 1 ether}(mock, taskId);
        vm.expectRevert(
            abi.encodeWithSelector(PayOnResult.NotVerified.selector, ITaskRegistry.TaskStatus.Open)
        );
        app.settle();

        vm.expectEmit(address(mock));
        emit ITaskRegistry.ResultCommitted(taskId, SERVER, 0, 1, 0, 0, "42", 0);
        vm.expectEmit(address(mock));
        emit ITaskRegistry.TaskFinalized(taskId);
        vm.prank(SERVER);
        mock.mockFinalized(taskId, "42");

        uint256 before = address(this).balance;
        app.settle();
        vm.assertEq(app.result(), "42", "result");
        vm.assertEq(address(this).balance - before, 1 ether, "reward");
        vm.assertEq(mock.balanceOf(SERVER), FEE, "the fee went to the server");
    }

    function test_mockRejectedReopensTheTask() public {
        uint256 taskId = postMock();
        PayOnResult app = new PayOnResult(mock, taskId);
        vm.prank(SERVER);
        mock.mockCommit(taskId, "wrong");
        vm.assertEq(mock.outputOf(taskId), "wrong", "the output reads before it is verified");
        vm.expectRevert(
            abi.encodeWithSelector(
                PayOnResult.NotVerified.selector, ITaskRegistry.TaskStatus.Committed
            )
        );
        app.settle();

        vm.expectEmit(address(mock));
        emit ITaskRegistry.RoundRejected(taskId, 0, address(this), 0, 0, 0);
        vm.expectEmit(address(mock));
        emit ITaskRegistry.TaskReopened(taskId, 1);
        mock.mockReject(taskId);
        ITaskRegistry.Task memory t = mock.task(taskId);
        vm.assertTrue(t.status == ITaskRegistry.TaskStatus.Open, "open");
        vm.assertEq(t.round, 1, "round");
        vm.assertTrue(mock.round(taskId, 0).rejected, "rejected");

        // The next round's result, committed then finalized by the real rule: after the window.
        vm.prank(SERVER);
        mock.mockCommit(taskId, "right");
        vm.expectRevert(
            abi.encodeWithSelector(ITaskRegistry.WindowOpen.selector, uint64(START + WINDOW))
        );
        mock.finalize(taskId);
        vm.warp(START + WINDOW + 1);
        mock.finalize(taskId);
        app.settle();
        vm.assertEq(app.result(), "right", "result");
    }

    /// @dev A server commits the fixture's real result to the mock with its bond, as to the
    /// registry; the mock refuses a wrong output for that state.
    function test_mockCommitsTheFixtureResult() public {
        bytes memory state = vm.parseJsonBytes(json, ".final_state");
        bytes memory output = vm.parseJsonBytes(json, ".output");
        uint256 taskId = postMock();
        vm.prank(SERVER);
        vm.expectRevert(Claims.OutputMismatch.selector);
        mock.commitResult{value: BOND}(taskId, state, bytes.concat(output, "!"));
        vm.prank(SERVER);
        vm.expectRevert(abi.encodeWithSelector(MockTaskRegistry.WrongBond.selector, 0, BOND));
        mock.commitResult(taskId, state, output);
        vm.prank(SERVER);
        mock.commitResult{value: BOND}(taskId, state, output);
        vm.assertEq(
            mock.task(taskId).finalState, vm.parseJsonBytes32(json, ".final_state_hash"), "state"
        );
        mock.mockFinalize(taskId);
        vm.prank(SERVER);
        mock.withdraw();
        vm.assertEq(SERVER.balance, 10 ether + FEE, "bond and fee back");
        vm.assertEq(address(mock).balance, 0, "books");
    }

    function test_mockCancelsAndPlaysNoGames() public {
        uint256 taskId = postMock();
        vm.expectRevert(MockTaskRegistry.NotMocked.selector);
        mock.challenge(taskId, "", 0, 0, new bytes32[](0));
        vm.expectRevert(
            abi.encodeWithSelector(ITaskRegistry.DeadlineNotPassed.selector, uint64(START + 1 days))
        );
        mock.cancel(taskId);
        vm.warp(START + 1 days + 1);
        mock.cancel(taskId);
        vm.assertTrue(mock.task(taskId).status == ITaskRegistry.TaskStatus.Cancelled, "cancelled");
        uint256 before = address(this).balance;
        mock.withdraw();
        vm.assertEq(address(this).balance - before, FEE, "fee back");
        vm.expectRevert(abi.encodeWithSelector(ITaskRegistry.NoSuchTask.selector, 7));
        mock.mockFinalized(7, "");
    }

    /*//////////////////////////////////////////////////////////////
                                 HELPERS
    //////////////////////////////////////////////////////////////*/

    /// @dev Publishes the fixture's input and posts its task on the real registry.
    function postFixtureTask() internal returns (uint256 taskId, bytes32 commitment) {
        bytes memory input = vm.parseJsonBytes(json, ".input");
        commitment = oracle.post(oracle.open(uint32(input.length)), input);
        taskId = ITaskRegistry(address(registry)).postTask{value: FEE}(
            vm.parseJsonBytes32(json, ".program_id"),
            commitment,
            vm.parseJsonBytes32(json, ".heights"),
            uint64(START + 1 days)
        );
    }

    function commitFixtureResult(uint256 taskId) internal {
        vm.prank(SERVER);
        registry.commitResult{value: BOND}(
            taskId, vm.parseJsonBytes(json, ".final_state"), vm.parseJsonBytes(json, ".output")
        );
    }

    /// @dev `data` without its first 4 bytes (a revert's arguments).
    function _tail(bytes memory data) internal pure returns (bytes memory tail) {
        tail = new bytes(data.length - 4);
        for (uint256 j = 0; j < tail.length; ++j) {
            tail[j] = data[j + 4];
        }
    }
}
