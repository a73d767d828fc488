// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @title ITaskRegistry
/// @notice What an app contract sees of the opml `TaskRegistry` (`contracts/src/TaskRegistry.sol`):
/// its types, events, the errors of the requester's calls, and every external function. Import
/// this instead of the registry: it compiles in milliseconds, without via-IR.
/// @dev Note: the registry does not inherit this interface (its types would have to move here);
/// `test/Kit.t.sol` holds the two equal instead: every function, event and error selector,
/// and the struct layouts through a real registry.
/// An app reads a result as verified only once `task(id).status == TaskStatus.Finalized`: while
/// `Committed` it may still be disputed, and `outputOf` keeps a rejected round's output until
/// the next commitment.
interface ITaskRegistry {
    /*//////////////////////////////////////////////////////////////
                                 TYPES
    //////////////////////////////////////////////////////////////*/

    /// @notice Where a task is in its lifecycle (a rejected round sends it back to `Open`).
    enum TaskStatus {
        None,
        /// Waiting for a result (of its current round).
        Open,
        /// The current round has a result; disputes may be open.
        Committed,
        /// The result stands; the output is verified.
        Finalized,
        /// No result stands and the deadline passed; the fee went back.
        Cancelled
    }

    /// @notice What a task computes (fixed when posted).
    enum TaskKind {
        /// A program run on an `InputOracle` input; the result is a packed VM state.
        Vm,
        /// A DNN graph run on input bytes of the task; the result is output bytes and values.
        Graph
    }

    /// @notice Where one challenger's dispute stands.
    enum DisputeStatus {
        None,
        Open,
        /// The server won the game.
        Lost,
        /// The challenger won the game.
        Won,
        /// The challenger won and collected its reward.
        Collected
    }

    /// @notice A task with its current round's commitment (the `task` view).
    struct Task {
        address requester;
        /// Last moment a result may be committed.
        uint64 deadline;
        TaskStatus status;
        /// The current round: 0, then one more after each rejection.
        uint32 round;
        uint256 fee;
        /// The program (VM task) or the step program (graph task).
        bytes32 programId;
        /// The input's `InputOracle` commitment (VM task) or the task word (graph task).
        bytes32 inputCommitment;
        /// Phase heights (`Heights`).
        bytes32 heights;
        /// The current round's server (zero while open).
        address server;
        /// When the current round's result was committed.
        uint64 committedAt;
        /// The current round's disputes whose verdict is not settled.
        uint32 openDisputes;
        /// The current round's claimed final state hash.
        bytes32 finalState;
        TaskKind kind;
    }

    /// @notice One commitment of a task's result and the disputes of it.
    struct Round {
        address server;
        uint64 committedAt;
        uint32 openDisputes;
        /// Settled disputes the challenger won.
        uint32 winners;
        /// Settled disputes the server won.
        uint32 losers;
        /// A challenger proved the result wrong.
        bool rejected;
        bytes32 finalState;
        /// Once a rejected round is closed: each winner's share of the reward pool.
        uint256 share;
    }

    /// @notice One challenger's dispute of one round.
    struct Dispute {
        uint256 gameId;
        DisputeStatus status;
    }

    /*//////////////////////////////////////////////////////////////
                                 EVENTS
    //////////////////////////////////////////////////////////////*/

