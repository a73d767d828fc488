// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {DisputeGame} from "./DisputeGame.sol";
import {InputOracle} from "./InputOracle.sol";
import {VmConstants as C} from "./lib/VmConstants.sol";
import {StateLength} from "./lib/Errors.sol";
import {Phases} from "./lib/Phases.sol";
import {GraphState} from "./lib/GraphState.sol";

/// @title TaskRegistry
/// @notice The opML task lifecycle. A requester posts a task (program, input, phase
/// configuration, fee, deadline); a server commits the result with a bond, opening a
/// **round**; during the challenge window any verifier may dispute it with a bond, in a
/// `DisputeGame` against the server; every game is played to its end and its verdict settled.
/// An undisputed (or successfully defended) result finalizes, and the requester reads the
/// verified output here. A result proven wrong rejects its round: the server's bond is split
/// (requester, burn, reward pool), the task reopens for a new round until its deadline, and
/// every challenger who won that round shares the pool.
///
/// A task is of one of two kinds, fixed when it is posted. A **VM task** runs a program on an
/// input published in the `InputOracle`; its result is a packed halted VM state, and its
/// games bisect the VM trace from the program's initial state. A **graph task** runs a DNN
/// model (its `modelRoot`) on input bytes given with the task (and published in its event);
/// its result is the output bytes and an opaque `values` root, from which the registry derives
/// the claimed final graph state (`GraphState`); its games have a program-defined top phase
/// over the graph's coarse steps, re-done below by its step program (`DisputeGame.Params`).
/// Everything after the commitment (windows, bonds, rounds, payouts) is the same for both.
/// @dev Note: the invariants.
/// - Pull payments: every payment is credited to `balanceOf` and pulled with `withdraw`; no
///   transfer happens inside the lifecycle, so nothing can re-enter it.
/// - Exact books: the contract's balance always equals the credited balances, plus the fees,
///   server bonds and challenger bonds still held for live tasks, rounds and uncollected
///   rewards, plus `burned` (credited to nobody, ever). No wei is lost or created: shares and
///   division dust are accounted for to the wei.
/// - Order independence: a round's payouts wait until it is closed (no open dispute), so they
///   never depend on the order in which its disputes are settled.
/// - No profitable self-challenge: a rejected round always costs its server `BURN_SHARE` of
///   its bond (and `REQUESTER_SHARE` unless the requester is its own), and every challenger
///   that won its game gets its bond back plus a positive share of the pool, whoever else won
///   or lost in that round.
/// - Feasibility: a task is only posted if the challenge window and the game clock leave an
///   honest agent the time to run it, build its trees and move (`requiredWindow`,
///   `requiredClock`).
/// - Bounded work: no function loops over disputes or rounds.
/// - One kind per task: `commitResult` serves VM tasks only and `commitGraphResult` graph tasks
///   only; a task's kind, program and input commitment never change.
contract TaskRegistry {
    /*//////////////////////////////////////////////////////////////
                                 TYPES
    //////////////////////////////////////////////////////////////*/

    /// @notice Where a task is in its lifecycle (a rejection is a property of a round: the
    /// task goes back to `Open` for the next round, or to `Cancelled` past its deadline).
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
        /// The game is running or its verdict is not settled.
        Open,
        /// The server won the game.
        Lost,
        /// The challenger won the game (its reward is collectible once the round closes).
        Won,
        /// The challenger won and collected its reward.
        Collected
    }

    /// @notice A requested computation (as stored). The first slot packs the requester, the
    /// deadline, the status and the kind, which a commitment reads together.
    struct TaskData {
        address requester;
        /// Last moment a result may be committed.
        uint64 deadline;
        TaskStatus status;
        TaskKind kind;
        /// The current round: 0, then one more after each rejection.
        uint32 round;
        uint256 fee;
        /// The program (VM task) or the step program of the graph's coarse steps (graph task).
        bytes32 programId;
        /// The input's `InputOracle` commitment (VM task) or the task word
        /// `H(modelRoot ‖ byte_commitment(input))` (graph task, `GraphState.taskWord`).
        bytes32 inputCommitment;
        /// The dispute games' phase heights (`DisputeGame.checkHeights`).
        bytes32 heights;
    }

    /// @notice A task with its current round's commitment (the `task` view).
    struct Task {
        address requester;
        uint64 deadline;
        TaskStatus status;
        uint32 round;
        uint256 fee;
        bytes32 programId;
        bytes32 inputCommitment;
        bytes32 heights;
        /// The current round's server (zero while the task is open).
        address server;
        /// When the current round's result was committed (the challenge window starts).
        uint64 committedAt;
        /// The current round's disputes whose verdict is not settled.
        uint32 openDisputes;
        /// The current round's claimed final state hash.
        bytes32 finalState;
        /// The task's kind (last, so that decoders of the fields above keep their offsets).
        TaskKind kind;
    }

    /// @notice One commitment of a task's result and the disputes of it.
    struct Round {
        address server;
        /// When the result was committed (the challenge window starts).
        uint64 committedAt;
        /// Disputes whose verdict is not settled.
        uint32 openDisputes;
        /// Settled disputes the challenger won.
        uint32 winners;
        /// Settled disputes the server won.
        uint32 losers;
        /// A challenger proved the result wrong.
        bool rejected;
        /// The claimed final state hash.
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
                               CONSTANTS
    //////////////////////////////////////////////////////////////*/

    /// @notice Basis points of a whole bond.
    uint256 public constant BPS = 10_000;
    /// @notice Share of a rejected server's bond credited to the requester as compensation.
    uint256 public constant REQUESTER_SHARE = 2_500;
    /// @notice Share of a rejected server's bond burned: the least a liar loses per round,
    /// whoever its challengers are.
    uint256 public constant BURN_SHARE = 2_500;
    /// @notice Share of a rejected server's bond paid to the round's winners (the rest of the
    /// bond after the other two shares, so rounding never loses a wei).
    uint256 public constant REWARD_SHARE = BPS - REQUESTER_SHARE - BURN_SHARE;

    /// @notice VM steps per second an honest agent is assumed to run, recording its timeline
    /// (a conservative figure for 2 cores; measured ~370-390 million).
    uint256 public constant RUN_RATE = 25_000_000;
    /// @notice History-tree leaves per second an honest agent is assumed to hash (measured
    /// ~800,000 for stride-1 leaves).
    uint256 public constant LEAF_RATE = 100_000;
    /// @notice Seconds allowed per move of a game (one transaction).
    uint256 public constant MOVE_SECONDS = 30;
    /// @notice Seconds of slack on top of every time requirement.
    uint256 public constant MARGIN = 300;

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
    /// @notice Wei burned so far (held by the registry, credited to nobody).
    uint256 public burned;

    mapping(uint256 taskId => TaskData) internal tasks;
    mapping(uint256 taskId => bytes) internal outputs;
    mapping(uint256 taskId => mapping(uint256 round => Round)) internal rounds;
    mapping(uint256 taskId => mapping(uint256 round => mapping(address challenger => Dispute)))
        internal disputes;

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
    /// @notice A requester posted a graph task: run the model `modelRoot` on `input` (the bytes
    /// themselves, so that every agent has them: data availability), disputed in games of
    /// `stepProgram` over phase `heights`; `task` is its task word. A graph task emits this
    /// event instead of `TaskPosted` (one posting event per task, named by its kind): agents
    /// that serve VM tasks never mistake it for one, and agents that serve graph tasks find
    /// every one of them, and everything they need, here.
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
    /// @notice A server committed a result (the full claim), opening round `round`.
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
    /// @notice A server committed the result of a graph task (the full claim: `values` and
    /// `output`, from which the registry derived `finalState`), opening round `round`. Emitted
    /// instead of `ResultCommitted`.
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
    /// @notice Round `round`'s result was proven wrong (first by `challenger`); the server's
    /// bond was split: `toRequester` credited, `toBurn` burned, `toPool` to the winners.
    event RoundRejected(
        uint256 indexed taskId,
        uint256 indexed round,
        address indexed challenger,
        uint256 toRequester,
        uint256 toBurn,
        uint256 toPool
    );
    /// @notice A rejected round has no open dispute left: each of its `winners` may collect
    /// its bond and `share`.
    event RoundClosed(uint256 indexed taskId, uint256 indexed round, uint32 winners, uint256 share);
    /// @notice `amount` wei were burned (a rejected server's burn share, or division dust).
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
    /// @notice The challenge window is shorter than the `needed` seconds an honest challenger
    /// needs to run the task and build its top tree (`requiredWindow`).
    error WindowTooShort(uint256 needed, uint256 window);
    /// @notice The game clock is shorter than the `needed` seconds an honest (restarted)
    /// defender needs to run the task, build every tree and move (`requiredClock`).
    error ClockTooShort(uint256 needed, uint256 clock);
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
    /// @notice Disputes of the round are still open.
    error DisputesOpen(uint32 count);
    /// @notice The server cannot dispute its own round, nor a challenger twice.
    error NotAllowed();
    /// @notice The packed state is not the program's initial state.
    error ProgramMismatch(bytes32 computed, bytes32 programId);
    /// @notice `challenger` has no open dispute of round `round` of this task.
    error NoDispute(uint256 taskId, uint256 round, address challenger);
    /// @notice The dispute's game is not over.
    error GameNotOver(uint256 gameId);
    /// @notice Round `round` was not rejected: it pays no rewards.
    error RoundNotRejected(uint256 taskId, uint256 round);
    /// @notice `challenger` has no uncollected win in round `round` of this task.
    error NothingToCollect(uint256 taskId, uint256 round, address challenger);
    /// @notice The call is for tasks of another kind (`commitResult` for VM tasks,
    /// `commitGraphResult` for graph tasks).
    error WrongKind(TaskKind expected, TaskKind actual);
    /// @notice A graph task needs a step program (a zero program ID would make its games
    /// bisect a VM trace from a graph state).
    error NoStepProgram();
    /// @notice A graph task's games start from its own `S(0)`: `challenge` takes no initial
    /// state for it (`length` bytes were given).
    error UnexpectedInitialState(uint256 length);
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
    /// disputed with phase `heights`, before `deadline`. The value sent is the fee. The
    /// registry's window and clock must leave an honest agent the time the heights need.
    function postTask(bytes32 programId, bytes32 inputCommitment, bytes32 heights, uint64 deadline)
        external
        payable
        returns (uint256 taskId)
    {
        if (!inputOracle.isAvailable(inputCommitment)) revert InputUnavailable(inputCommitment);
        taskId = _post(TaskKind.Vm, programId, inputCommitment, heights, deadline);
        emit TaskPosted(
            taskId, msg.sender, programId, inputCommitment, heights, msg.value, deadline
        );
    }

    /// @notice Posts a graph task: run the DNN model `modelRoot` on `input`, disputed with
    /// phase `heights` (at least two: the top phase bisects the graph's coarse steps, the
    /// phases below the VM run of `stepProgram` re-doing one), before `deadline`. The value
    /// sent is the fee. The task's input commitment is its task word
    /// `H(modelRoot ‖ byte_commitment(input))`; the input bytes are published in
    /// `GraphTaskPosted` (no `InputOracle` upload). The window and clock must leave an honest
    /// agent the time the heights need: the VM phases below the top as for a VM trace, the
    /// graph itself as `2^sum(h)` steps of VM work computed natively `2^NATIVE_SPEEDUP_LOG2`
    /// times faster (`Phases`): no node's native run is longer than the step program's run
    /// re-doing it.
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

    /// @notice Commits the result of a task, opening its current round: the packed final state
    /// (halted, within the trace length) and the output bytes it commits to. The value sent is
    /// the server bond.
    function commitResult(uint256 taskId, bytes calldata finalStateData, bytes calldata output)
        external
        payable
    {
        TaskData storage t = _committable(taskId, TaskKind.Vm);
        if (finalStateData.length != C.STATE_LEN) revert StateLength(finalStateData.length);
        uint8 exitStatus = uint8(finalStateData[C.STATUS]);
        if (exitStatus == C.STATUS_RUNNING) revert ResultNotHalted();
        if (exitStatus != C.STATUS_EXITED && exitStatus != C.STATUS_TRAPPED) {
            revert BadStatus(exitStatus);
        }
        uint64 steps = uint64(bytes8(finalStateData[C.STEP:C.STEP + 8]));
        (, uint256 total) = games.checkHeights(t.heights, false);
        if (steps > 1 << total) revert ResultTooLong(steps, 1 << total);
        _checkOutput(finalStateData, output);

        bytes32 finalState = sha256(finalStateData);
        uint256 round_ = _commit(taskId, t, finalState, output);
        emit ResultCommitted(
            taskId,
            msg.sender,
            finalState,
            exitStatus,
            uint32(bytes4(finalStateData[C.EXIT_CODE:C.EXIT_CODE + 4])),
            steps,
            output,
            round_
        );
    }

    /// @notice Commits the result of a graph task, opening its current round: the output bytes
    /// and the server's `values` root. The registry derives the claimed final graph state
    /// `H(task ‖ H(values ‖ byte_commitment(output)))` itself, so the output a requester reads
    /// is the one the games dispute. The value sent is the server bond.
    function commitGraphResult(uint256 taskId, bytes32 values, bytes calldata output)
        external
        payable
    {
        TaskData storage t = _committable(taskId, TaskKind.Graph);
        bytes32 finalState = GraphState.finalState(t.inputCommitment, values, output);
        uint256 round_ = _commit(taskId, t, finalState, output);
        emit GraphResultCommitted(taskId, msg.sender, finalState, values, output, round_);
    }

    /// @notice Disputes the current round's result of `taskId` with a bond, opening a game
    /// against its server.
    /// @param initialState VM task: the program's packed initial state (hashing to the program
    /// ID); the game starts from it with the task's input. Graph task: empty; the game starts
    /// from the task's `S(0)`, with the task's step program below its program-defined top
    /// phase.
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
        TaskData storage t = _task(taskId, TaskStatus.Committed);
        uint256 round_ = t.round;
        Round storage r = rounds[taskId][round_];
        uint64 closesAt = r.committedAt + challengeWindow;
        if (block.timestamp > closesAt) revert WindowClosed(closesAt);
        if (msg.value != challengerBond) revert WrongBond(msg.value, challengerBond);
        Dispute storage d = disputes[taskId][round_][msg.sender];
        if (msg.sender == r.server || d.status != DisputeStatus.None) revert NotAllowed();

        bool graph = t.kind == TaskKind.Graph;
        bytes32 startState;
        if (graph) {
            if (initialState.length != 0) revert UnexpectedInitialState(initialState.length);
            startState = GraphState.startState(t.inputCommitment);
        } else {
            startState = _startState(initialState, t.programId, t.inputCommitment);
        }
        gameId = games.create(
            DisputeGame.Params({
                claimant: r.server,
                challenger: msg.sender,
                startState: startState,
                claimedEnd: r.finalState,
                heights: t.heights,
                clock: gameClock,
                stepProgram: graph ? t.programId : bytes32(0)
            }),
            root,
            end,
            endProof
        );
        d.gameId = gameId;
        d.status = DisputeStatus.Open;
        r.openDisputes += 1;
        emit Challenged(taskId, msg.sender, gameId, round_);
    }

    /// @notice Applies the verdict of `challenger`'s dispute of round `round` once its game is
    /// over (anyone may call). The first win rejects the round: the server's bond is split at
    /// once and the task reopens (or is cancelled past its deadline). The last settlement of a
    /// rejected round closes it and fixes each winner's share.
    function settleDispute(uint256 taskId, uint256 round_, address challenger) external {
        Dispute storage d = disputes[taskId][round_][challenger];
        if (d.status != DisputeStatus.Open) revert NoDispute(taskId, round_, challenger);
        DisputeGame.Game memory g = games.game(d.gameId);
        if (g.stage != DisputeGame.Stage.Resolved) revert GameNotOver(d.gameId);
        bool challengerWon = g.winner == DisputeGame.Party.Challenger;
        Round storage r = rounds[taskId][round_];
        r.openDisputes -= 1;
        if (!challengerWon) {
            d.status = DisputeStatus.Lost;
            r.losers += 1;
        } else {
            d.status = DisputeStatus.Won;
            r.winners += 1;
        }
        emit DisputeSettled(taskId, challenger, round_, challengerWon);
        // A round with an open dispute that is not rejected is the task's current one.
        if (challengerWon && !r.rejected) _reject(taskId, round_, r, challenger);
        if (r.rejected && r.openDisputes == 0) _close(taskId, round_, r);
    }

    /// @notice Credits `challenger`'s reward for winning in rejected round `round`, once the
    /// round is closed: its bond back plus its share of the pool (anyone may call).
    function collect(uint256 taskId, uint256 round_, address challenger) external {
        Round storage r = rounds[taskId][round_];
        if (!r.rejected) revert RoundNotRejected(taskId, round_);
        if (r.openDisputes != 0) revert DisputesOpen(r.openDisputes);
        Dispute storage d = disputes[taskId][round_][challenger];
        if (d.status != DisputeStatus.Won) revert NothingToCollect(taskId, round_, challenger);
        d.status = DisputeStatus.Collected;
        uint256 amount = challengerBond + r.share;
        balanceOf[challenger] += amount;
        emit RewardCollected(taskId, round_, challenger, amount);
    }

    /// @notice Finalizes the current round's result after its challenge window, once no
    /// dispute is open: the server gets its bond, the fee and the bonds of the challengers who
    /// lost to it (anyone may call).
    function finalize(uint256 taskId) external {
        TaskData storage t = _task(taskId, TaskStatus.Committed);
        Round storage r = rounds[taskId][t.round];
        uint64 closesAt = r.committedAt + challengeWindow;
        if (block.timestamp <= closesAt) revert WindowOpen(closesAt);
        if (r.openDisputes != 0) revert DisputesOpen(r.openDisputes);
        t.status = TaskStatus.Finalized;
        balanceOf[r.server] += serverBond + t.fee + r.losers * challengerBond;
        emit TaskFinalized(taskId);
    }

    /// @notice Returns the fee of a task that got no result before its deadline.
    function cancel(uint256 taskId) external {
        TaskData storage t = _task(taskId, TaskStatus.Open);
        if (block.timestamp <= t.deadline) revert DeadlineNotPassed(t.deadline);
        _cancel(taskId, t);
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

    /// @notice The record of task `taskId` with its current round's commitment (all zero
    /// for an unknown id).
    function task(uint256 taskId) external view returns (Task memory v) {
        TaskData storage t = tasks[taskId];
        Round storage r = rounds[taskId][t.round];
        v = Task({
            requester: t.requester,
            deadline: t.deadline,
            status: t.status,
            round: t.round,
            fee: t.fee,
            programId: t.programId,
            inputCommitment: t.inputCommitment,
            heights: t.heights,
            server: r.server,
            committedAt: r.committedAt,
            openDisputes: r.openDisputes,
            finalState: r.finalState,
            kind: t.kind
        });
    }

    /// @notice Round `round` of task `taskId` (all zero if it never opened).
    function round(uint256 taskId, uint256 round_) external view returns (Round memory) {
        return rounds[taskId][round_];
    }

    /// @notice The output committed last for a task: the verified output once the task is
    /// `Finalized`.
    function outputOf(uint256 taskId) external view returns (bytes memory) {
        return outputs[taskId];
    }

    /// @notice `challenger`'s dispute of round `round` of `taskId`.
    function dispute(uint256 taskId, uint256 round_, address challenger)
        external
        view
        returns (Dispute memory)
    {
        return disputes[taskId][round_][challenger];
    }

    /// @notice `byte_commitment(data)` (`GraphState`): the commitment of a graph task's input
    /// or output bytes.
    function byteCommitment(bytes calldata data) external view returns (bytes32) {
        return GraphState.byteCommitment(data);
    }

    /// @notice The task word of a graph task of `modelRoot` on `input` (its stored input
    /// commitment).
    function graphTaskWord(bytes32 modelRoot, bytes calldata input)
        external
        view
        returns (bytes32)
    {
        return GraphState.taskWord(modelRoot, input);
    }

    /// @notice `S(0)` of the graph task with task word `task`: the start of its games.
    function graphStartState(bytes32 task_) external view returns (bytes32) {
        return GraphState.startState(task_);
    }

    /// @notice The final graph state that `commitGraphResult(values, output)` claims for the
    /// graph task with task word `task`.
    function graphFinalState(bytes32 task_, bytes32 values, bytes calldata output)
        external
        view
        returns (bytes32)
    {
        return GraphState.finalState(task_, values, output);
    }

    /// @notice Seconds an honest challenger needs before it can dispute a result: run the task
    /// and build its top-phase tree, plus `MARGIN`. `graph`: a graph task's heights, whose top
    /// phase is computed natively. See `_times`.
    function requiredWindow(bytes32 heights, bool graph) public pure returns (uint256) {
        (uint256 run, uint256 top,,) = _times(heights, graph);
        return run + top + MARGIN;
    }

    /// @notice Seconds of game clock an honest defender needs if it must start over: run the
    /// task, build one tree per phase and send every move (`MOVE_SECONDS` each, at most
    /// `sum(h) + k + 1` moves), plus `MARGIN`. `graph` as in `requiredWindow`. See `_times`.
    function requiredClock(bytes32 heights, bool graph) public pure returns (uint256) {
        (uint256 run,, uint256 trees, uint256 moves) = _times(heights, graph);
        return run + trees + moves * MOVE_SECONDS + MARGIN;
    }

    /*//////////////////////////////////////////////////////////////
                               INTERNALS
    //////////////////////////////////////////////////////////////*/

    function _task(uint256 taskId, TaskStatus status) internal view returns (TaskData storage t) {
        if (taskId >= taskCount) revert NoSuchTask(taskId);
        t = tasks[taskId];
        if (t.status != status) revert WrongStatus(status, t.status);
    }

    /// @dev Checks a task of either kind and records it (the caller emits its event): a
    /// deadline ahead, valid heights (two phases at least for a graph task), a window and a
    /// clock that fit them. The value sent is the fee.
    function _post(
        TaskKind kind,
        bytes32 programId,
        bytes32 inputCommitment,
        bytes32 heights,
        uint64 deadline
    ) internal returns (uint256 taskId) {
        if (deadline <= block.timestamp) revert DeadlinePassed(deadline);
        bool graph = kind == TaskKind.Graph;
        games.checkHeights(heights, graph);
        uint256 needed = requiredWindow(heights, graph);
        if (needed > challengeWindow) revert WindowTooShort(needed, challengeWindow);
        needed = requiredClock(heights, graph);
        if (needed > gameClock) revert ClockTooShort(needed, gameClock);
        taskId = taskCount++;
        TaskData storage t = tasks[taskId];
        t.requester = msg.sender;
        t.deadline = deadline;
        t.status = TaskStatus.Open;
        // `TaskKind.Vm` is the zero value: a VM task writes nothing more to its first slot.
        if (kind != TaskKind.Vm) t.kind = kind;
        t.fee = msg.value;
        t.programId = programId;
        t.inputCommitment = inputCommitment;
        t.heights = heights;
    }

    /// @dev The open task `taskId` of `kind`, before its deadline, with the server bond sent:
    /// what a commitment of either kind checks before its own result checks.
    function _committable(uint256 taskId, TaskKind kind)
        internal
        view
        returns (TaskData storage t)
    {
        t = _task(taskId, TaskStatus.Open);
        if (t.kind != kind) revert WrongKind(kind, t.kind);
        if (block.timestamp > t.deadline) revert DeadlinePassed(t.deadline);
        if (msg.value != serverBond) revert WrongBond(msg.value, serverBond);
    }

    /// @dev Opens the current round of `t` with the caller's checked result (`finalState`,
    /// `output`) and returns its number.
    function _commit(uint256 taskId, TaskData storage t, bytes32 finalState, bytes calldata output)
        internal
        returns (uint256 round_)
    {
        t.status = TaskStatus.Committed;
        round_ = t.round;
        Round storage r = rounds[taskId][round_];
        r.server = msg.sender;
        r.committedAt = uint64(block.timestamp);
        r.finalState = finalState;
        outputs[taskId] = output;
    }

    /// @dev Rejects round `round` of `taskId` on its first win (by `challenger`): splits the
    /// server's bond by the fixed shares and reopens the task for the next round, or cancels
    /// it if its deadline has passed.
    function _reject(uint256 taskId, uint256 round_, Round storage r, address challenger) internal {
        r.rejected = true;
        TaskData storage t = tasks[taskId];
        uint256 toRequester = serverBond * REQUESTER_SHARE / BPS;
        uint256 toBurn = serverBond * BURN_SHARE / BPS;
        balanceOf[t.requester] += toRequester;
        burned += toBurn;
        emit RoundRejected(
            taskId, round_, challenger, toRequester, toBurn, serverBond - toRequester - toBurn
        );
        emit Burned(taskId, round_, toBurn);
        if (block.timestamp > t.deadline) {
            _cancel(taskId, t);
        } else {
            t.status = TaskStatus.Open;
            t.round = uint32(round_ + 1);
            emit TaskReopened(taskId, round_ + 1);
        }
    }

    /// @dev Closes rejected round `round` (its last dispute is settled): the pool (the server
    /// bond's reward share and the losers' bonds) is split evenly between its winners (at
    /// least one); the division dust is burned.
    function _close(uint256 taskId, uint256 round_, Round storage r) internal {
        uint256 pool = serverBond - serverBond * REQUESTER_SHARE / BPS - serverBond * BURN_SHARE
            / BPS + r.losers * challengerBond;
        uint256 share = pool / r.winners;
        uint256 dust = pool - share * r.winners;
        r.share = share;
        if (dust != 0) {
            burned += dust;
            emit Burned(taskId, round_, dust);
        }
        emit RoundClosed(taskId, round_, r.winners, share);
    }

    /// @dev Ends a task without a standing result: the fee goes back to the requester.
    function _cancel(uint256 taskId, TaskData storage t) internal {
        t.status = TaskStatus.Cancelled;
        balanceOf[t.requester] += t.fee;
        emit TaskCancelled(taskId);
    }

    /// @dev The time figures of `heights` (which `requiredWindow` and `requiredClock` add up),
    /// in seconds, for `T = 2^sum(h)` steps:
    /// - `run = ceil(T / rate(0))`: one run of the task, recording its timeline;
    /// - `tree(p) = ceil(2^(h_p + s_p) / rate(p)) + ceil(2^h_p / LEAF_RATE)` for phase `p` of
    ///   stride `2^s_p`: re-running its range and hashing its `2^h_p` leaves; `top = tree(0)`,
    ///   `trees` = the sum over all phases;
    /// - `moves = sum(h) + k + 1`: the most moves one side makes in a game;
    /// where `rate(p) = RUN_RATE`, except a graph task's top phase, computed natively:
    /// `RUN_RATE << NATIVE_SPEEDUP_LOG2`. Reverts as `DisputeGame.checkHeights` does.
    function _times(bytes32 heights, bool graph)
        internal
        pure
        returns (uint256 run, uint256 top, uint256 trees, uint256 moves)
    {
        uint256 k;
        uint256 total;
        while (k < Phases.MAX_PHASES && heights[k] != 0) {
            uint256 h = uint8(heights[k]);
            if (h > Phases.MAX_PHASE_HEIGHT) revert DisputeGame.BadHeights(heights);
            total += h;
            ++k;
        }
        // The same rules as `DisputeGame.checkHeights`, which this pure view cannot call.
        if (k == 0 || uint256(heights) << (8 * k) != 0) revert DisputeGame.BadHeights(heights);
        if (!graph && total > Phases.MAX_TOTAL_HEIGHT) revert DisputeGame.BadHeights(heights);
        if (graph) {
            if (k < 2) revert DisputeGame.ProgramPhaseAlone(heights);
            if (
                total > Phases.MAX_PROGRAM_TOTAL_HEIGHT
                    || total - uint8(heights[0]) > Phases.MAX_TOTAL_HEIGHT
            ) revert DisputeGame.BadHeights(heights);
        }
        uint256 topRate = graph ? RUN_RATE << Phases.NATIVE_SPEEDUP_LOG2 : RUN_RATE;
        run = _ceilDiv(1 << total, topRate);
        // `span` is 2^(h_p + s_p) as a log: the heights of phase p and all below it.
        uint256 span = total;
        for (uint256 p = 0; p < k; ++p) {
            uint256 h = uint8(heights[p]);
            uint256 tree =
                _ceilDiv(1 << span, p == 0 ? topRate : RUN_RATE) + _ceilDiv(1 << h, LEAF_RATE);
            if (p == 0) top = tree;
            trees += tree;
            span -= h;
        }
        moves = total + k + 1;
    }

    function _ceilDiv(uint256 a, uint256 b) internal pure returns (uint256) {
        return (a + b - 1) / b;
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
