// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {TestBase} from "../kit/src/Vm.sol";
import {ITaskRegistry} from "../kit/src/ITaskRegistry.sol";
import {Heights} from "../kit/src/Heights.sol";
import {MockTaskRegistry} from "../kit/src/MockTaskRegistry.sol";
import {GuestPrograms} from "../src/generated/GuestPrograms.sol";

/// @notice An app of the ABI output convention (`guest/sdk/README.md`, "ABI output"): the
/// `abi-sum` guest commits `abi.encode(uint256 sum, uint32 count, string label)`, and this
/// contract reads a finalized task's output with one `abi.decode`.
contract SumConsumer {
    /// @notice The task is not final: its output is not verified.
    error NotVerified(ITaskRegistry.TaskStatus status);
    /// @notice The task runs another program, whose output means something else.
    error WrongProgram(bytes32 programId);

    ITaskRegistry public immutable registry;
    uint256 public sum;
    uint32 public count;
    string public label;

    constructor(ITaskRegistry registry_) {
        registry = registry_;
    }

    /// @notice Records the verified result of task `taskId`.
    function consume(uint256 taskId) external {
        ITaskRegistry.Task memory t = registry.task(taskId);
        if (t.programId != GuestPrograms.ABI_SUM_ID) revert WrongProgram(t.programId);
        if (t.status != ITaskRegistry.TaskStatus.Finalized) revert NotVerified(t.status);
        (sum, count, label) = abi.decode(registry.outputOf(taskId), (uint256, uint32, string));
    }
}

/// @notice The ABI output of a real guest run (`test/fixtures/abi-sum.json`, written by
/// `guest/methods/tests/abi_output.rs` from the `abi-sum` guest in the VM) decoded by a
/// consumer of the mock registry.
contract AbiOutputTest is TestBase {
    uint256 internal constant BOND = 1 ether;
    uint64 internal constant WINDOW = 1 hours;
    address internal constant SERVER = address(0x5E5E);

    string internal json;
    MockTaskRegistry internal mock;
    SumConsumer internal app;

    function setUp() public {
        json = vm.readFile(string.concat(vm.projectRoot(), "/test/fixtures/abi-sum.json"));
        mock = new MockTaskRegistry(BOND, BOND, WINDOW, 1 days);
        app = new SumConsumer(mock);
        vm.deal(address(this), 10 ether);
        vm.deal(SERVER, 10 ether);
    }

    function post(bytes32 programId) internal returns (uint256) {
        return mock.postTask{value: 0.1 ether}(
            programId,
            vm.parseJsonBytes32(json, ".input_commitment"),
            Heights.pack(4, 4),
            uint64(block.timestamp + 1 days)
        );
    }

    function test_fixtureIsTheGuestsProgram() public view {
        vm.assertEq(vm.parseJsonBytes32(json, ".program_id"), GuestPrograms.ABI_SUM_ID, "id");
    }

    function test_consumerDecodesTheGuestsAbiOutput() public {
        uint256 taskId = post(GuestPrograms.ABI_SUM_ID);
        bytes memory output = vm.parseJsonBytes(json, ".output");
        vm.expectRevert(
            abi.encodeWithSelector(SumConsumer.NotVerified.selector, ITaskRegistry.TaskStatus.Open)
        );
        app.consume(taskId);

        vm.prank(SERVER);
        mock.mockFinalized(taskId, output);
        app.consume(taskId);
        vm.assertEq(app.sum(), vm.parseJsonUint(json, ".sum"), "sum");
        vm.assertEq(app.sum(), 2 * uint256(type(uint64).max) + 42, "sum past 2^64");
        vm.assertEq(uint256(app.count()), vm.parseJsonUint(json, ".count"), "count");
        vm.assertEq(app.label(), vm.parseJsonString(json, ".label"), "label");
    }

    function test_consumerRefusesAnotherProgramsTask() public {
        uint256 taskId = post(GuestPrograms.ECHO_ID);
        vm.prank(SERVER);
        mock.mockFinalized(taskId, vm.parseJsonBytes(json, ".output"));
        vm.expectRevert(
            abi.encodeWithSelector(SumConsumer.WrongProgram.selector, GuestPrograms.ECHO_ID)
        );
        app.consume(taskId);
    }
}