    /// @notice A requester posted a VM task.
    event TaskPosted(
        uint256 indexed taskId,
        address indexed requester,
        bytes32 programId,
        bytes32 inputCommitment,
        bytes32 heights,
        uint256 fee,
        uint64 deadline
    );
    /// @notice A requester posted a graph task (instead of `TaskPosted`).
    event GraphTaskPosted(
        uint256 indexed taskId,
        address indexed requester,
        bytes32 indexed modelRoot,
        bytes32 stepProgram,
        bytes32 task,
        bytes32 heights,
        uint256 fee,
        uint64 deadline,
        bytes input
    );
    /// @notice A server committed a VM task's result (the full claim), opening round `round`.
    event ResultCommitted(
        uint256 indexed taskId,
        address indexed server,
        bytes32 finalState,
        uint8 exitStatus,
        uint32 exitCode,
        uint64 steps,
        bytes output,
        uint256 round
    );
    /// @notice A server committed a graph task's result, opening round `round`.
    event GraphResultCommitted(
        uint256 indexed taskId,
        address indexed server,
        bytes32 finalState,
        bytes32 values,
        bytes output,
        uint256 round
    );
    /// @notice A challenger disputed round `round`'s result in game `gameId`.
    event Challenged(
        uint256 indexed taskId, address indexed challenger, uint256 gameId, uint256 round
    );
    /// @notice A dispute's verdict was applied.
    event DisputeSettled(
        uint256 indexed taskId, address indexed challenger, uint256 round, bool challengerWon
    );
    /// @notice Round `round`'s result was proven wrong; the server's bond was split.
    event RoundRejected(
        uint256 indexed taskId,
        uint256 indexed round,
        address indexed challenger,
        uint256 toRequester,
        uint256 toBurn,
        uint256 toPool
    );
    /// @notice A rejected round has no open dispute left: each winner may collect `share`.
    event RoundClosed(uint256 indexed taskId, uint256 indexed round, uint32 winners, uint256 share);
    /// @notice `amount` wei were burned.
    event Burned(uint256 indexed taskId, uint256 indexed round, uint256 amount);
    /// @notice The task is open again, for round `round`.
    event TaskReopened(uint256 indexed taskId, uint256 round);
    /// @notice A winning challenger's bond and share were credited to it.
    event RewardCollected(
        uint256 indexed taskId, uint256 indexed round, address indexed challenger, uint256 amount
    );
    /// @notice The result stands.
    event TaskFinalized(uint256 indexed taskId);
    /// @notice The task ended without a standing result; the fee went back.
    event TaskCancelled(uint256 indexed taskId);
    /// @notice `account` pulled `amount`.
    event Withdrawn(address indexed account, uint256 amount);

    /*//////////////////////////////////////////////////////////////
                       ERRORS (OF THE REQUESTER'S CALLS)
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
    /// @notice The challenge window is too short for the heights.
    error WindowTooShort(uint256 needed, uint256 window);
    /// @notice The game clock is too short for the heights.
    error ClockTooShort(uint256 needed, uint256 clock);
    /// @notice The challenge window is still open.
    error WindowOpen(uint64 closesAt);
    /// @notice Disputes of the round are still open.
    error DisputesOpen(uint32 count);
    /// @notice A graph task needs a step program.
    error NoStepProgram();
    /// @notice Nothing to withdraw.
    error NothingToWithdraw();
    /// @notice The transfer of a withdrawal failed.
    error TransferFailed();

    /*//////////////////////////////////////////////////////////////
                               REQUESTER
    //////////////////////////////////////////////////////////////*/

    /// @notice Posts a VM task: run `programId` on the published input `inputCommitment`,
    /// disputed with phase `heights`, before `deadline`. The value sent is the fee.
    function postTask(bytes32 programId, bytes32 inputCommitment, bytes32 heights, uint64 deadline)
        external
        payable
        returns (uint256 taskId);

    /// @notice Posts a graph task: run model `modelRoot` on `input`, disputed with `heights`
    /// (two phases at least) and `stepProgram`, before `deadline`. The value sent is the fee.
    function postGraphTask(
        bytes32 stepProgram,
        bytes32 modelRoot,
        bytes calldata input,
        bytes32 heights,
        uint64 deadline
    ) external payable returns (uint256 taskId);

    /// @notice Returns the fee of a task that got no result before its deadline.
    function cancel(uint256 taskId) external;

    /// @notice Pays out everything credited to the caller.
    function withdraw() external;

