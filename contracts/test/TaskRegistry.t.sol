// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {TestBase} from "./utils/Vm.sol";
import {RiscvStep} from "../src/RiscvStep.sol";
import {DisputeGame} from "../src/DisputeGame.sol";
import {InputOracle} from "../src/InputOracle.sol";
import {TaskRegistry} from "../src/TaskRegistry.sol";
import {VmConstants as C} from "../src/lib/VmConstants.sol";
import {StateLength} from "../src/lib/Errors.sol";

/// @notice A contract account that acts on the registry and the games through `forward`.
contract Actor {
    /// @dev Calls `target` with `value` from this account's balance; bubbles reverts.
    function forward(address target, bytes calldata data, uint256 value)
        external
        returns (bytes memory ret)
    {
        bool ok;
        (ok, ret) = target.call{value: value}(data);
        if (!ok) {
            assembly {
                revert(add(ret, 32), mload(ret))
            }
        }
    }
}

/// @notice Re-enters `withdraw`, `settleDispute` and `collect` (of round 0) from `receive`,
/// swallowing the reverts.
contract Reenterer is Actor {
    TaskRegistry internal immutable registry;
    uint256 internal taskId;
    /// @dev Payments received (each one re-enters).
    uint256 public received;
    /// @dev Re-entrant calls that did not revert.
    uint256 public reentered;

    constructor(TaskRegistry registry_) {
        registry = registry_;
    }

    function setTask(uint256 taskId_) external {
        taskId = taskId_;
    }

    receive() external payable {
        ++received;
        try registry.withdraw() {
            ++reentered;
        } catch {}
        try registry.settleDispute(taskId, 0, address(this)) {
            ++reentered;
        } catch {}
        try registry.collect(taskId, 0, address(this)) {
            ++reentered;
        } catch {}
    }
}

/// @notice Refuses every payment.
contract Rejecter is Actor {
    error NoThanks();

    receive() external payable {
        revert NoThanks();
    }
}

