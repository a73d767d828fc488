// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {ITaskRegistry} from "./ITaskRegistry.sol";
import {Claims} from "./Claims.sol";
import {GraphState} from "../../src/lib/GraphState.sol";
import {VmConstants as C} from "../../src/lib/VmConstants.sol";

/// @title MockTaskRegistry
/// @notice A stand-in for `TaskRegistry` in app tests: the same interface, events and payments
/// to the requester, with no games. A test posts tasks through it as the app would, then sets
/// each task's result by hand: `mockFinalized(id, output)` (the result stands) or
/// `mockRejected(id, output)` (it was proven wrong: the task reopens), or in two steps with
/// `mockCommit` then `mockFinalize` / `mockReject` / the real `finalize` after the window.
/// Servers may also commit real results (`commitResult` checks a packed state against its
/// output, as the registry does, e.g. from an `opml fixture`).
/// @dev Note: what the mock does not check: input availability, the heights (nor a result's
/// steps against them), the window and clock feasibility. A mocked result (`mockCommit`) names
/// no final state (zero) and no bond; a committed one pays `serverBond`. A mocked rejection has
/// no challenger to reward: the bond goes to the requester (`REQUESTER_SHARE`) and the rest is
/// burned. `challenge`, `settleDispute`, `collect` and the time views (`requiredWindow`,
/// `requiredClock`) revert with `NotMocked`: disputes are replayed against the real contracts
/// (`test/Replay.t.sol`).
contract MockTaskRegistry is ITaskRegistry {
    /*//////////////////////////////////////////////////////////////
                                 ERRORS
    //////////////////////////////////////////////////////////////*/

    /// @notice The mock plays no games.
    error NotMocked();
    /// @notice The value sent is not the bond.
    error WrongBond(uint256 sent, uint256 required);
    /// @notice The call is for tasks of the other kind.
    error WrongKind(TaskKind expected, TaskKind actual);
    /// @notice The claimed final state is still running.
    error ResultNotHalted();

    /*//////////////////////////////////////////////////////////////
                               CONSTANTS
    //////////////////////////////////////////////////////////////*/

    /// @notice Basis points of a whole bond.
    uint256 public constant BPS = 10_000;
    /// @notice Share of a rejected server's bond credited to the requester (as the registry).
    uint256 public constant REQUESTER_SHARE = 2_500;

    /*//////////////////////////////////////////////////////////////
                                STORAGE
    //////////////////////////////////////////////////////////////*/

    uint256 public immutable serverBond;
    uint256 public immutable challengerBond;
    uint64 public immutable challengeWindow;
    uint64 public immutable gameClock;

    uint256 public taskCount;
    mapping(address account => uint256) public balanceOf;
    uint256 public burned;

    /// @dev The `task` view, kept current (its round fields are the current round's).
    mapping(uint256 taskId => Task) internal tasks;
    mapping(uint256 taskId => bytes) internal outputs;
    mapping(uint256 taskId => mapping(uint256 round => Round)) internal rounds;
    /// @dev The bond the current round's server paid (zero for a mocked result).
    mapping(uint256 taskId => uint256) internal bonds;

    /// @notice A registry with the given bonds, window and clock (the real one's constructor
    /// without its contracts).
    constructor(
        uint256 serverBond_,
        uint256 challengerBond_,
        uint64 challengeWindow_,
        uint64 gameClock_
    ) {
        serverBond = serverBond_;
        challengerBond = challengerBond_;
        challengeWindow = challengeWindow_;
        gameClock = gameClock_;
    }

    /*//////////////////////////////////////////////////////////////
                             TEST CONTROLS
    //////////////////////////////////////////////////////////////*/

    /// @notice Commits `output` as the result of open task `taskId` from the caller, with no
    /// bond and no state: the task is `Committed`, its window open.
    function mockCommit(uint256 taskId, bytes calldata output) public {
        Task storage t = _task(taskId, TaskStatus.Open);
        uint256 round_ = _commit(taskId, t, 0, output, 0);
        if (t.kind == TaskKind.Vm) {
            emit ResultCommitted(taskId, msg.sender, 0, C.STATUS_EXITED, 0, 0, output, round_);
        } else {
            emit GraphResultCommitted(taskId, msg.sender, 0, 0, output, round_);
        }
    }

    /// @notice Finalizes committed task `taskId` at once (no window): the result stands.
    function mockFinalize(uint256 taskId) public {
        _finalize(taskId, _task(taskId, TaskStatus.Committed));
    }

    /// @notice Rejects committed task `taskId`'s current round as if a challenger (the caller)
    /// had won: the server's bond is split and the task reopens, or is cancelled past its
    /// deadline.
    function mockReject(uint256 taskId) public {
        Task storage t = _task(taskId, TaskStatus.Committed);
        uint256 round_ = t.round;
        rounds[taskId][round_].rejected = true;
        uint256 bond = bonds[taskId];
        uint256 toRequester = bond * REQUESTER_SHARE / BPS;
        balanceOf[t.requester] += toRequester;
        burned += bond - toRequester;
        emit RoundRejected(taskId, round_, msg.sender, toRequester, bond - toRequester, 0);
        emit Burned(taskId, round_, bond - toRequester);
        (t.server, t.committedAt, t.finalState) = (address(0), 0, 0);
        if (block.timestamp > t.deadline) {
            _cancel(taskId, t);
        } else {
            t.status = TaskStatus.Open;
            t.round = uint32(round_ + 1);
            emit TaskReopened(taskId, round_ + 1);
        }
    }

    /// @notice `mockCommit` then `mockFinalize`: `output` is task `taskId`'s verified output.
    function mockFinalized(uint256 taskId, bytes calldata output) external {
        mockCommit(taskId, output);
        mockFinalize(taskId);
    }

    /// @notice `mockCommit` then `mockReject`: `output` was proven wrong.
    function mockRejected(uint256 taskId, bytes calldata output) external {
        mockCommit(taskId, output);
        mockReject(taskId);
    }

    /*//////////////////////////////////////////////////////////////
                               LIFECYCLE
    //////////////////////////////////////////////////////////////*/

    function postTask(bytes32 programId, bytes32 inputCommitment, bytes32 heights, uint64 deadline)
        external
        payable
        returns (uint256 taskId)
    {
        taskId = _post(TaskKind.Vm, programId, inputCommitment, heights, deadline);
        emit TaskPosted(
            taskId, msg.sender, programId, inputCommitment, heights, msg.value, deadline
        );
    }

    function postGraphTask(
        bytes32 stepProgram,
        bytes32 modelRoot,
        bytes calldata input,
        bytes32 heights,
        uint64 deadline
    ) external payable returns (uint256 taskId) {
        if (stepProgram == 0) revert NoStepProgram();
        bytes32 task_ = GraphState.taskWord(modelRoot, input);
        taskId = _post(TaskKind.Graph, stepProgram, task_, heights, deadline);
        emit GraphTaskPosted(
            taskId, msg.sender, modelRoot, stepProgram, task_, heights, msg.value, deadline, input
        );
    }

    /// @notice As the registry: a halted packed final state committing to `output`, and the
    /// server bond.
    function commitResult(uint256 taskId, bytes calldata finalStateData, bytes calldata output)
        external
        payable
    {
        Task storage t = _committable(taskId, TaskKind.Vm);
        Claims.Claim memory claim =
            Claims.decode(t.programId, t.inputCommitment, finalStateData, output);
        if (claim.exitStatus == C.STATUS_RUNNING) revert ResultNotHalted();
        uint256 round_ = _commit(taskId, t, claim.finalState, output, msg.value);
        emit ResultCommitted(
            taskId,
            msg.sender,
            claim.finalState,
            claim.exitStatus,
            claim.exitCode,
            claim.steps,
            output,
            round_
        );
    }

    /// @notice As the registry: the final graph state derived from `values` and `output`.
    function commitGraphResult(uint256 taskId, bytes32 values, bytes calldata output)
        external
        payable
    {
        Task storage t = _committable(taskId, TaskKind.Graph);
        bytes32 finalState = GraphState.finalState(t.inputCommitment, values, output);
        uint256 round_ = _commit(taskId, t, finalState, output, msg.value);
        emit GraphResultCommitted(taskId, msg.sender, finalState, values, output, round_);
    }

    /// @notice Not mocked: reverts.
    function challenge(uint256, bytes calldata, bytes32, bytes32, bytes32[] calldata)
        external
        payable
        returns (uint256)
    {
        revert NotMocked();
    }

    /// @notice Not mocked: reverts.
    function settleDispute(uint256, uint256, address) external pure {
        revert NotMocked();
    }

    /// @notice Not mocked: reverts.
    function collect(uint256, uint256, address) external pure {
        revert NotMocked();
    }

    /// @notice Not mocked: reverts (the mock checks no window or clock).
    function requiredWindow(bytes32, bool) external pure returns (uint256) {
        revert NotMocked();
    }

    /// @notice Not mocked: reverts (the mock checks no window or clock).
    function requiredClock(bytes32, bool) external pure returns (uint256) {
        revert NotMocked();
    }

    /// @notice As the registry: after the challenge window (no disputes in a mock).
    function finalize(uint256 taskId) external {
        Task storage t = _task(taskId, TaskStatus.Committed);
        uint64 closesAt = t.committedAt + challengeWindow;
        if (block.timestamp <= closesAt) revert WindowOpen(closesAt);
        _finalize(taskId, t);
    }

    function cancel(uint256 taskId) external {
        Task storage t = _task(taskId, TaskStatus.Open);
        if (block.timestamp <= t.deadline) revert DeadlineNotPassed(t.deadline);
        _cancel(taskId, t);
    }

    function withdraw() external {
        uint256 amount = balanceOf[msg.sender];
        if (amount == 0) revert NothingToWithdraw();
        balanceOf[msg.sender] = 0;
        emit Withdrawn(msg.sender, amount);
        (bool ok,) = msg.sender.call{value: amount}("");
        if (!ok) revert TransferFailed();
    }

    /*//////////////////////////////////////////////////////////////
                                 VIEWS
    //////////////////////////////////////////////////////////////*/

    function task(uint256 taskId) external view returns (Task memory) {
        return tasks[taskId];
    }

    function round(uint256 taskId, uint256 round_) external view returns (Round memory) {
        return rounds[taskId][round_];
    }

    function outputOf(uint256 taskId) external view returns (bytes memory) {
        return outputs[taskId];
    }

    /// @notice Always empty: the mock has no disputes.
    function dispute(uint256, uint256, address) external pure returns (Dispute memory d) {}

    /// @notice None: the mock takes any input commitment.
    function inputOracle() external pure returns (address) {}

    /// @notice None: the mock plays no games.
    function games() external pure returns (address) {}

    function byteCommitment(bytes calldata data) external view returns (bytes32) {
        return GraphState.byteCommitment(data);
    }

    function graphTaskWord(bytes32 modelRoot, bytes calldata input)
        external
        view
        returns (bytes32)
    {
        return GraphState.taskWord(modelRoot, input);
    }

    function graphStartState(bytes32 task_) external view returns (bytes32) {
        return GraphState.startState(task_);
    }

    function graphFinalState(bytes32 task_, bytes32 values, bytes calldata output)
        external
        view
        returns (bytes32)
    {
        return GraphState.finalState(task_, values, output);
    }

    /*//////////////////////////////////////////////////////////////
                               INTERNALS
    //////////////////////////////////////////////////////////////*/

    function _task(uint256 taskId, TaskStatus status) internal view returns (Task storage t) {
        if (taskId >= taskCount) revert NoSuchTask(taskId);
        t = tasks[taskId];
        if (t.status != status) revert WrongStatus(status, t.status);
    }

    function _post(
        TaskKind kind,
        bytes32 programId,
        bytes32 inputCommitment,
        bytes32 heights,
        uint64 deadline
    ) internal returns (uint256 taskId) {
        if (deadline <= block.timestamp) revert DeadlinePassed(deadline);
        taskId = taskCount++;
        Task storage t = tasks[taskId];
        t.requester = msg.sender;
        t.deadline = deadline;
        t.status = TaskStatus.Open;
        t.kind = kind;
        t.fee = msg.value;
        t.programId = programId;
        t.inputCommitment = inputCommitment;
        t.heights = heights;
    }

    function _committable(uint256 taskId, TaskKind kind) internal view returns (Task storage t) {
        t = _task(taskId, TaskStatus.Open);
        if (t.kind != kind) revert WrongKind(kind, t.kind);
        if (block.timestamp > t.deadline) revert DeadlinePassed(t.deadline);
        if (msg.value != serverBond) revert WrongBond(msg.value, serverBond);
    }

    /// @dev Opens the current round of `t` with the caller's result and `bond`.
    function _commit(
        uint256 taskId,
        Task storage t,
        bytes32 finalState,
        bytes calldata output,
        uint256 bond
    ) internal returns (uint256 round_) {
        round_ = t.round;
        t.status = TaskStatus.Committed;
        (t.server, t.committedAt, t.finalState) = (msg.sender, uint64(block.timestamp), finalState);
        Round storage r = rounds[taskId][round_];
        (r.server, r.committedAt, r.finalState) = (msg.sender, uint64(block.timestamp), finalState);
        outputs[taskId] = output;
        bonds[taskId] = bond;
    }

    function _finalize(uint256 taskId, Task storage t) internal {
        t.status = TaskStatus.Finalized;
        balanceOf[t.server] += bonds[taskId] + t.fee;
        emit TaskFinalized(taskId);
    }

    function _cancel(uint256 taskId, Task storage t) internal {
        t.status = TaskStatus.Cancelled;
        balanceOf[t.requester] += t.fee;
        emit TaskCancelled(taskId);
    }
}