    /*//////////////////////////////////////////////////////////////
                          SERVER AND CHALLENGER
    //////////////////////////////////////////////////////////////*/

    /// @notice Commits a VM task's result (packed halted final state, output) with the bond.
    function commitResult(uint256 taskId, bytes calldata finalStateData, bytes calldata output)
        external
        payable;

    /// @notice Commits a graph task's result (values root, output) with the bond.
    function commitGraphResult(uint256 taskId, bytes32 values, bytes calldata output)
        external
        payable;

    /// @notice Disputes the current round's result with a bond, opening a game.
    function challenge(
        uint256 taskId,
        bytes calldata initialState,
        bytes32 root,
        bytes32 end,
        bytes32[] calldata endProof
    ) external payable returns (uint256 gameId);

    /// @notice Applies the verdict of `challenger`'s dispute once its game is over.
    function settleDispute(uint256 taskId, uint256 round, address challenger) external;

    /// @notice Credits a winning challenger's bond and share once its round is closed.
    function collect(uint256 taskId, uint256 round, address challenger) external;

    /// @notice Finalizes the current round's result after its window, with no dispute open.
    function finalize(uint256 taskId) external;

    /*//////////////////////////////////////////////////////////////
                                 VIEWS
    //////////////////////////////////////////////////////////////*/

    /// @notice Task `taskId` with its current round's commitment (all zero if unknown).
    function task(uint256 taskId) external view returns (Task memory);

    /// @notice Round `round` of task `taskId`.
    function round(uint256 taskId, uint256 round) external view returns (Round memory);

    /// @notice The output committed last: the verified output once the task is `Finalized`.
    function outputOf(uint256 taskId) external view returns (bytes memory);

    /// @notice `challenger`'s dispute of round `round` of `taskId`.
    function dispute(uint256 taskId, uint256 round, address challenger)
        external
        view
        returns (Dispute memory);

    /// @notice Number of tasks posted; ids are 0 .. taskCount - 1.
    function taskCount() external view returns (uint256);

    /// @notice Credited payments, pulled with `withdraw`.
    function balanceOf(address account) external view returns (uint256);

    /// @notice Wei burned so far.
    function burned() external view returns (uint256);

    /// @notice Bond a server posts with a result.
    function serverBond() external view returns (uint256);

    /// @notice Bond a challenger posts with a dispute.
    function challengerBond() external view returns (uint256);

    /// @notice Seconds after a commitment during which disputes may open.
    function challengeWindow() external view returns (uint64);

    /// @notice Chess-clock budget of each side of a dispute, in seconds.
    function gameClock() external view returns (uint64);

    /// @notice The `InputOracle` where VM task inputs are published.
    function inputOracle() external view returns (address);

    /// @notice The `DisputeGame` that referees every dispute.
    function games() external view returns (address);

    /// @notice `byte_commitment(data)`: the commitment of a graph task's input or output bytes.
    function byteCommitment(bytes calldata data) external view returns (bytes32);

    /// @notice The task word of a graph task of `modelRoot` on `input`.
    function graphTaskWord(bytes32 modelRoot, bytes calldata input) external view returns (bytes32);

    /// @notice `S(0)` of the graph task with task word `task`.
    function graphStartState(bytes32 task) external view returns (bytes32);

    /// @notice The final graph state `commitGraphResult(values, output)` claims.
    function graphFinalState(bytes32 task, bytes32 values, bytes calldata output)
        external
        view
        returns (bytes32);

    /// @notice Seconds of challenge window a task of `heights` needs (`graph`: a graph task,
    /// whose top phase is computed natively); a task needing more than `challengeWindow` is
    /// refused.
    function requiredWindow(bytes32 heights, bool graph) external pure returns (uint256);

    /// @notice Seconds of game clock a task of `heights` needs; a task needing more than
    /// `gameClock` is refused.
    function requiredClock(bytes32 heights, bool graph) external pure returns (uint256);
}