/// @notice TaskRegistry: the task lifecycle (post, commit, finalize, cancel), challenges and
/// disputes played through the real DisputeGame (decided by timeout), every custom error, and
/// bond accounting: every test that ends with money in the registry withdraws it all and checks
/// that the withdrawals equal the value sent in and that the registry ends with nothing.
contract TaskRegistryTest is TestBase {
    uint256 internal constant SERVER_BOND = 1 ether;
    uint256 internal constant CHALLENGER_BOND = 1 ether;
    uint64 internal constant WINDOW = 1 hours;
    uint64 internal constant CLOCK = 1 days;
    uint256 internal constant FEE = 0.25 ether;
    /// @dev Phases [2, 1]: a trace of 2^3 steps; top-phase leaves S(2), S(4), S(6), S(8).
    bytes32 internal constant HEIGHTS = bytes32(bytes2(0x0201));
    uint64 internal constant MAX_STEPS = 8;
    uint64 internal constant STEPS = 5;
    /// @dev The block time at the start of every test.
    uint256 internal constant START = 1_700_000_000;

    address internal constant REQUESTER = address(0xB0B0);
    address internal constant SERVER = address(0x5E5E);
    address internal constant ALICE = address(0xA11CE);
    address internal constant BOB = address(0xB0B);
    address internal constant STRANGER = address(0x5742);
    /// @dev A liar's second address.
    address internal constant SYBIL = address(0x5B11);
    /// @dev A server that commits the right result in a later round.
    address internal constant HONEST = address(0x4011E5);
    /// @dev The server bond's split on a rejection (1 ether: 0.25, 0.25, 0.5).
    uint256 internal constant TO_REQUESTER = 0.25 ether;
    uint256 internal constant TO_BURN = 0.25 ether;
    uint256 internal constant POOL = 0.5 ether;

    RiscvStep internal verifier;
    DisputeGame internal games;
    InputOracle internal oracle;
    TaskRegistry internal registry;

    /// @dev The program's packed initial state (empty input link) and its hash.
    bytes internal initialState;
    bytes32 internal programId;
    /// @dev A published input.
    bytes32 internal input;
    /// @dev Everything sent to the registry, and everything withdrawn from it.
    uint256 internal paidIn;
    uint256 internal paidOut;

    function setUp() public {
        verifier = new RiscvStep();
        games = new DisputeGame(verifier);
        oracle = new InputOracle();
        registry = new TaskRegistry(games, oracle, SERVER_BOND, CHALLENGER_BOND, WINDOW, CLOCK);
        initialState = new bytes(C.STATE_LEN);
        for (uint256 i = 0; i < C.STATE_LEN; ++i) {
            initialState[i] = bytes1(uint8(i * 7 + 1));
        }
        for (uint256 i = C.INPUT_LINK; i < C.INPUT_LINK + 32; ++i) {
            initialState[i] = 0;
        }
        initialState[C.STATUS] = bytes1(C.STATUS_RUNNING);
        programId = sha256(initialState);
        bytes memory data = "the input of the task: 37 bytes long";
        input = oracle.post(oracle.open(uint32(data.length)), data);
        vm.deal(REQUESTER, 10 ether);
        vm.deal(SERVER, 10 ether);
        vm.deal(ALICE, 10 ether);
        vm.deal(BOB, 10 ether);
        vm.deal(SYBIL, 10 ether);
        vm.deal(HONEST, 10 ether);
        vm.deal(address(this), 10 ether);
        vm.warp(START);
    }

    /*//////////////////////////////////////////////////////////////
                              PACKED STATES
    //////////////////////////////////////////////////////////////*/

    /// @dev The 32 bytes of `data` at `at`, zero-padded past its end.
    function word(bytes memory data, uint256 at) internal pure returns (bytes32 w) {
        for (uint256 j = 0; j < 32 && at + j < data.length; ++j) {
            w |= bytes32(data[at + j]) >> (8 * j);
        }
    }

    function put(bytes memory s, uint256 at, bytes memory data) internal pure {
        for (uint256 j = 0; j < data.length; ++j) {
            s[at + j] = data[j];
        }
    }

    /// @dev A packed halted state committing to `output` (vm-spec.md): acc = fold of
    /// sha256(acc ‖ chunk) over the full chunks from zero, the zero-padded tail, the length.
    function finalState(bytes memory output, uint64 steps, uint8 status)
        internal
        pure
        returns (bytes memory s)
    {
        s = new bytes(C.STATE_LEN);
        put(s, C.MEMORY_ROOT, abi.encodePacked(keccak256("some memory")));
        uint256 full = output.length / 32 * 32;
        bytes32 acc;
        for (uint256 i = 0; i < full; i += 32) {
            acc = sha256(abi.encodePacked(acc, word(output, i)));
        }
        put(s, C.OUTPUT_ACC, abi.encodePacked(acc));
        put(
            s,
            C.OUTPUT_TAIL,
            abi.encodePacked(full < output.length ? word(output, full) : bytes32(0))
        );
        put(s, C.OUTPUT_LEN, abi.encodePacked(uint32(output.length)));
        put(s, C.STEP, abi.encodePacked(steps));
        s[C.STATUS] = bytes1(status);
        put(s, C.EXIT_CODE, abi.encodePacked(uint32(status == C.STATUS_RUNNING ? 0 : 3)));
    }

    function finalState(bytes memory output) internal pure returns (bytes memory) {
        return finalState(output, STEPS, C.STATUS_EXITED);
    }

    /// @dev 70 bytes: two full chunks and a 6-byte tail.
    function output70() internal pure returns (bytes memory) {
        return "seventy bytes of output: two full chunks and a tail of six bytes 12345";
    }

    /*//////////////////////////////////////////////////////////////
                                 TREES
    //////////////////////////////////////////////////////////////*/

    /// @dev A top-phase tree (4 leaves) of `who`'s own states ending at `end`.
    function leavesEndingAt(address who, bytes32 end) internal pure returns (bytes32[] memory l) {
        l = new bytes32[](4);
        for (uint256 i = 0; i < 3; ++i) {
            l[i] = keccak256(abi.encode(who, i));
        }
        l[3] = end;
    }

    function rootOf(bytes32[] memory l) internal pure returns (bytes32) {
        return keccak256(
            abi.encodePacked(
                keccak256(abi.encodePacked(l[0], l[1])), keccak256(abi.encodePacked(l[2], l[3]))
            )
        );
    }

    function lastProof(bytes32[] memory l) internal pure returns (bytes32[] memory p) {
        p = new bytes32[](2);
        p[0] = l[2];
        p[1] = keccak256(abi.encodePacked(l[0], l[1]));
    }

    /*//////////////////////////////////////////////////////////////
                                 ACTIONS
    //////////////////////////////////////////////////////////////*/

    function postTask() internal returns (uint256 taskId) {
        return postTask(uint64(block.timestamp + 1 days));
    }

    function postTask(uint64 deadline) internal returns (uint256 taskId) {
        vm.prank(REQUESTER);
        taskId = registry.postTask{value: FEE}(programId, input, HEIGHTS, deadline);
        paidIn += FEE;
    }

    /// @dev SERVER commits (the timeouts decide who is "right" in these tests).
    function commit(uint256 taskId) internal {
        commitAs(taskId, SERVER);
    }

    function commitAs(uint256 taskId, address server) internal {
        bytes memory out = output70();
        bytes memory state = finalState(out);
        vm.prank(server);
        registry.commitResult{value: SERVER_BOND}(taskId, state, out);
        paidIn += SERVER_BOND;
    }

    function challengeArgs(uint256 taskId, address who)
        internal
        pure
        returns (bytes32 root, bytes32 end, bytes32[] memory proof)
    {
        bytes32[] memory l = leavesEndingAt(who, keccak256(abi.encode("other end", taskId, who)));
        return (rootOf(l), l[3], lastProof(l));
    }

    function challenge(uint256 taskId, address who) internal returns (uint256 gameId) {
        (bytes32 root, bytes32 end, bytes32[] memory proof) = challengeArgs(taskId, who);
        vm.prank(who);
        gameId = registry.challenge{value: CHALLENGER_BOND}(taskId, initialState, root, end, proof);
        paidIn += CHALLENGER_BOND;
    }

    /// @dev The server (claimant of `gameId`) posts its top root, ending at its claim.
    function serverAnswers(uint256 gameId, address server) internal {
        bytes32[] memory l = leavesEndingAt(server, games.game(gameId).claimedEnd);
        bytes32 root = rootOf(l);
        bytes32[] memory proof = lastProof(l);
        vm.prank(server);
        games.commitRoot(gameId, root, proof);
    }

    /// @dev Settles `challenger`'s dispute of the task's current round.
    function settle(uint256 taskId, address challenger) internal {
        settle(taskId, registry.task(taskId).round, challenger);
    }

    function settle(uint256 taskId, uint256 round, address challenger) internal {
        vm.prank(STRANGER);
        registry.settleDispute(taskId, round, challenger);
    }

    function collect(uint256 taskId, uint256 round, address challenger) internal {
        vm.prank(STRANGER);
        registry.collect(taskId, round, challenger);
    }

    function withdraw(address who) internal returns (uint256 got) {
        uint256 before = who.balance;
        vm.prank(who);
        registry.withdraw();
        got = who.balance - before;
        paidOut += got;
    }

    function warpBy(uint256 secs) internal {
        vm.warp(block.timestamp + secs);
    }

    /// @dev Everything sent in came out or was burned, and only the burned wei are left.
    function assertAllPaidOut() internal view {
        vm.assertEq(paidOut + registry.burned(), paidIn, "withdrawn + burned == sent in");
        vm.assertEq(address(registry).balance, registry.burned(), "registry holds the burn");
    }

    /// @dev The books: the registry holds exactly the credits of every party, the burned wei
    /// and `live` (fees and bonds still in play).
    function assertBooks(uint256 live) internal view {
        address[8] memory parties =
            [REQUESTER, SERVER, ALICE, BOB, STRANGER, SYBIL, HONEST, address(this)];
        uint256 credits;
        for (uint256 i = 0; i < parties.length; ++i) {
            credits += registry.balanceOf(parties[i]);
        }
        vm.assertEq(
            address(registry).balance, credits + registry.burned() + live, "balance == books"
        );
    }

    /// @dev Every named party withdraws its credit.
    function withdrawAll() internal {
        address[7] memory parties = [REQUESTER, SERVER, ALICE, BOB, SYBIL, HONEST, STRANGER];
        for (uint256 i = 0; i < parties.length; ++i) {
            if (registry.balanceOf(parties[i]) != 0) withdraw(parties[i]);
        }
    }

    function assertStatus(uint256 taskId, TaskRegistry.TaskStatus status) internal view {
        vm.assertEq(uint256(registry.task(taskId).status), uint256(status), "task status");
    }

    function wrongStatus(TaskRegistry.TaskStatus expected, TaskRegistry.TaskStatus actual)
        internal
        pure
        returns (bytes memory)
    {
        return abi.encodeWithSelector(TaskRegistry.WrongStatus.selector, expected, actual);
    }

    /*//////////////////////////////////////////////////////////////
                                POSTING
    //////////////////////////////////////////////////////////////*/

    function test_postTask() public {
        uint64 deadline = uint64(block.timestamp + 1 days);
        vm.expectEmit(address(registry));
        emit TaskRegistry.TaskPosted(0, REQUESTER, programId, input, HEIGHTS, FEE, deadline);
        uint256 taskId = postTask();
        vm.assertEq(taskId, 0, "first id");
        vm.assertEq(registry.taskCount(), 1, "count");
        TaskRegistry.Task memory t = registry.task(taskId);
        vm.assertEq(t.requester, REQUESTER, "requester");
        vm.assertEq(t.deadline, deadline, "deadline");
        vm.assertEq(t.fee, FEE, "fee");
        vm.assertEq(t.programId, programId, "program");
        vm.assertEq(t.inputCommitment, input, "input");
        vm.assertEq(t.heights, HEIGHTS, "heights");
        vm.assertEq(uint256(t.kind), uint256(TaskRegistry.TaskKind.Vm), "a VM task");
        assertStatus(taskId, TaskRegistry.TaskStatus.Open);
        vm.assertEq(address(registry).balance, FEE, "fee held");
        vm.assertEq(postTask(), 1, "second id");
    }

    function test_postTaskNeedsAPublishedInput() public {
        bytes32 unpublished = oracle.commitmentOf("never uploaded");
        vm.expectRevert(abi.encodeWithSelector(TaskRegistry.InputUnavailable.selector, unpublished));
        registry.postTask(programId, unpublished, HEIGHTS, uint64(block.timestamp + 1));
        // The empty input needs no upload.
        uint256 taskId =
            registry.postTask(programId, bytes32(0), HEIGHTS, uint64(block.timestamp + 1));
        vm.assertEq(registry.task(taskId).inputCommitment, bytes32(0), "empty input");
    }

    function test_postTaskDeadlinePassed() public {
        uint64 now_ = uint64(block.timestamp);
        vm.expectRevert(abi.encodeWithSelector(TaskRegistry.DeadlinePassed.selector, now_));
        registry.postTask(programId, input, HEIGHTS, now_);
        vm.expectRevert(abi.encodeWithSelector(TaskRegistry.DeadlinePassed.selector, now_ - 1));
        registry.postTask(programId, input, HEIGHTS, now_ - 1);
    }

    function test_postTaskBadHeightsBubbleUp() public {
        bytes32[3] memory bad = [bytes32(0), bytes32(bytes1(0x21)), bytes32(bytes3(0x010001))];
        for (uint256 i = 0; i < bad.length; ++i) {
            vm.expectRevert(abi.encodeWithSelector(DisputeGame.BadHeights.selector, bad[i]));
            registry.postTask(programId, input, bad[i], uint64(block.timestamp + 1));
        }
        vm.assertEq(registry.taskCount(), 0, "nothing posted");
    }

    /*//////////////////////////////////////////////////////////////
                               COMMITTING
    //////////////////////////////////////////////////////////////*/

    function test_commitResult() public {
        uint256 taskId = postTask();
        bytes memory out = output70();
        bytes memory state = finalState(out);
        vm.expectEmit(address(registry));
        emit TaskRegistry.ResultCommitted(
            taskId, SERVER, sha256(state), C.STATUS_EXITED, 3, STEPS, out, 0
        );
        commit(taskId);
        TaskRegistry.Task memory t = registry.task(taskId);
        vm.assertEq(t.server, SERVER, "server");
        vm.assertEq(t.committedAt, block.timestamp, "committed at");
        vm.assertEq(t.finalState, sha256(state), "final state");
        vm.assertEq(registry.outputOf(taskId), out, "output");
        assertStatus(taskId, TaskRegistry.TaskStatus.Committed);
        vm.assertEq(address(registry).balance, FEE + SERVER_BOND, "fee and bond held");
        // Only once.
        vm.expectRevert(
            wrongStatus(TaskRegistry.TaskStatus.Open, TaskRegistry.TaskStatus.Committed)
        );
        vm.prank(SERVER);
        registry.commitResult{value: SERVER_BOND}(taskId, state, out);
    }

    function test_commitResultChecks() public {
        uint256 taskId = postTask();
        bytes memory out = output70();
        bytes memory state = finalState(out);

        vm.expectRevert(abi.encodeWithSelector(TaskRegistry.NoSuchTask.selector, 1));
        registry.commitResult{value: SERVER_BOND}(1, state, out);
        vm.expectRevert(abi.encodeWithSelector(TaskRegistry.WrongBond.selector, 0, SERVER_BOND));
        registry.commitResult(taskId, state, out);
        vm.expectRevert(
            abi.encodeWithSelector(TaskRegistry.WrongBond.selector, 2 ether, SERVER_BOND)
        );
        registry.commitResult{value: 2 ether}(taskId, state, out);

        bytes memory short = new bytes(C.STATE_LEN - 1);
        vm.expectRevert(abi.encodeWithSelector(StateLength.selector, C.STATE_LEN - 1));
        registry.commitResult{value: SERVER_BOND}(taskId, short, out);

        bytes memory running = finalState(out, STEPS, C.STATUS_RUNNING);
        vm.expectRevert(TaskRegistry.ResultNotHalted.selector);
        registry.commitResult{value: SERVER_BOND}(taskId, running, out);

        bytes memory unknown = finalState(out, STEPS, 7);
        vm.expectRevert(abi.encodeWithSelector(TaskRegistry.BadStatus.selector, 7));
        registry.commitResult{value: SERVER_BOND}(taskId, unknown, out);

        bytes memory tooLong = finalState(out, MAX_STEPS + 1, C.STATUS_TRAPPED);
        vm.expectRevert(
            abi.encodeWithSelector(TaskRegistry.ResultTooLong.selector, MAX_STEPS + 1, MAX_STEPS)
        );
        registry.commitResult{value: SERVER_BOND}(taskId, tooLong, out);
        // A run of exactly the trace length fits.
        bytes memory longest = finalState(out, MAX_STEPS, C.STATUS_TRAPPED);
        registry.commitResult{value: SERVER_BOND}(taskId, longest, out);
        assertStatus(taskId, TaskRegistry.TaskStatus.Committed);
    }

    function test_commitResultAfterDeadline() public {
        uint256 taskId = postTask();
        uint64 deadline = registry.task(taskId).deadline;
        vm.warp(deadline + 1);
        bytes memory out = output70();
        bytes memory state = finalState(out);
        vm.expectRevert(abi.encodeWithSelector(TaskRegistry.DeadlinePassed.selector, deadline));
        vm.prank(SERVER);
        registry.commitResult{value: SERVER_BOND}(taskId, state, out);
        // At the deadline itself it is still in time.
        vm.warp(deadline);
        commit(taskId);
        assertStatus(taskId, TaskRegistry.TaskStatus.Committed);
    }

    /// @dev Outputs of every shape pass with their own state and fail with a changed byte, a
    /// byte more or a byte less.
    function test_outputMustMatchTheState() public {
        uint256[8] memory lengths = [uint256(0), 1, 31, 32, 33, 64, 70, 100];
        for (uint256 i = 0; i < lengths.length; ++i) {
            bytes memory out = new bytes(lengths[i]);
            for (uint256 j = 0; j < out.length; ++j) {
                out[j] = bytes1(uint8(j + 1 + i));
            }
            bytes memory state = finalState(out);
            uint256 taskId = postTask();
            if (out.length > 0) {
                for (uint256 at = 0; at < out.length; at += 17) {
                    bytes memory changed = bytes.concat(out);
                    changed[at] ^= 0x80;
                    expectOutputMismatch(taskId, state, changed);
                }
                bytes memory shorter = new bytes(out.length - 1);
                for (uint256 j = 0; j < shorter.length; ++j) {
                    shorter[j] = out[j];
                }
                expectOutputMismatch(taskId, state, shorter);
            }
            expectOutputMismatch(taskId, state, bytes.concat(out, hex"00"));
            vm.prank(SERVER);
            registry.commitResult{value: SERVER_BOND}(taskId, state, out);
            vm.assertEq(registry.outputOf(taskId), out, "output stored");
        }
    }

    function expectOutputMismatch(uint256 taskId, bytes memory state, bytes memory out) internal {
        vm.expectRevert(TaskRegistry.OutputMismatch.selector);
        vm.prank(SERVER);
        registry.commitResult{value: SERVER_BOND}(taskId, state, out);
    }

    /*//////////////////////////////////////////////////////////////
                          FINALIZING, CANCELLING
    //////////////////////////////////////////////////////////////*/

    function test_finalizeAfterTheWindow() public {
        uint256 taskId = postTask();
        vm.expectRevert(
            wrongStatus(TaskRegistry.TaskStatus.Committed, TaskRegistry.TaskStatus.Open)
        );
        registry.finalize(taskId);
        commit(taskId);
        uint64 closesAt = uint64(block.timestamp) + WINDOW;
        warpBy(WINDOW);
        vm.expectRevert(abi.encodeWithSelector(TaskRegistry.WindowOpen.selector, closesAt));
        registry.finalize(taskId);
        warpBy(1);
        vm.expectEmit(address(registry));
        emit TaskRegistry.TaskFinalized(taskId);
        vm.prank(STRANGER);
        registry.finalize(taskId);
        assertStatus(taskId, TaskRegistry.TaskStatus.Finalized);
        vm.assertEq(registry.balanceOf(SERVER), SERVER_BOND + FEE, "server: bond + fee");
        vm.assertEq(registry.outputOf(taskId), output70(), "requester reads the output");
        vm.expectRevert(
            wrongStatus(TaskRegistry.TaskStatus.Committed, TaskRegistry.TaskStatus.Finalized)
        );
        registry.finalize(taskId);
        vm.assertEq(withdraw(SERVER), SERVER_BOND + FEE, "withdrawn");
        assertAllPaidOut();
    }

    function test_finalizeWaitsForOpenDisputes() public {
        uint256 taskId = postTask();
        commit(taskId);
        uint256 gameId = challenge(taskId, ALICE);
        warpBy(WINDOW + 1);
        vm.expectRevert(abi.encodeWithSelector(TaskRegistry.DisputesOpen.selector, 1));
        registry.finalize(taskId);
        // The dispute is decided (the challenger never answers) and applied: now it finalizes.
        serverAnswers(gameId, SERVER);
        warpBy(CLOCK);
        games.timeout(gameId);
        vm.expectRevert(abi.encodeWithSelector(TaskRegistry.DisputesOpen.selector, 1));
        registry.finalize(taskId);
        settle(taskId, ALICE);
        registry.finalize(taskId);
        assertStatus(taskId, TaskRegistry.TaskStatus.Finalized);
    }

    function test_cancelAfterTheDeadline() public {
        uint256 taskId = postTask();
        uint64 deadline = registry.task(taskId).deadline;
        vm.warp(deadline);
        vm.expectRevert(abi.encodeWithSelector(TaskRegistry.DeadlineNotPassed.selector, deadline));
        registry.cancel(taskId);
        warpBy(1);
        vm.expectEmit(address(registry));
        emit TaskRegistry.TaskCancelled(taskId);
        vm.prank(STRANGER);
        registry.cancel(taskId);
        assertStatus(taskId, TaskRegistry.TaskStatus.Cancelled);
        vm.assertEq(registry.balanceOf(REQUESTER), FEE, "fee back");
        vm.expectRevert(
            wrongStatus(TaskRegistry.TaskStatus.Open, TaskRegistry.TaskStatus.Cancelled)
        );
        registry.cancel(taskId);
        bytes memory out = output70();
        bytes memory state = finalState(out);
        vm.expectRevert(
            wrongStatus(TaskRegistry.TaskStatus.Open, TaskRegistry.TaskStatus.Cancelled)
        );
        vm.prank(SERVER);
        registry.commitResult{value: SERVER_BOND}(taskId, state, out);
        vm.assertEq(withdraw(REQUESTER), FEE, "withdrawn");
        assertAllPaidOut();
    }

    function test_cannotCancelACommittedTask() public {
        uint256 taskId = postTask();
        commit(taskId);
        vm.warp(registry.task(taskId).deadline + 1);
        vm.expectRevert(
            wrongStatus(TaskRegistry.TaskStatus.Open, TaskRegistry.TaskStatus.Committed)
        );
        registry.cancel(taskId);
    }

    /*//////////////////////////////////////////////////////////////
                               CHALLENGES
    //////////////////////////////////////////////////////////////*/

    /// @dev The game starts from the program's initial state with the task's input linked in,
    /// between the server and the challenger, over the task's claim and phases.
    function test_challengeOpensAGame() public {
        uint256 taskId = postTask();
        commit(taskId);
        (bytes32 root,,) = challengeArgs(taskId, ALICE);
        vm.expectEmit(address(registry));
        emit TaskRegistry.Challenged(taskId, ALICE, 0, 0);
        uint256 gameId = challenge(taskId, ALICE);
        DisputeGame.Game memory g = games.game(gameId);
        bytes memory linked = bytes.concat(initialState);
        put(linked, C.INPUT_LINK, abi.encodePacked(input));
        vm.assertEq(g.agreedState, sha256(linked), "start state with the input");
        vm.assertNotEq(g.agreedState, programId, "input linked");
        vm.assertEq(g.claimant, SERVER, "claimant");
        vm.assertEq(g.challenger, ALICE, "challenger");
        vm.assertEq(g.claimedEnd, registry.task(taskId).finalState, "claim");
        vm.assertEq(g.heights, HEIGHTS, "heights");
        vm.assertEq(g.challengerNode, root, "challenger root");
        vm.assertEq(g.claimantClock, CLOCK, "clock");
        TaskRegistry.Dispute memory d = registry.dispute(taskId, 0, ALICE);
        vm.assertEq(d.gameId, gameId, "dispute game");
        vm.assertEq(uint256(d.status), uint256(TaskRegistry.DisputeStatus.Open), "open");
        vm.assertEq(registry.task(taskId).openDisputes, 1, "open disputes");
    }

    function test_challengeChecks() public {
        uint256 taskId = postTask();
        (bytes32 root, bytes32 end, bytes32[] memory proof) = challengeArgs(taskId, ALICE);
        bytes memory state = initialState;

        vm.expectRevert(
            wrongStatus(TaskRegistry.TaskStatus.Committed, TaskRegistry.TaskStatus.Open)
        );
        vm.prank(ALICE);
        registry.challenge{value: CHALLENGER_BOND}(taskId, state, root, end, proof);
        commit(taskId);

        vm.expectRevert(abi.encodeWithSelector(TaskRegistry.WrongBond.selector, 0, CHALLENGER_BOND));
        vm.prank(ALICE);
        registry.challenge(taskId, state, root, end, proof);

        // The server cannot dispute its own result.
        vm.expectRevert(TaskRegistry.NotAllowed.selector);
        vm.prank(SERVER);
        registry.challenge{value: CHALLENGER_BOND}(taskId, state, root, end, proof);

        // Not the program's initial state.
        bytes memory other = bytes.concat(state);
        other[0] ^= 0x01;
        vm.expectRevert(
            abi.encodeWithSelector(TaskRegistry.ProgramMismatch.selector, sha256(other), programId)
        );
        vm.prank(ALICE);
        registry.challenge{value: CHALLENGER_BOND}(taskId, other, root, end, proof);

        bytes memory long = bytes.concat(state, hex"00");
        vm.expectRevert(abi.encodeWithSelector(StateLength.selector, C.STATE_LEN + 1));
        vm.prank(ALICE);
        registry.challenge{value: CHALLENGER_BOND}(taskId, long, root, end, proof);

        // The game's own checks bubble up: an end equal to the claim.
        bytes32[] memory l = leavesEndingAt(ALICE, registry.task(taskId).finalState);
        bytes32 sameRoot = rootOf(l);
        bytes32[] memory sameProof = lastProof(l);
        vm.expectRevert(DisputeGame.EndNotDisputed.selector);
        vm.prank(ALICE);
        registry.challenge{value: CHALLENGER_BOND}(taskId, state, sameRoot, l[3], sameProof);

        // One dispute per challenger.
        challenge(taskId, ALICE);
        vm.expectRevert(TaskRegistry.NotAllowed.selector);
        vm.prank(ALICE);
        registry.challenge{value: CHALLENGER_BOND}(taskId, state, root, end, proof);

        // The window: still open at its last second, closed after.
        uint64 closesAt = registry.task(taskId).committedAt + WINDOW;
        vm.warp(closesAt);
        challenge(taskId, BOB);
        warpBy(1);
        (root, end, proof) = challengeArgs(taskId, STRANGER);
        vm.deal(STRANGER, CHALLENGER_BOND);
        vm.expectRevert(abi.encodeWithSelector(TaskRegistry.WindowClosed.selector, closesAt));
        vm.prank(STRANGER);
        registry.challenge{value: CHALLENGER_BOND}(taskId, state, root, end, proof);
        vm.assertEq(registry.task(taskId).openDisputes, 2, "two disputes");
    }

    /// @dev A challenger that lost and was settled cannot challenge again (with a window
    /// longer than a game, so that the window is still open).
    function test_settledChallengerCannotChallengeAgain() public {
        registry = new TaskRegistry(games, oracle, SERVER_BOND, CHALLENGER_BOND, 3 days, CLOCK);
        uint256 taskId = postTask();
        commit(taskId);
        uint256 gameId = challenge(taskId, ALICE);
        serverAnswers(gameId, SERVER);
        warpBy(CLOCK);
        games.timeout(gameId);
        settle(taskId, ALICE);
        vm.assertTrue(block.timestamp <= registry.task(taskId).committedAt + 3 days, "window");
        (bytes32 root, bytes32 end, bytes32[] memory proof) = challengeArgs(taskId, ALICE);
        bytes memory state = initialState;
        vm.expectRevert(TaskRegistry.NotAllowed.selector);
        vm.prank(ALICE);
        registry.challenge{value: CHALLENGER_BOND}(taskId, state, root, end, proof);
    }

    /*//////////////////////////////////////////////////////////////
                                DISPUTES
    //////////////////////////////////////////////////////////////*/

    function test_settleDisputeChecks() public {
        uint256 taskId = postTask();
        commit(taskId);
        vm.expectRevert(abi.encodeWithSelector(TaskRegistry.NoDispute.selector, taskId, 0, ALICE));
        registry.settleDispute(taskId, 0, ALICE);
        vm.expectRevert(abi.encodeWithSelector(TaskRegistry.NoDispute.selector, 9, 0, ALICE));
        registry.settleDispute(9, 0, ALICE);
        uint256 gameId = challenge(taskId, ALICE);
        vm.expectRevert(abi.encodeWithSelector(TaskRegistry.NoDispute.selector, taskId, 1, ALICE));
        registry.settleDispute(taskId, 1, ALICE);
        vm.expectRevert(abi.encodeWithSelector(TaskRegistry.GameNotOver.selector, gameId));
        registry.settleDispute(taskId, 0, ALICE);
        warpBy(CLOCK);
        // Timed out but not yet resolved: still not over.
        vm.expectRevert(abi.encodeWithSelector(TaskRegistry.GameNotOver.selector, gameId));
        registry.settleDispute(taskId, 0, ALICE);
        games.timeout(gameId);
        settle(taskId, 0, ALICE);
        // A second settlement (a double claim) is impossible.
        vm.expectRevert(abi.encodeWithSelector(TaskRegistry.NoDispute.selector, taskId, 0, ALICE));
        registry.settleDispute(taskId, 0, ALICE);
        vm.assertEq(
            uint256(registry.dispute(taskId, 0, ALICE).status),
            uint256(TaskRegistry.DisputeStatus.Won),
            "won"
        );
        collect(taskId, 0, ALICE);
        vm.assertEq(registry.balanceOf(ALICE), CHALLENGER_BOND + POOL, "paid once");
    }

    /// @dev The server never answers: the challenger wins by timeout; the round is rejected,
    /// the bond split (requester, burn, pool), the task reopens for round 1 and the sole winner
    /// collects its bond and the whole pool.
    function test_challengerWinsBySilentServer() public {
        uint256 taskId = postTask();
        commit(taskId);
        uint256 gameId = challenge(taskId, ALICE);
        warpBy(CLOCK);
        vm.prank(STRANGER);
        games.timeout(gameId);
        vm.assertEq(
            uint256(games.game(gameId).winner), uint256(DisputeGame.Party.Challenger), "winner"
        );
        vm.expectEmit(address(registry));
        emit TaskRegistry.DisputeSettled(taskId, ALICE, 0, true);
        vm.expectEmit(address(registry));
        emit TaskRegistry.RoundRejected(taskId, 0, ALICE, TO_REQUESTER, TO_BURN, POOL);
        vm.expectEmit(address(registry));
        emit TaskRegistry.Burned(taskId, 0, TO_BURN);
        vm.expectEmit(address(registry));
        emit TaskRegistry.TaskReopened(taskId, 1);
        vm.expectEmit(address(registry));
        emit TaskRegistry.RoundClosed(taskId, 0, 1, POOL);
        settle(taskId, ALICE);
        assertStatus(taskId, TaskRegistry.TaskStatus.Open);
        TaskRegistry.Task memory t = registry.task(taskId);
        vm.assertEq(t.round, 1, "round 1");
        vm.assertEq(t.server, address(0), "no server in round 1");
        TaskRegistry.Round memory r = registry.round(taskId, 0);
        vm.assertTrue(r.rejected, "rejected");
        vm.assertEq(r.winners, 1, "winners");
        vm.assertEq(r.losers, 0, "losers");
        vm.assertEq(r.openDisputes, 0, "closed");
        vm.assertEq(r.share, POOL, "share");
        vm.assertEq(registry.balanceOf(REQUESTER), TO_REQUESTER, "requester share");
        vm.assertEq(registry.burned(), TO_BURN, "burned");
        vm.assertEq(registry.balanceOf(ALICE), 0, "nothing before collecting");
        vm.expectRevert(
            wrongStatus(TaskRegistry.TaskStatus.Committed, TaskRegistry.TaskStatus.Open)
        );
        registry.finalize(taskId);
        vm.expectEmit(address(registry));
        emit TaskRegistry.RewardCollected(taskId, 0, ALICE, CHALLENGER_BOND + POOL);
        collect(taskId, 0, ALICE);
        vm.assertEq(registry.balanceOf(SERVER), 0, "server");
        assertBooks(FEE);

        vm.expectEmit(address(registry));
        emit TaskRegistry.Withdrawn(ALICE, CHALLENGER_BOND + POOL);
        vm.assertEq(withdraw(ALICE), CHALLENGER_BOND + POOL, "alice withdraws");
        vm.assertEq(withdraw(REQUESTER), TO_REQUESTER, "requester withdraws");
        vm.expectRevert(TaskRegistry.NothingToWithdraw.selector);
        vm.prank(SERVER);
        registry.withdraw();
        // Nobody commits again: the fee goes back after the deadline.
        vm.warp(t.deadline + 1);
        registry.cancel(taskId);
        vm.assertEq(withdraw(REQUESTER), FEE, "fee back");
        assertAllPaidOut();
    }

    /// @dev The challenger stops after the server's root: the server wins by timeout, takes
    /// the challenger's bond, and after the window gets its bond and the fee.
    function test_serverWinsBySilentChallenger() public {
        uint256 taskId = postTask();
        commit(taskId);
        uint256 gameId = challenge(taskId, ALICE);
        warpBy(100);
        serverAnswers(gameId, SERVER);
        warpBy(CLOCK);
        games.timeout(gameId);
        vm.assertEq(
            uint256(games.game(gameId).winner), uint256(DisputeGame.Party.Claimant), "winner"
        );
        vm.expectEmit(address(registry));
        emit TaskRegistry.DisputeSettled(taskId, ALICE, 0, false);
        settle(taskId, ALICE);
        // The loser's bond waits for the round's end.
        vm.assertEq(registry.balanceOf(SERVER), 0, "server: paid at finalize");
        vm.assertEq(registry.round(taskId, 0).losers, 1, "one loser");
        vm.expectRevert(abi.encodeWithSelector(TaskRegistry.RoundNotRejected.selector, taskId, 0));
        registry.collect(taskId, 0, ALICE);
        assertStatus(taskId, TaskRegistry.TaskStatus.Committed);
        registry.finalize(taskId);
        vm.assertEq(registry.balanceOf(SERVER), CHALLENGER_BOND + SERVER_BOND + FEE, "server");
        vm.assertEq(withdraw(SERVER), CHALLENGER_BOND + SERVER_BOND + FEE, "withdrawn");
        vm.expectRevert(TaskRegistry.NothingToWithdraw.selector);
        vm.prank(REQUESTER);
        registry.withdraw();
        assertAllPaidOut();
    }

    /*//////////////////////////////////////////////////////////////
                          INCENTIVES (TABLE ROWS)
    //////////////////////////////////////////////////////////////*/

    /// @dev (a) Honest server, no dispute: the server earns the fee, the requester pays it.
    function test_incentive_a_honestServerNoDispute() public {
        uint256 taskId = postTask();
        commit(taskId);
        warpBy(WINDOW + 1);
        registry.finalize(taskId);
        vm.assertEq(registry.balanceOf(SERVER), SERVER_BOND + FEE, "server: bond + fee");
        vm.assertEq(registry.balanceOf(REQUESTER), 0, "requester: pays the fee");
        vm.assertEq(registry.burned(), 0, "nothing burned");
        assertBooks(0);
        vm.assertEq(withdraw(SERVER), SERVER_BOND + FEE, "server net +fee");
        assertAllPaidOut();
    }

    /// @dev (b) Honest server, one garbage challenger: the challenger loses its bond to the
    /// server.
    function test_incentive_b_oneGarbageChallenger() public {
        garbageChallengers(1);
    }

    /// @dev (b) Honest server, 20 garbage challengers: each loses its bond to the server.
    function test_incentive_b_twentyGarbageChallengers() public {
        garbageChallengers(20);
    }

    function garbageChallengers(uint256 n) internal {
        uint256 taskId = postTask();
        commit(taskId);
        uint256[] memory ids = new uint256[](n);
        for (uint256 i = 0; i < n; ++i) {
            address who = address(uint160(0xC0000 + i));
            vm.deal(who, CHALLENGER_BOND);
            ids[i] = challenge(taskId, who);
            serverAnswers(ids[i], SERVER);
        }
        warpBy(CLOCK);
        for (uint256 i = 0; i < n; ++i) {
            games.timeout(ids[i]);
            settle(taskId, address(uint160(0xC0000 + i)));
        }
        registry.finalize(taskId);
        vm.assertEq(
            registry.balanceOf(SERVER), SERVER_BOND + FEE + n * CHALLENGER_BOND, "server takes all"
        );
        for (uint256 i = 0; i < n; ++i) {
            vm.assertEq(registry.balanceOf(address(uint160(0xC0000 + i))), 0, "garbage loses");
        }
        vm.assertEq(registry.burned(), 0, "nothing burned");
        assertBooks(0);
        withdraw(SERVER);
        assertAllPaidOut();
    }

    /// @dev (c) A lying server against one honest challenger: the round is rejected, the
    /// challenger earns the pool, the requester a quarter of the bond; an honest server commits
    /// in round 1 and finalizes, earning the fee.
    function test_incentive_c_liarThenHonestServer() public {
        uint256 taskId = postTask();
        commit(taskId); // SERVER lies.
        uint256 gameId = challenge(taskId, ALICE);
        warpBy(CLOCK);
        games.timeout(gameId);
        settle(taskId, ALICE);
        collect(taskId, 0, ALICE);
        commitAs(taskId, HONEST);
        TaskRegistry.Task memory t = registry.task(taskId);
        vm.assertEq(t.round, 1, "round 1");
        vm.assertEq(t.server, HONEST, "round 1 server");
        warpBy(WINDOW + 1);
        registry.finalize(taskId);
        assertStatus(taskId, TaskRegistry.TaskStatus.Finalized);
        vm.assertEq(registry.outputOf(taskId), output70(), "verified output");

        vm.assertEq(registry.balanceOf(ALICE), CHALLENGER_BOND + POOL, "alice: +0.5");
        vm.assertEq(registry.balanceOf(REQUESTER), TO_REQUESTER, "requester: compensation");
        vm.assertEq(registry.balanceOf(HONEST), SERVER_BOND + FEE, "honest server: +fee");
        vm.assertEq(registry.balanceOf(SERVER), 0, "liar: -bond");
        vm.assertEq(registry.burned(), TO_BURN, "burned");
        assertBooks(0);
        withdrawAll();
        assertAllPaidOut();
    }

    /// @dev (d) Self-challenge censorship. The liar's sybil challenges at once and wins fast
    /// (the liar never answers it); an honest challenger comes at the window's last second and
    /// the liar stalls its game to the clock's last second. The honest challenger is still
    /// rewarded, the liar and its sybil together lose 3/4 of the bond, and the reopened task is
    /// finalized by an honest server.
    function test_incentive_d_selfChallengeCensorship() public {
        // (Absolute times: block.timestamp read after warps may be a stale value under via-ir.)
        uint256 t0 = START;
        uint256 taskId = postTask(uint64(t0 + 10 days));
        commit(taskId); // SERVER lies.
        uint256 sybilGame = challenge(taskId, SYBIL);
        vm.warp(t0 + WINDOW);
        uint256 aliceGame = challenge(taskId, ALICE);
        vm.warp(t0 + CLOCK);
        games.timeout(sybilGame);
        settle(taskId, 0, SYBIL);
        // The round is rejected and the task open again, Alice's game still running.
        assertStatus(taskId, TaskRegistry.TaskStatus.Open);
        vm.assertEq(registry.task(taskId).round, 1, "reopened");
        vm.assertEq(registry.balanceOf(REQUESTER), TO_REQUESTER, "requester share at once");
        vm.assertEq(registry.burned(), TO_BURN, "burn share at once");
        vm.expectRevert(abi.encodeWithSelector(TaskRegistry.DisputesOpen.selector, 1));
        registry.collect(taskId, 0, SYBIL);
        // An honest server commits in round 1 while round 0's last game goes on.
        commitAs(taskId, HONEST);
        // The liar stalls Alice's game to the last second of its clock.
        vm.warp(t0 + WINDOW + CLOCK - 1);
        vm.expectRevert(
            abi.encodeWithSelector(DisputeGame.ClockRunning.selector, DisputeGame.Party.Claimant, 1)
        );
        games.timeout(aliceGame);
        vm.warp(t0 + WINDOW + CLOCK);
        games.timeout(aliceGame);
        settle(taskId, 0, ALICE);
        uint256 share = POOL / 2;
        vm.assertEq(registry.round(taskId, 0).share, share, "two winners share the pool");
        collect(taskId, 0, SYBIL);
        collect(taskId, 0, ALICE);
        vm.warp(t0 + WINDOW + CLOCK + 1);
        registry.finalize(taskId);
        assertStatus(taskId, TaskRegistry.TaskStatus.Finalized);

        vm.assertEq(registry.balanceOf(ALICE), CHALLENGER_BOND + share, "honest: +0.25");
        vm.assertEq(registry.balanceOf(SYBIL), CHALLENGER_BOND + share, "sybil: +0.25");
        vm.assertEq(registry.balanceOf(SERVER), 0, "liar: -1");
        vm.assertEq(registry.balanceOf(HONEST), SERVER_BOND + FEE, "honest server: +fee");
        vm.assertEq(registry.balanceOf(REQUESTER), TO_REQUESTER, "requester: +0.25");
        vm.assertEq(registry.burned(), TO_BURN, "burned");
        // The liar's coalition (server + sybil) nets -0.75: at least the burn share.
        uint256 coalitionLoss = SERVER_BOND - share;
        vm.assertEq(coalitionLoss, 0.75 ether, "coalition net -0.75");
        vm.assertTrue(coalitionLoss >= TO_BURN, "liar loses at least the burn share");
        assertBooks(0);
        withdrawAll();
        assertAllPaidOut();
    }

    /// @dev (e) The liar's sybil challenges and loses on purpose; an honest challenger wins:
    /// the sybil's bond goes into the pool, which the honest winner takes whole.
    function test_incentive_e_sybilLosesOnPurpose() public {
        uint256 taskId = postTask();
        commit(taskId); // SERVER lies.
        uint256 sybilGame = challenge(taskId, SYBIL);
        uint256 aliceGame = challenge(taskId, ALICE);
        serverAnswers(sybilGame, SERVER); // the sybil never moves again
        warpBy(CLOCK);
        games.timeout(sybilGame);
        games.timeout(aliceGame);
        // Settled in either order, the result is the same: the loser first here.
        settle(taskId, 0, SYBIL);
        settle(taskId, 0, ALICE);
        TaskRegistry.Round memory r = registry.round(taskId, 0);
        vm.assertEq(r.losers, 1, "one loser");
        vm.assertEq(r.share, POOL + CHALLENGER_BOND, "pool with the sybil's bond");
        vm.expectRevert(
            abi.encodeWithSelector(TaskRegistry.NothingToCollect.selector, taskId, 0, SYBIL)
        );
        registry.collect(taskId, 0, SYBIL);
        collect(taskId, 0, ALICE);
        vm.assertEq(
            registry.balanceOf(ALICE), 2 * CHALLENGER_BOND + POOL, "honest: +1.5 (pool + sybil)"
        );
        vm.assertEq(registry.balanceOf(SYBIL), 0, "sybil: -1");
        vm.assertEq(registry.balanceOf(SERVER), 0, "liar: -1");
        vm.assertEq(registry.balanceOf(REQUESTER), TO_REQUESTER, "requester: +0.25");
        vm.assertEq(registry.burned(), TO_BURN, "burned");
        assertBooks(FEE);
        vm.warp(registry.task(taskId).deadline + 1);
        registry.cancel(taskId);
        withdrawAll();
        assertAllPaidOut();
    }

    /// @dev (f) A rejection after the deadline cancels the task: the requester gets the fee
    /// and its compensation, the winner its reward.
    function test_incentive_f_rejectionAfterTheDeadline() public {
        uint256 taskId = postTask(uint64(block.timestamp + 2 hours));
        commit(taskId);
        uint256 gameId = challenge(taskId, ALICE);
        warpBy(CLOCK);
        games.timeout(gameId);
        vm.expectEmit(address(registry));
        emit TaskRegistry.TaskCancelled(taskId);
        settle(taskId, 0, ALICE);
        assertStatus(taskId, TaskRegistry.TaskStatus.Cancelled);
        vm.assertEq(registry.task(taskId).round, 0, "no new round");
        bytes memory out = output70();
        bytes memory state = finalState(out);
        vm.expectRevert(
            wrongStatus(TaskRegistry.TaskStatus.Open, TaskRegistry.TaskStatus.Cancelled)
        );
        vm.prank(HONEST);
        registry.commitResult{value: SERVER_BOND}(taskId, state, out);
        vm.expectRevert(
            wrongStatus(TaskRegistry.TaskStatus.Open, TaskRegistry.TaskStatus.Cancelled)
        );
        registry.cancel(taskId);
        collect(taskId, 0, ALICE);
        vm.assertEq(registry.balanceOf(REQUESTER), FEE + TO_REQUESTER, "fee + compensation");
        vm.assertEq(registry.balanceOf(ALICE), CHALLENGER_BOND + POOL, "winner: +0.5");
        vm.assertEq(registry.balanceOf(SERVER), 0, "liar: -1");
        vm.assertEq(registry.burned(), TO_BURN, "burned");
        assertBooks(0);
        withdrawAll();
        assertAllPaidOut();
    }

    /// @dev (g) A liar that commits wrong in every round pays every round; the same honest
    /// challenger disputes each round (disputes are per round).
    function test_incentive_g_liarEveryRound() public {
        uint256 taskId = postTask(uint64(block.timestamp + 10 days));
        uint256 rounds = 3;
        for (uint256 r = 0; r < rounds; ++r) {
            commit(taskId);
            uint256 gameId = challenge(taskId, ALICE);
            warpBy(CLOCK);
            games.timeout(gameId);
            settle(taskId, r, ALICE);
            collect(taskId, r, ALICE);
            vm.assertEq(registry.task(taskId).round, r + 1, "next round");
            vm.assertEq(registry.round(taskId, r).server, SERVER, "liar's round");
        }
        vm.assertEq(registry.balanceOf(ALICE), rounds * (CHALLENGER_BOND + POOL), "alice");
        vm.assertEq(registry.balanceOf(REQUESTER), rounds * TO_REQUESTER, "requester");
        vm.assertEq(registry.burned(), rounds * TO_BURN, "burned");
        vm.assertEq(registry.balanceOf(SERVER), 0, "liar: -3");
        assertBooks(FEE);
        vm.warp(registry.task(taskId).deadline + 1);
        registry.cancel(taskId);
        vm.assertEq(registry.balanceOf(REQUESTER), rounds * TO_REQUESTER + FEE, "fee back");
        withdrawAll();
        assertAllPaidOut();
    }

    /// @dev Three winners: the pool does not divide evenly; the dust is burned, to the wei.
    function test_threeWinnersBurnTheDust() public {
        uint256 taskId = postTask();
        commit(taskId);
        address[3] memory who = [ALICE, BOB, SYBIL];
        uint256[3] memory ids;
        for (uint256 i = 0; i < 3; ++i) {
            ids[i] = challenge(taskId, who[i]);
        }
        warpBy(CLOCK);
        for (uint256 i = 0; i < 3; ++i) {
            games.timeout(ids[i]);
        }
        settle(taskId, 0, BOB);
        settle(taskId, 0, ALICE);
        uint256 share = POOL / 3;
        uint256 dust = POOL - 3 * share;
        vm.assertTrue(dust != 0, "uneven");
        vm.expectEmit(address(registry));
        emit TaskRegistry.Burned(taskId, 0, dust);
        settle(taskId, 0, SYBIL);
        for (uint256 i = 0; i < 3; ++i) {
            collect(taskId, 0, who[i]);
            vm.assertEq(registry.balanceOf(who[i]), CHALLENGER_BOND + share, "winner");
        }
        vm.assertEq(registry.burned(), TO_BURN + dust, "burn share + dust");
        assertBooks(FEE);
    }

    /// @dev (h) Collecting: before the round closes, twice, a loser, a round not rejected.
    function test_incentive_h_collectRefusals() public {
        uint256 taskId = postTask();
        commit(taskId);
        uint256 aliceGame = challenge(taskId, ALICE);
        uint256 bobGame = challenge(taskId, BOB);
        vm.expectRevert(abi.encodeWithSelector(TaskRegistry.RoundNotRejected.selector, taskId, 0));
        registry.collect(taskId, 0, ALICE);
        serverAnswers(bobGame, SERVER);
        warpBy(CLOCK);
        games.timeout(aliceGame);
        settle(taskId, 0, ALICE);
        vm.expectRevert(abi.encodeWithSelector(TaskRegistry.DisputesOpen.selector, 1));
        registry.collect(taskId, 0, ALICE);
        games.timeout(bobGame);
        settle(taskId, 0, BOB);
        collect(taskId, 0, ALICE);
        vm.expectRevert(
            abi.encodeWithSelector(TaskRegistry.NothingToCollect.selector, taskId, 0, ALICE)
        );
        registry.collect(taskId, 0, ALICE);
        vm.expectRevert(
            abi.encodeWithSelector(TaskRegistry.NothingToCollect.selector, taskId, 0, BOB)
        );
        registry.collect(taskId, 0, BOB);
        vm.expectRevert(
            abi.encodeWithSelector(TaskRegistry.NothingToCollect.selector, taskId, 0, STRANGER)
        );
        registry.collect(taskId, 0, STRANGER);
        vm.assertEq(
            uint256(registry.dispute(taskId, 0, ALICE).status),
            uint256(TaskRegistry.DisputeStatus.Collected),
            "collected"
        );
        vm.assertEq(registry.balanceOf(ALICE), 2 * CHALLENGER_BOND + POOL, "alice, once");
        assertBooks(FEE);
    }

    /*//////////////////////////////////////////////////////////////
                              FEASIBILITY
    //////////////////////////////////////////////////////////////*/

    /// @dev The time figures, computed by hand from the documented formula.
    function test_requiredTimes() public {
        // [2, 1]: run 1, trees 2 + 2, moves 6.
        vm.assertEq(registry.requiredWindow(HEIGHTS, false), 1 + 2 + 300, "window [2,1]");
        vm.assertEq(registry.requiredClock(HEIGHTS, false), 1 + 4 + 6 * 30 + 300, "clock [2,1]");
        // [1]: run 1, tree 2, moves 3.
        bytes32 one = bytes32(bytes1(0x01));
        vm.assertEq(registry.requiredWindow(one, false), 303, "window [1]");
        vm.assertEq(registry.requiredClock(one, false), 393, "clock [1]");
        // The demo's [11, 8, 8]: run 6 (2^27 / 25e6), trees 7 + 2 + 2, moves 31.
        bytes32 demo = bytes32(bytes3(0x0b0808));
        vm.assertEq(registry.requiredWindow(demo, false), 6 + 7 + 300, "window [11,8,8]");
        vm.assertEq(registry.requiredClock(demo, false), 6 + 11 + 31 * 30 + 300, "clock [11,8,8]");
        // The caps, [24, 16]: run 43981 (2^40 / 25e6), trees 43981 + 168 and 1 + 1, moves 43.
        bytes32 capped = bytes32(bytes2(0x1810));
        vm.assertEq(registry.requiredWindow(capped, false), 43_981 + 44_149 + 300, "window [24,16]");
        vm.assertEq(
            registry.requiredClock(capped, false),
            43_981 + 44_149 + 2 + 43 * 30 + 300,
            "clock [24,16]"
        );
        // A graph task of [16, 14, 13] (a 64 + 64 token LLM generation): run 21,991
        // (2^43 / (25e6 << 4), natively), trees 21,991 + 1, then 6 + 1 and 1 + 1 in the VM,
        // moves 47. As a VM trace these heights are refused.
        bytes32 llm = bytes32(bytes3(0x100e0d));
        vm.assertEq(registry.requiredWindow(llm, true), 21_991 + 21_992 + 300, "window graph");
        vm.assertEq(
            registry.requiredClock(llm, true),
            21_991 + 21_992 + 7 + 2 + 47 * 30 + 300,
            "clock graph [16,14,13]"
        );
        vm.expectRevert(abi.encodeWithSelector(DisputeGame.BadHeights.selector, llm));
        registry.requiredWindow(llm, false);
    }

    function test_requiredTimesRefuseBadHeights() public {
        bytes32[3] memory bad = [bytes32(0), bytes32(bytes1(0x19)), bytes32(bytes2(0x1811))];
        for (uint256 i = 0; i < bad.length; ++i) {
            vm.expectRevert(abi.encodeWithSelector(DisputeGame.BadHeights.selector, bad[i]));
            registry.requiredWindow(bad[i], false);
            vm.expectRevert(abi.encodeWithSelector(DisputeGame.BadHeights.selector, bad[i]));
            registry.requiredClock(bad[i], false);
        }
        // A graph task: the VM phases above 40, the sum above 44, a lone top phase.
        bytes32[2] memory graphBad = [bytes32(bytes3(0x031415)), bytes32(bytes3(0x181104))];
        for (uint256 i = 0; i < graphBad.length; ++i) {
            vm.expectRevert(abi.encodeWithSelector(DisputeGame.BadHeights.selector, graphBad[i]));
            registry.requiredWindow(graphBad[i], true);
        }
        bytes32 alone = bytes32(bytes1(0x10));
        vm.expectRevert(abi.encodeWithSelector(DisputeGame.ProgramPhaseAlone.selector, alone));
        registry.requiredClock(alone, true);
    }

    /// @dev A window and a clock exactly at the limit are accepted; one second less is not.
    function test_postTaskFeasibility() public {
        bytes32 demo = bytes32(bytes3(0x0b0808));
        uint64 window = uint64(registry.requiredWindow(demo, false));
        uint64 clock = uint64(registry.requiredClock(demo, false));
        uint64 deadline = uint64(block.timestamp + 1 days);
        registry = new TaskRegistry(games, oracle, SERVER_BOND, CHALLENGER_BOND, window, clock);
        vm.assertEq(registry.postTask(programId, input, demo, deadline), 0, "at the limit");

        registry = new TaskRegistry(games, oracle, SERVER_BOND, CHALLENGER_BOND, window - 1, clock);
        vm.expectRevert(
            abi.encodeWithSelector(TaskRegistry.WindowTooShort.selector, window, window - 1)
        );
        registry.postTask(programId, input, demo, deadline);

        registry = new TaskRegistry(games, oracle, SERVER_BOND, CHALLENGER_BOND, window, clock - 1);
        vm.expectRevert(
            abi.encodeWithSelector(TaskRegistry.ClockTooShort.selector, clock, clock - 1)
        );
        registry.postTask(programId, input, demo, deadline);

        // The default test registry cannot take a trace at the caps: its window is an hour.
        registry = new TaskRegistry(games, oracle, SERVER_BOND, CHALLENGER_BOND, WINDOW, CLOCK);
        bytes32 capped = bytes32(bytes2(0x1810));
        vm.expectRevert(
            abi.encodeWithSelector(TaskRegistry.WindowTooShort.selector, 88_430, WINDOW)
        );
        registry.postTask(programId, input, capped, deadline);
    }

    /// @dev Heights beyond the caps are refused when posting.
    function test_postTaskCapsRefused() public {
        bytes32[2] memory bad = [bytes32(bytes1(0x19)), bytes32(bytes3(0x181001))];
        for (uint256 i = 0; i < bad.length; ++i) {
            vm.expectRevert(abi.encodeWithSelector(DisputeGame.BadHeights.selector, bad[i]));
            registry.postTask(programId, input, bad[i], uint64(block.timestamp + 1));
        }
    }

    /*//////////////////////////////////////////////////////////////
                               WITHDRAWALS
    //////////////////////////////////////////////////////////////*/

    function test_withdrawOnce() public {
        vm.expectRevert(TaskRegistry.NothingToWithdraw.selector);
        vm.prank(REQUESTER);
        registry.withdraw();
        uint256 taskId = postTask();
        vm.warp(registry.task(taskId).deadline + 1);
        registry.cancel(taskId);
        uint256 before = REQUESTER.balance;
        vm.assertEq(withdraw(REQUESTER), FEE, "fee");
        vm.assertEq(REQUESTER.balance, before + FEE, "paid");
        vm.assertEq(registry.balanceOf(REQUESTER), 0, "credit cleared");
        vm.expectRevert(TaskRegistry.NothingToWithdraw.selector);
        vm.prank(REQUESTER);
        registry.withdraw();
        assertAllPaidOut();
    }

    function test_transferFailedKeepsTheCredit() public {
        Rejecter rejecter = new Rejecter();
        vm.deal(address(rejecter), FEE);
        bytes memory post = abi.encodeCall(
            TaskRegistry.postTask, (programId, input, HEIGHTS, uint64(block.timestamp + 1))
        );
        uint256 taskId = abi.decode(rejecter.forward(address(registry), post, FEE), (uint256));
        warpBy(2);
        registry.cancel(taskId);
        bytes memory withdrawCall = abi.encodeCall(TaskRegistry.withdraw, ());
        vm.expectRevert(TaskRegistry.TransferFailed.selector);
        rejecter.forward(address(registry), withdrawCall, 0);
        vm.assertEq(registry.balanceOf(address(rejecter)), FEE, "credit kept");
        vm.assertEq(address(registry).balance, FEE, "fee kept");
    }

    /// @dev A challenger contract that re-enters from `receive` gets its bond and the pool,
    /// no more.
    function test_reentrantChallengerGetsNothingExtra() public {
        Reenterer attacker = new Reenterer(registry);
        vm.deal(address(attacker), CHALLENGER_BOND);
        uint256 taskId = postTask();
        commit(taskId);
        attacker.setTask(taskId);
        (bytes32 root, bytes32 end, bytes32[] memory proof) =
            challengeArgs(taskId, address(attacker));
        bytes memory call =
            abi.encodeCall(TaskRegistry.challenge, (taskId, initialState, root, end, proof));
        uint256 gameId =
            abi.decode(attacker.forward(address(registry), call, CHALLENGER_BOND), (uint256));
        paidIn += CHALLENGER_BOND;
        warpBy(CLOCK);
        games.timeout(gameId);
        settle(taskId, address(attacker));
        collect(taskId, 0, address(attacker));

        vm.assertEq(withdrawAsContract(attacker), CHALLENGER_BOND + POOL, "bond + pool");
        vm.assertEq(address(attacker).balance, CHALLENGER_BOND + POOL, "exact balance");
        vm.assertEq(attacker.received(), 1, "one payment, re-entered once");
        vm.assertEq(attacker.reentered(), 0, "every re-entrant call reverted");
        vm.assertEq(withdraw(REQUESTER), TO_REQUESTER, "compensation");
        vm.warp(registry.task(taskId).deadline + 1);
        registry.cancel(taskId);
        vm.assertEq(withdraw(REQUESTER), FEE, "fee back");
        assertAllPaidOut();
    }

    /// @dev A server contract that re-enters gets its bond, the fee and the loser's bond, no
    /// more.
    function test_reentrantServerGetsNothingExtra() public {
        Reenterer attacker = new Reenterer(registry);
        vm.deal(address(attacker), SERVER_BOND);
        uint256 taskId = postTask();
        attacker.setTask(taskId);
        bytes memory out = output70();
        bytes memory call =
            abi.encodeCall(TaskRegistry.commitResult, (taskId, finalState(out), out));
        attacker.forward(address(registry), call, SERVER_BOND);
        paidIn += SERVER_BOND;
        uint256 gameId = challenge(taskId, ALICE);
        bytes32[] memory l = leavesEndingAt(address(attacker), games.game(gameId).claimedEnd);
        call = abi.encodeCall(DisputeGame.commitRoot, (gameId, rootOf(l), lastProof(l)));
        attacker.forward(address(games), call, 0);
        warpBy(CLOCK);
        games.timeout(gameId);
        settle(taskId, ALICE);
        registry.finalize(taskId);

        uint256 due = CHALLENGER_BOND + SERVER_BOND + FEE;
        vm.assertEq(withdrawAsContract(attacker), due, "bond, fee, loser's bond");
        vm.assertEq(address(attacker).balance, due, "exact balance");
        vm.assertEq(attacker.received(), 1, "re-entered once");
        vm.assertEq(attacker.reentered(), 0, "every re-entrant call reverted");
        assertAllPaidOut();
    }

    /// @dev A requester contract that re-enters gets its fee back once.
    function test_reentrantRequesterGetsNothingExtra() public {
        Reenterer attacker = new Reenterer(registry);
        vm.deal(address(attacker), FEE);
        bytes memory post = abi.encodeCall(
            TaskRegistry.postTask, (programId, input, HEIGHTS, uint64(block.timestamp + 1))
        );
        uint256 taskId = abi.decode(attacker.forward(address(registry), post, FEE), (uint256));
        paidIn += FEE;
        attacker.setTask(taskId);
        warpBy(2);
        registry.cancel(taskId);
        vm.assertEq(withdrawAsContract(attacker), FEE, "fee");
        vm.assertEq(address(attacker).balance, FEE, "exact balance");
        vm.assertEq(attacker.received(), 1, "re-entered once");
        vm.assertEq(attacker.reentered(), 0, "every re-entrant call reverted");
        vm.expectRevert(TaskRegistry.NothingToWithdraw.selector);
        attacker.forward(address(registry), abi.encodeCall(TaskRegistry.withdraw, ()), 0);
        assertAllPaidOut();
    }

    function withdrawAsContract(Actor who) internal returns (uint256 got) {
        uint256 before = address(who).balance;
        who.forward(address(registry), abi.encodeCall(TaskRegistry.withdraw, ()), 0);
        got = address(who).balance - before;
        paidOut += got;
    }
}
