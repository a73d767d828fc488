// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {TestBase} from "./utils/Vm.sol";
import {RiscvStep} from "../src/RiscvStep.sol";
import {DisputeGame} from "../src/DisputeGame.sol";
import {InputOracle} from "../src/InputOracle.sol";
import {TaskRegistry} from "../src/TaskRegistry.sol";
import {GraphState} from "../src/lib/GraphState.sol";
import {VmConstants as C} from "../src/lib/VmConstants.sol";

/// @notice Graph tasks in TaskRegistry and the `GraphState` commitments: byte commitments
/// against a naive recursive reference (vectors, fuzzed lengths, digests from Python's hashlib),
/// posting and its refusals, commitments of either kind refused for the other, the derived
/// final state, games created with a program-defined top phase and played through
/// `descendProgram`, finalization and the bond books to the wei.
contract GraphTasksTest is TestBase {
    uint256 internal constant SERVER_BOND = 1 ether;
    uint256 internal constant CHALLENGER_BOND = 1 ether;
    uint64 internal constant WINDOW = 1 hours;
    uint64 internal constant CLOCK = 1 days;
    uint256 internal constant FEE = 0.25 ether;
    /// @dev Phases [2, 1]: four coarse steps C(1..4), each re-done by a step program run of two
    /// instructions.
    bytes32 internal constant HEIGHTS = bytes32(bytes2(0x0201));
    uint256 internal constant START = 1_700_000_000;
    uint256 internal constant TO_REQUESTER = 0.25 ether;
    uint256 internal constant TO_BURN = 0.25 ether;
    uint256 internal constant POOL = 0.5 ether;

    address internal constant REQUESTER = address(0xB0B0);
    address internal constant SERVER = address(0x5E5E);
    address internal constant ALICE = address(0xA11CE);
    address internal constant HONEST = address(0x4011E5);
    address internal constant STRANGER = address(0x5742);

    DisputeGame internal games;
    InputOracle internal oracle;
    TaskRegistry internal registry;

    /// @dev The step program's packed initial state (empty input link) and its ID.
    bytes internal stepInitial;
    bytes32 internal stepProgram;
    bytes32 internal modelRoot;
    bytes32 internal values;
    uint256 internal paidIn;
    uint256 internal paidOut;

    function setUp() public {
        games = new DisputeGame(new RiscvStep());
        oracle = new InputOracle();
        registry = new TaskRegistry(games, oracle, SERVER_BOND, CHALLENGER_BOND, WINDOW, CLOCK);
        stepInitial = new bytes(C.STATE_LEN);
        for (uint256 i = 0; i < C.STATE_LEN; ++i) {
            stepInitial[i] = bytes1(uint8(i * 5 + 2));
        }
        for (uint256 i = C.INPUT_LINK; i < C.INPUT_LINK + 32; ++i) {
            stepInitial[i] = 0;
        }
        stepInitial[C.STATUS] = bytes1(C.STATUS_RUNNING);
        stepProgram = sha256(stepInitial);
        modelRoot = sha256("model");
        values = sha256("values");
        vm.deal(REQUESTER, 10 ether);
        vm.deal(SERVER, 10 ether);
        vm.deal(ALICE, 10 ether);
        vm.deal(HONEST, 10 ether);
        vm.deal(address(this), 10 ether);
        vm.warp(START);
    }

    /*//////////////////////////////////////////////////////////////
                     REFERENCE (NAIVE, BYTE BY BYTE)
    //////////////////////////////////////////////////////////////*/

    /// @dev `n` bytes `i * mul + add (mod 251)`.
    function pattern(uint256 n, uint256 mul, uint256 add) internal pure returns (bytes memory b) {
        b = new bytes(n);
        for (uint256 i = 0; i < n; ++i) {
            b[i] = bytes1(uint8((i * mul + add) % 251));
        }
    }

    /// @dev Chunk `i` of `data`, zero-padded (zero past the end).
    function chunk(bytes memory data, uint256 i) internal pure returns (bytes32 w) {
        for (uint256 j = 0; j < 32 && 32 * i + j < data.length; ++j) {
            w |= bytes32(data[32 * i + j]) >> (8 * j);
        }
    }

    /// @dev The padded tree, recursively: leaves `first .. first + width` (width a power of 2).
    function naiveNode(bytes memory data, uint256 first, uint256 width)
        internal
        pure
        returns (bytes32)
    {
        if (width == 1) return chunk(data, first);
        return sha256(
            abi.encodePacked(
                naiveNode(data, first, width / 2), naiveNode(data, first + width / 2, width / 2)
            )
        );
    }

    function naiveDataRoot(bytes memory data) internal pure returns (bytes32) {
        if (data.length == 0) return 0;
        uint256 chunks = (data.length + 31) / 32;
        uint256 width = 1;
        while (width < chunks) width *= 2;
        return naiveNode(data, 0, width);
    }

    /// @dev The length's 8 bytes, least significant first, then 24 zero bytes.
    function naiveLenWord(uint256 len) internal pure returns (bytes32) {
        bytes memory w = new bytes(32);
        for (uint256 i = 0; i < 8; ++i) {
            w[i] = bytes1(uint8(len >> (8 * i)));
        }
        return bytes32(w);
    }

    function naiveByteCommitment(bytes memory data) internal pure returns (bytes32) {
        return sha256(abi.encodePacked(naiveLenWord(data.length), naiveDataRoot(data)));
    }

    function naiveTask(bytes memory input) internal view returns (bytes32) {
        return sha256(abi.encodePacked(modelRoot, naiveByteCommitment(input)));
    }

    function naiveState(bytes32 task, bytes32 values_, bytes32 result)
        internal
        pure
        returns (bytes32)
    {
        return sha256(abi.encodePacked(task, sha256(abi.encodePacked(values_, result))));
    }

    /// @dev Checks both data paths (calldata through the registry, memory through the library)
    /// against the reference.
    function checkCommitment(bytes memory data) internal view {
        bytes32 expected = naiveByteCommitment(data);
        vm.assertEq(registry.byteCommitment(data), expected, "calldata commitment");
        vm.assertEq(GraphState.byteCommitmentMemory(data), expected, "memory commitment");
        vm.assertEq(GraphState.dataRootMemory(data), naiveDataRoot(data), "memory root");
    }

    /*//////////////////////////////////////////////////////////////
                           BYTE COMMITMENTS
    //////////////////////////////////////////////////////////////*/

    function test_byteCommitmentVectors() public view {
        uint256[10] memory lengths = [uint256(0), 1, 31, 32, 33, 40, 64, 65, 96, 1000];
        for (uint256 i = 0; i < lengths.length; ++i) {
            checkCommitment(pattern(lengths[i], 13, i + 1));
        }
    }

    /// @dev The tree shapes spelled out: empty, one chunk, two, three (padded to four).
    function test_dataRootShapes() public view {
        vm.assertEq(GraphState.dataRootMemory(""), bytes32(0), "empty");
        bytes memory one = hex"ab";
        vm.assertEq(GraphState.dataRootMemory(one), bytes32(bytes1(0xab)), "1 byte: padded chunk");
        bytes memory b32 = pattern(32, 3, 1);
        vm.assertEq(GraphState.dataRootMemory(b32), bytes32(b32), "32 bytes: the chunk");
        bytes memory b33 = pattern(33, 3, 1);
        vm.assertEq(
            GraphState.dataRootMemory(b33),
            sha256(abi.encodePacked(chunk(b33, 0), bytes32(bytes1(b33[32])))),
            "33 bytes"
        );
        bytes memory b64 = pattern(64, 3, 1);
        vm.assertEq(
            GraphState.dataRootMemory(b64),
            sha256(abi.encodePacked(chunk(b64, 0), chunk(b64, 1))),
            "64 bytes"
        );
        bytes memory b65 = pattern(65, 3, 1);
        bytes32 left = sha256(abi.encodePacked(chunk(b65, 0), chunk(b65, 1)));
        bytes32 right = sha256(abi.encodePacked(chunk(b65, 2), bytes32(0)));
        vm.assertEq(
            GraphState.dataRootMemory(b65), sha256(abi.encodePacked(left, right)), "65 bytes"
        );
        vm.assertEq(registry.byteCommitment(b65), naiveByteCommitment(b65), "65 via calldata");
    }

    /// @dev The length word is little-endian.
    function test_lenWordIsLittleEndian() public pure {
        vm.assertEq(GraphState.lenWord(0), bytes32(0), "0");
        vm.assertEq(GraphState.lenWord(0x0102), bytes32(bytes2(0x0201)), "0x0102");
        vm.assertEq(GraphState.lenWord(1000), naiveLenWord(1000), "1000");
        uint256 big = 0x0102030405060708;
        vm.assertEq(GraphState.lenWord(big), bytes32(bytes8(0x0807060504030201)), "8 bytes");
    }

    /// @dev Digests computed with Python's hashlib from the formulas alone (an implementation
    /// that shares nothing with the Solidity): model = sha256("model"), values =
    /// sha256("values"), input = bytes 0..39, output[i] = 7i + 3, big[i] = (31i + 5) % 251.
    function test_hashlibVectors() public view {
        bytes memory input = new bytes(40);
        bytes memory output = new bytes(40);
        for (uint256 i = 0; i < 40; ++i) {
            input[i] = bytes1(uint8(i));
            output[i] = bytes1(uint8(i * 7 + 3));
        }
        vm.assertEq(
            GraphState.dataRootMemory(input),
            0x6032bb14a2dc38d055bb806a766a1082c6c56d2b2662c42eabce7c25a3cf157d,
            "data root of 40 bytes"
        );
        vm.assertEq(
            registry.byteCommitment(""),
            0xf5a5fd42d16a20302798ef6ed309979b43003d2320d9f0e8ea9831a92759fb4b,
            "byte commitment of nothing"
        );
        vm.assertEq(
            registry.byteCommitment(input),
            0x592be7b5b0e052201837e99d50798a0c5a19b8ed32d5e61af078304b15fc5682,
            "byte commitment of 40 bytes"
        );
        bytes32 task = registry.graphTaskWord(modelRoot, input);
        vm.assertEq(
            task, 0x13fd30b4bc37f827cb41b9c1952aee3400e7f1ee260b7d3d5c2ce6a6e25cbb3c, "task word"
        );
        vm.assertEq(
            registry.graphStartState(task),
            0xe744691913afb7eec3b91d9c6656450096dea6aefd94633fa51ef385abd2a689,
            "S(0)"
        );
        vm.assertEq(
            registry.graphFinalState(task, values, output),
            0x327c490a2dc6e4be05a6b0b0c16260d9f9404f73646edb2020c70fda683bf8bf,
            "claimed final state"
        );
        bytes memory big = new bytes(1000);
        for (uint256 i = 0; i < 1000; ++i) {
            big[i] = bytes1(uint8((i * 31 + 5) % 251));
        }
        vm.assertEq(
            registry.byteCommitment(big),
            0x9bc91550f631634239cabc39be4856379dde7b7839a0d84c925e555131b114cc,
            "byte commitment of 1000 bytes"
        );
    }

    /// @dev Random lengths up to 2048 bytes and random contents against the reference.
    function testFuzz_byteCommitment(uint256 seed, uint256 len) public view {
        len = len % 2049;
        bytes memory data = new bytes(len);
        for (uint256 i = 0; i < len; i += 32) {
            bytes32 w = keccak256(abi.encode(seed, i));
            for (uint256 j = 0; j < 32 && i + j < len; ++j) {
                data[i + j] = w[j];
            }
        }
        checkCommitment(data);
    }

    /*//////////////////////////////////////////////////////////////
                                 ACTIONS
    //////////////////////////////////////////////////////////////*/

    function input784() internal pure returns (bytes memory) {
        return pattern(784 * 4, 7, 11);
    }

    function output40() internal pure returns (bytes memory) {
        return pattern(40, 7, 3);
    }

    function postGraphTask() internal returns (uint256 taskId) {
        vm.prank(REQUESTER);
        taskId = registry.postGraphTask{value: FEE}(
            stepProgram, modelRoot, input784(), HEIGHTS, uint64(block.timestamp + 1 days)
        );
        paidIn += FEE;
    }

    function commitGraph(uint256 taskId, address server, bytes32 values_) internal {
        bytes memory out = output40();
        vm.prank(server);
        registry.commitGraphResult{value: SERVER_BOND}(taskId, values_, out);
        paidIn += SERVER_BOND;
    }

    function withdraw(address who) internal returns (uint256 got) {
        uint256 before = who.balance;
        vm.prank(who);
        registry.withdraw();
        got = who.balance - before;
        paidOut += got;
    }

    function withdrawAll() internal {
        address[4] memory parties = [REQUESTER, SERVER, ALICE, HONEST];
        for (uint256 i = 0; i < parties.length; ++i) {
            if (registry.balanceOf(parties[i]) != 0) withdraw(parties[i]);
        }
    }

    function assertAllPaidOut() internal view {
        vm.assertEq(paidOut + registry.burned(), paidIn, "withdrawn + burned == sent in");
        vm.assertEq(address(registry).balance, registry.burned(), "registry holds the burn");
    }

    /*//////////////////////////////////////////////////////////////
                                POSTING
    //////////////////////////////////////////////////////////////*/

    function test_postGraphTask() public {
        bytes memory input = input784();
        bytes32 task = naiveTask(input);
        uint64 deadline = uint64(block.timestamp + 1 days);
        vm.expectEmit(address(registry));
        emit TaskRegistry.GraphTaskPosted(
            0, REQUESTER, modelRoot, stepProgram, task, HEIGHTS, FEE, deadline, input
        );
        uint256 taskId = postGraphTask();
        TaskRegistry.Task memory t = registry.task(taskId);
        vm.assertEq(uint256(t.kind), uint256(TaskRegistry.TaskKind.Graph), "kind");
        vm.assertEq(uint256(t.status), uint256(TaskRegistry.TaskStatus.Open), "open");
        vm.assertEq(t.requester, REQUESTER, "requester");
        vm.assertEq(t.programId, stepProgram, "step program");
        vm.assertEq(t.inputCommitment, task, "task word");
        vm.assertEq(t.heights, HEIGHTS, "heights");
        vm.assertEq(t.fee, FEE, "fee");
        vm.assertEq(t.deadline, deadline, "deadline");
        vm.assertEq(registry.graphTaskWord(modelRoot, input), task, "view");
        vm.assertEq(address(registry).balance, FEE, "fee held");
        // A VM task next to it keeps its kind.
        bytes32 programId = keccak256("a program");
        uint256 vmTask = registry.postTask(programId, bytes32(0), HEIGHTS, deadline);
        vm.assertEq(vmTask, 1, "ids are shared");
        vm.assertEq(uint256(registry.task(vmTask).kind), uint256(TaskRegistry.TaskKind.Vm), "vm");
    }

    /// @dev Gas of posting an MNIST-sized input (784 f32 values) and of committing a 40-byte
    /// output (printed with -vv).
    function test_graphGas() public {
        bytes memory input = input784();
        uint64 deadline = uint64(block.timestamp + 1 days);
        uint256 before = gasleft();
        uint256 taskId =
            registry.postGraphTask{value: FEE}(stepProgram, modelRoot, input, HEIGHTS, deadline);
        emit log_named_uint("postGraphTask (3136-byte input), call gas", before - gasleft());
        before = gasleft();
        registry.byteCommitment(input);
        emit log_named_uint("byteCommitment (3136 bytes), call gas", before - gasleft());
        bytes memory out = output40();
        before = gasleft();
        registry.commitGraphResult{value: SERVER_BOND}(taskId, values, out);
        emit log_named_uint("commitGraphResult (40-byte output), call gas", before - gasleft());
    }

    function test_postGraphTaskRefusals() public {
        bytes memory input = input784();
        uint64 deadline = uint64(block.timestamp + 1 days);
        // One phase: the program-defined top phase would have nothing below it.
        bytes32 one = bytes32(bytes1(0x03));
        vm.expectRevert(abi.encodeWithSelector(DisputeGame.ProgramPhaseAlone.selector, one));
        registry.postGraphTask(stepProgram, modelRoot, input, one, deadline);
        vm.expectRevert(TaskRegistry.NoStepProgram.selector);
        registry.postGraphTask(bytes32(0), modelRoot, input, HEIGHTS, deadline);
        bytes32 bad = bytes32(bytes3(0x020001));
        vm.expectRevert(abi.encodeWithSelector(DisputeGame.BadHeights.selector, bad));
        registry.postGraphTask(stepProgram, modelRoot, input, bad, deadline);
        uint64 now_ = uint64(block.timestamp);
        vm.expectRevert(abi.encodeWithSelector(TaskRegistry.DeadlinePassed.selector, now_));
        registry.postGraphTask(stepProgram, modelRoot, input, HEIGHTS, now_);

        // The window and the clock, exactly at the limit and one second short.
        bytes32 demo = bytes32(bytes3(0x0b0808));
        uint64 window = uint64(registry.requiredWindow(demo, true));
        uint64 clock = uint64(registry.requiredClock(demo, true));
        registry = new TaskRegistry(games, oracle, SERVER_BOND, CHALLENGER_BOND, window, clock);
        vm.assertEq(
            registry.postGraphTask(stepProgram, modelRoot, input, demo, deadline), 0, "at the limit"
        );
        registry = new TaskRegistry(games, oracle, SERVER_BOND, CHALLENGER_BOND, window - 1, clock);
        vm.expectRevert(
            abi.encodeWithSelector(TaskRegistry.WindowTooShort.selector, window, window - 1)
        );
        registry.postGraphTask(stepProgram, modelRoot, input, demo, deadline);
        registry = new TaskRegistry(games, oracle, SERVER_BOND, CHALLENGER_BOND, window, clock - 1);
        vm.expectRevert(
            abi.encodeWithSelector(TaskRegistry.ClockTooShort.selector, clock, clock - 1)
        );
        registry.postGraphTask(stepProgram, modelRoot, input, demo, deadline);
        vm.assertEq(registry.taskCount(), 0, "nothing posted");
    }

    /*//////////////////////////////////////////////////////////////
                               COMMITTING
    //////////////////////////////////////////////////////////////*/

    function test_commitGraphResult() public {
        uint256 taskId = postGraphTask();
        bytes memory out = output40();
        bytes32 expected = naiveState(naiveTask(input784()), values, naiveByteCommitment(out));
        vm.expectEmit(address(registry));
        emit TaskRegistry.GraphResultCommitted(taskId, SERVER, expected, values, out, 0);
        commitGraph(taskId, SERVER, values);
        TaskRegistry.Task memory t = registry.task(taskId);
        vm.assertEq(t.finalState, expected, "final state = H(task, H(values, bc(output)))");
        vm.assertEq(
            registry.graphFinalState(t.inputCommitment, values, out), expected, "the view agrees"
        );
        vm.assertEq(t.server, SERVER, "server");
        vm.assertEq(t.committedAt, block.timestamp, "committed at");
        vm.assertEq(uint256(t.status), uint256(TaskRegistry.TaskStatus.Committed), "committed");
        vm.assertEq(registry.outputOf(taskId), out, "output");
        vm.assertEq(address(registry).balance, FEE + SERVER_BOND, "fee and bond held");
        vm.expectRevert(
            abi.encodeWithSelector(
                TaskRegistry.WrongStatus.selector,
                TaskRegistry.TaskStatus.Open,
                TaskRegistry.TaskStatus.Committed
            )
        );
        vm.prank(SERVER);
        registry.commitGraphResult{value: SERVER_BOND}(taskId, values, out);
    }

    function test_commitGraphResultChecks() public {
        uint256 taskId = postGraphTask();
        bytes memory out = output40();
        vm.expectRevert(abi.encodeWithSelector(TaskRegistry.NoSuchTask.selector, 1));
        registry.commitGraphResult{value: SERVER_BOND}(1, values, out);
        vm.expectRevert(abi.encodeWithSelector(TaskRegistry.WrongBond.selector, 0, SERVER_BOND));
        registry.commitGraphResult(taskId, values, out);
        uint64 deadline = registry.task(taskId).deadline;
        vm.warp(deadline + 1);
        vm.expectRevert(abi.encodeWithSelector(TaskRegistry.DeadlinePassed.selector, deadline));
        registry.commitGraphResult{value: SERVER_BOND}(taskId, values, out);
        vm.warp(deadline);
        registry.commitGraphResult{value: SERVER_BOND}(taskId, values, out);
    }

    /// @dev Each commitment serves its own kind only.
    function test_wrongKindCommitsRefused() public {
        uint256 graphTask = postGraphTask();
        uint256 vmTask = registry.postTask(
            keccak256("a program"), bytes32(0), HEIGHTS, uint64(block.timestamp + 1 days)
        );
        bytes memory out = output40();
        bytes memory state = new bytes(C.STATE_LEN);
        vm.expectRevert(
            abi.encodeWithSelector(
                TaskRegistry.WrongKind.selector,
                TaskRegistry.TaskKind.Vm,
                TaskRegistry.TaskKind.Graph
            )
        );
        registry.commitResult{value: SERVER_BOND}(graphTask, state, out);
        vm.expectRevert(
            abi.encodeWithSelector(
                TaskRegistry.WrongKind.selector,
                TaskRegistry.TaskKind.Graph,
                TaskRegistry.TaskKind.Vm
            )
        );
        registry.commitGraphResult{value: SERVER_BOND}(vmTask, values, out);
    }

    /*//////////////////////////////////////////////////////////////
                                DISPUTES
    //////////////////////////////////////////////////////////////*/

    /// @dev `who`'s top-phase leaves C(1..4): the true ones (`seed` 0) or made up from leaf
    /// `from` on; the last one is `end`.
    function leaves(uint256 seed, uint256 from, bytes32 end)
        internal
        pure
        returns (bytes32[] memory l)
    {
        l = new bytes32[](4);
        for (uint256 i = 0; i < 3; ++i) {
            l[i] = keccak256(abi.encode("C", i, i >= from ? seed : 0));
        }
        l[3] = end;
    }

    function pairOf(bytes32 a, bytes32 b) internal pure returns (bytes32) {
        return keccak256(abi.encodePacked(a, b));
    }

    function rootOf(bytes32[] memory l) internal pure returns (bytes32) {
        return pairOf(pairOf(l[0], l[1]), pairOf(l[2], l[3]));
    }

    function lastProof(bytes32[] memory l) internal pure returns (bytes32[] memory p) {
        p = new bytes32[](2);
        p[0] = l[2];
        p[1] = pairOf(l[0], l[1]);
    }

    function none() internal pure returns (bytes32[] memory) {
        return new bytes32[](0);
    }

    /// @dev ALICE disputes with leaves that differ from the server's true ones at leaf 0.
    function challengeGraph(uint256 taskId) internal returns (uint256 gameId, bytes32[] memory l) {
        l = leaves(1, 0, keccak256("alice's end"));
        vm.prank(ALICE);
        gameId =
            registry.challenge{value: CHALLENGER_BOND}(taskId, "", rootOf(l), l[3], lastProof(l));
        paidIn += CHALLENGER_BOND;
    }

    /// @dev A step program's packed final state: exited 0 with the whole output `c`.
    function stepFinal(bytes32 c) internal pure returns (bytes memory s) {
        s = new bytes(C.STATE_LEN);
        s[C.STATUS] = bytes1(C.STATUS_EXITED);
        bytes32 acc = sha256(abi.encodePacked(bytes32(0), c));
        for (uint256 i = 0; i < 32; ++i) {
            s[C.OUTPUT_ACC + i] = acc[i];
        }
        s[C.OUTPUT_LEN + 3] = bytes1(uint8(32));
    }

    /// @dev The step program's start for coarse step `j` from `previous`, spelled out: the
    /// input `previous ‖ be64(j)` (40 bytes) committed as `opml_state::input` does.
    function stepStart(bytes32 previous, uint64 j) internal view returns (bytes32) {
        bytes32 tail = sha256(abi.encodePacked(uint32(8), bytes32(bytes8(j)), bytes32(0)));
        bytes32 link = sha256(abi.encodePacked(uint32(40), previous, tail));
        bytes memory s = bytes.concat(stepInitial);
        for (uint256 i = 0; i < 32; ++i) {
            s[C.INPUT_LINK + i] = link[i];
        }
        return sha256(s);
    }

    /// @dev A graph task's game starts from S(0) of its task word, over the round's claim,
    /// with its step program below a program-defined top phase.
    function test_challengeGraphTaskOpensAProgramGame() public {
        uint256 taskId = postGraphTask();
        commitGraph(taskId, SERVER, values);
        bytes32[] memory l = leaves(1, 0, keccak256("alice's end"));
        bytes memory initial = bytes.concat(stepInitial);
        vm.expectRevert(
            abi.encodeWithSelector(TaskRegistry.UnexpectedInitialState.selector, C.STATE_LEN)
        );
        vm.prank(ALICE);
        registry.challenge{value: CHALLENGER_BOND}(taskId, initial, rootOf(l), l[3], lastProof(l));

        vm.expectEmit(address(registry));
        emit TaskRegistry.Challenged(taskId, ALICE, 0, 0);
        (uint256 gameId,) = challengeGraph(taskId);
        DisputeGame.Game memory g = games.game(gameId);
        bytes32 task = naiveTask(input784());
        vm.assertEq(g.agreedState, naiveState(task, 0, 0), "start: S(0) = H(task, H(0, 0))");
        vm.assertEq(g.claimedEnd, registry.task(taskId).finalState, "claim");
        vm.assertEq(g.stepProgram, stepProgram, "step program");
        vm.assertEq(g.heights, HEIGHTS, "heights");
        vm.assertEq(g.strideLog2, 0, "the top phase counts coarse steps");
        vm.assertEq(g.claimant, SERVER, "claimant");
        vm.assertEq(g.challenger, ALICE, "challenger");
        vm.assertEq(g.challengerNode, rootOf(l), "challenger root");
        vm.assertEq(g.claimantClock, CLOCK, "clock");
        vm.assertEq(registry.task(taskId).openDisputes, 1, "open disputes");
    }

    /// @dev A whole game on a graph task: bisection of the coarse steps to C(1), descent into
    /// the step program's run from S(0) with j = 1, bisection of that run to its step, which
    /// nobody takes: the challenger on turn times out and the server wins. The task finalizes;
    /// the server takes its bond, the fee and the loser's bond.
    function test_graphDispute_serverWinsAfterDescent() public {
        uint256 taskId = postGraphTask();
        commitGraph(taskId, SERVER, values);
        bytes32 claim = registry.task(taskId).finalState;
        (uint256 gameId, bytes32[] memory a) = challengeGraph(taskId);
        bytes32[] memory s = leaves(0, 4, claim);
        vm.prank(SERVER);
        games.commitRoot(gameId, rootOf(s), lastProof(s));
        // Two levels of reveals; the left children differ both times.
        vm.prank(ALICE);
        games.reveal(gameId, pairOf(a[0], a[1]), pairOf(a[2], a[3]));
        vm.prank(SERVER);
        games.reveal(gameId, pairOf(s[0], s[1]), pairOf(s[2], s[3]));
        vm.prank(ALICE);
        games.reveal(gameId, a[0], a[1]);
        vm.prank(SERVER);
        games.reveal(gameId, s[0], s[1]);
        DisputeGame.Game memory g = games.game(gameId);
        vm.assertEq(uint256(g.stage), uint256(DisputeGame.Stage.Descent), "descent");
        vm.assertEq(g.position, 0, "coarse step 1 disputed");

        // Each side's step run: a shared first state, then its final state with its own C(1).
        bytes32 first = keccak256("the step program after one instruction");
        bytes memory aliceEnd = stepFinal(a[0]);
        bytes memory serverEnd = stepFinal(s[0]);
        bytes32[] memory proof = new bytes32[](1);
        proof[0] = first;
        // (Hashed before the pranks: a precompile call would take the prank.)
        bytes32 aliceLast = sha256(aliceEnd);
        bytes32 serverLast = sha256(serverEnd);
        bytes32 aliceChild = pairOf(first, aliceLast);
        bytes32 serverChild = pairOf(first, serverLast);
        bytes32 start = registry.graphStartState(registry.task(taskId).inputCommitment);
        vm.prank(ALICE);
        games.descendProgram(gameId, aliceChild, proof, none(), stepInitial, aliceEnd);
        vm.assertEq(
            games.game(gameId).agreedState,
            stepStart(start, 1),
            "the step program starts from S(0) and j = 1"
        );
        vm.prank(SERVER);
        games.descendProgram(gameId, serverChild, proof, none(), "", serverEnd);
        g = games.game(gameId);
        vm.assertEq(g.phase, 1, "VM phase");
        vm.assertEq(g.position, 0, "positions count the step program's instructions");
        vm.assertEq(g.programStep, 1, "the game names the disputed coarse step");
        vm.assertEq(g.claimantNode, serverChild, "server's child root");
        vm.prank(ALICE);
        games.reveal(gameId, first, aliceLast);
        vm.prank(SERVER);
        games.reveal(gameId, first, serverLast);
        vm.assertEq(uint256(games.game(gameId).stage), uint256(DisputeGame.Stage.Step), "step");

        vm.warp(block.timestamp + CLOCK);
        games.timeout(gameId);
        vm.assertEq(
            uint256(games.game(gameId).winner), uint256(DisputeGame.Party.Claimant), "server won"
        );
        vm.prank(STRANGER);
        registry.settleDispute(taskId, 0, ALICE);
        vm.expectEmit(address(registry));
        emit TaskRegistry.TaskFinalized(taskId);
        registry.finalize(taskId);
        vm.assertEq(registry.outputOf(taskId), output40(), "the verified output");
        vm.assertEq(
            registry.balanceOf(SERVER), SERVER_BOND + FEE + CHALLENGER_BOND, "server: all of it"
        );
        vm.assertEq(registry.balanceOf(ALICE), 0, "loser");
        withdrawAll();
        assertAllPaidOut();
    }

    /// @dev The lying server never answers: the challenger wins, the round is rejected and the
    /// bond split; an honest server commits in round 1 and the task finalizes with its output.
    function test_graphDispute_liarRejectedThenHonestServer() public {
        uint256 taskId = postGraphTask();
        commitGraph(taskId, SERVER, keccak256("wrong values"));
        (uint256 gameId,) = challengeGraph(taskId);
        vm.warp(block.timestamp + CLOCK);
        games.timeout(gameId);
        vm.prank(STRANGER);
        registry.settleDispute(taskId, 0, ALICE);
        TaskRegistry.Task memory t = registry.task(taskId);
        vm.assertEq(uint256(t.status), uint256(TaskRegistry.TaskStatus.Open), "reopened");
        vm.assertEq(t.round, 1, "round 1");
        vm.assertEq(uint256(t.kind), uint256(TaskRegistry.TaskKind.Graph), "still a graph task");
        registry.collect(taskId, 0, ALICE);

        bytes32 honestClaim = registry.graphFinalState(t.inputCommitment, values, output40());
        vm.expectEmit(address(registry));
        emit TaskRegistry.GraphResultCommitted(taskId, HONEST, honestClaim, values, output40(), 1);
        commitGraph(taskId, HONEST, values);
        vm.warp(block.timestamp + WINDOW + 1);
        registry.finalize(taskId);
        vm.assertEq(registry.outputOf(taskId), output40(), "verified output");
        vm.assertEq(registry.balanceOf(ALICE), CHALLENGER_BOND + POOL, "winner");
        vm.assertEq(registry.balanceOf(REQUESTER), TO_REQUESTER, "compensation");
        vm.assertEq(registry.balanceOf(HONEST), SERVER_BOND + FEE, "honest server");
        vm.assertEq(registry.balanceOf(SERVER), 0, "liar");
        vm.assertEq(registry.burned(), TO_BURN, "burned");
        withdrawAll();
        assertAllPaidOut();
    }
}
