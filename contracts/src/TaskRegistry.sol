// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {DisputeGame} from "./DisputeGame.sol";
import {InputOracle} from "./InputOracle.sol";
import {VmConstants as C} from "./lib/VmConstants.sol";
import {StateLength} from "./lib/Errors.sol";

/// @title TaskRegistry
/// @notice The opML task lifecycle. A requester posts a task (program, input, phase
/// configuration, fee, deadline); a server commits the result with a bond; during the
/// challenge window any verifier may dispute it with a bond, in a `DisputeGame` against the
/// server; the verdicts pay and slash; an undisputed (or successfully defended) result
/// finalizes, and the requester reads the verified output here.
/// @dev Note: every payment is credited to `balanceOf` and pulled with `withdraw`, so no
/// transfer happens inside the lifecycle and nothing can re-enter it. Bonds are conserved: the
/// contract's balance always equals the credited balances plus the fees and bonds of live
/// tasks and disputes.
///
/// Several challengers may dispute one result at once, each in its own game, so that a
/// front-running challenger who loses on purpose cannot shield a wrong result. The first
/// challenger to win takes the server's bond and rejects the result; the bonds of challengers
/// still in play are then returned, whatever their games say, since the result was wrong.
contract TaskRegistry {
    /*//////////////////////////////////////////////////////////////
                                 TYPES
    //////////////////////////////////////////////////////////////*/

    /// @notice Where a task is in its lifecycle.
    enum TaskStatus {
        None,
        /// Waiting for a result.
        Open,
        /// A result is in; disputes may be open.
        Committed,
        /// The result stands; the output is verified.
        Finalized,
        /// A challenger proved the result wrong.
        Rejected,
        /// No result came before the deadline; the fee went back.
        Cancelled
    }

    /// @notice A requested computation.
    struct Task {
        address requester;
        /// Last moment a result may be committed.
        uint64 deadline;
        TaskStatus status;
        /// Disputes whose verdict has not been applied.
        uint32 openDisputes;
        /// The server that committed the result.
        address server;
        /// When the result was committed (the challenge window starts).
        uint64 committedAt;
        uint256 fee;
        bytes32 programId;
        bytes32 inputCommitment;
        /// The dispute games' phase heights (`DisputeGame.checkHeights`).
        bytes32 heights;
        /// The claimed final state hash.
        bytes32 finalState;
    }

    /// @notice One challenger's dispute of a result.
    struct Dispute {
        uint256 gameId;
        bool open;
        bool settled;
    }

    /*//////////////////////////////////////////////////////////////
                                STORAGE
    //////////////////////////////////////////////////////////////*/

    /// @notice The referee of every dispute (games created by this registry only).
    DisputeGame public immutable games;
    /// @notice Where task inputs are published.
    InputOracle public immutable inputOracle;
    /// @notice Bond a server posts with a result.
    uint256 public immutable serverBond;
    /// @notice Bond a challenger posts with a dispute.
    uint256 public immutable challengerBond;
    /// @notice Seconds after a commitment during which disputes may open.
    uint64 public immutable challengeWindow;
    /// @notice Chess-clock budget of each side of a dispute, in seconds.
    uint64 public immutable gameClock;

    /// @notice Number of tasks posted; ids are 0 .. taskCount - 1.
    uint256 public taskCount;
    /// @notice Credited payments, pulled with `withdraw`.
    mapping(address account => uint256) public balanceOf;

    mapping(uint256 taskId => Task) internal tasks;
    mapping(uint256 taskId => bytes) internal outputs;
    mapping(uint256 taskId => mapping(address challenger => Dispute)) internal disputes;

    /*//////////////////////////////////////////////////////////////
                                 EVENTS
    //////////////////////////////////////////////////////////////*/

    /// @notice A requester posted a task.
    event TaskPosted(
        uint256 indexed taskId,
        address indexed requester,
        bytes32 programId,
        bytes32 inputCommitment,
        bytes32 heights,
        uint256 fee,
        uint64 deadline
    );
    /// @notice A server committed a result (the full claim).
    event ResultCommitted(
        uint256 indexed taskId,
        address indexed server,
        bytes32 finalState,
        uint8 exitStatus,
        uint32 exitCode,
        uint64 steps,
        bytes output
    );
    /// @notice A challenger disputed the result in game `gameId`.
    event Challenged(uint256 indexed taskId, address indexed challenger, uint256 gameId);
    /// @notice A dispute's verdict was applied.
    event DisputeSettled(
        uint256 indexed taskId, address indexed challenger, bool challengerWon, bool refunded
    );
    /// @notice The result stands.
    event TaskFinalized(uint256 indexed taskId);
    /// @notice The result was proven wrong by `challenger`.
    event TaskRejected(uint256 indexed taskId, address indexed challenger);
    /// @notice The task expired without a result.
    event TaskCancelled(uint256 indexed taskId);
    /// @notice `account` pulled `amount`.
    event Withdrawn(address indexed account, uint256 amount);

    /*//////////////////////////////////////////////////////////////
                                 ERRORS
    //////////////////////////////////////////////////////////////*/

    /// @notice No task has this id.
    error NoSuchTask(uint256 taskId);
    /// @notice The task is not in the status the call needs.
    error WrongStatus(TaskStatus expected, TaskStatus actual);
    /// @notice The input is not published in the input oracle.
    error InputUnavailable(bytes32 inputCommitment);
    /// @notice The deadline is in the past.
    error DeadlinePassed(uint64 deadline);
    /// @notice The deadline has not passed yet.
    error DeadlineNotPassed(uint64 deadline);
    /// @notice The value sent is not the bond.
    error WrongBond(uint256 sent, uint256 required);
    /// @notice The claimed final state is still running.
    error ResultNotHalted();
    /// @notice The claimed final state has a status byte no run produces.
    error BadStatus(uint8 status);
    /// @notice The claimed run is longer than the games' trace.
    error ResultTooLong(uint64 steps, uint256 maxSteps);
    /// @notice The output bytes are not the ones the final state commits to.
    error OutputMismatch();
    /// @notice The challenge window is closed.
    error WindowClosed(uint64 closedAt);
    /// @notice The challenge window is still open.
    error WindowOpen(uint64 closesAt);
    /// @notice Disputes are still open.
    error DisputesOpen(uint32 count);
    /// @notice The server cannot dispute its own result, nor a challenger twice.
    error NotAllowed();
    /// @notice The packed state is not the program's initial state.
    error ProgramMismatch(bytes32 computed, bytes32 programId);
    /// @notice The caller has no open dispute on this task.
    error NoDispute(uint256 taskId, address challenger);
    /// @notice The dispute's game is not over.
    error GameNotOver(uint256 gameId);
    /// @notice Nothing to withdraw.
    error NothingToWithdraw();
    /// @notice The transfer of a withdrawal failed.
    error TransferFailed();

    constructor(
        DisputeGame games_,
        InputOracle inputOracle_,
        uint256 serverBond_,
        uint256 challengerBond_,
        uint64 challengeWindow_,
        uint64 gameClock_
    ) {
        games = games_;
        inputOracle = inputOracle_;
        serverBond = serverBond_;
        challengerBond = challengerBond_;
        challengeWindow = challengeWindow_;
        gameClock = gameClock_;
    }

    /*//////////////////////////////////////////////////////////////
                               LIFECYCLE
    //////////////////////////////////////////////////////////////*/

    /// @notice Posts a task: run `programId` on the published input `inputCommitment`,
    /// disputed with phase `heights`, before `deadline`. The value sent is the fee.
    function postTask(bytes32 programId, bytes32 inputCommitment, bytes32 heights, uint64 deadline)
        external
        payable
        returns (uint256 taskId)
    {
        if (!inputOracle.isAvailable(inputCommitment)) revert InputUnavailable(inputCommitment);
        if (deadline <= block.timestamp) revert DeadlinePassed(deadline);
        games.checkHeights(heights);
        taskId = taskCount++;
        Task storage t = tasks[taskId];
        t.requester = msg.sender;
        t.deadline = deadline;
        t.status = TaskStatus.Open;
        t.fee = msg.value;
        t.programId = programId;
        t.inputCommitment = inputCommitment;
        t.heights = heights;
        emit TaskPosted(
            taskId, msg.sender, programId, inputCommitment, heights, msg.value, deadline
        );
    }

    /// @notice Commits the result of a task: the packed final state (halted, within the trace
    /// length) and the output bytes it commits to. The value sent is the server bond.
    function commitResult(uint256 taskId, bytes calldata finalStateData, bytes calldata output)
        external
        payable
    {
        Task storage t = _task(taskId, TaskStatus.Open);
        if (block.timestamp > t.deadline) revert DeadlinePassed(t.deadline);
        if (msg.value != serverBond) revert WrongBond(msg.value, serverBond);
        if (finalStateData.length != C.STATE_LEN) revert StateLength(finalStateData.length);
        uint8 exitStatus = uint8(finalStateData[C.STATUS]);
        if (exitStatus == C.STATUS_RUNNING) revert ResultNotHalted();
        if (exitStatus != C.STATUS_EXITED && exitStatus != C.STATUS_TRAPPED) {
            revert BadStatus(exitStatus);
        }
        uint64 steps = uint64(bytes8(finalStateData[C.STEP:C.STEP + 8]));
        (, uint256 total) = games.checkHeights(t.heights);
        if (steps > 1 << total) revert ResultTooLong(steps, 1 << total);
        _checkOutput(finalStateData, output);

        t.status = TaskStatus.Committed;
        t.server = msg.sender;
        t.committedAt = uint64(block.timestamp);
        t.finalState = sha256(finalStateData);
        outputs[taskId] = output;
        emit ResultCommitted(
            taskId,
            msg.sender,
            t.finalState,
            exitStatus,
            uint32(bytes4(finalStateData[C.EXIT_CODE:C.EXIT_CODE + 4])),
            steps,
            output
        );
    }

    /// @notice Disputes the result of `taskId` with a bond, opening a game against the server.
    /// @param initialState The program's packed initial state (hashing to the program ID); the
    /// game starts from it with the task's input.
    /// @param root The challenger's top-phase history root.
    /// @param end Its last leaf: the challenger's final state, which must differ from the
    /// claim.
    /// @param endProof The left siblings of `end` from the bottom up.
    function challenge(
        uint256 taskId,
        bytes calldata initialState,
        bytes32 root,
        bytes32 end,
        bytes32[] calldata endProof
    ) external payable returns (uint256 gameId) {
        Task storage t = _task(taskId, TaskStatus.Committed);
        uint64 closesAt = t.committedAt + challengeWindow;
        if (block.timestamp > closesAt) revert WindowClosed(closesAt);
        if (msg.value != challengerBond) revert WrongBond(msg.value, challengerBond);
        Dispute storage d = disputes[taskId][msg.sender];
        if (msg.sender == t.server || d.open || d.settled) revert NotAllowed();

        gameId = games.create(
            DisputeGame.Params({
                claimant: t.server,
                challenger: msg.sender,
                startState: _startState(initialState, t.programId, t.inputCommitment),
                claimedEnd: t.finalState,
                heights: t.heights,
                clock: gameClock,
                stepProgram: bytes32(0)
            }),
            root,
            end,
            endProof
        );
        d.gameId = gameId;
        d.open = true;
        t.openDisputes += 1;
        emit Challenged(taskId, msg.sender, gameId);
    }

    /// @notice Applies the verdict of `challenger`'s dispute (anyone may call). Once the task
    /// is rejected, the challenger's bond is returned without waiting for its game.
    function settleDispute(uint256 taskId, address challenger) external {
        Task storage t = tasks[taskId];
        Dispute storage d = disputes[taskId][challenger];
        if (!d.open) revert NoDispute(taskId, challenger);
        bool refunded = t.status == TaskStatus.Rejected;
        bool challengerWon;
        if (!refunded) {
            DisputeGame.Game memory g = games.game(d.gameId);
            if (g.stage != DisputeGame.Stage.Resolved) revert GameNotOver(d.gameId);
            challengerWon = g.winner == DisputeGame.Party.Challenger;
        }
        d.open = false;
        d.settled = true;
        t.openDisputes -= 1;
        if (refunded) {
            balanceOf[challenger] += challengerBond;
        } else if (challengerWon) {
            t.status = TaskStatus.Rejected;
            balanceOf[challenger] += challengerBond + serverBond;
            balanceOf[t.requester] += t.fee;
            emit TaskRejected(taskId, challenger);
        } else {
            balanceOf[t.server] += challengerBond;
        }
        emit DisputeSettled(taskId, challenger, challengerWon, refunded);
    }

    /// @notice Finalizes a result after its challenge window, once no dispute is open: the
    /// server gets its bond back and the fee (anyone may call).
    function finalize(uint256 taskId) external {
        Task storage t = _task(taskId, TaskStatus.Committed);
        uint64 closesAt = t.committedAt + challengeWindow;
        if (block.timestamp <= closesAt) revert WindowOpen(closesAt);
        if (t.openDisputes != 0) revert DisputesOpen(t.openDisputes);
        t.status = TaskStatus.Finalized;
        balanceOf[t.server] += serverBond + t.fee;
        emit TaskFinalized(taskId);
    }

    /// @notice Returns the fee of a task that got no result before its deadline.
    function cancel(uint256 taskId) external {
        Task storage t = _task(taskId, TaskStatus.Open);
        if (block.timestamp <= t.deadline) revert DeadlineNotPassed(t.deadline);
        t.status = TaskStatus.Cancelled;
        balanceOf[t.requester] += t.fee;
        emit TaskCancelled(taskId);
    }

    /// @notice Pays out everything credited to the caller.
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

    /// @notice The record of task `taskId` (all zero for an unknown id).
    function task(uint256 taskId) external view returns (Task memory) {
        return tasks[taskId];
    }

    /// @notice The committed output of a task (verified once the task is `Finalized`).
    function outputOf(uint256 taskId) external view returns (bytes memory) {
        return outputs[taskId];
    }

    /// @notice `challenger`'s dispute of `taskId`.
    function dispute(uint256 taskId, address challenger) external view returns (Dispute memory) {
        return disputes[taskId][challenger];
    }

    /*//////////////////////////////////////////////////////////////
                               INTERNALS
    //////////////////////////////////////////////////////////////*/

    function _task(uint256 taskId, TaskStatus status) internal view returns (Task storage t) {
        if (taskId >= taskCount) revert NoSuchTask(taskId);
        t = tasks[taskId];
        if (t.status != status) revert WrongStatus(status, t.status);
    }

    /// @dev The game's start state: the program's initial state (which hashes to the program
    /// ID, with an empty input) with the task's input commitment as its input link.
    function _startState(bytes calldata initialState, bytes32 programId, bytes32 inputCommitment)
        internal
        pure
        returns (bytes32)
    {
        if (initialState.length != C.STATE_LEN) revert StateLength(initialState.length);
        bytes32 computed = sha256(initialState);
        if (computed != programId) revert ProgramMismatch(computed, programId);
        return sha256(
            abi.encodePacked(
                initialState[:C.INPUT_LINK], inputCommitment, initialState[C.INPUT_LINK + 32:]
            )
        );
    }

    /// @dev Checks that `output` is what the packed state's output fields commit to: the fold
    /// of its full 32-byte chunks, the zero-padded tail and the length (`opml_state::output`).
    function _checkOutput(bytes calldata state, bytes calldata output) internal pure {
        uint256 full = output.length / C.CHUNK_LEN * C.CHUNK_LEN;
        bytes32 acc;
        for (uint256 i = 0; i < full; i += C.CHUNK_LEN) {
            acc = sha256(abi.encodePacked(acc, bytes32(output[i:i + C.CHUNK_LEN])));
        }
        bytes32 tail;
        if (full < output.length) {
            // bytes32(slice) of a short slice pads it with zeros on the right.
            tail = bytes32(output[full:]);
        }
        if (
            acc != bytes32(state[C.OUTPUT_ACC:C.OUTPUT_ACC + 32])
                || tail != bytes32(state[C.OUTPUT_TAIL:C.OUTPUT_TAIL + 32])
                || output.length != uint32(bytes4(state[C.OUTPUT_LEN:C.OUTPUT_LEN + 4]))
        ) revert OutputMismatch();
    }
}
