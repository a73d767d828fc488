// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {TestBase} from "./utils/Vm.sol";
import {RiscvStep} from "../src/RiscvStep.sol";
import {DisputeGame} from "../src/DisputeGame.sol";

/// @notice DisputeGame: whole games over 1-, 2- and 3-phase configurations that end in a REAL
/// step (the `sw` vector of `test/vectors/steps.json`), with the honest side winning whichever
/// side it is and wherever the traces diverge; every custom error; the chess clocks.
/// @dev Note: a test sets two traces `S(0) .. S(2^total)` (state hashes) that agree up to step
/// `b`, where `S(b)` is the vector's pre-state hash, and differ from `b + 1` on, where the
/// honest side's `S(b + 1)` is the vector's post-state hash. The driver (`move`) then plays the
/// side on turn honestly from its own trace, reading the position, height and stride from the
/// game record, so a test only says where it deviates. History trees are built here in plain
/// Solidity: node = keccak256(left ‖ right), leaves `S(a + s), .., S(a + 2^h s)`.
contract DisputeGameTest is TestBase {
    using Pack for uint8[];

    uint64 internal constant CLOCK = 1000;
    address internal constant CLAIMANT = address(0xC1A1);
    address internal constant CHALLENGER = address(0xC4A1);
    address internal constant STRANGER = address(0x5742);
    /// @dev The vector whose real step ends every game (a store: it carries memory proofs).
    string internal constant STEP_VECTOR = "sw";

    RiscvStep internal verifier;
    DisputeGame internal game;

    bytes internal stepState;
    bytes internal stepProof;
    bytes32 internal preHash;
    bytes32 internal postHash;
    /// @dev A packed state other than the step's pre-state.
    bytes internal otherState;

    /// @dev The game configuration and each side's trace of the current test.
    bytes32 internal heights;
    mapping(DisputeGame.Party => bytes32[]) internal traceOf;

    function setUp() public {
        verifier = new RiscvStep();
        game = new DisputeGame(verifier);
        string memory json = vm.readFile("test/vectors/steps.json");
        string[] memory names = vm.parseJsonStringArray(json, ".names");
        bytes[] memory states = vm.parseJsonBytesArray(json, ".stateData");
        bytes[] memory proofs = vm.parseJsonBytesArray(json, ".proofs");
        bytes32[] memory posts = vm.parseJsonBytes32Array(json, ".posts");
        for (uint256 i = 0; i < names.length; ++i) {
            if (keccak256(bytes(names[i])) == keccak256(bytes(STEP_VECTOR))) {
                stepState = states[i];
                stepProof = proofs[i];
                postHash = posts[i];
                otherState = states[i == 0 ? 1 : 0];
            }
        }
        require(stepProof.length != 0, "step vector missing");
        preHash = sha256(stepState);
        // The step is real: the verifier turns the pre-state into the post-state.
        require(verifier.step(stepState, stepProof) == postHash, "vector");
    }

    /*//////////////////////////////////////////////////////////////
                          CONFIGURATIONS, TRACES
    //////////////////////////////////////////////////////////////*/

    function h1(uint8 a) internal pure returns (bytes32) {
        uint8[] memory hs = new uint8[](1);
        hs[0] = a;
        return hs.pack();
    }

    function h2(uint8 a, uint8 b) internal pure returns (bytes32) {
        uint8[] memory hs = new uint8[](2);
        (hs[0], hs[1]) = (a, b);
        return hs.pack();
    }

    function h3(uint8 a, uint8 b, uint8 c) internal pure returns (bytes32) {
        uint8[] memory hs = new uint8[](3);
        (hs[0], hs[1], hs[2]) = (a, b, c);
        return hs.pack();
    }

    /// @dev Sets both traces over `heights_`: agreed up to `b`, `S(b)` the step's pre-state;
    /// from `b + 1` each side has its own states, the real post-state at `b + 1` for the honest
    /// side(s) only.
    function setTraces(bytes32 heights_, uint256 b, bool claimantHonest, bool challengerHonest)
        internal
    {
        heights = heights_;
        (, uint256 total) = game.checkHeights(heights_, false);
        setTrace(DisputeGame.Party.Claimant, 1 << total, b, claimantHonest);
        setTrace(DisputeGame.Party.Challenger, 1 << total, b, challengerHonest);
    }

    function setTrace(DisputeGame.Party party, uint256 steps, uint256 b, bool honest) internal {
        bytes32[] storage s = traceOf[party];
        delete traceOf[party];
        for (uint256 i = 0; i <= steps; ++i) {
            if (i < b) s.push(keccak256(abi.encode("agreed", i)));
            else if (i == b) s.push(preHash);
            else if (i == b + 1 && honest) s.push(postHash);
            else s.push(keccak256(abi.encode("own", party, i)));
        }
    }

    /// @dev Traces where `honest` is right and the other side wrong.
    function setTraces(bytes32 heights_, uint256 b, DisputeGame.Party honest) internal {
        setTraces(
            heights_,
            b,
            honest == DisputeGame.Party.Claimant,
            honest == DisputeGame.Party.Challenger
        );
    }

    /*//////////////////////////////////////////////////////////////
                              HISTORY TREES
    //////////////////////////////////////////////////////////////*/

    /// @dev Root of the tree of the 2^height leaves S(a + s), .., S(a + 2^height s), s = 2^sl.
    function nodeOf(bytes32[] memory s, uint256 a, uint256 sl, uint256 height)
        internal
        pure
        returns (bytes32)
    {
        if (height == 0) return s[a + (1 << sl)];
        uint256 half = 1 << (height - 1 + sl);
        return keccak256(
            abi.encodePacked(nodeOf(s, a, sl, height - 1), nodeOf(s, a + half, sl, height - 1))
        );
    }

    /// @dev The left siblings of the last leaf of that tree, bottom up.
    function lastLeafProof(bytes32[] memory s, uint256 a, uint256 sl, uint256 height)
        internal
        pure
        returns (bytes32[] memory p)
    {
        p = new bytes32[](height);
        uint256 end = a + (1 << (height + sl));
        for (uint256 i = 0; i < height; ++i) {
            p[i] = nodeOf(s, end - (2 << (i + sl)), sl, i);
        }
    }

    /// @dev What `_checkLastLeaf` computes from `leaf` and `siblings`.
    function fold(bytes32 leaf, bytes32[] memory siblings) internal pure returns (bytes32 node) {
        node = leaf;
        for (uint256 i = 0; i < siblings.length; ++i) {
            node = keccak256(abi.encodePacked(siblings[i], node));
        }
    }

    /// @dev The agreed-state proof `[S(position), siblings..]` due in game state `g` (empty
    /// when nothing is pending).
    function agreedProof(bytes32[] memory s, DisputeGame.Game memory g)
        internal
        pure
        returns (bytes32[] memory p)
    {
        if (!g.agreedPending) return p;
        uint256 h = g.agreedLeftHeight;
        bytes32[] memory siblings =
            lastLeafProof(s, g.position - (1 << (h + g.strideLog2)), g.strideLog2, h);
        p = new bytes32[](h + 1);
        p[0] = s[g.position];
        for (uint256 i = 0; i < h; ++i) {
            p[i + 1] = siblings[i];
        }
    }

    function none() internal pure returns (bytes32[] memory) {
        return new bytes32[](0);
    }

    /*//////////////////////////////////////////////////////////////
                                 DRIVER
    //////////////////////////////////////////////////////////////*/

    function params() internal view returns (DisputeGame.Params memory) {
        bytes32[] storage cl = traceOf[DisputeGame.Party.Claimant];
        return DisputeGame.Params({
            claimant: CLAIMANT,
            challenger: CHALLENGER,
            startState: cl[0],
            claimedEnd: cl[cl.length - 1],
            heights: heights,
            clock: CLOCK,
            stepProgram: bytes32(0)
        });
    }

    /// @dev Creates the game of the current traces, with the challenger's top root.
    function create() internal returns (uint256 id) {
        (, uint256 total) = game.checkHeights(heights, false);
        uint256 top = uint8(heights[0]);
        bytes32[] memory ch = traceOf[DisputeGame.Party.Challenger];
        id = game.create(
            params(),
            nodeOf(ch, 0, total - top, top),
            ch[ch.length - 1],
            lastLeafProof(ch, 0, total - top, top)
        );
    }

    function g_(uint256 id) internal view returns (DisputeGame.Game memory) {
        return game.game(id);
    }

    function addressOf(DisputeGame.Party party) internal pure returns (address) {
        return party == DisputeGame.Party.Claimant ? CLAIMANT : CHALLENGER;
    }

    /// @dev The children of the mover's current node.
    function children(bytes32[] memory s, DisputeGame.Game memory g)
        internal
        pure
        returns (bytes32 left, bytes32 right)
    {
        uint256 h = g.height - 1;
        left = nodeOf(s, g.position, g.strideLog2, h);
        right = nodeOf(s, g.position + (1 << (h + g.strideLog2)), g.strideLog2, h);
    }

    /// @dev The mover's child root and its last-leaf proof at a descent.
    function childRoot(bytes32[] memory s, DisputeGame.Game memory g)
        internal
        pure
        returns (bytes32 root, bytes32[] memory proof)
    {
        uint256 ch = uint8(g.heights[g.phase + 1]);
        uint256 sl = g.strideLog2 - ch;
        return (nodeOf(s, g.position, sl, ch), lastLeafProof(s, g.position, sl, ch));
    }

    /// @dev One honest move of the side on turn, from its own trace.
    function move(uint256 id) internal {
        DisputeGame.Game memory g = g_(id);
        bytes32[] memory s = traceOf[g.turn];
        address mover = addressOf(g.turn);
        if (g.stage == DisputeGame.Stage.ClaimantRoot) {
            bytes32 root = nodeOf(s, 0, g.strideLog2, g.height);
            bytes32[] memory proof = lastLeafProof(s, 0, g.strideLog2, g.height);
            vm.prank(mover);
            game.commitRoot(id, root, proof);
        } else if (g.stage == DisputeGame.Stage.Bisection) {
            (bytes32 left, bytes32 right) = children(s, g);
            vm.prank(mover);
            game.reveal(id, left, right);
        } else if (g.stage == DisputeGame.Stage.Descent) {
            (bytes32 root, bytes32[] memory proof) = childRoot(s, g);
            bytes32[] memory agreed =
                g.turn == DisputeGame.Party.Challenger ? agreedProof(s, g) : none();
            vm.prank(mover);
            game.descend(id, root, proof, agreed);
        } else {
            revert("no move in this stage");
        }
    }

    /// @dev Plays honest moves until the game waits in `stage`.
    function playUntil(uint256 id, DisputeGame.Stage stage) internal {
        for (uint256 i = 0; g_(id).stage != stage; ++i) {
            require(i < 200, "game does not reach the stage");
            move(id);
        }
    }

    /// @dev A stranger executes the step (with the agreed proof when due).
    function step(uint256 id) internal {
        bytes32[] memory agreed = agreedProof(traceOf[DisputeGame.Party.Claimant], g_(id));
        vm.prank(STRANGER);
        game.step(id, stepState, stepProof, agreed);
    }

    /// @dev A stranger resolves by timeout.
    function timeout(uint256 id) internal {
        vm.prank(STRANGER);
        game.timeout(id);
    }

    function warpBy(uint256 secs) internal {
        vm.warp(block.timestamp + secs);
    }

    /*//////////////////////////////////////////////////////////////
                               ASSERTIONS
    //////////////////////////////////////////////////////////////*/

    function assertResolved(uint256 id, DisputeGame.Party winner) internal view {
        DisputeGame.Game memory g = g_(id);
        vm.assertEq(uint256(g.stage), uint256(DisputeGame.Stage.Resolved), "stage");
        vm.assertEq(uint256(g.winner), uint256(winner), "winner");
        vm.assertEq(uint256(g.turn), uint256(DisputeGame.Party.None), "turn");
    }

    /// @dev Plays the game of the current traces to the step and checks where it stopped, the
    /// step's events and the verdict `winner`.
    function playAndStep(uint256 b, DisputeGame.Party winner) internal returns (uint256 id) {
        id = create();
        playUntil(id, DisputeGame.Stage.Step);
        DisputeGame.Game memory g = g_(id);
        vm.assertEq(g.position, b, "position of the disputed step");
        vm.assertEq(g.strideLog2, 0, "last phase has stride 1");
        vm.assertEq(g.height, 0, "height at the step");
        vm.assertEq(g.claimantNode, traceOf[DisputeGame.Party.Claimant][b + 1], "claimant leaf");
        vm.assertEq(
            g.challengerNode, traceOf[DisputeGame.Party.Challenger][b + 1], "challenger leaf"
        );
        if (g.agreedPending) {
            vm.expectEmit(address(game));
            emit DisputeGame.AgreedStateProven(id, uint64(b), preHash);
        } else {
            vm.assertEq(g.agreedState, preHash, "agreed state known before the step");
        }
        vm.expectEmit(address(game));
        emit DisputeGame.StepVerified(id, uint64(b), preHash, postHash);
        vm.expectEmit(address(game));
        emit DisputeGame.Resolved(id, winner, DisputeGame.Reason.Step);
        step(id);
        assertResolved(id, winner);
        vm.assertEq(g_(id).agreedState, preHash, "agreed state after the step");
    }

    /*//////////////////////////////////////////////////////////////
                             WHOLE GAMES
    //////////////////////////////////////////////////////////////*/

    /// @dev k = 1, divergence at the first step: the start state is the agreed state.
    function test_onePhase_firstStep_claimantWins() public {
        setTraces(h1(2), 0, DisputeGame.Party.Claimant);
        uint256 id = create();
        vm.assertEq(g_(id).agreedState, preHash, "start state");
        playUntil(id, DisputeGame.Stage.Step);
        vm.assertTrue(!g_(id).agreedPending, "no agreed proof needed at b = 0");
        playAndStepAgain(id, 0, DisputeGame.Party.Claimant);
    }

    /// @dev Finishes a game already at its step (as `playAndStep`, for games created by hand).
    function playAndStepAgain(uint256 id, uint256 b, DisputeGame.Party winner) internal {
        vm.assertEq(g_(id).position, b, "position");
        vm.expectEmit(address(game));
        emit DisputeGame.StepVerified(id, uint64(b), preHash, postHash);
        vm.expectEmit(address(game));
        emit DisputeGame.Resolved(id, winner, DisputeGame.Reason.Step);
        step(id);
        assertResolved(id, winner);
    }

    /// @dev k = 1, divergence in the middle: the agreed state S(2) is the last leaf of the
    /// agreed left subtree, proven with the step.
    function test_onePhase_middle_challengerWins() public {
        setTraces(h1(2), 2, DisputeGame.Party.Challenger);
        uint256 id = create();
        playUntil(id, DisputeGame.Stage.Step);
        vm.assertTrue(g_(id).agreedPending, "agreed state pending at the step");
        vm.assertEq(g_(id).agreedLeftHeight, 1, "agreed subtree height");
        playAndStepAgain(id, 2, DisputeGame.Party.Challenger);
        vm.assertEq(g_(id).agreedState, preHash, "agreed state proven");
    }

    /// @dev k = 1, divergence at the last leaf (the claimed end itself).
    function test_onePhase_lastLeaf_claimantWins() public {
        setTraces(h1(2), 3, DisputeGame.Party.Claimant);
        playAndStep(3, DisputeGame.Party.Claimant);
    }

    /// @dev k = 2: the agreed state S(4) is pending at the descent and proven by the challenger
    /// there; the child phase ends at S(5) -> S(6).
    function test_twoPhases_agreedProofAtDescent_claimantWins() public {
        setTraces(h2(2, 1), 5, DisputeGame.Party.Claimant);
        uint256 id = create();
        playUntil(id, DisputeGame.Stage.Descent);
        DisputeGame.Game memory g = g_(id);
        vm.assertTrue(g.agreedPending, "pending at the descent");
        vm.assertEq(g.position, 4, "coarse step from 4");
        bytes32[] memory ch = traceOf[DisputeGame.Party.Challenger];
        (bytes32 root,) = childRoot(ch, g);
        vm.expectEmit(address(game));
        emit DisputeGame.AgreedStateProven(id, 4, ch[4]);
        vm.expectEmit(address(game));
        emit DisputeGame.RootPosted(id, DisputeGame.Party.Challenger, 1, 4, root);
        move(id);
        vm.assertTrue(!g_(id).agreedPending, "proven");
        vm.assertEq(g_(id).agreedState, ch[4], "agreed S(4)");
        move(id); // the claimant's descent
        g = g_(id);
        vm.assertEq(g.phase, 1, "phase");
        vm.assertEq(g.strideLog2, 0, "stride");
        vm.assertEq(uint256(g.stage), uint256(DisputeGame.Stage.Bisection), "bisection");
        playUntil(id, DisputeGame.Stage.Step);
        playAndStepAgain(id, 5, DisputeGame.Party.Claimant);
    }

    /// @dev k = 3, divergence at the first step.
    function test_threePhases_firstStep_challengerWins() public {
        setTraces(h3(1, 2, 1), 0, DisputeGame.Party.Challenger);
        playAndStep(0, DisputeGame.Party.Challenger);
    }

    /// @dev k = 3, divergence in the middle of every phase's range.
    function test_threePhases_middle_claimantWins() public {
        setTraces(h3(1, 2, 1), 10, DisputeGame.Party.Claimant);
        playAndStep(10, DisputeGame.Party.Claimant);
    }

    /// @dev k = 3, divergence at the very last step.
    function test_threePhases_lastLeaf_challengerWins() public {
        setTraces(h3(1, 2, 1), 15, DisputeGame.Party.Challenger);
        playAndStep(15, DisputeGame.Party.Challenger);
    }

    /// @dev Every divergence point of every configuration, with either side honest.
    function test_everyDivergencePoint_honestSideWins() public {
        bytes32[4] memory configs = [h1(2), h2(2, 1), h2(1, 2), h3(1, 2, 1)];
        for (uint256 c = 0; c < configs.length; ++c) {
            (, uint256 total) = game.checkHeights(configs[c], false);
            for (uint256 b = 0; b < 1 << total; ++b) {
                setTraces(configs[c], b, DisputeGame.Party.Claimant);
                playAndStep(b, DisputeGame.Party.Claimant);
                setTraces(configs[c], b, DisputeGame.Party.Challenger);
                playAndStep(b, DisputeGame.Party.Challenger);
            }
        }
        vm.assertEq(game.gameCount(), 2 * (4 + 8 + 8 + 16), "games played");
    }

    /// @dev If neither side's S(b + 1) is the real post-state, the claimant loses.
    function test_neitherMatches_claimantLoses() public {
        setTraces(h2(1, 2), 3, false, false);
        playAndStep(3, DisputeGame.Party.Challenger);
    }

    /// @dev The events of creation, roots, reveals, bisection and descent.
    function test_moveEvents() public {
        setTraces(h2(1, 1), 2, DisputeGame.Party.Claimant);
        bytes32[] memory cl = traceOf[DisputeGame.Party.Claimant];
        bytes32[] memory ch = traceOf[DisputeGame.Party.Challenger];
        bytes32 chRoot = nodeOf(ch, 0, 1, 1);
        vm.expectEmit(address(game));
        emit DisputeGame.GameCreated(
            0, address(this), CLAIMANT, CHALLENGER, cl[0], cl[4], heights, CLOCK
        );
        vm.expectEmit(address(game));
        emit DisputeGame.RootPosted(0, DisputeGame.Party.Challenger, 0, 0, chRoot);
        uint256 id = create();
        vm.assertEq(id, 0, "first id");

        vm.expectEmit(address(game));
        emit DisputeGame.RootPosted(id, DisputeGame.Party.Claimant, 0, 0, nodeOf(cl, 0, 1, 1));
        move(id);
        // Challenger reveals (S(2), S(4)); claimant (S(2), S(4)'): left agrees, go right.
        vm.expectEmit(address(game));
        emit DisputeGame.Revealed(id, DisputeGame.Party.Challenger, ch[2], ch[4]);
        move(id);
        vm.expectEmit(address(game));
        emit DisputeGame.Revealed(id, DisputeGame.Party.Claimant, cl[2], cl[4]);
        vm.expectEmit(address(game));
        emit DisputeGame.Bisected(id, 0, 0, 2, true);
        move(id);
        vm.assertEq(uint256(g_(id).stage), uint256(DisputeGame.Stage.Descent), "descent");
        vm.assertEq(g_(id).agreedState, cl[2], "agreed leaf taken from the reveal");
        move(id);
        vm.expectEmit(address(game));
        emit DisputeGame.RootPosted(
            id, DisputeGame.Party.Claimant, 1, 2, keccak256(abi.encodePacked(cl[3], cl[4]))
        );
        move(id);
        // Child phase: (S(3), S(4)) on both sides; S(3) differs: go left.
        move(id);
        vm.expectEmit(address(game));
        emit DisputeGame.Bisected(id, 1, 0, 2, false);
        move(id);
        playAndStepAgain(id, 2, DisputeGame.Party.Claimant);
    }

    /*//////////////////////////////////////////////////////////////
                                 CLOCKS
    //////////////////////////////////////////////////////////////*/

    /// @dev Each side's clock runs only during its own turns.
    function test_clocksChargeOnlyTheSideOnTurn() public {
        setTraces(h1(2), 0, DisputeGame.Party.Claimant);
        uint256 id = create();
        warpBy(100);
        vm.assertEq(game.clockLeft(id), CLOCK - 100, "claimant's clock runs");
        move(id); // claimant: 100 s
        warpBy(30);
        vm.assertEq(game.clockLeft(id), CLOCK - 30, "challenger's clock runs");
        move(id); // challenger: 30 s
        warpBy(50);
        move(id); // claimant: 50 s
        warpBy(7);
        move(id); // challenger: 7 s
        DisputeGame.Game memory g = g_(id);
        vm.assertEq(g.claimantClock, CLOCK - 150, "claimant charged 100 + 50");
        vm.assertEq(g.challengerClock, CLOCK - 37, "challenger charged 30 + 7");
        vm.assertEq(g.turnStart, block.timestamp, "turn start");
        vm.assertEq(uint256(g.turn), uint256(DisputeGame.Party.Claimant), "claimant's turn");
    }

    /// @dev A side that answers after 90% of its clock, and at the last second after that, is
    /// still in time and wins.
    function test_lateAnswerIsInTimeAndWins() public {
        setTraces(h1(2), 1, DisputeGame.Party.Claimant);
        uint256 id = create();
        warpBy(900);
        move(id); // claimant, after 90% of its clock
        while (g_(id).stage != DisputeGame.Stage.Step) {
            if (g_(id).turn == DisputeGame.Party.Claimant) warpBy(game.clockLeft(id) - 1);
            move(id);
        }
        vm.assertEq(g_(id).claimantClock, 1, "claimant used all but one second");
        vm.assertEq(g_(id).challengerClock, CLOCK, "challenger answered at once");
        playAndStepAgain(id, 1, DisputeGame.Party.Claimant);
    }

    /// @dev The claimant never posts its root: the challenger wins by timeout.
    function test_silentClaimantLosesByTimeout() public {
        setTraces(h1(2), 0, DisputeGame.Party.Claimant);
        uint256 id = create();
        warpBy(CLOCK - 1);
        vm.expectRevert(
            abi.encodeWithSelector(DisputeGame.ClockRunning.selector, DisputeGame.Party.Claimant, 1)
        );
        timeout(id);
        warpBy(1);
        vm.assertEq(game.clockLeft(id), 0, "clock out");
        vm.expectEmit(address(game));
        emit DisputeGame.Resolved(id, DisputeGame.Party.Challenger, DisputeGame.Reason.Timeout);
        timeout(id);
        assertResolved(id, DisputeGame.Party.Challenger);
    }

    /// @dev The challenger stops revealing in the middle of a 3-phase game: the claimant wins.
    function test_silentChallengerLosesByTimeout() public {
        setTraces(h3(1, 2, 1), 6, DisputeGame.Party.Claimant);
        uint256 id = create();
        playUntil(id, DisputeGame.Stage.Descent);
        move(id); // challenger descends
        move(id); // claimant descends
        vm.assertEq(g_(id).phase, 1, "middle phase");
        warpBy(400);
        move(id); // challenger reveals, 400 s
        move(id); // claimant reveals
        warpBy(CLOCK - 400);
        vm.expectEmit(address(game));
        emit DisputeGame.Resolved(id, DisputeGame.Party.Claimant, DisputeGame.Reason.Timeout);
        timeout(id);
        assertResolved(id, DisputeGame.Party.Claimant);
    }

    /// @dev Nobody executes the step: the challenger, on turn, runs out of time.
    function test_nobodySteps_challengerLosesByTimeout() public {
        setTraces(h1(1), 0, DisputeGame.Party.Challenger);
        uint256 id = create();
        playUntil(id, DisputeGame.Stage.Step);
        vm.assertEq(uint256(g_(id).turn), uint256(DisputeGame.Party.Challenger), "on turn");
        warpBy(CLOCK);
        timeout(id);
        assertResolved(id, DisputeGame.Party.Claimant);
    }

    /// @dev A move at the instant the mover's clock reaches zero is too late.
    function test_moveAtZeroClockReverts() public {
        setTraces(h1(2), 0, DisputeGame.Party.Claimant);
        uint256 id = create();
        warpBy(CLOCK);
        bytes32[] memory cl = traceOf[DisputeGame.Party.Claimant];
        bytes32 root = nodeOf(cl, 0, 0, 2);
        bytes32[] memory proof = lastLeafProof(cl, 0, 0, 2);
        vm.expectRevert(
            abi.encodeWithSelector(DisputeGame.ClockExpired.selector, DisputeGame.Party.Claimant)
        );
        vm.prank(CLAIMANT);
        game.commitRoot(id, root, proof);
    }

    /// @dev The step charges the challenger (on turn): once its clock is out, even the claimant
    /// cannot step, only resolve by timeout.
    function test_stepAfterChallengerClockReverts() public {
        setTraces(h1(1), 0, DisputeGame.Party.Challenger);
        uint256 id = create();
        playUntil(id, DisputeGame.Stage.Step);
        warpBy(CLOCK);
        vm.expectRevert(
            abi.encodeWithSelector(DisputeGame.ClockExpired.selector, DisputeGame.Party.Challenger)
        );
        vm.prank(CLAIMANT);
        game.step(id, stepState, stepProof, none());
        timeout(id);
        assertResolved(id, DisputeGame.Party.Claimant);
    }

    /*//////////////////////////////////////////////////////////////
                            CREATION ERRORS
    //////////////////////////////////////////////////////////////*/

    function expectBadHeights(bytes32 h) internal {
        setTraces(h1(1), 0, DisputeGame.Party.Claimant);
        DisputeGame.Params memory p = params();
        p.heights = h;
        vm.expectRevert(abi.encodeWithSelector(DisputeGame.BadHeights.selector, h));
        game.create(p, bytes32(0), bytes32(uint256(1)), none());
    }

    function test_badHeights() public {
        expectBadHeights(bytes32(0)); // zero phases
        expectBadHeights(h1(25)); // a phase above 24
        expectBadHeights(h1(32)); // the old cap
        expectBadHeights(h2(24, 17)); // sum 41
        expectBadHeights(h3(24, 24, 1)); // sum 49, each phase within its cap
        expectBadHeights(h3(2, 0, 1)); // a non-zero byte after a zero
        expectBadHeights(bytes32(uint256(1))); // only the last byte set
        uint8[] memory nine = new uint8[](9);
        for (uint256 i = 0; i < 9; ++i) {
            nine[i] = 1;
        }
        expectBadHeights(nine.pack()); // 9 phases
    }

    function test_checkHeightsAcceptsTheLimits() public view {
        vm.assertEq(game.MAX_PHASE_HEIGHT(), 24, "phase cap");
        vm.assertEq(game.MAX_TOTAL_HEIGHT(), 40, "total cap");
        (uint256 k, uint256 total) = game.checkHeights(h2(24, 16), false);
        vm.assertEq(k, 2, "k");
        vm.assertEq(total, 40, "total");
        (k, total) = game.checkHeights(h1(24), false);
        vm.assertEq(total, 24, "one phase at the cap");
        uint8[] memory eight = new uint8[](8);
        for (uint256 i = 0; i < 8; ++i) {
            eight[i] = 5;
        }
        (k, total) = game.checkHeights(eight.pack(), false);
        vm.assertEq(k, 8, "eight phases");
        vm.assertEq(total, 40, "eight phases total");
    }

    /// @dev Over a program-defined top phase, computed natively, the heights may add up to 44;
    /// the VM phases below it still to 40 at most, and there must be one.
    function test_programDefinedHeights() public {
        vm.assertEq(game.MAX_PROGRAM_TOTAL_HEIGHT(), 44, "program-defined cap");
        (uint256 k, uint256 total) = game.checkHeights(h3(24, 16, 4), true);
        vm.assertEq(k, 3, "k");
        vm.assertEq(total, 44, "the cap");
        (, total) = game.checkHeights(h3(4, 20, 20), true);
        vm.assertEq(total, 44, "the VM phases at their cap");
        bytes32[4] memory bad = [h3(24, 17, 4), h3(3, 20, 21), h1(25), h3(2, 0, 1)];
        for (uint256 i = 0; i < bad.length; ++i) {
            vm.expectRevert(abi.encodeWithSelector(DisputeGame.BadHeights.selector, bad[i]));
            game.checkHeights(bad[i], true);
        }
        // Refused for a VM trace: 44 levels of VM steps.
        vm.expectRevert(abi.encodeWithSelector(DisputeGame.BadHeights.selector, h3(24, 16, 4)));
        game.checkHeights(h3(24, 16, 4), false);
        vm.expectRevert(abi.encodeWithSelector(DisputeGame.ProgramPhaseAlone.selector, h1(24)));
        game.checkHeights(h1(24), true);
    }

    /// @dev A program-defined top phase needs a VM phase below it; with one it is accepted.
    function test_programPhaseNeedsAChild() public {
        setTraces(h1(1), 0, DisputeGame.Party.Claimant);
        DisputeGame.Params memory p = params();
        p.heights = h1(2);
        p.stepProgram = keccak256("a step program");
        vm.expectRevert(abi.encodeWithSelector(DisputeGame.ProgramPhaseAlone.selector, p.heights));
        game.create(p, bytes32(0), bytes32(uint256(1)), none());
        // The same heights without a step program, or two phases with one, pass this check
        // (and fail later, on the dummy root's proof, with another error).
        p.heights = h2(1, 1);
        vm.expectRevert(abi.encodeWithSelector(DisputeGame.ProofLength.selector, 0, 1));
        game.create(p, bytes32(0), bytes32(uint256(1)), none());
    }

    function expectBadParams(DisputeGame.Params memory p) internal {
        vm.expectRevert(DisputeGame.BadParams.selector);
        game.create(p, bytes32(0), bytes32(uint256(1)), none());
    }

    function test_badParams() public {
        setTraces(h1(1), 0, DisputeGame.Party.Claimant);
        DisputeGame.Params memory p = params();
        p.challenger = CLAIMANT;
        expectBadParams(p);
        p = params();
        p.claimant = address(0);
        expectBadParams(p);
        p = params();
        p.challenger = address(0);
        expectBadParams(p);
        p = params();
        p.clock = 0;
        expectBadParams(p);
    }

    /// @dev The challenger's end equals the claim: nothing to dispute.
    function test_endNotDisputed() public {
        setTraces(h1(2), 0, DisputeGame.Party.Claimant);
        bytes32[] memory cl = traceOf[DisputeGame.Party.Claimant];
        bytes32 root = nodeOf(cl, 0, 0, 2);
        bytes32[] memory proof = lastLeafProof(cl, 0, 0, 2);
        vm.expectRevert(DisputeGame.EndNotDisputed.selector);
        game.create(params(), root, cl[4], proof);
    }

    /// @dev The challenger's end proof has the wrong length or does not lead to its root.
    function test_createChecksTheEndProof() public {
        setTraces(h1(2), 0, DisputeGame.Party.Claimant);
        bytes32[] memory ch = traceOf[DisputeGame.Party.Challenger];
        bytes32 root = nodeOf(ch, 0, 0, 2);
        bytes32[] memory proof = lastLeafProof(ch, 0, 0, 1);
        vm.expectRevert(abi.encodeWithSelector(DisputeGame.ProofLength.selector, 1, 2));
        game.create(params(), root, ch[4], proof);
        proof = lastLeafProof(ch, 0, 0, 2);
        bytes32 forged = keccak256("forged end");
        vm.expectRevert(
            abi.encodeWithSelector(DisputeGame.NodeMismatch.selector, fold(forged, proof), root)
        );
        game.create(params(), root, forged, proof);
    }

    /*//////////////////////////////////////////////////////////////
                              MOVE ERRORS
    //////////////////////////////////////////////////////////////*/

    function test_noSuchGame() public {
        uint256 id = 7;
        bytes32[] memory empty = none();
        bytes memory err = abi.encodeWithSelector(DisputeGame.NoSuchGame.selector, id);
        vm.expectRevert(err);
        game.commitRoot(id, bytes32(0), empty);
        vm.expectRevert(err);
        game.reveal(id, bytes32(0), bytes32(0));
        vm.expectRevert(err);
        game.descend(id, bytes32(0), empty, empty);
        vm.expectRevert(err);
        game.step(id, stepState, stepProof, empty);
        vm.expectRevert(err);
        game.timeout(id);
    }

    /// @dev After resolution every move reverts, whoever makes it.
    function test_gameOverAfterResolution() public {
        setTraces(h2(1, 1), 0, DisputeGame.Party.Claimant);
        uint256 id = create();
        warpBy(CLOCK);
        timeout(id);
        bytes32[] memory empty = none();
        bytes memory err = abi.encodeWithSelector(DisputeGame.GameOver.selector, id);
        vm.expectRevert(err);
        vm.prank(CLAIMANT);
        game.commitRoot(id, bytes32(0), empty);
        vm.expectRevert(err);
        vm.prank(CHALLENGER);
        game.reveal(id, bytes32(0), bytes32(0));
        vm.expectRevert(err);
        vm.prank(CHALLENGER);
        game.descend(id, bytes32(0), empty, empty);
        vm.expectRevert(err);
        game.step(id, stepState, stepProof, empty);
        vm.expectRevert(err);
        game.timeout(id);
        assertResolved(id, DisputeGame.Party.Challenger);
    }

    /// @dev Also after a game ended by `step`.
    function test_gameOverAfterStep() public {
        setTraces(h1(1), 0, DisputeGame.Party.Claimant);
        uint256 id = playAndStep(0, DisputeGame.Party.Claimant);
        bytes memory err = abi.encodeWithSelector(DisputeGame.GameOver.selector, id);
        vm.expectRevert(err);
        game.step(id, stepState, stepProof, none());
        warpBy(10 * CLOCK);
        vm.expectRevert(err);
        game.timeout(id);
    }

    function expectWrongStage(DisputeGame.Stage expected, DisputeGame.Stage actual) internal {
        vm.expectRevert(abi.encodeWithSelector(DisputeGame.WrongStage.selector, expected, actual));
    }

    function test_wrongStage() public {
        setTraces(h1(1), 0, DisputeGame.Party.Claimant);
        uint256 id = create();
        bytes32[] memory empty = none();
        DisputeGame.Stage claimantRoot = DisputeGame.Stage.ClaimantRoot;
        expectWrongStage(DisputeGame.Stage.Bisection, claimantRoot);
        vm.prank(CLAIMANT);
        game.reveal(id, bytes32(0), bytes32(0));
        expectWrongStage(DisputeGame.Stage.Descent, claimantRoot);
        vm.prank(CLAIMANT);
        game.descend(id, bytes32(0), empty, empty);
        expectWrongStage(DisputeGame.Stage.Step, claimantRoot);
        game.step(id, stepState, stepProof, empty);
        move(id);
        expectWrongStage(claimantRoot, DisputeGame.Stage.Bisection);
        vm.prank(CHALLENGER);
        game.commitRoot(id, bytes32(0), empty);
        expectWrongStage(DisputeGame.Stage.Step, DisputeGame.Stage.Bisection);
        game.step(id, stepState, stepProof, empty);
        playUntil(id, DisputeGame.Stage.Step);
        // A one-phase game has no descent.
        expectWrongStage(DisputeGame.Stage.Descent, DisputeGame.Stage.Step);
        vm.prank(CHALLENGER);
        game.descend(id, bytes32(0), empty, empty);
    }

    function test_notYourTurn() public {
        setTraces(h2(1, 1), 1, DisputeGame.Party.Claimant);
        uint256 id = create();
        bytes32[] memory cl = traceOf[DisputeGame.Party.Claimant];
        bytes32 root = nodeOf(cl, 0, 1, 1);
        bytes32[] memory proof = lastLeafProof(cl, 0, 1, 1);
        bytes memory claimantsTurn =
            abi.encodeWithSelector(DisputeGame.NotYourTurn.selector, DisputeGame.Party.Claimant);
        bytes memory challengersTurn =
            abi.encodeWithSelector(DisputeGame.NotYourTurn.selector, DisputeGame.Party.Challenger);
        // The challenger, and a stranger, posting the claimant's root.
        vm.expectRevert(claimantsTurn);
        vm.prank(CHALLENGER);
        game.commitRoot(id, root, proof);
        vm.expectRevert(claimantsTurn);
        vm.prank(STRANGER);
        game.commitRoot(id, root, proof);
        move(id);
        // The claimant revealing first, and a stranger revealing the challenger's children.
        (bytes32 left, bytes32 right) = children(traceOf[DisputeGame.Party.Challenger], g_(id));
        vm.expectRevert(challengersTurn);
        vm.prank(CLAIMANT);
        game.reveal(id, left, right);
        vm.expectRevert(challengersTurn);
        vm.prank(STRANGER);
        game.reveal(id, left, right);
        move(id);
        move(id);
        // Descent: the claimant may not go first.
        vm.assertEq(uint256(g_(id).stage), uint256(DisputeGame.Stage.Descent), "descent");
        (root, proof) = childRoot(cl, g_(id));
        vm.expectRevert(challengersTurn);
        vm.prank(CLAIMANT);
        game.descend(id, root, proof, none());
        move(id);
        bytes32[] memory ch = traceOf[DisputeGame.Party.Challenger];
        (root, proof) = childRoot(ch, g_(id));
        vm.expectRevert(claimantsTurn);
        vm.prank(CHALLENGER);
        game.descend(id, root, proof, none());
    }

    /// @dev Reveals of children that do not hash to the mover's node.
    function test_revealForgedChildrenReverts() public {
        setTraces(h1(2), 1, DisputeGame.Party.Claimant);
        uint256 id = create();
        move(id);
        DisputeGame.Game memory g = g_(id);
        (bytes32 left, bytes32 right) = children(traceOf[DisputeGame.Party.Challenger], g);
        bytes32 forged = keccak256("forged");
        vm.expectRevert(
            abi.encodeWithSelector(
                DisputeGame.NodeMismatch.selector,
                keccak256(abi.encodePacked(left, forged)),
                g.challengerNode
            )
        );
        vm.prank(CHALLENGER);
        game.reveal(id, left, forged);
        move(id);
        // The claimant reveals the challenger's children instead of its own.
        vm.expectRevert(
            abi.encodeWithSelector(
                DisputeGame.NodeMismatch.selector, g.challengerNode, g_(id).claimantNode
            )
        );
        vm.prank(CLAIMANT);
        game.reveal(id, left, right);
    }

    /// @dev The claimant's root must end at the claimed end.
    function test_commitRootForgedEndReverts() public {
        setTraces(h1(2), 1, DisputeGame.Party.Claimant);
        uint256 id = create();
        // The claimant commits the challenger's tree: its last leaf is not the claimed end.
        bytes32[] memory ch = traceOf[DisputeGame.Party.Challenger];
        bytes32 root = nodeOf(ch, 0, 0, 2);
        bytes32[] memory proof = lastLeafProof(ch, 0, 0, 2);
        bytes32 claimed = g_(id).claimedEnd;
        vm.expectRevert(
            abi.encodeWithSelector(DisputeGame.NodeMismatch.selector, fold(claimed, proof), root)
        );
        vm.prank(CLAIMANT);
        game.commitRoot(id, root, proof);
        vm.expectRevert(abi.encodeWithSelector(DisputeGame.ProofLength.selector, 0, 2));
        vm.prank(CLAIMANT);
        game.commitRoot(id, root, none());
    }

    /// @dev A party descends with a child trace that ends anywhere but at its own leaf
    /// (forged boundary states): the child root fails the last-leaf check.
    function test_descendWithForgedBoundaryReverts() public {
        setTraces(h2(2, 1), 5, DisputeGame.Party.Claimant);
        uint256 id = create();
        playUntil(id, DisputeGame.Stage.Descent);
        DisputeGame.Game memory g = g_(id);
        bytes32[] memory agreed = agreedProof(traceOf[DisputeGame.Party.Claimant], g);

        // The challenger's child trace ends at the claimant's S(6): a valid tree, wrong end.
        bytes32[] memory cl = traceOf[DisputeGame.Party.Claimant];
        (bytes32 root, bytes32[] memory proof) = childRoot(cl, g);
        vm.expectRevert(
            abi.encodeWithSelector(
                DisputeGame.NodeMismatch.selector, fold(g.challengerNode, proof), root
            )
        );
        vm.prank(CHALLENGER);
        game.descend(id, root, proof, agreed);
        // A child proof of the wrong length.
        vm.expectRevert(abi.encodeWithSelector(DisputeGame.ProofLength.selector, 0, 1));
        vm.prank(CHALLENGER);
        game.descend(id, root, none(), agreed);

        move(id);
        // The claimant's child trace ends at the challenger's S(6).
        (root, proof) = childRoot(traceOf[DisputeGame.Party.Challenger], g);
        vm.expectRevert(
            abi.encodeWithSelector(
                DisputeGame.NodeMismatch.selector, fold(g.claimantNode, proof), root
            )
        );
        vm.prank(CLAIMANT);
        game.descend(id, root, proof, none());
    }

    /// @dev The agreed-state proof at a descent: missing, forged leaf, forged sibling, too
    /// long; and none where none is due.
    function test_descendAgreedProofErrors() public {
        setTraces(h2(2, 1), 5, DisputeGame.Party.Challenger);
        uint256 id = create();
        playUntil(id, DisputeGame.Stage.Descent);
        DisputeGame.Game memory g = g_(id);
        bytes32[] memory ch = traceOf[DisputeGame.Party.Challenger];
        (bytes32 root, bytes32[] memory proof) = childRoot(ch, g);
        bytes32[] memory agreed = agreedProof(ch, g);
        vm.assertEq(agreed.length, 2, "agreed proof: leaf and one sibling");

        vm.expectRevert(abi.encodeWithSelector(DisputeGame.ProofLength.selector, 0, 2));
        vm.prank(CHALLENGER);
        game.descend(id, root, proof, none());

        bytes32[] memory forged = agreedProof(ch, g);
        forged[0] = keccak256("not S(4)");
        vm.expectRevert(
            abi.encodeWithSelector(
                DisputeGame.NodeMismatch.selector,
                keccak256(abi.encodePacked(forged[1], forged[0])),
                g.agreedLeft
            )
        );
        vm.prank(CHALLENGER);
        game.descend(id, root, proof, forged);

        forged = agreedProof(ch, g);
        forged[1] = keccak256("not S(2)");
        vm.expectRevert(
            abi.encodeWithSelector(
                DisputeGame.NodeMismatch.selector,
                keccak256(abi.encodePacked(forged[1], forged[0])),
                g.agreedLeft
            )
        );
        vm.prank(CHALLENGER);
        game.descend(id, root, proof, forged);

        bytes32[] memory tooLong = new bytes32[](3);
        (tooLong[0], tooLong[1]) = (agreed[0], agreed[1]);
        vm.expectRevert(abi.encodeWithSelector(DisputeGame.ProofLength.selector, 3, 2));
        vm.prank(CHALLENGER);
        game.descend(id, root, proof, tooLong);

        move(id); // the real descent settles the agreed state
        (root, proof) = childRoot(traceOf[DisputeGame.Party.Claimant], g);
        vm.expectRevert(DisputeGame.UnexpectedProof.selector);
        vm.prank(CLAIMANT);
        game.descend(id, root, proof, agreed);
    }

    /// @dev A challenger's agreed proof where nothing is pending.
    function test_descendUnexpectedProofReverts() public {
        setTraces(h2(2, 1), 1, DisputeGame.Party.Claimant);
        uint256 id = create();
        playUntil(id, DisputeGame.Stage.Descent);
        DisputeGame.Game memory g = g_(id);
        vm.assertTrue(!g.agreedPending, "nothing pending");
        (bytes32 root, bytes32[] memory proof) = childRoot(traceOf[DisputeGame.Party.Challenger], g);
        bytes32[] memory extra = new bytes32[](1);
        vm.expectRevert(DisputeGame.UnexpectedProof.selector);
        vm.prank(CHALLENGER);
        game.descend(id, root, proof, extra);
    }

    /// @dev The step's own checks: the agreed proof (missing, forged, unexpected) and the
    /// pre-state.
    function test_stepErrors() public {
        setTraces(h1(2), 2, DisputeGame.Party.Challenger);
        uint256 id = create();
        playUntil(id, DisputeGame.Stage.Step);
        DisputeGame.Game memory g = g_(id);
        bytes32[] memory agreed = agreedProof(traceOf[DisputeGame.Party.Claimant], g);

        vm.expectRevert(abi.encodeWithSelector(DisputeGame.ProofLength.selector, 0, 2));
        game.step(id, stepState, stepProof, none());

        bytes32[] memory forged = agreedProof(traceOf[DisputeGame.Party.Claimant], g);
        forged[0] = sha256(otherState);
        vm.expectRevert(
            abi.encodeWithSelector(
                DisputeGame.NodeMismatch.selector,
                keccak256(abi.encodePacked(forged[1], forged[0])),
                g.agreedLeft
            )
        );
        game.step(id, otherState, stepProof, forged);

        vm.expectRevert(
            abi.encodeWithSelector(
                DisputeGame.PreStateMismatch.selector, sha256(otherState), preHash
            )
        );
        game.step(id, otherState, stepProof, agreed);

        playAndStepAgain(id, 2, DisputeGame.Party.Challenger);
    }

    function test_stepUnexpectedProofAndPreStateMismatch() public {
        setTraces(h1(2), 0, DisputeGame.Party.Claimant);
        uint256 id = create();
        playUntil(id, DisputeGame.Stage.Step);
        bytes32[] memory extra = new bytes32[](1);
        vm.expectRevert(DisputeGame.UnexpectedProof.selector);
        game.step(id, stepState, stepProof, extra);
        vm.expectRevert(
            abi.encodeWithSelector(
                DisputeGame.PreStateMismatch.selector, sha256(otherState), preHash
            )
        );
        game.step(id, otherState, stepProof, none());
        playAndStepAgain(id, 0, DisputeGame.Party.Claimant);
    }

    /// @dev A game's record is all zero before creation; ids count up.
    function test_unknownGameRecordIsZero() public {
        DisputeGame.Game memory g = g_(3);
        vm.assertEq(g.claimant, address(0), "claimant");
        vm.assertEq(game.clockLeft(3), 0, "clock");
        setTraces(h1(1), 0, DisputeGame.Party.Claimant);
        vm.assertEq(create(), 0, "id 0");
        vm.assertEq(create(), 1, "id 1");
        vm.assertEq(game.gameCount(), 2, "count");
    }
}

/// @notice Packs phase heights as DisputeGame expects: byte 0 = top phase.
library Pack {
    function pack(uint8[] memory hs) internal pure returns (bytes32 packed) {
        for (uint256 i = 0; i < hs.length; ++i) {
            packed |= bytes32(bytes1(hs[i])) >> (8 * i);
        }
    }
}
